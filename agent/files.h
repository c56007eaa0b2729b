/*
 * files: the agent's only way to put bytes on disk or read credentials.
 *
 * DESIGN: a write is atomic and durable or it did not happen: a temp file
 * in the destination's directory (O_EXCL|O_NOFOLLOW), written, fchmod'd and
 * fchown'd, fsync'd, renamed over the destination, then the directory is
 * fsync'd.  A destination whose bytes already equal the new bytes (and
 * whose mode matches) is left untouched, so watchers are not woken.
 */
#ifndef CERTAGENT_FILES_H
#define CERTAGENT_FILES_H

#include <stddef.h>
#include <sys/types.h>

#define FILES_UNCHANGED 0
#define FILES_WRITTEN 1

/*
 * Write DATA atomically to PATH with MODE, and OWNER/GROUP unless -1.
 * Returns FILES_WRITTEN, FILES_UNCHANGED, or a negative errno with the
 * cause in ERR.
 */
int files_write_atomic(const char *path, const void *data, size_t len,
		       unsigned mode, uid_t owner, gid_t group, char *err,
		       size_t errlen);

/*
 * A set of files that must change together (a certificate and its key).
 * Every new file is written to a temp file and fsync'd first; only when
 * all are staged does files_set_commit() rename them into place, one
 * right after the other, and fsync their directories.  A failure while
 * staging leaves every destination untouched.
 */
struct files_set;

struct files_set *files_set_new(void);

/*
 * Stage DATA for PATH.  Returns FILES_UNCHANGED (PATH already holds
 * exactly this, nothing staged), FILES_WRITTEN (staged), or a negative
 * errno with the cause in ERR.  With BACKUP, commit keeps the old file as
 * PATH.bak.
 */
int files_set_add(struct files_set *s, const char *path, const void *data,
		  size_t len, unsigned mode, uid_t owner, gid_t group,
		  int backup, char *err, size_t errlen);

/* Rename every staged file into place; returns how many, or <0. */
int files_set_commit(struct files_set *s, char *err, size_t errlen);

/* The paths committed, for hooks and logs. */
size_t files_set_count(const struct files_set *s);
const char *files_set_path(const struct files_set *s, size_t i);

/*
 * Remove temp files a killed writer left next to PATH (".NAME.tmp-*").
 * Only the one agent that owns PATH may call this.  Returns how many.
 */
int files_remove_stale_temps(const char *path);

/*
 * The same for every name of NAMES (N bare file names, sorted by strcmp)
 * in DIR, reading DIR once: a thousand certificates in one directory
 * cost one scan, not a thousand.
 */
int files_remove_stale_temps_in(const char *dir, const char *const *names,
				size_t n);

/* Remove temp files not committed, free the set. */
void files_set_free(struct files_set *s);

/*
 * The Kubernetes atomic-writer layout: write the N files NAMES[i] (bare
 * names) into a fresh DIR/..<version>/ directory, swap the DIR/..data
 * symlink to it in one rename, make sure DIR/NAME -> ..data/NAME, and
 * remove the previous version.  Readers see the old set or the new set,
 * never a mix.  Returns FILES_UNCHANGED when every file already holds
 * its bytes, FILES_WRITTEN, or a negative errno with ERR.
 */
int files_write_atomic_dir(const char *dir, size_t n, const char *const *names,
			   const char *const *data, const size_t *lens,
			   const unsigned *modes, uid_t owner, gid_t group,
			   char *err, size_t errlen);

/*
 * Resolve OWNER and GROUP (names or numeric ids; NULL or "" for none) to
 * ids, (uid_t)-1 / (gid_t)-1 where not given.  -ENOENT names the unknown
 * one in ERR.
 */
int files_owner_ids(const char *owner, const char *group, uid_t *uid,
		    gid_t *gid, char *err, size_t errlen);

/*
 * Read a whole small file (at most MAX bytes) into a malloc'd,
 * NUL-terminated buffer.  -ENOENT if it does not exist.
 */
int files_read(const char *path, size_t max, char **out, size_t *len,
	       char *err, size_t errlen);

/*
 * Read a small credential file (at most MAX bytes) into a malloc'd,
 * NUL-terminated string with trailing white space removed.  Unless
 * ALLOW_INSECURE, a file readable by group or others is refused.
 * Returns 0 or a negative errno with the cause in ERR; *OUT is set only on
 * success.  The contents never reach ERR.
 */
int files_read_secret(const char *path, size_t max, int allow_insecure,
		      char **out, char *err, size_t errlen);

/*
 * Append DATA to PATH (created with MODE when missing; OWNER/GROUP set
 * unless -1), not atomically: consul-template's writeToFile "append".
 * The file is fsync'd.  0, or a negative errno with the cause in ERR.
 */
int files_append(const char *path, const void *data, size_t len,
		 unsigned mode, uid_t owner, gid_t group, char *err,
		 size_t errlen);

/* ---- import ---- */
/*
 * Create the missing directories above PATH (not PATH itself), each
 * with mode 0755 less the umask, as `mkdir -p` would (Vault Agent's
 * create_dest_dirs).  0, or a negative errno with the reason in ERR.
 */
int files_make_parents(const char *path, char *err, size_t errlen);

#endif
