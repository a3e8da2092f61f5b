/* db.h -- the register in LMDB: registrar records, delegations and the change feed, changed only through validated operations. */
#ifndef AXLE_REGISTRY_DB_H
#define AXLE_REGISTRY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/address.h"
#include "registry/error.h"
#include "registry/feed.h"
#include "registry/prefix_index.h"

/*
 * Named databases, all owned by registry/ (nothing else reads or writes
 * them):
 *   reg.registrars    region NUL id -> packed Registrar: this node's records
 *                     and the mirrored records of peers, one ordered key
 *                     space so that listing and discovery walk one cursor
 *                     and each region's records are one key range.
 *   reg.prefixes      prefix -> registrar id: this node's delegations (the
 *                     overlap rules read it inside the writing transaction).
 *   reg.feed          seq (8 bytes big-endian) -> packed FeedEntry: this
 *                     node's change feed. The feed IS the audit trail of the
 *                     register (who, when, what, the record after the
 *                     change, chained and signed): there is no separate
 *                     audit database, and every operation below writes its
 *                     change and its feed entry in the caller's transaction.
 *   reg.mirror        region NUL seq (8 bytes BE) -> packed FeedEntry:
 *                     peers' feeds as received and verified.
 *   reg.mirror_state  region -> last seq, last hash, ok/broken + reason.
 *   reg.mirror_heads  region NUL seq (8 bytes BE) -> packed SignedHead: the
 *                     origin's signed head at the end of each batch applied
 *                     to the mirror (with the origin's certificate chain),
 *                     what lets this node relay the feed to others.
 * The environment must allow REGISTRY_DB_COUNT more named databases
 * (mdb_env_set_maxdbs).
 */
#define REGISTRY_DB_COUNT	6
#define REGISTRY_RECORD_MAX	(1u << 20)	/* largest record or entry unpacked */

struct registry_db {
	MDB_dbi registrars, prefixes, feed, mirror, mirror_state, mirror_heads;
	char region[ADDR_MAX_LEN + 1];		/* this node's region */
};

/* Who makes a change, and when: recorded in the feed entry. */
struct registry_change {
	const char *actor;	/* identity URI, e.g. "axle://fame-uk/admin/uk.london/jsmith" */
	int64_t at_ms;		/* time of the change, ms since the epoch */
};

/* What an operation did, or why it did not. */
struct registry_outcome {
	uint64_t feed_seq;			/* last feed entry written (0: none) */
	int mdb_rc;				/* the LMDB code behind REGISTRY_ESTORE */
	char reason[REGISTRY_REASON_MAX];	/* for a person; "" on success */
};

/*
 * Opens (creating) the named databases in txn, a write transaction, for the
 * node of region (a parsed address). The handles stay valid for the
 * environment's life once txn commits. Returns REGISTRY_OK, REGISTRY_EINVAL
 * (bad region) or REGISTRY_ESTORE (res->mdb_rc: e.g. MDB_DBS_FULL).
 */
int registry_db_open(MDB_txn *txn, const char *region, struct registry_db *out,
    struct registry_outcome *res);

/*
 * --- Changes ---------------------------------------------------------------
 * Each validates with the pure rules (address grammar, registry_delegate_check,
 * registry_transition_check, registry_version_check, registry_rehome_check),
 * then writes the record(s) AND the feed entry (entries) in txn. Returns
 * REGISTRY_OK (res->feed_seq: the entry written) or a negative code with
 * res->reason. On any error the caller aborts txn (it may hold part of a
 * change). On success, *out (if out is not NULL) is the record after the
 * change, the caller's to pb_free; the caller commits txn, then brings its
 * index up to date with registry_index_apply(idx, *out).
 * expected_version: REGISTRY_ANY_VERSION (0) or the version the caller read
 * (REGISTRY_ECONFLICT on mismatch).
 */

/*
 * Delegates req->prefix to req->registrar_id. A new registrar is created
 * PENDING, version 1, and needs display_name and cert_identity (contacts
 * optional); for an existing one those fields are ignored, it must not be
 * revoked (REGISTRY_EPRECOND) and expected_version is checked. Errors:
 * REGISTRY_EINVAL (bad id, bad prefix naming its label, missing name),
 * REGISTRY_EPERM (outside this node's region), REGISTRY_EEXIST (overlap,
 * naming the holder and prefix), REGISTRY_EPRECOND, REGISTRY_ECONFLICT,
 * REGISTRY_ESTORE, REGISTRY_ENOMEM. Feed: FEED_CHANGE_DELEGATED.
 */
