/*
 * child: start, reload, restart and stop the application of `exec` mode.
 *
 * DESIGN / invariants:
 *  - One uv_process_t and one uv_timer_t, both embedded.  The process
 *    handle is in one of three states: none (never spawned, or closed),
 *    running (spawned, not yet exited), closing (exited or failed to
 *    spawn, uv_close called).  It is closed even when uv_spawn fails, and
 *    the next spawn waits for its close callback: a restart spawns again
 *    from there.
 *  - Whatever follows an exit (the exit callback, the next spawn of a
 *    restart, the stop's done callback) happens in the close callback, so
 *    exactly one of them runs per exit, and the exit callback may call
 *    child_start() again.
 *  - Restart and stop both send SIGTERM once and arm the timer for
 *    SIGKILL after kill_timeout; a reload or a stop during a restart
 *    reuses what is under way instead of signalling again.
 *  - Signals go to the child's pid only while it runs: never after its
 *    exit, when the pid may already belong to someone else.  libuv reaps
 *    the child; there is no SIGCHLD handler and no waitpid(-1) here.
 *  - Only argv[0] is logged: arguments may carry secrets, and the
 *    environment (passed through unchanged) is never logged.
 *  - child_stop() is the only way to free: the timer is closed once the
 *    process handle is, and its close callback frees the memory.
 */
#include "child.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define CHILD_KILL_TIMEOUT_MS 10000
#define CHILD_SPAWN_FAILED 127	/* as a shell reports a command it cannot run */

enum proc_state {
	PROC_NONE,
	PROC_RUNNING,
	PROC_CLOSING,
};

struct child {
	uv_loop_t *loop;
	char **argv;
	enum child_reload reload;
	int reload_signal;
	uint64_t kill_timeout_ms;
	const char *unset_env;
	child_exit_cb cb;
	void *arg;

	uv_process_t proc;
	uv_timer_t kill;		/* SIGKILL after kill_timeout */
	enum proc_state state;
	long pid;			/* of the child running, or that ran last */
	int last_exit;			/* shell-style exit code; -1 if none ran */
	int terminating;		/* SIGTERM sent, SIGKILL timer armed */
	int restarting;			/* spawn again once the child is gone */
	int start_failed;		/* child_start() reported the failed spawn */

	int stopping;
	void (*done)(void *arg, int exit_code);
	void *done_arg;
};

static void
free_argv(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static void on_proc_closed(uv_handle_t *handle);

static void
on_timer_closed(uv_handle_t *handle)
{
	struct child *c = handle->data;

	free_argv(c->argv);
	free(c);
}

/* The stop is over: report, then free from the loop. */
static void
stop_finish(struct child *c)
{
	void (*done)(void *, int) = c->done;

	uv_close((uv_handle_t *)&c->kill, on_timer_closed);
	c->done = NULL;
	if (done)
		done(c->done_arg, c->last_exit);
}

static void
on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct child *c = p->data;
	int expected = c->restarting || c->stopping;

	uv_timer_stop(&c->kill);
	c->terminating = 0;
	c->state = PROC_CLOSING;
	if (term_signal) {
		c->last_exit = 128 + term_signal;
		log_msg(expected ? LOGL_INFO : LOGL_WARN, "exec",
			"%s (pid %ld) was killed by signal %d (%s)", c->argv[0],
			c->pid, term_signal, log_signal_name(term_signal));
	} else {
		c->last_exit = (int)status;
		log_msg(expected || status == 0 ? LOGL_INFO : LOGL_WARN, "exec",
			"%s (pid %ld) exited with status %d", c->argv[0], c->pid,
			(int)status);
	}
	uv_close((uv_handle_t *)p, on_proc_closed);
}

/*
 * The agent's environment less the one variable it set for itself, or
 * NULL (inherit environ as it is) when that variable is not there, or
 * without memory: it only tunes a library, and an application that
 * cannot start is worse.  Only the array is allocated; the strings are
 * environ's.
 */
