/*
 * window: maintenance windows for certificate rotation, as in
 * `rotate_window: "Sat 02:00-04:00"` (cf. hashicorp/vault#32101).  A
 * renewal waits for the next window unless waiting would take the
 * certificate below its safety margin.
 *
 * DESIGN / invariants:
 *  - Pure functions: no I/O, no allocation, no global state of our own.
 *    Local time goes through localtime_r/mktime, so TZ is respected; a
 *    caller that changes TZ at run time calls tzset() afterwards.
 *  - The days of a window name the day it STARTS: "Sat 23:00-01:00" runs
 *    from Saturday 23:00 to Sunday 01:00.  The end is exclusive.
 *  - DST: a start or end that does not exist (the spring-forward gap)
 *    moves to the first existing minute after it; one that exists twice
 *    (fall-back) means its first occurrence.
 *  - Whenever a time cannot be computed (a struct window_parse would not
 *    produce aside, times beyond year 9999), the window is treated as open,
 *    so a window never delays a renewal that is due.
 *  - The struct is public because callers keep it by value in their
 *    config; fill it only through window_parse.
 */
#ifndef CERTAGENT_WINDOW_H
#define CERTAGENT_WINDOW_H

#include <stddef.h>
#include <stdint.h>

/* Enough for any window_format output, terminator included. */
#define WINDOW_FMT_LEN 48

struct window {
	uint8_t days;		/* bit 0 = Sunday .. bit 6 = Saturday */
	uint16_t start_min;	/* minutes since midnight, 0..1439 */
	uint16_t end_min;	/* 1..1440; <= start_min: ends the next day */
	int utc;		/* times are UTC, not the agent's local time */
};

/*
 * Parse "DAYS HH:MM-HH:MM [UTC]" into *W.  DAYS is "daily", "*", or a
 * comma list of days and day ranges ("Sat", "Mon-Fri", "Sat,Sun",
 * "Fri-Mon" wraps over the week end); day names are Sun..Sat or the full
 * names, case-insensitive.  Hours may have one digit.  24:00 is allowed
 * only as an end time ("Sun 00:00-24:00" is all of Sunday); start == end
 * is an error.  0, or -EINVAL with *W untouched and ERR set to
 * "column N: expected ..., got \"...\"" (N 1-based).
 */
int window_parse(const char *s, struct window *w, char *err, size_t errlen);

/*
 * The first moment >= NOW_MS (unix ms) inside the window: NOW_MS itself
 * when inside.  A NULL window is always open (returns NOW_MS).
 */
int64_t window_next_open(const struct window *w, int64_t now_ms);

/*
 * When to renew a certificate whose renewal is scheduled at DUE_MS: the
 * first window opening at or after DUE_MS (DUE_MS itself when inside a
 * window), unless that opening is later than DEADLINE_MS (NotAfter minus
 * the safety margin); then DUE_MS, unchanged.  Deliberately simple: it
 * does not look for an earlier window between DUE_MS and DEADLINE_MS
 * (there is none: the first opening after DUE_MS is already too late).
 */
int64_t window_renew_time(const struct window *w, int64_t due_ms,
			  int64_t deadline_ms);

/*
 * Format *W the way window_parse reads it back, e.g. "Sat 02:00-04:00",
 * "Mon-Fri 22:00-06:00 UTC", "daily 02:00-04:00"; days run from Monday,
 * ranges of three or more days are written "A-B".  An empty day set, which
 * window_parse never produces, is written "never".  Truncated to LEN.
 */
void window_format(const struct window *w, char *buf, size_t len);

#endif
