/* recourse.h -- the operations the gateway calls: open, show, list and act on cases, and hand them up the hierarchy. */
#ifndef AXLE_RECOURSE_RECOURSE_H
#define AXLE_RECOURSE_RECOURSE_H

#include <stddef.h>
#include <stdint.h>

#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/recourse.pb-c.h"
#include "recourse/audit.h"
#include "recourse/backend.h"
#include "recourse/case.h"
#include "recourse/deadline.h"
#include "recourse/rc.h"

/*
 * Conventions for every function below.
 *
 * ptxn: the caller's outer transaction, or NULL. With the LMDB backend it
 * is an MDB_txn * (the gateway's group-commit writer passes the batch's
 * transaction from inside its store_write_fn; a read may pass a read
 * transaction from gw_store_read_begin); each write operation then runs in a
 * nested transaction of it, so on failure nothing of the operation is left
 * and the rest of the batch is untouched, and on success it is durable when
 * the caller commits. With NULL the operation commits on its own.
 *
 * Writes are atomic: the case change and its audit entry (and counters) are
 * in one transaction, or none of it happened.
 *
 * e (may be NULL) receives a reason a person can act on, and the store's
 * own code for RECOURSE_ESTORE. Cases handed out are owned by the caller:
 * free them with recourse_case_free.
 *
 * A case id is "<origin region>/<n>", unique in the federation and kept as
 * the case moves up (so receipts and Switch.Status keep naming it). Where an
 * id is taken, a bare "<n>" means one opened at this node.
 */
struct recourse;

struct recourse_config {
	const char *region;	/* this node's region prefix; required */
	const char *parent;	/* parent escalation point's region; NULL or "": root */
	const char *identity;	/* this node's identity URI, the actor of its
				   own steps; NULL: "axle-node:<region>" */
	struct recourse_deadline_policy deadlines;
	struct recourse_backoff backoff;
	uint32_t page_size_max;		/* 0: 500 */
	uint32_t page_size_default;	/* 0: 50 */
};

/*
 * Creates the context over be (not owned: destroy it after
 * recourse_destroy). cfg's strings are copied. RECOURSE_OK, RECOURSE_EINVAL
 * (bad region or parent, parent == region), RECOURSE_ENOMEM.
 */
int recourse_new(const struct recourse_config *cfg, struct recourse_backend *be,
    struct recourse **out, struct recourse_err *e);
void recourse_destroy(struct recourse *r);

/*
 * Changes the parent (SIGHUP reload); NULL or "" makes this node the root.
 * Cases already being handed over keep their target. RECOURSE_OK,
 * RECOURSE_EINVAL, RECOURSE_ENOMEM. Not concurrent with other calls.
 */
int recourse_set_parent(struct recourse *r, const char *parent,
    struct recourse_err *e);
int recourse_is_root(const struct recourse *r);

/* pb_free for cases from this API; NULL is fine. */
void recourse_case_free(Axle__V1__Case *c);

/*
 * Opens a case about env (copied) for reason (CASE_REASON_*, 1..9) with a
 * human detail, deadline from the policy. id_out (RECOURSE_ID_MAX bytes)
 * gets "<region>/<n>", numbers counting up from 1 at this node. The OPENED
 * history entry is by the node's identity. RECOURSE_OK, RECOURSE_EINVAL,
 * RECOURSE_ESTORE, RECOURSE_ENOMEM.
 */
int recourse_case_open(struct recourse *r, void *ptxn,
    const Axle__V1__Envelope *env, int reason, const char *detail,
    int64_t now, char *id_out, struct recourse_err *e);

/* As recourse_case_open, from envelope bytes (at most 64 MiB). */
int recourse_case_open_bytes(struct recourse *r, void *ptxn,
    const uint8_t *env, size_t len, int reason, const char *detail,
    int64_t now, char *id_out, struct recourse_err *e);

/* The case, with its history. RECOURSE_OK, ENOTFOUND, EINVAL (bad id), ESTORE, ENOMEM. */
int recourse_case_get(struct recourse *r, void *ptxn, const char *id,
    Axle__V1__Case **out, struct recourse_err *e);

struct recourse_filter {
	int state;		/* CaseState; 0: OPEN and CLAIMED (or every
				   state with include_closed) */
	int include_closed;
	int reason;		/* CaseReason; 0: any */
	const char *assignee;	/* NULL or "": any */
	int64_t min_age_ms;	/* opened at least this long before now */
	int overdue_only;	/* recourse_overdue() at now */
};

struct recourse_page {
	Axle__V1__Case **cases;	/* n cases in id order (region, then number) */
	size_t n;
	char next_token[RECOURSE_ID_MAX];	/* "" on the last page */
};

/*
 * One page of cases matching f (NULL: the default filter). page_token is ""
 * or NULL for the first page, else a next_token from before (the id of the
 * last case returned: stable under inserts). page_size 0 means the default;
 * it is capped at page_size_max. Free the page with recourse_page_free (also
 * after an error). RECOURSE_OK, EINVAL (bad token), ESTORE, ENOMEM.
 */
int recourse_case_list(struct recourse *r, void *ptxn,
    const struct recourse_filter *f, int64_t now, const char *page_token,
    uint32_t page_size, struct recourse_page *out, struct recourse_err *e);
void recourse_page_free(struct recourse_page *p);

/*
 * An admin's action (RECOURSE_ACT_CLAIM .. RECOURSE_ACT_ANNOTATE; see
 * case.h for the rules) with args (actor required). The state change, its
 * history entry and its audit entry are one transaction. *out (may be NULL)
 * is the case afterwards. ESCALATE only records the request: the case is
 * then due (recourse_escalation_due) and becomes ESCALATED when
 * recourse_case_mark_escalated is called. Returns RECOURSE_OK or the
 * refusal of case.h, ENOTFOUND, ESTORE, ENOMEM.
 */
