/*
 * Unit tests for the template engine (agent/tmpl/, through its API in
 * tmpl.h): Go text/template syntax and printing, every function,
 * consul-template's view of Vault data, errors with their positions (and
 * never a secret in them), one-pass dependency registration, and a
 * corpus of real-world Vault Agent templates under test/unit/tmpl_corpus/
 * (NAME.tpl, NAME.data.json, NAME.expected and, for writeToFile,
 * NAME.writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tmpl.h"

#define SENTINEL "S3NT1NEL"

/* Canned Vault envelopes: kv v1, kv v2, pki/issue, database creds. */
static const char canned[] =
	"{"
	"\"secret kv/app\": {\"request_id\": \"r-1\", \"lease_id\": \"\","
	"  \"lease_duration\": 2764800, \"renewable\": false,"
	"  \"data\": {\"user\": \"alice\", \"password\": \"hunter2\","
	"    \"port\": 5432, \"ratio\": 0.25, \"enabled\": true, \"empty\": \"\","
	"    \"nothing\": null, \"tags\": [\"a\", \"b\", \"c\"],"
	"    \"nested\": {\"z\": 1, \"a\": [1, 2], \"m\": {}},"
	"    \"small\": {\"b\": null, \"a\": \"x y\"}, \"tiny\": 0.00001,"
	"    \"servers\": [{\"host\": \"h1\"}]},"
	"  \"warnings\": null, \"auth\": null, \"wrap_info\": null},"
	"\"secret secret/data/app\": {\"request_id\": \"r-2\", \"lease_id\": \"\","
	"  \"lease_duration\": 0, \"renewable\": false,"
	"  \"data\": {\"data\": {\"password\": \"pw2\"},"
	"    \"metadata\": {\"version\": 4}}, \"warnings\": null},"
	"\"secret pki/issue/web common_name=web.example.com\": {"
	"  \"request_id\": \"r-3\", \"lease_id\": \"pki/issue/web/L1\","
	"  \"lease_duration\": 86399, \"renewable\": false,"
	"  \"data\": {\"certificate\": \"C\", \"private_key\": \"K\","
	"    \"issuing_ca\": \"I\", \"ca_chain\": [\"I\", \"R\"],"
	"    \"serial_number\": \"1a:2b\"}},"
	"\"pkiCert pki/issue/web common_name=web.example.com\": {"
	"  \"data\": {\"certificate\": \"C\", \"private_key\": \"K\","
	"    \"issuing_ca\": \"I\", \"ca_chain\": [\"I\", \"R\"]}},"
	"\"secret database/creds/ro\": {\"request_id\": \"req-db\","
	"  \"lease_id\": \"database/creds/ro/abc\", \"lease_duration\": 3600,"
	"  \"renewable\": true, \"data\": {\"username\": \"v-ro-user\","
	"    \"password\": \"A1a-x\"}, \"warnings\": [\"w1\"]},"
	"\"secret kv/sentinel\": {\"data\": {\"password\": \"" SENTINEL "\","
	"    \"list\": [\"" SENTINEL "\", {\"k\": \"" SENTINEL "\"}],"
	"    \"num\": 7}}"
	"}";

/* A data provider with canned answers that records what it is asked. */
struct fake {
	cJSON *answers;
	int pending;		/* answer TMPL_PENDING to every fetch */
	int write_rc;		/* what write_file returns */
	char calls[16][256];
	size_t ncalls;
	char writes[8192];
	size_t wlen;
};

static struct fake fk;

static int
fake_fetch(void *arg, const char *kind, const char *path,
	   const char *const *kv, size_t nkv, const cJSON **out, char *err,
	   size_t errlen)
{
	struct fake *f = arg;
	char key[256];
	size_t i, k;

	k = (size_t)snprintf(key, sizeof(key), "%s %s", kind, path);
	for (i = 0; i < nkv && k < sizeof(key); i++)
		k += (size_t)snprintf(key + k, sizeof(key) - k, " %s", kv[i]);
	if (f->ncalls < 16)
		snprintf(f->calls[f->ncalls++], sizeof(f->calls[0]), "%s", key);
	if (f->pending)
		return TMPL_PENDING;
	*out = cJSON_GetObjectItemCaseSensitive(f->answers, key);
	if (*out == NULL) {
		snprintf(err, errlen, "no canned answer");
		return -ENOENT;
	}
	return 0;
}

static int
fake_write(void *arg, const char *path, const char *owner, const char *group,
	   const char *perms, const char *content, size_t len, int append,
	   char *err, size_t errlen)
{
	struct fake *f = arg;
	int k;

	if (f->write_rc != 0) {
		snprintf(err, errlen, "%s: permission denied", path);
		return f->write_rc;
	}
	k = snprintf(f->writes + f->wlen, sizeof(f->writes) - f->wlen,
		     "== %s %s %s %s %s\n", path, owner, group, perms,
		     append ? "append" : "replace");
	assert_true(k > 0 && f->wlen + (size_t)k + len < sizeof(f->writes));
	f->wlen += (size_t)k;
	memcpy(f->writes + f->wlen, content, len);
	f->wlen += len;
	f->writes[f->wlen] = '\0';
	return 0;
}

static struct tmpl_env
env_default(void)
{
	struct tmpl_env e;

	memset(&e, 0, sizeof(e));
	e.arg = &fk;
	e.fetch = fake_fetch;
	e.write_file = fake_write;
	e.now = 1700000000;
	return e;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.answers = cJSON_Parse(canned);
	assert_non_null(fk.answers);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cJSON_Delete(fk.answers);
	fk.answers = NULL;
	return 0;
}

/* Parse and run SRC; return the rc, the output in *OUT (or NULL). */
static int
run_env(const char *src, const struct tmpl_env *env, char **out,
	size_t *outlen, char *err, size_t errlen)
{
	struct tmpl *t = NULL;
	int rc;

	*out = NULL;
	rc = tmpl_parse("t.tpl", src, NULL, NULL, &t, err, errlen);
	if (rc != 0)
		return rc;
	rc = tmpl_execute(t, env, out, outlen, err, errlen);
	tmpl_free(t);
	return rc;
}

