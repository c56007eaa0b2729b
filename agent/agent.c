/*
 * agent: the daemon's owner object and its life cycle.
 *
 * DESIGN / invariants: struct agent owns the uv loop, the configuration
 * and the modules built on it (http, vault, auth, hooks, certs, deps,
 * templates).  Signals arrive as
 * uv_signal_t and only change state or schedule work (tmux's
 * server_signal()): SIGTERM/SIGINT start an orderly stop, SIGHUP reloads.
 * A reload parses into a fresh struct config and swaps it in only when
 * valid, so a bad edit never takes down a running agent.  On stop the
 * modules are closed in dependency order (auth, vault, http) and the loop
 * runs until every handle has closed, so uv_loop_close() succeeds.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth.h"
#include "certs.h"
#include "deps.h"
#include "config.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "templates.h"
#include "vault.h"

#define ERRBUF 16384

struct agent {
	uv_loop_t loop;
	const char *config_path;
	struct config *cfg;
	struct http *http;
	struct vault *vault;
	struct auth *auth;
	struct certs *certs;
	struct deps *deps;		/* outlives reloads: no refetch on SIGHUP */
	struct hooks *hooks;		/* outlives reloads: pending runs survive */
	struct templates *templates;	/* rebuilt on reload */
	uv_signal_t sigterm, sigint, sighup;
	int stopping;
	int exit_code;
	unsigned flags;
};

static void
apply_logging(const struct config *cfg)
{
	log_setup((enum log_level)cfg->log_level, cfg->log_format == LOG_FORMAT_JSON);
}

static void
stop(struct agent *ag, const char *why)
{
	if (ag->stopping)
		return;
	ag->stopping = 1;
	log_info("agent", "%s: stopping", why);
	if (ag->certs)
		certs_close(ag->certs);
	if (ag->templates)
		templates_close(ag->templates);
	if (ag->deps)
		deps_close(ag->deps);
	if (ag->hooks)
		hooks_close(ag->hooks);
	ag->certs = NULL;
	ag->templates = NULL;
	ag->deps = NULL;
	ag->hooks = NULL;
	if (ag->auth)
		auth_close(ag->auth);
	if (ag->vault)
		vault_close(ag->vault);
	if (ag->http)
		http_close(ag->http);
	ag->auth = NULL;
	ag->vault = NULL;
	ag->http = NULL;
	uv_close((uv_handle_t *)&ag->sigterm, NULL);
	uv_close((uv_handle_t *)&ag->sigint, NULL);
	uv_close((uv_handle_t *)&ag->sighup, NULL);
}

static void on_rendered(void *arg, unsigned errors);

static void
reload(struct agent *ag)
{
	struct config *cfg = NULL;
	char *err = malloc(ERRBUF);
	char verr[512];

	if (err == NULL)
		return;
	err[0] = '\0';
	log_info("agent", "SIGHUP: reloading %s", ag->config_path);
	if (config_load(ag->config_path, &cfg, err, ERRBUF) != 0) {
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
		config_free(cfg);
		goto out;
	}
	/* The certificates start over from disk and the templates from the
	 * data the deps store holds: valid files are kept, so a reload never
	 * issues again what is not due.  Both are built before anything is
	 * applied, so a failure leaves the running set untouched. */
	struct certs *certs = NULL;
	struct templates *templates = NULL;
	if (certs_new(&ag->loop, ag->vault, ag->auth, ag->hooks, cfg,
		      ag->flags & AGENT_DRY_RUN, &certs) != 0 ||
	    templates_new(&ag->loop, ag->deps, ag->hooks, cfg,
			  ag->flags & AGENT_DRY_RUN, on_rendered, ag,
			  &templates) != 0) {
		log_error("agent", "reload failed (out of memory); keeping the "
				   "running configuration");
		if (certs)
			certs_close(certs);
		config_free(cfg);
		goto out;
	}
	if (vault_configure(ag->vault, cfg, verr, sizeof(verr)) != 0) {
		log_error("agent", "reload failed; keeping the running "
				   "configuration: %s", verr);
		certs_close(certs);
		templates_close(templates);
		config_free(cfg);
		goto out;
	}
	apply_logging(cfg);
	auth_configure(ag->auth, cfg);
	certs_close(ag->certs);
	ag->certs = certs;
	templates_close(ag->templates);
	ag->templates = templates;
	deps_configure(ag->deps, cfg);
	hooks_configure(ag->hooks, cfg);
	config_free(ag->cfg);
	ag->cfg = cfg;
	certs_start(ag->certs);
	templates_start(ag->templates);
	log_info("agent", "configuration reloaded");
out:
	free(err);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct agent *ag = s->data;

	switch (signum) {
	case SIGTERM:
		stop(ag, "SIGTERM");
		break;
	case SIGINT:
		stop(ag, "SIGINT");
		break;
	case SIGHUP:
		if (!ag->stopping)
			reload(ag);
		break;
	}
}

