provider "sandbox" {}

resource "network" "main" {
  cidr  = "10.0.0.0/33"
  zones = 3
}