static char **
env_without(const char *name)
{
	size_t n = 0, k = 0, nlen = strlen(name);
	char **env;

	if (getenv(name) == NULL)
		return NULL;
	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (char **e = environ; *e; e++)
		if (!(strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '='))
			env[k++] = *e;
	return env;
}

/* Spawn argv; the process handle is closing if this fails. */
static int
spawn(struct child *c, char *err, size_t errlen)
{
	uv_process_options_t o;
	uv_stdio_container_t stdio[3];
	char **env = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(stdio, 0, sizeof(stdio));
	for (int i = 0; i < 3; i++) {
		stdio[i].flags = UV_INHERIT_FD;
		stdio[i].data.fd = i;
	}
	o.file = c->argv[0];
	o.args = c->argv;
	/* The agent's own environment: it is the application's, but for
	 * what the agent set for itself (the thread pool's size). */
	if (c->unset_env)
		env = env_without(c->unset_env);
	o.env = env;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.exit_cb = on_child_exit;
	c->proc.data = c;
	c->terminating = 0;
	rc = uv_spawn(c->loop, &c->proc, &o);
	free(env);	/* the child has its copy */
	if (rc != 0) {
		snprintf(err, errlen, "exec: %s: %s", c->argv[0], uv_strerror(rc));
		c->state = PROC_CLOSING;	/* initialised even though it failed */
		uv_close((uv_handle_t *)&c->proc, on_proc_closed);
		return rc;
	}
	c->state = PROC_RUNNING;
	c->pid = (long)c->proc.pid;
	return 0;
}

static void
on_proc_closed(uv_handle_t *handle)
{
	struct child *c = handle->data;
	char err[512];

	c->state = PROC_NONE;
	if (c->stopping) {
		stop_finish(c);
		return;
	}
	if (c->start_failed) {
		c->start_failed = 0;	/* child_start() returned the error */
		return;
	}
	if (c->restarting) {
		c->restarting = 0;
		if (spawn(c, err, sizeof(err)) == 0) {
			log_info("exec", "restarted %s (pid %ld)", c->argv[0], c->pid);
			return;
		}
		/* Its handle closes; that callback reports the failure. */
		log_error("exec", "restart failed: %s", err);
		c->last_exit = CHILD_SPAWN_FAILED;
		return;
	}
	if (c->cb)
		c->cb(c->arg, c->last_exit);
}

static void
on_kill_timeout(uv_timer_t *t)
{
	struct child *c = t->data;
	int rc;

	if (c->state != PROC_RUNNING)
		return;
	log_warn("exec", "%s (pid %ld) still running %llu ms after SIGTERM; "
		 "sending SIGKILL", c->argv[0], c->pid,
		 (unsigned long long)c->kill_timeout_ms);
	rc = uv_process_kill(&c->proc, SIGKILL);
	if (rc != 0)
		log_warn("exec", "cannot send SIGKILL to pid %ld: %s", c->pid,
			 uv_strerror(rc));
}

/* SIGTERM once, SIGKILL after kill_timeout if it is still there. */
static void
terminate(struct child *c)
{
	int rc;

	if (c->state != PROC_RUNNING || c->terminating)
		return;
	c->terminating = 1;
	rc = uv_process_kill(&c->proc, SIGTERM);
	if (rc != 0)
		log_warn("exec", "cannot send SIGTERM to pid %ld: %s", c->pid,
			 uv_strerror(rc));
	uv_timer_start(&c->kill, on_kill_timeout, c->kill_timeout_ms, 0);
}

