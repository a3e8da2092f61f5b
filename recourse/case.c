/* case.c -- the case state machine: checks with reasons a person can act on, and the case after each action. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/pb.h"
#include "recourse/case.h"
#include "recourse/deadline.h"
#include "recourse/mem.h"
#include "recourse/path.h"
#include "recourse/rc.h"

#define K(x)	AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_##x
#define CASE_MAX_BYTES	(64u << 20)	/* a case re-read for checking */
#define ADDR_MAX	382		/* address 253 + ':' + local-id 128 */

enum { S0 = 0, SO = RECOURSE_ST_OPEN, SC = RECOURSE_ST_CLAIMED,
    SR = RECOURSE_ST_RESOLVED, SE = RECOURSE_ST_ESCALATED };

/* next_tab[action][state]: the state after, 0 if refused. */
static const unsigned char next_tab[RECOURSE_ACT__MAX + 1][5] = {
	[RECOURSE_ACT_CLAIM]	 = { S0, SC, S0, S0, S0 },
	[RECOURSE_ACT_RELEASE]	 = { S0, S0, SO, S0, S0 },
	[RECOURSE_ACT_REDIRECT]	 = { S0, SR, SR, S0, S0 },
	[RECOURSE_ACT_RETURN]	 = { S0, SR, SR, S0, S0 },
	[RECOURSE_ACT_DISCARD]	 = { S0, SR, SR, S0, S0 },
	[RECOURSE_ACT_ESCALATE]	 = { S0, SO, SC, S0, S0 },
	[RECOURSE_ACT_ANNOTATE]	 = { S0, SO, SC, SR, SE },
	[RECOURSE_ACT_VIEW_PAYLOAD] = { S0, SO, SC, SR, SE },
	[RECOURSE_ACT_DEADLINE]	 = { S0, SO, S0, S0, S0 },
	[RECOURSE_ACT_HANDOVER]	 = { S0, SO, SC, S0, S0 },
	[RECOURSE_ACT_RETRY]	 = { S0, SO, SC, S0, S0 },
	[RECOURSE_ACT_ESCALATED] = { S0, SE, SE, S0, S0 },
};

static const char *const act_names[RECOURSE_ACT__MAX + 1] = {
	"?", "claim", "release", "redirect", "return", "discard", "escalate",
	"annotate", "view_payload", "deadline", "handover", "retry", "escalated"
};

/* "resolved cases cannot be <done>". */
static const char *const act_done[RECOURSE_ACT__MAX + 1] = {
	"?", "claimed", "released", "redirected", "returned", "discarded",
	"escalated", "annotated", "viewed", "flagged overdue",
	"handed to the parent", "retried", "marked escalated"
};

static const int act_kind[RECOURSE_ACT__MAX + 1] = {
	0, K(CLAIMED), K(RELEASED), K(REDIRECTED), K(RETURNED), K(DISCARDED),
	K(ESCALATION_REQUESTED), K(ANNOTATED), K(PAYLOAD_VIEWED), K(DEADLINE),
	K(HANDOVER), K(RETRY), K(ESCALATED)
};

const char *
recourse_state_name(int state)
{
	static const char *const n[] = { "UNSPECIFIED", "OPEN", "CLAIMED",
	    "RESOLVED", "ESCALATED" };

	return state >= 0 && state <= 4 ? n[state] : "UNSPECIFIED";
}

const char *
recourse_action_name(enum recourse_action a)
{
	return a >= 1 && a <= RECOURSE_ACT__MAX ? act_names[a] : "?";
}

const char *
recourse_reason_name(int reason)
{
	static const char *const n[] = { "UNSPECIFIED", "UNKNOWN_ADDRESS",
	    "REGISTRAR_SUSPENDED", "REGISTRAR_REVOKED", "DELIVERY_DEADLINE",
	    "REPLY_OVERDUE", "HOP_LIMIT", "ROUTING_LOOP", "REJECTED",
	    "MALFORMED", "PEER_IDENTITY_MISMATCH", "MESSAGE_ID_CONFLICT" };

	return reason >= 0 && reason <= RECOURSE_REASON_MAX ? n[reason] :
	    "UNSPECIFIED";
}

