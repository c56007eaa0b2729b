/*
 * import/hcl.c: a recursive-descent reader of the HCL (and JSON) that
 * Vault Agent configuration files are written in; see hcl.h.
 *
 * DESIGN / invariants:
 * - One pass over the bytes: a lexer that yields one token at a time with
 *   its line and column, and a parser that builds the tree as it goes.
 *   Whatever it has built is freed on the one error path.
 * - Every limit is checked where it could be passed: input size before
 *   anything, depth on entry to an object or a list, node count at each
 *   allocation, string length by the input's own size.
 * - The first error stops the parse; its message names the position of
 *   the token that did not fit and what was expected there.
 */
#include "import/hcl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

enum tok {
	T_EOF,
	T_IDENT,	/* bare word: keys, true/false/null, numbers start apart */
	T_STRING,	/* "..." (text unescaped) */
	T_HEREDOC,	/* <<EOF ... EOF (text as written, <<- unindented) */
	T_NUMBER,
	T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK,
	T_EQUAL,	/* = or : */
	T_COMMA,
};

struct lexer {
	const char *file;
	const char *s;
	size_t len, pos;
	unsigned line, col;
	/* the current token */
	enum tok t;
	char *text;	/* T_IDENT, T_STRING, T_HEREDOC, T_NUMBER */
	unsigned tline, tcol;
	size_t nodes;
	char *err;
	size_t errlen;
	int rc;
};

static void
fail(struct lexer *lx, unsigned line, unsigned col, int rc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
fail(struct lexer *lx, unsigned line, unsigned col, int rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (lx->rc)
		return;	/* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lx->err && lx->errlen)
		snprintf(lx->err, lx->errlen, "%s:%u:%u: %s", lx->file, line, col, msg);
	lx->rc = rc;
}

static int
peekc(const struct lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->s[lx->pos + ahead] : -1;
}

static void
advance(struct lexer *lx)
{
	if (lx->pos >= lx->len)
		return;
	if (lx->s[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->pos++;
}

/* Skip blanks and comments (# ..., // ..., / * ... * /). */
static void
skip_space(struct lexer *lx)
{
	for (;;) {
		int c = peekc(lx, 0);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			advance(lx);
		} else if (c == '#' || (c == '/' && peekc(lx, 1) == '/')) {
			while (peekc(lx, 0) != -1 && peekc(lx, 0) != '\n')
				advance(lx);
		} else if (c == '/' && peekc(lx, 1) == '*') {
			unsigned line = lx->line, col = lx->col;
			advance(lx);
			advance(lx);
			while (!(peekc(lx, 0) == '*' && peekc(lx, 1) == '/')) {
				if (peekc(lx, 0) == -1) {
					fail(lx, line, col, -EINVAL,
					     "a /* comment that is never closed");
					return;
				}
				advance(lx);
			}
			advance(lx);
			advance(lx);
		} else {
			return;
		}
	}
}

static int
is_ident(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
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

/* \uXXXX (and a surrogate pair) as UTF-8. */
static void
put_utf8(struct buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | (cp >> 6)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xe0 | (cp >> 12)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | (cp >> 18)));
		buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static int
read_hex4(struct lexer *lx, unsigned long *out)
{
	unsigned long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(peekc(lx, 0));
		if (h < 0)
			return -1;
		v = v * 16 + (unsigned long)h;
		advance(lx);
	}
	*out = v;
	return 0;
}

