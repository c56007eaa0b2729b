/*
 * certs: the one certificate engine.
 *
 * DESIGN: every certificate the agent keeps current is a managed
 * certificate here, whichever road asked for it: a certificates: entry
 * (its files written by certfiles) or a template's issue call (`secret
 * "<mount>/issue/<role>" "common_name=..."`, `pkiCert`), whose Vault
 * answer the templates render.  Both are requested, verified, scheduled
 * and reported the same way:
 *  - one issuance feeds every file; nothing replaces what is on disk
 *    until the new material is verified: the key matches the
 *    certificate, the chain verifies to the trust anchor, the validity
 *    window is sane and the requested names are present;
 *  - on start the material already on disk is checked the same way and
 *    kept while it is valid and not yet due, so a restart, a re-login or
 *    a SIGHUP never issues again;
 *  - the renewal time, the backoff after a failure and "expired" come
 *    from the certificate's renewal policy (renew.h), and nowhere else;
 *  - each has a name for `certagent rotate`, /readyz and /metrics.
 * The engine does not call the hooks or the templates: it reports through
 * struct certs_events, and the agent passes the reports on.
 */
#ifndef CERTAGENT_CERTS_H
#define CERTAGENT_CERTS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "activation.h"
#include "backoff.h"
#include "certfiles.h"
#include "change.h"
#include "renew.h"

struct audit;
struct auth;
struct certs;
struct revq;
struct vault;

enum cert_mode {
	CERT_MODE_ISSUE,	/* Vault makes the key: <mount>/issue/<role> */
	CERT_MODE_SIGN,		/* certagent makes the key and a CSR: sign/<role> */
};

enum cert_key_type {
	CERT_KEY_EC,
	CERT_KEY_RSA,
	CERT_KEY_ED25519,
};

/*
 * grace: of an entry.  On a rotation the material the new files replace
 * is written to OUT (the same file kinds as files:) and its serial is
 * revoked DURATION_MS later; the revocation is kept in the revocation
 * journal, so it survives a restart.
 */
struct cert_grace {
	uint64_t duration_ms;
	struct cert_files out;
};

/* One entry of certificates: */
struct cert_def {
	char *name;
	enum cert_mode mode;
	char *path;		/* pki_int/issue/ROLE or pki_int/sign/ROLE */
	char *common_name;
	char **alt_names;
	size_t n_alt_names;
	char **ip_sans;
	size_t n_ip_sans;
	uint64_t ttl_ms;	/* 0: the role's default */
	enum cert_key_type key_type;	/* sign mode */
	uint64_t key_bits;	/* sign mode; 0: 256 for ec, 2048 for rsa */
	struct cert_files out;	/* files:, atomic_dir, trust_anchor */
	char **on_change;	/* names of hooks: run when the files change */
	size_t n_on_change;
	struct change_wait wait;
	struct renew_policy policy;	/* renew_at/before, jitter, window */
	char *rotate_window;	/* the window as written; parsed into policy */
	int revoke_on_shutdown;	/* revoke the serial held when the agent stops */
	uint64_t revoke_previous_after_ms;	/* revoke a replaced serial after; 0 = never */
	struct activation_opts activation;	/* activation_check:; connect NULL: none */
	struct cert_grace grace;	/* grace:; duration 0: none */
};

/* certificates: in the configuration (borrowed), and vault.retry. */
struct certs_opts {
	struct cert_def *defs;
	size_t n;
	struct backoff_opts retry;	/* between failed issuances */
	uint64_t num_retries;		/* CERTS_ONCE: give up after this many */
	struct audit *audit;		/* the agent's; may be NULL */
};

#define CERTS_DRY 0x1	/* report what would be issued instead of issuing it */
#define CERTS_ONCE 0x2	/* give up after vault.retry.num_retries failures */

/* A template certificate is not there yet: its issuance is under way. */
#define CERTS_PENDING 1

/* What the engine tells the agent; each may be NULL. */
struct certs_events {
	/* A certificate was held, expired or given up on. */
	void (*progress)(void *arg);
	/* An entry's files changed on disk: for its hooks. */
	void (*changed)(void *arg, const struct change *c);
	/* A template certificate has new material: render again. */
	void (*data)(void *arg);
	void *arg;
};

/* REVQ (may be NULL) takes replaced and shut-down serials to revoke. */
int certs_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	      struct revq *revq, const struct certs_opts *o, unsigned flags,
	      const struct certs_events *ev, struct certs **out);

/*
 * A reloaded configuration (borrowed from now on).  An entry that SAME
 * finds unchanged keeps its state (what it holds, an issuance in
 * flight); the others start over from disk (valid files are kept,
 * nothing that is not due is issued).  The certificates templates issue
 * are kept as they are.  Call certs_start() next.
 */
void certs_configure(struct certs *m, const struct certs_opts *o,
		     int (*same)(const struct cert_def *a, const struct cert_def *b));

/* Adopt valid files of the entries from disk and schedule renewals;
 * issue what is due as soon as a token is there. */
void certs_start(struct certs *m);

/* A token is available: start the issuances that were waiting for one. */
void certs_token_ready(struct certs *m);

