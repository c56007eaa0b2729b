/*
 * funcs.c: the function table, and the functions that compute only with
 * their arguments: Go's built-ins (and, or, not, eq, ne, lt, le, gt, ge,
 * len, index, print, printf, println, html, js, urlquery) and
 * consul-template's string and list functions (split, join, replaceAll,
 * trimSpace, toLower, toUpper, contains, toJSON, toJSONPretty).
 *
 * DESIGN / invariants:
 *  - One table, sorted by name, for every function of the engine; the
 *    parser resolves names against it and checks argument counts, so an
 *    implementation may rely on getting between min and max arguments.
 *  - No argument is ever pending here: the executor passes a pending
 *    value on without calling the function (and, or excepted, which are
 *    lazy and only look at truth).
 *  - A string a function builds is capped by the output limit and owned
 *    by the execution (tmpl_fn_result); a result may also be a slice of
 *    an argument, which lives at least as long.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"

/*
 * Numbers are accepted and printed, as Vault's numbers are strings
 * (json.Number) to consul-template's functions.
 */
int
tmpl_arg_str(struct exec *x, const struct call *c, const struct val *a, size_t i,
	     const char **s, size_t *len)
{
	struct buf b;
	struct val v;
	int rc;

	if (a[i].k == V_STR) {
		*s = a[i].s;
		*len = a[i].len;
		return 0;
	}
	if (a[i].k != V_NUM)
		return tmpl_cerr(x, c, "argument %zu must be a string, not %s", i + 1,
				 tmpl_type_name(a[i]));
	b = tmpl_fn_buf(x);
	tmpl_put_num(&b, a[i].n, 'j');
	rc = tmpl_fn_result(x, c, &b, &v);
	if (rc == 0) {
		*s = v.s;
		*len = v.len;
	}
	return rc;
}

int
tmpl_arg_cstr(struct exec *x, const struct call *c, const struct val *a, size_t i,
	      const char **s)
{
	size_t len;
	int rc = tmpl_arg_str(x, c, a, i, s, &len);

	if (rc == 0 && memchr(*s, '\0', len) != NULL)
		return tmpl_cerr(x, c, "argument %zu holds a NUL byte", i + 1);
	return rc;
}

static int
fn_not(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	(void)x, (void)c, (void)n;
	*out = vbool(!tmpl_truth(a[0]));
	return 0;
}

static int
basic(enum vkind k)
{
	return k == V_BOOL || k == V_NUM || k == V_STR;
}

/* Go's eq: ARG1 equals any of the others; mixed basic kinds are an error. */
static int
fn_eq(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	size_t i;
	int eq = 0;

	for (i = 1; i < n && !eq; i++) {
		const struct val *p = &a[0], *q = &a[i];

		if (p->k == V_NIL || q->k == V_NIL) {
			eq = p->k == q->k;
		} else if (!basic(p->k) || !basic(q->k)) {
			return tmpl_cerr(x, c, "non-comparable type %s",
					 tmpl_type_name(basic(p->k) ? *q : *p));
		} else if (p->k != q->k) {
			return tmpl_cerr(x, c, "incompatible types for comparison");
		} else if (p->k == V_BOOL) {
			eq = p->b == q->b;
		} else if (p->k == V_NUM) {
			eq = p->n == q->n;
		} else {
			eq = p->len == q->len && memcmp(p->s, q->s, p->len) == 0;
		}
	}
	*out = vbool(eq);
	return 0;
}

static int
fn_ne(struct exec *x, const struct call *c, const struct val *a, size_t n,
      struct val *out)
{
	int rc = fn_eq(x, c, a, n, out);

	if (rc == 0)
		out->b = !out->b;
	return rc;
}

