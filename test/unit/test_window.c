/*
 * Unit tests for window.c: parsing with column-accurate errors, formatting
 * that parses back, next window opening in UTC and local time (including
 * both DST transitions in Europe/Berlin), and the renewal-time rule that a
 * window never pushes a renewal past the safety margin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "window.h"

#define SUN (1u << 0)
#define MON (1u << 1)
#define TUE (1u << 2)
#define WED (1u << 3)
#define THU (1u << 4)
#define FRI (1u << 5)
#define SAT (1u << 6)
#define ALL 0x7fu

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)

/* Unix ms of a UTC date and time. */
static int64_t
utc_ms(int y, int mon, int d, int h, int mi)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm) * 1000;
}

static void
use_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static struct window
parsed(const char *s)
{
	struct window w;
	char err[128] = "";

	if (window_parse(s, &w, err, sizeof(err)) != 0)
		fail_msg("window_parse(\"%s\"): %s", s, err);
	return w;
}

/* Compare times as signed values, printing both on failure. */
#define assert_ms_equal(got, want)                                            \
	do {                                                                  \
		int64_t got_ = (got), want_ = (want);                         \
		if (got_ != want_)                                            \
			fail_msg("%s: got %lld, want %lld (off by %lld s)",  \
				 #got, (long long)got_, (long long)want_,     \
				 (long long)(got_ - want_) / 1000);           \
	} while (0)

/* ---- parsing ---------------------------------------------------------- */

