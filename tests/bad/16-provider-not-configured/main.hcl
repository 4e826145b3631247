provider "sandbox" {}

resource "sandbox_object" "a" {
  provider = aws
  input    = "x"
}
