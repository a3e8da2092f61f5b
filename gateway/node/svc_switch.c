/* svc_switch.c -- axle.v1.Switch (members send, fetch, acknowledge, reject, ask) and axle.v1.Axle/Forward (nodes hand messages on). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/switch.pb-c.h"
#include "gateway/node/gw_purpose.h"
#include "gateway/node/gw_registry.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/seal_policy.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"
#include "gateway/switch/sw_core.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/gw_trust.h"
#include "gateway/node/outbox.h"
#include "proto/pb.h"

#define ACK_MAX		1000	/* ids per Ack */
#define FORWARD_MAX	1024	/* envelopes per Forward */
#define REASON_MAX	1000	/* bytes of a Reject reason */

static int
status_of(int rc)
{
	return rc == SW_Q_EINVAL ? GRPC_INVALID_ARGUMENT : gw_store_rc_grpc_status(rc);
}

/*
 * Answers the call with an error and returns true if the switch is
 * stopping, or the caller is a member of a revoked registrar: its
 * certificate is refused at once (gw_registry_member_revoked), also once
 * its prefixes are re-homed, so it can neither send nor read the mailbox
 * its address now falls to (the successor's).
 */
static bool
switch_down(struct gw_node *node, struct net_call *call)
{
	const struct net_identity *who = net_call_caller(call);

	if (node->sw == NULL || node->sw->stopping) {
		net_call_error(call, GRPC_UNAVAILABLE, "the node is shutting down");
		return true;
	}
	if (gw_registry_member_revoked(node, who)) {
		net_call_error(call, GRPC_PERMISSION_DENIED, "certificate %s belongs "
		    "to a revoked registrar: refused", who->uri);
		return true;
	}
	return false;
}

/*
 * The mailbox a member may use: the registrar of this node whose
 * delegation covers `address` ("": the member's own address), which must
 * lie inside the member's prefix. Returns a gRPC status with a reason.
 */
static int
member_mailbox(struct net_call *call, const char *address, char *box,
    size_t boxlen, char *err, size_t errlen)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	struct registry_resolution res;
	struct net_identity as;
	char addr[ADDR_MAX_LEN + 1], e[300];

	if (address == NULL || address[0] == '\0')
		snprintf(addr, sizeof(addr), "%s", who->address);
	else if (registry_address_parse(address, strlen(address), addr, e,
	    sizeof(e)) != 0) {
		snprintf(err, errlen, "mailbox: %s", e);
		return GRPC_INVALID_ARGUMENT;
	}
	/* A registrar's own certificate also holds the prefixes re-homed to it. */
	gw_registry_acting_identity(node, who, addr, &as);
	if (!net_authz_member_covers(&as, addr, e, sizeof(e))) {
		snprintf(err, errlen, "%s", e);
		return GRPC_PERMISSION_DENIED;
	}
	if (!gw_registry_resolve(node, addr, &res) ||
	    res.match.kind != REGISTRY_PREFIX_DELEGATION ||
	    res.match.region == NULL ||
	    strcmp(res.match.region, node->cfg.region) != 0) {
		snprintf(err, errlen, "no registrar of node %s holds %s: its "
		    "mailbox is at the node that serves it", node->cfg.region, addr);
		return GRPC_FAILED_PRECONDITION;
	}
	/*
	 * A mailbox holds everything addressed under the registrar's whole
	 * delegation: a certificate for a narrower prefix would read other
	 * agencies' messages, so it is refused rather than filtered.
	 */
	if (!registry_address_covers(as.address, res.match.prefix)) {
		snprintf(err, errlen, "the mailbox of registrar %s holds messages "
		    "for all of %s; member %s covers only part of it: use a "
		    "certificate for %s", res.match.registrar_id,
		    res.match.prefix, who->address, res.match.prefix);
		return GRPC_PERMISSION_DENIED;
	}
	snprintf(box, boxlen, "%s", res.match.registrar_id);
	return GRPC_OK;
}

/* --- Send ------------------------------------------------------------------------- */

struct send_op {
	struct net_call *call;
	Axle__V1__Envelope *env;
	uint8_t digest[SW_DIGEST_LEN];
	struct sw_placed placed;
	struct sw_copies copies;	/* a group expanded here */
	int64_t at;
	bool refuse;			/* gw_purpose_refused: refuse_why */
	enum sw_refusal refuse_r;
	char refuse_why[400];
};

static void status_detail(const struct sw_record *r, const char *region,
    int64_t now, char *out, size_t len);

/*
 * A Send of a message id this node accepted before from the same sender
 * address (a retry after a lost answer) is answered like the first one, as
 * things stand now: where the message is in the detail and, while a
 * recourse case holds it, the case id. Anyone else whose id clashes learns
 * nothing about another's message (as Status would tell them nothing).
 */
static void
send_duplicate(struct sw_wctx *c, const Axle__V1__Envelope *env,
    struct sw_placed *p)
{
	char addr[ADDR_MAX_LEN + 1], e[64], now[300];
	struct sw_parties parties;
	struct sw_record rec;

	if (sw_address_of(env->sender != NULL ? env->sender : "", addr, e,
	    sizeof(e)) != 0 ||
	    sw_parties_get(&c->t, env->message_id.data, &parties) != 0 ||
	    strcmp(parties.sender, addr) != 0 ||
	    sw_queue_status(&c->t, env->message_id.data, &rec) != 0)
		return;		/* the plain "duplicate" answer */
	status_detail(&rec, c->node->cfg.region, c->now, now, sizeof(now));
	p->state = rec.state;
	snprintf(p->where, sizeof(p->where), "%s", rec.where);
	if (rec.state == SW_STATE_RECOURSE)
		snprintf(p->case_id, sizeof(p->case_id), "%.*s",
		    (int)sizeof(p->case_id) - 1, rec.where);
	snprintf(p->detail, sizeof(p->detail), "duplicate: this node accepted "
	    "message id before; now %.250s", now);
}

static int
send_write(struct sw_wctx *c, void *arg)
{
	struct send_op *op = arg;
	int rc;

	op->at = c->now;
	c->copies = &op->copies;
	c->refuse_by_status = true;
	c->refuse = op->refuse ? op->refuse_why : NULL;
	c->refuse_r = op->refuse_r;
	rc = sw_place_digest(c, op->env, op->digest, &op->placed);
	c->copies = NULL;
	c->refuse_by_status = false;
	c->refuse = NULL;
	if (rc == 0 && op->placed.duplicate)
		send_duplicate(c, op->env, &op->placed);
	return rc;
}

static void
receipt_fill(Axle__V1__Receipt *r, const struct gw_node *node,
    const ProtobufCBinaryData *id, Axle__V1__ReceiptKind kind, int64_t at,
    const char *detail, const char *case_id)
{
	axle__v1__receipt__init(r);
	r->message_id = *id;
	r->kind = kind;
	r->at_ms = at;
	r->node = (char *)node->cfg.region;
	r->detail = (char *)detail;
	r->case_id = (char *)case_id;
}

