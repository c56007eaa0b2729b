/*
 * deps: the store of Vault data that templates use, certificates aside.
 *
 * DESIGN / invariants:
 *  - An entry is keyed by kind, path and its key=value arguments sorted,
 *    so `secret "x" "a=1" "b=2"` and `secret "x" "b=2" "a=1"` share it.
 *    A call without arguments is a read (GET); with arguments, or for
 *    pkiCert, it is a write (POST of the arguments as a JSON object).
 *  - One timer per entry: the refresh after a success, or the retry
 *    after a failure; at most one Vault call in flight per entry.
 *  - Certificates are not here: a template's issue call is a managed
 *    certificate of the engine (certs.c), so both roads share one
 *    issuance path.  What is here is refreshed on its lease, or (kv and
 *    every other read without one) every refresh interval.  Data equal to
 *    what the entry held changes nothing and wakes no template.
 *  - Leases (database credentials): a renewable lease is extended through
 *    sys/leases/renew at lease_renewal_threshold of its duration; the
 *    data stays and no template renders.  When Vault grants less than was
 *    asked (the lease nears its max TTL), when the lease is not
 *    renewable, or when a renewal is refused, the secret is read again at
 *    that point, and new credentials render and fire hooks.  Expiry is
 *    judged on the wall clock.
 *  - Entries live in a list: a template set names tens of calls, not
 *    thousands; the scale path is the certificates: section.
 *  - Each entry's memory is freed in its timer's close callback, its data
 *    wiped first: it may hold private keys and passwords.
 *  - kv v2 as consul-template and Vault Agent read it: before the first
 *    read (`secret` without arguments) or list (`secrets`) of a path, the
 *    store asks sys/internal/ui/mounts/<path> which mount serves it.  A
 *    kv mount with options.version "2" gets "data/" (a list "metadata/")
 *    inserted after the mount, unless the path already has it; kv v1 and
 *    other engines are sent as written, and so is everything when Vault
 *    refuses the question (403, 404: an older Vault, a narrow policy).
 *    The answer is cached per mount for the life of the store, so a
 *    template set asks once per mount, not once per secret: one question
 *    is in flight at a time, and the entries that need one meanwhile
 *    wait for its answer, which likely covers them too.
 */
#include "deps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "backoff.h"
#include "buf.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"

#define KV_REFRESH_MS (5 * 60 * 1000ULL)
#define ERR_MAX 512

enum dep_state { DEP_NEW, DEP_FETCHING, DEP_OK, DEP_FAILED };

struct dep {
	struct deps *d;
	struct dep *next;
	char *key;		/* kind \n path \n sorted kv, for matching */
	char *kind, *path;
	char *body;		/* JSON of the arguments for a write, or NULL */
	enum dep_state state;
	cJSON *data;
	char err[ERR_MAX];
	struct retry retry;
	int waiting;		/* no token yet */
	int renew_next;		/* the timer renews the lease, not re-reads */
	int64_t lease_expire_ms;	/* wall clock; 0 if no lease */
	uint64_t lease_ms;	/* the duration the lease was granted for */
	uv_timer_t timer;
	struct vault_call *call;
	char *vpath;		/* the path sent (kv v2 shim); NULL: not known yet */
	int asking_mount;	/* the call in flight is the mount question */
	int mount_wait;		/* waits for another entry's mount question */
};

/* A mount seen through sys/internal/ui/mounts: "secret/", kv v2 or not. */
struct kvmount {
	struct kvmount *next;
	char *path;
	int v2;
};

struct deps {
	uv_loop_t *loop;
	struct vault *vault;
	struct auth *auth;
	const struct deps_opts *cfg;
	deps_changed_cb cb;
	void *cb_arg;
	struct dep *list;
	size_t n;
	size_t open_handles;
	int closing;
	struct kvmount *mounts;
	struct dep *asking;	/* the one mount question in flight, or NULL */
};

