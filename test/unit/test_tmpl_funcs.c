/*
 * Unit tests for the template functions of funcs_ct.c, funcs_regex.c,
 * funcs_yaml.c and funcs_sprig.c: consul-template 0.39's functions and
 * Sprig's under "sprig_".
 *
 * The expected strings of the tables were produced by Go itself: Go
 * 1.19's text/template running each template with the real Sprig 3.2.3,
 * gopkg.in/yaml.v2 2.4.0, BurntSushi/toml and golang.org/x/text, and
 * consul-template's
 * functions as its template/funcs.go defines them.  Nothing here needs
 * Go to run.  The rest (errors, randomness, Vault data) asserts this
 * engine's own behaviour.
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

#define SENTINEL "S3NT1NEL"

struct fcase {
	const char *src, *want;
};

static const char canned[] =
	"{\"secret kv/app\": {\"request_id\": \"r-1\", \"lease_id\": \"\","
	"  \"lease_duration\": 60, \"renewable\": false,"
	"  \"data\": {\"user\": \"alice\", \"password\": \"" SENTINEL "\","
	"    \"port\": 5432, \"nested\": {\"z\": 1, \"a\": [1, 2], \"m\": {}},"
	"    \"csv\": \"a:1,b:2\"}}}";

static cJSON *answers;

static int
fake_fetch(void *arg, const char *kind, const char *path,
	   const char *const *kv, size_t nkv, const cJSON **out, char *err,
	   size_t errlen)
{
	char key[256];

	(void)arg, (void)kv, (void)nkv;
	snprintf(key, sizeof(key), "%s %s", kind, path);
	*out = cJSON_GetObjectItemCaseSensitive(answers, key);
	if (*out == NULL) {
		snprintf(err, errlen, "no canned answer");
		return -ENOENT;
	}
	return 0;
}

static struct tmpl_env
env_default(void)
{
	struct tmpl_env e;

	memset(&e, 0, sizeof(e));
	e.fetch = fake_fetch;
	e.now = 1700000000;
	return e;
}

static int
setup(void **state)
{
	(void)state;
	answers = cJSON_Parse(canned);
	assert_non_null(answers);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cJSON_Delete(answers);
	answers = NULL;
	return 0;
}

/* Run SRC: the rc, and the output in *OUT (malloc'd) or the error. */
static int
run(const char *src, char **out, size_t *len, char *err, size_t errlen)
{
	struct tmpl_env e = env_default();
	struct tmpl *t = NULL;
	int rc;

	*out = NULL;
	rc = tmpl_parse("t.tpl", src, NULL, NULL, &t, err, errlen);
	if (rc != 0)
		return rc;
	rc = tmpl_execute(t, &e, out, len, err, errlen);
	tmpl_free(t);
	return rc;
}

