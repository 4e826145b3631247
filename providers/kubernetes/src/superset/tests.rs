//! Tests of the Superset objects: their shapes, the unknown and sensitive marks, and the
//! independent checks (`kubernetes-validate --strict` on every built-in object, the KEDA
//! models' schemas on the custom resources, Python loading the generated config).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use provider_api::Value;

use super::*;

fn pool(min: i64, max: i64, pool_label: &str) -> Pool {
    Pool {
        min: Value::from(min),
        max: Value::from(max),
        resources: Resources {
            cpu_request: "1".into(),
            memory_request: "2Gi".into(),
            cpu_limit: "2".into(),
            memory_limit: "4Gi".into(),
        },
        node_selector: BTreeMap::from([("ss/pool".to_string(), Value::from(pool_label))]),
    }
}

const DB_PASSWORD: &str = "p@ss:w/rd#1";
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef-secret-key";
const BROKER_PASSWORD: &str = "broker-auth-token";

fn sample(load_balancer: LoadBalancer) -> Superset {
    Superset {
        namespace: "superset".into(),
        image: "apache/superset".into(),
        version: "4.1.2".into(),
        web: pool(5, 20, "web"),
        worker: pool(10, 30, "worker"),
        gunicorn_workers: Value::from(4),
        gunicorn_threads: Value::from(20),
        gunicorn_timeout: Value::from(120),
        worker_concurrency: Value::from(8),
        database: Database {
            endpoint: Endpoint {
                host: "db.internal".into(),
                port: Value::from(5432),
            },
            pooler: Some(Endpoint {
                host: "pgbouncer.internal".into(),
                port: Value::from(6432),
            }),
            user: "superset".into(),
            password: Value::from(DB_PASSWORD).sensitive(),
            name: "superset".into(),
        },
        cache: Redis {
            endpoint: Endpoint {
                host: "cache.cluster.internal".into(),
                port: Value::from(6379),
            },
            password: None,
            tls: true,
        },
        broker: Redis {
            endpoint: Endpoint {
                host: "broker.internal".into(),
                port: Value::from(6380),
            },
            password: Some(Value::from(BROKER_PASSWORD).sensitive()),
            tls: false,
        },
        secret_key: Value::from(SECRET_KEY).sensitive(),
        load_balancer,
        cache_ttl: Value::from(86400),
    }
}

fn every_lb() -> Vec<LoadBalancer> {
    vec![
        LoadBalancer::None,
        LoadBalancer::AwsTargetGroup {
            arn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ss/abc".into(),
        },
        LoadBalancer::GcpNeg {
            name: "ss-superset-web".into(),
        },
        LoadBalancer::OvhNodePort {
            node_port: Value::from(30088),
        },
    ]
}

fn find<'a>(objects: &'a [(String, Value)], local: &str) -> &'a Value {
    objects
        .iter()
        .find(|(name, _)| name == local)
        .map(|(_, v)| v)
        .expect(local)
}

/// Follows a dotted path of map keys and list indexes; a key may itself hold dots
/// (`metadata.annotations.cloud.google.com/neg`): the longest key that fits is taken.
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    if path.is_empty() {
        return value;
    }
    if let Some(items) = value.as_list() {
        let (index, rest) = path.split_once('.').unwrap_or((path, ""));
        let i: usize = index.parse().expect(index);
        return at(&items[i], rest);
    }
    let map = value.as_map().expect(path);
    let key = map
        .keys()
        .filter(|k| path == k.as_str() || path.starts_with(&format!("{k}.")))
        .max_by_key(|k| k.len())
        .expect(path);
    at(&map[key], path[key.len()..].trim_start_matches('.'))
}

fn env_names(container: &Value) -> Vec<String> {
    at(container, "env")
        .as_list()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a Value {
    at(container, "env")
        .as_list()
        .unwrap_or_default()
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|e| e.get("value"))
        .expect(name)
}

