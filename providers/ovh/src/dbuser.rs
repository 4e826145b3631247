//! The user a client of a Managed Valkey service authenticates as
//! (`/cloud/project/{serviceName}/database/valkey/{clusterId}/user`), and its password.
//!
//! OVH generates database passwords and shows one only in the answer that makes it: the
//! user's create (`cloud.project.database.redis.UserWithPassword`) or
//! `…/user/{userId}/credentials/reset` (OVH's guide "Managing a Public Cloud Databases order
//! with the API", `ovh/docs@08070d41:pages/platform/databases/databases_02_order_api`). So a
//! user that already exists under the wanted name (a service's own `default` user) is adopted
//! by resetting its password, and the password is kept in the state alone (write-only: no read
//! answers it).
//!
//! The user is named `default` unless configured otherwise: a client that sends `AUTH
//! <password>` without a user name (Celery's and Flask-Caching's `rediss://:PASSWORD@…` URLs)
//! authenticates as Redis's `default` user.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::config::attr_str;
use provider_api::kit::schema::{list, s, with_id};
use provider_api::kit::wait::{Poll, until};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, CreateRequest, Identity, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::api::{Api, Result};
use crate::json::{answer_id, js, jstr, need_str, not_found_is_none, split_id};
use crate::routes as r;

pub const VALKEY_USER: &str = "ovh_cloud_database_valkey_user";

/// The user name clients reach without naming one.
pub const DEFAULT_USER: &str = "default";

pub fn schemas() -> Vec<ResourceSchema> {
    vec![ResourceSchema::native(
        VALKEY_USER,
        "A user of a Managed Valkey service, with every command on every key and channel",
        with_id("SERVICE/USER ids")
            .attr(
                "service_id",
                A::required(s(), "The Valkey service").force_new(),
            )
            .attr(
                "username",
                A::optional(
                    s(),
                    "User name; `default` is the one password-only AUTH reaches",
                )
                .default(DEFAULT_USER)
                .force_new(),
            )
            .attr(
                "categories",
                A::computed(list(s()), "ACL command categories the user may run"),
            )
            .attr(
                "password",
                A::computed(
                    s(),
                    "The password OVH generated, known from the create alone",
                )
                .sensitive()
                .write_only(),
            ),
    )]
}

/// The body of a user's create: every command (`+@all`) on every key and channel, what a
/// Celery broker and results backend need.
pub fn user_body(username: &str) -> Json {
    json!({
        "name": username,
        "categories": ["+@all"],
        "commands": [],
        "keys": ["*"],
        "channels": ["*"],
    })
}

/// The state of a user from its API object; the password only when the answer shows it.
fn state(service: &str, j: &Json) -> Result<ResourceState> {
    let uid = answer_id(j, "database user")?;
    let mut a = Attrs::new();
    let id = format!("{service}/{uid}");
    a.insert("id".into(), Value::from(id.as_str()));
    a.insert("service_id".into(), Value::from(service));
    a.insert("username".into(), jstr(j, "username"));
    let categories = j
        .get("categories")
        .and_then(Json::as_array)
        .map(|l| l.iter().filter_map(Json::as_str).map(Value::from).collect())
        .unwrap_or_default();
    a.insert("categories".into(), Value::List(categories));
    let password = js(j, "password").map_or(Value::Null, |p| Value::from(p).sensitive());
    a.insert("password".into(), password);
    Ok(ResourceState { id, attrs: a })
}

/// Users of Managed Valkey services.
#[derive(Debug)]
pub struct ValkeyUsers {
    api: Arc<Api>,
}

impl ValkeyUsers {
    pub fn new(api: Arc<Api>) -> ValkeyUsers {
        ValkeyUsers { api }
    }

    /// The user, `None` when it (or its service) does not exist.
    async fn get(&self, service: &str, user: &str) -> Result<Option<Json>> {
        not_found_is_none(
            self.api
                .call(
                    r::VALKEY_USER_GET,
                    &[("clusterId", service), ("userId", user)],
                    None,
                )
                .await,
        )
    }

    /// The id of the service's user named `username`.
    async fn find_user(&self, service: &str, username: &str) -> Result<Option<String>> {
        let ids = self
            .api
            .list_ids(r::VALKEY_USER_LIST, &[("clusterId", service)])
            .await?
            .unwrap_or_default();
        for uid in ids {
            if let Some(user) = self.get(service, &uid).await?
                && js(&user, "username") == Some(username)
            {
                return Ok(Some(uid));
            }
        }
        Ok(None)
    }

