/* node_record.h -- a region's node as a register record: "node.<region>", its pinned identity and its endpoint. Pure. */
#ifndef AXLE_REGISTRY_NODE_RECORD_H
#define AXLE_REGISTRY_NODE_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/address.h"

#define REGISTRY_NODE_ID_PREFIX	"node."
#define REGISTRY_NODE_SERVICE	"axle"	/* the record's one service: its endpoint */
#define REGISTRY_ENDPOINT_MAX	300	/* "host:port" */

/*
 * A node record (docs/design.md "Peering from the register"): the
 * registrar "node.<region>" of the parent's register, holding exactly the
 * prefix <region>, whose certificate identity is
 * axle://<federation>/node/<region> and whose service "axle" of kind NODE
 * carries the endpoint.
 */
struct registry_node {
	char region[ADDR_MAX_LEN + 1];		/* the region the node serves */
	char parent[ADDR_MAX_LEN + 1];		/* the region whose register published it */
	char identity[REGISTRY_ENDPOINT_MAX + 1];	/* the URI its certificate must carry */
	char endpoint[REGISTRY_ENDPOINT_MAX + 1];	/* "host:port"; "" : through the tree only */
	bool active;				/* standing ACTIVE: may be reached */
};

/*
 * Is r a node record? Fills *out (may be NULL) and returns true if so. A
 * registrar that only looks like one (id "node.x" with another prefix or a
 * member's identity) is not.
 */
bool registry_node_of(const Axle__V1__Registrar *r, struct registry_node *out);

/* The id of region's node record into id (REGISTRY_ID_MAX + 1). 0, or -1 if too long. */
int registry_node_id(const char *region, char *id, size_t len);

#endif
