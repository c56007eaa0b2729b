/*
 * config/load.c: the engine that reads the YAML file into the tables.
 *
 * The file is read whole (at most CFG_MAX_FILE bytes) and parsed by
 * libyaml's document API, which keeps the line and column of every node.
 * The node graph is then walked against the tree of static tables in
 * table.c: each mapping against its section, each key against a row,
 * each scalar typed by value.c and stored at the row's offset, each
 * list or map section item allocated and walked in turn.  Nothing here
 * knows a key by name; defaults, error reporting, "did you mean" hints,
 * freeing and the reload comparison are generic over the tables.  The
 * cross-field checks a section names (check.c) run once it is read.
 * Each item of a string list keeps its position, so a cross check (an
 * on_change that names no hook) points at the item itself.
 *
 * DESIGN / invariants:
 * - Defaults are applied before a section is walked, parsed from the
 *   tables' text by the same code as the file.
 * - Every problem is collected, not just the first: the walk reports and
 *   moves on to the next key.  Only a YAML syntax error ends early,
 *   because libyaml cannot resume after one.  Each error reads
 *   "file:line:col: key.path: message" with 1-based line and column.
 * - Every scalar value (never a key) goes through ${NAME} expansion before
 *   it is typed.  A value that took text from the environment is
 *   "tainted": messages about it name the key and the variable, never the
 *   text, because environment values are often secrets.
 * - Where each key was set is recorded (struct mark_rec), so the checks
 *   can point at a key they did not read themselves.
 * - The walk is bounded: the file size is capped, lists have item limits
 *   and the number of nodes visited is capped, so YAML aliases cannot
 *   multiply the work (the "billion laughs").
 * - Everything one load needs lives in a struct loader on the stack of
 *   cfg_load(); there is no global mutable state.  A failed load frees
 *   all it built, so callers only ever see a complete, validated config.
 * - A reload may change only keys whose rows say CFG_RELOAD; the
 *   comparison walks both structs through the same tables.
 */
#include "config.h"
#include "config_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

/* ------------------------------------------------------------------ */
/* Error collection */

static void
append_line(struct loader *ld, const char *line)
{
	size_t len = strlen(line), sep = ld->used ? 1 : 0;

	if (ld->err == NULL || ld->errlen == 0)
		return;
	/* Once one error is dropped, drop the rest so order is kept. */
	if (ld->n_dropped || ld->used + sep + len + 1 > ld->errlen) {
		ld->n_dropped++;
		return;
	}
	if (sep)
		ld->err[ld->used++] = '\n';
	memcpy(ld->err + ld->used, line, len + 1);
	ld->used += len;
}

/*
 * Add one error.  LINE and COL are 1-based; LINE 0 means the problem has
 * no position (the file could not be read).  Control characters, which a
 * quoted YAML key may contain, are shown as '?'.
 */
void
cfg_report(struct loader *ld, size_t line, size_t col, const char *path,
       const char *fmt, ...)
{
	char msg[512], out[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	if (path == NULL || *path == '\0') {
		if (line)
			n = snprintf(out, sizeof(out), "%s:%zu:%zu: %s",
				     ld->file, line, col, msg);
		else
			n = snprintf(out, sizeof(out), "%s: %s", ld->file, msg);
	} else {
		if (line)
			n = snprintf(out, sizeof(out), "%s:%zu:%zu: %s: %s",
				     ld->file, line, col, path, msg);
		else
			n = snprintf(out, sizeof(out), "%s: %s: %s", ld->file,
				     path, msg);
	}
	if (n < 0)
		return;
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	ld->n_errors++;
	append_line(ld, out);
}

void
cfg_out_of_memory(struct loader *ld)
{
	if (!ld->oom)
		cfg_report(ld, 0, 0, NULL, "out of memory");
	ld->oom = 1;
}

/* Say how many errors did not fit, backing off whole lines if needed. */
static void
finish_errors(struct loader *ld)
{
	char note[64];
	size_t len;

	if (ld->err == NULL || ld->errlen == 0 || ld->n_dropped == 0)
		return;
	for (;;) {
		snprintf(note, sizeof(note), "(and %zu more error%s)",
			 ld->n_dropped, ld->n_dropped == 1 ? "" : "s");
		len = strlen(note);
		if (ld->used + (ld->used ? 1 : 0) + len + 1 <= ld->errlen)
			break;
		if (ld->used == 0)
			return;	/* ERRLEN is too small even for the note */
		while (ld->used > 0 && ld->err[ld->used - 1] != '\n')
			ld->used--;
		if (ld->used > 0)
			ld->used--;	/* the separator before that line */
		ld->err[ld->used] = '\0';
		ld->n_dropped++;
	}
	if (ld->used)
		ld->err[ld->used++] = '\n';
	memcpy(ld->err + ld->used, note, len + 1);
	ld->used += len;
}

/* ------------------------------------------------------------------ */
/* Where keys were set */

/*
 * Build a key path.  A path longer than the buffer (only a hostile file
 * has one) is cut short: it is for messages, not for lookups of real keys.
 */
void
cfg_path_printf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(out, len, fmt, ap) < 0 && len)
		out[0] = '\0';
	va_end(ap);
}

void
cfg_join_path(char *out, size_t len, const char *parent, const char *key)
{
	if (*parent)
		cfg_path_printf(out, len, "%s.%s", parent, key);
	else
		cfg_path_printf(out, len, "%s", key);
}

