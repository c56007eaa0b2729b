/*
 * x509_keymat: key material in the forms consumers other than PEM readers
 * want: PKCS#12 keystores and truststores (Java, Kafka), encrypted PKCS#8
 * keys (services with an ssl_key_passphrase setting), DER files, SPKI
 * pins; and the way back, so that a keystore or an encrypted key on disk
 * can be adopted on restart and compared with what would be written.
 *
 * DESIGN: the rules of x509.c (PEM text in, one OpenSSL object life per
 * call, ERR marks, no key bytes or passwords in error text).  Keystores
 * and encrypted keys carry random salts and IVs, so two writes of the same
 * material never have the same bytes: the *_same() functions open what is
 * on disk with the password and compare the material and the algorithms
 * instead, so a file whose content would not change is not rewritten.
 *  - keystore: PKCS12_create()'s layout, with AES-256-CBC under
 *    PBKDF2-HMAC-SHA256 for the key and the certificates, and an
 *    HMAC-SHA256 MAC (what Java 17's keytool writes and reads); legacy:
 *    3DES under the PKCS#12 KDF for both, and a SHA-1 MAC, which OpenSSL 3
 *    still reads without the legacy provider and JVMs before 8u301
 *    understand.  Built by hand so that a template (whose output is
 *    compared byte for byte) can have salts and IVs derived from a hash
 *    of the password and the material: same inputs, same bytes.
 *  - truststore: certificate bags only, each with a friendlyName and
 *    Oracle's trusted-key-usage attribute (2.16.840.1.113894.746875.1.1 =
 *    anyExtendedKeyUsage): without it keytool lists nothing trusted.
 *  - encrypted key: PKCS#8 EncryptedPrivateKeyInfo, PBES2 with
 *    AES-256-CBC, the key derived by PBKDF2-HMAC-SHA256 or scrypt.
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "x509.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "buf.h"
#include "x509_int.h"

#define P12_ITER 2048		/* PKCS#12 KDF and MAC: openssl's default */
#define KEY_PBKDF2_ITER 100000	/* an encrypted key's PBKDF2 */
#define KEY_SCRYPT_N 16384	/* ... or scrypt: N, r, p as openssl pkcs8 */
#define KEY_SCRYPT_R 8
#define KEY_SCRYPT_P 1
#define JDK_TRUST_OID "2.16.840.1.113894.746875.1.1"

