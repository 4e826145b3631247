//! A generic directed acyclic graph over ordered keys. It knows nothing about resources:
//! edges point from a node to what it depends on.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

#[derive(Clone, Debug)]
pub struct Dag<K: Ord + Clone> {
    deps: BTreeMap<K, BTreeSet<K>>,
}

impl<K: Ord + Clone> Default for Dag<K> {
    fn default() -> Self {
        Dag {
            deps: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Dag<K> {
    pub fn add_node(&mut self, k: K) {
        self.deps.entry(k).or_default();
    }

    /// `node` depends on `dependency` (both are added if missing).
    pub fn add_edge(&mut self, node: K, dependency: K) {
        self.add_node(dependency.clone());
        self.deps.entry(node).or_default().insert(dependency);
    }

    pub fn contains(&self, k: &K) -> bool {
        self.deps.contains_key(k)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &K> {
        self.deps.keys()
    }

    pub fn dependencies(&self, k: &K) -> impl Iterator<Item = &K> {
        self.deps.get(k).into_iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.deps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    fn to_petgraph(&self) -> (DiGraph<K, ()>, BTreeMap<K, NodeIndex>) {
        let mut g = DiGraph::with_capacity(self.deps.len(), self.deps.len());
        let mut idx = BTreeMap::new();
        for k in self.deps.keys() {
            idx.insert(k.clone(), g.add_node(k.clone()));
        }
        for (k, ds) in &self.deps {
            for d in ds {
                g.add_edge(idx[k], idx[d], ());
            }
        }
        (g, idx)
    }

    /// Every cycle (strongly connected component with more than one node, or a self-loop),
    /// each with all of its members in key order.
    pub fn cycles(&self) -> Vec<Vec<K>> {
        let (g, _) = self.to_petgraph();
        let mut out: Vec<Vec<K>> = petgraph::algo::tarjan_scc(&g)
            .into_iter()
            .filter(|scc| scc.len() > 1 || g.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut members: Vec<K> = scc.into_iter().map(|i| g[i].clone()).collect();
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
        let mut remaining: BTreeMap<&K, usize> =
            self.deps.iter().map(|(k, ds)| (k, ds.len())).collect();
        let mut dependents: BTreeMap<&K, Vec<&K>> = BTreeMap::new();
        for (k, ds) in &self.deps {
            for d in ds {
                dependents.entry(d).or_default().push(k);
            }
        }
        let mut ready: BTreeSet<&K> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut order = Vec::with_capacity(self.deps.len());
        while let Some(k) = ready.pop_first() {
            order.push(k.clone());
            for dependent in dependents.get(k).into_iter().flatten() {
                if let Some(n) = remaining.get_mut(dependent) {
                    *n -= 1;
                    if *n == 0 {
                        ready.insert(dependent);
                    }
                }
            }
        }
        (order.len() == self.deps.len()).then_some(order)
    }

    /// Everything `k` depends on, directly or not.
    pub fn ancestors(&self, k: &K) -> BTreeSet<K> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&K> = self.dependencies(k).collect();
        while let Some(n) = stack.pop() {
            if seen.insert(n.clone()) {
                stack.extend(self.dependencies(n));
            }
        }
        seen
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
