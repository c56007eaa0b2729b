/*
 * hooks: signals and commands run when certificates or templates change.
 *
 * DESIGN / invariants:
 *  - One struct hook per hooks: entry, kept across reloads by name.  It
 *    owns a timer (the quiet period, or the retry backoff) and at most
 *    one run in flight; changes reported meanwhile are folded into the
 *    next run, so a hook never runs twice at once.
 *  - hooks_notify() only records and (re)starts the timer: a run always
 *    starts from the loop, after the batch that reported the change has
 *    written all its files.  Each change restarts the quiet period (min),
 *    but a run starts no later than max after the first change.
 *  - A failure (spawn error, non-zero exit, timeout, missing, garbled or
 *    stale pid file) puts the run's changes back, and a retry comes after
 *    full-jitter backoff between vault.retry.min_backoff and max_backoff;
 *    a change while a retry waits folds into it.  Nothing here ever asks
 *    for a render or an issuance.
 *  - A signal goes to the pid read from the pid file at the moment of
 *    sending; pid 0, 1, negative pids and the agent itself are refused.
 *  - A command runs through uv_spawn with an argv (no shell), in a new
 *    process group, with a minimal environment (secrets the agent's own
 *    environment may hold are not passed on) plus CERTAGENT_* variables
 *    naming what changed: paths, a serial and a date, never contents.
 *    Its output is logged line by line up to HOOK_OUTPUT_MAX bytes per
 *    run; the rest is read and counted, so the child never blocks on a
 *    full pipe.  On timeout the group gets SIGTERM, then SIGKILL.
 *  - The process handle is closed even when uv_spawn fails.  libuv reaps
 *    the child; there is no SIGCHLD handler and no waitpid(-1) here.
 *  - A hook's memory is freed when its timer and every handle of its run
 *    have closed; the module's when the last hook is freed.
 */
#include "hooks.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "files.h"
#include "log.h"
#include "wallclock.h"

#define HOOK_MAX_FILES 256		/* paths named in one run */
#define HOOK_ENV_MAX (64 * 1024)	/* bytes of CERTAGENT_CHANGED_FILES */
#define HOOK_OUTPUT_MAX (16 * 1024)	/* bytes of output logged per run */
#define HOOK_LINE_MAX 1024		/* a longer line is logged in pieces */
#define HOOK_KILL_GRACE_MS 5000		/* SIGTERM, then SIGKILL after this */
#define HOOK_DRAIN_MS 1000		/* output still open after the exit */
#define HOOK_MAX_ATTEMPT 32
#define PID_FILE_MAX 4096

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What changed since the last run: paths, and the certificate if one. */
struct changes {
	char **paths;
	size_t n, bytes, dropped;
	char serial[128];
	int64_t not_after;
};

struct stream {
	uv_pipe_t pipe;
	const char *label;
	int open;
	size_t len;
	char line[HOOK_LINE_MAX];
	char buf[4096];
};

struct hook {
	struct hooks *h;
	struct hook *next;
	char *name;
	const struct hook_def *def;	/* NULL once gone from the config */
	uv_timer_t timer;		/* quiet period, or retry backoff */
	struct changes pending, running;
	int has_pending;
	uint64_t quiet_at, deadline;	/* loop time, ms */
	int retrying;
	unsigned attempt;		/* failures in a row */
	struct hooks_stats stats;
	uint64_t run_started;		/* loop time, ms */
	int closing;			/* free once every handle has closed */
	int timer_closed;

	/* A hook of the agent's own (exec mode): a function, not a config. */
	hooks_fn fn;
	void *fn_arg;
	struct hook_def own_def;

	/* The command in flight. */
	int active;
	unsigned run_handles;		/* open handles of the run */
	uv_process_t proc;
	uv_timer_t kill;
	struct stream out, err;
	int proc_open, kill_open;
	int spawned, exited, timed_out, exit_status, term_signal;
	long pid;
	uint64_t timeout_ms;
	size_t logged, discarded;
	char spawn_err[256];
};

struct hooks {
	uv_loop_t *loop;
	const struct hooks_opts *cfg;
	hooks_done_cb done;
	void *arg;
	struct hook *list;
	struct hook *every;	/* notified of every change, named or not */
	int closing;
	int flush_closed;	/* the flush timer's close callback ran */

