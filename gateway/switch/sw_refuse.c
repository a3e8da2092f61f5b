/* sw_refuse.c -- refusals under the trust policy: their reasons, counted and logged without the payload (sw_core.c refuses). */
#include <stdio.h>
#include <string.h>

#include "gateway/net/log.h"
#include "gateway/switch/sw_core.h"
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
sw_refused_note(struct sw_switch *sw, struct sw_tally *t,
    const Axle__V1__Envelope *env, enum sw_refusal r, const char *stage,
    const char *detail)
{
	const char *sender = env->sender != NULL ? env->sender : "";
	const char *purpose = env->purpose != NULL ? env->purpose : "";
	char id[SW_ID_HEX_LEN + 1], to[400], qs[300], qt[500], qp[200], qd[700];

	if ((unsigned)r < SW_REFUSE__COUNT && t != NULL)
		t->refused[r]++;
	else if ((unsigned)r < SW_REFUSE__COUNT)
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
