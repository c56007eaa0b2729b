/*
 * vault: requests to the Vault / OpenBao HTTP API.
 *
 * DESIGN / invariants:
 *  - A call owns one easy handle, reused for each of its attempts, and one
 *    uv timer for the wait between attempts; its memory is freed in the
 *    timer's close callback, after its user callback has fired once.
 *  - Failover: the client keeps the index of the address that last
 *    worked.  A transport error, a 5xx or an unusable body moves it to the
 *    next address and the call retries there at once; only when every
 *    address has failed in a row does the call back off (full jitter,
 *    doubling from min_backoff up to max_backoff).  A 429 or 503 with
 *    Retry-After waits what the server asked, within the same bounds.
 *  - Nothing secret is logged: not the token header, not request or
 *    response bodies; curl's verbose mode is never turned on.  The token
 *    header is scrubbed from memory when the header list is freed.
 */
#include "vault.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "backoff.h"
#include "buf.h"
#include "http.h"
#include "identity.h"
#include "log.h"
#include "ratelimit.h"
#include "wallclock.h"

#define MSG_MAX 768
/*
 * Attempts on the wire at once.  Two keep the loopback or LAN round trip
 * hidden behind the agent's own work (the bench: 500 issuances in 1.5 s,
 * agent CPU-bound) while a start-up costs two TLS handshakes, not one per
 * pending call; each connection is an SSL_CTX and a handshake, the
 * largest cost of a restart after the dynamic linker.
 */
#define VAULT_MAX_ACTIVE 2	/* vault.max_concurrent_requests' default */

struct vault_addr {
	char *base;		/* scheme://host:port, no trailing slash */
	char *connect_to;	/* "NAME:PORT:HOST:PORT" for tls_server_name */
	int https;
};

struct vault_call {
	struct vault *v;
	struct vault_call *next, **pprev;
	char *method, *path, *body, *token;
	unsigned flags, max_attempts;
	uint64_t deadline;
	vault_cb cb;
	void *arg;

	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	char *data;		/* response body */
	size_t len, cap;
	int toobig;
	char curlerr[CURL_ERROR_SIZE];

	uv_timer_t timer;
	unsigned attempts;	/* HTTP attempts made */
	uint64_t attempt_started;	/* loop time, ms */
	unsigned rounds;	/* rounds over all addresses that failed */
	unsigned failed_in_round;
	size_t addr;		/* index used by the attempt in flight */
	int done;
	int has_slot;		/* counts against VAULT_MAX_ACTIVE */
	struct vault_call *wait_next;	/* in the queue for a slot */
	int waiting;
};

struct vault {
	uv_loop_t *loop;
	struct http *http;
	const struct vault_opts *cfg;
	struct vault_addr *addrs;
	size_t naddrs;
	size_t current;
	char *token;
	struct vault_call *calls;
	uint64_t attempts;
	unsigned default_attempts;	/* for calls that set none; 0: unbounded */
	unsigned active;		/* attempts holding a slot */
	struct vault_call *wait_head, **wait_tail;	/* FIFO for a slot */
	int closing;
	size_t pending_frees;
	struct identity *identity;	/* vault.client_cert/key, or NULL */
	struct vault_stats stats;
	void (*identity_cb)(void *arg);
	void *identity_arg;
	/* lifecycle: vault.max_requests_per_second; the timer runs only
	 * while a call waits for the rate. */
	struct ratelimit rate;
	uv_timer_t rate_timer;
	int rate_timer_init;
};

static void start_attempt(struct vault_call *c);
static void on_retry_timer(uv_timer_t *t);
static void on_rate_timer(uv_timer_t *t);
static void dispatch(struct vault *v);
static void free_addrs(struct vault_addr *a, size_t n);

static unsigned
max_active(const struct vault *v)
{
	return v->cfg && v->cfg->max_concurrent ? (unsigned)v->cfg->max_concurrent
						: VAULT_MAX_ACTIVE;
}

/* May one more attempt start now, by the rate?  If not, the rate timer
 * is armed for when one may (once: it serves the whole queue). */
