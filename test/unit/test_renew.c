/*
 * Unit tests for renew.c, the one renewal policy: the renewal point
 * (renew_at, renew_before, their bounds), jitter that is stable for one
 * certificate and real across a fleet, the rotation window's edges, the
 * backoff after a failure, and the state of a certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "renew.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* 2030-01-05T00:00:00Z, a Saturday. */
#define SAT 1893801600000LL

static struct renew_policy
policy(double at, uint64_t before_ms, double jitter)
{
	struct renew_policy p;

	renew_policy_init(&p);
	p.renew_at = at;
	p.renew_before_ms = before_ms;
	p.jitter = jitter;
	return p;
}

/* A serial as Vault prints one: 20 colon-separated bytes, from a fixed
 * xorshift stream so every run sees the same fleet. */
static void
make_serial(uint64_t *st, char *buf, size_t len)
{
	size_t off = 0;

	for (int i = 0; i < 20 && off + 3 < len; i++) {
		*st ^= *st << 13;
		*st ^= *st >> 7;
		*st ^= *st << 17;
		off += (size_t)snprintf(buf + off, len - off, "%s%02x", i ? ":" : "",
					(unsigned)(*st & 0xff));
	}
}

static void
test_default_policy_renews_at_two_thirds_plus_minus_five_percent(void **state)
{
	struct renew_policy p;
	char serial[64];
	uint64_t st = 42;

	(void)state;
	renew_policy_init(&p);
	for (int i = 0; i < 1000; i++) {
		make_serial(&st, serial, sizeof(serial));
		int64_t t = renew_point(&p, SAT, SAT + 90 * DAY, serial);
		assert_in_range(t, SAT + (int64_t)(90 * DAY * 0.61),
				SAT + (int64_t)(90 * DAY * 0.71));
	}
}

static void
test_renew_at_and_renew_before_set_the_point_exactly_without_jitter(void **state)
{
	struct renew_policy half = policy(0.5, 0, 0), before = policy(0, 10 * MIN, 0);

	(void)state;
	assert_int_equal(renew_point(&half, SAT, SAT + HOUR, "01"), SAT + 30 * MIN);
	assert_int_equal(renew_point(&before, SAT, SAT + HOUR, "01"), SAT + 50 * MIN);
}

static void
test_renew_before_longer_than_the_life_renews_at_half(void **state)
{
	struct renew_policy p = policy(0, 30 * DAY, 0);

	(void)state;
	assert_int_equal(renew_point(&p, SAT, SAT + DAY, "01"), SAT + 12 * HOUR);
}

static void
test_the_point_never_passes_the_last_percent_of_the_life(void **state)
{
	/* renew_before 1 s with 5% jitter would reach past NotAfter. */
	struct renew_policy p = policy(0, 1 * SEC, 0.05);
	char serial[64];
	uint64_t st = 7;

	(void)state;
	for (int i = 0; i < 500; i++) {
		make_serial(&st, serial, sizeof(serial));
		int64_t t = renew_point(&p, SAT, SAT + 100 * SEC, serial);
		assert_true(t <= SAT + 99 * SEC);
		assert_true(t >= SAT);
	}
	/* A lifetime of zero or less renews at once. */
	assert_int_equal(renew_point(&p, SAT, SAT, "01"), SAT);
}

static void
test_the_same_certificate_always_gets_the_same_point(void **state)
{
	struct renew_policy p;

	(void)state;
	renew_policy_init(&p);
	int64_t a = renew_point(&p, SAT, SAT + 72 * HOUR, "39:dd:2e:01");
	int64_t b = renew_point(&p, SAT, SAT + 72 * HOUR, "39:dd:2e:01");
	int64_t c = renew_point(&p, SAT, SAT + 72 * HOUR, "39:dd:2e:02");
	assert_int_equal(a, b);
	assert_true(a != c);
}

/*
 * 10,000 certificates issued in the same second, 30 days each, renew
 * over the +-5% window (+-36 h around day 20) and, counted per hour,
 * no hour gets more than 1.5 times the mean.
 */
