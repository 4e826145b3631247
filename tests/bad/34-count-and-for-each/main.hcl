provider "sandbox" {}

resource "sandbox_object" "a" {
  count    = 2
  for_each = toset(["x", "y"])
  input    = "x"
}
