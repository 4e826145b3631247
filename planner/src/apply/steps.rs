//! The apply graph: the steps a plan's changes take and the order they must keep, built from
//! the plan alone.

use std::collections::HashMap;
use std::sync::Arc;

use crate::addr::NativeAddr;
use crate::dag::Dag;
use crate::plan::{Action, ResourceChange};

/// A step of the apply graph: each change is one step, except a replacement, which is two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Delete the existing object.
    Destroy,
    /// Create or update the object.
    Apply,
}

/// The steps a change takes, in the order they are numbered.
pub(crate) fn phases(action: Action) -> &'static [Phase] {
    match action {
        Action::NoOp => &[],
        Action::Create | Action::Update => &[Phase::Apply],
        Action::Delete => &[Phase::Destroy],
        Action::Replace => &[Phase::Destroy, Phase::Apply],
    }
}

/// What a step does, as shown in progress and summaries.
pub(crate) fn step_action(action: Action, phase: Phase) -> Action {
    match (action, phase) {
        (Action::Replace, Phase::Destroy) => Action::Delete,
        (Action::Replace, Phase::Apply) => Action::Create,
        (a, _) => a,
    }
}

/// The apply graph over step indices: `steps[i]` is (change index, phase) and `deps[i]` the
/// steps it waits for.
pub(crate) struct StepGraph {
    pub(crate) steps: Vec<(usize, Phase)>,
    pub(crate) deps: Vec<Vec<usize>>,
}

