/* svc_recourse.c -- axle.v1.Recourse: this node's admins list, show and resolve its cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/recourse.pb-c.h"
#include "gateway/node/escalate.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_switch.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"

/* A log value from text that may come from the network: quoted, escaped. */
#define LOGQ(buf, s) net_log_quote((buf), sizeof(buf), (s), strlen(s))

/* --- reads ----------------------------------------------------------------------- */

/*
 * Payloads are child-protection content: an answer carries one only to
 * Show with_payload, which records the view (RECOURSE_ACT_VIEW_PAYLOAD).
 * Every other answer says how big it is instead.
 */
static void
rec_withhold_payload(Axle__V1__Case *c)
{
	if (c == NULL || c->envelope == NULL)
		return;
	c->payload_bytes = c->envelope->payload.len;
	c->envelope->payload.len = 0;
}

/* A read transaction for a handler; ends the call on failure. */
int
gw_recourse_read_begin(struct net_call *call, MDB_txn **txn)
{
	struct gw_node *node = net_call_node(call);
	int rc;

	if (node->recourse == NULL) {
		net_call_error(call, GRPC_UNAVAILABLE, "recourse is not running");
		return -1;
	}
	if ((rc = gw_store_read_begin(node->store, txn)) != 0) {
		net_call_error(call, GRPC_UNAVAILABLE, "reading the case store: %s",
		    gw_store_strerror(rc));
		return -1;
	}
	return 0;
}

static void
rec_list(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__ListCasesRequest *req = (const void *)msg;
	struct gw_node *node = net_call_node(call);
	Axle__V1__ListCasesResponse resp = AXLE__V1__LIST_CASES_RESPONSE__INIT;
	Axle__V1__PageResponse page = AXLE__V1__PAGE_RESPONSE__INIT;
	struct recourse_filter f = {
		.state = req->state, .include_closed = req->include_closed,
		.reason = req->reason, .assignee = req->assignee,
		.min_age_ms = req->min_age_ms, .overdue_only = req->overdue_only,
	};
	struct recourse_page p = { 0 };
	struct recourse_err e = { 0 };
	MDB_txn *txn;
	int rc;

	if (req->min_age_ms < 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "min_age_ms must not "
		    "be negative");
		return;
	}
	/* proto3 enums are open: an unknown filter value would silently match
	 * nothing and look like an empty queue. */
	if (protobuf_c_enum_descriptor_get_value(&axle__v1__case_state__descriptor,
	    (int)req->state) == NULL ||
	    protobuf_c_enum_descriptor_get_value(&axle__v1__case_reason__descriptor,
	    (int)req->reason) == NULL) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "state or reason is not "
		    "a known value");
		return;
	}
	if (gw_recourse_read_begin(call, &txn) != 0)
		return;
	rc = recourse_case_list(node->recourse->rc, txn, &f, gw_recourse_now_ms(),
	    req->page ? req->page->page_token : NULL,
	    req->page ? req->page->page_size : 0, &p, &e);
	mdb_txn_abort(txn);
	if (rc != RECOURSE_OK) {
		recourse_page_free(&p);
		net_call_error(call, gw_recourse_grpc_status(rc, &e), "%s", e.msg);
		return;
	}
	for (size_t i = 0; i < p.n; i++)
		rec_withhold_payload(p.cases[i]);
	resp.cases = p.cases;
	resp.n_cases = p.n;
	page.next_page_token = p.next_token;
	resp.page = &page;
	net_call_reply(call, &resp.base);
	recourse_page_free(&p);
}

static void act_submit(struct net_call *call, const char *id,
    enum recourse_action a, const struct recourse_act_args *args);

static void
rec_show(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__ShowCaseRequest *req = (const void *)msg;
	struct gw_node *node = net_call_node(call);
	Axle__V1__CaseResponse resp = AXLE__V1__CASE_RESPONSE__INIT;
	struct recourse_err e = { 0 };
	Axle__V1__Case *c = NULL;
	MDB_txn *txn;
	int rc;

	if (req->with_payload) {	/* recorded first, shown after the commit */
		struct recourse_act_args a = { .reason = req->reason };

		act_submit(call, req->id, RECOURSE_ACT_VIEW_PAYLOAD, &a);
		return;
	}
	if (gw_recourse_read_begin(call, &txn) != 0)
		return;
	rc = recourse_case_get(node->recourse->rc, txn, req->id, &c, &e);
	mdb_txn_abort(txn);
	if (rc != RECOURSE_OK) {
		net_call_error(call, gw_recourse_grpc_status(rc, &e), "%s", e.msg);
		return;
	}
	rec_withhold_payload(c);
	resp.record = c;
	net_call_reply(call, &resp.base);
	recourse_case_free(c);
}

