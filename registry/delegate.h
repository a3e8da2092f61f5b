/* delegate.h -- delegation and re-homing rules, as pure functions over a view of the delegated prefixes. */
#ifndef AXLE_REGISTRY_DELEGATE_H
#define AXLE_REGISTRY_DELEGATE_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/address.h"
#include "registry/prefix_index.h"

/* Who holds a prefix: a registrar's delegation or a node's region. */
struct registry_holder {
	char prefix[ADDR_MAX_LEN + 1];
	char registrar_id[129];		/* empty for a region */
	char region[ADDR_MAX_LEN + 1];	/* the register that delegates it ("": this one) */
	bool is_region;			/* a node's region prefix (sub-region of ours) */
};

/*
 * Read access to the delegations the rules are checked against: the
 * in-memory index (registry_index_view) or the LMDB register inside a
 * transaction (db.c). Each function returns 1 (found, *out filled), 0 (not
 * found) or a negative REGISTRY_* code (a failed read; then reason is
 * written by the check as "cannot read the register").
 *   get:   who holds exactly prefix.
 *   under: any holder of a prefix strictly under prefix.
 */
struct registry_prefix_view {
	int (*get)(void *ctx, const char *prefix, struct registry_holder *out);
	int (*under)(void *ctx, const char *prefix, struct registry_holder *out);
	void *ctx;
};

/*
 * A view over an index (delegations of every region, and peer regions as
 * holders). idx must outlive the view's use.
 */
void registry_index_view(const struct registry_index *idx,
    struct registry_prefix_view *out);

/*
 * May registrar_id be given prefix on the node of region? prefix and region
 * are parsed addresses. Rules, in order:
 *  - prefix must lie strictly inside region, label-aligned
 *    (REGISTRY_EPERM "uk.leeds.x is outside this node's region uk.london");
 *  - it must not equal, contain or be contained by any delegation, of
 *    another registrar (REGISTRY_EEXIST naming that registrar and prefix)
 *    or of the same one (REGISTRY_EEXIST: redundant). Every delegation
 *    counts whatever its registrar's standing: pending and suspended
 *    registrars still hold their prefixes, and a revoked registrar's
 *    prefixes await re-homing (registry_db_rehome), which is the only way
 *    to give them to someone else -- two holders of one prefix never exist;
 *  - it must not equal, contain or be contained by a peer node's region.
 * One exception, for splitting a region (docs/operator.md): a delegation of
 * the same registrar id in the register of an ancestor region (a mirror)
 * is no conflict: the child node takes over that registrar, and the
 * ancestor's node moves it here (registry_db_split).
 * Returns REGISTRY_OK, REGISTRY_EPERM, REGISTRY_EEXIST, or the view's error.
 */
int registry_delegate_check(const struct registry_prefix_view *v,
    const char *region, const char *registrar_id, const char *prefix,
    char *reason, size_t len);

/*
 * May the prefixes of `from` move to `to`? from must be revoked and to
 * active (REGISTRY_EPRECOND otherwise), they must differ (REGISTRY_EINVAL)
 * and be of the same region (REGISTRY_EPERM). Pure.
 */
int registry_rehome_check(const Axle__V1__Registrar *from,
    const Axle__V1__Registrar *to, char *reason, size_t len);

#endif
