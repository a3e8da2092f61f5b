/* case.h -- the case model and its state machine, as pure functions over axle.v1.Case. */
#ifndef AXLE_RECOURSE_CASE_H
#define AXLE_RECOURSE_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "axle/v1/recourse.pb-c.h"

#define RECOURSE_ID_MAX		300	/* "<region>/<n>" and a NUL */
#define RECOURSE_TEXT_MAX	4096	/* a reason, a note, a detail */

/* Short names for the generated enums. */
#define RECOURSE_ST_OPEN	AXLE__V1__CASE_STATE__CASE_STATE_OPEN
#define RECOURSE_ST_CLAIMED	AXLE__V1__CASE_STATE__CASE_STATE_CLAIMED
#define RECOURSE_ST_RESOLVED	AXLE__V1__CASE_STATE__CASE_STATE_RESOLVED
#define RECOURSE_ST_ESCALATED	AXLE__V1__CASE_STATE__CASE_STATE_ESCALATED

/*
 * What can happen to a case. The first eight are what admins do; the rest
 * are the node's own steps of the hand-over protocol (the gateway calls
 * them through recourse.h, never on an admin's behalf).
 *
 * States and transitions (anything else is refused, RECOURSE_EPRECOND):
 *   CLAIM      OPEN -> CLAIMED (assignee = actor)
 *   RELEASE    CLAIMED -> OPEN. By the assignee, or by another admin of the
 *              node WITH a reason: a claim must not be able to strand a case
 *              (claimed cases do not move up on their own, so an assignee
 *              who is away would otherwise block it for good); the reason
 *              is audited.
 *   REDIRECT   OPEN|CLAIMED -> RESOLVED, outcome REDIRECTED (to a corrected
 *              address; the envelope keeps its trace)
 *   RETURN     OPEN|CLAIMED -> RESOLVED, outcome RETURNED (reason optional:
 *              the case's detail is sent to the sender if none is given)
 *   DISCARD    OPEN|CLAIMED -> RESOLVED, outcome DISCARDED (reason required)
 *   ESCALATE   OPEN|CLAIMED, unchanged: records the admin's request. The case
 *              becomes ESCALATED only when the parent has durably taken it
 *              (ESCALATED below), so it is never in zero or two places.
 *   ANNOTATE   any state, unchanged. Also on closed cases: a note after the
 *              fact ("sender phoned") changes nothing about where the message
 *              is, and belongs with the case's record.
 *   VIEW_PAYLOAD any state, unchanged: an admin was shown the payload (who,
 *              when, and the reason if given, are recorded: it is
 *              child-protection content).
 *   DEADLINE   OPEN, unchanged: notes once that the deadline passed
 *   HANDOVER   OPEN|CLAIMED, unchanged: a hand-over to the parent begins;
 *              from now until the parent answers, the case cannot be
 *              resolved here (the parent may already hold it)
 *   RETRY      OPEN|CLAIMED, unchanged: a hand-over failed; back off
 *   ESCALATED  OPEN|CLAIMED -> ESCALATED: the parent acknowledged its commit
 * On a CLAIMED case, only the assignee may redirect, return, discard or
 * escalate. While a hand-over may be in flight (escalating_to set), redirect,
 * return and discard are refused. ESCALATE and HANDOVER are refused at the
 * root (RECOURSE_EROOT) and when the parent is on the path (RECOURSE_ELOOP).
 */
enum recourse_action {
	RECOURSE_ACT_CLAIM = 1,
	RECOURSE_ACT_RELEASE,
	RECOURSE_ACT_REDIRECT,
	RECOURSE_ACT_RETURN,
	RECOURSE_ACT_DISCARD,
	RECOURSE_ACT_ESCALATE,
	RECOURSE_ACT_ANNOTATE,
	RECOURSE_ACT_VIEW_PAYLOAD,
	RECOURSE_ACT_DEADLINE,
	RECOURSE_ACT_HANDOVER,
	RECOURSE_ACT_RETRY,
	RECOURSE_ACT_ESCALATED,
	RECOURSE_ACT__MAX = RECOURSE_ACT_ESCALATED
};
#define RECOURSE_ACT_ADMIN_MAX	RECOURSE_ACT_VIEW_PAYLOAD

struct recourse_act_args {
	const char *actor;	/* identity URI of who acts; required */
	const char *reason;	/* why, or the note (ANNOTATE) */
	const char *to;		/* REDIRECT: the corrected address;
				   ESCALATED: the parent that has it (NULL:
				   escalating_to, else the node's parent) */
	uint64_t expected_version; /* non-zero: refuse if the case moved on */
	int definite;		/* RETRY: the parent certainly does not have it */
	int64_t next_attempt_ms; /* RETRY: no attempt before this */
	int quiet;		/* HANDOVER, RETRY: no history entry (repeats) */
};

/* The node where an action happens. */
struct recourse_node {
	const char *region;	/* e.g. "uk.london" */
	const char *parent;	/* parent escalation point; NULL or "" at the root */
};

