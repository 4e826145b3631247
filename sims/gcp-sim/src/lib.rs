//! `gcp-sim`: a test-only simulator of the Google Cloud REST APIs the GCP provider calls —
//! Cloud SQL Admin v1, Memorystore for Redis v1 (clusters and instances), GKE (container v1), Compute
//! Engine v1, Service Networking v1 and Network Connectivity v1 — plus an OAuth2 token
//! endpoint. It is never a dependency of a production crate.
//!
//! # Design
//!
//! * **One listener per API** (each its own port, as each API is its own host in reality),
//!   plus one for the token endpoint: [`Urls`] gives their base URLs, as a client's endpoint
//!   override takes them — the rootUrl equivalent `http://127.0.0.1:PORT`, with no path.
//!   Requests carry the discovery `servicePath` and template: sqladmin, redis, container,
//!   servicenetworking and networkconnectivity paths start with `/v1/…`; **compute paths start with `/compute/v1/…`** (its servicePath;
//!   the compute URL does not include it, like `https://compute.googleapis.com`).
//!   `selfLink`s and `targetLink`s point at these URLs (`{compute}/compute/v1/projects/…`).
//! * **One handler per listener** (axum fallback route). In order it: matches method + path
//!   against the API's discovery document ([`discovery`]: `flatPath` templates, literal
//!   segments preferred; `{+name}` `path`s are spelled out by `flatPath`) — no match is
//!   `400 INVALID_ARGUMENT`; checks `Authorization: Bearer <token issued by /token>` — else
//!   `401 UNAUTHENTICATED`; injects throttling (`429 RESOURCE_EXHAUSTED`); validates query
//!   parameters and the body against the method's request schema ([`validate`]: unknown
//!   field, wrong type, bad enum → `400 INVALID_ARGUMENT`), then removes output-only fields
//!   from the body (accepted, never stored over server values); answers a repeated
//!   `requestId` with the operation it started (see below); waits the configured latency;
//!   injects failures (`500 INTERNAL` / `503 UNAVAILABLE`); runs the method against the
//!   in-memory world ([`api`]); logs one JSON line.
//! * **The discovery documents are the contract.** `sqladmin.v1.json`, `redis.v1.json`,
//!   `container.v1.json`, `compute.v1.json`, `servicenetworking.v1.json` and
//!   `networkconnectivity.v1.json` are loaded at start from the schema directory
//!   (default `sims/api-specs/gcp`, the vendored copy of the discovery documents). Validation is data-driven; nothing is
//!   written per path. A valid method the simulator does not implement answers
//!   `501 UNIMPLEMENTED`.
//! * **Errors** are Google-shaped, in each API's own envelope as the real logs show it:
//!   `{"error": {"code", "message", "errors": [{"message", "domain": "global", "reason"}]}}`
//!   for Compute and Cloud SQL, `{"error": {"code", "message", "status"}}` for Memorystore,
//!   Network Connectivity and Service Networking, both `status` and `errors` for GKE.
//! * **Enums** in request bodies may be names or numbers (stored as names); answers give
//!   names, or numbers when the client asks `$alt=json;enum-encoding=int` (as Google's Rust
//!   clients do; the real Redis log shows `"state": 2`).
//! * **Project numbers**: Service Networking names networks by project number
//!   (`projects/NUMBER/global/networks/N`); [`api::project_number`] gives each project id a
//!   stable number, and either form is accepted where Google accepts both.
//! * **The world** ([`world`]) maps `"{api}:{resource path}"` to each object's JSON, behind one
//!   mutex. Mutations answer each API's own operation resource and take effect as the
//!   operation walks `PENDING` → `RUNNING` (one `--delay-ms` step) → `DONE` (two steps), applied
//!   lazily at the next request; as the real logs show, Compute operations and GKE cluster
//!   operations are answered `RUNNING` from the first answer on (never `DONE`), node pool
//!   operations `PENDING`, Compute `setLabels` and Cloud SQL user creates already `DONE`. Objects exist (in their transitional status) from the moment
//!   the create is accepted, so a second create of the same name is `409 ALREADY_EXISTS`;
//!   a delete marks the object and removes it when its operation is done; an unknown name is
//!   `404 NOT_FOUND`.
//! * **requestId**: on methods whose discovery parameters declare `requestId` (compute
//!   mutations, Redis clusters create/patch/delete), the value must be a UUID; the same value
//!   within 10 minutes answers the operation it first started and does nothing else — also
//!   after an injected "created but 500" failure.
//! * **Faults** come from one seeded RNG (`--seed`): `--throttle-rate` answers 429 to that
//!   fraction of API requests; `--fail-rate` answers 500 or 503 to that fraction of mutating
//!   requests (non-GET, operations methods excepted), and half of those on creates
//!   (`insert` / `create`) are "created but failed": the create is carried out, the client
//!   sees the error.
//! * **Authentication**: `POST /token` on the token URL takes a form-encoded
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT` (the service
//!   account flow); the JWT must be three base64url parts whose payload has `iss`, `aud` and
//!   a numeric `exp` in the future (the signature is not verified). The answer is
//!   `{"access_token", "expires_in": 3600, "token_type": "Bearer"}`. API requests must carry
//!   one of the issued tokens; the `iss` it was issued to is the operations' `user`.
//!
//! # Implemented methods and lifecycles
//!
//! * **compute** ([`compute`]): for every global (`projects/P/global/C`) and regional
//!   (`projects/P/regions/R/C`) collection, `insert`, `get`, `list` (with `filter=name = "x"`
//!   and paging), `delete`, `patch`, `update`; `globalOperations` / `regionOperations` `get`,
//!   `list`, `wait`, `delete`; the custom methods `setLabels`, `setTarget`, `setUrlMap`,
//!   `setQuicOverride`, `networks.removePeering`, and `projects.get` (whose `id` is the project
//!   number). Operations are `compute#operation` with the recorded operation types. Objects
//!   get `kind`, `id` (uint64 as a string), `creationTimestamp`, `selfLink` and the per-type
//!   field sets of the real answers: networks (no `mtu`, empty lists left out,
//!   `selfLinkWithId`, `peerings` from Service Networking), subnetworks (overlapping ranges
//!   rejected), global addresses (`VPC_PEERING` ranges allocated), health checks, backend
//!   services (`enableCDN` only where recorded, `usedBy`; `USE_ORIGIN_HEADERS` refuses TTLs as
//!   Google does), backend buckets, URL maps (`PUT` replaces), target HTTP proxies (no
//!   `quicOverride`), HTTPS and TCP proxies, SSL certificates (never the key), global
//!   forwarding rules (`portRange "110"` answered `"110-110"`). References must exist (404),
//!   and a referenced object cannot be deleted (`400 resourceInUseByAnotherResource`, the
//!   recorded messages). `patch` checks a given `fingerprint` (412).
//! * **container** ([`container`]): `projects.locations.clusters` `create` / `get` / `list` /
//!   `delete` / `update` / `setResourceLabels`, `…clusters.nodePools` `create` / `get` /
//!   `list` / `delete` / `update` / `setAutoscaling`, `projects.locations.operations` `get` /
//!   `list`, `projects.locations.getServerConfig` (the December 2026 offer per release
//!   channel, one const), and the zonal read paths. Clusters `PROVISIONING` → `RUNNING` with
//!   the field set of a 2026 Standard cluster (zero values left out, as proto3 JSON does);
//!   a version GKE does not offer and a zone the region lacks are refused; node pool
//!   autoscaling limits are kept as sent (per zone or total, not both) and really changed by
//!   an update; one operation at a time per cluster (`400 FAILED_PRECONDITION`).
//! * **sqladmin** ([`sql`]): `instances` `insert` / `get` / `list` / `delete` / `patch` /
//!   `update`, `databases` `insert` / `get` / `list` / `delete`, `users` `insert` / `list` /
//!   `delete`, `operations` `get` / `list`. Instances `PENDING_CREATE` → `RUNNABLE` with
//!   `ipAddresses`, `connectionName`, `serverCaCert`; read replicas through
//!   `masterInstanceName` (a `CREATE_REPLICA` operation on the master); one operation at a
//!   time per instance (`409`); built-in users listed; a private IP needs a Service
//!   Networking connection on its network.
//! * **redis** ([`redis`]): `projects.locations.clusters` `create` / `get` / `list` / `delete` /
//!   `patch`, `projects.locations.operations` `get` / `list` / `delete` / `cancel`. Clusters
//!   `CREATING` → `ACTIVE` with the real answers' field set (`discoveryEndpoints`,
//!   `pscConnections`, `clusterEndpoints`, `pscServiceAttachments`, …; never `pscConfigs`);
//!   a create without a service connection policy for its network fails; `patch` takes one
//!   `updateMask` field.
//! * **redis instances** ([`instances`]): Memorystore for Redis, `projects.locations.instances`
//!   `create` / `get` / `list` / `patch` / `delete`; `CREATING` → `READY` with `host`, `port`,
//!   `readEndpoint`, `readEndpointPort` and `nodes[]`; the tier, replica count, read-replica,
//!   version and private services access rules of the discovery document are enforced.
//! * **servicenetworking** ([`servicenetworking`]): `services.connections` `list` / `create` /
//!   `patch` / `deleteConnection`, `operations.get`; a connection needs `VPC_PEERING` global
//!   addresses of its network and adds the peering `servicenetworking-googleapis-com` to it.
//! * **networkconnectivity** ([`networkconnectivity`]): `projects.locations.
//!   serviceConnectionPolicies` `create` / `get` / `list` / `patch` / `delete`,
//!   `projects.locations.operations` `get` / `list` / `delete` / `cancel`.
//!
//! # CLI
//!
//! ```text
//! gcp-sim --listen 127.0.0.1:0 --request-log FILE [--delay-ms N] [--latency-ms N]
//!         [--fail-rate F] [--throttle-rate F] [--seed N] [--schema-dir DIR]
//! ```
//!
//! The first line on stdout is one JSON object: `{"sqladmin": URL, "redis": URL,
//! "container": URL, "compute": URL, "token": URL, "servicenetworking": URL,
//! "networkconnectivity": URL}`; the API URLs are `http://HOST:PORT` (compute's without
//! `/compute/v1`), the token URL is `http://HOST:PORT/token`. With a non-zero `--listen`
//! port P the token endpoint takes P, sqladmin, redis, container and compute P+1 … P+4 and
//! servicenetworking and networkconnectivity P+5 and P+6 (added last, so the first five
//! keep their ports); with port 0 each gets a free port. The request log gets one JSON object per
//! request: `{"api", "method", "path", "query", "body", "status"}` (`api` is `token` or `sim`
//! for the token listener). `GET /_sim/objects` on the token URL's host lists every object
//! and operation. Start it in-process with [`serve`].
//!
//! # Replay (the contract test)
//!
//! ```text
//! gcp-sim replay FILE... [--delay-ms N] [--poll-timeout-s N]
//! ```
//!
//! replays HTTP logs recorded against the real APIs (k8s-config-connector's `_http.log`
//! format; `sims/real/gcp/` holds the vendored ones) against a fresh in-process simulator
//! per log and compares each answer with the recorded one: the same status and, for JSON,
//! the same field paths with the same JSON types. It prints one line per mismatching
//! exchange (`FILE #N METHOD PATH: what differs`) and per skipped one (`…: skipped: REASON`,
//! APIs ss never calls), then `replay: M of N exchanges match, S skipped`; it exits 0 only
//! when every exchange sent matches. `tests/replay.rs` runs it on every vendored log; see
//! [`replay`] for the placeholders, polling and the ignore list.

