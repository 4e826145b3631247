//! Cloud SQL for PostgreSQL: instances (primaries and read replicas) and built-in users.
//! Cloud SQL runs one operation at a time per instance, and a replica is made only from a
//! primary that is idle: mutations hold the primary's lock and wait out a busy answer.

use std::collections::BTreeMap;

use google_cloud_sql_v1::model;
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::error::{Kind, kind, provider_error};
use crate::ops::{Ops, cfg_num, cfg_str, js, last, model as to_model, num, partial, state, text};

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

impl Ops {
    fn sql_state(&self, o: &Json) -> ResourceState {
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
                    Value::from(partial(
                        s["ipConfiguration"]["privateNetwork"]
                            .as_str()
                            .unwrap_or_default(),
                    )),
                ),
                ("master", master_of(o).map_or(Value::Null, Value::from)),
                ("private_ip", private_ip),
                ("connection_name", text(&o["connectionName"])),
                ("port", Value::from(5432)),
            ],
        )
    }

    async fn sql_json(&self, name: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.clients().await?;
        match c
            .sql
            .get()
            .set_project(self.project())
            .set_instance(name)
            .send()
            .await
        {
            Ok(o) => Ok(Some(instance_json(&o))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get instance {name}"), &e)),
        }
    }

    pub(crate) async fn sql_instance(
        &self,
        name: &str,
    ) -> Result<Option<ResourceState>, ProviderError> {
        Ok(self.sql_json(name).await?.map(|o| self.sql_state(&o)))
    }

    async fn sql_list_json(&self) -> Result<Vec<Json>, ProviderError> {
        let c = self.clients().await?;
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = c
                .sql
                .list()
                .set_project(self.project())
                .set_page_token(token.clone())
                .send()
                .await
                .map_err(|e| provider_error("list instances", &e))?;
            out.extend(page.items.iter().map(instance_json));
            match Some(page.next_page_token.as_str()) {
                Some(t) if !t.is_empty() => token = t.to_string(),
                _ => return Ok(out),
            }
        }
    }

    pub(crate) async fn sql_list(&self) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        Ok(self
            .sql_list_json()
            .await?
            .iter()
            .map(|o| self.sql_state(o))
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Waits for a Cloud SQL operation.
    async fn sql_wait(&self, what: &str, op: &model::Operation) -> Result<(), ProviderError> {
        let name = js(op)["name"].as_str().unwrap_or_default().to_string();
        let c = self.clients().await?;
        let done = self
            .wait_for(what, || async {
                let o = c
                    .sql_ops
                    .get()
                    .set_project(self.project())
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

    async fn sql_wait_runnable(&self, what: &str, name: &str) -> Result<Json, ProviderError> {
        self.wait_for(what, || async {
            Ok(self
                .sql_json(name)
                .await?
                .filter(|o| o["state"].as_str() == Some("RUNNABLE")))
        })
        .await
    }

    pub(crate) async fn sql_instance_create(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let master = config
            .get("master")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let lock = self.lock(&format!("sql:{}", master.as_deref().unwrap_or(name)));
        let _held = lock.lock().await;
        let what = format!("create instance {name}");
        if self.sql_json(name).await?.is_none() {
            let mut settings = json!({
                "tier": cfg_str(config, "tier"),
                "availabilityType": cfg_str(config, "availability_type"),
                "dataDiskSizeGb": cfg_num(config, "disk_gb", 100).to_string(),
                "ipConfiguration": {
                    "ipv4Enabled": false,
                    "privateNetwork": cfg_str(config, "network"),
                },
                "userLabels": {"managed-by": "ss"},
            });
            let mut body = json!({
                "name": name,
                "databaseVersion": cfg_str(config, "database_version"),
                "region": self.settings.region,
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
            let c = self.clients().await?;
            let created = self
                .while_busy(&what, || {
                    c.sql
                        .insert()
                        .set_project(self.project())
                        .set_body(instance.clone())
                        .send()
                })
                .await;
            match created {
                Ok(op) => self.sql_wait(&what, &op).await?,
                Err(e) => {
                    // A conflict or a lost answer: the insert may have happened.
                    if self.sql_json(name).await?.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        let o = self.sql_wait_runnable(&what, name).await?;
        Ok(self.sql_state(&o))
    }

    pub(crate) async fn sql_instance_update(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let name = prior.id.clone();
        let master = prior
            .attrs
            .get("master")
            .and_then(Value::as_str)
            .map(str::to_string);
        let lock = self.lock(&format!("sql:{}", master.as_deref().unwrap_or(&name)));
        let _held = lock.lock().await;
        let what = format!("update instance {name}");
        let patch: model::DatabaseInstance = to_model(
            &what,
            json!({"settings": {
                "tier": cfg_str(config, "tier"),
                "availabilityType": cfg_str(config, "availability_type"),
                "dataDiskSizeGb": cfg_num(config, "disk_gb", 100).to_string(),
            }}),
        )?;
        let c = self.clients().await?;
        let op = self
            .while_busy(&what, || {
                c.sql
                    .patch()
                    .set_project(self.project())
                    .set_instance(name.clone())
                    .set_body(patch.clone())
                    .send()
            })
            .await?;
        self.sql_wait(&what, &op).await?;
        let o = self.sql_wait_runnable(&what, &name).await?;
        Ok(self.sql_state(&o))
    }

    pub(crate) async fn sql_instance_delete(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let name = prior.id.clone();
        let master = prior
            .attrs
            .get("master")
            .and_then(Value::as_str)
            .map(str::to_string);
        let lock = self.lock(&format!("sql:{}", master.as_deref().unwrap_or(&name)));
        let _held = lock.lock().await;
        let what = format!("delete instance {name}");
        let c = self.clients().await?;
        match self
            .while_busy(&what, || {
                c.sql
                    .delete()
                    .set_project(self.project())
                    .set_instance(name.clone())
                    .send()
            })
            .await
        {
            Ok(op) => self.sql_wait(&what, &op).await?,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(&what, || async {
            Ok(self.sql_json(&name).await?.is_none().then_some(()))
        })
        .await
    }

    // -----------------------------------------------------------------------------------------
    // Users. Cloud SQL never returns a password: a user's `password` attribute is what was
    // set at creation, read back as null and kept by the planner (`write_only` in its schema;
    // see the crate docs, "Passwords").

    async fn sql_user_names(&self, instance: &str) -> Result<Option<Vec<String>>, ProviderError> {
        let c = self.clients().await?;
        match c
            .sql_users
            .list()
            .set_project(self.project())
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
    pub(crate) async fn sql_users(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let mut instances: Vec<&str> = ids.iter().filter_map(|id| id.split('/').next()).collect();
        instances.sort_unstable();
        instances.dedup();
        let mut out = BTreeMap::new();
        for instance in instances {
            for user in self.sql_user_names(instance).await?.unwrap_or_default() {
                let s = Self::user_state(instance, &user, Value::Null);
                out.insert(s.id.clone(), s);
            }
        }
        Ok(out)
    }

    pub(crate) async fn sql_user_create(
        &self,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let instance = cfg_str(config, "instance");
        let user = cfg_str(config, "username");
        let password = match config.get("password").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => generate_password(),
        };
        let lock = self.lock(&format!("sql:{instance}"));
        let _held = lock.lock().await;
        let what = format!("create user {user} on {instance}");
        let body: model::User = to_model(
            &what,
            json!({"name": user, "password": password, "instance": instance, "project": self.project()}),
        )
        .map_err(|_| ProviderError::Other(format!("{what}: cannot build the request body")))?;
        let c = self.clients().await?;
        // Inserting a user that exists sets its password (Cloud SQL answers with an
        // operation either way), so a repeated create converges on the password given here.
        let op = self
            .while_busy(&what, || {
                c.sql_users
                    .insert()
                    .set_project(self.project())
                    .set_instance(instance.clone())
                    .set_body(body.clone())
                    .send()
            })
            .await;
        match op {
            Ok(op) => self.sql_wait(&what, &op).await?,
            Err(e) => {
                let exists = self
                    .sql_user_names(&instance)
                    .await?
                    .is_some_and(|names| names.contains(&user));
                if !exists {
                    return Err(e);
                }
            }
        }
        Ok(Self::user_state(&instance, &user, Value::from(password)))
    }

    pub(crate) async fn sql_user_delete(&self, id: &str) -> Result<(), ProviderError> {
        let (instance, user) = id.split_once('/').unwrap_or((id, ""));
        let lock = self.lock(&format!("sql:{instance}"));
        let _held = lock.lock().await;
        let what = format!("delete user {user} of {}", last(instance));
        let c = self.clients().await?;
        match self
            .while_busy(&what, || {
                c.sql_users
                    .delete()
                    .set_project(self.project())
                    .set_instance(instance)
                    .set_name(user)
                    .send()
            })
            .await
        {
            Ok(op) => self.sql_wait(&what, &op).await,
            Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
