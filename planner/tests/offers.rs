//! The providers' plan-time offer checks (`Provider::check_offers`): asked once per evaluated
//! instance when the plan reads the cloud, never with refresh off; an error is located at the
//! attribute the provider names, a warning reaches the plan's `warnings`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use planner::spec::diag::Severity;
use planner::spec::{self, VarInputs};
use planner::{Engine, PlanError, PlanOptions, ProviderRegistry};
use provider_api::schema::{Body, ProviderSchema};
use provider_api::{
    Attrs, CreateRequest, Diagnostic, Expansion, Identity, PlanRequest, PlanResponse, Provider,
    ProviderError, ResourceState, Value, component,
};

/// The sandbox, selling only Kubernetes 1.32 and 1.33, with 1.32 in extended support.
struct Offering {
    inner: sandbox::SandboxProvider,
    asked: Arc<AtomicUsize>,
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

struct Registry {
    asked: Arc<AtomicUsize>,
}

impl ProviderRegistry for Registry {
    fn names(&self) -> Vec<String> {
        vec![sandbox::NAME.to_string()]
    }
    fn config_schema(&self, name: &str) -> Option<Body> {
        (name == sandbox::NAME).then(sandbox::config_schema)
    }
    fn configure(
        &self,
        _name: &str,
        config: &Attrs,
        dir: &Path,
    ) -> Result<Arc<dyn Provider>, Vec<Diagnostic>> {
        let mut config = config.clone();
        config.insert(
            "dir".into(),
            Value::from(dir.join(".ss/sandbox").to_string_lossy().to_string()),
        );
        let inner = sandbox::configure(&config, dir)?;
        Ok(Arc::new(Offering {
            inner,
            asked: self.asked.clone(),
        }))
    }
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

async fn plan(
    version: &str,
    refresh: bool,
) -> (Result<planner::plan::Plan, PlanError>, usize, spec::Sources) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("offers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("main.hcl"), SPEC.replace("VERSION", version)).expect("write");
    let config = spec::load_dir(&dir).expect("loads");
    let sources = config.sources.clone();
    let vars = spec::resolve_variables(&config, &VarInputs::default()).expect("variables");
    let asked = Arc::new(AtomicUsize::new(0));
    let registry = Registry {
        asked: asked.clone(),
    };
    let engine = Engine::new(config, vars, &registry, "default", &BTreeSet::new()).expect("engine");
    let opts = PlanOptions {
        refresh,
        ..PlanOptions::default()
    };
    let result = planner::plan(&engine, None, &opts).await;
    (result, asked.load(Ordering::SeqCst), sources)
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
