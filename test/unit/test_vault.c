/*
 * Unit tests for vault.c and, through it, the curl <-> libuv glue in
 * http.c: each test runs a real loop against a scripted local HTTP server,
 * counts callbacks, and ends with every handle closed and
 * uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http.h"
#include "log.h"
#include "vault.h"
#include "minihttp.h"

struct fixture {
	uv_loop_t loop;
	struct mini_server srv;
	struct vault_opts cfg;
	char *addrs[2];
	char addr_buf[2][64];
	struct http *http;
	struct vault *vault;
	int calls;		/* callbacks fired */
	int err;
	long status;
	char message[1024];
	char body[8192];
	uint64_t done_at;
};

static void
setup_cfg(struct fixture *f, int n, const int *ports)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	for (int i = 0; i < n; i++) {
		snprintf(f->addr_buf[i], sizeof(f->addr_buf[i]), "http://127.0.0.1:%d",
			 ports[i]);
		f->addrs[i] = f->addr_buf[i];
	}
	f->cfg.addresses = f->addrs;
	f->cfg.n_addresses = (size_t)n;
	f->cfg.timeout_ms = 5000;
	f->cfg.retry.min_ms = 10;
	f->cfg.retry.max_ms = 40;
	f->cfg.max_response_bytes = 1 << 20;
}

static void
start(struct fixture *f, int n, const int *ports)
{
	char err[256];

	setup_cfg(f, n, ports);
	assert_int_equal(http_new(&f->loop, &f->http, err, sizeof(err)), 0);
	assert_int_equal(vault_new(&f->loop, f->http, &f->cfg, &f->vault, err,
				   sizeof(err)),
			 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_setup(LOGL_ERROR, 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(mini_start(&f->loop, &f->srv), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->vault)
		vault_close(f->vault);
	if (f->http)
		http_close(f->http);
	mini_stop(&f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	mini_free(&f->srv);
	free(f);
	return 0;
}

static void
on_response(void *arg, const struct vault_response *r)
{
	struct fixture *f = arg;

	f->calls++;
	f->err = r->err;
	f->status = r->status;
	f->done_at = uv_now(&f->loop);
	snprintf(f->message, sizeof(f->message), "%s", r->message);
	snprintf(f->body, sizeof(f->body), "%s", r->body);
}

static void
run_one(struct fixture *f, const struct vault_req *req)
{
	assert_int_equal(vault_request(f->vault, req, on_response, f, NULL), 0);
	assert_int_equal(f->calls, 0);	/* never inside vault_request() */
	while (f->calls == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->calls, 1);
}

static void
test_success_parses_json_and_fires_once(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{\"initialized\":true}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_OK);
	assert_int_equal(f->status, 200);
	assert_string_equal(f->body, "{\"initialized\":true}");
	assert_int_equal(f->srv.nreq, 1);
	assert_non_null(strstr(f->srv.req[0], "GET /v1/sys/health HTTP/1.1"));
}

static void
test_5xx_is_retried_until_success(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "kv/app" };

	f->srv.resp[0] = (struct mini_resp){ 500, NULL, "{\"errors\":[\"boom\"]}" };
	f->srv.resp[1] = (struct mini_resp){ 502, NULL, "" };
	f->srv.resp[2] = (struct mini_resp){ 200, NULL, "{\"data\":{}}" };
	f->srv.nresp = 3;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_OK);
	assert_int_equal(f->srv.nreq, 3);
	assert_int_equal(vault_attempts(f->vault), 3);
}

static void
test_403_is_final_and_names_vault_errors(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "secret/data/x",
				 .token = "not-a-real-token" };

	f->srv.resp[0] = (struct mini_resp){
		403, NULL, "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}"
	};
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_EHTTP);
	assert_int_equal(f->status, 403);
	assert_int_equal(f->srv.nreq, 1);
	assert_non_null(strstr(f->message, "HTTP 403"));
	assert_non_null(strstr(f->message, "permission denied"));
	assert_null(strchr(f->message, '\n'));
	assert_null(strstr(f->message, "not-a-real-token"));
}

static void
test_retry_after_on_429_is_honoured(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };

	f->cfg.retry.max_ms = 5000;
	f->srv.resp[0] = (struct mini_resp){ 429, "Retry-After: 1\r\n", "{\"errors\":[]}" };
	f->srv.resp[1] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 2;
	start(f, 1, &f->srv.port);
	f->cfg.retry.max_ms = 5000;
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_OK);
	assert_int_equal(f->srv.nreq, 2);
	/* Without Retry-After the wait would be at most min_backoff (10 ms). */
	assert_true(f->srv.req_time[1] - f->srv.req_time[0] >= 900);
}

static void
test_fails_over_to_the_next_address_and_stays_there(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };
	int ports[2] = { mini_dead_port(), f->srv.port };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 2, ports);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_OK);
	assert_int_equal(vault_attempts(f->vault), 2);
	f->calls = 0;
	run_one(f, &req);
	/* The second call goes straight to the address that worked. */
	assert_int_equal(vault_attempts(f->vault), 3);
	assert_int_equal(f->srv.nreq, 2);
}

static void
test_oversized_response_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "kv/big", .max_attempts = 2 };
	static char big[5000];

	memset(big, 'a', sizeof(big) - 1);
	f->srv.resp[0] = (struct mini_resp){ 200, NULL, big };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	f->cfg.max_response_bytes = 1024;
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_EBODY);
	assert_non_null(strstr(f->message, "max_response_size"));
	assert_int_equal(f->srv.nreq, 2);
}

