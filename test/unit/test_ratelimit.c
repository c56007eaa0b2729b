/*
 * Unit tests for ratelimit.c (the token bucket of
 * vault.max_requests_per_second), and for the queue in vault.c that it
 * feeds: calls beyond vault.max_concurrent_requests wait and are served
 * in the order they came, under a rate limit too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "vault.h"
#include "minihttp.h"

static void
test_no_limit_never_waits(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ratelimit_take(&r, 5), 0);
}

static void
test_starts_are_one_interval_apart(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 10);		/* one per 100 ms */
	assert_int_equal(ratelimit_take(&r, 1000), 0);
	assert_int_equal(ratelimit_take(&r, 1000), 100);
	assert_int_equal(ratelimit_take(&r, 1040), 60);
	assert_int_equal(ratelimit_take(&r, 1100), 0);
	assert_int_equal(ratelimit_take(&r, 1100), 100);
}

static void
test_asking_does_not_push_the_next_start_back(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 4);		/* one per 250 ms */
	assert_int_equal(ratelimit_take(&r, 0), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ratelimit_take(&r, 10), 240);
	assert_int_equal(ratelimit_take(&r, 250), 0);
}

static void
test_any_one_second_window_holds_at_most_rate_plus_one(void **state)
{
	struct ratelimit r;
	uint64_t starts[400];
	size_t n = 0;

	(void)state;
	ratelimit_init(&r, 37);
	/* A caller that asks every millisecond, as a busy queue would. */
	for (uint64_t now = 0; now < 10000 && n < 400; now++)
		if (ratelimit_take(&r, now) == 0)
			starts[n++] = now;
	for (size_t i = 0; i < n; i++) {
		size_t in = 0;
		for (size_t j = i; j < n && starts[j] < starts[i] + 1000; j++)
			in++;
		assert_true(in <= 37 + 1);
	}
	assert_true(n >= 360);	/* and it does let them through */
}

static void
test_a_wait_is_never_zero_before_the_token_is_there(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 3);		/* 333.33 ms */
	assert_int_equal(ratelimit_take(&r, 0), 0);
	assert_int_equal(ratelimit_take(&r, 333), 1);
	assert_int_equal(ratelimit_take(&r, 334), 0);
}

/* ---- the queue in vault.c */

struct fixture {
	uv_loop_t loop;
	struct mini_server srv;
	struct vault_opts cfg;
	char *addrs[1];
	char addr_buf[64];
	struct http *http;
	struct vault *vault;
	int order[16];
	int n;
	uv_timer_t tick;
};

struct call_arg {
	struct fixture *f;
	int id;
};

static void
on_done(void *arg, const struct vault_response *r)
{
	struct call_arg *a = arg;

	assert_int_equal(r->err, VAULT_OK);
	a->f->order[a->f->n++] = a->id;
}

static void
run_queue(uint64_t concurrent, uint64_t per_second)
{
	struct fixture f;
	struct call_arg args[8];
	char err[256];

	memset(&f, 0, sizeof(f));
	log_setup(LOGL_ERROR, 0);
	assert_int_equal(uv_loop_init(&f.loop), 0);
	assert_int_equal(mini_start(&f.loop, &f.srv), 0);
	mini_tick_start(&f.loop, &f.tick);
	for (int i = 0; i < 8; i++)
		mini_route_add(&f.srv, "GET /v1/sys/health", 200, "{}");
	snprintf(f.addr_buf, sizeof(f.addr_buf), "http://127.0.0.1:%d", f.srv.port);
	f.addrs[0] = f.addr_buf;
	f.cfg.addresses = f.addrs;
	f.cfg.n_addresses = 1;
	f.cfg.timeout_ms = 5000;
	f.cfg.retry.min_ms = 10;
	f.cfg.retry.max_ms = 40;
	f.cfg.max_response_bytes = 1 << 20;
	f.cfg.max_concurrent = concurrent;
	f.cfg.max_per_second = per_second;
	assert_int_equal(http_new(&f.loop, &f.http, err, sizeof(err)), 0);
	assert_int_equal(vault_new(&f.loop, f.http, &f.cfg, &f.vault, err,
				   sizeof(err)), 0);
	for (int i = 0; i < 8; i++) {
		struct vault_req req = { .method = "GET", .path = "sys/health" };
		args[i] = (struct call_arg){ &f, i };
		assert_int_equal(vault_request(f.vault, &req, on_done, &args[i], NULL), 0);
	}
	RUN_UNTIL(&f, f.n == 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(f.order[i], i);	/* FIFO */
	assert_int_equal(vault_attempts(f.vault), 8);
	vault_close(f.vault);
	http_close(f.http);
	mini_stop(&f.srv);
	uv_close((uv_handle_t *)&f.tick, NULL);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	mini_free(&f.srv);
}

static void
test_one_at_a_time_is_served_in_order(void **state)
{
	(void)state;
	run_queue(1, 0);
}

static void
test_a_rate_limited_queue_is_served_in_order_and_closes_clean(void **state)
{
	(void)state;
	run_queue(2, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_limit_never_waits),
		cmocka_unit_test(test_starts_are_one_interval_apart),
		cmocka_unit_test(test_asking_does_not_push_the_next_start_back),
		cmocka_unit_test(test_any_one_second_window_holds_at_most_rate_plus_one),
		cmocka_unit_test(test_a_wait_is_never_zero_before_the_token_is_there),
		cmocka_unit_test(test_one_at_a_time_is_served_in_order),
		cmocka_unit_test(test_a_rate_limited_queue_is_served_in_order_and_closes_clean),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