/* The Send answer: the receipt, and the copies of a group expanded here. */
static void
send_reply(struct gw_node *node, struct send_op *op)
{
	Axle__V1__SendResponse resp = AXLE__V1__SEND_RESPONSE__INIT;
	Axle__V1__GroupCopy *gc = NULL, **gp = NULL;
	size_t n = op->copies.n;
	Axle__V1__Receipt r;

	receipt_fill(&r, node, &op->env->message_id,
	    AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ACCEPTED, op->at,
	    op->placed.detail, op->placed.case_id);
	resp.receipt = &r;
	if (n > 0 && ((gc = calloc(n, sizeof(*gc))) == NULL ||
	    (gp = calloc(n, sizeof(*gp))) == NULL)) {
		/* Committed: answer without the list rather than not at all. */
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct sw_copy *k = &op->copies.v[i];

		axle__v1__group_copy__init(&gc[i]);
		gc[i].message_id.data = k->id;
		gc[i].message_id.len = SW_ID_LEN;
		gc[i].to = k->to;
		gc[i].registrar_id = k->registrar_id;
		gc[i].service = k->service;
		gp[i] = &gc[i];
	}
	resp.copies = gp;
	resp.n_copies = n;
	net_call_reply(op->call, &resp.base);
	free(gc);
	free(gp);
}

static void
send_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct send_op *op = arg;

	if (rc != 0)
		net_call_error(op->call, status_of(rc), "not committed: %s", err);
	else if (op->placed.conflict)
		net_call_error(op->call, GRPC_ALREADY_EXISTS, "%s", op->placed.detail);
	else if (op->placed.refused)
		net_call_error(op->call, op->placed.refusal ==
		    SW_REFUSE_PURPOSE_MISSING ? GRPC_INVALID_ARGUMENT :
		    GRPC_PERMISSION_DENIED, "refused: %s", op->placed.detail);
	else
		send_reply(node, op);
	sw_copies_free(&op->copies);
	free(op);
}

/*
 * The identity whose prefix the sender address is checked against: the
 * caller's, or for a registrar's own certificate the delegation of its that
 * covers the sender (gw_registry_acting_identity). An unparsable sender is
 * left to sw_envelope_check to explain.
 */
static const struct net_identity *
sender_identity(struct gw_node *node, const struct net_identity *who,
    const Axle__V1__Envelope *env, struct net_identity *as)
{
	char addr[ADDR_MAX_LEN + 1], e[200];

	if (who == NULL || who->role != NET_ROLE_MEMBER || env->sender == NULL ||
	    sw_address_of(env->sender, addr, e, sizeof(e)) != 0)
		return who;
	gw_registry_acting_identity(node, who, addr, as);
	return as;
}

/* A payload refused for not being sealed: who sent it, to whom; never the payload. */
static void
unsealed_log(const char *from, const Axle__V1__Envelope *e, const char *rid)
{
	char id[SW_ID_HEX_LEN + 1], q[300];

	if (e->message_id.len == SW_ID_LEN)
		sw_message_id_hex(e->message_id.data, id);
	else
		snprintf(id, sizeof(id), "-");
	net_log(NET_LOG_WARN, "switch_unsealed_refused", "id=%s from=%s "
	    "registrar=%s type=%s", id, from, rid, net_log_quote(q, sizeof(q),
	    e->message_type != NULL ? e->message_type : "",
	    e->message_type != NULL ? strlen(e->message_type) : 0));
}

static void
gw_send(struct net_call *call, const ProtobufCMessage *req)
{
	struct gw_node *node = net_call_node(call);
	Axle__V1__Envelope *env = (Axle__V1__Envelope *)req;	/* owned by the call */
	struct net_identity as;
	struct sw_given given;
	struct send_op *op;
	char reason[700], rid[REGISTRY_ID_MAX + 1];
	int st, rc;

	if (switch_down(node, call))
		return;
	st = sw_envelope_check(env, sender_identity(node, net_call_caller(call),
	    env, &as), gw_now_ms(), &node->sw->lim, reason, sizeof(reason));
	if (st != GRPC_OK) {
		net_call_error(call, st, "%s", reason);
		return;
	}
	if (sw_is_system(env)) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "message_type \"%s\" and "
		    "\"%s\", and the field returned, are reserved for what nodes "
		    "make (receipts, returned messages)", SW_RECEIPT_TYPE,
		    SW_RETURNED_TYPE);
		return;
	}
	if (env->n_trace > 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "trace: set by nodes, "
		    "not by senders (send it empty)");
		return;
	}
	if (env->original_id.len > 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "original_id: set by "
		    "the node that expands a group, not by senders (send it empty)");
		return;
	}
	if ((st = gw_trust_check(node, env, false, reason, sizeof(reason))) != GRPC_OK) {
		net_call_error(call, st, "%s", reason);
		return;
	}
	if (gw_seal_refuses(node, env, reason, sizeof(reason), rid, sizeof(rid))) {
		unsealed_log(net_call_caller(call)->uri, env, rid);
		atomic_fetch_add(&node->sw->refused[SW_REFUSE_UNSEALED], 1);
		net_call_error(call, GRPC_FAILED_PRECONDITION, "%s", reason);
		return;
	}
	sw_envelope_given(env, &given);
	sw_envelope_normalise(env, gw_now_ms(), &node->sw->lim);
	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    sw_envelope_digest(env, &given, op->digest) != 0) {
		free(op);
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	op->env = env;
	op->refuse = gw_purpose_refused(node, env, &op->refuse_r, op->refuse_why,
	    sizeof(op->refuse_why));
	if ((rc = gw_submit_new(node, send_write, send_done, op)) != 0) {
		free(op);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is not taking "
		    "writes: %s", gw_store_strerror(rc));
	}
}

/* --- Fetch ---------------------------------------------------------------------------- */

struct gw_waiter {
	struct gw_waiter *next;
	struct gw_node *node;
	struct net_call *call;
	struct event *timer;		/* the end of the wait */
	char mailbox[SW_NAME_MAX + 1];
	uint32_t max, sent;
	int64_t vis_ms, wait_ms;
	bool busy, expired;
};

/*
 * How many messages one write transaction of Fetch or Ack may take: all of
 * them, except at the store's high-water mark, where every commit must fit
 * in what is left of the reserve. A Fetch rewrites each message it hands out
 * (its visibility timeout): a quarter of the reserve holds per_msg-byte
 * messages this many times. An Ack drops envelopes, but the pages it frees
 * are reusable only after its commit, while its receipts need new ones.
 */
static size_t
drain_round_max(struct gw_node *node, size_t want, size_t per_msg)
{
	struct gw_store_stats s;
	size_t cap;

	gw_store_get_stats(node->store, &s);
	if (!s.high_water)
		return want;
	cap = (size_t)(s.reserve / 4 / per_msg);
	cap = cap > 0 ? cap : 1;
	return want < cap ? want : cap;
}

