/* test_mirror.c -- mirroring a peer's feed: apply, resume, resend, and refusal (broken chain, bad signature, foreign records) that applies nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/mirror.h"
#include "registry/portal.h"
#include "reg_harness.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

static struct node origin, peer;
static EVP_PKEY *okey, *other;

static int
setup(void **state)
{
	node_open(&origin, "uk.london");
	node_open(&peer, "uk.westyorks");
	okey = ec_key_new();
	other = ec_key_new();
	assert_int_equal(node_delegate(&origin, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_delegate(&origin, "camden", "uk.london.camden"), 0);
	assert_int_equal(node_set_status(&origin, "lewisham", S(ACTIVE)), 0);
	return 0;
}

static int
teardown(void **state)
{
	node_close(&origin);
	node_close(&peer);
	EVP_PKEY_free(okey);
	EVP_PKEY_free(other);
	return 0;
}

/* A batch of origin's feed after seq `after`, up to limit, with a head signed by key at its end. */
struct batch {
	Axle__V1__FeedEntry **e;
	size_t n;
	Axle__V1__SignedHead head;
};

static void
fetch(struct batch *b, uint64_t after, size_t limit, EVP_PKEY *key)
{
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(origin.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &origin.db, after, limit, &b->e, &b->n,
	    &origin.res), 0);
	assert_int_equal(registry_db_sign_head(txn, &origin.db, b->n > 0 ?
	    b->e[b->n - 1]->seq : 0, key, "axle://fame-uk/node/uk.london", 1, &b->head,
	    &origin.res), 0);
	mdb_txn_abort(txn);
}

static void
batch_free(struct batch *b)
{
	registry_feed_entries_free(b->e, b->n);
	registry_signed_head_clear(&b->head);
}

/* Applies b on peer and commits whatever the outcome (a refusal records the broken state). */
static int
apply(struct batch *b, EVP_PKEY *pub)
{
	int rc;

	node_begin(&peer);
	rc = registry_mirror_apply(peer.txn, &peer.db, "uk.london",
	    (const Axle__V1__FeedEntry *const *)b->e, b->n, &b->head, pub, 77, &peer.res);
	if (rc == REGISTRY_OK || rc == REGISTRY_EINTEGRITY)
		node_commit(&peer);
	else
		node_abort(&peer);
	return rc;
}

static struct registry_mirror_state
state_of(void)
{
	struct registry_mirror_state st;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(peer.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_mirror_state_get(txn, &peer.db, "uk.london", &st, &peer.res), 0);
	mdb_txn_abort(txn);
	return st;
}

/* Registrar id of uk.london as mirrored by peer, or NULL. */
static Axle__V1__Registrar *
mirrored(const char *id)
{
	Axle__V1__Registrar *r = NULL;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(peer.env, NULL, MDB_RDONLY, &txn), 0);
	registry_db_get(txn, &peer.db, "uk.london", id, &r, &peer.res);
	mdb_txn_abort(txn);
	return r;
}

