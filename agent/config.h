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

#include "audit.h"
#include "auth.h"
#include "bundles.h"
#include "certs.h"
#include "deps.h"
#include "hooks.h"
#include "revoke.h"
#include "telemetry.h"
#include "templates.h"
#include "vault.h"

enum log_format_cfg {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/*
 * The whole file.  Each module's part is that module's own options
 * struct, which the agent hands it (borrowed, until the next reload);
 * no module but the agent sees struct config.  The tables write every
 * key in one place; what several modules share (vault.retry's backoff,
 * the client certificate) is copied into theirs after the load.
 */
struct config {
	char *source;		/* path of the file this was read from */

	struct vault_opts vault;	/* vault: */
	struct auth_opts auth;		/* auth: */

	/* log: */
	int log_level;		/* enum log_level from log.h; default info */
	enum log_format_cfg log_format;

	struct certs_opts certs;	/* certificates: */
	struct templates_opts templates;	/* templates: */
	struct deps_opts deps;		/* template_config: */
	struct hooks_opts hooks;	/* hooks: */
	struct revq_opts revoke;	/* (vault.retry) */
	struct telemetry_opts listener;	/* listener:, fail_open */
	struct audit_opts audit;	/* audit: */

	/* modes */
	int exit_after_render;	/* as `run --once` */
	int revoke_on_shutdown;	/* revoke the token when the agent stops */
	char **exec_command;	/* exec.command (the CLI's -- ARGS wins) */
	size_t n_exec_command;
	int exec_restart;	/* exec.on_change: restart rather than signal */
	int exec_signal;	/* exec.signal; default SIGHUP */
	uint64_t exec_kill_timeout_ms;	/* exec.kill_timeout; default 10s */

	/* ---- fleet ---- */
	struct cert_def *profiles;	/* profiles: (each named by the map) */
	size_t n_profiles;
	char *entries_dir;		/* entries_dir: one YAML file per entry */
	struct bundles_opts bundles;	/* trust_bundles:, crls: */
};

/*
 * One file of entries_dir: a tenant's keystore, made an ordinary
 * certificates: entry by its profile.  Every string of the profile (and
 * of the overrides) may hold {tenant}, {profile}, {name} and {endpoint}.
 */
struct fleet_entry_def {
	char *tenant;
	char *profile;
	char *endpoint;		/* the keystore's address, for {endpoint} */
	char *common_name;	/* overrides of the profile; NULL/0: its own */
	char **alt_names;
	size_t n_alt_names;
	char **ip_sans;
	size_t n_ip_sans;
	uint64_t ttl_ms;
	uint64_t renew_before_ms;
};

/*
 * Load and validate FILE.  On success returns 0 and a new config in *out.
 * On failure returns a negative errno-style code; every problem found has
 * been appended to ERR (one per line, "file:line:col: key: message",
 * lines separated by '\n'), truncated to ERRLEN at a line boundary.
 */
int config_load(const char *file, struct config **out, char *err,
		size_t errlen);

/* The same, with the file's contents in TEXT (LEN bytes, NUL bytes
 * allowed) instead of read from FILE, which names it in errors. */
int config_load_text(const char *file, const char *text, size_t len,
		     struct config **out, char *err, size_t errlen);

void config_free(struct config *cfg);

/*
 * Before swapping NEW in for OLD on a reload: returns 0 if every key that
 * changed may change in a running agent, else -EBUSY with one line per
 * key that needs a restart ("file: key.path: changed, but takes effect
 * only after a restart") appended to ERR.
 */
int config_check_reload(const struct config *old, const struct config *new,
			char *err, size_t errlen);

/*
 * Do two certificates: entries (of two loads) ask for the same thing in
 * every key?  A reload keeps what the engine holds for those.
 */
int config_same_cert(const struct cert_def *a, const struct cert_def *b);

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

/* ---- fleet ---- */

/*
 * Load the entry file FILE (TEXT, LEN bytes, or read when TEXT is NULL)
 * into *OUT, checked against the profiles of CFG.  0, or a negative
 * errno with every problem in ERR as config_load() writes them.
 */
int config_load_entry(const struct config *cfg, const char *file,
		      const char *text, size_t len,
		      struct fleet_entry_def *out, char *err, size_t errlen);
void config_free_entry(struct fleet_entry_def *e);

/*
 * The certificates: entry NAME that profile P makes of entry E (NULL:
 * placeholders only, for checking the profile): a deep copy of P with
 * {tenant}, {profile}, {name} and {endpoint} replaced in every string
 * and E's overrides applied.  0, or -EINVAL with ERR (an unknown
 * placeholder), -ENOMEM.  OUT is freed with config_free_cert().
 */
int config_expand_cert(const struct cert_def *p, const char *profile,
		       const struct fleet_entry_def *e, const char *name,
		       struct cert_def *out, char *err, size_t errlen);
void config_free_cert(struct cert_def *c);

/* NULL, or why S cannot name a certificate. */
const char *config_check_name(const char *s);

/* The profile named NAME of CFG, or NULL. */
const struct cert_def *config_profile(const struct config *cfg,
				      const char *name);

#endif
