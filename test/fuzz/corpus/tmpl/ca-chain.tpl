{{- with secret "pki_int/issue/web" "common_name=web.example.com" -}}
{{ .Data.certificate }}
{{ range .Data.ca_chain -}}
{{ . }}
{{ end -}}
{{ end -}}
