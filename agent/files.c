/*
 * files: atomic, durable writes and careful credential reads.
 *
 * DESIGN / invariants: the destination is either its old bytes or its new
 * bytes, never a mix, whatever crash or signal happens in between: the new
 * bytes go to "DIR/.NAME.tmp-XXXXXX", created O_EXCL|O_NOFOLLOW (a planted
 * symlink cannot redirect the write), and rename(2) swaps it in only after
 * fsync.  The temp file is removed on every failure path.
 *
 * A directory where a file should be is refused, never replaced: rename(2)
 * would fail on it anyway, but only after the other files of the set were
 * renamed, leaving a certificate beside a key of another issuance.  So every
 * destination of a set is checked before the first rename.  A symlink
 * there is replaced by the file (rename replaces the link, not its target).
 */
#include "files.h"
#include "buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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


/* same_contents() through symlinks: for files inside ..data. */
static int
same_contents_follow(const char *path, const void *data, size_t len,
		     unsigned mode, uid_t owner, gid_t group)
{
	char real[4096];

	if (realpath(path, real) == NULL)
		return 0;
	return same_contents(real, data, len, mode, owner, group);
}

/* Is PATH a symlink to "..data/NAME"? */
static int
is_data_link(const char *path, const char *name)
{
	char target[512], want[512];
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return 0;
	target[n] = '\0';
	snprintf(want, sizeof(want), "..data/%s", name);
	return strcmp(target, want) == 0;
}

/* Remove DIR and the plain files in it (a version directory). */
static void
remove_tree_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Remove "..VERSION" directories under DIR that ..data does not point
 * to: what a writer killed between mkdir and the swap left behind. */
static void
remove_stale_versions(const char *dir)
{
	char link[8192], live[256], p[8192];
	struct dirent *e;
	ssize_t n;
	DIR *d;

	snprintf(link, sizeof(link), "%s/..data", dir);
	n = readlink(link, live, sizeof(live) - 1);
	live[n > 0 ? n : 0] = '\0';
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "..", 2) != 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "..data") == 0 ||
		    strcmp(e->d_name, "..data_tmp") == 0 || strcmp(e->d_name, live) == 0 ||
		    e->d_type != DT_DIR)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		remove_tree_flat(p);
	}
	closedir(d);
}

struct staged {
	char *path;
	char tmp[4096];
	int backup;
};

struct files_set {
	struct staged *items;
	size_t n, cap;
	size_t committed;
};

/* Refuse a directory at PATH: it is the operator's, and no rename may
 * replace it. */
static int
not_a_directory(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a file; "
			 "refusing to replace it", path);
		return -EISDIR;
	}
	return 0;
}

struct files_set *
files_set_new(void)
{
	return calloc(1, sizeof(struct files_set));
}