/* The wall clock stepped (the agent's clock check): every held renewal
 * is scheduled again on it, so a step past it renews now and a step back
 * waits longer.  Returns how many were. */
size_t certs_clock_stepped(struct certs *m);

/* Is (KIND, PATH, NKV arguments) a template call that issues a
 * certificate: pkiCert, or secret with arguments on an issue or sign
 * path? */
int certs_is_issue_call(const char *kind, const char *path, size_t nkv);

/*
 * The parse step of an answer to pki issue or sign: JSON (Vault's envelope)
 * to PEM in CERT, KEY (OWN_KEY, the sign mode's key, when not NULL),
 * CHAIN (intermediates) and ANCHOR.  DER: Vault answered format=der (base64
 * DER); KEY_PKCS8: its private key is PKCS#8; NEED_KEY: no key is an
 * error.  0, or a negative errno with ERR filled.  Nothing is verified.
 */
struct buf;
int certs_parse_issued(const cJSON *json, int der, int key_pkcs8,
		       const char *own_key, int need_key, struct buf *cert,
		       struct buf *key, struct buf *chain, struct buf *anchor,
		       char *err, size_t errlen);

/* A template's issue call, as certs_template_get() takes it. */
struct certs_tcall {
	const char *kind, *path;
	const char *const *kv;		/* key=value arguments */
	size_t nkv;
	const char *name;		/* for a new one: its name */
	const char *dest;		/* the destination of the asking template */
	const struct renew_policy *policy;	/* for a new one (copied) */
	/*
	 * For a new one, the material already rendered: ADOPT fills
	 * *ENVELOPE with Vault's answer rebuilt from the files on disk
	 * (malloc'd, handed over), or leaves it NULL.  May be NULL.
	 */
	void (*adopt)(void *arg, cJSON **envelope);
	void *adopt_arg;
};

/*
 * The certificate of a template call: 0 with *ENVELOPE (Vault's answer,
 * borrowed until the data callback fires or the engine closes);
 * CERTS_PENDING while the first issuance is under way; or a negative
 * error with ERR when it failed and there is no certificate yet.  The
 * same call (kind, path, arguments in any order) from any template is
 * one certificate.
 */
int certs_template_get(struct certs *m, const struct certs_tcall *tc,
		       const cJSON **envelope, char *err, size_t errlen);

/*
 * A certificate the agent uses but does not renew: the Vault client
 * certificate when no certificates: entry writes it.  It is shown in
 * /readyz and /metrics as any other and judged expired the same way;
 * CERT_PEM NULL means none is usable (missing).  Call again when it
 * changes.  A NAME that an entry or a template has is left alone.
 */
void certs_external(struct certs *m, const char *name, const char *cert_pem);

/*
 * Renew certificate NAME now (NULL: every one), whatever its schedule
 * and window.  Returns how many matched (certs_external ones never do).
 */
size_t certs_rotate(struct certs *m, const char *name);

struct certs_stats {
	uint64_t issued, adopted, failures;
	uint64_t activation_passed, activation_failed;	/* activation_check: */
	uint64_t grace_started;		/* previous material kept for grace: */
};
void certs_get_stats(const struct certs *m, struct certs_stats *st);

/* Where the certificates stand, judged on the wall clock now. */
struct certs_state {
	size_t total;
	size_t valid;		/* a certificate on disk, not expired */
	size_t expired;		/* had one; it expired with no replacement */
	size_t missing;		/* never had one yet */
	size_t given_up;	/* CERTS_ONCE: out of retries */
	size_t busy;		/* an issuance in flight, due or to be retried */
};
void certs_get_state(const struct certs *m, struct certs_state *st);

/*
 * Has every certificate had its first outcome (one held, or given up)?
 * O(1): the agent asks after every event, so it must not scan ten
 * thousand certificates each time.
 */
int certs_settled(const struct certs *m);

/* One certificate, for metrics and `certagent status`. */
struct certs_item {
	const char *name;
	const char *serial;	/* "" if none yet */
	int64_t not_after_ms, renew_at_ms;	/* 0 if none yet */
	unsigned failures;	/* since the last success */
	uint64_t renewals;	/* issued since the agent started */
	uint64_t failures_total;	/* failed issuances since it started */
	int from_template;	/* issued for a template, not an entry */
	int external;		/* used, not renewed (certs_external) */
	int64_t not_before_ms;	/* 0 if none yet */
	int64_t last_renewal_ms;	/* last issuance in this run; 0 if none */
	const char *last_error;	/* why the last try failed; "" after a success */
	const char *const *files;	/* where it is written */
	size_t n_files;
	int busy;		/* an issuance in flight */
	int given_up;		/* CERTS_ONCE: out of retries */
};
size_t certs_count(const struct certs *m);
void certs_get_item(const struct certs *m, size_t i, struct certs_item *it);

/* Shutdown: queue the certificates with revoke_on_shutdown for
 * revocation now (to be sent by revq_flush). */
void certs_revoke_on_shutdown(struct certs *m);

/* Cancel what is in flight; memory is freed from the loop. */
void certs_close(struct certs *m);

#endif
