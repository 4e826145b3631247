//! What each command does: load, plan, apply and report, wiring the planner, the state
//! backend and the providers together. Rendering lives in `render`, progress in `progress`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use planner::apply::{ApplyOptions, ApplyReport, Interrupt, apply};
use planner::plan::{Action, PLAN_FORMAT_VERSION, Plan, PlanMode};
use planner::spec::{self, Config, Diagnostics, Sources, VarInputs};
use planner::{Engine, PlanError, PlanOptions};
use provider_api::Value;
use state::{Backend, Codec, LockInfo, State};

use crate::backends;
use crate::cli::{
    ApplyArgs, Cli, Command, DestroyArgs, DiffArgs, FmtArgs, GraphArgs, OutputArgs, PlanArgs,
    SandboxCommand, ShowArgs, StateCommand, StateLocation, TargetArgs, ValidateArgs, VarArgs,
};
use crate::progress::{Progress, ProgressMode};
use crate::registry::Registry;
use crate::{render, report};

/// Writes a line to stdout, ignoring a closed pipe (`ss state list | head`): output is
/// best-effort, and an apply must not stop because whoever read its output went away.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Like [`outln!`] without the newline.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// Like [`outln!`], on stderr.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// An error already shown to the user (diagnostics with snippets): exit 1 without more output.
#[derive(Debug, thiserror::Error)]
#[error("{count} error(s) reported above")]
pub struct Reported {
    pub count: usize,
}

/// `--workspace` (or `SS_WORKSPACE`), set once at start.
static WORKSPACE_FLAG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = cli.color_stdout();
    let color_err = cli.color_stderr();
    let _ = WORKSPACE_FLAG.set(cli.workspace.clone());
    match cli.command {
        Command::Validate(a) => validate(a, color_err).await,
        Command::Fmt(a) => fmt(a),
        Command::Plan(a) => plan_cmd(a, color, color_err).await,
        Command::Apply(a) => apply_cmd(a, color, color_err).await,
        Command::Destroy(a) => destroy_cmd(a, color, color_err).await,
        Command::Diff(a) => diff_cmd(a, color, color_err).await,
        Command::Show(a) => show_cmd(a, color).await,
        Command::Output(a) => output_cmd(a).await,
        Command::State(s) => state_cmd(s).await,
        Command::Graph(a) => graph_cmd(a, color_err),
        Command::Sandbox(s) => sandbox_cmd(s),
        Command::Workspace(w) => crate::team::workspace_cmd(w).await,
        Command::Import(a) => crate::team::import_cmd(a, color_err).await,
        Command::ForceUnlock(a) => crate::team::force_unlock_cmd(a).await,
    }
}

/// The `--workspace` flag (or `SS_WORKSPACE`), if given.
pub fn workspace_flag() -> Option<&'static str> {
    WORKSPACE_FLAG.get().and_then(|w| w.as_deref())
}

/// The state store of the spec in `dir` (`override_path` forces a local file), with the
/// selected workspace.
pub async fn open_state(
    dir: &Path,
    override_path: Option<&Path>,
) -> anyhow::Result<backends::Opened> {
    let config = match override_path {
        Some(_) => None,
        None => state_settings(dir)?,
    };
    backends::open(config.as_ref(), dir, override_path, workspace_flag()).await
}

/// The spec in `dir` for its state settings (`ss { backend, encryption }`), or `None` when
/// the directory has no spec. A spec that does not load is an error: its `ss { backend }` says
/// where the state is, and guessing the local file for a spec that names a remote backend
/// would show (or create) the wrong state.
pub fn state_settings(dir: &Path) -> anyhow::Result<Option<Config>> {
    if hcl_files(dir)?.is_empty() {
        return Ok(None);
    }
    match spec::load_dir(dir) {
        Ok(config) => Ok(Some(config)),
        Err(e) => {
            check(&e.diagnostics, &e.sources, false)?;
            bail!("could not load {}", dir.display());
        }
    }
}