const char *
recourse_kind_name(int kind)
{
	static const char *const n[] = { "UNSPECIFIED", "OPENED", "CLAIMED",
	    "RELEASED", "REDIRECTED", "RETURNED", "DISCARDED", "ESCALATED",
	    "ANNOTATED", "RECEIVED", "DEADLINE", "RETRY",
	    "ESCALATION_REQUESTED", "HANDOVER", "PAYLOAD_VIEWED" };

	return kind >= 0 && kind <= 14 ? n[kind] : "UNSPECIFIED";
}

int
recourse_case_kind(enum recourse_action a)
{
	return a >= 1 && a <= RECOURSE_ACT__MAX ? act_kind[a] : 0;
}

int
recourse_next_state(int state, enum recourse_action a)
{
	if (a < 1 || a > RECOURSE_ACT__MAX || state < 0 || state > 4)
		return 0;
	return next_tab[a][state];
}

void
recourse_fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(buf, len, "%s", ms == 0 ? "(never)" : "(bad time)");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* --- text checks --------------------------------------------------------- */

int
recourse_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned n, c = *p;
		uint32_t cp;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
		else return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int
text_check(const char *what, const char *s, int required, char *why,
    size_t whylen)
{
	const char *p = s ? s : "";

	while (isspace((unsigned char)*p))
		p++;
	if (required && *p == '\0')
		return recourse_why(why, whylen, RECOURSE_EINVAL, "%s", what);
	if (s != NULL && strlen(s) > RECOURSE_TEXT_MAX)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "the %s is "
		    "over %d bytes", required ? "text" : what, RECOURSE_TEXT_MAX);
	if (s != NULL && !recourse_text_ok(s))
		return recourse_why(why, whylen, RECOURSE_EINVAL, "the text "
		    "given is not valid UTF-8 or holds control characters");
	return RECOURSE_OK;
}

/* Light shape check of an address or identifier; the gateway parses it fully. */
static int
addr_check(const char *to, const Axle__V1__Case *c, char *why, size_t whylen)
{
	size_t n = to ? strlen(to) : 0, i;

	if (n == 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "redirect "
		    "needs the corrected address to send the message to");
	if (n > ADDR_MAX)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "redirect "
		    "address is %zu bytes, over %d", n, ADDR_MAX);
	for (i = 0; i < n && to[i] != ':'; i++)
		if (!islower((unsigned char)to[i]) &&
		    !isdigit((unsigned char)to[i]) && to[i] != '.' &&
		    to[i] != '-')
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "redirect address \"%s\": byte %zu is not one of "
			    "a-z 0-9 . -", to, i + 1);
	for (; i < n; i++)
		if (to[i] <= ' ' || to[i] > '~')
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "redirect address: the local id has a space or a "
			    "non-printable byte");
	if (i == 0 || to[0] == ':')
		return recourse_why(why, whylen, RECOURSE_EINVAL,
		    "redirect address \"%s\" has no address part", to);
	if (c->envelope && c->envelope->recipient_case ==
	    AXLE__V1__ENVELOPE__RECIPIENT_TO && strcmp(c->envelope->to, to) == 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "%s is the "
		    "address that failed; redirect needs a corrected one", to);
	return RECOURSE_OK;
}

/* --- describing a case ---------------------------------------------------- */

static const Axle__V1__CaseAction *
last_of(const Axle__V1__Case *c, int kind)
{
	for (size_t i = c->n_history; i-- > 0;)
		if (c->history[i] != NULL && (int)c->history[i]->kind == kind)
			return c->history[i];
	return NULL;
}

void
recourse_case_describe(const Axle__V1__Case *c, char *buf, size_t len)
{
	const Axle__V1__CaseAction *a;
	char t[40];

	switch ((int)c->state) {
	case RECOURSE_ST_RESOLVED:
		a = last_of(c, (int)c->outcome);
		recourse_fmt_time(a ? a->at_ms : 0, t, sizeof(t));
		snprintf(buf, len, "RESOLVED (%s by %s at %s)",
		    c->outcome == K(REDIRECTED) ? "redirected" :
		    c->outcome == K(RETURNED) ? "returned" : "discarded",
		    a ? a->actor : "?", t);
		return;
	case RECOURSE_ST_CLAIMED:
		a = last_of(c, K(CLAIMED));
		recourse_fmt_time(a ? a->at_ms : 0, t, sizeof(t));
		snprintf(buf, len, "CLAIMED (by %s since %s)", c->assignee, t);
		return;
	case RECOURSE_ST_ESCALATED:
		a = last_of(c, K(ESCALATED));
		recourse_fmt_time(a ? a->at_ms : 0, t, sizeof(t));
		snprintf(buf, len, "ESCALATED (to %s at %s; it is that node's "
		    "to resolve now)", c->escalated_to, t);
		return;
	default:
		recourse_fmt_time(c->deadline_ms, t, sizeof(t));
		snprintf(buf, len, "%s (deadline %s)",
		    recourse_state_name((int)c->state), t);
	}
}