pub mod api;
pub mod app;
pub mod compute;
pub mod container;
pub mod discovery;
mod http;
pub mod instances;
pub mod links;
pub mod networkconnectivity;
pub mod redis;
pub mod replay;
pub mod servicenetworking;
pub mod sql;
mod token;
pub mod urls;
pub mod validate;
pub mod world;

use std::path::PathBuf;
use std::sync::Arc;

use sim_kit::Server;

use crate::discovery::{Api, Discovery};

pub use app::App;
pub use sim_kit::text::parse_query;
pub use urls::Urls;

sim_kit::sim_config! {
    /// The simulator's settings (`listen` is the host and first port; `delay` the time each
    /// operation phase takes, `PENDING` → `RUNNING` → `DONE`).
    pub struct Config {
        /// The directory of the discovery documents.
        pub schema_dir: PathBuf = default_schema_dir(),
    }
}

/// The discovery documents of this repository: `sims/api-specs/gcp`, the vendored copy of the discovery documents.
pub fn default_schema_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../api-specs/gcp"))
}

/// A running simulator (see [`sim_kit::Handle`]): [`App`]'s methods, and `shutdown`.
pub type Handle = sim_kit::Handle<App>;

/// Loads the discovery documents, binds one listener per API plus the token listener and
/// serves in background tasks.
pub async fn serve(config: Config) -> Result<(Urls, Handle), String> {
    let discovery = Discovery::load_cached(&config.schema_dir)?;
    let log = sim_kit::RequestLog::open(config.request_log.as_deref())?;
    // The order fixes the ports of a non-zero `--listen` port: new APIs go last so that
    // existing users keep theirs.
    let roles: [Option<Api>; 7] = [
        None,
        Some(Api::Sqladmin),
        Some(Api::Redis),
        Some(Api::Container),
        Some(Api::Compute),
        Some(Api::Servicenetworking),
        Some(Api::Networkconnectivity),
    ];
    let listeners = sim_kit::bind(config.listen, roles.len()).await?;
    let url = |i: usize| {
        listeners
            .get(i)
            .map_or(String::new(), |(_, a)| format!("http://{a}"))
    };
    let urls = Urls {
        token: format!("{}/token", url(0)),
        sqladmin: url(1),
        redis: url(2),
        container: url(3),
        compute: url(4),
        servicenetworking: url(5),
        networkconnectivity: url(6),
    };
    let app = Arc::new(App::new(config, discovery, urls.clone(), log));
    let routes = listeners
        .into_iter()
        .zip(roles)
        .map(|((listener, _), role)| (listener, http::router(app.clone(), role)))
        .collect();
    let server = Server::spawn(routes);
    Ok((urls, Handle::new(server, app)))
}
