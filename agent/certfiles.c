/*
 * certfiles: the files of a certificates: entry.  See certfiles.h.
 *
 * DESIGN / invariants:
 *  - Files are composed in memory first; any failure before the commit
 *    leaves every destination as it was.
 *  - Buffers that hold the key are wiped before they are freed.
 *  - With atomic_dir, paths are bare names inside the directory and one
 *    owner (the first one set) applies to the whole directory.
 */
#include "certfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "files.h"
#include "log.h"
#include "x509.h"

#define PEM_MAX (1024 * 1024)

/* The on-disk path of file F (inside atomic_dir when set). */
static void
file_path(const struct cert_files *cc, const struct cert_file *f, char *buf,
	  size_t len)
{
	if (cc->atomic_dir)
		snprintf(buf, len, "%s/%s", cc->atomic_dir, f->path);
	else
		snprintf(buf, len, "%s", f->path);
}

static const struct cert_file *
find_file(const struct cert_files *cc, const char *kind)
{
	for (size_t i = 0; i < cc->n; i++)
		if (strcmp(cc->files[i].name, kind) == 0)
			return &cc->files[i];
	return NULL;
}

/* Read file KIND of CC, or NULL if it is not configured or unreadable. */
static char *
read_kind(const struct cert_files *cc, const char *kind)
{
	const struct cert_file *f = find_file(cc, kind);
	char path[4096], err[512], *buf = NULL;
	size_t len;

	if (f == NULL)
		return NULL;
	file_path(cc, f, path, sizeof(path));
	if (files_read(path, PEM_MAX, &buf, &len, err, sizeof(err)) != 0)
		return NULL;
	return buf;
}

void
certfiles_load(const struct cert_files *cc, struct cert_loaded *out)
{
	char *bundle = NULL;

	memset(out, 0, sizeof(*out));
	out->cert = read_kind(cc, "cert");
	out->key = read_kind(cc, "key");
	out->chain = read_kind(cc, "chain");
	if (out->cert == NULL || out->key == NULL) {
		bundle = read_kind(cc, "bundle");
		if (out->cert == NULL && bundle)
			out->cert = strdup(bundle);
		if (out->key == NULL && bundle)
			out->key = strdup(bundle);
	}
	if (cc->trust_anchor) {
		char err[512];
		size_t len;
		if (files_read(cc->trust_anchor, PEM_MAX, &out->ca, &len, err,
			       sizeof(err)) != 0)
			out->ca = NULL;
	}
	if (out->ca == NULL)
		out->ca = read_kind(cc, "ca");
	if (out->chain == NULL && bundle && x509_count_certs(bundle) > 1)
		out->chain = strdup(bundle);
	secret_free(bundle);
}

void
certfiles_loaded_free(struct cert_loaded *l)
{
	free(l->cert);
	secret_free(l->key);
	free(l->chain);
	free(l->ca);
	memset(l, 0, sizeof(*l));
}

/* The bytes of file F: one part, or a bundle's parts in order, each
 * ending in a newline. */
static int
compose(const struct cert_file *f, const struct cert_material *mt,
	struct buf *b)
{
	const char *single[1] = { f->name };
	const char *const *parts = f->n_parts ? (const char *const *)f->parts : single;
	size_t n = f->n_parts ? f->n_parts : 1;

	b->secret = 1;	/* any part may be the key */
	for (size_t i = 0; i < n; i++) {
		const char *p = strcmp(parts[i], "cert") == 0	 ? mt->cert
				: strcmp(parts[i], "key") == 0	 ? mt->key
				: strcmp(parts[i], "chain") == 0 ? mt->chain
								 : mt->ca;
		size_t len = p ? strlen(p) : 0;

		if (len == 0)
			continue;
		buf_append(b, p, len);
		if (p[len - 1] != '\n')
			buf_putc(b, '\n');
	}
	return buf_putc(b, '\0') == 0 ? (b->len--, 0) : b->err;
}

static int
resolve_owner(const struct cert_file *f, uid_t *uid, gid_t *gid, char *err,
	      size_t errlen)
{
	char why[256];
	int rc = files_owner_ids(f->owner, f->group, uid, gid, why, sizeof(why));

	if (rc != 0)
		snprintf(err, errlen, "%s: %s", f->path, why);
	return rc;
}

size_t
certfiles_count(char *const *paths)
{
	size_t n = 0;

	while (paths && paths[n])
		n++;
	return n;
}

void
certfiles_paths_free(char **paths)
{
	for (size_t i = 0; paths && paths[i]; i++)
		free(paths[i]);
	free(paths);
}

/* A NULL-terminated copy of the N paths PATH(I), or NULL (out of memory:
 * the hooks then hear of no path, the files are written all the same). */
static char **
path_list(size_t n, const struct cert_files *cc, const struct files_set *set)
{
	char **paths = calloc(n + 1, sizeof(*paths));

	for (size_t i = 0; paths && i < n; i++) {
		char path[4096];
		if (set)
			snprintf(path, sizeof(path), "%s", files_set_path(set, i));
		else
			file_path(cc, &cc->files[i], path, sizeof(path));
		paths[i] = strdup(path);
		if (paths[i] == NULL)
			break;	/* the list ends here; hooks hear of fewer */
	}
	return paths;
}

