/* seal_policy.h -- the register's traffic policy at Send and Forward: refuses an unsealed payload where the recipient's registrar requires sealing. */
#ifndef AXLE_GW_SEAL_POLICY_H
#define AXLE_GW_SEAL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/envelope.pb-c.h"

struct gw_node;

/*
 * Must env be refused because its payload is not sealed (sw_payload_sealed)
 * while the policy of its recipient's registrar, in this node's register
 * or a mirrored one, requires it (registry_policy_requires_sealed)? Then
 * true, with a reason for the sender in why (the registrar, its policy,
 * and what to do) and registrar's id in rid. A `to_group` envelope, a
 * system envelope (receipt, returned message), a recipient no delegation
 * known here covers, or a store that cannot be read: false (the node that
 * serves the recipient decides). Loop thread: one read transaction and a
 * point lookup, only when a delegation covers the recipient.
 */
bool gw_seal_refuses(struct gw_node *node, const Axle__V1__Envelope *env,
    char *why, size_t len, char *rid, size_t ridlen);

#endif
