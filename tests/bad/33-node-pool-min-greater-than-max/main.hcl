provider "sandbox" {}

resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

resource "kubernetes_cluster" "k" {
  network = network.main.id

  node_pool "web" {
    size = "large"
    min  = 8
    max  = 3
  }
}
