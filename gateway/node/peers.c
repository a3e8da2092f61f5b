/* peers.c -- the axles: one reused mTLS HTTP/2 client per configured peer node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "proto/pb.h"

struct gw_peers {
	struct gw_peer_link links[GW_MAX_PEERS];
	size_t n;
	struct evdns_base *dns;		/* every link resolves through it, off the loop's back */
};

struct peer_call {
	struct gw_node *node;
	size_t link;			/* index: links may be replaced on reload */
	struct net_client *client;	/* the client the call went out on */
	net_client_cb cb;
	void *arg;
};

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
gw_peer_state_name(enum gw_peer_state s)
{
	switch (s) {
	case GW_PEER_UP:
		return "up";
	case GW_PEER_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

/* libevent's resolver speaks through the node's log, not on stderr. */
static void
dns_log(int is_warning, const char *msg)
{
	char q[600];

	net_log(is_warning ? NET_LOG_WARN : NET_LOG_DEBUG, "dns_resolver",
	    "message=%s", net_log_quote(q, sizeof(q), msg, strlen(msg)));
}

static int
links_open(struct gw_node *node, struct gw_peers *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < node->cfg.npeers; i++) {
		struct gw_peer_link *l = &p->links[i];

		l->cfg = &node->cfg.peers[i];
		snprintf(l->uri, sizeof(l->uri), "axle://%s/node/%s",
		    node->cfg.federation, l->cfg->region);
		l->client = net_client_new(node->base, node->client_ctx,
		    l->cfg->host, l->cfg->port, NULL);
		if (l->client != NULL)
			net_client_set_dns(l->client, p->dns);
		if (l->client == NULL || net_client_expect(l->client, l->uri) != 0) {
			snprintf(err, errlen, "peer %s: out of memory", l->cfg->name);
			return -1;
		}
	}
	p->n = node->cfg.npeers;
	return 0;
}

static void
links_close(struct gw_peers *p)
{
	for (size_t i = 0; i < p->n; i++) {
		net_client_free(p->links[i].client);
		p->links[i].client = NULL;
	}
}

int
gw_peers_start(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_peers *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "peers: out of memory");
		return -1;
	}
	node->peers = p;
	/* /etc/hosts, then /etc/resolv.conf's nameservers (127.0.0.1 if none). */
	evdns_set_log_fn(dns_log);
	p->dns = evdns_base_new(node->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (p->dns == NULL) {
		snprintf(err, errlen, "peers: cannot set up the DNS resolver");
		gw_peers_stop(node);
		return -1;
	}
	if (links_open(node, p, err, errlen) != 0) {
		gw_peers_stop(node);
		return -1;
	}
	return 0;
}

void
gw_peers_stop(struct gw_node *node)
{
	if (node->peers == NULL)
		return;
	links_close(node->peers);
	if (node->peers->dns != NULL) {
		/*
		 * Closing the links cancelled their lookups; libevent frees a
		 * cancelled lookup's records in a callback from the loop, so let
		 * it run once (nothing waits) before the resolver goes.
		 */
		event_base_loop(node->base, EVLOOP_NONBLOCK);
		evdns_base_free(node->peers->dns, 0);
	}
	free(node->peers);
	node->peers = NULL;
}

void
gw_peers_reload(struct gw_node *node)
{
	struct gw_peers *p = node->peers;
	char err[256];

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct net_client *c = net_client_new(node->base, node->client_ctx,
		    p->links[i].cfg->host, p->links[i].cfg->port, NULL);

		if (c != NULL)
			net_client_set_dns(c, p->dns);
		if (c == NULL || net_client_expect(c, p->links[i].uri) != 0) {
			net_client_free(c);
			snprintf(err, sizeof(err), "out of memory");
			net_log(NET_LOG_ERR, "peer_reload_failed", "peer=%s error=\"%s\"",
			    p->links[i].cfg->region, err);
			continue;
		}
		net_client_free(p->links[i].client);
		p->links[i].client = c;
	}
}

struct gw_peer_link *
gw_peers_find(struct gw_node *node, const char *region)
{
	struct gw_peers *p = node->peers;

	for (size_t i = 0; p != NULL && i < p->n; i++)
		if (strcmp(p->links[i].cfg->region, region) == 0)
			return &p->links[i];
	return NULL;
}

size_t
gw_peers_count(const struct gw_node *node)
{
	return node->peers != NULL ? node->peers->n : 0;
}

struct gw_peer_link *
gw_peers_at(struct gw_node *node, size_t i)
{
	return node->peers != NULL && i < node->peers->n ? &node->peers->links[i] : NULL;
}

static void
peer_call_done(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct peer_call *pc = arg;
	struct gw_peer_link *l;

	if (!final) {
		pc->cb(pc->arg, 0, status, message, msg, len);
		return;
	}
	l = gw_peers_at(pc->node, pc->link);
	/* A link replaced by a reload keeps no state from the old client's calls. */
	if (l != NULL && l->client == pc->client) {
		enum gw_peer_state before = l->state;

		if (status == GRPC_UNAVAILABLE || status == GRPC_DEADLINE_EXCEEDED) {
			l->state = GW_PEER_DOWN;
			l->calls_failed++;
			snprintf(l->last_error, sizeof(l->last_error), "%s", message ? message : "");
		} else {
			l->state = GW_PEER_UP;
			l->calls_ok++;
			l->last_ok_ms = wall_ms();
		}
		if (before != l->state) {
			const char *e = l->state == GW_PEER_UP ? "" : l->last_error;
			char q[600];

			/* The peer's own words: quoted, escaped. */
			net_log(l->state == GW_PEER_UP ? NET_LOG_INFO : NET_LOG_WARN,
			    "peer_state", "peer=%s state=%s error=%s", l->cfg->region,
			    gw_peer_state_name(l->state),
			    net_log_quote(q, sizeof(q), e, strlen(e)));
		}
	}
	pc->cb(pc->arg, 1, status, message, msg, len);
	free(pc);
}

int
gw_peers_call(struct gw_node *node, const char *region, const char *path,
    const ProtobufCMessage *req, int timeout_ms, net_client_cb cb, void *arg)
{
	struct gw_peer_link *l = gw_peers_find(node, region);
	struct peer_call *pc;
	uint8_t *buf;
	size_t len;
	int rc;

	if (l == NULL || l->client == NULL)
		return -1;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	if ((buf = pb_pack(req, 0, &len)) == NULL) {
		free(pc);
		return -1;
	}
	pc->node = node;
	pc->link = (size_t)(l - node->peers->links);
	pc->client = l->client;
	pc->cb = cb;
	pc->arg = arg;
	rc = net_client_call(l->client, path, buf, len, timeout_ms, peer_call_done, pc);
	free(buf);
	if (rc != 0)
		free(pc);
	return rc;
}
