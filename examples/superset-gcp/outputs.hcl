# What the Superset deployment (its Helm values) needs from the stack.

output "superset_url" {
  value       = "http://${cdn.static.domain_name}"
  description = "Public URL of Superset, through the CDN (HTTP: TLS is not mapped on GCP)"
}

output "db_endpoint" {
  value       = postgres.metadata.endpoint
  description = "Private IP of the metadata database's primary (for migrations)"
}

output "redis_endpoint" {
  value       = redis_cluster.cache.configuration_endpoint
  description = "Redis Cluster discovery endpoint of the caches"
}

output "superset_namespace" {
  value       = superset.app.id
  description = "The Kubernetes namespace Superset runs in"
}

output "broker_endpoint" {
  value       = redis.broker.endpoint
  description = "Primary of the Redis that Celery and the async queries use"
}