static void fetch(struct dep *e);
static void ask_mount(struct dep *e);
static void fetch_failed(struct dep *e, const struct vault_response *r);

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "kind\npath\nk1=v1\nk2=v2" with the arguments sorted. */
static char *
make_key(const char *kind, const char *path, const char *const *kv, size_t nkv)
{
	const char **sorted = calloc(nkv ? nkv : 1, sizeof(*sorted));
	size_t len = strlen(kind) + strlen(path) + 3;
	char *key = NULL, *p;

	if (sorted == NULL)
		return NULL;
	for (size_t i = 0; i < nkv; i++) {
		sorted[i] = kv[i];
		len += strlen(kv[i]) + 1;
	}
	qsort(sorted, nkv, sizeof(*sorted), cmp_str);
	key = malloc(len);
	if (key) {
		p = key + snprintf(key, len, "%s\n%s", kind, path);
		for (size_t i = 0; i < nkv; i++)
			p += snprintf(p, len - (size_t)(p - key), "\n%s", sorted[i]);
	}
	free(sorted);
	return key;
}

static char *
make_body(const char *const *kv, size_t nkv)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < nkv; i++) {
		const char *eq = strchr(kv[i], '=');
		char name[256];
		if (eq == NULL || (size_t)(eq - kv[i]) >= sizeof(name))
			continue;
		memcpy(name, kv[i], (size_t)(eq - kv[i]));
		name[eq - kv[i]] = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(o, name);
		if (!cJSON_AddStringToObject(o, name, eq + 1))
			goto out;
	}
	body = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return body;
}

static struct dep *
find(struct deps *d, const char *key)
{
	for (struct dep *e = d->list; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void on_timer(uv_timer_t *t);

static struct dep *
lookup(struct deps *d, const char *kind, const char *path,
       const char *const *kv, size_t nkv, int create)
{
	char *key = make_key(kind, path, kv, nkv);
	struct dep *e;

	if (key == NULL)
		return NULL;
	e = find(d, key);
	if (e || !create) {
		free(key);
		return e;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(key);
		return NULL;
	}
	e->d = d;
	e->key = key;
	e->kind = strdup(kind);
	e->path = strdup(path);
	if (nkv)
		e->body = make_body(kv, nkv);
	if (e->kind == NULL || e->path == NULL || (nkv && e->body == NULL)) {
		free(e->kind);
		free(e->path);
		free(e->body);
		free(e->key);
		free(e);
		return NULL;
	}
	uv_timer_init(d->loop, &e->timer);
	e->timer.data = e;
	d->open_handles++;
	e->next = d->list;
	d->list = e;
	d->n++;
	return e;
}

uint64_t
deps_lease_delay(double fraction, uint64_t dur_ms)
{
	uint64_t hi = (uint64_t)((double)dur_ms * fraction);

	return backoff_uniform(hi - hi / 10, hi);
}

/*
 * Vault's lease_duration (seconds) as ms; 0 when absent, not a number or
 * not positive.  Capped at DEPS_LEASE_MAX_S: a double past the integer's
 * range cannot be converted (undefined behaviour), and no lease is
 * renewed a century out.
 */
#define DEPS_LEASE_MAX_S (100.0 * 365 * 86400)

uint64_t
deps_parse_duration(const cJSON *json)
{
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(json, "lease_duration");

	if (!cJSON_IsNumber(dur) || !(dur->valuedouble > 0))
		return 0;
	if (dur->valuedouble > DEPS_LEASE_MAX_S)
		return (uint64_t)(DEPS_LEASE_MAX_S * 1000.0);
	return (uint64_t)(dur->valuedouble * 1000.0);
}

/* deps.h has the contract; the parse step of a read's answer. */
void
deps_parse_lease(const cJSON *env, struct deps_lease *l)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(env, "lease_id");

	l->id = cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : NULL;
	l->ms = l->id ? deps_parse_duration(env) : 0;
	l->renewable = l->ms &&
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(env, "renewable"));
}

