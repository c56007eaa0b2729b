{{ with secret (printf "secret/data/%s/config" (env "APP_NAME")) -}}
{{ if .Data.data.password -}}
password = "{{ .Data.data.password }}"
{{ end -}}
{{ if .Data.data.missing_key }}never{{ else }}# no missing_key{{ end }}
url = {{ .Data.data.url }}
environment = "{{ env "APP_ENV" | toLower }}"
region = "{{ or (env "CERTAGENT_TEST_UNSET_REGION") "us-east-1" }}"
{{ if contains "prod" (env "APP_ENV" | toLower) }}tls = strict{{ end }}
hosts = {{ "a.example.com, b.example.com" | split ", " | join "," }}
version {{ .Data.metadata.version }}{{ if ne .Data.metadata.deletion_time "" }} (deleted){{ end }}
{{ end -}}
