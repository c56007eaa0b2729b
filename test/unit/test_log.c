/*
 * Unit tests for log.c: levels, JSON lines, and redaction of registered
 * secrets.  stderr is redirected to a pipe to read what was written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char out[65536];

/* Run FN with stderr captured into OUT. */
static void
capture(void (*fn)(void))
{
	int fds[2], saved = dup(2);
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], 2);
	close(fds[1]);
	fn();
	dup2(saved, 2);
	close(saved);
	n = read(fds[0], out, sizeof(out) - 1);
	out[n < 0 ? 0 : n] = '\0';
	close(fds[0]);
}

static void
emit_levels(void)
{
	log_debug("t", "hidden debug");
	log_info("t", "shown info");
	log_error("t", "shown error");
}

static void
test_level_filters_lines(void **state)
{
	(void)state;
	log_setup(LOGL_INFO, 0);
	capture(emit_levels);
	assert_null(strstr(out, "hidden debug"));
	assert_non_null(strstr(out, "info  t: shown info\n"));
	assert_non_null(strstr(out, "error t: shown error\n"));
}

static void
emit_json(void)
{
	log_warn("auth", "quote \" backslash \\ newline \n end");
}

static void
test_json_lines_are_escaped_objects(void **state)
{
	(void)state;
	log_setup(LOGL_DEBUG, 1);
	capture(emit_json);
	assert_non_null(strstr(out, "\"level\":\"warn\""));
	assert_non_null(strstr(out, "\"module\":\"auth\""));
	assert_non_null(strstr(out, "\"msg\":\"quote \\\" backslash \\\\ newline \\n end\"}\n"));
	/* exactly one line */
	assert_int_equal(strchr(out, '\n'), out + strlen(out) - 1);
	log_setup(LOGL_INFO, 0);
}

static void
emit_secret(void)
{
	log_info("t", "token is hvs.SECRETSECRET123 and again hvs.SECRETSECRET123!");
}

static void
test_registered_secret_is_redacted(void **state)
{
	(void)state;
	log_setup(LOGL_INFO, 0);
	log_redact_add("hvs.SECRETSECRET123");
	capture(emit_secret);
	assert_null(strstr(out, "SECRETSECRET"));
	assert_non_null(strstr(out, "token is [redacted] and again [redacted]!"));
	log_redact_remove("hvs.SECRETSECRET123");
	capture(emit_secret);
	assert_non_null(strstr(out, "hvs.SECRETSECRET123"));
	log_redact_clear();
}

static void
test_level_parse(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOGL_DEBUG);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOGL_WARN);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOGL_WARN);
	assert_int_equal(log_level_parse("loud", &l), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_filters_lines),
		cmocka_unit_test(test_json_lines_are_escaped_objects),
		cmocka_unit_test(test_registered_secret_is_redacted),
		cmocka_unit_test(test_level_parse),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
