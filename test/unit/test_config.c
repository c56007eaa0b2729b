/*
 * test_config: config_load(), its parsers and its error reports.
 *
 * Every input is written by the test that uses it into a fresh mkdtemp()
 * directory, so no test depends on the current directory and each test
 * shows its YAML next to the line and column it asserts.
 *
 * Besides config.h, the tests use the module's internal header,
 * config_int.h, and link the objects the Makefile builds.  That gives
 * them the table types and the engine's cfg_load(), which takes any root
 * table, so the generic list and map section types are also driven
 * through a test-only table below.
 */
#include "config.h"
#include "config/config_int.h"
#include "log.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

struct fx {
	char dir[64];
	char path[192];		/* the file last written */
	char err[8192];
	struct config *cfg;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	config_free(fx->cfg);
	nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static const char *
write_yaml(struct fx *fx, const char *name, const char *text)
{
	FILE *f;

	snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, name);
	f = fopen(fx->path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return fx->path;
}

/* Write TEXT as NAME and load it into fx->cfg; returns config_load's rc. */
static int
load(struct fx *fx, const char *name, const char *text)
{
	config_free(fx->cfg);
	fx->cfg = NULL;
	return config_load(write_yaml(fx, name, text), &fx->cfg, fx->err,
			   sizeof(fx->err));
}

static void
load_ok(struct fx *fx, const char *name, const char *text)
{
	int rc = load(fx, name, text);

	if (rc != 0)
		fail_msg("config_load(%s) = %d, want 0; errors:\n%s", name, rc,
			 fx->err);
	assert_non_null(fx->cfg);
}

static void
load_fails(struct fx *fx, const char *name, const char *text)
{
	int rc = load(fx, name, text);

	if (rc != -EINVAL)
		fail_msg("config_load(%s) = %d, want %d (-EINVAL); errors:\n%s",
			 name, rc, -EINVAL, fx->err);
	assert_null(fx->cfg);
}

/* ERR must contain the line "FILE:LINE:COL: REST" for the last file. */
static void
assert_error_at(const struct fx *fx, int line, int col, const char *rest)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d:%d: %s", fx->path, line, col, rest);
	if (strstr(fx->err, want) == NULL)
		fail_msg("missing error line\n  want: %s\n  got:\n%s", want,
			 fx->err);
}

static void
assert_no_text(const char *err, const char *secret)
{
	if (strstr(err, secret) != NULL)
		fail_msg("'%s' must not appear in the errors:\n%s", secret, err);
}

static size_t
count_lines(const char *s)
{
	size_t n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define GOOD_VAULT "vault:\n  address: https://vault.internal:8200\n"
#define GOOD_AUTH "auth:\n  method: token\n  token_file: /run/t\n"

/* ------------------------------------------------------------------ */

static void
test_full_file_parses_to_expected_values(void **state)
{
	struct fx *fx = *state;
	struct config *c;

	load_ok(fx, "full.yaml",
		"# every key of the current schema\n"
		"vault:\n"
		"  address: [https://a.example:8200, \"https://b.example:8200\"]\n"
		"  ca_cert: /etc/certagent/vault-ca.pem\n"
		"  client_cert: /etc/certagent/id.crt\n"
		"  client_key: /etc/certagent/id.key\n"
		"  tls_server_name: vault.internal\n"
		"  tls_skip_verify: false\n"
		"  namespace: team-a\n"
		"  timeout: 45s\n"
		"  max_response_size: 1048576\n"
		"  retry: {min_backoff: 500ms, max_backoff: 2m}\n"
		"auth:\n"
		"  method: approle\n"
		"  mount: approle-web\n"
		"  role_id_file: /etc/certagent/role-id\n"
		"  secret_id_file: /run/certagent/secret-id\n"
		"  remove_secret_id_file_after_reading: false\n"
		"  name: web\n"
		"  allow_insecure_file_mode: yes\n"
		"  token_sink: {path: /run/certagent/token, mode: \"0640\"}\n"
		"log: {level: debug, format: json}\n");
	c = fx->cfg;
	assert_string_equal(c->source, fx->path);
	assert_int_equal(c->vault.n_addresses, 2);
	assert_string_equal(c->vault.addresses[0], "https://a.example:8200");
	assert_string_equal(c->vault.addresses[1], "https://b.example:8200");
	assert_string_equal(c->vault.ca_cert, "/etc/certagent/vault-ca.pem");
	assert_string_equal(c->vault.client_cert, "/etc/certagent/id.crt");
	assert_string_equal(c->vault.client_key, "/etc/certagent/id.key");
	assert_string_equal(c->vault.tls_server_name, "vault.internal");
	assert_int_equal(c->vault.tls_skip_verify, 0);
	assert_string_equal(c->vault.namespace, "team-a");
	assert_int_equal(c->vault.timeout_ms, 45000);
	assert_int_equal(c->vault.max_response_bytes, 1048576);
	assert_int_equal(c->vault.retry.min_ms, 500);
	assert_int_equal(c->vault.retry.max_ms, 120000);
	assert_int_equal(c->auth.method, AUTH_METHOD_APPROLE);
	assert_string_equal(c->auth.mount, "approle-web");
	assert_string_equal(c->auth.role_id_file, "/etc/certagent/role-id");
	assert_string_equal(c->auth.secret_id_file, "/run/certagent/secret-id");
	assert_int_equal(c->auth.remove_secret_id_file, 0);
	assert_string_equal(c->auth.cert_role, "web");
	assert_null(c->auth.token_file);
	assert_int_equal(c->auth.allow_insecure_file_mode, 1);
	assert_string_equal(c->auth.token_sink_path, "/run/certagent/token");
	assert_int_equal(c->auth.token_sink_mode, 0640);
	assert_int_equal(c->log_level, LOGL_DEBUG);
	assert_int_equal(c->log_format, LOG_FORMAT_JSON);
	assert_string_equal(fx->err, "");
}

static void
test_omitted_keys_take_table_defaults(void **state)
{
	struct fx *fx = *state;
	struct config *c;

	load_ok(fx, "minimal.yaml",
		"vault:\n"
		"  address: http://127.0.0.1:8200\n"
		"auth:\n"
		"  method: token\n"
		"  token_file: /run/secrets/vault-token\n");
	c = fx->cfg;
	/* A single address is a list of one. */
	assert_int_equal(c->vault.n_addresses, 1);
	assert_string_equal(c->vault.addresses[0], "http://127.0.0.1:8200");
	assert_null(c->vault.ca_cert);
	assert_null(c->vault.client_cert);
	assert_null(c->vault.namespace);
	assert_int_equal(c->vault.tls_skip_verify, 0);
	assert_int_equal(c->vault.timeout_ms, 30000);
	assert_int_equal(c->vault.retry.min_ms, 1000);
	assert_int_equal(c->vault.retry.max_ms, 300000);
	assert_int_equal(c->vault.max_response_bytes, 4194304);
	assert_int_equal(c->auth.method, AUTH_METHOD_TOKEN);
	assert_string_equal(c->auth.mount, "token");
	assert_int_equal(c->auth.remove_secret_id_file, 1);
	assert_int_equal(c->auth.allow_insecure_file_mode, 0);
	assert_null(c->auth.token_sink_path);
	assert_int_equal(c->auth.token_sink_mode, 0600);
	assert_int_equal(c->log_level, LOGL_INFO);
	assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
}

static void
test_mount_defaults_to_method_name(void **state)
{
	struct fx *fx = *state;

	load_ok(fx, "approle.yaml", GOOD_VAULT
		"auth: {method: approle, role_id_file: /r, secret_id_file: /s}\n");
	assert_string_equal(fx->cfg->auth.mount, "approle");
	load_ok(fx, "cert.yaml",
		"vault:\n"
		"  address: https://v:8200\n"
		"  client_cert: /c.pem\n"
		"  client_key: /k.pem\n"
		"auth: {method: cert}\n");
	assert_string_equal(fx->cfg->auth.mount, "cert");
	assert_null(fx->cfg->auth.cert_role);
}

static void
test_null_value_keeps_default_but_not_required(void **state)
{
	struct fx *fx = *state;

	load_ok(fx, "nulls.yaml", GOOD_VAULT
		"  timeout:\n"
		"  namespace: ~\n" GOOD_AUTH);
	assert_int_equal(fx->cfg->vault.timeout_ms, 30000);
	assert_null(fx->cfg->vault.namespace);

	load_fails(fx, "nulladdr.yaml", "vault:\n  address:\n" GOOD_AUTH);
	assert_error_at(fx, 1, 1, "vault.address: missing required key");
}

static void
test_duration_accepts_units_combinations_and_bare_seconds(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
		{ "500ms", 500 },
		{ "90s", 90000 },
		{ "15m", 900000 },
		{ "72h", 259200000 },
		{ "30d", 2592000000ULL },
		{ "1h30m", 5400000 },
		{ "1d2h3m4s5ms", 93784005 },
		{ "2m500ms", 120500 },
		{ "45", 45000 },	/* a bare number is seconds */
		{ "0", 0 },
		{ "0s", 0 },
		{ "007s", 7000 },
		/* the largest values that fit in uint64_t milliseconds */
		{ "18446744073709551615ms", UINT64_MAX },
		{ "18446744073709551", 18446744073709551000ULL },
		{ "213503982334d", 18446744073657600000ULL },
	};
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = 1;
		if (config_parse_duration(ok[i].s, &ms) != 0)
			fail_msg("config_parse_duration(\"%s\") failed", ok[i].s);
		if (ms != ok[i].ms)
			fail_msg("config_parse_duration(\"%s\") = %llu, want %llu",
				 ok[i].s, (unsigned long long)ms,
				 (unsigned long long)ok[i].ms);
	}
}