static void
lex_string(struct lexer *lx, struct buf *b)
{
	int depth = 0;	/* inside ${ ... }, where quotes do not end the string */

	advance(lx);	/* the opening quote */
	for (;;) {
		int c = peekc(lx, 0);
		unsigned line = lx->line, col = lx->col;

		if (c == -1 || (c == '\n' && depth == 0)) {
			fail(lx, lx->tline, lx->tcol, -EINVAL,
			     "a string that is not closed on its line");
			return;
		}
		if (c == '\0') {
			fail(lx, line, col, -EINVAL, "a NUL byte in a string");
			return;
		}
		if (c == '"' && depth == 0) {
			advance(lx);
			return;
		}
		if (c == '$' && peekc(lx, 1) == '{') {
			depth++;
			buf_puts(b, "${");
			advance(lx);
			advance(lx);
			continue;
		}
		if (c == '}' && depth > 0)
			depth--;
		if (c != '\\') {
			buf_putc(b, (char)c);
			advance(lx);
			continue;
		}
		advance(lx);
		c = peekc(lx, 0);
		switch (c) {
		case 'n': buf_putc(b, '\n'); break;
		case 't': buf_putc(b, '\t'); break;
		case 'r': buf_putc(b, '\r'); break;
		case 'b': buf_putc(b, '\b'); break;
		case 'f': buf_putc(b, '\f'); break;
		case '"': buf_putc(b, '"'); break;
		case '\\': buf_putc(b, '\\'); break;
		case '/': buf_putc(b, '/'); break;
		case 'u': {
			unsigned long cp, lo;
			advance(lx);
			if (read_hex4(lx, &cp) < 0) {
				fail(lx, line, col, -EINVAL, "\\u needs four hex digits");
				return;
			}
			if (cp >= 0xd800 && cp < 0xdc00 && peekc(lx, 0) == '\\' &&
			    peekc(lx, 1) == 'u') {
				advance(lx);
				advance(lx);
				if (read_hex4(lx, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
					fail(lx, line, col, -EINVAL,
					     "a \\u surrogate pair that is not whole");
					return;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
				fail(lx, line, col, -EINVAL, "\\u%04lx is not a character "
				     "a string can hold", cp);
				return;
			}
			put_utf8(b, cp);
			continue;
		}
		default:
			fail(lx, line, col, -EINVAL, "unknown escape \\%c",
			     c > ' ' && c < 127 ? c : '?');
			return;
		}
		advance(lx);
	}
}

/* <<EOF or <<-EOF, then lines up to one that is the marker alone (after
 * blanks); the lines of <<- lose the indentation they have in common. */
static void
lex_heredoc(struct lexer *lx, struct buf *b)
{
	char marker[64];
	size_t mlen = 0, start, indent = (size_t)-1;
	int strip = 0;
	struct buf raw = BUF_INIT(HCL_MAX_INPUT);

	advance(lx);
	advance(lx);
	if (peekc(lx, 0) == '-') {
		strip = 1;
		advance(lx);
	}
	while (is_ident(peekc(lx, 0)) && mlen < sizeof(marker) - 1) {
		marker[mlen++] = (char)peekc(lx, 0);
		advance(lx);
	}
	marker[mlen] = '\0';
	while (peekc(lx, 0) == ' ' || peekc(lx, 0) == '\t' || peekc(lx, 0) == '\r')
		advance(lx);
	if (mlen == 0 || peekc(lx, 0) != '\n') {
		fail(lx, lx->tline, lx->tcol, -EINVAL,
		     "a heredoc needs a marker word and a newline after <<");
		return;
	}
	advance(lx);
	for (;;) {
		size_t p = lx->pos, e, lead;

		if (p >= lx->len) {
			fail(lx, lx->tline, lx->tcol, -EINVAL, "heredoc <<%s%s is "
			     "never closed by a line '%s'", strip ? "-" : "", marker,
			     marker);
			buf_free(&raw);
			return;
		}
		e = p;
		while (e < lx->len && lx->s[e] != '\n')
			e++;
		lead = p;
		while (lead < e && (lx->s[lead] == ' ' || lx->s[lead] == '\t'))
			lead++;
		{
			size_t end = e;
			while (end > lead && lx->s[end - 1] == '\r')
				end--;
			/* As HCL 1: the closing marker may be indented. */
			if (end - lead == mlen && memcmp(lx->s + lead, marker, mlen) == 0) {
				while (lx->pos < e)
					advance(lx);
				break;
			}
		}
		if (memchr(lx->s + p, '\0', e - p)) {
			fail(lx, lx->line, lx->col, -EINVAL, "a NUL byte in a heredoc");
			buf_free(&raw);
			return;
		}
		if (lead < e && lead - p < indent)
			indent = lead - p;
		buf_append(&raw, lx->s + p, e - p);
		buf_putc(&raw, '\n');
		while (lx->pos < e)
			advance(lx);
		advance(lx);	/* the newline */
	}
	if (raw.err) {
		fail(lx, lx->tline, lx->tcol, raw.err, "heredoc too large");
		buf_free(&raw);
		return;
	}
	/* <<-: every line loses the indentation common to the non-blank ones. */
	start = 0;
	while (raw.s && start < raw.len) {
		size_t e = start;
		while (e < raw.len && raw.s[e] != '\n')
			e++;
		size_t cut = 0;
		if (strip && indent != (size_t)-1)
			cut = e - start < indent ? e - start : indent;
		buf_append(b, raw.s + start + cut, e - start - cut);
		buf_putc(b, '\n');
		start = e + 1;
	}
	buf_free(&raw);
}

static void
next(struct lexer *lx)
{
	struct buf b = BUF_INIT(HCL_MAX_INPUT);
	size_t tlen;
	int c;

	free(lx->text);
	lx->text = NULL;
	skip_space(lx);
	lx->tline = lx->line;
	lx->tcol = lx->col;
	if (lx->rc) {
		lx->t = T_EOF;
		return;
	}
	c = peekc(lx, 0);
	switch (c) {
	case -1: lx->t = T_EOF; return;
	case '{': lx->t = T_LBRACE; advance(lx); return;
	case '}': lx->t = T_RBRACE; advance(lx); return;
	case '[': lx->t = T_LBRACK; advance(lx); return;
	case ']': lx->t = T_RBRACK; advance(lx); return;
	case '=': case ':': lx->t = T_EQUAL; advance(lx); return;
	case ',': lx->t = T_COMMA; advance(lx); return;
	case '"':
		lx->t = T_STRING;
		lex_string(lx, &b);
		break;
	case '<':
		if (peekc(lx, 1) == '<') {
			lx->t = T_HEREDOC;
			lex_heredoc(lx, &b);
			break;
		}
		/* fall through */
	default:
		if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
			lx->t = T_NUMBER;
			buf_putc(&b, (char)c);
			advance(lx);
			while (is_ident(peekc(lx, 0)) || peekc(lx, 0) == '+' ||
			       ((peekc(lx, 0) == '-') &&
				(lx->s[lx->pos - 1] == 'e' || lx->s[lx->pos - 1] == 'E'))) {
				buf_putc(&b, (char)peekc(lx, 0));
				advance(lx);
			}
			break;
		}
		if (is_ident(c)) {
			lx->t = T_IDENT;
			while (is_ident(peekc(lx, 0))) {
				buf_putc(&b, (char)peekc(lx, 0));
				advance(lx);
			}
			break;
		}
		fail(lx, lx->line, lx->col, -EINVAL, "unexpected character '%c'",
		     c > ' ' && c < 127 ? c : '?');
		lx->t = T_EOF;
		return;
	}
	if (lx->rc) {
		buf_free(&b);
		lx->t = T_EOF;
		return;
	}
	lx->text = buf_take(&b, &tlen);
	if (lx->text == NULL) {
		fail(lx, lx->tline, lx->tcol, -ENOMEM, "out of memory");
		lx->t = T_EOF;
	}
}

static const char *
tok_what(const struct lexer *lx)
{
	switch (lx->t) {
	case T_EOF: return "the end of the file";
	case T_IDENT: return "a word";
	case T_STRING: return "a string";
	case T_HEREDOC: return "a heredoc";
	case T_NUMBER: return "a number";
	case T_LBRACE: return "'{'";
	case T_RBRACE: return "'}'";
	case T_LBRACK: return "'['";
	case T_RBRACK: return "']'";
	case T_EQUAL: return "'='";
	case T_COMMA: return "','";
	}
	return "?";
}

static void
node_clear(struct hcl_node *n)
{
	free(n->key);
	for (size_t i = 0; i < n->n_labels; i++)
		free(n->labels[i]);
	free(n->str);
	for (size_t i = 0; i < n->n; i++)
		node_clear(&n->items[i]);
	free(n->items);
	memset(n, 0, sizeof(*n));
}

void
hcl_free(struct hcl_node *root)
{
	if (root == NULL)
		return;
	node_clear(root);
	free(root);
}

/* A new zeroed item at the end of PARENT's items, or NULL (error set). */
static struct hcl_node *
add_item(struct lexer *lx, struct hcl_node *parent)
{
	struct hcl_node *items;

	if (++lx->nodes > HCL_MAX_NODES) {
		fail(lx, lx->tline, lx->tcol, -E2BIG, "more than %d values",
		     HCL_MAX_NODES);
		return NULL;
	}
	items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
	if (items == NULL) {
		fail(lx, lx->tline, lx->tcol, -ENOMEM, "out of memory");
		return NULL;
	}
	parent->items = items;
	memset(&items[parent->n], 0, sizeof(items[0]));
	return &items[parent->n++];
}

static void parse_body(struct lexer *lx, struct hcl_node *obj, int depth,
		       enum tok end);

/* A value into N (already positioned at its first token). */
static void
parse_value(struct lexer *lx, struct hcl_node *n, int depth)
{
	n->line = lx->tline;
	n->col = lx->tcol;
	if (depth > HCL_MAX_DEPTH) {
		fail(lx, lx->tline, lx->tcol, -E2BIG, "nested more than %d deep",
		     HCL_MAX_DEPTH);
		return;
	}
	switch (lx->t) {
	case T_STRING:
	case T_HEREDOC:
		n->type = HCL_STRING;
		n->str = lx->text;
		lx->text = NULL;
		next(lx);
		return;
	case T_NUMBER:
		n->type = HCL_NUMBER;
		n->str = lx->text;
		lx->text = NULL;
		next(lx);
		return;
	case T_IDENT:
		if (strcmp(lx->text, "true") == 0 || strcmp(lx->text, "false") == 0) {
			n->type = HCL_BOOL;
			n->b = lx->text[0] == 't';
			n->str = lx->text;
			lx->text = NULL;
		} else if (strcmp(lx->text, "null") == 0) {
			n->type = HCL_NULL;
		} else {
			fail(lx, lx->tline, lx->tcol, -EINVAL, "a bare word '%.40s' "
			     "where a value was expected (quote it)", lx->text);
			return;
		}
		next(lx);
		return;
	case T_LBRACE:
		n->type = HCL_OBJECT;
		next(lx);
		parse_body(lx, n, depth + 1, T_RBRACE);
		if (lx->rc)
			return;
		next(lx);	/* the } */
		return;
	case T_LBRACK:
		n->type = HCL_LIST;
		next(lx);
		while (!lx->rc && lx->t != T_RBRACK) {
			struct hcl_node *it = add_item(lx, n);
			if (it == NULL)
				return;
			parse_value(lx, it, depth + 1);
			if (lx->rc)
				return;
			if (lx->t == T_COMMA)
				next(lx);
			else if (lx->t != T_RBRACK)
				fail(lx, lx->tline, lx->tcol, -EINVAL, "expected ',' or "
				     "']' in a list, found %s", tok_what(lx));
		}
		if (!lx->rc)
			next(lx);
		return;
	default:
		fail(lx, lx->tline, lx->tcol, -EINVAL, "expected a value, found %s",
		     tok_what(lx));
		return;
	}
}

/*
 * Members up to END (T_RBRACE, or T_EOF at the top): `key = value`,
 * `key: value` (JSON), or `name "label"... { body }`; commas between
 * members are allowed.
 */
static void
parse_body(struct lexer *lx, struct hcl_node *obj, int depth, enum tok end)
{
	if (depth > HCL_MAX_DEPTH) {
		fail(lx, lx->tline, lx->tcol, -E2BIG, "nested more than %d deep",
		     HCL_MAX_DEPTH);
		return;
	}
	while (!lx->rc && lx->t != end) {
		struct hcl_node *m;
		unsigned line = lx->tline, col = lx->tcol;

		if (lx->t == T_COMMA) {
			next(lx);
			continue;
		}
		if (lx->t != T_IDENT && lx->t != T_STRING) {
			fail(lx, line, col, -EINVAL, "expected a key or '%s', found %s",
			     end == T_EOF ? "end of file" : "}", tok_what(lx));
			return;
		}
		m = add_item(lx, obj);
		if (m == NULL)
			return;
		m->key = lx->text;
		lx->text = NULL;
		next(lx);
		if (lx->t == T_EQUAL) {
			next(lx);
			parse_value(lx, m, depth + 1);
			m->line = line;
			m->col = col;
			continue;
		}
		while (!lx->rc && (lx->t == T_STRING || lx->t == T_IDENT)) {
			if (m->n_labels == HCL_MAX_LABELS) {
				fail(lx, lx->tline, lx->tcol, -EINVAL,
				     "a block with more than %d labels", HCL_MAX_LABELS);
				return;
			}
			m->labels[m->n_labels++] = lx->text;
			lx->text = NULL;
			next(lx);
		}
		if (lx->rc)
			return;
		if (lx->t != T_LBRACE) {
			fail(lx, lx->tline, lx->tcol, -EINVAL, "expected '=' or a "
			     "block's '{' after '%.40s', found %s", m->key, tok_what(lx));
			return;
		}
		m->block = 1;
		parse_value(lx, m, depth + 1);
		m->line = line;
		m->col = col;
	}
	if (!lx->rc && lx->t != end)
		fail(lx, lx->tline, lx->tcol, -EINVAL, "expected '}', found %s",
		     tok_what(lx));
}

int
hcl_parse(const char *file, const char *text, size_t len,
	  struct hcl_node **out, char *err, size_t errlen)
{
	struct lexer lx = {
		.file = file, .s = text, .len = len, .line = 1, .col = 1,
		.err = err, .errlen = errlen,
	};
	struct hcl_node *root;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > HCL_MAX_INPUT) {
		fail(&lx, 1, 1, -E2BIG, "larger than %d bytes", HCL_MAX_INPUT);
		return lx.rc;
	}
	root = calloc(1, sizeof(*root));
	if (root == NULL) {
		fail(&lx, 1, 1, -ENOMEM, "out of memory");
		return lx.rc;
	}
	root->type = HCL_OBJECT;
	root->line = 1;
	root->col = 1;
	/* A UTF-8 byte order mark is not part of the text. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		lx.pos = 3;
	next(&lx);
	if (lx.t == T_LBRACE) {
		/* The JSON form: one object. */
		next(&lx);
		parse_body(&lx, root, 1, T_RBRACE);
		if (!lx.rc)
			next(&lx);
		if (!lx.rc && lx.t != T_EOF)
			fail(&lx, lx.tline, lx.tcol, -EINVAL, "%s after the "
			     "closing '}'", tok_what(&lx));
	} else {
		parse_body(&lx, root, 0, T_EOF);
	}
	free(lx.text);
	if (lx.rc) {
		hcl_free(root);
		return lx.rc;
	}
	*out = root;
	return 0;
}

const struct hcl_node *
hcl_next(const struct hcl_node *obj, const char *key,
	 const struct hcl_node *after)
{
	size_t i = 0;

	if (obj == NULL || obj->type != HCL_OBJECT)
		return NULL;
	if (after)
		i = (size_t)(after - obj->items) + 1;
	for (; i < obj->n; i++)
		if (obj->items[i].key && strcmp(obj->items[i].key, key) == 0)
			return &obj->items[i];
	return NULL;
}

const char *
hcl_text(const struct hcl_node *obj, const char *key)
{
	const struct hcl_node *m = hcl_next(obj, key, NULL);

	if (m == NULL || (m->type != HCL_STRING && m->type != HCL_NUMBER &&
			  m->type != HCL_BOOL))
		return NULL;
	return m->str;
}
