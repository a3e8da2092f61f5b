/* registrar.h -- registrar records: identifiers, lifecycle transitions, versions, lookups inside a record. */
#ifndef AXLE_REGISTRY_REGISTRAR_H
#define AXLE_REGISTRY_REGISTRAR_H

#include <stddef.h>
#include <stdint.h>

#include "axle/v1/registry.pb-c.h"

/*
 * The record type is the generated Axle__V1__Registrar itself, not a C
 * mirror of it: the same record is stored (packed, in LMDB), chained into
 * the feed, mirrored by peers and returned by the RPCs, so a second struct
 * would only add two conversions that can drift apart. Records from
 * pb_unpack must not have their pointers changed (pb_free frees them from
 * its own arena): a change is made on a shallow copy whose edited arrays
 * belong to the editor (see db.c).
 */

#define REGISTRY_ID_MAX		64	/* registrar id bytes */
#define REGISTRY_NAME_MAX	200	/* display / service name bytes */
#define REGISTRY_ANY_VERSION	0	/* expected_version that skips the check */

typedef Axle__V1__RegistrarStatus registry_status;

/*
 * Checks a registrar id: 1-64 bytes of [a-z0-9._-], starting with a letter
 * or digit (ids appear in URIs, logs and page tokens unescaped). Returns
 * REGISTRY_OK or REGISTRY_EINVAL with reason.
 */
int registry_id_check(const char *id, char *reason, size_t len);

/* "pending", "active", "suspended", "revoked" or "unspecified"; static. */
const char *registry_status_name(registry_status s);

/*
 * Lifecycle: pending -> active, pending -> revoked, active <-> suspended,
 * active -> revoked, suspended -> revoked. pending -> revoked is allowed so
 * that a registrar delegated by mistake or that never completed onboarding
 * can be withdrawn without first being given standing. Everything else,
 * including "from X to X", is refused with REGISTRY_EPRECOND and a reason
 * ("cannot go from revoked to active: a revoked registrar's prefixes must be
 * re-homed"). A pure function. Returns REGISTRY_OK or REGISTRY_EPRECOND
 * (REGISTRY_EINVAL for a status that is not one of the four).
 */
int registry_transition_check(registry_status from, registry_status to,
    char *reason, size_t len);

/*
 * Optimistic concurrency: REGISTRY_OK if expected is REGISTRY_ANY_VERSION
 * or equals r->version, else REGISTRY_ECONFLICT with a reason naming both.
 */
int registry_version_check(const Axle__V1__Registrar *r, uint64_t expected,
    char *reason, size_t len);

/* Index of prefix in r->prefixes, or -1. */
int registry_registrar_prefix_index(const Axle__V1__Registrar *r, const char *prefix);

/* Index of the service named name in r->services, or -1. */
int registry_registrar_service_index(const Axle__V1__Registrar *r, const char *name);

/* The prefix of r that covers address (label-aligned), or NULL. Points into r. */
const char *registry_registrar_covering_prefix(const Axle__V1__Registrar *r,
    const char *address);

/*
 * The prefix through which the certificate uri acts as address for r:
 * r's registered certificate identity is uri (exactly: a narrower
 * certificate under one of r's prefixes is not r's), r is not revoked, and
 * one of r's prefixes covers address (label-aligned). This is how a
 * registrar's own certificate holds every prefix it was delegated or
 * re-homed, beyond the one its URI names. Points into r; NULL if not.
 * Pure.
 */
const char *registry_registrar_acting_prefix(const Axle__V1__Registrar *r,
    const char *uri, const char *address);

#endif
