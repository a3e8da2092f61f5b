/* svc_node.c -- axle.v1.Node: what a node says about itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/node.pb-c.h"
#include "gateway/net/grpc_status.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/rates.h"
#include "gateway/node/svc.h"

/* One row: a [peer] section or a node the register publishes (l may be NULL). */
static void
peer_row(struct gw_node *node, const char *region, const struct gw_peer_link *l,
    bool configured, Axle__V1__PeerSummary *row, char *addr, size_t alen)
{
	int64_t lag_ms;

	axle__v1__peer_summary__init(row);
	if (l != NULL && l->host[0] != '\0')
		snprintf(addr, alen, strchr(l->host, ':') != NULL ? "[%s]:%s" : "%s:%s",
		    l->host, l->port);
	row->region = (char *)region;
	row->address = addr;
	/* "unknown" until the first call over the link ended. */
	row->state = (char *)gw_peer_state_name(l ? l->state : GW_PEER_UNKNOWN);
	row->outbox = gw_switch_outbox_count(node, region);
	if (gw_mirror_lag_ms(node, region, &lag_ms))
		row->mirror_lag_seconds = lag_ms / 1000;
	row->source = (char *)(configured ? "peer" : "register");
	row->connected = l != NULL && l->client != NULL;
}

static void
node_info(struct net_call *call, const ProtobufCMessage *req)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	Axle__V1__InfoResponse resp = AXLE__V1__INFO_RESPONSE__INIT;
	size_t cap = node->cfg.npeers + gw_peers_count(node), n = 0;
	Axle__V1__PeerSummary *rows = calloc(cap + 1, sizeof(*rows));
	Axle__V1__PeerSummary **pp = calloc(cap + 1, sizeof(*pp));
	char (*addrs)[NET_HOST_MAX + NET_PORT_MAX + 4] = calloc(cap + 1, sizeof(*addrs));
	struct gw_rate_minute rm[GW_RATES_MINUTES + 1];
	Axle__V1__RateMinute rates[GW_RATES_MINUTES + 1], *rp[GW_RATES_MINUTES + 1];

	(void)req;
	if (rows == NULL || pp == NULL || addrs == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	resp.federation = node->cfg.federation;
	resp.region = node->cfg.region;
	resp.version = AXLE_VERSION;
	resp.uptime_seconds = gw_node_uptime(node);
	resp.parent = node->cfg.parent;
	resp.caller = (char *)who->uri;
	resp.caller_role = (char *)net_role_name(who->role);
	resp.boot_count = node->boot_count;
	for (size_t i = 0; i < node->cfg.npeers; i++) {
		const struct gw_peer *p = &node->cfg.peers[i];

		snprintf(addrs[n], sizeof(addrs[n]), "%s:%s", p->host, p->port);
		peer_row(node, p->region, gw_peers_find(node, p->region), true,
		    &rows[n], addrs[n], sizeof(addrs[n]));
		pp[n] = &rows[n];
		n++;
	}
	for (size_t i = 0; i < gw_peers_count(node) && n < cap; i++) {
		const struct gw_peer_link *l = gw_peers_at(node, i);

		if (l->configured || !l->published)
			continue;
		peer_row(node, l->region, l, false, &rows[n], addrs[n], sizeof(addrs[n]));
		pp[n] = &rows[n];
		n++;
	}
	resp.n_peers = n;
	resp.peers = pp;
	if (who->role == NET_ROLE_ADMIN) {	/* traffic volumes: the admins' */
		resp.n_rates = gw_rates_read(node, gw_now_ms(), rm, GW_RATES_MINUTES + 1);
		for (size_t i = 0; i < resp.n_rates; i++) {
			axle__v1__rate_minute__init(&rates[i]);
			rates[i].minute_ms = rm[i].minute_ms;
			rates[i].accepted = rm[i].accepted;
			rates[i].forwarded = rm[i].forwarded;
			rates[i].cases_opened = rm[i].cases_opened;
			rp[i] = &rates[i];
		}
		resp.rates = rp;
	}
	net_call_reply(call, &resp.base);
out:
	free(rows);
	free(pp);
	free(addrs);
}

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Node/Info", NET_AUTHZ_ANY, &axle__v1__info_request__descriptor,
	  node_info, 0 },
};

const struct net_rpc_service gw_svc_node = { methods, sizeof(methods) / sizeof(methods[0]) };
