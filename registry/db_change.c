/* db_change.c -- validated changes to the register: delegate, set status, re-home, publish and withdraw services. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/db_priv.h"
#include "registry/delegate.h"
#include "registry/node_record.h"
#include "registry/purpose.h"
#include "registry/registrar.h"

#define RS(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

#define FAIL(res, rc, ...) registry_fail((rc), (res)->reason, sizeof((res)->reason), __VA_ARGS__)

/* --- the register in the transaction, as a view for the delegation rules ----------------------- */

struct txn_view {
	MDB_txn *txn;
	const struct registry_db *db;
};

static void
holder_set(struct registry_holder *h, const MDB_val *k, const MDB_val *v)
{
	size_t kl = k->mv_size < ADDR_MAX_LEN ? k->mv_size : ADDR_MAX_LEN;
	size_t vl = v->mv_size < sizeof(h->registrar_id) - 1 ? v->mv_size :
	    sizeof(h->registrar_id) - 1;

	memcpy(h->prefix, k->mv_data, kl);
	h->prefix[kl] = '\0';
	memcpy(h->registrar_id, v->mv_data, vl);
	h->registrar_id[vl] = '\0';
	h->region[0] = '\0';	/* this register */
	h->is_region = false;
}

static int
txn_get(void *ctx, const char *prefix, struct registry_holder *out)
{
	struct txn_view *tv = ctx;
	MDB_val k = { strlen(prefix), (void *)(uintptr_t)prefix }, v;
	int rc = mdb_get(tv->txn, tv->db->prefixes, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return REGISTRY_ESTORE;
	holder_set(out, &k, &v);
	return 1;
}

/* Keys sort bytewise, so every prefix under "p" is in the range starting at "p.". */
static int
txn_under(void *ctx, const char *prefix, struct registry_holder *out)
{
	struct txn_view *tv = ctx;
	char start[ADDR_MAX_LEN + 2];
	size_t n = strlen(prefix);
	MDB_val k = { n + 1, start }, v;
	MDB_cursor *c;
	int rc;

	memcpy(start, prefix, n);
	start[n] = '.';
	if (mdb_cursor_open(tv->txn, tv->db->prefixes, &c) != 0)
		return REGISTRY_ESTORE;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return REGISTRY_ESTORE;
	if (k.mv_size <= n + 1 || memcmp(k.mv_data, start, n + 1) != 0)
		return 0;
	holder_set(out, &k, &v);
	return 1;
}

/* --- writing one changed record ---------------------------------------------------------- */

/* Stamps a change on a record about to be written. */
void
registry_db_bump(Axle__V1__Registrar *r, const struct registry_change *ch)
{
	r->version++;
	r->updated_ms = ch->at_ms;
}

/*
 * Writes r and its feed entry; on success hands a copy of r to *out (if out
 * is not NULL): a fresh pb_unpack of what was written, so the caller owns it
 * whatever r's arrays are.
 */
int
registry_db_commit_record(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, Axle__V1__FeedChange change,
    const Axle__V1__Registrar *r, const char *detail,
    Axle__V1__Registrar **out, struct registry_outcome *res)
{
	uint8_t *buf;
	size_t n;
	int rc;

	if ((rc = registry_db_put_record(txn, db, r, res)) != REGISTRY_OK ||
	    (rc = registry_db_feed_append(txn, db, ch, change, r, detail, res)) != REGISTRY_OK)
		return rc;
	if (out == NULL)
		return REGISTRY_OK;
	if ((buf = pb_pack(&r->base, 0, &n)) == NULL ||
	    (*out = PB_UNPACK(Axle__V1__Registrar, axle__v1__registrar, buf, n,
	    REGISTRY_RECORD_MAX, NULL, 0)) == NULL) {
		free(buf);
		return FAIL(res, REGISTRY_ENOMEM, "out of memory copying registrar %s", r->id);
	}
	free(buf);
	return REGISTRY_OK;
}

/* A registrar moved to a split-off region is changed there, not here. */
static int
refuse_moved(Axle__V1__Registrar **r, struct registry_outcome *res)
{
	int rc;

	if ((*r)->moved_to == NULL || (*r)->moved_to[0] == '\0')
		return REGISTRY_OK;
	rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s moved to region %s "
	    "(split): it is changed at the node of %s", (*r)->id, (*r)->moved_to,
	    (*r)->moved_to);
	pb_free(&(*r)->base);
	*r = NULL;
	return rc;
}

