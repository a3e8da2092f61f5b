/* mirror.c -- verifying and applying peers' feed batches to read-only mirrors; mirror state. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db_priv.h"
#include "registry/feed.h"
#include "registry/db.h"
#include "registry/mirror.h"
#include "registry/registrar.h"

#define STATE_FIXED	(8 + REGISTRY_HASH_LEN + 1 + 8)	/* seq, hash, broken, changed_ms; then reason */
#define FAIL(res, rc, ...) registry_fail((rc), (res)->reason, sizeof((res)->reason), __VA_ARGS__)

/* --- state ------------------------------------------------------------------------------- */

int
registry_mirror_state_get(MDB_txn *txn, const struct registry_db *db,
    const char *region, struct registry_mirror_state *st,
    struct registry_outcome *res)
{
	MDB_val k = { strlen(region), (void *)(uintptr_t)region }, v;
	const uint8_t *b;
	size_t rl;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = mdb_get(txn, db->mirror_state, &k, &v)) == MDB_NOTFOUND)
		return REGISTRY_OK;
	if (rc != 0)
		return registry_db_store_fail(res, rc, "read reg.mirror_state");
	if (v.mv_size < STATE_FIXED)
		return FAIL(res, REGISTRY_EINTEGRITY, "mirror state of %s is %zu bytes",
		    region, v.mv_size);
	b = v.mv_data;
	st->seq = registry_be64_get(b);
	memcpy(st->hash, b + 8, REGISTRY_HASH_LEN);
	st->broken = b[8 + REGISTRY_HASH_LEN] != 0;
	st->changed_ms = (int64_t)registry_be64_get(b + 8 + REGISTRY_HASH_LEN + 1);
	rl = v.mv_size - STATE_FIXED;
	if (rl >= sizeof(st->reason))
		rl = sizeof(st->reason) - 1;
	memcpy(st->reason, b + STATE_FIXED, rl);
	st->reason[rl] = '\0';
	return REGISTRY_OK;
}

static int
state_put(MDB_txn *txn, const struct registry_db *db, const char *region,
    const struct registry_mirror_state *st, struct registry_outcome *res)
{
	uint8_t b[STATE_FIXED + REGISTRY_REASON_MAX];
	size_t rl = strnlen(st->reason, sizeof(st->reason) - 1);
	MDB_val k = { strlen(region), (void *)(uintptr_t)region }, v = { STATE_FIXED + rl, b };
	int rc;

	registry_be64_put(b, st->seq);
	memcpy(b + 8, st->hash, REGISTRY_HASH_LEN);
	b[8 + REGISTRY_HASH_LEN] = st->broken;
	registry_be64_put(b + 8 + REGISTRY_HASH_LEN + 1, (uint64_t)st->changed_ms);
	memcpy(b + STATE_FIXED, st->reason, rl);
	rc = mdb_put(txn, db->mirror_state, &k, &v, 0);
	return rc == 0 ? REGISTRY_OK : registry_db_store_fail(res, rc, "write reg.mirror_state");
}

/* Stops region's mirror with res->reason as the cause: only the state is written. */
static int
stop_mirror(MDB_txn *txn, const struct registry_db *db, const char *region,
    struct registry_mirror_state *st, int64_t now_ms, struct registry_outcome *res)
{
	int rc;

	st->broken = true;
	st->changed_ms = now_ms;
	snprintf(st->reason, sizeof(st->reason), "%s", res->reason);
	if ((rc = state_put(txn, db, region, st, res)) != REGISTRY_OK)
		return rc;
	return REGISTRY_EINTEGRITY;
}

/* --- checks ------------------------------------------------------------------------------ */

static size_t
entry_key(uint8_t *buf, const char *region, uint64_t seq)
{
	size_t rl = strlen(region);

	memcpy(buf, region, rl);
	buf[rl] = '\0';
	registry_be64_put(buf + rl + 1, seq);
	return rl + 9;
}

