/*
 * config/value.c: one scalar of the file, from text to a typed value.
 *
 * The engine hands every scalar value (never a key) to cfg_expand_env()
 * and then to cfg_parse_typed() with the table entry it belongs to.
 * Here are the parsers of the types a row can have: strings and paths,
 * booleans (YAML 1.1 words), durations ("1h30m"), octal modes, whole
 * numbers, ratios ("0.8", "80%") and ENUM words; and ${NAME} expansion.
 * config_parse_duration(), config_parse_mode() and config_expand_env()
 * are the same parsers, for the rest of the agent.
 *
 * DESIGN / invariants:
 * - No message here contains the value: a failure fills WHY with what
 *   is wrong ("is negative"), and the caller, which knows whether the
 *   value took text from the environment, decides whether to show it.
 * - ${NAME}, ${NAME:-default} and $$ are the only expansions.  A value
 *   that took text from the environment is marked tainted, with the
 *   names of its variables, because environment values are often
 *   secrets.  The expanded text lives in a capped struct buf, so a
 *   value cannot grow past CFG_MAX_VALUE.
 * - Numbers are parsed by hand, digit by digit, with overflow checks
 *   and never through floating point: a ratio is parts per million, so
 *   0.05 is exactly 50000, and a duration is exact milliseconds.
 * - Bounds come from the entry (min/max) and are shown in the entry's
 *   own units ("between 1m and 365d"), so a message reads like the file.
 */
#include "config.h"
#include "config_int.h"
#include "buf.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Scalar parsers.  Their messages never contain the value. */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_name_char(char c)
{
	return is_name_start(c) || is_digit(c);
}

static void
set_why(char *why, size_t whylen, const char *msg)
{
	if (whylen)
		snprintf(why, whylen, "%s", msg);
}

/*
 * Expand ${NAME}, ${NAME:-default} and $$ in S.  As in the shell, ":-"
 * also applies when NAME is set but empty.  Defaults are literal text
 * (they come from the file) and may use $$ but not nest ${...}.
 */
