/*
 * renew: the renewal policy of a managed certificate.  See renew.h.
 */
#include "renew.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t
mix(uint64_t r)
{
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
	return r ^ (r >> 31);
}

void
renew_policy_init(struct renew_policy *p)
{
	*p = (struct renew_policy){ .renew_at = 0, .jitter = RENEW_JITTER_DEFAULT };
}

/* FNV-1a of SERIAL, then splitmix64's finaliser. */
uint64_t
renew_hash(const char *serial)
{
	uint64_t r = 0xcbf29ce484222325ULL;

	for (const char *p = serial; *p; p++)
		r = (r ^ (unsigned char)*p) * 0x100000001b3ULL;
	return mix(r);
}

double
renew_u(uint64_t h)
{
	return (double)(h >> 11) / (double)(1ULL << 53);	/* [0, 1) */
}

int64_t
renew_spread_u(int64_t nb, int64_t na, double u, double fraction,
	       double jitter)
{
	double life = (double)(na - nb);

	return nb + (int64_t)(life * (fraction + jitter * (2.0 * u - 1.0)));
}

int64_t
renew_spread(int64_t nb, int64_t na, const char *serial, double fraction,
	     double jitter)
{
	return renew_spread_u(nb, na, renew_u(renew_hash(serial)), fraction,
			      jitter);
}

int64_t
renew_point_u(const struct renew_policy *p, int64_t nb, int64_t na, double u)
{
	int64_t life = na - nb, at;
	double frac = p->renew_at > 0 ? p->renew_at : RENEW_AT_DEFAULT;

	if (life <= 0)
		return nb;
	if (p->renew_before_ms) {
		if ((int64_t)p->renew_before_ms < life)
			frac = 1.0 - (double)p->renew_before_ms / (double)life;
		else
			frac = 0.5;	/* renew_before longer than the lifetime */
	}
	at = renew_spread_u(nb, na, u, frac, p->jitter);
	if (at > na - life / 100)
		at = na - life / 100;
	if (at < nb)
		at = nb;
	if (p->has_window) {
		int64_t margin = p->margin_ms ? (int64_t)p->margin_ms : life / 10;
		at = window_renew_time(&p->window, at, na - margin);
	}
	return at;
}

int64_t
renew_point(const struct renew_policy *p, int64_t nb, int64_t na,
	    const char *serial)
{
	return renew_point_u(p, nb, na, renew_u(renew_hash(serial)));
}

/* ---- ranks ---- */

/* The first index whose hash is not below H. */
static size_t
lower_bound(const struct renew_ranks *r, uint64_t h)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
renew_ranks_add(struct renew_ranks *r, uint64_t h)
{
	size_t at;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		uint64_t *v = realloc(r->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	at = lower_bound(r, h);
	memmove(r->v + at + 1, r->v + at, (r->n - at) * sizeof(*r->v));
	r->v[at] = h;
	r->n++;
	return 0;
}

void
renew_ranks_remove(struct renew_ranks *r, uint64_t h)
{
	size_t at = lower_bound(r, h);

	if (at == r->n || r->v[at] != h)
		return;
	memmove(r->v + at, r->v + at + 1, (r->n - at - 1) * sizeof(*r->v));
	r->n--;
}

double
renew_ranks_u(const struct renew_ranks *r, uint64_t h)
{
	size_t at = lower_bound(r, h);
	double within = renew_u(mix(h ^ 0x9e3779b97f4a7c15ULL));

	if (at == r->n || r->v[at] != h)	/* not in the set: alone */
		return renew_u(h);
	return ((double)at + within) / (double)r->n;
}

void
renew_ranks_free(struct renew_ranks *r)
{
	free(r->v);
	*r = (struct renew_ranks){ 0 };
}

enum renew_state
renew_state(int held, int64_t now, int64_t not_after, int64_t renew_at)
{
	if (!held)
		return RENEW_MISSING;
	if (now >= not_after)
		return RENEW_EXPIRED;
	return now >= renew_at ? RENEW_DUE : RENEW_VALID;
}

uint64_t
renew_retry(struct retry *r, const struct backoff_opts *o, int64_t now,
	    int64_t not_after)
{
	uint64_t delay = retry_failed(r, o);

	if (not_after > now && now + (int64_t)delay > not_after)
		delay = (uint64_t)(not_after - now);
	return delay;
}
