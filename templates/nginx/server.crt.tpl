{{- /*
  nginx server certificate for ssl_certificate.

  Output: the server certificate followed by the CA chain, as
  ssl_certificate wants (leaf first, then the intermediates).

  Goes with (one Vault issuance for all three; see
  examples/nginx/nginx-tls.conf):
    server.crt.tpl    -> server.crt    (this file; ssl_certificate)
    server.key.tpl    -> server.key    (ssl_certificate_key; mode 0600)
    client-ca.crt.tpl -> client-ca.crt (ssl_client_certificate, with
                                        ssl_verify_client on)

  The issue call below is the same, word for word, in every file of this
  set (and of the kafka, postgresql and uvicorn sets): certagent keys its
  store on (path, arguments), so every file comes from ONE issuance.
  Change it in every file or in none.

  Reload: nginx re-reads certificates on SIGHUP (nginx -s reload); the old
  workers finish their connections.

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
