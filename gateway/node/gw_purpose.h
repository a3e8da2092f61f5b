/* gw_purpose.h -- purpose-bound services at the node's door: a message whose purpose its recipient's service does not take is refused on Send and on Forward, from the register and its mirrors. */
#ifndef AXLE_GW_GW_PURPOSE_H
#define AXLE_GW_GW_PURPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/envelope.pb-c.h"
#include "gateway/switch/sw_core.h"

struct gw_node;

/*
 * Must env be refused before this node takes it further (docs/protocol.md
 * "Purposes")? True, with the refusal and a reason naming the purpose and
 * the service, when:
 *   - it is an index query to a group (to_group of kind INDEX) without a
 *     purpose;
 *   - its `to` resolves (this node's register or a mirror: the resolution
 *     index) to a registrar whose service for that address does not take
 *     its purpose (registry_purpose_for_address).
 * Anything this node cannot tell (no registrar known, a store it cannot
 * read, a group it does not expand): false -- the node that delivers it,
 * or expands the group, checks again. System envelopes: false. Loop
 * thread: one read transaction, one point lookup.
 */
bool gw_purpose_refused(struct gw_node *node, const Axle__V1__Envelope *env,
    enum sw_refusal *r, char *why, size_t len);

#endif
