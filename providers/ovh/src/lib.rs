//! The OVHcloud provider `ovh`: the portable components as OVH Public Cloud objects, through
//! the OVH API v1 (`reqwest` on rustls with the aws-lc-rs crypto provider).
//!
//! ```hcl
//! provider "ovh" {
//!   endpoint   = "ovh-eu"          # ovh-eu | ovh-ca | ovh-us | an http(s) URL ending in /v1
//!   project_id = "0123abcd…"       # the Public Cloud project (the API's {serviceName})
//!   region     = "EU-WEST-PAR"     # a 3-AZ region gets one subnet and node pool per zone
//!   # zones       = ["eu-west-par-a", …]  # overrides the built-in zone table
//!   # cdn_service = "cdn-123.ovh.net"     # the CDN dedicated service, for `cdn`
//!   # cdn_zone    = "cdn.example.com"     # DNS zone whose names the CDN serves
//!   # ready_timeout = 3600                # seconds to wait for an object to become ready
//! }
//! ```
//!
//! Credentials come from the environment: `OVH_APPLICATION_KEY`, `OVH_APPLICATION_SECRET`,
//! `OVH_CONSUMER_KEY` (signed requests, the timestamp corrected once by `GET /auth/time`), or
//! `OVH_CLIENT_ID` / `OVH_CLIENT_SECRET` (OAuth2 client credentials, named endpoints only).
//! They are needed by the first request, not before: `ss validate` works without them. Wrong
//! credentials are one error naming the variables, never retried.
//!
//! Requests that are safe to repeat are repeated by the client (up to 4 times, 100 ms
//! doubling, with jitter): anything answered 429 (it was not carried out) and reads (`GET`, the
//! kubeconfig) answered 5xx or lost in transit. A create answered 5xx is not repeated blindly:
//! it may have happened, so the provider looks the name up and adopts what it finds.
//!
//! # Components
//!
//! | component | native types (local names) | API paths (under `/cloud/project/{serviceName}`) |
//! |---|---|---|
//! | `network` | `ovh_cloud_network` (`network`), `ovh_cloud_subnet` (`subnet_0`…, one per zone of a 3-AZ region, else one) | `POST /region/{regionName}/network` (an operation, polled at `/operation/{operationId}`), `…/network/{networkId}/subnet` |
//! | `kubernetes_cluster` | `ovh_cloud_kube` (`cluster`), `ovh_cloud_kube_nodepool` (`pool_<label>_<zone>` in 3-AZ regions with `min`/`max` divided by the zone count, rounded up; else `pool_<label>`; every node labelled `node.ss.internal/pool=<label>` through the pool's template) | `/kube`, `/kube/{kubeId}/nodepool`, `/kube/{kubeId}/update` (one minor at a time), `/kube/{kubeId}/kubeconfig` (for the CA) |
//! | `kubernetes_cluster` `version` | the minor (default [`DEFAULT_K8S_VERSION`], exported as `version`); the API answers the patch build (`1.32.9-1`), which is read back as its minor | |
//! | `postgres` | `ovh_cloud_database_postgresql` (`service`), plan by region (below); IP restrictions in the service body (the network's subnets); `ovh_cloud_database_postgresql_user` (`user`): the service's administrator `avnadmin` (exported as `username`; the component's `username` is not used), adopted with a new password (exported as `password`, sensitive) | `/database/postgresql`, `…/{clusterId}/user`, `…/user/{userId}/credentials/reset` |
//! | `redis_cluster` | `ovh_cloud_database_valkey` (`service`): plan `production`, `replicas_per_shard + 1` nodes; `shards` must be 1 | `/database/valkey` (`engine = "redis"`: `/database/redis`) |
//! | `redis` | `ovh_cloud_database_valkey` (`service`): plan `production`, `replicas + 1` nodes (at most 3), one endpoint that follows a failover (also `reader_endpoint`); `ovh_cloud_database_valkey_user` (`user`): the service's `default` user, adopted with a new password (exported as `password`, sensitive) | `/database/valkey`, `…/{clusterId}/user`, `…/user/{userId}/credentials/reset` |
//! | `superset` | `generated_secret` and `kubernetes_object`s (the shared expansion of the `kubernetes` crate) in the cluster `ovh:<kube id>`, reached through `POST /kube/{kubeId}/kubeconfig`; pods on the pools' `node.ss.internal/pool` label; the web Service a NodePort (30080) for the load balancer; Redis over TLS; metadata in `defaultdb` | `/kube/{kubeId}/kubeconfig` |
//! | `load_balancer` | `ovh_cloud_loadbalancer` (`lb`, with a new floating IP), `…_listener` (`listener`), `…_pool` (`pool`), `…_health_monitor` (`health_monitor`) | `/region/{regionName}/loadbalancing/{loadbalancer,listener,pool,healthMonitor,flavor}`; the load balancer create is an operation |
//! | `cdn` | `ovh_cdn_domain` (`domain`), `ovh_cdn_backend` (`backend`, the origin: an IPv4), `ovh_cdn_cache_rule` (`cache_rule_N`) | `/cdn/dedicated/{serviceName}/domains/{domain}[/backends|/cacheRules]` |
//!
//! Every object is named from its identity ([`provider_api::deterministic_name`]); a create
//! first looks the name up and adopts what it finds, and a create answered by a 5xx looks again
//! before giving up (databases carry the name in `description`, CDN domains in the host name).
//!
//! # What each region sells, and the defaults
//!
//! OVH sells two generations of managed databases (its guide "Migrate from Gen 2 to Gen 3",
//! `ovh/docs@149a8f56:pages/public_cloud/public_cloud_databases/databases_20_migrate_from_gen2_to_gen3/guide.en-gb.md`,
//! 2026-05-05; plan codes from OVH's public cloud catalogue of 2026-01-27,
//! `feoche/public-cost-indicator@f5deddb1:catalogue-produits.md`):
//!
//! | | 3-AZ regions (`EU-WEST-PAR`, `EU-SOUTH-MIL`) | 1-AZ regions (`GRA11`, `SBG`, …) |
//! |---|---|---|
//! | PostgreSQL | Gen 3 only (`.3az` plan codes): `production` (2 nodes: no HA, or HA or 1 replica), `advanced` (3: 2 replicas), on `b3-*` | Gen 2: `essential` (1 node, up to `db1-30`), `business` (2: HA or 1 replica), `enterprise` (3: 2 replicas), on `db1-*` |
//! | Valkey | `production` on `b3-*` | `production` on `b3-*` (no Gen 2 Valkey plan exists) |
//!
//! | class | node pool | postgres, 3-AZ | postgres, 1-AZ | redis_cluster (Valkey) |
//! |---|---|---|---|---|
//! | `small` | `b3-8` (2 vCPU, 8 GB) | `b3-8` | `db1-7` (2 vCPU, 7 GB) | `b3-8` |
//! | `medium` | `b3-16` (4 vCPU, 16 GB) | `b3-16` | `db1-15` (4 vCPU, 15 GB) | `b3-16` |
//! | `large` | `b3-32` (8 vCPU, 32 GB) | `b3-32` | `db1-30` (8 vCPU, 30 GB) | `b3-32` |
//! | `xlarge` | `b3-64` (16 vCPU, 64 GB) | `b3-64` | `db1-60` (16 vCPU, 60 GB) | `b3-64` |
//!
//! A region is 3-AZ when it has zones (the built-in table or the `zones` setting).
//! Kubernetes defaults to [`DEFAULT_K8S_VERSION`] (`1.34`), the newest minor of
//! `cloud.kube.VersionEnum` in OVH's API description (copy of 2026-04-03 in
//! `sims/api-specs/ovh/cloud.v1.json`; upstream support of 1.34 ends 2026-10-27, so set
//! `version` when OVH offers a newer minor).
//!
//! At plan time ([`provider_api::Provider::check_offers`]) the choices are compared with what OVH says it
//! sells now: the Kubernetes minors of `cloud.kube.VersionEnum` in the API's own description
//! (`GET /cloud.json`, unauthenticated, as OVH's control panel reads them), the region's node
//! flavors (`GET …/capabilities/kube/flavors?region=`), the engine
//! versions of `GET …/database/capabilities`, and the per-region engine, plan, flavor and
//! node-count rows of `GET …/database/availability` (the capabilities model has no region).
//! A choice the region does not sell is an error located at the attribute that made it,
//! naming what is sold; failing to ask (no credentials, an outage) skips the check.
//!
//! Any other `size` is passed through as an OVH flavor name.
//!
//! # Not (yet) mapped
//!
//! `postgres.pooler` (OVH connection pools) is ignored with a warning, and `password` cannot
//! be set (OVH generates it). `cdn.compression` and `cdn.http3` have no setting in the CDN
//! dedicated API. The load balancer's pool gets no members yet: the nodes, on Superset's
//! NodePort, are to be registered as they join and leave the node pools.

