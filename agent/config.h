/*
 * config: the agent's YAML configuration, parsed and validated.
 *
 * DESIGN: one table of fields (key path, type, offset, bounds, default,
 * help, reloadable) drives both parsing and validation; nothing else in the
 * agent knows YAML.  config_load() either returns a complete, validated
 * struct config or fails with every problem found, each naming
 * file:line:col and the key.  A reload loads into a fresh struct and the
 * caller swaps it in only on success, so a bad file never replaces a good
 * configuration.
 */
#ifndef CERTAGENT_CONFIG_H
#define CERTAGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum auth_method {
	AUTH_METHOD_APPROLE,
	AUTH_METHOD_CERT,
	AUTH_METHOD_TOKEN,
};

enum log_format_cfg {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

enum cert_mode {
	CERT_MODE_ISSUE,	/* Vault makes the key: <mount>/issue/<role> */
	CERT_MODE_SIGN,		/* certagent makes the key and a CSR: sign/<role> */
};

enum cert_key_type {
	CERT_KEY_EC,
	CERT_KEY_RSA,
	CERT_KEY_ED25519,
};

/* One output file of a certificate: files.<name> */
struct config_file {
	char *name;		/* cert, key, chain, ca or bundle */
	char *path;		/* a bare file name under atomic_dir */
	unsigned mode;		/* 0 = default: 0600 if it holds the key, else 0644 */
	char *owner, *group;	/* user / group names or numeric ids */
	char **parts;		/* bundle: which parts, in order */
	size_t n_parts;
	int backup;		/* keep the previous file as NAME.bak */
};

/* A quiet period: wait: {min, max} of a certificate or template. */
struct config_wait {
	uint64_t min_ms;	/* each change restarts this; default 2s */
	uint64_t max_ms;	/* but the hook runs this soon after the first; 10s */
};

/* One entry of hooks: (name: {signal, pid_file} or {command, timeout}) */
struct config_hook {
	char *name;
	int signal;		/* signal hook: the signal number; 0 = command hook */
	char *pid_file;		/* signal hook: read at every send */
	char **command;		/* command hook: argv, run without a shell */
	size_t n_command;
	uint64_t timeout_ms;	/* command hook: killed after this; default 30s */
};

/* One entry of certificates: */
struct config_cert {
	char *name;
	enum cert_mode mode;
	char *path;		/* pki_int/issue/ROLE or pki_int/sign/ROLE */
	char *common_name;
	char **alt_names;
	size_t n_alt_names;
	char **ip_sans;
	size_t n_ip_sans;
	uint64_t ttl_ms;	/* 0: the role's default */
	enum cert_key_type key_type;	/* sign mode */
	uint64_t key_bits;	/* sign mode; 0: 256 for ec, 2048 for rsa */
	char *trust_anchor;	/* PEM file; default: the root Vault returns */
	char *atomic_dir;	/* write the set under DIR/..data, swapped whole */
	struct config_file *files;
	size_t n_files;
	char **on_change;	/* names of hooks: run when the files change */
	size_t n_on_change;
	struct config_wait wait;
	double renew_at;	/* fraction of the lifetime; 0 = unset (0.66) */
	uint64_t renew_before_ms;	/* or this long before NotAfter; 0 = unset */
	double jitter;		/* +- this fraction of the lifetime; 0.05 */
	char *rotate_window;	/* "Sat 02:00-04:00": renewals wait for it */
	uint64_t rotate_margin_ms;	/* unless NotAfter is this close; 0 = 10% */
	int revoke_on_shutdown;	/* revoke the serial held when the agent stops */
	uint64_t revoke_previous_after_ms;	/* revoke a replaced serial after; 0 = never */
};

/* One entry of templates: */
struct config_template {
	char *source;		/* template file, or */
	char *contents;		/* the template inline */
	char *destination;
	unsigned mode;		/* default 0644 */
	char *owner, *group;
	int error_on_missing_key;
	char *left_delimiter, *right_delimiter;
	int backup;
	char **on_change;	/* names of hooks: run when the file changes */
	size_t n_on_change;
	struct config_wait wait;
};

struct config {
	char *source;		/* path of the file this was read from */

