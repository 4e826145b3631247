# Apache Superset for 10,000+ users on Google Cloud, in a 3-zone region (europe-west1, Belgium,
# by default): the reference architecture of DESIGN.md with portable components, as in
# examples/superset-sandbox. On GCP the network is a custom-mode VPC with one regional
# subnetwork (it serves every zone), the cluster a regional GKE cluster across the zones with
# one autoscaling node pool per pool, Postgres Cloud SQL with availabilityType REGIONAL and
# read replicas, the caches a Memorystore Redis Cluster (multi-zone), Celery's broker a
# Memorystore for Redis instance (STANDARD_HA with read replicas), the load balancer the global
# external HTTP chain (health check, backend service, URL map, target proxy, forwarding rule),
# the CDN Cloud CDN on that backend service, and Superset itself deployed into the GKE cluster.
#
#   export GOOGLE_APPLICATION_CREDENTIALS=…/key.json   # or `gcloud auth application-default login`
#   ss plan examples/superset-gcp --var gcp_project=…
#
# Tests point it at the simulator (sims/gcp-sim) with the URLs it prints first, as a map:
# `SS_VAR_gcp_endpoint_overrides='{ sqladmin = "http://…", redis = "…", container = "…",
# compute = "…", servicenetworking = "…", networkconnectivity = "…", token = "http://…/token" }'`
# (or a --var-file).

ss {
  stack = "superset"
}

provider "gcp" {
  project            = var.gcp_project
  region             = var.gcp_region
  zones              = var.gcp_zones
  endpoint_overrides = var.gcp_endpoint_overrides
}

locals {
  # Superset's web tier (gunicorn) serves roughly 2,000 active users per node at peak; five
  # nodes is the floor that still survives losing a whole zone out of three, and twenty leaves
  # 4x headroom for dashboards refreshing at the top of the hour.
  web_min = max(5, ceil(var.users / 2000))
  web_max = max(20, local.web_min * 2)

  # Celery workers run the queries, alerts, reports and thumbnail jobs: ten nodes keep the
  # async queue short for 10,000 users, and autoscaling to thirty absorbs the morning report
  # burst.
  worker_min = max(10, ceil(var.users / 1000))
  worker_max = max(30, local.worker_min * 3)
}

# Three zones so that the cluster, the database standby and the Redis replicas each survive the
# loss of one zone. (On GCP one regional subnetwork spans the zones.) On a fresh project the
# network also gets what Cloud SQL's private IP and Memorystore need, once: a VPC_PEERING
# address range with the private services access connection (servicenetworking), and a service
# connection policy for Memorystore on the subnetwork. ss creates them before the database and
# the cache, and removes them after.
resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

# A regional GKE cluster: its control plane and nodes are spread over the region's three
# zones; min and max are totals over the zones (totalMinNodeCount / totalMaxNodeCount).
# Kubernetes 1.36, the default minor of GKE's REGULAR channel in December 2026 (the provider's
# default too): `ss plan` checks it against what GKE offers in the region (getServerConfig).
resource "kubernetes_cluster" "superset" {
  network = network.main.id
  version = "1.36"

  # The web pool runs the Superset app servers behind the load balancer (e2-standard-8).
  node_pool "web" {
    size = "large"
    min  = local.web_min
    max  = local.web_max
  }

  # The worker pool runs Celery: SQL Lab async queries, reports, alerts, cache warm-up.
  node_pool "worker" {
    size = "large"
    min  = local.worker_min
    max  = local.worker_max
  }
}

