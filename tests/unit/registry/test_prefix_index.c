/* test_prefix_index.c -- the prefix index: longest-prefix match, closest encloser, label alignment, removal, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry/error.h"
#include "registry/prefix_index.h"

#define ACTIVE AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE
#define SUSPENDED AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED

/* An index of region uk.london with peer region uk.westyorks and a few delegations. */
static struct registry_index *
london(void)
{
	struct registry_index *idx = registry_index_new(0);

	assert_non_null(idx);
	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_OWN_REGION), 0);
	assert_int_equal(registry_index_add_region(idx, "uk.westyorks", REGISTRY_PREFIX_PEER_REGION), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "lewisham", ACTIVE), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "schools", SUSPENDED), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.westyorks", "leeds", ACTIVE), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham", "uk.london", "lewisham"), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham.schools", "uk.london", "schools"), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.westyorks.leeds", "uk.westyorks", "leeds"), 0);
	return idx;
}

static void
test_longest_prefix(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;

	assert_true(registry_resolve(idx, "uk.london.lewisham.schools.st-marys", &r));
	assert_string_equal(r.match.prefix, "uk.london.lewisham.schools");
	assert_int_equal(r.match.prefix_len, strlen("uk.london.lewisham.schools"));
	assert_string_equal(r.match.registrar_id, "schools");
	assert_int_equal(r.match.registrar_status, SUSPENDED);
	assert_string_equal(r.match.region, "uk.london");
	assert_string_equal(r.encloser.prefix, "uk.london.lewisham.schools");

	assert_true(registry_resolve(idx, "uk.london.lewisham.social-care", &r));
	assert_string_equal(r.match.registrar_id, "lewisham");
	assert_string_equal(r.match.prefix, "uk.london.lewisham");

	/* The address equal to a prefix matches it. */
	assert_true(registry_resolve(idx, "uk.london.lewisham", &r));
	assert_string_equal(r.match.prefix, "uk.london.lewisham");

	/* Mirrored delegations resolve, naming the region that serves them. */
	assert_true(registry_resolve(idx, "uk.westyorks.leeds.police", &r));
	assert_string_equal(r.match.registrar_id, "leeds");
	assert_string_equal(r.match.region, "uk.westyorks");
	registry_index_free(idx);
}

static void
test_closest_encloser_on_miss(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;

	/* Inside our region, no delegation: the region is responsible. */
	assert_false(registry_resolve(idx, "uk.london.camden.housing", &r));
	assert_int_equal(r.match.kind, REGISTRY_PREFIX_NONE);
	assert_null(r.match.prefix);
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_OWN_REGION);
	assert_string_equal(r.encloser.prefix, "uk.london");
	assert_string_equal(r.encloser.region, "uk.london");
	assert_null(r.encloser.registrar_id);

	/* Inside a peer's region: that node. */
	assert_false(registry_resolve(idx, "uk.westyorks.bradford", &r));
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_PEER_REGION);
	assert_string_equal(r.encloser.region, "uk.westyorks");

	/* Nothing known covers it. */
	assert_false(registry_resolve(idx, "uk.leeds.x", &r));
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_NONE);
	assert_false(registry_resolve(idx, "fr", &r));
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_NONE);
	registry_index_free(idx);
}

static void
test_label_alignment(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;

	/* "uk.london.lewisham" must not match "uk.london.lewishamx". */
	assert_false(registry_resolve(idx, "uk.london.lewishamx.a", &r));
	assert_string_equal(r.encloser.prefix, "uk.london");
	/* uk.london is no prefix of uk.londonderry. */
	assert_false(registry_resolve(idx, "uk.londonderry", &r));
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_NONE);
	/* A string prefix that ends mid-label of the registrar's prefix. */
	assert_false(registry_resolve(idx, "uk.london.lewish", &r));
	assert_string_equal(r.encloser.prefix, "uk.london");
	registry_index_free(idx);
}

