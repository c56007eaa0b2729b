/*
 * config/check.c: the checks that need more than one field.
 *
 * A table row types and bounds one value; what depends on several (a
 * signal hook needs a pid file, auth.method names the keys it needs, a
 * bundle must hold the certificate and its key, no two certificates
 * share a name) is checked here.  Each cfg_check_*() is named in the
 * .check of its section in table.c and runs once that section's
 * mapping has been read, items of lists and maps included;
 * cfg_check_root() runs last, over the whole file.
 *
 * DESIGN / invariants:
 * - A check reports and carries on, like the walk: every problem in the
 *   file is listed, through cfg_report() and at the place the loader's
 *   records say the key was set (cfg_where(), cfg_field_path()), or at
 *   its section when the key is missing.
 * - A field the walk found present but invalid (its record is "bad") is
 *   left out of the checks that read it, so one mistake gives one error.
 * - A message about a value that took text from the environment (its
 *   record is "tainted") names the key, never the text.
 * - Checks may complete a field the file left out when its default
 *   depends on another one (a file's mode, auth.mount); nothing else
 *   here changes the configuration.
 */
#include "config.h"
#include "config_int.h"
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
enum_name(const struct cfg_enum *values, int value)
{
	for (; values && values->name; values++) {
		if (values->value == value)
			return values->name;
	}
	return "?";
}

static void
need_for_method(struct loader *ld, const struct mark_rec *method,
		const char *key, const char *name, const char *why)
{
	cfg_report(ld, CFG_AT(method->key), key, "required when auth.method is "
	       "'%s'%s", name, why);
}


/* ---- import ---- */
/* Vault Agent's spellings: perms is mode; command and exec exclude each
 * other. */
static const struct mark_rec *
find_key(const struct loader *ld, const char *path)
{
	for (size_t i = ld->n_recs; i > 0; i--)
		if (strcmp(ld->recs[i - 1].path, path) == 0)
			return &ld->recs[i - 1];
	return NULL;
}

static void
check_template_import(struct loader *ld, const struct template_def *t,
		      const char *path, yaml_mark_t at)
{
	char kpath[CFG_PATH_MAX];
	const struct mark_rec *m;

	cfg_path_printf(kpath, sizeof(kpath), "%s.mode", path);
	m = find_key(ld, kpath);
	cfg_path_printf(kpath, sizeof(kpath), "%s.perms", path);
	if (m && find_key(ld, kpath))
		cfg_report(ld, CFG_AT(find_key(ld, kpath)->key), kpath,
			   "is another name for mode: set one of them");
	cfg_path_printf(kpath, sizeof(kpath), "%s.exec", path);
	if (t->command && find_key(ld, kpath))
		cfg_report(ld, CFG_AT(at), path, "set command (a shell line) "
			   "or exec (a program and its arguments), not both");
}

/*
 * The renewal keys of an entry or a template: renew_at and renew_before
 * exclude each other, the jitter stays inside the lifetime, and the
 * rotate_window parses, once, into the policy that renew.c reads.
 */
static void
check_renewal(struct loader *ld, struct renew_policy *p, char *const *window,
	      const char *path)
{
	char kpath[CFG_PATH_MAX];

	if (p->renew_at > 0 && p->renew_before_ms) {
		cfg_join_path(kpath, sizeof(kpath), path, "renew_before");
		cfg_report(ld, CFG_AT(cfg_where(ld, &p->renew_before_ms, path)),
			   kpath, "set renew_at or renew_before, not both");
	} else {
		double at_frac = p->renew_at > 0 ? p->renew_at : RENEW_AT_DEFAULT;
		if (!p->renew_before_ms &&
		    (at_frac - p->jitter <= 0 || at_frac + p->jitter >= 1)) {
			cfg_join_path(kpath, sizeof(kpath), path, "jitter");
			cfg_report(ld, CFG_AT(cfg_where(ld, &p->jitter, path)),
				   kpath, "renew_at %g +- jitter %g leaves "
				   "the lifetime; keep both inside (0, 1)",
				   at_frac, p->jitter);
		}
	}
	p->has_window = 0;
	if (*window) {
		char why[160];
		if (window_parse(*window, &p->window, why, sizeof(why)) != 0) {
			cfg_join_path(kpath, sizeof(kpath), path, "rotate_window");
			cfg_report(ld, CFG_AT(cfg_where(ld, window, path)), kpath,
				   "%s (write e.g. \"Sat 02:00-04:00\" or "
				   "\"Mon-Fri 22:00-06:00 UTC\")", why);
		} else {
			p->has_window = 1;
		}
	}
}