static void
test_apply_and_resume(void **state)
{
	struct batch b;
	struct registry_mirror_state st;
	Axle__V1__Registrar *r;
	struct registry_index *idx;
	struct registry_resolution res;
	MDB_txn *txn;

	/* Two entries, then the rest: resumes from the stored seq. */
	fetch(&b, 0, 2, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	assert_int_equal(peer.res.feed_seq, 2);
	batch_free(&b);
	st = state_of();
	assert_int_equal(st.seq, 2);
	assert_false(st.broken);
	r = mirrored("lewisham");
	assert_int_equal(r->status, S(PENDING));
	pb_free(&r->base);

	fetch(&b, st.seq, 100, okey);
	assert_int_equal(b.n, 1);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	/* Sending the same batch again is harmless. */
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	batch_free(&b);
	assert_int_equal(state_of().seq, 3);
	r = mirrored("lewisham");
	assert_int_equal(r->status, S(ACTIVE));
	pb_free(&r->base);

	/* Nothing new: a head at our seq is fine. */
	fetch(&b, 3, 100, okey);
	assert_int_equal(b.n, 0);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	batch_free(&b);

	/* The peer resolves origin's registrars from its mirror. */
	idx = registry_index_new(0);
	assert_int_equal(mdb_txn_begin(peer.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_index_load(txn, &peer.db, idx, NULL, &peer.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(registry_index_add_region(idx, "uk.london", REGISTRY_PREFIX_PEER_REGION), 0);
	assert_true(registry_resolve(idx, "uk.london.lewisham.social-care", &res));
	assert_string_equal(res.match.registrar_id, "lewisham");
	assert_string_equal(res.match.region, "uk.london");
	assert_false(registry_resolve(idx, "uk.london.hackney", &res));
	assert_int_equal(res.encloser.kind, REGISTRY_PREFIX_PEER_REGION);
	assert_false(registry_resolve(idx, "uk.westyorks.leeds", &res));
	assert_int_equal(res.encloser.kind, REGISTRY_PREFIX_OWN_REGION);
	registry_index_free(idx);
}

/* Asserts the mirror is broken with a reason containing want, and still at seq. */
static void
assert_broken(const char *want, uint64_t seq)
{
	struct registry_mirror_state st = state_of();

	assert_true(st.broken);
	assert_non_null(strstr(st.reason, want));
	assert_int_equal(st.seq, seq);
	assert_int_equal(st.changed_ms, 77);
}

static void
test_bad_signature_applies_nothing(void **state)
{
	struct batch b;

	fetch(&b, 0, 100, other);	/* signed by a key that is not origin's */
	assert_int_equal(apply(&b, okey), REGISTRY_EINTEGRITY);
	assert_string_equal(peer.res.reason, "signature of the head of uk.london at "
	    "entry 3 does not verify with the key of its node");
	assert_broken("does not verify", 0);
	assert_null(mirrored("lewisham"));
	/* A stopped mirror refuses even good batches until reset. */
	batch_free(&b);
	fetch(&b, 0, 100, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_EPRECOND);
	assert_non_null(strstr(peer.res.reason, "the mirror of uk.london is stopped"));
	assert_null(mirrored("lewisham"));
	node_begin(&peer);
	assert_int_equal(registry_mirror_reset(peer.txn, &peer.db, "uk.london", &peer.res), 0);
	node_commit(&peer);
	assert_false(state_of().broken);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	assert_int_equal(state_of().seq, 3);
	batch_free(&b);
}

static void
test_broken_chain_applies_nothing(void **state)
{
	struct batch b;
	Axle__V1__Registrar *r;

	fetch(&b, 0, 1, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	batch_free(&b);
	/* Entry 2 tampered in transit (its record changed, hash kept). */
	fetch(&b, 1, 100, okey);
	b.e[0]->registrar->status = S(REVOKED);
	assert_int_equal(apply(&b, okey), REGISTRY_EINTEGRITY);
	assert_string_equal(peer.res.reason, "entry 2 was modified: its hash does not match its contents");
	assert_broken("entry 2 was modified", 1);
	assert_null(mirrored("camden"));	/* entry 2 created camden: not applied */
	r = mirrored("lewisham");
	assert_int_equal(r->version, 1);
	pb_free(&r->base);
	batch_free(&b);
}

static void
test_gap_and_rewind(void **state)
{
	struct batch b;

	fetch(&b, 0, 1, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	batch_free(&b);
	/* Skipping entry 2: a gap. */
	fetch(&b, 2, 100, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_EINTEGRITY);
	assert_string_equal(peer.res.reason, "entry 2 is missing: entry 3 follows entry 1");
	assert_broken("entry 2 is missing", 1);
	batch_free(&b);
}

static void
test_head_must_end_batch(void **state)
{
	struct batch b;
	MDB_txn *txn;

	fetch(&b, 0, 100, okey);
	/* A head signed for entry 2 while the batch goes to 3. */
	registry_signed_head_clear(&b.head);
	assert_int_equal(mdb_txn_begin(origin.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_sign_head(txn, &origin.db, 2, okey, NULL, 1, &b.head,
	    &origin.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(apply(&b, okey), REGISTRY_EINTEGRITY);
	assert_string_equal(peer.res.reason, "signed head (entry 2) is not the batch's last entry 3");
	assert_null(mirrored("lewisham"));
	batch_free(&b);
}

static void
test_head_behind(void **state)
{
	struct batch b, h;

	fetch(&b, 0, 100, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	/* No entries, head at 1 while we hold 3: the origin rewound its feed. */
	fetch(&h, 0, 1, okey);
	registry_feed_entries_free(h.e, h.n);
	h.e = NULL;
	h.n = 0;
	assert_int_equal(apply(&h, okey), REGISTRY_EINTEGRITY);
	assert_non_null(strstr(peer.res.reason, "the feed was rewound"));
	registry_signed_head_clear(&h.head);
	batch_free(&b);
}

/*
 * A node may only publish its own region. Entries forged and properly
 * chained and signed by the origin's own key, but carrying a prefix of
 * another region, are refused.
 */
static void
test_foreign_prefix_refused(void **state)
{
	struct batch b;
	uint8_t prev[REGISTRY_HASH_LEN] = { 0 };
	char *bad[] = { (char *)"uk.westyorks.leeds" }, **orig;

	fetch(&b, 0, 1, okey);
	orig = b.e[0]->registrar->prefixes;	/* pb_free owns it: put back before freeing */
	b.e[0]->registrar->prefixes = bad;
	assert_int_equal(registry_feed_hash(b.e[0], prev), 0);
	memcpy(b.e[0]->hash.data, prev, REGISTRY_HASH_LEN);
	memcpy(b.head.hash.data, prev, REGISTRY_HASH_LEN);
	free(b.head.signature.data);
	free(b.head.time_signature.data);
	b.head.signature.data = b.head.time_signature.data = NULL;
	assert_int_equal(registry_feed_sign_head(okey, &b.head, peer.res.reason,
	    sizeof(peer.res.reason)), 0);
	assert_int_equal(apply(&b, okey), REGISTRY_EINTEGRITY);
	assert_string_equal(peer.res.reason, "entry 1: registrar lewisham's prefix "
	    "\"uk.westyorks.leeds\" is not inside region uk.london");
	assert_null(mirrored("lewisham"));
	b.e[0]->registrar->prefixes = orig;
	batch_free(&b);
}

static void
test_own_region_never_mirrored(void **state)
{
	struct batch b;

	fetch(&b, 0, 100, okey);
	node_begin(&origin);
	assert_int_equal(registry_mirror_apply(origin.txn, &origin.db, "uk.london",
	    (const Axle__V1__FeedEntry *const *)b.e, b.n, &b.head, okey, 1, &origin.res),
	    REGISTRY_EPERM);
	assert_int_equal(registry_mirror_reset(origin.txn, &origin.db, "uk.london",
	    &origin.res), REGISTRY_EPERM);
	node_abort(&origin);
	batch_free(&b);
}

/*
 * A re-home reaches a peer through the feed: the mirrored successor holds
 * the prefix and publishes the moved service, so discovery at the peer
 * finds it there; the mirrored revoked registrar lists no service.
 */
static void
test_rehome_reaches_discovery(void **state)
{
	Axle__V1__ReHomeRequest rh = AXLE__V1__RE_HOME_REQUEST__INIT;
	Axle__V1__DiscoverRequest dq = AXLE__V1__DISCOVER_REQUEST__INIT;
	Axle__V1__DiscoverResponse *d = NULL;
	Axle__V1__Registrar *r;
	struct batch b;
	MDB_txn *txn;

	assert_int_equal(node_publish(&origin, "lewisham", "referrals",
	    AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH, "uk.london.lewisham.care",
	    "referral.v1", NULL), 0);
	assert_int_equal(node_set_status(&origin, "lewisham", S(REVOKED)), 0);
	assert_int_equal(node_set_status(&origin, "camden", S(ACTIVE)), 0);
	rh.from_registrar_id = (char *)"lewisham";
	rh.to_registrar_id = (char *)"camden";
	rh.reason = (char *)"merger";
	node_begin(&origin);
	assert_int_equal(registry_db_rehome(origin.txn, &origin.db, &test_admin, &rh,
	    NULL, NULL, &origin.res), 0);
	node_commit(&origin);

	fetch(&b, 0, 100, okey);
	assert_int_equal(apply(&b, okey), REGISTRY_OK);
	batch_free(&b);
	r = mirrored("lewisham");
	assert_int_equal(r->n_services, 0);
	assert_string_equal(r->successor_id, "camden");
	pb_free(&r->base);
	dq.prefix = (char *)"uk.london.lewisham";
	assert_int_equal(mdb_txn_begin(peer.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_portal_discover(txn, &peer.db, &dq, &d, &peer.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(d->n_services, 1);
	assert_string_equal(d->services[0]->registrar_id, "camden");
	assert_string_equal(d->services[0]->service->name, "referrals");
	assert_true(d->services[0]->from_mirror);
	registry_portal_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signature_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_chain_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_rewind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_must_end_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_prefix_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_region_never_mirrored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehome_reaches_discovery, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
