/*
 * Unit tests for the template engine's named templates and the functions
 * of funcs_engine.c, through tmpl.h: define / template / block as Go's
 * text/template runs them, executeTemplate, parseJSON, secrets, slice,
 * call, the Consul functions refused at parse time, and writeToFile
 * done only once the whole template has rendered.  Errors are checked
 * whole: "file:line:col: cause".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tmpl.h"

static const char canned[] =
	"{"
	"\"secret kv/app\": {\"data\": {\"user\": \"alice\", \"password\": \"hunter2\","
	"  \"json\": \"{\\\"a\\\": [1, \\\"x\\\"], \\\"b\\\": {\\\"c\\\": true}}\"}},"
	"\"secrets secret/list\": {\"data\": {\"keys\": [\"b\", \"a/\", \"C\", \"a\"]}},"
	"\"secrets secret/empty\": {\"data\": {\"keys\": []}}"
	"}";

struct fake {
	cJSON *answers;
	int pending;
	int nwrites;
	char writes[4096];
	size_t wlen;
};

static struct fake fk;

static int
fake_fetch(void *arg, const char *kind, const char *path, const char *const *kv,
	   size_t nkv, const cJSON **out, char *err, size_t errlen)
{
	struct fake *f = arg;
	char key[256];

	(void)kv, (void)nkv;
	if (f->pending)
		return TMPL_PENDING;
	snprintf(key, sizeof(key), "%s %s", kind, path);
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

	(void)err, (void)errlen;
	f->nwrites++;
	k = snprintf(f->writes + f->wlen, sizeof(f->writes) - f->wlen,
		     "[%s %s %s %s %s %.*s]", path, owner, group, perms,
		     append ? "append" : "replace", (int)len, content);
	assert_true(k > 0 && f->wlen + (size_t)k < sizeof(f->writes));
	f->wlen += (size_t)k;
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

static int
run(const char *src, char **out, char *err, size_t errlen)
{
	struct tmpl_env e = env_default();
	struct tmpl *t = NULL;
	size_t len;
	int rc;

	*out = NULL;
	rc = tmpl_parse("t.tpl", src, NULL, NULL, &t, err, errlen);
	if (rc != 0)
		return rc;
	rc = tmpl_execute(t, &e, out, &len, err, errlen);
	tmpl_free(t);
	return rc;
}

static void
expect(const char *src, const char *want)
{
	char err[512], *out;
	int rc = run(src, &out, err, sizeof(err));

	if (rc != 0)
		print_error("template: %s\nerror: %s\n", src, err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
	free(out);
}

static void
expect_parse_err(const char *src, const char *want)
{
	struct tmpl *t = (struct tmpl *)&t;
	char err[512];

	assert_int_equal(
		tmpl_parse("t.tpl", src, NULL, NULL, &t, err, sizeof(err)),
		-EINVAL);
	assert_null(t);
	assert_string_equal(err, want);
}

static void
expect_exec_err(const char *src, const char *want)
{
	char err[512], *out = NULL;
	int rc = run(src, &out, err, sizeof(err));

	if (rc == 0)
		print_error("template: %s\nrendered: %s\n", src, out);
	assert_true(rc < 0);
	assert_null(out);
	assert_string_equal(err, want);
}

/* ------------------------------------------------------------------ */

static void
test_define_and_template_run_with_the_dot_given(void **state)
{
	(void)state;
	expect("{{ define \"row\" }}<{{ . }}>{{ end }}"
	       "{{ template \"row\" \"a\" }}{{ template \"row\" 2 }}{{ template \"row\" }}",
	       "<a><2><<no value>>");
	/* A define may come after its use; its text is not output where it is. */
	expect("x{{ template \"t\" . }}y{{ define \"t\" }}T{{ end }}z", "xTyz");
	/* Templates call templates, and recurse with a bound. */
	expect("{{ define \"a\" }}a{{ template \"b\" . }}{{ end }}"
	       "{{ define \"b\" }}b{{ . }}{{ end }}{{ template \"a\" 1 }}",
	       "ab1");
	expect("{{ define \"down\" }}{{ if . }}{{ len . }}{{ template \"down\" (slice . 1) }}"
	       "{{ end }}{{ end }}{{ template \"down\" (secret \"kv/app\").Data.user }}",
	       "54321");
}

static void
test_a_template_sees_only_its_own_variables(void **state)
{
	(void)state;
	/* $ is the dot it was given; the caller's $x is out of scope. */
	expect("{{ define \"t\" }}{{ $ }}{{ $y := 2 }}{{ $y }}{{ end }}"
	       "{{ $x := 1 }}{{ template \"t\" \"d\" }}{{ $x }}",
	       "d21");
	expect_parse_err("{{ $x := 1 }}{{ define \"t\" }}{{ $x }}{{ end }}",
			 "t.tpl:1:33: undefined variable \"$x\"");
}