/*
 * Note that the key K (value V) was set at PATH.  The record returned may
 * move at the next record() call, so callers keep it only while they type
 * one value.
 */
static struct mark_rec *
record(struct loader *ld, const char *path, const void *field,
       const yaml_node_t *k, const yaml_node_t *v)
{
	struct mark_rec *r;

	if (ld->n_recs == ld->cap_recs) {
		size_t cap = ld->cap_recs ? ld->cap_recs * 2 : 32;
		struct mark_rec *n = realloc(ld->recs, cap * sizeof(*n));

		if (n == NULL) {
			cfg_out_of_memory(ld);
			return NULL;
		}
		ld->recs = n;
		ld->cap_recs = cap;
	}
	r = &ld->recs[ld->n_recs];
	memset(r, 0, sizeof(*r));
	r->path = strdup(path);
	if (r->path == NULL) {
		cfg_out_of_memory(ld);
		return NULL;
	}
	r->field = field;
	r->key = k->start_mark;
	r->value = v->start_mark;
	ld->n_recs++;
	return r;
}

const struct mark_rec *
cfg_find_field(const struct loader *ld, const void *field)
{
	for (size_t i = ld->n_recs; i > 0; i--) {
		if (ld->recs[i - 1].field == field)
			return &ld->recs[i - 1];
	}
	return NULL;
}

const struct mark_rec *
cfg_find_path(const struct loader *ld, const char *path)
{
	for (size_t i = ld->n_recs; i > 0; i--) {
		if (ld->recs[i - 1].field == NULL &&
		    strcmp(ld->recs[i - 1].path, path) == 0)
			return &ld->recs[i - 1];
	}
	return NULL;
}

/* The key of FIELD if the file set it, else of SECTION, else 1:1. */
yaml_mark_t
cfg_where(const struct loader *ld, const void *field, const char *section)
{
	const struct mark_rec *r = field ? cfg_find_field(ld, field) : NULL;
	yaml_mark_t none = { 0, 0, 0 };

	if (r == NULL && section)
		r = cfg_find_path(ld, section);
	return r ? r->key : none;
}

/*
 * The key path FIELD was read at ("certificates[3].name"), or FALLBACK.
 * Items refused while reading are not kept, so after one of them the
 * index of a kept item differs from its place in the file; the record
 * knows the place.
 */
const char *
cfg_field_path(const struct loader *ld, const void *field, const char *fallback)
{
	const struct mark_rec *r = cfg_find_field(ld, field);

	return r ? r->path : fallback;
}

static void
free_records(struct loader *ld)
{
	for (size_t i = 0; i < ld->n_recs; i++)
		free(ld->recs[i].path);
	free(ld->recs);
	ld->recs = NULL;
	ld->n_recs = ld->cap_recs = 0;
}

/* ------------------------------------------------------------------ */
/* Typing one value */

static void *
field_at(void *base, size_t offset)
{
	return (char *)base + offset;
}

static const char *
type_what(const struct cfg_entry *e)
{
	switch (e->type) {
	case CFG_STRING:
		return "a string";
	case CFG_PATH:
		return "a path";
	case CFG_BOOL:
		return "a boolean (true or false)";
	case CFG_DURATION:
		return "a duration such as 30s or 5m";
	case CFG_MODE:
		return "a quoted octal mode such as \"0640\"";
	case CFG_ENUM:
		return "one of the listed words";
	case CFG_UINT:
		return "a whole number";
	case CFG_RATIO:
		return "a fraction such as 0.8 or 80%";
	case CFG_STRINGLIST:
		return "a string or a list of strings";
	case CFG_SECTION:
		return "a mapping";
	case CFG_LIST_OF_SECTION:
		return "a list of mappings";
	case CFG_MAP_OF_SECTION:
		return "a mapping of names to mappings";
	}
	return "?";
}

static const char *
node_what(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

/* A plain (unquoted) empty, ~ or null scalar: YAML's null. */
static int
is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = (const char *)n->data.scalar.value;
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int
is_quoted(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

/*
 * Report a bad value.  A value from the file is quoted (shortened); a
 * value that took text from the environment is described by its
 * variables only.
 */
static void
report_value(struct loader *ld, yaml_mark_t m, const char *path,
	     const char *text, const struct expand *x, const char *why)
{
	char shown[CFG_SHOW_MAX + 4];

	if (x->tainted) {
		cfg_report(ld, CFG_AT(m), path, "the value from %s %s", x->vars,
			   why);
		return;
	}
	if (strlen(text) > CFG_SHOW_MAX)
		snprintf(shown, sizeof(shown), "%.*s...", CFG_SHOW_MAX, text);
	else
		snprintf(shown, sizeof(shown), "%s", text);
	cfg_report(ld, CFG_AT(m), path, "'%s' %s", shown, why);
}

/*
 * The text of scalar V after ${ENV} expansion, or NULL after reporting
 * why not.
 */
static char *
scalar_text(struct loader *ld, const yaml_node_t *v, const char *path,
	    struct expand *x)
{
	const char *raw = (const char *)v->data.scalar.value;
	char why[CFG_WHY_MAX], *text;
	int rc;

	if (strlen(raw) != v->data.scalar.length) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "contains a NUL byte");
		return NULL;
	}
	rc = cfg_expand_env(raw, &text, x, why, sizeof(why));
	if (rc == -ENOMEM) {
		cfg_out_of_memory(ld);
		return NULL;
	}
	if (rc < 0) {
		cfg_report(ld, CFG_AT(v->start_mark), path, "%s", why);
		return NULL;
	}
	return text;
}