static int
write_atomic_dir(const struct cert_files *cc, struct buf *data, char ***paths,
		 char *err, size_t errlen)
{
	size_t n = cc->n;
	const char **names = calloc(n, sizeof(*names));
	const char **bytes = calloc(n, sizeof(*bytes));
	size_t *lens = calloc(n, sizeof(*lens));
	unsigned *modes = calloc(n, sizeof(*modes));
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int rc = -ENOMEM;

	if (!names || !bytes || !lens || !modes) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		names[i] = cc->files[i].path;
		bytes[i] = data[i].s ? data[i].s : "";
		lens[i] = data[i].len;
		modes[i] = cc->files[i].mode;
	}
	/* One owner for the whole directory: the first one set. */
	for (size_t i = 0; i < n; i++) {
		if (cc->files[i].owner || cc->files[i].group) {
			rc = resolve_owner(&cc->files[i], &uid, &gid, err, errlen);
			if (rc != 0)
				goto out;
			break;
		}
	}
	rc = files_write_atomic_dir(cc->atomic_dir, n, names, bytes, lens, modes,
				    uid, gid, err, errlen);
	if (rc == FILES_WRITTEN)
		*paths = path_list(n, cc, NULL);
	rc = rc < 0 ? rc : 0;
out:
	free(names);
	free(bytes);
	free(lens);
	free(modes);
	return rc;
}

int
certfiles_write(const struct cert_files *cc, const struct cert_material *mt,
		char ***paths, char *err, size_t errlen)
{
	size_t n = cc->n;
	struct buf *data = calloc(n ? n : 1, sizeof(*data));
	struct files_set *set = NULL;
	int rc = -ENOMEM;

	*paths = NULL;
	if (data == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (compose(&cc->files[i], mt, &data[i]) != 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (cc->atomic_dir) {
		rc = write_atomic_dir(cc, data, paths, err, errlen);
		goto out;
	}
	set = files_set_new();
	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uid_t uid;
		gid_t gid;
		char path[4096];

		file_path(cc, &cc->files[i], path, sizeof(path));
		rc = resolve_owner(&cc->files[i], &uid, &gid, err, errlen);
		if (rc == 0)
			rc = files_set_add(set, path, data[i].s ? data[i].s : "",
					   data[i].len, cc->files[i].mode, uid, gid,
					   cc->files[i].backup, err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = files_set_commit(set, err, errlen);
	if (rc > 0)
		*paths = path_list(files_set_count(set), cc, set);
	rc = rc < 0 ? rc : 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_wipe(&data[i]);
	free(data);
	files_set_free(set);
	return rc;
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* By directory, then by name, so the files of one directory stand
 * together ("/a/x" and "/a/z" around "/a/b/y" would not, by strcmp). */
static int
cmp_dir_then_name(const void *a, const void *b)
{
	const char *pa = *(const char *const *)a, *pb = *(const char *const *)b;
	const char *sa = strrchr(pa, '/'), *sb = strrchr(pb, '/');
	size_t da = sa ? (size_t)(sa - pa) : 0, db = sb ? (size_t)(sb - pb) : 0;
	int c = strncmp(pa, pb, da < db ? da : db);

	if (c != 0)
		return c;
	if (da != db)
		return da < db ? -1 : 1;
	return strcmp(sa ? sa : pa, sb ? sb : pb);
}

void
certfiles_remove_stale(const struct cert_files *const *sets, size_t ncerts)
{
	size_t n = 0, cap = 0;
	const char **paths = NULL, **names = NULL;

	for (size_t i = 0; i < ncerts; i++) {
		const struct cert_files *cc = sets[i];
		for (size_t j = 0; !cc->atomic_dir && j < cc->n; j++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				const char **p = realloc(paths, ncap * sizeof(*p));
				if (p == NULL)
					goto out;
				paths = p;
				cap = ncap;
			}
			paths[n++] = cc->files[j].path;
		}
	}
	if (n == 0)
		goto out;
	/* Sorted by directory, each directory's paths are one run: one
	 * scan each. */
	qsort(paths, n, sizeof(*paths), cmp_dir_then_name);
	names = calloc(n, sizeof(*names));
	if (names == NULL)
		goto out;
	for (size_t i = 0; i < n;) {
		const char *slash = strrchr(paths[i], '/');
		size_t dlen = slash ? (size_t)(slash - paths[i]) : 0, k = 0, j;
		char dir[4096];

		for (j = i; j < n; j++) {
			const char *s2 = strrchr(paths[j], '/');
			size_t d2 = s2 ? (size_t)(s2 - paths[j]) : 0;
			if (d2 != dlen || strncmp(paths[j], paths[i], dlen) != 0)
				break;
			names[k++] = s2 ? s2 + 1 : paths[j];
		}
		snprintf(dir, sizeof(dir), "%.*s", (int)(dlen ? dlen : 1),
			 dlen ? paths[i] : "/");
		qsort(names, k, sizeof(*names), cmp_path);
		int removed = files_remove_stale_temps_in(dir, names, k);
		if (removed > 0)
			log_info("certs", "removed %d stale temp file%s in %s", removed,
				 removed == 1 ? "" : "s", dir);
		i = j;
	}
out:
	free(paths);
	free(names);
}