int
cfg_expand_env(const char *s, char **out, struct expand *x, char *why,
	       size_t whylen)
{
	struct buf b = BUF_INIT(CFG_MAX_VALUE);
	const char *p = s;
	size_t len;
	int rc = 0;

	*out = NULL;
	x->tainted = 0;
	x->vars[0] = '\0';
	while (*p) {
		const char *dollar = strchr(p, '$');
		const char *name, *end, *def = NULL, *value;
		char namebuf[128];
		size_t namelen, deflen = 0;

		if (dollar == NULL) {
			rc = buf_puts(&b, p);
			break;
		}
		rc = buf_append(&b, p, (size_t)(dollar - p));
		if (rc < 0)
			break;
		if (dollar[1] == '$') {
			rc = buf_putc(&b, '$');
			if (rc < 0)
				break;
			p = dollar + 2;
			continue;
		}
		if (dollar[1] != '{') {
			set_why(why, whylen, "has a lone '$': write '$$' for a "
				"literal dollar sign, or ${NAME} for a variable");
			rc = -EINVAL;
			break;
		}
		name = dollar + 2;
		end = name;
		while (is_name_char(*end))
			end++;
		namelen = (size_t)(end - name);
		if (namelen == 0 || !is_name_start(*name) ||
		    namelen >= sizeof(namebuf)) {
			set_why(why, whylen, "has a '${' without a valid "
				"variable name (letters, digits and '_', not "
				"starting with a digit)");
			rc = -EINVAL;
			break;
		}
		memcpy(namebuf, name, namelen);
		namebuf[namelen] = '\0';
		if (end[0] == ':' && end[1] == '-') {
			def = end + 2;
			end = def;
			while (*end && *end != '}') {
				if (end[0] == '$' && end[1] == '$') {
					end += 2;
					continue;
				}
				if (*end == '$') {
					snprintf(why, whylen, "has '$' inside "
						 "the default of ${%s}: nested "
						 "variables are not supported "
						 "(write $$ for a literal '$')",
						 namebuf);
					rc = -EINVAL;
					goto out;
				}
				end++;
			}
			deflen = (size_t)(end - def);
		}
		if (*end != '}') {
			snprintf(why, whylen, "has an unterminated or "
				 "unsupported ${%s...}: write ${%s} or "
				 "${%s:-default}", namebuf, namebuf, namebuf);
			rc = -EINVAL;
			break;
		}
		value = getenv(namebuf);
		if (value && (def == NULL || *value)) {
			size_t used = strlen(x->vars), sep = used ? 2 : 0;
			char token[sizeof(namebuf) + 3];
			size_t tlen;

			rc = buf_puts(&b, value);
			x->tainted = 1;
			snprintf(token, sizeof(token), "${%s}", namebuf);
			tlen = strlen(token);
			/* Name each variable once; drop what does not fit. */
			if (strstr(x->vars, token) == NULL &&
			    used + sep + tlen < sizeof(x->vars)) {
				memcpy(x->vars + used, ", ", sep);
				memcpy(x->vars + used + sep, token, tlen + 1);
			}
		} else if (def) {
			/* Copy the default, turning $$ into $. */
			for (size_t i = 0; i < deflen && rc == 0; i++) {
				rc = buf_putc(&b, def[i]);
				if (def[i] == '$')
					i++;
			}
		} else {
			snprintf(why, whylen, "environment variable '%s' is "
				 "not set (write ${%s:-default} to give a "
				 "default)", namebuf, namebuf);
			rc = -EINVAL;
		}
		if (rc < 0)
			break;
		p = end + 1;
	}
out:
	if (rc == 0) {
		*out = buf_take(&b, &len);
		if (*out == NULL)
			rc = -ENOMEM;
	}
	if (rc == -ENOMEM)
		set_why(why, whylen, "out of memory");
	else if (rc == -E2BIG)
		snprintf(why, whylen, "is longer than %d bytes once its "
			 "variables are expanded", CFG_MAX_VALUE);
	if (rc < 0) {
		buf_free(&b);
		return rc;
	}
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Decimal digits only: no sign, no spaces, no 0x. */
static int
parse_u64(const char *s, uint64_t *out, const char **why)
{
	uint64_t n = 0;

	if (*s == '\0') {
		*why = "is empty";
		return -EINVAL;
	}
	if (*s == '-') {
		*why = "is negative";
		return -EINVAL;
	}
	for (; *s; s++) {
		if (!is_digit(*s)) {
			*why = "is not a whole number (digits only)";
			return -EINVAL;
		}
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			*why = "is too large";
			return -ERANGE;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return 0;
}

static const struct {
	const char *name;
	uint64_t ms;
} duration_units[] = {
	{ "d", MS_DAY }, { "h", MS_HOUR }, { "m", MS_MIN },
	{ "s", MS_SEC }, { "ms", 1 },
};

#define N_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/*
 * "500ms", "90s", "15m", "72h", "30d", largest unit first in combinations
 * ("1h30m"), each unit at most once; a bare number is seconds.
 */
static int
parse_duration(const char *s, uint64_t *ms, const char **why)
{
	uint64_t total = 0;
	size_t next = 0;	/* units before this index are used up */
	const char *p = s;
	int rc;

	if (*s == '\0') {
		*why = "is empty; write a duration such as 30s or 5m";
		return -EINVAL;
	}
	if (*s == '-') {
		*why = "is negative; a duration is zero or more";
		return -EINVAL;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		uint64_t n;

		rc = parse_u64(s, &n, why);
		if (rc < 0)
			return rc;
		if (n > UINT64_MAX / MS_SEC) {
			*why = "is too large";
			return -ERANGE;
		}
		*ms = n * MS_SEC;
		return 0;
	}
	while (*p) {
		uint64_t n = 0;
		size_t ulen, u;

		if (!is_digit(*p)) {
			*why = "is not a duration (write e.g. 500ms, 90s, 15m, "
			       "72h, 30d or 1h30m)";
			return -EINVAL;
		}
		for (; is_digit(*p); p++) {
			if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
				*why = "is too large";
				return -ERANGE;
			}
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (*p == '.' || *p == ',') {
			*why = "has a fraction; write 1h30m rather than 1.5h";
			return -EINVAL;
		}
		ulen = 0;
		while ((p[ulen] >= 'a' && p[ulen] <= 'z') ||
		       (p[ulen] >= 'A' && p[ulen] <= 'Z'))
			ulen++;
		if (ulen == 0) {
			*why = "has a number without a unit (ms, s, m, h or d); "
			       "only a lone number means seconds";
			return -EINVAL;
		}
		for (u = 0; u < N_UNITS; u++) {
			if (strlen(duration_units[u].name) == ulen &&
			    memcmp(duration_units[u].name, p, ulen) == 0)
				break;
		}
		if (u == N_UNITS) {
			*why = "has an unknown unit (use ms, s, m, h or d)";
			return -EINVAL;
		}
		if (u < next) {
			*why = "repeats a unit or has them out of order "
			       "(largest first, as in 1h30m)";
			return -EINVAL;
		}
		next = u + 1;
		if (n > UINT64_MAX / duration_units[u].ms ||
		    n * duration_units[u].ms > UINT64_MAX - total) {
			*why = "is too large";
			return -ERANGE;
		}
		total += n * duration_units[u].ms;
		p += ulen;
	}
	*ms = total;
	return 0;
}

/* One to five octal digits, at most 07777. */
static int
parse_mode(const char *s, unsigned *mode, const char **why)
{
	unsigned m = 0;
	size_t len = strlen(s);

	if (len == 0) {
		*why = "is empty; write an octal mode such as \"0640\"";
		return -EINVAL;
	}
	if (len > 5 || strspn(s, "01234567") != len) {
		*why = "is not an octal file mode (write e.g. \"0640\")";
		return -EINVAL;
	}
	for (; *s; s++)
		m = m * 8 + (unsigned)(*s - '0');
	if (m > 07777) {
		*why = "is above 07777";
		return -ERANGE;
	}
	*mode = m;
	return 0;
}

/*
 * "0.8", ".8", "1" or "80%", "12.5%": a fraction in parts per million, at
 * most six decimal places, never through floating point, so 0.05 is
 * exactly 50000.
 */
static int
parse_ratio(const char *s, uint64_t *ppm, const char **why)
{
	uint64_t whole = 0, frac = 0, scale = 1000000;
	size_t len = strlen(s), digits = 0;
	int pct = len > 0 && s[len - 1] == '%';
	const char *p = s, *end = s + len - (size_t)pct;

	if (p == end) {
		*why = "is empty; write a fraction such as 0.8 or 80%";
		return -EINVAL;
	}
	if (*p == '-') {
		*why = "is negative";
		return -EINVAL;
	}
	for (; p < end && is_digit(*p) && whole <= 1000; p++, digits++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (p < end && *p == '.') {
		for (p++; p < end && is_digit(*p); p++, digits++) {
			if (scale == 1) {
				*why = "has more than six decimal places";
				return -EINVAL;
			}
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (p != end || digits == 0) {
		*why = "is not a fraction (write e.g. 0.8 or 80%)";
		return -EINVAL;
	}
	if (whole > 1000) {
		*why = "is too large";
		return -ERANGE;
	}
	*ppm = whole * 1000000 + frac;
	if (pct)
		*ppm /= 100;
	return 0;
}

/* "1h30m", "500ms", "0ms": the inverse of parse_duration, for messages. */
void
cfg_format_duration(uint64_t ms, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t u = 0; u < N_UNITS && used < len; u++) {
		uint64_t n = ms / duration_units[u].ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * duration_units[u].ms;
		w = snprintf(buf + used, len - used, "%llu%s",
			     (unsigned long long)n, duration_units[u].name);
		if (w < 0)
			return;
		used += (size_t)w;
	}
}

void
cfg_enum_list(const struct cfg_enum *values, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; values && values->name && used < len; values++) {
		int w = snprintf(buf + used, len - used, "%s%s",
				 used ? ", " : "", values->name);

		if (w < 0)
			return;
		used += (size_t)w;
	}
}

/* ------------------------------------------------------------------ */
/* Typing one value */

static int
check_range(const struct cfg_entry *e, uint64_t v, char *why, size_t whylen)
{
	char lo[32], hi[32];

	if (v >= e->min && v <= e->max)
		return 0;
	if (e->type == CFG_DURATION) {
		cfg_format_duration(e->min, lo, sizeof(lo));
		cfg_format_duration(e->max, hi, sizeof(hi));
	} else if (e->type == CFG_MODE) {
		snprintf(lo, sizeof(lo), "%04llo", (unsigned long long)e->min);
		snprintf(hi, sizeof(hi), "%04llo", (unsigned long long)e->max);
	} else if (e->type == CFG_RATIO) {
		snprintf(lo, sizeof(lo), "%g", (double)e->min / 1e6);
		snprintf(hi, sizeof(hi), "%g", (double)e->max / 1e6);
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)e->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)e->max);
	}
	snprintf(why, whylen, "is out of range: must be between %s and %s",
		 lo, hi);
	return -ERANGE;
}

