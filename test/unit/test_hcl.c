/*
 * Unit tests for import/hcl.c: blocks with labels, attributes of every
 * value type, repeated blocks kept in order, the three comment styles,
 * escapes and heredocs (<<EOF and the indented <<-EOF), the JSON form,
 * and errors that carry file:line:col; then import/vault_agent.c on
 * small inputs: what is written, what is reported, and `$` doubled.
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

#include "buf.h"
#include "import/hcl.h"
#include "import/vault_agent.h"

static struct hcl_node *
parse_ok(const char *text)
{
	struct hcl_node *root = NULL;
	char err[256];
	int rc = hcl_parse("t.hcl", text, strlen(text), &root, err, sizeof(err));

	if (rc != 0)
		print_error("unexpected parse error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(root);
	return root;
}

static void
parse_err(const char *text, const char *want)
{
	struct hcl_node *root = NULL;
	char err[256];
	int rc = hcl_parse("t.hcl", text, strlen(text), &root, err, sizeof(err));

	assert_int_not_equal(rc, 0);
	assert_null(root);
	if (strstr(err, want) == NULL)
		print_error("error '%s' lacks '%s'\n", err, want);
	assert_non_null(strstr(err, want));
}

static void
test_attributes_of_every_type(void **state)
{
	struct hcl_node *r = parse_ok("a = \"s\"\nb = 12\nc = true\nd = false\n"
				      "e = [1, \"x\", [2]]\nf = { g = 1 }\nh = null\n"
				      "i = -3.5e2\n");
	(void)state;
	assert_int_equal(r->n, 8);
	assert_string_equal(hcl_text(r, "a"), "s");
	assert_int_equal(hcl_next(r, "a", NULL)->type, HCL_STRING);
	assert_string_equal(hcl_text(r, "b"), "12");
	assert_int_equal(hcl_next(r, "b", NULL)->type, HCL_NUMBER);
	assert_int_equal(hcl_next(r, "c", NULL)->type, HCL_BOOL);
	assert_int_equal(hcl_next(r, "c", NULL)->b, 1);
	assert_string_equal(hcl_text(r, "d"), "false");
	assert_int_equal(hcl_next(r, "e", NULL)->type, HCL_LIST);
	assert_int_equal(hcl_next(r, "e", NULL)->n, 3);
	assert_int_equal(hcl_next(r, "e", NULL)->items[2].type, HCL_LIST);
	assert_int_equal(hcl_next(r, "f", NULL)->type, HCL_OBJECT);
	assert_string_equal(hcl_text(hcl_next(r, "f", NULL), "g"), "1");
	assert_int_equal(hcl_next(r, "h", NULL)->type, HCL_NULL);
	assert_string_equal(hcl_text(r, "i"), "-3.5e2");
	hcl_free(r);
}

static void
test_blocks_keep_labels_order_and_repeats(void **state)
{
	struct hcl_node *r = parse_ok(
		"template { destination = \"/a\" }\n"
		"listener \"tcp\" {\n  address = \"x\"\n}\n"
		"template { destination = \"/b\" }\n"
		"a \"one\" two { }\n");
	const struct hcl_node *t1, *t2, *l;

	(void)state;
	t1 = hcl_next(r, "template", NULL);
	t2 = hcl_next(r, "template", t1);
	assert_non_null(t2);
	assert_null(hcl_next(r, "template", t2));
	assert_string_equal(hcl_text(t1, "destination"), "/a");
	assert_string_equal(hcl_text(t2, "destination"), "/b");
	assert_int_equal(t1->block, 1);
	l = hcl_next(r, "listener", NULL);
	assert_int_equal(l->n_labels, 1);
	assert_string_equal(l->labels[0], "tcp");
	assert_int_equal(l->line, 2);
	assert_int_equal(l->col, 1);
	assert_int_equal(hcl_next(l, "address", NULL)->line, 3);
	assert_int_equal(hcl_next(l, "address", NULL)->col, 3);
	assert_int_equal(hcl_next(r, "a", NULL)->n_labels, 2);
	assert_string_equal(hcl_next(r, "a", NULL)->labels[1], "two");
	hcl_free(r);
}

static void
test_three_comment_styles_are_skipped(void **state)
{
	struct hcl_node *r = parse_ok("# hash\n// slashes\n/* a\nblock */ a = 1 "
				      "/* inline */\nb = \"# not a comment\"\n");

	(void)state;
	assert_int_equal(r->n, 2);
	assert_int_equal(hcl_next(r, "a", NULL)->line, 4);
	assert_string_equal(hcl_text(r, "b"), "# not a comment");
	hcl_free(r);
}

