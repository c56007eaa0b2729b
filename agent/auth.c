/*
 * auth: log in to Vault and keep a token alive.
 *
 * DESIGN / invariants:
 *  - One timer and at most one Vault call in flight.  The timer's action
 *    says what happens when it fires: log in, renew, or drop an expired
 *    token while a login is still being retried.
 *  - Expiry is judged on the wall clock (expires_at_ms), so a suspended
 *    machine or a stepped clock never makes an expired token look valid.
 *  - The token is replaced only after a login succeeds; a failed or
 *    retrying login leaves the old token in use until it expires.  A 403
 *    on renew-self means Vault no longer accepts the token: it is dropped.
 *  - A secret-id is read once per login from its file, removed from disk
 *    if so configured, and kept in memory so a later re-login (after the
 *    file is gone) still works; a new file replaces it.
 *  - Tokens and secret-ids never reach a log line; both are registered
 *    with the logger's redaction as a second defence and scrubbed from
 *    memory when dropped.
 */
#include "auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "backoff.h"
#include "buf.h"
#include "files.h"
#include "identity.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"

#define CRED_MAX 16384

enum action { ACT_NONE, ACT_LOGIN, ACT_RENEW, ACT_EXPIRE };

struct auth {
	uv_loop_t *loop;
	struct vault *vault;
	const struct auth_opts *cfg;
	auth_token_cb cb;
	void *cb_arg;

	uv_timer_t timer;
	enum action action;
	struct vault_call *call;

	char *token;
	int64_t expires_at_ms;	/* wall clock; 0 = does not expire */
	uint64_t granted_ms;	/* TTL granted by the last login or renewal */
	int renewable;
	char *secret_id;	/* approle: last secret-id read */
	char *wrapped;		/* approle: the wrapping token it came from */
	char *unwrapping;	/* approle: the wrapping token being unwrapped */
	unsigned failures;	/* consecutive failed logins, for backoff */
	struct auth_stats stats;
	void (*revoke_done)(void *arg);	/* auth_revoke() in progress */
	void *revoke_arg;
};

static void login(struct auth *a);
static void on_timer(uv_timer_t *t);

/* auth_revoke() with nothing to revoke: DONE from the loop. */
static void
on_revoke_skipped(uv_timer_t *t)
{
	struct auth *a = t->data;
	void (*done)(void *) = a->revoke_done;

	a->revoke_done = NULL;
	if (done)
		done(a->revoke_arg);
}

static const char *
method_name(enum auth_method m)
{
	switch (m) {
	case AUTH_METHOD_APPROLE:
		return "approle";
	case AUTH_METHOD_CERT:
		return "cert";
	case AUTH_METHOD_TOKEN:
		return "token";
	case AUTH_METHOD_KUBERNETES:
		return "kubernetes";
	case AUTH_METHOD_JWT:
		return "jwt";
	}
	return "?";
}

static void
drop_secret(char **s)
{
	secret_free(*s);
	*s = NULL;
}

static void
schedule(struct auth *a, enum action act, uint64_t delay_ms)
{
	a->action = act;
	uv_timer_start(&a->timer, on_timer, delay_ms, 0);
}

/* About two thirds of TTL, jittered over [0.6, 0.7] of it. */
uint64_t
auth_renew_delay(uint64_t ttl_ms)
{
	return backoff_uniform(ttl_ms * 6 / 10, ttl_ms * 7 / 10);
}

static void
drop_token(struct auth *a, const char *why)
{
	if (a->token == NULL)
		return;
	log_warn("auth", "dropping the Vault token: %s", why);
	drop_secret(&a->token);
	a->expires_at_ms = 0;
	a->stats.expires_at_ms = 0;
	vault_set_token(a->vault, NULL);
	if (a->cb)
		a->cb(a->cb_arg, NULL);
}

static void
write_sink(struct auth *a)
{
	const struct auth_opts *cfg = a->cfg;
	char err[512];
	int rc;

	if (cfg->token_sink_path == NULL || a->token == NULL)
		return;
	rc = files_write_atomic(cfg->token_sink_path, a->token, strlen(a->token),
				cfg->token_sink_mode, (uid_t)-1, (gid_t)-1, err,
				sizeof(err));
	if (rc < 0)
		log_error("auth", "token sink: %s", err);
	else if (rc == FILES_WRITTEN)
		log_info("auth", "token written to %s", cfg->token_sink_path);
}