/* ---- keymat ---- */

/* Exactly one of FILE and ENV (KFILE / KENV their keys) is set. */
static void
check_secret_source(struct loader *ld, yaml_mark_t fat, const char *fpath,
		    const char *file, const char *env, const char *kfile,
		    const char *kenv)
{
	char kpath[CFG_PATH_MAX];

	if ((file == NULL) == (env == NULL)) {
		cfg_join_path(kpath, sizeof(kpath), fpath, kfile);
		cfg_report(ld, CFG_AT(fat), kpath, "set %s or %s (one of "
			   "them)", kfile, kenv);
	}
	if (file && file[0] != '/') {
		cfg_join_path(kpath, sizeof(kpath), fpath, kfile);
		cfg_report(ld, CFG_AT(fat), kpath, "must be an absolute path");
	}
}

/* encrypt: exactly one of passphrase_file, passphrase_env and
 * passphrase_kv; passphrase_field only with passphrase_kv. */
static void
check_passphrase_source(struct loader *ld, yaml_mark_t fat, const char *epath,
			const struct cert_file_encrypt *e)
{
	char kpath[CFG_PATH_MAX];
	int n = !!e->passphrase_file + !!e->passphrase_env + !!e->passphrase_kv;

	if (n != 1) {
		cfg_report(ld, CFG_AT(fat), epath, "%s of passphrase_file, "
			   "passphrase_env and passphrase_kv", n ? "set only one"
								 : "set one");
	}
	if (e->passphrase_file && e->passphrase_file[0] != '/') {
		cfg_join_path(kpath, sizeof(kpath), epath, "passphrase_file");
		cfg_report(ld, CFG_AT(fat), kpath, "must be an absolute path");
	}
	if (e->passphrase_kv && strspn(e->passphrase_kv, "/ ") ==
				    strlen(e->passphrase_kv)) {
		cfg_join_path(kpath, sizeof(kpath), epath, "passphrase_kv");
		cfg_report(ld, CFG_AT(fat), kpath, "an empty path; write the "
			   "kv read path, e.g. secret/data/tenants/{tenant}");
	}
	if (e->passphrase_field && !e->passphrase_kv) {
		cfg_join_path(kpath, sizeof(kpath), epath, "passphrase_field");
		cfg_report(ld, CFG_AT(fat), kpath, "only with passphrase_kv");
	} else if (e->passphrase_field && e->passphrase_field[0] == '\0') {
		cfg_join_path(kpath, sizeof(kpath), epath, "passphrase_field");
		cfg_report(ld, CFG_AT(fat), kpath, "an empty field name");
	}
}

/* A key (KEY) only some file kinds take. */
static void
only_for(struct loader *ld, yaml_mark_t fat, const char *fpath, int set,
	 int allowed, const char *key, const char *kinds)
{
	char kpath[CFG_PATH_MAX];

	if (set && !allowed) {
		cfg_join_path(kpath, sizeof(kpath), fpath, key);
		cfg_report(ld, CFG_AT(fat), kpath, "only %s take%s it", kinds,
			   strchr(kinds, ' ') ? "" : "s");
	}
}

/* A keystore's keys: STORE (F is a keystore) needs one password source;
 * other kinds (KINDS take them) take none of them. */
static void
check_store_keys(struct loader *ld, yaml_mark_t fat, const char *fpath,
		 const struct cert_file *f, int store, const char *kinds)
{
	if (store)
		check_secret_source(ld, fat, fpath, f->password_file,
				    f->password_env, "password_file",
				    "password_env");
	only_for(ld, fat, fpath, f->password_file != NULL, store,
		 "password_file", kinds);
	only_for(ld, fat, fpath, f->password_env != NULL, store,
		 "password_env", kinds);
	only_for(ld, fat, fpath, f->friendly_name != NULL, store,
		 "friendly_name", kinds);
	only_for(ld, fat, fpath, f->legacy, store, "legacy", kinds);
}

/* The keys of the keymat file kinds: which kind takes which, their
 * words, and the defaults that need the entry C (the alias; C is NULL
 * for grace files, whose keystore then has no alias). */
