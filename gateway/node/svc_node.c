/* svc_node.c -- axle.v1.Node: what a node says about itself. */
#include <stdio.h>

#include "axle/v1/node.pb-c.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/rates.h"
#include "gateway/node/svc.h"

static void
node_info(struct net_call *call, const ProtobufCMessage *req)
{
	struct gw_node *node = net_call_node(call);
	const struct net_identity *who = net_call_caller(call);
	Axle__V1__InfoResponse resp = AXLE__V1__INFO_RESPONSE__INIT;
	Axle__V1__PeerSummary peers[GW_MAX_PEERS], *pp[GW_MAX_PEERS];
	char addrs[GW_MAX_PEERS][NET_HOST_MAX + NET_PORT_MAX + 4];
	struct gw_rate_minute rm[GW_RATES_MINUTES + 1];
	Axle__V1__RateMinute rates[GW_RATES_MINUTES + 1], *rp[GW_RATES_MINUTES + 1];
	int64_t lag_ms;

	(void)req;
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
		const struct gw_peer_link *l = gw_peers_find(node, p->region);

		axle__v1__peer_summary__init(&peers[i]);
		snprintf(addrs[i], sizeof(addrs[i]), "%s:%s", p->host, p->port);
		peers[i].region = (char *)p->region;
		peers[i].address = addrs[i];
		/* "unknown" until the first call over the link ended. */
		peers[i].state = (char *)gw_peer_state_name(l ? l->state : GW_PEER_UNKNOWN);
		peers[i].outbox = gw_switch_outbox_count(node, p->region);
		if (gw_mirror_lag_ms(node, p->region, &lag_ms))
			peers[i].mirror_lag_seconds = lag_ms / 1000;
		pp[i] = &peers[i];
	}
	resp.n_peers = node->cfg.npeers;
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
}

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Node/Info", NET_AUTHZ_ANY, &axle__v1__info_request__descriptor,
	  node_info, 0 },
};

const struct net_rpc_service gw_svc_node = { methods, sizeof(methods) / sizeof(methods[0]) };
