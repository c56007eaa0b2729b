/*
 * Unit tests for the revocation journal of revoke.c (revoke_journal:):
 * what is pending is written 0600, read back by a new queue, kept by a
 * stop, and a failing revocation is retried past the five attempts a
 * queue without a journal allows.  The fixture is test_revoke.c's, with
 * a journal.
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
#include <sys/stat.h>
#include <unistd.h>

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
	char journal[128];
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
	snprintf(fx->journal, sizeof(fx->journal), "/tmp/certagent-journal-%ld.json",
		 (long)getpid());
	unlink(fx->journal);
	fx->cfg.journal = fx->journal;
	assert_int_equal(revq_new(&fx->loop, fx->vault, &fx->cfg, &fx->q), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->q)
		revq_close(fx->q);
	vault_close(fx->vault);
	http_close(fx->http);
	mini_stop(&fx->srv);
	uv_close((uv_handle_t *)&fx->tick, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	mini_free(&fx->srv);
	unlink(fx->journal);
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


/* The journal's text, or "" when there is none. */
static void
journal_text(const struct fx *fx, char *buf, size_t len)
{
	FILE *f = fopen(fx->journal, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
test_a_pending_revocation_is_journaled_0600_and_read_back_by_a_new_queue(void **state)
{
	struct fx *fx = *state;
	char text[4096];
	struct stat st;

	assert_int_equal(revq_add_grace(fx->q, "tenant1", "pki_int", "39:dd:01",
					wall_ms() + 300), 0);
	assert_int_equal(revq_journal_save(fx->q), 0);
	assert_int_equal(stat(fx->journal, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	journal_text(fx, text, sizeof(text));
	assert_non_null(strstr(text, "39:dd:01"));
	assert_non_null(strstr(text, "tenant1"));
	/* A stop: the queue goes (not due: nothing sent), a new one reads it. */
	revq_close(fx->q);
	fx->q = NULL;
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(sent(fx, "39:dd:01"), 0);
	assert_int_equal(revq_new(&fx->loop, fx->vault, &fx->cfg, &fx->q), 0);
	assert_int_equal(revq_pending(fx->q), 1);
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	assert_int_equal(sent(fx, "39:dd:01"), 1);
	assert_int_equal(revq_journal_save(fx->q), 0);
	journal_text(fx, text, sizeof(text));
	assert_null(strstr(text, "39:dd:01"));
}

static void
test_with_a_journal_a_failing_revocation_is_retried_until_it_succeeds(void **state)
{
	struct fx *fx = *state;
	struct revq_stats rs;

	for (int i = 0; i < 8; i++)
		fx->status[i] = 500;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:02", 0), 0);
	RUN_UNTIL(fx, revq_pending(fx->q) == 0);
	assert_int_equal(sent(fx, "39:dd:02"), 9);
	revq_get_stats(fx->q, &rs);
	assert_int_equal(rs.failures, 8);
	assert_int_equal(rs.revoked, 1);
	assert_int_equal(rs.failing, 0);
}

static void
test_a_failing_revocation_shows_in_the_stats_and_items(void **state)
{
	struct fx *fx = *state;
	struct revq_stats rs;
	struct revq_item it;

	for (int i = 0; i < MINI_MAX_REQ; i++)
		fx->status[i] = 500;
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:03", 0), 0);
	RUN_UNTIL(fx, fx->srv.nreq >= 2);
	revq_get_stats(fx->q, &rs);
	assert_int_equal(rs.pending, 1);
	assert_int_equal(rs.failing, 1);
	assert_int_equal(revq_count(fx->q), 1);
	revq_get_item(fx->q, 0, &it);
	assert_string_equal(it.serial, "39:dd:03");
	assert_true(it.attempts >= 1);
}

static void
test_flush_keeps_what_is_not_due_in_the_journal(void **state)
{
	struct fx *fx = *state;
	char text[4096];

	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:04",
				  wall_ms() + 3600 * 1000), 0);
	assert_int_equal(revq_add(fx->q, "web", "pki_int", "39:dd:05", 0), 0);
	revq_flush(fx->q, on_flushed, fx);
	RUN_UNTIL(fx, fx->done == 1);
	assert_int_equal(sent(fx, "39:dd:05"), 1);
	assert_int_equal(sent(fx, "39:dd:04"), 0);
	assert_int_equal(revq_journal_save(fx->q), 0);
	journal_text(fx, text, sizeof(text));
	assert_non_null(strstr(text, "39:dd:04"));
	assert_null(strstr(text, "39:dd:05"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_pending_revocation_is_journaled_0600_and_read_back_by_a_new_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_with_a_journal_a_failing_revocation_is_retried_until_it_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_failing_revocation_shows_in_the_stats_and_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_keeps_what_is_not_due_in_the_journal, setup, teardown),
	};
	return cmocka_run_group_tests_name("revoke_journal", tests, NULL, NULL);
}
