/* peers.c -- the axles: one reused mTLS HTTP/2 client per peer node, configured or published in the register, and the next hop toward a region. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/hostport.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "proto/pb.h"
#include "registry/node_record.h"

struct gw_peers {
	struct gw_peer_link *links;	/* cap of them, never moved (calls keep an index) */
	size_t n, cap;
	struct evdns_base *dns;		/* every link resolves through it, off the loop's back */
	struct event *idle;		/* closes on-demand connections left idle */
	char parent[ADDR_MAX_LEN + 1];	/* the parent's region ("" : the root) */
	bool full_logged;
	/*
	 * The writer thread reads the links' routing fields (region,
	 * configured, published, parent, state) through gw_peers_next_hop:
	 * the loop thread changes them, and n, under this lock.
	 */
	pthread_mutex_t mu;
};

struct peer_call {
	struct gw_node *node;
	size_t link;			/* index: links never move */
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

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static bool
link_live(const struct gw_peer_link *l)
{
	return l->configured || l->published;
}

static struct gw_peer_link *
link_lookup(struct gw_peers *p, const char *region)
{
	for (size_t i = 0; p != NULL && i < p->n; i++)
		if (strcmp(p->links[i].region, region) == 0)
			return &p->links[i];
	return NULL;
}

/* A link slot for region: its own, or a new one (NULL when full). Locked by the caller. */
static struct gw_peer_link *
link_slot(struct gw_node *node, struct gw_peers *p, const char *region)
{
	struct gw_peer_link *l = link_lookup(p, region);

	if (l != NULL)
		return l;
	if (p->n == p->cap)
		return NULL;
	l = &p->links[p->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->region, sizeof(l->region), "%s", region);
	snprintf(l->uri, sizeof(l->uri), "axle://%s/node/%s", node->cfg.federation,
	    region);
	return l;
}

/* Drops the link's connection (calls in flight end CANCELLED; callers retry). */
static void
link_drop_client(struct gw_peer_link *l)
{
	net_client_free(l->client);
	l->client = NULL;
}

/* Points the link at host:port; a changed address drops the old connection. */
static void
link_address(struct gw_peer_link *l, const char *host, const char *port)
{
	if (strcmp(l->host, host) == 0 && strcmp(l->port, port) == 0)
		return;
	link_drop_client(l);
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->state = GW_PEER_UNKNOWN;
}

/* The connection of a link, made when a call needs it. NULL on ENOMEM. */
static struct net_client *
link_client(struct gw_node *node, struct gw_peer_link *l)
{
	if (l->client != NULL)
		return l->client;
	if (l->host[0] == '\0')
		return NULL;
	l->client = net_client_new(node->base, node->client_ctx, l->host, l->port,
	    NULL);
	if (l->client != NULL)
		net_client_set_dns(l->client, node->peers->dns);
	if (l->client != NULL && net_client_expect(l->client, l->uri) != 0)
		link_drop_client(l);
	if (l->client != NULL && !l->configured) {
		l->opened++;
		net_log(NET_LOG_INFO, "peer_open", "peer=%s address=%s:%s "
		    "identity=%s on_demand=yes", l->region, l->host, l->port, l->uri);
	}
	return l->client;
}

static void
set_parent(struct gw_node *node, struct gw_peers *p)
{
	const struct gw_peer *pp = gw_config_peer_named(&node->cfg, node->cfg.parent);

	snprintf(p->parent, sizeof(p->parent), "%s", pp != NULL ? pp->region : "");
}

void
gw_peers_reconfigure(struct gw_node *node)
{
	struct gw_peers *p = node->peers;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n; i++)
		p->links[i].configured = false;
	for (size_t i = 0; i < node->cfg.npeers; i++) {
		const struct gw_peer *c = &node->cfg.peers[i];
		struct gw_peer_link *l = link_slot(node, p, c->region);

		if (l == NULL) {
			net_log(NET_LOG_ERR, "peer_add_failed", "peer=%s error=\"no "
			    "link slot left ([peering] max_links)\"", c->region);
			continue;
		}
		l->configured = true;
		link_address(l, c->host, c->port);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct gw_peer_link *l = &p->links[i];

		if (!link_live(l) && l->client != NULL) {
			net_log(NET_LOG_INFO, "peer_removed", "peer=%s", l->region);
			link_drop_client(l);
			l->host[0] = l->port[0] = '\0';
		}
	}
	set_parent(node, p);
	pthread_mutex_unlock(&p->mu);
}

