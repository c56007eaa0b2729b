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

/* A uniformly random value in [LO, HI]; LO if HI <= LO. */
uint64_t backoff_uniform(uint64_t lo, uint64_t hi);

/*
 * "Full jitter" exponential backoff for retry number ATTEMPT (0-based):
 * uniform in [MIN, min(MAX, MIN * 2^ATTEMPT)].
 */
uint64_t backoff_delay(uint64_t min_ms, uint64_t max_ms, unsigned attempt);

#endif