static void
test_duration_rejects_malformed_negative_and_overflow(void **state)
{
	static const struct {
		const char *s;
		int rc;
	} bad[] = {
		{ "", -EINVAL },
		{ "abc", -EINVAL },
		{ "-5s", -EINVAL },
		{ "-1", -EINVAL },
		{ "+5s", -EINVAL },
		{ "1.5h", -EINVAL },
		{ "5x", -EINVAL },
		{ "5S", -EINVAL },	/* units are lower case */
		{ "5 s", -EINVAL },
		{ " 5s", -EINVAL },
		{ "h", -EINVAL },
		{ "1h30", -EINVAL },	/* a unit after every number */
		{ "1h1h", -EINVAL },	/* each unit once */
		{ "30m1h", -EINVAL },	/* largest first */
		{ "5us", -EINVAL },
		{ "18446744073709551616ms", -ERANGE },
		{ "18446744073709552", -ERANGE },	/* seconds * 1000 */
		{ "213503982335d", -ERANGE },
		{ "18446744073709551615ms1d", -EINVAL },	/* order first */
		{ "1d1", -EINVAL },
		{ "99999999999999999999999s", -ERANGE },
		{ "213503982334d24h", -ERANGE },	/* the sum overflows */
	};
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		ms = 12345;
		rc = config_parse_duration(bad[i].s, &ms);
		if (rc != bad[i].rc)
			fail_msg("config_parse_duration(\"%s\") = %d, want %d",
				 bad[i].s, rc, bad[i].rc);
		assert_int_equal(ms, 12345);	/* untouched on failure */
	}
}

static void
test_duration_errors_in_file_name_key_and_value(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "dur.yaml", GOOD_VAULT
		"  timeout: 1.5h\n"
		"  retry:\n"
		"    min_backoff: -1s\n"
		"    max_backoff: 1m1m\n" GOOD_AUTH);
	assert_error_at(fx, 3, 12, "vault.timeout: '1.5h' has a fraction");
	assert_error_at(fx, 5, 18, "vault.retry.min_backoff: '-1s' is "
			"negative");
	assert_error_at(fx, 6, 18, "vault.retry.max_backoff: '1m1m' repeats "
			"a unit");
}

#define CERT_HEAD "certificates:\n  - name: web\n    path: pki/issue/web\n" \
	"    common_name: w.example\n" \
	"    files: {cert: {path: /t/c}, key: {path: /t/k}}\n"

static void
test_renewal_ratios_read_fractions_and_percentages_exactly(void **state)
{
	struct fx *fx = *state;

	load_ok(fx, "r.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		"    renew_at: 0.75\n    jitter: 2.5%\n"
		"template_config: {lease_renewal_threshold: 90%}\n");
	assert_true(fx->cfg->certs.defs[0].policy.renew_at == 0.75);
	assert_true(fx->cfg->certs.defs[0].policy.jitter == 0.025);
	assert_true(fx->cfg->deps.lease_renew_fraction == 0.9);
	load_ok(fx, "d.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		"    renew_before: 30d\n");
	assert_true(fx->cfg->certs.defs[0].policy.renew_at == 0);	/* unset: 0.66 */
	assert_true(fx->cfg->certs.defs[0].policy.jitter == 0.05);
	assert_int_equal(fx->cfg->certs.defs[0].policy.renew_before_ms, 30ULL * 86400000);
	assert_true(fx->cfg->deps.lease_renew_fraction == 0.8);
	assert_int_equal(fx->cfg->vault.num_retries, 5);
}

static void
test_renewal_settings_that_contradict_are_refused_with_position(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "both.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		   "    renew_at: 0.5\n    renew_before: 1h\n");
	assert_error_at(fx, 12, 5, "certificates[0].renew_before: set renew_at "
			"or renew_before, not both");
	load_fails(fx, "range.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		   "    renew_at: 1.5\n    jitter: 0.5.1\n");
	assert_error_at(fx, 11, 15, "certificates[0].renew_at: '1.5' is out of "
			"range: must be between 0.01 and 0.99");
	assert_error_at(fx, 12, 13, "certificates[0].jitter: '0.5.1' is not a "
			"fraction");
	load_fails(fx, "wide.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		   "    renew_at: 0.9\n    jitter: 0.2\n");
	assert_error_at(fx, 12, 5, "certificates[0].jitter: renew_at 0.9 +- "
			"jitter 0.2 leaves the lifetime");
	load_fails(fx, "win.yaml", GOOD_VAULT GOOD_AUTH CERT_HEAD
		   "    rotate_window: \"Sun 25:00-26:00\"\n");
	assert_error_at(fx, 11, 5, "certificates[0].rotate_window: column 5: "
			"expected a time from 00:00 to 24:00, got \"25:00\"");
}

static void
test_mode_accepts_octal_strings(void **state)
{
	static const struct {
		const char *s;
		unsigned mode;
	} ok[] = {
		{ "0600", 0600 }, { "0640", 0640 }, { "07777", 07777 },
		{ "0", 0 }, { "644", 0644 }, { "0755", 0755 }, { "4755", 04755 },
	};
	unsigned mode;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		mode = 1;
		if (config_parse_mode(ok[i].s, &mode) != 0)
			fail_msg("config_parse_mode(\"%s\") failed", ok[i].s);
		if (mode != ok[i].mode)
			fail_msg("config_parse_mode(\"%s\") = %o, want %o",
				 ok[i].s, mode, ok[i].mode);
	}
}

static void
test_mode_rejects_non_octal_and_above_07777(void **state)
{
	static const struct {
		const char *s;
		int rc;
	} bad[] = {
		{ "", -EINVAL }, { "0800", -EINVAL }, { "0x1a4", -EINVAL },
		{ "-0600", -EINVAL }, { "0o600", -EINVAL },
		{ "rw-r--r--", -EINVAL }, { "007777", -EINVAL },
		{ " 0600", -EINVAL }, { "10000", -ERANGE }, { "77777", -ERANGE },
	};
	unsigned mode;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		mode = 0123;
		rc = config_parse_mode(bad[i].s, &mode);
		if (rc != bad[i].rc)
			fail_msg("config_parse_mode(\"%s\") = %d, want %d",
				 bad[i].s, rc, bad[i].rc);
		assert_int_equal(mode, 0123);
	}
}

static void
test_unquoted_yaml_integer_mode_is_rejected_with_hint(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "mode.yaml", GOOD_VAULT GOOD_AUTH
		"  token_sink:\n"
		"    path: /run/token\n"
		"    mode: 0640\n");
	assert_error_at(fx, 8, 11, "auth.token_sink.mode: '0640' must be a "
			"quoted string such as \"0640\"");

	/* Either quoting style is a string. */
	load_ok(fx, "mode1.yaml", GOOD_VAULT GOOD_AUTH
		"  token_sink: {path: /run/token, mode: '0440'}\n");
	assert_int_equal(fx->cfg->auth.token_sink_mode, 0440);
}