static void
check_keymat_file(struct loader *ld, struct cert_def *c, struct cert_file *f,
		  const char *fpath, yaml_mark_t fat)
{
	int p12 = strcmp(f->name, "pkcs12") == 0;
	int store = p12 || strcmp(f->name, "truststore_pkcs12") == 0;
	int pin = strcmp(f->name, "pin") == 0;
	int key = strcmp(f->name, "key") == 0;
	int enc = f->encrypt.passphrase_file || f->encrypt.passphrase_env ||
		  f->encrypt.passphrase_kv || f->encrypt.passphrase_field ||
		  f->encrypt.kdf;
	char kpath[CFG_PATH_MAX];

	cfg_join_path(kpath, sizeof(kpath), fpath, "format");
	if (f->format && pin) {
		if (strcmp(f->format, "hex") == 0)
			f->pin_hex = 1;
		else if (strcmp(f->format, "base64") != 0)
			cfg_report(ld, CFG_AT(fat), kpath, "a pin is base64 "
				   "or hex");
	} else if (f->format && (key || strcmp(f->name, "cert") == 0)) {
		if (strcmp(f->format, "der") == 0)
			f->der = 1;
		else if (strcmp(f->format, "pem") != 0)
			cfg_report(ld, CFG_AT(fat), kpath, "pem or der");
	} else if (f->format && (strcmp(f->name, "chain") == 0 ||
				 strcmp(f->name, "ca") == 0 ||
				 strcmp(f->name, "bundle") == 0)) {
		if (strcmp(f->format, "pem") != 0)
			cfg_report(ld, CFG_AT(fat), kpath, "a DER file holds "
				   "one certificate and a %s may hold several: "
				   "use pem (or truststore_pkcs12 for Java)",
				   f->name);
	} else if (f->format) {
		cfg_report(ld, CFG_AT(fat), kpath, "a keystore has no format "
			   "to choose");
	}
	check_store_keys(ld, fat, fpath, f, store,
			 "pkcs12 and truststore_pkcs12");
	if (p12 && f->friendly_name == NULL && c && c->name) {
		f->friendly_name = strdup(c->name);
		if (f->friendly_name == NULL)
			cfg_out_of_memory(ld);
	}
	only_for(ld, fat, fpath, f->of != NULL, pin, "of", "pin");
	only_for(ld, fat, fpath, enc, key, "encrypt", "key");
	if (pin && f->of) {
		if (strcmp(f->of, "intermediate") == 0)
			f->pin_intermediate = 1;
		else if (strcmp(f->of, "leaf") != 0) {
			cfg_join_path(kpath, sizeof(kpath), fpath, "of");
			cfg_report(ld, CFG_AT(fat), kpath, "leaf or "
				   "intermediate");
		}
	}
	if (key && enc) {
		cfg_join_path(kpath, sizeof(kpath), fpath, "encrypt");
		check_passphrase_source(ld, fat, kpath, &f->encrypt);
		if (f->encrypt.kdf && strcmp(f->encrypt.kdf, "scrypt") == 0)
			f->scrypt = 1;
		else if (f->encrypt.kdf && strcmp(f->encrypt.kdf, "pbkdf2") != 0) {
			cfg_join_path(kpath, sizeof(kpath), kpath, "kdf");
			cfg_report(ld, CFG_AT(fat), kpath, "pbkdf2 or scrypt");
		}
	}
}