static void
test_delegation_beats_shorter_region(void **state)
{
	struct registry_index *idx = registry_index_new(0);
	struct registry_resolution r;

	/* A sub-region node (uk.london) inside a delegation of uk's node. */
	assert_int_equal(registry_index_add_region(idx, "uk", REGISTRY_PREFIX_OWN_REGION), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk", "gov", ACTIVE), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.gov", "uk", "gov"), 0);
	assert_int_equal(registry_index_add_region(idx, "uk.gov.london", REGISTRY_PREFIX_PEER_REGION), 0);
	assert_true(registry_resolve(idx, "uk.gov.london.x", &r));
	assert_string_equal(r.encloser.prefix, "uk.gov.london");
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_PEER_REGION);
	assert_string_equal(r.match.prefix, "uk.gov");
	registry_index_free(idx);
}

static void
test_status_and_move(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;

	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "lewisham",
	    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED), 0);
	assert_true(registry_resolve(idx, "uk.london.lewisham.x", &r));
	assert_int_equal(r.match.registrar_status,
	    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED);
	assert_int_equal(registry_index_set_registrar(idx, "uk.london", "successor", ACTIVE), 0);
	assert_int_equal(registry_index_move_delegation(idx, "uk.london.lewisham",
	    "uk.london", "successor"), 0);
	assert_true(registry_resolve(idx, "uk.london.lewisham.x", &r));
	assert_string_equal(r.match.registrar_id, "successor");
	assert_int_equal(r.match.registrar_status, ACTIVE);
	assert_int_equal(registry_index_move_delegation(idx, "uk.london.nope",
	    "uk.london", "successor"), REGISTRY_ENOTFOUND);
	assert_int_equal(registry_index_move_delegation(idx, "uk.london.lewisham",
	    "uk.london", "nobody"), REGISTRY_ENOTFOUND);
	registry_index_free(idx);
}

static void
test_insert_rules(void **state)
{
	struct registry_index *idx = london();

	assert_int_equal(registry_index_add_delegation(idx, "uk.london.x", "uk.london", "nobody"), REGISTRY_ENOTFOUND);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham", "uk.london", "lewisham"), REGISTRY_OK);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham", "uk.london", "schools"), REGISTRY_EEXIST);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london", "uk.london", "schools"), REGISTRY_EEXIST);
	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_PEER_REGION), REGISTRY_EEXIST);
	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_OWN_REGION), REGISTRY_OK);
	assert_int_equal(registry_index_add_region(idx, "x", REGISTRY_PREFIX_DELEGATION), REGISTRY_EINVAL);
	assert_int_equal(registry_index_set_registrar(idx, "", "a", ACTIVE), REGISTRY_EINVAL);
	assert_int_equal(registry_index_count(idx), 5);
	registry_index_free(idx);
}

static void
test_find_under(void **state)
{
	struct registry_index *idx = london();
	struct registry_match m;

	assert_true(registry_index_find_under(idx, "uk.london", &m));
	assert_true(strncmp(m.prefix, "uk.london.lewisham", 18) == 0);
	assert_true(registry_index_find_under(idx, "uk.london.lewisham", &m));
	assert_string_equal(m.prefix, "uk.london.lewisham.schools");
	assert_string_equal(m.registrar_id, "schools");
	assert_false(registry_index_find_under(idx, "uk.london.lewisham.schools", &m));
	assert_false(registry_index_find_under(idx, "uk.london.lewi", &m));
	assert_int_equal(registry_index_remove(idx, "uk.london.lewisham.schools"), 0);
	assert_false(registry_index_find_under(idx, "uk.london.lewisham", &m));
	assert_true(registry_index_find_under(idx, "uk.london", &m));
	assert_int_equal(registry_index_remove(idx, "uk.london.lewisham"), 0);
	assert_false(registry_index_find_under(idx, "uk.london", &m));
	assert_true(registry_index_find_under(idx, "uk", &m));	/* the mirrored leeds */
	assert_string_equal(m.prefix, "uk.westyorks.leeds");
	assert_true(registry_index_find_under(idx, "uk.westyorks", &m));
	assert_int_equal(registry_index_remove(idx, "uk.london.lewisham"), REGISTRY_ENOTFOUND);
	registry_index_free(idx);
}

