/* test_portal.c -- discovery over the local register and a mirror: filters by prefix, kind, message type and text; paging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry/mirror.h"
#include "registry/portal.h"
#include "reg_harness.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x
#define SK(x) AXLE__V1__SERVICE_KIND__SERVICE_KIND_##x

static struct node origin, peer;

/* Mirrors all of origin's feed into peer. */
static void
mirror_all(void)
{
	EVP_PKEY *key = ec_key_new();
	Axle__V1__FeedEntry **e;
	Axle__V1__SignedHead head;
	size_t n;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(origin.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &origin.db, 0, 1000, &e, &n, &origin.res), 0);
	assert_int_equal(registry_db_sign_head(txn, &origin.db, 0, key, NULL, 1, &head, &origin.res), 0);
	mdb_txn_abort(txn);
	node_begin(&peer);
	assert_int_equal(registry_mirror_apply(peer.txn, &peer.db, "uk.london",
	    (const Axle__V1__FeedEntry *const *)e, n, &head, key, 1, &peer.res), 0);
	node_commit(&peer);
	registry_feed_entries_free(e, n);
	registry_signed_head_clear(&head);
	EVP_PKEY_free(key);
}

static int
setup(void **state)
{
	node_open(&origin, "uk.london");
	node_open(&peer, "uk.westyorks");
	assert_int_equal(node_delegate(&origin, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_set_status(&origin, "lewisham", S(ACTIVE)), 0);
	assert_int_equal(node_publish(&origin, "lewisham", "referrals", SK(SWITCH),
	    "uk.london.lewisham.social-care", "referral.v1", "Children's Social Care referrals"), 0);
	assert_int_equal(node_publish(&origin, "lewisham", "portal", SK(PORTAL),
	    "uk.london.lewisham", NULL, "Lewisham information portal"), 0);
	assert_int_equal(node_delegate(&origin, "camden", "uk.london.camden"), 0);
	assert_int_equal(node_publish(&origin, "camden", "index", SK(INDEX),
	    "uk.london.camden", NULL, "Who holds records"), 0);
	assert_int_equal(node_delegate(&origin, "old", "uk.london.old"), 0);
	assert_int_equal(node_publish(&origin, "old", "portal", SK(PORTAL),
	    "uk.london.old", NULL, "gone"), 0);
	assert_int_equal(node_set_status(&origin, "old", S(REVOKED)), 0);
	mirror_all();

	assert_int_equal(node_delegate(&peer, "leeds", "uk.westyorks.leeds"), 0);
	assert_int_equal(node_publish(&peer, "leeds", "referrals", SK(SWITCH),
	    "uk.westyorks.leeds", "referral.v1", "Leeds referrals"), 0);
	assert_int_equal(node_publish(&peer, "leeds", "police", SK(SWITCH),
	    "uk.westyorks.leeds.police", "incident.v1", "West Yorkshire Police"), 0);
	assert_int_equal(node_delegate(&peer, "bradford", "uk.westyorks.bradford"), 0);
	assert_int_equal(node_publish(&peer, "bradford", "portal", SK(PORTAL),
	    "uk.westyorks.bradford", NULL, "Bradford portal"), 0);
	return 0;
}

static int
teardown(void **state)
{
	node_close(&origin);
	node_close(&peer);
	return 0;
}

/* Runs a query on peer; returns rc, *out set on success. */
static int
discover(Axle__V1__DiscoverRequest *req, Axle__V1__DiscoverResponse **out)
{
	MDB_txn *txn;
	int rc;

	assert_int_equal(mdb_txn_begin(peer.env, NULL, MDB_RDONLY, &txn), 0);
	rc = registry_portal_discover(txn, &peer.db, req, out, &peer.res);
	mdb_txn_abort(txn);
	return rc;
}

/* "registrar/name" of each result, joined by spaces. */
static const char *
names(const Axle__V1__DiscoverResponse *r)
{
	static char buf[1024];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->n_services; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s/%s", i ? " " : "",
		    r->services[i]->registrar_id, r->services[i]->service->name);
	return buf;
}

static void
expect(Axle__V1__DiscoverRequest *req, const char *want)
{
	Axle__V1__DiscoverResponse *r;

	assert_int_equal(discover(req, &r), REGISTRY_OK);
	assert_string_equal(names(r), want);
	registry_portal_free(r);
}

