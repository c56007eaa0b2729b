/*
 * funcs_engine.c: the functions that reach into the engine itself or
 * build new values from text: executeTemplate (consul-template), Go's
 * slice and call, parseJSON, secrets' list, and the names of the Consul
 * functions the parser refuses.
 *
 * DESIGN / invariants:
 *  - executeTemplate runs a {{define}} of the same template through the
 *    executor (tmpl_exec_def) into a buffer of its own, capped as the
 *    output is, and returns that text: the same walk as {{template}}, so
 *    the same variables rule, depth cap and pending data apply.
 *  - New values (parseJSON's tree, slice's list, secrets' names) are
 *    cJSON trees owned by the execution (tmpl_keep_json), wiped and freed
 *    when it ends: they may hold secrets.
 *  - Errors say what is wrong and where (an offset, an index), never the
 *    data: a string handed to parseJSON is likely a secret.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"

/* executeTemplate NAME [DATA]: the define NAME run with DATA, as a string. */
int
tmpl_fn_executeTemplate(struct exec *x, const struct call *c,
			const struct val *a, size_t n, struct val *out)
{
	const struct tdef *d;
	const char *name;
	struct buf b;
	int rc = tmpl_arg_cstr(x, c, a, 0, &name);

	if (rc != 0)
		return rc;
	d = tmpl_find_def(x->t, name);
	if (d == NULL)
		return tmpl_cerr(x, c, "template \"%s\" not defined", name);
	b = tmpl_fn_buf(x);
	rc = tmpl_exec_def(x, d, n > 1 ? a[1] : vnil(), &b);
	if (rc != 0) {
		buf_free(&b);
		return rc;
	}
	return tmpl_fn_result(x, c, &b, out);
}

/*
 * parseJSON S: consul-template's json.Unmarshal into interface{}; "" is an
 * empty map.  A malformed document is an error naming the byte offset.
 */
int
tmpl_fn_parseJSON(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	const char *s, *end = NULL;
	size_t len;
	cJSON *j;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (len == 0) {
		j = cJSON_CreateObject();
		rc = tmpl_keep_json(x, j);
		if (rc == 0)
			*out = (struct val){ .k = V_MAP, .j = j };
		return rc;
	}
	j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (j == NULL) {
		size_t at = end != NULL && end >= s && end <= s + len
			? (size_t)(end - s)
			: 0;

		return tmpl_cerr(x, c, "invalid JSON at byte %zu", at);
	}
	/* Go rejects what follows the value, white space aside. */
	while (end < s + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != s + len) {
		secret_json_free(j);
		return tmpl_cerr(x, c,
				 "invalid JSON at byte %zu: data after the value",
				 (size_t)(end - s));
	}
	rc = tmpl_keep_json(x, j);
	if (rc == 0)
		*out = tmpl_to_val(j);
	return rc;
}

/* An index argument of slice: a whole number, as Go's indexArg wants. */
static int
slice_index(struct exec *x, const struct call *c, const struct val *v,
	    size_t cap, size_t *out)
{
	if (v->k != V_NUM || !is_int(v->n))
		return tmpl_cerr(x, c, "cannot index slice/array with type %s",
				 tmpl_type_name(*v));
	if (v->n < 0 || v->n > (double)cap)
		return tmpl_cerr(x, c, "index out of range: %.0f", v->n);
	*out = (size_t)v->n;
	return 0;
}

/*
 * slice X [I [J [K]]]: Go's x[i:j:k].  Strings slice by byte and take no
 * third index; lists make a new list of copies.
 */
