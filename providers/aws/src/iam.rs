//! IAM roles: a trust policy for one AWS service, attached managed policies, and an inline
//! policy reading Secrets Manager secrets (EKS cluster and node roles, the RDS Proxy role).
//!
//! | type | attributes (in place / *force new*) | IAM calls |
//! |---|---|---|
//! | `aws_iam_role` | *`assume_role_service`*, `managed_policy_arns`, `readable_secret_arns`; computed `id` = `name`, `arn` | `CreateRole`, `GetRole`, `ListRoles`, `ListAttachedRolePolicies`, `GetRolePolicy`, `AttachRolePolicy`, `DetachRolePolicy`, `PutRolePolicy`, `DeleteRolePolicy`, `ListRolePolicies`, `DeleteRole` |
//!
//! The role's name is the deterministic name of its identity (64 characters at most, IAM's
//! limit), under the path `/ss/`, tagged with the identity tags in `CreateRole` itself, so
//! `find` is one `GetRole` by name (checking the `ss:stack` / `ss:address` tags: a role of that
//! name made by someone else is an error, never adopted). `CreateRole` has no idempotency
//! token, but the name is unique: a repeated create answers `EntityAlreadyExists`, which is
//! retryable here so that the caller looks the role up and adopts it.
//!
//! The trust policy allows `sts:AssumeRole` to `assume_role_service` (like
//! `eks.amazonaws.com`); changing it replaces the role. `managed_policy_arns` are attached and
//! detached to match (a set: order is meaningless). `readable_secret_arns` become one inline
//! policy named `ss-read-secrets` allowing `secretsmanager:GetSecretValue` on them, deleted
//! when the list is empty. A policy attached or an inline policy added by hand other than these
//! is left alone (and not shown), except that `delete` removes everything, as IAM requires
//! before `DeleteRole`.
//!
//! **Refresh.** `read_many` lists the roles once (`ListRoles` with `PathPrefix=/ss/`,
//! paginated) for all ids; ids missing from that listing (a role outside `/ss/`, imported, or
//! not yet listed) are asked by `GetRole`. IAM has no batch read of a role's policies: each
//! role found costs one `ListAttachedRolePolicies` and one `GetRolePolicy` (`ss-read-secrets`).
//! `GetAccountAuthorizationDetails` would return every role with its policies in one paginated
//! call, but it dumps the whole account and needs a permission that reads every policy of it,
//! so it is not used.
//!
//! **Eventual consistency.** IAM changes take a few seconds to reach other services: a role
//! just created may not be assumable yet. Its users retry (the EKS module treats EKS's "role
//! cannot be assumed" answers as transient).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Role, Tag};
use provider_api::CreateRequest;
use provider_api::kit::config::attr_set as attr_strings;
use provider_api::kit::schema::{list, s};
use provider_api::kit::{Lifecycle, Obj};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{Attrs, Identity, ProviderError, Value};

use crate::error::{Sent, sdk};
use crate::shared::{
    LazyClient, Shared, TAG_ADDRESS, TAG_STACK, gone_ok, identity_tag_pairs, need_str, strings,
    tags_match,
};
use crate::types::{Module, base};

pub const ROLE: &str = "aws_iam_role";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[ROLE],
    schema,
    set_like,
};

/// IAM's limit on role names.
pub const ROLE_NAME_LEN: usize = 64;

/// The path of every role ss makes: `ListRoles` lists them (and only them) by it.
pub const PATH: &str = "/ss/";

/// The inline policy that grants `readable_secret_arns`.
pub const SECRETS_POLICY: &str = "ss-read-secrets";

