/* test_db.c -- the register in LMDB: delegation with overlap/region refusals, lifecycle, versions, re-homing, services, feed per change, index loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/delegate.h"
#include "registry/registrar.h"
#include "reg_harness.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x
#define SK(x) AXLE__V1__SERVICE_KIND__SERVICE_KIND_##x

static struct node n;

static int
setup(void **state)
{
	node_open(&n, "UK.London");	/* folded on open */
	assert_string_equal(n.db.region, "uk.london");
	return 0;
}

static int
teardown(void **state)
{
	node_close(&n);
	return 0;
}

static Axle__V1__Registrar *
get(const char *id)
{
	return node_get(&n, id);
}

static uint64_t
head_seq(void)
{
	uint8_t h[REGISTRY_HASH_LEN];
	uint64_t seq;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_head(txn, &n.db, &seq, h, &n.res), REGISTRY_OK);
	mdb_txn_abort(txn);
	return seq;
}

/* Every entry of the feed, verified as a chain. */
static void
feed_verifies(uint64_t want_n)
{
	Axle__V1__FeedEntry **e;
	size_t cnt;
	uint64_t bad;
	MDB_txn *txn;
	char why[REGISTRY_REASON_MAX];

	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &n.db, 0, 1000, &e, &cnt, &n.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(cnt, want_n);
	assert_int_equal(registry_feed_verify((const Axle__V1__FeedEntry *const *)e, cnt,
	    0, NULL, &bad, why, sizeof(why)), REGISTRY_OK);
	registry_feed_entries_free(e, cnt);
}

static void
test_delegate_creates_and_feeds(void **state)
{
	Axle__V1__DelegateRequest req = AXLE__V1__DELEGATE_REQUEST__INIT;
	Axle__V1__Registrar *out = NULL, *r;
	Axle__V1__FeedEntry **e;
	size_t cnt;

	req.registrar_id = (char *)"lewisham";
	req.prefix = (char *)"UK.London.Lewisham";
	req.display_name = (char *)"London Borough of Lewisham";
	req.cert_identity = (char *)"axle://fame-uk/member/uk.london.lewisham";
	node_begin(&n);
	assert_int_equal(registry_db_delegate(n.txn, &n.db, &test_admin, &req, 0, &out,
	    &n.res), REGISTRY_OK);
	node_commit(&n);
	assert_int_equal(n.res.feed_seq, 1);
	assert_string_equal(n.res.reason, "");
	assert_non_null(out);
	assert_string_equal(out->prefixes[0], "uk.london.lewisham");
	assert_int_equal(out->status, S(PENDING));
	assert_int_equal(out->version, 1);
	assert_string_equal(out->region, "uk.london");
	assert_int_equal(out->created_ms, test_admin.at_ms);
	pb_free(&out->base);

	/* A second prefix for the same registrar. */
	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham-schools"), 0);
	r = get("lewisham");
	assert_int_equal(r->n_prefixes, 2);
	assert_int_equal(r->version, 2);
	assert_string_equal(r->display_name, "London Borough of Lewisham");
	pb_free(&r->base);

	/* Each change is one feed entry: the record after it, who, what. */
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &n.db, 1, 10, &e, &cnt, &n.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(cnt, 1);
	assert_int_equal(e[0]->seq, 2);
	assert_int_equal(e[0]->change, AXLE__V1__FEED_CHANGE__FEED_CHANGE_DELEGATED);
	assert_string_equal(e[0]->actor, test_admin.actor);
	assert_string_equal(e[0]->detail, "delegated uk.london.lewisham-schools");
	assert_int_equal(e[0]->registrar->n_prefixes, 2);
	registry_feed_entries_free(e, cnt);
	feed_verifies(2);
}

