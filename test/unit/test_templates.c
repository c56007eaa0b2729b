/*
 * Unit tests for templates.c: templates rendered from the real deps
 * store, fed by a fake Vault (minihttp.h) whose data the test changes,
 * written to a temporary directory.  Each test counts the batches that
 * completed and the files reported changed, looks at the files (bytes,
 * inode) and ends with every handle closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "change.h"
#include "deps.h"
#include "files.h"
#include "http.h"
#include "log.h"
#include "templates.h"
#include "vault.h"
#include "minihttp.h"

#define NT 2
#define MAX_CHANGED 16

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
	struct deps_opts dcfg;
	struct deps *deps;
	struct template_def defs[NT];
	struct templates_opts cfg;
	struct templates *t;
	char dir[64];
	char token_file[128];
	char dest[NT][128];

	/* What the templates reported. */
	int done;
	unsigned last_errors;
	char changed[MAX_CHANGED][128];
	int nchanged;

	/* The fake Vault: kv/one and kv/two, {"user": "<name>-v<version>"}. */
	int version[NT];
	int status[NT];
	char body[1024];
	struct mini_resp resp;
};

static const struct mini_resp *
route(struct mini_server *srv, const char *req)
{
	static const char *const paths[NT] = { "GET /v1/kv/one ", "GET /v1/kv/two " };
	static const char *const names[NT] = { "one", "two" };
	struct fx *fx = srv->arg;

	fx->resp = (struct mini_resp){ 200, NULL, fx->body };
	if (strncmp(req, "GET /v1/auth/token/lookup-self ", 31) == 0) {
		snprintf(fx->body, sizeof(fx->body),
			 "{\"data\":{\"ttl\":0,\"renewable\":false}}");
		return &fx->resp;
	}
	for (int i = 0; i < NT; i++) {
		if (strncmp(req, paths[i], strlen(paths[i])) != 0)
			continue;
		fx->resp.status = fx->status[i];
		if (fx->status[i] == 200)
			snprintf(fx->body, sizeof(fx->body),
				 "{\"request_id\":\"r%d\",\"lease_duration\":0,"
				 "\"data\":{\"user\":\"%s-v%d\"}}",
				 srv->nreq, names[i], fx->version[i]);
		else
			snprintf(fx->body, sizeof(fx->body),
				 "{\"errors\":[\"permission to kv/%s denied\"]}", names[i]);
		return &fx->resp;
	}
	fx->resp.status = 404;
	snprintf(fx->body, sizeof(fx->body), "{\"errors\":[]}");
	return &fx->resp;
}

static void
on_deps_changed(void *arg)
{
	struct fx *fx = arg;

	if (fx->t)
		templates_schedule(fx->t);
}

static void
on_done(void *arg, unsigned errors)
{
	struct fx *fx = arg;

	fx->done++;
	fx->last_errors = errors;
}

