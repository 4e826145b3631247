//! Cloud SQL for PostgreSQL: instances (primaries and read replicas) and built-in users.
//! Cloud SQL runs one operation at a time per instance, and a replica is made only from a
//! primary that is idle: mutations hold the primary's lock and wait out a busy answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use google_cloud_sql_v1::model;
use provider_api::kit::Service;
use provider_api::kit::config::{attr_i64, attr_str};
use provider_api::kit::pages;
use provider_api::kit::schema::{n, s, with_id};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::error::{Kind, kind, provider_error};
use crate::json::{cfg_str, js, last, model as to_model, num, pick, reference, state, text};
use crate::types::{NAME_LEN, base};

pub const SQL_INSTANCE: &str = "gcp_sql_instance";
pub const SQL_USER: &str = "gcp_sql_user";

/// A generated password: 32 characters from two random (v4) UUIDs.
fn generate_password() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    // Mixed case so that it satisfies password policies asking for it.
    format!("P{}x{}", &a[..15], &b[..15].to_ascii_uppercase())
}

/// An instance as JSON, its enums by name (the client decodes them from numbers or names,
/// and serialises numbers).
fn instance_json(o: &model::DatabaseInstance) -> Json {
    let mut j = js(o);
    j["databaseVersion"] = json!(o.database_version.name());
    j["state"] = json!(o.state.name());
    if let Some(s) = &o.settings {
        j["settings"]["availabilityType"] = json!(s.availability_type.name());
    }
    for (i, ip) in o.ip_addresses.iter().enumerate() {
        j["ipAddresses"][i]["type"] = json!(ip.r#type.name());
    }
    j
}

fn master_of(o: &Json) -> Option<String> {
    o["masterInstanceName"]
        .as_str()
        .filter(|m| !m.is_empty())
        .map(|m| m.rsplit(':').next().unwrap_or(m).to_string())
}

/// Cloud SQL: `gcp_sql_instance` and `gcp_sql_user`.
#[derive(Debug)]
pub struct Sql {
    pub(crate) api: Arc<Api>,
}

impl Sql {
    /// The lock of the primary an instance belongs to (its own when it is one): Cloud SQL
    /// runs one operation at a time there.
    fn primary_lock(&self, master: Option<&str>, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.api.lock(&format!("sql:{}", master.unwrap_or(name)))
    }

    fn instance_state(&self, o: &Json) -> ResourceState {
        let name = o["name"].as_str().unwrap_or_default();
        let s = &o["settings"];
        let private_ip = o["ipAddresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"].as_str() == Some("PRIVATE"))
            .map_or(Value::Null, |a| text(&a["ipAddress"]));
        state(
            name.to_string(),
            vec![
                ("name", Value::from(name)),
                ("database_version", text(&o["databaseVersion"])),
                ("tier", text(&s["tier"])),
                ("disk_gb", num(&s["dataDiskSizeGb"])),
                ("availability_type", text(&s["availabilityType"])),
                (
                    "network",
                    reference(&s["ipConfiguration"]["privateNetwork"]),
                ),
                ("master", master_of(o).map_or(Value::Null, Value::from)),
                ("private_ip", private_ip),
                ("connection_name", text(&o["connectionName"])),
                ("port", Value::from(5432)),
            ],
        )
    }

    async fn get_instance(&self, name: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.api.clients().await?;
        match c
            .sql
            .get()
            .set_project(self.api.project())
            .set_instance(name)
            .send()
            .await
        {
            Ok(o) => Ok(Some(instance_json(&o))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get instance {name}"), &e)),
        }
    }

    async fn instance(&self, name: &str) -> Result<Option<ResourceState>, ProviderError> {
        Ok(self
            .get_instance(name)
            .await?
            .map(|o| self.instance_state(&o)))
    }

    async fn list_json(&self) -> Result<Vec<Json>, ProviderError> {
        let c = self.api.clients().await?;
        pages::collect(|token| async move {
            let page = c
                .sql
                .list()
                .set_project(self.api.project())
                .set_page_token(token.unwrap_or_default())
                .send()
                .await
                .map_err(|e| provider_error("list instances", &e))?;
            let items = page.items.iter().map(instance_json).collect();
            Ok((items, Some(page.next_page_token)))
        })
        .await
    }

    async fn list_instances(&self) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        Ok(self
            .list_json()
            .await?
            .iter()
            .map(|o| self.instance_state(o))
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Waits for a Cloud SQL operation.
    async fn wait_op(&self, what: &str, op: &model::Operation) -> Result<(), ProviderError> {
        let name = js(op)["name"].as_str().unwrap_or_default().to_string();
        let c = self.api.clients().await?;
        let done = self
            .api
            .wait_for(what, || async {
                let o = c
                    .sql_ops
                    .get()
                    .set_project(self.api.project())
                    .set_operation(name.clone())
                    .send()
                    .await
                    .map_err(|e| provider_error(what, &e))?;
                let done = o.status.name() == Some("DONE");
                Ok(done.then(|| js(&o)))
            })
            .await?;
        match done["error"]["errors"].as_array().and_then(|a| a.first()) {
            Some(e) => Err(ProviderError::Invalid(format!(
                "{what}: operation failed: {} {}",
                e["code"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }

    async fn runnable(&self, what: &str, name: &str) -> Result<Json, ProviderError> {
        self.api
            .wait_for(what, || async {
                Ok(self
                    .get_instance(name)
                    .await?
                    .filter(|o| o["state"].as_str() == Some("RUNNABLE")))
            })
            .await
    }

    async fn create_instance(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let master = attr_str(config, "master")
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let lock = self.primary_lock(master.as_deref(), name);
        let _held = lock.lock().await;
        let what = format!("create instance {name}");
        if self.get_instance(name).await?.is_none() {
            let mut settings = json!({
                "tier": cfg_str(config, "tier"),
                "availabilityType": cfg_str(config, "availability_type"),
                "dataDiskSizeGb": attr_i64(config, "disk_gb", 100).to_string(),
                "ipConfiguration": {
                    "ipv4Enabled": false,
                    "privateNetwork": cfg_str(config, "network"),
                },
                "userLabels": {"managed-by": "ss"},
            });
            let mut body = json!({
                "name": name,
                "databaseVersion": cfg_str(config, "database_version"),
                "region": self.api.settings.region,
            });
            match &master {
                Some(m) => body["masterInstanceName"] = json!(m),
                // A REGIONAL primary needs backups with point-in-time recovery.
                None => {
                    settings["backupConfiguration"] =
                        json!({"enabled": true, "pointInTimeRecoveryEnabled": true})
                }
            }
            body["settings"] = settings;
            let instance: model::DatabaseInstance = to_model(&what, body)?;
            let c = self.api.clients().await?;
            let created = self
                .api
                .while_busy(&what, || {
                    c.sql
                        .insert()
                        .set_project(self.api.project())
                        .set_body(instance.clone())
                        .send()
                })
                .await;
            match created {
                Ok(op) => self.wait_op(&what, &op).await?,
                Err(e) => {
                    // A conflict or a lost answer: the insert may have happened.
                    if self.get_instance(name).await?.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        let o = self.runnable(&what, name).await?;
        Ok(self.instance_state(&o))
    }

    async fn update_instance(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let name = prior.id.clone();
        let lock = self.primary_lock(attr_str(&prior.attrs, "master"), &name);
        let _held = lock.lock().await;
        let what = format!("update instance {name}");
        let patch: model::DatabaseInstance = to_model(
            &what,
            json!({"settings": {
                "tier": cfg_str(config, "tier"),
                "availabilityType": cfg_str(config, "availability_type"),
                "dataDiskSizeGb": attr_i64(config, "disk_gb", 100).to_string(),
            }}),
        )?;
        let c = self.api.clients().await?;
        let op = self
            .api
            .while_busy(&what, || {
                c.sql
                    .patch()
                    .set_project(self.api.project())
                    .set_instance(name.clone())
                    .set_body(patch.clone())
                    .send()
            })
            .await?;
        self.wait_op(&what, &op).await?;
        let o = self.runnable(&what, &name).await?;
        Ok(self.instance_state(&o))
    }

    async fn delete_instance(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let name = prior.id.clone();
        let lock = self.primary_lock(attr_str(&prior.attrs, "master"), &name);
        let _held = lock.lock().await;
        let what = format!("delete instance {name}");
        let c = self.api.clients().await?;
        match self
            .api
            .while_busy(&what, || {
                c.sql
                    .delete()
                    .set_project(self.api.project())
                    .set_instance(name.clone())
                    .send()
            })
            .await
        {
            Ok(op) => self.wait_op(&what, &op).await?,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.api
            .wait_for(&what, || async {
                Ok(self.get_instance(&name).await?.is_none().then_some(()))
            })
            .await
    }

    // -----------------------------------------------------------------------------------------
    // Users. Cloud SQL never returns a password: a user's `password` attribute is what was
    // set at creation, read back as null and kept by the planner (`write_only` in its schema;
    // see the crate docs, "Passwords").

    async fn user_names(&self, instance: &str) -> Result<Option<Vec<String>>, ProviderError> {
        let c = self.api.clients().await?;
        match c
            .sql_users
            .list()
            .set_project(self.api.project())
            .set_instance(instance)
            .send()
            .await
        {
            Ok(list) => Ok(Some(
                js(&list)["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u["name"].as_str().map(str::to_string))
                    .collect(),
            )),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("list users of {instance}"), &e)),
        }
    }

    fn user_state(instance: &str, user: &str, password: Value) -> ResourceState {
        state(
            format!("{instance}/{user}"),
            vec![
                ("instance", Value::from(instance)),
                ("username", Value::from(user)),
                ("password", password.sensitive()),
            ],
        )
    }

    /// One list per instance that holds users in `ids`.
    async fn list_users(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let mut instances: Vec<&str> = ids.iter().filter_map(|id| id.split('/').next()).collect();
        instances.sort_unstable();
        instances.dedup();
        let mut out = BTreeMap::new();
        for instance in instances {
            for user in self.user_names(instance).await?.unwrap_or_default() {
                let s = Self::user_state(instance, &user, Value::Null);
                out.insert(s.id.clone(), s);
            }
        }
        Ok(out)
    }

    async fn create_user(&self, config: &Attrs) -> Result<ResourceState, ProviderError> {
        let instance = cfg_str(config, "instance");
        let user = cfg_str(config, "username");
        let password = match config.get("password").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => generate_password(),
        };
        let lock = self.api.lock(&format!("sql:{instance}"));
        let _held = lock.lock().await;
        let what = format!("create user {user} on {instance}");
        let body: model::User = to_model(
            &what,
            json!({"name": user, "password": password, "instance": instance, "project": self.api.project()}),
        )
        .map_err(|_| ProviderError::Other(format!("{what}: cannot build the request body")))?;
        let c = self.api.clients().await?;
        // Inserting a user that exists sets its password (Cloud SQL answers with an
        // operation either way), so a repeated create converges on the password given here.
        let op = self
            .api
            .while_busy(&what, || {
                c.sql_users
                    .insert()
                    .set_project(self.api.project())
                    .set_instance(instance.clone())
                    .set_body(body.clone())
                    .send()
            })
            .await;
        match op {
            Ok(op) => self.wait_op(&what, &op).await?,
            Err(e) => {
                let exists = self
                    .user_names(&instance)
                    .await?
                    .is_some_and(|names| names.contains(&user));
                if !exists {
                    return Err(e);
                }
            }
        }
        Ok(Self::user_state(&instance, &user, Value::from(password)))
    }

    async fn delete_user(&self, id: &str) -> Result<(), ProviderError> {
        let (instance, user) = id.split_once('/').unwrap_or((id, ""));
        let lock = self.api.lock(&format!("sql:{instance}"));
        let _held = lock.lock().await;
        let what = format!("delete user {user} of {}", last(instance));
        let c = self.api.clients().await?;
        match self
            .api
            .while_busy(&what, || {
                c.sql_users
                    .delete()
                    .set_project(self.api.project())
                    .set_instance(instance)
                    .set_name(user)
                    .send()
            })
            .await
        {
            Ok(op) => self.wait_op(&what, &op).await,
            Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Service for Sql {
    fn types(&self) -> &'static [&'static str] {
        &[SQL_INSTANCE, SQL_USER]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        match req.type_name {
            SQL_INSTANCE => {
                self.create_instance(&req.identity.name(NAME_LEN), req.config)
                    .await
            }
            _ => self.create_user(req.config).await,
        }
    }

    /// A user has no name of its own to find it by.
    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult {
        match type_name {
            SQL_INSTANCE => self.instance(&identity.name(NAME_LEN)).await,
            _ => Ok(None),
        }
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        let found = match type_name {
            SQL_INSTANCE => self.list_instances().await?,
            _ => self.list_users(ids).await?,
        };
        Ok(pick(&found, ids))
    }

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        match type_name {
            SQL_INSTANCE => self.update_instance(prior, config).await,
            _ => Err(ProviderError::Invalid(
                "a Cloud SQL user is replaced, never updated".into(),
            )),
        }
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        match type_name {
            SQL_INSTANCE => self.delete_instance(prior).await,
            _ => self.delete_user(&prior.id).await,
        }
    }
}

pub fn schemas() -> [ResourceSchema; 2] {
    [
        ResourceSchema::native(
            SQL_INSTANCE,
            "A Cloud SQL instance (a primary, or a read replica of one)",
            base()
                .attr(
                    "database_version",
                    A::required(s(), "POSTGRES_16, …").force_new(),
                )
                .attr(
                    "tier",
                    A::required(s(), "Machine tier (db-custom-4-15360, …)"),
                )
                .attr(
                    "disk_gb",
                    A::optional(n(), "Data disk size in GB; grows in place"),
                )
                .attr(
                    "availability_type",
                    A::optional(s(), "ZONAL, or REGIONAL (a standby in another zone)")
                        .default("ZONAL"),
                )
                .attr(
                    "network",
                    A::required(s(), "VPC network of the private IP").force_new(),
                )
                .attr(
                    "master",
                    A::optional(s(), "Primary instance name: this is its read replica").force_new(),
                )
                .attr("private_ip", A::computed(s(), "Private IPv4 address"))
                .attr(
                    "connection_name",
                    A::computed(s(), "PROJECT:REGION:INSTANCE"),
                )
                .attr("port", A::computed(n(), "Port")),
        ),
        ResourceSchema::native(
            SQL_USER,
            "A built-in database user of a Cloud SQL instance",
            with_id("INSTANCE/USER")
                .attr("instance", A::required(s(), "The instance").force_new())
                .attr("username", A::required(s(), "User name").force_new())
                .attr(
                    "password",
                    A::optional_computed(s(), "Password; generated when omitted")
                        .sensitive()
                        .write_only()
                        .force_new(),
                ),
        ),
    ]
}
