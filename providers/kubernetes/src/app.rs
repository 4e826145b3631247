//! The portable `superset` component's expansion, written once for every provider: the
//! component's configuration and the values of the components it names become a
//! `generated_secret` (Superset's `SECRET_KEY`) and one native object per Kubernetes object of
//! [`crate::superset::objects`], ordered by [`crate::superset::after`]. A provider says only
//! where its clusters are, how its node pools are labelled and how its load balancer reaches
//! the web pods ([`Placement`]).

use std::collections::{BTreeMap, BTreeSet};

use provider_api::kit::config::Reader;
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::generated::GENERATED_SECRET;
use crate::superset::{self, Database, Endpoint, LoadBalancer, Pool, Redis, Resources, Superset};

/// The node label ss puts on every node of a node pool it makes, its value the portable
/// pool's name (`web`, `worker`): what the pods' `nodeSelector` names.
pub const POOL_LABEL: &str = "node.ss.internal/pool";

/// What a provider tells the expansion about its clusters.
pub trait Placement {
    /// The native type each Kubernetes object becomes (`kubernetes_object`, or the sandbox's
    /// simulated objects).
    fn object_type(&self, kubeconfig: bool) -> &'static str {
        let _ = kubeconfig;
        crate::object::OBJECT
    }

    /// The prefix of this cloud's cluster references (`eks`, `gke`, `ovh`): the cloud's
    /// [`Clusters`](crate::object::Clusters) are registered under it.
    fn cloud(&self) -> &'static str;

    /// The cluster reference of the cluster the component's `cluster` names:
    /// `<cloud>:<the cluster component's id>`.
    fn cluster_ref(&self, cluster: &Attrs) -> Value {
        match cluster.get("id") {
            Some(Value::String(id)) => Value::from(format!("{}:{id}", self.cloud())),
            _ => Value::Unknown,
        }
    }

    /// The node label that selects the nodes of the pool `pool`, and the value for that pool:
    /// [`POOL_LABEL`], which every cloud puts on the nodes of the pools ss makes (a cloud's own
    /// label names its node pool objects, several per portable pool on some clouds, and their
    /// names are not among the cluster component's exports).
    fn pool_label(&self, cluster: &Attrs, pool: &Value) -> (String, Value) {
        let _ = cluster;
        (POOL_LABEL.to_string(), pool.clone())
    }

    /// How the cloud's load balancer (the component's `load_balancer`, when given) reaches the
    /// web pods.
    fn load_balancer(&self, load_balancer: Option<&Attrs>) -> LoadBalancer {
        let _ = load_balancer;
        LoadBalancer::None
    }

    /// Whether this cloud's clusters come without metrics-server (EKS), which the web
    /// HorizontalPodAutoscaler needs: the stack then installs it.
    fn lacks_metrics_server(&self) -> bool {
        false
    }

    /// Whether this cloud's Redis (the cache's and the broker's) is reached over TLS.
    fn redis_tls(&self) -> bool {
        false
    }

    /// The database Superset keeps its metadata in, on this cloud's managed PostgreSQL.
    fn database_name(&self) -> &'static str {
        "postgres"
    }
}

/// The local name of the `generated_secret` holding `SECRET_KEY`.
const SECRET_KEY: &str = "secret_key";

/// Resources of a web pod: gunicorn with [`GUNICORN_WORKERS`] processes of
/// [`GUNICORN_THREADS`] threads (Superset's docs size gunicorn at 2–4 workers per core,
/// <https://superset.apache.org/docs/installation/configuring-superset#running-on-a-wsgi-http-server>).
const WEB_RESOURCES: [&str; 4] = ["1", "2Gi", "2", "4Gi"];
const GUNICORN_WORKERS: i64 = 4;
const GUNICORN_THREADS: i64 = 8;
/// Seconds a request may take; SQL Lab's synchronous queries are the long ones (the docs'
/// example runs gunicorn with `--timeout 120`).
const GUNICORN_TIMEOUT: i64 = 120;
/// Resources of a Celery worker pod, and its processes.
const WORKER_RESOURCES: [&str; 4] = ["1", "2Gi", "2", "4Gi"];
const WORKER_CONCURRENCY: i64 = 8;

fn component(c: &Reader<'_>, key: &str) -> Attrs {
    match c.value(key, Value::Null) {
        Value::Map(m) => m,
        _ => Attrs::new(),
    }
}

