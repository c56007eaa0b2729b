/*
 * parse.c: Go text/template's parser, tokens to a node tree.
 *
 * DESIGN / invariants:
 *  - Recursive descent over the token array, one function per rule of
 *    Go's parse package (list, control, pipeline, command, operand), and
 *    Go's words in the error messages.  What Go has and this engine does
 *    not (break, continue) is refused by name.
 *  - {{define}} is a top-level action, its body a list with its own
 *    variables ($ only); {{block "n" pipe}} is {{define "n"}} plus
 *    {{template "n" pipe}}.  Two non-empty definitions of one name are an
 *    error, an empty one gives way, as in Go.  {{template}} names are
 *    looked up when run, as Go does, so a define may follow its use.
 *  - consul-template's Consul functions (key, service, ...) are refused
 *    by name: certagent talks to Vault only.
 *  - Functions and variables are resolved here, as Go's parser does: an
 *    unknown function, an undefined variable or a wrong argument count
 *    is a parse error, never an execution one.  An argument node points
 *    straight at its entry in the function table.
 *  - Nodes and their arrays are arena memory (lex.c): arrays grow by
 *    copying, the old copy stays behind until tmpl_free().  Only the
 *    token array and the line table are malloc'd, and freed before
 *    tmpl_parse() returns.
 *  - Nesting (controls and parentheses) is capped at TMPL_MAX_DEPTH, so
 *    the recursion here and in the executor is bounded.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for one more element in an arena array (the old copy stays). */
static void *
agrow(struct parser *p, const void *old, size_t n, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 4;
	void *nv = tmpl_arena_alloc(&p->t->arena, nc * size);

	if (nv == NULL)
		return NULL;
	if (n > 0)
		memcpy(nv, old, n * size);
	*cap = nc;
	return nv;
}

/* Append ITEM to the arena array ARR of N elements; 0 or -ENOMEM. */
#define APUSH(p, arr, n, cap, item)                                        \
	(((n) == (cap) &&                                                  \
	  ((arr) = agrow((p), (arr), (n), &(cap), sizeof(*(arr)))) == NULL) \
		 ? tmpl_poom(p)                                            \
		 : ((arr)[(n)++] = (item), 0))

static int parse_pipeline(struct parser *p, const char *ctx,
			  enum tok_type end, int is_range, struct pipe **out);
static int parse_list(struct parser *p, struct node **head, int *why,
		      const struct tok **at);

enum { TERM_EOF, TERM_END, TERM_ELSE };

static const struct tok *
peek(const struct parser *p, size_t k)
{
	size_t j = p->i + k;

	return &p->toks[j < p->ntoks ? j : p->ntoks - 1];
}

static const struct tok *
next(struct parser *p)
{
	const struct tok *t = peek(p, 0);

	if (p->i + 1 < p->ntoks)
		p->i++;
	return t;
}

/* How a token is named in "unexpected X". */
static const char *
tdesc(const struct parser *p, const struct tok *t, char *buf, size_t n)
{
	switch (t->type) {
	case T_EOF:
		return "EOF";
	case T_TEXT:
		return "text";
	case T_STRING:
		return "quoted string";
	default:
		snprintf(buf, n, "\"%.*s\"", (int)(t->srclen > 40 ? 40 : t->srclen),
			 p->src + t->off);
		return buf;
	}
}

static int
unexpected(struct parser *p, const struct tok *t, const char *ctx,
	   const char *extra)
{
	char buf[64];

	return tmpl_perr(p, t->off, "unexpected %s in %s%s", tdesc(p, t, buf, sizeof(buf)),
			 ctx, extra);
}


static void *
palloc(struct parser *p, size_t size)
{
	return tmpl_arena_alloc(&p->t->arena, size);
}

static int
var_known(const struct parser *p, const char *name)
{
	size_t i;

	for (i = p->nvars; i > 0; i--)
		if (strcmp(p->vars[i - 1], name) == 0)
			return 1;
	return 0;
}

static int
var_push(struct parser *p, const char *name)
{
	return APUSH(p, p->vars, p->nvars, p->capvars, name);
}

static int
operand_start(enum tok_type t)
{
	switch (t) {
	case T_IDENT: case T_DOT: case T_FIELD: case T_VAR: case T_STRING:
	case T_NUMBER: case T_BOOL: case T_NIL: case T_LPAREN:
		return 1;
	default:
		return 0;
	}
}