	/* hooks_flush(): run what is pending now, once each. */
	int flushing;
	uv_timer_t flush;	/* calls flush_done from the loop */
	void (*flush_done)(void *arg);
	void *flush_arg;
};

static void on_timer(uv_timer_t *t);
static void flush_check(struct hooks *h);
static void try_free_module(struct hooks *h);

/* ------------------------------------------------------------------ */
/* Changes */

static void
changes_clear(struct changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->paths[i]);
	free(c->paths);
	memset(c, 0, sizeof(*c));
}

/* Add PATH once; past the caps it is counted, not kept. */
static void
changes_add(struct changes *c, const char *path)
{
	size_t len = strlen(path);
	char **p;

	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->paths[i], path) == 0)
			return;
	if (c->n == HOOK_MAX_FILES || c->bytes + len + 1 > HOOK_ENV_MAX) {
		c->dropped++;
		return;
	}
	p = realloc(c->paths, (c->n + 1) * sizeof(*p));
	if (p == NULL) {
		c->dropped++;
		return;
	}
	c->paths = p;
	c->paths[c->n] = strdup(path);
	if (c->paths[c->n] == NULL) {
		c->dropped++;
		return;
	}
	c->n++;
	c->bytes += len + 1;
}

static void
changes_set_cert(struct changes *c, const char *serial, int64_t not_after)
{
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	c->not_after = not_after;
}

/* A run failed: its changes go back in front of what came meanwhile. */
static void
requeue(struct hook *k)
{
	struct changes merged = k->running;

	memset(&k->running, 0, sizeof(k->running));
	for (size_t i = 0; i < k->pending.n; i++)
		changes_add(&merged, k->pending.paths[i]);
	merged.dropped += k->pending.dropped;
	if (k->pending.serial[0])
		changes_set_cert(&merged, k->pending.serial, k->pending.not_after);
	changes_clear(&k->pending);
	k->pending = merged;
	k->has_pending = 1;
}

/* ------------------------------------------------------------------ */
/* Life cycle of one hook */

static struct hook *
find(const struct hooks *h, const char *name)
{
	for (struct hook *k = h->list; k; k = k->next)
		if (!k->closing && strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static struct hook *
hook_add(struct hooks *h, const struct hook_def *def)
{
	struct hook *k = calloc(1, sizeof(*k)), **tail = &h->list;

	if (k == NULL)
		return NULL;
	k->name = strdup(def->name);
	if (k->name == NULL) {
		free(k);
		return NULL;
	}
	k->h = h;
	k->def = def;
	uv_timer_init(h->loop, &k->timer);
	k->timer.data = k;
	while (*tail)
		tail = &(*tail)->next;
	*tail = k;
	return k;
}

static void
try_free(struct hook *k)
{
	struct hooks *h = k->h;

	if (!k->timer_closed || k->run_handles)
		return;
	for (struct hook **p = &h->list; *p; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			break;
		}
	}
	changes_clear(&k->pending);
	changes_clear(&k->running);
	free(k->name);
	free(k);
	try_free_module(h);
}

/* The module's memory goes once every hook and the flush timer are gone. */
static void
try_free_module(struct hooks *h)
{
	if (h->closing && h->list == NULL && h->flush_closed)
		free(h);
}

static void
on_timer_closed(uv_handle_t *t)
{
	struct hook *k = t->data;

	k->timer_closed = 1;
	try_free(k);
}

/* No more runs: drop what is pending; a run in flight finishes. */
static void
hook_release(struct hook *k)
{
	k->closing = 1;
	changes_clear(&k->pending);
	k->has_pending = 0;
	k->retrying = 0;
	if (!uv_is_closing((uv_handle_t *)&k->timer))
		uv_close((uv_handle_t *)&k->timer, on_timer_closed);
}

/* Start the timer for the quiet period of what is pending. */
static void
schedule(struct hook *k)
{
	uint64_t now = uv_now(k->h->loop);
	uint64_t at = k->quiet_at < k->deadline ? k->quiet_at : k->deadline;

	uv_timer_start(&k->timer, on_timer, at > now ? at - now : 0, 0);
}

/*
 * A run is over.  R says how; WHY is the reason when it failed.  Failures
 * are retried after backoff; then the done callback hears of it.
 */
static void
finish(struct hook *k, struct hooks_result *r, const char *why)
{
	struct hooks *h = k->h;

	k->active = 0;
	histo_add(&k->stats.duration,
		  (double)(uv_now(h->loop) - k->run_started) / 1000.0);
	k->stats.last_run_ms = wall_ms();
	k->stats.last_ok = r->ok;
	if (r->ok) {
		k->attempt = 0;
		changes_clear(&k->running);
		if (k->has_pending && !k->closing)
			schedule(k);
	} else {
		k->stats.failures++;
		if (r->timed_out)
			k->stats.timeouts++;
		if (k->closing || h->flushing) {
			/* run --once runs each hook once: nothing to retry for. */
			log_warn("hooks", "%s: %s", k->name, why);
			changes_clear(&k->running);
		} else {
			const struct hooks_opts *cfg = h->cfg;
			uint64_t delay = backoff_delay(cfg->retry.min_ms,
						       cfg->retry.max_ms,
						       k->attempt);

			if (k->attempt < HOOK_MAX_ATTEMPT)
				k->attempt++;
			requeue(k);
			k->retrying = 1;
			uv_timer_start(&k->timer, on_timer, delay, 0);
			log_error("hooks", "%s: %s; failure %llu, next try in %.1fs",
				  k->name, why, (unsigned long long)k->stats.failures,
				  (double)delay / 1000);
		}
	}
	if (h->done && !k->closing)
		h->done(h->arg, r);
	if (h->flushing)
		flush_check(h);
}

/* ------------------------------------------------------------------ */
/* Signal hooks */

/*
 * The pid on the first line of TEXT: decimal digits with blanks around
 * them.  Later lines are ignored: PostgreSQL's postmaster.pid, for one,
 * goes on with the data directory, the start time and the port.
 */
static long
parse_pid(const char *text)
{
	const char *p = text;
	long pid = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (pid > (INT_MAX - (*p - '0')) / 10)
			return -1;
		pid = pid * 10 + (*p - '0');
	}
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return *p == '\0' || *p == '\n' ? pid : -1;
}

