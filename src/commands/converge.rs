//! Applying a plan, shared by `ss apply` and `ss destroy`: the confirmation, the scheduler run
//! with live progress and Ctrl-C handling, and the closing report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use planner::apply::{ApplyOptions, ApplyReport, Interrupt, apply};
use planner::plan::{Action, Plan, PlanMode};

use super::output::print_outputs;
use crate::cli::{TargetArgs, VarArgs};
use crate::progress::{Progress, ProgressMode};
use crate::render;
use crate::session::{Ctx, Session, Spec, plan_options};

/// How `apply DIR` and `destroy` plan, confirm and apply.
pub struct Converge<'a> {
    pub mode: PlanMode,
    pub targets: &'a TargetArgs,
    pub auto_approve: bool,
    pub json: bool,
    pub parallelism: Option<usize>,
    pub question: &'static str,
}

/// Loads the spec in `dir`, opens its state for the plan's mode, then plans, shows the plan,
/// asks for confirmation (unless `auto_approve`) and applies.
pub async fn converge(
    ctx: &Ctx,
    dir: &Path,
    vars: &VarArgs,
    c: &Converge<'_>,
) -> anyhow::Result<ExitCode> {
    let spec = Spec::load(dir, vars, ctx.color_err)?;
    let operation = match c.mode {
        PlanMode::Apply => "apply",
        PlanMode::Destroy => "destroy",
    };
    let session = Session::open(ctx, spec, operation).await?;
    let opts = plan_options(c.mode, true, c.targets);
    let plan = session.plan(&opts, ctx.color_err).await?;
    if !c.json {
        out!("{}", render::plan_text(&plan, ctx.color));
    }
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !c.auto_approve && !confirm(c.question)? {
        outln!("Cancelled: nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    run_apply(session, &plan, c.parallelism, c.json, ctx.color_err).await
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

/// Applies `plan` with live progress on stderr, then reports; exit 1 when anything failed.
pub async fn run_apply(
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

/// How many resources an apply added, changed and destroyed.
struct Counts {
    added: usize,
    changed: usize,
    destroyed: usize,
}

impl Counts {
    fn of(report: &ApplyReport) -> Counts {
        let count =
            |f: &dyn Fn(Action) -> bool| report.completed.iter().filter(|(_, a)| f(*a)).count();
        Counts {
            added: count(&|a| matches!(a, Action::Create | Action::Replace)),
            changed: count(&|a| a == Action::Update),
            destroyed: count(&|a| matches!(a, Action::Delete | Action::Replace)),
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Counts {
            added,
            changed,
            destroyed,
        } = self;
        write!(f, "{added} added, {changed} changed, {destroyed} destroyed")
    }
}

fn print_report(report: &ApplyReport, mode: PlanMode, json: bool) {
    let counts = Counts::of(report);
    if json {
        outln!("{}", summary_json(report, &counts));
    } else if report.interrupted {
        errln!(
            "\nInterrupted: {counts}; {} operation(s) not started. Run `ss apply` again to finish.",
            report.not_started.len()
        );
        print_failures(report);
    } else if report.succeeded() {
        match mode {
            PlanMode::Destroy => outln!(
                "\nDestroy complete! Resources: {} destroyed.",
                counts.destroyed
            ),
            PlanMode::Apply => outln!("\nApply complete! Resources: {counts}."),
        }
    } else {
        errln!(
            "\nApply failed: {} error(s), {} resource(s) skipped; {counts}.",
            report.failures.len(),
            report.skipped.len()
        );
        print_failures(report);
        for s in &report.skipped {
            errln!("  skipped: {s}");
        }
    }
}

/// The one JSON line closing `--json` progress.
fn summary_json(report: &ApplyReport, counts: &Counts) -> serde_json::Value {
    serde_json::json!({
        "type": "summary",
        "added": counts.added, "changed": counts.changed, "destroyed": counts.destroyed,
        "failed": report.failures.iter().map(|f| serde_json::json!({"address": f.address.to_string(), "message": f.message})).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "interrupted": report.interrupted,
        "not_started": report.not_started.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn print_failures(report: &ApplyReport) {
    for f in &report.failures {
        errln!("Error: {}: {}", f.address, f.message);
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
