/* db_priv.h -- storage primitives shared by db.c, db_change.c, mirror.c and portal.c; not for use outside registry/. */
#ifndef AXLE_REGISTRY_DB_PRIV_H
#define AXLE_REGISTRY_DB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "registry/db.h"
#include "registry/registrar.h"

/* Key "region NUL id" of a record; buf needs REGISTRY_RECORD_KEY_MAX bytes. */
#define REGISTRY_RECORD_KEY_MAX	(ADDR_MAX_LEN + 1 + 129)
size_t registry_record_key(char *buf, const char *region, const char *id);

/* Records REGISTRY_ESTORE with the MDB code and what failed; returns REGISTRY_ESTORE. */
int registry_db_store_fail(struct registry_outcome *res, int mdb_rc, const char *what);

/* Clears res for a new operation (res may not be NULL inside registry/). */
void registry_outcome_reset(struct registry_outcome *res);

/* Packs r and puts it at its (region, id) key. */
int registry_db_put_record(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__Registrar *r, struct registry_outcome *res);

/*
 * Appends an entry for the record r after a change to this node's feed:
 * seq = head + 1, chained to the head's hash. Sets res->feed_seq.
 */
int registry_db_feed_append(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, Axle__V1__FeedChange change,
    const Axle__V1__Registrar *r, const char *detail,
    struct registry_outcome *res);

/* Stamps a change on a record about to be written: version + 1, updated_ms. */
void registry_db_bump(Axle__V1__Registrar *r, const struct registry_change *ch);

/*
 * Writes r and its feed entry; on success hands a copy of r to *out (if out
 * is not NULL), the caller's to pb_free.
 */
int registry_db_commit_record(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, Axle__V1__FeedChange change,
    const Axle__V1__Registrar *r, const char *detail,
    Axle__V1__Registrar **out, struct registry_outcome *res);

/*
 * Gets this node's registrar id, with the id checked first (*out NULL on
 * error); one that moved to a split-off region is refused (REGISTRY_EPRECOND):
 * it is changed at that region's node.
 */
int registry_db_get_local(MDB_txn *txn, const struct registry_db *db, const char *id,
    Axle__V1__Registrar **out, struct registry_outcome *res);

/*
 * registry_db_publish_node; split: the registrars under the region are
 * moved in the same write (registry_db_split), so they are no conflict.
 */
int registry_db_publish_node_split(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *region, const char *identity,
    const char *endpoint, const char *display_name, bool split,
    Axle__V1__Registrar **out, struct registry_outcome *res);

/* Unpacks a stored FeedEntry (REGISTRY_EINTEGRITY if it does not unpack). */
int registry_db_unpack_entry(const MDB_val *v, Axle__V1__FeedEntry **out,
    struct registry_outcome *res);

/* Big-endian 8-byte seq keys. */
void registry_be64_put(uint8_t b[8], uint64_t v);
uint64_t registry_be64_get(const uint8_t b[8]);

#endif
