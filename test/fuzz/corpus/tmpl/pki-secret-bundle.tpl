{{- with secret "pki_int/issue/web" "common_name=web.example.com" "ttl=24h" -}}
{{ .Data.certificate }}
{{ .Data.issuing_ca }}
{{ .Data.private_key }}
{{ end -}}
