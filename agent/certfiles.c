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

/* ---- keymat: reading back DER, encrypted keys and keystores ---- */

/* Add "PATH: WHY" to what OUT says could not be read back. */
static void
add_why(struct cert_loaded *out, const char *path, const char *why)
{
	size_t n = strlen(out->why);

	snprintf(out->why + n, sizeof(out->why) - n, "%s%.200s: %.250s",
		 n ? "; " : "", path, why);
}

static int read_password(const struct cert_file *f, const char *given,
			 char **out, char *err, size_t errlen);

/* Read file KIND of CC (a DER certificate or key, or an encrypted key)
 * as PEM; NULL (and why in OUT->why) if it cannot be. */
static char *
read_kind_keymat(const struct cert_files *cc, const char *kind,
		 const char *given, struct cert_loaded *out)
{
	const struct cert_file *f = find_file(cc, kind);
	char path[4096], err[512], *buf = NULL, *pem = NULL, *pass = NULL;
	size_t len = 0;
	int is_key = strcmp(kind, "key") == 0;

	if (f == NULL)
		return NULL;
	file_path(cc, f, path, sizeof(path));
	if (files_read(path, PEM_MAX, &buf, &len, err, sizeof(err)) != 0)
		return NULL;
	if (is_key && f->encrypt.passphrase_kv && given == NULL) {
		/* Opening it would take a Vault read per entry: an encrypted
		 * key is taken as it is; the certificate is still checked. */
		if (x509_is_encrypted_key(buf, len))
			out->key_sealed = 1;
		else
			add_why(out, path, "not an encrypted PKCS#8 key "
				"(ENCRYPTED PRIVATE KEY)");
	} else if (is_key && certfiles_key_encrypted(f)) {
		if (read_password(f, given, &pass, err, sizeof(err)) != 0 ||
		    x509_decrypt_key(buf, len, pass, strlen(pass), &pem, err,
				     sizeof(err)) != 0)
			add_why(out, path, err);
	} else if (f->der) {
		if (x509_der_to_pem(buf, len, is_key, &pem, err, sizeof(err)) != 0)
			add_why(out, path, err);
	} else {
		pem = buf;
		buf = NULL;
	}
	secret_free_len(buf, len);
	secret_free(pass);
	return pem;
}

/* What is missing of the cert, key and chain, from the keystore. */
static void
load_keystore(const struct cert_files *cc, struct cert_loaded *out)
{
	const struct cert_file *f = find_file(cc, "pkcs12");
	char path[4096], err[512], *buf = NULL, *pass = NULL;
	char *cert = NULL, *key = NULL, *chain = NULL;
	size_t len = 0;

	if (f == NULL)
		return;
	file_path(cc, f, path, sizeof(path));
	if (files_read(path, PEM_MAX, &buf, &len, err, sizeof(err)) != 0)
		return;
	if (read_password(f, NULL, &pass, err, sizeof(err)) != 0 ||
	    x509_keystore_open((unsigned char *)buf, len, pass, &cert, &key,
			       &chain, err, sizeof(err)) != 0) {
		add_why(out, path, err);
		goto out;
	}
	if (out->cert == NULL && out->key == NULL) {
		out->cert = cert;
		out->key = key;
		cert = key = NULL;
	}
	if (out->chain == NULL) {
		out->chain = chain;
		chain = NULL;
	}
out:
	free(cert);
	secret_free(key);
	free(chain);
	secret_free_len(buf, len);
	secret_free(pass);
}

void
certfiles_load(const struct cert_files *cc, struct cert_loaded *out)
{
	certfiles_load_with(cc, NULL, out);
}

void
certfiles_load_with(const struct cert_files *cc, const char *key_passphrase,
		    struct cert_loaded *out)
{
	char *bundle = NULL;
	const struct cert_file *fk = find_file(cc, "key"), *fc = find_file(cc, "cert");