/* The renewal point of a lease of DUR_MS: threshold, jittered 10% down. */
static uint64_t
lease_point(const struct dep *e, uint64_t dur_ms)
{
	return deps_lease_delay(e->d->cfg->lease_renew_fraction, dur_ms);
}

/* When should E's data be fetched again, in ms from now? */
static unsigned long long
refresh_delay(const struct dep *e)
{
	struct deps_lease l;
	unsigned long long refresh = e->d->cfg->refresh_ms;

	deps_parse_lease(e->data, &l);
	if (l.ms)
		return lease_point(e, l.ms);
	return refresh ? refresh : KV_REFRESH_MS;
}

/*
 * Are X and Y the same JSON, written the same way?  Compared as printed
 * text, in linear time: cJSON_Compare() looks up every member of one
 * object in the other, which for a secret of 300,000 keys (a 4 MB answer)
 * kept the loop busy for minutes at every refresh.  Vault writes a map's
 * keys in sorted order, so the same data prints the same; anything else
 * only counts as a change, and a re-render writes no file whose bytes are
 * the same.  Out of memory counts as a change too.
 */
static int
same_json(const cJSON *x, const cJSON *y)
{
	char *a, *b;
	int same;

	if (x == NULL || y == NULL)
		return x == y;
	a = cJSON_PrintUnformatted(x);
	b = a ? cJSON_PrintUnformatted(y) : NULL;
	same = a && b && strcmp(a, b) == 0;
	secret_free(a);		/* the secret itself, as text */
	secret_free(b);
	return same;
}

/*
 * Does B carry what A carries?  Every response has a fresh request_id,
 * and a kv read a fresh lease_duration countdown: what a template can
 * meaningfully change on is the data and the lease.
 */
static int
same_payload(const cJSON *a, const cJSON *b)
{
	static const char *const keys[] = { "data", "lease_id", "auth" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!same_json(cJSON_GetObjectItemCaseSensitive(a, keys[i]),
			       cJSON_GetObjectItemCaseSensitive(b, keys[i])))
			return 0;
	}
	return 1;
}

static const char *
lease_id(const struct dep *e)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e->data, "lease_id");

	return cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : NULL;
}

/* Remember the lease of a fresh read ENV, and whether to renew it. */
static void
note_lease(struct dep *e, const cJSON *env)
{
	struct deps_lease l;

	deps_parse_lease(env, &l);
	e->renew_next = 0;
	e->lease_expire_ms = 0;
	e->lease_ms = 0;
	if (lease_id(e) == NULL || l.ms == 0)
		return;
	e->lease_ms = l.ms;
	e->lease_expire_ms = wall_ms() + (int64_t)e->lease_ms;
	e->renew_next = l.renewable;
}

/* Read the secret again (new credentials) in DELAY ms. */
static void
reread_in(struct dep *e, uint64_t delay, const char *why)
{
	log_info("deps", "%s %s: %s; reading it again in %.0fs", e->kind, e->path,
		 why, (double)delay / 1000);
	e->renew_next = 0;
	uv_timer_start(&e->timer, on_timer, delay, 0);
}

static void
on_renewed(void *arg, const struct vault_response *r)
{
	struct dep *e = arg;
	struct deps *d = e->d;
	int64_t now = wall_ms();
	uint64_t got;

	e->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err == VAULT_EHTTP && r->status != 403 && r->status < 500) {
		/* Not found, expired, revoked or not renewable: new ones. */
		reread_in(e, 0, r->message);
		return;
	}
	if (r->err != VAULT_OK) {
		uint64_t delay = retry_failed(&e->retry, &d->cfg->retry);
		if (r->err == VAULT_EHTTP && r->status == 403)
			auth_token_rejected(d->auth, auth_token(d->auth));
		if (now + (int64_t)delay >= e->lease_expire_ms) {
			reread_in(e, 0, "the lease expired before it could be renewed");
			return;
		}
		log_error("deps", "%s %s: renewing the lease failed: %s; next try "
				  "in %.1fs", e->kind, e->path, r->message,
			  (double)delay / 1000);
		uv_timer_start(&e->timer, on_timer, delay, 0);
		return;
	}
	retry_succeeded(&e->retry);
	got = deps_parse_duration(r->json);
	e->lease_expire_ms = now + (int64_t)got;
	if (got + 1000 < e->lease_ms) {
		/* Capped by the max TTL: this lease ends; replace it in time. */
		reread_in(e, lease_point(e, got), "the lease reached its max TTL");
		return;
	}
	log_debug("deps", "%s %s: lease renewed for %llus", e->kind, e->path,
		  (unsigned long long)(got / 1000));
	uv_timer_start(&e->timer, on_timer, lease_point(e, got), 0);
}

