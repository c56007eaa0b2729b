/*
 * ratelimit: a token bucket of one token.  See ratelimit.h.
 *
 * DESIGN / invariants:
 *  - next_ms only moves forward, and only when a start is granted, so a
 *    caller that asks and then waits is never pushed further back by its
 *    own asking.
 *  - Starts are scheduled on a grid of due times t(k+1) = t(k) +
 *    interval, each start at or after its due time and before the next
 *    one; so a one-second window [a, a+1000) holds starts whose due
 *    times lie in (a - interval, a + 1000): at most rate + 1.
 *  - A wait is rounded up to whole milliseconds: a timer firing on the
 *    millisecond finds the token there, no busy retry.
 */
#include "ratelimit.h"
#include "fmath.h"

#include <math.h>

void
ratelimit_init(struct ratelimit *r, uint64_t per_second)
{
	r->per_second = per_second;
	r->next_ms = 0;
}

void
ratelimit_set(struct ratelimit *r, uint64_t per_second)
{
	r->per_second = per_second;
}

uint64_t
ratelimit_take(struct ratelimit *r, uint64_t now_ms)
{
	double now = (double)now_ms, wait;

	if (r->per_second == 0)
		return 0;
	if (now >= r->next_ms) {
		double interval = 1000.0 / (double)r->per_second;
		/* A start a little late (timer granularity) counts from when
		 * it was due, so the rounding does not add up to a lower rate;
		 * after a pause of a whole interval, from now: no burst. */
		r->next_ms = (now - r->next_ms < interval ? r->next_ms : now) + interval;
		return 0;
	}
	wait = fm_ceil(r->next_ms - now);
	return wait < 1 ? 1 : (uint64_t)wait;
}