int
tmpl_fn_slice(struct exec *x, const struct call *c, const struct val *a,
	      size_t n, struct val *out)
{
	size_t len, idx[3] = { 0, 0, 0 }, i;
	const cJSON *it;
	cJSON *list;
	int rc;

	switch (a[0].k) {
	case V_STR:
		len = a[0].len;
		if (n > 3)
			return tmpl_cerr(x, c, "cannot 3-index slice a string");
		break;
	case V_LIST:
		len = tmpl_jcount(a[0].j);
		break;
	case V_NIL:
		return tmpl_cerr(x, c, "slice of untyped nil");
	default:
		return tmpl_cerr(x, c, "can't slice item of type %s",
				 tmpl_go_type(a[0]));
	}
	if (n > 4)
		return tmpl_cerr(x, c, "too many slice indexes: %zu", n - 1);
	idx[1] = idx[2] = len;
	for (i = 1; i < n; i++) {
		rc = slice_index(x, c, &a[i], len, &idx[i - 1]);
		if (rc != 0)
			return rc;
	}
	if (idx[0] > idx[1])
		return tmpl_cerr(x, c, "invalid slice index: %zu > %zu", idx[0],
				 idx[1]);
	if (n == 4 && idx[1] > idx[2])
		return tmpl_cerr(x, c, "invalid slice index: %zu > %zu", idx[1],
				 idx[2]);
	if (a[0].k == V_STR) {
		*out = vstr(a[0].s + idx[0], idx[1] - idx[0]);
		/* A slice is not NUL-terminated where it ends early: copy. */
		if (idx[1] < len) {
			char *d = malloc(idx[1] - idx[0] + 1);

			if (d == NULL)
				return tmpl_xoom(x);
			memcpy(d, a[0].s + idx[0], idx[1] - idx[0]);
			d[idx[1] - idx[0]] = '\0';
			out->s = d;
			return tmpl_keep(x, d);
		}
		return 0;
	}
	list = cJSON_CreateArray();
	rc = tmpl_keep_json(x, list);
	if (rc != 0)
		return rc;
	for (i = 0, it = a[0].j ? a[0].j->child : NULL; it; it = it->next, i++) {
		cJSON *copy;

		if (i < idx[0])
			continue;
		if (i >= idx[1])
			break;
		copy = cJSON_Duplicate(it, 1);
		if (copy == NULL || !cJSON_AddItemToArray(list, copy)) {
			cJSON_Delete(copy);
			return tmpl_xoom(x);
		}
	}
	*out = (struct val){ .k = V_LIST, .j = list };
	return 0;
}

/*
 * call F ARGS...: Go calls the function value F.  Nothing a template can
 * reach here (Vault's JSON, files, the environment) holds a function, so
 * this fails as Go does for any other value.
 */
int
tmpl_fn_call(struct exec *x, const struct call *c, const struct val *a,
	     size_t n, struct val *out)
{
	(void)n, (void)out;
	if (a[0].k == V_NIL)
		return tmpl_cerr(x, c, "call of nil");
	return tmpl_cerr(x, c, "non-function of type %s", tmpl_go_type(a[0]));
}

static int
cmp_names(const void *p, const void *q)
{
	const cJSON *a = *(const cJSON *const *)p, *b = *(const cJSON *const *)q;

	return strcmp(a->valuestring, b->valuestring);
}

/* Vault's LIST answer as consul-template's `secrets`: the keys, sorted. */
int
tmpl_secrets_list(struct exec *x, const struct call *c, const cJSON *env,
		  struct val *out)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(env, "data");
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(data, "keys");
	const cJSON *it, **v = NULL;
	size_t n = 0, i;
	cJSON *list = cJSON_CreateArray();
	int rc = tmpl_keep_json(x, list);

	if (rc != 0)
		return rc;
	if (keys != NULL && !cJSON_IsArray(keys))
		return tmpl_cerr(x, c, "Vault's answer has no list of keys");
	n = tmpl_jcount(keys);
	if (n > 0) {
		v = malloc(n * sizeof(*v));
		if (v == NULL)
			return tmpl_xoom(x);
	}
	for (i = 0, it = keys ? keys->child : NULL; it; it = it->next) {
		if (!cJSON_IsString(it) || it->valuestring == NULL) {
			free((void *)v);
			return tmpl_cerr(x, c,
					 "Vault's list holds a non-string key");
		}
		v[i++] = it;
	}
	if (n > 1)
		qsort((void *)v, n, sizeof(*v), cmp_names);
	for (i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(v[i]->valuestring);

		if (s == NULL || !cJSON_AddItemToArray(list, s)) {
			cJSON_Delete(s);
			free((void *)v);
			return tmpl_xoom(x);
		}
	}
	free((void *)v);
	*out = (struct val){ .k = V_LIST, .j = list };
	return 0;
}

/*
 * consul-template's functions that read Consul's catalog or KV store.
 * certagent talks to Vault only: a template that calls one is refused
 * when it is parsed, at the call, rather than rendering wrong data.
 */
static const char *const consul_funcs[] = {
	"caLeaf",    "caRoots",	     "connect", "datacenters", "key",
	"keyExists", "keyOrDefault", "ls",	"node",	       "nodes",
	"safeLs",    "safeTree",     "service", "services",    "tree",
};

int
tmpl_is_consul_func(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(consul_funcs) / sizeof(consul_funcs[0]); i++)
		if (strcmp(consul_funcs[i], name) == 0)
			return 1;
	return 0;
}
