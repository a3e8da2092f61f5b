/* feed_pull.c -- pulls each peer's register feed (Axle.Feed), verifies and applies it to this node's mirror. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "axle/v1/axle.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_registry.h"
#include "gateway/net/log.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/feed_pull_priv.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "proto/pb.h"
#include "registry/error.h"
#include "registry/feed.h"
#include "registry/mirror.h"

#define FEED_PATH	"/axle.v1.Axle/Feed"
/*
 * Long poll: the peer answers at once when it changes, and with "no change"
 * after this long, which confirms that we still hold its head. So on a
 * healthy peer, idle or busy, the lag stays below about this much.
 */
#define MIRROR_CONFIRM_MS	5000
#define PULL_TIMEOUT_MS		(MIRROR_CONFIRM_MS + 10000)

/* struct gw_mpeer, struct gw_mlink, struct gw_mirror: feed_pull_priv.h */

/* A pull in flight; outlives the mirror if the node stops meanwhile. */
struct pull {
	struct gw_node *node;
	char region[ADDR_MAX_LEN + 1];
	char via[ADDR_MAX_LEN + 1];	/* the peer asked */
	unsigned gen;
	uint8_t *msg;
	size_t len;
	int nmsgs;
	int64_t started_ms;	/* monotonic */
};

/* A batch on its way through the store; self-contained for the writer thread. */
struct mwrite {
	struct gw_node *node;
	struct registry_db db;
	char region[ADDR_MAX_LEN + 1];
	char via[ADDR_MAX_LEN + 1];
	unsigned gen;
	Axle__V1__FeedResponse *resp;
	const Axle__V1__SignedHead *head;	/* resp->head, or head_copy */
	Axle__V1__SignedHead head_copy;		/* resp->head with the link's certificate */
	ProtobufCBinaryData cert;		/* malloc'd DER for head_copy */
	EVP_PKEY *pub;
	int64_t now_ms;
	int64_t answered_ms;	/* monotonic: when the peer's answer came */
	int lrc;
	struct registry_outcome res;
};

static void pull_start(struct gw_mpeer *p);

/* Lag is a duration: measured on a clock that wall-clock steps do not move. */
int64_t
gw_mirror_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct gw_mpeer *
gw_mirror_find(struct gw_node *node, const char *region)
{
	struct gw_mirror *m;

	if (node->registry == NULL || (m = node->registry->mirror) == NULL)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->peers[i].region, region) == 0)
			return &m->peers[i];
	return NULL;
}

EVP_PKEY *
gw_mirror_node_pub(struct gw_node *node, const char *region, const uint8_t *kid,
    size_t kidlen, char *why, size_t len)
{
	struct gw_mpeer *p = gw_mirror_find(node, region);
	Axle__V1__SignedHead *head = NULL;
	EVP_PKEY *pub;

	if (p != NULL && p->fresh != NULL &&
	    (head = PB_UNPACK(Axle__V1__SignedHead, axle__v1__signed_head, p->fresh,
	    p->fresh_len, p->fresh_len, NULL, 0)) == NULL) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	pub = gw_mirror_node_key(node, region, head, kid, kidlen, why, len);
	pb_free(head != NULL ? &head->base : NULL);
	return pub;
}

void
gw_mirror_schedule(struct gw_mpeer *p, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	p->busy = false;
	/* A relayed origin known only from the store waits for a peer to offer it. */
	if (!p->broken && !p->resetting && p->via[0] != '\0')
		evtimer_add(p->timer, &tv);
}

static uint32_t
interval_ms(const struct gw_mpeer *p)
{
	return p->m->node->cfg.registry.mirror_interval_ms;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_mpeer *p = arg;

	(void)fd, (void)what;
	if (!p->busy && !p->broken && !p->resetting)
		pull_start(p);
}

/*
 * A pull or write from before a reset ended: drop it. Once the reset is done
 * (which pulls at once only when nothing was in flight), pull from seq 1.
 */
static void
stale_done(struct gw_mpeer *p)
{
	p->busy = false;
	if (!p->resetting)
		gw_mirror_schedule(p, 0);
}