static void
test_parse_accepts_documented_forms(void **state)
{
	static const struct {
		const char *in;
		unsigned days, start, end;
		int utc;
	} cases[] = {
		{ "Sat 02:00-04:00", SAT, 120, 240, 0 },
		{ "Mon-Fri 22:00-06:00", MON | TUE | WED | THU | FRI, 1320, 360, 0 },
		{ "Sat,Sun 01:30-03:00", SAT | SUN, 90, 180, 0 },
		{ "daily 02:00-04:00", ALL, 120, 240, 0 },
		{ "DAILY 02:00-04:00", ALL, 120, 240, 0 },
		{ "* 02:00-04:00", ALL, 120, 240, 0 },
		{ "Sat 02:00-04:00 UTC", SAT, 120, 240, 1 },
		{ "sat 02:00-04:00 utc", SAT, 120, 240, 1 },
		{ "Saturday 02:00-04:00", SAT, 120, 240, 0 },
		{ "FRIDAY-monday 02:00-04:00", FRI | SAT | SUN | MON, 120, 240, 0 },
		{ "Fri-Mon 02:00-04:00", FRI | SAT | SUN | MON, 120, 240, 0 },
		{ "Mon,Wed-Fri 02:00-04:00", MON | WED | THU | FRI, 120, 240, 0 },
		{ "Tue-Tue 02:00-04:00", TUE, 120, 240, 0 },
		{ "Sat 2:00-4:00", SAT, 120, 240, 0 },
		{ "Sun 00:00-24:00", SUN, 0, 1440, 0 },
		{ "Sat 22:00-24:00", SAT, 1320, 1440, 0 },
		{ "Sat 23:59-00:00", SAT, 1439, 0, 0 },
		{ "Sat 02:00 - 04:00", SAT, 120, 240, 0 },
		{ "Sat, Sun 01:00-02:00", SAT | SUN, 60, 120, 0 },
		{ "Mon - Fri 01:00-02:00", MON | TUE | WED | THU | FRI, 60, 120, 0 },
		{ "  Sat\t02:00-04:00  UTC  ", SAT, 120, 240, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct window w = parsed(cases[i].in);

		if (w.days != cases[i].days || w.start_min != cases[i].start ||
		    w.end_min != cases[i].end || w.utc != cases[i].utc)
			fail_msg("\"%s\": got days=0x%02x %u-%u utc=%d, want "
				 "days=0x%02x %u-%u utc=%d",
				 cases[i].in, w.days, w.start_min, w.end_min,
				 w.utc, cases[i].days, cases[i].start,
				 cases[i].end, cases[i].utc);
	}
}

static void
test_parse_errors_name_column_and_expectation(void **state)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "Sat 2:00x-04:00", "column 5: expected HH:MM, got \"2:00x\"" },
		{ "", "column 1: expected a day (Sun..Sat), \"daily\" or \"*\", "
		      "got end of input" },
		{ "Sxt 02:00-04:00", "column 1: expected a day (Sun..Sat), "
				     "\"daily\" or \"*\", got \"Sxt\"" },
		{ "Sat,Sxn 02:00-04:00", "column 5: expected a day" },
		{ "Mon-Fxi 02:00-04:00",
		  "column 5: expected a day (Sun..Sat), got \"Fxi\"" },
		{ "Sat,Sun", "column 8: expected a blank and HH:MM-HH:MM after "
			     "the days, got end of input" },
		{ "Sat02:00-04:00", "column 4: expected a blank" },
		{ "Saturdays 02:00-04:00", "column 1: expected a day" },
		{ "daily,Sat 02:00-04:00", "column 1: expected a day" },
		{ "Sat 02:00", "column 10: expected '-' and the end time, got end "
			       "of input" },
		{ "Sat 02:00-", "column 11: expected HH:MM, got end of input" },
		{ "Sat 02:00-4", "column 11: expected HH:MM, got \"4\"" },
		{ "Sat 02-04", "column 5: expected HH:MM, got \"02\"" },
		{ "Sat 002:00-04:00", "column 5: expected HH:MM, got \"002:00\"" },
		{ "Sat 02:0-04:00", "column 5: expected HH:MM" },
		{ "Sat 25:00-04:00", "column 5: expected a time from 00:00 to "
				     "24:00, got \"25:00\"" },
		{ "Sat 02:60-04:00", "column 5: expected a time from 00:00" },
		{ "Sat 02:00-24:30", "column 11: expected a time from 00:00" },
		{ "Sat 24:00-04:00", "column 5: expected a start time from 00:00 "
				     "to 23:59 (24:00 only ends a window)" },
		{ "Sat 02:00-02:00", "column 11: expected an end time other than "
				     "the start time" },
		{ "Sat 2:00-02:00", "column 10: expected an end time other" },
		{ "Sat 02:00-04:00 CET", "column 17: expected \"UTC\" or the end, "
					 "got \"CET\"" },
		{ "Sat 02:00-04:00 UTC x", "column 21: expected \"UTC\" or the end" },
		{ "Sat 02:00-04:00x", "column 11: expected HH:MM, got \"04:00x\"" },
		{ "  Sxt 02:00-04:00", "column 3: expected a day" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct window w = { 0x55, 7, 9, 1 };
		char err[160] = "";

		assert_int_equal(window_parse(cases[i].in, &w, err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("\"%s\": got error \"%s\", want \"%s...\"",
				 cases[i].in, err, cases[i].err);
		/* a failed parse leaves the caller's window as it was */
		assert_int_equal(w.days, 0x55);
		assert_int_equal(w.start_min, 7);
		assert_int_equal(w.end_min, 9);
		assert_int_equal(w.utc, 1);
	}
}

static void
test_parse_error_is_truncated_to_a_small_buffer(void **state)
{
	struct window w;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(window_parse("Sat 2:00x-04:00", &w, err, 6), -EINVAL);
	assert_string_equal(err, "colum");
	assert_int_equal(err[6], 'x');
	/* no buffer at all, and a NULL string, are fine too */
	assert_int_equal(window_parse("bogus", &w, NULL, 0), -EINVAL);
	assert_int_equal(window_parse(NULL, &w, err, sizeof(err)), -EINVAL);
}

/* ---- formatting ------------------------------------------------------- */

static void
test_format_writes_the_canonical_form(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "sat 2:00-4:00", "Sat 02:00-04:00" },
		{ "Monday-Friday 22:00-06:00 utc", "Mon-Fri 22:00-06:00 UTC" },
		{ "Sun,Sat 01:30-03:00", "Sat,Sun 01:30-03:00" },
		{ "Fri-Mon 01:30-03:00", "Fri-Mon 01:30-03:00" },
		{ "Mon,Wed-Fri 01:30-03:00", "Mon,Wed-Fri 01:30-03:00" },
		{ "Sun,Tue 01:30-03:00", "Tue,Sun 01:30-03:00" },
		{ "* 02:00-04:00", "daily 02:00-04:00" },
		{ "Sun-Sat 02:00-04:00", "daily 02:00-04:00" },
		{ "Sun 00:00-24:00", "Sun 00:00-24:00" },
	};
	char buf[WINDOW_FMT_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct window w = parsed(cases[i].in);

		window_format(&w, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
}

static void
test_format_parses_back_for_every_day_set(void **state)
{
	char buf[WINDOW_FMT_LEN], err[128];

	(void)state;
	for (unsigned days = 1; days <= ALL; days++) {
		for (int utc = 0; utc <= 1; utc++) {
			struct window w = { (uint8_t)days, 1439, 1440, utc };
			struct window back;

			if (days & 1)
				w.end_min = 5;	/* crossing midnight too */
			window_format(&w, buf, sizeof(buf));
			assert_true(strlen(buf) < sizeof(buf) - 1);
			if (window_parse(buf, &back, err, sizeof(err)) != 0)
				fail_msg("days 0x%02x: \"%s\": %s", days, buf, err);
			if (back.days != w.days || back.start_min != w.start_min ||
			    back.end_min != w.end_min || back.utc != w.utc)
				fail_msg("days 0x%02x: \"%s\" parsed back as 0x%02x",
					 days, buf, back.days);
		}
	}
}

static void
test_format_truncates_to_the_buffer(void **state)
{
	struct window w = parsed("Mon-Fri 22:00-06:00 UTC");
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	window_format(&w, buf, 5);
	assert_string_equal(buf, "Mon-");
	assert_int_equal(buf[5], 'x');
	window_format(&w, buf, 0);	/* writes nothing */
	assert_int_equal(buf[0], 'M');
}

/* ---- next opening, UTC ------------------------------------------------ */

/* 2024-01-06 is a Saturday, 2024-01-07 a Sunday. */

static void
test_next_open_inside_the_window_is_now(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");
	int64_t now = utc_ms(2024, 1, 6, 3, 17) + 123;

	(void)state;
	assert_ms_equal(window_next_open(&w, now), now);
	/* the start is inside, the end is not */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 2, 0)),
			utc_ms(2024, 1, 6, 2, 0));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 4, 0) - 1),
			utc_ms(2024, 1, 6, 4, 0) - 1);
}

