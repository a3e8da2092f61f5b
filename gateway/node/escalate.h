/* escalate.h -- the escalation hierarchy inside the node: the hand-over timer, Axle.Escalate both ways. */
#ifndef AXLE_GW_ESCALATE_H
#define AXLE_GW_ESCALATE_H

#include <stdint.h>

#include "gateway/node/store.h"

struct evbuffer;
struct gw_node;

/* Hand-over outcomes, for axle_recourse_escalations_total{result}. */
enum gw_esc_result {
	GW_ESC_OK,		/* the parent committed it */
	GW_ESC_DUPLICATE,	/* the parent already had it (a retried hand-over) */
	GW_ESC_REFUSED,		/* definite failure: the parent does not have it */
	GW_ESC_UNKNOWN,		/* no answer: it may have it; re-sent later */
	GW_ESC_RECEIVED,	/* taken from a child (Axle.Escalate served here) */
	GW_ESC__COUNT
};
const char *gw_esc_result_name(enum gw_esc_result r);

/*
 * Arms the timer over node->recourse (which must be started). 0, or -1 with
 * err. The first tick runs at once: hand-overs interrupted by a crash are
 * resumed (the parent de-duplicates).
 */
int gw_escalate_start(struct gw_node *node, char *err, size_t errlen);

/*
 * Stops the timer. Hand-overs and writes in flight finish later without
 * touching the (then freed) recourse state: their outcome is recovered from
 * the store at the next start.
 */
void gw_escalate_stop(struct gw_node *node);

/* Looks at the cases again within a few ms (loop thread). */
void gw_escalate_kick(struct gw_node *node);

/* Counts one outcome (svc_escalate.c counts what it receives). */
void gw_escalate_count(struct gw_node *node, enum gw_esc_result r);

/* Appends axle_recourse_escalations_total{result}. */
void gw_escalate_metrics(struct gw_node *node, struct evbuffer *out);

/*
 * Whether a failed Axle.Escalate call certainly did not leave the case at
 * the parent (1) or might have (0), from the call's final status and
 * message: statuses the parent answers itself when it refuses (its handler
 * replies only after a commit, so any such refusal means nothing was
 * stored), and the client's transport failures that happen before any
 * request byte is sent (connect, resolve, TLS handshake, wrong peer
 * identity, deadline while still connecting). Everything else -- the
 * connection lost after the request went out, a deadline on a started
 * call, a reset stream -- is unknown. Pure.
 */
int gw_escalate_definite(int net_grpc_status, const char *message);

/*
 * The timer's delay in ms for the next wake-up at next_at (0: nothing
 * pending) at now: the time left, at least 10 ms, at most 1000 ms (so cases
 * opened by another module's commit are seen within a second, and a wall
 * clock step is absorbed); 1000 when nothing or only what is in flight is
 * pending (next_at <= now). Pure.
 */
int64_t gw_escalate_delay_ms(int64_t next_at, int64_t now, int all_in_flight);

#endif
