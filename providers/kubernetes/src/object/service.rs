//! The `kubernetes_object` operations: server-side apply, read-back, waits and delete.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PropagationPolicy,
};
use kube::discovery::{ApiResource, Scope};
use provider_api::kit::Service;
use provider_api::kit::config::attr_str;
use provider_api::kit::wait::{DEFAULT_READY_TIMEOUT, Poll, until};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use serde_json::Value as Json;
use tokio::sync::Mutex;

use super::cluster::{Clusters, Connector};
use super::fields::{MANAGER, applied_view};
use super::id::ObjectId;
use super::manifest::{self, MANIFEST};
use super::ready::{Readiness, readiness};
use super::secret::{mark_read_back, scrub, sensitive_strings};
use super::{OBJECT, WAIT_NONE, WAIT_READY};

/// A kind as one cluster serves it: its URL path and whether its objects live in namespaces.
#[derive(Clone, Debug)]
struct ServedKind {
    resource: ApiResource,
    namespaced: bool,
}

/// The `kubernetes_object` service. Any provider lists it among its services; each object
/// names its own cluster, so one service reaches every cluster.
#[derive(Debug)]
pub struct Objects {
    connector: Connector,
    /// Kinds already resolved, by (cluster reference, apiVersion, kind). Only kinds found are
    /// kept: a custom kind missing now may be served once its CRD is applied.
    kinds: Mutex<HashMap<(String, String, String), ServedKind>>,
    ready_timeout: Duration,
}

impl Default for Objects {
    fn default() -> Objects {
        Objects::new(DEFAULT_READY_TIMEOUT)
    }
}

impl Objects {
    /// The service, whose waits (readiness, deletion) give up after `ready_timeout` (the
    /// provider's `ready_timeout` setting, else [`DEFAULT_READY_TIMEOUT`]). It reaches
    /// `kubeconfig:` references by itself; [`Objects::with_clusters`] adds a cloud's.
    pub fn new(ready_timeout: Duration) -> Objects {
        Objects {
            connector: Connector::default(),
            kinds: Mutex::new(HashMap::new()),
            ready_timeout,
        }
    }

    /// Resolves `<cloud>:<cluster id>` references with `clusters`.
    pub fn with_clusters(mut self, cloud: &str, clusters: Arc<dyn Clusters>) -> Objects {
        self.connector.register(cloud, clusters);
        self
    }