/* A Fetch's messages: each up to the payload limit, plus its envelope. */
static size_t
fetch_msg_bytes(struct gw_node *node)
{
	return (node->sw->lim.max_payload ? node->sw->lim.max_payload :
	    SW_PAYLOAD_DEFAULT) + 4096;
}

#define ACK_MSG_BYTES	4096	/* an Ack's receipt and record per message, generously */

struct fetch_op {
	struct gw_waiter *w;
	struct sw_msg *m;
	size_t n, want;
	int64_t vis_ms;
};

static void fetch_try(struct gw_waiter *w);

static void
waiter_end(struct gw_waiter *w, int status, const char *msg)
{
	struct sw_switch *sw = w->node->sw;
	struct gw_waiter **pp;

	for (pp = sw != NULL ? &sw->waiters : NULL; pp != NULL && *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (w->timer != NULL)
		event_free(w->timer);
	if (status == GRPC_OK)
		net_call_finish(w->call, GRPC_OK, NULL);
	else
		net_call_error(w->call, status, "%s", msg);
	free(w);
}

static int
fetch_write(struct sw_wctx *c, void *arg)
{
	struct fetch_op *op = arg;
	int rc;

	/* A replay (gw_store_submit's contract): what the aborted run read is void. */
	if (op->m != NULL) {
		sw_msgs_free(op->m, op->n);
		free(op->m);
		op->n = 0;
	}
	if ((op->m = calloc(op->want, sizeof(*op->m))) == NULL)
		return SW_Q_ENOMEM;
	rc = sw_queue_mailbox_fetch(&c->t, op->w->mailbox, op->want, c->now,
	    op->vis_ms, op->m, &op->n);
	for (size_t i = 0; rc == 0 && i < op->n; i++) {
		Axle__V1__Envelope *env;

		sw_count(c, SW_EV_FETCHED);
		if (op->m[i].rec.attempts != 1 || (env = sw_env_unpack(op->m[i].env,
		    op->m[i].env_len, NULL, 0)) == NULL)
			continue;
		rc = sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_FETCHED,
		    "fetched by the recipient", NULL);
		pb_free(&env->base);
	}
	if (rc != 0) {
		sw_msgs_free(op->m, op->n);
		op->n = 0;
	}
	return rc;
}

static int
deliver(struct gw_waiter *w, const struct sw_msg *m)
{
	Axle__V1__Delivery d = AXLE__V1__DELIVERY__INIT;
	Axle__V1__Envelope *env = sw_env_unpack(m->env, m->env_len, NULL, 0);
	int rc;

	if (env == NULL)
		return -1;
	d.envelope = env;
	d.attempt = m->rec.attempts;
	d.visible_until_ms = m->rec.visible_after_ms;
	d.mailbox = w->mailbox;
	rc = net_call_send(w->call, &d.base);
	pb_free(&env->base);
	return rc;
}

static void
fetch_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct fetch_op *op = arg;
	struct gw_waiter *w = op->w;
	struct timeval tv;

	w->busy = false;
	if (rc != 0 || node->sw == NULL) {
		if (w->sent == 0)
			waiter_end(w, rc != 0 ? status_of(rc) : GRPC_UNAVAILABLE,
			    rc != 0 ? err : "the node is shutting down");
		else
			waiter_end(w, GRPC_OK, NULL);
	} else {
		for (size_t i = 0; i < op->n; i++)
			if (deliver(w, &op->m[i]) == 0)
				w->sent++;
		if (w->sent >= w->max || net_call_cancelled(w->call) ||
		    (op->n == 0 && w->expired)) {
			waiter_end(w, GRPC_OK, NULL);
		} else if (op->n > 0) {
			/* Something new: the wait for more starts again. */
			tv.tv_sec = (time_t)(w->wait_ms / 1000);
			tv.tv_usec = (suseconds_t)(w->wait_ms % 1000) * 1000;
			w->expired = w->wait_ms == 0;
			if (!w->expired)
				evtimer_add(w->timer, &tv);
			/* A full round (a capped one): more may be there now. */
			if (w->expired || op->n == op->want)
				fetch_try(w);
		}
	}
	sw_msgs_free(op->m, op->n);
	free(op->m);
	free(op);
}

