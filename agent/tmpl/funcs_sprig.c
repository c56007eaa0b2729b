/*
 * funcs_sprig.c: the Sprig library (Masterminds/sprig v3.2.3) under the
 * "sprig_" prefix, as consul-template 0.39 registers it: the string,
 * list, dict, default, encoding, math, date, crypto-hash, random and
 * regex functions templates use.
 *
 * DESIGN / invariants:
 *  - Sprig's semantics, not consul-template's, where they differ:
 *    sprig_join, sprig_splitList and sprig_indent do not trim; Sprig's
 *    math is int64 (sprig_div 7 2 is 3) and turns strings into numbers
 *    ("12" is 12, "x" is 0); sprig_b64dec answers Go's error text as
 *    its result; a function Go would panic in (sprig_first of a string)
 *    is an error.
 *  - Maps Sprig changes in place (sprig_set, sprig_unset) are changed in
 *    place when this execution made them (sprig_dict, ...), so the
 *    usual {{ $_ := sprig_set $d "k" "v" }} works; a map from Vault is
 *    never changed: the result is a changed copy.  A value replaced in
 *    place is detached, not freed, as other values may still point at it.
 *  - sprig_keys and sprig_values are in key order (Go's are in random
 *    order); dates are UTC (sprig_date uses the local zone in Go) and
 *    sprig_now is a Unix time in seconds, which sprig_date, sprig_dateInZone
 *    and sprig_unixEpoch take.
 *  - Random functions use OpenSSL's RAND_bytes, rejection-sampled so
 *    every character is equally likely.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "buf.h"
#include "fmath.h"

#define RAND_MAXLEN (1024 * 1024)

/* ------------------------------------------------------------------ */
/* Conversions: Sprig's strval and spf13/cast                          */

/* fmt.Sprint of V (Sprig's strval): a string as it is. */
static int
strval(struct exec *x, const struct call *c, struct val v, const char **s,
       size_t *len)
{
	struct buf b;
	struct val r;
	int rc;

	if (v.k == V_STR) {
		*s = v.s;
		*len = v.len;
		return 0;
	}
	b = tmpl_fn_buf(x);
	tmpl_sprint(&b, &v, 1, 0);
	rc = tmpl_fn_result(x, c, &b, &r);
	if (rc == 0) {
		*s = r.s;
		*len = r.len;
	}
	return rc;
}

/* cast.ToInt64: numbers truncated, strings parsed (base prefixes, "3.0"
 * is 3), bools 0/1, anything else 0. */
static long long
to_int64(struct val v)
{
	char tmp[64], *end;
	long long r;
	size_t n;

	switch (v.k) {
	case V_NUM:
		if (!isfinite(v.n) || fabs(v.n) >= 9.2e18)
			return 0;
		return (long long)v.n;
	case V_BOOL:
		return v.b;
	case V_STR:
		n = v.len;
		if (n == 0 || n >= sizeof(tmp))
			return 0;
		memcpy(tmp, v.s, n);
		tmp[n] = '\0';
		/* trimZeroDecimal: "12.00" is "12" */
		end = strchr(tmp, '.');
		if (end != NULL && end[1] != '\0' && strspn(end + 1, "0") == strlen(end + 1))
			*end = '\0';
		if (tmp[0] == ' ' || (tmp[0] >= '\t' && tmp[0] <= '\r'))
			return 0;
		errno = 0;
		r = strtoll(tmp, &end, 0);
		return *end == '\0' && errno == 0 ? r : 0;
	default:
		return 0;
	}
}

static double
to_float64(struct val v)
{
	char tmp[64], *end;
	double r;

	switch (v.k) {
	case V_NUM:
		return v.n;
	case V_BOOL:
		return v.b;
	case V_STR:
		if (v.len == 0 || v.len >= sizeof(tmp) || v.s[0] == ' ' ||
		    (v.s[0] >= '\t' && v.s[0] <= '\r'))
			return 0;
		memcpy(tmp, v.s, v.len);
		tmp[v.len] = '\0';
		r = strtod(tmp, &end);
		return *end == '\0' ? r : 0;
	default:
		return 0;
	}
}

static int
s_int(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	(void)x, (void)c, (void)n;
	*out = vnum((double)to_int64(a[0]));
	return 0;
}

static int
s_float64(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	(void)x, (void)c, (void)n;
	*out = vnum(to_float64(a[0]));
	return 0;
}

/* atoi: strconv.Atoi, 0 on error. */
static int
s_atoi(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *s;
	char *end = NULL;
	long long r = 0;
	int rc = tmpl_arg_cstr(x, c, a, 0, &s);

	(void)n;
	if (rc != 0)
		return rc;
	*out = vnum(0);
	if (!(is_digit(s[0]) || ((s[0] == '+' || s[0] == '-') && is_digit(s[1]))))
		return 0;
	errno = 0;
	r = strtoll(s, &end, 10);
	if (errno == 0 && end != NULL && *end == '\0')
		*out = vnum((double)r);
	return 0;
}

