/*
 * backoff: random delays for retries and schedules.
 *
 * DESIGN: the random source is OpenSSL's RAND_bytes (seeded by the
 * kernel), never rand() with a time seed: agents started in the same
 * second must not draw the same jitter.
 */
#include "backoff.h"

#include <openssl/rand.h>

uint64_t
backoff_uniform(uint64_t lo, uint64_t hi)
{
	uint64_t r = 0, span;

	if (hi <= lo)
		return lo;
	span = hi - lo;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return lo + span / 2;	/* no entropy: still never zero jitter */
	if (span == UINT64_MAX)
		return r;
	return lo + r % (span + 1);
}

uint64_t
backoff_delay(uint64_t min_ms, uint64_t max_ms, unsigned attempt)
{
	uint64_t cap = min_ms ? min_ms : 1;

	if (max_ms < min_ms)
		max_ms = min_ms;
	for (unsigned i = 0; i < attempt && cap < max_ms; i++)
		cap = cap > UINT64_MAX / 2 ? UINT64_MAX : cap * 2;
	if (cap > max_ms)
		cap = max_ms;
	return backoff_uniform(min_ms, cap);
}

uint64_t
retry_failed(struct retry *r, const struct backoff_opts *o)
{
	uint64_t delay = backoff_delay(o->min_ms, o->max_ms, r->failures);

	if (r->failures < UINT32_MAX)
		r->failures++;
	return delay;
}