/* Plan the next step for a token with TTL_MS left. */
static void
plan(struct auth *a, uint64_t ttl_ms)
{
	if (ttl_ms == 0) {
		log_info("auth", "token does not expire; no renewal scheduled");
		a->action = ACT_NONE;
		uv_timer_stop(&a->timer);
		return;
	}
	uint64_t delay = auth_renew_delay(ttl_ms);
	if (a->renewable) {
		log_info("auth", "token valid for %llus; renewing in %.1fs",
			 (unsigned long long)(ttl_ms / 1000), (double)delay / 1000);
		schedule(a, ACT_RENEW, delay);
	} else {
		log_info("auth", "token valid for %llus and not renewable; "
				 "logging in again in %.1fs",
			 (unsigned long long)(ttl_ms / 1000), (double)delay / 1000);
		schedule(a, ACT_LOGIN, delay);
	}
}

/* Make TOKEN current, with the TTL the login reported. */
static void
adopt(struct auth *a, const char *token, uint64_t ttl_ms, int renewable)
{
	char *copy = strdup(token);

	if (copy == NULL) {
		log_error("auth", "out of memory keeping the token");
		return;
	}
	log_redact_add(token);
	if (a->token)
		drop_secret(&a->token);
	a->token = copy;
	a->granted_ms = ttl_ms;
	a->renewable = renewable;
	a->expires_at_ms = ttl_ms ? wall_ms() + (int64_t)ttl_ms : 0;
	a->stats.expires_at_ms = a->expires_at_ms;
	vault_set_token(a->vault, a->token);
	write_sink(a);
	if (a->cb)
		a->cb(a->cb_arg, a->token);
}

static void
login_failed(struct auth *a, const char *why)
{
	uint64_t delay = backoff_delay(a->cfg->retry.min_ms,
				       a->cfg->retry.max_ms, a->failures);

	a->failures++;
	a->stats.login_failures++;
	audit_token(a->cfg->audit, "login", method_name(a->cfg->method), 0, why);
	log_error("auth", "login with %s at auth/%s failed: %s; next try in %.1fs",
		  method_name(a->cfg->method), a->cfg->mount, why,
		  (double)delay / 1000);
	schedule(a, ACT_LOGIN, delay);
	/* Without a token, the owner learns of every failed login. */
	if (auth_token(a) == NULL && a->cb)
		a->cb(a->cb_arg, NULL);
}

/*
 * A TTL in seconds as ms.  Past AUTH_TTL_MAX_S it is capped: a double
 * that large does not fit the integer (converting it would be undefined),
 * and nothing is renewed that far out anyway.
 */
#define AUTH_TTL_MAX_S (100.0 * 365 * 86400)

static uint64_t
json_seconds(const cJSON *obj, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble > 0))
		return 0;
	if (n->valuedouble > AUTH_TTL_MAX_S)
		return (uint64_t)AUTH_TTL_MAX_S * 1000;
	return (uint64_t)n->valuedouble * 1000;
}

/*
 * The parse steps of Vault's answers, apart from what the handlers do
 * with them, so that test/fuzz/ reaches them with bytes it does not
 * control.  auth.h has the contracts.
 */
int
auth_parse_auth(const cJSON *json, struct auth_grant *g)
{
	const cJSON *auth = cJSON_GetObjectItemCaseSensitive(json, "auth");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(auth, "client_token");

	g->token = cJSON_IsString(tok) && tok->valuestring[0] != '\0'
			   ? tok->valuestring : NULL;
	g->ttl_ms = json_seconds(auth, "lease_duration");
	g->renewable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(auth,
								     "renewable"));
	return g->token ? 0 : -ENOENT;
}

void
auth_parse_lookup(const cJSON *json, struct auth_grant *g)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(json, "data");

	g->token = NULL;
	g->ttl_ms = json_seconds(data, "ttl");
	g->renewable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data,
								     "renewable"));
}

