/*
 * Unit tests for deps.c, the store of Vault data templates read: a fake
 * Vault (minihttp.h) whose answers are built per request, so a re-read
 * can carry the same data under a fresh request_id, new data, or a new
 * lease.  The token comes from a token file through the real auth module.
 * Each test counts the store's change callbacks and the requests Vault
 * saw, and ends with every handle closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "deps.h"
#include "http.h"
#include "log.h"
#include "vault.h"
#include "minihttp.h"

#define P_LOOKUP "GET /v1/auth/token/lookup-self "
#define P_KV "GET /v1/kv/app "
#define P_GEN "POST /v1/kv/gen "
#define P_CREDS "GET /v1/database/creds/app "
#define P_RENEW "PUT /v1/sys/leases/renew "

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;	/* see RUN_UNTIL */
	struct mini_server srv;
	struct vault_opts vcfg;
	char *addrs[1];
	char addr[64];
	struct http *http;
	struct vault *vault;
	struct auth_opts acfg;
	struct auth *auth;
	struct deps_opts cfg;
	struct deps *deps;
	char dir[64];
	char token_file[128];
	int changes;		/* the store's change callbacks */

	/* The fake Vault's state. */
	int reqid;		/* every answer has a fresh request_id */
	int kv_version;		/* kv/app's data: {"user": "u<version>"} */
	int kv_status;
	int lease_n;		/* database/creds/app: a new lease each read */
	int lease_s;		/* its lease_duration */
	int renewable;
	int renew_s;		/* what a renewal grants */
	char body[4096];
	struct mini_resp resp;
};

static const struct mini_resp *
route(struct mini_server *srv, const char *req)
{
	struct fx *fx = srv->arg;

	fx->resp = (struct mini_resp){ 200, NULL, fx->body };
	fx->reqid++;
	if (strncmp(req, P_LOOKUP, strlen(P_LOOKUP)) == 0) {
		snprintf(fx->body, sizeof(fx->body),
			 "{\"data\":{\"ttl\":0,\"renewable\":false}}");
	} else if (strncmp(req, P_KV, strlen(P_KV)) == 0) {
		fx->resp.status = fx->kv_status;
		snprintf(fx->body, sizeof(fx->body),
			 fx->kv_status == 200
				 ? "{\"request_id\":\"r-%d\",\"lease_id\":\"\","
				   "\"lease_duration\":2764800,\"renewable\":false,"
				   "\"data\":{\"user\":\"u%d\"}}"
				 : "{\"errors\":[\"no secret at kv/app (%d %d)\"]}",
			 fx->reqid, fx->kv_version);
	} else if (strncmp(req, P_GEN, strlen(P_GEN)) == 0) {
		snprintf(fx->body, sizeof(fx->body),
			 "{\"request_id\":\"r-%d\",\"data\":{\"n\":1}}", fx->reqid);
	} else if (strncmp(req, P_CREDS, strlen(P_CREDS)) == 0) {
		fx->lease_n++;
		snprintf(fx->body, sizeof(fx->body),
			 "{\"request_id\":\"r-%d\",\"lease_id\":"
			 "\"database/creds/app/L%d\",\"lease_duration\":%d,"
			 "\"renewable\":%s,\"data\":{\"username\":\"user-%d\"}}",
			 fx->reqid, fx->lease_n, fx->lease_s,
			 fx->renewable ? "true" : "false", fx->lease_n);
	} else if (strncmp(req, P_RENEW, strlen(P_RENEW)) == 0) {
		snprintf(fx->body, sizeof(fx->body),
			 "{\"request_id\":\"r-%d\",\"lease_id\":"
			 "\"database/creds/app/L%d\",\"lease_duration\":%d,"
			 "\"renewable\":true}",
			 fx->reqid, fx->lease_n, fx->renew_s);
	} else {
		fx->resp.status = 404;
		snprintf(fx->body, sizeof(fx->body), "{\"errors\":[]}");
	}
	return &fx->resp;
}

