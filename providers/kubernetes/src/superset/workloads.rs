//! The Namespace, the Secret, the init Job and the web, worker and beat Deployments.
//!
//! Commands, probes and the config mount follow Superset's Helm chart
//! (apache/superset `helm/superset/values.yaml`: `/usr/bin/run-server.sh` for the web pods,
//! `celery --app=superset.tasks.celery_app:app worker|beat`, the `/health` probes on port
//! `http`, the `celery inspect ping` liveness of the workers, the config mounted at
//! `/app/pythonpath`); the gunicorn variables are the ones `docker/run-server.sh` reads
//! (`SERVER_WORKER_AMOUNT`, `SERVER_THREADS_AMOUNT`, `GUNICORN_TIMEOUT`).

use provider_api::Value;

use super::config::{ENV_BROKER_PASSWORD, ENV_CACHE_PASSWORD, ENV_DB_PASSWORD, ENV_SECRET_KEY};
use super::values::{base64, concat, labels, list, map, n, s, short_hash, string_of};
use super::{HEALTH_PATH, Pool, Resources, Superset, WEB, WEB_PORT};

/// The Secret holding the config file and the secrets.
pub const SECRET: &str = "superset-config";
const CONFIG_DIR: &str = "/app/pythonpath";
const CONFIG_FILE: &str = "superset_config.py";
const CELERY_APP: &str = "superset.tasks.celery_app:app";

/// The labels every object carries and the pods are selected by (`component` = web, worker,
/// beat, init).
pub fn selector(component: &str) -> Value {
    labels(&[
        ("app.kubernetes.io/name", "superset"),
        ("app.kubernetes.io/component", component),
    ])
}

fn object_labels(component: &str) -> Value {
    labels(&[
        ("app.kubernetes.io/name", "superset"),
        ("app.kubernetes.io/component", component),
        ("app.kubernetes.io/managed-by", "ss"),
    ])
}

/// `metadata` of a namespaced object.
pub fn metadata(sup: &Superset, name: Value, component: &str) -> Value {
    map([
        ("name", name),
        ("namespace", sup.namespace.clone()),
        ("labels", object_labels(component)),
    ])
}

/// An object of `kind`: its `apiVersion`, `kind`, `metadata` and the other top-level fields.
pub fn manifest(
    api_version: &str,
    kind: &str,
    metadata: Value,
    fields: Vec<(&str, Value)>,
) -> Value {
    let mut all = vec![
        ("apiVersion", s(api_version)),
        ("kind", s(kind)),
        ("metadata", metadata),
    ];
    all.extend(fields);
    map(all)
}

pub fn namespace(sup: &Superset) -> Value {
    let metadata = map([
        ("name", sup.namespace.clone()),
        ("labels", object_labels("namespace")),
    ]);
    manifest("v1", "Namespace", metadata, vec![])
}

/// The Secret: the config file, `SECRET_KEY` and the passwords (`data`, base64: a `stringData`
/// would not read back, so every apply would look like drift). Only the secrets are sensitive.
pub fn secret(sup: &Superset, config: &Value) -> Value {
    let mut data = vec![
        (CONFIG_FILE, base64(config)),
        ("SECRET_KEY", base64(&sup.secret_key).sensitive()),
        (
            "DATABASE_PASSWORD",
            base64(&sup.database.password).sensitive(),
        ),
    ];
    if let Some(password) = &sup.broker.password {
        data.push(("BROKER_REDIS_PASSWORD", base64(password).sensitive()));
    }
    if let Some(password) = &sup.cache.password {
        data.push(("CACHE_REDIS_PASSWORD", base64(password).sensitive()));
    }
    manifest(
        "v1",
        "Secret",
        metadata(sup, s(SECRET), "config"),
        vec![("type", s("Opaque")), ("data", map(data))],
    )
}

fn secret_ref(env: &str, key: &str) -> Value {
    map([
        ("name", s(env)),
        (
            "valueFrom",
            map([("secretKeyRef", map([("name", s(SECRET)), ("key", s(key))]))]),
        ),
    ])
}

fn env(name: &str, value: Value) -> Value {
    map([("name", s(name)), ("value", value)])
}

/// The environment every Superset container has: where the config is and the secrets it reads.
fn common_env(sup: &Superset) -> Vec<Value> {
    let mut out = vec![
        env(
            "SUPERSET_CONFIG_PATH",
            s(&format!("{CONFIG_DIR}/{CONFIG_FILE}")),
        ),
        secret_ref(ENV_SECRET_KEY, "SECRET_KEY"),
        secret_ref(ENV_DB_PASSWORD, "DATABASE_PASSWORD"),
    ];
    if sup.broker.password.is_some() {
        out.push(secret_ref(ENV_BROKER_PASSWORD, "BROKER_REDIS_PASSWORD"));
    }
    if sup.cache.password.is_some() {
        out.push(secret_ref(ENV_CACHE_PASSWORD, "CACHE_REDIS_PASSWORD"));
    }
    out
}

