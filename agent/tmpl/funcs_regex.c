/*
 * funcs_regex.c: consul-template's regexMatch and regexReplaceAll (and
 * Sprig's, which are the same), with Go's regexp (RE2) syntax run on
 * POSIX regcomp/regexec (REG_EXTENDED).
 *
 * DESIGN / invariants:
 *  - A Go pattern is translated to a POSIX extended one: \d \w \s (and
 *    \D \W \S outside brackets), escapes inside brackets, \A \z \Q...\E,
 *    \xHH, (?:...) and (?P<name>...) groups, the flags i, m and s at the
 *    start ((?i) is REG_ICASE, (?m) REG_NEWLINE), and "." not matching a
 *    newline unless (?s).  What cannot be translated faithfully is an
 *    error that says so: non-greedy repeats (*? +? ?? {n}?), \p{...}
 *    classes, back references, flags inside the pattern.
 *  - POSIX has no non-capturing group: (?:...) becomes a group whose
 *    number is left out of the map from Go's group numbers to POSIX's,
 *    so $1 in a replacement still means what it means in Go.
 *  - Known differences that remain: POSIX picks the leftmost-longest
 *    match where Go picks the leftmost-first (a|ab on "ab": Go "a",
 *    here "ab"), and "." or [^x] match one byte, not one UTF-8 rune.
 *  - ReplaceAllString is Go's loop: non-overlapping matches from the
 *    left, an empty match right after a match is not replaced, and the
 *    search moves on by at least one rune; $1, ${1}, $name, ${name} and
 *    $$ expand as in Regexp.Expand.
 *  - The pattern and the text may be secrets: errors quote neither.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define RE_MAX_GROUPS	64
#define RE_MSG		128

struct re {
	regex_t rx;
	int compiled;
	size_t ngo;			/* Go's capture groups */
	int go2px[RE_MAX_GROUPS + 1];	/* Go group -> POSIX group */
	const char *names[RE_MAX_GROUPS + 1];	/* malloc'd, or NULL */
	size_t namelen[RE_MAX_GROUPS + 1];
	size_t npx;			/* POSIX groups */
};

static const char ere_special[] = ".[]()*+?{}|^$\\";

/* One literal byte, escaped for use outside brackets. */
static void
lit(struct buf *b, unsigned char ch)
{
	if (ch != '\0' && strchr(ere_special, ch) != NULL)
		buf_putc(b, '\\');
	buf_putc(b, (char)ch);
}

static int
hexval(int ch)
{
	if (is_digit(ch))
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* \xHH or \x{H...} at P[*I] (after the x): the code point, or -1. */
static long
hex_escape(const char *p, size_t n, size_t *i)
{
	long v = 0;
	int d;

	if (*i < n && p[*i] == '{') {
		size_t k = *i + 1;

		while (k < n && (d = hexval((unsigned char)p[k])) >= 0 && v <= 0x10FFFF)
			v = v * 16 + d, k++;
		if (k == *i + 1 || k >= n || p[k] != '}' || v > 0x10FFFF)
			return -1;
		*i = k + 1;
		return v;
	}
	if (*i + 2 > n || hexval((unsigned char)p[*i]) < 0 ||
	    hexval((unsigned char)p[*i + 1]) < 0)
		return -1;
	v = hexval((unsigned char)p[*i]) * 16 + hexval((unsigned char)p[*i + 1]);
	*i += 2;
	return v;
}

static const char *
perl_class(int ch)
{
	switch (ch) {
	case 'd': case 'D': return "0-9";
	case 'w': case 'W': return "0-9A-Za-z_";
	case 's': case 'S': return "\t\n\f\r ";
	default: return NULL;
	}
}

static int
escape_char(int ch)
{
	switch (ch) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case 'f': return '\f';
	case 'v': return '\v';
	case 'a': return '\a';
	default: return -1;
	}
}

/*
 * A bracket expression at P[*I] (after the "["), into B as POSIX wants
 * it: "]" first, "-" last, "^" not first; escapes resolved.
 */