void
gw_peers_publish(struct gw_node *node, const struct registry_node *nr)
{
	struct gw_peers *p = node->peers;
	struct gw_peer_link *l;
	char host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1];
	const char *why = NULL;
	bool ok;

	if (p == NULL || strcmp(nr->region, node->cfg.region) == 0)
		return;
	ok = nr->active && nr->endpoint[0] != '\0' &&
	    strcmp(nr->identity, "") != 0 && net_hostport_split(nr->endpoint,
	    host, sizeof(host), port, sizeof(port), &why) == 0;
	if (nr->endpoint[0] != '\0' && why != NULL)
		net_log(NET_LOG_WARN, "peer_published_bad", "peer=%s endpoint=\"%s\" "
		    "error=\"%s\"", nr->region, nr->endpoint, why);
	pthread_mutex_lock(&p->mu);
	l = ok ? link_slot(node, p, nr->region) : link_lookup(p, nr->region);
	if (l == NULL) {
		if (ok && !p->full_logged)
			net_log(NET_LOG_WARN, "peer_links_full", "peer=%s max_links=%zu "
			    "action=\"raise [peering] max_links\"", nr->region,
			    p->cap - GW_MAX_PEERS);
		p->full_logged = p->full_logged || ok;
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (ok && (!l->published || strcmp(l->parent, nr->parent) != 0 ||
	    (!l->configured && (strcmp(l->host, host) != 0 || strcmp(l->port, port) != 0))))
		net_log(NET_LOG_INFO, "peer_published", "peer=%s endpoint=%s "
		    "identity=%s parent=%s", nr->region, nr->endpoint, nr->identity,
		    nr->parent);
	l->published = ok;
	snprintf(l->parent, sizeof(l->parent), "%s", nr->parent);
	if (ok && !l->configured)
		link_address(l, host, port);	/* a [peer] section's address wins */
	if (!link_live(l)) {
		link_drop_client(l);
		l->host[0] = l->port[0] = '\0';
	}
	pthread_mutex_unlock(&p->mu);
}

/* --- the next hop ------------------------------------------------------------------------- */

/*
 * May switch traffic go straight to l's node? A [peer]; a published node
 * unless [peering] direct = no, and then only a child of this node.
 */
static bool
direct(const struct gw_node *node, const struct gw_peer_link *l)
{
	return l != NULL && (l->configured || (l->published &&
	    (node->cfg.peering.direct || strcmp(l->parent, node->cfg.region) == 0)));
}

static bool
usable(const struct gw_node *node, const struct gw_peer_link *l)
{
	return direct(node, l) && l->state != GW_PEER_DOWN;
}

/*
 * Down the tree: the shortest ancestor of region strictly under own (region
 * itself included) whose node an axle reaches and is not known to be down
 * (up: any state).
 */
static bool
down_hop(const struct gw_node *node, struct gw_peers *p, const char *own,
    const char *region, bool up, char *hop)
{
	size_t olen = strlen(own), rlen = strlen(region);

	for (size_t i = olen + 1; i <= rlen; i++) {
		char a[ADDR_MAX_LEN + 1];
		const struct gw_peer_link *l;

		if (region[i] != '.' && region[i] != '\0')
			continue;
		memcpy(a, region, i);
		a[i] = '\0';
		l = link_lookup(p, a);
		if (up ? usable(node, l) : direct(node, l)) {
			snprintf(hop, ADDR_MAX_LEN + 1, "%s", a);
			return true;
		}
	}
	return false;
}

bool
gw_peers_next_hop(struct gw_node *node, const char *region, char *hop)
{
	struct gw_peers *p = node->peers;
	const char *own = node->cfg.region;
	const struct gw_peer_link *l;
	bool ok = false, under;

	if (p == NULL)
		return false;
	pthread_mutex_lock(&p->mu);
	if (region == NULL) {
		if ((ok = p->parent[0] != '\0'))
			snprintf(hop, ADDR_MAX_LEN + 1, "%s", p->parent);
		goto out;
	}
	l = link_lookup(p, region);
	under = registry_address_covers(own, region) && strcmp(own, region) != 0;
	if (l == NULL || !link_live(l))
		goto out;		/* no node known for it: the caller walks on */
	if (usable(node, l)) {
		snprintf(hop, ADDR_MAX_LEN + 1, "%s", region);
		ok = true;
	} else if (under)
		ok = down_hop(node, p, own, region, true, hop) ||
		    down_hop(node, p, own, region, false, hop);
	else if (p->parent[0] != '\0' && strcmp(p->parent, region) != 0) {
		snprintf(hop, ADDR_MAX_LEN + 1, "%s", p->parent);
		ok = true;
	} else {
		snprintf(hop, ADDR_MAX_LEN + 1, "%s", region);	/* waits in its outbox */
		ok = true;
	}
out:
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/* --- idle on-demand connections ----------------------------------------------------------- */

static void
idle_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_node *node = arg;
	struct gw_peers *p = node->peers;
	int64_t now = mono_ms();

	(void)fd, (void)what;
	for (size_t i = 0; i < p->n; i++) {
		struct gw_peer_link *l = &p->links[i];

		if (l->configured || l->client == NULL ||
		    net_client_inflight(l->client) > 0 ||
		    now - l->used_ms < (int64_t)node->cfg.peering.idle_ms)
			continue;
		link_drop_client(l);
		l->idle_closed++;
		net_log(NET_LOG_INFO, "peer_idle_close", "peer=%s idle_ms=%lld",
		    l->region, (long long)(now - l->used_ms));
	}
}