static int
visit(struct loader *ld, const yaml_node_t *n)
{
	if (ld->stopped)
		return -1;
	if (++ld->visits <= ld->max_visits)
		return 0;
	cfg_report(ld, CFG_AT(n->start_mark), NULL, "more than %zu YAML nodes "
		   "(after expanding aliases); giving up", ld->max_visits);
	ld->stopped = 1;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Defaults and freeing, generic over the tables */

static void
apply_defaults(struct loader *ld, const struct cfg_section *sec, void *base)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		void *field = field_at(base, e->offset);
		char why[CFG_WHY_MAX], *text;

		if (e->type == CFG_SECTION) {
			apply_defaults(ld, e->section, field);
			continue;
		}
		if (e->def == NULL)
			continue;
		if (e->type == CFG_STRINGLIST || e->type == CFG_LIST_OF_SECTION ||
		    e->type == CFG_MAP_OF_SECTION) {
			/* Lists start empty; a default would be a table bug. */
			cfg_report(ld, 0, 0, e->key, "internal error: a list "
			       "cannot have a default");
			continue;
		}
		text = strdup(e->def);
		if (text == NULL) {
			cfg_out_of_memory(ld);
			return;
		}
		if (cfg_parse_typed(e, &text, 1, field, why, sizeof(why)) < 0)
			cfg_report(ld, 0, 0, e->key, "internal error: default "
			       "'%s' %s", e->def, why);
		free(text);
	}
}

static void
free_strlist(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void
free_items(const struct cfg_section *sec, void **items, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		void *item = (char *)*items + i * sec->size;

		cfg_free_fields(sec, item);
		if (sec->named)
			free(*(char **)field_at(item, sec->name_offset));
	}
	free(*items);
	*items = NULL;
	*n = 0;
}

void
cfg_free_fields(const struct cfg_section *sec, void *base)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		void *field = field_at(base, e->offset);

		switch (e->type) {
		case CFG_STRING:
		case CFG_PATH:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case CFG_STRINGLIST:
			free_strlist(field, field_at(base, e->count_offset));
			break;
		case CFG_SECTION:
			cfg_free_fields(e->section, field);
			break;
		case CFG_LIST_OF_SECTION:
		case CFG_MAP_OF_SECTION:
			free_items(e->section, field,
				   field_at(base, e->count_offset));
			break;
		default:
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Unknown keys */

/* Optimal string alignment distance, case-insensitive, short keys only. */
size_t
cfg_key_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			char ca = a[i - 1], cb = b[j - 1];
			size_t cost, best;

			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (char)(cb - 'A' + 'a');
			cost = ca == cb ? 0 : 1;
			best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The key of SEC nearest to KEY, if near enough to be a likely typo. */
static const char *
closest_key(const struct cfg_section *sec, const char *key)
{
	const char *best = NULL, *prefixed = NULL;
	size_t best_d = SIZE_MAX, n_prefixed = 0, klen = strlen(key);

	for (size_t i = 0; i < sec->n_entries; i++) {
		const char *cand = sec->entries[i].key;
		size_t d = cfg_key_distance(key, cand);
		size_t limit = strlen(cand) / 3;

		if (limit < 1)
			limit = 1;
		if (d <= limit && d < best_d) {
			best = cand;
			best_d = d;
		}
		/* "secret_id" for "secret_id_file", "loggg" for "log" */
		if ((klen >= 3 && strncmp(cand, key, klen) == 0) ||
		    (strlen(cand) >= 3 &&
		     strncmp(cand, key, strlen(cand)) == 0)) {
			prefixed = cand;
			n_prefixed++;
		}
	}
	if (best == NULL && n_prefixed == 1)
		best = prefixed;
	return best;
}

/* KEY's dotted path if it is exactly a key of another (nested) section. */
static int
find_elsewhere(const struct cfg_section *sec, const char *prefix,
	       const char *key, const struct cfg_section *skip, char *out,
	       size_t outlen)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		char path[CFG_PATH_MAX];

		cfg_join_path(path, sizeof(path), prefix, e->key);
		if (sec != skip && strcmp(e->key, key) == 0) {
			snprintf(out, outlen, "%s", path);
			return 1;
		}
		if (e->type == CFG_SECTION &&
		    find_elsewhere(e->section, path, key, skip, out, outlen))
			return 1;
	}
	return 0;
}

static void
unknown_key(struct loader *ld, const struct cfg_section *sec,
	    const yaml_node_t *k, const char *key, const char *path)
{
	const char *near = closest_key(sec, key);
	char other[CFG_PATH_MAX], list[512];
	size_t used = 0;

	if (strcmp(key, "<<") == 0) {
		cfg_report(ld, CFG_AT(k->start_mark), path,
			   "YAML merge keys are not supported");
		return;
	}
	if (near) {
		cfg_report(ld, CFG_AT(k->start_mark), path,
			   "unknown key; did you mean '%s'?", near);
		return;
	}
	if (find_elsewhere(ld->root, "", key, sec, other, sizeof(other))) {
		cfg_report(ld, CFG_AT(k->start_mark), path,
			   "unknown key here; did you mean '%s'?", other);
		return;
	}
	list[0] = '\0';
	for (size_t i = 0; i < sec->n_entries && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? ", " : "", sec->entries[i].key);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	cfg_report(ld, CFG_AT(k->start_mark), path,
		   "unknown key (known keys here: %s)", list);
}

