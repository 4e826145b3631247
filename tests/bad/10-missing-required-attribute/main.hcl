provider "sandbox" {}

resource "postgres" "db" {
  version = "16"
}
