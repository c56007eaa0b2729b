/*
 * config_int.h: what the parts of the config module share, and nothing
 * the rest of the agent may use (config.h is the module's API).
 *
 * The module is a table plus an engine, in the manner of tmux's
 * options-table.c and redis's config.c:
 *   table.c  one static table of entries per section of the file;
 *   load.c   the engine: reads the file with libyaml, walks the node
 *            graph against the tables, keeps records and errors, frees,
 *            and compares two configurations for a reload;
 *   value.c  types one scalar (durations, modes, ratios, ...) after
 *            ${ENV} expansion;
 *   check.c  the cross-field checks the tables name per section.
 *
 * DESIGN / invariants of the table contract:
 * - An entry names a key, its type, where its value lives (an offset
 *   from the start of the section's struct, taken with CFG_OFF so a row
 *   cannot store through the wrong type), its bounds, its default, its
 *   help text and whether a reload may change it.  Adding a key is
 *   adding a row; adding a nested section, a list of mappings or a map
 *   of named mappings is adding a table and one row pointing at it.
 * - Defaults are text, parsed by the same code as the file, so a default
 *   is always something the file could say.  Lists have no default.
 * - A section's check runs once its mapping has been read (always, for
 *   the root) and reports through cfg_report(); it finds where a field
 *   was set through the loader's records.
 */
#ifndef CERTAGENT_CONFIG_INT_H
#define CERTAGENT_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#define CFG_MAX_FILE	(16 * 1024 * 1024)	/* bytes of YAML we agree to read */
#define CFG_MAX_VISITS	100000		/* nodes walked, aliases included, or */
					/* one per byte of a larger file */
#define CFG_MAX_ITEMS	4096		/* list length when a table sets none */
#define CFG_MAX_KEYS	64		/* entries in one section table */
#define CFG_MAX_DEPTH	64		/* nested mappings and lists */
#define CFG_PATH_MAX	256		/* longest key path shown */
#define CFG_SHOW_MAX	60		/* longest value echoed in a message */
#define CFG_WHY_MAX	256
#define CFG_MAX_VALUE	CFG_MAX_FILE	/* bytes of one value, ${ENV} expanded */

#define MS_SEC	1000ULL
#define MS_MIN	(60 * MS_SEC)
#define MS_HOUR	(60 * MS_MIN)
#define MS_DAY	(24 * MS_HOUR)
#define MIB	(1024ULL * 1024)

enum cfg_type {
	CFG_STRING,		/* char *; may be empty */
	CFG_PATH,		/* char *; must not be empty */
	CFG_BOOL,		/* int, 0 or 1 */
	CFG_DURATION,		/* uint64_t milliseconds */
	CFG_MODE,		/* unsigned; a quoted octal string */
	CFG_ENUM,		/* int-sized enum, from a list of words */
	CFG_UINT,		/* uint64_t */
	CFG_RATIO,		/* double in [min, max] parts per million; 0.8 or 80% */
	CFG_STRINGLIST,		/* char ** at offset, size_t at count_offset */
	CFG_SECTION,		/* nested mapping; its fields at base + offset */
	CFG_LIST_OF_SECTION,	/* array of section->size items + count */
	CFG_MAP_OF_SECTION,	/* same, each item's name at name_offset */
};

enum {
	CFG_REQUIRED = 0x1,	/* the key must be present (and not null) */
	CFG_RELOAD = 0x2,	/* a SIGHUP reload may change it */
	CFG_LIST_ONLY = 0x4,	/* STRINGLIST: a lone string is an error */
};

struct loader;

struct cfg_enum {
	const char *name;
	int value;
};

struct cfg_section;

/*
 * One key.  min/max bound the value for UINT, DURATION (in ms) and MODE,
 * and the number of items for STRINGLIST and the list/map types (max 0
 * means CFG_MAX_ITEMS).  def is parsed like a value from the file.
 */
struct cfg_entry {
	const char *key;
	enum cfg_type type;
	unsigned flags;
	size_t offset;
	size_t count_offset;
	uint64_t min, max;
	const char *def;
	const struct cfg_enum *values;		/* ENUM, NULL-terminated */
	int (*parse)(const char *s, int *out);	/* ENUM: replaces values */
	const char *(*check)(const char *s);	/* STRING, PATH, list items */
	const struct cfg_section *section;	/* the three section types */
	const char *help;
};