static int
s_toString(struct exec *x, const struct call *c, const struct val *a,
	   size_t n, struct val *out)
{
	const char *s;
	size_t len;
	int rc = strval(x, c, a[0], &s, &len);

	(void)n;
	if (rc == 0)
		*out = vstr(s, len);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */

static int
s_trim(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *s;
	size_t len;
	struct buf b = tmpl_fn_buf(x);
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	tmpl_trim_space(&s, &len);
	buf_append(&b, s, len);
	return tmpl_fn_result(x, c, &b, out);
}

static size_t uspace(const char *s, size_t n);

/* upper, lower (strings.ToUpper, ToLower), title (strings.Title), untitle
 * (the first rune lower case), with tmpl_rune_upper's alphabets. */
static int
s_case(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *name = c->fn->name + 6, *s;
	struct buf b = tmpl_fn_buf(x);
	size_t len, i = 0;
	int sep = 1, rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	while (i < len) {
		uint32_t r, m;
		size_t k = tmpl_utf8_dec(s + i, len - i, &r);
		char u[4];

		if (name[0] == 'u' && name[1] == 'p')
			m = tmpl_rune_upper(r);
		else if (name[0] == 'l')
			m = tmpl_rune_lower(r);
		else if (name[0] == 't')
			m = sep ? tmpl_rune_upper(r) : r;
		else
			m = i == 0 ? tmpl_rune_lower(r) : r;
		if (m == r)
			buf_append(&b, s + i, k);	/* invalid bytes stay */
		else
			buf_append(&b, u, tmpl_utf8_enc(m, u));
		/* strings.Title's isSeparator */
		if (r < 0x80)
			sep = !(is_digit((int)r) || r == '_' ||
				((r | 0x20) >= 'a' && (r | 0x20) <= 'z'));
		else
			sep = uspace(s + i, len - i) > 0;
		i += k;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* replace OLD NEW SRC */
static int
s_replace(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	const struct func *f = tmpl_find_func("replaceAll");
	struct call c2 = *c;

	(void)n;
	c2.fn = c->fn;
	return f->impl(x, &c2, a, 3, out);
}

/* contains SUB S, hasPrefix PREFIX S, hasSuffix SUFFIX S */
static int
s_contains(struct exec *x, const struct call *c, const struct val *a,
	   size_t n, struct val *out)
{
	const char *sub, *s, *name = c->fn->name + 6;
	size_t sl, len;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &sub, &sl);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (strcmp(name, "hasPrefix") == 0)
		*out = vbool(len >= sl && memcmp(s, sub, sl) == 0);
	else if (strcmp(name, "hasSuffix") == 0)
		*out = vbool(len >= sl && memcmp(s + len - sl, sub, sl) == 0);
	else
		*out = vbool(sl == 0 || memmem(s, len, sub, sl) != NULL);
	return 0;
}

/* repeat COUNT S */
static int
s_repeat(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	long long k, i;
	size_t len;
	int rc;

	(void)n;
	rc = tmpl_arg_int(x, c, a, 0, &k);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (k < 0)
		return tmpl_cerr(x, c, "strings: negative Repeat count");
	if (len > 0 && (unsigned long long)k > x->max / len)
		return tmpl_cerr(x, c, "result larger than %zu bytes", x->max);
	for (i = 0; i < k && b.err == 0; i++)
		buf_append(&b, s, len);
	return tmpl_fn_result(x, c, &b, out);
}

/* unicode.IsSpace at S: its length, or 0. */
static size_t
uspace(const char *s, size_t n)
{
	uint32_t r;
	size_t k = tmpl_utf8_dec(s, n, &r);

	if (r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0 ||
	    r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 ||
	    r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000)
		return k;
	return 0;
}

static int
s_nospace(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i = 0, k;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	while (i < len) {
		uint32_t r;

		k = uspace(s + i, len - i);
		if (k > 0) {
			i += k;
			continue;
		}
		k = tmpl_utf8_dec(s + i, len - i, &r);
		buf_append(&b, s + i, k);
		i += k;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* indent N S, nindent N S: N spaces before every line, empty ones too. */
static int
s_indent(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	long long sp;
	size_t len, i;
	int rc;

	(void)n;
	rc = tmpl_arg_int(x, c, a, 0, &sp);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (sp < 0)
		sp = 0;		/* strings.Repeat would panic; Sprig's users see "" */
	if ((unsigned long long)sp > x->max)
		return tmpl_cerr(x, c, "result larger than %zu bytes", x->max);
	if (c->fn->name[6] == 'n')
		buf_putc(&b, '\n');
	buf_fill(&b, ' ', (size_t)sp);
	for (i = 0; i < len && b.err == 0; i++) {
		buf_putc(&b, s[i]);
		if (s[i] == '\n')
			buf_fill(&b, ' ', (size_t)sp);
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* quote and squote: every non-nil argument, joined by spaces. */
static int
s_quote(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	int single = c->fn->name[6] == 's', first = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		struct val v;
		const char *s;
		size_t len;
		int rc;

		if (a[i].k == V_NIL)
			continue;
		if (!first)
			buf_putc(&b, ' ');
		first = 0;
		if (single) {
			buf_putc(&b, '\'');
			tmpl_sprint(&b, &a[i], 1, 0);
			buf_putc(&b, '\'');
			continue;
		}
		rc = strval(x, c, a[i], &s, &len);
		if (rc != 0) {
			buf_free(&b);
			return rc;
		}
		v = vstr(s, len);
		tmpl_sprintf(&b, "%q", 2, &v, 1);
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* cat: the non-nil arguments as %v, joined by spaces. */
static int
s_cat(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	size_t i;
	int first = 1;

	for (i = 0; i < n; i++) {
		if (a[i].k == V_NIL)
			continue;
		if (!first)
			buf_putc(&b, ' ');
		first = 0;
		tmpl_sprintf(&b, "%v", 2, &a[i], 1);
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* substr START END S (bytes, as Sprig) */
static int
s_substr(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	long long st, en;
	const char *s;
	size_t len;
	int rc;

	(void)n;
	rc = tmpl_arg_int(x, c, a, 0, &st);
	if (rc == 0)
		rc = tmpl_arg_int(x, c, a, 1, &en);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 2, &s, &len);
	if (rc != 0)
		return rc;
	if (st < 0)
		st = 0;
	if (en < 0 || (unsigned long long)en > len)
		en = (long long)len;
	if ((unsigned long long)st > len || st > en)
		return tmpl_cerr(x, c, "slice bounds out of range");
	buf_append(&b, s + st, (size_t)(en - st));
	return tmpl_fn_result(x, c, &b, out);
}

/* trunc N S: the first N bytes, or the last -N. */
static int
s_trunc(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	long long k;
	size_t len;
	int rc;

	(void)n;
	rc = tmpl_arg_int(x, c, a, 0, &k);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	if (k < 0 && (long long)len + k > 0)
		buf_append(&b, s + len + (size_t)k, (size_t)-k);
	else if (k >= 0 && len > (unsigned long long)k)
		buf_append(&b, s, (size_t)k);
	else
		buf_append(&b, s, len);
	return tmpl_fn_result(x, c, &b, out);
}

/* plural ONE MANY COUNT */
static int
s_plural(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	const char *s;
	size_t len;
	long long k;
	int rc = tmpl_arg_int(x, c, a, 2, &k);

	(void)n;
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, k == 1 ? 0 : 1, &s, &len);
	if (rc == 0)
		*out = vstr(s, len);
	return rc;
}

/* b64enc, b64dec: a decoding error is the result, as Sprig does. */
static int
s_b64(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	const char *s;
	size_t len;
	struct val v;
	int rc = strval(x, c, a[0], &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	v = vstr(s, len);
	if (c->fn->name[9] == 'e')
		return tmpl_fn_base64Encode(x, c, &v, 1, out);
	{
		/* Go's error text becomes the result: decode with a
		 * private error buffer, then keep its message. */
		char err[TMPL_MSG_MAX] = "", *saved = x->err;
		size_t savedlen = x->errlen;
		const char *m;
		struct buf b;

		x->err = err;
		x->errlen = sizeof(err);
		rc = tmpl_fn_base64Decode(x, c, &v, 1, out);
		x->err = saved;
		x->errlen = savedlen;
		if (rc != -EINVAL || x->fatal)
			return rc;
		m = strstr(err, "illegal base64");
		b = tmpl_fn_buf(x);
		buf_puts(&b, m ? m : "illegal base64 data");
		return tmpl_fn_result(x, c, &b, out);
	}
}

/* ------------------------------------------------------------------ */
/* Defaults                                                            */

static int
empty(struct val v)
{
	return !tmpl_truth(v);
}

/* default DEFAULT [GIVEN] */
static int
s_default(struct exec *x, const struct call *c, const struct val *a,
	  size_t n, struct val *out)
{
	(void)x, (void)c;
	*out = n < 2 || empty(a[1]) ? a[0] : a[1];
	return 0;
}

static int
s_empty(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	(void)x, (void)c, (void)n;
	*out = vbool(empty(a[0]));
	return 0;
}

/* coalesce, all, any */
static int
s_coalesce(struct exec *x, const struct call *c, const struct val *a,
	   size_t n, struct val *out)
{
	const char *name = c->fn->name + 6;
	size_t i;

	(void)x;
	if (strcmp(name, "all") == 0) {
		for (i = 0; i < n && !empty(a[i]); i++)
			;
		*out = vbool(i == n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (!empty(a[i])) {
			*out = name[1] == 'n' ? vbool(1) : a[i];
			return 0;
		}
	}
	*out = name[1] == 'n' ? vbool(0) : vnil();
	return 0;
}

/* ternary TRUE FALSE COND */
static int
s_ternary(struct exec *x, const struct call *c, const struct val *a,
	  size_t n, struct val *out)
{
	(void)n;
	if (a[2].k != V_BOOL)
		return tmpl_cerr(x, c, "argument 3 must be a bool, not %s",
				 tmpl_type_name(a[2]));
	*out = a[2].b ? a[0] : a[1];
	return 0;
}

/* toJson, toPrettyJson: "" for a value JSON cannot hold. */
static int
s_json(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	struct buf b = tmpl_fn_buf(x);

	(void)n;
	if (tmpl_json_val(&b, a[0], c->fn->name[8] == 'P', 0) != 0) {
		buf_free(&b);
		*out = vstr("", 0);
		return 0;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Lists                                                               */

static int
need_list(struct exec *x, const struct call *c, const struct val *a,
	  size_t i, const char *what)
{
	if (a[i].k == V_LIST)
		return 0;
	return tmpl_cerr(x, c, "Cannot %s on type %s", what,
			 a[i].k == V_STR ? "string" : a[i].k == V_MAP ? "map" :
			 tmpl_type_name(a[i]));
}

static cJSON *
new_list(struct exec *x, struct val *out)
{
	cJSON *l = cJSON_CreateArray();

	return tmpl_ret_json(x, l, out) == 0 ? l : NULL;
}

/* reflect.DeepEqual, with one number type. */
static int
deep_equal(struct val p, struct val q)
{
	if (p.k != q.k)
		return 0;
	switch (p.k) {
	case V_NIL: return 1;
	case V_BOOL: return p.b == q.b;
	case V_NUM: return p.n == q.n;
	case V_STR: return p.len == q.len && memcmp(p.s, q.s, p.len) == 0;
	case V_MAP:
	case V_LIST:
		if (p.j == NULL || q.j == NULL)
			return p.j == q.j;
		return cJSON_Compare(p.j, q.j, 1);
	default: return p.j == q.j;
	}
}

static int
s_list(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	cJSON *l = new_list(x, out);
	size_t i;
	int rc = l ? 0 : -ENOMEM;

	(void)c;
	for (i = 0; i < n && rc == 0; i++)
		rc = tmpl_add_val(x, l, NULL, a[i]);
	return rc;
}

/* first, last, rest, initial, reverse, uniq, compact */
static int
s_listop(struct exec *x, const struct call *c, const struct val *a,
	 size_t n, struct val *out)
{
	const char *name = c->fn->name + 6;
	size_t cnt, i = 0, k;
	const cJSON *it;
	cJSON *l;
	int rc = need_list(x, c, a, 0, strcmp(name, "first") == 0 ? "find first" :
				 strcmp(name, "last") == 0 ? "find last" :
				 strcmp(name, "compact") == 0 ? "compact" : "find it");

	(void)n;
	if (rc != 0)
		return rc;
	cnt = tmpl_jcount(a[0].j);
	if (strcmp(name, "first") == 0 || strcmp(name, "last") == 0) {
		*out = cnt == 0 ? vnil() : tmpl_to_val(cJSON_GetArrayItem(
			a[0].j, name[0] == 'f' ? 0 : (int)cnt - 1));
		return 0;
	}
	if (cnt == 0 && (name[0] == 'r' && name[1] == 'e' && name[2] == 's')) {
		*out = (struct val){.k = V_LIST};
		return 0;
	}
	if (cnt == 0 && strcmp(name, "initial") == 0) {
		*out = (struct val){.k = V_LIST};
		return 0;
	}
	l = new_list(x, out);
	if (l == NULL)
		return -ENOMEM;
	for (it = a[0].j ? a[0].j->child : NULL; it && rc == 0; it = it->next, i++) {
		struct val v = tmpl_to_val(it);

		if (strcmp(name, "rest") == 0 && i == 0)
			continue;
		if (strcmp(name, "initial") == 0 && i + 1 == cnt)
			continue;
		if (strcmp(name, "compact") == 0 && empty(v))
			continue;
		if (strcmp(name, "uniq") == 0) {
			for (k = 0; k < tmpl_jcount(l); k++)
				if (deep_equal(tmpl_to_val(cJSON_GetArrayItem(l, (int)k)), v))
					break;
			if (k < tmpl_jcount(l))
				continue;
		}
		if (strcmp(name, "reverse") == 0) {
			cJSON *item = tmpl_val_json(v);

			if (item == NULL || !cJSON_InsertItemInArray(l, 0, item)) {
				cJSON_Delete(item);
				return tmpl_xoom(x);
			}
			continue;
		}
		rc = tmpl_add_val(x, l, NULL, v);
	}
	return rc;
}

/* append LIST V, prepend LIST V */
static int
s_push(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *name = c->fn->name + 6;
	const cJSON *it;
	cJSON *l;
	int rc = need_list(x, c, a, 0, name[0] == 'p' && name[1] == 'r' ?
			   "prepend" : "push");

	(void)n;
	if (rc != 0)
		return rc;
	l = new_list(x, out);
	if (l == NULL)
		return -ENOMEM;
	if (name[0] == 'p' && name[1] == 'r')
		rc = tmpl_add_val(x, l, NULL, a[1]);
	for (it = a[0].j ? a[0].j->child : NULL; it && rc == 0; it = it->next)
		rc = tmpl_add_val(x, l, NULL, tmpl_to_val(it));
	if (rc == 0 && !(name[0] == 'p' && name[1] == 'r'))
		rc = tmpl_add_val(x, l, NULL, a[1]);
	return rc;
}

/* has NEEDLE LIST */
static int
s_has(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	const cJSON *it;
	int found = 0;

	(void)n;
	if (a[1].k == V_NIL) {
		*out = vbool(0);
		return 0;
	}
	if (need_list(x, c, a, 1, "find has") != 0)
		return -EINVAL;
	for (it = a[1].j ? a[1].j->child : NULL; it && !found; it = it->next)
		found = deep_equal(a[0], tmpl_to_val(it));
	*out = vbool(found);
	return 0;
}

/* without LIST V... */
static int
s_without(struct exec *x, const struct call *c, const struct val *a,
	  size_t n, struct val *out)
{
	const cJSON *it;
	cJSON *l;
	size_t k;
	int rc = need_list(x, c, a, 0, "find without");

	if (rc != 0)
		return rc;
	l = new_list(x, out);
	if (l == NULL)
		return -ENOMEM;
	for (it = a[0].j ? a[0].j->child : NULL; it && rc == 0; it = it->next) {
		struct val v = tmpl_to_val(it);

		for (k = 1; k < n && !deep_equal(a[k], v); k++)
			;
		if (k == n)
			rc = tmpl_add_val(x, l, NULL, v);
	}
	return rc;
}

/* concat LIST... */
static int
s_concat(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	const cJSON *it;
	cJSON *l = new_list(x, out);
	size_t i;
	int rc = l ? 0 : -ENOMEM;

	for (i = 0; i < n && rc == 0; i++) {
		rc = need_list(x, c, a, i, "concat");
		for (it = a[i].j ? a[i].j->child : NULL; it && rc == 0; it = it->next)
			rc = tmpl_add_val(x, l, NULL, tmpl_to_val(it));
	}
	return rc;
}

/* Sprig's strslice: a list's non-nil elements as strings (a lone value
 * is a list of one), into the array L. */
static int
strslice(struct exec *x, const struct call *c, struct val v, cJSON *l)
{
	const cJSON *it;
	const char *s;
	size_t len;
	int rc = 0;

	if (v.k == V_NIL)
		return 0;
	if (v.k != V_LIST) {
		rc = strval(x, c, v, &s, &len);
		return rc == 0 ? tmpl_add_val(x, l, NULL, vstr(s, len)) : rc;
	}
	for (it = v.j ? v.j->child : NULL; it && rc == 0; it = it->next) {
		struct val e = tmpl_to_val(it);

		if (e.k == V_NIL)
			continue;
		rc = strval(x, c, e, &s, &len);
		if (rc == 0)
			rc = tmpl_add_val(x, l, NULL, vstr(s, len));
	}
	return rc;
}

/* join SEP LIST */
static int
s_join(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	cJSON *l = cJSON_CreateArray();
	const cJSON *it;
	const char *sep;
	size_t seplen;
	int rc;

	(void)n;
	rc = tmpl_keep_json(x, l);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 0, &sep, &seplen);
	if (rc == 0)
		rc = strslice(x, c, a[1], l);
	if (rc != 0)
		return rc;
	for (it = l->child; it != NULL; it = it->next) {
		if (it != l->child)
			buf_append(&b, sep, seplen);
		buf_puts(&b, it->valuestring);
	}
	return tmpl_fn_result(x, c, &b, out);
}

static int
str_cmp(const void *p, const void *q)
{
	return strcmp((*(cJSON *const *)p)->valuestring,
		      (*(cJSON *const *)q)->valuestring);
}

/* sortAlpha LIST, toStrings LIST */
static int
s_strlist(struct exec *x, const struct call *c, const struct val *a,
	  size_t n, struct val *out)
{
	cJSON *l = new_list(x, out), **v, *it;
	size_t cnt, i;
	int rc;

	(void)n;
	if (l == NULL)
		return -ENOMEM;
	rc = strslice(x, c, a[0], l);
	if (rc != 0 || c->fn->name[6] == 't' || (cnt = tmpl_jcount(l)) < 2)
		return rc;
	v = malloc(cnt * sizeof(*v));
	if (v == NULL)
		return tmpl_xoom(x);
	for (i = 0, it = l->child; it; it = it->next)
		v[i++] = it;
	qsort(v, cnt, sizeof(*v), str_cmp);
	for (i = 0; i < cnt; i++) {
		v[i]->prev = i > 0 ? v[i - 1] : v[cnt - 1];
		v[i]->next = i + 1 < cnt ? v[i + 1] : NULL;
	}
	l->child = v[0];
	free(v);
	return 0;
}

/* splitList SEP S (strings.Split), split SEP S ({_0: ..., _1: ...}) */
static int
s_split(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	int map = strcmp(c->fn->name, "sprig_split") == 0;
	const char *sep, *s;
	size_t seplen, len, i = 0, idx = 0;
	cJSON *to;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &sep, &seplen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	to = map ? cJSON_CreateObject() : cJSON_CreateArray();
	rc = tmpl_ret_json(x, to, out);
	while (rc == 0) {
		const char *e;
		size_t k;
		uint32_t r;
		char key[32], *part;

		if (seplen == 0) {
			if (i >= len)
				break;
			e = s + i + tmpl_utf8_dec(s + i, len - i, &r);
		} else {
			e = memmem(s + i, len - i, sep, seplen);
			if (e == NULL)
				e = s + len;
		}
		k = (size_t)(e - (s + i));
		part = malloc(k + 1);
		if (part == NULL)
			return tmpl_xoom(x);
		memcpy(part, s + i, k);
		part[k] = '\0';
		snprintf(key, sizeof(key), "_%zu", idx++);
		rc = tmpl_add_val(x, to, map ? key : NULL, vstr(part, k));
		free(part);
		i += k;
		if (seplen > 0) {
			if (i >= len)
				break;
			i += seplen;
		}
	}
	return rc;
}

/* until N, untilStep START STOP STEP */
static int
s_until(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	long long start = 0, stop, step, i, cnt = 0;
	cJSON *l;
	int rc;

	if (n == 1) {
		rc = tmpl_arg_int(x, c, a, 0, &stop);
		step = stop < 0 ? -1 : 1;
	} else {
		rc = tmpl_arg_int(x, c, a, 0, &start);
		if (rc == 0)
			rc = tmpl_arg_int(x, c, a, 1, &stop);
		if (rc == 0)
			rc = tmpl_arg_int(x, c, a, 2, &step);
	}
	if (rc != 0)
		return rc;
	l = new_list(x, out);
	if (l == NULL)
		return -ENOMEM;
	if (stop < start ? step >= 0 : step <= 0)
		return 0;
	for (i = start; stop < start ? i > stop : i < stop; i += step) {
		cJSON *item;

		if (++cnt > 1000000)
			return tmpl_cerr(x, c, "more than 1000000 elements");
		item = cJSON_CreateNumber((double)i);
		if (item == NULL || !cJSON_AddItemToArray(l, item)) {
			cJSON_Delete(item);
			return tmpl_xoom(x);
		}
	}
	return 0;
}

/* Sprig's untilStep into B as "a b c". */
static int
step_string(struct exec *x, const struct call *c, long long start,
	    long long stop, long long step, struct buf *b)
{
	long long i, cnt = 0;

	if (stop < start ? step >= 0 : step <= 0)
		return 0;
	for (i = start; stop < start ? i > stop : i < stop; i += step) {
		if (++cnt > 1000000) {
			buf_free(b);
			return tmpl_cerr(x, c, "more than 1000000 elements");
		}
		if (i != start)
			buf_putc(b, ' ');
		buf_printf(b, "%lld", i);
	}
	return 0;
}

/* seq [START [STEP]] END: the integers as a string, END included. */
static int
s_seq(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	long long p[3] = {0, 0, 0}, start, end, step;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = tmpl_arg_int(x, c, a, i, &p[i]);
	if (rc != 0)
		return rc;
	if (n == 1) {
		start = 1, end = p[0];
		step = end < start ? -1 : 1;
		rc = step_string(x, c, start, end + step, step, &b);
	} else if (n == 2) {
		start = p[0], end = p[1];
		step = end < start ? -1 : 1;
		rc = step_string(x, c, start, end + step, step, &b);
	} else if (n == 3) {
		start = p[0], step = p[1], end = p[2];
		if (end < start && step > 0)
			return tmpl_fn_result(x, c, &b, out);
		rc = step_string(x, c, start, end + (end < start ? -1 : 1), step, &b);
	}
	if (rc != 0)
		return rc;
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Dicts                                                               */

static int
need_map(struct exec *x, const struct call *c, const struct val *a, size_t i)
{
	if (a[i].k == V_MAP)
		return 0;
	return tmpl_cerr(x, c, "argument %zu must be a map, not %s", i + 1,
			 tmpl_type_name(a[i]));
}

static int
key_arg(struct exec *x, const struct call *c, const struct val *a, size_t i,
	const char **k)
{
	return tmpl_arg_cstr(x, c, a, i, k);
}

/* dict K V ...: a missing last value is "". */
static int
s_dict(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	cJSON *d = cJSON_CreateObject();
	size_t i;
	int rc = tmpl_ret_json(x, d, out);

	for (i = 0; i < n && rc == 0; i += 2) {
		const char *k;
		size_t klen;
		char *key;

		rc = strval(x, c, a[i], &k, &klen);
		if (rc != 0)
			break;
		key = strndup(k, klen);
		if (key == NULL)
			return tmpl_xoom(x);
		rc = tmpl_add_val(x, d, key, i + 1 < n ? a[i + 1] : vstr("", 0));
		free(key);
	}
	return rc;
}

/* get D K: "" when absent */
static int
s_get(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	const cJSON *it;
	const char *k;
	int rc = need_map(x, c, a, 0);

	(void)n;
	if (rc == 0)
		rc = key_arg(x, c, a, 1, &k);
	if (rc != 0)
		return rc;
	it = a[0].j ? cJSON_GetObjectItemCaseSensitive(a[0].j, k) : NULL;
	*out = it ? tmpl_to_val(it) : vstr("", 0);
	return 0;
}

static int
s_hasKey(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	const char *k;
	int rc = need_map(x, c, a, 0);

	(void)n;
	if (rc == 0)
		rc = key_arg(x, c, a, 1, &k);
	if (rc != 0)
		return rc;
	*out = vbool(a[0].j && cJSON_GetObjectItemCaseSensitive(a[0].j, k) != NULL);
	return 0;
}

/* The map of A[0] to change: itself if this execution made it. */
static cJSON *
own_map(struct exec *x, const struct val *a, struct val *out)
{
	size_t i;
	cJSON *d;

	for (i = 0; a[0].j != NULL && i < x->njs; i++) {
		if (x->js[i] == a[0].j) {
			*out = a[0];
			return x->js[i];
		}
	}
	d = a[0].j ? cJSON_Duplicate(a[0].j, 1) : cJSON_CreateObject();
	return tmpl_ret_json(x, d, out) == 0 ? d : NULL;
}

/* Take KEY out of D without freeing it: other values may point into it. */
static int
detach(struct exec *x, cJSON *d, const char *key)
{
	cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(d, key);

	return old ? tmpl_keep_json(x, old) : 0;
}

/* set D K V, unset D K */
static int
s_set(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	const char *k;
	cJSON *d;
	int rc = need_map(x, c, a, 0);

	if (rc == 0)
		rc = key_arg(x, c, a, 1, &k);
	if (rc != 0)
		return rc;
	d = own_map(x, a, out);
	if (d == NULL)
		return -ENOMEM;
	rc = detach(x, d, k);
	if (rc == 0 && n == 3)
		rc = tmpl_add_val(x, d, k, a[2]);
	*out = (struct val){.k = V_MAP, .j = d};
	return rc;
}

/* dig K... DEFAULT D: the value at the path of keys through nested
 * maps, or DEFAULT when a key is missing. */
static int
s_dig(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	struct val v = a[n - 1];
	size_t i;
	int rc = need_map(x, c, a, n - 1);

	for (i = 0; i + 2 < n && rc == 0; i++) {
		const cJSON *it;
		const char *k;

		rc = key_arg(x, c, a, i, &k);
		if (rc != 0)
			break;
		if (v.k != V_MAP)
			return tmpl_cerr(x, c, "argument %zu: not a map on the way", i + 1);
		it = v.j ? cJSON_GetObjectItemCaseSensitive(v.j, k) : NULL;
		if (it == NULL) {
			*out = a[n - 2];
			return 0;
		}
		v = tmpl_to_val(it);
	}
	if (rc == 0)
		*out = v;
	return rc;
}

/* keys D..., values D (in key order) */
static int
s_keys(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	int values = c->fn->name[6] == 'v';
	cJSON *l = new_list(x, out);
	size_t i, k, nm;
	int rc = l ? 0 : -ENOMEM;

	for (i = 0; i < n && rc == 0; i++) {
		const cJSON **m = NULL;

		rc = need_map(x, c, a, i);
		if (rc == 0 && tmpl_sorted_members(a[i].j, &m, &nm) != 0)
			return tmpl_xoom(x);
		for (k = 0; rc == 0 && k < nm; k++)
			rc = tmpl_add_val(x, l, NULL, values ? tmpl_to_val(m[k]) :
					  vstr(m[k]->string, strlen(m[k]->string)));
		free((void *)m);
	}
	return rc;
}

/* pluck K D... */
static int
s_pluck(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	cJSON *l = new_list(x, out);
	const char *k;
	size_t i;
	int rc = l ? key_arg(x, c, a, 0, &k) : -ENOMEM;

	for (i = 1; i < n && rc == 0; i++) {
		const cJSON *it;

		rc = need_map(x, c, a, i);
		it = rc == 0 && a[i].j ? cJSON_GetObjectItemCaseSensitive(a[i].j, k)
				       : NULL;
		if (it != NULL)
			rc = tmpl_add_val(x, l, NULL, tmpl_to_val(it));
	}
	return rc;
}

/* pick D K..., omit D K... */
static int
s_pick(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	int pick = c->fn->name[6] == 'p';
	cJSON *d = cJSON_CreateObject();
	const cJSON *it;
	size_t i;
	int rc = need_map(x, c, a, 0);

	if (rc != 0) {
		cJSON_Delete(d);
		return rc;
	}
	rc = tmpl_ret_json(x, d, out);
	for (it = a[0].j ? a[0].j->child : NULL; it && rc == 0; it = it->next) {
		for (i = 1; i < n; i++) {
			const char *k;

			rc = key_arg(x, c, a, i, &k);
			if (rc != 0 || strcmp(k, it->string) == 0)
				break;
		}
		if (rc == 0 && (i < n) == pick)
			rc = tmpl_add_val(x, d, it->string, tmpl_to_val(it));
	}
	return rc;
}

/* merge DST SRC..., mergeOverwrite DST SRC... */
static int
s_merge(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	int over = strcmp(c->fn->name, "sprig_mergeOverwrite") == 0;
	cJSON *d;
	size_t i;
	int rc = need_map(x, c, a, 0);

	for (i = 1; i < n && rc == 0; i++)
		rc = need_map(x, c, a, i);
	if (rc != 0)
		return rc;
	d = own_map(x, a, out);
	if (d == NULL)
		return -ENOMEM;
	for (i = 1; i < n && rc == 0; i++)
		rc = tmpl_merge_into(x, d, a[i].j, over);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Math: int64, as Sprig                                               */

static int
s_math(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *op = c->fn->name + 6;
	uint64_t r = (uint64_t)to_int64(a[0]);
	long long q;
	size_t i;

	if (op[0] == 'b')
		op = "max";	/* biggest */
	if (strcmp(op, "add1") == 0) {
		*out = vnum((double)(int64_t)(r + 1));
		return 0;
	}
	if (strcmp(op, "add") == 0)
		r = 0;
	for (i = strcmp(op, "add") == 0 ? 0 : 1; i < n; i++) {
		long long v = to_int64(a[i]);

		switch (op[0]) {
		case 'a': r += (uint64_t)v; break;
		case 's': r -= (uint64_t)v; break;
		case 'm':
			if (op[1] == 'u') {
				r *= (uint64_t)v;
				break;
			}
			if (op[1] == 'a' || op[1] == 'i') {
				if (op[1] == 'a' ? v > (int64_t)r : v < (int64_t)r)
					r = (uint64_t)v;
				break;
			}
			/* mod: */
			/* FALLTHROUGH */
		case 'd':
			if (v == 0)
				return tmpl_cerr(x, c, "runtime error: integer divide by zero");
			q = (int64_t)r;
			if (v == -1)
				r = op[0] == 'd' ? (uint64_t)0 - r : 0;
			else
				r = (uint64_t)(op[0] == 'd' ? q / v : q % v);
			break;
		default:
			break;
		}
	}
	*out = vnum((double)(int64_t)r);
	return 0;
}

/*
 * 10^P without libm's pow(), so the small build loads libc alone: exact
 * up to 10^22 and correctly rounded below 10^-22 like pow(); past the
 * double range it is inf or 0, as pow() is.
 */
static double
pow10_of(long long p)
{
	double r = 1;
	long long i, m = p < 0 ? -p : p;

	for (i = 0; i < m && i < 400; i++)
		r *= 10;
	return p < 0 ? 1 / r : r;
}

/* floor, ceil, round VAL PLACES [ROUNDON], maxf, minf */
static int
s_fmath(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	const char *op = c->fn->name + 6;
	double v = to_float64(a[0]);
	size_t i;

	if (strcmp(op, "floor") == 0) {
		*out = vnum(fm_floor(v));
	} else if (strcmp(op, "ceil") == 0) {
		*out = vnum(fm_ceil(v));
	} else if (strcmp(op, "round") == 0) {
		long long p;
		double pow10, digit, ip, on = n > 2 ? to_float64(a[2]) : 0.5;
		int rc = tmpl_arg_int(x, c, a, 1, &p);

		if (rc != 0)
			return rc;
		pow10 = pow10_of(p);
		digit = pow10 * v;
		/* Go's math.Modf: the fraction keeps the sign of DIGIT. */
		ip = digit < 0 ? fm_ceil(digit) : fm_floor(digit);
		*out = vnum((digit - ip >= on ? fm_ceil(digit) : fm_floor(digit)) /
			    pow10);
	} else {
		int max = op[1] == 'a';

		/* Go's math.Max and math.Min, without libm's fmax and fmin:
		 * NaN wins, and +0 is above -0. */
		for (i = 1; i < n; i++) {
			double w = to_float64(a[i]);

			if (isnan(v) || isnan(w))
				v = isnan(v) ? v : w;
			else if (v == w)
				v = (signbit(v) != 0) == max ? w : v;
			else if (max ? w > v : w < v)
				v = w;
		}
		*out = vnum(v);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Dates: Unix seconds, UTC                                             */

static long long
now_of(const struct exec *x)
{
	return x->env->now ? x->env->now : (long long)time(NULL);
}

static int
s_now(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	(void)c, (void)a, (void)n;
	*out = vnum((double)now_of(x));
	return 0;
}

/* date FMT DATE, dateInZone FMT DATE ZONE: DATE a Unix time (anything
 * else is now, as Sprig); ZONE "UTC" or "". */
static int
s_date(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *f, *zone = "UTC";
	size_t flen;
	time_t t;
	struct tm tm;
	int rc = tmpl_arg_str(x, c, a, 0, &f, &flen);

	if (rc == 0 && n == 3)
		rc = tmpl_arg_cstr(x, c, a, 2, &zone);
	if (rc != 0)
		return rc;
	if (strcmp(zone, "UTC") != 0 && strcmp(zone, "") != 0 &&
	    strcmp(zone, "Etc/UTC") != 0)
		return tmpl_cerr(x, c, "only the UTC time zone is supported");
	t = (time_t)(a[1].k == V_NUM && is_int(a[1].n) ? (long long)a[1].n
						       : now_of(x));
	if (gmtime_r(&t, &tm) == NULL)
		return tmpl_cerr(x, c, "time out of range");
	tmpl_go_time(&b, f, flen, &tm);
	return tmpl_fn_result(x, c, &b, out);
}

static int
s_unixEpoch(struct exec *x, const struct call *c, const struct val *a,
	    size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);

	(void)n;
	if (a[0].k != V_NUM)
		return tmpl_cerr(x, c, "argument 1 must be a time (sprig_now), not %s",
				 tmpl_type_name(a[0]));
	buf_printf(&b, "%lld", (long long)a[0].n);
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Hashes, random, UUIDs                                               */

static int
s_sum(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	const char *name = c->fn->name + 6, *s;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct buf b = tmpl_fn_buf(x);
	size_t len, k;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (name[0] == 'a') {
		uint32_t s1 = 1, s2 = 0;

		for (k = 0; k < len; k++) {
			s1 = (s1 + (unsigned char)s[k]) % 65521;
			s2 = (s2 + s1) % 65521;
		}
		buf_printf(&b, "%u", (unsigned)((s2 << 16) | s1));
		return tmpl_fn_result(x, c, &b, out);
	}
	if (EVP_Digest(s, len, md, &mdlen,
		       name[3] == '1' ? EVP_sha1() :
		       name[3] == '2' ? EVP_sha256() : EVP_sha512(), NULL) != 1)
		return tmpl_cerr(x, c, "digest failed");
	for (i = 0; i < mdlen; i++)
		buf_printf(&b, "%02x", md[i]);
	return tmpl_fn_result(x, c, &b, out);
}

/* randAlphaNum N, randAlpha N, randNumeric N, randAscii N */
static int
s_rand(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	static const char alnum[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const char *name = c->fn->name + 10, *set;
	struct buf b = tmpl_fn_buf(x);
	unsigned char r[256];
	size_t setlen, i;
	long long cnt, got = 0;
	int rc = tmpl_arg_int(x, c, a, 0, &cnt);

	(void)n;
	if (rc != 0)
		return rc;
	if (cnt < 0 || cnt > RAND_MAXLEN)
		return tmpl_cerr(x, c, "count must be between 0 and %d", RAND_MAXLEN);
	if (strcmp(name, "AlphaNum") == 0)
		set = alnum, setlen = 62;
	else if (strcmp(name, "Alpha") == 0)
		set = alnum + 10, setlen = 52;
	else if (strcmp(name, "Numeric") == 0)
		set = alnum, setlen = 10;
	else
		set = NULL, setlen = 95;	/* ' ' to '~' */
	while (got < cnt && b.err == 0) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return tmpl_cerr(x, c, "no random bytes");
		for (i = 0; i < sizeof(r) && got < cnt; i++) {
			if (r[i] >= 256 - 256 % setlen)
				continue;	/* rejection keeps it uniform */
			buf_putc(&b, set ? set[r[i] % setlen] : (char)(' ' + r[i] % setlen));
			got++;
		}
	}
	return tmpl_fn_result(x, c, &b, out);
}

static int
s_uuidv4(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	unsigned char u[16];
	int i;

	(void)a, (void)n;
	if (RAND_bytes(u, sizeof(u)) != 1)
		return tmpl_cerr(x, c, "no random bytes");
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf_putc(&b, '-');
		buf_printf(&b, "%02x", u[i]);
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* Regular expressions, Environment, fail                               */

static int
s_regexMatch(struct exec *x, const struct call *c, const struct val *a,
	     size_t n, struct val *out)
{
	return tmpl_fn_regexMatch(x, c, a, n, out);
}

/* regexReplaceAll RE S REPL: Sprig's order, not consul-template's. */
static int
s_regexReplaceAll(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	struct val b[3] = {a[0], a[2], a[1]};

	(void)n;
	return tmpl_fn_regexReplaceAll(x, c, b, 3, out);
}

static int
s_env(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	return tmpl_fn_env(x, c, a, n, out);
}

static int
s_fail(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *s;
	int rc = tmpl_arg_cstr(x, c, a, 0, &s);

	(void)n, (void)out;
	if (rc != 0)
		return rc;
	x->fatal = 1;
	return tmpl_cerr(x, c, "%.200s", s);
}

/* regexReplaceAllLiteral RE S REPL, in consul-template's order. */
static int
s_regexReplaceAllLiteral(struct exec *x, const struct call *c,
			 const struct val *a, size_t n, struct val *out)
{
	return s_regexReplaceAll(x, c, a, n, out);
}

/* toJson's twins: mustToJson, mustToPrettyJson (an error for NaN), and
 * toRawJson, mustToRawJson (no HTML escaping). */
static int
s_json_must(struct exec *x, const struct call *c, const struct val *a,
	    size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);

	(void)n;
	if (strstr(c->fn->name, "Raw") != NULL)	/* Go panics on NaN: an error */
		return tmpl_fn_toUnescapedJSON(x, c, a, 1, out);
	if (tmpl_json_val(&b, a[0], strstr(c->fn->name, "Pretty") != NULL, 0) != 0) {
		buf_free(&b);
		return tmpl_cerr(x, c, "json: unsupported value (NaN or infinity)");
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* fromJson S (nil when S is not JSON), mustFromJson S (an error). */
static int
s_fromJson(struct exec *x, const struct call *c, const struct val *a,
	   size_t n, struct val *out)
{
	const char *s, *end = NULL;
	size_t len;
	cJSON *j;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (j != NULL) {
		/* Only white space may follow the value. */
		size_t rest = len - (size_t)(end - s);

		while (rest > 0 && (*end == ' ' || *end == '\t' || *end == '\n' ||
				    *end == '\r'))
			end++, rest--;
		if (rest > 0) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	if (j == NULL) {
		if (strcmp(c->fn->name, "sprig_mustFromJson") == 0)
			return tmpl_cerr(x, c, "invalid JSON");
		*out = vnil();
		return 0;
	}
	return tmpl_ret_json(x, j, out);
}

/* path.Clean of S into B. */
static void
path_clean(struct buf *b, const char *p, size_t n)
{
	size_t r = 0, w, dotdot = 0, start = b->len;
	int rooted = n > 0 && p[0] == '/';

	if (n == 0) {
		buf_putc(b, '.');
		return;
	}
	if (rooted) {
		buf_putc(b, '/');
		r = 1;
		dotdot = 1;
	}
	while (r < n && b->err == 0) {
		w = b->len - start;
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && b->s[start + w] != '/')
					w--;
				b->len = start + w;
			} else if (!rooted) {
				if (w > 0)
					buf_putc(b, '/');
				buf_puts(b, "..");
				dotdot = b->len - start;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				buf_putc(b, '/');
			for (; r < n && p[r] != '/'; r++)
				buf_putc(b, p[r]);
		}
	}
	if (b->len == start)
		buf_putc(b, '.');
}

/* base, dir, ext, clean, isAbs: Go's path package (slashes only). */
static int
s_path(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	const char *name = c->fn->name + 6, *p;
	struct buf b = tmpl_fn_buf(x);
	size_t len, i;
	int rc = tmpl_arg_str(x, c, a, 0, &p, &len);

	(void)n;
	if (rc != 0)
		return rc;
	switch (name[0]) {
	case 'i':
		*out = vbool(len > 0 && p[0] == '/');
		return 0;
	case 'c':
		path_clean(&b, p, len);
		break;
	case 'e':
		for (i = len; i-- > 0 && p[i] != '/';) {
			if (p[i] == '.') {
				buf_append(&b, p + i, len - i);
				break;
			}
		}
		break;
	case 'd':
		for (i = len; i > 0 && p[i - 1] != '/'; i--)
			;
		path_clean(&b, p, i);
		break;
	default:	/* base */
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == 0) {
			buf_puts(&b, *p == '/' ? "/" : ".");
			break;
		}
		for (i = len; i > 0 && p[i - 1] != '/'; i--)
			;
		buf_append(&b, p + i, len - i);
		break;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

/* Sorted by name (strcmp), for bsearch. */
static const struct func sprig_funcs[] = {
	{"sprig_add", 0, -1, 0, s_math},
	{"sprig_add1", 1, 1, 0, s_math},
	{"sprig_adler32sum", 1, 1, 0, s_sum},
	{"sprig_all", 0, -1, 0, s_coalesce},
	{"sprig_any", 0, -1, 0, s_coalesce},
	{"sprig_append", 2, 2, 0, s_push},
	{"sprig_atoi", 1, 1, 0, s_atoi},
	{"sprig_b64dec", 1, 1, 0, s_b64},
	{"sprig_b64enc", 1, 1, 0, s_b64},
	{"sprig_base", 1, 1, 0, s_path},
	{"sprig_biggest", 1, -1, 0, s_math},
	{"sprig_cat", 0, -1, 0, s_cat},
	{"sprig_ceil", 1, 1, 0, s_fmath},
	{"sprig_clean", 1, 1, 0, s_path},
	{"sprig_coalesce", 0, -1, 0, s_coalesce},
	{"sprig_compact", 1, 1, 0, s_listop},
	{"sprig_concat", 0, -1, 0, s_concat},
	{"sprig_contains", 2, 2, 0, s_contains},
	{"sprig_date", 2, 2, 0, s_date},
	{"sprig_dateInZone", 3, 3, 0, s_date},
	{"sprig_date_in_zone", 3, 3, 0, s_date},
	{"sprig_default", 1, 2, 0, s_default},
	{"sprig_dict", 0, -1, 0, s_dict},
	{"sprig_dig", 3, -1, 0, s_dig},
	{"sprig_dir", 1, 1, 0, s_path},
	{"sprig_div", 2, 2, 0, s_math},
	{"sprig_empty", 1, 1, 0, s_empty},
	{"sprig_env", 1, 1, 0, s_env},
	{"sprig_ext", 1, 1, 0, s_path},
	{"sprig_fail", 1, 1, 0, s_fail},
	{"sprig_first", 1, 1, 0, s_listop},
	{"sprig_float64", 1, 1, 0, s_float64},
	{"sprig_floor", 1, 1, 0, s_fmath},
	{"sprig_fromJson", 1, 1, 0, s_fromJson},
	{"sprig_get", 2, 2, 0, s_get},
	{"sprig_has", 2, 2, 0, s_has},
	{"sprig_hasKey", 2, 2, 0, s_hasKey},
	{"sprig_hasPrefix", 2, 2, 0, s_contains},
	{"sprig_hasSuffix", 2, 2, 0, s_contains},
	{"sprig_indent", 2, 2, 0, s_indent},
	{"sprig_initial", 1, 1, 0, s_listop},
	{"sprig_int", 1, 1, 0, s_int},
	{"sprig_int64", 1, 1, 0, s_int},
	{"sprig_isAbs", 1, 1, 0, s_path},
	{"sprig_join", 2, 2, 0, s_join},
	{"sprig_keys", 1, -1, 0, s_keys},
	{"sprig_last", 1, 1, 0, s_listop},
	{"sprig_list", 0, -1, 0, s_list},
	{"sprig_lower", 1, 1, 0, s_case},
	{"sprig_max", 1, -1, 0, s_math},
	{"sprig_maxf", 1, -1, 0, s_fmath},
	{"sprig_merge", 1, -1, 0, s_merge},
	{"sprig_mergeOverwrite", 1, -1, 0, s_merge},
	{"sprig_min", 1, -1, 0, s_math},
	{"sprig_minf", 1, -1, 0, s_fmath},
	{"sprig_mod", 2, 2, 0, s_math},
	{"sprig_mul", 1, -1, 0, s_math},
	{"sprig_mustFromJson", 1, 1, 0, s_fromJson},
	{"sprig_mustRegexFind", 2, 2, 0, tmpl_fn_regexFind},
	{"sprig_mustRegexFindAll", 3, 3, 0, tmpl_fn_regexFind},
	{"sprig_mustRegexMatch", 2, 2, 0, s_regexMatch},
	{"sprig_mustRegexReplaceAll", 3, 3, 0, s_regexReplaceAll},
	{"sprig_mustRegexReplaceAllLiteral", 3, 3, 0, s_regexReplaceAllLiteral},
	{"sprig_mustRegexSplit", 3, 3, 0, tmpl_fn_regexFind},
	{"sprig_mustToJson", 1, 1, 0, s_json_must},
	{"sprig_mustToPrettyJson", 1, 1, 0, s_json_must},
	{"sprig_mustToRawJson", 1, 1, 0, s_json_must},
	{"sprig_nindent", 2, 2, 0, s_indent},
	{"sprig_nospace", 1, 1, 0, s_nospace},
	{"sprig_now", 0, 0, 0, s_now},
	{"sprig_omit", 1, -1, 0, s_pick},
	{"sprig_pick", 1, -1, 0, s_pick},
	{"sprig_pluck", 1, -1, 0, s_pluck},
	{"sprig_plural", 3, 3, 0, s_plural},
	{"sprig_prepend", 2, 2, 0, s_push},
	{"sprig_push", 2, 2, 0, s_push},
	{"sprig_quote", 0, -1, 0, s_quote},
	{"sprig_randAlpha", 1, 1, 0, s_rand},
	{"sprig_randAlphaNum", 1, 1, 0, s_rand},
	{"sprig_randAscii", 1, 1, 0, s_rand},
	{"sprig_randNumeric", 1, 1, 0, s_rand},
	{"sprig_regexFind", 2, 2, 0, tmpl_fn_regexFind},
	{"sprig_regexFindAll", 3, 3, 0, tmpl_fn_regexFind},
	{"sprig_regexMatch", 2, 2, 0, s_regexMatch},
	{"sprig_regexQuoteMeta", 1, 1, 0, tmpl_fn_regexQuoteMeta},
	{"sprig_regexReplaceAll", 3, 3, 0, s_regexReplaceAll},
	{"sprig_regexReplaceAllLiteral", 3, 3, 0, s_regexReplaceAllLiteral},
	{"sprig_regexSplit", 3, 3, 0, tmpl_fn_regexFind},
	{"sprig_repeat", 2, 2, 0, s_repeat},
	{"sprig_replace", 3, 3, 0, s_replace},
	{"sprig_rest", 1, 1, 0, s_listop},
	{"sprig_reverse", 1, 1, 0, s_listop},
	{"sprig_round", 2, 3, 0, s_fmath},
	{"sprig_seq", 0, 3, 0, s_seq},
	{"sprig_set", 3, 3, 0, s_set},
	{"sprig_sha1sum", 1, 1, 0, s_sum},
	{"sprig_sha256sum", 1, 1, 0, s_sum},
	{"sprig_sha512sum", 1, 1, 0, s_sum},
	{"sprig_sortAlpha", 1, 1, 0, s_strlist},
	{"sprig_split", 2, 2, 0, s_split},
	{"sprig_splitList", 2, 2, 0, s_split},
	{"sprig_squote", 0, -1, 0, s_quote},
	{"sprig_sub", 2, 2, 0, s_math},
	{"sprig_substr", 3, 3, 0, s_substr},
	{"sprig_ternary", 3, 3, 0, s_ternary},
	{"sprig_title", 1, 1, 0, s_case},
	{"sprig_toJson", 1, 1, 0, s_json},
	{"sprig_toPrettyJson", 1, 1, 0, s_json},
	{"sprig_toRawJson", 1, 1, 0, s_json_must},
	{"sprig_toString", 1, 1, 0, s_toString},
	{"sprig_toStrings", 1, 1, 0, s_strlist},
	{"sprig_trim", 1, 1, 0, s_trim},
	{"sprig_trimAll", 2, 2, 0, tmpl_fn_trim},
	{"sprig_trimPrefix", 2, 2, 0, tmpl_fn_trim},
	{"sprig_trimSuffix", 2, 2, 0, tmpl_fn_trim},
	{"sprig_trimall", 2, 2, 0, tmpl_fn_trim},
	{"sprig_trunc", 2, 2, 0, s_trunc},
	{"sprig_tuple", 0, -1, 0, s_list},
	{"sprig_uniq", 1, 1, 0, s_listop},
	{"sprig_unixEpoch", 1, 1, 0, s_unixEpoch},
	{"sprig_unset", 2, 2, 0, s_set},
	{"sprig_until", 1, 1, 0, s_until},
	{"sprig_untilStep", 3, 3, 0, s_until},
	{"sprig_untitle", 1, 1, 0, s_case},
	{"sprig_upper", 1, 1, 0, s_case},
	{"sprig_uuidv4", 0, 0, 0, s_uuidv4},
	{"sprig_values", 1, 1, 0, s_keys},
	{"sprig_without", 1, -1, 0, s_without},
};

const struct func *
tmpl_find_func_sprig(const char *name)
{
	return tmpl_find_func_table(name, sprig_funcs,
				    sizeof(sprig_funcs) / sizeof(sprig_funcs[0]));
}
