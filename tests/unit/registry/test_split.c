/* test_split.c -- splitting a region: registry_db_split's refusals, dry run and records; the index's moved_to rules in any order of arrival; the delegation a child takes over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/delegate.h"
#include "registry/prefix_index.h"
#include "registry/registrar.h"
#include "reg_harness.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

static struct node n;

static int
setup(void **state)
{
	node_open(&n, "uk");
	return 0;
}

static int
teardown(void **state)
{
	node_close(&n);
	return 0;
}

static int
split(const char *region, bool dry_run, struct registry_split *out)
{
	struct registry_split_req req = { region, "axle://fame-uk/node/uk.london",
	    "127.0.0.1:7000", NULL, "outgrew", dry_run };
	int rc;

	node_begin(&n);
	rc = registry_db_split(n.txn, &n.db, &test_admin, &req, out, &n.res);
	if (rc == REGISTRY_OK && !dry_run)
		node_commit(&n);
	else
		node_abort(&n);
	return rc;
}

static Axle__V1__Registrar *
get(const char *id)
{
	return node_get(&n, id);
}

static void
test_split_refusals_and_dry_run(void **state)
{
	struct registry_split s;
	Axle__V1__Registrar *r;

	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), REGISTRY_OK);
	assert_int_equal(node_delegate(&n, "camden", "uk.london.camden"), REGISTRY_OK);
	assert_int_equal(node_delegate(&n, "leeds", "uk.leeds"), REGISTRY_OK);
	/* Outside, or the region itself. */
	assert_int_equal(split("uk", false, &s), REGISTRY_EPERM);
	assert_int_equal(split("fr.paris", false, &s), REGISTRY_EPERM);
	/* A registrar holding something outside the region does not move in part. */
	assert_int_equal(node_delegate(&n, "camden", "uk.camden-outer"), REGISTRY_OK);
	assert_int_equal(split("uk.london", false, &s), REGISTRY_EPRECOND);
	assert_non_null(strstr(n.res.reason, "uk.camden-outer"));
	assert_null(s.moved);
	/* The dry run lists who moves and writes nothing. */
	assert_int_equal(node_delegate(&n, "other", "uk.other"), REGISTRY_OK);
	assert_int_equal(split("uk.leeds", true, &s), REGISTRY_OK);
	assert_int_equal(s.n_moved, 0);	/* leeds holds uk.leeds itself: not under */
	registry_split_free(&s);
	assert_int_equal(split("uk.leeds", false, &s), REGISTRY_EEXIST);
	r = get("camden");
	assert_string_equal(r->moved_to, "");
	pb_free(&r->base);
}

static void
test_split_moves_records(void **state)
{
	struct registry_split s;
	Axle__V1__Registrar *r;
	struct registry_split_req no_reason = { "uk.london", "axle://f/node/uk.london",
	    "", NULL, "", false };

	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), REGISTRY_OK);
	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham-east"), REGISTRY_OK);
	assert_int_equal(node_delegate(&n, "camden", "uk.london.camden"), REGISTRY_OK);
	assert_int_equal(node_delegate(&n, "leeds", "uk.leeds"), REGISTRY_OK);
	node_begin(&n);
	assert_int_equal(registry_db_split(n.txn, &n.db, &test_admin, &no_reason, &s,
	    &n.res), REGISTRY_EINVAL);
	node_abort(&n);
	assert_int_equal(split("uk.london", true, &s), REGISTRY_OK);
	assert_int_equal(s.n_moved, 2);
	assert_null(s.node);
	registry_split_free(&s);
	assert_int_equal(split("uk.london", false, &s), REGISTRY_OK);
	assert_int_equal(s.n_moved, 2);
	assert_non_null(s.node);
	assert_string_equal(s.node->id, "node.uk.london");
	for (size_t i = 0; i < s.n_moved; i++)
		assert_string_equal(s.moved[i]->moved_to, "uk.london");
	registry_split_free(&s);
	r = get("lewisham");
	assert_string_equal(r->moved_to, "uk.london");
	assert_int_equal(r->n_prefixes, 2);	/* kept: nobody else here may take them */
	pb_free(&r->base);
	r = get("leeds");
	assert_string_equal(r->moved_to, "");
	pb_free(&r->base);
	/* Moved registrars are changed at the child now, not here. */
	assert_int_equal(node_set_status(&n, "lewisham", S(SUSPENDED)), REGISTRY_EPRECOND);
	assert_non_null(strstr(n.res.reason, "uk.london"));
	assert_int_equal(node_delegate(&n, "lewisham", "uk.lewisham-west"), REGISTRY_EPRECOND);
	/* Nobody here takes a prefix under the split region. */
	assert_int_equal(node_delegate(&n, "squat", "uk.london.squat"), REGISTRY_EEXIST);
	/* Splitting again is an update of the same. */
	assert_int_equal(split("uk.london", false, &s), REGISTRY_OK);
	assert_int_equal(s.n_moved, 2);
	registry_split_free(&s);
}

