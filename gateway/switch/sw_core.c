/* sw_core.c -- the switch inside a write transaction: resolution from the register, placement, failure policy, receipts, deadlines, holds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway/net/log.h"
#include "proto/envsig.h"
#include "gateway/switch/sw_core.h"
#include "proto/pb.h"
#include "recourse/recourse.h"
#include "registry/db.h"
#include "registry/node_record.h"
#include "registry/purpose.h"

#define SW_DEPTH_MAX	6	/* place -> group copy -> receipt -> ... */
#define REPLY_MATCH_MAX	32
#define RECEIPT_VARIANTS 16	/* HELD / RELEASED receipts per message (sw_receipt) */

static const char *const ev_names[SW_EV__COUNT] = {
	"accepted", "delivered", "fetched", "acked", "held", "released",
	"returned", "discarded", "escalated", "duplicate", "forwarded",
	"rejected", "reply_overdue", "receipts", "hold_expired", "conflict",
	"forgotten",
};

const char *
sw_event_name(enum sw_event e)
{
	return (unsigned)e < SW_EV__COUNT ? ev_names[e] : "?";
}

void
sw_wctx_init(struct sw_wctx *c, const struct sw_ctx *x, MDB_txn *txn,
    int64_t now_ms, struct sw_tally *tally)
{
	memset(c, 0, sizeof(*c));
	c->x = x;
	c->node = x->node;
	c->txn = txn;
	c->now = now_ms;
	c->tally = tally;
	sw_txn_lmdb(x->sw->q, txn, &c->t);
}

bool
sw_is_receipt(const Axle__V1__Envelope *env)
{
	return env->message_type != NULL &&
	    strcmp(env->message_type, SW_RECEIPT_TYPE) == 0;
}

bool
sw_is_system(const Axle__V1__Envelope *env)
{
	return sw_is_receipt(env) || env->returned != NULL ||
	    (env->message_type != NULL &&
	    strcmp(env->message_type, SW_RETURNED_TYPE) == 0);
}

void
sw_count(struct sw_wctx *c, enum sw_event e)
{
	if (c->tally != NULL)
		c->tally->ev[e]++;
	else
		atomic_fetch_add(&c->x->sw->ev[e], 1);
}

void
sw_touch_peer(struct sw_tally *t, const char *peer)
{
	if (t == NULL || t->all_peers)
		return;
	for (size_t i = 0; i < t->npeers; i++)
		if (strcmp(t->peers[i], peer) == 0)
			return;
	if (t->npeers == SW_TOUCH_MAX) {
		t->all_peers = true;
		return;
	}
	snprintf(t->peers[t->npeers++], sizeof(t->peers[0]), "%s", peer);
}

void
sw_touch_box(struct sw_tally *t, const char *box)
{
	if (t == NULL || t->all_boxes)
		return;
	for (size_t i = 0; i < t->nboxes; i++)
		if (strcmp(t->boxes[i], box) == 0)
			return;
	if (t->nboxes == SW_TOUCH_MAX) {
		t->all_boxes = true;
		return;
	}
	snprintf(t->boxes[t->nboxes++], sizeof(t->boxes[0]), "%s", box);
}

/* Records why a step failed and passes its rc on. */
static int
fail(struct sw_wctx *c, int rc, const char *what)
{
	if (c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "%s: %s", what,
		    sw_queue_strerror(rc));
	return rc;
}

Axle__V1__Envelope *
sw_env_unpack(const uint8_t *b, size_t len, char *err, size_t errlen)
{
	return PB_UNPACK(Axle__V1__Envelope, axle__v1__envelope, b, len,
	    (size_t)1 << 30, err, errlen);
}

/* --- resolution from the register, inside the transaction ------------------ */

static void
match_set(struct registry_match *m, enum registry_prefix_kind kind,
    const char *prefix, const char *id, Axle__V1__RegistrarStatus st,
    const char *region)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->prefix = prefix;
	m->prefix_len = strlen(prefix);
	m->registrar_id = id;
	m->registrar_status = st;
	m->region = region;
}

/*
 * p is a node's region: the encloser is that region, served by the next
 * node toward it (p itself over a direct axle, else a node on the tree
 * path). False if no node is known for p.
 */
static bool
region_at(struct sw_wctx *c, const char *p, struct registry_resolution *res,
    struct sw_resbuf *b)
{
	if (!c->x->next_hop(c->x->node, p, b->hop))
		return false;
	snprintf(b->prefix, sizeof(b->prefix), "%s", p);
	snprintf(b->region, sizeof(b->region), "%s", b->hop);
	match_set(&res->encloser, REGISTRY_PREFIX_PEER_REGION, b->prefix, NULL, 0,
	    b->region);
	return true;
}

void
sw_moved_hop(struct sw_wctx *c, const char *region, char *hop)
{
	if (!c->x->next_hop(c->x->node, region, hop))
		snprintf(hop, ADDR_MAX_LEN + 1, "%s", region);
}

/*
 * A local delegation of prefix p: its registrar and standing; of a
 * registrar moved to a split-off region, served by the next node toward it.
 */
static int
local_delegation(struct sw_wctx *c, const char *p, struct registry_resolution *res,
    struct sw_resbuf *b)
{
	const struct registry_db *db = c->x->db;
	Axle__V1__RegistrarStatus st = AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED;
	MDB_val k = { strlen(p), (void *)(uintptr_t)p }, v;
	struct registry_outcome o = { 0 };
	Axle__V1__Registrar *r = NULL;
	int rc = mdb_get(c->txn, db->prefixes, &k, &v);

	if (rc != 0)
		return rc;
	if (v.mv_size == 0 || v.mv_size > ADDR_MAX_LEN)
		return fail(c, SW_Q_CORRUPT, "reg.prefixes");
	memcpy(b->id, v.mv_data, v.mv_size);
	b->id[v.mv_size] = '\0';
	rc = registry_db_get(c->txn, db, NULL, b->id, &r, &o);
	if (rc == REGISTRY_OK)
		st = r->status;
	else if (rc == REGISTRY_ESTORE)
		return fail(c, o.mdb_rc != 0 ? o.mdb_rc : EIO, "register");
	if (rc == REGISTRY_OK && registry_node_of(r, NULL)) {
		/* A child region's node record: that node's region, not a mailbox. */
		pb_free(&r->base);
		return region_at(c, p, res, b) ? 0 : MDB_NOTFOUND;
	}
	snprintf(b->prefix, sizeof(b->prefix), "%s", p);
	snprintf(b->region, sizeof(b->region), "%s", c->x->region);
	if (rc == REGISTRY_OK && r->moved_to != NULL && r->moved_to[0] != '\0')
		sw_moved_hop(c, r->moved_to, b->region);
	pb_free(r != NULL ? &r->base : NULL);
	match_set(&res->match, REGISTRY_PREFIX_DELEGATION, b->prefix, b->id, st,
	    b->region);
	res->encloser = res->match;
	return 0;
}

int
sw_resolve_txn(struct sw_wctx *c, const char *address,
    struct registry_resolution *res, struct sw_resbuf *b)
{
	const char *own = c->x->region;
	char p[ADDR_MAX_LEN + 1], *dot;
	int rc;

	memset(res, 0, sizeof(*res));
	snprintf(p, sizeof(p), "%s", address);
	while (p[0] != '\0') {

		if ((rc = local_delegation(c, p, res, b)) == 0)
			return 0;
		if (rc != MDB_NOTFOUND)
			return fail(c, rc, "register");
		if (strcmp(p, own) == 0) {
			snprintf(b->prefix, sizeof(b->prefix), "%s", p);
			snprintf(b->region, sizeof(b->region), "%s", p);
			match_set(&res->encloser, REGISTRY_PREFIX_OWN_REGION,
			    b->prefix, NULL, 0, b->region);
			return 0;
		}
		if (region_at(c, p, res, b))
			return 0;
		if ((dot = strrchr(p, '.')) == NULL)
			break;
		*dot = '\0';
	}
	/*
	 * No node known for any part of it, and it is not ours: the parent
	 * may know more (traffic goes up the tree, never nowhere). The
	 * encloser names the address's top label as the prefix it stands for.
	 */
	if (c->x->next_hop(c->x->node, NULL, b->hop)) {
		snprintf(p, sizeof(p), "%s", address);
		if ((dot = strchr(p, '.')) != NULL)
			*dot = '\0';
		snprintf(b->prefix, sizeof(b->prefix), "%s", p);
		snprintf(b->region, sizeof(b->region), "%s", b->hop);
		match_set(&res->encloser, REGISTRY_PREFIX_PEER_REGION, b->prefix,
		    NULL, 0, b->region);
	}
	return 0;
}

