/*
 * deps: the store of Vault data that templates use, certificates aside
 * (a template's issue call is a certificate of the engine, certs.h).
 *
 * DESIGN: every distinct Vault call (kind, path, sorted key=value
 * arguments) is one entry, shared by every template that makes it, so a
 * secret read twice is read once.  An entry owns its data, its refresh timer and its retry
 * backoff; a change to its data calls the store's change callback, and
 * identical data does not.  The store outlives configuration reloads, so
 * a SIGHUP re-renders from the data it has instead of calling Vault again.
 */
#ifndef CERTAGENT_DEPS_H
#define CERTAGENT_DEPS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"

struct auth;
struct deps;
struct vault;

/* The data is not there yet: its fetch is under way. */
#define DEPS_PENDING 1

typedef void (*deps_changed_cb)(void *arg);

/* template_config: and vault.retry, as deps use them. */
struct deps_opts {
	uint64_t refresh_ms;		/* static_secret_render_interval; 5m */
	double lease_renew_fraction;	/* lease_renewal_threshold; 0.8 */
	struct backoff_opts retry;
	int exit_on_retry_failure;	/* give up after num_retries; agent exits */
	uint64_t num_retries;		/* vault.num_retries, shared */
	uint64_t max_connections_per_host;	/* the HTTP client's; 0 no limit */
};

int deps_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	     const struct deps_opts *o, deps_changed_cb cb, void *arg,
	     struct deps **out);

/* Use O (borrowed) from now on. */
void deps_configure(struct deps *d, const struct deps_opts *o);

/*
 * The data of call (KIND, PATH, KV): 0 with *OUT (Vault's JSON envelope,
 * borrowed until the next change); DEPS_PENDING when it is being fetched
 * (the fetch starts now if it had not); or a negative error, with the
 * last failure in ERR, when fetching failed and there is no data yet.
 */
int deps_get(struct deps *d, const char *kind, const char *path,
	     const char *const *kv, size_t nkv, const cJSON **out, char *err,
	     size_t errlen);

/* A token is available: start the fetches that waited for one. */
void deps_token_ready(struct deps *d);

/* Calls with no data yet whose first fetch has not ended. */
size_t deps_busy(const struct deps *d);

/* The I-th call, for /metrics and status; -ENOENT past the last. */
struct deps_item {
	const char *kind, *path;
	int64_t lease_expire_ms;	/* wall clock; 0 when it holds no lease */
	unsigned failures;		/* in a row */
	const char *error;		/* the last failure, "" if none */
	int has_data;
};
int deps_get_item(const struct deps *d, size_t i, struct deps_item *it);

/*
 * template_config.exit_on_retry_failure: the number of calls that failed
 * more than num_retries times in a row with no data to keep serving.
 */
size_t deps_gave_up(const struct deps *d);

/* Number of distinct calls, for tests and metrics. */
size_t deps_count(const struct deps *d);

void deps_close(struct deps *d);

/* When a lease of DUR_MS is renewed, or replaced: at FRACTION of it
 * (lease_renewal_threshold), jittered up to 10% earlier. */
uint64_t deps_lease_delay(double fraction, uint64_t dur_ms);

/*
 * The parse steps of Vault's answers (plain functions of the parsed body;
 * test/fuzz/vault_json.c feeds them bytes).  The data itself goes to the
 * templates as it came.
 */
struct deps_lease {
	const char *id;		/* lease_id, borrowed; NULL when none */
	uint64_t ms;		/* lease_duration in ms; 0 without a lease */
	int renewable;
};

/* A read's envelope (kv v1/v2, database/creds, ...). */
void deps_parse_lease(const cJSON *env, struct deps_lease *l);
/* lease_duration in ms (0 when absent or not positive): a read's, or
 * sys/leases/renew's answer. */
uint64_t deps_parse_duration(const cJSON *json);

/*
 * The path a kv read (LIST with LIST set) of PATH is sent as, given the
 * mount MOUNT ("secret/") serving it and whether that mount is kv v2:
 * consul-template's shimKVv2Path / shimKvV2ListPath.  Malloc'd; NULL when
 * out of memory.
 */
char *deps_kv2_path(const char *path, const char *mount, int v2, int list);

#endif
