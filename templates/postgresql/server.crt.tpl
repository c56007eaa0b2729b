{{- /*
  PostgreSQL server certificate: ssl_cert_file = 'server.crt'.

  Output: the server certificate followed by the CA chain Vault returns
  (PostgreSQL sends the intermediates after the leaf).

  Goes with (one Vault issuance for all three):
    server.crt.tpl -> server.crt  (this file; ssl_cert_file)
    server.key.tpl -> server.key  (ssl_key_file; mode 0600, owner postgres)
    root.crt.tpl   -> root.crt    (ssl_ca_file: CAs for client certificates)

  The issue call below is the same, word for word, in every file of this
  set (and of the kafka, nginx and uvicorn sets): certagent keys its store
  on (path, arguments), so every file comes from ONE issuance. Change it
  in every file or in none.

  Reload: PostgreSQL re-reads its SSL files on SIGHUP (pg_ctl reload,
  SELECT pg_reload_conf()); an invalid new set keeps the old one.

  Environment (read by the agent process when it renders):
    PKI_ISSUE_PATH   required  Vault issue endpoint, e.g. pki_int/issue/NAME
    PKI_COMMON_NAME  required  the certificate's CN
    PKI_ALT_NAMES    optional  comma-separated DNS SANs (Vault adds the CN)
    PKI_IP_SANS      optional  comma-separated IP SANs, e.g. 127.0.0.1
    PKI_TTL          optional  e.g. 72h; the role's default when unset
  An unset variable reads as "" (as in consul-template); an optional one
  that is empty is left out of the request.  With PKI_ISSUE_PATH unset the
  template fails ("empty path") and writes nothing; with PKI_COMMON_NAME
  unset Vault refuses the request.
*/ -}}
{{- $issue := env "PKI_ISSUE_PATH" -}}
{{- $cn := printf "common_name=%s" (env "PKI_COMMON_NAME") -}}
{{- $alt := and (env "PKI_ALT_NAMES") (printf "alt_names=%s" (env "PKI_ALT_NAMES")) -}}
{{- $ip := and (env "PKI_IP_SANS") (printf "ip_sans=%s" (env "PKI_IP_SANS")) -}}
{{- $ttl := and (env "PKI_TTL") (printf "ttl=%s" (env "PKI_TTL")) -}}
{{- with secret $issue $cn $alt $ip $ttl "private_key_format=pkcs8" -}}
{{ .Data.certificate | trimSpace }}
{{ range .Data.ca_chain }}{{ . | trimSpace }}
{{ end }}
{{- end -}}
