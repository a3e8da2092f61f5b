/* test_deadline.c -- deadline arithmetic, overdue, next wake-up, backoff bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "recourse/case.h"
#include "recourse/deadline.h"

static Axle__V1__Case
mk(int state, int64_t deadline)
{
	Axle__V1__Case c = AXLE__V1__CASE__INIT;

	c.state = state;
	c.deadline_ms = deadline;
	return c;
}

static void
test_deadline_policy(void **state)
{
	struct recourse_deadline_policy p = { 0 };

	assert_int_equal(recourse_deadline_for(NULL, 1, 1000),
	    1000 + 24LL * 3600 * 1000);
	assert_int_equal(recourse_deadline_for(&p, 1, 0), RECOURSE_DEADLINE_DEFAULT_MS);
	p.default_ms = 500;
	p.per_reason_ms[AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT] = 50;
	assert_int_equal(recourse_deadline_for(&p, 1, 1000), 1500);
	assert_int_equal(recourse_deadline_for(&p, 6, 1000), 1050);
	assert_int_equal(recourse_deadline_for(&p, 99, 1000), 1500);	/* unknown reason */
	assert_int_equal(recourse_deadline_for(&p, -1, 1000), 1500);
	p.per_reason_ms[2] = -5;	/* nonsense falls back to the default */
	assert_int_equal(recourse_deadline_for(&p, 2, 1000), 1500);
	assert_int_equal(recourse_deadline_for(&p, 1, INT64_MAX - 10), INT64_MAX);
}

static void
test_overdue(void **state)
{
	Axle__V1__Case c = mk(RECOURSE_ST_OPEN, 1000);

	assert_false(recourse_overdue(&c, 999));
	assert_true(recourse_overdue(&c, 1000));
	assert_true(recourse_overdue(&c, 5000));
	c.state = RECOURSE_ST_CLAIMED;	/* someone is on it */
	assert_false(recourse_overdue(&c, 5000));
	c.state = RECOURSE_ST_RESOLVED;
	assert_false(recourse_overdue(&c, 5000));
	c = mk(RECOURSE_ST_OPEN, 0);	/* no deadline */
	assert_false(recourse_overdue(&c, 5000));
}

static void
test_wanted_and_wakeup(void **state)
{
	Axle__V1__Case c = mk(RECOURSE_ST_OPEN, 1000);

	assert_int_equal(recourse_case_wakeup(&c, 0), 1000);
	assert_false(recourse_escalation_wanted(&c, 999));
	assert_true(recourse_escalation_wanted(&c, 1000));
	c.next_attempt_ms = 3000;	/* backing off */
	assert_int_equal(recourse_case_wakeup(&c, 0), 3000);
	assert_false(recourse_escalation_wanted(&c, 2000));
	assert_true(recourse_escalation_wanted(&c, 3000));
	/* Claimed: not on its deadline, but yes when an admin asked. */
	c = mk(RECOURSE_ST_CLAIMED, 1000);
	assert_int_equal(recourse_case_wakeup(&c, 0), 0);
	c.escalation_requested_ms = 1500;
	assert_int_equal(recourse_case_wakeup(&c, 0), 1500);
	/* In flight: wanted at once, subject to backoff. */
	c = mk(RECOURSE_ST_OPEN, 9000);
	c.escalating_to = "uk";
	assert_true(recourse_escalation_wanted(&c, 10));
	c.next_attempt_ms = 50;
	assert_false(recourse_escalation_wanted(&c, 10));
	/* Closed cases never wake anyone. */
	c = mk(RECOURSE_ST_ESCALATED, 1000);
	c.escalation_requested_ms = 5;
	assert_int_equal(recourse_case_wakeup(&c, 0), 0);
	/* At the root: the deadline, once, until it is noted. */
	c = mk(RECOURSE_ST_OPEN, 1000);
	assert_int_equal(recourse_case_wakeup(&c, 1), 1000);
	c.overdue_ms = 1001;
	assert_int_equal(recourse_case_wakeup(&c, 1), 0);
}

static void
test_next_wakeup_over_set(void **state)
{
	Axle__V1__Case a = mk(RECOURSE_ST_OPEN, 5000),
	    b = mk(RECOURSE_ST_OPEN, 3000), c = mk(RECOURSE_ST_RESOLVED, 100),
	    d = mk(RECOURSE_ST_CLAIMED, 200);
	Axle__V1__Case *set[] = { &a, NULL, &b, &c, &d };

	assert_int_equal(recourse_next_wakeup(set, 5, 0), 3000);
	b.next_attempt_ms = 7000;
	assert_int_equal(recourse_next_wakeup(set, 5, 0), 5000);
	assert_int_equal(recourse_next_wakeup(set + 3, 2, 0), 0);
	assert_int_equal(recourse_next_wakeup(NULL, 0, 1), 0);
}

static void
test_backoff_bounds(void **state)
{
	struct recourse_backoff b = { 100, 1000 };
	uint32_t rnds[] = { 0, 1, 7, 12345, UINT32_MAX };

	assert_int_equal(recourse_backoff_delay(&b, 0, 5), 0);
	for (uint32_t att = 1; att <= 40; att++) {
		int64_t d = 100;
		for (uint32_t i = 1; i < att && d < 1000; i++)
			d *= 2;
		if (d > 1000)
			d = 1000;
		for (size_t i = 0; i < 5; i++) {
			int64_t got = recourse_backoff_delay(&b, att, rnds[i]);
			assert_true(got >= d / 2);
			assert_true(got <= d);
		}
		/* rnd 0 gives the floor: deterministic for tests */
		assert_int_equal(recourse_backoff_delay(&b, att, 0), d / 2);
	}
	assert_int_equal(recourse_backoff_delay(&b, 1, 50), 100);	/* top of [50,100] */
	assert_int_equal(recourse_backoff_delay(&b, 3, 0), 200);	/* 400 / 2 */
	assert_int_equal(recourse_backoff_delay(&b, UINT32_MAX, 0), 500);
	/* Defaults, and a cap below base. */
	assert_true(recourse_backoff_delay(NULL, 100, UINT32_MAX) <=
	    RECOURSE_BACKOFF_CAP_MS);
	struct recourse_backoff odd = { 1000, 10 };
	assert_true(recourse_backoff_delay(&odd, 5, 3) <= 1000);
	struct recourse_backoff huge = { INT64_MAX / 4, INT64_MAX };
	assert_true(recourse_backoff_delay(&huge, 64, 1) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_policy),
		cmocka_unit_test(test_overdue),
		cmocka_unit_test(test_wanted_and_wakeup),
		cmocka_unit_test(test_next_wakeup_over_set),
		cmocka_unit_test(test_backoff_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
