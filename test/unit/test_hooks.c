/*
 * Unit tests for hooks.c: real children through uv_spawn on a real loop.
 * Each test counts the runs the module reports, and ends with every
 * handle closed and uv_loop_close() == 0.  The agent's log (stderr) goes
 * to a file per test, so messages can be asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "hooks.h"
#include "log.h"

#define MAX_HOOKS 8
#define MAX_RUNS 16

struct fx {
	uv_loop_t loop;
	struct hooks_opts cfg;
	struct hook_def hk[MAX_HOOKS];
	char *argv[MAX_HOOKS][8];
	char names[MAX_HOOKS][32];
	struct hooks *hooks;
	char dir[64];
	char log_path[128];
	int saved_stderr;
	/* what the done callback saw */
	struct hooks_result res[MAX_RUNS];
	uint64_t res_at[MAX_RUNS];
	int nres;
	int close_after;	/* close the module after this many runs */
	void (*on_run)(struct fx *fx);	/* extra step after each run */
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_hooks.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/agent.log", fx->dir);
	fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(fx->saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_setup(LOGL_INFO, 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->cfg.retry.min_ms = 100;
	fx->cfg.retry.max_ms = 200;
	fx->cfg.defs = fx->hk;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	if (fx->hooks)
		hooks_close(fx->hooks);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
on_done(void *arg, const struct hooks_result *r)
{
	struct fx *fx = arg;

	assert_true(fx->nres < MAX_RUNS);
	fx->res[fx->nres] = *r;
	fx->res[fx->nres].name = NULL;	/* only valid during the callback */
	fx->res_at[fx->nres] = uv_now(&fx->loop);
	fx->nres++;
	if (fx->on_run)
		fx->on_run(fx);
	if (fx->close_after && fx->nres == fx->close_after) {
		hooks_close(fx->hooks);
		fx->hooks = NULL;
	}
}

/* A command hook NAME running ARGV (NULL-terminated). */
static void
add_command(struct fx *fx, const char *name, uint64_t timeout_ms, ...)
{
	struct hook_def *h = &fx->hk[fx->cfg.n];
	char **argv = fx->argv[fx->cfg.n];
	va_list ap;
	size_t n = 0;

	va_start(ap, timeout_ms);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	snprintf(fx->names[fx->cfg.n], sizeof(fx->names[0]), "%s", name);
	h->name = fx->names[fx->cfg.n];
	h->command = argv;
	h->n_command = n;
	h->timeout_ms = timeout_ms;
	fx->cfg.n++;
}

static void
add_signal(struct fx *fx, const char *name, int sig, char *pid_file)
{
	struct hook_def *h = &fx->hk[fx->cfg.n];

	snprintf(fx->names[fx->cfg.n], sizeof(fx->names[0]), "%s", name);
	h->name = fx->names[fx->cfg.n];
	h->signal = sig;
	h->pid_file = pid_file;
	fx->cfg.n++;
}

static void
start(struct fx *fx)
{
	assert_int_equal(hooks_new(&fx->loop, &fx->cfg, on_done, fx, &fx->hooks), 0);
}

static void
notify(struct fx *fx, const char *name, const char *path, const char *serial,
       int64_t not_after, const struct change_wait *wait)
{
	char *names[1] = { (char *)name };
	struct change c = {
		.hooks = names,
		.n_hooks = 1,
		.paths = &path,
		.n_paths = 1,
		.serial = serial,
		.not_after = not_after,
		.wait = *wait,
	};

	hooks_notify(fx->hooks, &c);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	assert_non_null(f);
	buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("expected to find \"%s\" in:\n%s", needle, hay);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* How many lines of TEXT are exactly LINE. */
static int
count_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;
	int n = 0;

	while (p && *p) {
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

static const struct change_wait no_wait = { 0, 0 };

/* ------------------------------------------------------------------ */

static void
test_command_environment_names_changed_files_and_certificate(void **state)
{
	struct fx *fx = *state;
	char out[128], *env, *log;
	const char *paths[2] = { "/tls/web.crt", "/tls/web.key" };
	char *names[1] = { "app" };
	struct change c = {
		.hooks = names,
		.n_hooks = 1,
		.paths = paths,
		.n_paths = 2,
		.serial = "0a:1b:2c",
		.not_after = 1893456000,	/* 2030-01-01T00:00:00Z */
	};
	struct hooks_stats st;

	snprintf(out, sizeof(out), "%s/env", fx->dir);
	assert_int_equal(setenv("CERTAGENT_TEST_SECRET", "hunter2-not-for-hooks", 1), 0);
	add_command(fx, "app", 5000, "/bin/sh", "-c",
		    "env > \"$0\"; echo hello from the hook; echo oops >&2", out, NULL);
	start(fx);
	hooks_notify(fx->hooks, &c);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	unsetenv("CERTAGENT_TEST_SECRET");

	assert_int_equal(fx->nres, 1);
	assert_true(fx->res[0].ok);
	assert_int_equal(fx->res[0].exit_status, 0);
	env = slurp(out);
	assert_contains(env, "\nCERTAGENT_CHANGED_FILES=/tls/web.crt\n/tls/web.key\n");
	assert_contains(env, "\nCERTAGENT_CERT_SERIAL=0a:1b:2c\n");
	assert_contains(env, "\nCERTAGENT_CERT_NOT_AFTER=2030-01-01T00:00:00Z\n");
	assert_contains(env, "\nPATH=");
	assert_null(strstr(env, "hunter2-not-for-hooks"));
	free(env);
	log = slurp(fx->log_path);
	assert_contains(log, "hooks: app: stdout: hello from the hook\n");
	assert_contains(log, "hooks: app: stderr: oops\n");
	assert_contains(log, "hooks: app: exited 0\n");
	free(log);
	assert_int_equal(hooks_get_stats(fx->hooks, "app", &st), 0);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.failures, 0);
}

static void
test_timeout_kills_a_sleeping_command(void **state)
{
	struct fx *fx = *state;
	struct hooks_stats st;
	uint64_t t0;

	add_command(fx, "slow", 200, "sleep", "30", NULL);
	start(fx);
	fx->close_after = 1;	/* no retry: the test is about the kill */
	t0 = uv_now(&fx->loop);
	notify(fx, "slow", "/x", NULL, 0, &no_wait);
	assert_int_equal(hooks_get_stats(fx->hooks, "slow", &st), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);

	assert_int_equal(fx->nres, 1);
	assert_false(fx->res[0].ok);
	assert_true(fx->res[0].timed_out);
	assert_int_equal(fx->res[0].term_signal, SIGTERM);
	assert_true(fx->res[0].pid > 1);
	assert_true(fx->res_at[0] - t0 >= 200);
	char *log = slurp(fx->log_path);
	assert_contains(log, "slow: pid ");
	assert_contains(log, "still running after 0.2s; sending SIGTERM");
	assert_contains(log, "slow: timed out after 0.2s");
	free(log);
}

static void
notify_b_after_first_failure(struct fx *fx)
{
	if (fx->nres == 1)
		notify(fx, "flaky", "/b", NULL, 0, &no_wait);
}

static void
test_failing_command_is_retried_with_backoff_and_counted(void **state)
{
	struct fx *fx = *state;
	char out[128], *text;
	struct hooks_stats st;

	snprintf(out, sizeof(out), "%s/runs", fx->dir);
	fx->cfg.retry.min_ms = 150;
	fx->cfg.retry.max_ms = 300;
	add_command(fx, "flaky", 5000, "/bin/sh", "-c",
		    "echo \"$CERTAGENT_CHANGED_FILES\" >> \"$0\"; exit 3", out, NULL);
	start(fx);
	fx->on_run = notify_b_after_first_failure;	/* folds into the retry */
	notify(fx, "flaky", "/a", NULL, 0, &no_wait);
	/* Stop counting after the third failure. */
	while (fx->nres < 3)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(hooks_get_stats(fx->hooks, "flaky", &st), 0);
	hooks_close(fx->hooks);
	fx->hooks = NULL;
	uv_run(&fx->loop, UV_RUN_DEFAULT);

	assert_int_equal(fx->nres, 3);
	assert_int_equal(st.runs, 3);
	assert_int_equal(st.failures, 3);
	for (int i = 0; i < 3; i++) {
		assert_false(fx->res[i].ok);
		assert_int_equal(fx->res[i].exit_status, 3);
	}
	/* Backoff, not a tight loop: the change after the first failure
	 * did not start a run before the retry was due. */
	assert_true(fx->res_at[1] - fx->res_at[0] >= 150);
	assert_true(fx->res_at[2] - fx->res_at[1] >= 150);
	text = slurp(out);
	assert_string_equal(text, "/a\n/a\n/b\n/a\n/b\n");
	free(text);
	text = slurp(fx->log_path);
	assert_contains(text, "flaky: exited with status 3; failure 1, next try in ");
	assert_contains(text, "flaky: exited with status 3; failure 3, next try in ");
	free(text);
}

struct child {
	uv_process_t proc;
	int exited;
	int term_signal;
};

static void
on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct child *c = p->data;

	(void)status;
	c->exited = 1;
	c->term_signal = term_signal;
	uv_close((uv_handle_t *)p, NULL);
}

static void
spawn_sleep(struct fx *fx, struct child *c)
{
	char *args[] = { "sleep", "30", NULL };
	uv_process_options_t o = { 0 };
	int rc;

	o.file = args[0];
	o.args = args;
	o.exit_cb = on_child_exit;
	c->proc.data = c;
	rc = uv_spawn(&fx->loop, &c->proc, &o);
	if (rc != 0) {
		uv_close((uv_handle_t *)&c->proc, NULL);
		fail_msg("spawn sleep: %s", uv_strerror(rc));
	}
}

static void
test_signal_goes_to_the_pid_in_the_pid_file_when_sent(void **state)
{
	struct fx *fx = *state;
	struct change_wait wait = { 50, 1000 };
	struct child c = { 0 };
	char pid_file[128], text[32], big[256];

	snprintf(pid_file, sizeof(pid_file), "%s/app.pid", fx->dir);
	write_text(pid_file, "not yet\n");
	add_signal(fx, "app", SIGUSR1, pid_file);
	start(fx);
	notify(fx, "app", "/etc/app/tls.crt", NULL, 0, &wait);
	/* The service (re)starts after the change: its new pid is what
	 * counts, because the file is read when the signal is sent. */
	spawn_sleep(fx, &c);
	/* As PostgreSQL writes postmaster.pid: the pid, then more lines. */
	snprintf(text, sizeof(text), "%d\n", c.proc.pid);
	snprintf(big, sizeof(big), "%s/var/lib/postgresql/15/main\n1764000000\n"
		 "5432\n/var/run/postgresql\n*\n  5432001    131072\nready   \n",
		 text);
	write_text(pid_file, big);
	uv_run(&fx->loop, UV_RUN_DEFAULT);

	assert_int_equal(fx->nres, 1);
	assert_true(fx->res[0].ok);
	assert_int_equal(fx->res[0].pid, c.proc.pid);
	assert_true(c.exited);
	assert_int_equal(c.term_signal, SIGUSR1);
	char *log = slurp(fx->log_path);
	assert_contains(log, "app: sent SIGUSR1 to pid ");
	assert_contains(log, pid_file);
	free(log);
}

static void
test_bad_pid_files_signal_nobody_and_log_the_path(void **state)
{
	struct fx *fx = *state;
	char p[5][128], expect[256], *log;
	const char *const contents[5] = {
		NULL,			/* missing */
		"12abc\n",		/* garbled */
		"1\n",			/* init */
		"0\n",			/* our own process group */
		"2147483646\n",		/* above any pid_max: no such process */
	};
	struct child sentinel = { 0 };

	/* A live process nobody names: it must still be alive at the end. */
	spawn_sleep(fx, &sentinel);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(p[i], sizeof(p[i]), "%s/svc%d.pid", fx->dir, i);
		if (contents[i])
			write_text(p[i], contents[i]);
		snprintf(name, sizeof(name), "svc%d", i);
		add_signal(fx, name, SIGTERM, p[i]);
	}
	start(fx);
	fx->close_after = 5;
	for (int i = 0; i < 5; i++)
		notify(fx, fx->names[i], "/x", NULL, 0, &no_wait);
	while (fx->nres < 5)
		uv_run(&fx->loop, UV_RUN_ONCE);

	for (int i = 0; i < 5; i++) {
		assert_false(fx->res[i].ok);
		assert_int_equal(fx->res[i].pid, 0);
	}
	log = slurp(fx->log_path);
	snprintf(expect, sizeof(expect), "svc0: pid file: %s: cannot open", p[0]);
	assert_contains(log, expect);
	snprintf(expect, sizeof(expect), "svc1: pid file %s does not hold a process id",
		 p[1]);
	assert_contains(log, expect);
	snprintf(expect, sizeof(expect), "svc2: pid file %s names pid 1; refusing", p[2]);
	assert_contains(log, expect);
	snprintf(expect, sizeof(expect), "svc3: pid file %s names pid 0; refusing", p[3]);
	assert_contains(log, expect);
	snprintf(expect, sizeof(expect), "svc4: stale pid file %s: no process "
		 "2147483646; nothing signalled", p[4]);
	assert_contains(log, expect);
	free(log);
	assert_false(sentinel.exited);
	assert_int_equal(kill(sentinel.proc.pid, 0), 0);
	assert_int_equal(uv_process_kill(&sentinel.proc, SIGKILL), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(sentinel.term_signal, SIGKILL);	/* ours, not a hook's */
}

struct burst {
	struct fx *fx;
	uv_timer_t timer;
	int sent, count;
	uint64_t last_at;
	const struct change_wait *wait;
};

static void
on_burst(uv_timer_t *t)
{
	struct burst *b = t->data;
	char path[16];

	snprintf(path, sizeof(path), "/%d", ++b->sent);
	notify(b->fx, "app", path, NULL, 0, b->wait);
	b->last_at = uv_now(&b->fx->loop);
	if (b->sent == b->count)
		uv_close((uv_handle_t *)t, NULL);
}

static void
test_three_changes_within_min_run_the_hook_once(void **state)
{
	struct fx *fx = *state;
	struct change_wait wait = { 300, 10000 };
	struct burst b = { .fx = fx, .wait = &wait, .count = 3 };
	struct hooks_stats st;
	char out[128], *text;

	snprintf(out, sizeof(out), "%s/runs", fx->dir);
	add_command(fx, "app", 5000, "/bin/sh", "-c",
		    "echo \"$CERTAGENT_CHANGED_FILES\" >> \"$0\"", out, NULL);
	start(fx);
	uv_timer_init(&fx->loop, &b.timer);
	b.timer.data = &b;
	uv_timer_start(&b.timer, on_burst, 0, 50);
	uv_run(&fx->loop, UV_RUN_DEFAULT);	/* returns once all is idle */

	assert_int_equal(b.sent, 3);
	assert_int_equal(fx->nres, 1);
	assert_true(fx->res[0].ok);
	assert_int_equal(hooks_get_stats(fx->hooks, "app", &st), 0);
	assert_int_equal(st.runs, 1);
	/* Each change restarted the quiet period. */
	assert_true(fx->res_at[0] - b.last_at >= 300);
	text = slurp(out);
	assert_string_equal(text, "/1\n/2\n/3\n");
	free(text);
}

static void
test_max_bounds_the_quiet_period_of_a_steady_stream(void **state)
{
	struct fx *fx = *state;
	struct change_wait wait = { 300, 400 };
	struct burst b = { .fx = fx, .wait = &wait, .count = 10 };
	char out[128], *text, *first_run;

	snprintf(out, sizeof(out), "%s/runs", fx->dir);
	add_command(fx, "app", 5000, "/bin/sh", "-c",
		    "echo \"$CERTAGENT_CHANGED_FILES\" >> \"$0\"; echo -- >> \"$0\"",
		    out, NULL);
	start(fx);
	uv_timer_init(&fx->loop, &b.timer);
	b.timer.data = &b;
	/* A change every 100 ms, 10 times: each restarts the 300 ms quiet
	 * period, so without max nothing would run until the stream ends. */
	uv_timer_start(&b.timer, on_burst, 0, 100);
	uv_run(&fx->loop, UV_RUN_DEFAULT);

	assert_int_equal(b.sent, 10);
	assert_true(fx->nres >= 2);
	text = slurp(out);
	first_run = strndup(text, (size_t)(strstr(text, "--\n") - text));
	assert_non_null(first_run);
	assert_contains(first_run, "/1\n");
	assert_null(strstr(first_run, "/10\n"));	/* ran before the stream ended */
	for (int i = 1; i <= 10; i++) {
		char line[16];
		snprintf(line, sizeof(line), "/%d", i);
		assert_int_equal(count_line(text, line), 1);	/* in exactly one run */
	}
	free(first_run);
	free(text);
}

static void
test_spawn_failure_closes_handles_and_counts_as_failure(void **state)
{
	struct fx *fx = *state;
	struct hooks_stats st;
	char *log;

	add_command(fx, "broken", 5000, "/nonexistent/certagent-hook", NULL);
	start(fx);
	notify(fx, "broken", "/x", NULL, 0, &no_wait);
	while (fx->nres < 1)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(hooks_get_stats(fx->hooks, "broken", &st), 0);
	assert_int_equal(st.failures, 1);
	assert_false(fx->res[0].ok);
	assert_int_equal(fx->res[0].pid, 0);
	log = slurp(fx->log_path);
	assert_contains(log, "broken: cannot run /nonexistent/certagent-hook: ");
	assert_contains(log, "failure 1, next try in ");
	free(log);
	/* teardown closes the module with the retry pending: the loop must
	 * still close with nothing left open. */
}

static void
test_output_is_logged_by_line_up_to_a_cap(void **state)
{
	struct fx *fx = *state;
	char *log, *p;
	int lines = 0;

	add_command(fx, "chatty", 10000, "/bin/sh", "-c",
		    "echo first; i=0; while [ $i -lt 20000 ]; do echo line$i; "
		    "i=$((i+1)); done",
		    NULL);
	start(fx);
	notify(fx, "chatty", "/x", NULL, 0, &no_wait);
	uv_run(&fx->loop, UV_RUN_DEFAULT);

	assert_int_equal(fx->nres, 1);
	assert_true(fx->res[0].ok);	/* never blocked on a full pipe */
	log = slurp(fx->log_path);
	assert_contains(log, "chatty: stdout: first\n");
	assert_contains(log, "more bytes of output not logged (limit 16384 per run)");
	for (p = strstr(log, "chatty: stdout: line"); p;
	     p = strstr(p + 1, "chatty: stdout: line"))
		lines++;
	/* 16 KiB of "lineN\n" (7 to 10 bytes each): some, not 20,000. */
	assert_true(lines > 1000);
	assert_true(lines < 16384 / 6);
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_command_environment_names_changed_files_and_certificate),
		T(test_timeout_kills_a_sleeping_command),
		T(test_failing_command_is_retried_with_backoff_and_counted),
		T(test_signal_goes_to_the_pid_in_the_pid_file_when_sent),
		T(test_bad_pid_files_signal_nobody_and_log_the_path),
		T(test_three_changes_within_min_run_the_hook_once),
		T(test_max_bounds_the_quiet_period_of_a_steady_stream),
		T(test_spawn_failure_closes_handles_and_counts_as_failure),
		T(test_output_is_logged_by_line_up_to_a_cap),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
