provider "sandbox" {}

resource "sandbox_object" "a" {
  for_each = 3
  input    = "x"
}
