/*
 * fleet: entries_dir, one certificate per file.  See fleet.h.
 *
 * DESIGN / invariants:
 *  - Items live in an array and are found by name through an open
 *    addressing index rebuilt after each scan, so a scan is O(files)
 *    whatever the number of entries; nothing here is quadratic.
 *  - A file is read again only when its inode, size, mtime or ctime
 *    moved.  An item's definition (struct cert_def) is a heap object
 *    whose address the engine keeps through the array fleet_build()
 *    makes; a definition replaced or removed is freed in fleet_retire(),
 *    after the engine has switched to the new array.
 *  - A removal acts on what is on disk: the serial is read from the
 *    entry's certificate file (the engine may be between two issuances),
 *    the revocation is queued to be retried until Vault confirms it, and
 *    then the files are deleted; a key file is overwritten with
 *    zeros and fsync'd before the unlink.  That defeats a reader of the
 *    same blocks on an ordinary file system, nothing more: see
 *    docs/fleets.md for what it does not guarantee.
 *  - Audit records name the entry, its tenant and its profile, never
 *    key material.  The labels of a removed entry are remembered, so the
 *    revocation's own record (from revoke.c, later) carries them too.
 */
#include "fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "certfiles.h"
#include "config.h"
#include "log.h"
#include "revoke.h"
#include "x509.h"

#define FLEET_ERRBUF 4096
#define FLEET_NAME_MAX 200
#define FLEET_PENDING_MAX 256	/* more changed names: read every file */

struct item {
	char *name;		/* the file's stem: the certificate's name */
	char *file;		/* DIR/NAME.yaml */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	int read;		/* the stat fields above are of a read */
	struct fleet_entry_def raw;	/* what the file said (last valid) */
	int has_raw;
	struct cert_def *def;	/* in force; NULL: never valid */
	char *error;		/* why the file is not (now) valid */
	int seen;		/* there at this scan (or not looked at) */
	int visited;		/* looked at by this scan */
	size_t idx;		/* its place in f->items */
	int yml;		/* its file is NAME.yml, not NAME.yaml */
};

struct label {
	char *name, *tenant, *profile;
};

struct fleet {
	uv_loop_t *loop;
	char *dir;
	void (*changed)(void *arg);
	void *arg;
	struct audit *audit;
	uv_fs_event_t ev;
	uv_timer_t debounce;
	int watching, closing, open_handles;

	struct item **items;
	size_t n, cap;
	size_t *slots, mask;	/* index of items by name */

	struct cert_def **retired;	/* replaced: freed by fleet_retire() */
	size_t n_retired, cap_retired;
	struct item **removed;		/* gone: acted on by fleet_retire() */
	size_t n_removed, cap_removed;
	struct label *ghosts;		/* labels of removed entries */
	size_t n_ghosts;
	char **edited;			/* entries whose file changed them */
	size_t n_edited, cap_edited;
	char **pending;			/* names the watch reported */
	size_t n_pending, cap_pending;
	int pending_full;		/* ... or too many, or a name missing */

	struct cert_def *built, *built_prev;	/* fleet_build()'s arrays */
	size_t cap_built, cap_prev;
	struct fleet_stats stats;
};

static size_t
hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	/* FNV's low bits, the ones a table's mask keeps, mix poorly for
	 * names that differ in their last digits: fold the high bits in. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int
reindex(struct fleet *f)
{
	size_t size = 16, *slots;

	while (size < f->n * 2)
		size *= 2;
	slots = calloc(size, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		size_t h = hash(f->items[i]->name) & (size - 1);
		f->items[i]->idx = i;
		while (slots[h])
			h = (h + 1) & (size - 1);
		slots[h] = i + 1;
	}
	free(f->slots);
	f->slots = slots;
	f->mask = size - 1;
	return 0;
}

static struct item *
find(const struct fleet *f, const char *name)
{
	if (f->slots == NULL)
		return NULL;
	for (size_t h = hash(name) & f->mask; f->slots[h];
	     h = (h + 1) & f->mask) {
		struct item *it = f->items[f->slots[h] - 1];
		if (strcmp(it->name, name) == 0)
			return it;
	}
	return NULL;
}

static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	p = realloc(*arr, c * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static void
retire_def(struct fleet *f, struct cert_def *d)
{
	if (d == NULL)
		return;
	if (grow((void **)&f->retired, &f->cap_retired, f->n_retired,
		 sizeof(*f->retired)) != 0) {
		/* Leaked rather than freed under the engine. */
		log_error("fleet", "out of memory; a definition is leaked");
		return;
	}
	f->retired[f->n_retired++] = d;
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	free(it->name);
	free(it->file);
	free(it->error);
	if (it->has_raw)
		config_free_entry(&it->raw);
	free(it);
}