static void
mark_broken(struct gw_mpeer *p, const char *reason)
{
	char q[600];

	p->broken = true;
	p->busy = false;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	net_log(NET_LOG_ERR, "mirror_broken", "peer=%s via=%s seq=%" PRIu64 " reason=%s "
	    "action=\"mirror stopped; nothing of this batch was applied\"",
	    p->region, p->via, p->seq, net_log_quote(q, sizeof(q), reason, strlen(reason)));
}

/* --- applying a batch (writer thread, then loop thread) -------------------------- */

static int
mwrite_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct mwrite *w = arg;

	(void)st;
	w->lrc = registry_mirror_apply_via(txn, &w->db, w->region, w->via,
	    (const Axle__V1__FeedEntry *const *)w->resp->entries,
	    w->resp->n_entries, w->head, w->pub, w->now_ms, &w->res);
	/* A broken mark is a result too: keep it so it survives a restart. */
	return w->lrc == REGISTRY_OK || w->lrc == REGISTRY_EINTEGRITY ? 0 : 1;
}

static void
mwrite_free(struct mwrite *w)
{
	pb_free(&w->resp->base);
	EVP_PKEY_free(w->pub);
	OPENSSL_free(w->cert.data);	/* from i2d_X509 */
	free(w);
}

/* The batch committed: bring the index in line with each new record. */
static void
mwrite_applied(struct gw_mpeer *p, const struct mwrite *w)
{
	const Axle__V1__FeedResponse *r = w->resp;
	uint64_t before = p->seq;

	for (size_t i = 0; i < r->n_entries; i++) {
		const Axle__V1__FeedEntry *e = r->entries[i];

		if (e->seq <= before || e->registrar == NULL)
			continue;
		gw_registry_applied(w->node, e->registrar);
		if (e->seq == w->res.feed_seq && e->hash.len == REGISTRY_HASH_LEN)
			memcpy(p->hash, e->hash.data, REGISTRY_HASH_LEN);
	}
	p->seq = w->res.feed_seq;
	if (w->head != NULL && w->head->seq == p->seq)
		gw_mirror_head_seen(p, w->via, w->head);
	if (p->seq > before) {
		net_log(NET_LOG_DEBUG, "mirror_applied", "peer=%s via=%s from=%" PRIu64
		    " to=%" PRIu64, p->region, p->via, before + 1, p->seq);
		/* Nodes that mirror this feed through us learn it now. */
		if (w->node->registry->feed_wake != NULL)
			w->node->registry->feed_wake(w->node);
	}
}

static void
mwrite_done(int rc, void *arg)
{
	struct mwrite *w = arg;
	struct gw_mpeer *p = gw_mirror_find(w->node, w->region);

	if (p == NULL) {
		mwrite_free(w);
		return;
	}
	if (w->gen != p->gen) {		/* a reset came after it: void */
		stale_done(p);
		mwrite_free(w);
		return;
	}
	if (rc != 0 && w->lrc == REGISTRY_EPRECOND) {
		mark_broken(p, w->res.reason);
	} else if (rc != 0) {
		const char *e = w->lrc != REGISTRY_OK ? w->res.reason :
		    gw_store_strerror(rc);
		char q[600];

		net_log(NET_LOG_WARN, "mirror_write_failed", "peer=%s error=%s",
		    p->region, net_log_quote(q, sizeof(q), e, strlen(e)));
		gw_mirror_schedule(p, interval_ms(p));
	} else if (w->lrc == REGISTRY_EINTEGRITY) {
		mark_broken(p, w->res.reason);
	} else {
		mwrite_applied(p, w);
		if (!w->resp->more)	/* the head the peer had when it answered */
			p->confirmed_ms = w->answered_ms;
		/* New entries: ask again now (the next pull long-polls at the head). */
		gw_mirror_schedule(p, w->resp->n_entries > 0 ? 0 : interval_ms(p));
	}
	mwrite_free(w);
}

/* --- a pull's answer ---------------------------------------------------------------- */

/* Nothing new and the signed head is where we are: no write needed. */
static bool
at_head(const struct gw_mpeer *p, const Axle__V1__FeedResponse *r, EVP_PKEY *pub)
{
	const Axle__V1__SignedHead *h = r->head;
	char why[REGISTRY_REASON_MAX];

	if (r->n_entries != 0)
		return false;
	if (h == NULL)
		return p->seq == 0;
	return h->region != NULL && strcmp(h->region, p->region) == 0 &&
	    h->seq == p->seq && h->hash.len == REGISTRY_HASH_LEN &&
	    memcmp(h->hash.data, p->hash, REGISTRY_HASH_LEN) == 0 &&
	    registry_feed_verify_head(pub, h, why, sizeof(why)) == REGISTRY_OK;
}

