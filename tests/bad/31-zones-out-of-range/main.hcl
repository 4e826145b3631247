provider "sandbox" {}

resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 9
}