static int
rate_ok(struct vault *v)
{
	uint64_t wait = ratelimit_take(&v->rate, uv_now(v->loop));

	if (wait == 0)
		return 1;
	if (v->rate_timer_init && !uv_is_active((uv_handle_t *)&v->rate_timer))
		uv_timer_start(&v->rate_timer, on_rate_timer, wait, 0);
	return 0;
}

static void count_attempt(struct vault_call *c, long status);

/*
 * At most max_active() attempts (vault.max_concurrent_requests) are on
 * the wire at once, started at most vault.max_requests_per_second; the
 * others wait in order.  Ten thousand certificates due together then cost
 * two reused connections, not ten thousand TLS handshakes and their buffers,
 * and Vault sees a steady stream instead of a burst.
 */
static void
slot_release(struct vault_call *c)
{
	struct vault *v = c->v;

	if (c->waiting) {
		struct vault_call **pp = &v->wait_head;
		while (*pp && *pp != c)
			pp = &(*pp)->wait_next;
		if (*pp)
			*pp = c->wait_next;
		if (v->wait_tail == &c->wait_next)
			v->wait_tail = pp;
		c->waiting = 0;
		c->wait_next = NULL;
	}
	if (c->has_slot) {
		c->has_slot = 0;
		v->active--;
	}
	dispatch(v);
}

/* 1 if C may start an attempt now; else it joins the queue. */
static int
slot_take(struct vault_call *c)
{
	struct vault *v = c->v;

	if (c->has_slot)
		return 1;
	/* FIFO: nobody passes a call already waiting (but a VAULT_FIRST
	 * one, which goes to the front of the queue below). */
	if (v->active < max_active(v) &&
	    (v->wait_head == NULL || (c->flags & VAULT_FIRST)) && rate_ok(v)) {
		c->has_slot = 1;
		v->active++;
		return 1;
	}
	if (!c->waiting) {
		c->waiting = 1;
		if (c->flags & VAULT_FIRST) {
			/* A login or renewal must not wait behind thousands
			 * of issuances that need the token it keeps alive. */
			c->wait_next = v->wait_head;
			v->wait_head = c;
			if (v->wait_tail == &v->wait_head)
				v->wait_tail = &c->wait_next;
		} else {
			c->wait_next = NULL;
			*v->wait_tail = c;
			v->wait_tail = &c->wait_next;
		}
	}
	return 0;
}

/* The rate allows one more: hand out what the slots allow. */
static void
on_rate_timer(uv_timer_t *t)
{
	dispatch(t->data);
}

/* Give the waiting calls, in order, what the slots and the rate allow. */
static void
dispatch(struct vault *v)
{
	while (!v->closing && v->active < max_active(v) && v->wait_head &&
	       rate_ok(v)) {
		struct vault_call *w = v->wait_head;
		v->wait_head = w->wait_next;
		if (v->wait_head == NULL)
			v->wait_tail = &v->wait_head;
		w->wait_next = NULL;
		w->waiting = 0;
		w->has_slot = 1;
		v->active++;
		uv_timer_start(&w->timer, on_retry_timer, 0, 0);
	}
}

static void
rate_timer_closed(uv_handle_t *h)
{
	struct vault *v = h->data;

	v->pending_frees--;
	if (v->closing && v->pending_frees == 0) {
		free_addrs(v->addrs, v->naddrs);
		vault_set_token(v, NULL);
		identity_free(v->identity);
		free(v);
	}
}

/* An address index can outlive a reload that shortened the list. */
static const char *
addr_name(const struct vault *v, size_t i)
{
	return v->naddrs ? v->addrs[i % v->naddrs].base : "(no address)";
}

static void
free_addrs(struct vault_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].base);
		free(a[i].connect_to);
	}
	free(a);
}

