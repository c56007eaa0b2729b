/*
 * test_audit: the audit log's records, its file and its reopening.
 *
 * Each record must be one JSON object on one line with "time" and
 * "event" first; the file gets the configured mode; a rename and
 * audit_reopen() (logrotate, then SIGHUP) start a new file; a path that
 * cannot be opened keeps the old one; a registered secret is scrubbed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

static char dir[] = "/tmp/certagent-audit-XXXXXX";

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, (1 << 16) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* The lines of TEXT as parsed JSON objects; asserts each is one. */
static size_t
records(const char *text, cJSON **out, size_t max)
{
	size_t n = 0;

	for (const char *p = text; *p && n < max;) {
		const char *nl = strchr(p, '\n');
		char line[4096];
		assert_non_null(nl);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		out[n] = cJSON_Parse(line);
		if (out[n] == NULL)
			fail_msg("not JSON: %s", line);
		assert_non_null(cJSON_GetObjectItem(out[n], "time"));
		assert_string_equal(out[n]->child->string, "time");
		assert_string_equal(out[n]->child->next->string, "event");
		n++;
		p = nl + 1;
	}
	return n;
}

static void
test_records_are_json_lines_with_the_mode_asked_for(void **state)
{
	char path[256], data[256], err[256];
	struct audit_opts o = { path, 0640 };
	struct audit *a = NULL;
	struct stat st;
	cJSON *r[16];
	char *text;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(data, sizeof(data), "%s/file", dir);
	f = fopen(data, "w");
	fputs("abc", f);
	fclose(f);
	assert_int_equal(audit_new(&a), 0);
	assert_int_equal(audit_configure(a, &o, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	audit_token(a, "login", "approle", 0, NULL);
	audit_file(a, "web", data);
	audit_hook(a, "nginx", 0, 3, 0, 0, 42);
	audit_revocation(a, "web", "0a:1b", "pki_int", NULL);
	audit_reload(a, "/etc/x.yaml", "the file is not valid");
	text = slurp(path);
	n = records(text, r, 16);
	assert_int_equal(n, 5);
	assert_string_equal(cJSON_GetObjectItem(r[0], "event")->valuestring, "login");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r[0], "ok")));
	assert_string_equal(cJSON_GetObjectItem(r[1], "event")->valuestring,
			    "file_write");
	/* sha256("abc") */
	assert_string_equal(cJSON_GetObjectItem(r[1], "sha256")->valuestring,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(cJSON_GetObjectItem(r[1], "size")->valueint, 3);
	assert_string_equal(cJSON_GetObjectItem(r[1], "name")->valuestring, "web");
	assert_int_equal(cJSON_GetObjectItem(r[2], "exit_status")->valueint, 3);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r[2], "ok")));
	assert_string_equal(cJSON_GetObjectItem(r[3], "serial")->valuestring, "0a:1b");
	assert_string_equal(cJSON_GetObjectItem(r[4], "error")->valuestring,
			    "the file is not valid");
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(r[i]);
	free(text);
	audit_free(a);
}

static void
test_reopen_after_a_rename_starts_a_new_file(void **state)
{
	char path[256], moved[256], err[256];
	struct audit_opts o = { path, 0600 };
	struct audit *a = NULL;
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/rot.log", dir);
	snprintf(moved, sizeof(moved), "%s/rot.log.1", dir);
	assert_int_equal(audit_new(&a), 0);
	assert_int_equal(audit_configure(a, &o, err, sizeof(err)), 0);
	audit_token(a, "login", "cert", 0, NULL);
	assert_int_equal(rename(path, moved), 0);
	audit_token(a, "token_renewal", "cert", 0, NULL);	/* the old file */
	audit_reopen(a);
	audit_reload(a, "/etc/x.yaml", NULL);			/* the new one */
	text = slurp(moved);
	assert_non_null(strstr(text, "\"login\""));
	assert_non_null(strstr(text, "\"token_renewal\""));
	assert_null(strstr(text, "config_reload"));
	free(text);
	text = slurp(path);
	assert_non_null(strstr(text, "\"config_reload\""));
	assert_null(strstr(text, "login"));
	free(text);
	audit_free(a);
}

static void
test_an_unopenable_path_keeps_the_old_file_and_null_turns_it_off(void **state)
{
	char path[256], err[256], *text;
	struct audit_opts o = { path, 0600 }, bad = { "/nonexistent/dir/a.log", 0600 };
	struct audit_opts off = { NULL, 0 };
	struct audit *a = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/keep.log", dir);
	assert_int_equal(audit_new(&a), 0);
	assert_int_equal(audit_configure(a, &o, err, sizeof(err)), 0);
	assert_true(audit_configure(a, &bad, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/dir/a.log"));
	audit_reload(a, "/etc/x.yaml", NULL);
	assert_int_equal(audit_configure(a, &off, err, sizeof(err)), 0);
	audit_reload(a, "/etc/y.yaml", NULL);	/* nowhere */
	text = slurp(path);
	assert_non_null(strstr(text, "/etc/x.yaml"));
	assert_null(strstr(text, "/etc/y.yaml"));
	free(text);
	audit_free(a);
	audit_reload(NULL, "/etc/z.yaml", NULL);	/* no audit: a no-op */
}

static void
test_a_registered_secret_never_reaches_the_file(void **state)
{
	char path[256], err[256], *text;
	struct audit_opts o = { path, 0600 };
	struct audit *a = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/secret.log", dir);
	log_redact_add("hvs.SECRETSECRET123");
	assert_int_equal(audit_new(&a), 0);
	assert_int_equal(audit_configure(a, &o, err, sizeof(err)), 0);
	audit_token(a, "login", "approle", 0, "Vault said hvs.SECRETSECRET123 is bad");
	text = slurp(path);
	assert_null(strstr(text, "SECRETSECRET"));
	assert_non_null(strstr(text, "[redacted]"));
	free(text);
	audit_free(a);
	log_redact_clear();
}

static int
setup(void **state)
{
	(void)state;
	log_setup(LOGL_ERROR, 0);
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_are_json_lines_with_the_mode_asked_for),
		cmocka_unit_test(test_reopen_after_a_rename_starts_a_new_file),
		cmocka_unit_test(
			test_an_unopenable_path_keeps_the_old_file_and_null_turns_it_off),
		cmocka_unit_test(test_a_registered_secret_never_reaches_the_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
