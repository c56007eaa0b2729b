/*
 * certs: the declarative certificates: section.
 *
 * DESIGN / invariants:
 *  - One struct cert per configuration entry, with one timer and at most
 *    one Vault call in flight.  Its memory is freed in the timer's close
 *    callback.
 *  - The files of a certificate are written as one set from one Vault
 *    response: staged and fsync'd first, then renamed in quick succession
 *    (or swapped whole through atomic_dir's ..data link).  A verification
 *    failure writes nothing: the old files stay and the issuance is
 *    retried with backoff.
 *  - The renewal time is derived from the certificate itself (its
 *    validity window and a hash of its serial), so it is stable across
 *    restarts without a state file, and spread across a fleet.
 *  - Private keys never reach a log line; key buffers are cleansed before
 *    they are freed.
 *  - After a set is written, the hooks named in on_change hear of the
 *    files whose bytes changed (paths, serial and NotAfter; never the
 *    material), once per issuance.  Adopting files from disk changes
 *    nothing and tells no one.
 */
#include "certs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "backoff.h"
#include "buf.h"
#include "config.h"
#include "files.h"
#include "hooks.h"
#include "log.h"
#include "revoke.h"
#include "vault.h"
#include "wallclock.h"
#include "window.h"
#include "x509.h"

#define PEM_MAX (1024 * 1024)
#define EXPIRED_LOG_MS 60000	/* an expired certificate: one error a minute */
#define RECOVERY_SPREAD_MS 30000	/* due renewals after an outage: over this */

struct cert {
	struct certs *m;
	const struct config_cert *cfg;
	uv_timer_t timer;
	struct vault_call *call;
	char *pending_key;	/* sign mode: the key of the CSR in flight */
	uv_work_t work;		/* sign mode: the key being generated */
	int working;
	char *work_key;
	char work_err[256];
	char key_type[16];	/* copies for the worker thread: the config */
	unsigned key_bits;	/* may be freed by a reload meanwhile */
	char serial[128];
	int64_t not_after_ms;
	int64_t renew_at_ms;
	int64_t expired_logged_ms;	/* last "expired" error, for the rate */
	unsigned failures;
	int waiting;		/* due, but no token yet */
	int forced;		/* certagent rotate / SIGUSR1: renew now */
	int given_up;		/* CERTS_ONCE: out of retries */
	int settled;		/* held a certificate, or gave up, once */
};

struct certs {
	uv_loop_t *loop;
	struct vault *vault;
	struct auth *auth;
	struct hooks *hooks;
	struct revq *revq;
	const struct config *cfg;
	struct cert *certs;
	size_t n;
	size_t open_handles;	/* timers, and key generations in flight */
	size_t n_settled;	/* certs whose first outcome is known */
	int closing;
	struct certs_stats stats;
	unsigned flags;
	certs_event_cb event;
	void *event_arg;
};

static void issue(struct cert *c);

int64_t
certs_renew_time(int64_t not_before_ms, int64_t not_after_ms,
		 const char *serial, double fraction, double jitter)
{
	uint64_t r = 0xcbf29ce484222325ULL;	/* FNV-1a, then splitmix64's mix */
	double life = (double)(not_after_ms - not_before_ms), u;

	for (const char *p = serial; *p; p++)
		r = (r ^ (unsigned char)*p) * 0x100000001b3ULL;
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
	r ^= r >> 31;
	u = (double)(r >> 11) / (double)(1ULL << 53);	/* [0, 1) */
	return not_before_ms +
	       (int64_t)(life * (fraction + jitter * (2.0 * u - 1.0)));
}

static void
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void on_timer(uv_timer_t *t);

