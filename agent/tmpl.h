/*
 * tmpl: Go text/template, the subset that Vault Agent and consul-template
 * templates use, so that existing templates render unchanged.
 *
 * A template is parsed once into a node tree (tmpl_parse) and executed as
 * often as its data changes (tmpl_execute).  The executor reaches the
 * outside world only through struct tmpl_env: Vault data comes from the
 * fetch callback, writeToFile goes through write_file; env and file read
 * the process environment and local files directly.
 *
 * DESIGN / invariants:
 *  - One pass registers every dependency.  A fetch that answers
 *    TMPL_PENDING yields a "pending" value: false in if/with/range, empty
 *    when printed, and any field, index or function applied to it is
 *    pending too (so writeToFile never writes half-fetched data).  The
 *    executor carries on to the end of the template and returns
 *    TMPL_PENDING, having asked the provider for everything it could
 *    reach, as consul-template's first pass does.
 *  - Within one execution, identical (kind, path, key=value...) calls ask
 *    the provider once and see the same answer.
 *  - No secret value ever reaches an error message: errors name the
 *    template, line, column, function and key, never the data.
 *  - No global state; a parsed template is immutable, so one may be
 *    executed from several places (not concurrently with tmpl_free).
 */
#ifndef CERTAGENT_TMPL_H
#define CERTAGENT_TMPL_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Some data is not fetched yet; the output is not usable. */
#define TMPL_PENDING 1

struct tmpl;

/*
 * Parse TEXT, named NAME in error messages.  LDELIM/RDELIM NULL or ""
 * mean "{{" and "}}".  0 with *OUT set, or a negative errno with ERR =
 * "name:line:col: message".
 */
int tmpl_parse(const char *name, const char *text, const char *ldelim,
	       const char *rdelim, struct tmpl **out, char *err,
	       size_t errlen);

void tmpl_free(struct tmpl *t);

/*
 * How the executor reaches the outside world.  A NULL callback makes the
 * functions that need it fail with "...: not available".
 */
struct tmpl_env {
	void *arg;
	/*
	 * `secret PATH [k=v ...]`, `pkiCert PATH [k=v ...]` and `secrets
	 * PATH` (a LIST: the envelope's data.keys).  KIND is "secret",
	 * "pkiCert" or "secrets"; KV holds the key=value arguments, trimmed
	 * as consul-template trims them, empty ones dropped, in template
	 * order.  Return 0 with *OUT set to Vault's JSON envelope
	 * ({"request_id", "lease_id", "lease_duration", "renewable",
	 * "data", "warnings", "auth", "wrap_info"}), borrowed until
	 * tmpl_execute returns; TMPL_PENDING when the data is not there yet
	 * (the provider has registered the need and will fetch it); or a
	 * negative error with ERR filled (and no secret in it).
	 */
	int (*fetch)(void *arg, const char *kind, const char *path,
		     const char *const *kv, size_t nkv, const cJSON **out,
		     char *err, size_t errlen);
	/*
	 * `writeToFile PATH OWNER GROUP PERMS [FLAGS] CONTENT`: the provider
	 * does the write (atomic, only if changed).  Called only once the
	 * whole template has rendered, in template order, never for a
	 * render that failed or waits for data.  PERMS has been checked
	 * to be octal; "newline" in FLAGS has already been applied to
	 * CONTENT; APPEND is set when FLAGS contains "append".  0 or a
	 * negative error with ERR filled.
	 */
	int (*write_file)(void *arg, const char *path, const char *owner,
			  const char *group, const char *perms,
			  const char *content, size_t len, int append,
			  char *err, size_t errlen);
	/* A missing map key is an error instead of "<no value>". */
	int error_on_missing_key;
	/* Unix seconds for timestamp; 0 = time(NULL). */
	long long now;
	/* Cap on rendered bytes; 0 = 16 MiB. */
	size_t max_output;
};

/*
 * Render T.  ENV may be NULL (no provider, defaults).
 *  0: *OUT (malloc'd, NUL-terminated; it may also hold NUL bytes, e.g.
 *     from base64Decode) and *OUTLEN set.
 *  TMPL_PENDING: at least one fetch is pending; every dependency the
 *     template can reach has been registered in this one pass.  *OUT is
 *     not set.  ERR may hold an error met along the way, which is
 *     likely an effect of the missing data.
 *  <0: error, ERR = "name:line:col: message".
 */
int tmpl_execute(const struct tmpl *t, const struct tmpl_env *env,
		 char **out, size_t *outlen, char *err, size_t errlen);

#endif
