/*
 * x509: certificates and keys through OpenSSL 3, behind a PEM-text API.
 *
 * DESIGN / invariants: this is the only module that includes OpenSSL's
 * X.509 headers; callers hand in PEM text and get back PEM text, DER or a
 * plain struct, and every OpenSSL object lives and dies inside one call.
 * Each public function brackets its work with ERR_set_mark() and
 * ERR_pop_to_mark(), so it leaves OpenSSL's thread-local error queue as it
 * found it: libcurl reads that queue after its own TLS calls and must not
 * find our leftovers there.
 *
 * Secrets: key material is held only in OpenSSL objects (whose free
 * functions cleanse), in memory BIOs (BUF_MEM_free cleanses), or in
 * malloc'd copies that are OPENSSL_cleanse'd before free.  Encrypted keys
 * are refused through a password callback that fails, so OpenSSL never
 * prompts on a terminal.  Error text is built from certificate fields and
 * OpenSSL reason strings only, never from key bytes.
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "x509_int.h"

/* The reason of the newest error on OpenSSL's queue, for ERR. */
const char *
x509_ossl_why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : "unknown OpenSSL error";
}

/* A read-only BIO over PEM text, refusing NULL and oversized input. */
static int
pem_bio(const char *pem, const char *what, BIO **out, char *err, size_t errlen)
{
	size_t len;

	if (pem == NULL) {
		snprintf(err, errlen, "%s: no PEM text given", what);
		return -EINVAL;
	}
	len = strnlen(pem, (size_t)X509_PEM_MAX + 1);
	if (len > X509_PEM_MAX) {
		snprintf(err, errlen, "%s: PEM text larger than %u bytes", what,
			 (unsigned)X509_PEM_MAX);
		return -EFBIG;
	}
	*out = BIO_new_mem_buf(pem, (int)len);
	if (*out == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -ENOMEM;
	}
	return 0;
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
int
x509_bio_string(BIO *bio, char **out)
{
	char *data = NULL, *s;
	long len = BIO_get_mem_data(bio, &data);

	if (len < 0 || (len > 0 && data == NULL))
		return -EIO;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(s, data, (size_t)len);
	s[len] = '\0';
	*out = s;
	return 0;
}

static int
is_cert_block(const char *name, int *aux)
{
	*aux = strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
	return *aux || strcmp(name, PEM_STRING_X509) == 0 ||
	       strcmp(name, PEM_STRING_X509_OLD) == 0;
}

/*
 * Read the next PEM block from BIO.  Returns 1 with *X set to the
 * certificate it holds (NULL for a block of another type), 0 at the end
 * of the input, or -EBADMSG.  A skipped block may be a key: its bytes are
 * cleansed.
 */
static int
read_block(BIO *bio, X509 **x)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long len = 0;
	int aux, rc = 1;

	*x = NULL;
	if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
			return 0;
		return -EBADMSG;
	}
	if (is_cert_block(name, &aux)) {
		const unsigned char *p = data;

		*x = aux ? d2i_X509_AUX(NULL, &p, len)
			 : d2i_X509(NULL, &p, len);
		if (*x != NULL && p != data + len) {
			X509_free(*x);
			*x = NULL;
		}
		if (*x == NULL)
			rc = -EBADMSG;
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(data, (size_t)len);
	return rc;
}

/*
 * Parsing is the agent's main cost per issuance: OpenSSL 3 decodes every
 * certificate's public key through its provider decoders, ~1 ms each on a
 * small CPU, and one issuance looks at the same leaf, chain and anchor
 * several times (check, verify, schedule), while every issuance shares
 * the chain and anchor.  So the last few PEM texts parsed are remembered
 * with their certificates (reference counted; callers get their own
 * references).  Texts holding a private key are never kept.
 */
#define MEMO_SLOTS 4

static struct memo {
	char *pem;
	STACK_OF(X509) *certs;
	unsigned long long used;
} memo[MEMO_SLOTS];
static unsigned long long memo_clock;

static STACK_OF(X509) *
certs_dup(STACK_OF(X509) *certs)
{
	STACK_OF(X509) *copy = sk_X509_dup(certs);

	for (int i = 0; copy && i < sk_X509_num(copy); i++)
		X509_up_ref(sk_X509_value(copy, i));
	return copy;
}

static STACK_OF(X509) *
memo_get(const char *pem)
{
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		if (memo[i].pem && strcmp(memo[i].pem, pem) == 0) {
			memo[i].used = ++memo_clock;
			return certs_dup(memo[i].certs);
		}
	}
	return NULL;
}

static void
memo_put(const char *pem, STACK_OF(X509) *certs)
{
	struct memo *m = &memo[0];
	char *copy;

	if (strstr(pem, "PRIVATE KEY") != NULL)
		return;
	for (size_t i = 1; i < MEMO_SLOTS; i++)
		if (memo[i].used < m->used)
			m = &memo[i];
	copy = strdup(pem);
	STACK_OF(X509) *kept = copy ? certs_dup(certs) : NULL;
	if (kept == NULL) {
		free(copy);
		return;
	}
	free(m->pem);
	sk_X509_pop_free(m->certs, X509_free);
	m->pem = copy;
	m->certs = kept;
	m->used = ++memo_clock;
}