/* SRC renders to exactly WANT with the default environment. */
static void
expect_env(const char *src, const struct tmpl_env *env, const char *want)
{
	char err[512], *out;
	size_t len;
	int rc = run_env(src, env, &out, &len, err, sizeof(err));

	if (rc != 0)
		print_error("template: %s\nerror: %s\n", src, err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void
expect(const char *src, const char *want)
{
	struct tmpl_env e = env_default();

	expect_env(src, &e, want);
}

/* Parsing SRC fails with exactly WANT. */
static void
expect_parse_err(const char *src, const char *want)
{
	struct tmpl *t = (struct tmpl *)&t;	/* must come back NULL */
	char err[512];

	assert_int_equal(tmpl_parse("t.tpl", src, NULL, NULL, &t, err,
				    sizeof(err)), -EINVAL);
	assert_null(t);
	assert_string_equal(err, want);
}

/* SRC parses, and running it fails with RC and exactly WANT. */
static void
expect_exec_err_env(const char *src, const struct tmpl_env *env, int rc,
		    const char *want)
{
	struct tmpl *t;
	char err[512], *out = (char *)&t;	/* must come back NULL */
	size_t len;

	assert_int_equal(tmpl_parse("t.tpl", src, NULL, NULL, &t, err,
				    sizeof(err)), 0);
	assert_int_equal(tmpl_execute(t, env, &out, &len, err, sizeof(err)), rc);
	assert_null(out);
	assert_string_equal(err, want);
	tmpl_free(t);
}

static void
expect_exec_err(const char *src, const char *want)
{
	struct tmpl_env e = env_default();

	expect_exec_err_env(src, &e, -EINVAL, want);
}

/* ------------------------------------------------------------------ */

static void
test_text_without_actions_is_copied(void **state)
{
	(void)state;
	expect("", "");
	expect("plain text\nwith } and { and {x}\n", "plain text\nwith } and { and {x}\n");
}

static void
test_trim_markers_eat_adjacent_white_space(void **state)
{
	(void)state;
	expect("a \n\t {{- 1 -}} \r\n b", "a1b");
	expect("a {{- 1 }} b", "a1 b");
	expect("a {{ 1 -}} \n b", "a 1b");
	/* Go's rule: without a space after the dash it is a number. */
	expect("{{-3}}", "-3");
	expect("{{ 3 }}{{- \"\" -}}  x", "3x");
}

static void
test_comments_are_dropped(void **state)
{
	(void)state;
	expect("a{{/* one\ntwo */}}b", "ab");
	expect("{{/* only */}}", "");
	expect("x \n{{- /* trimmed */ -}}\n y", "xy");
	expect("x {{/* keeps */}} y", "x  y");
}

static void
test_comment_errors_name_their_position(void **state)
{
	(void)state;
	expect_parse_err("a {{/* x */ }}", "t.tpl:1:12: comment ends before closing delimiter");
	expect_parse_err("ok\n{{/* open", "t.tpl:2:1: unclosed comment");
}

static void
test_if_else_if_chain_picks_the_first_true_branch(void **state)
{
	static const char *const tpl =
		"{{ if eq $x 1 }}one{{ else if eq $x 2 }}two"
		"{{ else if eq $x 3 }}three{{ else }}other{{ end }}";
	char src[256];
	int i;
	static const char *const want[] = {"one", "two", "three", "other"};

	(void)state;
	for (i = 1; i <= 4; i++) {
		snprintf(src, sizeof(src), "{{ $x := %d }}%s", i, tpl);
		expect(src, want[i - 1]);
	}
	expect("{{ if false }}no{{ end }}", "");
	expect("{{ if 1 }}{{ if 0 }}a{{ else }}b{{ end }}{{ end }}", "b");
}

static void
test_with_sets_dot_and_runs_else_when_empty(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ .Data.user }}{{ end }}", "alice");
	expect("{{ with \"\" }}x{{ else }}empty{{ end }}", "empty");
	expect("{{ with $v := \"hi\" }}{{ . }}-{{ $v }}{{ end }}", "hi-hi");
	expect("{{ with \"\" }}a{{ else with \"b\" }}{{ . }}{{ end }}", "b");
}

static void
test_range_over_a_list_binds_index_and_value(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}"
	       "{{ range $i, $v := .Data.tags }}{{ $i }}={{ $v }};{{ end }}|"
	       "{{ range .Data.tags }}{{ . }}{{ end }}|"
	       "{{ range $v := .Data.tags }}{{ $v }}{{ end }}{{ end }}",
	       "0=a;1=b;2=c;|abc|abc");
}

static void
test_range_over_a_map_visits_keys_in_sorted_order(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ range $k, $v := .Data.nested }}"
	       "{{ $k }}:{{ $v }} {{ end }}{{ end }}",
	       "a:[1 2] m:map[] z:1 ");
}

static void
test_range_else_runs_for_empty_and_missing_values(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}"
	       "{{ range .Data.nested.m }}x{{ else }}empty{{ end }} "
	       "{{ range .Data.nope }}x{{ else }}none{{ end }} "
	       "{{ range split \",\" \"\" }}x{{ else }}no-items{{ end }}{{ end }}",
	       "empty none no-items");
}

static void
test_range_over_a_string_is_an_error(void **state)
{
	(void)state;
	expect_exec_err("{{ range \"abc\" }}{{ end }}",
			"t.tpl:1:4: range can't iterate over string");
}

static void
test_variables_declare_assign_and_go_out_of_scope(void **state)
{
	(void)state;
	expect("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2");
	expect("{{ $x := 1 }}{{ if true }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x }}", "51");
	expect("{{ $x := \"a\" }}{{ range split \",\" \"1,2\" }}{{ $x = . }}{{ end }}{{ $x }}", "2");
	expect("{{ $ }}", "<no value>");
	expect_parse_err("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}",
			 "t.tpl:1:39: undefined variable \"$y\"");
	expect_parse_err("{{ range $i, $v := split \",\" \"a\" }}{{ end }}{{ $v }}",
			 "t.tpl:1:48: undefined variable \"$v\"");
}

static void
test_pipelines_pass_the_value_as_the_last_argument(void **state)
{
	(void)state;
	expect("{{ \"a,b,c\" | split \",\" | join \"-\" }}", "a-b-c");
	expect("{{ \"Hi\" | printf \"%s-%s\" \"x\" }}", "x-Hi");
}

static void
test_parenthesized_pipelines_and_field_chains(void **state)
{
	(void)state;
	expect("{{ (secret \"kv/app\").Data.user }}", "alice");
	expect("{{ $s := secret \"kv/app\" }}{{ $s.Data.nested.z }}", "1");
	expect("{{ printf \"%s:%v\" (toUpper \"a\") (\"b\" | toUpper) }}", "A:B");
}

static void
test_string_literals_decode_go_escapes(void **state)
{
	(void)state;
	expect("{{ \"t\\th\\n\\x41\\101\\u00e9\\U0001F600\\\\\\\"\" }}",
	       "t\th\nAA\xc3\xa9\xf0\x9f\x98\x80\\\"");
	expect("{{ `raw\\n \"x\"` }}", "raw\\n \"x\"");
	expect("{{ `a\r\nb` }}", "a\nb");
	expect_parse_err("{{ \"\\q\" }}", "t.tpl:1:5: invalid escape in quoted string");
}

static void
test_number_bool_and_nil_literals(void **state)
{
	(void)state;
	expect("{{ 42 }} {{ -7 }} {{ 1.5 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} "
	       "{{ 0b101 }} {{ 1_000 }} {{ 'a' }} {{ true }} {{ false }} {{ .5 }}",
	       "42 -7 1.5 31 15 15 5 1000 97 true false 0.5");
	expect("{{ print nil }}", "<nil>");
	expect_parse_err("{{ nil }}", "t.tpl:1:4: nil is not a command");
}