static void
run_signal(struct hook *k)
{
	const struct hook_def *d = k->def;
	struct hooks_result r = { .name = k->name, .exit_status = -1 };
	char err[512], why[768], *buf = NULL;
	size_t len;
	long pid;
	int rc;

	rc = files_read(d->pid_file, PID_FILE_MAX, &buf, &len, err, sizeof(err));
	if (rc == -ENOENT && k->h->flushing) {
		/* run --once before the service is up (an init container):
		 * there is nothing running to reload. */
		log_info("hooks", "%s: %s does not exist: nothing running to "
			 "signal", k->name, d->pid_file);
		r.ok = 1;
		goto out;
	}
	if (rc != 0) {
		snprintf(why, sizeof(why), "pid file: %s; nothing signalled", err);
		goto out;
	}
	pid = parse_pid(buf);
	if (pid < 0) {
		snprintf(why, sizeof(why), "pid file %s does not hold a process id; "
			 "nothing signalled", d->pid_file);
		goto out;
	}
	if (pid <= 1 || pid == (long)getpid()) {
		snprintf(why, sizeof(why), "pid file %s names pid %ld; refusing to "
			 "signal %s", d->pid_file, pid,
			 pid <= 1 ? "pid 0 or 1" : "certagent itself");
		goto out;
	}
	if (kill((pid_t)pid, d->signal) != 0) {
		if (errno == ESRCH)
			snprintf(why, sizeof(why), "stale pid file %s: no process %ld; "
				 "nothing signalled", d->pid_file, pid);
		else
			snprintf(why, sizeof(why), "cannot send %s to pid %ld (from %s): "
				 "%s", log_signal_name(d->signal), pid, d->pid_file,
				 strerror(errno));
		goto out;
	}
	r.ok = 1;
	r.pid = pid;
	log_info("hooks", "%s: sent %s to pid %ld (from %s) for %zu changed file%s",
		 k->name, log_signal_name(d->signal), pid, d->pid_file, k->running.n,
		 k->running.n == 1 ? "" : "s");
out:
	free(buf);
	finish(k, &r, why);
}

/* ------------------------------------------------------------------ */
/* Command hooks */

static const char *const env_keep[] = {
	"PATH=", "HOME=", "USER=", "LOGNAME=", "LANG=", "LC_", "TZ=", "TMPDIR=",
	NULL,
};

static char *
env_pair(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s=%s", name, value);
	return s;
}

