/* test_purpose.c -- purpose-bound services: the purpose grammar, what a service accepts, which service an address is for, the feed hash with and without purposes, publishing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "registry/feed.h"
#include "registry/purpose.h"
#include "reg_harness.h"

#define SK(x) AXLE__V1__SERVICE_KIND__SERVICE_KIND_##x
#define OK REGISTRY_PURPOSE_OK
#define MISSING REGISTRY_PURPOSE_MISSING
#define REFUSED REGISTRY_PURPOSE_REFUSED

static void
test_grammar(void **state)
{
	static const char *const good[] = { "safeguarding-s47", "early-help",
	    "la.edu-2", "0", "a-", "x.y.z" };
	static const char *const bad[] = { "", "Safeguarding", "-lead", ".lead",
	    "early help", "s47:x", "caf\xc3\xa9", "a_b" };
	char why[REGISTRY_REASON_MAX], big[REGISTRY_PURPOSE_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(registry_purpose_valid(good[i], why, sizeof(why)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_false(registry_purpose_valid(bad[i], why, sizeof(why)));
		assert_non_null(strstr(why, "purpose"));
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[REGISTRY_PURPOSE_MAX] = '\0';
	assert_true(registry_purpose_valid(big, why, sizeof(why)));	/* 64 */
	big[REGISTRY_PURPOSE_MAX] = 'a';
	assert_false(registry_purpose_valid(big, why, sizeof(why)));	/* 65 */
	assert_non_null(strstr(why, "65 bytes, at most 64"));
	assert_false(registry_purpose_valid("Early", why, sizeof(why)));
	assert_non_null(strstr(why, "byte 1"));
}