static void
test_go_printing_of_maps_lists_and_nil(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ .Data.nested }}|{{ .Data.tags }}|"
	       "{{ .Data.small }}|{{ .Data.nothing }}|{{ .Data.port }}|"
	       "{{ .Data.ratio }}|{{ .Data.enabled }}|{{ .Warnings }}{{ end }}",
	       "map[a:[1 2] m:map[] z:1]|[a b c]|map[a:x y b:<nil>]|<no value>|"
	       "5432|0.25|true|[]");
	/* Vault's numbers print as the JSON text Vault sent (json.Number). */
	expect("{{ with secret \"kv/app\" }}{{ .Data.tiny }} {{ .LeaseDuration }}{{ end }}",
	       "0.00001 2764800");
	/* A struct pointer: followed when printed, "&{...}" through fmt. */
	expect("{{ secret \"database/creds/ro\" }}",
	       "{req-db database/creds/ro/abc 3600 true map[password:A1a-x "
	       "username:v-ro-user] [w1] <nil> <nil>}");
	expect("{{ print (secret \"database/creds/ro\") }}",
	       "&{req-db database/creds/ro/abc 3600 true map[password:A1a-x "
	       "username:v-ro-user] [w1] <nil> <nil>}");
}

static void
test_missing_key_prints_no_value(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ .Data.nope }}|{{ .Data.nope.deeper }}"
	       "|{{ .Data.nothing }}{{ end }}",
	       "<no value>|<no value>|<no value>");
}

static void
test_missing_key_is_an_error_with_error_on_missing_key(void **state)
{
	struct tmpl_env e = env_default();

	(void)state;
	e.error_on_missing_key = 1;
	expect_exec_err_env("{{ with secret \"kv/app\" }}\n  {{ .Data.nope }}{{ end }}",
			    &e, -EINVAL,
			    "t.tpl:2:11: map has no entry for key \"nope\"");
	/* A key that is there with a null value is not missing... */
	expect_env("{{ with secret \"kv/app\" }}{{ .Data.nothing }}{{ end }}", &e,
		   "<no value>");
	/* ...but looking inside it is. */
	expect_exec_err_env("{{ with secret \"kv/app\" }}{{ .Data.nothing.x }}{{ end }}",
			    &e, -EINVAL,
			    "t.tpl:1:43: nil data; no entry for key \"x\"");
}

static void
test_truthiness_follows_go(void **state)
{
	static const char *const falsy[] = {
		"false", "0", "\"\"", ".Data.empty", ".Data.nested.m",
		"(split \",\" \"\")", ".Data.nope", "0.0", ".Data.nothing",
	};
	static const char *const truthy[] = {
		"true", "1", "\"x\"", ".Data.tags", ".Data.nested", "-1", "0.5",
		".", "\" \"",
	};
	char src[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
		snprintf(src, sizeof(src), "{{ with secret \"kv/app\" }}{{ if %s }}T"
			 "{{ else }}F{{ end }}{{ end }}", falsy[i]);
		expect(src, "F");
	}
	for (i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
		snprintf(src, sizeof(src), "{{ with secret \"kv/app\" }}{{ if %s }}T"
			 "{{ else }}F{{ end }}{{ end }}", truthy[i]);
		expect(src, "T");
	}
}

static void
test_custom_delimiters(void **state)
{
	struct tmpl_env e = env_default();
	struct tmpl *t;
	char err[256], *out;
	size_t len;

	(void)state;
	assert_int_equal(tmpl_parse("t.tpl", "{{ not an action }} [[ \"hi\" ]] [[- \" x\" -]] !",
				    "[[", "]]", &t, err, sizeof(err)), 0);
	assert_int_equal(tmpl_execute(t, &e, &out, &len, err, sizeof(err)), 0);
	assert_string_equal(out, "{{ not an action }} hi x!");
	free(out);
	tmpl_free(t);
	assert_int_equal(tmpl_parse("t.tpl", "<%/* c */%><% 1 %>\n<% if",
				    "<%", "%>", &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.tpl:2:1: unclosed action");
}

static void
test_and_or_return_the_deciding_argument(void **state)
{
	(void)state;
	expect("{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" \"z\" }}|{{ or 0 \"\" }}",
	       "0|2|z|");
	/* They stop at the deciding argument: the bad index never runs. */
	expect("{{ with secret \"kv/app\" }}{{ or \"a\" (index .Data.tags 99) }}"
	       "{{ and \"\" (index .Data.tags 99) }}{{ end }}", "a");
	expect("{{ or (env \"CERTAGENT_TMPL_UNSET_VAR\") \"default\" }}", "default");
}

static void
test_not_and_comparisons(void **state)
{
	(void)state;
	expect("{{ not 0 }} {{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} "
	       "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1 2 }} "
	       "{{ eq nil \"x\" }} {{ lt \"ab\" \"b\" }}",
	       "true true true true true true true false false true");
	expect_exec_err("{{ eq 1 \"1\" }}",
			"t.tpl:1:4: eq: incompatible types for comparison");
	expect_exec_err("{{ lt true false }}",
			"t.tpl:1:4: lt: invalid type for comparison");
}

static void
test_printf_verbs(void **state)
{
	(void)state;
	expect("{{ printf \"%s|%d|%v|%q|%x|%X|%f|%t|%%\" \"str\" 42 1.5 \"q\\\"\" \"hi\" 255 3.14159 true }}",
	       "str|42|1.5|\"q\\\"\"|6869|FF|3.141590|true|%");
	expect("{{ printf \"[%5s][%-5s][%05d][%+d][%8.3f][%.2s][%x][%5.1f]\" \"ab\" \"ab\" 42 7 3.14159 \"abc\" -255 -2.25 }}",
	       "[   ab][ab   ][00042][+7][   3.142][ab][-ff][ -2.2]");
	expect("{{ printf \"%e %g %g %g %G\" 1234.5678 1234567.0 0.0001 100000 1e-7 }}",
	       "1.234568e+03 1.234567e+06 0.0001 100000 1E-07");
	expect("{{ printf \"%c%o %b %#x %v\" 9786 8 5 255 -0.5 }}",
	       "\xe2\x98\xba" "10 101 0xff -0.5");
	expect("{{ with secret \"kv/app\" }}{{ printf \"%v %v %d\" .Data.tags .Data.small .Data.port }}{{ end }}",
	       "[a b c] map[a:x y b:<nil>] 5432");
	expect("{{ printf \"%5t|%-6v|%q\" true \"é\" \"a\\tb\" }}", " true|é     |\"a\\tb\"");
}

static void
test_printf_reports_bad_verbs_and_arguments_as_go_does(void **state)
{
	(void)state;
	expect("{{ printf \"%d %z %s\" \"x\" 1 }}", "%!d(string=x) %!z(int=1) %!s(MISSING)");
	expect("{{ printf \"%s\" \"a\" \"b\" 3 }}", "a%!(EXTRA string=b, int=3)");
	expect("{{ printf \"%[2]s %[1]s\" \"a\" \"b\" }}", "b a");
	expect("{{ printf \"%v %s\" nil nil }}", "<nil> %!s(<nil>)");
	expect("{{ printf \"%\" }}", "%!(NOVERB)");
	expect("{{ printf \"%*d|%.*f\" 5 3 2 3.14159 }}", "    3|3.14");
}

static void
test_print_and_println(void **state)
{
	(void)state;
	expect("{{ print \"a\" 1 2 \"b\" nil true }}", "a1 2b<nil> true");
	expect("{{ println \"a\" 1 }}", "a 1\n");
	expect("{{ print }}", "");
}

static void
test_split_join_replaceAll_trimSpace(void **state)
{
	(void)state;
	expect("{{ split \",\" \" a,b,,c \\n\" }}", "[a b  c]");
	expect("{{ split \",\" \"a,\" }}", "[a ]");
	expect("{{ split \",\" \"\" | len }}", "0");
	expect("{{ split \"\" \"h\xc3\xa9j\" }}", "[h \xc3\xa9 j]");
	expect("{{ join \", \" (split \":\" \"x:y\") }}", "x, y");
	expect("{{ replaceAll \".\" \"_\" \"a.b.c\" }}", "a_b_c");
	expect("{{ \"a.b\" | replaceAll \".\" \"\" }}", "ab");
	expect("{{ replaceAll \"\" \"-\" \"ab\" }}", "-a-b-");
	expect("{{ trimSpace \"\\t x y \\n\" }}|{{ trimSpace \"  \" }}|", "x y||");
	expect_exec_err("{{ join \",\" \"notalist\" }}",
			"t.tpl:1:4: join: argument 2 must be a list, not string");
	expect_exec_err("{{ with secret \"kv/app\" }}{{ join \",\" .Data.servers }}{{ end }}",
			"t.tpl:1:30: join: element 1 is a map, not a string");
}

static void
test_contains_takes_the_needle_first_like_consul_template(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ contains \"b\" .Data.tags }} "
	       "{{ .Data.tags | contains \"z\" }} {{ contains \"ell\" \"hello\" }} "
	       "{{ contains \"user\" .Data }} {{ contains 1 .Data.nested.a }}{{ end }}",
	       "true false true false true");
}

static void
test_toLower_toUpper(void **state)
{
	(void)state;
	expect("{{ toUpper \"MiXed-1\" }} {{ \"MiXed\" | toLower }}", "MIXED-1 mixed");
	expect_exec_err("{{ with secret \"kv/app\" }}{{ toUpper .Data.nested }}{{ end }}",
			"t.tpl:1:30: toUpper: argument 1 must be a string, not map");
}

static void
test_index_reaches_into_maps_lists_and_strings(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ index .Data \"user\" }} "
	       "{{ index .Data.tags 1 }} {{ index .Data \"nested\" \"a\" 0 }} "
	       "{{ index .Data \"nope\" }} {{ index \"abc\" 0 }}{{ end }}",
	       "alice b 1 <no value> 97");
}