/* --- routing ------------------------------------------------------------------ */

static uint32_t
hop_limit(const Axle__V1__Envelope *e)
{
	return e->hop_limit != 0 ? e->hop_limit : SW_HOP_LIMIT_DEFAULT;
}

static void
route_recourse(struct sw_route *r, int code, const char *fmt, const char *a,
    const char *b)
{
	r->kind = SW_ROUTE_RECOURSE;
	r->code = code;
	r->target[0] = '\0';
	snprintf(r->reason, sizeof(r->reason), fmt, a, b);
}

/*
 * The route of env from here: sw_route_decide over the register as this
 * transaction sees it, then the node's own rules: a passed delivery
 * deadline, and a group lying wholly in one peer's region goes to that
 * peer to expand (its register is authoritative; our mirror may lag).
 */
static int
decide(struct sw_wctx *c, const Axle__V1__Envelope *env, struct sw_route *rt)
{
	bool group = env->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	struct registry_resolution res;
	struct sw_resbuf b;
	char addr[ADDR_MAX_LEN + 1], e[200];
	int rc;

	if (group && env->to_group != NULL && env->to_group->prefix != NULL) {
		snprintf(addr, sizeof(addr), "%s", env->to_group->prefix);
	} else if (group || sw_address_of(env->to != NULL ? env->to : "", addr,
	    e, sizeof(e)) != 0) {
		memset(rt, 0, sizeof(*rt));
		route_recourse(rt, AXLE__V1__CASE_REASON__CASE_REASON_MALFORMED,
		    "recipient: %s%s", group ? "group without a prefix" : e, "");
		return 0;
	}
	if ((rc = sw_resolve_txn(c, addr, &res, &b)) != 0)
		return rc;
	sw_route_decide(env, c->x->region, &res, group, rt);
	if (rt->kind == SW_ROUTE_EXPAND &&
	    res.encloser.kind == REGISTRY_PREFIX_PEER_REGION) {
		const char *peer = res.encloser.region;

		if (sw_trace_contains(env, peer))
			route_recourse(rt, AXLE__V1__CASE_REASON__CASE_REASON_ROUTING_LOOP,
			    "routing loop: group node %s is already in the trace%s",
			    peer, "");
		else if (env->n_trace - sw_trace_journey(env) + 1 >= hop_limit(env))
			route_recourse(rt, AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT,
			    "hop limit reached before group node %s%s", peer, "");
		else {
			rt->kind = SW_ROUTE_PEER;
			snprintf(rt->target, sizeof(rt->target), "%s", peer);
			snprintf(rt->reason, sizeof(rt->reason), "service group "
			    "under %s: expanded by node %s", addr, peer);
		}
	}
	if (rt->kind != SW_ROUTE_RECOURSE && env->deliver_by_ms > 0 &&
	    env->deliver_by_ms <= c->now)
		route_recourse(rt, AXLE__V1__CASE_REASON__CASE_REASON_DELIVERY_DEADLINE,
		    "delivery deadline passed before delivery (at %s)%s",
		    c->x->region, "");
	return 0;
}

/* --- recording outcomes ----------------------------------------------------------- */

static bool
addr_related(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb) {
		const char *t = a;

		a = b, b = t;
		la = lb;
	}
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '.');
}

static void
parties_of(const Axle__V1__Envelope *env, struct sw_parties *p)
{
	char e[64];

	memset(p, 0, sizeof(*p));
	if (sw_address_of(env->sender != NULL ? env->sender : "", p->sender, e,
	    sizeof(e)) != 0)
		p->sender[0] = '\0';
	if (env->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP &&
	    env->to_group != NULL && env->to_group->prefix != NULL)
		snprintf(p->to, sizeof(p->to), "%s", env->to_group->prefix);
	else if (sw_address_of(env->to != NULL ? env->to : "", p->to, e,
	    sizeof(e)) != 0)
		p->to[0] = '\0';
	snprintf(p->context, sizeof(p->context), "%s",
	    env->context != NULL ? env->context : "");
}

static int
note_parties(struct sw_wctx *c, const Axle__V1__Envelope *env)
{
	struct sw_parties p;
	int rc;

	if (sw_is_system(env))
		return 0;
	parties_of(env, &p);
	if ((rc = sw_parties_put(&c->t, env->message_id.data, &p)) != 0)
		return fail(c, rc, "parties");
	return 0;
}

/*
 * The digest for the mark of the envelope being accepted: the top one's
 * (sw_place_digest), noted as kept; NULL for receipts and copies within.
 */
static const uint8_t *
top_digest(struct sw_wctx *c)
{
	if (c->digest == NULL || c->depth != 1)
		return NULL;
	c->digest_kept = true;
	return c->digest;
}

int
sw_settle(struct sw_wctx *c, const Axle__V1__Envelope *env, enum sw_settle how,
    const char *mailbox, enum sw_state state, const char *where)
{
	const uint8_t *id = env->message_id.data;
	int rc;

	switch (how) {
	case SW_SETTLE_NEW:
		rc = sw_queue_accept_digest(&c->t, id, top_digest(c), NULL, 0,
		    state, where, c->now);
		if (rc == 0)
			rc = note_parties(c, env);
		break;
	case SW_SETTLE_MOVE:
		rc = sw_queue_move(&c->t, id, state, where, NULL, 0, c->now);
		if (rc == SW_Q_NOTFOUND)	/* not ours yet (a child's case) */
			return sw_settle(c, env, SW_SETTLE_NEW, NULL, state, where);
		break;
	default:
		rc = sw_queue_reject(&c->t, mailbox, id, c->now, state, where);
		break;
	}
	return rc != 0 ? fail(c, rc, "record outcome") : 0;
}

/* What the record of a returned or discarded message says: why, and the case. */
static void
end_where(const char *reason, const char *case_id, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", case_id != NULL ? case_id : "",
	    case_id != NULL ? ": " : "", reason);
}

int
sw_end(struct sw_wctx *c, const Axle__V1__Envelope *env, bool ret,
    const char *reason, const char *case_id, enum sw_settle how,
    const char *mailbox, struct sw_placed *out)
{
	char where[SW_WHERE_MAX + 1], idhex[SW_ID_HEX_LEN + 1], q[400],
	    detail[SW_REPORT_DETAIL_MAX + 1];
	int rc;

	end_where(reason, case_id, where, sizeof(where));
	out->state = ret ? SW_STATE_RETURNED : SW_STATE_DISCARDED;
	snprintf(out->where, sizeof(out->where), "%s", where);
	if ((rc = sw_settle(c, env, how, mailbox, out->state, where)) != 0)
		return rc;
	sw_count(c, ret ? SW_EV_RETURNED : SW_EV_DISCARDED);
	if (sw_is_system(env))
		return 0;	/* system envelopes get no receipts */
	sw_message_id_hex(env->message_id.data, idhex);
	net_log(NET_LOG_INFO, ret ? "switch_returned" : "switch_discarded",
	    "id=%s case=%s reason=%s", idhex, case_id != NULL ? case_id : "-",
	    net_log_quote(q, sizeof(q), reason, strlen(reason)));
	snprintf(detail, sizeof(detail), "%s %s%s%s: %s", ret ? "returned to "
	    "the sender by" : "discarded at", c->x->region,
	    case_id != NULL ? " in case " : "", case_id != NULL ? case_id : "",
	    reason);
	snprintf(out->detail, sizeof(out->detail), "%.*s",
	    (int)sizeof(out->detail) - 1, detail);
	if (ret && (rc = sw_return_envelope(c, env, reason, case_id)) != 0)
		return rc;
	return sw_receipt(c, env, ret ? AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RETURNED :
	    AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DISCARDED, detail, case_id);
}

int
sw_policy(struct sw_wctx *c, const Axle__V1__Envelope *env, int reason,
    const char *detail, enum sw_settle how, const char *mailbox,
    struct sw_placed *out)
{
	Axle__V1__FailurePolicy pol = env->failure_policy;
	char idhex[SW_ID_HEX_LEN + 1], q[400];
	int rc;

