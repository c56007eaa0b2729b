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
 * Read a small credential file (at most MAX bytes) into a malloc'd,
 * NUL-terminated string with trailing white space removed.  Unless
 * ALLOW_INSECURE, a file readable by group or others is refused.
 * Returns 0 or a negative errno with the cause in ERR; *OUT is set only on
 * success.  The contents never reach ERR.
 */
int files_read_secret(const char *path, size_t max, int allow_insecure,
		      char **out, char *err, size_t errlen);

/* Overwrite and free a secret string. */
void files_secret_free(char *s);

#endif
