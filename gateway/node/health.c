/* health.c -- the node's and each service's readiness, for /readyz and grpc.health.v1. */
#include <string.h>

#include "gateway/net/rpc.h"
#include "gateway/node/health.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"

/* Services whose calls write to the store: refused at its high-water mark. */
static const char *const writers[] = {
	"axle.v1.Switch", "axle.v1.Registry", "axle.v1.Axle", "axle.v1.Recourse",
};

const char *
gw_health_not_ready(const struct gw_node *node)
{
	struct gw_store_stats s;

	if (node->draining)
		return "draining";
	if (node->store == NULL)
		return "starting";
	gw_store_get_stats(node->store, &s);
	if (s.failed)
		return "store failed: restarting";
	if (s.high_water)
		return "store at its high-water mark: new messages and register "
		    "changes are refused (axle_store_room_bytes)";
	return NULL;
}

enum gw_health
gw_health_of(const struct gw_node *node, const char *service, const char **why)
{
	const char *reason = NULL;

	if (service[0] != '\0' && !net_rpc_serves(service))
		return GW_HEALTH_UNKNOWN;
	if (service[0] == '\0') {
		reason = gw_health_not_ready(node);
	} else if (node->draining || node->store == NULL) {
		reason = gw_health_not_ready(node);
	} else {
		for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
			if (strcmp(service, writers[i]) == 0)
				reason = gw_health_not_ready(node);
	}
	if (why != NULL)
		*why = reason;
	return reason == NULL ? GW_HEALTH_SERVING : GW_HEALTH_NOT_SERVING;
}