int registry_db_delegate(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__DelegateRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Changes a registrar's standing (req->reason required, recorded as
 * status_reason and in the feed; req->expected_version checked).
 * Errors: REGISTRY_EINVAL, REGISTRY_ENOTFOUND, REGISTRY_ECONFLICT,
 * REGISTRY_EPRECOND (illegal transition), REGISTRY_ESTORE, REGISTRY_ENOMEM.
 * Feed: FEED_CHANGE_STATUS.
 */
int registry_db_set_status(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__SetStatusRequest *req,
    Axle__V1__Registrar **out, struct registry_outcome *res);

/*
 * Moves req->prefixes (empty: all) of the revoked registrar
 * req->from_registrar_id to the active req->to_registrar_id in one step:
 * reg.prefixes, both records (from's successor_id is set) and two feed
 * entries (FEED_CHANGE_REHOMED, from's then to's). req->reason required.
 * Errors: REGISTRY_EINVAL, REGISTRY_ENOTFOUND (registrar, or a prefix from
 * does not hold), REGISTRY_EPRECOND (from not revoked, to not active),
 * REGISTRY_ESTORE, REGISTRY_ENOMEM. *out_from / *out_to as *out above.
 */
int registry_db_rehome(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__ReHomeRequest *req,
    Axle__V1__Registrar **out_from, Axle__V1__Registrar **out_to,
    struct registry_outcome *res);

/*
 * Publishes req->service for req->registrar_id, replacing a service of the
 * same name. The service needs a name (1-200 bytes), a kind, and an address
 * (parsed and folded) inside one of the registrar's prefixes
 * (REGISTRY_EPERM otherwise: a member publishes only under its own
 * prefixes). Whether the caller may act for the registrar is the gateway's
 * decision. Errors: REGISTRY_EINVAL, REGISTRY_EPERM, REGISTRY_ENOTFOUND,
 * REGISTRY_EPRECOND (registrar revoked), REGISTRY_ECONFLICT,
 * REGISTRY_ESTORE, REGISTRY_ENOMEM. Feed: FEED_CHANGE_SERVICE_PUBLISHED.
 */
/*
 * Publishes or updates the node record of region (registry/node_record.h):
 * registrar "node.<region>" holding the prefix region (the delegation rules
 * apply: strictly under this node's region, overlapping nobody's),
 * certificate identity `identity`, ACTIVE, one service "axle" of kind NODE
 * with endpoint ("" : reached through the tree only). One feed entry
 * (DELEGATED when new, SERVICE_PUBLISHED after). Errors: REGISTRY_EINVAL,
 * REGISTRY_EPERM, REGISTRY_EEXIST (overlap, or "node.<region>" is another
 * kind of registrar), REGISTRY_EPRECOND (revoked), REGISTRY_ESTORE,
 * REGISTRY_ENOMEM.
 */