static void
test_delegate_refusals(void **state)
{
	Axle__V1__DelegateRequest req = AXLE__V1__DELEGATE_REQUEST__INIT;

	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_delegate(&n, "camden", "uk.leeds.x"), REGISTRY_EPERM);
	assert_string_equal(n.res.reason, "uk.leeds.x is outside this node's region uk.london");
	assert_int_equal(node_delegate(&n, "camden", "uk.london.lewisham"), REGISTRY_EEXIST);
	assert_string_equal(n.res.reason, "uk.london.lewisham is uk.london.lewisham, delegated to registrar lewisham");
	assert_int_equal(node_delegate(&n, "camden", "uk.london.lewisham.x"), REGISTRY_EEXIST);
	assert_string_equal(n.res.reason, "uk.london.lewisham.x is inside uk.london.lewisham, delegated to registrar lewisham");
	assert_int_equal(node_delegate(&n, "camden", "uk.london"), REGISTRY_EPERM);
	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham.y"), REGISTRY_EEXIST);
	assert_non_null(strstr(n.res.reason, "redundant"));
	/* Contains: found by the range scan of reg.prefixes. */
	assert_int_equal(node_delegate(&n, "bexley", "uk.london.bexley.schools"), 0);
	assert_int_equal(node_delegate(&n, "camden", "uk.london.bexley"), REGISTRY_EEXIST);
	assert_string_equal(n.res.reason, "uk.london.bexley contains uk.london.bexley.schools, delegated to registrar bexley");
	/* Label alignment in the range scan: uk.london.bex holds nothing under it. */
	assert_int_equal(node_delegate(&n, "camden", "uk.london.bex"), 0);
	/* Grammar, with the label named. */
	assert_int_equal(node_delegate(&n, "camden", "uk.london.cam_den"), REGISTRY_EINVAL);
	assert_string_equal(n.res.reason, "prefix: label 3 (\"cam_den\") byte 3: '_' is not allowed (use a-z, 0-9, '-')");
	assert_int_equal(node_delegate(&n, "Bad Id", "uk.london.z"), REGISTRY_EINVAL);
	/* A new registrar needs its name and certificate identity. */
	req.registrar_id = (char *)"newbie";
	req.prefix = (char *)"uk.london.newbie";
	node_begin(&n);
	assert_int_equal(registry_db_delegate(n.txn, &n.db, &test_admin, &req, 0, NULL,
	    &n.res), REGISTRY_EINVAL);
	node_abort(&n);
	/* Refusals wrote no feed entries: 3 successful delegations. */
	assert_int_equal(head_seq(), 3);
	feed_verifies(3);
}

static void
test_lifecycle_and_versions(void **state)
{
	Axle__V1__SetStatusRequest req = AXLE__V1__SET_STATUS_REQUEST__INIT;
	Axle__V1__Registrar *out, *r;

	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_set_status(&n, "lewisham", S(SUSPENDED)), REGISTRY_EPRECOND);
	assert_string_equal(n.res.reason, "registrar lewisham: cannot go from pending to "
	    "suspended: a pending registrar must be activated first");
	assert_int_equal(node_set_status(&n, "lewisham", S(ACTIVE)), 0);
	assert_int_equal(node_set_status(&n, "lewisham", S(SUSPENDED)), 0);
	assert_int_equal(node_set_status(&n, "lewisham", S(ACTIVE)), 0);
	assert_int_equal(node_set_status(&n, "lewisham", S(REVOKED)), 0);
	assert_int_equal(node_set_status(&n, "lewisham", S(ACTIVE)), REGISTRY_EPRECOND);
	assert_string_equal(n.res.reason, "registrar lewisham: cannot go from revoked to "
	    "active: a revoked registrar's prefixes must be re-homed");
	assert_int_equal(node_set_status(&n, "nobody", S(ACTIVE)), REGISTRY_ENOTFOUND);
	r = get("lewisham");
	assert_int_equal(r->status, S(REVOKED));
	assert_int_equal(r->version, 5);
	assert_string_equal(r->status_reason, "test");
	pb_free(&r->base);

	/* Optimistic concurrency. */
	assert_int_equal(node_delegate(&n, "camden", "uk.london.camden"), 0);
	req.registrar_id = (char *)"camden";
	req.status = S(ACTIVE);
	req.reason = (char *)"checks done";
	req.expected_version = 2;
	node_begin(&n);
	assert_int_equal(registry_db_set_status(n.txn, &n.db, &test_admin, &req, &out,
	    &n.res), REGISTRY_ECONFLICT);
	node_abort(&n);
	assert_null(out);
	assert_string_equal(n.res.reason, "registrar camden is at version 1, not 2: it changed since it was read");
	req.expected_version = 1;
	node_begin(&n);
	assert_int_equal(registry_db_set_status(n.txn, &n.db, &test_admin, &req, &out,
	    &n.res), REGISTRY_OK);
	node_commit(&n);
	assert_int_equal(out->version, 2);
	assert_string_equal(out->status_reason, "checks done");
	pb_free(&out->base);
	/* A reason is required. */
	req.reason = (char *)"";
	req.expected_version = 0;
	node_begin(&n);
	assert_int_equal(registry_db_set_status(n.txn, &n.db, &test_admin, &req, NULL,
	    &n.res), REGISTRY_EINVAL);
	node_abort(&n);
	/* A version conflict on delegate too. */
	Axle__V1__DelegateRequest d = AXLE__V1__DELEGATE_REQUEST__INIT;
	d.registrar_id = (char *)"camden";
	d.prefix = (char *)"uk.london.camden2";
	node_begin(&n);
	assert_int_equal(registry_db_delegate(n.txn, &n.db, &test_admin, &d, 1, NULL,
	    &n.res), REGISTRY_ECONFLICT);
	node_abort(&n);
	/* A revoked registrar gets no new prefixes. */
	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham2"), REGISTRY_EPRECOND);
	feed_verifies(7);
}

