/*
 * Unit tests for x509.c against a real PKI built here with OpenSSL: a root
 * CA, an intermediate it signs, leaves the intermediate signs (EC, RSA
 * 2048, Ed25519, plus a second issuance of each type for mismatches, an
 * expired one and a not-yet-valid one), and an unrelated root.
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
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "x509.h"

#define DAY (24LL * 3600)

/* Assert that ERR mentions S, printing ERR when it does not. */
#define assert_err_has(err, s)                                                 \
	do {                                                                   \
		if (strstr((err), (s)) == NULL)                                \
			fail_msg("ERR \"%s\" does not mention \"%s\"", (err),  \
				 (s));                                         \
	} while (0)

struct issued {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem;
	char *key_pem;	/* PKCS#8 */
	char *trad_pem; /* "BEGIN RSA/EC PRIVATE KEY", or NULL */
};

struct spec {
	const char *cn;
	const char *san; /* "DNS:a,IP:1.2.3.4" or NULL */
	int ca;
	long long from, to; /* validity, offsets from T0 */
	const unsigned char *serial;
	size_t serial_len;
};

static long long T0;

static struct {
	struct issued root, inter, other_root;
	struct issued leaf_ec, leaf_ec2, leaf_rsa, leaf_rsa2, leaf_ed, leaf_ed2,
		expired, future, high_serial;
	char *inter_and_root; /* chain PEM with the root in it */
} pki;

static const unsigned char leaf_serial[] = {0x0a, 0x1b, 0x2c, 0x3d,
					    0x4e, 0x5f, 0x60, 0x71};
static const unsigned char high_serial[] = {0x9f, 0x00, 0x01};

static char *
bio_text(BIO *bio)
{
	char *data = NULL, *s;
	long n = BIO_get_mem_data(bio, &data);

	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *
cert_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	s = bio_text(bio);
	BIO_free(bio);
	return s;
}

static char *
key_pem(EVP_PKEY *key, int traditional)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(bio);
	if (traditional)
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(
					 bio, key, NULL, NULL, 0, NULL, NULL),
				 1);
	else
		assert_int_equal(PEM_write_bio_PKCS8PrivateKey(
					 bio, key, NULL, NULL, 0, NULL, NULL),
				 1);
	s = bio_text(bio);
	BIO_free(bio);
	return s;
}

static EVP_PKEY *
read_key_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key;

	assert_non_null(bio);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(key);
	return key;
}

static EVP_PKEY *
new_key(const char *type)
{
	EVP_PKEY *key = NULL;

	if (strcmp(type, "ec") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "rsa") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "ed25519") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(key);
	return key;
}

static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static const EVP_MD *
md_for(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
}

/* A certificate for KEY per SP, signed by ISSUER (NULL: self-signed). */
static X509 *
sign_cert(EVP_PKEY *key, const struct spec *sp, const struct issued *issuer)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	X509_NAME *name;
	X509V3_CTX v3;

	assert_non_null(x);
	assert_non_null(bn);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	if (sp->serial != NULL)
		assert_non_null(BN_bin2bn(sp->serial, (int)sp->serial_len, bn));
	else
		assert_int_equal(
			BN_rand(bn, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY),
			1);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	assert_non_null(
		ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(T0 + sp->from)));
	assert_non_null(
		ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(T0 + sp->to)));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 name, "O", MBSTRING_UTF8,
				 (const unsigned char *)"certagent tests", -1,
				 -1, 0),
			 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 name, "CN", MBSTRING_UTF8,
				 (const unsigned char *)sp->cn, -1, -1, 0),
			 1);
	assert_int_equal(
		X509_set_issuer_name(
			x, issuer != NULL ? X509_get_subject_name(issuer->cert)
					  : name),
		1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer->cert : x, x, NULL, NULL,
		       0);
	add_ext(x, &v3, NID_basic_constraints,
		sp->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &v3, NID_key_usage,
		sp->ca ? "critical,keyCertSign,cRLSign"
		       : "critical,digitalSignature,keyEncipherment");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	if (sp->san != NULL)
		add_ext(x, &v3, NID_subject_alt_name, sp->san);
	assert_true(X509_sign(x, issuer != NULL ? issuer->key : key,
			      md_for(issuer != NULL ? issuer->key : key)) > 0);
	return x;
}

static void
issue(struct issued *out, const char *type, const struct spec *sp,
      const struct issued *issuer)
{
	out->key = new_key(type);
	out->cert = sign_cert(out->key, sp, issuer);
	out->cert_pem = cert_pem(out->cert);
	out->key_pem = key_pem(out->key, 0);
	out->trad_pem =
		strcmp(type, "ed25519") != 0 ? key_pem(out->key, 1) : NULL;
}

static void
drop(struct issued *is)
{
	EVP_PKEY_free(is->key);
	X509_free(is->cert);
	free(is->cert_pem);
	free(is->key_pem);
	free(is->trad_pem);
}

static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

