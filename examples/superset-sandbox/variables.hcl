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

variable "sandbox_latency" {
  type        = string
  default     = "1s"
  description = "Scale of the sandbox cloud's simulated API latencies; \"0s\" makes an apply instant (the tests use it)"
}

variable "kubeconfig" {
  type        = string
  default     = null
  description = "A kubeconfig file: deploy Superset into the cluster it names (kind, minikube, kube-sim) instead of the stack's own cluster"
}
