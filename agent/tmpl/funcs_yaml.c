/*
 * funcs_yaml.c: consul-template's parseYAML and toYAML, which use
 * gopkg.in/yaml.v2; here libyaml, of which yaml.v2 is a line-by-line Go
 * port, so the emitter makes the same layout decisions.
 *
 * DESIGN / invariants:
 *  - toYAML feeds libyaml's emitter the events yaml.v2's encoder makes:
 *    block style, indent 2, width 80, unicode on; map keys in yaml.v2's
 *    "natural" order (digits compare as numbers); a string that would
 *    read back as another type (true, 1.5, null, 2006-01-02, 1:20, ...)
 *    double-quoted, a string with a newline in literal style; integral
 *    numbers as ints, others as Go's %g; structs as yaml.v2 writes them,
 *    fields in order under their lower-cased Go names.  The result is
 *    trimmed of white space at both ends, as consul-template does.
 *  - parseYAML reads the first document into maps, lists and scalars
 *    resolved as yaml.v2 resolves them into interface{} (YAML 1.1:
 *    yes/no/on/off are booleans, timestamps stay strings); anchors and
 *    aliases work (an alias is a copy, and the copies count toward a cap
 *    of YAML_MAX_NODES, so a "billion laughs" document is an error).
 *    Keys that are not strings become their text.  "" is an empty map.  Errors give libyaml's problem and
 *    line, never the text.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "buf.h"

#define YAML_MAX_ANCHORS 256
#define YAML_MAX_DEPTH	 100
#define YAML_MAX_NODES	 (1024 * 1024)	/* aliases expanded included */

/* ------------------------------------------------------------------ */
/* Resolution of plain scalars, as yaml.v2's resolve()                 */

static int
all_digits(const char *s, size_t n, int base)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i], d;

		if (is_digit(ch))
			d = ch - '0';
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			d = (ch | 0x20) - 'a' + 10;
		else
			return 0;
		if (d >= base)
			return 0;
	}
	return 1;
}

/* strconv.ParseInt(s, 0, 64) or ParseUint succeeds (underscores gone). */
static int
go_int(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] | 0x20) == 'x')
		return all_digits(s + i + 2, n - i - 2, 16);
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] | 0x20) == 'b')
		return all_digits(s + i + 2, n - i - 2, 2);
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] | 0x20) == 'o')
		return all_digits(s + i + 2, n - i - 2, 8);
	if (n - i >= 1 && s[i] == '0')
		return all_digits(s + i, n - i, 8);
	return all_digits(s + i, n - i, 10);
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int
yaml_float(const char *s, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && is_digit(s[i]))
		i++, d++;
	if (i < n && s[i] == '.') {
		size_t f = 0;

		i++;
		while (i < n && is_digit(s[i]))
			i++, f++;
		if (d == 0 && f == 0)
			return 0;
	} else if (d == 0) {
		return 0;
	}
	if (i < n && (s[i] | 0x20) == 'e') {
		size_t e = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && is_digit(s[i]))
			i++, e++;
		if (e == 0)
			return 0;
	}
	return i == n;
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static int
base60(const char *s, size_t n)
{
	size_t i = 0, parts = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i >= n || !is_digit(s[i]))
		return 0;
	while (i < n && (is_digit(s[i]) || s[i] == '_'))
		i++;
	while (i < n && s[i] == ':') {
		size_t d = 0;

		i++;
		while (i < n && is_digit(s[i]) && d < 2)
			i++, d++;
		if (d == 0 || (d == 2 && s[i - 2] > '5'))
			return 0;
		parts++;
	}
	if (parts == 0)
		return 0;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && (is_digit(s[i]) || s[i] == '_'))
			i++;
	}
	return i == n;
}

/* yyyy-m-d, optionally followed by a time: yaml.v2's timestamp forms. */
static int
timestamp_like(const char *s, size_t n)
{
	size_t i;

	if (n < 8)
		return 0;
	for (i = 0; i < 4; i++)
		if (!is_digit(s[i]))
			return 0;
	if (s[4] != '-')
		return 0;
	i = 5;
	if (!is_digit(s[i++]))
		return 0;
	if (is_digit(s[i]))
		i++;
	if (i >= n || s[i++] != '-' || i >= n || !is_digit(s[i++]))
		return 0;
	if (i < n && is_digit(s[i]))
		i++;
	if (i == n)
		return 1;
	return s[i] == 'T' || s[i] == 't' || s[i] == ' ';
}