static void
rec_verify(struct net_call *call, const ProtobufCMessage *msg)
{
	struct gw_node *node = net_call_node(call);
	Axle__V1__VerifyAuditResponse resp = AXLE__V1__VERIFY_AUDIT_RESPONSE__INIT;
	struct recourse_audit_report rep;
	struct recourse_err e = { 0 };
	char first_bad[32] = "", q[RECOURSE_ERR_MAX + 16];
	MDB_txn *txn;
	int rc;

	(void)msg;
	if (gw_recourse_read_begin(call, &txn) != 0)
		return;
	rc = recourse_audit_check(node->recourse->rc, txn, &rep, &e);
	mdb_txn_abort(txn);
	if (rc != RECOURSE_OK) {
		net_call_error(call, gw_recourse_grpc_status(rc, &e), "%s", e.msg);
		return;
	}
	if (!rep.ok)
		snprintf(first_bad, sizeof(first_bad), "%llu",
		    (unsigned long long)rep.first_bad);
	resp.ok = rep.ok != 0;
	resp.entries = rep.entries;
	resp.first_bad = first_bad;
	resp.detail = rep.detail;
	if (!rep.ok)
		net_log(NET_LOG_ERR, "recourse_audit_broken", "first_bad=%s "
		    "detail=%s", first_bad, LOGQ(q, rep.detail));
	net_call_reply(call, &resp.base);
}

/* --- actions --------------------------------------------------------------------- */

/*
 * One admin action, written by the group-commit writer. Redirect, return
 * and discard hand the envelope to the switch in the same transaction as
 * the case's resolution: the message is in the case or back in the switch
 * (or ended there, its sender told), never both and never neither.
 */
struct rec_act {
	struct net_call *call;
	struct gw_node *node;
	struct recourse *rc;
	enum recourse_action a;
	const char *id;			/* in the call's request */
	struct recourse_act_args args;	/* strings in the request, actor below */
	char actor[NET_URI_MAX + 1];
	int64_t now;
	Axle__V1__Case *out;
	int rrc;
	struct recourse_err e;
	int sw;				/* the switch's status (redirect, return, discard) */
	char gw_err[256];
};

/* Redirect, return and discard hand the message to the switch (and tell its sender). */
static bool
ends_custody(enum recourse_action a)
{
	return a == RECOURSE_ACT_REDIRECT || a == RECOURSE_ACT_RETURN ||
	    a == RECOURSE_ACT_DISCARD;
}

static int
act_switch(struct rec_act *r, MDB_txn *txn)
{
	Axle__V1__Envelope env;
	const char *why;

	if (r->out->envelope == NULL) {
		snprintf(r->gw_err, sizeof(r->gw_err), "the case holds no envelope");
		return GRPC_FAILED_PRECONDITION;
	}
	why = r->args.reason != NULL && r->args.reason[0] ? r->args.reason :
	    r->out->detail;
	if (r->a == RECOURSE_ACT_RETURN)
		return gw_switch_return_txn(r->node, txn, r->out->envelope, why,
		    r->out->id, r->now, r->gw_err, sizeof(r->gw_err));
	if (r->a == RECOURSE_ACT_DISCARD)
		return gw_switch_discard_txn(r->node, txn, r->out->envelope, why,
		    r->out->id, r->now, r->gw_err, sizeof(r->gw_err));
	/* A shallow copy with the corrected address: the trace is kept. */
	env = *r->out->envelope;
	env.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	env.to = (char *)r->args.to;
	return gw_switch_inject_txn(r->node, txn, &env, r->out->id, r->now,
	    r->gw_err, sizeof(r->gw_err));
}

static int
act_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct rec_act *r = arg;

	(void)st;
	r->sw = GRPC_OK;
	r->rrc = recourse_case_act(r->rc, txn, r->id, r->a, &r->args, r->now,
	    &r->out, &r->e);
	if (r->rrc != RECOURSE_OK)
		return -1;
	if (ends_custody(r->a))
		r->sw = act_switch(r, txn);
	return r->sw == GRPC_OK ? 0 : -1;
}

