/*
 * funcs_data.c: the functions that bring data in or send it out, and the
 * encodings secrets travel in: secret, pkiCert (Vault, through the
 * provider), writeToFile, file, env, base64Encode, base64Decode and
 * sha256Hex.
 *
 * DESIGN / invariants:
 *  - Vault is reached only through tmpl_env.fetch, files are written only
 *    through tmpl_env.write_file; without them these functions fail with
 *    "not available".  Within one execution, identical (kind, path,
 *    key=value...) calls ask the provider once (the memo in struct exec)
 *    and see the same answer, pending included.
 *  - A pending answer is a pending value, not an error: the executor
 *    passes it on without calling any function with it, so writeToFile
 *    never writes half-fetched data.
 *  - Vault's envelope is not copied: a secret is its JSON seen through
 *    consul-template's Go struct types below.  pkiCert's PemEncoded is
 *    built (its PEM fields end in a newline, Vault's do not).
 *  - Errors name the function, the path and the offending argument's
 *    place, never a value read from Vault or a file.
 */
#include "tmpl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"

int
tmpl_fn_env(struct exec *x, const struct call *c, const struct val *a, size_t n,
	    struct val *out)
{
	const char *name, *v;
	int rc = tmpl_arg_cstr(x, c, a, 0, &name);

	(void)n;
	if (rc != 0)
		return rc;
	v = getenv(name);
	*out = v ? vstr(v, strlen(v)) : vstr("", 0);
	return 0;
}

/* file PATH: the whole file, at most TMPL_MAX_FILE bytes. */
int
tmpl_fn_file(struct exec *x, const struct call *c, const struct val *a, size_t n,
	     struct val *out)
{
	const char *path;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc = tmpl_arg_cstr(x, c, a, 0, &path);

