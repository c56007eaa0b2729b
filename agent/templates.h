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

struct config;
struct deps;
struct hooks;
struct templates;

/* Every template has rendered or failed: none is waiting for data. */
typedef void (*templates_done_cb)(void *arg, unsigned errors);

/*
 * DRY: print each rendering to stdout under a "==> DESTINATION" line
 * instead of writing it (writeToFile is reported, not performed).  HOOKS
 * (may be NULL) hears of every file a batch changed.
 */
int templates_new(uv_loop_t *loop, struct deps *deps, struct hooks *hooks,
		  const struct config *cfg, int dry, templates_done_cb done,
		  void *arg, struct templates **out);

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