/* --- checks --------------------------------------------------------------- */

static int
refuse_state(const Axle__V1__Case *c, enum recourse_action a, char *why,
    size_t whylen)
{
	static const char *const plural[] = { "unknown-state", "open",
	    "claimed", "resolved", "escalated" };
	char d[RECOURSE_ERR_MAX];
	int s = c->state <= 4 ? (int)c->state : 0;

	recourse_case_describe(c, d, sizeof(d));
	if (a == RECOURSE_ACT_CLAIM && s == SC)
		return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is "
		    "%s; release it first (the assignee may, or any admin "
		    "giving a reason)", c->id, d);
	return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is %s; "
	    "%s cases cannot be %s", c->id, d, plural[s], act_done[a]);
}

static const char *
parent_of(const struct recourse_node *node)
{
	return node->parent && node->parent[0] ? node->parent : NULL;
}

/* ESCALATE and HANDOVER: there must be a parent and it must not be a loop. */
static int
check_upward(const Axle__V1__Case *c, const struct recourse_node *node,
    char *why, size_t whylen)
{
	const char *parent = parent_of(node);

	if (parent == NULL)
		return recourse_why(why, whylen, RECOURSE_EROOT, "this node "
		    "(%s) is the root escalation point; resolve case %s here",
		    node->region, c->id);
	return recourse_path_check_append(c->path, c->n_path, parent, why,
	    whylen);
}

/* Rules about who may act and with what, once the state allows it. */
static int
check_args(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_act_args *args, char *why, size_t whylen)
{
	int mine = (int)c->state != SC || strcmp(c->assignee, args->actor) == 0;

	switch (a) {
	case RECOURSE_ACT_RELEASE:
		if (!mine)
			return text_check("releasing a case claimed by someone "
			    "else needs a reason (it is audited)", args->reason,
			    1, why, whylen);
		return text_check("reason", args->reason, 0, why, whylen);
	case RECOURSE_ACT_REDIRECT:
	case RECOURSE_ACT_RETURN:
	case RECOURSE_ACT_DISCARD:
	case RECOURSE_ACT_ESCALATE:
		if (!mine)
			return recourse_why(why, whylen, RECOURSE_EPRECOND,
			    "case %s is claimed by %s; only they may %s it "
			    "(or release it first, giving a reason)", c->id,
			    c->assignee, act_names[a]);
		if (a == RECOURSE_ACT_REDIRECT &&
		    addr_check(args->to, c, why, whylen) != RECOURSE_OK)
			return RECOURSE_EINVAL;
		return text_check("discard needs a reason: say why the message "
		    "is dropped (it is audited)", args->reason,
		    a == RECOURSE_ACT_DISCARD, why, whylen);
	case RECOURSE_ACT_ANNOTATE:
		return text_check("a note needs some text", args->reason, 1,
		    why, whylen);
	default:
		return text_check("reason", args->reason, 0, why, whylen);
	}
}

/* Hand-over state: what may not happen while the parent may hold the case. */
static int
check_handover(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_node *node, char *why, size_t whylen)
{
	char t[40];
	const Axle__V1__CaseAction *h;

	if (a == RECOURSE_ACT_DEADLINE && c->overdue_ms != 0)
		return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s: "
		    "its deadline was already noted", c->id);
	if (a == RECOURSE_ACT_ESCALATE && (c->escalation_requested_ms ||
	    c->escalating_to[0])) {
		recourse_fmt_time(c->escalation_requested_ms, t, sizeof(t));
		return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is "
		    "already on its way to the parent (%s%s)", c->id,
		    c->escalating_to[0] ? "being handed to " : "asked at ",
		    c->escalating_to[0] ? c->escalating_to : t);
	}
	if (c->escalating_to[0] == '\0' || (a != RECOURSE_ACT_REDIRECT &&
	    a != RECOURSE_ACT_RETURN && a != RECOURSE_ACT_DISCARD))
		return RECOURSE_OK;
	h = last_of(c, K(HANDOVER));
	recourse_fmt_time(h ? h->at_ms : 0, t, sizeof(t));
	return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is being "
	    "handed to %s (since %s) and %s may already hold it; it cannot be "
	    "%s here until %s answers", c->id, c->escalating_to, t,
	    c->escalating_to, act_done[a], c->escalating_to);
}