	if (sw_is_system(env))
		pol = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD;
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	if (pol == AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN ||
	    pol == AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD)
		return sw_end(c, env, pol == AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN,
		    detail, NULL, how, mailbox, out);
	sw_message_id_hex(env->message_id.data, idhex);
	rc = c->x->open_case(c->x->node, c->txn, env, reason, detail, c->now,
	    out->case_id, c->err, sizeof(c->err));
	if (rc != RECOURSE_OK)
		return rc == RECOURSE_ENOMEM ? ENOMEM : EIO;
	out->state = SW_STATE_RECOURSE;
	snprintf(out->where, sizeof(out->where), "%.*s", SW_WHERE_MAX, out->case_id);
	if ((rc = sw_settle(c, env, how, mailbox, SW_STATE_RECOURSE, out->case_id)) != 0)
		return rc;
	sw_count(c, SW_EV_ESCALATED);
	net_log(NET_LOG_INFO, "switch_escalated", "id=%s case=%s reason=%s", idhex,
	    out->case_id, net_log_quote(q, sizeof(q), detail, strlen(detail)));
	return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ESCALATED,
	    detail, out->case_id);
}

int
sw_deliver_deadline_end(struct sw_wctx *c, const uint8_t id[SW_ID_LEN],
    int64_t at_ms)
{
	struct sw_deadline d = { at_ms, SW_DL_DELIVER, { 0 } };
	int rc;

	if (at_ms <= 0)
		return 0;
	memcpy(d.id, id, SW_ID_LEN);
	rc = sw_deadline_del(&c->t, &d);
	return rc != 0 && rc != SW_Q_NOTFOUND ? fail(c, rc, "deadline") : 0;
}

/* --- receipts ------------------------------------------------------------------- */

/*
 * Receipt ids are derived, so the same receipt made twice is de-duplicated:
 * the message id with its last byte flipped by 0x80 | kind, byte 11 by the
 * message's redirects (each journey of a redirected message has receipts of
 * its own) and bytes 12-13 by a hash of the node that says so (ESCALATED
 * from each level of the tree is news, not a duplicate). Derived ids sit
 * next to the message's own in every id-keyed store, so a receipt shares
 * the message's B-tree pages instead of dirtying random ones (a SHA-256
 * derivation would be no harder to forge: the message id is known to those
 * who see the message either way).
 */
static void
system_id(const Axle__V1__Envelope *env, int kind, const char *node,
    uint8_t out[SW_ID_LEN])
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *p = node; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	memcpy(out, env->message_id.data, SW_ID_LEN);
	out[SW_ID_LEN - 1] ^= (uint8_t)(0x80 | (kind & 0x7f));
	out[SW_ID_LEN - 5] ^= (uint8_t)sw_trace_redirects(env);
	out[SW_ID_LEN - 4] ^= (uint8_t)(h >> 8);
	out[SW_ID_LEN - 3] ^= (uint8_t)h;
}

/* system_id's kind for the returned message (no receipt kind is 0x7f). */
#define RETURNED_ID_KIND	0x7f

/* "group KIND under PREFIX" or the address: who a message was for, for a person. */
static void
recipient_text(const Axle__V1__Envelope *env, char *out, size_t len)
{
	const Axle__V1__ServiceGroup *g = env->to_group;
	const ProtobufCEnumValue *k;

	if (env->recipient_case != AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP ||
	    g == NULL) {
		snprintf(out, len, "%s", env->recipient_case ==
		    AXLE__V1__ENVELOPE__RECIPIENT_TO && env->to != NULL ? env->to : "");
		return;
	}
	k = protobuf_c_enum_descriptor_get_value(&axle__v1__service_kind__descriptor,
	    (int)g->kind);
	snprintf(out, len, "group %s under %s", k != NULL ? k->name : "?",
	    g->prefix != NULL ? g->prefix : "");
}

/*
 * Makes e (its body already set) a system envelope from this node to env's
 * sender: id id (SW_ID_LEN bytes, kept by the caller), type, env's context,
 * no trace, the node's default delivery deadline (none if 0), policy discard.
 */
static void
system_header(struct sw_wctx *c, const Axle__V1__Envelope *env,
    Axle__V1__Envelope *e, uint8_t *id, const char *type)
{
	e->message_id.data = id;
	e->message_id.len = SW_ID_LEN;
	e->sender = (char *)c->x->region;
	e->recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e->to = env->sender;
	e->message_type = (char *)type;
	e->context = env->context;
	e->created_ms = c->now;
	/* One that cannot reach its sender's node ends too (discarded). */
	e->deliver_by_ms = c->x->sw->lim.default_deliver_by_ms > 0 ?
	    c->now + c->x->sw->lim.default_deliver_by_ms : 0;
	e->reply_by_ms = 0;
	e->hop_limit = SW_HOP_LIMIT_DEFAULT;
	e->failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD;
	e->n_trace = 0;
	e->trace = NULL;
	e->signature = NULL;	/* the node made it: no hub signed it */
}

int
sw_return_envelope(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const char *reason, const char *case_id)
{
	Axle__V1__ReturnInfo ri = AXLE__V1__RETURN_INFO__INIT;
	Axle__V1__Envelope e;
	struct sw_placed p;
	char to[IDENT_MAX_LEN + 64];
	uint8_t id[SW_ID_LEN];

	if (sw_is_system(env) || env->sender == NULL || env->sender[0] == '\0')
		return 0;
	system_id(env, RETURNED_ID_KIND, c->x->region, id);
	recipient_text(env, to, sizeof(to));
	ri.original_id = env->message_id;
	ri.original_sender = env->sender;
	ri.original_to = to;
	ri.original_message_type = env->message_type != NULL ?
	    env->message_type : (char *)"";
	ri.reason = (char *)reason;
	ri.node = (char *)c->x->region;
	ri.case_id = (char *)(case_id != NULL ? case_id : "");
	ri.at_ms = c->now;
	/* The original, given back: payload and content type kept. */
	e = *env;
	system_header(c, env, &e, id, SW_RETURNED_TYPE);
	e.returned = &ri;
	return sw_place(c, &e, false, &p);
}

int
sw_receipt(struct sw_wctx *c, const Axle__V1__Envelope *env,
    Axle__V1__ReceiptKind kind, const char *detail, const char *case_id)
{
	Axle__V1__Receipt r = AXLE__V1__RECEIPT__INIT;
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	struct sw_placed p;
	uint8_t id[SW_ID_LEN], *payload;
	size_t plen;
	int rc;

	if (sw_is_system(env) || env->sender == NULL || env->sender[0] == '\0')
		return 0;
	r.message_id = env->message_id;
	r.kind = kind;
	r.at_ms = c->now;
	r.node = (char *)c->x->region;
	r.detail = (char *)(detail != NULL ? detail : "");
	r.case_id = (char *)(case_id != NULL ? case_id : "");
	if (kind == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REDIRECTED &&
	    env->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO)
		r.redirect_to = env->to;
	r.original_id = env->original_id;
	system_id(env, kind, c->x->region, id);
	/*
	 * A message may be held and released more than once (suspended again,
	 * re-homed to a suspended successor): each hold, each release and each
	 * arrival in a mailbox after one is news to its sender, so a HELD,
	 * RELEASED or DELIVERED receipt whose id an earlier one took here takes
	 * the next free variant (byte 14 flipped by 1, 2, ...; after
	 * RECEIPT_VARIANTS the duplicate is dropped as before).
	 */
	if (kind == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD ||
	    kind == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RELEASED ||
	    kind == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DELIVERED) {
		bool seen = true;

		for (unsigned v = 1; seen && v < RECEIPT_VARIANTS; v++) {
			if ((rc = sw_queue_seen(&c->t, id, &seen, NULL)) != 0)
				return fail(c, rc, "receipt");
			if (seen)
				id[SW_ID_LEN - 2] = (uint8_t)(env->message_id.data[SW_ID_LEN - 2] ^ v);
		}
	}
	if ((payload = pb_pack(&r.base, 0, &plen)) == NULL)
		return fail(c, ENOMEM, "receipt");
	system_header(c, env, &e, id, SW_RECEIPT_TYPE);
	e.content_type = (char *)SW_RECEIPT_CT;
	e.payload.data = payload;
	e.payload.len = plen;
	rc = sw_place(c, &e, false, &p);
	free(payload);
	if (rc == 0 && !p.duplicate)
		sw_count(c, SW_EV_RECEIPTS);
	return rc;
}

/* --- awaited replies ---------------------------------------------------------------- */

struct reply_scan {
	const Axle__V1__Envelope *reply;
	char from[SW_WHERE_MAX + 1], to[SW_WHERE_MAX + 1];
	uint8_t ids[REPLY_MATCH_MAX][SW_ID_LEN];
	int64_t at[REPLY_MATCH_MAX];
	size_t n;
};

