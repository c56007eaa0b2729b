/*
 * hooks: tell applications that their files changed.
 *
 * DESIGN: certificates and templates report the files a batch changed,
 * after every file of the batch is in place; each hook they name runs
 * once for the lot, after a quiet period: a signal to the pid read from
 * a pid file at the moment of sending, or a command run through uv_spawn
 * with a timeout, its output logged and its environment naming what
 * changed.  A failing hook is retried with backoff; it never causes a
 * render or an issuance.  The module outlives configuration reloads, so
 * a change waiting for its quiet period survives a SIGHUP.
 */
#ifndef CERTAGENT_HOOKS_H
#define CERTAGENT_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "change.h"
#include "histo.h"

struct hooks;

/* One entry of hooks: (name: {signal, pid_file} or {command, timeout}) */
struct hook_def {
	char *name;
	int signal;		/* signal hook: the signal number; 0 = command hook */
	char *pid_file;		/* signal hook: read at every send */
	char **command;		/* command hook: argv, run without a shell */
	size_t n_command;
	uint64_t timeout_ms;	/* command hook: killed after this; default 30s */
};

/* hooks: in the configuration (borrowed), and vault.retry's backoff. */
struct hooks_opts {
	struct hook_def *defs;
	size_t n;
	struct backoff_opts retry;	/* after a failed run */
};

/* How one run ended, for tests and counters. */
struct hooks_result {
	const char *name;
	int ok;
	int exit_status;	/* command: its exit status, -1 if none */
	int term_signal;	/* command: the signal that ended it, or 0 */
	int timed_out;		/* command: killed after its timeout */
	long pid;		/* the child, or the process signalled; 0 if none */
};

typedef void (*hooks_done_cb)(void *arg, const struct hooks_result *r);

/* O is borrowed; DONE may be NULL. */
int hooks_new(uv_loop_t *loop, const struct hooks_opts *o, hooks_done_cb done,
	      void *arg, struct hooks **out);

/*
 * Use O (borrowed) from now on.  Call it before the previous config is
 * freed.  A hook that is gone drops its pending run; a command already
 * running is left to finish.
 */
void hooks_configure(struct hooks *h, const struct hooks_opts *o);

/*
 * Files changed (C, see change.h): each hook named in C->hooks runs after
 * C's quiet period, once for everything reported meanwhile.  Never runs
 * anything before it returns.
 */
void hooks_notify(struct hooks *h, const struct change *c);

/*
 * A hook of the agent's own: FN runs after the quiet period with the
 * paths that changed (exec mode tells its application).  With EVERY, it
 * hears of every change, whatever the entries' on_change name.  It
 * survives hooks_configure().  -EEXIST if the name is taken.
 */
typedef void (*hooks_fn)(void *arg, const char *const *paths, size_t n);
int hooks_add_function(struct hooks *h, const char *name, hooks_fn fn,
		       void *arg, int every);

/*
 * run --once: run every hook that has changes pending now, without its
 * quiet period, once (a failure is logged, not retried; a signal hook
 * whose pid file does not exist has nothing running to reload), and call
 * DONE from the loop once none runs, never before this returns.
 */
void hooks_flush(struct hooks *h, void (*done)(void *arg), void *arg);

/*
 * Forget what hook NAME has pending (not a run under way): exec mode,
 * when the application starts after the changes it would hear of.
 */
void hooks_drop_pending(struct hooks *h, const char *name);

struct hooks_stats {
	uint64_t runs, failures, timeouts;
	struct histo duration;	/* of each run, start to end, in seconds */
	int64_t last_run_ms;	/* wall clock of the last run's end; 0 if none */
	int last_ok;		/* how the last run ended */
};

/* The I-th hook, for metrics and status; -ENOENT past the last. */
struct hooks_item {
	const char *name;
	int own;		/* the agent's own (exec mode), not configured */
	struct hooks_stats stats;
};
int hooks_get_item(const struct hooks *h, size_t i, struct hooks_item *it);

/* -ENOENT if no hook has that name. */
int hooks_get_stats(const struct hooks *h, const char *name,
		    struct hooks_stats *st);

/*
 * Drop pending runs, send SIGTERM to the process group of any command
 * still running, close every handle; memory is freed from the loop.
 */
void hooks_close(struct hooks *h);

#endif
