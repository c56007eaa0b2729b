/*
 * Unit tests for child.c: real applications (/bin/sh scripts) through
 * uv_spawn on a real loop.  The scripts report to files in a temporary
 * directory; the test polls those files with a timer while the loop runs.
 * Each test ends with every handle closed and uv_loop_close() == 0; the
 * agent's log (stderr) goes to a file per test, so messages can be
 * asserted.  Time bounds are generous: these are not benchmarks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "child.h"
#include "log.h"

#define WAIT_MS 10000	/* give up waiting for a file after this */

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;	/* wakes the loop while polling files */
	struct child *child;
	char dir[64];
	char log_path[128];
	char out[128];		/* what the scripts write */
	char ready[128];	/* written once a script's traps are set */
	int saved_stderr;
	/* what the callbacks saw */
	int nexit, exit_code;
	int ndone, done_code;
	uint64_t done_at;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_child.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/agent.log", fx->dir);
	snprintf(fx->out, sizeof(fx->out), "%s/out", fx->dir);
	snprintf(fx->ready, sizeof(fx->ready), "%s/ready", fx->dir);
	fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(fx->saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_setup(LOGL_DEBUG, 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(uv_timer_init(&fx->loop, &fx->tick), 0);
	fx->exit_code = fx->done_code = -100;
	*state = fx;
	return 0;
}

static void
on_done(void *arg, int exit_code)
{
	struct fx *fx = arg;

	fx->ndone++;
	fx->done_code = exit_code;
	fx->done_at = uv_now(&fx->loop);
}

static void
on_exit_cb(void *arg, int exit_code)
{
	struct fx *fx = arg;

	fx->nexit++;
	fx->exit_code = exit_code;
}

/* A child running /bin/sh -c SCRIPT with $0 = fx->out, $1 = fx->ready. */
static void
new_sh(struct fx *fx, enum child_reload reload, int sig, uint64_t kill_ms,
       const char *script)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, fx->out, fx->ready, NULL };
	struct child_opts o = {
		.argv = argv,
		.reload = reload,
		.reload_signal = sig,
		.kill_timeout_ms = kill_ms,
	};

	assert_int_equal(child_new(&fx->loop, &o, on_exit_cb, fx, &fx->child), 0);
}

static void
start(struct fx *fx)
{
	char err[256] = "";
	int rc = child_start(fx->child, err, sizeof(err));

	if (rc != 0)
		fail_msg("child_start: %d: %s", rc, err);
}

static void
on_tick(uv_timer_t *t)
{
	(void)t;
}

/*
 * Stop the child and run the loop until DONE: its exit code, or -200 if
 * the child was still there after WAIT_MS (then it is SIGKILLed, so that
 * a failing test leaves nothing behind).
 */
