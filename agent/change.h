/*
 * change: what a producer (a certificate, a template) reports when bytes
 * on disk changed, for the hooks to act on.
 *
 * DESIGN: producers do not call the hooks: they hand this report to the
 * agent, which passes it to the hooks module, so the data flows
 * certificates/templates -> agent -> hooks and no producer holds a
 * pointer to a module whose life the agent decides.  The report names
 * paths, a serial and a date, never contents.
 */
#ifndef CERTAGENT_CHANGE_H
#define CERTAGENT_CHANGE_H

#include <stddef.h>
#include <stdint.h>

/* A quiet period: each change restarts min; the run comes by max. */
struct change_wait {
	uint64_t min_ms, max_ms;
};

struct change {
	char *const *hooks;		/* the on_change names */
	size_t n_hooks;
	const char *const *paths;	/* the files whose bytes changed */
	size_t n_paths;
	const char *serial;		/* a certificate's serial, or NULL */
	int64_t not_after;		/* its NotAfter (unix seconds), with serial */
	struct change_wait wait;
	const char *source;		/* who wrote them: a certificate's or a
					 * template's name, for the audit log */
};

#endif
