/* deadline.h -- case deadlines, overdue tests, next wake-up and escalation retry backoff: pure arithmetic. */
#ifndef AXLE_RECOURSE_DEADLINE_H
#define AXLE_RECOURSE_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

#include "axle/v1/recourse.pb-c.h"

#define RECOURSE_DEADLINE_DEFAULT_MS	(24LL * 3600 * 1000)	/* 24 h */
#define RECOURSE_REASON_MAX		11	/* CASE_REASON_MESSAGE_ID_CONFLICT */
#define RECOURSE_BACKOFF_BASE_MS	1000LL
#define RECOURSE_BACKOFF_CAP_MS		(10LL * 60 * 1000)	/* 10 min */

/*
 * How long a node gives its admins before an OPEN case moves to the parent.
 * A zero entry means "use default_ms"; default_ms 0 means
 * RECOURSE_DEADLINE_DEFAULT_MS. Every level of the hierarchy applies its own
 * policy when a case arrives there.
 */
struct recourse_deadline_policy {
	int64_t default_ms;
	int64_t per_reason_ms[RECOURSE_REASON_MAX + 1];	/* by Axle__V1__CaseReason */
};

/* The period for reason (an unknown reason gets the default); always > 0. */
int64_t recourse_deadline_period(const struct recourse_deadline_policy *p,
    int reason);

/*
 * opened_ms + the period for reason, saturating at INT64_MAX. p may be NULL
 * (defaults).
 */
int64_t recourse_deadline_for(const struct recourse_deadline_policy *p,
    int reason, int64_t opened_ms);

/*
 * 1 if c is OPEN, has a deadline and now >= deadline_ms; else 0. CLAIMED
 * cases are never overdue: an admin is on them, and only unclaimed cases
 * move up on their own (issue 5). At the root an overdue case stays open
 * and counts for the alert metric.
 */
int recourse_overdue(const Axle__V1__Case *c, int64_t now);

/*
 * 1 if a non-root node should try to hand c to its parent at now: c is OPEN
 * or CLAIMED, not before next_attempt_ms, and a hand-over is in flight
 * (escalating_to), or an admin asked (escalation_requested_ms), or it is
 * overdue. 0 otherwise (and always 0 for resolved or escalated cases).
 */
int recourse_escalation_wanted(const Axle__V1__Case *c, int64_t now);

/*
 * When c next needs the node's attention, in ms: for a non-root node
 * (is_root 0) the time it becomes wanted as above; at the root, its
 * deadline if that has not been noted yet (overdue_ms == 0). 0 if never
 * (closed cases, or nothing pending). A time <= now means "now".
 */
int64_t recourse_case_wakeup(const Axle__V1__Case *c, int is_root);

/*
 * The earliest non-zero recourse_case_wakeup over cases[0..n), or 0 if none.
 * NULL entries are skipped.
 */
int64_t recourse_next_wakeup(Axle__V1__Case *const *cases, size_t n,
    int is_root);

/* Capped exponential backoff; zero fields mean the defaults above. */
struct recourse_backoff {
	int64_t base_ms;
	int64_t cap_ms;
};

/*
 * Delay before retry number `attempt` (1: after the first failure):
 * d = min(cap, base * 2^(attempt-1)), then "equal jitter": d/2 + rnd mod
 * (d/2 + 1), so the result is in [d/2, d] and deterministic for a given rnd
 * (callers pass a random value; tests pass fixed ones). attempt 0 is 0.
 * b may be NULL (defaults).
 */
int64_t recourse_backoff_delay(const struct recourse_backoff *b,
    uint32_t attempt, uint32_t rnd);

#endif
