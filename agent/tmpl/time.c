/*
 * time.c: consul-template's timestamp function, with Go's time.Format
 * layouts ("2006-01-02T15:04:05Z07:00" and the like).
 *
 * DESIGN / invariants:
 *  - A layout is read as Go's nextStdChunk reads it: the table of words
 *    is in the order Go tries them, and a word Go would not take where it
 *    stands ("Jan" before a lowercase letter) is literal text here too.
 *  - The clock is UTC and whole seconds (tmpl_env.now, or time(NULL)), so
 *    every zone word has one fixed rendering and fractional seconds are
 *    zeros (".000") or nothing (".999").
 */
#include "tmpl_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

/*
 * Go's time.Format layout words, in the order Go's nextStdChunk tries
 * them.  The clock is UTC, so every zone word has a fixed rendering.
 */
enum tword {
	TW_LIT, TW_MONTH_NAME, TW_MONTH_ABBR, TW_DAY_NAME, TW_DAY_ABBR,
	TW_PM, TW_MONTH, TW_MDAY, TW_YDAY, TW_HOUR, TW_HOUR12, TW_MIN, TW_SEC,
	TW_YEAR, TW_YEAR2,
};

static const struct layout_word {
	const char *word;
	enum tword what;
	int width;		/* numbers: at least this many digits... */
	char pad;		/* ...padded with this */
	const char *lit;	/* TW_LIT: the fixed text */
	int eat;		/* bytes consumed if not the whole word */
	int nolower;		/* not a word when a lowercase letter follows */
} layout_words[] = {
	{"January", TW_MONTH_NAME, 0, 0, NULL, 0, 0},
	{"Jan", TW_MONTH_ABBR, 0, 0, NULL, 0, 1},
	{"Monday", TW_DAY_NAME, 0, 0, NULL, 0, 0},
	{"Mon", TW_DAY_ABBR, 0, 0, NULL, 0, 1},
	{"MST", TW_LIT, 0, 0, "UTC", 0, 0},
	{"002", TW_YDAY, 3, '0', NULL, 0, 0},
	{"01", TW_MONTH, 2, '0', NULL, 0, 0},
	{"02", TW_MDAY, 2, '0', NULL, 0, 0},
	{"03", TW_HOUR12, 2, '0', NULL, 0, 0},
	{"04", TW_MIN, 2, '0', NULL, 0, 0},
	{"05", TW_SEC, 2, '0', NULL, 0, 0},
	{"06", TW_YEAR2, 2, '0', NULL, 0, 0},
	{"15", TW_HOUR, 2, '0', NULL, 0, 0},
	{"1", TW_MONTH, 1, '0', NULL, 0, 0},
	{"2006", TW_YEAR, 4, '0', NULL, 0, 0},
	{"2", TW_MDAY, 1, '0', NULL, 0, 0},
	{"_2006", TW_LIT, 0, 0, "_", 1, 0},	/* "_" then the year */
	{"__2", TW_YDAY, 3, ' ', NULL, 0, 0},
	{"_2", TW_MDAY, 2, ' ', NULL, 0, 0},
	{"3", TW_HOUR12, 1, '0', NULL, 0, 0},
	{"4", TW_MIN, 1, '0', NULL, 0, 0},
	{"5", TW_SEC, 1, '0', NULL, 0, 0},
	{"PM", TW_PM, 0, 'A', NULL, 0, 0},
	{"pm", TW_PM, 0, 'a', NULL, 0, 0},
	{"-070000", TW_LIT, 0, 0, "+000000", 0, 0},
	{"-07:00:00", TW_LIT, 0, 0, "+00:00:00", 0, 0},
	{"-0700", TW_LIT, 0, 0, "+0000", 0, 0},
	{"-07:00", TW_LIT, 0, 0, "+00:00", 0, 0},
	{"-07", TW_LIT, 0, 0, "+00", 0, 0},
	{"Z070000", TW_LIT, 0, 0, "Z", 0, 0},
	{"Z07:00:00", TW_LIT, 0, 0, "Z", 0, 0},
	{"Z0700", TW_LIT, 0, 0, "Z", 0, 0},
	{"Z07:00", TW_LIT, 0, 0, "Z", 0, 0},
	{"Z07", TW_LIT, 0, 0, "Z", 0, 0},
};

