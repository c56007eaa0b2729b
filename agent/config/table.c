/*
 * config/table.c: the option tables, one per section of the file.
 *
 * This file is data: for every key of the configuration, a row saying
 * its type, where it lives in struct config (or in one item of a list
 * or map section), its bounds, its default as text, its help and
 * whether a SIGHUP reload may change it.  The engine (load.c) walks the
 * file against these tables and knows no key by name; config_int.h
 * says what a row may hold.  Also here: the word lists of the ENUM keys
 * and the small per-value checks that rows name in .check or .parse.
 *
 * DESIGN / invariants:
 * - Adding a key is adding a row.  Adding a nested section, a list of
 *   mappings (certificates:, templates:) or a map of named mappings
 *   (hooks:, files:) is adding a table and one row pointing at it; the
 *   walker, defaults, error reporting, freeing and the reload comparison
 *   are generic.
 * - Offsets are taken with the *_OFF macros, which refuse to compile
 *   when the member's type is not the one the row's type stores.
 * - A default is text the file could hold, parsed as if it did; a
 *   default that does not parse is reported as an internal error at
 *   every load, so a bad row cannot go unnoticed.
 * - A value check (check_url, cfg_check_cert_name, ...) returns NULL or
 *   a message that never contains the value, which may be a secret.
 *   Checks that need several fields live in check.c and are named in
 *   a section's .check.
 */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define SECTION(tab, chk) \
	{ .entries = (tab), .n_entries = sizeof(tab) / sizeof((tab)[0]), \
	  .check = (chk) }

#define C_OFF(m, type) CFG_OFF(struct config, m, type)

/* ENUM fields are written through an int *. */
_Static_assert(sizeof(enum auth_method) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_format_cfg) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cert_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cert_key_type) == sizeof(int), "enum size");

/* ------------------------------------------------------------------ */
/* Checks on string values, named in the tables */

static const char *
check_url(const char *s)
{
	size_t skip;

	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return "must start with http:// or https://";
	if (s[skip] == '\0' || s[skip] == '/')
		return "has no host after the scheme";
	if (strpbrk(s, " \t\r\n") != NULL)
		return "contains whitespace";
	return NULL;
}

