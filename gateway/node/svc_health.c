/* svc_health.c -- grpc.health.v1.Health: Check and Watch, per service name (node/health.c decides). */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "grpc/health/v1/health.pb-c.h"
#include "gateway/net/log.h"
#include "gateway/node/health.h"
#include "gateway/node/node.h"
#include "gateway/node/svc.h"

/* How often a Watch looks again; and how many may be open at once on a node. */
#define WATCH_TICK_MS	500
#define WATCH_MAX	256

struct watch {
	struct net_call *call;
	struct gw_node *node;
	struct event *tick;
	char service[256];
	int sent;		/* the status last sent */
	struct watch *prev, *next;
};

static struct watch *watches;
static size_t nwatches;

static int
status_of(enum gw_health h)
{
	switch (h) {
	case GW_HEALTH_SERVING:
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	case GW_HEALTH_NOT_SERVING:
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	default:
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
	}
}

static void
health_check(struct net_call *call, const ProtobufCMessage *req)
{
	const Grpc__Health__V1__HealthCheckRequest *r =
	    (const Grpc__Health__V1__HealthCheckRequest *)req;
	Grpc__Health__V1__HealthCheckResponse resp =
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	enum gw_health h = gw_health_of(net_call_node(call), r->service, NULL);

	if (h == GW_HEALTH_UNKNOWN) {
		net_call_error(call, GRPC_NOT_FOUND, "this node serves no service "
		    "named \"%.200s\" (\"\" asks about the node as a whole)", r->service);
		return;
	}
	resp.status = status_of(h);
	net_call_reply(call, &resp.base);
}

/* Unlinks and frees w; its call must have been ended. */
static void
watch_free(struct watch *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	nwatches--;
	event_free(w->tick);
	free(w);
}

/* Sends the status if it changed. Returns 0, or -1 once the call has ended and w is freed. */
static int
watch_send(struct watch *w)
{
	Grpc__Health__V1__HealthCheckResponse resp =
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	int st = status_of(gw_health_of(w->node, w->service, NULL));

	if (net_call_cancelled(w->call)) {
		net_call_error(w->call, GRPC_CANCELLED, "cancelled");
		watch_free(w);
		return -1;
	}
	if (st != w->sent) {
		resp.status = st;
		if (net_call_send(w->call, &resp.base) != 0) {
			net_call_error(w->call, GRPC_RESOURCE_EXHAUSTED,
			    "could not send the status");
			watch_free(w);
			return -1;
		}
		w->sent = st;
	}
	/* A draining node ends its watches (their streams would hold the connection open). */
	if (w->node->draining) {
		net_call_error(w->call, GRPC_UNAVAILABLE, "the node is shutting down");
		watch_free(w);
		return -1;
	}
	return 0;
}

static void
watch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct timeval tv = { 0, WATCH_TICK_MS * 1000 };

	(void)fd, (void)what;
	if (watch_send(w) == 0)
		evtimer_add(w->tick, &tv);
}

static void
health_watch(struct net_call *call, const ProtobufCMessage *req)
{
	const Grpc__Health__V1__HealthCheckRequest *r =
	    (const Grpc__Health__V1__HealthCheckRequest *)req;
	struct gw_node *node = net_call_node(call);
	struct timeval tv = { 0, WATCH_TICK_MS * 1000 };
	struct watch *w;

	if (strlen(r->service) >= sizeof(w->service)) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "service name longer "
		    "than %zu bytes", sizeof(w->service) - 1);
		return;
	}
	if (nwatches >= WATCH_MAX) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "%d health watches "
		    "are open on this node already; use Check, or retry later",
		    WATCH_MAX);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->tick = evtimer_new(node->base, watch_tick, w)) == NULL) {
		free(w);
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	w->node = node;
	w->sent = -1;
	memcpy(w->service, r->service, strlen(r->service) + 1);
	w->next = watches;
	if (watches != NULL)
		watches->prev = w;
	watches = w;
	nwatches++;
	if (watch_send(w) == 0)
		evtimer_add(w->tick, &tv);
}

void
gw_health_stop(void)
{
	while (watches != NULL) {
		net_call_error(watches->call, GRPC_UNAVAILABLE, "the node is shutting down");
		watch_free(watches);
	}
}

static const struct net_rpc_method methods[] = {
	{ "/grpc.health.v1.Health/Check", NET_AUTHZ_ANY,
	  &grpc__health__v1__health_check_request__descriptor, health_check, 0 },
	{ "/grpc.health.v1.Health/Watch", NET_AUTHZ_ANY,
	  &grpc__health__v1__health_check_request__descriptor, health_watch, 1 },
};

const struct net_rpc_service gw_svc_health = { methods, sizeof(methods) / sizeof(methods[0]) };