static void
test_block_defines_and_runs_in_place(void **state)
{
	(void)state;
	expect("[{{ block \"b\" . }}default {{ . }}{{ end }}]",
	       "[default <no value>]");
	expect("{{ with secret \"kv/app\" }}{{ block \"user\" .Data.user }}u={{ . }}{{ end }}"
	       "{{ end }}",
	       "u=alice");
	/* An empty define gives way to the block's body, as in Go. */
	expect("{{ define \"b\" }} {{ end }}{{ block \"b\" 1 }}B{{ . }}{{ end }}",
	       "B1");
}

static void
test_named_template_errors_name_their_position(void **state)
{
	(void)state;
	expect_exec_err("ab\n  {{ template \"nope\" }}",
			"t.tpl:2:6: template \"nope\" not defined");
	expect_parse_err(
		"{{ define \"d\" }}1{{ end }}{{ define \"d\" }}2{{ end }}",
		"t.tpl:1:30: template: multiple definition of template \"d\" "
		"(first at 1:4)");
	expect_parse_err(
		"{{ if 1 }}{{ define \"d\" }}{{ end }}{{ end }}",
		"t.tpl:1:14: unexpected {{define}}: define is only allowed at "
		"the top level");
	expect_parse_err("{{ define \"d\" }}{{ else }}{{ end }}",
			 "t.tpl:1:20: unexpected {{else}} in define");
	expect_parse_err("{{ define d }}{{ end }}",
			 "t.tpl:1:11: unexpected \"d\" in define clause");
	/* Errors inside a define point into its body. */
	expect_exec_err(
		"{{ define \"d\" }}\n  {{ index . 5 }}{{ end }}{{ template \"d\" \"ab\" }}",
		"t.tpl:2:6: index: index out of range: 5");
	expect_exec_err("{{ define \"loop\" }}{{ template \"loop\" }}{{ end }}"
			"{{ template \"loop\" }}",
			"t.tpl:1:23: exceeded maximum template depth (200)");
}

static void
test_nesting_through_template_calls_is_bounded(void **state)
{
	struct {
		char s[4096];
		size_t n;
	} b = { "", 0 };

	(void)state;
	/* 99 nested ifs around a recursive call: 1000 bodies deep, an error
	 * long before the C stack runs out. */
	b.n = (size_t)snprintf(b.s, sizeof(b.s), "{{ define \"r\" }}");
	for (int i = 0; i < 99; i++)
		b.n += (size_t)snprintf(b.s + b.n, sizeof(b.s) - b.n, "{{if .}}");
	b.n += (size_t)snprintf(b.s + b.n, sizeof(b.s) - b.n,
				"{{ template \"r\" . }}");
	for (int i = 0; i < 99; i++)
		b.n += (size_t)snprintf(b.s + b.n, sizeof(b.s) - b.n, "{{end}}");
	snprintf(b.s + b.n, sizeof(b.s) - b.n, "{{ end }}{{ template \"r\" 1 }}");
	expect_exec_err(b.s,
			"t.tpl:1:812: exceeded maximum template depth "
			"(1000 nested actions)");
}

static void
test_executeTemplate_returns_the_output_as_a_string(void **state)
{
	(void)state;
	expect("{{ define \"greet\" }}hi {{ . }}{{ end }}"
	       "{{ executeTemplate \"greet\" \"bob\" | toUpper }}|"
	       "{{ len (executeTemplate \"greet\") }}",
	       "HI BOB|13");
	expect("{{ define \"pw\" }}{{ (secret \"kv/app\").Data.password }}{{ end }}"
	       "{{ $p := executeTemplate \"pw\" }}[{{ $p }}]",
	       "[hunter2]");
	expect_exec_err(
		"{{ executeTemplate \"none\" }}",
		"t.tpl:1:4: executeTemplate: template \"none\" not defined");
}

static void
test_parseJSON_turns_text_into_values(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}{{ $j := parseJSON .Data.json }}"
	       "{{ index $j.a 1 }} {{ $j.b.c }} {{ len $j.a }}{{ end }}",
	       "x true 2");
	expect("{{ parseJSON \"[1, 2]\" }} {{ parseJSON \"\\\"s\\\"\" }} {{ parseJSON \"\" }}",
	       "[1 2] s map[]");
	expect("{{ range $k, $v := parseJSON `{\"b\": 1, \"a\": 2}` }}{{ $k }}{{ $v }}{{ end }}",
	       "a2b1");
	/* The error names a byte offset, never the text (it may be a secret). */
	expect_exec_err("{{ parseJSON \"{\\\"pw\\\": hunter2}\" }}",
			"t.tpl:1:4: parseJSON: invalid JSON at byte 7");
	expect_exec_err(
		"{{ parseJSON \"{} x\" }}",
		"t.tpl:1:4: parseJSON: invalid JSON at byte 3: data after the value");
}

