/*
 * certfiles: the files of a certificates: entry.
 *
 * DESIGN: the render stage of a declarative certificate.  One issuance
 * (struct cert_material) becomes every file of the entry: cert, key,
 * chain, ca, and bundles of those parts in the order given.  They are
 * staged and fsync'd first, then renamed in quick succession, or swapped
 * whole through atomic_dir's ..data link, so a reader never sees a key
 * from one issuance beside a certificate from another for longer than
 * two renames, and with atomic_dir not at all.  A file whose bytes would
 * not change is not touched.  Reading the files back (for adoption on
 * start) is the same mapping in reverse.
 */
#ifndef CERTAGENT_CERTFILES_H
#define CERTAGENT_CERTFILES_H

#include <stddef.h>

/* One output file of a certificate: files.<name> */
struct cert_file {
	char *name;		/* cert, key, chain, ca or bundle */
	char *path;		/* a bare file name under atomic_dir */
	unsigned mode;		/* 0 = default: 0600 if it holds the key, else 0644 */
	char *owner, *group;	/* user / group names or numeric ids */
	char **parts;		/* bundle: which parts, in order */
	size_t n_parts;
	int backup;		/* keep the previous file as NAME.bak */
	/* ---- keymat: the forms other consumers want ---- */
	char *format;		/* cert, key: pem | der; pin: base64 | hex */
	char *password_file;	/* pkcs12, truststore_pkcs12: the password */
	char *password_env;	/* ... or the variable that holds it */
	char *friendly_name;	/* pkcs12: the alias; default the entry's name */
	int legacy;		/* pkcs12: 3DES and a SHA-1 MAC, for old JVMs */
	char *of;		/* pin: leaf | intermediate */
	struct cert_file_encrypt {
		char *passphrase_file, *passphrase_env;
		char *passphrase_kv;	/* a kv read path, read at each write */
		char *passphrase_field;	/* its field; default "passphrase" */
		char *kdf;	/* pbkdf2 (default) | scrypt */
	} encrypt;		/* key: write it as encrypted PKCS#8 */
	/* Set by the config check from the words above. */
	int der;		/* cert, key: DER rather than PEM */
	int pin_hex;		/* pin: hex rather than base64 */
	int pin_intermediate;	/* pin: of the first intermediate */
	int scrypt;		/* encrypt.kdf: scrypt */
};

/* The files of an entry, and where to find its trust anchor. */
struct cert_files {
	struct cert_file *files;
	size_t n;
	char *atomic_dir;	/* write the set under DIR/..data, swapped whole */
	char *trust_anchor;	/* PEM file; default: the anchor Vault returns */
};

/* One issuance: PEM text; CHAIN holds the intermediates, CA the anchor. */
struct cert_material {
	const char *cert, *key, *chain, *ca;
	/* encrypt.passphrase_kv: what the entry read from kv for this
	 * write (certfiles reads no Vault); NULL otherwise. */
	const char *key_passphrase;
};

/* What an entry's files hold now: malloc'd PEM, NULL where absent. */
struct cert_loaded {
	char *cert, *key;	/* from cert/key, or the bundle */
	char *chain;		/* the chain file, or a bundle with more certs */
	char *ca;		/* trust_anchor, else the ca file */
	int key_sealed;		/* key is NULL: an encrypted PKCS#8 file whose
				 * passphrase is in kv, left unopened */
	char why[512];		/* why a configured file could not be read
				 * back (a wrong password, ...), or "" */
};

/*
 * Read back the files of CC.  A key whose passphrase comes from kv is
 * opened with KEY_PASSPHRASE when given; without it (a start, which
 * must not read Vault per entry) a file that is an encrypted PKCS#8 key
 * is left unopened: OUT->key_sealed.
 */
void certfiles_load(const struct cert_files *cc, struct cert_loaded *out);
void certfiles_load_with(const struct cert_files *cc,
			 const char *key_passphrase, struct cert_loaded *out);

/* Free what certfiles_load() read, wiping the key. */
void certfiles_loaded_free(struct cert_loaded *l);

/*
 * Write every file of CC from M as one set.  0 with *PATHS set to the
 * paths whose bytes changed (a NULL-terminated list, NULL when none
 * changed), or a negative errno with ERR, and no file replaced.
 */
int certfiles_write(const struct cert_files *cc, const struct cert_material *m,
		    char ***paths, char *err, size_t errlen);

/* How many paths PATHS holds; free them. */
size_t certfiles_count(char *const *paths);
void certfiles_paths_free(char **paths);

/*
 * Remove the temp files a killed writer left beside the files of the N
 * entries SETS: one directory scan per directory, however many files it
 * holds.
 */
void certfiles_remove_stale(const struct cert_files *const *sets, size_t n);

/* Does F (a key file) write the key encrypted? */
int certfiles_key_encrypted(const struct cert_file *f);

/* The key file of CC whose passphrase is read from kv, or NULL. */
const struct cert_file *certfiles_kv_key(const struct cert_files *cc);

/*
 * The bytes of F, a truststore_pkcs12 of the CAs in CAS_PEM, appended to
 * B: F's password is read now, and F's file is kept byte for byte when it
 * already holds these CAs (a keystore has a fresh salt at each write).
 * For a trust bundle, whose truststore holds no issuance.  Errors name
 * F's path and the cause, never the password.
 */
struct buf;
int certfiles_truststore(const struct cert_file *f, const char *cas_pem,
			 struct buf *b, char *err, size_t errlen);

#endif
