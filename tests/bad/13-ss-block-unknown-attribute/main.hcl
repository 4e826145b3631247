ss {
  stack           = "demo"
  unknown_setting = true
}

provider "sandbox" {}
