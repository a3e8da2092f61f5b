/* test_policy.c -- a registrar's traffic policy: checks, what it requires, its words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "registry/error.h"
#include "registry/policy.h"

static void
check_refuses_bad_types(void **state)
{
	Axle__V1__TrafficPolicy p = AXLE__V1__TRAFFIC_POLICY__INIT;
	char *types[REGISTRY_POLICY_TYPES + 1], reason[200], many[REGISTRY_POLICY_TYPES + 1][16];

	(void)state;
	assert_int_equal(registry_policy_check(NULL, reason, sizeof(reason)), REGISTRY_OK);
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_OK);
	p.sealed_message_types = types;
	types[0] = "referral.v2";
	types[1] = "bad type";
	p.n_sealed_message_types = 2;
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_EINVAL);
	assert_non_null(strstr(reason, "sealed_message_types[1]"));
	types[1] = "";
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_EINVAL);
	types[1] = "referral.v2";
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_EINVAL);
	assert_non_null(strstr(reason, "twice"));
	for (int i = 0; i <= REGISTRY_POLICY_TYPES; i++) {
		snprintf(many[i], sizeof(many[i]), "t%d", i);
		types[i] = many[i];
	}
	p.n_sealed_message_types = REGISTRY_POLICY_TYPES;
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_OK);
	p.n_sealed_message_types = REGISTRY_POLICY_TYPES + 1;
	assert_int_equal(registry_policy_check(&p, reason, sizeof(reason)), REGISTRY_EINVAL);
}

static void
requires_sealed_by_type_or_all(void **state)
{
	Axle__V1__TrafficPolicy p = AXLE__V1__TRAFFIC_POLICY__INIT;
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	char *types[] = { "referral.v2", "strategy.v1" }, words[200];

	(void)state;
	assert_false(registry_policy_requires_sealed(&r, "referral.v2"));
	registry_policy_text(r.policy, words, sizeof(words));
	assert_string_equal(words, "none");
	r.policy = &p;
	assert_false(registry_policy_set(&p));
	assert_false(registry_policy_requires_sealed(&r, "referral.v2"));
	p.sealed_message_types = types;
	p.n_sealed_message_types = 2;
	assert_true(registry_policy_set(&p));
	assert_true(registry_policy_requires_sealed(&r, "referral.v2"));
	assert_true(registry_policy_requires_sealed(&r, "strategy.v1"));
	assert_false(registry_policy_requires_sealed(&r, "referral.v3"));
	assert_false(registry_policy_requires_sealed(&r, NULL));
	registry_policy_text(&p, words, sizeof(words));
	assert_string_equal(words, "sealed: referral.v2, strategy.v1");
	p.require_sealed = true;
	assert_true(registry_policy_requires_sealed(&r, "note.v1"));
	registry_policy_text(&p, words, sizeof(words));
	assert_string_equal(words, "all traffic sealed");
	/* Cut to the buffer, still terminated. */
	p.require_sealed = false;
	registry_policy_text(&p, words, 12);
	assert_int_equal(strlen(words), 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_refuses_bad_types),
		cmocka_unit_test(requires_sealed_by_type_or_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