static void
test_index_out_of_range_is_an_error_at_its_position(void **state)
{
	(void)state;
	expect_exec_err("{{ with secret \"kv/app\" }}{{ index .Data.tags 3 }}{{ end }}",
			"t.tpl:1:30: index: index out of range: 3");
	expect_exec_err("{{ index nil 0 }}", "t.tpl:1:4: index: index of untyped nil");
}

static void
test_len_of_strings_lists_and_maps(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ len \"h\xc3\xa9llo\" }} {{ len .Data.tags }} "
	       "{{ len .Data.nested }}{{ end }}", "6 3 3");
	expect_exec_err("{{ with secret \"kv/app\" }}{{ len .Data.nope }}{{ end }}",
			"t.tpl:1:30: len: len of nil");
}

static void
test_base64_encodes_and_decodes(void **state)
{
	(void)state;
	expect("{{ base64Encode \"hello\" }} {{ base64Decode \"aGVsbG8=\" }} "
	       "{{ \"h\xc3\xa9llo!\" | base64Encode | base64Decode }} "
	       "{{ base64Encode \"\" }}|{{ base64Encode \"a\" }} {{ base64Encode \"ab\" }} "
	       "{{ base64Decode \"aGVs\\nbG8=\" }}",
	       "aGVsbG8= hello h\xc3\xa9llo! |YQ== YWI= hello");
}

static void
test_base64Decode_output_may_hold_nul_bytes(void **state)
{
	struct tmpl_env e = env_default();
	char err[256], *out;
	size_t len;

	(void)state;
	assert_int_equal(run_env("<{{ base64Decode \"AGEA\" }}>", &e, &out, &len,
				 err, sizeof(err)), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "<\0a\0>", 5);
	free(out);
}

static void
test_base64Decode_of_invalid_input_is_an_error(void **state)
{
	(void)state;
	expect_exec_err("{{ base64Decode \"aGVsbG8\" }}",
			"t.tpl:1:4: base64Decode: illegal base64 data at input byte 4");
	expect_exec_err("x\n{{ \"aGV$bG8=\" | base64Decode }}",
			"t.tpl:2:17: base64Decode: illegal base64 data at input byte 3");
	expect_exec_err("{{ base64Decode \"aGVsbG8=x\" }}",
			"t.tpl:1:4: base64Decode: illegal base64 data at input byte 8");
}

/*
 * Go's base64.StdEncoding where OpenSSL's decoder differs: padding is
 * required and counted, newlines are skipped anywhere (even between the
 * two "="), other white space and "-" are errors wherever they are, and
 * non-zero bits under the padding are ignored (Go's non-strict mode).
 */
static void
test_base64Decode_follows_go_on_padding_and_newlines(void **state)
{
	(void)state;
	expect("{{ base64Decode \"aGVsbA==\" }}|{{ base64Decode \"aGVsbA=\\n=\" }}|"
	       "{{ base64Decode \"\\naGVs\\r\\nbG8=\\r\\n\" }}|{{ base64Decode \"\" }}|"
	       "{{ base64Decode \"\\n\\r\\n\" }}|{{ base64Decode \"aGVsbB==\" }}|"
	       "{{ base64Decode \"aGVsbG8K\" | len }}",
	       "hell|hell|hello|||hell|6");
}

static void
test_base64Decode_errors_name_the_offset_go_names(void **state)
{
	static const struct {
		const char *in;		/* a template string literal */
		int at;
	} cases[] = {
		{"aGVs=G8=", 4},	/* "=" starting a quantum */
		{"aGVsb=8=", 5},	/* "=" second in a quantum */
		{"aG=s", 2},		/* one "=" where two are due */
		{"aGVsbA=", 7},		/* ... and the input ends */
		{"aGVsbA=\\n", 8},	/* ... after a newline */
		{"aGVsbA", 4},		/* no padding at all */
		{"a", 0},
		{"====", 0},
		{"aGVsbA==aGVs", 8},	/* data after the padding */
		{"aGVsbA==\\n=", 9},
		{" aGVs", 0},		/* OpenSSL would skip white space */
		{"aGVs ", 4},
		{"aGVs\\tbG8=", 4},
		{"aGVs-", 4},		/* OpenSSL's end-of-data marker */
		{"aGV_", 3},		/* the URL alphabet is not Std */
		{"aG\\x00s", 2},
		{"aGVs\\xffbG8=", 4},
	};
	char src[128], want[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(src, sizeof(src), "{{ base64Decode \"%s\" }}", cases[i].in);
		snprintf(want, sizeof(want), "t.tpl:1:4: base64Decode: illegal "
			 "base64 data at input byte %d", cases[i].at);
		expect_exec_err(src, want);
	}
}