	/* vault: */
	char **vault_addresses;	/* "address": a string or a list, in order */
	size_t n_vault_addresses;
	char *vault_ca_cert;	/* PEM bundle to verify the server */
	char *vault_client_cert;	/* mTLS client certificate (PEM) */
	char *vault_client_key;
	char *vault_tls_server_name;
	int vault_tls_skip_verify;	/* "tls_skip_verify": explicit opt-out */
	char *vault_namespace;
	uint64_t vault_timeout_ms;	/* per request; default 30s */
	uint64_t retry_min_backoff_ms;	/* vault.retry.min_backoff; default 1s */
	uint64_t retry_max_backoff_ms;	/* vault.retry.max_backoff; default 5m */
	uint64_t max_response_bytes;	/* vault.max_response_size; default 4 MiB */

	/* auth: */
	enum auth_method auth_method;
	char *auth_mount;	/* default: the method's name */
	char *auth_role_id_file;	/* approle */
	char *auth_secret_id_file;	/* approle */
	int auth_remove_secret_id_file;	/* default true */
	char *auth_cert_role;	/* cert: auth.name, optional */
	char *auth_token_file;	/* token */
	int auth_allow_insecure_file_mode;	/* accept group/world-readable creds */
	char *token_sink_path;	/* auth.token_sink.path, NULL if none */
	unsigned token_sink_mode;	/* auth.token_sink.mode; default 0600 */

	/* log: */
	int log_level;		/* enum log_level from log.h; default info */
	enum log_format_cfg log_format;

	/* certificates: */
	struct config_cert *certs;
	size_t n_certs;

	/* templates: and template_config: */
	struct config_template *templates;
	size_t n_templates;
	uint64_t template_refresh_ms;	/* static_secret_render_interval; 5m */

	/* hooks: */
	struct config_hook *hooks;
	size_t n_hooks;

	/* leases: template_config.lease_renewal_threshold */
	double lease_renew_fraction;	/* renew a lease at this part of it; 0.8 */
	uint64_t once_max_attempts;	/* vault.retry.num_retries, for --once */

	/* listener: */
	char *listener_address;	/* /healthz /readyz /metrics: host:port */
	char *control_socket;	/* unix socket for `certagent rotate` */

	/* modes */
	int exit_after_render;	/* as `run --once` */
	int revoke_on_shutdown;	/* revoke the token when the agent stops */
	char **exec_command;	/* exec.command (the CLI's -- ARGS wins) */
	size_t n_exec_command;
	int exec_restart;	/* exec.on_change: restart rather than signal */
	int exec_signal;	/* exec.signal; default SIGHUP */
	uint64_t exec_kill_timeout_ms;	/* exec.kill_timeout; default 10s */
};

/*
 * Load and validate FILE.  On success returns 0 and a new config in *out.
 * On failure returns a negative errno-style code; every problem found has
 * been appended to ERR (one per line, "file:line:col: key: message",
 * lines separated by '\n'), truncated to ERRLEN at a line boundary.
 */
int config_load(const char *file, struct config **out, char *err,
		size_t errlen);

void config_free(struct config *cfg);

/*
 * Before swapping NEW in for OLD on a reload: returns 0 if every key that
 * changed may change in a running agent, else -EBUSY with one line per
 * key that needs a restart ("file: key.path: changed, but takes effect
 * only after a restart") appended to ERR.
 */
int config_check_reload(const struct config *old, const struct config *new,
			char *err, size_t errlen);

/* Parse "90s", "15m", "72h", "30d", "500ms" or a bare number of seconds. */
int config_parse_duration(const char *s, uint64_t *ms);

/* Parse an octal file mode such as "0640"; rejects anything above 07777. */
int config_parse_mode(const char *s, unsigned *mode);

/*
 * Expand ${NAME} from the environment.  A missing variable is an error
 * naming it (unless written ${NAME:-default}); "$$" is a literal "$".
 * Returns a malloc'd string or NULL with ERR filled.
 */
char *config_expand_env(const char *s, char *err, size_t errlen);

#endif
