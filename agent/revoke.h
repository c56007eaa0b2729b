/*
 * revoke: certificate serials waiting to be revoked.
 *
 * DESIGN: a replaced certificate may be revoked a grace period after its
 * successor is written (revoke_previous_after), and a certificate of an
 * ephemeral workload when the agent stops (revoke_on_shutdown).  Both go
 * through one queue ordered by due time with one timer, so ten thousand
 * certificates cost one timer, not ten thousand.  The queue outlives
 * configuration reloads; it does not outlive the process (a pending
 * revocation is forgotten on restart, and the certificate still ends at
 * its NotAfter) unless revoke_journal: names a file, which keeps it
 * (lifecycle).  A failed revocation is retried with backoff a few times,
 * then logged and dropped; with a journal, until it succeeds.
 */
#ifndef CERTAGENT_REVOKE_H
#define CERTAGENT_REVOKE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"

struct audit;
struct revq;
struct vault;

/* What the queue takes from the configuration: vault.retry's backoff. */
struct revq_opts {
	struct backoff_opts retry;
	struct audit *audit;		/* the agent's; may be NULL */
	char *journal;			/* revoke_journal:, or NULL */
};

int revq_new(uv_loop_t *loop, struct vault *vault, const struct revq_opts *o,
	     struct revq **out);

/* Use O (borrowed) from now on. */
void revq_configure(struct revq *q, const struct revq_opts *o);

/*
 * Revoke SERIAL ("39:dd:..") of the PKI mount MOUNT at AT_MS (wall
 * clock; 0 or past: on the next loop turn).  NAME is for logs.
 */
int revq_add(struct revq *q, const char *name, const char *mount,
	     const char *serial, int64_t at_ms);

/*
 * Shutdown: send every queued revocation that is due now, and call DONE
 * once each has been answered (or failed once).  Revocations due later
 * are dropped and logged.  DONE runs from the loop, never before this
 * returns.
 */
void revq_flush(struct revq *q, void (*done)(void *arg), void *arg);

size_t revq_pending(const struct revq *q);

/* ---- lifecycle ---- */

/* revq_add() for the end of a grace: audited as "grace_end" when due. */
int revq_add_grace(struct revq *q, const char *name, const char *mount,
		   const char *serial, int64_t at_ms);

/*
 * Whether there is a Vault token to revoke with (1 when the queue is
 * made).  While there is none nothing is sent, so what a journal brought
 * back at start waits for the first login instead of failing once.
 */
void revq_token_ready(struct revq *q, int ready);

/* Write the journal now (it is written by itself shortly after every
 * change, and at close).  0, or a negative errno (logged). */
int revq_journal_save(struct revq *q);

struct revq_stats {
	uint64_t revoked;	/* since the start */
	uint64_t failures;	/* failed attempts since the start */
	size_t pending;		/* queued now */
	size_t failing;		/* queued, with at least one failed attempt */
};
void revq_get_stats(const struct revq *q, struct revq_stats *st);

/* One queued revocation, for /v1/status. */
struct revq_item {
	const char *name, *mount, *serial;
	int64_t due_ms;
	unsigned attempts;	/* failed so far */
	int grace;		/* the end of a grace, not yet reached */
};
size_t revq_count(const struct revq *q);
void revq_get_item(const struct revq *q, size_t i, struct revq_item *it);

/* The Vault PKI mount of an issue or sign path: "pki_int/issue/web" ->
 * "pki_int".  0, or -EINVAL when PATH has neither. */
int revq_mount_of(const char *path, char *mount, size_t len);

/* Cancel what is in flight; memory is freed from the loop. */
void revq_close(struct revq *q);

/* ---- fleet ---- */

/*
 * As revq_add(), but a failure is retried (with backoff) until Vault
 * answers that it is revoked, however long that takes: the certificate
 * of an entry that was removed.  Until the agent stops (see revq_flush).
 */
int revq_add_until_done(struct revq *q, const char *name, const char *mount,
			const char *serial, int64_t at_ms);

/* Queued revocations that have failed at least once and wait to retry. */
size_t revq_failing(const struct revq *q);

#endif
