/*
 * vault: requests to the Vault / OpenBao HTTP API.
 *
 * DESIGN: a call is one logical request; the module turns it into as many
 * HTTP attempts as it takes: failing over between the configured
 * addresses in order, backing off with full jitter between rounds,
 * honouring Retry-After on 429 and 503, and following 307 redirects from
 * standby nodes.  Only answers that retrying cannot change (4xx other than
 * 412 and 429) and the caller's own limits end a call early.  Every
 * attempt presents the client certificate when one is configured.
 */
#ifndef CERTAGENT_VAULT_H
#define CERTAGENT_VAULT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "histo.h"

struct http;
struct vault;
struct vault_call;

enum vault_err {
	VAULT_OK = 0,
	VAULT_ETRANSPORT = -1,	/* no HTTP answer: connect, TLS, timeout */
	VAULT_EHTTP = -2,	/* an HTTP status other than 2xx */
	VAULT_EBODY = -3,	/* a 2xx whose body is not JSON, or too big */
	VAULT_ECANCELED = -4,	/* vault_cancel() or vault_close() */
	VAULT_ENOMEM = -5,
};

struct vault_response {
	int err;		/* enum vault_err */
	long status;		/* HTTP status of the last attempt, 0 if none */
	const cJSON *json;	/* parsed body, NULL if empty or VAULT_RAW */
	const char *body;	/* raw body, NUL-terminated */
	size_t body_len;
	const char *message;	/* one line on what failed, "" on success */
	const char *address;	/* the address that answered last */
};

/* Valid only during the call: copy what you keep. */
typedef void (*vault_cb)(void *arg, const struct vault_response *resp);

#define VAULT_NO_TOKEN 0x1	/* send no X-Vault-Token (logins) */
#define VAULT_RAW 0x2		/* the body is not JSON (ca/pem, crl/pem) */
#define VAULT_QUIET 0x4		/* the caller logs failures itself */
#define VAULT_FIRST 0x8		/* ahead of the queue (the token's own calls) */

struct vault_req {
	const char *method;	/* GET POST PUT DELETE LIST */
	const char *path;	/* below /v1/, e.g. "auth/approle/login" */
	const char *body;	/* JSON text or NULL */
	const char *token;	/* NULL: the client token (vault_set_token) */
	unsigned flags;
	unsigned max_attempts;	/* 0: until cancelled or past the deadline */
	uint64_t deadline;	/* uv_now() ms; no attempt starts after it. 0: none */
};

/* vault: in the configuration.  Borrowed: it must outlive its use. */
struct vault_opts {
	char **addresses;	/* tried in order */
	size_t n_addresses;
	char *ca_cert;		/* PEM bundle to verify the server */
	char *client_cert;	/* mTLS client certificate (PEM) and its key */
	char *client_key;
	char *tls_server_name;
	int tls_skip_verify;
	char *namespace;
	uint64_t timeout_ms;	/* per attempt */
	struct backoff_opts retry;	/* between rounds of attempts */
	uint64_t num_retries;	/* run --once: give up after this many */
	uint64_t max_response_bytes;
	uint64_t max_concurrent;	/* attempts on the wire at once; 0: 2 */
	uint64_t max_per_second;	/* attempts started a second; 0: no limit */
};

int vault_new(uv_loop_t *loop, struct http *http, const struct vault_opts *o,
	      struct vault **out, char *err, size_t errlen);

/*
 * Use O (borrowed; it must outlive its use) for calls started from now
 * on.  Fails, keeping the old settings, if an address cannot be parsed.
 */
int vault_configure(struct vault *v, const struct vault_opts *o, char *err,
		    size_t errlen);

/* The token used by calls that name none; NULL for none. Copied. */
void vault_set_token(struct vault *v, const char *token);

/*
 * Start a call.  If this returns an error, CB never fires; otherwise it
 * fires exactly once, cancellation included.  *CALLP (if given) is valid
 * until CB fires.
 */
int vault_request(struct vault *v, const struct vault_req *req, vault_cb cb,
		  void *arg, struct vault_call **callp);

/* Cancel a call: its callback fires before this returns, VAULT_ECANCELED. */
void vault_cancel(struct vault_call *call);

/* Cancel every call, then free the client once its handles are closed. */
void vault_close(struct vault *v);

/* Bound the calls that set no max_attempts (run --once); 0: unbounded. */
void vault_set_default_attempts(struct vault *v, unsigned n);

/*
 * The client certificate (vault.client_cert/key), which the client reads
 * into memory and presents as bytes (identity.h): where it stands (-ENOENT
 * if none is configured); look at the files now (1: a new pair was taken
 * into use); the certificate held (PEM) or NULL; and who hears of a new
 * pair (CB runs from inside a request's preparation: it must only record
 * or defer).
 */
struct identity_state;
int vault_identity(const struct vault *v, struct identity_state *st);
int vault_identity_refresh(struct vault *v);
const char *vault_identity_pem(const struct vault *v);
void vault_on_identity(struct vault *v, void (*cb)(void *arg), void *arg);

/* How many addresses there are: one round of attempts. */
size_t vault_address_count(const struct vault *v);

/* HTTP attempts, for /metrics: by path class and status. */
#define VAULT_STATS_MAX 32
struct vault_stats {
	struct histo latency;		/* of each attempt, in seconds */
	size_t n;
	struct {
		const char *class;	/* auth, sys, pki, secret */
		long status;		/* 0: no HTTP answer */
		uint64_t count;
	} by[VAULT_STATS_MAX];
	const char *address;		/* the address in use */
	int reachable;			/* the last attempt got an answer (no 5xx) */
	int64_t last_answer_ms;		/* wall clock, 0 if none yet */
};
void vault_get_stats(const struct vault *v, struct vault_stats *st);

/* Count of HTTP attempts made, for tests and metrics. */
uint64_t vault_attempts(const struct vault *v);

/* Vault's {"errors": [...]} joined with "; " into BUF; "" if none. */
void vault_errors_text(const cJSON *json, char *buf, size_t len);

/*
 * The string FIELD of a kv read's answer JSON, or NULL when it has none:
 * kv v1 answers data.FIELD; v2 wraps the secret in data.data, beside
 * data.metadata.  The read path tells them apart for the caller already
 * (secret/data/x is v2), but the answer's shape is what decides.
 */
const char *vault_kv_field(const cJSON *json, const char *field);

#endif