static int
setup_pki(void **state)
{
	const struct spec ca = {
		.cn = "certagent test root",
		.ca = 1,
		.from = -30 * DAY,
		.to = 3650 * DAY,
	};
	const struct spec inter = {
		.cn = "certagent test intermediate",
		.ca = 1,
		.from = -30 * DAY,
		.to = 365 * DAY,
	};
	const struct spec other = {
		.cn = "unrelated root",
		.ca = 1,
		.from = -30 * DAY,
		.to = 3650 * DAY,
	};
	const struct spec leaf = {
		.cn = "svc.example.com",
		.san = "DNS:svc.example.com,DNS:*.apps.example.com,"
		       "IP:127.0.0.1,IP:::1,IP:2001:db8::5",
		.from = -60,
		.to = DAY,
		.serial = leaf_serial,
		.serial_len = sizeof(leaf_serial),
	};
	const struct spec leaf2 = {
		.cn = "svc.example.com",
		.san = "DNS:svc.example.com",
		.from = -60,
		.to = DAY,
	};
	const struct spec rsa = {
		.cn = "kafka-broker-1",
		.san = "DNS:kafka.example.com",
		.from = -60,
		.to = DAY,
	};
	const struct spec ed = {
		.cn = "ed.example.com",
		.san = "DNS:ed.example.com",
		.from = -60,
		.to = DAY,
	};
	const struct spec expired = {
		.cn = "old.example.com",
		.san = "DNS:old.example.com",
		.from = -10 * DAY,
		.to = -DAY,
	};
	const struct spec future = {
		.cn = "soon.example.com",
		.san = "DNS:soon.example.com",
		.from = 120,
		.to = DAY,
	};
	const struct spec hs = {
		.cn = "hs.example.com",
		.from = -60,
		.to = DAY,
		.serial = high_serial,
		.serial_len = sizeof(high_serial),
	};

	(void)state;
	T0 = (long long)time(NULL);
	issue(&pki.root, "ec", &ca, NULL);
	issue(&pki.inter, "ec", &inter, &pki.root);
	issue(&pki.other_root, "ec", &other, NULL);
	issue(&pki.leaf_ec, "ec", &leaf, &pki.inter);
	issue(&pki.leaf_ec2, "ec", &leaf2, &pki.inter);
	issue(&pki.leaf_rsa, "rsa", &rsa, &pki.inter);
	issue(&pki.leaf_rsa2, "rsa", &rsa, &pki.inter);
	issue(&pki.leaf_ed, "ed25519", &ed, &pki.inter);
	issue(&pki.leaf_ed2, "ed25519", &ed, &pki.inter);
	issue(&pki.expired, "ec", &expired, &pki.inter);
	issue(&pki.future, "ec", &future, &pki.inter);
	issue(&pki.high_serial, "ec", &hs, &pki.inter);
	pki.inter_and_root = cat3(pki.inter.cert_pem, pki.root.cert_pem, "");
	return 0;
}

static int
teardown_pki(void **state)
{
	struct issued *all[] = {
		&pki.root,	&pki.inter,    &pki.other_root,
		&pki.leaf_ec,	&pki.leaf_ec2, &pki.leaf_rsa,
		&pki.leaf_rsa2, &pki.leaf_ed,  &pki.leaf_ed2,
		&pki.expired,	&pki.future,   &pki.high_serial};

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		drop(all[i]);
	free(pki.inter_and_root);
	return 0;
}

/* ERR must carry no key: no PEM label and no run of the key's base64. */
static void
assert_no_key_material(const char *err, const char *pem)
{
	const char *line = pem;

	assert_null(strstr(err, "PRIVATE KEY"));
	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

		for (size_t off = 0; line[0] != '-' && off + 12 <= len;
		     off += 4) {
			char chunk[13];

			memcpy(chunk, line + off, 12);
			chunk[12] = '\0';
			if (strstr(err, chunk) != NULL)
				fail_msg("ERR \"%s\" contains key text \"%s\"",
					 err, chunk);
		}
		line = end != NULL ? end + 1 : NULL;
	}
}