static int
bracket(struct buf *b, const char *p, size_t n, size_t *i, char *err,
	size_t errlen)
{
	struct buf body = BUF_INIT(4096);
	int neg = 0, rbrack = 0, dash = 0, caret = 0, first = 1, rc = 0;

	if (*i < n && p[*i] == '^') {
		neg = 1;
		(*i)++;
	}
	for (;;) {
		unsigned char ch;
		long cp;

		if (*i >= n) {
			snprintf(err, errlen, "missing closing ]");
			rc = -EINVAL;
			goto out;
		}
		ch = (unsigned char)p[*i];
		if (ch == ']' && !first) {
			(*i)++;
			break;
		}
		first = 0;
		if (ch == '[' && *i + 1 < n && p[*i + 1] == ':') {
			const char *e = memmem(p + *i + 2, n - *i - 2, ":]", 2);

			if (e == NULL) {
				snprintf(err, errlen, "missing closing ]");
				rc = -EINVAL;
				goto out;
			}
			buf_append(&body, p + *i, (size_t)(e + 2 - (p + *i)));
			*i = (size_t)(e + 2 - p);
			continue;
		}
		(*i)++;
		cp = ch;
		if (ch == '\\') {
			int e;

			if (*i >= n) {
				snprintf(err, errlen, "trailing backslash at end of expression");
				rc = -EINVAL;
				goto out;
			}
			ch = (unsigned char)p[(*i)++];
			if (perl_class(ch) != NULL && ch >= 'a') {
				buf_puts(&body, perl_class(ch));
				continue;
			}
			if (perl_class(ch) != NULL) {
				snprintf(err, errlen, "negated class \\%c inside [] is not "
					 "supported", ch);
				rc = -EINVAL;
				goto out;
			}
			e = escape_char(ch);
			if (e >= 0) {
				cp = e;
			} else if (ch == 'x') {
				cp = hex_escape(p, n, i);
				if (cp < 0 || cp > 0x7F) {
					snprintf(err, errlen, "\\x escape inside [] must be "
						 "ASCII");
					rc = -EINVAL;
					goto out;
				}
			} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   is_digit(ch)) {
				snprintf(err, errlen, "invalid or unsupported escape "
					 "sequence \\%c", ch);
				rc = -EINVAL;
				goto out;
			} else {
				cp = ch;
			}
		}
		/* A range's end is copied as it comes. */
		if (*i + 1 < n && p[*i] == '-' && p[*i + 1] != ']') {
			unsigned char hi = (unsigned char)p[*i + 1];

			if (hi == '\\' || hi == '[') {
				snprintf(err, errlen, "escaped range end is not supported");
				rc = -EINVAL;
				goto out;
			}
			if (hi < cp) {
				snprintf(err, errlen, "invalid character class range");
				rc = -EINVAL;
				goto out;
			}
			buf_putc(&body, (char)cp);
			buf_putc(&body, '-');
			buf_putc(&body, (char)hi);
			*i += 2;
			continue;
		}
		if (cp == ']')
			rbrack = 1;
		else if (cp == '-')
			dash = 1;
		else if (cp == '^')
			caret = 1;
		else
			buf_putc(&body, (char)cp);
	}
	if (!neg && body.len == 0 && !rbrack && !dash && caret) {
		buf_puts(b, "\\^");
		goto out;
	}
	buf_putc(b, '[');
	if (neg)
		buf_putc(b, '^');
	if (rbrack)
		buf_putc(b, ']');
	if (body.s != NULL)
		buf_append(b, body.s, body.len);
	if (caret)
		buf_putc(b, '^');
	if (dash)
		buf_putc(b, '-');
	buf_putc(b, ']');
	if (!neg && body.len == 0 && !rbrack && !dash && !caret) {
		snprintf(err, errlen, "missing closing ]");
		rc = -EINVAL;
	}
out:
	if (rc == 0 && body.err != 0)
		rc = body.err;
	buf_free(&body);
	return rc;
}

/* "{n}", "{n,}" or "{n,m}" at P[I]: its length, or 0 (a literal "{"). */
static size_t
repeat_len(const char *p, size_t n, size_t i)
{
	size_t k = i + 1, d = 0;

	while (k < n && is_digit(p[k]))
		k++, d++;
	if (d == 0)
		return 0;
	if (k < n && p[k] == ',') {
		k++;
		while (k < n && is_digit(p[k]))
			k++;
	}
	return k < n && p[k] == '}' ? k + 1 - i : 0;
}

