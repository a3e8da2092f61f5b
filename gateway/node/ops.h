/* ops.h -- the optional plain-HTTP ops listener: /healthz, /readyz and /metrics for probes and Prometheus. */
#ifndef AXLE_GW_OPS_H
#define AXLE_GW_OPS_H

#include <stddef.h>

struct gw_node;

/*
 * Starts the listener of [ops] listen (a loopback address or a unix socket;
 * nothing when not configured) on the node's loop. It serves GET and HEAD of
 * /healthz (200 ok, 503 draining), /readyz (200 ready; 503 with the reason
 * while draining, when the store has failed or refuses new work at its
 * high-water mark) and /metrics (the exposition the mTLS listener serves),
 * and nothing else (404, 405). Returns 0, or -1 with a reason in err.
 */
int gw_ops_start(struct gw_node *node, char *err, size_t errlen);
/* Closes it (and removes its unix socket). */
void gw_ops_stop(void);

#endif
