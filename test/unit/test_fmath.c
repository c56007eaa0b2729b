/*
 * Unit tests for fmath.h: trunc, floor and ceil without libm agree with
 * libm's for every kind of double (integral or not, both signs, zeros,
 * past 2^52, past long long, infinities, NaN), bit for bit, so the
 * templates print the same numbers whichever the build links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "fmath.h"

static void
same_bits(double got, double want, double x, const char *fn)
{
	if (isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof(got)) != 0)
		fail_msg("%s(%.17g): %.17g, libm says %.17g", fn, x, got, want);
}

static void
check(double x)
{
	same_bits(fm_trunc(x), trunc(x), x, "trunc");
	same_bits(fm_floor(x), floor(x), x, "floor");
	same_bits(fm_ceil(x), ceil(x), x, "ceil");
}

static void
test_fmath_agrees_with_libm_bit_for_bit(void **state)
{
	static const double edges[] = {
		0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.5, -2.5,
		0.49999999999999994, -0.49999999999999994, 1e-300, -1e-300,
		4503599627370495.5, -4503599627370495.5, 4503599627370496.0,
		4503599627370497.0, -4503599627370497.0, 9007199254740993.0,
		9.3e18, -9.3e18, 1e300, -1e300, INFINITY, -INFINITY, NAN,
	};
	uint64_t st = 88172645463325252ULL;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		check(edges[i]);
	/* And a sweep of values of every magnitude, from a fixed stream. */
	for (int i = 0; i < 200000; i++) {
		double x;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		memcpy(&x, &st, sizeof(x));
		check(x);
		check((double)(int64_t)(st >> 20) / 1024.0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmath_agrees_with_libm_bit_for_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
