/*
 * certs: the one certificate engine.  See certs.h.
 *
 * DESIGN / invariants:
 *  - One struct cert per managed certificate, with one timer and at most
 *    one Vault call in flight.  A cert is freed once its timer has closed
 *    and no key generation of its is running; the module once the last
 *    cert is freed after certs_close().
 *  - The array m->v holds the entries first, in configuration order, then
 *    the template certificates in the order they were first asked for.
 *    A reload replaces the entries and keeps the template certificates,
 *    which own everything they need (name, request, names, policy).
 *  - The renewal time comes from the certificate's policy, its validity
 *    and its serial's rank among the serials the agent holds (renew.h),
 *    so it is stable across restarts without a state file; adoption
 *    reads every new entry's files before it places any of them.
 *  - A verification failure writes nothing: the old files (or the
 *    template's old data) stay and the issuance is retried with backoff.
 *  - Private keys never reach a log line; key buffers are wiped before
 *    they are freed.
 *  - The engine reports through struct certs_events only, and never
 *    frees anything inside those callbacks' callers: the agent defers
 *    what it does about them to its own loop turn.
 */
#include "certs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "certfiles.h"
#include "files.h"
#include "log.h"
#include "revoke.h"
#include "vault.h"
#include "wallclock.h"
#include "x509.h"

#define PEM_MAX (1024 * 1024)
#define EXPIRED_LOG_MS 60000	/* an expired certificate: one error a minute */
#define RECOVERY_SPREAD_MS 30000	/* due renewals after an outage: over this */
#define NAME_MAX_LEN 256
#define TMPL_MAX_NAMES 64	/* alt_names / ip_sans of a template call */

struct cert {
	struct certs *m;
	char name[NAME_MAX_LEN];
	const struct cert_def *def;	/* an entry (borrowed); NULL: a template's */
	struct renew_policy policy;

	/* A template's certificate: its call, and the answer it renders. */
	char *key;		/* kind \n path \n sorted k=v, for matching */
	char *path;		/* the issue path (an entry's is def->path) */
	char *body;		/* the arguments as a JSON object */
	int der;		/* format=der: the answer is base64 DER */
	int key_pkcs8;		/* private_key_format=pkcs8 */
	char *names_buf;	/* storage of names below */
	const char *dns[TMPL_MAX_NAMES], *ips[TMPL_MAX_NAMES];
	struct x509_names names;	/* what the answer must carry */
	cJSON *envelope;	/* Vault's answer, the templates' data */
	char last_err[512];	/* why the last try failed */

	uv_timer_t timer;
	struct vault_call *call;
	char *pending_key;	/* sign mode: the key of the CSR in flight */
	char *passphrase;	/* encrypt.passphrase_kv: read for this issuance */
	uv_work_t work;		/* sign mode: the key being generated */
	int working;
	char *work_key;
	char work_err[256];
	char key_type[16];	/* copies for the worker thread: the config */
	unsigned key_bits;	/* may be freed by a reload meanwhile */

	char serial[128];
	int64_t not_before_ms;
	int64_t not_after_ms;
	int64_t last_renewal_ms;	/* the last issuance that got through */
	char **files;		/* where it is written: an entry's files, the
				 * destinations of the templates using it */
	size_t n_files;
	int64_t renew_at_ms;
	int64_t expired_logged_ms;	/* last "expired" error, for the rate */
	struct retry retry;
	uint64_t renewals, failures_total;
	int waiting;		/* due, but no token yet */
	int forced;		/* certagent rotate / SIGUSR1: renew now */
	int given_up;		/* CERTS_ONCE: out of retries (or a dry run) */
	int settled;		/* held a certificate, or gave up, once */
	int closing, timer_closed;
	int external;		/* used, not renewed (certs_external) */
	int fresh;		/* an entry certs_start() has not seen yet */
	int adoptable;		/* certs_start(): its files passed the checks */
	uint64_t rank_h;	/* its serial's hash, in m->ranks if ranked */
	int ranked;
	struct activation *activation;	/* activation_check: in progress */
	struct staged *staged;	/* the verified material it tests */
};

/* Verified material waiting for its activation check (lifecycle). */
struct staged {
	struct buf cert, key, chain;
	char *ca;
	struct x509_info info;
};

struct certs {
	uv_loop_t *loop;
	struct vault *vault;
	struct auth *auth;
	struct revq *revq;
	const struct certs_opts *cfg;
	struct cert **v;
	size_t n, cap;
	size_t n_entries;	/* v[0 .. n_entries) are the entries */
	size_t n_settled;	/* certs whose first outcome is known */
	size_t n_alive;		/* certs not yet freed, closing ones too */
	int closing;
	struct certs_stats stats;
	unsigned flags;
	struct certs_events ev;
	struct renew_ranks ranks;	/* the serials held, for the spread */
};

static void issue(struct cert *c);
static void read_passphrase(struct cert *c);
static void on_timer(uv_timer_t *t);
static void cert_try_free(struct cert *c);

static void
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
progress(struct certs *m)
{
	if (m->ev.progress)
		m->ev.progress(m->ev.arg);
}

static void
template_data(struct certs *m)
{
	if (m->ev.data)
		m->ev.data(m->ev.arg);
}

static const char *
req_path(const struct cert *c)
{
	return c->def ? c->def->path : c->path;
}

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

static int
expired(const struct cert *c, int64_t now)
{
	return renew_state(c->serial[0] != '\0', now, c->not_after_ms,
			   c->renew_at_ms) == RENEW_EXPIRED;
}

static void
retry_later(struct cert *c, const char *why)
{
	const struct certs_opts *cfg = c->m->cfg;
	int64_t now = wall_ms();
	uint64_t delay = renew_retry(&c->retry, &c->m->cfg->retry, now,
				     c->serial[0] ? c->not_after_ms : 0);
	int first = c->retry.failures == 1 && !c->settled;

	/* The next try reads the key's passphrase again (WHY may be about
	 * it, never quoting it). */
	secret_free(c->passphrase);
	c->passphrase = NULL;
	snprintf(c->last_err, sizeof(c->last_err), "%s", why);
	audit_cert_failed(c->m->cfg->audit, c->serial[0] ? "renewal" : "issuance",
			  c->name, req_path(c), why);
	c->failures_total++;
	c->m->stats.failures++;
	if ((c->m->flags & CERTS_ONCE) && c->retry.failures > cfg->num_retries) {
		log_error("certs", "%s: %s; giving up after %u attempt%s", c->name,
			  why, c->retry.failures, c->retry.failures == 1 ? "" : "s");
		c->given_up = 1;
		settle(c);
		progress(c->m);
		if (!c->def)
			template_data(c->m);
		return;
	}
	if (expired(c, now)) {
		/* An outage past expiry: say so once a minute, not per retry. */
		if (now - c->expired_logged_ms >= EXPIRED_LOG_MS) {
			char when[32];
			fmt_time(c->not_after_ms, when, sizeof(when));
			log_error("certs", "%s: EXPIRED at %s (serial %s) and no "
					   "replacement yet: %s; still trying",
				  c->name, when, c->serial, why);
			c->expired_logged_ms = now;
		} else {
			log_debug("certs", "%s: %s; next try in %.1fs", c->name, why,
				  (double)delay / 1000);
		}
	} else {
		log_error("certs", "%s: %s; old %s kept, next try in %.1fs",
			  c->name, why, c->def ? "files" : "data",
			  (double)delay / 1000);
	}
	uv_timer_start(&c->timer, on_timer, delay, 0);
	/* A template waiting for its first certificate learns it failed. */
	if (first && !c->def && c->envelope == NULL)
		template_data(c->m);
}

