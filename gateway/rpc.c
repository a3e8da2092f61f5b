/* rpc.c -- the method dispatch table: every gRPC method the node serves. */
#include <string.h>

#include "gateway/rpc.h"
#include "gateway/svc.h"

/* One row per method; later services add rows here. */
static const struct gw_rpc_method methods[] = {
	{ "/axle.v1.Node/Info", GW_AUTHZ_ANY, &axle__v1__info_request__descriptor,
	  gw_svc_node_info, 0 },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
static struct gw_rpc_stats stats[NMETHODS];

const struct gw_rpc_method *
gw_rpc_lookup(const char *path, size_t len, size_t *index)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (strlen(methods[i].path) == len &&
		    memcmp(methods[i].path, path, len) == 0) {
			if (index != NULL)
				*index = i;
			return &methods[i];
		}
	return NULL;
}

size_t
gw_rpc_count(void)
{
	return NMETHODS;
}

const struct gw_rpc_method *
gw_rpc_at(size_t i)
{
	return i < NMETHODS ? &methods[i] : NULL;
}

struct gw_rpc_stats *
gw_rpc_stats_at(size_t i)
{
	return i < NMETHODS ? &stats[i] : NULL;
}
