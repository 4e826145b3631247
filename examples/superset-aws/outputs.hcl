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
  description = "Redis Cluster configuration endpoint for the cache, results backend and Celery"
}

output "kubernetes_version" {
  value       = kubernetes_cluster.superset.version
  description = "Kubernetes minor version of the EKS cluster (the provider's default, in standard support)"
}