/* Cross-field checks of one certificates[] entry. */
void
cfg_check_cert(struct loader *ld, void *obj, const char *path)
{
	struct cert_def *c = obj;
	yaml_mark_t at = cfg_where(ld, &c->path, path);
	int has_cert = 0, has_key = 0;

	if (c->path) {
		const char *want = c->mode == CERT_MODE_SIGN ? "/sign/" : "/issue/";
		if (strstr(c->path, want) == NULL) {
			char kpath[CFG_PATH_MAX];
			cfg_join_path(kpath, sizeof(kpath), path, "path");
			cfg_report(ld, CFG_AT(at), kpath, "mode %s needs a "
				   "path with '%s' in it (like pki_int%sROLE)",
				   enum_name(cfg_cert_modes, c->mode), want,
				   want);
		}
	}
	check_renewal(ld, &c->policy, &c->rotate_window, path);
	if (c->mode == CERT_MODE_SIGN && c->key_bits) {
		int ok = c->key_type == CERT_KEY_RSA
				 ? (c->key_bits == 2048 || c->key_bits == 3072 ||
				    c->key_bits == 4096)
			 : c->key_type == CERT_KEY_EC
				 ? (c->key_bits == 256 || c->key_bits == 384 ||
				    c->key_bits == 521)
				 : 1;
		if (!ok) {
			char kpath[CFG_PATH_MAX];
			cfg_join_path(kpath, sizeof(kpath), path, "key_bits");
			cfg_report(ld,
				   CFG_AT(cfg_where(ld, &c->key_bits, path)),
				   kpath, "%llu is not a size for %s keys "
				   "(rsa: 2048, 3072, 4096; ec: 256, 384, 521)",
				   (unsigned long long)c->key_bits,
				   enum_name(cfg_cert_key_types, c->key_type));
		}
	}
	for (size_t i = 0; i < c->out.n; i++) {
		struct cert_file *f = &c->out.files[i];
		char kpath[CFG_PATH_MAX], fpath[CFG_PATH_MAX];
		yaml_mark_t fat = cfg_where(ld, &f->path, path);

		snprintf(fpath, sizeof(fpath), "%s.files.%s", path, f->name);
		if (!cfg_word_in(f->name, cfg_file_kinds)) {
			cfg_report(ld, CFG_AT(fat), fpath, "unknown file "
				   "kind; use cert, key, chain, ca, bundle, "
				   "pkcs12, truststore_pkcs12 or pin");
			continue;
		}
		check_keymat_file(ld, c, f, fpath, fat);
		/* A keystore alone is a complete set: it is read back. */
		if (strcmp(f->name, "pkcs12") == 0)
			has_cert = has_key = 1;
		if (strcmp(f->name, "cert") == 0)
			has_cert = 1;
		if (strcmp(f->name, "key") == 0)
			has_key = 1;
		if (strcmp(f->name, "bundle") == 0) {
			if (f->n_parts == 0) {
				cfg_join_path(kpath, sizeof(kpath), fpath,
					      "parts");
				cfg_report(ld, CFG_AT(fat), kpath,
					   "a bundle needs its parts, e.g. "
					   "[cert, chain, key]");
			}
			for (size_t j = 0; j < f->n_parts; j++) {
				if (strcmp(f->parts[j], "cert") == 0)
					has_cert = 1;
				if (strcmp(f->parts[j], "key") == 0)
					has_key = 1;
			}
		} else if (f->n_parts) {
			cfg_join_path(kpath, sizeof(kpath), fpath, "parts");
			cfg_report(ld, CFG_AT(fat), kpath,
				   "only a bundle has parts");
		}
		if (f->path && c->out.atomic_dir && strchr(f->path, '/')) {
			cfg_join_path(kpath, sizeof(kpath), fpath, "path");
			cfg_report(ld, CFG_AT(fat), kpath, "with atomic_dir, "
				   "a file path is a bare name inside that "
				   "directory");
		}
		if (f->path && !c->out.atomic_dir && f->path[0] != '/') {
			cfg_join_path(kpath, sizeof(kpath), fpath, "path");
			cfg_report(ld, CFG_AT(fat), kpath,
				   "must be an absolute path");
		}
		if (f->mode == 0) {
			int holds_key = strcmp(f->name, "key") == 0 ||
					strcmp(f->name, "pkcs12") == 0;
			for (size_t j = 0; j < f->n_parts; j++)
				holds_key |= strcmp(f->parts[j], "key") == 0;
			f->mode = holds_key ? 0600 : 0644;
		}
	}
	if (c->out.n && (!has_cert || !has_key)) {
		char kpath[CFG_PATH_MAX];
		cfg_join_path(kpath, sizeof(kpath), path, "files");
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, kpath).line ?
				      cfg_where(ld, NULL, kpath) : at), kpath,
			   "must write the certificate and its key (a cert "
			   "and a key file, a bundle with both parts, or a "
			   "pkcs12 keystore), so "
			   "that a restart can reuse them instead of issuing "
			   "again");
	}
}


/* One templates[] entry: a source or inline contents, not both. */
void
cfg_check_template(struct loader *ld, void *obj, const char *path)
{
	struct template_def *t = obj;
	yaml_mark_t at = cfg_where(ld, &t->destination, path);

	check_renewal(ld, &t->policy, &t->rotate_window, path);
	if ((t->source == NULL) == (t->contents == NULL))
		cfg_report(ld, CFG_AT(at), path,
			   "needs exactly one of source and contents");
	if (t->destination && t->destination[0] != '/') {
		char kpath[CFG_PATH_MAX];
		cfg_join_path(kpath, sizeof(kpath), path, "destination");
		cfg_report(ld, CFG_AT(at), kpath, "must be an absolute path");
	}
	if ((t->left_delimiter == NULL) != (t->right_delimiter == NULL))
		cfg_report(ld, CFG_AT(at), path, "set both left_delimiter "
			   "and right_delimiter, or neither");
	check_template_import(ld, t, path, at);
}