/// The action `SECRETS_POLICY` allows.
const READ_SECRET: &str = "secretsmanager:GetSecretValue";

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    match type_name {
        ROLE => Some((
            "An IAM role that one AWS service may assume, with managed policies attached and \
             read access to some Secrets Manager secrets",
            base()
                .attr("arn", A::computed(s(), "ARN of the role"))
                .attr(
                    "assume_role_service",
                    A::required(
                        s(),
                        "Service principal allowed to assume the role, like eks.amazonaws.com",
                    )
                    .force_new(),
                )
                .attr(
                    "managed_policy_arns",
                    A::optional(
                        list(s()),
                        "ARNs of the managed policies attached to the role",
                    )
                    .default(Value::List(Vec::new())),
                )
                .attr(
                    "readable_secret_arns",
                    A::optional(
                        list(s()),
                        "ARNs of Secrets Manager secrets the role may read (GetSecretValue)",
                    )
                    .default(Value::List(Vec::new())),
                ),
        )),
        _ => None,
    }
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        ROLE => &["managed_policy_arns", "readable_secret_arns"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// Policy documents. IAM answers them URL-encoded JSON; they are written with
// `Value::to_json` and read back with `Value::from_json`.

/// `{"Version": …, "Statement": [statement]}` as JSON text.
fn document(statement: BTreeMap<String, Value>) -> Result<String, ProviderError> {
    let doc = Value::Map(BTreeMap::from([
        ("Version".to_string(), Value::from("2012-10-17")),
        (
            "Statement".to_string(),
            Value::List(vec![Value::Map(statement)]),
        ),
    ]));
    doc.to_json()
        .map(|j| j.to_string())
        .ok_or_else(|| ProviderError::Other("cannot write a policy document".into()))
}

/// The trust policy letting `service` assume the role.
pub fn trust_policy(service: &str) -> Result<String, ProviderError> {
    document(BTreeMap::from([
        ("Effect".to_string(), Value::from("Allow")),
        (
            "Principal".to_string(),
            Value::Map(BTreeMap::from([(
                "Service".to_string(),
                Value::from(service),
            )])),
        ),
        ("Action".to_string(), Value::from("sts:AssumeRole")),
    ]))
}

/// The inline policy allowing `secretsmanager:GetSecretValue` on `arns`.
pub fn secrets_policy(arns: &[String]) -> Result<String, ProviderError> {
    document(BTreeMap::from([
        ("Sid".to_string(), Value::from("SsReadSecrets")),
        ("Effect".to_string(), Value::from("Allow")),
        ("Action".to_string(), Value::from(READ_SECRET)),
        (
            "Resource".to_string(),
            Value::List(arns.iter().map(|a| Value::from(a.as_str())).collect()),
        ),
    ]))
}

/// Decodes `%XX` escapes (IAM answers policy documents URL-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as a value (`Null` when it is not JSON).
fn parse_document(text: &str) -> Value {
    let text = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_decode(text)
    };
    text.parse()
        .map(|j| Value::from_json(&j))
        .unwrap_or(Value::Null)
}

/// A value that may be one item or a list of them, as a list.
fn one_or_many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::List(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    one_or_many(doc.get("Statement"))
}

/// The service principals a trust policy allows, joined by `,` (one, for the roles ss makes).
fn trusted_service(doc: &Value) -> Value {
    let mut services: Vec<String> = statements(doc)
        .into_iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .flat_map(|st| one_or_many(st.get("Principal").and_then(|p| p.get("Service"))))
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    services.sort();
    services.dedup();
    if services.is_empty() {
        Value::Null
    } else {
        Value::from(services.join(","))
    }
}

/// The resources an inline policy allows `secretsmanager:GetSecretValue` on.
fn readable_secrets(doc: &Value) -> Vec<String> {
    statements(doc)
        .into_iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .filter(|st| {
            one_or_many(st.get("Action"))
                .iter()
                .any(|a| a.as_str() == Some(READ_SECRET))
        })
        .flat_map(|st| one_or_many(st.get("Resource")))
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn iam_tags(identity: &Identity) -> Result<Vec<Tag>, ProviderError> {
    identity_tag_pairs(identity, ROLE_NAME_LEN)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ProviderError::Other(format!("IAM tag: {e}")))
        })
        .collect()
}

