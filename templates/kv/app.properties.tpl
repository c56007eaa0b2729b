{{- /*
  A Java .properties file from one kv v2 secret: one key=value line per
  field of the secret, sorted by key (byte order, as app.env.tpl).

  Escaped, in keys and values, as java.util.Properties.load reads them:
    \  ->  \\          =  ->  \=          :  ->  \:
    #  ->  \#          !  ->  \!          newline  ->  \n
  and, in keys only, a space -> "\ ".  Nothing else is escaped (leading
  spaces of a value are dropped by Properties.load; non-ASCII is written
  as UTF-8, which Properties.load(Reader) and Java 9+ resource bundles
  read, but not Properties.load(InputStream)).  Numbers and booleans
  print as JSON would (3, true).  Holds secrets: render it mode 0600 or
  0640.

  Goes with app.env.tpl (the same secret); both make one call.

  Environment (read by the agent process when it renders):
    KV_PATH  required  the secret's kv v2 read path, with the data/
                       segment: secret/data/myapp for `vault kv get
                       secret/myapp`.  Unset: the template fails ("empty
                       path") and writes nothing.
*/ -}}
{{- with secret (env "KV_PATH") -}}
{{ range $k, $v := .Data.data -}}
{{ $k | replaceAll "\\" "\\\\" | replaceAll "=" "\\=" | replaceAll ":" "\\:" | replaceAll "#" "\\#" | replaceAll "!" "\\!" | replaceAll "\n" "\\n" | replaceAll " " "\\ " -}}
={{ printf "%v" $v | replaceAll "\\" "\\\\" | replaceAll "=" "\\=" | replaceAll ":" "\\:" | replaceAll "#" "\\#" | replaceAll "!" "\\!" | replaceAll "\n" "\\n" }}
{{ end }}
{{- end -}}
