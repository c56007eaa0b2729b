/*
 * funcs_toml.c: consul-template's toTOML, byte for byte what its
 * encoder (BurntSushi/toml v1.3.2, Encoder with its default two-space
 * indent) writes, trimmed of white space at both ends.
 *
 * DESIGN / invariants:
 *  - A map is a table: first its keys whose values are not tables, in
 *    sorted order, as "key = value" lines; then its sub-tables, sorted,
 *    each under a "[a.b]" header indented two spaces per level below
 *    the top (a blank line before a top-level header), and a list whose
 *    elements are all maps as "[[key]]" tables.  Anything else is
 *    inline: strings double-quoted with TOML's escapes, integral numbers
 *    as integers, others as Go's %f-shortest with ".0" added, lists as
 *    "[a, b]", maps inside them as "{k = v}".
 *  - Nil values and nil maps or lists are left out, as Go does; a list
 *    with a nil element cannot be written (an error, as in Go).
 *  - A Vault secret writes its fields under their Go names, in order.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define TOML_MAX_DEPTH 100

struct tenc {
	struct buf *b;
	int written;
	const char *err;
};

/* A key part: bare when it is only A-Z a-z 0-9 _ -, else quoted. */
static void
put_str(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\b': buf_puts(b, "\\b"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\f': buf_puts(b, "\\f"); break;
		case '\r': buf_puts(b, "\\r"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void
put_key(struct buf *b, const char *k)
{
	size_t i, n = strlen(k);

	for (i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      is_digit(c) || c == '_' || c == '-'))
			break;
	}
	if (n > 0 && i == n)
		buf_append(b, k, n);
	else
		put_str(b, k, n);
}

/* strconv.FormatFloat(x, 'f', -1, 64): the shortest digits that read
 * back as X, without an exponent. */