/* Split ADDRESS into a base URL and, with SERVER_NAME, a connect-to rule. */
static int
parse_addr(const char *address, const char *server_name, struct vault_addr *a,
	   char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, address, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		snprintf(err, errlen, "vault.address %s is not a URL", address);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "vault.address %s: scheme must be http or https",
			 address);
		goto out;
	}
	a->https = strcmp(scheme, "https") == 0;
	const char *name = server_name && a->https ? server_name : host;
	size_t n = strlen(scheme) + strlen(name) + strlen(port) + 8;
	a->base = malloc(n);
	if (a->base == NULL)
		goto oom;
	snprintf(a->base, n, "%s://%s:%s", scheme, name, port);
	if (name != host) {
		n = strlen(name) + strlen(host) + 2 * strlen(port) + 4;
		a->connect_to = malloc(n);
		if (a->connect_to == NULL)
			goto oom;
		snprintf(a->connect_to, n, "%s:%s:%s:%s", name, port, host, port);
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	free(a->base);
	a->base = NULL;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int
vault_configure(struct vault *v, const struct vault_opts *cfg, char *err,
		size_t errlen)
{
	struct vault_addr *addrs;
	size_t n = cfg->n_addresses;

	addrs = calloc(n ? n : 1, sizeof(*addrs));
	if (addrs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_addr(cfg->addresses[i], cfg->tls_server_name,
			       &addrs[i], err, errlen) != 0) {
			free_addrs(addrs, i);
			return -EINVAL;
		}
	}
	if (cfg->client_cert == NULL) {
		identity_free(v->identity);
		v->identity = NULL;
	} else if (v->identity == NULL ||
		   strcmp(identity_cert_path(v->identity), cfg->client_cert) != 0 ||
		   strcmp(identity_key_path(v->identity), cfg->client_key) != 0) {
		struct identity *id = NULL;
		if (identity_new(cfg->client_cert, cfg->client_key, &id) != 0) {
			free_addrs(addrs, n);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		identity_free(v->identity);
		v->identity = id;
	}
	free_addrs(v->addrs, v->naddrs);
	v->addrs = addrs;
	v->naddrs = n;
	v->current = 0;
	v->cfg = cfg;
	ratelimit_set(&v->rate, cfg->max_per_second);
	if (v->rate_timer_init)
		dispatch(v);	/* a reload may allow more at once */
	if (cfg->tls_skip_verify)
		log_warn("vault", "TLS verification of the Vault server is OFF "
				  "(vault.tls_skip_verify): anyone on the path can "
				  "read the token and secrets");
	return 0;
}

int
vault_new(uv_loop_t *loop, struct http *http, const struct vault_opts *cfg,
	  struct vault **out, char *err, size_t errlen)
{
	struct vault *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	v->loop = loop;
	v->wait_tail = &v->wait_head;
	v->http = http;
	ratelimit_init(&v->rate, 0);
	if (vault_configure(v, cfg, err, errlen) != 0) {
		free(v);
		return -EINVAL;
	}
	if (uv_timer_init(loop, &v->rate_timer) == 0) {
		v->rate_timer.data = v;
		v->rate_timer_init = 1;
		v->pending_frees++;	/* until the timer is closed */
	}
	*out = v;
	return 0;
}

void
vault_set_token(struct vault *v, const char *token)
{
	if (v->token) {
		OPENSSL_cleanse(v->token, strlen(v->token));
		free(v->token);
		v->token = NULL;
	}
	if (token)
		v->token = strdup(token);
}

void
vault_set_default_attempts(struct vault *v, unsigned n)
{
	v->default_attempts = n;
}

size_t
vault_address_count(const struct vault *v)
{
	return v->naddrs;
}

uint64_t
vault_attempts(const struct vault *v)
{
	return v->attempts;
}

void
vault_errors_text(const cJSON *json, char *buf, size_t len)
{
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(json, "errors");
	const cJSON *e;
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(e, errors)
	{
		if (!cJSON_IsString(e) || off + 3 >= len)
			continue;
		int n = snprintf(buf + off, len - off, "%s%s", off ? "; " : "",
				 e->valuestring);
		off = n < 0 ? off : off + (size_t)n;
		if (off >= len)
			off = len - 1;
	}
	/* Vault's multi-error strings carry newlines and tabs. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
}

const char *
vault_kv_field(const cJSON *json, const char *field)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(json, "data"), *inner, *v;

	inner = cJSON_GetObjectItemCaseSensitive(d, "data");
	if (cJSON_IsObject(inner) &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "metadata")))
		d = inner;
	v = cJSON_GetObjectItemCaseSensitive(d, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
free_headers(struct vault_call *c)
{
	for (struct curl_slist *h = c->headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	curl_slist_free_all(c->connect_to);
	c->connect_to = NULL;
}

static void
call_freed(uv_handle_t *handle)
{
	struct vault_call *c = handle->data;
	struct vault *v = c->v;

	free(c);
	v->pending_frees--;
	if (v->closing && v->pending_frees == 0) {
		free_addrs(v->addrs, v->naddrs);
		vault_set_token(v, NULL);
		identity_free(v->identity);
		free(v);
	}
}

/* Fire the user callback once, then release the call. */
static void
finish(struct vault_call *c, int err, long status, const char *message)
{
	struct vault_response r;
	cJSON *json = NULL;

	if (c->done)
		return;
	c->done = 1;
	uv_timer_stop(&c->timer);
	if (c->easy) {
		http_remove(c->v->http, c->easy);
	}
	slot_release(c);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;

	if (err == VAULT_OK && c->len > 0 && !(c->flags & VAULT_RAW))
		json = cJSON_ParseWithLength(c->data, c->len);
	if (err == VAULT_EHTTP && c->len > 0)
		json = cJSON_ParseWithLength(c->data, c->len);
	memset(&r, 0, sizeof(r));
	r.err = err;
	r.status = status;
	r.json = json;
	r.body = c->data ? c->data : "";
	r.body_len = c->len;
	r.message = message ? message : "";
	r.address = addr_name(c->v, c->addr);
	c->cb(c->arg, &r);

	secret_json_free(json);
	if (c->easy)
		curl_easy_cleanup(c->easy);
	free_headers(c);
	if (c->data) {
		/* The whole block: an earlier attempt's answer may have been
		 * longer than the last one's. */
		OPENSSL_cleanse(c->data, c->cap);
		free(c->data);
	}
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	if (c->body) {
		OPENSSL_cleanse(c->body, strlen(c->body));
		free(c->body);
	}
	free(c->method);
	free(c->path);
	uv_close((uv_handle_t *)&c->timer, call_freed);
}

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct vault_call *c = userp;
	size_t n = size * nmemb;
	uint64_t max = c->v->cfg->max_response_bytes;

	if (c->len + n > max) {
		c->toobig = 1;
		return 0;	/* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < c->len + n + 1)
			cap *= 2;
		/* Not realloc: a moved answer (a secret, a key) would leave
		 * its first part behind in the freed block. */
		char *p = malloc(cap);
		if (p == NULL)
			return 0;
		if (c->data) {
			memcpy(p, c->data, c->len);
			OPENSSL_cleanse(c->data, c->cap);
			free(c->data);
		}
		c->data = p;
		c->cap = cap;
	}
	memcpy(c->data + c->len, ptr, n);
	c->len += n;
	c->data[c->len] = '\0';
	return n;
}

/* Retry-After in ms (seconds or an HTTP date), 0 if absent. */
static uint64_t
retry_after_ms(CURL *easy)
{
	struct curl_header *h;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK)
		return 0;
	char *end;
	errno = 0;
	unsigned long long s = strtoull(h->value, &end, 10);
	if (errno == 0 && end != h->value && *end == '\0')
		return s > 86400 ? 86400000ULL : s * 1000ULL;
	time_t when = curl_getdate(h->value, NULL);
	time_t now = time(NULL);
	return when > now ? (uint64_t)(when - now) * 1000ULL : 0;
}

