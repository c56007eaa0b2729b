/*
 * tmpl_int.h: what the files of the template engine share; nothing
 * outside agent/tmpl/ includes it.  The API is agent/tmpl.h.
 *
 * The engine is Go's text/template in three stages, each in one place:
 *   lex.c     the arena the tree lives in, UTF-8, parse errors, and the
 *             lexer: text to an array of tokens.
 *   parse.c   the parser: tokens to a node tree; tmpl_parse, tmpl_free.
 *   value.c   values, and Go's truth, type names and map order.
 *   fmt.c     Go's fmt: print, println, printf, and numbers.
 *   json.c    JSON as Go's encoding/json writes it.
 *   time.c    timestamp, and Go's time layouts.
 *   exec.c    the executor: the tree to text; tmpl_execute.
 *   funcs.c   the function table, Go's built-in functions and
 *             consul-template's string and list ones.
 *   funcs_data.c  secret, pkiCert, writeToFile, file, env, base64*,
 *             sha256Hex: data in and out, and its encodings.
 *   funcs_engine.c  executeTemplate, parseJSON, secrets, slice, call,
 *             and the Consul functions refused at parse time.
 *
 * DESIGN / invariants:
 *  - Names shared between these files carry the tmpl_ prefix like the
 *    API; helpers used by one file stay static in it.
 *  - Bounded: template size, nesting depth, output size, file size; every
 *    string a function builds is capped by the output limit.  The limits
 *    are here, together.
 */
#ifndef CERTAGENT_TMPL_INT_H
#define CERTAGENT_TMPL_INT_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "fmath.h"
#include "tmpl.h"

#define TMPL_MAX_TEXT	(16u * 1024 * 1024)	/* template source bytes */
#define TMPL_MAX_OUT	(16u * 1024 * 1024)	/* default output cap */
#define TMPL_MAX_FILE	(1024 * 1024)		/* the file function */
#define TMPL_MAX_DEPTH	100			/* nested controls and parens */
#define TMPL_MSG_MAX	320			/* a function's error text */
#define TMPL_MAX_CALLS	200			/* nested {{template}} calls */
#define TMPL_MAX_NEST	1000			/* nested bodies when run */
#define TMPL_MAX_WRITES	256			/* writeToFile calls per render */

/* ------------------------------------------------------------------ */
/* Memory (lex.c)                                                      */

struct chunk;

/* SIZE zeroed bytes from the arena at *HEAD, aligned for anything; NULL
 * when out of memory.  Arena memory is only freed all at once. */
void *tmpl_arena_alloc(struct chunk **head, size_t size);
void tmpl_arena_free(struct chunk *c);

/* Make room for NEED elements of SIZE in the malloc'd array P of *CAP;
 * the (maybe moved) array, or NULL with P untouched. */
void *tmpl_grow(void *p, size_t *cap, size_t need, size_t size);

/* ------------------------------------------------------------------ */
/* UTF-8 (lex.c)                                                       */

/* R as UTF-8 into OUT (room for 4); surrogates and values past U+10FFFF
 * become U+FFFD.  The number of bytes. */
size_t tmpl_utf8_enc(uint32_t r, char *out);
/* The rune at STR (N bytes) and its length; an invalid sequence is one
 * byte of U+FFFD (and N == 0 is 0 bytes of it). */
size_t tmpl_utf8_dec(const char *str, size_t n, uint32_t *r);
/* The runes in N bytes, as Go's utf8.RuneCount counts them. */
size_t tmpl_utf8_count(const char *s, size_t n);

static inline int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------ */
/* Lexer (lex.c)                                                       */

enum tok_type {
	T_EOF, T_TEXT, T_LDELIM, T_RDELIM,
	T_IDENT, T_KEYWORD, T_FIELD, T_DOT, T_VAR, T_STRING, T_NUMBER,
	T_BOOL, T_NIL, T_DECLARE, T_ASSIGN, T_PIPE, T_LPAREN, T_RPAREN,
	T_COMMA, T_CHAR,
};

struct tok {
	enum tok_type type;
	int space;		/* white space right before it, in an action */
	size_t off, srclen;	/* where it is in the source */
	const char *s;		/* text, name or decoded string (arena) */
	size_t len;
	double num;
};

/* A {{define}} (or {{block}}): a named list of the same template. */
struct tdef {
	const char *name;
	struct node *list;
	int line, col;
};

/* A parsed template: immutable once tmpl_parse() returns it. */
struct tmpl {
	char *name;
	const char *src;
	struct chunk *arena;
	struct node *root;
	struct tdef **defs;		/* arena; in the order defined */
	size_t ndefs, capdefs;
};