/* C holds SERIAL now: its hash takes C's place in the ranks. */
static void
rank_set(struct cert *c, const char *serial)
{
	uint64_t h = renew_hash(serial);

	if (c->ranked && c->rank_h == h)
		return;
	if (c->ranked)
		renew_ranks_remove(&c->m->ranks, c->rank_h);
	c->ranked = renew_ranks_add(&c->m->ranks, h) == 0;
	c->rank_h = h;
}

static void
rank_drop(struct cert *c)
{
	if (c->ranked)
		renew_ranks_remove(&c->m->ranks, c->rank_h);
	c->ranked = 0;
}

/* When C renews SERIAL, valid from NB to NA: stratified by its rank
 * among the agent's certificates (renew.h); out of memory, by its hash. */
static int64_t
point_of(const struct cert *c, int64_t nb, int64_t na, const char *serial)
{
	if (!c->ranked || c->rank_h != renew_hash(serial))
		return renew_point(&c->policy, nb, na, serial);
	return renew_point_u(&c->policy, nb, na,
			     renew_ranks_u(&c->m->ranks, c->rank_h));
}

/* C's renewal point as the ranks stand now: a timer set earlier may be
 * a few minutes off after certificates came or went (renew.h). */
static int64_t
next_renewal(const struct cert *c)
{
	if (c->ranked && c->serial[0] && c->retry.failures == 0 && !c->forced)
		return point_of(c, c->not_before_ms, c->not_after_ms, c->serial);
	return c->renew_at_ms;
}

/* Note a certificate now held, and schedule its renewal. */
static void
hold(struct cert *c, const struct x509_info *info, const char *verb)
{
	char exp[32], ren[32];

	settle(c);
	snprintf(c->serial, sizeof(c->serial), "%s", info->serial);
	c->not_before_ms = info->not_before * 1000;
	c->not_after_ms = info->not_after * 1000;
	rank_set(c, info->serial);
	c->renew_at_ms = point_of(c, c->not_before_ms, c->not_after_ms,
				  info->serial);
	retry_succeeded(&c->retry);
	c->forced = 0;
	c->given_up = 0;
	c->expired_logged_ms = 0;
	c->last_err[0] = '\0';
	fmt_time(c->not_after_ms, exp, sizeof(exp));
	fmt_time(c->renew_at_ms, ren, sizeof(ren));
	log_info("certs", "%s: %s serial %s, expires %s, renews at %s", c->name,
		 verb, info->serial, exp, ren);
	schedule_at(c, c->renew_at_ms);
	progress(c->m);
}

/*
 * The checks before anything is replaced, on both roads: the key matches
 * (unless KEY is NULL: a template's sign call), the validity is sane, the
 * chain verifies to ANCHOR (unless NULL) and the requested names are
 * there.  0, or -EINVAL with ERR.
 */
static int
verify(const struct cert *c, const char *cert, const char *key,
       const char *chain, const char *anchor, struct x509_info *info,
       char *err, size_t errlen)
{
	int rc = x509_check_bundle(cert, key, chain, anchor, &c->names, 0, err,
				   errlen);

	if (rc == 0)
		rc = x509_cert_info(cert, info, err, errlen);
	return rc;
}

