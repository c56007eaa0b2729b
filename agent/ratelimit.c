/*
 * ratelimit: a token bucket of one token.  See ratelimit.h.
 *
 * DESIGN / invariants:
 *  - next_ms only moves forward, and only when a start is granted, so a
 *    caller that asks and then waits is never pushed further back by its
 *    own asking.
 *  - A wait is rounded up to whole milliseconds: a timer firing on the
 *    millisecond finds the token there, no busy retry.
 */
#include "ratelimit.h"

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
		r->next_ms = now + 1000.0 / (double)r->per_second;
		return 0;
	}
	wait = ceil(r->next_ms - now);
	return wait < 1 ? 1 : (uint64_t)wait;
}
