provider "sandbox" {}

resource "network" "main" {
  cidrr = "10.0.0.0/16"
  zones = 3
}
