//! The Google Cloud provider `gcp`: the portable components as Google Cloud objects, through
//! Google's official Rust clients (`google-cloud-sql-v1`, `google-cloud-redis-cluster-v1`,
//! `google-cloud-container-v1`, `google-cloud-compute-v1` with only the collections used here,
//! `google-cloud-lro` for long-running operations, `google-cloud-auth` for credentials), and
//! `reqwest` for the APIs without a client here (`rest.rs`): the two network APIs and
//! Memorystore for Redis instances.
//!
//! ```hcl
//! provider "gcp" {
//!   project = "my-project"
//!   region  = "europe-west1"
//!   # zones = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]  # default: the region's first three
//!   # endpoint_overrides = { sqladmin = URL, redis = URL, container = URL, compute = URL,
//!   #                        servicenetworking = URL, networkconnectivity = URL, token = URL }
//!   # ready_timeout = 3600        # seconds to wait for an operation / an object to be ready
//! }
//! ```
//!
//! `endpoint_overrides` takes the base URL of each API as `ClientBuilder::with_endpoint` does
//! (`https://compute.googleapis.com`, without the service path) and the URL of an OAuth2 token
//! endpoint; the keys are those of the first line `gcp-sim` prints.
//!
//! # Credentials
//!
//! Application Default Credentials, looked up in order (see `auth.rs`):
//! `GOOGLE_APPLICATION_CREDENTIALS` (a key or credentials file), gcloud's
//! `application_default_credentials.json` (under `CLOUDSDK_CONFIG`, else
//! `~/.config/gcloud`), then the metadata server (`GCE_METADATA_HOST`, else
//! `metadata.google.internal`). They are needed by the first request, not before: `ss
//! validate` works without them. When nothing works, the error names every place looked at.
//!
//! **Where google-cloud-auth falls short**: its service-account credentials always mint a
//! self-signed JWT locally and send it as the bearer token; they never call the key's
//! `token_uri` (google-cloud-auth 1.19, `ServiceAccountTokenProvider::token`). Google accepts
//! that, but a token endpoint override (a simulator, a proxy) is never consulted. So with
//! `endpoint_overrides.token` set, a service-account key is exchanged there with the RFC 7523
//! JWT-bearer grant: the assertion is signed by google-cloud-auth's `Signer` (the key stays
//! in it), and that one form POST is made with `reqwest` (the version google-cloud-auth
//! uses). Everything else (every API call) goes through the client crates, plain-HTTP
//! endpoints included.
//!
//! # Retries, operations, idempotency
//!
//! Each client retries (up to 8 attempts, 100 ms doubling to 5 s) what was not carried out
//! (429) and, for idempotent requests, 5xx and transport failures. Reads are idempotent;
//! compute inserts / patches / deletes and Redis cluster creates / updates / deletes carry a
//! `requestId` (one UUID for all attempts) and are marked idempotent, so a repeated call
//! answers the first one's operation instead of doing it twice. Cloud SQL and GKE have no
//! request ids: their creates look the deterministic name up first, and after a failure look
//! again before giving up. Long-running operations are polled to the end with backoff:
//! compute and Redis through the crates' `google-cloud-lro` pollers (200 ms growing to 10 s),
//! Cloud SQL (`sqladmin` operations) and GKE (`container` operations) by the provider with the
//! kit's readiness polling (`kit::wait`, 100 ms growing to 5 s), since those APIs' operations
//! are not `google.longrunning` ones. GKE and Cloud SQL run one operation at
//! a time per cluster / primary: the provider serialises its own and waits out a busy answer.
//!
//! Refresh is batched: one list per type (compute collections per project or region, GKE
//! clusters per location with their node pools embedded, Cloud SQL instances per project,
//! Redis clusters and service connection policies per location, Cloud SQL users per instance,
//! private services access connections per network).
//!
//! # Components
//!
//! | component | native types (local names) | API |
//! |---|---|---|
//! | `network` | `gcp_compute_network` (`network`, custom subnet mode), `gcp_compute_subnetwork` (`subnet`: the whole `cidr`, one regional subnetwork serves every zone), `gcp_compute_global_address` (`peering_range`: `VPC_PEERING`, a /16 Google places), `gcp_service_networking_connection` (`private_services`: the private services access connection, `reservedPeeringRanges` = that range), `gcp_network_connectivity_service_connection_policy` (`psc_policy`: `serviceClass` `gcp-memorystore-redis` on the subnetwork) | compute `networks`, `subnetworks`, `globalAddresses`; servicenetworking `services.connections`; networkconnectivity `serviceConnectionPolicies` |
//! | `kubernetes_cluster` | `gcp_container_cluster` (`cluster`: regional, across the zones, VPC-native; its bootstrap `default-pool` removed), `gcp_container_node_pool` (`pool_<label>`, one after another: autoscaling `totalMin/MaxNodeCount` = the pool's `min`/`max`, `initialNodeCount` = `min` / zones per zone, the node label `node.ss.internal/pool` = the pool's label) | container `projects.locations.clusters[.nodePools]` |
//! | `postgres` | `gcp_sql_instance` (`primary`: `availabilityType = REGIONAL` when `high_availability`, backups with PITR, private IP on the network; `replica_N`: `masterInstanceName` = the primary), `gcp_sql_user` (`user`) | sqladmin `instances`, `users` |
//! | `redis` | `gcp_redis_instance` (`redis`: Memorystore for Redis, `STANDARD_HA`, `readReplicasMode` `READ_REPLICAS_ENABLED`, `replicaCount` = `replicas`, the primary in the first zone and a replica in the second, `connectMode` `PRIVATE_SERVICE_ACCESS` on the network; no AUTH, no TLS; memory and replicas changed in place, one `updateMask` field each) | redis `projects.locations.instances` (through `rest.rs`) |
//! | `superset` | the kubernetes crate's objects (`kubernetes_object`, `generated_secret`) in the GKE cluster `gke:<cluster id>` (`placement.rs`) | container `clusters.get`, then the Kubernetes API |
//! | `redis_cluster` | `gcp_redis_cluster` (`cluster`: `shardCount`, `replicaCount`, `MULTI_ZONE`, PSC on the network; scaled one `update_mask` field per update, shards then replicas, each awaited to ACTIVE; `network` read from `pscConnections` / `discoveryEndpoints` / `clusterEndpoints`, what the API answers) | redis `projects.locations.clusters` |
//! | `load_balancer` | `gcp_compute_health_check` (`portSpecification` `USE_SERVING_PORT`: each endpoint of the web pods' NEG probed on its own port), `gcp_compute_backend_service` (`EXTERNAL_MANAGED`, `sessionAffinity` NONE / GENERATED_COOKIE), `gcp_compute_url_map`, `gcp_compute_target_http_proxy` (`proxy`), `gcp_compute_global_forwarding_rule` (`dns_name` = its address) | compute `healthChecks`, `backendServices`, `urlMaps`, `targetHttpProxies`, `globalForwardingRules` |
//! | `cdn` | `gcp_compute_backend_service_cdn` (`cdn`): `enableCDN` and `cdnPolicy` on the backend service of the load balancer whose address is `origin` | compute `backendServices.patch` |
//!
//! # Prerequisites of a network
//!
//! Cloud SQL's private IP needs private services access on the network (a `VPC_PEERING`
//! global address and the `servicenetworking` connection allocating from it), and
//! Memorystore's Private Service Connect needs a service connection policy for its service
//! class; the real APIs refuse the creates without them (`sql/sqlinstanceprivatenetwork@…`,
//! `redis/basicrediscluster@…`). They are part of the `network` component's expansion, not of
//! `postgres` or `redis_cluster`: each exists once per network (a second connection or a
//! second policy of the same class on the network is refused) while several databases and
//! caches may share the network; and since every native of a component depends on every
//! native of the components it references, each database and cache is created after them and
//! destroyed before them, and they go before the network. The cost: a few free objects on a
//! network no database uses, and a GKE cluster on the network waits for them too.
//!
//! servicenetworking has no official Rust client, and networkconnectivity's client crate would
//! be compiled for four calls: both are called with `reqwest` (`rest.rs`), with the
//! credentials' headers and the clients' retry policy. servicenetworking names the network by
//! the project's number, which compute's `projects.get` answers (asked once). The connection
//! has no name of its own: create lists the network's connections and adopts the one there
//! (that API has no request id), and refresh lists per network. The policy has a deterministic
//! name and a `requestId`. Deleting the connection waits while Cloud SQL still uses it (a
//! failed operation with code 9, as Google answers), up to `ready_timeout`.
//!
//! # Versions on offer
//!
//! `kubernetes_cluster.version` defaults to 1.36, the default minor of GKE's default (REGULAR)
//! channel in December 2026, and is exported. At plan time `check_offers` asks
//! `projects.locations.getServerConfig` once per provider and refuses a minor the REGULAR
//! channel does not offer in the region, naming those it does; a failure to ask is only
//! logged (debug).
//!
//! # Errors
//!
//! Compute error bodies carry `code`, `message` and `errors[]` but no `status`, so the client
//! reports the code `Unknown`; google-cloud-gax keeps each `errors[]` entry as an `ErrorInfo`
//! detail, and `error.rs` classifies `resourceInUseByAnotherResource`, `resourceNotReady` and
//! `operationInProgress` as busy: a delete refused because a dependant is still being deleted
//! waits, up to `ready_timeout`.
//!
//! # Cloud CDN
//!
//! Cloud CDN caches per backend service, not per path: the `/*` rule's TTL (else the
//! shortest) becomes `defaultTtl`, the longest becomes `maxTtl` and `clientTtl`
//! (`cacheMode = CACHE_ALL_STATIC`); `compression` non-empty sets `compressionMode =
//! AUTOMATIC` (brotli and gzip). The native `gcp_compute_backend_service_cdn` also takes
//! `cache_mode = "USE_ORIGIN_HEADERS"`: then no TTL is sent (the API refuses them), none is
//! read back, and setting one is a validation error. `http3` is a setting of HTTPS proxies
//! (`quicOverride`), and the chain here is HTTP: it is not mapped.
//!
//! # Size classes
//!
//! | class | node pool (machine type) | postgres (Cloud SQL tier) | redis_cluster (node type) | redis (memory) |
//! |---|---|---|---|---|
//! | `small` | `e2-standard-2` | `db-custom-2-7680` | `REDIS_SHARED_CORE_NANO` | 5 GB |
//! | `medium` | `e2-standard-4` | `db-custom-4-15360` | `REDIS_STANDARD_SMALL` | 16 GB |
//! | `large` | `e2-standard-8` | `db-custom-8-30720` | `REDIS_HIGHMEM_MEDIUM` | 64 GB |
//! | `xlarge` | `e2-standard-16` | `db-custom-16-61440` | `REDIS_HIGHMEM_XLARGE` | 128 GB |
//!
//! Any other `size` is passed through as the native name; a `redis` takes a number of GB (at
//! least 5, the smallest Memorystore instance with read replicas). A `redis` `version` is
//! served by the offered `redisVersion` equal to it or the lowest above it in its major
//! (7.1 → `REDIS_7_2`, with a warning); a version with none is a validation error.
//!
//! # Not (yet) mapped
//!
//! - `postgres.pooler` (Cloud SQL managed connection pooling) is ignored with a warning.
//! - Passwords: Cloud SQL never returns one, so a user's `password` is known from its
//!   creation only: a refresh reads it as null, and the attribute is marked `write_only` in
//!   the schema, so the planner keeps the recorded value (no drift, no loss). A password
//!   changed outside ss is not seen.
//! - TLS: the load balancer is an HTTP proxy on the configured port (Google accepts 80 and
//!   8080 for it; other ports get a warning); certificates and an HTTPS proxy are not mapped.
//!   The backend service gets no backends: the cluster's ingress (NEGs) registers them.
//! - `redis_cluster.version` (Memorystore Redis Cluster has no version setting).

