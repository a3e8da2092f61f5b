/* test_relay.c -- relayed feeds: a mirror serves on what the origin signed; a relay that alters it is named; heads kept, listed and forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/feed.h"
#include "registry/mirror.h"
#include "reg_harness.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

/* origin uk.london, relay uk (mirrors it), leaf uk.westyorks.leeds (mirrors it from uk). */
static struct node origin, relay, leaf;
static EVP_PKEY *okey;

static int
setup(void **state)
{
	node_open(&origin, "uk.london");
	node_open(&relay, "uk");
	node_open(&leaf, "uk.westyorks.leeds");
	okey = ec_key_new();
	assert_int_equal(node_delegate(&origin, "lewisham", "uk.london.lewisham"), 0);
	assert_int_equal(node_delegate(&origin, "camden", "uk.london.camden"), 0);
	assert_int_equal(node_set_status(&origin, "lewisham", S(ACTIVE)), 0);
	return 0;
}

static int
teardown(void **state)
{
	node_close(&origin);
	node_close(&relay);
	node_close(&leaf);
	EVP_PKEY_free(okey);
	return 0;
}

struct batch {
	Axle__V1__FeedEntry **e;
	size_t n;
	Axle__V1__SignedHead head;
	Axle__V1__SignedHead *relayed;	/* from registry_mirror_read */
};

/* The origin's own feed after `after`, up to limit, head signed at the batch's end. */
static void
from_origin(struct batch *b, uint64_t after, size_t limit)
{
	MDB_txn *txn;

	memset(b, 0, sizeof(*b));
	assert_int_equal(mdb_txn_begin(origin.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &origin.db, after, limit, &b->e,
	    &b->n, &origin.res), 0);
	assert_int_equal(registry_db_sign_head(txn, &origin.db, b->n > 0 ?
	    b->e[b->n - 1]->seq : 0, okey, "axle://fame-uk/node/uk.london", 5,
	    &b->head, &origin.res), 0);
	mdb_txn_abort(txn);
}

/* What the relay serves of uk.london to a node that holds it up to after. */
static int
from_relay(struct batch *b, uint64_t after)
{
	MDB_txn *txn;
	int rc;

	memset(b, 0, sizeof(*b));
	assert_int_equal(mdb_txn_begin(relay.env, NULL, MDB_RDONLY, &txn), 0);
	rc = registry_mirror_read(txn, &relay.db, "uk.london", after, &b->e, &b->n,
	    &b->relayed, &relay.res);
	mdb_txn_abort(txn);
	return rc;
}

static void
batch_free(struct batch *b)
{
	registry_feed_entries_free(b->e, b->n);
	registry_signed_head_clear(&b->head);
	if (b->relayed != NULL)
		pb_free(&b->relayed->base);
}

static int
apply(struct node *n, const char *via, struct batch *b)
{
	int rc;

	node_begin(n);
	rc = registry_mirror_apply_via(n->txn, &n->db, "uk.london", via,
	    (const Axle__V1__FeedEntry *const *)b->e, b->n,
	    b->relayed != NULL ? b->relayed : &b->head, okey, 77, &n->res);
	if (rc == REGISTRY_OK || rc == REGISTRY_EINTEGRITY)
		node_commit(n);
	else
		node_abort(n);
	return rc;
}

static struct registry_mirror_state
state_of(struct node *n)
{
	struct registry_mirror_state st;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(n->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_mirror_state_get(txn, &n->db, "uk.london", &st, &n->res), 0);
	mdb_txn_abort(txn);
	return st;
}

/* The relay mirrors the origin in two batches (entries 1-2, then 3). */
static void
relay_mirrors_origin(void)
{
	struct batch b;

	from_origin(&b, 0, 2);
	assert_int_equal(apply(&relay, "uk.london", &b), REGISTRY_OK);
	batch_free(&b);
	from_origin(&b, 2, 100);
	assert_int_equal(apply(&relay, "uk.london", &b), REGISTRY_OK);
	batch_free(&b);
	assert_int_equal(state_of(&relay).seq, 3);
}