/* A record of region for id holding prefix, moved_to (NULL: not moved). */
static void
rec(Axle__V1__Registrar *r, char **p, const char *region, const char *id,
    const char *prefix, const char *moved_to, Axle__V1__RegistrarStatus st)
{
	axle__v1__registrar__init(r);
	p[0] = (char *)prefix;
	r->id = (char *)id;
	r->region = (char *)region;
	r->prefixes = p;
	r->n_prefixes = 1;
	r->status = st;
	r->moved_to = (char *)(moved_to != NULL ? moved_to : "");
}

static void
expect(struct registry_index *idx, const char *region, Axle__V1__RegistrarStatus st)
{
	struct registry_resolution res;

	assert_true(registry_resolve(idx, "uk.london.lewisham.desk", &res));
	assert_string_equal(res.match.registrar_id, "lewisham");
	assert_string_equal(res.match.region, region);
	assert_int_equal(res.match.registrar_status, st);
}

static void
test_index_any_order(void **state)
{
	Axle__V1__Registrar parent, moved, child, pirate;
	char *pp[1], *pm[1], *pc[1], *px[1];
	struct registry_index *idx;

	rec(&parent, pp, "uk", "lewisham", "uk.london.lewisham", NULL, S(ACTIVE));
	rec(&moved, pm, "uk", "lewisham", "uk.london.lewisham", "uk.london", S(ACTIVE));
	rec(&child, pc, "uk.london", "lewisham", "uk.london.lewisham", NULL, S(SUSPENDED));
	/* parent, child (before the move), moved */
	idx = registry_index_new(0);
	assert_int_equal(registry_index_apply(idx, &parent), REGISTRY_OK);
	assert_int_equal(registry_index_apply(idx, &child), REGISTRY_EEXIST);
	expect(idx, "uk", S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &moved), REGISTRY_OK);
	expect(idx, "uk.london", S(SUSPENDED));	/* the child's standing */
	registry_index_free(idx);
	/* child first (its node's own index), then the parent's: the parent's wins until moved */
	idx = registry_index_new(0);
	assert_int_equal(registry_index_apply(idx, &child), REGISTRY_OK);
	assert_int_equal(registry_index_apply(idx, &parent), REGISTRY_OK);
	expect(idx, "uk", S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &moved), REGISTRY_OK);
	expect(idx, "uk.london", S(SUSPENDED));
	registry_index_free(idx);
	/* the moved record alone, then the child's */
	idx = registry_index_new(0);
	assert_int_equal(registry_index_apply(idx, &moved), REGISTRY_OK);
	expect(idx, "uk.london", S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &child), REGISTRY_OK);
	expect(idx, "uk.london", S(SUSPENDED));
	/* replaying the parent's history: its old entry takes it back, its move gives it again */
	assert_int_equal(registry_index_apply(idx, &parent), REGISTRY_OK);
	expect(idx, "uk", S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &moved), REGISTRY_OK);
	expect(idx, "uk.london", S(SUSPENDED));
	/* moved_to must lie under the record's region, and cover its prefixes */
	rec(&pirate, px, "uk.westyorks", "lewisham", "uk.london.lewisham", "uk.london",
	    S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &pirate), REGISTRY_EEXIST);
	expect(idx, "uk.london", S(SUSPENDED));
	rec(&pirate, px, "uk", "leeds", "uk.westyorks.leeds", "uk.london", S(ACTIVE));
	assert_int_equal(registry_index_apply(idx, &pirate), REGISTRY_EINVAL);
	registry_index_free(idx);
}

/* The child may delegate what the same registrar holds in an ancestor's register; nothing else. */
static void
test_child_takes_over(void **state)
{
	struct registry_index *idx = registry_index_new(0);
	struct registry_prefix_view v;
	char why[REGISTRY_REASON_MAX];

	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_OWN_REGION), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk", "lewisham", S(ACTIVE)), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.lewisham", "uk",
	    "lewisham"), 0);
	assert_int_equal(registry_index_set_registrar(idx, "uk.westyorks", "camden", S(ACTIVE)), 0);
	assert_int_equal(registry_index_add_delegation(idx, "uk.london.camden", "uk.westyorks",
	    "camden"), 0);
	registry_index_view(idx, &v);
	assert_int_equal(registry_delegate_check(&v, "uk.london", "lewisham",
	    "uk.london.lewisham", why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_delegate_check(&v, "uk.london", "other",
	    "uk.london.lewisham", why, sizeof(why)), REGISTRY_EEXIST);
	assert_int_equal(registry_delegate_check(&v, "uk.london", "lewisham",
	    "uk.london.lewisham.x", why, sizeof(why)), REGISTRY_OK);
	/* Not an ancestor's register: no take-over. */
	assert_int_equal(registry_delegate_check(&v, "uk.london", "camden",
	    "uk.london.camden", why, sizeof(why)), REGISTRY_EEXIST);
	registry_index_free(idx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_refusals_and_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_moves_records, setup, teardown),
		cmocka_unit_test(test_index_any_order),
		cmocka_unit_test(test_child_takes_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