static void
free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/*
 * The child's environment: a few harmless variables of ours (the rest
 * may hold credentials), then what changed.  CERTAGENT_CHANGED_FILES
 * separates paths with newlines.
 */
static char **
build_env(const struct changes *c)
{
	size_t n = 0, cap = 4, i = 0;
	char **env, *files;
	int has_path = 0;

	for (char **e = environ; e && *e; e++)
		n++;
	env = calloc(n + cap + 1, sizeof(*env));
	files = calloc(1, c->bytes + 1);
	if (env == NULL || files == NULL)
		goto oom;
	for (char **e = environ; e && *e; e++) {
		for (const char *const *k = env_keep; *k; k++) {
			if (strncmp(*e, *k, strlen(*k)) != 0)
				continue;
			env[i] = strdup(*e);
			if (env[i++] == NULL)
				goto oom;
			has_path |= strncmp(*e, "PATH=", 5) == 0;
			break;
		}
	}
	if (!has_path) {
		env[i] = strdup("PATH=" DEFAULT_PATH);
		if (env[i++] == NULL)
			goto oom;
	}
	for (size_t j = 0, off = 0; j < c->n; j++) {
		size_t len = strlen(c->paths[j]);
		if (j)
			files[off++] = '\n';
		memcpy(files + off, c->paths[j], len);
		off += len;
	}
	env[i] = env_pair("CERTAGENT_CHANGED_FILES", files);
	if (env[i++] == NULL)
		goto oom;
	if (c->serial[0]) {
		time_t t = (time_t)c->not_after;
		struct tm tm;
		char date[32];

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		env[i] = env_pair("CERTAGENT_CERT_SERIAL", c->serial);
		if (env[i++] == NULL)
			goto oom;
		env[i] = env_pair("CERTAGENT_CERT_NOT_AFTER", date);
		if (env[i++] == NULL)
			goto oom;
	}
	free(files);
	return env;
oom:
	free(files);
	free_strv(env);
	return NULL;
}

static void run_complete(struct hook *k);

static void
on_run_closed(uv_handle_t *handle)
{
	struct hook *k = handle->data;

	if (--k->run_handles == 0)
		run_complete(k);
}

/* Log the line collected so far, control characters made visible. */
static void
emit_line(struct hook *k, struct stream *s)
{
	for (size_t i = 0; i < s->len; i++) {
		unsigned char ch = (unsigned char)s->line[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			s->line[i] = '?';
	}
	log_info("hooks", "%s: %s: %.*s", k->name, s->label, (int)s->len, s->line);
	k->logged += s->len + 1;
	s->len = 0;
}

static void
close_stream(struct hook *k, struct stream *s)
{
	if (!s->open)
		return;
	if (s->len)
		emit_line(k, s);
	s->open = 0;
	uv_close((uv_handle_t *)&s->pipe, on_run_closed);
}

/* Close every handle of the run that is still open. */
static void
close_run(struct hook *k)
{
	if (k->proc_open) {
		k->proc_open = 0;
		uv_close((uv_handle_t *)&k->proc, on_run_closed);
	}
	close_stream(k, &k->out);
	close_stream(k, &k->err);
	if (k->kill_open) {
		k->kill_open = 0;
		uv_close((uv_handle_t *)&k->kill, on_run_closed);
	}
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct hook *k = handle->data;
	struct stream *s = handle == (uv_handle_t *)&k->out.pipe ? &k->out : &k->err;

	(void)suggested;
	*buf = uv_buf_init(s->buf, sizeof(s->buf));
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct hook *k = stream->data;
	struct stream *s = stream == (uv_stream_t *)&k->out.pipe ? &k->out : &k->err;

	if (nread < 0) {
		close_stream(k, s);
		if (k->exited && !k->out.open && !k->err.open)
			close_run(k);
		return;
	}
	for (ssize_t i = 0; i < nread; i++) {
		char ch = buf->base[i];

		if (k->logged >= HOOK_OUTPUT_MAX) {
			k->discarded++;	/* read on, so the child never blocks */
			continue;
		}
		if (ch == '\n') {
			emit_line(k, s);
			continue;
		}
		s->line[s->len++] = ch;
		if (s->len == sizeof(s->line))
			emit_line(k, s);
	}
}

/* Something outside the child (its own child) still holds the output. */
static void
on_drain(uv_timer_t *t)
{
	struct hook *k = t->data;

	log_warn("hooks", "%s: output still open after the command exited "
		 "(a process it left behind?); no longer reading it", k->name);
	close_run(k);
}

static void
on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct hook *k = p->data;

	k->exited = 1;
	k->exit_status = (int)status;
	k->term_signal = term_signal;
	k->proc_open = 0;
	uv_close((uv_handle_t *)p, on_run_closed);
	uv_timer_stop(&k->kill);
	if (k->out.open || k->err.open)
		uv_timer_start(&k->kill, on_drain, HOOK_DRAIN_MS, 0);
	else
		close_run(k);
}

