/*
 * funcs_ct.c: consul-template's own functions that the first table left
 * out: trim, trimPrefix, trimSuffix, indent, base64URLEncode,
 * base64URLDecode, envOrDefault, mustEnv, parseBool, parseInt,
 * parseFloat, parseUint, md5sum, hmacSHA256Hex, toTitle,
 * toUnescapedJSON, toUnescapedJSONPretty, splitToMap,
 * in, containsAll, containsAny, containsNone, containsNotAll, loop,
 * mergeMap, mergeMapWithOverride, explodeMap, and the math functions
 * (add subtract multiply divide modulo minimum maximum).  The regular
 * expressions are in funcs_regex.c, YAML in funcs_yaml.c, TOML in
 * funcs_toml.c, Sprig's
 * functions in funcs_sprig.c.
 *
 * DESIGN / invariants:
 *  - Semantics are consul-template 0.39's (template/funcs.go), argument
 *    order included: the piped value is the last argument, so
 *    {{ 10 | subtract 3 }} is 7.
 *  - This engine has one number type.  Where Go tells int from float64
 *    (the math functions), an integral number is an int: 7 / 2 is 3,
 *    7.5 / 2 is 3.75.  A float literal with no fraction (2.0) counts as
 *    an int here; Go would compute in floating point.
 *  - Maps and lists made here are new cJSON trees owned by the
 *    execution; Vault's data is never changed (Go's mergeMap changes its
 *    first argument in place; here it returns a merged copy).
 *  - Errors never quote an argument's value: it may be a secret.
 *  - The lookup of these names is a second table after funcs.c's, so the
 *    main table stays short; tmpl_find_func() falls through to it.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"

/* The most elements loop builds: a template is not a compute job. */
#define LOOP_MAX 1000000

/* ------------------------------------------------------------------ */
/* Helpers shared with funcs_sprig.c, funcs_regex.c, funcs_yaml.c      */

int
tmpl_arg_int(struct exec *x, const struct call *c, const struct val *a,
	     size_t i, long long *v)
{
	if (a[i].k != V_NUM || !is_int(a[i].n))
		return tmpl_cerr(x, c, "argument %zu must be an integer, not %s",
				 i + 1, a[i].k == V_NUM ? "float64"
							: tmpl_type_name(a[i]));
	if (a[i].n < -9223372036854775808.0 || a[i].n >= 9223372036854775808.0)
		return tmpl_cerr(x, c, "argument %zu out of range", i + 1);
	*v = (long long)a[i].n;
	return 0;
}

cJSON *
tmpl_val_json(struct val v)
{
	switch (v.k) {
	case V_BOOL:
		return cJSON_CreateBool(v.b);
	case V_NUM:
		return cJSON_CreateNumber(v.n);
	case V_STR:
		return cJSON_CreateString(v.s);
	case V_MAP:
		return v.j ? cJSON_Duplicate(v.j, 1) : cJSON_CreateObject();
	case V_LIST:
		return v.j ? cJSON_Duplicate(v.j, 1) : cJSON_CreateArray();
	case V_STRUCT:
		return cJSON_Duplicate(v.j, 1);
	default:
		return cJSON_CreateNull();
	}
}

int
tmpl_ret_json(struct exec *x, cJSON *j, struct val *out)
{
	int rc = tmpl_keep_json(x, j);

	if (rc == 0)
		*out = tmpl_to_val(j);
	if (rc == 0 && out->k == V_MAP && j->child == NULL)
		out->j = j;	/* an empty map, not a nil one */
	return rc;
}

int
tmpl_add_val(struct exec *x, cJSON *to, const char *key, struct val v)
{
	cJSON *item = tmpl_val_json(v);

	if (item == NULL)
		return tmpl_xoom(x);
	if (key == NULL) {
		if (!cJSON_AddItemToArray(to, item))
			goto oom;
		return 0;
	}
	if (cJSON_GetObjectItemCaseSensitive(to, key) != NULL) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(to, key, item))
			goto oom;
		return 0;
	}
	if (!cJSON_AddItemToObject(to, key, item))
		goto oom;
	return 0;
oom:
	cJSON_Delete(item);
	return tmpl_xoom(x);
}

/* consul-template's in(): an element of a list of the same kind, or a
 * substring of a string; nothing else contains anything. */
