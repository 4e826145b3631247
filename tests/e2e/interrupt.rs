//! Ctrl-C during `ss apply`: the first SIGINT stops starting operations, lets those in flight
//! finish and be recorded, saves the state and exits 1 with a summary; a second SIGINT stops at
//! once. Either way the state and the sandbox agree afterwards (once `ss apply` has settled what
//! an abrupt stop left open) and a re-run converges.

use std::time::Duration;

use crate::util::{Project, Run, send_signal};

/// How long the first apply may take to notice a SIGINT and stop: the operations in flight
/// (one create latency) plus saving.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// A chain of five objects, each with a fan of five leaves hanging off it: thirty objects
/// whose critical path is six creates long.
fn chain_and_fan_spec(latency: &str) -> String {
    let mut spec = String::from("provider \"sandbox\" {\n  latency = \"0s\"\n}\n");
    for c in 0..5 {
        let input = if c == 0 {
            "\"root\"".to_string()
        } else {
            format!("sandbox_object.chain_{}.id", c - 1)
        };
        spec.push_str(&format!(
            "\nresource \"sandbox_object\" \"chain_{c}\" {{\n  input          = {input}\n  create_latency = \"{latency}\"\n}}\n"
        ));
        for f in 0..5 {
            spec.push_str(&format!(
                "\nresource \"sandbox_object\" \"fan_{c}_{f}\" {{\n  input          = sandbox_object.chain_{c}.id\n  create_latency = \"{latency}\"\n}}\n"
            ));
        }
    }
    spec
}

const OBJECTS: usize = 30;

/// The addresses that a run's progress lines say were started (`ADDRESS: Creating...`).
fn started(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter_map(|l| l.strip_suffix(": Creating..."))
        .map(str::to_string)
        .collect()
}

/// Runs `ss apply` again and checks that it converges: every object in the state once, the
/// same ids in the sandbox, and nothing left to plan.
#[track_caller]
fn reapply_converges(p: &Project, context: &str) {
    p.ss(&["apply", "--auto-approve"]).success().no_panic();
    let ids = p.assert_state_matches_cloud(&format!("{context}, after the re-run"));
    assert_eq!(
        ids.len(),
        OBJECTS,
        "{context}: every object after the re-run"
    );
    p.ss(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn slow_ctrl_c_finishes_operations_in_flight_then_exits_1_with_a_summary() {
    let p = Project::new(&[("main.hcl", &chain_and_fan_spec("300ms"))]);
    let mut apply = p.spawn_watched(&["apply", "--auto-approve"]);
    let created = apply.wait_for_line(Duration::from_secs(60), |l| {
        l.contains(": Creation complete")
    });
    assert!(
        created,
        "no `Creation complete` line from the apply:\n{}",
        apply.stderr.join("\n")
    );
    send_signal(apply.pid(), "INT");
    let (run, exited) = apply.finish(GRACEFUL_STOP);
    assert!(
        exited,
        "the apply must stop within {GRACEFUL_STOP:?} of a Ctrl-C\n{run}"
    );
    run.code(1).no_panic().contains("Interrupt");
    let text = run.all();
    assert!(
        text.contains("Interrupted:") && text.contains("not started"),
        "the apply must end with a summary of what was done and what was not started\n{run}"
    );

    // Every operation started before the interrupt finished and was recorded; nothing more.
    let ids = p.assert_state_matches_cloud("after Ctrl-C");
    let state = crate::util::addresses(&p.state_list());
    for address in started(&run) {
        assert!(
            state.contains(&address),
            "{address} was being created when Ctrl-C came: it must have finished and be in the state {state:?}\n{run}"
        );
    }
    assert!(
        !ids.is_empty() && ids.len() < OBJECTS,
        "Ctrl-C after the first create must stop the apply part way, the state holds {} of {OBJECTS}\n{run}",
        ids.len()
    );
    // A graceful stop leaves no operation open: a read-only command has nothing to warn about.
    let plan = p.ss(&["plan"]);
    plan.success().no_panic();
    assert!(
        !plan.stderr.contains("interrupted apply"),
        "a graceful stop must leave no operation unresolved\n{plan}"
    );

    reapply_converges(&p, "Ctrl-C once");
}

#[test]
fn slow_second_ctrl_c_stops_at_once_and_a_rerun_converges() {
    // Creates take far longer than the prompt exit this test expects, so a process that waited
    // for its operations in flight would fail it.
    let p = Project::new(&[("main.hcl", &chain_and_fan_spec("3s"))]);
    let mut apply = p.spawn_watched(&["apply", "--auto-approve"]);
    let creating = apply.wait_for_line(Duration::from_secs(60), |l| l.ends_with(": Creating..."));
    assert!(
        creating,
        "no `Creating...` line from the apply:\n{}",
        apply.stderr.join("\n")
    );
    send_signal(apply.pid(), "INT");
    let acknowledged =
        apply.wait_for_line(Duration::from_secs(2), |l| l.contains("Interrupt received"));
    send_signal(apply.pid(), "INT");
    let (run, exited) = apply.finish(Duration::from_millis(1500));
    assert!(
        acknowledged,
        "the first Ctrl-C must be acknowledged (`Interrupt received`)\n{run}"
    );
    assert!(
        exited,
        "a second Ctrl-C must stop the apply at once, not after its 3 s creates\n{run}"
    );
    assert!(
        run.code.is_some_and(|c| c != 0),
        "an apply stopped by a second Ctrl-C must exit non-zero\n{run}"
    );
    run.no_panic();

    // The state parses even though operations were cut short.
    let listed = p.ss(&["state", "list", "--json"]);
    listed.success();
    listed.json();

    reapply_converges(&p, "Ctrl-C twice");
}
