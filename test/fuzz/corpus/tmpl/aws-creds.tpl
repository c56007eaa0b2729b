[default]
{{ with secret "aws/creds/deploy" -}}
aws_access_key_id = {{ .Data.access_key }}
aws_secret_access_key = {{ .Data.secret_key }}
{{- if .Data.security_token }}
aws_session_token = {{ .Data.security_token }}
{{- end }}
{{ end -}}
