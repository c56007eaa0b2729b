/*
 * x509: everything the agent asks of OpenSSL about certificates and keys:
 * read a certificate, check that a key belongs to it, verify its chain,
 * check its names, make keys and CSRs, build PKCS#12 keystores.
 *
 * DESIGN: the API speaks PEM text (and DER bytes for PKCS#12), never
 * OpenSSL types, so no other module includes an OpenSSL header.  Every
 * function returns 0 or a negative errno-style code, with one line on the
 * cause in ERR; the codes mean the same everywhere:
 *   -EINVAL   the input parsed but fails the check asked for (the key does
 *             not match, the chain does not verify, a name is missing), or
 *             an argument is out of range;
 *   -EBADMSG  a PEM block, certificate or key cannot be parsed;
 *   -ENOENT   the PEM text holds no certificate;
 *   -EFBIG    the PEM text is larger than X509_PEM_MAX;
 *   -ENOMEM   out of memory.
 * Private keys never reach ERR, and every copy of key material this module
 * makes is cleansed before it is freed.
 */
#ifndef CERTAGENT_X509_H
#define CERTAGENT_X509_H

#include <stddef.h>

/* Any PEM argument longer than this is refused (-EFBIG). */
#define X509_PEM_MAX (4u * 1024 * 1024)

/* The clock skew x509_check_bundle() forgives in a not-before time. */
#define X509_SKEW_SECONDS 300

struct x509_info {
	char serial[128];	/* "39:dd:2e:...", lower-case, as Vault prints */
	long long not_before;	/* unix seconds */
	long long not_after;
	char subject_cn[256];	/* "" when the subject has no CN */
	char key_type[16];	/* "rsa", "ec", "ed25519", "ed448", ... */
	unsigned key_bits;	/* 2048, 256, 384, ... (ed25519: 256) */
	int is_ca;		/* basicConstraints CA:TRUE */
};

/*
 * The names a certificate must carry, or a CSR asks for.  CN may be NULL
 * or "" for none; DNS and IPS are arrays of NDNS and NIPS strings (IPs as
 * IPv4 or IPv6 text).
 */
struct x509_names {
	const char *cn;
	const char *const *dns;
	size_t ndns;
	const char *const *ips;
	size_t nips;
};

/* Describe the first certificate in PEM. */
int x509_cert_info(const char *pem, struct x509_info *out, char *err,
		   size_t errlen);

/*
 * What an audit record says of a certificate: the subject as one line
 * (RFC 2253), the subject alternative names ("DNS:a, IP:10.0.0.1"), and
 * the SHA-256 fingerprint of its DER encoding as colon-separated hex.
 */
struct x509_desc {
	char subject[512];
	char sans[1024];	/* truncated to fit */
	char sha256[96];
};

/* Describe the first certificate in PEM (info and desc). */
int x509_cert_describe(const char *pem, struct x509_info *info,
		       struct x509_desc *desc, char *err, size_t errlen);

/* SHA-256 of LEN bytes as lower-case hex into OUT (65 bytes or more). */
void x509_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Count the certificates in a PEM bundle: 0 if there are none, -EBADMSG
 * (or -EFBIG) if a PEM block or a certificate in it is malformed.  Blocks
 * of other types (a key beside the certificate) are skipped.
 */
int x509_count_certs(const char *pem);

/*
 * Does the private key KEY_PEM (PKCS#8, or traditional "RSA" / "EC"
 * PEM; encrypted keys are refused) belong to the first certificate of
 * CERT_PEM?  The public halves must be equal and a signature made with
 * the key must verify under the certificate.  0 yes; -EINVAL no, and ERR
 * names the certificate's subject and serial; -EBADMSG or -ENOENT when
 * either cannot be parsed.
 */
int x509_key_matches(const char *cert_pem, const char *key_pem, char *err,
		     size_t errlen);

/*
 * Verify the first certificate of LEAF_PEM up to a trust anchor in
 * ANCHOR_PEM (one or more certificates: a root, or an intermediate the
 * operator pins; partial chains are accepted).  The rest of LEAF_PEM and
 * all of CHAIN_PEM (may be NULL, may contain the root) are untrusted
 * intermediates.  AT is the verification time in unix seconds, 0 for now.
 * No purpose is required.  On failure (-EINVAL) ERR names OpenSSL's verify
 * error and the depth and subject where it failed.
 */
int x509_verify_chain(const char *leaf_pem, const char *chain_pem,
		      const char *anchor_pem, long long at, char *err,
		      size_t errlen);

/*
 * Does the first certificate of CERT_PEM carry NAMES?  The CN must equal a
 * subject CN or match a DNS SAN; each DNS name must match a DNS SAN
 * (ASCII case-insensitive; a SAN "*.x.y" matches any one label in place
 * of the star); each IP must equal an IP SAN.  -EINVAL names the first
 * missing name in ERR.
 */
