/*
 * Unit tests for the trust-bundle and CRL helpers of x509.c
 * (x509_ca_split, x509_crl_check) against material made here with
 * OpenSSL: a root, an intermediate it signs, an unrelated root, and CRLs
 * signed by each, current, stale, from the future and corrupted.
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
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

#define DAY (24LL * 3600)

#define assert_err_has(err, s)                                                 \
	do {                                                                   \
		if (strstr((err), (s)) == NULL)                                \
			fail_msg("ERR \"%s\" does not mention \"%s\"", (err),  \
				 (s));                                         \
	} while (0)

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
};

static long long T0;
static struct ca root, inter, other;

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

static void
make_ca(struct ca *c, const char *cn, const struct ca *issuer, long long from,
	long long to)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *bio;

	c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(c->key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(T0 & 0xffffff) + cn[0]), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(T0 + from)));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(T0 + to)));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert)
						       : name),
			 1);
	assert_int_equal(X509_set_pubkey(x, c->key), 1);
	X509V3_set_ctx(&v3, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, issuer ? issuer->key : c->key, EVP_sha256()) > 0);
	c->cert = x;
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	c->pem = bio_text(bio);
	BIO_free(bio);
}

/* A CRL of ISSUER revoking REVOKED serials, valid from..to (offsets). */
static char *
make_crl(const struct ca *issuer, long long from, long long to, long revoked,
	 int delta)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert)), 1);
	assert_non_null(ASN1_TIME_set(t, (time_t)(T0 + from)));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(ASN1_TIME_set(t, (time_t)(T0 + to)));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	for (long i = 0; i < revoked; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(sn, 1000 + i), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, sn), 1);
		assert_non_null(ASN1_TIME_set(t, (time_t)T0));
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(sn);
	}
	assert_int_equal(ASN1_INTEGER_set(num, 7), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
	if (delta)
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, 0), 1);
	assert_true(X509_CRL_sign(crl, issuer->key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
	s = bio_text(bio);
	BIO_free(bio);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return s;
}

static int
setup(void **state)
{
	(void)state;
	T0 = (long long)time(NULL);
	make_ca(&root, "Test Root", NULL, -DAY, 3650 * DAY);
	make_ca(&inter, "Test Intermediate", &root, -DAY, 365 * DAY);
	make_ca(&other, "Other Root", NULL, -DAY, 3650 * DAY);
	return 0;
}

static void
free_ca(struct ca *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->pem);
}

static int
teardown(void **state)
{
	(void)state;
	free_ca(&root);
	free_ca(&inter);
	free_ca(&other);
	x509_forget();
	return 0;
}

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void
test_ca_split_describes_each_certificate_and_knows_a_root(void **state)
{
	char *pem = join(inter.pem, root.pem), err[256] = "";
	struct x509_ca *v = NULL;
	size_t n = 0;
	unsigned char md[32];
	unsigned mdlen = 0;
	char hex[65];

	(void)state;
	assert_int_equal(x509_ca_split(pem, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_false(v[0].root);
	assert_true(v[1].root);
	assert_string_equal(v[0].subject, "CN=Test Intermediate");
	assert_int_equal(v[1].not_after, T0 + 3650 * DAY);
	assert_int_equal(X509_digest(root.cert, EVP_sha256(), md, &mdlen), 1);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", md[i]);
	assert_string_equal(v[1].sha256, hex);
	/* Each PEM holds that one certificate, as PEM. */
	assert_string_equal(v[1].pem, root.pem);
	x509_ca_free(v, n);
	free(pem);
}

static void
test_ca_split_of_no_certificate_is_empty_and_garbage_an_error(void **state)
{
	struct x509_ca *v = NULL;
	size_t n = 7;
	char err[256] = "";

	(void)state;
	assert_int_equal(x509_ca_split("no PEM here\n", &v, &n, err, sizeof(err)), 0);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(x509_ca_split("-----BEGIN CERTIFICATE-----\nAAAA\n"
				       "-----END CERTIFICATE-----\n",
				       &v, &n, err, sizeof(err)),
			 -EBADMSG);
	assert_null(v);
}

static void
test_crl_check_accepts_a_current_crl_of_the_ca(void **state)
{
	char *crl = make_crl(&inter, -60, DAY, 3, 0), *chain = join(inter.pem, root.pem);
	struct x509_crl_info info;
	char err[256] = "";

	(void)state;
	assert_int_equal(x509_crl_check(crl, chain, 0, &info, err, sizeof(err)), 0);
	assert_int_equal(info.n_revoked, 3);
	assert_int_equal(info.number, 7);
	assert_false(info.delta);
	assert_int_equal(info.next_update, T0 + DAY);
	assert_string_equal(info.issuer, "CN=Test Intermediate");
	free(crl);
	crl = make_crl(&inter, -60, DAY, 0, 1);
	assert_int_equal(x509_crl_check(crl, chain, 0, &info, err, sizeof(err)), 0);
	assert_true(info.delta);
	free(crl);
	free(chain);
}

static void
test_crl_check_refuses_a_crl_of_another_ca(void **state)
{
	char *crl = make_crl(&other, -60, DAY, 1, 0), *forged;
	struct x509_crl_info info;
	char err[256] = "";

	(void)state;
	assert_int_equal(x509_crl_check(crl, inter.pem, 0, &info, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "issued by no certificate of the CA");
	free(crl);
	/* The right name, the wrong key: a CRL "of" the root signed by another. */
	{
		struct ca fake = other;
		fake.cert = root.cert;	/* root's name, other's key */
		forged = make_crl(&fake, -60, DAY, 1, 0);
	}
	assert_int_equal(x509_crl_check(forged, root.pem, 0, &info, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "signature does not verify");
	free(forged);
}

static void
test_crl_check_refuses_a_stale_or_future_crl(void **state)
{
	char *stale = make_crl(&root, -2 * DAY, -DAY, 0, 0);
	char *future = make_crl(&root, DAY, 2 * DAY, 0, 0);
	struct x509_crl_info info;
	char err[256] = "";

	(void)state;
	assert_int_equal(x509_crl_check(stale, root.pem, 0, &info, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "stale since its nextUpdate");
	assert_int_equal(x509_crl_check(future, root.pem, 0, &info, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "issued in the future");
	/* The same CRL is good at a time inside its window. */
	assert_int_equal(x509_crl_check(stale, root.pem, T0 - DAY - 60, &info, err,
					sizeof(err)),
			 0);
	free(stale);
	free(future);
}

static void
test_crl_check_tells_no_crl_from_a_broken_one(void **state)
{
	struct x509_crl_info info;
	char err[256] = "";

	(void)state;
	assert_int_equal(x509_crl_check("", root.pem, 0, &info, err, sizeof(err)), -ENOENT);
	assert_int_equal(x509_crl_check("-----BEGIN X509 CRL-----\nAAAA\n"
					"-----END X509 CRL-----\n",
					root.pem, 0, &info, err, sizeof(err)),
			 -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_split_describes_each_certificate_and_knows_a_root),
		cmocka_unit_test(test_ca_split_of_no_certificate_is_empty_and_garbage_an_error),
		cmocka_unit_test(test_crl_check_accepts_a_current_crl_of_the_ca),
		cmocka_unit_test(test_crl_check_refuses_a_crl_of_another_ca),
		cmocka_unit_test(test_crl_check_refuses_a_stale_or_future_crl),
		cmocka_unit_test(test_crl_check_tells_no_crl_from_a_broken_one),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
