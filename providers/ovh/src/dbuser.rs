//! The user a client of a managed database authenticates as
//! (`/cloud/project/{serviceName}/database/{valkey,postgresql}/{clusterId}/user`), and its
//! password.
//!
//! OVH generates database passwords and shows one only in the answer that makes it: the
//! user's create (`…UserWithPassword`, `…UserWithPasswordAndRoles`) or
//! `…/user/{userId}/credentials/reset` (OVH's guide "Managing a Public Cloud Databases order
//! with the API", `ovh/docs@08070d41:pages/platform/databases/databases_02_order_api`). So a
//! user that already exists under the wanted name (the one a service is made with) is adopted
//! by resetting its password, and the password is kept in the state alone (write-only: no read
//! answers it).
//!
//! A Valkey user is named `default` unless configured otherwise: a client that sends `AUTH
//! <password>` without a user name (Celery's and Flask-Caching's `rediss://:PASSWORD@…` URLs)
//! authenticates as Redis's `default` user. A PostgreSQL user is `avnadmin` unless configured
//! otherwise: the administrator every service is made with, owner of its `defaultdb` database,
//! which Superset's migrations create their tables in.

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
use crate::routes::{self as r, Route};

pub const VALKEY_USER: &str = "ovh_cloud_database_valkey_user";
pub const PG_USER: &str = "ovh_cloud_database_postgresql_user";

/// The Valkey user clients reach without naming one.
pub const VALKEY_DEFAULT_USER: &str = "default";

/// The administrator every Managed PostgreSQL service is made with.
pub const PG_ADMIN: &str = "avnadmin";

/// The routes of one engine's users, and the user its services are made with.
struct UserRoutes {
    list: Route,
    create: Route,
    get: Route,
    delete: Route,
    reset: Route,
    /// Adopted, never deleted: it goes with its service.
    builtin: &'static str,
}

fn user_routes(type_name: &str) -> UserRoutes {
    if type_name == PG_USER {
        UserRoutes {
            list: r::PG_USER_LIST,
            create: r::PG_USER_CREATE,
            get: r::PG_USER_GET,
            delete: r::PG_USER_DELETE,
            reset: r::PG_USER_RESET,
            builtin: PG_ADMIN,
        }
    } else {
        UserRoutes {
            list: r::VALKEY_USER_LIST,
            create: r::VALKEY_USER_CREATE,
            get: r::VALKEY_USER_GET,
            delete: r::VALKEY_USER_DELETE,
            reset: r::VALKEY_USER_RESET,
            builtin: VALKEY_DEFAULT_USER,
        }
    }
}