static void
test_apply_record(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;
	Axle__V1__Registrar rec = AXLE__V1__REGISTRAR__INIT;
	char *p1[] = { (char *)"uk.london.lewisham", (char *)"uk.london.greenwich" };
	char *p2[] = { (char *)"uk.westyorks.leeds", (char *)"uk.london.bexley" };

	/* A local successor takes lewisham over (same region) and adds greenwich. */
	rec.id = (char *)"successor";
	rec.region = (char *)"uk.london";
	rec.status = ACTIVE;
	rec.prefixes = p1;
	rec.n_prefixes = 2;
	assert_int_equal(registry_index_apply(idx, &rec), REGISTRY_OK);
	assert_true(registry_resolve(idx, "uk.london.lewisham.a", &r));
	assert_string_equal(r.match.registrar_id, "successor");
	assert_true(registry_resolve(idx, "uk.london.greenwich", &r));
	/* A peer record cannot take over another region's prefix; the rest applies. */
	rec.id = (char *)"pirate";
	rec.region = (char *)"uk.bristol";
	rec.prefixes = p2;
	assert_int_equal(registry_index_apply(idx, &rec), REGISTRY_EEXIST);
	assert_true(registry_resolve(idx, "uk.westyorks.leeds", &r));
	assert_string_equal(r.match.registrar_id, "leeds");
	assert_true(registry_resolve(idx, "uk.london.bexley", &r));
	assert_string_equal(r.match.registrar_id, "pirate");
	registry_index_free(idx);
}

static void
test_bad_addresses(void **state)
{
	struct registry_index *idx = london();
	struct registry_resolution r;
	char big[300];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(registry_resolve(idx, "", &r));
	assert_int_equal(r.encloser.kind, REGISTRY_PREFIX_NONE);
	assert_false(registry_resolve(idx, big, &r));
	assert_int_equal(registry_index_add_region(idx, big, REGISTRY_PREFIX_PEER_REGION), REGISTRY_EINVAL);
	/* Unparsed input: as many dots as bytes, exactly at the limit. */
	memset(big, '.', 253);
	big[253] = '\0';
	assert_false(registry_resolve(idx, big, &r));
	big[252] = 'a';
	assert_false(registry_resolve(idx, big, &r));
	registry_index_free(idx);
}

/* Many inserts and removals: backward-shift deletion must keep every survivor reachable. */
static void
test_churn(void **state)
{
	struct registry_index *idx = registry_index_new(0);
	struct registry_match m;
	enum { N = 20000 };
	char p[64];

	assert_int_equal(registry_index_set_registrar(idx, "uk", "r", ACTIVE), 0);
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "uk.r%d.s%d", i % 97, i);
		assert_int_equal(registry_index_add_delegation(idx, p, "uk", "r"), 0);
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(p, sizeof(p), "uk.r%d.s%d", i % 97, i);
		assert_int_equal(registry_index_remove(idx, p), 0);
	}
	assert_int_equal(registry_index_count(idx), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "uk.r%d.s%d", i % 97, i);
		assert_int_equal(registry_index_get(idx, p, &m), i % 2 == 1);
	}
	/* Under-counts follow: r0 still has odd members, then none. */
	assert_true(registry_index_find_under(idx, "uk.r1", &m));
	for (int i = 1; i < N; i += 2) {
		snprintf(p, sizeof(p), "uk.r%d.s%d", i % 97, i);
		assert_int_equal(registry_index_remove(idx, p), 0);
	}
	assert_int_equal(registry_index_count(idx), 0);
	assert_false(registry_index_find_under(idx, "uk", &m));
	/* Re-insert reuses freed entries. */
	assert_int_equal(registry_index_add_delegation(idx, "uk.r1.s1", "uk", "r"), 0);
	assert_true(registry_index_get(idx, "uk.r1.s1", &m));
	registry_index_free(idx);
}

static void
test_hash_is_prefix_incremental(void **state)
{
	/* Different keys hash differently; the same key the same. */
	assert_true(registry_index_hash("uk.london", 9) == registry_index_hash("uk.london.x", 9));
	assert_true(registry_index_hash("uk.london", 9) != registry_index_hash("uk.londom", 9));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix),
		cmocka_unit_test(test_closest_encloser_on_miss),
		cmocka_unit_test(test_label_alignment),
		cmocka_unit_test(test_delegation_beats_shorter_region),
		cmocka_unit_test(test_status_and_move),
		cmocka_unit_test(test_insert_rules),
		cmocka_unit_test(test_find_under),
		cmocka_unit_test(test_apply_record),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_hash_is_prefix_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
