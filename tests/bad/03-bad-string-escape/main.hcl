provider "sandbox" {}

resource "sandbox_object" "a" {
  input = "a\qb"
}
