//! Live apply progress: a multi-line spinner display on a terminal, Terraform-like lines
//! otherwise, or JSON lines for machines.
//!
//! Only addresses, actions, cloud ids, durations and error messages are shown; events carry no
//! attribute values, so nothing here can reveal a sensitive value.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use planner::addr::NativeAddr;
use planner::events::{ApplyEvent, EventSink};
use planner::plan::Action;
use serde_json::json;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// One spinner per in-flight resource and a line per finished one (stderr is a terminal).
    Live { color: bool },
    /// Plain lines on stderr, one per event.
    Lines,
    /// One JSON object per line on stdout.
    Json,
}

impl ProgressMode {
    /// `Json` when asked for, `Live` when stderr is a terminal, `Lines` otherwise.
    pub fn detect(json: bool, color: bool) -> ProgressMode {
        if json {
            ProgressMode::Json
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Live { color }
        } else {
            ProgressMode::Lines
        }
    }
}

/// The apply progress display. Create it with [`Progress::new`], hand it to the scheduler as an
/// [`EventSink`], and call [`Progress::finish`] when apply returns.
pub struct Progress {
    output: Output,
}

enum Output {
    Live {
        multi: MultiProgress,
        bars: Mutex<HashMap<NativeAddr, ProgressBar>>,
        color: bool,
    },
    Lines(Mutex<Box<dyn Write + Send>>),
    Json(Mutex<Box<dyn Write + Send>>),
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Arc<Progress> {
        let output = match mode {
            ProgressMode::Live { color } => Output::Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
                color,
            },
            ProgressMode::Lines => Output::Lines(Mutex::new(Box::new(std::io::stderr()))),
            ProgressMode::Json => Output::Json(Mutex::new(Box::new(std::io::stdout()))),
        };
        Arc::new(Progress { output })
    }

    /// Removes any spinner still on screen and flushes the output.
    pub fn finish(&self) {
        match &self.output {
            Output::Live { multi, bars, .. } => {
                for (_, bar) in lock(bars).drain() {
                    bar.finish_and_clear();
                }
                let _ = multi.clear();
            }
            Output::Lines(w) | Output::Json(w) => {
                let _ = lock(w).flush();
            }
        }
    }

    fn live_event(
        multi: &MultiProgress,
        bars: &Mutex<HashMap<NativeAddr, ProgressBar>>,
        color: bool,
        event: ApplyEvent,
    ) {
        match event {
            ApplyEvent::Started { address, action } => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner_style());
                bar.set_message(format!("{}: {}", address, verbs(action).doing));
                bar.enable_steady_tick(Duration::from_millis(120));
                lock(bars).insert(address, bar);
            }
            // The spinner already shows the elapsed time.
            ApplyEvent::Waiting { .. } => {}
            ApplyEvent::Finished { ref address, .. }
            | ApplyEvent::Failed { ref address, .. }
            | ApplyEvent::Skipped { ref address, .. } => {
                if let Some(bar) = lock(bars).remove(address) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let mark = match event {
                    ApplyEvent::Finished { .. } => mark("✓", Mark::Ok, color),
                    ApplyEvent::Failed { .. } => mark("✗", Mark::Failed, color),
                    _ => mark("-", Mark::Skipped, color),
                };
                if let Some(line) = line_for(&event) {
                    let _ = multi.println(format!("{mark} {line}"));
                }
            }
        }
    }
}

impl EventSink for Progress {
    fn event(&self, event: ApplyEvent) {
        match &self.output {
            Output::Live { multi, bars, color } => Progress::live_event(multi, bars, *color, event),
            Output::Lines(w) => {
                if let Some(line) = line_for(&event) {
                    let _ = writeln!(lock(w), "{line}");
                }
            }
            Output::Json(w) => {
                let _ = writeln!(lock(w), "{}", json_for(&event));
            }
        }
    }
}

/// A poisoned lock only means another event panicked mid-write; the display is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[derive(Clone, Copy)]
enum Mark {
    Ok,
    Failed,
    Skipped,
}

fn mark(text: &str, kind: Mark, color: bool) -> String {
    use owo_colors::OwoColorize;
    if !color {
        return text.to_string();
    }
    match kind {
        Mark::Ok => text.green().to_string(),
        Mark::Failed => text.red().to_string(),
        Mark::Skipped => text.yellow().to_string(),
    }
}

/// The words Terraform users expect for each action.
struct Verbs {
    doing: &'static str,
    still: &'static str,
    done: &'static str,
    noun: &'static str,
}

fn verbs(action: Action) -> Verbs {
    let (doing, still, done, noun) = match action {
        Action::Create => (
            "Creating...",
            "Still creating...",
            "Creation complete",
            "creation",
        ),
        Action::Update => (
            "Modifying...",
            "Still modifying...",
            "Modifications complete",
            "modification",
        ),
        Action::Replace => (
            "Replacing...",
            "Still replacing...",
            "Replacement complete",
            "replacement",
        ),
        Action::Delete => (
            "Destroying...",
            "Still destroying...",
            "Destruction complete",
            "destruction",
        ),
        Action::NoOp => ("Reading...", "Still reading...", "Read complete", "read"),
    };
    Verbs {
        doing,
        still,
        done,
        noun,
    }
}

/// `8s`, `1m2s`: whole seconds, as Terraform shows them.
fn elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

