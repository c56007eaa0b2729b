{{- /*
  The ssl.* lines of a Kafka broker that uses the PEM keystore and
  truststore rendered by keystore.pem.tpl and truststore.pem.tpl, with
  client authentication required (mTLS).  Property names as documented by
  Kafka for PEM stores (KIP-651).  Add them to the broker's
  server.properties (or a listener's listener.name.<name>. prefixed set);
  Kafka reads one properties file and has no include directive.

  No ssl.key.password line: the key is an unencrypted PKCS#8 key, which
  Kafka 3.3 and later accept in a PEM keystore file (KAFKA-12703).

  Goes with keystore.pem.tpl and truststore.pem.tpl.  This file reads no
  Vault data: it renders at once.

  Environment:
    KAFKA_SSL_DIR  optional  where keystore.pem and truststore.pem are
                             rendered; /etc/kafka/ssl when unset.  Use the
                             same value for the destinations in agent.yaml.
*/ -}}
{{- $dir := or (env "KAFKA_SSL_DIR") "/etc/kafka/ssl" -}}
ssl.keystore.type=PEM
ssl.keystore.location={{ $dir }}/keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location={{ $dir }}/truststore.pem
ssl.client.auth=required