/* DER of a PKCS#12 into malloc'd *DER. */
static int
p12_der(PKCS12 *p12, unsigned char **der, size_t *len, char *err,
	size_t errlen)
{
	unsigned char *buf, *p;
	int n = i2d_PKCS12(p12, NULL);

	if (n <= 0) {
		snprintf(err, errlen, "PKCS#12: cannot encode it: %s",
			 x509_ossl_why());
		return -ENOMEM;
	}
	buf = malloc((size_t)n);
	if (buf == NULL) {
		snprintf(err, errlen, "PKCS#12: out of memory");
		return -ENOMEM;
	}
	p = buf;
	if (i2d_PKCS12(p12, &p) != n) {
		secret_free_len(buf, (size_t)n);
		snprintf(err, errlen, "PKCS#12: encoding changed length");
		return -EIO;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

static int
set_mac(PKCS12 *p12, const char *password, int legacy, char *err,
	size_t errlen)
{
	if (PKCS12_set_mac(p12, password, -1, NULL, 0, P12_ITER,
			   legacy ? EVP_sha1() : EVP_sha256()) != 1) {
		snprintf(err, errlen, "PKCS#12: cannot compute the MAC: %s",
			 x509_ossl_why());
		return -ENOMEM;
	}
	return 0;
}

static int
p12_pbe(int legacy)
{
	return legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
}

/* Drop from CHAIN the LEAF and any certificate it holds twice. */
static void
dedupe(STACK_OF(X509) *chain, X509 *leaf)
{
	for (int i = sk_X509_num(chain) - 1; i >= 0; i--) {
		X509 *c = sk_X509_value(chain, i);
		int dup = leaf && X509_cmp(c, leaf) == 0;

		for (int j = 0; j < i && !dup; j++)
			dup = X509_cmp(sk_X509_value(chain, j), c) == 0;
		if (dup)
			X509_free(sk_X509_delete(chain, i));
	}
}

/* A chain as PKCS12_parse() gives it back: without the leaf, no repeats. */
static STACK_OF(X509) *
chain_of(const char *chain_pem, X509 *leaf)
{
	STACK_OF(X509) *chain = NULL;
	char err[64];

	if (chain_pem == NULL || chain_pem[0] == '\0')
		return sk_X509_new_null();
	if (x509_read_certs(chain_pem, "chain", &chain, err, sizeof(err)) != 0)
		return NULL;
	dedupe(chain, leaf);
	return chain;
}

/*
 * SALT_LEN bytes for LABEL: random, or with SEED (a hash of the password
 * and the material) derived from it, so that the same inputs give the
 * same keystore.
 */
static int
salt_for(const unsigned char *seed, const char *label, unsigned char *out,
	 size_t n)
{
	unsigned char md[32];
	EVP_MD_CTX *ctx;
	int ok;

	if (seed == NULL)
		return RAND_bytes(out, (int)n) == 1 ? 0 : -EIO;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, seed, 32) == 1 &&
	     EVP_DigestUpdate(ctx, label, strlen(label)) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -ENOMEM;
	memcpy(out, md, n < sizeof(md) ? n : sizeof(md));
	return 0;
}

/* The PBE algorithm of a safe or the key bag, with its salt and IV. */
static X509_ALGOR *
make_pbe(int legacy, const unsigned char *seed, const char *label)
{
	unsigned char salt[16], iv[16];
	char l2[64];

	snprintf(l2, sizeof(l2), "%s iv", label);
	if (salt_for(seed, label, salt, sizeof(salt)) != 0 ||
	    salt_for(seed, l2, iv, sizeof(iv)) != 0)
		return NULL;
	if (legacy)	/* the PKCS#12 KDF derives the IV from the salt */
		return PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
				     P12_ITER, salt, 8);
	return PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), P12_ITER, salt,
				 sizeof(salt), iv, NID_hmacWithSHA256);
}

/* BAGS, encrypted under PBE (which it takes), as a PKCS#7 safe. */
static PKCS7 *
encrypted_safe(STACK_OF(PKCS12_SAFEBAG) *bags, X509_ALGOR *pbe,
	       const char *password)
{
	PKCS7 *p7 = PKCS7_new();
	ASN1_OCTET_STRING *data;

	if (p7 == NULL || pbe == NULL ||
	    PKCS7_set_type(p7, NID_pkcs7_encrypted) != 1)
		goto fail;
	data = PKCS12_item_i2d_encrypt(pbe, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
				       password, (int)strlen(password), bags,
				       1);
	if (data == NULL)
		goto fail;
	X509_ALGOR_free(p7->d.encrypted->enc_data->algorithm);
	p7->d.encrypted->enc_data->algorithm = pbe;
	ASN1_OCTET_STRING_free(p7->d.encrypted->enc_data->enc_data);
	p7->d.encrypted->enc_data->enc_data = data;
	return p7;
fail:
	X509_ALGOR_free(pbe);
	PKCS7_free(p7);
	return NULL;
}

/*
 * The keystore as PKCS12_create() lays it out (an encrypted safe of
 * certificate bags, the leaf's with friendlyName and localKeyID; a plain
 * safe with the shrouded key bag, the same attributes), built by hand so
 * that the salts and IVs can come from SEED.
 */
