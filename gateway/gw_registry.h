/* gw_registry.h -- the register inside the node: its databases, the resolution index, what other modules ask of it. */
#ifndef AXLE_GW_GW_REGISTRY_H
#define AXLE_GW_GW_REGISTRY_H

#include <stdbool.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/module.h"
#include "registry/db.h"
#include "registry/prefix_index.h"

struct gw_node;

struct gw_registry {
	struct registry_db db;		/* handles valid for the environment's life */
	struct registry_index *idx;	/* loop thread only; rebuilt by gw_registry_reindex */
	size_t mirror_skipped;		/* mirrored prefixes that clashed at load */
	void *ext;			/* svc_registry.c / mirror.c state */
};

extern const struct gw_module gw_registry_module;

/*
 * Label-aligned longest-prefix resolution over the local register, the
 * mirrors and the peers' region prefixes (see registry_resolve). Strings in
 * *out are valid until the next change to the index (return to the loop).
 */
bool gw_registry_resolve(struct gw_node *node, const char *address,
    struct registry_resolution *out);

/*
 * After a committed change (local or mirrored): brings the index in line
 * with the record. Loop thread only. Returns a REGISTRY_* code (logged).
 */
int gw_registry_applied(struct gw_node *node, const Axle__V1__Registrar *r);

/* Rebuilds the index from the store (after a mirror reset, or to reclaim memory). */
int gw_registry_reindex(struct gw_node *node, char *err, size_t errlen);

#endif