/// The schema every user type shares.
fn user_schema(
    type_name: &str,
    what: &'static str,
    username: &'static str,
    builtin: &'static str,
) -> ResourceSchema {
    ResourceSchema::native(
        type_name,
        what,
        with_id("SERVICE/USER ids")
            .attr("service_id", A::required(s(), "The service").force_new())
            .attr(
                "username",
                A::optional(s(), username).default(builtin).force_new(),
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
    )
}

pub fn schemas() -> Vec<ResourceSchema> {
    let mut valkey = user_schema(
        VALKEY_USER,
        "A user of a Managed Valkey service, with every command on every key and channel",
        "User name; `default` is the one password-only AUTH reaches",
        VALKEY_DEFAULT_USER,
    );
    valkey.body = valkey.body.attr(
        "categories",
        A::computed(list(s()), "ACL command categories the user may run"),
    );
    vec![
        valkey,
        user_schema(
            PG_USER,
            "A user of a Managed PostgreSQL service",
            "User name; `avnadmin` is the service's administrator",
            PG_ADMIN,
        ),
    ]
}

/// The body of a user's create. A Valkey user may run every command (`+@all`) on every key
/// and channel, what a Celery broker and results backend need; a PostgreSQL user gets no
/// extra role.
pub fn user_body(type_name: &str, username: &str) -> Json {
    if type_name == PG_USER {
        return json!({ "name": username, "roles": [] });
    }
    json!({
        "name": username,
        "categories": ["+@all"],
        "commands": [],
        "keys": ["*"],
        "channels": ["*"],
    })
}

/// The state of a user from its API object; the password only when the answer shows it.
fn state(type_name: &str, service: &str, j: &Json) -> Result<ResourceState> {
    let uid = answer_id(j, "database user")?;
    let mut a = Attrs::new();
    let id = format!("{service}/{uid}");
    a.insert("id".into(), Value::from(id.as_str()));
    a.insert("service_id".into(), Value::from(service));
    a.insert("username".into(), jstr(j, "username"));
    if type_name == VALKEY_USER {
        let categories = j
            .get("categories")
            .and_then(Json::as_array)
            .map(|l| l.iter().filter_map(Json::as_str).map(Value::from).collect())
            .unwrap_or_default();
        a.insert("categories".into(), Value::List(categories));
    }
    let password = js(j, "password").map_or(Value::Null, |p| Value::from(p).sensitive());
    a.insert("password".into(), password);
    Ok(ResourceState { id, attrs: a })
}

/// Users of managed databases.
#[derive(Debug)]
pub struct DatabaseUsers {
    api: Arc<Api>,
}

impl DatabaseUsers {
    pub fn new(api: Arc<Api>) -> DatabaseUsers {
        DatabaseUsers { api }
    }

    /// The user, `None` when it (or its service) does not exist.
    async fn get(&self, type_name: &str, service: &str, user: &str) -> Result<Option<Json>> {
        let params = [("clusterId", service), ("userId", user)];
        not_found_is_none(
            self.api
                .call(user_routes(type_name).get, &params, None)
                .await,
        )
    }

    /// The id of the service's user named `username`.
    async fn find_user(
        &self,
        type_name: &str,
        service: &str,
        username: &str,
    ) -> Result<Option<String>> {
        let ids = self
            .api
            .list_ids(user_routes(type_name).list, &[("clusterId", service)])
            .await?
            .unwrap_or_default();
        for uid in ids {
            if let Some(user) = self.get(type_name, service, &uid).await?
                && js(&user, "username") == Some(username)
            {
                return Ok(Some(uid));
            }
        }
        Ok(None)
    }

    /// Waits until the user's status is `READY` (a create answers while it is made).
    async fn wait_ready(&self, type_name: &str, service: &str, user: &str) -> Result<()> {
        let what = format!("{type_name} {service}/{user} not ready");
        until(self.api.ready_timeout, &what, || async {
            let j = self
                .get(type_name, service, user)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {service}/{user}")))?;
            match js(&j, "status") {
                Some("READY") | None => Ok(Poll::Ready(())),
                Some("ERROR") => Err(ProviderError::Other(format!(
                    "{type_name} {service}/{user} is in status ERROR"
                ))),
                Some(_) => Ok(Poll::Pending),
            }
        })
        .await
    }
}

#[async_trait]
impl Service for DatabaseUsers {
    fn types(&self) -> &'static [&'static str] {
        &[VALKEY_USER, PG_USER]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> Result<ResourceState> {
        let type_name = req.type_name;
        let routes = user_routes(type_name);
        let service = need_str(req.config, "service_id")?;
        let username = attr_str(req.config, "username").unwrap_or(routes.builtin);
        // The existing user is adopted with a new password: its old one was never shown to ss.
        let answer = match self.find_user(type_name, service, username).await? {
            Some(uid) => {
                let params = [("clusterId", service), ("userId", uid.as_str())];
                self.api.call(routes.reset, &params, None).await?
            }
            None => {
                let body = user_body(type_name, username);
                let params = [("clusterId", service)];
                self.api.call(routes.create, &params, Some(&body)).await?
            }
        };
        let created = state(type_name, service, &answer)?;
        if created.attrs.get("password").is_none_or(Value::is_null) {
            return Err(ProviderError::Other(format!(
                "the answer for the user {username} of {service} shows no password"
            )));
        }
        let uid = answer_id(&answer, "database user")?;
        self.wait_ready(type_name, service, uid).await?;
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
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (service, uid) = split_id(id)?;
            out.push(match self.get(type_name, service, uid).await? {
                Some(j) => Some(state(type_name, service, &j)?),
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

    /// The user the service was made with (`default`, `avnadmin`) goes with the service (ss
    /// only reset its password); any other user is deleted.
    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<()> {
        let routes = user_routes(type_name);
        if prior.attrs.get("username").and_then(Value::as_str) == Some(routes.builtin) {
            return Ok(());
        }
        let (service, uid) = split_id(&prior.id)?;
        let params = [("clusterId", service), ("userId", uid)];
        not_found_is_none(self.api.call(routes.delete, &params, None).await)?;
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
        let st = state(VALKEY_USER, "svc-1", &j).expect("state");
        assert_eq!(st.id, "svc-1/u-1");
        assert_eq!(st.attrs["service_id"], Value::from("svc-1"));
        assert!(st.attrs["password"].is_sensitive());
        assert!(!format!("{st:?}").contains("s3cret-pw"));
        let read = state(
            PG_USER,
            "svc-1",
            &json!({"id": "u-1", "username": "avnadmin"}),
        )
        .expect("state");
        assert!(read.attrs["password"].is_null());
        assert!(!read.attrs.contains_key("categories"));
    }

    #[test]
    fn a_valkey_user_may_run_every_command_on_every_key() {
        let b = user_body(VALKEY_USER, "default");
        assert_eq!(b["name"], "default");
        assert_eq!(b["categories"], json!(["+@all"]));
        assert_eq!(b["keys"], json!(["*"]));
        assert_eq!(
            user_body(PG_USER, "superset"),
            json!({"name": "superset", "roles": []})
        );
    }
}