static void
test_cert_info_reports_serial_times_cn_key_type_and_ca(void **state)
{
	struct x509_info info;
	char err[512];

	(void)state;
	assert_int_equal(
		x509_cert_info(pki.leaf_ec.cert_pem, &info, err, sizeof(err)),
		0);
	assert_string_equal(info.serial, "0a:1b:2c:3d:4e:5f:60:71");
	assert_int_equal(info.not_before, T0 - 60);
	assert_int_equal(info.not_after, T0 + DAY);
	assert_string_equal(info.subject_cn, "svc.example.com");
	assert_string_equal(info.key_type, "ec");
	assert_int_equal(info.key_bits, 256);
	assert_int_equal(info.is_ca, 0);

	assert_int_equal(
		x509_cert_info(pki.leaf_rsa.cert_pem, &info, err, sizeof(err)),
		0);
	assert_string_equal(info.key_type, "rsa");
	assert_int_equal(info.key_bits, 2048);
	assert_string_equal(info.subject_cn, "kafka-broker-1");

	assert_int_equal(
		x509_cert_info(pki.leaf_ed.cert_pem, &info, err, sizeof(err)),
		0);
	assert_string_equal(info.key_type, "ed25519");
	assert_int_equal(info.key_bits, 256);

	assert_int_equal(
		x509_cert_info(pki.root.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.is_ca, 1);
	assert_string_equal(info.subject_cn, "certagent test root");
	assert_int_equal(info.not_after, T0 + 3650 * DAY);
}

static void
test_describe_gives_subject_sans_and_the_der_fingerprint(void **state)
{
	struct x509_info info;
	struct x509_desc d;
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	char err[512], want[96];
	X509 *x;
	BIO *b;
	int n;

	(void)state;
	assert_int_equal(x509_cert_describe(pki.leaf_ec.cert_pem, &info, &d, err,
					    sizeof(err)), 0);
	assert_string_equal(info.serial, "0a:1b:2c:3d:4e:5f:60:71");
	assert_string_equal(d.subject, "CN=svc.example.com,O=certagent tests");
	assert_string_equal(d.sans, "DNS:svc.example.com, DNS:*.apps.example.com, "
				    "IP:127.0.0.1, IP:::1, IP:2001:db8::5");
	b = BIO_new_mem_buf(pki.leaf_ec.cert_pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned i = 0, w = 0; i < mdlen; i++)
		w += (unsigned)snprintf(want + w, sizeof(want) - w, i ? ":%02x" : "%02x",
					md[i]);
	assert_string_equal(d.sha256, want);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	assert_int_equal(x509_cert_describe("nope", &info, &d, err, sizeof(err)),
			 -ENOENT);
}

static void
test_cert_info_serial_with_high_bit_has_no_sign_byte(void **state)
{
	struct x509_info info;
	char err[512];

	(void)state;
	assert_int_equal(x509_cert_info(pki.high_serial.cert_pem, &info, err,
					sizeof(err)),
			 0);
	assert_string_equal(info.serial, "9f:00:01");
}

static void
test_cert_info_reads_the_first_certificate_of_a_bundle(void **state)
{
	struct x509_info info;
	char err[512], *bundle;

	(void)state;
	bundle = cat3(pki.leaf_rsa.cert_pem, pki.inter.cert_pem,
		      pki.root.cert_pem);
	assert_int_equal(x509_cert_info(bundle, &info, err, sizeof(err)), 0);
	assert_string_equal(info.subject_cn, "kafka-broker-1");
	free(bundle);
}

static void
test_malformed_pem_is_an_error(void **state)
{
	static const char bad_base64[] = "-----BEGIN CERTIFICATE-----\n"
					 "!!!!not base64!!!!\n"
					 "-----END CERTIFICATE-----\n";
	static const char not_der[] = "-----BEGIN CERTIFICATE-----\n"
				      "AAECAwQFBgcICQ==\n"
				      "-----END CERTIFICATE-----\n";
	struct x509_info info;
	char err[512], *truncated, *big;
	size_t len;

	(void)state;
	err[0] = '\0';
	assert_int_equal(x509_cert_info("", &info, err, sizeof(err)), -ENOENT);
	assert_err_has(err, "no CERTIFICATE");
	assert_int_equal(x509_cert_info("hello\n", &info, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(x509_cert_info(bad_base64, &info, err, sizeof(err)),
			 -EBADMSG);
	assert_err_has(err, "malformed");
	assert_int_equal(x509_cert_info(not_der, &info, err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(x509_cert_info(NULL, &info, err, sizeof(err)),
			 -EINVAL);

	/* A certificate cut off before its END line. */
	truncated = strdup(pki.leaf_ec.cert_pem);
	assert_non_null(truncated);
	len = strlen(truncated);
	truncated[len - strlen("-----END CERTIFICATE-----\n")] = '\0';
	assert_int_equal(x509_cert_info(truncated, &info, err, sizeof(err)),
			 -EBADMSG);
	free(truncated);

	/* A good certificate followed by a broken one is still broken. */
	truncated = cat3(pki.leaf_ec.cert_pem, not_der, "");
	assert_int_equal(x509_cert_info(truncated, &info, err, sizeof(err)),
			 -EBADMSG);
	assert_err_has(err, "block 2");
	free(truncated);

	big = malloc(X509_PEM_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', X509_PEM_MAX + 1);
	big[X509_PEM_MAX + 1] = '\0';
	assert_int_equal(x509_cert_info(big, &info, err, sizeof(err)), -EFBIG);
	assert_int_equal(x509_count_certs(big), -EFBIG);
	free(big);
}

static void
test_count_certs_counts_certificates_and_rejects_malformed_blocks(void **state)
{
	char *bundle;

	(void)state;
	assert_int_equal(x509_count_certs(""), 0);
	assert_int_equal(x509_count_certs("no pem here\n"), 0);
	assert_int_equal(x509_count_certs(pki.leaf_ec.cert_pem), 1);
	bundle = cat3(pki.leaf_ec.cert_pem, pki.inter.cert_pem,
		      pki.root.cert_pem);
	assert_int_equal(x509_count_certs(bundle), 3);
	free(bundle);

	/* A key beside the certificate is not a certificate. */
	bundle = cat3(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
		      pki.inter.cert_pem);
	assert_int_equal(x509_count_certs(bundle), 2);
	free(bundle);

	bundle = cat3(pki.leaf_ec.cert_pem,
		      "-----BEGIN CERTIFICATE-----\nAAAA\n", "");
	assert_true(x509_count_certs(bundle) < 0);
	free(bundle);
	assert_true(x509_count_certs("-----BEGIN CERTIFICATE-----\nAAECAwQ=\n"
				     "-----END CERTIFICATE-----\n") < 0);
}

static void
test_key_matches_its_certificate_for_rsa_ec_and_ed25519(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem,
					  pki.leaf_ec.key_pem, err,
					  sizeof(err)),
			 0);
	assert_int_equal(x509_key_matches(pki.leaf_rsa.cert_pem,
					  pki.leaf_rsa.key_pem, err,
					  sizeof(err)),
			 0);
	assert_int_equal(x509_key_matches(pki.leaf_ed.cert_pem,
					  pki.leaf_ed.key_pem, err,
					  sizeof(err)),
			 0);
}

static void
test_key_matches_accepts_traditional_rsa_and_ec_pem(void **state)
{
	char err[512];

	(void)state;
	assert_non_null(strstr(pki.leaf_rsa.trad_pem, "BEGIN RSA PRIVATE KEY"));
	assert_non_null(strstr(pki.leaf_ec.trad_pem, "BEGIN EC PRIVATE KEY"));
	assert_int_equal(x509_key_matches(pki.leaf_rsa.cert_pem,
					  pki.leaf_rsa.trad_pem, err,
					  sizeof(err)),
			 0);
	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem,
					  pki.leaf_ec.trad_pem, err,
					  sizeof(err)),
			 0);
	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem,
					  pki.leaf_ec2.trad_pem, err,
					  sizeof(err)),
			 -EINVAL);
}

/* The key of another issuance of the same type never matches. */
static void
check_mismatch(const struct issued *cert, const struct issued *other)
{
	struct x509_info info;
	char err[512], ierr[512];

	err[0] = '\0';
	assert_int_equal(x509_key_matches(cert->cert_pem, other->key_pem, err,
					  sizeof(err)),
			 -EINVAL);
	assert_int_equal(
		x509_cert_info(cert->cert_pem, &info, ierr, sizeof(ierr)), 0);
	assert_err_has(err, "does not belong");
	assert_err_has(err, info.subject_cn);
	assert_err_has(err, info.serial);
	assert_no_key_material(err, other->key_pem);
	assert_no_key_material(err, cert->key_pem);
}

static void
test_key_of_another_issuance_does_not_match_and_err_names_cert_not_key(
	void **state)
{
	(void)state;
	check_mismatch(&pki.leaf_ec, &pki.leaf_ec2);
	check_mismatch(&pki.leaf_rsa, &pki.leaf_rsa2);
	check_mismatch(&pki.leaf_ed, &pki.leaf_ed2);
	/* and across types */
	check_mismatch(&pki.leaf_rsa, &pki.leaf_ec);
	check_mismatch(&pki.leaf_ec, &pki.leaf_ed);
}

/*
 * An EC key file carrying the public point of leaf_ec but the private
 * scalar of leaf_ec2: its public half matches, its signatures do not.
 */
static char *
damaged_ec_key_pem(void)
{
	unsigned char pub[133];
	size_t publen = 0;
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	char *pem;

	assert_non_null(bld);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_get_octet_string_param(
				 pki.leaf_ec.key, OSSL_PKEY_PARAM_PUB_KEY, pub,
				 sizeof(pub), &publen),
			 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pki.leaf_ec2.key,
					       OSSL_PKEY_PARAM_PRIV_KEY, &priv),
			 1);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(
				 bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
			 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(
				 bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen),
			 1);
	assert_int_equal(
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params),
			 1);
	pem = key_pem(key, 0);
	EVP_PKEY_free(key);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(priv);
	EVP_PKEY_CTX_free(ctx);
	return pem;
}

