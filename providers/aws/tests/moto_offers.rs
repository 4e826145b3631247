//! The plan-time offer checks against moto, through the real planner: the spec is planned in
//! eu-west-3 (Paris), whose offers `scripts/moto-server.py` answers as AWS lists them (no
//! `cache.r7g`, no `db.r7g`; EKS versions as of 2026-12-07: 1.35 in standard support,
//! 1.32–1.34 in extended support, 1.31 no longer offered). moto 5.2 itself answers none of
//! the three calls for these engines, so without the wrapper the checks find nothing to say
//! and these tests fail.

#![allow(clippy::panic)]

mod common;

use common::{Calls, Moto, Workdir, unique_stack};
use planner::PlanOptions;
use planner::plan::Plan;
use planner::spec::{Diagnostics, SpecDiagnostic};
use provider_api::Severity;

const PARIS: &str = "eu-west-3";

fn spec(moto: &Moto, resources: &str) -> String {
    format!(
        r#"{provider}
resource "network" "main" {{
  cidr = "10.70.0.0/16"
}}
{resources}"#,
        provider = moto.provider_block(PARIS)
    )
}

/// Plans the spec (reading the cloud, so the checks run).
async fn plan(work: &Workdir) -> Result<Plan, Diagnostics> {
    let engine = work.engine(None);
    match planner::plan(&engine, None, &PlanOptions::default()).await {
        Ok(plan) => Ok(plan),
        Err(planner::PlanError::Spec(d)) => Err(d),
        Err(e) => panic!("plan: {e}"),
    }
}

/// The spec text a diagnostic points at.
fn located<'a>(text: &'a str, d: &SpecDiagnostic) -> &'a str {
    let span = d.span.expect("located");
    &text[span.start..span.end]
}

fn errors(d: &Diagnostics) -> Vec<&SpecDiagnostic> {
    d.0.iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_pass_and_each_question_is_asked_once() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let calls = Calls::default();
    let text = spec(
        &moto,
        r#"
resource "kubernetes_cluster" "k8s" {
  network = network.main.id
  node_pool "web" {
    min = 1
    max = 3
  }
}

resource "postgres" "db" {
  network = network.main.id
}

resource "redis_cluster" "cache" {
  network = network.main.id
}

resource "redis_cluster" "sessions" {
  network = network.main.id
}
"#,
    );
    let work = Workdir::new(&unique_stack("awsoffers"), &moto, &calls, &text);
    calls.take();
    let plan = match plan(&work).await {
        Ok(p) => p,
        Err(d) => panic!("the defaults are refused: {d}"),
    };
    assert!(
        plan.warnings.0.is_empty(),
        "the defaults warn: {}",
        plan.warnings
    );
    let seen = calls.take();
    // One question per distinct choice: the two caches share one node type.
    assert_eq!(seen.get("DescribeClusterVersions"), Some(&1), "{seen:?}");
    assert_eq!(
        seen.get("DescribeOrderableDBInstanceOptions"),
        Some(&1),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("DescribeReservedCacheNodesOfferings"),
        Some(&1),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_r7g_in_paris_is_refused_naming_the_node_types_offered() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let calls = Calls::default();
    let text = spec(
        &moto,
        r#"
resource "redis_cluster" "cache" {
  network = network.main.id
  size    = "cache.r7g.large"
}
"#,
    );
    let work = Workdir::new(&unique_stack("awsoffers"), &moto, &calls, &text);
    let diags = plan(&work).await.expect_err("r7g is not sold in Paris");
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{diags}");
    let e = errs[0];
    assert!(
        e.summary.contains("redis_cluster.cache")
            && e.summary.contains("cache.r7g.large")
            && e.summary.contains(PARIS)
            && e.summary.contains("cache.r6g.{large,xlarge,2xlarge")
            && !e.summary.contains("cache.r7g.{"),
        "{}",
        e.summary
    );
    assert!(
        located(&text, e).contains("cache.r7g.large"),
        "{:?}",
        located(&text, e)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eks_version_no_longer_offered_is_refused_naming_those_offered() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let calls = Calls::default();
    let text = spec(
        &moto,
        r#"
resource "kubernetes_cluster" "k8s" {
  network = network.main.id
  version = "1.31"
  node_pool "web" {
    min = 1
    max = 3
  }
}
"#,
    );
    let work = Workdir::new(&unique_stack("awsoffers"), &moto, &calls, &text);
    let diags = plan(&work).await.expect_err("1.31 left extended support");
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{diags}");
    let e = errs[0];
    for part in [
        "EKS does not offer Kubernetes 1.31",
        "its extended support ended on 2026-11-26",
        "1.35 (standard support until 2027-03-27)",
        "1.34 (extended support until 2027-12-02, $0.60 per cluster-hour)",
        "1.32 (extended support until 2027-03-23",
    ] {
        assert!(e.summary.contains(part), "{part}: {}", e.summary);
    }
    assert_eq!(located(&text, e), "\"1.31\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extended_support_version_warns_with_the_price() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let calls = Calls::default();
    let text = spec(
        &moto,
        r#"
resource "kubernetes_cluster" "k8s" {
  network = network.main.id
  version = "1.33"
  node_pool "web" {
    min = 1
    max = 3
  }
}
"#,
    );
    let work = Workdir::new(&unique_stack("awsoffers"), &moto, &calls, &text);
    let plan = match plan(&work).await {
        Ok(p) => p,
        Err(d) => panic!("an extended-support version can be created: {d}"),
    };
    let warnings = &plan.warnings.0;
    assert_eq!(warnings.len(), 1, "{}", plan.warnings);
    let w = &warnings[0];
    for part in [
        "Kubernetes 1.33 is in EKS extended support",
        "2026-07-29",
        "$0.60 per cluster-hour instead of $0.10",
        "in standard support: 1.35",
    ] {
        assert!(w.summary.contains(part), "{part}: {}", w.summary);
    }
    assert_eq!(located(&text, w), "\"1.33\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_class_and_version_not_offered_are_refused() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let calls = Calls::default();
    let text = spec(
        &moto,
        r#"
resource "postgres" "graviton3" {
  network = network.main.id
  size    = "db.r7g.large"
}

resource "postgres" "old" {
  network = network.main.id
  version = "12"
}
"#,
    );
    let work = Workdir::new(&unique_stack("awsoffers"), &moto, &calls, &text);
    let diags = plan(&work).await.expect_err("neither is offered in Paris");
    let errs = errors(&diags);
    assert_eq!(errs.len(), 2, "{diags}");
    let class = errs
        .iter()
        .find(|e| e.summary.contains("postgres.graviton3"))
        .expect("the class error");
    assert!(
        class.summary.contains("db.r7g.large")
            && class.summary.contains("PostgreSQL 16")
            && class.summary.contains("db.r6g.{large,xlarge,2xlarge"),
        "{}",
        class.summary
    );
    assert_eq!(located(&text, class), "\"db.r7g.large\"");
    let version = errs
        .iter()
        .find(|e| e.summary.contains("postgres.old"))
        .expect("the version error");
    assert!(
        version
            .summary
            .contains("does not offer PostgreSQL 12 on db.r6g.large")
            && version.summary.contains("17, 16, 15, 14"),
        "{}",
        version.summary
    );
    assert_eq!(located(&text, version), "\"12\"");
}
