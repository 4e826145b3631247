provider "sandbox" {}

resource "sandbox_object" "a" {
  input = "abc" + 1
}
