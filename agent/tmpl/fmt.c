/*
 * fmt.c: Go's fmt package for template values (print, println, printf
 * and what {{ pipeline }} prints), and numbers as Go writes them.
 *
 * DESIGN / invariants:
 *  - printf follows Go's doPrintf step by step: flags, [n] argument
 *    indexes, * widths and precisions, and Go's in-band complaints
 *    ("%!d(string=x)", "%!(MISSING)", "%!(EXTRA ...)", "%!(NOVERB)")
 *    instead of errors, as a template run by Go would print them.
 *  - Printing follows Go's fmt: maps in key order, lists as [a b], Go
 *    structs as {...} (&{...} at the top), nil as <nil>.  Numbers print
 *    as the JSON text Vault sent, because consul-template sees them as
 *    json.Number: 2764800, not 2.7648e+06, and 0.00001 without an
 *    exponent.
 *  - Width and padding count runes, not bytes, as Go does.  Everything
 *    is written into a capped struct buf; a failure is the buffer's
 *    error, found by whoever takes the result.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fmath.h"

/* ------------------------------------------------------------------ */
/* Numbers as Go prints them                                           */

/* The shortest digits that read back as X (finite, > 0): X = D.DDD e EXP. */
static void
shortest(double x, char *digs, size_t cap, int *exp10)
{
	char buf[48], *e;
	size_t k = 0;
	int prec;

	for (prec = 0; prec < 16; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*e", prec, x);
	e = strchr(buf, 'e');
	*exp10 = (int)strtol(e + 1, NULL, 10);
	for (char *q = buf; q < e && k + 1 < cap; q++)
		if (*q != '.')
			digs[k++] = *q;
	while (k > 1 && digs[k - 1] == '0')
		k--;
	digs[k] = '\0';
}

static void
put_exp_form(struct buf *b, const char *d, int exp, int mindigits, char e)
{
	buf_putc(b, d[0]);
	if (d[1] != '\0') {
		buf_putc(b, '.');
		buf_puts(b, d + 1);
	}
	buf_printf(b, "%c%c%0*d", e, exp < 0 ? '-' : '+', mindigits, abs(exp));
}

static void
put_pos_form(struct buf *b, const char *d, int exp)
{
	size_t nd = strlen(d), i;

	if (exp < 0) {
		buf_puts(b, "0.");
		buf_fill(b, '0', (size_t)(-exp - 1));
		buf_puts(b, d);
		return;
	}
	for (i = 0; i <= (size_t)exp; i++)
		buf_putc(b, i < nd ? d[i] : '0');
	if (nd > (size_t)exp + 1) {
		buf_putc(b, '.');
		buf_puts(b, d + exp + 1);
	}
}

/*
 * |X| as Go formats it.  MODE 'g' is %g.  MODE 'j' is encoding/json's
 * form, which is also how a value prints: Vault's numbers reach
 * consul-template as json.Number, the text Go's JSON encoder wrote, so
 * 2764800 prints in full and 0.00001 without an exponent.
 */
static void
put_unsigned(struct buf *b, double x, int mode)
{
	char d[32];
	int exp;

	x = fabs(x);
	if (isnan(x)) {
		buf_puts(b, "NaN");
		return;
	}
	if (isinf(x)) {
		buf_puts(b, "Inf");
		return;
	}
	if (x == 0) {
		buf_putc(b, '0');
		return;
	}
	if (mode != 'g' && x == fm_trunc(x) && x < 1e21) {
		buf_printf(b, "%.0f", x);
		return;
	}
	shortest(x, d, sizeof(d), &exp);
	if (mode != 'g') {
		if (x < 1e-6 || x >= 1e21)
			put_exp_form(b, d, exp, 1, 'e');
		else
			put_pos_form(b, d, exp);
	} else if (exp < -4 || exp >= 6) {
		put_exp_form(b, d, exp, 2, 'e');
	} else {
		put_pos_form(b, d, exp);
	}
}

void
tmpl_put_num(struct buf *b, double x, int mode)
{
	if (isinf(x))
		buf_putc(b, x > 0 ? '+' : '-');
	else if (signbit(x) && x != 0)
		buf_putc(b, '-');
	put_unsigned(b, x, mode);
}

/* ------------------------------------------------------------------ */
/* Go's fmt for template values                                        */

struct spec {
	uint32_t verb;
	int minus, plus, sharp, space, zero;
	int has_wid, has_prec;
	int wid, prec;
};

static const struct spec spec_v = {.verb = 'v'};

static void fmt_val(struct buf *b, struct val v, const struct spec *sp,
		    int depth);

static void
put_rune(struct buf *b, uint32_t r)
{
	char u[4];

	buf_append(b, u, tmpl_utf8_enc(r, u));
}

/* Write SIGN and BODY padded to the width; zeros go after the sign. */
static void
pad(struct buf *b, const char *sign, const char *body, size_t n,
    const struct spec *sp)
{
	size_t w = strlen(sign) + tmpl_utf8_count(body, n), fill;

	fill = sp->has_wid && (size_t)sp->wid > w ? (size_t)sp->wid - w : 0;
	if (sp->minus) {
		buf_puts(b, sign);
		buf_append(b, body, n);
		buf_fill(b, ' ', fill);
	} else if (sp->zero) {
		buf_puts(b, sign);
		buf_fill(b, '0', fill);
		buf_append(b, body, n);
	} else {
		buf_fill(b, ' ', fill);
		buf_puts(b, sign);
		buf_append(b, body, n);
	}
}

/* "%!d(string=x)": a verb that does not fit the value. */
static void
bad_verb(struct buf *b, struct val v, uint32_t verb)
{
	buf_puts(b, "%!");
	put_rune(b, verb);
	buf_putc(b, '(');
	if (v.k == V_NIL) {
		buf_puts(b, "<nil>");
	} else {
		buf_puts(b, tmpl_go_type(v));
		buf_putc(b, '=');
		fmt_val(b, v, &spec_v, 0);
	}
	buf_putc(b, ')');
}

/* strconv.Quote, for valid UTF-8 taken as printable. */
static void
go_quote(struct buf *b, const char *s, size_t n)
{
	size_t i = 0;

	buf_putc(b, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t r;
		size_t k = tmpl_utf8_dec(s + i, n - i, &r);

		if (c >= 0x80) {
			if (r == 0xFFFD && k == 1)
				buf_printf(b, "\\x%02x", c);
			else
				buf_append(b, s + i, k);
			i += k;
			continue;
		}
		i++;
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\a': buf_puts(b, "\\a"); break;
		case '\b': buf_puts(b, "\\b"); break;
		case '\f': buf_puts(b, "\\f"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\v': buf_puts(b, "\\v"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\x%02x", c);
			else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void
fmt_str(struct buf *b, struct val v, const struct spec *sp)
{
	struct buf t = BUF_INIT(b->max);
	size_t n = v.len, i;

	if (sp->has_prec) {
		uint32_t r;
		int k;

		for (i = 0, k = 0; i < v.len && k < sp->prec; k++)
			i += tmpl_utf8_dec(v.s + i, v.len - i, &r);
		n = i;
	}
	switch (sp->verb) {
	case 'v':
	case 's':
		pad(b, "", v.s, n, sp);
		return;
	case 'q':
		go_quote(&t, v.s, n);
		break;
	case 'x':
	case 'X':
		if (sp->sharp)
			buf_puts(&t, sp->verb == 'x' ? "0x" : "0X");
		for (i = 0; i < n; i++)
			buf_printf(&t, sp->verb == 'x' ? "%02x" : "%02X",
				   (unsigned char)v.s[i]);
		break;
	default:
		bad_verb(b, v, sp->verb);
		return;
	}
	if (t.err)
		tmpl_buf_fail(b, t.err);
	else
		pad(b, "", t.s ? t.s : "", t.len, sp);
	buf_free(&t);
}

static void
fmt_num(struct buf *b, struct val v, const struct spec *sp)
{
	struct buf t = BUF_INIT(b->max);
	const char *sign = "";
	double x = v.n, ax = fabs(x);
	char buf[700];		/* %.300f of DBL_MAX fits */
	struct spec s2 = *sp;
	int prec = sp->has_prec ? (sp->prec > 300 ? 300 : sp->prec) : 6;

	if (signbit(x) && x != 0)
		sign = "-";
	else if (sp->plus)
		sign = "+";
	else if (sp->space)
		sign = " ";
	switch (sp->verb) {
	case 'v':
	case 's':
		if (isinf(x) && !signbit(x))
			sign = "+";
		put_unsigned(&t, x, 'j');
		break;
	case 'd':
	case 'b':
	case 'o':
	case 'x':
	case 'X':
		if (!is_int(x) || ax >= 18446744073709551616.0) {
			bad_verb(b, v, sp->verb);
			return;
		} else {
			unsigned long long u = (unsigned long long)ax;
			const char *dig = sp->verb == 'X' ? "0123456789ABCDEF" :
							    "0123456789abcdef";
			unsigned base = sp->verb == 'd' ? 10 : sp->verb == 'b' ? 2 :
					sp->verb == 'o' ? 8 : 16;
			size_t k = sizeof(buf);

			buf[--k] = '\0';
			do {
				buf[--k] = dig[u % base];
				u /= base;
			} while (u > 0);
			while (sp->has_prec && sizeof(buf) - 1 - k <
			       (size_t)sp->prec && k > 1)
				buf[--k] = '0';
			if (sp->sharp && base != 10)
				buf_puts(&t, base == 2 ? "0b" : base == 8 ? "0" :
					    base == 16 && sp->verb == 'x' ? "0x" : "0X");
			buf_puts(&t, buf + k);
			if (sp->has_prec)
				s2.zero = 0;
		}
		break;
	case 'U':
		if (!is_int(x) || x < 0 || x > 0x10FFFF) {
			bad_verb(b, v, sp->verb);
			return;
		}
		buf_printf(&t, "U+%04X", (unsigned)x);
		sign = "";
		break;
	case 'c':
		if (!is_int(x)) {
			bad_verb(b, v, sp->verb);
			return;
		}
		put_rune(&t, x < 0 || x > 0x10FFFF ? 0xFFFD : (uint32_t)x);
		sign = "";
		break;
	case 'e':
	case 'E':
	case 'f':
	case 'F':
	case 'g':
	case 'G':
		if (!isfinite(x)) {
			if (isinf(x) && !signbit(x))
				sign = sp->plus ? "+" : sp->space ? " " : "";
			put_unsigned(&t, x, 'g');
			s2.zero = 0;
		} else if (sp->verb == 'g' || sp->verb == 'G') {
			if (sp->has_prec)
				snprintf(buf, sizeof(buf), "%.*g", prec, ax);
			else
				buf[0] = '\0';
			if (buf[0] != '\0')
				buf_puts(&t, buf);
			else
				put_unsigned(&t, ax, 'g');
		} else if (sp->verb == 'e' || sp->verb == 'E') {
			snprintf(buf, sizeof(buf), "%.*e", prec, ax);
			buf_puts(&t, buf);
		} else {
			snprintf(buf, sizeof(buf), "%.*f", prec, ax);
			buf_puts(&t, buf);
		}
		if ((sp->verb == 'E' || sp->verb == 'G') && t.s != NULL)
			for (char *q = t.s; *q; q++)
				if (*q == 'e')
					*q = 'E';
		break;
	default:
		bad_verb(b, v, sp->verb);
		return;
	}
	if (t.err)
		tmpl_buf_fail(b, t.err);
	else
		pad(b, sign, t.s ? t.s : "", t.len, &s2);
	buf_free(&t);
}

/* One value with one verb; lists, maps and structs element by element. */
static void
fmt_val(struct buf *b, struct val v, const struct spec *sp, int depth)
{
	const cJSON *c, **m;
	size_t i, n;

	switch (v.k) {
	case V_PENDING:
		return;
	case V_NIL:
		if (sp->verb == 'v')
			pad(b, "", "<nil>", 5, sp);
		else
			bad_verb(b, v, sp->verb);
		return;
	case V_BOOL:
		if (sp->verb == 'v' || sp->verb == 't')
			pad(b, "", v.b ? "true" : "false", v.b ? 4 : 5, sp);
		else
			bad_verb(b, v, sp->verb);
		return;
	case V_NUM:
		fmt_num(b, v, sp);
		return;
	case V_STR:
		fmt_str(b, v, sp);
		return;
	case V_LIST:
		buf_putc(b, '[');
		for (c = v.j ? v.j->child : NULL, i = 0; c != NULL; c = c->next, i++) {
			if (i > 0)
				buf_putc(b, ' ');
			fmt_val(b, tmpl_to_val(c), sp, depth + 1);
		}
		buf_putc(b, ']');
		return;
	case V_MAP:
		if (tmpl_sorted_members(v.j, &m, &n) != 0) {
			tmpl_buf_fail(b, -ENOMEM);
			return;
		}
		buf_puts(b, "map[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_putc(b, ' ');
			fmt_val(b, vstr(m[i]->string, strlen(m[i]->string)), sp,
				depth + 1);
			buf_putc(b, ':');
			fmt_val(b, tmpl_to_val(m[i]), sp, depth + 1);
		}
		buf_putc(b, ']');
		free((void *)m);
		return;
	case V_STRUCT:
		buf_puts(b, v.st->ptr && depth == 0 ? "&{" : "{");
		for (i = 0; i < v.st->nf; i++) {
			if (i > 0)
				buf_putc(b, ' ');
			fmt_val(b, tmpl_sfield_val(v.j, &v.st->f[i]), sp, depth + 1);
		}
		buf_putc(b, '}');
		return;
	}
}

void
tmpl_print(struct buf *b, struct val v, int depth)
{
	fmt_val(b, v, &spec_v, depth);
}

/* A space between operands when neither is a string. */
void
tmpl_sprint(struct buf *b, const struct val *a, size_t n, int ln)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0 && (ln || (a[i].k != V_STR && a[i - 1].k != V_STR)))
			buf_putc(b, ' ');
		fmt_val(b, a[i], &spec_v, 0);
	}
	if (ln)
		buf_putc(b, '\n');
}

/* "[n]" before a width, precision or verb. */
static void
arg_index(const char *f, size_t flen, size_t *i, size_t nargs, size_t *argn,
	  int *reordered, int *after, int *bad)
{
	size_t j = *i + 1, v = 0;

	if (*i >= flen || f[*i] != '[')
		return;
	*reordered = 1;
	while (j < flen && is_digit(f[j]) && v < 1000000)
		v = v * 10 + (size_t)(f[j++] - '0');
	if (j >= flen || f[j] != ']' || j == *i + 1 || v < 1 || v > nargs) {
		while (j < flen && f[j] != ']')
			j++;
		*bad = 1;
		*i = j < flen ? j + 1 : flen;
		return;
	}
	*argn = v - 1;
	*after = 1;
	*i = j + 1;
}

/* '*': a width or precision taken from the arguments. */
static int
star_arg(const struct val *a, size_t nargs, size_t *argn, int *out)
{
	if (*argn >= nargs || a[*argn].k != V_NUM || !is_int(a[*argn].n) ||
	    fabs(a[*argn].n) > 1000000) {
		(*argn)++;
		return -1;
	}
	*out = (int)a[(*argn)++].n;
	return 0;
}

/* Go's doPrintf step by step. */
void
tmpl_sprintf(struct buf *b, const char *f, size_t flen, const struct val *a,
	     size_t nargs)
{
	size_t i = 0, argn = 0, lit;
	int reordered = 0;

	while (i < flen) {
		struct spec sp;
		int after = 0, bad = 0;
		uint32_t r;

		lit = i;
		while (i < flen && f[i] != '%')
			i++;
		buf_append(b, f + lit, i - lit);
		if (i >= flen)
			break;
		i++;
		memset(&sp, 0, sizeof(sp));
		for (; i < flen; i++) {
			if (f[i] == '#')
				sp.sharp = 1;
			else if (f[i] == '0')
				sp.zero = !sp.minus;
			else if (f[i] == '+')
				sp.plus = 1;
			else if (f[i] == '-')
				sp.minus = 1, sp.zero = 0;
			else if (f[i] == ' ')
				sp.space = 1;
			else
				break;
		}
		arg_index(f, flen, &i, nargs, &argn, &reordered, &after, &bad);
		if (i < flen && f[i] == '*') {
			i++;
			if (star_arg(a, nargs, &argn, &sp.wid) != 0) {
				buf_puts(b, "%!(BADWIDTH)");
			} else {
				sp.has_wid = 1;
				if (sp.wid < 0)
					sp.wid = -sp.wid, sp.minus = 1, sp.zero = 0;
			}
			after = 0;
		} else {
			while (i < flen && is_digit(f[i]) && sp.wid < 1000000)
				sp.wid = sp.wid * 10 + (f[i++] - '0'), sp.has_wid = 1;
			if (after && sp.has_wid)
				bad = 1;
		}
		if (i < flen && f[i] == '.') {
			i++;
			if (after)
				bad = 1;
			arg_index(f, flen, &i, nargs, &argn, &reordered, &after,
				  &bad);
			sp.has_prec = 1;
			if (i < flen && f[i] == '*') {
				i++;
				if (star_arg(a, nargs, &argn, &sp.prec) != 0) {
					buf_puts(b, "%!(BADPREC)");
					sp.has_prec = 0;
				} else if (sp.prec < 0) {
					sp.has_prec = 0;
				}
				after = 0;
			} else {
				while (i < flen && is_digit(f[i]) && sp.prec < 1000000)
					sp.prec = sp.prec * 10 + (f[i++] - '0');
			}
		}
		if (!after)
			arg_index(f, flen, &i, nargs, &argn, &reordered, &after,
				  &bad);
		if (i >= flen) {
			buf_puts(b, "%!(NOVERB)");
			break;
		}
		i += tmpl_utf8_dec(f + i, flen - i, &r);
		sp.verb = r;
		if (r == '%') {
			buf_putc(b, '%');
		} else if (bad) {
			buf_puts(b, "%!");
			put_rune(b, r);
			buf_puts(b, "(BADINDEX)");
		} else if (argn >= nargs) {
			buf_puts(b, "%!");
			put_rune(b, r);
			buf_puts(b, "(MISSING)");
		} else if (r == 'T') {
			const char *tn = tmpl_go_type(a[argn++]);

			pad(b, "", tn, strlen(tn), &sp);
		} else {
			if (r == 'v' && sp.sharp)
				sp.sharp = 0;
			fmt_val(b, a[argn++], &sp, 0);
		}
	}
	if (!reordered && argn < nargs) {
		buf_puts(b, "%!(EXTRA ");
		for (i = argn; i < nargs; i++) {
			if (i > argn)
				buf_puts(b, ", ");
			if (a[i].k == V_NIL) {
				buf_puts(b, "<nil>");
				continue;
			}
			buf_puts(b, tmpl_go_type(a[i]));
			buf_putc(b, '=');
			fmt_val(b, a[i], &spec_v, 0);
		}
		buf_putc(b, ')');
	}
}
