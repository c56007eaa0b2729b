/*
 * histo: a Prometheus histogram of durations, with fixed buckets.
 *
 * DESIGN: the buckets are the same for every histogram the agent keeps
 * (hook runs, Vault requests), from 5 ms to 30 s, so one table renders
 * them all; cumulative counts are made when rendered, not kept.
 */
#ifndef CERTAGENT_HISTO_H
#define CERTAGENT_HISTO_H

#include <stdint.h>

#define HISTO_BUCKETS 12

/* Upper bounds in seconds; the last bucket, +Inf, is implicit. */
static const double histo_bounds[HISTO_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

struct histo {
	uint64_t in[HISTO_BUCKETS + 1];	/* observations per bucket, +Inf last */
	uint64_t count;
	double sum;			/* seconds */
};

static inline void
histo_add(struct histo *h, double seconds)
{
	int i = 0;

	while (i < HISTO_BUCKETS && seconds > histo_bounds[i])
		i++;
	h->in[i]++;
	h->count++;
	h->sum += seconds;
}

#endif
