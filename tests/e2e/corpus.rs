//! The bad-input corpus: every directory under `tests/bad/` is a spec that `ss validate` and
//! `ss plan` must reject with exit code 1, naming the exact `file:line:col` and the problem,
//! without panicking and without writing state or creating cloud objects.
//!
//! Each case directory holds one or more `*.hcl` files and an `expect` file:
//! - line 1: the expected location, `FILE:LINE:COL`, FILE relative to the case directory;
//! - further lines: substrings the error output must contain (compared case-insensitively and
//!   ignoring whitespace and box-drawing characters, so that a wrapped message still matches);
//!   lines starting with `#` are comments.

use std::path::{Path, PathBuf};

use crate::util::{Project, Run, copy_files, files_under, ss_command};

/// The smallest corpus the issue accepts.
const MIN_CASES: usize = 30;

struct Expect {
    location: String,
    substrings: Vec<String>,
}

fn parse_expect(text: &str) -> Result<Expect, String> {
    let mut lines = text.lines();
    let location = lines
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or("the first line must be the expected FILE:LINE:COL")?;
    let parts: Vec<&str> = location.rsplitn(3, ':').collect();
    let well_formed = parts.len() == 3
        && parts[0].parse::<u32>().is_ok()
        && parts[1].parse::<u32>().is_ok()
        && !parts[2].is_empty();
    if !well_formed {
        return Err(format!(
            "bad location line {location:?}: expected FILE:LINE:COL"
        ));
    }
    let substrings = lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    Ok(Expect {
        location: location.to_string(),
        substrings,
    })
}

/// Lower-cases and drops whitespace and box-drawing characters (miette's frame), so that a
/// message wrapped over several lines still matches.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !('\u{2500}'..='\u{257f}').contains(c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn case_dirs() -> Vec<PathBuf> {
    let root = crate::util::repo_root().join("tests").join("bad");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The problems found with one run of one case; empty when it behaved.
fn check_run(run: &Run, expect: &Expect) -> Vec<String> {
    let mut problems = Vec::new();
    if run.code != Some(1) {
        problems.push(format!("exit code {:?}, expected 1", run.code));
    }
    if run.all().contains("panicked") {
        problems.push("panicked".to_string());
    }
    if !run.stderr.contains(&expect.location) {
        problems.push(format!(
            "stderr does not name the location {}",
            expect.location
        ));
    }
    let haystack = squash(&run.stderr);
    for s in &expect.substrings {
        if !haystack.contains(&squash(s)) {
            problems.push(format!("stderr does not contain {s:?}"));
        }
    }
    problems
}

/// State files other than the lock (which a plan may create before failing) in `dir`.
fn state_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("ss.state") && !n.ends_with(".lock"))
        .collect()
}

/// Runs one case; returns a report of its problems, or `None` when it passed.
fn run_case(case: &Path) -> Option<String> {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expect = match std::fs::read_to_string(case.join("expect"))
        .map_err(|e| format!("cannot read expect: {e}"))
        .and_then(|t| parse_expect(&t))
    {
        Ok(e) => e,
        Err(e) => return Some(format!("{name}: {e}")),
    };

    // The case is copied so that nothing the run writes can touch the repository; `ss` runs
    // from the parent directory so that file names are shown as `case/main.hcl`, which still
    // contains the expected `main.hcl:LINE:COL`.
    let project = Project::new(&[]);
    let spec = project.dir.join(&name);
    copy_files(case, &spec);
    std::fs::remove_file(spec.join("expect")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let before: Vec<PathBuf> = files_under(&spec);

    let mut problems = Vec::new();
    let mut details = Vec::new();
    for command in ["validate", "plan"] {
        let mut cmd = ss_command(&project.dir, &project.cloud);
        cmd.args([command, name.as_str()]);
        let run = Run::of(&mut cmd, format!("ss {command} {name}"));
        let found = check_run(&run, &expect);
        if !found.is_empty() {
            problems.extend(found.into_iter().map(|p| format!("ss {command}: {p}")));
            details.push(run.to_string());
        }
    }

    let written = state_files(&spec);
    if !written.is_empty() {
        problems.push(format!("state written: {written:?}"));
    }
    let after = files_under(&spec);
    let created: Vec<&PathBuf> = after
        .iter()
        .filter(|p| !before.contains(p) && !p.to_string_lossy().ends_with(".lock"))
        .collect();
    if !created.is_empty() {
        problems.push(format!("files created in the spec directory: {created:?}"));
    }
    // The cloud directory may hold bookkeeping files; the sandbox itself says whether it holds
    // objects.
    if !files_under(&project.cloud).is_empty() {
        let listed = project.ss(&["sandbox", "list", "--json"]);
        let empty = listed.code == Some(0)
            && serde_json::from_str::<serde_json::Value>(&listed.stdout)
                .is_ok_and(|j| j.as_array().is_some_and(Vec::is_empty));
        if !empty {
            problems.push(format!("the sandbox cloud is not empty:\n{listed}"));
        }
    }

    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "{name} (expected {}):\n  - {}\n{}",
            expect.location,
            problems.join("\n  - "),
            details.join("\n")
        ))
    }
}

#[test]
fn every_bad_spec_is_rejected_with_its_location() {
    let cases = case_dirs();
    assert!(
        cases.len() >= MIN_CASES,
        "the corpus has {} cases, at least {MIN_CASES} are required",
        cases.len()
    );
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c)).collect();
    let names: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.split_whitespace().next())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed: {}\n\n{}",
        failures.len(),
        cases.len(),
        names.join(", "),
        failures.join("\n\n")
    );
}

#[test]
fn every_case_has_a_well_formed_expect_file() {
    for case in case_dirs() {
        let text = std::fs::read_to_string(case.join("expect"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let expect = parse_expect(&text).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let file = expect
            .location
            .rsplitn(3, ':')
            .nth(2)
            .unwrap_or_default()
            .to_string();
        assert!(
            case.join(&file).is_file(),
            "{}: the expected location names {file}, which is not in the case",
            case.display()
        );
    }
}

#[test]
fn squash_ignores_wrapping_and_case() {
    assert!(
        squash("  × The number of users\n  │ must be Positive.")
            .contains(&squash("the number of users must be positive."))
    );
}