static void
test_secrets_lists_keys_sorted(void **state)
{
	(void)state;
	expect("{{ range secrets \"secret/list/\" }}{{ . }},{{ end }}",
	       "C,a,a/,b,");
	expect("{{ secrets \"secret/list/\" }}", "[C a a/ b]");
	/* consul-template trims the slashes around a path */
	expect("{{ secrets \"/secret/list\" }}", "[C a a/ b]");
	expect("[{{ range secrets \"secret/empty/\" }}x{{ else }}none{{ end }}]",
	       "[none]");
}

static void
test_slice_follows_go(void **state)
{
	(void)state;
	expect("{{ slice \"abcdef\" 1 3 }}|{{ slice \"abc\" }}|{{ slice \"abc\" 2 }}",
	       "bc|abc|c");
	expect("{{ slice (split \",\" \"a,b,c,d\") 1 3 }}|{{ slice (split \",\" \"a,b\") 0 1 2 }}",
	       "[b c]|[a]");
	expect_exec_err("{{ slice \"abc\" 2 1 }}",
			"t.tpl:1:4: slice: invalid slice index: 2 > 1");
	expect_exec_err("{{ slice \"abc\" 0 4 }}",
			"t.tpl:1:4: slice: index out of range: 4");
	expect_exec_err("{{ slice \"abc\" 0 1 2 }}",
			"t.tpl:1:4: slice: cannot 3-index slice a string");
	expect_exec_err("{{ slice 5 }}",
			"t.tpl:1:4: slice: can't slice item of type int");
}

static void
test_call_of_a_value_that_is_no_function_fails_as_in_go(void **state)
{
	(void)state;
	expect_exec_err("{{ call .x }}", "t.tpl:1:4: call: call of nil");
	expect_exec_err("{{ call \"f\" 1 }}",
			"t.tpl:1:4: call: non-function of type string");
}

static void
test_consul_functions_are_refused_at_parse_time(void **state)
{
	static const char *const names[] = {
		"key",	    "keyOrDefault", "ls",     "tree",	  "service",
		"services", "node",	    "nodes",  "connect",  "caRoots",
		"caLeaf",   "datacenters",  "safeLs", "safeTree",
	};
	char src[128], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(src, sizeof(src),
			 "line\n{{ if 1 }}{{ %s \"a\" }}{{ end }}", names[i]);
		snprintf(want, sizeof(want),
			 "t.tpl:2:14: function \"%s\" needs Consul, which certagent does "
			 "not talk to (Vault only)",
			 names[i]);
		expect_parse_err(src, want);
	}
}

static void
test_writeToFile_writes_only_after_the_whole_template_rendered(void **state)
{
	(void)state;
	/* In template order, after the render, flags applied. */
	expect("{{ writeToFile \"/p/a\" \"u\" \"g\" \"0600\" \"A\" }}x"
	       "{{ writeToFile \"/p/b\" \"\" \"\" \"0644\" \"append,newline\" \"B\" }}y",
	       "xy");
	assert_int_equal(fk.nwrites, 2);
	assert_string_equal(fk.writes,
			    "[/p/a u g 0600 replace A][/p/b   0644 append B\n]");
	/* A later failure: nothing written. */
	fk.nwrites = 0;
	expect_exec_err(
		"{{ writeToFile \"/p/a\" \"\" \"\" \"0600\" \"A\" }}"
		"{{ base64Decode \"!\" }}",
		"t.tpl:1:45: base64Decode: illegal base64 data at input byte 0");
	assert_int_equal(fk.nwrites, 0);
}

static void
test_writeToFile_writes_nothing_while_data_is_pending(void **state)
{
	struct tmpl_env e = env_default();
	struct tmpl *t;
	char err[256], *out = NULL;
	size_t len;

	(void)state;
	fk.pending = 1;
	assert_int_equal(
		tmpl_parse("t.tpl",
			   "{{ writeToFile \"/p/a\" \"\" \"\" \"0600\" \"static\" }}"
			   "{{ (secret \"kv/app\").Data.user }}",
			   NULL, NULL, &t, err, sizeof(err)),
		0);
	assert_int_equal(tmpl_execute(t, &e, &out, &len, err, sizeof(err)),
			 TMPL_PENDING);
	assert_null(out);
	assert_int_equal(fk.nwrites, 0);
	fk.pending = 0;
	assert_int_equal(tmpl_execute(t, &e, &out, &len, err, sizeof(err)), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(fk.nwrites, 1);
	free(out);
	tmpl_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_define_and_template_run_with_the_dot_given),
		T(test_a_template_sees_only_its_own_variables),
		T(test_block_defines_and_runs_in_place),
		T(test_named_template_errors_name_their_position),
		T(test_nesting_through_template_calls_is_bounded),
		T(test_executeTemplate_returns_the_output_as_a_string),
		T(test_parseJSON_turns_text_into_values),
		T(test_secrets_lists_keys_sorted),
		T(test_slice_follows_go),
		T(test_call_of_a_value_that_is_no_function_fails_as_in_go),
		T(test_consul_functions_are_refused_at_parse_time),
		T(test_writeToFile_writes_only_after_the_whole_template_rendered),
		T(test_writeToFile_writes_nothing_while_data_is_pending),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
