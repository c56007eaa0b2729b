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
 *  - With a journal (revoke_journal:) every change to the queue marks it
 *    dirty and one short timer writes the whole queue (names, mounts,
 *    serials, due times; never a key or a token) atomically, mode 0600:
 *    a burst of renewals costs one write, not one each.  The queue is
 *    read back by revq_new(), so a grace revocation pending at a stop
 *    is sent after the restart.  With a journal a failed revocation is
 *    retried with backoff until it succeeds (it is in /v1/status and the
 *    metrics meanwhile), and a stop keeps what is not yet due.
 */
#include "revoke.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "backoff.h"
#include "files.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"

#define REVOKE_ATTEMPTS 5
#define JOURNAL_DELAY_MS 100	/* coalesces a burst into one write */
#define JOURNAL_MAX (64 * 1024 * 1024)

struct rev {
	struct revq *q;
	char *name, *mount;
	char serial[128];
	int64_t at_ms;
	unsigned attempts;
	struct vault_call *call;
	int grace;		/* the end of a grace: audited as such */
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
	uv_timer_t save;	/* writes the journal when dirty */
	int no_token;		/* revq_token_ready(q, 0): hold every send */
	int dirty;
	struct revq_stats stats;
};

static void on_timer(uv_timer_t *t);
static void on_closed(uv_handle_t *h);
static void journal_dirty(struct revq *q);
static void journal_load(struct revq *q);
static int add_item(struct revq *q, const char *name, const char *mount,
		    const char *serial, int64_t at_ms, int grace);

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
	uv_timer_init(loop, &q->save);
	q->save.data = q;
	*out = q;
	journal_load(q);
	return 0;
}

void
revq_configure(struct revq *q, const struct revq_opts *cfg)
{
	const char *before = q->cfg->journal, *now = cfg->journal;

	q->cfg = cfg;
	if (now && (before == NULL || strcmp(before, now) != 0))
		journal_dirty(q);	/* a new place: write it there */
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
	journal_dirty(q);
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
	if (first == INT64_MAX || q->no_token) {
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
		q->stats.revoked++;
		remove_at(q, i);
	} else if (q->cfg->journal && q->flushing) {
		/* Stopping: the journal keeps it for the next start. */
		q->stats.failures++;
		r->attempts++;
		log_warn("revoke", "%s: revoking serial %s failed: %s; kept in the "
				   "journal for the next start", r->name, r->serial,
			 resp->message);
		audit_revocation(q->cfg->audit, r->name, r->serial, r->mount,
				 resp->message);
	} else if ((++r->attempts >= REVOKE_ATTEMPTS && !r->until_done &&
		    !q->cfg->journal) || q->flushing) {
		log_error("revoke", "%s: revoking serial %s failed: %s; giving up "
				    "(it stays valid until it expires)",
			  r->name, r->serial, resp->message);
		audit_revocation(q->cfg->audit, r->name, r->serial, r->mount,
				 resp->message);
		remove_at(q, i);
	} else {
		uint64_t delay;
		if (q->cfg->journal)
			audit_revocation(q->cfg->audit, r->name, r->serial, r->mount,
					 resp->message);
		q->stats.failures++;
		delay = backoff_delay(q->cfg->retry.min_ms, q->cfg->retry.max_ms,
				      r->attempts - 1);
		log_warn("revoke", "%s: revoking serial %s failed: %s; next try "
				   "in %.1fs", r->name, r->serial, resp->message,
			 (double)delay / 1000);
		r->at_ms = wall_ms() + (int64_t)delay;
		journal_dirty(q);
	}
	rearm(q);
}

static void
send_one(struct revq *q, struct rev *r)
{
	char path[512], body[256];

	if (r->grace) {
		/* lifecycle: the grace ends now; the revocation follows. */
		log_info("revoke", "%s: the grace of serial %s is over; revoking it",
			 r->name, r->serial);
		audit_lifecycle(q->cfg->audit, "grace_end", r->name, NULL, r->serial,
				NULL, NULL);
		r->grace = 0;
		journal_dirty(q);
	}
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
	return add_item(q, name, mount, serial, at_ms, 0);
}

int
revq_add_grace(struct revq *q, const char *name, const char *mount,
	       const char *serial, int64_t at_ms)
{
	return add_item(q, name, mount, serial, at_ms, 1);
}

static int
add_item(struct revq *q, const char *name, const char *mount,
	 const char *serial, int64_t at_ms, int grace)
{
	struct rev *r;

	if (q->closing || q->flushing)
		return -ECANCELED;
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->items[i]->serial, serial) == 0 &&
		    strcmp(q->items[i]->mount, mount) == 0)
			return 0;	/* queued already (a journal read back) */
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
	r->grace = grace;
	if (r->name == NULL || r->mount == NULL) {
		rev_free(r);
		return -ENOMEM;
	}
	q->items[q->n++] = r;
	journal_dirty(q);
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
		if (r->call == NULL && r->at_ms > now && q->cfg->journal) {
			log_info("revoke", "%s: serial %s is due for revocation "
					   "later; kept in the journal", r->name,
				 r->serial);
			i++;
			continue;
		}
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
	size_t n = 0;

	/* Stopping with a journal: what is due later waits for a restart. */
	if (!q->flushing || q->cfg->journal == NULL)
		return q->n;
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->call || q->items[i]->at_ms <= wall_ms())
			n++;
	return n;
}