const char *
auth_parse_data_string(const cJSON *json, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(json, "data"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
on_lookup(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	struct auth_grant g;

	a->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK) {
		if (r->err == VAULT_EHTTP && (r->status == 403 || r->status == 401)) {
			drop_token(a, "Vault rejected it on lookup-self");
			login_failed(a, r->message);
			return;
		}
		if (a->cfg->method == AUTH_METHOD_TOKEN) {
			/* Without a lookup the file's token has no known TTL:
			 * keep it in use and look again after a backoff. */
			login_failed(a, r->message);
			return;
		}
		/* Vault unreachable after the login worked: keep the login's
		 * own figures. */
		log_warn("auth", "token lookup failed: %s; using the login's TTL",
			 r->message);
		a->failures = 0;
		plan(a, a->granted_ms);
		return;
	}
	auth_parse_lookup(r->json, &g);
	uint64_t ttl = g.ttl_ms;
	a->renewable = g.renewable;
	a->expires_at_ms = ttl ? wall_ms() + (int64_t)ttl : 0;
	a->stats.expires_at_ms = a->expires_at_ms;
	if (a->cfg->method == AUTH_METHOD_TOKEN) {
		/* The file's token was not ours to renew until now. */
		a->granted_ms = ttl;
		a->stats.logins++;
	}
	a->failures = 0;
	plan(a, ttl);
}

static void
lookup(struct auth *a)
{
	struct vault_req req = {
		.method = "GET",
		.path = "auth/token/lookup-self",
		.token = a->token,
		.flags = VAULT_QUIET | VAULT_FIRST,
		.max_attempts = 3,
	};

	if (vault_request(a->vault, &req, on_lookup, a, &a->call) != 0) {
		a->call = NULL;
		plan(a, a->granted_ms);
	}
}

static void
on_login(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	struct auth_grant g;

	a->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK) {
		login_failed(a, r->message);
		return;
	}
	if (auth_parse_auth(r->json, &g) != 0) {
		login_failed(a, "the response has no auth.client_token");
		return;
	}
	uint64_t ttl = g.ttl_ms;
	int renewable = g.renewable;
	adopt(a, g.token, ttl, renewable);
	a->stats.logins++;
	audit_token(a->cfg->audit, "login", method_name(a->cfg->method),
		    ttl ? wall_ms() + (int64_t)ttl : 0, NULL);
	log_info("auth", "logged in with %s at auth/%s (ttl %llus, %s)",
		 method_name(a->cfg->method), a->cfg->mount,
		 (unsigned long long)(ttl / 1000),
		 renewable ? "renewable" : "not renewable");
	lookup(a);
}

/* Read the approle secret-id: the file when present, else the cached one. */
static int
approle_secret_id(struct auth *a, char *err, size_t errlen)
{
	const struct auth_opts *cfg = a->cfg;
	char *sid = NULL;
	int rc;

	if (cfg->secret_id_wrapping_path) {
		if (a->secret_id)
			return 0;	/* unwrapped by login() */
		snprintf(err, errlen, "no secret-id unwrapped yet");
		return -ENOENT;
	}

	rc = files_read_secret(cfg->secret_id_file, CRED_MAX,
			       cfg->allow_insecure_file_mode, &sid, err, errlen);
	if (rc == -ENOENT && a->secret_id) {
		log_debug("auth", "%s is gone; using the secret-id read before",
			  cfg->secret_id_file);
		return 0;
	}
	if (rc != 0)
		return rc;
	log_redact_add(sid);
	if (a->secret_id)
		drop_secret(&a->secret_id);
	a->secret_id = sid;
	if (cfg->remove_secret_id_file) {
		if (unlink(cfg->secret_id_file) != 0)
			log_warn("auth", "cannot remove %s after reading it: %s",
				 cfg->secret_id_file, strerror(errno));
		else
			log_info("auth", "removed %s after reading it",
				 cfg->secret_id_file);
	}
	return 0;
}

