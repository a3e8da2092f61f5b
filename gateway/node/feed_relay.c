/* feed_relay.c -- relayed feeds: which origins each peer offers (Axle.Origins), and what this node offers on. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "axle/v1/axle.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/net/grpc_status.h"
#include "gateway/net/log.h"
#include "gateway/net/tls.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/feed_pull_priv.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "proto/pb.h"

#define ORIGINS_PATH		"/axle.v1.Axle/Origins"
#define OFFER_EVERY_MS		5000	/* how often a peer is asked what it holds */
#define OFFER_OLD_NODE_MS	60000	/* ... an older node (UNIMPLEMENTED) */
#define OFFER_TIMEOUT_MS	10000
#define HOPS_MAX		64	/* deeper than any tree: refused as a loop */
#define LINKS_SYNC_MS		1000	/* how soon a new child or peer is asked */

bool
gw_mirror_fresh_head(struct gw_node *node, const char *region, uint64_t seq,
    const uint8_t **data, size_t *len)
{
	struct gw_mpeer *p = gw_mirror_find(node, region);

	if (p == NULL || p->fresh == NULL || p->seq != seq)
		return false;
	*data = p->fresh;
	*len = p->fresh_len;
	return true;
}

/* --- offers: what each peer holds ----------------------------------------------------- */

struct offer_call {
	struct gw_node *node;
	char link[ADDR_MAX_LEN + 1];
	uint8_t *msg;
	size_t len;
	int nmsgs;
};

static struct gw_mlink *
link_find(struct gw_node *node, const char *region)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;

	for (size_t i = 0; m != NULL && i < m->nlinks; i++)
		if (strcmp(m->links[i].region, region) == 0)
			return &m->links[i];
	return NULL;
}

static void
link_schedule(struct gw_mlink *l, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	l->busy = false;
	evtimer_add(l->timer, &tv);
}

/*
 * One origin the peer holds: adopt it if we hold it from nobody, move to
 * this peer if it is strictly closer to the origin than where we pull now.
 */
static void
offer_one(struct gw_mlink *l, const Axle__V1__OriginHead *o)
{
	struct gw_mirror *m = l->m;
	struct gw_node *node = m->node;
	struct gw_mpeer *p;
	char folded[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX];
	unsigned hops;

	if (o->region == NULL || o->broken || o->seq == 0 || o->hops >= HOPS_MAX ||
	    registry_address_parse(o->region, strlen(o->region), folded, why,
	    sizeof(why)) != 0 || strcmp(folded, o->region) != 0 ||
	    strcmp(o->region, node->cfg.region) == 0)
		return;
	/* Never back through the node we would relay it to: it got it from us. */
	if (o->via != NULL && strcmp(o->via, node->cfg.region) == 0)
		return;
	hops = o->hops + 1;
	if ((p = gw_mirror_find(node, o->region)) != NULL) {
		if (p->broken || p->resetting)
			return;
		if (gw_mirror_offer_fresher(p, l->region, o->seq, o->head_signed_ms)) {
			p->hops = hops;
			if (!p->busy)
				gw_mirror_schedule(p, 0);
			return;
		}
		if ((p->via[0] != '\0' && p->hops <= hops) ||
		    strcmp(l->region, p->suspect) == 0 || strcmp(l->region, p->shunned) == 0)
			return;
		net_log(NET_LOG_INFO, "mirror_via", "peer=%s via=%s hops=%u was=%s",
		    p->region, l->region, hops, p->via[0] ? p->via : "(none)");
		snprintf(p->via, sizeof(p->via), "%s", l->region);
		p->hops = hops;
		if (!p->busy)
			gw_mirror_schedule(p, 0);
		return;
	}
	if ((p = gw_mirror_add(m, o->region, l->region, hops)) == NULL) {
		if (!m->full_logged)
			net_log(NET_LOG_WARN, "mirror_origins_full", "peer=%s via=%s "
			    "max_origins=%zu action=\"raise [registry] max_origins to "
			    "mirror every region of the federation\"", o->region,
			    l->region, m->cap);
		m->full_logged = true;
		return;
	}
	if (registry_index_add_region(node->registry->idx, p->region,
	    REGISTRY_PREFIX_PEER_REGION) == REGISTRY_ENOMEM)
		net_log(NET_LOG_WARN, "mirror_index_failed", "peer=%s error=\"out of "
		    "memory\"", p->region);
	net_log(NET_LOG_INFO, "mirror_start", "peer=%s from_seq=1 via=%s hops=%u",
	    p->region, l->region, hops);
	gw_mirror_schedule(p, 0);
}

