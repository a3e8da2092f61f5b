/* svc.c -- the services this node serves, registered with the dispatch table at start. */
#include <stdio.h>

#include "gateway/node/svc.h"

/* One row per service; each service's methods live beside its handlers. */
static const struct net_rpc_service *const services[] = {
	&gw_svc_node,
	&gw_svc_registry,
	&gw_svc_keys,
	&gw_svc_split,
	&gw_svc_switch,
	&gw_svc_recourse,
	&gw_svc_audit,
	&gw_svc_axle_escalate,
	&gw_svc_health,
	&gw_svc_reflection,
};

int
gw_svc_register_all(char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		if (net_rpc_register(services[i]) != 0) {
			snprintf(err, errlen, "service %zu of the dispatch table: "
			    "table full or a method served twice", i);
			return -1;
		}
	}
	return 0;
}
