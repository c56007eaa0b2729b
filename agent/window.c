/*
 * window: maintenance windows for certificate rotation.
 *
 * Parsing is a small hand-written scanner over the string so that every
 * error can name its column.  Time arithmetic works on "day numbers"
 * (days since 1970-01-01, proleptic Gregorian) and "wall seconds" (a
 * local date and time counted as if it were UTC), so dates and weekdays
 * never depend on mktime's normalisation.
 *
 * DESIGN: converting a local wall time to an instant asks mktime for both
 * DST interpretations and keeps those that localtime_r maps back to the
 * same wall time; the earliest wins (the first occurrence of a fall-back
 * hour).  When none does, the wall time is in a spring-forward gap, and a
 * binary search finds the transition instant, which is the first minute
 * that exists after it.  Anything that fails to convert makes the window
 * count as open: a window may delay a renewal, never block it.
 */
#include "window.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MIN_PER_DAY 1440
#define SEC_PER_DAY 86400
#define ALL_DAYS 0x7f

/* Year 10000 in unix ms: beyond it (or before minus it) windows are open. */
#define TIME_LIMIT_MS 253402300800000LL

static const char *const day_abbr[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const day_full[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};

/* ---- parsing ---------------------------------------------------------- */

struct scan {
	const char *s;	/* the whole input, for columns */
	const char *p;	/* cursor */
	char *err;
	size_t errlen;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
after_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static void
skip_blanks(struct scan *sc)
{
	sc->p = after_blanks(sc->p);
}

/*
 * Report "column N: expected WHAT, got \"TOKEN\"" where TOKEN runs from AT
 * to the next blank (or to one of STOP); at least one character.
 */
static int
fail(struct scan *sc, const char *at, const char *what, const char *stop)
{
	size_t n = 0;

	while (at[n] && !is_blank(at[n]) && !(n > 0 && strchr(stop, at[n])))
		n++;
	if (sc->err && sc->errlen) {
		if (n == 0)
			snprintf(sc->err, sc->errlen,
				 "column %zu: expected %s, got end of input",
				 (size_t)(at - sc->s) + 1, what);
		else
			snprintf(sc->err, sc->errlen,
				 "column %zu: expected %s, got \"%.*s\"",
				 (size_t)(at - sc->s) + 1, what,
				 n > 32 ? 32 : (int)n, at);
	}
	return -EINVAL;
}

/* A day name at the cursor: 0..6, or -1 with the cursor unmoved. */
static int
scan_day(struct scan *sc)
{
	size_t n = 0;

	while (isalpha((unsigned char)sc->p[n]))
		n++;
	for (int d = 0; d < 7; d++) {
		if ((n == 3 && strncasecmp(sc->p, day_abbr[d], 3) == 0) ||
		    (n == strlen(day_full[d]) &&
		     strncasecmp(sc->p, day_full[d], n) == 0)) {
			sc->p += n;
			return d;
		}
	}
	return -1;
}

#define DAYS_EXPECTED "a day (Sun..Sat), \"daily\" or \"*\""

static int
scan_days(struct scan *sc, uint8_t *days)
{
	uint8_t mask = 0;

	if (*sc->p == '*' && (sc->p[1] == '\0' || is_blank(sc->p[1]))) {
		sc->p++;
		*days = ALL_DAYS;
		return 0;
	}
	if (strncasecmp(sc->p, "daily", 5) == 0 &&
	    (sc->p[5] == '\0' || is_blank(sc->p[5]))) {
		sc->p += 5;
		*days = ALL_DAYS;
		return 0;
	}
	/* Blanks around ',' and '-' are fine; any other blank ends the days. */
	for (;;) {
		int first, last;

		first = scan_day(sc);
		if (first < 0)
			return fail(sc, sc->p, DAYS_EXPECTED, ",-");
		last = first;
		if (*after_blanks(sc->p) == '-') {
			sc->p = after_blanks(after_blanks(sc->p) + 1);
			last = scan_day(sc);
			if (last < 0)
				return fail(sc, sc->p, "a day (Sun..Sat)", ",-");
		}
		/* Fri-Mon wraps over the week end. */
		for (int d = first;; d = (d + 1) % 7) {
			mask |= (uint8_t)(1u << d);
			if (d == last)
				break;
		}
		if (*after_blanks(sc->p) != ',')
			break;
		sc->p = after_blanks(after_blanks(sc->p) + 1);
	}
	*days = mask;
	return 0;
}

/* H:MM or HH:MM, ended by a blank, '-' or the end; minutes since 00:00. */
static int
scan_time(struct scan *sc, int *minutes)
{
	const char *at = sc->p, *p = sc->p;
	int h = 0, m;

	if (!isdigit((unsigned char)p[0]))
		return fail(sc, at, "HH:MM", "-");
	h = p[0] - '0';
	p++;
	if (isdigit((unsigned char)p[0]))
		h = h * 10 + (*p++ - '0');
	if (p[0] != ':' || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) ||
	    !(p[3] == '\0' || p[3] == '-' || is_blank(p[3])))
		return fail(sc, at, "HH:MM", "-");
	m = (p[1] - '0') * 10 + (p[2] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return fail(sc, at, "a time from 00:00 to 24:00", "-");
	sc->p = p + 3;
	*minutes = h * 60 + m;
	return 0;
}

int
window_parse(const char *s, struct window *w, char *err, size_t errlen)
{
	struct scan sc = { s ? s : "", s ? s : "", err, errlen };
	struct window out = { 0 };
	const char *at;
	int start, end, rc;

	skip_blanks(&sc);
	rc = scan_days(&sc, &out.days);
	if (rc != 0)
		return rc;
	if (!is_blank(*sc.p))
		return fail(&sc, sc.p, "a blank and HH:MM-HH:MM after the days",
			    "");
	skip_blanks(&sc);
	at = sc.p;
	rc = scan_time(&sc, &start);
	if (rc != 0)
		return rc;
	if (start == MIN_PER_DAY)
		return fail(&sc, at, "a start time from 00:00 to 23:59 "
				     "(24:00 only ends a window)", "-");
	skip_blanks(&sc);
	if (*sc.p != '-')
		return fail(&sc, sc.p, "'-' and the end time", "");
	sc.p++;
	skip_blanks(&sc);
	at = sc.p;
	rc = scan_time(&sc, &end);
	if (rc != 0)
		return rc;
	if (end == start)
		return fail(&sc, at, "an end time other than the start time "
				     "(00:00-24:00 is a whole day)", "");
	skip_blanks(&sc);
	if (strncasecmp(sc.p, "UTC", 3) == 0 &&
	    (sc.p[3] == '\0' || is_blank(sc.p[3]))) {
		out.utc = 1;
		sc.p += 3;
		skip_blanks(&sc);
	}
	if (*sc.p != '\0')
		return fail(&sc, sc.p, "\"UTC\" or the end", "");
	out.start_min = (uint16_t)start;
	out.end_min = (uint16_t)end;
	*w = out;
	return 0;
}

/* ---- formatting ------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, pos;
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len == 0)
		return;
	if (o->pos + 1 >= o->len)
		return;
	if (n > o->len - 1 - o->pos)
		n = o->len - 1 - o->pos;
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

static void
put_time(struct out *o, unsigned minutes)
{
	char t[8];

	snprintf(t, sizeof(t), "%02u:%02u", (minutes / 60) % 100, minutes % 60);
	put(o, t);
}

static int
has_day(uint8_t days, int d)
{
	return (days >> (((d % 7) + 7) % 7)) & 1;
}

/*
 * Days as runs in week order starting on Monday; a run of three or more
 * days is a range ("Mon-Fri", "Fri-Mon"), shorter ones a list.
 */
static void
put_days(struct out *o, uint8_t days)
{
	int first = 1, begin = -1;

	days &= ALL_DAYS;
	if (days == ALL_DAYS) {
		put(o, "daily");
		return;
	}
	if (days == 0) {
		put(o, "never");
		return;
	}
	/* The first run that starts on or after Monday, cyclically. */
	for (int i = 1; i <= 7 && begin < 0; i++)
		if (has_day(days, i) && !has_day(days, i - 1))
			begin = i % 7;
	for (int i = 0; i < 7; i++) {
		int d = (begin + i) % 7, n = 0;

		if (!has_day(days, d) || has_day(days, d - 1))
			continue;
		while (n < 7 && has_day(days, d + n))
			n++;
		for (int k = 0; k < n; k++) {
			if (n >= 3 && k > 0 && k < n - 1)
				continue;
			if (!first)
				put(o, n >= 3 && k == n - 1 ? "-" : ",");
			put(o, day_abbr[(d + k) % 7]);
			first = 0;
		}
	}
}

void
window_format(const struct window *w, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!w)
		return;
	put_days(&o, w->days);
	put(&o, " ");
	put_time(&o, w->start_min);
	put(&o, "-");
	put_time(&o, w->end_min);
	if (w->utc)
		put(&o, " UTC");
}

/* ---- time arithmetic -------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int
weekday(int64_t day)
{
	return (int)(((day + 4) % 7 + 7) % 7);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The local wall time at instant T, in wall seconds; -1 on failure. */
static int
local_wall(time_t t, int64_t *wall)
{
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return -1;
	*wall = days_from_civil((int64_t)tm.tm_year + 1900,
				(unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) *
			SEC_PER_DAY +
		tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

/*
 * The instant of local wall time WALL (wall seconds, on a whole minute):
 * its first occurrence, or, inside a DST gap, the end of the gap.
 */
static int
local_instant(int64_t wall, int64_t *out)
{
	static const int dst_modes[3] = { 0, 1, -1 };
	int64_t day = floor_div(wall, SEC_PER_DAY), best = 0, got;
	int64_t sec = wall - day * SEC_PER_DAY, y;
	unsigned m, d;
	int found = 0;
	time_t lo, hi;

	civil_from_days(day, &y, &m, &d);
	for (int i = 0; i < 3; i++) {
		struct tm tm = { 0 };
		time_t t;

		tm.tm_year = (int)(y - 1900);
		tm.tm_mon = (int)m - 1;
		tm.tm_mday = (int)d;
		tm.tm_hour = (int)(sec / 3600);
		tm.tm_min = (int)(sec / 60 % 60);
		tm.tm_isdst = dst_modes[i];
		t = mktime(&tm);
		if (t == (time_t)-1 || local_wall(t, &got) != 0 || got != wall)
			continue;
		if (!found || (int64_t)t < best)
			best = (int64_t)t;
		found = 1;
	}
	if (found) {
		*out = best;
		return 0;
	}
	/*
	 * A gap: the first instant whose wall time is at or after WALL.  UTC
	 * offsets stay within +-26 hours, which brackets it.
	 */
	lo = (time_t)(wall - 26 * 3600);
	hi = (time_t)(wall + 26 * 3600);
	if (local_wall(lo, &got) != 0 || got >= wall ||
	    local_wall(hi, &got) != 0 || got < wall)
		return -1;
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;

		if (local_wall(mid, &got) != 0)
			return -1;
		if (got >= wall)
			hi = mid;
		else
			lo = mid;
	}
	*out = (int64_t)hi;
	return 0;
}

/* Instant (unix seconds) of minute MINUTES on day number DAY. */
static int
instant(const struct window *w, int64_t day, unsigned minutes, int64_t *out)
{
	int64_t wall = day * SEC_PER_DAY + (int64_t)minutes * 60;

	if (w->utc) {
		*out = wall;
		return 0;
	}
	return local_instant(wall, out);
}

static int
window_valid(const struct window *w)
{
	return (w->days & ALL_DAYS) != 0 && w->start_min < MIN_PER_DAY &&
	       w->end_min <= MIN_PER_DAY && w->end_min != w->start_min;
}

int64_t
window_next_open(const struct window *w, int64_t now_ms)
{
	int64_t now_s, today, start_s, end_s;
	unsigned end_min;
	int end_next_day;

	if (!w || !window_valid(w) || now_ms >= TIME_LIMIT_MS ||
	    now_ms <= -TIME_LIMIT_MS)
		return now_ms;
	now_s = floor_div(now_ms, 1000);
	if (w->utc) {
		today = floor_div(now_s, SEC_PER_DAY);
	} else {
		int64_t wall;

		if (local_wall((time_t)now_s, &wall) != 0)
			return now_ms;
		today = floor_div(wall, SEC_PER_DAY);
	}
	/* 24:00 is midnight of the next day, as is any end <= start. */
	end_next_day = w->end_min <= w->start_min || w->end_min == MIN_PER_DAY;
	end_min = w->end_min % MIN_PER_DAY;
	/*
	 * Yesterday's window may still be open (it crosses midnight); a
	 * window on today's weekday that has passed comes back in 7 days.
	 * Starts grow with the day, so the first one at or after NOW wins,
	 * unless an earlier window contains NOW.
	 */
	for (int64_t day = today - 1; day <= today + 7; day++) {
		if (!has_day(w->days, weekday(day)))
			continue;
		if (instant(w, day, w->start_min, &start_s) != 0 ||
		    instant(w, day + end_next_day, end_min, &end_s) != 0)
			return now_ms;
		if (start_s * 1000 >= now_ms)
			return start_s * 1000;
		if (now_ms < end_s * 1000)
			return now_ms;
	}
	return now_ms;	/* unreachable with a valid window */
}

int64_t
window_renew_time(const struct window *w, int64_t due_ms, int64_t deadline_ms)
{
	int64_t open = window_next_open(w, due_ms);

	return open > deadline_ms ? due_ms : open;
}
