/*
 * templates: the templates: section, rendered from the deps store.
 *
 * DESIGN / invariants:
 *  - Templates are parsed once per configuration; a parse error names
 *    template:line:col and leaves that template out, never the others.
 *  - A batch runs on a 0 ms timer, so a burst of data changes renders
 *    once.  Each template executes against the deps store; one that is
 *    still waiting for data is left for the next batch.
 *  - A template's issue call (pkiCert, or `secret "<mount>/issue/<role>"
 *    "common_name=..."`) is a managed certificate of the engine
 *    (certs.c): issued, verified, scheduled and named as a certificates:
 *    entry is.  Every other call goes to the deps store.
 *  - On its first use the engine asks this module for what is already
 *    rendered: for pkiCert, the certificate and key in the template's
 *    own destination (consul-template's behaviour); for `secret`, a
 *    certificate carrying the requested names, its key (perhaps in
 *    another file, rendered by another template) and the CA certificates
 *    above it, from the destinations of every template, put back
 *    together as Vault's answer, verbatim.  The engine verifies it as it
 *    verifies an issuance and, while it is valid and not due, the
 *    templates render the bytes already on disk: nothing is issued,
 *    written or signalled on a restart.
 *  - Rendered text holds secrets: it goes to its file and nowhere else.
 *  - Each file a template changes (its destination, writeToFile) is
 *    reported by path through the changed event, for the hooks in its
 *    on_change; hooks run from the loop after the whole batch is on
 *    disk, and what one batch reports folds into one run.
 *  - All or nothing: the engine hands over writeToFile calls only once
 *    the whole template has rendered (tmpl.h), so a render that fails or
 *    waits for data changes no file, in --once as in a daemon.
 *  - writeToFile "append" appends once per new result: a batch renders
 *    every template, so the same content appended by the previous
 *    render of the template (same path, mode, owner and bytes, compared
 *    by SHA-256) is not appended again; new data appends.
 */
#include "templates.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "certs.h"
#include "deps.h"
#include "files.h"
#include "log.h"
#include "tmpl.h"
#include "wallclock.h"
#include "x509.h"

#define TPL_MAX (1024 * 1024)
#define ERR_MAX 1024
#define TPL_MAX_APPENDS 32	/* appends remembered per render */

struct tpl {
	struct templates *t;
	const struct template_def *cfg;
	struct tmpl *parsed;
	char name[512];		/* source path, or "templates[N]" */
	char cert_name[256];	/* what the certificates it issues are called */
	char last_err[ERR_MAX];
	int64_t rendered_ms;	/* the last rendering that got through */
	int64_t written_ms;	/* the last one that changed the file */
	int pending;		/* waits for data */
	/* writeToFile appends of the last complete render, and this one's. */
	unsigned char appended[TPL_MAX_APPENDS][32], appending[TPL_MAX_APPENDS][32];
	size_t nappended, nappending;
};

struct templates {
	uv_loop_t *loop;
	struct deps *deps;
	struct certs *certs;
	const struct templates_opts *cfg;
	struct tpl *tpls;
	size_t n;
	uv_timer_t batch;
	struct templates_stats stats;
	int dry;
	struct templates_events ev;
	unsigned batch_errors;
	int loaded;
};

/*
 * The next PEM block at or after P: its start, its label (LLEN bytes at
 * *LABEL) and *END just past its END line; NULL when there is none, or
 * the text stops inside one.
 */
static const char *
pem_next(const char *p, const char **label, size_t *llen, const char **end)
{
	while ((p = strstr(p, "-----BEGIN ")) != NULL) {
		const char *l = p + strlen("-----BEGIN ");
		const char *close = strstr(l, "-----");
		char marker[96];

		if (close == NULL)
			return NULL;
		if (close - l > 64) {
			p = l;
			continue;
		}
		snprintf(marker, sizeof(marker), "-----END %.*s-----", (int)(close - l), l);
		const char *e = strstr(close, marker);
		if (e == NULL)
			return NULL;
		*label = l;
		*llen = (size_t)(close - l);
		*end = e + strlen(marker);
		return p;
	}
	return NULL;
}

static int
is_key_label(const char *label, size_t llen)
{
	return llen >= 11 && memcmp(label + llen - 11, "PRIVATE KEY", 11) == 0;
}