static char *
login_body(struct auth *a, char *err, size_t errlen)
{
	const struct auth_opts *cfg = a->cfg;
	cJSON *o = cJSON_CreateObject();
	char *role_id = NULL, *body = NULL;

	if (o == NULL)
		goto oom;
	if (cfg->method == AUTH_METHOD_APPROLE) {
		/* A role-id is an identifier, not a secret: no mode check. */
		if (files_read_secret(cfg->role_id_file, CRED_MAX, 1, &role_id,
				      err, errlen) != 0)
			goto out;
		if (approle_secret_id(a, err, errlen) != 0)
			goto out;
		if (!cJSON_AddStringToObject(o, "role_id", role_id) ||
		    !cJSON_AddStringToObject(o, "secret_id", a->secret_id))
			goto oom;
	} else if (cfg->method == AUTH_METHOD_CERT && cfg->cert_role) {
		if (!cJSON_AddStringToObject(o, "name", cfg->cert_role))
			goto oom;
	} else if (cfg->method == AUTH_METHOD_KUBERNETES ||
		   cfg->method == AUTH_METHOD_JWT) {
		/* Read afresh at every login: kubelet rotates a projected
		 * token (a ..data link swap) and it expires within the hour.
		 * Its mode is the pod's to choose (0644 by default). */
		char *jwt = NULL;
		if (files_read_secret(cfg->token_path, CRED_MAX, 1, &jwt, err,
				      errlen) != 0)
			goto out;
		int ok = cJSON_AddStringToObject(o, "role", cfg->role) &&
			 cJSON_AddStringToObject(o, "jwt", jwt);
		secret_free(jwt);
		if (!ok)
			goto oom;
	}
	body = cJSON_PrintUnformatted(o);
	if (body == NULL)
		goto oom;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	secret_free(role_id);
	if (o) {
		/* cJSON holds copies of the secret-id or the JWT. */
		secret_json_free(o);
	}
	return body;
}

static void
login_with_token_file(struct auth *a)
{
	char err[512], *tok = NULL;

	if (files_read_secret(a->cfg->token_file, CRED_MAX,
			      a->cfg->allow_insecure_file_mode, &tok, err,
			      sizeof(err)) != 0) {
		login_failed(a, err);
		return;
	}
	log_redact_add(tok);
	if (a->token == NULL || strcmp(a->token, tok) != 0) {
		adopt(a, tok, 0, 0);
		log_info("auth", "using the token from %s", a->cfg->token_file);
		audit_token(a->cfg->audit, "login", "token", 0, NULL);
	}
	secret_free(tok);
	lookup(a);
}

/*
 * approle with secret_id_response_wrapping_path: the secret-id file holds
 * a response-wrapping token.  As Vault Agent does: look it up, refuse it
 * unless it was made where it should have been (else someone else made
 * it, and may have read what it wraps), unwrap it once, keep the secret-id
 * in memory.  A token used already, expired or made up fails the lookup.
 */
static void unwrap_failed(struct auth *a, const char *why);

static void
on_unwrap(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	const char *sid;

	a->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK) {
		unwrap_failed(a, r->message);
		return;
	}
	sid = auth_parse_data_string(r->json, "secret_id");
	if (sid == NULL || sid[0] == '\0') {
		unwrap_failed(a, "the wrapped answer has no secret_id");
		return;
	}
	log_redact_add(sid);
	drop_secret(&a->secret_id);
	a->secret_id = strdup(sid);
	drop_secret(&a->wrapped);
	a->wrapped = a->unwrapping;
	a->unwrapping = NULL;
	if (a->secret_id == NULL) {
		unwrap_failed(a, "out of memory");
		return;
	}
	log_info("auth", "unwrapped the secret-id from %s", a->cfg->secret_id_file);
	if (a->cfg->remove_secret_id_file) {
		if (unlink(a->cfg->secret_id_file) != 0)
			log_warn("auth", "cannot remove %s after reading it: %s",
				 a->cfg->secret_id_file, strerror(errno));
		else
			log_info("auth", "removed %s after reading it",
				 a->cfg->secret_id_file);
	}
	login(a);
}

static void
on_wrap_lookup(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	const char *cp;
	char why[768];

	a->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK) {
		unwrap_failed(a, r->message);
		return;
	}
	cp = auth_parse_data_string(r->json, "creation_path");
	if (cp == NULL || strcmp(cp, a->cfg->secret_id_wrapping_path) != 0) {
		snprintf(why, sizeof(why), "it was made at %s, not at %s: refusing "
			 "it (it may have been read by whoever made it)",
			 cp ? cp : "(unknown)",
			 a->cfg->secret_id_wrapping_path);
		unwrap_failed(a, why);
		return;
	}
	struct vault_req req = {
		.method = "POST",
		.path = "sys/wrapping/unwrap",
		.token = a->unwrapping,
		.flags = VAULT_QUIET | VAULT_FIRST,
		.max_attempts = (unsigned)vault_address_count(a->vault),
	};
	if (vault_request(a->vault, &req, on_unwrap, a, &a->call) != 0) {
		a->call = NULL;
		unwrap_failed(a, "cannot start the request");
	}
}