static void
test_key_with_matching_public_half_but_wrong_private_half_is_refused(
	void **state)
{
	char err[512], *pem = damaged_ec_key_pem();

	(void)state;
	err[0] = '\0';
	assert_int_equal(
		x509_key_matches(pki.leaf_ec.cert_pem, pem, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "damaged");
	assert_err_has(err, "0a:1b:2c:3d:4e:5f:60:71");
	assert_no_key_material(err, pem);
	free(pem);
}

static void
test_key_matches_refuses_encrypted_garbage_and_certificate_as_key(void **state)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char err[512], *enc;

	(void)state;
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pki.leaf_ec.key,
						       EVP_aes_256_cbc(), NULL,
						       0, NULL, (void *)"pass"),
			 1);
	enc = bio_text(bio);
	BIO_free(bio);
	assert_non_null(strstr(enc, "ENCRYPTED PRIVATE KEY"));

	/* No prompt on the terminal: the encrypted key is just refused. */
	assert_int_equal(
		x509_key_matches(pki.leaf_ec.cert_pem, enc, err, sizeof(err)),
		-EBADMSG);
	assert_err_has(err, "encrypted");
	assert_no_key_material(err, enc);
	free(enc);

	/* the same for a traditional key under a Proc-Type header */
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(
				 bio, pki.leaf_ec.key, EVP_aes_256_cbc(),
				 (unsigned char *)"pass", 4, NULL, NULL),
			 1);
	enc = bio_text(bio);
	BIO_free(bio);
	assert_err_has(enc, "Proc-Type: 4,ENCRYPTED");
	assert_int_equal(
		x509_key_matches(pki.leaf_ec.cert_pem, enc, err, sizeof(err)),
		-EBADMSG);
	assert_err_has(err, "encrypted");
	assert_no_key_material(err, enc);
	free(enc);

	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem, "junk", err,
					  sizeof(err)),
			 -EBADMSG);
	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem,
					  pki.leaf_ec.cert_pem, err,
					  sizeof(err)),
			 -EBADMSG);
	assert_int_equal(
		x509_key_matches("junk", pki.leaf_ec.key_pem, err, sizeof(err)),
		-ENOENT);
	assert_no_key_material(err, pki.leaf_ec.key_pem);
}

static void
test_chain_verifies_with_root_anchor_and_intermediate_in_chain(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(
		x509_verify_chain(pki.leaf_ec.cert_pem, pki.inter.cert_pem,
				  pki.root.cert_pem, 0, err, sizeof(err)),
		0);
	assert_int_equal(
		x509_verify_chain(pki.leaf_rsa.cert_pem, pki.inter.cert_pem,
				  pki.root.cert_pem, 0, err, sizeof(err)),
		0);
	assert_int_equal(
		x509_verify_chain(pki.leaf_ed.cert_pem, pki.inter.cert_pem,
				  pki.root.cert_pem, 0, err, sizeof(err)),
		0);
}

static void
test_chain_verifies_when_chain_includes_the_root_or_leaf_pem_carries_it(
	void **state)
{
	char err[512], *bundle;

	(void)state;
	assert_int_equal(
		x509_verify_chain(pki.leaf_ec.cert_pem, pki.inter_and_root,
				  pki.root.cert_pem, 0, err, sizeof(err)),
		0);
	bundle = cat3(pki.leaf_ec.cert_pem, pki.inter.cert_pem, "");
	assert_int_equal(x509_verify_chain(bundle, NULL, pki.root.cert_pem, 0,
					   err, sizeof(err)),
			 0);
	free(bundle);
}

static void
test_chain_verifies_with_an_intermediate_anchor_partial_chain(void **state)
{
	char err[512], *anchors;

	(void)state;
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem, NULL,
					   pki.inter.cert_pem, 0, err,
					   sizeof(err)),
			 0);
	/* the root in the untrusted chain does not stop the pinned anchor */
	assert_int_equal(
		x509_verify_chain(pki.leaf_ec.cert_pem, pki.inter_and_root,
				  pki.inter.cert_pem, 0, err, sizeof(err)),
		0);
	/* several anchors: any one of them will do */
	anchors = cat3(pki.other_root.cert_pem, pki.root.cert_pem, "");
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem,
					   pki.inter.cert_pem, anchors, 0, err,
					   sizeof(err)),
			 0);
	free(anchors);
}

static void
test_chain_fails_against_an_unrelated_ca_and_err_names_the_reason(void **state)
{
	char err[512];

	(void)state;
	err[0] = '\0';
	assert_int_equal(
		x509_verify_chain(pki.leaf_ec.cert_pem, pki.inter.cert_pem,
				  pki.other_root.cert_pem, 0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "unable to get local issuer certificate");
	assert_err_has(err, "depth 1");
	assert_err_has(err, "certagent test intermediate");

	/* with the real root in the chain, that root is untrusted */
	assert_int_equal(
		x509_verify_chain(pki.leaf_ec.cert_pem, pki.inter_and_root,
				  pki.other_root.cert_pem, 0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "self-signed certificate in certificate chain");
}

static void
test_chain_fails_when_the_intermediate_is_missing(void **state)
{
	char err[512];

	(void)state;
	err[0] = '\0';
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem, NULL,
					   pki.root.cert_pem, 0, err,
					   sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "unable to get local issuer certificate");
	assert_err_has(err, "depth 0");
	assert_err_has(err, "svc.example.com");
}

static void
test_expired_leaf_fails_now_and_verifies_at_a_time_in_its_window(void **state)
{
	char err[512];

	(void)state;
	err[0] = '\0';
	assert_int_equal(
		x509_verify_chain(pki.expired.cert_pem, pki.inter.cert_pem,
				  pki.root.cert_pem, 0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "certificate has expired");
	assert_err_has(err, "old.example.com");
	assert_int_equal(x509_verify_chain(pki.expired.cert_pem,
					   pki.inter.cert_pem,
					   pki.root.cert_pem, T0 - 5 * DAY, err,
					   sizeof(err)),
			 0);
	/* and a valid leaf judged after its end has expired too */
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem,
					   pki.inter.cert_pem,
					   pki.root.cert_pem, T0 + 2 * DAY, err,
					   sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "certificate has expired");
}

static void
test_chain_errors_on_missing_or_malformed_anchor(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem, NULL, "", 0,
					   err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem, NULL, NULL, 0,
					   err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem,
					   "-----BEGIN CERTIFICATE-----\nAA==\n"
					   "-----END CERTIFICATE-----\n",
					   pki.root.cert_pem, 0, err,
					   sizeof(err)),
			 -EBADMSG);
	assert_err_has(err, "chain");
}