/* The first private key PEM block in TEXT (malloc'd), or NULL. */
static char *
key_block(const char *text)
{
	const char *p = text, *label, *end;
	size_t llen;

	for (; (p = pem_next(p, &label, &llen, &end)) != NULL; p = end)
		if (is_key_label(label, llen))
			return strndup(p, (size_t)(end - p));
	return NULL;
}

/*
 * pkiCert: what the destination holds, as consul-template reads it back
 * (the first certificate, the private key, and the next certificate as
 * the CA), rebuilt as Vault's answer; NULL if there is no such pair.
 */
static cJSON *
adopt_pki_cert(const struct tpl *p)
{
	char *text = NULL, *leaf = NULL, *rest = NULL, *key = NULL, err[256];
	char *ca = NULL, *more = NULL;
	size_t len;
	cJSON *env = NULL, *data, *chain;

	if (files_read(p->cfg->destination, TPL_MAX, &text, &len, err,
		       sizeof(err)) != 0)
		return NULL;
	key = key_block(text);
	if (key == NULL || x509_split_first(text, &leaf, &rest, err, sizeof(err)) != 0)
		goto out;
	if (rest[0] && x509_split_first(rest, &ca, &more, err, sizeof(err)) != 0)
		goto out;
	env = cJSON_CreateObject();
	data = cJSON_AddObjectToObject(env, "data");
	chain = cJSON_AddArrayToObject(data, "ca_chain");
	if (data == NULL || chain == NULL ||
	    !cJSON_AddStringToObject(data, "certificate", leaf) ||
	    !cJSON_AddStringToObject(data, "private_key", key) ||
	    !cJSON_AddStringToObject(data, "issuing_ca", ca ? ca : "") ||
	    (ca && !cJSON_AddItemToArray(chain, cJSON_CreateString(ca)))) {
		secret_json_free(env);
		env = NULL;
	}
out:
	secret_free(text);
	secret_free(key);
	free(leaf);
	free(rest);
	free(ca);
	free(more);
	return env;
}

/* ------------------------------------------------------------------ */
/* secret "<mount>/issue/<role>": adoption across destinations */

#define ADOPT_MAX_BLOCKS 64

/* The PEM blocks of the destination files, verbatim, as Vault sent them. */
struct blocks {
	char *text[ADOPT_MAX_BLOCKS];
	int is_key[ADOPT_MAX_BLOCKS];
	size_t n;
};

static void
blocks_free(struct blocks *b)
{
	for (size_t i = 0; i < b->n; i++)
		secret_free(b->text[i]);
	b->n = 0;
}

/* Add every CERTIFICATE and PRIVATE KEY block of TEXT not seen yet. */
static void
blocks_scan(struct blocks *b, const char *text)
{
	const char *p = text, *label, *end;
	size_t llen;

	for (; b->n < ADOPT_MAX_BLOCKS && (p = pem_next(p, &label, &llen, &end)) != NULL;
	     p = end) {
		int key = is_key_label(label, llen), dup = 0;
		size_t len = (size_t)(end - p);

		if (!key && !(llen == 11 && memcmp(label, "CERTIFICATE", 11) == 0))
			continue;
		for (size_t i = 0; i < b->n && !dup; i++)
			dup = strlen(b->text[i]) == len && memcmp(b->text[i], p, len) == 0;
		if (dup)
			continue;
		b->text[b->n] = strndup(p, len);
		if (b->text[b->n] == NULL)
			return;
		b->is_key[b->n++] = key;
	}
}

/* The value of argument NAME in KV ("name=value"), or NULL. */
static const char *
arg_of(const char *const *kv, size_t nkv, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < nkv; i++)
		if (strncmp(kv[i], name, len) == 0 && kv[i][len] == '=')
			return kv[i] + len + 1;
	return NULL;
}

/* Split a comma-separated list in place into at most MAX items. */
static size_t
split_list(char *s, char **items, size_t max)
{
	size_t n = 0;

	for (char *tok = s, *next; tok && *tok && n < max; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		while (*tok == ' ')
			tok++;
		if (*tok)
			items[n++] = tok;
	}
	return n;
}