static int
re_compile(struct re *re, const char *p, size_t n, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(64 * 1024);
	int cflags = REG_EXTENDED, dotall = 0, rc = 0, prev_atom = 0;
	size_t i = 0;

	memset(re, 0, sizeof(*re));
	/* Flags, only at the very start: (?i) (?s) (?m) (?is) ... */
	if (n >= 3 && p[0] == '(' && p[1] == '?') {
		size_t k = 2;

		while (k < n && (p[k] == 'i' || p[k] == 's' || p[k] == 'm'))
			k++;
		if (k > 2 && k < n && p[k] == ')') {
			for (i = 2; i < k; i++) {
				if (p[i] == 'i')
					cflags |= REG_ICASE;
				else if (p[i] == 'm')
					cflags |= REG_NEWLINE;
				else
					dotall = 1;
			}
			i = k + 1;
		}
	}
	while (i < n && rc == 0) {
		unsigned char ch = (unsigned char)p[i++];
		int atom = 1;

		switch (ch) {
		case '\\': {
			const char *cls;
			int e;

			if (i >= n) {
				snprintf(err, errlen, "trailing backslash at end of expression");
				rc = -EINVAL;
				break;
			}
			ch = (unsigned char)p[i++];
			cls = perl_class(ch);
			e = escape_char(ch);
			if (cls != NULL) {
				buf_puts(&b, ch >= 'a' ? "[" : "[^");
				buf_puts(&b, cls);
				buf_putc(&b, ']');
			} else if (e >= 0) {
				lit(&b, (unsigned char)e);
			} else if (ch == 'x') {
				long cp = hex_escape(p, n, &i);
				char u[4];
				size_t k, ul;

				if (cp < 0) {
					snprintf(err, errlen, "invalid escape sequence \\x");
					rc = -EINVAL;
					break;
				}
				ul = tmpl_utf8_enc((uint32_t)cp, u);
				for (k = 0; k < ul; k++)
					lit(&b, (unsigned char)u[k]);
			} else if (ch == 'A') {
				buf_putc(&b, '^');
			} else if (ch == 'z') {
				buf_putc(&b, '$');
			} else if (ch == 'b' || ch == 'B') {
				buf_putc(&b, '\\');
				buf_putc(&b, (char)ch);
			} else if (ch == 'Q') {
				const char *e2 = memmem(p + i, n - i, "\\E", 2);
				size_t end = e2 ? (size_t)(e2 - p) : n;

				for (; i < end; i++)
					lit(&b, (unsigned char)p[i]);
				i = e2 ? end + 2 : n;
			} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   is_digit(ch)) {
				snprintf(err, errlen, "invalid or unsupported escape "
					 "sequence \\%c", ch);
				rc = -EINVAL;
			} else {
				lit(&b, ch);
			}
			break;
		}
		case '[':
			rc = bracket(&b, p, n, &i, err, errlen);
			break;
		case '(':
			atom = 0;
			if (re->npx >= RE_MAX_GROUPS) {
				snprintf(err, errlen, "more than %d groups", RE_MAX_GROUPS);
				rc = -EINVAL;
				break;
			}
			re->npx++;
			if (i < n && p[i] == '?') {
				size_t k;

				if (i + 1 < n && p[i + 1] == ':') {
					i += 2;
				} else if ((i + 1 < n && p[i + 1] == '<') ||
					   (i + 2 < n && p[i + 1] == 'P' && p[i + 2] == '<')) {
					char *nm;

					i += p[i + 1] == '<' ? 2 : 3;
					for (k = i; k < n && p[k] != '>'; k++)
						;
					if (k >= n || k == i) {
						snprintf(err, errlen, "invalid named capture");
						rc = -EINVAL;
						break;
					}
					re->ngo++;
					re->go2px[re->ngo] = (int)re->npx;
					nm = malloc(k - i + 1);
					if (nm == NULL) {
						rc = -ENOMEM;
						break;
					}
					memcpy(nm, p + i, k - i);
					nm[k - i] = '\0';
					re->names[re->ngo] = nm;
					re->namelen[re->ngo] = k - i;
					i = k + 1;
				} else {
					snprintf(err, errlen, "flags or group syntax (?...) "
						 "other than (?:, (?P< and leading (?ims) are not "
						 "supported");
					rc = -EINVAL;
					break;
				}
			} else {
				re->ngo++;
				re->go2px[re->ngo] = (int)re->npx;
			}
			buf_putc(&b, '(');
			break;
		case ')':
			buf_putc(&b, ')');
			break;
		case '.':
			buf_puts(&b, dotall ? "." : "[^\n]");
			break;
		case '*':
		case '+':
		case '?':
		case '{': {
			size_t rl = ch == '{' ? repeat_len(p, n, i - 1) : 1;

			if (rl == 0) {
				buf_puts(&b, "\\{");
				break;
			}
			atom = 0;
			if (!prev_atom) {
				snprintf(err, errlen, "missing argument to repetition operator");
				rc = -EINVAL;
				break;
			}
			buf_append(&b, p + i - 1, rl);
			i += rl - 1;
			if (i < n && p[i] == '?') {
				snprintf(err, errlen, "non-greedy repetition (%.*s?) is not "
					 "supported", (int)rl, p + i - rl);
				rc = -EINVAL;
			} else if (i < n && (p[i] == '*' || p[i] == '+' ||
					     (p[i] == '{' && repeat_len(p, n, i) > 0))) {
				snprintf(err, errlen, "invalid nested repetition operator");
				rc = -EINVAL;
			}
			break;
		}
		case '|':
		case '^':
		case '$':
			atom = ch == '$' || ch == '^';
			buf_putc(&b, (char)ch);
			break;
		default:
			lit(&b, ch);
			break;
		}
		prev_atom = atom;
	}
	if (rc == 0 && b.err != 0)
		rc = b.err == -ENOMEM ? -ENOMEM : -EINVAL;
	if (rc == -EINVAL && err[0] == '\0')
		snprintf(err, errlen, "expression too long");
	if (rc == 0) {
		int r = regcomp(&re->rx, b.s ? b.s : "", cflags);

		if (r != 0) {
			char msg[RE_MSG];

			regerror(r, &re->rx, msg, sizeof(msg));
			snprintf(err, errlen, "%s", msg);
			rc = r == REG_ESPACE ? -ENOMEM : -EINVAL;
		} else {
			re->compiled = 1;
		}
	}
	buf_free(&b);
	return rc;
}