	memset(out, 0, sizeof(*out));
	if (fc && fc->der)
		out->cert = read_kind_keymat(cc, "cert", NULL, out);
	else
		out->cert = read_kind(cc, "cert");
	if (fk && (fk->der || certfiles_key_encrypted(fk)))
		out->key = read_kind_keymat(cc, "key", key_passphrase, out);
	else
		out->key = read_kind(cc, "key");
	out->chain = read_kind(cc, "chain");
	if (out->cert == NULL || (out->key == NULL && !out->key_sealed)) {
		bundle = read_kind(cc, "bundle");
		if (out->cert == NULL && bundle)
			out->cert = strdup(bundle);
		if (out->key == NULL && !out->key_sealed && bundle)
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
	/* A keystore alone is a complete set: the pair comes from it whole
	 * when the PEM files do not give both. */
	if ((out->cert == NULL || (out->key == NULL && !out->key_sealed)) &&
	    find_file(cc, "pkcs12") != NULL) {
		free(out->cert);
		secret_free(out->key);
		out->cert = out->key = NULL;
		load_keystore(cc, out);
	}
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

/* The bytes of a PEM file F: one part, or a bundle's parts in order,
 * each ending in a newline. */
static int
compose_pem(const struct cert_file *f, const struct cert_material *mt,
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

/* ---- keymat: keystores, encrypted and DER keys, pins ---- */

static int
is_kind(const struct cert_file *f, const char *kind)
{
	return strcmp(f->name, kind) == 0;
}

/* Does F need more than its PEM parts? */
static int
is_keymat(const struct cert_file *f)
{
	return is_kind(f, "pkcs12") || is_kind(f, "truststore_pkcs12") ||
	       is_kind(f, "pin") || f->der ||
	       (is_kind(f, "key") && certfiles_key_encrypted(f));
}

int
certfiles_key_encrypted(const struct cert_file *f)
{
	return f->encrypt.passphrase_file || f->encrypt.passphrase_env ||
	       f->encrypt.passphrase_kv;
}

const struct cert_file *
certfiles_kv_key(const struct cert_files *cc)
{
	const struct cert_file *f = find_file(cc, "key");

	return f && f->encrypt.passphrase_kv ? f : NULL;
}

/*
 * The password of F (a keystore's, or an encrypted key's passphrase): its
 * file read now, so that a rotated password is used at the next write, or
 * its variable, or GIVEN: what the entry read from F's kv path for this
 * write.  *OUT is malloc'd; free it with secret_free().  Errors name the
 * file, the variable or the kv path, never what it holds.
 */
static int
read_password(const struct cert_file *f, const char *given, char **out,
	      char *err, size_t errlen)
{
	int enc = is_kind(f, "key");
	const char *file = enc ? f->encrypt.passphrase_file : f->password_file;
	const char *env = enc ? f->encrypt.passphrase_env : f->password_env;
	const char *what = enc ? "passphrase" : "password";
	char why[256];

	*out = NULL;
	if (enc && f->encrypt.passphrase_kv) {
		if (given == NULL || given[0] == '\0') {
			snprintf(err, errlen, "no passphrase was read from kv %s",
				 f->encrypt.passphrase_kv);
			return -EACCES;
		}
		*out = strdup(given);
		if (*out == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	} else if (file) {
		if (files_read_secret(file, 4096, 0, out, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "the %s file: %s", what, why);
			return -EACCES;
		}
	} else if (env) {
		const char *v = getenv(env);
		if (v == NULL) {
			snprintf(err, errlen, "the %s variable %s is not set",
				 what, env);
			return -EACCES;
		}
		*out = strdup(v);
		if (*out == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	} else {
		snprintf(err, errlen, "no %s configured", what);
		return -EINVAL;
	}
	return 0;
}

/* CHAIN then CA, as one PEM text (malloc'd). */
static char *
ca_chain(const struct cert_material *mt)
{
	struct buf b = { 0 };
	size_t len;

	if (mt->chain && mt->chain[0]) {
		buf_append(&b, mt->chain, strlen(mt->chain));
		buf_putc(&b, '\n');
	}
	if (mt->ca && mt->ca[0])
		buf_append(&b, mt->ca, strlen(mt->ca));
	return buf_take(&b, &len);
}

/*
 * If PATH holds what F would get from MT, its bytes go to B as they are:
 * a keystore or an encrypted key has a fresh salt each time, so bytes
 * never compare equal, but the content does, and the file is left alone.
 */
static int
keep_if_same(const struct cert_file *f, const char *path,
	     const struct cert_material *mt, const char *pass, struct buf *b)
{
	char *old = NULL, err[256];
	size_t len = 0;
	int same = 0;

	if (files_read(path, PEM_MAX, &old, &len, err, sizeof(err)) != 0)
		return 0;
	if (is_kind(f, "pkcs12")) {
		same = x509_keystore_same((unsigned char *)old, len, pass,
					  mt->cert, mt->key, mt->chain,
					  f->friendly_name, f->legacy);
	} else if (is_kind(f, "truststore_pkcs12")) {
		char *certs = ca_chain(mt);
		same = certs && x509_truststore_same((unsigned char *)old, len,
						     pass, certs, f->friendly_name,
						     f->legacy);
		free(certs);
	} else {
		same = x509_encrypted_key_same(old, len, pass, strlen(pass),
					       mt->key, f->scrypt, f->der);
	}
	if (same) {
		b->secret = 1;
		buf_append(b, old, len);
		same = b->err == 0;
	}
	secret_free_len(old, len);
	return same;
}

/* The bytes of a keymat file F at PATH. */
static int
compose_keymat(const struct cert_file *f, const char *path,
	       const struct cert_material *mt, struct buf *b, char *err,
	       size_t errlen)
{
	char *pass = NULL, *text = NULL, *certs = NULL, why[256] = "";
	unsigned char *der = NULL;
	size_t len = 0;
	int rc = 0, secret = 1;

	b->secret = 1;
	if (is_kind(f, "pin")) {
		char pin[80];
		const char *of = f->pin_intermediate ? mt->chain : mt->cert;

		if (of == NULL || x509_count_certs(of) <= 0) {
			snprintf(err, errlen, "%s: no %s certificate to pin",
				 f->path, f->pin_intermediate ? "intermediate"
							      : "leaf");
			return -ENOENT;
		}
		rc = x509_spki_pin(of, f->pin_hex, pin, sizeof(pin), why,
				   sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", f->path, why);
			return rc;
		}
		buf_append(b, pin, strlen(pin));
		buf_putc(b, '\n');
		return b->err;
	}
	if (is_kind(f, "pkcs12") || is_kind(f, "truststore_pkcs12") ||
	    (is_kind(f, "key") && certfiles_key_encrypted(f))) {
		rc = read_password(f, mt->key_passphrase, &pass, why,
				   sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", f->path, why);
			return rc;
		}
		if (keep_if_same(f, path, mt, pass, b))
			goto out;
		buf_wipe(b);
		b->secret = 1;
	}
	if (is_kind(f, "pkcs12")) {
		rc = x509_keystore(mt->cert, mt->key, mt->chain, pass,
				   f->friendly_name,
				   f->legacy ? X509_P12_LEGACY : 0, &der, &len, why,
				   sizeof(why));
	} else if (is_kind(f, "truststore_pkcs12")) {
		certs = ca_chain(mt);
		rc = certs ? x509_truststore(certs, pass, f->friendly_name,
					     f->legacy, &der, &len, why,
					     sizeof(why))
			   : -ENOMEM;
		secret = 0;
	} else if (is_kind(f, "key") && pass) {
		rc = x509_encrypt_key(mt->key, pass, strlen(pass), f->scrypt,
				      f->der, &text, &len, why, sizeof(why));
	} else {
		rc = x509_pem_to_der(is_kind(f, "key") ? mt->key : mt->cert,
				     is_kind(f, "key"), &der, &len, why,
				     sizeof(why));
		secret = is_kind(f, "key");
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", f->path,
			 why[0] ? why : "out of memory");
		goto out;
	}
	buf_append(b, der ? (const char *)der : text, len);
	rc = b->err;
out:
	if (secret) {
		secret_free_len(der, len);
		secret_free_len(text, len);
	} else {
		free(der);
		free(text);
	}
	free(certs);
	secret_free(pass);
	return rc;
}

int
certfiles_truststore(const struct cert_file *f, const char *cas_pem,
		     struct buf *b, char *err, size_t errlen)
{
	struct cert_material mt = { .chain = cas_pem };

	return compose_keymat(f, f->path, &mt, b, err, errlen);
}

/* The bytes of file F at PATH, from MT. */
static int
compose(const struct cert_file *f, const char *path,
	const struct cert_material *mt, struct buf *b, char *err, size_t errlen)
{
	int rc;

	if (is_keymat(f))
		return compose_keymat(f, path, mt, b, err, errlen);
	rc = compose_pem(f, mt, b);
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
	return rc;
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
		char path[4096];

		file_path(cc, &cc->files[i], path, sizeof(path));
		rc = compose(&cc->files[i], path, mt, &data[i], err, errlen);
		if (rc != 0)
			goto out;
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