# The metadata database: dashboards, charts, users, query history. REGIONAL availability gives
# a synchronous standby in another zone; the two read replicas take the dashboard-listing and
# audit reads. The instance gets a private IP on the network, through the private services
# access the network component sets up.
#
# No pooler on GCP: Cloud SQL's managed connection pooling is not mapped, so `pooler = true`
# would be ignored with a warning. Run PgBouncer in the cluster to keep the thousands of
# gunicorn and Celery connections from exhausting Postgres.
resource "postgres" "metadata" {
  network           = network.main.id
  version           = "16"
  size              = "large"
  storage_gb        = 200
  high_availability = true
  read_replicas     = 2
  pooler            = false

  # A production stack would set prevent_destroy = true. It is false here on purpose: this
  # example is a demo that `ss destroy` must be able to tear down completely.
  lifecycle {
    prevent_destroy = false
  }
}

# Superset's caches (chart data, filter state, explore state, metadata): Memorystore Redis
# Cluster with three shards, each with a replica in another zone, on REDIS_STANDARD_SMALL nodes. Memorystore
# Redis Cluster has no version setting, so none is given; it reaches the network through
# Private Service Connect, allowed by the network's service connection policy.
resource "redis_cluster" "cache" {
  network            = network.main.id
  shards             = 3
  replicas_per_shard = 1
  size               = "medium"
}

# Celery's broker and results, and the async-query channel: Celery cannot use a Redis Cluster,
# so this is a Memorystore for Redis instance, STANDARD_HA with read replicas: a primary and a
# replica in another zone, promoted automatically on failure. It takes an address from the
# private services access range the network made for Cloud SQL. Memorystore offers Redis 7.0
# and 7.2, not the 7.1 of the other clouds' examples (asked for 7.1, ss creates 7.2 with a
# warning). "small" is 5 GB, the smallest size with read replicas.
resource "redis" "broker" {
  network  = network.main.id
  version  = "7.2"
  replicas = 1
  size     = "small"
}

# Superset keeps sessions in Redis, so any web node can serve any request: no sticky sessions,
# which lets the autoscaler remove nodes without logging users out.
#
# Port 80: on GCP the chain is an HTTP target proxy (Google accepts 80 and 8080 for it; other
# ports get a warning); certificates and an HTTPS proxy are not mapped, so TLS is left to
# whatever fronts the address. The backend service gets no backends from ss: GKE's
# NEG controller fills the standalone NEG the `superset` Service names after this backend
# service.
resource "load_balancer" "web" {
  network         = network.main.id
  target          = kubernetes_cluster.superset.id
  port            = 80
  sticky_sessions = false

  health_check {
    path              = "/health"
    interval          = 10
    healthy_threshold = 2
  }
}

# The CDN serves Superset's static bundle. Its files are content-hashed, so they can be cached
# for a year; everything else (the app and its API) passes through uncached. Cloud CDN caches
# per backend service, not per path: the `/*` rule's TTL becomes the default TTL and the
# longest the maximum; compression sets automatic (brotli and gzip) compression. `http3` is
# an HTTPS-proxy setting, not mapped on the HTTP chain.
resource "cdn" "static" {
  origin      = load_balancer.web.dns_name
  compression = ["br", "gzip"]

  cache_rule {
    path = "/static/assets/*"
    ttl  = 31536000
  }

  cache_rule {
    path = "/*"
    ttl  = 0
  }
}

# Superset itself: gunicorn web pods behind the load balancer (CPU autoscaling between the web
# pool's bounds), Celery workers autoscaled on the broker's queue backlog, one beat, and the
# `superset db upgrade && superset init` job that runs before any pod of a new version serves.
# ss reaches the GKE cluster with its own credentials (clusters.get, then the access token);
# the pods select their node pool by the label node.ss.internal/pool. `kubeconfig` (null here)
# deploys into another cluster instead: `SS_VAR_kubeconfig=PATH`.
resource "superset" "app" {
  cluster       = kubernetes_cluster.superset
  database      = postgres.metadata
  cache         = redis_cluster.cache
  broker        = redis.broker
  load_balancer = load_balancer.web
  web_min       = local.web_min
  web_max       = local.web_max
  worker_min    = local.worker_min
  worker_max    = local.worker_max
  kubeconfig    = var.kubeconfig
}
