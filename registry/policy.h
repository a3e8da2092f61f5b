/* policy.h -- a registrar's traffic policy (sealed payloads): checks and what it requires. Pure. */
#ifndef AXLE_REGISTRY_POLICY_H
#define AXLE_REGISTRY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/registry.pb-c.h"

#define REGISTRY_POLICY_TYPES	64	/* sealed_message_types entries */

/*
 * A traffic policy as SetPolicy takes it: at most REGISTRY_POLICY_TYPES
 * message types, each 1-128 bytes of 0x21-0x7e, none twice. Returns
 * REGISTRY_OK or REGISTRY_EINVAL with a reason naming the entry. p may be
 * NULL (no policy).
 */
int registry_policy_check(const Axle__V1__TrafficPolicy *p, char *reason,
    size_t len);

/* Does the policy require anything (require_sealed, or a type listed)? */
bool registry_policy_set(const Axle__V1__TrafficPolicy *p);

/*
 * Must a payload of message_type to r be sealed? r's policy requires all
 * its traffic sealed, or lists message_type.
 */
bool registry_policy_requires_sealed(const Axle__V1__Registrar *r,
    const char *message_type);

/*
 * The policy in words, for feed details, logs and people: "all traffic
 * sealed", "sealed: referral.v2, strategy.v1" or "none".
 */
void registry_policy_text(const Axle__V1__TrafficPolicy *p, char *out,
    size_t len);

#endif