static void
pull_answer(struct gw_mpeer *p, const char *via, Axle__V1__FeedResponse *resp,
    int64_t started_ms)
{
	int64_t answered_ms = gw_mirror_mono_ms();
	struct gw_node *node = p->m->node;
	char why[REGISTRY_REASON_MAX], q[2 * REGISTRY_REASON_MAX];
	EVP_PKEY *pub = gw_mirror_origin_pub(node, p->region, via, resp->head,
	    why, sizeof(why));
	struct mwrite *w;

	if (pub == NULL) {
		net_log(NET_LOG_WARN, "mirror_pull_failed", "peer=%s via=%s error=%s",
		    p->region, via, net_log_quote(q, sizeof(q), why, strlen(why)));
		snprintf(p->fault, sizeof(p->fault), "%s", why);
		pb_free(&resp->base);
		gw_mirror_schedule(p, interval_ms(p));
		return;
	}
	if (at_head(p, resp, pub)) {
		EVP_PKEY_free(pub);
		if (resp->head != NULL)
			gw_mirror_head_seen(p, via, resp->head);
		pb_free(&resp->base);
		p->confirmed_ms = answered_ms;
		/* A long poll that waited its time out: ask again at once. */
		gw_mirror_schedule(p, answered_ms - started_ms >= MIRROR_CONFIRM_MS / 2 ? 0 :
		    interval_ms(p));
		return;
	}
	/* A relay behind us (we also heard from a closer or fresher path): wait. */
	if (strcmp(via, p->region) != 0 && resp->n_entries == 0 &&
	    resp->head != NULL && resp->head->seq < p->seq) {
		EVP_PKEY_free(pub);
		pb_free(&resp->base);
		gw_mirror_schedule(p, interval_ms(p));
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		EVP_PKEY_free(pub);
		pb_free(&resp->base);
		gw_mirror_schedule(p, interval_ms(p));
		return;
	}
	w->head = resp->head;
	/* What we keep must let others verify it after us: the origin's chain. */
	if (resp->head != NULL && resp->head->n_node_chain == 0 &&
	    gw_mirror_link_cert(node, via, &w->cert) == 0) {
		w->head_copy = *resp->head;
		w->head_copy.n_node_chain = 1;
		w->head_copy.node_chain = &w->cert;
		w->head = &w->head_copy;
	}
	w->node = node;
	w->db = node->registry->db;
	w->gen = p->gen;
	memcpy(w->region, p->region, sizeof(w->region));
	snprintf(w->via, sizeof(w->via), "%s", via);
	w->resp = resp;
	w->pub = pub;
	w->now_ms = gw_registry_now_ms();
	w->answered_ms = answered_ms;
	/* A peer's entries are new work: refused above the high-water mark. */
	if (gw_store_submit_new(node->store, mwrite_fn, mwrite_done, w) != 0) {
		mwrite_free(w);
		gw_mirror_schedule(p, interval_ms(p));
	}
}

static void
pull_failed(struct gw_mpeer *p, int status, const char *message)
{
	char q[600];

	/* The message may be the peer's own words: quoted, escaped. */
	if (message == NULL)
		message = "";
	if (!p->down)
		net_log(NET_LOG_WARN, "mirror_pull_failed", "peer=%s via=%s status=%d "
		    "error=%s action=\"retry every %ums from seq %" PRIu64 "\"",
		    p->region, p->via, status, net_log_quote(q, sizeof(q), message,
		    strlen(message)), interval_ms(p), p->seq + 1);
	p->down = true;
	gw_mirror_schedule(p, interval_ms(p));
}