/* Is the reply from the original's recipient to its sender? */
static bool
reply_matches(const uint8_t id[SW_QID_LEN], const uint8_t *hdr, size_t len,
    void *arg)
{
	struct reply_scan *s = arg;
	Axle__V1__Envelope *o = sw_env_unpack(hdr, len, NULL, 0);
	struct sw_parties p;

	if (o == NULL)
		return false;
	parties_of(o, &p);
	if (p.to[0] != '\0' && p.sender[0] != '\0' &&
	    addr_related(p.to, s->from) && addr_related(p.sender, s->to)) {
		memcpy(s->ids[s->n], id, SW_ID_LEN);
		s->at[s->n++] = o->reply_by_ms;
	}
	pb_free(&o->base);
	return s->n == REPLY_MATCH_MAX;
}

/* env landed in a mailbox here: does it answer messages awaiting a reply? */
static int
reply_arrived(struct sw_wctx *c, const Axle__V1__Envelope *env)
{
	const char *ctx = env->context != NULL ? env->context : "";
	struct reply_scan s = { .reply = env };
	struct sw_parties p;
	int rc;

	parties_of(env, &p);
	snprintf(s.from, sizeof(s.from), "%s", p.sender);
	snprintf(s.to, sizeof(s.to), "%s", p.to);
	if (s.from[0] == '\0' || s.to[0] == '\0')
		return 0;
	if ((rc = sw_reply_walk(&c->t, ctx, reply_matches, &s)) != 0)
		return fail(c, rc, "replies");
	for (size_t i = 0; i < s.n; i++) {
		struct sw_deadline d = { s.at[i], SW_DL_REPLY, { 0 } };

		memcpy(d.id, s.ids[i], SW_ID_LEN);
		if ((rc = sw_reply_done(&c->t, ctx, s.ids[i])) != 0 ||
		    ((rc = sw_deadline_del(&c->t, &d)) != 0 && rc != SW_Q_NOTFOUND))
			return fail(c, rc, "replies");
	}
	return 0;
}

/* A message sent here expects a reply by reply_by_ms: index it. */
static int
reply_expect(struct sw_wctx *c, const Axle__V1__Envelope *env)
{
	struct sw_env_view v;
	struct sw_deadline d = { env->reply_by_ms, SW_DL_REPLY, { 0 } };
	uint8_t *hdr;
	size_t len;
	int rc;

	sw_view_init(&v, env);
	v.env.payload.data = NULL;	/* the header is enough for a case */
	v.env.payload.len = 0;
	if ((hdr = sw_view_pack(&v, 0, &len)) == NULL)
		return fail(c, ENOMEM, "reply");
	rc = sw_reply_expect(&c->t, env->context != NULL ? env->context : "",
	    env->message_id.data, hdr, len);
	free(hdr);
	memcpy(d.id, env->message_id.data, SW_ID_LEN);
	if (rc == 0 && (rc = sw_deadline_add(&c->t, &d)) == 0 && c->tally != NULL)
		c->tally->deadline = true;
	return rc != 0 ? fail(c, rc, "reply") : 0;
}

/* --- refusals under the trust policy ------------------------------------------------- */

int
sw_refuse(struct sw_wctx *c, const Axle__V1__Envelope *env,
    enum sw_refusal r, const char *detail, enum sw_settle how,
    struct sw_placed *out)
{
	char where[SW_WHERE_MAX + 1], d[SW_REPORT_DETAIL_MAX + 1];
	int rc;

	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	out->refusal = r;
	if (c->refuse_by_status && c->depth == 1) {
		out->refused = true;
		sw_refused_note(c->x->sw, c->tally, env, r, "send", detail);
		return 0;
	}
	snprintf(where, sizeof(where), "refused: %s", detail);
	out->state = SW_STATE_DISCARDED;
	snprintf(out->where, sizeof(out->where), "%s", where);
	if ((rc = sw_settle(c, env, how, NULL, SW_STATE_DISCARDED, where)) != 0)
		return rc;
	sw_refused_note(c->x->sw, c->tally, env, r, c->depth > 1 ? "group" :
	    c->refuse != NULL ? "forward" : "place", detail);
	snprintf(d, sizeof(d), "refused at %s: %s", c->x->region, detail);
	return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED, d,
	    NULL);
}

/*
 * Does the service of registrar id (this node's) that env's `to` is for
 * take env's purpose (registry_purpose_for_address over the record as txn
 * sees it)? System envelopes and a registrar not in the register: yes.
 * *refused false, or true with why. 0 or a store error.
 */
static int
purpose_local(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const char *id, bool *refused, enum sw_refusal *r, char *why,
    size_t len)
{
	struct registry_outcome o = { 0 };
	Axle__V1__Registrar *reg = NULL;
	char addr[ADDR_MAX_LEN + 1], e[64];
	int v, rc;

	*refused = false;
	if (sw_is_system(env) ||
	    env->recipient_case != AXLE__V1__ENVELOPE__RECIPIENT_TO ||
	    sw_address_of(env->to != NULL ? env->to : "", addr, e, sizeof(e)) != 0)
		return 0;
	rc = registry_db_get(c->txn, c->x->db, NULL, id, &reg, &o);
	if (rc == REGISTRY_ENOTFOUND)
		return 0;
	if (rc != REGISTRY_OK) {
		snprintf(c->err, sizeof(c->err), "register: %s", o.reason);
		return o.mdb_rc != 0 ? o.mdb_rc : SW_Q_CORRUPT;
	}
	v = registry_purpose_for_address(reg, addr, env->purpose, NULL, why, len);
	pb_free(&reg->base);
	if (v != REGISTRY_PURPOSE_OK) {
		*refused = true;
		*r = sw_refusal_of(v);
	}
	return 0;
}

/* --- placing ---------------------------------------------------------------------------- */

/*
 * env's id was seen here: is it the message coming back after a redirect
 * elsewhere (more redirects in its trace than its record here counts)?
 * Then it is placed anew, moving its record (*seen false, *existing true).
 */
static int
redirected_back(struct sw_wctx *c, const Axle__V1__Envelope *env, bool *seen,
    bool *existing)
{
	uint32_t n = sw_trace_redirects(env);
	struct sw_record rec;
	int rc;

	if (n == 0)
		return 0;
	rc = sw_queue_status(&c->t, env->message_id.data, &rec);
	if (rc == SW_Q_NOTFOUND)
		return 0;	/* only its dedup mark is left: a duplicate */
	if (rc != 0)
		return fail(c, rc, "record");
	if (rec.redirects < n) {
		*seen = false;
		*existing = true;
	}
	return 0;
}

/* What a receipt of kind k says of its message, for Status (UNSPECIFIED: nothing to keep). */
static bool
report_final(int k)
{
	return k == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ACKNOWLEDGED ||
	    k == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RETURNED ||
	    k == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DISCARDED ||
	    k == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED;
}

static bool
report_kept(int k)
{
	switch (k) {
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DELIVERED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_FETCHED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ACKNOWLEDGED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RETURNED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ESCALATED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DISCARDED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RELEASED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REDIRECTED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED:
		return true;
	default:
		return false;	/* ACCEPTED, REJECTED (a policy receipt follows), ... */
	}
}

/*
 * A receipt from another node passes through or lands here: if this node
 * has a record of the message it is about, the record keeps what it says
 * (the latest report; a final one -- acknowledged, returned, discarded --
 * is not replaced by a later non-final one). So a sender's node answers
 * Status with where its message went after it left. One bounded field of
 * the existing record: nothing grows.
 */
static int
note_report(struct sw_wctx *c, const Axle__V1__Envelope *env)
{
	const char *own = c->x->region;
	Axle__V1__Receipt *r;
	struct sw_record rec;
	struct sw_report rep;
	int rc = 0;

	if (env->sender != NULL && strcmp(env->sender, own) == 0)
		return 0;	/* ours: the record itself says so */
	r = PB_UNPACK(Axle__V1__Receipt, axle__v1__receipt, env->payload.data,
	    env->payload.len, env->payload.len, NULL, 0);
	if (r == NULL)
		return 0;
	if (!report_kept(r->kind) || r->message_id.len != SW_ID_LEN ||
	    r->node == NULL || r->node[0] == '\0' || strcmp(r->node, own) == 0)
		goto out;
	rc = sw_queue_status(&c->t, r->message_id.data, &rec);
	if (rc == SW_Q_NOTFOUND || rc == SW_Q_CORRUPT) {
		rc = 0;
		goto out;
	}
	if (rc != 0 || (report_final(rec.rep.kind) && !report_final(r->kind)))
		goto out;
	memset(&rep, 0, sizeof(rep));
	rep.kind = r->kind;
	rep.at_ms = r->at_ms;
	rep.noted_ms = c->now;
	snprintf(rep.node, sizeof(rep.node), "%.*s", SW_NAME_MAX, r->node);
	snprintf(rep.case_id, sizeof(rep.case_id), "%.*s", SW_REPORT_CASE_MAX,
	    r->case_id != NULL ? r->case_id : "");
	snprintf(rep.detail, sizeof(rep.detail), "%.*s", SW_REPORT_DETAIL_MAX,
	    r->detail != NULL ? r->detail : "");
	rc = sw_queue_set_report(&c->t, r->message_id.data, &rep);
out:
	pb_free(&r->base);
	return rc != 0 ? fail(c, rc, "report") : 0;
}

