/* metrics.h -- Prometheus text exposition of the node's counters. */
#ifndef AXLE_GW_METRICS_H
#define AXLE_GW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct evbuffer;
struct net_identity;
struct gw_node;

/*
 * Whether caller may read /metrics: an admin of this node, a node of our
 * federation, or the [metrics] scrape_identity. The exposition names every
 * registrar with its mailbox and held counts, which a member may not see
 * beyond its own (Switch.Queues). If not, appends a refusal a person can act
 * on to refusal, logs event=metrics_refused (peer_addr, who) and returns false.
 */
bool gw_metrics_allowed(const struct gw_node *node,
    const struct net_identity *caller, const char *peer_addr,
    struct evbuffer *refusal);

/* Appends the whole exposition (text format 0.0.4) to out. */
void gw_metrics_render(struct gw_node *node, struct evbuffer *out);

#endif
