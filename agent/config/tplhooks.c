/*
 * config/tplhooks.c: Vault Agent's per-template command and exec, as
 * hooks of certagent's own.
 *
 * A Vault Agent template runs `command` (a string, through `sh -c`, as
 * consul-template does) or `exec { command = [argv], timeout }` (no
 * shell) when its file changes.  certagent runs every such action
 * through its hooks: a quiet period, a timeout, output logged, backoff
 * after a failure, the audit log.  So a loaded configuration gains one
 * command hook per template that has either, named
 * "templates[N].command" or "templates[N].exec" (a name no hooks: entry
 * can take: brackets fail the hook-name check), and the template names
 * it in its on_change.
 *
 * DESIGN / invariants:
 * - Runs once, after the walk and the checks passed, on the config
 *   struct alone; what it adds is owned by the config like what the
 *   file said, freed by cfg_free_fields(), and identical from one load
 *   of the same file to the next, so a reload compares equal.
 * - A string command is the operator's own shell line; a list never
 *   meets a shell.
 */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_HOOK_TIMEOUT_MS (30 * MS_SEC)

static char **
argv_dup(char *const *argv, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(argv[i]);
		if (out[i] == NULL) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

/* Append NAME to the template's on_change list. */
static int
add_on_change(struct template_def *t, const char *name)
{
	char **list = realloc(t->on_change, (t->n_on_change + 1) * sizeof(*list));

	if (list == NULL)
		return -ENOMEM;
	t->on_change = list;
	list[t->n_on_change] = strdup(name);
	if (list[t->n_on_change] == NULL)
		return -ENOMEM;
	t->n_on_change++;
	return 0;
}

static int
add_hook(struct config *c, size_t idx, struct template_def *t)
{
	char *shell[] = { "/bin/sh", "-c", t->command };
	char name[64];
	struct hook_def *defs, *h;

	snprintf(name, sizeof(name), "templates[%zu].%s", idx,
		 t->command ? "command" : "exec");
	defs = realloc(c->hooks.defs, (c->hooks.n + 1) * sizeof(*defs));
	if (defs == NULL)
		return -ENOMEM;
	c->hooks.defs = defs;
	h = &defs[c->hooks.n];
	memset(h, 0, sizeof(*h));
	h->name = strdup(name);
	if (t->command) {
		h->command = argv_dup(shell, 3);
		h->n_command = 3;
	} else {
		h->command = argv_dup(t->exec.command, t->exec.n_command);
		h->n_command = t->exec.n_command;
	}
	h->timeout_ms = t->exec.timeout_ms ? t->exec.timeout_ms
					   : TPL_HOOK_TIMEOUT_MS;
	if (h->command == NULL)
		h->n_command = 0;
	c->hooks.n++;	/* counted even half made: freed with the rest */
	if (h->name == NULL || h->command == NULL)
		return -ENOMEM;
	return add_on_change(t, name);
}

int
cfg_template_hooks(struct config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->templates.n; i++) {
		struct template_def *t = &c->templates.defs[i];

		if (t->command == NULL && t->exec.n_command == 0)
			continue;
		if (add_hook(c, i, t) < 0) {
			if (err && errlen)
				snprintf(err, errlen, "%s: out of memory", c->source);
			return -ENOMEM;
		}
	}
	return 0;
}
