/*
 * agent: the daemon's owner object and its life cycle.
 *
 * DESIGN / invariants: struct agent owns the uv loop, the configuration
 * and the modules built on it (http, vault, auth, hooks, revq, certs,
 * deps, templates, the listeners and, in exec mode, the application).
 * Signals arrive as uv_signal_t and only change state or schedule work
 * (tmux's server_signal()): SIGTERM/SIGINT start an orderly stop, SIGHUP
 * reloads, SIGUSR1 renews every certificate now.  A reload parses into a
 * fresh struct config and swaps it in only when valid, so a bad edit
 * never takes down a running agent.
 *
 * Life-cycle changes are deferred events.  A module's callback into the
 * agent (a certificate held, a batch rendered, a login that failed for
 * good, the application exited) and a signal only post an event; the
 * events run from a uv_idle handle on the next loop turn, after the
 * callback that posted them has returned.  So no module ever has its
 * state freed under it by a stop or a reload it caused itself: the
 * pattern behind the `run --once` crash, where a certificate's
 * on_issued() reported progress, the progress check stopped the agent
 * and freed the hooks, and on_issued() went on to notify them.
 *
 * Progress: certs and templates report what they did; check_progress()
 * turns that into "every file is in place" (readiness, the start of the
 * exec child) and, in --once mode, into the exit.  --once runs the hooks
 * of what it wrote before it exits (as consul-template -once does), each
 * once and without its quiet period; a hook that cannot run is a warning,
 * not a failure of the render.
 *
 * Stop: producers close first (certs, templates, deps, hooks), then the
 * revocations asked for (revoke_on_shutdown, revoke_previous_after due
 * now) are sent and the token revoked, within SHUTDOWN_GRACE_MS; then
 * auth, vault and http close and the loop runs until every handle has
 * closed, so uv_loop_close() succeeds.  A second SIGTERM skips the wait.
 */
#include "agent.h"

#include <signal.h>
#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "audit.h"
#include "auth.h"
#include "bundles.h"
#include "certs.h"
#include "child.h"
#include "config.h"
#include "deps.h"
#include "files.h"
#include "fleet.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "revoke.h"
#include "telemetry.h"
#include "templates.h"
#include "vault.h"
#include "wallclock.h"
#include "x509.h"

#define POOL_ENV "UV_THREADPOOL_SIZE"	/* tune_memory() */
#define POOL_MAX 4

#define ERRBUF 16384
#define SHUTDOWN_GRACE_MS 10000

struct agent {
	uv_loop_t loop;
	const char *config_path;
	int pool_env_set;		/* we set UV_THREADPOOL_SIZE (tune_memory) */
	struct config *cfg;
	struct http *http;
	struct vault *vault;
	struct auth *auth;
	struct certs *certs;
	struct deps *deps;		/* outlives reloads: no refetch on SIGHUP */
	struct hooks *hooks;		/* outlives reloads: pending runs survive */
	struct revq *revq;		/* outlives reloads: pending revocations */
	struct templates *templates;	/* rebuilt on reload */
	struct telemetry *telemetry;	/* endpoints and the control socket */
	struct notify *notify;		/* systemd's NOTIFY_SOCKET, or NULL */
	struct audit *audit;		/* audit: the record of what was done */
	struct telemetry_view view;	/* what telemetry reads, kept current */
	struct child *child;		/* exec mode: the application */
	char **exec_argv;		/* exec mode: from the command line */
	uv_signal_t sigterm, sigint, sighup, sigusr1;
	uv_timer_t grace;		/* bounds the revocations at stop */
	uv_timer_t clock;		/* checks the wall clock for steps */
	int64_t skew_ms;		/* wall minus monotonic, last check */
	uv_idle_t events;		/* runs the posted life-cycle events */
	unsigned pending;		/* EV_* posted, not yet run */
	const char *stop_why;		/* EV_STOP: the reason to log */
	int stopping;			/* 1: revoking; 2: closing */
	int exit_code;
	unsigned flags;
	int once_done;			/* --once: every file in place; hooks run */
	int identity_new;		/* vault took a new client pair into use */
	int startup_hup;		/* a SIGHUP came before the handlers */
	struct stat loaded;		/* the config file as it was loaded */
	int tmpl_done;			/* the templates' last batch ended */
	unsigned tmpl_errors;		/* ... with this many errors */
	int rendered;			/* every file has been in place once */
	/* ---- fleet ---- */
	struct fleet *fleet;		/* entries_dir, or NULL */
	struct certs_opts certs_all;	/* certificates: and the fleet's */
	struct bundles *bundles;	/* trust bundles and CRLs */
};

/* Life-cycle events, run from the loop in this order (agent_post). */
#define EV_STOP 0x1		/* stop: stop_why, exit_code already set */
#define EV_RELOAD 0x2		/* SIGHUP */
#define EV_ROTATE 0x4		/* SIGUSR1: renew every certificate now */
#define EV_PROGRESS 0x8		/* certs or templates moved on */
#define EV_IDENTITY 0x10	/* the client certificate may have changed */
#define EV_FLEET 0x20		/* entries_dir changed (or certagent reload) */

/* The name the Vault client certificate has when nothing here renews it. */
#define IDENTITY_NAME "vault-identity"

static void on_rendered(void *arg, unsigned errors);
static void on_certs_event(void *arg);
static void on_changed(void *arg, const struct change *c);
static void on_cert_data(void *arg);
static void on_events(uv_idle_t *h);
static void update_view(struct agent *ag);
static void on_reload_asked(void *arg);
static void identity_check(struct agent *ag);
static void show_identity(struct agent *ag);
static void send_ready(struct agent *ag);
static void send_status(struct agent *ag);

static struct certs_events
certs_events(struct agent *ag)
{
	return (struct certs_events){ on_certs_event, on_changed, on_cert_data, ag };
}

static struct templates_events
templates_events(struct agent *ag)
{
	return (struct templates_events){ on_rendered, on_changed, ag };
}

/* Post EV; it runs from the loop after the current callback returns. */
static void
post(struct agent *ag, unsigned ev)
{
	ag->pending |= ev;
	if (!uv_is_closing((uv_handle_t *)&ag->events))
		uv_idle_start(&ag->events, on_events);
}

