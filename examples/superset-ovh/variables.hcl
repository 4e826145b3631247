# Inputs of the Superset reference stack. Every default describes the 10,000-user target.

variable "users" {
  type        = number
  default     = 10000
  description = "Expected number of Superset users; node pools are sized from it"

  validation {
    condition     = var.users > 0
    error_message = "users must be a positive number."
  }
}

variable "kubeconfig" {
  type        = string
  default     = null
  description = "A kubeconfig file: deploy Superset into the cluster it names (kind, minikube, kube-sim) instead of the stack's own cluster"
}

variable "ovh_endpoint" {
  type        = string
  default     = "ovh-eu"
  description = "ovh-eu, ovh-ca, ovh-us or an API URL such as the simulator's http://127.0.0.1:PORT/v1"
}

variable "ovh_project_id" {
  type        = string
  default     = "p0123456789"
  description = "The OVH Public Cloud project id"
}

variable "ovh_region" {
  type        = string
  default     = "EU-WEST-PAR"
  description = "A 3-AZ region: EU-WEST-PAR or EU-SOUTH-MIL"
}

variable "ovh_cdn_service" {
  type        = string
  default     = "cdn-sim.ovh.net"
  description = "The CDN dedicated service name"
}

variable "ovh_cdn_zone" {
  type        = string
  default     = "cdn.example.com"
  description = "A DNS zone you control; the CDN domain is created in it"
}