enum ykind { Y_STR, Y_NULL, Y_TRUE, Y_FALSE, Y_INT, Y_FLOAT, Y_OTHER };

static enum ykind
resolve(const char *s, size_t n, double *num)
{
	static const char *const t[] = {
		"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On",
		"ON", NULL};
	static const char *const f[] = {
		"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
		"OFF", NULL};
	static const char *const nul[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const other[] = {
		".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
		"+.INF", "-.inf", "-.Inf", "-.INF", "<<", NULL};
	char plain[128];
	size_t i, k = 0;

	for (i = 0; t[i]; i++)
		if (strlen(t[i]) == n && memcmp(t[i], s, n) == 0)
			return Y_TRUE;
	for (i = 0; f[i]; i++)
		if (strlen(f[i]) == n && memcmp(f[i], s, n) == 0)
			return Y_FALSE;
	for (i = 0; nul[i]; i++)
		if (strlen(nul[i]) == n && memcmp(nul[i], s, n) == 0)
			return Y_NULL;
	for (i = 0; other[i]; i++)
		if (strlen(other[i]) == n && memcmp(other[i], s, n) == 0)
			return Y_OTHER;
	if (n == 0 || !(is_digit(s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.'))
		return Y_STR;
	if (n < sizeof(plain) && (is_digit(s[0]) || s[0] == '+' || s[0] == '-') &&
	    timestamp_like(s, n))
		return Y_OTHER;
	if (n >= sizeof(plain))
		return Y_STR;
	for (i = 0; i < n; i++)
		if (s[i] != '_')
			plain[k++] = s[i];
	plain[k] = '\0';
	if (s[0] != '.' && go_int(plain, k)) {
		*num = (double)strtoull(plain + (plain[0] == '-' || plain[0] == '+'), NULL,
					(k > 1 && plain[0] == '0' && (plain[1] | 0x20) == 'o')
						? 8 : 0);
		if (k > 2 && plain[0] == '0' && (plain[1] | 0x20) == 'o')
			*num = (double)strtoull(plain + 2, NULL, 8);
		if (plain[0] == '-')
			*num = -*num;
		if ((plain[0] == '-' || plain[0] == '+') && k > 2 && plain[1] == '0' &&
		    (plain[2] | 0x20) == 'b')
			*num = (plain[0] == '-' ? -1 : 1) *
			       (double)strtoull(plain + 3, NULL, 2);
		else if (k > 1 && plain[0] == '0' && (plain[1] | 0x20) == 'b')
			*num = (double)strtoull(plain + 2, NULL, 2);
		return Y_INT;
	}
	if (yaml_float(plain, k)) {
		*num = strtod(plain, NULL);
		return Y_FLOAT;
	}
	if (base60(s, n))
		return Y_OTHER;
	return Y_STR;
}

/* ------------------------------------------------------------------ */
/* toYAML                                                              */

struct yout {
	struct buf *b;
};

static int
yaml_write(void *data, unsigned char *buffer, size_t size)
{
	struct yout *o = data;

	buf_append(o->b, buffer, size);
	return o->b->err == 0;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t n,
	    yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (n > INT_MAX ||
	    !yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
					  (int)n, 1, 1, style))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t r;
		size_t k = tmpl_utf8_dec(s + i, n - i, &r);

		if (r == 0xFFFD && k == 1 &&
		    !(n - i >= 3 && memcmp(s + i, "\xef\xbf\xbd", 3) == 0))
			return 0;
		i += k;
	}
	return 1;
}

static int
emit_str(yaml_emitter_t *em, const char *s, size_t n)
{
	double num;
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;

	if (memchr(s, '\n', n) != NULL)
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (resolve(s, n, &num) != Y_STR)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(em, s, n, style);
}

static int
emit_num(yaml_emitter_t *em, double x)
{
	struct buf b = BUF_INIT(64);
	int rc;

	if (isnan(x))
		buf_puts(&b, ".nan");
	else if (isinf(x))
		buf_puts(&b, x > 0 ? ".inf" : "-.inf");
	else if (is_int(x) && fabs(x) < 9.3e18)
		buf_printf(&b, "%lld", (long long)x);
	else
		tmpl_put_num(&b, x, 'g');
	rc = b.err == 0 && b.s ? emit_scalar(em, b.s, b.len, YAML_PLAIN_SCALAR_STYLE)
			       : -1;
	buf_free(&b);
	return rc;
}

/* yaml.v2's keyList.Less for two string keys. */
static int
natural_less(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;

	for (i = 0; i < na && i < nb; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		int xl, yl;
		long long an = 0, bn = 0;
		size_t ai, bi, j;

		if (x == y)
			continue;
		xl = ((x | 0x20) >= 'a' && (x | 0x20) <= 'z') || x >= 0x80;
		yl = ((y | 0x20) >= 'a' && (y | 0x20) <= 'z') || y >= 0x80;
		if (xl && yl)
			return x < y;
		if (xl || yl)
			return yl;
		if (x == '0' || y == '0') {
			for (j = i; j-- > 0 && is_digit(a[j]);) {
				if (a[j] != '0') {
					an = 1;
					bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < na && is_digit(a[ai]) && an < LLONG_MAX / 10; ai++)
			an = an * 10 + (a[ai] - '0');
		for (bi = i; bi < nb && is_digit(b[bi]) && bn < LLONG_MAX / 10; bi++)
			bn = bn * 10 + (b[bi] - '0');
		if (an != bn)
			return an < bn;
		if (ai != bi)
			return ai < bi;
		return x < y;
	}
	return na < nb;
}

static int
key_less_cmp(const void *p, const void *q)
{
	const cJSON *a = *(const cJSON *const *)p, *b = *(const cJSON *const *)q;

	if (natural_less(a->string, b->string))
		return -1;
	return natural_less(b->string, a->string);
}

static int emit_val(yaml_emitter_t *em, struct val v, int depth);

static int
emit_struct(yaml_emitter_t *em, struct val v, int depth)
{
	yaml_event_t ev;
	size_t i;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						 YAML_BLOCK_MAPPING_STYLE) ||
	    !yaml_emitter_emit(em, &ev))
		return -1;
	for (i = 0; i < v.st->nf; i++) {
		char key[64];
		size_t k;

		for (k = 0; v.st->f[i].go[k] && k + 1 < sizeof(key); k++) {
			char ch = v.st->f[i].go[k];

			key[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
		}
		key[k] = '\0';
		if (emit_str(em, key, k) != 0 ||
		    emit_val(em, tmpl_sfield_val(v.j, &v.st->f[i]), depth + 1) != 0)
			return -1;
	}
	return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev)
		       ? 0 : -1;
}

static int
emit_val(yaml_emitter_t *em, struct val v, int depth)
{
	yaml_event_t ev;
	const cJSON *it, **m = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (depth > YAML_MAX_DEPTH)
		return -1;
	switch (v.k) {
	case V_BOOL:
		return emit_scalar(em, v.b ? "true" : "false", v.b ? 4 : 5,
				   YAML_PLAIN_SCALAR_STYLE);
	case V_NUM:
		return emit_num(em, v.n);
	case V_STR:
		if (!utf8_valid(v.s, v.len))
			return -2;
		return emit_str(em, v.s, v.len);
	case V_LIST:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		for (it = v.j ? v.j->child : NULL; it && rc == 0; it = it->next)
			rc = emit_val(em, tmpl_to_val(it), depth + 1);
		if (rc != 0)
			return rc;
		return yaml_sequence_end_event_initialize(&ev) &&
		       yaml_emitter_emit(em, &ev) ? 0 : -1;
	case V_MAP:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		if (tmpl_sorted_members(v.j, &m, &n) != 0)
			return -1;
		if (n > 1)
			qsort((void *)m, n, sizeof(*m), key_less_cmp);
		for (i = 0; i < n && rc == 0; i++) {
			rc = emit_str(em, m[i]->string, strlen(m[i]->string));
			if (rc == 0)
				rc = emit_val(em, tmpl_to_val(m[i]), depth + 1);
		}
		free((void *)m);
		if (rc != 0)
			return rc;
		return yaml_mapping_end_event_initialize(&ev) &&
		       yaml_emitter_emit(em, &ev) ? 0 : -1;
	case V_STRUCT:
		return emit_struct(em, v, depth);
	default:
		return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

int
tmpl_fn_toYAML(struct exec *x, const struct call *c, const struct val *a,
	       size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	struct yout o = {&b};
	yaml_emitter_t em;
	yaml_event_t ev;
	const char *s;
	size_t len;
	int rc = -1;

	(void)n;
	if (!yaml_emitter_initialize(&em))
		return tmpl_xoom(x);
	yaml_emitter_set_output(&em, yaml_write, &o);
	yaml_emitter_set_unicode(&em, 1);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	    yaml_emitter_emit(&em, &ev) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	    yaml_emitter_emit(&em, &ev)) {
		rc = emit_val(&em, a[0], 0);
		if (rc == 0 && !(yaml_document_end_event_initialize(&ev, 1) &&
				 yaml_emitter_emit(&em, &ev) &&
				 yaml_stream_end_event_initialize(&ev) &&
				 yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em)))
			rc = -1;
	}
	yaml_emitter_delete(&em);
	if (rc != 0 || b.err != 0) {
		int berr = b.err;

		buf_free(&b);
		if (berr == -E2BIG)
			return tmpl_cerr(x, c, "result larger than %zu bytes", x->max);
		if (berr != 0)
			return tmpl_xoom(x);
		return tmpl_cerr(x, c, rc == -2 ? "invalid UTF-8 in a string"
						: "cannot write this value as YAML");
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

/* ------------------------------------------------------------------ */
/* parseYAML                                                           */

struct anchor {
	char *name;
	cJSON *node;		/* in the tree being built */
};

struct yin {
	yaml_parser_t p;
	struct anchor anchors[YAML_MAX_ANCHORS];
	size_t nanchors;
	cJSON *grave;		/* values a later duplicate key replaced */
	size_t nodes;		/* made so far, aliases' copies included */
	char err[160];
};

static int
set_anchor(struct yin *y, const yaml_char_t *name, cJSON *node)
{
	char *d;

	if (name == NULL)
		return 0;
	if (y->nanchors >= YAML_MAX_ANCHORS) {
		snprintf(y->err, sizeof(y->err), "more than %d anchors",
			 YAML_MAX_ANCHORS);
		return -EINVAL;
	}
	d = strdup((const char *)name);
	if (d == NULL)
		return -ENOMEM;
	y->anchors[y->nanchors].name = d;
	y->anchors[y->nanchors++].node = node;
	return 0;
}

static int
next_event(struct yin *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->p, ev))
		return 0;
	snprintf(y->err, sizeof(y->err), "yaml: line %zu: %s",
		 y->p.problem_mark.line + 1,
		 y->p.problem ? y->p.problem : "parse error");
	return -EINVAL;
}

static cJSON *
scalar_json(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	double num = 0;

	if ((tag != NULL && strcmp(tag, YAML_STR_TAG) == 0) ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(s);
	switch (resolve(s, n, &num)) {
	case Y_NULL: return cJSON_CreateNull();
	case Y_TRUE: return cJSON_CreateTrue();
	case Y_FALSE: return cJSON_CreateFalse();
	case Y_INT:
	case Y_FLOAT: return cJSON_CreateNumber(num);
	case Y_OTHER:
		/* .inf, +.inf, -.inf, .nan are floats; timestamps, "<<" and
		 * base 60 stay strings. */
		if (strchr(".+-", s[0]) != NULL && n >= 4 && n <= 5 &&
		    (s[n - 3] | 0x20) == 'i')
			return cJSON_CreateNumber(s[0] == '-' ? -INFINITY : INFINITY);
		if (n == 4 && s[0] == '.' && (s[1] | 0x20) == 'n')
			return cJSON_CreateNumber(NAN);
		return cJSON_CreateString(s);
	default:
		return cJSON_CreateString(s);
	}
}

/* The nodes of the tree J, counting no further than LIMIT. */
static size_t
count_nodes(const cJSON *j, size_t limit)
{
	size_t n = 1;
	const cJSON *c;

	for (c = j->child; c != NULL && n <= limit; c = c->next)
		n += count_nodes(c, limit - n);
	return n;
}

/* The node that starts with EV (already read) into *OUT. */
static int
read_node(struct yin *y, yaml_event_t *ev, int depth, cJSON **out)
{
	cJSON *node = NULL;
	yaml_event_t e;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (depth > YAML_MAX_DEPTH) {
		snprintf(y->err, sizeof(y->err), "nested more than %d deep",
			 YAML_MAX_DEPTH);
		return -EINVAL;
	}
	if (++y->nodes > YAML_MAX_NODES) {
		snprintf(y->err, sizeof(y->err), "document has more than %d nodes",
			 YAML_MAX_NODES);
		return -EINVAL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		for (i = y->nanchors; i-- > 0;)
			if (strcmp(y->anchors[i].name,
				   (const char *)ev->data.alias.anchor) == 0)
				break;
		if (i == (size_t)-1) {
			snprintf(y->err, sizeof(y->err), "unknown anchor referenced");
			return -EINVAL;
		}
		/* A copy per alias: "billion laughs" would grow without end,
		 * so the copies count against YAML_MAX_NODES. */
		y->nodes += count_nodes(y->anchors[i].node, YAML_MAX_NODES);
		if (y->nodes > YAML_MAX_NODES) {
			snprintf(y->err, sizeof(y->err), "document has more than %d "
				 "nodes (excessive aliasing)", YAML_MAX_NODES);
			return -EINVAL;
		}
		*out = cJSON_Duplicate(y->anchors[i].node, 1);
		return *out ? 0 : -ENOMEM;
	case YAML_SCALAR_EVENT:
		node = scalar_json(ev);
		if (node == NULL)
			return -ENOMEM;
		rc = set_anchor(y, ev->data.scalar.anchor, node);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int map = ev->type == YAML_MAPPING_START_EVENT;

		node = map ? cJSON_CreateObject() : cJSON_CreateArray();
		if (node == NULL)
			return -ENOMEM;
		rc = set_anchor(y, map ? ev->data.mapping_start.anchor
				       : ev->data.sequence_start.anchor, node);
		while (rc == 0) {
			cJSON *k = NULL, *v = NULL;

			rc = next_event(y, &e);
			if (rc != 0)
				break;
			if (e.type == YAML_SEQUENCE_END_EVENT ||
			    e.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			rc = read_node(y, &e, depth + 1, map ? &k : &v);
			yaml_event_delete(&e);
			if (rc == 0 && map) {
				rc = next_event(y, &e);
				if (rc == 0) {
					rc = read_node(y, &e, depth + 1, &v);
					yaml_event_delete(&e);
				}
			}
			if (rc == 0 && !map) {
				if (!cJSON_AddItemToArray(node, v)) {
					cJSON_Delete(v);
					rc = -ENOMEM;
				}
			} else if (rc == 0) {
				char *key = cJSON_IsString(k) ? NULL : cJSON_PrintUnformatted(k);
				const char *ks = cJSON_IsString(k) ? k->valuestring : key;

				if (ks == NULL) {
					rc = -ENOMEM;
					cJSON_Delete(v);
				} else if (cJSON_GetObjectItemCaseSensitive(node, ks) != NULL) {
					/* A later key wins; the old value may be an
					 * anchor's, so it lives until the end. */
					cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(node, ks);

					cJSON_AddItemToArray(y->grave, old);
					if (!cJSON_AddItemToObject(node, ks, v)) {
						cJSON_Delete(v);
						rc = -ENOMEM;
					}
				} else if (!cJSON_AddItemToObject(node, ks, v)) {
					cJSON_Delete(v);
					rc = -ENOMEM;
				}
				free(key);
			} else {
				cJSON_Delete(v);
			}
			cJSON_Delete(k);
		}
		break;
	}
	default:
		snprintf(y->err, sizeof(y->err), "unexpected YAML event");
		rc = -EINVAL;
	}
	if (rc != 0) {
		/* An anchor may point into it: forget those. */
		while (y->nanchors > 0) {
			free(y->anchors[--y->nanchors].name);
		}
		cJSON_Delete(node);
		return rc;
	}
	*out = node;
	return 0;
}

int
tmpl_fn_parseYAML(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	struct yin *y;
	yaml_event_t ev;
	cJSON *root = NULL;
	const char *s;
	size_t len, i;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (len == 0)
		return tmpl_ret_json(x, cJSON_CreateObject(), out);
	y = calloc(1, sizeof(*y));
	if (y != NULL)
		y->grave = cJSON_CreateArray();
	if (y == NULL || y->grave == NULL || !yaml_parser_initialize(&y->p)) {
		if (y != NULL)
			cJSON_Delete(y->grave);
		free(y);
		return tmpl_xoom(x);
	}
	yaml_parser_set_input_string(&y->p, (const unsigned char *)s, len);
	/* STREAM-START, then DOCUMENT-START or STREAM-END (no document). */
	for (i = 0; i < 3 && rc == 0; i++) {
		rc = next_event(y, &ev);
		if (rc != 0)
			break;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT ||
		    ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		rc = read_node(y, &ev, 0, &root);
		yaml_event_delete(&ev);
		break;
	}
	for (i = 0; i < y->nanchors; i++)
		free(y->anchors[i].name);
	yaml_parser_delete(&y->p);
	cJSON_Delete(y->grave);
	if (rc == -ENOMEM) {
		free(y);
		return tmpl_xoom(x);
	}
	if (rc != 0) {
		rc = tmpl_cerr(x, c, "%s", y->err);
		free(y);
		return rc;
	}
	free(y);
	if (root == NULL)
		return tmpl_ret_json(x, cJSON_CreateNull(), out);
	return tmpl_ret_json(x, root, out);
}