static void
test_string_escapes_and_interpolation_stay_text(void **state)
{
	struct hcl_node *r = parse_ok(
		"a = \"q\\\"b\\\\n\\n\\t\\u00e9\\ud83d\\ude00\"\n"
		"b = \"{{ with secret \\\"x\\\" }}${env(\"HOME\")}\"\n");

	(void)state;
	assert_string_equal(hcl_text(r, "a"), "q\"b\\n\n\t\xc3\xa9\xf0\x9f\x98\x80");
	assert_string_equal(hcl_text(r, "b"),
			    "{{ with secret \"x\" }}${env(\"HOME\")}");
	hcl_free(r);
}

static void
test_heredoc_keeps_lines_and_indented_heredoc_strips(void **state)
{
	struct hcl_node *r = parse_ok(
		"a = <<EOF\n  one\ntwo \"q\"\nEOF\n"
		"b = <<-EOT\n    x\n      y\n    EOT\n"
		"c = 1\n");

	(void)state;
	assert_string_equal(hcl_text(r, "a"), "  one\ntwo \"q\"\n");
	assert_string_equal(hcl_text(r, "b"), "x\n  y\n");
	assert_string_equal(hcl_text(r, "c"), "1");
	assert_int_equal(hcl_next(r, "c", NULL)->line, 9);
	hcl_free(r);
}

static void
test_json_form_parses_as_the_same_tree(void **state)
{
	struct hcl_node *r = parse_ok(
		"{\n \"vault\": {\"address\": \"https://v:8200\"},\n"
		" \"template\": [{\"destination\": \"/a\"}, {\"destination\": \"/b\"}],\n"
		" \"exit_after_auth\": true\n}\n");
	const struct hcl_node *t;

	(void)state;
	assert_string_equal(hcl_text(hcl_next(r, "vault", NULL), "address"),
			    "https://v:8200");
	t = hcl_next(r, "template", NULL);
	assert_int_equal(t->type, HCL_LIST);
	assert_int_equal(t->n, 2);
	assert_string_equal(hcl_text(&t->items[1], "destination"), "/b");
	assert_int_equal(hcl_next(r, "exit_after_auth", NULL)->b, 1);
	hcl_free(r);
}

static void
test_errors_carry_file_line_and_column(void **state)
{
	(void)state;
	parse_err("a = 1\nb = \n", "t.hcl:3:1: expected a value");
	parse_err("a {\n  b = 1\n", "t.hcl:3:1: expected a key or '}', found the end");
	parse_err("a = \"open\nb = 1\n", "t.hcl:1:5: a string that is not closed");
	parse_err("x = <<EOF\nno end\n", "t.hcl:1:5: heredoc <<EOF is never closed");
	parse_err("/* never", "t.hcl:1:1: a /* comment that is never closed");
	parse_err("a = [1 2]", "t.hcl:1:8: expected ',' or ']'");
	parse_err("a = bare", "t.hcl:1:5: a bare word 'bare'");
	parse_err("a \"l\" = 1", "t.hcl:1:7: expected '=' or a block's '{'");
	parse_err("a = \"\\q\"", "t.hcl:1:6: unknown escape \\q");
	parse_err("{\"a\": 1} x", "t.hcl:1:10: a word after the closing '}'");
	parse_err("a = @", "t.hcl:1:5: unexpected character '@'");
}