static int
rehome(const char *from, const char *to, char **prefixes, size_t np,
    Axle__V1__Registrar **of, Axle__V1__Registrar **ot, int commit)
{
	Axle__V1__ReHomeRequest req = AXLE__V1__RE_HOME_REQUEST__INIT;
	int rc;

	req.from_registrar_id = (char *)from;
	req.to_registrar_id = (char *)to;
	req.prefixes = prefixes;
	req.n_prefixes = np;
	req.reason = (char *)"council merger";
	node_begin(&n);
	rc = registry_db_rehome(n.txn, &n.db, &test_admin, &req, of, ot, &n.res);
	if (rc == REGISTRY_OK && commit)
		node_commit(&n);
	else
		node_abort(&n);
	return rc;
}

static void
test_rehome(void **state)
{
	Axle__V1__Registrar *of = NULL, *ot = NULL, *r;
	struct registry_index *idx;
	struct registry_resolution res;
	uint64_t before;

	assert_int_equal(node_delegate(&n, "old", "uk.london.a"), 0);
	assert_int_equal(node_delegate(&n, "old", "uk.london.b"), 0);
	assert_int_equal(node_delegate(&n, "old", "uk.london.c"), 0);
	assert_int_equal(node_delegate(&n, "new", "uk.london.n"), 0);
	assert_int_equal(node_set_status(&n, "old", S(ACTIVE)), 0);
	/* from must be revoked, to active. */
	assert_int_equal(rehome("old", "new", NULL, 0, &of, &ot, 1), REGISTRY_EPRECOND);
	assert_non_null(strstr(n.res.reason, "only a revoked registrar's prefixes"));
	assert_int_equal(node_set_status(&n, "old", S(REVOKED)), 0);
	assert_int_equal(rehome("old", "new", NULL, 0, &of, &ot, 1), REGISTRY_EPRECOND);
	assert_string_equal(n.res.reason, "successor new is pending: it must be active");
	assert_int_equal(node_set_status(&n, "new", S(ACTIVE)), 0);
	assert_int_equal(rehome("old", "nobody", NULL, 0, &of, &ot, 1), REGISTRY_ENOTFOUND);
	assert_int_equal(rehome("old", "new", (char *[]){ (char *)"uk.london.n" }, 1,
	    &of, &ot, 1), REGISTRY_ENOTFOUND);
	assert_string_equal(n.res.reason, "registrar old does not hold uk.london.n");

	/* Aborted: nothing moved (the change and its feed entries are one txn). */
	before = head_seq();
	assert_int_equal(rehome("old", "new", NULL, 0, &of, &ot, 0), REGISTRY_OK);
	pb_free(&of->base);
	pb_free(&ot->base);
	assert_int_equal(head_seq(), before);
	r = get("old");
	assert_int_equal(r->n_prefixes, 3);
	pb_free(&r->base);

	/* Committed: every prefix moves, in one step with two feed entries. */
	assert_int_equal(rehome("old", "new", NULL, 0, &of, &ot, 1), REGISTRY_OK);
	assert_int_equal(head_seq(), before + 2);
	assert_int_equal(of->n_prefixes, 0);
	assert_string_equal(of->successor_id, "new");
	assert_int_equal(ot->n_prefixes, 4);
	assert_string_equal(ot->prefixes[0], "uk.london.n");
	assert_string_equal(ot->prefixes[3], "uk.london.c");
	pb_free(&of->base);
	pb_free(&ot->base);
	/* reg.prefixes follows: the moved prefixes are now new's. */
	assert_int_equal(node_delegate(&n, "x", "uk.london.b.q"), REGISTRY_EEXIST);
	assert_non_null(strstr(n.res.reason, "registrar new"));
	/* And the index built from the register resolves to the successor. */
	idx = registry_index_new(0);
	{
		MDB_txn *txn;
		size_t skipped = 99;

		assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
		assert_int_equal(registry_index_load(txn, &n.db, idx, &skipped, &n.res), 0);
		mdb_txn_abort(txn);
		assert_int_equal(skipped, 0);
	}
	assert_true(registry_resolve(idx, "uk.london.b.school", &res));
	assert_string_equal(res.match.registrar_id, "new");
	assert_int_equal(res.match.registrar_status, S(ACTIVE));
	assert_false(registry_resolve(idx, "uk.london.zz", &res));
	assert_string_equal(res.encloser.prefix, "uk.london");
	registry_index_free(idx);
	feed_verifies(before + 2);
}

