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

variable "gcp_project" {
  type        = string
  default     = "superset-demo"
  description = "The Google Cloud project id"
}

variable "gcp_region" {
  type        = string
  default     = "europe-west1"
  description = "A region with at least three zones"
}

# europe-west1 has no zone "a": its zones are b, c and d (the provider knows that region; for
# another region, list three of its zones here).
variable "gcp_zones" {
  type        = list(string)
  default     = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
  description = "Three zones of gcp_region"
}

variable "gcp_endpoint_overrides" {
  type        = map(string)
  default     = {}
  description = "Empty for Google Cloud itself; a simulator's URLs: sqladmin, redis, container, compute, servicenetworking, networkconnectivity, token"
}

variable "kubeconfig" {
  type        = string
  default     = null
  description = "A kubeconfig file: deploy Superset into the cluster it names (kind, minikube, kube-sim) instead of the stack's own cluster"
}