static PKCS12 *
build_keystore(X509 *x, EVP_PKEY *key, STACK_OF(X509) *chain,
	       const char *password, const char *alias, int legacy,
	       const unsigned char *seed)
{
	STACK_OF(PKCS12_SAFEBAG) *certs = NULL, *keys = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12_SAFEBAG *bag = NULL;
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *p8 = NULL;
	PKCS7 *p7 = NULL;
	PKCS12 *p12 = NULL;
	unsigned char keyid[EVP_MAX_MD_SIZE], macsalt[16];
	unsigned int keyidlen = 0;

	if (X509_digest(x, EVP_sha1(), keyid, &keyidlen) != 1)
		goto out;
	certs = sk_PKCS12_SAFEBAG_new_null();
	keys = sk_PKCS12_SAFEBAG_new_null();
	safes = sk_PKCS7_new_null();
	if (certs == NULL || keys == NULL || safes == NULL)
		goto out;
	/* The leaf, then the chain: sk_X509_num(NULL) is -1, so a keystore
	 * without a chain must not count on it. */
	for (int i = -1; i < (chain ? sk_X509_num(chain) : 0); i++) {
		bag = PKCS12_SAFEBAG_create_cert(i < 0 ? x : sk_X509_value(chain, i));
		if (bag == NULL)
			goto out;
		if (i < 0 && ((alias && PKCS12_add_friendlyname_asc(bag, alias,
								   -1) != 1) ||
			      PKCS12_add_localkeyid(bag, keyid, (int)keyidlen) != 1))
			goto out;
		if (sk_PKCS12_SAFEBAG_push(certs, bag) <= 0)
			goto out;
		bag = NULL;
	}
	p7 = encrypted_safe(certs, make_pbe(legacy, seed, "certs"), password);
	if (p7 == NULL || sk_PKCS7_push(safes, p7) <= 0)
		goto out;
	p7 = NULL;
	p8inf = EVP_PKEY2PKCS8(key);
	pbe = make_pbe(legacy, seed, "key");
	if (p8inf == NULL || pbe == NULL)
		goto out;
	p8 = PKCS8_set0_pbe(password, (int)strlen(password), p8inf, pbe);
	if (p8 == NULL)
		goto out;
	pbe = NULL;
	bag = PKCS12_SAFEBAG_create0_pkcs8(p8);
	if (bag == NULL)
		goto out;
	p8 = NULL;
	if ((alias && PKCS12_add_friendlyname_asc(bag, alias, -1) != 1) ||
	    PKCS12_add_localkeyid(bag, keyid, (int)keyidlen) != 1 ||
	    sk_PKCS12_SAFEBAG_push(keys, bag) <= 0)
		goto out;
	bag = NULL;
	p7 = PKCS12_pack_p7data(keys);
	if (p7 == NULL || sk_PKCS7_push(safes, p7) <= 0)
		goto out;
	p7 = NULL;
	p12 = PKCS12_add_safes(safes, 0);
	if (p12 == NULL ||
	    salt_for(seed, "mac", macsalt, sizeof(macsalt)) != 0 ||
	    PKCS12_set_mac(p12, password, -1, macsalt,
			   legacy ? 8 : (int)sizeof(macsalt), P12_ITER,
			   legacy ? EVP_sha1() : EVP_sha256()) != 1) {
		PKCS12_free(p12);
		p12 = NULL;
	}
out:
	PKCS7_free(p7);
	X509_SIG_free(p8);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	PKCS12_SAFEBAG_free(bag);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
	return p12;
}

/* SEED for a stable keystore: SHA-256 over the password and the DER of
 * the key, the leaf and the chain, in order. */