int
recourse_case_check(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_act_args *args, const struct recourse_node *node,
    char *why, size_t whylen)
{
	int rc;

	recourse_why(why, whylen, RECOURSE_OK, "%s", "");
	if (a < 1 || a > RECOURSE_ACT__MAX)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "unknown "
		    "action %d", (int)a);
	if (args == NULL || args->actor == NULL || args->actor[0] == '\0' ||
	    !recourse_text_ok(args->actor) || strlen(args->actor) > 1024)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "%s: no valid "
		    "identity of who acts (every action is attributed)",
		    act_names[a]);
	if (args->expected_version && args->expected_version != c->version)
		return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is "
		    "at version %" PRIu64 ", not %" PRIu64 ": it changed since "
		    "you looked; show it again", c->id, c->version,
		    args->expected_version);
	if (recourse_next_state((int)c->state, a) == 0)
		return refuse_state(c, a, why, whylen);
	if ((rc = check_args(c, a, args, why, whylen)) != RECOURSE_OK)
		return rc;
	if ((rc = check_handover(c, a, node, why, whylen)) != RECOURSE_OK)
		return rc;
	if (a == RECOURSE_ACT_ESCALATE || a == RECOURSE_ACT_HANDOVER)
		return check_upward(c, node, why, whylen);
	return RECOURSE_OK;
}

/* --- producing the case after an action ----------------------------------- */

/* Packs t (a shallow copy) with act appended to its history, version + 1. */
static int
pack_with(Axle__V1__Case *t, Axle__V1__CaseAction *act, size_t headroom,
    uint8_t **out, size_t *outlen)
{
	Axle__V1__CaseAction **h = NULL;

	if (act != NULL) {
		h = recourse_mem_alloc((t->n_history + 1) * sizeof(*h));
		if (h == NULL)
			return RECOURSE_ENOMEM;
		if (t->n_history > 0)
			memcpy(h, t->history, t->n_history * sizeof(*h));
		h[t->n_history] = act;
		t->history = h;
		t->n_history++;
	}
	t->version++;
	*out = pb_pack(&t->base, headroom, outlen);
	recourse_mem_free(h);
	return *out ? RECOURSE_OK : RECOURSE_ENOMEM;
}

/* The fields each action changes, on the shallow copy t. */
static void
apply_fields(Axle__V1__Case *t, enum recourse_action a,
    const struct recourse_act_args *args, const struct recourse_node *node,
    int64_t now, Axle__V1__CaseAction *act)
{
	static char empty[] = "";

	switch (a) {
	case RECOURSE_ACT_CLAIM:
		t->assignee = (char *)args->actor;
		break;
	case RECOURSE_ACT_RELEASE:
		t->assignee = empty;
		break;
	case RECOURSE_ACT_REDIRECT:
		act->redirect_to = (char *)args->to;
		t->outcome = K(REDIRECTED);
		break;
	case RECOURSE_ACT_RETURN:
		if (act->reason[0] == '\0')
			act->reason = t->detail;	/* the sender learns why */
		t->outcome = K(RETURNED);
		break;
	case RECOURSE_ACT_DISCARD:
		t->outcome = K(DISCARDED);
		break;
	case RECOURSE_ACT_ESCALATE:
		t->escalation_requested_ms = now;
		t->next_attempt_ms = 0;
		break;
	case RECOURSE_ACT_DEADLINE:
		t->overdue_ms = now;
		break;
	case RECOURSE_ACT_HANDOVER:
		t->escalating_to = (char *)node->parent;
		act->redirect_to = (char *)node->parent;
		break;
	case RECOURSE_ACT_RETRY:
		t->escalation_attempts++;
		t->next_attempt_ms = args->next_attempt_ms;
		if (args->definite)
			t->escalating_to = empty;
		break;
	case RECOURSE_ACT_ESCALATED:
		t->escalated_to = (char *)(args->to && args->to[0] ? args->to :
		    t->escalating_to[0] ? t->escalating_to : node->parent);
		act->redirect_to = t->escalated_to;
		t->escalating_to = empty;
		break;
	default:
		break;
	}
}

