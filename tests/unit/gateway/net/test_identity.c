/* test_identity.c -- axle:// SAN URI grammar and the authorisation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/net/identity.h"

static char err[256];

/* Parses a NUL-terminated URI that must be accepted. */
static struct net_identity
ok(const char *uri)
{
	struct net_identity id;

	memset(err, 'Z', sizeof(err));
	if (net_identity_parse_uri(uri, strlen(uri), &id, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", uri, err);
	assert_string_equal(err, "");
	return id;
}

/* Asserts uri is refused with exactly the reason want and out is cleared. */
static void
bad(const char *uri, const char *want)
{
	struct net_identity id;

	memset(&id, 'Z', sizeof(id));
	memset(err, 'Z', sizeof(err));
	assert_int_equal(net_identity_parse_uri(uri, strlen(uri), &id, err,
	    sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(id.role, 0);
	assert_string_equal(id.federation, "");
	assert_string_equal(id.address, "");
	assert_string_equal(id.user, "");
	assert_string_equal(id.uri, "");
}

static const char *
rep(char c, size_t n)
{
	static char buf[400];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* parsing ---------------------------------------------------------------- */

static void
test_role_names(void **state)
{
	assert_string_equal(net_role_name(NET_ROLE_NODE), "node");
	assert_string_equal(net_role_name(NET_ROLE_MEMBER), "member");
	assert_string_equal(net_role_name(NET_ROLE_ADMIN), "admin");
	assert_string_equal(net_role_name((enum net_role)0), "unknown");
	assert_string_equal(net_role_name((enum net_role)42), "unknown");
}

static void
test_parse_each_role(void **state)
{
	struct net_identity id;

	id = ok("axle://fame-uk/node/uk.london");
	assert_int_equal(id.role, NET_ROLE_NODE);
	assert_string_equal(id.federation, "fame-uk");
	assert_string_equal(id.address, "uk.london");
	assert_string_equal(id.user, "");
	assert_string_equal(id.uri, "axle://fame-uk/node/uk.london");

	id = ok("axle://fame-uk/member/uk.london.lewisham");
	assert_int_equal(id.role, NET_ROLE_MEMBER);
	assert_string_equal(id.address, "uk.london.lewisham");
	assert_string_equal(id.user, "");

	id = ok("axle://fame-uk/admin/uk.london/jsmith");
	assert_int_equal(id.role, NET_ROLE_ADMIN);
	assert_string_equal(id.address, "uk.london");
	assert_string_equal(id.user, "jsmith");
	assert_string_equal(id.uri, "axle://fame-uk/admin/uk.london/jsmith");
}

static void
test_parse_folding(void **state)
{
	struct net_identity id;

	/* Federation and address fold like any address; uri is the folded form. */
	id = ok("axle://FAME-UK/member/UK.London.Lewisham");
	assert_string_equal(id.federation, "fame-uk");
	assert_string_equal(id.address, "uk.london.lewisham");
	assert_string_equal(id.uri, "axle://fame-uk/member/uk.london.lewisham");
}

static void
test_parse_user_chars(void **state)
{
	struct net_identity id;
	char uri[512];

	id = ok("axle://f/admin/uk/j.smith_2-x");
	assert_string_equal(id.user, "j.smith_2-x");
	id = ok("axle://f/admin/uk/...");	/* not a dot-segment */
	assert_string_equal(id.user, "...");
	id = ok("axle://f/admin/uk/-");
	assert_string_equal(id.user, "-");

	snprintf(uri, sizeof(uri), "axle://f/admin/uk/%s", rep('u', 64));
	id = ok(uri);
	assert_int_equal(strlen(id.user), 64);
	snprintf(uri, sizeof(uri), "axle://f/admin/uk/%s", rep('u', 65));
	bad(uri, "user is 65 bytes, the limit is 64");

	bad("axle://f/admin/uk/JSmith",
	    "user byte 0: 'J' is not allowed (use a-z, 0-9, '.', '_', '-')");
	bad("axle://f/admin/uk/j+s",
	    "user byte 1: '+' is not allowed (use a-z, 0-9, '.', '_', '-')");
	bad("axle://f/admin/uk/j@s",
	    "user byte 1: '@' is not allowed (use a-z, 0-9, '.', '_', '-')");
	bad("axle://f/admin/uk/j:s",
	    "user byte 1: ':' is not allowed (use a-z, 0-9, '.', '_', '-')");
	bad("axle://f/admin/uk/.", "user \".\" is a dot-segment");
	bad("axle://f/admin/uk/..", "user \"..\" is a dot-segment");
}

static void
test_parse_longest(void **state)
{
	char l63[64], f63[64], u64[65], addr[ADDR_MAX_LEN + 1], uri[NET_URI_MAX + 16];
	struct net_identity id;

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(f63, 'f', 63);
	f63[63] = '\0';
	memset(u64, 'u', 64);
	u64[64] = '\0';
	/* 63+1+63+1+63+1+61 = 253 bytes of address. */
	snprintf(addr, sizeof(addr), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	assert_int_equal(strlen(addr), ADDR_MAX_LEN);
	snprintf(uri, sizeof(uri), "axle://%s/admin/%s/%s", f63, addr, u64);
	assert_int_equal(strlen(uri), 395);
	id = ok(uri);
	assert_string_equal(id.uri, uri);
	assert_int_equal(strlen(id.address), ADDR_MAX_LEN);
	assert_string_equal(id.federation, f63);
	assert_string_equal(id.user, u64);

	memset(uri, 'a', NET_URI_MAX + 1);
	memcpy(uri, "axle://", 7);
	uri[NET_URI_MAX + 1] = '\0';
	snprintf(addr, sizeof(addr), "URI is %d bytes, the limit is %d",
	    NET_URI_MAX + 1, NET_URI_MAX);
	bad(uri, addr);
}

static void
test_parse_len_governs(void **state)
{
	struct net_identity id;
	const char *s = "axle://f/admin/uk/jsmithXYZ";

	assert_int_equal(net_identity_parse_uri(s, strlen(s) - 3, &id, err,
	    sizeof(err)), 0);
	assert_string_equal(id.user, "jsmith");
	/* Cut inside the scheme. */
	assert_int_equal(net_identity_parse_uri(s, 5, &id, err, sizeof(err)), -1);
	assert_string_equal(err, "expected \"axle://\" after the scheme");
	/* An embedded NUL is a byte like any other: refused. */
	assert_int_equal(net_identity_parse_uri("axle://f/node/uk\0x", 18, &id,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "byte 16: 0x00 is not allowed in an identity URI");
	/* No err buffer is fine. */
	assert_int_equal(net_identity_parse_uri("x", 1, &id, NULL, 0), -1);
}

static void
test_parse_scheme(void **state)
{
	bad("https://fame-uk/node/uk", "scheme must be \"axle\" (got \"https\")");
	bad("axles://fame-uk/node/uk", "scheme must be \"axle\" (got \"axles\")");
	bad("AXLE://fame-uk/node/uk", "scheme must be lower-case \"axle\"");
	bad("Axle://fame-uk/node/uk", "scheme must be lower-case \"axle\"");
	bad("axle:fame-uk/node/uk", "expected \"axle://\" after the scheme");
	bad("axle:/fame-uk/node/uk", "expected \"axle://\" after the scheme");
	bad("axle", "not an axle:// URI (no scheme)");
	bad("fame-uk/node/uk", "not an axle:// URI (no scheme)");
	bad("://fame-uk/node/uk", "not an axle:// URI (no scheme)");
	bad("", "not an axle:// URI (no scheme)");
	bad(" axle://fame-uk/node/uk", "scheme must be \"axle\" (got \" axle\")");
}

static void
test_parse_uri_features(void **state)
{
	bad("axle://fame-uk/node/uk?x=1", "byte 22: a query is not allowed");
	bad("axle://fame-uk/node/uk?", "byte 22: a query is not allowed");
	bad("axle://fame-uk/node/uk#top", "byte 22: a fragment is not allowed");
	bad("axle://fame-uk/node/u%6b", "byte 21: percent-escapes are not allowed");
	bad("axle://fame%2duk/node/uk", "byte 11: percent-escapes are not allowed");
	bad("axle://jsmith@fame-uk/node/uk", "userinfo ('@') is not allowed");
	bad("axle://fame-uk:443/node/uk", "a port (':') is not allowed");
	bad("axle://fame-uk:/node/uk", "a port (':') is not allowed");
	bad("axle://fame-uk/node/uk lon",
	    "byte 22: 0x20 is not allowed in an identity URI");
	bad("axle://fame-uk/node/uk\n",
	    "byte 22: 0x0a is not allowed in an identity URI");
	bad("axle://fame-uk/node/uk\x7f",
	    "byte 22: 0x7f is not allowed in an identity URI");
	bad("axle://fame-uk/node/m\xc3\xbcnchen",
	    "byte 21: 0xc3 is not allowed in an identity URI");
}

static void
test_parse_federation(void **state)
{
	char uri[512], want[256];

	bad("axle:///node/uk", "federation is empty");
	bad("axle://", "federation is empty");
	bad("axle://fame.uk/node/uk", "federation must be one label (got \"fame.uk\")");
	bad("axle://-fame/node/uk",
	    "federation: label 1 (\"-fame\") starts with '-'");
	bad("axle://fame_uk/node/uk",
	    "federation: label 1 (\"fame_uk\") byte 4: '_' is not allowed "
	    "(use a-z, 0-9, '-')");
	bad("axle://fame./node/uk", "federation: trailing dot");
	bad("axle://.fame/node/uk", "federation: leading dot");
	snprintf(uri, sizeof(uri), "axle://%s/node/uk", rep('f', 64));
	snprintf(want, sizeof(want), "federation: label 1 is 64 bytes, the limit is 63");
	bad(uri, want);
	snprintf(uri, sizeof(uri), "axle://%s/node/uk", rep('f', 63));
	assert_int_equal(strlen(ok(uri).federation), 63);
}

static void
test_parse_role(void **state)
{
	bad("axle://fame-uk", "missing /<role>/<address> after the federation");
	bad("axle://fame-uk/", "role is empty");
	bad("axle://fame-uk//uk", "role is empty");
	bad("axle://fame-uk/root/uk", "unknown role \"root\" (use node, member or admin)");
	bad("axle://fame-uk/NODE/uk", "unknown role \"NODE\" (use node, member or admin)");
	bad("axle://fame-uk/nodes/uk", "unknown role \"nodes\" (use node, member or admin)");
	bad("axle://fame-uk/nod/uk", "unknown role \"nod\" (use node, member or admin)");
	bad("axle://fame-uk/node", "missing /<address> after the role");
	bad("axle://fame-uk/admin", "missing /<address> after the role");
}

static void
test_parse_address(void **state)
{
	bad("axle://fame-uk/node/", "address is empty (trailing slash)");
	bad("axle://fame-uk/node//uk", "address is empty");
	bad("axle://fame-uk/node/uk..london",
	    "address: label 2 is empty (two dots at byte 2)");
	bad("axle://fame-uk/member/uk.london-",
	    "address: label 2 (\"london-\") ends with '-'");
	bad("axle://fame-uk/member/uk.lon_don",
	    "address: label 2 (\"lon_don\") byte 3: '_' is not allowed "
	    "(use a-z, 0-9, '-')");
	bad("axle://fame-uk/member/uk.lewisham:0042",
	    "address: label 2 (\"lewisham:0042\") byte 8: ':' is not allowed "
	    "(use a-z, 0-9, '-')");
	bad("axle://fame-uk/node/uk.", "address: trailing dot");
}

static void
test_parse_user_part(void **state)
{
	bad("axle://fame-uk/node/uk/", "trailing slash");
	bad("axle://fame-uk/member/uk/", "trailing slash");
	bad("axle://fame-uk/admin/uk/", "trailing slash");
	bad("axle://fame-uk/node/uk/jsmith", "a node URI has no /<user> part");
	bad("axle://fame-uk/member/uk/jsmith", "a member URI has no /<user> part");
	bad("axle://fame-uk/member/uk/a/b", "a member URI has no /<user> part");
	bad("axle://fame-uk/admin/uk.london", "an admin URI needs /<user> after the address");
	bad("axle://fame-uk/admin/uk//x", "user is empty");
	bad("axle://fame-uk/admin/uk/js/", "trailing slash");
	bad("axle://fame-uk/admin/uk/js/x", "extra path segment after the user");
	bad("axle://fame-uk/admin/uk/js//", "extra path segment after the user");
}

/* authorisation ---------------------------------------------------------- */

#define FED "fame-uk"
#define REGION "uk.london"

enum who {
	NODE_HERE, NODE_PEER, MEMBER_HERE, MEMBER_ELSEWHERE, ADMIN_HERE,
	ADMIN_PEER, ADMIN_PARENT, ADMIN_CHILD, FOREIGN_MEMBER, FOREIGN_ADMIN,
	NWHO
};

static const char *const uris[NWHO] = {
	[NODE_HERE] = "axle://fame-uk/node/uk.london",
	[NODE_PEER] = "axle://fame-uk/node/uk.leeds",
	[MEMBER_HERE] = "axle://fame-uk/member/uk.london.lewisham",
	[MEMBER_ELSEWHERE] = "axle://fame-uk/member/uk.leeds.social",
	[ADMIN_HERE] = "axle://fame-uk/admin/uk.london/jsmith",
	[ADMIN_PEER] = "axle://fame-uk/admin/uk.leeds/ann",
	[ADMIN_PARENT] = "axle://fame-uk/admin/uk/root",
	[ADMIN_CHILD] = "axle://fame-uk/admin/uk.london.lewisham/bob",
	[FOREIGN_MEMBER] = "axle://fame-fr/member/uk.london.lewisham",
	[FOREIGN_ADMIN] = "axle://fame-fr/admin/uk.london/jsmith",
};

static enum net_authz const rules[] = {
	NET_AUTHZ_ANY, NET_AUTHZ_ADMIN, NET_AUTHZ_MEMBER, NET_AUTHZ_NODE,
	NET_AUTHZ_MEMBER_OR_ADMIN,
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* The whole policy, one row per caller, columns in the order of rules[]. */
static const bool expect[NWHO][NRULES] = {
	/*                    ANY    ADMIN  MEMBER NODE   M_OR_A */
	[NODE_HERE] =        { true, false, false, true,  false },
	[NODE_PEER] =        { true, false, false, true,  false },
	[MEMBER_HERE] =      { true, false, true,  false, true  },
	[MEMBER_ELSEWHERE] = { true, false, true,  false, true  },
	[ADMIN_HERE] =       { true, true,  false, false, true  },
	[ADMIN_PEER] =       { true, false, false, false, false },
	[ADMIN_PARENT] =     { true, false, false, false, false },
	[ADMIN_CHILD] =      { true, false, false, false, false },
	[FOREIGN_MEMBER] =   { false, false, false, false, false },
	[FOREIGN_ADMIN] =    { false, false, false, false, false },
};

static void
test_authz_matrix(void **state)
{
	for (int w = 0; w < NWHO; w++) {
		struct net_identity id = ok(uris[w]);

		for (size_t r = 0; r < NRULES; r++) {
			bool got;

			memset(err, 'Z', sizeof(err));
			got = net_authz_allows(&id, rules[r], FED, REGION, err,
			    sizeof(err));
			if (got != expect[w][r])
				fail_msg("%s rule %d: got %d want %d (%s)", uris[w],
				    (int)rules[r], got, expect[w][r], err);
			/* A refusal always says why; an allowance says nothing. */
			if (got)
				assert_string_equal(err, "");
			else
				assert_true(strlen(err) > 10);
		}
	}
}

/* The refusal reason for caller w under rule. */
static const char *
why(enum who w, enum net_authz rule)
{
	struct net_identity id = ok(uris[w]);

	assert_false(net_authz_allows(&id, rule, FED, REGION, err, sizeof(err)));
	return err;
}

static void
test_authz_reasons(void **state)
{
	assert_string_equal(why(ADMIN_PEER, NET_AUTHZ_ADMIN),
	    "admin of uk.leeds may not administer node uk.london");
	assert_string_equal(why(ADMIN_PARENT, NET_AUTHZ_ADMIN),
	    "admin of uk may not administer node uk.london");
	assert_string_equal(why(ADMIN_CHILD, NET_AUTHZ_MEMBER_OR_ADMIN),
	    "admin of uk.london.lewisham may not administer node uk.london");
	assert_string_equal(why(MEMBER_HERE, NET_AUTHZ_ADMIN),
	    "only an admin of node uk.london may call this; caller is member "
	    "uk.london.lewisham");
	assert_string_equal(why(NODE_PEER, NET_AUTHZ_ADMIN),
	    "only an admin of node uk.london may call this; caller is node uk.leeds");
	assert_string_equal(why(NODE_HERE, NET_AUTHZ_MEMBER),
	    "only members may call this; caller is node uk.london");
	assert_string_equal(why(ADMIN_HERE, NET_AUTHZ_MEMBER),
	    "only members may call this; caller is admin jsmith of uk.london");
	assert_string_equal(why(MEMBER_HERE, NET_AUTHZ_NODE),
	    "only peer nodes may call this; caller is member uk.london.lewisham");
	assert_string_equal(why(ADMIN_HERE, NET_AUTHZ_NODE),
	    "only peer nodes may call this; caller is admin jsmith of uk.london");
	assert_string_equal(why(NODE_PEER, NET_AUTHZ_MEMBER_OR_ADMIN),
	    "only members and admins of node uk.london may call this; caller is "
	    "node uk.leeds");
	assert_string_equal(why(FOREIGN_MEMBER, NET_AUTHZ_ANY),
	    "identity of federation fame-fr may not call a node of federation "
	    "fame-uk");
	assert_string_equal(why(FOREIGN_ADMIN, NET_AUTHZ_ADMIN),
	    "identity of federation fame-fr may not call a node of federation "
	    "fame-uk");
}

static void
test_authz_fail_closed(void **state)
{
	struct net_identity id = ok(uris[ADMIN_HERE]), blank;

	/* An unknown rule refuses even our own admin. */
	assert_false(net_authz_allows(&id, (enum net_authz)99, FED, REGION, err,
	    sizeof(err)));
	assert_string_equal(err, "unknown authorization rule 99");
	assert_false(net_authz_allows(&id, (enum net_authz)-1, FED, REGION, err,
	    sizeof(err)));

	/* A zeroed identity (what a failed parse leaves) has no role. */
	memset(&blank, 0, sizeof(blank));
	strcpy(blank.federation, FED);
	assert_false(net_authz_allows(&blank, NET_AUTHZ_ANY, FED, REGION, err,
	    sizeof(err)));
	assert_string_equal(err, "caller has no valid role");
	for (size_t r = 0; r < NRULES; r++)
		assert_false(net_authz_allows(&blank, rules[r], FED, REGION, NULL, 0));

	assert_false(net_authz_allows(NULL, NET_AUTHZ_ANY, FED, REGION, err,
	    sizeof(err)));
	assert_string_equal(err, "no verified identity");
	assert_false(net_authz_allows(&id, NET_AUTHZ_ANY, NULL, REGION, err,
	    sizeof(err)));
	assert_false(net_authz_allows(&id, NET_AUTHZ_ADMIN, FED, NULL, err,
	    sizeof(err)));
	/* Our federation, but the node's region is compared exactly. */
	assert_false(net_authz_allows(&id, NET_AUTHZ_ADMIN, FED, "uk.london.x",
	    NULL, 0));
	assert_true(net_authz_allows(&id, NET_AUTHZ_ADMIN, FED, "uk.london",
	    NULL, 0));
	/* Federation is compared exactly, not as a prefix. */
	assert_false(net_authz_allows(&id, NET_AUTHZ_ANY, "fame-u", REGION, NULL, 0));
	assert_false(net_authz_allows(&id, NET_AUTHZ_ANY, "fame-uk2", REGION, NULL, 0));
}

static void
test_member_covers(void **state)
{
	struct net_identity m = ok(uris[MEMBER_HERE]);

	assert_true(net_authz_member_covers(&m, "uk.london.lewisham", err, sizeof(err)));
	assert_string_equal(err, "");
	assert_true(net_authz_member_covers(&m, "uk.london.lewisham.swift", err,
	    sizeof(err)));
	assert_true(net_authz_member_covers(&m, "uk.london.lewisham.a.b.c", NULL, 0));

	assert_false(net_authz_member_covers(&m, "uk.london.camden", err, sizeof(err)));
	assert_string_equal(err, "member uk.london.lewisham may not act on "
	    "uk.london.camden (outside its prefix)");
	assert_false(net_authz_member_covers(&m, "uk.london.lewishamx", err,
	    sizeof(err)));
	assert_string_equal(err, "member uk.london.lewisham may not act on "
	    "uk.london.lewishamx (outside its prefix)");
	assert_false(net_authz_member_covers(&m, "uk.london", NULL, 0));
	assert_false(net_authz_member_covers(&m, "uk", NULL, 0));
	assert_false(net_authz_member_covers(&m, "", NULL, 0));
	assert_false(net_authz_member_covers(&m, NULL, err, sizeof(err)));
	assert_string_equal(err, "no verified identity");
	assert_false(net_authz_member_covers(NULL, "uk", err, sizeof(err)));
}

static void
test_member_covers_other_roles(void **state)
{
	struct net_identity a = ok(uris[ADMIN_HERE]), n = ok(uris[NODE_HERE]);

	/* Only members have a prefix to act within, even over their own region. */
	assert_false(net_authz_member_covers(&a, "uk.london.lewisham", err,
	    sizeof(err)));
	assert_string_equal(err, "only a member acts within a prefix; caller is "
	    "admin jsmith of uk.london");
	assert_false(net_authz_member_covers(&n, "uk.london", err, sizeof(err)));
	assert_string_equal(err, "only a member acts within a prefix; caller is "
	    "node uk.london");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_parse_each_role),
		cmocka_unit_test(test_parse_folding),
		cmocka_unit_test(test_parse_user_chars),
		cmocka_unit_test(test_parse_longest),
		cmocka_unit_test(test_parse_len_governs),
		cmocka_unit_test(test_parse_scheme),
		cmocka_unit_test(test_parse_uri_features),
		cmocka_unit_test(test_parse_federation),
		cmocka_unit_test(test_parse_role),
		cmocka_unit_test(test_parse_address),
		cmocka_unit_test(test_parse_user_part),
		cmocka_unit_test(test_authz_matrix),
		cmocka_unit_test(test_authz_reasons),
		cmocka_unit_test(test_authz_fail_closed),
		cmocka_unit_test(test_member_covers),
		cmocka_unit_test(test_member_covers_other_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