static void
offer_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct offer_call *oc = arg;
	struct gw_mlink *l;
	Axle__V1__OriginsResponse *resp;
	char err[256];

	if (!final) {
		if (oc->nmsgs++ == 0 && (oc->msg = malloc(len ? len : 1)) != NULL) {
			memcpy(oc->msg, msg, len);
			oc->len = len;
		}
		return;
	}
	if ((l = link_find(oc->node, oc->link)) == NULL)
		goto out;
	if (status == GRPC_UNIMPLEMENTED) {
		if (!l->unimplemented)
			net_log(NET_LOG_INFO, "mirror_offers_unsupported", "peer=%s "
			    "action=\"mirroring only its own feed (an older node)\"",
			    l->region);
		l->unimplemented = true;
		link_schedule(l, OFFER_OLD_NODE_MS);
		goto out;
	}
	l->unimplemented = false;
	if (status != GRPC_OK || oc->nmsgs != 1 || oc->msg == NULL ||
	    (resp = PB_UNPACK(Axle__V1__OriginsResponse, axle__v1__origins_response,
	    oc->msg, oc->len, NET_CLIENT_MAX_MSG, err, sizeof(err))) == NULL) {
		net_log(NET_LOG_DEBUG, "mirror_offers_failed", "peer=%s status=%d",
		    l->region, status);
		link_schedule(l, OFFER_EVERY_MS);
		goto out;
	}
	(void)message;
	for (size_t i = 0; i < resp->n_origins; i++)
		offer_one(l, resp->origins[i]);
	pb_free(&resp->base);
	link_schedule(l, OFFER_EVERY_MS);
out:
	free(oc->msg);
	free(oc);
}

static void
link_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_mlink *l = arg;
	struct gw_node *node = l->m->node;
	Axle__V1__OriginsRequest req = AXLE__V1__ORIGINS_REQUEST__INIT;
	struct offer_call *oc;

	(void)fd, (void)what;
	if (l->busy)
		return;
	if ((oc = calloc(1, sizeof(*oc))) == NULL) {
		link_schedule(l, OFFER_EVERY_MS);
		return;
	}
	oc->node = node;
	snprintf(oc->link, sizeof(oc->link), "%s", l->region);
	l->busy = true;
	if (gw_peers_call(node, l->region, ORIGINS_PATH, &req.base,
	    OFFER_TIMEOUT_MS, offer_cb, oc) != 0) {
		free(oc);
		link_schedule(l, OFFER_EVERY_MS);
	}
}

/* Asks region what it holds from now on (a link per peer, never moved: timers point in). */
static int
link_add(struct gw_mirror *m, const char *region)
{
	struct timeval now = { 0, 0 };
	struct gw_mlink *l;

	if (link_find(m->node, region) != NULL)
		return 0;
	if (m->nlinks == m->caplinks)
		return -1;
	l = &m->links[m->nlinks];
	memset(l, 0, sizeof(*l));
	l->m = m;
	snprintf(l->region, sizeof(l->region), "%s", region);
	if ((l->timer = evtimer_new(m->node->base, link_timer_cb, l)) == NULL)
		return -1;
	m->nlinks++;
	evtimer_add(l->timer, &now);
	return 0;
}

static void probe_origins(struct gw_node *node, struct gw_mirror *m);

/*
 * Whom this node pulls from: its configured peers (the parent among them)
 * and its children, the nodes its own register publishes (reached on
 * demand). A region's feed so climbs to the root and comes down every
 * branch (docs/design.md "Register of registrars").
 */
static void
links_sync(evutil_socket_t fd, short what, void *arg)
{
	struct gw_node *node = arg;
	struct gw_mirror *m = node->registry->mirror;

	(void)fd, (void)what;
	for (size_t i = 0; i < gw_peers_count(node); i++) {
		struct gw_peer_link *l = gw_peers_at(node, i);

		if (gw_peers_find(node, l->region) != l || (!l->configured &&
		    strcmp(l->parent, node->cfg.region) != 0))
			continue;
		if (link_add(m, l->region) != 0 && !m->links_full_logged) {
			m->links_full_logged = true;
			net_log(NET_LOG_WARN, "mirror_links_full", "peer=%s",
			    l->region);
		}
	}
	probe_origins(node, m);
}

/* --- the origin itself, asked when a relayed head grows old ------------------------------ */

/*
 * A relayed region whose newest head is older than relay_stale_ms has a
 * relay that withholds, or one cut off from the origin. In a tree no other
 * peer offers it, but the register may publish the origin's node: ask the
 * origin itself (an axle on demand, pinned to its identity) which head it
 * is at. If it offers a later entry signed relay_stale_ms after the relay's
 * head, the mirror pulls from it, and once that head verifies the relay is
 * named (gw_mirror_head_seen), as when another peer offers it.
 */
struct probe_call {
	struct gw_node *node;
	char region[ADDR_MAX_LEN + 1];
	uint8_t *msg;
	size_t len;
	int nmsgs;
};

