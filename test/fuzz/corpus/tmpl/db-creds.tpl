{{ with secret "database/creds/readonly" -}}
postgresql://{{ .Data.username }}:{{ .Data.password }}@db.internal:5432/app?sslmode=require
# lease {{ .LeaseID }} valid for {{ .LeaseDuration }}s, renewable={{ .Renewable }}
{{- end }}
