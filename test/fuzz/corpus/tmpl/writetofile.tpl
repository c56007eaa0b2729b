{{- with secret "pki_int/issue/web" "common_name=web.example.com" "ttl=72h" -}}
{{ .Data.certificate | writeToFile "/etc/nginx/tls/web.crt" "root" "root" "0644" "newline" }}
{{- .Data.issuing_ca | writeToFile "/etc/nginx/tls/web.crt" "root" "root" "0644" "append,newline" }}
{{- .Data.private_key | writeToFile "/etc/nginx/tls/web.key" "root" "nginx" "0640" }}
{{- end -}}
serial {{ with secret "pki_int/issue/web" "common_name=web.example.com" "ttl=72h" }}{{ .Data.serial_number }}{{ end }}
