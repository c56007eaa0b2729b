/*
 * import/vault_agent: a Vault Agent configuration (HCL or JSON) as the
 * equivalent certagent configuration (YAML), for `certagent import
 * vault-agent FILE`.
 *
 * DESIGN: the file is read into a tree (hcl.h), then every key Vault
 * Agent 1.18 knows of the stanzas certagent shares (vault, auto_auth,
 * template, template_config, listener, exec, exit_after_auth, log_*) is
 * written as certagent's key of the same meaning, with Vault Agent's
 * default where the two defaults differ.  Whatever has no equivalent
 * (pid_file, cache, api_proxy, an aws method, a wrapped sink, ...) is
 * reported, one line per key with its file:line:col, never dropped
 * silently.  Every string is written double-quoted, with `$` doubled,
 * since certagent expands ${NAME} and Vault Agent does not.
 */
#ifndef CERTAGENT_VAULT_AGENT_H
#define CERTAGENT_VAULT_AGENT_H

#include <stddef.h>

struct buf;

enum {
	VA_SUGGEST = 0x1,	/* a cert and a key template of one issuance
				   become a certificates: entry */
};

/*
 * Convert LEN bytes of TEXT (FILE names it in messages) into YAML,
 * appended to OUT; what was not converted goes to REPORT, one line each
 * ("FILE:LINE:COL: KEY: ..."), and *N_REPORTED counts them.  0, or a
 * negative errno when TEXT does not parse (the reason, with its
 * position, in ERR) or memory ran out.
 */
int va_import(const char *file, const char *text, size_t len, unsigned flags,
	      struct buf *out, struct buf *report, size_t *n_reported,
	      char *err, size_t errlen);

#endif
