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
struct vault;

/*
 * DRY: report what would be issued instead of issuing it.  HOOKS (may be
 * NULL) hears of every set written, with the files that changed.
 */
int certs_new(uv_loop_t *loop, struct vault *vault, struct auth *auth,
	      struct hooks *hooks, const struct config *cfg, int dry,
	      struct certs **out);

/* Adopt valid files from disk and schedule renewals; issue what is due
 * as soon as a token is there. */
void certs_start(struct certs *m);

/* A token is available: start the issuances that were waiting for one. */
void certs_token_ready(struct certs *m);

struct certs_stats {
	uint64_t issued, adopted, failures;
};
void certs_get_stats(const struct certs *m, struct certs_stats *st);

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
