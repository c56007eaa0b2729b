/*
 * identity: the client certificate the agent presents to Vault
 * (vault.client_cert and vault.client_key), which is also its identity
 * for cert auth.
 *
 * DESIGN: the pair is read into memory and handed to libcurl as blobs
 * (CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB), not as file names.  curl
 * matches a pooled connection, and a cached TLS session, to a request by
 * its TLS settings: with file names those stay the same when the files
 * are replaced, so a renewed pair would never be presented and Vault
 * would go on seeing the old, expiring certificate (on a resumed session
 * too: the server restores the certificate of the original handshake).
 * With the bytes as the setting, a new pair is a new setting: no old
 * connection or session is used for it.  Measured (test_identity.py):
 * with file names, every login after the first certificate expired got
 * Vault's 400 "invalid certificate or no client certificate supplied",
 * from a pooled connection that still carried it; with the bytes, none
 * did.  CURLOPT_FRESH_CONNECT would also work, but for every request
 * (a TLS handshake each), not only after a change.
 *
 * Before each request the files are looked at (stat: device, inode,
 * size, mtime); when they changed they are read, and a pair whose key
 * does not match its certificate, or whose certificate has expired, is
 * refused with an error naming the files, and the pair held before stays
 * in use while it is valid.  Whoever replaced the files (the agent's own
 * certificates: entry, or another process, by rename), the next request
 * presents the new pair.
 */
#ifndef CERTAGENT_IDENTITY_H
#define CERTAGENT_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

struct identity;

/* The pair at CERT_PATH and KEY_PATH, read now.  -ENOMEM only: a pair that
 * cannot be used yet is a state (see identity_state), not an error. */
int identity_new(const char *cert_path, const char *key_path,
		 struct identity **out);

/*
 * Look at the files again; read and check them when they changed.
 * Returns 1 when a new pair was taken into use, else 0.
 */
int identity_refresh(struct identity *id);

struct identity_state {
	int usable;		/* a checked pair is held and has not expired */
	char serial[128];	/* of the pair held, "" if none */
	int64_t not_after;	/* unix seconds, 0 if none */
	const char *error;	/* why the files are not (or no longer) used; "" */
};
void identity_state(const struct identity *id, struct identity_state *st);

/* The pair held, for curl (both NULL when none is usable). */
void identity_blobs(const struct identity *id, const char **cert,
		    size_t *cert_len, const char **key, size_t *key_len);

/* The certificate held (PEM), or NULL. */
const char *identity_cert_pem(const struct identity *id);

/* The configured paths. */
const char *identity_cert_path(const struct identity *id);
const char *identity_key_path(const struct identity *id);

void identity_free(struct identity *id);

#endif