static void
fetch_try(struct gw_waiter *w)
{
	struct fetch_op *op;

	if (w->busy)
		return;
	if (net_call_cancelled(w->call)) {
		waiter_end(w, GRPC_CANCELLED, "cancelled");
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		waiter_end(w, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->w = w;
	op->want = drain_round_max(w->node, w->max - w->sent,
	    fetch_msg_bytes(w->node));
	op->vis_ms = w->vis_ms;
	w->busy = true;
	if (gw_submit(w->node, fetch_write, fetch_done, op) != 0) {
		w->busy = false;
		free(op);
		waiter_end(w, GRPC_UNAVAILABLE, "the store is not taking writes");
	}
}

static void
fetch_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw_waiter *w = arg;

	(void)fd, (void)what;
	w->expired = true;
	fetch_try(w);		/* a last look; ends the call if still empty */
}

void
gw_fetch_kick(struct gw_node *node, const char *mailbox)
{
	struct gw_waiter *w, *next;

	if (node->sw == NULL)
		return;
	for (w = node->sw->waiters; w != NULL; w = next) {
		next = w->next;
		if (node->draining)
			w->expired = true;
		if (mailbox == NULL || strcmp(w->mailbox, mailbox) == 0 ||
		    net_call_cancelled(w->call))
			fetch_try(w);
	}
}

void
gw_fetch_stop(struct gw_node *node)
{
	while (node->sw->waiters != NULL) {
		struct gw_waiter *w = node->sw->waiters;

		/* A write of theirs still queued finishes them (node->sw NULL). */
		node->sw->waiters = w->next;
		w->next = NULL;
		if (!w->busy) {
			event_free(w->timer);
			w->timer = NULL;
			net_call_error(w->call, GRPC_UNAVAILABLE, "the node is shutting down");
			free(w);
		}
	}
}

static void
gw_fetch(struct net_call *call, const ProtobufCMessage *req)
{
	const Axle__V1__FetchRequest *r = (const Axle__V1__FetchRequest *)req;
	struct gw_node *node = net_call_node(call);
	struct gw_waiter *w;
	char err[700];
	int st;

	if (switch_down(node, call))
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	st = member_mailbox(call, r->mailbox, w->mailbox, sizeof(w->mailbox), err,
	    sizeof(err));
	if (st == GRPC_OK && (w->timer = evtimer_new(node->base, fetch_timer,
	    w)) == NULL) {
		st = GRPC_RESOURCE_EXHAUSTED;
		snprintf(err, sizeof(err), "out of memory");
	}
	if (st != GRPC_OK) {
		free(w);
		net_call_error(call, st, "%s", err);
		return;
	}
	w->node = node;
	w->call = call;
	w->max = r->max_messages == 0 ? SW_FETCH_MAX_DEFAULT :
	    r->max_messages > SW_FETCH_MAX ? SW_FETCH_MAX : r->max_messages;
	w->vis_ms = r->visibility_timeout_ms == 0 ?
	    node->cfg.sw.default_visibility_ms :
	    r->visibility_timeout_ms > SW_VISIBILITY_MAX_MS ? SW_VISIBILITY_MAX_MS :
	    r->visibility_timeout_ms;
	w->wait_ms = r->wait_ms > SW_FETCH_WAIT_MAX_MS ? SW_FETCH_WAIT_MAX_MS :
	    r->wait_ms;
	if (net_call_time_left_ms(call) >= 0 && w->wait_ms > net_call_time_left_ms(call))
		w->wait_ms = net_call_time_left_ms(call);
	w->expired = w->wait_ms == 0;
	if (!w->expired) {
		struct timeval tv = { (time_t)(w->wait_ms / 1000),
			(suseconds_t)(w->wait_ms % 1000) * 1000 };

		evtimer_add(w->timer, &tv);
	}
	w->next = node->sw->waiters;
	node->sw->waiters = w;
	fetch_try(w);
}

/* --- Ack ------------------------------------------------------------------------------ */

struct ack_op {
	struct net_call *call;
	char mailbox[SW_NAME_MAX + 1];
	uint8_t (*ids)[SW_ID_LEN];
	bool *done;
	size_t n, acked;	/* acked: in the parts committed so far */
	size_t from, len;	/* this write's part of ids (drain_round_max) */
	size_t part_acked;	/* in this part, once it commits */
};


static int
ack_write(struct sw_wctx *c, void *arg)
{
	struct ack_op *op = arg;
	Axle__V1__Envelope **envs = calloc(op->n, sizeof(*envs));
	size_t end = op->from + op->len, acked = 0;
	int rc = 0;

	if (envs == NULL)
		return SW_Q_ENOMEM;
	/* The envelopes first: acknowledging ends custody and drops them. */
	for (size_t i = op->from; i < end && rc == 0; i++) {
		struct sw_msg m;

		rc = sw_queue_get(&c->t, op->ids[i], &m);
		if (rc == SW_Q_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc == 0 && m.rec.state == SW_STATE_MAILBOX &&
		    strcmp(m.rec.where, op->mailbox) == 0 && m.env != NULL)
			envs[i] = sw_env_unpack(m.env, m.env_len, NULL, 0);
		sw_msgs_free(&m, 1);
	}
	if (rc == 0)
		rc = sw_queue_ack(&c->t, op->mailbox,
		    (const uint8_t (*)[SW_QID_LEN])(op->ids + op->from), op->len,
		    c->now, op->done + op->from, &acked);
	op->part_acked = rc == 0 ? acked : 0;	/* set, not added: a replay runs this again */
	for (size_t i = op->from; i < end; i++) {
		if (rc == 0 && op->done[i]) {
			sw_count(c, SW_EV_ACKED);
			if (envs[i] != NULL)
				rc = sw_receipt(c, envs[i],
				    AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ACKNOWLEDGED,
				    "acknowledged by the recipient", NULL);
		}
		pb_free(envs[i] != NULL ? &envs[i]->base : NULL);
	}
	free(envs);
	return rc;
}

static void ack_done(struct gw_node *node, int rc, const char *err,
    void *arg);

/* Writes the next part of op's ids. Returns gw_submit's rc. */
static int
ack_submit_part(struct gw_node *node, struct ack_op *op)
{
	op->len = drain_round_max(node, op->n - op->from, ACK_MSG_BYTES);
	return gw_submit(node, ack_write, ack_done, op);
}

static void
ack_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct ack_op *op = arg;
	Axle__V1__AckResponse resp = AXLE__V1__ACK_RESPONSE__INIT;
	ProtobufCBinaryData *unknown;

	if (rc == 0)
		op->acked += op->part_acked;
	if (rc == 0 && op->from + op->len < op->n) {
		op->from += op->len;	/* at the high-water mark: the next part */
		if (node->sw != NULL && !node->sw->stopping &&
		    ack_submit_part(node, op) == 0)
			return;
		rc = ESHUTDOWN;
		err = "the node is shutting down";
	}
	unknown = calloc(op->n + 1, sizeof(*unknown));
	if (rc != 0 && op->acked > 0) {
		net_call_error(op->call, status_of(rc), "not committed after %zu of "
		    "%zu were acknowledged: %s; acknowledge them again (done "
		    "ones come back as unknown_ids)", op->acked, op->n, err);
	} else if (rc != 0) {
		net_call_error(op->call, status_of(rc), "not committed: %s", err);
	} else if (unknown == NULL) {
		net_call_error(op->call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	} else {
		resp.acknowledged = (uint32_t)op->acked;
		resp.unknown_ids = unknown;
		for (size_t i = 0; i < op->n; i++)
			if (!op->done[i]) {
				unknown[resp.n_unknown_ids].data = op->ids[i];
				unknown[resp.n_unknown_ids++].len = SW_ID_LEN;
			}
		net_call_reply(op->call, &resp.base);
	}
	free(unknown);
	free(op->ids);
	free(op->done);
	free(op);
}

static void
gw_ack(struct net_call *call, const ProtobufCMessage *req)
{
	const Axle__V1__AckRequest *r = (const Axle__V1__AckRequest *)req;
	struct gw_node *node = net_call_node(call);
	struct ack_op *op;
	char err[700];
	int st;

	if (switch_down(node, call))
		return;
	if (r->n_message_ids == 0 || r->n_message_ids > ACK_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "message_ids: %zu given, "
		    "1 to %d allowed", r->n_message_ids, ACK_MAX);
		return;
	}
	for (size_t i = 0; i < r->n_message_ids; i++)
		if (r->message_ids[i].len != SW_ID_LEN) {
			net_call_error(call, GRPC_INVALID_ARGUMENT, "message_ids[%zu]: "
			    "%zu bytes, must be 16", i, r->message_ids[i].len);
			return;
		}
	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    (op->ids = calloc(r->n_message_ids, SW_ID_LEN)) == NULL ||
	    (op->done = calloc(r->n_message_ids, sizeof(bool))) == NULL) {
		if (op != NULL) {
			free(op->ids);
			free(op);
		}
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	st = member_mailbox(call, r->mailbox, op->mailbox, sizeof(op->mailbox), err,
	    sizeof(err));
	if (st != GRPC_OK) {
		free(op->ids);
		free(op->done);
		free(op);
		net_call_error(call, st, "%s", err);
		return;
	}
	op->call = call;
	op->n = r->n_message_ids;
	for (size_t i = 0; i < op->n; i++)
		memcpy(op->ids[i], r->message_ids[i].data, SW_ID_LEN);
	if (ack_submit_part(node, op) != 0) {
		free(op->ids);
		free(op->done);
		free(op);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is not taking writes");
	}
}

