/* svc_audit.c -- axle.v1.Recourse/AuditHead and AuditExport: the audit chain signed by the node's key, read a page at a time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/recourse.pb-c.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/node.h"
#include "gateway/node/svc.h"
#include "recourse/audit_sign.h"

/* A page: at most this many entries, and stopping once their bytes pass AUDIT_PAGE_BYTES. */
#define AUDIT_PAGE_DEFAULT	200
#define AUDIT_PAGE_MAX		1000
#define AUDIT_PAGE_BYTES	(1u << 20)

static int
audit_seq_arg(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return -1;
	*out = v;
	return 0;
}

static void
audit_head(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__AuditHeadRequest *req = (const void *)msg;
	struct gw_node *node = net_call_node(call);
	struct gw_registry *reg = node->registry;
	Axle__V1__SignedAuditHead h = AXLE__V1__SIGNED_AUDIT_HEAD__INIT;
	uint8_t hash[RECOURSE_HASH_LEN];
	uint64_t seq, head_seq, from = req->from_seq ? req->from_seq : 1;
	struct recourse_err e = { 0 };
	char why[RECOURSE_ERR_MAX];
	MDB_txn *txn;
	int rc;

	if (reg == NULL || reg->sign_key == NULL) {
		net_call_error(call, GRPC_FAILED_PRECONDITION, "this node has no "
		    "key that can sign (an EC P-256 key: see the log line "
		    "registry_no_signing_key): its audit head cannot be signed");
		return;
	}
	if (gw_recourse_read_begin(call, &txn) != 0)
		return;
	rc = recourse_audit_head_at(node->recourse->rc, txn, req->to_seq, &seq,
	    hash, &head_seq, &e);
	mdb_txn_abort(txn);
	if (rc != RECOURSE_OK) {
		net_call_error(call, gw_recourse_grpc_status(rc, &e), "%s", e.msg);
		return;
	}
	if (from > seq && !(seq == 0 && from == 1)) {
		net_call_error(call, GRPC_OUT_OF_RANGE, "from_seq %llu is after "
		    "the last entry asked for (%llu)", (unsigned long long)from,
		    (unsigned long long)seq);
		return;
	}
	h.region = node->cfg.region;
	h.from_seq = from;
	h.seq = seq;
	h.hash.data = hash;
	h.hash.len = sizeof(hash);
	h.signed_ms = gw_recourse_now_ms();
	h.key_identity = reg->key_identity;
	h.node_chain = reg->chain;
	h.n_node_chain = reg->nchain;
	h.head_seq = head_seq;
	if (recourse_audit_sign_head(reg->sign_key, &h, why, sizeof(why)) !=
	    RECOURSE_OK) {
		net_call_error(call, GRPC_INTERNAL, "%s", why);
		return;
	}
	net_call_reply(call, &h.base);
	free(h.signature.data);
}

/* The page being filled: records own their strings and hashes. */
struct audit_page {
	Axle__V1__AuditRecord **recs;
	size_t n, cap;
	int nomem;
};

static char *
audit_dup(const char *s, int *nomem)
{
	char *d = strdup(s != NULL ? s : "");

	if (d == NULL)
		*nomem = 1;
	return d;
}

static uint8_t *
audit_hash_dup(const uint8_t *h, int *nomem)
{
	uint8_t *d = malloc(RECOURSE_HASH_LEN);

	if (d == NULL)
		*nomem = 1;
	else
		memcpy(d, h, RECOURSE_HASH_LEN);
	return d;
}

static void
audit_record_free(Axle__V1__AuditRecord *r)
{
	if (r == NULL)
		return;
	free(r->prev_hash.data);
	free(r->hash.data);
	free(r->actor);
	free(r->case_id);
	free(r->action);
	free(r->detail);
	free(r);
}

static void
audit_page_free(struct audit_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		audit_record_free(p->recs[i]);
	free(p->recs);
}