mod api;
mod auth;
mod cdn;
mod clients;
mod compute;
mod error;
mod expand;
mod gke;
mod json;
mod lb;
mod memorystore;
mod network;
mod networkconnectivity;
mod placement;
mod redis;
mod rest;
mod servicenetworking;
mod settings;
mod sql;
mod types;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::{endpoint_url, ready_timeout, required_text, zones};
use provider_api::kit::schema::{list, map, n, s};
use provider_api::kit::{Cloud, Expanded, Factory, Kit, Service};
use provider_api::schema::{AttributeSchema, Body, ProviderSchema, ResourceSchema};
use provider_api::{Attrs, Diagnostic, PlanResponse, ResourceState, Value, component};

pub use clients::Endpoints;
pub use expand::{Family, machine};
pub use settings::{Settings, region_zones};

use api::Api;
use compute::{Compute, Resource};

pub const NAME: &str = "gcp";

/// Every native type, one service module after another.
pub const NATIVE_TYPES: [&str; 17] = [
    network::NETWORK,
    network::SUBNETWORK,
    gke::CLUSTER,
    gke::NODE_POOL,
    sql::SQL_INSTANCE,
    sql::SQL_USER,
    redis::REDIS,
    memorystore::REDIS_INSTANCE,
    lb::HEALTH_CHECK,
    lb::BACKEND_SERVICE,
    lb::URL_MAP,
    lb::HTTP_PROXY,
    lb::FORWARDING_RULE,
    cdn::CDN,
    network::ADDRESS,
    servicenetworking::SN_CONNECTION,
    networkconnectivity::SC_POLICY,
];