static void
re_free(struct re *re)
{
	size_t i;

	if (re->compiled)
		regfree(&re->rx);
	for (i = 0; i <= re->ngo; i++)
		free((void *)re->names[i]);
}

/* The leftmost match at or after FROM (TEXT LEN bytes): 1, 0, or <0. */
static int
re_exec(const struct re *re, const char *text, size_t len, size_t from,
	regmatch_t *m)
{
	int r;

	m[0].rm_so = (regoff_t)from;
	m[0].rm_eo = (regoff_t)len;
	r = regexec(&re->rx, text, re->npx + 1, m,
		    REG_STARTEND | (from > 0 ? REG_NOTBOL : 0));
	if (r == REG_NOMATCH)
		return 0;
	return r == 0 ? 1 : -ENOMEM;
}

static int
compile_arg(struct exec *x, const struct call *c, const struct val *a,
	    struct re *re)
{
	char err[160] = "";
	const char *p;
	size_t plen;
	int rc = tmpl_arg_str(x, c, a, 0, &p, &plen);

	if (rc != 0)
		return rc;
	rc = re_compile(re, p, plen, err, sizeof(err));
	if (rc == -ENOMEM) {
		re_free(re);
		return tmpl_xoom(x);
	}
	if (rc != 0) {
		re_free(re);
		return tmpl_cerr(x, c, "error parsing regexp: %s", err);
	}
	return 0;
}

/* regexMatch RE S */
int
tmpl_fn_regexMatch(struct exec *x, const struct call *c, const struct val *a,
		   size_t n, struct val *out)
{
	regmatch_t m[RE_MAX_GROUPS + 1];
	struct re re;
	const char *s;
	size_t len;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc == 0)
		rc = compile_arg(x, c, a, &re);
	if (rc != 0)
		return rc;
	rc = re_exec(&re, s, len, 0, m);
	re_free(&re);
	if (rc < 0)
		return tmpl_cerr(x, c, "regexec failed");
	*out = vbool(rc);
	return 0;
}

