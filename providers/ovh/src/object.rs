//! What every OVH service shares: objects found by their deterministic name, created (or
//! adopted), polled until their status says ready, changed in place and deleted. A service
//! module implements [`Objects`] for its native types; [`Managed`] makes it a kit
//! [`Service`].

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::schema::s;
use provider_api::kit::wait::{Backoff, Poll, until};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{Attrs, CreateRequest, Identity, ProviderError, ResourceState};
use serde_json::Value as Json;

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{id_text, js, not_found_is_none, split_id};

/// Length of deterministic names: OVH accepts longer names for most objects, but node pool
/// and Kubernetes names must be DNS labels.
pub const NAME_LEN: usize = 40;

/// The start of most native schemas: the cloud id and the deterministic name.
pub fn base() -> Body {
    provider_api::kit::schema::with_id("Cloud id").attr(
        "name",
        A::computed(
            s(),
            "Deterministic name derived from the resource's identity",
        ),
    )
}

/// Where an object is in its lifecycle.
#[derive(Debug, PartialEq, Eq)]
pub enum Phase {
    Ready,
    Pending(String),
    Failed(String),
}

/// The phase a status field (`key`) shows: one of `ready`, one of `failed`, else pending.
pub fn status_phase(j: &Json, key: &str, ready: &[&str], failed: &[&str]) -> Phase {
    let status = js(j, key).unwrap_or("");
    if ready.contains(&status) {
        Phase::Ready
    } else if failed.contains(&status) {
        Phase::Failed(status.into())
    } else {
        Phase::Pending(status.into())
    }
}

/// The operations of one OVH API family on the native types it owns.
#[async_trait]
pub trait Objects: Send + Sync + Debug {
    /// The native types this family owns.
    fn types(&self) -> &'static [&'static str];

    fn api(&self) -> &Api;

    /// The routes of an object and the id its path parameters take.
    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str);

    /// Where the object `j` is in its lifecycle; ready when its type shows no status.
    fn phase(&self, type_name: &str, j: &Json) -> Phase {
        let _ = (type_name, j);
        Phase::Ready
    }

    /// Finds the object a create for `name` would make. `config` narrows the search to the
    /// parent when the type lives under one; without it every parent is searched.
    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>>;

    /// Sends the create request; answers the new object's id.
    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String>;

    /// What follows a create once the object is ready.
    async fn settle(&self, type_name: &str, id: &str) -> Result<()> {
        let _ = (type_name, id);
        Ok(())
    }

    /// Sends the in-place changes from `prior` to `config` (the wait follows).
    async fn change(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> Result<()> {
        let _ = (type_name, prior, config);
        Ok(())
    }

    /// Reads every id: one list per type (per parent for nested types), details only where
    /// the list answers ids alone.
    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>>;

    /// The raw object behind an id, `None` when it does not exist.
    async fn get_raw(&self, type_name: &str, id: &str) -> Result<Option<Json>> {
        let (routes, id) = self.routes(type_name, id);
        let params = routes.params(id)?;
        not_found_is_none(self.api().call(routes.get, &params, None).await)
    }

    /// The objects of `listed` (ids a list answered) that are among `ids`, each read by id.
    async fn fetch(
        &self,
        type_name: &str,
        listed: Vec<String>,
        ids: &[String],
    ) -> Result<Vec<(String, Json)>> {
        let mut out = Vec::new();
        for id in listed {
            if ids.contains(&id)
                && let Some(item) = self.get_raw(type_name, &id).await?
            {
                out.push((id, item));
            }
        }
        Ok(out)
    }

    /// Sends a change to an object in place.
    async fn put(&self, type_name: &str, id: &str, body: &Json) -> Result<Json> {
        let (routes, id) = self.routes(type_name, id);
        let put = routes.put.ok_or_else(|| {
            ProviderError::Invalid(format!("a {type_name} cannot be changed in place"))
        })?;
        self.api().call(put, &routes.params(id)?, Some(body)).await
    }
}

/// The `PARENT/CHILD` objects among `ids`: `items_of(parent, children)` lists a parent's
/// items, and those whose `id` is one of its children are answered with their full id.
pub async fn under_parents<'a, F, Fut>(
    ids: &'a [String],
    mut items_of: F,
) -> Result<Vec<(String, Json)>>
where
    F: FnMut(&'a str, Vec<&'a str>) -> Fut,
    Fut: Future<Output = Result<Vec<Json>>>,
{
    let mut out = Vec::new();
    for (parent, children) in by_parent(ids)? {
        let items = items_of(parent, children.clone()).await?;
        out.extend(children_of(parent, &children, items));
    }
    Ok(out)
}

/// The ids of `PARENT/CHILD` objects grouped by parent.
fn by_parent(ids: &[String]) -> Result<BTreeMap<&str, Vec<&str>>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in ids {
        let (parent, child) = split_id(id)?;
        out.entry(parent).or_default().push(child);
    }
    Ok(out)
}

/// The items of `listed` whose `id` is one of `ids`, with that id.
pub fn wanted(listed: Vec<Json>, ids: &[String]) -> Vec<(String, Json)> {
    listed
        .into_iter()
        .filter_map(|item| {
            let id = js(&item, "id")?.to_string();
            ids.contains(&id).then_some((id, item))
        })
        .collect()
}

/// The items of a parent's list whose `id` is one of `children`, with their `PARENT/CHILD`
/// id.
fn children_of(parent: &str, children: &[&str], items: Vec<Json>) -> Vec<(String, Json)> {
    items
        .into_iter()
        .filter_map(|item| {
            let child = item.get("id").and_then(id_text)?;
            children
                .contains(&child.as_str())
                .then(|| (format!("{parent}/{child}"), item))
        })
        .collect()
}

