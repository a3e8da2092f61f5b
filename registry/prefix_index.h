/* prefix_index.h -- in-memory index of known prefixes for label-aligned longest-prefix resolution. */
#ifndef AXLE_REGISTRY_PREFIX_INDEX_H
#define AXLE_REGISTRY_PREFIX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axle/v1/registry.pb-c.h"

/*
 * The index maps a prefix string to what is known about it: a registrar's
 * delegation, a peer node's region or this node's own region. Prefixes and
 * registrar ids live in one string arena; the tables are open-addressing
 * (linear probing, load <= 1/2) keyed by a prefix-incremental FNV-1a hash, so
 * one pass over an address yields the hash of every ancestor and a resolve
 * allocates nothing.
 *
 * Registrars are known by (region, id): ids are unique in the federation,
 * but a mirrored peer must not be able to shadow a local registrar.
 *
 * Not thread-safe: one writer, and no reader during a change. Strings handed
 * out (registry_match) point into the arena and are valid until the next
 * change to the index. Removing entries does not shrink the arena; rebuild
 * the index (registry_index_load) to reclaim it.
 */
struct registry_index;

enum registry_prefix_kind {
	REGISTRY_PREFIX_NONE = 0,
	REGISTRY_PREFIX_DELEGATION = 1,		/* a registrar's prefix (local or mirrored) */
	REGISTRY_PREFIX_PEER_REGION = 2,	/* a peer node's region prefix */
	REGISTRY_PREFIX_OWN_REGION = 3,		/* this node's region prefix */
};

struct registry_match {
	enum registry_prefix_kind kind;	/* NONE: no such prefix */
	const char *prefix;		/* the prefix (NUL-terminated) */
	size_t prefix_len;
	const char *registrar_id;	/* DELEGATION: its registrar; else NULL */
	Axle__V1__RegistrarStatus registrar_status; /* DELEGATION: its standing */
	const char *region;		/* region of the node that serves the prefix */
};

struct registry_resolution {
	/* The longest delegation covering the address (kind NONE if none). */
	struct registry_match match;
	/*
	 * The longest known prefix of any kind covering the address (NSD's
	 * closest encloser): equal to match when a delegation is the closest;
	 * else the region of the node responsible, where recourse goes. kind
	 * NONE: nothing in the federation covers the address.
	 */
	struct registry_match encloser;
};

/*
 * New empty index sized for about `expected` prefixes (0: small). Returns
 * NULL on ENOMEM. Free with registry_index_free (NULL is fine).
 */
struct registry_index *registry_index_new(size_t expected);
void registry_index_free(struct registry_index *idx);

/* Number of prefixes (delegations and regions) in the index. */
size_t registry_index_count(const struct registry_index *idx);

/*
 * Adds or updates registrar (region, id) with its standing. Returns
 * REGISTRY_OK, REGISTRY_EINVAL (empty region or id, or longer than 253 / 128
 * bytes) or REGISTRY_ENOMEM.
 */
int registry_index_set_registrar(struct registry_index *idx, const char *region,
    const char *id, Axle__V1__RegistrarStatus status);

/*
 * Adds prefix as a delegation of registrar (region, id), which must have been
 * set (else REGISTRY_ENOTFOUND). Re-adding a prefix to its own registrar is
 * REGISTRY_OK; a prefix known otherwise is REGISTRY_EEXIST. prefix must be a
 * parsed address (registry_address_parse). Overlap with other delegations
 * is the caller's rule (registry_delegate_check), not checked here.
 * Returns REGISTRY_OK, REGISTRY_EINVAL, REGISTRY_EEXIST, REGISTRY_ENOTFOUND
 * or REGISTRY_ENOMEM.
 */
int registry_index_add_delegation(struct registry_index *idx, const char *prefix,
    const char *region, const char *id);

/*
 * Gives an existing delegation to another registrar (region, id), which must
 * have been set: re-homing. Returns REGISTRY_OK, REGISTRY_ENOTFOUND (no such
 * delegation or registrar) or REGISTRY_EINVAL.
 */
int registry_index_move_delegation(struct registry_index *idx, const char *prefix,
    const char *region, const char *id);

/*
 * Adds a node's region prefix (kind PEER_REGION or OWN_REGION). Returns
 * REGISTRY_OK (also if already there with that kind), REGISTRY_EEXIST (known
 * as something else), REGISTRY_EINVAL or REGISTRY_ENOMEM.
 */
int registry_index_add_region(struct registry_index *idx, const char *prefix,
    enum registry_prefix_kind kind);

/* Removes prefix of any kind. Returns REGISTRY_OK or REGISTRY_ENOTFOUND. */
int registry_index_remove(struct registry_index *idx, const char *prefix);

/*
 * Brings the index in line with one registrar record (after a local change
 * or an applied mirror entry): sets its standing, adds its new prefixes and
 * moves to it prefixes that a registrar of the same region held (re-homing).
 * Prefixes it no longer lists are left to whoever now lists them.
 * Splitting a region (docs/design.md "Peering from the register", its last
 * part): a record with moved_to (a region strictly inside its own) puts its
 * prefixes under registrar (moved_to, id), which is the key the child
 * region's own record
 * of the same id uses, so either record alone resolves them to the child,
 * in whatever order they arrive; a prefix not under moved_to is refused
 * (REGISTRY_EINVAL, the rest applied). Until its node moves it, the record
 * of an ancestor region takes back a prefix that the same registrar's
 * record in a region under it took first. Returns
 * REGISTRY_OK, REGISTRY_ENOMEM, REGISTRY_EINVAL, or REGISTRY_EEXIST when some
 * prefix was held by another region or is a region (those are skipped, the
 * rest applied: a peer cannot take over what is known otherwise).
 */
int registry_index_apply(struct registry_index *idx, const Axle__V1__Registrar *r);

/*
 * Looks up prefix exactly. Returns true and fills *out (kind != NONE) if
 * known, else false with out->kind NONE.
 */
bool registry_index_get(const struct registry_index *idx, const char *prefix,
    struct registry_match *out);

/*
 * Finds a delegation strictly under prefix (covered by it, not equal).
 * Returns true and fills *out, else false. O(1) when there is none (the
 * index counts delegations under every ancestor); a scan of the index when
 * there is one, to name it (refusals are rare).
 */
bool registry_index_find_under(const struct registry_index *idx,
    const char *prefix, struct registry_match *out);

/*
 * Label-aligned longest-prefix resolution of address (a parsed address, at
 * most 253 bytes; anything longer or empty resolves to nothing): probes the
 * address and each ancestor, longest first. Fills *out (see
 * registry_resolution). Returns true if a delegation matched. Allocates
 * nothing.
 */
bool registry_resolve(const struct registry_index *idx, const char *address,
    struct registry_resolution *out);

/* The 64-bit hash the index uses for a key (FNV-1a, then a finaliser). */
uint64_t registry_index_hash(const char *key, size_t len);

#endif