static void
test_a_fleet_of_ten_thousand_spreads_evenly_over_the_window(void **state)
{
	enum { N = 10000, BUCKETS = 72 };
	int buckets[BUCKETS] = { 0 }, peak = 0;
	struct renew_policy p;
	char serial[64];
	uint64_t st = 0x9e3779b97f4a7c15ULL;

	(void)state;
	renew_policy_init(&p);
	const int64_t lo = SAT + (int64_t)(30 * DAY * (RENEW_AT_DEFAULT - 0.05));
	for (int i = 0; i < N; i++) {
		make_serial(&st, serial, sizeof(serial));
		int64_t t = renew_point(&p, SAT, SAT + 30 * DAY, serial);
		int64_t b = (t - lo) / HOUR;
		assert_in_range(b, 0, BUCKETS - 1);
		buckets[b]++;
	}
	for (int b = 0; b < BUCKETS; b++)
		peak = buckets[b] > peak ? buckets[b] : peak;
	double mean = (double)N / BUCKETS;
	if ((double)peak / mean > 1.5)
		fail_msg("peak %d per hour against a mean of %.1f: %.2f > 1.5", peak,
			 mean, (double)peak / mean);
	for (int b = 0; b < BUCKETS; b++)
		assert_true(buckets[b] > 0);
}

/*
 * The fleet: 10,000 tenant certificates of 4380 h issued
 * together, renewed 720 h before the end +- 5% of the lifetime: 438
 * hours of window, 23 renewals an hour.  Independent draws put about 40
 * in the fullest hour; stratified by rank, no hour holds more than 1.5
 * times the mean; a smaller fleet (1,000: 2.3 an hour, where draws give
 * 9) no more than the four strata an hour can meet.
 */
static int
peak_hour(int n, uint64_t seed, double *mean)
{
	enum { BUCKETS = 440 };
	static char serials[10000][64];
	static int buckets[BUCKETS];
	struct renew_ranks r = { 0 };
	struct renew_policy p = policy(0, 720 * HOUR, 0.05);
	const int64_t life = 4380 * HOUR;
	const int64_t lo = SAT + (int64_t)((double)life * (1.0 - 720.0 / 4380 - 0.05));
	int peak = 0;

	for (int b = 0; b < BUCKETS; b++)
		buckets[b] = 0;
	for (int i = 0; i < n; i++) {
		make_serial(&seed, serials[i], sizeof(serials[i]));
		assert_int_equal(renew_ranks_add(&r, renew_hash(serials[i])), 0);
	}
	for (int i = 0; i < n; i++) {
		double u = renew_ranks_u(&r, renew_hash(serials[i]));
		int64_t b = (renew_point_u(&p, SAT, SAT + life, u) - lo) / HOUR;
		assert_in_range(b, 0, BUCKETS - 1);
		buckets[b]++;
	}
	for (int b = 0; b < BUCKETS; b++)
		peak = buckets[b] > peak ? buckets[b] : peak;
	*mean = (double)n / 438.0;
	renew_ranks_free(&r);
	return peak;
}

static void
test_ranks_hold_a_fleets_peak_hour_to_one_and_a_half_times_the_mean(void **state)
{
	double mean;
	int peak;

	(void)state;
	peak = peak_hour(10000, 7, &mean);
	if ((double)peak / mean > 1.5)
		fail_msg("10,000: peak %d an hour against a mean of %.1f", peak, mean);
	/* A stratum is 0.438 h here: an hour meets at most four. */
	peak = peak_hour(1000, 7, &mean);
	if (peak > 4)
		fail_msg("1,000: peak %d an hour against a mean of %.1f", peak, mean);
}

/* The same set, whatever the order it was built in, gives the same
 * places: a restart moves no renewal.  K more certificates of N move the
 * others by at most K/N of the window, and taking them out again puts
 * every place back exactly. */
static void
test_ranks_are_stable_across_orders_and_move_little_with_the_set(void **state)
{
	enum { N = 1000, K = 5 };
	static uint64_t h[N + K];
	static double before[N];
	struct renew_ranks a = { 0 }, b = { 0 };
	uint64_t st = 99;

	(void)state;
	for (int i = 0; i < N + K; i++) {
		char serial[64];
		make_serial(&st, serial, sizeof(serial));
		h[i] = renew_hash(serial);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(renew_ranks_add(&a, h[i]), 0);
		assert_int_equal(renew_ranks_add(&b, h[N - 1 - i]), 0);
	}
	for (int i = 0; i < N; i++) {
		before[i] = renew_ranks_u(&a, h[i]);
		assert_true(before[i] >= 0 && before[i] < 1);
		assert_true(before[i] == renew_ranks_u(&b, h[i]));
	}
	for (int i = N; i < N + K; i++)
		assert_int_equal(renew_ranks_add(&a, h[i]), 0);
	for (int i = 0; i < N; i++) {
		double d = renew_ranks_u(&a, h[i]) - before[i];
		assert_true(d <= (double)(K + 1) / N && d >= -(double)(K + 1) / N);
	}
	for (int i = N; i < N + K; i++)
		renew_ranks_remove(&a, h[i]);
	for (int i = 0; i < N; i++)
		assert_true(renew_ranks_u(&a, h[i]) == before[i]);
	renew_ranks_free(&a);
	renew_ranks_free(&b);
}