static void
unwrap_failed(struct auth *a, const char *why)
{
	char msg[1024];

	drop_secret(&a->unwrapping);
	snprintf(msg, sizeof(msg), "the wrapping token in %s cannot be used (a "
		 "wrapping token works once: used already, expired, or not one): "
		 "%s", a->cfg->secret_id_file, why);
	login_failed(a, msg);
}

/* 1 when the secret-id is at hand; 0 when an unwrap has started (login()
 * follows it); -1 when the login failed. */
static int
unwrap_secret_id(struct auth *a)
{
	const struct auth_opts *cfg = a->cfg;
	char err[512], *wt = NULL, *body = NULL;
	int rc;

	rc = files_read_secret(cfg->secret_id_file, CRED_MAX,
			       cfg->allow_insecure_file_mode, &wt, err, sizeof(err));
	if (rc == -ENOENT && a->secret_id)
		return 1;	/* unwrapped before, file removed */
	if (rc != 0) {
		login_failed(a, err);
		return -1;
	}
	if (a->wrapped && a->secret_id && strcmp(wt, a->wrapped) == 0) {
		secret_free(wt);
		return 1;	/* this one was unwrapped already */
	}
	log_redact_add(wt);
	drop_secret(&a->unwrapping);
	a->unwrapping = wt;
	cJSON *o = cJSON_CreateObject();
	if (o && cJSON_AddStringToObject(o, "token", wt))
		body = cJSON_PrintUnformatted(o);
	secret_json_free(o);
	struct vault_req req = {
		.method = "POST",
		.path = "sys/wrapping/lookup",
		.body = body,
		.flags = VAULT_NO_TOKEN | VAULT_QUIET | VAULT_FIRST,
		.max_attempts = (unsigned)vault_address_count(a->vault),
	};
	rc = body ? vault_request(a->vault, &req, on_wrap_lookup, a, &a->call) : -1;
	secret_free(body);
	if (rc != 0) {
		a->call = NULL;
		unwrap_failed(a, "cannot start the request");
		return -1;
	}
	return 0;
}

static void
login(struct auth *a)
{
	const struct auth_opts *cfg = a->cfg;
	char err[512], path[512];
	char *body;

	if (a->call)
		vault_cancel(a->call);
	if (cfg->method == AUTH_METHOD_TOKEN) {
		login_with_token_file(a);
		return;
	}
	if (cfg->method == AUTH_METHOD_APPROLE && cfg->secret_id_wrapping_path &&
	    unwrap_secret_id(a) != 1)
		return;
	if (cfg->method == AUTH_METHOD_CERT) {
		/* Say why here, not with Vault's generic 400 for a login
		 * without a certificate. */
		struct identity_state st;

		vault_identity_refresh(a->vault);
		if (vault_identity(a->vault, &st) == 0 && !st.usable) {
			login_failed(a, st.error[0] ? st.error
					: "no usable client certificate");
			return;
		}
	}
	body = login_body(a, err, sizeof(err));
	if (body == NULL) {
		login_failed(a, err);
		return;
	}
	snprintf(path, sizeof(path), "auth/%s/login", cfg->mount);
	struct vault_req req = {
		.method = "POST",
		.path = path,
		.body = body,
		.flags = VAULT_NO_TOKEN | VAULT_QUIET | VAULT_FIRST,
	};
	int rc = vault_request(a->vault, &req, on_login, a, &a->call);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (rc != 0) {
		a->call = NULL;
		login_failed(a, "cannot start the request");
		return;
	}
	/* While the login is retried through an outage, the old token stays
	 * in use, but not past its expiry. */
	if (a->token && a->expires_at_ms) {
		int64_t left = a->expires_at_ms - wall_ms();
		schedule(a, ACT_EXPIRE, left > 0 ? (uint64_t)left : 0);
	} else {
		a->action = ACT_NONE;
		uv_timer_stop(&a->timer);
	}
}

