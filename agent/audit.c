/*
 * audit: the append-only JSON-lines record of what the agent did.  See
 * audit.h.
 *
 * DESIGN / invariants:
 *  - One record is one cJSON object, printed unformatted (no newline can
 *    appear inside), scrubbed of registered secrets, written with one
 *    write(2) to an O_APPEND descriptor and fsync'd: a crash loses at
 *    most the record being written, and concurrent writers never
 *    interleave inside a line.
 *  - Only descriptions go in: serials, subjects, names, paths, modes,
 *    owners, digests, exit statuses, error text.  Contents are hashed
 *    and wiped, never copied into a record.
 *  - The file is created with the configured mode and that mode is
 *    applied again on every open, so a logrotate `create` with a wider
 *    mode does not stay wider.
 */
#include "audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "files.h"
#include "log.h"
#include "x509.h"

#define AUDIT_LINE_MAX (64 * 1024)
#define AUDIT_HASH_MAX (64u * 1024 * 1024)	/* files larger: no digest */

struct audit {
	char *path;
	unsigned mode;
	int fd;
	int (*labels)(void *arg, const char *name, const char **tenant,
		      const char **profile);	/* fleet: tenant, profile */
	void *labels_arg;
};

static void
stamp(char *buf, size_t len, int64_t ms)
{
	struct timespec now;
	struct tm tm;
	time_t t;
	size_t n;

	if (ms == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	}
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* Open PATH for appending, with MODE: a descriptor, or -errno with ERR. */
static int
open_file(const char *path, unsigned mode, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, mode);

	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "audit: cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (fchmod(fd, mode) != 0)
		log_warn("audit", "cannot set mode %04o on %s: %s", mode, path,
			 strerror(errno));
	return fd;
}

int
audit_new(struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));

	*out = a;
	if (a == NULL)
		return -ENOMEM;
	a->fd = -1;
	return 0;
}

int
audit_configure(struct audit *a, const struct audit_opts *o, char *err,
		size_t errlen)
{
	unsigned mode = o->mode ? o->mode : 0600;
	char *path;
	int fd;

	if (a == NULL)
		return 0;
	if (o->path == NULL) {
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1;
		free(a->path);
		a->path = NULL;
		return 0;
	}
	if (a->path && strcmp(a->path, o->path) == 0 && a->mode == mode && a->fd >= 0)
		return 0;
	/* The new file first: a failure keeps the old one in use. */
	path = strdup(o->path);
	if (path == NULL) {
		snprintf(err, errlen, "audit: out of memory");
		return -ENOMEM;
	}
	fd = open_file(path, mode, err, errlen);
	if (fd < 0) {
		free(path);
		return fd;
	}
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	a->path = path;
	a->mode = mode;
	a->fd = fd;
	log_info("audit", "audit log at %s", a->path);
	return 0;
}

void
audit_reopen(struct audit *a)
{
	char err[512];
	int fd;

	if (a == NULL || a->path == NULL)
		return;
	fd = open_file(a->path, a->mode, err, sizeof(err));
	if (fd < 0) {
		log_error("audit", "%s; still writing to the file open before", err);
		return;
	}
	if (a->fd >= 0)
		close(a->fd);
	a->fd = fd;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

/* fleet: a record naming a certificate of entries_dir gets its tenant
 * and profile, unless it has them. */
static void
add_labels(const struct audit *a, cJSON *obj)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
	const char *tenant, *profile;

	if (a->labels == NULL || !cJSON_IsString(name) ||
	    cJSON_GetObjectItemCaseSensitive(obj, "tenant") != NULL ||
	    !a->labels(a->labels_arg, name->valuestring, &tenant, &profile))
		return;
	cJSON_AddStringToObject(obj, "tenant", tenant);
	cJSON_AddStringToObject(obj, "profile", profile);
}

/* Write OBJ (taken) as one line, with "time" and "event" first. */
static void
emit(struct audit *a, const char *event, cJSON *obj)
{
	cJSON *rec = cJSON_CreateObject(), *it, *next;
	char ts[40], *text = NULL, *line = NULL;
	size_t len;

	if (rec == NULL || obj == NULL)
		goto out;
	stamp(ts, sizeof(ts), 0);
	cJSON_AddStringToObject(rec, "time", ts);
	cJSON_AddStringToObject(rec, "event", event);
	add_labels(a, obj);
	for (it = obj->child; it; it = next) {
		next = it->next;
		cJSON_AddItemToObject(rec, it->string,
				      cJSON_DetachItemViaPointer(obj, it));
	}
	text = cJSON_PrintUnformatted(rec);
	line = malloc(AUDIT_LINE_MAX);
	if (text == NULL || line == NULL) {
		log_error("audit", "out of memory; %s not recorded", event);
		goto out;
	}
	log_scrub(text, line, AUDIT_LINE_MAX - 1);
	len = strlen(line);
	line[len++] = '\n';
	if (write(a->fd, line, len) != (ssize_t)len || fsync(a->fd) != 0)
		log_error("audit", "cannot write %s to %s: %s", event, a->path,
			  strerror(errno));
out:
	free(text);
	free(line);
	cJSON_Delete(rec);
	cJSON_Delete(obj);
}

