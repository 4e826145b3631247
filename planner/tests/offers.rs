//! The providers' plan-time offer checks (`Provider::check_offers`): asked once per evaluated
//! instance when the plan reads the cloud, never with refresh off; an error is located at the
//! attribute the provider names, a warning reaches the plan's `warnings`.

#![allow(clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use planner::apply::{ApplyOptions, apply};
use planner::events::NoEvents;
use planner::plan::Plan;
use planner::spec::diag::Severity;
use planner::spec::{self, VarInputs};
use planner::{Engine, PlanError, PlanOptions};
use provider_api::kit::Factory;
use provider_api::schema::ProviderSchema;
use provider_api::{
    Attrs, CreateRequest, Diagnostic, Expansion, Identity, PlanRequest, PlanResponse, Provider,
    ProviderError, ResourceState, Value, component,
};
use state::{Backend, LocalBackend, State};

/// The sandbox, selling only Kubernetes 1.32 and 1.33, with 1.32 in extended support.
struct Offering {
    inner: sandbox::SandboxProvider,
    asked: Arc<AtomicUsize>,
    /// Whether 1.29 is still sold.
    sells_old: bool,
}

#[async_trait]
impl Provider for Offering {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn schema(&self) -> &ProviderSchema {
        self.inner.schema()
    }
    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        self.inner.validate(type_name, config)
    }
    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if type_name != component::KUBERNETES_CLUSTER {
            return Vec::new();
        }
        match config.get("version").and_then(Value::as_str) {
            Some("1.33") | None => Vec::new(),
            Some("1.29") if self.sells_old => Vec::new(),
            Some("1.32") => {
                vec![Diagnostic::warning("Kubernetes 1.32 is in extended support").at(["version"])]
            }
            Some(v) => vec![
                Diagnostic::error(format!(
                    "Kubernetes {v} is not offered; offered: 1.32, 1.33"
                ))
                .at(["version"]),
            ],
        }
    }
    fn expand(
        &self,
        address: &str,
        type_name: &str,
        config: &Attrs,
    ) -> Result<Expansion, Vec<Diagnostic>> {
        self.inner.expand(address, type_name, config)
    }
    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, Vec<Diagnostic>> {
        self.inner.plan(req)
    }
    async fn create(&self, req: CreateRequest<'_>) -> Result<ResourceState, ProviderError> {
        self.inner.create(req).await
    }
    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.inner.find(type_name, identity).await
    }
    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>, ProviderError> {
        self.inner.read_many(type_name, ids).await
    }
    async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        self.inner.update(type_name, prior, config).await
    }
    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        self.inner.delete(type_name, prior).await
    }
}

/// The registry: one sandbox that sells what [`Offering`] says, its cloud in the spec's
/// directory.
fn registry(asked: Arc<AtomicUsize>, sells_old: bool) -> Vec<Factory> {
    vec![Factory::new(
        sandbox::NAME,
        sandbox::config_schema,
        move |config: &Attrs, dir: &Path| {
            let mut config = config.clone();
            config.insert(
                "dir".into(),
                Value::from(dir.join(".ss/sandbox").to_string_lossy().to_string()),
            );
            Ok(Offering {
                inner: sandbox::configure(&config, dir)?,
                asked: asked.clone(),
                sells_old,
            })
        },
    )]
}

const SPEC: &str = r#"provider "sandbox" {}

resource "network" "main" {}

resource "kubernetes_cluster" "k8s" {
  network = network.main.id
  version = "VERSION"
  node_pool "web" {
    min = 1
    max = 3
  }
}
"#;

type Planned = (Result<Plan, PlanError>, usize, spec::Sources);

