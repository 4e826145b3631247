//! Secrets Manager: `aws_secretsmanager_secret`, the secret holding a database's master
//! credentials as the JSON object `{"username": …, "password": …}` (the shape RDS Proxy reads).
//!
//! The password is given, or generated at create time by `GetRandomPassword` (32 characters,
//! letters and digits only: RDS refuses `/`, `@`, `"` and spaces in a master password, and
//! punctuation is trouble in connection URLs). It is a sensitive attribute: it is read back from
//! the secret (so a change made outside ss shows), marked sensitive in every state this module
//! answers, and never formatted into an error or a log line; errors of the calls carrying it are
//! scrubbed of it ([`Password::scrub`]).
//!
//! The secret's name is the identity's deterministic name, so `find` is one `DescribeSecret`
//! (which also checks the `ss:stack` / `ss:address` tags). Its id is its ARN. Refresh is
//! `BatchGetSecretValue`, 20 secrets per call (the API's limit for a list of ids). A secret of
//! this stack found scheduled for deletion is restored and adopted. Deletes skip the recovery
//! window (`ForceDeleteWithoutRecovery`): the name is free again at once, and a re-create
//! under the same identity does not fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use provider_api::CreateRequest;
use provider_api::kit::config::attr_str;
use provider_api::kit::schema::s;
use provider_api::kit::{Lifecycle, Obj};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{Attrs, Identity, ProviderError, Value};

use crate::error::{Sent, sdk};
use crate::shared::{LazyClient, Shared, gone_ok, identity_tag_pairs, need_str, tags_match};
use crate::types::{Module, base};

/// A secret holding database credentials.
pub const SECRET: &str = "aws_secretsmanager_secret";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[SECRET],
    schema,
    set_like,
};

/// Length of secret names (Secrets Manager accepts 512; 63 keeps them RDS-identifier-like).
pub const NAME_LEN: usize = 63;

/// Length of a generated password.
const PASSWORD_LEN: i64 = 32;

/// `BatchGetSecretValue` takes at most 20 ids.
const BATCH: usize = 20;

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    match type_name {
        SECRET => Some((
            "A Secrets Manager secret holding database credentials as JSON \
             {\"username\", \"password\"}; the password is generated when not given",
            base()
                .attr("username", A::required(s(), "User name"))
                .attr(
                    "password",
                    A::optional_computed(
                        s(),
                        "Password; 32 random letters and digits when not given",
                    )
                    .sensitive(),
                )
                .attr("arn", A::computed(s(), "ARN (the id)"))
                .attr(
                    "version_id",
                    A::computed(s(), "Id of the current value; changes with every new value"),
                ),
        )),
        _ => None,
    }
}

fn set_like(_type_name: &str) -> &'static [&'static str] {
    &[]
}

/// A password in flight: never shown by `Debug`.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An error of a call that carried the password, with any occurrence of it replaced
    /// (AWS does not echo passwords; this holds even for a service or emulator that would).
    pub fn scrub(&self, err: ProviderError) -> ProviderError {
        if self.0.is_empty() {
            return err;
        }
        let clean = |m: String| m.replace(&self.0, "***");
        match err {
            ProviderError::NotFound(m) => ProviderError::NotFound(clean(m)),
            ProviderError::Throttled(m) => ProviderError::Throttled(clean(m)),
            ProviderError::Transient(m) => ProviderError::Transient(clean(m)),
            ProviderError::Timeout(m) => ProviderError::Timeout(clean(m)),
            ProviderError::Invalid(m) => ProviderError::Invalid(clean(m)),
            ProviderError::Other(m) => ProviderError::Other(clean(m)),
        }
    }
}

/// The secret's value: `{"username": …, "password": …}`.
fn credentials_json(username: &str, password: &Password) -> Result<String, ProviderError> {
    Value::Map(BTreeMap::from([
        ("username".to_string(), Value::from(username)),
        ("password".to_string(), Value::from(password.expose())),
    ]))
    .to_json()
    .map(|j| j.to_string())
    .ok_or_else(|| ProviderError::Other("cannot encode the secret's value".into()))
}

