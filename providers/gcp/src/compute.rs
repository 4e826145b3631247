//! Compute Engine: what every collection used here shares (networks, subnetworks, global
//! addresses and the load balancer's chain): create adopting the object of the deterministic
//! name, a patch that carries the object's fingerprint, a delete that waits out a dependant
//! being deleted, and one list per refresh. Mutations carry a `requestId` (one for all
//! attempts) and are polled to the end with the client's `google-cloud-lro` poller.
//!
//! Each collection has its own client with its own setter names, so [`collection!`] writes
//! the [`Collection`] impl of each from one line; a [`Resource`] adds the native type's
//! schema, body and attributes, and [`Compute`] makes it a [`Service`].

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use google_cloud_compute_v1::model::Operation;
use google_cloud_gax::error::Error as GaxError;
use provider_api::kit::Service;
use provider_api::schema::ResourceSchema;
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::clients::Clients;
use crate::error::{Kind, kind, provider_error};
use crate::json::{js, last, model, pick, request_id, state};
use crate::settings::Settings;
use crate::types::NAME_LEN;

/// The calls on one Compute Engine collection, whose objects are one native type's.
#[async_trait]
pub trait Collection: Send + Sync + 'static {
    /// The native type.
    const TYPE: &'static str;
    /// `[TYPE]`, what its service owns.
    const TYPES: &'static [&'static str];
    /// The collection in resource names (`networks`).
    const PATH: &'static str;
    /// Regional (subnetworks) rather than global.
    const REGIONAL: bool;
    /// Whether the collection has `patch` (global addresses have none).
    const UPDATABLE: bool = false;
    /// The client crate's model of an object.
    type Model: DeserializeOwned + Send;

    async fn get(c: &Clients, s: &Settings, name: &str) -> Result<Json, GaxError>;
    async fn list(c: &Clients, s: &Settings) -> Result<Vec<Json>, GaxError>;
    async fn insert(
        c: &Clients,
        s: &Settings,
        rid: &str,
        body: Self::Model,
    ) -> Result<Operation, GaxError>;
    async fn delete(
        c: &Clients,
        s: &Settings,
        name: &str,
        rid: &str,
    ) -> Result<Operation, GaxError>;

    /// Patches the object; a collection without `patch` ([`Collection::UPDATABLE`] false)
    /// answers an error.
    async fn patch(
        c: &Clients,
        s: &Settings,
        name: &str,
        rid: &str,
        body: Self::Model,
    ) -> Result<Operation, GaxError> {
        let _ = (c, s, rid, body);
        Err(GaxError::ser(format!(
            "{} {name}: the collection has no patch",
            Self::TYPE
        )))
    }
}