int
sw_hop_append(const struct sw_ctx *x, struct sw_env_view *v, int64_t now_ms,
    const char *redirect_case)
{
	uint8_t d[ENVSIG_DIGEST_LEN];
	int rc = sw_trace_append(v, x->region, now_ms, redirect_case);
	size_t n = v->env.n_trace;

	if (rc != 0 || x->sign_hop == NULL)
		return rc;
	if (envsig_digest(&v->env, d) != 0)
		return -ENOMEM;
	(void)x->sign_hop(x->node, d, n > 1 ? v->env.trace[n - 2] : NULL, &v->hop,
	    v->hop_sig, v->hop_kid);
	return 0;
}

/* Is env's last hop this node's, where an admin redirected it? */
static bool
own_redirect_hop(const struct sw_wctx *c, const Axle__V1__Envelope *env)
{
	const Axle__V1__TraceHop *h = env->n_trace > 0 ? env->trace[env->n_trace - 1] : NULL;

	return h != NULL && h->region != NULL && h->redirect_case != NULL &&
	    h->redirect_case[0] != '\0' && strcmp(h->region, c->x->region) == 0;
}

static int
enqueue(struct sw_wctx *c, const Axle__V1__Envelope *env, bool existing,
    enum sw_state state, const char *where, struct sw_placed *out)
{
	const uint8_t *id = env->message_id.data;
	bool receipt = sw_is_system(env);
	struct sw_env_view v;
	uint8_t *buf;
	size_t len;
	int rc;

	sw_view_init(&v, env);
	/* A redirect here appended this node's hop already (sw_redirect_hop). */
	if ((!own_redirect_hop(c, env) && sw_hop_append(c->x, &v, c->now,
	    NULL) != 0) ||
	    (buf = sw_view_pack(&v, 0, &len)) == NULL) {
		sw_view_release(&v);
		return fail(c, ENOMEM, "pack");
	}
	sw_view_release(&v);
	rc = existing ? sw_queue_move(&c->t, id, state, where, buf, len, c->now) :
	    sw_queue_accept_digest(&c->t, id, top_digest(c), buf, len, state,
	    where, c->now);
	free(buf);
	if (rc != 0)
		return fail(c, rc, "enqueue");
	out->state = state;
	snprintf(out->where, sizeof(out->where), "%s", where);
	if (!existing && (rc = note_parties(c, env)) != 0)
		return rc;
	if (env->deliver_by_ms > 0 && state != SW_STATE_MAILBOX) {
		struct sw_deadline d = { env->deliver_by_ms, SW_DL_DELIVER, { 0 } };

		memcpy(d.id, id, SW_ID_LEN);
		if ((rc = sw_deadline_add(&c->t, &d)) != 0)
			return fail(c, rc, "deadline");
		if (c->tally != NULL)
			c->tally->deadline = true;
	}
	if (!existing && !receipt && env->n_trace == 0 && env->reply_by_ms > 0 &&
	    (rc = reply_expect(c, env)) != 0)
		return rc;
	switch (state) {
	case SW_STATE_OUTBOX:
		sw_touch_peer(c->tally, where);
		return 0;
	case SW_STATE_MAILBOX:
		sw_touch_box(c->tally, where);
		if (receipt)
			return 0;
		sw_count(c, SW_EV_DELIVERED);
		if ((rc = reply_arrived(c, env)) != 0)
			return rc;
		snprintf(out->detail, sizeof(out->detail), "in the mailbox of "
		    "registrar %s at %s", where, c->x->region);
		return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DELIVERED,
		    out->detail, NULL);
	default:
		if (receipt)
			return 0;
		sw_count(c, SW_EV_HELD);
		return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD,
		    out->detail, NULL);
	}
}

void
sw_copies_free(struct sw_copies *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* The copies of the top envelope, for the caller's answer. */
static int
copies_note(struct sw_copies *out, const struct sw_group_copy *g, size_t n)
{
	sw_copies_free(out);
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sw_copy *k = &out->v[i];

		memcpy(k->id, g[i].id, SW_ID_LEN);
		snprintf(k->to, sizeof(k->to), "%s", g[i].to);
		snprintf(k->registrar_id, sizeof(k->registrar_id), "%s",
		    g[i].service->registrar_id);
		snprintf(k->service, sizeof(k->service), "%s", g[i].service->name);
	}
	out->n = n;
	return 0;
}

/* A service group expanded here: one copy per service, each placed on its own. */
static int
expand(struct sw_wctx *c, const Axle__V1__Envelope *env, bool existing,
    struct sw_placed *out)
{
	struct sw_group_copy *copies = NULL;
	enum sw_refusal r = SW_REFUSE_PURPOSE_REFUSED;
	void *arena = NULL;
	size_t n = 0, nrefused = 0;
	char where[SW_WHERE_MAX + 1], why[300], d[400];
	int rc;

	if ((rc = sw_group_copies(c, env, &copies, &n, &arena, &nrefused, &r,
	    why, sizeof(why))) != 0) {
		sw_group_free(copies, arena);
		return fail(c, rc, "group");
	}
	if (n == 0 && nrefused > 0) {
		/* Services match, none takes its purpose: refused, not unknown. */
		sw_group_free(copies, arena);
		snprintf(d, sizeof(d), "service group: none of its %zu services "
		    "takes it; %s", nrefused, why);
		return sw_refuse(c, env, r, d, existing ? SW_SETTLE_MOVE :
		    SW_SETTLE_NEW, out);
	}
	if (n == 0) {
		sw_group_free(copies, arena);
		return sw_policy(c, env, AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS,
		    "service group: no matching service in the register",
		    existing ? SW_SETTLE_MOVE : SW_SETTLE_NEW, NULL, out);
	}
	if (c->copies != NULL && c->depth == 1 && (rc = copies_note(c->copies,
	    copies, n)) != 0) {
		sw_group_free(copies, arena);
		return fail(c, rc, "group");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct sw_env_view v;
		struct sw_placed sub;

		sw_view_init(&v, env);
		sw_view_set_recipient(&v, copies[i].id, copies[i].to);
		v.env.original_id = env->message_id;
		/* Its own id and recipient: the hub's signature covered the group's. */
		v.env.signature = NULL;
		/*
		 * A new message, whose journey starts here: the group's trace
		 * (kept with the group message, original_id) would name the
		 * sender's region, and a copy for a service there would be
		 * taken for a loop on its way back down.
		 */
		v.env.trace = NULL;
		v.env.n_trace = 0;
		rc = sw_place(c, &v.env, false, &sub);
		sw_view_release(&v);
	}
	sw_group_free(copies, arena);
	if (rc != 0)
		return rc;
	snprintf(where, sizeof(where), "group: %zu copies", n);
	out->copies = n;
	out->state = SW_STATE_FORWARDED;
	snprintf(out->where, sizeof(out->where), "%s", where);
	if (nrefused > 0)
		snprintf(out->detail, sizeof(out->detail), "service group: %zu "
		    "copies, each with its own id and receipts; none for %zu "
		    "service(s) that do not take its purpose", n, nrefused);
	else
		snprintf(out->detail, sizeof(out->detail), "service group: %zu "
		    "copies, each with its own id and receipts", n);
	return sw_settle(c, env, existing ? SW_SETTLE_MOVE : SW_SETTLE_NEW, NULL,
	    SW_STATE_FORWARDED, where);
}

/*
 * id was accepted before: is env the same envelope (a retry), or another
 * under a used id? Only digests tell; a mark without one is taken as a
 * retry, as before digests were kept.
 */