static int
retryable_status(long status)
{
	return status == 412 || status == 429 || status >= 500;
}

static void
on_retry_timer(uv_timer_t *t)
{
	start_attempt(t->data);
}

/*
 * The attempt failed with ERR/STATUS; decide between another address now,
 * a backoff wait, or the end of the call.
 */
static void
attempt_failed(struct vault_call *c, int err, long status, const char *why,
	       uint64_t wait_hint)
{
	struct vault *v = c->v;
	char msg[MSG_MAX];
	uint64_t delay = 0;
	int failover = status != 429;

	snprintf(msg, sizeof(msg), "%s %s via %s: %s", c->method, c->path,
		 addr_name(v, c->addr), why);

	int can_retry = err != VAULT_EHTTP || retryable_status(status);
	if (c->max_attempts && c->attempts >= c->max_attempts)
		can_retry = 0;
	if (!can_retry) {
		if (!(c->flags & VAULT_QUIET))
			log_warn("vault", "%s", msg);
		finish(c, err, status, msg);
		return;
	}
	if (failover && v->current == c->addr % (v->naddrs ? v->naddrs : 1) &&
	    v->naddrs > 1)
		v->current = (c->addr + 1) % v->naddrs;
	c->failed_in_round++;
	if (!failover || c->failed_in_round >= v->naddrs) {
		delay = backoff_delay(v->cfg->retry.min_ms,
				      v->cfg->retry.max_ms, c->rounds);
		if (wait_hint) {
			delay = wait_hint < v->cfg->retry.min_ms
					? v->cfg->retry.min_ms
					: wait_hint;
			if (delay > v->cfg->retry.max_ms)
				delay = v->cfg->retry.max_ms;
		}
		c->rounds++;
		c->failed_in_round = 0;
	}
	if (c->deadline && uv_now(v->loop) + delay > c->deadline) {
		if (!(c->flags & VAULT_QUIET))
			log_warn("vault", "%s; giving up (deadline)", msg);
		finish(c, err, status, msg);
		return;
	}
	if (delay)
		log_warn("vault", "%s; retrying in %.1fs (attempt %u)", msg,
			 (double)delay / 1000.0, c->attempts + 1);
	else
		log_warn("vault", "%s; trying %s", msg, addr_name(v, v->current));
	/*
	 * The backoff counts from now.  libuv times from the clock it took
	 * when this loop turn began, and on a busy host the answer may have
	 * been read well after that: the wait would then end early, and the
	 * server would see retries closer together than retry.min_backoff.
	 */
	uv_update_time(v->loop);
	if (uv_timer_start(&c->timer, on_retry_timer, delay, 0) != 0)
		finish(c, err, status, msg);
}