/// Writes the [`Collection`] impl of a marker type: its native type, the field of its client
/// in [`Clients`], its model, its path, `global` or `regional`, the setter of the object's
/// name, and `patch` when the collection has one (the method's name, so that the
/// repetition that writes it names it).
macro_rules! collection {
    ($marker:ident = $type:expr, $client:ident, $model:ident, $path:literal, $scope:ident,
     $set_name:ident $(, $patch:ident)?) => {
        #[async_trait::async_trait]
        impl $crate::compute::Collection for $marker {
            const TYPE: &'static str = $type;
            const TYPES: &'static [&'static str] = &[$type];
            const PATH: &'static str = $path;
            const REGIONAL: bool = collection!(@regional $scope);
            type Model = google_cloud_compute_v1::model::$model;

            async fn get(
                c: &$crate::clients::Clients,
                s: &$crate::settings::Settings,
                name: &str,
            ) -> Result<serde_json::Value, google_cloud_gax::error::Error> {
                collection!(@scope $scope, c.$client.get(), s)
                    .$set_name(name)
                    .send()
                    .await
                    .map(|o| $crate::json::js(&o))
            }

            async fn list(
                c: &$crate::clients::Clients,
                s: &$crate::settings::Settings,
            ) -> Result<Vec<serde_json::Value>, google_cloud_gax::error::Error> {
                use google_cloud_gax::paginator::ItemPaginator;
                let mut items = collection!(@scope $scope, c.$client.list(), s).by_item();
                let mut out = Vec::new();
                while let Some(item) = items.next().await {
                    out.push($crate::json::js(&item?));
                }
                Ok(out)
            }

            async fn insert(
                c: &$crate::clients::Clients,
                s: &$crate::settings::Settings,
                rid: &str,
                body: Self::Model,
            ) -> Result<google_cloud_compute_v1::model::Operation, google_cloud_gax::error::Error>
            {
                use google_cloud_gax::options::RequestOptionsBuilder;
                use google_cloud_lro::Poller;
                collection!(@scope $scope, c.$client.insert(), s)
                    .set_request_id(rid)
                    .set_body(body)
                    .with_idempotency(true)
                    .poller()
                    .until_done()
                    .await
            }

            async fn delete(
                c: &$crate::clients::Clients,
                s: &$crate::settings::Settings,
                name: &str,
                rid: &str,
            ) -> Result<google_cloud_compute_v1::model::Operation, google_cloud_gax::error::Error>
            {
                use google_cloud_gax::options::RequestOptionsBuilder;
                use google_cloud_lro::Poller;
                collection!(@scope $scope, c.$client.delete(), s)
                    .$set_name(name)
                    .set_request_id(rid)
                    .with_idempotency(true)
                    .poller()
                    .until_done()
                    .await
            }

            $(
                const UPDATABLE: bool = true;

                async fn $patch(
                    c: &$crate::clients::Clients,
                    s: &$crate::settings::Settings,
                    name: &str,
                    rid: &str,
                    body: Self::Model,
                ) -> Result<google_cloud_compute_v1::model::Operation, google_cloud_gax::error::Error>
                {
                    use google_cloud_gax::options::RequestOptionsBuilder;
                    use google_cloud_lro::Poller;
                    collection!(@scope $scope, c.$client.patch(), s)
                        .$set_name(name)
                        .set_request_id(rid)
                        .set_body(body)
                        .with_idempotency(true)
                        .poller()
                        .until_done()
                        .await
                }
            )?
        }
    };
    (@scope global, $builder:expr, $s:expr) => {
        $builder.set_project(&$s.project)
    };
    (@scope regional, $builder:expr, $s:expr) => {
        $builder.set_project(&$s.project).set_region(&$s.region)
    };
    (@regional global) => {
        false
    };
    (@regional regional) => {
        true
    };
}
pub(crate) use collection;

/// A Compute Engine native type: its collection, schema, request body and attributes.
pub trait Resource: Collection {
    fn schema() -> ResourceSchema;

    /// The body of an insert (the name is added) or a patch.
    fn body(config: &Attrs) -> Json;

