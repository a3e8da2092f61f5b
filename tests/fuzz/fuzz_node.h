/*
 * fuzz_node.h -- the node the HTTP/2 fuzz targets (fuzz_h2_server,
 * fuzz_conn) serve from, as h2h_new builds it for unit tests: configuration
 * defaults and the node's methods registered, but no store and no modules
 * (registry, recourse, switch and peers are NULL), so any handler reachable
 * from the wire must cope without them. Header-only.
 */
#ifndef AXLE_TESTS_FUZZ_NODE_H
#define AXLE_TESTS_FUZZ_NODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "gateway/net/identity.h"
#include "gateway/net/log.h"
#include "gateway/node/config.h"
#include "gateway/node/metrics.h"
#include "gateway/node/node.h"
#include "gateway/node/svc.h"

/*
 * Sets node up (FUZZ_LOG=1: debug logs), its default limits in *defaults,
 * and the callers a control byte picks from in ids: a member, an admin, a
 * node, a member of another federation. Aborts if it cannot.
 */
static inline void
fuzz_node_setup(struct gw_node *node, struct net_identity ids[4],
    struct net_limits *defaults)
{
	static const char *const uris[4] = {
		"axle://fame-test/member/uk.london.lewisham",
		"axle://fame-test/admin/uk.london/jsmith",
		"axle://fame-test/node/uk.leeds",
		"axle://other-fed/member/uk.london.lewisham",
	};
	char err[256];

	net_log_set_level(getenv("FUZZ_LOG") != NULL ? NET_LOG_DEBUG : NET_LOG_ERR);
	gw_config_defaults(&node->cfg);
	snprintf(node->cfg.federation, sizeof(node->cfg.federation), "fame-test");
	snprintf(node->cfg.region, sizeof(node->cfg.region), "uk.london");
	*defaults = node->cfg.limits;
	clock_gettime(CLOCK_MONOTONIC, &node->started);
	if (gw_svc_register_all(err, sizeof(err)) != 0 ||
	    (node->base = event_base_new()) == NULL)
		abort();
	gw_node_server_init(node, gw_metrics_allowed, gw_metrics_render);
	for (size_t i = 0; i < 4; i++)
		if (net_identity_parse_uri(uris[i], strlen(uris[i]), &ids[i], err,
		    sizeof(err)) != 0)
			abort();
}

/* Small enough that a short input can cross every flood and size limit. */
static inline void
fuzz_tight_limits(struct net_limits *l)
{
	l->max_concurrent_streams = 4;
	l->max_header_list = 1024;
	l->max_message_size = 1024;
	l->max_outbound_queue = 32;
	l->max_rst_sent = 4;
	l->max_empty_data = 3;
	l->max_control_frames = 8;
}

#endif
