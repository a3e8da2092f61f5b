/* metrics.h -- Prometheus text exposition of the node's counters. */
#ifndef AXLE_GW_METRICS_H
#define AXLE_GW_METRICS_H

#include <stdint.h>

struct evbuffer;
struct gw_node;

/* Calls to methods this node does not serve. */
extern uint64_t gw_metrics_rpc_unknown;

/* Appends the whole exposition (text format 0.0.4) to out. */
void gw_metrics_render(struct gw_node *node, struct evbuffer *out);

#endif