static void
test_rehome_subset(void **state)
{
	Axle__V1__Registrar *of = NULL, *ot = NULL;

	assert_int_equal(node_delegate(&n, "old", "uk.london.a"), 0);
	assert_int_equal(node_delegate(&n, "old", "uk.london.b"), 0);
	assert_int_equal(node_delegate(&n, "new", "uk.london.n"), 0);
	assert_int_equal(node_set_status(&n, "old", S(REVOKED)), 0);
	assert_int_equal(node_set_status(&n, "new", S(ACTIVE)), 0);
	assert_int_equal(rehome("old", "new", (char *[]){ (char *)"uk.london.b" }, 1,
	    &of, &ot, 1), REGISTRY_OK);
	assert_int_equal(of->n_prefixes, 1);
	assert_string_equal(of->prefixes[0], "uk.london.a");
	assert_int_equal(ot->n_prefixes, 2);
	pb_free(&of->base);
	pb_free(&ot->base);
}

/*
 * A re-home moves the services published under the moved prefixes with
 * them (the successor publishes them, the revoked registrar lists them no
 * more); a service under a prefix the revoked registrar keeps stays with
 * it; a name the successor already publishes refuses the re-home, naming
 * it, and nothing moves.
 */
static void
test_rehome_moves_services(void **state)
{
	Axle__V1__Registrar *of = NULL, *ot = NULL, *r;
	uint64_t before;

	assert_int_equal(node_delegate(&n, "old", "uk.london.a"), 0);
	assert_int_equal(node_delegate(&n, "old", "uk.london.b"), 0);
	assert_int_equal(node_delegate(&n, "new", "uk.london.n"), 0);
	assert_int_equal(node_set_status(&n, "old", S(ACTIVE)), 0);
	assert_int_equal(node_set_status(&n, "new", S(ACTIVE)), 0);
	assert_int_equal(node_publish(&n, "old", "a-index", SK(INDEX), "uk.london.a.idx",
	    "index.query", "a's index"), 0);
	assert_int_equal(node_publish(&n, "old", "b-portal", SK(PORTAL), "uk.london.b",
	    NULL, NULL), 0);
	assert_int_equal(node_publish(&n, "old", "shared", SK(SWITCH), "uk.london.b.x",
	    "referral.v1", NULL), 0);
	assert_int_equal(node_publish(&n, "new", "shared", SK(SWITCH), "uk.london.n",
	    "referral.v1", NULL), 0);
	assert_int_equal(node_set_status(&n, "old", S(REVOKED)), 0);

	/* Both would publish "shared": refused, naming it; nothing moved. */
	before = head_seq();
	assert_int_equal(rehome("old", "new", (char *[]){ (char *)"uk.london.b" }, 1,
	    &of, &ot, 1), REGISTRY_EEXIST);
	assert_null(of);
	assert_null(ot);
	assert_non_null(strstr(n.res.reason, "shared"));
	assert_non_null(strstr(n.res.reason, "withdraw"));
	assert_int_equal(head_seq(), before);
	r = get("old");
	assert_int_equal(r->n_services, 3);
	pb_free(&r->base);

	/* A service under a prefix it keeps stays; b's go with uk.london.b. */
	{
		Axle__V1__WithdrawServiceRequest w = AXLE__V1__WITHDRAW_SERVICE_REQUEST__INIT;

		w.registrar_id = (char *)"new";
		w.name = (char *)"shared";
		w.reason = (char *)"the old one takes over";
		node_begin(&n);
		assert_int_equal(registry_db_withdraw_service(n.txn, &n.db, &test_admin, &w,
		    0, NULL, &n.res), 0);
		node_commit(&n);
	}
	assert_int_equal(rehome("old", "new", (char *[]){ (char *)"uk.london.b" }, 1,
	    &of, &ot, 1), REGISTRY_OK);
	assert_int_equal(of->n_services, 1);
	assert_string_equal(of->services[0]->name, "a-index");
	assert_int_equal(ot->n_services, 2);
	assert_string_equal(ot->services[0]->name, "b-portal");
	assert_string_equal(ot->services[0]->address, "uk.london.b");
	assert_string_equal(ot->services[1]->name, "shared");
	assert_string_equal(ot->services[1]->address, "uk.london.b.x");
	assert_string_equal(ot->services[1]->message_types[0], "referral.v1");
	pb_free(&of->base);
	pb_free(&ot->base);
	/* The rest: the revoked registrar is left with no prefix and no service. */
	assert_int_equal(rehome("old", "new", NULL, 0, &of, &ot, 1), REGISTRY_OK);
	assert_int_equal(of->n_prefixes, 0);
	assert_int_equal(of->n_services, 0);
	assert_int_equal(ot->n_services, 3);
	assert_string_equal(ot->services[2]->name, "a-index");
	pb_free(&of->base);
	pb_free(&ot->base);
	/* What was stored and fed is what was returned. */
	r = get("old");
	assert_int_equal(r->n_services, 0);
	pb_free(&r->base);
	r = get("new");
	assert_int_equal(r->n_services, 3);
	assert_string_equal(r->services[2]->address, "uk.london.a.idx");
	pb_free(&r->base);
	feed_verifies(head_seq());
}

