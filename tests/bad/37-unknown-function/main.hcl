provider "sandbox" {}

resource "sandbox_object" "a" {
  input = maxx(1, 2)
}
