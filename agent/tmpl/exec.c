/*
 * exec.c: the executor: it walks a parsed template's tree and renders
 * it (tmpl_execute), evaluating pipelines, fields, variables and calls.
 *
 * DESIGN / invariants:
 *  - An execution owns everything it makes (strings, cJSON trees,
 *    variables, the fetch memo) in struct exec and frees it all before
 *    returning; the parsed template and the provider's data are
 *    borrowed, never modified, so a template may run from several places.
 *  - A pending fetch yields a pending value that every field, index and
 *    function passes on (and/or only look at its truth), so a template
 *    can never act on data it does not have.  Pending is not an error,
 *    so the walk carries on and one pass asks the provider for all it
 *    can reach, then answers TMPL_PENDING.  An error that stops the walk
 *    while data is pending is taken for an effect of the missing data,
 *    unless missing data cannot explain it (x->fatal: out of memory,
 *    too large, a failed fetch or write).
 *  - What {{ pipeline }} prints is Go's fmt (fmt.c), "<no value>" for
 *    nothing.  The output is one capped buf: past the cap the render
 *    fails with "output larger than N bytes", never truncated output.
 *  - Variables are a stack: a control's variables are dropped at its
 *    end, a range's are rebound for each element.  A {{template}} call
 *    sees only its own ($ is the dot it was given): VBASE marks where
 *    its variables start.  Calls nest at most TMPL_MAX_CALLS deep.
 *  - Rendering is all or nothing: writeToFile calls are queued and done
 *    (through tmpl_env.write_file, in template order) only once the
 *    whole template has rendered, so a render that fails or waits for
 *    data leaves every file as it was.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"

struct var {
	const char *name;
	struct val v;
};

static int xerr(struct exec *x, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* An execution error at LINE:COL; always -EINVAL. */
static int
xerr(struct exec *x, int line, int col, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (x->err == NULL || x->errlen == 0)
		return -EINVAL;
	k = snprintf(x->err, x->errlen, "%s:%d:%d: ", x->t->name, line, col);
	if (k >= 0 && (size_t)k < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + k, x->errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int
tmpl_cerr(struct exec *x, const struct call *c, const char *fmt, ...)
{
	char msg[TMPL_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return xerr(x, c->line, c->col, "%s: %s", c->fn->name, msg);
}

int
tmpl_xoom(struct exec *x)
{
	x->fatal = 1;
	xerr(x, x->line, x->col, "out of memory");
	return -ENOMEM;
}

int
tmpl_keep(struct exec *x, void *p)
{
	void **nm = tmpl_grow(x->mem, &x->capmem, x->nmem + 1, sizeof(*nm));

	if (nm == NULL) {
		free(p);
		return tmpl_xoom(x);
	}
	x->mem = nm;
	x->mem[x->nmem++] = p;
	return 0;
}

int
tmpl_keep_json(struct exec *x, cJSON *j)
{
	cJSON **nj;

	if (j == NULL)
		return tmpl_xoom(x);
	nj = tmpl_grow(x->js, &x->capjs, x->njs + 1, sizeof(*nj));
	if (nj == NULL) {
		cJSON_Delete(j);
		return tmpl_xoom(x);
	}
	x->js = nj;
	x->js[x->njs++] = j;
	return 0;
}

/* Results may be secrets (a password, a key): their copies are wiped. */
struct buf
tmpl_fn_buf(const struct exec *x)
{
	struct buf b = BUF_INIT(x->max);

	b.secret = 1;
	return b;
}

/* The buffer's error tells the cap (-E2BIG) from a failed allocation. */
int
tmpl_fn_result(struct exec *x, const struct call *c, struct buf *b,
	       struct val *out)
{
	size_t len;
	char *s;

	if (b->err == -E2BIG) {
		buf_free(b);
		x->fatal = 1;
		tmpl_cerr(x, c, "result larger than %zu bytes", x->max);
		return -EFBIG;
	}
	if (b->err != 0) {
		buf_free(b);
		return tmpl_xoom(x);
	}
	if (b->s == NULL) {
		*out = vstr("", 0);
		return 0;
	}
	s = buf_take(b, &len);
	*out = vstr(s, len);
	return tmpl_keep(x, s);
}

static int
out_check(struct exec *x)
{
	if (x->out.err == -E2BIG) {
		x->fatal = 1;
		xerr(x, x->line, x->col, "output larger than %zu bytes", x->max);
		return -EFBIG;
	}
	if (x->out.err != 0)
		return tmpl_xoom(x);
	return 0;
}

static int
vpush(struct exec *x, const char *name, struct val v)
{
	struct var *nv = tmpl_grow(x->vars, &x->capvars, x->nvars + 1, sizeof(*nv));

	if (nv == NULL)
		return tmpl_xoom(x);
	x->vars = nv;
	x->vars[x->nvars].name = name;
	x->vars[x->nvars].v = v;
	x->nvars++;
	return 0;
}

static struct var *
vfind(struct exec *x, const char *name)
{
	size_t i;

	for (i = x->nvars; i > x->vbase; i--)
		if (strcmp(x->vars[i - 1].name, name) == 0)
			return &x->vars[i - 1];
	return NULL;
}

static int eval_pipe(struct exec *x, struct val dot, const struct pipe *p,
		     int declare, struct val *out);
static int walk(struct exec *x, struct val dot, const struct node *n);
static int walk_template(struct exec *x, struct val dot, const struct node *n);

static int
get_field(struct exec *x, struct val recv, const struct field *f,
	  struct val *out)
{
	const cJSON *it;
	size_t i;

	switch (recv.k) {
	case V_PENDING:
		*out = recv;
		return 0;
	case V_NIL:
		if (x->env->error_on_missing_key)
			return xerr(x, f->line, f->col,
				    "nil data; no entry for key \"%s\"", f->name);
		*out = vnil();
		return 0;
	case V_MAP:
		it = recv.j ? cJSON_GetObjectItemCaseSensitive(recv.j, f->name)
			    : NULL;
		if (it == NULL && x->env->error_on_missing_key)
			return xerr(x, f->line, f->col,
				    "map has no entry for key \"%s\"", f->name);
		*out = tmpl_to_val(it);
		return 0;
	case V_STRUCT:
		if (recv.st->data_self && strcmp(f->name, "Data") == 0) {
			*out = recv;
			return 0;
		}
		for (i = 0; i < recv.st->nf; i++) {
			if (strcmp(recv.st->f[i].go, f->name) == 0) {
				*out = tmpl_sfield_val(recv.j, &recv.st->f[i]);
				return 0;
			}
		}
		/* FALLTHROUGH */
	default:
		return xerr(x, f->line, f->col, "can't evaluate field %s in type %s",
			    f->name, tmpl_go_type(recv));
	}
}

static int eval_call(struct exec *x, struct val dot, const struct arg *fa,
		     struct arg *const *argv, size_t nargv,
		     const struct val *final, struct val *out);

static int
eval_arg(struct exec *x, struct val dot, const struct arg *a, struct val *out)
{
	const struct var *var;
	struct val v = vnil();
	size_t i;
	int rc = 0;

	switch (a->type) {
	case A_FUNC:
		return eval_call(x, dot, a, NULL, 0, NULL, out);
	case A_DOT:
	case A_FIELD:
		v = dot;
		break;
	case A_VAR:
		var = vfind(x, a->s);
		if (var == NULL)
			return xerr(x, a->line, a->col, "undefined variable: %s",
				    a->s);
		v = var->v;
		break;
	case A_PIPE:
		rc = eval_pipe(x, dot, a->pipe, 1, &v);
		break;
	case A_STRING:
		v = vstr(a->s, a->len);
		break;
	case A_NUMBER:
		v = vnum(a->num);
		break;
	case A_BOOL:
		v = vbool(a->num != 0);
		break;
	case A_NIL:
		break;
	}
	for (i = 0; i < a->nfields && rc == 0; i++)
		rc = get_field(x, v, a->fields[i], &v);
	if (rc == 0)
		*out = v;
	return rc;
}

static int
eval_call(struct exec *x, struct val dot, const struct arg *fa,
	  struct arg *const *argv, size_t nargv, const struct val *final,
	  struct val *out)
{
	const struct func *fn = fa->fn;
	struct call c = {fn, fa->line, fa->col};
	struct val small[16], *a = small;
	size_t n = nargv + (final != NULL), i;
	int rc = 0;

	if (fn->lazy) {
		/* and, or: stop at the argument that decides, and return it. */
		int is_and = fn->name[0] == 'a';
		struct val v = vnil();

		for (i = 0; i < n; i++) {
			if (i < nargv)
				rc = eval_arg(x, dot, argv[i], &v);
			else
				v = *final;
			if (rc != 0)
				return rc;
			if (tmpl_truth(v) != is_and)
				break;
		}
		*out = v;
		return 0;
	}
	if (n > sizeof(small) / sizeof(small[0])) {
		a = calloc(n, sizeof(*a));
		if (a == NULL)
			return tmpl_xoom(x);
	}
	for (i = 0; i < nargv && rc == 0; i++)
		rc = eval_arg(x, dot, argv[i], &a[i]);
	if (rc == 0 && final != NULL)
		a[nargv] = *final;
	if (rc == 0) {
		for (i = 0; i < n && a[i].k != V_PENDING; i++)
			;
		if (i < n)
			*out = a[i];	/* data not there yet: pass it on */
		else
			rc = fn->impl(x, &c, a, n, out);
	}
	if (a != small)
		free(a);
	return rc;
}

/* Run a pipeline; with DECLARE, bind or assign its variables. */
static int
eval_pipe(struct exec *x, struct val dot, const struct pipe *p, int declare,
	  struct val *out)
{
	struct val v = vnil();
	size_t i;
	int rc = 0;

	for (i = 0; i < p->ncmds && rc == 0; i++) {
		const struct cmd *c = p->cmds[i];

		if (c->args[0]->type == A_FUNC)
			rc = eval_call(x, dot, c->args[0], c->args + 1,
				       c->nargs - 1, i > 0 ? &v : NULL, &v);
		else
			rc = eval_arg(x, dot, c->args[0], &v);
	}
	if (rc != 0)
		return rc;
	if (declare && p->assign) {
		struct var *var = vfind(x, p->decl[0]);

		if (var == NULL)
			return xerr(x, p->line, p->col, "undefined variable: %s",
				    p->decl[0]);
		var->v = v;
	} else if (declare) {
		for (i = 0; i < p->ndecl && rc == 0; i++)
			rc = vpush(x, p->decl[i], v);
	}
	*out = v;
	return rc;
}

/*
 * What {{ pipeline }} prints: Go's fmt, "<no value>" for nothing, and a
 * pointer to a struct followed first (no "&"), as text/template does.
 */
static int
print_top(struct exec *x, struct val v)
{
	if (v.k == V_NIL)
		buf_puts(&x->out, "<no value>");
	else
		tmpl_print(&x->out, v, v.k == V_STRUCT);
	return out_check(x);
}

static int
walk_range(struct exec *x, struct val dot, const struct node *n)
{
	const struct pipe *p = n->pipe;
	size_t mark = x->nvars, i, cnt = 0;
	const cJSON *c, **m = NULL;
	struct val v;
	int rc;

	rc = eval_pipe(x, dot, p, 0, &v);
	for (i = 0; i < p->ndecl && rc == 0 && !p->assign; i++)
		rc = vpush(x, p->decl[i], v);
	if (rc != 0)
		return rc;
	switch (v.k) {
	case V_LIST:
		cnt = tmpl_jcount(v.j);
		break;
	case V_MAP:
		if (tmpl_sorted_members(v.j, &m, &cnt) != 0)
			return tmpl_xoom(x);
		break;
	case V_NIL:
	case V_PENDING:
		break;
	default:
		return xerr(x, n->line, n->col, "range can't iterate over %s",
			    tmpl_type_name(v));
	}
	if (cnt == 0) {
		rc = walk(x, dot, n->elist);
		x->nvars = mark;
		return rc;
	}
	c = v.k == V_LIST ? v.j->child : NULL;
	for (i = 0; i < cnt && rc == 0; i++) {
		const cJSON *item = m != NULL ? m[i] : c;
		struct val key = m != NULL ? vstr(item->string, strlen(item->string))
					   : vnum((double)i);
		struct val elem = tmpl_to_val(item);
		size_t inner = x->nvars;

		if (p->assign) {
			struct var *var = vfind(x, p->decl[0]);

			if (var != NULL)
				var->v = elem;
		} else if (p->ndecl == 1) {
			x->vars[mark].v = elem;
		} else if (p->ndecl == 2) {
			x->vars[mark].v = key;
			x->vars[mark + 1].v = elem;
		}
		rc = walk(x, elem, n->list);
		x->nvars = inner;
		if (c != NULL)
			c = c->next;
	}
	free((void *)m);
	x->nvars = mark;
	return rc;
}

static int
walk(struct exec *x, struct val dot, const struct node *n)
{
	struct val v;
	size_t mark;
	int rc = 0;

	/* Controls nest 100 deep in one body, but {{template}} calls stack
	 * bodies: the walk's own depth is what bounds the C stack. */
	if (n != NULL && x->nest >= TMPL_MAX_NEST) {
		x->fatal = 1;
		return xerr(x, n->line, n->col, "exceeded maximum template depth "
			    "(%d nested actions)", TMPL_MAX_NEST);
	}
	x->nest++;
	for (; n != NULL && rc == 0; n = n->next) {
		x->line = n->line;
		x->col = n->col;
		switch (n->type) {
		case N_TEXT:
			buf_append(&x->out, n->text, n->len);
			rc = out_check(x);
			break;
		case N_ACTION:
			rc = eval_pipe(x, dot, n->pipe, 1, &v);
			if (rc == 0 && n->pipe->ndecl == 0)
				rc = print_top(x, v);
			break;
		case N_IF:
		case N_WITH:
			mark = x->nvars;
			rc = eval_pipe(x, dot, n->pipe, 1, &v);
			if (rc == 0 && tmpl_truth(v))
				rc = walk(x, n->type == N_WITH ? v : dot, n->list);
			else if (rc == 0)
				rc = walk(x, dot, n->elist);
			x->nvars = mark;
			break;
		case N_RANGE:
			rc = walk_range(x, dot, n);
			break;
		case N_TEMPLATE:
			rc = walk_template(x, dot, n);
			break;
		}
	}
	x->nest--;
	return rc;
}

int
tmpl_exec_def(struct exec *x, const struct tdef *d, struct val dot,
	      struct buf *out)
{
	size_t mark = x->nvars, base = x->vbase;
	struct buf saved;
	int rc;

	if (x->calls >= TMPL_MAX_CALLS) {
		x->fatal = 1;
		return xerr(x, x->line, x->col, "exceeded maximum template depth (%d)",
			    TMPL_MAX_CALLS);
	}
	if (out != NULL) {
		saved = x->out;
		x->out = *out;
	}
	x->calls++;
	rc = vpush(x, "$", dot);
	x->vbase = mark;
	if (rc == 0)
		rc = walk(x, dot, d->list);
	x->vbase = base;
	x->nvars = mark;
	x->calls--;
	if (out != NULL) {
		*out = x->out;
		x->out = saved;
	}
	return rc;
}

static int
walk_template(struct exec *x, struct val dot, const struct node *n)
{
	const struct tdef *d = tmpl_find_def(x->t, n->name);
	struct val v = vnil();
	int rc = 0;

	if (d == NULL)
		return xerr(x, n->line, n->col, "template \"%s\" not defined", n->name);
	if (n->pipe != NULL)
		rc = eval_pipe(x, dot, n->pipe, 0, &v);
	if (rc == 0)
		rc = tmpl_exec_def(x, d, v, NULL);
	x->line = n->line;
	x->col = n->col;
	return rc;
}

/* The queued writeToFile calls, in template order, the render complete. */
static int
flush_writes(struct exec *x)
{
	char perr_[TMPL_MSG_MAX];
	size_t i;
	int rc;

	for (i = 0; i < x->nwfiles; i++) {
		const struct wfile *w = &x->wfiles[i];

		perr_[0] = '\0';
		rc = x->env->write_file(x->env->arg, w->path, w->owner, w->group,
					w->perms, w->content, w->len, w->append,
					perr_, sizeof(perr_));
		if (rc < 0) {
			xerr(x, w->line, w->col, "writeToFile: %s",
			     perr_[0] ? perr_ : "write failed");
			return rc;
		}
	}
	return 0;
}

int
tmpl_execute(const struct tmpl *t, const struct tmpl_env *env, char **out,
	     size_t *outlen, char *err, size_t errlen)
{
	struct exec x;
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	*out = NULL;
	*outlen = 0;
	if (errlen > 0)
		err[0] = '\0';
	x.t = t;
	x.env = env != NULL ? env : &x.none;
	x.err = err;
	x.errlen = errlen;
	x.max = x.env->max_output ? x.env->max_output : TMPL_MAX_OUT;
	x.out = tmpl_fn_buf(&x);
	rc = vpush(&x, "$", vnil());
	if (rc == 0)
		rc = walk(&x, vnil(), t->root);
	if (x.pending > 0 && (rc == 0 || (rc < 0 && !x.fatal)))
		rc = TMPL_PENDING;
	if (rc == 0)
		rc = flush_writes(&x);
	if (rc == 0) {
		*out = buf_take(&x.out, outlen);
		if (*out == NULL)
			rc = tmpl_xoom(&x);
	}
	buf_free(&x.out);
	/* What the execution made holds the data it rendered: wiped. */
	for (i = 0; i < x.nmem; i++)
		secret_free_len(x.mem[i], malloc_usable_size(x.mem[i]));
	for (i = 0; i < x.njs; i++)
		secret_json_free(x.js[i]);
	free(x.mem);
	free(x.js);
	free(x.vars);
	free(x.memo);
	free(x.wfiles);
	return rc;
}