static void
test_services(void **state)
{
	Axle__V1__WithdrawServiceRequest w = AXLE__V1__WITHDRAW_SERVICE_REQUEST__INIT;
	Axle__V1__Registrar *r, *out;

	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_publish(&n, "lewisham", "referrals", SK(SWITCH),
	    "UK.London.Lewisham.Social-Care", "referral.v1", "Children's social care"), 0);
	assert_int_equal(node_publish(&n, "lewisham", "portal", SK(PORTAL),
	    "uk.london.lewisham", NULL, NULL), 0);
	/* Outside its prefixes: refused, naming them. */
	assert_int_equal(node_publish(&n, "lewisham", "x", SK(PORTAL), "uk.london.camden",
	    NULL, NULL), REGISTRY_EPERM);
	assert_string_equal(n.res.reason, "service address uk.london.camden is outside "
	    "the prefixes of registrar lewisham, e.g. uk.london.lewisham");
	assert_int_equal(node_publish(&n, "lewisham", "x", SK(PORTAL), "uk.london.lewishamx",
	    NULL, NULL), REGISTRY_EPERM);
	assert_int_equal(node_publish(&n, "lewisham", "", SK(PORTAL), "uk.london.lewisham",
	    NULL, NULL), REGISTRY_EINVAL);
	assert_int_equal(node_publish(&n, "lewisham", "x", SK(UNSPECIFIED),
	    "uk.london.lewisham", NULL, NULL), REGISTRY_EINVAL);
	assert_int_equal(node_publish(&n, "lewisham", "x", SK(PORTAL), "uk..x", NULL, NULL),
	    REGISTRY_EINVAL);
	assert_int_equal(node_publish(&n, "nobody", "x", SK(PORTAL), "uk.london.x", NULL,
	    NULL), REGISTRY_ENOTFOUND);
	/* Replacing by name. */
	assert_int_equal(node_publish(&n, "lewisham", "referrals", SK(SWITCH),
	    "uk.london.lewisham", "referral.v2", "v2"), 0);
	r = get("lewisham");
	assert_int_equal(r->n_services, 2);
	assert_string_equal(r->services[0]->name, "referrals");
	assert_string_equal(r->services[0]->message_types[0], "referral.v2");
	assert_string_equal(r->services[1]->name, "portal");
	pb_free(&r->base);
	/* Withdraw. */
	w.registrar_id = (char *)"lewisham";
	w.name = (char *)"portal";
	w.reason = (char *)"replaced";
	node_begin(&n);
	assert_int_equal(registry_db_withdraw_service(n.txn, &n.db, &test_admin, &w, 0,
	    &out, &n.res), 0);
	node_commit(&n);
	assert_int_equal(out->n_services, 1);
	assert_string_equal(out->services[0]->name, "referrals");
	pb_free(&out->base);
	node_begin(&n);
	assert_int_equal(registry_db_withdraw_service(n.txn, &n.db, &test_admin, &w, 0,
	    NULL, &n.res), REGISTRY_ENOTFOUND);
	node_abort(&n);
	assert_string_equal(n.res.reason, "registrar lewisham publishes no service named \"portal\"");
	/* A revoked registrar publishes nothing. */
	assert_int_equal(node_set_status(&n, "lewisham", S(REVOKED)), 0);
	assert_int_equal(node_publish(&n, "lewisham", "p", SK(PORTAL), "uk.london.lewisham",
	    NULL, NULL), REGISTRY_EPRECOND);
	feed_verifies(6);
}

