/* identity.h -- who is calling: the axle:// SAN URI, and what it may do. Pure. */
#ifndef AXLE_GW_IDENTITY_H
#define AXLE_GW_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "registry/address.h"

#define NET_FED_MAX   63	/* a federation name is one label */
#define NET_USER_MAX  64	/* admin user name: [a-z0-9._-], 1-64 */
#define NET_URI_MAX   (8 + NET_FED_MAX + 8 + ADDR_MAX_LEN + 1 + NET_USER_MAX)

enum net_role { NET_ROLE_NODE = 1, NET_ROLE_MEMBER = 2, NET_ROLE_ADMIN = 3 };

/*
 * A verified identity, from `axle://<federation>/<role>/<address>[/<user>]`:
 * user is set for admins only (`axle://fame-uk/admin/uk.london/jsmith`).
 */
struct net_identity {
	enum net_role role;
	char federation[NET_FED_MAX + 1];
	char address[ADDR_MAX_LEN + 1];
	char user[NET_USER_MAX + 1];
	char uri[NET_URI_MAX + 1];
};

/* "node", "member", "admin". */
const char *net_role_name(enum net_role role);

/*
 * Parses a SAN URI. The scheme must be exactly "axle", the federation a
 * label, the role one of node|member|admin, the address valid per
 * registry_address_parse (folded); admins need a /user part, others must not
 * have one. Returns 0 or -1 with a reason in err.
 */
int net_identity_parse_uri(const char *uri, size_t len, struct net_identity *out,
    char *err, size_t errlen);

/* What an RPC requires of its caller (the dispatch table carries one). */
enum net_authz {
	NET_AUTHZ_ANY = 0,	/* any verified identity of our federation */
	NET_AUTHZ_ADMIN,		/* an admin of this node (address == node region) */
	NET_AUTHZ_MEMBER,	/* a member (prefix checks are per-request) */
	NET_AUTHZ_NODE,		/* a peer node */
	NET_AUTHZ_MEMBER_OR_ADMIN,
};

/*
 * Decides whether caller may call an RPC that requires rule, on a node of
 * federation fed serving region. Returns true, or false with a reason a
 * person can act on in err (e.g. "admin of uk.leeds may not act on node
 * uk.london").
 */
bool net_authz_allows(const struct net_identity *caller, enum net_authz rule,
    const char *fed, const char *region, char *err, size_t errlen);

/*
 * True if a member may act on addr: addr lies within the member's own
 * prefix (label-aligned). Reason in err otherwise.
 */
bool net_authz_member_covers(const struct net_identity *caller, const char *addr,
    char *err, size_t errlen);

#endif