static int
stable_seed(const char *password, EVP_PKEY *key, X509 *x,
	    STACK_OF(X509) *chain, unsigned char seed[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	PKCS8_PRIV_KEY_INFO *p8inf = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int n, ok = ctx && p8inf &&
		    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(ctx, "certagent keystore", 19) == 1 &&
		    EVP_DigestUpdate(ctx, password, strlen(password) + 1) == 1;

	n = ok ? i2d_PKCS8_PRIV_KEY_INFO(p8inf, &der) : -1;
	ok = n > 0 && EVP_DigestUpdate(ctx, der, (size_t)n) == 1;
	if (der)
		OPENSSL_clear_free(der, (size_t)n);
	der = NULL;
	for (int i = -1; ok && i < (chain ? sk_X509_num(chain) : 0); i++) {
		n = i2d_X509(i < 0 ? x : sk_X509_value(chain, i), &der);
		ok = n > 0 && EVP_DigestUpdate(ctx, der, (size_t)n) == 1;
		OPENSSL_free(der);
		der = NULL;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, seed, NULL) == 1;
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

int
x509_keystore(const char *cert_pem, const char *key_pem, const char *chain_pem,
	      const char *password, const char *alias, int flags,
	      unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	PKCS12 *p12 = NULL;
	unsigned char seed[32];
	int rc;

	ERR_set_mark();
	if (password == NULL) {
		rc = -EINVAL;
		snprintf(err, errlen, "PKCS#12: no password given");
		goto out;
	}
	rc = x509_read_first(cert_pem, "certificate", &x, NULL, err, errlen);
	if (rc == 0)
		rc = x509_read_key(key_pem, &key, err, errlen);
	if (rc == 0)
		rc = x509_key_belongs(x, key, 0, err, errlen);
	if (rc == 0 && chain_pem != NULL && chain_pem[0] != '\0')
		rc = x509_read_certs(chain_pem, "chain", &chain, err, errlen);
	if (rc != 0)
		goto out;
	dedupe(chain, x);
	if ((flags & X509_P12_STABLE) &&
	    stable_seed(password, key, x, chain, seed) != 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "PKCS#12: out of memory");
		goto out;
	}
	p12 = build_keystore(x, key, chain, password, alias,
			     flags & X509_P12_LEGACY,
			     (flags & X509_P12_STABLE) ? seed : NULL);
	OPENSSL_cleanse(seed, sizeof(seed));
	if (p12 == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "PKCS#12: cannot build it: %s",
			 x509_ossl_why());
		goto out;
	}
	rc = p12_der(p12, der, der_len, err, errlen);
out:
	PKCS12_free(p12);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

int
x509_truststore(const char *certs_pem, const char *password,
		const char *alias, int legacy, unsigned char **der,
		size_t *der_len, char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	ASN1_OBJECT *any_eku = NULL;
	PKCS12 *p12 = NULL;
	int rc;

	ERR_set_mark();
	if (password == NULL) {
		rc = -EINVAL;
		snprintf(err, errlen, "PKCS#12: no password given");
		goto out;
	}
	rc = x509_read_certs(certs_pem ? certs_pem : "", "CA chain", &certs,
			     err, errlen);
	if (rc == 0 && sk_X509_num(certs) == 0)
		rc = -ENOENT;
	if (rc != 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "truststore: no CA certificate "
				 "to put in it");
		goto out;
	}
	dedupe(certs, NULL);
	rc = -ENOMEM;
	any_eku = OBJ_nid2obj(NID_anyExtendedKeyUsage);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		PKCS12_SAFEBAG *bag;
		char name[300];
		if (i == 0)
			snprintf(name, sizeof(name), "%s", alias ? alias : "ca");
		else
			snprintf(name, sizeof(name), "%s-%d", alias ? alias : "ca",
				 i + 1);
		bag = PKCS12_add_cert(&bags, c);
		if (bag == NULL || PKCS12_add_friendlyname_asc(bag, name, -1) != 1 ||
		    PKCS12_add1_attr_by_txt(bag, JDK_TRUST_OID, V_ASN1_OBJECT,
					    (const unsigned char *)any_eku,
					    -1) != 1)
			goto nomem;
	}
	if (PKCS12_add_safe(&safes, bags, p12_pbe(legacy), P12_ITER,
			    password) != 1)
		goto nomem;
	p12 = PKCS12_add_safes(safes, 0);
	if (p12 == NULL)
		goto nomem;
	rc = set_mac(p12, password, legacy, err, errlen);
	if (rc == 0)
		rc = p12_der(p12, der, der_len, err, errlen);
	goto out;
nomem:
	snprintf(err, errlen, "truststore: cannot build it: %s",
		 x509_ossl_why());
out:
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_X509_pop_free(certs, X509_free);
	ERR_pop_to_mark();
	return rc;
}