/* verify() for what is on disk already: see x509_check_kept(). */
static int
verify_kept(const struct cert *c, const char *cert, const char *key,
	    const char *chain, const char *anchor, struct x509_info *info,
	    char *err, size_t errlen)
{
	int rc = x509_check_kept(cert, key, chain, anchor, &c->names, err, errlen);

	if (rc == 0)
		rc = x509_cert_info(cert, info, err, errlen);
	return rc;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Vault's CA material as the chain file's intermediates and the trust
 * anchor.  ca_chain runs from the issuing CA upwards and may lack the
 * root (it holds whatever the intermediate was set-signed with): its last
 * certificate is the top of what Vault knows, and becomes the anchor; the
 * ones below it are the chain.  A one-element chain is both.  DER turns
 * base64 DER values into PEM first.
 */
static int
der_to_pem(const char *b64, const char *label, struct buf *out)
{
	size_t n = strlen(b64);

	buf_printf(out, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < n; i += 64) {
		buf_append(out, b64 + i, n - i < 64 ? n - i : 64);
		buf_putc(out, '\n');
	}
	return buf_printf(out, "-----END %s-----\n", label);
}

static int
add_pem(struct buf *b, const char *v, int der, const char *label)
{
	size_t n;

	if (der)
		return der_to_pem(v, label, b);
	n = strlen(v);
	buf_append(b, v, n);
	return (n && v[n - 1] != '\n') ? buf_putc(b, '\n') : b->err;
}

static int
split_ca(const cJSON *data, int der, struct buf *chain, struct buf *anchor)
{
	const cJSON *ca_chain = cJSON_GetObjectItemCaseSensitive(data, "ca_chain");
	const char *issuing = json_str(data, "issuing_ca");
	const cJSON *e, *last = NULL;

	/* Walk the list: cJSON_GetArrayItem(i) walks it from the start, and
	 * indexing a list of a million items that way kept the loop busy for
	 * hours (a 4 MB answer holds that many). */
	if (cJSON_IsArray(ca_chain)) {
		cJSON_ArrayForEach(e, ca_chain) {
			if (cJSON_IsString(e))
				last = e;
		}
	}
	if (last == NULL) {
		if (issuing == NULL || issuing[0] == '\0')
			return -ENOENT;
		add_pem(chain, issuing, der, "CERTIFICATE");
		return add_pem(anchor, issuing, der, "CERTIFICATE");
	}
	cJSON_ArrayForEach(e, ca_chain) {
		if (!cJSON_IsString(e))
			continue;
		if (e != last || e == ca_chain->child)
			add_pem(chain, e->valuestring, der, "CERTIFICATE");
		if (e == last)
			add_pem(anchor, e->valuestring, der, "CERTIFICATE");
		if (e == last || chain->err)
			break;
	}
	return anchor->err ? anchor->err : chain->err;
}

/* The PEM label of a DER private key as Vault encodes it. */
static const char *
der_key_label(const cJSON *data, int pkcs8)
{
	const char *type = json_str(data, "private_key_type");

	if (pkcs8)
		return "PRIVATE KEY";
	if (type && strcmp(type, "rsa") == 0)
		return "RSA PRIVATE KEY";
	if (type && strcmp(type, "ec") == 0)
		return "EC PRIVATE KEY";
	return "PRIVATE KEY";
}

/* Revoke the serial C holds now at AT_MS; GRACE: as the end of its grace. */
static void
queue_revocation_as(struct cert *c, int64_t at_ms, int grace)
{
	char mount[256];

	if (revq_mount_of(req_path(c), mount, sizeof(mount)) != 0 ||
	    (grace ? revq_add_grace(c->m->revq, c->name, mount, c->serial, at_ms)
		   : revq_add(c->m->revq, c->name, mount, c->serial, at_ms)) != 0)
		log_error("certs", "%s: cannot queue serial %s for revocation",
			  c->name, c->serial);
}

static void
queue_revocation(struct cert *c, int64_t at_ms)
{
	queue_revocation_as(c, at_ms, 0);
}

/*
 * grace: the material on disk now (the certificate C holds, serial
 * C->serial) as the entry's grace files, read before the new files
 * replace it.  OLD is filled (to be freed by the caller); 0 if there is
 * something to keep.
 */
static int
grace_load(struct cert *c, const char *key_passphrase, struct cert_loaded *old)
{
	memset(old, 0, sizeof(*old));
	certfiles_load_with(&c->def->out, key_passphrase, old);
	return old->cert && old->key ? 0 : -ENOENT;
}

/* The new files are in place: keep OLD for the grace, revoke it after.
 * PASS: the passphrase read from kv for the entry's key, which a grace
 * key sealed with the same kv path gets too. */
static void
grace_start(struct cert *c, const struct cert_loaded *old, const char *pass)
{
	const struct cert_grace *g = &c->def->grace;
	const struct cert_file *gk = certfiles_kv_key(&g->out);
	const struct cert_file *ek = certfiles_kv_key(&c->def->out);
	struct cert_material mt = {
		.cert = old->cert, .key = old->key, .chain = old->chain, .ca = old->ca,
		.key_passphrase = gk && ek && strcmp(gk->encrypt.passphrase_kv,
						     ek->encrypt.passphrase_kv) == 0
				  ? pass : NULL,
	};
	char **paths = NULL, err[512];

	if (old->cert == NULL || old->key == NULL)
		log_warn("certs", "%s: serial %s was not on disk to keep for its "
			 "grace; it is revoked when the grace ends", c->name,
			 c->serial);
	else if (g->out.n &&
		 certfiles_write(&g->out, &mt, &paths, err, sizeof(err)) != 0)
		log_error("certs", "%s: cannot write the grace files of serial %s: "
			  "%s", c->name, c->serial, err);
	else
		log_info("certs", "%s: serial %s stays available for its grace of "
			 "%llus", c->name, c->serial,
			 (unsigned long long)(g->duration_ms / 1000));
	certfiles_paths_free(paths);
	c->m->stats.grace_started++;
	if (c->m->revq)
		queue_revocation_as(c, wall_ms() + (int64_t)g->duration_ms, 1);
}

/* An entry's verified material goes to its files; its hooks hear of it. */
static int
store_entry(struct cert *c, const struct cert_material *mt,
	    const struct x509_info *info, char *err, size_t errlen)
{
	const struct cert_def *cc = c->def;
	struct cert_loaded old;
	int grace = cc->grace.duration_ms && c->serial[0] &&
		    strcmp(c->serial, info->serial) != 0;
	char **paths = NULL;
	size_t n;

	/* grace: what is on disk now, read before it is replaced. */
	if (grace)
		grace_load(c, mt->key_passphrase, &old);
	else
		memset(&old, 0, sizeof(old));
	if (certfiles_write(&cc->out, mt, &paths, err, errlen) != 0) {
		certfiles_loaded_free(&old);
		return -EIO;
	}
	n = certfiles_count(paths);
	log_info("certs", "%s: wrote %zu file%s from one issuance", c->name, n,
		 n == 1 ? "" : "s");
	if (paths && (cc->activation.connect || cc->grace.duration_ms))
		audit_lifecycle(c->m->cfg->audit, "activation", c->name, info->serial,
				c->serial[0] ? c->serial : NULL, cc->activation.connect,
				NULL);	/* target NULL without a check */
	if (paths && grace)
		grace_start(c, &old, mt->key_passphrase);
	else if (paths && c->serial[0] && cc->revoke_previous_after_ms && c->m->revq)
		queue_revocation(c, wall_ms() + (int64_t)cc->revoke_previous_after_ms);
	certfiles_loaded_free(&old);
	if (paths && c->m->ev.changed) {
		struct change ch = {
			.hooks = cc->on_change,
			.n_hooks = cc->n_on_change,
			.paths = (const char *const *)paths,
			.n_paths = n,
			.serial = info->serial,
			.not_after = info->not_after,
			.wait = { cc->wait.min_ms, cc->wait.max_ms },
			.source = c->name,
		};
		c->m->ev.changed(c->m->ev.arg, &ch);
	}
	certfiles_paths_free(paths);
	return 0;
}

/* certs.h has the contract.  The parse step of on_issued(), apart so that
 * test/fuzz/ can reach it with bytes it does not control. */
int
certs_parse_issued(const cJSON *json, int der, int key_pkcs8,
		   const char *own_key, int need_key, struct buf *cert,
		   struct buf *key, struct buf *chain, struct buf *anchor,
		   char *err, size_t errlen)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(json, "data");
	const char *cert_v = json_str(data, "certificate");
	const char *key_v = own_key ? own_key : json_str(data, "private_key");

	if (cert_v == NULL || (key_v == NULL && need_key)) {
		snprintf(err, errlen, "Vault's answer has no certificate or "
			 "private key");
		return -EINVAL;
	}
	add_pem(cert, cert_v, der, "CERTIFICATE");
	if (key_v)
		add_pem(key, key_v, der && !own_key,
			der_key_label(data, key_pkcs8));
	if (split_ca(data, der, chain, anchor) != 0) {
		snprintf(err, errlen, "Vault's answer has no issuing_ca or "
			 "ca_chain");
		return -EINVAL;
	}
	if (cert->err || key->err) {
		snprintf(err, errlen, "Vault's answer is too large");
		return -E2BIG;
	}
	return 0;
}

/* ---- lifecycle ---- */

static void
staged_free(struct staged *st)
{
	if (st == NULL)
		return;
	buf_free(&st->cert);
	buf_wipe(&st->key);
	buf_free(&st->chain);
	free(st->ca);
	free(st);
}

/* A new certificate (CERT_PEM, described by INFO) is in place: count
 * it, audit it and hold it. */
static void
issued(struct cert *c, const struct x509_info *info, const char *cert_pem)
{
	c->m->stats.issued++;
	c->renewals++;
	c->last_renewal_ms = wall_ms();
	audit_cert(c->m->cfg->audit, c->serial[0] ? "renewal" : "issuance", c->name,
		   req_path(c), cert_pem);
	hold(c, info, "issued");
}

/* Write ST, verified (and tested), to C's files, and hold it: ST is
 * freed, and the passphrase read for it is dropped. */
static void
store_staged(struct cert *c, struct staged *st)
{
	struct cert_material mt = {
		.cert = st->cert.s, .key = st->key.s, .chain = st->chain.s,
		.ca = st->ca, .key_passphrase = c->passphrase,
	};
	char err[1024];
	int rc = store_entry(c, &mt, &st->info, err, sizeof(err));

	secret_free(c->passphrase);
	c->passphrase = NULL;
	if (rc != 0) {
		staged_free(st);
		retry_later(c, err);
		return;
	}
	issued(c, &st->info, st->cert.s);
	staged_free(st);
}

/*
 * encrypt.passphrase_kv: the passphrase is read from kv before each
 * issuance, like a passphrase_file is read at each write, and held only
 * until the files are written.  Read first, so that a tenant whose
 * passphrase cannot be read costs no certificate: a read that fails
 * issues nothing, writes nothing (the old files stay) and is retried
 * with backoff.  Errors name the path and the field, never the value.
 */
