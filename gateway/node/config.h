/* config.h -- the node's one INI configuration file. */
#ifndef AXLE_GW_CONFIG_H
#define AXLE_GW_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/net/hostport.h"
#include "gateway/net/identity.h"
#include "gateway/net/server.h"
#include "gateway/net/log.h"
#include "registry/address.h"

#define GW_MAX_PEERS   64

/* A peer node: [peer <name>] section. */
struct gw_peer {
	char name[ADDR_MAX_LEN + 1];	/* section name: the peer's region */
	char region[ADDR_MAX_LEN + 1];	/* defaults to name */
	char host[NET_HOST_MAX + 1];	/* from address = host:port / [v6]:port */
	char port[NET_PORT_MAX + 1];
	char parent[ADDR_MAX_LEN + 1];	/* the peer's own parent region, as it
					   declares it ("" unknown): lets axled -n
					   refuse a cycle in the parent chain */
	int line;			/* where it was defined */
};

/* [recourse]: the escalation point (gw_recourse.c, escalate.c). */
struct gw_recourse_cfg {
	uint32_t case_deadline_ms;	/* open case -> parent after; default 86400000 */
	uint32_t retry_base_ms;		/* escalation retry backoff base; default 1000 */
	uint32_t retry_cap_ms;		/* ... and cap; default 600000 */
	uint32_t escalate_timeout_ms;	/* one Axle.Escalate call; default 10000 */
};

/* [registry]: the register and its mirrors (gw_registry.c, feed_pull.c). */
struct gw_registry_cfg {
	uint32_t mirror_interval_ms;	/* pause between feed pulls at the head; default 1000 */
	uint32_t max_origins;		/* regions' feeds mirrored (direct and relayed); default 256 */
	uint32_t relay_stale_ms;	/* a relay's head older than this while a newer exists: named; default 60000 */
};

/* [peering]: axles opened on demand to nodes published in the register (peers.c). */
struct gw_peering_cfg {
	uint32_t idle_ms;		/* an on-demand axle with no call this long is closed; default 60000 */
	uint32_t max_links;		/* nodes reached on demand at most; default 256 */
	bool direct;			/* switch traffic over on-demand axles (no: [peer]s and children only); default yes */
};

/* [trust]: what signatures a node requires (gw_trust.c; docs/operator.md "[trust]"). */
struct gw_trust_cfg {
	bool require_signed;		/* refuse hub envelopes without a signature; default no */
	bool require_signed_hops;	/* refuse trace hops without a verifiable signature; default no */
};

/* [switch]: message handling (sw_queue.c, sw_core.c, svc_switch.c). */
struct gw_switch_cfg {
	uint32_t hold_limit_ms;		/* held for a suspended registrar -> recourse after; default 259200000 (72 h) */
	uint32_t default_visibility_ms;	/* Fetch without visibility_timeout_ms; default 30000 */
	uint32_t max_payload;		/* envelope payload bytes; default 1048576 (1 MiB) */
	uint32_t default_deliver_by_ms;	/* deliver_by_ms of a message that has none, from acceptance; default 604800000 (7 days) */
	uint32_t record_retention_ms;	/* an ended message's record kept for Status; default 604800000 (7 days) */
	uint32_t dedup_retention_ms;	/* its de-duplication mark; default 1209600000 (14 days), >= default_deliver_by_ms */
};

/* Bytes of a gRPC message kept for the envelope around a payload: an
 * explicit [switch] max_payload may be at most max_message_size minus this. */
#define GW_ENVELOPE_ROOM 65536

/* [metrics]: who may read /metrics besides this node's admins and nodes (metrics.c). */
struct gw_metrics_cfg {
	char scrape_identity[NET_URI_MAX + 1];	/* canonical axle:// URI; "" none */
};

/* [ops]: the optional plain-HTTP listener for probes and Prometheus (ops.c). */
#define GW_OPS_UNIX_MAX 107	/* sun_path less its NUL */
struct gw_ops_cfg {
	char host[NET_HOST_MAX + 1];	/* a loopback host; "" when unix_path or none */
	char port[NET_PORT_MAX + 1];
	char unix_path[GW_OPS_UNIX_MAX + 1];	/* listen = unix:PATH; "" none */
};

struct gw_config {
	char path[PATH_MAX];
	char federation[NET_FED_MAX + 1];	/* [node] federation, required */
	char region[ADDR_MAX_LEN + 1];		/* [node] region, required */
	char listen_host[NET_HOST_MAX + 1];	/* [node] listen = host:port, required */
	char listen_port[NET_PORT_MAX + 1];
	char data_dir[PATH_MAX];		/* [node] data_dir, required */
	char parent[ADDR_MAX_LEN + 1];		/* [node] parent = peer name; empty: root */
	char cert_file[PATH_MAX];		/* [tls] cert, required */
	char key_file[PATH_MAX];		/* [tls] key, required */
	char trust_dir[PATH_MAX];		/* [tls] trust_dir, required */
	bool tls12;				/* [tls] allow_tls12 = yes|no, default no */
	enum net_log_level log_level;		/* [log] level, default info */
	enum net_log_format log_format;		/* [log] format, default kv */
	struct net_limits limits;		/* [limits] */
	struct gw_recourse_cfg recourse;	/* [recourse] */
	struct gw_registry_cfg registry;	/* [registry] */
	struct gw_switch_cfg sw;		/* [switch] */
	struct gw_peering_cfg peering;		/* [peering] */
	struct gw_trust_cfg trust;		/* [trust] */
	struct gw_metrics_cfg metrics;		/* [metrics] */
	struct gw_ops_cfg ops;			/* [ops] */
	struct gw_peer peers[GW_MAX_PEERS];	/* [peer <name>] */
	size_t npeers;
};

/* Fills defaults (limits, log level); everything else empty. */
void gw_config_defaults(struct gw_config *cfg);

/*
 * Loads path over the defaults. Relative file paths in the config are taken
 * relative to the config file's directory. Checks every key (unknown keys and
 * sections are errors), every value's syntax and range, required keys, that
 * the region is a valid address, that parent names a configured peer, and
 * that peers do not repeat. Returns 0, or -1 with the first error as
 * "FILE:LINE: message" in err.
 */
int gw_config_load(const char *path, struct gw_config *cfg, char *err,
    size_t errlen);

/*
 * Refuses a private key file that is not a regular file or is readable or
 * writable by group or others. Returns 0 or -1 with err.
 */
int gw_config_check_key_file(const char *path, char *err, size_t errlen);

/* The [peer] section for region, or NULL if the node has none. */
const struct gw_peer *gw_config_peer(const struct gw_config *cfg,
    const char *region);

/*
 * SIGHUP: takes from fresh (a file loaded and checked by gw_config_load)
 * what a running node changes live: [log] level, the connection [limits]
 * (not the store's three), [peer] sections and [node] parent, [peering]
 * idle_ms and direct, [metrics], [trust]. Names in kept (comma-separated) what
 * changed but applies only at the next start. Returns 0, or -1 with err
 * (nothing applied) when fresh has another federation, region, listen or
 * data_dir.
 */
int gw_config_reload(struct gw_config *live, const struct gw_config *fresh,
    char *kept, size_t keptlen, char *err, size_t errlen);

/* The [peer NAME] section, or NULL ([node] parent names one). */
const struct gw_peer *gw_config_peer_named(const struct gw_config *cfg,
    const char *name);

#endif