/* wait: min must not exceed max. */
void
cfg_check_wait(struct loader *ld, void *obj, const char *path)
{
	struct change_wait *w = obj;
	const struct mark_rec *lo = cfg_find_field(ld, &w->min_ms);
	const struct mark_rec *hi = cfg_find_field(ld, &w->max_ms);
	char kpath[CFG_PATH_MAX];

	if ((lo && lo->bad) || (hi && hi->bad) || w->min_ms <= w->max_ms)
		return;
	cfg_join_path(kpath, sizeof(kpath), path, "min");
	cfg_report(ld, CFG_AT(lo ? lo->key : cfg_where(ld, &w->max_ms, path)),
		   kpath, "is greater than %s.max", path);
}

/* One hooks: entry: a signal with a pid file, or a command. */
void
cfg_check_hook(struct loader *ld, void *obj, const char *path)
{
	struct hook_def *h = obj;
	const struct mark_rec *sig = cfg_find_field(ld, &h->signal);
	const struct mark_rec *tmo = cfg_find_field(ld, &h->timeout_ms);
	yaml_mark_t at = cfg_where(ld, NULL, path);
	char kpath[CFG_PATH_MAX];
	const char *why = h->name ? cfg_check_cert_name(h->name) : NULL;

	if (why)
		cfg_report(ld, CFG_AT(at), path, "a hook name %s", why);
	if (sig && sig->bad)
		return;
	if (h->signal && h->n_command) {
		cfg_report(ld, CFG_AT(at), path, "set either signal (with "
			   "pid_file) or command, not both");
	} else if (h->signal == 0 && h->n_command == 0 && h->pid_file == NULL &&
		   cfg_find_field(ld, &h->command) == NULL) {
		cfg_report(ld, CFG_AT(at), path,
			   "needs a command, or a signal and a pid_file");
	}
	if (h->signal && h->pid_file == NULL &&
	    cfg_find_field(ld, &h->pid_file) == NULL) {
		cfg_join_path(kpath, sizeof(kpath), path, "pid_file");
		cfg_report(ld, CFG_AT(sig->key), kpath, "required for a "
			   "signal hook (the process to signal)");
	}
	if (h->pid_file && h->signal == 0) {
		cfg_join_path(kpath, sizeof(kpath), path, "pid_file");
		cfg_report(ld, CFG_AT(cfg_where(ld, &h->pid_file, path)), kpath,
			   "is for signal hooks: add signal, e.g. signal: "
			   "SIGHUP");
	}
	if (h->pid_file && h->pid_file[0] != '/') {
		cfg_join_path(kpath, sizeof(kpath), path, "pid_file");
		cfg_report(ld, CFG_AT(cfg_where(ld, &h->pid_file, path)), kpath,
			   "must be an absolute path");
	}
	if (tmo && h->signal) {
		cfg_join_path(kpath, sizeof(kpath), path, "timeout");
		cfg_report(ld, CFG_AT(tmo->key), kpath,
			   "applies to command hooks only");
	}
}

/*
 * Every on_change name of list LIST (N names, at PATH) must be a hook.
 * The error points at the name itself.
 */
static void
check_on_change(struct loader *ld, const struct config *c, char *const *list,
		size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		char ipath[CFG_PATH_MAX];
		const struct mark_rec *r;
		const char *near = NULL;
		char hint[CFG_PATH_MAX];
		size_t j;

		for (j = 0; j < c->hooks.n; j++) {
			const char *name = c->hooks.defs[j].name;
			if (name && strcmp(name, list[i]) == 0)
				break;
			if (name && cfg_key_distance(name, list[i]) <= 2)
				near = name;
		}
		if (j < c->hooks.n)
			continue;
		if (near)
			snprintf(hint, sizeof(hint), "; did you mean '%s'?",
				 near);
		else
			snprintf(hint, sizeof(hint),
				 " (define it under hooks:)");
		cfg_path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		r = cfg_find_path(ld, ipath);
		if (r == NULL) {
			cfg_path_printf(ipath, sizeof(ipath), "%s", path);
			r = cfg_find_path(ld, ipath);
		}
		if (r && r->tainted)
			cfg_report(ld, CFG_AT(r->value), ipath, "the value "
				   "from the environment names no hook under "
				   "hooks:");
		else if (r)
			cfg_report(ld, CFG_AT(r->value), ipath,
				   "'%s' is not a hook%s", list[i], hint);
		else
			cfg_report(ld, 0, 0, ipath, "'%s' is not a hook%s",
				   list[i], hint);
	}
}