/* --- Reject ---------------------------------------------------------------------------- */

struct reject_op {
	struct net_call *call;
	char mailbox[SW_NAME_MAX + 1];
	uint8_t id[SW_ID_LEN];
	const char *reason;		/* in the request: lives as long as the call */
	struct sw_placed out;
	bool found;
	int64_t at;
};

static int
reject_write(struct sw_wctx *c, void *arg)
{
	struct reject_op *op = arg;
	struct sw_env_view v;
	Axle__V1__Envelope *env;
	char detail[1200];
	struct sw_msg m;
	int rc = sw_queue_get(&c->t, op->id, &m);

	op->at = c->now;
	if (rc == SW_Q_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (!sw_record_in_flight(&m.rec, c->now) || strcmp(m.rec.where,
	    op->mailbox) != 0 || m.env == NULL ||
	    (env = sw_env_unpack(m.env, m.env_len, NULL, 0)) == NULL) {
		sw_msgs_free(&m, 1);
		return 0;
	}
	sw_msgs_free(&m, 1);
	op->found = true;
	snprintf(detail, sizeof(detail), "rejected as not understood by "
	    "registrar %s: %s", op->mailbox, op->reason);
	sw_count(c, SW_EV_REJECTED);
	rc = sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REJECTED,
	    detail, NULL);
	if (rc == 0)
		rc = sw_policy(c, sw_as_arrived(c, env, &v),
		    AXLE__V1__CASE_REASON__CASE_REASON_REJECTED, detail,
		    SW_SETTLE_REJECT, op->mailbox, &op->out);
	pb_free(&env->base);
	return rc;
}

static Axle__V1__ReceiptKind
kind_of_state(enum sw_state s)
{
	switch (s) {
	case SW_STATE_RECOURSE:	return AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ESCALATED;
	case SW_STATE_RETURNED:	return AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RETURNED;
	case SW_STATE_DISCARDED: return AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DISCARDED;
	default:		return AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REJECTED;
	}
}

static void
reject_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct reject_op *op = arg;
	Axle__V1__RejectResponse resp = AXLE__V1__REJECT_RESPONSE__INIT;
	ProtobufCBinaryData id = { SW_ID_LEN, op->id };
	Axle__V1__Receipt r;

	if (rc != 0) {
		net_call_error(op->call, status_of(rc), "not committed: %s", err);
	} else if (!op->found) {
		net_call_error(op->call, GRPC_NOT_FOUND, "message is not in flight in "
		    "mailbox %s (fetch it first; it may have been acknowledged or "
		    "its visibility timeout passed)", op->mailbox);
	} else {
		receipt_fill(&r, node, &id, kind_of_state(op->out.state), op->at,
		    op->out.detail, op->out.case_id);
		resp.receipt = &r;
		net_call_reply(op->call, &resp.base);
	}
	free(op);
}

static void
gw_reject(struct net_call *call, const ProtobufCMessage *req)
{
	const Axle__V1__RejectRequest *r = (const Axle__V1__RejectRequest *)req;
	struct gw_node *node = net_call_node(call);
	struct reject_op *op;
	char err[700];
	int st;

	if (switch_down(node, call))
		return;
	if (r->message_id.len != SW_ID_LEN) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "message_id: %zu bytes, "
		    "must be 16", r->message_id.len);
		return;
	}
	if (r->reason == NULL || r->reason[0] == '\0' ||
	    strlen(r->reason) > REASON_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "reason: required, at "
		    "most %d bytes", REASON_MAX);
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	st = member_mailbox(call, r->mailbox, op->mailbox, sizeof(op->mailbox), err,
	    sizeof(err));
	if (st != GRPC_OK) {
		free(op);
		net_call_error(call, st, "%s", err);
		return;
	}
	op->call = call;
	op->reason = r->reason;
	memcpy(op->id, r->message_id.data, SW_ID_LEN);
	if (gw_submit(node, reject_write, reject_done, op) != 0) {
		free(op);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is not taking writes");
	}
}

/* --- Status --------------------------------------------------------------------------- */

static Axle__V1__MessageState
state_of(const struct sw_record *r, int64_t now)
{
	switch (r->state) {
	case SW_STATE_OUTBOX:	 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_OUTBOX;
	case SW_STATE_MAILBOX:	 return sw_record_in_flight(r, now) ?
				     AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_IN_FLIGHT :
				     AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_MAILBOX;
	case SW_STATE_HELD:	 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_HELD;
	case SW_STATE_FORWARDED: return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_FORWARDED;
	case SW_STATE_ACKED:	 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_ACKNOWLEDGED;
	case SW_STATE_RETURNED:	 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RETURNED;
	case SW_STATE_DISCARDED: return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_DISCARDED;
	case SW_STATE_RECOURSE:	 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RECOURSE;
	default:		 return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_UNKNOWN;
	}
}

static void
status_detail(const struct sw_record *r, const char *region, int64_t now,
    char *out, size_t len)
{
	switch (r->state) {
	case SW_STATE_OUTBOX:
		snprintf(out, len, "at %s, waiting for node %s", region, r->where);
		break;
	case SW_STATE_MAILBOX:
		snprintf(out, len, "in the mailbox of registrar %s at %s%s", r->where,
		    region, sw_record_in_flight(r, now) ? ", fetched, awaiting "
		    "acknowledgement" : "");
		break;
	case SW_STATE_HELD:
		snprintf(out, len, "held at %s: registrar %s is suspended%s", region,
		    r->where, r->hold_until_ms > 0 ? "; its failure policy applies "
		    "at the hold limit" : "");
		break;
	case SW_STATE_FORWARDED:
		snprintf(out, len, "handed on by %s (%s)", region, r->where);
		break;
	case SW_STATE_ACKED:
		snprintf(out, len, "delivered to registrar %s at %s and acknowledged",
		    r->where, region);
		break;
	case SW_STATE_RECOURSE:
		snprintf(out, len, "in recourse case %s", r->where);
		break;
	default:
		snprintf(out, len, "%s at %s: %s", sw_state_name(r->state), region,
		    r->where);
		break;
	}
}

/*
 * Does the latest report from another node (a receipt) say more than this
 * node's own record? Never while the message is in a queue here (an outbox
 * entry the peer has not yet confirmed, say: this node still holds it).
 * Else when it was handed on, always; otherwise if the report came after
 * the record's last change here (a case here escalated and resolved above;
 * a redirect that brought it back here is newer again).
 */
static bool
report_wins(const struct sw_record *r)
{
	return r->rep.kind != 0 && !sw_state_is_queue(r->state) &&
	    (r->state == SW_STATE_FORWARDED || r->rep.noted_ms > r->updated_ms);
}

