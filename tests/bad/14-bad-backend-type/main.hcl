ss {
  backend "s4" {
    path = "ss.state.json"
  }
}

provider "sandbox" {}
