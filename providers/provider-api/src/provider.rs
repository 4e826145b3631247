//! The provider interface: one request/response pair per operation.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::diag::Diagnostic;
use crate::expansion::Expansion;
use crate::schema::{ProviderSchema, ResourceSchema};
use crate::value::Value;

/// Attribute name → value.
pub type Attrs = BTreeMap<String, Value>;

/// A real object as the provider sees it: its cloud id and every attribute (configured and
/// computed), wholly known. Attributes the schema marks sensitive carry the sensitive mark.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    pub id: String,
    pub attrs: Attrs,
}

/// What a create or an update answers: the object as it is then.
pub type StateResult = Result<ResourceState, ProviderError>;
/// What a lookup by identity answers: the object, if there is one.
pub type FindResult = Result<Option<ResourceState>, ProviderError>;
/// What a batched read answers: one entry per id, in order, `None` for a missing object.
pub type ReadResult = Result<Vec<Option<ResourceState>>, ProviderError>;

/// Who a native resource is, independent of any cloud id: enough for the provider to derive the
/// deterministic name / client token under which it creates the object and finds it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub stack: String,
    pub address: String,
}

impl Identity {
    /// The deterministic name for this resource, at most `max_len` characters.
    pub fn name(&self, max_len: usize) -> String {
        crate::identity::deterministic_name(&self.stack, &self.address, max_len)
    }
}

pub struct CreateRequest<'a> {
    pub type_name: &'a str,
    pub identity: &'a Identity,
    pub config: &'a Attrs,
}

pub struct PlanRequest<'a> {
    pub type_name: &'a str,
    pub prior: Option<&'a ResourceState>,
    /// The configuration, defaults applied; may contain unknown values.
    pub proposed: &'a Attrs,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlanResponse {
    /// The attributes after the change: configured values, prior values of computed attributes
    /// that stay, and [`Value::Unknown`] for what is only known after apply.
    pub planned: Attrs,
    /// Attributes whose change forces replacement, empty for an in-place update.
    pub requires_replace: Vec<String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ProviderError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("request rejected: {0}")]
    Invalid(String),
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// Throttling, 5xx-like failures and timeouts may succeed when retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Throttled(_) | ProviderError::Transient(_) | ProviderError::Timeout(_)
        )
    }
}

/// A cloud provider. All mutating operations must be idempotent with respect to the resource's
/// [`Identity`]: a `create` for an identity whose object already exists adopts that object
/// instead of making a second one.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The name used in `provider "NAME" { … }`.
    fn name(&self) -> &str;

    fn schema(&self) -> &ProviderSchema;

    /// Provider-specific checks of a resource's configuration (portable component rules are
    /// checked by [`crate::component::validate`] before this).
    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        let _ = (type_name, config);
        Vec::new()
    }

    /// Checks a resource's configuration against what the cloud sells in the configured
    /// region (versions, instance classes, plans), at plan time. Called with the same type and
    /// configuration as [`Provider::validate`], but only when the plan reads the cloud (not by
    /// `ss validate`, not with refresh off); values still unknown are skipped. A provider may
    /// make read-only API calls and should cache their answers for the life of the provider.
    /// Only a definite "not offered" is a diagnostic (located with [`Diagnostic::at`], naming
    /// what is offered); failing to ask the cloud (no credentials, an outage) is not one: the
    /// provider logs it and returns nothing, and the create fails later with the cloud's own
    /// answer if the choice really is wrong.
    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        let _ = (type_name, config);
        Vec::new()
    }

    /// Decomposes one resource instance into native resources. Must be deterministic.
    /// For native types the default is the identity expansion.
    fn expand(
        &self,
        address: &str,
        type_name: &str,
        config: &Attrs,
    ) -> Result<Expansion, Vec<Diagnostic>> {
        let _ = address;
        expand_native(self.name(), self.schema(), type_name, config)
    }

    /// Normalises a proposed change and says whether it needs replacement.
    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, Vec<Diagnostic>> {
        match self.schema().resources.get(req.type_name) {
            Some(schema) => Ok(default_plan(schema, req.prior, req.proposed)),
            None => Err(vec![Diagnostic::error(format!(
                "provider {:?} has no resource type {:?}",
                self.name(),
                req.type_name
            ))]),
        }
    }

    /// Creates the object (or adopts the one that already exists under this identity) and
    /// waits until it is ready.
    async fn create(&self, req: CreateRequest<'_>) -> StateResult;

    /// Looks an object up by its identity (used to adopt after an interrupted create).
    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult;

    /// Reads many objects of one type at once; the answer has one entry per id, in order,
    /// `None` for objects that no longer exist.
    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult;

    /// Changes an object in place.
    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult;

    /// Deletes an object and waits until it is gone. Deleting what is already gone succeeds.
    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError>;

    /// Reads an existing object by cloud id so it can be brought under management.
    async fn import(&self, type_name: &str, id: &str) -> Result<ResourceState, ProviderError> {
        let found = self.read_many(type_name, &[id.to_string()]).await?;
        found
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {id}")))
    }
}