/*
 * secret "<mount>/issue/<role>" "common_name=...": a certificate carrying
 * the requested names, its key and the CA certificates above it, from the
 * destinations of every template, rebuilt as Vault's answer with the PEM
 * blocks verbatim; NULL when a piece is missing.
 */
static cJSON *
adopt_issued(const struct templates *t, const char *const *kv, size_t nkv)
{
	const char *cn = arg_of(kv, nkv, "common_name");
	const char *format = arg_of(kv, nkv, "format");
	char *alt = NULL, *ips = NULL, *dns[64], *ip[64], err[256];
	struct blocks b = { .n = 0 };
	struct x509_names names = { .cn = cn };
	struct x509_info info;
	size_t leaf = SIZE_MAX, key = SIZE_MAX;
	cJSON *env = NULL, *data, *chain;

	if (cn == NULL || (format && strcmp(format, "pem") != 0))
		return NULL;
	alt = strdup(arg_of(kv, nkv, "alt_names") ? arg_of(kv, nkv, "alt_names") : "");
	ips = strdup(arg_of(kv, nkv, "ip_sans") ? arg_of(kv, nkv, "ip_sans") : "");
	if (alt == NULL || ips == NULL)
		goto out;
	names.ndns = split_list(alt, dns, 64);
	names.dns = (const char *const *)dns;
	names.nips = split_list(ips, ip, 64);
	names.ips = (const char *const *)ip;
	for (size_t i = 0; i < t->n; i++) {
		char *text = NULL;
		size_t len;
		if (files_read(t->tpls[i].cfg->destination, TPL_MAX, &text, &len, err,
			       sizeof(err)) == 0)
			blocks_scan(&b, text);
		secret_free(text);
	}
	/* The leaf: carries the names, is no CA; then its key. */
	for (size_t i = 0; i < b.n && leaf == SIZE_MAX; i++) {
		if (b.is_key[i] || x509_cert_info(b.text[i], &info, err, sizeof(err)) != 0 ||
		    info.is_ca ||
		    x509_check_names(b.text[i], &names, err, sizeof(err)) != 0)
			continue;
		for (size_t j = 0; j < b.n && key == SIZE_MAX; j++)
			if (b.is_key[j] &&
			    x509_key_matches(b.text[i], b.text[j], err, sizeof(err)) == 0)
				key = j;
		if (key != SIZE_MAX)
			leaf = i;
	}
	if (leaf == SIZE_MAX)
		goto out;
	env = cJSON_CreateObject();
	data = cJSON_AddObjectToObject(env, "data");
	chain = cJSON_AddArrayToObject(data, "ca_chain");
	if (data == NULL || chain == NULL ||
	    !cJSON_AddStringToObject(data, "certificate", b.text[leaf]) ||
	    !cJSON_AddStringToObject(data, "private_key", b.text[key]) ||
	    !cJSON_AddStringToObject(data, "private_key_type", info.key_type) ||
	    !cJSON_AddStringToObject(data, "serial_number", info.serial) ||
	    !cJSON_AddNumberToObject(data, "expiration", (double)info.not_after) ||
	    !cJSON_AddStringToObject(env, "lease_id", "") ||
	    !cJSON_AddNumberToObject(env, "lease_duration", 0) ||
	    !cJSON_AddFalseToObject(env, "renewable"))
		goto fail;
	/* ca_chain from the issuer up, as Vault orders it. */
	const char *cur = b.text[leaf];
	unsigned char used[ADOPT_MAX_BLOCKS] = { 0 };
	for (size_t depth = 0; depth < 8; depth++) {
		size_t up = SIZE_MAX;
		for (size_t i = 0; i < b.n && up == SIZE_MAX; i++)
			if (!b.is_key[i] && !used[i] && i != leaf &&
			    x509_issued_by(b.text[i], cur))
				up = i;
		if (up == SIZE_MAX)
			break;
		used[up] = 1;
		cJSON_AddItemToArray(chain, cJSON_CreateString(b.text[up]));
		if (x509_issued_by(b.text[up], b.text[up]))
			break;	/* the root */
		cur = b.text[up];
	}
	/* No issuer on disk: the chain cannot be given back. */
	const cJSON *first = cJSON_GetArrayItem(chain, 0);
	if (first == NULL ||
	    !cJSON_AddStringToObject(data, "issuing_ca", first->valuestring))
		goto fail;
	goto out;
fail:
	secret_json_free(env);
	env = NULL;
out:
	blocks_free(&b);
	free(alt);
	free(ips);
	return env;
}

