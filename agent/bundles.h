/*
 * bundles: trust material that is read from Vault, never issued: CA
 * bundles (trust_bundles:) and certificate revocation lists (crls:).
 *
 * DESIGN: each entry is a refresh loop of its own: a timer, one Vault
 * call at a time through the steps of a round (for a PKI mount: its
 * ca_chain, cert/ca and, where the server has the issuers API, every
 * issuer; for a kv source: one read), then one file written atomically
 * with its owner and mode when its bytes change, and a change report for
 * the hooks.  A round that fails changes nothing on disk but what the
 * clock decides (a CA past its retention); the next round comes with
 * backoff.  A trust bundle keeps a CA that left every source for
 * retain_removed, or until it expires, so that clients still holding
 * leaves it signed keep verifying through a rollover; the retained set
 * is read back from the bundle's own file on start.  A CRL replaces the
 * file only once its signature verifies with the mount's CA and it is
 * current.  The entries report through struct bundles_events; the agent
 * passes the reports to the hooks.
 */
#ifndef CERTAGENT_BUNDLES_H
#define CERTAGENT_BUNDLES_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "certfiles.h"
#include "change.h"

struct auth;
struct bundles;
struct vault;

/* One item of sources: a PKI mount, or a kv read and its field. */
struct bundle_source {
	char *pki;		/* mount: pki_int */
	char *kv;		/* read path: secret/data/ca (v2) or kv/ca (v1) */
	char *field;		/* kv: the field holding PEM; default "pem" */
};

/* One entry of trust_bundles: */
struct bundle_def {
	char *name;
	struct bundle_source *sources;
	size_t n_sources;
	uint64_t refresh_ms;		/* default 10m */
	uint64_t retain_removed_ms;	/* default 24h */
	int drop_expired;		/* default true */
	int issuers;			/* pki: read every issuer too; default true */
	struct cert_file *files;	/* pem: {path, mode, owner, group} */
	size_t n_files;
	char **on_change;
	size_t n_on_change;
	struct change_wait wait;
};

/* One entry of crls: */
struct crl_def {
	char *name;
	struct bundle_source *sources;	/* pki mounts only */
	size_t n_sources;
	int delta;			/* append delta CRLs where there are */
	uint64_t refresh_ms;		/* at most this long between reads; 1h */
	struct cert_file *files;	/* pem: {path, mode, owner, group} */
	size_t n_files;
	char **on_change;
	size_t n_on_change;
	struct change_wait wait;
};

/* trust_bundles: and crls: in the configuration (borrowed), vault.retry. */
struct bundles_opts {
	struct bundle_def *defs;
	size_t n;
	struct crl_def *crls;
	size_t n_crls;
	struct backoff_opts retry;
};

struct bundles_events {
	/* A bundle's or a CRL's file changed on disk: for its hooks. */
	void (*changed)(void *arg, const struct change *c);
	void *arg;
	/* An entry's first round ended, well or not (run --once); may be NULL. */
	void (*progress)(void *arg);
};

int bundles_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
		const struct bundles_opts *o, const struct bundles_events *ev,
		struct bundles **out);

/*
 * A reloaded configuration (borrowed from now on): every entry starts a
 * round now; a trust bundle of the same name keeps the CAs it holds and
 * when each left its sources.  Call it before the old options are freed.
 */
void bundles_configure(struct bundles *b, const struct bundles_opts *o);

/* Read the bundles' files back; start the rounds (they wait for a token). */
void bundles_start(struct bundles *b);

/* A token is available: start the rounds that were waiting for one. */
void bundles_token_ready(struct bundles *b);

/*
 * run --once: has every entry ended a round since the start (or the last
 * configure)?  And how many of them have never had a good one?
 */
int bundles_settled(const struct bundles *b);
size_t bundles_failed(const struct bundles *b);

/* The I-th entry, for /v1/status and /metrics; -ENOENT past the last. */
struct bundles_item {
	const char *kind;	/* "trust_bundle" or "crl" */
	const char *name;
	const char *path;	/* the file */
	size_t n_items;		/* CAs in the bundle, or CRLs in the file */
	size_t n_retained;	/* trust bundle: CAs kept after leaving sources */
	int64_t last_ok_ms;	/* wall clock of the last good round; 0 if none */
	int64_t next_update;	/* crl: the earliest nextUpdate (unix s), or 0 */
	unsigned failures;	/* rounds failed in a row */
	const char *error;	/* the last failure, "" if none */
};
int bundles_get_item(const struct bundles *b, size_t i, struct bundles_item *it);

/* Cancel every call and close every handle; memory is freed from the loop. */
void bundles_close(struct bundles *b);

#endif