static void
test_list(void **state)
{
	char *two[] = { "a", "b" }, *dup[] = { "a", "b", "a" }, *bad[] = { "a", "B" };
	char *many[REGISTRY_PURPOSES_MAX + 1];
	char names[REGISTRY_PURPOSES_MAX + 1][16], why[REGISTRY_REASON_MAX];

	(void)state;
	assert_int_equal(registry_purposes_check(NULL, 0, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_purposes_check(two, 2, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_purposes_check(dup, 3, why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "\"a\" is listed twice"));
	assert_int_equal(registry_purposes_check(bad, 2, why, sizeof(why)), REGISTRY_EINVAL);
	for (int i = 0; i <= REGISTRY_PURPOSES_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "p%d", i);
		many[i] = names[i];
	}
	assert_int_equal(registry_purposes_check(many, REGISTRY_PURPOSES_MAX, why,
	    sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_purposes_check(many, REGISTRY_PURPOSES_MAX + 1,
	    why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "at most 16"));
}

static Axle__V1__Service
svc(const char *name, Axle__V1__ServiceKind kind, const char *address,
    char **purposes, size_t n)
{
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT;

	s.name = (char *)name;
	s.kind = kind;
	s.address = (char *)address;
	s.purposes = purposes;
	s.n_purposes = n;
	return s;
}

/* The rule, every case: open switch, bound switch, index with and without purposes. */
static void
test_accepts(void **state)
{
	char *p2[] = { "safeguarding-s47", "early-help" };
	Axle__V1__Service open = svc("o", SK(SWITCH), "uk.a", NULL, 0);
	Axle__V1__Service portal = svc("p", SK(PORTAL), "uk.a", NULL, 0);
	Axle__V1__Service bound = svc("b", SK(SWITCH), "uk.a", p2, 2);
	Axle__V1__Service idx0 = svc("i0", SK(INDEX), "uk.a", NULL, 0);
	Axle__V1__Service idx = svc("i", SK(INDEX), "uk.a", p2, 2);

	(void)state;
	assert_int_equal(registry_purpose_accepts(&open, NULL), OK);
	assert_int_equal(registry_purpose_accepts(&open, ""), OK);
	assert_int_equal(registry_purpose_accepts(&open, "anything"), OK);
	assert_int_equal(registry_purpose_accepts(&portal, NULL), OK);
	assert_int_equal(registry_purpose_accepts(&bound, NULL), MISSING);
	assert_int_equal(registry_purpose_accepts(&bound, ""), MISSING);
	assert_int_equal(registry_purpose_accepts(&bound, "early-help"), OK);
	assert_int_equal(registry_purpose_accepts(&bound, "early"), REFUSED);
	assert_int_equal(registry_purpose_accepts(&bound, "Early-help"), REFUSED);
	assert_int_equal(registry_purpose_accepts(&idx0, NULL), MISSING);
	assert_int_equal(registry_purpose_accepts(&idx0, "early-help"), REFUSED);
	assert_int_equal(registry_purpose_accepts(&idx, NULL), MISSING);
	assert_int_equal(registry_purpose_accepts(&idx, "safeguarding-s47"), OK);
	assert_int_equal(registry_purpose_accepts(&idx, "marketing"), REFUSED);
	assert_string_equal(registry_purpose_verdict_name(OK), "ok");
	assert_string_equal(registry_purpose_verdict_name(MISSING), "purpose_missing");
	assert_string_equal(registry_purpose_verdict_name(REFUSED), "purpose_refused");
}

static void
test_why(void **state)
{
	char *p2[] = { "safeguarding-s47", "early-help" };
	Axle__V1__Service bound = svc("referrals", SK(SWITCH), "uk.a", p2, 2);
	Axle__V1__Service idx0 = svc("who", SK(INDEX), "uk.a", NULL, 0);
	char why[400];

	(void)state;
	registry_purpose_why("lewisham", &bound, "marketing", REFUSED, why, sizeof(why));
	assert_string_equal(why, "purpose \"marketing\" is not accepted by service "
	    "\"referrals\" of registrar lewisham (it accepts: safeguarding-s47, early-help)");
	registry_purpose_why("lewisham", &bound, NULL, MISSING, why, sizeof(why));
	assert_non_null(strstr(why, "purpose: none given"));
	assert_non_null(strstr(why, "it accepts: safeguarding-s47, early-help"));
	registry_purpose_why("camden", &idx0, "early-help", REFUSED, why, sizeof(why));
	assert_non_null(strstr(why, "index service \"who\" of registrar camden: it "
	    "publishes no purposes, so it takes no index query"));
}

/* Which service a message to an address is for: the longest covering address; any of a tie. */
static void
test_for_address(void **state)
{
	char *eh[] = { "early-help" }, *s47[] = { "safeguarding-s47" };
	Axle__V1__Service wide = svc("portal", SK(PORTAL), "uk.a", NULL, 0);
	Axle__V1__Service care = svc("care", SK(SWITCH), "uk.a.care", s47, 1);
	Axle__V1__Service care2 = svc("care-eh", SK(SWITCH), "uk.a.care", eh, 1);
	Axle__V1__Service node = svc("axle", SK(NODE), "uk.a.care.desk", NULL, 0);
	Axle__V1__Service *all[] = { &wide, &care, &node };
	Axle__V1__Service *tie[] = { &wide, &care, &care2 };
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	const char *name = NULL;
	char why[400];

	(void)state;
	r.id = "a";
	r.services = all;
	r.n_services = 3;
	/* uk.a.care.desk: the NODE service does not count; care is the longest. */
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care.desk",
	    "safeguarding-s47", &name, why, sizeof(why)), OK);
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care.desk",
	    "early-help", &name, why, sizeof(why)), REFUSED);
	assert_string_equal(name, "care");
	assert_non_null(strstr(why, "\"early-help\" is not accepted by service \"care\""));
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care", NULL,
	    &name, why, sizeof(why)), MISSING);
	/* uk.a.office: only the open portal covers it. */
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.office", NULL,
	    &name, why, sizeof(why)), OK);
	/* uk.ab: covered by nothing (not label-aligned): nothing to check. */
	assert_int_equal(registry_purpose_for_address(&r, "uk.ab", "x",
	    &name, why, sizeof(why)), OK);
	assert_null(name);
	/* Two services at one address: either one taking it is enough. */
	r.services = tie;
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care", "early-help",
	    &name, why, sizeof(why)), OK);
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care", "other",
	    &name, why, sizeof(why)), REFUSED);
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care", NULL,
	    &name, why, sizeof(why)), MISSING);
	/* No services at all. */
	r.n_services = 0;
	assert_int_equal(registry_purpose_for_address(&r, "uk.a.care", NULL,
	    &name, why, sizeof(why)), OK);
}