/// The user name and password of a secret's value; `None` when it is not such a JSON object.
fn parse_credentials(text: &str) -> Option<(String, Password)> {
    let json = text.parse().ok()?;
    let value = Value::from_json(&json);
    let username = value.get("username")?.as_str()?.to_string();
    let password = value.get("password")?.as_str()?.to_string();
    Some((username, Password(password)))
}

/// The Secrets Manager operations, on a client built at the first call.
#[derive(Debug)]
pub struct Secrets {
    client: LazyClient<Client>,
}

impl Secrets {
    pub fn new(shared: Arc<Shared>) -> Secrets {
        Secrets {
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_secretsmanager, &self.client)
    }

    /// The current password of a secret and the id of that value (RDS reads it to set a
    /// master password).
    pub async fn current(&self, secret_id: &str) -> Result<(Password, String), ProviderError> {
        let out = self
            .client()
            .await
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sdk("GetSecretValue", e))?;
        let (_, password) = out
            .secret_string()
            .and_then(parse_credentials)
            .ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "secret {secret_id} does not hold a JSON object with `username` and \
                     `password`"
                ))
            })?;
        Ok((password, out.version_id().unwrap_or_default().to_string()))
    }

    /// The current value id and password of secrets, by ARN (one `BatchGetSecretValue` per 20);
    /// a secret that is gone, or not a credentials JSON, is absent.
    pub async fn values(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, (String, Password)>, ProviderError> {
        Ok(self
            .read(arns)
            .await?
            .into_iter()
            .zip(arns)
            .filter_map(|(obj, arn)| {
                let obj = obj?;
                let version = attr_str(&obj.state.attrs, "version_id")?.to_string();
                let password = attr_str(&obj.state.attrs, "password")?;
                Some((arn.clone(), (version, Password::new(password))))
            })
            .collect())
    }

    /// 32 random letters and digits.
    async fn generate(&self) -> Result<Password, ProviderError> {
        let out = self
            .client()
            .await
            .get_random_password()
            .password_length(PASSWORD_LEN)
            .exclude_punctuation(true)
            .include_space(false)
            .require_each_included_type(true)
            .send()
            .await
            .map_err(|e| sdk("GetRandomPassword", e))?;
        out.random_password()
            .map(Password::new)
            .ok_or_else(|| ProviderError::Other("GetRandomPassword answered no password".into()))
    }

    fn obj(arn: &str, name: &str, version: &str, value: Option<&str>) -> Obj {
        let (username, password) = match value.and_then(parse_credentials) {
            Some((u, p)) => (Value::from(u), Value::from(p.0).sensitive()),
            None => (Value::Null, Value::Null),
        };
        let attrs = Attrs::from([
            ("id".into(), Value::from(arn)),
            ("name".into(), Value::from(name)),
            ("arn".into(), Value::from(arn)),
            ("version_id".into(), Value::from(version)),
            ("username".into(), username),
            ("password".into(), password),
        ]);
        Obj::new(arn, attrs, true)
    }

    async fn read(&self, ids: &[String]) -> Result<Vec<Option<Obj>>, ProviderError> {
        let c = self.client().await;
        let mut found: HashMap<String, Obj> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let pages = c
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.to_vec()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| sdk("BatchGetSecretValue", e))?;
            for out in &pages {
                for v in out.secret_values() {
                    let Some(arn) = v.arn() else { continue };
                    let obj = Self::obj(
                        arn,
                        v.name().unwrap_or_default(),
                        v.version_id().unwrap_or_default(),
                        v.secret_string(),
                    );
                    if let Some(name) = v.name() {
                        found.insert(name.to_string(), obj.clone());
                    }
                    found.insert(arn.to_string(), obj);
                }
                for e in out.errors() {
                    // Gone, or scheduled for deletion: absent. Anything else (no access,
                    // no decryption key) must not pass for "deleted".
                    match e.error_code() {
                        Some("ResourceNotFoundException" | "InvalidRequestException") => {}
                        code => {
                            return Err(ProviderError::Other(format!(
                                "BatchGetSecretValue: {}: {}: {}",
                                e.secret_id().unwrap_or_default(),
                                code.unwrap_or("error"),
                                e.message().unwrap_or_default()
                            )));
                        }
                    }
                }
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn find_secret(&self, identity: &Identity) -> Result<Option<Obj>, ProviderError> {
        let c = self.client().await;
        let name = identity.name(NAME_LEN);
        let described = match c.describe_secret().secret_id(&name).send().await {
            Ok(out) => out,
            Err(e) => {
                return match sdk("DescribeSecret", e) {
                    ProviderError::NotFound(_) => Ok(None),
                    other => Err(other),
                };
            }
        };
        let tags = described
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?)));
        if !tags_match(tags, identity) {
            return Err(ProviderError::Invalid(format!(
                "a secret named {name:?} exists and is not this resource's (its ss:stack / \
                 ss:address tags differ)"
            )));
        }
        let Some(arn) = described.arn() else {
            return Ok(None);
        };
        if described.deleted_date().is_some() {
            c.restore_secret()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| sdk("RestoreSecret", e))?;
        }
        Ok(self
            .read(&[arn.to_string()])
            .await?
            .into_iter()
            .flatten()
            .next())
    }

    async fn create_secret(
        &self,
        identity: &Identity,
        config: &Attrs,
    ) -> Result<String, ProviderError> {
        let username = need_str(config, "username")?;
        let password = match attr_str(config, "password") {
            Some(p) => Password::new(p),
            None => self.generate().await?,
        };
        let tags: Vec<Tag> = identity_tag_pairs(identity, NAME_LEN)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        // The SDK fills in a ClientRequestToken once per call, so its own retries of a create
        // that reached AWS make no second version.
        let out = self
            .client()
            .await
            .create_secret()
            .name(identity.name(NAME_LEN))
            .description(format!(
                "Managed by ss: database credentials of {}",
                identity.address
            ))
            .secret_string(credentials_json(username, &password)?)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| password.scrub(sdk("CreateSecret", e)))?;
        out.arn()
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Other("CreateSecret answered no ARN".into()))
    }

    /// Puts a new value when the user name or a configured password differs.
    async fn converge_secret(&self, current: &Obj, config: &Attrs) -> Result<bool, ProviderError> {
        let now = &current.state.attrs;
        let username = need_str(config, "username")?;
        let password = match attr_str(config, "password").or_else(|| attr_str(now, "password")) {
            Some(p) => Password::new(p),
            None => self.generate().await?,
        };
        if attr_str(now, "username") == Some(username)
            && attr_str(now, "password") == Some(password.expose())
        {
            return Ok(false);
        }
        self.client()
            .await
            .put_secret_value()
            .secret_id(&current.state.id)
            .secret_string(credentials_json(username, &password)?)
            .send()
            .await
            .map_err(|e| password.scrub(sdk("PutSecretValue", e)))?;
        Ok(true)
    }
}