static void
on_passphrase(void *arg, const struct vault_response *r)
{
	struct cert *c = arg;
	const struct cert_file *f = c->def ? certfiles_kv_key(&c->def->out) : NULL;
	const char *field, *v;
	char why[1024];

	c->call = NULL;
	if (r->err == VAULT_ECANCELED || c->closing || f == NULL)
		return;
	field = f->encrypt.passphrase_field ? f->encrypt.passphrase_field
					    : "passphrase";
	/* A 403 here is most likely a policy without this tenant's path,
	 * not a dead token: dropping the token would stall every other
	 * entry for one tenant's mistake.  A dead token is found by the
	 * issue call that follows a successful read. */
	if (r->err != VAULT_OK) {
		snprintf(why, sizeof(why), "cannot read the key's passphrase "
			 "from kv %s (field %s): %s", f->encrypt.passphrase_kv,
			 field, r->message && r->message[0] ? r->message : "failed");
		retry_later(c, why);
		return;
	}
	v = vault_kv_field(r->json, field);
	if (v == NULL || v[0] == '\0') {
		snprintf(why, sizeof(why), "kv %s: %s \"%s\" for the key's "
			 "passphrase", f->encrypt.passphrase_kv,
			 v ? "empty field" : "no string field", field);
		retry_later(c, why);
		return;
	}
	c->passphrase = strdup(v);
	if (c->passphrase == NULL) {
		retry_later(c, "out of memory");
		return;
	}
	issue(c);
}

/* Read the passphrase of C's key from kv; the issuance follows. */
static void
read_passphrase(struct cert *c)
{
	const struct cert_file *f = certfiles_kv_key(&c->def->out);
	struct vault_req req = {
		.method = "GET",
		.path = f->encrypt.passphrase_kv,
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)vault_address_count(c->m->vault),
	};

	log_debug("certs", "%s: reading the key's passphrase from kv %s",
		  c->name, f->encrypt.passphrase_kv);
	if (vault_request(c->m->vault, &req, on_passphrase, c, &c->call) != 0) {
		c->call = NULL;
		retry_later(c, "cannot start reading the key's passphrase");
	}
}

/* An activation check is over: write what passed, retry what did not. */
static void
on_activation(void *arg, int status, const char *why)
{
	struct cert *c = arg;
	struct staged *st = c->staged;
	const struct cert_def *cc = c->def;

	c->activation = NULL;
	c->staged = NULL;
	if (status == -ECANCELED || c->closing || cc == NULL) {
		staged_free(st);
		cert_try_free(c);
		return;
	}
	if (status != 0) {
		char msg[1200];
		c->m->stats.activation_failed++;
		audit_lifecycle(c->m->cfg->audit, "activation_check", c->name,
				st->info.serial, NULL, cc->activation.connect, why);
		snprintf(msg, sizeof(msg), "activation check of serial %s failed: %s",
			 st->info.serial, why);
		staged_free(st);
		retry_later(c, msg);
		return;
	}
	c->m->stats.activation_passed++;
	log_info("certs", "%s: serial %s passed its activation check at %s", c->name,
		 st->info.serial, cc->activation.connect);
	audit_lifecycle(c->m->cfg->audit, "activation_check", c->name,
			st->info.serial, NULL, cc->activation.connect, NULL);
	store_staged(c, st);
}

/* Hand the verified material over to an activation check (taking the
 * buffers: they are left empty). */
static int
stage(struct cert *c, struct buf *cert, struct buf *key, struct buf *chain,
      const char *ca, const struct x509_info *info)
{
	struct staged *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return -ENOMEM;
	st->cert = *cert;
	st->key = *key;
	st->chain = *chain;
	*cert = (struct buf)BUF_INIT(PEM_MAX);
	*key = (struct buf)BUF_INIT(PEM_MAX);
	*chain = (struct buf)BUF_INIT(PEM_MAX);
	st->info = *info;
	st->ca = ca ? strdup(ca) : NULL;
	if (ca && st->ca == NULL) {
		staged_free(st);
		return -ENOMEM;
	}
	log_info("certs", "%s: testing serial %s at %s before it is activated",
		 c->name, info->serial, c->def->activation.connect);
	c->staged = st;
	if (activation_start(c->m->loop, &c->def->activation, st->cert.s, st->key.s,
			     st->chain.s, on_activation, c, &c->activation) != 0) {
		c->staged = NULL;
		c->activation = NULL;
		staged_free(st);
		return -ENOMEM;
	}
	return 0;
}

static void
on_issued(void *arg, const struct vault_response *r)
{
	struct cert *c = arg;
	struct buf chain = BUF_INIT(PEM_MAX), anchor = BUF_INIT(PEM_MAX);
	struct buf cert = BUF_INIT(PEM_MAX), key = BUF_INIT(PEM_MAX);
	char err[1024], *pinned = NULL;
	struct x509_info info;
	cJSON *env = NULL;

	c->call = NULL;
	key.secret = 1;
	if (r->err == VAULT_ECANCELED)
		goto out;
	if (r->err != VAULT_OK) {
		if (r->err == VAULT_EHTTP && r->status == 403)
			auth_token_rejected(c->m->auth, auth_token(c->m->auth));
		retry_later(c, r->message);
		goto out;
	}
	if (certs_parse_issued(r->json, c->der, c->key_pkcs8, c->pending_key,
			       c->def != NULL, &cert, &key, &chain, &anchor,
			       err, sizeof(err)) != 0) {
		retry_later(c, err);
		goto out;
	}
	if (c->def && c->def->out.trust_anchor) {
		size_t len;
		if (files_read(c->def->out.trust_anchor, PEM_MAX, &pinned, &len, err,
			       sizeof(err)) != 0) {
			retry_later(c, err);
			goto out;
		}
	}
	if (verify(c, cert.s, key.s, chain.s, pinned ? pinned : anchor.s, &info,
		   err, sizeof(err)) != 0) {
		char why[1200];
		snprintf(why, sizeof(why), "the certificate Vault issued fails its "
					   "check: %s", err);
		retry_later(c, why);
		goto out;
	}
	if (c->def && c->def->activation.connect) {
		/* lifecycle: test it first; the files wait for the verdict. */
		if (stage(c, &cert, &key, &chain, pinned ? pinned : anchor.s,
			  &info) != 0)
			retry_later(c, "out of memory");
		goto out;
	}
	if (c->def) {
		struct cert_material mt = {
			.cert = cert.s, .key = key.s, .chain = chain.s,
			.ca = pinned ? pinned : anchor.s,
			.key_passphrase = c->passphrase,
		};
		int rc = store_entry(c, &mt, &info, err, sizeof(err));

		secret_free(c->passphrase);
		c->passphrase = NULL;
		if (rc != 0) {
			retry_later(c, err);
			goto out;
		}
	} else {
		env = cJSON_Duplicate(r->json, 1);
		if (env == NULL) {
			retry_later(c, "out of memory");
			goto out;
		}
		secret_json_free(c->envelope);
		c->envelope = env;
		log_info("certs", "%s: issued for the templates", c->name);
	}
	issued(c, &info, cert.s);
	if (!c->def)
		template_data(c->m);
out:
	secret_free(c->pending_key);
	c->pending_key = NULL;
	buf_free(&cert);
	buf_wipe(&key);
	buf_free(&chain);
	buf_free(&anchor);
	free(pinned);
}

