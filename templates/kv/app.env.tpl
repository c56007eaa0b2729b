{{- /*
  An environment file from one kv v2 secret: one KEY=value line per field
  of the secret, sorted by key (Go's map order: byte order, so "Z" sorts
  before "a").  For systemd EnvironmentFile=, docker --env-file, or
  `set -a; . ./app.env` when the values need no shell quoting.

  Values are written as they are, unquoted and unescaped: keep them to one
  line (a value holding a newline breaks the file) and use fields whose
  names are valid variable names.  Numbers and booleans print as JSON
  would (3, true).  Holds secrets: render it mode 0600 or 0640.

  Goes with app.properties.tpl (the same secret as a Java .properties
  file); both read the secret once per refresh, as one call.

  Environment (read by the agent process when it renders):
    KV_PATH  required  the secret's kv v2 read path, with the data/
                       segment: secret/data/myapp for `vault kv get
                       secret/myapp`.  Unset: the template fails ("empty
                       path") and writes nothing.
*/ -}}
{{- with secret (env "KV_PATH") -}}
{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }}
{{ end }}
{{- end -}}