static Axle__V1__MessageState
report_state(int kind)
{
	switch (kind) {
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DELIVERED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RELEASED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_MAILBOX;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_FETCHED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_IN_FLIGHT;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ACKNOWLEDGED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_ACKNOWLEDGED;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_HELD:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_HELD;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ESCALATED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RECOURSE;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_RETURNED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RETURNED;
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_DISCARDED:
	case AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED:
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_DISCARDED;
	default:	/* REDIRECTED: back in the switch at that node */
		return AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_FORWARDED;
	}
}

/* The kept report as the one receipt this node records about the message. */
static void
report_receipt(const struct sw_record *r, const ProtobufCBinaryData *id,
    Axle__V1__Receipt *out, Axle__V1__Receipt **outp,
    Axle__V1__MessageStatus *resp)
{
	const struct sw_report *rp = &r->rep;

	axle__v1__receipt__init(out);
	out->message_id = *id;
	out->kind = rp->kind;
	out->at_ms = rp->at_ms;
	out->node = (char *)rp->node;
	out->detail = (char *)rp->detail;
	out->case_id = (char *)rp->case_id;
	*outp = out;
	resp->receipts = outp;
	resp->n_receipts = 1;
}

/* Status from the latest report: where another node said the message went. */
static void
status_reported(const struct sw_record *r, Axle__V1__MessageStatus *resp,
    char *detail, size_t len)
{
	const struct sw_report *rp = &r->rep;

	resp->state = report_state(rp->kind);
	resp->location = (char *)(resp->state ==
	    AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RECOURSE && rp->case_id[0] ?
	    rp->case_id : rp->node);
	resp->case_id = (char *)rp->case_id;
	resp->updated_ms = rp->at_ms;
	resp->node = (char *)rp->node;
	snprintf(detail, len, "%s (reported by node %s)", rp->detail, rp->node);
	resp->detail = detail;
}

/* Does member who act as addr (its prefix, or a delegation its registrar holds)? */
static bool
acts_as(struct gw_node *node, const struct net_identity *who, const char *addr)
{
	struct net_identity as;

	if (addr[0] == '\0')
		return false;
	gw_registry_acting_identity(node, who, addr, &as);
	return registry_address_covers(as.address, addr);
}

/* A member may ask only about messages from or to addresses it acts as. */
static bool
status_allowed(struct gw_node *node, const struct net_identity *who,
    struct sw_txn *t, const uint8_t *id)
{
	struct sw_parties p;

	if (who->role == NET_ROLE_ADMIN)
		return true;
	if (sw_parties_get(t, id, &p) != 0)
		return false;
	return acts_as(node, who, p.sender) || acts_as(node, who, p.to);
}

static void
gw_status(struct net_call *call, const ProtobufCMessage *req)
{
	const Axle__V1__StatusRequest *r = (const Axle__V1__StatusRequest *)req;
	struct gw_node *node = net_call_node(call);
	Axle__V1__MessageStatus resp = AXLE__V1__MESSAGE_STATUS__INIT;
	Axle__V1__Receipt kept, *kept_p;
	char detail[SW_REPORT_DETAIL_MAX + SW_NAME_MAX + 64];
	struct sw_record rec;
	struct sw_txn t;
	MDB_txn *txn;
	int64_t now = gw_now_ms();
	int rc;

	if (switch_down(node, call))
		return;
	if (r->message_id.len != SW_ID_LEN) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "message_id: %zu bytes, "
		    "must be 16", r->message_id.len);
		return;
	}
	if ((rc = gw_store_read_begin(node->store, &txn)) != 0) {
		net_call_error(call, GRPC_UNAVAILABLE, "store: %s", gw_store_strerror(rc));
		return;
	}
	sw_txn_lmdb(node->sw->q, txn, &t);
	rc = sw_queue_status(&t, r->message_id.data, &rec);
	if (rc == 0 && !status_allowed(node, net_call_caller(call), &t, r->message_id.data))
		rc = SW_Q_NOTFOUND;	/* not theirs: no different from unknown */
	mdb_txn_abort(txn);
	resp.message_id = r->message_id;
	if (rc == SW_Q_NOTFOUND) {
		resp.state = AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_UNKNOWN;
		resp.detail = "this node has no record of it that you may see";
	} else if (rc != 0) {
		net_call_error(call, status_of(rc), "store: %s", sw_queue_strerror(rc));
		return;
	} else if (report_wins(&rec)) {
		status_reported(&rec, &resp, detail, sizeof(detail));
	} else {
		resp.state = state_of(&rec, now);
		resp.location = rec.where;
		if (rec.state == SW_STATE_RECOURSE)
			resp.case_id = rec.where;
		resp.updated_ms = rec.updated_ms;
		resp.node = (char *)node->cfg.region;
		status_detail(&rec, node->cfg.region, now, detail, sizeof(detail));
		resp.detail = detail;
	}
	/* The latest report goes with either answer: the receipt this node keeps. */
	if (rc == 0 && rec.rep.kind != 0)
		report_receipt(&rec, &resp.message_id, &kept, &kept_p, &resp);
	net_call_reply(call, &resp.base);
}

/* --- Queues ---------------------------------------------------------------------------- */

#define QUEUES_MAX 512

struct queues {
	struct sw_queue_stat st[3][QUEUES_MAX];
	size_t n[3];
	Axle__V1__QueueSummary qs[3][QUEUES_MAX + 64];
	Axle__V1__QueueSummary *qp[3][QUEUES_MAX + 64];
	size_t nq[3];
};

static Axle__V1__QueueSummary *
queue_add(struct queues *q, int k, const char *name, uint64_t count,
    uint64_t in_flight, int64_t age)
{
	Axle__V1__QueueSummary *s;

	if (q->nq[k] >= QUEUES_MAX + 64)
		return NULL;
	s = &q->qs[k][q->nq[k]];
	axle__v1__queue_summary__init(s);
	s->name = (char *)name;
	s->count = count;
	s->in_flight = in_flight;
	s->oldest_age_ms = age;
	q->qp[k][q->nq[k]++] = s;
	return s;
}

/* Every configured peer's outbox, waiting messages or not, with its pump. */
static void
queues_outboxes(struct gw_node *node, struct queues *q, int64_t now)
{
	struct sw_pump_info pi[GW_MAX_PEERS];
	size_t np = gw_outbox_info(node, pi, GW_MAX_PEERS);

	for (size_t i = 0; i < np; i++) {
		const struct sw_queue_stat *st = NULL;
		Axle__V1__QueueSummary *s;

		for (size_t k = 0; k < q->n[0] && st == NULL; k++)
			if (strcmp(q->st[0][k].name, pi[i].region) == 0)
				st = &q->st[0][k];
		s = queue_add(q, 0, pi[i].region, st ? st->count : 0, 0,
		    st ? now - st->oldest_ms : 0);
		if (s == NULL)
			return;
		s->retry_attempt = pi[i].attempt;
		s->next_retry_ms = pi[i].next_ms;
		s->last_error = (char *)pi[i].last_error;
		s->forwarded = pi[i].sent;
		s->identity_mismatch = (char *)pi[i].mismatch;
		if (pi[i].mismatch[0] != '\0')
			s->expected_identity = (char *)pi[i].expected;
	}
	for (size_t k = 0; k < q->n[0]; k++) {
		bool known = false;

		for (size_t i = 0; i < np && !known; i++)
			known = strcmp(q->st[0][k].name, pi[i].region) == 0;
		if (!known)
			queue_add(q, 0, q->st[0][k].name, q->st[0][k].count, 0,
			    now - q->st[0][k].oldest_ms);
	}
}