#[test]
fn the_objects_of_each_cloud() {
    let names = |lb| -> Vec<String> { objects(&sample(lb)).into_iter().map(|(n, _)| n).collect() };
    let base = [
        "namespace",
        "secret",
        "init_job",
        "web_deployment",
        "worker_deployment",
        "beat_deployment",
        "web_hpa",
        "broker_trigger_auth",
        "worker_scaled_object",
        "web_pdb",
        "worker_pdb",
        "web_service",
    ];
    assert_eq!(names(LoadBalancer::None), base);
    let mut aws = base.to_vec();
    aws.push("web_target_group_binding");
    assert_eq!(names(every_lb().remove(1)), aws);
    assert_eq!(names(every_lb().remove(2)), base);
    assert_eq!(names(every_lb().remove(3)), base);

    // Every object is applied after the objects it needs, in the order given.
    let listed = names(LoadBalancer::None);
    for (i, local) in listed.iter().enumerate() {
        for need in after(local) {
            if let Some(j) = listed.iter().position(|n| n == need) {
                assert!(j < i, "{local} comes before {need}");
            }
        }
    }
    assert!(after("web_deployment").contains(&"init_job"));
}

#[test]
fn web_deployment_runs_gunicorn_on_the_web_pool() {
    let objects = objects(&sample(LoadBalancer::None));
    let web = find(&objects, "web_deployment");
    assert!(
        web.get("spec").and_then(|s| s.get("replicas")).is_none(),
        "the HPA owns replicas"
    );
    let container = at(web, "spec.template.spec.containers.0");
    assert_eq!(
        at(container, "image"),
        &Value::from("apache/superset:4.1.2")
    );
    for (name, expected) in [
        ("SERVER_WORKER_AMOUNT", "4"),
        ("SERVER_THREADS_AMOUNT", "20"),
        ("GUNICORN_TIMEOUT", "120"),
    ] {
        assert_eq!(env_value(container, name), &Value::from(expected), "{name}");
    }
    let names = env_names(container);
    assert!(
        !names.iter().any(|n| n.starts_with("SUPERSET_GUNICORN")),
        "{names:?}"
    );
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert_eq!(
            at(container, &format!("{probe}.httpGet.path")),
            &Value::from("/health")
        );
        assert_eq!(
            at(container, &format!("{probe}.httpGet.port")),
            &Value::from("http")
        );
    }
    assert_eq!(at(container, "ports.0.containerPort"), &Value::from(8088));
    assert_eq!(at(container, "resources.requests.cpu"), &Value::from("1"));
    assert_eq!(
        at(container, "resources.limits.memory"),
        &Value::from("4Gi")
    );
    let pod = at(web, "spec.template.spec");
    assert_eq!(at(pod, "nodeSelector.ss/pool"), &Value::from("web"));
    assert_eq!(
        at(pod, "topologySpreadConstraints.0.topologyKey"),
        &Value::from("topology.kubernetes.io/zone")
    );
    assert_eq!(
        at(pod, "volumes.0.secret.items.0.key"),
        &Value::from("superset_config.py"),
        "only the config file is mounted, not the passwords"
    );
}