static int is_entry_file(const char *n, size_t *stem);

static void
on_debounced(uv_timer_t *t)
{
	struct fleet *f = t->data;

	if (!f->closing && f->changed)
		f->changed(f->arg);
}

static void
on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct fleet *f = h->data;
	size_t stem;

	(void)events;
	if (status < 0)
		log_warn("fleet", "watching %s: %s", f->dir, uv_strerror(status));
	/* The names of the files that changed: the next read looks at those
	 * alone.  Without a name (or with too many) it reads them all. */
	if (status < 0 || filename == NULL || f->n_pending >= FLEET_PENDING_MAX) {
		f->pending_full = 1;
	} else if (!is_entry_file(filename, &stem)) {
		return;		/* a temp file, an editor's: nothing to read */
	} else if (!f->pending_full) {
		int dup = 0;
		for (size_t i = 0; i < f->n_pending && !dup; i++)
			dup = strcmp(f->pending[i], filename) == 0;
		if (!dup &&
		    (grow((void **)&f->pending, &f->cap_pending, f->n_pending,
			  sizeof(*f->pending)) != 0 ||
		     (f->pending[f->n_pending] = strdup(filename)) == NULL))
			f->pending_full = 1;
		else if (!dup)
			f->n_pending++;
	}
	if (!f->closing)
		uv_timer_start(&f->debounce, on_debounced, FLEET_DEBOUNCE_MS, 0);
}

int
fleet_new(uv_loop_t *loop, const char *dir, void (*changed)(void *arg),
	  void *arg, struct fleet **out)
{
	struct fleet *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL)
		return -ENOMEM;
	f->dir = strdup(dir);
	if (f->dir == NULL) {
		free(f);
		return -ENOMEM;
	}
	f->loop = loop;
	f->changed = changed;
	f->arg = arg;
	uv_fs_event_init(loop, &f->ev);
	uv_timer_init(loop, &f->debounce);
	f->ev.data = f->debounce.data = f;
	f->open_handles = 2;
	*out = f;
	return 0;
}

int
fleet_watch(struct fleet *f)
{
	int rc;

	if (f->watching)
		return 0;
	rc = uv_fs_event_start(&f->ev, on_fs_event, f->dir, 0);
	if (rc == 0)
		f->watching = 1;
	return rc;
}

void
fleet_set_audit(struct fleet *f, struct audit *audit)
{
	f->audit = audit;
}

static int
is_entry_file(const char *n, size_t *stem)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return 0;	/* hidden, and editors' swap files */
	if (len > 5 && strcmp(n + len - 5, ".yaml") == 0)
		*stem = len - 5;
	else if (len > 4 && strcmp(n + len - 4, ".yml") == 0)
		*stem = len - 4;
	else
		return 0;
	return 1;
}

static void
set_error(struct item *it, const char *err)
{
	const char *nl = strchr(err, '\n');
	size_t len = nl ? (size_t)(nl - err) : strlen(err);

	free(it->error);
	it->error = strndup(err, len);
}

/* Log each line of ERR. */
static void
log_lines(char *err)
{
	for (char *line = err, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		log_error("fleet", "%s", line);
	}
}