//! # Layout
//!
//! One module per API family, each the [`Objects`](object::Objects) of its native types (their
//! schemas, request bodies, lookups, reads and readiness) made a kit service by
//! [`Managed`](object::Managed): [`network`], [`kube`], [`database`], [`loadbalancer`],
//! [`cdn`]; [`dbuser`] (a database user and the password only its create shows) is a kit
//! service of its own. [`app`] says where Superset runs and how ss reaches an OVH cluster. Below them: the signed [`client`], the route table ([`routes`]), the project's
//! view of the API with OVH operations ([`api`]), JSON helpers ([`json`]) and the provider
//! block's [`settings`]. Above them: the expansion of the portable components ([`expand`]) and
//! the offer checks ([`offers`]); this file ties them into [`Ovh`], the kit's [`Cloud`].

mod api;
mod app;
mod cdn;
mod client;
mod database;
mod dbuser;
mod expand;
mod json;
mod kube;
mod loadbalancer;
mod network;
mod object;
mod offers;
mod routes;
mod settings;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::schema::{list, n, s};
use provider_api::kit::{self, Cloud, Expanded, Factory, Kit, Service};
use provider_api::schema::{AttributeSchema, Body, ProviderSchema};
use provider_api::{Attrs, Diagnostic, PlanResponse, Value, component};