int registry_db_publish_node(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *region, const char *identity,
    const char *endpoint, const char *display_name, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Splitting a region (docs/operator.md "Splitting a region"): req->region,
 * strictly under this node's region, goes to a child node. In one write:
 * the node record of the region (as registry_db_publish_node, identity and
 * endpoint as there; the registrars under it are no conflict since they
 * move), then every registrar of this register holding a prefix under the
 * region gets moved_to = region (one FEED_CHANGE_MOVED entry each, detail
 * "moved to region R: reason"). Its prefixes stay in reg.prefixes (nobody
 * else here may take them) and its record stays, so that every node
 * resolves them to the region from this feed alone and an older node sends
 * their traffic here, to be passed down. Such a registrar must hold nothing
 * outside the region, must not be a node record, nor moved elsewhere
 * already (REGISTRY_EPRECOND naming it); at most REGISTRY_SPLIT_MAX move
 * at once. dry_run: writes nothing; out->moved lists who would move (as
 * they are), out->node is NULL. A reason is required unless dry_run.
 * Errors as publish_node, and REGISTRY_EPRECOND. On success *out is the
 * caller's to registry_split_free; on error it is empty.
 */
#define REGISTRY_SPLIT_MAX	1024

struct registry_split_req {
	const char *region;
	const char *identity;		/* axle://<fed>/node/<region> */
	const char *endpoint;		/* "host:port" or "" */
	const char *display_name;	/* NULL or "": "node <region>" */
	const char *reason;
	bool dry_run;
};

struct registry_split {
	Axle__V1__Registrar *node;	/* the node record after the change */
	Axle__V1__Registrar **moved;	/* the registrars moved (after the change) */
	size_t n_moved;
};

int registry_db_split(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const struct registry_split_req *req,
    struct registry_split *out, struct registry_outcome *res);
void registry_split_free(struct registry_split *s);

int registry_db_publish_service(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__PublishServiceRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Withdraws the service req->name of req->registrar_id. Errors:
 * REGISTRY_EINVAL, REGISTRY_ENOTFOUND (registrar or service),
 * REGISTRY_ECONFLICT, REGISTRY_ESTORE, REGISTRY_ENOMEM. Feed:
 * FEED_CHANGE_SERVICE_WITHDRAWN (detail: name and reason).
 */
int registry_db_withdraw_service(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__WithdrawServiceRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Sets (replaces) the traffic policy of this node's registrar
 * req->registrar_id; an unset or empty policy clears it. req->reason is
 * required. Errors: REGISTRY_EINVAL (id, policy: registry_policy_check, no
 * reason), REGISTRY_ENOTFOUND, REGISTRY_ESTORE, REGISTRY_ENOMEM. Feed:
 * FEED_CHANGE_POLICY_SET (detail: the policy in words, then the reason).
 */
int registry_db_set_policy(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__SetPolicyRequest *req,
    Axle__V1__Registrar **out, struct registry_outcome *res);

/*
 * --- Reading ---------------------------------------------------------------
 */

/*
 * Gets registrar id of region (NULL: this node's). *out is the caller's to
 * pb_free. Returns REGISTRY_OK, REGISTRY_ENOTFOUND, REGISTRY_EINTEGRITY (a
 * stored record does not unpack), REGISTRY_ESTORE.
 */
int registry_db_get(MDB_txn *txn, const struct registry_db *db,
    const char *region, const char *id, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Calls fn for each record (local and mirrored) in key order (region, id),
 * starting at (from_region, from_id) inclusive when from_region is not NULL
 * (from_id NULL or "": the region's first record). r is valid only during
 * the call. fn returns 0 to go on, > 0 to stop (the walk returns
 * REGISTRY_OK), < 0 to stop with that code. Returns REGISTRY_OK, fn's code,
 * REGISTRY_EINTEGRITY (a record that does not unpack) or REGISTRY_ESTORE.
 */
typedef int (*registry_walk_fn)(const Axle__V1__Registrar *r, void *arg);
int registry_db_walk(MDB_txn *txn, const struct registry_db *db,
    const char *from_region, const char *from_id, registry_walk_fn fn,
    void *arg, struct registry_outcome *res);

/*
 * This node's feed head: *seq of the last entry (0: empty feed) and its
 * hash (32 zero bytes for an empty feed). Returns REGISTRY_OK,
 * REGISTRY_EINTEGRITY, REGISTRY_ESTORE.
 */
int registry_db_head(MDB_txn *txn, const struct registry_db *db, uint64_t *seq,
    uint8_t hash[REGISTRY_HASH_LEN], struct registry_outcome *res);

/*
 * Reads up to limit entries of this node's feed with seq > after, in order,
 * for a peer that mirrors it. *out is a malloc'd array of *n entries (each
 * from pb_unpack), freed with registry_feed_entries_free; *out is NULL when
 * *n is 0. Returns REGISTRY_OK, REGISTRY_ENOMEM, REGISTRY_EINTEGRITY,
 * REGISTRY_ESTORE.
 */
int registry_db_feed_read(MDB_txn *txn, const struct registry_db *db,
    uint64_t after, size_t limit, Axle__V1__FeedEntry ***out, size_t *n,
    struct registry_outcome *res);
void registry_feed_entries_free(Axle__V1__FeedEntry **entries, size_t n);

/*
 * Signs the head of this node's feed as it is at entry seq (0: the last
 * entry; a peer is sent a head at the last entry of each batch it gets):
 * fills head->region (pointing at db->region), seq, hash (malloc'd),
 * signature (malloc'd), algorithm, signed_ms = now_ms and key_identity
 * (pointing at the caller's string, may be NULL). Free the malloc'd parts
 * with registry_signed_head_clear. Returns REGISTRY_OK, REGISTRY_ENOTFOUND
 * (no such entry), REGISTRY_EINVAL (key), REGISTRY_ESTORE, REGISTRY_ENOMEM.
 */
int registry_db_sign_head(MDB_txn *txn, const struct registry_db *db,
    uint64_t seq, EVP_PKEY *key, const char *key_identity, int64_t now_ms,
    Axle__V1__SignedHead *head, struct registry_outcome *res);
void registry_signed_head_clear(Axle__V1__SignedHead *head);

/*
 * Builds idx from the register: this node's region (OWN_REGION), its
 * records, then every mirrored region's records (a mirrored prefix that
 * clashes with one already loaded is skipped and counted in *skipped, may
 * be NULL). Peer region prefixes come from configuration: the caller adds
 * them (registry_index_add_region). idx should be new. Returns REGISTRY_OK,
 * REGISTRY_ENOMEM, REGISTRY_EINTEGRITY, REGISTRY_ESTORE.
 */
int registry_index_load(MDB_txn *txn, const struct registry_db *db,
    struct registry_index *idx, size_t *skipped, struct registry_outcome *res);

#endif