/// The apply graph, built from the plan alone (edges point at what a step waits for):
/// - a create or update waits for the creates and updates of what it depends on;
/// - a destroy waits for the destroys of everything that depends on the object;
/// - a replacement creates after it destroys, or, with `create_before_destroy`, destroys the
///   old object only after the new one exists and its dependents have moved to it.
pub(crate) fn apply_graph(changes: &[Arc<ResourceChange>]) -> StepGraph {
    let index: HashMap<&NativeAddr, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let mut steps = Vec::new();
    let mut step_of: HashMap<(usize, Phase), usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        for p in phases(c.action) {
            step_of.insert((i, *p), steps.len());
            steps.push((i, *p));
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut edge = |from: (usize, Phase), to: (usize, Phase)| {
        if let (Some(a), Some(b)) = (step_of.get(&from), step_of.get(&to)) {
            deps[*a].push(*b);
        }
    };
    for (i, c) in changes.iter().enumerate() {
        if c.action == Action::Replace {
            if c.create_before_destroy {
                edge((i, Phase::Destroy), (i, Phase::Apply));
            } else {
                edge((i, Phase::Apply), (i, Phase::Destroy));
            }
        }
        for d in &c.depends_on {
            let Some(&j) = index.get(d) else { continue };
            let dc = &changes[j];
            edge((i, Phase::Apply), (j, Phase::Apply));
            edge((j, Phase::Destroy), (i, Phase::Destroy));
            if dc.action == Action::Replace && dc.create_before_destroy {
                edge((j, Phase::Destroy), (i, Phase::Apply));
            }
        }
    }
    for d in &mut deps {
        d.sort_unstable();
        d.dedup();
    }
    StepGraph { steps, deps }
}

impl StepGraph {
    fn dag(&self) -> Dag<usize> {
        let mut dag = Dag::default();
        for (i, ds) in self.deps.iter().enumerate() {
            dag.add_node(i);
            for d in ds {
                dag.add_edge(i, *d);
            }
        }
        dag
    }

    /// Every cycle of steps, each as `address (phase) → …`, when the steps cannot be ordered.
    pub(crate) fn check_acyclic(&self, changes: &[Arc<ResourceChange>]) -> Result<(), String> {
        let dag = self.dag();
        if dag.topo_order().is_some() {
            return Ok(());
        }
        let step_name = |i: usize| {
            let (c, p) = self.steps[i];
            format!("{} ({p:?})", changes[c].address)
        };
        let cycles: Vec<String> = dag
            .cycles()
            .into_iter()
            .map(|c| c.into_iter().map(step_name).collect::<Vec<_>>().join(" → "))
            .collect();
        Err(cycles.join("; "))
    }

    /// The steps waiting for each step (the reverse of `deps`).
    pub(crate) fn dependents(&self) -> Vec<Vec<usize>> {
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.steps.len()];
        for (i, ds) in self.deps.iter().enumerate() {
            for d in ds {
                dependents[*d].push(i);
            }
        }
        dependents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(addr: &str, action: Action, deps: &[&str], cbd: bool) -> ResourceChange {
        ResourceChange {
            address: addr.parse().expect("address"),
            block_type: "sandbox_object".into(),
            type_name: "sandbox_object".into(),
            provider: "sandbox".into(),
            action,
            id: None,
            before: None,
            after: None,
            replace_because: Vec::new(),
            create_before_destroy: cbd,
            depends_on: deps.iter().map(|d| d.parse().expect("address")).collect(),
        }
    }

    type Step = (NativeAddr, Phase);

    fn step(addr: &str, phase: Phase) -> Step {
        (addr.parse().expect("address"), phase)
    }

    /// The position of each step in the order the scheduler may run them.
    fn order(changes: &[ResourceChange]) -> Vec<Step> {
        let changes: Vec<Arc<ResourceChange>> = changes.iter().cloned().map(Arc::new).collect();
        let graph = apply_graph(&changes);
        graph
            .dag()
            .topo_order()
            .expect("acyclic")
            .into_iter()
            .map(|i| {
                let (c, p) = graph.steps[i];
                (changes[c].address.clone(), p)
            })
            .collect()
    }

    fn before(order: &[Step], a: Step, b: Step) -> bool {
        let pos = |s: &Step| order.iter().position(|x| x == s).expect("step present");
        pos(&a) < pos(&b)
    }

    #[test]
    fn replacing_a_parent_destroys_children_first_and_creates_them_last() {
        let changes = [
            change("network.n.sandbox_vpc.vpc", Action::Replace, &[], false),
            change(
                "network.n.sandbox_subnet.s0",
                Action::Replace,
                &["network.n.sandbox_vpc.vpc"],
                false,
            ),
            change(
                "sandbox_object.app",
                Action::Update,
                &["network.n.sandbox_subnet.s0"],
                false,
            ),
        ];
        let o = order(&changes);
        let (vpc, subnet, app) = (
            "network.n.sandbox_vpc.vpc",
            "network.n.sandbox_subnet.s0",
            "sandbox_object.app",
        );
        assert!(before(
            &o,
            step(subnet, Phase::Destroy),
            step(vpc, Phase::Destroy)
        ));
        assert!(before(
            &o,
            step(vpc, Phase::Destroy),
            step(vpc, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(vpc, Phase::Apply),
            step(subnet, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(subnet, Phase::Apply),
            step(app, Phase::Apply)
        ));
    }

    #[test]
    fn create_before_destroy_deletes_the_old_object_after_dependents_moved() {
        let changes = [
            change(
                "postgres.db.sandbox_db_parameter_group.pg",
                Action::Replace,
                &[],
                true,
            ),
            change(
                "postgres.db.sandbox_pg_instance.primary",
                Action::Update,
                &["postgres.db.sandbox_db_parameter_group.pg"],
                false,
            ),
        ];
        let o = order(&changes);
        let (group, primary) = (
            "postgres.db.sandbox_db_parameter_group.pg",
            "postgres.db.sandbox_pg_instance.primary",
        );
        assert!(before(
            &o,
            step(group, Phase::Apply),
            step(primary, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(primary, Phase::Apply),
            step(group, Phase::Destroy)
        ));
    }

    #[test]
    fn deletes_run_in_reverse_dependency_order() {
        let changes = [
            change("sandbox_object.a", Action::Delete, &[], false),
            change(
                "sandbox_object.b",
                Action::Delete,
                &["sandbox_object.a"],
                false,
            ),
            change(
                "sandbox_object.c",
                Action::Delete,
                &["sandbox_object.b"],
                false,
            ),
        ];
        let o = order(&changes);
        assert_eq!(
            o,
            vec![
                step("sandbox_object.c", Phase::Destroy),
                step("sandbox_object.b", Phase::Destroy),
                step("sandbox_object.a", Phase::Destroy),
            ]
        );
    }
}
