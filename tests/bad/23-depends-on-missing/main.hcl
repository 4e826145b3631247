provider "sandbox" {}

resource "sandbox_object" "a" {
  input      = "x"
  depends_on = [sandbox_object.ghost]
}
