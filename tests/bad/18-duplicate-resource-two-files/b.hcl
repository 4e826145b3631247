resource "sandbox_object" "twin" {
  input = "b"
}
