/* identity.h -- who is calling: the axle:// SAN URI, and what it may do. Pure. */
#ifndef AXLE_GW_IDENTITY_H
#define AXLE_GW_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "registry/address.h"

#define GW_FED_MAX   63	/* a federation name is one label */
#define GW_USER_MAX  64	/* admin user name: [a-z0-9._-], 1-64 */
#define GW_URI_MAX   (8 + GW_FED_MAX + 8 + ADDR_MAX_LEN + 1 + GW_USER_MAX)

enum gw_role { GW_ROLE_NODE = 1, GW_ROLE_MEMBER = 2, GW_ROLE_ADMIN = 3 };

/*
 * A verified identity, from `axle://<federation>/<role>/<address>[/<user>]`:
 * user is set for admins only (`axle://fame-uk/admin/uk.london/jsmith`).
 */
struct gw_identity {
	enum gw_role role;
	char federation[GW_FED_MAX + 1];
	char address[ADDR_MAX_LEN + 1];
	char user[GW_USER_MAX + 1];
	char uri[GW_URI_MAX + 1];
};

/* "node", "member", "admin". */
const char *gw_role_name(enum gw_role role);

/*
 * Parses a SAN URI. The scheme must be exactly "axle", the federation a
 * label, the role one of node|member|admin, the address valid per
 * registry_address_parse (folded); admins need a /user part, others must not
 * have one. Returns 0 or -1 with a reason in err.
 */
int gw_identity_parse_uri(const char *uri, size_t len, struct gw_identity *out,
    char *err, size_t errlen);

/* What an RPC requires of its caller (the dispatch table carries one). */
enum gw_authz {
	GW_AUTHZ_ANY = 0,	/* any verified identity of our federation */
	GW_AUTHZ_ADMIN,		/* an admin of this node (address == node region) */
	GW_AUTHZ_MEMBER,	/* a member (prefix checks are per-request) */
	GW_AUTHZ_NODE,		/* a peer node */
	GW_AUTHZ_MEMBER_OR_ADMIN,
};

/*
 * Decides whether caller may call an RPC that requires rule, on a node of
 * federation fed serving region. Returns true, or false with a reason a
 * person can act on in err (e.g. "admin of uk.leeds may not act on node
 * uk.london").
 */
bool gw_authz_allows(const struct gw_identity *caller, enum gw_authz rule,
    const char *fed, const char *region, char *err, size_t errlen);

/*
 * True if a member may act on addr: addr lies within the member's own
 * prefix (label-aligned). Reason in err otherwise.
 */
bool gw_authz_member_covers(const struct gw_identity *caller, const char *addr,
    char *err, size_t errlen);

#endif