/* Is this a keystore sealed the legacy way (a SHA-1 MAC)? */
static int
p12_is_legacy(const PKCS12 *p12)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;

	PKCS12_get0_mac(NULL, &alg, NULL, NULL, p12);
	if (alg == NULL)
		return 0;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return OBJ_obj2nid(obj) == NID_sha1;
}

/* Open DER with PASSWORD: the key, the leaf, the other certificates. */
static int
p12_open(const unsigned char *der, size_t len, const char *password,
	 const char *what, EVP_PKEY **key, X509 **x, STACK_OF(X509) **ca,
	 int *legacy, char *err, size_t errlen)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	int rc = 0;

	*key = NULL;
	*x = NULL;
	*ca = NULL;
	if (len <= X509_PEM_MAX)
		p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 == NULL) {
		rc = -EBADMSG;
		snprintf(err, errlen, "not a PKCS#12 %s", what);
		goto out;
	}
	if (password == NULL || PKCS12_verify_mac(p12, password, -1) != 1) {
		rc = -EACCES;
		snprintf(err, errlen, "the %s does not open with the password "
			 "given (its MAC does not verify)", what);
		goto out;
	}
	if (PKCS12_parse(p12, password, key, x, ca) != 1) {
		rc = -EBADMSG;
		snprintf(err, errlen, "cannot read the %s: %s", what,
			 x509_ossl_why());
		goto out;
	}
	if (legacy)
		*legacy = p12_is_legacy(p12);
out:
	PKCS12_free(p12);
	return rc;
}

static int
pem_of_certs(X509 *first, STACK_OF(X509) *rest, char **out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -ENOMEM;

	if (bio == NULL)
		return -ENOMEM;
	if (first && PEM_write_bio_X509(bio, first) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(rest); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(rest, i)) != 1)
			goto out;
	rc = x509_bio_string(bio, out);
out:
	BIO_free(bio);
	return rc;
}