fn field(m: &Attrs, key: &str) -> Value {
    m.get(key).cloned().unwrap_or(Value::Unknown)
}

fn endpoint(m: &Attrs, host: &str) -> Endpoint {
    Endpoint {
        host: field(m, host),
        port: field(m, "port"),
    }
}

/// A Redis of the stack: its endpoint, its AUTH password when its component exports one that
/// is not null, and the cloud's TLS.
fn redis(m: &Attrs, host: &str, place: &dyn Placement) -> Redis {
    let password = match m.get("password") {
        None | Some(Value::Null) => None,
        Some(p) => Some(p.clone().sensitive()),
    };
    Redis {
        endpoint: endpoint(m, host),
        password,
        tls: place.redis_tls(),
    }
}

fn resources(r: [&str; 4]) -> Resources {
    Resources {
        cpu_request: Value::from(r[0]),
        memory_request: Value::from(r[1]),
        cpu_limit: Value::from(r[2]),
        memory_limit: Value::from(r[3]),
    }
}

/// The reference of the cluster the component's kubeconfig names; `None` without one.
fn kubeconfig_ref(c: &Reader<'_>) -> Option<Value> {
    match c.value("kubeconfig", Value::Null) {
        Value::Null => None,
        Value::String(path) => Some(match c.value("context", Value::Null) {
            Value::String(ctx) => Value::from(format!("kubeconfig:{path}#{ctx}")),
            Value::Null => Value::from(format!("kubeconfig:{path}")),
            _ => Value::Unknown,
        }),
        _ => Some(Value::Unknown),
    }
}

/// The cluster reference: the kubeconfig's when one is given, else the cloud's.
fn cluster_ref(c: &Reader<'_>, place: &dyn Placement, cluster: &Attrs) -> Value {
    kubeconfig_ref(c).unwrap_or_else(|| place.cluster_ref(cluster))
}

/// The pods of one pool; on a cluster given by a kubeconfig there are no ss node pools to
/// select, so the pods go wherever the scheduler puts them.
fn pool(c: &Reader<'_>, kind: &str, r: [&str; 4], select: Option<(String, Value)>) -> Pool {
    Pool {
        min: c.value(&format!("{kind}_min"), Value::Unknown),
        max: c.value(&format!("{kind}_max"), Value::Unknown),
        resources: resources(r),
        node_selector: select.into_iter().collect(),
    }
}

/// The Superset objects' inputs from the component's configuration.
fn inputs(c: &Reader<'_>, place: &dyn Placement, kubeconfig: bool) -> Superset {
    let cluster = component(c, "cluster");
    let db = component(c, "database");
    let lb = c.value("load_balancer", Value::Null);
    let select = |kind: &str| {
        (!kubeconfig).then(|| place.pool_label(&cluster, &c.value(&format!("{kind}_pool"), kind)))
    };
    let pooler = match db.get("pooler") {
        Some(Value::Bool(true)) => Some(endpoint(&db, "pooler_endpoint")),
        _ => None,
    };
    Superset {
        namespace: c.value("namespace", "superset"),
        image: c.value("image", "apache/superset"),
        version: c.value("version", superset_version()),
        web: pool(c, "web", WEB_RESOURCES, select("web")),
        worker: pool(c, "worker", WORKER_RESOURCES, select("worker")),
        gunicorn_workers: Value::from(GUNICORN_WORKERS),
        gunicorn_threads: Value::from(GUNICORN_THREADS),
        gunicorn_timeout: Value::from(GUNICORN_TIMEOUT),
        worker_concurrency: Value::from(WORKER_CONCURRENCY),
        database: Database {
            endpoint: endpoint(&db, "endpoint"),
            pooler,
            user: field(&db, "username"),
            password: field(&db, "password").sensitive(),
            name: Value::from(place.database_name()),
        },
        cache: redis(&component(c, "cache"), "configuration_endpoint", place),
        broker: redis(&component(c, "broker"), "endpoint", place),
        // Bound to the generated secret below: unknown to the objects themselves.
        secret_key: Value::Unknown,
        load_balancer: place.load_balancer(lb.as_map()),
        cache_ttl: c.value("cache_ttl", 86400),
    }
}

fn superset_version() -> Value {
    Value::from(provider_api::component::SUPERSET_VERSION)
}