/* No two certificates may share a name or write the same file. */
static void
check_certs_unique(struct loader *ld, const struct config *c)
{
	for (size_t i = 0; i < c->certs.n; i++) {
		const struct cert_def *a = &c->certs.defs[i];
		char kpath[CFG_PATH_MAX];

		for (size_t j = 0; j < i; j++) {
			if (a->name && c->certs.defs[j].name &&
			    strcmp(a->name, c->certs.defs[j].name) == 0) {
				char first[CFG_PATH_MAX], *dot;

				snprintf(kpath, sizeof(kpath),
					 "certificates[%zu].name", i);
				snprintf(first, sizeof(first),
					 "certificates[%zu].name", j);
				snprintf(first, sizeof(first), "%s",
					 cfg_field_path(ld, &c->certs.defs[j].name,
							first));
				dot = strrchr(first, '.');
				if (dot != NULL)
					*dot = '\0';
				cfg_report(ld,
					   CFG_AT(cfg_where(ld, &a->name, NULL)),
					   cfg_field_path(ld, &a->name, kpath),
					   "'%s' is already the name of %s",
					   a->name, first);
			}
		}
	}
}

void
cfg_check_root(struct loader *ld, void *obj, const char *path)
{
	struct config *c = obj;
	const struct mark_rec *m = cfg_find_field(ld, &c->auth.method);
	const struct mark_rec *cert = cfg_find_field(ld, &c->vault.client_cert);
	const struct mark_rec *key = cfg_find_field(ld, &c->vault.client_key);
	const struct mark_rec *lo =
		cfg_find_field(ld, &c->vault.retry.min_ms);
	const struct mark_rec *hi =
		cfg_find_field(ld, &c->vault.retry.max_ms);
	const char *name;

	(void)path;
	if (m && !m->bad) {
		name = enum_name(cfg_auth_methods, c->auth.method);
		switch (c->auth.method) {
		case AUTH_METHOD_APPROLE:
			if (c->auth.role_id_file == NULL &&
			    cfg_find_field(ld, &c->auth.role_id_file) == NULL)
				need_for_method(ld, m, "auth.role_id_file",
						name, "");
			if (c->auth.secret_id_file == NULL &&
			    cfg_find_field(ld, &c->auth.secret_id_file) == NULL)
				need_for_method(ld, m, "auth.secret_id_file",
						name, "");
			break;
		case AUTH_METHOD_TOKEN:
			if (c->auth.token_file == NULL &&
			    cfg_find_field(ld, &c->auth.token_file) == NULL)
				need_for_method(ld, m, "auth.token_file", name,
						"");
			break;
		case AUTH_METHOD_KUBERNETES:
		case AUTH_METHOD_JWT:
			if (c->auth.role == NULL &&
			    cfg_find_field(ld, &c->auth.role) == NULL)
				need_for_method(ld, m, "auth.role", name, "");
			if (c->auth.token_path == NULL &&
			    cfg_find_field(ld, &c->auth.token_path) == NULL) {
				if (c->auth.method == AUTH_METHOD_JWT)
					need_for_method(ld, m, "auth.token_path",
							name, " (the file that "
							"holds the JWT)");
				else {
					c->auth.token_path =
						strdup(AUTH_KUBERNETES_TOKEN);
					if (c->auth.token_path == NULL)
						cfg_out_of_memory(ld);
				}
			}
			break;
		case AUTH_METHOD_CERT:
			if (c->vault.client_cert == NULL && cert == NULL)
				need_for_method(ld, m, "vault.client_cert",
						name, " (the client certificate "
						"is the login identity)");
			if (c->vault.client_key == NULL && key == NULL)
				need_for_method(ld, m, "vault.client_key",
						name, "");
			break;
		}
		if (c->auth.mount == NULL &&
		    cfg_find_field(ld, &c->auth.mount) == NULL) {
			c->auth.mount = strdup(name);
			if (c->auth.mount == NULL)
				cfg_out_of_memory(ld);
		}
	}

	/*
	 * A certificate without its key (or the reverse) is unusable.  Under
	 * the cert method the missing half was reported above.
	 */
	if (m && !m->bad && c->auth.method == AUTH_METHOD_CERT)
		cert = key = NULL;
	if (cert && !cert->bad && key == NULL)
		cfg_report(ld, CFG_AT(cert->key), "vault.client_cert",
			   "set without vault.client_key");
	if (key && !key->bad && cert == NULL)
		cfg_report(ld, CFG_AT(key->key), "vault.client_key",
			   "set without vault.client_cert");

	check_certs_unique(ld, c);
	for (size_t i = 0; i < c->certs.n; i++) {
		char kpath[CFG_PATH_MAX];
		cfg_path_printf(kpath, sizeof(kpath),
				"certificates[%zu].on_change", i);
		check_on_change(ld, c, c->certs.defs[i].on_change,
				c->certs.defs[i].n_on_change,
				cfg_field_path(ld, &c->certs.defs[i].on_change,
					       kpath));
	}
	/* ---- fleet ---- */
	for (size_t i = 0; i < c->n_profiles; i++) {
		char kpath[CFG_PATH_MAX];
		cfg_path_printf(kpath, sizeof(kpath), "profiles.%s.on_change",
				c->profiles[i].name);
		check_on_change(ld, c, c->profiles[i].on_change,
				c->profiles[i].n_on_change, kpath);
	}
	for (size_t i = 0; i < c->templates.n; i++) {
		char kpath[CFG_PATH_MAX];
		cfg_path_printf(kpath, sizeof(kpath),
				"templates[%zu].on_change", i);
		check_on_change(ld, c, c->templates.defs[i].on_change,
				c->templates.defs[i].n_on_change,
				cfg_field_path(ld, &c->templates.defs[i].on_change,
					       kpath));
	}
	cfg_check_bundles_root(ld, c);

	if ((lo == NULL || !lo->bad) && (hi == NULL || !hi->bad) &&
	    c->vault.retry.min_ms > c->vault.retry.max_ms) {
		char a[32], b[32];
		yaml_mark_t at = lo ? lo->key :
			cfg_where(ld, &c->vault.retry.max_ms, "vault.retry");

		cfg_format_duration(c->vault.retry.min_ms, a, sizeof(a));
		cfg_format_duration(c->vault.retry.max_ms, b, sizeof(b));
		if ((lo && lo->tainted) || (hi && hi->tainted))
			cfg_report(ld, CFG_AT(at), "vault.retry.min_backoff",
				   "is greater than vault.retry.max_backoff");
		else
			cfg_report(ld, CFG_AT(at), "vault.retry.min_backoff",
				   "is greater than vault.retry.max_backoff "
				   "(%s > %s)", a, b);
	}
}

