/*
 * deps: the store of Vault data that templates use.
 *
 * DESIGN / invariants:
 *  - An entry is keyed by kind, path and its key=value arguments sorted,
 *    so `secret "x" "a=1" "b=2"` and `secret "x" "b=2" "a=1"` share it.
 *    A call without arguments is a read (GET); with arguments, or for
 *    pkiCert, it is a write (POST of the arguments as a JSON object).
 *  - One timer per entry: the refresh after a success, or the retry
 *    after a failure; at most one Vault call in flight per entry.
 *  - Refresh: data holding a certificate is fetched again at its renewal
 *    time (2/3 of its lifetime, spread by its serial, as certs.c does);
 *    data with a lease at 2/3 of the lease; anything else (kv) every
 *    refresh interval.  Data equal to what the entry held changes
 *    nothing and wakes no template.
 *  - Entries live in a list: a template set names tens of calls, not
 *    thousands; the scale path is the certificates: section.
 *  - Each entry's memory is freed in its timer's close callback, its data
 *    wiped first: it may hold private keys and passwords.
 */
#include "deps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "backoff.h"
#include "certs.h"
#include "config.h"
#include "log.h"
#include "tmpl.h"
#include "vault.h"
#include "x509.h"

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
	unsigned failures;
	int waiting;		/* no token yet */
	uv_timer_t timer;
	struct vault_call *call;
};

struct deps {
	uv_loop_t *loop;
	struct vault *vault;
	struct auth *auth;
	const struct config *cfg;
	deps_changed_cb cb;
	void *cb_arg;
	struct dep *list;
	size_t n;
	size_t open_handles;
	int closing;
};

static void fetch(struct dep *e);

/* Vault data holds secrets (keys, passwords): wipe it before freeing. */
static void
scrub_delete(cJSON *j)
{
	cJSON *stack[64], *it;
	int top = 0;

	if (j == NULL)
		return;
	stack[top++] = j;
	while (top > 0) {
		it = stack[--top];
		for (; it; it = it->next) {
			if (it->valuestring)
				explicit_bzero(it->valuestring, strlen(it->valuestring));
			if (it->child) {
				if (top < (int)(sizeof(stack) / sizeof(stack[0])))
					stack[top++] = it->child;
			}
		}
	}
	cJSON_Delete(j);
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	if (nkv || strcmp(kind, "pkiCert") == 0)
		e->body = make_body(kv, nkv);
	if (e->kind == NULL || e->path == NULL ||
	    ((nkv || strcmp(kind, "pkiCert") == 0) && e->body == NULL)) {
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

/* When should E's data be fetched again, in ms from now? */
static unsigned long long
refresh_delay(const struct dep *e)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e->data, "data");
	const cJSON *cert = cJSON_GetObjectItemCaseSensitive(data, "certificate");
	const cJSON *lease = cJSON_GetObjectItemCaseSensitive(e->data, "lease_id");
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(e->data, "lease_duration");
	unsigned long long refresh = e->d->cfg->template_refresh_ms;
	long long now = wall_ms();

	if (cJSON_IsString(cert)) {
		struct x509_info info;
		char err[256];
		if (x509_cert_info(cert->valuestring, &info, err, sizeof(err)) == 0) {
			long long at = certs_renew_time(info.not_before * 1000,
							info.not_after * 1000,
							info.serial, 2.0 / 3.0, 0.05);
			return at > now ? (unsigned long long)(at - now) : 0;
		}
	}
	if (cJSON_IsString(lease) && lease->valuestring[0] && cJSON_IsNumber(dur) &&
	    dur->valuedouble > 0)
		return (unsigned long long)(dur->valuedouble * 1000.0 * 2.0 / 3.0);
	return refresh ? refresh : KV_REFRESH_MS;
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
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, keys[i]);
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
		if ((x == NULL) != (y == NULL) || (x && !cJSON_Compare(x, y, 1)))
			return 0;
	}
	return 1;
}

static void
on_fetched(void *arg, const struct vault_response *r)
{
	struct dep *e = arg;
	struct deps *d = e->d;

	e->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK || r->json == NULL) {
		uint64_t delay = backoff_delay(d->cfg->retry_min_backoff_ms,
					       d->cfg->retry_max_backoff_ms, e->failures++);
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
		uv_timer_start(&e->timer, on_timer, delay, 0);
		return;
	}
	e->failures = 0;
	e->err[0] = '\0';
	int changed = e->data == NULL || !same_payload(e->data, r->json);
	if (changed) {
		cJSON *copy = cJSON_Duplicate(r->json, 1);
		if (copy == NULL) {
			uv_timer_start(&e->timer, on_timer, 1000, 0);
			return;
		}
		scrub_delete(e->data);
		e->data = copy;
	}
	e->state = DEP_OK;
	unsigned long long delay = refresh_delay(e);
	log_debug("deps", "%s %s: %s; next refresh in %.0fs", e->kind, e->path,
		  changed ? "new data" : "unchanged", (double)delay / 1000);
	uv_timer_start(&e->timer, on_timer, delay, 0);
	if (changed && d->cb)
		d->cb(d->cb_arg);
}

static void
fetch(struct dep *e)
{
	struct deps *d = e->d;
	struct vault_req req = {
		.method = e->body ? "POST" : "GET",
		.path = e->path,
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
	if (vault_request(d->vault, &req, on_fetched, e, &e->call) != 0) {
		e->call = NULL;
		uv_timer_start(&e->timer, on_timer, d->cfg->retry_min_backoff_ms, 0);
	}
}

static void
on_timer(uv_timer_t *t)
{
	fetch(t->data);
}

int
deps_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	 const struct config *cfg, deps_changed_cb cb, void *arg,
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
deps_configure(struct deps *d, const struct config *cfg)
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
	return TMPL_PENDING;
}

void
deps_seed(struct deps *d, const char *kind, const char *path,
	  const char *const *kv, size_t nkv, cJSON *envelope,
	  long long refresh_at_ms)
{
	struct dep *e = lookup(d, kind, path, kv, nkv, 1);
	long long delay = refresh_at_ms - wall_ms();

	if (e == NULL || e->data || e->call) {
		scrub_delete(envelope);
		return;
	}
	e->data = envelope;
	e->state = DEP_OK;
	uv_timer_start(&e->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

int
deps_known(struct deps *d, const char *kind, const char *path,
	   const char *const *kv, size_t nkv)
{
	struct dep *e = lookup(d, kind, path, kv, nkv, 0);

	return e && (e->data || e->call || e->state != DEP_NEW);
}

void
deps_token_ready(struct deps *d)
{
	for (struct dep *e = d->list; e; e = e->next)
		if (e->waiting)
			fetch(e);
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

	scrub_delete(e->data);
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