static void
renew_lease(struct dep *e)
{
	struct deps *d = e->d;
	cJSON *o;
	char *body = NULL;

	if (auth_token(d->auth) == NULL) {
		e->waiting = 1;
		return;
	}
	e->waiting = 0;
	o = cJSON_CreateObject();
	if (o && cJSON_AddStringToObject(o, "lease_id", lease_id(e)) &&
	    cJSON_AddNumberToObject(o, "increment", (double)(e->lease_ms / 1000)))
		body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (body == NULL) {
		uv_timer_start(&e->timer, on_timer, d->cfg->retry.min_ms, 0);
		return;
	}
	struct vault_req req = {
		.method = "PUT",
		.path = "sys/leases/renew",
		.body = body,
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)vault_address_count(d->vault),
	};
	if (vault_request(d->vault, &req, on_renewed, e, &e->call) != 0) {
		e->call = NULL;
		uv_timer_start(&e->timer, on_timer, d->cfg->retry.min_ms, 0);
	}
	free(body);
}

/* A read (or the mount question before it) failed: retry on the backoff. */
static void
fetch_failed(struct dep *e, const struct vault_response *r)
{
	struct deps *d = e->d;
	uint64_t delay = retry_failed(&e->retry, &d->cfg->retry);

	if (r->err == VAULT_EHTTP && r->status == 403)
		auth_token_rejected(d->auth, auth_token(d->auth));
	snprintf(e->err, sizeof(e->err), "%s",
		 r->err == VAULT_OK ? "empty response" : r->message);
	log_error("deps", "%s %s: %s; next try in %.1fs%s", e->kind, e->path,
		  e->err, (double)delay / 1000,
		  e->data ? " (templates keep the data they have)" : "");
	if (e->data == NULL) {
		int was = e->state;
		e->state = DEP_FAILED;
		/* Templates waiting on it learn it failed. */
		if (was != DEP_FAILED && d->cb)
			d->cb(d->cb_arg);
	} else {
		e->state = DEP_OK;
	}
	/* exit_on_retry_failure: the agent hears of the last retry. */
	if (d->cfg->exit_on_retry_failure &&
	    e->retry.failures == d->cfg->num_retries + 1 && d->cb)
		d->cb(d->cb_arg);
	uv_timer_start(&e->timer, on_timer, delay, 0);
}

/*
 * LIST of a path that holds nothing is a 404 in Vault; consul-template's
 * `secrets` (the Go client's List) takes it for an empty list.
 */
static const char EMPTY_LIST[] = "{\"data\":{\"keys\":[]}}";