static void
test_names_cn_dns_wildcard_ipv4_and_ipv6_are_found(void **state)
{
	const char *dns[] = {"svc.example.com", "SVC.Example.COM",
			     "web.apps.example.com", "Web.Apps.Example.Com",
			     "*.apps.example.com"};
	const char *ips[] = {"127.0.0.1", "::1", "0:0:0:0:0:0:0:1",
			     "2001:DB8:0::5"};
	struct x509_names names = {"svc.example.com", dns, 5, ips, 4};
	struct x509_names by_subject = {"kafka-broker-1", NULL, 0, NULL, 0};
	struct x509_names by_san = {"KAFKA.example.com", NULL, 0, NULL, 0};
	char err[512];

	(void)state;
	err[0] = '\0';
	assert_int_equal(x509_check_names(pki.leaf_ec.cert_pem, &names, err,
					  sizeof(err)),
			 0);
	/* a CN may be the subject CN only, or a DNS SAN only */
	assert_int_equal(x509_check_names(pki.leaf_rsa.cert_pem, &by_subject,
					  err, sizeof(err)),
			 0);
	assert_int_equal(x509_check_names(pki.leaf_rsa.cert_pem, &by_san, err,
					  sizeof(err)),
			 0);
}

static void
expect_missing(const char *pem, const struct x509_names *names,
	       const char *missing)
{
	char err[512];

	err[0] = '\0';
	assert_int_equal(x509_check_names(pem, names, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, missing);
}

static void
test_names_missing_name_is_named_in_err(void **state)
{
	const char *dns_missing[] = {"svc.example.com", "nope.example.com"};
	const char *two_labels[] = {"a.b.apps.example.com"};
	const char *bare[] = {"apps.example.com"};
	const char *ip_missing[] = {"127.0.0.1", "10.0.0.1"};
	const char *ip6_missing[] = {"2001:db8::6"};
	const char *not_ip[] = {"svc.example.com"};
	struct x509_names n;

	(void)state;
	n = (struct x509_names){"other.example.com", NULL, 0, NULL, 0};
	expect_missing(pki.leaf_ec.cert_pem, &n, "\"other.example.com\"");
	n = (struct x509_names){NULL, dns_missing, 2, NULL, 0};
	expect_missing(pki.leaf_ec.cert_pem, &n, "\"nope.example.com\"");
	/* a wildcard covers exactly one label */
	n = (struct x509_names){NULL, two_labels, 1, NULL, 0};
	expect_missing(pki.leaf_ec.cert_pem, &n, "\"a.b.apps.example.com\"");
	n = (struct x509_names){NULL, bare, 1, NULL, 0};
	expect_missing(pki.leaf_ec.cert_pem, &n, "\"apps.example.com\"");
	n = (struct x509_names){NULL, NULL, 0, ip_missing, 2};
	expect_missing(pki.leaf_ec.cert_pem, &n, "10.0.0.1");
	n = (struct x509_names){NULL, NULL, 0, ip6_missing, 1};
	expect_missing(pki.leaf_ec.cert_pem, &n, "2001:db8::6");
	n = (struct x509_names){NULL, NULL, 0, not_ip, 1};
	expect_missing(pki.leaf_ec.cert_pem, &n, "not an IP address");
	/* the subject CN is no DNS SAN */
	n = (struct x509_names){NULL, (const char *[]){"kafka-broker-1"}, 1,
				NULL, 0};
	expect_missing(pki.leaf_rsa.cert_pem, &n, "\"kafka-broker-1\"");
}

/*
 * Valgrind runs its client with its preload libraries in LD_PRELOAD.
 * Under it, generating 3072- and 4096-bit RSA keys alone takes minutes.
 */
static int
under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "/vgpreload_") != NULL;
}

/* Sign a certificate for KEY_PEM with the intermediate, as PEM. */
static char *
cert_for_key(const char *pem, const char *san)
{
	const struct spec sp = {
		.cn = "gen.example.com",
		.san = san,
		.from = -60,
		.to = DAY,
	};
	EVP_PKEY *key = read_key_pem(pem);
	X509 *x = sign_cert(key, &sp, &pki.inter);
	char *s = cert_pem(x);

	X509_free(x);
	EVP_PKEY_free(key);
	return s;
}

static void
test_generate_key_each_type_and_size_yields_that_type_and_size(void **state)
{
	static const struct {
		const char *type;
		unsigned bits, want_bits;
		int slow;
	} cases[] = {
		{"rsa", 2048, 2048, 0}, {"rsa", 3072, 3072, 1},
		{"rsa", 4096, 4096, 1}, {"ec", 256, 256, 0},
		{"ec", 384, 384, 0},	{"ec", 521, 521, 0},
		{"ec", 0, 256, 0},	{"ed25519", 0, 256, 0},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct x509_info info;
		char *pem = NULL, *cert;

		if (cases[i].slow && under_valgrind()) {
			print_message(
				"skipping rsa %u under valgrind (prime search "
				"takes minutes there; same code path as "
				"2048)\n",
				cases[i].bits);
			continue;
		}
		assert_int_equal(x509_generate_key(cases[i].type, cases[i].bits,
						   &pem, err, sizeof(err)),
				 0);
		assert_non_null(pem);
		assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) ==
			    0);
		cert = cert_for_key(pem, NULL);
		assert_int_equal(x509_cert_info(cert, &info, err, sizeof(err)),
				 0);
		assert_string_equal(info.key_type, cases[i].type);
		assert_int_equal(info.key_bits, cases[i].want_bits);
		assert_int_equal(x509_key_matches(cert, pem, err, sizeof(err)),
				 0);
		free(cert);
		secret_free(pem);
	}
}