static void
expect(const char *src, const char *want)
{
	char err[512] = "", *out;
	size_t len = 0;
	int rc = run(src, &out, &len, err, sizeof(err));

	if (rc != 0 || strcmp(out, want) != 0)
		print_error("template: %s\nerror: %s\n", src, err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void
expect_table(const struct fcase *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		expect(c[i].src, c[i].want);
}

#define EXPECT_TABLE(t) expect_table(t, sizeof(t) / sizeof(t[0]))

/* Running SRC fails, and the error starts with WANT and holds no
 * SENTINEL. */
static void
expect_err(const char *src, const char *want)
{
	char err[512] = "", *out;
	size_t len;
	int rc = run(src, &out, &len, err, sizeof(err));

	if (rc == 0)
		print_error("template: %s\nunexpected output: %s\n", src, out);
	free(out);
	assert_int_equal(rc, -EINVAL);
	if (strncmp(err, want, strlen(want)) != 0)
		print_error("template: %s\n", src);
	assert_string_equal(strlen(err) >= strlen(want) ?
			    (err[strlen(want)] = '\0', err) : err, want);
	assert_null(strstr(err, SENTINEL));
}

/* ------------------------------------------------------------------ */
/* Tables: expected output from Go                                     */

/* trim*, indent, base64URL*, toTitle, md5sum, hmacSHA256Hex, envOrDefault */
static const struct fcase ct_strings_and_encodings_cases[] = {
	{"{{ trim \"xy\" \"xyhelloyx\" }}",
	 "hello"},
	{"{{ trim \"\303\251\" \"\303\251a\303\251\303\251\" }}",
	 "a"},
	{"{{ trimPrefix \"foo\" \"foobar\" }}|{{ \"foobar\" | trimSuffix \"bar\" }}|{{ trimPrefix \"x\" \"foo\" }}",
	 "bar|foo|foo"},
	{"{{ base64URLEncode \"\\xfb\\xff?>\" }}",
	 "-_8_Pg=="},
	{"{{ base64URLDecode \"-_8_Pg==\" | printf \"%q\" }}",
	 "\"\\xfb\\xff?>\""},
	{"{{ indent 4 \"a\\n\\nb\\n\" }}",
	 "    a\n\n    b\n"},
	{"{{ indent 2 \"\" }}|{{ indent 0 \"a\\nb\" }}",
	 "|a\nb"},
	{"{{ toTitle \"hello world-wide don't\" }}",
	 "Hello World-Wide Don't"},
	{"{{ toTitle \"foo_bar baz.qux 1st \303\251a\" }}",
	 "Foo_bar Baz.qux 1St \303\211a"},
	{"{{ md5sum \"abc\" }}",
	 "900150983cd24fb0d6963f7d28e17f72"},
	{"{{ hmacSHA256Hex \"msg\" \"key\" }}",
	 "2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628"},
	{"{{ envOrDefault \"NOPE_X\" \"dflt\" }}",
	 "dflt"},
	{"{{ indent 3 \"multi\\nline\\n\\n  pem\" }}",
	 "   multi\n   line\n\n     pem"},
};

/* parseBool, parseInt, parseFloat, parseUint */
static const struct fcase ct_parse_cases[] = {
	{"{{ parseBool \"true\" }} {{ parseBool \"F\" }} {{ parseBool \"\" }} {{ parseBool \"1\" }}",
	 "true false false true"},
	{"{{ parseInt \"-42\" }} {{ parseInt \"\" }} {{ parseInt \"+7\" }} {{ parseInt \"123456789\" | printf \"%d\" }}",
	 "-42 0 7 123456789"},
	{"{{ parseFloat \"1.5e3\" }} {{ parseFloat \"-0.25\" }} {{ parseFloat \"\" }} {{ parseFloat \".5\" }}",
	 "1500 -0.25 0 0.5"},
	{"{{ parseUint \"42\" }}",
	 "42"},
};

/* regexMatch and regexReplaceAll: Go syntax and ReplaceAllString */
static const struct fcase regex_cases[] = {
	{"{{ regexMatch \"^\\\\d{3}-\\\\w+$\" \"123-abc\" }} {{ regexMatch \"^\\\\d+$\" \"12a\" }} {{ regexMatch \"(?i)^abc$\" \"ABC\" }}",
	 "true false true"},
	{"{{ regexReplaceAll \"(\\\\w+)@(\\\\w+)\" \"${2}_$1\" \"joe@example, ann@test\" }}",
	 "example_joe, test_ann"},
	{"{{ regexReplaceAll \"a*\" \"-\" \"baaac\" }}",
	 "-b-c-"},
	{"{{ regexReplaceAll \"x*\" \"-\" \"abc\" }}",
	 "-a-b-c-"},
	{"{{ regexReplaceAll \"[aeiou]\" \"\" \"hello world\" }}",
	 "hll wrld"},
	{"{{ regexReplaceAll \"^\" \">\" \"line\" }}",
	 ">line"},
	{"{{ regexReplaceAll \"(?P<first>\\\\w+) (?P<last>\\\\w+)\" \"$last, $first\" \"John Smith\" }}",
	 "Smith, John"},
	{"{{ regexReplaceAll \"(a)(b)?\" \"[$2|$1x|${1}x|$$]\" \"ab a\" }}",
	 "[b||ax|$] [||ax|$]"},
	{"{{ regexReplaceAll \"(?:ab)+(c)\" \"<$1>\" \"ababc abc\" }}",
	 "<c> <c>"},
	{"{{ regexReplaceAll \"\\\\s+\" \" \" \"a \\t\\n b\" }}",
	 "a b"},
	{"{{ regexReplaceAll \"[^a-z0-9-]\" \"_\" \"My.Host-01!\" }}",
	 "_y__ost-01_"},
	{"{{ regexReplaceAll \"\\\\.\" \"-\" \"a.b.c\" }}",
	 "a-b-c"},
	{"{{ regexReplaceAll \"[\\\\]\\\\-]\" \"#\" \"a]b-c\" }}",
	 "a#b#c"},
	{"{{ regexReplaceAll \"^(.*)$\" \"<$1>\" \"one\" }}",
	 "<one>"},
	{"{{ regexReplaceAll \"o\" \"0\" \"f\303\266o bar\" }}",
	 "f\303\2660 bar"},
	{"{{ regexMatch \"^[a-z]+\\\\.example\\\\.com$\" \"api.example.com\" }}",
	 "true"},
	{"{{ regexMatch \"a.c\" \"a\\nc\" }} {{ regexMatch \"(?s)a.c\" \"a\\nc\" }}",
	 "false true"},
	{"{{ regexReplaceAll \"(\\\\d+)\\\\.(\\\\d+)\" \"$2.$1\" \"v1.22 and 3.4\" }}",
	 "v22.1 and 4.3"},
	{"{{ regexReplaceAll \"[[:space:]]+\" \"_\" \"a b  c\" }} {{ regexMatch \"^[[:alpha:]]+$\" \"abc\" }}",
	 "a_b_c true"},
	{"{{ regexReplaceAll \"\\\\bfoo\\\\b\" \"bar\" \"foo food foo\" }}",
	 "bar food bar"},
	{"{{ regexReplaceAll \"a{2,3}\" \"X\" \"a aa aaaa\" }} {{ regexReplaceAll \"a{x\" \"Y\" \"a{x\" }}",
	 "a X Xa Y"},
	{"{{ regexReplaceAll \"(?i)hello\" \"bye\" \"HeLLo world\" }}",
	 "bye world"},
	{"{{ regexReplaceAll \"$\" \"!\" \"end\" }} {{ regexReplaceAll \"\\\\Aab\" \"X\" \"abab\" }} {{ regexReplaceAll \"b\\\\z\" \"X\" \"abab\" }}",
	 "end! Xab abaX"},
	{"{{ regexReplaceAll \"(?m)^\" \"# \" \"a\\nb\" }}",
	 "# a\n# b"},
	{"{{ regexReplaceAll \"\\\\x41\" \"a\" \"ABA\" }} {{ regexReplaceAll \"\\\\Q.*\\\\E\" \"-\" \"a.*b\" }}",
	 "aBa a-b"},
	{"{{ sprig_regexMatch \"^a.c$\" \"abc\" }} {{ sprig_regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }} {{ len (sprig_randAlphaNum 12) }} {{ len (sprig_uuidv4) }}",
	 "true -W-xxW- 12 36"},
};

/* splitToMap, contains*, in, loop, mergeMap*, explodeMap */
static const struct fcase ct_lists_and_maps_cases[] = {
	{"{{ splitToMap \",\" \":\" \"a:1,b:2,c\" }}",
	 "map[a:1 b:2]"},
	{"{{ splitToMap \",\" \"=\" \" x=1=2,y= \" }}",
	 "map[x:1=2 y:]"},
	{"{{ splitToMap \",\" \":\" \"\" }}",
	 "map[]"},
	{"{{ containsAll (sprig_list \"a\" \"b\") (sprig_list \"a\" \"b\" \"c\") }} {{ containsAll (sprig_list \"a\" \"x\") (sprig_list \"a\" \"b\") }}",
	 "true false"},
	{"{{ containsAny (sprig_list \"x\" \"b\") (sprig_list \"a\" \"b\") }} {{ containsAny (sprig_list \"x\") (sprig_list \"a\") }}",
	 "true false"},
	{"{{ containsNone (sprig_list \"x\") (sprig_list \"a\") }} {{ containsNone (sprig_list \"a\") (sprig_list \"a\") }}",
	 "true false"},
	{"{{ containsNotAll (sprig_list \"a\" \"x\") (sprig_list \"a\" \"b\") }} {{ containsNotAll (sprig_list \"a\") (sprig_list \"a\" \"b\") }}",
	 "true false"},
	{"{{ in (sprig_list \"a\" \"b\") \"b\" }} {{ in \"abc\" \"bc\" }} {{ in (sprig_list \"a\") \"c\" }}",
	 "true true false"},
	{"{{ range loop 3 }}{{ . }}{{ end }} {{ range loop 5 8 }}{{ . }}{{ end }} {{ range $i, $e := loop 2 }}{{ $i }}{{ $e }}{{ end }}",
	 "012 567 0011"},
	{"{{ mergeMap (parseYAML \"a: 1\\nb: \\\"\\\"\") (parseYAML \"a: 2\\nb: 3\\nc: 4\") | toJSON }}",
	 "{\"a\":1,\"b\":3,\"c\":4}"},
	{"{{ mergeMapWithOverride (parseYAML \"a: 1\\nb: \\\"\\\"\") (parseYAML \"a: 2\\nb: 3\\nc: 4\") | toJSON }}",
	 "{\"a\":2,\"b\":3,\"c\":4}"},
	{"{{ mergeMap (parseYAML \"a: {x: 1}\\nl: [1]\") (parseYAML \"a: {x: 2, y: 3}\\nl: [2]\\nm: {z: 1}\") | toJSON }}",
	 "{\"a\":{\"true\":3,\"x\":1},\"l\":[1],\"m\":{\"z\":1}}"},
	{"{{ explodeMap (parseYAML \"a/b: 1\\na/c: 2\\nd: 3\") | toJSON }}",
	 "{\"a\":{\"b\":1,\"c\":2},\"d\":3}"},
	{"{{ range $k, $v := splitToMap \"&\" \"=\" \"b=2&a=1\" }}{{ $k }}={{ $v }};{{ end }}",
	 "a=1;b=2;"},
	{"{{ \"a,b,c\" | split \",\" | join \";\" }} {{ sprig_splitList \"\" \"abc\" }}",
	 "a;b;c [a b c]"},
	{"{{ toJSON (sprig_dict \"x\" (sprig_until 2)) }} {{ toJSON (loop 2) }}",
	 "{\"x\":[0,1]} [0,1]"},
};

/* add subtract multiply divide modulo minimum maximum */
static const struct fcase ct_math_cases[] = {
	{"{{ 2 | add 3 }} {{ 10 | subtract 3 }} {{ 3 | multiply 4 }} {{ 7 | divide 2 }} {{ 7.5 | divide 2 }} {{ 7 | modulo 3 }}",
	 "5 7 12 3 3.75 1"},
	{"{{ minimum 2 5 }} {{ maximum 2 5 }} {{ maximum 2.5 1 }} {{ -7 | divide 2 }} {{ -7 | modulo 3 }} {{ 1 | divide 0.5 }}",
	 "2 5 2.5 -3 -1 2"},
	{"{{ 0.1 | add 0.2 }} {{ 1e20 | multiply 10.0 }}",
	 "0.30000000000000004 1e+21"},
};

/* toYAML as yaml.v2 writes it, parseYAML as it reads */
static const struct fcase yaml_cases[] = {
	{"{{ toYAML (parseYAML \"a: 1\\nb: [x, 'yes', 2.5]\\nc:\\n  d: null\\n  e: \\\"multi\\\\nline\\\"\\nk10: 1\\nk9: 2\\n\") }}",
	 "a: 1\nb:\n- x\n- \"yes\"\n- 2.5\nc:\n  d: null\n  e: |-\n    multi\n    line\nk9: 2\nk10: 1"},
	{"{{ parseYAML \"a: &x {b: 1}\\nc: *x\\nd: yes\\ne: 0x1F\\nf: 2001-12-14\\ng: ~\\nh: '123'\\ni: 1.0\\nj: -5\\nk: on\" | toJSON }}",
	 "{\"a\":{\"b\":1},\"c\":{\"b\":1},\"d\":true,\"e\":31,\"f\":\"2001-12-14\",\"g\":null,\"h\":\"123\",\"i\":1,\"j\":-5,\"k\":true}"},
	{"{{ toYAML (sprig_dict \"s\" \"true\" \"n\" \"12\" \"f\" \"1.5\" \"z\" \"\" \"t\" \"2020-01-02\" \"c\" \"a: b\" \"h\" \"#x\" \"q\" \"it's\" \"sp\" \" lead\" \"b60\" \"1:20\" \"u\" \"\303\274n\303\257\" \"dash\" \"- x\" \"nul\" \"null\") }}",
	 "b60: \"1:20\"\nc: 'a: b'\ndash: '- x'\nf: \"1.5\"\nh: '#x'\n\"n\": \"12\"\nnul: \"null\"\nq: it's\ns: \"true\"\nsp: ' lead'\nt: \"2020-01-02\"\nu: \303\274n\303\257\nz: \"\""},
	{"{{ toYAML (sprig_list 1 2.5 \"x\" true (sprig_dict \"k\" (sprig_list))) }}",
	 "- 1\n- 2.5\n- x\n- true\n- k: []"},
	{"{{ toYAML (sprig_dict \"a10\" 1 \"a9\" 2 \"b\" 3 \"A\" 4 \"_x\" 5 \"1\" 6 \"a\" 7 \"a01\" 8 \"a1\" 9) }}",
	 "_x: 5\n\"1\": 6\nA: 4\na: 7\na1: 9\na01: 8\na9: 2\na10: 1\nb: 3"},
	{"{{ toYAML \"plain\" }}|{{ toYAML \"two\\nlines\\n\" }}|{{ toYAML 12 }}|{{ toYAML (sprig_dict) }}|{{ toYAML (sprig_list) }}",
	 "plain||\n  two\n  lines|12|{}|[]"},
	{"{{ toYAML (sprig_dict \"long\" \"aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr\") }}",
	 "long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp\n  qqqq rrrr"},
	{"{{ toYAML (parseYAML \"servers:\\n- host: h1\\n  port: 80\\n- host: h2\\n  tags: [a, b]\\nempty: []\\nnested: [[1, 2], [3]]\\n\") }}",
	 "empty: []\nnested:\n- - 1\n  - 2\n- - 3\nservers:\n- host: h1\n  port: 80\n- host: h2\n  tags:\n  - a\n  - b"},
	{"{{ toYAML (sprig_dict \"key\" \"value with: colon\" \"k2\" \"trailing \" \"k3\" \"*star\" \"k4\" \"@at\" \"k5\" \"%pct\" \"k6\" \"a#b\" \"k7\" \"a #b\" \"k8\" \"`tick\" \"k9\" \"{x}\" \"ka\" \"\\\"dq\\\"\") }}",
	 "k2: 'trailing '\nk3: '*star'\nk4: '@at'\nk5: '%pct'\nk6: a#b\nk7: 'a #b'\nk8: '`tick'\nk9: '{x}'\nka: '\"dq\"'\nkey: 'value with: colon'"},
	{"{{ toYAML (sprig_dict \"pem\" \"-----BEGIN CERT-----\\nMIIB\\n-----END CERT-----\\n\" \"tab\" \"a\\tb\" \"ctl\" \"a\\u0001b\") }}",
	 "ctl: \"a\\x01b\"\npem: |\n  -----BEGIN CERT-----\n  MIIB\n  -----END CERT-----\ntab: \"a\\tb\""},
	{"{{ parseYAML \"list:\\n  - 1\\n  - two\\n  - {three: 3}\\nmulti: |\\n  line1\\n  line2\\nfolded: >\\n  a\\n  b\\n\" | toJSON }}",
	 "{\"folded\":\"a b\\n\",\"list\":[1,\"two\",{\"three\":3}],\"multi\":\"line1\\nline2\\n\"}"},
	{"{{ with parseYAML \"port: 8080\\nname: web\" }}{{ .name }}:{{ .port }}{{ end }}",
	 "web:8080"},
	{"{{ sprig_toJson (parseYAML \"a: [1, {b: null}]\") }} {{ sprig_toJson nil }}",
	 "{\"a\":[1,{\"b\":null}]} null"},
};

/* Sprig's string and encoding functions */
static const struct fcase sprig_strings_cases[] = {
	{"{{ sprig_trim \"  x  \" }}|{{ sprig_upper \"abc\" }}|{{ sprig_lower \"ABC\" }}|{{ sprig_title \"hello wOrld don't_x\" }}|{{ sprig_untitle \"Hello\" }}",
	 "x|ABC|abc|Hello WOrld Don'T_x|hello"},
	{"{{ sprig_replace \"a\" \"b\" \"banana\" }}|{{ sprig_quote \"a\\\"b\" 1 nil \"c\\n\" }}|{{ sprig_squote \"a\" 2 }}",
	 "bbnbnb|\"a\\\"b\" \"1\" \"c\\n\"|'a' '2'"},
	{"{{ sprig_contains \"an\" \"banana\" }} {{ sprig_hasPrefix \"ba\" \"banana\" }} {{ sprig_hasSuffix \"na\" \"banana\" }} {{ \"banana\" | sprig_hasPrefix \"x\" }}",
	 "true true true false"},
	{"{{ sprig_trimPrefix \"ba\" \"banana\" }}|{{ sprig_trimSuffix \"na\" \"banana\" }}|{{ sprig_trimAll \"$\" \"$$5.00$\" }}|{{ sprig_repeat 3 \"ab\" }}|{{ sprig_nospace \" a b\\tc\\n\" }}",
	 "nana|bana|5.00|ababab|abc"},
	{"{{ sprig_indent 2 \"a\\n\\nb\" }}|{{ sprig_nindent 2 \"a\\nb\" }}|",
	 "  a\n  \n  b|\n  a\n  b|"},
	{"{{ sprig_b64enc \"hello\" }} {{ sprig_b64dec \"aGVsbG8=\" }} {{ sprig_b64dec \"!!\" }}",
	 "aGVsbG8= hello illegal base64 data at input byte 0"},
	{"{{ sprig_toJson (sprig_dict \"a\" 1 \"b\" (sprig_list \"x\" \"<y>\")) }} {{ sprig_toPrettyJson (sprig_dict \"a\" 1 \"b\" (sprig_list \"x\")) }}",
	 "{\"a\":1,\"b\":[\"x\",\"\\u003cy\\u003e\"]} {\n  \"a\": 1,\n  \"b\": [\n    \"x\"\n  ]\n}"},
	{"{{ sprig_upper \"stra\303\237e \303\247a\" }} {{ sprig_lower \"\303\207A \316\251MEGA\" }}",
	 "STRA\303\237E \303\207A \303\247a \317\211mega"},
	{"{{ sprig_tuple 1 2 }} {{ sprig_trimall \"x\" \"xax\" }}",
	 "[1 2] a"},
};

/* default, empty, coalesce, ternary, all, any */
static const struct fcase sprig_defaults_cases[] = {
	{"{{ sprig_default \"d\" \"\" }} {{ sprig_default \"d\" \"v\" }} {{ sprig_default \"d\" 0 }} {{ sprig_default \"d\" }} {{ \"\" | sprig_default \"x\" }} {{ sprig_default \"d\" false }}",
	 "d v d d x d"},
	{"{{ sprig_empty \"\" }} {{ sprig_empty 0 }} {{ sprig_empty \"x\" }} {{ sprig_empty (sprig_list) }} {{ sprig_empty (sprig_dict) }} {{ sprig_empty nil }}",
	 "true true false true true true"},
	{"{{ sprig_coalesce \"\" 0 \"x\" \"y\" }} {{ sprig_coalesce \"\" }} {{ sprig_ternary \"yes\" \"no\" true }} {{ sprig_ternary \"yes\" \"no\" false }} {{ sprig_all 1 \"a\" }} {{ sprig_all 1 \"\" }} {{ sprig_any 0 \"\" \"a\" }}",
	 "x <no value> yes no true false true"},
};

/* Sprig's list functions */
static const struct fcase sprig_lists_cases[] = {
	{"{{ sprig_list 1 \"a\" 2.5 }} {{ sprig_first (sprig_list 1 2 3) }} {{ sprig_last (sprig_list 1 2 3) }} {{ sprig_rest (sprig_list 1 2 3) }} {{ sprig_initial (sprig_list 1 2 3) }}",
	 "[1 a 2.5] 1 3 [2 3] [1 2]"},
	{"{{ sprig_append (sprig_list 1 2) 3 }} {{ sprig_prepend (sprig_list 1 2) 0 }} {{ sprig_reverse (sprig_list 1 2 3) }} {{ sprig_uniq (sprig_list 1 2 1 \"a\" \"a\") }}",
	 "[1 2 3] [0 1 2] [3 2 1] [1 2 a]"},
	{"{{ sprig_has 2 (sprig_list 1 2) }} {{ sprig_has \"x\" (sprig_list 1 2) }} {{ sprig_without (sprig_list 1 2 3 2) 2 }} {{ sprig_compact (sprig_list 1 0 \"\" \"a\" nil) }}",
	 "true false [1 3] [1 a]"},
	{"{{ sprig_join \",\" (sprig_list \"a\" 1 nil \"b\") }} {{ sprig_join \"-\" \"x\" }} {{ sprig_splitList \",\" \"a,b,,c\" }} {{ sprig_split \".\" \"a.b\" }} {{ sprig_sortAlpha (sprig_list \"b\" \"C\" \"a\" \"10\" \"9\") }}",
	 "a,1,b x [a b  c] map[_0:a _1:b] [10 9 C a b]"},
	{"{{ sprig_concat (sprig_list 1) (sprig_list 2 3) }} {{ sprig_until 3 }} {{ sprig_until -3 }} {{ sprig_untilStep 0 10 3 }} {{ sprig_toStrings (sprig_list 1 \"a\" true) }}",
	 "[1 2 3] [0 1 2] [0 -1 -2] [0 3 6 9] [1 a true]"},
};

/* Sprig's dict functions, set and unset in place */
static const struct fcase sprig_dicts_cases[] = {
	{"{{ $d := sprig_dict \"a\" 1 \"b\" \"x\" }}{{ $d }} {{ sprig_get $d \"a\" }} {{ sprig_get $d \"z\" }}| {{ sprig_hasKey $d \"b\" }} {{ sprig_hasKey $d \"z\" }}",
	 "map[a:1 b:x] 1 | true false"},
	{"{{ $d := sprig_dict \"a\" 1 }}{{ $_ := sprig_set $d \"b\" 2 }}{{ $d }} {{ $_ := sprig_unset $d \"a\" }}{{ $d }}",
	 "map[a:1 b:2] map[b:2]"},
	{"{{ $d := sprig_dict \"b\" 1 \"a\" 2 }}{{ sprig_keys $d | sprig_sortAlpha }} {{ sprig_pluck \"a\" $d (sprig_dict \"a\" 3) (sprig_dict \"c\" 1) }}",
	 "[a b] [2 3]"},
	{"{{ sprig_pick (sprig_dict \"a\" 1 \"b\" 2 \"c\" 3) \"a\" \"c\" }} {{ sprig_omit (sprig_dict \"a\" 1 \"b\" 2 \"c\" 3) \"a\" }} {{ sprig_dict \"k\" }}",
	 "map[a:1 c:3] map[b:2 c:3] map[k:]"},
	{"{{ sprig_merge (sprig_dict \"a\" 1 \"b\" \"\") (sprig_dict \"a\" 2 \"b\" 3 \"c\" 4) }} {{ sprig_mergeOverwrite (sprig_dict \"a\" 1 \"n\" (sprig_dict \"x\" 1)) (sprig_dict \"a\" 2 \"n\" (sprig_dict \"y\" 2)) }}",
	 "map[a:1 b:3 c:4] map[a:2 n:map[x:1 y:2]]"},
};

/* toTOML as BurntSushi/toml writes it */
static const struct fcase ct_toml_cases[] = {
	{"{{ toTOML (sprig_dict \"name\" \"web\" \"port\" 8080 \"ratio\" 0.25 \"on\" true \"big\" 1e21 \"small\" 0.000001 \"whole\" 2.5) }}",
	 "big = 1000000000000000000000.0\nname = \"web\"\non = true\nport = 8080\nratio = 0.25\nsmall = 0.000001\nwhole = 2.5"},
	{"{{ toTOML (parseYAML \"title: x\\nowner:\\n  name: Tom\\n  dob: 1979\\ndatabase:\\n  ports: [8000, 8001]\\n  data: [[\\\"delta\\\", \\\"phi\\\"], [3.14]]\\n  temp: {cpu: 79.5, case: 72.5}\\nservers:\\n- name: alpha\\n  ip: 10.0.0.1\\n- name: beta\\n  ip: 10.0.0.2\\n\") }}",
	 "title = \"x\"\n\n[database]\n  data = [[\"delta\", \"phi\"], [3.14]]\n  ports = [8000, 8001]\n  [database.temp]\n    case = 72.5\n    cpu = 79.5\n\n[owner]\n  dob = 1979\n  name = \"Tom\"\n\n[[servers]]\n  ip = \"10.0.0.1\"\n  name = \"alpha\"\n\n[[servers]]\n  ip = \"10.0.0.2\"\n  name = \"beta\""},
	{"{{ toTOML (sprig_dict \"a b\" 1 \"\" 2 \"k.j\" 3 \"q\\\"x\" \"v\\n\\\"t\\\"\\\\\" \"tab\" \"a\\tb\\u0001\") }}",
	 "\"\" = 2\n\"a b\" = 1\n\"k.j\" = 3\n\"q\\\"x\" = \"v\\n\\\"t\\\"\\\\\"\ntab = \"a\\tb\\u0001\""},
	{"{{ toTOML (sprig_dict \"l\" (sprig_list (sprig_dict \"x\" 1) 2) \"e\" (sprig_list) \"m\" (sprig_dict) \"n\" nil) }}",
	 "e = []\nl = [{x = 1}, 2]\n\n[m]"},
	{"{{ toTOML (parseYAML \"a:\\n  b:\\n    c:\\n      d: 1\\n    e: 2\\n  f: [{g: 1}]\\n\") }}",
	 "[a]\n  [a.b]\n    e = 2\n    [a.b.c]\n      d = 1\n\n  [[a.f]]\n    g = 1"},
	{"{{ toTOML (sprig_dict \"t\" (sprig_list (sprig_dict \"k\" (sprig_dict \"z\" 1) \"a\" 2))) }}",
	 "[[t]]\n  a = 2\n  [t.k]\n    z = 1"},
};

/* toUnescapedJSON, toUnescapedJSONPretty, sprig_toRawJson */
static const struct fcase unescaped_json_cases[] = {
	{"{{ toUnescapedJSON (sprig_dict \"a\" \"<b>&\\\\u003c\" \"c\" (sprig_list 1 \"x>y\")) }}",
	 "{\"a\":\"<b>&\\\\u003c\",\"c\":[1,\"x>y\"]}"},
	{"{{ toUnescapedJSONPretty (sprig_dict \"a\" \"<b>\" \"c\" (sprig_list 1 (sprig_dict))) }}",
	 "{\n  \"a\": \"<b>\",\n  \"c\": [\n    1,\n    {}\n  ]\n}"},
	{"{{ sprig_toRawJson (sprig_dict \"h\" \"<&>\") }} {{ sprig_mustToJson (sprig_list \"<\") }}",
	 "{\"h\":\"<&>\"} [\"\\u003c\"]"},
};

/* Sprig's other regex functions, fromJson, path functions */
static const struct fcase sprig_regex_json_paths_cases[] = {
	{"{{ sprig_regexFind \"[0-9]+\" \"abc123def456\" }}|{{ sprig_regexFind \"z\" \"abc\" }}|{{ sprig_regexFindAll \"[0-9]+\" \"a1b22c333\" -1 }}|{{ sprig_regexFindAll \"[0-9]+\" \"a1b22c333\" 2 }}|{{ sprig_regexFindAll \"x*\" \"axb\" -1 }}|{{ sprig_regexFindAll \"q\" \"abc\" -1 }}",
	 "123||[1 22 333]|[1 22]|[ x ]|[]"},
	{"{{ sprig_regexSplit \"z+\" \"pizza\" -1 }}|{{ sprig_regexSplit \"z+\" \"pizza\" 1 }}|{{ sprig_regexSplit \",\" \"a,b,c\" 2 }}|{{ sprig_regexSplit \"x*\" \"abc\" -1 }}|{{ sprig_regexSplit \",\" \"\" -1 }}|{{ sprig_regexSplit \",\" \"a\" 0 }}",
	 "[pi a]|[pizza]|[a b,c]|[a b c]|[]|[]"},
	{"{{ sprig_regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"${1}\" }}|{{ sprig_regexQuoteMeta \"1.5*[x]+$\" }}",
	 "-${1}-${1}-|1\\.5\\*\\[x\\]\\+\\$"},
	{"{{ sprig_fromJson \"{\\\"a\\\": [1, 2.5, \\\"x\\\"], \\\"b\\\": null}\" | toJSON }}|{{ sprig_fromJson \"nope\" }}|{{ (sprig_fromJson \"{\\\"k\\\": \\\"v\\\"}\").k }}",
	 "{\"a\":[1,2.5,\"x\"],\"b\":null}|<no value>|v"},
	{"{{ sprig_base \"/a/b.txt\" }} {{ sprig_base \"/a/b/\" }} {{ sprig_base \"\" }} {{ sprig_base \"/\" }} {{ sprig_dir \"/a/b/c\" }} {{ sprig_dir \"c\" }} {{ sprig_dir \"/a//b/../c/\" }} {{ sprig_ext \"x/y.tar.gz\" }} {{ sprig_ext \"x.d/y\" }}|{{ sprig_clean \"a/../../b/./c//\" }} {{ sprig_clean \"/../x\" }} {{ sprig_clean \"\" }} {{ sprig_isAbs \"/x\" }} {{ sprig_isAbs \"x\" }}",
	 "b.txt b . / /a/b . /a/c .gz |../b/c /x . true false"},
	{"{{ sprig_seq 5 }}|{{ sprig_seq -3 }}|{{ sprig_seq 0 }}|{{ sprig_seq 2 5 }}|{{ sprig_seq 5 2 }}|{{ sprig_seq 0 2 10 }}|{{ sprig_seq 10 -3 1 }}|{{ sprig_seq 10 3 1 }}|{{ sprig_seq }}",
	 "1 2 3 4 5|1 0 -1 -2 -3|1 0|2 3 4 5|5 4 3 2|0 2 4 6 8 10|10 7 4 1||"},
	{"{{ $d := sprig_dict \"a\" (sprig_dict \"b\" (sprig_dict \"c\" 1)) }}{{ sprig_dig \"a\" \"b\" \"c\" \"dflt\" $d }} {{ sprig_dig \"a\" \"x\" \"c\" \"dflt\" $d }} {{ sprig_dig \"a\" \"dflt\" $d }}",
	 "1 dflt map[b:map[c:1]]"},
};

/* date, dateInZone, sha*sum, adler32sum, int, float64, math */
static const struct fcase sprig_dates_hashes_numbers_cases[] = {
	{"{{ sprig_date \"2006-01-02 15:04\" 1700000000 }} {{ sprig_dateInZone \"Jan 2, 2006\" 1700000000 \"UTC\" }}",
	 "2023-11-14 22:13 Nov 14, 2023"},
	{"{{ sprig_sha256sum \"abc\" }} {{ sprig_sha1sum \"abc\" }} {{ sprig_adler32sum \"abc\" }}",
	 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad a9993e364706816aba3e25717850c26c9cd0d89d 38600999"},
	{"{{ sprig_int \"42\" }} {{ sprig_int 3.9 }} {{ sprig_int \"0x10\" }} {{ sprig_int \"abc\" }} {{ sprig_int64 \"12.0\" }} {{ sprig_float64 \"1.5\" }} {{ sprig_toString 12 }} {{ sprig_toString 1.5 }} {{ sprig_atoi \"12\" }} {{ sprig_atoi \"x\" }}",
	 "42 3 16 0 12 1.5 12 1.5 12 0"},
	{"{{ sprig_add 1 2 3 }} {{ sprig_add1 5 }} {{ sprig_sub 10 3 }} {{ sprig_mul 2 3 4 }} {{ sprig_div 7 2 }} {{ sprig_mod 7 3 }} {{ sprig_max 1 5 3 }} {{ sprig_min 4 2 8 }} {{ sprig_add \"2\" 3 }} {{ sprig_biggest 1 9 }}",
	 "6 6 7 24 3 1 5 2 5 9"},
	{"{{ sprig_floor 1.5 }} {{ sprig_ceil 1.2 }} {{ sprig_round 3.14159 2 }} {{ sprig_round 2.5 0 }} {{ sprig_maxf 1 2.5 }} {{ sprig_minf 1 2.5 }}",
	 "1 2 3.14 3 2.5 1"},
	/* Sprig rounds a negative fraction down; negative places round to tens. */
	{"{{ sprig_round -2.5 0 }} {{ sprig_round -1.24 1 }} {{ sprig_round 1234.5678 -2 }} {{ sprig_round 0.000123456 5 }} {{ sprig_maxf 3 -1 7.5 2 }} {{ sprig_minf 3 -1 7.5 2 }}",
	 "-3 -1.3 1200 0.00012 7.5 -1"},
	{"{{ sprig_substr 1 3 \"hello\" }} {{ sprig_trunc 3 \"hello\" }} {{ sprig_trunc -2 \"hello\" }} {{ sprig_cat \"a\" 1 nil \"b\" }} {{ sprig_plural \"one\" \"many\" 1 }} {{ sprig_plural \"one\" \"many\" 2 }}",
	 "el hel lo a 1 b one many"},
};

/* ------------------------------------------------------------------ */

static void
test_ct_strings_and_encodings_render_as_consul_template(void **state)
{
	(void)state;
	EXPECT_TABLE(ct_strings_and_encodings_cases);
}

static void
test_ct_parse_functions_read_as_go_strconv(void **state)
{
	(void)state;
	EXPECT_TABLE(ct_parse_cases);
}

static void
test_regex_functions_follow_go_syntax_and_replace_all(void **state)
{
	(void)state;
	EXPECT_TABLE(regex_cases);
}

static void
test_ct_lists_and_maps_render_as_consul_template(void **state)
{
	(void)state;
	EXPECT_TABLE(ct_lists_and_maps_cases);
}

static void
test_ct_math_keeps_go_int_and_float_results(void **state)
{
	(void)state;
	EXPECT_TABLE(ct_math_cases);
}

static void
test_yaml_output_matches_yaml_v2_byte_for_byte(void **state)
{
	(void)state;
	EXPECT_TABLE(yaml_cases);
}

static void
test_ct_toml_output_matches_burntsushi_toml(void **state)
{
	(void)state;
	EXPECT_TABLE(ct_toml_cases);
	expect("{{ toTOML \"x\" }}", "\"x\"");
	expect_err("{{ toTOML (sprig_list (sprig_dict)) }}",
		   "t.tpl:1:4: toTOML: toml: top-level values must be Go maps or structs");
	expect_err("{{ toTOML (sprig_dict \"l\" (sprig_list 1 nil)) }}",
		   "t.tpl:1:4: toTOML: toml: cannot encode array with nil element");
}

static void
test_unescaped_json_keeps_html_characters(void **state)
{
	(void)state;
	EXPECT_TABLE(unescaped_json_cases);
}

static void
test_sprig_regex_json_and_path_functions_render_as_sprig(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_regex_json_paths_cases);
	expect_err("{{ sprig_mustFromJson \"{\" }}",
		   "t.tpl:1:4: sprig_mustFromJson: invalid JSON");
}

static void
test_sprig_strings_render_as_sprig(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_strings_cases);
}

static void
test_sprig_defaults_follow_sprig_emptiness(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_defaults_cases);
}