static void
test_bool_accepts_yaml11_words_in_any_case(void **state)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {
		{ "true", 1 }, { "True", 1 }, { "YES", 1 }, { "on", 1 },
		{ "\"On\"", 1 }, { "false", 0 }, { "No", 0 }, { "OFF", 0 },
	};
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char yaml[256];

		snprintf(yaml, sizeof(yaml), GOOD_VAULT "  tls_skip_verify: %s\n"
			 GOOD_AUTH "  allow_insecure_file_mode: %s\n",
			 words[i].word, words[i].word);
		load_ok(fx, "bool.yaml", yaml);
		if (fx->cfg->vault.tls_skip_verify != words[i].value ||
		    fx->cfg->auth.allow_insecure_file_mode != words[i].value)
			fail_msg("'%s' read as %d/%d, want %d", words[i].word,
				 fx->cfg->vault.tls_skip_verify,
				 fx->cfg->auth.allow_insecure_file_mode,
				 words[i].value);
	}
}

static void
test_env_expansion_substitutes_defaults_and_escapes(void **state)
{
	char err[256], *s;

	(void)state;
	setenv("CT_HOST", "vault.example", 1);
	setenv("CT_EMPTY", "", 1);
	unsetenv("CT_UNSET");

	s = config_expand_env("https://${CT_HOST}:8200", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "https://vault.example:8200");
	free(s);
	s = config_expand_env("${CT_UNSET:-/etc/default}", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "/etc/default");
	free(s);
	/* As in the shell, ":-" also covers a variable set to "". */
	s = config_expand_env("${CT_EMPTY:-fallback}", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "fallback");
	free(s);
	s = config_expand_env("${CT_EMPTY}", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	s = config_expand_env("$$HOME costs $$5 ${CT_UNSET:-a$$b}", err,
			      sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "$HOME costs $5 a$b");
	free(s);
	s = config_expand_env("${CT_HOST:-x}${CT_HOST}", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "vault.examplevault.example");
	free(s);
	s = config_expand_env("plain", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "plain");
	free(s);
}

static void
test_env_expansion_rejects_missing_variable_and_bad_syntax(void **state)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "${CT_UNSET}", "environment variable 'CT_UNSET' is not set" },
		{ "a${CT_UNSET}b", "'CT_UNSET' is not set" },
		{ "cost $5", "lone '$'" },
		{ "trailing $", "lone '$'" },
		{ "${CT_HOST", "unterminated" },
		{ "${CT_HOST:default}", "unsupported" },
		{ "${1ABC}", "valid variable name" },
		{ "${}", "valid variable name" },
		{ "${CT_UNSET:-${CT_HOST}}", "nested" },
	};
	char err[256];

	(void)state;
	setenv("CT_HOST", "vault.example", 1);
	unsetenv("CT_UNSET");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *s;

		err[0] = '\0';
		s = config_expand_env(bad[i].in, err, sizeof(err));
		if (s != NULL)
			fail_msg("config_expand_env(\"%s\") = \"%s\", want NULL",
				 bad[i].in, s);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("config_expand_env(\"%s\"): error \"%s\" lacks "
				 "\"%s\"", bad[i].in, err, bad[i].msg);
		assert_no_text(err, "vault.example");
	}
}

/* The expanded text is capped like every other buffer: a value that
 * names a large variable many times is an error, not unbounded growth. */
static void
test_env_expansion_is_capped_at_the_value_limit(void **state)
{
	size_t mib = 1024 * 1024, n = CFG_MAX_VALUE / mib;
	char *big = malloc(mib + 1), *in = malloc(10 * (n + 1) + 1), *s;
	char err[256];

	(void)state;
	assert_non_null(big);
	assert_non_null(in);
	memset(big, 'x', mib);
	big[mib] = '\0';
	setenv("CT_BIG", big, 1);
	free(big);
	in[0] = '\0';
	for (size_t i = 0; i < n; i++)
		memcpy(in + 9 * i, "${CT_BIG}", 10);
	/* Exactly at the limit is still a value... */
	s = config_expand_env(in, err, sizeof(err));
	if (s == NULL)
		fail_msg("%zu MiB: %s", n, err);
	assert_int_equal(strlen(s), CFG_MAX_VALUE);
	free(s);
	/* ...one byte more is refused, without echoing the text. */
	memcpy(in + 9 * n, "$$", 3);
	err[0] = '\0';
	s = config_expand_env(in, err, sizeof(err));
	assert_null(s);
	if (strstr(err, "is longer than") == NULL)
		fail_msg("error \"%s\" lacks \"is longer than\"", err);
	assert_no_text(err, "xxx");
	free(in);
	unsetenv("CT_BIG");
}

static void
test_env_values_fill_every_scalar_type(void **state)
{
	struct fx *fx = *state;

	setenv("CT_ADDR2", "https://b.example:8200", 1);
	setenv("CT_TIMEOUT", "90s", 1);
	setenv("CT_METHOD", "token", 1);
	setenv("CT_SKIP", "true", 1);
	setenv("CT_MODE", "0644", 1);
	unsetenv("CT_UNSET");
	load_ok(fx, "env.yaml",
		"vault:\n"
		"  address: [https://a.example:8200, \"${CT_ADDR2}\"]\n"
		"  timeout: ${CT_TIMEOUT}\n"
		"  tls_skip_verify: ${CT_SKIP}\n"
		"  namespace: ns-$${literal}\n"
		"auth:\n"
		"  method: ${CT_METHOD}\n"
		"  token_file: ${CT_UNSET:-/run/secrets/token}\n"
		"  token_sink: {path: /run/t, mode: \"${CT_MODE}\"}\n"
		"log: {level: \"${CT_UNSET:-warn}\"}\n");
	assert_string_equal(fx->cfg->vault.addresses[1],
			    "https://b.example:8200");
	assert_int_equal(fx->cfg->vault.timeout_ms, 90000);
	assert_int_equal(fx->cfg->vault.tls_skip_verify, 1);
	assert_string_equal(fx->cfg->vault.namespace, "ns-${literal}");
	assert_int_equal(fx->cfg->auth.method, AUTH_METHOD_TOKEN);
	assert_string_equal(fx->cfg->auth.token_file, "/run/secrets/token");
	assert_int_equal(fx->cfg->auth.token_sink_mode, 0644);
	assert_int_equal(fx->cfg->log_level, LOGL_WARN);
}

static void
test_missing_env_variable_names_variable_and_position(void **state)
{
	struct fx *fx = *state;

	unsetenv("CT_NO_SUCH_VAR");
	load_fails(fx, "envmiss.yaml", GOOD_VAULT
		"auth:\n"
		"  method: token\n"
		"  token_file: /run/${CT_NO_SUCH_VAR}/token\n");
	assert_error_at(fx, 5, 15, "auth.token_file: environment variable "
			"'CT_NO_SUCH_VAR' is not set");
	assert_int_equal(count_lines(fx->err), 1);
}

