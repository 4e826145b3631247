# Apache Superset for 10,000+ users on OVHcloud, in a 3-AZ region (EU-WEST-PAR by default):
# the reference architecture of DESIGN.md with portable components, as in
# examples/superset-sandbox. On OVH the network gets one subnet per zone, each node pool one
# OVH node pool per zone (min/max divided by three, rounded up), Postgres the advanced plan
# (3 nodes on b3 flavors: primary + 2 standbys serving reads; 3-AZ regions sell no Gen 2
# business/enterprise plan), the caches and Celery's broker each a Managed Valkey production
# service (primary + replica), and Superset itself runs in the cluster.
# `ss plan` checks every choice against what OVH sells in the region.
#
#   export OVH_APPLICATION_KEY=… OVH_APPLICATION_SECRET=… OVH_CONSUMER_KEY=…
#   ss plan examples/superset-ovh --var ovh_project_id=…
#
# Tests point it at the simulator with `--var ovh_endpoint=http://127.0.0.1:PORT/v1`.

ss {
  stack = "superset"
}

provider "ovh" {
  endpoint    = var.ovh_endpoint
  project_id  = var.ovh_project_id
  region      = var.ovh_region
  cdn_service = var.ovh_cdn_service
  cdn_zone    = var.ovh_cdn_zone
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

# No `version`: the cluster gets the provider's default minor (1.34 on OVH), which `ss plan`
# checks against the versions OVH offers.
resource "kubernetes_cluster" "superset" {
  network = network.main.id

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
  pooler            = false

  # A production stack would set prevent_destroy = true. It is false here on purpose: this
  # example is a demo that `ss destroy` must be able to tear down completely.
  lifecycle {
    prevent_destroy = false
  }
}

# Results backend, Celery broker and chart-data cache. OVH Managed Valkey has no cluster mode:
# one primary with one replica (the production plan, its only one) on "large" nodes (b3-32,
# 32 GB) gives the 16–32 GB the reference architecture asks for.
resource "redis_cluster" "cache" {
  network            = network.main.id
  version            = "8.0"
  shards             = 1
  replicas_per_shard = 1
  size               = "large"
}

# Celery's broker and results, and the async-query channel: Celery cannot use a Redis Cluster,
# so this is a second Managed Valkey service, its primary with a replica in another zone that
# takes over on failure. ss resets the password of its `default` user once and keeps it in the
# state (`redis.broker.password`, sensitive).
resource "redis" "broker" {
  network  = network.main.id
  version  = "8.0"
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

# Superset itself, in the Managed Kubernetes cluster (reached through the kubeconfig the OVH API
# makes): gunicorn web pods on the web pool behind the load balancer (a NodePort the Octavia
# pool reaches on the nodes; CPU autoscaling between the web bounds), Celery workers on the
# worker pool autoscaled on the broker's queue backlog, one beat, and the
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
