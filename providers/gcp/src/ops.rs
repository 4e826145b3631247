//! The calls behind each native type: create (adopting what exists under the deterministic
//! name), batched reads, updates and deletes, with long-running operations polled to the end.
//!
//! Bodies are written as JSON in the discovery documents' field names and converted to the
//! client crates' typed models (`serde`), and answers are read back the same way: the typed
//! clients do the transport, authentication, retries and operation polling.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::options::RequestOptionsBuilder;
use google_cloud_gax::paginator::ItemPaginator;
use google_cloud_lro::Poller;
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::auth;
use crate::clients::{Clients, Endpoints};
use crate::error::{Kind, kind, provider_error};
use crate::expand::Settings;
use crate::types;

pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Ops {
    pub settings: Settings,
    pub(crate) endpoints: Endpoints,
    env: Env,
    pub(crate) ready_timeout: Duration,
    clients: tokio::sync::OnceCell<Clients>,
    /// The project's number (servicenetworking names networks by it), asked once.
    pub(crate) project_number: tokio::sync::OnceCell<String>,
    /// One lock per GKE cluster and Cloud SQL primary: both run one operation at a time.
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("settings", &self.settings)
            .field("endpoints", &self.endpoints)
            .field("ready_timeout", &self.ready_timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) fn model<T: DeserializeOwned>(what: &str, v: Json) -> Result<T, ProviderError> {
    serde_json::from_value(v)
        .map_err(|e| ProviderError::Other(format!("{what}: cannot build the request body: {e}")))
}

pub(crate) fn js<T: Serialize>(t: &T) -> Json {
    serde_json::to_value(t).unwrap_or(Json::Null)
}

/// The last segment of a resource name or URL.
pub fn last(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// A reference as a partial resource name: everything from `projects/` on.
pub(crate) fn partial(s: &str) -> String {
    match s.find("projects/") {
        Some(i) => s[i..].to_string(),
        None => s.to_string(),
    }
}

pub(crate) fn text(v: &Json) -> Value {
    match v {
        Json::String(s) => Value::from(s.as_str()),
        Json::Null => Value::Null,
        other => Value::from(other.to_string()),
    }
}

pub(crate) fn num(v: &Json) -> Value {
    match v {
        Json::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Json::String(s) => s.parse::<f64>().map_or(Value::Null, Value::from),
        _ => Value::Null,
    }
}

pub(crate) fn cfg_str(config: &Attrs, k: &str) -> String {
    config
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn cfg_num(config: &Attrs, k: &str, default: i64) -> i64 {
    config.get(k).and_then(Value::as_i64).unwrap_or(default)
}

pub(crate) fn cfg_bool(config: &Attrs, k: &str, default: bool) -> bool {
    config.get(k).and_then(Value::as_bool).unwrap_or(default)
}

/// An object's state; its `id` attribute is the id.
pub(crate) fn state(id: String, pairs: Vec<(&str, Value)>) -> ResourceState {
    let mut attrs: Attrs = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    attrs.insert("id".into(), Value::from(id.as_str()));
    ResourceState { id, attrs }
}

pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Compute's global collections this provider uses, by native type.
fn compute_collection(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        types::NETWORK => "networks",
        types::SUBNETWORK => "subnetworks",
        types::HEALTH_CHECK => "healthChecks",
        types::BACKEND_SERVICE => "backendServices",
        types::URL_MAP => "urlMaps",
        types::HTTP_PROXY => "targetHttpProxies",
        types::FORWARDING_RULE => "forwardingRules",
        types::ADDRESS => "addresses",
        _ => return None,
    })
}

/// Runs one compute method on the client of a type (each collection has its own client and
/// setter names).
macro_rules! compute {
    ($self:ident, $c:ident, $t:expr, |$client:ident, $setter:ident| $body:expr) => {
        match $t {
            types::NETWORK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::Network;
                let $client = &$c.networks;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_network($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            types::SUBNETWORK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::Subnetwork;
                let $client = &$c.subnetworks;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_subnetwork($n)
                            .set_region($self.settings.region.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::HEALTH_CHECK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::HealthCheck;
                let $client = &$c.health_checks;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_health_check($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            types::BACKEND_SERVICE | types::CDN => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::BackendService;
                let $client = &$c.backend_services;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_backend_service($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            types::URL_MAP => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::UrlMap;
                let $client = &$c.url_maps;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_url_map($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            types::HTTP_PROXY => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::TargetHttpProxy;
                let $client = &$c.http_proxies;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_target_http_proxy($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            types::FORWARDING_RULE => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::ForwardingRule;
                let $client = &$c.forwarding_rules;
                macro_rules! $setter {
                    ($b:expr, $n:expr) => {
                        $b.set_forwarding_rule($n)
                    };
                }
                Box::pin(async { $body }).await
            }
            other => Err(ProviderError::Invalid(format!(
                "{other} is not a compute type"
            ))),
        }
    };
}

/// Same as [`compute!`] for calls that take a scope (project, and region for subnetworks) but
/// no object name.
macro_rules! compute_scoped {
    ($self:ident, $c:ident, $t:expr, |$client:ident, $scope:ident| $body:expr) => {
        match $t {
            types::NETWORK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::Network;
                let $client = &$c.networks;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::SUBNETWORK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::Subnetwork;
                let $client = &$c.subnetworks;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                            .set_region($self.settings.region.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::HEALTH_CHECK => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::HealthCheck;
                let $client = &$c.health_checks;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::BACKEND_SERVICE | types::CDN => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::BackendService;
                let $client = &$c.backend_services;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::URL_MAP => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::UrlMap;
                let $client = &$c.url_maps;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::HTTP_PROXY => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::TargetHttpProxy;
                let $client = &$c.http_proxies;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::FORWARDING_RULE => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::ForwardingRule;
                let $client = &$c.forwarding_rules;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            types::ADDRESS => {
                #[allow(dead_code)]
                type ComputeModel = google_cloud_compute_v1::model::Address;
                let $client = &$c.addresses;
                macro_rules! $scope {
                    ($b:expr) => {
                        $b.set_project($self.settings.project.clone())
                    };
                }
                Box::pin(async { $body }).await
            }
            other => Err(ProviderError::Invalid(format!(
                "{other} is not a compute type"
            ))),
        }
    };
}

/// Checks a finished compute operation for an error.
fn compute_op_result(
    what: &str,
    op: &google_cloud_compute_v1::model::Operation,
) -> Result<(), ProviderError> {
    let op = js(op);
    match op
        .get("error")
        .and_then(|e| e["errors"].as_array())
        .and_then(|a| a.first())
    {
        Some(first) => Err(ProviderError::Invalid(format!(
            "{what}: operation failed: {} {}",
            first["code"].as_str().unwrap_or_default(),
            first["message"].as_str().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

impl Ops {
    pub fn new(
        settings: Settings,
        endpoints: Endpoints,
        env: Env,
        ready_timeout: Duration,
    ) -> Self {
        Ops {
            settings,
            endpoints,
            env,
            ready_timeout,
            clients: tokio::sync::OnceCell::new(),
            project_number: tokio::sync::OnceCell::new(),
            locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn clients(&self) -> Result<&Clients, ProviderError> {
        self.clients
            .get_or_try_init(|| async {
                let creds = auth::resolve(&*self.env, self.endpoints.token.as_deref())
                    .map_err(|e| ProviderError::Other(e.to_string()))?;
                // Boxed: building the clients is a large future, and callers poll it on
                // runtime worker threads (2 MiB stacks).
                Box::pin(Clients::build(&self.endpoints, &creds, self.ready_timeout))
                    .await
                    .map_err(ProviderError::Other)
            })
            .await
    }

    pub(crate) fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }

    pub(crate) fn project(&self) -> &str {
        &self.settings.project
    }

    pub(crate) fn location(&self) -> String {
        format!(
            "projects/{}/locations/{}",
            self.project(),
            self.settings.region
        )
    }

    fn compute_id(&self, type_name: &str, name: &str) -> String {
        let coll = compute_collection(type_name).unwrap_or_default();
        if type_name == types::SUBNETWORK {
            format!(
                "projects/{}/regions/{}/{coll}/{name}",
                self.project(),
                self.settings.region
            )
        } else {
            format!("projects/{}/global/{coll}/{name}", self.project())
        }
    }

    /// Repeats `call` while the object is busy with another operation (GKE and Cloud SQL run one
    /// at a time), until the ready timeout.
    pub(crate) async fn while_busy<T, F, Fut>(
        &self,
        what: &str,
        mut call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GaxError>>,
    {
        let deadline = Instant::now() + self.ready_timeout;
        let mut delay = Duration::from_millis(200);
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e)
                    if matches!(kind(&e), Kind::Busy | Kind::Throttled)
                        && Instant::now() < deadline =>
                {
                    tracing::debug!(what, "busy, waiting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(provider_error(what, &e)),
            }
        }
    }

    /// Polls `check` with backoff until it answers `Some`, or the ready timeout.
    pub(crate) async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        mut check: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, ProviderError>>,
    {
        let deadline = Instant::now() + self.ready_timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) if e.is_retryable() => {
                    tracing::debug!(what, error = %e, "poll failed, retrying");
                }
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(ProviderError::Timeout(format!(
                    "{what}: not done after {}s",
                    self.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(Duration::from_secs(10));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Dispatch.

    /// The object of `type_name` named `name`, if it exists.
    pub async fn find(
        &self,
        type_name: &str,
        name: &str,
    ) -> Result<Option<ResourceState>, ProviderError> {
        match type_name {
            types::CLUSTER => Box::pin(self.gke_cluster(name)).await,
            // A pool's name is unique enough: look for it in every cluster of the location.
            types::NODE_POOL => Ok(Box::pin(self.gke_list(type_name))
                .await?
                .into_values()
                .find(|s| s.attrs.get("name").and_then(Value::as_str) == Some(name))),
            types::SQL_INSTANCE => Box::pin(self.sql_instance(name)).await,
            types::SQL_USER | types::SN_CONNECTION => Ok(None),
            types::SC_POLICY => Box::pin(self.policy_get(&self.policy_id(name))).await,
            types::REDIS => {
                Box::pin(self.redis_get(&format!("{}/clusters/{name}", self.location()))).await
            }
            types::CDN => Ok(None),
            t => Box::pin(self.compute_get(t, name)).await,
        }
    }

    pub async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>, ProviderError> {
        let found: BTreeMap<String, ResourceState> = match type_name {
            types::CLUSTER | types::NODE_POOL => Box::pin(self.gke_list(type_name)).await?,
            types::SQL_INSTANCE => Box::pin(self.sql_list()).await?,
            types::SQL_USER => Box::pin(self.sql_users(ids)).await?,
            types::REDIS => Box::pin(self.redis_list()).await?,
            types::CDN => Box::pin(self.cdn_list()).await?,
            types::SN_CONNECTION => Box::pin(self.connection_list(ids)).await?,
            types::SC_POLICY => Box::pin(self.policy_list()).await?,
            t => Box::pin(self.compute_list(t))
                .await?
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
        };
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// Creates the object named `name` (adopting one that exists) and waits until it is ready.
    pub async fn create(
        &self,
        type_name: &str,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        match type_name {
            types::CLUSTER => Box::pin(self.gke_cluster_create(name, config)).await,
            types::NODE_POOL => Box::pin(self.gke_pool_create(name, config)).await,
            types::SQL_INSTANCE => Box::pin(self.sql_instance_create(name, config)).await,
            types::SQL_USER => Box::pin(self.sql_user_create(config)).await,
            types::REDIS => Box::pin(self.redis_create(name, config)).await,
            types::CDN => Box::pin(self.cdn_apply(config)).await,
            types::SN_CONNECTION => Box::pin(self.connection_create(config)).await,
            types::SC_POLICY => Box::pin(self.policy_create(name, config)).await,
            t => Box::pin(self.compute_create(t, name, config)).await,
        }
    }

    pub async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        match type_name {
            types::CLUSTER => Box::pin(self.gke_cluster_update(prior, config)).await,
            types::NODE_POOL => Box::pin(self.gke_pool_update(prior, config)).await,
            types::SQL_INSTANCE => Box::pin(self.sql_instance_update(prior, config)).await,
            types::SQL_USER => Err(ProviderError::Invalid(
                "a Cloud SQL user is replaced, never updated".into(),
            )),
            types::REDIS => Box::pin(self.redis_update(prior, config)).await,
            types::CDN => Box::pin(self.cdn_apply(config)).await,
            types::ADDRESS | types::SN_CONNECTION | types::SC_POLICY => Err(
                ProviderError::Invalid(format!("a {type_name} is replaced, never updated")),
            ),
            t => Box::pin(self.compute_update(t, prior, config)).await,
        }
    }

    pub async fn delete(
        &self,
        type_name: &str,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        match type_name {
            types::CLUSTER => Box::pin(self.gke_cluster_delete(&prior.id)).await,
            types::NODE_POOL => Box::pin(self.gke_pool_delete(&prior.id)).await,
            types::SQL_INSTANCE => Box::pin(self.sql_instance_delete(prior)).await,
            types::SQL_USER => Box::pin(self.sql_user_delete(&prior.id)).await,
            types::REDIS => Box::pin(self.redis_delete(&prior.id)).await,
            types::CDN => Box::pin(self.cdn_delete(&prior.id)).await,
            types::SN_CONNECTION => Box::pin(self.connection_delete(prior)).await,
            types::SC_POLICY => Box::pin(self.policy_delete(&prior.id)).await,
            t => Box::pin(self.compute_delete(t, last(&prior.id))).await,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Compute Engine.

    fn compute_state(&self, type_name: &str, o: &Json) -> ResourceState {
        let name = o["name"].as_str().unwrap_or_default();
        let id = self.compute_id(type_name, name);
        let mut pairs = vec![
            ("id", Value::from(id.as_str())),
            ("name", Value::from(name)),
        ];
        match type_name {
            types::NETWORK => {
                pairs.push(("routing_mode", text(&o["routingConfig"]["routingMode"])));
                pairs.push(("self_link", text(&o["selfLink"])));
            }
            types::SUBNETWORK => {
                pairs.push((
                    "network",
                    Value::from(partial(o["network"].as_str().unwrap_or_default())),
                ));
                pairs.push(("cidr", text(&o["ipCidrRange"])));
                pairs.push((
                    "private_ip_google_access",
                    Value::from(o["privateIpGoogleAccess"].as_bool().unwrap_or(false)),
                ));
                pairs.push((
                    "region",
                    Value::from(last(o["region"].as_str().unwrap_or_default())),
                ));
                pairs.push(("gateway_address", text(&o["gatewayAddress"])));
            }
            types::HEALTH_CHECK => {
                pairs.push(("port", num(&o["httpHealthCheck"]["port"])));
                pairs.push(("path", text(&o["httpHealthCheck"]["requestPath"])));
                pairs.push(("interval", num(&o["checkIntervalSec"])));
                pairs.push(("timeout", num(&o["timeoutSec"])));
                pairs.push(("healthy_threshold", num(&o["healthyThreshold"])));
            }
            types::BACKEND_SERVICE => {
                let hc = o["healthChecks"][0].as_str().map(partial);
                pairs.push(("health_check", hc.map_or(Value::Null, Value::from)));
                pairs.push(("session_affinity", text(&o["sessionAffinity"])));
                pairs.push(("timeout_sec", num(&o["timeoutSec"])));
            }
            types::URL_MAP => pairs.push((
                "default_service",
                Value::from(partial(o["defaultService"].as_str().unwrap_or_default())),
            )),
            types::HTTP_PROXY => pairs.push((
                "url_map",
                Value::from(partial(o["urlMap"].as_str().unwrap_or_default())),
            )),
            types::FORWARDING_RULE => {
                pairs.push((
                    "target",
                    Value::from(partial(o["target"].as_str().unwrap_or_default())),
                ));
                let range = o["portRange"].as_str().unwrap_or_default();
                pairs.push((
                    "port",
                    range
                        .split('-')
                        .next()
                        .and_then(|p| p.parse::<f64>().ok())
                        .map_or(Value::Null, Value::from),
                ));
                pairs.push(("ip_address", text(&o["IPAddress"])));
            }
            types::ADDRESS => {
                pairs.push((
                    "network",
                    Value::from(partial(o["network"].as_str().unwrap_or_default())),
                ));
                pairs.push(("purpose", text(&o["purpose"])));
                pairs.push(("prefix_length", num(&o["prefixLength"])));
                pairs.push(("address", text(&o["address"])));
            }
            _ => {}
        }
        state(id, pairs)
    }

    /// The body of an insert (with `name`) or patch (without).
    fn compute_body(&self, type_name: &str, name: Option<&str>, config: &Attrs) -> Json {
        let mut body = match type_name {
            types::NETWORK => json!({
                "autoCreateSubnetworks": false,
                "routingConfig": {"routingMode": cfg_str(config, "routing_mode")},
            }),
            types::SUBNETWORK => json!({
                "network": cfg_str(config, "network"),
                "ipCidrRange": cfg_str(config, "cidr"),
                "privateIpGoogleAccess": cfg_bool(config, "private_ip_google_access", true),
            }),
            types::HEALTH_CHECK => json!({
                "type": "HTTP",
                "httpHealthCheck": {
                    "port": cfg_num(config, "port", 80),
                    "requestPath": cfg_str(config, "path"),
                },
                "checkIntervalSec": cfg_num(config, "interval", 30),
                "timeoutSec": cfg_num(config, "timeout", 5),
                "healthyThreshold": cfg_num(config, "healthy_threshold", 3),
                "unhealthyThreshold": 3,
            }),
            types::BACKEND_SERVICE => json!({
                "healthChecks": [cfg_str(config, "health_check")],
                "protocol": "HTTP",
                "portName": "http",
                "loadBalancingScheme": "EXTERNAL_MANAGED",
                "sessionAffinity": cfg_str(config, "session_affinity"),
                "timeoutSec": cfg_num(config, "timeout_sec", 30),
            }),
            types::URL_MAP => json!({"defaultService": cfg_str(config, "default_service")}),
            types::HTTP_PROXY => json!({"urlMap": cfg_str(config, "url_map")}),
            types::FORWARDING_RULE => json!({
                "target": cfg_str(config, "target"),
                "portRange": cfg_num(config, "port", 80).to_string(),
                "IPProtocol": "TCP",
                "loadBalancingScheme": "EXTERNAL_MANAGED",
            }),
            // No `address`: Google picks a free range of that size.
            types::ADDRESS => json!({
                "network": cfg_str(config, "network"),
                "purpose": cfg_str(config, "purpose"),
                "addressType": "INTERNAL",
                "prefixLength": cfg_num(config, "prefix_length", 16),
            }),
            _ => json!({}),
        };
        if let (Some(n), Some(m)) = (name, body.as_object_mut()) {
            m.insert("name".into(), json!(n));
        }
        body
    }

    pub(crate) async fn compute_get_json(
        &self,
        type_name: &str,
        name: &str,
    ) -> Result<Option<Json>, ProviderError> {
        let c = self.clients().await?;
        let what = format!("get {type_name} {name}");
        // Addresses have no `patch`: they are outside `compute!`.
        let result: Result<Json, GaxError> = if type_name == types::ADDRESS {
            c.addresses
                .get()
                .set_project(self.project())
                .set_address(name)
                .send()
                .await
                .map(|o| js(&o))
        } else {
            compute!(self, c, type_name, |client, named| {
                let b = named!(client.get().set_project(self.project()), name);
                Ok(b.send().await.map(|o| js(&o)))
            })?
        };
        match result {
            Ok(o) => Ok(Some(o)),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&what, &e)),
        }
    }

    async fn compute_get(
        &self,
        type_name: &str,
        name: &str,
    ) -> Result<Option<ResourceState>, ProviderError> {
        Ok(self
            .compute_get_json(type_name, name)
            .await?
            .map(|o| self.compute_state(type_name, &o)))
    }

    async fn compute_list_json(&self, type_name: &str) -> Result<Vec<Json>, ProviderError> {
        let c = self.clients().await?;
        let what = format!("list {type_name}");
        let items: Result<Vec<Json>, GaxError> =
            compute_scoped!(self, c, type_name, |client, scoped| {
                let mut pages = scoped!(client.list()).by_item();
                let mut out = Vec::new();
                let mut failed = None;
                while let Some(item) = pages.next().await {
                    match item {
                        Ok(o) => out.push(js(&o)),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                Ok(match failed {
                    Some(e) => Err(e),
                    None => Ok(out),
                })
            })?;
        items.map_err(|e| provider_error(&what, &e))
    }

    async fn compute_list(&self, type_name: &str) -> Result<Vec<ResourceState>, ProviderError> {
        Ok(self
            .compute_list_json(type_name)
            .await?
            .iter()
            .map(|o| self.compute_state(type_name, o))
            .collect())
    }

    async fn compute_create(
        &self,
        type_name: &str,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        if let Some(found) = self.compute_get(type_name, name).await? {
            tracing::debug!(type_name, name, "adopting");
            return Ok(found);
        }
        let c = self.clients().await?;
        let what = format!("insert {type_name} {name}");
        let body = self.compute_body(type_name, Some(name), config);
        // One requestId for every attempt: a retried insert answers the first one's operation.
        let rid = request_id();
        let result: Result<google_cloud_compute_v1::model::Operation, GaxError> =
            compute_scoped!(self, c, type_name, |client, scoped| {
                let b = scoped!(client.insert())
                    .set_request_id(rid.clone())
                    .set_body(model::<ComputeModel>(&what, body.clone())?)
                    .with_idempotency(true);
                Ok(b.poller().until_done().await)
            })?;
        match result {
            Ok(op) => compute_op_result(&what, &op)?,
            Err(e) if kind(&e) == Kind::AlreadyExists => {}
            Err(e) => {
                // The insert may have happened: look before giving up.
                if let Some(found) = self.compute_get(type_name, name).await? {
                    return Ok(found);
                }
                return Err(provider_error(&what, &e));
            }
        }
        self.compute_get(type_name, name).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }

    async fn compute_patch(
        &self,
        type_name: &str,
        name: &str,
        mut body: Json,
    ) -> Result<(), ProviderError> {
        let c = self.clients().await?;
        let what = format!("patch {type_name} {name}");
        // Objects with a fingerprint take it back, so that a concurrent change is not overwritten.
        if let Some(current) = self.compute_get_json(type_name, name).await?
            && let Some(fp) = current.get("fingerprint").cloned()
            && let Some(m) = body.as_object_mut()
        {
            m.insert("fingerprint".into(), fp);
        }
        let rid = request_id();
        let result: Result<google_cloud_compute_v1::model::Operation, GaxError> =
            compute!(self, c, type_name, |client, named| {
                let b = named!(client.patch().set_project(self.project()), name)
                    .set_request_id(rid.clone())
                    .set_body(model::<ComputeModel>(&what, body.clone())?)
                    .with_idempotency(true);
                Ok(b.poller().until_done().await)
            })?;
        let op = result.map_err(|e| provider_error(&what, &e))?;
        compute_op_result(&what, &op)
    }

    async fn compute_update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let name = last(&prior.id).to_string();
        let body = self.compute_body(type_name, None, config);
        self.compute_patch(type_name, &name, body).await?;
        self.compute_get(type_name, &name)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {name}")))
    }

    async fn compute_delete(&self, type_name: &str, name: &str) -> Result<(), ProviderError> {
        let c = self.clients().await?;
        let what = format!("delete {type_name} {name}");
        let rid = request_id();
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            let result: Result<google_cloud_compute_v1::model::Operation, GaxError> =
                if type_name == types::ADDRESS {
                    c.addresses
                        .delete()
                        .set_project(self.project())
                        .set_address(name)
                        .set_request_id(rid.clone())
                        .with_idempotency(true)
                        .poller()
                        .until_done()
                        .await
                } else {
                    compute!(self, c, type_name, |client, named| {
                        let b = named!(client.delete().set_project(self.project()), name)
                            .set_request_id(rid.clone())
                            .with_idempotency(true);
                        Ok(b.poller().until_done().await)
                    })?
                };
            match result {
                Ok(op) => return compute_op_result(&what, &op),
                Err(e) if kind(&e) == Kind::NotFound => return Ok(()),
                // Still referenced by an object being deleted: wait for it.
                Err(e) if kind(&e) == Kind::Busy && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(provider_error(&what, &e)),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Cloud CDN on a backend service.

    /// backend service name → the address of the forwarding rule in front of it, through the
    /// proxy and URL map (one list of each).
    async fn cdn_origins(&self) -> Result<BTreeMap<String, String>, ProviderError> {
        let rules = self.compute_list_json(types::FORWARDING_RULE).await?;
        let proxies = self.compute_list_json(types::HTTP_PROXY).await?;
        let maps = self.compute_list_json(types::URL_MAP).await?;
        let by_name = |list: &[Json], name: &str, field: &str| -> Option<String> {
            list.iter()
                .find(|o| o["name"].as_str() == Some(name))
                .and_then(|o| o[field].as_str())
                .map(|s| last(s).to_string())
        };
        let mut out = BTreeMap::new();
        for rule in &rules {
            let (Some(target), Some(ip)) = (rule["target"].as_str(), rule["IPAddress"].as_str())
            else {
                continue;
            };
            if !target.contains("/targetHttpProxies/") {
                continue;
            }
            if let Some(map) = by_name(&proxies, last(target), "urlMap")
                && let Some(service) = by_name(&maps, &map, "defaultService")
            {
                out.entry(service).or_insert_with(|| ip.to_string());
            }
        }
        Ok(out)
    }

    fn cdn_state(&self, o: &Json, origin: &str) -> Option<ResourceState> {
        if o["enableCDN"].as_bool() != Some(true) {
            return None;
        }
        let name = o["name"].as_str().unwrap_or_default();
        let p = &o["cdnPolicy"];
        Some(state(
            self.compute_id(types::BACKEND_SERVICE, name),
            vec![
                ("origin", Value::from(origin)),
                ("cache_mode", text(&p["cacheMode"])),
                ("default_ttl", num(&p["defaultTtl"])),
                ("max_ttl", num(&p["maxTtl"])),
                ("client_ttl", num(&p["clientTtl"])),
                (
                    "compression",
                    Value::from(o["compressionMode"].as_str() == Some("AUTOMATIC")),
                ),
                ("backend_service", Value::from(name)),
                ("domain_name", Value::from(origin)),
            ],
        ))
    }

    async fn cdn_list(&self) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let origins = self.cdn_origins().await?;
        let services = self.compute_list_json(types::BACKEND_SERVICE).await?;
        Ok(services
            .iter()
            .filter_map(|o| {
                let name = o["name"].as_str()?;
                let origin = origins.get(name).map_or("", String::as_str);
                self.cdn_state(o, origin)
            })
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Enables (or re-configures) Cloud CDN on the backend service behind `origin`: a patch,
    /// so repeating it is harmless.
    async fn cdn_apply(&self, config: &Attrs) -> Result<ResourceState, ProviderError> {
        let origin = cfg_str(config, "origin");
        let origins = self.cdn_origins().await?;
        let Some(service) = origins
            .iter()
            .find(|(_, ip)| **ip == origin)
            .map(|(s, _)| s.clone())
        else {
            return Err(ProviderError::Invalid(format!(
                "cdn: no load balancer of project {} answers at {origin:?}: Cloud CDN is enabled \
                 on the backend service of a load balancer, so `origin` must be a \
                 load_balancer's dns_name",
                self.project()
            )));
        };
        let mode = cfg_str(config, "cache_mode");
        // With USE_ORIGIN_HEADERS the origin's Cache-Control decides, and the API refuses any
        // TTL (400); the other modes take all three.
        let policy = if mode == types::ORIGIN_HEADERS {
            json!({"cacheMode": mode})
        } else {
            json!({
                "cacheMode": mode,
                "defaultTtl": cfg_num(config, "default_ttl", 3600),
                "maxTtl": cfg_num(config, "max_ttl", 86400),
                "clientTtl": cfg_num(config, "client_ttl", 3600),
            })
        };
        let body = json!({
            "enableCDN": true,
            "cdnPolicy": policy,
            "compressionMode": if cfg_bool(config, "compression", true) { "AUTOMATIC" } else { "DISABLED" },
        });
        self.compute_patch(types::BACKEND_SERVICE, &service, body)
            .await?;
        let o = self
            .compute_get_json(types::BACKEND_SERVICE, &service)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("backend service {service}")))?;
        self.cdn_state(&o, &origin)
            .ok_or_else(|| ProviderError::Transient(format!("cdn on {service}: not enabled yet")))
    }

    async fn cdn_delete(&self, id: &str) -> Result<(), ProviderError> {
        let service = last(id);
        if self
            .compute_get_json(types::BACKEND_SERVICE, service)
            .await?
            .is_none()
        {
            return Ok(());
        }
        self.compute_patch(types::BACKEND_SERVICE, service, json!({"enableCDN": false}))
            .await
    }
}
