/* svc_registry.c -- axle.v1.Registry, axle.v1.Portal/Discover and axle.v1.Axle/Feed: the register over gRPC. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/gw_switch.h"
#include "gateway/net/log.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"
#include "proto/pb.h"
#include "registry/address.h"
#include "registry/delegate.h"
#include "registry/error.h"
#include "registry/mirror.h"
#include "registry/node_record.h"
#include "registry/portal.h"
#include "registry/registrar.h"

#define FEED_BATCH_DEFAULT	256
#define FEED_BATCH_MAX		1024
#define FEED_BYTES_MAX		(2u << 20)	/* a response stays well under clients' limits */
#define TOKEN_MAX		(ADDR_MAX_LEN + REGISTRY_ID_MAX + 2)
#define FEED_WAIT_MAX_MS	30000
#define FEED_WAIT_TICK_MS	100	/* how soon a parked Feed notices a drain or a reset */


void
gw_registry_call_fail(struct net_call *call, int rc, const struct registry_outcome *res)
{
	int status = rc == REGISTRY_ESTORE && res->mdb_rc != 0 ?
	    gw_store_rc_grpc_status(res->mdb_rc) : registry_grpc_status(rc);

	net_call_error(call, status, "%s", res->reason[0] ? res->reason :
	    registry_strerror(rc));
}

/* A short read transaction, or the call ended with UNAVAILABLE. */
static MDB_txn *
read_begin(struct net_call *call)
{
	MDB_txn *txn;
	int rc = gw_store_read_begin(net_call_node(call)->store, &txn);

	if (rc != 0) {
		net_call_error(call, gw_store_rc_grpc_status(rc), "cannot read the "
		    "register: %s", gw_store_strerror(rc));
		return NULL;
	}
	return txn;
}

static Axle__V1__Registrar *
registrar_copy(const Axle__V1__Registrar *r)
{
	size_t len;
	uint8_t *buf = pb_pack(&r->base, 0, &len);
	Axle__V1__Registrar *c;

	if (buf == NULL)
		return NULL;
	c = PB_UNPACK(Axle__V1__Registrar, axle__v1__registrar, buf, len,
	    REGISTRY_RECORD_MAX, NULL, 0);
	free(buf);
	return c;
}

/* --- Resolve ---------------------------------------------------------------------- */

int
gw_registry_parse_target(const char *in, char *addr, char *why, size_t whylen)
{
	char local[ADDR_LOCAL_MAX + 1];

	if (in == NULL || in[0] == '\0') {
		snprintf(why, whylen, "address is empty");
		return -1;
	}
	if (strchr(in, ':') != NULL)
		return registry_identifier_parse(in, strlen(in), addr, local, why,
		    whylen);
	return registry_address_parse(in, strlen(in), addr, why, whylen);
}

/*
 * The record of m's registrar: its serving region's, or while that region's
 * feed has not come yet (a split: the index has it from moved_to), the
 * record of the ancestor region that moved it there.
 */
static int
registrar_serving(MDB_txn *txn, const struct registry_db *db,
    const struct registry_match *m, Axle__V1__Registrar **rec,
    struct registry_outcome *res)
{
	char anc[ADDR_MAX_LEN + 1], *dot;
	int rc = registry_db_get(txn, db, m->region, m->registrar_id, rec, res);

	snprintf(anc, sizeof(anc), "%s", m->region);
	while (rc == REGISTRY_ENOTFOUND && (dot = strrchr(anc, '.')) != NULL) {
		*dot = '\0';
		rc = registry_db_get(txn, db, anc, m->registrar_id, rec, res);
		if (rc == REGISTRY_OK && ((*rec)->moved_to == NULL ||
		    strcmp((*rec)->moved_to, m->region) != 0)) {
			pb_free(&(*rec)->base);
			*rec = NULL;
			rc = REGISTRY_ENOTFOUND;
		}
	}
	return rc;
}

static void
reg_resolve(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__ResolveRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	Axle__V1__ResolveResponse resp = AXLE__V1__RESOLVE_RESPONSE__INIT;
	Axle__V1__Registrar *rec = NULL;
	struct registry_outcome res = { 0 };
	struct registry_resolution r;
	char addr[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX];
	MDB_txn *txn;
	int rc;

	if (gw_registry_parse_target(req->address, addr, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "bad address: %s", why);
		return;
	}
	gw_registry_resolve(node, addr, &r);
	resp.address = addr;
	resp.outcome = AXLE__V1__RESOLVE_OUTCOME__RESOLVE_OUTCOME_UNKNOWN;
	resp.feed_seq = node->registry->feed_seq;
	if (r.encloser.kind != REGISTRY_PREFIX_NONE) {
		resp.outcome = AXLE__V1__RESOLVE_OUTCOME__RESOLVE_OUTCOME_REGION;
		resp.closest_encloser = (char *)r.encloser.prefix;
		resp.serving_node = (char *)r.encloser.region;
	}
	if (r.match.kind == REGISTRY_PREFIX_DELEGATION) {
		if ((txn = read_begin(call)) == NULL)
			return;
		rc = registrar_serving(txn, &node->registry->db, &r.match, &rec, &res);
		mdb_txn_abort(txn);
		if (rc != REGISTRY_OK) {
			gw_registry_call_fail(call, rc, &res);
			return;
		}
		resp.outcome = AXLE__V1__RESOLVE_OUTCOME__RESOLVE_OUTCOME_MATCHED;
		resp.matched_prefix = (char *)r.match.prefix;
		resp.registrar = rec;
		resp.serving_node = (char *)r.match.region;
		resp.from_mirror = strcmp(r.match.region, node->cfg.region) != 0;
		if (resp.from_mirror)
			resp.feed_seq = gw_mirror_seq(node, r.match.region);
	}
	net_call_reply(call, &resp.base);
	pb_free(rec ? &rec->base : NULL);
}

/* --- GetRegistrar, ListRegistrars ------------------------------------------------- */

