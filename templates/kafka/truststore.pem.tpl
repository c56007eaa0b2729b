{{- /*
  Kafka PEM truststore (KIP-651): ssl.truststore.type=PEM.

  Output: the CA chain of the broker's certificate (Vault's ca_chain: the
  issuing intermediate, and the root when Vault's chain includes it; the
  issuing CA alone when Vault returns no chain).  With
  ssl.client.auth=required the broker accepts clients, and other brokers,
  whose certificates chain to these CAs.  Public: mode 0644 is fine.

  Goes with keystore.pem.tpl and ssl.properties.tpl (same directory).

  The issue call below is the same as in keystore.pem.tpl, word for word,
  so both files come from one issuance: keep them identical.

  Environment (read by the agent process when it renders):
    PKI_ISSUE_PATH   required  Vault issue endpoint, e.g. pki_int/issue/kafka-broker
    PKI_COMMON_NAME  required  the certificate's CN
    PKI_ALT_NAMES    optional  comma-separated DNS SANs
    PKI_IP_SANS      optional  comma-separated IP SANs
    PKI_TTL          optional  e.g. 72h; the role's default when unset
  An unset variable reads as ""; see keystore.pem.tpl.
*/ -}}
{{- $issue := env "PKI_ISSUE_PATH" -}}
{{- $cn := printf "common_name=%s" (env "PKI_COMMON_NAME") -}}
{{- $alt := and (env "PKI_ALT_NAMES") (printf "alt_names=%s" (env "PKI_ALT_NAMES")) -}}
{{- $ip := and (env "PKI_IP_SANS") (printf "ip_sans=%s" (env "PKI_IP_SANS")) -}}
{{- $ttl := and (env "PKI_TTL") (printf "ttl=%s" (env "PKI_TTL")) -}}
{{- with secret $issue $cn $alt $ip $ttl "private_key_format=pkcs8" -}}
{{ range .Data.ca_chain }}{{ . | trimSpace }}
{{ else }}{{ .Data.issuing_ca | trimSpace }}
{{ end }}
{{- end -}}