/* Signal the command's process group (it may have children). */
static void
kill_group(struct hook *k, int sig)
{
	if (k->pid <= 1)
		return;
	if (uv_kill(-(int)k->pid, sig) != 0)
		uv_process_kill(&k->proc, sig);
}

static void
on_grace(uv_timer_t *t)
{
	struct hook *k = t->data;

	if (k->exited)
		return;
	log_warn("hooks", "%s: pid %ld still running %d ms after SIGTERM; "
		 "sending SIGKILL", k->name, k->pid, HOOK_KILL_GRACE_MS);
	kill_group(k, SIGKILL);
}

static void
on_timeout(uv_timer_t *t)
{
	struct hook *k = t->data;

	if (k->exited)
		return;
	k->timed_out = 1;
	log_warn("hooks", "%s: pid %ld still running after %.1fs; sending SIGTERM",
		 k->name, k->pid, (double)k->timeout_ms / 1000);
	kill_group(k, SIGTERM);
	uv_timer_start(&k->kill, on_grace, HOOK_KILL_GRACE_MS, 0);
}

static void
run_complete(struct hook *k)
{
	struct hooks_result r = {
		.name = k->name,
		.exit_status = k->exited ? k->exit_status : -1,
		.term_signal = k->term_signal,
		.timed_out = k->timed_out,
		.pid = k->spawned ? k->pid : 0,
	};
	char why[512];

	if (k->discarded)
		log_warn("hooks", "%s: %zu more bytes of output not logged (limit %d "
			 "per run)", k->name, k->discarded, HOOK_OUTPUT_MAX);
	r.ok = k->spawned && k->exited && k->exit_status == 0 &&
	       k->term_signal == 0 && !k->timed_out;
	if (!k->spawned)
		snprintf(why, sizeof(why), "%s", k->spawn_err);
	else if (!k->exited)
		snprintf(why, sizeof(why), "pid %ld stopped with the agent", k->pid);
	else if (k->timed_out)
		snprintf(why, sizeof(why), "timed out after %.1fs; pid %ld killed by "
			 "signal %d", (double)k->timeout_ms / 1000, k->pid,
			 k->term_signal);
	else if (k->term_signal)
		snprintf(why, sizeof(why), "pid %ld killed by signal %d", k->pid,
			 k->term_signal);
	else
		snprintf(why, sizeof(why), "exited with status %d", k->exit_status);
	if (r.ok)
		log_info("hooks", "%s: exited 0", k->name);
	finish(k, &r, why);
	try_free(k);
}

static void
init_stream(struct hook *k, struct stream *s, const char *label)
{
	s->label = label;
	s->len = 0;
	s->open = 1;
	uv_pipe_init(k->h->loop, &s->pipe, 0);
	s->pipe.data = k;
}

