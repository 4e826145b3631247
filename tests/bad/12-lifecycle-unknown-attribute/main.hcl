provider "sandbox" {}

resource "sandbox_object" "a" {
  input = "x"
  lifecycle {
    prevent_destroi = true
  }
}
