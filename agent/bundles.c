/*
 * bundles: trust bundles and CRLs, read from Vault and kept current.
 *
 * DESIGN / invariants:
 *  - An entry (a trust_bundles: or a crls: item) runs rounds.  A round
 *    is a list of steps, one Vault call each, made one after the other:
 *    for a trust bundle's PKI mount <m>/ca_chain, <m>/cert/ca and, unless
 *    issuers: false, LIST <m>/issuers and <m>/issuer/<id>/json of each
 *    (a server without the issuers API, Vault before 1.11, answers the
 *    LIST with a 4xx: the mount's default chain is all there is, and
 *    that is not an error); for a kv source one read; for a CRL's mount
 *    <m>/ca_chain, <m>/crl/pem and, with delta, <m>/crl/delta/pem (an
 *    empty answer or a 4xx: the server builds no delta CRLs).
 *  - A round either completes or changes nothing it read: a failed step
 *    (other than the optional ones above) ends the round, the file stays
 *    as it is and the next round comes after a full-jitter backoff.  A
 *    CA is never taken as removed because a source could not be read.
 *  - A trust bundle holds a set of CAs keyed by the SHA-256 of their DER.
 *    A CA that is in no source any more is kept, marked with the time it
 *    left, for retain_removed or until it expires, whichever is first; an
 *    expired CA is dropped (unless drop_expired is false).  The set is
 *    written roots last, newest first within each group (then by
 *    fingerprint), so the same set is always the same bytes: the file is
 *    rewritten, and the hooks told, only when the set changed.
 *  - The retained set survives a restart without a state file: on start
 *    the bundle's own file is read back and every CA in it is taken as
 *    having left its sources at that moment; the first round marks those
 *    still served as present again.  So after a restart a CA removed
 *    before it is kept for up to retain_removed more, never less.  A
 *    reload keeps the set of a bundle whose name is unchanged.
 *  - An empty set is never written: clients would trust nothing.
 *  - A CRL is written only after x509_crl_check(): its signature verifies
 *    with a certificate of the mount's CA chain and it is current.  The
 *    next read comes before the earliest nextUpdate (at half the time
 *    left) and at least every refresh.
 *  - Each entry's memory is freed in its timer's close callback.
 */
#include "bundles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "buf.h"
#include "files.h"
#include "log.h"
#include "vault.h"
#include "wallclock.h"
#include "x509.h"

#define ERR_MAX 1024
#define WHY_MAX 256		/* an error from a helper, inside ERR_MAX */
#define PATH_MAX_V 600		/* a Vault path we build */
#define ISSUERS_MAX 256		/* issuers read from one mount */
#define CALL_ATTEMPTS 3		/* per step; the round retries with backoff */
#define CRL_MIN_MS 1000ULL	/* never read a CRL more often than this */

enum kind { K_BUNDLE, K_CRL };

enum step_type {
	S_CA_CHAIN,	/* GET <m>/ca_chain: PEM */
	S_CERT_CA,	/* GET <m>/cert/ca: JSON certificate */
	S_ISSUERS,	/* LIST <m>/issuers: JSON keys (optional) */
	S_ISSUER,	/* GET <m>/issuer/<id>/json: certificate, ca_chain */
	S_KV,		/* GET a kv path: JSON field */
	S_CRL_CA,	/* GET <m>/ca_chain: the CA that signs the CRL */
	S_CRL,		/* GET <m>/crl/pem */
	S_CRL_DELTA,	/* GET <m>/crl/delta/pem (optional) */
};

struct step {
	enum step_type type;
	size_t src;
	char path[PATH_MAX_V];
};

/* A CA of a trust bundle. */
struct held {
	struct x509_ca ca;	/* ca.pem is owned */
	int64_t removed_ms;	/* wall clock it left every source; 0: in one */
	int present;		/* in this round's sources */
};