/* log.c owns the level names; accept exactly what it accepts. */
static int
parse_log_level(const char *s, int *out)
{
	enum log_level level;

	if (log_level_parse(s, &level) < 0)
		return -EINVAL;
	*out = (int)level;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The tables */

const struct cfg_enum cfg_auth_methods[] = {
	{ "approle", AUTH_METHOD_APPROLE },
	{ "cert", AUTH_METHOD_CERT },
	{ "token", AUTH_METHOD_TOKEN },
	{ "kubernetes", AUTH_METHOD_KUBERNETES },
	{ "jwt", AUTH_METHOD_JWT },
	{ NULL, 0 },
};

static const struct cfg_enum log_levels[] = {
	{ "debug", LOGL_DEBUG },
	{ "info", LOGL_INFO },
	{ "warn", LOGL_WARN },
	{ "error", LOGL_ERROR },
	{ NULL, 0 },
};

static const struct cfg_enum log_formats[] = {
	{ "text", LOG_FORMAT_TEXT },
	{ "json", LOG_FORMAT_JSON },
	{ NULL, 0 },
};

static const struct cfg_entry vault_retry_entries[] = {
	{
		.key = "min_backoff",
		.type = CFG_DURATION,
		.offset = C_OFF(vault.retry.min_ms, uint64_t),
		.min = 1, .max = MS_DAY,
		.def = "1s",
		.flags = CFG_RELOAD,
		.help = "delay before the first retry; doubles up to max_backoff",
	},
	{
		.key = "max_backoff",
		.type = CFG_DURATION,
		.offset = C_OFF(vault.retry.max_ms, uint64_t),
		.min = 1, .max = MS_DAY,
		.def = "5m",
		.flags = CFG_RELOAD,
		.help = "longest delay between retries",
	},
	{
		.key = "num_retries",
		.type = CFG_UINT,
		.offset = C_OFF(vault.num_retries, uint64_t),
		.min = 0, .max = 1000,
		.def = "5",
		.flags = CFG_RELOAD,
		.help = "run --once: give up after this many retries (a running "
			"agent retries until the material expires)",
	},
};

static const struct cfg_section vault_retry_section =
	SECTION(vault_retry_entries, NULL);

static const struct cfg_entry vault_entries[] = {
	{
		.key = "address",
		.type = CFG_STRINGLIST,
		.offset = C_OFF(vault.addresses, char **),
		.count_offset = C_OFF(vault.n_addresses, size_t),
		.min = 1, .max = 16,
		.check = check_url,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the Vault URL, or a list of URLs tried in order",
	},
	{
		.key = "ca_cert",
		.type = CFG_PATH,
		.offset = C_OFF(vault.ca_cert, char *),
		.flags = CFG_RELOAD,
		.help = "PEM bundle that verifies the Vault server",
	},
	{
		.key = "client_cert",
		.type = CFG_PATH,
		.offset = C_OFF(vault.client_cert, char *),
		.flags = CFG_RELOAD,
		.help = "client certificate (PEM) for mTLS and cert auth",
	},
	{
		.key = "client_key",
		.type = CFG_PATH,
		.offset = C_OFF(vault.client_key, char *),
		.flags = CFG_RELOAD,
		.help = "private key of client_cert (PEM)",
	},
	{
		.key = "tls_server_name",
		.type = CFG_STRING,
		.offset = C_OFF(vault.tls_server_name, char *),
		.flags = CFG_RELOAD,
		.help = "name to verify in the server certificate (SNI)",
	},
	{
		.key = "tls_skip_verify",
		.type = CFG_BOOL,
		.offset = C_OFF(vault.tls_skip_verify, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "do not verify the server certificate (unsafe)",
	},
	{
		.key = "namespace",
		.type = CFG_STRING,
		.offset = C_OFF(vault.namespace, char *),
		.flags = CFG_RELOAD,
		.help = "Vault Enterprise / OpenBao namespace",
	},
	{
		.key = "timeout",
		.type = CFG_DURATION,
		.offset = C_OFF(vault.timeout_ms, uint64_t),
		.min = 1, .max = MS_HOUR,
		.def = "30s",
		.flags = CFG_RELOAD,
		.help = "time limit of one request",
	},
	{
		.key = "max_response_size",
		.type = CFG_UINT,
		.offset = C_OFF(vault.max_response_bytes, uint64_t),
		.min = 1024, .max = 256 * MIB,
		.def = "4194304",
		.flags = CFG_RELOAD,
		.help = "largest Vault response body accepted, in bytes",
	},
	{
		.key = "retry",
		.type = CFG_SECTION,
		.section = &vault_retry_section,
		.help = "backoff between failed requests",
	},
	/* ---- lifecycle ---- */
	{
		.key = "max_concurrent_requests",
		.type = CFG_UINT,
		.offset = C_OFF(vault.max_concurrent, uint64_t),
		.min = 1, .max = 1024,
		.def = "2",
		.flags = CFG_RELOAD,
		.help = "requests on the wire to Vault at once; more wait in order",
	},
	{
		.key = "max_requests_per_second",
		.type = CFG_UINT,
		.offset = C_OFF(vault.max_per_second, uint64_t),
		.max = 100000,
		.def = "0",
		.flags = CFG_RELOAD,
		.help = "requests started per second at most (a token bucket); "
			"0: no limit",
	},
};

static const struct cfg_section vault_section = SECTION(vault_entries, NULL);

static const struct cfg_entry token_sink_entries[] = {
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = C_OFF(auth.token_sink_path, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "file the Vault token is written to",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = C_OFF(auth.token_sink_mode, unsigned),
		.min = 0, .max = 07777,
		.def = "0600",
		.flags = CFG_RELOAD,
		.help = "file mode of the token file",
	},
};

static const struct cfg_section token_sink_section =
	SECTION(token_sink_entries, NULL);

static const struct cfg_entry auth_entries[] = {
	{
		.key = "method",
		.type = CFG_ENUM,
		.offset = C_OFF(auth.method, enum auth_method),
		.values = cfg_auth_methods,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "how to log in: approle, cert, token, kubernetes or jwt",
	},
	{
		.key = "mount",
		.type = CFG_PATH,
		.offset = C_OFF(auth.mount, char *),
		.flags = CFG_RELOAD,
		.help = "mount path of the auth method; defaults to its name",
	},
	{
		.key = "role_id_file",
		.type = CFG_PATH,
		.offset = C_OFF(auth.role_id_file, char *),
		.flags = CFG_RELOAD,
		.help = "approle: file holding the role ID",
	},
	{
		.key = "secret_id_file",
		.type = CFG_PATH,
		.offset = C_OFF(auth.secret_id_file, char *),
		.flags = CFG_RELOAD,
		.help = "approle: file holding the secret ID",
	},
	{
		.key = "remove_secret_id_file_after_reading",
		.type = CFG_BOOL,
		.offset = C_OFF(auth.remove_secret_id_file, int),
		.def = "true",
		.flags = CFG_RELOAD,
		.help = "approle: delete the secret ID file once read",
	},
	{
		.key = "name",
		.type = CFG_STRING,
		.offset = C_OFF(auth.cert_role, char *),
		.flags = CFG_RELOAD,
		.help = "cert: the role to log in as (optional)",
	},
	{
		.key = "token_file",
		.type = CFG_PATH,
		.offset = C_OFF(auth.token_file, char *),
		.flags = CFG_RELOAD,
		.help = "token: file holding the Vault token",
	},
	{
		.key = "role",
		.type = CFG_PATH,
		.offset = C_OFF(auth.role, char *),
		.flags = CFG_RELOAD,
		.help = "kubernetes, jwt: the role to log in as",
	},
	{
		.key = "token_path",
		.type = CFG_PATH,
		.offset = C_OFF(auth.token_path, char *),
		.flags = CFG_RELOAD,
		.help = "kubernetes, jwt: the file holding the JWT, read at every "
			"login; kubernetes default: the pod's service account token",
	},
	{
		.key = "secret_id_response_wrapping_path",
		.type = CFG_PATH,
		.offset = C_OFF(auth.secret_id_wrapping_path, char *),
		.flags = CFG_RELOAD,
		.help = "approle: the secret ID file holds a response-wrapping "
			"token created at this path (e.g. "
			"auth/approle/role/NAME/secret-id), unwrapped once",
	},
	{
		.key = "allow_insecure_file_mode",
		.type = CFG_BOOL,
		.offset = C_OFF(auth.allow_insecure_file_mode, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "accept group- or world-readable credential files",
	},
	{
		.key = "token_sink",
		.type = CFG_SECTION,
		.section = &token_sink_section,
		.flags = CFG_RELOAD,
		.help = "also write the token to a file",
	},
};

static const struct cfg_section auth_section = SECTION(auth_entries, NULL);

static const struct cfg_entry log_entries[] = {
	{
		.key = "level",
		.type = CFG_ENUM,
		.offset = C_OFF(log_level, int),
		.values = log_levels,
		.parse = parse_log_level,
		.def = "info",
		.flags = CFG_RELOAD,
		.help = "least severe level logged",
	},
	{
		.key = "format",
		.type = CFG_ENUM,
		.offset = C_OFF(log_format, enum log_format_cfg),
		.values = log_formats,
		.def = "text",
		.flags = CFG_RELOAD,
		.help = "text lines or JSON lines",
	},
};

static const struct cfg_section log_section = SECTION(log_entries, NULL);


/* ------------------------------------------------------------------ */
/* certificates: */

const struct cfg_enum cfg_cert_modes[] = {
	{ "issue", CERT_MODE_ISSUE },
	{ "sign", CERT_MODE_SIGN },
	{ NULL, 0 },
};

const struct cfg_enum cfg_cert_key_types[] = {
	{ "ec", CERT_KEY_EC },
	{ "rsa", CERT_KEY_RSA },
	{ "ed25519", CERT_KEY_ED25519 },
	{ NULL, 0 },
};

const char *const cfg_file_kinds[] = { "cert", "key", "chain", "ca", "bundle",
				       /* keymat */
				       "pkcs12", "truststore_pkcs12", "pin",
				       NULL };
static const char *const bundle_parts[] = { "cert", "chain", "key", "ca", NULL };

int
cfg_word_in(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

static const char *
check_bundle_part(const char *s)
{
	return cfg_word_in(s, bundle_parts) ? NULL : "is not one of: cert, chain, key, ca";
}

const char *
cfg_check_cert_name(const char *s)
{
	for (const char *p = s; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.'))
			return "may only hold letters, digits, '-', '_' and '.'";
	}
	return NULL;
}

#define W_OFF(m, type) CFG_OFF(struct change_wait, m, type)

/* wait: of a certificate or a template; its fields are relative to the
 * struct change_wait embedded in each. */
static const struct cfg_entry wait_entries[] = {
	{
		.key = "min",
		.type = CFG_DURATION,
		.offset = W_OFF(min_ms, uint64_t),
		.max = MS_HOUR,
		.def = "2s",
		.flags = CFG_RELOAD,
		.help = "quiet time before the hooks run; each change restarts it",
	},
	{
		.key = "max",
		.type = CFG_DURATION,
		.offset = W_OFF(max_ms, uint64_t),
		.max = MS_DAY,
		.def = "10s",
		.flags = CFG_RELOAD,
		.help = "the hooks run at most this long after the first change",
	},
};

static const struct cfg_section wait_section = SECTION(wait_entries, cfg_check_wait);

/*
 * The renewal policy of a certificate (renew.h), the same five keys on a
 * certificates: entry and on a template, for the certificates it issues.
 * OFF is the table's offset macro; the struct has a renew_policy named
 * policy and a char *rotate_window.
 */
#define RENEWAL_ENTRIES(OFF)						\
	{								\
		.key = "renew_at",					\
		.type = CFG_RATIO,					\
		.offset = OFF(policy.renew_at, double),			\
		.min = 10000, .max = 990000,				\
		.flags = CFG_RELOAD,					\
		.help = "renew at this fraction of the lifetime; default 0.66", \
	},								\
	{								\
		.key = "renew_before",					\
		.type = CFG_DURATION,					\
		.offset = OFF(policy.renew_before_ms, uint64_t),	\
		.min = MS_SEC, .max = 3650 * MS_DAY,			\
		.flags = CFG_RELOAD,					\
		.help = "or renew this long before it expires (instead of renew_at)", \
	},								\
	{								\
		.key = "jitter",					\
		.type = CFG_RATIO,					\
		.offset = OFF(policy.jitter, double),			\
		.max = 250000,						\
		.def = "0.05",						\
		.flags = CFG_RELOAD,					\
		.help = "move the renewal by up to +- this fraction of the lifetime", \
	},								\
	{								\
		.key = "rotate_window",					\
		.type = CFG_STRING,					\
		.offset = OFF(rotate_window, char *),			\
		.flags = CFG_RELOAD,					\
		.help = "renew only in this window, e.g. \"Sat 02:00-04:00\"", \
	},								\
	{								\
		.key = "rotate_margin",					\
		.type = CFG_DURATION,					\
		.offset = OFF(policy.margin_ms, uint64_t),		\
		.max = 3650 * MS_DAY,					\
		.flags = CFG_RELOAD,					\
		.help = "renew outside the window when expiry is this close; " \
			"default 10% of the lifetime",			\
	}

#define F_OFF(m, type) CFG_OFF(struct cert_file, m, type)

/* ---- keymat ---- */
#define E_OFF(m, type) CFG_OFF(struct cert_file_encrypt, m, type)

/* files.key.encrypt: relative to the struct embedded in each file. */
static const struct cfg_entry cert_file_encrypt_entries[] = {
	{
		.key = "passphrase_file",
		.type = CFG_PATH,
		.offset = E_OFF(passphrase_file, char *),
		.flags = CFG_RELOAD,
		.help = "file holding the passphrase, read at each write",
	},
	{
		.key = "passphrase_env",
		.type = CFG_STRING,
		.offset = E_OFF(passphrase_env, char *),
		.flags = CFG_RELOAD,
		.help = "or the environment variable holding it",
	},
	{
		.key = "passphrase_kv",
		.type = CFG_STRING,
		.offset = E_OFF(passphrase_kv, char *),
		.flags = CFG_RELOAD,
		.help = "or a kv read path (secret/data/x for kv v2, kv/x "
			"for v1), read with the agent's token at each write; "
			"on start an encrypted key there is kept unopened",
	},
	{
		.key = "passphrase_field",
		.type = CFG_STRING,
		.offset = E_OFF(passphrase_field, char *),
		.flags = CFG_RELOAD,
		.help = "passphrase_kv: the field holding it; default "
			"passphrase",
	},
	{
		.key = "kdf",
		.type = CFG_STRING,
		.offset = E_OFF(kdf, char *),
		.flags = CFG_RELOAD,
		.help = "the key derivation: pbkdf2 (default; "
			"PBKDF2-HMAC-SHA256) or scrypt",
	},
};

static const struct cfg_section cert_file_encrypt_section =
	SECTION(cert_file_encrypt_entries, NULL);
#define CERT_OFF(m, type) CFG_OFF(struct cert_def, m, type)

static const struct cfg_entry cert_file_entries[] = {
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = F_OFF(path, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "where to write the file",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = F_OFF(mode, unsigned),
		.max = 07777,
		.flags = CFG_RELOAD,
		.help = "file mode; default 0600 for files holding the key, else 0644",
	},
	{
		.key = "owner",
		.type = CFG_PATH,
		.offset = F_OFF(owner, char *),
		.flags = CFG_RELOAD,
		.help = "owning user (name or uid)",
	},
	{
		.key = "group",
		.type = CFG_PATH,
		.offset = F_OFF(group, char *),
		.flags = CFG_RELOAD,
		.help = "owning group (name or gid)",
	},
	{
		.key = "parts",
		.type = CFG_STRINGLIST,
		.offset = F_OFF(parts, char **),
		.count_offset = F_OFF(n_parts, size_t),
		.max = 4,
		.check = check_bundle_part,
		.flags = CFG_RELOAD,
		.help = "bundle: the parts in order, from cert, chain, key, ca",
	},
	{
		.key = "backup",
		.type = CFG_BOOL,
		.offset = F_OFF(backup, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "keep the previous file as NAME.bak",
	},
	/* ---- keymat ---- */
	{
		.key = "format",
		.type = CFG_STRING,
		.offset = F_OFF(format, char *),
		.flags = CFG_RELOAD,
		.help = "cert, key: pem (default) or der; pin: base64 (default) or hex",
	},
	{
		.key = "password_file",
		.type = CFG_PATH,
		.offset = F_OFF(password_file, char *),
		.flags = CFG_RELOAD,
		.help = "pkcs12, truststore_pkcs12: file holding the password, "
			"read at each write",
	},
	{
		.key = "password_env",
		.type = CFG_STRING,
		.offset = F_OFF(password_env, char *),
		.flags = CFG_RELOAD,
		.help = "pkcs12, truststore_pkcs12: or the environment variable "
			"holding it",
	},
	{
		.key = "friendly_name",
		.type = CFG_STRING,
		.offset = F_OFF(friendly_name, char *),
		.flags = CFG_RELOAD,
		.help = "pkcs12: the key entry's alias, default the "
			"certificate's name; truststore_pkcs12: the first "
			"alias, default ca (then -2, -3, ...)",
	},
	{
		.key = "legacy",
		.type = CFG_BOOL,
		.offset = F_OFF(legacy, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "pkcs12, truststore_pkcs12: 3DES and a SHA-1 MAC, for "
			"JVMs before 8u301",
	},
	{
		.key = "of",
		.type = CFG_STRING,
		.offset = F_OFF(of, char *),
		.flags = CFG_RELOAD,
		.help = "pin: leaf (default) or intermediate",
	},
	{
		.key = "encrypt",
		.type = CFG_SECTION,
		.offset = F_OFF(encrypt, struct cert_file_encrypt),
		.section = &cert_file_encrypt_section,
		.flags = CFG_RELOAD,
		.help = "key: write it as encrypted PKCS#8 (PBES2, AES-256-CBC)",
	},
};

static const struct cfg_section cert_file_section = {
	.entries = cert_file_entries,
	.n_entries = sizeof(cert_file_entries) / sizeof(cert_file_entries[0]),
	.size = sizeof(struct cert_file),
	.named = 1,
	.name_offset = offsetof(struct cert_file, name),
};

/* ---- lifecycle ---- */
#define ACT_OFF(m, type) CFG_OFF(struct activation_opts, m, type)
#define GRACE_OFF(m, type) CFG_OFF(struct cert_grace, m, type)

static const struct cfg_entry activation_entries[] = {
	{
		.key = "connect",
		.type = CFG_PATH,
		.offset = ACT_OFF(connect, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "host:port of the TLS endpoint the new certificate is "
			"presented to",
	},
	{
		.key = "server_name",
		.type = CFG_STRING,
		.offset = ACT_OFF(server_name, char *),
		.flags = CFG_RELOAD,
		.help = "SNI and the name its certificate must carry; default: "
			"the host of connect",
	},
	{
		.key = "ca_file",
		.type = CFG_PATH,
		.offset = ACT_OFF(ca_file, char *),
		.flags = CFG_RELOAD,
		.help = "PEM bundle that verifies the endpoint; default: the "
			"system's",
	},
	{
		.key = "timeout",
		.type = CFG_DURATION,
		.offset = ACT_OFF(timeout_ms, uint64_t),
		.min = 1, .max = 5 * 60 * MS_SEC,
		.def = "10s",
		.flags = CFG_RELOAD,
		.help = "time limit of the test: connect, handshake, verdict",
	},
};

static const struct cfg_section activation_section =
	SECTION(activation_entries, NULL);

static const struct cfg_entry grace_entries[] = {
	{
		.key = "duration",
		.type = CFG_DURATION,
		.offset = GRACE_OFF(duration_ms, uint64_t),
		.min = MS_SEC, .max = 3650 * MS_DAY,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "how long the replaced certificate stays; then it is revoked",
	},
	{
		.key = "files",
		.type = CFG_MAP_OF_SECTION,
		.offset = GRACE_OFF(out.files, struct cert_file *),
		.count_offset = GRACE_OFF(out.n, size_t),
		.section = &cert_file_section,
		.max = 5,
		.flags = CFG_RELOAD,
		.help = "where the replaced certificate is kept: cert, key, chain, "
			"ca, bundle, as in files:",
	},
};

static const struct cfg_section grace_section =
	SECTION(grace_entries, cfg_check_grace);

static const struct cfg_entry cert_entries[] = {
	{
		.key = "name",
		.type = CFG_PATH,
		.offset = CERT_OFF(name, char *),
		.check = cfg_check_cert_name,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "a name for logs and `certagent rotate`",
	},
	{
		.key = "mode",
		.type = CFG_ENUM,
		.offset = CERT_OFF(mode, enum cert_mode),
		.values = cfg_cert_modes,
		.def = "issue",
		.flags = CFG_RELOAD,
		.help = "issue: Vault makes the key; sign: certagent makes it",
	},
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = CERT_OFF(path, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the Vault path, e.g. pki_int/issue/ROLE or pki_int/sign/ROLE",
	},
	{
		.key = "common_name",
		.type = CFG_PATH,
		.offset = CERT_OFF(common_name, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the certificate's common name",
	},
	{
		.key = "alt_names",
		.type = CFG_STRINGLIST,
		.offset = CERT_OFF(alt_names, char **),
		.count_offset = CERT_OFF(n_alt_names, size_t),
		.max = 100,
		.flags = CFG_RELOAD,
		.help = "DNS subject alternative names",
	},
	{
		.key = "ip_sans",
		.type = CFG_STRINGLIST,
		.offset = CERT_OFF(ip_sans, char **),
		.count_offset = CERT_OFF(n_ip_sans, size_t),
		.max = 100,
		.flags = CFG_RELOAD,
		.help = "IP subject alternative names",
	},
	{
		.key = "ttl",
		.type = CFG_DURATION,
		.offset = CERT_OFF(ttl_ms, uint64_t),
		.max = 3650 * MS_DAY,
		.flags = CFG_RELOAD,
		.help = "requested lifetime; the role's max_ttl caps it",
	},
	{
		.key = "key_type",
		.type = CFG_ENUM,
		.offset = CERT_OFF(key_type, enum cert_key_type),
		.values = cfg_cert_key_types,
		.def = "ec",
		.flags = CFG_RELOAD,
		.help = "sign mode: rsa, ec or ed25519",
	},
	{
		.key = "key_bits",
		.type = CFG_UINT,
		.offset = CERT_OFF(key_bits, uint64_t),
		.max = 8192,
		.flags = CFG_RELOAD,
		.help = "sign mode: 2048/3072/4096 for rsa, 256/384 for ec",
	},
	{
		.key = "trust_anchor",
		.type = CFG_PATH,
		.offset = CERT_OFF(out.trust_anchor, char *),
		.flags = CFG_RELOAD,
		.help = "PEM file of the CA the chain must verify to",
	},
	{
		.key = "atomic_dir",
		.type = CFG_PATH,
		.offset = CERT_OFF(out.atomic_dir, char *),
		.flags = CFG_RELOAD,
		.help = "write every file under DIR and swap DIR/..data at once",
	},
	{
		.key = "files",
		.type = CFG_MAP_OF_SECTION,
		.offset = CERT_OFF(out.files, struct cert_file *),
		.count_offset = CERT_OFF(out.n, size_t),
		.section = &cert_file_section,
		.max = 8,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the files to write: cert, key, chain, ca, bundle, "
			"pkcs12, truststore_pkcs12, pin",
	},
	{
		.key = "on_change",
		.type = CFG_STRINGLIST,
		.offset = CERT_OFF(on_change, char **),
		.count_offset = CERT_OFF(n_on_change, size_t),
		.max = 64,
		.flags = CFG_RELOAD,
		.help = "hooks to run when the files change",
	},
	{
		.key = "wait",
		.type = CFG_SECTION,
		.offset = CERT_OFF(wait, struct change_wait),
		.section = &wait_section,
		.flags = CFG_RELOAD,
		.help = "quiet period that folds bursts of changes into one run",
	},
	RENEWAL_ENTRIES(CERT_OFF),
	{
		.key = "revoke_on_shutdown",
		.type = CFG_BOOL,
		.offset = CERT_OFF(revoke_on_shutdown, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "revoke the certificate when the agent stops",
	},
	{
		.key = "revoke_previous_after",
		.type = CFG_DURATION,
		.offset = CERT_OFF(revoke_previous_after_ms, uint64_t),
		.max = 3650 * MS_DAY,
		.flags = CFG_RELOAD,
		.help = "revoke a replaced certificate this long after its successor",
	},
	/* ---- lifecycle ---- */
	{
		.key = "activation_check",
		.type = CFG_SECTION,
		.offset = CERT_OFF(activation, struct activation_opts),
		.section = &activation_section,
		.flags = CFG_RELOAD,
		.help = "test the new certificate with a TLS handshake before it "
			"replaces the old one",
	},
	{
		.key = "grace",
		.type = CFG_SECTION,
		.offset = CERT_OFF(grace, struct cert_grace),
		.section = &grace_section,
		.flags = CFG_RELOAD,
		.help = "keep the replaced certificate as files for a while, then "
			"revoke it",
	},
};

static const struct cfg_section cert_section = {
	.entries = cert_entries,
	.n_entries = sizeof(cert_entries) / sizeof(cert_entries[0]),
	.size = sizeof(struct cert_def),
	.check = cfg_check_cert,
};


/* ------------------------------------------------------------------ */
/* templates: and template_config: */

#define T_OFF(m, type) CFG_OFF(struct template_def, m, type)

/* ---- import ---- */
#define TX_OFF(m, type) CFG_OFF(struct template_exec, m, type)

/* exec: of a template, relative to its struct template_exec. */
static const struct cfg_entry template_exec_entries[] = {
	{
		.key = "command",
		.type = CFG_STRINGLIST,
		.offset = TX_OFF(command, char **),
		.count_offset = TX_OFF(n_command, size_t),
		.min = 1, .max = 256,
		.flags = CFG_REQUIRED | CFG_RELOAD | CFG_LIST_ONLY,
		.help = "the program and its arguments, as a list; no shell runs it",
	},
	{
		.key = "timeout",
		.type = CFG_DURATION,
		.offset = TX_OFF(timeout_ms, uint64_t),
		.min = 1, .max = MS_DAY,
		.def = "30s",
		.flags = CFG_RELOAD,
		.help = "killed (SIGTERM, then SIGKILL) after this",
	},
};

static const struct cfg_section template_exec_section =
	SECTION(template_exec_entries, NULL);

static const struct cfg_entry template_entries[] = {
	{
		.key = "source",
		.type = CFG_PATH,
		.offset = T_OFF(source, char *),
		.flags = CFG_RELOAD,
		.help = "the template file",
	},
	{
		.key = "contents",
		.type = CFG_STRING,
		.offset = T_OFF(contents, char *),
		.flags = CFG_RELOAD,
		.help = "the template itself, instead of a source file",
	},
	{
		.key = "destination",
		.type = CFG_PATH,
		.offset = T_OFF(destination, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the file to render to",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = T_OFF(mode, unsigned),
		.max = 07777,
		.def = "0644",
		.flags = CFG_RELOAD,
		.help = "file mode of the destination",
	},
	{
		.key = "owner",
		.type = CFG_PATH,
		.offset = T_OFF(owner, char *),
		.flags = CFG_RELOAD,
		.help = "owning user (name or uid)",
	},
	{
		.key = "group",
		.type = CFG_PATH,
		.offset = T_OFF(group, char *),
		.flags = CFG_RELOAD,
		.help = "owning group (name or gid)",
	},
	{
		.key = "error_on_missing_key",
		.type = CFG_BOOL,
		.offset = T_OFF(error_on_missing_key, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "a missing map key is an error, not \"<no value>\"",
	},
	{
		.key = "left_delimiter",
		.type = CFG_PATH,
		.offset = T_OFF(left_delimiter, char *),
		.flags = CFG_RELOAD,
		.help = "instead of {{",
	},
	{
		.key = "right_delimiter",
		.type = CFG_PATH,
		.offset = T_OFF(right_delimiter, char *),
		.flags = CFG_RELOAD,
		.help = "instead of }}",
	},
	{
		.key = "backup",
		.type = CFG_BOOL,
		.offset = T_OFF(backup, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "keep the previous file as NAME.bak",
	},
	{
		.key = "on_change",
		.type = CFG_STRINGLIST,
		.offset = T_OFF(on_change, char **),
		.count_offset = T_OFF(n_on_change, size_t),
		.max = 64,
		.flags = CFG_RELOAD,
		.help = "hooks to run when the file changes",
	},
	{
		.key = "wait",
		.type = CFG_SECTION,
		.offset = T_OFF(wait, struct change_wait),
		.section = &wait_section,
		.flags = CFG_RELOAD,
		.help = "quiet period that folds bursts of changes into one run",
	},
	{
		.key = "name",
		.type = CFG_PATH,
		.offset = T_OFF(name, char *),
		.check = cfg_check_cert_name,
		.flags = CFG_RELOAD,
		.help = "the name of the certificates it issues, for logs, "
			"/metrics and `certagent rotate`; default: the "
			"destination's file name",
	},
	RENEWAL_ENTRIES(T_OFF),
	/* ---- import ---- */
	{
		.key = "perms",
		.type = CFG_MODE,
		.offset = T_OFF(mode, unsigned),
		.max = 07777,
		.flags = CFG_RELOAD,
		.help = "Vault Agent's name for mode",
	},
	{
		.key = "create_dest_dirs",
		.type = CFG_BOOL,
		.offset = T_OFF(create_dest_dirs, int),
		.def = "true",
		.flags = CFG_RELOAD,
		.help = "create the destination's missing directories (mode 0755)",
	},
	{
		.key = "command",
		.type = CFG_STRING,
		.offset = T_OFF(command, char *),
		.flags = CFG_RELOAD,
		.help = "Vault Agent's command: a shell line run by /bin/sh -c "
			"when the file changes (a hook named templates[N].command)",
	},
	{
		.key = "exec",
		.type = CFG_SECTION,
		.offset = T_OFF(exec, struct template_exec),
		.section = &template_exec_section,
		.flags = CFG_RELOAD,
		.help = "a program run without a shell when the file changes "
			"(a hook named templates[N].exec)",
	},
};

static const struct cfg_section template_section = {
	.entries = template_entries,
	.n_entries = sizeof(template_entries) / sizeof(template_entries[0]),
	.size = sizeof(struct template_def),
	.check = cfg_check_template,
};

static const struct cfg_entry template_config_entries[] = {
	{
		.key = "static_secret_render_interval",
		.type = CFG_DURATION,
		.offset = C_OFF(deps.refresh_ms, uint64_t),
		.min = MS_SEC,
		.max = 365 * MS_DAY,
		.def = "5m",
		.flags = CFG_RELOAD,
		.help = "how often secrets without a lease (kv) are read again",
	},
	{
		.key = "lease_renewal_threshold",
		.type = CFG_RATIO,
		.offset = C_OFF(deps.lease_renew_fraction, double),
		.min = 100000, .max = 950000,
		.def = "0.8",
		.flags = CFG_RELOAD,
		.help = "renew a lease (database credentials) at this part of it",
	},
	/* ---- import ---- */
	{
		.key = "exit_on_retry_failure",
		.type = CFG_BOOL,
		.offset = C_OFF(deps.exit_on_retry_failure, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "exit (status 1) when a template's Vault read has failed "
			"vault.retry.num_retries retries in a row",
	},
	{
		.key = "max_connections_per_host",
		.type = CFG_UINT,
		.offset = C_OFF(deps.max_connections_per_host, uint64_t),
		.max = 10000,
		.def = "10",
		.flags = CFG_RELOAD,
		.help = "most connections open to one Vault host at a time, "
			"for every request of the agent; 0: no limit",
	},
};

static const struct cfg_section template_config_section =
	SECTION(template_config_entries, NULL);

/* ------------------------------------------------------------------ */
/* hooks: */

static const struct cfg_enum signals[] = {
	{ "SIGHUP", SIGHUP },
	{ "SIGINT", SIGINT },
	{ "SIGQUIT", SIGQUIT },
	{ "SIGTERM", SIGTERM },
	{ "SIGUSR1", SIGUSR1 },
	{ "SIGUSR2", SIGUSR2 },
	{ "SIGWINCH", SIGWINCH },
	{ NULL, 0 },
};

/* "SIGHUP", "sighup" or "HUP". */
static int
parse_signal(const char *s, int *out)
{
	for (const struct cfg_enum *v = signals; v->name; v++) {
		if (strcasecmp(s, v->name) == 0 || strcasecmp(s, v->name + 3) == 0) {
			*out = v->value;
			return 0;
		}
	}
	return -EINVAL;
}

#define H_OFF(m, type) CFG_OFF(struct hook_def, m, type)

static const struct cfg_entry hook_entries[] = {
	{
		.key = "signal",
		.type = CFG_ENUM,
		.offset = H_OFF(signal, int),
		.values = signals,
		.parse = parse_signal,
		.flags = CFG_RELOAD,
		.help = "signal hook: the signal to send, e.g. SIGHUP",
	},
	{
		.key = "pid_file",
		.type = CFG_PATH,
		.offset = H_OFF(pid_file, char *),
		.flags = CFG_RELOAD,
		.help = "signal hook: file holding the pid, read at every send",
	},
	{
		.key = "command",
		.type = CFG_STRINGLIST,
		.offset = H_OFF(command, char **),
		.count_offset = H_OFF(n_command, size_t),
		.min = 1, .max = 256,
		.flags = CFG_RELOAD | CFG_LIST_ONLY,
		.help = "command hook: the program and its arguments, as a list "
			"such as [systemctl, reload, app]; no shell runs it",
	},
	{
		.key = "timeout",
		.type = CFG_DURATION,
		.offset = H_OFF(timeout_ms, uint64_t),
		.min = 1, .max = MS_DAY,
		.def = "30s",
		.flags = CFG_RELOAD,
		.help = "command hook: killed (SIGTERM, then SIGKILL) after this",
	},
};

static const struct cfg_section hook_section = {
	.entries = hook_entries,
	.n_entries = sizeof(hook_entries) / sizeof(hook_entries[0]),
	.size = sizeof(struct hook_def),
	.named = 1,
	.name_offset = offsetof(struct hook_def, name),
	.check = cfg_check_hook,
};

static const struct cfg_entry listener_entries[] = {
	{
		.key = "address",
		.type = CFG_PATH,
		.offset = C_OFF(listener.address, char *),
		.help = "host:port serving /healthz, /readyz and /metrics",
	},
	{
		.key = "control_socket",
		.type = CFG_PATH,
		.offset = C_OFF(listener.control_socket, char *),
		.help = "unix socket (mode 0600) for `certagent rotate`",
	},
};

static const struct cfg_section listener_section = SECTION(listener_entries, NULL);

static const struct cfg_entry audit_entries[] = {
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = C_OFF(audit.path, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "file the audit records are appended to, one JSON object "
			"a line; reopened on SIGHUP (logrotate)",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = C_OFF(audit.mode, unsigned),
		.min = 0, .max = 07777,
		.def = "0600",
		.flags = CFG_RELOAD,
		.help = "file mode of the audit log",
	},
};

static const struct cfg_section audit_section = SECTION(audit_entries, NULL);

static const struct cfg_enum exec_reloads[] = {
	{ "signal", 0 },
	{ "restart", 1 },
	{ NULL, 0 },
};

static const struct cfg_entry exec_entries[] = {
	{
		.key = "command",
		.type = CFG_STRINGLIST,
		.offset = C_OFF(exec_command, char **),
		.count_offset = C_OFF(n_exec_command, size_t),
		.min = 1, .max = 256,
		.flags = CFG_LIST_ONLY,
		.help = "certagent exec: the application and its arguments "
			"(`-- CMD ARGS` on the command line wins)",
	},
	{
		.key = "on_change",
		.type = CFG_ENUM,
		.offset = C_OFF(exec_restart, int),
		.values = exec_reloads,
		.def = "signal",
		.flags = CFG_RELOAD,
		.help = "signal the application when files change, or restart it",
	},
	{
		.key = "signal",
		.type = CFG_ENUM,
		.offset = C_OFF(exec_signal, int),
		.values = signals,
		.parse = parse_signal,
		.def = "SIGHUP",
		.flags = CFG_RELOAD,
		.help = "the signal of on_change: signal",
	},
	{
		.key = "kill_timeout",
		.type = CFG_DURATION,
		.offset = C_OFF(exec_kill_timeout_ms, uint64_t),
		.min = 1, .max = MS_HOUR,
		.def = "10s",
		.flags = CFG_RELOAD,
		.help = "after SIGTERM, SIGKILL the application this much later",
	},
};

static const struct cfg_section exec_section = SECTION(exec_entries, NULL);

/* ---- fleet ---- */

/*
 * profiles: a map of named certificates: entries without a name, whose
 * strings are patterns ({tenant}, ...); entries_dir's files pick one.
 * The same rows as certificates:, so a profile takes every key an entry
 * takes, today's and tomorrow's.
 */
const struct cfg_section cfg_profile_section = {
	.entries = cert_entries,
	.n_entries = sizeof(cert_entries) / sizeof(cert_entries[0]),
	.size = sizeof(struct cert_def),
	.named = 1,
	.name_offset = offsetof(struct cert_def, name),
	.check = cfg_check_profile,
	.omit = "name",
};

#define FE_OFF(m, type) CFG_OFF(struct fleet_entry_def, m, type)

/* A tenant and an endpoint go into paths: neither may climb out. */
static const char *
check_tenant(const char *s)
{
	if (s[0] == '.')
		return "may not start with '.'";
	return cfg_check_cert_name(s);
}

static const char *
check_endpoint(const char *s)
{
	if (strchr(s, '/') || strstr(s, ".."))
		return "is a host or host:port (no '/' and no '..')";
	return NULL;
}

static const struct cfg_entry fleet_entry_entries[] = {
	{
		.key = "tenant",
		.type = CFG_PATH,
		.offset = FE_OFF(tenant, char *),
		.check = check_tenant,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the tenant, for {tenant} in the profile's patterns",
	},
	{
		.key = "profile",
		.type = CFG_PATH,
		.offset = FE_OFF(profile, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the name of a profile under profiles: in the main file",
	},
	{
		.key = "endpoint",
		.type = CFG_STRING,
		.offset = FE_OFF(endpoint, char *),
		.check = check_endpoint,
		.flags = CFG_RELOAD,
		.help = "the tenant keystore's address, for {endpoint}",
	},
	{
		.key = "common_name",
		.type = CFG_PATH,
		.offset = FE_OFF(common_name, char *),
		.flags = CFG_RELOAD,
		.help = "instead of the profile's common_name",
	},
	{
		.key = "alt_names",
		.type = CFG_STRINGLIST,
		.offset = FE_OFF(alt_names, char **),
		.count_offset = FE_OFF(n_alt_names, size_t),
		.max = 100,
		.flags = CFG_RELOAD,
		.help = "instead of the profile's alt_names",
	},
	{
		.key = "ip_sans",
		.type = CFG_STRINGLIST,
		.offset = FE_OFF(ip_sans, char **),
		.count_offset = FE_OFF(n_ip_sans, size_t),
		.max = 100,
		.flags = CFG_RELOAD,
		.help = "instead of the profile's ip_sans",
	},
	{
		.key = "ttl",
		.type = CFG_DURATION,
		.offset = FE_OFF(ttl_ms, uint64_t),
		.max = 3650 * MS_DAY,
		.flags = CFG_RELOAD,
		.help = "instead of the profile's ttl",
	},
	{
		.key = "renew_before",
		.type = CFG_DURATION,
		.offset = FE_OFF(renew_before_ms, uint64_t),
		.min = MS_SEC, .max = 3650 * MS_DAY,
		.flags = CFG_RELOAD,
		.help = "instead of the profile's renew_before (or renew_at)",
	},
};

const struct cfg_section cfg_fleet_entry_section =
	SECTION(fleet_entry_entries, cfg_check_fleet_entry);


/* ---- bundles ---- */
/* trust_bundles: and crls: */

#define BS_OFF(m, type) CFG_OFF(struct bundle_source, m, type)
#define BD_OFF(m, type) CFG_OFF(struct bundle_def, m, type)
#define CD_OFF(m, type) CFG_OFF(struct crl_def, m, type)

static const struct cfg_entry bundle_source_entries[] = {
	{
		.key = "pki",
		.type = CFG_PATH,
		.offset = BS_OFF(pki, char *),
		.flags = CFG_RELOAD,
		.help = "a PKI mount: its ca_chain, cert/ca and issuers",
	},
	{
		.key = "kv",
		.type = CFG_PATH,
		.offset = BS_OFF(kv, char *),
		.flags = CFG_RELOAD,
		.help = "or a kv read path (secret/data/ca for v2, kv/ca for v1)",
	},
	{
		.key = "field",
		.type = CFG_PATH,
		.offset = BS_OFF(field, char *),
		.flags = CFG_RELOAD,
		.help = "kv: the field that holds the PEM; default pem",
	},
};

static const struct cfg_section bundle_source_section = {
	.entries = bundle_source_entries,
	.n_entries = sizeof(bundle_source_entries) / sizeof(bundle_source_entries[0]),
	.size = sizeof(struct bundle_source),
	.check = cfg_check_bundle_source,
};

static const struct cfg_entry bundle_file_entries[] = {
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = F_OFF(path, char *),
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "where to write the file",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = F_OFF(mode, unsigned),
		.max = 07777,
		.flags = CFG_RELOAD,
		.help = "file mode; default 0644",
	},
	{
		.key = "owner",
		.type = CFG_PATH,
		.offset = F_OFF(owner, char *),
		.flags = CFG_RELOAD,
		.help = "owning user (name or uid)",
	},
	{
		.key = "group",
		.type = CFG_PATH,
		.offset = F_OFF(group, char *),
		.flags = CFG_RELOAD,
		.help = "owning group (name or gid)",
	},
	/* The keys above are a crl's file; a trust bundle's takes these too. */
	{
		.key = "password_file",
		.type = CFG_PATH,
		.offset = F_OFF(password_file, char *),
		.flags = CFG_RELOAD,
		.help = "truststore_pkcs12: file holding the password, read at "
			"each write",
	},
	{
		.key = "password_env",
		.type = CFG_STRING,
		.offset = F_OFF(password_env, char *),
		.flags = CFG_RELOAD,
		.help = "truststore_pkcs12: or the environment variable holding it",
	},
	{
		.key = "friendly_name",
		.type = CFG_STRING,
		.offset = F_OFF(friendly_name, char *),
		.flags = CFG_RELOAD,
		.help = "truststore_pkcs12: the first alias, default ca (then -2, "
			"-3, ...)",
	},
	{
		.key = "legacy",
		.type = CFG_BOOL,
		.offset = F_OFF(legacy, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "truststore_pkcs12: 3DES and a SHA-1 MAC, for JVMs before "
			"8u301",
	},
};

static const struct cfg_section bundle_file_section = {
	.entries = bundle_file_entries,
	.n_entries = sizeof(bundle_file_entries) / sizeof(bundle_file_entries[0]),
	.size = sizeof(struct cert_file),
	.named = 1,
	.name_offset = offsetof(struct cert_file, name),
};

/* A CRL file: path, mode, owner and group, the first four of the above. */
static const struct cfg_section crl_file_section = {
	.entries = bundle_file_entries,
	.n_entries = 4,
	.size = sizeof(struct cert_file),
	.named = 1,
	.name_offset = offsetof(struct cert_file, name),
};

static const struct cfg_entry bundle_entries[] = {
	{
		.key = "name",
		.type = CFG_PATH,
		.offset = BD_OFF(name, char *),
		.check = cfg_check_cert_name,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "a name for logs and status",
	},
	{
		.key = "sources",
		.type = CFG_LIST_OF_SECTION,
		.offset = BD_OFF(sources, struct bundle_source *),
		.count_offset = BD_OFF(n_sources, size_t),
		.section = &bundle_source_section,
		.min = 1, .max = 64,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "where the CAs come from: {pki: MOUNT} or {kv: PATH, field: F}",
	},
	{
		.key = "refresh",
		.type = CFG_DURATION,
		.offset = BD_OFF(refresh_ms, uint64_t),
		.min = MS_SEC, .max = 30 * MS_DAY,
		.def = "10m",
		.flags = CFG_RELOAD,
		.help = "read the sources again this often (and on SIGHUP)",
	},
	{
		.key = "retain_removed",
		.type = CFG_DURATION,
		.offset = BD_OFF(retain_removed_ms, uint64_t),
		.max = 3650 * MS_DAY,
		.def = "24h",
		.flags = CFG_RELOAD,
		.help = "keep a CA that left every source this long (or until it "
			"expires, if sooner)",
	},
	{
		.key = "drop_expired",
		.type = CFG_BOOL,
		.offset = BD_OFF(drop_expired, int),
		.def = "true",
		.flags = CFG_RELOAD,
		.help = "leave expired CAs out of the bundle",
	},
	{
		.key = "issuers",
		.type = CFG_BOOL,
		.offset = BD_OFF(issuers, int),
		.def = "true",
		.flags = CFG_RELOAD,
		.help = "pki sources: also read every issuer of the mount (Vault "
			"1.11+, OpenBao; skipped where the server has no issuers API)",
	},
	{
		.key = "files",
		.type = CFG_MAP_OF_SECTION,
		.offset = BD_OFF(files, struct cert_file *),
		.count_offset = BD_OFF(n_files, size_t),
		.section = &bundle_file_section,
		.max = 8,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the files to write: pem, and truststore_pkcs12 for Java",
	},
	{
		.key = "on_change",
		.type = CFG_STRINGLIST,
		.offset = BD_OFF(on_change, char **),
		.count_offset = BD_OFF(n_on_change, size_t),
		.max = 64,
		.flags = CFG_RELOAD,
		.help = "hooks to run when the set of CAs changes",
	},
	{
		.key = "wait",
		.type = CFG_SECTION,
		.offset = BD_OFF(wait, struct change_wait),
		.section = &wait_section,
		.flags = CFG_RELOAD,
		.help = "quiet period that folds bursts of changes into one run",
	},
};

static const struct cfg_section bundle_section = {
	.entries = bundle_entries,
	.n_entries = sizeof(bundle_entries) / sizeof(bundle_entries[0]),
	.size = sizeof(struct bundle_def),
	.check = cfg_check_bundle,
};

static const struct cfg_entry crl_entries[] = {
	{
		.key = "name",
		.type = CFG_PATH,
		.offset = CD_OFF(name, char *),
		.check = cfg_check_cert_name,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "a name for logs and status",
	},
	{
		.key = "sources",
		.type = CFG_LIST_OF_SECTION,
		.offset = CD_OFF(sources, struct bundle_source *),
		.count_offset = CD_OFF(n_sources, size_t),
		.section = &bundle_source_section,
		.min = 1, .max = 64,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the PKI mounts whose CRLs go into the file: {pki: MOUNT}",
	},
	{
		.key = "delta",
		.type = CFG_BOOL,
		.offset = CD_OFF(delta, int),
		.def = "true",
		.flags = CFG_RELOAD,
		.help = "append each mount's delta CRL where the server builds one",
	},
	{
		.key = "refresh",
		.type = CFG_DURATION,
		.offset = CD_OFF(refresh_ms, uint64_t),
		.min = MS_SEC, .max = 30 * MS_DAY,
		.def = "1h",
		.flags = CFG_RELOAD,
		.help = "read the CRLs at least this often (sooner before a nextUpdate)",
	},
	{
		.key = "files",
		.type = CFG_MAP_OF_SECTION,
		.offset = CD_OFF(files, struct cert_file *),
		.count_offset = CD_OFF(n_files, size_t),
		.section = &crl_file_section,
		.max = 8,
		.flags = CFG_REQUIRED | CFG_RELOAD,
		.help = "the file to write: pem",
	},
	{
		.key = "on_change",
		.type = CFG_STRINGLIST,
		.offset = CD_OFF(on_change, char **),
		.count_offset = CD_OFF(n_on_change, size_t),
		.max = 64,
		.flags = CFG_RELOAD,
		.help = "hooks to run when a CRL changes",
	},
	{
		.key = "wait",
		.type = CFG_SECTION,
		.offset = CD_OFF(wait, struct change_wait),
		.section = &wait_section,
		.flags = CFG_RELOAD,
		.help = "quiet period that folds bursts of changes into one run",
	},
};

static const struct cfg_section crl_section = {
	.entries = crl_entries,
	.n_entries = sizeof(crl_entries) / sizeof(crl_entries[0]),
	.size = sizeof(struct crl_def),
	.check = cfg_check_crl,
};

static const struct cfg_entry root_entries[] = {
	{
		.key = "vault",
		.type = CFG_SECTION,
		.section = &vault_section,
		.flags = CFG_REQUIRED,
		.help = "the Vault server and how to talk to it",
	},
	{
		.key = "auth",
		.type = CFG_SECTION,
		.section = &auth_section,
		.flags = CFG_REQUIRED,
		.help = "how to log in to Vault",
	},
	{
		.key = "log",
		.type = CFG_SECTION,
		.section = &log_section,
		.help = "logging",
	},
	{
		.key = "certificates",
		.type = CFG_LIST_OF_SECTION,
		.offset = C_OFF(certs.defs, struct cert_def *),
		.count_offset = C_OFF(certs.n, size_t),
		.section = &cert_section,
		.max = 100000,
		.flags = CFG_RELOAD,
		.help = "certificates to keep current",
	},
	{
		.key = "templates",
		.type = CFG_LIST_OF_SECTION,
		.offset = C_OFF(templates.defs, struct template_def *),
		.count_offset = C_OFF(templates.n, size_t),
		.section = &template_section,
		.max = 10000,
		.flags = CFG_RELOAD,
		.help = "files rendered from templates",
	},
	{
		.key = "template_config",
		.type = CFG_SECTION,
		.section = &template_config_section,
		.flags = CFG_RELOAD,
		.help = "settings shared by all templates",
	},
	{
		.key = "hooks",
		.type = CFG_MAP_OF_SECTION,
		.offset = C_OFF(hooks.defs, struct hook_def *),
		.count_offset = C_OFF(hooks.n, size_t),
		.section = &hook_section,
		.max = 256,
		.flags = CFG_RELOAD,
		.help = "reload actions run when files change: a signal or a command",
	},
	{
		.key = "listener",
		.type = CFG_SECTION,
		.section = &listener_section,
		.help = "health, readiness and metrics endpoints; control socket",
	},
	{
		.key = "fail_open",
		.type = CFG_BOOL,
		.offset = C_OFF(listener.fail_open, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "/readyz stays ready while Vault cannot be reached (or has not "
			"answered yet since a start) as long as every certificate held is "
			"valid and every template's file is on disk; false: ready only "
			"once every file has been written or checked in this run",
	},
	{
		.key = "audit",
		.type = CFG_SECTION,
		.section = &audit_section,
		.flags = CFG_RELOAD,
		.help = "audit log: one JSON line per login, renewal, issuance, "
			"revocation, file write, hook run and reload",
	},
	{
		.key = "exit_after_render",
		.type = CFG_BOOL,
		.offset = C_OFF(exit_after_render, int),
		.def = "false",
		.help = "render everything once and exit, as `run --once`",
	},
	{
		.key = "revoke_on_shutdown",
		.type = CFG_BOOL,
		.offset = C_OFF(revoke_on_shutdown, int),
		.def = "false",
		.flags = CFG_RELOAD,
		.help = "revoke the agent's Vault token when it stops",
	},
	{
		.key = "exec",
		.type = CFG_SECTION,
		.section = &exec_section,
		.help = "certagent exec: how the application is told of changes",
	},
	/* ---- fleet ---- */
	{
		.key = "profiles",
		.type = CFG_MAP_OF_SECTION,
		.offset = C_OFF(profiles, struct cert_def *),
		.count_offset = C_OFF(n_profiles, size_t),
		.section = &cfg_profile_section,
		.max = 1000,
		.flags = CFG_RELOAD,
		.help = "certificate patterns the files of entries_dir name: "
			"the keys of a certificates: entry but name, with "
			"{tenant}, {profile}, {name} and {endpoint} in strings",
	},
	{
		.key = "entries_dir",
		.type = CFG_PATH,
		.offset = C_OFF(entries_dir, char *),
		.help = "a directory of small YAML files (tenant, profile, "
			"overrides), one certificate each, watched for changes",
	},
	/* ---- bundles ---- */
	{
		.key = "trust_bundles",
		.type = CFG_LIST_OF_SECTION,
		.offset = C_OFF(bundles.defs, struct bundle_def *),
		.count_offset = C_OFF(bundles.n, size_t),
		.section = &bundle_section,
		.max = 1000,
		.flags = CFG_RELOAD,
		.help = "CA bundles kept current from PKI mounts and kv",
	},
	{
		.key = "crls",
		.type = CFG_LIST_OF_SECTION,
		.offset = C_OFF(bundles.crls, struct crl_def *),
		.count_offset = C_OFF(bundles.n_crls, size_t),
		.section = &crl_section,
		.max = 1000,
		.flags = CFG_RELOAD,
		.help = "CRLs of PKI mounts, verified and kept current",
	},
	/* ---- lifecycle ---- */
	{
		.key = "revoke_journal",
		.type = CFG_PATH,
		.offset = C_OFF(revoke.journal, char *),
		.flags = CFG_RELOAD,
		.help = "file (mode 0600) keeping pending revocations across "
			"restarts: serials, mounts, due times",
	},
};

const struct cfg_section cfg_root_section =
	SECTION(root_entries, cfg_check_root);