pub use client::{Client, Credentials, signature};
pub use expand::{DEFAULT_K8S_VERSION, Family, flavor};
pub use kube::k8s_minor;
pub use routes::{ROUTES, Route};
pub use settings::{Settings, region_zones};

use api::Api;
use object::Managed;

pub const NAME: &str = "ovh";

/// Every native type, by API family.
pub const NATIVE_TYPES: [&str; 15] = [
    network::NETWORK,
    network::SUBNET,
    kube::KUBE,
    kube::NODEPOOL,
    database::POSTGRES,
    database::VALKEY,
    dbuser::VALKEY_USER,
    dbuser::PG_USER,
    loadbalancer::LB,
    loadbalancer::LISTENER,
    loadbalancer::POOL,
    loadbalancer::MONITOR,
    cdn::CDN_DOMAIN,
    cdn::CDN_BACKEND,
    cdn::CDN_RULE,
];

/// Schema of the provider block.
pub fn config_schema() -> Body {
    Body::default()
        .attr(
            "endpoint",
            AttributeSchema::optional(s(), "ovh-eu, ovh-ca, ovh-us or the API base URL (…/v1)")
                .default("ovh-eu"),
        )
        .attr(
            "project_id",
            AttributeSchema::required(s(), "Public Cloud project id"),
        )
        .attr(
            "region",
            AttributeSchema::required(s(), "Region, like EU-WEST-PAR or GRA11"),
        )
        .attr(
            "zones",
            AttributeSchema::optional(
                list(s()),
                "Availability zones of the region (default: built-in table of 3-AZ regions)",
            ),
        )
        .attr(
            "cdn_service",
            AttributeSchema::optional(s(), "CDN dedicated service name, for `cdn`"),
        )
        .attr(
            "cdn_zone",
            AttributeSchema::optional(s(), "DNS zone the CDN domains are created in"),
        )
        .attr(
            "ready_timeout",
            AttributeSchema::optional(
                n(),
                "Seconds to wait for an object to become ready (default 3600)",
            ),
        )
}

/// The OVH cloud as the kit sees it: the provider block's settings, the client, and what
/// OVH sells (asked once at plan time, [`offers`]).
#[derive(Debug)]
pub struct Ovh {
    api: Arc<Api>,
    offers: offers::Cache,
}

impl Ovh {
    /// The provider block's settings.
    pub fn settings(&self) -> &Settings {
        &self.api.settings
    }
}

/// The `ovh` provider.
pub type OvhProvider = Kit<Ovh>;

/// The provider as a registry entry.
pub fn factory() -> Factory {
    Factory::new(NAME, config_schema, configure)
}

