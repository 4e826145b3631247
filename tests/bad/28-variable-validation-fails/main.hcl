provider "sandbox" {}

variable "users" {
  type    = number
  default = 0

  validation {
    condition     = var.users > 0
    error_message = "The number of users must be positive."
  }
}
