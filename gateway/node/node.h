/* node.h -- the running node's shared state: config, TLS, store, counters. */
#ifndef AXLE_GW_NODE_H
#define AXLE_GW_NODE_H

#include <stdint.h>
#include <time.h>
#include <openssl/ssl.h>

#include "gateway/net/version.h"
#include "gateway/node/config.h"

struct event_base;
struct evconnlistener;
struct store;
struct gw_conn;
struct gw_peers;
struct gw_registry;
struct gw_recourse;
struct gw_switch;

/* Why the node closed an HTTP/2 connection with GOAWAY. */
enum gw_goaway_reason {
	GW_GA_HEADER_LIST,	/* header list over budget */
	GW_GA_RST_SENT,		/* we reset too many of its streams (MadeYouReset) */
	GW_GA_EMPTY_DATA,	/* empty DATA frame flood */
	GW_GA_CONTROL_FLOOD,	/* PING / SETTINGS over max_control_frames a minute */
	GW_GA_OUTBOUND_QUEUE,	/* it does not read what we send */
	GW_GA_CONTINUATION,	/* CONTINUATION flood (nghttp2's limit on frames per header block) */
	GW_GA_RAPID_RESET,	/* it reset streams faster than the rate limit (CVE-2023-44487) */
	GW_GA_PROTOCOL,		/* nghttp2 refused its frames (bad frames, bad preface) */
	GW_GA_IDLE,		/* idle timeout */
	GW_GA_SHUTDOWN,		/* we are draining */
	GW_GA__COUNT
};
const char *gw_goaway_reason_name(enum gw_goaway_reason r);

struct gw_counters {
	uint64_t conns_accepted;
	uint64_t conns_refused_limit;	/* over max_connections */
	uint64_t conns_open;
	uint64_t handshakes_ok;
	uint64_t handshake_timeouts;
	uint64_t handshakes_evicted;	/* dropped at max_connections to make room */
	uint64_t goaway[GW_GA__COUNT];
	uint64_t http_requests;		/* plain GETs */
	uint64_t reloads_ok, reloads_failed;
};

struct gw_node {
	struct gw_config cfg;
	struct event_base *base;
	SSL_CTX *server_ctx;		/* replaced on reload; SSLs keep their own ref */
	SSL_CTX *client_ctx;
	struct store *store;
	struct evconnlistener *listener;
	struct gw_conn *conns;		/* open connections (conn.c owns the list) */
	struct gw_peers *peers;		/* peers.c: links to peer nodes */
	struct gw_registry *registry;	/* svc_registry.c and feed_pull.c */
	struct gw_recourse *recourse;	/* svc_recourse.c */
	struct gw_switch *sw;		/* svc_switch.c */
	struct timespec started;	/* CLOCK_MONOTONIC */
	uint64_t boot_count;
	int draining;
	struct gw_counters ctr;
};

/* Seconds since start. */
uint64_t gw_node_uptime(const struct gw_node *node);

/*
 * Rebuilds the TLS contexts from the configured files (trust dir, cert, key).
 * On success new handshakes use them at once and open connections keep
 * theirs; on failure the old ones stay in force. Returns 0 or -1 (logged).
 */
int gw_node_reload_tls(struct gw_node *node);

#endif