/* A resent entry must be the one held, byte for byte in what its hash covers. */
static int
check_held(MDB_txn *txn, const struct registry_db *db, const char *region,
    const Axle__V1__FeedEntry *e, struct registry_outcome *res)
{
	uint8_t key[ADDR_MAX_LEN + 9], h[REGISTRY_HASH_LEN];
	MDB_val k = { entry_key(key, region, e->seq), key }, v;
	Axle__V1__FeedEntry *held;
	int rc, same;

	if ((rc = mdb_get(txn, db->mirror, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? FAIL(res, REGISTRY_EINTEGRITY, "entry %"
		    PRIu64 " is not held although the mirror is past it", e->seq) :
		    registry_db_store_fail(res, rc, "read reg.mirror");
	if ((rc = registry_db_unpack_entry(&v, &held, res)) != REGISTRY_OK)
		return rc;
	same = e->prev_hash.len == REGISTRY_HASH_LEN &&
	    registry_feed_hash(e, h) == REGISTRY_OK && held->hash.len == sizeof(h) &&
	    memcmp(held->hash.data, h, sizeof(h)) == 0;
	pb_free(&held->base);
	if (!same)
		return FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 " differs from "
		    "the one already mirrored: the feed of %s was rewritten",
		    e->seq, region);
	return REGISTRY_OK;
}

/* An entry may only carry a record of its own region, with prefixes inside it. */
static int
check_entry(const char *region, const Axle__V1__FeedEntry *e,
    struct registry_outcome *res)
{
	const Axle__V1__Registrar *r = e->registrar;
	char why[REGISTRY_REASON_MAX], folded[ADDR_MAX_LEN + 1];

	if (strcmp(e->region, region) != 0)
		return FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 " is of region "
		    "%s, not %s", e->seq, e->region, region);
	if (r == NULL || strcmp(r->region, region) != 0)
		return FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 " carries %s",
		    e->seq, r == NULL ? "no record" : "a record of another region");
	if (registry_id_check(r->id, why, sizeof(why)) != REGISTRY_OK)
		return FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 ": %s", e->seq, why);
	for (size_t i = 0; i < r->n_prefixes; i++) {
		const char *p = r->prefixes[i];

		if (registry_address_parse(p, strlen(p), folded, why, sizeof(why)) != 0 ||
		    strcmp(folded, p) != 0 || !registry_address_covers(region, p) ||
		    strcmp(p, region) == 0)
			return FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 ": "
			    "registrar %s's prefix \"%s\" is not inside region %s",
			    e->seq, r->id, p, region);
	}
	return REGISTRY_OK;
}

/* The signed head must be where the batch ends (or, with nothing new, not behind us). */
static int
check_head_position(const Axle__V1__SignedHead *head,
    const Axle__V1__FeedEntry *last, const struct registry_mirror_state *st,
    struct registry_outcome *res)
{
	if (last != NULL) {
		if (head->seq != last->seq || last->hash.len != REGISTRY_HASH_LEN ||
		    memcmp(head->hash.data, last->hash.data, REGISTRY_HASH_LEN) != 0)
			return FAIL(res, REGISTRY_EINTEGRITY, "signed head (entry %"
			    PRIu64 ") is not the batch's last entry %" PRIu64,
			    head->seq, last->seq);
		return REGISTRY_OK;
	}
	if (head->seq < st->seq)
		return FAIL(res, REGISTRY_EINTEGRITY, "signed head is at entry %" PRIu64
		    ", behind the %" PRIu64 " already mirrored: the feed was rewound",
		    head->seq, st->seq);
	if (head->seq == st->seq && st->seq > 0 &&
	    memcmp(head->hash.data, st->hash, REGISTRY_HASH_LEN) != 0)
		return FAIL(res, REGISTRY_EINTEGRITY, "signed head at entry %" PRIu64
		    " has another hash than the entry mirrored: the feed was rewritten",
		    head->seq);
	return REGISTRY_OK;
}

/* Every check of registry_mirror_apply; *first gets the first new entry. */
static int
check_batch(MDB_txn *txn, const struct registry_db *db, const char *region,
    const Axle__V1__FeedEntry *const *entries, size_t n,
    const Axle__V1__SignedHead *head, EVP_PKEY *peer_pub,
    const struct registry_mirror_state *st, size_t *first,
    struct registry_outcome *res)
{
	uint64_t bad;
	int rc;