static void
schedule_at(struct cert *c, int64_t when_ms)
{
	int64_t delay = when_ms - wall_ms();

	uv_timer_start(&c->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* C's first outcome is known: counted once, so certs_settled() is O(1). */
static void
settle(struct cert *c)
{
	if (!c->settled) {
		c->settled = 1;
		c->m->n_settled++;
	}
}

static void
tell(struct certs *m)
{
	if (m->event)
		m->event(m->event_arg);
}

/*
 * When to renew a certificate valid from NB to NA (unix ms) with SERIAL:
 * renew_at of its lifetime (or renew_before its end), moved by up to
 * +-jitter of the lifetime by a hash of the serial, then into the
 * rotate_window unless that would come too close to the end.  The same
 * certificate always gets the same time, so a restart neither advances
 * nor delays a renewal.
 */
static int64_t
plan_renewal(const struct cert *c, int64_t nb, int64_t na, const char *serial)
{
	const struct config_cert *cc = c->cfg;
	int64_t life = na - nb, at;
	double frac = cc->renew_at > 0 ? cc->renew_at : CERTS_RENEW_AT;

	if (life <= 0)
		return nb;
	if (cc->renew_before_ms) {
		if ((int64_t)cc->renew_before_ms < life)
			frac = 1.0 - (double)cc->renew_before_ms / (double)life;
		else
			frac = 0.5;	/* renew_before longer than the lifetime */
	}
	at = certs_renew_time(nb, na, serial, frac, cc->jitter);
	/* renew_before plus jitter may reach past the end; keep 1% of it. */
	if (at > na - life / 100)
		at = na - life / 100;
	if (at < nb)
		at = nb;
	if (cc->rotate_window) {
		struct window w;
		char err[160];
		int64_t margin = cc->rotate_margin_ms ? (int64_t)cc->rotate_margin_ms
						      : life / 10;
		if (window_parse(cc->rotate_window, &w, err, sizeof(err)) == 0)
			at = window_renew_time(&w, at, na - margin);
	}
	return at;
}

static int
expired(const struct cert *c, int64_t now)
{
	return c->serial[0] && now >= c->not_after_ms;
}

static void
retry_later(struct cert *c, const char *why)
{
	const struct config *cfg = c->m->cfg;
	uint64_t delay = backoff_delay(cfg->retry_min_backoff_ms,
				       cfg->retry_max_backoff_ms, c->failures);
	int64_t now = wall_ms();

	c->failures++;
	c->m->stats.failures++;
	if ((c->m->flags & CERTS_ONCE) && c->failures > cfg->once_max_attempts) {
		log_error("certs", "%s: %s; giving up after %u attempt%s", c->cfg->name,
			  why, c->failures, c->failures == 1 ? "" : "s");
		c->given_up = 1;
		settle(c);
		tell(c->m);
		return;
	}
	if (expired(c, now)) {
		/* An outage past expiry: say so once a minute, not per retry. */
		if (now - c->expired_logged_ms >= EXPIRED_LOG_MS) {
			char when[32];
			fmt_time(c->not_after_ms, when, sizeof(when));
			log_error("certs", "%s: EXPIRED at %s (serial %s) and no "
					   "replacement yet: %s; still trying",
				  c->cfg->name, when, c->serial, why);
			c->expired_logged_ms = now;
		} else {
			log_debug("certs", "%s: %s; next try in %.1fs", c->cfg->name,
				  why, (double)delay / 1000);
		}
	} else {
		log_error("certs", "%s: %s; old files kept, next try in %.1fs",
			  c->cfg->name, why, (double)delay / 1000);
		/* Wake at the expiry to report it on time. */
		if (c->serial[0] && now + (int64_t)delay > c->not_after_ms)
			delay = (uint64_t)(c->not_after_ms - now);
	}
	uv_timer_start(&c->timer, on_timer, delay, 0);
}

/* The on-disk path of file F (inside atomic_dir when set). */
static void
file_path(const struct cert *c, const struct config_file *f, char *buf,
	  size_t len)
{
	if (c->cfg->atomic_dir)
		snprintf(buf, len, "%s/%s", c->cfg->atomic_dir, f->path);
	else
		snprintf(buf, len, "%s", f->path);
}

static const struct config_file *
find_file(const struct config_cert *cc, const char *kind)
{
	for (size_t i = 0; i < cc->n_files; i++)
		if (strcmp(cc->files[i].name, kind) == 0)
			return &cc->files[i];
	return NULL;
}

/* Read file KIND of C, or NULL if it is not configured or unreadable. */
static char *
read_kind(const struct cert *c, const char *kind)
{
	const struct config_file *f = find_file(c->cfg, kind);
	char path[4096], err[512], *buf = NULL;
	size_t len;

	if (f == NULL)
		return NULL;
	file_path(c, f, path, sizeof(path));
	if (files_read(path, PEM_MAX, &buf, &len, err, sizeof(err)) != 0)
		return NULL;
	return buf;
}

static void
names_of(const struct config_cert *cc, struct x509_names *n)
{
	n->cn = cc->common_name;
	n->dns = (const char *const *)cc->alt_names;
	n->ndns = cc->n_alt_names;
	n->ips = (const char *const *)cc->ip_sans;
	n->nips = cc->n_ip_sans;
}

/* Note a certificate now on disk, and schedule its renewal. */
static void
hold(struct cert *c, const char *cert_pem, const char *verb)
{
	struct x509_info info;
	char err[256], exp[32], ren[32];

	if (x509_cert_info(cert_pem, &info, err, sizeof(err)) != 0)
		return;
	settle(c);
	snprintf(c->serial, sizeof(c->serial), "%s", info.serial);
	c->not_after_ms = info.not_after * 1000;
	c->renew_at_ms = plan_renewal(c, info.not_before * 1000, c->not_after_ms,
				      info.serial);
	c->failures = 0;
	c->forced = 0;
	c->expired_logged_ms = 0;
	fmt_time(c->not_after_ms, exp, sizeof(exp));
	fmt_time(c->renew_at_ms, ren, sizeof(ren));
	log_info("certs", "%s: %s serial %s, expires %s, renews at %s",
		 c->cfg->name, verb, info.serial, exp, ren);
	schedule_at(c, c->renew_at_ms);
	tell(c->m);
}

/*
 * Is what is on disk a valid, not yet due certificate for this entry?
 * Then keep it: no issuance on restart.
 */
static int
adopt(struct cert *c)
{
	const struct config_cert *cc = c->cfg;
	char *cert = read_kind(c, "cert"), *key = read_kind(c, "key");
	char *bundle = NULL, *chain = read_kind(c, "chain");
	char *anchor = NULL, err[512];
	struct x509_names names;
	struct x509_info info;
	int ok = 0;

	if (cert == NULL || key == NULL) {
		bundle = read_kind(c, "bundle");
		if (cert == NULL && bundle)
			cert = strdup(bundle);
		if (key == NULL && bundle)
			key = strdup(bundle);
	}
	if (cert == NULL || key == NULL) {
		log_info("certs", "%s: no certificate on disk yet", cc->name);
		goto out;
	}
	if (cc->trust_anchor) {
		size_t len;
		if (files_read(cc->trust_anchor, PEM_MAX, &anchor, &len, err,
			       sizeof(err)) != 0)
			anchor = NULL;
	}
	if (anchor == NULL)
		anchor = read_kind(c, "ca");
	names_of(cc, &names);
	if (chain == NULL && bundle && x509_count_certs(bundle) > 1)
		chain = strdup(bundle);
	/* Without the intermediates on disk the chain cannot be checked
	 * offline; the key, the validity and the names still are. */
	if (x509_check_bundle(cert, key, chain, chain ? anchor : NULL, &names, 0,
			      err, sizeof(err)) != 0) {
		log_warn("certs", "%s: the files on disk will be replaced: %s",
			 cc->name, err);
		goto out;
	}
	if (x509_cert_info(cert, &info, err, sizeof(err)) != 0)
		goto out;
	int64_t renew = plan_renewal(c, info.not_before * 1000,
				     info.not_after * 1000, info.serial);
	if (wall_ms() >= renew) {
		log_info("certs", "%s: serial %s on disk is due for renewal",
			 cc->name, info.serial);
		/* Still what is served until a replacement is written. */
		snprintf(c->serial, sizeof(c->serial), "%s", info.serial);
		c->not_after_ms = info.not_after * 1000;
		c->renew_at_ms = renew;
		goto out;
	}
	hold(c, cert, "kept the certificate on disk,");
	c->m->stats.adopted++;
	ok = 1;
out:
	free(cert);
	secret_free(key);
	secret_free(bundle);
	free(chain);
	free(anchor);
	return ok;
}

static int
resolve_owner(const struct config_file *f, uid_t *uid, gid_t *gid, char *err,
	      size_t errlen)
{
	char why[256];
	int rc = files_owner_ids(f->owner, f->group, uid, gid, why, sizeof(why));

	if (rc != 0)
		snprintf(err, errlen, "%s: %s", f->path, why);
	return rc;
}

/* Append PEM text S (with a final newline) to a growing buffer. */
static int
append_pem(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s), nl = n && s[n - 1] != '\n';
	char *p = realloc(*buf, *len + n + nl + 1);

	if (p == NULL)
		return -ENOMEM;
	memcpy(p + *len, s, n);
	*len += n;
	if (nl)
		p[(*len)++] = '\n';
	p[*len] = '\0';
	*buf = p;
	return 0;
}

struct material {
	const char *cert, *key, *chain, *ca;
};

/* The bytes of file F: one part, or a bundle's parts in order. */
static char *
compose(const struct config_file *f, const struct material *mt, size_t *len)
{
	const char *single[1] = { f->name };
	const char *const *parts = f->n_parts ? (const char *const *)f->parts : single;
	size_t n = f->n_parts ? f->n_parts : 1;
	char *buf = NULL;

	*len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = strcmp(parts[i], "cert") == 0	 ? mt->cert
				: strcmp(parts[i], "key") == 0	 ? mt->key
				: strcmp(parts[i], "chain") == 0 ? mt->chain
								 : mt->ca;
		if (p && *p && append_pem(&buf, len, p) != 0) {
			secret_free(buf);
			return NULL;
		}
	}
	if (buf == NULL)
		buf = calloc(1, 1);
	return buf;
}