static void
test_generate_key_refuses_unknown_types_and_sizes(void **state)
{
	char err[512], *pem = NULL;

	(void)state;
	assert_int_equal(x509_generate_key("rsa", 1024, &pem, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "1024");
	assert_int_equal(x509_generate_key("ec", 255, &pem, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(x509_generate_key("dsa", 2048, &pem, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "dsa");
	assert_int_equal(x509_generate_key(NULL, 0, &pem, err, sizeof(err)),
			 -EINVAL);
	assert_null(pem);
	secret_free(NULL);
}

static X509_REQ *
read_csr(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *req;

	assert_non_null(bio);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(req);
	return req;
}

static void
check_csr(const struct issued *is, int want_sig_nid)
{
	const char *dns[] = {"api.example.com", "*.api.example.com"};
	const char *ips[] = {"192.0.2.7", "2001:db8::7"};
	struct x509_names names = {"api.example.com", dns, 2, ips, 2};
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *sans;
	X509_REQ *req;
	char err[512], cn[256], *csr = NULL, *cert;
	int ndns = 0, nip = 0;

	assert_int_equal(
		x509_make_csr(is->key_pem, &names, &csr, err, sizeof(err)), 0);
	assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
	req = read_csr(csr);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), is->key), 1);
	assert_int_equal(X509_REQ_get_signature_nid(req), want_sig_nid);
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
					      NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "api.example.com");

	exts = X509_REQ_get_extensions(req);
	assert_non_null(exts);
	sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	assert_non_null(sans);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		if (gn->type == GEN_DNS) {
			assert_string_equal((const char *)ASN1_STRING_get0_data(
						    gn->d.dNSName),
					    dns[ndns]);
			ndns++;
		} else if (gn->type == GEN_IPADD) {
			nip++;
		}
	}
	assert_int_equal(ndns, 2);
	assert_int_equal(nip, 2);
	GENERAL_NAMES_free(sans);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

	/* signed as asked for, the certificate carries every name */
	cert = cert_for_key(is->key_pem,
			    "DNS:api.example.com,DNS:*.api.example.com,"
			    "IP:192.0.2.7,IP:2001:db8::7");
	assert_int_equal(x509_check_names(cert, &names, err, sizeof(err)), 0);
	free(cert);
	X509_REQ_free(req);
	free(csr);
}

static void
test_csr_carries_cn_and_sans_and_its_signature_verifies(void **state)
{
	(void)state;
	check_csr(&pki.leaf_ec, NID_ecdsa_with_SHA256);
	check_csr(&pki.leaf_rsa, NID_sha256WithRSAEncryption);
	check_csr(&pki.leaf_ed, NID_ED25519);
}

static void
test_csr_accepts_traditional_key_and_refuses_bad_names(void **state)
{
	const char *bad_dns[] = {"b\xc3\xa4r.example.com"};
	const char *bad_ip[] = {"300.1.1.1"};
	struct x509_names cn_only = {"only-cn", NULL, 0, NULL, 0};
	struct x509_names n;
	X509_REQ *req;
	char err[512], *csr = NULL;

	(void)state;
	assert_int_equal(x509_make_csr(pki.leaf_rsa.trad_pem, &cn_only, &csr,
				       err, sizeof(err)),
			 0);
	req = read_csr(csr);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	X509_REQ_free(req);
	free(csr);
	csr = NULL;

	n = (struct x509_names){"x", bad_dns, 1, NULL, 0};
	assert_int_equal(
		x509_make_csr(pki.leaf_ec.key_pem, &n, &csr, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "xn--");
	n = (struct x509_names){"x", NULL, 0, bad_ip, 1};
	assert_int_equal(
		x509_make_csr(pki.leaf_ec.key_pem, &n, &csr, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "300.1.1.1");
	assert_int_equal(
		x509_make_csr("junk", &cn_only, &csr, err, sizeof(err)),
		-EBADMSG);
	assert_null(csr);
}

/* The algorithm protecting the key bag of P12 (PBES2 expected). */
static void
assert_key_bag_is_pbes2_aes256(PKCS12 *p12)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	int found = 0;

	assert_non_null(safes);
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags;

		if (OBJ_obj2nid(p7->type) != NID_pkcs7_data)
			continue;
		bags = PKCS12_unpack_p7data(p7);
		assert_non_null(bags);
		for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			const PKCS12_SAFEBAG *bag =
				sk_PKCS12_SAFEBAG_value(bags, j);
			const X509_ALGOR *alg;
			const ASN1_OBJECT *oid;
			const void *param;
			int ptype;
			PBE2PARAM *pbe2;

			if (PKCS12_SAFEBAG_get_nid(bag) !=
			    NID_pkcs8ShroudedKeyBag)
				continue;
			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg,
				      NULL);
			X509_ALGOR_get0(&oid, &ptype, &param, alg);
			assert_int_equal(OBJ_obj2nid(oid), NID_pbes2);
			assert_int_equal(ptype, V_ASN1_SEQUENCE);
			pbe2 = ASN1_item_unpack(param,
						ASN1_ITEM_rptr(PBE2PARAM));
			assert_non_null(pbe2);
			assert_int_equal(
				OBJ_obj2nid(pbe2->encryption->algorithm),
				NID_aes_256_cbc);
			assert_int_equal(OBJ_obj2nid(pbe2->keyfunc->algorithm),
					 NID_id_pbkdf2);
			PBE2PARAM_free(pbe2);
			found++;
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	assert_int_equal(found, 1);
}

