provider "sandbox" {}

resource "sandbox_objekt" "a" {
  input = "x"
}