static int
push_field(struct parser *p, struct arg *a, const struct tok *t)
{
	struct field *f = palloc(p, sizeof(*f));

	if (f == NULL)
		return tmpl_poom(p);
	f->name = t->s;
	tmpl_pos_of(p, t->off, &f->line, &f->col);
	return APUSH(p, a->fields, a->nfields, a->capfields, f);
}

/* One term and the .field chain glued to it; *OUT NULL if none here. */
static int
parse_operand(struct parser *p, struct arg **out)
{
	const struct tok *t = peek(p, 0);
	struct arg *a;
	int rc = 0;

	*out = NULL;
	if (!operand_start(t->type))
		return 0;
	a = palloc(p, sizeof(*a));
	if (a == NULL)
		return tmpl_poom(p);
	tmpl_pos_of(p, t->off, &a->line, &a->col);
	next(p);
	switch (t->type) {
	case T_IDENT:
		a->type = A_FUNC;
		a->fn = tmpl_find_func(t->s);
		if (a->fn == NULL && tmpl_is_consul_func(t->s))
			return tmpl_perr(p, t->off, "function \"%s\" needs Consul, "
				    "which certagent does not talk to (Vault only)",
				    t->s);
		if (a->fn == NULL)
			return tmpl_perr(p, t->off, "function \"%s\" not defined", t->s);
		break;
	case T_DOT:
		a->type = A_DOT;
		break;
	case T_FIELD:
		a->type = A_FIELD;
		rc = push_field(p, a, t);
		break;
	case T_VAR:
		a->type = A_VAR;
		a->s = t->s;
		if (!var_known(p, t->s))
			return tmpl_perr(p, t->off, "undefined variable \"%s\"", t->s);
		break;
	case T_STRING:
		a->type = A_STRING;
		a->s = t->s;
		a->len = t->len;
		break;
	case T_NUMBER:
		a->type = A_NUMBER;
		a->num = t->num;
		break;
	case T_BOOL:
		a->type = A_BOOL;
		a->num = t->num;
		break;
	case T_NIL:
		a->type = A_NIL;
		break;
	default: /* T_LPAREN */
		a->type = A_PIPE;
		if (++p->depth > TMPL_MAX_DEPTH)
			return tmpl_perr(p, t->off, "nesting deeper than %d",
					 TMPL_MAX_DEPTH);
		rc = parse_pipeline(p, "parenthesized pipeline", T_RPAREN, 0,
				    &a->pipe);
		p->depth--;
		break;
	}
	if (rc != 0)
		return rc;
	for (;;) {
		const struct tok *f = peek(p, 0);

		if (f->type != T_FIELD || f->space)
			break;
		if (a->type != A_FIELD && a->type != A_VAR && a->type != A_PIPE)
			return tmpl_perr(p, f->off, "unexpected . after term");
		next(p);
		rc = push_field(p, a, f);
		if (rc != 0)
			return rc;
	}
	*out = a;
	return 0;
}

static int
check_arity(struct parser *p, const struct arg *a, size_t got)
{
	const struct func *f = a->fn;
	char want[32];

	if ((int)got >= f->min && (f->max < 0 || (int)got <= f->max))
		return 0;
	if (f->min == f->max)
		snprintf(want, sizeof(want), "%d", f->min);
	else if (f->max < 0)
		snprintf(want, sizeof(want), "at least %d", f->min);
	else
		snprintf(want, sizeof(want), "%d or %d", f->min, f->max);
	return tmpl_perr_lc(p, a->line, a->col,
			    "wrong number of args for %s: want %s got %zu", f->name,
		       want, got);
}

static int
arg_is_literal(const struct arg *a)
{
	return a->type == A_STRING || a->type == A_NUMBER ||
	       a->type == A_BOOL || a->type == A_NIL || a->type == A_DOT;
}

/*
 * Operands separated by spaces, up to "|" or the end of the pipeline.
 * STAGE is the command's index in its pipeline: after the first, the
 * previous value is passed as the last argument.
 */
static int
parse_command(struct parser *p, enum tok_type end, size_t stage,
	      struct cmd **out)
{
	struct cmd *c = palloc(p, sizeof(*c));
	const struct arg *a0;
	size_t i;
	int rc;