static char *
join_list(char **items, size_t n)
{
	struct buf b = BUF_INIT(0);
	size_t len;

	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", items[i]);
	return buf_take(&b, &len);
}

static const char *const key_type_names[] = { "ec", "rsa", "ed25519" };

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

	c->working = 0;
	if (c->closing || status != 0) {
		secret_free(c->work_key);
		c->work_key = NULL;
		cert_try_free(c);
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

/* The JSON body of an entry's request (with CSR in sign mode). */
static char *
entry_body(struct cert *c, const char *csr)
{
	const struct cert_def *cc = c->def;
	cJSON *o = cJSON_CreateObject();
	char *alt = NULL, *ips = NULL, *body = NULL, ttl[32];

	if (o == NULL || !cJSON_AddStringToObject(o, "common_name", cc->common_name))
		goto out;
	if (cc->n_alt_names) {
		alt = join_list(cc->alt_names, cc->n_alt_names);
		if (alt == NULL || !cJSON_AddStringToObject(o, "alt_names", alt))
			goto out;
	}
	if (cc->n_ip_sans) {
		ips = join_list(cc->ip_sans, cc->n_ip_sans);
		if (ips == NULL || !cJSON_AddStringToObject(o, "ip_sans", ips))
			goto out;
	}
	if (cc->ttl_ms) {
		snprintf(ttl, sizeof(ttl), "%llus", (unsigned long long)(cc->ttl_ms / 1000));
		if (!cJSON_AddStringToObject(o, "ttl", ttl))
			goto out;
	}
	if (!cJSON_AddStringToObject(o, "format", "pem") ||
	    (csr && !cJSON_AddStringToObject(o, "csr", csr)))
		goto out;
	body = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	free(alt);
	free(ips);
	return body;
}

static void
issue(struct cert *c)
{
	const struct cert_def *cc = c->def;
	char *body = NULL, *csr = NULL, err[512];

	c->waiting = 0;
	if (c->given_up || c->working || c->closing || c->activation)
		return;
	if (c->m->flags & CERTS_DRY) {
		printf("==> certificate %s: would request %s for %s\n", c->name,
		       req_path(c), c->names.cn ? c->names.cn : "");
		fflush(stdout);
		return;
	}
	if (auth_token(c->m->auth) == NULL) {
		c->waiting = 1;
		log_debug("certs", "%s: due; waiting for a Vault token", c->name);
		return;
	}
	if (cc && c->passphrase == NULL && certfiles_kv_key(&cc->out)) {
		read_passphrase(c);
		return;
	}
	if (cc && cc->mode == CERT_MODE_SIGN && c->pending_key == NULL) {
		snprintf(c->key_type, sizeof(c->key_type), "%s",
			 key_type_names[cc->key_type]);
		c->key_bits = (unsigned)cc->key_bits;
		c->work.data = c;
		if (uv_queue_work(c->m->loop, &c->work, keygen_work, keygen_done) != 0) {
			retry_later(c, "cannot start generating a key");
			return;
		}
		c->working = 1;
		return;
	}
	if (cc && cc->mode == CERT_MODE_SIGN &&
	    x509_make_csr(c->pending_key, &c->names, &csr, err, sizeof(err)) != 0) {
		secret_free(c->pending_key);
		c->pending_key = NULL;
		retry_later(c, err);
		return;
	}
	body = cc ? entry_body(c, csr) : c->body;
	free(csr);
	if (body == NULL) {
		retry_later(c, "out of memory");
		return;
	}
	/* One round over the addresses; the retries are ours, so that an
	 * expired certificate is reported on time and --once is bounded. */
	struct vault_req req = {
		.method = "POST",
		.path = req_path(c),
		.body = body,
		.flags = VAULT_QUIET,
		.max_attempts = (unsigned)vault_address_count(c->m->vault),
	};
	log_info("certs", "%s: requesting a certificate from %s", c->name,
		 req_path(c));
	if (vault_request(c->m->vault, &req, on_issued, c, &c->call) != 0) {
		c->call = NULL;
		secret_free(c->pending_key);
		c->pending_key = NULL;
		retry_later(c, "cannot start the request");
	}
	if (cc)
		free(body);
}

static void
on_timer(uv_timer_t *t)
{
	struct cert *c = t->data;

	c->renew_at_ms = next_renewal(c);
	/* Judge on the wall clock: a timer can fire early after a clock step. */
	if (c->renew_at_ms && c->retry.failures == 0 && !c->forced &&
	    wall_ms() < c->renew_at_ms) {
		schedule_at(c, c->renew_at_ms);
		return;
	}
	if (c->call == NULL)
		issue(c);
}

/* ------------------------------------------------------------------ */
/* Certificates, made and freed */

static int
push(struct certs *m, struct cert *c)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct cert **v = realloc(m->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = c;
	return 0;
}

static struct cert *
cert_alloc(struct certs *m, const char *name)
{
	struct cert *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->m = m;
	snprintf(c->name, sizeof(c->name), "%s", name);
	uv_timer_init(m->loop, &c->timer);
	c->timer.data = c;
	m->n_alive++;
	return c;
}

static void
cert_try_free(struct cert *c)
{
	struct certs *m = c->m;

	if (!c->closing || !c->timer_closed || c->working || c->activation)
		return;
	secret_json_free(c->envelope);
	secret_free(c->pending_key);
	secret_free(c->passphrase);
	free(c->key);
	free(c->path);
	free(c->body);
	free(c->names_buf);
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	free(c);
	if (--m->n_alive == 0 && m->closing) {
		renew_ranks_free(&m->ranks);
		free(m->v);
		free(m);
	}
}

static void
on_cert_closed(uv_handle_t *h)
{
	struct cert *c = h->data;

	c->timer_closed = 1;
	cert_try_free(c);
}

/* Stop C for good; it is freed from the loop. */
static void
cert_close(struct cert *c)
{
	if (c->settled)
		c->m->n_settled--;
	c->settled = 0;
	c->closing = 1;
	if (c->working)
		uv_cancel((uv_req_t *)&c->work);	/* if not started */
	if (c->activation)
		activation_cancel(c->activation);
	if (c->call)
		vault_cancel(c->call);
	secret_free(c->pending_key);
	c->pending_key = NULL;
	secret_free(c->passphrase);
	c->passphrase = NULL;
	rank_drop(c);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_cert_closed);
}

static void
names_of_entry(const struct cert_def *cc, struct x509_names *n)
{
	n->cn = cc->common_name;
	n->dns = (const char *const *)cc->alt_names;
	n->ndns = cc->n_alt_names;
	n->ips = (const char *const *)cc->ip_sans;
	n->nips = cc->n_ip_sans;
}

/* Note that C is written to PATH (once; a few dozen at most). */
static void
add_file(struct cert *c, const char *dir, const char *path)
{
	char full[4200], **v;

	if (path == NULL || c->n_files >= 64)
		return;
	snprintf(full, sizeof(full), "%s%s%s", dir ? dir : "", dir ? "/" : "", path);
	for (size_t i = 0; i < c->n_files; i++)
		if (strcmp(c->files[i], full) == 0)
			return;
	v = realloc(c->files, (c->n_files + 1) * sizeof(*v));
	if (v == NULL)
		return;
	c->files = v;
	v[c->n_files] = strdup(full);
	if (v[c->n_files] != NULL)
		c->n_files++;
}

