/*
 * revoke: certificate serials waiting to be revoked.
 *
 * DESIGN / invariants:
 *  - The queue is an array; entries due first are found by a scan when
 *    the one timer fires.  Revocations are rare (one per renewal at
 *    most), so the scan costs nothing next to the issuance it follows.
 *  - An entry with a call in flight is not due again until it is
 *    answered.  Each entry is freed when its revocation succeeded or it
 *    ran out of attempts.
 *  - Serials are not secrets and are logged; tokens are never.
 */
#include "revoke.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "backoff.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"

#define REVOKE_ATTEMPTS 5

struct rev {
	struct revq *q;
	char *name, *mount;
	char serial[128];
	int64_t at_ms;
	unsigned attempts;
	struct vault_call *call;
	int until_done;		/* retried until Vault says it is revoked */
};

struct revq {
	uv_loop_t *loop;
	struct vault *vault;
	const struct revq_opts *cfg;
	struct rev **items;
	size_t n, cap;
	uv_timer_t timer;
	int flushing, closing;
	void (*done)(void *arg);
	void *done_arg;
};

static void on_timer(uv_timer_t *t);

int
revq_mount_of(const char *path, char *mount, size_t len)
{
	const char *p = strstr(path, "/issue/");

	if (p == NULL)
		p = strstr(path, "/sign/");
	if (p == NULL || p == path || (size_t)(p - path) >= len)
		return -EINVAL;
	memcpy(mount, path, (size_t)(p - path));
	mount[p - path] = '\0';
	return 0;
}

int
revq_new(uv_loop_t *loop, struct vault *vault, const struct revq_opts *cfg,
	 struct revq **out)
{
	struct revq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -ENOMEM;
	q->loop = loop;
	q->vault = vault;
	q->cfg = cfg;
	uv_timer_init(loop, &q->timer);
	q->timer.data = q;
	*out = q;
	return 0;
}

void
revq_configure(struct revq *q, const struct revq_opts *cfg)
{
	q->cfg = cfg;
}

static void
rev_free(struct rev *r)
{
	free(r->name);
	free(r->mount);
	free(r);
}

static void
remove_at(struct revq *q, size_t i)
{
	rev_free(q->items[i]);
	q->items[i] = q->items[--q->n];
}

static size_t
index_of(const struct revq *q, const struct rev *r)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i] == r)
			return i;
	return q->n;
}

static int
in_flight(const struct revq *q)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->call)
			return 1;
	return 0;
}

/* Arm the timer for the earliest entry not in flight. */
static void
rearm(struct revq *q)
{
	int64_t first = INT64_MAX, now = wall_ms();

	if (q->closing)
		return;
	if (q->flushing) {
		if (!in_flight(q) && q->done) {
			void (*done)(void *) = q->done;
			q->done = NULL;
			done(q->done_arg);
		}
		return;
	}
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->call == NULL && q->items[i]->at_ms < first)
			first = q->items[i]->at_ms;
	if (first == INT64_MAX) {
		uv_timer_stop(&q->timer);
		return;
	}
	uv_timer_start(&q->timer, on_timer,
		       first > now ? (uint64_t)(first - now) : 0, 0);
}

static void
on_revoked(void *arg, const struct vault_response *resp)
{
	struct rev *r = arg;
	struct revq *q = r->q;
	size_t i = index_of(q, r);

	r->call = NULL;
	if (resp->err == VAULT_ECANCELED)
		return;
	if (resp->err == VAULT_OK) {
		log_info("revoke", "%s: revoked serial %s at %s", r->name, r->serial,
			 r->mount);
		audit_revocation(q->cfg->audit, r->name, r->serial, r->mount, NULL);
		remove_at(q, i);
	} else if ((++r->attempts >= REVOKE_ATTEMPTS && !r->until_done) ||
		   q->flushing) {
		log_error("revoke", "%s: revoking serial %s failed: %s; giving up "
				    "(it stays valid until it expires)",
			  r->name, r->serial, resp->message);
		audit_revocation(q->cfg->audit, r->name, r->serial, r->mount,
				 resp->message);
		remove_at(q, i);
	} else {
		uint64_t delay = backoff_delay(q->cfg->retry.min_ms,
					       q->cfg->retry.max_ms,
					       r->attempts - 1);
		log_warn("revoke", "%s: revoking serial %s failed: %s; next try "
				   "in %.1fs", r->name, r->serial, resp->message,
			 (double)delay / 1000);
		r->at_ms = wall_ms() + (int64_t)delay;
	}
	rearm(q);
}