/* One certificate alone in its agent keeps a real, serial-derived place:
 * a thousand agents of one certificate each still spread over the
 * window (each tenth of it gets 50 to 150 of them). */
static void
test_a_certificate_alone_keeps_its_jitter_between_agents(void **state)
{
	int tenths[10] = { 0 };
	uint64_t st = 5;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		struct renew_ranks r = { 0 };
		char serial[64];
		uint64_t hh;

		make_serial(&st, serial, sizeof(serial));
		hh = renew_hash(serial);
		assert_int_equal(renew_ranks_add(&r, hh), 0);
		tenths[(int)(renew_ranks_u(&r, hh) * 10)]++;
		renew_ranks_free(&r);
	}
	for (int t = 0; t < 10; t++)
		assert_in_range(tenths[t], 50, 150);
}

static void
test_jitter_is_not_lost_to_integer_arithmetic_on_short_lives(void **state)
{
	(void)state;
	/* A 3 s certificate still gets distinct renewal times. */
	int64_t a = renew_spread(0, 3000, "01", 2.0 / 3.0, 0.05);
	int64_t b = renew_spread(0, 3000, "02", 2.0 / 3.0, 0.05);
	int64_t c = renew_spread(0, 3000, "03", 2.0 / 3.0, 0.05);
	assert_true(a != b || b != c);
}

static struct renew_policy
windowed(const char *spec, uint64_t margin_ms)
{
	struct renew_policy p = policy(0.5, 0, 0);
	char err[160];

	assert_int_equal(window_parse(spec, &p.window, err, sizeof(err)), 0);
	p.has_window = 1;
	p.margin_ms = margin_ms;
	return p;
}

static void
test_a_point_inside_the_window_stays_where_it_is(void **state)
{
	/* Due Saturday 03:00, inside Sat 02:00-04:00. */
	struct renew_policy p = windowed("Sat 02:00-04:00 UTC", 0);

	(void)state;
	assert_int_equal(renew_point(&p, SAT - 3 * DAY, SAT + 3 * DAY + 6 * HOUR, "01"),
			 SAT + 3 * HOUR);
}

static void
test_a_point_before_the_window_moves_to_its_opening(void **state)
{
	/* Due Friday 12:00; the window opens Saturday 02:00. */
	struct renew_policy p = windowed("Sat 02:00-04:00 UTC", 0);

	(void)state;
	assert_int_equal(renew_point(&p, SAT - 12 * HOUR - 10 * DAY,
				     SAT - 12 * HOUR + 10 * DAY, "01"),
			 SAT + 2 * HOUR);
}

static void
test_the_window_edges_are_start_inclusive_and_end_exclusive(void **state)
{
	struct renew_policy p = windowed("Sat 02:00-04:00 UTC", 0);

	(void)state;
	/* Due exactly at 02:00: inside. */
	assert_int_equal(renew_point(&p, SAT + 2 * HOUR - 10 * DAY,
				     SAT + 2 * HOUR + 10 * DAY, "01"),
			 SAT + 2 * HOUR);
	/* Due exactly at 04:00: outside; the next opening is a week on. */
	assert_int_equal(renew_point(&p, SAT + 4 * HOUR - 30 * DAY,
				     SAT + 4 * HOUR + 30 * DAY, "01"),
			 SAT + 7 * DAY + 2 * HOUR);
}

static void
test_a_window_across_midnight_opens_the_day_it_starts(void **state)
{
	/* "Sat 23:00-01:00": due Sunday 00:30 is inside Saturday's window. */
	struct renew_policy p = windowed("Sat 23:00-01:00 UTC", 0);
	int64_t due = SAT + DAY + 30 * MIN;

	(void)state;
	assert_int_equal(renew_point(&p, due - 10 * DAY, due + 10 * DAY, "01"), due);
}