int
x509_keystore_open(const unsigned char *der, size_t len, const char *password,
		   char **cert_pem, char **key_pem, char **chain_pem,
		   char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
	int rc;

	ERR_set_mark();
	*cert_pem = *key_pem = *chain_pem = NULL;
	rc = p12_open(der, len, password, "keystore", &key, &x, &ca, NULL, err,
		      errlen);
	if (rc != 0)
		goto out;
	if (key == NULL || x == NULL) {
		rc = -ENOENT;
		snprintf(err, errlen, "the keystore holds no key and "
			 "certificate");
		goto out;
	}
	rc = -ENOMEM;
	if (x509_write_key(key, key_pem) != 0 ||
	    pem_of_certs(x, NULL, cert_pem) != 0 ||
	    (sk_X509_num(ca) > 0 && pem_of_certs(NULL, ca, chain_pem) != 0)) {
		secret_free(*key_pem);
		free(*cert_pem);
		*key_pem = *cert_pem = NULL;
		snprintf(err, errlen, "keystore: out of memory");
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return rc;
}

/* Do A and B hold the same certificates, in any order?  (PKCS12_parse()
 * does not promise the order it found them in.) */
static int
same_certs(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	if (sk_X509_num(a) != sk_X509_num(b))
		return 0;
	for (int i = 0; i < sk_X509_num(a); i++) {
		int found = 0;
		for (int j = 0; j < sk_X509_num(b) && !found; j++)
			found = X509_cmp(sk_X509_value(a, i),
					 sk_X509_value(b, j)) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

int
x509_keystore_same(const unsigned char *der, size_t len, const char *password,
		   const char *cert_pem, const char *key_pem,
		   const char *chain_pem, const char *alias, int legacy)
{
	EVP_PKEY *key = NULL, *want_key = NULL;
	X509 *x = NULL, *want = NULL;
	STACK_OF(X509) *ca = NULL, *want_chain = NULL;
	char err[256];
	int is_legacy = 0, same = 0;
	const char *got_alias;

	ERR_set_mark();
	if (p12_open(der, len, password, "keystore", &key, &x, &ca, &is_legacy,
		     err, sizeof(err)) != 0 || key == NULL || x == NULL)
		goto out;
	if (x509_read_first(cert_pem, "certificate", &want, NULL, err,
			    sizeof(err)) != 0 ||
	    x509_read_key(key_pem, &want_key, err, sizeof(err)) != 0)
		goto out;
	want_chain = chain_of(chain_pem, want);
	if (want_chain == NULL)
		goto out;
	if (ca == NULL)
		ca = sk_X509_new_null();
	got_alias = (const char *)X509_alias_get0(x, NULL);
	same = is_legacy == !!legacy && X509_cmp(x, want) == 0 &&
	       EVP_PKEY_eq(key, want_key) == 1 && same_certs(ca, want_chain) &&
	       ((alias == NULL && got_alias == NULL) ||
		(alias && got_alias && strcmp(alias, got_alias) == 0));
out:
	sk_X509_pop_free(ca, X509_free);
	sk_X509_pop_free(want_chain, X509_free);
	X509_free(x);
	X509_free(want);
	EVP_PKEY_free(key);
	EVP_PKEY_free(want_key);
	ERR_pop_to_mark();
	return same;
}

int
x509_truststore_same(const unsigned char *der, size_t len,
		     const char *password, const char *certs_pem,
		     const char *alias, int legacy)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL, *want = NULL;
	char err[256];
	int is_legacy = 0, same = 0;

	ERR_set_mark();
	if (p12_open(der, len, password, "truststore", &key, &x, &ca,
		     &is_legacy, err, sizeof(err)) != 0 || key != NULL ||
	    x != NULL || ca == NULL)
		goto out;
	want = chain_of(certs_pem, NULL);
	if (want == NULL || is_legacy != !!legacy ||
	    sk_X509_num(ca) != sk_X509_num(want))
		goto out;
	/* Every certificate wanted is there, under the alias it would get. */
	same = 1;
	for (int i = 0; i < sk_X509_num(want) && same; i++) {
		char name[300];
		int found = 0;

		if (i == 0)
			snprintf(name, sizeof(name), "%s", alias ? alias : "ca");
		else
			snprintf(name, sizeof(name), "%s-%d", alias ? alias : "ca",
				 i + 1);
		for (int j = 0; j < sk_X509_num(ca) && !found; j++) {
			X509 *c = sk_X509_value(ca, j);
			const unsigned char *a = X509_alias_get0(c, NULL);

			found = X509_cmp(c, sk_X509_value(want, i)) == 0 && a &&
				strcmp((const char *)a, name) == 0;
		}
		same = found;
	}
out:
	sk_X509_pop_free(ca, X509_free);
	sk_X509_pop_free(want, X509_free);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return same;
}

/* ------------------------------------------------------------------ */
/* Encrypted PKCS#8 keys */

int
x509_encrypt_key(const char *key_pem, const char *pass, size_t passlen,
		 int scrypt, int der, char **out, size_t *out_len, char *err,
		 size_t errlen)
{
	EVP_PKEY *key = NULL;
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *p8 = NULL;
	BIO *bio = NULL;
	int rc;

	ERR_set_mark();
	rc = x509_read_key(key_pem, &key, err, errlen);
	if (rc != 0)
		goto out;
	rc = -ENOMEM;
	p8inf = EVP_PKEY2PKCS8(key);
	pbe = scrypt ? PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL,
					     KEY_SCRYPT_N, KEY_SCRYPT_R,
					     KEY_SCRYPT_P)
		     : PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), KEY_PBKDF2_ITER,
					 NULL, 0, NULL, NID_hmacWithSHA256);
	if (p8inf == NULL || pbe == NULL)
		goto nomem;
	p8 = PKCS8_set0_pbe(pass, (int)passlen, p8inf, pbe);
	if (p8 == NULL)
		goto nomem;
	pbe = NULL;	/* p8 owns it */
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		goto nomem;
	if (der) {
		unsigned char *buf = NULL;
		int n = i2d_X509_SIG(p8, &buf);
		char *copy;

		if (n <= 0)
			goto nomem;
		copy = malloc((size_t)n + 1);
		if (copy == NULL) {
			OPENSSL_free(buf);
			goto nomem;
		}
		memcpy(copy, buf, (size_t)n);
		copy[n] = '\0';
		OPENSSL_free(buf);
		*out = copy;
		*out_len = (size_t)n;
		rc = 0;
		goto out;
	}
	if (PEM_write_bio_PKCS8(bio, p8) != 1 || x509_bio_string(bio, out) != 0)
		goto nomem;
	*out_len = strlen(*out);
	rc = 0;
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "cannot encrypt the key: %s", x509_ossl_why());
out:
	BIO_free(bio);
	X509_SIG_free(p8);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return rc;
}