#[async_trait]
impl Lifecycle for Secrets {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        _type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        self.find_secret(identity).await
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (identity, config) = (req.identity, req.config);
        self.create_secret(identity, config).await
    }

    async fn read_many(
        &self,
        _type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        self.read(ids).await
    }

    async fn converge(
        &self,
        _type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        self.converge_secret(current, config).await
    }

    async fn delete(&self, _type_name: &str, id: &str) -> Result<(), ProviderError> {
        gone_ok(
            self.client()
                .await
                .delete_secret()
                .secret_id(id)
                .force_delete_without_recovery(true)
                .send()
                .await
                .sent("DeleteSecret"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_password_is_hidden() {
        let pw = Password::new("p\"a\\ss wörd");
        let json = credentials_json("app", &pw).expect("encodes");
        let (user, back) = parse_credentials(&json).expect("parses");
        assert_eq!(user, "app");
        assert_eq!(back.expose(), pw.expose());
        assert!(!format!("{pw:?}").contains("ss w"));
        assert!(parse_credentials("not json").is_none());
        assert!(parse_credentials("{\"username\":\"a\"}").is_none());
        let scrubbed = pw.scrub(ProviderError::Invalid(format!("bad {}", pw.expose())));
        assert!(!scrubbed.to_string().contains(pw.expose()));
    }

    #[test]
    fn read_state_marks_the_password_sensitive() {
        let obj = Secrets::obj(
            "arn:x",
            "n",
            "v1",
            Some("{\"username\":\"u\",\"password\":\"hunter22\"}"),
        );
        assert!(obj.state.attrs["password"].is_sensitive());
        assert_eq!(obj.state.attrs["username"], Value::from("u"));
    }
}