int x509_check_names(const char *cert_pem, const struct x509_names *names,
		     char *err, size_t errlen);

/*
 * Everything the agent checks before it writes an issued bundle, in this
 * order, stopping at the first failure: KEY_PEM (unless NULL) belongs to
 * the certificate; the certificate's validity is sane at NOW (unix
 * seconds, 0 for the current time): not_before < not_after, not_after
 * > NOW, not_before <= NOW + X509_SKEW_SECONDS; the chain verifies to
 * ANCHOR_PEM (skipped if ANCHOR_PEM is NULL) at NOW, or at not_before when
 * that is within the skew; NAMES (may be NULL) are all present.
 */
int x509_check_bundle(const char *cert_pem, const char *key_pem,
		      const char *chain_pem, const char *anchor_pem,
		      const struct x509_names *names, long long now, char *err,
		      size_t errlen);

/*
 * x509_check_bundle() for material the agent wrote itself and reads back
 * on start: the key must be the certificate's (their public halves are
 * equal), but its private half is not proven by a computation (an EC
 * point multiplication, an RSA signature), which on a restart is the
 * larger part of the work.  New material from Vault always gets the
 * whole check before it is written.
 */
int x509_check_kept(const char *cert_pem, const char *key_pem,
		    const char *chain_pem, const char *anchor_pem,
		    const struct x509_names *names, char *err, size_t errlen);

/*
 * Generate a private key: TYPE "rsa" (BITS 2048, 3072, 4096 or 8192),
 * "ec" (256, 384 or 521) or "ed25519" (BITS ignored); BITS 0 picks the
 * default (rsa 2048, ec 256).  *KEY_PEM is set to malloc'd PKCS#8 PEM;
 * free it with secret_free() (buf.h).
 */
int x509_generate_key(const char *type, unsigned bits, char **key_pem,
		      char *err, size_t errlen);

/*
 * A PEM CSR for KEY_PEM asking for NAMES (subject CN, DNS and IP SANs),
 * signed with the key: SHA-256, or no digest for Ed25519.
 */
int x509_make_csr(const char *key_pem, const struct x509_names *names,
		  char **csr_pem, char *err, size_t errlen);

/*
 * Split a PEM bundle into its first certificate and the rest (both
 * malloc'd PEM text as PEM_write re-encodes it; *REST is "" when the
 * bundle holds one certificate).
 */
int x509_split_first(const char *pem, char **first, char **rest, char *err,
		     size_t errlen);

/*
 * Was the first certificate of CERT_PEM issued by the first certificate
 * of ISSUER_PEM (names and key identifiers agree, and the issuer may sign
 * certificates)?  1 or 0; the signature is not checked.
 */
int x509_issued_by(const char *issuer_pem, const char *cert_pem);

/* Drop the certificates remembered from recent parses (at exit). */
void x509_forget(void);

/* ---- keymat: x509_keymat.c ---- */

/*
 * A PKCS#12 keystore of CERT_PEM, KEY_PEM and CHAIN_PEM's certificates
 * (may be NULL) under PASSWORD, the key entry named ALIAS (may be NULL):
 * AES-256-CBC, PBKDF2-HMAC-SHA256, an HMAC-SHA256 MAC; with
 * X509_P12_LEGACY in FLAGS: 3DES under the PKCS#12 KDF, a SHA-1 MAC.
 * Salts and IVs are random, or with X509_P12_STABLE derived from a hash
 * of the password and the material, so that the same inputs give the same
 * bytes (for a template, whose output is compared byte for byte).  *DER
 * holds the key: secret_free_len().
 */
#define X509_P12_LEGACY 1
#define X509_P12_STABLE 2
int x509_keystore(const char *cert_pem, const char *key_pem,
		  const char *chain_pem, const char *password,
		  const char *alias, int flags, unsigned char **der,
		  size_t *der_len, char *err, size_t errlen);

/*
 * A PKCS#12 truststore: every certificate of CERTS_PEM once, as a trusted
 * certificate entry (Java's trusted-key-usage attribute), named ALIAS,
 * ALIAS-2, ... (ALIAS NULL: "ca").
 */
int x509_truststore(const char *certs_pem, const char *password,
		    const char *alias, int legacy, unsigned char **der,
		    size_t *der_len, char *err, size_t errlen);

/*
 * Open a keystore: its key (PKCS#8 PEM, free with secret_free()), its
 * certificate and its other certificates (*CHAIN_PEM NULL when none).
 * -EACCES when the password does not open it, -EBADMSG when it is not a
 * keystore, -ENOENT when it holds no key.
 */