static size_t
name_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	/* FNV's low bits, the ones a table's mask keeps, mix poorly for
	 * names that differ in their last digits: fold the high bits in. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/*
 * An index of KEEP by name (open addressing, slots hold index + 1), so a
 * reload of ten thousand entries finds each kept one in O(1), not by a
 * scan of the others.  *MASK is the table's size minus one; NULL when
 * there is nothing to index or no memory (then the scan is used).
 */
static size_t *
keep_index(struct cert **keep, size_t n_keep, size_t *mask)
{
	size_t size = 16, *slots;

	if (n_keep == 0)
		return NULL;
	while (size < n_keep * 2)
		size *= 2;
	slots = calloc(size, sizeof(*slots));
	if (slots == NULL)
		return NULL;
	*mask = size - 1;
	for (size_t j = 0; j < n_keep; j++) {
		size_t h = name_hash(keep[j]->name) & *mask;
		while (slots[h])
			h = (h + 1) & *mask;
		slots[h] = j + 1;
	}
	return slots;
}

/* The slot of KEEP named NAME, or N_KEEP. */
static size_t
keep_find(struct cert **keep, size_t n_keep, const size_t *slots, size_t mask,
	  const char *name)
{
	if (slots == NULL) {
		for (size_t j = 0; j < n_keep; j++)
			if (keep[j] && strcmp(keep[j]->name, name) == 0)
				return j;
		return n_keep;
	}
	for (size_t h = name_hash(name) & mask; slots[h]; h = (h + 1) & mask) {
		size_t j = slots[h] - 1;
		if (keep[j] && strcmp(keep[j]->name, name) == 0)
			return j;
	}
	return n_keep;
}

/*
 * The entries of CFG, in front of the template certificates.  KEEP (may
 * be NULL) lists the N_KEEP entry certificates of the configuration
 * before; one whose definition SAME finds unchanged is taken over as it
 * is, and its slot in KEEP cleared.
 */
static int
add_entries(struct certs *m, const struct certs_opts *cfg, struct cert **keep,
	    size_t n_keep,
	    int (*same)(const struct cert_def *, const struct cert_def *))
{
	size_t n_tmpl = m->n - m->n_entries, mask = 0;
	struct cert **tmpl = NULL;
	size_t *slots = same ? keep_index(keep, n_keep, &mask) : NULL;

	if (n_tmpl) {
		tmpl = malloc(n_tmpl * sizeof(*tmpl));
		if (tmpl == NULL) {
			free(slots);
			return -ENOMEM;
		}
		memcpy(tmpl, m->v + m->n_entries, n_tmpl * sizeof(*tmpl));
	}
	m->n = m->n_entries = 0;
	for (size_t i = 0; i < cfg->n; i++) {
		const struct cert_def *cc = &cfg->defs[i];
		struct cert *c = NULL;

		size_t k = same ? keep_find(keep, n_keep, slots, mask, cc->name)
				: n_keep;
		if (k < n_keep && same(keep[k]->def, cc)) {
			c = keep[k];
			keep[k] = NULL;
			log_debug("certs", "%s: unchanged by the reload; kept as "
				  "it is", c->name);
		}
		if (c == NULL) {
			c = cert_alloc(m, cc->name);
			if (c)
				c->fresh = 1;
		}
		if (c == NULL || push(m, c) != 0) {
			if (c)
				cert_close(c);
			log_error("certs", "%s: out of memory; not managed", cc->name);
			continue;
		}
		c->def = cc;
		c->policy = cc->policy;
		names_of_entry(cc, &c->names);
		for (size_t j = 0, had = c->n_files; had == 0 && j < cc->out.n; j++)
			add_file(c, cc->out.atomic_dir, cc->out.files[j].path);
		m->n_entries++;
	}
	for (size_t i = 0; i < n_tmpl; i++)
		if (push(m, tmpl[i]) != 0)
			cert_close(tmpl[i]);
	free(tmpl);
	free(slots);
	return 0;
}

int
certs_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	  struct revq *revq, const struct certs_opts *cfg, unsigned flags,
	  const struct certs_events *ev, struct certs **out)
{
	struct certs *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	m->loop = loop;
	m->vault = vault;
	m->auth = auth;
	m->revq = revq;
	m->cfg = cfg;
	m->flags = flags;
	if (ev)
		m->ev = *ev;
	if (add_entries(m, cfg, NULL, 0, NULL) != 0) {
		free(m->v);
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void
certs_configure(struct certs *m, const struct certs_opts *cfg,
		int (*same)(const struct cert_def *, const struct cert_def *))
{
	size_t n_keep = m->n_entries;
	struct cert **keep = malloc((n_keep ? n_keep : 1) * sizeof(*keep));

	if (keep == NULL) {
		n_keep = 0;
		for (size_t i = 0; i < m->n_entries; i++)
			cert_close(m->v[i]);
	} else if (n_keep) {
		memcpy(keep, m->v, n_keep * sizeof(*keep));
	}
	m->cfg = cfg;
	if (add_entries(m, cfg, keep, n_keep, same) != 0)
		log_error("certs", "out of memory; the certificates: entries are "
				   "not managed until the next reload");
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i])
			cert_close(keep[i]);
	free(keep);
}

/*
 * Adoption, first half: does what an entry has on disk pass the checks?
 * Then note its serial and validity in C (C->adoptable) and rank it, so
 * that the second half places every adopted certificate among all the
 * others, as a restart with the same set always does.
 */
static void
adopt_load(struct cert *c)
{
	struct cert_loaded l;
	struct x509_info info;
	char err[512];

	c->adoptable = 0;
	certfiles_load(&c->def->out, &l);
	if (l.cert == NULL || (l.key == NULL && !l.key_sealed)) {
		if (l.why[0])	/* keymat: a keystore or key that would not open */
			log_error("certs", "%s: cannot read back %s; a new "
				  "certificate will be issued", c->name, l.why);
		else
			log_info("certs", "%s: no certificate on disk yet",
				 c->name);
		goto out;
	}
	/* Without the intermediates on disk the chain cannot be checked
	 * offline; the key, the validity and the names still are.  A key
	 * sealed with a passphrase in kv is not opened (that would be a
	 * Vault read per entry on start): it is an encrypted key, and
	 * the certificate is checked without it. */
	if (verify_kept(c, l.cert, l.key, l.chain, l.chain ? l.ca : NULL, &info,
			err, sizeof(err)) != 0) {
		log_warn("certs", "%s: the files on disk will be replaced: %s",
			 c->name, err);
		goto out;
	}
	snprintf(c->serial, sizeof(c->serial), "%s", info.serial);
	c->not_before_ms = info.not_before * 1000;
	c->not_after_ms = info.not_after * 1000;
	rank_set(c, info.serial);
	c->adoptable = 1;
out:
	certfiles_loaded_free(&l);
}

/*
 * Second half: keep a certificate that is not yet due, so nothing is
 * issued on restart.  Due but valid: still what is served until a
 * replacement is written.  1 if kept.
 */
