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

variable "aws_region" {
  type        = string
  default     = "eu-west-3"
  description = "A region with at least three availability zones"
}

variable "aws_endpoint" {
  type        = string
  default     = ""
  description = "Empty for AWS itself (or AWS_ENDPOINT_URL); an emulator's URL such as moto's http://127.0.0.1:PORT"
}

variable "kubeconfig" {
  type        = string
  default     = null
  description = "A kubeconfig file: deploy Superset into the cluster it names (kind, minikube, kube-sim) instead of the stack's own EKS cluster"
}