/* lt, le, gt, ge: numbers with numbers, strings with strings. */
static int
fn_order(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	const char *op = c->fn->name;
	int r;

	(void)n;
	if ((a[0].k != V_NUM && a[0].k != V_STR) ||
	    (a[1].k != V_NUM && a[1].k != V_STR))
		return tmpl_cerr(x, c, "invalid type for comparison");
	if (a[0].k != a[1].k)
		return tmpl_cerr(x, c, "incompatible types for comparison");
	if (a[0].k == V_NUM) {
		r = a[0].n < a[1].n ? -1 : a[0].n > a[1].n;
	} else {
		size_t m = a[0].len < a[1].len ? a[0].len : a[1].len;

		r = memcmp(a[0].s, a[1].s, m);
		if (r == 0)
			r = a[0].len < a[1].len ? -1 : a[0].len > a[1].len;
	}
	if (op[0] == 'l')
		*out = vbool(op[1] == 't' ? r < 0 : r <= 0);
	else
		*out = vbool(op[1] == 't' ? r > 0 : r >= 0);
	return 0;
}

static int
fn_len(struct exec *x, const struct call *c, const struct val *a, size_t n,
       struct val *out)
{
	(void)n;
	switch (a[0].k) {
	case V_STR:
		*out = vnum((double)a[0].len);
		return 0;
	case V_MAP:
	case V_LIST:
		*out = vnum((double)tmpl_jcount(a[0].j));
		return 0;
	case V_NIL:
		return tmpl_cerr(x, c, "len of nil");
	default:
		return tmpl_cerr(x, c, "len of type %s", tmpl_type_name(a[0]));
	}
}

static int
fn_index(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct val v = a[0];
	size_t i;

	for (i = 1; i < n; i++) {
		const struct val *k = &a[i];
		double idx = k->n;

		switch (v.k) {
		case V_NIL:
			return tmpl_cerr(x, c, "index of untyped nil");
		case V_MAP:
			if (k->k != V_STR)
				return tmpl_cerr(x, c, "map key must be a string, not %s",
						 tmpl_type_name(*k));
			v = tmpl_to_val(v.j ? cJSON_GetObjectItemCaseSensitive(v.j, k->s)
				       : NULL);
			break;
		case V_LIST:
		case V_STR:
			if (k->k != V_NUM || !is_int(idx))
				return tmpl_cerr(x, c, "cannot index %s with type %s",
						 tmpl_type_name(v), tmpl_type_name(*k));
			if (idx < 0 || idx >= (double)(v.k == V_STR ? v.len :
						       tmpl_jcount(v.j)))
				return tmpl_cerr(x, c, "index out of range: %.0f", idx);
			if (v.k == V_STR)
				v = vnum((unsigned char)v.s[(size_t)idx]);
			else
				v = tmpl_to_val(cJSON_GetArrayItem(v.j, (int)idx));
			break;
		default:
			return tmpl_cerr(x, c, "can't index item of type %s",
					 tmpl_go_type(v));
		}
	}
	*out = v;
	return 0;
}

/* print, println, and the escapers' input: Go's evalArgs. */
static int
fn_print(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	struct buf b = tmpl_fn_buf(x);

	tmpl_sprint(&b, a, n, strcmp(c->fn->name, "println") == 0);
	return tmpl_fn_result(x, c, &b, out);
}

static int
fn_printf(struct exec *x, const struct call *c, const struct val *a, size_t n,
	  struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *f;
	size_t flen;
	int rc = tmpl_arg_str(x, c, a, 0, &f, &flen);

	if (rc != 0)
		return rc;
	tmpl_sprintf(&b, f, flen, a + 1, n - 1);
	return tmpl_fn_result(x, c, &b, out);
}