static int
adopt_decide(struct cert *c)
{
	struct x509_info info = {
		.not_before = c->not_before_ms / 1000,
		.not_after = c->not_after_ms / 1000,
	};
	int64_t renew;

	if (!c->adoptable)
		return 0;
	c->adoptable = 0;
	renew = point_of(c, c->not_before_ms, c->not_after_ms, c->serial);
	if (wall_ms() >= renew) {
		log_info("certs", "%s: serial %s on disk is due for renewal", c->name,
			 c->serial);
		c->renew_at_ms = renew;
		return 0;
	}
	snprintf(info.serial, sizeof(info.serial), "%s", c->serial);
	hold(c, &info, "kept the certificate on disk,");
	c->m->stats.adopted++;
	return 1;
}

void
certs_start(struct certs *m)
{
	const struct cert_files **sets = calloc(m->n_entries ? m->n_entries : 1,
						sizeof(*sets));
	size_t n_sets = 0;

	/* Only the new ones: a kept entry's directory was swept before, and
	 * a reload that changed one entry of ten thousand scans one. */
	for (size_t i = 0; sets && i < m->n_entries; i++)
		if (m->v[i]->fresh)
			sets[n_sets++] = &m->v[i]->def->out;
	if (sets && n_sets)
		certfiles_remove_stale(sets, n_sets);
	free(sets);
	for (size_t i = 0; i < m->n_entries; i++)
		if (m->v[i]->fresh)
			adopt_load(m->v[i]);
	for (size_t i = 0; i < m->n_entries; i++) {
		struct cert *c = m->v[i];
		if (!c->fresh)
			continue;	/* kept across a reload, as it was */
		c->fresh = 0;
		if (!adopt_decide(c))
			issue(c);
	}
}

void
certs_token_ready(struct certs *m)
{
	int64_t now = wall_ms();

	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = m->v[i];
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
certs_clock_stepped(struct certs *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = m->v[i];
		/* Held and idle: its timer is the renewal.  A retry's backoff
		 * and a call in flight are not instants on the wall clock. */
		if (c->closing || c->call || c->working || c->activation || c->waiting ||
		    c->retry.failures || c->forced || !c->renew_at_ms ||
		    !uv_is_active((uv_handle_t *)&c->timer))
			continue;
		schedule_at(c, c->renew_at_ms);
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The certificates templates issue */

int
certs_is_issue_call(const char *kind, const char *path, size_t nkv)
{
	const char *p;

	if (strcmp(kind, "pkiCert") == 0)
		return 1;
	if (strcmp(kind, "secret") != 0 || nkv == 0)
		return 0;
	/* ".../issue/<role>" or ".../sign/<role>", the role one segment. */
	for (p = path; (p = strchr(p, '/')) != NULL; p++) {
		const char *seg = p + 1, *role;
		if (strncmp(seg, "issue/", 6) == 0)
			role = seg + 6;
		else if (strncmp(seg, "sign/", 5) == 0)
			role = seg + 5;
		else
			continue;
		if (*role && strchr(role, '/') == NULL)
			return 1;
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "kind\npath\nk1=v1\nk2=v2" with the arguments sorted. */
static char *
call_key(const struct certs_tcall *tc)
{
	const char **sorted = calloc(tc->nkv ? tc->nkv : 1, sizeof(*sorted));
	struct buf b = BUF_INIT(0);
	size_t len;

	if (sorted == NULL)
		return NULL;
	memcpy(sorted, tc->kv, tc->nkv * sizeof(*sorted));
	qsort(sorted, tc->nkv, sizeof(*sorted), cmp_str);
	buf_printf(&b, "%s\n%s", tc->kind, tc->path);
	for (size_t i = 0; i < tc->nkv; i++)
		buf_printf(&b, "\n%s", sorted[i]);
	free(sorted);
	b.secret = 1;	/* a sign call's CSR is not secret, but k=v may be */
	return buf_take(&b, &len);
}

/* The arguments as a JSON object; a later key=value wins. */
static char *
call_body(const struct certs_tcall *tc)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < tc->nkv; i++) {
		const char *eq = strchr(tc->kv[i], '=');
		char name[256];
		if (eq == NULL || (size_t)(eq - tc->kv[i]) >= sizeof(name))
			continue;
		memcpy(name, tc->kv[i], (size_t)(eq - tc->kv[i]));
		name[eq - tc->kv[i]] = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(o, name);
		if (!cJSON_AddStringToObject(o, name, eq + 1))
			goto out;
	}
	body = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return body;
}

/* The value of argument NAME ("name=value"), the last one given, or NULL. */
static const char *
arg_of(const struct certs_tcall *tc, const char *name)
{
	size_t len = strlen(name);
	const char *v = NULL;

	for (size_t i = 0; i < tc->nkv; i++)
		if (strncmp(tc->kv[i], name, len) == 0 && tc->kv[i][len] == '=')
			v = tc->kv[i] + len + 1;
	return v;
}

/* Split a comma-separated list in place into at most MAX items. */
static size_t
split_list(char *s, const char **items, size_t max)
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

/* The names the answer must carry: common_name, alt_names, ip_sans. */
static int
names_of_call(struct cert *c, const struct certs_tcall *tc)
{
	const char *cn = arg_of(tc, "common_name");
	const char *alt = arg_of(tc, "alt_names"), *ip = arg_of(tc, "ip_sans");
	size_t lcn = cn ? strlen(cn) + 1 : 0, lalt = alt ? strlen(alt) + 1 : 0;
	size_t lip = ip ? strlen(ip) + 1 : 0;
	char *p;

	c->names_buf = malloc(lcn + lalt + lip + 1);
	if (c->names_buf == NULL)
		return -ENOMEM;
	p = c->names_buf;
	if (cn) {
		memcpy(p, cn, lcn);
		c->names.cn = p;
		p += lcn;
	}
	if (alt) {
		memcpy(p, alt, lalt);
		c->names.ndns = split_list(p, c->dns, TMPL_MAX_NAMES);
		p += lalt;
	}
	if (ip) {
		memcpy(p, ip, lip);
		c->names.nips = split_list(p, c->ips, TMPL_MAX_NAMES);
	}
	c->names.dns = c->dns;
	c->names.ips = c->ips;
	return 0;
}

static struct cert *
find_name(const struct certs *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i]->name, name) == 0)
			return m->v[i];
	return NULL;
}

static struct cert *
find_call(const struct certs *m, const char *key)
{
	for (size_t i = m->n_entries; i < m->n; i++)
		if (strcmp(m->v[i]->key, key) == 0)
			return m->v[i];
	return NULL;
}

/*
 * A template's adopted answer: is it a valid, verified certificate for
 * this call?  Then keep it (and renew it in the background if it is
 * due), so a restart renders the bytes on disk and issues nothing.
 */
