/*
 * child: the application certagent supervises in `certagent exec`.
 *
 * DESIGN: the agent starts the application once its files are first in
 * place, then signals or restarts it when they change, forwards SIGTERM
 * and SIGINT to it, and exits with its exit code.  The application runs
 * through uv_spawn with the agent's stdio (fds 0, 1, 2) and environment
 * (it is the application, so it gets what the agent got), in the agent's
 * process group.  Exit codes are reported as a shell reports them: the
 * exit status, or 128 + the signal that ended it.
 */
#ifndef CERTAGENT_CHILD_H
#define CERTAGENT_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct child;

enum child_reload {
	CHILD_SIGNAL,	/* send reload_signal to the running child */
	CHILD_RESTART,	/* SIGTERM, wait for it to exit, start it again */
};

struct child_opts {
	char **argv;			/* NULL-terminated; copied */
	enum child_reload reload;
	int reload_signal;		/* 0: SIGHUP */
	uint64_t kill_timeout_ms;	/* SIGTERM, then SIGKILL; 0: 10 s */
	const char *unset_env;		/* NULL, or a variable the agent set
					 * for itself: not the application's */
};

/*
 * The child ended and will not be started again by this module: it
 * exited on its own or after a forwarded signal (never for a restart),
 * or a restart could not start it again (EXIT_CODE 127).  Called from
 * the loop, after its process handle has closed, so child_start() may
 * be called from it.
 */
typedef void (*child_exit_cb)(void *arg, int exit_code);

/* -EINVAL without an argv[0] or with a bad reload mode or signal. */
int child_new(uv_loop_t *loop, const struct child_opts *o, child_exit_cb cb,
	      void *arg, struct child **out);

/*
 * Spawn the application.  On error (-EBUSY while a child runs or its
 * handle is still closing, or uv_spawn's code), ERR names argv[0] and the
 * reason, "exec: /no/such: no such file or directory", and the exit
 * callback does not fire for this attempt.
 */
int child_start(struct child *c, char *err, size_t errlen);

/*
 * The child's files changed.  CHILD_SIGNAL: send reload_signal.
 * CHILD_RESTART: SIGTERM, SIGKILL after kill_timeout, start it again once
 * it exited.  Does nothing while no child runs; a reload during a restart
 * is folded into it.
 */
void child_reload(struct child *c);

/*
 * Forward SIGNUM to the running child; -ESRCH if none runs.  SIGTERM,
 * SIGINT or SIGQUIT during a restart cancel the restart: the old child's
 * exit then goes to the exit callback.
 */
int child_signal(struct child *c, int signum);

/* The running child's pid, or 0. */
long child_pid(const struct child *c);

/*
 * Stop and free: SIGTERM, SIGKILL after kill_timeout; DONE gets the exit
 * code once the child exited, or is called before child_stop() returns if
 * none runs, with the last child's exit code, or -1 if none ever ran.
 * The exit callback never fires after this call, and C must not be used
 * again; its memory is freed from the loop.  DONE may be NULL.
 */
void child_stop(struct child *c, void (*done)(void *arg, int exit_code),
		void *arg);

#endif