/// Builds the provider from the evaluated provider block, with credentials from the process
/// environment.
pub fn configure(config: &Attrs, _spec_dir: &Path) -> Result<OvhProvider, Vec<Diagnostic>> {
    configure_with_env(config, |k| std::env::var(k).ok())
}

/// [`configure`] with the environment given as a function (for tests).
pub fn configure_with_env(
    config: &Attrs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<OvhProvider, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let endpoint = kit::config::text(config, "endpoint").unwrap_or_else(|| "ovh-eu".into());
    let (base, token_url) = match client::resolve_endpoint(&endpoint) {
        Ok(x) => x,
        Err(e) => {
            diags.push(Diagnostic::error(e).at(["endpoint"]));
            (String::new(), None)
        }
    };
    let project = kit::config::required_text(config, "project_id", &mut diags);
    let region = kit::config::required_text(config, "region", &mut diags).unwrap_or_default();
    // Unlike other clouds, an empty list is a setting here: it makes the region a 1-AZ one.
    let zones = match config.get("zones").and_then(Value::as_list) {
        Some(list) => kit::config::strings(list),
        None => region_zones(&region),
    };
    let ready_timeout = kit::config::ready_timeout(config, &mut diags);
    // Missing credentials fail the first request, not the configuration: validating a spec
    // or planning with nothing to read needs none.
    let creds =
        Credentials::from_env(env, token_url.as_deref()).unwrap_or_else(Credentials::Missing);
    if !diags.is_empty() {
        return Err(diags);
    }
    let Some(project) = project else {
        return Err(vec![Diagnostic::error("incomplete provider configuration")]);
    };
    let client = Client::new(&base, creds).map_err(|e| vec![Diagnostic::error(e)])?;
    let settings = Settings {
        region,
        zones,
        cdn_service: kit::config::text(config, "cdn_service"),
        cdn_zone: kit::config::text(config, "cdn_zone"),
    };
    let api = Arc::new(Api {
        client,
        project,
        settings,
        ready_timeout,
    });
    let services: Vec<Arc<dyn Service>> = vec![
        Arc::new(Managed(network::Networks::new(api.clone()))),
        Arc::new(Managed(kube::Kube::new(api.clone()))),
        Arc::new(Managed(database::Databases::new(api.clone()))),
        Arc::new(dbuser::DatabaseUsers::new(api.clone())),
        Arc::new(Managed(loadbalancer::LoadBalancing::new(api.clone()))),
        Arc::new(Managed(cdn::Cdn::new(api.clone()))),
        // The `superset` component's objects, in OVH clusters or one a kubeconfig names.
        Arc::new(
            kubernetes::object::Objects::new(ready_timeout)
                .with_clusters(app::CLOUD, Arc::new(app::OvhClusters::new(api.clone()))),
        ),
        Arc::new(kubernetes::generated::Generated),
    ];
    let resources = [
        network::schemas(),
        kube::schemas(),
        database::schemas(),
        dbuser::schemas(),
        loadbalancer::schemas(),
        cdn::schemas(),
        kubernetes::schemas(),
    ]
    .into_iter()
    .flatten()
    .map(|r| (r.type_name.clone(), r))
    .collect();
    let schema = ProviderSchema {
        config: config_schema(),
        resources,
        components: component::ALL.iter().map(|c| c.to_string()).collect(),
    };
    let cloud = Ovh {
        api,
        offers: offers::Cache::default(),
    };
    Ok(Kit::new(cloud, schema, services))
}

#[async_trait]
impl Cloud for Ovh {
    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name == kubernetes::object::OBJECT {
            return kubernetes::object::validate(config);
        }
        expand::validate(self.settings(), type_name, config)
    }

    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name == component::SUPERSET {
            // A cluster the stack does not install KEDA into must already have it.
            return kubernetes::app::check(config).await;
        }
        self.offers.check(&self.api, type_name, config).await
    }

    fn expand(&self, type_name: &str, config: &Attrs) -> Option<Expanded> {
        expand::expand(self.settings(), type_name, config)
    }

    fn adjust_plan(&self, type_name: &str, plan: &mut PlanResponse) {
        if type_name == kubernetes::object::OBJECT {
            kubernetes::object::adjust_plan(plan);
        }
    }
}

#[cfg(test)]
mod tests;