static void
test_sprig_lists_render_as_sprig(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_lists_cases);
}

static void
test_sprig_dicts_render_as_sprig_and_set_changes_in_place(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_dicts_cases);
}

static void
test_sprig_dates_hashes_and_numbers_render_as_sprig(void **state)
{
	(void)state;
	EXPECT_TABLE(sprig_dates_hashes_numbers_cases);
}

/* ------------------------------------------------------------------ */
/* This engine's own behaviour                                          */

static void
test_every_documented_function_name_resolves(void **state)
{
	static const char *const names[] = {
		"add", "base64URLDecode", "base64URLEncode", "containsAll",
		"containsAny", "containsNone", "containsNotAll", "divide",
		"envOrDefault", "explodeMap", "hmacSHA256Hex", "in", "indent",
		"loop", "maximum", "md5sum", "mergeMap", "mergeMapWithOverride",
		"minimum", "modulo", "multiply", "mustEnv", "parseBool",
		"parseFloat", "parseInt", "parseUint", "parseYAML", "regexMatch",
		"regexReplaceAll", "splitToMap", "subtract", "toTOML", "toTitle",
		"toUnescapedJSON", "toUnescapedJSONPretty", "toYAML",
		"trim", "trimPrefix", "trimSuffix",
		"sprig_add", "sprig_add1", "sprig_adler32sum", "sprig_all",
		"sprig_any", "sprig_append", "sprig_atoi", "sprig_b64dec",
		"sprig_b64enc", "sprig_biggest", "sprig_cat", "sprig_ceil",
		"sprig_coalesce", "sprig_compact", "sprig_concat",
		"sprig_contains", "sprig_date", "sprig_dateInZone",
		"sprig_date_in_zone", "sprig_default", "sprig_dict", "sprig_div",
		"sprig_empty", "sprig_env", "sprig_fail", "sprig_first",
		"sprig_float64", "sprig_floor", "sprig_get", "sprig_has",
		"sprig_hasKey", "sprig_hasPrefix", "sprig_hasSuffix",
		"sprig_indent", "sprig_initial", "sprig_int", "sprig_int64",
		"sprig_join", "sprig_keys", "sprig_last", "sprig_list",
		"sprig_lower", "sprig_max", "sprig_maxf", "sprig_merge",
		"sprig_mergeOverwrite", "sprig_min", "sprig_minf", "sprig_mod",
		"sprig_mul", "sprig_nindent", "sprig_nospace", "sprig_now",
		"sprig_omit", "sprig_pick", "sprig_pluck", "sprig_plural",
		"sprig_prepend", "sprig_push", "sprig_quote", "sprig_randAlpha",
		"sprig_randAlphaNum", "sprig_randAscii", "sprig_randNumeric",
		"sprig_regexMatch", "sprig_regexReplaceAll", "sprig_repeat",
		"sprig_replace", "sprig_rest", "sprig_reverse", "sprig_round",
		"sprig_set", "sprig_sha1sum", "sprig_sha256sum",
		"sprig_sha512sum", "sprig_sortAlpha", "sprig_split",
		"sprig_splitList", "sprig_squote", "sprig_sub", "sprig_substr",
		"sprig_ternary", "sprig_title", "sprig_toJson",
		"sprig_toPrettyJson", "sprig_toString", "sprig_toStrings",
		"sprig_trim", "sprig_trimAll", "sprig_trimPrefix",
		"sprig_trimSuffix", "sprig_trimall", "sprig_trunc", "sprig_tuple",
		"sprig_uniq", "sprig_unixEpoch", "sprig_unset", "sprig_until",
		"sprig_untilStep", "sprig_untitle", "sprig_upper",
		"sprig_uuidv4", "sprig_values", "sprig_without", "sprig_base",
		"sprig_clean", "sprig_dir", "sprig_ext", "sprig_fromJson",
		"sprig_isAbs", "sprig_mustFromJson", "sprig_mustRegexFind",
		"sprig_mustRegexFindAll", "sprig_mustRegexMatch",
		"sprig_mustRegexReplaceAll", "sprig_mustRegexReplaceAllLiteral",
		"sprig_mustRegexSplit", "sprig_mustToJson",
		"sprig_mustToPrettyJson", "sprig_mustToRawJson", "sprig_regexFind",
		"sprig_regexFindAll", "sprig_regexQuoteMeta",
		"sprig_regexReplaceAllLiteral", "sprig_regexSplit",
		"sprig_toRawJson", "sprig_seq", "sprig_dig",
		/* and the first table's, still found */
		"and", "writeToFile", "toJSON", "secret",
	};
	char src[128], err[256];
	struct tmpl *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* A bare name in parentheses would call it; as an argument
		 * of "not" it is only resolved (the parser checks arity only
		 * when called with arguments too, so use "and"). */
		snprintf(src, sizeof(src), "{{ if false }}{{ %s }}{{ end }}", names[i]);
		t = NULL;
		if (tmpl_parse("t.tpl", src, NULL, NULL, &t, err, sizeof(err)) != 0 &&
		    strstr(err, "not defined") != NULL)
			fail_msg("%s: %s", names[i], err);
		tmpl_free(t);
	}
	assert_int_equal(tmpl_parse("t.tpl", "{{ sprig_nosuch 1 }}", NULL, NULL,
				    &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"sprig_nosuch\" not defined"));
}

