{{ with secret "secret/data/app" }}{{ regexReplaceAll "(?P<u>\\w+)[.-](\\d+)?" "${u}_$2$$" .Data.data.username }}
{{ regexMatch "(?i)^[a-z\\s]+\\b$" .Data.data.password }} {{ sprig_regexFindAll "[[:alpha:]]+|x*" "ab1 cd" -1 }} {{ sprig_regexSplit "\\Q.\\E" "a.b" 2 }}
{{ .Data.data | toYAML }}
{{ .Data | toTOML }}
{{ parseYAML "a: &x {b: [1, yes, ~, 0x1F, 1:20, 2001-12-14]}\nc: *x\n" | toJSON }}{{ end }}
