/*
 * funcs_cert.c: the template functions that look into a certificate or
 * package one for another consumer: spkiPin, certNotAfter, certSerial,
 * certFingerprint, certSANs and pkcs12, used as
 *   {{ with pkiCert "pki/issue/x" "common_name=a" }}{{ .Cert | spkiPin }}{{ end }}
 *
 * DESIGN / invariants:
 *  - All of OpenSSL stays behind x509.h: these functions hand it PEM text
 *    and get text back, as the certificates: files do (x509_keymat.c),
 *    so a pin or a keystore is the same whether a template or a files:
 *    entry makes it.
 *  - The certificate is the LAST argument, so each reads well at the end
 *    of a pipeline; options (spkiPin's "hex") come first.
 *  - Errors name the function and the argument's place, never its value
 *    (a key, a password).  pkcs12's result holds the key: it is base64
 *    text in a result buffer the execution wipes.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "buf.h"
#include "x509.h"

/* Argument I as a NUL-free C string (PEM text, a password). */
#define arg_text tmpl_arg_cstr

/* spkiPin [FORMAT] CERT: base64 (default) or "hex" SHA-256 of the SPKI. */
int
tmpl_fn_spkiPin(struct exec *x, const struct call *c, const struct val *a,
		size_t n, struct val *out)
{
	const char *pem, *fmt = "base64";
	char pin[80], err[256];
	struct buf b = tmpl_fn_buf(x);
	int rc = arg_text(x, c, a, n - 1, &pem);

	if (rc == 0 && n == 2)
		rc = arg_text(x, c, a, 0, &fmt);
	if (rc != 0)
		return rc;
	if (strcmp(fmt, "base64") != 0 && strcmp(fmt, "hex") != 0)
		return tmpl_cerr(x, c, "argument 1 must be \"base64\" or \"hex\"");
	if (x509_spki_pin(pem, strcmp(fmt, "hex") == 0, pin, sizeof(pin), err,
			  sizeof(err)) != 0)
		return tmpl_cerr(x, c, "argument %zu is not a PEM certificate", n);
	buf_puts(&b, pin);
	return tmpl_fn_result(x, c, &b, out);
}

/* The first certificate of argument 1, described. */
static int
describe(struct exec *x, const struct call *c, const struct val *a,
	 struct x509_info *info, struct x509_desc *desc)
{
	const char *pem;
	char err[256];
	int rc = arg_text(x, c, a, 0, &pem);

	if (rc != 0)
		return rc;
	if (x509_cert_describe(pem, info, desc, err, sizeof(err)) != 0)
		return tmpl_cerr(x, c, "argument 1 is not a PEM certificate");
	return 0;
}

/* certNotAfter CERT: the expiry in RFC 3339, UTC ("2026-01-02T03:04:05Z"). */
int
tmpl_fn_certNotAfter(struct exec *x, const struct call *c, const struct val *a,
		     size_t n, struct val *out)
{
	struct x509_info info;
	struct x509_desc desc;
	struct buf b = tmpl_fn_buf(x);
	char when[40];
	struct tm tm;
	time_t t;
	int rc = describe(x, c, a, &info, &desc);

	(void)n;
	if (rc != 0)
		return rc;
	t = (time_t)info.not_after;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return tmpl_cerr(x, c, "the expiry is out of range");
	buf_puts(&b, when);
	return tmpl_fn_result(x, c, &b, out);
}

/* certSerial CERT: colon-separated lower-case hex, as Vault prints it. */
int
tmpl_fn_certSerial(struct exec *x, const struct call *c, const struct val *a,
		   size_t n, struct val *out)
{
	struct x509_info info;
	struct x509_desc desc;
	struct buf b = tmpl_fn_buf(x);
	int rc = describe(x, c, a, &info, &desc);

	(void)n;
	if (rc != 0)
		return rc;
	buf_puts(&b, info.serial);
	return tmpl_fn_result(x, c, &b, out);
}

