//! Plans are data: what `ss plan` computed, what `ss show` renders and what `ss apply`
//! executes. The planner prints nothing; renderers live in the binary.

use std::collections::BTreeMap;
use std::path::PathBuf;

use provider_api::Value;
use serde::{Deserialize, Serialize};

use crate::addr::NativeAddr;

/// Bumped whenever the saved-plan layout changes; older plans are refused with a clear message.
pub const PLAN_FORMAT_VERSION: u32 = 1;

pub type Attrs = BTreeMap<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Converge the cloud to the spec.
    Apply,
    /// Remove everything the state knows.
    Destroy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete then create (the default), or create then delete with `create_before_destroy`.
    Replace,
    Delete,
}

impl Action {
    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

/// The planned change of one native resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: NativeAddr,
    /// The resource block's type (`postgres`, or the native type itself).
    pub block_type: String,
    /// The native resource type.
    pub type_name: String,
    pub provider: String,
    pub action: Action,
    /// Cloud id of the existing object (update, replace, delete, no-op).
    pub id: Option<String>,
    /// Attributes before the change (as refreshed), `None` on create.
    pub before: Option<Attrs>,
    /// Attributes after the change, with `Value::Unknown` for "known after apply"; `None` on delete.
    pub after: Option<Attrs>,
    /// The attributes that force a replacement.
    pub replace_because: Vec<String>,
    pub create_before_destroy: bool,
    /// Native resources this one depends on (creates and updates wait for them; deletes run
    /// before theirs).
    pub depends_on: Vec<NativeAddr>,
}

impl ResourceChange {
    /// Attribute names whose value differs between before and after, sorted.
    pub fn changed_attributes(&self) -> Vec<String> {
        let empty = Attrs::new();
        let before = self.before.as_ref().unwrap_or(&empty);
        let after = self.after.as_ref().unwrap_or(&empty);
        let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| {
                let b = before.get(*k).unwrap_or(&Value::Null);
                let a = after.get(*k).unwrap_or(&Value::Null);
                a.is_unknown() || !provider_api::same(a, b)
            })
            .cloned()
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
}

/// An object that changed outside ss, found while refreshing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: NativeAddr,
    pub type_name: String,
    pub id: String,
    /// `None` when the object is gone.
    pub changes: Option<Vec<AttrDrift>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrDrift {
    pub name: String,
    pub recorded: Value,
    pub actual: Value,
}

/// What the plan was computed from, so that `ss apply PLANFILE` re-evaluates exactly the
/// reviewed configuration (not whatever is on disk by then).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigSnapshot {
    /// The spec directory (for `file()` and relative paths).
    pub dir: PathBuf,
    /// Every `*.hcl` file: name relative to `dir`, and contents.
    pub files: Vec<(String, String)>,
    /// The variables' final values (sensitive ones keep their mark).
    pub variables: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub mode: PlanMode,
    pub stack: String,
    /// The state the plan was made against: applying it to any other state is refused.
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    pub changes: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub drift: Vec<Drift>,
    pub snapshot: ConfigSnapshot,
    pub targets: Vec<String>,
    pub excludes: Vec<String>,
    /// Warnings found while planning (the providers' checks, the cloud's offers). They belong
    /// to this run's output, not to the reviewed plan, so a saved plan does not keep them.
    #[serde(skip)]
    pub warnings: crate::spec::Diagnostics,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    /// Counts as Terraform does: a replace is one add and one destroy.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change())
            || self
                .outputs
                .iter()
                .any(|o| !matches!((&o.before, &o.after), (Some(b), Some(a)) if provider_api::same(a, b) && a.is_wholly_known()))
    }
}