/*
 * A table of keys.  size and name_offset describe one item when the
 * section is the element of a LIST_OF_SECTION or MAP_OF_SECTION; check
 * runs after the section's mapping has been read (always, for the root)
 * and does the cross-field validation.
 */
struct cfg_section {
	const struct cfg_entry *entries;
	size_t n_entries;
	size_t size;
	int named;
	size_t name_offset;	/* char *, when named */
	void (*check)(struct loader *ld, void *obj, const char *path);
	const char *omit;	/* a key of ENTRIES this section does not take */
};

/*
 * offsetof() that fails to compile unless the member has the type the
 * entry's kind stores through, so a table row cannot silently write a
 * uint64_t into an int.
 */
#define CFG_OFF(T, m, type) _Generic(((T *)0)->m, type: offsetof(T, m))

/* Where a key was set, for cross-field messages and duplicate checks. */
struct mark_rec {
	char *path;
	const void *field;	/* NULL for a section */
	yaml_mark_t key;
	yaml_mark_t value;
	int tainted;		/* took text from the environment */
	int bad;		/* present but invalid: skip cross checks */
};

/* Everything one load (or one reload comparison) needs; on its stack. */
struct loader {
	const char *file;
	yaml_document_t *doc;
	const struct cfg_section *root;
	char *err;
	size_t errlen;
	size_t used;		/* bytes of err in use, without the NUL */
	size_t n_errors;
	size_t n_dropped;	/* errors that did not fit in err */
	struct mark_rec *recs;
	size_t n_recs, cap_recs;
	size_t visits;
	size_t max_visits;	/* CFG_MAX_VISITS, or the file's size */
	int stopped;		/* node cap hit: stop walking */
	int oom;
	const void *ctx;	/* what a check may consult (cfg_load_ctx) */
};

/* ------------------------------------------------------------------ */
/* load.c: the engine */

/*
 * Load FILE into OBJ, whose layout ROOT describes.  OBJ must be zeroed;
 * on failure it may hold a partial result that cfg_free_fields()
 * releases.  Errors go to ERR as config_load() describes.
 */
int cfg_load(const struct cfg_section *root, const char *file, void *obj,
	     char *err, size_t errlen);
/* The same, with FILE's contents given as TEXT (LEN bytes; NULL: read). */
int cfg_load_text(const struct cfg_section *root, const char *file,
		  const char *text, size_t len, void *obj, char *err,
		  size_t errlen);

/* The same, with CTX for the checks (struct loader's ctx). */
int cfg_load_ctx(const struct cfg_section *root, const char *file,
		 const char *text, size_t len, void *obj, const void *ctx,
		 char *err, size_t errlen);

/* Free what the fields of SEC at BASE hold, and clear them. */
void cfg_free_fields(const struct cfg_section *sec, void *base);

/* A yaml_mark_t as the 1-based LINE, COL arguments of cfg_report(). */
#define CFG_AT(m) ((m).line + 1), ((m).column + 1)

/*
 * Add one error, "file:line:col: path: message".  LINE and COL are
 * 1-based; LINE 0 means the problem has no position.  PATH NULL or ""
 * leaves the key out.
 */
