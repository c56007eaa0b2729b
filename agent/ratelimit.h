/*
 * ratelimit: a token bucket of one token, for vault.max_requests_per_second.
 *
 * DESIGN: the bucket is the time the next request may start (the
 * "generic cell rate" form): a request at NOW takes the token if NOW is
 * not before it, and moves it one interval (1000 / rate ms) past NOW;
 * otherwise it learns how long to wait.  With a bucket of one, starts are
 * at least one interval apart, so any one-second window holds at most
 * rate + 1 of them: the first full issuance of ten thousand tenants is a
 * steady stream, not a burst.  Pure arithmetic on the caller's clock, so
 * it is tested without a loop.
 */
#ifndef CERTAGENT_RATELIMIT_H
#define CERTAGENT_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint64_t per_second;	/* 0: no limit */
	double next_ms;		/* when the next start may be */
};

/* PER_SECOND starts a second (0: unlimited); the first may be at once. */
void ratelimit_init(struct ratelimit *r, uint64_t per_second);

/* Change the rate, keeping the schedule already promised. */
void ratelimit_set(struct ratelimit *r, uint64_t per_second);

/* At NOW_MS (monotonic): 0 if a start may happen now (and it is
 * counted), else the milliseconds to wait (at least 1). */
uint64_t ratelimit_take(struct ratelimit *r, uint64_t now_ms);

#endif
