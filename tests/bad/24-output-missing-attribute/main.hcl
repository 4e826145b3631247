provider "sandbox" {}

resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

output "net" {
  value = network.main.no_such_attr
}
