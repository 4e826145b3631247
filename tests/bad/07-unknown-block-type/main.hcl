provider "sandbox" {}

resorce "sandbox_object" "a" {
  input = "x"
}
