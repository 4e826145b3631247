# Apache Superset for 10,000+ users on AWS, in a 3-AZ region (eu-west-3, Paris, by default):
# the reference architecture of DESIGN.md with portable components, as in
# examples/superset-sandbox. On AWS the network is a VPC with one public subnet per zone,
# the cluster EKS with one managed node group per pool, Postgres RDS Multi-AZ with read
# replicas and an RDS Proxy, the cache an ElastiCache replication group in cluster mode, the
# broker one with cluster mode disabled, the load balancer an ALB, the CDN a CloudFront
# distribution, and Superset itself deployed into the EKS cluster.
#
#   export AWS_PROFILE=…            # or any other source of the standard credential chain
#   ss plan examples/superset-aws
#
# Tests point it at moto with `--var aws_endpoint=http://127.0.0.1:PORT --var aws_region=us-east-1`.

ss {
  stack = "superset"
}

provider "aws" {
  region   = var.aws_region
  endpoint = var.aws_endpoint
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

# No `version`: the provider picks a Kubernetes minor in EKS standard support (1.35 today; an
# older minor in extended support bills the control plane six times higher), and the plan
# checks it against what EKS offers in the region. `kubernetes_cluster.superset.version`
# tells which.
resource "kubernetes_cluster" "superset" {
  network = network.main.id

  # The web pool runs the Superset app servers behind the load balancer (m6i.2xlarge).
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

# The metadata database: dashboards, charts, users, query history. Multi-AZ gives a synchronous
# standby in another zone; the two read replicas take the dashboard-listing and audit reads;
# RDS Proxy keeps the thousands of gunicorn and Celery connections from exhausting Postgres.
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

# Results backend, Celery broker and chart-data cache: Redis Cluster with three shards, each
# with a replica in another zone, on cache.r6g.large nodes (13 GB each, 39 GB in all; Paris
# sells no r7g nodes, and the plan checks the node type against the region's offers).
resource "redis_cluster" "cache" {
  network            = network.main.id
  version            = "7.1"
  shards             = 3
  replicas_per_shard = 1
  size               = "medium"
}

# Celery's broker and results, and the async-query channel: Celery cannot use a Redis Cluster,
# so this is an ElastiCache group with cluster mode disabled, a primary with a replica in
# another zone, promoted automatically on failure (Multi-AZ), on a cache.t4g.medium node.
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

# Superset itself, in the EKS cluster: gunicorn web pods on the web node group, registered in
# the load balancer's target group by the AWS Load Balancer Controller (CPU autoscaling between
# the web pool's bounds, with the metrics-server the stack installs), Celery workers on the
# worker node group autoscaled by KEDA on the broker's queue backlog, one beat, and the
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
