/*
 * value.c: the values a template computes with, and Go's rules for them:
 * truth, type names, map order.
 *
 * DESIGN / invariants:
 *  - A value is a small tagged struct: scalars are held in it, maps and
 *    lists point at cJSON nodes, so Vault's data is viewed in place and
 *    never copied (nor modified).  Strings carry a length, so the output
 *    of base64Decode may hold NUL bytes; they are NUL-terminated too.
 *  - consul-template hands templates Go structs, not Vault's JSON: a
 *    V_STRUCT is a JSON object seen through a struct type, a table that
 *    maps each Go field to a key (.Data, .LeaseID, ...).  A field Vault
 *    left out reads as Go's zero value for its type.
 *  - Maps are visited in Go's order, sorted by key (byte order), whether
 *    ranged over, printed or written as JSON.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct val
tmpl_to_val(const cJSON *j)
{
	if (j == NULL || cJSON_IsNull(j))
		return vnil();
	if (cJSON_IsBool(j))
		return vbool(cJSON_IsTrue(j));
	if (cJSON_IsNumber(j))
		return vnum(j->valuedouble);
	if ((cJSON_IsString(j) || cJSON_IsRaw(j)) && j->valuestring != NULL)
		return vstr(j->valuestring, strlen(j->valuestring));
	if (cJSON_IsArray(j))
		return (struct val){.k = V_LIST, .j = j};
	if (cJSON_IsObject(j))
		return (struct val){.k = V_MAP, .j = j};
	return vnil();
}

struct val
tmpl_sfield_val(const cJSON *obj, const struct sfield *f)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, f->json);

	if (it == NULL || cJSON_IsNull(it)) {
		switch (f->kind) {
		case F_STR: return vstr("", 0);
		case F_NUM: return vnum(0);
		case F_BOOL: return vbool(0);
		case F_MAP: return (struct val){.k = V_MAP};
		case F_LIST: return (struct val){.k = V_LIST};
		default: return vnil();
		}
	}
	if (f->kind == F_STRUCT && cJSON_IsObject(it))
		return (struct val){.k = V_STRUCT, .j = it, .st = f->sub};
	return tmpl_to_val(it);
}

const char *
tmpl_type_name(struct val v)
{
	switch (v.k) {
	case V_NIL: return "nil";
	case V_PENDING: return "pending";
	case V_BOOL: return "bool";
	case V_NUM: return "number";
	case V_STR: return "string";
	case V_MAP: return "map";
	case V_LIST: return "list";
	default: return v.st->name;
	}
}

const char *
tmpl_go_type(struct val v)
{
	switch (v.k) {
	case V_BOOL: return "bool";
	case V_NUM: return is_int(v.n) ? "int" : "float64";
	case V_STR: return "string";
	case V_MAP: return "map[string]interface {}";
	case V_LIST: return "[]interface {}";
	case V_STRUCT: return v.st->name;
	default: return "<nil>";
	}
}

size_t
tmpl_jcount(const cJSON *j)
{
	return j != NULL ? (size_t)cJSON_GetArraySize(j) : 0;
}

int
tmpl_truth(struct val v)
{
	switch (v.k) {
	case V_BOOL: return v.b;
	case V_NUM: return v.n != 0;
	case V_STR: return v.len > 0;
	case V_MAP:
	case V_LIST: return v.j != NULL && v.j->child != NULL;
	case V_STRUCT: return 1;
	default: return 0;
	}
}

static int
key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

int
tmpl_sorted_members(const cJSON *obj, const cJSON ***out, size_t *n)
{
	const cJSON *c;
	size_t k = 0, cnt = tmpl_jcount(obj);

	*out = NULL;
	*n = 0;
	if (cnt == 0)
		return 0;
	*out = malloc(cnt * sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	for (c = obj->child; c != NULL && k < cnt; c = c->next)
		(*out)[k++] = c;
	qsort((void *)*out, k, sizeof(**out), key_cmp);
	*n = k;
	return 0;
}