/* ------------------------------------------------------------------ */
/* The walk */

static void walk_mapping(struct loader *ld, const struct cfg_section *sec,
			 void *base, yaml_node_t *map, const char *path,
			 yaml_mark_t at);

static yaml_node_t *
get_node(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

/* A scalar-typed key: STRING, PATH, BOOL, DURATION, MODE, ENUM, UINT. */
static void
set_scalar(struct loader *ld, const struct cfg_entry *e, void *base,
	   const yaml_node_t *k, const yaml_node_t *v, const char *path)
{
	void *field = field_at(base, e->offset);
	struct mark_rec *r;
	struct expand x;
	char why[CFG_WHY_MAX], *text;

	r = record(ld, path, field, k, v);
	if (r == NULL)
		return;
	if (v->type != YAML_SCALAR_NODE) {
		char list[160];

		cfg_enum_list(e->values, list, sizeof(list));
		if (e->type == CFG_ENUM)
			cfg_report(ld, CFG_AT(v->start_mark), path,
				   "expected one of %s, found %s", list,
				   node_what(v));
		else
			cfg_report(ld, CFG_AT(v->start_mark), path,
				   "expected %s, found %s", type_what(e),
				   node_what(v));
		r->bad = 1;
		return;
	}
	text = scalar_text(ld, v, path, &x);
	if (text == NULL) {
		r->bad = 1;
		return;
	}
	r->tainted = x.tainted;
	if (cfg_parse_typed(e, &text, is_quoted(v), field, why,
			    sizeof(why)) < 0) {
		report_value(ld, v->start_mark, path, text, &x, why);
		r->bad = 1;
	}
	free(text);
}

/* A string, or a list of strings; each item checked like a STRING. */
static void
set_strlist(struct loader *ld, const struct cfg_entry *e, void *base,
	    const yaml_node_t *k, yaml_node_t *v, const char *path)
{
	char ***field = field_at(base, e->offset);
	size_t *count = field_at(base, e->count_offset);
	size_t n, max = e->max ? e->max : CFG_MAX_ITEMS, got = 0;
	yaml_node_item_t *items = NULL;
	struct mark_rec *r;
	size_t ri;
	char **list;
	int ok = 1;

	r = record(ld, path, field, k, v);
	if (r == NULL)
		return;
	ri = ld->n_recs - 1;	/* r moves when the items are recorded */
	if (v->type == YAML_SCALAR_NODE && (e->flags & CFG_LIST_ONLY)) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "expected a list of strings, found a scalar (%s)",
			   e->help);
		r->bad = 1;
		return;
	} else if (v->type == YAML_SCALAR_NODE) {
		n = 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		items = v->data.sequence.items.start;
		n = (size_t)(v->data.sequence.items.top - items);
	} else {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "expected %s, found %s", type_what(e), node_what(v));
		r->bad = 1;
		return;
	}
	if (n < e->min || n > max) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "has %zu item%s; expected %llu to %llu", n,
			   n == 1 ? "" : "s", (unsigned long long)e->min,
			   (unsigned long long)max);
		r->bad = 1;
		return;
	}
	list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL) {
		cfg_out_of_memory(ld);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = items ? get_node(ld, items[i]) : v;
		char ipath[CFG_PATH_MAX], why[CFG_WHY_MAX], *text;
		struct expand x;

		if (item == NULL || visit(ld, item) < 0) {
			ok = 0;
			break;
		}
		if (items)
			cfg_path_printf(ipath, sizeof(ipath), "%s[%zu]", path,
					i);
		else
			cfg_path_printf(ipath, sizeof(ipath), "%s", path);
		if (item->type != YAML_SCALAR_NODE || is_null(item)) {
			cfg_report(ld, CFG_AT(item->start_mark), ipath,
				   "expected a string, found %s",
				   is_null(item) ? "null" : node_what(item));
			ok = 0;
			continue;
		}
		text = scalar_text(ld, item, ipath, &x);
		if (text == NULL) {
			ok = 0;
			continue;
		}
		ld->recs[ri].tainted |= x.tainted;
		r = record(ld, ipath, NULL, item, item);
		if (r == NULL) {
			free(text);
			ok = 0;
			break;
		}
		r->tainted = x.tainted;
		if (cfg_check_string(e, text, why, sizeof(why)) < 0) {
			report_value(ld, item->start_mark, ipath, text, &x,
				     why);
			free(text);
			ok = 0;
			continue;
		}
		list[got++] = text;
	}
	if (!ok) {
		ld->recs[ri].bad = 1;
		free_strlist(&list, &got);
		return;
	}
	free_strlist(field, count);
	*field = list;
	*count = got;
}

/*
 * Give back what the item at OBJ holds: an item refused before it was
 * walked is not kept, so the array stays dense and every kept item is
 * complete (a later check never meets a half-read one).
 */
static void
drop_item(const struct cfg_section *sec, void *obj)
{
	cfg_free_fields(sec, obj);
	if (sec->named)
		free(*(char **)field_at(obj, sec->name_offset));
	memset(obj, 0, sec->size);
}

