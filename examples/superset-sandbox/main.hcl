# Apache Superset for 10,000+ users on the built-in sandbox cloud: the reference architecture of
# DESIGN.md, expressed with portable components only, so the same file maps onto AWS, OVH or GCP
# by changing the provider block.
#
#   ss plan examples/superset-sandbox
#   ss apply examples/superset-sandbox --auto-approve
#
# With the default latency of 1s the sandbox's simulated API times give a critical path of about
# 28 s: network (1) → subnets (0.5) → Kubernetes control plane (10) → node pools (6) → load
# balancer (3) → CDN (8). Postgres (primary 8, replicas 6, pooler 3) and Redis (7) are built in
# parallel with it, off the critical path.

ss {
  stack = "superset"
}

provider "sandbox" {
  latency = var.sandbox_latency
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
# loss of one zone.
resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

resource "kubernetes_cluster" "superset" {
  network = network.main.id
  version = "1.33"

  # The web pool runs the Superset app servers behind the load balancer.
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

# The metadata database: dashboards, charts, users, query history. HA gives a synchronous
# standby in another zone; the two read replicas take the dashboard-listing and audit reads;
# the pooler keeps the thousands of gunicorn and Celery connections from exhausting Postgres.
resource "postgres" "metadata" {
  network           = network.main.id
  version           = "16"
  size              = "large"
  storage_gb        = 200
  high_availability = true
  read_replicas     = 2
  pooler            = true

  # A production stack would set prevent_destroy = true. It is false here on purpose: this
  # example is a demo that `ss destroy` must be able to tear down completely.
  lifecycle {
    prevent_destroy = false
  }
}

# Chart-data, dashboard and filter-state caches. Three shards with one replica each
# (3 primaries + 3 replicas, one replica per zone pair); "medium" nodes put the three primaries
# in the 16–32 GB range the reference architecture asks for.
resource "redis_cluster" "cache" {
  network            = network.main.id
  version            = "7.1"
  shards             = 3
  replicas_per_shard = 1
  size               = "medium"
}

# Celery's broker and results, and the async-query channel: Celery cannot use a Redis Cluster,
# so this is a primary with a replica in another zone, promoted automatically on failure.
resource "redis" "broker" {
  network  = network.main.id
  version  = "7.1"
  replicas = 1
  size     = "small"
}

# Superset keeps sessions in Redis, so any web node can serve any request: no sticky sessions,
# which lets the autoscaler remove nodes without logging users out.
resource "load_balancer" "web" {
  network         = network.main.id
  target          = kubernetes_cluster.superset.id
  port            = 443
  sticky_sessions = false

  health_check {
    path              = "/health"
    interval          = 10
    healthy_threshold = 2
  }
}

# The CDN serves Superset's static bundle. Its files are content-hashed, so they can be cached
# for a year; everything else (the app and its API) passes through uncached.
resource "cdn" "static" {
  origin      = load_balancer.web.dns_name
  compression = ["br", "gzip"]
  http3       = true

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
# `kubeconfig` (null here) deploys into another cluster instead: `SS_VAR_kubeconfig=PATH`.
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