#[test]
fn workers_beat_and_the_init_job() {
    let sup = sample(LoadBalancer::None);
    let objects = objects(&sup);
    let worker = find(&objects, "worker_deployment");
    assert!(
        at(worker, "spec").get("replicas").is_none(),
        "KEDA owns replicas"
    );
    assert_eq!(
        at(worker, "spec.template.spec.nodeSelector.ss/pool"),
        &Value::from("worker")
    );
    let command = at(worker, "spec.template.spec.containers.0.command");
    assert!(
        command
            .as_list()
            .unwrap_or_default()
            .contains(&Value::from("worker"))
    );

    let beat = find(&objects, "beat_deployment");
    assert_eq!(at(beat, "spec.replicas"), &Value::from(1));
    assert_eq!(at(beat, "spec.strategy.type"), &Value::from("Recreate"));

    let job = find(&objects, "init_job");
    let name = at(job, "metadata.name")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        name.starts_with("superset-init-") && name.len() <= 63,
        "{name}"
    );
    assert_eq!(
        at(job, "spec.template.spec.containers.0.command.2"),
        &Value::from("superset db upgrade && superset init")
    );
    // The same image keeps the Job; a new version makes a new one.
    assert_eq!(
        at(&workloads::init_job(&sup), "metadata.name"),
        &Value::from(name.as_str())
    );
    let mut upgraded = sup.clone();
    upgraded.version = "5.0.0".into();
    assert_ne!(
        at(&workloads::init_job(&upgraded), "metadata.name"),
        &Value::from(name.as_str())
    );
    // A new endpoint changes the config, not the Job (its pods read the config file).
    let mut moved = sup.clone();
    moved.broker.endpoint.host = "broker2.internal".into();
    assert_eq!(
        at(&workloads::init_job(&moved), "metadata.name"),
        &Value::from(name.as_str())
    );
    let checksum = |s: &Superset| {
        at(
            find(&super::objects(s), "web_deployment"),
            "spec.template.metadata.annotations.checksum/config",
        )
        .clone()
    };
    assert_ne!(
        checksum(&sup),
        checksum(&moved),
        "a config change restarts the pods"
    );
}

#[test]
fn autoscaling_on_the_right_signals() {
    let objects = objects(&sample(LoadBalancer::None));
    let hpa = find(&objects, "web_hpa");
    assert_eq!(at(hpa, "apiVersion"), &Value::from("autoscaling/v2"));
    assert_eq!(at(hpa, "spec.minReplicas"), &Value::from(5));
    assert_eq!(at(hpa, "spec.maxReplicas"), &Value::from(20));
    let metrics = at(hpa, "spec.metrics").as_list().unwrap_or_default();
    assert_eq!(metrics.len(), 1, "CPU only");
    assert_eq!(at(&metrics[0], "resource.name"), &Value::from("cpu"));

    let scaled = find(&objects, "worker_scaled_object");
    assert_eq!(at(scaled, "spec.minReplicaCount"), &Value::from(10));
    assert_eq!(at(scaled, "spec.maxReplicaCount"), &Value::from(30));
    let trigger = at(scaled, "spec.triggers.0");
    assert_eq!(at(trigger, "type"), &Value::from("redis"));
    assert_eq!(
        at(trigger, "metadata.address"),
        &Value::from("broker.internal:6380")
    );
    assert_eq!(at(trigger, "metadata.listName"), &Value::from("celery"));
    assert_eq!(at(trigger, "metadata.listLength"), &Value::from("8"));
    assert_eq!(
        at(trigger, "authenticationRef.name"),
        &Value::from("superset-broker")
    );
    let auth = find(&objects, "broker_trigger_auth");
    assert_eq!(
        at(auth, "spec.secretTargetRef.0.parameter"),
        &Value::from("password")
    );
    assert_eq!(
        at(auth, "spec.secretTargetRef.0.key"),
        &Value::from("BROKER_REDIS_PASSWORD")
    );
    for pdb in ["web_pdb", "worker_pdb"] {
        assert_eq!(
            at(find(&objects, pdb), "spec.maxUnavailable"),
            &Value::from(1)
        );
    }

    // Without a broker password: no TriggerAuthentication and no reference to one.
    let mut open = sample(LoadBalancer::None);
    open.broker.password = None;
    let objects = super::objects(&open);
    assert!(!objects.iter().any(|(n, _)| n == "broker_trigger_auth"));
    assert!(
        at(find(&objects, "worker_scaled_object"), "spec.triggers.0")
            .get("authenticationRef")
            .is_none()
    );
}

