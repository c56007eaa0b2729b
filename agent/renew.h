/*
 * renew: the renewal policy of a managed certificate, the one place that
 * decides when a certificate is renewed.
 *
 * DESIGN: pure functions of a policy, a certificate's validity and serial
 * and the wall clock, no I/O; the one state is the sorted set of an
 * agent's serial hashes that stratifies the renewal points (below).  A certificate of
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
 *  - One agent's certificates are stratified: a certificate's place in
 *    the window is its rank among the hashes of the serials the agent
 *    holds (struct renew_ranks), plus a hash-derived offset inside its
 *    stratum.  Independent draws would put a fullest hour at 1.7 times
 *    the mean for 10,000 certificates issued together (3.5 for 1,000);
 *    ranks put 10,000 at most one apart per hour.  The offset keeps the
 *    jitter between agents: one certificate alone is a plain uniform
 *    draw.  The same set gives the same points, so a restart neither
 *    advances nor delays a renewal; adding or removing K certificates of
 *    N moves the others by at most K/N of the window (minutes, for a
 *    fleet), which is why a timer recomputes its point when it fires.
 *  - After a failure the next try comes after full-jitter backoff, but no
 *    later than the expiry while that is still ahead, so an expiry is
 *    reported on time.
 */
#ifndef CERTAGENT_RENEW_H
#define CERTAGENT_RENEW_H

#include <stddef.h>
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

/* The same at the place U in [0, 1) of the window, rather than SERIAL's. */
int64_t renew_point_u(const struct renew_policy *p, int64_t nb, int64_t na,
		      double u);

/*
 * The bare spread point: NB + lifetime * (FRACTION + JITTER * (2u - 1)),
 * u in [0, 1) derived from SERIAL (or given).  renew_point() builds on it.
 */
int64_t renew_spread(int64_t nb, int64_t na, const char *serial,
		     double fraction, double jitter);
int64_t renew_spread_u(int64_t nb, int64_t na, double u, double fraction,
		       double jitter);

/* A serial's 64-bit hash, and a hash as a place in [0, 1). */
uint64_t renew_hash(const char *serial);
double renew_u(uint64_t h);

/*
 * The hashes of the serials one agent holds, sorted: a multiset with
 * O(log n) rank and O(n) insertion and removal (memmove of 8-byte
 * words: 10,000 certificates are 80 KB).
 */
struct renew_ranks {
	uint64_t *v;
	size_t n, cap;
};

int renew_ranks_add(struct renew_ranks *r, uint64_t h);	/* 0 or -ENOMEM */
void renew_ranks_remove(struct renew_ranks *r, uint64_t h);	/* one copy */
void renew_ranks_free(struct renew_ranks *r);

/* H's place in [0, 1): (its rank + a hash-derived offset) / n; a hash
 * not in R gets renew_u(H), the unstratified place. */
double renew_ranks_u(const struct renew_ranks *r, uint64_t h);

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
