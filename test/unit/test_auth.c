/*
 * Unit tests for auth.c: logins, lookups and renewals against a fake
 * Vault (minihttp.h, answering by route) on a real loop, through the real
 * vault and http modules.  Each test records every token the module
 * reports, asserts on what Vault was sent, and ends with every handle
 * closed and uv_loop_close() == 0.  The agent's log (stderr) goes to a
 * file per test, so error text can be asserted, secrets absent included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"
#include "minihttp.h"

#define MAX_TOK 16

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;	/* see RUN_UNTIL */
	struct mini_server srv;
	struct vault_opts vcfg;
	char *addrs[1];
	char addr[64];
	struct http *http;
	struct vault *vault;
	struct auth_opts cfg;
	struct auth *auth;
	char dir[64];
	char log_path[128];
	int saved_stderr;
	char role_id[128], secret_id[128], token_file[128], jwt[128];
	/* what the token callback saw, "(none)" for NULL */
	char tokens[MAX_TOK][128];
	int ntok;
};

/* Login and lookup answers. */
#define LOGIN(tok, ttl, ren)                                                    \
	"{\"auth\":{\"client_token\":\"" tok "\",\"lease_duration\":" #ttl    \
	",\"renewable\":" #ren "}}"
#define LOOKUP(ttl, ren) "{\"data\":{\"ttl\":" #ttl ",\"renewable\":" #ren "}}"

#define P_APPROLE "POST /v1/auth/approle/login "
#define P_K8S "POST /v1/auth/kubernetes/login "
#define P_JWT "POST /v1/auth/jwt/login "
#define P_LOOKUP "GET /v1/auth/token/lookup-self "
#define P_RENEW "POST /v1/auth/token/renew-self "

static void
on_token(void *arg, const char *token)
{
	struct fx *fx = arg;

	assert_true(fx->ntok < MAX_TOK);
	snprintf(fx->tokens[fx->ntok++], sizeof(fx->tokens[0]), "%s",
		 token ? token : "(none)");
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The agent's log so far (malloc'd). */
static char *
read_log(struct fx *fx)
{
	FILE *f = fopen(fx->log_path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];
	int fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_auth.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/agent.log", fx->dir);
	snprintf(fx->role_id, sizeof(fx->role_id), "%s/role-id", fx->dir);
	snprintf(fx->secret_id, sizeof(fx->secret_id), "%s/secret-id", fx->dir);
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	snprintf(fx->jwt, sizeof(fx->jwt), "%s/jwt", fx->dir);
	fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_setup(LOGL_DEBUG, 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	mini_tick_start(&fx->loop, &fx->tick);
	assert_int_equal(mini_start(&fx->loop, &fx->srv), 0);
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
	fx->cfg.retry.min_ms = 10;
	fx->cfg.retry.max_ms = 20;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128], line[1024];
	FILE *f;

	/* cmocka reports a failed assertion on stderr, which was the log:
	 * pass its lines on before the log is removed. */
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	log_setup(LOGL_ERROR, 0);
	f = fopen(fx->log_path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "[  ERROR   ]", 12) == 0 ||
		    strncmp(line, "[   LINE   ]", 12) == 0)
			fputs(line, stderr);
	if (f)
		fclose(f);
	if (fx->auth)
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

static void
start(struct fx *fx)
{
	assert_int_equal(auth_new(&fx->loop, fx->vault, &fx->cfg, on_token, fx,
				  &fx->auth),
			 0);
	auth_start(fx->auth);
}


static struct auth_stats
stats(const struct fx *fx)
{
	struct auth_stats st;

	auth_get_stats(fx->auth, &st);
	return st;
}

/* The lookup answered TTL_S (shorter than the login's): it was applied. */
static int
expires_within(const struct fx *fx, int64_t ttl_s)
{
	int64_t at = stats(fx).expires_at_ms;

	return at != 0 && at <= wall_ms() + ttl_s * 1000;
}

/* The JSON body of recorded request I, field NAME, as a string. */
static void
assert_body_field(struct fx *fx, int i, const char *name, const char *want)
{
	cJSON *j = cJSON_Parse(mini_body(&fx->srv, i));
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	assert_non_null(j);
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
	cJSON_Delete(j);
}

/* ------------------------------------------------------------------ */