int x509_keystore_open(const unsigned char *der, size_t len,
		       const char *password, char **cert_pem, char **key_pem,
		       char **chain_pem, char *err, size_t errlen);

/*
 * 1 if DER opens with PASSWORD and holds what x509_keystore() (or
 * x509_truststore()) would write from the same arguments: the same key,
 * certificates and alias, sealed the same way (legacy or not); else 0.
 */
int x509_keystore_same(const unsigned char *der, size_t len,
		       const char *password, const char *cert_pem,
		       const char *key_pem, const char *chain_pem,
		       const char *alias, int legacy);
int x509_truststore_same(const unsigned char *der, size_t len,
			 const char *password, const char *certs_pem,
			 const char *alias, int legacy);

/*
 * KEY_PEM as an encrypted PKCS#8 key (PBES2, AES-256-CBC; the key from
 * the PASSLEN bytes of PASS by scrypt if SCRYPT, else PBKDF2-HMAC-SHA256),
 * PEM, or DER if DER.  *OUT is malloc'd, NUL-terminated, *OUT_LEN bytes.
 */
int x509_encrypt_key(const char *key_pem, const char *pass, size_t passlen,
		     int scrypt, int der, char **out, size_t *out_len,
		     char *err, size_t errlen);

/* An encrypted PKCS#8 key (PEM or DER) decrypted to PKCS#8 PEM;
 * -EACCES when PASS does not decrypt it. */
int x509_decrypt_key(const void *data, size_t len, const char *pass,
		     size_t passlen, char **key_pem, char *err, size_t errlen);

/* 1 if DATA is an encrypted PKCS#8 key (PEM ENCRYPTED PRIVATE KEY, or
 * DER EncryptedPrivateKeyInfo), read without decrypting it; else 0. */
int x509_is_encrypted_key(const void *data, size_t len);

/* 1 if DATA decrypts with PASS to KEY_PEM's key, with the same KDF and
 * encoding (DER or PEM) that x509_encrypt_key() would use; else 0. */
int x509_encrypted_key_same(const void *data, size_t len, const char *pass,
			    size_t passlen, const char *key_pem, int scrypt,
			    int der);

/* The first certificate of PEM (or, IS_KEY, the key as PKCS#8) in DER,
 * malloc'd; a key's DER is freed with secret_free_len(). */
int x509_pem_to_der(const char *pem, int is_key, unsigned char **der,
		    size_t *der_len, char *err, size_t errlen);

/* The reverse: a DER certificate (or any DER private key) as PEM. */
int x509_der_to_pem(const void *der, size_t len, int is_key, char **pem,
		    char *err, size_t errlen);

/* The SHA-256 of the first certificate's SubjectPublicKeyInfo, as base64
 * (44 characters) or lower-case HEX (64), NUL-terminated in OUT
 * (OUTLEN >= 65). */
int x509_spki_pin(const char *cert_pem, int hex, char *out, size_t outlen,
		  char *err, size_t errlen);

/* ---- bundles ---- */

/*
 * One CA certificate of a trust bundle: its PEM (as PEM_write re-encodes
 * it, malloc'd), the SHA-256 of its DER as lower-case hex (its identity
 * in a bundle), its validity, whether it is a root (self-issued and
 * self-signed), and its subject for logs.
 */
struct x509_ca {
	char *pem;
	char sha256[65];
	long long not_before, not_after;
	int root;
	char subject[256];
};

/*
 * Every certificate of PEM as a struct x509_ca, in order, into a malloc'd
 * array *OUT of *N (NULL and 0 when PEM holds none).  Free it with
 * x509_ca_free().
 */
int x509_ca_split(const char *pem, struct x509_ca **out, size_t *n, char *err,
		  size_t errlen);
void x509_ca_free(struct x509_ca *v, size_t n);

/* What a CRL says of itself. */
struct x509_crl_info {
	long long this_update, next_update;	/* unix seconds; next 0 if absent */
	long long number;			/* CRL number, -1 if absent */
	int delta;				/* a delta CRL (deltaCRLIndicator) */
	size_t n_revoked;
	char issuer[256];
};

/*
 * Is the first CRL of CRL_PEM signed by a certificate of CA_PEM (one whose
 * subject is the CRL's issuer and whose key verifies its signature), and
 * current at NOW (unix seconds, 0 for now): thisUpdate no later than NOW
 * + X509_SKEW_SECONDS, nextUpdate (when present) after NOW?  0 and *OUT;
 * -ENOENT when CRL_PEM holds no CRL; -EBADMSG when it cannot be parsed;
 * -EINVAL with the reason in ERR when it fails a check.
 */
int x509_crl_check(const char *crl_pem, const char *ca_pem, long long now,
		   struct x509_crl_info *out, char *err, size_t errlen);

#endif