static void
test_relay_serves_what_the_origin_signed(void **state)
{
	struct batch b;

	assert_int_equal(from_relay(&b, 0), REGISTRY_ENOTFOUND);	/* nothing held yet */
	batch_free(&b);
	relay_mirrors_origin();
	/* From the start: up to the first head the origin signed (entry 2), as signed. */
	assert_int_equal(from_relay(&b, 0), REGISTRY_OK);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.relayed->seq, 2);
	assert_string_equal(b.relayed->region, "uk.london");
	assert_int_equal(b.relayed->signed_ms, 5);
	assert_int_equal(apply(&leaf, "uk", &b), REGISTRY_OK);
	batch_free(&b);
	/* From the middle of a batch: the rest of it, up to that batch's head. */
	assert_int_equal(from_relay(&b, 1), REGISTRY_OK);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.e[0]->seq, 2);
	assert_int_equal(b.relayed->seq, 2);
	batch_free(&b);
	assert_int_equal(from_relay(&b, 2), REGISTRY_OK);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.relayed->seq, 3);
	assert_int_equal(apply(&leaf, "uk", &b), REGISTRY_OK);
	batch_free(&b);
	/* At (or past) the head: no entries, the newest head. */
	assert_int_equal(from_relay(&b, 3), REGISTRY_OK);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.relayed->seq, 3);
	assert_int_equal(apply(&leaf, "uk", &b), REGISTRY_OK);
	batch_free(&b);
	assert_int_equal(from_relay(&b, 9), REGISTRY_OK);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.relayed->seq, 3);
	batch_free(&b);
	assert_int_equal(state_of(&leaf).seq, 3);
	assert_false(state_of(&leaf).broken);
}

static void
test_altering_relay_is_named(void **state)
{
	struct batch b;
	struct registry_mirror_state st;
	char *name;

	relay_mirrors_origin();
	assert_int_equal(from_relay(&b, 0), REGISTRY_OK);
	name = b.e[1]->registrar->display_name;
	b.e[1]->registrar->display_name = (char *)"Camden (redirected)";
	assert_int_equal(apply(&leaf, "uk", &b), REGISTRY_EINTEGRITY);
	b.e[1]->registrar->display_name = name;		/* the arena's, for pb_free */
	assert_string_equal(leaf.res.reason, "relay uk served a feed of uk.london that "
	    "fails verification: entry 2 was modified: its hash does not match its contents");
	st = state_of(&leaf);
	assert_true(st.broken);
	assert_int_equal(st.seq, 0);		/* nothing of it applied */
	assert_non_null(strstr(st.reason, "relay uk"));
	batch_free(&b);
}

static void
test_relay_cannot_forge_the_head(void **state)
{
	struct batch b;
	EVP_PKEY *relay_key = ec_key_new();

	relay_mirrors_origin();
	assert_int_equal(from_relay(&b, 0), REGISTRY_OK);
	/* The relay re-signs the head with its own key: the origin's key refuses it. */
	ProtobufCBinaryData sig = b.relayed->signature, tsig = b.relayed->time_signature;
	char *alg = b.relayed->algorithm;

	assert_int_equal(registry_feed_sign_head(relay_key, b.relayed, leaf.res.reason,
	    sizeof(leaf.res.reason)), REGISTRY_OK);
	assert_int_equal(apply(&leaf, "uk", &b), REGISTRY_EINTEGRITY);
	assert_non_null(strstr(leaf.res.reason, "relay uk served a feed of uk.london"));
	assert_non_null(strstr(leaf.res.reason, "does not verify"));
	free(b.relayed->signature.data);	/* ours; the arena's go back for pb_free */
	free(b.relayed->time_signature.data);
	b.relayed->signature = sig;
	b.relayed->time_signature = tsig;
	b.relayed->algorithm = alg;
	batch_free(&b);
	EVP_PKEY_free(relay_key);
}

static void
count_region(void *arg, const char *region, const struct registry_mirror_state *st)
{
	size_t *n = arg;

	assert_string_equal(region, "uk.london");
	assert_int_equal(st->seq, 3);
	(*n)++;
}

static void
test_regions_listed_and_reset_forgets_heads(void **state)
{
	struct batch b;
	size_t n = 0;
	MDB_txn *txn;

	relay_mirrors_origin();
	assert_int_equal(mdb_txn_begin(relay.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_mirror_regions(txn, &relay.db, 16, count_region, &n,
	    &relay.res), 0);
	mdb_txn_abort(txn);
	assert_int_equal(n, 1);
	node_begin(&relay);
	assert_int_equal(registry_mirror_reset(relay.txn, &relay.db, "uk.london", &relay.res), 0);
	node_commit(&relay);
	assert_int_equal(from_relay(&b, 0), REGISTRY_ENOTFOUND);
	batch_free(&b);
	/* Mirrored again from seq 1 in one batch: one head, at its end. */
	from_origin(&b, 0, 100);
	assert_int_equal(apply(&relay, "uk.london", &b), REGISTRY_OK);
	batch_free(&b);
	assert_int_equal(from_relay(&b, 0), REGISTRY_OK);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.relayed->seq, 3);
	batch_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_serves_what_the_origin_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_altering_relay_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_cannot_forge_the_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_listed_and_reset_forgets_heads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
