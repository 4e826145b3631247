//! Input variables end to end: `--var-file` (HCL and JSON), `SS_VAR_*`, their precedence,
//! sensitive values kept out of every output, and validation failures.

use crate::util::{Project, Run, location_of};

const SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "x" {
  type    = string
  default = "from-default"
}

resource "sandbox_object" "a" {
  input = var.x
}
"#;

/// Asserts that the plan sets `input` to `expected` and mentions no other candidate value.
#[track_caller]
fn assert_input(run: &Run, expected: &str) {
    run.success().no_panic();
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("+ input") || l.trim_start().starts_with("input"))
        .unwrap_or_else(|| panic!("no `input` line in the plan\n{run}"));
    assert!(
        line.contains(&format!("\"{expected}\"")),
        "input should be {expected:?}, the line is {line:?}\n{run}"
    );
    for other in [
        "from-default",
        "from-env",
        "from-hcl",
        "from-json",
        "from-cli",
    ] {
        if other != expected {
            assert!(
                !run.stdout.contains(other),
                "{other:?} must not reach the plan\n{run}"
            );
        }
    }
}

/// The HCL var file, kept outside the spec directory: every `*.hcl` file inside it is part of
/// the spec.
const HCL_VARS: &str = "../vars.hcl";

fn project() -> Project {
    let p = Project::new(&[
        ("main.hcl", SPEC),
        ("vars.json", "{\"x\": \"from-json\"}\n"),
    ]);
    p.write(HCL_VARS, "x = \"from-hcl\"\n");
    p
}

#[test]
fn var_files_in_hcl_and_json_reach_the_plan() {
    let p = project();
    assert_input(&p.ss(&["plan", "--var-file", HCL_VARS]), "from-hcl");
    assert_input(&p.ss(&["plan", "--var-file", "vars.json"]), "from-json");
    // Later files win.
    assert_input(
        &p.ss(&["plan", "--var-file", HCL_VARS, "--var-file", "vars.json"]),
        "from-json",
    );
    assert_input(
        &p.ss(&["plan", "--var-file", "vars.json", "--var-file", HCL_VARS]),
        "from-hcl",
    );
}

#[test]
fn precedence_cli_then_file_then_env_then_default() {
    let p = project();
    let env = [("SS_VAR_x", "from-env")];
    assert_input(&p.ss(&["plan"]), "from-default");
    assert_input(&p.ss_env(&["plan"], &env), "from-env");
    assert_input(
        &p.ss_env(&["plan", "--var-file", HCL_VARS], &env),
        "from-hcl",
    );
    assert_input(
        &p.ss_env(
            &["plan", "--var", "x=from-cli", "--var-file", HCL_VARS],
            &env,
        ),
        "from-cli",
    );
    // The order on the command line does not matter: --var beats --var-file.
    assert_input(
        &p.ss_env(
            &["plan", "--var-file", "vars.json", "--var", "x=from-cli"],
            &env,
        ),
        "from-cli",
    );
}

#[test]
fn a_var_file_value_is_applied() {
    let p = project();
    p.ss(&["apply", "--auto-approve", "--var-file", "vars.json"])
        .success();
    let cloud = p.sandbox_list();
    assert_eq!(cloud.len(), 1);
    assert_eq!(cloud[0]["attributes"]["input"], "from-json", "{}", cloud[0]);
    p.ss(&["plan", "--detailed-exitcode", "--var-file", "vars.json"])
        .code(0);
}

const SECRET: &str = "hunter2-Zq9xL7";

const SENSITIVE_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "token" {
  type      = string
  sensitive = true
}

resource "sandbox_object" "a" {
  input = var.token
}

resource "sandbox_object" "b" {
  input = "prefix-${var.token}"
}

output "token" {
  value     = var.token
  sensitive = true
}
"#;

#[test]
fn a_sensitive_variable_never_appears_in_output() {
    let p = Project::new(&[("main.hcl", SENSITIVE_SPEC)]);
    let env = [("SS_VAR_token", SECRET)];
    let mut runs = Vec::new();
    for args in [
        vec!["plan"],
        vec!["plan", "--json"],
        vec!["plan", "--out", "p.plan"],
        vec!["show", "p.plan"],
        vec!["show", "p.plan", "--json"],
        vec!["apply", "--auto-approve"],
        vec!["apply", "--auto-approve", "--json"],
        vec!["show"],
        vec!["output"],
        vec!["output", "--json"],
        vec!["state", "show", "sandbox_object.a"],
        vec!["state", "show", "sandbox_object.b"],
        vec!["plan", "--var", "token=other-secret-value"],
        vec!["destroy", "--auto-approve"],
    ] {
        let run = p.ss_env(&args, &env);
        run.success();
        runs.push(run);
    }
    for run in &runs {
        run.no_panic()
            .lacks(SECRET, "the sensitive variable's value");
    }
    assert!(
        runs[0].stdout.contains("(sensitive"),
        "the plan marks the value as sensitive\n{}",
        runs[0]
    );
    let shown = &runs[10];
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("input") && l.contains("(sensitive value)")),
        "state show marks the attribute as sensitive\n{shown}"
    );
    assert!(
        !runs[12].all().contains("other-secret-value"),
        "a sensitive value given with --var is hidden too\n{}",
        runs[12]
    );
}

const VALIDATED_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "replicas" {
  type    = number
  default = 2
  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "replicas must be between 1 and 5"
  }
}

resource "sandbox_object" "a" {
  input = var.replicas
}
"#;

#[test]
fn a_validation_failure_names_the_message_and_location() {
    let p = Project::new(&[("main.hcl", VALIDATED_SPEC)]);
    let location = location_of("main.hcl", VALIDATED_SPEC, "validation {");
    for (args, env) in [
        (vec!["plan", "--var", "replicas=9"], vec![]),
        (
            vec!["apply", "--auto-approve", "--var", "replicas=0"],
            vec![],
        ),
        (vec!["plan"], vec![("SS_VAR_replicas", "7")]),
    ] {
        let run = p.ss_env(&args, &env);
        run.code(1)
            .no_panic()
            .contains("replicas must be between 1 and 5")
            .contains("replicas")
            .contains(&location);
    }
    assert!(
        !p.path("ss.state.json").exists(),
        "a refused run writes no state"
    );
    assert_eq!(p.sandbox_list().len(), 0, "a refused run creates nothing");
    p.ss(&["plan", "--var", "replicas=5"]).success();
}

#[test]
fn bad_var_files_are_reported_with_their_location() {
    let p = project();
    p.write("../undeclared.json", "{\"zz\": 1}\n");
    p.write("../broken.hcl", "x = \"ok\"\nzz = \n");
    let cases = [
        ("missing.json", "missing.json"),
        ("../undeclared.json", "undeclared variable \"zz\""),
        ("../broken.hcl", "../broken.hcl:2:6"),
    ];
    for (file, expected) in cases {
        p.ss(&["plan", "--var-file", file])
            .code(1)
            .no_panic()
            .contains(expected);
    }
    assert!(!p.path("ss.state.json").exists(), "nothing is written");
}
