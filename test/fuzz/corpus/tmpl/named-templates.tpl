{{- define "row" }}{{ .username }}={{ .password }}{{ end -}}
{{- define "rec" }}{{ if . }}{{ len . }}{{ template "rec" (slice . 1) }}{{ end }}{{ end -}}
{{ with secret "secret/data/app" }}{{ template "row" .Data.data }}
{{ block "b" .Data.data.list }}{{ range . }}{{ . }},{{ end }}{{ end }}
{{ $j := parseJSON .Data.data.json }}{{ index $j.x 1 }} {{ slice .Data.data.username 1 }}
{{ executeTemplate "row" .Data.data | toUpper }}{{ template "rec" "abc" }}
{{ range secrets "secret/app/" }}{{ . }}{{ end }}{{ end }}
