{{- /*
  Kafka broker PEM keystore (KIP-651, Kafka 2.7+): ssl.keystore.type=PEM.

  Output: the private key (unencrypted PKCS#8, "BEGIN PRIVATE KEY"), then
  the broker certificate, then the CA chain Vault returns, in one file.
  Kafka reads a PEM keystore file only with a PKCS#8 key, hence
  private_key_format=pkcs8.  An unencrypted key in a keystore file needs
  Kafka 3.3 or later (KAFKA-12703); older brokers insist on
  ssl.key.password and an encrypted key, which this template does not make.
  Render it mode 0600, owned by the broker's user.

  Goes with (same directory, one Vault issuance for all three):
    keystore.pem.tpl     -> keystore.pem     (this file; key + cert + chain)
    truststore.pem.tpl   -> truststore.pem   (the CA chain)
    ssl.properties.tpl   -> ssl.properties   (the broker's ssl.* lines)
  The issue call below is written identically in every file of this set
  (and of the postgresql, nginx and uvicorn sets): certagent keys its
  store on (path, arguments), so the key and the certificate always come
  from ONE issuance.  Change it in every file or in none.

  Environment (read by the agent process when it renders):
    PKI_ISSUE_PATH   required  Vault issue endpoint, e.g. pki_int/issue/kafka-broker
    PKI_COMMON_NAME  required  the certificate's CN, e.g. kafka-1.broker.example.com
    PKI_ALT_NAMES    optional  comma-separated DNS SANs (the CN is added by Vault)
    PKI_IP_SANS      optional  comma-separated IP SANs, e.g. 10.0.0.11,127.0.0.1
    PKI_TTL          optional  e.g. 72h; the role's default when unset
  An unset variable reads as "" (as in consul-template); an optional one
  that is empty is left out of the request.  With PKI_ISSUE_PATH unset the
  template fails ("empty path") and writes nothing; with PKI_COMMON_NAME
  unset Vault refuses the request.

  Kafka does not watch these files: after a renewal, make the broker
  reload its keystore through a dynamic config update of
  listener.name.<listener>.ssl.keystore.location (KIP-226), or restart it.
*/ -}}
{{- $issue := env "PKI_ISSUE_PATH" -}}
{{- $cn := printf "common_name=%s" (env "PKI_COMMON_NAME") -}}
{{- $alt := and (env "PKI_ALT_NAMES") (printf "alt_names=%s" (env "PKI_ALT_NAMES")) -}}
{{- $ip := and (env "PKI_IP_SANS") (printf "ip_sans=%s" (env "PKI_IP_SANS")) -}}
{{- $ttl := and (env "PKI_TTL") (printf "ttl=%s" (env "PKI_TTL")) -}}
{{- with secret $issue $cn $alt $ip $ttl "private_key_format=pkcs8" -}}
{{ .Data.private_key | trimSpace }}
{{ .Data.certificate | trimSpace }}
{{ range .Data.ca_chain }}{{ . | trimSpace }}
{{ end }}
{{- end -}}