/// Writes the spec (with `version` and the web pool's `max`) into `dir` and plans it against
/// `state`.
async fn plan_in(
    dir: &Path,
    version: &str,
    max: u32,
    refresh: bool,
    sells_old: bool,
    state: Option<&State>,
) -> (Engine, Planned) {
    let text = SPEC
        .replace("VERSION", version)
        .replace("max = 3", &format!("max = {max}"));
    std::fs::write(dir.join("main.hcl"), text).expect("write");
    let config = spec::load_dir(dir).expect("loads");
    let sources = config.sources.clone();
    let vars = spec::resolve_variables(&config, &VarInputs::default()).expect("variables");
    let asked = Arc::new(AtomicUsize::new(0));
    let registry = registry(asked.clone(), sells_old);
    let engine = Engine::new(config, vars, &registry, "default", &BTreeSet::new()).expect("engine");
    let opts = PlanOptions {
        refresh,
        ..PlanOptions::default()
    };
    let result = planner::plan(&engine, state, &opts).await;
    let asked = asked.load(Ordering::SeqCst);
    (engine, (result, asked, sources))
}

async fn plan(version: &str, refresh: bool) -> Planned {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("offers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    plan_in(&dir, version, 3, refresh, false, None).await.1
}

#[tokio::test]
async fn an_offered_version_plans_and_each_instance_is_asked_once() {
    let (result, asked, _) = plan("1.33", true).await;
    let plan = result.expect("plans");
    assert!(!plan.changes.is_empty());
    assert!(plan.warnings.0.is_empty(), "{:?}", plan.warnings);
    assert_eq!(
        asked, 2,
        "one check per instance: the network and the cluster"
    );
}

#[tokio::test]
async fn a_version_not_offered_is_an_error_at_the_attribute() {
    let (result, _, sources) = plan("1.29", true).await;
    let Err(PlanError::Spec(diags)) = result else {
        panic!("expected spec diagnostics, got {result:?}");
    };
    let errors: Vec<_> = diags.0.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{diags:?}");
    let d = errors[0];
    assert!(
        d.summary.contains(
            "kubernetes_cluster.k8s: Kubernetes 1.29 is not offered; offered: 1.32, 1.33"
        ),
        "{}",
        d.summary
    );
    let span = d.span.expect("located");
    // Line 7 of main.hcl is `version = "1.29"`.
    assert_eq!(sources.line_col(span).0, 7, "{}", sources.location(span));
}

#[tokio::test]
async fn a_warning_reaches_the_plan() {
    let (result, _, _) = plan("1.32", true).await;
    let plan = result.expect("plans despite the warning");
    assert_eq!(plan.warnings.0.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings.0[0].severity, Severity::Warning);
    assert!(plan.warnings.0[0].summary.contains("extended support"));
}

#[tokio::test]
async fn nothing_is_asked_with_refresh_off() {
    let (result, asked, _) = plan("1.29", false).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(asked, 0);
}

#[tokio::test]
async fn an_object_that_exists_and_is_left_alone_only_warns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("offers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let backend = Arc::new(LocalBackend::new(dir.join("ss.state.json")));
    // The cloud still sells 1.29: the cluster is created.
    let (engine, (planned, _, _)) = plan_in(&dir, "1.29", 3, true, true, None).await;
    let plan = planned.expect("plans while 1.29 is sold");
    let report = apply(
        Arc::new(engine),
        &plan,
        None,
        backend.clone(),
        Arc::new(NoEvents),
        &ApplyOptions::default(),
    )
    .await
    .expect("applies");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let state = backend.read().await.expect("state").expect("written");
    // Then the cloud stops selling it. Unchanged, the cluster only warns…
    let (_, (planned, _, _)) = plan_in(&dir, "1.29", 3, true, false, Some(&state)).await;
    let plan = planned.expect("an unchanged cluster does not block the plan");
    assert!(!plan.has_changes(), "{:?}", plan.changes);
    assert_eq!(plan.warnings.0.len(), 1, "{:?}", plan.warnings);
    let w = &plan.warnings.0[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.summary.contains("1.29 is not offered"), "{}", w.summary);
    assert!(
        w.detail
            .as_deref()
            .is_some_and(|d| d.contains("changes nothing")),
        "{w:?}"
    );
    // …but a change to it is refused.
    let (_, (planned, _, _)) = plan_in(&dir, "1.29", 4, true, false, Some(&state)).await;
    let Err(PlanError::Spec(diags)) = planned else {
        panic!("a change to a cluster on an unsold version must be refused: {planned:?}");
    };
    assert!(diags.has_errors(), "{diags:?}");
}
