/* peers.h -- the axles: one reused mTLS HTTP/2 client per configured peer node. */
#ifndef AXLE_GW_PEERS_H
#define AXLE_GW_PEERS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "gateway/net/client.h"
#include "gateway/node/config.h"

struct gw_node;

enum gw_peer_state { GW_PEER_UNKNOWN = 0, GW_PEER_UP, GW_PEER_DOWN };

struct gw_peer_link {
	const struct gw_peer *cfg;	/* points into node->cfg */
	struct net_client *client;
	char uri[NET_URI_MAX + 1];	/* the identity it must prove */
	enum gw_peer_state state;	/* from the last call's outcome */
	int64_t last_ok_ms;		/* wall clock of the last successful call */
	char last_error[256];
	uint64_t calls_ok, calls_failed;
};

/*
 * Creates a link per configured peer (connections open lazily). Each link
 * requires the server to be axle://<federation>/node/<peer region>. Returns
 * 0 or -1 with err.
 */
int gw_peers_start(struct gw_node *node, char *err, size_t errlen);

/* Frees the links; in-flight calls end with CANCELLED. */
void gw_peers_stop(struct gw_node *node);

/*
 * After a TLS reload: new links with the node's new client context. Calls in
 * flight on the old links end with CANCELLED; their callers retry.
 */
void gw_peers_reload(struct gw_node *node);

/* The link to the peer serving region, or NULL. */
struct gw_peer_link *gw_peers_find(struct gw_node *node, const char *region);
size_t gw_peers_count(const struct gw_node *node);
struct gw_peer_link *gw_peers_at(struct gw_node *node, size_t i);

/*
 * Packs req and calls path on the peer serving region; cb gets the outcome
 * exactly once when 0 is returned (see net_client_cb). The link's state is
 * updated from transport outcomes (UNAVAILABLE, DEADLINE_EXCEEDED: down).
 * Returns 0, or -1 (no such peer, ENOMEM; cb not called).
 */
int gw_peers_call(struct gw_node *node, const char *region, const char *path,
    const ProtobufCMessage *req, int timeout_ms, net_client_cb cb, void *arg);

const char *gw_peer_state_name(enum gw_peer_state s);

#endif
