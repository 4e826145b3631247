//! The objects of the portable `superset` component and its generated `superset_config.py`.
//!
//! Pure functions: the lead fills a [`Superset`] from the component's configuration and the
//! stack's endpoints, and [`objects`] answers the manifests to apply (each a local name and a
//! `Value` map for the `kubernetes_object` native type). Every input that may be unknown at plan
//! time is a `Value`; an unknown input makes only the values built from it unknown, and a
//! sensitive input (the database password, `SECRET_KEY`, the Redis passwords) reaches only the
//! Secret, still marked sensitive. The pods read the secrets from the Secret through
//! environment variables, so the generated `superset_config.py` holds no secret at all.
//!
//! Ordering: the web, worker and beat Deployments must be applied after the init Job has
//! completed (the `kubernetes_object` `wait = "ready"` of the Job), so that `superset db upgrade`
//! has run before any pod of a new version serves. Nothing in the pods waits: the order is the
//! graph's, given by [`after`].

mod config;
mod network;
mod scaling;
#[cfg(test)]
mod tests;
mod values;
mod workloads;

use std::collections::BTreeMap;

use provider_api::Value;

pub use config::config_py;

/// The Service's port and the gunicorn port (`SUPERSET_PORT`'s default in the image's
/// `docker/run-server.sh`): the load balancer's health check uses it with [`HEALTH_PATH`].
pub const WEB_PORT: i64 = 8088;
/// The path of the web pods' readiness probe, which the load balancers' health checks mirror.
pub const HEALTH_PATH: &str = "/health";
/// The Celery queue Superset's tasks go to (Celery's default queue, a Redis list of that name
/// in database 0 of the broker): the worker autoscaling watches its length.
pub const CELERY_QUEUE: &str = "celery";
/// The name of the web Service (and of the web Deployment, HPA and PDB).
pub const WEB: &str = "superset-web";

/// Everything the Superset objects are made from.
#[derive(Clone, Debug)]
pub struct Superset {
    /// The namespace (string) everything lives in.
    pub namespace: Value,
    /// The image repository, e.g. `apache/superset` (string).
    pub image: Value,
    /// The image tag, e.g. `4.1.2` (string): a change re-runs the init Job.
    pub version: Value,
    /// The gunicorn web pods.
    pub web: Pool,
    /// The Celery worker pods (beat runs on the same pool).
    pub worker: Pool,
    /// `SERVER_WORKER_AMOUNT` (gunicorn worker processes per web pod).
    pub gunicorn_workers: Value,
    /// `SERVER_THREADS_AMOUNT` (threads per gunicorn worker).
    pub gunicorn_threads: Value,
    /// `GUNICORN_TIMEOUT` in seconds; `SUPERSET_WEBSERVER_TIMEOUT` is set to the same value.
    pub gunicorn_timeout: Value,
    /// Celery worker processes per worker pod (`celery worker -c`); it is also the queue length
    /// per pod the worker autoscaling aims at.
    pub worker_concurrency: Value,
    /// The metadata database.
    pub database: Database,
    /// The Redis Cluster of the caches (Flask-Caching's `RedisClusterCache`).
    pub cache: Redis,
    /// The separate, non-cluster Redis of Celery and of the async-query channel.
    pub broker: Redis,
    /// Flask's `SECRET_KEY` (sensitive), the same for every pod.
    pub secret_key: Value,
    /// How the cloud's load balancer reaches the web pods.
    pub load_balancer: LoadBalancer,
    /// Default time to live of the chart-data and metadata caches, in seconds.
    pub cache_ttl: Value,
}

/// A set of pods on one node pool.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Minimum replicas (number).
    pub min: Value,
    /// Maximum replicas (number).
    pub max: Value,
    /// Requests and limits of the main container.
    pub resources: Resources,
    /// The node labels that select the pool's nodes (`nodeSelector`).
    pub node_selector: BTreeMap<String, Value>,
}

