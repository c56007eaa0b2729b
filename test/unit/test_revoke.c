/*
 * Unit tests for revoke.c, the queue of serials to revoke: a fake Vault
 * (minihttp.h) records each revocation with the wall-clock time it came,
 * through the real vault and http modules on a real loop.  Each test
 * counts requests per serial and the flush's done callbacks, and ends
 * with every handle closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "revoke.h"
#include "vault.h"
#include "wallclock.h"
#include "minihttp.h"

#define P_REVOKE "POST /v1/pki_int/revoke "

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;	/* see RUN_UNTIL */
	struct mini_server srv;
	struct vault_opts vcfg;
	char *addrs[1];
	char addr[64];
	struct http *http;
	struct vault *vault;
	struct revq_opts cfg;
	struct revq *q;
	int done;		/* revq_flush()'s callbacks */
	int64_t wall[MINI_MAX_REQ];	/* wall clock at each request */
	int status[MINI_MAX_REQ];	/* the answer to the Nth, 0: 200 */
	struct mini_resp resp;
};

static const struct mini_resp *
route(struct mini_server *srv, const char *req)
{
	struct fx *fx = srv->arg;
	int i = srv->nreq - 1;	/* this request, recorded already */

	(void)req;
	fx->wall[i] = wall_ms();
	fx->resp = (struct mini_resp){ fx->status[i] ? fx->status[i] : 200, NULL, "{}" };
	if (fx->resp.status >= 400)
		fx->resp.body = "{\"errors\":[\"internal error\"]}";
	return &fx->resp;
}

static void
on_flushed(void *arg)
{
	struct fx *fx = arg;

	fx->done++;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	assert_non_null(fx);
	log_setup(LOGL_ERROR, 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	mini_tick_start(&fx->loop, &fx->tick);
	assert_int_equal(mini_start(&fx->loop, &fx->srv), 0);
	fx->srv.route = route;
	fx->srv.arg = fx;
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
	assert_int_equal(revq_new(&fx->loop, fx->vault, &fx->cfg, &fx->q), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	revq_close(fx->q);
	vault_close(fx->vault);
	http_close(fx->http);
	mini_stop(&fx->srv);
	uv_close((uv_handle_t *)&fx->tick, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	mini_free(&fx->srv);
	free(fx);
	return 0;
}

/* Revocation requests that named SERIAL. */
static int
sent(const struct fx *fx, const char *serial)
{
	int n = 0;

	for (int i = mini_find(&fx->srv, P_REVOKE, 0); i >= 0;
	     i = mini_find(&fx->srv, P_REVOKE, i + 1)) {
		cJSON *j = cJSON_Parse(mini_body(&fx->srv, i));
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "serial_number");
		assert_true(cJSON_IsString(s));
		n += strcmp(s->valuestring, serial) == 0;
		cJSON_Delete(j);
	}
	return n;
}

/* ------------------------------------------------------------------ */

static void
test_due_revocation_is_sent_once(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:01", 0), 0);
	assert_int_equal(revq_pending(fx->q), 1);
	assert_int_equal(fx->srv.nreq, 0);	/* from the loop, not in add */
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(sent(fx, "39:dd:01"), 1);
}

static void
test_revocation_waits_for_its_grace_period(void **state)
{
	struct fx *fx = *state;
	int64_t at = wall_ms() + 300;

	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:02", at), 0);
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(sent(fx, "39:dd:02"), 1);
	/* Never before its time on the wall clock. */
	assert_true(fx->wall[0] >= at);
}

static void
test_many_revocations_are_each_sent_once(void **state)
{
	struct fx *fx = *state;
	char serial[32];
	int64_t now = wall_ms();

	for (int i = 0; i < 40; i++) {
		snprintf(serial, sizeof(serial), "39:dd:%02x", i);
		assert_int_equal(revq_add(fx->q, "web", "pki_int", serial,
					  i % 2 ? now + 5 * (i % 7) : 0),
				 0);
	}
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->srv.nreq, 40);
	for (int i = 0; i < 40; i++) {
		snprintf(serial, sizeof(serial), "39:dd:%02x", i);
		assert_int_equal(sent(fx, serial), 1);
	}
}

static void
test_failed_revocation_is_retried_then_succeeds(void **state)
{
	struct fx *fx = *state;

	fx->status[0] = 500;
	fx->status[1] = 500;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:03", 0), 0);
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	assert_int_equal(fx->srv.nreq, 3);
	assert_int_equal(sent(fx, "39:dd:03"), 3);
}

static void
test_failing_revocation_is_given_up_after_five_attempts(void **state)
{
	struct fx *fx = *state;

	for (int i = 0; i < MINI_MAX_REQ; i++)
		fx->status[i] = 500;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:04", 0), 0);
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->srv.nreq, 5);
}