static void
test_next_open_before_the_window_is_its_start(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");

	(void)state;
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 1, 59)),
			utc_ms(2024, 1, 6, 2, 0));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 2, 0) - 1),
			utc_ms(2024, 1, 6, 2, 0));
	/* Tuesday: the coming Saturday */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 2, 12, 0)),
			utc_ms(2024, 1, 6, 2, 0));
}

static void
test_next_open_after_the_window_is_next_week(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");

	(void)state;
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 4, 0)),
			utc_ms(2024, 1, 13, 2, 0));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 23, 59)),
			utc_ms(2024, 1, 13, 2, 0));
}

static void
test_next_open_crossing_midnight_belongs_to_start_day(void **state)
{
	struct window w = parsed("Mon-Fri 22:00-06:00 UTC");

	(void)state;
	/* 2024-01-03 Wed 23:00 and Thu 05:59: inside Wednesday's window */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 3, 23, 0)),
			utc_ms(2024, 1, 3, 23, 0));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 4, 5, 59)),
			utc_ms(2024, 1, 4, 5, 59));
	/* Thu 06:00: closed until Thursday 22:00 */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 4, 6, 0)),
			utc_ms(2024, 1, 4, 22, 0));
	/* Saturday 03:00 is inside Friday's window */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 6, 3, 0)),
			utc_ms(2024, 1, 6, 3, 0));
	/* Monday 03:00 is not inside any (Sunday has no window) */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 8, 3, 0)),
			utc_ms(2024, 1, 8, 22, 0));
}

static void
test_next_open_crosses_the_week_end(void **state)
{
	struct window sat = parsed("Sat 23:00-01:00 UTC");
	struct window sun = parsed("Sun 02:00-04:00 UTC");
	struct window fri_mon = parsed("Fri-Mon 02:00-04:00 UTC");

	(void)state;
	/* Saturday's window runs into Sunday (bit 6 into bit 0) */
	assert_ms_equal(window_next_open(&sat, utc_ms(2024, 1, 7, 0, 30)),
			utc_ms(2024, 1, 7, 0, 30));
	assert_ms_equal(window_next_open(&sat, utc_ms(2024, 1, 7, 1, 0)),
			utc_ms(2024, 1, 13, 23, 0));
	/* from Saturday to Sunday's window */
	assert_ms_equal(window_next_open(&sun, utc_ms(2024, 1, 6, 10, 0)),
			utc_ms(2024, 1, 7, 2, 0));
	/* Monday after the window, to Friday via the wrapped range */
	assert_ms_equal(window_next_open(&fri_mon, utc_ms(2024, 1, 8, 5, 0)),
			utc_ms(2024, 1, 12, 2, 0));
	assert_ms_equal(window_next_open(&fri_mon, utc_ms(2024, 1, 7, 5, 0)),
			utc_ms(2024, 1, 8, 2, 0));
}