/* Every certificate of PEM, in order; the stack may be empty. */
int
x509_read_certs(const char *pem, const char *what, STACK_OF(X509) **out,
		char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	int rc;

	rc = pem_bio(pem, what, &bio, err, errlen);
	if (rc != 0)
		goto out;
	*out = memo_get(pem);
	if (*out != NULL)
		goto out;
	certs = sk_X509_new_null();
	if (certs == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", what);
		goto out;
	}
	for (int block = 1;; block++) {
		X509 *x;

		rc = read_block(bio, &x);
		if (rc == 0)
			break;
		if (rc < 0) {
			snprintf(err, errlen,
				 "%s: PEM block %d is malformed: %s", what,
				 block, x509_ossl_why());
			goto out;
		}
		if (x != NULL && sk_X509_push(certs, x) <= 0) {
			X509_free(x);
			rc = -ENOMEM;
			snprintf(err, errlen, "%s: out of memory", what);
			goto out;
		}
	}
	memo_put(pem, certs);
	*out = certs;
	certs = NULL;
out:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return rc;
}

/* The first certificate of PEM, and (if REST) the others. */
int
x509_read_first(const char *pem, const char *what, X509 **first,
		STACK_OF(X509) **rest, char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	int rc;

	rc = x509_read_certs(pem, what, &certs, err, errlen);
	if (rc != 0)
		return rc;
	if (sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		snprintf(err, errlen,
			 "%s: no CERTIFICATE block in the PEM text", what);
		return -ENOENT;
	}
	*first = sk_X509_shift(certs);
	if (rest != NULL)
		*rest = certs;
	else
		sk_X509_pop_free(certs, X509_free);
	return 0;
}

/* Refuse to decrypt: an encrypted key is an error, never a prompt. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The first private key of BIO.  OpenSSL 3's generic PEM key reader tries
 * every decoder it has, about 0.8 ms a key here; naming the structure and
 * the key type from the PEM label (and, for PKCS#8, the algorithm inside)
 * narrows it to the one that applies, about 0.2 ms.  Anything unusual
 * falls back to the generic reader.
 */
/*
 * Decoder contexts, made once per (structure, key type) and reused: in
 * OpenSSL 3.0 making one costs more than the decoding itself (about
 * 1.8 million instructions against 0.4 for a P-256 key).  A context
 * writes what it decodes through the pointer it was made with, so each
 * has its own slot.  Module state, like the memo above; used from the
 * loop's thread only, freed by x509_forget().
 */
#define DECODER_SLOTS 6

static struct decoder {
	const char *structure, *type;	/* static strings */
	OSSL_DECODER_CTX *ctx;
	EVP_PKEY *out;
} decoders[DECODER_SLOTS];

static EVP_PKEY *
decode_der_key(const char *structure, const char *type,
	       const unsigned char *der, size_t len)
{
	struct decoder *d = NULL;

	for (size_t i = 0; i < DECODER_SLOTS && d == NULL; i++)
		if (decoders[i].ctx && strcmp(decoders[i].structure, structure) == 0 &&
		    strcmp(decoders[i].type, type) == 0)
			d = &decoders[i];
	for (size_t i = 0; i < DECODER_SLOTS && d == NULL; i++) {
		if (decoders[i].ctx)
			continue;
		decoders[i].ctx = OSSL_DECODER_CTX_new_for_pkey(
			&decoders[i].out, "DER", structure, type,
			EVP_PKEY_KEYPAIR, NULL, NULL);
		if (decoders[i].ctx == NULL)
			return NULL;
		decoders[i].structure = structure;
		decoders[i].type = type;
		d = &decoders[i];
	}
	if (d == NULL)
		return NULL;	/* more kinds than slots: the generic reader */
	d->out = NULL;
	if (OSSL_DECODER_from_data(d->ctx, &der, &len) != 1) {
		EVP_PKEY_free(d->out);
		d->out = NULL;
	}
	EVP_PKEY *key = d->out;
	d->out = NULL;
	return key;
}

void
x509_forget(void)
{
	for (size_t i = 0; i < DECODER_SLOTS; i++) {
		OSSL_DECODER_CTX_free(decoders[i].ctx);
		decoders[i].ctx = NULL;
	}
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		free(memo[i].pem);
		sk_X509_pop_free(memo[i].certs, X509_free);
		memo[i].pem = NULL;
		memo[i].certs = NULL;
	}
}