/* The engine asks, once, what a template call has on disk already. */
struct adopt_ctx {
	const struct tpl *p;
	const char *kind;
	const char *const *kv;
	size_t nkv;
};

static void
adopt_cb(void *arg, cJSON **envelope)
{
	const struct adopt_ctx *ax = arg;

	if (strcmp(ax->kind, "pkiCert") == 0)
		*envelope = adopt_pki_cert(ax->p);
	else
		*envelope = adopt_issued(ax->p->t, ax->kv, ax->nkv);
}

/* PATH's bytes changed: tell the template's hooks. */
static void
changed(struct tpl *p, const char *path)
{
	struct change c = {
		.hooks = p->cfg->on_change,
		.n_hooks = p->cfg->n_on_change,
		.paths = &path,
		.n_paths = 1,
		.wait = { p->cfg->wait.min_ms, p->cfg->wait.max_ms },
		.source = p->name,
	};

	if (p->t->ev.changed)	/* exec mode hears of every change */
		p->t->ev.changed(p->t->ev.arg, &c);
}

static int
tpl_fetch(void *arg, const char *kind, const char *path, const char *const *kv,
	  size_t nkv, const cJSON **out, char *err, size_t errlen)
{
	struct tpl *p = arg;
	int rc;

	if (certs_is_issue_call(kind, path, nkv)) {
		struct adopt_ctx ax = { p, kind, kv, nkv };
		struct certs_tcall tc = {
			.kind = kind,
			.path = path,
			.kv = kv,
			.nkv = nkv,
			.name = p->cert_name,
			.dest = p->cfg->destination,
			.policy = &p->cfg->policy,
			.adopt = adopt_cb,
			.adopt_arg = &ax,
		};
		rc = certs_template_get(p->t->certs, &tc, out, err, errlen);
		return rc == CERTS_PENDING ? TMPL_PENDING : rc;
	}
	rc = deps_get(p->t->deps, kind, path, kv, nkv, out, err, errlen);
	return rc == DEPS_PENDING ? TMPL_PENDING : rc;
}

/*
 * Did the last complete render of P append these very bytes here?  The
 * digest is remembered for this render either way.
 */
/*
 * Whether PATH already ends with CONTENT.  An append the last render made
 * is skipped only while it is still the file's tail: a writeToFile that
 * replaced the file earlier in this render (CA, then "append" the leaf)
 * must be followed by the append again.
 */
static int
ends_with(const char *path, const char *content, size_t len)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size, at;
	int same = 1;

	if (fd < 0)
		return 0;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size < len) {
		close(fd);
		return 0;
	}
	at = size - (off_t)len;
	for (size_t done = 0; same && done < len;) {
		size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t got = pread(fd, buf, want, at + (off_t)done);
		if (got <= 0)
			same = 0;
		else if (memcmp(buf, content + done, (size_t)got) != 0)
			same = 0;
		else
			done += (size_t)got;
	}
	close(fd);
	return same;
}