/* IT's definition from its entry and CFG's profile; 0 or -1 (IT->error). */
static int
make_def(struct fleet *f, struct item *it, const struct config *cfg,
	 int edited)
{
	const struct cert_def *p = config_profile(cfg, it->raw.profile);
	struct cert_def *d;
	char err[512];

	if (p == NULL) {
		snprintf(err, sizeof(err), "%s: profile '%s' is not in %s",
			 it->file, it->raw.profile, cfg->source);
		goto bad;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, sizeof(err), "%s: out of memory", it->file);
		goto bad;
	}
	if (config_expand_cert(p, it->raw.profile, &it->raw, it->name, d, err,
			       sizeof(err)) != 0) {
		char msg[sizeof(err)];
		free(d);
		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, sizeof(err), "%.200s: %.300s", it->file, msg);
		goto bad;
	}
	if (it->def && config_same_cert(it->def, d)) {
		config_free_cert(d);
		free(d);
		return 0;	/* the same pointer: the engine keeps it as is */
	}
	audit_fleet(f->audit, it->def ? "entry_changed" : "entry_added",
		    it->name, it->raw.tenant, it->raw.profile, "file",
		    it->file, NULL);
	log_info("fleet", "%s: %s (tenant %s, profile %s)", it->name,
		 it->def ? "changed" : "added", it->raw.tenant, it->raw.profile);
	if (edited && it->def &&
	    grow((void **)&f->edited, &f->cap_edited, f->n_edited,
		 sizeof(*f->edited)) == 0 &&
	    (f->edited[f->n_edited] = strdup(it->name)) != NULL)
		f->n_edited++;
	retire_def(f, it->def);
	it->def = d;
	free(it->error);
	it->error = NULL;
	return 0;
bad:
	log_error("fleet", "%s%s", err, it->def ? "; its previous definition "
		  "stays in force" : "; skipped");
	set_error(it, err);
	return -1;
}

/* Read IT's file again. */
static void
read_item(struct fleet *f, struct item *it, const struct config *cfg)
{
	struct fleet_entry_def raw;
	char *err = malloc(FLEET_ERRBUF);

	if (err == NULL)
		return;
	if (config_load_entry(cfg, it->file, NULL, 0, &raw, err,
			      FLEET_ERRBUF) != 0) {
		set_error(it, err);
		audit_fleet(f->audit, "entry_invalid", it->name,
			    it->has_raw ? it->raw.tenant : NULL,
			    it->has_raw ? it->raw.profile : NULL, "file",
			    it->file, it->error);
		log_error("fleet", "%s is not valid%s:", it->file,
			  it->def ? " (its previous definition stays in force)"
				  : " (skipped)");
		log_lines(err);
		free(err);
		return;
	}
	free(err);
	if (it->has_raw)
		config_free_entry(&it->raw);
	it->raw = raw;
	it->has_raw = 1;
	make_def(f, it, cfg, 1);
}

static struct item *
new_item(const char *dir, const char *fname, size_t stem)
{
	struct item *it = calloc(1, sizeof(*it));
	size_t len;

	if (it == NULL)
		return NULL;
	it->name = strndup(fname, stem);
	len = strlen(dir) + strlen(fname) + 2;
	it->file = malloc(len);
	if (it->name == NULL || it->file == NULL) {
		item_free(it);
		return NULL;
	}
	snprintf(it->file, len, "%s/%s", dir, fname);
	return it;
}

static int
stat_moved(const struct item *it, const struct stat *st)
{
	return !it->read || it->dev != st->st_dev || it->ino != st->st_ino ||
	       it->size != st->st_size ||
	       it->mtime.tv_sec != st->st_mtim.tv_sec ||
	       it->mtime.tv_nsec != st->st_mtim.tv_nsec ||
	       it->ctime.tv_sec != st->st_ctim.tv_sec ||
	       it->ctime.tv_nsec != st->st_ctim.tv_nsec;
}

/* Put the last item in the index (grown when half full). */
static void
index_last(struct fleet *f)
{
	size_t h;

	if (f->slots == NULL || f->n * 2 > f->mask + 1) {
		if (reindex(f) != 0)
			log_error("fleet", "out of memory indexing entries");
		return;
	}
	f->items[f->n - 1]->idx = f->n - 1;
	h = hash(f->items[f->n - 1]->name) & f->mask;
	while (f->slots[h])
		h = (h + 1) & f->mask;
	f->slots[h] = f->n;
}

/*
 * The file FNAME of the directory (open as DFD): read it when it moved
 * (or make its definition again, FORCE).  Returns -ENOENT when it is not
 * there (not a regular file), -ENOMEM, else 0.
 */
