//! What a command opens, once: the spec (only its state settings, or the whole spec with its
//! variables resolved), the state store of the selected workspace, and, for the commands that
//! plan, the locked state with the engine and its configured providers. The command files in
//! `commands/` use these; this module uses none of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use planner::plan::{Plan, PlanMode};
use planner::spec::{self, Config, Diagnostics, LoadError, Sources, VarInputs};
use planner::{Engine, PlanError, PlanOptions};
use provider_api::Value;
use state::{Backend, Codec, Loaded, LockGuard, LockInfo, State, Store};

use crate::backends::{self, Opened};
use crate::cli::{Cli, TargetArgs, VarArgs};
use crate::registry::REGISTRY;
use crate::report;

/// An error already shown to the user (diagnostics with snippets): exit 1 without more output.
#[derive(Debug, thiserror::Error)]
#[error("{count} error(s) reported above")]
pub struct Reported {
    pub count: usize,
}

/// What every command takes from the global flags.
pub struct Ctx {
    /// `--workspace` (or `SS_WORKSPACE`).
    workspace: Option<String>,
    /// Whether stdout may carry colour.
    pub color: bool,
    /// Whether stderr may carry colour (diagnostics, progress).
    pub color_err: bool,
}

impl Ctx {
    pub fn new(cli: &Cli) -> Ctx {
        Ctx {
            workspace: cli.workspace.clone(),
            color: cli.color_stdout(),
            color_err: cli.color_stderr(),
        }
    }

    /// The `--workspace` flag (or `SS_WORKSPACE`), if given.
    pub fn workspace_flag(&self) -> Option<&str> {
        self.workspace.as_deref()
    }
}

/// Prints diagnostics and turns them into a `Reported` error when any is an error.
pub fn check(diags: &Diagnostics, sources: &Sources, color: bool) -> anyhow::Result<()> {
    if diags.0.is_empty() {
        return Ok(());
    }
    report::print_diagnostics(diags, sources, color);
    if diags.has_errors() {
        let count = diags.0.iter().filter(|d| d.is_error()).count();
        return Err(Reported { count }.into());
    }
    Ok(())
}

/// The `*.hcl` files of `dir`, sorted.
pub fn hcl_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    Ok(files)
}

/// A loaded configuration, or its diagnostics shown and an error saying `failure`.
pub fn loaded(
    result: Result<Config, LoadError>,
    color: bool,
    failure: impl FnOnce() -> String,
) -> anyhow::Result<Config> {
    match result {
        Ok(config) => Ok(config),
        Err(e) => {
            check(&e.diagnostics, &e.sources, color)?;
            bail!(failure())
        }
    }
}

/// The spec in `dir`, its diagnostics shown when it does not load.
pub fn load_config(dir: &Path, color: bool) -> anyhow::Result<Config> {
    loaded(spec::load_dir(dir), color, || {
        format!("could not load {}", dir.display())
    })
}

/// Variable values from `--var`, `--var-file` and `SS_VAR_*`.
pub fn var_inputs(vars: &VarArgs) -> VarInputs {
    VarInputs {
        cli: vars.vars.clone(),
        files: vars.var_files.clone(),
        env: std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("SS_VAR_").map(|n| (n.to_string(), v)))
            .collect(),
    }
}

/// A spec with its variables resolved.
pub struct Spec {
    pub config: Config,
    pub vars: BTreeMap<String, Value>,
}

impl Spec {
    /// Loads the spec in `dir` and resolves its variables, reporting every problem (also of
    /// the backend settings) together.
    pub fn load(dir: &Path, vars: &VarArgs, color: bool) -> anyhow::Result<Spec> {
        let config = load_config(dir, color)?;
        let mut diags = backends::diagnostics(&config);
        match spec::resolve_variables(&config, &var_inputs(vars)) {
            Ok(vars) if !diags.has_errors() => Ok(Spec { config, vars }),
            Ok(_) => {
                check(&diags, &config.sources, color)?;
                bail!("invalid backend settings");
            }
            Err(d) => {
                diags.extend(d);
                check(&diags, &config.sources, color)?;
                bail!("could not resolve variables");
            }
        }
    }

    /// The engine of this spec for `workspace`, configuring the providers the spec names and
    /// those `providers` the state still holds resources of.
    pub fn engine(
        self,
        workspace: &str,
        providers: &BTreeSet<String>,
        color: bool,
    ) -> anyhow::Result<Engine> {
        let sources = self.config.sources.clone();
        match Engine::new(self.config, self.vars, &*REGISTRY, workspace, providers) {
            Ok(engine) => Ok(engine),
            Err(d) => {
                check(&d, &sources, color)?;
                bail!("could not prepare the providers");
            }
        }
    }
}

