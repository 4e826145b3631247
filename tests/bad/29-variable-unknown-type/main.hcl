provider "sandbox" {}

variable "replicas" {
  type    = nubmer
  default = 1
}