static void
test_env_value_failing_validation_is_not_echoed(void **state)
{
	struct fx *fx = *state;

	setenv("CT_SECRET_TIMEOUT", "hunter2-timeout", 1);
	setenv("CT_SECRET_URL", "ftp://hunter2-url", 1);
	setenv("CT_SECRET_HOST", "hunter2 host", 1);
	setenv("CT_SECRET_BOOL", "hunter2-bool", 1);
	setenv("CT_SECRET_SIZE", "12", 1);
	setenv("CT_SECRET_LEVEL", "hunter2-level", 1);
	load_fails(fx, "envsecret.yaml",
		"vault:\n"
		"  address:\n"
		"    - ${CT_SECRET_URL}\n"
		"    - https://${CT_SECRET_HOST}:8200\n"
		"  timeout: ${CT_SECRET_TIMEOUT}\n"
		"  tls_skip_verify: ${CT_SECRET_BOOL}\n"
		"  max_response_size: ${CT_SECRET_SIZE}\n"
		GOOD_AUTH
		"log: {level: \"${CT_SECRET_LEVEL}\"}\n");
	assert_error_at(fx, 3, 7, "vault.address[0]: the value from "
			"${CT_SECRET_URL} must start with http:// or https://");
	assert_error_at(fx, 4, 7, "vault.address[1]: the value from "
			"${CT_SECRET_HOST} contains whitespace");
	assert_error_at(fx, 5, 12, "vault.timeout: the value from "
			"${CT_SECRET_TIMEOUT} is not a duration");
	assert_error_at(fx, 6, 20, "vault.tls_skip_verify: the value from "
			"${CT_SECRET_BOOL} is not a boolean");
	assert_error_at(fx, 7, 22, "vault.max_response_size: the value from "
			"${CT_SECRET_SIZE} is out of range: must be between "
			"1024 and 268435456");
	assert_error_at(fx, 11, 14, "log.level: the value from "
			"${CT_SECRET_LEVEL} is not one of: debug, info, warn, "
			"error");
	assert_no_text(fx->err, "hunter2");
	assert_no_text(fx->err, "'12'");
}

static void
test_unknown_key_names_position_and_suggests_closest(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "unknown.yaml", GOOD_VAULT
		"auth:\n"
		"  method: approle\n"
		"  role_id_file: /etc/certagent/role-id\n"
		"  secret_id_flie: /run/certagent/secret-id\n");
	assert_error_at(fx, 6, 3, "auth.secret_id_flie: unknown key; did you "
			"mean 'secret_id_file'?");

	load_fails(fx, "unknown2.yaml",
		"vault:\n"
		"  adress: https://v:8200\n"
		"  Timeout: 5s\n"
		"  retry: {max_backof: 1m}\n"
		GOOD_AUTH
		"loggg: {level: info}\n");
	assert_error_at(fx, 2, 3, "vault.adress: unknown key; did you mean "
			"'address'?");
	assert_error_at(fx, 3, 3, "vault.Timeout: unknown key; did you mean "
			"'timeout'?");
	assert_error_at(fx, 4, 11, "vault.retry.max_backof: unknown key; did "
			"you mean 'max_backoff'?");
	assert_error_at(fx, 8, 1, "loggg: unknown key; did you mean 'log'?");
}

static void
test_unknown_key_in_wrong_section_names_its_section(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "moved.yaml", GOOD_VAULT GOOD_AUTH
		"  ca_cert: /etc/ca.pem\n"
		"  frobnicate: 1\n");
	assert_error_at(fx, 6, 3, "auth.ca_cert: unknown key here; did you "
			"mean 'vault.ca_cert'?");
	/* No near key anywhere: the keys of the section are listed. */
	assert_error_at(fx, 7, 3, "auth.frobnicate: unknown key (known keys "
			"here: method, mount, ");
}

static void
test_wrong_types_are_reported_with_expected_type(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "types.yaml",
		"vault:\n"
		"  address: {url: https://v:8200}\n"
		"  timeout: {seconds: 30}\n"
		"  tls_skip_verify: yes please\n"
		"  max_response_size: [1]\n"
		"  namespace: [a, b]\n"
		"  retry: 5s\n"
		"auth: approle\n"
		"log:\n"
		"  level: [debug]\n"
		"  format: xml\n");
	assert_error_at(fx, 2, 12, "vault.address: expected a string or a list "
			"of strings, found a mapping");
	assert_error_at(fx, 3, 12, "vault.timeout: expected a duration such as "
			"30s or 5m, found a mapping");
	assert_error_at(fx, 4, 20, "vault.tls_skip_verify: 'yes please' is not "
			"a boolean");
	assert_error_at(fx, 5, 22, "vault.max_response_size: expected a whole "
			"number, found a list");
	assert_error_at(fx, 6, 14, "vault.namespace: expected a string, found "
			"a list");
	assert_error_at(fx, 7, 10, "vault.retry: expected a mapping, found a "
			"scalar");
	assert_error_at(fx, 8, 7, "auth: expected a mapping, found a scalar");
	assert_error_at(fx, 10, 10, "log.level: expected one of debug, info, "
			"warn, error, found a list");
	assert_error_at(fx, 11, 11, "log.format: 'xml' is not one of: text, "
			"json");
}

static void
test_out_of_range_values_report_bounds(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "range.yaml",
		"vault:\n"
		"  address: https://v:8200\n"
		"  max_response_size: 100\n"
		"  timeout: 0s\n"
		"  retry:\n"
		"    max_backoff: 2d\n"
		"auth:\n"
		"  method: token\n"
		"  token_file: /t\n"
		"  token_sink: {path: /s, mode: \"10000\"}\n");
	assert_error_at(fx, 3, 22, "vault.max_response_size: '100' is out of "
			"range: must be between 1024 and 268435456");
	assert_error_at(fx, 4, 12, "vault.timeout: '0s' is out of range: must "
			"be between 1ms and 1h");
	assert_error_at(fx, 6, 18, "vault.retry.max_backoff: '2d' is out of "
			"range: must be between 1ms and 1d");
	assert_error_at(fx, 10, 32, "auth.token_sink.mode: '10000' is above "
			"07777");
	assert_int_equal(count_lines(fx->err), 4);

	/* The bounds themselves are in range. */
	load_ok(fx, "edges.yaml",
		"vault:\n"
		"  address: https://v:8200\n"
		"  max_response_size: 268435456\n"
		"  timeout: 1h\n"
		"  retry: {min_backoff: 1ms, max_backoff: 1d}\n" GOOD_AUTH);
	assert_int_equal(fx->cfg->vault.max_response_bytes, 268435456);
	assert_int_equal(fx->cfg->vault.retry.max_ms, 86400000);
}

static void
test_address_list_must_hold_http_urls(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "addr.yaml",
		"vault:\n"
		"  address:\n"
		"    - vault.internal:8200\n"
		"    - https://\n"
		"    - [nested]\n"
		"    - HTTPS://ok.example\n"
		GOOD_AUTH);
	assert_error_at(fx, 3, 7, "vault.address[0]: 'vault.internal:8200' must "
			"start with http:// or https://");
	assert_error_at(fx, 4, 7, "vault.address[1]: 'https://' has no host");
	assert_error_at(fx, 5, 7, "vault.address[2]: expected a string, found "
			"a list");
	assert_int_equal(count_lines(fx->err), 3);

	load_fails(fx, "addr0.yaml", "vault:\n  address: []\n" GOOD_AUTH);
	assert_error_at(fx, 2, 12, "vault.address: has 0 items; expected 1 to "
			"16");
}

static void
test_duplicate_key_names_both_lines(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "dup.yaml",
		"vault:\n"
		"  address: https://a:8200\n"
		"  timeout: 10s\n"
		"  timeout: 20s\n"
		GOOD_AUTH
		"vault:\n"
		"  address: https://b:8200\n");
	assert_error_at(fx, 4, 3, "vault.timeout: duplicate key (first at line "
			"3)");
	assert_error_at(fx, 8, 1, "vault: duplicate key (first at line 1)");
	assert_int_equal(count_lines(fx->err), 2);
}