static void
reg_get(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__GetRegistrarRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	Axle__V1__GetRegistrarResponse resp = AXLE__V1__GET_REGISTRAR_RESPONSE__INIT;
	struct registry_outcome res = { 0 };
	char why[REGISTRY_REASON_MAX];
	MDB_txn *txn;
	int rc;

	if (registry_id_check(req->id, why, sizeof(why)) != REGISTRY_OK) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if ((txn = read_begin(call)) == NULL)
		return;
	/* Ours first, then the mirrors: ids are unique in the federation. */
	rc = registry_db_get(txn, &node->registry->db, NULL, req->id,
	    &resp.registrar, &res);
	for (size_t i = 0; rc == REGISTRY_ENOTFOUND && i < node->cfg.npeers; i++)
		rc = registry_db_get(txn, &node->registry->db,
		    node->cfg.peers[i].region, req->id, &resp.registrar, &res);
	if (rc == REGISTRY_ENOTFOUND) {
		/* Regions relayed to us: one point lookup each (at most max_origins). */
		size_t cap = gw_mirror_count(node), n;
		Axle__V1__OriginHead *o = calloc(cap + 1, sizeof(*o));

		n = o != NULL ? gw_mirror_origins(node, o, cap) : 0;
		for (size_t i = 0; rc == REGISTRY_ENOTFOUND && i < n; i++)
			rc = registry_db_get(txn, &node->registry->db, o[i].region,
			    req->id, &resp.registrar, &res);
		free(o);
	}
	mdb_txn_abort(txn);
	if (rc == REGISTRY_ENOTFOUND) {
		net_call_error(call, GRPC_NOT_FOUND, "no registrar %s in the register "
		    "of %s or its mirrors", req->id, node->cfg.region);
		return;
	}
	if (rc != REGISTRY_OK) {
		gw_registry_call_fail(call, rc, &res);
		return;
	}
	net_call_reply(call, &resp.base);
	pb_free(&resp.registrar->base);
}

struct registrar_list_ctx {
	const char *prefix;		/* NULL: any */
	const char *region;		/* NULL: any */
	Axle__V1__RegistrarStatus status;
	const char *skip_region, *skip_id;	/* the page token's item */
	Axle__V1__Registrar **items;
	size_t n, want;
	bool more;
};

static bool
list_match(const struct registrar_list_ctx *c, const Axle__V1__Registrar *r)
{
	if (c->status != AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED &&
	    r->status != c->status)
		return false;
	if (c->prefix == NULL)
		return true;
	for (size_t i = 0; i < r->n_prefixes; i++)
		if (registry_address_covers(c->prefix, r->prefixes[i]))
			return true;
	return false;
}

static int
list_cb(const Axle__V1__Registrar *r, void *arg)
{
	struct registrar_list_ctx *c = arg;

	if (c->region != NULL && strcmp(r->region, c->region) != 0)
		return strcmp(r->region, c->region) > 0 ? 1 : 0;
	if (c->skip_region != NULL && strcmp(r->region, c->skip_region) == 0 &&
	    strcmp(r->id, c->skip_id) == 0)
		return 0;
	if (!list_match(c, r))
		return 0;
	if (c->n == c->want) {
		c->more = true;
		return 1;
	}
	if ((c->items[c->n] = registrar_copy(r)) == NULL)
		return REGISTRY_ENOMEM;
	c->n++;
	return 0;
}

/* Token "region/id" (both checked) into region and id; 0 or -1. */
static int
list_token(const char *tok, char *region, char *id)
{
	const char *slash = strchr(tok, '/');
	char why[REGISTRY_REASON_MAX];
	size_t rl;

	if (slash == NULL || (rl = (size_t)(slash - tok)) > ADDR_MAX_LEN ||
	    strlen(slash + 1) > REGISTRY_ID_MAX)
		return -1;
	if (registry_address_parse(tok, rl, region, why, sizeof(why)) != 0)
		return -1;
	memcpy(id, slash + 1, strlen(slash + 1) + 1);
	return registry_id_check(id, why, sizeof(why)) == REGISTRY_OK ? 0 : -1;
}

/* Checks the filters of req into c (strings in the buffers given). */
static int
list_filters(const Axle__V1__ListRegistrarsRequest *req, struct registrar_list_ctx *c,
    char *prefix, char *region, char *why, size_t whylen)
{
	char reason[REGISTRY_REASON_MAX];

	if (req->prefix != NULL && req->prefix[0] != '\0') {
		if (registry_address_parse(req->prefix, strlen(req->prefix), prefix,
		    reason, sizeof(reason)) != 0) {
			snprintf(why, whylen, "bad prefix: %s", reason);
			return -1;
		}
		c->prefix = prefix;
	}
	if (req->region != NULL && req->region[0] != '\0') {
		if (registry_address_parse(req->region, strlen(req->region), region,
		    reason, sizeof(reason)) != 0) {
			snprintf(why, whylen, "bad region: %s", reason);
			return -1;
		}
		c->region = region;
	}
	if (req->status < 0 ||
	    req->status > AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED) {
		snprintf(why, whylen, "unknown status %d", (int)req->status);
		return -1;
	}
	c->status = req->status;
	return 0;
}

static void
list_reply(struct net_call *call, struct registrar_list_ctx *c, bool first_page)
{
	Axle__V1__ListRegistrarsResponse resp = AXLE__V1__LIST_REGISTRARS_RESPONSE__INIT;
	Axle__V1__PageResponse page = AXLE__V1__PAGE_RESPONSE__INIT;
	char token[TOKEN_MAX + 1] = "";

	if (c->more && c->n > 0)
		snprintf(token, sizeof(token), "%s/%s", c->items[c->n - 1]->region,
		    c->items[c->n - 1]->id);
	page.next_page_token = token;
	page.total = first_page && !c->more ? c->n : 0;
	resp.registrars = c->items;
	resp.n_registrars = c->n;
	resp.page = &page;
	net_call_reply(call, &resp.base);
}

