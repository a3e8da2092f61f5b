/* db.c -- the register's named LMDB databases: opening, records, the feed's storage, reads and index loading. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/db_priv.h"
#include "registry/registrar.h"

/* --- helpers shared inside registry/ ------------------------------------------------ */

void
registry_be64_put(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

uint64_t
registry_be64_get(const uint8_t b[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

size_t
registry_record_key(char *buf, const char *region, const char *id)
{
	size_t rl = strlen(region), il = strlen(id);

	if (rl > ADDR_MAX_LEN)
		rl = ADDR_MAX_LEN;
	if (il > 128)
		il = 128;
	memcpy(buf, region, rl);
	buf[rl] = '\0';
	memcpy(buf + rl + 1, id, il);
	return rl + 1 + il;
}

void
registry_outcome_reset(struct registry_outcome *res)
{
	res->feed_seq = 0;
	res->mdb_rc = 0;
	res->reason[0] = '\0';
}

int
registry_db_store_fail(struct registry_outcome *res, int mdb_rc, const char *what)
{
	res->mdb_rc = mdb_rc;
	return registry_fail(REGISTRY_ESTORE, res->reason, sizeof(res->reason),
	    "cannot %s: %s", what, mdb_strerror(mdb_rc));
}

int
registry_db_put_record(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__Registrar *r, struct registry_outcome *res)
{
	char key[REGISTRY_RECORD_KEY_MAX];
	MDB_val k, v;
	size_t n;
	uint8_t *buf = pb_pack(&r->base, 0, &n);
	int rc;

	if (buf == NULL)
		return registry_fail(REGISTRY_ENOMEM, res->reason, sizeof(res->reason),
		    "out of memory packing registrar %s", r->id);
	k.mv_data = key;
	k.mv_size = registry_record_key(key, r->region, r->id);
	v.mv_data = buf;
	v.mv_size = n;
	rc = mdb_put(txn, db->registrars, &k, &v, 0);
	free(buf);
	return rc == 0 ? REGISTRY_OK : registry_db_store_fail(res, rc, "write reg.registrars");
}

int
registry_db_unpack_entry(const MDB_val *v, Axle__V1__FeedEntry **out,
    struct registry_outcome *res)
{
	char why[160];

	*out = PB_UNPACK(Axle__V1__FeedEntry, axle__v1__feed_entry, v->mv_data,
	    v->mv_size, REGISTRY_RECORD_MAX, why, sizeof(why));
	if (*out == NULL)
		return registry_fail(REGISTRY_EINTEGRITY, res->reason,
		    sizeof(res->reason), "stored feed entry does not unpack: %s", why);
	return REGISTRY_OK;
}

/* Unpacks a stored record. */
static int
unpack_record(const MDB_val *v, Axle__V1__Registrar **out, struct registry_outcome *res)
{
	char why[160];

	*out = PB_UNPACK(Axle__V1__Registrar, axle__v1__registrar, v->mv_data,
	    v->mv_size, REGISTRY_RECORD_MAX, why, sizeof(why));
	if (*out == NULL)
		return registry_fail(REGISTRY_EINTEGRITY, res->reason,
		    sizeof(res->reason), "stored registrar does not unpack: %s", why);
	return REGISTRY_OK;
}

/* --- opening ----------------------------------------------------------------------------- */

int
registry_db_open(MDB_txn *txn, const char *region, struct registry_db *out,
    struct registry_outcome *res)
{
	static const struct { const char *name; size_t off; } dbs[] = {
		{ "reg.registrars", offsetof(struct registry_db, registrars) },
		{ "reg.prefixes", offsetof(struct registry_db, prefixes) },
		{ "reg.feed", offsetof(struct registry_db, feed) },
		{ "reg.mirror", offsetof(struct registry_db, mirror) },
		{ "reg.mirror_state", offsetof(struct registry_db, mirror_state) },
		{ "reg.mirror_heads", offsetof(struct registry_db, mirror_heads) },
	};
	char why[REGISTRY_REASON_MAX];

	registry_outcome_reset(res);
	memset(out, 0, sizeof(*out));
	if (region == NULL ||
	    registry_address_parse(region, strlen(region), out->region, why, sizeof(why)) != 0)
		return registry_fail(REGISTRY_EINVAL, res->reason, sizeof(res->reason),
		    "region: %s", region == NULL ? "missing" : why);
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_dbi *dbi = (MDB_dbi *)((char *)out + dbs[i].off);
		int rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbi);

		if (rc != 0) {
			snprintf(why, sizeof(why), "open %s", dbs[i].name);
			return registry_db_store_fail(res, rc, why);
		}
	}
	return REGISTRY_OK;
}

/* --- reading -------------------------------------------------------------------------------- */

int
registry_db_get(MDB_txn *txn, const struct registry_db *db, const char *region,
    const char *id, Axle__V1__Registrar **out, struct registry_outcome *res)
{
	char key[REGISTRY_RECORD_KEY_MAX];
	MDB_val k, v;
	int rc;

	*out = NULL;
	if (region == NULL)
		region = db->region;
	k.mv_data = key;
	k.mv_size = registry_record_key(key, region, id);
	if ((rc = mdb_get(txn, db->registrars, &k, &v)) == MDB_NOTFOUND)
		return registry_fail(REGISTRY_ENOTFOUND, res->reason, sizeof(res->reason),
		    "no registrar %s in the register of %s", id, region);
	if (rc != 0)
		return registry_db_store_fail(res, rc, "read reg.registrars");
	return unpack_record(&v, out, res);
}

int
registry_db_walk(MDB_txn *txn, const struct registry_db *db,
    const char *from_region, const char *from_id, registry_walk_fn fn,
    void *arg, struct registry_outcome *res)
{
	char key[REGISTRY_RECORD_KEY_MAX];
	MDB_cursor *c;
	MDB_val k = { 0, NULL }, v;
	MDB_cursor_op op = MDB_FIRST;
	int rc, frc = 0;

	if ((rc = mdb_cursor_open(txn, db->registrars, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.registrars");
	if (from_region != NULL) {
		k.mv_data = key;
		k.mv_size = registry_record_key(key, from_region,
		    from_id != NULL ? from_id : "");
		op = MDB_SET_RANGE;
	}
	for (rc = mdb_cursor_get(c, &k, &v, op); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Axle__V1__Registrar *r;

		if ((frc = unpack_record(&v, &r, res)) != REGISTRY_OK)
			break;
		frc = fn(r, arg);
		pb_free(&r->base);
		if (frc != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return registry_db_store_fail(res, rc, "read reg.registrars");
	return frc < 0 ? frc : REGISTRY_OK;
}

/* The stored entry seq of this node's feed (seq 0: the last one). */
static int
feed_entry_at(MDB_txn *txn, const struct registry_db *db, uint64_t seq,
    Axle__V1__FeedEntry **out, struct registry_outcome *res)
{
	uint8_t kb[8];
	MDB_cursor *c;
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	*out = NULL;
	registry_be64_put(kb, seq);
	if ((rc = mdb_cursor_open(txn, db->feed, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.feed");
	rc = mdb_cursor_get(c, &k, &v, seq == 0 ? MDB_LAST : MDB_SET_KEY);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return REGISTRY_ENOTFOUND;
	if (rc != 0)
		return registry_db_store_fail(res, rc, "read reg.feed");
	return registry_db_unpack_entry(&v, out, res);
}

int
registry_db_head(MDB_txn *txn, const struct registry_db *db, uint64_t *seq,
    uint8_t hash[REGISTRY_HASH_LEN], struct registry_outcome *res)
{
	Axle__V1__FeedEntry *e;
	int rc = feed_entry_at(txn, db, 0, &e, res);

	*seq = 0;
	memset(hash, 0, REGISTRY_HASH_LEN);
	if (rc == REGISTRY_ENOTFOUND)
		return REGISTRY_OK;
	if (rc != REGISTRY_OK)
		return rc;
	if (e->hash.len != REGISTRY_HASH_LEN) {
		pb_free(&e->base);
		return registry_fail(REGISTRY_EINTEGRITY, res->reason,
		    sizeof(res->reason), "last feed entry has no hash");
	}
	*seq = e->seq;
	memcpy(hash, e->hash.data, REGISTRY_HASH_LEN);
	pb_free(&e->base);
	return REGISTRY_OK;
}

int
registry_db_feed_append(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, Axle__V1__FeedChange change,
    const Axle__V1__Registrar *r, const char *detail,
    struct registry_outcome *res)
{
	Axle__V1__FeedEntry e = AXLE__V1__FEED_ENTRY__INIT;
	uint8_t prev[REGISTRY_HASH_LEN], hash[REGISTRY_HASH_LEN], kb[8], *buf;
	uint64_t seq;
	MDB_val k = { sizeof(kb), kb }, v;
	size_t n;
	int rc;

	if ((rc = registry_db_head(txn, db, &seq, prev, res)) != REGISTRY_OK)
		return rc;
	e.seq = seq + 1;
	e.prev_hash.data = prev;
	e.prev_hash.len = sizeof(prev);
	e.at_ms = ch->at_ms;
	e.actor = (char *)(ch->actor != NULL ? ch->actor : "");
	e.change = change;
	e.registrar = (Axle__V1__Registrar *)r;
	e.region = (char *)db->region;
	e.detail = (char *)(detail != NULL ? detail : "");
	if ((rc = registry_feed_hash(&e, hash)) != REGISTRY_OK)
		return registry_fail(rc, res->reason, sizeof(res->reason),
		    "cannot hash feed entry %" PRIu64, e.seq);
	e.hash.data = hash;
	e.hash.len = sizeof(hash);
	if ((buf = pb_pack(&e.base, 0, &n)) == NULL)
		return registry_fail(REGISTRY_ENOMEM, res->reason, sizeof(res->reason),
		    "out of memory packing feed entry %" PRIu64, e.seq);
	registry_be64_put(kb, e.seq);
	v.mv_data = buf;
	v.mv_size = n;
	rc = mdb_put(txn, db->feed, &k, &v, MDB_APPEND);
	free(buf);
	if (rc != 0)
		return registry_db_store_fail(res, rc, "append to reg.feed");
	res->feed_seq = e.seq;
	return REGISTRY_OK;
}

void
registry_feed_entries_free(Axle__V1__FeedEntry **entries, size_t n)
{
	if (entries == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		pb_free(&entries[i]->base);
	free(entries);
}

int
registry_db_feed_read(MDB_txn *txn, const struct registry_db *db,
    uint64_t after, size_t limit, Axle__V1__FeedEntry ***out, size_t *n,
    struct registry_outcome *res)
{
	uint8_t kb[8];
	MDB_val k = { sizeof(kb), kb }, v;
	MDB_cursor *c;
	Axle__V1__FeedEntry **arr = NULL;
	size_t cnt = 0;
	int rc, err = REGISTRY_OK;

	*out = NULL;
	*n = 0;
	if (limit == 0)
		return REGISTRY_OK;
	if ((rc = mdb_cursor_open(txn, db->feed, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.feed");
	registry_be64_put(kb, after + 1);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && cnt < limit;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (cnt % 64 == 0) {
			Axle__V1__FeedEntry **na = realloc(arr, (cnt + 64) * sizeof(*na));

			if (na == NULL) {
				err = registry_fail(REGISTRY_ENOMEM, res->reason,
				    sizeof(res->reason), "out of memory");
				break;
			}
			arr = na;
		}
		if ((err = registry_db_unpack_entry(&v, &arr[cnt], res)) != REGISTRY_OK)
			break;
		cnt++;
	}
	mdb_cursor_close(c);
	if (err == REGISTRY_OK && rc != 0 && rc != MDB_NOTFOUND)
		err = registry_db_store_fail(res, rc, "read reg.feed");
	if (err != REGISTRY_OK) {
		registry_feed_entries_free(arr, cnt);
		return err;
	}
	if (cnt == 0)
		free(arr);
	else
		*out = arr;
	*n = cnt;
	return REGISTRY_OK;
}

int
registry_db_sign_head(MDB_txn *txn, const struct registry_db *db,
    uint64_t seq, EVP_PKEY *key, const char *key_identity, int64_t now_ms,
    Axle__V1__SignedHead *head, struct registry_outcome *res)
{
	Axle__V1__FeedEntry *e;
	int rc;

	axle__v1__signed_head__init(head);
	if ((rc = feed_entry_at(txn, db, seq, &e, res)) == REGISTRY_ENOTFOUND)
		return registry_fail(rc, res->reason, sizeof(res->reason),
		    "no feed entry %" PRIu64, seq);
	if (rc != REGISTRY_OK)
		return rc;
	head->region = (char *)db->region;
	head->seq = e->seq;
	head->signed_ms = now_ms;
	head->key_identity = (char *)(key_identity != NULL ? key_identity : "");
	if ((head->hash.data = malloc(REGISTRY_HASH_LEN)) == NULL) {
		pb_free(&e->base);
		return registry_fail(REGISTRY_ENOMEM, res->reason, sizeof(res->reason),
		    "out of memory");
	}
	head->hash.len = REGISTRY_HASH_LEN;
	memcpy(head->hash.data, e->hash.data,
	    e->hash.len == REGISTRY_HASH_LEN ? REGISTRY_HASH_LEN : 0);
	pb_free(&e->base);
	rc = registry_feed_sign_head(key, head, res->reason, sizeof(res->reason));
	if (rc != REGISTRY_OK)
		registry_signed_head_clear(head);
	return rc;
}

void
registry_signed_head_clear(Axle__V1__SignedHead *head)
{
	free(head->hash.data);
	free(head->signature.data);
	free(head->time_signature.data);
	head->hash.data = head->signature.data = head->time_signature.data = NULL;
	head->hash.len = head->signature.len = head->time_signature.len = 0;
}

/* --- index loading -------------------------------------------------------------------------- */

struct load_ctx {
	struct registry_index *idx;
	const char *region;	/* only this region (local pass), or */
	int skip_region;	/* every region but it (mirror pass) */
	size_t skipped;
	int rc;
};

static int
load_one(const Axle__V1__Registrar *r, void *arg)
{
	struct load_ctx *lc = arg;
	int same = strcmp(r->region, lc->region) == 0;
	int rc;

	if (same == lc->skip_region)
		return lc->skip_region ? 0 : 1;	/* local pass: past our range */
	rc = registry_index_apply(lc->idx, r);
	if (rc == REGISTRY_EEXIST || rc == REGISTRY_EINVAL) {
		lc->skipped++;
		return 0;
	}
	return rc;
}

int
registry_index_load(MDB_txn *txn, const struct registry_db *db,
    struct registry_index *idx, size_t *skipped, struct registry_outcome *res)
{
	struct load_ctx lc = { idx, db->region, 0, 0, 0 };
	int rc;

	registry_outcome_reset(res);
	if (registry_index_add_region(idx, db->region, REGISTRY_PREFIX_OWN_REGION) ==
	    REGISTRY_ENOMEM)
		return registry_fail(REGISTRY_ENOMEM, res->reason, sizeof(res->reason),
		    "out of memory");
	/* Local records first: a mirror never shadows what this node publishes. */
	rc = registry_db_walk(txn, db, db->region, "", load_one, &lc, res);
	if (rc == REGISTRY_OK) {
		lc.skip_region = 1;
		rc = registry_db_walk(txn, db, NULL, NULL, load_one, &lc, res);
	}
	if (rc == REGISTRY_ENOMEM)
		registry_fail(rc, res->reason, sizeof(res->reason), "out of memory");
	if (skipped != NULL)
		*skipped = lc.skipped;
	return rc;
}
