/* svc_escalate.c -- axle.v1.Axle/Escalate: the parent's side of a hand-over, durable before it answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/axle.pb-c.h"
#include "gateway/node/escalate.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_switch.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/net/rpc.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"

/* A log value from text that may come from the network: quoted, escaped. */
#define LOGQ(buf, s) net_log_quote((buf), sizeof(buf), (s), strlen(s))

/* --- Axle.Escalate: the parent's side ------------------------------------------------ */

struct esc_accept {
	struct net_call *call;
	struct gw_node *node;
	struct recourse *rc;
	const Axle__V1__Case *child;	/* in the call's request */
	char actor[NET_URI_MAX + 1];
	int64_t now;
	char id[RECOURSE_ID_MAX];
	int duplicate;
	int rrc;
	struct recourse_err e;
};

/*
 * The sender learns its message is in recourse here. The receipt is worth
 * less than the case: a switch refusal is logged and does not undo the
 * hand-over (its own nested transaction is dropped instead).
 */
static void
accept_note(struct esc_accept *a, MDB_txn *txn, struct store *st)
{
	MDB_txn *sub;
	char err[256] = "", q[300];
	int s;

	if (a->child->envelope == NULL ||
	    mdb_txn_begin(gw_store_env(st), txn, 0, &sub) != 0)
		return;
	s = gw_switch_note_recourse_txn(a->node, sub, a->child->envelope,
	    a->id, a->now, err, sizeof(err));
	if (s == GRPC_OK && mdb_txn_commit(sub) == 0)
		return;
	if (s != GRPC_OK)
		mdb_txn_abort(sub);
	net_log(NET_LOG_WARN, "recourse_note_failed", "case=%s status=%d "
	    "error=%s", a->id, s, LOGQ(q, err));
}

static int
accept_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct esc_accept *a = arg;

	a->rrc = recourse_case_accept_escalated(a->rc, txn, a->child, a->actor,
	    a->now, a->id, &a->duplicate, &a->e);
	if (a->rrc != RECOURSE_OK)
		return -1;
	if (!a->duplicate)
		accept_note(a, txn, st);
	return 0;
}

static void
accept_done(int rc, void *arg)
{
	struct esc_accept *a = arg;
	Axle__V1__EscalateResponse resp = AXLE__V1__ESCALATE_RESPONSE__INIT;
	char q[RECOURSE_ERR_MAX + 16], qid[RECOURSE_ID_MAX + 16];

	if (a->rrc != RECOURSE_OK) {
		net_log(NET_LOG_WARN, "recourse_escalation_refused", "case=%s "
		    "from=%s error=%s", LOGQ(qid, a->child->id), a->actor,
		    LOGQ(q, a->e.msg));
		net_call_error(a->call, gw_recourse_grpc_status(a->rrc, &a->e),
		    "%s", a->e.msg);
	} else if (rc != 0) {
		net_call_error(a->call, gw_store_rc_grpc_status(rc), "case %s not "
		    "stored: %s", a->child->id, gw_store_strerror(rc));
	} else {
		net_log(NET_LOG_INFO, "recourse_received", "case=%s from=%s "
		    "duplicate=%d", a->id, a->actor, a->duplicate);
		if (!a->duplicate)
			gw_escalate_count(a->node, GW_ESC_RECEIVED);
		resp.case_id = a->id;
		resp.duplicate = a->duplicate;
		net_call_reply(a->call, &resp.base);
		gw_recourse_kick(a->node);
	}
	free(a);
}

/* Only a child hands a case up: the caller must be the node its path ends with. */
static int
accept_check(const struct net_identity *who, const Axle__V1__Case *c,
    char *why, size_t len)
{
	if (c == NULL || c->id == NULL || c->id[0] == '\0' || c->n_path == 0) {
		snprintf(why, len, "an escalated case needs its id and path");
		return GRPC_INVALID_ARGUMENT;
	}
	if (strcmp(c->path[c->n_path - 1], who->address) != 0) {
		snprintf(why, len, "case %s: its path ends with %s, but the "
		    "caller is %s: only the child holding a case may hand it "
		    "up", c->id, c->path[c->n_path - 1], who->uri);
		return GRPC_PERMISSION_DENIED;
	}
	return GRPC_OK;
}

static void
axle_escalate(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__EscalateRequest *req = (const void *)msg;
	const struct net_identity *who = net_call_caller(call);
	struct gw_node *node = net_call_node(call);
	struct esc_accept *a;
	char why[600];
	int s;

	if ((s = accept_check(who, req->record, why, sizeof(why))) != GRPC_OK) {
		net_call_error(call, s, "%s", why);
		return;
	}
	if (node->recourse == NULL || (a = calloc(1, sizeof(*a))) == NULL) {
		net_call_error(call, GRPC_UNAVAILABLE, "recourse is not running");
		return;
	}
	a->call = call;
	a->node = node;
	a->rc = node->recourse->rc;
	a->child = req->record;
	snprintf(a->actor, sizeof(a->actor), "%s", who->uri);
	a->now = gw_recourse_now_ms();
	if (gw_recourse_submit_new(node, accept_write, accept_done, a) != 0) {
		free(a);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is shutting down");
	}
}

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Axle/Escalate", NET_AUTHZ_NODE, &axle__v1__escalate_request__descriptor,
	  axle_escalate, 0 },
};

const struct net_rpc_service gw_svc_axle_escalate = {
	methods, sizeof(methods) / sizeof(methods[0])
};
