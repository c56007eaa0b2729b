/*
 * config/fleet.c: profiles and the files of entries_dir.
 *
 * A profile is a certificates: entry whose strings are patterns; an
 * entry file names a tenant and a profile, and may override a few keys.
 * Together they make one ordinary struct cert_def, so everything per
 * certificate (adoption, renewal, files, hooks, audit) applies to a
 * tenant's keystore unchanged.
 *
 * DESIGN / invariants:
 * - The copy is driven by the same tables as the load: every STRING,
 *   PATH and string-list item of the profile, at any depth (files:,
 *   wait:, and whatever rows are added later), goes through placeholder
 *   expansion; everything else is copied as it is.  So a key added to
 *   certificates: works in a profile with no code here.
 * - Placeholders are {tenant}, {profile}, {name} and {endpoint}; any
 *   other {word} is an error, found when the main file is loaded (each
 *   profile is expanded once with sample values), not at the first
 *   tenant.  A '{' not followed by word characters and '}' is literal.
 * - An entry file is read by the same engine as the main file, so its
 *   errors read "file:line:col: key: message"; its check consults the
 *   main configuration (the loader's ctx) for the profile's name.
 * - A copy is built in a zeroed struct: pointers are cleared before any
 *   is filled, so a failure half-way frees exactly what was made.
 */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEET_VALUE_MAX 4096	/* longest expanded string */

struct subst {
	const char *tenant, *profile, *name, *endpoint;
};

static int
word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

/* S with its placeholders replaced, malloc'd; NULL with ERR. */
static char *
expand(const char *s, const struct subst *x, char *err, size_t errlen)
{
	char out[FLEET_VALUE_MAX];
	size_t n = 0;

	for (const char *p = s; *p;) {
		const char *v = NULL, *end = p + 1;
		size_t vl;

		if (*p == '{') {
			while (word_char(*end))
				end++;
		}
		if (*p != '{' || end == p + 1 || *end != '}') {
			if (n + 1 >= sizeof(out))
				goto toolong;
			out[n++] = *p++;
			continue;
		}
		vl = (size_t)(end - p - 1);
		if (vl == 6 && strncmp(p + 1, "tenant", 6) == 0)
			v = x->tenant;
		else if (vl == 7 && strncmp(p + 1, "profile", 7) == 0)
			v = x->profile;
		else if (vl == 4 && strncmp(p + 1, "name", 4) == 0)
			v = x->name;
		else if (vl == 8 && strncmp(p + 1, "endpoint", 8) == 0) {
			v = x->endpoint;
			if (v == NULL) {
				snprintf(err, errlen, "the profile uses "
					 "{endpoint}; the entry sets none");
				return NULL;
			}
		} else {
			snprintf(err, errlen, "unknown placeholder {%.*s} (use "
				 "{tenant}, {profile}, {name} or {endpoint})",
				 (int)(vl > 40 ? 40 : vl), p + 1);
			return NULL;
		}
		vl = strlen(v);
		if (n + vl + 1 >= sizeof(out))
			goto toolong;
		memcpy(out + n, v, vl);
		n += vl;
		p = end + 1;
	}
	out[n] = '\0';
	char *r = strdup(out);
	if (r == NULL)
		snprintf(err, errlen, "out of memory");
	return r;
toolong:
	snprintf(err, errlen, "a value longer than %d bytes once expanded",
		 FLEET_VALUE_MAX);
	return NULL;
}

static void *
at(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *
cat(const void *base, size_t off)
{
	return (const char *)base + off;
}

/* Clear every pointer the table knows of in BASE (copied from another). */
static void
clear_pointers(const struct cfg_section *sec, void *base)
{
	if (sec->named)
		*(char **)at(base, sec->name_offset) = NULL;
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];

		switch (e->type) {
		case CFG_STRING:
		case CFG_PATH:
			*(char **)at(base, e->offset) = NULL;
			break;
		case CFG_STRINGLIST:
		case CFG_LIST_OF_SECTION:
		case CFG_MAP_OF_SECTION:
			*(void **)at(base, e->offset) = NULL;
			*(size_t *)at(base, e->count_offset) = 0;
			break;
		case CFG_SECTION:
			clear_pointers(e->section, at(base, e->offset));
			break;
		default:
			break;
		}
	}
}