/* Ask for a stop with exit status CODE (-1: leave it); the first reason
 * asked for is the one logged. */
static void
post_stop(struct agent *ag, int code, const char *why)
{
	if (code >= 0)
		ag->exit_code = code;
	if (ag->stop_why == NULL || ag->stopping)
		ag->stop_why = why;
	post(ag, EV_STOP);
}

static void
apply_logging(const struct config *cfg)
{
	log_setup((enum log_level)cfg->log_level, cfg->log_format == LOG_FORMAT_JSON);
}

/* The modules that record what they do get the audit in their options. */
static void
give_audit(struct agent *ag, struct config *cfg)
{
	cfg->auth.audit = ag->audit;
	cfg->certs.audit = ag->audit;
	cfg->revoke.audit = ag->audit;
}

static int
once(const struct agent *ag)
{
	return (ag->flags & AGENT_ONCE) || ag->cfg->exit_after_render;
}

static unsigned
certs_flags(const struct agent *ag)
{
	return ((ag->flags & AGENT_DRY_RUN) ? CERTS_DRY : 0) |
	       (once(ag) ? CERTS_ONCE : 0);
}

/* The last step of a stop: close what is left. */
static void
finish(struct agent *ag)
{
	if (ag->stopping == 2)
		return;
	ag->stopping = 2;
	telemetry_close(ag->telemetry);
	ag->telemetry = NULL;
	notify_close(ag->notify);
	ag->notify = NULL;
	uv_timer_stop(&ag->grace);
	uv_close((uv_handle_t *)&ag->grace, NULL);
	uv_timer_stop(&ag->clock);
	uv_close((uv_handle_t *)&ag->clock, NULL);
	uv_close((uv_handle_t *)&ag->events, NULL);
	audit_set_labels(ag->audit, NULL, NULL);	/* the fleet goes */
	fleet_close(ag->fleet);
	ag->fleet = NULL;
	if (ag->revq)
		revq_close(ag->revq);
	if (ag->auth)
		auth_close(ag->auth);
	if (ag->vault)
		vault_close(ag->vault);
	if (ag->http)
		http_close(ag->http);
	ag->revq = NULL;
	ag->auth = NULL;
	ag->vault = NULL;
	ag->http = NULL;
	uv_close((uv_handle_t *)&ag->sigterm, NULL);
	uv_close((uv_handle_t *)&ag->sigint, NULL);
	uv_close((uv_handle_t *)&ag->sighup, NULL);
	uv_close((uv_handle_t *)&ag->sigusr1, NULL);
	/* Closing the handles gave these back their default action, which
	 * would kill us mid-stop: a second Ctrl-C must not change the exit
	 * status of an agent that is already on its way out. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
}

static void
on_grace(uv_timer_t *t)
{
	struct agent *ag = t->data;

	log_warn("agent", "revocations not answered within %ds; stopping anyway",
		 SHUTDOWN_GRACE_MS / 1000);
	finish(ag);
}

static void
on_token_revoked(void *arg)
{
	finish(arg);
}

static void
on_revocations_sent(void *arg)
{
	struct agent *ag = arg;

	if (ag->stopping != 1)
		return;
	if (ag->cfg->revoke_on_shutdown && ag->auth)
		auth_revoke(ag->auth, on_token_revoked, ag);
	else
		finish(ag);
}

static void
stop(struct agent *ag, const char *why)
{
	if (ag->stopping) {
		if (ag->stopping == 1) {
			log_info("agent", "%s: not waiting for the revocations", why);
			finish(ag);
		}
		return;
	}
	ag->stopping = 1;
	log_info("agent", "%s: stopping", why);
	notify_stopping(ag->notify);
	if (ag->child) {
		child_stop(ag->child, NULL, NULL);
		ag->child = NULL;
	}
	if (ag->certs && !(ag->flags & AGENT_DRY_RUN))
		certs_revoke_on_shutdown(ag->certs);
	if (ag->certs)
		certs_close(ag->certs);
	if (ag->templates)
		templates_close(ag->templates);
	if (ag->deps)
		deps_close(ag->deps);
	if (ag->bundles)
		bundles_close(ag->bundles);
	ag->bundles = NULL;
	if (ag->hooks)
		hooks_close(ag->hooks);
	ag->certs = NULL;
	ag->templates = NULL;
	ag->deps = NULL;
	ag->hooks = NULL;
	update_view(ag);
	if (ag->revq && (revq_pending(ag->revq) || ag->cfg->revoke_on_shutdown)) {
		uv_timer_start(&ag->grace, on_grace, SHUTDOWN_GRACE_MS, 0);
		revq_flush(ag->revq, on_revocations_sent, ag);
		return;
	}
	finish(ag);
}

/* run --once: the hooks of what it wrote have run. */
static void
on_once_hooks_done(void *arg)
{
	post_stop(arg, -1, "run --once: done");
}

/*
 * The start (and a reload) allocates far more than the agent then holds:
 * the YAML document, Vault's answers, PEM being verified.  glibc keeps
 * freed pages below its heap's top; hand them back, once the burst is
 * over, so an idle agent's resident memory is what it holds.
 */
static void
give_back_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/*
 * Where do certificates and templates stand?  Note the first moment every
 * file is in place; in --once mode, exit when nothing is left to try.
 * Runs only from on_events(), never inside a module's callback.
 */
static void
check_progress(struct agent *ag)
{
	struct certs_state cs;

	if (ag->stopping || ag->certs == NULL || (ag->flags & AGENT_DRY_RUN))
		return;
	/* Nothing to decide before every certificate has an outcome, or
	 * once every file has been in place in a long-running agent. */
	if (!certs_settled(ag->certs) || (ag->rendered && !once(ag)))
		return;
	certs_get_state(ag->certs, &cs);
	int certs_ok = cs.missing == 0 && cs.expired == 0;
	int tmpl_ok = ag->tmpl_done && ag->tmpl_errors == 0;

	if (!ag->rendered && certs_ok && tmpl_ok) {
		ag->rendered = 1;
		update_view(ag);
		send_ready(ag);
		log_info("agent", "every file is in place: %zu certificate%s, %zu "
				  "template%s", cs.total, cs.total == 1 ? "" : "s",
			 ag->cfg->templates.n, ag->cfg->templates.n == 1 ? "" : "s");
		give_back_memory();	/* the start's YAML, answers, buffers */
		if (ag->child) {
			char err[512];
			if (child_start(ag->child, err, sizeof(err)) != 0) {
				log_error("agent", "%s", err);
				ag->exit_code = 127;
				stop(ag, "exec: cannot start the application");
				return;
			}
			/* It starts with these files: nothing to tell it of. */
			hooks_drop_pending(ag->hooks, "exec");
		}
	}
	if (!once(ag) || ag->once_done)
		return;
	if (cs.busy || !ag->tmpl_done || (ag->tmpl_errors && deps_busy(ag->deps)))
		return;
	/* Trust bundles and CRLs: each has had its first round. */
	if (ag->bundles && !bundles_settled(ag->bundles))
		return;
	size_t bundles_bad = ag->bundles ? bundles_failed(ag->bundles) : 0;
	if (certs_ok && tmpl_ok && bundles_bad == 0) {
		/* What changed is on disk: its hooks run now, once, then
		 * the agent exits 0 whatever they did. */
		ag->once_done = 1;
		ag->exit_code = 0;
		hooks_flush(ag->hooks, on_once_hooks_done, ag);
		return;
	}
	log_error("agent", "run --once: failed: %zu of %zu certificate%s not in "
			   "place (%zu expired), %u template%s with errors, %zu trust "
			   "bundle%s or CRL%s not read; see above",
		  cs.missing + cs.expired, cs.total, cs.total == 1 ? "" : "s",
		  cs.expired, ag->tmpl_errors, ag->tmpl_errors == 1 ? "" : "s",
		  bundles_bad, bundles_bad == 1 ? "" : "s", bundles_bad == 1 ? "" : "s");
	ag->exit_code = 1;
	stop(ag, "run --once: failed");
}

/* ------------------------------------------------------------------ */
/* Renewal on demand */

/*
 * The one way to renew now: SIGUSR1, the control socket and anything
 * else that asks go through here.  NAME NULL: every certificate, the
 * entries' and the templates'.  Returns how many it matched.
 */
static size_t
agent_rotate(struct agent *ag, const char *name, const char *why)
{
	size_t n;

	if (ag->certs == NULL || ag->stopping)
		return 0;
	n = certs_rotate(ag->certs, name);
	if (n)
		log_info("agent", "%s: renewing %s now (%zu certificate%s)", why,
			 name ? name : "every certificate", n, n == 1 ? "" : "s");
	return n;
}

static size_t
on_rotate(void *arg, const char *name)
{
	return agent_rotate(arg, name, "control socket");
}

/*
 * One line for systemd's STATUS= (and `systemctl status`): where the
 * certificates stand, and the next renewal.
 */
static void
status_line(const struct agent *ag, char *buf, size_t len)
{
	struct certs_state cs;
	struct certs_item it;
	const char *next = NULL;
	int64_t at = 0;

	if (ag->certs == NULL) {
		snprintf(buf, len, "stopping");
		return;
	}
	certs_get_state(ag->certs, &cs);
	for (size_t i = 0; i < certs_count(ag->certs); i++) {
		certs_get_item(ag->certs, i, &it);
		if (it.renew_at_ms && it.renew_at_ms != it.not_after_ms &&
		    (at == 0 || it.renew_at_ms < at)) {
			at = it.renew_at_ms;
			next = it.name;
		}
	}
	int n = snprintf(buf, len, "%zu certificate%s valid", cs.valid,
			 cs.valid == 1 ? "" : "s");
	if (cs.expired && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %zu EXPIRED", cs.expired);
	if (cs.missing && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %zu not yet written", cs.missing);
	if (next && n > 0 && (size_t)n < len) {
		char when[32];
		time_t t = (time_t)(at / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(buf + n, len - (size_t)n, "; next renewal %s at %s", next, when);
	}
}

static void
send_status(struct agent *ag)
{
	char line[512];

	if (ag->notify == NULL || ag->stopping)
		return;
	status_line(ag, line, sizeof(line));
	notify_status(ag->notify, line);
}

/* READY=1: once every file has been in place, and after each reload. */
static void
send_ready(struct agent *ag)
{
	char line[512];

	if (ag->notify == NULL || ag->stopping || !ag->rendered)
		return;
	status_line(ag, line, sizeof(line));
	notify_ready(ag->notify, line);
}

/* Telemetry reads this; it follows every change of module or state. */
static void
update_view(struct agent *ag)
{
	ag->view = (struct telemetry_view){
		.certs = ag->certs,
		.templates = ag->templates,
		.auth = ag->auth,
		.vault = ag->vault,
		.hooks = ag->hooks,
		.deps = ag->deps,
		.bundles = ag->bundles,
		.rendered = ag->rendered,
		.stopping = ag->stopping != 0,
		.fail_open = ag->cfg->listener.fail_open,
		.revq = ag->revq,
		.fleet = ag->fleet,
		.reload = on_reload_asked,
		.reload_arg = ag,
	};
}

static int
open_telemetry(struct agent *ag, char *err, size_t errlen)
{
	update_view(ag);
	return telemetry_open(&ag->loop, &ag->cfg->listener, &ag->view, on_rotate, ag,
			      &ag->telemetry, err, errlen);
}

/*
 * Renewals and token expiries are wall-clock instants but uv timers count
 * monotonic time, so a step of the wall clock (NTP, a resumed VM, an
 * operator's date -s) would go unseen until a timer fired, perhaps after
 * the certificate expired.  The two clocks are compared every
 * CLOCK_CHECK_MS; a drift larger than CLOCK_STEP_MS (NTP slews far
 * slower) is a step, and the engine and auth schedule again on the wall
 * clock.  The timer is unref'd: it never keeps the loop up.
 */
#define CLOCK_CHECK_MS 5000
#define CLOCK_STEP_MS 2000

static int64_t
clock_skew(void)
{
	return wall_ms() - (int64_t)(uv_hrtime() / 1000000);
}

static void
on_clock(uv_timer_t *t)
{
	struct agent *ag = t->data;
	int64_t skew = clock_skew(), step = skew - ag->skew_ms;

	ag->skew_ms = skew;
	if ((step > -CLOCK_STEP_MS && step < CLOCK_STEP_MS) || ag->stopping)
		return;
	size_t n = certs_clock_stepped(ag->certs);
	log_warn("agent", "the wall clock stepped %s by %.0fs; %zu renewal%s "
			  "scheduled again", step > 0 ? "forward" : "back",
		 (double)(step > 0 ? step : -step) / 1000, n, n == 1 ? "" : "s");
	auth_clock_stepped(ag->auth, step);
	update_view(ag);
}

static void
clock_start(struct agent *ag)
{
	ag->skew_ms = clock_skew();
	uv_timer_start(&ag->clock, on_clock, CLOCK_CHECK_MS, CLOCK_CHECK_MS);
	uv_unref((uv_handle_t *)&ag->clock);
}

/* ---- fleet ---- */

/* Do A and B have the same profiles, in the same order? */
static int
profiles_same(const struct config *a, const struct config *b)
{
	if (a->n_profiles != b->n_profiles)
		return 0;
	for (size_t i = 0; i < a->n_profiles; i++)
		if (strcmp(a->profiles[i].name, b->profiles[i].name) != 0 ||
		    !config_same_cert(&a->profiles[i], &b->profiles[i]))
			return 0;
	return 1;
}

/*
 * The engine's entries from CFG's certificates: and the fleet read
 * against CFG (about to be the running configuration).  Unchanged
 * entries keep their state; certs_start() and fleet_retire() follow.
 */
static void
fleet_configure(struct agent *ag, struct config *cfg)
{
	if (ag->fleet == NULL) {
		certs_configure(ag->certs, &cfg->certs, config_same_cert);
		return;
	}
	fleet_scan(ag->fleet, cfg, !profiles_same(ag->cfg, cfg));
	fleet_watch(ag->fleet);	/* the directory may be back */
	if (fleet_build(ag->fleet, &cfg->certs, &ag->certs_all) != 0)
		log_error("agent", "out of memory; entries_dir's entries are "
			  "left out until the next change");
	certs_configure(ag->certs, &ag->certs_all, config_same_cert);
}

/* After certs_start(): issue the edited entries again, then act on the
 * removed ones and free what the engine let go of. */
static void
fleet_reissue_and_retire(struct agent *ag)
{
	const char *name;

	for (size_t i = 0; i < fleet_edited(ag->fleet, i, &name); i++)
		certs_rotate(ag->certs, name);
	fleet_retire(ag->fleet, ag->revq);
}

/* CPU time of the process so far, in ms: what a reload costs. */
static double
cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* entries_dir changed, or certagent reload: read it again, apply. */
static void
fleet_apply(struct agent *ag)
{
	double t0 = cpu_ms();
	struct fleet_stats st;

	if (ag->fleet == NULL || ag->certs == NULL || ag->stopping)
		return;
	if (fleet_scan_changed(ag->fleet, ag->cfg) != 0)
		return;
	if (fleet_build(ag->fleet, &ag->cfg->certs, &ag->certs_all) != 0) {
		log_error("agent", "out of memory; entries_dir is read again at "
			  "its next change");
		return;
	}
	certs_configure(ag->certs, &ag->certs_all, config_same_cert);
	update_view(ag);
	certs_start(ag->certs);
	fleet_reissue_and_retire(ag);
	fleet_watch(ag->fleet);	/* the directory may be back */
	fleet_get_stats(ag->fleet, &st);
	log_info("agent", "entries_dir read again: %zu entries, %zu file%s read, "
		 "%zu removed; %.1f ms CPU", st.entries, st.last_read,
		 st.last_read == 1 ? "" : "s", st.last_removed, cpu_ms() - t0);
}

static void
on_fleet_changed(void *arg)
{
	post(arg, EV_FLEET);
}

/* certagent reload (the control socket): as SIGHUP. */
static void
on_reload_asked(void *arg)
{
	struct agent *ag = arg;

	if (!once(ag))
		post(ag, EV_RELOAD);
}

/*
 * At start: read entries_dir (when set) before the engine exists, so its
 * entries are adopted from disk with the others, with no Vault call.
 */
static int
fleet_open(struct agent *ag)
{
	const char *dir = ag->cfg->entries_dir;
	struct fleet_stats st;
	int rc;

	if (dir == NULL)
		return 0;
	if (fleet_new(&ag->loop, dir, on_fleet_changed, ag, &ag->fleet) != 0)
		return -1;
	fleet_set_audit(ag->fleet, ag->audit);
	audit_set_labels(ag->audit, fleet_labels, ag->fleet);
	fleet_scan(ag->fleet, ag->cfg, 0);
	if (fleet_build(ag->fleet, &ag->cfg->certs, &ag->certs_all) != 0)
		return -1;
	fleet_get_stats(ag->fleet, &st);
	rc = fleet_watch(ag->fleet);
	if (rc != 0)
		log_warn("agent", "cannot watch %s: %s; changes are read on "
			 "SIGHUP or certagent reload", dir, uv_strerror(rc));
	log_info("agent", "entries_dir %s: %zu entr%s%s", dir, st.entries,
		 st.entries == 1 ? "y" : "ies",
		 st.invalid ? " (and invalid files: see above)" : "");
	return 0;
}

static void
reload(struct agent *ag)
{
	struct config *cfg = NULL;
	char *err = malloc(ERRBUF);
	char verr[512];
	int applied = 0;
	double t0 = cpu_ms();

	if (err == NULL)
		return;
	err[0] = '\0';
	log_info("agent", "SIGHUP: reloading %s", ag->config_path);
	notify_reloading(ag->notify);
	/* logrotate moved the audit log away, then sent the SIGHUP. */
	audit_reopen(ag->audit);
	if (config_load(ag->config_path, &cfg, err, ERRBUF) != 0) {
		audit_reload(ag->audit, ag->config_path, "the file is not valid");
		log_error("agent", "reload failed; keeping the running configuration:");
		for (char *line = err, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			log_error("config", "%s", line);
		}
		goto out;
	}
	if (config_check_reload(ag->cfg, cfg, err, ERRBUF) != 0) {
		log_error("agent", "reload refused; keeping the running "
				   "configuration (restart to apply): %s", err);
		audit_reload(ag->audit, ag->config_path, "a key changed that needs "
			     "a restart");
		config_free(cfg);
		goto out;
	}
	/* The entries start over from disk, the templates from the data the
	 * deps store and the engine hold: valid files are kept, so a reload
	 * never issues again what is not due.  What can fail is done before
	 * anything is applied, so a failure leaves the running set alone. */
	struct templates *templates = NULL;
	struct templates_events tev = templates_events(ag);
	if (templates_new(&ag->loop, ag->deps, ag->certs, &cfg->templates,
			  ag->flags & AGENT_DRY_RUN, &tev, &templates) != 0) {
		log_error("agent", "reload failed (out of memory); keeping the "
				   "running configuration");
		audit_reload(ag->audit, ag->config_path, "out of memory");
		config_free(cfg);
		goto out;
	}
	/* A template that cannot be read or parsed now would be lost with
	 * the running one: the reload is refused and the old set renders on. */
	if (templates_load(templates, 1, verr, sizeof(verr)) != 0) {
		log_error("agent", "reload failed; keeping the running "
				   "configuration: %s", verr);
		audit_reload(ag->audit, ag->config_path, verr);
		templates_close(templates);
		config_free(cfg);
		goto out;
	}
	if (vault_configure(ag->vault, &cfg->vault, verr, sizeof(verr)) != 0) {
		log_error("agent", "reload failed; keeping the running "
				   "configuration: %s", verr);
		audit_reload(ag->audit, ag->config_path, verr);
		templates_close(templates);
		config_free(cfg);
		goto out;
	}
	apply_logging(cfg);
	if (audit_configure(ag->audit, &cfg->audit, verr, sizeof(verr)) != 0)
		log_error("agent", "%s; the audit log stays where it was", verr);
	give_audit(ag, cfg);
	auth_configure(ag->auth, &cfg->auth);
	fleet_configure(ag, cfg);
	templates_close(ag->templates);
	ag->templates = templates;
	update_view(ag);
	ag->tmpl_done = 0;
	deps_configure(ag->deps, &cfg->deps);
	http_set_max_host_connections(ag->http,
				      (long)cfg->deps.max_connections_per_host);
	hooks_configure(ag->hooks, &cfg->hooks);
	revq_configure(ag->revq, &cfg->revoke);
	if (ag->bundles)
		bundles_configure(ag->bundles, &cfg->bundles);
	config_free(ag->cfg);
	ag->cfg = cfg;
	update_view(ag);	/* fail_open may have changed */
	certs_start(ag->certs);
	if (ag->fleet)
		fleet_reissue_and_retire(ag);
	applied = 1;
	show_identity(ag);
	templates_start(ag->templates);
	if (ag->bundles)
		bundles_start(ag->bundles);	/* a round now: SIGHUP refreshes */
	log_info("agent", "configuration reloaded; %.1f ms CPU", cpu_ms() - t0);
	audit_reload(ag->audit, ag->config_path, NULL);
	give_back_memory();	/* the old configuration, the new one's YAML */
out:
	/* The entries' files are read again even when the main file was
	 * refused: a SIGHUP is also how an edit of entries_dir is told. */
	if (!applied && ag->fleet)
		fleet_apply(ag);
	send_ready(ag);	/* the reload is over, applied or refused */
	free(err);
}

/* exec: the application is gone; its exit code is ours. */
static void
on_child_exit(void *arg, int code)
{
	post_stop(arg, code, "exec: the application exited");
}

static void
on_child_stopped(void *arg, int code)
{
	post_stop(arg, code, "exec: the application stopped");
}

/* exec: files changed (after their quiet period): tell the application. */
static void
on_exec_change(void *arg, const char *const *paths, size_t n)
{
	struct agent *ag = arg;

	(void)paths;
	if (ag->child && child_pid(ag->child)) {
		log_info("agent", "exec: %zu file%s changed; %s the application", n,
			 n == 1 ? "" : "s",
			 ag->cfg->exec_restart ? "restarting" : "signalling");
		child_reload(ag->child);
	}
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct agent *ag = s->data;

	switch (signum) {
	case SIGTERM:
	case SIGINT:
		/* exec: the application decides when we are done.  SIGINT is
		 * passed on as it is; SIGTERM stops it (SIGKILL after
		 * exec.kill_timeout), then the agent. */
		if (ag->child && child_pid(ag->child) && !ag->stopping) {
			if (signum == SIGINT) {
				log_info("agent", "SIGINT: passing it to the application");
				child_signal(ag->child, SIGINT);
				break;
			}
			log_info("agent", "SIGTERM: stopping the application");
			struct child *c = ag->child;
			ag->child = NULL;
			child_stop(c, on_child_stopped, ag);
			break;
		}
		post_stop(ag, -1, signum == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	case SIGHUP:
		if (!once(ag))
			post(ag, EV_RELOAD);
		break;
	case SIGUSR1:
		post(ag, EV_ROTATE);
		break;
	}
}

/* Does a certificates: entry write PATH (the client certificate)? */
static int
entry_writes(const struct config *cfg, const char *path)
{
	for (size_t i = 0; path && i < cfg->certs.n; i++) {
		const struct cert_files *out = &cfg->certs.defs[i].out;
		for (size_t j = 0; j < out->n; j++) {
			char full[4200];
			if (out->atomic_dir)
				snprintf(full, sizeof(full), "%s/%s", out->atomic_dir,
					 out->files[j].path);
			else
				snprintf(full, sizeof(full), "%s", out->files[j].path);
			if (strcmp(full, path) == 0)
				return 1;
		}
	}
	return 0;
}

/* The client certificate, as telemetry shows it, when no entry renews it. */
static void
show_identity(struct agent *ag)
{
	const char *cert = ag->cfg->vault.client_cert;

	if (ag->certs && cert && !entry_writes(ag->cfg, cert))
		certs_external(ag->certs, IDENTITY_NAME, vault_identity_pem(ag->vault));
}

/*
 * The client certificate may have changed: vault took a new pair into use
 * on a request, or an entry just wrote its files (then look now, not at
 * the next request).  cert auth logs in again with it at once.
 */
static void
identity_check(struct agent *ag)
{
	int fresh = ag->identity_new || vault_identity_refresh(ag->vault) == 1;

	ag->identity_new = 0;
	if (!fresh)
		return;
	auth_identity_changed(ag->auth);
	show_identity(ag);
}

/* vault: a new client pair is in use (from inside a request: defer). */
static void
on_identity(void *arg)
{
	struct agent *ag = arg;

	ag->identity_new = 1;
	post(ag, EV_IDENTITY);
}

/* Is the config file still the one loaded at start (same inode, size,
 * modification time)? */
static int
config_unchanged(const struct agent *ag)
{
	struct stat now;

	return stat(ag->config_path, &now) == 0 && now.st_ino == ag->loaded.st_ino &&
	       now.st_dev == ag->loaded.st_dev && now.st_size == ag->loaded.st_size &&
	       now.st_mtim.tv_sec == ag->loaded.st_mtim.tv_sec &&
	       now.st_mtim.tv_nsec == ag->loaded.st_mtim.tv_nsec;
}

/* Run the posted events, in a fixed order: a stop makes the rest moot. */
static void
on_events(uv_idle_t *h)
{
	struct agent *ag = h->data;
	unsigned ev = ag->pending;

	ag->pending = 0;
	uv_idle_stop(h);
	if (ev & EV_STOP) {
		stop(ag, ag->stop_why ? ag->stop_why : "stop");
		return;
	}
	if (ag->stopping)
		return;
	if ((ev & EV_RELOAD) && ag->startup_hup && config_unchanged(ag)) {
		ag->startup_hup = 0;
		log_info("agent", "SIGHUP during start-up: %s is the file just "
				  "loaded; nothing to reload", ag->config_path);
		ev &= ~(unsigned)EV_RELOAD;
	}
	ag->startup_hup = 0;
	if (ev & EV_RELOAD)
		reload(ag);
	else if (ev & EV_FLEET)
		fleet_apply(ag);
	if (ev & EV_IDENTITY)
		identity_check(ag);
	if (ev & EV_ROTATE)
		agent_rotate(ag, NULL, "SIGUSR1");
	if (ev & (EV_PROGRESS | EV_RELOAD | EV_FLEET))
		check_progress(ag);
	if (ev & (EV_PROGRESS | EV_IDENTITY))
		send_status(ag);
}

static void
on_token(void *arg, const char *token)
{
	struct agent *ag = arg;
	struct auth_stats st;

	if (ag->stopping)
		return;
	if (token) {
		certs_token_ready(ag->certs);
		deps_token_ready(ag->deps);
		if (ag->revq)
			revq_token_ready(ag->revq, 1);
		if (ag->bundles)
			bundles_token_ready(ag->bundles);
		return;
	}
	auth_get_stats(ag->auth, &st);
	if (once(ag) && st.login_failures > 0 && !ag->stop_why) {
		log_error("agent", "run --once: failed: cannot log in to Vault "
				   "(see above)");
		post_stop(ag, 1, "run --once: failed");
	}
}

static void
on_certs_event(void *arg)
{
	post(arg, EV_PROGRESS);
}

/* A certificate's or a template's files changed: for the hooks.  Only
 * records (hooks_notify never runs a hook before it returns). */
static void
on_changed(void *arg, const struct change *c)
{
	struct agent *ag = arg;
	const char *cert = ag->cfg->vault.client_cert, *key = ag->cfg->vault.client_key;

	for (size_t i = 0; i < c->n_paths; i++)
		audit_file(ag->audit, c->source, c->paths[i]);
	if (!ag->stopping && ag->hooks)
		hooks_notify(ag->hooks, c);
	for (size_t i = 0; cert && i < c->n_paths; i++)
		if (strcmp(c->paths[i], cert) == 0 || strcmp(c->paths[i], key) == 0)
			post(ag, EV_IDENTITY);	/* the agent renewed its own */
}

/* A template certificate has new material: render again. */
static void
on_cert_data(void *arg)
{
	struct agent *ag = arg;

	if (!ag->stopping && ag->templates)
		templates_schedule(ag->templates);
}

static void
on_rendered(void *arg, unsigned errors)
{
	struct agent *ag = arg;

	ag->tmpl_done = 1;
	ag->tmpl_errors = errors;
	if (ag->flags & AGENT_DRY_RUN) {
		post_stop(ag, errors ? 1 : 0,
			  errors ? "dry run: done, with template errors"
				 : "dry run: every template rendered");
		return;
	}
	post(ag, EV_PROGRESS);
}

/* A hook ran: for the record. */
static void
on_hook_done(void *arg, const struct hooks_result *r)
{
	struct agent *ag = arg;

	audit_hook(ag->audit, r->name, r->ok, r->exit_status, r->term_signal,
		   r->timed_out, r->pid);
}

static void
on_deps_changed(void *arg)
{
	struct agent *ag = arg;

	if (!ag->stopping && ag->deps && deps_gave_up(ag->deps) > 0) {
		log_error("agent", "template_config.exit_on_retry_failure: a "
				   "template's data could not be read after %llu "
				   "retries; exiting",
			  (unsigned long long)ag->cfg->deps.num_retries);
		post_stop(ag, 1, "template_config.exit_on_retry_failure");
		return;
	}
	if (!ag->stopping && ag->templates)
		templates_schedule(ag->templates);
}

static void
handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void
agent_hold_signals(void)
{
	sigset_t set;

	handled_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

void
agent_release_signals(void)
{
	sigset_t set;

	handled_signals(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * The handlers exist: let the signals in.  One that came during start-up
 * is delivered now and runs from the loop; a SIGHUP then reloads only if
 * the file changed since it was loaded, moments ago.
 */
static void
open_signals(struct agent *ag)
{
	sigset_t pending;

	if (sigpending(&pending) == 0 && sigismember(&pending, SIGHUP))
		ag->startup_hup = 1;
	agent_release_signals();
}

static int
print_config_errors(const char *path, const char *err)
{
	fprintf(stderr, "certagent: %s is not valid:\n%s", path, err);
	if (err[0] && err[strlen(err) - 1] != '\n')
		fputc('\n', stderr);
	return 2;
}

/* Load PATH, or print its errors; NULL then. */
static struct config *
load_or_print(const char *path, int *rc)
{
	struct config *cfg = NULL;
	char *err = malloc(ERRBUF);

	*rc = 1;
	if (err == NULL)
		return NULL;
	err[0] = '\0';
	if (config_load(path, &cfg, err, ERRBUF) != 0) {
		*rc = print_config_errors(path, err);
		cfg = NULL;
	}
	free(err);
	return cfg;
}

/*
 * certagent check, with cert auth: say so when nothing renews the client
 * certificate the agent logs in with, and show the entry that would.
 */
static void
identity_note(const struct config *cfg)
{
	const char *cert = cfg->vault.client_cert, *key = cfg->vault.client_key;
	char *pem = NULL, err[256];
	struct x509_info info;
	size_t len;
	int known;

	if (cfg->auth.method != AUTH_METHOD_CERT || cert == NULL ||
	    entry_writes(cfg, cert))
		return;
	known = files_read(cert, 1 << 20, &pem, &len, err, sizeof(err)) == 0 &&
		x509_cert_info(pem, &info, err, sizeof(err)) == 0;
	free(pem);
	printf("note: nothing renews vault.client_cert (%s): once it expires, "
	       "the agent cannot log in%s%s%s.  A certificates: entry like this "
	       "one renews it with the token it gives, and the agent logs in "
	       "again with each new pair:\n"
	       "certificates:\n"
	       "  - name: vault-identity\n"
	       "    path: pki/issue/ROLE          # a role that may issue it\n"
	       "    common_name: %s\n"
	       "    renew_at: 0.5\n"
	       "    files:\n"
	       "      cert: {path: %s}\n"
	       "      key: {path: %s}\n",
	       cert, known ? " (serial " : "", known ? info.serial : "",
	       known ? ")" : "", known && info.subject_cn[0] ? info.subject_cn : "CN",
	       cert, key);
}

int
agent_check(const char *config_path)
{
	int rc;
	struct config *cfg = load_or_print(config_path, &rc);

	if (cfg == NULL)
		return rc;
	printf("%s: ok\n", config_path);
	identity_note(cfg);
	config_free(cfg);
	return 0;
}

int
agent_control_socket(const char *config_path, char *out, size_t len)
{
	int rc;
	struct config *cfg = load_or_print(config_path, &rc);

	if (cfg == NULL)
		return -1;
	if (cfg->listener.control_socket == NULL) {
		fprintf(stderr, "certagent: %s sets no listener.control_socket; set "
				"one, or send SIGUSR1 to renew every certificate\n",
			config_path);
		config_free(cfg);
		return -1;
	}
	snprintf(out, len, "%s", cfg->listener.control_socket);
	config_free(cfg);
	return 0;
}

int
agent_status_address(const char *config_path, char *out, size_t len)
{
	int rc;
	struct config *cfg = load_or_print(config_path, &rc);

	if (cfg == NULL)
		return -1;
	rc = 0;
	if (cfg->listener.control_socket)
		snprintf(out, len, "unix:%s", cfg->listener.control_socket);
	else if (cfg->listener.address)
		snprintf(out, len, "%s", cfg->listener.address);
	else {
		fprintf(stderr, "certagent: %s sets neither listener.control_socket "
				"nor listener.address: nothing to ask\n", config_path);
		rc = -1;
	}
	config_free(cfg);
	return rc;
}

static int
start_exec(struct agent *ag, char *err, size_t errlen)
{
	const struct config *cfg = ag->cfg;
	char **argv = ag->exec_argv ? ag->exec_argv : cfg->exec_command;

	if (!(ag->flags & AGENT_EXEC))
		return 0;
	if (once(ag)) {
		snprintf(err, errlen, "exec: cannot be combined with --once or "
				      "exit_after_render");
		return -1;
	}
	if (argv == NULL || argv[0] == NULL) {
		snprintf(err, errlen, "exec: no command: give one after -- or set "
				      "exec.command in %s", ag->config_path);
		return -1;
	}
	struct child_opts o = {
		.argv = argv,
		.reload = cfg->exec_restart ? CHILD_RESTART : CHILD_SIGNAL,
		.reload_signal = cfg->exec_signal,
		.kill_timeout_ms = cfg->exec_kill_timeout_ms,
		.unset_env = ag->pool_env_set ? POOL_ENV : NULL,
	};
	if (child_new(&ag->loop, &o, on_child_exit, ag, &ag->child) != 0 ||
	    hooks_add_function(ag->hooks, "exec", on_exec_change, ag, 1) != 0) {
		snprintf(err, errlen, "exec: cannot set up the application");
		return -1;
	}
	return 0;
}

/*
 * Memory of our own, set once while no other thread runs.
 *
 * libuv's thread pool serves one kind of work here, key generation in
 * sign mode, which is all CPU: more threads than CPUs only cost memory.
 * libuv reads UV_THREADPOOL_SIZE once, when the pool starts at the first
 * uv_queue_work(); unless the user set it, it is set to the CPUs we may
 * use (at most libuv's default of 4), and kept from the exec child.
 *
 * glibc gives each thread that allocates its own arena (64 MB reserved,
 * tens of KB resident for good); the pool's and curl's resolver threads
 * allocate little, so they share the one arena instead.
 *
 * Returns whether UV_THREADPOOL_SIZE was set here.
 */
static int
tune_memory(void)
{
	unsigned n = uv_available_parallelism();
	char v[16];

#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 1);
#endif
	if (getenv(POOL_ENV) != NULL)
		return 0;
	snprintf(v, sizeof(v), "%u", n < 1 ? 1 : n > POOL_MAX ? POOL_MAX : n);
	return setenv(POOL_ENV, v, 0) == 0;
}

int
agent_run(const char *config_path, unsigned flags, char **exec_argv)
{
	struct agent ag;
	char *err = malloc(ERRBUF);
	int rc;

	if (err == NULL)
		return 1;
	memset(&ag, 0, sizeof(ag));
	ag.config_path = config_path;
	ag.flags = flags;
	ag.exec_argv = exec_argv;
	ag.pool_env_set = tune_memory();
	err[0] = '\0';
	if (stat(config_path, &ag.loaded) != 0)
		memset(&ag.loaded, 0, sizeof(ag.loaded));
	if (config_load(config_path, &ag.cfg, err, ERRBUF) != 0) {
		rc = print_config_errors(config_path, err);
		free(err);
		return rc;
	}
	apply_logging(ag.cfg);
	if (uv_loop_init(&ag.loop) != 0) {
		log_error("agent", "cannot create the event loop");
		config_free(ag.cfg);
		free(err);
		return 1;
	}
	/* Signal handles and the grace timer first, so finish() can always
	 * close them. */
	if (uv_signal_init(&ag.loop, &ag.sigterm) != 0 ||
	    uv_signal_init(&ag.loop, &ag.sigint) != 0 ||
	    uv_signal_init(&ag.loop, &ag.sighup) != 0 ||
	    uv_signal_init(&ag.loop, &ag.sigusr1) != 0 ||
	    uv_timer_init(&ag.loop, &ag.grace) != 0 ||
	    uv_timer_init(&ag.loop, &ag.clock) != 0 ||
	    uv_idle_init(&ag.loop, &ag.events) != 0) {
		log_error("agent", "cannot set up signal handling");
		abort();	/* these fail only without memory */
	}
	ag.sigterm.data = ag.sigint.data = ag.sighup.data = ag.sigusr1.data = &ag;
	ag.grace.data = &ag;
	ag.clock.data = &ag;
	ag.events.data = &ag;
	struct certs_events cev = certs_events(&ag);
	struct templates_events tev = templates_events(&ag);
	struct bundles_events bev = { on_changed, &ag, on_certs_event };
	if (audit_new(&ag.audit) != 0 ||
	    audit_configure(ag.audit, &ag.cfg->audit, err, ERRBUF) != 0) {
		log_error("agent", "cannot start: %s", err[0] ? err : "out of memory");
		finish(&ag);
		uv_run(&ag.loop, UV_RUN_DEFAULT);
		uv_loop_close(&ag.loop);
		audit_free(ag.audit);
		config_free(ag.cfg);
		free(err);
		return 1;
	}
	give_audit(&ag, ag.cfg);
	ag.certs_all = ag.cfg->certs;
	if (fleet_open(&ag) != 0 ||
	    http_new(&ag.loop, &ag.http, err, ERRBUF) != 0 ||
	    vault_new(&ag.loop, ag.http, &ag.cfg->vault, &ag.vault, err, ERRBUF) != 0 ||
	    auth_new(&ag.loop, ag.vault, &ag.cfg->auth, on_token, &ag, &ag.auth) != 0 ||
	    hooks_new(&ag.loop, &ag.cfg->hooks, on_hook_done, &ag, &ag.hooks) != 0 ||
	    revq_new(&ag.loop, ag.vault, &ag.cfg->revoke, &ag.revq) != 0 ||
	    certs_new(&ag.loop, ag.vault, ag.auth, ag.revq, &ag.certs_all,
		      certs_flags(&ag), &cev, &ag.certs) != 0 ||
	    deps_new(&ag.loop, ag.vault, ag.auth, &ag.cfg->deps, on_deps_changed, &ag,
		     &ag.deps) != 0 ||
	    templates_new(&ag.loop, ag.deps, ag.certs, &ag.cfg->templates,
			  flags & AGENT_DRY_RUN, &tev, &ag.templates) != 0 ||
	    (!(flags & AGENT_DRY_RUN) &&
	     bundles_new(&ag.loop, ag.vault, ag.auth, &ag.cfg->bundles, &bev,
			 &ag.bundles) != 0) ||
	    uv_signal_start(&ag.sigterm, on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&ag.sigint, on_signal, SIGINT) != 0 ||
	    uv_signal_start(&ag.sighup, on_signal, SIGHUP) != 0 ||
	    uv_signal_start(&ag.sigusr1, on_signal, SIGUSR1) != 0 ||
	    open_telemetry(&ag, err, ERRBUF) != 0 ||
	    start_exec(&ag, err, ERRBUF) != 0) {
		log_error("agent", "cannot start: %s", err[0] ? err : "out of memory");
		ag.exit_code = 1;
		stop(&ag, "start-up failed");
		finish(&ag);
		uv_run(&ag.loop, UV_RUN_DEFAULT);
		uv_loop_close(&ag.loop);
		audit_free(ag.audit);
		config_free(ag.cfg);
		free(err);
		return 1;
	}
	free(err);
	/* A journal's revocations wait for the first login. */
	revq_token_ready(ag.revq, auth_token(ag.auth) != NULL);
	if (notify_open(&ag.loop, &ag.notify) != 0)
		log_warn("agent", "out of memory; not notifying the service manager");
	open_signals(&ag);
	http_set_max_host_connections(ag.http,
				      (long)ag.cfg->deps.max_connections_per_host);
	if (once(&ag))
		vault_set_default_attempts(ag.vault,
					   (unsigned)((ag.cfg->vault.num_retries + 1) *
						      ag.cfg->vault.n_addresses));
	log_info("agent", "certagent %s starting with %s (%zu Vault address%s)%s",
		 CERTAGENT_VERSION, config_path, ag.cfg->vault.n_addresses,
		 ag.cfg->vault.n_addresses == 1 ? "" : "es",
		 once(&ag) ? ": render once and exit" : "");
	vault_on_identity(ag.vault, on_identity, &ag);
	clock_start(&ag);
	certs_start(ag.certs);
	show_identity(&ag);
	templates_start(ag.templates);
	if (ag.bundles)
		bundles_start(ag.bundles);
	if (!ag.stopping)
		auth_start(ag.auth);
	uv_run(&ag.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&ag.loop);
	if (rc != 0)
		log_error("agent", "event loop closed with handles open: %s",
			  uv_strerror(rc));
	audit_free(ag.audit);
	config_free(ag.cfg);
	log_redact_clear();
	x509_forget();
	log_info("agent", "stopped");
	return ag.exit_code;
}