static int
appended_before(struct tpl *p, const char *path, const char *owner,
		const char *group, const char *perms, const char *content,
		size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	const char *parts[] = { path, owner, group, perms };

	for (size_t i = 0; ok && i < 4; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1) == 1;
	ok = ok && EVP_DigestUpdate(ctx, content, len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == sizeof(md);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return 0;	/* unknown: append, as consul-template would */
	if (p->nappending < TPL_MAX_APPENDS)
		memcpy(p->appending[p->nappending++], md, sizeof(md));
	for (size_t i = 0; i < p->nappended; i++)
		if (memcmp(p->appended[i], md, sizeof(md)) == 0)
			return 1;
	return 0;
}

static int
tpl_write_file(void *arg, const char *path, const char *owner,
	       const char *group, const char *perms, const char *content,
	       size_t len, int append, char *err, size_t errlen)
{
	struct tpl *p = arg;
	unsigned mode = (unsigned)strtoul(perms, NULL, 8);
	uid_t uid;
	gid_t gid;
	int rc;

	if (p->t->dry) {
		printf("==> %s (writeToFile%s, %s, %zu bytes, not written)\n", path,
		       append ? " append" : "", perms, len);
		return 0;
	}
	rc = files_owner_ids(owner, group, &uid, &gid, err, errlen);
	/* As consul-template's writeToFile: missing parents are made. */
	if (rc == 0)
		rc = files_make_parents(path, err, errlen);
	if (rc == 0 && append) {
		if (appended_before(p, path, owner, group, perms, content, len) &&
		    ends_with(path, content, len)) {
			log_debug("templates", "%s: %s: same content as the last "
					       "render; not appended again", p->name, path);
			return 0;
		}
		rc = files_append(path, content, len, mode, uid, gid, err, errlen);
		if (rc == 0)
			rc = FILES_WRITTEN;
	} else if (rc == 0) {
		rc = files_write_atomic(path, content, len, mode, uid, gid, err,
					errlen);
	}
	if (rc == FILES_WRITTEN) {
		p->t->stats.writes++;
		log_info("templates", "%s: wrote %s (writeToFile)", p->name, path);
		changed(p, path);
	}
	return rc < 0 ? rc : 0;
}

static void
report(struct tpl *p, const char *err)
{
	if (strcmp(p->last_err, err) == 0)
		return;	/* already said; say it again only when it changes */
	snprintf(p->last_err, sizeof(p->last_err), "%s", err);
	p->t->stats.errors++;
	log_error("templates", "%s: %s; %s kept as it was", p->name, err,
		  p->cfg->destination);
}

static void
render_one(struct tpl *p)
{
	const struct template_def *tc = p->cfg;
	struct tmpl_env env = {
		.arg = p,
		.fetch = tpl_fetch,
		.write_file = tpl_write_file,
		.error_on_missing_key = tc->error_on_missing_key,
	};
	char err[ERR_MAX], *out = NULL;
	size_t len = 0;
	uid_t uid;
	gid_t gid;
	int rc;

	if (p->parsed == NULL)
		return;
	err[0] = '\0';
	p->nappending = 0;
	rc = tmpl_execute(p->parsed, &env, &out, &len, err, sizeof(err));
	if (rc == 0) {
		memcpy(p->appended, p->appending, sizeof(p->appended));
		p->nappended = p->nappending;
	}
	p->pending = rc == TMPL_PENDING;
	if (rc == TMPL_PENDING) {
		p->t->stats.pending++;
		return;
	}
	p->t->stats.renders++;
	if (rc < 0) {
		p->t->batch_errors++;
		report(p, err);
		return;
	}
	if (p->t->dry) {
		printf("==> %s (%zu bytes, mode %04o)\n", tc->destination, len, tc->mode);
		fwrite(out, 1, len, stdout);
		if (len && out[len - 1] != '\n')
			putchar('\n');
		fflush(stdout);
		memset(out, 0, len);
		free(out);
		return;
	}
	rc = files_owner_ids(tc->owner, tc->group, &uid, &gid, err, sizeof(err));
	if (rc == 0 && tc->create_dest_dirs)
		rc = files_make_parents(tc->destination, err, sizeof(err));
	if (rc == 0) {
		struct files_set *set = files_set_new();
		rc = set ? files_set_add(set, tc->destination, out, len, tc->mode, uid,
					 gid, tc->backup, err, sizeof(err))
			 : -ENOMEM;
		if (rc == FILES_WRITTEN)
			rc = files_set_commit(set, err, sizeof(err)) < 0 ? -EIO
									   : FILES_WRITTEN;
		files_set_free(set);
	}
	if (out) {
		memset(out, 0, len);
		free(out);
	}
	if (rc < 0) {
		p->t->batch_errors++;
		report(p, err);
		return;
	}
	p->last_err[0] = '\0';
	p->rendered_ms = wall_ms();
	if (rc == FILES_WRITTEN) {
		p->written_ms = p->rendered_ms;
		p->t->stats.writes++;
		log_info("templates", "%s: rendered %s", p->name, tc->destination);
		changed(p, tc->destination);
	} else {
		log_debug("templates", "%s: %s unchanged", p->name, tc->destination);
	}
}

static void
on_batch(uv_timer_t *timer)
{
	struct templates *t = timer->data;

	t->stats.pending = 0;
	t->batch_errors = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->tpls[i].parsed == NULL)
			t->batch_errors++;
		render_one(&t->tpls[i]);
	}
	if (t->stats.pending == 0 && t->ev.done)
		t->ev.done(t->ev.arg, t->batch_errors);
}

