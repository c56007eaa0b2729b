/*
 * renew: the renewal policy of a managed certificate.  See renew.h.
 */
#include "renew.h"

void
renew_policy_init(struct renew_policy *p)
{
	*p = (struct renew_policy){ .renew_at = 0, .jitter = RENEW_JITTER_DEFAULT };
}

int64_t
renew_spread(int64_t nb, int64_t na, const char *serial, double fraction,
	     double jitter)
{
	uint64_t r = 0xcbf29ce484222325ULL;	/* FNV-1a, then splitmix64's mix */
	double life = (double)(na - nb), u;

	for (const char *p = serial; *p; p++)
		r = (r ^ (unsigned char)*p) * 0x100000001b3ULL;
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
	r ^= r >> 31;
	u = (double)(r >> 11) / (double)(1ULL << 53);	/* [0, 1) */
	return nb + (int64_t)(life * (fraction + jitter * (2.0 * u - 1.0)));
}

int64_t
renew_point(const struct renew_policy *p, int64_t nb, int64_t na,
	    const char *serial)
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
	at = renew_spread(nb, na, serial, frac, p->jitter);
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