static int
audit_page_add(const struct recourse_audit_entry *ae, void *arg)
{
	struct audit_page *p = arg;
	Axle__V1__AuditRecord *r;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;
		Axle__V1__AuditRecord **nr = realloc(p->recs, cap * sizeof(*nr));

		if (nr == NULL) {
			p->nomem = 1;
			return 1;
		}
		p->recs = nr;
		p->cap = cap;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		p->nomem = 1;
		return 1;
	}
	axle__v1__audit_record__init(r);
	p->recs[p->n++] = r;
	r->seq = ae->seq;
	r->at_ms = ae->at_ms;
	r->state = ae->state;
	r->format = 1;
	r->prev_hash.data = audit_hash_dup(ae->prev_hash, &p->nomem);
	r->hash.data = audit_hash_dup(ae->hash, &p->nomem);
	r->prev_hash.len = r->hash.len = RECOURSE_HASH_LEN;
	r->actor = audit_dup(ae->actor, &p->nomem);
	r->case_id = audit_dup(ae->case_id, &p->nomem);
	r->action = audit_dup(ae->action, &p->nomem);
	r->detail = audit_dup(ae->detail, &p->nomem);
	return p->nomem;
}

/* from, to and the page size of req (the page token moves from on). 0, or -1 with the call ended. */
static int
audit_export_range(struct net_call *call, const Axle__V1__AuditExportRequest *req,
    uint64_t *from, uint64_t *to, size_t *max)
{
	const char *tok = req->page != NULL ? req->page->page_token : NULL;
	uint32_t size = req->page != NULL ? req->page->page_size : 0;

	*from = req->from_seq ? req->from_seq : 1;
	*to = req->to_seq;
	*max = size == 0 ? AUDIT_PAGE_DEFAULT : size > AUDIT_PAGE_MAX ?
	    AUDIT_PAGE_MAX : size;
	if (tok != NULL && tok[0] != '\0') {
		uint64_t at;

		if (audit_seq_arg(tok, &at) != 0 || at < *from ||
		    (*to != 0 && at > *to)) {
			net_call_error(call, GRPC_INVALID_ARGUMENT, "page_token "
			    "\"%.40s\" is not one this export gave (an entry "
			    "number between from_seq and to_seq)", tok);
			return -1;
		}
		*from = at;
	}
	if (*to != 0 && *from > *to) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "from_seq %llu is "
		    "after to_seq %llu", (unsigned long long)*from,
		    (unsigned long long)*to);
		return -1;
	}
	return 0;
}

static void
audit_export(struct net_call *call, const ProtobufCMessage *msg)
{
	const Axle__V1__AuditExportRequest *req = (const void *)msg;
	struct gw_node *node = net_call_node(call);
	Axle__V1__AuditExportResponse resp = AXLE__V1__AUDIT_EXPORT_RESPONSE__INIT;
	Axle__V1__PageResponse page = AXLE__V1__PAGE_RESPONSE__INIT;
	struct audit_page p = { 0 };
	struct recourse_err e = { 0 };
	uint64_t from, to, next = 0;
	char token[24] = "";
	size_t max;
	MDB_txn *txn;
	int rc;

	if (audit_export_range(call, req, &from, &to, &max) != 0 ||
	    gw_recourse_read_begin(call, &txn) != 0)
		return;
	if (to == 0) {
		uint8_t hash[RECOURSE_HASH_LEN];
		uint64_t head;

		rc = recourse_audit_head_at(node->recourse->rc, txn, 0, &to,
		    hash, &head, &e);
	} else {
		rc = RECOURSE_OK;
	}
	if (rc == RECOURSE_OK)
		rc = recourse_audit_page(node->recourse->rc, txn, from, to, max,
		    AUDIT_PAGE_BYTES, audit_page_add, &p, &next, &e);
	mdb_txn_abort(txn);
	if (rc == RECOURSE_OK && p.nomem)
		rc = recourse_err_set(&e, RECOURSE_ENOMEM, "out of memory for a "
		    "page of the audit export: ask for a smaller page_size");
	if (rc != RECOURSE_OK) {
		audit_page_free(&p);
		net_call_error(call, gw_recourse_grpc_status(rc, &e), "%s", e.msg);
		return;
	}
	if (next != 0)
		snprintf(token, sizeof(token), "%llu", (unsigned long long)next);
	page.next_page_token = token;
	resp.page = &page;
	resp.records = p.recs;
	resp.n_records = p.n;
	net_call_reply(call, &resp.base);
	audit_page_free(&p);
}

#define M(name, type, fn) { "/axle.v1.Recourse/" name, NET_AUTHZ_ADMIN, \
	&axle__v1__##type##__descriptor, fn, 0 }

static const struct net_rpc_method methods[] = {
	M("AuditHead", audit_head_request, audit_head),
	M("AuditExport", audit_export_request, audit_export),
};

const struct net_rpc_service gw_svc_audit = {
	methods, sizeof(methods) / sizeof(methods[0])
};
