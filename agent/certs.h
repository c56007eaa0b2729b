/*
 * certs: the declarative certificates: section.
 *
 * DESIGN: one issuance feeds every file of a certificate's set, and
 * nothing replaces what is on disk until the new material is verified:
 * the key matches the certificate, the chain verifies to the trust
 * anchor, the validity window is sane and the requested names are
 * present.  On start the files already on disk are checked the same way
 * and kept while they are valid and not yet due, so a restart, a re-login
 * or a SIGHUP never issues again.
 */
#ifndef CERTAGENT_CERTS_H
#define CERTAGENT_CERTS_H

#include <stdint.h>
#include <uv.h>

struct auth;
struct certs;
struct config;
struct hooks;
struct revq;
struct vault;

/* The defaults of renew_at and jitter. */
#define CERTS_RENEW_AT 0.66
#define CERTS_JITTER 0.05

#define CERTS_DRY 0x1	/* report what would be issued instead of issuing it */
#define CERTS_ONCE 0x2	/* give up after vault.retry.num_retries failures */

/* A certificate was written, adopted, expired or given up on. */
typedef void (*certs_event_cb)(void *arg);

/*
 * HOOKS (may be NULL) hears of every set written, with the files that
 * changed; REVQ (may be NULL) takes replaced and shut-down serials to
 * revoke.  EVENT (may be NULL) is told when the state below changes.
 */
int certs_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	      struct hooks *hooks, struct revq *revq, const struct config *cfg,
	      unsigned flags, certs_event_cb event, void *arg,
	      struct certs **out);

/* Adopt valid files from disk and schedule renewals; issue what is due
 * as soon as a token is there. */
void certs_start(struct certs *m);

/* A token is available: start the issuances that were waiting for one. */
void certs_token_ready(struct certs *m);

/*
 * Renew certificate NAME now (NULL: every one), whatever its schedule
 * and window.  Returns how many matched.
 */
size_t certs_rotate(struct certs *m, const char *name);

struct certs_stats {
	uint64_t issued, adopted, failures;
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
};
size_t certs_count(const struct certs *m);
void certs_get_item(const struct certs *m, size_t i, struct certs_item *it);

/* Shutdown: queue the certificates with revoke_on_shutdown for
 * revocation now (to be sent by revq_flush). */
void certs_revoke_on_shutdown(struct certs *m);

/* Cancel what is in flight; memory is freed from the loop. */
void certs_close(struct certs *m);

/*
 * The renewal time of a certificate valid from NOT_BEFORE to NOT_AFTER
 * (unix ms): at FRACTION of its lifetime, moved by up to +-JITTER of the
 * lifetime, by an amount derived from SERIAL, so it is the same on every
 * restart yet spread across a fleet.
 */
int64_t certs_renew_time(int64_t not_before_ms, int64_t not_after_ms,
			 const char *serial, double fraction, double jitter);

#endif
