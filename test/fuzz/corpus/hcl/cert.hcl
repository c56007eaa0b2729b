vault {
  address = "https://vault.example.com:8200"
}

auto_auth {
  method "cert" {
    config = {
      name        = "web"
      ca_cert     = "/etc/vault/ca.pem"
      client_cert = "/etc/vault/client.pem"
      client_key  = "/etc/vault/client-key.pem"
      reload      = true
    }
  }

  sink "file" {
    config = {
      path = "/run/vault/token"
      mode = 0640
    }
  }
}

template_config {
  exit_on_retry_failure         = true
  static_secret_render_interval = "10m"
}

template {
  source               = "/etc/vault/server.crt.ctmpl"
  destination          = "/etc/vault/server.crt"
  error_on_missing_key = true
  perms                = "0644"
  command              = "systemctl reload nginx"
}