static void
pull_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct pull *pl = arg;
	struct gw_mpeer *p;
	Axle__V1__FeedResponse *resp;
	char err[256];

	if (!final) {
		if (pl->nmsgs++ == 0 && (pl->msg = malloc(len ? len : 1)) != NULL) {
			memcpy(pl->msg, msg, len);
			pl->len = len;
		}
		return;
	}
	if ((p = gw_mirror_find(pl->node, pl->region)) == NULL)
		goto out;
	if (pl->gen != p->gen) {	/* asked before a reset: void */
		stale_done(p);
		goto out;
	}
	if (status != GRPC_OK || pl->nmsgs != 1 || pl->msg == NULL) {
		pull_failed(p, status != GRPC_OK ? status : GRPC_INTERNAL,
		    status != GRPC_OK ? message : "not exactly one response message");
		goto out;
	}
	resp = PB_UNPACK(Axle__V1__FeedResponse, axle__v1__feed_response,
	    pl->msg, pl->len, NET_CLIENT_MAX_MSG, err, sizeof(err));
	if (resp == NULL) {
		pull_failed(p, GRPC_INTERNAL, err);
		goto out;
	}
	if (p->down)
		net_log(NET_LOG_INFO, "mirror_resumed", "peer=%s from_seq=%" PRIu64,
		    p->region, p->seq + 1);
	p->down = false;
	pull_answer(p, pl->via, resp, pl->started_ms);
out:
	free(pl->msg);
	free(pl);
}

static void
pull_start(struct gw_mpeer *p)
{
	struct gw_node *node = p->m->node;
	Axle__V1__FeedRequest req = AXLE__V1__FEED_REQUEST__INIT;
	struct pull *pl = calloc(1, sizeof(*pl));

	if (pl == NULL) {
		gw_mirror_schedule(p, interval_ms(p));
		return;
	}
	pl->node = node;
	pl->gen = p->gen;
	memcpy(pl->region, p->region, sizeof(pl->region));
	memcpy(pl->via, p->via, sizeof(pl->via));
	req.region = p->region;
	req.from_seq = p->seq + 1;
	req.wait_ms = MIRROR_CONFIRM_MS;
	pl->started_ms = gw_mirror_mono_ms();
	p->busy = true;
	if (gw_peers_call(node, p->via, FEED_PATH, &req.base, PULL_TIMEOUT_MS,
	    pull_cb, pl) != 0) {
		free(pl);
		pull_failed(p, GRPC_UNAVAILABLE, "cannot start the call");
	}
}

/* --- reset: forget a peer's mirror, mirror it again from seq 1 ------------------- */

struct mreset {
	struct gw_node *node;
	struct registry_db db;
	char region[ADDR_MAX_LEN + 1];
	char by[NET_URI_MAX + 1];
	char reason[REGISTRY_REASON_MAX];
	struct registry_mirror_state before;
	gw_mirror_reset_cb *cb;
	void *arg;
	int lrc;
	struct registry_outcome res;
};

static int
mreset_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct mreset *r = arg;

	(void)st;
	/* A state record that does not read is one more reason to reset. */
	if (registry_mirror_state_get(txn, &r->db, r->region, &r->before,
	    &r->res) != REGISTRY_OK)
		memset(&r->before, 0, sizeof(r->before));
	r->lrc = registry_mirror_reset(txn, &r->db, r->region, &r->res);
	return r->lrc == REGISTRY_OK ? 0 : 1;
}

static void
mreset_done(int rc, void *arg)
{
	struct mreset *r = arg;
	struct gw_mpeer *p = gw_mirror_find(r->node, r->region);
	char err[256] = "", q[2 * REGISTRY_REASON_MAX];

	if (p != NULL)
		p->resetting = false;
	if (rc != 0 || p == NULL) {
		snprintf(err, sizeof(err), "%s", p == NULL ? "the node is stopping" :
		    r->lrc != REGISTRY_OK ? r->res.reason : gw_store_strerror(rc));
		net_log(NET_LOG_WARN, "mirror_reset_failed", "peer=%s by=%s error=\"%s\"",
		    r->region, r->by, err);
		if (p != NULL && !p->busy)
			gw_mirror_schedule(p, 0);
		r->cb(r->arg, p == NULL ? GRPC_UNAVAILABLE : r->lrc != REGISTRY_OK ?
		    GRPC_INTERNAL : gw_store_rc_grpc_status(rc), err, 0, false);
		free(r);
		return;
	}
	p->seq = 0;
	memset(p->hash, 0, sizeof(p->hash));
	p->broken = false;
	p->down = false;
	p->signed_ms = 0;
	free(p->fresh);
	p->fresh = NULL;
	p->fresh_len = 0;
	p->suspect[0] = p->shunned[0] = '\0';
	p->reason[0] = p->fault[0] = '\0';
	if (strcmp(p->via, p->region) != 0) {	/* relayed: the closest offer wins again */
		p->via[0] = '\0';
		p->hops = 0;
	}
	p->confirmed_ms = gw_mirror_mono_ms();	/* we hold nothing: lag counts from now */
	/* The index still holds the forgotten records: rebuild it from the store. */
	if (gw_registry_reindex(r->node, err, sizeof(err)) != 0)
		net_log(NET_LOG_ERR, "mirror_reset_reindex_failed", "peer=%s error=\"%s\" "
		    "action=\"restart the node to rebuild the index\"", r->region, err);
	net_log(NET_LOG_WARN, "mirror_reset", "peer=%s by=%s dropped_seq=%" PRIu64
	    " was_broken=%d reason=%s action=\"mirroring again from seq 1\"",
	    r->region, r->by, r->before.seq, r->before.broken,
	    net_log_quote(q, sizeof(q), r->reason, strlen(r->reason)));
	if (!p->busy)
		gw_mirror_schedule(p, 0);
	r->cb(r->arg, 0, NULL, r->before.seq, r->before.broken);
	free(r);
}