/// A container's resource requests and limits, as Kubernetes quantities (strings such as
/// `"500m"`, `"2Gi"`).
#[derive(Clone, Debug)]
pub struct Resources {
    pub cpu_request: Value,
    pub memory_request: Value,
    pub cpu_limit: Value,
    pub memory_limit: Value,
}

/// A host and port.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name or address (string).
    pub host: Value,
    /// Port (number).
    pub port: Value,
}

/// The metadata database (PostgreSQL).
#[derive(Clone, Debug)]
pub struct Database {
    /// The database's own endpoint.
    pub endpoint: Endpoint,
    /// The pooler (PgBouncer) in front of it, when the `postgres` has one: Superset then
    /// connects through it and keeps no pool of its own.
    pub pooler: Option<Endpoint>,
    pub user: Value,
    /// Sensitive.
    pub password: Value,
    pub name: Value,
}

/// A Redis (cluster or not).
#[derive(Clone, Debug)]
pub struct Redis {
    pub endpoint: Endpoint,
    /// The AUTH password, when the Redis has one (sensitive).
    pub password: Option<Value>,
    /// Whether the Redis is reached over TLS (`rediss://`).
    pub tls: bool,
}

/// How the cloud's load balancer reaches the web pods.
#[derive(Clone, Debug)]
pub enum LoadBalancer {
    /// Nothing: a ClusterIP Service (kind, minikube, the simulator).
    None,
    /// AWS: an `ip` target group that the AWS Load Balancer Controller fills with the pod
    /// addresses through a `TargetGroupBinding` (elbv2.k8s.aws/v1beta1).
    AwsTargetGroup { arn: Value },
    /// GCP: a standalone NEG named `name`, made by the GKE NEG controller from the Service's
    /// `cloud.google.com/neg` annotation, that the backend service uses as its backend.
    GcpNeg { name: Value },
    /// OVH: a NodePort Service on a fixed port, the Octavia pool's members being the nodes.
    OvhNodePort { node_port: Value },
}

/// The manifests to apply, in an order that respects [`after`]: `(local name, manifest)`.
pub fn objects(s: &Superset) -> Vec<(String, Value)> {
    let config = config_py(s);
    let mut out = vec![
        ("namespace".to_string(), workloads::namespace(s)),
        ("secret".to_string(), workloads::secret(s, &config)),
        ("init_job".to_string(), workloads::init_job(s)),
        ("web_deployment".to_string(), workloads::web(s, &config)),
        (
            "worker_deployment".to_string(),
            workloads::worker(s, &config),
        ),
        ("beat_deployment".to_string(), workloads::beat(s, &config)),
        ("web_hpa".to_string(), scaling::web_hpa(s)),
    ];
    if s.broker.password.is_some() {
        out.push(("broker_trigger_auth".into(), scaling::trigger_auth(s)));
    }
    out.push(("worker_scaled_object".into(), scaling::scaled_object(s)));
    out.push(("web_pdb".into(), scaling::pdb(s, "web")));
    out.push(("worker_pdb".into(), scaling::pdb(s, "worker")));
    out.push(("web_service".into(), network::service(s)));
    if let LoadBalancer::AwsTargetGroup { arn } = &s.load_balancer {
        out.push((
            "web_target_group_binding".into(),
            network::target_group_binding(s, arn),
        ));
    }
    out
}

/// The local names an object must be applied after (and, for the init Job, after it completed):
/// the lead turns these into dependencies of the graph. A name that is not among the
/// [`objects`] (the TriggerAuthentication when the broker has no password) is to be ignored.
pub fn after(local: &str) -> &'static [&'static str] {
    match local {
        "namespace" => &[],
        "init_job" => &["namespace", "secret"],
        "web_deployment" | "worker_deployment" | "beat_deployment" => {
            &["namespace", "secret", "init_job"]
        }
        "web_hpa" => &["namespace", "web_deployment"],
        "worker_scaled_object" => &["namespace", "worker_deployment", "broker_trigger_auth"],
        "broker_trigger_auth" => &["namespace", "secret"],
        "web_target_group_binding" => &["namespace", "web_service"],
        _ => &["namespace"],
    }
}