    /// How the cluster serves the kind of `id`; `None` when it does not serve it (a custom
    /// kind whose CRD is not installed, or no longer).
    async fn served(&self, id: &ObjectId) -> Result<Option<ServedKind>, ProviderError> {
        let key = (id.cluster.clone(), id.api_version.clone(), id.kind.clone());
        if let Some(found) = self.kinds.lock().await.get(&key) {
            return Ok(Some(found.clone()));
        }
        let client = self.connector.client(&id.cluster).await?;
        let (group, version) = match id.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", id.api_version.as_str()),
        };
        let gvk = GroupVersionKind::gvk(group, version, &id.kind);
        let served = match kube::discovery::pinned_kind(&client, &gvk).await {
            Ok((resource, caps)) => ServedKind {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            },
            Err(kube::Error::Discovery(_)) => return Ok(None),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(kube_error(&format!("discover {}", id.api_version), e, &[])),
        };
        self.kinds.lock().await.insert(key, served.clone());
        Ok(Some(served))
    }

    /// The API of the object's kind, where the object lives; `None` when the cluster does not
    /// serve the kind. A namespace is required for a namespaced kind and refused otherwise.
    async fn api(&self, id: &ObjectId) -> Result<Option<Api<DynamicObject>>, ProviderError> {
        let Some(kind) = self.served(id).await? else {
            return Ok(None);
        };
        let client = self.connector.client(&id.cluster).await?;
        match (kind.namespaced, id.namespace.is_empty()) {
            (true, false) => Ok(Some(Api::namespaced_with(
                client,
                &id.namespace,
                &kind.resource,
            ))),
            (false, true) => Ok(Some(Api::all_with(client, &kind.resource))),
            (true, true) => Err(ProviderError::Invalid(format!(
                "{}: {} is a namespaced kind: the manifest needs `metadata.namespace`",
                id.what(),
                id.kind
            ))),
            (false, false) => Err(ProviderError::Invalid(format!(
                "{}: {} is a cluster-wide kind: the manifest must not set `metadata.namespace`",
                id.what(),
                id.kind
            ))),
        }
    }

    /// The live object, `None` when it (or its kind) does not exist.
    async fn get(&self, id: &ObjectId) -> Result<Option<Json>, ProviderError> {
        let Some(api) = self.api(id).await? else {
            return Ok(None);
        };
        match api.get_opt(&id.name).await {
            Ok(found) => found.map(|o| to_json(id, &o)).transpose(),
            Err(e) => Err(kube_error(&format!("get {}", id.what()), e, &[])),
        }
    }

    /// Applies `config`'s manifest (server-side apply as `ss`, taking over conflicting fields)
    /// and waits as `config` says.
    async fn apply(&self, config: &Attrs) -> StateResult {
        let cluster = attr_str(config, "cluster").unwrap_or_default();
        let manifest = config.get("manifest").cloned().unwrap_or(Value::Null);
        let id = ObjectId::of_manifest(cluster, &manifest)?;
        let wait = attr_str(config, "wait").unwrap_or(WAIT_READY);
        if wait != WAIT_READY && wait != WAIT_NONE {
            return Err(ProviderError::Invalid(format!(
                "{}: `wait` must be {WAIT_READY:?} or {WAIT_NONE:?}",
                id.what()
            )));
        }
        let body = manifest.to_json().ok_or_else(|| {
            ProviderError::Invalid(format!(
                "{}: the manifest still has values known only after apply",
                id.what()
            ))
        })?;
        let applied = self
            .apply_body(&id, &body, &sensitive_strings(&manifest))
            .await?;
        let live = if wait == WAIT_READY {
            self.wait_ready(&id).await?
        } else {
            to_json(&id, &applied)?
        };
        let mut state = object_state(&id, &live);
        state.attrs.insert("wait".into(), Value::from(wait));
        Ok(state)
    }

    /// Server-side applies `body` as the object `id` (the manager `ss`, taking over
    /// conflicting fields); a refusal's message has `secrets` hidden.
    async fn apply_body(
        &self,
        id: &ObjectId,
        body: &Json,
        secrets: &[String],
    ) -> Result<DynamicObject, ProviderError> {
        let api = self.api(id).await?.ok_or_else(|| not_served(id))?;
        let applied = api
            .patch(
                &id.name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(body),
            )
            .await
            .map_err(|e| kube_error(&format!("apply {}", id.what()), e, secrets))?;
        tracing::debug!(object = %id.what(), cluster = %id.cluster, "applied");
        Ok(applied)
    }

    /// Installs the add-on `config` names (see [`manifest`]), unless its key object is there
    /// already and not ss's.
    async fn install(&self, config: &Attrs) -> StateResult {
        let cluster = attr_str(config, "cluster").unwrap_or_default();
        let url = attr_str(config, "url").unwrap_or_default();
        let marker = manifest::marker(cluster, attr_str(config, "present_if").unwrap_or_default())?;
        let theirs = match self.get(&marker).await? {
            Some(live) => !managed_by_ss(&live),
            None => false,
        };
        let mut applied = Vec::new();
        if theirs {
            tracing::info!(addon = %url, cluster = %cluster, "the cluster has it already");
        } else {
            let text = manifest::fetch(url).await?;
            for doc in manifest::objects(url, &text)? {
                let id = ObjectId::of_manifest(cluster, &Value::from_json(&doc))?;
                self.apply_body(&id, &doc, &[]).await?;
                applied.push(id);
            }
            for id in &applied {
                self.wait_ready(id).await?;
            }
            tracing::info!(addon = %url, cluster = %cluster, objects = applied.len(), "installed");
        }
        let mut state = manifest_state(&marker, url);
        state.attrs.insert("installed".into(), Value::from(!theirs));
        let objects = applied.iter().map(|id| Value::from(manifest::short(id)));
        state
            .attrs
            .insert("objects".into(), Value::List(objects.collect()));
        Ok(state)
    }

    /// Deletes what the add-on's install applied, the last applied first.
    async fn uninstall(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let (marker, _) = manifest::parse_id(&prior.id)?;
        for id in manifest::recorded(&marker.cluster, prior.attrs.get("objects"))?
            .iter()
            .rev()
        {
            self.delete_id(id).await?;
        }
        Ok(())
    }

    /// Polls the object until it is ready (see [`readiness`]).
    async fn wait_ready(&self, id: &ObjectId) -> Result<Json, ProviderError> {
        let what = format!("{} not ready", id.what());
        until(self.ready_timeout, &what, || async {
            let live = self
                .get(id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("{} vanished", id.what())))?;
            match readiness(&live) {
                Readiness::Ready => Ok(Poll::Ready(live)),
                Readiness::Pending => Ok(Poll::Pending),
                Readiness::Failed(why) => {
                    Err(ProviderError::Other(format!("{}: {why}", id.what())))
                }
            }
        })
        .await
    }

    /// Deletes the object (its dependents first, in the foreground; a Namespace in the
    /// background, as its controller empties it) and waits until reads no longer find it.
    async fn delete_id(&self, id: &ObjectId) -> Result<(), ProviderError> {
        let Some(api) = self.api(id).await? else {
            return Ok(());
        };
        let propagation = if id.kind == "Namespace" && id.api_version == "v1" {
            PropagationPolicy::Background
        } else {
            PropagationPolicy::Foreground
        };
        let params = DeleteParams {
            propagation_policy: Some(propagation),
            ..DeleteParams::default()
        };
        match api.delete(&id.name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(kube_error(&format!("delete {}", id.what()), e, &[])),
        }
        tracing::debug!(object = %id.what(), cluster = %id.cluster, "deleting");
        let what = format!("{} still exists", id.what());
        until(self.ready_timeout, &what, || async {
            Ok(match self.get(id).await? {
                None => Poll::Ready(()),
                Some(_) => Poll::Pending,
            })
        })
        .await
    }
}