static void
test_malformed_yaml_reports_libyaml_problem_and_line(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "indent.yaml",
		"vault:\n"
		"  address: https://v:8200\n"
		"   timeout: 30s\n"
		GOOD_AUTH);
	assert_error_at(fx, 3, 11, "malformed YAML: mapping values are not "
			"allowed in this context");

	load_fails(fx, "flow.yaml",
		"vault:\n"
		"  address: [https://a:8200, https://b:8200\n"
		"auth: {method: token}\n");
	if (strstr(fx->err, "malformed YAML: did not find expected ',' or "
		   "']' (while parsing a flow sequence at line 2, column 12)")
	    == NULL)
		fail_msg("unexpected error: %s", fx->err);
	assert_int_equal(strncmp(fx->err, fx->path, strlen(fx->path)), 0);

	load_fails(fx, "tab.yaml", "vault:\n\taddress: x\n");
	assert_error_at(fx, 2, 1, "malformed YAML: found character that cannot "
			"start any token");

	/* Invalid UTF-8 is a reader error: placed by its byte offset. */
	load_fails(fx, "utf8.yaml", GOOD_VAULT "auth:\n  method: \xff\n");
	assert_error_at(fx, 4, 11, "malformed YAML: invalid leading UTF-8 "
			"octet");
}

static void
test_every_error_in_file_is_reported(void **state)
{
	struct fx *fx = *state;

	unsetenv("CT_UNSET");
	load_fails(fx, "many.yaml",
		"vault:\n"
		"  address: vault:8200\n"			/* 2 */
		"  timeout: forever\n"				/* 3 */
		"  tls_skip_verify: maybe\n"			/* 4 */
		"  ca_certs: /etc/ca.pem\n"			/* 5 */
		"  retry: {min_backoff: 10m, max_backoff: 1m}\n"	/* 6 */
		"auth:\n"
		"  method: kerberos\n"				/* 8 */
		"  token_file: ${CT_UNSET}\n"			/* 9 */
		"  token_file: /again\n"			/* 10 */
		"log:\n"
		"  level: loud\n");				/* 12 */
	assert_error_at(fx, 2, 12, "vault.address: 'vault:8200' must start "
			"with http:// or https://");
	assert_error_at(fx, 3, 12, "vault.timeout: 'forever' is not a "
			"duration");
	assert_error_at(fx, 4, 20, "vault.tls_skip_verify: 'maybe' is not a "
			"boolean");
	assert_error_at(fx, 5, 3, "vault.ca_certs: unknown key; did you mean "
			"'ca_cert'?");
	assert_error_at(fx, 8, 11, "auth.method: 'kerberos' is not one of: "
			"approle, cert, token");
	assert_error_at(fx, 9, 15, "auth.token_file: environment variable "
			"'CT_UNSET' is not set");
	assert_error_at(fx, 10, 3, "auth.token_file: duplicate key (first at "
			"line 9)");
	assert_error_at(fx, 12, 10, "log.level: 'loud' is not one of: debug, "
			"info, warn, error");
	assert_error_at(fx, 6, 11, "vault.retry.min_backoff: is greater than "
			"vault.retry.max_backoff (10m > 1m)");
	assert_int_equal(count_lines(fx->err), 9);
}

static void
test_approle_without_secret_id_file_is_error_at_method(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "approle.yaml", GOOD_VAULT
		"auth:\n"
		"  method: approle\n"
		"  role_id_file: /etc/certagent/role-id\n");
	assert_error_at(fx, 4, 3, "auth.secret_id_file: required when "
			"auth.method is 'approle'");
	assert_int_equal(count_lines(fx->err), 1);

	load_fails(fx, "token.yaml", GOOD_VAULT "auth:\n  method: token\n");
	assert_error_at(fx, 4, 3, "auth.token_file: required when auth.method "
			"is 'token'");
}

static void
test_cert_method_requires_client_cert_and_key(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "certauth.yaml", GOOD_VAULT
		"auth:\n"
		"  method: cert\n"
		"  name: web\n");
	assert_error_at(fx, 4, 3, "vault.client_cert: required when "
			"auth.method is 'cert'");
	assert_error_at(fx, 4, 3, "vault.client_key: required when auth.method "
			"is 'cert'");
	assert_int_equal(count_lines(fx->err), 2);
}

static void
test_client_cert_without_key_is_error(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "pair.yaml", GOOD_VAULT
		"  client_cert: /etc/certagent/id.crt\n" GOOD_AUTH);
	assert_error_at(fx, 3, 3, "vault.client_cert: set without "
			"vault.client_key");
	assert_int_equal(count_lines(fx->err), 1);

	load_fails(fx, "pair2.yaml", GOOD_VAULT
		"  client_key: /etc/certagent/id.key\n" GOOD_AUTH);
	assert_error_at(fx, 3, 3, "vault.client_key: set without "
			"vault.client_cert");
}

static void
test_min_backoff_above_max_backoff_is_error(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "backoff.yaml", GOOD_VAULT
		"  retry:\n"
		"    min_backoff: 5m\n"
		"    max_backoff: 1s\n" GOOD_AUTH);
	assert_error_at(fx, 4, 5, "vault.retry.min_backoff: is greater than "
			"vault.retry.max_backoff (5m > 1s)");

	/* Against the default max (5m), pointing at the key that was set. */
	load_fails(fx, "backoff2.yaml", GOOD_VAULT
		"  retry: {min_backoff: 10m}\n" GOOD_AUTH);
	assert_error_at(fx, 3, 11, "vault.retry.min_backoff: is greater than "
			"vault.retry.max_backoff (10m > 5m)");
	load_fails(fx, "backoff3.yaml", GOOD_VAULT
		"  retry: {max_backoff: 500ms}\n" GOOD_AUTH);
	assert_error_at(fx, 3, 11, "vault.retry.min_backoff: is greater than "
			"vault.retry.max_backoff (1s > 500ms)");

	/* Equal is fine. */
	load_ok(fx, "backoff4.yaml", GOOD_VAULT
		"  retry: {min_backoff: 2s, max_backoff: 2s}\n" GOOD_AUTH);
}

static void
test_missing_sections_and_empty_file_are_reported(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "empty.yaml", "");
	assert_error_at(fx, 1, 1, "vault: missing required section");
	assert_error_at(fx, 1, 1, "auth: missing required section");
	assert_int_equal(count_lines(fx->err), 2);

	load_fails(fx, "novault.yaml", "# comment\n" GOOD_AUTH "vault:\n");
	assert_error_at(fx, 5, 1, "vault.address: missing required key");

	load_fails(fx, "list.yaml", "- vault\n- auth\n");
	assert_error_at(fx, 1, 1, "expected a mapping of sections at the top "
			"level, found a list");

	load_fails(fx, "twodocs.yaml", GOOD_VAULT GOOD_AUTH "---\nvault: {}\n");
	assert_error_at(fx, 7, 1, "a second YAML document");
}

static void
test_unreadable_file_is_reported(void **state)
{
	struct fx *fx = *state;
	char path[256];
	int rc;

	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", fx->dir);
	rc = config_load(path, &fx->cfg, fx->err, sizeof(fx->err));
	assert_int_equal(rc, -ENOENT);
	assert_null(fx->cfg);
	assert_non_null(strstr(fx->err, "does-not-exist.yaml: cannot read: "));

	rc = config_load(fx->dir, &fx->cfg, fx->err, sizeof(fx->err));
	assert_int_equal(rc, -EISDIR);
}

static void
test_oversized_file_is_refused(void **state)
{
	struct fx *fx = *state;
	size_t n = CFG_MAX_FILE + 2;
	char *big = malloc(n);
	int rc;

	assert_non_null(big);
	memset(big, '#', n - 1);
	big[n - 1] = '\0';
	rc = load(fx, "big.yaml", big);
	free(big);
	assert_int_equal(rc, -EFBIG);
	assert_non_null(strstr(fx->err, "larger than"));
}

