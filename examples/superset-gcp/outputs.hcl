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
  description = "Redis Cluster discovery endpoint for the cache, results backend and Celery"
}