/* Does P8 derive its key with scrypt (1), PBKDF2 (0), or neither (-1)? */
static int
p8_uses_scrypt(const X509_SIG *p8)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	const void *param = NULL;
	int ptype, kdf = -1;
	PBE2PARAM *pbe2;

	X509_SIG_get0(p8, &alg, NULL);
	X509_ALGOR_get0(&obj, &ptype, &param, alg);
	if (OBJ_obj2nid(obj) != NID_pbes2 || ptype != V_ASN1_SEQUENCE)
		return -1;
	pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
					 alg->parameter);
	if (pbe2 == NULL)
		return -1;
	X509_ALGOR_get0(&obj, NULL, NULL, pbe2->keyfunc);
	if (OBJ_obj2nid(obj) == NID_id_scrypt)
		kdf = 1;
	else if (OBJ_obj2nid(obj) == NID_id_pbkdf2)
		kdf = 0;
	PBE2PARAM_free(pbe2);
	return kdf;
}

/* The EncryptedPrivateKeyInfo of DATA (PEM or DER), still encrypted;
 * NULL if DATA is not one (or is too large, with ERR). */
static X509_SIG *
p8_read(const void *data, size_t len, char *err, size_t errlen)
{
	X509_SIG *p8 = NULL;
	BIO *bio;

	if (len > X509_PEM_MAX || len > 0x7fffffff) {
		snprintf(err, errlen, "the encrypted key is too large");
		return NULL;
	}
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio != NULL)
			p8 = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;
		p8 = d2i_X509_SIG(NULL, &p, (long)len);
		/* DER: the whole file, not a prefix that happens to parse. */
		if (p8 && p != (const unsigned char *)data + len) {
			X509_SIG_free(p8);
			p8 = NULL;
		}
	}
	if (p8 == NULL)
		snprintf(err, errlen, "not an encrypted PKCS#8 key "
			 "(ENCRYPTED PRIVATE KEY)");
	return p8;
}

/* The EncryptedPrivateKeyInfo of DATA (PEM or DER), decrypted. */
static int
p8_open(const void *data, size_t len, const char *pass, size_t passlen,
	EVP_PKEY **key, int *scrypt, char *err, size_t errlen)
{
	X509_SIG *p8;
	PKCS8_PRIV_KEY_INFO *inf = NULL;
	int rc = -EBADMSG;

	*key = NULL;
	p8 = p8_read(data, len, err, errlen);
	if (p8 == NULL)
		return len > X509_PEM_MAX || len > 0x7fffffff ? -EFBIG : -EBADMSG;
	if (scrypt)
		*scrypt = p8_uses_scrypt(p8);
	inf = PKCS8_decrypt(p8, pass, (int)passlen);
	if (inf == NULL) {
		rc = -EACCES;
		snprintf(err, errlen, "the key does not decrypt with the "
			 "passphrase given");
		goto out;
	}
	*key = EVP_PKCS82PKEY(inf);
	if (*key == NULL) {
		snprintf(err, errlen, "the decrypted key cannot be read: %s",
			 x509_ossl_why());
		goto out;
	}
	rc = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(inf);
	X509_SIG_free(p8);
	return rc;
}

int
x509_is_encrypted_key(const void *data, size_t len)
{
	char err[128];
	X509_SIG *p8;

	ERR_set_mark();
	p8 = p8_read(data, len, err, sizeof(err));
	ERR_pop_to_mark();
	X509_SIG_free(p8);
	return p8 != NULL;
}

