/*
 * import/hcl: the subset of HCL that Vault Agent configuration files use,
 * and their JSON form, read into one small tree.
 *
 * DESIGN: HCL (version 1, which Vault parses its agent configuration
 * with) is attributes (`key = value`), blocks (`name "label" { ... }`),
 * strings (with escapes, and heredocs <<EOF / <<-EOF), numbers, bools,
 * lists, objects and three kinds of comment.  JSON is nearly a subset
 * once `:` is accepted for `=` and commas between members, so both go
 * through one parser.  The tree keeps the order of the file and every
 * repeated key (a `template` block per template), with the line and
 * column of each, so whoever reads it can say where something was.
 * Nothing is evaluated: `${...}` is text.
 *
 * The input is capped (HCL_MAX_INPUT bytes, HCL_MAX_DEPTH nesting,
 * HCL_MAX_NODES nodes); errors are "file:line:col: message".
 */
#ifndef CERTAGENT_HCL_H
#define CERTAGENT_HCL_H

#include <stddef.h>

#define HCL_MAX_INPUT	(1024 * 1024)
#define HCL_MAX_DEPTH	64
#define HCL_MAX_NODES	100000
#define HCL_MAX_LABELS	4

enum hcl_type {
	HCL_OBJECT,	/* members in items: attributes and blocks */
	HCL_LIST,	/* values in items */
	HCL_STRING,	/* text in str (NUL-free: a NUL in the input is an error) */
	HCL_NUMBER,	/* text in str, as written */
	HCL_BOOL,	/* b */
	HCL_NULL,
};

struct hcl_node {
	enum hcl_type type;
	char *key;		/* a member of an object: its name; else NULL */
	char *labels[HCL_MAX_LABELS];	/* a block's labels: sink "file" */
	size_t n_labels;
	int block;		/* written as a block (name { }), not key = { } */
	char *str;
	int b;
	struct hcl_node *items;	/* OBJECT, LIST */
	size_t n;
	unsigned line, col;	/* 1-based, where the member or value starts */
};

/*
 * Parse LEN bytes of TEXT (FILE names it in errors).  0 with the root
 * object in *OUT (hcl_free it), or -EINVAL (-ENOMEM, -E2BIG) with
 * "FILE:LINE:COL: message" in ERR.
 */
int hcl_parse(const char *file, const char *text, size_t len,
	      struct hcl_node **out, char *err, size_t errlen);

void hcl_free(struct hcl_node *root);

/* The member of OBJ named KEY after AFTER (NULL: the first), or NULL. */
const struct hcl_node *hcl_next(const struct hcl_node *obj, const char *key,
				const struct hcl_node *after);

/* The string (or number, or bool as "true"/"false") of member KEY of
 * OBJ, or NULL. */
const char *hcl_text(const struct hcl_node *obj, const char *key);

#endif
