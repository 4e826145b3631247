provider "sandbox" {}

resource "sandbox_object" "a" {
  input = <<EOT
line one
line two
}