static void
test_small_error_buffer_keeps_whole_lines_and_counts_the_rest(void **state)
{
	struct fx *fx = *state;
	char err[150];
	int rc;

	write_yaml(fx, "trunc.yaml",
		"vault:\n"
		"  a: 1\n  b: 2\n  c: 3\n  d: 4\n  e: 5\n  f: 6\n");
	rc = config_load(fx->path, &fx->cfg, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	/* 6 unknown keys, vault.address and auth missing: 8 in all. */
	if (strstr(err, "more errors)") == NULL)
		fail_msg("no count of dropped errors in: %s", err);
	for (char *line = err; line; ) {
		char *nl = strchr(line, '\n');

		/* Every line is whole: a position prefix or the count. */
		if (strncmp(line, fx->path, strlen(fx->path)) != 0 &&
		    strncmp(line, "(and ", 5) != 0)
			fail_msg("partial line in: %s", err);
		line = nl ? nl + 1 : NULL;
	}
	assert_true(strlen(err) < sizeof(err));
}

static void
test_check_reload_accepts_vault_log_and_auth_changes(void **state)
{
	struct fx *fx = *state;
	struct config *a, *b;
	char err[512];

	load_ok(fx, "r1.yaml", GOOD_VAULT GOOD_AUTH "log: {level: info}\n");
	a = fx->cfg;
	fx->cfg = NULL;
	load_ok(fx, "r2.yaml",
		"vault:\n"
		"  address: [https://a:8200, https://b:8200]\n"
		"  timeout: 5s\n" GOOD_AUTH "log: {level: debug}\n");
	b = fx->cfg;
	assert_int_equal(config_check_reload(a, b, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	load_ok(fx, "r3.yaml", GOOD_VAULT
		"auth:\n"
		"  method: token\n"
		"  token_file: /run/other\n"
		"  token_sink: {path: /run/sink}\n");
	/* auth.c re-logs in on a changed auth: section (keeping the old
	 * token until then), so auth keys reload too. */
	assert_int_equal(config_check_reload(a, fx->cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	config_free(a);
}

/* ------------------------------------------------------------------ */
/*
 * The list and map section types, through a test-only schema shaped like
 * the certificates: and hooks: sections to come:
 *
 *   certificates:            a list of mappings
 *     - role: web
 *       files:               a map of named mappings
 *         cert: {path: ...}
 *   hooks:                   a map of named mappings
 */

struct t_file {
	char *name;
	char *path;
	unsigned mode;
};

struct t_cert {
	char *role;
	uint64_t ttl_ms;
	char **sans;
	size_t n_sans;
	struct t_file *files;
	size_t n_files;
};

struct t_hook {
	char *name;
	char *command;
	int enabled;
};

struct t_root {
	struct t_cert *certs;
	size_t n_certs;
	struct t_hook *hooks;
	size_t n_hooks;
};

static const struct cfg_entry t_file_entries[] = {
	{
		.key = "path",
		.type = CFG_PATH,
		.offset = CFG_OFF(struct t_file, path, char *),
		.flags = CFG_REQUIRED,
		.help = "where to write",
	},
	{
		.key = "mode",
		.type = CFG_MODE,
		.offset = CFG_OFF(struct t_file, mode, unsigned),
		.max = 0777,
		.def = "0644",
		.help = "file mode",
	},
};

static const struct cfg_section t_file_section = {
	.entries = t_file_entries,
	.n_entries = 2,
	.size = sizeof(struct t_file),
	.named = 1,
	.name_offset = offsetof(struct t_file, name),
};

static const struct cfg_entry t_cert_entries[] = {
	{
		.key = "role",
		.type = CFG_PATH,
		.offset = CFG_OFF(struct t_cert, role, char *),
		.flags = CFG_REQUIRED,
		.help = "PKI role",
	},
	{
		.key = "ttl",
		.type = CFG_DURATION,
		.offset = CFG_OFF(struct t_cert, ttl_ms, uint64_t),
		.min = MS_MIN,
		.max = 365 * MS_DAY,
		.def = "24h",
		.help = "lifetime",
	},
	{
		.key = "sans",
		.type = CFG_STRINGLIST,
		.offset = CFG_OFF(struct t_cert, sans, char **),
		.count_offset = CFG_OFF(struct t_cert, n_sans, size_t),
		.max = 4,
		.help = "subject alternative names",
	},
	{
		.key = "files",
		.type = CFG_MAP_OF_SECTION,
		.offset = CFG_OFF(struct t_cert, files, struct t_file *),
		.count_offset = CFG_OFF(struct t_cert, n_files, size_t),
		.section = &t_file_section,
		.help = "files to write",
	},
};

static const struct cfg_section t_cert_section = {
	.entries = t_cert_entries,
	.n_entries = 4,
	.size = sizeof(struct t_cert),
};

static const struct cfg_entry t_hook_entries[] = {
	{
		.key = "command",
		.type = CFG_STRING,
		.offset = CFG_OFF(struct t_hook, command, char *),
		.flags = CFG_REQUIRED,
		.help = "command to run",
	},
	{
		.key = "enabled",
		.type = CFG_BOOL,
		.offset = CFG_OFF(struct t_hook, enabled, int),
		.def = "true",
		.help = "run it",
	},
};

static const struct cfg_section t_hook_section = {
	.entries = t_hook_entries,
	.n_entries = 2,
	.size = sizeof(struct t_hook),
	.named = 1,
	.name_offset = offsetof(struct t_hook, name),
};

static const struct cfg_entry t_root_entries[] = {
	{
		.key = "certificates",
		.type = CFG_LIST_OF_SECTION,
		.offset = CFG_OFF(struct t_root, certs, struct t_cert *),
		.count_offset = CFG_OFF(struct t_root, n_certs, size_t),
		.section = &t_cert_section,
		.help = "certificates to keep current",
	},
	{
		.key = "hooks",
		.type = CFG_MAP_OF_SECTION,
		.offset = CFG_OFF(struct t_root, hooks, struct t_hook *),
		.count_offset = CFG_OFF(struct t_root, n_hooks, size_t),
		.section = &t_hook_section,
		.help = "reload actions",
	},
};

static const struct cfg_section t_root_section = {
	.entries = t_root_entries,
	.n_entries = 2,
};

static int
t_load(struct fx *fx, const char *name, const char *text, struct t_root *r)
{
	memset(r, 0, sizeof(*r));
	return cfg_load(&t_root_section, write_yaml(fx, name, text), r,
			fx->err, sizeof(fx->err));
}

static void
test_list_and_map_sections_parse_with_item_defaults(void **state)
{
	struct fx *fx = *state;
	struct t_root r;
	int rc;

	rc = t_load(fx, "lists.yaml",
		"certificates:\n"
		"  - role: web\n"
		"    sans: [a.example, b.example]\n"
		"    files:\n"
		"      cert: {path: /tls/cert.pem}\n"
		"      key: {path: /tls/key.pem, mode: \"0600\"}\n"
		"  - role: db\n"
		"    ttl: 1h\n"
		"hooks:\n"
		"  nginx: {command: nginx -s reload}\n"
		"  pg:\n"
		"    command: pg_ctl reload\n"
		"    enabled: false\n", &r);
	if (rc != 0)
		fail_msg("rc %d: %s", rc, fx->err);
	assert_int_equal(r.n_certs, 2);
	assert_string_equal(r.certs[0].role, "web");
	assert_int_equal(r.certs[0].ttl_ms, 24 * MS_HOUR);
	assert_int_equal(r.certs[0].n_sans, 2);
	assert_string_equal(r.certs[0].sans[1], "b.example");
	assert_int_equal(r.certs[0].n_files, 2);
	assert_string_equal(r.certs[0].files[0].name, "cert");
	assert_string_equal(r.certs[0].files[0].path, "/tls/cert.pem");
	assert_int_equal(r.certs[0].files[0].mode, 0644);
	assert_string_equal(r.certs[0].files[1].name, "key");
	assert_int_equal(r.certs[0].files[1].mode, 0600);
	assert_string_equal(r.certs[1].role, "db");
	assert_int_equal(r.certs[1].ttl_ms, MS_HOUR);
	assert_int_equal(r.certs[1].n_files, 0);
	assert_null(r.certs[1].files);
	assert_int_equal(r.n_hooks, 2);
	assert_string_equal(r.hooks[0].name, "nginx");
	assert_string_equal(r.hooks[0].command, "nginx -s reload");
	assert_int_equal(r.hooks[0].enabled, 1);
	assert_string_equal(r.hooks[1].name, "pg");
	assert_int_equal(r.hooks[1].enabled, 0);
	cfg_free_fields(&t_root_section, &r);
	assert_null(r.certs);
	assert_int_equal(r.n_hooks, 0);
}

static void
test_list_and_map_errors_carry_item_paths(void **state)
{
	struct fx *fx = *state;
	struct t_root r;
	int rc;

	rc = t_load(fx, "listerr.yaml",
		"certificates:\n"
		"  - role: web\n"
		"    files:\n"
		"      cert: {pathh: /x}\n"
		"      cert: {path: /y}\n"
		"  - {}\n"
		"  - just a string\n"
		"  - role: db\n"
		"    ttl: 30s\n"
		"hooks:\n"
		"  nginx: {command: a}\n"
		"  nginx: {command: b}\n"
		"  pg: [x]\n", &r);
	assert_int_equal(rc, -EINVAL);
	assert_error_at(fx, 4, 14, "certificates[0].files.cert.pathh: unknown "
			"key; did you mean 'path'?");
	assert_error_at(fx, 4, 7, "certificates[0].files.cert.path: missing "
			"required key");
	assert_error_at(fx, 5, 7, "certificates[0].files.cert: duplicate name "
			"(first at line 4)");
	assert_error_at(fx, 6, 5, "certificates[1].role: missing required key");
	assert_error_at(fx, 7, 5, "certificates[2]: expected a mapping, found a "
			"scalar");
	assert_error_at(fx, 9, 10, "certificates[3].ttl: '30s' is out of "
			"range: must be between 1m and 365d");
	assert_error_at(fx, 12, 3, "hooks.nginx: duplicate name (first at line "
			"11)");
	assert_error_at(fx, 13, 7, "hooks.pg: expected a mapping, found a list");
	assert_int_equal(count_lines(fx->err), 8);
	cfg_free_fields(&t_root_section, &r);
}

static void
test_alias_expansion_is_bounded(void **state)
{
	struct fx *fx = *state;
	struct t_root r;
	size_t cap = 64 * 1024, used = 0;
	char *yaml = malloc(cap);
	int rc;

	/* 400 aliases of one item that holds 400 files: 160k nodes. */
	assert_non_null(yaml);
	used += (size_t)snprintf(yaml + used, cap - used,
				 "certificates:\n  - &c\n    role: r\n"
				 "    files:\n");
	for (int i = 0; i < 400; i++)
		used += (size_t)snprintf(yaml + used, cap - used,
					 "      f%d: {path: /p}\n", i);
	for (int i = 0; i < 399; i++)
		used += (size_t)snprintf(yaml + used, cap - used, "  - *c\n");
	assert_true(used < cap);
	rc = t_load(fx, "bomb.yaml", yaml, &r);
	free(yaml);
	assert_int_equal(rc, -EINVAL);
	if (strstr(fx->err, "more than 100000 YAML nodes") == NULL)
		fail_msg("no node limit error: %s", fx->err);
	assert_int_equal(count_lines(fx->err), 1);
	cfg_free_fields(&t_root_section, &r);
}


/*
 * 100,000 nested flow lists (200 KB) took libyaml two minutes to scan, its
 * time quadratic in the depth; deeper than 64 levels is refused at once,
 * at the level that goes too deep.  64 levels are still read.
 */
static void
test_nesting_is_bounded(void **state)
{
	struct fx *fx = *state;
	size_t n = 100000, len = 7 + 2 * n + 2;
	char *yaml = malloc(len);

	assert_non_null(yaml);
	memcpy(yaml, "vault: ", 7);
	memset(yaml + 7, '[', n);
	memset(yaml + 7 + n, ']', n);
	memcpy(yaml + 7 + 2 * n, "\n", 2);
	load_fails(fx, "deep.yaml", yaml);
	assert_error_at(fx, 1, 7 + 64, "nested more than 64 levels deep");
	assert_int_equal(count_lines(fx->err), 1);

	/* The root mapping and 63 lists: deep enough, and not refused for it. */
	memset(yaml + 7, '[', 63);
	memset(yaml + 7 + 63, ']', 63);
	yaml[7 + 126] = '\0';
	load_fails(fx, "deep63.yaml", yaml);
	if (strstr(fx->err, "nested more than") != NULL)
		fail_msg("64 levels refused: %s", fx->err);
	free(yaml);
}

/* ------------------------------------------------------------------ */
/* Maps and lists: duplicate, non-string and null keys, null values   */

/*
 * One malformed entry of a map or a list, and the error it must give.
 * The kept configuration around it is valid, so the only errors are the
 * ones the entry causes; each input used to crash the loader, or would
 * have been read with a hole in it.
 */
struct bad_map_case {
	const char *name;
	const char *yaml;	/* appended after GOOD_VAULT */
	int line, col;
	const char *msg;
};

#define BAD_CERT_HEAD "certificates:\n- name: a\n  path: pki/issue/r\n" \
		  "  common_name: a.example\n"
#define BAD_CERT_FILES "  files:\n    cert: {path: /tmp/a.crt}\n" \
		   "    key: {path: /tmp/a.key}\n"

static const struct bad_map_case bad_maps[] = {
	/* certificates[].files: the crash of the issue, and its cousins */
	{ "files duplicate null", GOOD_AUTH BAD_CERT_HEAD
	  "  files:\n    bundle:\n    bundle:\n", 13, 5,
	  "certificates[0].files.bundle: duplicate name (first at line 12)" },
	{ "files duplicate", GOOD_AUTH BAD_CERT_HEAD BAD_CERT_FILES
	  "    cert: {path: /tmp/b.crt}\n", 14, 5,
	  "certificates[0].files.cert: duplicate name (first at line 12)" },
	{ "files list key", GOOD_AUTH BAD_CERT_HEAD BAD_CERT_FILES
	  "    [chain]: {path: /tmp/c.pem}\n", 14, 5,
	  "certificates[0].files: a name must be a string, found a list" },
	{ "files null key", GOOD_AUTH BAD_CERT_HEAD BAD_CERT_FILES
	  "    ~: {path: /tmp/c.pem}\n", 14, 5,
	  "certificates[0].files: a name must be a string, found null" },
	{ "files null value", GOOD_AUTH BAD_CERT_HEAD BAD_CERT_FILES
	  "    chain:\n", 14, 11,
	  "certificates[0].files.chain: expected a mapping, found null" },
	/* hooks: */
	{ "hooks duplicate", GOOD_AUTH
	  "hooks:\n  a: {signal: SIGHUP, pid_file: /run/a.pid}\n"
	  "  a: {signal: SIGHUP, pid_file: /run/b.pid}\n", 9, 3,
	  "hooks.a: duplicate name (first at line 8)" },
	{ "hooks mapping key", GOOD_AUTH
	  "hooks:\n  a: {signal: SIGHUP, pid_file: /run/a.pid}\n"
	  "  {b: 1}: {signal: SIGHUP, pid_file: /run/b.pid}\n", 9, 3,
	  "hooks: a name must be a string, found a mapping" },
	{ "hooks null key", GOOD_AUTH
	  "hooks:\n  a: {signal: SIGHUP, pid_file: /run/a.pid}\n"
	  "  null: {signal: SIGHUP, pid_file: /run/b.pid}\n", 9, 3,
	  "hooks: a name must be a string, found null" },
	{ "hooks null value", GOOD_AUTH
	  "hooks:\n  a: {signal: SIGHUP, pid_file: /run/a.pid}\n  b:\n", 9, 5,
	  "hooks.b: expected a mapping, found null" },
	/* templates: (a list of mappings) and the keys of one template */
	{ "templates null item", GOOD_AUTH
	  "templates:\n-\n- {contents: x, destination: /tmp/t}\n", 8, 2,
	  "templates[0]: expected a mapping, found null" },
	{ "templates scalar item", GOOD_AUTH
	  "templates:\n- just text\n- {contents: x, destination: /tmp/t}\n", 8, 3,
	  "templates[0]: expected a mapping, found a scalar" },
	{ "templates duplicate key", GOOD_AUTH
	  "templates:\n- contents: x\n  destination: /tmp/t\n"
	  "  destination: /tmp/u\n", 10, 3,
	  "templates[0].destination: duplicate key (first at line 9)" },
	{ "templates list key", GOOD_AUTH
	  "templates:\n- contents: x\n  destination: /tmp/t\n"
	  "  [mode]: \"0600\"\n", 10, 3,
	  "templates[0]: a key must be a string, found a list" },
	{ "templates null key", GOOD_AUTH
	  "templates:\n- contents: x\n  destination: /tmp/t\n  ~: 1\n", 10, 3,
	  "templates[0]: a key must be a string, found null" },
	/* certificates: items */
	{ "certificates null item", GOOD_AUTH
	  "certificates:\n- ~\n", 8, 3,
	  "certificates[0]: expected a mapping, found null" },
	/* auth: options */
	{ "auth duplicate key", "auth:\n  method: token\n  token_file: /run/t\n"
	  "  token_file: /run/u\n", 7, 3,
	  "auth.token_file: duplicate key (first at line 6)" },
	{ "auth mapping key", GOOD_AUTH "  {a: b}: c\n", 7, 3,
	  "auth: a key must be a string, found a mapping" },
	{ "auth null key", GOOD_AUTH "  ~: c\n", 7, 3,
	  "auth: a key must be a string, found null" },
	/* listener: */
	{ "listener duplicate key", GOOD_AUTH
	  "listener:\n  address: 127.0.0.1:8281\n  address: 127.0.0.1:8282\n",
	  9, 3, "listener.address: duplicate key (first at line 8)" },
	{ "listener list key", GOOD_AUTH
	  "listener:\n  address: 127.0.0.1:8281\n  [x]: 1\n", 9, 3,
	  "listener: a key must be a string, found a list" },
	{ "listener null key", GOOD_AUTH
	  "listener:\n  address: 127.0.0.1:8281\n  null: 1\n", 9, 3,
	  "listener: a key must be a string, found null" },
};

static void
test_bad_keys_and_null_values_in_every_map_are_errors_at_their_place(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(bad_maps) / sizeof(bad_maps[0]); i++) {
		const struct bad_map_case *bc = &bad_maps[i];
		char yaml[2048];

		snprintf(yaml, sizeof(yaml), GOOD_VAULT "  timeout: 10s\n%s",
			 bc->yaml);
		if (load(fx, "bad.yaml", yaml) != -EINVAL || fx->cfg != NULL)
			fail_msg("%s: loaded, want -EINVAL; errors:\n%s", bc->name,
				 fx->err);
		char want[1024];
		snprintf(want, sizeof(want), "%s:%d:%d: %s", fx->path, bc->line,
			 bc->col, bc->msg);
		if (strstr(fx->err, want) == NULL)
			fail_msg("%s:\n  want: %s\n  got:\n%s", bc->name, want,
				 fx->err);
	}
}

/*
 * A refused entry after enough kept ones that the loader's records grew
 * (were moved by realloc) while the map was read: the refusal must mark
 * the map's own record, wherever it is now (ASan saw a write to the old
 * array).
 */
static void
test_a_refused_entry_after_many_kept_ones_is_reported(void **state)
{
	struct fx *fx = *state;
	char yaml[16384];
	size_t used;

	used = (size_t)snprintf(yaml, sizeof(yaml), GOOD_VAULT GOOD_AUTH "hooks:\n");
	for (int i = 0; i < 40; i++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
					 "  h%d: {signal: SIGHUP, pid_file: /run/%d.pid}\n",
					 i, i);
	used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
				 "  h3: {signal: SIGHUP, pid_file: /run/x.pid}\n"
				 "templates:\n");
	for (int i = 0; i < 40; i++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
					 "- {contents: x, destination: /tmp/t%d}\n", i);
	snprintf(yaml + used, sizeof(yaml) - used, "- 5\n");
	load_fails(fx, "many.yaml", yaml);
	assert_error_at(fx, 47, 3, "hooks.h3: duplicate name (first at line 10)");
	assert_error_at(fx, 89, 3, "templates[40]: expected a mapping, found a scalar");
}

/* After a refused item, the kept items are named where they stand. */
static void
test_items_after_a_refused_one_keep_their_place_in_messages(void **state)
{
	struct fx *fx = *state;

	load_fails(fx, "shift.yaml", GOOD_VAULT GOOD_AUTH
		   "certificates:\n"
		   "- ~\n"
		   "- name: b\n  path: pki/issue/r\n  common_name: b.example\n"
		   BAD_CERT_FILES
		   "- name: b\n  path: pki/issue/r\n  common_name: b.example\n"
		   "  files:\n    cert: {path: /tmp/c.crt}\n"
		   "    key: {path: /tmp/c.key}\n");
	assert_error_at(fx, 7, 3, "certificates[0]: expected a mapping, found null");
	assert_error_at(fx, 14, 3, "certificates[2].name: 'b' is already the name "
			"of certificates[1]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_renewal_ratios_read_fractions_and_percentages_exactly),
		T(test_renewal_settings_that_contradict_are_refused_with_position),
		T(test_full_file_parses_to_expected_values),
		T(test_omitted_keys_take_table_defaults),
		T(test_mount_defaults_to_method_name),
		T(test_null_value_keeps_default_but_not_required),
		T(test_duration_accepts_units_combinations_and_bare_seconds),
		T(test_duration_rejects_malformed_negative_and_overflow),
		T(test_duration_errors_in_file_name_key_and_value),
		T(test_mode_accepts_octal_strings),
		T(test_mode_rejects_non_octal_and_above_07777),
		T(test_unquoted_yaml_integer_mode_is_rejected_with_hint),
		T(test_bool_accepts_yaml11_words_in_any_case),
		T(test_env_expansion_substitutes_defaults_and_escapes),
		T(test_env_expansion_rejects_missing_variable_and_bad_syntax),
		T(test_env_expansion_is_capped_at_the_value_limit),
		T(test_env_values_fill_every_scalar_type),
		T(test_missing_env_variable_names_variable_and_position),
		T(test_env_value_failing_validation_is_not_echoed),
		T(test_unknown_key_names_position_and_suggests_closest),
		T(test_unknown_key_in_wrong_section_names_its_section),
		T(test_wrong_types_are_reported_with_expected_type),
		T(test_out_of_range_values_report_bounds),
		T(test_address_list_must_hold_http_urls),
		T(test_duplicate_key_names_both_lines),
		T(test_malformed_yaml_reports_libyaml_problem_and_line),
		T(test_every_error_in_file_is_reported),
		T(test_approle_without_secret_id_file_is_error_at_method),
		T(test_cert_method_requires_client_cert_and_key),
		T(test_client_cert_without_key_is_error),
		T(test_min_backoff_above_max_backoff_is_error),
		T(test_missing_sections_and_empty_file_are_reported),
		T(test_unreadable_file_is_reported),
		T(test_oversized_file_is_refused),
		T(test_small_error_buffer_keeps_whole_lines_and_counts_the_rest),
		T(test_check_reload_accepts_vault_log_and_auth_changes),
		T(test_list_and_map_sections_parse_with_item_defaults),
		T(test_list_and_map_errors_carry_item_paths),
		T(test_alias_expansion_is_bounded),
		T(test_nesting_is_bounded),
		T(test_bad_keys_and_null_values_in_every_map_are_errors_at_their_place),
		T(test_items_after_a_refused_one_keep_their_place_in_messages),
		T(test_a_refused_entry_after_many_kept_ones_is_reported),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
