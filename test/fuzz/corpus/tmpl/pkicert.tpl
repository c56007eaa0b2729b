{{- with pkiCert "pki_int/issue/web" "common_name=web.example.com" "ttl=24h" -}}
{{ .Data.Cert }}{{ .Data.CA }}{{ .Data.Key }}
{{- end -}}
{{ with pkiCert "pki_int/issue/web" "common_name=web.example.com" "ttl=24h" }}{{ len .CAChain }} CAs in the chain{{ end }}