#[test]
fn the_service_per_cloud() {
    for lb in every_lb() {
        let objects = objects(&sample(lb.clone()));
        let service = find(&objects, "web_service");
        assert_eq!(at(service, "spec.sessionAffinity"), &Value::from("None"));
        assert_eq!(at(service, "spec.ports.0.port"), &Value::from(8088));
        match lb {
            LoadBalancer::OvhNodePort { .. } => {
                assert_eq!(at(service, "spec.type"), &Value::from("NodePort"));
                assert_eq!(at(service, "spec.ports.0.nodePort"), &Value::from(30088));
            }
            LoadBalancer::GcpNeg { .. } => {
                let neg = at(service, "metadata.annotations.cloud.google.com/neg");
                let parsed: serde_json::Value =
                    serde_json::from_str(neg.as_str().unwrap_or_default()).expect("JSON");
                assert_eq!(parsed["exposed_ports"]["8088"]["name"], "ss-superset-web");
            }
            LoadBalancer::AwsTargetGroup { arn } => {
                let binding = find(&objects, "web_target_group_binding");
                assert_eq!(at(binding, "spec.targetGroupARN"), &arn);
                assert_eq!(at(binding, "spec.targetType"), &Value::from("ip"));
                assert_eq!(
                    at(binding, "spec.serviceRef.name"),
                    &Value::from("superset-web")
                );
            }
            LoadBalancer::None => assert_eq!(at(service, "spec.type"), &Value::from("ClusterIP")),
        }
    }
}