static int
scan_file(struct fleet *f, const struct config *cfg, int dfd,
	  const char *fname, int force, size_t *cursor)
{
	struct item *it;
	struct stat st;
	size_t stem;
	char name[FLEET_NAME_MAX + 1];
	int yml;

	if (!is_entry_file(fname, &stem))
		return 0;
	if (stem > FLEET_NAME_MAX) {
		log_error("fleet", "%s/%s: the name is longer than %d characters; "
			  "skipped", f->dir, fname, FLEET_NAME_MAX);
		return 0;
	}
	memcpy(name, fname, stem);
	name[stem] = '\0';
	if (fstatat(dfd, fname, &st, 0) != 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	/* A directory read again lists its files in the same order as
	 * before, which is the order of f->items: try the next one first. */
	it = NULL;
	if (cursor && *cursor < f->n &&
	    strcmp(f->items[*cursor]->name, name) == 0)
		it = f->items[*cursor];
	if (it == NULL)
		it = find(f, name);
	if (it && cursor)
		*cursor = it->idx + 1;
	yml = fname[stem + 2] == 'm';	/* ".yml" rather than ".yaml" */
	if (it && it->visited && it->yml != yml) {
		log_error("fleet", "%s/%s: %s already names an entry (another "
			  "file with the same stem); skipped", f->dir, fname,
			  name);
		return 0;
	}
	if (it == NULL) {
		const char *why = config_check_name(name);
		if (why) {
			log_error("fleet", "%s/%s: an entry's name (the file's "
				  "stem) %s; skipped", f->dir, fname, why);
			return 0;
		}
		it = new_item(f->dir, fname, stem);
		if (it)
			it->yml = yml;
		if (it == NULL || grow((void **)&f->items, &f->cap, f->n,
				       sizeof(*f->items)) != 0) {
			item_free(it);
			return -ENOMEM;
		}
		f->items[f->n++] = it;
		index_last(f);
	} else if (it->yml != yml) {
		/* acme.yml replaced acme.yaml: the same entry. */
		size_t len = strlen(f->dir) + strlen(fname) + 2;
		char *file = malloc(len);
		if (file) {
			snprintf(file, len, "%s/%s", f->dir, fname);
			free(it->file);
			it->file = file;
			it->yml = yml;
		}
	}
	it->seen = it->visited = 1;
	if (stat_moved(it, &st)) {
		it->dev = st.st_dev;
		it->ino = st.st_ino;
		it->size = st.st_size;
		it->mtime = st.st_mtim;
		it->ctime = st.st_ctim;
		it->read = 1;
		f->stats.last_read++;
		read_item(f, it, cfg);
	} else if (force && it->has_raw) {
		make_def(f, it, cfg, 0);
	}
	return 0;
}

/* Items not seen are gone: to f->removed (or freed, never valid). */
static int
sweep(struct fleet *f)
{
	size_t kept = 0, n_before = f->n;

	for (size_t i = 0; i < f->n; i++) {
		struct item *it = f->items[i];
		if (it->seen) {
			f->items[kept++] = it;
			continue;
		}
		if (it->def == NULL) {
			item_free(it);
			continue;
		}
		if (grow((void **)&f->removed, &f->cap_removed, f->n_removed,
			 sizeof(*f->removed)) != 0) {
			f->items[kept++] = it;	/* again at the next scan */
			continue;
		}
		f->removed[f->n_removed++] = it;
	}
	f->n = kept;
	f->stats.last_removed = f->n_removed;
	f->stats.entries = f->stats.invalid = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i]->def)
			f->stats.entries++;
		if (f->items[i]->error)
			f->stats.invalid++;
	}
	/* New items were indexed as they came; only a removal moves the
	 * others in the array. */
	return kept == n_before && f->slots ? 0 : reindex(f);
}

static void
forget_pending(struct fleet *f)
{
	for (size_t i = 0; i < f->n_pending; i++)
		free(f->pending[i]);
	f->n_pending = 0;
	f->pending_full = 0;
}

int
fleet_scan(struct fleet *f, const struct config *cfg, int force)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	size_t cursor = 0;
	int rc = 0;

	if (d == NULL) {
		rc = -errno;
		log_error("fleet", "cannot read entries_dir %s: %s; the entries "
			  "read before stay as they are", f->dir, strerror(errno));
		return rc;
	}
	forget_pending(f);
	f->stats.scans++;
	f->stats.last_read = 0;
	for (size_t i = 0; i < f->n; i++)
		f->items[i]->seen = f->items[i]->visited = 0;
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (scan_file(f, cfg, dirfd(d), de->d_name, force,
			      &cursor) == -ENOMEM)
			rc = -ENOMEM;
	closedir(d);
	if (rc != 0) {
		/* Nothing is taken for gone after a scan cut short. */
		for (size_t i = 0; i < f->n; i++)
			f->items[i]->seen = 1;
	}
	return sweep(f) ? -ENOMEM : rc;
}

