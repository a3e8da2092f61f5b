/* test_hist.c -- the fixed-bucket latency histogram behind /metrics' *_duration_seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/net/hist.h"

static void
test_edges_fall_in_their_bucket(void **state)
{
	struct net_hist h = { .count = 0 };

	(void)state;
	net_hist_observe(&h, 0);		/* le 0.0005 */
	net_hist_observe(&h, 500000);		/* exactly 0.5 ms: le 0.0005 */
	net_hist_observe(&h, 500001);		/* le 0.001 */
	net_hist_observe(&h, 10000000000u);	/* exactly 10 s: le 10 */
	net_hist_observe(&h, 10000000001u);	/* only +Inf */
	assert_int_equal(net_hist_le(&h, 0), 2);
	assert_int_equal(net_hist_le(&h, 1), 3);
	assert_int_equal(net_hist_le(&h, NET_HIST_BUCKETS - 2), 3);
	assert_int_equal(net_hist_le(&h, NET_HIST_BUCKETS - 1), 4);
	assert_int_equal(h.count, 5);
	assert_true(h.sum_ns == 0 + 500000 + 500001 + 10000000000u + 10000000001u);
}

static void
test_bounds_rise_and_match(void **state)
{
	struct net_hist h = { .count = 0 };

	(void)state;
	for (int i = 1; i < NET_HIST_BUCKETS; i++)
		assert_true(net_hist_bounds_s[i] > net_hist_bounds_s[i - 1]);
	/* An observation at each bound counts in that bucket, not the next. */
	for (int i = 0; i < NET_HIST_BUCKETS; i++) {
		net_hist_observe(&h, (uint64_t)(net_hist_bounds_s[i] * 1e9 + 0.5));
		assert_int_equal(net_hist_le(&h, i), (uint64_t)i + 1);
		if (i > 0)
			assert_int_equal(net_hist_le(&h, i - 1), (uint64_t)i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges_fall_in_their_bucket),
		cmocka_unit_test(test_bounds_rise_and_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