/// The expansion of a block of a provider's native type: the identity expansion, or an error
/// when the provider has no such type.
pub fn expand_native(
    provider: &str,
    schema: &ProviderSchema,
    type_name: &str,
    config: &Attrs,
) -> Result<Expansion, Vec<Diagnostic>> {
    match schema.resources.get(type_name) {
        Some(schema) => Ok(Expansion::identity(schema, config)),
        None => Err(vec![Diagnostic::error(format!(
            "provider {provider:?} has no resource type {type_name:?}"
        ))]),
    }
}

/// `proposed` with the schema's default for every attribute that is not configured (absent or
/// null): what a provider plans from, so a default never shows as a difference.
pub fn with_defaults(schema: &ResourceSchema, proposed: &Attrs) -> Attrs {
    let mut out = proposed.clone();
    for (name, attr) in &schema.body.attributes {
        if let Some(default) = &attr.default
            && out.get(name).is_none_or(Value::is_null)
        {
            out.insert(name.clone(), default.clone());
        }
    }
    out
}

/// The schema-driven plan every provider can use: configured values as given, computed values
/// kept from the prior object or unknown on create, sensitive attributes marked, and
/// replacement when a `force_new` attribute changes, or may change: one only known after apply
/// (its source is being replaced) cannot be changed in place by the cloud, so it is planned as
/// a replacement, as Terraform does.
pub fn default_plan(
    schema: &ResourceSchema,
    prior: Option<&ResourceState>,
    proposed: &Attrs,
) -> PlanResponse {
    let mut planned = Attrs::new();
    let mut requires_replace = Vec::new();
    for (name, attr) in &schema.body.attributes {
        let configured = proposed.get(name).filter(|v| !v.is_null()).cloned();
        let prior_value = prior.and_then(|p| p.attrs.get(name));
        let value = match (configured, attr.is_computed()) {
            (Some(v), _) => attr.ty.convert(v),
            (None, true) => match prior_value {
                Some(p) => p.clone(),
                None => Value::Unknown,
            },
            (None, false) => Value::Null,
        };
        let changes = match prior_value {
            Some(p) => !value.is_wholly_known() || !same(p, &value),
            None => prior.is_some() && !value.is_wholly_known(),
        };
        if attr.force_new && changes {
            requires_replace.push(name.clone());
        }
        planned.insert(name.clone(), value.mark_if(attr.sensitive));
    }
    for (name, block) in &schema.body.blocks {
        let value = proposed.get(name).cloned().unwrap_or(Value::Null);
        if let Some(p) = prior.and_then(|p| p.attrs.get(name))
            && block.force_new
            && value.is_wholly_known()
            && !same(p, &value)
        {
            requires_replace.push(name.clone());
        }
        planned.insert(name.clone(), value);
    }
    PlanResponse {
        planned,
        requires_replace,
    }
}

