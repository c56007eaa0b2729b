{{- /*
  mTLS client identity bundle: the client certificate, its CA chain and
  its private key (PKCS#8), in that order, in one PEM file.  For clients
  that take one file for both: curl --cert client.pem, Python
  ssl.SSLContext.load_cert_chain("client.pem") / requests cert="client.pem",
  HAProxy "crt", Go's tls.X509KeyPair on the file read twice.  Holds the
  key: render it mode 0600, owned by the client's user.

  One file, one issuance.  The client uses its own CLIENT_* variables, so
  one agent can render a service's server set (kafka, postgresql, nginx,
  uvicorn: PKI_*) and its client identity side by side.  The role behind
  the issue path must allow client certificates (client_flag, on by
  default in Vault).

  Environment (read by the agent process when it renders):
    CLIENT_ISSUE_PATH   required  Vault issue endpoint, e.g. pki_int/issue/clients
    PKI_ISSUE_PATH      optional  used instead when CLIENT_ISSUE_PATH is unset
    CLIENT_COMMON_NAME  required  the client's CN, e.g. billing-worker
    CLIENT_ALT_NAMES    optional  comma-separated DNS (or email) SANs
    CLIENT_TTL          optional  e.g. 24h; the role's default when unset
  An unset variable reads as "" (as in consul-template); an optional one
  that is empty is left out of the request.  With neither issue path set
  the template fails ("empty path") and writes nothing; with
  CLIENT_COMMON_NAME unset Vault refuses the request.
*/ -}}
{{- $issue := or (env "CLIENT_ISSUE_PATH") (env "PKI_ISSUE_PATH") -}}
{{- $cn := printf "common_name=%s" (env "CLIENT_COMMON_NAME") -}}
{{- $alt := and (env "CLIENT_ALT_NAMES") (printf "alt_names=%s" (env "CLIENT_ALT_NAMES")) -}}
{{- $ttl := and (env "CLIENT_TTL") (printf "ttl=%s" (env "CLIENT_TTL")) -}}
{{- with secret $issue $cn $alt $ttl "private_key_format=pkcs8" -}}
{{ .Data.certificate | trimSpace }}
{{ range .Data.ca_chain }}{{ . | trimSpace }}
{{ end -}}
{{ .Data.private_key | trimSpace }}
{{ end -}}
