/*
 * x509_make: certificate material made here rather than read: private
 * keys and certificate signing requests (sign mode); keystores are
 * x509_keymat.c's.
 *
 * DESIGN: the same rules as x509.c (see there): PEM text in and out, every
 * OpenSSL object lives inside one call, each public function brackets its
 * work with ERR_set_mark()/ERR_pop_to_mark(), and error text never holds
 * key bytes.  It reads PEM through x509.c's readers (x509_int.h).
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "x509_int.h"

int
x509_generate_key(const char *type, unsigned bits, char **key_pem, char *err,
		  size_t errlen)
{
	EVP_PKEY *key = NULL;
	int rc = 0;

	ERR_set_mark();
	if (type != NULL && strcmp(type, "rsa") == 0) {
		if (bits == 0)
			bits = 2048;
		if (bits != 2048 && bits != 3072 && bits != 4096 &&
		    bits != 8192)
			goto bad_bits;
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (type != NULL && strcmp(type, "ec") == 0) {
		const char *curve;

		if (bits == 0 || bits == 256)
			curve = "P-256";
		else if (bits == 384)
			curve = "P-384";
		else if (bits == 521)
			curve = "P-521";
		else
			goto bad_bits;
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	} else if (type != NULL && strcmp(type, "ed25519") == 0) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		rc = -EINVAL;
		snprintf(err, errlen,
			 "key type \"%s\": expected rsa, ec or ed25519",
			 type != NULL ? type : "(null)");
		goto out;
	}
	if (key == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "generating a %s key failed: %s", type,
			 x509_ossl_why());
		goto out;
	}
	rc = x509_write_key(key, key_pem);
	if (rc != 0)
		snprintf(err, errlen, "encoding the new %s key failed: %s",
			 type, x509_ossl_why());
	goto out;
bad_bits:
	rc = -EINVAL;
	snprintf(err, errlen, "%s keys of %u bits are not supported (%s)", type,
		 bits,
		 strcmp(type, "rsa") == 0 ? "2048, 3072, 4096 or 8192"
					  : "256, 384 or 521");
out:
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return rc;
}



/* A DNS SAN must be printable ASCII (IDNs in their xn-- form). */
static int
dns_name_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

/* NAMES' DNS and IP entries as a subjectAltName value. */
static int
build_sans(const struct x509_names *names, GENERAL_NAMES **out, char *err,
	   size_t errlen)
{
	GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = NULL;
	int rc = -ENOMEM;

	if (sans == NULL)
		goto nomem;
	for (size_t i = 0; i < names->ndns; i++) {
		const char *dns = names->dns[i];
		ASN1_IA5STRING *ia5;

		if (!dns_name_ok(dns)) {
			rc = -EINVAL;
			snprintf(err, errlen,
				 "DNS name %zu \"%s\" is empty or not "
				 "printable ASCII (use the xn-- form)",
				 i + 1, dns != NULL ? dns : "");
			goto out;
		}
		gn = GENERAL_NAME_new();
		ia5 = ASN1_IA5STRING_new();
		if (gn == NULL || ia5 == NULL ||
		    ASN1_STRING_set(ia5, dns, -1) != 1) {
			ASN1_IA5STRING_free(ia5);
			goto nomem;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		if (sk_GENERAL_NAME_push(sans, gn) <= 0)
			goto nomem;
		gn = NULL;
	}
	for (size_t i = 0; i < names->nips; i++) {
		ASN1_OCTET_STRING *ip = names->ips[i] != NULL
						? a2i_IPADDRESS(names->ips[i])
						: NULL;

		if (ip == NULL) {
			rc = -EINVAL;
			snprintf(err, errlen, "\"%s\" is not an IP address",
				 names->ips[i] != NULL ? names->ips[i]
						       : "(null)");
			goto out;
		}
		gn = GENERAL_NAME_new();
		if (gn == NULL) {
			ASN1_OCTET_STRING_free(ip);
			goto nomem;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		if (sk_GENERAL_NAME_push(sans, gn) <= 0)
			goto nomem;
		gn = NULL;
	}
	*out = sans;
	sans = NULL;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "CSR: out of memory");
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(sans);
	return rc;
}

int
x509_make_csr(const char *key_pem, const struct x509_names *names,
	      char **csr_pem, char *err, size_t errlen)
{
	static const struct x509_names none;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	GENERAL_NAMES *sans = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BIO *bio = NULL;
	int rc;

	ERR_set_mark();
	if (names == NULL)
		names = &none;
	rc = x509_read_key(key_pem, &key, err, errlen);
	if (rc != 0)
		goto out;
	rc = build_sans(names, &sans, err, errlen);
	if (rc != 0)
		goto out;
	rc = -ENOMEM;
	req = X509_REQ_new();
	bio = BIO_new(BIO_s_mem());
	if (req == NULL || bio == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1)
		goto nomem;
	if (names->cn != NULL && names->cn[0] != '\0' &&
	    X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req),
				       NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)names->cn, -1, -1,
				       0) != 1) {
		rc = -EINVAL;
		snprintf(err, errlen, "CSR: CN \"%s\" refused: %s", names->cn,
			 x509_ossl_why());
		goto out;
	}
	if (sk_GENERAL_NAME_num(sans) > 0 &&
	    (X509V3_add1_i2d(&exts, NID_subject_alt_name, sans, 0,
			     X509V3_ADD_DEFAULT) != 1 ||
	     X509_REQ_add_extensions(req, exts) != 1))
		goto nomem;
	if (X509_REQ_set_pubkey(req, key) != 1)
		goto nomem;
	if (X509_REQ_sign(req, key, x509_is_ed(key) ? NULL : EVP_sha256()) <= 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "CSR: signing with the key failed: %s",
			 x509_ossl_why());
		goto out;
	}
	if (PEM_write_bio_X509_REQ(bio, req) != 1)
		goto nomem;
	rc = x509_bio_string(bio, csr_pem);
	if (rc == 0)
		goto out;
nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "CSR: out of memory");
out:
	BIO_free(bio);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(sans);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return rc;
}