static void
test_non_json_success_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "kv/x", .max_attempts = 1 };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "<html>proxy</html>" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_EBODY);
	assert_non_null(strstr(f->message, "not JSON"));
}

static void
test_sends_token_namespace_and_body(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "POST", .path = "auth/token/renew-self",
				 .body = "{\"increment\":60}" };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	f->cfg.namespace = "team-a";
	vault_set_token(f->vault, "hvs.client-token");
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_OK);
	assert_non_null(strstr(f->srv.req[0], "POST /v1/auth/token/renew-self"));
	assert_non_null(strstr(f->srv.req[0], "X-Vault-Token: hvs.client-token"));
	assert_non_null(strstr(f->srv.req[0], "X-Vault-Namespace: team-a"));
	assert_non_null(strstr(f->srv.req[0], "{\"increment\":60}"));
}

static void
test_no_token_flag_sends_no_token(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "POST", .path = "auth/approle/login",
				 .body = "{}", .flags = VAULT_NO_TOKEN };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	vault_set_token(f->vault, "hvs.client-token");
	run_one(f, &req);
	assert_null(strstr(f->srv.req[0], "X-Vault-Token"));
}

static void
test_list_uses_get_with_list_true(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "LIST", .path = "kv/" };

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_non_null(strstr(f->srv.req[0], "GET /v1/kv/?list=true"));
}

static void
test_cancel_fires_callback_once_with_ecanceled(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };
	struct vault_call *call;

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	assert_int_equal(vault_request(f->vault, &req, on_response, f, &call), 0);
	vault_cancel(call);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->err, VAULT_ECANCELED);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->calls, 1);
}

static void
test_close_cancels_calls_in_flight(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };

	f->srv.resp[0] = (struct mini_resp){ 500, NULL, "{}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	f->cfg.retry.min_ms = 60000;
	f->cfg.retry.max_ms = 60000;
	assert_int_equal(vault_request(f->vault, &req, on_response, f, NULL), 0);
	while (f->srv.nreq == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	vault_close(f->vault);
	f->vault = NULL;
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->err, VAULT_ECANCELED);
}

static void
test_deadline_stops_retries(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health" };

	f->srv.resp[0] = (struct mini_resp){ 503, NULL, "{\"errors\":[\"Vault is sealed\"]}" };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	f->cfg.retry.min_ms = 1000;
	f->cfg.retry.max_ms = 1000;
	uv_update_time(&f->loop);
	req.deadline = uv_now(&f->loop) + 100;
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_EHTTP);
	assert_int_equal(f->status, 503);
	assert_int_equal(f->srv.nreq, 1);
	assert_non_null(strstr(f->message, "Vault is sealed"));
}

static void
test_dropped_connection_is_a_transport_error(void **state)
{
	struct fixture *f = *state;
	struct vault_req req = { .method = "GET", .path = "sys/health", .max_attempts = 2 };

	f->srv.resp[0] = (struct mini_resp){ 0, NULL, NULL };
	f->srv.nresp = 1;
	start(f, 1, &f->srv.port);
	run_one(f, &req);
	assert_int_equal(f->err, VAULT_ETRANSPORT);
	assert_int_equal(f->srv.nreq, 2);
}

static void
test_errors_text_joins_all_errors(void **state)
{
	cJSON *j = cJSON_Parse("{\"errors\":[\"a\",\"b\\nc\"]}");
	char buf[64];

	(void)state;
	vault_errors_text(j, buf, sizeof(buf));
	assert_string_equal(buf, "a; b c");
	cJSON_Delete(j);
}

static void
test_kv_field_reads_v1_and_v2_answers(void **state)
{
	cJSON *v1 = cJSON_Parse("{\"data\":{\"passphrase\":\"one\",\"n\":1}}");
	cJSON *v2 = cJSON_Parse("{\"data\":{\"data\":{\"passphrase\":\"two\"},"
				"\"metadata\":{\"version\":3}}}");
	/* A v1 secret that happens to have a field "data" is v1's. */
	cJSON *v1d = cJSON_Parse("{\"data\":{\"data\":{\"passphrase\":\"no\"},"
				 "\"passphrase\":\"yes\"}}");

	(void)state;
	assert_string_equal(vault_kv_field(v1, "passphrase"), "one");
	assert_null(vault_kv_field(v1, "n"));	/* not a string */
	assert_null(vault_kv_field(v1, "missing"));
	assert_string_equal(vault_kv_field(v2, "passphrase"), "two");
	assert_null(vault_kv_field(v2, "version"));
	assert_string_equal(vault_kv_field(v1d, "passphrase"), "yes");
	assert_null(vault_kv_field(NULL, "passphrase"));
	cJSON_Delete(v1);
	cJSON_Delete(v2);
	cJSON_Delete(v1d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success_parses_json_and_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_5xx_is_retried_until_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_403_is_final_and_names_vault_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_on_429_is_honoured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fails_over_to_the_next_address_and_stays_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_response_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_json_success_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sends_token_namespace_and_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_token_flag_sends_no_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_uses_get_with_list_true, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_fires_callback_once_with_ecanceled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_cancels_calls_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_stops_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_connection_is_a_transport_error, setup, teardown),
		cmocka_unit_test(test_errors_text_joins_all_errors),
		cmocka_unit_test(test_kv_field_reads_v1_and_v2_answers),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("vault", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