/* Write DATA into a new temp file next to PATH; its name goes into TMP. */
static int
stage(const char *path, const void *data, size_t len, unsigned mode,
      uid_t owner, gid_t group, char *tmp, size_t tmplen, char *err,
      size_t errlen)
{
	const char *step = "create a temp file for";
	int fd, rc;

	fd = open_temp(path, tmp, tmplen);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot %s it: %s", path, step,
			 strerror(-rc));
		return rc;
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
	if (rc != 0) {
		unlink(tmp);
		snprintf(err, errlen, "%s: cannot %s it: %s", path, step,
			 strerror(-rc));
	}
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
files_remove_stale_temps_in(const char *dir, const char *const *names,
			    size_t n)
{
	char p[8192], name[NAME_MAX + 1];
	const char *key = name;
	struct dirent *e;
	int removed = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		/* ".NAME.tmp-XXXXXX": NAME ends at the last ".tmp-". */
		const char *t = e->d_name[0] == '.' ? strstr(e->d_name + 1, ".tmp-") : NULL;
		for (const char *next = t; next; next = strstr(next + 1, ".tmp-"))
			t = next;
		if (t == NULL || (size_t)(t - e->d_name - 1) > NAME_MAX)
			continue;
		memcpy(name, e->d_name + 1, (size_t)(t - e->d_name - 1));
		name[t - e->d_name - 1] = '\0';
		if (bsearch(&key, names, n, sizeof(*names), cmp_name) == NULL)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int
files_remove_stale_temps(const char *path)
{
	char *copy = strdup(path), *copy2 = strdup(path);
	const char *base;
	int n = 0;

	if (copy && copy2) {
		base = basename(copy2);
		n = files_remove_stale_temps_in(dirname(copy), &base, 1);
	}
	free(copy);
	free(copy2);
	return n;
}

int
files_set_add(struct files_set *s, const char *path, const void *data,
	      size_t len, unsigned mode, uid_t owner, gid_t group, int backup,
	      char *err, size_t errlen)
{
	struct staged *it;
	int rc;

	if (same_contents(path, data, len, mode, owner, group))
		return FILES_UNCHANGED;
	rc = not_a_directory(path, err, errlen);
	if (rc != 0)
		return rc;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct staged *p = realloc(s->items, cap * sizeof(*p));
		if (p == NULL) {
			snprintf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		s->items = p;
		s->cap = cap;
	}
	it = &s->items[s->n];
	it->path = strdup(path);
	it->backup = backup;
	if (it->path == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	rc = stage(path, data, len, mode, owner, group, it->tmp, sizeof(it->tmp),
		   err, errlen);
	if (rc != 0) {
		free(it->path);
		return rc;
	}
	s->n++;
	return FILES_WRITTEN;
}

/* Keep the current PATH as PATH.bak (a hard link, swapped in by rename). */
static int
keep_backup(const char *path, char *err, size_t errlen)
{
	char bak[4200], tmp[4300];

	snprintf(bak, sizeof(bak), "%s.bak", path);
	snprintf(tmp, sizeof(tmp), "%s.bak.tmp", path);
	unlink(tmp);
	if (link(path, tmp) != 0) {
		if (errno == ENOENT)
			return 0;	/* nothing to keep yet */
		snprintf(err, errlen, "%s: cannot keep a backup: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (rename(tmp, bak) != 0) {
		int rc = -errno;
		unlink(tmp);
		snprintf(err, errlen, "%s: cannot keep a backup: %s", path,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

int
files_set_commit(struct files_set *s, char *err, size_t errlen)
{
	int rc = 0;

	/* Nothing is renamed while one destination cannot take its file. */
	for (size_t i = s->committed; i < s->n; i++) {
		rc = not_a_directory(s->items[i].path, err, errlen);
		if (rc != 0)
			return rc;
	}
	/* Backups first, so the renames that follow are back to back. */
	for (size_t i = 0; i < s->n; i++) {
		if (s->items[i].backup) {
			rc = keep_backup(s->items[i].path, err, errlen);
			if (rc != 0)
				return rc;
		}
	}
	for (; s->committed < s->n; s->committed++) {
		struct staged *it = &s->items[s->committed];
		if (rename(it->tmp, it->path) != 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot rename into place: %s",
				 it->path, strerror(-rc));
			return rc;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		/* Each directory once: a set usually lives in one. */
		const char *path = s->items[i].path, *slash = strrchr(path, '/');
		size_t dlen = slash ? (size_t)(slash - path) : 0, j;
		for (j = 0; j < i; j++) {
			const char *q = s->items[j].path, *qs = strrchr(q, '/');
			if ((qs ? (size_t)(qs - q) : 0) == dlen &&
			    strncmp(q, path, dlen) == 0)
				break;
		}
		if (j < i)
			continue;
		rc = fsync_dir(path);
		if (rc != 0) {
			snprintf(err, errlen, "%s: fsync of directory: %s",
				 s->items[i].path, strerror(-rc));
			return rc;
		}
	}
	return (int)s->n;
}

size_t
files_set_count(const struct files_set *s)
{
	return s->committed;
}

const char *
files_set_path(const struct files_set *s, size_t i)
{
	return i < s->committed ? s->items[i].path : NULL;
}

void
files_set_free(struct files_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (i >= s->committed)
			unlink(s->items[i].tmp);
		free(s->items[i].path);
	}
	free(s->items);
	free(s);
}

int
files_write_atomic(const char *path, const void *data, size_t len,
		   unsigned mode, uid_t owner, gid_t group, char *err,
		   size_t errlen)
{
	struct files_set *s = files_set_new();
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	rc = files_set_add(s, path, data, len, mode, owner, group, 0, err, errlen);
	if (rc == FILES_WRITTEN) {
		rc = files_set_commit(s, err, errlen);
		if (rc >= 0)
			rc = FILES_WRITTEN;
	}
	files_set_free(s);
	return rc;
}

int
files_write_atomic_dir(const char *dir, size_t n, const char *const *names,
		       const char *const *data, const size_t *lens,
		       const unsigned *modes, uid_t owner, gid_t group, char *err,
		       size_t errlen)
{
	char path[8192], ver[64], verdir[4200], old[256], tmp[8192];
	unsigned char rnd[4];
	int same = 1, rc = 0;
	ssize_t oldlen;
	struct timespec now;
	struct tm tm;

	for (size_t i = 0; i < n && same; i++) {
		snprintf(path, sizeof(path), "%s/..data/%s", dir, names[i]);
		same = same_contents_follow(path, data[i], lens[i], modes[i],
					    owner, group);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		same = same && is_data_link(path, names[i]);
	}
	if (same)
		return FILES_UNCHANGED;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(-rc));
		return rc;
	}
	remove_stale_versions(dir);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(ver, sizeof(ver), "..%04d_%02d_%02d_%02d_%02d_%02d.%02x%02x%02x%02x",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2], rnd[3]);
	snprintf(verdir, sizeof(verdir), "%s/%s", dir, ver);
	if (mkdir(verdir, 0755) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", verdir, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", verdir, names[i]);
		rc = files_write_atomic(path, data[i], lens[i], modes[i], owner,
					group, err, errlen);
		if (rc < 0)
			goto fail;
	}
	rc = fsync_dir(path);
	if (rc != 0) {
		snprintf(err, errlen, "%s: fsync: %s", verdir, strerror(-rc));
		goto fail;
	}
	/* The swap: one rename replaces ..data, so readers see one set. */
	snprintf(path, sizeof(path), "%s/..data", dir);
	oldlen = readlink(path, old, sizeof(old) - 1);
	old[oldlen > 0 ? oldlen : 0] = '\0';
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	unlink(tmp);
	if (symlink(ver, tmp) != 0 || rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
		snprintf(err, errlen, "%s: cannot swap ..data: %s", dir, strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char target[300];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (is_data_link(path, names[i]))
			continue;
		snprintf(target, sizeof(target), "..data/%s", names[i]);
		snprintf(tmp, sizeof(tmp), "%s/.%s.link-tmp", dir, names[i]);
		unlink(tmp);
		if (symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
			rc = -errno;
			unlink(tmp);
			snprintf(err, errlen, "%s: cannot link to ..data: %s", path,
				 strerror(-rc));
			return rc;	/* the new set is live; only a name is missing */
		}
	}
	snprintf(path, sizeof(path), "%s/x", dir);
	fsync_dir(path);
	if (old[0] == '.' && old[1] == '.' && strchr(old, '/') == NULL &&
	    strcmp(old, ver) != 0) {
		snprintf(verdir, sizeof(verdir), "%s/%s", dir, old);
		remove_tree_flat(verdir);
	}
	return FILES_WRITTEN;
fail:
	remove_tree_flat(verdir);
	return rc;
}

int
files_owner_ids(const char *owner, const char *group, uid_t *uid, gid_t *gid,
	  char *err, size_t errlen)
{
	char *end;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (owner && *owner) {
		unsigned long v = strtoul(owner, &end, 10);
		struct passwd *pw = *end ? getpwnam(owner) : NULL;
		if (*end && pw == NULL) {
			snprintf(err, errlen, "no user '%s'", owner);
			return -ENOENT;
		}
		*uid = *end ? pw->pw_uid : (uid_t)v;
	}
	if (group && *group) {
		unsigned long v = strtoul(group, &end, 10);
		struct group *gr = *end ? getgrnam(group) : NULL;
		if (*end && gr == NULL) {
			snprintf(err, errlen, "no group '%s'", group);
			return -ENOENT;
		}
		*gid = *end ? gr->gr_gid : (gid_t)v;
	}
	return 0;
}

/*
 * Open PATH and read it whole: a regular file of at most MAX bytes and,
 * with PRIVATE, one that group and others cannot read.  *OUT is malloc'd
 * (MAX + 1 bytes, NUL-terminated) and cleansed by the caller if secret.
 */
static int
read_whole(const char *path, size_t max, int private, char **out,
	   size_t *outlen, char *err, size_t errlen)
{
	/* A secret buffer (a grown copy is wiped), capped at MAX, so a file
	 * that grows while we read is refused; grown as the bytes come, so
	 * a 40-byte secret-id held for the agent's life costs no more. */
	struct buf b = BUF_INIT(max);
	char chunk[4096];
	struct stat st;
	int fd, rc = 0;

	b.secret = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & 0044)) {
		rc = -EPERM;
		snprintf(err, errlen,
			 "%s: mode %04o lets group or others read a credential; "
			 "chmod 0600 it, or set auth.allow_insecure_file_mode: true",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = -E2BIG;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_append(&b, chunk, (size_t)n);
		if (rc != 0)
			goto out;
	}
	*out = buf_take(&b, outlen);
	if (*out == NULL)
		rc = b.err ? b.err : -ENOMEM;
out:
	if (rc == -E2BIG) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
	} else if (rc == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory", path);
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	buf_wipe(&b);
	close(fd);
	return rc;
}

int
files_read(const char *path, size_t max, char **out, size_t *len, char *err,
	   size_t errlen)
{
	return read_whole(path, max, 0, out, len, err, errlen);
}

int
files_read_secret(const char *path, size_t max, int allow_insecure,
		  char **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_whole(path, max, !allow_insecure, &buf, &len, err, errlen);
	if (rc != 0)
		return rc;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "%s: empty", path);
		free(buf);
		return -ENODATA;
	}
	*out = buf;
	return 0;
}


/* ---- import ---- */
int
files_make_parents(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	size_t len;
	struct stat st;
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (stat(dir, &st) == 0)
		return 0;	/* the common case: nothing to make */
	for (size_t i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			int rc = -errno;
			snprintf(err, errlen, "%s: cannot create directory %s: %s",
				 path, dir, strerror(-rc));
			return rc;
		}
		if (i < len)
			dir[i] = '/';
	}
	return 0;
}

int
files_append(const char *path, const void *data, size_t len, unsigned mode,
	     uid_t owner, gid_t group, char *err, size_t errlen)
{
	const char *p = data;
	size_t done = 0;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		  (mode_t)mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
	    fchown(fd, owner, group) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot chown: %s", path, strerror(-rc));
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot chmod: %s", path, strerror(-rc));
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: write: %s", path, strerror(-rc));
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: fsync: %s", path, strerror(-rc));
	}
out:
	close(fd);
	return rc;
}
