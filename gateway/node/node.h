/* node.h -- the running node's shared state: config, TLS, store, counters. */
#ifndef AXLE_GW_NODE_H
#define AXLE_GW_NODE_H

#include <stdint.h>
#include <time.h>
#include <openssl/ssl.h>

#include "gateway/net/version.h"
#include "gateway/node/config.h"

struct event_base;
struct evbuffer;
struct net_identity;
struct store;
struct gw_peers;
struct gw_registry;
struct gw_recourse;
struct sw_switch;
struct gw_trust;


struct gw_node {
	struct gw_config cfg;
	struct event_base *base;
	SSL_CTX *client_ctx;
	struct store *store;
	struct net_server srv;		/* what net/ serves with (gw_node_server_init) */
	struct gw_peers *peers;		/* peers.c: links to peer nodes */
	struct gw_registry *registry;	/* svc_registry.c and feed_pull.c */
	struct gw_recourse *recourse;	/* svc_recourse.c */
	struct sw_switch *sw;		/* svc_switch.c */
	struct gw_trust *trust;		/* gw_trust.c: signing hops, verifying signatures */
	struct timespec started;	/* CLOCK_MONOTONIC */
	uint64_t boot_count;
	int draining;
	struct net_counters ctr;
};

/*
 * Points node->srv at the node's loop, limits, region, counters and drain
 * flag, with who may read GET /metrics and its renderer (node/metrics.c:
 * gw_metrics_allowed, gw_metrics_render). Call once base is set.
 */
void gw_node_server_init(struct gw_node *node,
    bool (*metrics_allowed)(const struct gw_node *node,
    const struct net_identity *caller, const char *peer_addr,
    struct evbuffer *out),
    void (*metrics)(struct gw_node *node, struct evbuffer *out));

/* Seconds since start. */
uint64_t gw_node_uptime(const struct gw_node *node);

/*
 * Rebuilds the TLS contexts from the configured files (trust dir, cert, key).
 * On success new handshakes use them at once and open connections keep
 * theirs; on failure the old ones stay in force. Returns 0 or -1 (logged).
 * Links to peers keep the old client context until gw_peers_reload().
 */
int gw_node_reload_tls(struct gw_node *node);

#endif