	if (c == NULL)
		return tmpl_poom(p);
	tmpl_pos_of(p, peek(p, 0)->off, &c->line, &c->col);
	for (;;) {
		const struct tok *t;
		struct arg *a;
		char buf[64];

		rc = parse_operand(p, &a);
		if (rc != 0)
			return rc;
		if (a != NULL) {
			rc = APUSH(p, c->args, c->nargs, c->capargs, a);
			if (rc != 0)
				return rc;
		}
		t = peek(p, 0);
		if (t->type == T_PIPE || t->type == end)
			break;
		if (a != NULL && t->space)
			continue;
		return tmpl_perr(p, t->off, "unexpected %s in operand",
				 tdesc(p, t, buf, sizeof(buf)));
	}
	a0 = c->args[0];
	if (a0->type == A_NIL)
		return tmpl_perr_lc(p, a0->line, a0->col, "nil is not a command");
	if (a0->type == A_FUNC) {
		rc = check_arity(p, a0, c->nargs - 1 + (stage > 0));
		if (rc != 0)
			return rc;
	} else if (stage > 0 && arg_is_literal(a0)) {
		return tmpl_perr_lc(p, a0->line, a0->col,
				    "non executable command in pipeline stage %zu",
			       stage + 1);
	} else if (stage > 0 || c->nargs > 1) {
		return tmpl_perr_lc(p, a0->line, a0->col,
				    "can't give argument to non-function");
	}
	/* A function named as an argument is called with no arguments. */
	for (i = 1; i < c->nargs; i++) {
		if (c->args[i]->type != A_FUNC)
			continue;
		rc = check_arity(p, c->args[i], 0);
		if (rc != 0)
			return rc;
	}
	*out = c;
	return 0;
}

/* [decl :=] command [| command ...] up to END, which is consumed. */
static int
parse_pipeline(struct parser *p, const char *ctx, enum tok_type end,
	       int is_range, struct pipe **out)
{
	struct pipe *pp = palloc(p, sizeof(*pp));
	const struct tok *t = peek(p, 0), *t1 = peek(p, 1);
	char buf[64];
	int rc;

	if (pp == NULL)
		return tmpl_poom(p);
	tmpl_pos_of(p, t->off, &pp->line, &pp->col);
	if (t->type == T_VAR && (t1->type == T_DECLARE || t1->type == T_ASSIGN)) {
		next(p);
		next(p);
		if (t1->type == T_ASSIGN) {
			if (!var_known(p, t->s))
				return tmpl_perr(p, t->off, "undefined variable \"%s\"",
						 t->s);
			pp->assign = 1;
		} else if (var_push(p, t->s) != 0) {
			return -ENOMEM;
		}
		pp->decl[pp->ndecl++] = t->s;
	} else if (t->type == T_VAR && t1->type == T_COMMA) {
		const struct tok *t2 = peek(p, 2), *t3 = peek(p, 3);

		if (!is_range)
			return tmpl_perr(p, t1->off, "too many declarations in %s", ctx);
		if (t2->type == T_VAR && t3->type == T_COMMA)
			return tmpl_perr(p, t3->off, "too many declarations in %s", ctx);
		if (t2->type != T_VAR || t3->type != T_DECLARE)
			return tmpl_perr(p, t1->off, "range can only initialize variables");
		next(p), next(p), next(p), next(p);
		if (var_push(p, t->s) != 0 || var_push(p, t2->s) != 0)
			return -ENOMEM;
		pp->decl[pp->ndecl++] = t->s;
		pp->decl[pp->ndecl++] = t2->s;
	}
	for (;;) {
		struct cmd *c = NULL;

		t = peek(p, 0);
		if (t->type == end) {
			if (pp->ncmds == 0)
				return tmpl_perr(p, t->off, "unexpected %s in %s: "
					    "expected a pipeline",
					    tdesc(p, t, buf, sizeof(buf)), ctx);
			next(p);
			break;
		}
		if (!operand_start(t->type))
			return unexpected(p, t, ctx, "");
		rc = parse_command(p, end, pp->ncmds, &c);
		if (rc == 0)
			rc = APUSH(p, pp->cmds, pp->ncmds, pp->capcmds, c);
		if (rc != 0)
			return rc;
		if (peek(p, 0)->type == T_PIPE) {
			next(p);
			t = peek(p, 0);
			if (!operand_start(t->type))
				return unexpected(p, t, ctx,
						  ": expected a command after \"|\"");
		}
	}
	*out = pp;
	return 0;
}

