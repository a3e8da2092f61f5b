/* rpc.c -- the method dispatch table: the services registered at start, looked up by :path. */
#include <string.h>

#include "gateway/net/rpc.h"

#define MAX_SERVICES 16
#define MAX_METHODS 128

/* Filled at start, before the first call (net_rpc_register); read-only after. */
static const struct net_rpc_service *services[MAX_SERVICES];
static size_t nservices;
static size_t nmethods;
static struct net_rpc_stats stats[MAX_METHODS];
uint64_t net_rpc_unknown;

int
net_rpc_register(const struct net_rpc_service *svc)
{
	for (size_t s = 0; s < nservices; s++)
		if (services[s] == svc)
			return 0;
	if (nservices == MAX_SERVICES || svc->n > MAX_METHODS - nmethods)
		return -1;
	for (size_t i = 0; i < svc->n; i++)
		if (net_rpc_lookup(svc->methods[i].path, strlen(svc->methods[i].path),
		    NULL) != NULL)
			return -1;
	services[nservices++] = svc;
	nmethods += svc->n;
	return 0;
}

const struct net_rpc_method *
net_rpc_lookup(const char *path, size_t len, size_t *index)
{
	size_t base = 0;

	for (size_t s = 0; s < nservices; s++) {
		for (size_t i = 0; i < services[s]->n; i++) {
			const struct net_rpc_method *m = &services[s]->methods[i];

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

bool
net_rpc_serves(const char *service)
{
	size_t n = strlen(service);

	for (size_t i = 0; i < net_rpc_count(); i++) {
		const char *p = net_rpc_at(i)->path;

		if (n > 0 && strncmp(p + 1, service, n) == 0 && p[1 + n] == '/')
			return true;
	}
	return false;
}

size_t
net_rpc_count(void)
{
	return nmethods;
}

const struct net_rpc_method *
net_rpc_at(size_t i)
{
	for (size_t s = 0; s < nservices; s++) {
		if (i < services[s]->n)
			return &services[s]->methods[i];
		i -= services[s]->n;
	}
	return NULL;
}

struct net_rpc_stats *
net_rpc_stats_at(size_t i)
{
	return i < MAX_METHODS ? &stats[i] : NULL;
}
