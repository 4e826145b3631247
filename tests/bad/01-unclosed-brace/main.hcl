provider "sandbox" {}

resource "sandbox_object" "a" {
  input = "x"
