provider "sandbox" {}

resource "sandbox_object" "a" {
  count = -1
  input = "x"
}
