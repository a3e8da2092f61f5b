/* test_sw_backoff.c -- capped exponential backoff with full jitter: ceilings, cap, overflow, jitter range. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/switch/sw_backoff.h"

static void
test_ceiling_doubles_until_cap(void **state)
{
	(void)state;
	assert_int_equal(sw_backoff_ceiling(100, 30000, 0), 100);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 1), 200);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 2), 400);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 8), 25600);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 9), 30000);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 10), 30000);
}

static void
test_ceiling_no_overflow(void **state)
{
	(void)state;
	/* Huge attempts must neither wrap to small values nor take long. */
	assert_int_equal(sw_backoff_ceiling(100, 30000, 64), 30000);
	assert_int_equal(sw_backoff_ceiling(100, 30000, 1000000000u), 30000);
	assert_int_equal(sw_backoff_ceiling(1, UINT64_MAX, 63),
	    (uint64_t)1 << 63);
	assert_int_equal(sw_backoff_ceiling(3, UINT64_MAX, 200), UINT64_MAX);
	assert_int_equal(sw_backoff_ceiling(0, 30000, 4000000000u), 0);
}

static void
test_cap_below_base(void **state)
{
	(void)state;
	assert_int_equal(sw_backoff_ceiling(5000, 1000, 0), 1000);
	assert_int_equal(sw_backoff_ceiling(5000, 1000, 3), 1000);
}

static void
test_delay_full_jitter_range(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0, x = 88172645463325252ull;

	(void)state;
	/* Ends of the range come from rnd = 0 and rnd = ceiling. */
	assert_int_equal(sw_backoff_delay(100, 30000, 3, 0), 0);
	assert_int_equal(sw_backoff_delay(100, 30000, 3, 800), 800);
	assert_int_equal(sw_backoff_delay(100, 30000, 3, 801), 0);
	assert_int_equal(sw_backoff_delay(100, 30000, 3, 805), 4);
	assert_int_equal(sw_backoff_delay(100, 30000, 20, UINT64_MAX),
	    UINT64_MAX % 30001);
	/* Many draws (xorshift) stay in [0, ceiling] and spread over it. */
	for (int i = 0; i < 10000; i++) {
		uint64_t d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = sw_backoff_delay(100, 30000, 4, x);
		assert_true(d <= 1600);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 50);
	assert_true(hi > 1550);
}

static void
test_delay_deterministic(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 20; a++)
		assert_int_equal(sw_backoff_delay(250, 60000, a, 123456789),
		    sw_backoff_delay(250, 60000, a, 123456789));
	assert_int_equal(sw_backoff_delay(0, 60000, 5, 99), 0);
	assert_int_equal(sw_backoff_delay(1, UINT64_MAX, 200, 77), 77);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_doubles_until_cap),
		cmocka_unit_test(test_ceiling_no_overflow),
		cmocka_unit_test(test_cap_below_base),
		cmocka_unit_test(test_delay_full_jitter_range),
		cmocka_unit_test(test_delay_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