static EVP_PKEY *
decode_key(BIO *bio)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *type = NULL, *structure = "PrivateKeyInfo";
	EVP_PKEY *key = NULL;
	long len = 0;

	/* The first block whose label names a private key. */
	ERR_set_mark();
	while (PEM_read_bio(bio, &name, &header, &der, &len) == 1) {
		size_t nlen = strlen(name);
		if (nlen >= 11 && strcmp(name + nlen - 11, "PRIVATE KEY") == 0)
			break;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	ERR_pop_to_mark();	/* the end of the text is not an error */
	if (name == NULL)
		goto fallback;
	if (strcmp(name, "EC PRIVATE KEY") == 0) {
		type = "EC";
		structure = "type-specific";
	} else if (strcmp(name, "RSA PRIVATE KEY") == 0) {
		type = "RSA";
		structure = "type-specific";
	} else if (strcmp(name, "PRIVATE KEY") == 0) {
		PKCS8_PRIV_KEY_INFO *p8;
		const ASN1_OBJECT *alg = NULL;

		p = der;
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
		if (p8 && PKCS8_pkey_get0(&alg, NULL, NULL, NULL, p8) == 1) {
			int nid = OBJ_obj2nid(alg);
			type = nid == NID_X9_62_id_ecPublicKey ? "EC"
			       : nid == NID_rsaEncryption     ? "RSA"
			       : nid == NID_ED25519	      ? "ED25519"
							      : NULL;
		}
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	if (type)
		key = decode_der_key(structure, type, der, (size_t)len);
fallback:
	if (key == NULL) {
		/* Not one of ours: the generic reader, from the top. */
		BIO_reset(bio);
		key = PEM_read_bio_PrivateKey_ex(bio, NULL, no_password, NULL,
						 NULL, NULL);
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (der) {
		OPENSSL_cleanse(der, (size_t)len);
		OPENSSL_free(der);
	}
	return key;
}

int
x509_read_key(const char *pem, EVP_PKEY **out, char *err, size_t errlen)
{
	BIO *bio = NULL;
	int rc;

	rc = pem_bio(pem, "key", &bio, err, errlen);
	if (rc != 0)
		return rc;
	/* Only the PEM labels are looked at here, never the key bytes. */
	if (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
	    strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL) {
		snprintf(err, errlen,
			 "key: the key is encrypted; certagent needs it "
			 "unencrypted");
		BIO_free(bio);
		return -EBADMSG;
	}
	*out = decode_key(bio);
	if (*out == NULL) {
		rc = -EBADMSG;
		snprintf(err, errlen,
			 "key: no unencrypted private key in the PEM text "
			 "(PKCS#8, RSA or EC): %s",
			 x509_ossl_why());
	}
	BIO_free(bio);
	return rc;
}

int
x509_write_key(EVP_PKEY *key, char **out)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc;

	if (bio == NULL)
		return -ENOMEM;
	if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL,
					  NULL) != 1)
		rc = -ENOMEM;
	else
		rc = x509_bio_string(bio, out);
	BIO_free(bio);
	return rc;
}

/* Lower-case colon-separated hex of the serial's magnitude, as Vault. */
static int
serial_text(const ASN1_INTEGER *serial, char *buf, size_t len)
{
	unsigned char *bin = NULL;
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	int n, rc = 0;
	size_t off = 0;

	if (bn == NULL)
		return -EBADMSG;
	n = BN_num_bytes(bn);
	if (n == 0) {
		snprintf(buf, len, "00");
		goto out;
	}
	if ((size_t)n * 3 > len) {
		rc = -ERANGE;
		goto out;
	}
	bin = malloc((size_t)n);
	if (bin == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	BN_bn2bin(bn, bin);
	for (int i = 0; i < n; i++) {
		snprintf(buf + off, len - off, i == 0 ? "%02x" : ":%02x",
			 bin[i]);
		off += i == 0 ? 2 : 3;
	}
out:
	free(bin);
	BN_free(bn);
	return rc;
}

static int
time_unix(const ASN1_TIME *t, long long *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EBADMSG;
	*out = (long long)timegm(&tm);
	return 0;
}

static void
time_text(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", t);
}

/*
 * Entry IDX of NAME (a CN) as UTF-8 into BUF.  A string with an embedded
 * NUL would compare as a shorter name than it is, so it is refused.
 */
static int
name_entry_utf8(const X509_NAME *name, int idx, char *buf, size_t len)
{
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, idx);
	unsigned char *utf8 = NULL;
	int n;

	if (e == NULL)
		return -EBADMSG;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return -EBADMSG;
	if (memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return -EBADMSG;
	}
	if ((size_t)n >= len) {
		OPENSSL_free(utf8);
		return -ERANGE;
	}
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

/* The subject in RFC 2253 form (UTF-8 kept), for messages. */
static void
subject_text(const X509 *x, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;

	snprintf(buf, len, "?");
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(bio, &data);
		if (n > 0 && data != NULL)
			snprintf(buf, len, "%.*s", (int)n, data);
		else if (n == 0)
			snprintf(buf, len, "(empty subject)");
	}
	BIO_free(bio);
}

/* "subject \"CN=...\", serial 0a:..." for messages about X. */
static void
describe(const X509 *x, char *buf, size_t len)
{
	char subject[512], serial[128];

	subject_text(x, subject, sizeof(subject));
	if (serial_text(X509_get0_serialNumber(x), serial, sizeof(serial)) != 0)
		snprintf(serial, sizeof(serial), "?");
	snprintf(buf, len, "subject \"%s\", serial %s", subject, serial);
}