/* OpenSSL is called on chunks of whole quanta; nothing shows at the seams. */
static void
test_base64_round_trips_strings_longer_than_a_chunk(void **state)
{
	(void)state;
	expect("{{ $s := printf \"%03071d|%03072d|%03073d|%06145d\" 1 2 3 4 }}"
	       "{{ eq ($s | base64Encode | base64Decode) $s }} "
	       "{{ eq (base64Encode $s | replaceAll \"A\" \"A\\r\\n\" | base64Decode) $s }} "
	       "{{ printf \"%03072d\" 0 | base64Encode | len }} "
	       "{{ printf \"%04000d\" 5 | base64Encode | sha256Hex }}",
	       "true true 4096 "
	       "a2ff97c3a11cc36cad622797c63280f15fd4f206d76c1324e45c153214052e38");
}

static void
test_sha256Hex(void **state)
{
	(void)state;
	expect("{{ sha256Hex \"abc\" }}",
	       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_toJSON_sorts_keys_and_escapes_html_like_go(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ toJSON .Data.nested }} "
	       "{{ toJSON \"<a&b>\\n\" }} {{ .Data.ratio | toJSON }}{{ end }}",
	       "{\"a\":[1,2],\"m\":{},\"z\":1} \"\\u003ca\\u0026b\\u003e\\n\" 0.25");
	expect("{{ with secret \"kv/app\" }}{{ toJSONPretty .Data.nested }}{{ end }}",
	       "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"m\": {},\n  \"z\": 1\n}");
	/* The secret itself marshals as consul-template's struct. */
	expect("{{ secret \"database/creds/ro\" | toJSON }}",
	       "{\"RequestID\":\"req-db\",\"LeaseID\":\"database/creds/ro/abc\","
	       "\"LeaseDuration\":3600,\"Renewable\":true,\"Data\":{\"password\":"
	       "\"A1a-x\",\"username\":\"v-ro-user\"},\"Warnings\":[\"w1\"],"
	       "\"Auth\":null,\"WrapInfo\":null}");
}

static void
test_timestamp_formats_now_with_go_layouts(void **state)
{
	(void)state;
	expect("{{ timestamp }}|{{ timestamp \"2006-01-02 15:04:05\" }}|{{ timestamp \"unix\" }}",
	       "2023-11-14T22:13:20Z|2023-11-14 22:13:20|1700000000");
	expect("{{ timestamp \"Jan _2 03:04PM Monday .000 .999 MST -07:00 Z07:00 002 06 1/2\" }}",
	       "Nov 14 10:13PM Tuesday .000  UTC +00:00 Z 318 23 11/14");
}

static void
test_env_reads_the_process_environment(void **state)
{
	(void)state;
	assert_int_equal(setenv("CERTAGENT_TMPL_TEST", "v1", 1), 0);
	expect("{{ env \"CERTAGENT_TMPL_TEST\" }}|{{ env \"CERTAGENT_TMPL_UNSET_VAR\" }}", "v1|");
	unsetenv("CERTAGENT_TMPL_TEST");
}

static void
test_file_reads_local_files_and_caps_their_size(void **state)
{
	char path[64], src[160], want[160];
	FILE *f;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/certagent-tmpl-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	snprintf(src, sizeof(src), "[{{ file \"%s\" }}]", path);
	expect(src, "[hello\n]");
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i <= 1024 * 1024; i++)
		fputc('x', f);
	fclose(f);
	snprintf(src, sizeof(src), "{{ file \"%s\" }}", path);
	snprintf(want, sizeof(want), "t.tpl:1:4: file: %s: larger than 1048576 bytes", path);
	expect_exec_err(src, want);
	unlink(path);
	expect_exec_err("{{ file \"/nonexistent/certagent\" }}",
			"t.tpl:1:4: file: /nonexistent/certagent: No such file or directory");
}

static void
test_writeToFile_hands_content_and_flags_to_the_provider(void **state)
{
	struct tmpl_env e = env_default();

	(void)state;
	expect("[{{ \"data\" | writeToFile \"/p/x\" \"u\" \"g\" \"0600\" }}"
	       "{{ \"more\" | writeToFile \"/p/x\" \"\" \"\" \"644\" \"append,newline\" }}]", "[]");
	assert_string_equal(fk.writes, "== /p/x u g 0600 replace\ndata"
				       "== /p/x   644 append\nmore\n");
	expect_exec_err("{{ \"c\" | writeToFile \"/p/x\" \"\" \"\" \"0999\" }}",
			"t.tpl:1:10: writeToFile: permissions must be an octal mode like 0644");
	e.write_file = NULL;
	expect_exec_err_env("{{ writeToFile \"/p\" \"\" \"\" \"0600\" \"c\" }}", &e, -EINVAL,
			    "t.tpl:1:4: writeToFile: not available (no file writer)");
	fk.write_rc = -EACCES;
	e = env_default();
	expect_exec_err_env("{{ writeToFile \"/p\" \"\" \"\" \"0600\" \"c\" }}", &e, -EACCES,
			    "t.tpl:1:4: writeToFile: /p: permission denied");
}

static void
test_writeToFile_never_writes_pending_data(void **state)
{
	struct tmpl_env e = env_default();
	char err[256], *out;
	size_t len;

	(void)state;
	fk.pending = 1;
	assert_int_equal(run_env("{{ with secret \"kv/app\" }}{{ .Data.user | writeToFile \"/p/a\" \"\" \"\" \"0600\" }}{{ end }}"
				 "{{ (secret \"kv/app\").Data.user | writeToFile \"/p/b\" \"\" \"\" \"0600\" }}"
				 "{{ writeToFile \"/p/c\" \"\" \"\" \"0600\" (secret \"kv/app\").Data.user }}",
				 &e, &out, &len, err, sizeof(err)), TMPL_PENDING);
	assert_null(out);
	assert_int_equal(fk.wlen, 0);
}

static void
test_html_js_urlquery_escape_like_go(void **state)
{
	(void)state;
	expect("{{ html \"<a href='x'>&\\\"\" }}|{{ js \"it's <b>=\" }}|"
	       "{{ urlquery \"a b&c/\xc3\xa9\" }}|{{ html .nope }}",
	       "&lt;a href=&#39;x&#39;&gt;&amp;&#34;|it\\'s \\u003Cb\\u003E\\u003D|"
	       "a+b%26c%2F%C3%A9|&lt;no value&gt;");
}