static void
act_log(const struct rec_act *r)
{
	char why[300];
	const char *reason = r->args.reason ? r->args.reason : "";

	net_log(NET_LOG_INFO, "recourse_action", "case=%s action=%s actor=%s "
	    "state=%s to=%s reason=%s", r->out->id, recourse_action_name(r->a),
	    r->actor, recourse_state_name(r->out->state),
	    r->args.to ? r->args.to : "-",
	    net_log_quote(why, sizeof(why), reason, strlen(reason)));
}

static void
act_done(int rc, void *arg)
{
	struct rec_act *r = arg;
	Axle__V1__CaseResponse resp = AXLE__V1__CASE_RESPONSE__INIT;

	if (r->rrc != RECOURSE_OK) {
		net_call_error(r->call, gw_recourse_grpc_status(r->rrc, &r->e), "%s",
		    r->e.msg);
	} else if (r->sw != GRPC_OK) {
		net_call_error(r->call, r->sw, "case %s unchanged: the switch "
		    "refused the envelope: %s", r->id, r->gw_err);
	} else if (rc != 0) {
		net_call_error(r->call, gw_store_rc_grpc_status(rc), "case %s "
		    "unchanged: %s", r->id, gw_store_strerror(rc));
	} else {
		act_log(r);
		if (ends_custody(r->a))
			gw_switch_kick(r->node);
		gw_recourse_kick(r->node);
		if (r->a != RECOURSE_ACT_VIEW_PAYLOAD)
			rec_withhold_payload(r->out);
		resp.record = r->out;
		net_call_reply(r->call, &resp.base);
	}
	recourse_case_free(r->out);
	free(r);
}

/* Starts action a on id for the calling admin; the reply follows the commit. */
static void
act_submit(struct net_call *call, const char *id, enum recourse_action a,
    const struct recourse_act_args *args)
{
	struct gw_node *node = net_call_node(call);
	struct rec_act *r;

	if (node->recourse == NULL || (r = calloc(1, sizeof(*r))) == NULL) {
		net_call_error(call, GRPC_UNAVAILABLE, "recourse is not running");
		return;
	}
	r->call = call;
	r->node = node;
	r->rc = node->recourse->rc;
	r->a = a;
	r->id = id;
	r->args = *args;
	snprintf(r->actor, sizeof(r->actor), "%s", net_call_caller(call)->uri);
	r->args.actor = r->actor;
	r->now = gw_recourse_now_ms();
	if (gw_recourse_submit(node, act_write, act_done, r) != 0) {
		free(r);
		net_call_error(call, GRPC_UNAVAILABLE, "the store is shutting down");
	}
}

static void
rec_claim(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__ClaimCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .expected_version = req->expected_version };

	act_submit(call, req->id, RECOURSE_ACT_CLAIM, &a);
}

static void
rec_release(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__ReleaseCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->reason };

	act_submit(call, req->id, RECOURSE_ACT_RELEASE, &a);
}

static void
rec_redirect(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__RedirectCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->reason, .to = req->to };

	act_submit(call, req->id, RECOURSE_ACT_REDIRECT, &a);
}

static void
rec_return(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__ReturnCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->reason };

	act_submit(call, req->id, RECOURSE_ACT_RETURN, &a);
}

static void
rec_discard(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__DiscardCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->reason };

	act_submit(call, req->id, RECOURSE_ACT_DISCARD, &a);
}

static void
rec_escalate(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__EscalateCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->reason };

	act_submit(call, req->id, RECOURSE_ACT_ESCALATE, &a);
}

static void
rec_annotate(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__AnnotateCaseRequest *req = (const void *)msg;
	struct recourse_act_args a = { .reason = req->note };

	act_submit(call, req->id, RECOURSE_ACT_ANNOTATE, &a);
}

#define M(name, type, fn) { "/axle.v1.Recourse/" name, NET_AUTHZ_ADMIN, \
	&axle__v1__##type##__descriptor, fn, 0 }

static const struct net_rpc_method methods[] = {
	M("List", list_cases_request, rec_list),
	M("Show", show_case_request, rec_show),
	M("Claim", claim_case_request, rec_claim),
	M("Release", release_case_request, rec_release),
	M("Redirect", redirect_case_request, rec_redirect),
	M("ReturnToSender", return_case_request, rec_return),
	M("Discard", discard_case_request, rec_discard),
	M("Escalate", escalate_case_request, rec_escalate),
	M("Annotate", annotate_case_request, rec_annotate),
	M("VerifyAudit", verify_audit_request, rec_verify),
};

const struct net_rpc_service gw_svc_recourse = {
	methods, sizeof(methods) / sizeof(methods[0])
};