/* A new record's fields, or NULL when there is no audit log (or memory). */
static cJSON *
record(const struct audit *a)
{
	return a && a->fd >= 0 ? cJSON_CreateObject() : NULL;
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

static void
add_time(cJSON *o, const char *k, int64_t ms)
{
	char ts[40];

	stamp(ts, sizeof(ts), ms);
	cJSON_AddStringToObject(o, k, ts);
}

void
audit_token(struct audit *a, const char *event, const char *method,
	    int64_t expires_at_ms, const char *why)
{
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "method", method);
	cJSON_AddBoolToObject(o, "ok", why == NULL);
	if (why)
		add_str(o, "error", why);
	else if (expires_at_ms)
		add_time(o, "expires_at", expires_at_ms);
	emit(a, event, o);
}

void
audit_cert(struct audit *a, const char *event, const char *name,
	   const char *path, const char *cert_pem)
{
	struct x509_info info;
	struct x509_desc d;
	char err[256];
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "path", path);
	cJSON_AddBoolToObject(o, "ok", 1);
	if (x509_cert_describe(cert_pem, &info, &d, err, sizeof(err)) == 0) {
		add_str(o, "serial", info.serial);
		add_str(o, "subject", d.subject);
		add_str(o, "sans", d.sans);
		add_time(o, "not_before", (int64_t)info.not_before * 1000);
		add_time(o, "not_after", (int64_t)info.not_after * 1000);
		add_str(o, "sha256_fingerprint", d.sha256);
	} else {
		add_str(o, "error", err);
	}
	emit(a, event, o);
}

void
audit_cert_failed(struct audit *a, const char *event, const char *name,
		  const char *path, const char *why)
{
	cJSON *o = record(a);

	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "path", path);
	cJSON_AddBoolToObject(o, "ok", 0);
	add_str(o, "error", why);
	emit(a, event, o);
}

void
audit_revocation(struct audit *a, const char *name, const char *serial,
		 const char *mount, const char *why)
{
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "what", serial ? "certificate" : "token");
	add_str(o, "serial", serial);
	add_str(o, "mount", mount);
	cJSON_AddBoolToObject(o, "ok", why == NULL);
	add_str(o, "error", why);
	emit(a, "revocation", o);
}

/* ---- lifecycle ---- */
void
audit_lifecycle(struct audit *a, const char *event, const char *name,
		const char *serial, const char *previous, const char *target,
		const char *why)
{
	cJSON *o = record(a);

	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "serial", serial);
	add_str(o, "previous_serial", previous);
	add_str(o, "target", target);
	cJSON_AddBoolToObject(o, "ok", why == NULL);
	add_str(o, "error", why);
	emit(a, event, o);
}

void
audit_file(struct audit *a, const char *name, const char *path)
{
	char err[256], hex[65], mode[8];
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "path", path);
	if (stat(path, &st) != 0) {
		add_str(o, "error", strerror(errno));
		emit(a, "file_write", o);
		return;
	}
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
	add_str(o, "mode", mode);
	cJSON_AddNumberToObject(o, "uid", st.st_uid);
	cJSON_AddNumberToObject(o, "gid", st.st_gid);
	{
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		char pbuf[1024], gbuf[1024];
		if (getpwuid_r(st.st_uid, &pw, pbuf, sizeof(pbuf), &pwp) == 0 && pwp)
			add_str(o, "owner", pwp->pw_name);
		if (getgrgid_r(st.st_gid, &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp)
			add_str(o, "group", grp->gr_name);
	}
	cJSON_AddNumberToObject(o, "size", (double)st.st_size);
	/* The content may be a key: it is hashed and wiped, never kept. */
	if (files_read(path, AUDIT_HASH_MAX, &data, &len, err, sizeof(err)) == 0) {
		x509_sha256_hex(data, len, hex);
		add_str(o, "sha256", hex);
	} else {
		add_str(o, "error", err);
	}
	secret_free_len(data, len);
	emit(a, "file_write", o);
}

void
audit_hook(struct audit *a, const char *name, int ok, int exit_status,
	   int term_signal, int timed_out, long pid)
{
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "name", name);
	cJSON_AddBoolToObject(o, "ok", ok);
	if (exit_status >= 0)
		cJSON_AddNumberToObject(o, "exit_status", exit_status);
	if (term_signal)
		add_str(o, "signal", log_signal_name(term_signal));
	if (timed_out)
		cJSON_AddBoolToObject(o, "timed_out", 1);
	if (pid)
		cJSON_AddNumberToObject(o, "pid", (double)pid);
	emit(a, "hook_run", o);
}

void
audit_reload(struct audit *a, const char *path, const char *why)
{
	cJSON *o;

	o = record(a);
	if (o == NULL)
		return;
	add_str(o, "path", path);
	cJSON_AddBoolToObject(o, "ok", why == NULL);
	add_str(o, "error", why);
	emit(a, "config_reload", o);
}

/* ---- fleet ---- */

void
audit_set_labels(struct audit *a,
		 int (*labels)(void *arg, const char *name,
			       const char **tenant, const char **profile),
		 void *arg)
{
	if (a == NULL)
		return;
	a->labels = labels;
	a->labels_arg = arg;
}

void
audit_fleet(struct audit *a, const char *event, const char *name,
	    const char *tenant, const char *profile, const char *key,
	    const char *value, const char *why)
{
	cJSON *o = record(a);

	if (o == NULL)
		return;
	add_str(o, "name", name);
	add_str(o, "tenant", tenant);
	add_str(o, "profile", profile);
	add_str(o, key, value);
	cJSON_AddBoolToObject(o, "ok", why == NULL);
	add_str(o, "error", why);
	emit(a, event, o);
}
