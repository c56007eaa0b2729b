/*
 * lex.c: the memory the parse tree lives in, UTF-8, parse errors, and Go
 * text/template's lexer.
 *
 * DESIGN / invariants:
 *  - The tree lives in one arena owned by struct tmpl: a parse error at
 *    any depth is cleaned up by tmpl_free(), and nodes are never freed
 *    one by one.  Token and decoded string text is in the arena too.
 *  - The lexer turns the whole text into an array of tokens before the
 *    parser starts.  Delimiters, trim markers ("{{- " and " -}}") and
 *    comments are settled here, by Go's rules, so the parser sees only
 *    text, a left delimiter, an action's tokens and a right delimiter.
 *  - Positions are byte offsets; tmpl_pos_of() turns one into a line and
 *    column only when a message needs it.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Arena: the parse tree's memory, freed in one go.                    */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *
tmpl_arena_alloc(struct chunk **head, size_t size)
{
	const size_t al = sizeof(max_align_t);
	struct chunk *c = *head;
	void *p;

	if (size > SIZE_MAX / 4)
		return NULL;
	size = size ? (size + al - 1) / al * al : al;
	if (c == NULL || c->cap - c->used < size) {
		size_t cap = size > 16384 ? size : 16384;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = *head;
		*head = c;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void
tmpl_arena_free(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
}

void *
tmpl_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t nc;
	void *np;

	if (need <= *cap && p != NULL)
		return p;
	nc = *cap ? *cap : 8;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / size)
			return NULL;
		nc *= 2;
	}
	np = realloc(p, nc * size);
	if (np == NULL)
		return NULL;
	*cap = nc;
	return np;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */

size_t
tmpl_utf8_enc(uint32_t r, char *out)
{
	if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = 0xFFFD;
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

size_t
tmpl_utf8_dec(const char *str, size_t n, uint32_t *r)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len, i;
	uint32_t v, min;

	if (n == 0) {
		*r = 0xFFFD;
		return 0;
	}
	if (s[0] < 0x80) {
		*r = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, v = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, v = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, v = s[0] & 0x07, min = 0x10000;
	} else {
		*r = 0xFFFD;
		return 1;
	}
	if (n < len)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*r = v;
	return len;
bad:
	*r = 0xFFFD;
	return 1;
}

size_t
tmpl_utf8_count(const char *s, size_t n)
{
	size_t k = 0, i = 0;
	uint32_t r;

	while (i < n) {
		i += tmpl_utf8_dec(s + i, n - i, &r);
		k++;
	}
	return k;
}

/* ------------------------------------------------------------------ */
/* Positions and parse errors                                          */

void
tmpl_pos_of(const struct parser *p, size_t off, int *line, int *col)
{
	size_t lo = 0, hi = p->nlines;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	*line = (int)lo + 1;
	*col = (int)(off - p->lines[lo]) + 1;
}

static int vperr(struct parser *p, int line, int col, const char *fmt,
		 va_list ap) __attribute__((format(printf, 4, 0)));

static int
vperr(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	int k;

	if (p->err == NULL || p->errlen == 0)
		return -EINVAL;
	k = snprintf(p->err, p->errlen, "%s:%d:%d: ", p->t->name, line, col);
	if (k >= 0 && (size_t)k < p->errlen)
		vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	return -EINVAL;
}