static int
conflict_check(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const uint8_t digest[SW_DIGEST_LEN], struct sw_placed *out)
{
	const char *sender = env->sender != NULL ? env->sender : "";
	uint8_t kept[SW_DIGEST_LEN];
	char idhex[SW_ID_HEX_LEN + 1], q[300];
	bool has = false;
	int rc = sw_queue_digest_get(&c->t, env->message_id.data, kept, &has);

	if (rc != 0)
		return fail(c, rc, "dedup");
	if (!has || memcmp(kept, digest, SW_DIGEST_LEN) == 0)
		return 0;
	out->conflict = true;
	sw_message_id_hex(env->message_id.data, idhex);
	snprintf(out->detail, sizeof(out->detail), "message_id %s is taken at "
	    "node %.64s by a different message (another recipient, content or "
	    "field): an identical retry is a duplicate, a new message needs a "
	    "new message id", idhex, c->x->region);
	sw_count(c, SW_EV_CONFLICT);
	net_log(NET_LOG_WARN, "switch_id_conflict", "id=%s sender=%s "
	    "reason=\"a used message id with a different envelope: refused\"",
	    idhex, net_log_quote(q, sizeof(q), sender, strlen(sender)));
	return 0;
}

static int place(struct sw_wctx *c, const Axle__V1__Envelope *env,
    bool existing, const uint8_t *digest, struct sw_placed *out);

int
sw_place(struct sw_wctx *c, const Axle__V1__Envelope *env, bool existing,
    struct sw_placed *out)
{
	return place(c, env, existing, NULL, out);
}

int
sw_place_digest(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const uint8_t digest[SW_DIGEST_LEN], struct sw_placed *out)
{
	int rc;

	c->digest = digest;
	c->digest_kept = false;
	rc = place(c, env, false, digest, out);
	c->digest = NULL;
	if (rc != 0 || out->duplicate || out->conflict || out->refused ||
	    c->digest_kept)
		return rc;
	rc = sw_queue_digest_put(&c->t, env->message_id.data, digest);
	return rc != 0 && rc != SW_Q_NOTFOUND ? fail(c, rc, "dedup") : 0;
}

static int
place(struct sw_wctx *c, const Axle__V1__Envelope *env, bool existing,
    const uint8_t *digest, struct sw_placed *out)
{
	struct sw_route rt;
	enum sw_refusal why_r = SW_REFUSE_PURPOSE_REFUSED;
	char why[300];
	bool seen = false, refused = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (env->message_id.len != SW_ID_LEN)
		return fail(c, SW_Q_EINVAL, "message id");
	if (c->depth >= SW_DEPTH_MAX)
		return fail(c, SW_Q_EINVAL, "nesting");
	if (!existing && (rc = sw_queue_seen(&c->t, env->message_id.data, &seen,
	    NULL)) != 0)
		return fail(c, rc, "dedup");
	if (seen && (rc = redirected_back(c, env, &seen, &existing)) != 0)
		return rc;
	if (seen && digest != NULL && ((rc = conflict_check(c, env, digest,
	    out)) != 0 || out->conflict))
		return rc;
	if (seen) {
		out->duplicate = true;
		snprintf(out->detail, sizeof(out->detail), "duplicate: this node "
		    "accepted message id before");
		if (!sw_is_system(env))
			sw_count(c, SW_EV_DUPLICATE);
		return 0;
	}
	c->depth++;
	if (c->depth == 1 && c->refuse != NULL) {
		rc = sw_refuse(c, env, c->refuse_r, c->refuse, existing ?
		    SW_SETTLE_MOVE : SW_SETTLE_NEW, out);
	} else if ((rc = decide(c, env, &rt)) == 0 && (rt.kind == SW_ROUTE_LOCAL_MAILBOX ||
	    rt.kind == SW_ROUTE_HOLD) && (rc = purpose_local(c, env, rt.target,
	    &refused, &why_r, why, sizeof(why))) == 0 && refused) {
		/* Its service does not take its purpose: it goes no further. */
		rc = sw_refuse(c, env, why_r, why, existing ? SW_SETTLE_MOVE :
		    SW_SETTLE_NEW, out);
	} else if (rc == 0) {
		snprintf(out->detail, sizeof(out->detail), "%s", rt.reason);
		switch (rt.kind) {
		case SW_ROUTE_LOCAL_MAILBOX:
			rc = enqueue(c, env, existing, SW_STATE_MAILBOX, rt.target, out);
			break;
		case SW_ROUTE_HOLD:
			rc = enqueue(c, env, existing, SW_STATE_HELD, rt.target, out);
			break;
		case SW_ROUTE_PEER:
			rc = enqueue(c, env, existing, SW_STATE_OUTBOX, rt.target, out);
			break;
		case SW_ROUTE_EXPAND:
			rc = expand(c, env, existing, out);
			break;
		default:
			rc = sw_policy(c, env, rt.code, rt.reason, existing ?
			    SW_SETTLE_MOVE : SW_SETTLE_NEW, NULL, out);
			break;
		}
	}
	if (rc == 0 && !out->refused && !existing && !sw_is_system(env))
		sw_count(c, SW_EV_ACCEPTED);
	if (rc == 0 && sw_trace_redirects(env) > 0 && (rc = sw_queue_set_redirects(
	    &c->t, env->message_id.data, sw_trace_redirects(env))) != 0)
		rc = fail(c, rc, "redirects");
	if (rc == 0 && sw_is_receipt(env))
		rc = note_report(c, env);
	c->depth--;
	return rc;
}

int
sw_route_only(struct sw_wctx *c, const Axle__V1__Envelope *env,
    struct sw_route *rt)
{
	return decide(c, env, rt);
}

const Axle__V1__Envelope *
sw_as_arrived(struct sw_wctx *c, const Axle__V1__Envelope *stored,
    struct sw_env_view *v)
{
	size_t n = stored->n_trace;

	sw_view_init(v, stored);
	/* A redirect hop stays: it starts the journey and counts the redirect. */
	if (n > 0 && stored->trace[n - 1] != NULL &&
	    stored->trace[n - 1]->region != NULL &&
	    strcmp(stored->trace[n - 1]->region, c->x->region) == 0 &&
	    !own_redirect_hop(c, stored))
		v->env.n_trace = n - 1;
	return &v->env;
}

/* --- deadlines ---------------------------------------------------------------------------- */

static const struct sw_peer_trouble *
trouble_of(const char *region, const struct sw_peer_trouble *pt, size_t npt)
{
	for (size_t i = 0; i < npt; i++)
		if (strcmp(pt[i].region, region) == 0)
			return &pt[i];
	return NULL;
}

static int
deadline_deliver(struct sw_wctx *c, const struct sw_deadline *d,
    const struct sw_peer_trouble *pt, size_t npt)
{
	const struct sw_peer_trouble *bad = NULL;
	int reason = AXLE__V1__CASE_REASON__CASE_REASON_DELIVERY_DEADLINE;
	struct sw_placed out;
	struct sw_env_view v;
	struct sw_msg m;
	Axle__V1__Envelope *env;
	char detail[1400];
	int rc = sw_queue_get(&c->t, d->id, &m);

	if (rc == SW_Q_NOTFOUND || rc == SW_Q_CORRUPT)
		return 0;
	if (rc != 0)
		return fail(c, rc, "deadline");
	/* In a mailbox it was delivered; gone on, its deadline is the next node's. */
	if ((m.rec.state != SW_STATE_OUTBOX && m.rec.state != SW_STATE_HELD) ||
	    m.env == NULL || (env = sw_env_unpack(m.env, m.env_len, NULL, 0)) == NULL) {
		sw_msgs_free(&m, 1);
		return 0;
	}
	if (m.rec.state == SW_STATE_OUTBOX)
		bad = trouble_of(m.rec.where, pt, npt);
	if (bad != NULL) {
		reason = AXLE__V1__CASE_REASON__CASE_REASON_PEER_IDENTITY_MISMATCH;
		snprintf(detail, sizeof(detail), "delivery deadline passed while "
		    "waiting in the outbox for %.100s at %.100s: the node at "
		    "%.100s, the address of [peer %.100s], answered as %.200s, "
		    "not %.200s; correct that address in the axled.conf of "
		    "%.100s, reload, then redirect the message", m.rec.where,
		    c->x->region, bad->address, bad->region, bad->answered,
		    bad->expected, c->x->region);
	} else {
		snprintf(detail, sizeof(detail), "delivery deadline passed while "
		    "%s for %s at %s", m.rec.state == SW_STATE_HELD ? "held" :
		    "waiting in the outbox", m.rec.where, c->x->region);
	}
	sw_msgs_free(&m, 1);
	rc = env->deliver_by_ms == d->at_ms ? sw_policy(c, sw_as_arrived(c, env,
	    &v), reason, detail, SW_SETTLE_MOVE, NULL, &out) : 0;
	pb_free(&env->base);
	return rc;
}