static void
test_secret_fields_map_to_the_vault_envelope(void **state)
{
	(void)state;
	expect("{{ with secret \"database/creds/ro\" }}{{ .LeaseID }}|{{ .LeaseDuration }}|"
	       "{{ .Renewable }}|{{ .RequestID }}|{{ .Warnings }}|{{ .Data.username }}|"
	       "{{ .Auth }}{{ end }}",
	       "database/creds/ro/abc|3600|true|req-db|[w1]|v-ro-user|<no value>");
	expect_exec_err("{{ with secret \"kv/app\" }}{{ .data }}{{ end }}",
			"t.tpl:1:30: can't evaluate field data in type *dependency.Secret");
}

static void
test_kv_v2_data_is_under_Data_data(void **state)
{
	(void)state;
	expect("{{ with secret \"secret/data/app\" }}{{ .Data.data.password }} "
	       "v{{ .Data.metadata.version }}{{ end }}", "pw2 v4");
}

static void
test_pkiCert_exposes_Cert_Key_CA_and_CAChain(void **state)
{
	(void)state;
	expect("{{ with pkiCert \"pki/issue/web\" \"common_name=web.example.com\" }}"
	       "{{ .Cert }}{{ .Data.Key }}{{ .CA }}{{ range .Data.CAChain }}{{ . }}{{ end }}"
	       "{{ end }}", "C\nK\nI\nI\nR\n");
	expect("{{ with secret \"pki/issue/web\" \"common_name=web.example.com\" }}"
	       "{{ .Data.certificate }}|{{ .Data.private_key }}|{{ .Data.issuing_ca }}|"
	       "{{ range .Data.ca_chain }}{{ . }}{{ end }}{{ end }}", "C|K|I|IR");
}

static void
test_secret_key_value_arguments_are_normalized(void **state)
{
	(void)state;
	expect("{{ with secret \"pki/issue/web\" \" common_name = web.example.com \" \"\" }}"
	       "{{ .Data.serial_number }}{{ end }}", "1a:2b");
	assert_int_equal(fk.ncalls, 1);
	assert_string_equal(fk.calls[0], "secret pki/issue/web common_name=web.example.com");
	expect_exec_err("{{ secret \"p\" \"novalue\" }}",
			"t.tpl:1:4: secret: argument 2 is not a key=value pair");
}

static void
test_one_pass_registers_every_pending_dependency(void **state)
{
	struct tmpl_env e = env_default();
	char err[256], *out = (char *)&e;
	size_t len;

	(void)state;
	fk.pending = 1;
	assert_int_equal(run_env("{{ with secret \"kv/a\" }}{{ .Data.x }}{{ end }}\n"
				 "{{ range (secret \"kv/b\").Data.list }}{{ . }}{{ end }}\n"
				 "{{ (secret \"kv/c\" \"k=v\").Data.y | toUpper | base64Encode }}\n"
				 "{{ if (secret \"kv/b\") }}{{ else }}{{ pkiCert \"pki/x\" }}{{ end }}\n",
				 &e, &out, &len, err, sizeof(err)), TMPL_PENDING);
	assert_null(out);
	assert_int_equal(fk.ncalls, 4);
	assert_string_equal(fk.calls[0], "secret kv/a");
	assert_string_equal(fk.calls[1], "secret kv/b");
	assert_string_equal(fk.calls[2], "secret kv/c k=v");
	assert_string_equal(fk.calls[3], "pkiCert pki/x");
}

static void
test_pending_data_renders_on_the_next_pass(void **state)
{
	struct tmpl_env e = env_default();
	struct tmpl *t;
	char err[256], *out;
	size_t len;

	(void)state;
	assert_int_equal(tmpl_parse("t.tpl", "{{ with secret \"kv/app\" }}{{ .Data.user }}{{ end }}",
				    NULL, NULL, &t, err, sizeof(err)), 0);
	fk.pending = 1;
	assert_int_equal(tmpl_execute(t, &e, &out, &len, err, sizeof(err)), TMPL_PENDING);
	fk.pending = 0;
	assert_int_equal(tmpl_execute(t, &e, &out, &len, err, sizeof(err)), 0);
	assert_string_equal(out, "alice");
	free(out);
	tmpl_free(t);
	assert_int_equal(fk.ncalls, 2);
}

static void
test_identical_calls_share_one_fetch(void **state)
{
	struct tmpl_env e = env_default();
	char err[256], *out;
	size_t len;

	(void)state;
	expect("{{ (secret \"kv/app\").Data.user }}{{ with secret \"kv/app\" }}{{ .Data.user }}{{ end }}"
	       "{{ (secret \"pki/issue/web\" \"common_name=web.example.com\").Data.serial_number }}="
	       "{{ (secret \"pki/issue/web\" \"common_name = web.example.com\").Data.serial_number }}",
	       "alicealice1a:2b=1a:2b");
	assert_int_equal(fk.ncalls, 2);
	assert_string_equal(fk.calls[0], "secret kv/app");
	assert_string_equal(fk.calls[1], "secret pki/issue/web common_name=web.example.com");
	/* The same while pending; a different kind is another call. */
	fk.ncalls = 0;
	fk.pending = 1;
	assert_int_equal(run_env("{{ secret \"kv/app\" }}{{ secret \"kv/app\" }}{{ pkiCert \"kv/app\" }}",
				 &e, &out, &len, err, sizeof(err)), TMPL_PENDING);
	assert_int_equal(fk.ncalls, 2);
	assert_string_equal(fk.calls[0], "secret kv/app");
	assert_string_equal(fk.calls[1], "pkiCert kv/app");
}

static void
test_fetch_errors_are_reported_at_the_call(void **state)
{
	struct tmpl_env e = env_default();

	(void)state;
	expect_exec_err_env("x\n   {{ secret \"kv/none\" }}", &e, -ENOENT,
			    "t.tpl:2:7: secret: no canned answer");
}

static void
test_functions_without_a_provider_are_not_available(void **state)
{
	struct tmpl_env e = env_default();

	(void)state;
	e.fetch = NULL;
	expect_exec_err_env("{{ secret \"kv/app\" }}", &e, -EINVAL,
			    "t.tpl:1:4: secret: not available (no data provider)");
	expect_exec_err_env("{{ pkiCert \"kv/app\" }}", NULL, -EINVAL,
			    "t.tpl:1:4: pkiCert: not available (no data provider)");
}