/// The plain-text line for an event.
fn line_for(event: &ApplyEvent) -> Option<String> {
    Some(match event {
        ApplyEvent::Started { address, action } => format!("{address}: {}", verbs(*action).doing),
        ApplyEvent::Waiting {
            address,
            action,
            elapsed: e,
        } => format!(
            "{address}: {} [{} elapsed]",
            verbs(*action).still,
            elapsed(*e)
        ),
        ApplyEvent::Finished {
            address,
            action,
            id,
            elapsed: e,
        } => {
            let mut line = format!("{address}: {} after {}", verbs(*action).done, elapsed(*e));
            if let (Some(id), false) = (id, *action == Action::Delete) {
                line.push_str(&format!(" [id={id}]"));
            }
            line
        }
        ApplyEvent::Failed {
            address,
            action,
            message,
            elapsed: e,
        } => format!(
            "Error: {address}: {} failed after {}: {message}",
            capitalise(verbs(*action).noun),
            elapsed(*e)
        ),
        ApplyEvent::Skipped {
            address, because, ..
        } => format!("{address}: Skipped because {because} failed"),
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The JSON-lines object for an event.
fn json_for(event: &ApplyEvent) -> serde_json::Value {
    let name = |a: &Action| crate::render::action_name(*a);
    match event {
        ApplyEvent::Started { address, action } => json!({
            "type": "apply_start",
            "address": address.to_string(),
            "action": name(action),
        }),
        ApplyEvent::Waiting {
            address,
            action,
            elapsed,
        } => json!({
            "type": "apply_progress",
            "address": address.to_string(),
            "action": name(action),
            "elapsed_ms": elapsed.as_millis() as u64,
        }),
        ApplyEvent::Finished {
            address,
            action,
            id,
            elapsed,
        } => json!({
            "type": "apply_complete",
            "address": address.to_string(),
            "action": name(action),
            "elapsed_ms": elapsed.as_millis() as u64,
            "id": id,
        }),
        ApplyEvent::Failed {
            address,
            action,
            message,
            elapsed,
        } => json!({
            "type": "apply_errored",
            "address": address.to_string(),
            "action": name(action),
            "elapsed_ms": elapsed.as_millis() as u64,
            "message": message,
        }),
        ApplyEvent::Skipped {
            address,
            action,
            because,
        } => json!({
            "type": "skipped",
            "address": address.to_string(),
            "action": name(action),
            "because": because.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).expect("utf-8")
        }
    }

    fn addr(s: &str) -> NativeAddr {
        s.parse().expect("address")
    }

    fn events() -> Vec<ApplyEvent> {
        let vpc = addr("network.main.sandbox_vpc.vpc");
        let pg = addr("postgres.meta.sandbox_pg_instance.primary");
        vec![
            ApplyEvent::Started {
                address: vpc.clone(),
                action: Action::Create,
            },
            ApplyEvent::Waiting {
                address: vpc.clone(),
                action: Action::Create,
                elapsed: Duration::from_secs(10),
            },
            ApplyEvent::Finished {
                address: vpc.clone(),
                action: Action::Create,
                id: Some("vpc-1a2b".into()),
                elapsed: Duration::from_millis(10_400),
            },
            ApplyEvent::Finished {
                address: addr("sandbox_object.old"),
                action: Action::Delete,
                id: Some("obj-9".into()),
                elapsed: Duration::from_millis(80),
            },
            ApplyEvent::Failed {
                address: pg.clone(),
                action: Action::Update,
                message: "quota exceeded".into(),
                elapsed: Duration::from_secs(62),
            },
            ApplyEvent::Skipped {
                address: addr("load_balancer.web"),
                action: Action::Create,
                because: pg,
            },
        ]
    }

    fn run(output: Output) -> Progress {
        let progress = Progress { output };
        for e in events() {
            progress.event(e);
        }
        progress.finish();
        progress
    }

    #[test]
    fn plain_lines() {
        let captured = Captured::default();
        run(Output::Lines(Mutex::new(Box::new(captured.clone()))));
        assert_eq!(
            captured.text(),
            "network.main.sandbox_vpc.vpc: Creating...\n\
             network.main.sandbox_vpc.vpc: Still creating... [10s elapsed]\n\
             network.main.sandbox_vpc.vpc: Creation complete after 10s [id=vpc-1a2b]\n\
             sandbox_object.old: Destruction complete after 0s\n\
             Error: postgres.meta.sandbox_pg_instance.primary: Modification failed after 1m2s: quota exceeded\n\
             load_balancer.web: Skipped because postgres.meta.sandbox_pg_instance.primary failed\n"
        );
    }

    #[test]
    fn json_lines() {
        let captured = Captured::default();
        run(Output::Json(Mutex::new(Box::new(captured.clone()))));
        let lines: Vec<serde_json::Value> = captured
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[0],
            json!({"type": "apply_start", "address": "network.main.sandbox_vpc.vpc", "action": "create"})
        );
        assert_eq!(lines[2]["type"], json!("apply_complete"));
        assert_eq!(lines[2]["elapsed_ms"], json!(10_400));
        assert_eq!(lines[2]["id"], json!("vpc-1a2b"));
        assert_eq!(lines[4]["type"], json!("apply_errored"));
        assert_eq!(lines[4]["action"], json!("update"));
        assert_eq!(lines[5]["type"], json!("skipped"));
    }

    #[test]
    fn live_display_tracks_in_flight_resources() {
        let progress = Progress {
            output: Output::Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
                bars: Mutex::new(HashMap::new()),
                color: false,
            },
        };
        let in_flight = |p: &Progress| match &p.output {
            Output::Live { bars, .. } => lock(bars).len(),
            _ => usize::MAX,
        };
        let mut events = events().into_iter();
        progress.event(events.next().expect("start"));
        assert_eq!(in_flight(&progress), 1);
        for e in events {
            progress.event(e);
        }
        assert_eq!(in_flight(&progress), 0);
        progress.finish();
    }

    #[test]
    fn elapsed_format() {
        assert_eq!(elapsed(Duration::from_millis(999)), "0s");
        assert_eq!(elapsed(Duration::from_secs(59)), "59s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m5s");
    }
}