static void
adopt_template(struct cert *c, const struct certs_tcall *tc)
{
	struct buf chain = BUF_INIT(PEM_MAX), anchor = BUF_INIT(PEM_MAX);
	cJSON *env = NULL;
	const cJSON *data;
	const char *cert, *key;
	struct x509_info info;
	char err[512];
	int64_t renew;

	if (tc->adopt)
		tc->adopt(tc->adopt_arg, &env);
	if (env == NULL)
		return;
	data = cJSON_GetObjectItemCaseSensitive(env, "data");
	cert = json_str(data, "certificate");
	key = json_str(data, "private_key");
	/* Without a CA certificate on disk (a template that renders the
	 * leaf and the key only) the chain cannot be checked offline; the
	 * key, the validity and the names still are. */
	if (split_ca(data, 0, &chain, &anchor) != 0) {
		buf_free(&chain);
		buf_free(&anchor);
	}
	if (cert == NULL || key == NULL ||
	    verify_kept(c, cert, key, chain.s, anchor.s, &info, err, sizeof(err)) != 0) {
		log_info("templates", "%s: the certificate on disk cannot be kept; "
				      "issuing", c->name);
		secret_json_free(env);
		goto out;
	}
	c->envelope = env;
	c->m->stats.adopted++;
	rank_set(c, info.serial);
	renew = point_of(c, info.not_before * 1000, info.not_after * 1000,
			 info.serial);
	if (wall_ms() >= renew) {
		/* Still what is served until a replacement is issued. */
		settle(c);
		snprintf(c->serial, sizeof(c->serial), "%s", info.serial);
		c->not_before_ms = info.not_before * 1000;
		c->not_after_ms = info.not_after * 1000;
		c->renew_at_ms = renew;
		log_info("certs", "%s: serial %s on disk is due for renewal", c->name,
			 info.serial);
		issue(c);
		goto out;
	}
	hold(c, &info, "kept the certificate on disk,");
out:
	buf_free(&chain);
	buf_free(&anchor);
}

static struct cert *
template_cert(struct certs *m, const struct certs_tcall *tc, char *key)
{
	char name[NAME_MAX_LEN];
	const char *format = arg_of(tc, "format");
	struct cert *c;

	snprintf(name, sizeof(name), "%s", tc->name);
	for (unsigned i = 2; find_name(m, name) != NULL; i++)
		snprintf(name, sizeof(name), "%s#%u", tc->name, i);
	c = cert_alloc(m, name);
	if (c == NULL)
		return NULL;
	c->key = key;
	c->path = strdup(tc->path);
	c->body = call_body(tc);
	c->der = format && strcmp(format, "der") == 0;
	c->key_pkcs8 = arg_of(tc, "private_key_format") &&
		       strcmp(arg_of(tc, "private_key_format"), "pkcs8") == 0;
	if (tc->policy)
		c->policy = *tc->policy;
	else
		renew_policy_init(&c->policy);
	if (c->path == NULL || c->body == NULL || names_of_call(c, tc) != 0 ||
	    push(m, c) != 0) {
		cert_close(c);
		return NULL;
	}
	return c;
}

int
certs_template_get(struct certs *m, const struct certs_tcall *tc,
		   const cJSON **envelope, char *err, size_t errlen)
{
	char *key = call_key(tc);
	struct cert *c;

	if (key == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c = find_call(m, key);
	if (c) {
		free(key);
	} else {
		c = template_cert(m, tc, key);
		if (c == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		log_info("certs", "%s: %s %s for the templates", c->name, tc->kind,
			 tc->path);
		adopt_template(c, tc);
		if (c->envelope == NULL && (m->flags & CERTS_DRY)) {
			issue(c);	/* says what it would request */
			c->given_up = 1;
			snprintf(c->last_err, sizeof(c->last_err), "not issued in a "
				 "dry run");
		} else if (c->envelope == NULL) {
			issue(c);
		}
	}
	add_file(c, NULL, tc->dest);
	if (c->envelope) {
		*envelope = c->envelope;
		return 0;
	}
	if (c->given_up || c->retry.failures) {
		snprintf(err, errlen, "%s %s: certificate %s: %s", tc->kind, tc->path,
			 c->name, c->last_err);
		return -EIO;
	}
	return CERTS_PENDING;
}

/* ------------------------------------------------------------------ */
/* Certificates the agent uses but does not renew */

void
certs_external(struct certs *m, const char *name, const char *cert_pem)
{
	struct cert *c = find_name(m, name);
	struct x509_info info;
	char err[256];

	if (c && !c->external)
		return;	/* an entry or a template has that name: it is ours */
	if (c == NULL) {
		c = cert_alloc(m, name);
		if (c == NULL || push(m, c) != 0) {
			if (c)
				cert_close(c);
			return;
		}
		c->external = 1;
		settle(c);	/* nothing to wait for */
	}
	c->serial[0] = '\0';
	c->not_after_ms = c->renew_at_ms = 0;
	if (cert_pem && x509_cert_info(cert_pem, &info, err, sizeof(err)) == 0) {
		snprintf(c->serial, sizeof(c->serial), "%s", info.serial);
		c->not_before_ms = info.not_before * 1000;
		c->not_after_ms = c->renew_at_ms = info.not_after * 1000;
	}
	progress(m);
}

/* ------------------------------------------------------------------ */
/* Asked from outside */

size_t
certs_rotate(struct certs *m, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct cert *c = m->v[i];
		if ((name && strcmp(c->name, name) != 0) || c->external)
			continue;
		n++;
		c->forced = 1;
		c->given_up = 0;
		if (c->call == NULL && !c->working && !c->activation) {
			log_info("certs", "%s: rotation requested; renewing now", c->name);
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
		const struct cert *c = m->v[i];
		enum renew_state s = renew_state(c->serial[0] != '\0', now,
						 c->not_after_ms, c->renew_at_ms);
		if (c->given_up)
			st->given_up++;
		else if (c->external)
			;	/* never under way: nothing renews it here */
		else if (c->call || c->working || c->activation || c->waiting ||
			 c->retry.failures ||
			 c->forced || s != RENEW_VALID)
			st->busy++;
		if (s == RENEW_MISSING)
			st->missing++;
		else if (s == RENEW_EXPIRED)
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
	const struct cert *c = m->v[i];

	it->name = c->name;
	it->serial = c->serial;
	it->not_after_ms = c->serial[0] ? c->not_after_ms : 0;
	it->renew_at_ms = c->serial[0] ? next_renewal(c) : 0;
	it->failures = c->retry.failures;
	it->renewals = c->renewals;
	it->failures_total = c->failures_total;
	it->from_template = c->def == NULL;
	it->external = c->external;
	it->not_before_ms = c->serial[0] ? c->not_before_ms : 0;
	it->last_renewal_ms = c->last_renewal_ms;
	it->last_error = c->last_err;
	it->files = (const char *const *)c->files;
	it->n_files = c->n_files;
	it->busy = c->call != NULL || c->working || c->activation != NULL;
	it->given_up = c->given_up;
}

void
certs_revoke_on_shutdown(struct certs *m)
{
	int64_t now = wall_ms();

	for (size_t i = 0; m->revq && i < m->n_entries; i++) {
		struct cert *c = m->v[i];
		if (c->def->revoke_on_shutdown && c->serial[0] && !expired(c, now))
			queue_revocation(c, 0);
	}
}

void
certs_get_stats(const struct certs *m, struct certs_stats *st)
{
	*st = m->stats;
}

void
certs_close(struct certs *m)
{
	size_t n = m->n;

	m->closing = 1;
	m->n = m->n_entries = 0;
	for (size_t i = 0; i < n; i++)
		cert_close(m->v[i]);
	if (m->n_alive == 0) {
		free(m->v);
		free(m);
	}
}