/* html, js, urlquery: the arguments as one string, escaped. */
static int
fn_escape(struct exec *x, const struct call *c, const struct val *a,
	  size_t n, struct val *out)
{
	struct buf in = tmpl_fn_buf(x), b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i;
	int kind = c->fn->name[0];

	if (n == 1 && a[0].k == V_NIL) {
		s = "<no value>", len = 10;
	} else if (n == 1 && a[0].k == V_STR) {
		s = a[0].s, len = a[0].len;
	} else {
		tmpl_sprint(&in, a, n, 0);
		s = in.s ? in.s : "", len = in.len;
		b.err = in.err;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (kind == 'h') {
			switch (ch) {
			case '"': buf_puts(&b, "&#34;"); break;
			case '\'': buf_puts(&b, "&#39;"); break;
			case '&': buf_puts(&b, "&amp;"); break;
			case '<': buf_puts(&b, "&lt;"); break;
			case '>': buf_puts(&b, "&gt;"); break;
			case '\0': buf_puts(&b, "\xef\xbf\xbd"); break;
			default: buf_putc(&b, (char)ch);
			}
		} else if (kind == 'j') {
			switch (ch) {
			case '\\': buf_puts(&b, "\\\\"); break;
			case '\'': buf_puts(&b, "\\'"); break;
			case '"': buf_puts(&b, "\\\""); break;
			case '<': buf_puts(&b, "\\u003C"); break;
			case '>': buf_puts(&b, "\\u003E"); break;
			case '&': buf_puts(&b, "\\u0026"); break;
			case '=': buf_puts(&b, "\\u003D"); break;
			default:
				if (ch < 0x20)
					buf_printf(&b, "\\u%04X", ch);
				else
					buf_putc(&b, (char)ch);
			}
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   is_digit(ch) || ch == '-' || ch == '_' || ch == '.' ||
			   ch == '~') {
			buf_putc(&b, (char)ch);
		} else if (ch == ' ') {
			buf_putc(&b, '+');
		} else {
			buf_printf(&b, "%%%02X", ch);
		}
	}
	buf_free(&in);
	return tmpl_fn_result(x, c, &b, out);
}

static int
is_go_space(const char *s, size_t n, size_t *k)
{
	unsigned char ch = (unsigned char)s[0];

	*k = 1;
	if (ch == ' ' || (ch >= '\t' && ch <= '\r'))
		return 1;
	if (n >= 2 && ch == 0xC2 && ((unsigned char)s[1] == 0x85 ||
				     (unsigned char)s[1] == 0xA0)) {
		*k = 2;
		return 1;
	}
	return 0;
}

/* strings.TrimSpace (ASCII white space, NEL and NBSP). */
void
tmpl_trim_space(const char **s, size_t *len)
{
	size_t k;

	while (*len > 0 && is_go_space(*s, *len, &k)) {
		*s += k;
		*len -= k;
	}
	while (*len > 0) {
		if (is_go_space(*s + *len - 1, 1, &k)) {
			*len -= 1;
		} else if (*len >= 2 && is_go_space(*s + *len - 2, 2, &k) && k == 2) {
			*len -= 2;
		} else {
			break;
		}
	}
}

static int
fn_trimSpace(struct exec *x, const struct call *c, const struct val *a,
	     size_t n, struct val *out)
{
	const char *s;
	size_t len;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	tmpl_trim_space(&s, &len);
	*out = vstr(s, len);	/* a slice of the argument, NUL or not */
	if (s[len] != '\0') {
		char *d = malloc(len + 1);

		if (d == NULL)
			return tmpl_xoom(x);
		memcpy(d, s, len);
		d[len] = '\0';
		*out = vstr(d, len);
		return tmpl_keep(x, d);
	}
	return 0;
}