static void
free_paths(char **paths)
{
	for (size_t i = 0; paths && paths[i]; i++)
		free(paths[i]);
	free(paths);
}

/*
 * Write every file of C from one issuance.  0 or <0 with ERR.  *PATHS
 * gets the paths that changed (NULL-terminated, NULL if none or out of
 * memory); free_paths() frees them.
 */
static int
write_set(struct cert *c, const struct material *mt, int *changed,
	  char ***paths, char *err, size_t errlen)
{
	const struct config_cert *cc = c->cfg;
	size_t n = cc->n_files;
	char **data = calloc(n, sizeof(*data));
	size_t *lens = calloc(n, sizeof(*lens));
	unsigned *modes = calloc(n, sizeof(*modes));
	const char **names = calloc(n, sizeof(*names));
	struct files_set *set = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int rc = -ENOMEM;

	*changed = 0;
	*paths = NULL;
	if (!data || !lens || !modes || !names) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		data[i] = compose(&cc->files[i], mt, &lens[i]);
		if (data[i] == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		modes[i] = cc->files[i].mode;
		names[i] = cc->files[i].path;
	}
	if (cc->atomic_dir) {
		/* One owner for the whole directory: the first one set. */
		for (size_t i = 0; i < n; i++) {
			if (cc->files[i].owner || cc->files[i].group) {
				rc = resolve_owner(&cc->files[i], &uid, &gid, err, errlen);
				if (rc != 0)
					goto out;
				break;
			}
		}
		rc = files_write_atomic_dir(cc->atomic_dir, n, names,
					    (const char *const *)data, lens, modes,
					    uid, gid, err, errlen);
		if (rc >= 0) {
			*changed = rc == FILES_WRITTEN ? (int)n : 0;
			rc = 0;
		}
		if (*changed)
			*paths = calloc(n + 1, sizeof(**paths));
		for (size_t i = 0; *paths && i < n; i++) {
			char path[4096];
			file_path(c, &cc->files[i], path, sizeof(path));
			(*paths)[i] = strdup(path);
			if ((*paths)[i] == NULL)
				break;	/* the list ends here; hooks hear of fewer */
		}
		goto out;
	}
	set = files_set_new();
	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		file_path(c, &cc->files[i], path, sizeof(path));
		rc = resolve_owner(&cc->files[i], &uid, &gid, err, errlen);
		if (rc == 0)
			rc = files_set_add(set, path, data[i], lens[i], modes[i], uid,
					   gid, cc->files[i].backup, err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = files_set_commit(set, err, errlen);
	if (rc >= 0) {
		*changed = rc;
		rc = 0;
	}
	if (*changed)
		*paths = calloc(files_set_count(set) + 1, sizeof(**paths));
	for (size_t i = 0; *paths && i < files_set_count(set); i++) {
		(*paths)[i] = strdup(files_set_path(set, i));
		if ((*paths)[i] == NULL)
			break;
	}
out:
	for (size_t i = 0; data && i < n; i++)
		secret_free(data[i]);
	free(data);
	free(lens);
	free(modes);
	free(names);
	files_set_free(set);
	return rc;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Split Vault's CA material into the chain file's intermediates and the
 * trust anchor.  ca_chain runs from the issuing CA upwards and may lack
 * the root (it holds whatever the intermediate was set-signed with): its
 * last certificate is the top of what Vault knows, and becomes the
 * anchor; the ones below it are the chain.  A one-element chain is both.
 */
static int
split_ca(const cJSON *data, char **chain, char **anchor)
{
	const cJSON *ca_chain = cJSON_GetObjectItemCaseSensitive(data, "ca_chain");
	const char *issuing = json_str(data, "issuing_ca");
	int n = cJSON_IsArray(ca_chain) ? cJSON_GetArraySize(ca_chain) : 0;
	size_t clen = 0, alen = 0;

	*chain = NULL;
	*anchor = NULL;
	if (n == 0) {
		if (issuing == NULL)
			return -ENOENT;
		if (append_pem(chain, &clen, issuing) || append_pem(anchor, &alen, issuing))
			return -ENOMEM;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(ca_chain, i);
		if (!cJSON_IsString(e))
			continue;
		if (i == n - 1 && n > 1) {
			if (append_pem(anchor, &alen, e->valuestring))
				return -ENOMEM;
		} else {
			if (append_pem(chain, &clen, e->valuestring))
				return -ENOMEM;
			if (n == 1 && append_pem(anchor, &alen, e->valuestring))
				return -ENOMEM;
		}
	}
	return *anchor ? 0 : -ENOENT;
}

/* Revoke the serial C holds now at AT_MS. */
static void
queue_revocation(struct cert *c, int64_t at_ms)
{
	char mount[256];

	if (revq_mount_of(c->cfg->path, mount, sizeof(mount)) != 0 ||
	    revq_add(c->m->revq, c->cfg->name, mount, c->serial, at_ms) != 0)
		log_error("certs", "%s: cannot queue serial %s for revocation",
			  c->cfg->name, c->serial);
}

static void
on_issued(void *arg, const struct vault_response *r)
{
	struct cert *c = arg;
	const struct config_cert *cc = c->cfg;
	const cJSON *data;
	char *chain = NULL, *anchor = NULL, *pinned = NULL, *key = NULL;
	const char *cert;
	char err[1024], **paths = NULL;
	struct x509_names names;
	struct material mt;
	int changed = 0;

	c->call = NULL;
	key = c->pending_key;
	c->pending_key = NULL;
	if (r->err == VAULT_ECANCELED)
		goto out;
	if (r->err != VAULT_OK) {
		if (r->err == VAULT_EHTTP && r->status == 403)
			auth_token_rejected(c->m->auth, auth_token(c->m->auth));
		retry_later(c, r->message);
		goto out;
	}
	data = cJSON_GetObjectItemCaseSensitive(r->json, "data");
	cert = json_str(data, "certificate");
	if (cc->mode == CERT_MODE_ISSUE) {
		const char *k = json_str(data, "private_key");
		secret_free(key);
		key = k ? strdup(k) : NULL;
	}
	if (cert == NULL || key == NULL) {
		retry_later(c, "Vault's answer has no certificate or private key");
		goto out;
	}
	if (split_ca(data, &chain, &anchor) != 0) {
		retry_later(c, "Vault's answer has no issuing_ca or ca_chain");
		goto out;
	}
	if (cc->trust_anchor) {
		size_t len;
		if (files_read(cc->trust_anchor, PEM_MAX, &pinned, &len, err,
			       sizeof(err)) != 0) {
			retry_later(c, err);
			goto out;
		}
	}
	names_of(cc, &names);
	if (x509_check_bundle(cert, key, chain, pinned ? pinned : anchor, &names, 0,
			      err, sizeof(err)) != 0) {
		char why[1200];
		snprintf(why, sizeof(why), "the certificate Vault issued fails its "
					   "check: %s",
			 err);
		retry_later(c, why);
		goto out;
	}
	mt.cert = cert;
	mt.key = key;
	mt.chain = chain;
	mt.ca = pinned ? pinned : anchor;
	if (write_set(c, &mt, &changed, &paths, err, sizeof(err)) != 0) {
		retry_later(c, err);
		goto out;
	}
	c->m->stats.issued++;
	log_info("certs", "%s: wrote %d file%s from one issuance", cc->name,
		 changed, changed == 1 ? "" : "s");
	if (changed && c->serial[0] && cc->revoke_previous_after_ms && c->m->revq)
		queue_revocation(c, wall_ms() + (int64_t)cc->revoke_previous_after_ms);
	hold(c, cert, "issued");
	if (changed && c->m->hooks) {	/* exec mode hears of every change */
		size_t n = 0;
		while (paths && paths[n])
			n++;
		struct hooks_change ch = {
			.paths = (const char *const *)paths,
			.n_paths = n,
			.serial = c->serial,
			.not_after = c->not_after_ms / 1000,
			.wait = &cc->wait,
		};
		hooks_notify(c->m->hooks, cc->on_change, cc->n_on_change, &ch);
	}
out:
	free_paths(paths);
	secret_free(key);
	free(chain);
	free(anchor);
	free(pinned);
}

static char *
join_list(char **items, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0, off = 0; i < n; i++) {
		int w = snprintf(s + off, len - off, "%s%s", i ? "," : "", items[i]);
		off += (size_t)w;
	}
	return s;
}

static const char *const key_type_names[] = { "ec", "rsa", "ed25519" };

static void free_if_done(struct certs *m);

/*
 * Sign mode: a new key per issuance, made on libuv's thread pool.  An
 * RSA key takes hundreds of milliseconds; made on the loop, a thousand
 * of them would stall timers, signals and the health endpoint for
 * minutes.
 */
static void
keygen_work(uv_work_t *w)
{
	struct cert *c = w->data;

	if (x509_generate_key(c->key_type, c->key_bits, &c->work_key, c->work_err,
			      sizeof(c->work_err)) != 0)
		c->work_key = NULL;
}

static void
keygen_done(uv_work_t *w, int status)
{
	struct cert *c = w->data;
	struct certs *m = c->m;

	c->working = 0;
	m->open_handles--;
	if (m->closing || status != 0) {
		secret_free(c->work_key);
		c->work_key = NULL;
		free_if_done(m);
		return;
	}
	if (c->work_key == NULL) {
		retry_later(c, c->work_err);
		return;
	}
	secret_free(c->pending_key);
	c->pending_key = c->work_key;
	c->work_key = NULL;
	issue(c);
}

static void
issue(struct cert *c)
{
	const struct config_cert *cc = c->cfg;
	cJSON *o = NULL;
	char *alt = NULL, *ips = NULL, *body = NULL, err[512], ttl[32];

	c->waiting = 0;
	if (c->given_up || c->working)
		return;
	if (c->m->flags & CERTS_DRY) {
		printf("==> certificate %s: would request %s for %s\n", cc->name,
		       cc->path, cc->common_name);
		fflush(stdout);
		goto out;
	}
	if (auth_token(c->m->auth) == NULL) {
		c->waiting = 1;
		log_debug("certs", "%s: due; waiting for a Vault token", cc->name);
		goto out;
	}
	if (cc->mode == CERT_MODE_SIGN && c->pending_key == NULL) {
		snprintf(c->key_type, sizeof(c->key_type), "%s",
			 key_type_names[cc->key_type]);
		c->key_bits = (unsigned)cc->key_bits;
		c->work.data = c;
		if (uv_queue_work(c->m->loop, &c->work, keygen_work, keygen_done) != 0) {
			retry_later(c, "cannot start generating a key");
			goto out;
		}
		c->working = 1;
		c->m->open_handles++;
		goto out;
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		goto oom;
	if (!cJSON_AddStringToObject(o, "common_name", cc->common_name))
		goto oom;
	if (cc->n_alt_names) {
		alt = join_list(cc->alt_names, cc->n_alt_names);
		if (alt == NULL || !cJSON_AddStringToObject(o, "alt_names", alt))
			goto oom;
	}
	if (cc->n_ip_sans) {
		ips = join_list(cc->ip_sans, cc->n_ip_sans);
		if (ips == NULL || !cJSON_AddStringToObject(o, "ip_sans", ips))
			goto oom;
	}
	if (cc->ttl_ms) {
		snprintf(ttl, sizeof(ttl), "%llus", (unsigned long long)(cc->ttl_ms / 1000));
		if (!cJSON_AddStringToObject(o, "ttl", ttl))
			goto oom;
	}
	if (!cJSON_AddStringToObject(o, "format", "pem"))
		goto oom;
	if (cc->mode == CERT_MODE_SIGN) {
		struct x509_names names;
		char *csr = NULL;

		names_of(cc, &names);
		if (x509_make_csr(c->pending_key, &names, &csr, err, sizeof(err)) != 0) {
			secret_free(c->pending_key);
			c->pending_key = NULL;
			retry_later(c, err);
			goto out;
		}
		int ok = cJSON_AddStringToObject(o, "csr", csr) != NULL;
		free(csr);
		if (!ok)
			goto oom;
	}
	body = cJSON_PrintUnformatted(o);
	if (body == NULL)
		goto oom;
	/* One round over the addresses; the retries are ours, so that an
	 * expired certificate is reported on time and --once is bounded. */
	struct vault_req req = {
		.method = "POST",
		.path = cc->path,
		.body = body,
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)(c->m->cfg->n_vault_addresses
						   ? c->m->cfg->n_vault_addresses : 1),
	};
	log_info("certs", "%s: requesting a certificate from %s", cc->name, cc->path);
	if (vault_request(c->m->vault, &req, on_issued, c, &c->call) != 0) {
		c->call = NULL;
		secret_free(c->pending_key);
		c->pending_key = NULL;
		retry_later(c, "cannot start the request");
	}
	goto out;
oom:
	retry_later(c, "out of memory");
out:
	cJSON_Delete(o);
	free(alt);
	free(ips);
	free(body);
}

static void
on_timer(uv_timer_t *t)
{
	struct cert *c = t->data;

	/* Judge on the wall clock: a timer can fire early after a clock step. */
	if (c->renew_at_ms && c->failures == 0 && !c->forced &&
	    wall_ms() < c->renew_at_ms) {
		schedule_at(c, c->renew_at_ms);
		return;
	}
	if (c->call == NULL)
		issue(c);
}

int
certs_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	  struct hooks *hooks, struct revq *revq, const struct config *cfg,
	  unsigned flags, certs_event_cb event, void *arg, struct certs **out)
{
	struct certs *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	m->loop = loop;
	m->vault = vault;
	m->auth = auth;
	m->hooks = hooks;
	m->revq = revq;
	m->cfg = cfg;
	m->flags = flags;
	m->event = event;
	m->event_arg = arg;
	m->n = cfg->n_certs;
	m->certs = calloc(m->n ? m->n : 1, sizeof(*m->certs));
	if (m->certs == NULL) {
		free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = &m->certs[i];
		c->m = m;
		c->cfg = &cfg->certs[i];
		uv_timer_init(loop, &c->timer);
		c->timer.data = c;
		m->open_handles++;
	}
	*out = m;
	return 0;
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Temp files a killed predecessor left beside our files are ours: remove
 * them, one directory scan per directory however many files it holds.
 */
static void
remove_stale_temps(struct certs *m)
{
	size_t n = 0, cap = 0;
	char **paths = NULL;

	for (size_t i = 0; i < m->n; i++) {
		const struct config_cert *cc = m->certs[i].cfg;
		for (size_t j = 0; !cc->atomic_dir && j < cc->n_files; j++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				char **p = realloc(paths, ncap * sizeof(*p));
				if (p == NULL)
					goto out;
				paths = p;
				cap = ncap;
			}
			paths[n++] = cc->files[j].path;
		}
	}
	if (n == 0)
		goto out;
	qsort(paths, n, sizeof(*paths), cmp_path);
	const char **names = calloc(n, sizeof(*names));
	char *done = calloc(n, 1);
	if (names == NULL || done == NULL) {
		free(names);
		free(done);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		const char *slash = strrchr(paths[i], '/');
		size_t dlen = slash ? (size_t)(slash - paths[i]) : 0, k = 0;
		char dir[4096];
		snprintf(dir, sizeof(dir), "%.*s", (int)(dlen ? dlen : 1),
			 dlen ? paths[i] : "/");
		/* Paths sharing the directory's prefix sort together. */
		for (size_t j = i; j < n && strncmp(paths[j], paths[i], dlen) == 0; j++) {
			const char *s2 = strrchr(paths[j], '/');
			if (!done[j] && s2 && (size_t)(s2 - paths[j]) == dlen) {
				names[k++] = s2 + 1;
				done[j] = 1;
			}
		}
		qsort(names, k, sizeof(*names), cmp_path);
		int removed = files_remove_stale_temps_in(dir, names, k);
		if (removed > 0)
			log_info("certs", "removed %d stale temp file%s in %s", removed,
				 removed == 1 ? "" : "s", dir);
	}
	free(names);
	free(done);
out:
	free(paths);
}

