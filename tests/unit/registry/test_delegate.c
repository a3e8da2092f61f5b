/* test_delegate.c -- delegation rules over the index: region, overlap (equal, contains, contained, sibling), label alignment, re-homing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry/delegate.h"
#include "registry/error.h"
#include "registry/registrar.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

static struct registry_index *idx;
static struct registry_prefix_view view;
static char why[REGISTRY_REASON_MAX];

static int
setup(void **state)
{
	idx = registry_index_new(0);
	assert_non_null(idx);
	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_OWN_REGION), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "lewisham", S(ACTIVE)), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "old", S(REVOKED)), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham", "uk.london", "lewisham"), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.bexley.schools", "uk.london", "old"), 0);
	registry_index_view(idx, &view);
	return 0;
}

static int
teardown(void **state)
{
	registry_index_free(idx);
	return 0;
}

static int
check(const char *region, const char *id, const char *prefix)
{
	strcpy(why, "untouched");
	return registry_delegate_check(&view, region, id, prefix, why, sizeof(why));
}

static void
test_outside_region(void **state)
{
	assert_int_equal(check("uk.london", "camden", "uk.leeds.x"), REGISTRY_EPERM);
	assert_string_equal(why, "uk.leeds.x is outside this node's region uk.london");
	/* Label alignment: uk.londonderry is not inside uk.london. */
	assert_int_equal(check("uk.london", "camden", "uk.londonderry.x"), REGISTRY_EPERM);
	assert_string_equal(why, "uk.londonderry.x is outside this node's region uk.london");
	assert_int_equal(check("uk.london", "camden", "uk"), REGISTRY_EPERM);
	assert_int_equal(check("uk.london", "camden", "uk.london"), REGISTRY_EPERM);
	assert_string_equal(why, "uk.london is this node's region itself: delegate a prefix under it");
}

static void
test_overlaps(void **state)
{
	/* Equal. */
	assert_int_equal(check("uk.london", "camden", "uk.london.lewisham"), REGISTRY_EEXIST);
	assert_string_equal(why, "uk.london.lewisham is uk.london.lewisham, delegated to registrar lewisham");
	/* Contained by. */
	assert_int_equal(check("uk.london", "camden", "uk.london.lewisham.police"), REGISTRY_EEXIST);
	assert_string_equal(why, "uk.london.lewisham.police is inside uk.london.lewisham, delegated to registrar lewisham");
	/* Contains. */
	assert_int_equal(check("uk.london", "camden", "uk.london.bexley"), REGISTRY_EEXIST);
	assert_string_equal(why, "uk.london.bexley contains uk.london.bexley.schools, delegated to registrar old");
	/* Sibling and label-aligned near misses are fine. */
	assert_int_equal(check("uk.london", "camden", "uk.london.camden"), REGISTRY_OK);
	assert_string_equal(why, "untouched");
	assert_int_equal(check("uk.london", "camden", "uk.london.lewishamx"), REGISTRY_OK);
	assert_int_equal(check("uk.london", "camden", "uk.london.lewis"), REGISTRY_OK);
	assert_int_equal(check("uk.london", "camden", "uk.london.bexley.schoolsx"), REGISTRY_OK);
	assert_int_equal(check("uk.london", "camden", "uk.london.bexley.police"), REGISTRY_OK);
}

static void
test_same_registrar_redundant(void **state)
{
	assert_int_equal(check("uk.london", "lewisham", "uk.london.lewisham"), REGISTRY_EEXIST);
	assert_string_equal(why, "uk.london.lewisham is uk.london.lewisham, which registrar lewisham already holds (redundant)");
	assert_int_equal(check("uk.london", "lewisham", "uk.london.lewisham.x"), REGISTRY_EEXIST);
	assert_non_null(strstr(why, "redundant"));
	/* A second, separate prefix is fine. */
	assert_int_equal(check("uk.london", "lewisham", "uk.london.greenwich"), REGISTRY_OK);
}

static void
test_uk_london_vs_londonderry(void **state)
{
	struct registry_index *i2 = registry_index_new(0);
	struct registry_prefix_view v2;

	registry_index_add_region(i2, "uk", REGISTRY_PREFIX_OWN_REGION);
	registry_index_set_registrar(i2, "uk", "london", S(ACTIVE));
	assert_int_equal(registry_index_add_delegation(i2, "uk.london", "uk", "london"), 0);
	registry_index_view(i2, &v2);
	assert_int_equal(registry_delegate_check(&v2, "uk", "derry", "uk.londonderry",
	    why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_delegate_check(&v2, "uk", "derry", "uk.london.derry",
	    why, sizeof(why)), REGISTRY_EEXIST);
	/* A peer region inside ours is a holder too. */
	registry_index_add_region(i2, "uk.westyorks", REGISTRY_PREFIX_PEER_REGION);
	assert_int_equal(registry_delegate_check(&v2, "uk", "leeds", "uk.westyorks.leeds",
	    why, sizeof(why)), REGISTRY_EEXIST);
	assert_string_equal(why, "uk.westyorks.leeds is inside uk.westyorks, the region of another node");
	registry_index_free(i2);
}

static void
test_revoked_still_holds(void **state)
{
	/* A revoked registrar's prefix is re-homed, never delegated afresh. */
	assert_int_equal(check("uk.london", "camden", "uk.london.bexley.schools"), REGISTRY_EEXIST);
	assert_non_null(strstr(why, "registrar old"));
}

static void
test_rehome_check(void **state)
{
	Axle__V1__Registrar from = AXLE__V1__REGISTRAR__INIT, to = AXLE__V1__REGISTRAR__INIT;

	from.id = (char *)"old";
	from.region = (char *)"uk.london";
	from.status = S(REVOKED);
	to.id = (char *)"new";
	to.region = (char *)"uk.london";
	to.status = S(ACTIVE);
	assert_int_equal(registry_rehome_check(&from, &to, why, sizeof(why)), REGISTRY_OK);
	to.status = S(SUSPENDED);
	assert_int_equal(registry_rehome_check(&from, &to, why, sizeof(why)), REGISTRY_EPRECOND);
	assert_string_equal(why, "successor new is suspended: it must be active");
	to.status = S(REVOKED);
	assert_int_equal(registry_rehome_check(&from, &to, why, sizeof(why)), REGISTRY_EPRECOND);
	to.status = S(ACTIVE);
	from.status = S(SUSPENDED);
	assert_int_equal(registry_rehome_check(&from, &to, why, sizeof(why)), REGISTRY_EPRECOND);
	assert_string_equal(why, "registrar old is suspended: only a revoked registrar's prefixes are re-homed");
	from.status = S(REVOKED);
	assert_int_equal(registry_rehome_check(&from, &from, why, sizeof(why)), REGISTRY_EINVAL);
	to.region = (char *)"uk.leeds";
	assert_int_equal(registry_rehome_check(&from, &to, why, sizeof(why)), REGISTRY_EPERM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outside_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_registrar_redundant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_still_holds, setup, teardown),
		cmocka_unit_test(test_uk_london_vs_londonderry),
		cmocka_unit_test(test_rehome_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