#[async_trait]
impl Service for Objects {
    fn types(&self) -> &'static [&'static str] {
        &[OBJECT, MANIFEST]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        if req.type_name == MANIFEST {
            return self.install(req.config).await;
        }
        self.apply(req.config).await
    }

    /// An identity does not name a Kubernetes object (its manifest does), so nothing is found
    /// by identity; nothing needs to be: a create is an apply, which adopts the object of the
    /// same name.
    async fn find(&self, _type_name: &str, _identity: &Identity) -> FindResult {
        Ok(None)
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        let mut out = Vec::with_capacity(ids.len());
        if type_name == MANIFEST {
            for text in ids {
                let (marker, url) = manifest::parse_id(text)?;
                let found = self.get(&marker).await?;
                out.push(found.map(|_| manifest_state(&marker, &url)));
            }
            return Ok(out);
        }
        for text in ids {
            let id = ObjectId::parse(text)?;
            out.push(self.get(&id).await?.map(|live| object_state(&id, &live)));
        }
        Ok(out)
    }

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        if type_name == MANIFEST {
            // Every setting is force-new: an update only records what was planned.
            let mut state = prior.clone();
            state.attrs.extend(config.clone());
            return Ok(state);
        }
        let was = ObjectId::parse(&prior.id)?;
        let cluster = attr_str(config, "cluster").unwrap_or_default();
        let manifest = config.get("manifest").unwrap_or(&Value::Null);
        let now = ObjectId::of_manifest(cluster, manifest)?;
        if now != was {
            return Err(ProviderError::Invalid(format!(
                "{} would become {}: another object, so a replacement, not an update",
                was.what(),
                now.what()
            )));
        }
        self.apply(config).await
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        if type_name == MANIFEST {
            return self.uninstall(prior).await;
        }
        self.delete_id(&ObjectId::parse(&prior.id)?).await
    }
}

/// The state of an object from its live JSON: its reference, what `ss` applied (read back
/// from its managed fields, a Secret's entries marked sensitive) and its uid.
fn object_state(id: &ObjectId, live: &Json) -> ResourceState {
    let manifest = mark_read_back(Value::from_json(&applied_view(live, MANAGER)));
    let uid = live["metadata"]["uid"].as_str().unwrap_or_default();
    ResourceState {
        id: id.to_string(),
        attrs: Attrs::from([
            ("id".to_string(), Value::from(id.to_string())),
            ("cluster".to_string(), Value::from(id.cluster.as_str())),
            ("manifest".to_string(), manifest),
            ("uid".to_string(), Value::from(uid)),
        ]),
    }
}

/// The state of an add-on found by its key object: what the id says. `installed` and
/// `objects` are the record's (the cluster cannot say them).
fn manifest_state(marker: &ObjectId, url: &str) -> ResourceState {
    let id = manifest::manifest_id(marker, url);
    let present_if = manifest::short(marker);
    ResourceState {
        id: id.clone(),
        attrs: Attrs::from([
            ("id".to_string(), Value::from(id)),
            ("cluster".to_string(), Value::from(marker.cluster.as_str())),
            ("url".to_string(), Value::from(url)),
            ("present_if".to_string(), Value::from(present_if)),
        ]),
    }
}

/// Whether the field manager `ss` applied any of the object.
fn managed_by_ss(live: &Json) -> bool {
    live["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|entries| entries.iter().any(|e| e["manager"] == MANAGER))
}

fn to_json(id: &ObjectId, object: &DynamicObject) -> Result<Json, ProviderError> {
    serde_json::to_value(object)
        .map_err(|e| ProviderError::Other(format!("{}: unreadable answer: {e}", id.what())))
}

fn not_served(id: &ObjectId) -> ProviderError {
    let hint = if id.api_version.starts_with("keda.sh/") {
        "KEDA is not installed: install it, or let the `superset` component do it (its \
         `keda_manifest`)"
    } else {
        "is its CustomResourceDefinition installed?"
    };
    ProviderError::Invalid(format!(
        "{}: the cluster serves no kind {} in {} ({hint})",
        id.what(),
        id.kind,
        id.api_version
    ))
}

/// A client error as a provider error: throttling and server faults may pass when retried,
/// refusals are the request's fault. The server's message has `secrets` hidden.
fn kube_error(what: &str, e: kube::Error, secrets: &[String]) -> ProviderError {
    match e {
        kube::Error::Api(status) => {
            let message = format!(
                "{what}: {} ({} {})",
                scrub(&status.message, secrets),
                status.code,
                status.reason
            );
            match status.code {
                404 => ProviderError::NotFound(message),
                429 => ProviderError::Throttled(message),
                500..=599 => ProviderError::Transient(message),
                _ => ProviderError::Invalid(message),
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            ProviderError::Transient(format!("{what}: {e}"))
        }
        e => ProviderError::Other(format!("{what}: {e}")),
    }
}
