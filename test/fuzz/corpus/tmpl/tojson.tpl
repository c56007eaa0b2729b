{{ with secret "secret/data/myapp/config" -}}
{{ .Data.data | toJSON }}
{{ .Data.metadata | toJSONPretty }}
{{ end -}}