int
tmpl_val_in(struct val hay, struct val needle)
{
	const cJSON *it;

	if (hay.k == V_LIST) {
		for (it = hay.j ? hay.j->child : NULL; it != NULL; it = it->next) {
			struct val v = tmpl_to_val(it);

			if (v.k == V_NUM && needle.k == V_NUM && v.n == needle.n)
				return 1;
			if (v.k == V_STR && needle.k == V_STR && v.len == needle.len &&
			    memcmp(v.s, needle.s, v.len) == 0)
				return 1;
		}
		return 0;
	}
	if (hay.k == V_STR && needle.k == V_STR)
		return needle.len == 0 ||
		       memmem(hay.s, hay.len, needle.s, needle.len) != NULL;
	return 0;
}

/* S (LEN bytes) as a NUL-terminated string owned by the execution. */
static int
own_str(struct exec *x, const char *s, size_t len, struct val *out)
{
	char *d;

	if (s[len] == '\0') {
		*out = vstr(s, len);
		return 0;
	}
	d = malloc(len + 1);
	if (d == NULL)
		return tmpl_xoom(x);
	memcpy(d, s, len);
	d[len] = '\0';
	*out = vstr(d, len);
	return tmpl_keep(x, d);
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */

static int
rune_in(uint32_t r, const char *set, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t q;

		i += tmpl_utf8_dec(set + i, n - i, &q);
		if (q == r)
			return 1;
	}
	return 0;
}

/* The start of the rune that ends at S + N (N > 0). */
static size_t
last_rune(const char *s, size_t n, uint32_t *r)
{
	size_t k = n - 1, len;

	while (k > 0 && n - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	len = tmpl_utf8_dec(s + k, n - k, r);
	if (k + len != n) {	/* not one whole rune: the last byte alone */
		k = n - 1;
		*r = 0xFFFD;
	}
	return k;
}

/* strings.Trim(S, CUTSET): the runes of CUTSET off both ends. */
void
tmpl_trim_cutset(const char **s, size_t *len, const char *set, size_t setlen)
{
	uint32_t r;
	size_t k;

	if (setlen == 0)
		return;
	while (*len > 0) {
		k = tmpl_utf8_dec(*s, *len, &r);
		if (!rune_in(r, set, setlen))
			break;
		*s += k;
		*len -= k;
	}
	while (*len > 0) {
		k = last_rune(*s, *len, &r);
		if (!rune_in(r, set, setlen))
			break;
		*len = k;
	}
}

/* trim CUTSET S, trimPrefix PREFIX S, trimSuffix SUFFIX S (and Sprig's
 * trimAll, trimPrefix, trimSuffix: the same) */
int
tmpl_fn_trim(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	const char *set, *s, *name = c->fn->name;
	size_t setlen, len, nl = strlen(name);
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &set, &setlen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (nl > 6 && strcmp(name + nl - 6, "Prefix") == 0) {
		if (len >= setlen && memcmp(s, set, setlen) == 0) {
			s += setlen;
			len -= setlen;
		}
	} else if (nl > 6 && strcmp(name + nl - 6, "Suffix") == 0) {
		if (len >= setlen && memcmp(s + len - setlen, set, setlen) == 0)
			len -= setlen;
	} else {
		tmpl_trim_cutset(&s, &len, set, setlen);
	}
	return own_str(x, s, len, out);
}

/* indent N S: N spaces before every line that is not empty. */
static int
fn_indent(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	long long sp;
	size_t len, i;
	int bol = 1, rc;

	(void)n;
	rc = tmpl_arg_int(x, c, a, 0, &sp);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (sp < 0)
		return tmpl_cerr(x, c, "indent value must be a positive integer");
	if ((unsigned long long)sp > x->max)
		return tmpl_cerr(x, c, "result larger than %zu bytes", x->max);
	for (i = 0; i < len && b.err == 0; i++) {
		if (bol && s[i] != '\n')
			buf_fill(&b, ' ', (size_t)sp);
		buf_putc(&b, s[i]);
		bol = s[i] == '\n';
	}
	return tmpl_fn_result(x, c, &b, out);
}

/*
 * Case mapping beyond ASCII for the alphabets templates meet: Latin-1,
 * Latin Extended-A (pairs), Greek and Cyrillic.  Anything else is left
 * as it is.
 */
uint32_t
tmpl_rune_upper(uint32_t r)
{
	if (r >= 'a' && r <= 'z')
		return r - 32;
	if ((r >= 0xE0 && r <= 0xFE && r != 0xF7))
		return r - 32;
	if (r == 0xFF)
		return 0x178;
	if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 &&
	    r != 0x149 && r != 0x17F)
		return ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E))
			       ? (r % 2 == 0 ? r - 1 : r) : (r % 2 == 1 ? r - 1 : r);
	if (r >= 0x3B1 && r <= 0x3C9 && r != 0x3C2)
		return r - 32;
	if (r == 0x3C2)
		return 0x3A3;
	if (r >= 0x430 && r <= 0x44F)
		return r - 32;
	if (r >= 0x450 && r <= 0x45F)
		return r - 80;
	return r;
}