fn resources(r: &Resources) -> Value {
    map([
        (
            "requests",
            map([
                ("cpu", r.cpu_request.clone()),
                ("memory", r.memory_request.clone()),
            ]),
        ),
        (
            "limits",
            map([
                ("cpu", r.cpu_limit.clone()),
                ("memory", r.memory_limit.clone()),
            ]),
        ),
    ])
}

/// The image reference `repository:tag`.
pub fn image(sup: &Superset) -> Value {
    concat(&[&sup.image, &s(":"), &sup.version])
}

/// One Superset container; `extra` adds fields (ports, probes) to it.
fn container(
    sup: &Superset,
    name: &str,
    command: Vec<Value>,
    env: Vec<Value>,
    pool: &Pool,
    extra: Vec<(&str, Value)>,
) -> Value {
    let mut fields = vec![
        ("name", s(name)),
        ("image", image(sup)),
        ("command", list(command)),
        ("env", list(env)),
        ("resources", resources(&pool.resources)),
        (
            "volumeMounts",
            list([map([
                ("name", s("config")),
                ("mountPath", s(CONFIG_DIR)),
                ("readOnly", Value::Bool(true)),
            ])]),
        ),
    ];
    fields.extend(extra);
    map(fields)
}

/// A pod spec on a pool, with the config file mounted (only that key of the Secret: the
/// passwords stay out of the file system) and spread over zones and nodes.
fn pod_spec(container: Value, pool: &Pool, component: &str, extra: Vec<(&str, Value)>) -> Value {
    let spread = |key: &str| {
        map([
            ("maxSkew", n(1)),
            ("topologyKey", s(key)),
            // ScheduleAnyway: a zone short of nodes slows the spread down instead of leaving
            // pods pending (the cluster autoscaler adds nodes where they are wanted).
            ("whenUnsatisfiable", s("ScheduleAnyway")),
            ("labelSelector", map([("matchLabels", selector(component))])),
        ])
    };
    let mut fields = vec![
        // Superset never calls the Kubernetes API: no token in its pods.
        ("automountServiceAccountToken", Value::Bool(false)),
        ("containers", list([container])),
        ("nodeSelector", Value::Map(pool.node_selector.clone())),
        (
            "topologySpreadConstraints",
            list([
                spread("topology.kubernetes.io/zone"),
                spread("kubernetes.io/hostname"),
            ]),
        ),
        (
            "volumes",
            list([map([
                ("name", s("config")),
                (
                    "secret",
                    map([
                        ("secretName", s(SECRET)),
                        (
                            "items",
                            list([map([("key", s(CONFIG_FILE)), ("path", s(CONFIG_FILE))])]),
                        ),
                    ]),
                ),
            ])]),
        ),
    ];
    fields.extend(extra);
    map(fields)
}

/// A Deployment of `component` whose pods restart when the config text changes (the
/// checksum annotation). `replicas` is set only where no autoscaler owns it.
fn deployment(
    sup: &Superset,
    name: &str,
    component: &str,
    config: &Value,
    pod: Value,
    extra_spec: Vec<(&str, Value)>,
) -> Value {
    let template = map([
        (
            "metadata",
            map([
                ("labels", selector(component)),
                (
                    "annotations",
                    map([("checksum/config", short_hash(config, 16))]),
                ),
            ]),
        ),
        ("spec", pod),
    ]);
    let mut spec = vec![
        ("selector", map([("matchLabels", selector(component))])),
        ("template", template),
    ];
    spec.extend(extra_spec);
    manifest(
        "apps/v1",
        "Deployment",
        metadata(sup, s(name), component),
        vec![("spec", map(spec))],
    )
}

fn http_probe(period: i64, failures: i64) -> Value {
    map([
        (
            "httpGet",
            map([("path", s(HEALTH_PATH)), ("port", s("http"))]),
        ),
        ("periodSeconds", n(period)),
        ("timeoutSeconds", n(3)),
        ("failureThreshold", n(failures)),
    ])
}