static void
test_sign_head(void **state)
{
	EVP_PKEY *key = ec_key_new();
	Axle__V1__SignedHead head;
	char why[REGISTRY_REASON_MAX];
	MDB_txn *txn;

	assert_int_equal(node_delegate(&n, "a", "uk.london.a"), 0);
	assert_int_equal(node_delegate(&n, "b", "uk.london.b"), 0);
	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_sign_head(txn, &n.db, 0, key, "axle://fame-uk/node/uk.london",
	    5, &head, &n.res), 0);
	assert_int_equal(head.seq, 2);
	assert_string_equal(head.region, "uk.london");
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), 0);
	registry_signed_head_clear(&head);
	assert_int_equal(registry_db_sign_head(txn, &n.db, 1, key, NULL, 5, &head, &n.res), 0);
	assert_int_equal(head.seq, 1);
	registry_signed_head_clear(&head);
	assert_int_equal(registry_db_sign_head(txn, &n.db, 3, key, NULL, 5, &head, &n.res),
	    REGISTRY_ENOTFOUND);
	mdb_txn_abort(txn);
	EVP_PKEY_free(key);
}

static void
test_store_errors(void **state)
{
	char dir[] = "/tmp/axle-reg-dbs-XXXXXX", p[64];
	struct registry_db db;
	struct registry_outcome res;
	MDB_env *env;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_open(txn, "uk..london", &db, &res), REGISTRY_EINVAL);
	assert_string_equal(res.reason, "region: label 2 is empty (two dots at byte 2)");
	mdb_txn_abort(txn);
	/* Too few named databases allowed: the MDB code is kept. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(registry_db_open(txn, "uk.london", &db, &res), REGISTRY_ESTORE);
	assert_int_equal(res.mdb_rc, MDB_DBS_FULL);
	assert_non_null(strstr(res.reason, "cannot open reg.feed: "));
	mdb_txn_abort(txn);
	mdb_env_close(env);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delegate_creates_and_feeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegate_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehome_subset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehome_moves_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
