provider "sandbox" {}

resource "sandbox_object" "a" {
  input = var.missing_var
}