static void
probe_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct probe_call *pc = arg;
	Axle__V1__OriginsResponse *resp = NULL;
	struct gw_mpeer *p;
	char err[256];

	(void)message;
	if (!final) {
		if (pc->nmsgs++ == 0 && (pc->msg = malloc(len ? len : 1)) != NULL) {
			memcpy(pc->msg, msg, len);
			pc->len = len;
		}
		return;
	}
	if ((p = gw_mirror_find(pc->node, pc->region)) == NULL)
		goto out;
	p->probing = false;
	if (status != GRPC_OK || pc->nmsgs != 1 || pc->msg == NULL ||
	    (resp = PB_UNPACK(Axle__V1__OriginsResponse, axle__v1__origins_response,
	    pc->msg, pc->len, NET_CLIENT_MAX_MSG, err, sizeof(err))) == NULL)
		goto out;
	for (size_t i = 0; i < resp->n_origins; i++) {
		const Axle__V1__OriginHead *o = resp->origins[i];

		if (o->region == NULL || strcmp(o->region, p->region) != 0 || o->hops != 0)
			continue;
		if (!p->broken && !p->resetting &&
		    gw_mirror_offer_fresher(p, p->region, o->seq, o->head_signed_ms)) {
			p->hops = 1;
			if (!p->busy)
				gw_mirror_schedule(p, 0);
		}
		break;
	}
out:
	pb_free(resp != NULL ? &resp->base : NULL);
	free(pc->msg);
	free(pc);
}

static void
probe_origins(struct gw_node *node, struct gw_mirror *m)
{
	struct timespec ts;
	int64_t wall, mono = gw_mirror_mono_ms();
	Axle__V1__OriginsRequest req = AXLE__V1__ORIGINS_REQUEST__INIT;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (size_t i = 0; i < m->n; i++) {
		struct gw_mpeer *p = &m->peers[i];
		struct gw_peer_link *l;
		struct probe_call *pc;

		if (p->via[0] == '\0' || strcmp(p->via, p->region) == 0 || p->broken ||
		    p->resetting || p->probing || p->signed_ms == 0 ||
		    wall - p->signed_ms <= (int64_t)node->cfg.registry.relay_stale_ms ||
		    mono - p->probed_ms < OFFER_EVERY_MS ||
		    (l = gw_peers_find(node, p->region)) == NULL || !l->published)
			continue;
		p->probed_ms = mono;
		if ((pc = calloc(1, sizeof(*pc))) == NULL)
			continue;
		pc->node = node;
		snprintf(pc->region, sizeof(pc->region), "%s", p->region);
		p->probing = true;
		if (gw_peers_call(node, p->region, ORIGINS_PATH, &req.base,
		    OFFER_TIMEOUT_MS, probe_cb, pc) != 0) {
			p->probing = false;
			free(pc);
		}
	}
}

int
gw_mirror_links_start(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_mirror *m = node->registry->mirror;
	struct timeval every = { LINKS_SYNC_MS / 1000, (LINKS_SYNC_MS % 1000) * 1000 };

	if (m == NULL)
		return 0;
	m->caplinks = GW_MAX_PEERS + node->cfg.peering.max_links;
	if ((m->links = calloc(m->caplinks, sizeof(*m->links))) == NULL ||
	    (m->sync = event_new(node->base, -1, EV_PERSIST, links_sync,
	    node)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	links_sync(-1, 0, node);
	evtimer_add(m->sync, &every);
	return 0;
}

void
gw_mirror_links_stop(struct gw_node *node)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;

	if (m == NULL)
		return;
	if (m->sync != NULL)
		event_free(m->sync);
	m->sync = NULL;
	for (size_t i = 0; i < m->nlinks; i++)
		event_free(m->links[i].timer);
	free(m->links);
	m->links = NULL;
	m->nlinks = 0;
}

/* --- what this node offers (Axle.Origins, served in svc_registry.c) --------------------- */

size_t
gw_mirror_origins(struct gw_node *node, Axle__V1__OriginHead *out, size_t max)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;
	size_t k = 0;

	for (size_t i = 0; m != NULL && i < m->n && k < max; i++) {
		struct gw_mpeer *p = &m->peers[i];
		Axle__V1__OriginHead *o;

		if (p->via[0] == '\0')		/* held from before; pulled from nobody now */
			continue;
		o = &out[k++];
		axle__v1__origin_head__init(o);
		o->region = p->region;
		o->seq = p->seq;
		o->hops = p->hops;
		o->via = p->via;
		o->broken = p->broken;
		o->reason = p->broken ? p->reason : p->fault;
		o->head_signed_ms = p->signed_ms;
	}
	return k;
}

size_t
gw_mirror_count(struct gw_node *node)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;

	return m != NULL ? m->n : 0;
}