static void
send_one(struct revq *q, struct rev *r)
{
	char path[512], body[256];

	snprintf(path, sizeof(path), "%s/revoke", r->mount);
	snprintf(body, sizeof(body), "{\"serial_number\":\"%s\"}", r->serial);
	struct vault_req req = {
		.method = "POST",
		.path = path,
		.body = body,
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)vault_address_count(q->vault),
	};
	if (vault_request(q->vault, &req, on_revoked, r, &r->call) != 0) {
		r->call = NULL;
		r->attempts++;
		r->at_ms = wall_ms() + 1000;
	}
}

static void
send_due(struct revq *q, int64_t until)
{
	/* Collect first: a callback may reorder the array. */
	size_t n = 0;
	struct rev **due = calloc(q->n ? q->n : 1, sizeof(*due));

	if (due == NULL) {
		uv_timer_start(&q->timer, on_timer, 1000, 0);
		return;
	}
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->call == NULL && q->items[i]->at_ms <= until)
			due[n++] = q->items[i];
	for (size_t i = 0; i < n; i++)
		send_one(q, due[i]);
	free(due);
}

static void
on_timer(uv_timer_t *t)
{
	struct revq *q = t->data;

	send_due(q, wall_ms());
	rearm(q);
}

/* ---- fleet ---- */

int
revq_add_until_done(struct revq *q, const char *name, const char *mount,
		    const char *serial, int64_t at_ms)
{
	int rc = revq_add(q, name, mount, serial, at_ms);

	if (rc == 0)
		q->items[q->n - 1]->until_done = 1;
	return rc;
}

size_t
revq_failing(const struct revq *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->attempts > 0)
			n++;
	return n;
}

int
revq_add(struct revq *q, const char *name, const char *mount,
	 const char *serial, int64_t at_ms)
{
	struct rev *r;

	if (q->closing || q->flushing)
		return -ECANCELED;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct rev **items = realloc(q->items, cap * sizeof(*items));
		if (items == NULL)
			return -ENOMEM;
		q->items = items;
		q->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->q = q;
	r->name = strdup(name);
	r->mount = strdup(mount);
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	r->at_ms = at_ms;
	if (r->name == NULL || r->mount == NULL) {
		rev_free(r);
		return -ENOMEM;
	}
	q->items[q->n++] = r;
	rearm(q);
	return 0;
}

void
revq_flush(struct revq *q, void (*done)(void *arg), void *arg)
{
	int64_t now = wall_ms();

	q->flushing = 1;
	q->done = done;
	q->done_arg = arg;
	uv_timer_stop(&q->timer);
	for (size_t i = 0; i < q->n;) {
		struct rev *r = q->items[i];
		if (r->call == NULL && r->at_ms > now) {
			log_warn("revoke", "%s: stopping before serial %s was due for "
					   "revocation; it stays valid until it expires",
				 r->name, r->serial);
			remove_at(q, i);
			continue;
		}
		i++;
	}
	send_due(q, now);
	/* DONE from the loop even when nothing was sent. */
	uv_timer_start(&q->timer, on_timer, 0, 0);
}

size_t
revq_pending(const struct revq *q)
{
	return q->n;
}

static void
on_closed(uv_handle_t *h)
{
	struct revq *q = h->data;

	for (size_t i = 0; i < q->n; i++)
		rev_free(q->items[i]);
	free(q->items);
	free(q);
}

void
revq_close(struct revq *q)
{
	q->closing = 1;
	for (size_t i = 0; i < q->n; i++) {
		if (q->items[i]->call) {
			struct vault_call *c = q->items[i]->call;
			q->items[i]->call = NULL;
			vault_cancel(c);
		}
	}
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, on_closed);
}
