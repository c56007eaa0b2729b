{{- with secret "secret/data/myapp/kerberos" -}}
{{ .Data.data.krb5_conf_b64 | base64Decode }}
{{- end }}
checksum {{ with secret "secret/data/myapp/kerberos" }}{{ .Data.data.krb5_conf_b64 | base64Decode | sha256Hex }}{{ end }}
