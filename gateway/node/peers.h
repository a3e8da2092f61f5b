/* peers.h -- the axles: one reused mTLS HTTP/2 client per peer node, configured ([peer]) or published in the register (on demand), and the next hop toward a region. */
#ifndef AXLE_GW_PEERS_H
#define AXLE_GW_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "gateway/net/client.h"
#include "gateway/node/config.h"

struct gw_node;
struct registry_node;

enum gw_peer_state { GW_PEER_UNKNOWN = 0, GW_PEER_UP, GW_PEER_DOWN };

struct gw_peer_link {
	char region[ADDR_MAX_LEN + 1];
	char host[NET_HOST_MAX + 1];
	char port[NET_PORT_MAX + 1];
	char parent[ADDR_MAX_LEN + 1];	/* published: the region whose register published it */
	bool configured;		/* a [peer] section */
	bool published;			/* an active node record with an endpoint */
	struct net_client *client;	/* NULL until a call needs it (and after an idle close) */
	char uri[NET_URI_MAX + 1];	/* the identity it must prove */
	enum gw_peer_state state;	/* from the last call's outcome */
	int64_t last_ok_ms;		/* wall clock of the last successful call */
	int64_t used_ms;		/* monotonic: the last call started or ended */
	char last_error[256];
	uint64_t calls_ok, calls_failed;
	uint64_t opened, idle_closed;	/* connections made on demand / closed idle */
};

/*
 * Creates a link per configured peer (connections open lazily) and sets
 * up the table of nodes published in the register (gw_peers_publish).
 * Each link requires the server to be axle://<federation>/node/<region>.
 * Returns 0 or -1 with err.
 */
int gw_peers_start(struct gw_node *node, char *err, size_t errlen);

/* Frees the links; in-flight calls end with CANCELLED. */
void gw_peers_stop(struct gw_node *node);

/*
 * After a TLS reload: new clients with the node's new client context. Calls
 * in flight on the old ones end with CANCELLED; their callers retry.
 */
void gw_peers_reload(struct gw_node *node);

/*
 * After node->cfg's peers changed (SIGHUP): adds links for new [peer]
 * sections, moves a peer whose address changed to a new client, and
 * forgets a removed one unless the register publishes it. Links whose
 * address is unchanged keep their connection and calls. Loop thread.
 */
void gw_peers_reconfigure(struct gw_node *node);

/*
 * A node record applied to the register (local or mirrored; see
 * registry/node_record.h): its region becomes reachable on demand at its
 * endpoint (pinned to its identity), or stops being so (withdrawn, no
 * endpoint). Changes of endpoint move the link to a new client. Loop thread.
 */
void gw_peers_publish(struct gw_node *node, const struct registry_node *nr);

/* The link to the node serving region (configured or published), or NULL. */
struct gw_peer_link *gw_peers_find(struct gw_node *node, const char *region);
/* Every link slot (some may be neither configured nor published any more). */
size_t gw_peers_count(const struct gw_node *node);
struct gw_peer_link *gw_peers_at(struct gw_node *node, size_t i);

/*
 * The next node toward region (the switch's next_hop hook, sw_core.h;
 * docs/design.md "Peering from the register"): region itself over a direct
 * axle that is not known to be down; else, for a region under this node's,
 * its first node on the way down that is reachable; else the parent; else
 * a direct axle even if down (traffic waits in its outbox). NULL: the
 * parent. False if region has no known node (or NULL and no parent). Any
 * thread.
 */
bool gw_peers_next_hop(struct gw_node *node, const char *region, char *hop);

/*
 * Packs req and calls path on the peer serving region, opening its
 * connection if needed; cb gets the outcome exactly once when 0 is
 * returned (see net_client_cb). The link's state is updated from transport
 * outcomes (UNAVAILABLE, DEADLINE_EXCEEDED: down). Returns 0, or -1 (no
 * such peer, ENOMEM; cb not called).
 */
int gw_peers_call(struct gw_node *node, const char *region, const char *path,
    const ProtobufCMessage *req, int timeout_ms, net_client_cb cb, void *arg);

const char *gw_peer_state_name(enum gw_peer_state s);

#endif