int
recourse_case_apply(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_act_args *args, const struct recourse_node *node,
    int64_t now, size_t headroom, uint8_t **out, size_t *outlen,
    int *new_state, char *why, size_t whylen)
{
	Axle__V1__CaseAction act = AXLE__V1__CASE_ACTION__INIT;
	Axle__V1__Case t = *c;
	int rc, quiet;

	*out = NULL;
	if ((rc = recourse_case_check(c, a, args, node, why, whylen)) != 0)
		return rc;
	act.kind = act_kind[a];
	act.actor = (char *)args->actor;
	act.at_ms = now;
	act.reason = (char *)(args->reason ? args->reason : "");
	act.node = (char *)node->region;
	t.state = recourse_next_state((int)c->state, a);
	apply_fields(&t, a, args, node, now, &act);
	*new_state = (int)t.state;
	quiet = args->quiet && (a == RECOURSE_ACT_HANDOVER ||
	    a == RECOURSE_ACT_RETRY);
	if ((rc = pack_with(&t, quiet ? NULL : &act, headroom, out,
	    outlen)) != RECOURSE_OK)
		return recourse_why(why, whylen, rc, "case %s: out of memory",
		    c->id);
	return RECOURSE_OK;
}

/* --- new cases and received ones ------------------------------------------ */

/* Refuses bytes that would not read back (bad UTF-8 from a caller, limits). */
static int
check_unpacks(uint8_t **out, size_t *outlen, size_t headroom, char *why,
    size_t whylen)
{
	char err[256];
	ProtobufCMessage *m = pb_unpack(&axle__v1__case__descriptor,
	    *out + headroom, *outlen - headroom, CASE_MAX_BYTES, err,
	    sizeof(err));

	if (m != NULL) {
		pb_free(m);
		return RECOURSE_OK;
	}
	free(*out);
	*out = NULL;
	if (strcmp(err, "out of memory") == 0)
		return recourse_why(why, whylen, RECOURSE_ENOMEM, "out of memory");
	return recourse_why(why, whylen, RECOURSE_EINVAL, "the case would not "
	    "be readable: %s", err);
}

int
recourse_case_new(const struct recourse_case_init *in,
    const struct recourse_node *node, size_t headroom, uint8_t **out,
    size_t *outlen, char *why, size_t whylen)
{
	Axle__V1__Case c = AXLE__V1__CASE__INIT;
	Axle__V1__CaseAction act = AXLE__V1__CASE_ACTION__INIT;
	char *path[1] = { (char *)node->region };
	int rc;

	*out = NULL;
	if (in->envelope == NULL)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "a case needs "
		    "the envelope it is about");
	if (in->reason < 1 || in->reason > RECOURSE_REASON_MAX)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "unknown case "
		    "reason %d", in->reason);
	if ((rc = text_check("detail", in->detail, 0, why, whylen)) != 0)
		return rc;
	c.id = (char *)in->id;
	c.envelope = (Axle__V1__Envelope *)in->envelope;
	c.reason = in->reason;
	c.detail = (char *)(in->detail ? in->detail : "");
	c.opened_ms = in->now;
	c.deadline_ms = in->deadline_ms;
	c.state = RECOURSE_ST_OPEN;
	c.path = path;
	c.n_path = 1;
	c.origin_node = (char *)node->region;
	act.kind = K(OPENED);
	act.actor = (char *)in->actor;
	act.at_ms = in->now;
	act.reason = c.detail;
	act.node = (char *)node->region;
	if ((rc = pack_with(&c, &act, headroom, out, outlen)) != RECOURSE_OK)
		return recourse_why(why, whylen, rc, "new case: out of memory");
	return check_unpacks(out, outlen, headroom, why, whylen);
}

