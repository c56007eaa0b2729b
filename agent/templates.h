/*
 * templates: the templates: section, rendered from the deps store.
 *
 * DESIGN: all templates render in one batch whenever the data they use
 * changes.  A template renders only when every call it makes has data;
 * its destination is written atomically and only when its bytes change.
 * A failing template keeps its old file, logs its error (once, not on
 * every batch) and does not stop the others.
 */
#ifndef CERTAGENT_TEMPLATES_H
#define CERTAGENT_TEMPLATES_H

#include <stdint.h>
#include <uv.h>

#include "change.h"
#include "renew.h"

struct certs;
struct deps;
struct templates;

/* A template's exec: (Vault Agent's): argv run when its file changes. */
struct template_exec {
	char **command;		/* argv, run without a shell */
	size_t n_command;
	uint64_t timeout_ms;	/* killed after this; default 30s */
};

/* One entry of templates: */
struct template_def {
	char *name;		/* names the certificates it issues; optional */
	char *source;		/* template file, or */
	char *contents;		/* the template inline */
	char *destination;
	unsigned mode;		/* default 0644 */
	char *owner, *group;
	int error_on_missing_key;
	char *left_delimiter, *right_delimiter;
	int backup;
	char **on_change;	/* names of hooks: run when the file changes */
	size_t n_on_change;
	struct change_wait wait;
	struct renew_policy policy;	/* for the certificates it issues */
	char *rotate_window;	/* the window as written; parsed into policy */
	int create_dest_dirs;	/* make the destination's directories; default 1 */
	char *command;		/* Vault Agent's command: run by sh -c on change */
	struct template_exec exec;	/* exec: argv run on change */
};

/* templates: in the configuration (borrowed). */
struct templates_opts {
	struct template_def *defs;
	size_t n;
};

/* What the templates tell the agent; each may be NULL. */
struct templates_events {
	/* Every template has rendered or failed: none waits for data. */
	void (*done)(void *arg, unsigned errors);
	/* A file's bytes changed (a destination, a writeToFile). */
	void (*changed)(void *arg, const struct change *c);
	void *arg;
};

/*
 * DRY: print each rendering to stdout under a "==> DESTINATION" line
 * instead of writing it (writeToFile is reported, not performed).  Vault
 * data comes from DEPS, certificates from CERTS.
 */
int templates_new(uv_loop_t *loop, struct deps *deps, struct certs *certs,
		  const struct templates_opts *o, int dry,
		  const struct templates_events *ev, struct templates **out);

/*
 * Read and parse every template before any is used.  STRICT (a reload):
 * stop at the first that cannot be read or parsed, with its path and the
 * cause in ERR, and return a negative errno, so the caller keeps the
 * running set.  Otherwise (the start, with nothing older to keep) each
 * failure is logged and that template alone is skipped.
 */
int templates_load(struct templates *t, int strict, char *err, size_t errlen);

/* Load every template if templates_load was not called (errors logged;
 * that template is skipped), then render the batch. */
void templates_start(struct templates *t);

/* Data changed: render the batch on the next loop turn (calls coalesce). */
void templates_schedule(struct templates *t);

struct templates_stats {
	uint64_t renders, writes, errors;
	unsigned pending;	/* templates still waiting for data */
};
void templates_get_stats(const struct templates *t, struct templates_stats *st);

/* The I-th template, for status; -ENOENT past the last. */
struct templates_item {
	const char *name;	/* its source, or templates[N] */
	const char *destination;
	const char *last_error;	/* "" when its last rendering worked */
	int64_t rendered_ms;	/* wall clock of the last good rendering; 0 none */
	int64_t written_ms;	/* ... that changed the file; 0 none */
	int pending;		/* waits for data */
};
int templates_get_item(const struct templates *t, size_t i,
		       struct templates_item *it);

void templates_close(struct templates *t);

#endif