/// The spec in `dir` for its state settings (`ss { backend, encryption }`), or `None` when
/// the directory has no spec. A spec that does not load is an error: its `ss { backend }` says
/// where the state is, and guessing the local file for a spec that names a remote backend
/// would show (or create) the wrong state.
fn state_settings(dir: &Path) -> anyhow::Result<Option<Config>> {
    if hcl_files(dir)?.is_empty() {
        return Ok(None);
    }
    load_config(dir, false).map(Some)
}

/// The refusal to touch a state an interrupted apply left with operations to settle.
pub fn unsettled(pending: usize) -> anyhow::Error {
    anyhow!(
        "an interrupted apply left {pending} operation(s) unresolved: run `ss apply` first, which settles them"
    )
}

/// The state store of a spec directory (the spec's backend, or a forced local file), with
/// the selected workspace and the codec, opened once from the spec's settings.
pub struct Stored {
    pub opened: Opened,
    /// The spec the store was opened from (`None` without a spec or with a forced file).
    settings: Option<Config>,
    dir: PathBuf,
}

impl Stored {
    /// Opens the store of the spec in `dir` (`override_path` forces a local file).
    pub async fn open(
        ctx: &Ctx,
        dir: &Path,
        override_path: Option<&Path>,
    ) -> anyhow::Result<Stored> {
        let settings = match override_path {
            Some(_) => None,
            None => state_settings(dir)?,
        };
        let opened =
            backends::open(settings.as_ref(), dir, override_path, ctx.workspace_flag()).await?;
        Ok(Stored {
            opened,
            settings,
            dir: dir.to_path_buf(),
        })
    }

    /// The same store opened with another codec.
    pub async fn with_codec(&self, codec: Codec) -> anyhow::Result<Arc<dyn Store>> {
        backends::store_with_codec(self.settings.as_ref(), &self.dir, codec).await
    }

    /// The backend of the selected workspace and its state, read without locking (for
    /// read-only commands).
    pub async fn read(&self) -> anyhow::Result<(Arc<dyn Backend>, Option<State>)> {
        let backend = self.opened.backend().await?;
        let state = backend.read().await?;
        Ok((backend, state))
    }

    /// The backend of the selected workspace, locked for `operation`, and its settled state;
    /// refuses when there is no state yet or an interrupted apply left operations open.
    pub async fn locked(
        &self,
        operation: &str,
    ) -> anyhow::Result<(Arc<dyn Backend>, Box<dyn LockGuard>, State)> {
        let backend = self.opened.backend().await?;
        let guard = backend.lock(LockInfo::new(operation)).await?;
        let loaded = backend
            .load()
            .await?
            .ok_or_else(|| anyhow!("there is no state yet ({})", backend.describe()))?;
        if !loaded.pending.is_empty() {
            return Err(unsettled(loaded.pending.len()));
        }
        Ok((backend, guard, loaded.state))
    }
}

/// The state with its journal folded in; refuses while an interrupted apply has operations
/// to settle (their outcome is not known yet).
pub async fn settled_state(backend: &dyn Backend) -> anyhow::Result<Option<State>> {
    match backend.load().await? {
        Some(loaded) if !loaded.pending.is_empty() => bail!(
            "an interrupted apply left {} operation(s) unresolved in {}: run `ss apply` first, which settles them",
            loaded.pending.len(),
            backend.describe()
        ),
        Some(loaded) => Ok(Some(loaded.state)),
        None => Ok(None),
    }
}

/// Everything a planning command needs, with the state locked.
pub struct Session {
    pub engine: Arc<Engine>,
    pub backend: Arc<dyn Backend>,
    /// How saved plans are sealed (as the state is).
    pub codec: Codec,
    pub state: Option<State>,
    lock: Box<dyn LockGuard>,
}