static void
gw_queues(struct net_call *call, const ProtobufCMessage *req)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	Axle__V1__QueuesResponse resp = AXLE__V1__QUEUES_RESPONSE__INIT;
	static const enum sw_qstore which[3] = { SW_QS_OUTBOX, SW_QS_MAILBOX, SW_QS_HELD };
	char box[SW_NAME_MAX + 1] = "", err[700];
	struct queues *q;
	struct sw_txn t;
	MDB_txn *txn;
	int64_t now = gw_now_ms();
	int rc = 0, st;

	(void)req;
	if (switch_down(node, call))
		return;
	if (who->role == NET_ROLE_MEMBER && (st = member_mailbox(call, "", box,
	    sizeof(box), err, sizeof(err))) != GRPC_OK) {
		net_call_error(call, st, "%s", err);
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (rc = gw_store_read_begin(node->store, &txn)) != 0) {
		free(q);
		net_call_error(call, GRPC_UNAVAILABLE, "store: %s", gw_store_strerror(rc));
		return;
	}
	sw_txn_lmdb(node->sw->q, txn, &t);
	/* A member's own queues: one counter each; an admin's: every queue's. */
	for (int k = 0; k < 3 && rc == 0; k++) {
		if (box[0] != '\0') {
			if (k > 0 && (rc = sw_queue_stat_one(&t, which[k], box,
			    &q->st[k][0])) == 0)
				q->n[k] = q->st[k][0].count > 0;
			continue;
		}
		rc = sw_queue_stats(&t, which[k], NULL, q->st[k], QUEUES_MAX, &q->n[k]);
		if (q->n[k] > QUEUES_MAX)
			q->n[k] = QUEUES_MAX;
	}
	mdb_txn_abort(txn);
	if (rc != 0) {
		free(q);
		net_call_error(call, status_of(rc), "store: %s", sw_queue_strerror(rc));
		return;
	}
	if (who->role != NET_ROLE_MEMBER)
		queues_outboxes(node, q, now);
	for (int k = 1; k < 3; k++)
		for (size_t i = 0; i < q->n[k]; i++)
			if (box[0] == '\0' || strcmp(q->st[k][i].name, box) == 0)
				queue_add(q, k, q->st[k][i].name, q->st[k][i].count,
				    q->st[k][i].in_flight, now - q->st[k][i].oldest_ms);
	resp.outboxes = q->qp[0];
	resp.n_outboxes = q->nq[0];
	resp.mailboxes = q->qp[1];
	resp.n_mailboxes = q->nq[1];
	resp.held = q->qp[2];
	resp.n_held = q->nq[2];
	net_call_reply(call, &resp.base);
	free(q);
}

/* --- Axle/Forward -------------------------------------------------------------------------- */

struct fwd_op {
	struct net_call *call;
	Axle__V1__ForwardRequest *req;		/* owned by the call */
	Axle__V1__ForwardResult *res;
	Axle__V1__ForwardResult **resp;
	char (*why)[700];
	uint8_t (*digest)[SW_DIGEST_LEN];
	bool *ok;
	bool *unsealed;			/* refused under the trust policy: sw_refuse */
	bool *refuse;				/* gw_purpose_refused: why[i] says why */
	enum sw_refusal *refuse_r;
	size_t n;
};

static int
forward_write(struct sw_wctx *c, void *arg)
{
	struct fwd_op *op = arg;
	int rc;

	for (size_t i = 0; i < op->n; i++) {
		struct sw_placed p;

		if (!op->ok[i])
			continue;
		c->refuse = op->unsealed[i] || op->refuse[i] ? op->why[i] : NULL;
		c->refuse_r = op->unsealed[i] ? SW_REFUSE_UNSEALED : op->refuse_r[i];
		rc = sw_place_digest(c, op->req->envelopes[i], op->digest[i], &p);
		c->refuse = NULL;
		if (rc != 0)
			return rc;
		op->res[i].outcome = p.duplicate ?
		    AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_DUPLICATE :
		    AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_COMMITTED;
		if (p.conflict) {
			/* Not to be retried: the sending node settles it. */
			op->res[i].outcome = AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_REFUSED;
			op->res[i].id_conflict = true;
			snprintf(op->why[i], sizeof(op->why[i]), "%s", p.detail);
			op->res[i].reason = op->why[i];
		}
	}
	return 0;
}

static void
fwd_op_free(struct fwd_op *op)
{
	free(op->res);
	free(op->resp);
	free(op->why);
	free(op->digest);
	free(op->ok);
	free(op->unsealed);
	free(op->refuse);
	free(op->refuse_r);
	free(op);
}

static void
forward_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct fwd_op *op = arg;
	Axle__V1__ForwardResponse resp = AXLE__V1__FORWARD_RESPONSE__INIT;

	(void)node;
	if (rc != 0) {
		net_call_error(op->call, status_of(rc), "not committed: %s", err);
	} else {
		resp.results = op->resp;
		resp.n_results = op->n;
		net_call_reply(op->call, &resp.base);
	}
	fwd_op_free(op);
}

/*
 * A peer's routing hands a node only what lies in the node's region (the
 * next hop is the node whose region is the longest known prefix of the
 * recipient, or the first node down the tree toward it: sw_resolve_txn),
 * or, from a node under this one, what goes up the tree. A recipient or
 * group prefix outside our region from anyone else did not come here by
 * any route through us.
 */
static bool
forward_for_us(const Axle__V1__Envelope *e, const char *region, const char *from,
    char *why, size_t len)
{
	const char *field = "to", *s = e->to;
	char addr[ADDR_MAX_LEN + 1], err[200];

	if (e->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP) {
		field = "to_group.prefix";
		s = e->to_group != NULL ? e->to_group->prefix : NULL;
	}
	if (sw_address_of(s != NULL ? s : "", addr, err, sizeof(err)) != 0) {
		snprintf(why, len, "%s: %s", field, err);
		return false;
	}
	/* Up the tree: a node under ours hands on what it has no route for. */
	if (!registry_address_covers(region, addr) &&
	    !(registry_address_covers(region, from) && strcmp(region, from) != 0)) {
		snprintf(why, len, "%s: %s is outside this node's region %s: its "
		    "route does not pass through this node", field, addr, region);
		return false;
	}
	return true;
}