static void
put_tword(struct buf *b, const struct layout_word *w, const struct tm *tm)
{
	static const char *const months[] = {
		"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December",
	};
	static const char *const days[] = {
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
		"Friday", "Saturday",
	};
	char digits[16];
	int v = 0, k;

	switch (w->what) {
	case TW_LIT: buf_puts(b, w->lit); return;
	case TW_MONTH_NAME: buf_puts(b, months[tm->tm_mon]); return;
	case TW_MONTH_ABBR: buf_append(b, months[tm->tm_mon], 3); return;
	case TW_DAY_NAME: buf_puts(b, days[tm->tm_wday]); return;
	case TW_DAY_ABBR: buf_append(b, days[tm->tm_wday], 3); return;
	case TW_PM:
		buf_putc(b, tm->tm_hour >= 12 ? (char)(w->pad + 'P' - 'A') : w->pad);
		buf_putc(b, (char)(w->pad + 'M' - 'A'));
		return;
	case TW_MONTH: v = tm->tm_mon + 1; break;
	case TW_MDAY: v = tm->tm_mday; break;
	case TW_YDAY: v = tm->tm_yday + 1; break;
	case TW_HOUR: v = tm->tm_hour; break;
	case TW_HOUR12: v = tm->tm_hour % 12 ? tm->tm_hour % 12 : 12; break;
	case TW_MIN: v = tm->tm_min; break;
	case TW_SEC: v = tm->tm_sec; break;
	case TW_YEAR: v = tm->tm_year + 1900; break;
	case TW_YEAR2: v = (tm->tm_year + 1900) % 100; break;
	}
	k = snprintf(digits, sizeof(digits), "%d", v);
	if (k > 0 && k < w->width)
		buf_fill(b, w->pad, (size_t)(w->width - k));
	buf_puts(b, digits);
}

/* Go's time.Format of a UTC time. */
static void
go_time(struct buf *b, const char *l, size_t n, const struct tm *tm)
{
	size_t i = 0, j, k;

	while (i < n) {
		const struct layout_word *w = NULL;

		for (k = 0; k < sizeof(layout_words) / sizeof(layout_words[0]); k++) {
			const struct layout_word *c = &layout_words[k];
			size_t wl = strlen(c->word);

			if (n - i < wl || memcmp(l + i, c->word, wl) != 0)
				continue;
			if (c->nolower && i + wl < n && l[i + wl] >= 'a' &&
			    l[i + wl] <= 'z')
				continue;
			w = c;
			break;
		}
		if (w != NULL) {
			put_tword(b, w, tm);
			i += w->eat ? (size_t)w->eat : strlen(w->word);
			continue;
		}
		/* ".000" or ".999": fractional seconds; this clock has none. */
		if ((l[i] == '.' || l[i] == ',') && i + 1 < n &&
		    (l[i + 1] == '0' || l[i + 1] == '9')) {
			for (j = i + 1; j < n && l[j] == l[i + 1]; j++)
				;
			if (j >= n || !is_digit(l[j])) {
				if (l[i + 1] == '0') {
					buf_putc(b, l[i]);
					buf_fill(b, '0', j - i - 1);
				}
				i = j;
				continue;
			}
		}
		buf_putc(b, l[i++]);
	}
}

/* For Sprig's date functions (funcs_sprig.c). */
void
tmpl_go_time(struct buf *b, const char *l, size_t n, const struct tm *tm)
{
	go_time(b, l, n, tm);
}

/* timestamp [LAYOUT]: RFC 3339 by default, "unix" for seconds. */
int
tmpl_fn_timestamp(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	static const char rfc3339[] = "2006-01-02T15:04:05Z07:00";
	struct buf b = tmpl_fn_buf(x);
	const char *l = rfc3339;
	size_t len = sizeof(rfc3339) - 1;
	time_t now = x->env->now ? (time_t)x->env->now : time(NULL);
	struct tm tm;
	int rc;

	if (n == 1) {
		rc = tmpl_arg_str(x, c, a, 0, &l, &len);
		if (rc != 0)
			return rc;
	}
	if (len == 4 && memcmp(l, "unix", 4) == 0) {
		buf_printf(&b, "%lld", (long long)now);
		return tmpl_fn_result(x, c, &b, out);
	}
	if (gmtime_r(&now, &tm) == NULL)
		return tmpl_cerr(x, c, "time out of range");
	go_time(&b, l, len, &tm);
	return tmpl_fn_result(x, c, &b, out);
}
