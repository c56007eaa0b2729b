/*
 * fleet: entries_dir, a directory of small YAML files, one certificate
 * each (a tenant's keystore), made ordinary certificates: entries by the
 * profiles of the main file.
 *
 * DESIGN: the fleet keeps, per file, what it was read from (inode, size,
 * times), what it said (the entry) and the certificate definition its
 * profile made of it.  A scan stats every file and reads only those that
 * changed, so ten thousand unchanged files cost ten thousand stat calls
 * and no parsing; a definition that did not change is the same pointer
 * as before.  A file that cannot be read or checked is reported with
 * file:line:col and skipped; if it was valid before, what it said before
 * stays in force (a bad edit never removes a certificate).  A file that
 * is gone is a removal: once the engine has let go of the certificate
 * (certs_configure), fleet_retire() queues the revocation of the serial
 * on disk, deletes the files (the key overwritten with zeros first) and
 * records each step in the audit log.
 *
 * The directory is watched (uv_fs_event); a burst of events is folded
 * into one call of the changed callback a second after the last one.
 */
#ifndef CERTAGENT_FLEET_H
#define CERTAGENT_FLEET_H

#include <stddef.h>
#include <uv.h>

#include "certs.h"

struct audit;
struct config;
struct fleet;
struct revq;

#define FLEET_DEBOUNCE_MS 1000

/*
 * A fleet for DIR.  CHANGED (may be NULL) is called from the loop, a
 * second after the directory last changed.  0, or a negative errno.
 * The watch starts with fleet_watch().
 */
int fleet_new(uv_loop_t *loop, const char *dir, void (*changed)(void *arg),
	      void *arg, struct fleet **out);

/* Watch the directory (again, after it was missing).  0 or -errno. */
int fleet_watch(struct fleet *f);

/* Use AUDIT (may be NULL) from now on. */
void fleet_set_audit(struct fleet *f, struct audit *audit);

/*
 * Read the directory against CFG (its profiles).  FORCE: make every
 * definition again (the profiles changed).  Then the definitions to hand
 * the engine are fleet_build()'s.  0, or a negative errno when the
 * directory cannot be read (nothing is removed then).
 */
int fleet_scan(struct fleet *f, const struct config *cfg, int force);

/*
 * After the watch called CHANGED: read the files it named (stat each,
 * parse those that moved, a missing one is removed), or every file when
 * it could not name them all.  The same results as fleet_scan() without
 * FORCE, at the cost of the changed files rather than of the directory.
 */
int fleet_scan_changed(struct fleet *f, const struct config *cfg);

/*
 * MAIN's certificates: entries followed by the fleet's, in *OUT (MAIN's
 * options otherwise).  The array is the fleet's and stays valid until
 * the fleet_build() after the next one, so the engine may compare old
 * and new definitions.  A fleet entry whose name a certificates: entry
 * has is reported and left out.  0 or -ENOMEM (then *OUT is MAIN).
 */
int fleet_build(struct fleet *f, const struct certs_opts *main,
		struct certs_opts *out);

/*
 * The engine has the definitions of the last fleet_build(): revoke and
 * delete what was removed (REVQ may be NULL), free what was replaced.
 */
void fleet_retire(struct fleet *f, struct revq *revq);

/*
 * The entries whose file changed what they ask for since the last
 * fleet_retire(): how many, and the I-th's name in *NAME.  They are
 * issued again (their file is the operator's word), where a change of a
 * profile only has the files on disk checked against it.
 */
size_t fleet_edited(const struct fleet *f, size_t i, const char **name);

/* The tenant and profile of certificate NAME, for the audit log. */
int fleet_labels(void *f, const char *name, const char **tenant,
		 const char **profile);

struct fleet_stats {
	size_t entries;		/* files that make a certificate */
	size_t invalid;		/* files that do not (now) */
	size_t removed;		/* removals handled since the start */
	uint64_t scans;
	size_t last_read;	/* files read (parsed) by the last scan */
	size_t last_removed;	/* files gone at the last scan */
};
void fleet_get_stats(const struct fleet *f, struct fleet_stats *st);

/* The I-th invalid file and its first error, for /v1/status; 0 or -1. */
int fleet_invalid(const struct fleet *f, size_t i, const char **file,
		  const char **error);

const char *fleet_dir(const struct fleet *f);

/* Stop watching; memory is freed from the loop. */
void fleet_close(struct fleet *f);

#endif
