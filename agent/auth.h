/*
 * auth: log in to Vault and keep a token alive.
 *
 * DESIGN: the module holds at most one live token.  It logs in with the
 * configured method (approle, cert, or a token file), looks the token up,
 * renews it at about two thirds of its TTL with jitter, and logs in again
 * when the token is not renewable, nears its max TTL, or is rejected.  A
 * token is replaced only by a successful login and dropped only when it
 * has expired or Vault has rejected it, so an outage never costs a token
 * that still works.
 */
#ifndef CERTAGENT_AUTH_H
#define CERTAGENT_AUTH_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"

struct audit;
struct auth;
struct vault;

enum auth_method {
	AUTH_METHOD_APPROLE,
	AUTH_METHOD_CERT,
	AUTH_METHOD_TOKEN,
	AUTH_METHOD_KUBERNETES,	/* a service account token, reviewed by Vault */
	AUTH_METHOD_JWT,	/* a JWT / OIDC token, e.g. a SPIFFE JWT-SVID */
};

/* Where Kubernetes projects a pod's service account token. */
#define AUTH_KUBERNETES_TOKEN "/var/run/secrets/kubernetes.io/serviceaccount/token"

/* auth: in the configuration (borrowed), and what it takes from vault:. */
struct auth_opts {
	enum auth_method method;
	char *mount;			/* default: the method's name */
	char *role_id_file;		/* approle */
	char *secret_id_file;		/* approle */
	int remove_secret_id_file;	/* default true */
	char *cert_role;		/* cert: auth.name, optional */
	char *token_file;		/* token */
	char *role;			/* kubernetes, jwt: the role to log in as */
	char *token_path;		/* kubernetes, jwt: the JWT, read at each login */
	char *secret_id_wrapping_path;	/* approle: the secret-id file holds a
					 * wrapping token made at this path */
	int allow_insecure_file_mode;	/* accept group/world-readable creds */
	char *token_sink_path;		/* auth.token_sink.path, NULL if none */
	unsigned token_sink_mode;	/* auth.token_sink.mode; default 0600 */
	/* From vault: */
	const char *client_cert;	/* the cert method's identity */
	struct backoff_opts retry;
	struct audit *audit;		/* the agent's; may be NULL */
};

/* The token changed: a new one was adopted, or the old one was lost. */
typedef void (*auth_token_cb)(void *arg, const char *token);

int auth_new(uv_loop_t *loop, struct vault *vault, const struct auth_opts *o,
	     auth_token_cb cb, void *arg, struct auth **out);

/* Begin: log in (or read the token file) now. */
void auth_start(struct auth *a);

/*
 * Adopt a reloaded configuration (borrowed).  Only a change to the auth
 * settings themselves triggers a new login; the current token stays in
 * use until that login succeeds.
 */
void auth_configure(struct auth *a, const struct auth_opts *o);

/* The current token if it has not expired, else NULL. */
const char *auth_token(const struct auth *a);

/*
 * cert auth: a new client certificate is in use (renewed by the agent or
 * replaced by someone else): log in again with it, so no token outlives
 * the certificate that obtained it.  Other methods: nothing.
 */
void auth_identity_changed(struct auth *a);

/* Vault rejected TOKEN (403) on some other call: log in again. */
void auth_token_rejected(struct auth *a, const char *token);

/*
 * The wall clock stepped by STEP_MS.  A token's TTL is a duration Vault
 * counts on its own clock, and the monotonic timer already counts it
 * right: a step back moves the expiry with the clock and changes no
 * timer.  A step forward may be time that really passed (a suspend): a
 * token now past its expiry is dropped and a login starts; one still
 * valid has its renewal planned again from what is left of it.
 */
void auth_clock_stepped(struct auth *a, int64_t step_ms);

struct auth_stats {
	uint64_t logins, login_failures, renewals, renew_failures;
	int64_t expires_at_ms;	/* wall clock, 0 if none or never */
};
void auth_get_stats(const struct auth *a, struct auth_stats *st);

/*
 * Shutdown with revoke_on_shutdown: revoke the token (one round over the
 * addresses), then call DONE from the loop.  A token read from a file is
 * not the agent's to revoke and is left alone.  No renewal or login
 * follows.
 */
void auth_revoke(struct auth *a, void (*done)(void *arg), void *arg);

/* Cancel what is in flight; the memory is freed from the loop. */
void auth_close(struct auth *a);

/* When a token of TTL_MS is renewed (or replaced): uniform in [0.6, 0.7]
 * of it, so a fleet started together does not renew together. */
uint64_t auth_renew_delay(uint64_t ttl_ms);

/*
 * The parse steps of Vault's answers to auth (each a plain function of
 * the parsed body; test/fuzz/vault_json.c feeds them bytes).  TOKEN is
 * borrowed from JSON.
 */
struct auth_grant {
	const char *token;	/* NULL when absent or empty */
	uint64_t ttl_ms;	/* 0 when absent, not a number or negative */
	int renewable;
};

/* A login or renew-self: auth.client_token, .lease_duration, .renewable;
 * -ENOENT when there is no token. */
int auth_parse_auth(const cJSON *json, struct auth_grant *g);
/* lookup-self: data.ttl and data.renewable. */
void auth_parse_lookup(const cJSON *json, struct auth_grant *g);
/* The string data.KEY (sys/wrapping/lookup's creation_path,
 * sys/wrapping/unwrap's secret_id), or NULL. */
const char *auth_parse_data_string(const cJSON *json, const char *key);

#endif
