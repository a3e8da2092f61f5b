/* test_path.c -- loop refusal on a case's path and cycle detection in parent chains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "recourse/path.h"
#include "recourse/rc.h"

static void
test_path_loop(void **state)
{
	char *path[] = { "uk.london.south", "uk.london", "uk" };
	char why[256];

	assert_int_equal(recourse_path_check_append(path, 3, "eu", why,
	    sizeof(why)), RECOURSE_OK);
	assert_int_equal(recourse_path_check_append(path, 3, "uk.london", why,
	    sizeof(why)), RECOURSE_ELOOP);
	assert_string_equal(why, "uk.london is already on this case's path "
	    "uk.london.south -> uk.london -> uk: escalating there would be a "
	    "loop");
	assert_int_equal(recourse_path_check_append(path, 3, "uk.london.south",
	    why, sizeof(why)), RECOURSE_ELOOP);
	/* Label-exact: uk.londo is not uk.london. */
	assert_int_equal(recourse_path_check_append(path, 3, "uk.londo", why,
	    sizeof(why)), RECOURSE_OK);
	assert_int_equal(recourse_path_check_append(path, 0, "uk", why,
	    sizeof(why)), RECOURSE_OK);
	assert_int_equal(recourse_path_check_append(path, 3, "", why,
	    sizeof(why)), RECOURSE_EINVAL);
}

static void
test_path_format_truncates(void **state)
{
	char *path[] = { "aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc" };
	char buf[16];

	recourse_path_format(path, 3, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 15);
	assert_string_equal(buf + 12, "...");
}

static void
test_chain_ok(void **state)
{
	struct recourse_parent_link l[] = {
		{ "uk.london.south", "uk.london" }, { "uk.london", "uk" },
		{ "uk", "" }, { "uk.york", "uk" }, { "uk.leeds", "uk.westyorks" },
	};
	char why[256] = "";

	assert_int_equal(recourse_parent_chain_check(l, 5, why, sizeof(why)),
	    RECOURSE_OK);
	assert_int_equal(recourse_parent_chain_check(NULL, 0, why, sizeof(why)),
	    RECOURSE_OK);
}

static void
test_chain_cycles(void **state)
{
	struct recourse_parent_link two[] = { { "uk.a", "uk.b" },
	    { "uk.b", "uk.a" } };
	struct recourse_parent_link three[] = { { "uk.x", "uk.a" },
	    { "uk.a", "uk.b" }, { "uk.b", "uk.c" }, { "uk.c", "uk.a" } };
	struct recourse_parent_link self[] = { { "uk.a", "uk.a" } };
	struct recourse_parent_link twice[] = { { "uk.a", "uk" },
	    { "uk.a", "uk.b" } };
	struct recourse_parent_link same_twice[] = { { "uk.a", "uk" },
	    { "uk.a", "uk" } };
	struct recourse_parent_link noname[] = { { "", "uk" } };
	char why[256];

	assert_int_equal(recourse_parent_chain_check(two, 2, why, sizeof(why)),
	    RECOURSE_ELOOP);
	assert_string_equal(why, "parent chain uk.a -> uk.b -> uk.a is a cycle");
	/* A node leading into a cycle: the cycle itself is named. */
	assert_int_equal(recourse_parent_chain_check(three, 4, why,
	    sizeof(why)), RECOURSE_ELOOP);
	assert_string_equal(why, "parent chain uk.a -> uk.b -> uk.c -> uk.a "
	    "is a cycle");
	assert_int_equal(recourse_parent_chain_check(self, 1, why, sizeof(why)),
	    RECOURSE_ELOOP);
	assert_string_equal(why, "uk.a names itself as its parent");
	assert_int_equal(recourse_parent_chain_check(twice, 2, why,
	    sizeof(why)), RECOURSE_EINVAL);
	assert_non_null(strstr(why, "two parents"));
	assert_int_equal(recourse_parent_chain_check(same_twice, 2, why,
	    sizeof(why)), RECOURSE_OK);
	assert_int_equal(recourse_parent_chain_check(noname, 1, why,
	    sizeof(why)), RECOURSE_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_loop),
		cmocka_unit_test(test_path_format_truncates),
		cmocka_unit_test(test_chain_ok),
		cmocka_unit_test(test_chain_cycles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