uint32_t
tmpl_rune_lower(uint32_t r)
{
	if (r >= 'A' && r <= 'Z')
		return r + 32;
	if (r >= 0xC0 && r <= 0xDE && r != 0xD7)
		return r + 32;
	if (r == 0x178)
		return 0xFF;
	if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 &&
	    r != 0x149 && r != 0x17F)
		return ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E))
			       ? (r % 2 == 1 ? r + 1 : r) : (r % 2 == 0 ? r + 1 : r);
	if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2)
		return r + 32;
	if (r >= 0x410 && r <= 0x42F)
		return r + 32;
	if (r >= 0x400 && r <= 0x40F)
		return r + 80;
	return r;
}

int
tmpl_rune_letter(uint32_t r)
{
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
	       (r >= 0xC0 && r != 0xD7 && r != 0xF7 && r < 0x2000) || r >= 0x3040;
}

/*
 * toTitle: x/text/cases' Title with NoLower: in every word, the first
 * letter upper case (title case: "ß" is "Ss"), the rest as it is.  A
 * word runs over letters, digits and "_", and over "'", "." and ":"
 * between letters; "1st" is "1St", as Go writes it.
 */
static int
fn_toTitle(struct exec *x, const struct call *c, const struct val *a,
	   size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i = 0;
	int need = 1, prev_alnum = 0, rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	while (i < len) {
		uint32_t r, nx = 0;
		size_t k = tmpl_utf8_dec(s + i, len - i, &r);
		char u[4];

		if (i + k < len)
			tmpl_utf8_dec(s + i + k, len - i - k, &nx);
		if (tmpl_rune_letter(r)) {
			if (need && r == 0xDF) {
				buf_puts(&b, "Ss");
			} else if (need) {
				buf_append(&b, u, tmpl_utf8_enc(tmpl_rune_upper(r), u));
			} else {
				buf_append(&b, s + i, k);
			}
			need = 0;
			prev_alnum = 1;
		} else if (is_digit((int)r) || r == '_') {
			buf_append(&b, s + i, k);
			prev_alnum = 1;
		} else if ((r == '\'' || r == '.' || r == ':') && prev_alnum &&
			   tmpl_rune_letter(nx)) {
			buf_append(&b, s + i, k);
			prev_alnum = 0;
		} else {
			buf_append(&b, s + i, k);
			need = 1;
			prev_alnum = 0;
		}
		i += k;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Encodings and digests                                               */

static int
fn_base64URLEncode(struct exec *x, const struct call *c, const struct val *a,
		   size_t n, struct val *out)
{
	int rc = tmpl_fn_base64Encode(x, c, a, n, out);
	char *p;

	if (rc != 0 || out->len == 0)
		return rc;
	/* Our own fresh result (tmpl_fn_result): safe to change in place. */
	for (p = (char *)out->s; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	return 0;
}

static int
fn_base64URLDecode(struct exec *x, const struct call *c, const struct val *a,
		   size_t n, struct val *out)
{
	const char *s;
	struct val std;
	size_t len, i;
	char *d;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	d = malloc(len + 1);
	if (d == NULL)
		return tmpl_xoom(x);
	for (i = 0; i < len; i++) {
		if (s[i] == '+' || s[i] == '/') {
			secret_free_len(d, len + 1);
			return tmpl_cerr(x, c, "illegal base64 data at input byte %zu", i);
		}
		d[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	d[len] = '\0';
	std = vstr(d, len);
	rc = tmpl_fn_base64Decode(x, c, &std, 1, out);
	secret_free_len(d, len + 1);
	return rc;
}

static int
put_hex(struct exec *x, const struct call *c, const unsigned char *md,
	unsigned int mdlen, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	unsigned int i;

	for (i = 0; i < mdlen; i++)
		buf_printf(&b, "%02x", md[i]);
	return tmpl_fn_result(x, c, &b, out);
}

static int
fn_md5sum(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *s;
	size_t len;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (EVP_Digest(s, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return tmpl_cerr(x, c, "digest failed (MD5 not available)");
	return put_hex(x, c, md, mdlen, out);
}

/* hmacSHA256Hex MESSAGE KEY */
static int
fn_hmacSHA256Hex(struct exec *x, const struct call *c, const struct val *a,
		 size_t n, struct val *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *msg, *key;
	size_t msglen, keylen;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &msg, &msglen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &key, &keylen);
	if (rc != 0)
		return rc;
	if (keylen > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen,
		 md, &mdlen) == NULL)
		return tmpl_cerr(x, c, "HMAC failed");
	rc = put_hex(x, c, md, mdlen, out);
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/*
 * toUnescapedJSON, toUnescapedJSONPretty (and Sprig's toRawJson): JSON
 * as Go's Encoder with SetEscapeHTML(false) writes it: "<", ">" and "&"
 * as they are.  Go's escaped output is un-escaped: a backslash in that
 * output always starts an escape, so stepping over escapes two bytes at
 * a time never mistakes an escaped backslash for one.
 */
int
tmpl_fn_toUnescapedJSON(struct exec *x, const struct call *c,
			const struct val *a, size_t n, struct val *out)
{
	struct buf j = tmpl_fn_buf(x), b = tmpl_fn_buf(x);
	int pretty = strstr(c->fn->name, "Pretty") != NULL;
	size_t i = 0;

	(void)n;
	if (tmpl_json_val(&j, a[0], pretty, 0) != 0) {
		buf_free(&j);
		return tmpl_cerr(x, c, "unsupported value (NaN or infinity)");
	}
	b.err = j.err;
	while (j.s != NULL && i < j.len) {
		if (j.s[i] != '\\') {
			buf_putc(&b, j.s[i++]);
		} else if (i + 6 <= j.len && (memcmp(j.s + i, "\\u003c", 6) == 0 ||
					      memcmp(j.s + i, "\\u003e", 6) == 0 ||
					      memcmp(j.s + i, "\\u0026", 6) == 0)) {
			buf_putc(&b, j.s[i + 5] == 'c' ? '<' : j.s[i + 5] == 'e' ? '>' : '&');
			i += 6;
		} else {
			buf_append(&b, j.s + i, i + 1 < j.len ? 2 : 1);
			i += 2;
		}
	}
	buf_free(&j);
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Environment                                                         */

/* envOrDefault NAME DEFAULT: the variable when set (even empty). */
static int
fn_envOrDefault(struct exec *x, const struct call *c, const struct val *a,
		size_t n, struct val *out)
{
	const char *name, *v;
	size_t len;
	int rc = tmpl_arg_cstr(x, c, a, 0, &name);

	(void)n;
	if (rc != 0)
		return rc;
	v = getenv(name);
	if (v != NULL) {
		*out = vstr(v, strlen(v));
		return 0;
	}
	rc = tmpl_arg_str(x, c, a, 1, &v, &len);
	if (rc == 0)
		*out = vstr(v, len);
	return rc;
}

static int
fn_mustEnv(struct exec *x, const struct call *c, const struct val *a, size_t n,
	   struct val *out)
{
	const char *name, *v;
	int rc = tmpl_arg_cstr(x, c, a, 0, &name);

	(void)n;
	if (rc != 0)
		return rc;
	v = getenv(name);
	if (v == NULL || *v == '\0')
		return tmpl_cerr(x, c, "required environment variable %.64s is empty",
				 name);
	*out = vstr(v, strlen(v));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing: Go's strconv, with "" as the zero value                    */

static int
fn_parseBool(struct exec *x, const struct call *c, const struct val *a,
	     size_t n, struct val *out)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	const char *s;
	size_t len, i;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (len == 0) {
		*out = vbool(0);
		return 0;
	}
	for (i = 0; i < 6; i++) {
		if (strlen(t[i]) == len && memcmp(t[i], s, len) == 0) {
			*out = vbool(1);
			return 0;
		}
		if (strlen(f[i]) == len && memcmp(f[i], s, len) == 0) {
			*out = vbool(0);
			return 0;
		}
	}
	return tmpl_cerr(x, c, "strconv.ParseBool: invalid syntax");
}

/* strconv.ParseInt(S, 10, 64) or ParseUint: digits, a sign for int. */
static int
fn_parseInt(struct exec *x, const struct call *c, const struct val *a,
	    size_t n, struct val *out)
{
	int uns = strcmp(c->fn->name, "parseUint") == 0;
	const char *s, *fname = uns ? "ParseUint" : "ParseInt";
	unsigned long long v = 0, lim;
	size_t len, i = 0;
	int neg = 0, rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (len == 0) {
		*out = vnum(0);
		return 0;
	}
	if (!uns && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return tmpl_cerr(x, c, "strconv.%s: invalid syntax", fname);
	lim = uns ? ULLONG_MAX : neg ? (unsigned long long)LLONG_MAX + 1
				     : (unsigned long long)LLONG_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (!is_digit(s[i]))
			return tmpl_cerr(x, c, "strconv.%s: invalid syntax", fname);
		d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10) {
			/* Go reads on: a bad byte later is still a syntax error. */
			for (; i < len; i++)
				if (!is_digit(s[i]))
					return tmpl_cerr(x, c, "strconv.%s: invalid syntax",
							 fname);
			return tmpl_cerr(x, c, "strconv.%s: value out of range", fname);
		}
		v = v * 10 + d;
	}
	*out = vnum(neg ? -(double)v : (double)v);
	return 0;
}

static int
fn_parseFloat(struct exec *x, const struct call *c, const struct val *a,
	      size_t n, struct val *out)
{
	char tmp[128], *end;
	const char *s;
	size_t len, i, k = 0;
	double v;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (len == 0) {
		*out = vnum(0);
		return 0;
	}
	/* Go allows "_" between digits only after a base prefix; strtod
	 * allows leading space and "infinity"-like words Go also takes. */
	if (len >= sizeof(tmp) || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return tmpl_cerr(x, c, "strconv.ParseFloat: invalid syntax");
	for (i = 0; i < len; i++)
		tmp[k++] = s[i];
	tmp[k] = '\0';
	errno = 0;
	v = strtod(tmp, &end);
	if (end == tmp || *end != '\0')
		return tmpl_cerr(x, c, "strconv.ParseFloat: invalid syntax");
	if (errno == ERANGE && isinf(v))
		return tmpl_cerr(x, c, "strconv.ParseFloat: value out of range");
	*out = vnum(v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lists and maps                                                      */

/* splitToMap SEP1 SEP2 S: "a:1,b:2" to {a: 1, b: 2}; pieces without
 * SEP2 are left out, a later key wins. */
static int
fn_splitToMap(struct exec *x, const struct call *c, const struct val *a,
	      size_t n, struct val *out)
{
	const char *s1, *s2, *s;
	size_t l1, l2, len, i = 0;
	cJSON *m;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &s1, &l1);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s2, &l2);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 2, &s, &len);
	if (rc != 0)
		return rc;
	m = cJSON_CreateObject();
	rc = tmpl_ret_json(x, m, out);
	if (rc != 0)
		return rc;
	tmpl_trim_space(&s, &len);
	while (len > 0 && i <= len) {
		const char *e, *cut;
		size_t k;
		uint32_t r;
		char *key;

		if (l1 == 0)
			e = s + i + (i < len ? tmpl_utf8_dec(s + i, len - i, &r) : 0);
		else
			e = memmem(s + i, len - i, s1, l1);
		if (e == NULL)
			e = s + len;
		k = (size_t)(e - (s + i));
		cut = l2 == 0 ? s + i : memmem(s + i, k, s2, l2);
		if (cut != NULL) {
			size_t kl = (size_t)(cut - (s + i));
			struct val v;

			key = malloc(kl + 1);
			if (key == NULL)
				return tmpl_xoom(x);
			memcpy(key, s + i, kl);
			key[kl] = '\0';
			rc = own_str(x, cut + l2, k - kl - l2, &v);
			if (rc == 0)
				rc = tmpl_add_val(x, m, key, v);
			free(key);
			if (rc != 0)
				return rc;
		}
		i += k + l1;
		if (l1 == 0 && i >= len)
			break;
	}
	return 0;
}

/* in LIST VALUE */
static int
fn_in(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	(void)x, (void)c, (void)n;
	*out = vbool(tmpl_val_in(a[0], a[1]));
	return 0;
}

/* containsAll/Any/None/NotAll NEEDLES HAYSTACK */
static int
fn_containsSome(struct exec *x, const struct call *c, const struct val *a,
		size_t n, struct val *out)
{
	const char *name = c->fn->name + 8;
	int ret_true = strcmp(name, "All") == 0 || strcmp(name, "None") == 0;
	int invert = strcmp(name, "All") == 0 || strcmp(name, "NotAll") == 0;
	const cJSON *it;

	(void)n;
	if (a[0].k != V_LIST && a[0].k != V_NIL)
		return tmpl_cerr(x, c, "argument 1 must be a list, not %s",
				 tmpl_type_name(a[0]));
	for (it = a[0].j ? a[0].j->child : NULL; it != NULL; it = it->next) {
		if (tmpl_val_in(a[1], tmpl_to_val(it)) != invert) {
			*out = vbool(!ret_true);
			return 0;
		}
	}
	*out = vbool(ret_true);
	return 0;
}

/* loop [START] STOP: the integers from START (0) up to STOP, excluded. */
static int
fn_loop(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	long long v[2] = {0, 0}, i;
	cJSON *list;
	size_t k;
	int rc;

	for (k = 0; k < n; k++) {
		size_t slot = n == 1 ? 1 : k;

		if (a[k].k == V_STR) {
			struct val pv;

			rc = fn_parseInt(x, c, &a[k], 1, &pv);
			if (rc != 0)
				return rc;
			v[slot] = (long long)pv.n;
			continue;
		}
		rc = tmpl_arg_int(x, c, a, k, &v[slot]);
		if (rc != 0)
			return rc;
	}
	if (v[1] > v[0] && (unsigned long long)(v[1] - v[0]) > LOOP_MAX)
		return tmpl_cerr(x, c, "more than %d iterations", LOOP_MAX);
	list = cJSON_CreateArray();
	rc = tmpl_ret_json(x, list, out);
	for (i = v[0]; rc == 0 && i < v[1]; i++) {
		cJSON *item = cJSON_CreateNumber((double)i);

		if (item == NULL || !cJSON_AddItemToArray(list, item)) {
			cJSON_Delete(item);
			return tmpl_xoom(x);
		}
	}
	return rc;
}

static int
empty_json(const cJSON *j)
{
	return !tmpl_truth(tmpl_to_val(j));
}

/*
 * mergo's (v1.0.0) Map/Merge of SRC into DST (both maps): a key DST lacks
 * or holds empty is set from SRC; nested maps merge; with OVERRIDE a SRC
 * value (a list or null too) replaces DST's, except that two maps merge.
 */
int
tmpl_merge_into(struct exec *x, cJSON *dst, const cJSON *src, int override)
{
	const cJSON *s;
	int rc;

	for (s = src ? src->child : NULL; s != NULL; s = s->next) {
		cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, s->string);

		if (cJSON_IsNull(s) && !override)
			continue;
		if (cJSON_IsObject(s) && cJSON_IsObject(d)) {
			rc = tmpl_merge_into(x, d, s, override);
			if (rc != 0)
				return rc;
		}
		if (d != NULL && !empty_json(d) &&
		    ((cJSON_IsArray(s) && !override) ||
		     (cJSON_IsObject(s) && cJSON_IsObject(d))))
			continue;
		if (d == NULL || empty_json(d) || override) {
			rc = tmpl_add_val(x, dst, s->string, tmpl_to_val(s));
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* mergeMap DST SRC, mergeMapWithOverride DST SRC */
static int
fn_mergeMap(struct exec *x, const struct call *c, const struct val *a,
	    size_t n, struct val *out)
{
	cJSON *dst;
	int rc;

	(void)n;
	if ((a[0].k != V_MAP && a[0].k != V_NIL) || (a[1].k != V_MAP && a[1].k != V_NIL))
		return tmpl_cerr(x, c, "arguments must be maps, not %s and %s",
				 tmpl_type_name(a[0]), tmpl_type_name(a[1]));
	dst = a[0].j ? cJSON_Duplicate(a[0].j, 1) : cJSON_CreateObject();
	rc = tmpl_ret_json(x, dst, out);
	if (rc == 0)
		rc = tmpl_merge_into(x, dst, a[1].j,
				     strcmp(c->fn->name, "mergeMapWithOverride") == 0);
	return rc;
}

/* explodeMap: {"a/b": 1} to {"a": {"b": 1}}, keys in sorted order. */
static int
fn_explodeMap(struct exec *x, const struct call *c, const struct val *a,
	      size_t n, struct val *out)
{
	const cJSON **m = NULL;
	size_t nm = 0, i;
	cJSON *root;
	int rc;

	(void)n;
	if (a[0].k != V_MAP && a[0].k != V_NIL)
		return tmpl_cerr(x, c, "argument 1 must be a map, not %s",
				 tmpl_type_name(a[0]));
	root = cJSON_CreateObject();
	rc = tmpl_ret_json(x, root, out);
	if (rc == 0 && tmpl_sorted_members(a[0].j, &m, &nm) != 0)
		rc = tmpl_xoom(x);
	for (i = 0; rc == 0 && i < nm; i++) {
		const char *k = m[i]->string, *slash;
		cJSON *at = root;

		while (rc == 0 && (slash = strchr(k, '/')) != NULL) {
			char part[256];
			size_t pl = (size_t)(slash - k);
			cJSON *next;

			if (pl >= sizeof(part)) {
				rc = tmpl_cerr(x, c, "key segment longer than 255 bytes");
				break;
			}
			memcpy(part, k, pl);
			part[pl] = '\0';
			next = cJSON_GetObjectItemCaseSensitive(at, part);
			if (next == NULL) {
				next = cJSON_AddObjectToObject(at, part);
				if (next == NULL)
					rc = tmpl_xoom(x);
			} else if (!cJSON_IsObject(next)) {
				rc = tmpl_cerr(x, c, "not a map: a key is both a value "
						  "and a folder");
			}
			at = next;
			k = slash + 1;
		}
		if (rc == 0 && *k != '\0')
			rc = tmpl_add_val(x, at, k, tmpl_to_val(m[i]));
	}
	free((void *)m);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Math, with consul-template's argument order: OP B A is A op B        */

static int
fn_math(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	const char *op = c->fn->name;
	double fa = a[1].n, fb = a[0].n;
	int ints;

	(void)n;
	if (a[1].k != V_NUM)
		return tmpl_cerr(x, c, "unknown type for argument 2 (%s)",
				 tmpl_go_type(a[1]));
	if (a[0].k != V_NUM)
		return tmpl_cerr(x, c, "unknown type for argument 1 (%s)",
				 tmpl_go_type(a[0]));
	ints = is_int(fa) && is_int(fb) && fabs(fa) < 9.2e18 && fabs(fb) < 9.2e18;
	if (ints) {
		/* Go's int64: wrapping, truncating division. */
		int64_t ia = (int64_t)fa, ib = (int64_t)fb, r;

		switch (op[0]) {
		case 'a': r = (int64_t)((uint64_t)ia + (uint64_t)ib); break;
		case 's': r = (int64_t)((uint64_t)ia - (uint64_t)ib); break;
		case 'd':
		case 'm':
			if (op[1] == 'u') {
				r = (int64_t)((uint64_t)ia * (uint64_t)ib);
				break;
			}
			if (op[1] == 'i' && op[2] == 'n') {
				r = ia < ib ? ia : ib;
				break;
			}
			if (op[1] == 'a') {
				r = ia > ib ? ia : ib;
				break;
			}
			if (ib == 0)
				return tmpl_cerr(x, c, "runtime error: integer divide by zero");
			if (ib == -1)
				r = op[0] == 'd' ? (int64_t)(0 - (uint64_t)ia) : 0;
			else
				r = op[0] == 'd' ? ia / ib : ia % ib;
			break;
		default:
			return tmpl_cerr(x, c, "unknown operation");
		}
		*out = vnum((double)r);
		return 0;
	}
	switch (op[0]) {
	case 'a': *out = vnum(fa + fb); return 0;
	case 's': *out = vnum(fa - fb); return 0;
	case 'd': *out = vnum(fa / fb); return 0;
	default: break;
	}
	if (op[1] == 'u')
		*out = vnum(fa * fb);
	else if (op[1] == 'i' && op[2] == 'n')
		*out = vnum(fa < fb ? fa : fb);
	else if (op[1] == 'a')
		*out = vnum(fa > fb ? fa : fb);
	else
		return tmpl_cerr(x, c, "unknown type for argument (float64)");
	return 0;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

/* Sorted by name (strcmp), for bsearch. */
static const struct func ct_funcs[] = {
	{"add", 2, 2, 0, fn_math},
	{"base64URLDecode", 1, 1, 0, fn_base64URLDecode},
	{"base64URLEncode", 1, 1, 0, fn_base64URLEncode},
	{"containsAll", 2, 2, 0, fn_containsSome},
	{"containsAny", 2, 2, 0, fn_containsSome},
	{"containsNone", 2, 2, 0, fn_containsSome},
	{"containsNotAll", 2, 2, 0, fn_containsSome},
	{"divide", 2, 2, 0, fn_math},
	{"envOrDefault", 2, 2, 0, fn_envOrDefault},
	{"explodeMap", 1, 1, 0, fn_explodeMap},
	{"hmacSHA256Hex", 2, 2, 0, fn_hmacSHA256Hex},
	{"in", 2, 2, 0, fn_in},
	{"indent", 2, 2, 0, fn_indent},
	{"loop", 1, 2, 0, fn_loop},
	{"maximum", 2, 2, 0, fn_math},
	{"md5sum", 1, 1, 0, fn_md5sum},
	{"mergeMap", 2, 2, 0, fn_mergeMap},
	{"mergeMapWithOverride", 2, 2, 0, fn_mergeMap},
	{"minimum", 2, 2, 0, fn_math},
	{"modulo", 2, 2, 0, fn_math},
	{"multiply", 2, 2, 0, fn_math},
	{"mustEnv", 1, 1, 0, fn_mustEnv},
	{"parseBool", 1, 1, 0, fn_parseBool},
	{"parseFloat", 1, 1, 0, fn_parseFloat},
	{"parseInt", 1, 1, 0, fn_parseInt},
	{"parseUint", 1, 1, 0, fn_parseInt},
	{"parseYAML", 1, 1, 0, tmpl_fn_parseYAML},
	{"regexMatch", 2, 2, 0, tmpl_fn_regexMatch},
	{"regexReplaceAll", 3, 3, 0, tmpl_fn_regexReplaceAll},
	{"splitToMap", 3, 3, 0, fn_splitToMap},
	{"subtract", 2, 2, 0, fn_math},
	{"toTOML", 1, 1, 0, tmpl_fn_toTOML},
	{"toTitle", 1, 1, 0, fn_toTitle},
	{"toUnescapedJSON", 1, 1, 0, tmpl_fn_toUnescapedJSON},
	{"toUnescapedJSONPretty", 1, 1, 0, tmpl_fn_toUnescapedJSON},
	{"toYAML", 1, 1, 0, tmpl_fn_toYAML},
	{"trim", 2, 2, 0, tmpl_fn_trim},
	{"trimPrefix", 2, 2, 0, tmpl_fn_trim},
	{"trimSuffix", 2, 2, 0, tmpl_fn_trim},
};

static int
func_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct func *)elem)->name);
}

const struct func *
tmpl_find_func_table(const char *name, const struct func *tab, size_t n)
{
	return bsearch(name, tab, n, sizeof(*tab), func_cmp);
}

const struct func *
tmpl_find_func_ct(const char *name)
{
	if (strncmp(name, "sprig_", 6) == 0)
		return tmpl_find_func_sprig(name);
	return tmpl_find_func_table(name, ct_funcs,
				    sizeof(ct_funcs) / sizeof(ct_funcs[0]));
}