static void
test_errors_name_the_function_and_never_the_value(void **state)
{
	(void)state;
	expect_err("{{ parseInt \"" SENTINEL "\" }}",
		   "t.tpl:1:4: parseInt: strconv.ParseInt: invalid syntax");
	expect_err("{{ parseInt \"99999999999999999999\" }}",
		   "t.tpl:1:4: parseInt: strconv.ParseInt: value out of range");
	expect_err("{{ parseUint \"-1\" }}",
		   "t.tpl:1:4: parseUint: strconv.ParseUint: invalid syntax");
	expect_err("{{ parseBool \"" SENTINEL "\" }}",
		   "t.tpl:1:4: parseBool: strconv.ParseBool: invalid syntax");
	expect_err("{{ parseFloat \"1x\" }}",
		   "t.tpl:1:4: parseFloat: strconv.ParseFloat: invalid syntax");
	expect_err("{{ indent -1 \"x\" }}",
		   "t.tpl:1:4: indent: indent value must be a positive integer");
	expect_err("{{ 1 | divide 0 }}",
		   "t.tpl:1:8: divide: runtime error: integer divide by zero");
	expect_err("{{ 1 | modulo 0.5 }}",
		   "t.tpl:1:8: modulo: unknown type for argument (float64)");
	expect_err("{{ add \"x\" 1 }}",
		   "t.tpl:1:4: add: unknown type for argument 1 (string)");
	expect_err("{{ mustEnv \"CERTAGENT_TEST_SURELY_UNSET\" }}",
		   "t.tpl:1:4: mustEnv: required environment variable "
		   "CERTAGENT_TEST_SURELY_UNSET is empty");
	expect_err("{{ base64URLDecode \"ab+/\" }}",
		   "t.tpl:1:4: base64URLDecode: illegal base64 data at input byte 2");
	expect_err("{{ parseYAML \"a: [" SENTINEL "\" }}",
		   "t.tpl:1:4: parseYAML: yaml: line ");
	expect_err("{{ toYAML \"\\xff\" }}",
		   "t.tpl:1:4: toYAML: invalid UTF-8 in a string");
	expect_err("{{ sprig_first \"" SENTINEL "\" }}",
		   "t.tpl:1:4: sprig_first: Cannot find first on type string");
	expect_err("{{ sprig_fail \"boom\" }}", "t.tpl:1:4: sprig_fail: boom");
	expect_err("{{ sprig_dateInZone \"2006\" 0 \"Europe/Paris\" }}",
		   "t.tpl:1:4: sprig_dateInZone: only the UTC time zone is supported");
	expect_err("{{ loop 0 2000000 }}",
		   "t.tpl:1:4: loop: more than 1000000 iterations");
}

