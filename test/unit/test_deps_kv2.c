/*
 * Unit tests for deps.c's kv v2 paths: consul-template's path shims
 * (deps_kv2_path), and the store asking sys/internal/ui/mounts/<path>
 * once per mount before it reads, against a fake Vault (minihttp.h)
 * whose routes say what each mount is.  Each test counts the requests
 * Vault saw and ends with every handle closed and uv_loop_close() == 0.
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

#define MOUNT_V2 \
	"{\"data\":{\"path\":\"secret/\",\"type\":\"kv\"," \
	"\"options\":{\"version\":\"2\"}}}"
#define MOUNT_V1 \
	"{\"data\":{\"path\":\"kv/\",\"type\":\"kv\"," \
	"\"options\":{\"version\":\"1\"}}}"
#define DATA_V2 \
	"{\"request_id\":\"r\",\"data\":{\"data\":{\"user\":\"u2\"}," \
	"\"metadata\":{\"version\":1}}}"
#define DATA_V1 "{\"request_id\":\"r\",\"data\":{\"user\":\"u1\"}}"

struct fx {
	uv_loop_t loop;
	uv_timer_t tick; /* see RUN_UNTIL */
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
};

static void
on_change(void *arg)
{
	(void)arg;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];
	int fd;

	assert_non_null(fx);
	log_setup(LOGL_ERROR, 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_deps_kv2.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	fd = open(fx->token_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hvs.kv2-test", 12), 12);
	close(fd);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	mini_tick_start(&fx->loop, &fx->tick);
	assert_int_equal(mini_start(&fx->loop, &fx->srv), 0);
	fx->srv.route = mini_routed;
	mini_route_add(&fx->srv, "GET /v1/auth/token/lookup-self ", 200,
		       "{\"data\":{\"ttl\":0,\"renewable\":false}}");
	snprintf(fx->addr, sizeof(fx->addr), "http://127.0.0.1:%d", fx->srv.port);
	fx->addrs[0] = fx->addr;
	fx->vcfg.addresses = fx->addrs;
	fx->vcfg.n_addresses = 1;
	fx->vcfg.timeout_ms = 5000;
	fx->vcfg.retry.min_ms = 10;
	fx->vcfg.retry.max_ms = 20;
	fx->vcfg.max_response_bytes = 1 << 20;
	assert_int_equal(http_new(&fx->loop, &fx->http, err, sizeof(err)), 0);
	assert_int_equal(vault_new(&fx->loop, fx->http, &fx->vcfg, &fx->vault,
				   err, sizeof(err)),
			 0);
	fx->acfg.method = AUTH_METHOD_TOKEN;
	fx->acfg.mount = "token";
	fx->acfg.token_file = fx->token_file;
	fx->acfg.retry.min_ms = 10;
	fx->acfg.retry.max_ms = 20;
	assert_int_equal(auth_new(&fx->loop, fx->vault, &fx->acfg, NULL, NULL,
				  &fx->auth),
			 0);
	auth_start(fx->auth);
	assert_non_null(auth_token(fx->auth));
	fx->cfg.refresh_ms = 3600 * 1000;
	fx->cfg.lease_renew_fraction = 0.5;
	fx->cfg.retry.min_ms = 10;
	fx->cfg.retry.max_ms = 20;
	assert_int_equal(deps_new(&fx->loop, fx->vault, fx->auth, &fx->cfg,
				  on_change, fx, &fx->deps),
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

/* Ask for (KIND, PATH) until the store has an answer; its rc. */
static int
get(struct fx *fx, const char *kind, const char *path, const cJSON **out)
{
	char err[256];
	int rc;

	while ((rc = deps_get(fx->deps, kind, path, NULL, 0, out, err,
			      sizeof(err))) == DEPS_PENDING)
		uv_run(&fx->loop, UV_RUN_ONCE);
	return rc;
}

static const char *
field(const cJSON *env, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env, "data");

	v = cJSON_GetObjectItemCaseSensitive(v, a);
	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------------ */

static void
test_kv2_path_shims_match_consul_template(void **state)
{
	static const struct {
		const char *path, *mount;
		int v2, list;
		const char *want;
	} cases[] = {
		{ "secret/myapp/config", "secret/", 1, 0,
		  "secret/data/myapp/config" },
		{ "secret/data/myapp/config", "secret/", 1, 0,
		  "secret/data/myapp/config" },
		{ "secret/metadata/myapp", "secret/", 1, 0,
		  "secret/metadata/myapp" },
		{ "secret/myapp//x/", "secret/", 1, 0, "secret/data/myapp/x" },
		{ "secret", "secret/", 1, 0, "secret/data" },
		{ "secret/", "secret/", 1, 0, "secret/data" },
		{ "team/a/kv/app", "team/a/kv/", 1, 0, "team/a/kv/data/app" },
		{ "kv/app", "kv/", 0, 0, "kv/app" },
		{ "/secret/app", "secret/", 1, 0, "/secret/app" },
		{ "other/app", "secret/", 1, 1, "other/app" },
		{ "secret/app/", "secret/", 1, 1, "secret/metadata/app" },
		{ "secret/metadata/app/", "secret/", 1, 1,
		  "secret/metadata/app/" },
		{ "secret/", "secret/", 1, 1, "secret/metadata" },
		{ "kv/app/", "kv/", 0, 1, "kv/app/" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = deps_kv2_path(cases[i].path, cases[i].mount,
					  cases[i].v2, cases[i].list);

		assert_non_null(got);
		if (strcmp(got, cases[i].want) != 0)
			print_error("%s on %s (v2 %d, list %d)\n", cases[i].path,
				    cases[i].mount, cases[i].v2, cases[i].list);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void
test_kv_v2_reads_get_data_inserted_and_one_mount_question(void **state)
{
	struct fx *fx = *state;
	const cJSON *a = NULL, *b = NULL, *c = NULL;
	char err[256];

	mini_route_add(&fx->srv, "GET /v1/sys/internal/ui/mounts/secret/", 200,
		       MOUNT_V2);
	mini_route_add(&fx->srv, "GET /v1/secret/data/app ", 200, DATA_V2);
	mini_route_add(&fx->srv, "GET /v1/secret/data/other ", 200, DATA_V2);
	/* Three first reads at once: they share one mount question. */
	deps_get(fx->deps, "secret", "secret/app", NULL, 0, &a, err, sizeof(err));
	deps_get(fx->deps, "secret", "secret/data/app", NULL, 0, &b, err,
		 sizeof(err));
	deps_get(fx->deps, "secret", "secret/other", NULL, 0, &c, err,
		 sizeof(err));
	assert_int_equal(get(fx, "secret", "secret/app", &a), 0);
	assert_int_equal(get(fx, "secret", "secret/data/app", &b), 0);
	assert_int_equal(get(fx, "secret", "secret/other", &c), 0);
	assert_string_equal(field(a, "data", "user"), "u2");
	assert_string_equal(field(b, "data", "user"), "u2");
	assert_string_equal(field(c, "data", "user"), "u2");
	assert_int_equal(count(fx, "GET /v1/sys/internal/ui/mounts/"), 1);
	assert_int_equal(count(fx, "GET /v1/secret/data/app "), 2);
	assert_int_equal(count(fx, "GET /v1/secret/data/other "), 1);
	assert_int_equal(count(fx, "GET /v1/secret/app "), 0);
}

static void
test_kv_v1_and_refused_mount_questions_send_the_path_as_written(void **state)
{
	struct fx *fx = *state;
	const cJSON *a = NULL, *b = NULL;

	mini_route_add(&fx->srv, "GET /v1/sys/internal/ui/mounts/kv/", 200,
		       MOUNT_V1);
	mini_route_add(&fx->srv, "GET /v1/kv/app ", 200, DATA_V1);
	mini_route_add(
		&fx->srv, "GET /v1/sys/internal/ui/mounts/locked/", 403,
		"{\"errors\":[\"preflight capability check returned 403\"]}");
	mini_route_add(&fx->srv, "GET /v1/locked/app ", 200, DATA_V1);
	assert_int_equal(get(fx, "secret", "kv/app", &a), 0);
	assert_string_equal(field(a, "user", NULL), "u1");
	assert_int_equal(get(fx, "secret", "locked/app", &b), 0);
	assert_string_equal(field(b, "user", NULL), "u1");
	assert_int_equal(count(fx, "GET /v1/kv/app "), 1);
	assert_int_equal(count(fx, "GET /v1/locked/app "), 1);
	assert_int_equal(count(fx, "GET /v1/locked/data/"), 0);
}

static void
test_writes_with_arguments_ask_no_mount_question(void **state)
{
	struct fx *fx = *state;
	const char *kv[] = { "common_name=x" };
	const cJSON *out = NULL;
	char err[256];
	int rc;

	mini_route_add(&fx->srv, "POST /v1/secret/gen ", 200, DATA_V1);
	while ((rc = deps_get(fx->deps, "secret", "secret/gen", kv, 1, &out,
			      err, sizeof(err))) == DEPS_PENDING)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(rc, 0);
	assert_int_equal(count(fx, "GET /v1/sys/internal/ui/mounts/"), 0);
}

static void
test_secrets_lists_through_metadata_and_a_404_is_empty(void **state)
{
	struct fx *fx = *state;
	const cJSON *a = NULL, *b = NULL, *keys;

	mini_route_add(&fx->srv, "GET /v1/sys/internal/ui/mounts/secret/", 200,
		       MOUNT_V2);
	mini_route_add(&fx->srv, "GET /v1/secret/metadata/app?list=true ", 200,
		       "{\"data\":{\"keys\":[\"b\",\"a/\"]}}");
	assert_int_equal(get(fx, "secrets", "secret/app/", &a), 0);
	keys = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(a, "data"), "keys");
	assert_int_equal(cJSON_GetArraySize(keys), 2);
	assert_int_equal(get(fx, "secrets", "secret/none/", &b), 0);
	keys = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(b, "data"), "keys");
	assert_true(cJSON_IsArray(keys));
	assert_int_equal(cJSON_GetArraySize(keys), 0);
	assert_int_equal(count(fx, "GET /v1/secret/metadata/none?list=true "), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv2_path_shims_match_consul_template),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_kv_v2_reads_get_data_inserted_and_one_mount_question),
		T(test_kv_v1_and_refused_mount_questions_send_the_path_as_written),
		T(test_writes_with_arguments_ask_no_mount_question),
		T(test_secrets_lists_through_metadata_and_a_404_is_empty),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