static void
test_unknown_function_is_a_parse_error_naming_it(void **state)
{
	struct tmpl *t;
	char err[256];

	(void)state;
	assert_int_equal(tmpl_parse("x.tpl", "ok\n {{ sekret \"a\" }}", NULL, NULL,
				    &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x.tpl:2:5: function \"sekret\" not defined");
}

static void
test_parse_errors_name_line_column_and_what_was_expected(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"a\n\n  {{ if }}", "t.tpl:3:9: unexpected \"}}\" in if: expected a pipeline"},
		{"l1\nl2\nl3\n{{range .x}}\n{{.y}}\nl6\n",
		 "t.tpl:7:1: unexpected EOF: missing {{end}} for {{range}} at 4:3"},
		{"{{ if 1 }}{{ else }}{{ else }}{{ end }}",
		 "t.tpl:1:24: unexpected {{else}}: {{if}} at 1:4 already has one"},
		{"{{ end }}", "t.tpl:1:4: unexpected {{end}}"},
		{"{{ else }}", "t.tpl:1:4: unexpected {{else}}"},
		{"{{ end x }}", "t.tpl:1:8: unexpected \"x\" in end"},
		{"ab {{ .x", "t.tpl:1:4: unclosed action"},
		{"{{ }}", "t.tpl:1:4: empty action"},
		{"{{ \"abc }}", "t.tpl:1:4: unterminated quoted string"},
		{"{{ `abc }}", "t.tpl:1:4: unterminated raw quoted string"},
		{"{{ 12ab }}", "t.tpl:1:4: bad number syntax: 12ab"},
		{"{{ (print 1 }}", "t.tpl:1:13: unclosed left paren"},
		{"{{ print 1) }}", "t.tpl:1:11: unexpected right paren"},
		{"{{ define \"x\" }}", "t.tpl:1:17: unexpected EOF: missing {{end}} for {{define}} at 1:4"},
		{"{{ template x }}", "t.tpl:1:13: unexpected \"x\" in template clause"},
		{"{{ block \"x\" }}{{ end }}", "t.tpl:1:14: unexpected \"}}\" in block clause: expected a pipeline"},
		{"{{ range split \",\" \"a\" }}{{ break }}{{ end }}",
		 "t.tpl:1:29: 'break' is not supported"},
		{"{{ continue }}", "t.tpl:1:4: 'continue' is not supported"},
		{"{{ split \",\" }}", "t.tpl:1:4: wrong number of args for split: want 2 got 1"},
		{"{{ \"x\" | split }}", "t.tpl:1:10: wrong number of args for split: want 2 got 1"},
		{"{{ timestamp 1 2 }}", "t.tpl:1:4: wrong number of args for timestamp: want 0 or 1 got 2"},
		{"{{ printf }}", "t.tpl:1:4: wrong number of args for printf: want at least 1 got 0"},
		{"{{ print split }}", "t.tpl:1:10: wrong number of args for split: want 2 got 0"},
		{"{{ 1 | 2 }}", "t.tpl:1:8: non executable command in pipeline stage 2"},
		{"{{ .x .y }}", "t.tpl:1:4: can't give argument to non-function"},
		{"{{ 1 | .y }}", "t.tpl:1:8: can't give argument to non-function"},
		{"{{ $x, $y := 1 }}", "t.tpl:1:6: too many declarations in command"},
		{"{{ range $x, 1 }}{{ end }}", "t.tpl:1:12: range can only initialize variables"},
		{"{{ range $a, $b, $c := . }}{{ end }}", "t.tpl:1:16: too many declarations in range"},
		{"{{ 1__0 }}", "t.tpl:1:4: bad number syntax: 1__0"},
		{"{{ $x = 1 }}", "t.tpl:1:4: undefined variable \"$x\""},
		{"{{ \"a\".x }}", "t.tpl:1:7: unexpected . after term"},
		{"{{ print \"a\"\"b\" }}", "t.tpl:1:13: unexpected quoted string in operand"},
		{"{{ print | }}", "t.tpl:1:12: unexpected \"}}\" in command: expected a command after \"|\""},
		{"{{ if 1 }}\n{{ with 2 }}{{ end }}", "t.tpl:2:22: unexpected EOF: missing {{end}} for {{if}} at 1:4"},
		{"{{ x := 1 }}", "t.tpl:1:4: function \"x\" not defined"},
		{"{{ 1 # }}", "t.tpl:1:6: unexpected \"#\" in operand"},
		{"{{ .a@ }}", "t.tpl:1:6: bad character '@'"},
		{"{{ 1i }}", "t.tpl:1:4: complex numbers are not supported"},
		{"{{ 'ab' }}", "t.tpl:1:4: invalid character constant"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_parse_err(cases[i].src, cases[i].err);
}

static void
test_nesting_depth_is_capped(void **state)
{
	char src[512];
	size_t i, k = 0;

	(void)state;
	k += (size_t)snprintf(src, sizeof(src), "{{ ");
	for (i = 0; i < 101; i++)
		src[k++] = '(';
	src[k++] = '1';
	for (i = 0; i < 101; i++)
		src[k++] = ')';
	snprintf(src + k, sizeof(src) - k, " }}");
	expect_parse_err(src, "t.tpl:1:104: nesting deeper than 100");
}

static void
test_execution_errors_name_line_and_column(void **state)
{
	(void)state;
	expect_exec_err("a\n{{ with secret \"kv/app\" }}{{ .Data.user | base64Decode }}{{ end }}",
			"t.tpl:2:43: base64Decode: illegal base64 data at input byte 4");
	expect_exec_err("{{ with secret \"kv/app\" }}\n\n    {{ .Data.user.first }}{{ end }}",
			"t.tpl:3:18: can't evaluate field first in type string");
	/* Parsed as in scope (Go's rule), but never set on this path. */
	expect_exec_err("{{ $x := 0 }}{{ if $x }}{{ $y := 2 }}{{ else }}{{ $y }}{{ end }}",
			"t.tpl:1:51: undefined variable: $y");
}

static void
test_errors_never_contain_secret_values(void **state)
{
	static const char *const bad[] = {
		"{{ printf \"%s!\" .Data.password | base64Decode }}",
		"{{ index .Data.num .Data.password }}",
		"{{ index .Data.list .Data.password }}",
		"{{ eq .Data.password .Data.num }}",
		"{{ lt .Data.password .Data.num }}",
		"{{ toUpper .Data.list }}",
		"{{ join \",\" .Data.list }}",
		"{{ .Data.password | writeToFile \"/p\" \"\" \"\" .Data.password }}",
		"{{ secret \"p\" .Data.password }}",
		"{{ len .Data.num }}",
		"{{ range .Data.password }}{{ end }}",
		"{{ .Data.password.x }}",
		"{{ index .Data.password 99 }}",
		"{{ base64Decode (printf \"%s=\" .Data.password) }}",
	};
	struct tmpl_env e = env_default();
	char src[256], err[512], *out;
	size_t i, len;
	int rc;

	(void)state;
	e.error_on_missing_key = 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(src, sizeof(src), "{{ with secret \"kv/sentinel\" }}%s{{ end }}", bad[i]);
		rc = run_env(src, &e, &out, &len, err, sizeof(err));
		if (rc == 0)
			print_error("did not fail: %s\n", src);
		assert_true(rc < 0);
		assert_null(strstr(err, SENTINEL));
		assert_non_null(strstr(err, "t.tpl:1:"));
	}
}

static void
test_output_larger_than_max_output_is_an_error(void **state)
{
	struct tmpl_env e = env_default();

	(void)state;
	e.max_output = 10;
	expect_exec_err_env("12345\n{{ \"0123456789abc\" }}", &e, -EFBIG,
			    "t.tpl:2:4: output larger than 10 bytes");
	expect_exec_err_env("{{ printf \"%020d\" 1 }}", &e, -EFBIG,
			    "t.tpl:1:4: printf: result larger than 10 bytes");
	expect_env("{{ \"0123456789\" }}", &e, "0123456789");
}

