/*
 * backoff: random delays for retries and schedules.
 *
 * DESIGN: all arithmetic is in milliseconds on uint64_t, and randomness
 * comes from the OS CSPRNG, so jitter is never silently zero because of
 * integer division or a shared seed across a fleet started together.
 */
#ifndef CERTAGENT_BACKOFF_H
#define CERTAGENT_BACKOFF_H

#include <stdint.h>

/* The bounds of a retry backoff (vault.retry.min_backoff, max_backoff). */
struct backoff_opts {
	uint64_t min_ms, max_ms;
};

/* A uniformly random value in [LO, HI]; LO if HI <= LO. */
uint64_t backoff_uniform(uint64_t lo, uint64_t hi);

/*
 * "Full jitter" exponential backoff for retry number ATTEMPT (0-based):
 * uniform in [MIN, min(MAX, MIN * 2^ATTEMPT)].
 */
uint64_t backoff_delay(uint64_t min_ms, uint64_t max_ms, unsigned attempt);

/*
 * The retry skeleton every module that calls Vault again after a failure
 * shares (certs, deps, revoke, auth, hooks): a count of failures in a
 * row, the next delay drawn from it, and a reset on success.
 */
struct retry {
	unsigned failures;	/* in a row, since the last success */
};

/* A failure: count it and return the delay before the next try. */
uint64_t retry_failed(struct retry *r, const struct backoff_opts *o);

static inline void
retry_succeeded(struct retry *r)
{
	r->failures = 0;
}

#endif