int
fleet_scan_changed(struct fleet *f, const struct config *cfg)
{
	int dfd, rc = 0;

	if (f->pending_full)
		return fleet_scan(f, cfg, 0);
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fleet_scan(f, cfg, 0);	/* says why */
	f->stats.scans++;
	f->stats.last_read = 0;
	for (size_t i = 0; i < f->n; i++) {
		f->items[i]->seen = 1;
		f->items[i]->visited = 0;
	}
	for (size_t i = 0; i < f->n_pending && rc == 0; i++) {
		int r = scan_file(f, cfg, dfd, f->pending[i], 0, NULL);
		size_t stem;
		char name[FLEET_NAME_MAX + 1];
		struct item *it;

		if (r == -ENOMEM)
			rc = r;
		if (r != -ENOENT || !is_entry_file(f->pending[i], &stem) ||
		    stem > FLEET_NAME_MAX)
			continue;
		memcpy(name, f->pending[i], stem);
		name[stem] = '\0';
		it = find(f, name);
		/* Gone, unless its other spelling (.yml) is the entry now. */
		if (it && it->yml == (f->pending[i][stem + 2] == 'm'))
			it->seen = 0;
	}
	close(dfd);
	forget_pending(f);
	return sweep(f) ? -ENOMEM : rc;
}

int
fleet_build(struct fleet *f, const struct certs_opts *main,
	    struct certs_opts *out)
{
	size_t n = main->n, size = 16, *names, mask, want = main->n + f->n + 1;
	struct cert_def *v;

	*out = *main;
	/* Two arrays in turn (the engine holds the other until the next
	 * fleet_retire()), grown but not made anew at each read. */
	if (f->built_prev && f->cap_prev >= want) {
		v = f->built_prev;
		f->built_prev = NULL;
	} else {
		free(f->built_prev);
		f->built_prev = NULL;
		v = malloc(want * sizeof(*v));
		f->cap_prev = want;
	}
	while (size < main->n * 2)
		size *= 2;
	names = calloc(size, sizeof(*names));
	if (v == NULL || names == NULL) {
		free(v);
		free(names);
		return -ENOMEM;
	}
	mask = size - 1;
	if (main->n)
		memcpy(v, main->defs, main->n * sizeof(*v));
	for (size_t i = 0; i < main->n; i++) {
		size_t h = hash(main->defs[i].name) & mask;
		while (names[h])
			h = (h + 1) & mask;
		names[h] = i + 1;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct item *it = f->items[i];
		int clash = 0;

		if (it->def == NULL)
			continue;
		for (size_t h = hash(it->name) & mask; names[h] && !clash;
		     h = (h + 1) & mask)
			clash = strcmp(main->defs[names[h] - 1].name,
				       it->name) == 0;
		if (clash) {
			log_error("fleet", "%s: certificates: has an entry named "
				  "%s; the file is skipped", it->file, it->name);
			continue;
		}
		v[n++] = *it->def;
	}
	free(names);
	f->built_prev = f->built;
	f->built = v;
	{
		size_t c = f->cap_built;
		f->cap_built = f->cap_prev;
		f->cap_prev = c;
	}
	out->defs = v;
	out->n = n;
	return 0;
}

/* Write zeros over PATH's bytes and fsync them.  0 or -errno. */
static int
zero_file(const char *path)
{
	/* Not const: in .bss it costs the binary nothing, in .rodata 4 KB. */
	static char zeros[4096];
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	off_t left;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	for (left = st.st_size; left > 0;) {
		size_t chunk = left > (off_t)sizeof(zeros) ? sizeof(zeros)
							   : (size_t)left;
		ssize_t w = write(fd, zeros, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto out;
		}
		left -= w;
	}
	if (fsync(fd) != 0)
		rc = -errno;
out:
	close(fd);
	return rc;
}