	(void)n;
	if (rc != 0)
		return rc;
	if (*path == '\0') {
		*out = vstr("", 0);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tmpl_cerr(x, c, "%s: %s", path, strerror(errno));
	buf = malloc(TMPL_MAX_FILE + 1);
	if (buf == NULL) {
		close(fd);
		return tmpl_xoom(x);
	}
	for (;;) {
		r = read(fd, buf + len, TMPL_MAX_FILE + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || len + (size_t)r > TMPL_MAX_FILE) {
			len += r > 0 ? (size_t)r : 0;
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	if (r < 0) {
		rc = tmpl_cerr(x, c, "%s: %s", path, strerror(errno));
		free(buf);
		return rc;
	}
	if (len > TMPL_MAX_FILE) {
		free(buf);
		return tmpl_cerr(x, c, "%s: larger than %d bytes", path, TMPL_MAX_FILE);
	}
	buf[len] = '\0';
	*out = vstr(buf, len);
	return tmpl_keep(x, buf);
}

/*
 * base64Encode and base64Decode are Go's base64.StdEncoding (padded),
 * with OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock doing the arithmetic.
 * Those take an int length, so long strings go through in chunks of
 * whole quanta (B64_CHUNK bytes, 4/3 as many characters); the stack
 * copies of a chunk are cleansed, as they hold the secret or its
 * encoding.
 */
#define B64_CHUNK 3072

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
tmpl_fn_base64Encode(struct exec *x, const struct call *c, const struct val *a,
		     size_t n, struct val *out)
{
	unsigned char enc[B64_CHUNK / 3 * 4 + 1];	/* and EVP's NUL */
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, i, k;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	/* Every chunk but the last is a multiple of 3: no "=" inside. */
	for (i = 0; i < len && b.err == 0; i += k) {
		k = len - i < B64_CHUNK ? len - i : B64_CHUNK;
		buf_append(&b, enc, (size_t)EVP_EncodeBlock(
			enc, (const unsigned char *)s + i, (int)k));
	}
	OPENSSL_cleanse(enc, sizeof(enc));
	return tmpl_fn_result(x, c, &b, out);
}

static int
b64_val(int ch)
{
	const char *p = ch > 0 ? strchr(b64, ch) : NULL;

	return p != NULL ? (int)(p - b64) : -1;
}

static int
b64_newline(int ch)
{
	return ch == '\r' || ch == '\n';
}

/*
 * Go's checks of base64.StdEncoding.DecodeString, without the decoding:
 * padding required, "\r" and "\n" skipped anywhere, nothing after the
 * padding.  0 with *NDATA the characters that are not newlines (whole
 * quanta) and *NPAD the "=" among them; or -1 with *BAD the offset Go's
 * CorruptInputError names.  EVP_DecodeBlock cannot be asked this: it
 * skips leading and trailing white space (and a trailing "-"), takes a
 * "=" anywhere for zero bits and does not say how many padded.
 */
static int
b64_check(const char *s, size_t len, size_t *ndata, size_t *npad,
	  size_t *bad)
{
	size_t i = 0, qstart = 0, eq;
	int j;

	*ndata = 0;
	*npad = 0;
	for (;;) {
		for (j = 0; j < 4; j++) {
			while (i < len && b64_newline(s[i]))
				i++;
			if (j == 0)
				qstart = i;
			if (i >= len) {
				if (j == 0)
					return 0;
				*bad = qstart;
				return -1;
			}
			if (s[i] == '=') {
				if (j < 2) {
					*bad = i;
					return -1;
				}
				*npad = (size_t)(4 - j);
				eq = i++;
				if (*npad == 2) {
					while (i < len && b64_newline(s[i]))
						i++;
					if (i >= len || s[i] != '=') {
						*bad = i >= len ? len : eq;
						return -1;
					}
					i++;
				}
				while (i < len && b64_newline(s[i]))
					i++;
				if (i < len) {
					*bad = i;
					return -1;
				}
				*ndata += 4;
				return 0;
			}
			if (b64_val((unsigned char)s[i]) < 0) {
				*bad = i;
				return -1;
			}
			i++;
		}
		*ndata += 4;
	}
}

/*
 * Decode what b64_check() passed: NDATA characters of S, newlines left
 * out, the last NPAD of them "=".  EVP_DecodeBlock turns every quantum
 * into 3 bytes, padding included, so the padded bytes are dropped here.
 * 0, or -1 if OpenSSL refused (b64_check() should make that impossible).
 */
static int
b64_decode(struct buf *b, const char *s, size_t ndata, size_t npad)
{
	unsigned char in[B64_CHUNK / 3 * 4], dec[B64_CHUNK];
	size_t i, k = 0, seen = 0;
	int r = 0;

	for (i = 0; seen < ndata; i++) {
		if (b64_newline(s[i]))
			continue;
		in[k++] = (unsigned char)s[i];
		seen++;
		if (k < sizeof(in) && seen < ndata)
			continue;
		r = EVP_DecodeBlock(dec, in, (int)k);
		if (r < 0 || (size_t)r != k / 4 * 3)
			break;
		buf_append(b, dec, (size_t)r - (seen == ndata ? npad : 0));
		k = 0;
	}
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(dec, sizeof(dec));
	return seen == ndata && k == 0 ? 0 : -1;
}

/* The error names the offset of the bad byte, never the data. */
int
tmpl_fn_base64Decode(struct exec *x, const struct call *c, const struct val *a,
		     size_t n, struct val *out)
{
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len, ndata, npad, bad = 0;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (b64_check(s, len, &ndata, &npad, &bad) != 0)
		return tmpl_cerr(x, c, "illegal base64 data at input byte %zu", bad);
	if (b64_decode(&b, s, ndata, npad) != 0) {
		buf_free(&b);
		return tmpl_cerr(x, c, "decoding failed");
	}
	return tmpl_fn_result(x, c, &b, out);
}

int
tmpl_fn_sha256Hex(struct exec *x, const struct call *c, const struct val *a,
		  size_t n, struct val *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct buf b = tmpl_fn_buf(x);
	const char *s;
	size_t len;
	int rc = tmpl_arg_str(x, c, a, 0, &s, &len);

	(void)n;
	if (rc != 0)
		return rc;
	if (EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return tmpl_cerr(x, c, "digest failed");
	for (i = 0; i < mdlen; i++)
		buf_printf(&b, "%02x", md[i]);
	return tmpl_fn_result(x, c, &b, out);
}

/*
 * writeToFile PATH OWNER GROUP PERMS [FLAGS] CONTENT, as consul-template:
 * FLAGS may hold "append" and "newline".  Prints nothing.  The write is
 * queued; the executor does it once the whole template has rendered.
 */
int
tmpl_fn_writeToFile(struct exec *x, const struct call *c, const struct val *a,
		    size_t n, struct val *out)
{
	const char *path, *owner, *group, *perms, *flags = "", *content;
	char *withnl = NULL;
	struct wfile *w;
	size_t len, i;
	int rc;

	rc = tmpl_arg_cstr(x, c, a, 0, &path);
	if (rc == 0)
		rc = tmpl_arg_cstr(x, c, a, 1, &owner);
	if (rc == 0)
		rc = tmpl_arg_cstr(x, c, a, 2, &group);
	if (rc == 0)
		rc = tmpl_arg_cstr(x, c, a, 3, &perms);
	if (rc == 0 && n == 6)
		rc = tmpl_arg_cstr(x, c, a, 4, &flags);
	if (rc == 0)
		rc = tmpl_arg_str(x, c, a, n - 1, &content, &len);
	if (rc != 0)
		return rc;
	for (i = 0; perms[i] >= '0' && perms[i] <= '7'; i++)
		;
	if (i == 0 || perms[i] != '\0' || strtoul(perms, NULL, 8) > 07777)
		return tmpl_cerr(x, c, "permissions must be an octal mode like 0644");
	if (x->env->write_file == NULL)
		return tmpl_cerr(x, c, "not available (no file writer)");
	if (x->nwfiles >= TMPL_MAX_WRITES)
		return tmpl_cerr(x, c, "more than %d writes in one template",
				 TMPL_MAX_WRITES);
	if (strstr(flags, "newline") != NULL) {
		withnl = malloc(len + 2);
		if (withnl == NULL || tmpl_keep(x, withnl) != 0)
			return tmpl_xoom(x);
		memcpy(withnl, content, len);
		withnl[len++] = '\n';
		withnl[len] = '\0';
		content = withnl;
	}
	w = tmpl_grow(x->wfiles, &x->capwfiles, x->nwfiles + 1, sizeof(*w));
	if (w == NULL)
		return tmpl_xoom(x);
	x->wfiles = w;
	x->wfiles[x->nwfiles++] = (struct wfile){
		path, owner, group, perms, content, len,
		strstr(flags, "append") != NULL, c->line, c->col,
	};
	*out = vstr("", 0);
	return 0;
}

/* The Go structs of consul-template's dependency package, over Vault's
 * JSON envelope (secret) and over what make_pki() builds (pkiCert). */
static const struct sfield auth_fields[] = {
	{"ClientToken", "client_token", F_STR, NULL},
	{"Accessor", "accessor", F_STR, NULL},
	{"Policies", "policies", F_LIST, NULL},
	{"Metadata", "metadata", F_MAP, NULL},
	{"LeaseDuration", "lease_duration", F_NUM, NULL},
	{"Renewable", "renewable", F_BOOL, NULL},
};
static const struct stype auth_type = {
	"*dependency.SecretAuth", auth_fields, 6, 1, 0,
};

static const struct sfield wrap_fields[] = {
	{"Token", "token", F_STR, NULL},
	{"TTL", "ttl", F_NUM, NULL},
	{"CreationTime", "creation_time", F_ANY, NULL},
	{"WrappedAccessor", "wrapped_accessor", F_STR, NULL},
};
static const struct stype wrap_type = {
	"*dependency.SecretWrapInfo", wrap_fields, 4, 1, 0,
};

static const struct sfield secret_fields[] = {
	{"RequestID", "request_id", F_STR, NULL},
	{"LeaseID", "lease_id", F_STR, NULL},
	{"LeaseDuration", "lease_duration", F_NUM, NULL},
	{"Renewable", "renewable", F_BOOL, NULL},
	{"Data", "data", F_MAP, NULL},
	{"Warnings", "warnings", F_LIST, NULL},
	{"Auth", "auth", F_STRUCT, &auth_type},
	{"WrapInfo", "wrap_info", F_STRUCT, &wrap_type},
};
static const struct stype secret_type = {
	"*dependency.Secret", secret_fields, 8, 1, 0,
};

/* pkiCert's PemEncoded: its JSON is built by make_pki() with these keys. */
static const struct sfield pki_fields[] = {
	{"Cert", "Cert", F_STR, NULL},
	{"Key", "Key", F_STR, NULL},
	{"CA", "CA", F_STR, NULL},
	{"CAChain", "CAChain", F_LIST, NULL},
};
static const struct stype pki_type = {
	"dependency.PemEncoded", pki_fields, 4, 0, 1,
};

/* Vault's PEM fields end without a newline; consul-template's PemEncoded
 * ones with one (pem.EncodeToMemory). */
static int
add_pem(struct exec *x, cJSON *to, const char *key, const cJSON *from)
{
	const char *s = cJSON_IsString(from) && from->valuestring ?
			from->valuestring : "";
	size_t n = strlen(s);
	char *d = malloc(n + 2);
	cJSON *item;

	if (d == NULL)
		return tmpl_xoom(x);
	memcpy(d, s, n);
	if (n > 0 && s[n - 1] != '\n')
		d[n++] = '\n';
	d[n] = '\0';
	item = cJSON_CreateString(d);
	free(d);
	if (item == NULL)
		return tmpl_xoom(x);
	if (key != NULL ? !cJSON_AddItemToObject(to, key, item)
			: !cJSON_AddItemToArray(to, item)) {
		cJSON_Delete(item);
		return tmpl_xoom(x);
	}
	return 0;
}

static int
make_pki(struct exec *x, const cJSON *envelope, struct val *out)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(envelope, "data");
	const cJSON *chain = cJSON_GetObjectItemCaseSensitive(data, "ca_chain");
	cJSON *o = cJSON_CreateObject(), *list;
	const cJSON *it;
	int rc = tmpl_keep_json(x, o);

	if (rc == 0)
		rc = add_pem(x, o, "Cert",
			     cJSON_GetObjectItemCaseSensitive(data, "certificate"));
	if (rc == 0)
		rc = add_pem(x, o, "Key",
			     cJSON_GetObjectItemCaseSensitive(data, "private_key"));
	if (rc == 0)
		rc = add_pem(x, o, "CA",
			     cJSON_GetObjectItemCaseSensitive(data, "issuing_ca"));
	if (rc != 0)
		return rc;
	list = cJSON_AddArrayToObject(o, "CAChain");
	if (list == NULL)
		return tmpl_xoom(x);
	for (it = cJSON_IsArray(chain) ? chain->child : NULL; it; it = it->next) {
		rc = add_pem(x, list, NULL, it);
		if (rc != 0)
			return rc;
	}
	*out = (struct val){.k = V_STRUCT, .j = o, .st = &pki_type};
	return 0;
}

/*
 * secret / pkiCert PATH [k=v ...]: ask the provider once per distinct
 * call in this pass.  Pending data is a pending value, not an error.
 */
int
tmpl_fn_fetch(struct exec *x, const struct call *c, const struct val *a, size_t n,
	      struct val *out)
{
	const char *kind = c->fn->name, *path, **kv = NULL;
	const cJSON *res = NULL;
	char perr_[TMPL_MSG_MAX] = "";
	struct memo *m;
	size_t i, k, nkv = 0;
	int rc;

	rc = tmpl_arg_cstr(x, c, a, 0, &path);
	if (rc != 0)
		return rc;
	/* consul-template trims the slashes around a path: "/kv/x/" is kv/x. */
	while (*path == '/')
		path++;
	k = strlen(path);
	if (k > 0 && path[k - 1] == '/') {
		char *t;

		while (k > 0 && path[k - 1] == '/')
			k--;
		t = strndup(path, k);
		rc = t == NULL ? tmpl_xoom(x) : tmpl_keep(x, t);
		if (rc != 0)
			return rc;
		path = t;
	}
	if (*path == '\0')
		return tmpl_cerr(x, c, "empty path");
	if (n > 1) {
		kv = malloc((n - 1) * sizeof(*kv));
		rc = kv == NULL ? tmpl_xoom(x) : tmpl_keep(x, (void *)kv);
		if (rc != 0)
			return rc;
	}
	for (i = 1; i < n; i++) {
		const char *s, *eq;
		size_t len, klen;
		char *d;

		rc = tmpl_arg_cstr(x, c, a, i, &s);
		if (rc != 0)
			return rc;
		len = strlen(s);
		tmpl_trim_space(&s, &len);
		if (len == 0)
			continue;
		eq = memchr(s, '=', len);
		if (eq == NULL)
			return tmpl_cerr(x, c, "argument %zu is not a key=value pair",
					 i + 1);
		d = malloc(len + 1);
		if (d == NULL || tmpl_keep(x, d) != 0)
			return tmpl_xoom(x);
		/* "k = v" is "k=v", as consul-template trims both sides. */
		{
			const char *k0 = s, *v0 = eq + 1;
			size_t vlen = len - (size_t)(eq + 1 - s);

			klen = (size_t)(eq - s);
			tmpl_trim_space(&k0, &klen);
			tmpl_trim_space(&v0, &vlen);
			memcpy(d, k0, klen);
			d[klen] = '=';
			memcpy(d + klen + 1, v0, vlen);
			d[klen + 1 + vlen] = '\0';
		}
		kv[nkv++] = d;
	}
	/* By index: memo is NULL until the first call, and NULL + 0 is
	 * undefined in C. */
	for (k = 0; k < x->nmemo; k++) {
		m = &x->memo[k];
		if (m->kind != kind || strcmp(m->path, path) != 0 || m->nkv != nkv)
			continue;
		for (i = 0; i < nkv && strcmp(m->kv[i], kv[i]) == 0; i++)
			;
		if (i == nkv) {
			*out = m->v;
			return 0;
		}
	}
	if (x->env->fetch == NULL)
		return tmpl_cerr(x, c, "not available (no data provider)");
	rc = x->env->fetch(x->env->arg, kind, path, kv, nkv, &res, perr_,
			   sizeof(perr_));
	if (rc < 0) {
		x->fatal = 1;
		tmpl_cerr(x, c, "%s", perr_[0] ? perr_ : "fetch failed");
		return rc;
	}
	if (rc == TMPL_PENDING) {
		x->pending++;
		*out = (struct val){.k = V_PENDING};
	} else if (res == NULL) {
		*out = vnil();
	} else if (kind[0] == 'p') {
		rc = make_pki(x, res, out);
		if (rc != 0)
			return rc;
	} else if (strcmp(kind, "secrets") == 0) {
		rc = tmpl_secrets_list(x, c, res, out);
		if (rc != 0)
			return rc;
	} else {
		*out = (struct val){.k = V_STRUCT, .j = res, .st = &secret_type};
	}
	m = tmpl_grow(x->memo, &x->capmemo, x->nmemo + 1, sizeof(*m));
	if (m == NULL)
		return tmpl_xoom(x);
	x->memo = m;
	x->memo[x->nmemo++] = (struct memo){kind, path, kv, nkv, *out};
	return 0;
}
