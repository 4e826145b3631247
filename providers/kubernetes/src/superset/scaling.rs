//! Autoscaling and disruption budgets: the web HPA on CPU, the workers' KEDA ScaledObject on the
//! Celery queue, and a PodDisruptionBudget for each.
//!
//! KEDA's Redis Lists scaler (keda.sh docs, "Redis Lists", keda.sh/v1alpha1): `type: redis`,
//! metadata `address` (`host:port`), `listName`, `listLength` (the target length per replica,
//! a string), `databaseIndex`, `enableTLS`; the password comes from a TriggerAuthentication whose
//! `secretTargetRef` maps the trigger parameter `password` to a key of a Secret.

use provider_api::Value;

use super::config::ENV_BROKER_PASSWORD;
use super::values::{concat, list, map, n, s, string_of};
use super::workloads::{SECRET, manifest, metadata, selector};
use super::{CELERY_QUEUE, Superset, WEB};

const WORKER: &str = "superset-worker";
const BROKER_AUTH: &str = "superset-broker";
/// The web pods' CPU utilisation the HPA aims at: headroom for a burst while new pods start.
const WEB_CPU_TARGET: i64 = 70;

/// The `scaleTargetRef` of an autoscaler: a Deployment of this namespace.
fn deployment_ref(name: &str) -> Value {
    map([
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        ("name", s(name)),
    ])
}

/// The web HPA (autoscaling/v2) on CPU utilisation only: memory-based scaling blocks scale-down
/// on gunicorn, whose workers keep the memory they once used.
pub fn web_hpa(sup: &Superset) -> Value {
    let cpu = map([
        ("name", s("cpu")),
        (
            "target",
            map([
                ("type", s("Utilization")),
                ("averageUtilization", n(WEB_CPU_TARGET)),
            ]),
        ),
    ]);
    let spec = map([
        ("scaleTargetRef", deployment_ref(WEB)),
        ("minReplicas", sup.web.min.clone()),
        ("maxReplicas", sup.web.max.clone()),
        (
            "metrics",
            list([map([("type", s("Resource")), ("resource", cpu)])]),
        ),
    ]);
    manifest(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        metadata(sup, s(WEB), "web"),
        vec![("spec", spec)],
    )
}

/// The TriggerAuthentication that gives KEDA the broker's password from the Secret (made only
/// when the broker has a password).
pub fn trigger_auth(sup: &Superset) -> Value {
    let password = map([
        ("parameter", s("password")),
        ("name", s(SECRET)),
        ("key", s(ENV_BROKER_PASSWORD)),
    ]);
    manifest(
        "keda.sh/v1alpha1",
        "TriggerAuthentication",
        metadata(sup, s(BROKER_AUTH), "worker"),
        vec![("spec", map([("secretTargetRef", list([password]))]))],
    )
}

/// The workers' ScaledObject: the Celery queue's backlog (the `celery` list in database 0 of
/// the broker) drives the worker count, aiming at one waiting task per worker process; CPU says
/// nothing about a queue of waiting reports.
pub fn scaled_object(sup: &Superset) -> Value {
    let broker = &sup.broker.endpoint;
    let mut trigger = vec![
        ("type", s("redis")),
        (
            "metadata",
            map([
                ("address", concat(&[&broker.host, &s(":"), &broker.port])),
                ("listName", s(CELERY_QUEUE)),
                ("listLength", string_of(&sup.worker_concurrency)),
                ("databaseIndex", s("0")),
                (
                    "enableTLS",
                    s(if sup.broker.tls { "true" } else { "false" }),
                ),
            ]),
        ),
    ];
    if sup.broker.password.is_some() {
        trigger.push(("authenticationRef", map([("name", s(BROKER_AUTH))])));
    }
    let spec = map([
        ("scaleTargetRef", deployment_ref(WORKER)),
        ("minReplicaCount", sup.worker.min.clone()),
        ("maxReplicaCount", sup.worker.max.clone()),
        ("pollingInterval", n(15)),
        // Five minutes without backlog before scaling in: reports come in bursts.
        ("cooldownPeriod", n(300)),
        ("triggers", list([map(trigger)])),
    ]);
    manifest(
        "keda.sh/v1alpha1",
        "ScaledObject",
        metadata(sup, s(WORKER), "worker"),
        vec![("spec", spec)],
    )
}

/// A PodDisruptionBudget (policy/v1) letting a drain take one pod of `component` at a time:
/// `maxUnavailable` rather than `minAvailable`, which would block drains at the minimum size.
pub fn pdb(sup: &Superset, component: &str) -> Value {
    let name = if component == "web" { WEB } else { WORKER };
    let spec = map([
        ("maxUnavailable", n(1)),
        ("selector", map([("matchLabels", selector(component))])),
    ]);
    manifest(
        "policy/v1",
        "PodDisruptionBudget",
        metadata(sup, s(name), component),
        vec![("spec", spec)],
    )
}