/// Prints diagnostics and turns them into a `Reported` error when any is an error.
fn check(diags: &Diagnostics, sources: &Sources, color: bool) -> anyhow::Result<()> {
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

pub fn var_inputs(vars: &VarArgs) -> VarInputs {
    VarInputs {
        cli: vars.vars.clone(),
        files: vars.var_files.clone(),
        env: std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("SS_VAR_").map(|n| (n.to_string(), v)))
            .collect(),
    }
}

/// Loads the spec and resolves variables, reporting every problem together.
fn load(
    dir: &Path,
    vars: &VarArgs,
    color: bool,
) -> anyhow::Result<(Config, BTreeMap<String, Value>)> {
    let config = match spec::load_dir(dir) {
        Ok(c) => c,
        Err(e) => {
            check(&e.diagnostics, &e.sources, color)?;
            bail!("could not load {}", dir.display());
        }
    };
    let mut diags = backends::diagnostics(&config);
    match spec::resolve_variables(&config, &var_inputs(vars)) {
        Ok(v) if !diags.has_errors() => Ok((config, v)),
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

fn state_providers(state: Option<&State>) -> BTreeSet<String> {
    state
        .map(|s| s.resources.iter().map(|r| r.provider.clone()).collect())
        .unwrap_or_default()
}

/// Everything a planning command needs, with the state locked.
struct Session {
    engine: Arc<Engine>,
    backend: Arc<dyn Backend>,
    /// How saved plans are sealed (as the state is).
    codec: Codec,
    state: Option<State>,
    _lock: Box<dyn state::LockGuard>,
}

async fn open_session(
    config: Config,
    vars: BTreeMap<String, Value>,
    operation: &str,
    color: bool,
) -> anyhow::Result<Session> {
    let dir = config.dir.clone();
    let opened = backends::open(Some(&config), &dir, None, workspace_flag()).await?;
    let backend = opened.backend().await?;
    // A workspace is created explicitly (`ss workspace new`), so that a mistyped name never
    // provisions a new tenant.
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
    let lock = backend.lock(LockInfo::new(operation)).await?;
    let loaded = backend.load().await?;
    let mut providers = state_providers(loaded.as_ref().map(|l| &l.state));
    if let Some(l) = &loaded {
        providers.extend(l.pending.iter().map(|i| i.provider.clone()));
    }
    let sources = config.sources.clone();
    let engine = match Engine::new(config, vars, &Registry, &opened.workspace, &providers) {
        Ok(e) => e,
        Err(d) => {
            check(&d, &sources, color)?;
            bail!("could not prepare the providers");
        }
    };
    let mutating = matches!(operation, "apply" | "destroy");
    let state = match loaded {
        None => None,
        // Operations an interrupted apply left open are settled before anything else.
        Some(l) if mutating => {
            let pending = l.pending.len();
            let (state, notes) = planner::recover(&engine, backend.as_ref(), l).await?;
            if pending > 0 {
                errln!("Resolved {pending} operation(s) left open by an interrupted apply:");
                for n in notes {
                    errln!("  {n}");
                }
            }
            Some(state)
        }
        Some(l) => {
            if !l.pending.is_empty() {
                errln!(
                    "Warning: an interrupted apply left {} operation(s) unresolved ({}); `ss apply` resolves them first, so this {operation} may not show everything that exists.",
                    l.pending.len(),
                    l.pending
                        .iter()
                        .map(|i| i.address.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Some(l.state)
        }
    };
    Ok(Session {
        engine: Arc::new(engine),
        backend,
        codec: opened.codec,
        state,
        _lock: lock,
    })
}

async fn make_plan(session: &Session, opts: &PlanOptions, color: bool) -> anyhow::Result<Plan> {
    match planner::plan(&session.engine, session.state.as_ref(), opts).await {
        Ok(p) => {
            check(&p.warnings, &session.engine.config.sources, color)?;
            warn_unmatched(&p, opts);
            Ok(p)
        }
        Err(PlanError::Spec(d)) => {
            check(&d, &session.engine.config.sources, color)?;
            bail!("planning failed");
        }
        Err(e) => Err(e.into()),
    }
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

fn plan_options(mode: PlanMode, refresh: bool, t: &TargetArgs) -> PlanOptions {
    PlanOptions {
        mode,
        refresh,
        targets: t.targets.clone(),
        excludes: t.excludes.clone(),
    }
}

async fn validate(a: ValidateArgs, color: bool) -> anyhow::Result<ExitCode> {
    let (config, vars) = load(&a.dir, &VarArgs::default(), color)?;
    let sources = config.sources.clone();
    let workspace = backends::selected_workspace(&config.dir, workspace_flag())?;
    let engine = match Engine::new(config, vars, &Registry, &workspace, &BTreeSet::new()) {
        Ok(e) => e,
        Err(d) => {
            check(&d, &sources, color)?;
            bail!("invalid spec");
        }
    };
    let opts = PlanOptions {
        refresh: false,
        ..PlanOptions::default()
    };
    match planner::plan(&engine, None, &opts).await {
        Ok(plan) => {
            check(&plan.warnings, &sources, color)?;
            outln!("Success! The configuration is valid.");
            // As in `plan_cmd`: the process ends here, and frees all at once.
            std::mem::forget((plan, engine));
            Ok(ExitCode::SUCCESS)
        }
        Err(PlanError::Spec(d)) => {
            check(&d, &sources, color)?;
            bail!("invalid spec")
        }
        Err(e) => Err(e.into()),
    }
}

pub fn hcl_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    Ok(files)
}

fn fmt(a: FmtArgs) -> anyhow::Result<ExitCode> {
    let mut unformatted = Vec::new();
    let mut failed = false;
    for path in hcl_files(&a.dir)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        match planner::fmt::format_source(&text) {
            Ok(formatted) if formatted != text => {
                outln!("{}", path.display());
                if !a.check {
                    std::fs::write(&path, formatted)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                unformatted.push(path);
            }
            Ok(_) => {}
            Err(e) => {
                errln!(
                    "Error: {}:{}:{}: {}",
                    path.display(),
                    e.line,
                    e.column,
                    e.message
                );
                failed = true;
            }
        }
    }
    if failed || (a.check && !unformatted.is_empty()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Saves a plan (0600; sealed when the state is encrypted, since a plan holds the same
/// secrets).
fn save_plan(path: &Path, plan: &Plan, codec: &Codec) -> anyhow::Result<()> {
    let bytes = codec.seal_blob("plan", serde_json::to_vec(plan)?)?;
    state::write_atomic(path, &bytes)
        .with_context(|| format!("writing plan file {}", path.display()))
}

/// The key to open a sealed plan with: the one the spec in the current directory names, else
/// `SS_STATE_KEY`.
fn plan_codec(path: &Path) -> anyhow::Result<Codec> {
    let here = Path::new(".");
    let config = if hcl_files(here).map(|f| !f.is_empty()).unwrap_or(false) {
        spec::load_dir(here).ok()
    } else {
        None
    };
    let codec = backends::codec_for(config.as_ref())?;
    if !codec.is_encrypted() {
        bail!(
            "the plan file {} is encrypted; set {} to the passphrase it was saved with",
            path.display(),
            backends::KEY_ENV
        );
    }
    Ok(codec)
}

/// Reads a saved plan, opening it with the key from the environment (`SS_STATE_KEY`, or the
/// variable the plan's spec names) when it is sealed.
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading plan file {}", path.display()))?;
    let bytes = if state::crypto::is_sealed(&bytes) {
        plan_codec(path)?.open_blob("plan", &bytes, &path.display().to_string())?
    } else {
        bytes
    };
    let raw: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a saved ss plan", path.display()))?;
    let version = raw
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        bail!(
            "{} has plan format version {:?}; this ss reads version {PLAN_FORMAT_VERSION}: run `ss plan` again",
            path.display(),
            version
        );
    }
    serde_json::from_value(raw)
        .with_context(|| format!("{} is not a valid ss plan", path.display()))
}

async fn plan_cmd(a: PlanArgs, color: bool, color_err: bool) -> anyhow::Result<ExitCode> {
    let (config, vars) = load(&a.dir, &a.vars, color_err)?;
    let session = open_session(config, vars, "plan", color_err).await?;
    let plan = make_plan(
        &session,
        &plan_options(PlanMode::Apply, a.refresh, &a.targets),
        color_err,
    )
    .await?;
    if a.json {
        let mut doc = render::plan_json(&plan);
        doc["warnings"] = report::diagnostics_json(&plan.warnings, &session.engine.config.sources);
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", render::plan_text(&plan, color));
    }
    if let Some(out) = &a.out {
        save_plan(out, &plan, &session.codec)?;
        if !a.json {
            outln!(
                "\nSaved the plan to {}. To apply exactly it: ss apply {}",
                out.display(),
                out.display()
            );
        }
    }
    let code = if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    exit_without_teardown(plan, session);
    Ok(code)
}

/// The process is about to exit: freeing a plan and an engine of many thousands of resources
/// piece by piece would only delay it (by a tenth of the run at 10,000 resources). Their
/// memory goes back to the OS with the process. The lock is released here as usual.
fn exit_without_teardown(plan: Plan, session: Session) {
    let Session {
        engine,
        backend,
        state,
        _lock,
        ..
    } = session;
    drop(_lock);
    drop(backend);
    std::mem::forget((plan, engine, state));
}

/// Asks for confirmation on a terminal; refuses without one.
fn confirm(what: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to {what} without confirmation: no terminal to ask on; pass --auto-approve"
        );
    }
    out!(
        "\nDo you want to {what}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

fn print_report(report: &ApplyReport, mode: PlanMode, json: bool) {
    let count = |f: &dyn Fn(Action) -> bool| report.completed.iter().filter(|(_, a)| f(*a)).count();
    let added = count(&|a| matches!(a, Action::Create | Action::Replace));
    let changed = count(&|a| a == Action::Update);
    let destroyed = count(&|a| matches!(a, Action::Delete | Action::Replace));
    if json {
        let summary = serde_json::json!({
            "type": "summary",
            "added": added, "changed": changed, "destroyed": destroyed,
            "failed": report.failures.iter().map(|f| serde_json::json!({"address": f.address.to_string(), "message": f.message})).collect::<Vec<_>>(),
            "skipped": report.skipped.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "interrupted": report.interrupted,
            "not_started": report.not_started.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        outln!("{summary}");
        return;
    }
    if report.interrupted {
        errln!(
            "\nInterrupted: {added} added, {changed} changed, {destroyed} destroyed; {} operation(s) not started. Run `ss apply` again to finish.",
            report.not_started.len()
        );
        for f in &report.failures {
            errln!("Error: {}: {}", f.address, f.message);
        }
        return;
    }
    if report.succeeded() {
        match mode {
            PlanMode::Destroy => outln!("\nDestroy complete! Resources: {destroyed} destroyed."),
            PlanMode::Apply => outln!(
                "\nApply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed."
            ),
        }
    } else {
        errln!(
            "\nApply failed: {} error(s), {} resource(s) skipped; {added} added, {changed} changed, {destroyed} destroyed.",
            report.failures.len(),
            report.skipped.len()
        );
        for f in &report.failures {
            errln!("Error: {}: {}", f.address, f.message);
        }
        for s in &report.skipped {
            errln!("  skipped: {s}");
        }
    }
}

fn print_outputs(state: &State) {
    if state.outputs.is_empty() {
        return;
    }
    outln!("\nOutputs:\n");
    let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
    for (name, o) in &state.outputs {
        let shown = if o.sensitive {
            "(sensitive value)".to_string()
        } else {
            Value::from_json(&o.value).to_string()
        };
        outln!("{name:<width$} = {shown}");
    }
}

/// Ctrl-C during an apply: the first stops new operations and lets those in flight finish and
/// be recorded; the second exits at once (the journal has recorded every operation started,
/// and the next `ss apply` settles them). One signal stream serves both, so a second Ctrl-C
/// that arrives while the first is being handled is not lost.
async fn watch_interrupts(interrupt: Arc<Interrupt>) {
    let mut ctrl_c = match CtrlC::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch for Ctrl-C");
            return;
        }
    };
    if !ctrl_c.recv().await {
        return;
    }
    interrupt.trigger();
    errln!(
        "\nInterrupt received: starting nothing new, waiting for the operations in flight to finish. Press Ctrl-C again to stop at once."
    );
    if ctrl_c.recv().await {
        errln!(
            "Stopping at once. Every operation started is in the journal: the next `ss apply` settles them."
        );
        std::process::exit(130);
    }
}

/// A stream of Ctrl-C presses that buffers one arriving between two waits.
#[cfg(unix)]
struct CtrlC(tokio::signal::unix::Signal);

#[cfg(unix)]
impl CtrlC {
    fn new() -> std::io::Result<CtrlC> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map(CtrlC)
    }

    async fn recv(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

#[cfg(not(unix))]
struct CtrlC;

#[cfg(not(unix))]
impl CtrlC {
    fn new() -> std::io::Result<CtrlC> {
        Ok(CtrlC)
    }

    async fn recv(&mut self) -> bool {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

async fn run_apply(
    mut session: Session,
    plan: &Plan,
    parallelism: Option<usize>,
    json: bool,
    color: bool,
) -> anyhow::Result<ExitCode> {
    let progress = Progress::new(ProgressMode::detect(json, color));
    let interrupt = Arc::new(Interrupt::default());
    let watcher = tokio::spawn(watch_interrupts(interrupt.clone()));
    let report = apply(
        session.engine.clone(),
        plan,
        session.state.take(),
        session.backend.clone(),
        progress.clone(),
        &ApplyOptions {
            parallelism,
            interrupt: Some(interrupt),
        },
    )
    .await;
    watcher.abort();
    progress.finish();
    let report = report?;
    print_report(&report, plan.mode, json);
    if !json && plan.mode == PlanMode::Apply {
        print_outputs(&report.state);
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn apply_cmd(a: ApplyArgs, color: bool, color_err: bool) -> anyhow::Result<ExitCode> {
    if a.path.is_file() {
        let plan = read_plan(&a.path)?;
        let snap = &plan.snapshot;
        let files = snap
            .files
            .iter()
            .map(|(name, text)| spec::SourceFile {
                name: snap.dir.join(name).display().to_string(),
                text: text.clone(),
            })
            .collect();
        let config = match spec::load_sources(&snap.dir, files) {
            Ok(c) => c,
            Err(e) => {
                check(&e.diagnostics, &e.sources, color_err)?;
                bail!("the saved plan's configuration does not load");
            }
        };
        let session = open_session(config, snap.variables.clone(), "apply", color_err).await?;
        if let Err(e) = planner::apply::check_fresh(&plan, session.state.as_ref()) {
            bail!("the saved plan {} is stale: {e}", a.path.display());
        }
        return run_apply(
            session,
            &plan,
            a.parallelism.map(|n| n.get()),
            a.json,
            color_err,
        )
        .await;
    }
    let (config, vars) = load(&a.path, &a.vars, color_err)?;
    let session = open_session(config, vars, "apply", color_err).await?;
    let converge = Converge {
        mode: PlanMode::Apply,
        targets: &a.targets,
        auto_approve: a.auto_approve,
        json: a.json,
        parallelism: a.parallelism.map(|n| n.get()),
        question: "perform these actions",
    };
    plan_and_apply(session, &converge, color, color_err).await
}

/// How `apply DIR` and `destroy` plan, confirm and apply.
struct Converge<'a> {
    mode: PlanMode,
    targets: &'a TargetArgs,
    auto_approve: bool,
    json: bool,
    parallelism: Option<usize>,
    question: &'static str,
}

async fn plan_and_apply(
    session: Session,
    c: &Converge<'_>,
    color: bool,
    color_err: bool,
) -> anyhow::Result<ExitCode> {
    let plan = make_plan(&session, &plan_options(c.mode, true, c.targets), color_err).await?;
    if !c.json {
        out!("{}", render::plan_text(&plan, color));
    }
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !c.auto_approve && !confirm(c.question)? {
        outln!("Cancelled: nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    run_apply(session, &plan, c.parallelism, c.json, color_err).await
}

async fn destroy_cmd(a: DestroyArgs, color: bool, color_err: bool) -> anyhow::Result<ExitCode> {
    let (config, vars) = load(&a.dir, &a.vars, color_err)?;
    let session = open_session(config, vars, "destroy", color_err).await?;
    let converge = Converge {
        mode: PlanMode::Destroy,
        targets: &a.targets,
        auto_approve: a.auto_approve,
        json: a.json,
        parallelism: a.parallelism.map(|n| n.get()),
        question: "destroy all these resources",
    };
    plan_and_apply(session, &converge, color, color_err).await
}

async fn diff_cmd(a: DiffArgs, color: bool, color_err: bool) -> anyhow::Result<ExitCode> {
    let (config, vars) = load(&a.dir, &a.vars, color_err)?;
    let session = open_session(config, vars, "diff", color_err).await?;
    check(
        &session.engine.graph.errors,
        &session.engine.config.sources,
        color_err,
    )?;
    let drift = match &session.state {
        Some(s) => planner::refresh::refresh(&session.engine, s).await?.drift,
        None => Vec::new(),
    };
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::drift_json(&drift))?
        );
    } else {
        out!("{}", render::drift_text(&drift, color));
    }
    Ok(if a.detailed_exitcode && !drift.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads the state without locking (read-only commands) from the spec's backend.
async fn read_state(
    dir: &Path,
    override_path: Option<&Path>,
) -> anyhow::Result<(Arc<dyn Backend>, Option<State>)> {
    let backend = open_state(dir, override_path).await?.backend().await?;
    let state = backend.read().await?;
    Ok((backend, state))
}

async fn show_cmd(a: ShowArgs, color: bool) -> anyhow::Result<ExitCode> {
    if let Some(path) = &a.planfile {
        let plan = read_plan(path)?;
        if a.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&render::plan_json(&plan))?
            );
        } else {
            out!("{}", render::plan_text(&plan, color));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, state) = read_state(&a.dir, a.state.as_deref()).await?;
    let state = state.unwrap_or_default();
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::state_list_json(&state.resources))?
        );
    } else if state.resources.is_empty() {
        outln!("The state is empty.");
    } else {
        for r in &state.resources {
            outln!("{}", render::state_show_text(r));
        }
        print_outputs(&state);
    }
    Ok(ExitCode::SUCCESS)
}

async fn output_cmd(a: OutputArgs) -> anyhow::Result<ExitCode> {
    let (_, state) = read_state(&a.dir(), a.state.as_deref()).await?;
    let state = state.unwrap_or_default();
    match &a.name {
        Some(name) => {
            let o = state
                .outputs
                .get(name)
                .ok_or_else(|| anyhow!("no output named `{name}` in the state"))?;
            if a.json {
                outln!("{}", o.value);
            } else {
                match &o.value {
                    serde_json::Value::String(s) => outln!("{s}"),
                    other => outln!("{}", Value::from_json(other)),
                }
            }
        }
        None if a.json => {
            let map: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, o)| {
                    let value = if o.sensitive {
                        serde_json::Value::String("(sensitive value)".into())
                    } else {
                        o.value.clone()
                    };
                    (
                        k.clone(),
                        serde_json::json!({"value": value, "sensitive": o.sensitive}),
                    )
                })
                .collect();
            outln!("{}", serde_json::Value::Object(map));
        }
        None => {
            for (k, o) in &state.outputs {
                let shown = if o.sensitive {
                    "(sensitive value)".to_string()
                } else {
                    Value::from_json(&o.value).to_string()
                };
                outln!("{k} = {shown}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn location(dir: &Path, loc: &StateLocation) -> (PathBuf, Option<PathBuf>) {
    (dir.to_path_buf(), loc.state.clone())
}

async fn locked_state(
    dir: &Path,
    loc: &StateLocation,
    op: &str,
) -> anyhow::Result<(Arc<dyn Backend>, Box<dyn state::LockGuard>, State)> {
    let (dir, over) = location(dir, loc);
    let (backend, _) = read_state(&dir, over.as_deref()).await?;
    let guard = backend.lock(LockInfo::new(op)).await?;
    let loaded = backend
        .load()
        .await?
        .ok_or_else(|| anyhow!("there is no state yet ({})", backend.describe()))?;
    if !loaded.pending.is_empty() {
        bail!(
            "an interrupted apply left {} operation(s) unresolved: run `ss apply` first, which settles them",
            loaded.pending.len()
        );
    }
    let state = loaded.state;
    Ok((backend, guard, state))
}

async fn state_cmd(s: StateCommand) -> anyhow::Result<ExitCode> {
    match s {
        StateCommand::List(a) => {
            let (dir, over) = location(&a.dir, &a.location);
            let (_, state) = read_state(&dir, over.as_deref()).await?;
            let records = state.map(|s| s.resources).unwrap_or_default();
            if a.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&render::state_list_json(&records))?
                );
            } else {
                out!("{}", render::state_list_text(&records));
            }
        }
        StateCommand::Show(a) => {
            let (dir, over) = location(&a.dir, &a.location);
            let (_, state) = read_state(&dir, over.as_deref()).await?;
            let state = state.unwrap_or_default();
            let matching: Vec<_> = state
                .resources
                .iter()
                .filter(|r| {
                    r.address
                        .parse::<planner::addr::NativeAddr>()
                        .is_ok_and(|n| n.matches(&a.address))
                })
                .collect();
            if matching.is_empty() {
                bail!("no resource at `{}` in the state", a.address);
            }
            for r in matching {
                outln!("{}", render::state_show_text(r));
            }
        }
        StateCommand::Rm(a) => {
            let (backend, _guard, mut state) =
                locked_state(&a.dir, &a.location, "state rm").await?;
            let mut removed = Vec::new();
            for pattern in &a.addresses {
                let before = state.resources.len();
                state.resources.retain(|r| {
                    let hit = r
                        .address
                        .parse::<planner::addr::NativeAddr>()
                        .is_ok_and(|n| n.matches(pattern));
                    if hit {
                        removed.push(r.address.clone());
                    }
                    !hit
                });
                if state.resources.len() == before {
                    bail!("no resource at `{pattern}` in the state");
                }
            }
            state.prune_components(component_of);
            state.serial += 1;
            backend.write(&state).await?;
            for r in removed {
                outln!("Removed {r}");
            }
        }
        StateCommand::Pull(a) => return crate::team::state_pull(a).await,
        StateCommand::Push(a) => return crate::team::state_push(a).await,
        StateCommand::Migrate(a) => return crate::team::state_migrate(a).await,
        StateCommand::MigrateEncryption(a) => {
            return crate::team::state_migrate_encryption(a).await;
        }
        StateCommand::Mv(a) => {
            let (backend, _guard, mut state) =
                locked_state(&a.dir, &a.location, "state mv").await?;
            let src: planner::addr::ComponentAddr = a
                .source
                .parse()
                .or_else(|_| {
                    a.source
                        .parse::<planner::addr::NativeAddr>()
                        .map(|n| n.component)
                })
                .map_err(|e| anyhow!("{e}"))?;
            let dst_native: planner::addr::NativeAddr =
                a.destination.parse().map_err(|e| anyhow!("{e}"))?;
            let exact_src: Option<planner::addr::NativeAddr> = a
                .source
                .parse()
                .ok()
                .filter(|n: &planner::addr::NativeAddr| n.native.is_some());
            // Like Terraform, a move never changes what a resource is: only where it is.
            let same_kind = match &exact_src {
                Some(exact) => {
                    exact.component.type_name == dst_native.component.type_name
                        && exact.native.as_ref().map(|(t, _)| t)
                            == dst_native.native.as_ref().map(|(t, _)| t)
                }
                None => {
                    src.type_name == dst_native.component.type_name && dst_native.native.is_none()
                }
            };
            if !same_kind {
                bail!(
                    "cannot move `{}` to `{}`: a resource can only move to an address of the same type",
                    a.source,
                    a.destination
                );
            }
            let mut moved = 0;
            let existing: BTreeSet<String> =
                state.resources.iter().map(|r| r.address.clone()).collect();
            for r in &mut state.resources {
                let Ok(addr) = r.address.parse::<planner::addr::NativeAddr>() else {
                    continue;
                };
                let new = match &exact_src {
                    Some(exact) if *exact == addr => dst_native.clone(),
                    Some(_) => continue,
                    None if addr.component == src => planner::addr::NativeAddr {
                        component: dst_native.component.clone(),
                        native: addr.native.clone(),
                    },
                    None => continue,
                };
                if existing.contains(&new.to_string()) {
                    bail!("`{new}` already exists in the state");
                }
                r.address = new.to_string();
                moved += 1;
            }
            if moved == 0 {
                bail!("no resource at `{}` in the state", a.source);
            }
            state.resources.sort_by(|a, b| a.address.cmp(&b.address));
            // A whole component moved: its applied configuration moves with it.
            if exact_src.is_none()
                && let Some(mut record) = state.component(&src.to_string()).cloned()
            {
                record.address = dst_native.component.to_string();
                state.components.retain(|c| c.address != src.to_string());
                state.upsert_component(record);
            }
            state.prune_components(component_of);
            state.serial += 1;
            backend.write(&state).await?;
            outln!(
                "Moved {} resource(s) from {} to {}",
                moved,
                a.source,
                a.destination
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The component instance address of a native address in the state.
fn component_of(address: &str) -> Option<String> {
    address
        .parse::<planner::addr::NativeAddr>()
        .ok()
        .map(|n| n.component.to_string())
}

fn graph_cmd(a: GraphArgs, color: bool) -> anyhow::Result<ExitCode> {
    let config = match spec::load_dir(&a.dir) {
        Ok(c) => c,
        Err(e) => {
            check(&e.diagnostics, &e.sources, color)?;
            bail!("could not load {}", a.dir.display());
        }
    };
    let graph = match planner::graph::build(&config, &planner::ProviderRegistry::names(&Registry)) {
        Ok(g) => {
            check(&g.errors, &config.sources, color)?;
            g
        }
        Err(d) => {
            check(&d, &config.sources, color)?;
            bail!("invalid spec");
        }
    };
    outln!("digraph ss {{");
    outln!("  rankdir = \"RL\";");
    outln!("  node [shape = box];");
    for n in graph.dag.nodes() {
        outln!("  \"{n}\";");
    }
    for n in graph.dag.nodes() {
        for d in graph.dag.dependencies(n) {
            outln!("  \"{n}\" -> \"{d}\";");
        }
    }
    outln!("}}");
    Ok(ExitCode::SUCCESS)
}

fn sandbox_cmd(s: SandboxCommand) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let dir_of = |d: &Option<PathBuf>| match d {
        Some(d) => d.clone(),
        None => sandbox::resolve_dir(None, &cwd),
    };
    match s {
        SandboxCommand::List(a) => {
            let cloud = sandbox::Cloud::open(&dir_of(&a.dir))?;
            let objects = cloud.list()?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&objects)?);
            } else if objects.is_empty() {
                outln!("The sandbox cloud is empty.");
            } else {
                for o in objects {
                    outln!("{:<28} {:<28} {}", o.id, o.type_name, o.name);
                }
            }
        }
        SandboxCommand::Set(a) => {
            let cloud = sandbox::Cloud::open(&dir_of(&a.dir))?;
            for (k, v) in &a.assignments {
                let value = serde_json::from_str(v)
                    .unwrap_or_else(|_| serde_json::Value::String(v.clone()));
                cloud.set(&a.id, k, value)?;
            }
            outln!("Updated {}", a.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