    /// The attributes read from an object, besides `id` and `name`.
    fn attrs(o: &Json) -> Vec<(&'static str, Value)>;
}

/// The id of an object: its partial resource name.
pub fn id<C: Collection>(s: &Settings, name: &str) -> String {
    let coll = C::PATH;
    if C::REGIONAL {
        format!("projects/{}/regions/{}/{coll}/{name}", s.project, s.region)
    } else {
        format!("projects/{}/global/{coll}/{name}", s.project)
    }
}

/// Checks a finished operation for an error.
fn op_result(what: &str, op: &Operation) -> Result<(), ProviderError> {
    let op = js(op);
    match op
        .get("error")
        .and_then(|e| e["errors"].as_array())
        .and_then(|a| a.first())
    {
        Some(first) => Err(ProviderError::Invalid(format!(
            "{what}: operation failed: {} {}",
            first["code"].as_str().unwrap_or_default(),
            first["message"].as_str().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// The object named `name`, if it exists.
pub async fn get<C: Collection>(api: &Api, name: &str) -> Result<Option<Json>, ProviderError> {
    let c = api.clients().await?;
    match C::get(c, &api.settings, name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if kind(&e) == Kind::NotFound => Ok(None),
        Err(e) => Err(provider_error(&format!("get {} {name}", C::TYPE), &e)),
    }
}

/// Every object of the collection (in the project, or in the region).
pub async fn list<C: Collection>(api: &Api) -> Result<Vec<Json>, ProviderError> {
    let c = api.clients().await?;
    C::list(c, &api.settings)
        .await
        .map_err(|e| provider_error(&format!("list {}", C::TYPE), &e))
}

/// Patches the object named `name` with `body`.
pub async fn patch<C: Collection>(
    api: &Api,
    name: &str,
    mut body: Json,
) -> Result<(), ProviderError> {
    let what = format!("patch {} {name}", C::TYPE);
    if !C::UPDATABLE {
        return Err(ProviderError::Invalid(format!(
            "a {} is replaced, never updated",
            C::TYPE
        )));
    }
    let c = api.clients().await?;
    // Objects with a fingerprint take it back, so that a concurrent change is not overwritten.
    if let Some(current) = get::<C>(api, name).await?
        && let Some(fp) = current.get("fingerprint").cloned()
        && let Some(m) = body.as_object_mut()
    {
        m.insert("fingerprint".into(), fp);
    }
    let body = model::<C::Model>(&what, body)?;
    let op = C::patch(c, &api.settings, name, &request_id(), body)
        .await
        .map_err(|e| provider_error(&what, &e))?;
    op_result(&what, &op)
}

/// A Compute Engine native type as a [`Service`].
pub struct Compute<R> {
    api: Arc<Api>,
    resource: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Compute<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compute").finish_non_exhaustive()
    }
}

impl<R: Resource> Compute<R> {
    pub fn new(api: Arc<Api>) -> Compute<R> {
        Compute {
            api,
            resource: PhantomData,
        }
    }

    fn state(&self, o: &Json) -> ResourceState {
        let name = o["name"].as_str().unwrap_or_default();
        let id = id::<R>(&self.api.settings, name);
        let mut pairs = vec![
            ("id", Value::from(id.as_str())),
            ("name", Value::from(name)),
        ];
        pairs.extend(R::attrs(o));
        state(id, pairs)
    }

    async fn get(&self, name: &str) -> Result<Option<ResourceState>, ProviderError> {
        Ok(get::<R>(&self.api, name).await?.map(|o| self.state(&o)))
    }

    async fn create_named(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        if let Some(found) = self.get(name).await? {
            tracing::debug!(type_name = R::TYPE, name, "adopting");
            return Ok(found);
        }
        let what = format!("insert {} {name}", R::TYPE);
        let mut body = R::body(config);
        if let Some(m) = body.as_object_mut() {
            m.insert("name".into(), json!(name));
        }
        let body = model::<R::Model>(&what, body)?;
        let c = self.api.clients().await?;
        // One requestId for every attempt: a retried insert answers the first one's operation.
        match R::insert(c, &self.api.settings, &request_id(), body).await {
            Ok(op) => op_result(&what, &op)?,
            Err(e) if kind(&e) == Kind::AlreadyExists => {}
            Err(e) => {
                // The insert may have happened: look before giving up.
                if let Some(found) = self.get(name).await? {
                    return Ok(found);
                }
                return Err(provider_error(&what, &e));
            }
        }
        self.get(name).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }
}

#[async_trait]
impl<R: Resource> Service for Compute<R> {
    fn types(&self) -> &'static [&'static str] {
        R::TYPES
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        self.create_named(&req.identity.name(NAME_LEN), req.config)
            .await
    }

    async fn find(&self, _type_name: &str, identity: &Identity) -> FindResult {
        self.get(&identity.name(NAME_LEN)).await
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        let found: std::collections::BTreeMap<String, ResourceState> = list::<R>(&self.api)
            .await?
            .iter()
            .map(|o| self.state(o))
            .map(|s| (s.id.clone(), s))
            .collect();
        Ok(pick(&found, ids))
    }

    async fn update(&self, _type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        let name = last(&prior.id);
        patch::<R>(&self.api, name, R::body(config)).await?;
        self.get(name)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("{} {name}", R::TYPE)))
    }

    async fn delete(&self, _type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        let name = last(&prior.id);
        let what = format!("delete {} {name}", R::TYPE);
        let c = self.api.clients().await?;
        let rid = request_id();
        // Still referenced by an object being deleted: wait for it.
        let deleted = self
            .api
            .repeat(
                &what,
                || R::delete(c, &self.api.settings, name, &rid),
                |answer| matches!(answer, Err(e) if kind(e) == Kind::Busy),
            )
            .await;
        match deleted {
            Ok(op) => op_result(&what, &op),
            Err(e) if kind(&e) == Kind::NotFound => Ok(()),
            Err(e) => Err(provider_error(&what, &e)),
        }
    }
}