/// `value` as a binding whose part at `path` is `slot` instead (the Secret's `SECRET_KEY`,
/// which is the generated secret's attribute).
fn bind_at(value: Value, path: &[&str], slot: Binding) -> Binding {
    match (path.split_first(), value) {
        (None, _) => slot,
        (Some((key, rest)), Value::Map(map)) => {
            let mut out: BTreeMap<String, Binding> = map
                .into_iter()
                .map(|(k, v)| (k, Binding::Value(v)))
                .collect();
            let inner = match out.remove(*key) {
                Some(Binding::Value(v)) => v,
                _ => Value::Map(Attrs::new()),
            };
            out.insert((*key).to_string(), bind_at(inner, rest, slot));
            Binding::Map(out)
        }
        (Some(_), other) => Binding::Value(other),
    }
}

/// The key object of KEDA: the ScaledObject CRD the worker autoscaling needs.
const KEDA_KEY: &str = "apiextensions.k8s.io/v1|CustomResourceDefinition||scaledobjects.keda.sh";
/// The key object of metrics-server: the resource metrics API the web HPA reads.
const METRICS_KEY: &str = "apiregistration.k8s.io/v1|APIService||v1beta1.metrics.k8s.io";

/// The add-on `local` from the manifest URL the setting `key` gives (none when it is null or
/// empty), installed unless the cluster has its key object.
fn addon(
    c: &Reader<'_>,
    local: &str,
    key: &str,
    present_if: &str,
    cluster: &Value,
) -> Option<NativeSpec> {
    let url = c.value(key, Value::Null);
    match &url {
        Value::Null => return None,
        Value::String(u) if u.trim().is_empty() => return None,
        _ => {}
    }
    Some(
        NativeSpec::new(local, crate::object::manifest::MANIFEST)
            .set("cluster", cluster.clone())
            .set("url", url)
            .set("present_if", Value::from(present_if)),
    )
}

/// The cluster add-ons the objects need, on a real Kubernetes API: KEDA everywhere (the
/// worker autoscaling), metrics-server where the cloud lacks it (the web HPA); on a cluster
/// given by a kubeconfig only KEDA, the cluster's owner runs its metrics-server (kind and
/// minikube have it as an add-on).
fn addons(
    c: &Reader<'_>,
    place: &dyn Placement,
    kubeconfig: bool,
    cluster: &Value,
) -> Vec<NativeSpec> {
    if place.object_type(kubeconfig) != crate::object::OBJECT {
        return Vec::new();
    }
    let mut out: Vec<NativeSpec> = addon(c, "keda", "keda_manifest", KEDA_KEY, cluster)
        .into_iter()
        .collect();
    if !kubeconfig && place.lacks_metrics_server() {
        out.extend(addon(
            c,
            "metrics_server",
            "metrics_server_manifest",
            METRICS_KEY,
            cluster,
        ));
    }
    out
}

/// The add-on an object waits for, by the object's local name.
fn needs_addon(local: &str) -> Option<&'static str> {
    match local {
        "worker_scaled_object" => Some("keda"),
        "web_hpa" => Some("metrics_server"),
        _ => None,
    }
}

/// How long the plan-time check waits for an existing cluster's discovery.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Plan-time checks of a `superset` deployed into an existing cluster (a kubeconfig) that
/// will not install KEDA (`keda_manifest = ""`): that cluster must serve KEDA's ScaledObject,
/// or the workers would never scale. A cluster that cannot be reached is not a finding here
/// (the apply then says why). A provider calls this from its `check_offers` for `superset`.
pub async fn check(config: &Attrs) -> Vec<Diagnostic> {
    let c = Reader::new(config);
    let installs =
        !matches!(c.value("keda_manifest", Value::Null), Value::String(u) if u.trim().is_empty());
    let Some(Value::String(reference)) = kubeconfig_ref(&c) else {
        return Vec::new();
    };
    if installs {
        return Vec::new();
    }
    let probe = async {
        let client = crate::object::cluster::Connector::default()
            .client(&reference)
            .await
            .ok()?;
        let gvk = kube::api::GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject");
        match kube::discovery::pinned_kind(&client, &gvk).await {
            Ok(_) => Some(true),
            Err(kube::Error::Discovery(_)) => Some(false),
            Err(kube::Error::Api(s)) if s.code == 404 => Some(false),
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the cluster about KEDA");
                None
            }
        }
    };
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Some(false)) => vec![
            Diagnostic::error(
                "KEDA is not installed in the cluster the kubeconfig names, and `keda_manifest` \
                 is empty: the Celery workers would never scale",
            )
            .with_detail(
                "install KEDA (https://keda.sh/docs/latest/deploy/), or leave `keda_manifest` \
                 unset so that the stack installs it",
            )
            .at(["keda_manifest"]),
        ],
        _ => Vec::new(),
    }
}

