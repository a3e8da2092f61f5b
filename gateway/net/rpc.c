/* rpc.c -- the method dispatch table: every gRPC service the node serves. */
#include <string.h>

#include "gateway/net/rpc.h"
#include "gateway/node/svc.h"

/* One row per service; each service's methods live beside its handlers. */
static const struct gw_rpc_service *const services[] = {
	&gw_svc_node,
	&gw_svc_registry,
	&gw_svc_switch,
	&gw_svc_recourse,
	&gw_svc_axle_escalate,
};

#define NSERVICES (sizeof(services) / sizeof(services[0]))
#define MAX_METHODS 128

static struct gw_rpc_stats stats[MAX_METHODS];

const struct gw_rpc_method *
gw_rpc_lookup(const char *path, size_t len, size_t *index)
{
	size_t base = 0;

	for (size_t s = 0; s < NSERVICES; s++) {
		for (size_t i = 0; i < services[s]->n; i++) {
			const struct gw_rpc_method *m = &services[s]->methods[i];

			if (strlen(m->path) == len && memcmp(m->path, path, len) == 0) {
				if (index != NULL)
					*index = base + i;
				return m;
			}
		}
		base += services[s]->n;
	}
	return NULL;
}

size_t
gw_rpc_count(void)
{
	size_t n = 0;

	for (size_t s = 0; s < NSERVICES; s++)
		n += services[s]->n;
	return n < MAX_METHODS ? n : MAX_METHODS;
}

const struct gw_rpc_method *
gw_rpc_at(size_t i)
{
	for (size_t s = 0; s < NSERVICES; s++) {
		if (i < services[s]->n)
			return &services[s]->methods[i];
		i -= services[s]->n;
	}
	return NULL;
}

struct gw_rpc_stats *
gw_rpc_stats_at(size_t i)
{
	return i < MAX_METHODS ? &stats[i] : NULL;
}