static void
on_save_closed(uv_handle_t *h)
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

/* ---- lifecycle ---- */

static void
on_closed(uv_handle_t *h)
{
	struct revq *q = h->data;

	if (q->dirty)
		revq_journal_save(q);
	uv_timer_stop(&q->save);
	uv_close((uv_handle_t *)&q->save, on_save_closed);
}

static void
on_save(uv_timer_t *t)
{
	revq_journal_save(t->data);
}

static void
journal_dirty(struct revq *q)
{
	if (q->cfg->journal == NULL)
		return;
	q->dirty = 1;
	if (!q->closing && !uv_is_active((uv_handle_t *)&q->save))
		uv_timer_start(&q->save, on_save, JOURNAL_DELAY_MS, 0);
}

int
revq_journal_save(struct revq *q)
{
	cJSON *root = cJSON_CreateObject(), *list;
	char err[512], *text = NULL;
	int rc = -ENOMEM;

	if (q->cfg->journal == NULL) {
		cJSON_Delete(root);
		return 0;
	}
	list = root ? cJSON_AddArrayToObject(root, "revocations") : NULL;
	if (list == NULL || !cJSON_AddNumberToObject(root, "version", 1))
		goto out;
	for (size_t i = 0; i < q->n; i++) {
		const struct rev *r = q->items[i];
		cJSON *o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(list, o) ||
		    !cJSON_AddStringToObject(o, "name", r->name) ||
		    !cJSON_AddStringToObject(o, "mount", r->mount) ||
		    !cJSON_AddStringToObject(o, "serial", r->serial) ||
		    !cJSON_AddNumberToObject(o, "due_ms", (double)r->at_ms) ||
		    !cJSON_AddBoolToObject(o, "grace", r->grace) ||
		    !cJSON_AddNumberToObject(o, "attempts", r->attempts))
			goto out;
	}
	text = cJSON_Print(root);
	if (text == NULL)
		goto out;
	rc = files_write_atomic(q->cfg->journal, text, strlen(text), 0600,
				(uid_t)-1, (gid_t)-1, err, sizeof(err));
	if (rc < 0) {
		log_error("revoke", "cannot write the revocation journal: %s", err);
		goto out;
	}
	q->dirty = 0;
	rc = 0;
out:
	if (rc == -ENOMEM)
		log_error("revoke", "out of memory writing the revocation journal");
	free(text);
	cJSON_Delete(root);
	return rc;
}

/* What an earlier run left pending, queued again. */
static void
journal_load(struct revq *q)
{
	char *text = NULL, err[512];
	const cJSON *e, *list;
	cJSON *root = NULL;
	size_t len, n = 0;

	if (q->cfg->journal == NULL)
		return;
	if (files_read(q->cfg->journal, JOURNAL_MAX, &text, &len, err,
		       sizeof(err)) != 0) {
		log_debug("revoke", "no revocation journal read: %s", err);
		return;
	}
	root = cJSON_ParseWithLength(text, len);
	list = cJSON_GetObjectItemCaseSensitive(root, "revocations");
	if (!cJSON_IsArray(list)) {
		log_error("revoke", "the revocation journal %s is not one this "
			  "agent wrote; ignoring it", q->cfg->journal);
		goto out;
	}
	cJSON_ArrayForEach(e, list) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
		const cJSON *mount = cJSON_GetObjectItemCaseSensitive(e, "mount");
		const cJSON *serial = cJSON_GetObjectItemCaseSensitive(e, "serial");
		const cJSON *due = cJSON_GetObjectItemCaseSensitive(e, "due_ms");
		const cJSON *grace = cJSON_GetObjectItemCaseSensitive(e, "grace");
		if (!cJSON_IsString(name) || !cJSON_IsString(mount) ||
		    !cJSON_IsString(serial) || !cJSON_IsNumber(due) ||
		    strlen(serial->valuestring) >= 128)
			continue;
		if (add_item(q, name->valuestring, mount->valuestring,
			     serial->valuestring, (int64_t)due->valuedouble,
			     cJSON_IsTrue(grace)) == 0)
			n++;
	}
	if (n)
		log_info("revoke", "%zu revocation%s pending from the journal %s", n,
			 n == 1 ? "" : "s", q->cfg->journal);
	q->dirty = 0;
	uv_timer_stop(&q->save);
out:
	cJSON_Delete(root);
	free(text);
}

void
revq_token_ready(struct revq *q, int ready)
{
	q->no_token = !ready;
	rearm(q);
}

void
revq_get_stats(const struct revq *q, struct revq_stats *st)
{
	*st = q->stats;
	st->pending = q->n;
	st->failing = 0;
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->attempts)
			st->failing++;
}

size_t
revq_count(const struct revq *q)
{
	return q->n;
}

void
revq_get_item(const struct revq *q, size_t i, struct revq_item *it)
{
	const struct rev *r = q->items[i];

	it->name = r->name;
	it->mount = r->mount;
	it->serial = r->serial;
	it->due_ms = r->at_ms;
	it->attempts = r->attempts;
	it->grace = r->grace;
}
