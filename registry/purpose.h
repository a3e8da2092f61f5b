/* purpose.h -- purpose-bound services: the purpose grammar and which purposes a published service accepts. Pure. */
#ifndef AXLE_REGISTRY_PURPOSE_H
#define AXLE_REGISTRY_PURPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/registry.pb-c.h"

#define REGISTRY_PURPOSE_MAX	64	/* bytes of one purpose */
#define REGISTRY_PURPOSES_MAX	16	/* purposes one service publishes */

/*
 * A purpose names the information-sharing agreement a message is sent
 * under ("safeguarding-s47", "early-help", "la.edu-2"): 1-64 bytes of
 * [a-z0-9.-], starting with a letter or digit. Exact match, no folding (an
 * upper-case letter is refused, not lowered). Returns true, or false with
 * a reason ("purpose \"X\": ...").
 */
bool registry_purpose_valid(const char *p, char *why, size_t len);

/*
 * A service's purposes: each valid, none repeated, at most
 * REGISTRY_PURPOSES_MAX. Returns REGISTRY_OK or REGISTRY_EINVAL with a
 * reason.
 */
int registry_purposes_check(char *const *v, size_t n, char *why, size_t len);

enum registry_purpose_verdict {
	REGISTRY_PURPOSE_OK = 0,	/* the service takes it */
	REGISTRY_PURPOSE_MISSING,	/* it carries no purpose and needs one */
	REGISTRY_PURPOSE_REFUSED,	/* its purpose is not one the service takes */
};

/* "ok", "purpose_missing", "purpose_refused": the metric's and log's reason. */
const char *registry_purpose_verdict_name(enum registry_purpose_verdict v);

/*
 * Does service s take a message whose purpose is p (NULL or "": none)?
 *   - s publishes purposes: p must be one of them (none: MISSING; another:
 *     REFUSED);
 *   - s publishes none and is an index service: nothing (none: MISSING,
 *     any: REFUSED) -- an index query must carry a purpose its index
 *     service accepts;
 *   - s publishes none and is of another kind: anything, with or without a
 *     purpose (what every service took before purposes existed).
 */
enum registry_purpose_verdict registry_purpose_accepts(const Axle__V1__Service *s,
    const char *p);

/*
 * The reason, for a person, why service s (of registrar rid) does not take
 * purpose p with verdict v (not OK): names the purpose, the service and
 * what it accepts.
 */
void registry_purpose_why(const char *rid, const Axle__V1__Service *s,
    const char *p, enum registry_purpose_verdict v, char *why, size_t len);

/*
 * A message to address addr (parsed, folded) delivered to registrar r:
 * which of r's services is it for, and does it take purpose p? The
 * services it is for are those (not of kind NODE) whose address covers
 * addr label-aligned, the longest such address only (several services may
 * share it). None: OK (nothing published says what addr takes). Else OK if
 * any of them takes p, else MISSING if any says MISSING, else REFUSED, with
 * the reason of the first of them in why and its name in *service (points
 * into r; may be NULL).
 */
enum registry_purpose_verdict registry_purpose_for_address(
    const Axle__V1__Registrar *r, const char *addr, const char *p,
    const char **service, char *why, size_t len);

#endif