static void
on_done(CURL *easy, CURLcode result, void *arg)
{
	struct vault_call *c = arg;
	char why[MSG_MAX], errs[512];
	long status = 0;

	slot_release(c);	/* a retry's backoff holds no slot */
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	count_attempt(c, result == CURLE_OK ? status : 0);
	if (c->toobig) {
		snprintf(why, sizeof(why),
			 "response larger than vault.max_response_size (%llu bytes)",
			 (unsigned long long)c->v->cfg->max_response_bytes);
		attempt_failed(c, VAULT_EBODY, status, why, 0);
		return;
	}
	if (result == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, sizeof(why),
			 "response larger than vault.max_response_size (%llu bytes)",
			 (unsigned long long)c->v->cfg->max_response_bytes);
		attempt_failed(c, VAULT_EBODY, status, why, 0);
		return;
	}
	if (result != CURLE_OK) {
		/* curl's error buffer is the more specific of its two texts. */
		snprintf(why, sizeof(why), "%s",
			 c->curlerr[0] ? c->curlerr : curl_easy_strerror(result));
		attempt_failed(c, VAULT_ETRANSPORT, 0, why, 0);
		return;
	}
	if (status < 200 || status > 299) {
		cJSON *json = c->len ? cJSON_ParseWithLength(c->data, c->len) : NULL;
		errs[0] = '\0';
		if (json)
			vault_errors_text(json, errs, sizeof(errs));
		secret_json_free(json);
		snprintf(why, sizeof(why), "HTTP %ld%s%s", status,
			 errs[0] ? ": " : "", errs);
		uint64_t hint = (status == 429 || status == 503)
					? retry_after_ms(easy)
					: 0;
		attempt_failed(c, VAULT_EHTTP, status, why, hint);
		return;
	}
	if (!(c->flags & VAULT_RAW) && c->len > 0) {
		cJSON *json = cJSON_ParseWithLength(c->data, c->len);
		if (json == NULL) {
			snprintf(why, sizeof(why), "HTTP %ld with a body that is not "
						   "JSON (%zu bytes)",
				 status, c->len);
			attempt_failed(c, VAULT_EBODY, status, why, 0);
			return;
		}
		secret_json_free(json);
	}
	if (c->addr < c->v->naddrs)
		c->v->current = c->addr;
	finish(c, VAULT_OK, status, NULL);
}