/* Regexp.Expand of TPL for the match M of S. */
static void
expand(struct buf *b, const struct re *re, const char *tpl, size_t tlen,
       const char *s, const regmatch_t *m)
{
	size_t i = 0;

	while (i < tlen) {
		const char *d = memchr(tpl + i, '$', tlen - i);
		size_t k, nstart, nlen, num = 0;
		int brace = 0, isnum = 1, px = -1;

		if (d == NULL) {
			buf_append(b, tpl + i, tlen - i);
			return;
		}
		buf_append(b, tpl + i, (size_t)(d - (tpl + i)));
		i = (size_t)(d - tpl) + 1;
		if (i < tlen && tpl[i] == '$') {
			buf_putc(b, '$');
			i++;
			continue;
		}
		k = i;
		if (k < tlen && tpl[k] == '{') {
			brace = 1;
			k++;
		}
		nstart = k;
		while (k < tlen && (is_digit(tpl[k]) || tpl[k] == '_' ||
				    ((tpl[k] | 0x20) >= 'a' && (tpl[k] | 0x20) <= 'z') ||
				    (unsigned char)tpl[k] >= 0x80))
			k++;
		nlen = k - nstart;
		if (nlen == 0 || (brace && (k >= tlen || tpl[k] != '}'))) {
			buf_putc(b, '$');	/* malformed: "$" as text */
			continue;
		}
		i = k + (size_t)brace;
		for (k = 0; k < nlen; k++) {
			if (!is_digit(tpl[nstart + k]) || num >= 100000000) {
				isnum = 0;
				break;
			}
			num = num * 10 + (size_t)(tpl[nstart + k] - '0');
		}
		if (isnum && num >= 100000000)
			isnum = 0;
		if (isnum) {
			if (num == 0)
				px = 0;
			else if (num <= re->ngo)
				px = re->go2px[num];
		} else {
			for (k = 1; k <= re->ngo; k++)
				if (re->names[k] && re->namelen[k] == nlen &&
				    memcmp(re->names[k], tpl + nstart, nlen) == 0) {
					px = re->go2px[k];
					break;
				}
		}
		if (px >= 0 && m[px].rm_so >= 0)
			buf_append(b, s + m[px].rm_so,
				   (size_t)(m[px].rm_eo - m[px].rm_so));
	}
}

/* regexReplaceAll RE REPLACEMENT S: Regexp.ReplaceAllString, or
 * ReplaceAllLiteralString for Sprig's regexReplaceAllLiteral (whose
 * caller puts the arguments in this order). */
int
tmpl_fn_regexReplaceAll(struct exec *x, const struct call *c,
			const struct val *a, size_t n, struct val *out)
{
	int literal = strstr(c->fn->name, "Literal") != NULL;
	regmatch_t m[RE_MAX_GROUPS + 1];
	struct buf b = tmpl_fn_buf(x);
	struct re re;
	const char *tpl, *s;
	size_t tlen, len, pos = 0, last = 0;
	int rc;

	(void)n;
	rc = tmpl_arg_str(x, c, a, 1, &tpl, &tlen);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, 2, &s, &len);
	if (rc == 0)
		rc = compile_arg(x, c, a, &re);
	if (rc != 0)
		return rc;
	while (pos <= len && b.err == 0) {
		size_t so, eo, w = 1;
		uint32_t r;

		rc = re_exec(&re, s, len, pos, m);
		if (rc <= 0)
			break;
		so = (size_t)m[0].rm_so;
		eo = (size_t)m[0].rm_eo;
		buf_append(&b, s + last, so - last);
		if ((eo > last || so == 0) && literal)
			buf_append(&b, tpl, tlen);
		else if (eo > last || so == 0)
			expand(&b, &re, tpl, tlen, s, m);
		last = eo;
		if (pos < len)
			w = tmpl_utf8_dec(s + pos, len - pos, &r);
		if (pos + w > eo)
			pos += w;
		else
			pos = eo;
	}
	re_free(&re);
	if (rc < 0) {
		buf_free(&b);
		return tmpl_cerr(x, c, "regexec failed");
	}
	buf_append(&b, s + last, len - last);
	return tmpl_fn_result(x, c, &b, out);
}

/*
 * Go's allMatches: the matches of RE in S from the left, at most MAX
 * (< 0: all), an empty match right after a match left out; each one's
 * [start, end) into SO and EO (malloc'd).  The count, or -ENOMEM.
 */