int
x509_decrypt_key(const void *data, size_t len, const char *pass,
		 size_t passlen, char **key_pem, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	int rc;

	ERR_set_mark();
	rc = p8_open(data, len, pass, passlen, &key, NULL, err, errlen);
	if (rc == 0 && x509_write_key(key, key_pem) != 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
	}
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return rc;
}

int
x509_encrypted_key_same(const void *data, size_t len, const char *pass,
			size_t passlen, const char *key_pem, int scrypt, int der)
{
	EVP_PKEY *key = NULL, *want = NULL;
	char err[256];
	int kdf = -1, same = 0;
	int is_pem = len > 10 && memcmp(data, "-----BEGIN", 10) == 0;

	ERR_set_mark();
	if (is_pem == !!der)
		goto out;
	if (p8_open(data, len, pass, passlen, &key, &kdf, err, sizeof(err)) != 0 ||
	    x509_read_key(key_pem, &want, err, sizeof(err)) != 0)
		goto out;
	same = kdf == !!scrypt && EVP_PKEY_eq(key, want) == 1;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(want);
	ERR_pop_to_mark();
	return same;
}

/* ------------------------------------------------------------------ */
/* DER and pins */

int
x509_pem_to_der(const char *pem, int is_key, unsigned char **der,
		size_t *der_len, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	PKCS8_PRIV_KEY_INFO *inf = NULL;
	unsigned char *buf = NULL;
	int rc, n = 0;

	ERR_set_mark();
	if (is_key) {
		rc = x509_read_key(pem, &key, err, errlen);
		if (rc != 0)
			goto out;
		inf = EVP_PKEY2PKCS8(key);
		n = inf ? i2d_PKCS8_PRIV_KEY_INFO(inf, &buf) : -1;
	} else {
		rc = x509_read_first(pem, "certificate", &x, NULL, err, errlen);
		if (rc != 0)
			goto out;
		n = i2d_X509(x, &buf);
	}
	if (n <= 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "cannot encode it as DER: %s",
			 x509_ossl_why());
		goto out;
	}
	*der = malloc((size_t)n);
	if (*der == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*der, buf, (size_t)n);
	*der_len = (size_t)n;
	rc = 0;
out:
	if (buf)
		OPENSSL_clear_free(buf, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(inf);
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

int
x509_der_to_pem(const void *der, size_t len, int is_key, char **pem,
		char *err, size_t errlen)
{
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = -EBADMSG;

	ERR_set_mark();
	if (len > X509_PEM_MAX) {
		snprintf(err, errlen, "the DER file is too large");
		rc = -EFBIG;
		goto out;
	}
	if (is_key) {
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
		if (key == NULL) {
			snprintf(err, errlen, "not a DER private key");
			goto out;
		}
		rc = x509_write_key(key, pem);
	} else {
		x = d2i_X509(NULL, &p, (long)len);
		if (x == NULL) {
			snprintf(err, errlen, "not a DER certificate");
			goto out;
		}
		rc = pem_of_certs(x, NULL, pem);
	}
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
out:
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

int
x509_spki_pin(const char *cert_pem, int hex, char *out, size_t outlen,
	      char *err, size_t errlen)
{
	X509 *x = NULL;
	unsigned char *spki = NULL, md[32];
	unsigned int mdlen = 0;
	int rc, n;

	ERR_set_mark();
	rc = x509_read_first(cert_pem, "certificate", &x, NULL, err, errlen);
	if (rc != 0)
		goto out;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (n <= 0 || EVP_Digest(spki, (size_t)n, md, &mdlen, EVP_sha256(),
				 NULL) != 1) {
		rc = -ENOMEM;
		snprintf(err, errlen, "cannot hash the public key: %s",
			 x509_ossl_why());
		goto out;
	}
	if (outlen < 65) {
		rc = -ERANGE;
		snprintf(err, errlen, "pin buffer too small");
		goto out;
	}
	if (hex) {
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	} else {
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	}
out:
	OPENSSL_free(spki);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}
