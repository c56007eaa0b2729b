/*
 * Unit tests for http.c, the curl multi-socket glue on libuv, without the
 * vault module on top: real transfers on a real loop against the
 * scripted server of minihttp.h.  Each transfer counts the callbacks it
 * got, so "exactly once" is asserted per transfer, and every test ends
 * with every handle closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http.h"
#include "log.h"
#include "minihttp.h"

#define NXFER 64

struct xfer {
	CURL *easy;
	int calls;
	CURLcode result;
	long status;
	char body[256];
	size_t len;
	char url[128];
};

struct fixture {
	uv_loop_t loop;
	struct mini_server srv;
	struct http *http;
	struct xfer x[NXFER];
	int expect_none;	/* the teardown checks no callback ever fired */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	log_setup(LOGL_ERROR, 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(mini_start(&f->loop, &f->srv), 0);
	assert_int_equal(http_new(&f->loop, &f->http, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->http)
		http_close(f->http);
	mini_stop(&f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	for (int i = 0; i < NXFER; i++) {
		if (f->expect_none)
			assert_int_equal(f->x[i].calls, 0);
		if (f->x[i].easy)
			curl_easy_cleanup(f->x[i].easy);
	}
	mini_free(&f->srv);
	free(f);
	return 0;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len > sizeof(x->body) - 1 - x->len)
		return 0;	/* more than the test expects: fail the transfer */
	memcpy(x->body + x->len, p, len);
	x->len += len;
	x->body[x->len] = '\0';
	return len;
}

static void
on_done(CURL *easy, CURLcode result, void *arg)
{
	struct xfer *x = arg;

	assert_ptr_equal(easy, x->easy);
	x->calls++;
	x->result = result;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
}

/* Transfer I of F to PORT, PATH; started with http_add(). */
static void
add(struct fixture *f, int i, int port, const char *path, long timeout_ms)
{
	struct xfer *x = &f->x[i];

	snprintf(x->url, sizeof(x->url), "http://127.0.0.1:%d%s", port, path);
	x->easy = curl_easy_init();
	assert_non_null(x->easy);
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	assert_int_equal(http_add(f->http, x->easy, on_done, x), 0);
}

static int
total_calls(const struct fixture *f, int n)
{
	int sum = 0;

	for (int i = 0; i < n; i++)
		sum += f->x[i].calls;
	return sum;
}

/* Run the loop until N transfers have each had a callback. */
static void
run_until_done(struct fixture *f, int n)
{
	while (total_calls(f, n) < n)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
}

static void
test_request_completes_and_callback_fires_once(void **state)
{
	struct fixture *f = *state;

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{\"ok\":true}" };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/v1/sys/health", 5000);
	assert_int_equal(http_active(f->http), 1);
	assert_int_equal(f->x[0].calls, 0);	/* never inside http_add() */
	run_until_done(f, 1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->x[0].calls, 1);
	assert_int_equal(f->x[0].result, CURLE_OK);
	assert_int_equal(f->x[0].status, 200);
	assert_string_equal(f->x[0].body, "{\"ok\":true}");
	assert_int_equal(f->srv.nreq, 1);
	assert_non_null(strstr(f->srv.req[0], "GET /v1/sys/health HTTP/1.1"));
}

static void
test_active_counts_transfers_until_their_callback(void **state)
{
	struct fixture *f = *state;

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/a", 5000);
	add(f, 1, f->srv.port, "/b", 5000);
	assert_int_equal(http_active(f->http), 2);
	run_until_done(f, 2);
	assert_int_equal(http_active(f->http), 0);
}

static void
test_connection_refused_reaches_callback_once_as_error(void **state)
{
	struct fixture *f = *state;

	/* On Linux the refused connect comes back from the poll as POLLERR,
	 * which libuv reports as a poll status < 0: this is the path where
	 * http.c passes CURL_CSELECT_ERR (checked once under gdb). */
	add(f, 0, mini_dead_port(), "/", 5000);
	run_until_done(f, 1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->x[0].calls, 1);
	assert_int_equal(f->x[0].result, CURLE_COULDNT_CONNECT);
	assert_int_equal(f->x[0].status, 0);
	assert_int_equal(http_active(f->http), 0);
}

static void
test_dropped_connection_reaches_callback_once_as_error(void **state)
{
	struct fixture *f = *state;

	f->srv.resp[0] = (struct mini_resp){ 0, NULL, NULL };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/", 5000);
	run_until_done(f, 1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->x[0].calls, 1);
	assert_int_equal(f->x[0].result, CURLE_GOT_NOTHING);
	assert_int_equal(f->srv.nreq, 1);
}

static void
test_silent_server_times_out_once_from_the_timer(void **state)
{
	struct fixture *f = *state;

	/* The connection is accepted and never answered: only curl's
	 * timeout, driven by the uv timer, can end the transfer. */
	f->srv.resp[0] = (struct mini_resp){ -1, NULL, NULL };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/", 200);
	run_until_done(f, 1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->x[0].calls, 1);
	assert_int_equal(f->x[0].result, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(f->srv.nreq, 1);
}

static void
test_removed_transfer_never_calls_back(void **state)
{
	struct fixture *f = *state;

	/* http_remove() is the caller taking a transfer back: by contract
	 * (http.h) its callback never fires, even when the answer comes. */
	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{}" };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/gone", 5000);
	add(f, 1, f->srv.port, "/kept", 5000);
	http_remove(f->http, f->x[0].easy);
	assert_int_equal(http_active(f->http), 1);
	while (f->x[1].calls == 0)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->x[0].calls, 0);
	assert_int_equal(f->x[1].calls, 1);
	assert_int_equal(f->x[1].result, CURLE_OK);
	assert_int_equal(http_active(f->http), 0);
	/* Removing it again, or a finished one, is harmless. */
	http_remove(f->http, f->x[0].easy);
	http_remove(f->http, f->x[1].easy);
	assert_int_equal(http_active(f->http), 0);
}