/* Nine levels of ten aliases each: 10^9 nodes if expanded. */
static void
test_parse_yaml_refuses_exponential_aliases(void **state)
{
	char src[2048];
	size_t k;
	int i;
	char prev = 'a';

	(void)state;
	k = (size_t)snprintf(src, sizeof(src),
			     "{{ parseYAML \"a: &a [x, x, x, x, x, x, x, x, x, x]");
	for (i = 0; i < 8; i++) {
		char cur = (char)('b' + i);

		k += (size_t)snprintf(src + k, sizeof(src) - k,
				      "\\n%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, "
				      "*%c, *%c, *%c]", cur, cur, prev, prev, prev, prev,
				      prev, prev, prev, prev, prev, prev);
		prev = cur;
	}
	snprintf(src + k, sizeof(src) - k, "\" | len }}");
	expect_err(src, "t.tpl:1:4: parseYAML: document has more than 1048576 "
		   "nodes (excessive aliasing)");
	expect("{{ len (parseYAML \"a: &a [1, 2]\\nb: [*a, *a]\") }}", "2");
}

static void
test_regex_syntax_beyond_posix_is_a_clear_error(void **state)
{
	(void)state;
	expect_err("{{ regexReplaceAll \"a+?\" \"\" \"aa\" }}",
		   "t.tpl:1:4: regexReplaceAll: error parsing regexp: non-greedy "
		   "repetition (+?) is not supported");
	expect_err("{{ regexMatch \"a*?\" \"aa\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: non-greedy "
		   "repetition (*?) is not supported");
	expect_err("{{ regexMatch \"\\\\p{Greek}\" \"a\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: invalid or "
		   "unsupported escape sequence \\p");
	expect_err("{{ regexMatch \"(a)\\\\1\" \"aa\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: invalid or "
		   "unsupported escape sequence \\1");
	expect_err("{{ regexMatch \"a(?i)b\" \"aB\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: flags or group");
	expect_err("{{ regexMatch \"[a\" \"a\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: missing closing ]");
	expect_err("{{ regexMatch \"(a\" \"a\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: ");
	expect_err("{{ regexMatch \"*a\" \"a\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: missing argument "
		   "to repetition operator");
	expect_err("{{ regexMatch \"a**\" \"a\" }}",
		   "t.tpl:1:4: regexMatch: error parsing regexp: invalid nested "
		   "repetition operator");
}