int
templates_get_item(const struct templates *t, size_t i,
		   struct templates_item *it)
{
	const struct tpl *p;

	if (i >= t->n)
		return -ENOENT;
	p = &t->tpls[i];
	it->name = p->name;
	it->destination = p->cfg->destination;
	it->last_error = p->parsed == NULL && p->last_err[0] == '\0'
				 ? "not parsed" : p->last_err;
	it->rendered_ms = p->rendered_ms;
	it->written_ms = p->written_ms;
	it->pending = p->pending;
	return 0;
}

void
templates_schedule(struct templates *t)
{
	if (!uv_is_active((uv_handle_t *)&t->batch))
		uv_timer_start(&t->batch, on_batch, 0, 0);
}

int
templates_new(uv_loop_t *loop, struct deps *deps, struct certs *certs,
	      const struct templates_opts *cfg, int dry,
	      const struct templates_events *ev, struct templates **out)
{
	struct templates *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->tpls = calloc(cfg->n ? cfg->n : 1, sizeof(*t->tpls));
	if (t->tpls == NULL) {
		free(t);
		return -ENOMEM;
	}
	t->loop = loop;
	t->deps = deps;
	t->certs = certs;
	t->cfg = cfg;
	t->n = cfg->n;
	t->dry = dry;
	if (ev)
		t->ev = *ev;
	uv_timer_init(loop, &t->batch);
	t->batch.data = t;
	for (size_t i = 0; i < t->n; i++) {
		struct tpl *p = &t->tpls[i];
		p->t = t;
		p->cfg = &cfg->defs[i];
		if (p->cfg->source)
			snprintf(p->name, sizeof(p->name), "%s", p->cfg->source);
		else
			snprintf(p->name, sizeof(p->name), "templates[%zu]", i);
		/* A certificate it issues is named after the template, or
		 * its destination's file name (the engine adds #2, #3 to
		 * keep names unique). */
		const char *base = strrchr(p->cfg->destination, '/');
		snprintf(p->cert_name, sizeof(p->cert_name), "%s",
			 p->cfg->name ? p->cfg->name
				      : base ? base + 1 : p->cfg->destination);
	}
	*out = t;
	return 0;
}

/* Read and parse template P; 0, or a negative errno and the cause in WHY. */
static int
load_one(struct tpl *p, char *why, size_t whylen)
{
	const struct template_def *tc = p->cfg;
	char *text = NULL;
	size_t len;
	int rc;

	if (tc->source) {
		rc = files_read(tc->source, TPL_MAX, &text, &len, why, whylen);
		if (rc != 0)
			return rc < 0 ? rc : -EIO;
	}
	rc = tmpl_parse(p->name, text ? text : tc->contents, tc->left_delimiter,
			tc->right_delimiter, &p->parsed, why, whylen);
	free(text);
	return rc == 0 ? 0 : rc < 0 ? rc : -EINVAL;
}

int
templates_load(struct templates *t, int strict, char *err, size_t errlen)
{
	t->loaded = 1;
	for (size_t i = 0; i < t->n; i++) {
		char why[ERR_MAX];
		int rc = load_one(&t->tpls[i], why, sizeof(why));

		if (rc == 0)
			continue;
		if (strict) {
			snprintf(err, errlen, "%s", why);
			return rc;
		}
		report(&t->tpls[i], why);
	}
	return 0;
}

void
templates_start(struct templates *t)
{
	char err[8];

	if (!t->loaded)
		templates_load(t, 0, err, sizeof(err));
	templates_schedule(t);
}

void
templates_get_stats(const struct templates *t, struct templates_stats *st)
{
	*st = t->stats;
}

static void
on_closed(uv_handle_t *h)
{
	struct templates *t = h->data;

	for (size_t i = 0; i < t->n; i++)
		tmpl_free(t->tpls[i].parsed);
	free(t->tpls);
	free(t);
}

void
templates_close(struct templates *t)
{
	uv_timer_stop(&t->batch);
	uv_close((uv_handle_t *)&t->batch, on_closed);
}
