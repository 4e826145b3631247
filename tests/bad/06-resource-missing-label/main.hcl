provider "sandbox" {}

resource "sandbox_object" {
  input = "x"
}
