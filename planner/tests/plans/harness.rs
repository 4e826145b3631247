//! Drives the planner the way the `ss` binary does: load the spec directory, resolve the
//! variables, configure the sandbox provider, plan, and (for prior specs) apply for real.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use planner::apply::{ApplyOptions, ApplyReport, apply};
use planner::events::NoEvents;
use planner::plan::{Plan, PlanMode};
use planner::spec::{self, Diagnostics, Sources, VarInputs};
use planner::{Engine, PlanError, PlanOptions, ProviderRegistry};
use provider_api::kit::Factory;
use provider_api::{Attrs, Value};
use state::{Backend, LocalBackend, State};

/// The state file name inside a case's working directory, as `ss` uses by default.
pub const STATE_FILE: &str = "ss.state.json";

/// The only provider of these tests: the sandbox, its simulated cloud pinned to `sandbox_dir`
/// (unless the spec chooses one), so that `SS_SANDBOX_DIR` in the environment of whoever runs
/// the tests can never send two cases, or a developer's own cloud, into the same directory.
pub fn registry(sandbox_dir: PathBuf) -> Vec<Factory> {
    vec![Factory::new(
        sandbox::NAME,
        sandbox::config_schema,
        move |config: &Attrs, dir: &Path| {
            let mut config = config.clone();
            if config.get("dir").is_none_or(Value::is_null) {
                config.insert(
                    "dir".into(),
                    Value::from(sandbox_dir.to_string_lossy().to_string()),
                );
            }
            sandbox::configure(&config, dir)
        },
    )]
}

/// Why a step failed: the spec's diagnostics (an expected outcome for some cases) or anything
/// else (always a test failure).
#[derive(Debug)]
pub enum StepError {
    Spec(Diagnostics, Sources),
    Other(String),
}

impl StepError {
    fn other(what: &str, e: impl std::fmt::Display) -> StepError {
        StepError::Other(format!("{what}: {e}"))
    }

    /// A one-line description for assertion messages (diagnostics rendered without spans).
    pub fn describe(&self) -> String {
        match self {
            StepError::Spec(d, s) => crate::render::diagnostics(d, s),
            StepError::Other(m) => m.clone(),
        }
    }
}

/// A working directory for one spec at a time, with its state file and simulated cloud.
pub struct Workdir {
    /// Keeps the temporary directory alive as long as the work directory is used.
    _tmp: tempfile::TempDir,
    /// The spec directory; its name is the stack name, so cloud names are reproducible.
    pub dir: PathBuf,
    pub backend: Arc<LocalBackend>,
    /// Where the simulated cloud lives.
    pub sandbox_dir: PathBuf,
    pub registry: Vec<Factory>,
}

impl Workdir {
    /// A fresh directory named `stack` (the stack name the planner derives from it).
    pub fn new(stack: &str) -> Result<Workdir, StepError> {
        let tmp = tempfile::tempdir().map_err(|e| StepError::other("tempdir", e))?;
        let dir = tmp.path().join(stack);
        std::fs::create_dir_all(&dir).map_err(|e| StepError::other("mkdir", e))?;
        let backend = Arc::new(LocalBackend::new(dir.join(STATE_FILE)));
        let sandbox_dir = dir.join(".ss").join("sandbox");
        Ok(Workdir {
            _tmp: tmp,
            dir,
            backend,
            registry: registry(sandbox_dir.clone()),
            sandbox_dir,
        })
    }

