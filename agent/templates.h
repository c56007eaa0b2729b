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

struct certs;
struct config;
struct deps;
struct templates;

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
		  const struct config *cfg, int dry,
		  const struct templates_events *ev, struct templates **out);

/* Parse every template (errors are logged; that template is skipped)
 * and render the batch. */
void templates_start(struct templates *t);

/* Data changed: render the batch on the next loop turn (calls coalesce). */
void templates_schedule(struct templates *t);

struct templates_stats {
	uint64_t renders, writes, errors;
	unsigned pending;	/* templates still waiting for data */
};
void templates_get_stats(const struct templates *t, struct templates_stats *st);

void templates_close(struct templates *t);

#endif
