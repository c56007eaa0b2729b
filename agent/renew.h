/*
 * renew: the renewal policy of a managed certificate, the one place that
 * decides when a certificate is renewed.
 *
 * DESIGN: pure functions of a policy, a certificate's validity and serial
 * and the wall clock; no I/O, no allocation, no state.  A certificate of
 * a certificates: entry and one a template issues ask the same functions,
 * so renew_at/renew_before, jitter, rotate_window, the backoff after a
 * failure and "expired" mean the same on both roads.
 *  - The renewal point is renew_at of the lifetime (or renew_before its
 *    end), moved by up to +-jitter of the lifetime by an amount derived
 *    from a hash of the serial: the same certificate always gets the same
 *    time (a restart neither advances nor delays a renewal, without a
 *    state file), and a fleet issued in one second spreads over the
 *    window.  With a rotate_window the point moves to the window's next
 *    opening, unless that comes within the margin of NotAfter.
 *  - After a failure the next try comes after full-jitter backoff, but no
 *    later than the expiry while that is still ahead, so an expiry is
 *    reported on time.
 */
#ifndef CERTAGENT_RENEW_H
#define CERTAGENT_RENEW_H

#include <stdint.h>

#include "backoff.h"
#include "window.h"

/* The defaults of renew_at and jitter. */
#define RENEW_AT_DEFAULT 0.66
#define RENEW_JITTER_DEFAULT 0.05

struct renew_policy {
	double renew_at;		/* fraction of the lifetime; 0: RENEW_AT_DEFAULT */
	uint64_t renew_before_ms;	/* or this long before NotAfter; 0: unset */
	double jitter;			/* +- this fraction of the lifetime */
	int has_window;			/* rotate_window given, parsed into window */
	struct window window;
	uint64_t margin_ms;		/* the window yields within this of NotAfter; 0: 10% */
};

/* The defaults: renew at 0.66 of the lifetime +- 5%, no window. */
void renew_policy_init(struct renew_policy *p);

/*
 * When to renew a certificate valid from NB to NA (unix ms) with SERIAL
 * under policy P (unix ms).  Never before NB nor after NA minus 1% of the
 * lifetime (renew_before plus jitter could otherwise reach past the end).
 */
int64_t renew_point(const struct renew_policy *p, int64_t nb, int64_t na,
		    const char *serial);

/*
 * The bare hash-spread point: NB + lifetime * (FRACTION + JITTER * u),
 * u in [-1, 1) derived from SERIAL.  renew_point() builds on it.
 */
int64_t renew_spread(int64_t nb, int64_t na, const char *serial,
		     double fraction, double jitter);

enum renew_state {
	RENEW_MISSING,		/* no certificate held yet */
	RENEW_VALID,		/* held, not yet due */
	RENEW_DUE,		/* held, due: a renewal should be under way */
	RENEW_EXPIRED,		/* held, past NotAfter, no replacement */
};

/* Where a certificate stands at NOW; HELD says whether there is one. */
enum renew_state renew_state(int held, int64_t now, int64_t not_after,
			     int64_t renew_at);

/*
 * A try failed: count it in R and return how long to wait before the
 * next, in ms: full-jitter backoff within O (retry_failed), cut short to
 * wake at NOT_AFTER when that is ahead of NOW (0: no certificate held),
 * so the expiry is reported on time.
 */
uint64_t renew_retry(struct retry *r, const struct backoff_opts *o, int64_t now,
		     int64_t not_after);

#endif