/// The gunicorn web pods. No `replicas`: the HPA owns it (a replica count in the manifest would
/// undo every scaling decision at each apply).
pub fn web(sup: &Superset, config: &Value) -> Value {
    let mut env = common_env(sup);
    env.extend([
        env_of("SUPERSET_PORT", &n(WEB_PORT)),
        env_of("SERVER_WORKER_AMOUNT", &sup.gunicorn_workers),
        env_of("SERVER_THREADS_AMOUNT", &sup.gunicorn_threads),
        env_of("GUNICORN_TIMEOUT", &sup.gunicorn_timeout),
    ]);
    let container = container(
        sup,
        "web",
        vec![s("/usr/bin/run-server.sh")],
        env,
        &sup.web,
        vec![
            (
                "ports",
                list([map([
                    ("name", s("http")),
                    ("containerPort", n(WEB_PORT)),
                    ("protocol", s("TCP")),
                ])]),
            ),
            // The first start runs no migration (the init Job did) but loads a lot: a startup
            // probe gives it five minutes before liveness counts.
            ("startupProbe", http_probe(5, 60)),
            ("readinessProbe", http_probe(10, 3)),
            ("livenessProbe", http_probe(15, 3)),
        ],
    );
    let pod = pod_spec(
        container,
        &sup.web,
        "web",
        vec![("terminationGracePeriodSeconds", n(60))],
    );
    deployment(sup, WEB, "web", config, pod, vec![])
}

fn env_of(name: &str, value: &Value) -> Value {
    env(name, string_of(value))
}

/// `celery --app=<Superset's Celery app> <args>`.
fn celery(args: &[&str]) -> Vec<Value> {
    let mut command = vec![s("celery"), s(&format!("--app={CELERY_APP}"))];
    command.extend(args.iter().map(|a| s(a)));
    command
}

/// The Celery workers. No `replicas`: KEDA owns it.
pub fn worker(sup: &Superset, config: &Value) -> Value {
    let mut command = celery(&["worker", "--pool=prefork", "-O", "fair", "-c"]);
    command.push(string_of(&sup.worker_concurrency));
    let liveness = map([
        (
            "exec",
            map([(
                "command",
                list([
                    s("sh"),
                    s("-c"),
                    s(&format!(
                        "celery -A {CELERY_APP} inspect ping -d celery@$HOSTNAME"
                    )),
                ]),
            )]),
        ),
        ("initialDelaySeconds", n(120)),
        ("periodSeconds", n(60)),
        ("timeoutSeconds", n(60)),
        ("failureThreshold", n(3)),
    ]);
    let container = container(
        sup,
        "worker",
        command,
        common_env(sup),
        &sup.worker,
        vec![("livenessProbe", liveness)],
    );
    // A scaled-in worker finishes its running tasks first (Celery's warm shutdown on SIGTERM).
    let pod = pod_spec(
        container,
        &sup.worker,
        "worker",
        vec![("terminationGracePeriodSeconds", n(300))],
    );
    deployment(sup, "superset-worker", "worker", config, pod, vec![])
}

/// The single Celery beat: one replica owned by ss, replaced (not rolled) so that two beats
/// never schedule the same task twice.
pub fn beat(sup: &Superset, config: &Value) -> Value {
    let command = celery(&[
        "beat",
        "--pidfile",
        "/tmp/celerybeat.pid",
        "--schedule",
        "/tmp/celerybeat-schedule",
    ]);
    let container = container(sup, "beat", command, common_env(sup), &sup.worker, vec![]);
    let pod = pod_spec(container, &sup.worker, "beat", vec![]);
    deployment(
        sup,
        "superset-beat",
        "beat",
        config,
        pod,
        vec![
            ("replicas", n(1)),
            ("strategy", map([("type", s("Recreate"))])),
        ],
    )
}

/// The init Job: `superset db upgrade` then `superset init`. A Job's pod template cannot change,
/// so its name carries a hash of its whole spec, the image reference included: a new version
/// (or any change of the template) makes a new Job, which runs the migrations again.
pub fn init_job(sup: &Superset) -> Value {
    let container = container(
        sup,
        "init",
        vec![
            s("/bin/sh"),
            s("-c"),
            s("superset db upgrade && superset init"),
        ],
        common_env(sup),
        &sup.web,
        vec![],
    );
    let pod = pod_spec(
        container,
        &sup.web,
        "init",
        vec![("restartPolicy", s("Never"))],
    );
    let spec = map([
        ("backoffLimit", n(3)),
        (
            "template",
            map([
                ("metadata", map([("labels", selector("init"))])),
                ("spec", pod),
            ]),
        ),
    ]);
    let name = concat(&[&s("superset-init-"), &short_hash(&spec, 10)]);
    manifest(
        "batch/v1",
        "Job",
        metadata(sup, name, "init"),
        vec![("spec", spec)],
    )
}
