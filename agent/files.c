/*
 * files: atomic, durable writes and careful credential reads.
 *
 * DESIGN / invariants: the destination is either its old bytes or its new
 * bytes, never a mix, whatever crash or signal happens in between: the new
 * bytes go to "DIR/.NAME.tmp-XXXXXX", created O_EXCL|O_NOFOLLOW (a planted
 * symlink cannot redirect the write), and rename(2) swaps it in only after
 * fsync.  The temp file is removed on every failure path.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Does PATH hold exactly DATA with MODE (and OWNER/GROUP if given)? */
static int
same_contents(const char *path, const void *data, size_t len, unsigned mode,
	      uid_t owner, gid_t group)
{
	struct stat st;
	char buf[8192];
	size_t off = 0;
	int fd, same = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size != len || (st.st_mode & 07777) != mode ||
	    (owner != (uid_t)-1 && st.st_uid != owner) ||
	    (group != (gid_t)-1 && st.st_gid != group))
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		if (off + (size_t)n > len ||
		    memcmp(buf, (const char *)data + off, (size_t)n) != 0)
			goto out;
		off += (size_t)n;
	}
	same = off == len;
out:
	close(fd);
	return same;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create a fresh temp file next to PATH; its name goes into TMP. */
static int
open_temp(const char *path, char *tmp, size_t tmplen)
{
	char *copy = strdup(path), *copy2 = strdup(path);
	int fd = -1;

	if (copy == NULL || copy2 == NULL) {
		errno = ENOMEM;
		goto out;
	}
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[6];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			errno = EIO;
			break;
		}
		snprintf(tmp, tmplen, "%s/.%s.tmp-%02x%02x%02x%02x%02x%02x",
			 dirname(copy), basename(copy2), rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5]);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
out:
	free(copy);
	free(copy2);
	return fd;
}

static int
fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int
files_write_atomic(const char *path, const void *data, size_t len,
		   unsigned mode, uid_t owner, gid_t group, char *err,
		   size_t errlen)
{
	char tmp[4096];
	const char *step = "create a temp file for";
	int fd, rc;

	if (same_contents(path, data, len, mode, owner, group))
		return FILES_UNCHANGED;
	fd = open_temp(path, tmp, sizeof(tmp));
	if (fd < 0) {
		rc = -errno;
		goto fail_open;
	}
	step = "write";
	rc = write_all(fd, data, len);
	if (rc == 0 && fchmod(fd, mode) != 0) {
		step = "chmod";
		rc = -errno;
	}
	if (rc == 0 && (owner != (uid_t)-1 || group != (gid_t)-1) &&
	    fchown(fd, owner, group) != 0) {
		step = "chown";
		rc = -errno;
	}
	if (rc == 0 && fsync(fd) != 0) {
		step = "fsync";
		rc = -errno;
	}
	if (close(fd) != 0 && rc == 0) {
		step = "close";
		rc = -errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		step = "rename into place";
		rc = -errno;
	}
	if (rc != 0) {
		unlink(tmp);
		goto fail_open;
	}
	rc = fsync_dir(path);
	if (rc != 0) {
		/* The new file is in place; only its durability is in doubt. */
		snprintf(err, errlen, "%s: fsync of directory: %s", path,
			 strerror(-rc));
		return rc;
	}
	return FILES_WRITTEN;
fail_open:
	snprintf(err, errlen, "%s: cannot %s it: %s", path, step, strerror(-rc));
	return rc;
}

int
files_read_secret(const char *path, size_t max, int allow_insecure,
		  char **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (!allow_insecure && (st.st_mode & 0044)) {
		rc = -EPERM;
		snprintf(err, errlen,
			 "%s: mode %04o lets group or others read a credential; "
			 "chmod 0600 it, or set auth.allow_insecure_file_mode: true",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = -EFBIG;
			snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		rc = -ENODATA;
		snprintf(err, errlen, "%s: empty", path);
		goto out;
	}
	*out = buf;
	buf = NULL;
out:
	if (buf) {
		OPENSSL_cleanse(buf, max + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

void
files_secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