static int
receive_check(const Axle__V1__Case *ch, const struct recourse_node *node,
    char *why, size_t whylen)
{
	char region[RECOURSE_ID_MAX];
	uint64_t n;
	int rc;

	if ((rc = recourse_case_id_parse(ch->id, NULL, region, &n, why,
	    whylen)) != RECOURSE_OK)
		return rc;
	if (strcmp(region, ch->origin_node) != 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case %s says "
		    "it was opened at \"%s\"", ch->id, ch->origin_node);
	if (ch->envelope == NULL || ch->reason < 1 ||
	    ch->reason > RECOURSE_REASON_MAX)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case %s has "
		    "no envelope or no known reason", ch->id);
	if (ch->n_path == 0 || strcmp(ch->path[0], ch->origin_node) != 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case %s: its "
		    "path must start at its origin %s", ch->id, ch->origin_node);
	if ((rc = recourse_path_check_append(ch->path, ch->n_path, node->region,
	    why, whylen)) != RECOURSE_OK)
		return rc;
	if (ch->state != RECOURSE_ST_OPEN && ch->state != RECOURSE_ST_CLAIMED)
		return recourse_why(why, whylen, RECOURSE_EPRECOND, "case %s is "
		    "%s at the child; only open or claimed cases move up",
		    ch->id, recourse_state_name((int)ch->state));
	return RECOURSE_OK;
}

int
recourse_case_receive(const Axle__V1__Case *child,
    const struct recourse_node *node, const char *actor, int64_t now,
    int64_t deadline_ms, size_t headroom, uint8_t **out, size_t *outlen,
    char *why, size_t whylen)
{
	Axle__V1__CaseAction act = AXLE__V1__CASE_ACTION__INIT;
	Axle__V1__Case t = *child;
	static char empty[] = "";
	char **path, note[300];
	int rc;

	*out = NULL;
	if ((rc = receive_check(child, node, why, whylen)) != RECOURSE_OK)
		return rc;
	if ((path = recourse_mem_alloc((child->n_path + 1) * sizeof(*path))) ==
	    NULL)
		return recourse_why(why, whylen, RECOURSE_ENOMEM, "out of memory");
	memcpy(path, child->path, child->n_path * sizeof(*path));
	path[child->n_path] = (char *)node->region;
	t.path = path;
	t.n_path = child->n_path + 1;
	t.state = RECOURSE_ST_OPEN;
	t.assignee = t.escalated_to = t.escalating_to = empty;
	t.deadline_ms = deadline_ms;
	t.escalation_requested_ms = t.next_attempt_ms = t.overdue_ms = 0;
	t.escalation_attempts = 0;
	t.outcome = 0;
	snprintf(note, sizeof(note), "escalated from %s",
	    child->path[child->n_path - 1]);
	act.kind = K(RECEIVED);
	act.actor = (char *)actor;
	act.at_ms = now;
	act.reason = note;
	act.node = (char *)node->region;
	rc = pack_with(&t, &act, headroom, out, outlen);
	recourse_mem_free(path);
	if (rc != RECOURSE_OK)
		return recourse_why(why, whylen, rc, "out of memory");
	return check_unpacks(out, outlen, headroom, why, whylen);
}

/* --- ids ------------------------------------------------------------------- */

static int
region_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

int
recourse_case_id_parse(const char *id, const char *default_region,
    char *region_out, uint64_t *n, char *why, size_t whylen)
{
	const char *slash = id ? strrchr(id, '/') : NULL;
	const char *num = slash ? slash + 1 : id;
	size_t rlen = slash ? (size_t)(slash - id) : 0;
	uint64_t v = 0;

	if (id == NULL || id[0] == '\0')
		return recourse_why(why, whylen, RECOURSE_EINVAL, "no case id");
	if (slash == NULL && default_region == NULL)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case id \"%.64s\" "
		    "must be <region>/<number>", id);
	if (slash != NULL && !region_ok(id, rlen))
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case id \"%.64s\": "
		    "the part before / is not a region", id);
	if (num[0] < '1' || num[0] > '9')
		return recourse_why(why, whylen, RECOURSE_EINVAL, "case id \"%.64s\": "
		    "the number must be 1 or more, without leading zeros", id);
	for (const char *p = num; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "case id \"%.64s\": bad number", id);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (slash != NULL) {
		memcpy(region_out, id, rlen);
		region_out[rlen] = '\0';
	} else
		snprintf(region_out, RECOURSE_ID_MAX, "%s", default_region);
	*n = v;
	return RECOURSE_OK;
}