/// A provider setting given as a positive number of seconds (`ready_timeout = 600`): `default`
/// when absent, and a diagnostic at the attribute (then `default`) when it is not positive.
pub fn seconds_setting(
    config: &Attrs,
    name: &str,
    default: std::time::Duration,
    diags: &mut Vec<Diagnostic>,
) -> std::time::Duration {
    match config.get(name).filter(|v| !v.is_null()) {
        None => default,
        Some(v) => match v.as_f64() {
            Some(s) if s > 0.0 => std::time::Duration::from_secs_f64(s),
            _ => {
                diags.push(
                    Diagnostic::error(format!("`{name}` must be a positive number of seconds"))
                        .at([name]),
                );
                default
            }
        },
    }
}

/// Equality that ignores sensitive marks.
pub fn same(a: &Value, b: &Value) -> bool {
    a.clone().unmark().0 == b.clone().unmark().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{AttrType, AttributeSchema, Body};

    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            "t",
            "test",
            Body::default()
                .attr(
                    "name",
                    AttributeSchema::required(AttrType::String, "").force_new(),
                )
                .attr("size", AttributeSchema::optional(AttrType::Number, ""))
                .attr(
                    "secret",
                    AttributeSchema::optional_computed(AttrType::String, "").sensitive(),
                )
                .attr("id", AttributeSchema::computed(AttrType::String, "")),
        )
    }

    #[test]
    fn create_marks_computed_unknown() {
        let proposed = Attrs::from([("name".into(), Value::from("a"))]);
        let r = default_plan(&schema(), None, &proposed);
        assert_eq!(r.planned["id"], Value::Unknown);
        assert_eq!(r.planned["secret"], Value::Unknown.sensitive());
        assert_eq!(r.planned["size"], Value::Null);
        assert!(r.requires_replace.is_empty());
    }

    #[test]
    fn force_new_change_requires_replace_and_computed_are_kept() {
        let prior = ResourceState {
            id: "i-1".into(),
            attrs: Attrs::from([
                ("name".into(), Value::from("a")),
                ("id".into(), Value::from("i-1")),
                ("secret".into(), Value::from("pw").sensitive()),
            ]),
        };
        let proposed = Attrs::from([("name".into(), Value::from("b"))]);
        let r = default_plan(&schema(), Some(&prior), &proposed);
        assert_eq!(r.requires_replace, vec!["name".to_string()]);
        assert_eq!(r.planned["id"], Value::from("i-1"));
        assert!(r.planned["secret"].is_sensitive());
    }

    #[test]
    fn seconds_settings_default_parse_and_refuse() {
        use std::time::Duration;
        let default = Duration::from_secs(7);
        let mut diags = Vec::new();
        let config = Attrs::from([
            ("fast".into(), Value::Number(1.5)),
            ("bad".into(), Value::Number(-1.0)),
        ]);
        assert_eq!(
            seconds_setting(&config, "absent", default, &mut diags),
            default
        );
        assert_eq!(
            seconds_setting(&config, "fast", default, &mut diags),
            Duration::from_millis(1500)
        );
        assert!(diags.is_empty());
        assert_eq!(
            seconds_setting(&config, "bad", default, &mut diags),
            default
        );
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0]
                .to_string()
                .contains("`bad` must be a positive number"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_force_new_value_known_only_after_apply_requires_replace() {
        let prior = ResourceState {
            id: "i-1".into(),
            attrs: Attrs::from([("name".into(), Value::from("a"))]),
        };
        let unknown = Attrs::from([("name".into(), Value::Unknown)]);
        let r = default_plan(&schema(), Some(&prior), &unknown);
        assert_eq!(r.requires_replace, vec!["name".to_string()]);
        // The same value known and unchanged is an in-place no-op; on create nothing is replaced.
        let same = Attrs::from([("name".into(), Value::from("a"))]);
        assert!(
            default_plan(&schema(), Some(&prior), &same)
                .requires_replace
                .is_empty()
        );
        assert!(
            default_plan(&schema(), None, &unknown)
                .requires_replace
                .is_empty()
        );
    }
}
