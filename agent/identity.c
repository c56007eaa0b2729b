/*
 * identity: the client certificate the agent presents to Vault.  See
 * identity.h.
 *
 * DESIGN / invariants: the held pair is always one that passed the check
 * (the key belongs to the certificate, the certificate had not expired
 * when it was read); a pair that fails leaves the held one in place.  The
 * key's bytes are wiped when replaced or freed.
 */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "files.h"
#include "log.h"
#include "x509.h"

#define PAIR_MAX (1024 * 1024)

struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int ok;
};

struct identity {
	char *cert_path, *key_path;
	struct stamp cs, ks;		/* the files as last read */
	char *cert;			/* the pair held */
	char *key;
	size_t cert_len, key_len;
	char serial[128];
	int64_t not_after;
	char error[768];
};

static struct stamp
stamp_of(const char *path)
{
	struct stamp s = { 0 };
	struct stat st;

	if (stat(path, &st) == 0) {
		s.dev = st.st_dev;
		s.ino = st.st_ino;
		s.size = st.st_size;
		s.mtime = st.st_mtim;
		s.ok = 1;
	}
	return s;
}

static int
stamp_same(const struct stamp *a, const struct stamp *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Say ERR once: again only when it changes. */
static void
set_error(struct identity *id, const char *err)
{
	if (strcmp(id->error, err) == 0)
		return;
	snprintf(id->error, sizeof(id->error), "%s", err);
	if (err[0])
		log_error("vault", "%s", err);
}

/* Read and check the pair; take it into use if it passes.  1 if taken. */
static int
load(struct identity *id)
{
	char *cert = NULL, *key = NULL, err[512], why[768];
	size_t clen = 0, klen = 0;
	struct x509_info info;
	int rc = 0;

	id->cs = stamp_of(id->cert_path);
	id->ks = stamp_of(id->key_path);
	if (files_read(id->cert_path, PAIR_MAX, &cert, &clen, err, sizeof(err)) != 0 ||
	    files_read(id->key_path, PAIR_MAX, &key, &klen, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "client certificate: %s", err);
		goto refuse;
	}
	if (id->cert && clen == id->cert_len && klen == id->key_len &&
	    memcmp(cert, id->cert, clen) == 0 && memcmp(key, id->key, klen) == 0)
		goto out;	/* touched, not changed */
	if (x509_key_matches(cert, key, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "client certificate %s and key %s do "
			 "not belong together: %s", id->cert_path, id->key_path, err);
		goto refuse;
	}
	if (x509_cert_info(cert, &info, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "client certificate %s: %s", id->cert_path,
			 err);
		goto refuse;
	}
	if (info.not_after <= (long long)time(NULL)) {
		char when[32];
		time_t t = (time_t)info.not_after;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(why, sizeof(why), "client certificate %s (serial %s) "
			 "expired at %s: this identity must be re-bootstrapped: "
			 "place a valid certificate and key at %s and %s",
			 id->cert_path, info.serial, when, id->cert_path,
			 id->key_path);
		goto refuse;
	}
	free(id->cert);
	secret_free_len(id->key, id->key_len);
	id->cert = cert;
	id->key = key;
	id->cert_len = clen;
	id->key_len = klen;
	cert = key = NULL;
	snprintf(id->serial, sizeof(id->serial), "%s", info.serial);
	id->not_after = info.not_after;
	set_error(id, "");
	log_info("vault", "client certificate %s: serial %s, presented from now "
		 "on", id->cert_path, id->serial);
	rc = 1;
	goto out;
refuse:
	set_error(id, why);
out:
	free(cert);
	secret_free_len(key, klen);
	return rc;
}

int
identity_new(const char *cert_path, const char *key_path, struct identity **out)
{
	struct identity *id = calloc(1, sizeof(*id));

	if (id == NULL)
		return -ENOMEM;
	id->cert_path = strdup(cert_path);
	id->key_path = strdup(key_path);
	if (id->cert_path == NULL || id->key_path == NULL) {
		identity_free(id);
		return -ENOMEM;
	}
	load(id);
	*out = id;
	return 0;
}

int
identity_refresh(struct identity *id)
{
	struct stamp cs = stamp_of(id->cert_path), ks = stamp_of(id->key_path);

	if (stamp_same(&cs, &id->cs) && stamp_same(&ks, &id->ks))
		return 0;
	return load(id);
}

void
identity_state(const struct identity *id, struct identity_state *st)
{
	int expired = id->cert && id->not_after <= (int64_t)time(NULL);

	memset(st, 0, sizeof(*st));
	st->usable = id->cert != NULL && !expired;
	snprintf(st->serial, sizeof(st->serial), "%s", id->serial);
	st->not_after = id->not_after;
	st->error = id->error;
	if (expired && id->error[0] == '\0')
		st->error = "the client certificate held has expired: this "
			    "identity must be re-bootstrapped";
}

void
identity_blobs(const struct identity *id, const char **cert, size_t *cert_len,
	       const char **key, size_t *key_len)
{
	*cert = id->cert;
	*key = id->key;
	*cert_len = id->cert ? id->cert_len : 0;
	*key_len = id->key ? id->key_len : 0;
}

const char *
identity_cert_pem(const struct identity *id)
{
	return id->cert;
}

const char *
identity_cert_path(const struct identity *id)
{
	return id->cert_path;
}

const char *
identity_key_path(const struct identity *id)
{
	return id->key_path;
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	free(id->cert);
	secret_free_len(id->key, id->key_len);
	free(id->cert_path);
	free(id->key_path);
	free(id);
}
