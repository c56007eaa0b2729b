{{- with secret "secret/data/edge/upstreams" -}}
upstream backend {
{{- range $i, $s := .Data.data.servers }}
    server {{ printf "%-20s" $s.addr }} weight={{ printf "%v" $s.weight }};  # {{ printf "%02d" $i }}
{{- end }}
}
auth_basic_user_file {{ printf "%q" .Data.data.htpasswd_path }};
{{ printf "# %d servers, %s%% healthy" (len .Data.data.servers) .Data.data.healthy }}
{{ end -}}
