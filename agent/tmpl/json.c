/*
 * json.c: toJSON and toJSONPretty's output, byte for byte what Go's
 * encoding/json (json.Marshal, json.MarshalIndent with two spaces)
 * writes for the same value.
 *
 * DESIGN / invariants:
 *  - Go's escaping, not cJSON's: "<", ">" and "&" as \u003c..., U+2028
 *    and U+2029 escaped, invalid UTF-8 as \ufffd, control characters as
 *    \u00XX except \n \r \t \b \f.
 *  - Map keys sorted (Go sorts them); a Go struct writes its fields in
 *    declaration order under their Go names; numbers as encoding/json
 *    writes a float64; a nil map or list is null, an empty one {} or [].
 *  - NaN and infinities cannot be written: the caller reports them, as
 *    Go's "unsupported value" error.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void
json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	buf_putc(b, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t r;
		size_t k;

		if (c >= 0x80) {
			k = tmpl_utf8_dec(s + i, n - i, &r);
			if (r == 0xFFFD && k == 1)
				buf_puts(b, "\\ufffd");
			else if (r == 0x2028 || r == 0x2029)
				buf_printf(b, "\\u%04x", (unsigned)r);
			else
				buf_append(b, s + i, k);
			i += k;
			continue;
		}
		i++;
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\b': buf_puts(b, "\\b"); break;
		case '\f': buf_puts(b, "\\f"); break;
		case '<': case '>': case '&':
			buf_puts(b, "\\u00");
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
			break;
		default:
			if (c < 0x20) {
				buf_puts(b, "\\u00");
				buf_putc(b, hex[c >> 4]);
				buf_putc(b, hex[c & 15]);
			} else {
				buf_putc(b, (char)c);
			}
		}
	}
	buf_putc(b, '"');
}

static void
json_nl(struct buf *b, int pretty, int depth)
{
	if (!pretty)
		return;
	buf_putc(b, '\n');
	buf_fill(b, ' ', (size_t)depth * 2);
}

int
tmpl_json_val(struct buf *b, struct val v, int pretty, int depth)
{
	const cJSON *c, **m = NULL;
	size_t i, n = 0;
	int rc = 0;

	switch (v.k) {
	case V_BOOL:
		buf_puts(b, v.b ? "true" : "false");
		return 0;
	case V_NUM:
		if (!isfinite(v.n))
			return -1;
		tmpl_put_num(b, v.n, 'j');
		return 0;
	case V_STR:
		json_str(b, v.s, v.len);
		return 0;
	case V_LIST:
		if (v.j == NULL) {
			buf_puts(b, "null");
			return 0;
		}
		if (v.j->child == NULL) {
			buf_puts(b, "[]");
			return 0;
		}
		buf_putc(b, '[');
		for (c = v.j->child, i = 0; c != NULL && rc == 0; c = c->next, i++) {
			if (i > 0)
				buf_putc(b, ',');
			json_nl(b, pretty, depth + 1);
			rc = tmpl_json_val(b, tmpl_to_val(c), pretty, depth + 1);
		}
		json_nl(b, pretty, depth);
		buf_putc(b, ']');
		return rc;
	case V_MAP:
		if (v.j == NULL) {
			buf_puts(b, "null");
			return 0;
		}
		if (tmpl_sorted_members(v.j, &m, &n) != 0) {
			tmpl_buf_fail(b, -ENOMEM);
			return 0;
		}
		if (n == 0) {
			buf_puts(b, "{}");
			return 0;
		}
		buf_putc(b, '{');
		for (i = 0; i < n && rc == 0; i++) {
			if (i > 0)
				buf_putc(b, ',');
			json_nl(b, pretty, depth + 1);
			json_str(b, m[i]->string, strlen(m[i]->string));
			buf_puts(b, pretty ? ": " : ":");
			rc = tmpl_json_val(b, tmpl_to_val(m[i]), pretty, depth + 1);
		}
		json_nl(b, pretty, depth);
		buf_putc(b, '}');
		free((void *)m);
		return rc;
	case V_STRUCT:
		buf_putc(b, '{');
		for (i = 0; i < v.st->nf && rc == 0; i++) {
			if (i > 0)
				buf_putc(b, ',');
			json_nl(b, pretty, depth + 1);
			json_str(b, v.st->f[i].go, strlen(v.st->f[i].go));
			buf_puts(b, pretty ? ": " : ":");
			rc = tmpl_json_val(b, tmpl_sfield_val(v.j, &v.st->f[i]), pretty,
					   depth + 1);
		}
		json_nl(b, pretty, depth);
		buf_putc(b, '}');
		return rc;
	default:
		buf_puts(b, "null");
		return 0;
	}
}