void cfg_report(struct loader *ld, size_t line, size_t col, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Report "out of memory", once per load, and remember it. */
void cfg_out_of_memory(struct loader *ld);

/* Key paths for messages, cut short if longer than LEN. */
void cfg_path_printf(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cfg_join_path(char *out, size_t len, const char *parent,
		   const char *key);

/*
 * The records of where keys were set: the latest of FIELD (a scalar or
 * string list, by its address in the struct), or of the section, list
 * item or map entry at PATH.  NULL if the file did not set it.
 */
const struct mark_rec *cfg_find_field(const struct loader *ld,
				      const void *field);
const struct mark_rec *cfg_find_path(const struct loader *ld,
				     const char *path);

/* The key of FIELD if the file set it, else of SECTION, else 1:1. */
yaml_mark_t cfg_where(const struct loader *ld, const void *field,
		      const char *section);

/* The key path FIELD was read at ("certificates[3].name"), or FALLBACK. */
const char *cfg_field_path(const struct loader *ld, const void *field,
			   const char *fallback);

/* Edit distance of two short keys, case-insensitive (SIZE_MAX if long). */
size_t cfg_key_distance(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* value.c: typing one scalar */

/* What ${...} expansion did to one value. */
struct expand {
	int tainted;		/* took text from the environment */
	char vars[96];		/* "${A}, ${B}" for messages */
};

/*
 * Expand ${NAME}, ${NAME:-default} and $$ in S into a malloc'd *OUT
 * (at most CFG_MAX_VALUE bytes), noting in X whether and from which
 * variables it took text.  On failure returns -EINVAL, -E2BIG or
 * -ENOMEM with WHY filled (never with the text).
 */
int cfg_expand_env(const char *s, char **out, struct expand *x, char *why,
		   size_t whylen);

/*
 * Type *TEXT as entry E and store it at FIELD.  A string value is stored
 * as is and *TEXT set to NULL; otherwise *TEXT stays the caller's.
 * QUOTED: the YAML scalar was quoted (a MODE must be).  On failure WHY
 * says what is wrong, without the value.
 */
int cfg_parse_typed(const struct cfg_entry *e, char **text, int quoted,
		    void *field, char *why, size_t whylen);

/* A STRING or PATH value (or a string list item) against E's checks. */
int cfg_check_string(const struct cfg_entry *e, const char *s, char *why,
		     size_t whylen);

/* "a, b, c": the words of an ENUM, for messages. */
void cfg_enum_list(const struct cfg_enum *values, char *buf, size_t len);

/* "1h30m", "500ms", "0s": the inverse of config_parse_duration(). */
void cfg_format_duration(uint64_t ms, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* table.c: the tables */

/* The whole file: struct config. */
extern const struct cfg_section cfg_root_section;

/* Word lists the cross-field checks name values by. */
extern const struct cfg_enum cfg_auth_methods[];
extern const struct cfg_enum cfg_cert_modes[];
extern const struct cfg_enum cfg_cert_key_types[];
extern const char *const cfg_file_kinds[];	/* names under files: */

/* 1 if S is one of the NULL-terminated WORDS. */
int cfg_word_in(const char *s, const char *const *words);

/* NULL, or why S is no name for a certificate or a hook. */
const char *cfg_check_cert_name(const char *s);

/* ------------------------------------------------------------------ */
/* ---- lifecycle ---- */
void cfg_check_grace(struct loader *ld, void *obj, const char *path);
/* check.c: the cross-field checks the tables name per section */

void cfg_check_root(struct loader *ld, void *obj, const char *path);
void cfg_check_cert(struct loader *ld, void *obj, const char *path);
void cfg_check_template(struct loader *ld, void *obj, const char *path);
void cfg_check_wait(struct loader *ld, void *obj, const char *path);
void cfg_check_hook(struct loader *ld, void *obj, const char *path);
/* ---- bundles ---- */
void cfg_check_bundle_source(struct loader *ld, void *obj, const char *path);
void cfg_check_bundle(struct loader *ld, void *obj, const char *path);
void cfg_check_crl(struct loader *ld, void *obj, const char *path);
struct config;
void cfg_check_bundles_root(struct loader *ld, const struct config *c);

/* ---- fleet ---- */
extern const struct cfg_section cfg_profile_section;	/* one profiles: item */
extern const struct cfg_section cfg_fleet_entry_section;	/* an entry file */
void cfg_check_profile(struct loader *ld, void *obj, const char *path);
void cfg_check_fleet_entry(struct loader *ld, void *obj, const char *path);

/* ---- import ---- */
struct config;
/*
 * tplhooks.c: a template's command or exec (Vault Agent's) becomes a hook
 * of its own, "templates[N].command", named in its on_change.  0 or
 * -ENOMEM (with the reason in ERR).
 */
int cfg_template_hooks(struct config *c, char *err, size_t errlen);

#endif