static void
run_command(struct hook *k)
{
	const struct hook_def *d = k->def;
	uv_loop_t *loop = k->h->loop;
	uv_process_options_t o;
	uv_stdio_container_t stdio[3];
	char **args = calloc(d->n_command + 1, sizeof(*args)), **env = NULL;
	int rc;

	k->spawned = k->exited = k->timed_out = k->term_signal = 0;
	k->exit_status = -1;
	k->pid = 0;
	k->logged = k->discarded = 0;
	k->spawn_err[0] = '\0';
	init_stream(k, &k->out, "stdout");
	init_stream(k, &k->err, "stderr");
	uv_timer_init(loop, &k->kill);
	k->kill.data = k;
	k->kill_open = 1;
	k->run_handles = 3;
	if (args)
		env = build_env(&k->running);
	if (args == NULL || env == NULL) {
		snprintf(k->spawn_err, sizeof(k->spawn_err), "out of memory");
		free(args);
		close_run(k);
		return;
	}
	for (size_t i = 0; i < d->n_command; i++)
		args[i] = d->command[i];
	memset(&o, 0, sizeof(o));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&k->out.pipe;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&k->err.pipe;
	o.file = args[0];
	o.args = args;
	o.env = env;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.flags = UV_PROCESS_DETACHED;	/* its own group, killed as one */
	o.exit_cb = on_child_exit;
	k->proc.data = k;
	rc = uv_spawn(loop, &k->proc, &o);
	k->proc_open = 1;	/* initialised even when the spawn failed */
	k->run_handles++;
	free(args);
	free_strv(env);
	if (rc != 0) {
		snprintf(k->spawn_err, sizeof(k->spawn_err), "cannot run %s: %s",
			 d->command[0], uv_strerror(rc));
		close_run(k);
		return;
	}
	k->spawned = 1;
	k->pid = (long)k->proc.pid;
	log_info("hooks", "%s: started %s (pid %ld) for %zu changed file%s", k->name,
		 d->command[0], k->pid, k->running.n, k->running.n == 1 ? "" : "s");
	if (uv_read_start((uv_stream_t *)&k->out.pipe, on_alloc, on_read) != 0)
		close_stream(k, &k->out);
	if (uv_read_start((uv_stream_t *)&k->err.pipe, on_alloc, on_read) != 0)
		close_stream(k, &k->err);
	k->timeout_ms = d->timeout_ms;
	uv_timer_start(&k->kill, on_timeout, k->timeout_ms, 0);
}

/* ------------------------------------------------------------------ */
/* Runs */

static void
on_timer(uv_timer_t *t)
{
	struct hook *k = t->data;

	k->retrying = 0;
	if (!k->has_pending || k->active || k->closing || k->def == NULL)
		return;
	changes_clear(&k->running);
	k->running = k->pending;
	memset(&k->pending, 0, sizeof(k->pending));
	k->has_pending = 0;
	k->stats.runs++;
	k->run_started = uv_now(k->h->loop);
	k->active = 1;
	if (k->running.dropped)
		log_warn("hooks", "%s: %zu changed files not named in "
			 "CERTAGENT_CHANGED_FILES (limit %d files, %d bytes)",
			 k->name, k->running.dropped, HOOK_MAX_FILES, HOOK_ENV_MAX);
	if (k->fn) {
		struct hooks_result r = { .name = k->name, .ok = 1, .exit_status = -1 };
		k->fn(k->fn_arg, (const char *const *)k->running.paths, k->running.n);
		finish(k, &r, "");
	} else if (k->def->signal) {
		run_signal(k);
	} else {
		run_command(k);
	}
}

/* Note a change for hook K, to run after the quiet period. */
static void
pend(struct hook *k, const struct change *c, uint64_t now, uint64_t min,
     uint64_t max)
{
	if (!k->has_pending || now + max < k->deadline)
		k->deadline = now + max;
	k->has_pending = 1;
	k->quiet_at = now + min;
	for (size_t j = 0; j < c->n_paths; j++)
		changes_add(&k->pending, c->paths[j]);
	if (c->serial)
		changes_set_cert(&k->pending, c->serial, c->not_after);
	if (k->active || k->retrying) {
		log_debug("hooks", "%s: change folded into the %s", k->name,
			  k->active ? "next run" : "pending retry");
		return;
	}
	if (k->h->flushing)
		k->quiet_at = k->deadline = now;
	schedule(k);
	log_debug("hooks", "%s: %zu changed file%s pending", k->name,
		  k->pending.n, k->pending.n == 1 ? "" : "s");
}

void
hooks_notify(struct hooks *h, const struct change *c)
{
	uint64_t now = uv_now(h->loop);
	uint64_t min = c->wait.min_ms, max = c->wait.max_ms;

	if (h->closing)
		return;
	if (max < min)
		max = min;
	for (size_t i = 0; i < c->n_hooks; i++) {
		struct hook *k = find(h, c->hooks[i]);

		if (k == NULL) {
			log_warn("hooks", "no hook named %s", c->hooks[i]);
			continue;
		}
		if (k != h->every)
			pend(k, c, now, min, max);
	}
	if (h->every && !h->every->closing)
		pend(h->every, c, now, min, max);
}