static int
fn_case(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	int upper = c->fn->name[2] == 'U';
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (upper && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!upper && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		buf_putc(&b, ch);
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* split SEP STRING: consul-template trims STRING; "" gives []. */
static int
fn_split(struct exec *x, const struct call *c, const struct val *a, size_t n,
	 struct val *out)
{
	const char *sep, *s;
	size_t seplen, len, i = 0;
	cJSON *list;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &sep, &seplen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc != 0)
		return rc;
	list = cJSON_CreateArray();
	rc = tmpl_keep_json(x, list);
	if (rc != 0)
		return rc;
	tmpl_trim_space(&s, &len);
	while (len > 0) {
		const char *e;
		size_t k;
		char *part;
		cJSON *item;

		if (seplen == 0) {
			uint32_t r;

			k = tmpl_utf8_dec(s + i, len - i, &r);
			e = s + i + k;
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
		item = cJSON_CreateString(part);
		free(part);
		if (item == NULL || !cJSON_AddItemToArray(list, item)) {
			cJSON_Delete(item);
			return tmpl_xoom(x);
		}
		i += k;
		if (i >= len)
			break;
		if (seplen > 0) {
			i += seplen;
			if (i == len) {
				item = cJSON_CreateString("");
				if (item == NULL || !cJSON_AddItemToArray(list, item)) {
					cJSON_Delete(item);
					return tmpl_xoom(x);
				}
				break;
			}
		}
	}
	*out = (struct val){.k = V_LIST, .j = list};
	return 0;
}

/* join SEP LIST */
static int
fn_join(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const cJSON *it;
	const char *sep;
	size_t seplen, i = 0;
	int rc = tmpl_arg_str(x, c, a, 0, &sep, &seplen);

	(void)n;
	if (rc != 0)
		return rc;
	if (a[1].k != V_LIST)
		return tmpl_cerr(x, c, "argument 2 must be a list, not %s",
				 tmpl_type_name(a[1]));
	for (it = a[1].j ? a[1].j->child : NULL; it != NULL; it = it->next, i++) {
		struct val v = tmpl_to_val(it);

		if (i > 0)
			buf_append(&b, sep, seplen);
		if (v.k == V_STR)
			buf_append(&b, v.s, v.len);
		else if (v.k == V_NUM)
			tmpl_put_num(&b, v.n, 'j');
		else {
			buf_free(&b);
			return tmpl_cerr(x, c, "element %zu is a %s, not a string",
					 i + 1, tmpl_type_name(v));
		}
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* replaceAll OLD NEW STRING, strings.Replace(STRING, OLD, NEW, -1). */
static int
fn_replaceAll(struct exec *x, const struct call *c, const struct val *a,
	      size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *old, *new, *s;
	size_t oldlen, newlen, len, i = 0;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 0, &old, &oldlen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 1, &new, &newlen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 2, &s, &len);
	if (rc != 0)
		return rc;
	if (oldlen == 0) {
		/* Go puts NEW before every rune and at the end. */
		while (i < len) {
			uint32_t r;
			size_t k = tmpl_utf8_dec(s + i, len - i, &r);

			buf_append(&b, new, newlen);
			buf_append(&b, s + i, k);
			i += k;
		}
		buf_append(&b, new, newlen);
		return tmpl_fn_result(x, c, &b, out);
	}
	while (i < len) {
		const char *e = memmem(s + i, len - i, old, oldlen);

		if (e == NULL) {
			buf_append(&b, s + i, len - i);
			break;
		}
		buf_append(&b, s + i, (size_t)(e - (s + i)));
		buf_append(&b, new, newlen);
		i = (size_t)(e - s) + oldlen;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/*
 * contains NEEDLE HAYSTACK, consul-template's reversed "in": an element
 * of a list (string or number, same type), or a substring of a string.
 * Anything else, maps included, does not contain it.
 */
static int
fn_contains(struct exec *x, const struct call *c, const struct val *a,
	    size_t n, struct val *out)
{
	const struct val *needle = &a[0], *hay = &a[1];
	const cJSON *it;
	int found = 0;

	(void)x, (void)c, (void)n;
	if (hay->k == V_LIST) {
		for (it = hay->j ? hay->j->child : NULL; it && !found; it = it->next) {
			struct val v = tmpl_to_val(it);

			if (v.k == V_NUM && needle->k == V_NUM)
				found = v.n == needle->n;
			else if (v.k == V_STR && needle->k == V_STR)
				found = v.len == needle->len &&
					memcmp(v.s, needle->s, v.len) == 0;
		}
	} else if (hay->k == V_STR && needle->k == V_STR) {
		found = needle->len == 0 ||
			memmem(hay->s, hay->len, needle->s, needle->len) != NULL;
	}
	*out = vbool(found);
	return 0;
}

static int
fn_json(struct exec *x, const struct call *c, const struct val *a, size_t n,
	struct val *out)
{
	struct buf b = tmpl_fn_buf(x);

	(void)n;
	if (tmpl_json_val(&b, a[0], strcmp(c->fn->name, "toJSONPretty") == 0, 0) != 0) {
		buf_free(&b);
		return tmpl_cerr(x, c, "unsupported value (NaN or infinity)");
	}
	return tmpl_fn_result(x, c, &b, out);
}

/* Sorted by name; the lookup is a linear scan at parse time. */
static const struct func funcs[] = {
	{"and", 1, -1, 1, NULL},
	{"base64Decode", 1, 1, 0, tmpl_fn_base64Decode},
	{"base64Encode", 1, 1, 0, tmpl_fn_base64Encode},
	{"certFingerprint", 1, 1, 0, tmpl_fn_certFingerprint},
	{"certNotAfter", 1, 1, 0, tmpl_fn_certNotAfter},
	{"certSANs", 1, 1, 0, tmpl_fn_certSANs},
	{"certSerial", 1, 1, 0, tmpl_fn_certSerial},
	{"call", 1, -1, 0, tmpl_fn_call},
	{"contains", 2, 2, 0, fn_contains},
	{"env", 1, 1, 0, tmpl_fn_env},
	{"eq", 2, -1, 0, fn_eq},
	{"executeTemplate", 1, 2, 0, tmpl_fn_executeTemplate},
	{"file", 1, 1, 0, tmpl_fn_file},
	{"ge", 2, 2, 0, fn_order},
	{"gt", 2, 2, 0, fn_order},
	{"html", 0, -1, 0, fn_escape},
	{"index", 1, -1, 0, fn_index},
	{"join", 2, 2, 0, fn_join},
	{"js", 0, -1, 0, fn_escape},
	{"le", 2, 2, 0, fn_order},
	{"len", 1, 1, 0, fn_len},
	{"lt", 2, 2, 0, fn_order},
	{"ne", 2, 2, 0, fn_ne},
	{"not", 1, 1, 0, fn_not},
	{"or", 1, -1, 1, NULL},
	{"pkcs12", 3, 4, 0, tmpl_fn_pkcs12},
	{"parseJSON", 1, 1, 0, tmpl_fn_parseJSON},
	{"pkiCert", 1, -1, 0, tmpl_fn_fetch},
	{"print", 0, -1, 0, fn_print},
	{"printf", 1, -1, 0, fn_printf},
	{"println", 0, -1, 0, fn_print},
	{"replaceAll", 3, 3, 0, fn_replaceAll},
	{"secret", 1, -1, 0, tmpl_fn_fetch},
	{"secrets", 1, 1, 0, tmpl_fn_fetch},
	{"sha256Hex", 1, 1, 0, tmpl_fn_sha256Hex},
	{"slice", 1, -1, 0, tmpl_fn_slice},
	{"spkiPin", 1, 2, 0, tmpl_fn_spkiPin},
	{"split", 2, 2, 0, fn_split},
	{"timestamp", 0, 1, 0, tmpl_fn_timestamp},
	{"toJSON", 1, 1, 0, fn_json},
	{"toJSONPretty", 1, 1, 0, fn_json},
	{"toLower", 1, 1, 0, fn_case},
	{"toUpper", 1, 1, 0, fn_case},
	{"trimSpace", 1, 1, 0, fn_trimSpace},
	{"urlquery", 0, -1, 0, fn_escape},
	{"writeToFile", 5, 6, 0, tmpl_fn_writeToFile},
};

const struct func *
tmpl_find_func(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strcmp(funcs[i].name, name) == 0)
			return &funcs[i];
	return tmpl_find_func_ct(name);	/* funcs_ct.c, funcs_sprig.c */
}