/// An IAM "no such policy" answered to an attach is a configuration error, not a missing role.
fn policy_missing(arn: &str, e: ProviderError) -> ProviderError {
    match e {
        ProviderError::NotFound(m) => {
            ProviderError::Invalid(format!("managed policy {arn:?} does not exist ({m})"))
        }
        other => other,
    }
}

/// The IAM operations, on a client built at the first call.
#[derive(Debug)]
pub struct Iam {
    client: LazyClient<Client>,
}

impl Iam {
    pub fn new(shared: Arc<Shared>) -> Iam {
        Iam {
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_iam, &self.client)
    }

    /// `GetRole` by name; `None` when there is no such role.
    async fn get_role(&self, name: &str) -> Result<Option<Role>, ProviderError> {
        match self
            .client()
            .await
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| sdk("GetRole", e))
        {
            Ok(out) => Ok(out.role().cloned()),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The ARNs of the managed policies attached to a role; `None` when the role is gone.
    async fn attached(&self, name: &str) -> Result<Option<Vec<String>>, ProviderError> {
        let listed = crate::all_items!(
            "ListAttachedRolePolicies",
            self.client()
                .await
                .list_attached_role_policies()
                .role_name(name)
        );
        match listed {
            Ok(policies) => Ok(Some(
                policies
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string))
                    .collect(),
            )),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The secrets `ss-read-secrets` grants (empty when that policy does not exist).
    async fn secrets(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        match self
            .client()
            .await
            .get_role_policy()
            .role_name(name)
            .policy_name(SECRETS_POLICY)
            .send()
            .await
            .map_err(|e| sdk("GetRolePolicy", e))
        {
            Ok(out) => Ok(readable_secrets(&parse_document(out.policy_document()))),
            Err(ProviderError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// A role as an object, with its policies; `None` when it is gone meanwhile.
    async fn object(&self, role: &Role) -> Result<Option<Obj>, ProviderError> {
        let name = role.role_name();
        let Some(attached) = self.attached(name).await? else {
            return Ok(None);
        };
        let secrets = self.secrets(name).await?;
        let trust = role
            .assume_role_policy_document()
            .map(parse_document)
            .unwrap_or(Value::Null);
        let attrs = Attrs::from([
            ("id".into(), Value::from(name)),
            ("name".into(), Value::from(name)),
            ("arn".into(), Value::from(role.arn())),
            ("assume_role_service".into(), trusted_service(&trust)),
            ("managed_policy_arns".into(), strings(attached)),
            ("readable_secret_arns".into(), strings(secrets)),
        ]);
        Ok(Some(Obj::new(name, attrs, true)))
    }

    /// Every role under `/ss/`, by name: one paginated `ListRoles`.
    async fn list_roles(&self) -> Result<HashMap<String, Role>, ProviderError> {
        Ok(crate::all_items!(
            "ListRoles",
            self.client().await.list_roles().path_prefix(PATH)
        )?
        .into_iter()
        .map(|role| (role.role_name().to_string(), role))
        .collect())
    }

    async fn put_secrets(&self, name: &str, arns: &[String]) -> Result<(), ProviderError> {
        self.client()
            .await
            .put_role_policy()
            .role_name(name)
            .policy_name(SECRETS_POLICY)
            .policy_document(secrets_policy(arns)?)
            .send()
            .await
            .sent("PutRolePolicy")
    }

    async fn delete_inline(&self, name: &str, policy: &str) -> Result<(), ProviderError> {
        gone_ok(
            self.client()
                .await
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .sent("DeleteRolePolicy"),
        )
    }

    async fn detach(&self, name: &str, arn: &str) -> Result<(), ProviderError> {
        gone_ok(
            self.client()
                .await
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .sent("DetachRolePolicy"),
        )
    }
}

#[async_trait]
impl Lifecycle for Iam {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        _type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let name = identity.name(ROLE_NAME_LEN);
        let Some(role) = self.get_role(&name).await? else {
            return Ok(None);
        };
        let tags = role
            .tags()
            .iter()
            .map(|t| (t.key(), t.value()))
            .filter(|(k, _)| *k == TAG_STACK || *k == TAG_ADDRESS);
        if !tags_match(tags, identity) {
            return Err(ProviderError::Invalid(format!(
                "an IAM role named {name:?} exists but was not made by ss for {:?}: delete or \
                 rename it",
                identity.address
            )));
        }
        self.object(&role).await
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (identity, config) = (req.identity, req.config);
        let name = identity.name(ROLE_NAME_LEN);
        let r = self
            .client()
            .await
            .create_role()
            .role_name(&name)
            .path(PATH)
            .description(format!("Managed by ss: {}", identity.address))
            .assume_role_policy_document(trust_policy(need_str(config, "assume_role_service")?)?)
            .set_tags(Some(iam_tags(identity)?))
            .send()
            .await
            .map_err(|e| sdk("CreateRole", e));
        match r {
            Ok(out) => Ok(out
                .role()
                .map(|r| r.role_name().to_string())
                .unwrap_or(name)),
            // Made by an earlier attempt (or by someone else: `find` tells which).
            Err(ProviderError::Invalid(m)) if m.contains("EntityAlreadyExists") => {
                Err(ProviderError::Transient(m))
            }
            Err(e) => Err(e),
        }
    }

    async fn read_many(
        &self,
        _type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let listed = self.list_roles().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let role = match listed.get(id) {
                Some(role) => Some(role.clone()),
                None => self.get_role(id).await?,
            };
            out.push(match role {
                Some(role) => self.object(&role).await?,
                None => None,
            });
        }
        Ok(out)
    }

    async fn converge(
        &self,
        _type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let name = current.state.id.as_str();
        let now = &current.state.attrs;
        let mut changed = false;

        let want = attr_strings(config, "managed_policy_arns");
        let have = attr_strings(now, "managed_policy_arns");
        for arn in want.iter().filter(|a| !have.contains(a)) {
            self.client()
                .await
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| policy_missing(arn, sdk("AttachRolePolicy", e)))?;
            changed = true;
        }
        for arn in have.iter().filter(|a| !want.contains(a)) {
            self.detach(name, arn).await?;
            changed = true;
        }

        let want = attr_strings(config, "readable_secret_arns");
        if want != attr_strings(now, "readable_secret_arns") {
            if want.is_empty() {
                self.delete_inline(name, SECRETS_POLICY).await?;
            } else {
                self.put_secrets(name, &want).await?;
            }
            changed = true;
        }
        Ok(changed)
    }

    async fn delete(&self, _type_name: &str, id: &str) -> Result<(), ProviderError> {
        // IAM refuses to delete a role that still has policies: detach and delete them first.
        let Some(attached) = self.attached(id).await? else {
            return Ok(());
        };
        for arn in &attached {
            self.detach(id, arn).await?;
        }
        let c = self.client().await;
        let inline =
            match crate::all_items!("ListRolePolicies", c.list_role_policies().role_name(id)) {
                Ok(inline) => inline,
                Err(ProviderError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
        for policy in &inline {
            self.delete_inline(id, policy).await?;
        }
        gone_ok(
            c.delete_role()
                .role_name(id)
                .send()
                .await
                .sent("DeleteRole"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip() {
        let trust = trust_policy("eks.amazonaws.com").expect("trust policy");
        assert_eq!(
            trusted_service(&parse_document(&trust)),
            Value::from("eks.amazonaws.com")
        );
        // As IAM answers it: URL-encoded.
        let encoded: String = trust
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(
            trusted_service(&parse_document(&encoded)),
            Value::from("eks.amazonaws.com")
        );
        let arns = vec![
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf".to_string(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:b-AbCdEf".to_string(),
        ];
        let doc = secrets_policy(&arns).expect("secrets policy");
        assert_eq!(readable_secrets(&parse_document(&doc)), arns);
        // A single resource as a string, as a hand-written policy may have it.
        let single = r#"{"Statement":{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"x"}}"#;
        assert_eq!(readable_secrets(&parse_document(single)), ["x"]);
        assert_eq!(parse_document("%7"), Value::Null);
    }
}