/* Gets this node's registrar id, with the id checked first; one that moved away is refused. */
int
registry_db_get_local(MDB_txn *txn, const struct registry_db *db, const char *id,
    Axle__V1__Registrar **out, struct registry_outcome *res)
{
	int rc;

	*out = NULL;
	if ((rc = registry_id_check(id, res->reason, sizeof(res->reason))) != REGISTRY_OK ||
	    (rc = registry_db_get(txn, db, NULL, id, out, res)) != REGISTRY_OK)
		return rc;
	return refuse_moved(out, res);
}

static int
put_prefix(MDB_txn *txn, const struct registry_db *db, const char *prefix,
    const char *id, unsigned flags, struct registry_outcome *res)
{
	MDB_val k = { strlen(prefix), (void *)(uintptr_t)prefix };
	MDB_val v = { strlen(id), (void *)(uintptr_t)id };
	int rc = mdb_put(txn, db->prefixes, &k, &v, flags);

	return rc == 0 ? REGISTRY_OK : registry_db_store_fail(res, rc, "write reg.prefixes");
}

static void
out_clear(Axle__V1__Registrar **out)
{
	if (out != NULL)
		*out = NULL;
}

/* --- delegate ---------------------------------------------------------------------------- */

/* The record of a new registrar (PENDING, version 0: bump makes it 1). */
static int
new_registrar(const struct registry_db *db, const struct registry_change *ch,
    const Axle__V1__DelegateRequest *req, Axle__V1__Registrar *r,
    struct registry_outcome *res)
{
	axle__v1__registrar__init(r);
	if (req->display_name == NULL || req->display_name[0] == '\0')
		return FAIL(res, REGISTRY_EINVAL, "a new registrar needs a display name");
	if (strlen(req->display_name) > REGISTRY_NAME_MAX)
		return FAIL(res, REGISTRY_EINVAL, "display name is longer than %d bytes",
		    REGISTRY_NAME_MAX);
	if (req->cert_identity == NULL || strncmp(req->cert_identity, "axle://", 7) != 0)
		return FAIL(res, REGISTRY_EINVAL, "a new registrar needs the "
		    "certificate identity URI (axle://...) it will present");
	r->id = req->registrar_id;
	r->display_name = req->display_name;
	r->cert_identity = req->cert_identity;
	r->status = RS(PENDING);
	r->status_reason = (char *)"delegated";
	r->n_contacts = req->n_contacts;
	r->contacts = req->contacts;
	r->created_ms = ch->at_ms;
	r->region = (char *)db->region;
	return REGISTRY_OK;
}

/* Validates the request and folds the prefix into pfx; under: what lies under it. */
static int
delegate_check_view(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__DelegateRequest *req,
    int (*under)(void *, const char *, struct registry_holder *), char *pfx,
    struct registry_outcome *res)
{
	struct txn_view tv = { txn, db };
	struct registry_prefix_view v = { txn_get, under, &tv };
	char why[REGISTRY_REASON_MAX];
	int rc;