/* ---- bundles ---- */

/* A source is a PKI mount or a kv read, never both. */
void
cfg_check_bundle_source(struct loader *ld, void *obj, const char *path)
{
	struct bundle_source *src = obj;
	yaml_mark_t at = cfg_where(ld, NULL, path);

	if ((src->pki == NULL) == (src->kv == NULL) &&
	    cfg_find_field(ld, &src->pki) == NULL && cfg_find_field(ld, &src->kv) == NULL)
		cfg_report(ld, CFG_AT(at), path, "needs pki: MOUNT or kv: PATH");
	else if (src->pki && src->kv)
		cfg_report(ld, CFG_AT(at), path, "set either pki or kv, not both");
	else if (src->field && src->pki)
		cfg_report(ld, CFG_AT(cfg_where(ld, &src->field, path)), path,
			   "field is for a kv source");
}

/* files: holds pem and nothing else. */
static void
check_pem_files(struct loader *ld, const struct cert_file *files, size_t n,
		const char *path)
{
	char kpath[CFG_PATH_MAX];
	int pem = 0;

	for (size_t i = 0; i < n; i++) {
		if (files[i].name && strcmp(files[i].name, "pem") == 0) {
			pem = 1;
			continue;
		}
		cfg_path_printf(kpath, sizeof(kpath), "%s.files", path);
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, kpath)), kpath,
			   "'%s' is not a file of this entry: the one file is pem",
			   files[i].name ? files[i].name : "?");
	}
	cfg_path_printf(kpath, sizeof(kpath), "%s.files", path);
	if (!pem && n == 0 && cfg_find_path(ld, kpath) != NULL) {
		cfg_path_printf(kpath, sizeof(kpath), "%s.files", path);
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, path)), kpath,
			   "needs pem: {path: ...}");
	}
}

/* A trust bundle writes pem (which it reads back at start) and may
 * write the same CAs as a truststore_pkcs12 for Java. */
void
cfg_check_bundle(struct loader *ld, void *obj, const char *path)
{
	struct bundle_def *d = obj;
	char kpath[CFG_PATH_MAX];
	int pem = 0;

	cfg_path_printf(kpath, sizeof(kpath), "%s.files", path);
	for (size_t i = 0; i < d->n_files; i++) {
		struct cert_file *f = &d->files[i];
		int store = f->name && strcmp(f->name, "truststore_pkcs12") == 0;
		char fpath[CFG_PATH_MAX];
		yaml_mark_t fat;

		cfg_join_path(fpath, sizeof(fpath), kpath,
			      f->name ? f->name : "?");
		fat = cfg_where(ld, &f->path, path);
		if (f->name && strcmp(f->name, "pem") == 0)
			pem = 1;
		else if (!store)
			cfg_report(ld, CFG_AT(fat), fpath, "'%s' is not a file of "
				   "a trust bundle: pem, truststore_pkcs12",
				   f->name ? f->name : "?");
		check_store_keys(ld, fat, fpath, f, store, "truststore_pkcs12");
	}
	if (!pem && cfg_find_path(ld, kpath) != NULL)
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, kpath)), kpath,
			   "needs pem: {path: ...} (read back at start, it "
			   "keeps the CAs that left every source)");
}