static void
on_changed(void *arg, const struct change *c)
{
	struct fx *fx = arg;

	for (size_t i = 0; i < c->n_paths; i++) {
		assert_true(fx->nchanged < MAX_CHANGED);
		snprintf(fx->changed[fx->nchanged++], sizeof(fx->changed[0]), "%s",
			 c->paths[i]);
	}
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];
	int fd;

	assert_non_null(fx);
	log_setup(LOGL_ERROR, 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_templates.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	fd = open(fx->token_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hvs.tpl-test", 12), 12);
	close(fd);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	mini_tick_start(&fx->loop, &fx->tick);
	assert_int_equal(mini_start(&fx->loop, &fx->srv), 0);
	fx->srv.route = route;
	fx->srv.arg = fx;
	for (int i = 0; i < NT; i++) {
		fx->version[i] = 1;
		fx->status[i] = 200;
		snprintf(fx->dest[i], sizeof(fx->dest[i]), "%s/out%d.conf", fx->dir, i);
		fx->defs[i].destination = fx->dest[i];
		fx->defs[i].mode = 0640;
	}
	fx->defs[0].contents = "user={{ with secret \"kv/one\" }}{{ .Data.user }}{{ end }}\n";
	fx->defs[1].contents = "user={{ with secret \"kv/two\" }}{{ .Data.user }}{{ end }}\n";
	fx->cfg.defs = fx->defs;
	fx->cfg.n = 1;
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
	auth_start(fx->auth);
	fx->dcfg.refresh_ms = 3600 * 1000;
	fx->dcfg.lease_renew_fraction = 0.8;
	fx->dcfg.retry.min_ms = 10;
	fx->dcfg.retry.max_ms = 20;
	assert_int_equal(deps_new(&fx->loop, fx->vault, fx->auth, &fx->dcfg,
				  on_deps_changed, fx, &fx->deps),
			 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	if (fx->t)
		templates_close(fx->t);
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

static void
start(struct fx *fx, size_t n)
{
	struct templates_events ev = { on_done, on_changed, fx };

	fx->cfg.n = n;
	assert_int_equal(templates_new(&fx->loop, fx->deps, NULL, &fx->cfg, 0, &ev,
				       &fx->t),
			 0);
	templates_start(fx->t);
}


static struct templates_stats
stats(const struct fx *fx)
{
	struct templates_stats st;

	templates_get_stats(fx->t, &st);
	return st;
}

static void
assert_file(const char *path, const char *want)
{
	char *text = NULL, err[256];
	size_t len;

	assert_int_equal(files_read(path, 1 << 16, &text, &len, err, sizeof(err)), 0);
	assert_string_equal(text, want);
	free(text);
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static int
changes_of(const struct fx *fx, const char *path)
{
	int n = 0;

	for (int i = 0; i < fx->nchanged; i++)
		n += strcmp(fx->changed[i], path) == 0;
	return n;
}

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* ------------------------------------------------------------------ */

static void
test_template_waits_for_its_data_then_writes_its_file(void **state)
{
	struct fx *fx = *state;
	struct stat st;

	start(fx, 1);
	/* The first batch finds the data still being fetched. */
	RUN_UNTIL(fx, stats(fx).pending == 1);
	assert_int_equal(fx->done, 0);
	assert_int_equal(access(fx->dest[0], F_OK), -1);

	RUN_UNTIL(fx, fx->done == 1);
	assert_int_equal(fx->last_errors, 0);
	assert_file(fx->dest[0], "user=one-v1\n");
	assert_int_equal(stat(fx->dest[0], &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(fx->nchanged, 1);
	assert_string_equal(fx->changed[0], fx->dest[0]);
	assert_int_equal(stats(fx).writes, 1);
	assert_int_equal(stats(fx).pending, 0);
}

static void
test_dirty_template_with_the_same_bytes_is_not_rewritten(void **state)
{
	struct fx *fx = *state;
	ino_t ino;

	start(fx, 1);
	RUN_UNTIL(fx, fx->done == 1);
	ino = inode_of(fx->dest[0]);
	/* Marked dirty again with nothing new: it renders, writes nothing. */
	templates_schedule(fx->t);
	templates_schedule(fx->t);	/* calls coalesce into one batch */
	RUN_UNTIL(fx, fx->done == 2);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->done, 2);
	assert_int_equal(stats(fx).renders, 2);
	assert_int_equal(stats(fx).writes, 1);
	assert_int_equal(fx->nchanged, 1);
	/* An atomic write would have replaced the inode. */
	assert_true(inode_of(fx->dest[0]) == ino);
	assert_file(fx->dest[0], "user=one-v1\n");
}

static void
test_changed_data_rewrites_only_the_template_that_uses_it(void **state)
{
	struct fx *fx = *state;
	ino_t ino1;

	fx->dcfg.refresh_ms = 20;
	start(fx, 2);
	RUN_UNTIL(fx, fx->done >= 1 && stats(fx).writes == 2);
	ino1 = inode_of(fx->dest[1]);
	fx->version[0] = 2;
	RUN_UNTIL(fx, stats(fx).writes == 3);

	assert_file(fx->dest[0], "user=one-v2\n");
	assert_file(fx->dest[1], "user=two-v1\n");
	assert_true(inode_of(fx->dest[1]) == ino1);
	assert_int_equal(changes_of(fx, fx->dest[0]), 2);
	assert_int_equal(changes_of(fx, fx->dest[1]), 1);
}

static void
test_failing_dependency_keeps_the_old_file_and_spares_the_other(void **state)
{
	struct fx *fx = *state;
	struct templates_stats st;

	write_file(fx->dest[0], "user=from-before\n");
	fx->status[0] = 404;	/* final, and no new login as a 403 would */
	start(fx, 2);
	RUN_UNTIL(fx, fx->done >= 1);

	assert_int_equal(fx->last_errors, 1);
	assert_file(fx->dest[0], "user=from-before\n");
	assert_file(fx->dest[1], "user=two-v1\n");
	assert_int_equal(changes_of(fx, fx->dest[0]), 0);
	assert_int_equal(changes_of(fx, fx->dest[1]), 1);
	st = stats(fx);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.writes, 1);

	/* Later batches say the same error again only if it changes. */
	int done = fx->done;
	templates_schedule(fx->t);
	RUN_UNTIL(fx, fx->done == done + 1);
	assert_int_equal(stats(fx).errors, 1);
	assert_file(fx->dest[0], "user=from-before\n");
}

static void
test_template_that_does_not_parse_leaves_out_only_itself(void **state)
{
	struct fx *fx = *state;

	fx->defs[0].contents = "user={{ if }}\n";
	write_file(fx->dest[0], "untouched\n");
	start(fx, 2);
	RUN_UNTIL(fx, fx->done >= 1);

	assert_int_equal(fx->last_errors, 1);
	assert_file(fx->dest[0], "untouched\n");
	assert_file(fx->dest[1], "user=two-v1\n");
	assert_int_equal(stats(fx).errors, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_template_waits_for_its_data_then_writes_its_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_template_with_the_same_bytes_is_not_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_data_rewrites_only_the_template_that_uses_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_dependency_keeps_the_old_file_and_spares_the_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_that_does_not_parse_leaves_out_only_itself, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("templates", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
