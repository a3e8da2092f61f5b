/* sw_refuse.c -- refusals under the trust policy: a purpose the recipient service does not take; counted, logged without the payload, answered with a REFUSED receipt. */
#include <stdio.h>
#include <string.h>

#include "gateway/net/log.h"
#include "gateway/switch/sw_core.h"
#include "proto/pb.h"
#include "registry/db.h"
#include "registry/purpose.h"

static const char *const refusal_names[SW_REFUSE__COUNT] = {
	"purpose_missing", "purpose_refused", "unsealed",
};

const char *
sw_refusal_name(enum sw_refusal r)
{
	return (unsigned)r < SW_REFUSE__COUNT ? refusal_names[r] : "?";
}

enum sw_refusal
sw_refusal_of(int verdict)
{
	return verdict == REGISTRY_PURPOSE_MISSING ? SW_REFUSE_PURPOSE_MISSING :
	    SW_REFUSE_PURPOSE_REFUSED;
}

/* The recipient as a log shows it: the address, or "group KIND under PREFIX". */
static void
recipient_of(const Axle__V1__Envelope *env, char *out, size_t len)
{
	const Axle__V1__ServiceGroup *g = env->to_group;

	if (env->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP && g != NULL)
		snprintf(out, len, "group %d under %.253s", (int)g->kind,
		    g->prefix != NULL ? g->prefix : "");
	else
		snprintf(out, len, "%.300s", env->to != NULL ? env->to : "");
}

void
sw_refused_note(struct sw_switch *sw, const Axle__V1__Envelope *env,
    enum sw_refusal r, const char *stage, const char *detail)
{
	const char *sender = env->sender != NULL ? env->sender : "";
	const char *purpose = env->purpose != NULL ? env->purpose : "";
	char id[SW_ID_HEX_LEN + 1], to[400], qs[300], qt[500], qp[200], qd[700];

	if ((unsigned)r < SW_REFUSE__COUNT)
		atomic_fetch_add(&sw->refused[r], 1);
	if (env->message_id.len == SW_ID_LEN)
		sw_message_id_hex(env->message_id.data, id);
	else
		snprintf(id, sizeof(id), "-");
	recipient_of(env, to, sizeof(to));
	net_log(NET_LOG_WARN, "switch_refused", "id=%s sender=%s to=%s "
	    "purpose=%s reason=%s stage=%s detail=%s", id,
	    net_log_quote(qs, sizeof(qs), sender, strlen(sender)),
	    net_log_quote(qt, sizeof(qt), to, strlen(to)),
	    net_log_quote(qp, sizeof(qp), purpose, strlen(purpose)),
	    sw_refusal_name(r), stage,
	    net_log_quote(qd, sizeof(qd), detail, strlen(detail)));
}

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
		sw_refused_note(c->x->sw, env, r, "send", detail);
		return 0;
	}
	snprintf(where, sizeof(where), "refused: %s", detail);
	out->state = SW_STATE_DISCARDED;
	snprintf(out->where, sizeof(out->where), "%s", where);
	if ((rc = sw_settle(c, env, how, NULL, SW_STATE_DISCARDED, where)) != 0)
		return rc;
	sw_refused_note(c->x->sw, env, r, c->depth > 1 ? "group" :
	    c->refuse != NULL ? "forward" : "place", detail);
	snprintf(d, sizeof(d), "refused at %s: %s", c->x->region, detail);
	return sw_receipt(c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED, d,
	    NULL);
}

int
sw_purpose_local(struct sw_wctx *c, const Axle__V1__Envelope *env,
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
