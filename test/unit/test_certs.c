/*
 * Unit tests for certs.c's renewal schedule: stable for one certificate,
 * inside its window, and spread across certificates (real jitter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "certs.h"

#define HOUR (3600LL * 1000)

static void
test_renew_time_is_the_same_for_the_same_certificate(void **state)
{
	(void)state;
	int64_t a = certs_renew_time(0, 72 * HOUR, "39:dd:2e:01", 2.0 / 3.0, 0.05);
	int64_t b = certs_renew_time(0, 72 * HOUR, "39:dd:2e:01", 2.0 / 3.0, 0.05);
	assert_int_equal(a, b);
}

static void
test_renew_time_stays_within_fraction_plus_minus_jitter(void **state)
{
	char serial[32];

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(serial, sizeof(serial), "%02x:%02x:%02x", i & 0xff,
			 (i >> 8) & 0xff, i % 7);
		int64_t t = certs_renew_time(1000, 1000 + 90 * 1000, serial, 2.0 / 3.0,
					     0.05);
		assert_true(t >= 1000 + 60000 - 4500);
		assert_true(t <= 1000 + 60000 + 4500);
	}
}

static void
test_renew_times_of_a_fleet_spread_over_the_window(void **state)
{
	int buckets[10] = { 0 };
	char serial[32];

	(void)state;
	/* 1,000 certificates issued in the same second, 24 h each: their
	 * renewals fill the +-5% window (+-72 min) rather than one instant. */
	for (int i = 0; i < 1000; i++) {
		snprintf(serial, sizeof(serial), "7a:%02x:%02x:9e", i & 0xff, i >> 8);
		int64_t t = certs_renew_time(0, 24 * HOUR, serial, 2.0 / 3.0, 0.05);
		int64_t lo = 16 * HOUR - 72 * 60 * 1000LL;
		int b = (int)((t - lo) * 10 / (144 * 60 * 1000LL));
		assert_true(b >= 0 && b < 10);
		buckets[b]++;
	}
	for (int b = 0; b < 10; b++)
		assert_true(buckets[b] > 50);	/* 100 expected in each */
}

static void
test_jitter_is_not_lost_to_integer_arithmetic_on_short_lives(void **state)
{
	(void)state;
	/* A 3 s certificate still gets distinct renewal times. */
	int64_t a = certs_renew_time(0, 3000, "01", 2.0 / 3.0, 0.05);
	int64_t b = certs_renew_time(0, 3000, "02", 2.0 / 3.0, 0.05);
	int64_t c = certs_renew_time(0, 3000, "03", 2.0 / 3.0, 0.05);
	assert_true(a != b || b != c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_time_is_the_same_for_the_same_certificate),
		cmocka_unit_test(test_renew_time_stays_within_fraction_plus_minus_jitter),
		cmocka_unit_test(test_renew_times_of_a_fleet_spread_over_the_window),
		cmocka_unit_test(test_jitter_is_not_lost_to_integer_arithmetic_on_short_lives),
	};
	return cmocka_run_group_tests_name("certs", tests, NULL, NULL);
}