	if (head == NULL || head->region == NULL || strcmp(head->region, region) != 0)
		return FAIL(res, REGISTRY_EINTEGRITY, "signed head is not of region %s",
		    region);
	if ((rc = registry_feed_verify_head(peer_pub, head, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		return rc;
	for (*first = 0; *first < n && entries[*first]->seq <= st->seq; (*first)++)
		if ((rc = check_held(txn, db, region, entries[*first], res)) != REGISTRY_OK)
			return rc;
	if ((rc = registry_feed_verify(entries + *first, n - *first, st->seq, st->hash,
	    &bad, res->reason, sizeof(res->reason))) != REGISTRY_OK)
		return rc;
	for (size_t i = *first; i < n; i++)
		if ((rc = check_entry(region, entries[i], res)) != REGISTRY_OK)
			return rc;
	return check_head_position(head, *first < n ? entries[n - 1] : NULL, st, res);
}

/* --- applying ---------------------------------------------------------------------------- */

static int
store_entry(MDB_txn *txn, const struct registry_db *db, const char *region,
    const Axle__V1__FeedEntry *e, struct registry_outcome *res)
{
	uint8_t key[ADDR_MAX_LEN + 9], *buf;
	MDB_val k = { entry_key(key, region, e->seq), key }, v;
	size_t n;
	int rc;

	if ((buf = pb_pack(&e->base, 0, &n)) == NULL)
		return FAIL(res, REGISTRY_ENOMEM, "out of memory");
	v.mv_data = buf;
	v.mv_size = n;
	rc = mdb_put(txn, db->mirror, &k, &v, 0);
	free(buf);
	if (rc != 0)
		return registry_db_store_fail(res, rc, "write reg.mirror");
	return registry_db_put_record(txn, db, e->registrar, res);
}

/* Checks region: a parsed address, not ours. */
static int
check_region(const struct registry_db *db, const char *region,
    struct registry_outcome *res)
{
	char folded[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX];

	if (region == NULL || registry_address_parse(region, strlen(region), folded,
	    why, sizeof(why)) != 0 || strcmp(folded, region) != 0)
		return FAIL(res, REGISTRY_EINVAL, "mirrored region: %s",
		    region == NULL ? "missing" : "not a folded address");
	if (strcmp(region, db->region) == 0)
		return FAIL(res, REGISTRY_EPERM, "%s is this node's own region: it is "
		    "never mirrored", region);
	return REGISTRY_OK;
}

/* Keeps the origin's signed head at the end of the batch: what relaying serves. */
static int
store_head(MDB_txn *txn, const struct registry_db *db, const char *region,
    const Axle__V1__SignedHead *head, struct registry_outcome *res)
{
	uint8_t key[ADDR_MAX_LEN + 9], *buf;
	MDB_val k = { entry_key(key, region, head->seq), key }, v;
	size_t n;
	int rc;

	if ((buf = pb_pack(&head->base, 0, &n)) == NULL)
		return FAIL(res, REGISTRY_ENOMEM, "out of memory");
	v.mv_data = buf;
	v.mv_size = n;
	rc = mdb_put(txn, db->mirror_heads, &k, &v, 0);
	free(buf);
	return rc == 0 ? REGISTRY_OK : registry_db_store_fail(res, rc,
	    "write reg.mirror_heads");
}

int
registry_mirror_apply(MDB_txn *txn, const struct registry_db *db,
    const char *region, const Axle__V1__FeedEntry *const *entries, size_t n,
    const Axle__V1__SignedHead *head, EVP_PKEY *peer_pub, int64_t now_ms,
    struct registry_outcome *res)
{
	return registry_mirror_apply_via(txn, db, region, NULL, entries, n, head,
	    peer_pub, now_ms, res);
}

int
registry_mirror_apply_via(MDB_txn *txn, const struct registry_db *db,
    const char *region, const char *via, const Axle__V1__FeedEntry *const *entries,
    size_t n, const Axle__V1__SignedHead *head, EVP_PKEY *origin_pub,
    int64_t now_ms, struct registry_outcome *res)
{
	struct registry_mirror_state st;
	size_t first = 0;
	int rc;

	registry_outcome_reset(res);
	if ((rc = check_region(db, region, res)) != REGISTRY_OK ||
	    (rc = registry_mirror_state_get(txn, db, region, &st, res)) != REGISTRY_OK)
		return rc;
	if (st.broken)
		return FAIL(res, REGISTRY_EPRECOND, "the mirror of %s is stopped (%s); "
		    "reset it to start again", region, st.reason);
	rc = check_batch(txn, db, region, entries, n, head, origin_pub, &st, &first, res);
	if (rc == REGISTRY_EINTEGRITY) {
		if (via != NULL && strcmp(via, region) != 0) {
			char why[REGISTRY_REASON_MAX];

			snprintf(why, sizeof(why), "%s", res->reason);
			FAIL(res, REGISTRY_EINTEGRITY, "relay %s served a feed of %s "
			    "that fails verification: %s", via, region, why);
		}
		return stop_mirror(txn, db, region, &st, now_ms, res);
	}
	if (rc != REGISTRY_OK)
		return rc;
	for (size_t i = first; i < n; i++)
		if ((rc = store_entry(txn, db, region, entries[i], res)) != REGISTRY_OK)
			return rc;
	if (first < n) {
		st.seq = entries[n - 1]->seq;
		memcpy(st.hash, entries[n - 1]->hash.data, REGISTRY_HASH_LEN);
		st.changed_ms = now_ms;
		if ((rc = state_put(txn, db, region, &st, res)) != REGISTRY_OK ||
		    (rc = store_head(txn, db, region, head, res)) != REGISTRY_OK)
			return rc;
	}
	res->feed_seq = st.seq;
	return REGISTRY_OK;
}

/* --- relaying: what this node serves of a region it mirrors -------------------------- */

/* The first head held of region at or after seq; REGISTRY_ENOTFOUND if none. */
static int
head_from(MDB_txn *txn, const struct registry_db *db, const char *region,
    uint64_t seq, Axle__V1__SignedHead **out, struct registry_outcome *res)
{
	uint8_t key[ADDR_MAX_LEN + 9];
	size_t kl = entry_key(key, region, seq), rl = strlen(region);
	MDB_val k = { kl, key }, v;
	MDB_cursor *c;
	char why[160];
	int rc;

	*out = NULL;
	if ((rc = mdb_cursor_open(txn, db->mirror_heads, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.mirror_heads");
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size != kl || memcmp(k.mv_data, key, rl + 1) != 0))
		rc = MDB_NOTFOUND;	/* past region's key range */
	if (rc == 0 && (*out = PB_UNPACK(Axle__V1__SignedHead, axle__v1__signed_head,
	    v.mv_data, v.mv_size, REGISTRY_RECORD_MAX, why, sizeof(why))) == NULL)
		rc = FAIL(res, REGISTRY_EINTEGRITY, "stored head of %s does not "
		    "unpack: %s", region, why);
	else if (rc == MDB_NOTFOUND)
		rc = REGISTRY_ENOTFOUND;
	else if (rc != 0)
		rc = registry_db_store_fail(res, rc, "read reg.mirror_heads");
	mdb_cursor_close(c);
	return rc;
}

/* Entries of region's mirror from..to, in order; *n of them into *out (malloc'd). */
static int
entries_range(MDB_txn *txn, const struct registry_db *db, const char *region,
    uint64_t from, uint64_t to, Axle__V1__FeedEntry ***out, size_t *n,
    struct registry_outcome *res)
{
	size_t want = (size_t)(to - from + 1), cnt = 0;
	Axle__V1__FeedEntry **arr = calloc(want, sizeof(*arr));
	int rc = REGISTRY_OK;

	if (arr == NULL)
		return FAIL(res, REGISTRY_ENOMEM, "out of memory");
	for (uint64_t seq = from; seq <= to && rc == REGISTRY_OK; seq++) {
		uint8_t key[ADDR_MAX_LEN + 9];
		MDB_val k = { entry_key(key, region, seq), key }, v;
		int mrc = mdb_get(txn, db->mirror, &k, &v);

		if (mrc == MDB_NOTFOUND)
			rc = FAIL(res, REGISTRY_EINTEGRITY, "entry %" PRIu64 " of %s "
			    "is not held although a head past it is", seq, region);
		else if (mrc != 0)
			rc = registry_db_store_fail(res, mrc, "read reg.mirror");
		else if ((rc = registry_db_unpack_entry(&v, &arr[cnt], res)) == REGISTRY_OK)
			cnt++;
	}
	if (rc != REGISTRY_OK) {
		registry_feed_entries_free(arr, cnt);
		return rc;
	}
	*out = arr;
	*n = cnt;
	return REGISTRY_OK;
}

int
registry_mirror_read(MDB_txn *txn, const struct registry_db *db,
    const char *region, uint64_t after, Axle__V1__FeedEntry ***out, size_t *n,
    Axle__V1__SignedHead **head, struct registry_outcome *res)
{
	struct registry_mirror_state st;
	Axle__V1__SignedHead *h = NULL;
	int rc;

	registry_outcome_reset(res);
	*out = NULL;
	*n = 0;
	*head = NULL;
	if ((rc = check_region(db, region, res)) != REGISTRY_OK ||
	    (rc = registry_mirror_state_get(txn, db, region, &st, res)) != REGISTRY_OK)
		return rc;
	if (st.seq == 0)
		return FAIL(res, REGISTRY_ENOTFOUND, "this node holds nothing of the "
		    "feed of %s", region);
	/* At or past what we hold: the newest head, nothing more. */
	rc = head_from(txn, db, region, after < st.seq ? after + 1 : st.seq, &h, res);
	if (rc == REGISTRY_ENOTFOUND || (rc == REGISTRY_OK && h->seq > st.seq)) {
		if (h != NULL)
			pb_free(&h->base);
		return FAIL(res, REGISTRY_ENOTFOUND, "this node holds no signed head "
		    "of %s at or after entry %" PRIu64 " (it mirrored that part before "
		    "it relayed feeds): reset its mirror of %s to relay it", region,
		    after + 1, region);
	}
	if (rc != REGISTRY_OK)
		return rc;
	if (after < h->seq && h->seq - after > REGISTRY_RELAY_SPAN_MAX) {
		uint64_t hs = h->seq;

		pb_free(&h->base);
		return FAIL(res, REGISTRY_EINTEGRITY, "%" PRIu64 " entries of %s "
		    "lie between entry %" PRIu64 " and the next signed head held "
		    "(entry %" PRIu64 "): more than one relayed answer may carry",
		    hs - after, region, after + 1, hs);
	}
	if (after < h->seq &&
	    (rc = entries_range(txn, db, region, after + 1, h->seq, out, n, res)) != REGISTRY_OK) {
		pb_free(&h->base);
		return rc;
	}
	*head = h;
	return REGISTRY_OK;
}

int
registry_mirror_regions(MDB_txn *txn, const struct registry_db *db,
    size_t max, void (*fn)(void *arg, const char *region,
    const struct registry_mirror_state *st), void *arg,
    struct registry_outcome *res)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t cnt = 0;
	int rc;

	registry_outcome_reset(res);
	if ((rc = mdb_cursor_open(txn, db->mirror_state, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.mirror_state");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && cnt < max;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char region[ADDR_MAX_LEN + 1];
		struct registry_mirror_state st;

		if (k.mv_size == 0 || k.mv_size > ADDR_MAX_LEN)
			continue;
		memcpy(region, k.mv_data, k.mv_size);
		region[k.mv_size] = '\0';
		if (registry_mirror_state_get(txn, db, region, &st, res) != REGISTRY_OK)
			continue;
		fn(arg, region, &st);
		cnt++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return registry_db_store_fail(res, rc, "read reg.mirror_state");
	return REGISTRY_OK;
}

/* Deletes every key of dbi that starts with prefix[0..len). */
static int
delete_range(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t len,
    struct registry_outcome *res)
{
	MDB_cursor *c;
	MDB_val k = { len, (void *)(uintptr_t)prefix }, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor");
	/* Re-seek after each delete: a cursor's position after mdb_cursor_del is subtle. */
	for (;;) {
		k.mv_size = len;
		k.mv_data = (void *)(uintptr_t)prefix;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size < len || memcmp(k.mv_data, prefix, len) != 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return registry_db_store_fail(res, rc, "delete a mirror");
	return REGISTRY_OK;
}

int
registry_mirror_reset(MDB_txn *txn, const struct registry_db *db,
    const char *region, struct registry_outcome *res)
{
	char key[ADDR_MAX_LEN + 1];
	size_t rl;
	MDB_val k;
	int rc;

	registry_outcome_reset(res);
	if ((rc = check_region(db, region, res)) != REGISTRY_OK)
		return rc;
	rl = strlen(region);
	memcpy(key, region, rl + 1);	/* the NUL ends the region in both key spaces */
	if ((rc = delete_range(txn, db->mirror, key, rl + 1, res)) != REGISTRY_OK ||
	    (rc = delete_range(txn, db->mirror_heads, key, rl + 1, res)) != REGISTRY_OK ||
	    (rc = delete_range(txn, db->registrars, key, rl + 1, res)) != REGISTRY_OK)
		return rc;
	k.mv_data = key;
	k.mv_size = rl;
	rc = mdb_del(txn, db->mirror_state, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? REGISTRY_OK :
	    registry_db_store_fail(res, rc, "delete reg.mirror_state");
}