/* ------------------------------------------------------------------ */
/* The corpus                                                          */

static void
corpus_dir(char *buf, size_t n)
{
	const char *f = __FILE__, *slash = strrchr(f, '/');
	char exe[1024];
	ssize_t k;
	int up;

	snprintf(buf, n, "%.*s/tmpl_corpus", slash ? (int)(slash - f) : 1,
		 slash ? f : ".");
	if (f[0] == '/' || access(buf, R_OK) == 0)
		return;
	/* __FILE__ is relative to the tree root; find it from the binary,
	 * ROOT/build/KIND/test/test_tmpl. */
	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (k <= 0)
		return;
	exe[k] = '\0';
	for (up = 0; up < 4; up++) {
		char *s = strrchr(exe, '/');

		if (s == NULL)
			return;
		*s = '\0';
	}
	snprintf(buf, n, "%s/%.*s/tmpl_corpus", exe, slash ? (int)(slash - f) : 1,
		 slash ? f : ".");
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void
run_corpus_case(const char *dir, const char *name)
{
	char path[2048], err[512], *tpl, *data, *want, *writes, *out;
	struct tmpl_env e = env_default();
	const cJSON *it, *envs;
	cJSON *doc;
	struct tmpl *t;
	size_t len, wantlen;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.tpl", dir, name);
	tpl = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/%s.data.json", dir, name);
	data = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/%s.expected", dir, name);
	want = slurp(path, &wantlen);
	snprintf(path, sizeof(path), "%s/%s.writes", dir, name);
	writes = slurp(path, NULL);
	if (tpl == NULL || data == NULL || want == NULL)
		fail_msg("corpus case %s is incomplete", name);
	doc = cJSON_Parse(data);
	assert_non_null(doc);

	memset(&fk, 0, sizeof(fk));
	fk.answers = cJSON_DetachItemFromObjectCaseSensitive(doc, "calls");
	assert_non_null(fk.answers);
	it = cJSON_GetObjectItemCaseSensitive(doc, "now");
	if (cJSON_IsNumber(it))
		e.now = (long long)it->valuedouble;
	envs = cJSON_GetObjectItemCaseSensitive(doc, "env");
	for (it = envs ? envs->child : NULL; it != NULL; it = it->next)
		assert_int_equal(setenv(it->string, it->valuestring, 1), 0);

	rc = tmpl_parse(name, tpl, NULL, NULL, &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", name, err);
	rc = tmpl_execute(t, &e, &out, &len, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: rc %d: %s", name, rc, err);
	assert_string_equal(out, want);
	assert_int_equal(len, wantlen);
	assert_string_equal(fk.writes, writes != NULL ? writes : "");

	for (it = envs ? envs->child : NULL; it != NULL; it = it->next)
		unsetenv(it->string);
	free(out);
	tmpl_free(t);
	cJSON_Delete(fk.answers);
	fk.answers = NULL;
	cJSON_Delete(doc);
	free(tpl);
	free(data);
	free(want);
	free(writes);
}

static void
test_corpus_renders_expected_output(void **state)
{
	char dir[1536];
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	cJSON_Delete(fk.answers);
	fk.answers = NULL;
	corpus_dir(dir, sizeof(dir));
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open corpus %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t k = strlen(de->d_name);
		char name[256];

		if (k < 5 || k >= sizeof(name) || strcmp(de->d_name + k - 4, ".tpl") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(k - 4), de->d_name);
		run_corpus_case(dir, name);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_text_without_actions_is_copied),
		T(test_trim_markers_eat_adjacent_white_space),
		T(test_comments_are_dropped),
		T(test_comment_errors_name_their_position),
		T(test_if_else_if_chain_picks_the_first_true_branch),
		T(test_with_sets_dot_and_runs_else_when_empty),
		T(test_range_over_a_list_binds_index_and_value),
		T(test_range_over_a_map_visits_keys_in_sorted_order),
		T(test_range_else_runs_for_empty_and_missing_values),
		T(test_range_over_a_string_is_an_error),
		T(test_variables_declare_assign_and_go_out_of_scope),
		T(test_pipelines_pass_the_value_as_the_last_argument),
		T(test_parenthesized_pipelines_and_field_chains),
		T(test_string_literals_decode_go_escapes),
		T(test_number_bool_and_nil_literals),
		T(test_go_printing_of_maps_lists_and_nil),
		T(test_missing_key_prints_no_value),
		T(test_missing_key_is_an_error_with_error_on_missing_key),
		T(test_truthiness_follows_go),
		T(test_custom_delimiters),
		T(test_and_or_return_the_deciding_argument),
		T(test_not_and_comparisons),
		T(test_printf_verbs),
		T(test_printf_reports_bad_verbs_and_arguments_as_go_does),
		T(test_print_and_println),
		T(test_split_join_replaceAll_trimSpace),
		T(test_contains_takes_the_needle_first_like_consul_template),
		T(test_toLower_toUpper),
		T(test_index_reaches_into_maps_lists_and_strings),
		T(test_index_out_of_range_is_an_error_at_its_position),
		T(test_len_of_strings_lists_and_maps),
		T(test_base64_encodes_and_decodes),
		T(test_base64Decode_output_may_hold_nul_bytes),
		T(test_base64Decode_of_invalid_input_is_an_error),
		T(test_base64Decode_follows_go_on_padding_and_newlines),
		T(test_base64Decode_errors_name_the_offset_go_names),
		T(test_base64_round_trips_strings_longer_than_a_chunk),
		T(test_sha256Hex),
		T(test_toJSON_sorts_keys_and_escapes_html_like_go),
		T(test_timestamp_formats_now_with_go_layouts),
		T(test_env_reads_the_process_environment),
		T(test_file_reads_local_files_and_caps_their_size),
		T(test_writeToFile_hands_content_and_flags_to_the_provider),
		T(test_writeToFile_never_writes_pending_data),
		T(test_html_js_urlquery_escape_like_go),
		T(test_secret_fields_map_to_the_vault_envelope),
		T(test_kv_v2_data_is_under_Data_data),
		T(test_pkiCert_exposes_Cert_Key_CA_and_CAChain),
		T(test_secret_key_value_arguments_are_normalized),
		T(test_one_pass_registers_every_pending_dependency),
		T(test_pending_data_renders_on_the_next_pass),
		T(test_identical_calls_share_one_fetch),
		T(test_fetch_errors_are_reported_at_the_call),
		T(test_functions_without_a_provider_are_not_available),
		T(test_unknown_function_is_a_parse_error_naming_it),
		T(test_parse_errors_name_line_column_and_what_was_expected),
		T(test_nesting_depth_is_capped),
		T(test_execution_errors_name_line_and_column),
		T(test_errors_never_contain_secret_values),
		T(test_output_larger_than_max_output_is_an_error),
		T(test_corpus_renders_expected_output),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