static void
test_filters(void **state)
{
	Axle__V1__DiscoverRequest req = AXLE__V1__DISCOVER_REQUEST__INIT;
	Axle__V1__DiscoverResponse *r;

	/* Everything but the revoked registrar's; local and mirrored, key order. */
	assert_int_equal(discover(&req, &r), REGISTRY_OK);
	assert_string_equal(names(r), "camden/index lewisham/portal lewisham/referrals "
	    "bradford/portal leeds/police leeds/referrals");
	assert_int_equal(r->page->total, 6);
	assert_string_equal(r->page->next_page_token, "");
	assert_true(r->services[0]->from_mirror);
	assert_string_equal(r->services[0]->region, "uk.london");
	assert_int_equal(r->services[0]->registrar_status, S(PENDING));
	assert_false(r->services[5]->from_mirror);
	assert_string_equal(r->services[5]->registrar_name, "Test registrar");
	assert_string_equal(r->services[5]->service->message_types[0], "referral.v1");
	registry_portal_free(r);

	req.kind = SK(SWITCH);
	expect(&req, "lewisham/referrals leeds/police leeds/referrals");
	req.message_type = (char *)"referral.v1";
	expect(&req, "lewisham/referrals leeds/referrals");
	req.kind = SK(UNSPECIFIED);
	req.message_type = (char *)"";
	req.text = (char *)"SOCIAL care";
	expect(&req, "lewisham/referrals");
	req.text = (char *)"portal";	/* name or description */
	expect(&req, "lewisham/portal bradford/portal");
	req.text = (char *)"";
	req.prefix = (char *)"UK.Westyorks";
	expect(&req, "bradford/portal leeds/police leeds/referrals");
	req.prefix = (char *)"uk.london.lewisham.social-care";	/* a service's address */
	expect(&req, "lewisham/referrals");
	req.prefix = (char *)"uk.west";				/* label-aligned */
	expect(&req, "");
	req.prefix = (char *)"uk..x";
	assert_int_equal(discover(&req, &r), REGISTRY_EINVAL);
	assert_string_equal(peer.res.reason, "prefix: label 2 is empty (two dots at byte 2)");
	req.prefix = (char *)"";
	req.kind = (Axle__V1__ServiceKind)9;
	assert_int_equal(discover(&req, &r), REGISTRY_EINVAL);
}

static void
test_paging(void **state)
{
	Axle__V1__DiscoverRequest req = AXLE__V1__DISCOVER_REQUEST__INIT;
	Axle__V1__PageRequest page = AXLE__V1__PAGE_REQUEST__INIT;
	Axle__V1__DiscoverResponse *r;
	char all[1024] = "", token[1024] = "";
	int pages = 0;

	req.page = &page;
	page.page_size = 4;
	do {
		page.page_token = token;
		assert_int_equal(discover(&req, &r), REGISTRY_OK);
		assert_true(r->n_services <= 4);
		if (all[0] != '\0' && r->n_services > 0)
			strcat(all, " ");
		strcat(all, names(r));
		snprintf(token, sizeof(token), "%s", r->page->next_page_token);
		if (pages == 0)
			assert_int_equal(r->page->total, 0);	/* unknown: more pages */
		registry_portal_free(r);
		pages++;
	} while (token[0] != '\0');
	assert_int_equal(pages, 2);
	assert_string_equal(all, "camden/index lewisham/portal lewisham/referrals "
	    "bradford/portal leeds/police leeds/referrals");

	/* Pages of 1 cover each item once, resuming inside a registrar's services. */
	page.page_size = 1;
	token[0] = all[0] = '\0';
	pages = 0;
	do {
		page.page_token = token;
		assert_int_equal(discover(&req, &r), REGISTRY_OK);
		if (all[0] != '\0' && r->n_services > 0)
			strcat(all, " ");
		strcat(all, names(r));
		snprintf(token, sizeof(token), "%s", r->page->next_page_token);
		registry_portal_free(r);
		pages++;
	} while (token[0] != '\0' && pages < 20);
	assert_int_equal(pages, 6);
	assert_string_equal(all, "camden/index lewisham/portal lewisham/referrals "
	    "bradford/portal leeds/police leeds/referrals");

	/* Tokens are checked. */
	page.page_token = (char *)"zz";
	assert_int_equal(discover(&req, &r), REGISTRY_EINVAL);
	assert_string_equal(peer.res.reason, "page token is not one this node issued");
	page.page_token = (char *)"6162";	/* "ab": no separators */
	assert_int_equal(discover(&req, &r), REGISTRY_EINVAL);
	/* The page size is capped. */
	page.page_token = (char *)"";
	page.page_size = 100000;
	assert_int_equal(discover(&req, &r), REGISTRY_OK);
	assert_int_equal(r->n_services, 6);
	registry_portal_free(r);
}

static void
test_match_pure(void **state)
{
	struct registry_portal_filter f;
	Axle__V1__DiscoverRequest req = AXLE__V1__DISCOVER_REQUEST__INIT;
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT;
	char why[REGISTRY_REASON_MAX];
	char *pfx[] = { (char *)"uk.london.a" };

	r.prefixes = pfx;
	r.n_prefixes = 1;
	r.status = S(SUSPENDED);
	s.name = (char *)"Referrals";
	s.address = (char *)"uk.london.a.b";
	s.kind = SK(SWITCH);
	req.text = (char *)"rEfErRaL";
	assert_int_equal(registry_portal_filter(&req, &f, why, sizeof(why)), 0);
	assert_true(registry_portal_match(&f, &r, &s));	/* suspended still listed */
	req.text = (char *)"referralsx";
	registry_portal_filter(&req, &f, why, sizeof(why));
	assert_false(registry_portal_match(&f, &r, &s));
	req.text = (char *)"";
	req.prefix = (char *)"uk.london";
	registry_portal_filter(&req, &f, why, sizeof(why));
	assert_true(registry_portal_match(&f, &r, &s));
	r.status = S(REVOKED);
	assert_false(registry_portal_match(&f, &r, &s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test(test_match_pure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