static struct node *
new_node(struct parser *p, enum node_type type, size_t off)
{
	struct node *n = palloc(p, sizeof(*n));

	if (n != NULL) {
		n->type = type;
		tmpl_pos_of(p, off, &n->line, &n->col);
	}
	return n;
}

static int
expect_rdelim(struct parser *p, const char *ctx)
{
	const struct tok *t = next(p);

	return t->type == T_RDELIM ? 0 : unexpected(p, t, ctx, "");
}

static int
missing_end(struct parser *p, const struct tok *at, const char *kind,
	    const struct node *n)
{
	return tmpl_perr(p, at->off, "unexpected EOF: missing %send%s for %s%s%s at %d:%d",
			 p->ld, p->rd, p->ld, kind, p->rd, n->line, n->col);
}

/*
 * {{if|range|with pipeline}} list [{{else}} list] {{end}}, the keyword K
 * already consumed.  "else if" (and "else with") nests a control in the
 * else branch that shares the one {{end}}, as in Go.  Variables declared
 * inside go out of scope at the end.
 */
static int
parse_control(struct parser *p, const struct tok *k, struct node **out)
{
	const char *kind = k->s;
	enum node_type type = strcmp(kind, "if") == 0 ? N_IF :
			      strcmp(kind, "range") == 0 ? N_RANGE : N_WITH;
	size_t mark = p->nvars;
	const struct tok *at;
	struct node *n;
	int rc, why;

	if (++p->depth > TMPL_MAX_DEPTH)
		return tmpl_perr(p, k->off, "nesting deeper than %d", TMPL_MAX_DEPTH);
	n = new_node(p, type, k->off);
	if (n == NULL)
		return tmpl_poom(p);
	rc = parse_pipeline(p, kind, T_RDELIM, type == N_RANGE, &n->pipe);
	if (rc == 0)
		rc = parse_list(p, &n->list, &why, &at);
	if (rc != 0)
		return rc;
	if (why == TERM_EOF)
		return missing_end(p, at, kind, n);
	if (why == TERM_ELSE) {
		const struct tok *t = peek(p, 0);

		if (type != N_RANGE && t->type == T_KEYWORD &&
		    strcmp(t->s, kind) == 0) {
			next(p);
			rc = parse_control(p, t, &n->elist);
			if (rc != 0)
				return rc;
		} else {
			rc = expect_rdelim(p, "else");
			if (rc == 0)
				rc = parse_list(p, &n->elist, &why, &at);
			if (rc != 0)
				return rc;
			if (why == TERM_EOF)
				return missing_end(p, at, kind, n);
			if (why == TERM_ELSE)
				return tmpl_perr(p, at->off, "unexpected %selse%s: "
					    "%s%s%s at %d:%d already has one",
					    p->ld, p->rd, p->ld, kind, p->rd,
					    n->line, n->col);
		}
	}
	p->nvars = mark;
	p->depth--;
	*out = n;
	return 0;
}

/* Go's IsEmptyTree: nothing but white space. */
static int
list_is_empty(const struct node *n)
{
	for (; n != NULL; n = n->next) {
		size_t i;

		if (n->type != N_TEXT)
			return 0;
		for (i = 0; i < n->len; i++)
			if (n->text[i] != ' ' && n->text[i] != '\t' &&
			    n->text[i] != '\n' && n->text[i] != '\r')
				return 0;
	}
	return 1;
}

const struct tdef *
tmpl_find_def(const struct tmpl *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ndefs; i++)
		if (strcmp(t->defs[i]->name, name) == 0)
			return t->defs[i];
	return NULL;
}

/* Add the definition NAME (at token K) with body LIST. */
static int
add_def(struct parser *p, const struct tok *k, const char *name,
	struct node *list)
{
	struct tdef *d;
	size_t i;