/* The kind of request, for /metrics: bounded, unlike paths. */
static const char *
path_class(const char *path)
{
	if (strncmp(path, "auth/", 5) == 0)
		return "auth";
	if (strncmp(path, "sys/", 4) == 0)
		return "sys";
	if (strstr(path, "/issue/") || strstr(path, "/sign/"))
		return "pki";
	return "secret";
}

static void
count_attempt(struct vault_call *c, long status)
{
	struct vault_stats *st = &c->v->stats;
	const char *class = path_class(c->path);
	size_t i;

	histo_add(&st->latency, (double)(uv_now(c->v->loop) - c->attempt_started) / 1000.0);
	st->reachable = status != 0 && status < 500;
	if (status != 0)
		st->last_answer_ms = wall_ms();
	for (i = 0; i < st->n; i++)
		if (st->by[i].class == class && st->by[i].status == status)
			break;
	if (i == st->n) {
		if (st->n == VAULT_STATS_MAX)
			return;	/* status codes beyond these are not counted apart */
		st->by[i].class = class;
		st->by[i].status = status;
		st->n++;
	}
	st->by[i].count++;
}

void
vault_get_stats(const struct vault *v, struct vault_stats *st)
{
	*st = v->stats;
	st->address = v->naddrs ? v->addrs[v->current].base : "";
}

static int
add_header(struct vault_call *c, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *h = malloc(n);
	struct curl_slist *l;

	if (h == NULL)
		return -1;
	snprintf(h, n, "%s: %s", name, value);
	l = curl_slist_append(c->headers, h);
	OPENSSL_cleanse(h, n);
	free(h);
	if (l == NULL)
		return -1;
	c->headers = l;
	return 0;
}

/* Set up the easy handle for an attempt against the current address. */
static int
prepare(struct vault_call *c)
{
	struct vault *v = c->v;
	const struct vault_opts *cfg = v->cfg;
	const struct vault_addr *a;
	const char *token = c->token ? c->token : v->token;
	int list = strcmp(c->method, "LIST") == 0;
	char *url;
	size_t n;

	if (v->naddrs == 0)
		return -1;
	c->addr = v->current;
	a = &v->addrs[c->addr];
	if (c->easy == NULL) {
		c->easy = curl_easy_init();
		if (c->easy == NULL)
			return -1;
	} else {
		curl_easy_reset(c->easy);
	}
	free_headers(c);
	c->len = 0;
	c->toobig = 0;
	c->curlerr[0] = '\0';

	n = strlen(a->base) + strlen(c->path) + 20;
	url = malloc(n);
	if (url == NULL)
		return -1;
	snprintf(url, n, "%s/v1/%s%s", a->base, c->path, list ? "?list=true" : "");
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	free(url);

	if (!(c->flags & VAULT_NO_TOKEN) && token && add_header(c, "X-Vault-Token", token))
		return -1;
	if (cfg->namespace && add_header(c, "X-Vault-Namespace", cfg->namespace))
		return -1;
	if (add_header(c, "X-Vault-Request", "true") || add_header(c, "Expect", ""))
		return -1;
	if (c->body && add_header(c, "Content-Type", "application/json"))
		return -1;
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);

	if (list)
		curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(c->method, "GET") != 0)
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->body) {
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
	} else if (strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0) {
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, 0L);
	}

	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->curlerr);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "certagent/" CERTAGENT_VERSION);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(cfg->timeout_ms < 10000 ? cfg->timeout_ms
							      : 10000));
	curl_easy_setopt(c->easy, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)cfg->max_response_bytes);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Standby nodes answer 307 with the active node's address; 307 keeps
	 * the method and body.  Never downgrade https to http. */
	curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR,
			 a->https ? "https" : "http,https");
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (a->connect_to) {
		/* curl keeps a pointer to this list: it lives with the call. */
		c->connect_to = curl_slist_append(NULL, a->connect_to);
		if (c->connect_to == NULL)
			return -1;
		curl_easy_setopt(c->easy, CURLOPT_CONNECT_TO, c->connect_to);
	}
	if (cfg->ca_cert)
		curl_easy_setopt(c->easy, CURLOPT_CAINFO, cfg->ca_cert);
	if (cfg->tls_skip_verify) {
		curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (v->identity) {
		/* As bytes, not file names: see identity.h. */
		struct curl_blob cb, kb;
		const char *cert, *key;
		size_t clen, klen;

		if (vault_identity_refresh(v) == 1 && v->identity_cb)
			v->identity_cb(v->identity_arg);
		identity_blobs(v->identity, &cert, &clen, &key, &klen);
		if (cert) {
			cb = (struct curl_blob){ (void *)cert, clen, CURL_BLOB_COPY };
			kb = (struct curl_blob){ (void *)key, klen, CURL_BLOB_COPY };
			curl_easy_setopt(c->easy, CURLOPT_SSLCERTTYPE, "PEM");
			curl_easy_setopt(c->easy, CURLOPT_SSLCERT_BLOB, &cb);
			curl_easy_setopt(c->easy, CURLOPT_SSLKEYTYPE, "PEM");
			curl_easy_setopt(c->easy, CURLOPT_SSLKEY_BLOB, &kb);
		}
	}
	return 0;
}