static void
put_float(struct buf *b, double x)
{
	char e[40], digits[24];
	int prec, exp = 0, nd = 0, i;
	const char *p;

	if (isnan(x)) {
		buf_puts(b, "nan");
		return;
	}
	if (isinf(x)) {
		buf_puts(b, x > 0 ? "+inf" : "-inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, x);
		if (strtod(e, NULL) == x)
			break;
	}
	p = e;
	if (*p == '-') {
		buf_putc(b, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (is_digit(*p))
			digits[nd++] = *p;
	if (*p == 'e')
		exp = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	/* digits d0.d1d2... times 10^exp */
	if (exp < 0) {
		buf_puts(b, "0.");
		buf_fill(b, '0', (size_t)(-exp - 1));
		buf_append(b, digits, (size_t)nd);
		return;
	}
	for (i = 0; i <= exp; i++)
		buf_putc(b, i < nd ? digits[i] : '0');
	if (nd > exp + 1) {
		buf_putc(b, '.');
		buf_append(b, digits + exp + 1, (size_t)(nd - exp - 1));
	} else {
		buf_puts(b, ".0");
	}
}

static int is_table(struct val v);

/* Go's isNil for what a map holds: nil, or a nil map or list. */
static int
is_nil(struct val v)
{
	return v.k == V_NIL || ((v.k == V_MAP || v.k == V_LIST) && v.j == NULL);
}

/* A list of maps only (not empty) is an array of tables. */
static int
table_array(struct val v, int *nil_elem)
{
	const cJSON *it;
	int all = 1;

	*nil_elem = 0;
	if (v.k != V_LIST || v.j == NULL || v.j->child == NULL)
		return 0;
	for (it = v.j->child; it; it = it->next) {
		struct val e = tmpl_to_val(it);

		if (e.k == V_NIL)
			*nil_elem = 1;
		if (e.k != V_MAP)
			all = 0;
	}
	return all;
}

static int
is_table(struct val v)
{
	int nil_elem;

	return v.k == V_MAP || v.k == V_STRUCT || table_array(v, &nil_elem);
}

/* A map's or a struct's members, as (name, value) pairs in the order the
 * encoder visits them: sorted names for a map, fields for a struct. */
struct member {
	const char *name;
	struct val v;
};

static int
members(struct val v, struct member **out, size_t *n)
{
	const cJSON **m = NULL;
	size_t i, cnt;

	*out = NULL;
	*n = 0;
	if (v.k == V_STRUCT) {
		if (v.st->nf == 0)
			return 0;
		*out = calloc(v.st->nf, sizeof(**out));
		if (*out == NULL)
			return -ENOMEM;
		for (i = 0; i < v.st->nf; i++) {
			(*out)[i].name = v.st->f[i].go;
			(*out)[i].v = tmpl_sfield_val(v.j, &v.st->f[i]);
		}
		*n = v.st->nf;
		return 0;
	}
	if (tmpl_sorted_members(v.j, &m, &cnt) != 0)
		return -ENOMEM;
	if (cnt > 0) {
		*out = calloc(cnt, sizeof(**out));
		if (*out == NULL) {
			free((void *)m);
			return -ENOMEM;
		}
	}
	for (i = 0; i < cnt; i++) {
		(*out)[i].name = m[i]->string;
		(*out)[i].v = tmpl_to_val(m[i]);
	}
	*n = cnt;
	free((void *)m);
	return 0;
}

static void
newline(struct tenc *e)
{
	if (e->written)
		buf_putc(e->b, '\n');
}

static int element(struct tenc *e, struct val v, int depth);

static int
inline_map(struct tenc *e, struct val v, int depth)
{
	struct member *m;
	size_t n, i, ndirect = 0, nsub = 0;
	int pass, rc = 0;

	if (members(v, &m, &n) != 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (is_table(m[i].v))
			nsub++;
		else
			ndirect++;
	}
	buf_putc(e->b, '{');
	for (pass = 0; pass < 2 && rc == 0; pass++) {
		size_t k = 0, total = pass == 0 ? ndirect : nsub;

		for (i = 0; i < n && rc == 0; i++) {
			if (is_table(m[i].v) != pass)
				continue;
			k++;
			if (is_nil(m[i].v))
				continue;
			put_key(e->b, m[i].name);
			buf_puts(e->b, " = ");
			rc = element(e, m[i].v, depth + 1);
			if ((pass == 0 && nsub > 0) || k != total)
				buf_puts(e->b, ", ");
		}
	}
	buf_putc(e->b, '}');
	free(m);
	return rc;
}

static int
element(struct tenc *e, struct val v, int depth)
{
	const cJSON *it;
	int rc = 0;

	if (depth > TOML_MAX_DEPTH) {
		e->err = "nested too deep";
		return -EINVAL;
	}
	e->written = 1;
	switch (v.k) {
	case V_STR:
		put_str(e->b, v.s, v.len);
		return 0;
	case V_BOOL:
		buf_puts(e->b, v.b ? "true" : "false");
		return 0;
	case V_NUM:
		if (is_int(v.n) && fabs(v.n) < 9.3e18)
			buf_printf(e->b, "%lld", (long long)v.n);
		else
			put_float(e->b, v.n);
		return 0;
	case V_LIST:
		buf_putc(e->b, '[');
		for (it = v.j ? v.j->child : NULL; it && rc == 0; it = it->next) {
			struct val x = tmpl_to_val(it);

			if (x.k == V_NIL) {
				e->err = "cannot encode array with nil element";
				return -EINVAL;
			}
			rc = element(e, x, depth + 1);
			if (it->next != NULL)
				buf_puts(e->b, ", ");
		}
		buf_putc(e->b, ']');
		return rc;
	case V_MAP:
	case V_STRUCT:
		return inline_map(e, v, depth);
	default:
		e->err = "unsupported type";
		return -EINVAL;
	}
}

/* The dotted, quoted name of the table at KEYS[0..N). */
static void
put_path(struct buf *b, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, '.');
		put_key(b, keys[i]);
	}
}

static int encode(struct tenc *e, const char **keys, size_t nkeys,
		  struct val v);

static int
table_body(struct tenc *e, const char **keys, size_t nkeys, struct val v)
{
	struct member *m;
	size_t n, i;
	int pass, rc = 0;

	if (members(v, &m, &n) != 0)
		return -ENOMEM;
	for (pass = 0; pass < 2 && rc == 0; pass++) {
		for (i = 0; i < n && rc == 0; i++) {
			if (is_table(m[i].v) != pass || is_nil(m[i].v))
				continue;
			keys[nkeys] = m[i].name;
			rc = encode(e, keys, nkeys + 1, m[i].v);
		}
	}
	free(m);
	return rc;
}

static int
encode(struct tenc *e, const char **keys, size_t nkeys, struct val v)
{
	int nil_elem;
	const cJSON *it;
	int rc = 0;

	if (nkeys >= TOML_MAX_DEPTH) {
		e->err = "nested too deep";
		return -EINVAL;
	}
	if (is_nil(v))
		return 0;
	if (v.k == V_MAP || v.k == V_STRUCT) {
		if (nkeys == 1)
			newline(e);
		if (nkeys > 0) {
			buf_fill(e->b, ' ', 2 * (nkeys - 1));
			buf_putc(e->b, '[');
			put_path(e->b, keys, nkeys);
			buf_putc(e->b, ']');
			e->written = 1;
			newline(e);
		}
		return table_body(e, keys, nkeys, v);
	}
	if (table_array(v, &nil_elem)) {
		if (nkeys == 0) {
			e->err = "top-level values must be Go maps or structs";
			return -EINVAL;
		}
		for (it = v.j->child; it && rc == 0; it = it->next) {
			newline(e);
			buf_fill(e->b, ' ', 2 * (nkeys - 1));
			buf_puts(e->b, "[[");
			put_path(e->b, keys, nkeys);
			buf_puts(e->b, "]]");
			e->written = 1;
			newline(e);
			rc = table_body(e, keys, nkeys, tmpl_to_val(it));
		}
		return rc;
	}
	if (nil_elem) {
		e->err = "cannot encode array with nil element";
		return -EINVAL;
	}
	if (nkeys > 0) {
		buf_fill(e->b, ' ', 2 * (nkeys - 1));
		put_key(e->b, keys[nkeys - 1]);
		buf_puts(e->b, " = ");
	}
	rc = element(e, v, 0);
	if (rc == 0 && nkeys > 0)
		newline(e);
	return rc;
}

int
tmpl_fn_toTOML(struct exec *x, const struct call *c, const struct val *a,
	       size_t n, struct val *out)
{
	const char *keys[TOML_MAX_DEPTH + 1];
	struct buf b = tmpl_fn_buf(x);
	struct tenc e = {&b, 0, NULL};
	const char *s;
	size_t len;
	int rc;

	(void)n;
	rc = encode(&e, keys, 0, a[0]);
	if (rc == -ENOMEM) {
		buf_free(&b);
		return tmpl_xoom(x);
	}
	if (rc != 0) {
		buf_free(&b);
		return tmpl_cerr(x, c, "toml: %s", e.err ? e.err : "cannot encode");
	}
	rc = tmpl_fn_result(x, c, &b, out);
	if (rc == 0) {
		s = out->s;
		len = out->len;
		tmpl_trim_space(&s, &len);
		if (len < out->len)	/* our own copy, not a literal "" */
			((char *)out->s)[s - out->s + len] = '\0';
		*out = vstr(s, len);
	}
	return rc;
}