void
certs_start(struct certs *m)
{
	remove_stale_temps(m);
	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = &m->certs[i];
		if (!adopt(c))
			issue(c);
	}
}

void
certs_token_ready(struct certs *m)
{
	int64_t now = wall_ms();

	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = &m->certs[i];
		if (!c->waiting || c->call)
			continue;
		/* Renewals that fell due while there was no token go out spread
		 * over a window, not all in one second, when there is still
		 * time; a missing or expired certificate is issued at once. */
		if (c->serial[0] && !expired(c, now) && !c->forced) {
			int64_t room = (c->not_after_ms - now) / 4;
			uint64_t spread = room < RECOVERY_SPREAD_MS ? (uint64_t)room
								    : RECOVERY_SPREAD_MS;
			c->waiting = 0;
			uv_timer_start(&c->timer, on_timer, backoff_uniform(0, spread), 0);
			continue;
		}
		issue(c);
	}
}

size_t
certs_rotate(struct certs *m, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = &m->certs[i];
		if (name && strcmp(c->cfg->name, name) != 0)
			continue;
		n++;
		c->forced = 1;
		c->given_up = 0;
		if (c->call == NULL) {
			log_info("certs", "%s: rotation requested; renewing now",
				 c->cfg->name);
			uv_timer_stop(&c->timer);
			issue(c);
		}
	}
	return n;
}