/* A list of mappings, each an item of e->section. */
static void
set_list(struct loader *ld, const struct cfg_entry *e, void *base,
	 const yaml_node_t *k, yaml_node_t *v, const char *path)
{
	const struct cfg_section *sec = e->section;
	void **field = field_at(base, e->offset);
	size_t *count = field_at(base, e->count_offset);
	size_t n, max = e->max ? e->max : CFG_MAX_ITEMS;
	yaml_node_item_t *items;
	struct mark_rec *r;
	size_t ri;
	char *arr;

	r = record(ld, path, NULL, k, v);
	if (r == NULL)
		return;
	ri = ld->n_recs - 1;	/* r moves when the items are recorded */
	if (v->type != YAML_SEQUENCE_NODE) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "expected %s, found %s", type_what(e), node_what(v));
		r->bad = 1;
		return;
	}
	items = v->data.sequence.items.start;
	n = (size_t)(v->data.sequence.items.top - items);
	if (n < e->min || n > max) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "has %zu item%s; expected %llu to %llu", n,
			   n == 1 ? "" : "s", (unsigned long long)e->min,
			   (unsigned long long)max);
		r->bad = 1;
		return;
	}
	/* Allocated once, at its final size: records point into it. */
	arr = calloc(n ? n : 1, sec->size);
	if (arr == NULL) {
		cfg_out_of_memory(ld);
		return;
	}
	free_items(sec, field, count);
	*field = arr;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = get_node(ld, items[i]);
		void *obj = arr + *count * sec->size;
		char ipath[CFG_PATH_MAX];

		cfg_path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (item == NULL || visit(ld, item) < 0)
			return;
		if (item->type != YAML_MAPPING_NODE) {
			cfg_report(ld, CFG_AT(item->start_mark), ipath,
				   "expected a mapping, found %s",
				   is_null(item) ? "null" : node_what(item));
			ld->recs[ri].bad = 1;
			continue;
		}
		apply_defaults(ld, sec, obj);
		if (record(ld, ipath, NULL, item, item) == NULL) {
			drop_item(sec, obj);
			return;
		}
		(*count)++;
		walk_mapping(ld, sec, obj, item, ipath, item->start_mark);
	}
}

/*
 * A mapping of names to mappings; each name is kept in the item.  A
 * name that is not a string, a name given twice and a name with no
 * mapping under it are errors, and such an entry is not kept.
 */
static void
set_map(struct loader *ld, const struct cfg_entry *e, void *base,
	const yaml_node_t *k, yaml_node_t *v, const char *path)
{
	const struct cfg_section *sec = e->section;
	void **field = field_at(base, e->offset);
	size_t *count = field_at(base, e->count_offset);
	size_t n, max = e->max ? e->max : CFG_MAX_ITEMS;
	yaml_node_pair_t *pairs;
	struct mark_rec *r;
	size_t ri;
	char *arr;

	assert(sec->named);
	r = record(ld, path, NULL, k, v);
	if (r == NULL)
		return;
	ri = ld->n_recs - 1;	/* r moves when the items are recorded */
	if (v->type != YAML_MAPPING_NODE) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "expected %s, found %s", type_what(e), node_what(v));
		r->bad = 1;
		return;
	}
	pairs = v->data.mapping.pairs.start;
	n = (size_t)(v->data.mapping.pairs.top - pairs);
	if (n < e->min || n > max) {
		cfg_report(ld, CFG_AT(v->start_mark), path,
			   "has %zu entr%s; expected %llu to %llu", n,
			   n == 1 ? "y" : "ies", (unsigned long long)e->min,
			   (unsigned long long)max);
		r->bad = 1;
		return;
	}
	arr = calloc(n ? n : 1, sec->size);
	if (arr == NULL) {
		cfg_out_of_memory(ld);
		return;
	}
	free_items(sec, field, count);
	*field = arr;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *nk = get_node(ld, pairs[i].key);
		yaml_node_t *nv = get_node(ld, pairs[i].value);
		void *obj = arr + *count * sec->size;
		char **name = field_at(obj, sec->name_offset);
		char ipath[CFG_PATH_MAX];
		const char *key;
		int dup = 0;

		if (nk == NULL || nv == NULL || visit(ld, nk) < 0 ||
		    visit(ld, nv) < 0)
			return;
		if (nk->type != YAML_SCALAR_NODE || is_null(nk)) {
			cfg_report(ld, CFG_AT(nk->start_mark), path,
				   "a name must be a string, found %s",
				   is_null(nk) ? "null" : node_what(nk));
			ld->recs[ri].bad = 1;
			continue;
		}
		key = (const char *)nk->data.scalar.value;
		cfg_join_path(ipath, sizeof(ipath), path, key);
		for (size_t j = 0; j < i && !dup; j++) {
			yaml_node_t *pk = get_node(ld, pairs[j].key);

			if (pk && pk->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)pk->data.scalar.value, key)
			    == 0) {
				cfg_report(ld, CFG_AT(nk->start_mark), ipath,
				       "duplicate name (first at line %zu)",
				       pk->start_mark.line + 1);
				dup = 1;
			}
		}
		if (dup) {
			ld->recs[ri].bad = 1;
			continue;
		}
		if (nv->type != YAML_MAPPING_NODE) {
			cfg_report(ld, CFG_AT(nv->start_mark), ipath,
				   "expected a mapping, found %s",
				   is_null(nv) ? "null" : node_what(nv));
			ld->recs[ri].bad = 1;
			continue;
		}
		apply_defaults(ld, sec, obj);
		*name = strdup(key);
		if (*name == NULL || record(ld, ipath, NULL, nk, nv) == NULL) {
			if (*name == NULL)
				cfg_out_of_memory(ld);
			drop_item(sec, obj);
			return;
		}
		(*count)++;
		walk_mapping(ld, sec, obj, nv, ipath, nk->start_mark);
	}
}