static long
all_matches(const struct re *re, const char *s, size_t len, long max,
	    size_t **so, size_t **eo)
{
	regmatch_t m[RE_MAX_GROUPS + 1];
	size_t pos = 0, cap = 0, k = 0;
	long prev_end = -1;

	*so = NULL;
	*eo = NULL;
	while ((max < 0 || (long)k < max) && pos <= len) {
		int r = re_exec(re, s, len, pos, m), accept = 1;
		size_t a0, a1;

		if (r < 0)
			return r;
		if (r == 0)
			break;
		a0 = (size_t)m[0].rm_so;
		a1 = (size_t)m[0].rm_eo;
		if (a1 == pos) {
			uint32_t rr;

			if ((long)a0 == prev_end)
				accept = 0;
			pos += pos < len ? tmpl_utf8_dec(s + pos, len - pos, &rr) : 1;
		} else {
			pos = a1;
		}
		prev_end = (long)a1;
		if (!accept)
			continue;
		if (k == cap) {
			size_t c2 = cap, c3 = cap;
			size_t *n1 = tmpl_grow(*so, &c2, k + 1, sizeof(**so));

			if (n1 == NULL)
				return -ENOMEM;
			*so = n1;
			n1 = tmpl_grow(*eo, &c3, k + 1, sizeof(**eo));
			if (n1 == NULL)
				return -ENOMEM;
			*eo = n1;
			cap = c2 < c3 ? c2 : c3;
		}
		(*so)[k] = a0;
		(*eo)[k] = a1;
		k++;
	}
	return (long)k;
}

static int
add_piece(struct exec *x, cJSON *l, const char *s, size_t len)
{
	char *d = malloc(len + 1);
	int rc;

	if (d == NULL)
		return tmpl_xoom(x);
	memcpy(d, s, len);
	d[len] = '\0';
	rc = tmpl_add_val(x, l, NULL, vstr(d, len));
	free(d);
	return rc;
}

/*
 * Sprig's regexFind RE S, regexFindAll RE S N and regexSplit RE S N
 * (FindString, FindAllString, Split), and their must* twins.
 */
int
tmpl_fn_regexFind(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	const char *name = c->fn->name, *s;
	int split = strstr(name, "Split") != NULL;
	int all = split || strstr(name, "FindAll") != NULL;
	size_t len, *so = NULL, *eo = NULL, beg = 0, end = 0;
	long long max = 1;
	long k, i;
	struct re re;
	cJSON *l = NULL;
	int rc;

	rc = tmpl_arg_str(x, c, a, 1, &s, &len);
	if (rc == 0 && all && n == 3)
		rc = tmpl_arg_int(x, c, a, 2, &max);
	if (rc == 0)
		rc = compile_arg(x, c, a, &re);
	if (rc != 0)
		return rc;
	if (all) {
		l = cJSON_CreateArray();
		rc = tmpl_ret_json(x, l, out);
		if (rc != 0 || max == 0) {
			re_free(&re);
			if (rc == 0 && max == 0)
				*out = (struct val){.k = V_LIST};	/* Go's nil */
			return rc;
		}
	}
	if (split && len == 0 && a[0].len > 0) {
		re_free(&re);
		return add_piece(x, l, "", 0);
	}
	k = all_matches(&re, s, len, max < 0 ? -1 : (long)max, &so, &eo);
	re_free(&re);
	if (k < 0) {
		free(so);
		free(eo);
		return tmpl_xoom(x);
	}
	if (!all) {
		*out = vstr("", 0);
		if (k > 0) {
			struct buf b = tmpl_fn_buf(x);

			buf_append(&b, s + so[0], eo[0] - so[0]);
			rc = tmpl_fn_result(x, c, &b, out);
		}
		free(so);
		free(eo);
		return rc;
	}
	for (i = 0; i < k && rc == 0; i++) {
		if (!split) {
			rc = add_piece(x, l, s + so[i], eo[i] - so[i]);
			continue;
		}
		if (max > 0 && (long long)tmpl_jcount(l) == max - 1)
			break;
		end = so[i];
		if (eo[i] != 0)
			rc = add_piece(x, l, s + beg, end - beg);
		beg = eo[i];
	}
	if (rc == 0 && split && end != len)
		rc = add_piece(x, l, s + beg, len - beg);
	if (rc == 0 && !split && k == 0)
		*out = (struct val){.k = V_LIST};	/* Go's nil slice */
	free(so);
	free(eo);
	return rc;
}

/* Sprig's regexQuoteMeta S: regexp.QuoteMeta. */
int
tmpl_fn_regexQuoteMeta(struct exec *x, const struct call *c,
		       const struct val *a, size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	for (i = 0; i < len; i++) {
		if (strchr("\\.+*?()|[]{}^$", s[i]) != NULL && s[i] != '\0')
			buf_putc(&b, '\\');
		buf_putc(&b, s[i]);
	}
	return tmpl_fn_result(x, c, &b, out);
}
