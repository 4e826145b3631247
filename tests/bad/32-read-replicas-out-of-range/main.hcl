provider "sandbox" {}

resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

resource "postgres" "db" {
  network       = network.main.id
  read_replicas = 7
}