    /// Waits until the user's status is `READY` (a create answers while it is made).
    async fn wait_ready(&self, service: &str, user: &str) -> Result<()> {
        let what = format!("{VALKEY_USER} {service}/{user} not ready");
        until(self.api.ready_timeout, &what, || async {
            let j = self.get(service, user).await?.ok_or_else(|| {
                ProviderError::NotFound(format!("{VALKEY_USER} {service}/{user}"))
            })?;
            Ok(match js(&j, "status") {
                Some("READY") | None => Poll::Ready(()),
                Some("ERROR") => {
                    return Err(ProviderError::Other(format!(
                        "{VALKEY_USER} {service}/{user} is in status ERROR"
                    )));
                }
                Some(_) => Poll::Pending,
            })
        })
        .await
    }
}

#[async_trait]
impl Service for ValkeyUsers {
    fn types(&self) -> &'static [&'static str] {
        &[VALKEY_USER]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> Result<ResourceState> {
        let service = need_str(req.config, "service_id")?;
        let username = attr_str(req.config, "username").unwrap_or(DEFAULT_USER);
        // The existing user is adopted with a new password: its old one was never shown to ss.
        let answer = match self.find_user(service, username).await? {
            Some(uid) => {
                self.api
                    .call(
                        r::VALKEY_USER_RESET,
                        &[("clusterId", service), ("userId", &uid)],
                        None,
                    )
                    .await?
            }
            None => {
                self.api
                    .call(
                        r::VALKEY_USER_CREATE,
                        &[("clusterId", service)],
                        Some(&user_body(username)),
                    )
                    .await?
            }
        };
        let created = state(service, &answer)?;
        if created.attrs.get("password").is_none_or(Value::is_null) {
            return Err(ProviderError::Other(format!(
                "the answer for the user {username} of {service} shows no password"
            )));
        }
        self.wait_ready(service, answer_id(&answer, "database user")?)
            .await?;
        Ok(created)
    }

    /// A user is not named after its identity (its name is what clients send), so there is
    /// nothing to find by identity: a create interrupted before its outcome was recorded is
    /// made again, and adopts the user by name (with a new password).
    async fn find(&self, _type_name: &str, _identity: &Identity) -> Result<Option<ResourceState>> {
        Ok(None)
    }

    async fn read_many(
        &self,
        _type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (service, uid) = split_id(id)?;
            out.push(match self.get(service, uid).await? {
                Some(j) => Some(state(service, &j)?),
                None => None,
            });
        }
        Ok(out)
    }

    /// Every configured attribute forces a new user; the password is the state's.
    async fn update(
        &self,
        _type_name: &str,
        prior: &ResourceState,
        _config: &Attrs,
    ) -> Result<ResourceState> {
        Ok(prior.clone())
    }

    /// The service's own `default` user goes with the service (ss only reset its password);
    /// any other user is deleted.
    async fn delete(&self, _type_name: &str, prior: &ResourceState) -> Result<()> {
        let (service, uid) = split_id(&prior.id)?;
        if prior.attrs.get("username").and_then(Value::as_str) == Some(DEFAULT_USER) {
            return Ok(());
        }
        let res = self
            .api
            .call(
                r::VALKEY_USER_DELETE,
                &[("clusterId", service), ("userId", uid)],
                None,
            )
            .await;
        not_found_is_none(res)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_keeps_the_password_sensitive_and_the_ids_joined() {
        let j = json!({"id": "u-1", "username": "default", "status": "READY",
                       "categories": ["+@all"], "password": "s3cret-pw"});
        let st = state("svc-1", &j).expect("state");
        assert_eq!(st.id, "svc-1/u-1");
        assert_eq!(st.attrs["service_id"], Value::from("svc-1"));
        assert!(st.attrs["password"].is_sensitive());
        assert!(!format!("{st:?}").contains("s3cret-pw"));
        let read = state("svc-1", &json!({"id": "u-1", "username": "default"})).expect("state");
        assert!(read.attrs["password"].is_null());
    }

    #[test]
    fn a_user_may_run_every_command_on_every_key() {
        let b = user_body("default");
        assert_eq!(b["name"], "default");
        assert_eq!(b["categories"], json!(["+@all"]));
        assert_eq!(b["keys"], json!(["*"]));
    }
}