struct entry {
	struct bundles *b;
	struct entry *next;
	enum kind kind;
	const struct bundle_def *bd;	/* K_BUNDLE */
	const struct crl_def *cd;	/* K_CRL */
	const char *name;
	const struct cert_file *file;	/* files.pem */
	const struct cert_file *store;	/* files.truststore_pkcs12, or NULL */
	uv_timer_t timer;
	struct vault_call *call;
	int waiting;			/* for a token */
	int dead;			/* closed: no new round */
	/* the round */
	struct step *steps;
	size_t n_steps, cap_steps, at;
	struct buf got;			/* what the sources said */
	char *ca;			/* crl: the current mount's CA chain */
	size_t n_got;			/* crl: CRLs in got */
	int64_t got_next;		/* crl: earliest nextUpdate in got */
	/* what is held */
	struct held *held;
	size_t n_held;
	int loaded;			/* the file was read back */
	int rounds;			/* rounds ended, well or not */
	size_t n_items;
	int64_t last_ok_ms, next_update;
	struct retry retry;
	char err[ERR_MAX];		/* this round's failure */
	char shown[ERR_MAX];		/* the last round's, for status */
};

struct bundles {
	uv_loop_t *loop;
	struct vault *vault;
	struct auth *auth;
	const struct bundles_opts *o;
	struct bundles_events ev;
	struct entry *list;
	size_t open_handles;
	int closing;
};

static void next_step(struct entry *e);
static void on_timer(uv_timer_t *t);

static const char *
what(const struct entry *e)
{
	return e->kind == K_BUNDLE ? "trust bundle" : "crl";
}

/* MOUNT (without a trailing slash) / SUFFIX into OUT. */
static void
mount_path(char *out, size_t len, const char *mount, const char *suffix)
{
	size_t n = strlen(mount);

	while (n > 0 && mount[n - 1] == '/')
		n--;
	snprintf(out, len, "%.*s/%s", (int)n, mount, suffix);
}

static int
add_step(struct entry *e, enum step_type type, size_t src, const char *mount,
	 const char *suffix)
{
	struct step *s;

	if (e->n_steps == e->cap_steps) {
		size_t cap = e->cap_steps ? e->cap_steps * 2 : 8;
		struct step *n = realloc(e->steps, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		e->steps = n;
		e->cap_steps = cap;
	}
	s = &e->steps[e->n_steps++];
	s->type = type;
	s->src = src;
	if (suffix)
		mount_path(s->path, sizeof(s->path), mount, suffix);
	else
		snprintf(s->path, sizeof(s->path), "%s", mount);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Trust bundles: the set */

static void
held_drop(struct entry *e, size_t i)
{
	free(e->held[i].ca.pem);
	e->held[i] = e->held[--e->n_held];
}

static void
held_free(struct entry *e)
{
	while (e->n_held)
		held_drop(e, e->n_held - 1);
	free(e->held);
	e->held = NULL;
}

static struct held *
held_find(struct entry *e, const char *sha256)
{
	for (size_t i = 0; i < e->n_held; i++)
		if (strcmp(e->held[i].ca.sha256, sha256) == 0)
			return &e->held[i];
	return NULL;
}

/* Take CA (its pem handed over) into the set. */
static int
held_add(struct entry *e, struct x509_ca *ca, int64_t removed_ms)
{
	struct held *n = realloc(e->held, (e->n_held + 1) * sizeof(*n));

	if (n == NULL)
		return -ENOMEM;
	e->held = n;
	n[e->n_held].ca = *ca;
	n[e->n_held].removed_ms = removed_ms;
	n[e->n_held].present = removed_ms == 0;
	e->n_held++;
	ca->pem = NULL;
	return 0;
}

static void
time_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)(ms / 1000));
}

/* Drop what the clock says must go: expired, or retained long enough. */
static void
prune(struct entry *e, int64_t now)
{
	const struct bundle_def *d = e->bd;

	for (size_t i = e->n_held; i-- > 0;) {
		struct held *h = &e->held[i];
		const char *why = NULL;

		if (d->drop_expired && h->ca.not_after * 1000 <= now)
			why = "it expired";
		else if (h->removed_ms && now - h->removed_ms >= (int64_t)d->retain_removed_ms)
			why = "retain_removed has passed since it left every source";
		if (why == NULL)
			continue;
		log_info("bundles", "trust bundle %s: dropping CA \"%s\" (sha256 %.16s): %s",
			 e->name, h->ca.subject, h->ca.sha256, why);
		held_drop(e, i);
	}
}