int
child_new(uv_loop_t *loop, const struct child_opts *o, child_exit_cb cb,
	  void *arg, struct child **out)
{
	struct child *c;
	size_t n = 0;
	int rc;

	if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0')
		return -EINVAL;
	if (o->reload != CHILD_SIGNAL && o->reload != CHILD_RESTART)
		return -EINVAL;
	if (o->reload_signal < 0 || o->reload_signal >= NSIG)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	while (o->argv[n])
		n++;
	c->argv = calloc(n + 1, sizeof(*c->argv));
	if (c->argv == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		c->argv[i] = strdup(o->argv[i]);
		if (c->argv[i] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = uv_timer_init(loop, &c->kill);
	if (rc != 0)
		goto out;
	c->kill.data = c;
	c->loop = loop;
	c->reload = o->reload;
	c->reload_signal = o->reload_signal ? o->reload_signal : SIGHUP;
	c->unset_env = o->unset_env;
	c->kill_timeout_ms = o->kill_timeout_ms ? o->kill_timeout_ms
						: CHILD_KILL_TIMEOUT_MS;
	c->cb = cb;
	c->arg = arg;
	c->last_exit = -1;
	*out = c;
	return 0;
out:
	free_argv(c->argv);
	free(c);
	return rc;
}

int
child_start(struct child *c, char *err, size_t errlen)
{
	int rc;

	if (c->stopping || c->state != PROC_NONE) {
		snprintf(err, errlen, "exec: %s: %s", c->argv[0],
			 c->state == PROC_RUNNING ? "already running"
						  : "still exiting");
		return -EBUSY;
	}
	rc = spawn(c, err, errlen);
	if (rc != 0) {
		c->start_failed = 1;
		return rc;
	}
	log_info("exec", "started %s (pid %ld)", c->argv[0], c->pid);
	return 0;
}

void
child_reload(struct child *c)
{
	int rc;

	if (c->restarting && !c->stopping) {
		log_debug("exec", "reload folded into the restart under way");
		return;
	}
	if (c->stopping || c->state != PROC_RUNNING) {
		log_debug("exec", "no application running; nothing to reload");
		return;
	}
	if (c->reload == CHILD_SIGNAL) {
		rc = uv_process_kill(&c->proc, c->reload_signal);
		if (rc != 0)
			log_warn("exec", "cannot send %s to %s (pid %ld): %s",
				 log_signal_name(c->reload_signal), c->argv[0], c->pid,
				 uv_strerror(rc));
		else
			log_info("exec", "sent %s to %s (pid %ld)",
				 log_signal_name(c->reload_signal), c->argv[0], c->pid);
		return;
	}
	log_info("exec", "restarting %s (pid %ld): sending SIGTERM", c->argv[0],
		 c->pid);
	c->restarting = 1;
	terminate(c);
}

int
child_signal(struct child *c, int signum)
{
	int rc;

	if (c->restarting && (signum == SIGTERM || signum == SIGINT ||
			      signum == SIGQUIT)) {
		log_info("exec", "%s during a restart: %s will not be started "
			 "again", log_signal_name(signum), c->argv[0]);
		c->restarting = 0;
	}
	if (c->stopping || c->state != PROC_RUNNING)
		return -ESRCH;
	rc = uv_process_kill(&c->proc, signum);
	if (rc != 0) {
		log_warn("exec", "cannot send %s to %s (pid %ld): %s",
			 log_signal_name(signum), c->argv[0], c->pid, uv_strerror(rc));
		return rc;
	}
	log_info("exec", "forwarded %s to %s (pid %ld)", log_signal_name(signum),
		 c->argv[0], c->pid);
	return 0;
}

long
child_pid(const struct child *c)
{
	return c->state == PROC_RUNNING ? c->pid : 0;
}

void
child_stop(struct child *c, void (*done)(void *arg, int exit_code), void *arg)
{
	assert(!c->stopping);	/* C may already be freed */
	c->stopping = 1;
	c->done = done;
	c->done_arg = arg;
	switch (c->state) {
	case PROC_RUNNING:
		log_info("exec", "stopping %s (pid %ld): sending SIGTERM",
			 c->argv[0], c->pid);
		terminate(c);	/* a restart's SIGTERM is already on its way */
		break;
	case PROC_CLOSING:
		break;		/* its close callback finishes the stop */
	case PROC_NONE:
		stop_finish(c);
		break;
	}
}