static void
test_flush_sends_what_is_due_drops_the_rest_and_is_done_once(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(revq_add(fx->q, "old", "pki_int", "39:dd:05", 0), 0);
	assert_int_equal(revq_add(fx->q, "later", "pki_int", "39:dd:06",
				  wall_ms() + 3600 * 1000),
			 0);
	revq_flush(fx->q, on_flushed, fx);
	assert_int_equal(fx->done, 0);	/* from the loop, never inside */
	assert_int_equal(revq_add(fx->q, "new", "pki_int", "39:dd:07", 0), -ECANCELED);
	RUN_UNTIL(fx, fx->done == 1);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->done, 1);
	assert_int_equal(revq_pending(fx->q), 0);
	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(sent(fx, "39:dd:05"), 1);
}

static void
test_flush_with_nothing_queued_is_done_from_the_loop(void **state)
{
	struct fx *fx = *state;

	revq_flush(fx->q, on_flushed, fx);
	assert_int_equal(fx->done, 0);
	RUN_UNTIL(fx, fx->done == 1);
	assert_int_equal(fx->srv.nreq, 0);
}

static void
test_flush_does_not_retry_a_failed_revocation(void **state)
{
	struct fx *fx = *state;

	for (int i = 0; i < MINI_MAX_REQ; i++)
		fx->status[i] = 500;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:08", 0), 0);
	revq_flush(fx->q, on_flushed, fx);
	RUN_UNTIL(fx, fx->done == 1);
	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(revq_pending(fx->q), 0);
}

static void
test_flush_against_a_silent_vault_ends_after_one_attempt(void **state)
{
	struct fx *fx = *state;

	/* Vault accepts and never answers: the drain is bounded by one
	 * attempt's timeout per address, not by retries. */
	for (int i = 0; i < MINI_MAX_REQ; i++)
		fx->status[i] = -1;
	fx->vcfg.timeout_ms = 200;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:09", 0), 0);
	revq_flush(fx->q, on_flushed, fx);
	RUN_UNTIL(fx, fx->done == 1);
	assert_int_equal(vault_attempts(fx->vault), 1);
	assert_int_equal(revq_pending(fx->q), 0);
}

static void
test_flush_waits_for_a_revocation_in_flight(void **state)
{
	struct fx *fx = *state;

	fx->status[0] = -1;	/* held until the 300 ms attempt timeout */
	fx->vcfg.timeout_ms = 300;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:0a", 0), 0);
	RUN_UNTIL(fx, fx->srv.nreq == 1);
	revq_flush(fx->q, on_flushed, fx);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->done, 0);
	assert_int_equal(revq_pending(fx->q), 1);
	RUN_UNTIL(fx, fx->done == 1);
	/* Answered (failed) once, not sent again. */
	assert_int_equal(fx->srv.nreq, 1);
	assert_int_equal(revq_pending(fx->q), 0);
}

static void
test_close_with_a_revocation_in_flight_cancels_it(void **state)
{
	struct fx *fx = *state;

	fx->status[0] = -1;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:0b", 0), 0);
	RUN_UNTIL(fx, fx->srv.nreq == 1);
	/* The teardown closes the queue, then the loop must close cleanly. */
}

static void
test_mount_of_issue_and_sign_paths(void **state)
{
	char m[16];

	(void)state;
	assert_int_equal(revq_mount_of("pki_int/issue/web", m, sizeof(m)), 0);
	assert_string_equal(m, "pki_int");
	assert_int_equal(revq_mount_of("team/pki/sign/web", m, sizeof(m)), 0);
	assert_string_equal(m, "team/pki");
	assert_int_equal(revq_mount_of("kv/data/app", m, sizeof(m)), -EINVAL);
	assert_int_equal(revq_mount_of("/issue/web", m, sizeof(m)), -EINVAL);
	assert_int_equal(revq_mount_of("a-very-long-mount-name/issue/web", m, sizeof(m)),
			 -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_due_revocation_is_sent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation_waits_for_its_grace_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_revocations_are_each_sent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_revocation_is_retried_then_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_revocation_is_given_up_after_five_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_sends_what_is_due_drops_the_rest_and_is_done_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_with_nothing_queued_is_done_from_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_does_not_retry_a_failed_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_against_a_silent_vault_ends_after_one_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waits_for_a_revocation_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_a_revocation_in_flight_cancels_it, setup, teardown),
		cmocka_unit_test(test_mount_of_issue_and_sign_paths),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("revoke", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
