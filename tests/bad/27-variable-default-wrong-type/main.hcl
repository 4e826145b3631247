provider "sandbox" {}

variable "replicas" {
  type    = number
  default = "many"
}