static void
test_approle_login_sends_role_and_secret_id_and_adopts_the_token(void **state)
{
	struct fx *fx = *state;
	struct auth_stats st;

	write_file(fx->role_id, "role-1234\n", 0644);
	write_file(fx->secret_id, "sid-very-secret\n", 0600);
	fx->cfg.method = AUTH_METHOD_APPROLE;
	fx->cfg.mount = "approle";
	fx->cfg.role_id_file = fx->role_id;
	fx->cfg.secret_id_file = fx->secret_id;
	fx->cfg.remove_secret_id_file = 1;
	mini_route_add(&fx->srv, P_APPROLE, 200, LOGIN("hvs.approle-token", 3600, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(1800, true));
	start(fx);
	RUN_UNTIL(fx, expires_within(fx, 2000));

	assert_int_equal(fx->srv.nreq, 2);
	assert_int_equal(mini_find(&fx->srv, P_APPROLE, 0), 0);
	assert_null(strstr(fx->srv.req[0], "X-Vault-Token"));
	assert_body_field(fx, 0, "role_id", "role-1234");
	assert_body_field(fx, 0, "secret_id", "sid-very-secret");
	/* The token came out of auth.client_token and is in use. */
	assert_int_equal(fx->ntok, 1);
	assert_string_equal(fx->tokens[0], "hvs.approle-token");
	assert_string_equal(auth_token(fx->auth), "hvs.approle-token");
	assert_int_equal(mini_find(&fx->srv, P_LOOKUP, 0), 1);
	assert_non_null(strstr(fx->srv.req[1], "X-Vault-Token: hvs.approle-token"));
	st = stats(fx);
	assert_int_equal(st.logins, 1);
	assert_int_equal(st.login_failures, 0);
	/* remove_secret_id_file: read once, then gone from disk. */
	assert_int_equal(access(fx->secret_id, F_OK), -1);
	char *log = read_log(fx);
	assert_null(strstr(log, "sid-very-secret"));
	assert_null(strstr(log, "hvs.approle-token"));
	free(log);
}

static void
test_login_answer_without_client_token_is_a_failed_login(void **state)
{
	struct fx *fx = *state;

	write_file(fx->role_id, "role-1234", 0644);
	write_file(fx->secret_id, "sid-1", 0600);
	fx->cfg.method = AUTH_METHOD_APPROLE;
	fx->cfg.mount = "approle";
	fx->cfg.role_id_file = fx->role_id;
	fx->cfg.secret_id_file = fx->secret_id;
	mini_route_add(&fx->srv, P_APPROLE, 200, "{\"auth\":{\"lease_duration\":60}}");
	start(fx);
	RUN_UNTIL(fx, stats(fx).login_failures >= 2);

	/* Retried (the secret-id kept in memory), never adopted. */
	assert_null(auth_token(fx->auth));
	assert_true(fx->ntok >= 2);
	for (int i = 0; i < fx->ntok; i++)
		assert_string_equal(fx->tokens[i], "(none)");
	assert_int_equal(mini_find(&fx->srv, P_LOOKUP, 0), -1);
	char *log = read_log(fx);
	assert_non_null(strstr(log, "no auth.client_token"));
	free(log);
}

static void
test_renew_delay_is_between_0_6_and_0_7_of_the_ttl(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		uint64_t d = auth_renew_delay(100000);
		assert_in_range(d, 60000, 70000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* Jittered over the range, not a fixed point. */
	assert_true(lo < 62000);
	assert_true(hi > 68000);
	assert_int_equal(auth_renew_delay(0), 0);
}

static void
test_renewable_token_is_renewed_not_before_0_6_of_its_ttl(void **state)
{
	struct fx *fx = *state;
	int lk, rn;

	write_file(fx->role_id, "role-1234", 0644);
	write_file(fx->secret_id, "sid-1", 0600);
	fx->cfg.method = AUTH_METHOD_APPROLE;
	fx->cfg.mount = "approle";
	fx->cfg.role_id_file = fx->role_id;
	fx->cfg.secret_id_file = fx->secret_id;
	mini_route_add(&fx->srv, P_APPROLE, 200, LOGIN("hvs.renew-me", 2, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(2, true));
	mini_route_add(&fx->srv, P_RENEW, 200,
		       "{\"auth\":{\"client_token\":\"hvs.renew-me\","
		       "\"lease_duration\":3600,\"renewable\":true}}");
	start(fx);
	RUN_UNTIL(fx, stats(fx).renewals == 1);

	lk = mini_find(&fx->srv, P_LOOKUP, 0);
	rn = mini_find(&fx->srv, P_RENEW, 0);
	assert_int_equal(lk, 1);
	assert_int_equal(rn, 2);
	assert_non_null(strstr(fx->srv.req[rn], "X-Vault-Token: hvs.renew-me"));
	/* The schedule starts when the lookup's TTL (2 s) is known. */
	assert_true(fx->srv.req_time[rn] - fx->srv.req_time[lk] >= 1200);
	/* Renewed, not replaced: one login, one token. */
	assert_int_equal(mini_find(&fx->srv, P_APPROLE, 1), -1);
	assert_int_equal(fx->ntok, 1);
	assert_true(expires_within(fx, 3600) && !expires_within(fx, 3000));
}

static void
test_403_on_renew_drops_the_token_and_logs_in_afresh(void **state)
{
	struct fx *fx = *state;
	struct auth_stats st;
	int rn;

	write_file(fx->role_id, "role-1234", 0644);
	write_file(fx->secret_id, "sid-1", 0600);
	fx->cfg.method = AUTH_METHOD_APPROLE;
	fx->cfg.mount = "approle";
	fx->cfg.role_id_file = fx->role_id;
	fx->cfg.secret_id_file = fx->secret_id;
	fx->cfg.remove_secret_id_file = 1;
	mini_route_add(&fx->srv, P_APPROLE, 200, LOGIN("hvs.first", 3, true));
	mini_route_add(&fx->srv, P_APPROLE, 200, LOGIN("hvs.second", 3600, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(3, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(3600, true));
	mini_route_add(&fx->srv, P_RENEW, 403, "{\"errors\":[\"permission denied\"]}");
	start(fx);
	RUN_UNTIL(fx, fx->ntok == 3);

	assert_string_equal(fx->tokens[0], "hvs.first");
	assert_string_equal(fx->tokens[1], "(none)");	/* dropped at once */
	assert_string_equal(fx->tokens[2], "hvs.second");
	assert_string_equal(auth_token(fx->auth), "hvs.second");
	rn = mini_find(&fx->srv, P_RENEW, 0);
	assert_true(rn > 0);
	assert_non_null(strstr(fx->srv.req[rn], "X-Vault-Token: hvs.first"));
	/* The fresh login follows the refused renewal, with the secret-id
	 * kept in memory (its file was removed after the first read). */
	assert_int_equal(mini_find(&fx->srv, P_APPROLE, rn), rn + 1);
	assert_body_field(fx, rn + 1, "secret_id", "sid-1");
	st = stats(fx);
	assert_int_equal(st.renew_failures, 1);
	assert_int_equal(st.renewals, 0);
	assert_int_equal(st.logins, 2);
}

static void
test_token_file_is_adopted_and_looked_up_without_a_login(void **state)
{
	struct fx *fx = *state;

	write_file(fx->token_file, "hvs.from-file\n", 0600);
	fx->cfg.method = AUTH_METHOD_TOKEN;
	fx->cfg.mount = "token";
	fx->cfg.token_file = fx->token_file;
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(0, false));
	start(fx);
	/* Read at once: the token is in use before Vault has answered. */
	assert_int_equal(fx->ntok, 1);
	assert_string_equal(fx->tokens[0], "hvs.from-file");
	RUN_UNTIL(fx, stats(fx).logins == 1);

	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(mini_find(&fx->srv, P_LOOKUP, 0), 0);
	assert_non_null(strstr(fx->srv.req[0], "X-Vault-Token: hvs.from-file"));
	assert_string_equal(auth_token(fx->auth), "hvs.from-file");
	/* ttl 0: it does not expire, nothing to renew. */
	assert_int_equal(stats(fx).expires_at_ms, 0);
}

static void
test_group_readable_token_file_is_refused_naming_the_path(void **state)
{
	struct fx *fx = *state;

	write_file(fx->token_file, "hvs.too-open", 0644);
	fx->cfg.method = AUTH_METHOD_TOKEN;
	fx->cfg.mount = "token";
	fx->cfg.token_file = fx->token_file;
	start(fx);

	assert_int_equal(fx->ntok, 1);
	assert_string_equal(fx->tokens[0], "(none)");
	assert_null(auth_token(fx->auth));
	assert_int_equal(stats(fx).login_failures, 1);
	char *log = read_log(fx);
	assert_non_null(strstr(log, fx->token_file));
	assert_null(strstr(log, "hvs.too-open"));
	free(log);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->srv.nreq, 0);
}

static void
test_kubernetes_token_file_is_read_afresh_at_each_login(void **state)
{
	struct fx *fx = *state;
	int second;

	write_file(fx->jwt, "jwt-one\n", 0644);	/* the pod's mode: 0644 is fine */
	fx->cfg.method = AUTH_METHOD_KUBERNETES;
	fx->cfg.mount = "kubernetes";
	fx->cfg.role = "app";
	fx->cfg.token_path = fx->jwt;
	mini_route_add(&fx->srv, P_K8S, 200, LOGIN("hvs.k8s-1", 3600, true));
	mini_route_add(&fx->srv, P_K8S, 200, LOGIN("hvs.k8s-2", 3600, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(1800, true));
	start(fx);
	RUN_UNTIL(fx, expires_within(fx, 2000));
	assert_int_equal(mini_find(&fx->srv, P_K8S, 0), 0);
	assert_body_field(fx, 0, "role", "app");
	assert_body_field(fx, 0, "jwt", "jwt-one");

	/* kubelet rotated the projected token; Vault then refused ours. */
	write_file(fx->jwt, "jwt-two\n", 0644);
	auth_token_rejected(fx->auth, "hvs.k8s-1");
	RUN_UNTIL(fx, fx->ntok == 3);
	second = mini_find(&fx->srv, P_K8S, 1);
	assert_true(second > 0);
	assert_body_field(fx, second, "jwt", "jwt-two");
	assert_string_equal(fx->tokens[2], "hvs.k8s-2");
}

static void
test_empty_jwt_file_fails_login_naming_the_path_not_the_token(void **state)
{
	struct fx *fx = *state;

	write_file(fx->jwt, "eyJ.first-jwt.sig", 0644);
	fx->cfg.method = AUTH_METHOD_JWT;
	fx->cfg.mount = "jwt";
	fx->cfg.role = "svc";
	fx->cfg.token_path = fx->jwt;
	mini_route_add(&fx->srv, P_JWT, 200, LOGIN("hvs.jwt-1", 3600, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(1800, true));
	start(fx);
	RUN_UNTIL(fx, expires_within(fx, 2000));
	assert_body_field(fx, 0, "jwt", "eyJ.first-jwt.sig");

	/* Emptied: the next login fails before Vault is asked. */
	write_file(fx->jwt, "\n", 0644);
	int before = fx->srv.nreq;
	auth_token_rejected(fx->auth, "hvs.jwt-1");
	assert_int_equal(stats(fx).login_failures, 1);
	assert_null(auth_token(fx->auth));
	assert_string_equal(fx->tokens[fx->ntok - 1], "(none)");
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(mini_find(&fx->srv, P_JWT, before), -1);
	char *log = read_log(fx);
	char want[256];
	snprintf(want, sizeof(want), "%s: empty", fx->jwt);
	assert_non_null(strstr(log, want));
	assert_null(strstr(log, "first-jwt"));
	free(log);
}

static void
test_missing_kubernetes_token_file_fails_login_naming_the_path(void **state)
{
	struct fx *fx = *state;

	fx->cfg.method = AUTH_METHOD_KUBERNETES;
	fx->cfg.mount = "kubernetes";
	fx->cfg.role = "app";
	fx->cfg.token_path = fx->jwt;	/* never written */
	start(fx);

	assert_int_equal(stats(fx).login_failures, 1);
	assert_int_equal(fx->ntok, 1);
	assert_string_equal(fx->tokens[0], "(none)");
	char *log = read_log(fx);
	assert_non_null(strstr(log, fx->jwt));
	assert_non_null(strstr(log, "auth/kubernetes"));
	free(log);
	/* Retried with backoff; each retry reads the file again. */
	write_file(fx->jwt, "jwt-late", 0644);
	mini_route_add(&fx->srv, P_K8S, 200, LOGIN("hvs.late", 3600, true));
	mini_route_add(&fx->srv, P_LOOKUP, 200, LOOKUP(1800, true));
	RUN_UNTIL(fx, auth_token(fx->auth) != NULL);
	assert_string_equal(auth_token(fx->auth), "hvs.late");
	assert_body_field(fx, mini_find(&fx->srv, P_K8S, 0), "jwt", "jwt-late");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_approle_login_sends_role_and_secret_id_and_adopts_the_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_answer_without_client_token_is_a_failed_login, setup, teardown),
		cmocka_unit_test(test_renew_delay_is_between_0_6_and_0_7_of_the_ttl),
		cmocka_unit_test_setup_teardown(test_renewable_token_is_renewed_not_before_0_6_of_its_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_403_on_renew_drops_the_token_and_logs_in_afresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file_is_adopted_and_looked_up_without_a_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_readable_token_file_is_refused_naming_the_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubernetes_token_file_is_read_afresh_at_each_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_jwt_file_fails_login_naming_the_path_not_the_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_kubernetes_token_file_fails_login_naming_the_path, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("auth", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
