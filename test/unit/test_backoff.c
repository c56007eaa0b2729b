/*
 * Unit tests for backoff.c: bounds of full-jitter backoff, and jitter that
 * is real (spread over its range, never collapsed to one value).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_delay_stays_within_min_and_doubling_cap(void **state)
{
	(void)state;
	for (unsigned attempt = 0; attempt < 40; attempt++) {
		uint64_t cap = 1000ULL << (attempt < 20 ? attempt : 20);
		if (cap > 300000)
			cap = 300000;
		for (int i = 0; i < 200; i++) {
			uint64_t d = backoff_delay(1000, 300000, attempt);
			assert_true(d >= 1000);
			assert_true(d <= cap);
		}
	}
}

static void
test_first_attempt_is_min_when_min_equals_cap(void **state)
{
	(void)state;
	assert_int_equal(backoff_delay(500, 500, 7), 500);
	assert_int_equal(backoff_delay(500, 100, 3), 500);	/* max < min */
}

static void
test_jitter_is_spread_not_constant(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	int buckets[10] = { 0 };

	(void)state;
	for (int i = 0; i < 5000; i++) {
		uint64_t d = backoff_uniform(0, 9999);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		buckets[d / 1000]++;
	}
	assert_true(hi - lo > 9000);
	for (int b = 0; b < 10; b++)
		assert_true(buckets[b] > 300);	/* expected 500 each */
}

static void
test_uniform_with_empty_range_returns_lo(void **state)
{
	(void)state;
	assert_int_equal(backoff_uniform(42, 42), 42);
	assert_int_equal(backoff_uniform(42, 7), 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_stays_within_min_and_doubling_cap),
		cmocka_unit_test(test_first_attempt_is_min_when_min_equals_cap),
		cmocka_unit_test(test_jitter_is_spread_not_constant),
		cmocka_unit_test(test_uniform_with_empty_range_returns_lo),
	};
	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