int recourse_case_act(struct recourse *r, void *ptxn, const char *id,
    enum recourse_action a, const struct recourse_act_args *args,
    int64_t now, Axle__V1__Case **out, struct recourse_err *e);

/*
 * Ids of cases this node should hand to its parent at now
 * (recourse_escalation_wanted), at most max, into ids[]; *n is the count.
 * At the root *n is 0 (overdue cases stay here: see
 * recourse_deadline_sweep). RECOURSE_OK, ESTORE, ENOMEM.
 */
int recourse_escalation_due(struct recourse *r, void *ptxn, int64_t now,
    char (*ids)[RECOURSE_ID_MAX], size_t max, size_t *n,
    struct recourse_err *e);

/*
 * The hand-over protocol, per case, in this order:
 *   1. recourse_escalation_begin: durably notes that a hand-over to the
 *      parent starts (from here until the parent answers, the case cannot
 *      be resolved locally: the parent may already hold it) and returns the
 *      case to send in Axle.Escalate (its path ends with this region).
 *      Calling it again while one is in flight writes nothing.
 *   2. send it; then either
 *   3a. the parent acknowledged its durable commit (or said duplicate):
 *       recourse_case_mark_escalated -> ESCALATED here. Idempotent.
 *   3b. it failed: recourse_escalation_failed. definite = 1 when the parent
 *       certainly does not have it (never connected, or it refused: the case
 *       is free here again); 0 when the outcome is unknown (sent, no answer:
 *       the case stays locked and is re-sent; the parent de-duplicates).
 *       The next attempt is backed off (capped exponential, jitter from rnd).
 * begin returns EROOT at the root and ELOOP if the parent is on the path;
 * the gateway should then record a definite failure so the case is backed
 * off and the reason shows in its history.
 */
int recourse_escalation_begin(struct recourse *r, void *ptxn, const char *id,
    int64_t now, Axle__V1__Case **to_send, struct recourse_err *e);
int recourse_escalation_failed(struct recourse *r, void *ptxn, const char *id,
    int64_t now, int definite, const char *reason, uint32_t rnd,
    struct recourse_err *e);
int recourse_case_mark_escalated(struct recourse *r, void *ptxn,
    const char *id, const char *parent, int64_t now, struct recourse_err *e);

/*
 * At the parent: takes a case from a child (actor: the child node's
 * identity; the gateway checks that it is the node the path ends with).
 * Refuses a loop (this region already on the path: RECOURSE_ELOOP) first,
 * then de-duplicates by id (= origin node and origin number): a retried
 * hand-over sets *duplicate and changes nothing, so the case exists here
 * once. Otherwise stores this node's OPEN copy (path + this region, a new
 * deadline by this node's policy). id_out gets the id. RECOURSE_OK,
 * EINVAL, ELOOP, EPRECOND (a different case under that id), ESTORE, ENOMEM.
 */
int recourse_case_accept_escalated(struct recourse *r, void *ptxn,
    const Axle__V1__Case *child, const char *actor, int64_t now,
    char *id_out, int *duplicate, struct recourse_err *e);

struct recourse_sweep {
	size_t overdue;		/* OPEN cases past their deadline now */
	size_t noted;		/* of which noted now (DEADLINE entry written) */
};

/*
 * Notes, once per case and level, that an OPEN case's deadline passed (a
 * DEADLINE history and audit entry), and counts overdue cases: at the root
 * that count is the alert metric (such cases stay open there). RECOURSE_OK,
 * ESTORE, ENOMEM.
 */
int recourse_deadline_sweep(struct recourse *r, void *ptxn, int64_t now,
    struct recourse_sweep *out, struct recourse_err *e);

/*
 * When the node next has something to do (recourse_case_wakeup over all
 * live cases); *at 0 if nothing is pending. RECOURSE_OK, ESTORE, ENOMEM.
 */
int recourse_next_wakeup_at(struct recourse *r, void *ptxn, int64_t *at,
    struct recourse_err *e);

struct recourse_stats {
	uint64_t open, claimed, resolved, escalated, overdue, in_handover;
};
/* Counts over every case at now. RECOURSE_OK, ESTORE, ENOMEM. */
int recourse_stats(struct recourse *r, void *ptxn, int64_t now,
    struct recourse_stats *out, struct recourse_err *e);

/*
 * What the node signs for an export ending at entry to (0: the head now):
 * *seq that entry (0 for an empty log), hash its stored hash (32 zero bytes
 * for an empty log), *head_seq the head now. RECOURSE_OK; RECOURSE_ENOTFOUND
 * when to is beyond the head or its entry is missing (reason names it);
 * RECOURSE_ESTORE, RECOURSE_ENOMEM.
 */
int recourse_audit_head_at(struct recourse *r, void *ptxn, uint64_t to,
    uint64_t *seq, uint8_t hash[RECOURSE_HASH_LEN], uint64_t *head_seq,
    struct recourse_err *e);

/* recourse_audit_range over this node's log (a page of an export). */
int recourse_audit_page(struct recourse *r, void *ptxn, uint64_t from,
    uint64_t to, size_t max, size_t max_bytes, recourse_audit_fn fn,
    void *arg, uint64_t *next, struct recourse_err *e);

/* recourse_audit_verify over this node's log. */
int recourse_audit_check(struct recourse *r, void *ptxn,
    struct recourse_audit_report *rep, struct recourse_err *e);

#endif