static int
stop(struct fx *fx)
{
	long pid = child_pid(fx->child);
	uint64_t t0 = uv_now(&fx->loop);
	int timed_out = 0;

	child_stop(fx->child, on_done, fx);
	fx->child = NULL;
	uv_timer_start(&fx->tick, on_tick, 10, 10);
	while (fx->ndone == 0) {
		if (!timed_out && uv_now(&fx->loop) - t0 >= WAIT_MS) {
			timed_out = 1;
			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
		uv_run(&fx->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&fx->tick);
	return timed_out ? -200 : fx->done_code;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	if (fx->child)
		stop(fx);
	uv_close((uv_handle_t *)&fx->tick, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	buf = calloc(1, 1 << 16);
	assert_non_null(buf);
	if (f == NULL)
		return buf;	/* not written yet: empty */
	n = fread(buf, 1, (1 << 16) - 1, f);
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

static int
count_lines(const char *path)
{
	char *text = slurp(path);
	int n = 0;

	for (char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* Run the loop for MS milliseconds. */
static void
run_for(struct fx *fx, uint64_t ms)
{
	uint64_t t0 = uv_now(&fx->loop);

	uv_timer_start(&fx->tick, on_tick, 10, 10);
	while (uv_now(&fx->loop) - t0 < ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_timer_stop(&fx->tick);
}

/* Run the loop until PATH holds at least N lines. */
static void
wait_lines(struct fx *fx, const char *path, int n)
{
	uint64_t t0 = uv_now(&fx->loop);

	uv_timer_start(&fx->tick, on_tick, 10, 10);
	while (count_lines(path) < n && uv_now(&fx->loop) - t0 < WAIT_MS)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_timer_stop(&fx->tick);
	if (count_lines(path) < n) {
		char *text = slurp(path);
		fail_msg("%s: expected %d lines after %d ms, got:\n%s", path, n,
			 WAIT_MS, text);
	}
}

/* Run the loop until the exit callback fired N times. */
static void
wait_exits(struct fx *fx, int n)
{
	uint64_t t0 = uv_now(&fx->loop);

	uv_timer_start(&fx->tick, on_tick, 10, 10);
	while (fx->nexit < n && uv_now(&fx->loop) - t0 < WAIT_MS)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_timer_stop(&fx->tick);
	assert_int_equal(fx->nexit, n);
}

/* The Nth line (1-based) of PATH as a pid. */
static long
read_pid(const char *path, int n)
{
	char *text = slurp(path), *p = text, *end;
	long pid;

	for (int i = 1; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	assert_non_null(p);
	pid = strtol(p, &end, 10);
	assert_true(end != p && *end == '\n');
	free(text);
	return pid;
}

static int
process_gone(long pid)
{
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* A script that records its pid, sets TRAPS, says it is ready and waits. */
#define WAITING(traps)							\
	traps "echo $$ >> \"$0\"; echo ready >> \"$1\"; "		\
	"while :; do sleep 0.05; done"

/* ------------------------------------------------------------------ */

static void
test_start_runs_argv_with_the_agents_environment_and_reports_its_pid(void **state)
{
	struct fx *fx = *state;
	char *text, *log;
	long pid;

	assert_int_equal(setenv("CERTAGENT_TEST_APP_SECRET", "s3cret-for-the-app", 1), 0);
	new_sh(fx, CHILD_SIGNAL, 0, 0,
	       "echo $$ > \"$0\"; echo \"args $0 $1\" >> \"$0\"; "
	       "echo \"env $CERTAGENT_TEST_APP_SECRET\" >> \"$0\"; exec sleep 30");
	assert_int_equal(child_pid(fx->child), 0);
	start(fx);
	unsetenv("CERTAGENT_TEST_APP_SECRET");
	pid = child_pid(fx->child);
	assert_true(pid > 1);
	wait_lines(fx, fx->out, 3);

	assert_int_equal(read_pid(fx->out, 1), pid);
	text = slurp(fx->out);
	assert_contains(text, "\nargs ");
	assert_contains(text, fx->ready);
	assert_contains(text, "\nenv s3cret-for-the-app\n");
	free(text);
	assert_int_equal(stop(fx), 128 + SIGTERM);	/* sleep got the SIGTERM */
	assert_int_equal(fx->nexit, 0);	/* a stop is not an exit of its own */
	assert_true(process_gone(pid));

	log = slurp(fx->log_path);
	assert_contains(log, "exec: started /bin/sh (pid ");
	assert_contains(log, "exec: stopping /bin/sh (pid ");
	assert_contains(log, "was killed by signal 15 (SIGTERM)");
	assert_null(strstr(log, "s3cret-for-the-app"));
	assert_null(strstr(log, "exec sleep"));	/* arguments are not logged */
	free(log);
}

/* Signals the agent ignores (SIGPIPE) are not ignored by its application. */
static void
test_child_starts_with_default_signal_dispositions(void **state)
{
	struct fx *fx = *state;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	char *text;

	if (access("/proc/self/status", R_OK) != 0)
		skip();
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	/* exec: grep reads its own status, with the mask and dispositions
	 * the shell was given.  Reading the shell's from a forked grep
	 * raced with dash, which blocks every signal around its wait for
	 * the child (seen once on a loaded machine: SigBlk 7ffbfeff). */
	new_sh(fx, CHILD_SIGNAL, 0, 0,
	       "exec grep -E '^Sig(Ign|Blk):' /proc/self/status > \"$0\"");
	start(fx);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 0);
	text = slurp(fx->out);
	/* Signals 1-31 only: 32 and up are glibc's own real-time signals,
	 * which some parents (GNU make) ignore and libuv leaves alone. */
	const char *blk = strstr(text, "SigBlk:\t"), *ignm = strstr(text, "SigIgn:\t");
	assert_non_null(blk);
	assert_non_null(ignm);
	assert_int_equal(strtoull(blk + 8, NULL, 16) & 0x7fffffffULL, 0);
	assert_int_equal(strtoull(ignm + 8, NULL, 16) & 0x7fffffffULL, 0);
	free(text);
}

static void
test_exit_status_goes_to_the_callback(void **state)
{
	struct fx *fx = *state;
	char *log;

	new_sh(fx, CHILD_SIGNAL, 0, 0, "exit 3");
	start(fx);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 3);
	assert_int_equal(child_pid(fx->child), 0);
	assert_int_equal(child_signal(fx->child, SIGTERM), -ESRCH);
	child_reload(fx->child);	/* nothing to reload: no effect */
	assert_int_equal(stop(fx), 3);	/* not running: done at once */
	assert_int_equal(fx->nexit, 1);
	log = slurp(fx->log_path);
	assert_contains(log, "warn  exec: /bin/sh (pid ");
	assert_contains(log, ") exited with status 3\n");
	free(log);
}

static void
test_child_killed_by_sigkill_reports_137(void **state)
{
	struct fx *fx = *state;

	new_sh(fx, CHILD_SIGNAL, 0, 0, "kill -KILL $$");
	start(fx);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 137);
	assert_int_equal(child_pid(fx->child), 0);
}

static void
test_signal_reload_delivers_sighup(void **state)
{
	struct fx *fx = *state;
	char *text, *log;
	long pid;

	new_sh(fx, CHILD_SIGNAL, 0, 0,
	       WAITING("trap 'echo hup >> \"$0\"' HUP; "));
	start(fx);
	wait_lines(fx, fx->ready, 1);
	pid = child_pid(fx->child);
	child_reload(fx->child);
	wait_lines(fx, fx->out, 2);

	text = slurp(fx->out);
	assert_contains(text, "\nhup\n");
	free(text);
	assert_int_equal(child_pid(fx->child), pid);	/* same process */
	assert_int_equal(fx->nexit, 0);
	log = slurp(fx->log_path);
	assert_contains(log, "exec: sent SIGHUP to /bin/sh (pid ");
	free(log);
}

static void
test_signal_reload_sends_the_configured_signal(void **state)
{
	struct fx *fx = *state;
	char *text;

	new_sh(fx, CHILD_SIGNAL, SIGUSR2, 0,
	       WAITING("trap 'echo hup >> \"$0\"' HUP; "
		       "trap 'echo usr2 >> \"$0\"' USR2; "));
	start(fx);
	wait_lines(fx, fx->ready, 1);
	child_reload(fx->child);
	wait_lines(fx, fx->out, 2);

	text = slurp(fx->out);
	assert_contains(text, "\nusr2\n");
	assert_null(strstr(text, "hup"));
	free(text);
}

static void
test_restart_reload_gives_a_new_pid_and_the_old_one_is_gone(void **state)
{
	struct fx *fx = *state;
	long old, pid;
	char *log;

	new_sh(fx, CHILD_RESTART, 0, 0, "echo $$ >> \"$0\"; exec sleep 30");
	start(fx);
	wait_lines(fx, fx->out, 1);
	old = child_pid(fx->child);
	assert_int_equal(read_pid(fx->out, 1), old);

	child_reload(fx->child);
	child_reload(fx->child);	/* both folded into the one restart */
	wait_lines(fx, fx->out, 2);
	run_for(fx, 300);

	pid = child_pid(fx->child);
	assert_true(pid > 1);
	assert_true(pid != old);
	assert_int_equal(read_pid(fx->out, 2), pid);
	assert_true(process_gone(old));
	assert_int_equal(count_lines(fx->out), 2);	/* one restart only */
	assert_int_equal(fx->nexit, 0);	/* a restart is not an exit */
	log = slurp(fx->log_path);
	assert_contains(log, "exec: restarting /bin/sh (pid ");
	assert_contains(log, "exec: restarted /bin/sh (pid ");
	assert_contains(log, "exec: reload folded into the restart under way");
	free(log);
}

static void
test_child_ignoring_sigterm_is_killed_after_kill_timeout(void **state)
{
	struct fx *fx = *state;
	uint64_t t0;
	long pid;
	char *log;

	new_sh(fx, CHILD_SIGNAL, 0, 200, WAITING("trap '' TERM; "));
	start(fx);
	wait_lines(fx, fx->ready, 1);
	pid = child_pid(fx->child);
	t0 = uv_now(&fx->loop);

	assert_int_equal(stop(fx), 128 + SIGKILL);
	assert_true(fx->done_at - t0 >= 200);
	assert_true(fx->done_at - t0 < 5000);
	assert_true(process_gone(pid));
	log = slurp(fx->log_path);
	assert_contains(log, "still running 200 ms after SIGTERM; sending SIGKILL");
	free(log);
}

static void
test_restart_kills_a_child_ignoring_sigterm(void **state)
{
	struct fx *fx = *state;
	long old;

	new_sh(fx, CHILD_RESTART, 0, 200, WAITING("trap '' TERM; "));
	start(fx);
	wait_lines(fx, fx->ready, 1);
	old = child_pid(fx->child);
	child_reload(fx->child);
	wait_lines(fx, fx->ready, 2);

	assert_true(process_gone(old));
	assert_int_equal(read_pid(fx->out, 2), child_pid(fx->child));
	assert_int_equal(fx->nexit, 0);
}

static void
test_child_signal_forwards_sigterm_and_the_exit_is_reported(void **state)
{
	struct fx *fx = *state;
	char *text;

	new_sh(fx, CHILD_SIGNAL, 0, 0,
	       WAITING("trap 'echo term >> \"$0\"; exit 7' TERM; "));
	start(fx);
	wait_lines(fx, fx->ready, 1);
	assert_int_equal(child_signal(fx->child, SIGTERM), 0);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 7);
	text = slurp(fx->out);
	assert_contains(text, "\nterm\n");
	free(text);
	assert_int_equal(child_pid(fx->child), 0);
}

static void
test_sigterm_during_a_restart_cancels_it(void **state)
{
	struct fx *fx = *state;

	new_sh(fx, CHILD_RESTART, 0, 0, "echo $$ >> \"$0\"; exec sleep 30");
	start(fx);
	wait_lines(fx, fx->out, 1);
	child_reload(fx->child);
	assert_int_equal(child_signal(fx->child, SIGTERM), 0);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 128 + SIGTERM);
	run_for(fx, 200);
	assert_int_equal(count_lines(fx->out), 1);	/* not started again */
	assert_int_equal(child_pid(fx->child), 0);
}

static void
test_stop_during_a_restart_does_not_start_it_again(void **state)
{
	struct fx *fx = *state;

	new_sh(fx, CHILD_RESTART, 0, 0, "echo $$ >> \"$0\"; exec sleep 30");
	start(fx);
	wait_lines(fx, fx->out, 1);
	child_reload(fx->child);
	assert_int_equal(stop(fx), 128 + SIGTERM);

	assert_int_equal(fx->nexit, 0);
	assert_int_equal(count_lines(fx->out), 1);
}

static void
test_stop_on_a_never_started_child_calls_done_at_once(void **state)
{
	struct fx *fx = *state;

	new_sh(fx, CHILD_RESTART, 0, 0, "exit 0");
	child_reload(fx->child);	/* not started: does nothing */
	assert_int_equal(child_pid(fx->child), 0);
	assert_int_equal(child_signal(fx->child, SIGTERM), -ESRCH);
	child_stop(fx->child, on_done, fx);
	fx->child = NULL;

	assert_int_equal(fx->ndone, 1);	/* before the loop ran */
	assert_int_equal(fx->done_code, -1);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->ndone, 1);
	assert_int_equal(fx->nexit, 0);
}

static void
test_missing_executable_is_an_error_naming_it(void **state)
{
	struct fx *fx = *state;
	char *argv[] = { "/no/such/program", "--flag", NULL };
	struct child_opts o = { .argv = argv };
	char err[256] = "";

	assert_int_equal(child_new(&fx->loop, &o, on_exit_cb, fx, &fx->child), 0);
	assert_int_equal(child_start(fx->child, err, sizeof(err)), UV_ENOENT);
	assert_string_equal(err, "exec: /no/such/program: no such file or directory");
	assert_int_equal(child_pid(fx->child), 0);
	run_for(fx, 50);
	assert_int_equal(fx->nexit, 0);	/* the error was child_start's */
	assert_int_equal(stop(fx), -1);
}

static void
test_restart_that_cannot_spawn_reports_127(void **state)
{
	struct fx *fx = *state;
	char app[128], *log;
	char *argv[] = { app, NULL };
	struct child_opts o = { .argv = argv, .reload = CHILD_RESTART };
	FILE *f;

	snprintf(app, sizeof(app), "%s/app.sh", fx->dir);
	f = fopen(app, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho $$ >> '%s'\nexec sleep 30\n", fx->out);
	fclose(f);
	assert_int_equal(chmod(app, 0700), 0);
	assert_int_equal(child_new(&fx->loop, &o, on_exit_cb, fx, &fx->child), 0);
	start(fx);
	wait_lines(fx, fx->out, 1);
	assert_int_equal(unlink(app), 0);
	child_reload(fx->child);
	wait_exits(fx, 1);

	assert_int_equal(fx->exit_code, 127);
	assert_int_equal(child_pid(fx->child), 0);
	log = slurp(fx->log_path);
	assert_contains(log, "exec: restart failed: exec: ");
	assert_contains(log, "/app.sh: no such file or directory");
	free(log);
}

/* From the exit callback: start again, once. */
static void
on_exit_restart(void *arg, int exit_code)
{
	struct fx *fx = arg;
	char err[256];

	on_exit_cb(arg, exit_code);
	if (fx->nexit == 1)
		assert_int_equal(child_start(fx->child, err, sizeof(err)), 0);
}

static void
test_exit_callback_may_start_the_child_again(void **state)
{
	struct fx *fx = *state;
	char *argv[] = { "/bin/sh", "-c", "echo $$ >> \"$0\"; exit 5", fx->out, NULL };
	struct child_opts o = { .argv = argv };

	assert_int_equal(child_new(&fx->loop, &o, on_exit_restart, fx, &fx->child), 0);
	start(fx);
	wait_lines(fx, fx->out, 2);
	wait_exits(fx, 2);

	assert_int_equal(fx->exit_code, 5);
	assert_true(read_pid(fx->out, 1) != read_pid(fx->out, 2));
}

static void
test_bad_options_are_refused(void **state)
{
	struct fx *fx = *state;
	char *empty[] = { NULL };
	char *argv[] = { "/bin/true", NULL };
	struct child_opts o = { .argv = empty };
	struct child *c = NULL;
	char err[128];

	assert_int_equal(child_new(&fx->loop, &o, NULL, NULL, &c), -EINVAL);
	o.argv = argv;
	o.reload_signal = -1;
	assert_int_equal(child_new(&fx->loop, &o, NULL, NULL, &c), -EINVAL);
	o.reload_signal = 0;
	o.reload = (enum child_reload)7;
	assert_int_equal(child_new(&fx->loop, &o, NULL, NULL, &c), -EINVAL);
	assert_null(c);
	o.reload = CHILD_SIGNAL;
	assert_int_equal(child_new(&fx->loop, &o, NULL, NULL, &fx->child), 0);
	start(fx);
	assert_int_equal(child_start(fx->child, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "exec: /bin/true: already running");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_start_runs_argv_with_the_agents_environment_and_reports_its_pid),
		T(test_child_starts_with_default_signal_dispositions),
		T(test_exit_status_goes_to_the_callback),
		T(test_child_killed_by_sigkill_reports_137),
		T(test_signal_reload_delivers_sighup),
		T(test_signal_reload_sends_the_configured_signal),
		T(test_restart_reload_gives_a_new_pid_and_the_old_one_is_gone),
		T(test_child_ignoring_sigterm_is_killed_after_kill_timeout),
		T(test_restart_kills_a_child_ignoring_sigterm),
		T(test_child_signal_forwards_sigterm_and_the_exit_is_reported),
		T(test_sigterm_during_a_restart_cancels_it),
		T(test_stop_during_a_restart_does_not_start_it_again),
		T(test_stop_on_a_never_started_child_calls_done_at_once),
		T(test_missing_executable_is_an_error_naming_it),
		T(test_restart_that_cannot_spawn_reports_127),
		T(test_exit_callback_may_start_the_child_again),
		T(test_bad_options_are_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
