/* mirror.h -- read-only mirrors of peers' registers, applied only from verified, signed feed batches. */
#ifndef AXLE_REGISTRY_MIRROR_H
#define AXLE_REGISTRY_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/db.h"

/* Where a peer's mirror stands (reg.mirror_state). */
struct registry_mirror_state {
	uint64_t seq;				/* last entry applied (0: none yet) */
	uint8_t hash[REGISTRY_HASH_LEN];	/* its hash (zeros when seq is 0) */
	bool broken;				/* stopped: nothing more is applied */
	int64_t changed_ms;			/* when last applied / when it broke */
	char reason[REGISTRY_REASON_MAX];	/* why it broke ("" when not) */
};

/*
 * Reads the state of region's mirror; a region never mirrored reads as
 * seq 0, not broken. Returns REGISTRY_OK, REGISTRY_EINTEGRITY (a state
 * record of the wrong size) or REGISTRY_ESTORE.
 */
int registry_mirror_state_get(MDB_txn *txn, const struct registry_db *db,
    const char *region, struct registry_mirror_state *st,
    struct registry_outcome *res);

/*
 * Applies a batch of region's feed, fetched from its node after the
 * mirror's last seq (registry_mirror_state_get), with head signed by that
 * node (registry_db_sign_head at the batch's last entry) and checked with
 * peer_pub, the public key of the node's certificate.
 *
 * Checks, before writing anything: region is a parsed address other than
 * this node's (REGISTRY_EINVAL / REGISTRY_EPERM); the mirror is not broken
 * (REGISTRY_EPRECOND); the head is region's and its signature verifies;
 * entries already held (seq <= last) are identical to what is held and are
 * skipped (a resent batch is harmless); the rest chain on from the last
 * held entry (registry_feed_verify); every entry is of region and carries a
 * record of region whose prefixes all lie inside region (a node publishes
 * only its own region); the head is at the last entry (or, with nothing
 * new, at or beyond the last held seq, with the same hash if at it).
 *
 * Any of those failing marks the mirror broken in txn (state only: no entry
 * or record is applied) and returns REGISTRY_EINTEGRITY with the reason:
 * COMMIT txn then, to record it. Otherwise stores the new entries
 * (reg.mirror), their records (reg.registrars) and the new state, returns
 * REGISTRY_OK and sets res->feed_seq to the last seq now held; the caller
 * commits and applies each entry's record to its index
 * (registry_index_apply). On other errors (REGISTRY_ESTORE, REGISTRY_ENOMEM)
 * abort txn.
 */
int registry_mirror_apply(MDB_txn *txn, const struct registry_db *db,
    const char *region, const Axle__V1__FeedEntry *const *entries, size_t n,
    const Axle__V1__SignedHead *head, EVP_PKEY *peer_pub, int64_t now_ms,
    struct registry_outcome *res);

/*
 * registry_mirror_apply for a feed that may have come through relays: via
 * is the peer that served it (NULL or region itself: the origin served it),
 * origin_pub the origin node's key (from the certificate chain the head
 * carries, verified by the caller, or from the origin's own link). A batch
 * that fails verification stops the mirror with a reason that names via:
 * "relay <via> served a feed of <region> that fails verification: ...".
 * Also keeps the head (reg.mirror_heads) at the end of every batch that
 * brought new entries: registry_mirror_read serves it on.
 */
int registry_mirror_apply_via(MDB_txn *txn, const struct registry_db *db,
    const char *region, const char *via, const Axle__V1__FeedEntry *const *entries,
    size_t n, const Axle__V1__SignedHead *head, EVP_PKEY *origin_pub,
    int64_t now_ms, struct registry_outcome *res);

/* Most entries between two heads held that one relayed answer carries. */
#define REGISTRY_RELAY_SPAN_MAX	4096

/*
 * What this node relays of region's feed to a node that holds it up to
 * entry after: the entries after it up to the first head held at or past
 * after+1, and that head as its origin signed it (so the receiver verifies
 * the origin's signature, never this node's word). At or past the last
 * entry held: no entries and the newest head. *out (freed with
 * registry_feed_entries_free) and *head (pb_free) are the caller's. Returns
 * REGISTRY_OK, REGISTRY_ENOTFOUND (nothing of region held, or only entries
 * mirrored before heads were kept: reason says to reset the mirror),
 * REGISTRY_EINVAL, REGISTRY_EPERM (own region), REGISTRY_EINTEGRITY,
 * REGISTRY_ENOMEM, REGISTRY_ESTORE.
 */
int registry_mirror_read(MDB_txn *txn, const struct registry_db *db,
    const char *region, uint64_t after, Axle__V1__FeedEntry ***out, size_t *n,
    Axle__V1__SignedHead **head, struct registry_outcome *res);

/*
 * Calls fn for each region with a mirror state (at most max of them), in
 * key order. For start-up only: it walks reg.mirror_state. Returns
 * REGISTRY_OK or REGISTRY_ESTORE.
 */
int registry_mirror_regions(MDB_txn *txn, const struct registry_db *db,
    size_t max, void (*fn)(void *arg, const char *region,
    const struct registry_mirror_state *st), void *arg,
    struct registry_outcome *res);

/*
 * Forgets everything mirrored of region (entries, records, state), so that
 * an operator can restart a broken mirror from seq 0. Returns REGISTRY_OK or
 * REGISTRY_ESTORE.
 */
int registry_mirror_reset(MDB_txn *txn, const struct registry_db *db,
    const char *region, struct registry_outcome *res);

#endif