int
gw_mirror_reset(struct gw_node *node, const char *region, const char *by,
    const char *reason, gw_mirror_reset_cb *cb, void *arg, char *err,
    size_t errlen)
{
	struct gw_mpeer *p = gw_mirror_find(node, region);
	struct mreset *r;
	int rc;

	if (p == NULL) {
		snprintf(err, errlen, "%s is not a peer of this node nor relayed to "
		    "it: only a configured [peer] or a relayed region has a mirror",
		    region);
		return GRPC_NOT_FOUND;
	}
	if (p->resetting) {
		snprintf(err, errlen, "a reset of %s's mirror is already under way",
		    region);
		return GRPC_ABORTED;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return GRPC_RESOURCE_EXHAUSTED;
	}
	r->node = node;
	r->db = node->registry->db;
	snprintf(r->region, sizeof(r->region), "%s", region);
	snprintf(r->by, sizeof(r->by), "%s", by);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	r->cb = cb;
	r->arg = arg;
	/* Stop pulling, void what is in flight: nothing of the old chain lands after. */
	p->resetting = true;
	p->gen++;
	evtimer_del(p->timer);
	if ((rc = gw_store_submit(node->store, mreset_fn, mreset_done, r)) != 0) {
		p->resetting = false;
		if (!p->busy)
			gw_mirror_schedule(p, 0);
		snprintf(err, errlen, "the store cannot take the reset now: %s",
		    gw_store_strerror(rc));
		free(r);
		return GRPC_UNAVAILABLE;
	}
	return GRPC_OK;
}

/* --- module life ----------------------------------------------------------------- */

struct gw_mpeer *
gw_mirror_add(struct gw_mirror *m, const char *region, const char *via,
    unsigned hops)
{
	struct gw_mpeer *p;

	if (m->n >= m->cap)
		return NULL;
	p = &m->peers[m->n];
	memset(p, 0, sizeof(*p));
	p->m = m;
	p->confirmed_ms = gw_mirror_mono_ms();	/* nothing confirmed yet */
	snprintf(p->region, sizeof(p->region), "%s", region);
	snprintf(p->via, sizeof(p->via), "%s", via);
	p->hops = hops;
	if ((p->timer = evtimer_new(m->node->base, timer_cb, p)) == NULL)
		return NULL;
	m->n++;
	return p;
}

/* A region mirrored before this start: relayed ones wait for a peer's offer. */
static void
load_one(void *arg, const char *region, const struct registry_mirror_state *st)
{
	struct gw_mirror *m = arg;
	struct gw_mpeer *p = gw_mirror_find(m->node, region);
	char q[600];

	if (p == NULL && (p = gw_mirror_add(m, region, "", 0)) == NULL)
		return;
	p->seq = st->seq;
	memcpy(p->hash, st->hash, REGISTRY_HASH_LEN);
	p->broken = st->broken;
	snprintf(p->reason, sizeof(p->reason), "%s", st->reason);
	if (st->broken)
		net_log(NET_LOG_ERR, "mirror_broken", "peer=%s seq=%" PRIu64
		    " reason=%s action=\"mirror stays stopped\"", p->region, p->seq,
		    net_log_quote(q, sizeof(q), st->reason, strlen(st->reason)));
	else
		net_log(NET_LOG_INFO, "mirror_start", "peer=%s from_seq=%" PRIu64
		    " via=%s", p->region, p->seq + 1, p->via[0] ? p->via :
		    "(a peer that offers it)");
}