/// Every part of a value that is sensitive, as paths.
fn sensitive_paths(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Sensitive(_) => out.push(path.to_string()),
        Value::Map(map) => {
            for (k, v) in map {
                sensitive_paths(v, &format!("{path}.{k}"), out);
            }
        }
        Value::List(items) => {
            for (i, v) in items.iter().enumerate() {
                sensitive_paths(v, &format!("{path}.{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn secrets_stay_in_the_secret_and_stay_sensitive() {
    let mut sup = sample(LoadBalancer::None);
    sup.cache.password = Some(Value::from("cache-pw").sensitive());
    let objects = objects(&sup);
    let mut paths = Vec::new();
    for (local, manifest) in &objects {
        sensitive_paths(manifest, local, &mut paths);
        if local != "secret" {
            let shown = manifest.to_json().expect("known").to_string();
            for secret in [DB_PASSWORD, SECRET_KEY, BROKER_PASSWORD, "cache-pw"] {
                assert!(!shown.contains(secret), "{local} shows a secret");
            }
        }
    }
    assert_eq!(
        paths,
        [
            "secret.data.BROKER_REDIS_PASSWORD",
            "secret.data.CACHE_REDIS_PASSWORD",
            "secret.data.DATABASE_PASSWORD",
            "secret.data.SECRET_KEY",
        ]
    );
    let config = config_py(&sup);
    assert!(!config.is_sensitive());
    let text = config.as_str().unwrap_or_default();
    for secret in [DB_PASSWORD, SECRET_KEY, BROKER_PASSWORD, "cache-pw"] {
        assert!(!text.contains(secret), "the config holds a secret");
    }
    // The Secret's values decode to the inputs.
    let secret = find(&objects, "secret");
    let decoded = |key: &str| {
        use base64::Engine as _;
        let encoded = at(secret, &format!("data.{key}"))
            .as_str()
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64");
        String::from_utf8(bytes).expect("utf-8")
    };
    assert_eq!(decoded("DATABASE_PASSWORD"), DB_PASSWORD);
    assert_eq!(decoded("SECRET_KEY"), SECRET_KEY);
    assert_eq!(decoded("superset_config.py"), text);
}

#[test]
fn an_unknown_input_makes_only_its_values_unknown() {
    let known = objects(&sample(LoadBalancer::None));
    let mut sup = sample(LoadBalancer::AwsTargetGroup {
        arn: Value::Unknown,
    });
    sup.database.pooler = Some(Endpoint {
        host: Value::Unknown,
        port: Value::from(6432),
    });
    sup.web.max = Value::Unknown;
    let objects = objects(&sup);
    assert!(config_py(&sup).is_unknown());
    let secret = find(&objects, "secret");
    assert!(at(secret, "data.superset_config.py").is_unknown());
    assert!(at(secret, "data.SECRET_KEY").is_wholly_known());
    assert!(at(find(&objects, "web_hpa"), "spec.maxReplicas").is_unknown());
    assert!(at(find(&objects, "web_hpa"), "spec.minReplicas").is_wholly_known());
    let binding = find(&objects, "web_target_group_binding");
    assert!(at(binding, "spec.targetGroupARN").is_unknown());
    assert!(at(binding, "spec.serviceRef").is_wholly_known());
    // The Deployments wait for the config only through their checksum annotation.
    let web = find(&objects, "web_deployment");
    assert!(at(web, "spec.template.metadata.annotations.checksum/config").is_unknown());
    assert_eq!(
        at(web, "spec.template.spec"),
        at(find(&known, "web_deployment"), "spec.template.spec")
    );
    // The init Job does not read the endpoints: its name stays known.
    assert_eq!(
        at(find(&objects, "init_job"), "metadata"),
        at(find(&known, "init_job"), "metadata")
    );
    for local in [
        "namespace",
        "web_service",
        "worker_scaled_object",
        "web_pdb",
        "worker_pdb",
    ] {
        assert_eq!(find(&objects, local), find(&known, local), "{local}");
    }
    // An unknown image version makes the Job's name unknown, and the images, nothing else.
    let mut sup = sample(LoadBalancer::None);
    sup.version = Value::Unknown;
    let objects = super::objects(&sup);
    assert!(at(find(&objects, "init_job"), "metadata.name").is_unknown());
    assert!(
        at(
            find(&objects, "web_deployment"),
            "spec.template.spec.containers.0.image"
        )
        .is_unknown()
    );
    assert!(config_py(&sup).is_wholly_known());
}

/// True when `tool --version` runs; otherwise prints a note, and fails under `CI`.
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is needed under CI (see .ci/run)"
        );
        eprintln!("note: {tool} is not installed; skipping this check");
    }
    ok
}

fn write_manifests(dir: &Path, custom: bool) -> Vec<String> {
    let mut files = Vec::new();
    for (i, lb) in every_lb().into_iter().enumerate() {
        for (local, manifest) in objects(&sample(lb)) {
            let api = at(&manifest, "apiVersion")
                .as_str()
                .unwrap_or_default()
                .to_string();
            let is_custom = api.contains("keda.sh") || api.contains("elbv2.k8s.aws");
            if is_custom != custom {
                continue;
            }
            let path = dir.join(format!("{i}-{local}.json"));
            let json = manifest.to_json().expect("known manifest");
            std::fs::write(&path, json.to_string()).expect("write");
            files.push(path.display().to_string());
        }
    }
    files
}

/// Runs a checker, removes its scratch folder, and answers its report (stdout) when it passed.
fn run_check(command: &mut Command, dir: &Path) -> String {
    let out = command.output().expect("run the checker");
    let _ = std::fs::remove_dir_all(dir);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-superset-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Every built-in object passes `kubernetes-validate --strict` for Kubernetes 1.33.
#[test]
fn manifests_pass_kubernetes_validate_strict() {
    if !have("kubernetes-validate", &["--version"]) {
        return;
    }
    let dir = scratch("validate");
    let files = write_manifests(&dir, false);
    let report = run_check(
        Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.33.0", "--no-warn"])
            .args(&files),
        &dir,
    );
    assert_eq!(
        report.matches(" passed for resource ").count(),
        files.len(),
        "{report}"
    );
}

/// The generated config loads in Python with the real Celery, Flask-Caching, redis and
/// SQLAlchemy, and its keys carry the stack's endpoints.
#[test]
fn the_config_loads_in_python_with_the_endpoints() {
    let probe = ["-c", "import celery, flask_caching, redis, sqlalchemy"];
    if !have("python3", &probe) {
        return;
    }
    for pooler in [true, false] {
        let mut sup = sample(LoadBalancer::None);
        if !pooler {
            // The second round also puts the broker behind TLS (ElastiCache with AUTH).
            sup.database.pooler = None;
            sup.broker.tls = true;
        }
        let dir = scratch(&format!("python-{pooler}"));
        let text = config_py(&sup);
        std::fs::write(
            dir.join("superset_config.py"),
            text.as_str().unwrap_or_default(),
        )
        .expect("write");
        let out = Command::new("python3")
            .current_dir(&dir)
            .env("SUPERSET_SECRET_KEY", SECRET_KEY)
            .env("DATABASE_PASSWORD", DB_PASSWORD)
            .env("BROKER_REDIS_PASSWORD", BROKER_PASSWORD)
            .args(["-c", PY_DUMP])
            .output()
            .expect("run python3");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        check_python_keys(&keys, pooler);
    }
}

/// Loads `superset_config.py` and prints the keys the stack wires, as JSON.
const PY_DUMP: &str = r#"
import json, sys
sys.path.insert(0, ".")
import superset_config as c
caches = {k: getattr(c, k) for k in ["CACHE_CONFIG", "DATA_CACHE_CONFIG", "FILTER_STATE_CACHE_CONFIG", "EXPLORE_FORM_DATA_CACHE_CONFIG"]}
print(json.dumps({
    "uri": c.SQLALCHEMY_DATABASE_URI,
    "engine": {k: (v.__name__ if isinstance(v, type) else v) for k, v in c.SQLALCHEMY_ENGINE_OPTIONS.items()},
    "caches": caches,
    "broker": c.CELERY_CONFIG.broker_url,
    "results": c.CELERY_CONFIG.result_backend,
    "beat": {k: {"task": v["task"], "schedule": str(v["schedule"])} for k, v in c.CELERY_CONFIG.beat_schedule.items()},
    "flags": c.FEATURE_FLAGS,
    "gaq": c.GLOBAL_ASYNC_QUERIES_CACHE_BACKEND,
    "gaq_redis": c.GLOBAL_ASYNC_QUERIES_REDIS_CONFIG,
    "jwt_len": len(c.GLOBAL_ASYNC_QUERIES_JWT_SECRET),
    "jwt_is_key": c.GLOBAL_ASYNC_QUERIES_JWT_SECRET == c.SECRET_KEY,
    "secret_key": c.SECRET_KEY,
    "timeout": c.SUPERSET_WEBSERVER_TIMEOUT,
    "max_age": c.SEND_FILE_MAX_AGE_DEFAULT,
    "results_backend": type(c.RESULTS_BACKEND).__name__,
    "webdriver": c.WEBDRIVER_BASEURL,
}))
"#;

fn check_python_keys(keys: &serde_json::Value, pooler: bool) {
    use sqlalchemy_url::parse;
    let uri = keys["uri"].as_str().unwrap_or_default();
    let (user, password, host_port, db) = parse(uri);
    assert_eq!(user, "superset");
    assert_eq!(
        password, "p%40ss%3Aw%2Frd%231",
        "the password is URL-quoted"
    );
    assert_eq!(db, "superset");
    if pooler {
        assert_eq!(host_port, "pgbouncer.internal:6432");
        assert_eq!(keys["engine"]["poolclass"], "NullPool");
    } else {
        assert_eq!(host_port, "db.internal:5432");
        assert_eq!(keys["engine"]["pool_size"], 5);
        assert_eq!(keys["engine"]["pool_pre_ping"], true);
    }
    for (name, cache) in keys["caches"].as_object().expect("caches") {
        assert_eq!(cache["CACHE_TYPE"], "RedisClusterCache", "{name}");
        assert_eq!(
            cache["CACHE_REDIS_CLUSTER"], "cache.cluster.internal:6379",
            "{name}"
        );
        assert_eq!(cache["CACHE_OPTIONS"]["ssl"], true, "{name}");
    }
    assert_eq!(
        keys["caches"]["CACHE_CONFIG"]["CACHE_DEFAULT_TIMEOUT"],
        86400
    );
    assert_eq!(
        keys["caches"]["DATA_CACHE_CONFIG"]["CACHE_DEFAULT_TIMEOUT"],
        86400
    );
    let (scheme, query) = if pooler {
        ("redis", "")
    } else {
        ("rediss", "?ssl_cert_reqs=required")
    };
    let broker = |db: u8| format!("{scheme}://:broker-auth-token@broker.internal:6380/{db}{query}");
    assert_eq!(keys["broker"], broker(0));
    assert_eq!(keys["results"], broker(1));
    assert_eq!(keys["gaq"]["CACHE_REDIS_SSL"], !pooler);
    let warmup = &keys["beat"]["cache-warmup-nightly"];
    assert_eq!(warmup["task"], "cache-warmup");
    assert!(
        warmup["schedule"]
            .as_str()
            .unwrap_or_default()
            .contains("0 2"),
        "{warmup}"
    );
    assert_eq!(keys["flags"]["GLOBAL_ASYNC_QUERIES"], true);
    assert_eq!(keys["gaq"]["CACHE_REDIS_HOST"], "broker.internal");
    assert_eq!(keys["gaq"]["CACHE_REDIS_PORT"], 6380);
    assert_eq!(keys["gaq_redis"]["host"], "broker.internal");
    assert!(keys["jwt_len"].as_u64().unwrap_or_default() >= 32);
    assert_eq!(keys["jwt_is_key"], false);
    assert_eq!(keys["secret_key"], SECRET_KEY);
    assert_eq!(keys["timeout"], 120);
    assert_eq!(keys["max_age"], 365 * 86400);
    assert_eq!(keys["results_backend"], "RedisCache");
    assert_eq!(
        keys["webdriver"],
        "http://superset-web.superset.svc.cluster.local:8088/"
    );
}

/// Splits `postgresql+psycopg2://user:password@host:port/db`.
mod sqlalchemy_url {
    pub fn parse(uri: &str) -> (&str, &str, &str, &str) {
        let rest = uri.strip_prefix("postgresql+psycopg2://").expect("scheme");
        let (auth, rest) = rest.rsplit_once('@').expect("@");
        let (user, password) = auth.split_once(':').expect("user:password");
        let (host_port, db) = rest.split_once('/').expect("/db");
        (user, password, host_port, db)
    }
}

/// Checks the KEDA custom resources against the schemas of the `@kubernetes-models/keda` npm
/// package (generated from KEDA's own API types: types, enums and required fields; it does not
/// refuse unknown fields). `KEDA_MODELS_DIR` names the folder `npm install` put it in.
/// TargetGroupBinding has no such package: its shape is checked by `the_service_per_cloud` only.
#[test]
fn keda_objects_pass_the_keda_schemas() {
    let Some(models) = std::env::var_os("KEDA_MODELS_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "KEDA_MODELS_DIR is needed under CI (see .ci/run)"
        );
        eprintln!("note: KEDA_MODELS_DIR is not set; skipping the KEDA schema check");
        return;
    };
    if !have("node", &["--version"]) {
        return;
    }
    let module =
        Path::new(&models).join("node_modules/@kubernetes-models/keda/keda.sh/v1alpha1/index.js");
    assert!(module.exists(), "{} is missing", module.display());
    let dir = scratch("keda");
    let files: Vec<String> = write_manifests(&dir, true)
        .into_iter()
        .filter(|f| !f.contains("target_group_binding"))
        .collect();
    let script = dir.join("check.mjs");
    std::fs::write(&script, KEDA_CHECK).expect("write");
    let report = run_check(
        Command::new("node").arg(&script).arg(&module).args(&files),
        &dir,
    );
    assert_eq!(report.matches("valid").count(), files.len(), "{report}");
    assert!(report.contains("ScaledObject") && report.contains("TriggerAuthentication"));
}

/// Validates each file with the model class of its kind; exits 1 on the first refusal.
const KEDA_CHECK: &str = r#"
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [module, ...files] = process.argv.slice(2);
const models = await import(pathToFileURL(module).href);
for (const file of files) {
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  const Model = models[manifest.kind];
  if (!Model) { console.log(`${file}: no model for ${manifest.kind}`); process.exit(1); }
  try { new Model(manifest).validate(); } catch (e) { console.log(`${file}: ${e.message}`); process.exit(1); }
  console.log(`${manifest.kind} ${file}: valid`);
}
"#;