/* Purposes are in the chained hash; an entry without any hashes as before. */
static void
test_feed_hash(void **state)
{
	char *eh[] = { "early-help" };
	Axle__V1__Service s = svc("care", SK(SWITCH), "uk.a.care", NULL, 0);
	Axle__V1__Service *sp[] = { &s };
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	Axle__V1__FeedEntry e = AXLE__V1__FEED_ENTRY__INIT;
	uint8_t prev[REGISTRY_HASH_LEN] = { 0 }, h0[REGISTRY_HASH_LEN],
	    h1[REGISTRY_HASH_LEN], h2[REGISTRY_HASH_LEN];
	/* This entry's hash as computed before purposes existed (feed.c of main at 7d21331). */
	static const uint8_t before[REGISTRY_HASH_LEN] = {
		0x5d, 0x3e, 0x24, 0x51, 0xc8, 0x3f, 0x11, 0x42, 0xaa, 0xff, 0x8b,
		0xd3, 0xdc, 0x4d, 0x66, 0x5a, 0x2d, 0x30, 0xfb, 0xb2, 0xcc, 0x8a,
		0xee, 0xd1, 0x3d, 0x90, 0x56, 0x5b, 0xf6, 0x1f, 0xc1, 0x12,
	};

	(void)state;
	r.id = "a";
	r.services = sp;
	r.n_services = 1;
	e.seq = 1;
	e.prev_hash.data = prev;
	e.prev_hash.len = sizeof(prev);
	e.registrar = &r;
	assert_int_equal(registry_feed_hash(&e, h0), REGISTRY_OK);
	assert_memory_equal(h0, before, REGISTRY_HASH_LEN);
	s.purposes = eh;
	s.n_purposes = 1;
	assert_int_equal(registry_feed_hash(&e, h1), REGISTRY_OK);
	assert_memory_not_equal(h0, h1, REGISTRY_HASH_LEN);
	s.n_purposes = 0;
	assert_int_equal(registry_feed_hash(&e, h2), REGISTRY_OK);
	assert_memory_equal(h0, h2, REGISTRY_HASH_LEN);
}

static void
test_publish(void **state)
{
	static struct node n;
	Axle__V1__PublishServiceRequest req = AXLE__V1__PUBLISH_SERVICE_REQUEST__INIT;
	char *good[] = { "safeguarding-s47", "early-help" }, *bad[] = { "S47" };
	Axle__V1__Service s = svc("care", SK(SWITCH), "uk.london.a.care", good, 2);
	Axle__V1__Registrar *out = NULL;

	(void)state;
	node_open(&n, "uk.london");
	assert_int_equal(node_delegate(&n, "a", "uk.london.a"), 0);
	req.registrar_id = "a";
	req.service = &s;
	node_begin(&n);
	assert_int_equal(registry_db_publish_service(n.txn, &n.db, &test_admin, &req,
	    0, &out, &n.res), REGISTRY_OK);
	node_commit(&n);
	assert_int_equal(out->services[0]->n_purposes, 2);
	assert_string_equal(out->services[0]->purposes[1], "early-help");
	pb_free(&out->base);
	s.purposes = bad;
	s.n_purposes = 1;
	node_begin(&n);
	assert_int_equal(registry_db_publish_service(n.txn, &n.db, &test_admin, &req,
	    0, NULL, &n.res), REGISTRY_EINVAL);
	node_abort(&n);
	assert_non_null(strstr(n.res.reason, "service care: purpose \"S47\""));
	node_close(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_for_address),
		cmocka_unit_test(test_feed_hash),
		cmocka_unit_test(test_publish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
