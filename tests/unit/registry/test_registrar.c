/* test_registrar.c -- registrar ids, every lifecycle transition (legal and not), version checks, record lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry/error.h"
#include "registry/registrar.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

static void
test_every_transition(void **state)
{
	static const registry_status all[] = { S(PENDING), S(ACTIVE), S(SUSPENDED), S(REVOKED) };
	/* legal[from][to], in the order of all[]. */
	static const int legal[4][4] = {
		/* pending   */ { 0, 1, 0, 1 },
		/* active    */ { 0, 0, 1, 1 },
		/* suspended */ { 0, 1, 0, 1 },
		/* revoked   */ { 0, 0, 0, 0 },
	};
	char why[REGISTRY_REASON_MAX];

	for (int f = 0; f < 4; f++)
		for (int t = 0; t < 4; t++) {
			int rc;

			strcpy(why, "untouched");
			rc = registry_transition_check(all[f], all[t], why, sizeof(why));
			if (legal[f][t]) {
				assert_int_equal(rc, REGISTRY_OK);
				assert_string_equal(why, "untouched");
			} else {
				assert_int_equal(rc, REGISTRY_EPRECOND);
				assert_non_null(strstr(why, "cannot go from "));
				assert_non_null(strstr(why, registry_status_name(all[f])));
			}
		}
}

static void
test_reasons(void **state)
{
	char why[REGISTRY_REASON_MAX];

	registry_transition_check(S(REVOKED), S(ACTIVE), why, sizeof(why));
	assert_string_equal(why, "cannot go from revoked to active: a revoked "
	    "registrar's prefixes must be re-homed");
	registry_transition_check(S(ACTIVE), S(ACTIVE), why, sizeof(why));
	assert_string_equal(why, "cannot go from active to active: it already has that standing");
	registry_transition_check(S(PENDING), S(SUSPENDED), why, sizeof(why));
	assert_string_equal(why, "cannot go from pending to suspended: a pending "
	    "registrar must be activated first");
	registry_transition_check(S(SUSPENDED), S(PENDING), why, sizeof(why));
	assert_string_equal(why, "cannot go from suspended to pending: pending is "
	    "only the standing of a new registrar");
	assert_int_equal(registry_transition_check(S(UNSPECIFIED), S(ACTIVE), why,
	    sizeof(why)), REGISTRY_EINVAL);
	assert_int_equal(registry_transition_check(S(ACTIVE), (registry_status)9, why,
	    sizeof(why)), REGISTRY_EINVAL);
	/* NULL reason buffers are fine. */
	assert_int_equal(registry_transition_check(S(REVOKED), S(ACTIVE), NULL, 0),
	    REGISTRY_EPRECOND);
}