static uint32_t
idle_period_ms(const struct gw_node *node)
{
	uint32_t ms = node->cfg.peering.idle_ms / 4;

	return ms < 50 ? 50 : ms > 5000 ? 5000 : ms;
}

static int
idle_arm(struct gw_node *node)
{
	struct gw_peers *p = node->peers;
	uint32_t ms = idle_period_ms(node);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (p->idle == NULL &&
	    (p->idle = event_new(node->base, -1, EV_PERSIST, idle_tick, node)) == NULL)
		return -1;
	return evtimer_add(p->idle, &tv);
}

/* --- life ---------------------------------------------------------------------------------- */

int
gw_peers_start(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_peers *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "peers: out of memory");
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	node->peers = p;
	p->cap = GW_MAX_PEERS + node->cfg.peering.max_links;
	if ((p->links = calloc(p->cap, sizeof(*p->links))) == NULL) {
		snprintf(err, errlen, "peers: out of memory");
		gw_peers_stop(node);
		return -1;
	}
	/* /etc/hosts, then /etc/resolv.conf's nameservers (127.0.0.1 if none). */
	evdns_set_log_fn(dns_log);
	p->dns = evdns_base_new(node->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (p->dns == NULL || idle_arm(node) != 0) {
		snprintf(err, errlen, "peers: cannot set up the DNS resolver or the "
		    "idle timer");
		gw_peers_stop(node);
		return -1;
	}
	gw_peers_reconfigure(node);
	return 0;
}

void
gw_peers_stop(struct gw_node *node)
{
	struct gw_peers *p = node->peers;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		link_drop_client(&p->links[i]);
	if (p->idle != NULL)
		event_free(p->idle);
	if (p->dns != NULL) {
		/*
		 * Closing the links cancelled their lookups; libevent frees a
		 * cancelled lookup's records in a callback from the loop, so let
		 * it run once (nothing waits) before the resolver goes.
		 */
		event_base_loop(node->base, EVLOOP_NONBLOCK);
		evdns_base_free(p->dns, 0);
	}
	pthread_mutex_destroy(&p->mu);
	free(p->links);
	free(p);
	node->peers = NULL;
}

void
gw_peers_reload(struct gw_node *node)
{
	struct gw_peers *p = node->peers;

	for (size_t i = 0; p != NULL && i < p->n; i++)
		link_drop_client(&p->links[i]);	/* made again, with the new context, on the next call */
}

struct gw_peer_link *
gw_peers_find(struct gw_node *node, const char *region)
{
	struct gw_peer_link *l = link_lookup(node->peers, region);

	return l != NULL && link_live(l) ? l : NULL;
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
	/* A link given a new client keeps no state from the old client's calls. */
	if (l != NULL && l->client == pc->client) {
		enum gw_peer_state before = l->state, after;

		l->used_ms = mono_ms();
		after = status == GRPC_UNAVAILABLE || status == GRPC_DEADLINE_EXCEEDED ?
		    GW_PEER_DOWN : GW_PEER_UP;
		if (after == GW_PEER_DOWN) {
			l->calls_failed++;
			snprintf(l->last_error, sizeof(l->last_error), "%s", message ? message : "");
		} else {
			l->calls_ok++;
			l->last_ok_ms = wall_ms();
		}
		if (before != after) {
			const char *e = after == GW_PEER_UP ? "" : l->last_error;
			char q[600];

			pthread_mutex_lock(&pc->node->peers->mu);
			l->state = after;
			pthread_mutex_unlock(&pc->node->peers->mu);
			/* The peer's own words: quoted, escaped. */
			net_log(after == GW_PEER_UP ? NET_LOG_INFO : NET_LOG_WARN,
			    "peer_state", "peer=%s state=%s error=%s", l->region,
			    gw_peer_state_name(after),
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
	struct net_client *c;
	struct peer_call *pc;
	uint8_t *buf;
	size_t len;
	int rc;

	if (l == NULL || (c = link_client(node, l)) == NULL)
		return -1;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	if ((buf = pb_pack(req, 0, &len)) == NULL) {
		free(pc);
		return -1;
	}
	pc->node = node;
	pc->link = (size_t)(l - node->peers->links);
	pc->client = c;
	pc->cb = cb;
	pc->arg = arg;
	l->used_ms = mono_ms();
	rc = net_client_call(c, path, buf, len, timeout_ms, peer_call_done, pc);
	free(buf);
	if (rc != 0)
		free(pc);
	return rc;
}