static void
on_change(void *arg)
{
	struct fx *fx = arg;

	fx->changes++;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];
	int fd;

	assert_non_null(fx);
	log_setup(LOGL_ERROR, 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_deps.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	fd = open(fx->token_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hvs.deps-test", 13), 13);
	close(fd);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	mini_tick_start(&fx->loop, &fx->tick);
	assert_int_equal(mini_start(&fx->loop, &fx->srv), 0);
	fx->srv.route = route;
	fx->srv.arg = fx;
	fx->kv_version = 1;
	fx->kv_status = 200;
	snprintf(fx->addr, sizeof(fx->addr), "http://127.0.0.1:%d", fx->srv.port);
	fx->addrs[0] = fx->addr;
	fx->vcfg.addresses = fx->addrs;
	fx->vcfg.n_addresses = 1;
	fx->vcfg.timeout_ms = 5000;
	fx->vcfg.retry.min_ms = 10;
	fx->vcfg.retry.max_ms = 20;
	fx->vcfg.max_response_bytes = 1 << 20;
	assert_int_equal(http_new(&fx->loop, &fx->http, err, sizeof(err)), 0);
	assert_int_equal(vault_new(&fx->loop, fx->http, &fx->vcfg, &fx->vault, err,
				   sizeof(err)),
			 0);
	fx->acfg.method = AUTH_METHOD_TOKEN;
	fx->acfg.mount = "token";
	fx->acfg.token_file = fx->token_file;
	fx->acfg.retry.min_ms = 10;
	fx->acfg.retry.max_ms = 20;
	assert_int_equal(auth_new(&fx->loop, fx->vault, &fx->acfg, NULL, NULL, &fx->auth), 0);
	auth_start(fx->auth);	/* the file's token is in use at once */
	assert_non_null(auth_token(fx->auth));
	fx->cfg.refresh_ms = 3600 * 1000;
	fx->cfg.lease_renew_fraction = 0.5;
	fx->cfg.retry.min_ms = 10;
	fx->cfg.retry.max_ms = 20;
	assert_int_equal(deps_new(&fx->loop, fx->vault, fx->auth, &fx->cfg, on_change,
				  fx, &fx->deps),
			 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	deps_close(fx->deps);
	auth_close(fx->auth);
	vault_close(fx->vault);
	http_close(fx->http);
	mini_stop(&fx->srv);
	uv_close((uv_handle_t *)&fx->tick, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	mini_free(&fx->srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}


/* Requests whose request line starts with PREFIX. */
static int
count(const struct fx *fx, const char *prefix)
{
	int n = 0;

	for (int i = mini_find(&fx->srv, prefix, 0); i >= 0;
	     i = mini_find(&fx->srv, prefix, i + 1))
		n++;
	return n;
}

/* deps_get() with no arguments; the data's data.FIELD, or NULL. */
static const char *
get_field(struct fx *fx, const char *path, const char *field, int *rc)
{
	const cJSON *out = NULL;
	char err[256];

	*rc = deps_get(fx->deps, "secret", path, NULL, 0, &out, err, sizeof(err));
	if (*rc != 0)
		return NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "data"), field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static struct deps_item
item(const struct fx *fx, size_t i)
{
	struct deps_item it;

	assert_int_equal(deps_get_item(fx->deps, i, &it), 0);
	return it;
}

/* ------------------------------------------------------------------ */

static void
test_one_entry_per_distinct_call_shared_by_its_users(void **state)
{
	struct fx *fx = *state;
	const char *ab[] = { "a=1", "b=2" }, *ba[] = { "b=2", "a=1" }, *a[] = { "a=1" };
	const cJSON *x = NULL, *y = NULL, *z = NULL;
	char err[256];

	/* Two users of one call, arguments in either order: one entry. */
	assert_int_equal(deps_get(fx->deps, "secret", "kv/gen", ab, 2, &x, err,
				  sizeof(err)),
			 DEPS_PENDING);
	assert_int_equal(deps_get(fx->deps, "secret", "kv/gen", ba, 2, &y, err,
				  sizeof(err)),
			 DEPS_PENDING);
	assert_int_equal(deps_count(fx->deps), 1);
	/* Other arguments, another path, another kind: each its own. */
	deps_get(fx->deps, "secret", "kv/gen", a, 1, &z, err, sizeof(err));
	assert_int_equal(deps_count(fx->deps), 2);
	deps_get(fx->deps, "secret", "kv/app", NULL, 0, &z, err, sizeof(err));
	assert_int_equal(deps_count(fx->deps), 3);
	deps_get(fx->deps, "pkiCert", "kv/app", NULL, 0, &z, err, sizeof(err));
	assert_int_equal(deps_count(fx->deps), 4);
	assert_int_equal(deps_busy(fx->deps), 4);
	RUN_UNTIL(fx, deps_busy(fx->deps) == 0);

	/* One Vault call per entry: a write for arguments, else a read. */
	assert_int_equal(count(fx, P_GEN), 2);
	assert_int_equal(count(fx, P_KV), 2);
	assert_int_equal(deps_get(fx->deps, "secret", "kv/gen", ab, 2, &x, err,
				  sizeof(err)),
			 0);
	assert_int_equal(deps_get(fx->deps, "secret", "kv/gen", ba, 2, &y, err,
				  sizeof(err)),
			 0);
	assert_ptr_equal(x, y);
	assert_int_equal(deps_count(fx->deps), 4);
	/* The write carries the arguments as a JSON object. */
	int found = 0;
	for (int i = mini_find(&fx->srv, P_GEN, 0); i >= 0;
	     i = mini_find(&fx->srv, P_GEN, i + 1)) {
		cJSON *j = cJSON_Parse(mini_body(&fx->srv, i));
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "b");
		assert_non_null(j);
		if (cJSON_IsString(b)) {
			assert_string_equal(b->valuestring, "2");
			assert_string_equal(
				cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring, "1");
			found++;
		}
		cJSON_Delete(j);
	}
	assert_int_equal(found, 1);
}

static void
test_first_data_is_pending_then_calls_back_once(void **state)
{
	struct fx *fx = *state;
	int rc;

	assert_null(get_field(fx, "kv/app", "user", &rc));
	assert_int_equal(rc, DEPS_PENDING);
	assert_int_equal(deps_busy(fx->deps), 1);
	assert_int_equal(fx->changes, 0);	/* never from inside deps_get() */
	RUN_UNTIL(fx, fx->changes == 1);

	assert_string_equal(get_field(fx, "kv/app", "user", &rc), "u1");
	assert_int_equal(deps_busy(fx->deps), 0);
	assert_true(item(fx, 0).has_data);
	assert_int_equal(count(fx, P_KV), 1);
	assert_non_null(strstr(fx->srv.req[mini_find(&fx->srv, P_KV, 0)],
			       "X-Vault-Token: hvs.deps-test"));
}

static void
test_identical_refetch_does_not_mark_dependents_dirty(void **state)
{
	struct fx *fx = *state;
	int rc;

	fx->cfg.refresh_ms = 20;
	get_field(fx, "kv/app", "user", &rc);
	/* Each answer has a new request_id; the data is the same. */
	RUN_UNTIL(fx, count(fx, P_KV) >= 4 && fx->changes >= 1);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->changes, 1);
	assert_string_equal(get_field(fx, "kv/app", "user", &rc), "u1");
}

static void
test_changed_refetch_marks_dependents_dirty(void **state)
{
	struct fx *fx = *state;
	int rc;

	fx->cfg.refresh_ms = 20;
	get_field(fx, "kv/app", "user", &rc);
	RUN_UNTIL(fx, fx->changes == 1);
	fx->kv_version = 2;
	RUN_UNTIL(fx, fx->changes == 2);
	assert_string_equal(get_field(fx, "kv/app", "user", &rc), "u2");
	/* And it stays at two while the data stays the same. */
	int seen = count(fx, P_KV);
	RUN_UNTIL(fx, count(fx, P_KV) >= seen + 2);
	assert_int_equal(fx->changes, 2);
}

static void
test_failed_first_fetch_is_an_error_naming_the_call_then_recovers(void **state)
{
	struct fx *fx = *state;
	const cJSON *out = NULL;
	char err[256];
	int rc;

	fx->kv_status = 404;
	get_field(fx, "kv/app", "user", &rc);
	RUN_UNTIL(fx, fx->changes == 1);	/* waiting templates learn it */
	rc = deps_get(fx->deps, "secret", "kv/app", NULL, 0, &out, err, sizeof(err));
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(err, "secret kv/app"));
	assert_non_null(strstr(err, "404"));
	assert_int_equal(deps_busy(fx->deps), 0);
	assert_true(item(fx, 0).failures >= 1);
	assert_false(item(fx, 0).has_data);

	/* Retried with backoff; the first data calls back again. */
	fx->kv_status = 200;
	RUN_UNTIL(fx, fx->changes == 2);
	assert_string_equal(get_field(fx, "kv/app", "user", &rc), "u1");
	assert_int_equal(item(fx, 0).failures, 0);
	assert_string_equal(item(fx, 0).error, "");
}

static void
test_failure_after_data_keeps_the_data_and_calls_back_nothing(void **state)
{
	struct fx *fx = *state;
	int rc;

	fx->cfg.refresh_ms = 20;
	get_field(fx, "kv/app", "user", &rc);
	RUN_UNTIL(fx, fx->changes == 1);
	fx->kv_status = 404;
	RUN_UNTIL(fx, item(fx, 0).failures >= 2);
	assert_int_equal(fx->changes, 1);
	assert_string_equal(get_field(fx, "kv/app", "user", &rc), "u1");
	assert_non_null(strstr(item(fx, 0).error, "404"));
}

static void
test_lease_delay_is_the_threshold_jittered_down_10_percent(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		uint64_t d = deps_lease_delay(0.8, 100000);
		assert_in_range(d, 72000, 80000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 74000);
	assert_true(hi > 78000);
	assert_in_range(deps_lease_delay(0.5, 10000), 4500, 5000);
	assert_int_equal(deps_lease_delay(0.8, 0), 0);
}

static void
test_renewable_lease_is_renewed_at_threshold_without_a_change(void **state)
{
	struct fx *fx = *state;
	int rc, rd, rn;

	fx->lease_s = 2;
	fx->renewable = 1;
	fx->renew_s = 2;
	assert_null(get_field(fx, "database/creds/app", "username", &rc));
	RUN_UNTIL(fx, fx->changes == 1);
	int64_t first = item(fx, 0).lease_expire_ms;
	assert_true(first > 0);
	/* The renewal's answer moves the expiry on. */
	RUN_UNTIL(fx, item(fx, 0).lease_expire_ms > first);

	rd = mini_find(&fx->srv, P_CREDS, 0);
	rn = mini_find(&fx->srv, P_RENEW, 0);
	assert_true(rn > rd);
	/* Threshold 0.5 of 2 s, at most 10% earlier. */
	assert_true(fx->srv.req_time[rn] - fx->srv.req_time[rd] >= 900);
	cJSON *j = cJSON_Parse(mini_body(&fx->srv, rn));
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "lease_id")->valuestring,
			    "database/creds/app/L1");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "increment")->valueint, 2);
	cJSON_Delete(j);
	/* Same credentials: no re-read, no change for templates. */
	assert_int_equal(count(fx, P_CREDS), 1);
	assert_int_equal(fx->changes, 1);
	assert_string_equal(get_field(fx, "database/creds/app", "username", &rc),
			    "user-1");
}