	for (i = 0; i < p->t->ndefs; i++) {
		d = p->t->defs[i];
		if (strcmp(d->name, name) != 0)
			continue;
		if (!list_is_empty(d->list) && !list_is_empty(list))
			return tmpl_perr(p, k->off, "template: multiple definition "
				    "of template \"%s\" (first at %d:%d)", name,
				    d->line, d->col);
		if (!list_is_empty(list))
			d->list = list;
		return 0;
	}
	d = palloc(p, sizeof(*d));
	if (d == NULL)
		return tmpl_poom(p);
	d->name = name;
	d->list = list;
	tmpl_pos_of(p, k->off, &d->line, &d->col);
	return APUSH(p, p->t->defs, p->t->ndefs, p->t->capdefs, d);
}

/* The quoted name after define, template or block. */
static int
template_name(struct parser *p, const struct tok *k, const char **name)
{
	const struct tok *t = next(p);
	char buf[64];

	if (t->type != T_STRING)
		return tmpl_perr(p, t->off, "unexpected %s in %s clause",
				 tdesc(p, t, buf, sizeof(buf)), k->s);
	if (memchr(t->s, '\0', t->len) != NULL)
		return tmpl_perr(p, t->off, "template name holds a NUL byte");
	*name = t->s;
	return 0;
}

/*
 * The body of {{define "name"}} or {{block "name" pipe}} (K, its name
 * read) up to its {{end}}, in a scope of its own: $ only.  Only at the
 * top level for define, as in Go.
 */
static int
parse_body(struct parser *p, const struct tok *k, const char *name)
{
	const char **saved = p->vars;
	size_t nsaved = p->nvars, capsaved = p->capvars;
	struct node *list = NULL, fake;
	const struct tok *at;
	int rc, why, was = p->in_define;

	p->vars = NULL;
	p->nvars = p->capvars = 0;
	p->in_define = 1;
	rc = var_push(p, "$");
	if (rc == 0 && ++p->depth > TMPL_MAX_DEPTH)
		rc = tmpl_perr(p, k->off, "nesting deeper than %d", TMPL_MAX_DEPTH);
	if (rc == 0)
		rc = parse_list(p, &list, &why, &at);
	p->depth--;
	p->vars = saved;
	p->nvars = nsaved;
	p->capvars = capsaved;
	p->in_define = was;
	if (rc != 0)
		return rc;
	tmpl_pos_of(p, k->off, &fake.line, &fake.col);
	if (why == TERM_EOF)
		return missing_end(p, at, k->s, &fake);
	if (why == TERM_ELSE)
		return tmpl_perr(p, at->off, "unexpected %selse%s in %s", p->ld, p->rd,
				 k->s);
	return add_def(p, k, name, list);
}

static int
parse_define(struct parser *p, const struct tok *k)
{
	const char *name;
	int rc;

	if (p->depth > 0 || p->in_define)
		return tmpl_perr(p, k->off, "unexpected %sdefine%s: define is only "
			    "allowed at the top level", p->ld, p->rd);
	rc = template_name(p, k, &name);
	if (rc == 0)
		rc = expect_rdelim(p, "define clause");
	if (rc == 0)
		rc = parse_body(p, k, name);
	return rc;
}

/* {{template "name" [pipeline]}}, or {{block "name" pipeline}} body {{end}}. */
static int
parse_template(struct parser *p, const struct tok *k, struct node **out)
{
	int block = strcmp(k->s, "block") == 0;
	struct node *n = new_node(p, N_TEMPLATE, k->off);
	char ctx[32];
	int rc;

	if (n == NULL)
		return tmpl_poom(p);
	snprintf(ctx, sizeof(ctx), "%s clause", k->s);
	rc = template_name(p, k, &n->name);
	if (rc != 0)
		return rc;
	if (!block && peek(p, 0)->type == T_RDELIM)
		next(p);
	else
		rc = parse_pipeline(p, ctx, T_RDELIM, 0, &n->pipe);
	if (rc == 0 && block)
		rc = parse_body(p, k, n->name);
	if (rc != 0)
		return rc;
	*out = n;
	return 0;
}