/// The keys `endpoint_overrides` accepts.
pub const ENDPOINT_KEYS: [&str; 7] = [
    "sqladmin",
    "redis",
    "container",
    "compute",
    "servicenetworking",
    "networkconnectivity",
    "token",
];

/// Schema of the provider block.
pub fn config_schema() -> Body {
    Body::default()
        .attr(
            "project",
            AttributeSchema::required(s(), "Google Cloud project id"),
        )
        .attr(
            "region",
            AttributeSchema::required(s(), "Region, like europe-west1"),
        )
        .attr(
            "zones",
            AttributeSchema::optional(list(s()), "Zones of the region (default: REGION-a, -b, -c)"),
        )
        .attr(
            "endpoint_overrides",
            AttributeSchema::optional(
                map(s()),
                "Base URLs: sqladmin, redis, container, compute, servicenetworking, \
                 networkconnectivity, and an OAuth2 token URL",
            ),
        )
        .attr(
            "ready_timeout",
            AttributeSchema::optional(
                n(),
                "Seconds to wait for an operation or object (default 3600)",
            ),
        )
}

/// The `gcp` provider: the [`Kit`] of [`Gcp`] and its service modules.
pub type GcpProvider = Kit<Gcp>;

/// What the provider says about Google Cloud beyond its services' calls.
#[derive(Debug)]
pub struct Gcp {
    api: Arc<Api>,
    /// What GKE offers in the region, once asked ([`Cloud::check_offers`]).
    gke_offer: tokio::sync::OnceCell<gke::Offer>,
}

