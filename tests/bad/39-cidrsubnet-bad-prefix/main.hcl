provider "sandbox" {}

resource "sandbox_object" "a" {
  input = cidrsubnet("x", 1, 1)
}