static void
key_kind(const EVP_PKEY *key, char *type, size_t typelen, unsigned *bits)
{
	static const struct {
		const char *ossl, *ours;
	} kinds[] = {
		{"RSA", "rsa"},		{"RSA-PSS", "rsa-pss"}, {"EC", "ec"},
		{"ED25519", "ed25519"}, {"ED448", "ed448"},
	};

	snprintf(type, typelen, "unknown");
	*bits = 0;
	if (key == NULL)
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (EVP_PKEY_is_a(key, kinds[i].ossl)) {
			snprintf(type, typelen, "%s", kinds[i].ours);
			break;
		}
	}
	if (EVP_PKEY_get_bits(key) > 0)
		*bits = (unsigned)EVP_PKEY_get_bits(key);
}

static int
fill_info(X509 *x, struct x509_info *info, char *err, size_t errlen)
{
	const X509_NAME *subject = X509_get_subject_name(x);
	int idx, rc;

	memset(info, 0, sizeof(*info));
	rc = serial_text(X509_get0_serialNumber(x), info->serial,
			 sizeof(info->serial));
	if (rc != 0) {
		snprintf(err, errlen, "certificate: serial number %s",
			 rc == -ERANGE ? "too long" : "unreadable");
		return rc;
	}
	if (time_unix(X509_get0_notBefore(x), &info->not_before) != 0 ||
	    time_unix(X509_get0_notAfter(x), &info->not_after) != 0) {
		snprintf(err, errlen, "certificate: unreadable validity time");
		return -EBADMSG;
	}
	idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (idx >= 0) {
		rc = name_entry_utf8(subject, idx, info->subject_cn,
				     sizeof(info->subject_cn));
		if (rc != 0) {
			snprintf(err, errlen, "certificate: subject CN %s",
				 rc == -ERANGE ? "too long" : "unreadable");
			return rc;
		}
	}
	key_kind(X509_get0_pubkey(x), info->key_type, sizeof(info->key_type),
		 &info->key_bits);
	info->is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	return 0;
}

int
x509_cert_info(const char *pem, struct x509_info *out, char *err, size_t errlen)
{
	X509 *x = NULL;
	struct x509_info info;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(pem, "certificate", &x, NULL, err, errlen);
	if (rc != 0)
		goto out;
	rc = fill_info(x, &info, err, errlen);
	if (rc == 0)
		*out = info;
out:
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

static void
describe_cert(X509 *x, struct x509_desc *d)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 0;
	BIO *b = BIO_new(BIO_s_mem());

	memset(d, 0, sizeof(*d));
	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
				    XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(b, d->subject, (int)sizeof(d->subject) - 1);
		d->subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char v[256] = "";
		const char *kind = NULL;

		if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
			const ASN1_IA5STRING *s = g->d.ia5;
			kind = g->type == GEN_DNS ? "DNS" : g->type == GEN_EMAIL ? "email"
										 : "URI";
			snprintf(v, sizeof(v), "%.*s", s->length, (const char *)s->data);
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *ip = g->d.ip;
			kind = "IP";
			if (ip->length != 4 && ip->length != 16)
				continue;
			if (inet_ntop(ip->length == 4 ? AF_INET : AF_INET6, ip->data, v,
				      sizeof(v)) == NULL)
				continue;
		}
		if (kind == NULL || len >= sizeof(d->sans))
			continue;
		int n = snprintf(d->sans + len, sizeof(d->sans) - len, "%s%s:%s",
				 len ? ", " : "", kind, v);
		len = n < 0 ? len : len + (size_t)n;
	}
	GENERAL_NAMES_free(sans);
	/* "aa:bb:..": 32 bytes take 95 characters and the NUL. */
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
		size_t w = 0;
		for (unsigned i = 0; i < mdlen && i < 32; i++)
			w += (size_t)snprintf(d->sha256 + w, sizeof(d->sha256) - w,
					      i ? ":%02x" : "%02x", md[i]);
	}
}