impl Gcp {
    /// The project, region and zones of the provider block.
    pub fn settings(&self) -> &Settings {
        &self.api.settings
    }

    /// How this provider reaches its GKE clusters (`gke:<cluster id>` references).
    pub fn clusters(&self) -> Arc<dyn kubernetes::object::Clusters> {
        Arc::new(placement::GkeClusters::new(self.api.clone()))
    }
}

/// The provider as a registry entry.
pub fn factory() -> Factory {
    Factory::new(NAME, config_schema, configure)
}

/// Builds the provider from the evaluated provider block, with credentials from the process
/// environment.
pub fn configure(config: &Attrs, _spec_dir: &Path) -> Result<GcpProvider, Vec<Diagnostic>> {
    configure_with_env(config, |k| std::env::var(k).ok())
}

/// The `endpoint_overrides` of the provider block.
fn endpoints(config: &Attrs, diags: &mut Vec<Diagnostic>) -> Endpoints {
    let mut endpoints = Endpoints::default();
    let Some(overrides) = config.get("endpoint_overrides").and_then(Value::as_map) else {
        return endpoints;
    };
    for (k, v) in overrides {
        let Some(url) = endpoint_url(v, &["endpoint_overrides", k.as_str()], diags) else {
            continue;
        };
        match k.as_str() {
            "sqladmin" => endpoints.sqladmin = url,
            "redis" => endpoints.redis = url,
            "container" => endpoints.container = url,
            "compute" => endpoints.compute = url,
            "servicenetworking" => endpoints.servicenetworking = url,
            "networkconnectivity" => endpoints.networkconnectivity = url,
            "token" => endpoints.token = Some(url),
            other => diags.push(
                Diagnostic::error(format!(
                    "unknown endpoint {other:?}; the keys are {}",
                    ENDPOINT_KEYS.join(", ")
                ))
                .at(["endpoint_overrides", other]),
            ),
        }
    }
    endpoints
}