void
cfg_check_crl(struct loader *ld, void *obj, const char *path)
{
	struct crl_def *d = obj;
	char kpath[CFG_PATH_MAX];

	check_pem_files(ld, d->files, d->n_files, path);
	for (size_t i = 0; i < d->n_sources; i++) {
		if (d->sources[i].kv == NULL)
			continue;
		cfg_path_printf(kpath, sizeof(kpath), "%s.sources[%zu]", path, i);
		cfg_report(ld, CFG_AT(cfg_where(ld, NULL, kpath)), kpath,
			   "a CRL comes from a PKI mount: {pki: MOUNT}");
	}
}

/* Names unique per section; every on_change a hook. */
void
cfg_check_bundles_root(struct loader *ld, const struct config *c)
{
	const struct bundles_opts *b = &c->bundles;
	char kpath[CFG_PATH_MAX];

	for (size_t i = 0; i < b->n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (b->defs[i].name && b->defs[j].name &&
			    strcmp(b->defs[i].name, b->defs[j].name) == 0) {
				cfg_path_printf(kpath, sizeof(kpath), "trust_bundles[%zu].name", i);
				cfg_report(ld, CFG_AT(cfg_where(ld, &b->defs[i].name, kpath)),
					   kpath, "'%s' is the name of trust_bundles[%zu] too",
					   b->defs[i].name, j);
				break;
			}
		}
		cfg_path_printf(kpath, sizeof(kpath), "trust_bundles[%zu].on_change", i);
		check_on_change(ld, c, b->defs[i].on_change, b->defs[i].n_on_change,
				cfg_field_path(ld, &b->defs[i].on_change, kpath));
	}
	for (size_t i = 0; i < b->n_crls; i++) {
		for (size_t j = 0; j < i; j++) {
			if (b->crls[i].name && b->crls[j].name &&
			    strcmp(b->crls[i].name, b->crls[j].name) == 0) {
				cfg_path_printf(kpath, sizeof(kpath), "crls[%zu].name", i);
				cfg_report(ld, CFG_AT(cfg_where(ld, &b->crls[i].name, kpath)),
					   kpath, "'%s' is the name of crls[%zu] too",
					   b->crls[i].name, j);
				break;
			}
		}
		cfg_path_printf(kpath, sizeof(kpath), "crls[%zu].on_change", i);
		check_on_change(ld, c, b->crls[i].on_change, b->crls[i].n_on_change,
				cfg_field_path(ld, &b->crls[i].on_change, kpath));
	}
}

/* ---- lifecycle ---- */
/* grace: of a certificates: entry: its files are of the kinds of files:,
 * at absolute paths, 0600 by default when they hold the key. */
void
cfg_check_grace(struct loader *ld, void *obj, const char *path)
{
	struct cert_grace *g = obj;

	for (size_t i = 0; i < g->out.n; i++) {
		struct cert_file *f = &g->out.files[i];
		char fpath[CFG_PATH_MAX];
		yaml_mark_t fat = cfg_where(ld, &f->path, path);
		int holds_key = strcmp(f->name, "key") == 0;

		snprintf(fpath, sizeof(fpath), "%s.files.%s", path, f->name);
		if (!cfg_word_in(f->name, cfg_file_kinds)) {
			cfg_report(ld, CFG_AT(fat), fpath, "unknown file "
				   "kind; use cert, key, chain, ca, bundle, "
				   "pkcs12, truststore_pkcs12 or pin");
			continue;
		}
		/* The same words as files: (format: der, encrypt, a
		 * keystore's password), turned into the same flags. */
		check_keymat_file(ld, NULL, f, fpath, fat);
		if ((strcmp(f->name, "bundle") == 0) != (f->n_parts != 0))
			cfg_report(ld, CFG_AT(fat), fpath, "a bundle, and only "
				   "a bundle, has parts");
		if (f->path && f->path[0] != '/')
			cfg_report(ld, CFG_AT(fat), fpath, "path must be "
				   "absolute");
		for (size_t j = 0; j < f->n_parts; j++)
			holds_key |= strcmp(f->parts[j], "key") == 0;
		if (f->mode == 0)
			f->mode = holds_key ? 0600 : 0644;
	}
}