static int
mirror_load(struct gw_node *node, struct gw_mirror *m, char *err, size_t errlen)
{
	struct registry_outcome res = { 0 };
	MDB_txn *txn;
	int rc;

	if ((rc = gw_store_read_begin(node->store, &txn)) != 0) {
		snprintf(err, errlen, "read transaction: %s", gw_store_strerror(rc));
		return -1;
	}
	/* Start-up only: reads at most cap states (the configured cap on origins). */
	rc = registry_mirror_regions(txn, &node->registry->db, m->cap, load_one, m,
	    &res);
	mdb_txn_abort(txn);
	if (rc != REGISTRY_OK) {
		snprintf(err, errlen, "mirror states: %s", res.reason);
		return -1;
	}
	return 0;
}

int
gw_mirror_start(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_mirror *m = calloc(1, sizeof(*m));
	size_t cap = node->cfg.registry.max_origins;
	struct timeval now = { 0, 0 };

	if (cap < node->cfg.npeers)
		cap = node->cfg.npeers;		/* every configured peer has its mirror */
	if (m == NULL || (m->peers = calloc(cap ? cap : 1, sizeof(*m->peers))) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->node = node;
	m->cap = cap;
	node->registry->mirror = m;
	for (size_t i = 0; i < node->cfg.npeers; i++) {
		const char *r = node->cfg.peers[i].region;

		if (gw_mirror_add(m, r, r, 1) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (mirror_load(node, m, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		if (!m->peers[i].broken && m->peers[i].via[0] != '\0')
			evtimer_add(m->peers[i].timer, &now);
	return 0;
}

void
gw_mirror_stop(struct gw_node *node)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		if (m->peers[i].timer != NULL)
			event_free(m->peers[i].timer);
		free(m->peers[i].fresh);
	}
	free(m->peers);
	free(m);
	node->registry->mirror = NULL;
}

bool
gw_mirror_lag_ms(struct gw_node *node, const char *region, int64_t *lag_ms)
{
	struct gw_mpeer *p = gw_mirror_find(node, region);
	int64_t lag;

	if (p == NULL)
		return false;
	lag = gw_mirror_mono_ms() - p->confirmed_ms;
	*lag_ms = lag > 0 ? lag : 0;
	return true;
}

unsigned long long
gw_mirror_seq(struct gw_node *node, const char *region)
{
	struct gw_mpeer *p = gw_mirror_find(node, region);

	return p != NULL ? (unsigned long long)p->seq : 0;
}

void
gw_mirror_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct gw_mirror *m = node->registry != NULL ? node->registry->mirror : NULL;
	int64_t lag;

	if (m == NULL || m->n == 0)
		return;
	evbuffer_add_printf(out, "# HELP axle_mirror_last_seq Last feed entry "
	    "mirrored from the peer.\n# TYPE axle_mirror_last_seq gauge\n");
	for (size_t i = 0; i < m->n; i++)
		evbuffer_add_printf(out, "axle_mirror_last_seq{peer=\"%s\"} %" PRIu64
		    "\n", m->peers[i].region, m->peers[i].seq);
	evbuffer_add_printf(out, "# HELP axle_mirror_lag_seconds Age of the "
	    "newest head of the peer's feed this node has confirmed it holds.\n"
	    "# TYPE axle_mirror_lag_seconds gauge\n");
	for (size_t i = 0; i < m->n; i++)
		if (gw_mirror_lag_ms(node, m->peers[i].region, &lag))
			evbuffer_add_printf(out, "axle_mirror_lag_seconds{peer="
			    "\"%s\"} %.3f\n", m->peers[i].region,
			    (double)lag / 1000.0);
	evbuffer_add_printf(out, "# HELP axle_mirror_broken 1 when the peer's "
	    "mirror stopped on a broken chain or bad signature.\n"
	    "# TYPE axle_mirror_broken gauge\n");
	for (size_t i = 0; i < m->n; i++)
		evbuffer_add_printf(out, "axle_mirror_broken{peer=\"%s\"} %d\n",
		    m->peers[i].region, m->peers[i].broken);
}