/* When must the set be looked at again for prune()? -1: never. */
static int64_t
next_drop(const struct entry *e, int64_t now)
{
	int64_t at = -1;

	for (size_t i = 0; i < e->n_held; i++) {
		const struct held *h = &e->held[i];
		int64_t t = -1;
		if (e->bd->drop_expired)
			t = h->ca.not_after * 1000;
		if (h->removed_ms) {
			int64_t r = h->removed_ms + (int64_t)e->bd->retain_removed_ms;
			if (t < 0 || r < t)
				t = r;
		}
		if (t >= 0 && (at < 0 || t < at))
			at = t;
	}
	return at < 0 ? -1 : (at > now ? at - now : 0);
}

/* Intermediates first, roots last; newest first; then by fingerprint. */
static int
cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->ca.root != y->ca.root)
		return x->ca.root - y->ca.root;
	if (x->ca.not_before != y->ca.not_before)
		return x->ca.not_before > y->ca.not_before ? -1 : 1;
	return strcmp(x->ca.sha256, y->ca.sha256);
}

/* The N_PATHS files PATHS changed: the entry's hooks, once. */
static void
report(struct entry *e, const char **paths, size_t n_paths)
{
	int bundle = e->kind == K_BUNDLE;
	struct change c = {
		.hooks = bundle ? e->bd->on_change : e->cd->on_change,
		.n_hooks = bundle ? e->bd->n_on_change : e->cd->n_on_change,
		.paths = paths,
		.n_paths = n_paths,
		.wait = bundle ? e->bd->wait : e->cd->wait,
		.source = e->name,
	};

	if (e->b->ev.changed)
		e->b->ev.changed(e->b->ev.arg, &c);
}

/* Write TEXT to F, one of the entry's files: FILES_WRITTEN when its
 * bytes changed. */
static int
write_file(struct entry *e, const struct cert_file *f, const char *text,
	   size_t len, const char *summary)
{
	uid_t uid;
	gid_t gid;
	char err[WHY_MAX];
	int rc;

	rc = files_owner_ids(f->owner, f->group, &uid, &gid, err, sizeof(err));
	if (rc == 0)
		rc = files_write_atomic(f->path, text, len, f->mode ? f->mode : 0644, uid,
					gid, err, sizeof(err));
	if (rc < 0) {
		snprintf(e->err, sizeof(e->err), "cannot write %s: %s", f->path, err);
		return rc;
	}
	if (rc == FILES_WRITTEN)
		log_info("bundles", "%s %s: wrote %s: %s", what(e), e->name,
			 f->path, summary);
	return rc;
}

/* The set as the file's bytes, written if they changed. */
static int
bundle_write(struct entry *e)
{
	struct buf out = BUF_INIT(X509_PEM_MAX);
	size_t retained = 0, len;
	char summary[128], *text;

	e->n_items = e->n_held;
	if (e->n_held == 0) {
		snprintf(e->err, sizeof(e->err), "no CA certificate to write; %s is "
			 "left as it is", e->file->path);
		return -ENOENT;
	}
	qsort(e->held, e->n_held, sizeof(*e->held), cmp_held);
	for (size_t i = 0; i < e->n_held; i++) {
		buf_puts(&out, e->held[i].ca.pem);
		retained += e->held[i].removed_ms != 0;
	}
	text = buf_take(&out, &len);
	if (text == NULL) {
		snprintf(e->err, sizeof(e->err), "the bundle is too large");
		buf_free(&out);
		return -E2BIG;
	}
	snprintf(summary, sizeof(summary), "%zu CA%s (%zu retained after leaving "
					   "every source)", e->n_held,
		 e->n_held == 1 ? "" : "s", retained);
	/* The truststore is made before either file is written: when it
	 * cannot be (its password unreadable), both files stay as they were. */
	struct buf store = BUF_INIT(0);
	const char *paths[2];
	size_t n_paths = 0;
	char why[WHY_MAX];
	int rc = 0;

	if (e->store) {
		rc = certfiles_truststore(e->store, text, &store, why, sizeof(why));
		if (rc != 0)
			snprintf(e->err, sizeof(e->err), "%s", why);
	}
	if (rc == 0) {
		rc = write_file(e, e->file, text, len, summary);
		if (rc == FILES_WRITTEN)
			paths[n_paths++] = e->file->path;
	}
	if (rc >= 0 && e->store) {
		rc = write_file(e, e->store, store.s ? store.s : "", store.len,
				summary);
		if (rc == FILES_WRITTEN)
			paths[n_paths++] = e->store->path;
	}
	buf_wipe(&store);
	free(text);
	if (n_paths)
		report(e, paths, n_paths);
	return rc < 0 ? rc : 0;
}

