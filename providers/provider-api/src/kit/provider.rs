//! The one [`Provider`] implementation: a cloud's settings and checks ([`Cloud`]) plus its
//! service modules ([`Service`]).

use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;

use crate::diag::Diagnostic;
use crate::expansion::Expansion;
use crate::provider::{
    Attrs, CreateRequest, FindResult, Identity, PlanRequest, PlanResponse, Provider, ProviderError,
    ReadResult, ResourceState, StateResult, default_plan, expand_native, with_defaults,
};
use crate::schema::ProviderSchema;

use super::service::{Service, unknown_type};

/// A component's expansion, or why it cannot be expanded.
pub type Expanded = Result<Expansion, Vec<Diagnostic>>;

/// What a provider says about its cloud beyond the operations of its services: its name, its
/// checks, how it expands the portable components and how it adjusts a plan. Every method but
/// `name` has a default that does nothing.
#[async_trait]
pub trait Cloud: Send + Sync + Debug + 'static {
    /// The name used in `provider "NAME" { … }`.
    fn name(&self) -> &'static str;

    /// See [`Provider::validate`].
    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        let _ = (type_name, config);
        Vec::new()
    }

    /// See [`Provider::check_offers`].
    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        let _ = (type_name, config);
        Vec::new()
    }

    /// Expands a portable component; `None` for a type that is not one (a native type gets
    /// the identity expansion).
    fn expand(&self, type_name: &str, config: &Attrs) -> Option<Expanded> {
        let _ = (type_name, config);
        None
    }

    /// Adjusts a proposed configuration (schema defaults already applied) before the
    /// schema-driven plan: a value the cloud stores in another form, a minimum already met.
    fn normalise(&self, type_name: &str, prior: Option<&ResourceState>, proposed: &mut Attrs) {
        let _ = (type_name, prior, proposed);
    }

    /// Adjusts the schema-driven plan (an attribute that follows another).
    fn adjust_plan(&self, type_name: &str, plan: &mut PlanResponse) {
        let _ = (type_name, plan);
    }
}

/// A provider made of a [`Cloud`] and the [`Service`]s that own its native types. It derefs
/// to the cloud, so a provider's own accessors stay reachable.
#[derive(Debug)]
pub struct Kit<C> {
    cloud: C,
    schema: ProviderSchema,
    services: Vec<Arc<dyn Service>>,
    /// Native type → index in `services`.
    routes: HashMap<&'static str, usize>,
}

impl<C: Cloud> Kit<C> {
    /// The provider; each native type is routed to the first service that lists it.
    pub fn new(cloud: C, schema: ProviderSchema, services: Vec<Arc<dyn Service>>) -> Kit<C> {
        let mut routes = HashMap::new();
        for (i, svc) in services.iter().enumerate() {
            for t in svc.types() {
                routes.entry(*t).or_insert(i);
            }
        }
        Kit {
            cloud,
            schema,
            services,
            routes,
        }
    }

    /// The service that owns a native type.
    fn service(&self, type_name: &str) -> Result<&dyn Service, ProviderError> {
        self.routes
            .get(type_name)
            .and_then(|i| self.services.get(*i))
            .map(|s| s.as_ref())
            .ok_or_else(|| unknown_type(self.cloud.name(), type_name))
    }
}

impl<C> Deref for Kit<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.cloud
    }
}

#[async_trait]
impl<C: Cloud> Provider for Kit<C> {
    fn name(&self) -> &str {
        self.cloud.name()
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        self.cloud.validate(type_name, config)
    }

    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        self.cloud.check_offers(type_name, config).await
    }

    fn expand(
        &self,
        address: &str,
        type_name: &str,
        config: &Attrs,
    ) -> Result<Expansion, Vec<Diagnostic>> {
        let _ = address;
        self.cloud
            .expand(type_name, config)
            .unwrap_or_else(|| expand_native(self.cloud.name(), &self.schema, type_name, config))
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, Vec<Diagnostic>> {
        let Some(schema) = self.schema.resources.get(req.type_name) else {
            return Err(vec![Diagnostic::error(
                unknown_type(self.cloud.name(), req.type_name).to_string(),
            )]);
        };
        let mut proposed = with_defaults(schema, req.proposed);
        self.cloud
            .normalise(req.type_name, req.prior, &mut proposed);
        let mut plan = default_plan(schema, req.prior, &proposed);
        self.cloud.adjust_plan(req.type_name, &mut plan);
        Ok(plan)
    }

    async fn create(&self, req: CreateRequest<'_>) -> StateResult {
        self.service(req.type_name)?.create(&req).await
    }

    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult {
        self.service(type_name)?.find(type_name, identity).await
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        let svc = self.service(type_name)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        svc.read_many(type_name, ids).await
    }

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        self.service(type_name)?
            .update(type_name, prior, config)
            .await
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        self.service(type_name)?.delete(type_name, prior).await
    }
}