void
certs_get_state(const struct certs *m, struct certs_state *st)
{
	int64_t now = wall_ms();

	memset(st, 0, sizeof(*st));
	st->total = m->n;
	for (size_t i = 0; i < m->n; i++) {
		const struct cert *c = &m->certs[i];
		if (c->given_up)
			st->given_up++;
		else if (c->call || c->waiting || c->failures || c->forced ||
			 c->serial[0] == '\0' || now >= c->renew_at_ms)
			st->busy++;
		if (c->serial[0] == '\0')
			st->missing++;
		else if (expired(c, now))
			st->expired++;
		else
			st->valid++;
	}
}

int
certs_settled(const struct certs *m)
{
	return m->n_settled == m->n;
}

size_t
certs_count(const struct certs *m)
{
	return m->n;
}

void
certs_get_item(const struct certs *m, size_t i, struct certs_item *it)
{
	const struct cert *c = &m->certs[i];

	it->name = c->cfg->name;
	it->serial = c->serial;
	it->not_after_ms = c->serial[0] ? c->not_after_ms : 0;
	it->renew_at_ms = c->serial[0] ? c->renew_at_ms : 0;
	it->failures = c->failures;
}

void
certs_revoke_on_shutdown(struct certs *m)
{
	int64_t now = wall_ms();

	for (size_t i = 0; m->revq && i < m->n; i++) {
		struct cert *c = &m->certs[i];
		if (c->cfg->revoke_on_shutdown && c->serial[0] && !expired(c, now))
			queue_revocation(c, 0);
	}
}

void
certs_get_stats(const struct certs *m, struct certs_stats *st)
{
	*st = m->stats;
}

static void
free_if_done(struct certs *m)
{
	if (m->closing && m->open_handles == 0) {
		free(m->certs);
		free(m);
	}
}

static void
on_closed(uv_handle_t *h)
{
	struct cert *c = h->data;
	struct certs *m = c->m;

	m->open_handles--;
	free_if_done(m);
}

void
certs_close(struct certs *m)
{
	m->closing = 1;
	for (size_t i = 0; i < m->n; i++)
		if (m->certs[i].working)
			uv_cancel((uv_req_t *)&m->certs[i].work);	/* if not started */
	if (m->n == 0) {
		free(m->certs);
		free(m);
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = &m->certs[i];
		if (c->call)
			vault_cancel(c->call);
		secret_free(c->pending_key);
		c->pending_key = NULL;
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, on_closed);
	}
}
