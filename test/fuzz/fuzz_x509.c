/*
 * fuzz_x509: certificate and key inspection (agent/x509.c), as the agent
 * reads files on disk at start (adoption), the client certificate it
 * logs in with, and what Vault issues.
 *
 * DESIGN: x509.c speaks PEM.  The first byte's low half picks how the rest
 * is offered: 0, as PEM text holding the certificate(s) and the key (as a
 * file the operator wrote); 1, as DER wrapped in a CERTIFICATE block (the
 * format=der answers); 2-4, as DER wrapped in a PRIVATE KEY, EC PRIVATE
 * KEY or RSA PRIVATE KEY block, checked against a fixed certificate.  Its
 * high half picks which question the agent asks of them is asked.  ASan's
 * quarantine is small here: OpenSSL allocates thousands of blocks a call.
 */
#include <assert.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "buf.h"
#include "fuzz.h"
#include "x509.h"

/* A real certificate (EC P-256, CN and SANs as in inspect()), so that a
 * fuzzed key meets one that parses; test/fuzz/corpus/x509/ has its key. */
static const char fixed_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBwDCCAWegAwIBAgIUHSnYu15gCbknK7HuJtr6tWWR6VIwCgYIKoZIzj0EAwIw\n"
	"FzEVMBMGA1UEAwwMZnV6ei5leGFtcGxlMB4XDTI2MTIwNjAyMjgyOVoXDTM2MTIw\n"
	"MzAyMjgyOVowFzEVMBMGA1UEAwwMZnV6ei5leGFtcGxlMFkwEwYHKoZIzj0CAQYI\n"
	"KoZIzj0DAQcDQgAEAJ/gSNWAiSuMpU5mNMQtRy50AxoaCXdu6RFTDVB6YmvWrsf2\n"
	"/3OG9hOce1LUCWYOQvGZgcDwU2OOyheYBro+LKOBkDCBjTAdBgNVHQ4EFgQU8bMu\n"
	"q18LZYee9guGKt7V6HQAfr8wHwYDVR0jBBgwFoAU8bMuq18LZYee9guGKt7V6HQA\n"
	"fr8wDwYDVR0TAQH/BAUwAwEB/zA6BgNVHREEMzAxggxmdXp6LmV4YW1wbGWCCSou\n"
	"ZXhhbXBsZYcEfwAAAYcQAAAAAAAAAAAAAAAAAAAAATAKBggqhkjOPQQDAgNHADBE\n"
	"AiBZSbhZgINNOEIurwdErAmxsPQPKe8n518xrf3eeW+O5gIgetuf/kHKfWzHV0kV\n"
	"wcA1ZoRhGL3MBK5BTSxS4VzRTKc=\n"
	"-----END CERTIFICATE-----\n";

const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* DER bytes as one PEM block labelled LABEL. */
static char *
wrap(const uint8_t *der, size_t len, const char *label)
{
	struct buf b = BUF_INIT(1 << 22);
	unsigned char line[96];
	size_t len_out;

	buf_printf(&b, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < len; i += 48) {
		int n = EVP_EncodeBlock(line, der + i,
					(int)(len - i < 48 ? len - i : 48));
		buf_append(&b, line, (size_t)n);
		buf_putc(&b, '\n');
	}
	buf_printf(&b, "-----END %s-----\n", label);
	return buf_take(&b, &len_out);
}

/* One of the questions the agent asks, picked by OP: one per input, as
 * each parses the PEM again (OpenSSL's decoders are slow under ASan). */
static void
inspect(unsigned op, const char *cert, const char *key)
{
	static const char *const dns[] = { "fuzz.example", "*.example" };
	static const char *const ips[] = { "127.0.0.1", "::1" };
	struct x509_names names = { "fuzz.example", dns, 2, ips, 2 };
	struct x509_info info;
	char err[1024], *first = NULL, *rest = NULL;

	memset(err, 'x', sizeof(err));
	switch (op % 5) {
	case 0:
		if (x509_cert_info(cert, &info, err, sizeof(err)) != 0)
			assert(memchr(err, '\0', sizeof(err)) != NULL);
		(void)x509_count_certs(cert);
		if (x509_split_first(cert, &first, &rest, err, sizeof(err)) == 0) {
			assert(first && rest);
			(void)x509_issued_by(first, rest);
		}
		free(first);
		free(rest);
		break;
	case 1:
		(void)x509_check_names(cert, &names, err, sizeof(err));
		break;
	case 2:
		if (x509_key_matches(cert, key, err, sizeof(err)) != 0)
			assert(memchr(err, '\0', sizeof(err)) != NULL);
		break;
	case 3:
		(void)x509_check_kept(cert, key, NULL, cert, &names, err,
				      sizeof(err));
		break;
	default:
		if (x509_check_bundle(cert, key, cert, cert, &names, 1700000000,
				      err, sizeof(err)) != 0)
			assert(memchr(err, '\0', sizeof(err)) != NULL);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const key_labels[] = {
		"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY",
	};
	unsigned op;
	char *s;

	if (size < 1)
		return 0;
	op = data[0] >> 4;
	switch ((data[0] & 0x0f) % 5) {
	case 0:
		s = fuzz_cstr(data + 1, size - 1);
		if (s)
			inspect(op, s, s);
		break;
	case 1:
		s = wrap(data + 1, size - 1, "CERTIFICATE");
		if (s)
			inspect(op, s, s);
		break;
	default:
		s = wrap(data + 1, size - 1, key_labels[(data[0] & 0x0f) % 5 - 2]);
		if (s)
			inspect(op, fixed_cert, s);
		break;
	}
	free(s);
	return 0;
}