    /// Replaces every `*.hcl` file of the directory by one `main.hcl` holding `text`.
    pub fn write_spec(&self, text: &str) -> Result<(), StepError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| StepError::other("read_dir", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "hcl") {
                std::fs::remove_file(&path).map_err(|e| StepError::other("rm", e))?;
            }
        }
        std::fs::write(self.dir.join("main.hcl"), text).map_err(|e| StepError::other("write", e))
    }

    /// Copies every `*.hcl` file of `from` into the directory (for multi-file examples).
    pub fn copy_spec_dir(&self, from: &Path) -> Result<(), StepError> {
        let entries = std::fs::read_dir(from).map_err(|e| StepError::other("read_dir", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "hcl")
                && let Some(name) = path.file_name()
            {
                std::fs::copy(&path, self.dir.join(name)).map_err(|e| StepError::other("cp", e))?;
            }
        }
        Ok(())
    }

    pub async fn state(&self) -> Result<Option<State>, StepError> {
        self.backend
            .read()
            .await
            .map_err(|e| StepError::other("reading state", e))
    }

    /// Loads the spec as it is now on disk, resolves `vars` (as `--var K=V`) and configures
    /// the providers, including those the state still needs.
    pub fn engine(
        &self,
        vars: &[(String, String)],
        state: Option<&State>,
    ) -> Result<Engine, StepError> {
        let config = spec::load_dir(&self.dir)
            .map_err(|e| StepError::Spec(e.diagnostics.clone(), e.sources.clone()))?;
        let sources = config.sources.clone();
        let inputs = VarInputs {
            cli: vars.to_vec(),
            files: Vec::new(),
            env: Vec::new(),
        };
        let variables = spec::resolve_variables(&config, &inputs)
            .map_err(|d| StepError::Spec(d, sources.clone()))?;
        let state_providers: BTreeSet<String> = state
            .map(|s| s.resources.iter().map(|r| r.provider.clone()).collect())
            .unwrap_or_default();
        Engine::new(
            config,
            variables,
            &self.registry,
            "default",
            &state_providers,
        )
        .map_err(|d| StepError::Spec(d, sources))
    }

    pub async fn plan(
        &self,
        engine: &Engine,
        state: Option<&State>,
        opts: &PlanOptions,
    ) -> Result<Plan, StepError> {
        match planner::plan(engine, state, opts).await {
            Ok(p) => Ok(p),
            Err(PlanError::Spec(d)) => Err(StepError::Spec(d, engine.config.sources.clone())),
            Err(e) => Err(StepError::other("planning", e)),
        }
    }

    /// Applies `plan` and insists that every step succeeded.
    pub async fn apply(
        &self,
        engine: Engine,
        plan: &Plan,
        state: Option<State>,
    ) -> Result<ApplyReport, StepError> {
        let report = apply(
            Arc::new(engine),
            plan,
            state,
            self.backend.clone(),
            Arc::new(NoEvents),
            &ApplyOptions::default(),
        )
        .await
        .map_err(|e| StepError::other("applying", e))?;
        if !report.succeeded() {
            let failures: Vec<String> = report
                .failures
                .iter()
                .map(|f| format!("{} ({:?}): {}", f.address, f.action, f.message))
                .collect();
            return Err(StepError::Other(format!(
                "apply failed: {}; skipped: {}",
                failures.join("; "),
                report
                    .skipped
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(report)
    }

    /// Writes the spec, then plans and applies it in full against the current state.
    pub async fn converge(&self, vars: &[(String, String)]) -> Result<State, StepError> {
        let state = self.state().await?;
        let engine = self.engine(vars, state.as_ref())?;
        let plan = self
            .plan(&engine, state.as_ref(), &PlanOptions::default())
            .await?;
        Ok(self.apply(engine, &plan, state).await?.state)
    }

    /// Every object of the simulated cloud: id → type.
    pub fn cloud_objects(&self) -> Result<BTreeMap<String, String>, StepError> {
        let cloud = sandbox::Cloud::open(&self.sandbox_dir)
            .map_err(|e| StepError::other("opening the sandbox", e))?;
        Ok(cloud
            .list()
            .map_err(|e| StepError::other("listing the sandbox", e))?
            .into_iter()
            .map(|o| (o.id, o.type_name))
            .collect())
    }

    /// Deletes the object at `address` behind the planner's back, through the provider.
    pub async fn delete_out_of_band(&self, state: &State, address: &str) -> Result<(), StepError> {
        let record = state
            .resource(address)
            .ok_or_else(|| StepError::Other(format!("drift: {address} is not in the state")))?;
        let provider = self
            .registry
            .configure(sandbox::NAME, &Attrs::new(), &self.dir)
            .map_err(|d| StepError::Other(format!("configuring the sandbox: {d:?}")))?;
        let prior = provider_api::ResourceState {
            id: record.id.clone(),
            attrs: record.attrs(),
        };
        provider
            .delete(&record.type_name, &prior)
            .await
            .map_err(|e| StepError::other("drift", e))
    }

    /// Changes one attribute of the object at `address` behind the planner's back.
    pub fn drift(
        &self,
        state: &State,
        address: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StepError> {
        let record = state
            .resource(address)
            .ok_or_else(|| StepError::Other(format!("drift: {address} is not in the state")))?;
        let json = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        sandbox::Cloud::open(&self.sandbox_dir)
            .and_then(|c| c.set(&record.id, key, json))
            .map(|_| ())
            .map_err(|e| StepError::other("drift", e))
    }
}

/// The plan options of a fixture's `args` file.
pub fn plan_options(args: &[String]) -> Result<PlanOptions, String> {
    let mut opts = PlanOptions::default();
    for line in args {
        let (flag, value) = match line.split_once(' ') {
            Some((f, v)) => (f, Some(v.trim().to_string())),
            None => (line.as_str(), None),
        };
        match (flag, value) {
            ("--target", Some(v)) => opts.targets.push(v),
            ("--exclude", Some(v)) => opts.excludes.push(v),
            ("--refresh=false", None) => opts.refresh = false,
            ("--destroy", None) => opts.mode = PlanMode::Destroy,
            _ => return Err(format!("unknown line in args: {line:?}")),
        }
    }
    Ok(opts)
}