static void
test_next_open_whole_day_window_ends_at_midnight(void **state)
{
	struct window w = parsed("Sun 00:00-24:00 UTC");

	(void)state;
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 7, 0, 0)),
			utc_ms(2024, 1, 7, 0, 0));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 8, 0, 0) - 1),
			utc_ms(2024, 1, 8, 0, 0) - 1);
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 1, 8, 0, 0)),
			utc_ms(2024, 1, 14, 0, 0));
}

static void
test_next_open_without_a_window_or_out_of_range_is_now(void **state)
{
	struct window never = { 0, 120, 240, 1 };
	struct window w = parsed("Sat 02:00-04:00 UTC");

	(void)state;
	assert_ms_equal(window_next_open(NULL, 12345), 12345);
	assert_ms_equal(window_next_open(&never, 12345), 12345);
	assert_ms_equal(window_next_open(&w, INT64_MAX), INT64_MAX);
	assert_ms_equal(window_next_open(&w, INT64_MIN), INT64_MIN);
	/* 1969-12-31 23:59:59.999 is a Wednesday: Saturday 1970-01-03 */
	assert_ms_equal(window_next_open(&w, -1), utc_ms(1970, 1, 3, 2, 0));
}

/* ---- next opening, local time and DST --------------------------------- */

static void
test_next_open_uses_local_time_unless_utc(void **state)
{
	struct window local = parsed("Sat 02:00-04:00");
	struct window utc = parsed("Sat 02:00-04:00 UTC");
	int64_t tue_jan = utc_ms(2024, 1, 2, 12, 0);
	int64_t tue_jul = utc_ms(2024, 7, 2, 12, 0);

	(void)state;
	use_tz("Europe/Berlin");
	/* CET is UTC+1, CEST UTC+2 */
	assert_ms_equal(window_next_open(&local, tue_jan),
			utc_ms(2024, 1, 6, 1, 0));
	assert_ms_equal(window_next_open(&local, tue_jul),
			utc_ms(2024, 7, 6, 0, 0));
	assert_ms_equal(window_next_open(&utc, tue_jan), utc_ms(2024, 1, 6, 2, 0));
	use_tz("America/New_York");
	/* Sat 23:00 EST runs into Sunday 04:00-06:00 UTC */
	local = parsed("Sat 23:00-01:00");
	assert_ms_equal(window_next_open(&local, utc_ms(2024, 1, 7, 5, 30)),
			utc_ms(2024, 1, 7, 5, 30));
	assert_ms_equal(window_next_open(&local, utc_ms(2024, 1, 7, 6, 0)),
			utc_ms(2024, 1, 14, 4, 0));
	/* the local date decides the day: Saturday 20:00 EST is Sunday UTC */
	local = parsed("Sat 21:00-22:00");
	assert_ms_equal(window_next_open(&local, utc_ms(2024, 1, 7, 1, 0)),
			utc_ms(2024, 1, 7, 2, 0));
}

static void
test_next_open_start_in_spring_gap_moves_to_gap_end(void **state)
{
	/* Berlin, Sunday 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00Z). */
	struct window w = parsed("Sun 02:30-04:00");
	struct window inside_gap = parsed("Sun 02:10-02:50");
	struct window across = parsed("Sun 01:30-03:30");

	(void)state;
	use_tz("Europe/Berlin");
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 3, 30, 12, 0)),
			utc_ms(2024, 3, 31, 1, 0));
	/* open until 04:00 CEST, i.e. 02:00Z; the week after is CEST */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 3, 31, 1, 59)),
			utc_ms(2024, 3, 31, 1, 59));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 3, 31, 2, 0)),
			utc_ms(2024, 4, 7, 0, 30));
	/* a window entirely in the gap still opens, at 03:00 CEST */
	assert_ms_equal(window_next_open(&inside_gap, utc_ms(2024, 3, 30, 12, 0)),
			utc_ms(2024, 3, 31, 1, 0));
	/* a window around the gap: 01:30 CET to 03:30 CEST, one real hour */
	assert_ms_equal(window_next_open(&across, utc_ms(2024, 3, 30, 12, 0)),
			utc_ms(2024, 3, 31, 0, 30));
	assert_ms_equal(window_next_open(&across, utc_ms(2024, 3, 31, 1, 10)),
			utc_ms(2024, 3, 31, 1, 10));
	assert_ms_equal(window_next_open(&across, utc_ms(2024, 3, 31, 1, 30)),
			utc_ms(2024, 4, 6, 23, 30));
}

