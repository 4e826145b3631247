//! The simulated cluster's objects and their lifecycle: resource versions, deletions that take
//! a step (Foreground deletion, a Namespace and what it holds), and the status the controllers
//! would write ([`crate::status`]), applied lazily at the next request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sim_kit::Store;

use crate::kinds::Kind;
use crate::status;

/// One stored object.
#[derive(Debug, Clone)]
pub struct Obj {
    /// The object as the API answers it.
    pub data: Value,
    /// When its spec last changed (the status catches up one step later).
    pub changed: Instant,
    /// When a pending deletion completes.
    pub gone_at: Option<Instant>,
}

/// Everything the cluster holds.
#[derive(Debug)]
pub struct World {
    store: Store<Obj>,
    /// The names of the Jobs that fail instead of completing.
    pub failing_jobs: Vec<String>,
}

sim_kit::world_store!(World, Obj);

impl World {
    pub fn new(step: Duration, seed: Option<u64>, failing_jobs: Vec<String>) -> World {
        World {
            store: Store::new(step, seed),
            failing_jobs,
        }
    }

    /// The next `resourceVersion` (one counter for the whole cluster, as etcd's revision).
    pub fn next_rv(&mut self) -> String {
        self.next_seq().to_string()
    }

    /// The served kinds: the built-in ones, then those of every CRD held.
    pub fn kinds(&self) -> Vec<Kind> {
        let mut kinds = Kind::builtin();
        let crds = "apiextensions.k8s.io/customresourcedefinitions/";
        for (_, crd) in self.prefixed(crds) {
            if crd.gone_at.is_none() {
                kinds.extend(Kind::of_crd(&crd.data));
            }
        }
        kinds
    }

    /// The kind served at `group/version` under the resource name `plural`.
    pub fn kind(&self, group: &str, version: &str, plural: &str) -> Option<Kind> {
        self.kinds()
            .into_iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// The phase of a Namespace (`Active`, `Terminating`), if it exists.
    pub fn namespace_phase(&self, name: &str) -> Option<String> {
        let key = format!("core/namespaces//{name}");
        let ns = self.get(&key)?;
        Some(
            ns.data["status"]["phase"]
                .as_str()
                .unwrap_or("Active")
                .to_string(),
        )
    }

    /// Completes due deletions and moves due statuses on.
    pub fn tick(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .objects
            .iter()
            .filter(|(_, o)| o.gone_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.objects.remove(&key);
        }
        let step = self.step;
        let keys: Vec<String> = self.objects.keys().cloned().collect();
        for key in keys {
            let Some(obj) = self.objects.get(&key) else {
                continue;
            };
            if obj.gone_at.is_some() || now.duration_since(obj.changed) < step {
                continue;
            }
            let mut data = obj.data.clone();
            let name = data["metadata"]["name"].as_str().unwrap_or_default();
            let failing = self.failing_jobs.iter().any(|j| j == name);
            if status::progress(&mut data, failing) {
                data["metadata"]["resourceVersion"] = json!(self.next_rv());
                if let Some(obj) = self.objects.get_mut(&key) {
                    obj.data = data;
                }
            }
        }
    }

    /// Starts deleting the object at `key`: at once, or one step later when it must wait
    /// (Foreground propagation, a Namespace emptying itself). Answers the object as the
    /// deletion leaves it, and whether it is still there.
    pub fn delete(&mut self, key: &str, kind: &Kind, foreground: bool) -> Option<(Value, bool)> {
        let now = Instant::now();
        let step = self.step;
        let is_namespace = kind.kind == "Namespace" && kind.group.is_empty();
        let rv = self.next_rv();
        let obj = self.get_mut(key)?;
        if !(foreground || is_namespace) {
            let data = obj.data.clone();
            self.objects.remove(key);
            return Some((data, false));
        }
        if obj.gone_at.is_none() {
            obj.gone_at = Some(now + step);
            let meta = &mut obj.data["metadata"];
            meta["deletionTimestamp"] = json!(sim_kit::text::rfc3339_seconds());
            meta["deletionGracePeriodSeconds"] = json!(0);
            meta["resourceVersion"] = json!(rv);
            if is_namespace {
                obj.data["status"]["phase"] = json!("Terminating");
            } else {
                meta["finalizers"] = json!(["foregroundDeletion"]);
            }
        }
        let data = obj.data.clone();
        if is_namespace {
            let name = data["metadata"]["name"].as_str().unwrap_or_default();
            self.empty_namespace(name, now + step / 2);
        }
        Some((data, true))
    }

    /// Deletes everything a Namespace holds, at `when`.
    fn empty_namespace(&mut self, namespace: &str, when: Instant) {
        for obj in self.objects.values_mut() {
            if obj.data["metadata"]["namespace"].as_str() == Some(namespace)
                && obj.gone_at.is_none()
            {
                obj.gone_at = Some(when);
                obj.data["metadata"]["deletionTimestamp"] = json!(sim_kit::text::rfc3339_seconds());
            }
        }
    }

    /// Every object held, in key order (the body of `GET /_sim/objects`).
    pub fn dump(&self) -> Value {
        let items: Vec<Value> = self.objects.values().map(|o| o.data.clone()).collect();
        json!({"kind": "List", "apiVersion": "v1", "items": items})
    }
}