static void
sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 :
						 slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * Delete PATH (through a symlink, the file it names too: atomic_dir's
 * names point into ..data).  WIPE: zeros first.  0, -ENOENT (already
 * gone) or -errno.
 */
static int
delete_file(const char *path, int wipe, int *wiped)
{
	char real[PATH_MAX];
	struct stat st;
	int rc = 0;

	*wiped = 0;
	if (lstat(path, &st) != 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		if (realpath(path, real) != NULL && strcmp(real, path) != 0) {
			int w = 0;
			rc = delete_file(real, wipe, &w);
			*wiped = w;
			if (rc == -ENOENT)
				rc = 0;
		}
	} else if (wipe && S_ISREG(st.st_mode)) {
		rc = zero_file(path);
		*wiped = rc == 0;
	}
	if (unlink(path) != 0 && errno != ENOENT && rc == 0)
		rc = -errno;
	sync_dir_of(path);
	return rc;
}

static int
holds_key(const struct cert_file *cf)
{
	int k = strcmp(cf->name, "key") == 0;

	for (size_t j = 0; j < cf->n_parts; j++)
		k |= strcmp(cf->parts[j], "key") == 0;
	return k;
}

static void
delete_one(struct fleet *f, const struct item *it, const char *path, int key)
{
	char bak[PATH_MAX + 8];
	int wiped, rc = delete_file(path, key, &wiped);

	if (rc == -ENOENT)
		return;
	audit_fleet(f->audit, "file_deleted", it->name, it->raw.tenant,
		    it->raw.profile, "path", path, rc ? strerror(-rc) : NULL);
	if (rc)
		log_error("fleet", "%s: cannot delete %s: %s", it->name, path,
			  strerror(-rc));
	else
		log_info("fleet", "%s: deleted %s%s", it->name, path,
			 wiped ? " (overwritten with zeros first)" : "");
	snprintf(bak, sizeof(bak), "%s.bak", path);
	if (delete_file(bak, key, &wiped) == 0)
		audit_fleet(f->audit, "file_deleted", it->name, it->raw.tenant,
			    it->raw.profile, "path", bak, NULL);
}

/* The files of removed entry IT: every one, the key's wiped. */
static void
delete_files(struct fleet *f, const struct item *it)
{
	const struct cert_files *out = &it->def->out;

	for (size_t i = 0; i < out->n; i++) {
		char path[PATH_MAX];

		if (out->atomic_dir)
			snprintf(path, sizeof(path), "%s/%s", out->atomic_dir,
				 out->files[i].path);
		else
			snprintf(path, sizeof(path), "%s", out->files[i].path);
		delete_one(f, it, path, holds_key(&out->files[i]));
	}
	if (out->atomic_dir) {
		char link[PATH_MAX], real[PATH_MAX];

		snprintf(link, sizeof(link), "%s/..data", out->atomic_dir);
		if (realpath(link, real) != NULL)
			rmdir(real);
		unlink(link);
		rmdir(out->atomic_dir);
	}
}

/* Queue the revocation of the serial IT has on disk. */
static void
revoke_item(struct fleet *f, const struct item *it, struct revq *revq)
{
	struct cert_loaded l;
	struct x509_info info;
	char mount[256], err[256];

	certfiles_load(&it->def->out, &l);
	if (l.cert == NULL ||
	    x509_cert_info(l.cert, &info, err, sizeof(err)) != 0) {
		log_warn("fleet", "%s: no certificate on disk; nothing to revoke",
			 it->name);
		certfiles_loaded_free(&l);
		return;
	}
	certfiles_loaded_free(&l);
	if (revq == NULL ||
	    revq_mount_of(it->def->path, mount, sizeof(mount)) != 0 ||
	    revq_add_until_done(revq, it->name, mount, info.serial, 0) != 0) {
		log_error("fleet", "%s: cannot queue serial %s for revocation",
			  it->name, info.serial);
		audit_fleet(f->audit, "revocation_queued", it->name,
			    it->raw.tenant, it->raw.profile, "serial",
			    info.serial, "cannot queue it");
		return;
	}
	log_info("fleet", "%s: removed; serial %s queued for revocation at %s",
		 it->name, info.serial, mount);
	audit_fleet(f->audit, "revocation_queued", it->name, it->raw.tenant,
		    it->raw.profile, "serial", info.serial, NULL);
}

