//! The application layer's components (issue 14): `redis`, a primary with replicas for Celery's
//! broker, and `superset`, Apache Superset deployed into a `kubernetes_cluster` and wired to the
//! stack's database, caches and load balancer.

use std::collections::BTreeMap;

use crate::Diagnostic;
use crate::kit::schema::{n, s};
use crate::schema::{AttrType, AttributeSchema as A, Body};
use crate::value::Value;

use super::range_check;

/// The Superset release deployed when the spec names none: the newest minor of the 5 series
/// on Docker Hub's `apache/superset` (https://hub.docker.com/r/apache/superset/tags).
pub const SUPERSET_VERSION: &str = "5.0.0";

/// KEDA's release manifest, pinned (https://github.com/kedacore/keda/releases; 2.21 runs on
/// Kubernetes 1.32 and later, https://keda.sh/docs/latest/operate/cluster/#kubernetes-compatibility).
pub const KEDA_MANIFEST: &str =
    "https://github.com/kedacore/keda/releases/download/v2.21.0/keda-2.21.0.yaml";

/// metrics-server's release manifest, pinned
/// (https://github.com/kubernetes-sigs/metrics-server/releases).
pub const METRICS_SERVER_MANIFEST: &str =
    "https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.8.1/components.yaml";

pub(super) fn redis() -> Body {
    Body::default()
        .attr("network", A::required(s(), "Id of the network").force_new())
        .attr("version", A::optional(s(), "Redis version").default("7.1"))
        .attr(
            "replicas",
            A::optional(
                n(),
                "Replicas of the primary, 1–5, in other zones; one is promoted when the primary fails",
            )
            .default(1),
        )
        .attr(
            "size",
            A::optional(s(), "Node size class or native node type").default("small"),
        )
        .attr("id", A::computed(s(), "Cloud id of the Redis"))
        .attr(
            "endpoint",
            A::computed(s(), "Primary host name (follows a failover)"),
        )
        .attr(
            "reader_endpoint",
            A::computed(s(), "Host name spreading reads over the replicas"),
        )
        .attr("port", A::computed(n(), "Port"))
        .attr(
            "password",
            A::computed(
                s(),
                "AUTH password the clients send; null when the Redis takes none",
            )
            .sensitive(),
        )
}

/// A reference to another component of the stack, as its whole value (`postgres.metadata`).
fn component_ref(what: &'static str) -> A {
    A::required(AttrType::Any, what)
}

pub(super) fn superset() -> Body {
    Body::default()
        .attr(
            "cluster",
            component_ref("The kubernetes_cluster to run in (`kubernetes_cluster.NAME`)"),
        )
        .attr(
            "database",
            component_ref("The metadata database (`postgres.NAME`); through its pooler when it has one"),
        )
        .attr(
            "cache",
            component_ref("The Redis Cluster of the caches (`redis_cluster.NAME`)"),
        )
        .attr(
            "broker",
            component_ref("The Redis of Celery and async queries (`redis.NAME`); Celery cannot use a Redis Cluster"),
        )
        .attr(
            "load_balancer",
            A::optional(
                AttrType::Any,
                "The load_balancer in front of the web pods (`load_balancer.NAME`)",
            ),
        )
        .attr(
            "image",
            A::optional(s(), "Container image, without its tag").default("apache/superset"),
        )
        .attr(
            "version",
            A::optional(s(), "Superset version: the image tag; a new one re-runs `superset db upgrade`")
                .default(SUPERSET_VERSION),
        )
        .attr(
            "namespace",
            A::optional(s(), "Kubernetes namespace of every object")
                .default("superset")
                .force_new(),
        )
        .attr("web_min", A::optional(n(), "Fewest web pods").default(5))
        .attr("web_max", A::optional(n(), "Most web pods (CPU autoscaling)").default(20))
        .attr("worker_min", A::optional(n(), "Fewest Celery workers").default(10))
        .attr(
            "worker_max",
            A::optional(n(), "Most Celery workers (autoscaled on the queue's backlog)").default(30),
        )
        .attr(
            "web_pool",
            A::optional(s(), "Node pool of the web pods").default("web"),
        )
        .attr(
            "worker_pool",
            A::optional(s(), "Node pool of the Celery workers and beat").default("worker"),
        )
        .attr(
            "cache_ttl",
            A::optional(n(), "Default lifetime of cached charts and dashboards, seconds").default(86400),
        )
        .attr(
            "keda_manifest",
            A::optional(
                s(),
                "KEDA's release manifest, applied when the cluster has no KEDA (a mirror's URL \
                 works; \"\": never install, the cluster must have it)",
            )
            .default(KEDA_MANIFEST),
        )
        .attr(
            "metrics_server_manifest",
            A::optional(
                s(),
                "metrics-server's release manifest, applied on clouds whose clusters lack it \
                 (EKS) when the cluster has none (\"\": never install)",
            )
            .default(METRICS_SERVER_MANIFEST),
        )
        .attr(
            "kubeconfig",
            A::optional(
                s(),
                "A kubeconfig file: deploy into the cluster it names instead of `cluster`'s (kind, minikube, any existing cluster)",
            ),
        )
        .attr(
            "context",
            A::optional(s(), "The kubeconfig context (default: its current context)"),
        )
        .attr("id", A::computed(s(), "The namespace the application runs in"))
        .attr(
            "url",
            A::computed(s(), "Where users reach it: the load balancer's address"),
        )
}

pub(super) fn validate_redis(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    range_check(out, attrs, &["replicas"], 1, 5);
}

pub(super) fn validate_superset(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    range_check(out, attrs, &["web_min"], 1, 1000);
    range_check(out, attrs, &["web_max"], 1, 1000);
    range_check(out, attrs, &["worker_min"], 0, 1000);
    range_check(out, attrs, &["worker_max"], 1, 1000);
    range_check(out, attrs, &["cache_ttl"], 0, 31_536_000);
    for (low, high) in [("web_min", "web_max"), ("worker_min", "worker_max")] {
        if let (Some(min), Some(max)) = (
            attrs.get(low).and_then(Value::as_i64),
            attrs.get(high).and_then(Value::as_i64),
        ) && min > max
        {
            out.push(
                Diagnostic::error(format!("`{low}` ({min}) is greater than `{high}` ({max})"))
                    .at([low]),
            );
        }
    }
}