static int
deadline_reply(struct sw_wctx *c, const struct sw_deadline *d)
{
	struct sw_parties p;
	Axle__V1__Envelope *env;
	char detail[700], case_id[RECOURSE_ID_MAX];
	uint8_t *hdr;
	size_t len;
	int rc = sw_parties_get(&c->t, d->id, &p);

	if (rc == SW_Q_NOTFOUND || rc == SW_Q_CORRUPT)
		return 0;
	if (rc != 0 || ((rc = sw_reply_get(&c->t, p.context, d->id, &hdr,
	    &len)) != 0 && rc != SW_Q_NOTFOUND))
		return fail(c, rc, "reply deadline");
	if (rc == SW_Q_NOTFOUND)
		return 0;
	env = sw_env_unpack(hdr, len, NULL, 0);
	free(hdr);
	if ((rc = sw_reply_done(&c->t, p.context, d->id)) != 0 || env == NULL) {
		pb_free(env != NULL ? &env->base : NULL);
		return rc != 0 ? fail(c, rc, "reply deadline") : 0;
	}
	snprintf(detail, sizeof(detail), "no reply in context \"%.200s\" from %s "
	    "by the reply deadline", p.context, p.to);
	rc = c->x->open_case(c->x->node, c->txn, env,
	    AXLE__V1__CASE_REASON__CASE_REASON_REPLY_OVERDUE, detail, c->now,
	    case_id, c->err, sizeof(c->err));
	if (rc == RECOURSE_OK) {
		sw_count(c, SW_EV_REPLY_OVERDUE);
		sw_count(c, SW_EV_ESCALATED);
		rc = sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REPLY_OVERDUE,
		    detail, case_id);
	} else {
		rc = EIO;
	}
	pb_free(&env->base);
	return rc;
}

/* "3h 5m", "12m 4s", "1.5s": how long, for a person. */
static void
duration_text(int64_t ms, char *out, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms >= 3600000)
		snprintf(out, len, "%lldh %lldm", (long long)(ms / 3600000),
		    (long long)(ms % 3600000 / 60000));
	else if (ms >= 60000)
		snprintf(out, len, "%lldm %llds", (long long)(ms / 60000),
		    (long long)(ms % 60000 / 1000));
	else
		snprintf(out, len, "%lld.%llds", (long long)(ms / 1000),
		    (long long)(ms % 1000 / 100));
}

/*
 * Why a held message whose hold limit passed must now be settled: its
 * registrar's standing gives the case reason. False when the registrar is
 * active again, or revoked and re-homed to a successor that takes traffic:
 * the held sweep (gw_switch.c) releases it. A successor revoked in turn
 * takes nothing: the message is settled as revoked.
 */
static int
hold_reason(struct sw_wctx *c, const char *registrar, int *reason,
    char *standing, size_t len, bool *due)
{
	Axle__V1__RegistrarStatus st, sst;
	char successor[ADDR_MAX_LEN + 1];
	bool rehomed = false;
	int rc;

	if ((rc = sw_registrar_get(c->x, c->txn, registrar, &st, successor,
	    sizeof(successor))) != 0)
		return fail(c, rc, "register");
	if (st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED &&
	    successor[0] != '\0') {
		if ((rc = sw_registrar_get(c->x, c->txn, successor, &sst, NULL,
		    0)) != 0)
			return fail(c, rc, "register");
		rehomed = sw_takes_traffic(sst);
	}
	*due = st != AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE && !rehomed;
	*reason = st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED ?
	    AXLE__V1__CASE_REASON__CASE_REASON_REGISTRAR_REVOKED :
	    AXLE__V1__CASE_REASON__CASE_REASON_REGISTRAR_SUSPENDED;
	snprintf(standing, len, "%s", st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED ?
	    (successor[0] != '\0' ? "was revoked and its successor takes no traffic" :
	    "was revoked and not re-homed") :
	    st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED ?
	    "stayed suspended" : "is not in the register");
	return 0;
}

/*
 * The hold limit of a held message passed: if it is still in the same hold
 * (not released, re-homed or settled since: its entry carries this very
 * deadline), its failure policy settles it like any other failure.
 */
static int
deadline_hold(struct sw_wctx *c, const struct sw_deadline *d)
{
	struct sw_placed out;
	struct sw_env_view v;
	struct sw_msg m;
	Axle__V1__Envelope *env;
	char detail[800], standing[64], held[32], limit[32];
	int reason = 0, rc = sw_queue_get(&c->t, d->id, &m);
	bool due = false;

	if (rc == SW_Q_NOTFOUND || rc == SW_Q_CORRUPT)
		return 0;
	if (rc != 0)
		return fail(c, rc, "hold limit");
	if (m.rec.state != SW_STATE_HELD || m.rec.hold_until_ms != d->at_ms ||
	    m.env == NULL || (rc = hold_reason(c, m.rec.where, &reason, standing,
	    sizeof(standing), &due)) != 0 || !due ||
	    (env = sw_env_unpack(m.env, m.env_len, NULL, 0)) == NULL) {
		sw_msgs_free(&m, 1);
		return rc;
	}
	duration_text(c->now - m.rec.enqueued_ms, held, sizeof(held));
	duration_text(d->at_ms - m.rec.enqueued_ms, limit, sizeof(limit));
	/* Advice is for the admin of a case; a return or discard ends it here. */
	snprintf(detail, sizeof(detail), "registrar %s %s past the hold limit: "
	    "held at %s for %s (limit %s)%s", m.rec.where, standing,
	    c->x->region, held, limit, env->failure_policy ==
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE && !sw_is_system(env) ?
	    "; contact the registrar, then redirect or return the message" : "");
	sw_msgs_free(&m, 1);
	sw_count(c, SW_EV_HOLD_EXPIRED);
	rc = sw_policy(c, sw_as_arrived(c, env, &v), reason, detail,
	    SW_SETTLE_MOVE, NULL, &out);
	if (rc == 0)
		rc = sw_deliver_deadline_end(c, d->id, env->deliver_by_ms);
	pb_free(&env->base);
	return rc;
}

/* Retention: an ended message's record and mark go when their time came. */
static int
deadline_forget(struct sw_wctx *c, const struct sw_deadline *d)
{
	bool forgot = false;
	int rc = sw_queue_forget(&c->t, d->id, c->now, &forgot);

	if (rc == SW_Q_CORRUPT)
		return 0;	/* a record nobody can read: left for an admin to see */
	if (rc != 0)
		return fail(c, rc, "retention");
	if (forgot)
		sw_count(c, SW_EV_FORGOTTEN);
	return 0;
}