static void
on_renew(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	struct auth_grant g;

	a->call = NULL;
	if (r->err == VAULT_ECANCELED)
		return;
	if (r->err != VAULT_OK) {
		a->stats.renew_failures++;
		audit_token(a->cfg->audit, "token_renewal",
			    method_name(a->cfg->method), 0, r->message);
		if (r->err == VAULT_EHTTP && (r->status == 403 || r->status == 401)) {
			log_warn("auth", "renew-self: %s", r->message);
			drop_token(a, "Vault rejected it (revoked or expired)");
		} else {
			log_warn("auth", "renew-self failed: %s; logging in again",
				 r->message);
			if (a->expires_at_ms && wall_ms() >= a->expires_at_ms)
				drop_token(a, "it expired");
		}
		login(a);
		return;
	}
	auth_parse_auth(r->json, &g);	/* renew-self may omit the token */
	uint64_t ttl = g.ttl_ms;
	a->renewable = g.renewable;
	a->expires_at_ms = ttl ? wall_ms() + (int64_t)ttl : 0;
	a->stats.expires_at_ms = a->expires_at_ms;
	a->stats.renewals++;
	audit_token(a->cfg->audit, "token_renewal", method_name(a->cfg->method),
		    a->expires_at_ms, NULL);
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(r->json, "warnings"))
	{
		if (cJSON_IsString(w))
			log_info("auth", "renew-self: Vault says: %s", w->valuestring);
	}
	/* A TTL shorter than the last one granted means the max TTL caps it:
	 * renewing again cannot help; log in before it runs out. */
	if (ttl < a->granted_ms && a->cfg->method != AUTH_METHOD_TOKEN) {
		uint64_t delay = auth_renew_delay(ttl);
		log_info("auth", "token renewed to %llus, capped by its max TTL; "
				 "logging in again in %.1fs",
			 (unsigned long long)(ttl / 1000), (double)delay / 1000);
		schedule(a, ACT_LOGIN, delay);
		return;
	}
	a->granted_ms = ttl;
	log_info("auth", "token renewed");
	plan(a, ttl);
}

static void
renew(struct auth *a)
{
	int64_t left = a->expires_at_ms ? a->expires_at_ms - wall_ms() : 0;
	struct vault_req req = {
		.method = "POST",
		.path = "auth/token/renew-self",
		.body = "{}",
		.token = a->token,
		.flags = VAULT_QUIET | VAULT_FIRST,
		/* Retry through an outage, but not past the token's expiry. */
		.deadline = left > 0 ? uv_now(a->loop) + (uint64_t)left : 0,
	};

	if (a->token == NULL || (a->expires_at_ms && left <= 0)) {
		drop_token(a, "it expired before it could be renewed");
		login(a);
		return;
	}
	if (vault_request(a->vault, &req, on_renew, a, &a->call) != 0) {
		a->call = NULL;
		login(a);
	}
}

static void
on_timer(uv_timer_t *t)
{
	struct auth *a = t->data;
	enum action act = a->action;

	a->action = ACT_NONE;
	switch (act) {
	case ACT_LOGIN:
		login(a);
		break;
	case ACT_RENEW:
		renew(a);
		break;
	case ACT_EXPIRE:
		/* The login is still retrying; the old token is now useless. */
		if (a->expires_at_ms && wall_ms() >= a->expires_at_ms)
			drop_token(a, "it expired while Vault could not be reached");
		else if (a->expires_at_ms)
			schedule(a, ACT_EXPIRE,
				 (uint64_t)(a->expires_at_ms - wall_ms()));
		break;
	case ACT_NONE:
		break;
	}
}

int
auth_new(uv_loop_t *loop, struct vault *vault, const struct auth_opts *cfg,
	 auth_token_cb cb, void *arg, struct auth **out)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	if (uv_timer_init(loop, &a->timer) != 0) {
		free(a);
		return -ENOMEM;
	}
	a->timer.data = a;
	a->loop = loop;
	a->vault = vault;
	a->cfg = cfg;
	a->cb = cb;
	a->cb_arg = arg;
	*out = a;
	return 0;
}

void
auth_start(struct auth *a)
{
	login(a);
}

static int
str_differs(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return x != y;
	return strcmp(x, y) != 0;
}

void
auth_identity_changed(struct auth *a)
{
	if (a->cfg->method != AUTH_METHOD_CERT || a->revoke_done)
		return;
	log_info("auth", "a new client certificate is in use: logging in again "
			 "with it (the current token stays in use until then)");
	login(a);
}

