provider "sandbox" {}

resource "sandbox_object" "twin" {
  input = "a"
}
