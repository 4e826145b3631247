//! What the moto tests of the AWS provider share: the server's URL, an SDK configuration
//! with dummy credentials, a call counter (by operation name, any service), unique stack
//! names, and a work directory driving the real planner with a local state file.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the tests say
//! so and pass, except under CI (env `CI` set), where they fail. Every test uses its own stack
//! name, so tests share one server in parallel (no `/moto-api/reset`).

#![allow(clippy::panic, dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{
    ConfigBag, Credentials, Intercept, RuntimeComponents, SharedInterceptor,
};
use aws_sdk_ec2::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use planner::apply::{ApplyOptions, apply};
use planner::events::NoEvents;
use planner::plan::{Action, Plan, PlanMode};
use planner::spec::{self, VarInputs};
use planner::{Engine, PlanOptions};
use provider_api::kit::Factory;
use provider_api::{Attrs, CreateRequest, Expansion, Identity, Provider, ResourceState, Value};
use state::{Backend, LocalBackend, State};

pub const REGION: &str = "us-east-1";

/// The moto server's URL, or `None` (after saying so) when the tests cannot run here.
pub fn moto_url() -> Option<String> {
    match std::env::var("SS_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SS_TEST_MOTO_URL is not set: the AWS provider tests need a moto server; start \
                 one with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`"
            );
            eprintln!(
                "note: skipping the AWS provider tests: SS_TEST_MOTO_URL is not set (start moto \
                 with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`)"
            );
            None
        }
    }
}

/// Counts EC2 calls by action (the `Action=` of the query-protocol body).
#[derive(Clone, Debug, Default)]
pub struct Calls(pub Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "ss-test-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .expect("lock")
                .entry(meta.name().to_string())
                .or_default() += 1;
        }
        Ok(())
    }
}

pub struct Moto {
    pub url: String,
    pub sdk: SdkConfig,
    pub client: Client,
}

impl Moto {
    pub async fn connect() -> Option<Moto> {
        let url = moto_url()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "ss-tests"))
            .endpoint_url(&url)
            .load()
            .await;
        let client = Client::new(&sdk);
        Some(Moto { url, sdk, client })
    }

    pub fn provider_config(&self) -> Attrs {
        Attrs::from([
            ("region".to_string(), Value::from(REGION)),
            ("endpoint".to_string(), Value::from(self.url.as_str())),
            ("ready_timeout".to_string(), Value::from(60)),
        ])
    }

    /// The `provider "aws"` block of a spec using this server, in `region`.
    pub fn provider_block(&self, region: &str) -> String {
        format!(
            r#"
provider "aws" {{
  region        = "{region}"
  endpoint      = "{}"
  ready_timeout = 60
}}
"#,
            self.url
        )
    }

    pub fn provider(&self, calls: &Calls) -> aws::AwsProvider {
        self.provider_with(vec![aws::interceptor(calls.clone())])
    }

    /// The provider on this server, its clients with `interceptors`.
    pub fn provider_with(&self, interceptors: Vec<SharedInterceptor>) -> aws::AwsProvider {
        aws::configure_with(
            &self.provider_config(),
            Some(self.sdk.clone()),
            interceptors,
        )
        .expect("configured")
    }
}

/// The identity of `address` in `stack`.
pub fn identity(stack: &str, address: &str) -> Identity {
    Identity {
        stack: stack.into(),
        address: address.into(),
    }
}

/// Creates every resource of an expansion in order, as the resources `<prefix>.<type>.<name>`,
/// resolving bindings as the planner does (each configuration must be wholly known by then);
/// answers (local name, type, state) in creation order.
pub async fn create_all(
    p: &aws::AwsProvider,
    stack: &str,
    prefix: &str,
    expansion: &Expansion,
) -> Vec<(String, String, ResourceState)> {
    let mut made: BTreeMap<String, ResourceState> = BTreeMap::new();
    let mut order = Vec::new();
    for spec in &expansion.resources {
        let config: Attrs = spec
            .config
            .iter()
            .map(|(k, b)| {
                let v = b.resolve(&|r, a| made.get(r).and_then(|s| s.attrs.get(a)).cloned());
                (k.clone(), v)
            })
            .collect();
        assert!(
            config.values().all(Value::is_wholly_known),
            "{}: {config:?}",
            spec.name
        );
        let address = format!("{prefix}.{}.{}", spec.type_name, spec.name);
        let created = p
            .create(CreateRequest {
                type_name: &spec.type_name,
                identity: &identity(stack, &address),
                config: &config,
            })
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", spec.name));
        made.insert(spec.name.clone(), created.clone());
        order.push((spec.name.clone(), spec.type_name.clone(), created));
    }
    order
}

pub fn unique_stack(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

// ---------------------------------------------------------------------------------------------
// Through the planner.

/// The provider list the planner is given: the AWS factory, configured with the moto SDK
/// configuration and `interceptors`.
pub fn registry(sdk: &SdkConfig, interceptors: Vec<SharedInterceptor>) -> Vec<Factory> {
    let sdk = sdk.clone();
    vec![Factory::new(
        aws::NAME,
        aws::config_schema,
        move |config, _dir| aws::configure_with(config, Some(sdk.clone()), interceptors.clone()),
    )]
}

pub struct Workdir {
    pub _tmp: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub backend: Arc<LocalBackend>,
    pub registry: Vec<Factory>,
}

impl Workdir {
    pub fn new(stack: &str, moto: &Moto, calls: &Calls, spec_text: &str) -> Workdir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(stack);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("main.hcl"), spec_text).expect("spec");
        let backend = Arc::new(LocalBackend::new(dir.join("ss.state.json")));
        Workdir {
            _tmp: tmp,
            dir,
            backend,
            registry: registry(&moto.sdk, vec![aws::interceptor(calls.clone())]),
        }
    }

    pub async fn state(&self) -> Option<State> {
        self.backend.read().await.expect("state")
    }

    pub fn engine(&self, state: Option<&State>) -> Engine {
        let config = spec::load_dir(&self.dir).expect("spec loads");
        let variables = spec::resolve_variables(&config, &VarInputs::default()).expect("variables");
        let providers: BTreeSet<String> = state
            .map(|s| s.resources.iter().map(|r| r.provider.clone()).collect())
            .unwrap_or_default();
        match Engine::new(config, variables, &self.registry, "default", &providers) {
            Ok(e) => e,
            Err(d) => panic!("engine: {d:?}"),
        }
    }

    pub async fn plan(&self, mode: PlanMode) -> (Engine, Plan, Option<State>) {
        let state = self.state().await;
        let engine = self.engine(state.as_ref());
        let opts = PlanOptions {
            mode,
            ..PlanOptions::default()
        };
        let plan = match planner::plan(&engine, state.as_ref(), &opts).await {
            Ok(p) => p,
            Err(e) => panic!("plan: {e:?}"),
        };
        (engine, plan, state)
    }

    pub async fn apply(&self, engine: Engine, plan: &Plan, state: Option<State>) -> State {
        let report = apply(
            Arc::new(engine),
            plan,
            state,
            self.backend.clone(),
            Arc::new(NoEvents),
            &ApplyOptions::default(),
        )
        .await
        .expect("apply runs");
        assert!(
            report.succeeded(),
            "apply failed: {:?}; skipped: {:?}",
            report
                .failures
                .iter()
                .map(|f| format!("{}: {}", f.address, f.message))
                .collect::<Vec<_>>(),
            report.skipped
        );
        report.state
    }
}

pub fn changes(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action.is_change())
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}