static void
test_a_window_too_close_to_the_end_leaves_the_point_as_it_is(void **state)
{
	/* Due Sunday 12:00 (half of a 20 day life); the next window opens
	 * Saturday 02:00, 5 d 14 h on.  The default margin (10%: 2 days
	 * before NotAfter, 8 days on) allows it; a 7 day margin (3 days on)
	 * does not, and the renewal stays at its due time. */
	int64_t due = SAT + DAY + 12 * HOUR;
	struct renew_policy near = windowed("Sat 02:00-04:00 UTC", 0);
	struct renew_policy far = windowed("Sat 02:00-04:00 UTC", 7 * DAY);
	int64_t nb = due - 10 * DAY, na = due + 10 * DAY;

	(void)state;
	assert_int_equal(renew_point(&near, nb, na, "01"), SAT + 7 * DAY + 2 * HOUR);
	assert_int_equal(renew_point(&far, nb, na, "01"), due);
}

static void
test_backoff_grows_from_min_to_max_with_full_jitter(void **state)
{
	struct backoff_opts o = { 1000, 60000 };
	struct retry r = { 0 };

	(void)state;
	for (unsigned k = 1; k <= 12; k++) {
		uint64_t cap = 1000ULL << (k - 1);
		if (cap > 60000)
			cap = 60000;
		uint64_t d = renew_retry(&r, &o, SAT, 0);
		assert_int_equal(r.failures, k);
		assert_in_range(d, 1000, cap);
	}
	retry_succeeded(&r);
	assert_int_equal(r.failures, 0);
	/* Real jitter: a hundred draws at the cap are not all one value. */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 100; i++) {
		struct retry many = { 10 };
		uint64_t d = renew_retry(&many, &o, SAT, 0);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(hi - lo > 10000);
}

static void
test_backoff_wakes_at_the_expiry_when_it_is_nearer(void **state)
{
	struct backoff_opts o = { 60000, 60000 };
	struct retry r = { 0 };

	(void)state;
	/* A certificate that expires in 5 s: the retry comes by then. */
	assert_int_equal(renew_retry(&r, &o, SAT, SAT + 5000), 5000);
	/* Already expired: the backoff as it is. */
	assert_int_equal(renew_retry(&r, &o, SAT, SAT - 1), 60000);
}

static void
test_state_follows_the_clock(void **state)
{
	(void)state;
	assert_int_equal(renew_state(0, SAT, 0, 0), RENEW_MISSING);
	assert_int_equal(renew_state(1, SAT, SAT + 2 * HOUR, SAT + HOUR), RENEW_VALID);
	assert_int_equal(renew_state(1, SAT + HOUR, SAT + 2 * HOUR, SAT + HOUR),
			 RENEW_DUE);
	assert_int_equal(renew_state(1, SAT + 2 * HOUR, SAT + 2 * HOUR, SAT + HOUR),
			 RENEW_EXPIRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy_renews_at_two_thirds_plus_minus_five_percent),
		cmocka_unit_test(test_renew_at_and_renew_before_set_the_point_exactly_without_jitter),
		cmocka_unit_test(test_renew_before_longer_than_the_life_renews_at_half),
		cmocka_unit_test(test_the_point_never_passes_the_last_percent_of_the_life),
		cmocka_unit_test(test_the_same_certificate_always_gets_the_same_point),
		cmocka_unit_test(test_a_fleet_of_ten_thousand_spreads_evenly_over_the_window),
		cmocka_unit_test(test_jitter_is_not_lost_to_integer_arithmetic_on_short_lives),
		cmocka_unit_test(test_a_point_inside_the_window_stays_where_it_is),
		cmocka_unit_test(test_a_point_before_the_window_moves_to_its_opening),
		cmocka_unit_test(test_the_window_edges_are_start_inclusive_and_end_exclusive),
		cmocka_unit_test(test_a_window_across_midnight_opens_the_day_it_starts),
		cmocka_unit_test(test_a_window_too_close_to_the_end_leaves_the_point_as_it_is),
		cmocka_unit_test(test_backoff_grows_from_min_to_max_with_full_jitter),
		cmocka_unit_test(test_backoff_wakes_at_the_expiry_when_it_is_nearer),
		cmocka_unit_test(test_state_follows_the_clock),
		cmocka_unit_test(test_ranks_hold_a_fleets_peak_hour_to_one_and_a_half_times_the_mean),
		cmocka_unit_test(test_ranks_are_stable_across_orders_and_move_little_with_the_set),
		cmocka_unit_test(test_a_certificate_alone_keeps_its_jitter_between_agents),
	};
	return cmocka_run_group_tests_name("renew", tests, NULL, NULL);
}