int
x509_cert_describe(const char *pem, struct x509_info *info,
		   struct x509_desc *desc, char *err, size_t errlen)
{
	X509 *x = NULL;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(pem, "certificate", &x, NULL, err, errlen);
	if (rc == 0)
		rc = fill_info(x, info, err, errlen);
	if (rc == 0)
		describe_cert(x, desc);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

void
x509_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return;
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
x509_count_certs(const char *pem)
{
	STACK_OF(X509) *certs = NULL;
	char err[256];
	int rc;

	ERR_set_mark();
	rc = x509_read_certs(pem, "bundle", &certs, err, sizeof(err));
	if (rc == 0)
		rc = sk_X509_num(certs);
	sk_X509_pop_free(certs, X509_free);
	ERR_pop_to_mark();
	return rc;
}

/* EdDSA signs the message itself: no separate digest. */
int
x509_is_ed(const EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
}

/*
 * Does a signature made with KEY verify under X's public key?  This
 * proves the private half: comparing public halves alone would pass a key
 * file whose private part was damaged.  0 yes, -EINVAL no, -ENOTSUP when
 * the key cannot sign this way (the caller then relies on the comparison).
 */
static int
probe_signature(X509 *x, EVP_PKEY *key)
{
	static const unsigned char probe[] = "certagent key-match probe";
	EVP_MD_CTX *sctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
	const char *md = x509_is_ed(key) ? NULL : "SHA256";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = -ENOMEM;

	if (sctx == NULL || vctx == NULL)
		goto out;
	rc = -ENOTSUP;
	if (!EVP_PKEY_can_sign(key) ||
	    EVP_DigestSignInit_ex(sctx, NULL, md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestVerifyInit_ex(vctx, NULL, md, NULL, NULL,
				    X509_get0_pubkey(x), NULL) != 1)
		goto out;
	rc = -EINVAL;
	if (EVP_DigestSign(sctx, NULL, &siglen, probe, sizeof(probe)) != 1)
		goto out;
	sig = OPENSSL_malloc(siglen);
	if (sig == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(sctx, sig, &siglen, probe, sizeof(probe)) == 1 &&
	    EVP_DigestVerify(vctx, sig, siglen, probe, sizeof(probe)) == 1)
		rc = 0;
out:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(sctx);
	EVP_MD_CTX_free(vctx);
	return rc;
}

/*
 * Is the private half of KEY the one its public half says?  (KEY's public
 * half is compared with the certificate's separately.)  A pairwise check
 * recomputes the public key from the private one (EC, Ed25519) or checks
 * the RSA factors: a damaged private part fails it, and it costs a
 * fraction of the sign-and-verify probe it replaced.  0 yes, -EINVAL no,
 * -ENOTSUP when the key type offers no check.
 */
static int
pairwise_check(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok;

	if (ctx == NULL)
		return -ENOMEM;
	ok = EVP_PKEY_pairwise_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? 0 : ok == -2 ? -ENOTSUP : -EINVAL;
}

/*
 * 0 if KEY belongs to X, else -EINVAL (or another code) naming X.  With
 * WHOLE the private half is proven too (a pairwise check or a signature),
 * else the public halves must be equal.
 */
int
x509_key_belongs(X509 *x, EVP_PKEY *key, int whole, char *err, size_t errlen)
{
	EVP_PKEY *pub = X509_get0_pubkey(x);
	char who[768];
	int eq, rc;

	describe(x, who, sizeof(who));
	if (pub == NULL) {
		snprintf(err, errlen,
			 "certificate (%s): unreadable public key: %s", who,
			 x509_ossl_why());
		return -EBADMSG;
	}
	eq = EVP_PKEY_eq(pub, key);
	if (eq != 1) {
		snprintf(err, errlen,
			 "the key does not belong to the certificate (%s)%s",
			 who, eq == -1 ? ": the key is of another type" : "");
		return -EINVAL;
	}
	if (!whole)
		return 0;
	/* RSA's pairwise check tests the factors for primality (tens of
	 * ms); a signature made and verified costs well under one. */
	rc = EVP_PKEY_is_a(key, "RSA") ? probe_signature(x, key) : pairwise_check(key);
	if (rc == -ENOTSUP)
		return 0;
	if (rc == -ENOMEM)
		snprintf(err, errlen, "key check: out of memory");
	else if (rc != 0)
		snprintf(err, errlen,
			 "the key's public half matches the certificate (%s) "
			 "but its private half does not: the key is damaged",
			 who);
	return rc;
}

static int
key_check(const char *cert_pem, const char *key_pem, int whole, char *err,
	  size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(cert_pem, "certificate", &x, NULL, err, errlen);
	if (rc != 0)
		goto out;
	rc = x509_read_key(key_pem, &key, err, errlen);
	if (rc != 0)
		goto out;
	rc = x509_key_belongs(x, key, whole, err, errlen);
out:
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

int
x509_key_matches(const char *cert_pem, const char *key_pem, char *err,
		 size_t errlen)
{
	return key_check(cert_pem, key_pem, 1, err, errlen);
}

int
x509_verify_chain(const char *leaf_pem, const char *chain_pem,
		  const char *anchor_pem, long long at, char *err,
		  size_t errlen)
{
	STACK_OF(X509) *untrusted = NULL, *chain = NULL, *anchors = NULL;
	X509 *leaf = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(leaf_pem, "certificate", &leaf, &untrusted, err,
			errlen);
	if (rc != 0)
		goto out;
	if (chain_pem != NULL) {
		rc = x509_read_certs(chain_pem, "chain", &chain, err, errlen);
		if (rc != 0)
			goto out;
		while (sk_X509_num(chain) > 0) {
			X509 *c = sk_X509_shift(chain);

			if (sk_X509_push(untrusted, c) <= 0) {
				X509_free(c);
				rc = -ENOMEM;
				snprintf(err, errlen, "chain: out of memory");
				goto out;
			}
		}
	}
	rc = x509_read_certs(anchor_pem, "trust anchor", &anchors, err, errlen);
	if (rc != 0)
		goto out;
	if (sk_X509_num(anchors) == 0) {
		rc = -ENOENT;
		snprintf(err, errlen, "trust anchor: no CERTIFICATE block");
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "verify: out of memory");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		X509 *anchor = sk_X509_value(anchors, i);

		if (X509_STORE_add_cert(store, anchor) != 1) {
			rc = -ENOMEM;
			snprintf(err, errlen, "trust anchor: %s", x509_ossl_why());
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		rc = -ENOMEM;
		snprintf(err, errlen, "verify: %s", x509_ossl_why());
		goto out;
	}
	/*
	 * PARTIAL_CHAIN: any certificate in the store is a trust anchor, so
	 * an operator can pin the issuing intermediate instead of the root.
	 */
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	if (at != 0)
		X509_VERIFY_PARAM_set_time(param, (time_t)at);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
		char subject[512] = "?";

		if (cur != NULL)
			subject_text(cur, subject, sizeof(subject));
		rc = -EINVAL;
		snprintf(err, errlen,
			 "certificate chain does not verify: %s (at depth %d, "
			 "subject \"%s\")",
			 X509_verify_cert_error_string(e),
			 X509_STORE_CTX_get_error_depth(ctx), subject);
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(anchors, X509_free);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	ERR_pop_to_mark();
	return rc;
}

/* ASCII case-insensitive equality of N bytes, whatever the locale. */
static int
ascii_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i];
		unsigned char cb = (unsigned char)b[i];

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return 1;
}

/*
 * Does the DNS SAN SAN cover NAME?  Exactly, or as "*.x.y" standing for
 * one whole label: "a.x.y" matches, "x.y" and "a.b.x.y" do not, and
 * "*.y" (a wildcard over a bare suffix) matches nothing.
 */
static int
dns_match(const ASN1_IA5STRING *san, const char *name)
{
	const char *s = (const char *)ASN1_STRING_get0_data(san);
	size_t slen = (size_t)ASN1_STRING_length(san), nlen = strlen(name);
	const char *dot;

	if (s == NULL || memchr(s, '\0', slen) != NULL)
		return 0;
	if (slen == nlen && ascii_eq(s, name, nlen))
		return 1;
	if (slen < 4 || s[0] != '*' || s[1] != '.' ||
	    memchr(s + 2, '.', slen - 2) == NULL)
		return 0;
	dot = strchr(name, '.');
	if (dot == NULL || dot == name ||
	    memchr(name, '*', (size_t)(dot - name)) != NULL)
		return 0;
	return strlen(dot) == slen - 1 && ascii_eq(dot, s + 1, slen - 1);
}

static int
has_dns_san(const GENERAL_NAMES *sans, const char *name)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		if (gn->type == GEN_DNS && dns_match(gn->d.dNSName, name))
			return 1;
	}
	return 0;
}