/// [`configure`] with the environment given as a function (for tests).
pub fn configure_with_env(
    config: &Attrs,
    env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Result<GcpProvider, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let project = required_text(config, "project", &mut diags);
    let region = required_text(config, "region", &mut diags).unwrap_or_default();
    let zones = zones(config, || region_zones(&region), &mut diags);
    let endpoints = endpoints(config, &mut diags);
    let ready_timeout = ready_timeout(config, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let Some(project) = project else {
        return Err(vec![Diagnostic::error("incomplete provider configuration")]);
    };
    let settings = Settings {
        project,
        region,
        zones,
    };
    let api = Arc::new(Api::new(settings, endpoints, Arc::new(env), ready_timeout));
    let services: Vec<Arc<dyn Service>> = vec![
        Arc::new(Compute::<network::Network>::new(api.clone())),
        Arc::new(Compute::<network::Subnetwork>::new(api.clone())),
        Arc::new(Compute::<network::GlobalAddress>::new(api.clone())),
        Arc::new(Compute::<lb::HealthCheck>::new(api.clone())),
        Arc::new(Compute::<lb::BackendService>::new(api.clone())),
        Arc::new(Compute::<lb::UrlMap>::new(api.clone())),
        Arc::new(Compute::<lb::TargetHttpProxy>::new(api.clone())),
        Arc::new(Compute::<lb::ForwardingRule>::new(api.clone())),
        Arc::new(cdn::Cdn { api: api.clone() }),
        Arc::new(gke::Gke { api: api.clone() }),
        Arc::new(sql::Sql { api: api.clone() }),
        Arc::new(redis::Redis { api: api.clone() }),
        Arc::new(memorystore::Memorystore { api: api.clone() }),
        Arc::new(servicenetworking::ServiceNetworking::new(api.clone())),
        Arc::new(networkconnectivity::NetworkConnectivity { api: api.clone() }),
        // The `superset` component's objects, in GKE clusters or one a kubeconfig names.
        Arc::new(
            kubernetes::object::Objects::new(ready_timeout).with_clusters(
                placement::CLOUD,
                Arc::new(placement::GkeClusters::new(api.clone())),
            ),
        ),
        Arc::new(kubernetes::generated::Generated),
    ];
    let schema = ProviderSchema {
        config: config_schema(),
        resources: schemas(),
        components: component::ALL.iter().map(|c| c.to_string()).collect(),
    };
    let gcp = Gcp {
        api,
        gke_offer: tokio::sync::OnceCell::new(),
    };
    Ok(Kit::new(gcp, schema, services))
}

/// The schemas of the native types, from their service modules.
fn schemas() -> std::collections::BTreeMap<String, ResourceSchema> {
    [
        network::Network::schema(),
        network::Subnetwork::schema(),
        network::GlobalAddress::schema(),
        lb::HealthCheck::schema(),
        lb::BackendService::schema(),
        lb::UrlMap::schema(),
        lb::TargetHttpProxy::schema(),
        lb::ForwardingRule::schema(),
        cdn::schema(),
        redis::schema(),
        memorystore::schema(),
        servicenetworking::schema(),
        networkconnectivity::schema(),
    ]
    .into_iter()
    .chain(kubernetes::schemas())
    .chain(gke::schemas())
    .chain(sql::schemas())
    .map(|schema| (schema.type_name.clone(), schema))
    .collect()
}

#[async_trait]
impl Cloud for Gcp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name == kubernetes::object::OBJECT {
            return kubernetes::object::validate(config);
        }
        expand::validate(&self.api.settings, type_name, config)
    }

    fn adjust_plan(&self, type_name: &str, plan: &mut PlanResponse) {
        if type_name == kubernetes::object::OBJECT {
            kubernetes::object::adjust_plan(plan);
        }
    }

    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name != component::KUBERNETES_CLUSTER {
            return Vec::new();
        }
        let (version, configured) = match config.get("version") {
            Some(Value::String(v)) => (v.clone(), true),
            None | Some(Value::Null) => (expand::DEFAULT_K8S_VERSION.to_string(), false),
            // Unknown until apply: nothing to check yet.
            Some(_) => return Vec::new(),
        };
        // Asked once for the life of the provider; a failure is not kept (the next check
        // asks again).
        let asked = self
            .gke_offer
            .get_or_try_init(|| Box::pin(gke::ask_offer(&self.api)));
        let offer = match Box::pin(asked).await {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask GKE which versions it offers");
                return Vec::new();
            }
        };
        if offer.minors.is_empty() || offer.offers(&version) {
            return Vec::new();
        }
        let offered = offer.minors.join(", ");
        let region = &self.api.settings.region;
        let message = if configured {
            format!(
                "GKE does not offer Kubernetes {version} in {region} (REGULAR channel); \
                 offered: {offered}"
            )
        } else {
            format!(
                "GKE no longer offers this provider's default Kubernetes {version} in {region} \
                 (REGULAR channel): set `version` to one of {offered}"
            )
        };
        vec![Diagnostic::error(message).at(["version"])]
    }

    fn expand(&self, type_name: &str, config: &Attrs) -> Option<Expanded> {
        expand::expand(&self.api.settings, type_name, config)
    }

    fn normalise(&self, type_name: &str, prior: Option<&ResourceState>, proposed: &mut Attrs) {
        match type_name {
            gke::CLUSTER => gke::normalise(prior, proposed),
            cdn::CDN => cdn::normalise(proposed),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn provider_block_is_checked() {
        let bad = config(&[
            ("project", Value::from("")),
            ("region", Value::from("europe-west1")),
            (
                "endpoint_overrides",
                Value::Map(Attrs::from([
                    ("compute".to_string(), Value::from("ftp://x")),
                    ("storage".to_string(), Value::from("http://x")),
                ])),
            ),
        ]);
        let diags = configure_with_env(&bad, |_| None).expect_err("refused");
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(diags.len(), 3, "{text:?}");
        assert!(text.iter().any(|d| d.starts_with("project:")), "{text:?}");
        assert!(
            text.iter()
                .any(|d| d.contains("unknown endpoint \"storage\"")),
            "{text:?}"
        );
        let good = config(&[
            ("project", Value::from("p")),
            ("region", Value::from("europe-west1")),
        ]);
        let p = configure_with_env(&good, |_| None).expect("configured");
        assert_eq!(p.settings().zones.len(), 3);
        assert_eq!(
            p.api.endpoints.compute,
            "https://compute.googleapis.com".to_string()
        );
    }

    #[test]
    fn a_gke_version_is_a_minimum() {
        assert!(gke::satisfies("1.33", "1.31"));
        assert!(gke::satisfies("1.31", "1.31"));
        assert!(!gke::satisfies("1.30", "1.31"));
        assert_eq!(gke::minor("1.33.5-gke.1162000"), "1.33");
    }
}
