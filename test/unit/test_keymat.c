/*
 * Unit tests for x509_keymat.c: keystores, truststores, encrypted keys,
 * DER and pins, on a small PKI made here (a root and a leaf it signs),
 * each checked by reading it back with OpenSSL directly, not only
 * through the module's own readers.
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "x509.h"

#define PASS "unit-Secret-3141"

static struct {
	char *ca_pem, *cert_pem, *key_pem, *key2_pem;
	X509 *cert;
} pki;

static char *
pem_of(int (*w)(BIO *, const void *), const void *obj)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(b);
	assert_int_equal(w(b, obj), 1);
	n = BIO_get_mem_data(b, &data);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	BIO_free(b);
	return out;
}

static int
w_x509(BIO *b, const void *x)
{
	return PEM_write_bio_X509(b, (X509 *)x);
}

static int
w_key(BIO *b, const void *k)
{
	return PEM_write_bio_PKCS8PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0,
					     NULL, NULL);
}

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static int
setup(void **state)
{
	EVP_PKEY *cak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca = make_cert("Unit Root", cak, NULL, NULL, 1);

	(void)state;
	pki.cert = make_cert("leaf.example.test", k, ca, cak, 0);
	pki.ca_pem = pem_of(w_x509, ca);
	pki.cert_pem = pem_of(w_x509, pki.cert);
	pki.key_pem = pem_of(w_key, k);
	pki.key2_pem = pem_of(w_key, k2);
	X509_free(ca);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(pki.ca_pem);
	free(pki.cert_pem);
	free(pki.key_pem);
	free(pki.key2_pem);
	X509_free(pki.cert);
	return 0;
}

/* The MAC digest of a keystore, by name ("SHA256", "SHA1"). */
static const char *
mac_of(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	const char *name;

	assert_non_null(p12);
	PKCS12_get0_mac(NULL, &alg, NULL, NULL, p12);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	name = OBJ_nid2sn(OBJ_obj2nid(obj));
	PKCS12_free(p12);
	return name;
}

static void
keystore_opens_and_compares_by_content(void **state)
{
	unsigned char *der = NULL, *der2 = NULL;
	size_t len = 0, len2 = 0;
	char err[256], *cert = NULL, *key = NULL, *chain = NULL;

	(void)state;
	assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem, PASS,
				       "web", 0, &der, &len, err, sizeof(err)), 0);
	assert_string_equal(mac_of(der, len), "SHA256");
	assert_int_equal(x509_keystore_open(der, len, PASS, &cert, &key, &chain,
					    err, sizeof(err)), 0);
	assert_string_equal(cert, pki.cert_pem);
	assert_string_equal(chain, pki.ca_pem);
	assert_int_equal(x509_key_matches(cert, key, err, sizeof(err)), 0);
	/* A second build has other salts: other bytes, the same content. */
	assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem, PASS,
				       "web", 0, &der2, &len2, err, sizeof(err)), 0);
	assert_true(len != len2 || memcmp(der, der2, len) != 0);
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "web", 0), 1);
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "other", 0), 0);
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "web", 1), 0);
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, NULL, "web", 0), 0);
	assert_int_equal(x509_keystore_same(der, len, "wrong", pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "web", 0), 0);
	free(cert);
	secret_free(key);
	free(chain);
	secret_free_len(der, len);
	secret_free_len(der2, len2);
}

static void
keystore_refuses_a_wrong_password_without_echoing_it(void **state)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char err[256], *cert = NULL, *key = NULL, *chain = NULL;

	(void)state;
	assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, NULL, PASS,
				       "web", 0, &der, &len, err, sizeof(err)), 0);
	assert_int_equal(x509_keystore_open(der, len, "not-" PASS, &cert, &key,
					    &chain, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "does not open with the password"));
	assert_null(strstr(err, PASS));
	assert_null(key);
	secret_free_len(der, len);
	assert_int_equal(x509_keystore(pki.cert_pem, pki.key2_pem, NULL, PASS,
				       "web", 0, &der, &len, err, sizeof(err)),
			 -EINVAL);
}

static void
legacy_keystore_uses_3des_and_a_sha1_mac(void **state)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char err[256];

	(void)state;
	assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem, PASS,
				       "old", 1, &der, &len, err, sizeof(err)), 0);
	assert_string_equal(mac_of(der, len), "SHA1");
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "old", 1), 1);
	assert_int_equal(x509_keystore_same(der, len, PASS, pki.cert_pem,
					    pki.key_pem, pki.ca_pem, "old", 0), 0);
	secret_free_len(der, len);
}

