{{- with secret "secret/data/myapp/env" }}
{{- range $k, $v := .Data.data }}{{ $k }}={{ $v }}
{{ end }}
{{- end -}}
