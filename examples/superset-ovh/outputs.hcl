# What the Superset deployment (its Helm values) needs from the stack.

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
  description = "Valkey endpoint of the caches"
}

output "superset_namespace" {
  value       = superset.app.id
  description = "The Kubernetes namespace Superset runs in"
}

output "broker_endpoint" {
  value       = redis.broker.endpoint
  description = "Primary of the Valkey that Celery and the async queries use"
}
