//! Two `ss apply` on one state started at the same moment: the state lock lets exactly one
//! proceed; the other fails within a second or so, exits 1 and names the holder; the state the
//! winner leaves is intact and agrees with the sandbox.

use std::time::{Duration, Instant};

use crate::util::{Project, Run};

/// Three objects whose create latency comes from a variable, so that one apply can be slow and
/// the other fast on the same spec and state.
const SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "latency" {
  type    = string
  default = "0s"
}

variable "generation" {
  type    = string
  default = "1"
}

resource "sandbox_object" "a" {
  input          = "a"
  replace_on     = var.generation
  create_latency = var.latency
}

resource "sandbox_object" "b" {
  input          = sandbox_object.a.id
  replace_on     = var.generation
  create_latency = var.latency
}

resource "sandbox_object" "c" {
  input          = sandbox_object.a.id
  replace_on     = var.generation
  create_latency = var.latency
}
"#;

const OBJECTS: usize = 3;

/// One of the two racing applies.
struct Contender {
    label: &'static str,
    vars: Vec<String>,
    child: std::process::Child,
    started: Instant,
    ended: Option<(std::process::ExitStatus, Duration)>,
}

/// `ss apply --auto-approve` with `--var` for each of `vars`.
fn apply_args(vars: &[String]) -> Vec<&str> {
    let mut args = vec!["apply", "--auto-approve"];
    for v in vars {
        args.push("--var");
        args.push(v);
    }
    args
}

/// Starts a slow and a fast apply at the same moment, waits for both, and checks that exactly
/// one succeeded and the other failed fast naming it. Returns the variables of the winner.
fn race(p: &Project, generation: &str) -> Vec<String> {
    let latencies = [("slow", "latency=1500ms"), ("fast", "latency=50ms")];
    let mut contenders: Vec<Contender> = latencies
        .into_iter()
        .map(|(label, latency)| {
            let vars = vec![latency.to_string(), format!("generation={generation}")];
            let args = apply_args(&vars);
            let child = p.spawn_logged(&args, &format!("{label}-{generation}"));
            Contender {
                label,
                vars,
                child,
                started: Instant::now(),
                ended: None,
            }
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while contenders.iter().any(|c| c.ended.is_none()) && Instant::now() < deadline {
        for c in contenders.iter_mut().filter(|c| c.ended.is_none()) {
            if let Some(status) = c.child.try_wait().expect("poll an apply") {
                c.ended = Some((status, c.started.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let logs = |c: &Contender| {
        format!(
            "$ ss {} (pid {}) ended {:?}\n{}",
            apply_args(&c.vars).join(" "),
            c.child.id(),
            c.ended,
            p.logged(&format!("{}-{generation}", c.label))
        )
    };
    let all_logs: String = contenders.iter().map(logs).collect::<Vec<_>>().join("\n");
    for c in &mut contenders {
        if c.ended.is_none() {
            c.child.kill().expect("kill an apply that overran");
            c.child.wait().expect("reap it");
        }
    }
    assert!(
        contenders.iter().all(|c| c.ended.is_some()),
        "both applies must end within 60 s\n{all_logs}"
    );
    let ok = |c: &&Contender| c.ended.is_some_and(|(s, _)| s.success());
    let winners: Vec<&Contender> = contenders.iter().filter(ok).collect();
    let losers: Vec<&Contender> = contenders.iter().filter(|c| !ok(c)).collect();
    assert!(
        winners.len() == 1 && losers.len() == 1,
        "exactly one apply must proceed and succeed, the other fail\n{all_logs}"
    );
    let (winner, loser) = (winners[0], losers[0]);
    let (status, elapsed) = loser.ended.expect("ended");
    assert_eq!(
        status.code(),
        Some(1),
        "the apply that found the state locked must exit 1\n{all_logs}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "the apply that found the state locked must fail within a second or so, took {elapsed:?}\n{all_logs}"
    );
    let said = p
        .logged(&format!("{}-{generation}", loser.label))
        .to_lowercase();
    let holder = winner.child.id().to_string();
    assert!(
        said.contains("locked") && said.contains("pid") && said.contains(&holder),
        "the loser must say the state is locked and name the holder (pid {holder})\n{all_logs}"
    );
    winner.vars.clone()
}

/// The state parses, holds every object once, agrees with the sandbox, and has nothing left to
/// do for the winner's variables.
#[track_caller]
fn state_is_intact(p: &Project, winner_vars: &[String], context: &str) -> Vec<String> {
    let ids = p.assert_state_matches_cloud(context);
    assert_eq!(ids.len(), OBJECTS, "{context}: objects in the state");
    let mut args = vec!["plan", "--detailed-exitcode"];
    for v in winner_vars {
        args.push("--var");
        args.push(v);
    }
    let plan = Run::of(&mut p.cmd(&args), format!("ss {}", args.join(" ")));
    plan.code(0);
    ids
}

#[test]
fn slow_two_applies_at_once_one_proceeds_the_other_fails_fast_naming_it() {
    let p = Project::new(&[("main.hcl", SPEC)]);

    // On an empty directory: both race to create the state and its lock.
    let winner = race(&p, "1");
    let first_ids = state_is_intact(&p, &winner, "after the first race");

    // On an existing state: both want to replace every object.
    let winner = race(&p, "2");
    let second_ids = state_is_intact(&p, &winner, "after the second race");
    assert!(
        first_ids.iter().all(|id| !second_ids.contains(id)),
        "the second race's winner must have replaced every object: {first_ids:?} then {second_ids:?}"
    );
}
