provider "sandbox" {}

locals {
  present = 1
}

resource "sandbox_object" "a" {
  input = local.missing_local
}
