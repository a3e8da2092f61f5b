/* server.h -- what the transport serves with: the loop, TLS, limits, counters, and the program it serves (opaque here). */
#ifndef AXLE_GW_SERVER_H
#define AXLE_GW_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct evconnlistener;
struct net_conn;
struct net_identity;
struct gw_node;

/* [limits] of the configuration (node/config.c reads them; the last three are the store's). */
struct net_limits {
	uint32_t max_connections;	/* default 1024 */
	uint32_t max_concurrent_streams;	/* default 100 */
	uint32_t max_header_list;	/* bytes of decoded header list, default 16384 */
	uint32_t max_message_size;	/* gRPC message bytes, default 4 MiB */
	uint32_t max_outbound_queue;	/* queued frames per connection, default 1024 */
	uint32_t max_rst_sent;		/* RST_STREAM we send per connection per minute, default 200 */
	uint32_t max_empty_data;	/* empty DATA frames (no END_STREAM) per connection, default 100 */
	uint32_t max_control_frames;	/* PING/SETTINGS per connection per minute, default 1000 */
	uint32_t handshake_timeout_ms;	/* default 10000 */
	uint32_t idle_timeout_ms;	/* default 300000 */
	uint32_t map_size_mb;		/* LMDB map size, default 1024 */
	uint32_t commit_batch_max;	/* requests per group commit, default 256 */
	uint32_t store_reserve_kb;	/* room kept for draining, default 16384; used up to a quarter of the map and of the disk */
};

/* Why the node closed an HTTP/2 connection with GOAWAY. */
enum net_goaway_reason {
	NET_GA_HEADER_LIST,	/* header list over budget */
	NET_GA_RST_SENT,		/* we reset too many of its streams (MadeYouReset) */
	NET_GA_EMPTY_DATA,	/* empty DATA frame flood */
	NET_GA_CONTROL_FLOOD,	/* PING / SETTINGS over max_control_frames a minute */
	NET_GA_OUTBOUND_QUEUE,	/* it does not read what we send */
	NET_GA_CONTINUATION,	/* CONTINUATION flood (nghttp2's limit on frames per header block) */
	NET_GA_RAPID_RESET,	/* it reset streams faster than the rate limit (CVE-2023-44487) */
	NET_GA_PROTOCOL,		/* nghttp2 refused its frames (bad frames, bad preface) */
	NET_GA_IDLE,		/* idle timeout */
	NET_GA_SHUTDOWN,		/* we are draining */
	NET_GA__COUNT
};
const char *net_goaway_reason_name(enum net_goaway_reason r);

struct net_counters {
	uint64_t conns_accepted;
	uint64_t conns_refused_limit;	/* over max_connections */
	uint64_t conns_open;
	uint64_t handshakes_ok;
	uint64_t handshake_timeouts;
	uint64_t handshakes_evicted;	/* dropped at max_connections to make room */
	uint64_t goaway[NET_GA__COUNT];
	uint64_t http_requests;		/* plain GETs */
	uint64_t reloads_ok, reloads_failed;
};

/*
 * One listening server. The program fills the first part before
 * net_conn_listen() or net_h2_new() (axled: gw_node_server_init) and keeps
 * what the pointers point to alive; conn.c owns the rest.
 */
struct net_server {
	struct event_base *base;
	SSL_CTX *ctx;			/* replaced on reload; SSLs keep their own ref */
	const struct net_limits *lim;
	const char *federation;		/* with region: who may call what (net_authz_allows) */
	const char *region;
	const char *listen_host, *listen_port;
	const int *draining;		/* non-zero: no accepts, GOAWAY, /healthz 503 */
	struct net_counters *ctr;
	/*
	 * GET /metrics: whether caller may read it (if not, a refusal for a
	 * person appended to out: 403; NULL: nobody may), then the exposition
	 * (text format 0.0.4) appended to out.
	 */
	bool (*metrics_allowed)(const struct gw_node *node,
	    const struct net_identity *caller, const char *peer_addr,
	    struct evbuffer *out);
	void (*metrics)(struct gw_node *node, struct evbuffer *out);
	struct gw_node *node;		/* handed to handlers (net_call_node) and metrics */

	/* conn.c's */
	struct evconnlistener *listener;
	struct net_conn *conns;		/* open connections */
	/* h2_server.c's: the open /console/events streams (net_h2_notify) */
	struct net_stream *events;
	size_t n_events;
};

#endif