static void
test_next_open_start_in_fall_back_hour_is_first_one(void **state)
{
	/* Berlin, Sunday 2024-10-27: 03:00 CEST falls back to 02:00 CET. */
	struct window w = parsed("Sun 02:30-05:00");

	(void)state;
	use_tz("Europe/Berlin");
	/* 02:30 CEST is 00:30Z; 02:30 CET (01:30Z) would be the second */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 10, 26, 12, 0)),
			utc_ms(2024, 10, 27, 0, 30));
	/* 05:00 CET is 04:00Z */
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 10, 27, 3, 59)),
			utc_ms(2024, 10, 27, 3, 59));
	assert_ms_equal(window_next_open(&w, utc_ms(2024, 10, 27, 4, 0)),
			utc_ms(2024, 11, 3, 1, 30));
}

/* ---- renewal time ----------------------------------------------------- */

static void
test_renew_time_waits_for_a_window_before_the_deadline(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");
	int64_t due = utc_ms(2024, 1, 2, 12, 0);	/* Tuesday */

	(void)state;
	assert_ms_equal(window_renew_time(&w, due, due + 30 * DAY_MS),
			utc_ms(2024, 1, 6, 2, 0));
	/* an opening exactly at the deadline is still in time */
	assert_ms_equal(window_renew_time(&w, due, utc_ms(2024, 1, 6, 2, 0)),
			utc_ms(2024, 1, 6, 2, 0));
}

static void
test_renew_time_keeps_due_when_the_window_is_past_the_deadline(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");
	int64_t due = utc_ms(2024, 1, 2, 12, 0);

	(void)state;
	assert_ms_equal(window_renew_time(&w, due, utc_ms(2024, 1, 6, 2, 0) - 1),
			due);
	assert_ms_equal(window_renew_time(&w, due, due + HOUR_MS), due);
	/* already past the margin: renew now, not at the next window */
	assert_ms_equal(window_renew_time(&w, due, due - DAY_MS), due);
}

static void
test_renew_time_inside_a_window_or_without_one_is_due(void **state)
{
	struct window w = parsed("Sat 02:00-04:00 UTC");
	int64_t due = utc_ms(2024, 1, 6, 3, 0);

	(void)state;
	assert_ms_equal(window_renew_time(&w, due, due + DAY_MS), due);
	assert_ms_equal(window_renew_time(NULL, due, due + DAY_MS), due);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_documented_forms),
		cmocka_unit_test(test_parse_errors_name_column_and_expectation),
		cmocka_unit_test(test_parse_error_is_truncated_to_a_small_buffer),
		cmocka_unit_test(test_format_writes_the_canonical_form),
		cmocka_unit_test(test_format_parses_back_for_every_day_set),
		cmocka_unit_test(test_format_truncates_to_the_buffer),
		cmocka_unit_test(test_next_open_inside_the_window_is_now),
		cmocka_unit_test(test_next_open_before_the_window_is_its_start),
		cmocka_unit_test(test_next_open_after_the_window_is_next_week),
		cmocka_unit_test(test_next_open_crossing_midnight_belongs_to_start_day),
		cmocka_unit_test(test_next_open_crosses_the_week_end),
		cmocka_unit_test(test_next_open_whole_day_window_ends_at_midnight),
		cmocka_unit_test(test_next_open_without_a_window_or_out_of_range_is_now),
		cmocka_unit_test(test_next_open_uses_local_time_unless_utc),
		cmocka_unit_test(test_next_open_start_in_spring_gap_moves_to_gap_end),
		cmocka_unit_test(test_next_open_start_in_fall_back_hour_is_first_one),
		cmocka_unit_test(test_renew_time_waits_for_a_window_before_the_deadline),
		cmocka_unit_test(test_renew_time_keeps_due_when_the_window_is_past_the_deadline),
		cmocka_unit_test(test_renew_time_inside_a_window_or_without_one_is_due),
	};
	return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