/* Set one known key.  Returns 1 if the value was not null. */
static int
set_entry(struct loader *ld, const struct cfg_entry *e, void *base,
	  const yaml_node_t *k, yaml_node_t *v, const char *path)
{
	if (e->type == CFG_SECTION) {
		if (record(ld, path, NULL, k, v) == NULL)
			return 1;
		if (v->type != YAML_MAPPING_NODE && !is_null(v)) {
			cfg_report(ld, CFG_AT(v->start_mark), path,
				   "expected a mapping, found %s",
				   node_what(v));
			return 1;
		}
		/* "vault:" with nothing under it is an empty section. */
		walk_mapping(ld, e->section, field_at(base, e->offset),
			     v->type == YAML_MAPPING_NODE ? v : NULL, path,
			     k->start_mark);
		return 1;
	}
	if (is_null(v))
		return 0;	/* "key:" or "key: ~" leaves the default */
	switch (e->type) {
	case CFG_STRINGLIST:
		set_strlist(ld, e, base, k, v, path);
		break;
	case CFG_LIST_OF_SECTION:
		set_list(ld, e, base, k, v, path);
		break;
	case CFG_MAP_OF_SECTION:
		set_map(ld, e, base, k, v, path);
		break;
	default:
		set_scalar(ld, e, base, k, v, path);
		break;
	}
	return 1;
}

/*
 * Read MAP (NULL: present but empty) into BASE as section SEC.  AT is
 * where the section's key is, for "missing key" messages.
 */
static void
walk_mapping(struct loader *ld, const struct cfg_section *sec, void *base,
	     yaml_node_t *map, const char *path, yaml_mark_t at)
{
	const yaml_node_t *seen[CFG_MAX_KEYS] = { NULL };
	unsigned char set[CFG_MAX_KEYS] = { 0 };

	assert(sec->n_entries <= CFG_MAX_KEYS);
	if (map) {
		for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
		     pair < map->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = get_node(ld, pair->key);
			yaml_node_t *v = get_node(ld, pair->value);
			char kpath[CFG_PATH_MAX];
			const char *key;
			size_t i;

			if (k == NULL || v == NULL || visit(ld, v) < 0)
				return;
			if (k->type != YAML_SCALAR_NODE || is_null(k)) {
				cfg_report(ld, CFG_AT(k->start_mark), path,
					   "a key must be a string, found %s",
					   is_null(k) ? "null" : node_what(k));
				continue;
			}
			key = (const char *)k->data.scalar.value;
			cfg_join_path(kpath, sizeof(kpath), path, key);
			for (i = 0; i < sec->n_entries; i++) {
				if (strcmp(sec->entries[i].key, key) == 0)
					break;
			}
			if (i < sec->n_entries && sec->omit &&
			    strcmp(sec->omit, key) == 0) {
				cfg_report(ld, CFG_AT(k->start_mark), kpath,
					   "not taken here");
				continue;
			}
			if (i == sec->n_entries) {
				unknown_key(ld, sec, k, key, kpath);
				continue;
			}
			if (seen[i]) {
				cfg_report(ld, CFG_AT(k->start_mark), kpath,
				       "duplicate key (first at line %zu)",
				       seen[i]->start_mark.line + 1);
				continue;
			}
			seen[i] = k;
			set[i] = (unsigned char)set_entry(ld, &sec->entries[i],
							  base, k, v, kpath);
		}
	}
	if (ld->stopped)
		return;
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		char kpath[CFG_PATH_MAX];

		if (!(e->flags & CFG_REQUIRED) || set[i] ||
		    (sec->omit && strcmp(sec->omit, e->key) == 0))
			continue;
		cfg_join_path(kpath, sizeof(kpath), path, e->key);
		cfg_report(ld, CFG_AT(at), kpath, "missing required %s (%s)",
		       e->type == CFG_SECTION ? "section" : "key", e->help);
	}
	if (sec->check)
		sec->check(ld, base, path);
}

/* ------------------------------------------------------------------ */
/* Loading */