/// Expands a `superset` component.
pub fn superset(config: &Attrs, place: &dyn Placement) -> Result<Expansion, Diagnostic> {
    let c = Reader::new(config);
    let kubeconfig = !c.value("kubeconfig", Value::Null).is_null();
    let cluster = cluster_ref(&c, place, &component(&c, "cluster"));
    let password = component(&c, "database").get("password").cloned();
    if password.is_some_and(|p| p.unmark().0.is_null()) {
        return Err(Diagnostic::error(
            "the `database` exports no password, so Superset could not sign in to it",
        )
        .with_detail("the provider of that postgres keeps no password for its user")
        .at(["database"]));
    }
    let sup = inputs(&c, place, kubeconfig);
    let objects = superset::objects(&sup);
    let names: BTreeSet<String> = objects.iter().map(|(n, _)| n.clone()).collect();
    let object_type = place.object_type(kubeconfig);
    let mut resources = vec![NativeSpec::new(SECRET_KEY, GENERATED_SECRET)];
    let addons = addons(&c, place, kubeconfig, &cluster);
    let installed: BTreeSet<String> = addons.iter().map(|a| a.name.clone()).collect();
    resources.extend(addons);
    for (local, manifest) in objects {
        let manifest = if local == "secret" {
            bind_at(
                manifest,
                &["data", "SECRET_KEY"],
                Binding::attr(SECRET_KEY, "base64"),
            )
        } else {
            Binding::Value(manifest)
        };
        let mut spec = NativeSpec::new(&local, object_type)
            .set("cluster", cluster.clone())
            .set("manifest", manifest);
        for dep in superset::after(&local) {
            if names.contains(*dep) {
                spec = spec.after(dep);
            }
        }
        if let Some(addon) = needs_addon(&local).filter(|a| installed.contains(*a)) {
            spec = spec.after(addon);
        }
        resources.push(spec);
    }
    let url = match c.value("load_balancer", Value::Null) {
        Value::Map(lb) => match lb.get("dns_name") {
            Some(Value::String(host)) => Value::from(format!("https://{host}")),
            Some(Value::Null) | None => Value::Null,
            Some(_) => Value::Unknown,
        },
        Value::Null => Value::Null,
        _ => Value::Unknown,
    };
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::Value(sup.namespace.clone())),
            ("url", Binding::Value(url)),
        ]),
    })
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Cloud;

    impl Placement for Cloud {
        fn cloud(&self) -> &'static str {
            "test"
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn config(kubeconfig: Option<&str>) -> Attrs {
        let mut c = Attrs::from([
            ("cluster".into(), map(&[("id", Value::from("c1"))])),
            (
                "database".into(),
                map(&[
                    ("endpoint", Value::from("db.internal")),
                    ("port", Value::from(5432)),
                    ("username", Value::from("superset")),
                    ("password", Value::from("hunter2-db-password").sensitive()),
                    ("pooler", Value::from(true)),
                    ("pooler_endpoint", Value::Unknown),
                ]),
            ),
            (
                "cache".into(),
                map(&[
                    ("configuration_endpoint", Value::from("cache.internal")),
                    ("port", Value::from(6379)),
                ]),
            ),
            (
                "broker".into(),
                map(&[
                    ("endpoint", Value::from("broker.internal")),
                    ("port", Value::from(6379)),
                ]),
            ),
            ("web_min".into(), Value::from(5)),
            ("web_max".into(), Value::from(20)),
            ("worker_min".into(), Value::from(10)),
            ("worker_max".into(), Value::from(30)),
            (
                "keda_manifest".into(),
                Value::from(provider_api::component::KEDA_MANIFEST),
            ),
            (
                "metrics_server_manifest".into(),
                Value::from(provider_api::component::METRICS_SERVER_MANIFEST),
            ),
        ]);
        if let Some(path) = kubeconfig {
            c.insert("kubeconfig".into(), Value::from(path));
        }
        c
    }

    #[test]
    fn a_database_without_a_password_is_refused_at_the_setting() {
        let mut c = config(None);
        if let Some(Value::Map(db)) = c.get_mut("database") {
            db.insert("password".into(), Value::Null.sensitive());
        }
        let Err(d) = superset(&c, &Cloud) else {
            panic!("a null password is refused");
        };
        assert!(d.to_string().contains("no password"), "{d}");
        assert_eq!(d.path, ["database"]);
    }

    #[test]
    fn the_autoscalers_wait_for_their_addons() {
        let e = superset(&config(None), &Cloud).expect("expands");
        // The test cloud has metrics-server; only KEDA is installed (when missing).
        let keda = e.get("keda").expect("keda");
        assert_eq!(keda.type_name, crate::object::manifest::MANIFEST);
        assert_eq!(
            keda.config["present_if"],
            Binding::Value(Value::from(KEDA_KEY))
        );
        assert!(e.get("metrics_server").is_none());
        let scaled = e.get("worker_scaled_object").expect("scaled object");
        assert!(scaled.depends_on.iter().any(|d| d == "keda"));

        // A cloud without metrics-server gets it too, before the HPA.
        #[derive(Debug)]
        struct Bare;
        impl Placement for Bare {
            fn cloud(&self) -> &'static str {
                "test"
            }
            fn lacks_metrics_server(&self) -> bool {
                true
            }
        }
        let e = superset(&config(None), &Bare).expect("expands");
        assert!(e.get("metrics_server").is_some());
        let hpa = e.get("web_hpa").expect("hpa");
        assert!(hpa.depends_on.iter().any(|d| d == "metrics_server"));
        // With a kubeconfig, the cluster's owner runs metrics-server; "" means never install.
        let mut c = config(Some("/tmp/kc"));
        c.insert("keda_manifest".into(), Value::from(""));
        let e = superset(&c, &Bare).expect("expands");
        assert!(e.get("keda").is_none() && e.get("metrics_server").is_none());
        assert!(
            e.get("worker_scaled_object")
                .is_some_and(|s| !s.depends_on.iter().any(|d| d == "keda"))
        );
    }

    #[test]
    fn objects_follow_the_init_job_and_the_secret_key_is_a_binding() {
        let e = superset(&config(None), &Cloud).expect("expands");
        assert_eq!(e.resources[0].type_name, GENERATED_SECRET);
        let web = e.get("web_deployment").expect("web");
        assert_eq!(web.type_name, crate::object::OBJECT);
        assert_eq!(
            web.config["cluster"],
            Binding::Value(Value::from("test:c1"))
        );
        assert!(web.depends_on.iter().any(|d| d == "init_job"));
        let secret = e.get("secret").expect("secret");
        let refs = secret.dependencies();
        assert!(refs.contains(SECRET_KEY), "{refs:?}");
        let Binding::Map(m) = &secret.config["manifest"] else {
            panic!("the Secret's manifest is a binding map");
        };
        let Binding::Map(data) = &m["data"] else {
            panic!("data is a binding map");
        };
        assert_eq!(data["SECRET_KEY"], Binding::attr(SECRET_KEY, "base64"));
        // Every object names a dependency that exists.
        for r in &e.resources {
            for d in &r.depends_on {
                assert!(e.get(d).is_some(), "{} after {d}", r.name);
            }
        }
    }

    #[test]
    fn a_kubeconfig_replaces_the_cloud_cluster_and_its_pools() {
        let e = superset(&config(Some("/tmp/kc")), &Cloud).expect("expands");
        let web = e.get("web_deployment").expect("web");
        assert_eq!(
            web.config["cluster"],
            Binding::Value(Value::from("kubeconfig:/tmp/kc"))
        );
        let Binding::Value(manifest) = &web.config["manifest"] else {
            panic!("plain manifest");
        };
        let text = format!("{manifest:?}");
        assert!(!text.contains(POOL_LABEL), "no node pool selector: {text}");
        let with_pools = superset(&config(None), &Cloud).expect("expands");
        let Binding::Value(m) = &with_pools.get("web_deployment").expect("web").config["manifest"]
        else {
            panic!("plain manifest");
        };
        assert!(format!("{m:?}").contains(POOL_LABEL));
    }

    #[test]
    fn the_database_password_stays_sensitive() {
        let e = superset(&config(None), &Cloud).expect("expands");
        for r in &e.resources {
            assert!(
                !format!("{:?}", r.config).contains("hunter2-db-password"),
                "{} shows the password",
                r.name
            );
        }
    }
}