static void
test_env_functions_read_the_process_environment(void **state)
{
	(void)state;
	assert_int_equal(setenv("CERTAGENT_TEST_EMPTY", "", 1), 0);
	assert_int_equal(setenv("CERTAGENT_TEST_SET", "v1", 1), 0);
	expect("{{ envOrDefault \"CERTAGENT_TEST_EMPTY\" \"d\" }}|"
	       "{{ envOrDefault \"CERTAGENT_TEST_SET\" \"d\" }}|"
	       "{{ mustEnv \"CERTAGENT_TEST_SET\" }}|{{ sprig_env \"CERTAGENT_TEST_SET\" }}",
	       "|v1|v1|v1");
	expect_err("{{ mustEnv \"CERTAGENT_TEST_EMPTY\" }}",
		   "t.tpl:1:4: mustEnv: required environment variable "
		   "CERTAGENT_TEST_EMPTY is empty");
	unsetenv("CERTAGENT_TEST_EMPTY");
	unsetenv("CERTAGENT_TEST_SET");
}

static void
test_random_functions_give_the_asked_length_and_alphabet(void **state)
{
	char err[256], *a, *b;
	size_t len, i;

	(void)state;
	assert_int_equal(run("{{ sprig_randAlphaNum 64 }}", &a, &len, err,
			     sizeof(err)), 0);
	assert_int_equal(run("{{ sprig_randAlphaNum 64 }}", &b, &len, err,
			     sizeof(err)), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 64);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(run("{{ sprig_randNumeric 20 }}|{{ sprig_randAlpha 20 }}|"
			     "{{ sprig_randAscii 20 }}", &a, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 62);
	assert_int_equal(strspn(a, "0123456789"), 20);
	assert_int_equal(strspn(a + 21, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 20);
	for (i = 42; i < 62; i++)
		assert_true(a[i] >= ' ' && a[i] <= '~');
	free(a);
	assert_int_equal(run("{{ sprig_uuidv4 }}", &a, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a[i]));
	}
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	free(a);
}

static void
test_sprig_now_is_the_clock_in_unix_seconds(void **state)
{
	(void)state;
	expect("{{ sprig_now | sprig_date \"2006-01-02T15:04:05Z07:00\" }} "
	       "{{ sprig_now | sprig_unixEpoch }} "
	       "{{ sprig_dateInZone \"15:04\" sprig_now \"UTC\" }}",
	       "2023-11-14T22:13:20Z 1700000000 22:13");
}

static void
test_functions_on_vault_data_leave_it_unchanged(void **state)
{
	(void)state;
	expect("{{ with secret \"kv/app\" }}"
	       "{{ $d := sprig_set .Data \"user\" \"bob\" }}{{ $d.user }} {{ .Data.user }} "
	       "{{ $m := mergeMapWithOverride .Data (sprig_dict \"port\" 1) }}"
	       "{{ $m.port }} {{ .Data.port }}{{ end }}",
	       "bob alice 1 5432");
	expect("{{ with secret \"kv/app\" }}{{ .Data.nested | toYAML }}|"
	       "{{ splitToMap \",\" \":\" .Data.csv | toJSON }}|"
	       "{{ .Data.port | add 1 }}|{{ sprig_default \"x\" .Data.missing }}|"
	       "{{ sprig_hasKey .Data \"user\" }}{{ end }}",
	       "a:\n- 1\n- 2\nm: {}\nz: 1|{\"a\":\"1\",\"b\":\"2\"}|5433|x|true");
	expect("{{ with secret \"kv/app\" }}{{ toYAML . }}{{ end }}",
	       "requestid: r-1\nleaseid: \"\"\nleaseduration: 60\nrenewable: false\n"
	       "data:\n  csv: a:1,b:2\n  nested:\n    a:\n    - 1\n    - 2\n"
	       "    m: {}\n    z: 1\n  password: " SENTINEL "\n  port: 5432\n"
	       "  user: alice\nwarnings: []\nauth: null\nwrapinfo: null");
}

static void
test_sprig_b64dec_answers_go_error_text(void **state)
{
	(void)state;
	expect("{{ sprig_b64dec \"a\" }}|{{ sprig_b64dec \"aGk=\" }}",
	       "illegal base64 data at input byte 0|hi");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_ct_strings_and_encodings_render_as_consul_template),
		T(test_ct_parse_functions_read_as_go_strconv),
		T(test_regex_functions_follow_go_syntax_and_replace_all),
		T(test_ct_lists_and_maps_render_as_consul_template),
		T(test_ct_math_keeps_go_int_and_float_results),
		T(test_yaml_output_matches_yaml_v2_byte_for_byte),
		T(test_ct_toml_output_matches_burntsushi_toml),
		T(test_unescaped_json_keeps_html_characters),
		T(test_sprig_regex_json_and_path_functions_render_as_sprig),
		T(test_sprig_strings_render_as_sprig),
		T(test_sprig_defaults_follow_sprig_emptiness),
		T(test_sprig_lists_render_as_sprig),
		T(test_sprig_dicts_render_as_sprig_and_set_changes_in_place),
		T(test_sprig_dates_hashes_and_numbers_render_as_sprig),
		T(test_every_documented_function_name_resolves),
		T(test_errors_name_the_function_and_never_the_value),
		T(test_regex_syntax_beyond_posix_is_a_clear_error),
		T(test_parse_yaml_refuses_exponential_aliases),
		T(test_env_functions_read_the_process_environment),
		T(test_random_functions_give_the_asked_length_and_alphabet),
		T(test_sprig_now_is_the_clock_in_unix_seconds),
		T(test_functions_on_vault_data_leave_it_unchanged),
		T(test_sprig_b64dec_answers_go_error_text),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