static int
has_subject_cn(const X509 *x, const char *cn)
{
	const X509_NAME *subject = X509_get_subject_name(x);
	char buf[256];
	int idx = -1;

	for (;;) {
		idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx);
		if (idx < 0)
			return 0;
		if (name_entry_utf8(subject, idx, buf, sizeof(buf)) == 0 &&
		    strlen(buf) == strlen(cn) && ascii_eq(buf, cn, strlen(cn)))
			return 1;
	}
}

static int
check_names(X509 *x, const struct x509_names *names, char *err, size_t errlen)
{
	GENERAL_NAMES *sans = NULL;
	char who[768];
	int rc = 0;

	describe(x, who, sizeof(who));
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names->cn != NULL && names->cn[0] != '\0' &&
	    !has_subject_cn(x, names->cn) && !has_dns_san(sans, names->cn)) {
		rc = -EINVAL;
		snprintf(err, errlen,
			 "certificate (%s) has neither CN nor DNS SAN \"%s\"",
			 who, names->cn);
		goto out;
	}
	for (size_t i = 0; i < names->ndns; i++) {
		const char *dns = names->dns[i];

		if (dns == NULL || dns[0] == '\0') {
			rc = -EINVAL;
			snprintf(err, errlen, "DNS name %zu is empty", i + 1);
			goto out;
		}
		if (!has_dns_san(sans, dns)) {
			rc = -EINVAL;
			snprintf(err, errlen,
				 "certificate (%s) has no DNS SAN \"%s\"", who,
				 dns);
			goto out;
		}
	}
	for (size_t i = 0; i < names->nips; i++) {
		const char *ip = names->ips[i];
		int m = ip != NULL ? X509_check_ip_asc(x, ip, 0) : -2;

		if (m == -2) {
			rc = -EINVAL;
			snprintf(err, errlen, "\"%s\" is not an IP address",
				 ip != NULL ? ip : "(null)");
			goto out;
		}
		if (m != 1) {
			rc = -EINVAL;
			snprintf(err, errlen,
				 "certificate (%s) has no IP SAN %s", who, ip);
			goto out;
		}
	}
out:
	GENERAL_NAMES_free(sans);
	return rc;
}