int
vault_identity_refresh(struct vault *v)
{
	return v->identity ? identity_refresh(v->identity) : 0;
}

int
vault_identity(const struct vault *v, struct identity_state *st)
{
	if (v->identity == NULL)
		return -ENOENT;
	identity_state(v->identity, st);
	return 0;
}

const char *
vault_identity_pem(const struct vault *v)
{
	return v->identity ? identity_cert_pem(v->identity) : NULL;
}

void
vault_on_identity(struct vault *v, void (*cb)(void *arg), void *arg)
{
	v->identity_cb = cb;
	v->identity_arg = arg;
}

static void
start_attempt(struct vault_call *c)
{
	if (!slot_take(c))
		return;
	c->attempts++;
	c->v->attempts++;
	c->attempt_started = uv_now(c->v->loop);
	if (prepare(c) != 0) {
		finish(c, VAULT_ENOMEM, 0, "cannot set up the request (out of memory)");
		return;
	}
	if (http_add(c->v->http, c->easy, on_done, c) != 0)
		finish(c, VAULT_ENOMEM, 0, "cannot start the request");
}

int
vault_request(struct vault *v, const struct vault_req *req, vault_cb cb,
	      void *arg, struct vault_call **callp)
{
	struct vault_call *c;

	if (v->closing)
		return VAULT_ECANCELED;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return VAULT_ENOMEM;
	c->v = v;
	c->method = strdup(req->method);
	c->path = strdup(req->path);
	c->body = req->body ? strdup(req->body) : NULL;
	c->token = req->token ? strdup(req->token) : NULL;
	if (c->method == NULL || c->path == NULL || (req->body && !c->body) ||
	    (req->token && !c->token) || uv_timer_init(v->loop, &c->timer) != 0) {
		free(c->method);
		free(c->path);
		free(c->body);
		free(c->token);
		free(c);
		return VAULT_ENOMEM;
	}
	c->timer.data = c;
	c->flags = req->flags;
	c->max_attempts = req->max_attempts ? req->max_attempts : v->default_attempts;
	c->deadline = req->deadline;
	c->cb = cb;
	c->arg = arg;
	c->next = v->calls;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &v->calls;
	v->calls = c;
	v->pending_frees++;
	if (callp)
		*callp = c;
	/* Start from the loop, so the callback never fires inside this call. */
	if (uv_timer_start(&c->timer, on_retry_timer, 0, 0) != 0) {
		c->cb = NULL;
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		free(c->method);
		free(c->path);
		free(c->body);
		free(c->token);
		uv_close((uv_handle_t *)&c->timer, call_freed);
		return VAULT_ENOMEM;
	}
	return 0;
}

void
vault_cancel(struct vault_call *call)
{
	finish(call, VAULT_ECANCELED, 0, "cancelled");
}

void
vault_close(struct vault *v)
{
	v->closing = 1;
	while (v->calls)
		vault_cancel(v->calls);
	if (v->rate_timer_init) {
		v->rate_timer_init = 0;
		uv_timer_stop(&v->rate_timer);
		uv_close((uv_handle_t *)&v->rate_timer, rate_timer_closed);
		return;
	}
	if (v->pending_frees == 0) {
		free_addrs(v->addrs, v->naddrs);
		vault_set_token(v, NULL);
		identity_free(v->identity);
		free(v);
	}
}