static void
test_keystore_parses_back_with_its_password_to_the_same_cert_and_key(void **state)
{
	const unsigned char *p;
	const ASN1_OBJECT *macoid;
	const X509_ALGOR *macalg;
	unsigned char *der = NULL, *alias;
	size_t len = 0;
	int alias_len = 0;
	PKCS12 *p12;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	char err[512];

	(void)state;
	assert_int_equal(x509_keystore(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
				     pki.inter_and_root, "s3cret", "kafka", 0,
				     &der, &len, err, sizeof(err)),
			 0);
	p = der;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	assert_non_null(p12);
	assert_ptr_equal(p, der + len);
	assert_int_equal(PKCS12_verify_mac(p12, "s3cret", -1), 1);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
	X509_ALGOR_get0(&macoid, NULL, NULL, macalg);
	assert_int_equal(OBJ_obj2nid(macoid), NID_sha256);
	assert_key_bag_is_pbes2_aes256(p12);

	assert_int_equal(PKCS12_parse(p12, "s3cret", &key, &cert, &ca), 1);
	assert_int_equal(X509_cmp(cert, pki.leaf_ec.cert), 0);
	assert_int_equal(EVP_PKEY_eq(key, pki.leaf_ec.key), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
	alias = X509_alias_get0(cert, &alias_len);
	assert_non_null(alias);
	assert_int_equal(alias_len, 5);
	assert_memory_equal(alias, "kafka", 5);
	assert_int_equal(sk_X509_num(ca), 2);

	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	secret_free_len(der, len);
}

static void
test_keystore_without_a_chain_still_holds_its_certificate(void **state)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t len = 0;
	PKCS12 *p12;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	char err[512];

	(void)state;
	assert_int_equal(x509_keystore(pki.leaf_rsa.cert_pem,
				     pki.leaf_rsa.trad_pem, NULL, "", "broker", 0,
				     &der, &len, err, sizeof(err)),
			 0);
	p = der;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	assert_non_null(p12);
	assert_int_equal(PKCS12_parse(p12, "", &key, &cert, &ca), 1);
	assert_int_equal(X509_cmp(cert, pki.leaf_rsa.cert), 0);
	assert_int_equal(EVP_PKEY_eq(key, pki.leaf_rsa.key), 1);
	assert_true(ca == NULL || sk_X509_num(ca) == 0);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	secret_free_len(der, len);
}

static void
test_keystore_refuses_a_key_of_another_issuance(void **state)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char err[512];

	(void)state;
	assert_int_equal(x509_keystore(pki.leaf_ec.cert_pem, pki.leaf_ec2.key_pem,
				     NULL, "pw", "kafka", 0, &der, &len, err,
				     sizeof(err)),
			 -EINVAL);
	assert_null(der);
	assert_err_has(err, "does not belong");
	assert_no_key_material(err, pki.leaf_ec2.key_pem);
	assert_int_equal(x509_keystore(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
				     NULL, NULL, "kafka", 0, &der, &len, err,
				     sizeof(err)),
			 -EINVAL);
}

static void
test_split_first_returns_the_first_cert_and_the_rest(void **state)
{
	char err[512], *bundle, *first = NULL, *rest = NULL;

	(void)state;
	bundle = cat3(pki.leaf_ec.cert_pem, pki.inter.cert_pem,
		      pki.root.cert_pem);
	assert_int_equal(
		x509_split_first(bundle, &first, &rest, err, sizeof(err)), 0);
	assert_string_equal(first, pki.leaf_ec.cert_pem);
	assert_string_equal(rest, pki.inter_and_root);
	assert_int_equal(x509_count_certs(rest), 2);
	free(first);
	free(rest);
	free(bundle);

	assert_int_equal(x509_split_first(pki.leaf_ec.cert_pem, &first, &rest,
					  err, sizeof(err)),
			 0);
	assert_string_equal(first, pki.leaf_ec.cert_pem);
	assert_string_equal(rest, "");
	free(first);
	free(rest);
	first = rest = NULL;

	assert_int_equal(
		x509_split_first("nothing", &first, &rest, err, sizeof(err)),
		-ENOENT);
	assert_int_equal(x509_split_first("-----BEGIN CERTIFICATE-----\nAA==\n"
					  "-----END CERTIFICATE-----\n",
					  &first, &rest, err, sizeof(err)),
			 -EBADMSG);
	assert_null(first);
	assert_null(rest);
}

static void
test_check_bundle_accepts_a_good_bundle(void **state)
{
	const char *dns[] = {"svc.example.com", "x.apps.example.com"};
	const char *ips[] = {"127.0.0.1", "::1"};
	struct x509_names names = {"svc.example.com", dns, 2, ips, 2};
	char err[512];

	(void)state;
	assert_int_equal(
		x509_check_bundle(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, &names,
				  0, err, sizeof(err)),
		0);
	/* no key, no anchor, no names: only the validity window is checked */
	assert_int_equal(x509_check_bundle(pki.leaf_ec.cert_pem, NULL, NULL,
					   NULL, NULL, 0, err, sizeof(err)),
			 0);
}