int
x509_check_names(const char *cert_pem, const struct x509_names *names,
		 char *err, size_t errlen)
{
	X509 *x = NULL;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(cert_pem, "certificate", &x, NULL, err, errlen);
	if (rc == 0 && names != NULL)
		rc = check_names(x, names, err, errlen);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

static int
check_bundle(const char *cert_pem, const char *key_pem, const char *chain_pem,
	     const char *anchor_pem, const struct x509_names *names,
	     long long now, int whole, char *err, size_t errlen)
{
	struct x509_info info;
	char t1[32], t2[32];
	long long at;
	int rc;

	if (now == 0)
		now = (long long)time(NULL);
	if (key_pem != NULL) {
		rc = key_check(cert_pem, key_pem, whole, err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = x509_cert_info(cert_pem, &info, err, errlen);
	if (rc != 0)
		return rc;
	time_text(info.not_before, t1, sizeof(t1));
	time_text(info.not_after, t2, sizeof(t2));
	if (info.not_after <= info.not_before) {
		snprintf(err, errlen,
			 "certificate (CN \"%s\", serial %s): not after %s is "
			 "not later than not before %s",
			 info.subject_cn, info.serial, t2, t1);
		return -EINVAL;
	}
	if (info.not_after <= now) {
		snprintf(err, errlen,
			 "certificate (CN \"%s\", serial %s) expired at %s",
			 info.subject_cn, info.serial, t2);
		return -EINVAL;
	}
	if (info.not_before > now + X509_SKEW_SECONDS) {
		snprintf(err, errlen,
			 "certificate (CN \"%s\", serial %s) is not valid "
			 "before %s, more than %d s ahead of this host's clock",
			 info.subject_cn, info.serial, t1, X509_SKEW_SECONDS);
		return -EINVAL;
	}
	if (anchor_pem != NULL) {
		/* Within the skew, judge the chain as at the cert's start. */
		at = info.not_before > now ? info.not_before : now;
		rc = x509_verify_chain(cert_pem, chain_pem, anchor_pem, at, err,
				       errlen);
		if (rc != 0)
			return rc;
	}
	if (names != NULL)
		return x509_check_names(cert_pem, names, err, errlen);
	return 0;
}

int
x509_check_bundle(const char *cert_pem, const char *key_pem,
		  const char *chain_pem, const char *anchor_pem,
		  const struct x509_names *names, long long now, char *err,
		  size_t errlen)
{
	return check_bundle(cert_pem, key_pem, chain_pem, anchor_pem, names, now,
			    1, err, errlen);
}

int
x509_check_kept(const char *cert_pem, const char *key_pem,
		const char *chain_pem, const char *anchor_pem,
		const struct x509_names *names, char *err, size_t errlen)
{
	return check_bundle(cert_pem, key_pem, chain_pem, anchor_pem, names, 0, 0,
			    err, errlen);
}

int
x509_split_first(const char *pem, char **first, char **rest, char *err,
		 size_t errlen)
{
	STACK_OF(X509) *others = NULL;
	X509 *x = NULL;
	BIO *b1 = NULL, *b2 = NULL;
	char *s1 = NULL, *s2 = NULL;
	int rc;

	ERR_set_mark();
	rc = x509_read_first(pem, "bundle", &x, &others, err, errlen);
	if (rc != 0)
		goto out;
	rc = -ENOMEM;
	b1 = BIO_new(BIO_s_mem());
	b2 = BIO_new(BIO_s_mem());
	if (b1 == NULL || b2 == NULL || PEM_write_bio_X509(b1, x) != 1)
		goto nomem;
	for (int i = 0; i < sk_X509_num(others); i++) {
		if (PEM_write_bio_X509(b2, sk_X509_value(others, i)) != 1)
			goto nomem;
	}
	if (x509_bio_string(b1, &s1) != 0 || x509_bio_string(b2, &s2) != 0)
		goto nomem;
	*first = s1;
	*rest = s2;
	s1 = s2 = NULL;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "bundle: out of memory");
out:
	free(s1);
	free(s2);
	BIO_free(b1);
	BIO_free(b2);
	sk_X509_pop_free(others, X509_free);
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

int
x509_issued_by(const char *issuer_pem, const char *cert_pem)
{
	X509 *issuer = NULL, *cert = NULL;
	char err[256];
	int yes = 0;

	ERR_set_mark();
	if (x509_read_first(issuer_pem, "issuer", &issuer, NULL, err, sizeof(err)) == 0 &&
	    x509_read_first(cert_pem, "certificate", &cert, NULL, err, sizeof(err)) == 0)
		yes = X509_check_issued(issuer, cert) == X509_V_OK;
	X509_free(issuer);
	X509_free(cert);
	ERR_pop_to_mark();
	return yes;
}

/* ---- bundles ---- */

void
x509_ca_free(struct x509_ca *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].pem);
	free(v);
}

/* One certificate of a trust bundle, described into CA. */
static int
ca_fill(X509 *x, struct x509_ca *ca, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIO *b = NULL;
	int rc = 0;

	if (time_unix(X509_get0_notBefore(x), &ca->not_before) != 0 ||
	    time_unix(X509_get0_notAfter(x), &ca->not_after) != 0) {
		snprintf(err, errlen, "CA certificate: unreadable validity time");
		return -EBADMSG;
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
		snprintf(err, errlen, "CA certificate: cannot hash it: %s",
			 x509_ossl_why());
		return -ENOMEM;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(ca->sha256 + 2 * i, sizeof(ca->sha256) - 2 * i, "%02x", md[i]);
	/* A root: issued by itself (names and key identifiers) and signed
	 * with its own key, so it can only be a trust anchor. */
	ca->root = (X509_get_extension_flags(x) & EXFLAG_SS) != 0 &&
		   X509_verify(x, X509_get0_pubkey(x)) == 1;
	subject_text(x, ca->subject, sizeof(ca->subject));
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_X509(b, x) != 1 ||
	    x509_bio_string(b, &ca->pem) != 0) {
		snprintf(err, errlen, "CA certificate: out of memory");
		rc = -ENOMEM;
	}
	BIO_free(b);
	return rc;
}

int
x509_ca_split(const char *pem, struct x509_ca **out, size_t *n, char *err,
	      size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	struct x509_ca *v = NULL;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	ERR_set_mark();
	rc = x509_read_certs(pem, "CA bundle", &certs, err, errlen);
	if (rc != 0)
		goto out;
	cnt = (size_t)sk_X509_num(certs);
	if (cnt == 0)
		goto out;
	v = calloc(cnt, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "CA bundle: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cnt && rc == 0; i++)
		rc = ca_fill(sk_X509_value(certs, (int)i), &v[i], err, errlen);
	if (rc == 0) {
		*out = v;
		*n = cnt;
		v = NULL;
	}
out:
	x509_ca_free(v, cnt);
	sk_X509_pop_free(certs, X509_free);
	ERR_pop_to_mark();
	return rc;
}

static void
crl_fill(X509_CRL *crl, struct x509_crl_info *info)
{
	ASN1_INTEGER *num, *base;
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;

	snprintf(info->issuer, sizeof(info->issuer), "?");
	if (b && X509_NAME_print_ex(b, X509_CRL_get_issuer(crl), 0,
				    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0 && data != NULL)
			snprintf(info->issuer, sizeof(info->issuer), "%.*s", (int)n, data);
	}
	BIO_free(b);
	info->number = -1;
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num != NULL)
		info->number = (long long)ASN1_INTEGER_get(num);
	ASN1_INTEGER_free(num);
	base = X509_CRL_get_ext_d2i(crl, NID_delta_crl, NULL, NULL);
	info->delta = base != NULL;
	ASN1_INTEGER_free(base);
	info->n_revoked = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
}

int
x509_crl_check(const char *crl_pem, const char *ca_pem, long long now,
	       struct x509_crl_info *out, char *err, size_t errlen)
{
	struct x509_crl_info info;
	STACK_OF(X509) *cas = NULL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	int rc, named = 0, verified = 0;
	char when[32];

	memset(&info, 0, sizeof(info));
	if (now == 0)
		now = (long long)time(NULL);
	ERR_set_mark();
	rc = pem_bio(crl_pem, "CRL", &bio, err, errlen);
	if (rc != 0)
		goto out;
	crl = PEM_read_bio_X509_CRL(bio, NULL, no_password, NULL);
	if (crl == NULL) {
		unsigned long e = ERR_peek_last_error();
		int none = ERR_GET_LIB(e) == ERR_LIB_PEM &&
			   ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
		snprintf(err, errlen, "CRL: %s", none ? "no X509 CRL block in the text"
						      : x509_ossl_why());
		rc = none ? -ENOENT : -EBADMSG;
		goto out;
	}
	crl_fill(crl, &info);
	if (time_unix(X509_CRL_get0_lastUpdate(crl), &info.this_update) != 0 ||
	    (X509_CRL_get0_nextUpdate(crl) != NULL &&
	     time_unix(X509_CRL_get0_nextUpdate(crl), &info.next_update) != 0)) {
		snprintf(err, errlen, "CRL of \"%s\": unreadable update time", info.issuer);
		rc = -EBADMSG;
		goto out;
	}
	rc = x509_read_certs(ca_pem, "CA", &cas, err, errlen);
	if (rc != 0)
		goto out;
	for (int i = 0; i < sk_X509_num(cas) && !verified; i++) {
		X509 *x = sk_X509_value(cas, i);
		if (X509_NAME_cmp(X509_get_subject_name(x), X509_CRL_get_issuer(crl)) != 0)
			continue;
		named = 1;
		verified = X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1;
	}
	rc = -EINVAL;
	if (!verified) {
		snprintf(err, errlen, "CRL of \"%s\": %s", info.issuer,
			 named ? "its signature does not verify with the CA's key"
			       : "issued by no certificate of the CA");
		goto out;
	}
	if (info.this_update > now + X509_SKEW_SECONDS) {
		time_text(info.this_update, when, sizeof(when));
		snprintf(err, errlen, "CRL of \"%s\": issued in the future (%s)",
			 info.issuer, when);
		goto out;
	}
	if (info.next_update && info.next_update <= now) {
		time_text(info.next_update, when, sizeof(when));
		snprintf(err, errlen, "CRL of \"%s\": stale since its nextUpdate %s",
			 info.issuer, when);
		goto out;
	}
	rc = 0;
	*out = info;
out:
	sk_X509_pop_free(cas, X509_free);
	X509_CRL_free(crl);
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}