static void
test_nesting_and_size_are_capped(void **state)
{
	char deep[HCL_MAX_DEPTH * 2 + 16];
	size_t n = 0;
	struct hcl_node *r = NULL;
	char err[128];
	char *big;

	(void)state;
	n += (size_t)snprintf(deep, sizeof(deep), "a = ");
	for (int i = 0; i < HCL_MAX_DEPTH + 2; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	parse_err(deep, "nested more than");
	big = calloc(1, HCL_MAX_INPUT + 2);
	assert_non_null(big);
	memset(big, ' ', HCL_MAX_INPUT + 1);
	assert_int_equal(hcl_parse("t.hcl", big, HCL_MAX_INPUT + 1, &r, err,
				   sizeof(err)), -E2BIG);
	free(big);
	assert_int_equal(hcl_parse("t.hcl", "a = \"x\0y\"", 9, &r, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
}

/* ---- the conversion ---- */

static char *
convert(const char *text, unsigned flags, char **report, size_t *n_rep)
{
	struct buf out = BUF_INIT(0), rep = BUF_INIT(0);
	char err[256], *yaml;
	size_t len;
	int rc = va_import("agent.hcl", text, strlen(text), flags, &out, &rep,
			   n_rep, err, sizeof(err));

	if (rc != 0)
		print_error("va_import: %s\n", err);
	assert_int_equal(rc, 0);
	yaml = buf_take(&out, &len);
	*report = buf_take(&rep, &len);
	assert_non_null(yaml);
	assert_non_null(*report);
	return yaml;
}

static void
test_convert_maps_approle_and_its_sink(void **state)
{
	char *rep, *y;
	size_t n;

	(void)state;
	y = convert("vault { address = \"https://v:8200\" }\n"
		    "auto_auth {\n method \"approle\" {\n  mount_path = \"auth/ar/\"\n"
		    "  config = { role_id_file_path = \"/r\"\n secret_id_file_path = \"/s\" }\n"
		    " }\n sink \"file\" { config = { path = \"/t\"\n mode = 0600 } }\n}\n",
		    0, &rep, &n);
	assert_non_null(strstr(y, "  address: \"https://v:8200\"\n"));
	assert_non_null(strstr(y, "  method: \"approle\"\n  mount: \"ar\"\n"));
	assert_non_null(strstr(y, "  role_id_file: \"/r\"\n  secret_id_file: \"/s\"\n"));
	assert_non_null(strstr(y, "  token_sink:\n    path: \"/t\"\n    mode: \"0600\"\n"));
	assert_non_null(strstr(y, "    num_retries: 12\n"));
	assert_int_equal(n, 0);
	free(y);
	free(rep);
}

static void
test_convert_reports_what_has_no_equivalent_by_position(void **state)
{
	char *rep, *y;
	size_t n;

	(void)state;
	y = convert("pid_file = \"/p\"\ncache {}\nauto_auth {\n  method \"gcp\" {}\n}\n",
		    0, &rep, &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(rep, "agent.hcl:1:1: pid_file:"));
	assert_non_null(strstr(rep, "agent.hcl:2:1: cache:"));
	assert_non_null(strstr(rep, "agent.hcl:4:3: auto_auth.method \"gcp\""));
	assert_non_null(strstr(y, "# auth: not converted"));
	/* no address: Vault Agent's own default, through the environment */
	assert_non_null(strstr(y, "address: \"${VAULT_ADDR:-https://127.0.0.1:8200}\""));
	free(y);
	free(rep);
}

static void
test_convert_template_options_and_dollars(void **state)
{
	char *rep, *y;
	size_t n;

	(void)state;
	y = convert("template {\n contents = \"a ${b} $c\"\n destination = \"/d\"\n"
		    " perms = \"0640\"\n command = \"echo hi\"\n wait { min = \"1s\" }\n"
		    " sandbox_path = \"/x\"\n}\n"
		    "template {\n source = \"/s\"\n destination = \"/e\"\n"
		    " exec { command = [\"/bin/true\", \"a b\"]\n timeout = \"5s\" }\n}\n",
		    0, &rep, &n);
	assert_non_null(strstr(y, "  - contents: \"a $${b} $$c\"\n    destination: \"/d\"\n"
				  "    perms: \"0640\"\n    command: \"echo hi\"\n"
				  "    wait:\n      min: \"1s\"\n"));
	assert_non_null(strstr(y, "  - source: \"/s\"\n    destination: \"/e\"\n    exec:\n"
				  "      command: [\"/bin/true\", \"a b\"]\n"
				  "      timeout: \"5s\"\n"));
	assert_non_null(strstr(rep, "agent.hcl:7:2: template.sandbox_path:"));
	assert_non_null(strstr(rep, "agent.hcl:6:2: template.wait:"));
	free(y);
	free(rep);
}

static void
test_convert_suggest_makes_one_certificate_of_a_pair(void **state)
{
	char *rep, *y;
	size_t n;

	(void)state;
	y = convert("template {\n contents = \"{{ with pkiCert \\\"pki/issue/web\\\" "
		    "\\\"common_name=a.test\\\" \\\"alt_names=b.test,c.test\\\" "
		    "\\\"ttl=1h\\\" }}{{ .Cert }}{{ end }}\"\n destination = \"/tls/a.crt\"\n}\n"
		    "template {\n contents = \"{{- with pkiCert \\\"pki/issue/web\\\" "
		    "\\\"common_name=a.test\\\" \\\"alt_names=b.test,c.test\\\" "
		    "\\\"ttl=1h\\\" -}}{{ .Key }}{{ end }}\"\n destination = \"/tls/a.key\"\n"
		    " perms = \"0600\"\n}\n",
		    VA_SUGGEST, &rep, &n);
	assert_null(strstr(y, "templates:"));
	assert_non_null(strstr(y, "certificates:\n  - name: \"a.crt\"\n"
				  "    path: \"pki/issue/web\"\n"
				  "    common_name: \"a.test\"\n"
				  "    alt_names: [\"b.test\", \"c.test\"]\n"
				  "    ttl: \"1h\"\n    files:\n"
				  "      cert:\n        path: \"/tls/a.crt\"\n"
				  "      key:\n        path: \"/tls/a.key\"\n"
				  "        mode: \"0600\"\n"));
	free(y);
	free(rep);
	/* Without --suggest the templates stay templates. */
	y = convert("template {\n contents = \"{{ with pkiCert \\\"pki/issue/web\\\" "
		    "\\\"common_name=a.test\\\" }}{{ .Cert }}{{ end }}\"\n"
		    " destination = \"/tls/a.crt\"\n}\n", 0, &rep, &n);
	assert_non_null(strstr(y, "templates:"));
	assert_null(strstr(y, "certificates:"));
	free(y);
	free(rep);
}

static void
test_convert_reads_the_json_form(void **state)
{
	char *rep, *y;
	size_t n;

	(void)state;
	y = convert("{\"vault\": [{\"address\": \"https://v:8200\"}],\n"
		    " \"auto_auth\": {\"method\": [{\"type\": \"jwt\", \"config\": "
		    "[{\"role\": \"r\", \"path\": \"/jwt\"}]}],\n"
		    "  \"sink\": [{\"type\": \"file\", \"config\": {\"path\": \"/t\"}}]},\n"
		    " \"listener\": [{\"tcp\": {\"address\": \"127.0.0.1:9\", "
		    "\"tls_disable\": true}}],\n"
		    " \"template\": [{\"contents\": \"x\", \"destination\": \"/a\"}],\n"
		    " \"exit_after_auth\": false}\n", 0, &rep, &n);
	assert_non_null(strstr(y, "  address: \"https://v:8200\"\n"));
	assert_non_null(strstr(y, "  method: \"jwt\"\n  role: \"r\"\n  token_path: \"/jwt\"\n"));
	assert_non_null(strstr(y, "  token_sink:\n    path: \"/t\"\n"));
	assert_non_null(strstr(y, "listener:\n  address: \"127.0.0.1:9\"\n"));
	assert_non_null(strstr(y, "templates:\n  - contents: \"x\"\n    destination: \"/a\"\n"));
	assert_non_null(strstr(y, "exit_after_render: false\n"));
	assert_int_equal(n, 1);	/* the listener's note */
	free(y);
	free(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attributes_of_every_type),
		cmocka_unit_test(test_blocks_keep_labels_order_and_repeats),
		cmocka_unit_test(test_three_comment_styles_are_skipped),
		cmocka_unit_test(test_string_escapes_and_interpolation_stay_text),
		cmocka_unit_test(test_heredoc_keeps_lines_and_indented_heredoc_strips),
		cmocka_unit_test(test_json_form_parses_as_the_same_tree),
		cmocka_unit_test(test_errors_carry_file_line_and_column),
		cmocka_unit_test(test_nesting_and_size_are_capped),
		cmocka_unit_test(test_convert_maps_approle_and_its_sink),
		cmocka_unit_test(test_convert_reports_what_has_no_equivalent_by_position),
		cmocka_unit_test(test_convert_template_options_and_dollars),
		cmocka_unit_test(test_convert_suggest_makes_one_certificate_of_a_pair),
		cmocka_unit_test(test_convert_reads_the_json_form),
	};
	return cmocka_run_group_tests_name("hcl", tests, NULL, NULL);
}