/* Text and actions up to EOF, {{end}} or {{else}}: *WHY says which. */
static int
parse_list(struct parser *p, struct node **head, int *why,
	   const struct tok **at)
{
	struct node **tail = head;

	for (;;) {
		const struct tok *t = next(p), *k;
		struct node *n = NULL;
		int rc = 0;

		if (t->type == T_EOF) {
			*why = TERM_EOF;
			*at = t;
			return 0;
		}
		if (t->type == T_TEXT) {
			n = new_node(p, N_TEXT, t->off);
			if (n == NULL)
				return tmpl_poom(p);
			n->text = t->s;
			n->len = t->len;
			*tail = n;
			tail = &n->next;
			continue;
		}
		/* T_LDELIM: the lexer emits nothing else here. */
		k = peek(p, 0);
		if (k->type == T_KEYWORD) {
			if (strcmp(k->s, "else") == 0) {
				next(p);
				*at = k;
				*why = TERM_ELSE;
				return 0;	/* the caller reads the rest */
			}
			if (strcmp(k->s, "end") == 0) {
				next(p);
				*at = k;
				*why = TERM_END;
				return expect_rdelim(p, "end");
			}
			if (strcmp(k->s, "define") == 0) {
				next(p);
				rc = parse_define(p, k);
				if (rc != 0)
					return rc;
				continue;
			}
			if (strcmp(k->s, "template") == 0 ||
			    strcmp(k->s, "block") == 0) {
				next(p);
				rc = parse_template(p, k, &n);
				if (rc != 0)
					return rc;
				*tail = n;
				tail = &n->next;
				continue;
			}
			if (strcmp(k->s, "if") != 0 && strcmp(k->s, "range") != 0 &&
			    strcmp(k->s, "with") != 0)
				return tmpl_perr(p, k->off, "'%s' is not supported", k->s);
			next(p);
			rc = parse_control(p, k, &n);
		} else if (k->type == T_RDELIM) {
			return tmpl_perr(p, k->off, "empty action");
		} else {
			n = new_node(p, N_ACTION, k->off);
			if (n == NULL)
				return tmpl_poom(p);
			rc = parse_pipeline(p, "command", T_RDELIM, 0, &n->pipe);
		}
		if (rc != 0)
			return rc;
		*tail = n;
		tail = &n->next;
	}
}

int
tmpl_parse(const char *name, const char *text, const char *ldelim,
	   const char *rdelim, struct tmpl **out, char *err, size_t errlen)
{
	struct parser p;
	struct tmpl *t;
	const struct tok *at;
	size_t i, k;
	char *src;
	int rc, why;

	memset(&p, 0, sizeof(p));
	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (name == NULL)
		name = "template";
	if (text == NULL) {
		snprintf(err, errlen, "%s: no template text", name);
		return -EINVAL;
	}
	if (ldelim == NULL || *ldelim == '\0')
		ldelim = "{{";
	if (rdelim == NULL || *rdelim == '\0')
		rdelim = "}}";
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p.t = t;
	p.err = err;
	p.errlen = errlen;
	t->name = tmpl_astrndup(&p, name, strlen(name));
	p.n = strlen(text);
	src = tmpl_astrndup(&p, text, p.n < TMPL_MAX_TEXT ? p.n : 0);
	if (t->name == NULL || src == NULL) {
		t->name = (char *)(uintptr_t)"template";
		rc = tmpl_poom(&p);
		goto out;
	}
	t->src = p.src = src;
	if (p.n >= TMPL_MAX_TEXT) {
		snprintf(err, errlen, "%s: template larger than %u bytes", name,
			 TMPL_MAX_TEXT);
		rc = -EFBIG;
		goto out;
	}
	p.ld = ldelim;
	p.rd = rdelim;
	p.ldn = strlen(ldelim);
	p.rdn = strlen(rdelim);
	for (i = 0, p.nlines = 1; i < p.n; i++)
		p.nlines += src[i] == '\n';
	p.lines = malloc(p.nlines * sizeof(*p.lines));
	if (p.lines == NULL) {
		rc = tmpl_poom(&p);
		goto out;
	}
	p.lines[0] = 0;
	for (i = 0, k = 1; i < p.n; i++)
		if (src[i] == '\n')
			p.lines[k++] = i + 1;
	rc = var_push(&p, "$");
	if (rc == 0)
		rc = tmpl_lex(&p);
	if (rc == 0)
		rc = parse_list(&p, &t->root, &why, &at);
	if (rc == 0 && why != TERM_EOF)
		rc = tmpl_perr(&p, at->off, "unexpected %s%s%s", ldelim,
			       why == TERM_END ? "end" : "else", rdelim);
out:
	free(p.toks);
	free(p.lines);
	if (rc != 0) {
		tmpl_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	tmpl_arena_free(t->arena);
	free(t);
}