/// The `id` of the item of `items` named `name`.
pub fn named(items: Vec<Json>, name: &str) -> Option<String> {
    items
        .into_iter()
        .find(|i| js(i, "name") == Some(name))
        .and_then(|i| i.get("id").and_then(id_text))
}

/// The states found, in the order of `ids` (`None` for an id not found).
pub fn in_order(
    ids: &[String],
    found: impl IntoIterator<Item = ResourceState>,
) -> Vec<Option<ResourceState>> {
    let mut by_id: BTreeMap<String, ResourceState> =
        found.into_iter().map(|s| (s.id.clone(), s)).collect();
    ids.iter().map(|id| by_id.remove(id)).collect()
}

/// A family's [`Objects`] as a kit [`Service`]: adopt what a create for the same name made
/// (before the create, and after one answered with a retryable error), wait until ready,
/// change in place, delete and wait until gone.
#[derive(Debug)]
pub struct Managed<O>(pub O);

impl<O: Objects> Managed<O> {
    async fn read_one(&self, type_name: &str, id: &str) -> Result<ResourceState> {
        self.0
            .read_many(type_name, &[id.to_string()])
            .await?
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {id}")))
    }

    /// Polls until the object is ready, with growing pauses, within `ready_timeout`.
    async fn wait_ready(&self, type_name: &str, id: &str) -> Result<()> {
        let timeout = self.0.api().ready_timeout;
        let start = Instant::now();
        let mut backoff = Backoff::polling();
        loop {
            let obj = self.0.get_raw(type_name, id).await?.ok_or_else(|| {
                ProviderError::NotFound(format!(
                    "{type_name} {id} disappeared while waiting for it to become ready"
                ))
            })?;
            match self.0.phase(type_name, &obj) {
                Phase::Ready => return Ok(()),
                Phase::Failed(s) => {
                    return Err(ProviderError::Other(format!(
                        "{type_name} {id} is in status {s}"
                    )));
                }
                Phase::Pending(s) if start.elapsed() >= timeout => {
                    return Err(ProviderError::Timeout(format!(
                        "{type_name} {id} not ready after {timeout:?} (still {s})"
                    )));
                }
                Phase::Pending(_) => backoff.sleep().await,
            }
        }
    }

    /// Polls until the object is gone.
    async fn wait_gone(&self, type_name: &str, id: &str) -> Result<()> {
        let what = format!("{type_name} {id} still exists");
        until(self.0.api().ready_timeout, &what, || async {
            Ok(match self.0.get_raw(type_name, id).await? {
                Some(_) => Poll::Pending,
                None => Poll::Ready(()),
            })
        })
        .await
    }

    /// The id of the object made for `name`: found, or created (adopting what a create
    /// answered with a retryable error made after all: a 5xx may hide a create that
    /// happened).
    async fn find_or_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        let objects = &self.0;
        if let Some(id) = objects.lookup(type_name, name, Some(config)).await? {
            tracing::debug!(type_name, %id, "ovh create: adopting");
            return Ok(id);
        }
        match objects.post_create(type_name, name, config).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_retryable() => {
                match objects.lookup(type_name, name, Some(config)).await {
                    Ok(Some(id)) => {
                        tracing::debug!(
                            type_name,
                            %id,
                            "ovh create: adopting what a failed create made"
                        );
                        Ok(id)
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl<O: Objects> Service for Managed<O> {
    fn types(&self) -> &'static [&'static str] {
        self.0.types()
    }

    async fn create(&self, req: &CreateRequest<'_>) -> Result<ResourceState> {
        let name = req.identity.name(NAME_LEN);
        let id = self
            .find_or_create(req.type_name, &name, req.config)
            .await?;
        self.wait_ready(req.type_name, &id).await?;
        self.0.settle(req.type_name, &id).await?;
        self.read_one(req.type_name, &id).await
    }

    async fn find(&self, type_name: &str, identity: &Identity) -> Result<Option<ResourceState>> {
        let name = identity.name(NAME_LEN);
        match self.0.lookup(type_name, &name, None).await? {
            Some(id) => Ok(self
                .0
                .read_many(type_name, &[id])
                .await?
                .into_iter()
                .next()
                .flatten()),
            None => Ok(None),
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        self.0.read_many(type_name, ids).await
    }

    async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState> {
        self.0.change(type_name, prior, config).await?;
        // An update is accepted before it is applied: the object passes through UPDATING.
        self.wait_ready(type_name, &prior.id).await?;
        self.read_one(type_name, &prior.id).await
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<()> {
        let (routes, id) = self.0.routes(type_name, &prior.id);
        let res = self
            .0
            .api()
            .call(routes.delete, &routes.params(id)?, None)
            .await;
        if not_found_is_none(res)?.is_none() {
            return Ok(());
        }
        self.wait_gone(type_name, &prior.id).await
    }
}

/// The id of the object an operation created: its `resourceId`, else found by name.
pub async fn created_by<O: Objects + ?Sized>(
    objects: &O,
    op: &Json,
    type_name: &str,
    name: &str,
    what: &str,
) -> Result<String> {
    match objects.api().wait_operation(op).await? {
        Some(id) => Ok(id),
        None => objects
            .lookup(type_name, name, None)
            .await?
            .ok_or_else(|| ProviderError::Other(format!("{what} {name} not found after creation"))),
    }
}
