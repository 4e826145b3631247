//! A generic directed acyclic graph over ordered keys. It knows nothing about resources:
//! edges point from a node to what it depends on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use petgraph::graph::{DiGraph, NodeIndex};

/// Keys are stored once and referred to by index, so building and walking a graph of many
/// thousands of nodes costs one hash per key lookup, not string comparisons per edge.
#[derive(Clone, Debug)]
pub struct Dag<K: Ord + Hash + Clone> {
    keys: Vec<K>,
    index: HashMap<K, usize>,
    deps: Vec<Vec<usize>>,
}

impl<K: Ord + Hash + Clone> Default for Dag<K> {
    fn default() -> Self {
        Dag {
            keys: Vec::new(),
            index: HashMap::new(),
            deps: Vec::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> Dag<K> {
    fn intern(&mut self, k: K) -> usize {
        if let Some(i) = self.index.get(&k) {
            return *i;
        }
        let i = self.keys.len();
        self.keys.push(k.clone());
        self.index.insert(k, i);
        self.deps.push(Vec::new());
        i
    }

    pub fn add_node(&mut self, k: K) {
        self.intern(k);
    }

    /// `node` depends on `dependency` (both are added if missing).
    pub fn add_edge(&mut self, node: K, dependency: K) {
        let n = self.intern(node);
        let d = self.intern(dependency);
        if !self.deps[n].contains(&d) {
            self.deps[n].push(d);
        }
    }

    pub fn contains(&self, k: &K) -> bool {
        self.index.contains_key(k)
    }

    /// Every node, in key order.
    pub fn nodes(&self) -> impl Iterator<Item = &K> {
        let mut all: Vec<&K> = self.keys.iter().collect();
        all.sort();
        all.into_iter()
    }

    pub fn dependencies(&self, k: &K) -> impl Iterator<Item = &K> {
        self.index
            .get(k)
            .into_iter()
            .flat_map(|i| self.deps[*i].iter().map(|d| &self.keys[*d]))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Each index's position in key order: ties in a traversal are broken by it, so results do
    /// not depend on insertion order.
    fn ranks(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by(|a, b| self.keys[*a].cmp(&self.keys[*b]));
        let mut rank = vec![0; order.len()];
        for (r, i) in order.into_iter().enumerate() {
            rank[i] = r;
        }
        rank
    }

    /// Every cycle (strongly connected component with more than one node, or a self-loop),
    /// each with all of its members in key order.
    pub fn cycles(&self) -> Vec<Vec<K>> {
        let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(self.keys.len(), self.keys.len());
        let nodes: Vec<NodeIndex> = (0..self.keys.len()).map(|i| g.add_node(i)).collect();
        for (i, ds) in self.deps.iter().enumerate() {
            for d in ds {
                g.add_edge(nodes[i], nodes[*d], ());
            }
        }
        let mut out: Vec<Vec<K>> = petgraph::algo::tarjan_scc(&g)
            .into_iter()
            .filter(|scc| scc.len() > 1 || g.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut members: Vec<K> =
                    scc.into_iter().map(|n| self.keys[g[n]].clone()).collect();
                members.sort();
                members
            })
            .collect();
        out.sort();
        out
    }

    /// Nodes with dependencies first; `None` when there is a cycle. Ties are broken by key order,
    /// so the result is deterministic.
    pub fn topo_order(&self) -> Option<Vec<K>> {
        let n = self.keys.len();
        let rank = self.ranks();
        let mut remaining: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, ds) in self.deps.iter().enumerate() {
            for d in ds {
                dependents[*d].push(i);
            }
        }
        let mut ready: BTreeSet<(usize, usize)> = (0..n)
            .filter(|i| remaining[*i] == 0)
            .map(|i| (rank[i], i))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some((_, i)) = ready.pop_first() {
            order.push(self.keys[i].clone());
            for d in &dependents[i] {
                remaining[*d] -= 1;
                if remaining[*d] == 0 {
                    ready.insert((rank[*d], *d));
                }
            }
        }
        (order.len() == n).then_some(order)
    }

    /// Everything `k` depends on, directly or not.
    pub fn ancestors(&self, k: &K) -> BTreeSet<K> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> = self
            .index
            .get(k)
            .map(|i| self.deps[*i].clone())
            .unwrap_or_default();
        let mut out = BTreeSet::new();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                out.insert(self.keys[i].clone());
                stack.extend(self.deps[i].iter().copied());
            }
        }
        out
    }

    /// Walks from `k` through its dependencies, descending only through nodes for which
    /// `descend` is true, and returns the nodes reached for which it is false (without
    /// descending further).
    pub fn frontier(&self, k: &K, descend: impl Fn(&K) -> bool) -> Vec<&K> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> = self
            .index
            .get(k)
            .map(|i| self.deps[*i].clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            if descend(&self.keys[i]) {
                stack.extend(self.deps[i].iter().copied());
            } else {
                out.push(&self.keys[i]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(&'static str, &'static str)]) -> Dag<&'static str> {
        let mut d = Dag::default();
        for (a, b) in edges {
            d.add_edge(*a, *b);
        }
        d
    }

    #[test]
    fn topo_puts_dependencies_first() {
        let d = dag(&[("app", "db"), ("db", "net"), ("app", "net"), ("lb", "app")]);
        assert_eq!(d.topo_order(), Some(vec!["net", "db", "app", "lb"]));
        assert!(d.cycles().is_empty());
        assert_eq!(
            d.ancestors(&"lb").into_iter().collect::<Vec<_>>(),
            vec!["app", "db", "net"]
        );
    }

    #[test]
    fn cycles_list_every_member() {
        let d = dag(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "e")]);
        assert_eq!(d.topo_order(), None);
        assert_eq!(d.cycles(), vec![vec!["a", "b", "c"], vec!["e"]]);
    }
}