static void
remember_labels(struct fleet *f, const struct item *it)
{
	struct label *g = realloc(f->ghosts, (f->n_ghosts + 1) * sizeof(*g));

	if (g == NULL)
		return;
	f->ghosts = g;
	g += f->n_ghosts;
	g->name = strdup(it->name);
	g->tenant = strdup(it->raw.tenant);
	g->profile = strdup(it->raw.profile);
	if (g->name && g->tenant && g->profile) {
		f->n_ghosts++;
		return;
	}
	free(g->name);
	free(g->tenant);
	free(g->profile);
}

void
fleet_retire(struct fleet *f, struct revq *revq)
{
	for (size_t i = 0; i < f->n_removed; i++) {
		struct item *it = f->removed[i];

		audit_fleet(f->audit, "entry_removed", it->name, it->raw.tenant,
			    it->raw.profile, "file", it->file, NULL);
		remember_labels(f, it);
		revoke_item(f, it, revq);
		delete_files(f, it);
		f->stats.removed++;
		retire_def(f, it->def);
		it->def = NULL;
		item_free(it);
	}
	f->n_removed = 0;
	for (size_t i = 0; i < f->n_retired; i++) {
		config_free_cert(f->retired[i]);
		free(f->retired[i]);
	}
	f->n_retired = 0;
	for (size_t i = 0; i < f->n_edited; i++)
		free(f->edited[i]);
	f->n_edited = 0;
}

size_t
fleet_edited(const struct fleet *f, size_t i, const char **name)
{
	if (i < f->n_edited)
		*name = f->edited[i];
	return f->n_edited;
}

int
fleet_labels(void *arg, const char *name, const char **tenant,
	     const char **profile)
{
	struct fleet *f = arg;
	const struct item *it = find(f, name);

	if (it && it->has_raw) {
		*tenant = it->raw.tenant;
		*profile = it->raw.profile;
		return 1;
	}
	for (size_t i = f->n_ghosts; i > 0; i--) {
		if (strcmp(f->ghosts[i - 1].name, name) == 0) {
			*tenant = f->ghosts[i - 1].tenant;
			*profile = f->ghosts[i - 1].profile;
			return 1;
		}
	}
	return 0;
}

void
fleet_get_stats(const struct fleet *f, struct fleet_stats *st)
{
	*st = f->stats;
}

int
fleet_invalid(const struct fleet *f, size_t i, const char **file,
	      const char **error)
{
	for (size_t j = 0; j < f->n; j++) {
		if (f->items[j]->error == NULL)
			continue;
		if (i-- == 0) {
			*file = f->items[j]->file;
			*error = f->items[j]->error;
			return 0;
		}
	}
	return -1;
}

const char *
fleet_dir(const struct fleet *f)
{
	return f->dir;
}

static void
on_closed(uv_handle_t *h)
{
	struct fleet *f = h->data;

	if (--f->open_handles > 0)
		return;
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i]->def) {
			config_free_cert(f->items[i]->def);
			free(f->items[i]->def);
		}
		item_free(f->items[i]);
	}
	for (size_t i = 0; i < f->n_removed; i++) {
		config_free_cert(f->removed[i]->def);
		free(f->removed[i]->def);
		item_free(f->removed[i]);
	}
	for (size_t i = 0; i < f->n_retired; i++) {
		config_free_cert(f->retired[i]);
		free(f->retired[i]);
	}
	for (size_t i = 0; i < f->n_ghosts; i++) {
		free(f->ghosts[i].name);
		free(f->ghosts[i].tenant);
		free(f->ghosts[i].profile);
	}
	free(f->ghosts);
	for (size_t i = 0; i < f->n_edited; i++)
		free(f->edited[i]);
	free(f->edited);
	forget_pending(f);
	free(f->pending);
	free(f->items);
	free(f->removed);
	free(f->retired);
	free(f->slots);
	free(f->built);
	free(f->built_prev);
	free(f->dir);
	free(f);
}

void
fleet_close(struct fleet *f)
{
	if (f == NULL)
		return;
	f->closing = 1;
	uv_timer_stop(&f->debounce);
	if (f->watching)
		uv_fs_event_stop(&f->ev);
	uv_close((uv_handle_t *)&f->ev, on_closed);
	uv_close((uv_handle_t *)&f->debounce, on_closed);
}