	if ((rc = registry_id_check(req->registrar_id, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		return rc;
	if (req->prefix == NULL || registry_address_parse(req->prefix,
	    strlen(req->prefix), pfx, why, sizeof(why)) != 0)
		return FAIL(res, REGISTRY_EINVAL, "prefix: %s",
		    req->prefix == NULL ? "missing" : why);
	return registry_delegate_check(&v, db->region, req->registrar_id, pfx,
	    res->reason, sizeof(res->reason));
}

static int
delegate_check(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__DelegateRequest *req, char *pfx, struct registry_outcome *res)
{
	return delegate_check_view(txn, db, req, txn_under, pfx, res);
}

int
registry_db_delegate(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__DelegateRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	char pfx[ADDR_MAX_LEN + 1], detail[ADDR_MAX_LEN + 32];
	Axle__V1__Registrar *cur = NULL, next;
	char **prefixes = NULL;
	int rc;

	registry_outcome_reset(res);
	out_clear(out);
	if ((rc = delegate_check(txn, db, req, pfx, res)) != REGISTRY_OK)
		return rc;
	rc = registry_db_get(txn, db, NULL, req->registrar_id, &cur, res);
	if (rc == REGISTRY_OK)
		rc = refuse_moved(&cur, res);
	if (rc == REGISTRY_ENOTFOUND)
		rc = new_registrar(db, ch, req, &next, res);
	else if (rc == REGISTRY_OK) {
		next = *cur;
		if (cur->status == RS(REVOKED))
			rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s is revoked: it "
			    "cannot be given prefixes", cur->id);
		else
			rc = registry_version_check(cur, expected_version,
			    res->reason, sizeof(res->reason));
	}
	if (rc != REGISTRY_OK)
		goto out;
	res->reason[0] = '\0';
	if ((prefixes = malloc((next.n_prefixes + 1) * sizeof(*prefixes))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	if (next.n_prefixes > 0)
		memcpy(prefixes, next.prefixes, next.n_prefixes * sizeof(*prefixes));
	prefixes[next.n_prefixes++] = pfx;
	next.prefixes = prefixes;
	registry_db_bump(&next, ch);
	snprintf(detail, sizeof(detail), "delegated %s", pfx);
	if ((rc = put_prefix(txn, db, pfx, next.id, MDB_NOOVERWRITE, res)) == REGISTRY_OK)
		rc = registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_DELEGATED,
		    &next, detail, out, res);
out:
	free(prefixes);
	if (cur != NULL)
		pb_free(&cur->base);
	return rc;
}

/* --- set status -------------------------------------------------------------------------- */

int
registry_db_set_status(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__SetStatusRequest *req,
    Axle__V1__Registrar **out, struct registry_outcome *res)
{
	Axle__V1__Registrar *cur, next;
	char detail[REGISTRY_REASON_MAX + 64];
	int rc;

	registry_outcome_reset(res);
	out_clear(out);
	if (req->reason == NULL || req->reason[0] == '\0')
		return FAIL(res, REGISTRY_EINVAL, "a change of standing needs a reason");
	if ((rc = registry_db_get_local(txn, db, req->registrar_id, &cur, res)) != REGISTRY_OK)
		return rc;
	if ((rc = registry_version_check(cur, req->expected_version, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK ||
	    (rc = registry_transition_check(cur->status, req->status, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK) {
		if (rc == REGISTRY_EPRECOND || rc == REGISTRY_EINVAL) {
			char why[REGISTRY_REASON_MAX];

			snprintf(why, sizeof(why), "%s", res->reason);
			FAIL(res, rc, "registrar %s: %s", cur->id, why);
		}
		pb_free(&cur->base);
		return rc;
	}
	next = *cur;
	next.status = req->status;
	next.status_reason = req->reason;
	registry_db_bump(&next, ch);
	snprintf(detail, sizeof(detail), "%s -> %s: %s",
	    registry_status_name(cur->status), registry_status_name(req->status),
	    req->reason);
	rc = registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_STATUS,
	    &next, detail, out, res);
	pb_free(&cur->base);
	return rc;
}

/* --- re-home ----------------------------------------------------------------------------- */

/*
 * Splits from's prefixes into kept and moved (want: the ones to move, none:
 * all). Arrays are malloc'd by the caller with room for every prefix.
 */
static int
split_prefixes(const Axle__V1__Registrar *from, char *const *want, size_t nwant,
    char **kept, size_t *nkept, char **moved, size_t *nmoved,
    struct registry_outcome *res)
{
	*nkept = *nmoved = 0;
	for (size_t i = 0; i < nwant; i++)
		if (registry_registrar_prefix_index(from, want[i]) < 0)
			return FAIL(res, REGISTRY_ENOTFOUND, "registrar %s does not "
			    "hold %s", from->id, want[i]);
	for (size_t i = 0; i < from->n_prefixes; i++) {
		int move = nwant == 0;

		for (size_t j = 0; j < nwant && !move; j++)
			move = strcmp(want[j], from->prefixes[i]) == 0;
		if (move)
			moved[(*nmoved)++] = from->prefixes[i];
		else
			kept[(*nkept)++] = from->prefixes[i];
	}
	if (*nmoved == 0)
		return FAIL(res, REGISTRY_EPRECOND, "registrar %s holds no prefixes "
		    "to re-home", from->id);
	return REGISTRY_OK;
}

/*
 * Splits from's services the way its prefixes were split: a service whose
 * address lies under a moved prefix moves with it (appended to to's, in
 * moved[]), the others stay (kept[]). A name to already publishes would
 * make two services of one name, so it refuses the re-home instead.
 * Arrays are malloc'd by the caller with room for every service of from.
 */
static int
split_services(const Axle__V1__Registrar *from, const Axle__V1__Registrar *to,
    char *const *prefixes, size_t nprefixes, Axle__V1__Service **kept,
    size_t *nkept, Axle__V1__Service **moved, size_t *nmoved,
    struct registry_outcome *res)
{
	*nkept = *nmoved = 0;
	for (size_t i = 0; i < from->n_services; i++) {
		Axle__V1__Service *s = from->services[i];
		bool move = false;

		for (size_t j = 0; j < nprefixes && !move; j++)
			move = registry_address_covers(prefixes[j], s->address);
		if (!move) {
			kept[(*nkept)++] = s;
			continue;
		}
		if (registry_registrar_service_index(to, s->name) >= 0)
			return FAIL(res, REGISTRY_EEXIST, "successor %s already "
			    "publishes a service named \"%s\", as does %s under a "
			    "prefix being re-homed: withdraw one of them first",
			    to->id, s->name, from->id);
		moved[(*nmoved)++] = s;
	}
	return REGISTRY_OK;
}

/* Writes the moved prefixes, both records and their two feed entries. */
static int
rehome_write(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, Axle__V1__Registrar *from,
    Axle__V1__Registrar *to, char **moved, size_t nmoved, size_t nsvc,
    const char *reason, Axle__V1__Registrar **out_from, Axle__V1__Registrar **out_to,
    struct registry_outcome *res)
{
	char detail[REGISTRY_REASON_MAX + 160];
	int rc;

	for (size_t i = 0; i < nmoved; i++)
		if ((rc = put_prefix(txn, db, moved[i], to->id, 0, res)) != REGISTRY_OK)
			return rc;
	registry_db_bump(from, ch);
	registry_db_bump(to, ch);
	snprintf(detail, sizeof(detail), "%zu prefix(es) and %zu service(s) "
	    "re-homed from %s to %s: %s", nmoved, nsvc, from->id, to->id, reason);
	if ((rc = registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_REHOMED,
	    from, detail, out_from, res)) != REGISTRY_OK)
		return rc;
	return registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_REHOMED,
	    to, detail, out_to, res);
}

int
registry_db_rehome(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__ReHomeRequest *req,
    Axle__V1__Registrar **out_from, Axle__V1__Registrar **out_to,
    struct registry_outcome *res)
{
	Axle__V1__Registrar *from = NULL, *to = NULL, nf, nt;
	Axle__V1__Service **skept = NULL, **sall = NULL;
	char **kept = NULL, **all = NULL;
	size_t nkept, nmoved, nskept, nsmoved;
	int rc;

	registry_outcome_reset(res);
	out_clear(out_from);
	out_clear(out_to);
	if (req->reason == NULL || req->reason[0] == '\0')
		return FAIL(res, REGISTRY_EINVAL, "re-homing needs a reason");
	if ((rc = registry_db_get_local(txn, db, req->from_registrar_id, &from, res)) != REGISTRY_OK ||
	    (rc = registry_db_get_local(txn, db, req->to_registrar_id, &to, res)) != REGISTRY_OK ||
	    (rc = registry_rehome_check(from, to, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		goto out;
	/* One array each: what moves goes to `to` after its own. */
	kept = malloc((from->n_prefixes + 1) * sizeof(*kept));
	all = malloc((to->n_prefixes + from->n_prefixes + 1) * sizeof(*all));
	skept = malloc((from->n_services + 1) * sizeof(*skept));
	sall = malloc((to->n_services + from->n_services + 1) * sizeof(*sall));
	if (kept == NULL || all == NULL || skept == NULL || sall == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	if (to->n_prefixes > 0)
		memcpy(all, to->prefixes, to->n_prefixes * sizeof(*all));
	if (to->n_services > 0)
		memcpy(sall, to->services, to->n_services * sizeof(*sall));
	if ((rc = split_prefixes(from, req->prefixes, req->n_prefixes, kept, &nkept,
	    all + to->n_prefixes, &nmoved, res)) != REGISTRY_OK ||
	    (rc = split_services(from, to, all + to->n_prefixes, nmoved, skept,
	    &nskept, sall + to->n_services, &nsmoved, res)) != REGISTRY_OK)
		goto out;
	nf = *from;
	nf.prefixes = kept;
	nf.n_prefixes = nkept;
	nf.services = skept;
	nf.n_services = nskept;
	nf.successor_id = to->id;
	nt = *to;
	nt.prefixes = all;
	nt.n_prefixes = to->n_prefixes + nmoved;
	nt.services = sall;
	nt.n_services = to->n_services + nsmoved;
	rc = rehome_write(txn, db, ch, &nf, &nt, all + to->n_prefixes, nmoved,
	    nsmoved, req->reason, out_from, out_to, res);
	if (rc != REGISTRY_OK && out_from != NULL && *out_from != NULL) {
		pb_free(&(*out_from)->base);
		*out_from = NULL;
	}
out:
	free(kept);
	free(all);
	free(skept);
	free(sall);
	if (from != NULL)
		pb_free(&from->base);
	if (to != NULL)
		pb_free(&to->base);
	return rc;
}

/* --- services ------------------------------------------------------------------------------ */

/* Checks a service and folds its address into addr. */
static int
service_check(const Axle__V1__Registrar *r, const Axle__V1__Service *s,
    char *addr, struct registry_outcome *res)
{
	char why[REGISTRY_REASON_MAX];

	if (s == NULL || s->name == NULL || s->name[0] == '\0')
		return FAIL(res, REGISTRY_EINVAL, "a service needs a name");
	if (strlen(s->name) > REGISTRY_NAME_MAX)
		return FAIL(res, REGISTRY_EINVAL, "service name is longer than %d bytes",
		    REGISTRY_NAME_MAX);
	if (s->kind < AXLE__V1__SERVICE_KIND__SERVICE_KIND_PORTAL ||
	    s->kind > AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX)
		return FAIL(res, REGISTRY_EINVAL, "service %s: kind must be portal, "
		    "switch or index", s->name);
	for (size_t i = 0; i < s->n_message_types; i++)
		if (s->message_types[i][0] == '\0')
			return FAIL(res, REGISTRY_EINVAL, "service %s: message type %zu "
			    "is empty", s->name, i + 1);
	if (registry_purposes_check(s->purposes, s->n_purposes, why,
	    sizeof(why)) != REGISTRY_OK)
		return FAIL(res, REGISTRY_EINVAL, "service %s: %s", s->name, why);
	if (s->address == NULL || registry_address_parse(s->address,
	    strlen(s->address), addr, why, sizeof(why)) != 0)
		return FAIL(res, REGISTRY_EINVAL, "service %s address: %s", s->name,
		    s->address == NULL ? "missing" : why);
	if (registry_registrar_covering_prefix(r, addr) == NULL)
		return FAIL(res, REGISTRY_EPERM, "service address %s is outside the "
		    "prefixes of registrar %s%s%s", addr, r->id,
		    r->n_prefixes > 0 ? ", e.g. " : " (it holds none)",
		    r->n_prefixes > 0 ? r->prefixes[0] : "");
	return REGISTRY_OK;
}

/* Gets a registrar a member may still change: exists, not revoked, version matches. */
static int
get_for_service(MDB_txn *txn, const struct registry_db *db, const char *id,
    uint64_t expected_version, Axle__V1__Registrar **cur,
    struct registry_outcome *res)
{
	int rc;

	if ((rc = registry_db_get_local(txn, db, id, cur, res)) != REGISTRY_OK)
		return rc;
	if ((*cur)->status == RS(REVOKED))
		rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s is revoked", id);
	else
		rc = registry_version_check(*cur, expected_version, res->reason,
		    sizeof(res->reason));
	if (rc != REGISTRY_OK) {
		pb_free(&(*cur)->base);
		*cur = NULL;
	}
	return rc;
}

int
registry_db_publish_service(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__PublishServiceRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	Axle__V1__Registrar *cur, next;
	Axle__V1__Service svc, **svcs;
	char addr[ADDR_MAX_LEN + 1];
	int rc, at;

	registry_outcome_reset(res);
	out_clear(out);
	if ((rc = get_for_service(txn, db, req->registrar_id, expected_version,
	    &cur, res)) != REGISTRY_OK)
		return rc;
	if ((rc = service_check(cur, req->service, addr, res)) != REGISTRY_OK)
		goto out;
	svc = *req->service;
	svc.address = addr;
	if ((svcs = malloc((cur->n_services + 1) * sizeof(*svcs))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	if (cur->n_services > 0)
		memcpy(svcs, cur->services, cur->n_services * sizeof(*svcs));
	next = *cur;
	next.services = svcs;
	if ((at = registry_registrar_service_index(cur, svc.name)) >= 0)
		svcs[at] = &svc;
	else
		svcs[next.n_services++] = &svc;
	registry_db_bump(&next, ch);
	rc = registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_SERVICE_PUBLISHED,
	    &next, svc.name, out, res);
	free(svcs);
out:
	pb_free(&cur->base);
	return rc;
}

int
registry_db_withdraw_service(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__WithdrawServiceRequest *req,
    uint64_t expected_version, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	Axle__V1__Registrar *cur, next;
	Axle__V1__Service **svcs;
	char detail[REGISTRY_REASON_MAX + REGISTRY_NAME_MAX + 8];
	size_t n = 0;
	int rc, at;

	registry_outcome_reset(res);
	out_clear(out);
	if ((rc = registry_db_get_local(txn, db, req->registrar_id, &cur, res)) != REGISTRY_OK)
		return rc;
	if ((rc = registry_version_check(cur, expected_version, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		goto out;
	if (req->name == NULL || (at = registry_registrar_service_index(cur, req->name)) < 0) {
		rc = FAIL(res, REGISTRY_ENOTFOUND, "registrar %s publishes no service "
		    "named \"%s\"", cur->id, req->name != NULL ? req->name : "");
		goto out;
	}
	if ((svcs = malloc(cur->n_services * sizeof(*svcs))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cur->n_services; i++)
		if ((int)i != at)
			svcs[n++] = cur->services[i];
	next = *cur;
	next.services = svcs;
	next.n_services = n;
	registry_db_bump(&next, ch);
	snprintf(detail, sizeof(detail), "%s: %s", req->name,
	    req->reason != NULL && req->reason[0] != '\0' ? req->reason : "withdrawn");
	rc = registry_db_commit_record(txn, db, ch, AXLE__V1__FEED_CHANGE__FEED_CHANGE_SERVICE_WITHDRAWN,
	    &next, detail, out, res);
	free(svcs);
out:
	pb_free(&cur->base);
	return rc;
}

/* --- a child region's node (docs/design.md "Peering from the register") ----------------------- */

/* A split moves the registrars under the region in the same write: they are no conflict. */
static int
txn_under_none(void *ctx, const char *prefix, struct registry_holder *out)
{
	(void)ctx, (void)prefix, (void)out;
	return 0;
}

int
registry_db_publish_node(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *region, const char *identity,
    const char *endpoint, const char *display_name, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	return registry_db_publish_node_split(txn, db, ch, region, identity,
	    endpoint, display_name, false, out, res);
}

int
registry_db_publish_node_split(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *region, const char *identity,
    const char *endpoint, const char *display_name, bool split,
    Axle__V1__Registrar **out, struct registry_outcome *res)
{
	char id[REGISTRY_ID_MAX + 2], name[REGISTRY_NAME_MAX + 1];
	char pfx[ADDR_MAX_LEN + 1], detail[ADDR_MAX_LEN + REGISTRY_ENDPOINT_MAX + 32];
	Axle__V1__DelegateRequest dr = AXLE__V1__DELEGATE_REQUEST__INIT;
	Axle__V1__Registrar *cur = NULL, next;
	Axle__V1__Service svc = AXLE__V1__SERVICE__INIT, *svcs[1] = { &svc };
	char *prefixes[1] = { pfx };
	Axle__V1__FeedChange change = AXLE__V1__FEED_CHANGE__FEED_CHANGE_SERVICE_PUBLISHED;
	int rc;

	registry_outcome_reset(res);
	out_clear(out);
	if (region == NULL || registry_address_parse(region, strlen(region), pfx,
	    res->reason, sizeof(res->reason)) != 0)
		return FAIL(res, REGISTRY_EINVAL, "region: %s", region == NULL ?
		    "missing" : res->reason);
	if (registry_node_id(pfx, id, sizeof(id)) != 0)
		return FAIL(res, REGISTRY_EINVAL, "region %s is too long for a node "
		    "record id (%s<region> is at most %d bytes)", pfx,
		    REGISTRY_NODE_ID_PREFIX, REGISTRY_ID_MAX);
	if (endpoint == NULL || strlen(endpoint) > REGISTRY_ENDPOINT_MAX)
		return FAIL(res, REGISTRY_EINVAL, "endpoint is longer than %d bytes",
		    REGISTRY_ENDPOINT_MAX);
	snprintf(name, sizeof(name), "%s", display_name != NULL &&
	    display_name[0] != '\0' ? display_name : "node");
	if (display_name == NULL || display_name[0] == '\0')
		snprintf(name, sizeof(name), "node %.*s", REGISTRY_NAME_MAX - 6, pfx);
	rc = registry_db_get(txn, db, NULL, id, &cur, res);
	if (rc == REGISTRY_ENOTFOUND) {
		char folded[ADDR_MAX_LEN + 1];

		dr.registrar_id = id;
		dr.prefix = pfx;	/* delegate_check folds it into its own buffer */
		dr.display_name = name;
		dr.cert_identity = (char *)identity;
		res->reason[0] = '\0';
		if ((rc = delegate_check_view(txn, db, &dr, split ? txn_under_none :
		    txn_under, folded, res)) != REGISTRY_OK ||
		    (rc = new_registrar(db, ch, &dr, &next, res)) != REGISTRY_OK)
			goto out;
		next.n_prefixes = 1;
		next.prefixes = prefixes;
		if ((rc = put_prefix(txn, db, pfx, id, MDB_NOOVERWRITE, res)) != REGISTRY_OK)
			goto out;
		change = AXLE__V1__FEED_CHANGE__FEED_CHANGE_DELEGATED;
	} else if (rc == REGISTRY_OK) {
		if (cur->status == RS(REVOKED)) {
			rc = FAIL(res, REGISTRY_EPRECOND, "node record %s is revoked: "
			    "a withdrawn region is not published again under it", id);
			goto out;
		}
		if (!registry_node_of(cur, NULL) || strcmp(cur->cert_identity,
		    identity) != 0) {
			rc = FAIL(res, REGISTRY_EEXIST, "registrar %s exists and is not "
			    "the node record of %s", id, pfx);
			goto out;
		}
		next = *cur;
		if (display_name != NULL && display_name[0] != '\0')
			next.display_name = name;
	} else
		goto out;
	svc.name = (char *)REGISTRY_NODE_SERVICE;
	svc.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_NODE;
	svc.endpoint = (char *)endpoint;
	svc.address = pfx;
	svc.description = (char *)"the axle node of this region";
	next.services = svcs;
	next.n_services = 1;
	next.status = RS(ACTIVE);
	next.status_reason = (char *)"node published by the parent's admin";
	registry_db_bump(&next, ch);
	snprintf(detail, sizeof(detail), "node %s at %s", pfx, endpoint[0] != '\0' ?
	    endpoint : "(no endpoint: through the tree)");
	rc = registry_db_commit_record(txn, db, ch, change, &next, detail, out, res);
out:
	if (cur != NULL)
		pb_free(&cur->base);
	return rc;
}