static void
on_fetched(void *arg, const struct vault_response *r)
{
	struct dep *e = arg;
	struct deps *d = e->d;
	cJSON *empty = NULL;

	e->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err == VAULT_EHTTP && r->status == 404 &&
	    strcmp(e->kind, "secrets") == 0) {
		empty = cJSON_Parse(EMPTY_LIST);
		if (empty != NULL) {
			struct vault_response r2 = *r;

			r2.err = VAULT_OK;
			r2.json = empty;
			on_fetched(arg, &r2);
			cJSON_Delete(empty);
			return;
		}
	}
	if (r->err != VAULT_OK || r->json == NULL) {
		fetch_failed(e, r);
		return;
	}
	retry_succeeded(&e->retry);
	e->err[0] = '\0';
	int changed = e->data == NULL || !same_payload(e->data, r->json);
	if (changed) {
		cJSON *copy = cJSON_Duplicate(r->json, 1);
		if (copy == NULL) {
			uv_timer_start(&e->timer, on_timer, 1000, 0);
			return;
		}
		secret_json_free(e->data);
		e->data = copy;
	}
	e->state = DEP_OK;
	note_lease(e, r->json);
	unsigned long long delay = refresh_delay(e);
	log_debug("deps", "%s %s: %s; next %s in %.0fs", e->kind, e->path,
		  changed ? "new data" : "unchanged",
		  e->renew_next ? "lease renewal" : "refresh", (double)delay / 1000);
	uv_timer_start(&e->timer, on_timer, delay, 0);
	if (changed && d->cb)
		d->cb(d->cb_arg);
}

/* ------------------------------------------------------------------ */
/* kv v2: which mount serves a path (sys/internal/ui/mounts)           */

/* Reads and lists of kv data; writes (with arguments) go as written. */
static int
needs_mount(const struct dep *e)
{
	return e->body == NULL && (strcmp(e->kind, "secret") == 0 ||
				   strcmp(e->kind, "secrets") == 0);
}

/* The longest cached mount that serves PATH, or NULL. */
static const struct kvmount *
mount_of(const struct deps *d, const char *path)
{
	const struct kvmount *best = NULL;
	size_t plen = strlen(path);

	for (const struct kvmount *m = d->mounts; m; m = m->next) {
		size_t n = strlen(m->path);

		/* "secret/" serves "secret/x" and "secret" itself. */
		if ((strncmp(path, m->path, n) == 0 ||
		     (plen + 1 == n && strncmp(path, m->path, plen) == 0)) &&
		    (best == NULL || n > strlen(best->path)))
			best = m;
	}
	return best;
}

/*
 * The path to send for E on mount M (path ends in "/"), as consul-template's
 * shimKVv2Path and shimKvV2ListPath write it; NULL when out of memory.
 */
char *
deps_kv2_path(const char *path, const char *mount, int v2, int list)
{
	size_t n = strlen(mount), plen = strlen(path);
	const char *rest, *ins = list ? "metadata" : "data";
	struct buf b = BUF_INIT(plen + n + 16);

	if (!v2 || n == 0 || mount[n - 1] != '/')
		return strdup(path);
	if (strncmp(path, mount, n) == 0)
		rest = path + n;
	else if (plen + 1 == n && strncmp(path, mount, plen) == 0)
		rest = path + plen;	/* "secret" itself */
	else
		return strdup(path);	/* not on this mount: as written */
	if (list ? strncmp(rest, "metadata", 8) == 0 &&
		   (rest[8] == '\0' || rest[8] == '/')
		 : strncmp(rest, "data/", 5) == 0 || strncmp(rest, "metadata/", 9) == 0)
		return strdup(path);
	/* path.Join: the mount, the inserted part, the rest without its
	 * slashes doubled or trailing. */
	buf_append(&b, mount, n);
	buf_puts(&b, ins);
	for (const char *p = rest; *p; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			continue;
		if (p == rest && *p == '/')
			continue;
		if (p == rest)
			buf_puts(&b, "/");
		buf_append(&b, p, 1);
	}
	if (b.err != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, &n);
}

static int
resolve_path(struct dep *e, const struct kvmount *m)
{
	free(e->vpath);
	e->vpath = m ? deps_kv2_path(e->path, m->path, m->v2,
				     strcmp(e->kind, "secrets") == 0)
		     : strdup(e->path);
	return e->vpath ? 0 : -ENOMEM;
}