static void
stable_keystore_is_the_same_bytes_for_the_same_inputs(void **state)
{
	unsigned char *a = NULL, *b = NULL, *c = NULL;
	size_t la = 0, lb = 0, lc = 0;
	char err[256];

	(void)state;
	for (int legacy = 0; legacy <= 1; legacy++) {
		int flags = X509_P12_STABLE | (legacy ? X509_P12_LEGACY : 0);

		assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem,
					       PASS, "web", flags, &a, &la, err,
					       sizeof(err)), 0);
		assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem,
					       PASS, "web", flags, &b, &lb, err,
					       sizeof(err)), 0);
		assert_int_equal(x509_keystore(pki.cert_pem, pki.key_pem, pki.ca_pem,
					       "other", "web", flags, &c, &lc, err,
					       sizeof(err)), 0);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		assert_true(la != lc || memcmp(a, c, la) != 0);
		assert_int_equal(x509_keystore_same(a, la, PASS, pki.cert_pem,
						    pki.key_pem, pki.ca_pem, "web",
						    legacy), 1);
		secret_free_len(a, la);
		secret_free_len(b, lb);
		secret_free_len(c, lc);
	}
}

static void
truststore_marks_every_certificate_trusted_for_java(void **state)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char err[256], both[8192], *cert = NULL, *key = NULL, *chain = NULL;
	const unsigned char *p;
	PKCS12 *p12;
	STACK_OF(PKCS7) *safes;
	ASN1_OBJECT *jdk = OBJ_txt2obj("2.16.840.1.113894.746875.1.1", 1);
	int bags = 0;

	(void)state;
	/* The root twice (chain and anchor): one entry. */
	snprintf(both, sizeof(both), "%s%s%s", pki.cert_pem, pki.ca_pem, pki.ca_pem);
	assert_int_equal(x509_truststore(both, PASS, NULL, 0, &der, &len, err,
					 sizeof(err)), 0);
	p = der;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	assert_non_null(p12);
	safes = PKCS12_unpack_authsafes(p12);
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		STACK_OF(PKCS12_SAFEBAG) *sb =
			PKCS12_unpack_p7encdata(sk_PKCS7_value(safes, i), PASS, -1);
		assert_non_null(sb);
		for (int j = 0; j < sk_PKCS12_SAFEBAG_num(sb); j++) {
			const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(sb, j);
			const STACK_OF(X509_ATTRIBUTE) *attrs =
				PKCS12_SAFEBAG_get0_attrs(bag);

			assert_int_equal(PKCS12_SAFEBAG_get_nid(bag), NID_certBag);
			assert_true(X509at_get_attr_by_OBJ(attrs, jdk, -1) >= 0);
			bags++;
		}
		sk_PKCS12_SAFEBAG_pop_free(sb, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	ASN1_OBJECT_free(jdk);
	assert_int_equal(bags, 2);
	assert_int_equal(x509_truststore_same(der, len, PASS, both, NULL, 0), 1);
	assert_int_equal(x509_truststore_same(der, len, PASS, pki.ca_pem, NULL, 0),
			 0);
	/* No key in it: not a keystore. */
	assert_int_equal(x509_keystore_open(der, len, PASS, &cert, &key, &chain,
					    err, sizeof(err)), -ENOENT);
	free(der);
	assert_int_equal(x509_truststore("", PASS, NULL, 0, &der, &len, err,
					 sizeof(err)), -ENOENT);
}

static void
encrypted_keys_round_trip_with_both_kdfs_and_encodings(void **state)
{
	(void)state;
	for (int scrypt = 0; scrypt <= 1; scrypt++) {
		for (int der = 0; der <= 1; der++) {
			char *enc = NULL, *plain = NULL, err[256];
			size_t len = 0;

			assert_int_equal(x509_encrypt_key(pki.key_pem, PASS,
							  strlen(PASS), scrypt,
							  der, &enc, &len, err,
							  sizeof(err)), 0);
			assert_int_equal(!der, strncmp(enc, "-----BEGIN ENCRYPTED "
							    "PRIVATE KEY-----", 37) == 0);
			assert_int_equal(x509_decrypt_key(enc, len, PASS,
							  strlen(PASS), &plain,
							  err, sizeof(err)), 0);
			assert_int_equal(x509_key_matches(pki.cert_pem, plain,
							  err, sizeof(err)), 0);
			secret_free(plain);
			plain = NULL;
			assert_int_equal(x509_decrypt_key(enc, len, "nope", 4,
							  &plain, err,
							  sizeof(err)), -EACCES);
			assert_null(plain);
			assert_int_equal(x509_encrypted_key_same(enc, len, PASS,
								 strlen(PASS),
								 pki.key_pem,
								 scrypt, der), 1);
			assert_int_equal(x509_encrypted_key_same(enc, len, PASS,
								 strlen(PASS),
								 pki.key_pem,
								 !scrypt, der), 0);
			assert_int_equal(x509_encrypted_key_same(enc, len, PASS,
								 strlen(PASS),
								 pki.key_pem,
								 scrypt, !der), 0);
			assert_int_equal(x509_encrypted_key_same(enc, len, PASS,
								 strlen(PASS),
								 pki.key2_pem,
								 scrypt, der), 0);
			secret_free_len(enc, len);
		}
	}
}