/* Read back what the bundle's file holds: the retained set of a restart. */
static void
bundle_load(struct entry *e)
{
	char *pem = NULL, err[WHY_MAX];
	struct x509_ca *cas = NULL;
	size_t len, n = 0;
	int64_t now = wall_ms();
	int rc;

	e->loaded = 1;
	rc = files_read(e->file->path, X509_PEM_MAX, &pem, &len, err, sizeof(err));
	if (rc == -ENOENT)
		return;
	if (rc == 0)
		rc = x509_ca_split(pem, &cas, &n, err, sizeof(err));
	free(pem);
	if (rc != 0) {
		log_warn("bundles", "trust bundle %s: cannot read %s back (%s); starting "
				    "from the sources alone", e->name, e->file->path, err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (held_find(e, cas[i].sha256) == NULL && held_add(e, &cas[i], now) != 0)
			break;
	log_info("bundles", "trust bundle %s: %zu CA%s read back from %s", e->name,
		 e->n_held, e->n_held == 1 ? "" : "s", e->file->path);
	x509_ca_free(cas, n);
}

/* A round of a trust bundle is complete: merge what the sources said. */
static int
bundle_merge(struct entry *e)
{
	struct x509_ca *cas = NULL;
	size_t n = 0;
	int64_t now = wall_ms();
	char err[WHY_MAX], until[32];
	int rc;

	if (e->got.len == 0) {
		snprintf(e->err, sizeof(e->err), "no source holds a CA certificate");
		return -ENOENT;
	}
	if (e->got.err) {
		snprintf(e->err, sizeof(e->err), "the sources hold too much PEM");
		return e->got.err;
	}
	rc = x509_ca_split(e->got.s, &cas, &n, err, sizeof(err));
	if (rc != 0) {
		snprintf(e->err, sizeof(e->err), "%s", err);
		return rc;
	}
	for (size_t i = 0; i < e->n_held; i++)
		e->held[i].present = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct held *h = held_find(e, cas[i].sha256);
		if (h) {
			if (h->removed_ms && !h->present)
				log_info("bundles", "trust bundle %s: CA \"%s\" is served "
						    "again", e->name, h->ca.subject);
			h->present = 1;
			h->removed_ms = 0;
			continue;
		}
		if (e->bd->drop_expired && cas[i].not_after * 1000 <= now)
			continue;
		log_info("bundles", "trust bundle %s: new CA \"%s\" (sha256 %.16s)",
			 e->name, cas[i].subject, cas[i].sha256);
		rc = held_add(e, &cas[i], 0);
	}
	x509_ca_free(cas, n);
	if (rc != 0) {
		snprintf(e->err, sizeof(e->err), "out of memory");
		return rc;
	}
	for (size_t i = 0; i < e->n_held; i++) {
		struct held *h = &e->held[i];
		if (h->present || h->removed_ms)
			continue;
		h->removed_ms = now;
		time_text(now + (int64_t)e->bd->retain_removed_ms, until, sizeof(until));
		log_info("bundles", "trust bundle %s: CA \"%s\" left every source; kept "
				    "until %s or its expiry", e->name, h->ca.subject, until);
	}
	prune(e, now);
	return bundle_write(e);
}

/* ------------------------------------------------------------------ */
/* The round */

static void
schedule(struct entry *e, uint64_t delay)
{
	if (e->kind == K_BUNDLE) {
		int64_t drop = next_drop(e, wall_ms());
		if (drop >= 0 && (uint64_t)drop < delay)
			delay = (uint64_t)drop + 50;	/* just past the instant */
	}
	uv_timer_start(&e->timer, on_timer, delay, 0);
}

static void
round_end(struct entry *e)
{
	free(e->ca);
	e->ca = NULL;
	buf_free(&e->got);
	e->n_steps = 0;
	e->at = 0;
}

/* A round ended: the first one is news for run --once. */
static void
ended(struct entry *e)
{
	if (e->rounds++ == 0 && e->b->ev.progress)
		e->b->ev.progress(e->b->ev.arg);
}

static void
round_failed(struct entry *e)
{
	uint64_t delay = retry_failed(&e->retry, &e->b->o->retry);

	log_error("bundles", "%s %s: %s; next try in %.1fs (%s is kept)", what(e),
		  e->name, e->err, (double)delay / 1000, e->file->path);
	snprintf(e->shown, sizeof(e->shown), "%s", e->err);
	round_end(e);
	ended(e);
	if (e->kind == K_BUNDLE && e->n_held) {
		size_t before = e->n_held;
		prune(e, wall_ms());
		if (e->n_held != before && bundle_write(e) != 0)
			log_error("bundles", "trust bundle %s: %s", e->name, e->err);
	}
	schedule(e, delay);
}

static void
round_done(struct entry *e)
{
	uint64_t delay;
	int rc;

	if (e->kind == K_BUNDLE) {
		rc = bundle_merge(e);
		delay = e->bd->refresh_ms;
	} else {
		char summary[128];
		delay = e->cd->refresh_ms;
		rc = e->got.err ? e->got.err : 0;
		if (rc) {
			snprintf(e->err, sizeof(e->err), "the CRLs are too large");
		} else {
			snprintf(summary, sizeof(summary), "%zu CRL%s", e->n_got,
				 e->n_got == 1 ? "" : "s");
			const char *paths[1] = { e->file->path };

			rc = write_file(e, e->file, e->got.s ? e->got.s : "",
					e->got.len, summary);
			if (rc == FILES_WRITTEN)
				report(e, paths, 1);
			rc = rc < 0 ? rc : 0;
		}
		if (rc == 0) {
			int64_t now = wall_ms();
			e->n_items = e->n_got;
			e->next_update = e->got_next;
			if (e->got_next && e->got_next * 1000 > now) {
				uint64_t half = (uint64_t)(e->got_next * 1000 - now) / 2;
				if (half < delay)
					delay = half < CRL_MIN_MS ? CRL_MIN_MS : half;
			}
		}
	}
	if (rc != 0) {
		round_failed(e);
		return;
	}
	retry_succeeded(&e->retry);
	e->err[0] = '\0';
	e->shown[0] = '\0';
	e->last_ok_ms = wall_ms();
	log_debug("bundles", "%s %s: up to date; next read in %.0fs", what(e), e->name,
		  (double)delay / 1000);
	round_end(e);
	ended(e);
	schedule(e, delay);
}

static int
append_pem(struct entry *e, const char *pem)
{
	size_t n = strlen(pem);

	buf_append(&e->got, pem, n);
	if (n && pem[n - 1] != '\n')
		buf_putc(&e->got, '\n');
	return e->got.err;
}

static const cJSON *
data_of(const struct vault_response *r)
{
	return cJSON_GetObjectItemCaseSensitive(r->json, "data");
}

/* A kv answer's FIELD (v1 or v2: vault_kv_field()). */
static int
kv_field(struct entry *e, const struct vault_response *r, const struct step *s)
{
	const struct bundle_source *src = &e->bd->sources[s->src];
	const char *field = src->field ? src->field : "pem";
	const char *v = vault_kv_field(r->json, field);

	if (v == NULL) {
		snprintf(e->err, sizeof(e->err), "%s: no string field \"%s\"", s->path, field);
		return -ENOENT;
	}
	return append_pem(e, v);
}

static int
issuer_certs(struct entry *e, const struct vault_response *r, const struct step *s)
{
	const cJSON *d = data_of(r), *cert, *chain, *c;

	cert = cJSON_GetObjectItemCaseSensitive(d, "certificate");
	if (!cJSON_IsString(cert)) {
		snprintf(e->err, sizeof(e->err), "%s: no certificate in the answer", s->path);
		return -EBADMSG;
	}
	append_pem(e, cert->valuestring);
	chain = cJSON_GetObjectItemCaseSensitive(d, "ca_chain");
	cJSON_ArrayForEach(c, chain)
		if (cJSON_IsString(c))
			append_pem(e, c->valuestring);
	return e->got.err;
}

/* The LIST's issuers become steps.  S points into e->steps, which
 * add_step() may move: what is needed of it is copied first. */
static int
issuer_steps(struct entry *e, const struct vault_response *r, const struct step *s)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(data_of(r), "keys"), *k;
	const size_t src = s->src;
	const char *mount = e->bd->sources[src].pki;
	char suffix[PATH_MAX_V], path[PATH_MAX_V];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s", s->path);
	s = NULL;
	cJSON_ArrayForEach(k, keys) {
		/* An issuer id is a UUID: nothing else goes into a path. */
		if (!cJSON_IsString(k) || !k->valuestring[0] || strlen(k->valuestring) > 64 ||
		    strspn(k->valuestring, "0123456789abcdefABCDEF-") != strlen(k->valuestring))
			continue;
		if (n++ == ISSUERS_MAX) {
			log_warn("bundles", "trust bundle %s: %s lists more than %d issuers; "
					    "reading the first %d", e->name, path,
				 ISSUERS_MAX, ISSUERS_MAX);
			break;
		}
		snprintf(suffix, sizeof(suffix), "issuer/%s/json", k->valuestring);
		if (add_step(e, S_ISSUER, src, mount, suffix) != 0) {
			snprintf(e->err, sizeof(e->err), "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

static int
crl_step(struct entry *e, const struct vault_response *r, const struct step *s)
{
	struct x509_crl_info info;
	char err[WHY_MAX];
	int rc;

	if (e->ca == NULL) {
		snprintf(e->err, sizeof(e->err), "%s: no CA chain to verify it with", s->path);
		return -EINVAL;
	}
	rc = x509_crl_check(r->body, e->ca, 0, &info, err, sizeof(err));
	if (rc != 0) {
		snprintf(e->err, sizeof(e->err), "%s: %s; not used", s->path, err);
		return rc;
	}
	if (info.next_update && (e->got_next == 0 || info.next_update < e->got_next))
		e->got_next = info.next_update;
	e->n_got++;
	log_debug("bundles", "crl %s: %s: %s CRL number %lld of \"%s\", %zu revoked",
		  e->name, s->path, info.delta ? "delta" : "complete", info.number,
		  info.issuer, info.n_revoked);
	return append_pem(e, r->body);
}

/*
 * One step's answer: 0 go on, or <0 with e->err.  The optional steps
 * (issuers, a delta CRL) answered with a 4xx are skipped.
 */
static int
take(struct entry *e, const struct step *s, const struct vault_response *r)
{
	int optional = s->type == S_ISSUERS || s->type == S_CRL_DELTA || s->type == S_ISSUER;

	if (r->err == VAULT_EHTTP && optional && r->status >= 400 && r->status < 500 &&
	    r->status != 403) {
		log_debug("bundles", "%s %s: %s: HTTP %ld; %s", what(e), e->name, s->path,
			  r->status, s->type == S_ISSUERS ? "no issuers API here"
			  : s->type == S_ISSUER ? "the issuer is gone" : "no delta CRL here");
		return 0;
	}
	if (r->err != VAULT_OK) {
		if (r->err == VAULT_EHTTP && r->status == 403)
			auth_token_rejected(e->b->auth, auth_token(e->b->auth));
		snprintf(e->err, sizeof(e->err), "%s: %s", s->path,
			 r->message && r->message[0] ? r->message : "failed");
		return -EIO;
	}
	switch (s->type) {
	case S_CA_CHAIN:
		return append_pem(e, r->body);
	case S_CERT_CA:
	case S_ISSUER:
		return issuer_certs(e, r, s);
	case S_ISSUERS:
		return issuer_steps(e, r, s);
	case S_KV:
		return kv_field(e, r, s);
	case S_CRL_CA:
		free(e->ca);
		e->ca = strdup(r->body);
		if (e->ca == NULL || !e->ca[0]) {
			snprintf(e->err, sizeof(e->err), "%s: %s", s->path,
				 e->ca ? "empty answer" : "out of memory");
			return -EINVAL;
		}
		return 0;
	case S_CRL:
		return crl_step(e, r, s);
	case S_CRL_DELTA:
		if (r->body_len == 0 || strspn(r->body, " \t\r\n") == r->body_len) {
			log_debug("bundles", "crl %s: %s: empty; no delta CRL", e->name,
				  s->path);
			return 0;
		}
		return crl_step(e, r, s);
	}
	return 0;
}

static void
on_answer(void *arg, const struct vault_response *r)
{
	struct entry *e = arg;
	int rc;

	e->call = NULL;
	if (r->err == VAULT_ECANCELED || e->dead)
		return;
	rc = take(e, &e->steps[e->at], r);
	if (rc != 0) {
		if (e->err[0] == '\0')
			snprintf(e->err, sizeof(e->err), "%s: %s", e->steps[e->at].path,
				 rc == -E2BIG ? "too large" : "out of memory");
		round_failed(e);
		return;
	}
	e->at++;
	next_step(e);
}

static void
next_step(struct entry *e)
{
	const struct step *s;
	int raw;

	if (e->at == e->n_steps) {
		round_done(e);
		return;
	}
	s = &e->steps[e->at];
	raw = s->type == S_CA_CHAIN || s->type == S_CRL_CA || s->type == S_CRL ||
	      s->type == S_CRL_DELTA;
	struct vault_req req = {
		.method = s->type == S_ISSUERS ? "LIST" : "GET",
		.path = s->path,
		.flags = VAULT_QUIET | (raw ? VAULT_RAW : 0),
		.max_attempts = CALL_ATTEMPTS,
	};
	if (vault_request(e->b->vault, &req, on_answer, e, &e->call) != 0) {
		e->call = NULL;
		snprintf(e->err, sizeof(e->err), "%s: cannot start the request", s->path);
		round_failed(e);
	}
}

static int
plan(struct entry *e)
{
	int rc = 0;

	e->n_steps = 0;
	e->at = 0;
	e->n_got = 0;
	e->got_next = 0;
	e->err[0] = '\0';
	if (e->kind == K_BUNDLE) {
		for (size_t i = 0; i < e->bd->n_sources && rc == 0; i++) {
			const struct bundle_source *src = &e->bd->sources[i];
			if (src->kv) {
				rc = add_step(e, S_KV, i, src->kv, NULL);
				continue;
			}
			rc = add_step(e, S_CA_CHAIN, i, src->pki, "ca_chain");
			if (rc == 0)
				rc = add_step(e, S_CERT_CA, i, src->pki, "cert/ca");
			if (rc == 0 && e->bd->issuers)
				rc = add_step(e, S_ISSUERS, i, src->pki, "issuers");
		}
		return rc;
	}
	for (size_t i = 0; i < e->cd->n_sources && rc == 0; i++) {
		const char *m = e->cd->sources[i].pki;
		rc = add_step(e, S_CRL_CA, i, m, "ca_chain");
		if (rc == 0)
			rc = add_step(e, S_CRL, i, m, "crl/pem");
		if (rc == 0 && e->cd->delta)
			rc = add_step(e, S_CRL_DELTA, i, m, "crl/delta/pem");
	}
	return rc;
}

static void
start_round(struct entry *e)
{
	if (e->call || e->dead)
		return;
	uv_timer_stop(&e->timer);
	if (auth_token(e->b->auth) == NULL) {
		e->waiting = 1;
		return;
	}
	e->waiting = 0;
	round_end(e);
	if (plan(e) != 0) {
		snprintf(e->err, sizeof(e->err), "out of memory");
		round_failed(e);
		return;
	}
	next_step(e);
}

static void
on_timer(uv_timer_t *t)
{
	start_round(t->data);
}

/* ------------------------------------------------------------------ */
/* Entries */

static const struct cert_file *
file_named(const struct cert_file *files, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (files[i].name && strcmp(files[i].name, name) == 0)
			return &files[i];
	return NULL;
}

static struct entry *
entry_new(struct bundles *b, enum kind kind, const void *def)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->b = b;
	e->kind = kind;
	e->got = (struct buf)BUF_INIT(X509_PEM_MAX);
	if (kind == K_BUNDLE) {
		e->bd = def;
		e->name = e->bd->name;
		e->file = file_named(e->bd->files, e->bd->n_files, "pem");
		e->store = file_named(e->bd->files, e->bd->n_files,
				      "truststore_pkcs12");
	} else {
		e->cd = def;
		e->name = e->cd->name;
		e->file = file_named(e->cd->files, e->cd->n_files, "pem");
	}
	if (e->file == NULL || e->name == NULL) {	/* the config check forbids it */
		free(e);
		return NULL;
	}
	uv_timer_init(b->loop, &e->timer);
	e->timer.data = e;
	b->open_handles++;
	return e;
}

static void
on_closed(uv_handle_t *h)
{
	struct entry *e = h->data;
	struct bundles *b = e->b;

	held_free(e);
	free(e->steps);
	free(e->ca);
	buf_free(&e->got);
	free(e);
	if (--b->open_handles == 0 && b->closing)
		free(b);
}

static void
entry_close(struct entry *e)
{
	e->dead = 1;
	if (e->call)
		vault_cancel(e->call);
	uv_timer_stop(&e->timer);
	uv_close((uv_handle_t *)&e->timer, on_closed);
}

/* Build the entries of O; a bundle of OLD's with the same name hands
 * over its set. */
static void
build(struct bundles *b, struct entry *old)
{
	struct entry **tail = &b->list;

	for (size_t i = 0; i < b->o->n + b->o->n_crls; i++) {
		int bundle = i < b->o->n;
		struct entry *e = bundle ? entry_new(b, K_BUNDLE, &b->o->defs[i])
					 : entry_new(b, K_CRL, &b->o->crls[i - b->o->n]);
		if (e == NULL) {
			log_error("bundles", "out of memory: an entry is left out");
			continue;
		}
		for (struct entry *p = old; bundle && p; p = p->next) {
			if (p->kind != K_BUNDLE || !p->loaded || strcmp(p->name, e->name) != 0)
				continue;
			e->held = p->held;
			e->n_held = p->n_held;
			e->loaded = 1;
			p->held = NULL;
			p->n_held = 0;
			break;
		}
		*tail = e;
		tail = &e->next;
	}
}

int
bundles_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	    const struct bundles_opts *o, const struct bundles_events *ev,
	    struct bundles **out)
{
	struct bundles *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->loop = loop;
	b->vault = vault;
	b->auth = auth;
	b->o = o;
	if (ev)
		b->ev = *ev;
	build(b, NULL);
	*out = b;
	return 0;
}

void
bundles_configure(struct bundles *b, const struct bundles_opts *o)
{
	struct entry *old = b->list, *next;

	b->o = o;
	b->list = NULL;
	build(b, old);
	for (; old; old = next) {
		next = old->next;
		entry_close(old);
	}
}

void
bundles_start(struct bundles *b)
{
	for (struct entry *e = b->list; e; e = e->next) {
		if (e->kind == K_BUNDLE && !e->loaded)
			bundle_load(e);
		start_round(e);
	}
}

void
bundles_token_ready(struct bundles *b)
{
	for (struct entry *e = b->list; e; e = e->next)
		if (e->waiting)
			start_round(e);
}

int
bundles_settled(const struct bundles *b)
{
	for (const struct entry *e = b ? b->list : NULL; e; e = e->next)
		if (e->rounds == 0)
			return 0;
	return 1;
}

size_t
bundles_failed(const struct bundles *b)
{
	size_t n = 0;

	for (const struct entry *e = b ? b->list : NULL; e; e = e->next)
		n += e->last_ok_ms == 0;
	return n;
}

int
bundles_get_item(const struct bundles *b, size_t i, struct bundles_item *it)
{
	for (const struct entry *e = b ? b->list : NULL; e; e = e->next) {
		if (i-- != 0)
			continue;
		memset(it, 0, sizeof(*it));
		it->kind = e->kind == K_BUNDLE ? "trust_bundle" : "crl";
		it->name = e->name;
		it->path = e->file->path;
		it->n_items = e->n_items;
		for (size_t j = 0; j < e->n_held; j++)
			it->n_retained += e->held[j].removed_ms != 0;
		it->last_ok_ms = e->last_ok_ms;
		it->next_update = e->next_update;
		it->failures = e->retry.failures;
		it->error = e->shown;
		return 0;
	}
	return -ENOENT;
}

void
bundles_close(struct bundles *b)
{
	struct entry *e = b->list, *next;

	b->closing = 1;
	b->list = NULL;
	if (b->open_handles == 0) {
		free(b);
		return;
	}
	for (; e; e = next) {
		next = e->next;
		entry_close(e);
	}
}