static void
on_token(void *arg, const char *token)
{
	struct agent *ag = arg;

	if (token == NULL)
		log_warn("agent", "no valid Vault token; waiting for a login");
	else if (!ag->stopping) {
		certs_token_ready(ag->certs);
		deps_token_ready(ag->deps);
	}
}

static void
on_rendered(void *arg, unsigned errors)
{
	struct agent *ag = arg;

	if (!(ag->flags & AGENT_DRY_RUN))
		return;
	ag->exit_code = errors ? 1 : 0;
	stop(ag, errors ? "dry run: done, with template errors"
			: "dry run: every template rendered");
}

static void
on_deps_changed(void *arg)
{
	struct agent *ag = arg;

	if (!ag->stopping && ag->templates)
		templates_schedule(ag->templates);
}

static int
print_config_errors(const char *path, const char *err)
{
	fprintf(stderr, "certagent: %s is not valid:\n%s", path, err);
	if (err[0] && err[strlen(err) - 1] != '\n')
		fputc('\n', stderr);
	return 2;
}

int
agent_run(const char *config_path, unsigned flags)
{
	struct agent ag;
	char *err = malloc(ERRBUF);
	int rc;

	if (err == NULL)
		return 1;
	memset(&ag, 0, sizeof(ag));
	ag.config_path = config_path;
	ag.flags = flags;
	err[0] = '\0';
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
	/* Signal handles first, so stop() can always close all three. */
	if (uv_signal_init(&ag.loop, &ag.sigterm) != 0 ||
	    uv_signal_init(&ag.loop, &ag.sigint) != 0 ||
	    uv_signal_init(&ag.loop, &ag.sighup) != 0) {
		log_error("agent", "cannot set up signal handling");
		abort();	/* uv_signal_init fails only without memory */
	}
	ag.sigterm.data = ag.sigint.data = ag.sighup.data = &ag;
	if (http_new(&ag.loop, &ag.http, err, ERRBUF) != 0 ||
	    vault_new(&ag.loop, ag.http, ag.cfg, &ag.vault, err, ERRBUF) != 0 ||
	    auth_new(&ag.loop, ag.vault, ag.cfg, on_token, &ag, &ag.auth) != 0 ||
	    hooks_new(&ag.loop, ag.cfg, NULL, NULL, &ag.hooks) != 0 ||
	    certs_new(&ag.loop, ag.vault, ag.auth, ag.hooks, ag.cfg,
		      flags & AGENT_DRY_RUN, &ag.certs) != 0 ||
	    deps_new(&ag.loop, ag.vault, ag.auth, ag.cfg, on_deps_changed, &ag,
		     &ag.deps) != 0 ||
	    templates_new(&ag.loop, ag.deps, ag.hooks, ag.cfg,
			  flags & AGENT_DRY_RUN, on_rendered, &ag,
			  &ag.templates) != 0 ||
	    uv_signal_start(&ag.sigterm, on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&ag.sigint, on_signal, SIGINT) != 0 ||
	    uv_signal_start(&ag.sighup, on_signal, SIGHUP) != 0) {
		log_error("agent", "cannot start: %s", err[0] ? err : "out of memory");
		stop(&ag, "start-up failed");
		uv_run(&ag.loop, UV_RUN_DEFAULT);
		uv_loop_close(&ag.loop);
		config_free(ag.cfg);
		free(err);
		return 1;
	}
	free(err);
	log_info("agent", "certagent %s starting with %s (%zu Vault address%s)",
		 CERTAGENT_VERSION, config_path, ag.cfg->n_vault_addresses,
		 ag.cfg->n_vault_addresses == 1 ? "" : "es");
	certs_start(ag.certs);
	templates_start(ag.templates);
	auth_start(ag.auth);
	uv_run(&ag.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&ag.loop);
	if (rc != 0)
		log_error("agent", "event loop closed with handles open: %s",
			  uv_strerror(rc));
	config_free(ag.cfg);
	log_redact_clear();
	log_info("agent", "stopped");
	return ag.exit_code;
}
