/* db_split.c -- splitting a sub-region off onto a child node: its node record and the registrars that move there, in one write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/db_priv.h"
#include "registry/node_record.h"
#include "registry/registrar.h"

#define FAIL(res, rc, ...) registry_fail((rc), (res)->reason, sizeof((res)->reason), __VA_ARGS__)

void
registry_split_free(struct registry_split *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_moved; i++)
		pb_free(&s->moved[i]->base);
	free(s->moved);
	pb_free(s->node != NULL ? &s->node->base : NULL);
	memset(s, 0, sizeof(*s));
}

/* Adds registrar id (of this register) to s->moved once, checked: every prefix under region. */
static int
split_take(MDB_txn *txn, const struct registry_db *db, const char *region,
    const char *id, struct registry_split *s, struct registry_outcome *res)
{
	Axle__V1__Registrar *r = NULL;
	int rc;

	for (size_t i = 0; i < s->n_moved; i++)
		if (strcmp(s->moved[i]->id, id) == 0)
			return REGISTRY_OK;
	if (s->n_moved == REGISTRY_SPLIT_MAX)
		return FAIL(res, REGISTRY_EPRECOND, "more than %d registrars hold "
		    "prefixes under %s: split a narrower region first",
		    REGISTRY_SPLIT_MAX, region);
	if ((rc = registry_db_get(txn, db, NULL, id, &r, res)) != REGISTRY_OK)
		return rc;
	if (r->moved_to != NULL && r->moved_to[0] != '\0' &&
	    strcmp(r->moved_to, region) != 0) {
		rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s moved to region %s "
		    "already", id, r->moved_to);
		goto fail;
	}
	if (registry_node_of(r, NULL)) {
		rc = FAIL(res, REGISTRY_EPRECOND, "%s is the node record of region %s, "
		    "under %s: withdraw it (or split %s from that region's parent "
		    "first)", id, r->prefixes[0], region, region);
		goto fail;
	}
	for (size_t i = 0; i < r->n_prefixes; i++) {
		const char *p = r->prefixes[i];

		if (!registry_address_covers(region, p) || strcmp(p, region) == 0) {
			rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s holds %s, which "
			    "is not strictly under %s: every prefix of a registrar moves "
			    "with it; re-home or withdraw %s first", id, p, region, p);
			goto fail;
		}
	}
	if (s->moved == NULL && (s->moved = calloc(REGISTRY_SPLIT_MAX,
	    sizeof(*s->moved))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto fail;
	}
	s->moved[s->n_moved++] = r;
	return REGISTRY_OK;
fail:
	pb_free(&r->base);
	return rc;
}

/* The registrars of this register holding prefixes under region: one cursor over reg.prefixes "region." on. */
static int
split_collect(MDB_txn *txn, const struct registry_db *db, const char *region,
    struct registry_split *s, struct registry_outcome *res)
{
	char start[ADDR_MAX_LEN + 2], id[REGISTRY_ID_MAX + 1];
	size_t n = strlen(region);
	MDB_val k = { n + 1, start }, v;
	MDB_cursor *c;
	int rc, lrc = REGISTRY_OK;

	memcpy(start, region, n);
	start[n] = '.';
	if ((rc = mdb_cursor_open(txn, db->prefixes, &c)) != 0)
		return registry_db_store_fail(res, rc, "open a cursor on reg.prefixes");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= n + 1 || memcmp(k.mv_data, start, n + 1) != 0)
			break;
		if (v.mv_size == 0 || v.mv_size > REGISTRY_ID_MAX) {
			lrc = FAIL(res, REGISTRY_EINTEGRITY, "reg.prefixes holds a "
			    "bad registrar id under %s", region);
			break;
		}
		memcpy(id, v.mv_data, v.mv_size);
		id[v.mv_size] = '\0';
		if ((lrc = split_take(txn, db, region, id, s, res)) != REGISTRY_OK)
			break;
	}
	mdb_cursor_close(c);
	if (lrc != REGISTRY_OK)
		return lrc;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return registry_db_store_fail(res, rc, "read reg.prefixes");
	return REGISTRY_OK;
}

int
registry_db_split(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const struct registry_split_req *req,
    struct registry_split *out, struct registry_outcome *res)
{
	char pfx[ADDR_MAX_LEN + 1], detail[REGISTRY_REASON_MAX + ADDR_MAX_LEN + 64];
	int rc;

	registry_outcome_reset(res);
	memset(out, 0, sizeof(*out));
	if (req->region == NULL || registry_address_parse(req->region,
	    strlen(req->region), pfx, res->reason, sizeof(res->reason)) != 0)
		return FAIL(res, REGISTRY_EINVAL, "region: %s", req->region == NULL ?
		    "missing" : res->reason);
	if (!req->dry_run && (req->reason == NULL || req->reason[0] == '\0'))
		return FAIL(res, REGISTRY_EINVAL, "a split needs a reason");
	if (!registry_address_covers(db->region, pfx) || strcmp(pfx, db->region) == 0)
		return FAIL(res, REGISTRY_EPERM, "%s is not strictly under this "
		    "node's region %s", pfx, db->region);
	if ((rc = split_collect(txn, db, pfx, out, res)) != REGISTRY_OK)
		goto fail;
	if (req->dry_run)
		return REGISTRY_OK;
	/* The node record first: a reader that sees a moved record can reach its region. */
	if ((rc = registry_db_publish_node_split(txn, db, ch, pfx, req->identity,
	    req->endpoint != NULL ? req->endpoint : "", req->display_name, true,
	    &out->node, res)) != REGISTRY_OK)
		goto fail;
	snprintf(detail, sizeof(detail), "moved to region %s: %s", pfx, req->reason);
	for (size_t i = 0; i < out->n_moved; i++) {
		Axle__V1__Registrar next = *out->moved[i], *after = NULL;

		next.moved_to = pfx;
		registry_db_bump(&next, ch);
		if ((rc = registry_db_commit_record(txn, db, ch,
		    AXLE__V1__FEED_CHANGE__FEED_CHANGE_MOVED, &next, detail, &after,
		    res)) != REGISTRY_OK)
			goto fail;
		pb_free(&out->moved[i]->base);
		out->moved[i] = after;
	}
	return REGISTRY_OK;
fail:
	registry_split_free(out);
	return rc;
}
