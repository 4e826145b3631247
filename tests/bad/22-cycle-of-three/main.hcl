provider "sandbox" {}

resource "sandbox_object" "first" {
  input = sandbox_object.third.output
}

resource "sandbox_object" "second" {
  input = sandbox_object.first.output
}

resource "sandbox_object" "third" {
  input = sandbox_object.second.output
}
