/* sw_route.h -- the switch's routing decision, trace and hop rules, and service-group expansion. Pure. */
#ifndef AXLE_GW_SW_ROUTE_H
#define AXLE_GW_SW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axle/v1/common.pb-c.h"
#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/recourse.pb-c.h"
#include "gateway/switch/sw_envelope.h"
#include "registry/prefix_index.h"

enum sw_route_kind {
	SW_ROUTE_RECOURSE = 0,		/* a case here (reason code) */
	SW_ROUTE_LOCAL_MAILBOX = 1,	/* a registrar of this region (target: its id) */
	SW_ROUTE_HOLD = 2,		/* a suspended registrar of this region (target: its id) */
	SW_ROUTE_PEER = 3,		/* another node (target: its region) */
	SW_ROUTE_EXPAND = 4,		/* a service group: expand here, route each copy */
};

struct sw_route {
	enum sw_route_kind kind;
	Axle__V1__CaseReason code;	/* RECOURSE: why; else UNSPECIFIED */
	char target[ADDR_MAX_LEN + 1];	/* registrar id or region; "" for RECOURSE/EXPAND */
	char reason[320];		/* for a person: why this route */
};

/*
 * Decides where an envelope goes from this node (region `region`, a parsed
 * address). e is the envelope as it arrived, before this node's hop is
 * appended; res is registry_resolve() of the address part of `to`, or of
 * to_group.prefix when is_group. Rules, first match wins:
 *
 * "The trace" in these rules is the journey: the hops after the last one
 * that carries a redirect_case (an admin sent the message on anew there;
 * see sw_trace_journey), or all of them if there is none.
 *
 * 1. region already in the trace: RECOURSE ROUTING_LOOP.
 * 2. trace length >= hop limit (0: SW_HOP_LIMIT_DEFAULT): RECOURSE HOP_LIMIT
 *    (this node may not add itself).
 * 3. is_group: EXPAND if anything in the federation covers the prefix,
 *    else RECOURSE UNKNOWN_ADDRESS.
 * 4. a delegation matches:
 *    - served here: ACTIVE -> LOCAL_MAILBOX; SUSPENDED -> HOLD; REVOKED ->
 *      RECOURSE REGISTRAR_REVOKED; PENDING or anything else -> RECOURSE
 *      UNKNOWN_ADDRESS (not in service);
 *    - served by another node: PEER to that region, whatever the standing
 *      (the serving node is authoritative; its view is fresher than our
 *      mirror, and holding or recourse happen there).
 * 5. no delegation: encloser is a peer region -> PEER (that node's recourse
 *    owns its unknown addresses); our own region or nothing -> RECOURSE
 *    UNKNOWN_ADDRESS.
 * 6. PEER only: the target region is already in the trace -> RECOURSE
 *    ROUTING_LOOP (it would come straight back); trace length + 1 (with our
 *    hop) >= hop limit -> RECOURSE HOP_LIMIT (the next node could not add
 *    itself, so refuse here where the sender's node is known).
 * Always fills *out, reason included.
 */
void sw_route_decide(const Axle__V1__Envelope *e, const char *region,
    const struct registry_resolution *res, bool is_group, struct sw_route *out);

/* True if region is one of the hops of the journey (sw_trace_journey). */
bool sw_trace_contains(const Axle__V1__Envelope *e, const char *region);

/*
 * The index of the journey's first hop: just after the last hop that
 * carries a redirect_case, or 0 if none does. Hops of the journey:
 * e->n_trace minus this.
 */
size_t sw_trace_journey(const Axle__V1__Envelope *e);

/* How many hops carry a redirect_case: the times the message was redirected. */
uint32_t sw_trace_redirects(const Axle__V1__Envelope *e);

/*
 * Appends this node's hop (region, now_ms; redirect_case NULL, or the case
 * an admin here redirects the message out of) to a view (sw_envelope.h) of
 * the envelope, leaving the original alone. Returns 0, -ENOMEM, or -EINVAL
 * if the view already has an appended hop.
 */
int sw_trace_append(struct sw_env_view *v, const char *region, int64_t now_ms,
    const char *redirect_case);

/* --- service groups ------------------------------------------------------ */

/* A published service, as the register (local or mirrored) lists it. */
struct sw_service {
	const char *registrar_id;	/* unique in the federation */
	const char *region;		/* region of the node that serves the registrar */
	const char *name;		/* unique within its registrar */
	const char *address;		/* where its messages go */
	Axle__V1__ServiceKind kind;
	const char *const *message_types;	/* types it accepts */
	size_t n_message_types;
};

/* One copy of a group envelope: its own id, addressed to one service. */
struct sw_group_copy {
	uint8_t id[SW_ID_LEN];
	char to[ADDR_MAX_LEN + 1];		/* the service's address, folded */
	const struct sw_service *service;	/* points into the caller's list */
};

/*
 * The id of the copy of group message `id` for service (registrar_id,
 * name): the first 16 bytes of
 *   SHA-256("axle.v1.group" 0x00 || id[16] || registrar_id 0x00 || name)
 * Deterministic, so re-expanding the same message (a retry, or the same
 * group expanded at two nodes) yields the same ids and the receivers'
 * de-duplication drops the repeats; distinct per service; and unrelated to
 * ids senders generate at random. Returns 0, or -1 if SHA-256 failed.
 */
int sw_group_copy_id(const uint8_t id[SW_ID_LEN], const char *registrar_id,
    const char *name, uint8_t out[SW_ID_LEN]);

/*
 * Expands group envelope e (recipient to_group) over the n services the
 * register lists: keeps those of the group's kind whose address is a valid
 * address under the group's prefix and, when the group names a
 * message_type, that list it; drops repeats of the same (registrar_id,
 * name); sorts by (registrar_id, name) so the expansion is a function of the
 * set, not of the register's order. Writes up to max copies to out and
 * returns how many matched in all (more than max: the caller's array was
 * too small, only max written), or -1 if e is not a valid group envelope
 * or SHA-256 failed. 0: no service matched (the caller sends the message
 * to recourse as UNKNOWN_ADDRESS).
 * Pack each copy with sw_view_init + sw_view_set_recipient(copy.id, copy.to).
 */
long sw_group_expand(const Axle__V1__Envelope *e,
    const struct sw_service *services, size_t n, struct sw_group_copy *out,
    size_t max);

/* "recourse", "local_mailbox", "hold", "peer", "expand". */
const char *sw_route_kind_name(enum sw_route_kind kind);

#endif