/*
 * Who may hand this node traffic: a configured peer, a node the register
 * publishes (a node record, any region's) under the identity it proved, or
 * the node of a region above ours (the tree's way down; the root has no
 * record, nobody publishes it).
 */
static bool
forward_from_peer(struct gw_node *node, const struct net_identity *who)
{
	const struct gw_peer_link *l;

	if (gw_config_peer(&node->cfg, who->address) != NULL ||
	    registry_address_covers(who->address, node->cfg.region))
		return true;
	l = gw_peers_find(node, who->address);
	return l != NULL && l->published && strcmp(l->uri, who->uri) == 0;
}

/* Checks one envelope from a peer; false with a reason if refused. */
static bool
forward_check(struct net_call *call, Axle__V1__Envelope *e, int64_t now,
    uint8_t digest[SW_DIGEST_LEN], char *why, size_t len)
{
	struct sw_given given;
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	const Axle__V1__TraceHop *last = e->n_trace > 0 ? e->trace[e->n_trace - 1] : NULL;

	if (last == NULL || last->region == NULL ||
	    strcmp(last->region, who->address) != 0) {
		snprintf(why, len, "trace: the forwarding node %s must be its last "
		    "hop", who->address);
		return false;
	}
	if (sw_envelope_check(e, who, now, &node->sw->lim, why, len) != GRPC_OK)
		return false;
	if (!forward_for_us(e, node->cfg.region, who->address, why, len))
		return false;
	if (gw_trust_check(node, e, true, why, len) != GRPC_OK)
		return false;
	sw_envelope_given(e, &given);
	sw_envelope_normalise(e, now, &node->sw->lim);
	if (sw_envelope_digest(e, &given, digest) != 0) {
		snprintf(why, len, "out of memory");
		return false;
	}
	return true;
}

/*
 * Refused envelopes are worth an operator's look (a peer misrouting or
 * misbehaving): one line per call, naming the first of them.
 */
static void
forward_refused_log(const char *peer, size_t refused, size_t n,
    const Axle__V1__Envelope *e, const char *why)
{
	char id[SW_ID_HEX_LEN + 1], q[600];

	if (e->message_id.len == SW_ID_LEN)
		sw_message_id_hex(e->message_id.data, id);
	else
		snprintf(id, sizeof(id), "-");
	net_log(NET_LOG_WARN, "switch_forward_refused", "peer=%s refused=%zu "
	    "envelopes=%zu first_id=%s reason=%s", peer, refused, n, id,
	    net_log_quote(q, sizeof(q), why, strlen(why)));
}

static void
axle_forward(struct net_call *call, const ProtobufCMessage *req)
{
	Axle__V1__ForwardRequest *r = (Axle__V1__ForwardRequest *)req;
	struct gw_node *node = net_call_node(call);
	int64_t now = gw_now_ms();
	struct fwd_op *op;
	size_t n = r->n_envelopes, refused = 0, first = 0;
	char rid[REGISTRY_ID_MAX + 1];

	if (switch_down(node, call))
		return;
	if (!forward_from_peer(node, net_call_caller(call))) {
		net_call_error(call, GRPC_PERMISSION_DENIED, "node %s is not a peer "
		    "of node %s (no [peer] section for its region, and no node "
		    "record of it in the register): traffic reaches a node only "
		    "over its axles", net_call_caller(call)->address,
		    node->cfg.region);
		return;
	}
	if (n > FORWARD_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "envelopes: %zu, at most %d "
		    "per call", n, FORWARD_MAX);
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    (op->res = calloc(n + 1, sizeof(*op->res))) == NULL ||
	    (op->resp = calloc(n + 1, sizeof(*op->resp))) == NULL ||
	    (op->why = calloc(n + 1, sizeof(*op->why))) == NULL ||
	    (op->digest = calloc(n + 1, sizeof(*op->digest))) == NULL ||
	    (op->ok = calloc(n + 1, sizeof(*op->ok))) == NULL ||
	    (op->unsealed = calloc(n + 1, sizeof(*op->unsealed))) == NULL ||
	    (op->refuse = calloc(n + 1, sizeof(*op->refuse))) == NULL ||
	    (op->refuse_r = calloc(n + 1, sizeof(*op->refuse_r))) == NULL) {
		if (op != NULL)
			fwd_op_free(op);
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	op->req = r;
	op->n = n;
	for (size_t i = 0; i < n; i++) {
		Axle__V1__ForwardResult *x = &op->res[i];

		axle__v1__forward_result__init(x);
		x->message_id = r->envelopes[i]->message_id;
		op->resp[i] = x;
		op->ok[i] = forward_check(call, r->envelopes[i], now, op->digest[i],
		    op->why[i], sizeof(op->why[i]));
		if (!op->ok[i]) {
			x->outcome = AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_REFUSED;
			x->reason = op->why[i];
			if (refused++ == 0)
				first = i;
		} else if ((op->unsealed[i] = gw_seal_refuses(node, r->envelopes[i],
		    op->why[i], sizeof(op->why[i]), rid, sizeof(rid)))) {
			unsealed_log(net_call_caller(call)->uri, r->envelopes[i], rid);
		} else {
			/* Taken, and ended here with a REFUSED receipt to its sender. */
			op->refuse[i] = gw_purpose_refused(node, r->envelopes[i],
			    &op->refuse_r[i], op->why[i], sizeof(op->why[i]));
		}
	}
	if (refused > 0)
		forward_refused_log(net_call_caller(call)->address, refused, n,
		    r->envelopes[first], op->why[first]);
	if (gw_submit_new(node, forward_write, forward_done, op) != 0) {
		fwd_op_free(op);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is not taking writes");
	}
}

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Switch/Send", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__envelope__descriptor, gw_send, 0 },
	{ "/axle.v1.Switch/Fetch", NET_AUTHZ_MEMBER,
	  &axle__v1__fetch_request__descriptor, gw_fetch, 1 },
	{ "/axle.v1.Switch/Ack", NET_AUTHZ_MEMBER,
	  &axle__v1__ack_request__descriptor, gw_ack, 0 },
	{ "/axle.v1.Switch/Reject", NET_AUTHZ_MEMBER,
	  &axle__v1__reject_request__descriptor, gw_reject, 0 },
	{ "/axle.v1.Switch/Status", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__status_request__descriptor, gw_status, 0 },
	{ "/axle.v1.Switch/Queues", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__queues_request__descriptor, gw_queues, 0 },
	{ "/axle.v1.Axle/Forward", NET_AUTHZ_NODE,
	  &axle__v1__forward_request__descriptor, axle_forward, 0 },
};

const struct net_rpc_service gw_svc_switch = { methods,
	sizeof(methods) / sizeof(methods[0]) };
