# Vault Agent as an init container (the Kubernetes tutorial's shape)
exit_after_auth = true
pid_file = "/home/vault/pidfile"

vault {
  address = "http://vault:8200"
}

auto_auth {
    method "kubernetes" {
        mount_path = "auth/kubernetes"
        config = {
            role = "example"
        }
    }

    sink "file" {
        config = {
            path = "/home/vault/.vault-token"
        }
    }
}

template {
  destination = "/etc/secrets/index.html"
  contents = <<EOT
  <html>
  <body>
  <p>Some secrets:</p>
  {{- with secret "secret/data/myapp/config" }}
  <ul>
  <li><pre>username: {{ .Data.data.username }}</pre></li>
  <li><pre>password: {{ .Data.data.password }}</pre></li>
  </ul>
  {{ end }}
  </body>
  </html>
  EOT
}