static void
test_non_renewable_lease_is_read_again_at_threshold(void **state)
{
	struct fx *fx = *state;
	int rc, r1, r2;

	fx->lease_s = 1;
	fx->renewable = 0;
	get_field(fx, "database/creds/app", "username", &rc);
	RUN_UNTIL(fx, fx->changes == 2);

	r1 = mini_find(&fx->srv, P_CREDS, 0);
	r2 = mini_find(&fx->srv, P_CREDS, r1 + 1);
	assert_true(r2 > r1);
	assert_true(fx->srv.req_time[r2] - fx->srv.req_time[r1] >= 450);
	assert_int_equal(count(fx, P_RENEW), 0);
	assert_string_equal(get_field(fx, "database/creds/app", "username", &rc),
			    "user-2");
}

static void
test_renewal_capped_by_max_ttl_reads_new_credentials(void **state)
{
	struct fx *fx = *state;
	int rc;

	fx->lease_s = 2;
	fx->renewable = 1;
	fx->renew_s = 0;	/* the lease is at its max TTL: nothing granted */
	get_field(fx, "database/creds/app", "username", &rc);
	RUN_UNTIL(fx, fx->changes == 2);

	assert_int_equal(count(fx, P_RENEW), 1);
	assert_int_equal(count(fx, P_CREDS), 2);
	int r1 = mini_find(&fx->srv, P_CREDS, 0);
	int r2 = mini_find(&fx->srv, P_CREDS, r1 + 1);
	int rn = mini_find(&fx->srv, P_RENEW, 0);
	/* Read, renewal refused its increment, read again. */
	assert_true(r1 < rn && rn < r2);
	assert_string_equal(get_field(fx, "database/creds/app", "username", &rc),
			    "user-2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_entry_per_distinct_call_shared_by_its_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_data_is_pending_then_calls_back_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identical_refetch_does_not_mark_dependents_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_refetch_marks_dependents_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_first_fetch_is_an_error_naming_the_call_then_recovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_after_data_keeps_the_data_and_calls_back_nothing, setup, teardown),
		cmocka_unit_test(test_lease_delay_is_the_threshold_jittered_down_10_percent),
		cmocka_unit_test_setup_teardown(test_renewable_lease_is_renewed_at_threshold_without_a_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_renewable_lease_is_read_again_at_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_capped_by_max_ttl_reads_new_credentials, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("deps", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