static int copy_fields(const struct cfg_section *sec, void *dst,
		       const void *src, const struct subst *x, char *err,
		       size_t errlen);

static int
copy_str(char **dst, const char *src, const struct subst *x, char *err,
	 size_t errlen)
{
	if (src == NULL)
		return 0;
	*dst = expand(src, x, err, errlen);
	return *dst ? 0 : -EINVAL;
}

/* Is the name of a named section also one of its rows (a profile's)? */
static int
name_is_a_row(const struct cfg_section *sec)
{
	for (size_t i = 0; i < sec->n_entries; i++)
		if (sec->entries[i].offset == sec->name_offset &&
		    (sec->entries[i].type == CFG_STRING ||
		     sec->entries[i].type == CFG_PATH))
			return 1;
	return 0;
}

/* Fill DST's pointers (cleared) from SRC, which DST is a copy of. */
static int
copy_fields(const struct cfg_section *sec, void *dst, const void *src,
	    const struct subst *x, char *err, size_t errlen)
{
	if (sec->named && !name_is_a_row(sec) &&
	    copy_str(at(dst, sec->name_offset),
		     *(char *const *)cat(src, sec->name_offset), x, err,
		     errlen) != 0)
		return -EINVAL;
	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];
		void *d = at(dst, e->offset);
		const void *s = cat(src, e->offset);
		size_t n;

		switch (e->type) {
		case CFG_STRING:
		case CFG_PATH:
			if (copy_str(d, *(char *const *)s, x, err, errlen) != 0)
				return -EINVAL;
			break;
		case CFG_STRINGLIST: {
			char *const *sl = *(char **const *)s;
			char **dl;

			n = *(const size_t *)cat(src, e->count_offset);
			if (n == 0)
				break;
			dl = calloc(n, sizeof(*dl));
			if (dl == NULL)
				goto oom;
			*(char ***)d = dl;
			for (size_t j = 0; j < n; j++) {
				if (copy_str(&dl[j], sl[j], x, err, errlen) != 0)
					return -EINVAL;
				*(size_t *)at(dst, e->count_offset) = j + 1;
			}
			break;
		}
		case CFG_SECTION:
			if (copy_fields(e->section, d, s, x, err, errlen) != 0)
				return -EINVAL;
			break;
		case CFG_LIST_OF_SECTION:
		case CFG_MAP_OF_SECTION: {
			const struct cfg_section *is = e->section;
			const char *sa = *(char *const *)s;
			char *da;

			n = *(const size_t *)cat(src, e->count_offset);
			if (n == 0)
				break;
			da = malloc(n * is->size);
			if (da == NULL)
				goto oom;
			memcpy(da, sa, n * is->size);
			for (size_t j = 0; j < n; j++)
				clear_pointers(is, da + j * is->size);
			*(char **)d = da;
			*(size_t *)at(dst, e->count_offset) = n;
			for (size_t j = 0; j < n; j++)
				if (copy_fields(is, da + j * is->size,
						sa + j * is->size, x, err,
						errlen) != 0)
					return -EINVAL;
			break;
		}
		default:
			break;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int
replace_list(char ***dst, size_t *dn, char *const *src, size_t n,
	     const struct subst *x, char *err, size_t errlen)
{
	for (size_t i = 0; i < *dn; i++)
		free((*dst)[i]);
	free(*dst);
	*dst = NULL;
	*dn = 0;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(**dst));
	if (*dst == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (copy_str(&(*dst)[i], src[i], x, err, errlen) != 0)
			return -EINVAL;
		*dn = i + 1;
	}
	return 0;
}

int
config_expand_cert(const struct cert_def *p, const char *profile,
		   const struct fleet_entry_def *e, const char *name,
		   struct cert_def *out, char *err, size_t errlen)
{
	struct subst x = {
		.tenant = e ? e->tenant : "tenant",
		.profile = profile,
		.name = name,
		.endpoint = e ? e->endpoint : "keystore.example:443",
	};
	int rc;