int
hooks_add_function(struct hooks *h, const char *name, hooks_fn fn, void *arg,
		   int every)
{
	struct hook *k;

	if (find(h, name))
		return -EEXIST;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->own_def.name = k->name = strdup(name);
	if (k->name == NULL) {
		free(k);
		return -ENOMEM;
	}
	k->fn = fn;
	k->fn_arg = arg;
	k->h = h;
	k->def = &k->own_def;
	uv_timer_init(h->loop, &k->timer);
	k->timer.data = k;
	k->next = h->list;
	h->list = k;
	if (every)
		h->every = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The module */

int
hooks_new(uv_loop_t *loop, const struct hooks_opts *cfg, hooks_done_cb done,
	  void *arg, struct hooks **out)
{
	struct hooks *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	h->loop = loop;
	h->cfg = cfg;
	h->done = done;
	h->arg = arg;
	uv_timer_init(loop, &h->flush);
	h->flush.data = h;
	for (size_t i = 0; i < cfg->n; i++) {
		if (hook_add(h, &cfg->defs[i]) == NULL) {
			hooks_close(h);
			return -ENOMEM;
		}
	}
	*out = h;
	return 0;
}

void
hooks_configure(struct hooks *h, const struct hooks_opts *cfg)
{
	struct hook *k;

	h->cfg = cfg;
	for (k = h->list; k; k = k->next)
		if (k->fn == NULL)
			k->def = NULL;
	for (size_t i = 0; i < cfg->n; i++) {
		k = find(h, cfg->defs[i].name);
		if (k)
			k->def = &cfg->defs[i];
		else if (hook_add(h, &cfg->defs[i]) == NULL)
			log_error("hooks", "%s: out of memory; hook not set up",
				  cfg->defs[i].name);
	}
	for (k = h->list; k; k = k->next)
		if (k->def == NULL && !k->closing)
			hook_release(k);
}

void
hooks_drop_pending(struct hooks *h, const char *name)
{
	struct hook *k = find(h, name);

	if (k == NULL || !k->has_pending)
		return;
	changes_clear(&k->pending);
	k->has_pending = 0;
	k->retrying = 0;
	if (!k->active)
		uv_timer_stop(&k->timer);
}

int
hooks_get_item(const struct hooks *h, size_t i, struct hooks_item *it)
{
	for (const struct hook *k = h->list; k; k = k->next) {
		if (k->closing)
			continue;
		if (i-- == 0) {
			it->name = k->name;
			it->own = k->fn != NULL;
			it->stats = k->stats;
			return 0;
		}
	}
	return -ENOENT;
}

int
hooks_get_stats(const struct hooks *h, const char *name, struct hooks_stats *st)
{
	const struct hook *k = find(h, name);

	if (k == NULL)
		return -ENOENT;
	*st = k->stats;
	return 0;
}

static void
on_flushed(uv_timer_t *t)
{
	struct hooks *h = t->data;
	void (*done)(void *) = h->flush_done;

	h->flush_done = NULL;
	if (done)
		done(h->flush_arg);
}

/* While flushing: once nothing runs or waits, call flush_done. */
static void
flush_check(struct hooks *h)
{
	for (const struct hook *k = h->list; k; k = k->next)
		if (!k->closing && (k->active || (k->has_pending && k->def)))
			return;
	if (h->flush_done && !uv_is_active((uv_handle_t *)&h->flush))
		uv_timer_start(&h->flush, on_flushed, 0, 0);
}

void
hooks_flush(struct hooks *h, void (*done)(void *arg), void *arg)
{
	h->flushing = 1;
	h->flush_done = done;
	h->flush_arg = arg;
	for (struct hook *k = h->list; k; k = k->next) {
		if (k->closing || !k->has_pending || k->active || k->def == NULL)
			continue;
		k->retrying = 0;
		uv_timer_start(&k->timer, on_timer, 0, 0);
	}
	flush_check(h);
}

static void
on_flush_closed(uv_handle_t *t)
{
	struct hooks *h = t->data;

	h->flush_closed = 1;
	try_free_module(h);
}

void
hooks_close(struct hooks *h)
{
	h->closing = 1;
	h->flush_done = NULL;
	uv_close((uv_handle_t *)&h->flush, on_flush_closed);
	if (h->list == NULL)
		return;
	for (struct hook *k = h->list; k; k = k->next) {
		if (k->active && k->spawned && !k->exited) {
			log_info("hooks", "%s: stopping pid %ld (SIGTERM)", k->name,
				 k->pid);
			kill_group(k, SIGTERM);
		}
		if (k->active)
			close_run(k);
		hook_release(k);
	}
}
