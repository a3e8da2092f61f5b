/* keyring.h -- the published keys of every registrar known (local and mirrored), in memory, for lookup by address on the event loop. */
#ifndef AXLE_REGISTRY_KEYRING_H
#define AXLE_REGISTRY_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/error.h"
#include "registry/keys.h"
#include "registry/prefix_index.h"

/*
 * The keyring holds, per registrar (region, id), a copy of the keys its
 * record publishes (registry/keys.h): a hash table, so that a lookup costs
 * one resolution in the prefix index plus one probe, never a walk of the
 * store. It is fed like the prefix index: built from the register at start
 * (registry_keyring_apply on each record of registry_db_walk) and brought
 * up to date with every record after a committed change, local or
 * mirrored (registry_keyring_apply again).
 *
 * For the node's switch and handlers (signing and sealing, issue 17):
 *
 *     struct registry_key_answer a;
 *     if (registry_keys_find(kr, idx, "uk.leeds.social", AXLE__V1__KEY_USE__KEY_USE_SEALING,
 *         now_ms, &a))
 *             for (size_t i = 0; i < a.n; i++)
 *                     use a.keys[i]->certificate (DER: d2i_X509), ->fingerprint ...
 *     else
 *             a.reason says why there is none
 *
 * Not thread-safe: one writer, and no reader during a change (the loop
 * thread). Pointers an answer holds are valid until the next change to the
 * keyring or to the index.
 */
struct registry_keyring;

/* New empty keyring; NULL on ENOMEM. Free with registry_keyring_free (NULL is fine). */
struct registry_keyring *registry_keyring_new(void);
void registry_keyring_free(struct registry_keyring *kr);

/* Registrars with at least one key, and keys held in all. */
size_t registry_keyring_registrars(const struct registry_keyring *kr);
size_t registry_keyring_keys(const struct registry_keyring *kr);

/*
 * Replaces what the keyring holds of r (r->region, r->id) by r's keys (at
 * most REGISTRY_KEYS_MAX are kept: a mirrored record cannot grow it beyond
 * that); a record without keys removes the registrar. Returns REGISTRY_OK,
 * REGISTRY_EINVAL (no region or id) or REGISTRY_ENOMEM (the keyring is then
 * unchanged for r).
 */
int registry_keyring_apply(struct registry_keyring *kr, const Axle__V1__Registrar *r);

/* What registry_keys_find answers. */
struct registry_key_answer {
	const char *registrar_id;		/* whose delegation covers the address; NULL: none */
	const char *region;			/* the region whose register holds it */
	Axle__V1__RegistrarStatus status;	/* its standing */
	const Axle__V1__PublishedKey *keys[REGISTRY_KEYS_MAX];	/* newest published first */
	size_t n;
	char reason[REGISTRY_REASON_MAX];	/* when n is 0: why, for a person */
};

/*
 * The keys valid for address (a parsed address) at now_ms: those of the
 * registrar whose delegation covers address (registry_resolve over idx),
 * of use (UNSPECIFIED: both), whose scope covers address and whose
 * certificate is valid at now_ms (registry_key_usable). None, with the
 * reason, when no delegation covers the address, its registrar is revoked,
 * or it publishes no usable key. Returns true if n > 0. Allocates nothing.
 */
bool registry_keys_find(const struct registry_keyring *kr,
    const struct registry_index *idx, const char *address, Axle__V1__KeyUse use,
    int64_t now_ms, struct registry_key_answer *out);

#endif