int
cfg_check_string(const struct cfg_entry *e, const char *s, char *why,
		 size_t whylen)
{
	const char *msg;

	if (e->type == CFG_PATH && *s == '\0') {
		set_why(why, whylen, "is empty");
		return -EINVAL;
	}
	msg = e->check ? e->check(s) : NULL;
	if (msg) {
		set_why(why, whylen, msg);
		return -EINVAL;
	}
	return 0;
}

/*
 * Type *TEXT as entry E and store it at FIELD.  A string value is stored
 * as is and *TEXT set to NULL; otherwise *TEXT stays the caller's.  On
 * failure WHY gets a message that never contains the value: the caller
 * decides whether the value may be shown.
 */
int
cfg_parse_typed(const struct cfg_entry *e, char **text, int quoted,
		void *field, char *why, size_t whylen)
{
	const char *s = *text, *msg = NULL;
	uint64_t u;
	unsigned mode;
	int rc, b;

	switch (e->type) {
	case CFG_STRING:
	case CFG_PATH:
		rc = cfg_check_string(e, s, why, whylen);
		if (rc < 0)
			return rc;
		free(*(char **)field);
		*(char **)field = *text;
		*text = NULL;
		return 0;
	case CFG_BOOL:
		if (parse_bool(s, &b) < 0) {
			set_why(why, whylen, "is not a boolean (use true or "
				"false; yes/no and on/off also work)");
			return -EINVAL;
		}
		*(int *)field = b;
		return 0;
	case CFG_DURATION:
		rc = parse_duration(s, &u, &msg);
		if (rc < 0) {
			set_why(why, whylen, msg);
			return rc;
		}
		rc = check_range(e, u, why, whylen);
		if (rc < 0)
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case CFG_MODE:
		if (!quoted) {
			set_why(why, whylen, "must be a quoted string such as "
				"\"0640\": an unquoted number is ambiguous in "
				"YAML (octal or decimal)");
			return -EINVAL;
		}
		rc = parse_mode(s, &mode, &msg);
		if (rc < 0) {
			set_why(why, whylen, msg);
			return rc;
		}
		rc = check_range(e, mode, why, whylen);
		if (rc < 0)
			return rc;
		*(unsigned *)field = mode;
		return 0;
	case CFG_ENUM:
		if (e->parse) {
			if (e->parse(s, &b) == 0) {
				*(int *)field = b;
				return 0;
			}
		} else {
			for (const struct cfg_enum *v = e->values; v->name;
			     v++) {
				if (strcasecmp(s, v->name) == 0) {
					*(int *)field = v->value;
					return 0;
				}
			}
		}
		{
			char list[160];

			cfg_enum_list(e->values, list, sizeof(list));
			snprintf(why, whylen, "is not one of: %s", list);
		}
		return -EINVAL;
	case CFG_UINT:
		rc = parse_u64(s, &u, &msg);
		if (rc < 0) {
			set_why(why, whylen, msg);
			return rc;
		}
		rc = check_range(e, u, why, whylen);
		if (rc < 0)
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case CFG_RATIO:
		rc = parse_ratio(s, &u, &msg);
		if (rc < 0) {
			set_why(why, whylen, msg);
			return rc;
		}
		rc = check_range(e, u, why, whylen);
		if (rc < 0)
			return rc;
		*(double *)field = (double)u / 1e6;
		return 0;
	case CFG_STRINGLIST:
	case CFG_SECTION:
	case CFG_LIST_OF_SECTION:
	case CFG_MAP_OF_SECTION:
		break;
	}
	assert(!"parse_typed: not a scalar type");
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Exported parsers */

int
config_parse_duration(const char *s, uint64_t *ms)
{
	const char *why;

	return parse_duration(s, ms, &why);
}

int
config_parse_mode(const char *s, unsigned *mode)
{
	const char *why;

	return parse_mode(s, mode, &why);
}

char *
config_expand_env(const char *s, char *err, size_t errlen)
{
	struct expand x;
	char *out;

	if (cfg_expand_env(s, &out, &x, err, errlen) < 0)
		return NULL;
	return out;
}