void
auth_configure(struct auth *a, const struct auth_opts *cfg)
{
	const struct auth_opts *old = a->cfg;
	int changed = old->method != cfg->method ||
		      str_differs(old->mount, cfg->mount) ||
		      str_differs(old->role_id_file, cfg->role_id_file) ||
		      str_differs(old->secret_id_file, cfg->secret_id_file) ||
		      str_differs(old->cert_role, cfg->cert_role) ||
		      str_differs(old->token_file, cfg->token_file) ||
		      str_differs(old->role, cfg->role) ||
		      str_differs(old->token_path, cfg->token_path) ||
		      str_differs(old->secret_id_wrapping_path,
				  cfg->secret_id_wrapping_path) ||
		      str_differs(old->client_cert, cfg->client_cert);
	int sink_changed = str_differs(old->token_sink_path, cfg->token_sink_path) ||
			   old->token_sink_mode != cfg->token_sink_mode;

	a->cfg = cfg;
	if (sink_changed)
		write_sink(a);
	if (changed) {
		log_info("auth", "auth settings changed; logging in again "
				 "(the current token stays in use until then)");
		login(a);
	}
}

void
auth_clock_stepped(struct auth *a, int64_t step_ms)
{
	int64_t left;

	if (a->token == NULL || !a->expires_at_ms)
		return;
	if (step_ms < 0) {
		a->expires_at_ms += step_ms;
		a->stats.expires_at_ms = a->expires_at_ms;
		return;
	}
	if (a->call != NULL || a->action == ACT_NONE)
		return;
	left = a->expires_at_ms - wall_ms();
	if (left <= 0) {
		drop_token(a, "it expired (the wall clock stepped past it)");
		login(a);
		return;
	}
	if (a->action == ACT_EXPIRE)
		schedule(a, ACT_EXPIRE, (uint64_t)left);
	else if (a->failures == 0)	/* not while a login retries */
		plan(a, (uint64_t)left);
}

const char *
auth_token(const struct auth *a)
{
	if (a->token == NULL)
		return NULL;
	if (a->expires_at_ms && wall_ms() >= a->expires_at_ms)
		return NULL;
	return a->token;
}

void
auth_token_rejected(struct auth *a, const char *token)
{
	if (a->token == NULL || token == NULL || strcmp(a->token, token) != 0)
		return;
	drop_token(a, "Vault rejected it");
	login(a);
}

void
auth_get_stats(const struct auth *a, struct auth_stats *st)
{
	*st = a->stats;
}

static void
on_revoked(void *arg, const struct vault_response *r)
{
	struct auth *a = arg;
	void (*done)(void *) = a->revoke_done;

	a->call = NULL;
	a->revoke_done = NULL;
	if (r->err == VAULT_OK)
		log_info("auth", "revoked the Vault token");
	else if (r->err != VAULT_ECANCELED)
		log_error("auth", "revoking the Vault token failed: %s", r->message);
	if (r->err != VAULT_ECANCELED)
		audit_revocation(a->cfg->audit, NULL, NULL, "auth/token",
				 r->err == VAULT_OK ? NULL : r->message);
	drop_secret(&a->token);
	vault_set_token(a->vault, NULL);
	if (done)
		done(a->revoke_arg);
}

void
auth_revoke(struct auth *a, void (*done)(void *arg), void *arg)
{
	uv_timer_stop(&a->timer);
	a->action = ACT_NONE;
	if (a->call)
		vault_cancel(a->call);
	if (a->cfg->method == AUTH_METHOD_TOKEN || auth_token(a) == NULL) {
		if (a->cfg->method == AUTH_METHOD_TOKEN && a->token)
			log_info("auth", "not revoking the token from %s: it is not "
					 "the agent's own", a->cfg->token_file);
		a->revoke_done = done;
		a->revoke_arg = arg;
		uv_timer_start(&a->timer, on_revoke_skipped, 0, 0);
		return;
	}
	struct vault_req req = {
		.method = "POST",
		.path = "auth/token/revoke-self",
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)vault_address_count(a->vault),
	};
	a->revoke_done = done;
	a->revoke_arg = arg;
	if (vault_request(a->vault, &req, on_revoked, a, &a->call) != 0) {
		a->call = NULL;
		uv_timer_start(&a->timer, on_revoke_skipped, 0, 0);
	}
}

static void
on_closed(uv_handle_t *h)
{
	struct auth *a = h->data;

	drop_secret(&a->token);
	drop_secret(&a->secret_id);
	drop_secret(&a->wrapped);
	drop_secret(&a->unwrapping);
	free(a);
}

void
auth_close(struct auth *a)
{
	if (a->call)
		vault_cancel(a->call);
	a->call = NULL;
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, on_closed);
}
