/*
 * Unit tests for buf.c: appending, the cap, sticky failure, formatting,
 * Prometheus quoting, taking the text, and the wiping frees.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void
test_appends_keep_text_nul_terminated_and_counted(void **state)
{
	struct buf b = BUF_INIT(0);
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(buf_puts(&b, "abc"), 0);
	assert_int_equal(buf_putc(&b, '-'), 0);
	assert_int_equal(buf_fill(&b, 'x', 3), 0);
	assert_int_equal(buf_printf(&b, "%d/%s", 42, "z"), 0);
	assert_int_equal(buf_append(&b, "\0q", 2), 0);	/* NUL bytes are data */
	assert_int_equal(b.len, 13);
	assert_string_equal(b.s, "abc-xxx42/z");
	s = buf_take(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 13);
	assert_memory_equal(s, "abc-xxx42/z\0q", 13);
	assert_int_equal(s[13], '\0');
	assert_null(b.s);
	assert_int_equal(b.len, 0);
	free(s);
}

static void
test_growth_past_the_first_block_keeps_every_byte(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "%04d", i % 10000), 0);
	assert_int_equal(b.len, 40000);
	for (int i = 0; i < 10000; i += 997) {
		char want[16];
		snprintf(want, sizeof(want), "%04d", i);
		assert_memory_equal(b.s + 4 * i, want, 4);
	}
	buf_free(&b);
	assert_null(b.s);
}

static void
test_the_cap_is_an_error_that_sticks(void **state)
{
	struct buf b = BUF_INIT(8);
	size_t len = 99;

	(void)state;
	assert_int_equal(buf_puts(&b, "12345678"), 0);	/* exactly the cap */
	assert_int_equal(buf_putc(&b, '9'), -E2BIG);
	assert_int_equal(buf_puts(&b, ""), -E2BIG);	/* sticky */
	assert_int_equal(buf_printf(&b, "%s", "x"), -E2BIG);
	assert_int_equal(b.len, 8);
	assert_null(buf_take(&b, &len));
	assert_int_equal(len, 0);
	/* Reusable afterwards, with the same cap. */
	assert_int_equal(buf_puts(&b, "ok"), 0);
	assert_int_equal(buf_printf(&b, "%0100d", 1), -E2BIG);
	buf_free(&b);
}

static void
test_a_cap_of_size_max_does_not_wrap(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);

	(void)state;
	assert_int_equal(buf_puts(&b, "fits"), 0);
	assert_string_equal(b.s, "fits");
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 2), -E2BIG);
	buf_free(&b);
}

static void
test_take_of_an_empty_buffer_is_an_empty_string(void **state)
{
	struct buf b = BUF_INIT(0);
	size_t len = 7;
	char *s;

	(void)state;
	s = buf_take(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
}

static void
test_quoted_escapes_what_prometheus_label_values_need(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_int_equal(buf_quoted(&b, "a\"b\\c\nd\te"), 0);
	assert_string_equal(b.s, "a\\\"b\\\\c\\nd\te");
	buf_free(&b);
}

static void
test_a_secret_buffer_grows_and_wipes(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	b.secret = 1;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_puts(&b, "-----KEY-----"), 0);
	assert_int_equal(b.len, 13000);
	assert_memory_equal(b.s + 12987, "-----KEY-----", 13);
	buf_wipe(&b);
	assert_null(b.s);
	assert_int_equal(b.cap, 0);
	secret_free(NULL);
	secret_free_len(NULL, 10);
	secret_free(strdup("a secret"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appends_keep_text_nul_terminated_and_counted),
		cmocka_unit_test(test_growth_past_the_first_block_keeps_every_byte),
		cmocka_unit_test(test_the_cap_is_an_error_that_sticks),
		cmocka_unit_test(test_a_cap_of_size_max_does_not_wrap),
		cmocka_unit_test(test_take_of_an_empty_buffer_is_an_empty_string),
		cmocka_unit_test(test_quoted_escapes_what_prometheus_label_values_need),
		cmocka_unit_test(test_a_secret_buffer_grows_and_wipes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