static int
read_file(const char *file, char **out, size_t *outlen)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	int fd, rc = 0;

	*out = NULL;
	if (buf == NULL)
		return -ENOMEM;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		return rc;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p;

			if (cap > CFG_MAX_FILE) {
				rc = -EFBIG;
				break;
			}
			cap *= 2;
			p = realloc(buf, cap);
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CFG_MAX_FILE) {
			rc = -EFBIG;
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* libyaml's problem, at its mark. */
static void
yaml_problem(struct loader *ld, const yaml_parser_t *p, const char *buf,
	     size_t len)
{
	size_t line = p->problem_mark.line + 1;
	size_t col = p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR) {
		cfg_out_of_memory(ld);
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	if (p->context)
		cfg_report(ld, line, col, NULL,
			   "malformed YAML: %s (%s at line %zu, column %zu)",
			   problem, p->context, p->context_mark.line + 1,
			   p->context_mark.column + 1);
	else
		cfg_report(ld, line, col, NULL, "malformed YAML: %s", problem);
}

/*
 * Nesting deeper than CFG_MAX_DEPTH is refused before the document is
 * built.  libyaml's scanner looks at every open flow level for each token,
 * so a file of "[[[[..." takes time quadratic in its depth (100,000
 * levels, 200 KB: two minutes; the 16 MB cap allows millions), and its
 * loader recurses once per level.  Events come out at most a simple key's
 * 1024 characters after the scanner read them, so the check stops early.
 * 0 when the depth is fine or the YAML is malformed (the load reports
 * that), -EINVAL with the error reported, -ENOMEM.
 */
static int
check_depth(struct loader *ld, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	yaml_event_type_t type;
	yaml_mark_t mark;
	int depth = 0, rc = 0;

	if (!yaml_parser_initialize(&p)) {
		cfg_out_of_memory(ld);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		type = ev.type;
		mark = ev.start_mark;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if (type == YAML_SEQUENCE_END_EVENT ||
		    type == YAML_MAPPING_END_EVENT) {
			depth--;
			continue;
		}
		if (type != YAML_SEQUENCE_START_EVENT &&
		    type != YAML_MAPPING_START_EVENT)
			continue;
		if (++depth > CFG_MAX_DEPTH) {
			cfg_report(ld, CFG_AT(mark), NULL, "nested more than %d "
				   "levels deep; not a configuration file?",
				   CFG_MAX_DEPTH);
			rc = -EINVAL;
			break;
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

/* config_int.h has the contract. */
int
cfg_load(const struct cfg_section *root, const char *file, void *obj,
	 char *err, size_t errlen)
{
	return cfg_load_text(root, file, NULL, 0, obj, err, errlen);
}

/*
 * FILE's contents are TEXT (LEN bytes) when TEXT is not NULL, else they
 * are read from FILE.  One path for both, so that what test/fuzz/ feeds
 * in memory is what `certagent check` reads from disk.
 */
int
cfg_load_text(const struct cfg_section *root, const char *file,
	      const char *text, size_t textlen, void *obj, char *err,
	      size_t errlen)
{
	return cfg_load_ctx(root, file, text, textlen, obj, NULL, err, errlen);
}

int
cfg_load_ctx(const struct cfg_section *root, const char *file,
	     const char *text, size_t textlen, void *obj, const void *ctx,
	     char *err, size_t errlen)
{
	struct loader ld;
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *top, *second;
	yaml_mark_t start = { 0, 0, 0 };
	int parser_ok = 0, doc_ok = 0, rc;
	char *buf = NULL;
	size_t len = 0;

	memset(&ld, 0, sizeof(ld));
	ld.file = file;
	ld.root = root;
	ld.ctx = ctx;
	ld.err = err;
	ld.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';

	if (text) {
		buf = textlen > CFG_MAX_FILE ? NULL : malloc(textlen + 1);
		rc = textlen > CFG_MAX_FILE ? -EFBIG : buf ? 0 : -ENOMEM;
		if (buf) {
			memcpy(buf, text, textlen);
			buf[textlen] = '\0';
			len = textlen;
		}
	} else {
		rc = read_file(file, &buf, &len);
	}
	if (rc == -EFBIG) {
		cfg_report(&ld, 0, 0, NULL, "larger than %d bytes; not a "
		       "configuration file?", CFG_MAX_FILE);
		goto out;
	}
	if (rc == -ENOMEM) {
		cfg_out_of_memory(&ld);
		goto out;
	}
	if (rc < 0) {
		cfg_report(&ld, 0, 0, NULL, "cannot read: %s", strerror(-rc));
		goto out;
	}
	if (check_depth(&ld, buf, len) != 0)
		goto done;
	if (!yaml_parser_initialize(&parser)) {
		cfg_out_of_memory(&ld);
		rc = -ENOMEM;
		goto out;
	}
	parser_ok = 1;
	/* Without aliases a file cannot hold more nodes than bytes; the cap
	 * is there for alias bombs, and grows with the file (10,000
	 * certificates take a few MB) but never past it. */
	ld.max_visits = len > CFG_MAX_VISITS ? len : CFG_MAX_VISITS;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf,
				     len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_problem(&ld, &parser, buf, len);
		goto done;
	}
	doc_ok = 1;
	ld.doc = &doc;

	/* One document per file: a second one is a mistake, not ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_problem(&ld, &parser, buf, len);
		goto done;
	}
	second = yaml_document_get_root_node(&extra);
	if (second)
		cfg_report(&ld, CFG_AT(second->start_mark), NULL, "a second "
			   "YAML document; only one is read (remove the "
			   "'---')");
	yaml_document_delete(&extra);
	if (ld.n_errors)
		goto done;

	apply_defaults(&ld, root, obj);
	top = yaml_document_get_root_node(&doc);
	if (top && is_null(top))
		top = NULL;
	if (top && top->type != YAML_MAPPING_NODE) {
		cfg_report(&ld, CFG_AT(top->start_mark), NULL, "expected a "
			   "mapping of sections at the top level, found %s",
			   node_what(top));
		goto done;
	}
	if (top)
		start = top->start_mark;
	walk_mapping(&ld, root, obj, top, "", start);
done:
	rc = ld.oom ? -ENOMEM : ld.n_errors ? -EINVAL : 0;
out:
	if (rc == 0 && ld.n_errors)
		rc = -EINVAL;
	finish_errors(&ld);
	free_records(&ld);
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(buf);
	return rc;
}

/*
 * Each key is written in one place by the tables; what several modules
 * read is copied into each one's options: vault.retry's backoff and
 * num_retries, and the client certificate that is the cert method's
 * identity.
 */
static void
share(struct config *c)
{
	c->auth.retry = c->vault.retry;
	c->auth.client_cert = c->vault.client_cert;
	c->certs.retry = c->vault.retry;
	c->certs.num_retries = c->vault.num_retries;
	c->deps.retry = c->vault.retry;
	c->deps.num_retries = c->vault.num_retries;
	c->hooks.retry = c->vault.retry;
	c->revoke.retry = c->vault.retry;
	c->bundles.retry = c->vault.retry;
}

int
config_load(const char *file, struct config **out, char *err, size_t errlen)
{
	return config_load_text(file, NULL, 0, out, err, errlen);
}

int
config_load_text(const char *file, const char *text, size_t len,
		 struct config **out, char *err, size_t errlen)
{
	struct config *cfg;
	int rc;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg)
		cfg->source = strdup(file);
	if (cfg == NULL || cfg->source == NULL) {
		free(cfg);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", file);
		return -ENOMEM;
	}
	rc = cfg_load_text(&cfg_root_section, file, text, len, cfg, err, errlen);
	if (rc < 0) {
		config_free(cfg);
		return rc;
	}
	share(cfg);
	rc = cfg_template_hooks(cfg, err, errlen);
	if (rc < 0) {
		config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_free_fields(&cfg_root_section, cfg);
	free(cfg->source);
	free(cfg);
}

/* ------------------------------------------------------------------ */
/* Reload */

static int fields_equal(const struct cfg_section *sec, const void *a,
			const void *b);

static int
str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
entry_equal(const struct cfg_entry *e, const void *a, const void *b)
{
	const void *fa = (const char *)a + e->offset;
	const void *fb = (const char *)b + e->offset;

	switch (e->type) {
	case CFG_STRING:
	case CFG_PATH:
		return str_equal(*(char *const *)fa, *(char *const *)fb);
	case CFG_BOOL:
	case CFG_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case CFG_DURATION:
	case CFG_UINT:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CFG_MODE:
		return *(const unsigned *)fa == *(const unsigned *)fb;
	case CFG_RATIO:
		return *(const double *)fa == *(const double *)fb;
	case CFG_STRINGLIST: {
		size_t n = *(const size_t *)((const char *)a + e->count_offset);
		char *const *la = *(char **const *)fa;
		char *const *lb = *(char **const *)fb;

		if (n != *(const size_t *)((const char *)b + e->count_offset))
			return 0;
		for (size_t i = 0; i < n; i++) {
			if (!str_equal(la[i], lb[i]))
				return 0;
		}
		return 1;
	}
	case CFG_SECTION:
		return fields_equal(e->section, fa, fb);
	case CFG_LIST_OF_SECTION:
	case CFG_MAP_OF_SECTION: {
		const struct cfg_section *sec = e->section;
		size_t n = *(const size_t *)((const char *)a + e->count_offset);
		const char *ia = *(char *const *)fa;
		const char *ib = *(char *const *)fb;

		if (n != *(const size_t *)((const char *)b + e->count_offset))
			return 0;
		for (size_t i = 0; i < n; i++) {
			const char *xa = ia + i * sec->size;
			const char *xb = ib + i * sec->size;

			if (sec->named &&
			    !str_equal(*(char *const *)(xa + sec->name_offset),
				       *(char *const *)(xb + sec->name_offset)))
				return 0;
			if (!fields_equal(sec, xa, xb))
				return 0;
		}
		return 1;
	}
	}
	return 0;
}

static int
fields_equal(const struct cfg_section *sec, const void *a, const void *b)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		if (!entry_equal(&sec->entries[i], a, b))
			return 0;
	}
	return 1;
}

/* List each changed key without CFG_RELOAD; sections are walked into. */
static size_t
reload_blockers(struct loader *ld, const struct cfg_section *sec,
		const void *a, const void *b, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		char kpath[CFG_PATH_MAX];

		cfg_join_path(kpath, sizeof(kpath), path, e->key);
		if (e->type == CFG_SECTION) {
			n += reload_blockers(ld, e->section,
					     (const char *)a + e->offset,
					     (const char *)b + e->offset,
					     kpath);
			continue;
		}
		if ((e->flags & CFG_RELOAD) || entry_equal(e, a, b))
			continue;
		cfg_report(ld, 0, 0, kpath,
			   "changed, but takes effect only after a restart");
		n++;
	}
	return n;
}

int
config_check_reload(const struct config *old, const struct config *new,
		    char *err, size_t errlen)
{
	struct loader ld;

	memset(&ld, 0, sizeof(ld));
	ld.file = new->source;
	ld.root = &cfg_root_section;
	ld.err = err;
	ld.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	reload_blockers(&ld, &cfg_root_section, old, new, "");
	finish_errors(&ld);
	return ld.n_errors ? -EBUSY : 0;
}

int
config_same_cert(const struct cert_def *a, const struct cert_def *b)
{
	const struct cfg_section *root = &cfg_root_section;

	/* A copy of the same definition (entries_dir's, kept by a reload):
	 * the same pointers, so the same strings. */
	if (memcmp(a, b, sizeof(*a)) == 0)
		return 1;
	for (size_t i = 0; i < root->n_entries; i++)
		if (strcmp(root->entries[i].key, "certificates") == 0)
			return fields_equal(root->entries[i].section, a, b);
	return 0;
}