static void
reg_list(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__ListRegistrarsRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	struct registrar_list_ctx c = { 0 };
	struct registry_outcome res = { 0 };
	char prefix[ADDR_MAX_LEN + 1], region[ADDR_MAX_LEN + 1], why[512];
	char tregion[ADDR_MAX_LEN + 1], tid[REGISTRY_ID_MAX + 1];
	const char *tok = req->page != NULL ? req->page->page_token : NULL;
	MDB_txn *txn;
	int rc;

	if (list_filters(req, &c, prefix, region, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if (tok != NULL && tok[0] != '\0') {
		if (list_token(tok, tregion, tid) != 0) {
			net_call_error(call, GRPC_INVALID_ARGUMENT, "bad page token");
			return;
		}
		c.skip_region = tregion;
		c.skip_id = tid;
	}
	c.want = req->page != NULL && req->page->page_size > 0 ?
	    req->page->page_size : REGISTRY_PAGE_DEFAULT;
	if (c.want > REGISTRY_PAGE_MAX)
		c.want = REGISTRY_PAGE_MAX;
	if ((c.items = calloc(c.want, sizeof(*c.items))) == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if ((txn = read_begin(call)) != NULL) {
		rc = registry_db_walk(txn, &node->registry->db,
		    c.skip_region ? c.skip_region : c.region,
		    c.skip_region ? c.skip_id : NULL, list_cb, &c, &res);
		mdb_txn_abort(txn);
		if (rc != REGISTRY_OK)
			gw_registry_call_fail(call, rc, &res);
		else
			list_reply(call, &c, c.skip_region == NULL);
	}
	for (size_t i = 0; i < c.n; i++)
		pb_free(&c.items[i]->base);
	free(c.items);
}

/* --- Discover ----------------------------------------------------------------------- */

static void
portal_discover(struct net_call *call, const ProtobufCMessage *m)
{
	struct gw_node *node = net_call_node(call);
	Axle__V1__DiscoverResponse *resp = NULL;
	struct registry_outcome res = { 0 };
	MDB_txn *txn;
	int rc;

	if ((txn = read_begin(call)) == NULL)
		return;
	rc = registry_portal_discover(txn, &node->registry->db, (const void *)m,
	    &resp, &res);
	mdb_txn_abort(txn);
	if (rc != REGISTRY_OK) {
		gw_registry_call_fail(call, rc, &res);
		return;
	}
	net_call_reply(call, &resp->base);
	registry_portal_free(resp);
}

/* --- changes: one store write each ----------------------------------------------- */

enum wkind { W_DELEGATE, W_STATUS, W_REHOME, W_PUBLISH, W_WITHDRAW, W_NODE,
	W_POLICY };

static const char *const wkind_name[] = {
	"delegate", "set_status", "rehome", "publish_service", "withdraw_service",
	"publish_node", "set_policy",
};

struct rwrite {
	struct net_call *call;
	struct gw_node *node;
	struct registry_db db;		/* a copy: the writer never reads node state */
	enum wkind kind;
	const ProtobufCMessage *req;	/* the call's, alive until the call ends */
	Axle__V1__PublishServiceRequest pub;	/* with the registrar id acted for */
	Axle__V1__WithdrawServiceRequest wd;
	char registrar_id[REGISTRY_ID_MAX + 1];
	char node_region[ADDR_MAX_LEN + 1];	/* W_NODE: folded */
	char node_identity[NET_URI_MAX + 1];
	char actor[NET_URI_MAX + 1];
	int64_t at_ms;
	int lrc;
	struct registry_outcome res;
	Axle__V1__Registrar *out, *out2;
	int gw_status;			/* the switch's answer to a standing change */
	uint64_t moved;			/* messages it held or released */
	char gw_err[256];
};

/*
 * A standing change moves traffic in the same commit: a suspension holds the
 * registrar's mailbox, reactivation releases it in order, re-homing sends
 * held traffic to the successor. No routing gap, no message left behind.
 */
static int
rwrite_switch(MDB_txn *txn, struct rwrite *w)
{
	const char *successor = w->kind == W_REHOME && w->out2 != NULL ?
	    w->out2->id : NULL;

	if (w->node->sw == NULL || w->out == NULL)
		return 0;
	w->gw_status = gw_switch_registrar_changed_txn(w->node, txn, w->out->id,
	    w->out->status, successor, w->at_ms, &w->moved, w->gw_err,
	    sizeof(w->gw_err));
	return w->gw_status == GRPC_OK ? 0 : 1;
}

static int
rwrite_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct rwrite *w = arg;
	struct registry_change ch = { w->actor, w->at_ms };

	(void)st;
	switch (w->kind) {
	case W_DELEGATE:
		w->lrc = registry_db_delegate(txn, &w->db, &ch, (const void *)w->req,
		    REGISTRY_ANY_VERSION, &w->out, &w->res);
		break;
	case W_STATUS:
		w->lrc = registry_db_set_status(txn, &w->db, &ch, (const void *)w->req,
		    &w->out, &w->res);
		if (w->lrc == REGISTRY_OK && rwrite_switch(txn, w) != 0)
			return 1;
		break;
	case W_REHOME:
		w->lrc = registry_db_rehome(txn, &w->db, &ch, (const void *)w->req,
		    &w->out, &w->out2, &w->res);
		if (w->lrc == REGISTRY_OK && rwrite_switch(txn, w) != 0)
			return 1;
		break;
	case W_PUBLISH:
		w->lrc = registry_db_publish_service(txn, &w->db, &ch, &w->pub,
		    REGISTRY_ANY_VERSION, &w->out, &w->res);
		break;
	case W_WITHDRAW:
		w->lrc = registry_db_withdraw_service(txn, &w->db, &ch, &w->wd,
		    REGISTRY_ANY_VERSION, &w->out, &w->res);
		break;
	case W_POLICY:
		w->lrc = registry_db_set_policy(txn, &w->db, &ch, (const void *)w->req,
		    &w->out, &w->res);
		break;
	case W_NODE: {
		const Axle__V1__PublishNodeRequest *r = (const void *)w->req;

		w->lrc = registry_db_publish_node(txn, &w->db, &ch, w->node_region,
		    w->node_identity, r->endpoint != NULL ? r->endpoint : "",
		    r->display_name, &w->out, &w->res);
		break;
	}
	}
	return w->lrc == REGISTRY_OK ? 0 : 1;
}

static void
rwrite_reply(struct rwrite *w)
{
	uint64_t seq = w->res.feed_seq;

	switch (w->kind) {
	case W_DELEGATE: {
		Axle__V1__DelegateResponse r = AXLE__V1__DELEGATE_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_STATUS: {
		Axle__V1__SetStatusResponse r = AXLE__V1__SET_STATUS_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		r.released = w->moved;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_REHOME: {
		Axle__V1__ReHomeResponse r = AXLE__V1__RE_HOME_RESPONSE__INIT;

		r.from_registrar = w->out;
		r.to_registrar = w->out2;
		r.feed_seq = seq;
		r.released = w->moved;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_PUBLISH: {
		Axle__V1__PublishServiceResponse r = AXLE__V1__PUBLISH_SERVICE_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_WITHDRAW: {
		Axle__V1__WithdrawServiceResponse r = AXLE__V1__WITHDRAW_SERVICE_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_POLICY: {
		Axle__V1__SetPolicyResponse r = AXLE__V1__SET_POLICY_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		net_call_reply(w->call, &r.base);
		break;
	}
	case W_NODE: {
		Axle__V1__PublishNodeResponse r = AXLE__V1__PUBLISH_NODE_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = seq;
		net_call_reply(w->call, &r.base);
		break;
	}
	}
}

void
gw_registry_committed(struct gw_node *node, const Axle__V1__Registrar *a,
    const Axle__V1__Registrar *b, uint64_t feed_seq)
{
	struct gw_registry *reg = node->registry;

	if (reg == NULL)
		return;
	if (a != NULL)
		gw_registry_applied(node, a);
	if (b != NULL)
		gw_registry_applied(node, b);
	reg->changes_total += (a != NULL) + (b != NULL);
	if (feed_seq > reg->feed_seq)
		reg->feed_seq = feed_seq;
	gw_registry_feed_wake(node);
}

/* Committed (or not): update the index, then answer. */
static void
rwrite_done(int rc, void *arg)
{
	struct rwrite *w = arg;

	if (rc != 0 && w->lrc != REGISTRY_OK) {
		gw_registry_call_fail(w->call, w->lrc, &w->res);
	} else if (rc != 0 && w->gw_status != GRPC_OK) {
		net_call_error(w->call, w->gw_status, "the change was not made: the "
		    "switch could not move the registrar's traffic: %s", w->gw_err);
	} else if (rc != 0) {
		net_call_error(w->call, gw_store_rc_grpc_status(rc), "the register could "
		    "not commit the change: %s", gw_store_strerror(rc));
	} else {
		/* Re-homing: the old record first, so the successor takes its prefixes. */
		gw_registry_committed(w->node, w->out, w->out2, w->res.feed_seq);
		if (w->moved > 0)
			gw_switch_kick(w->node);
		net_log(NET_LOG_INFO, "registry_change", "change=%s registrar=%s "
		    "actor=%s feed_seq=%" PRIu64, wkind_name[w->kind],
		    w->out != NULL ? w->out->id : "-", w->actor, w->res.feed_seq);
		rwrite_reply(w);
	}
	pb_free(w->out ? &w->out->base : NULL);
	pb_free(w->out2 ? &w->out2->base : NULL);
	free(w);
}

static struct rwrite *
rwrite_new(struct net_call *call, enum wkind kind, const ProtobufCMessage *req)
{
	struct rwrite *w = calloc(1, sizeof(*w));
	struct gw_node *node = net_call_node(call);

	if (w == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	w->call = call;
	w->node = node;
	w->db = node->registry->db;
	w->kind = kind;
	w->req = req;
	snprintf(w->actor, sizeof(w->actor), "%s", net_call_caller(call)->uri);
	w->at_ms = gw_registry_now_ms();
	return w;
}

static void
rwrite_submit(struct rwrite *w)
{
	/* A register change is new work: refused above the high-water mark. */
	int rc = gw_store_submit_new(w->node->store, rwrite_fn, rwrite_done, w);

	if (rc != 0) {
		net_call_error(w->call, GRPC_UNAVAILABLE, "the register cannot take "
		    "changes now: %s", gw_store_strerror(rc));
		free(w);
	}
}

/* --- Delegate, SetStatus, ReHome (admins of this node) ---------------------------------- */

/*
 * What the store cannot see: peers' regions and what mirrors hold. The
 * write re-checks this node's own delegations in its transaction.
 */
static int
delegate_precheck(struct gw_node *node, const Axle__V1__DelegateRequest *req,
    int *status, char *why, size_t whylen)
{
	char prefix[ADDR_MAX_LEN + 1], reason[REGISTRY_REASON_MAX];
	struct registry_prefix_view v;
	int rc;

	*status = GRPC_INVALID_ARGUMENT;
	if (registry_id_check(req->registrar_id, reason, sizeof(reason)) != REGISTRY_OK) {
		snprintf(why, whylen, "bad registrar_id: %s", reason);
		return -1;
	}
	if (registry_address_parse(req->prefix ? req->prefix : "", req->prefix ?
	    strlen(req->prefix) : 0, prefix, reason, sizeof(reason)) != 0) {
		snprintf(why, whylen, "bad prefix: %s", reason);
		return -1;
	}
	registry_index_view(node->registry->idx, &v);
	if ((rc = registry_delegate_check(&v, node->cfg.region, req->registrar_id,
	    prefix, why, whylen)) != REGISTRY_OK) {
		*status = registry_grpc_status(rc);
		return -1;
	}
	for (size_t i = 0; i < node->cfg.npeers; i++)
		if (registry_address_covers(prefix, node->cfg.peers[i].region)) {
			*status = GRPC_ALREADY_EXISTS;
			snprintf(why, whylen, "%s contains %s, the region of another node",
			    prefix, node->cfg.peers[i].region);
			return -1;
		}
	return 0;
}

static void
reg_delegate(struct net_call *call, const ProtobufCMessage *m)
{
	char why[REGISTRY_REASON_MAX + ADDR_MAX_LEN];
	struct rwrite *w;
	int status;

	if (delegate_precheck(net_call_node(call), (const void *)m, &status, why,
	    sizeof(why)) != 0) {
		net_call_error(call, status, "%s", why);
		return;
	}
	if ((w = rwrite_new(call, W_DELEGATE, m)) != NULL)
		rwrite_submit(w);
}

static void
reg_set_status(struct net_call *call, const ProtobufCMessage *m)
{
	struct rwrite *w = rwrite_new(call, W_STATUS, m);

	if (w != NULL)
		rwrite_submit(w);
}

static void
reg_rehome(struct net_call *call, const ProtobufCMessage *m)
{
	struct rwrite *w = rwrite_new(call, W_REHOME, m);

	if (w != NULL)
		rwrite_submit(w);
}

/* --- PublishNode (admins of this node): a child region's node ------------------------- */

/*
 * The index as a view for a node record: the region itself may be known
 * already (a [peer], a mirrored feed), and what lies under it is that
 * node's.
 */
struct node_view {
	struct registry_prefix_view inner;
	const char *region;
};

static int
node_view_get(void *ctx, const char *prefix, struct registry_holder *out)
{
	struct node_view *nv = ctx;
	int rc = nv->inner.get(nv->inner.ctx, prefix, out);

	return rc == 1 && out->is_region && strcmp(prefix, nv->region) == 0 ? 0 : rc;
}

/*
 * What lies under the region is its node's own (mirrored from its feed, or
 * its children's): no conflict. This register's own delegations under it
 * are refused by the write, which checks them in its transaction.
 */
static int
node_view_under(void *ctx, const char *prefix, struct registry_holder *out)
{
	(void)ctx, (void)prefix, (void)out;
	return 0;
}

static void
reg_publish_node(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__PublishNodeRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	struct node_view nv;
	struct registry_prefix_view v = { node_view_get, node_view_under, &nv };
	char region[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX], id[REGISTRY_ID_MAX + 2];
	struct rwrite *w;
	int rc;

	if (registry_address_parse(req->region ? req->region : "", req->region ?
	    strlen(req->region) : 0, region, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "bad region: %s", why);
		return;
	}
	if (gw_endpoint_refused(call, req->endpoint))
		return;
	if (registry_node_id(region, id, sizeof(id)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "region %s is too long "
		    "for a node record (%s<region> is at most %d bytes)", region,
		    REGISTRY_NODE_ID_PREFIX, REGISTRY_ID_MAX);
		return;
	}
	registry_index_view(node->registry->idx, &nv.inner);
	nv.region = region;
	if ((rc = registry_delegate_check(&v, node->cfg.region, id, region, why,
	    sizeof(why))) != REGISTRY_OK) {
		net_call_error(call, registry_grpc_status(rc), "%s", why);
		return;
	}
	if ((w = rwrite_new(call, W_NODE, m)) == NULL)
		return;
	memcpy(w->node_region, region, sizeof(region));
	snprintf(w->node_identity, sizeof(w->node_identity), "axle://%s/node/%s",
	    node->cfg.federation, region);
	rwrite_submit(w);
}

/* --- PublishService, WithdrawService (a member for its registrar, or an admin) ----- */

/* Does registrar id of this node name uri as its certificate identity? */
static bool
cert_is_registrars(struct net_call *call, const char *id, const char *uri)
{
	struct gw_node *node = net_call_node(call);
	struct registry_outcome res = { 0 };
	Axle__V1__Registrar *r = NULL;
	MDB_txn *txn;
	bool yes;

	if (gw_store_read_begin(node->store, &txn) != 0)
		return false;
	yes = registry_db_get(txn, &node->registry->db, NULL, id, &r, &res) ==
	    REGISTRY_OK && r->cert_identity != NULL && strcmp(r->cert_identity, uri) == 0;
	mdb_txn_abort(txn);
	pb_free(r ? &r->base : NULL);
	return yes;
}

int
gw_registry_act_for(struct net_call *call, const char *want, char *id, size_t idlen)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	struct registry_resolution r;
	const char *cand = NULL;

	want = want != NULL ? want : "";
	if (who->role == NET_ROLE_ADMIN) {
		if (want[0] == '\0') {
			net_call_error(call, GRPC_INVALID_ARGUMENT, "registrar_id is "
			    "required when an admin acts");
			return -1;
		}
		snprintf(id, idlen, "%s", want);
		return 0;
	}
	if (gw_registry_member_revoked(node, who)) {
		net_call_error(call, GRPC_PERMISSION_DENIED, "certificate %s belongs "
		    "to a revoked registrar: refused", who->uri);
		return -1;
	}
	gw_registry_resolve(node, who->address, &r);
	if (r.match.kind == REGISTRY_PREFIX_DELEGATION &&
	    strcmp(r.match.region, node->cfg.region) == 0)
		cand = r.match.registrar_id;
	if (cand != NULL && (want[0] == '\0' || strcmp(cand, want) == 0)) {
		snprintf(id, idlen, "%s", cand);
		return 0;
	}
	if (want[0] != '\0' && cert_is_registrars(call, want, who->uri)) {
		snprintf(id, idlen, "%s", want);
		return 0;
	}
	if (cand != NULL)
		net_call_error(call, GRPC_PERMISSION_DENIED, "member %s acts for "
		    "registrar %s (whose prefix %s covers it), not for %s",
		    who->address, cand, r.match.prefix, want);
	else
		net_call_error(call, GRPC_PERMISSION_DENIED, "member %s is inside no "
		    "prefix this node delegated%s%s", who->address,
		    want[0] ? " and is not the certificate of registrar " : "", want);
	return -1;
}

static void
reg_publish(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__PublishServiceRequest *req = (const void *)m;
	struct rwrite *w;
	char id[REGISTRY_ID_MAX + 1];

	if (gw_registry_act_for(call, req->registrar_id, id, sizeof(id)) != 0 ||
	    (w = rwrite_new(call, W_PUBLISH, m)) == NULL)
		return;
	memcpy(w->registrar_id, id, sizeof(id));
	w->pub = *req;
	w->pub.registrar_id = w->registrar_id;
	rwrite_submit(w);
}

static void
reg_withdraw(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__WithdrawServiceRequest *req = (const void *)m;
	struct rwrite *w;
	char id[REGISTRY_ID_MAX + 1];

	if (gw_registry_act_for(call, req->registrar_id, id, sizeof(id)) != 0 ||
	    (w = rwrite_new(call, W_WITHDRAW, m)) == NULL)
		return;
	memcpy(w->registrar_id, id, sizeof(id));
	w->wd = *req;
	w->wd.registrar_id = w->registrar_id;
	rwrite_submit(w);
}

/* An admin sets a registrar's traffic policy (sealed payloads). */
static void
reg_set_policy(struct net_call *call, const ProtobufCMessage *m)
{
	struct rwrite *w = rwrite_new(call, W_POLICY, m);

	if (w != NULL)
		rwrite_submit(w);
}

/* --- Axle.Feed: this node's feed, for peers' mirrors and for admins ----------------- */

static bool
feed_caller_ok(struct net_call *call)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	char err[256];

	if (who->role == NET_ROLE_NODE)
		return true;
	if (net_authz_allows(who, NET_AUTHZ_ADMIN, node->cfg.federation,
	    node->cfg.region, err, sizeof(err)))
		return true;
	net_call_error(call, GRPC_PERMISSION_DENIED, "the feed is for peer nodes "
	    "and this node's admins: %s", who->role == NET_ROLE_ADMIN ? err :
	    "caller is a member");
	return false;
}

/* Drops entries past the byte budget (always keeps the first). */
static size_t
feed_fit(Axle__V1__FeedEntry **e, size_t n)
{
	size_t bytes = 0, keep;

	for (keep = 0; keep < n; keep++) {
		bytes += protobuf_c_message_get_packed_size(&e[keep]->base) + 8;
		if (keep > 0 && bytes > FEED_BYTES_MAX)
			break;
	}
	for (size_t i = keep; i < n; i++)
		pb_free(&e[i]->base);
	return keep;
}

/* Reads the batch and signs the head at its end, in one read transaction. */
static int
feed_read(struct gw_node *node, const Axle__V1__FeedRequest *req,
    Axle__V1__FeedResponse *resp, Axle__V1__SignedHead *head,
    struct registry_outcome *res, MDB_txn *txn)
{
	struct gw_registry *reg = node->registry;
	uint8_t hash[REGISTRY_HASH_LEN];
	uint64_t last, from = req->from_seq > 0 ? req->from_seq : 1;
	size_t limit = req->max_entries > 0 ? req->max_entries : FEED_BATCH_DEFAULT;
	int rc;

	if (limit > FEED_BATCH_MAX)
		limit = FEED_BATCH_MAX;
	if ((rc = registry_db_head(txn, &reg->db, &last, hash, res)) != REGISTRY_OK ||
	    (rc = registry_db_feed_read(txn, &reg->db, from - 1, limit,
	    &resp->entries, &resp->n_entries, res)) != REGISTRY_OK)
		return rc;
	resp->n_entries = feed_fit(resp->entries, resp->n_entries);
	if (resp->n_entries == 0 && last == 0)
		return REGISTRY_OK;	/* an empty feed has no head */
	rc = registry_db_sign_head(txn, &reg->db, resp->n_entries > 0 ?
	    resp->entries[resp->n_entries - 1]->seq : last, reg->sign_key,
	    reg->key_identity, gw_registry_now_ms(), head, res);
	if (rc != REGISTRY_OK)
		return rc;
	head->node_chain = reg->chain;	/* so that relays' nodes verify it too */
	head->n_node_chain = reg->nchain;
	resp->head = head;
	resp->more = head->seq < last;
	return REGISTRY_OK;
}

/* A region this node mirrors: entries up to the next head its origin signed, and that head. */
static int
feed_read_relayed(struct gw_node *node, const Axle__V1__FeedRequest *req,
    Axle__V1__FeedResponse *resp, Axle__V1__SignedHead **head,
    struct registry_outcome *res, MDB_txn *txn)
{
	uint64_t from = req->from_seq > 0 ? req->from_seq : 1;
	int rc = registry_mirror_read(txn, &node->registry->db, req->region,
	    from - 1, &resp->entries, &resp->n_entries, head, res);

	const uint8_t *fresh;
	size_t flen;
	char err[160];

	if (rc != REGISTRY_OK)
		return rc;
	/* At the head: the origin's latest word on it, not the one of its batch. */
	if (resp->n_entries == 0 && gw_mirror_fresh_head(node, req->region,
	    (*head)->seq, &fresh, &flen)) {
		Axle__V1__SignedHead *h = PB_UNPACK(Axle__V1__SignedHead,
		    axle__v1__signed_head, fresh, flen, REGISTRY_RECORD_MAX, err,
		    sizeof(err));

		if (h != NULL) {
			pb_free(&(*head)->base);
			*head = h;
		}
	}
	resp->head = *head;
	resp->more = (*head)->seq < gw_mirror_seq(node, req->region);
	return REGISTRY_OK;
}

static bool
feed_is_own(const struct gw_node *node, const Axle__V1__FeedRequest *req)
{
	return req->region == NULL || req->region[0] == '\0' ||
	    strcmp(req->region, node->cfg.region) == 0;
}

static void
feed_answer(struct net_call *call, const Axle__V1__FeedRequest *req)
{
	struct gw_node *node = net_call_node(call);
	Axle__V1__FeedResponse resp = AXLE__V1__FEED_RESPONSE__INIT;
	Axle__V1__SignedHead head = AXLE__V1__SIGNED_HEAD__INIT, *relayed = NULL;
	struct registry_outcome res = { 0 };
	MDB_txn *txn;
	int rc;

	if ((txn = read_begin(call)) == NULL)
		return;
	rc = feed_is_own(node, req) ? feed_read(node, req, &resp, &head, &res, txn) :
	    feed_read_relayed(node, req, &resp, &relayed, &res, txn);
	mdb_txn_abort(txn);
	if (rc != REGISTRY_OK)
		gw_registry_call_fail(call, rc, &res);
	else
		net_call_reply(call, &resp.base);
	registry_feed_entries_free(resp.entries, resp.n_entries);
	head.node_chain = NULL;		/* the node's, not this answer's */
	head.n_node_chain = 0;
	registry_signed_head_clear(&head);
	if (relayed != NULL)
		pb_free(&relayed->base);
}

/*
 * Long poll: a Feed asking past the head with wait_ms waits here until this
 * node commits a change (feed_wake), its wait or the client's deadline ends,
 * the client goes away or the node drains; then it is answered as usual.
 */
struct feed_wait {
	struct net_call *call;
	const Axle__V1__FeedRequest *req;
	struct gw_node *node;
	struct event *tick;
	int64_t until_ms;
	struct feed_wait *next;
};

static void
feed_unpark(struct feed_wait *fw)
{
	struct feed_wait **pp = (struct feed_wait **)&fw->node->registry->feed_waiters;

	while (*pp != NULL && *pp != fw)
		pp = &(*pp)->next;
	if (*pp == fw)
		*pp = fw->next;
	event_free(fw->tick);
}

static void
feed_tick(evutil_socket_t fd, short what, void *arg)
{
	struct feed_wait *fw = arg;
	struct timeval tv = { 0, FEED_WAIT_TICK_MS * 1000 };

	(void)fd, (void)what;
	if (!net_call_cancelled(fw->call) && !fw->node->draining &&
	    gw_registry_now_ms() < fw->until_ms) {
		evtimer_add(fw->tick, &tv);
		return;
	}
	feed_unpark(fw);
	if (net_call_cancelled(fw->call))
		net_call_error(fw->call, GRPC_CANCELLED, "cancelled");
	else
		feed_answer(fw->call, fw->req);
	free(fw);
}

/* Parks the call; returns -1 (answer now) if it cannot. */
static int
feed_park(struct net_call *call, const Axle__V1__FeedRequest *req)
{
	struct gw_node *node = net_call_node(call);
	struct timeval tv = { 0, FEED_WAIT_TICK_MS * 1000 };
	struct feed_wait *fw = calloc(1, sizeof(*fw));
	int64_t wait = req->wait_ms < FEED_WAIT_MAX_MS ? req->wait_ms : FEED_WAIT_MAX_MS;
	int64_t left = net_call_time_left_ms(call);

	if (fw == NULL)
		return -1;
	if (left >= 0 && left - 500 < wait)
		wait = left - 500;	/* answer before the client gives up */
	if (wait <= 0 || (fw->tick = evtimer_new(node->base, feed_tick, fw)) == NULL) {
		free(fw);
		return -1;
	}
	fw->call = call;
	fw->req = req;
	fw->node = node;
	fw->until_ms = gw_registry_now_ms() + wait;
	fw->next = node->registry->feed_waiters;
	node->registry->feed_waiters = fw;
	evtimer_add(fw->tick, &tv);
	return 0;
}

/* A change committed: every parked Feed gets it now. */
void
gw_registry_feed_wake(struct gw_node *node)
{
	struct feed_wait *fw;

	while ((fw = node->registry->feed_waiters) != NULL) {
		feed_unpark(fw);
		feed_answer(fw->call, fw->req);
		free(fw);
	}
}

void
gw_registry_feed_release(struct gw_node *node)
{
	struct feed_wait *fw;

	while (node->registry != NULL &&
	    (fw = node->registry->feed_waiters) != NULL) {
		feed_unpark(fw);
		net_call_error(fw->call, GRPC_UNAVAILABLE, "node stopping");
		free(fw);
	}
}

static void
axle_feed(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__FeedRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);

	if (!feed_caller_ok(call))
		return;
	if (!feed_is_own(node, req)) {
		/* Relayed: the origin's signature travels with it; we sign nothing. */
		uint64_t held = gw_mirror_seq(node, req->region);

		if (held == 0) {
			net_call_error(call, GRPC_NOT_FOUND, "this node serves the feed "
			    "of %s and relays those it mirrors (Axle.Origins), not %s",
			    node->cfg.region, req->region);
			return;
		}
		if (req->wait_ms > 0 && !node->draining &&
		    (req->from_seq > 0 ? req->from_seq - 1 : 0) == held &&
		    feed_park(call, req) == 0)
			return;
		feed_answer(call, req);
		return;
	}
	if (node->registry->sign_key == NULL) {
		net_call_error(call, GRPC_UNAVAILABLE, "this node's key cannot sign "
		    "its feed head (an EC P-256 key is needed)");
		return;
	}
	/* Park only a peer exactly at our head: one ahead of it must learn now. */
	if (req->wait_ms > 0 && !node->draining &&
	    (req->from_seq > 0 ? req->from_seq - 1 : 0) == node->registry->feed_seq &&
	    feed_park(call, req) == 0)
		return;
	feed_answer(call, req);
}

/* --- Axle.Origins: the feeds this node holds and relays ------------------------------ */

static void
axle_origins(struct net_call *call, const ProtobufCMessage *m)
{
	struct gw_node *node = net_call_node(call);
	Axle__V1__OriginsResponse resp = AXLE__V1__ORIGINS_RESPONSE__INIT;
	size_t max = gw_mirror_count(node) + 1, n = 0;
	Axle__V1__OriginHead *heads = calloc(max, sizeof(*heads));
	Axle__V1__OriginHead **ptrs = calloc(max, sizeof(*ptrs));

	(void)m;
	if (!feed_caller_ok(call))
		goto out;
	if (heads == NULL || ptrs == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if (node->registry->sign_key != NULL) {	/* our own feed, if we can sign it */
		axle__v1__origin_head__init(&heads[0]);
		heads[0].region = node->cfg.region;
		heads[0].seq = node->registry->feed_seq;
		heads[0].head_signed_ms = gw_registry_now_ms();
		n = 1;
	}
	n += gw_mirror_origins(node, heads + n, max - n);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &heads[i];
	resp.origins = ptrs;
	resp.n_origins = n;
	net_call_reply(call, &resp.base);
out:
	free(heads);
	free(ptrs);
}

/* --- ResetMirror (admins of this node) ------------------------------------------ */

static void
reset_mirror_done(void *arg, int status, const char *err, uint64_t dropped_seq,
    bool was_broken)
{
	struct net_call *call = arg;
	Axle__V1__ResetMirrorResponse r = AXLE__V1__RESET_MIRROR_RESPONSE__INIT;

	if (status != GRPC_OK) {
		net_call_error(call, status, "mirror reset failed: %s", err);
		return;
	}
	r.dropped_seq = dropped_seq;
	r.was_broken = was_broken;
	net_call_reply(call, &r.base);
}

static void
reg_reset_mirror(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__ResetMirrorRequest *req = (const void *)m;
	char region[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX + ADDR_MAX_LEN];
	int st;

	if (registry_address_parse(req->region ? req->region : "", req->region ?
	    strlen(req->region) : 0, region, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "bad region: %s", why);
		return;
	}
	if (req->reason == NULL || req->reason[0] == '\0' ||
	    strlen(req->reason) >= REGISTRY_REASON_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "reason: required, at most "
		    "%d bytes (it is logged with your identity)", REGISTRY_REASON_MAX - 1);
		return;
	}
	st = gw_mirror_reset(net_call_node(call), region, net_call_caller(call)->uri,
	    req->reason, reset_mirror_done, call, why, sizeof(why));
	if (st != GRPC_OK)
		net_call_error(call, st, "%s", why);
}

/*
 * Every handler needs the register and the store; a node whose module did not
 * start (or a test harness without one) answers UNAVAILABLE, never crashes.
 */
static int
reg_ready(struct net_call *call)
{
	struct gw_node *node = net_call_node(call);

	if (node->registry != NULL && node->store != NULL)
		return 1;
	net_call_error(call, GRPC_UNAVAILABLE, "the register is not available on this node");
	return 0;
}

#define REG_GUARDED(fn)							\
	static void fn##_guarded(struct net_call *c, const ProtobufCMessage *m) \
	{ if (reg_ready(c)) fn(c, m); }
REG_GUARDED(reg_resolve)
REG_GUARDED(reg_get)
REG_GUARDED(reg_list)
REG_GUARDED(reg_delegate)
REG_GUARDED(reg_set_status)
REG_GUARDED(reg_rehome)
REG_GUARDED(reg_publish)
REG_GUARDED(reg_withdraw)
REG_GUARDED(reg_reset_mirror)
REG_GUARDED(reg_publish_node)
REG_GUARDED(reg_set_policy)
REG_GUARDED(portal_discover)
REG_GUARDED(axle_feed)
REG_GUARDED(axle_origins)

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Registry/Resolve", NET_AUTHZ_ANY,
	  &axle__v1__resolve_request__descriptor, reg_resolve_guarded, 0 },
	{ "/axle.v1.Registry/GetRegistrar", NET_AUTHZ_ANY,
	  &axle__v1__get_registrar_request__descriptor, reg_get_guarded, 0 },
	{ "/axle.v1.Registry/ListRegistrars", NET_AUTHZ_ANY,
	  &axle__v1__list_registrars_request__descriptor, reg_list_guarded, 0 },
	{ "/axle.v1.Registry/Delegate", NET_AUTHZ_ADMIN,
	  &axle__v1__delegate_request__descriptor, reg_delegate_guarded, 0 },
	{ "/axle.v1.Registry/SetStatus", NET_AUTHZ_ADMIN,
	  &axle__v1__set_status_request__descriptor, reg_set_status_guarded, 0 },
	{ "/axle.v1.Registry/ReHome", NET_AUTHZ_ADMIN,
	  &axle__v1__re_home_request__descriptor, reg_rehome_guarded, 0 },
	{ "/axle.v1.Registry/PublishService", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__publish_service_request__descriptor, reg_publish_guarded, 0 },
	{ "/axle.v1.Registry/WithdrawService", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__withdraw_service_request__descriptor, reg_withdraw_guarded, 0 },
	{ "/axle.v1.Registry/ResetMirror", NET_AUTHZ_ADMIN,
	  &axle__v1__reset_mirror_request__descriptor, reg_reset_mirror_guarded, 0 },
	{ "/axle.v1.Registry/PublishNode", NET_AUTHZ_ADMIN,
	  &axle__v1__publish_node_request__descriptor, reg_publish_node_guarded, 0 },
	{ "/axle.v1.Registry/SetPolicy", NET_AUTHZ_ADMIN,
	  &axle__v1__set_policy_request__descriptor, reg_set_policy_guarded, 0 },
	{ "/axle.v1.Portal/Discover", NET_AUTHZ_ANY,
	  &axle__v1__discover_request__descriptor, portal_discover_guarded, 0 },
	/* Peers mirror it; this node's admins verify it (axlectl feed): checked inside. */
	{ "/axle.v1.Axle/Feed", NET_AUTHZ_ANY,
	  &axle__v1__feed_request__descriptor, axle_feed_guarded, 0 },
	{ "/axle.v1.Axle/Origins", NET_AUTHZ_ANY,
	  &axle__v1__origins_request__descriptor, axle_origins_guarded, 0 },
};

const struct net_rpc_service gw_svc_registry = { methods, sizeof(methods) / sizeof(methods[0]) };
