provider "sandbox" {}

resource "sandbox_object" "a" {
  input = sandbox_object.missing_obj.output
}