/* Keep Vault's answer for MOUNT: kv v2 when type "kv", version "2". */
static const struct kvmount *
mount_add(struct deps *d, const cJSON *data)
{
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(data, "path");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "type");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(data, "options");
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(opts, "version");
	struct kvmount *m;

	if (!cJSON_IsString(path) || path->valuestring[0] == '\0')
		return NULL;
	for (m = d->mounts; m; m = m->next)
		if (strcmp(m->path, path->valuestring) == 0)
			return m;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->path = strdup(path->valuestring);
	if (m->path == NULL) {
		free(m);
		return NULL;
	}
	m->v2 = cJSON_IsString(type) && strcmp(type->valuestring, "kv") == 0 &&
		cJSON_IsString(ver) && strcmp(ver->valuestring, "2") == 0;
	m->next = d->mounts;
	d->mounts = m;
	return m;
}

/* The mount question is answered: the entries that waited go on. */
static void
mount_answered(struct deps *d)
{
	d->asking = NULL;
	for (struct dep *w = d->list; w && d->asking == NULL; w = w->next) {
		if (!w->mount_wait)
			continue;
		w->mount_wait = 0;
		fetch(w);
	}
}

static void
on_mount(void *arg, const struct vault_response *r)
{
	struct dep *e = arg;
	const struct kvmount *m = NULL;

	e->call = NULL;
	e->asking_mount = 0;
	if (r->err == VAULT_ECANCELED) {
		if (e->d->asking == e)
			e->d->asking = NULL;
		return;
	}
	if (r->err == VAULT_EHTTP && r->status >= 400 && r->status < 500) {
		/* Refused (403) or unknown (404, an older Vault): as written. */
		log_debug("deps", "%s %s: mount not known (HTTP %ld); sent as "
				  "written", e->kind, e->path, r->status);
	} else if (r->err != VAULT_OK || r->json == NULL) {
		fetch_failed(e, r);
		mount_answered(e->d);
		return;
	} else {
		m = mount_add(e->d, cJSON_GetObjectItemCaseSensitive(r->json, "data"));
	}
	if (resolve_path(e, m) != 0) {
		uv_timer_start(&e->timer, on_timer, e->d->cfg->retry.min_ms, 0);
	} else {
		if (strcmp(e->vpath, e->path) != 0)
			log_debug("deps", "%s %s: kv v2, read as %s", e->kind, e->path,
				  e->vpath);
		fetch(e);
	}
	mount_answered(e->d);
}

static void
ask_mount(struct dep *e)
{
	struct deps *d = e->d;
	const struct kvmount *m = mount_of(d, e->path);
	struct buf path = BUF_INIT(8192);
	struct vault_req req = {
		.method = "GET",
		.flags = VAULT_QUIET,
	};
	int rc;

	if (m != NULL) {
		if (resolve_path(e, m) == 0)
			fetch(e);
		else
			uv_timer_start(&e->timer, on_timer, d->cfg->retry.min_ms, 0);
		return;
	}
	if (d->asking != NULL && d->asking != e) {
		e->mount_wait = 1;
		return;
	}
	buf_printf(&path, "sys/internal/ui/mounts/%s", e->path);
	req.path = path.s;
	e->asking_mount = 1;
	d->asking = e;
	rc = path.err != 0 ? -ENOMEM
			   : vault_request(d->vault, &req, on_mount, e, &e->call);
	if (rc != 0) {
		e->call = NULL;
		e->asking_mount = 0;
		d->asking = NULL;
		uv_timer_start(&e->timer, on_timer, d->cfg->retry.min_ms, 0);
	}
	buf_free(&path);
}

static void
fetch(struct dep *e)
{
	struct deps *d = e->d;
	int list = strcmp(e->kind, "secrets") == 0;
	struct vault_req req = {
		.method = e->body ? "POST" : list ? "LIST" : "GET",
		.path = e->vpath ? e->vpath : e->path,
		.body = e->body,
		.flags = VAULT_QUIET,
	};

	if (e->call)
		return;
	if (auth_token(d->auth) == NULL) {
		e->waiting = 1;
		return;
	}
	e->waiting = 0;
	if (e->state == DEP_NEW)
		e->state = DEP_FETCHING;
	if (e->vpath == NULL && needs_mount(e)) {
		ask_mount(e);
		return;
	}
	if (vault_request(d->vault, &req, on_fetched, e, &e->call) != 0) {
		e->call = NULL;
		uv_timer_start(&e->timer, on_timer, d->cfg->retry.min_ms, 0);
	}
}