/* passphrase_kv keys are adopted on start by their form alone. */
static void
an_encrypted_key_is_told_apart_without_its_passphrase(void **state)
{
	(void)state;
	for (int der = 0; der <= 1; der++) {
		char *enc = NULL, err[256];
		unsigned char *plain = NULL;
		size_t len = 0, plen = 0;

		assert_int_equal(x509_encrypt_key(pki.key_pem, PASS, strlen(PASS),
						  0, der, &enc, &len, err,
						  sizeof(err)), 0);
		assert_int_equal(x509_is_encrypted_key(enc, len), 1);
		/* A DER file cut short, or with bytes after it, is not one. */
		if (der) {
			assert_int_equal(x509_is_encrypted_key(enc, len - 1), 0);
			char *longer = malloc(len + 1);
			assert_non_null(longer);
			memcpy(longer, enc, len);
			longer[len] = 0;
			assert_int_equal(x509_is_encrypted_key(longer, len + 1), 0);
			free(longer);
		}
		secret_free_len(enc, len);
		assert_int_equal(x509_pem_to_der(pki.key_pem, 1, &plain, &plen, err,
						 sizeof(err)), 0);
		assert_int_equal(x509_is_encrypted_key(plain, plen), 0);
		secret_free_len(plain, plen);
	}
	assert_int_equal(x509_is_encrypted_key(pki.key_pem,
					       strlen(pki.key_pem)), 0);
	assert_int_equal(x509_is_encrypted_key(pki.cert_pem,
					       strlen(pki.cert_pem)), 0);
	assert_int_equal(x509_is_encrypted_key("", 0), 0);
}

static void
der_round_trips_and_the_pin_is_the_spki_hash(void **state)
{
	unsigned char *der = NULL, *spki = NULL, md[32];
	size_t len = 0;
	char err[256], *pem = NULL, pin[80], b64[80];
	unsigned int mdlen = 0;
	int n;

	(void)state;
	assert_int_equal(x509_pem_to_der(pki.cert_pem, 0, &der, &len, err,
					 sizeof(err)), 0);
	assert_int_equal(x509_der_to_pem(der, len, 0, &pem, err, sizeof(err)), 0);
	assert_string_equal(pem, pki.cert_pem);
	free(pem);
	free(der);
	assert_int_equal(x509_pem_to_der(pki.key_pem, 1, &der, &len, err,
					 sizeof(err)), 0);
	assert_int_equal(x509_der_to_pem(der, len, 1, &pem, err, sizeof(err)), 0);
	assert_string_equal(pem, pki.key_pem);
	secret_free(pem);
	secret_free_len(der, len);
	assert_int_equal(x509_der_to_pem("junk", 4, 0, &pem, err, sizeof(err)),
			 -EBADMSG);

	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(pki.cert), &spki);
	assert_true(n > 0);
	EVP_Digest(spki, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(spki);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	assert_int_equal(x509_spki_pin(pki.cert_pem, 0, pin, sizeof(pin), err,
				       sizeof(err)), 0);
	assert_string_equal(pin, b64);
	assert_int_equal(x509_spki_pin(pki.cert_pem, 1, pin, sizeof(pin), err,
				       sizeof(err)), 0);
	assert_int_equal(strlen(pin), 64);
	for (int i = 0; i < 32; i++) {
		char two[3];
		snprintf(two, sizeof(two), "%02x", md[i]);
		assert_memory_equal(pin + 2 * i, two, 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keystore_opens_and_compares_by_content),
		cmocka_unit_test(keystore_refuses_a_wrong_password_without_echoing_it),
		cmocka_unit_test(legacy_keystore_uses_3des_and_a_sha1_mac),
		cmocka_unit_test(stable_keystore_is_the_same_bytes_for_the_same_inputs),
		cmocka_unit_test(truststore_marks_every_certificate_trusted_for_java),
		cmocka_unit_test(encrypted_keys_round_trip_with_both_kdfs_and_encodings),
		cmocka_unit_test(an_encrypted_key_is_told_apart_without_its_passphrase),
		cmocka_unit_test(der_round_trips_and_the_pin_is_the_spki_hash),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