impl Session {
    /// Opens the spec's state for `operation` (`plan`, `apply`, `destroy`, `diff`), locks it,
    /// configures the providers, and, before an apply or destroy, settles what an interrupted
    /// apply left open.
    pub async fn open(ctx: &Ctx, spec: Spec, operation: &str) -> anyhow::Result<Session> {
        let dir = spec.config.dir.clone();
        let opened = backends::open(Some(&spec.config), &dir, None, ctx.workspace_flag()).await?;
        let backend = opened.backend().await?;
        require_workspace(&opened).await?;
        let lock = backend.lock(LockInfo::new(operation)).await?;
        let loaded = backend.load().await?;
        let mut providers = state_providers(loaded.as_ref().map(|l| &l.state));
        if let Some(l) = &loaded {
            providers.extend(l.pending.iter().map(|i| i.provider.clone()));
        }
        let engine = spec.engine(&opened.workspace, &providers, ctx.color_err)?;
        let state = match loaded {
            None => None,
            // Operations an interrupted apply left open are settled before anything else.
            Some(l) if matches!(operation, "apply" | "destroy") => {
                Some(recover(&engine, backend.as_ref(), l).await?)
            }
            Some(l) => {
                warn_unsettled(&l, operation);
                Some(l.state)
            }
        };
        Ok(Session {
            engine: Arc::new(engine),
            backend,
            codec: opened.codec,
            state,
            lock,
        })
    }

    /// Plans against the session's state, showing the plan's warnings.
    pub async fn plan(&self, opts: &PlanOptions, color: bool) -> anyhow::Result<Plan> {
        let sources = &self.engine.config.sources;
        match planner::plan(&self.engine, self.state.as_ref(), opts).await {
            Ok(p) => {
                check(&p.warnings, sources, color)?;
                warn_unmatched(&p, opts);
                Ok(p)
            }
            Err(PlanError::Spec(d)) => {
                check(&d, sources, color)?;
                bail!("planning failed");
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The process is about to exit: freeing a plan and an engine of many thousands of
    /// resources piece by piece would only delay it (by a tenth of the run at 10,000
    /// resources). Their memory goes back to the OS with the process. The lock is released
    /// here as usual.
    pub fn exit_without_teardown(self, plan: Plan) {
        let Session {
            engine,
            backend,
            state,
            lock,
            ..
        } = self;
        drop(lock);
        drop(backend);
        std::mem::forget((plan, engine, state));
    }
}

/// A workspace is created explicitly (`ss workspace new`), so that a mistyped name never
/// provisions a new tenant.
async fn require_workspace(opened: &Opened) -> anyhow::Result<()> {
    if opened.workspace != state::workspace::DEFAULT
        && !opened.store.workspaces().await?.contains(&opened.workspace)
    {
        bail!(
            "workspace `{}` does not exist in {}; create it with `ss workspace new {}`",
            opened.workspace,
            opened.store.describe(),
            opened.workspace
        );
    }
    Ok(())
}

fn state_providers(state: Option<&State>) -> BTreeSet<String> {
    state
        .map(|s| s.resources.iter().map(|r| r.provider.clone()).collect())
        .unwrap_or_default()
}

/// Settles the operations an interrupted apply left open, and says what became of them.
async fn recover(engine: &Engine, backend: &dyn Backend, loaded: Loaded) -> anyhow::Result<State> {
    let pending = loaded.pending.len();
    let (state, notes) = planner::recover(engine, backend, loaded).await?;
    if pending > 0 {
        errln!("Resolved {pending} operation(s) left open by an interrupted apply:");
        for n in notes {
            errln!("  {n}");
        }
    }
    Ok(state)
}

/// A read-only operation does not settle an interrupted apply: it says what it may miss.
fn warn_unsettled(loaded: &Loaded, operation: &str) {
    if loaded.pending.is_empty() {
        return;
    }
    errln!(
        "Warning: an interrupted apply left {} operation(s) unresolved ({}); `ss apply` resolves them first, so this {operation} may not show everything that exists.",
        loaded.pending.len(),
        loaded
            .pending
            .iter()
            .map(|i| i.address.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// A `--target` that selects nothing is most likely a typo (the plan keeps every change a
/// target selects, so a target that no change matches selected nothing).
fn warn_unmatched(plan: &Plan, opts: &PlanOptions) {
    for t in &opts.targets {
        if !plan.changes.iter().any(|c| c.address.matches(t)) {
            errln!("Warning: --target {t} matches no resource in the spec or the state");
        }
    }
}

/// The planning options of `--target` / `--exclude`.
pub fn plan_options(mode: PlanMode, refresh: bool, t: &TargetArgs) -> PlanOptions {
    PlanOptions {
        mode,
        refresh,
        targets: t.targets.clone(),
        excludes: t.excludes.clone(),
    }
}
