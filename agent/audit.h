/*
 * audit: an append-only record of what the agent did, one JSON object a
 * line: logins and token renewals, issuances and renewals, revocations,
 * file writes, hook runs and configuration reloads.
 *
 * DESIGN: the modules that do a thing say so here, through the small API
 * below, at the moment it is done; the agent owns the one struct audit
 * and hands it to them in their options (NULL: no audit, every call a
 * no-op).  A record names a certificate by serial, subject, SANs,
 * NotAfter and SHA-256 fingerprint, a file by path, mode, owner and the
 * SHA-256 of its content; it never holds a token, a secret-id, a key, a
 * password or a secret value, and every line also goes through the
 * logger's scrub of registered secrets.  Each line is written with one
 * write(2) to a file opened O_APPEND and fsync'd before the call
 * returns.  audit_reopen() (SIGHUP) opens the path again, so logrotate's
 * rename-then-HUP works.  A failing write is logged, never fatal.
 */
#ifndef CERTAGENT_AUDIT_H
#define CERTAGENT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct audit;

/* audit: in the configuration. */
struct audit_opts {
	char *path;		/* NULL: no audit log */
	unsigned mode;		/* default 0600 */
};

int audit_new(struct audit **out);

/* Use O (copied) from now on: opens, reopens or closes the file as its
 * path or mode changed.  0, or a negative errno with ERR. */
int audit_configure(struct audit *a, const struct audit_opts *o, char *err,
		    size_t errlen);

/* Open the same path again (logrotate moved the file away). */
void audit_reopen(struct audit *a);

void audit_free(struct audit *a);

/* Login (EVENT "login") or token renewal ("token_renewal"); WHY is the
 * error when it failed (NULL: it worked). */
void audit_token(struct audit *a, const char *event, const char *method,
		 int64_t expires_at_ms, const char *why);

/* A certificate issued for NAME: EVENT "issuance" (the first) or
 * "renewal" (it replaced one); CERT_PEM is the certificate alone. */
void audit_cert(struct audit *a, const char *event, const char *name,
		const char *path, const char *cert_pem);

/* An issuance or renewal for NAME that failed: WHY. */
void audit_cert_failed(struct audit *a, const char *event, const char *name,
		       const char *path, const char *why);

/* A revocation of NAME's SERIAL at MOUNT (or of the token, NAME NULL);
 * WHY the error (NULL: done). */
void audit_revocation(struct audit *a, const char *name, const char *serial,
		      const char *mount, const char *why);

/*
 * A step of a certificate's life (lifecycle): EVENT "activation_check"
 * (the new SERIAL tested against TARGET, host:port), "activation" (its
 * files replaced those of PREVIOUS), "grace_end" (PREVIOUS's grace is
 * over; its revocation follows).  Any of SERIAL, PREVIOUS, TARGET may be
 * NULL; WHY the error (NULL: done).  Never key material.
 */
void audit_lifecycle(struct audit *a, const char *event, const char *name,
		     const char *serial, const char *previous,
		     const char *target, const char *why);

/* File PATH was written for NAME: described from what is on disk now. */
void audit_file(struct audit *a, const char *name, const char *path);

/* Hook NAME ran; how it ended. */
void audit_hook(struct audit *a, const char *name, int ok, int exit_status,
		int term_signal, int timed_out, long pid);

/* A configuration reload of PATH; WHY the error (NULL: applied). */
void audit_reload(struct audit *a, const char *path, const char *why);

/* ---- fleet ---- */

/*
 * LABELS (may be NULL) gives the tenant and profile of certificate NAME
 * (returns 1) or none (0); every record that names a certificate then
 * carries them.  ARG is LABELS' own.
 */
void audit_set_labels(struct audit *a,
		      int (*labels)(void *arg, const char *name,
				    const char **tenant, const char **profile),
		      void *arg);

/*
 * An entry of entries_dir: EVENT ("entry_added", "entry_changed",
 * "entry_invalid", "entry_removed", "revocation_queued", "file_deleted")
 * for NAME of TENANT and PROFILE, with KEY: VALUE (a file, a serial) and
 * WHY the error (NULL: done).
 */
void audit_fleet(struct audit *a, const char *event, const char *name,
		 const char *tenant, const char *profile, const char *key,
		 const char *value, const char *why);

#endif