/* "OPEN", "CLAIMED", ...; "UNSPECIFIED" for anything else. Static. */
const char *recourse_state_name(int state);
/* "claim", "release", ... Static; "?" for an unknown action. */
const char *recourse_action_name(enum recourse_action a);
/* "UNKNOWN_ADDRESS", ... Static; "UNSPECIFIED" for anything else. */
const char *recourse_reason_name(int reason);
/* "OPENED", "CLAIMED", ... (CaseActionKind). Static. */
const char *recourse_kind_name(int kind);

/* The CaseActionKind a's history entry has (CLAIMED, ..., HANDOVER). */
int recourse_case_kind(enum recourse_action a);

/*
 * The state after action a from state, by the table above; 0
 * (CASE_STATE_UNSPECIFIED) if the table has no such transition.
 */
int recourse_next_state(int state, enum recourse_action a);

/*
 * Whether a may be applied to c at node now: RECOURSE_OK, or
 * RECOURSE_EINVAL (missing actor, discard without a reason, bad redirect
 * address, text over RECOURSE_TEXT_MAX or not UTF-8), RECOURSE_EPRECOND
 * (illegal for the case's state, claimed by someone else, hand-over in
 * flight, version moved on), RECOURSE_EROOT, RECOURSE_ELOOP; with a reason a
 * person can act on, e.g. "case uk.london/42 is RESOLVED (discarded by
 * axle://fame-uk/admin/uk.london/jsmith at 2024-05-01T10:00:00.000Z);
 * resolved cases cannot be claimed".
 */
int recourse_case_check(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_act_args *args, const struct recourse_node *node,
    char *why, size_t whylen);

/*
 * Checks as above, then packs the case as it is after the action (history
 * entry appended unless args->quiet, version + 1) into a new buffer with
 * `headroom` zeroed bytes in front: *out (free with free()) of *outlen bytes
 * in all. *new_state is the state after. c is not modified. Returns the
 * check's code, or RECOURSE_ENOMEM.
 */
int recourse_case_apply(const Axle__V1__Case *c, enum recourse_action a,
    const struct recourse_act_args *args, const struct recourse_node *node,
    int64_t now, size_t headroom, uint8_t **out, size_t *outlen,
    int *new_state, char *why, size_t whylen);

/* What recourse_case_new needs. */
struct recourse_case_init {
	const Axle__V1__Envelope *envelope;	/* required */
	int reason;				/* Axle__V1__CaseReason, 1..9 */
	const char *detail;			/* what went wrong, where */
	const char *id;				/* "<region>/<n>" */
	const char *actor;			/* who opened it (node identity) */
	int64_t now, deadline_ms;
};

/*
 * Packs a new OPEN case (path [region], origin region, history [OPENED])
 * with headroom as in recourse_case_apply. The result is checked to unpack
 * (strings valid UTF-8, within pb's limits) before it is returned.
 * RECOURSE_OK, RECOURSE_EINVAL (no envelope, unknown reason, bad text),
 * RECOURSE_ENOMEM.
 */
int recourse_case_new(const struct recourse_case_init *in,
    const struct recourse_node *node, size_t headroom, uint8_t **out,
    size_t *outlen, char *why, size_t whylen);

/*
 * A case arriving from a child escalation point: checks it (a well-formed
 * id whose region is origin_node, OPEN or CLAIMED, a path ending with the
 * child and not containing node->region: else RECOURSE_ELOOP), and packs
 * this node's copy: OPEN, no assignee, path + [region], a new deadline,
 * hand-over fields reset, history + [RECEIVED by actor]. Same return and
 * ownership as recourse_case_new.
 */
int recourse_case_receive(const Axle__V1__Case *child,
    const struct recourse_node *node, const char *actor, int64_t now,
    int64_t deadline_ms, size_t headroom, uint8_t **out, size_t *outlen,
    char *why, size_t whylen);

/*
 * One line about where c stands: "RESOLVED (discarded by X at T)",
 * "CLAIMED (by X since T)", "ESCALATED (to uk at T)", "OPEN (deadline T)".
 */
void recourse_case_describe(const Axle__V1__Case *c, char *buf, size_t len);

/* ms since the epoch as "2024-05-01T10:00:00.000Z". */
void recourse_fmt_time(int64_t ms, char *buf, size_t len);

/*
 * Splits "<region>/<n>" (n decimal, 1..2^64-1, no leading zero; region 1-253
 * bytes of [a-z0-9.-]). A bare "<n>" means default_region/n (default_region
 * may be NULL: then it is refused). RECOURSE_OK or RECOURSE_EINVAL with a
 * reason. region_out has RECOURSE_ID_MAX bytes.
 */
int recourse_case_id_parse(const char *id, const char *default_region,
    char *region_out, uint64_t *n, char *why, size_t whylen);

/* 1 if s is valid UTF-8 without NUL or other C0 controls except \t \n \r. */
int recourse_text_ok(const char *s);

#endif