static void
test_check_bundle_reports_the_first_failure_with_its_cause(void **state)
{
	const char *dns[] = {"missing.example.com"};
	struct x509_names names = {"svc.example.com", dns, 1, NULL, 0};
	char err[512];

	(void)state;
	/* wrong key and wrong anchor and a missing name: the key is named */
	assert_int_equal(
		x509_check_bundle(pki.leaf_ec.cert_pem, pki.leaf_ec2.key_pem,
				  pki.inter.cert_pem, pki.other_root.cert_pem,
				  &names, 0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "does not belong");
	assert_no_key_material(err, pki.leaf_ec2.key_pem);

	assert_int_equal(
		x509_check_bundle(pki.expired.cert_pem, pki.expired.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, NULL,
				  0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "expired at");
	assert_err_has(err, "old.example.com");

	assert_int_equal(
		x509_check_bundle(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
				  pki.inter.cert_pem, pki.other_root.cert_pem,
				  &names, 0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "does not verify");

	assert_int_equal(
		x509_check_bundle(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, &names,
				  0, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "\"missing.example.com\"");
}

static void
test_check_kept_refuses_another_key_and_checks_the_rest(void **state)
{
	const char *dns[] = {"svc.example.com"};
	struct x509_names names = {"svc.example.com", dns, 1, NULL, 0};
	char err[512];

	(void)state;
	assert_int_equal(x509_check_kept(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
					 pki.inter.cert_pem, pki.root.cert_pem,
					 &names, err, sizeof(err)),
			 0);
	assert_int_equal(x509_check_kept(pki.leaf_ec.cert_pem, pki.leaf_ec2.key_pem,
					 pki.inter.cert_pem, pki.root.cert_pem,
					 &names, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "does not belong");
	assert_no_key_material(err, pki.leaf_ec2.key_pem);
	assert_int_equal(x509_check_kept(pki.expired.cert_pem, pki.expired.key_pem,
					 NULL, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "expired at");
	assert_int_equal(x509_check_kept(pki.leaf_ec.cert_pem, pki.leaf_ec.key_pem,
					 pki.inter.cert_pem, pki.other_root.cert_pem,
					 NULL, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "does not verify");
}

static void
test_check_bundle_forgives_small_clock_skew_only(void **state)
{
	char err[512];

	(void)state;
	/* not_before is T0+120: inside the skew at T0 */
	assert_int_equal(
		x509_check_bundle(pki.future.cert_pem, pki.future.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, NULL,
				  T0, err, sizeof(err)),
		0);
	/* an hour ahead of our clock is not skew */
	assert_int_equal(
		x509_check_bundle(pki.future.cert_pem, pki.future.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, NULL,
				  T0 - 3600, err, sizeof(err)),
		-EINVAL);
	assert_err_has(err, "not valid before");
	/* the expired certificate, judged inside its window, passes */
	assert_int_equal(
		x509_check_bundle(pki.expired.cert_pem, pki.expired.key_pem,
				  pki.inter.cert_pem, pki.root.cert_pem, NULL,
				  T0 - 5 * DAY, err, sizeof(err)),
		0);
}

static void
test_check_bundle_refuses_an_inverted_validity_window(void **state)
{
	const struct spec inverted = {
		.cn = "inverted.example.com",
		.from = -60,
		.to = -120,
	};
	struct issued is;
	char err[512];

	(void)state;
	issue(&is, "ec", &inverted, &pki.inter);
	assert_int_equal(x509_check_bundle(is.cert_pem, is.key_pem, NULL, NULL,
					   NULL, T0 - 90, err, sizeof(err)),
			 -EINVAL);
	assert_err_has(err, "is not later than not before");
	drop(&is);
}

/* libcurl reads OpenSSL's error queue after its TLS calls: keep it clean. */
static void
test_failures_leave_the_openssl_error_queue_as_they_found_it(void **state)
{
	struct x509_info info;
	char err[512], *pem = NULL;

	(void)state;
	ERR_clear_error();
	assert_int_equal(x509_cert_info("-----BEGIN CERTIFICATE-----\nAA==\n"
					"-----END CERTIFICATE-----\n",
					&info, err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(x509_key_matches(pki.leaf_ec.cert_pem, "junk", err,
					  sizeof(err)),
			 -EBADMSG);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(x509_verify_chain(pki.leaf_ec.cert_pem, NULL,
					   pki.other_root.cert_pem, 0, err,
					   sizeof(err)),
			 -EINVAL);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(x509_count_certs(pki.leaf_ec.cert_pem), 1);
	assert_int_equal(ERR_peek_error(), 0);

	/* an error that was there before is still there after */
	ERR_raise(ERR_LIB_USER, 42);
	assert_int_equal(x509_make_csr("junk", NULL, &pem, err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), 42);
	assert_int_equal(ERR_GET_REASON(ERR_get_error()), 42);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_cert_info_reports_serial_times_cn_key_type_and_ca),
		cmocka_unit_test(
			test_describe_gives_subject_sans_and_the_der_fingerprint),
		cmocka_unit_test(
			test_cert_info_serial_with_high_bit_has_no_sign_byte),
		cmocka_unit_test(
			test_cert_info_reads_the_first_certificate_of_a_bundle),
		cmocka_unit_test(test_malformed_pem_is_an_error),
		cmocka_unit_test(
			test_count_certs_counts_certificates_and_rejects_malformed_blocks),
		cmocka_unit_test(
			test_key_matches_its_certificate_for_rsa_ec_and_ed25519),
		cmocka_unit_test(
			test_key_matches_accepts_traditional_rsa_and_ec_pem),
		cmocka_unit_test(
			test_key_of_another_issuance_does_not_match_and_err_names_cert_not_key),
		cmocka_unit_test(
			test_key_with_matching_public_half_but_wrong_private_half_is_refused),
		cmocka_unit_test(
			test_key_matches_refuses_encrypted_garbage_and_certificate_as_key),
		cmocka_unit_test(
			test_chain_verifies_with_root_anchor_and_intermediate_in_chain),
		cmocka_unit_test(
			test_chain_verifies_when_chain_includes_the_root_or_leaf_pem_carries_it),
		cmocka_unit_test(
			test_chain_verifies_with_an_intermediate_anchor_partial_chain),
		cmocka_unit_test(
			test_chain_fails_against_an_unrelated_ca_and_err_names_the_reason),
		cmocka_unit_test(
			test_chain_fails_when_the_intermediate_is_missing),
		cmocka_unit_test(
			test_expired_leaf_fails_now_and_verifies_at_a_time_in_its_window),
		cmocka_unit_test(
			test_chain_errors_on_missing_or_malformed_anchor),
		cmocka_unit_test(
			test_names_cn_dns_wildcard_ipv4_and_ipv6_are_found),
		cmocka_unit_test(test_names_missing_name_is_named_in_err),
		cmocka_unit_test(
			test_generate_key_each_type_and_size_yields_that_type_and_size),
		cmocka_unit_test(
			test_generate_key_refuses_unknown_types_and_sizes),
		cmocka_unit_test(
			test_csr_carries_cn_and_sans_and_its_signature_verifies),
		cmocka_unit_test(
			test_csr_accepts_traditional_key_and_refuses_bad_names),
		cmocka_unit_test(
			test_keystore_parses_back_with_its_password_to_the_same_cert_and_key),
		cmocka_unit_test(test_keystore_without_a_chain_still_holds_its_certificate),
		cmocka_unit_test(test_keystore_refuses_a_key_of_another_issuance),
		cmocka_unit_test(
			test_split_first_returns_the_first_cert_and_the_rest),
		cmocka_unit_test(test_check_bundle_accepts_a_good_bundle),
		cmocka_unit_test(
			test_check_bundle_reports_the_first_failure_with_its_cause),
		cmocka_unit_test(test_check_kept_refuses_another_key_and_checks_the_rest),
		cmocka_unit_test(
			test_check_bundle_forgives_small_clock_skew_only),
		cmocka_unit_test(
			test_check_bundle_refuses_an_inverted_validity_window),
		cmocka_unit_test(
			test_failures_leave_the_openssl_error_queue_as_they_found_it),
	};
	return cmocka_run_group_tests_name("x509", tests, setup_pki,
					   teardown_pki);
}