/* certFingerprint CERT: SHA-256 of the DER, colon-separated hex. */
int
tmpl_fn_certFingerprint(struct exec *x, const struct call *c,
			const struct val *a, size_t n, struct val *out)
{
	struct x509_info info;
	struct x509_desc desc;
	struct buf b = tmpl_fn_buf(x);
	int rc = describe(x, c, a, &info, &desc);

	(void)n;
	if (rc != 0)
		return rc;
	buf_puts(&b, desc.sha256);
	return tmpl_fn_result(x, c, &b, out);
}

/* certSANs CERT: the subject alternative names (DNS, IP, email, URI) as a
 * list of strings, in the certificate's order, without their kind. */
int
tmpl_fn_certSANs(struct exec *x, const struct call *c, const struct val *a,
		 size_t n, struct val *out)
{
	struct x509_info info;
	struct x509_desc desc;
	cJSON *list;
	int rc = describe(x, c, a, &info, &desc);
	char *p;

	(void)n;
	if (rc != 0)
		return rc;
	list = cJSON_CreateArray();
	rc = tmpl_keep_json(x, list);
	if (rc != 0)
		return rc;
	/* "DNS:a, IP:10.0.0.1": names hold no ", " (DNS and IP cannot). */
	for (p = desc.sans; *p != '\0';) {
		char *end = strstr(p, ", "), *colon;
		cJSON *item;

		if (end != NULL)
			*end = '\0';
		colon = strchr(p, ':');
		item = cJSON_CreateString(colon ? colon + 1 : p);
		if (item == NULL || !cJSON_AddItemToArray(list, item)) {
			cJSON_Delete(item);
			return tmpl_xoom(x);
		}
		if (end == NULL)
			break;
		p = end + 2;
	}
	*out = (struct val){.k = V_LIST, .j = list};
	return 0;
}

/* pkcs12 CERT KEY [CHAIN] PASSWORD: the keystore as base64, its entry
 * named after the certificate's CN. */
int
tmpl_fn_pkcs12(struct exec *x, const struct call *c, const struct val *a,
	       size_t n, struct val *out)
{
	const char *cert, *key, *chain = NULL, *pass;
	unsigned char *der = NULL;
	size_t len = 0;
	char err[256];
	struct x509_info info;
	struct buf b = tmpl_fn_buf(x);
	int rc = arg_text(x, c, a, 0, &cert);

	if (rc == 0)
		rc = arg_text(x, c, a, 1, &key);
	if (rc == 0 && n == 4)
		rc = arg_text(x, c, a, 2, &chain);
	if (rc == 0)
		rc = arg_text(x, c, a, n - 1, &pass);
	if (rc != 0)
		return rc;
	if (x509_cert_info(cert, &info, err, sizeof(err)) != 0)
		return tmpl_cerr(x, c, "argument 1 is not a PEM certificate");
	if (x509_keystore(cert, key, chain, pass,
			  info.subject_cn[0] ? info.subject_cn : "1",
			  X509_P12_STABLE, &der,
			  &len, err, sizeof(err)) != 0)
		return tmpl_cerr(x, c, "cannot build the keystore (is argument "
				 "2 the certificate's unencrypted key?)");
	if (len > (size_t)1 << 28) {
		secret_free_len(der, len);
		return tmpl_cerr(x, c, "the keystore is too large");
	}
	b.secret = 1;
	{
		/* 4 characters per 3 bytes, and EVP_EncodeBlock's NUL. */
		size_t need = 4 * ((len + 2) / 3) + 1;
		char *text = malloc(need);

		if (text == NULL) {
			secret_free_len(der, len);
			return tmpl_xoom(x);
		}
		EVP_EncodeBlock((unsigned char *)text, der, (int)len);
		buf_puts(&b, text);
		secret_free_len(text, need);
	}
	secret_free_len(der, len);
	return tmpl_fn_result(x, c, &b, out);
}