/* The template T defines as NAME, or NULL. */
const struct tdef *tmpl_find_def(const struct tmpl *t, const char *name);

/* The lexer's and the parser's state, for one tmpl_parse() call. */
struct parser {
	struct tmpl *t;
	const char *src;
	size_t n;
	const char *ld, *rd;
	size_t ldn, rdn;
	struct tok *toks;
	size_t ntoks, captoks, i;
	size_t *lines;			/* offset of each line's start */
	size_t nlines;
	const char **vars;		/* variables in scope */
	size_t nvars, capvars;
	int depth, paren;
	char *err;
	size_t errlen;
	int in_define;			/* parsing a define or block body */
};

/* Tokens for all of P->src into P->toks, ending with T_EOF; 0 or a
 * negative errno with the error in P->err. */
int tmpl_lex(struct parser *p);

/* The line and column (from 1) of byte offset OFF. */
void tmpl_pos_of(const struct parser *p, size_t off, int *line, int *col);

/* "name:line:col: message" into P->err, at byte offset OFF or at LINE and
 * COL; always -EINVAL. */
int tmpl_perr(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tmpl_perr_lc(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "name: out of memory"; always -ENOMEM. */
int tmpl_poom(struct parser *p);

/* N bytes of S and a NUL, in the tree's arena; NULL when out of memory. */
char *tmpl_astrndup(struct parser *p, const char *s, size_t n);

/* ------------------------------------------------------------------ */
/* The parse tree (parse.c builds it, exec.c walks it)                 */

/*
 * A list is a chain of nodes: text, an action ({{ pipeline }}), or a
 * control ({{ if|range|with pipeline }}) with its body in LIST and its
 * {{ else }} branch in ELIST.  A pipeline is commands joined by "|", a
 * command is arguments (operands), the first one a function or a value.
 * {{template "name" [pipeline]}} is N_TEMPLATE: NAME, and PIPE or NULL.
 */
enum node_type { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_TEMPLATE };

struct node {
	enum node_type type;
	int line, col;
	struct node *next;
	const char *text;		/* N_TEXT */
	size_t len;
	struct pipe *pipe;		/* the others */
	struct node *list, *elist;	/* control bodies */
	const char *name;		/* N_TEMPLATE */
};

enum arg_type {
	A_FUNC, A_DOT, A_FIELD, A_VAR, A_PIPE, A_STRING, A_NUMBER, A_BOOL,
	A_NIL,
};

struct field {
	const char *name;
	int line, col;
};

struct arg {
	enum arg_type type;
	int line, col;
	const struct func *fn;		/* A_FUNC */
	const char *s;			/* A_STRING text, A_VAR name */
	size_t len;
	double num;			/* A_NUMBER, A_BOOL */
	struct pipe *pipe;		/* A_PIPE */
	struct field **fields;		/* .a.b after A_FIELD, A_VAR, A_PIPE */
	size_t nfields, capfields;
};

struct cmd {
	int line, col;
	struct arg **args;
	size_t nargs, capargs;
};

struct pipe {
	int line, col;
	int assign;			/* $x = rather than $x := */
	const char *decl[2];
	size_t ndecl;
	struct cmd **cmds;
	size_t ncmds, capcmds;
};

/* ------------------------------------------------------------------ */
/* Values (value.c)                                                    */

/* V_PENDING is data a fetch has not brought yet (see tmpl.h). */
enum vkind { V_NIL, V_PENDING, V_BOOL, V_NUM, V_STR, V_MAP, V_LIST, V_STRUCT };

struct stype;

struct val {
	enum vkind k;
	int b;
	double n;
	const char *s;			/* V_STR: NUL-terminated, LEN bytes */
	size_t len;
	const cJSON *j;			/* V_MAP, V_LIST (NULL: empty), V_STRUCT */
	const struct stype *st;		/* V_STRUCT */
};

/* A Go struct type over a JSON object: each field names its key. */
enum fkind { F_STR, F_NUM, F_BOOL, F_MAP, F_LIST, F_ANY, F_STRUCT };

struct sfield {
	const char *go, *json;
	enum fkind kind;
	const struct stype *sub;
};

struct stype {
	const char *name;		/* Go type, for messages */
	const struct sfield *f;
	size_t nf;
	int ptr;			/* printed as &{...} */
	int data_self;			/* .Data is the value itself */
};

static inline struct val
vnil(void)
{
	return (struct val){.k = V_NIL};
}

static inline struct val
vstr(const char *s, size_t len)
{
	return (struct val){.k = V_STR, .s = s, .len = len};
}

static inline struct val
vnum(double n)
{
	return (struct val){.k = V_NUM, .n = n};
}

static inline struct val
vbool(int b)
{
	return (struct val){.k = V_BOOL, .b = b != 0};
}

/* A number Go would hold in an int (fmt's %d, index). */
static inline int
is_int(double n)
{
	return isfinite(n) && n == fm_trunc(n);
}

/* The value of a JSON node (NULL and JSON null are nil). */
struct val tmpl_to_val(const cJSON *j);
/* Field F of the struct over OBJ; a field Vault left out is Go's zero
 * value of its kind. */
struct val tmpl_sfield_val(const cJSON *obj, const struct sfield *f);
/* The kind of V in this engine's messages ("string", "map", ...). */
const char *tmpl_type_name(struct val v);
/* The Go type fmt would name in "%!d(string=...)". */
const char *tmpl_go_type(struct val v);
/* The members of a JSON array or object; 0 for NULL. */
size_t tmpl_jcount(const cJSON *j);
/* Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
int tmpl_truth(struct val v);
/* The members of the map OBJ sorted by key, as Go visits them: *OUT is
 * malloc'd (NULL when empty); 0 or -ENOMEM. */
int tmpl_sorted_members(const cJSON *obj, const cJSON ***out, size_t *n);

/* ------------------------------------------------------------------ */
/* Printing (fmt.c)                                                    */

/*
 * A buffer that failed keeps its first error (buf.h), except that running
 * out of memory wins: "out of memory" is the more useful report, and the
 * one the executor gave before buffers had a single error field.
 */
static inline void
tmpl_buf_fail(struct buf *b, int err)
{
	if (b->err == 0 || err == -ENOMEM)
		b->err = err;
}

/* X as Go writes a number: MODE 'j' as encoding/json does (which is how
 * a json.Number from Vault prints, too), 'g' as %g. */
void tmpl_put_num(struct buf *b, double x, int mode);
/* V as {{ . }} prints it (%v); DEPTH > 0 prints it as an element, a
 * pointer to a struct without its "&". */
void tmpl_print(struct buf *b, struct val v, int depth);
/* fmt.Sprint of the N values at A, fmt.Sprintln with LN. */
void tmpl_sprint(struct buf *b, const struct val *a, size_t n, int ln);
/* fmt.Sprintf of the format F (FLEN bytes) and NARGS values. */
void tmpl_sprintf(struct buf *b, const char *f, size_t flen,
		  const struct val *a, size_t nargs);

/* ------------------------------------------------------------------ */
/* JSON (json.c)                                                       */

/* V as Go's json.Marshal writes it, or json.MarshalIndent(v, "", "  ")
 * with PRETTY; DEPTH is the indent level to start at.  0, or -1 for a
 * value JSON cannot hold (NaN, Inf): what was written is then unusable. */
int tmpl_json_val(struct buf *b, struct val v, int pretty, int depth);

/* ------------------------------------------------------------------ */
/* The executor, as the functions see it (exec.c)                      */

struct var;
struct wfile;

/* One (kind, path, key=value...) asked of the provider in this pass. */
struct memo {
	const char *kind, *path;
	const char **kv;
	size_t nkv;
	struct val v;
};

/*
 * One execution of a template.  It owns everything it makes and frees
 * it all before tmpl_execute() returns; the provider's data is borrowed.
 */
struct exec {
	const struct tmpl *t;
	const struct tmpl_env *env;
	struct tmpl_env none;		/* ENV when the caller gave none */
	struct buf out;
	size_t max;
	void **mem;			/* malloc'd strings, freed at the end */
	size_t nmem, capmem;
	cJSON **js;			/* cJSON trees made here */
	size_t njs, capjs;
	struct var *vars;
	size_t nvars, capvars;
	struct memo *memo;
	size_t nmemo, capmemo;
	int pending;			/* fetches answered TMPL_PENDING */
	int fatal;			/* an error no missing data explains */
	int line, col;			/* node being run, for "out of memory" */
	char *err;
	size_t errlen;
	size_t vbase;			/* first variable the running template sees */
	int calls;			/* {{template}} nesting */
	int nest;			/* walk() nesting, calls included */
	struct wfile *wfiles;		/* writeToFile, done once all rendered */
	size_t nwfiles, capwfiles;
};

/* One writeToFile call, queued: every string lives until the end. */
struct wfile {
	const char *path, *owner, *group, *perms, *content;
	size_t len;
	int append;
	int line, col;
};

/* Run the define NAME of the executing template with DOT into OUT (which
 * takes the place of the output meanwhile); 0 or a negative errno with
 * the error set, as any node's. */
int tmpl_exec_def(struct exec *x, const struct tdef *d, struct val dot,
		  struct buf *out);

/* The function being called, and where, for its errors. */
struct call {
	const struct func *fn;
	int line, col;
};

/* An error of function C, at its name: "file:L:C: split: ..."; always
 * -EINVAL.  Never with data in it: names, paths, keys, offsets. */
int tmpl_cerr(struct exec *x, const struct call *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "out of memory" at the node being run; marks the error fatal (no
 * pending data explains it); always -ENOMEM. */
int tmpl_xoom(struct exec *x);
/* Take ownership of P, or of the cJSON tree J: freed when the execution
 * ends.  0, or -ENOMEM with P (J) already freed. */
int tmpl_keep(struct exec *x, void *p);
int tmpl_keep_json(struct exec *x, cJSON *j);
/* A buffer for a function's result, capped as the output is. */
struct buf tmpl_fn_buf(const struct exec *x);
/* What the function built in B becomes its string result *OUT, owned by
 * the execution; or B's failure becomes the function's error. */
int tmpl_fn_result(struct exec *x, const struct call *c, struct buf *b,
		   struct val *out);

/* ------------------------------------------------------------------ */
/* Arguments (funcs.c)                                                 */

/* Argument I as text: a string, or a number as Vault sent it. */
int tmpl_arg_str(struct exec *x, const struct call *c, const struct val *a,
		 size_t i, const char **s, size_t *len);
/* ... and with no NUL byte in it: paths, names, modes. */
int tmpl_arg_cstr(struct exec *x, const struct call *c, const struct val *a,
		  size_t i, const char **s);
/* strings.TrimSpace of *S (*LEN bytes), in place. */
void tmpl_trim_space(const char **s, size_t *len);

/* ------------------------------------------------------------------ */
/* The function table (funcs.c)                                        */

/*
 * A function gets its N arguments at A, none of them pending, and sets
 * *OUT; 0, or a negative errno with the message set (tmpl_cerr, ...).
 */
typedef int (*fn_impl)(struct exec *x, const struct call *c,
		       const struct val *a, size_t n, struct val *out);

/* One entry of the table; the parser checks the argument count. */
struct func {
	const char *name;
	int min, max;		/* argument count; max -1: any number */
	int lazy;		/* and, or: arguments evaluated on demand */
	fn_impl impl;
};

/* The function called NAME, or NULL. */
const struct func *tmpl_find_func(const char *name);

/* Functions of the table defined in other files: time.c, */
int tmpl_fn_timestamp(struct exec *x, const struct call *c,
		      const struct val *a, size_t n, struct val *out);
/* ... and funcs_data.c (secret and pkiCert are tmpl_fn_fetch). */
int tmpl_fn_env(struct exec *x, const struct call *c,
		const struct val *a, size_t n, struct val *out);
int tmpl_fn_file(struct exec *x, const struct call *c,
		 const struct val *a, size_t n, struct val *out);
int tmpl_fn_base64Encode(struct exec *x, const struct call *c,
			 const struct val *a, size_t n, struct val *out);
int tmpl_fn_base64Decode(struct exec *x, const struct call *c,
			 const struct val *a, size_t n, struct val *out);
int tmpl_fn_sha256Hex(struct exec *x, const struct call *c,
		      const struct val *a, size_t n, struct val *out);
int tmpl_fn_writeToFile(struct exec *x, const struct call *c,
			const struct val *a, size_t n, struct val *out);
int tmpl_fn_fetch(struct exec *x, const struct call *c,
		  const struct val *a, size_t n, struct val *out);
/* ... and funcs_engine.c. */
int tmpl_fn_executeTemplate(struct exec *x, const struct call *c,
			    const struct val *a, size_t n, struct val *out);
int tmpl_fn_parseJSON(struct exec *x, const struct call *c,
		      const struct val *a, size_t n, struct val *out);
int tmpl_fn_slice(struct exec *x, const struct call *c,
		  const struct val *a, size_t n, struct val *out);
int tmpl_fn_call(struct exec *x, const struct call *c,
		 const struct val *a, size_t n, struct val *out);
/* secrets: Vault's LIST envelope ENV as consul-template's sorted []string. */
int tmpl_secrets_list(struct exec *x, const struct call *c, const cJSON *env,
		      struct val *out);
/* Is NAME one of consul-template's Consul functions (key, service, ...)? */
int tmpl_is_consul_func(const char *name);
/* ---- keymat: funcs_cert.c ---- */
int tmpl_fn_spkiPin(struct exec *x, const struct call *c,
		    const struct val *a, size_t n, struct val *out);
int tmpl_fn_certNotAfter(struct exec *x, const struct call *c,
			 const struct val *a, size_t n, struct val *out);
int tmpl_fn_certSerial(struct exec *x, const struct call *c,
		       const struct val *a, size_t n, struct val *out);
int tmpl_fn_certFingerprint(struct exec *x, const struct call *c,
			    const struct val *a, size_t n, struct val *out);
int tmpl_fn_certSANs(struct exec *x, const struct call *c,
		     const struct val *a, size_t n, struct val *out);
int tmpl_fn_pkcs12(struct exec *x, const struct call *c,
		   const struct val *a, size_t n, struct val *out);


/* ---- tmplfuncs ---- */
/* consul-template's other functions (funcs_ct.c, funcs_regex.c,
 * funcs_yaml.c, funcs_toml.c) and Sprig's under "sprig_" (funcs_sprig.c): second
 * tables, looked up when funcs.c's has no such name. */
const struct func *tmpl_find_func_ct(const char *name);
const struct func *tmpl_find_func_sprig(const char *name);
/* bsearch of NAME in the sorted table TAB of N entries. */
const struct func *tmpl_find_func_table(const char *name,
					const struct func *tab, size_t n);
/* Argument I as a Go int: an integral number. */
int tmpl_arg_int(struct exec *x, const struct call *c, const struct val *a,
		 size_t i, long long *v);
/* A new cJSON node holding V (maps and lists deep-copied); NULL when out
 * of memory. */
cJSON *tmpl_val_json(struct val v);
/* J, new, becomes owned by the execution and the function's result. */
int tmpl_ret_json(struct exec *x, cJSON *j, struct val *out);
/* V copied into the array TO (KEY NULL) or set as KEY of the object TO,
 * replacing what KEY held; 0 or -ENOMEM (reported). */
int tmpl_add_val(struct exec *x, cJSON *to, const char *key, struct val v);
/* consul-template's in(HAY, NEEDLE). */
int tmpl_val_in(struct val hay, struct val needle);
/* strings.Trim: the runes of SET off both ends of *S. */
void tmpl_trim_cutset(const char **s, size_t *len, const char *set,
		      size_t setlen);
/* mergo's merge of the map SRC into DST, which is the execution's own. */
int tmpl_merge_into(struct exec *x, cJSON *dst, const cJSON *src,
		    int override);
/* Upper and lower case of a rune (ASCII, Latin-1 and -A, Greek,
 * Cyrillic), and whether it is a letter (roughly: any non-ASCII rune
 * that is not Latin-1 punctuation). */
uint32_t tmpl_rune_upper(uint32_t r);
uint32_t tmpl_rune_lower(uint32_t r);
int tmpl_rune_letter(uint32_t r);
/* Go's time.Format of the broken-down UTC time TM with layout L (time.c). */
struct tm;
void tmpl_go_time(struct buf *b, const char *l, size_t n, const struct tm *tm);
int tmpl_fn_trim(struct exec *x, const struct call *c, const struct val *a,
		 size_t n, struct val *out);
int tmpl_fn_regexMatch(struct exec *x, const struct call *c,
		       const struct val *a, size_t n, struct val *out);
int tmpl_fn_regexReplaceAll(struct exec *x, const struct call *c,
			    const struct val *a, size_t n, struct val *out);
int tmpl_fn_regexFind(struct exec *x, const struct call *c,
		      const struct val *a, size_t n, struct val *out);
int tmpl_fn_regexQuoteMeta(struct exec *x, const struct call *c,
			   const struct val *a, size_t n, struct val *out);
int tmpl_fn_toUnescapedJSON(struct exec *x, const struct call *c,
			    const struct val *a, size_t n, struct val *out);
int tmpl_fn_parseYAML(struct exec *x, const struct call *c,
		      const struct val *a, size_t n, struct val *out);
int tmpl_fn_toTOML(struct exec *x, const struct call *c,
		   const struct val *a, size_t n, struct val *out);
int tmpl_fn_toYAML(struct exec *x, const struct call *c,
		   const struct val *a, size_t n, struct val *out);

#endif