static void
test_versions(void **state)
{
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	char why[REGISTRY_REASON_MAX];

	r.id = (char *)"lewisham";
	r.version = 7;
	assert_int_equal(registry_version_check(&r, 7, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_version_check(&r, REGISTRY_ANY_VERSION, why, sizeof(why)),
	    REGISTRY_OK);
	assert_int_equal(registry_version_check(&r, 6, why, sizeof(why)), REGISTRY_ECONFLICT);
	assert_string_equal(why, "registrar lewisham is at version 7, not 6: it "
	    "changed since it was read");
}

static void
test_ids(void **state)
{
	char why[REGISTRY_REASON_MAX];
	char long_id[REGISTRY_ID_MAX + 2];

	assert_int_equal(registry_id_check("lewisham-council_2.a", why, sizeof(why)), 0);
	assert_int_equal(registry_id_check("", why, sizeof(why)), REGISTRY_EINVAL);
	assert_string_equal(why, "registrar id is empty");
	assert_int_equal(registry_id_check("-x", why, sizeof(why)), REGISTRY_EINVAL);
	assert_int_equal(registry_id_check("Lewisham", why, sizeof(why)), REGISTRY_EINVAL);
	assert_int_equal(registry_id_check("a/b", why, sizeof(why)), REGISTRY_EINVAL);
	assert_string_equal(why, "registrar id byte 1: 0x2f is not allowed (use a-z, "
	    "0-9, '.', '_', '-')");
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(registry_id_check(long_id, why, sizeof(why)), REGISTRY_EINVAL);
	long_id[REGISTRY_ID_MAX] = '\0';
	assert_int_equal(registry_id_check(long_id, why, sizeof(why)), REGISTRY_OK);
}

static void
test_lookups(void **state)
{
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	Axle__V1__Service s1 = AXLE__V1__SERVICE__INIT, s2 = AXLE__V1__SERVICE__INIT;
	Axle__V1__Service *svcs[] = { &s1, &s2 };
	char *pfx[] = { (char *)"uk.london.a", (char *)"uk.london.b" };

	s1.name = (char *)"portal";
	s2.name = (char *)"switch";
	r.prefixes = pfx;
	r.n_prefixes = 2;
	r.services = svcs;
	r.n_services = 2;
	assert_int_equal(registry_registrar_prefix_index(&r, "uk.london.b"), 1);
	assert_int_equal(registry_registrar_prefix_index(&r, "uk.london"), -1);
	assert_int_equal(registry_registrar_service_index(&r, "switch"), 1);
	assert_int_equal(registry_registrar_service_index(&r, "index"), -1);
	assert_string_equal(registry_registrar_covering_prefix(&r, "uk.london.b.x"), "uk.london.b");
	assert_null(registry_registrar_covering_prefix(&r, "uk.london.bx"));
	assert_string_equal(registry_status_name(S(SUSPENDED)), "suspended");
	assert_int_equal(registry_grpc_status(REGISTRY_EPRECOND), 9);
	assert_int_equal(registry_grpc_status(REGISTRY_EEXIST), 6);
	assert_int_equal(registry_grpc_status(REGISTRY_EPERM), 7);
	assert_string_equal(registry_strerror(REGISTRY_ECONFLICT), "ECONFLICT");
}

/*
 * A registrar's own certificate acts as any address under any prefix it
 * holds (its delegations and those re-homed to it); no other certificate
 * does, not one under its prefix, and not once it is revoked.
 */
static void
test_acting_prefix(void **state)
{
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	char *pfx[] = { (char *)"uk.westyorks.new", (char *)"uk.westyorks.old" };
	const char *me = "axle://fame-uk/member/uk.westyorks.new";

	r.id = (char *)"wy-new";
	r.prefixes = pfx;
	r.n_prefixes = 2;
	r.cert_identity = (char *)me;
	r.status = S(ACTIVE);
	assert_string_equal(registry_registrar_acting_prefix(&r, me,
	    "uk.westyorks.old.inbox"), "uk.westyorks.old");
	assert_string_equal(registry_registrar_acting_prefix(&r, me,
	    "uk.westyorks.new"), "uk.westyorks.new");
	assert_null(registry_registrar_acting_prefix(&r, me, "uk.westyorks.older"));
	assert_null(registry_registrar_acting_prefix(&r, me, "uk.westyorks"));
	/* Not its certificate: a desk under its prefix, another member, a prefix of the URI. */
	assert_null(registry_registrar_acting_prefix(&r,
	    "axle://fame-uk/member/uk.westyorks.new.desk", "uk.westyorks.old.inbox"));
	assert_null(registry_registrar_acting_prefix(&r,
	    "axle://fame-uk/member/uk.westyorks.other", "uk.westyorks.old.inbox"));
	assert_null(registry_registrar_acting_prefix(&r,
	    "axle://fame-uk/member/uk.westyorks.ne", "uk.westyorks.old.inbox"));
	assert_null(registry_registrar_acting_prefix(&r, NULL, "uk.westyorks.old"));
	/* Suspended still holds its prefixes; revoked holds nothing. */
	r.status = S(SUSPENDED);
	assert_non_null(registry_registrar_acting_prefix(&r, me, "uk.westyorks.old"));
	r.status = S(REVOKED);
	assert_null(registry_registrar_acting_prefix(&r, me, "uk.westyorks.old"));
	/* No registered identity matches nothing, not even an empty URI. */
	r.status = S(ACTIVE);
	r.cert_identity = (char *)"";
	assert_null(registry_registrar_acting_prefix(&r, "", "uk.westyorks.old"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_transition),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_acting_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