static void
test_removed_transfer_in_mid_flight_never_calls_back(void **state)
{
	struct fixture *f = *state;

	/* Taken back while its connection is open and curl watches it. */
	f->srv.resp[0] = (struct mini_resp){ -1, NULL, NULL };
	f->srv.nresp = 1;
	add(f, 0, f->srv.port, "/", 60000);
	while (f->srv.nreq == 0)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
	http_remove(f->http, f->x[0].easy);
	assert_int_equal(http_active(f->http), 0);
	f->expect_none = 1;	/* not even while the teardown runs the loop */
}

static void
test_many_concurrent_requests_all_complete_once(void **state)
{
	struct fixture *f = *state;
	char path[32];

	f->srv.resp[0] = (struct mini_resp){ 200, NULL, "{\"n\":1}" };
	f->srv.nresp = 1;
	for (int i = 0; i < NXFER; i++) {
		snprintf(path, sizeof(path), "/r/%d", i);
		add(f, i, f->srv.port, path, 10000);
	}
	assert_int_equal(http_active(f->http), NXFER);
	run_until_done(f, NXFER);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	for (int i = 0; i < NXFER; i++) {
		assert_int_equal(f->x[i].calls, 1);
		assert_int_equal(f->x[i].result, CURLE_OK);
		assert_int_equal(f->x[i].status, 200);
		assert_string_equal(f->x[i].body, "{\"n\":1}");
	}
	assert_int_equal(f->srv.nreq, NXFER);
	assert_int_equal(http_active(f->http), 0);
}

static void
test_close_with_transfers_in_flight_fires_no_callback(void **state)
{
	struct fixture *f = *state;

	/* Some held open by the server, some not yet connected: closing
	 * fires no callback, and the teardown's uv_loop_close() == 0 shows
	 * it left no handle behind. */
	f->srv.resp[0] = (struct mini_resp){ -1, NULL, NULL };
	f->srv.nresp = 1;
	for (int i = 0; i < 4; i++)
		add(f, i, f->srv.port, "/", 60000);
	while (f->srv.nreq < 2)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
	for (int i = 4; i < 8; i++)
		add(f, i, f->srv.port, "/", 60000);
	http_close(f->http);
	f->http = NULL;
	f->expect_none = 1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_completes_and_callback_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_counts_transfers_until_their_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused_reaches_callback_once_as_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_connection_reaches_callback_once_as_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_server_times_out_once_from_the_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_transfer_never_calls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_transfer_in_mid_flight_never_calls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_concurrent_requests_all_complete_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_transfers_in_flight_fires_no_callback, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