	memcpy(out, p, sizeof(*out));
	clear_pointers(&cfg_profile_section, out);
	rc = copy_fields(&cfg_profile_section, out, p, &x, err, errlen);
	if (rc != 0)
		goto fail;
	free(out->name);
	out->name = strdup(name);
	if (out->name == NULL)
		goto oom;
	if (e == NULL)
		return 0;
	if (e->common_name) {
		free(out->common_name);
		if (copy_str(&out->common_name, e->common_name, &x, err, errlen))
			goto fail_rc;
	}
	if (e->n_alt_names &&
	    (rc = replace_list(&out->alt_names, &out->n_alt_names,
			       e->alt_names, e->n_alt_names, &x, err,
			       errlen)) != 0)
		goto fail;
	if (e->n_ip_sans &&
	    (rc = replace_list(&out->ip_sans, &out->n_ip_sans, e->ip_sans,
			       e->n_ip_sans, &x, err, errlen)) != 0)
		goto fail;
	if (e->ttl_ms)
		out->ttl_ms = e->ttl_ms;
	if (e->renew_before_ms) {
		out->policy.renew_before_ms = e->renew_before_ms;
		out->policy.renew_at = 0;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto fail;
fail_rc:
	rc = -EINVAL;
fail:
	config_free_cert(out);
	return rc;
}

void
config_free_cert(struct cert_def *c)
{
	if (c == NULL)
		return;
	cfg_free_fields(&cfg_profile_section, c);
	free(c->name);
	c->name = NULL;
}

const char *
config_check_name(const char *s)
{
	return *s ? cfg_check_cert_name(s) : "is empty";
}

const struct cert_def *
config_profile(const struct config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->n_profiles; i++)
		if (cfg->profiles[i].name &&
		    strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

/* One profiles: item: an entry's checks, and its patterns expand. */
void
cfg_check_profile(struct loader *ld, void *obj, const char *path)
{
	struct cert_def *p = obj, tmp;
	char why[256];

	cfg_check_cert(ld, obj, path);
	if (ld->n_errors || p->name == NULL)
		return;
	if (config_expand_cert(p, p->name, NULL, "name", &tmp, why,
			       sizeof(why)) != 0) {
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, path)), path, "%s",
			   why);
		return;
	}
	config_free_cert(&tmp);
}

/* An entry file: its profile exists, and makes a certificate of it. */
void
cfg_check_fleet_entry(struct loader *ld, void *obj, const char *path)
{
	const struct fleet_entry_def *e = obj;
	const struct config *cfg = ld->ctx;
	const struct mark_rec *r = cfg_find_field(ld, &e->profile);
	const struct cert_def *p;
	struct cert_def tmp;
	char why[256];

	(void)path;
	if (cfg == NULL || e->profile == NULL || (r && r->bad))
		return;
	p = config_profile(cfg, e->profile);
	if (p == NULL) {
		char list[512];
		size_t used = 0;

		list[0] = '\0';
		for (size_t i = 0; i < cfg->n_profiles && used < sizeof(list);
		     i++) {
			int w = snprintf(list + used, sizeof(list) - used,
					 "%s%s", i ? ", " : "",
					 cfg->profiles[i].name);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		cfg_report(ld, CFG_AT(r ? r->value : cfg_where(ld, NULL, NULL)),
			   "profile", "'%s' is not a profile of %s (%s%s)",
			   e->profile, cfg->source ? cfg->source : "the "
			   "configuration", cfg->n_profiles ? "known: " :
			   "it has no profiles:", list);
		return;
	}
	if (ld->n_errors)
		return;
	if (config_expand_cert(p, e->profile, e, "name", &tmp, why,
			       sizeof(why)) != 0) {
		cfg_report(ld, CFG_AT(cfg_where(ld, &e->profile, NULL)),
			   "profile", "%s", why);
		return;
	}
	config_free_cert(&tmp);
}

int
config_load_entry(const struct config *cfg, const char *file,
		  const char *text, size_t len, struct fleet_entry_def *out,
		  char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = cfg_load_ctx(&cfg_fleet_entry_section, file, text, len, out, cfg,
			  err, errlen);
	if (rc != 0)
		config_free_entry(out);
	return rc;
}

void
config_free_entry(struct fleet_entry_def *e)
{
	if (e)
		cfg_free_fields(&cfg_fleet_entry_section, e);
}