int
sw_deadlines_run(struct sw_wctx *c, const struct sw_deadline *d, size_t n,
    const struct sw_peer_trouble *pt, size_t npt)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		rc = sw_deadline_del(&c->t, &d[i]);
		if (rc == SW_Q_NOTFOUND)
			continue;	/* done by an earlier run */
		if (rc != 0)
			return fail(c, rc, "deadline");
		rc = d[i].kind == SW_DL_DELIVER ?
		    deadline_deliver(c, &d[i], pt, npt) :
		    d[i].kind == SW_DL_HOLD ? deadline_hold(c, &d[i]) :
		    d[i].kind == SW_DL_FORGET ? deadline_forget(c, &d[i]) :
		    deadline_reply(c, &d[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* --- a registrar's standing ------------------------------------------------------------------ */

int
sw_registrar_get(const struct sw_ctx *x, MDB_txn *txn, const char *id,
    Axle__V1__RegistrarStatus *st, char *successor, size_t len)
{
	struct registry_outcome o = { 0 };
	Axle__V1__Registrar *r = NULL;
	int rc = registry_db_get(txn, x->db, NULL, id, &r, &o);

	*st = rc == REGISTRY_OK ? r->status :
	    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED;
	if (successor != NULL && len > 0)
		snprintf(successor, len, "%s", rc == REGISTRY_OK &&
		    r->successor_id != NULL ? r->successor_id : "");
	pb_free(r != NULL ? &r->base : NULL);
	return rc == REGISTRY_ESTORE ? (o.mdb_rc != 0 ? o.mdb_rc : EIO) : 0;
}

int
sw_registrar_moved_to(const struct sw_ctx *x, MDB_txn *txn, const char *id,
    char *region, size_t len)
{
	struct registry_outcome o = { 0 };
	Axle__V1__Registrar *r = NULL;
	int rc = registry_db_get(txn, x->db, NULL, id, &r, &o);

	snprintf(region, len, "%s", rc == REGISTRY_OK && r->moved_to != NULL ?
	    r->moved_to : "");
	pb_free(r != NULL ? &r->base : NULL);
	return rc == REGISTRY_ESTORE ? (o.mdb_rc != 0 ? o.mdb_rc : EIO) : 0;
}

bool
sw_takes_traffic(Axle__V1__RegistrarStatus st)
{
	return st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE ||
	    st == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED;
}

/* What the sender of each message a standing change moves is told. */
struct moved_note {
	struct sw_wctx *c;
	Axle__V1__ReceiptKind kind;
	char detail[400];
};

/*
 * A held message released into a mailbox is delivered there like any other:
 * counted, awaited replies matched, and a DELIVERED receipt after RELEASED.
 */
static int
released_delivered(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const char *mailbox)
{
	char detail[SW_WHERE_MAX + 64 + ADDR_MAX_LEN];
	int rc;

	if (sw_is_receipt(env))
		return 0;
	sw_count(c, SW_EV_DELIVERED);
	if ((rc = reply_arrived(c, env)) != 0)
		return rc;
	snprintf(detail, sizeof(detail), "in the mailbox of registrar %s at %s",
	    mailbox, c->x->region);
	return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DELIVERED,
	    detail, NULL);
}

/*
 * sw_queue_hold and sw_queue_release call this for each message they move,
 * in the same transaction: its sender gets the HELD or RELEASED receipt,
 * committed with the move or not at all (sw_receipt sends none about a
 * receipt: system envelopes never get receipts).
 */
static int
moved_receipt(struct sw_txn *t, const struct sw_msg *m, void *arg)
{
	struct moved_note *n = arg;
	Axle__V1__Envelope *env;
	char idhex[SW_ID_HEX_LEN + 1];
	int rc;

	(void)t;			/* &n->c->t */
	if (m->env == NULL || (env = sw_env_unpack(m->env, m->env_len, NULL,
	    0)) == NULL) {
		net_log(NET_LOG_WARN, "switch_receipt_skipped", "id=%s state=%s "
		    "reason=\"the stored envelope does not decode\"",
		    sw_message_id_hex(m->rec.id, idhex), sw_state_name(m->rec.state));
		return 0;
	}
	rc = sw_receipt(n->c, env, n->kind, n->detail, NULL);
	if (rc == 0 && m->rec.state == SW_STATE_MAILBOX &&
	    (rc = sw_deliver_deadline_end(n->c, m->rec.id, env->deliver_by_ms)) == 0)
		rc = released_delivered(n->c, env, m->rec.where);
	pb_free(&env->base);
	return rc;
}

/*
 * A revoked registrar re-homed to successor (standing sst: active or
 * suspended): its mailbox (in flight or not) and its held messages go to
 * the successor, in acceptance order, each sender told once.
 */
static int
rehome(struct sw_wctx *c, const char *id, const char *successor,
    Axle__V1__RegistrarStatus sst, size_t *moved)
{
	struct moved_note note = { c, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RELEASED, "" };
	const char *region = c->x->region;
	bool active = sst == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE;
	size_t k = 0;
	int rc;

	if ((rc = sw_queue_hold(&c->t, id, SIZE_MAX, c->now, &k, NULL, NULL)) != 0)
		return fail(c, rc, "hold");
	if (active) {
		snprintf(note.detail, sizeof(note.detail), "registrar %s was "
		    "revoked and re-homed to %s: released into the mailbox of %s "
		    "at %s", id, successor, successor, region);
	} else {
		/* Still held, now for the successor, with a new hold limit. */
		note.kind = AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD;
		snprintf(note.detail, sizeof(note.detail), "registrar %s was "
		    "revoked and re-homed to %s, which is suspended: held at %s "
		    "until %s is reactivated", id, successor, region, successor);
	}
	rc = sw_queue_release(&c->t, id, active ? SW_STATE_MAILBOX : SW_STATE_HELD,
	    successor, SIZE_MAX, c->now, &k, moved_receipt, &note);
	if (active && k > 0)
		sw_touch_box(c->tally, successor);
	for (size_t i = 0; i < k; i++)
		sw_count(c, SW_EV_RELEASED);
	*moved = k;
	return rc != 0 ? fail(c, rc, "release") : 0;
}

/*
 * The moves below have no bound (SIZE_MAX): a registrar's whole mailbox or
 * held queue moves, with a receipt per message, in the one transaction of
 * its standing change, so that no message is left behind the change. A
 * mailbox entry in flight (fetched, not acknowledged) moves too: its fetch
 * ends there, so nothing comes back to a mailbox nobody may fetch when its
 * visibility timeout runs out.
 *
 * REVOKED: with a successor that takes traffic (re-homing), the mailbox
 * goes the way the held messages go -- into held first, without receipts
 * (one move, not two), then released with them in acceptance order: into
 * the successor's mailbox (RELEASED receipts), or held there if it is
 * suspended (HELD receipts, a new hold limit). Without one, the mailbox is
 * held like a suspension's (HELD receipts naming the revocation): the hold
 * limit settles it by failure policy (REGISTRAR_REVOKED) unless the
 * prefixes are re-homed first.
 */
int
sw_registrar_moved_txn(struct sw_wctx *c, const char *id, const char *region,
    size_t *moved)
{
	char hop[ADDR_MAX_LEN + 1];
	size_t k = 0;
	int rc;

	*moved = 0;
	sw_moved_hop(c, region, hop);
	if ((rc = sw_queue_hold(&c->t, id, SIZE_MAX, c->now, &k, NULL, NULL)) != 0)
		return fail(c, rc, "hold");
	if ((rc = sw_queue_release(&c->t, id, SW_STATE_OUTBOX, hop, SIZE_MAX,
	    c->now, &k, NULL, NULL)) != 0)
		return fail(c, rc, "release");
	if (k > 0)
		sw_touch_peer(c->tally, hop);
	*moved = k;
	return 0;
}

int
sw_registrar_txn(struct sw_wctx *c, const char *id,
    Axle__V1__RegistrarStatus status, const char *successor, size_t *moved)
{
	Axle__V1__RegistrarStatus sst = AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED;
	struct moved_note note = { c, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RELEASED, "" };
	const char *region = c->x->region;
	char to[ADDR_MAX_LEN + 1];
	size_t k = 0;
	int rc = 0;

	*moved = 0;
	if ((rc = sw_registrar_moved_to(c->x, c->txn, id, to, sizeof(to))) != 0)
		return fail(c, rc, "register");
	if (to[0] != '\0')
		return sw_registrar_moved_txn(c, id, to, moved);
	switch (status) {
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE:
		snprintf(note.detail, sizeof(note.detail), "registrar %s is active "
		    "again: released into its mailbox at %s", id, region);
		rc = sw_queue_release(&c->t, id, SW_STATE_MAILBOX, id, SIZE_MAX,
		    c->now, &k, moved_receipt, &note);
		if (k > 0)
			sw_touch_box(c->tally, id);
		break;
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED:
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED:
		if (status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED &&
		    successor != NULL && successor[0] != '\0' &&
		    (rc = sw_registrar_get(c->x, c->txn, successor, &sst, NULL,
		    0)) != 0)
			return fail(c, rc, "register");
		if (sw_takes_traffic(sst))
			return rehome(c, id, successor, sst, moved);
		note.kind = AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD;
		if (status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED)
			snprintf(note.detail, sizeof(note.detail), "registrar %s is "
			    "suspended: held at %s until it is reactivated", id,
			    region);
		else
			snprintf(note.detail, sizeof(note.detail), "registrar %s was "
			    "revoked: held at %s until its prefixes are re-homed to a "
			    "successor; past the hold limit, the failure policy "
			    "applies", id, region);
		rc = sw_queue_hold(&c->t, id, SIZE_MAX, c->now, &k, moved_receipt,
		    &note);
		for (size_t i = 0; i < k; i++)
			sw_count(c, SW_EV_HELD);
		*moved = k;
		return rc != 0 ? fail(c, rc, "hold") : 0;
	default:
		return 0;
	}
	for (size_t i = 0; i < k; i++)
		sw_count(c, SW_EV_RELEASED);
	*moved = k;
	return rc != 0 ? fail(c, rc, "release") : 0;
}