static void
on_timer(uv_timer_t *t)
{
	struct dep *e = t->data;

	if (e->call)
		return;
	if (e->renew_next && lease_id(e) && wall_ms() < e->lease_expire_ms)
		renew_lease(e);
	else
		fetch(e);
}

int
deps_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	 const struct deps_opts *cfg, deps_changed_cb cb, void *arg,
	 struct deps **out)
{
	struct deps *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -ENOMEM;
	d->loop = loop;
	d->vault = vault;
	d->auth = auth;
	d->cfg = cfg;
	d->cb = cb;
	d->cb_arg = arg;
	*out = d;
	return 0;
}

void
deps_configure(struct deps *d, const struct deps_opts *cfg)
{
	d->cfg = cfg;
}

int
deps_get(struct deps *d, const char *kind, const char *path,
	 const char *const *kv, size_t nkv, const cJSON **out, char *err,
	 size_t errlen)
{
	struct dep *e = lookup(d, kind, path, kv, nkv, 1);

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (e->data) {
		*out = e->data;
		return 0;
	}
	if (e->state == DEP_FAILED) {
		snprintf(err, errlen, "%s %s: %s", kind, path, e->err);
		return -EIO;
	}
	if (e->state == DEP_NEW && e->call == NULL)
		fetch(e);
	return DEPS_PENDING;
}



void
deps_token_ready(struct deps *d)
{
	for (struct dep *e = d->list; e; e = e->next)
		if (e->waiting)
			on_timer(&e->timer);
}


size_t
deps_busy(const struct deps *d)
{
	size_t n = 0;

	for (const struct dep *e = d->list; e; e = e->next)
		if (e->data == NULL && e->state != DEP_FAILED)
			n++;
	return n;
}

int
deps_get_item(const struct deps *d, size_t i, struct deps_item *it)
{
	for (const struct dep *e = d->list; e; e = e->next) {
		if (i-- != 0)
			continue;
		it->kind = e->kind;
		it->path = e->path;
		it->lease_expire_ms = e->lease_expire_ms;
		it->failures = e->retry.failures;
		it->error = e->err;
		it->has_data = e->data != NULL;
		return 0;
	}
	return -ENOENT;
}

size_t
deps_gave_up(const struct deps *d)
{
	size_t n = 0;

	if (!d->cfg->exit_on_retry_failure)
		return 0;
	for (const struct dep *e = d->list; e; e = e->next)
		if (e->retry.failures > d->cfg->num_retries)
			n++;
	return n;
}

size_t
deps_count(const struct deps *d)
{
	return d->n;
}

static void
on_closed(uv_handle_t *h)
{
	struct dep *e = h->data;
	struct deps *d = e->d;

	secret_json_free(e->data);
	free(e->vpath);
	free(e->key);
	free(e->kind);
	free(e->path);
	free(e->body);
	free(e);
	if (--d->open_handles == 0 && d->closing)
		free(d);
}

void
deps_close(struct deps *d)
{
	struct dep *e = d->list, *next;

	d->closing = 1;
	d->list = NULL;
	while (d->mounts != NULL) {
		struct kvmount *m = d->mounts;

		d->mounts = m->next;
		free(m->path);
		free(m);
	}
	if (d->open_handles == 0) {
		free(d);
		return;
	}
	for (; e; e = next) {
		next = e->next;
		if (e->call)
			vault_cancel(e->call);
		uv_timer_stop(&e->timer);
		uv_close((uv_handle_t *)&e->timer, on_closed);
	}
}