int
tmpl_perr(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	tmpl_pos_of(p, off, &line, &col);
	va_start(ap, fmt);
	vperr(p, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
tmpl_perr_lc(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
tmpl_poom(struct parser *p)
{
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "%s: out of memory", p->t->name);
	return -ENOMEM;
}

char *
tmpl_astrndup(struct parser *p, const char *s, size_t n)
{
	char *d = tmpl_arena_alloc(&p->t->arena, n + 1);

	if (d != NULL && n > 0)
		memcpy(d, s, n);
	return d;
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alnum(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c >= 0x80;
}

static int
has_prefix(const struct parser *p, size_t pos, const char *s, size_t n)
{
	return pos <= p->n && p->n - pos >= n && memcmp(p->src + pos, s, n) == 0;
}

static int
uc(const struct parser *p, size_t pos)
{
	return pos < p->n ? (unsigned char)p->src[pos] : -1;
}

/* "{{- ": the dash must be followed by white space (Go's rule). */
static int
left_trim_at(const struct parser *p, size_t pos)
{
	return uc(p, pos) == '-' && is_space(uc(p, pos + 1));
}

/* " -}}" or "}}" at POS. */
static int
right_delim_at(const struct parser *p, size_t pos, int *trim)
{
	if (is_space(uc(p, pos)) && uc(p, pos + 1) == '-' &&
	    has_prefix(p, pos + 2, p->rd, p->rdn)) {
		*trim = 1;
		return 1;
	}
	*trim = 0;
	return has_prefix(p, pos, p->rd, p->rdn);
}

static int
at_terminator(const struct parser *p, size_t pos)
{
	int c = uc(p, pos);

	if (c < 0 || is_space(c))
		return 1;
	if (c != 0 && strchr(".,|:()", c) != NULL)
		return 1;
	return has_prefix(p, pos, p->rd, p->rdn);
}

static struct tok *
emit(struct parser *p, enum tok_type type, size_t off, size_t srclen,
     int space)
{
	struct tok *t, *nt;

	nt = tmpl_grow(p->toks, &p->captoks, p->ntoks + 1, sizeof(*nt));
	if (nt == NULL)
		return NULL;
	p->toks = nt;
	t = &p->toks[p->ntoks++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->off = off;
	t->srclen = srclen;
	t->space = space;
	return t;
}

static int
bad_char(struct parser *p, size_t pos)
{
	int c = uc(p, pos);

	if (c > 0x20 && c < 0x7f)
		return tmpl_perr(p, pos, "bad character '%c'", c);
	return tmpl_perr(p, pos, "bad character 0x%02x", c < 0 ? 0 : c);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode the Go escapes of a quoted literal between FROM and TO (the
 * quotes excluded).  The result is never longer than the source.
 */
static int
unquote(struct parser *p, size_t from, size_t to, int quote, char **out,
	size_t *outlen)
{
	char *buf = tmpl_arena_alloc(&p->t->arena, to - from + 1);
	size_t i = from, k = 0;

	if (buf == NULL)
		return tmpl_poom(p);
	while (i < to) {
		size_t esc = i, nd = 0, j;
		uint32_t v = 0;
		int c = uc(p, i);

		if (c != '\\') {
			buf[k++] = (char)c;
			i++;
			continue;
		}
		c = uc(p, i + 1);
		i += 2;
		switch (c) {
		case 'a': buf[k++] = '\a'; continue;
		case 'b': buf[k++] = '\b'; continue;
		case 'f': buf[k++] = '\f'; continue;
		case 'n': buf[k++] = '\n'; continue;
		case 'r': buf[k++] = '\r'; continue;
		case 't': buf[k++] = '\t'; continue;
		case 'v': buf[k++] = '\v'; continue;
		case '\\': buf[k++] = '\\'; continue;
		case '"':
		case '\'':
			if (c != quote)
				goto bad;
			buf[k++] = (char)c;
			continue;
		case 'x': nd = 2; break;
		case 'u': nd = 4; break;
		case 'U': nd = 8; break;
		default:
			if (c >= '0' && c <= '7') {
				for (j = 0; j < 3; j++) {
					int d = uc(p, i - 1 + j);

					if (i - 1 + j >= to || d < '0' || d > '7')
						goto bad;
					v = v * 8 + (uint32_t)(d - '0');
				}
				if (v > 255)
					goto bad;
				buf[k++] = (char)v;
				i += 2;
				continue;
			}
			goto bad;
		}
		for (j = 0; j < nd; j++) {
			int d = i + j < to ? hexval(uc(p, i + j)) : -1;

			if (d < 0)
				goto bad;
			v = v * 16 + (uint32_t)d;
		}
		i += nd;
		if (c == 'x') {
			buf[k++] = (char)v;
		} else {
			if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				goto bad;
			k += tmpl_utf8_enc(v, buf + k);
		}
		continue;
bad:
		return tmpl_perr(p, esc, "invalid escape in quoted string");
	}
	buf[k] = '\0';
	*out = buf;
	*outlen = k;
	return 0;
}

/* Go's number literals: 42, -3, 0x1F, 0o17, 017, 0b101, 1_000, 1.5e3. */
static int
number_value(const char *text, size_t n, double *out)
{
	char buf[80], *end;
	size_t k = 0, i;
	const char *q;
	int neg = 0, base = 10;

	for (i = 0; i < n; i++) {
		if (text[i] == '_') {
			/* Go: "_" only between digits, or after a base prefix. */
			if (i == 0 || i + 1 >= n || hexval(text[i + 1]) < 0 ||
			    (hexval(text[i - 1]) < 0 && strchr("xXoObB", text[i - 1]) == NULL))
				return -1;
			continue;
		}
		if (k + 1 >= sizeof(buf))
			return -1;
		buf[k++] = text[i];
	}
	buf[k] = '\0';
	if (k == 0 || buf[k - 1] == 'i')
		return -1;
	q = buf;
	if (*q == '+' || *q == '-')
		neg = *q++ == '-';
	if (*q == '\0')
		return -1;
	if (strpbrk(q, ".pP") != NULL ||
	    ((q[0] != '0' || (q[1] != 'x' && q[1] != 'X')) &&
	     strpbrk(q, "eE") != NULL)) {
		errno = 0;
		*out = strtod(q, &end);
		if (end == q || *end != '\0')
			return -1;
	} else {
		unsigned long long u;

		if (q[0] == '0' && q[1] != '\0') {
			switch (q[1]) {
			case 'x': case 'X': base = 16; q += 2; break;
			case 'o': case 'O': base = 8; q += 2; break;
			case 'b': case 'B': base = 2; q += 2; break;
			default: base = 8; q += 1; break;
			}
			if (*q == '\0')
				return -1;
		}
		errno = 0;
		u = strtoull(q, &end, base);
		if (end == q || *end != '\0' || errno != 0)
			return -1;
		*out = (double)u;
	}
	if (neg)
		*out = -*out;
	return 0;
}

static int
lex_number(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos, e = s;
	const char *digits = "0123456789_";
	int dec = 1, hex = 0;
	struct tok *t;
	double v;

	if (uc(p, e) == '+' || uc(p, e) == '-')
		e++;
	if (uc(p, e) == '0') {
		e++;
		if (uc(p, e) == 'x' || uc(p, e) == 'X') {
			e++, dec = 0, hex = 1;
			digits = "0123456789abcdefABCDEF_";
		} else if (uc(p, e) == 'o' || uc(p, e) == 'O') {
			e++, dec = 0, digits = "01234567_";
		} else if (uc(p, e) == 'b' || uc(p, e) == 'B') {
			e++, dec = 0, digits = "01_";
		}
	}
	while (uc(p, e) > 0 && strchr(digits, uc(p, e)) != NULL)
		e++;
	if (uc(p, e) == '.') {
		e++;
		while (uc(p, e) > 0 && strchr(digits, uc(p, e)) != NULL)
			e++;
	}
	if ((dec && (uc(p, e) == 'e' || uc(p, e) == 'E')) ||
	    (hex && (uc(p, e) == 'p' || uc(p, e) == 'P'))) {
		e++;
		if (uc(p, e) == '+' || uc(p, e) == '-')
			e++;
		while (is_digit(uc(p, e)) || uc(p, e) == '_')
			e++;
	}
	if (uc(p, e) == 'i')
		return tmpl_perr(p, s, "complex numbers are not supported");
	if (is_alnum(uc(p, e)) || uc(p, e) == '.' ||
	    number_value(p->src + s, e - s, &v) != 0) {
		while (is_alnum(uc(p, e)) || uc(p, e) == '.')
			e++;
		return tmpl_perr(p, s, "bad number syntax: %.*s",
				 (int)((e - s) > 40 ? 40 : (e - s)), p->src + s);
	}
	t = emit(p, T_NUMBER, s, e - s, space);
	if (t == NULL)
		return tmpl_poom(p);
	t->num = v;
	*pos = e;
	return 0;
}

static int
lex_quote(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos, e = s + 1;
	int q = uc(p, s), rc;
	enum tok_type type = q == '"' ? T_STRING : T_NUMBER;
	char *str = NULL;
	size_t len = 0;
	struct tok *t;

	for (;;) {
		int c = uc(p, e);

		if (c < 0 || c == '\n')
			return tmpl_perr(p, s, q == '"' ? "unterminated quoted string" :
				    "unterminated character constant");
		if (c == '\\') {
			if (uc(p, e + 1) < 0 || uc(p, e + 1) == '\n')
				return tmpl_perr(p, s, "unterminated quoted string");
			e += 2;
			continue;
		}
		if (c == q)
			break;
		e++;
	}
	rc = unquote(p, s + 1, e, q, &str, &len);
	if (rc != 0)
		return rc;
	t = emit(p, type, s, e + 1 - s, space);
	if (t == NULL)
		return tmpl_poom(p);
	if (type == T_NUMBER) {
		uint32_t r;

		if (len == 0 || tmpl_utf8_dec(str, len, &r) != len)
			return tmpl_perr(p, s, "invalid character constant");
		t->num = r;
	} else {
		t->s = str;
		t->len = len;
	}
	*pos = e + 1;
	return 0;
}

/* `raw`: no escapes; carriage returns are dropped, as Go does. */
static int
lex_raw(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos, i, k = 0;
	const char *e = memchr(p->src + s + 1, '`', p->n - s - 1);
	struct tok *t;
	char *str;

	if (e == NULL)
		return tmpl_perr(p, s, "unterminated raw quoted string");
	str = tmpl_arena_alloc(&p->t->arena, (size_t)(e - p->src) - s);
	if (str == NULL)
		return tmpl_poom(p);
	for (i = s + 1; p->src + i < e; i++)
		if (p->src[i] != '\r')
			str[k++] = p->src[i];
	str[k] = '\0';
	t = emit(p, T_STRING, s, (size_t)(e - p->src) + 1 - s, space);
	if (t == NULL)
		return tmpl_poom(p);
	t->s = str;
	t->len = k;
	*pos = (size_t)(e - p->src) + 1;
	return 0;
}

/* .Field, a lone dot, $var or a lone $. */
static int
lex_name(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos, e = s + 1;
	int c = uc(p, s);
	enum tok_type type = c == '.' ? T_FIELD : T_VAR;
	struct tok *t;

	if (at_terminator(p, e)) {
		type = c == '.' ? T_DOT : T_VAR;
	} else {
		while (is_alnum(uc(p, e)))
			e++;
		if (!at_terminator(p, e))
			return bad_char(p, e);
	}
	t = emit(p, type, s, e - s, space);
	if (t == NULL)
		return tmpl_poom(p);
	/* A field is named without its dot; a variable keeps its $. */
	t->s = type == T_FIELD ? tmpl_astrndup(p, p->src + s + 1, e - s - 1)
			       : tmpl_astrndup(p, p->src + s, e - s);
	if (t->s == NULL)
		return tmpl_poom(p);
	t->len = strlen(t->s);
	*pos = e;
	return 0;
}

static const char *const keywords[] = {
	"block", "break", "continue", "define", "else", "end", "if",
	"range", "template", "with",
};

static int
lex_word(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos, e = s, i;
	enum tok_type type = T_IDENT;
	struct tok *t;
	char *w;

	while (is_alnum(uc(p, e)))
		e++;
	if (!at_terminator(p, e))
		return bad_char(p, e);
	w = tmpl_astrndup(p, p->src + s, e - s);
	if (w == NULL)
		return tmpl_poom(p);
	if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0)
		type = T_BOOL;
	else if (strcmp(w, "nil") == 0)
		type = T_NIL;
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(w, keywords[i]) == 0)
			type = T_KEYWORD;
	t = emit(p, type, s, e - s, space);
	if (t == NULL)
		return tmpl_poom(p);
	t->s = w;
	t->len = e - s;
	t->num = strcmp(w, "true") == 0;
	*pos = e;
	return 0;
}

static int
lex_item(struct parser *p, size_t *pos, int space)
{
	size_t s = *pos;
	int c = uc(p, s);
	enum tok_type type;
	size_t len = 1;

	switch (c) {
	case '"':
	case '\'':
		return lex_quote(p, pos, space);
	case '`':
		return lex_raw(p, pos, space);
	case '$':
		return lex_name(p, pos, space);
	case '.':
		if (is_digit(uc(p, s + 1)))
			return lex_number(p, pos, space);
		return lex_name(p, pos, space);
	case '+':
	case '-':
		return lex_number(p, pos, space);
	case '=':
		type = T_ASSIGN;
		break;
	case ':':
		if (uc(p, s + 1) != '=')
			return tmpl_perr(p, s, "expected :=");
		type = T_DECLARE;
		len = 2;
		break;
	case '|':
		type = T_PIPE;
		break;
	case '(':
		type = T_LPAREN;
		p->paren++;
		break;
	case ')':
		if (--p->paren < 0)
			return tmpl_perr(p, s, "unexpected right paren");
		type = T_RPAREN;
		break;
	case ',':
		type = T_COMMA;
		break;
	default:
		if (is_digit(c))
			return lex_number(p, pos, space);
		if (is_alnum(c))
			return lex_word(p, pos, space);
		if (c > 0x20 && c < 0x7f) {
			type = T_CHAR;
			break;
		}
		return tmpl_perr(p, s, "unexpected character 0x%02x in action", c);
	}
	if (emit(p, type, s, len, space) == NULL)
		return tmpl_poom(p);
	*pos = s + len;
	return 0;
}

/* Inside {{ }}: tokens up to and including the right delimiter. */
static int
lex_action(struct parser *p, size_t at, size_t *pos)
{
	size_t q = *pos;
	int rc, trim;

	p->paren = 0;
	for (;;) {
		int space = 0;

		while (q < p->n && is_space(uc(p, q))) {
			if (right_delim_at(p, q, &trim) && trim)
				break;
			q++;
			space = 1;
		}
		if (right_delim_at(p, q, &trim)) {
			if (p->paren > 0)
				return tmpl_perr(p, q, "unclosed left paren");
			if (emit(p, T_RDELIM, q + (trim ? 2 : 0), p->rdn,
				 space) == NULL)
				return tmpl_poom(p);
			q += (trim ? 2 : 0) + p->rdn;
			while (trim && q < p->n && is_space(uc(p, q)))
				q++;
			*pos = q;
			return 0;
		}
		if (q >= p->n)
			return tmpl_perr(p, at, "unclosed action");
		rc = lex_item(p, &q, space);
		if (rc != 0)
			return rc;
	}
}

static int
lex_comment(struct parser *p, size_t at, size_t *pos)
{
	size_t s = *pos + 2, q;
	const char *e = memmem(p->src + s, p->n - s, "*/", 2);
	int trim;

	if (e == NULL)
		return tmpl_perr(p, at, "unclosed comment");
	q = (size_t)(e - p->src) + 2;
	if (!right_delim_at(p, q, &trim))
		return tmpl_perr(p, q, "comment ends before closing delimiter");
	q += (trim ? 2 : 0) + p->rdn;
	while (trim && q < p->n && is_space(uc(p, q)))
		q++;
	*pos = q;
	return 0;
}

static int
emit_text(struct parser *p, size_t from, size_t to)
{
	struct tok *t = emit(p, T_TEXT, from, to - from, 0);

	if (t == NULL)
		return tmpl_poom(p);
	t->s = p->src + from;
	t->len = to - from;
	return 0;
}

int
tmpl_lex(struct parser *p)
{
	size_t pos = 0;
	int rc;

	for (;;) {
		const char *x = memmem(p->src + pos, p->n - pos, p->ld, p->ldn);
		size_t at, te;
		int trim;

		if (x == NULL) {
			if (pos < p->n && emit_text(p, pos, p->n) != 0)
				return -ENOMEM;
			return emit(p, T_EOF, p->n, 0, 0) ? 0 : tmpl_poom(p);
		}
		at = (size_t)(x - p->src);
		trim = left_trim_at(p, at + p->ldn);
		te = at;
		while (trim && te > pos && is_space(uc(p, te - 1)))
			te--;
		if (te > pos && emit_text(p, pos, te) != 0)
			return -ENOMEM;
		pos = at + p->ldn + (trim ? 2 : 0);
		if (has_prefix(p, pos, "/*", 2)) {
			rc = lex_comment(p, at, &pos);
		} else if (emit(p, T_LDELIM, at, p->ldn, 0) == NULL) {
			rc = tmpl_poom(p);
		} else {
			rc = lex_action(p, at, &pos);
		}
		if (rc != 0)
			return rc;
	}
}
