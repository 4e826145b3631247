provider "sandbox" {}

variable "region_name" {
  default = "a"
}

variable "region_name" {
  default = "b"
}
