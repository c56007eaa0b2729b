# Rendered {{ timestamp }} ({{ timestamp "2006-01-02" }}, unix {{ timestamp "unix" }})
{{ with secret "secret/data/myapp/config" }}api_key = {{ .Data.data.api_key }}{{ end }}
# expires {{ timestamp "Mon, 02 Jan 2006 15:04:05 MST" }}
