# Where Superset runs and what it is wired to.

output "superset_url" {
  value       = "https://${cdn.static.domain_name}"
  description = "Public URL of Superset, through the CDN"
}

output "db_endpoint" {
  value       = postgres.metadata.endpoint
  description = "Primary host of the metadata database (for migrations)"
}

output "redis_endpoint" {
  value       = redis_cluster.cache.configuration_endpoint
  description = "Redis Cluster configuration endpoint for the chart-data and metadata caches"
}

output "superset_namespace" {
  value       = superset.app.id
  description = "The Kubernetes namespace Superset runs in"
}

output "broker_endpoint" {
  value       = redis.broker.endpoint
  description = "Primary of the Redis that Celery and the async queries use"
}

output "kubernetes_version" {
  value       = kubernetes_cluster.superset.version
  description = "Kubernetes minor version of the EKS cluster (the provider's default, in standard support)"
}
