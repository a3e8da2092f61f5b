/*
 * health.h -- whether the node, and each service it serves, should get new
 * work now: one answer for /readyz (ops.c) and the gRPC health service
 * (svc_health.c).
 */
#ifndef AXLE_GW_HEALTH_H
#define AXLE_GW_HEALTH_H

#include <stdbool.h>

struct gw_node;

/* Why the node should get no new work now ("draining", ...), or NULL when ready. */
const char *gw_health_not_ready(const struct gw_node *node);

enum gw_health {
	GW_HEALTH_SERVING,
	GW_HEALTH_NOT_SERVING,
	GW_HEALTH_UNKNOWN,	/* no such service here */
};

/*
 * The state of service: "" is the node (gw_health_not_ready); a service of
 * the dispatch table ("axle.v1.Switch", "grpc.health.v1.Health", ...) is
 * NOT_SERVING while the node drains or has no store, and so are the ones
 * that write (Switch, Registry, Axle, Recourse) while the store refuses new
 * work; anything else is UNKNOWN. *why (may be NULL) gets the reason.
 */
enum gw_health gw_health_of(const struct gw_node *node, const char *service,
    const char **why);

#endif
