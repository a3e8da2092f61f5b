/* outbox.c -- the outbox pumps: hand queued messages to peer nodes with Axle.Forward, drop them only once the peer committed, back off while a peer is down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "axle/v1/axle.pb-c.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/grpc_status.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "gateway/switch/sw_backoff.h"
#include "gateway/switch/sw_core.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/outbox.h"
#include "proto/pb.h"

struct gw_pump {
	struct gw_node *node;
	char region[ADDR_MAX_LEN + 1];
	bool busy;		/* a Forward, or the write after it, is in flight */
	unsigned attempt;	/* failures in a row */
	int64_t next_ms;	/* monotonic: no call before this */
	struct event *timer;
	char last_error[256];
	uint64_t sent, failed;
	char expected[NET_URI_MAX + 1];	/* the identity its address must prove */
	char mismatch[NET_URI_MAX + 1];	/* "" or the other identity it proved */
	char address[SW_PEER_ADDR_MAX + 1];
	bool rerouting;		/* its queue is being moved to the tree (reroute_write) */
};

#define REROUTE_AFTER	3	/* failures in a row before an on-demand node's queue takes the tree */

/* One Forward in flight: found again by region (the pump may be gone). */
struct fwd {
	struct gw_node *node;
	char region[ADDR_MAX_LEN + 1];
	uint8_t (*ids)[SW_ID_LEN];
	int64_t *deliver_by;	/* each one's delivery deadline (0: none) */
	size_t n;
	uint8_t *resp;
	size_t resp_len;
	/* after the answer */
	uint8_t (*done)[SW_ID_LEN];
	int64_t *done_by;	/* deliver_by of done[i] */
	size_t ndone;
	uint8_t (*refused)[SW_ID_LEN];
	char (*why)[256];
	bool *conflict;		/* refused[i]: the peer holds another message under its id */
	size_t nrefused, nretry;
	size_t removed;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct gw_pump *
pump_of(struct gw_node *node, const char *region)
{
	if (node->sw == NULL)
		return NULL;
	for (size_t i = 0; i < node->sw->npumps; i++)
		if (strcmp(node->sw->pumps[i].region, region) == 0)
			return &node->sw->pumps[i];
	return NULL;
}

static void
fwd_free(struct fwd *f)
{
	free(f->ids);
	free(f->deliver_by);
	free(f->resp);
	free(f->done);
	free(f->done_by);
	free(f->refused);
	free(f->why);
	free(f->conflict);
	free(f);
}

static void pump_try(struct gw_pump *p);
static struct gw_pump *pump_ensure(struct gw_node *node, const char *peer);

/* --- a node reached on demand that does not answer: its queue takes the tree ----------- */

struct reroute {
	char from[ADDR_MAX_LEN + 1];
	char to[ADDR_MAX_LEN + 1];
	size_t moved;
};

/* Moves the oldest batch of from's outbox to to's, each keeping its place in order. */
static int
reroute_write(struct sw_wctx *c, void *arg)
{
	struct reroute *r = arg;
	struct sw_msg m[SW_FORWARD_BATCH];
	size_t n = 0;
	int rc;

	if ((rc = sw_queue_outbox_peek(&c->t, r->from, SW_FORWARD_BATCH, m, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = sw_queue_move(&c->t, m[i].rec.id, SW_STATE_OUTBOX, r->to,
		    NULL, 0, c->now)) == 0)
			r->moved++;
	sw_msgs_free(m, n);
	return rc;
}

static void
reroute_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct reroute *r = arg;
	struct gw_pump *p = pump_of(node, r->from);
	char q[600];

	if (p != NULL)
		p->rerouting = false;
	if (rc != 0)
		net_log(NET_LOG_ERR, "switch_reroute_failed", "peer=%s via=%s error=%s",
		    r->from, r->to, net_log_quote(q, sizeof(q), err, strlen(err)));
	else if (r->moved > 0) {
		net_log(NET_LOG_WARN, "switch_rerouted", "peer=%s via=%s moved=%zu "
		    "reason=\"its axle on demand is down: the queue goes through the "
		    "tree\"", r->from, r->to, r->moved);
		gw_outbox_kick(node, r->to);
		if (p != NULL && r->moved == SW_FORWARD_BATCH)
			pump_try(p);	/* more: the next failure moves them */
	}
	free(r);
}

/*
 * After a failure: a node the register publishes (no [peer]) whose axle is
 * down, while the tree offers another way (gw_peers_next_hop), gets its
 * waiting messages moved to that way. Each message has this node's hop
 * already; the next node takes it as from any child or parent.
 */
static void
pump_reroute(struct gw_pump *p)
{
	struct gw_peer_link *l = gw_peers_find(p->node, p->region);
	char hop[ADDR_MAX_LEN + 1];
	struct reroute *r;

	if (p->rerouting || p->attempt < REROUTE_AFTER || l == NULL || l->configured ||
	    l->state != GW_PEER_DOWN || !gw_peers_next_hop(p->node, p->region, hop) ||
	    strcmp(hop, p->region) == 0 || (r = calloc(1, sizeof(*r))) == NULL)
		return;
	snprintf(r->from, sizeof(r->from), "%s", p->region);
	snprintf(r->to, sizeof(r->to), "%s", hop);
	if (pump_ensure(p->node, hop) == NULL ||
	    gw_submit(p->node, reroute_write, reroute_done, r) != 0) {
		free(r);
		return;
	}
	p->rerouting = true;
}

/* The peer did not take the batch: wait (capped, jittered) and try again. */
static void
pump_backoff(struct gw_pump *p, const char *why)
{
	uint64_t rnd = 0, delay;
	struct timeval tv;
	char q[600];

	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	delay = sw_backoff_delay(SW_RETRY_BASE_MS, SW_RETRY_CAP_MS, p->attempt, rnd);
	if (p->attempt < 64)
		p->attempt++;
	p->failed++;
	p->next_ms = mono_ms() + (int64_t)delay;
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (p->attempt == 1 || p->attempt % 10 == 0)
		net_log(NET_LOG_WARN, "switch_peer_retry", "peer=%s attempt=%u "
		    "delay_ms=%llu error=%s", p->region, p->attempt,
		    (unsigned long long)delay,
		    net_log_quote(q, sizeof(q), why, strlen(why)));	/* may be the peer's words */
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	evtimer_add(p->timer, &tv);
	pump_reroute(p);
}

/* --- after the answer: one write drops what the peer committed -------------- */

static int
fwd_write(struct sw_wctx *c, void *arg)
{
	struct fwd *f = arg;
	int rc;

	if ((rc = sw_queue_outbox_remove(&c->t, f->region,
	    (const uint8_t (*)[SW_QID_LEN])f->done, f->ndone, c->now,
	    &f->removed)) != 0)
		return rc;
	for (size_t i = 0; i < f->removed; i++)
		sw_count(c, SW_EV_FORWARDED);
	for (size_t i = 0; i < f->ndone && f->removed > 0; i++) {
		struct sw_record r;

		/* Only those this very write took out of this outbox. */
		if ((rc = sw_queue_status(&c->t, f->done[i], &r)) != 0 &&
		    rc != SW_Q_NOTFOUND)
			return rc;
		if (rc == 0 && r.state == SW_STATE_FORWARDED && r.updated_ms == c->now &&
		    strcmp(r.where, f->region) == 0 &&
		    (rc = sw_deliver_deadline_end(c, f->done[i], f->done_by[i])) != 0)
			return rc;
	}
	for (size_t i = 0; i < f->nrefused; i++) {
		struct sw_placed out;
		struct sw_env_view v;
		Axle__V1__Envelope *env;
		struct sw_msg m;
		char detail[700];

		rc = sw_queue_get(&c->t, f->refused[i], &m);
		if (rc == SW_Q_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (m.rec.state != SW_STATE_OUTBOX || strcmp(m.rec.where,
		    f->region) != 0 || m.env == NULL ||
		    (env = sw_env_unpack(m.env, m.env_len, NULL, 0)) == NULL) {
			sw_msgs_free(&m, 1);
			continue;
		}
		sw_msgs_free(&m, 1);
		snprintf(detail, sizeof(detail), "node %s refused it: %.300s",
		    f->region, f->why[i]);
		/* Refused under the trust policy: its sender hears why. */
		if (strncmp(f->why[i], "trust: ", 7) == 0 && (rc = sw_receipt(c,
		    env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED, detail,
		    NULL)) != 0) {
			pb_free(&env->base);
			return rc;
		}
		if ((rc = sw_deliver_deadline_end(c, f->refused[i],
		    env->deliver_by_ms)) != 0) {
			pb_free(&env->base);
			return rc;
		}
		rc = sw_policy(c, sw_as_arrived(c, env, &v), f->conflict[i] ?
		    AXLE__V1__CASE_REASON__CASE_REASON_MESSAGE_ID_CONFLICT :
		    AXLE__V1__CASE_REASON__CASE_REASON_MALFORMED, detail,
		    SW_SETTLE_MOVE, NULL, &out);
		pb_free(&env->base);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
fwd_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct fwd *f = arg;
	struct gw_pump *p = pump_of(node, f->region);
	char q[600];

	if (p == NULL) {
		fwd_free(f);
		return;
	}
	p->busy = false;
	if (rc != 0) {
		net_log(NET_LOG_ERR, "switch_outbox_write_failed", "peer=%s error=%s",
		    f->region, net_log_quote(q, sizeof(q), err, strlen(err)));
		pump_backoff(p, err);
	} else if (f->nretry > 0) {
		p->sent += f->removed;
		pump_backoff(p, "peer asked to retry later");
	} else {
		p->sent += f->removed;
		p->attempt = 0;
		p->last_error[0] = '\0';
		pump_try(p);	/* more may be waiting */
	}
	fwd_free(f);
}

/* Sorts the peer's answers: committed or duplicate, refused for good, or later. */
static int
fwd_sort(struct fwd *f, const Axle__V1__ForwardResponse *r, char *why,
    size_t whylen)
{
	if (r->n_results != f->n) {
		snprintf(why, whylen, "peer answered %zu results for %zu envelopes",
		    r->n_results, f->n);
		return -1;
	}
	f->done = calloc(f->n, SW_ID_LEN);
	f->done_by = calloc(f->n, sizeof(*f->done_by));
	f->refused = calloc(f->n, SW_ID_LEN);
	f->why = calloc(f->n, sizeof(*f->why));
	f->conflict = calloc(f->n, sizeof(*f->conflict));
	if (f->done == NULL || f->done_by == NULL || f->refused == NULL ||
	    f->why == NULL ||
	    f->conflict == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < f->n; i++) {
		const Axle__V1__ForwardResult *x = r->results[i];

		if (x->message_id.len != SW_ID_LEN ||
		    memcmp(x->message_id.data, f->ids[i], SW_ID_LEN) != 0) {
			snprintf(why, whylen, "peer's result %zu names another message", i);
			return -1;
		}
		switch (x->outcome) {
		case AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_COMMITTED:
		case AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_DUPLICATE:
			f->done_by[f->ndone] = f->deliver_by[i];
			memcpy(f->done[f->ndone++], f->ids[i], SW_ID_LEN);
			break;
		case AXLE__V1__FORWARD_OUTCOME__FORWARD_OUTCOME_REFUSED:
			if (x->retry) {
				f->nretry++;
				break;
			}
			memcpy(f->refused[f->nrefused], f->ids[i], SW_ID_LEN);
			f->conflict[f->nrefused] = x->id_conflict;
			snprintf(f->why[f->nrefused++], sizeof(f->why[0]), "%s",
			    x->reason != NULL ? x->reason : "");
			break;
		default:
			f->nretry++;	/* an outcome we do not know: keep it */
			break;
		}
	}
	return 0;
}

/*
 * After each call: did the peer's address answer with another node's
 * identity? Told at once (log line; outbox and metrics read the pump),
 * and again when it is put right.
 */
static void
pump_identity(struct gw_pump *p, int status)
{
	struct gw_peer_link *l = gw_peers_find(p->node, p->region);
	const char *seen = l != NULL && l->client != NULL ?
	    net_client_identity_mismatch(l->client) : "";

	if (seen[0] != '\0' && strcmp(seen, p->mismatch) != 0) {
		snprintf(p->mismatch, sizeof(p->mismatch), "%s", seen);
		net_log(NET_LOG_ERR, "switch_peer_identity_mismatch", "peer=%s "
		    "address=%s expected=%s answered=%s hint=\"the address of "
		    "[peer %s] reaches another node: correct it and reload; its "
		    "messages wait, then go to recourse at their delivery "
		    "deadline\"", p->region, p->address, p->expected, seen,
		    p->region);
	} else if (seen[0] == '\0' && p->mismatch[0] != '\0' &&
	    status == GRPC_OK) {
		net_log(NET_LOG_INFO, "switch_peer_identity_ok", "peer=%s address=%s "
		    "identity=%s", p->region, p->address, p->expected);
		p->mismatch[0] = '\0';
	}
}

static void
fwd_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct fwd *f = arg;
	struct gw_pump *p;
	Axle__V1__ForwardResponse *r = NULL;
	char why[300];

	if (!final) {
		free(f->resp);
		f->resp_len = 0;
		if ((f->resp = malloc(len > 0 ? len : 1)) != NULL) {
			memcpy(f->resp, msg, len);
			f->resp_len = len;
		}
		return;
	}
	if ((p = pump_of(f->node, f->region)) == NULL) {
		fwd_free(f);
		return;
	}
	pump_identity(p, status);
	if (status != GRPC_OK || f->resp == NULL) {
		snprintf(why, sizeof(why), "%s: %s", net_grpc_status_name(status),
		    message != NULL ? message : "no answer");
	} else if ((r = PB_UNPACK(Axle__V1__ForwardResponse,
	    axle__v1__forward_response, f->resp, f->resp_len, NET_CLIENT_MAX_MSG,
	    why, sizeof(why))) != NULL && fwd_sort(f, r, why, sizeof(why)) == 0) {
		pb_free(&r->base);
		if (gw_submit(f->node, fwd_write, fwd_done, f) == 0)
			return;
		snprintf(why, sizeof(why), "store refused the write");
		r = NULL;
	}
	pb_free(r != NULL ? &r->base : NULL);
	p->busy = false;
	pump_backoff(p, why);
	fwd_free(f);
}

/* --- sending a batch ------------------------------------------------------------- */

/* Unpacks the stored envelopes into req (at most SW_FORWARD_BYTES, at least one). */
static size_t
batch_build(struct sw_msg *m, size_t n, Axle__V1__Envelope **envs,
    struct fwd *f)
{
	size_t k = 0, bytes = 0;

	for (size_t i = 0; i < n; i++) {
		if (k > 0 && bytes + m[i].env_len > SW_FORWARD_BYTES)
			break;
		if (m[i].env == NULL || (envs[k] = sw_env_unpack(m[i].env,
		    m[i].env_len, NULL, 0)) == NULL)
			break;	/* a corrupt record stops here; logged by the caller */
		memcpy(f->ids[k], m[i].rec.id, SW_ID_LEN);
		f->deliver_by[k] = envs[k]->deliver_by_ms;
		bytes += m[i].env_len;
		k++;
	}
	return k;
}

static void
pump_send(struct gw_pump *p, struct sw_msg *m, size_t n)
{
	Axle__V1__ForwardRequest req = AXLE__V1__FORWARD_REQUEST__INIT;
	Axle__V1__Envelope *envs[SW_FORWARD_BATCH];
	struct fwd *f = calloc(1, sizeof(*f));
	size_t k = 0;
	int rc = -1;

	if (f != NULL && (f->ids = calloc(n, SW_ID_LEN)) != NULL &&
	    (f->deliver_by = calloc(n, sizeof(*f->deliver_by))) != NULL) {
		f->node = p->node;
		snprintf(f->region, sizeof(f->region), "%s", p->region);
		k = batch_build(m, n, envs, f);
		f->n = k;
		req.envelopes = envs;
		req.n_envelopes = k;
		if (k > 0)
			rc = gw_peers_call(p->node, p->region, "/axle.v1.Axle/Forward",
			    &req.base, SW_FORWARD_TIMEOUT_MS, fwd_cb, f);
	}
	for (size_t i = 0; i < k; i++)
		pb_free(&envs[i]->base);
	if (rc == 0) {
		p->busy = true;
		return;
	}
	if (f != NULL)
		fwd_free(f);
	pump_backoff(p, k == 0 && n > 0 ? "a queued envelope does not decode" :
	    "could not start the call");
}

static void
pump_try(struct gw_pump *p)
{
	struct gw_node *node = p->node;
	struct sw_msg m[SW_FORWARD_BATCH];
	struct sw_txn t;
	MDB_txn *txn;
	size_t n = 0;
	int rc;

	if (p->busy || node->sw == NULL || node->sw->stopping ||
	    mono_ms() < p->next_ms)
		return;
	if (gw_store_read_begin(node->store, &txn) != 0)
		return;
	sw_txn_lmdb(node->sw->q, txn, &t);
	rc = sw_queue_outbox_peek(&t, p->region, SW_FORWARD_BATCH, m, &n);
	mdb_txn_abort(txn);
	if (rc != 0) {
		net_log(NET_LOG_ERR, "switch_outbox_read_failed", "peer=%s error=\"%s\"",
		    p->region, sw_queue_strerror(rc));
		return;
	}
	if (n > 0)
		pump_send(p, m, n);
	sw_msgs_free(m, n);
}

static void
pump_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pump_try(arg);
}

/*
 * The pump of peer, made when it is first needed: a configured peer's at
 * start, a node reached on demand when the switch first queues for it (or
 * at start, for what waited in its outbox). NULL when the table is full.
 */
static struct gw_pump *
pump_ensure(struct gw_node *node, const char *peer)
{
	struct sw_switch *sw = node->sw;
	struct gw_peer_link *l;
	struct gw_pump *p = pump_of(node, peer);

	if (p != NULL || sw->npumps == sw->cappumps)
		return p;
	p = &sw->pumps[sw->npumps];
	memset(p, 0, sizeof(*p));
	p->node = node;
	snprintf(p->region, sizeof(p->region), "%s", peer);
	snprintf(p->expected, sizeof(p->expected), "axle://%s/node/%s",
	    node->cfg.federation, p->region);
	if ((l = gw_peers_find(node, peer)) != NULL)
		snprintf(p->address, sizeof(p->address), strchr(l->host, ':') != NULL ?
		    "[%s]:%s" : "%s:%s", l->host, l->port);
	if ((p->timer = evtimer_new(node->base, pump_timer, p)) == NULL)
		return NULL;
	sw->npumps++;
	return p;
}

void
gw_outbox_kick(struct gw_node *node, const char *peer)
{
	struct gw_pump *p;

	if (node->sw == NULL)
		return;
	if (peer != NULL) {
		if ((p = pump_ensure(node, peer)) != NULL)
			pump_try(p);
		else
			net_log(NET_LOG_ERR, "switch_pump_full", "peer=%s pumps=%zu "
			    "action=\"raise [peering] max_links\"", peer,
			    node->sw->npumps);
		return;
	}
	for (size_t i = 0; i < node->sw->npumps; i++)
		pump_try(&node->sw->pumps[i]);
}

int
gw_outbox_start(struct gw_node *node, char *err, size_t errlen)
{
	struct sw_switch *sw = node->sw;

	sw->cappumps = GW_MAX_PEERS + node->cfg.peering.max_links;
	if ((sw->pumps = calloc(sw->cappumps, sizeof(*sw->pumps))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Every node an axle reaches: a restart finds their outboxes moving. */
	for (size_t i = 0; i < gw_peers_count(node); i++) {
		struct gw_peer_link *l = gw_peers_at(node, i);

		if (gw_peers_find(node, l->region) == l &&
		    pump_ensure(node, l->region) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

void
gw_outbox_stop(struct gw_node *node)
{
	struct sw_switch *sw = node->sw;

	for (size_t i = 0; i < sw->npumps; i++)
		event_free(sw->pumps[i].timer);
	free(sw->pumps);
	sw->pumps = NULL;
	sw->npumps = 0;
}

size_t
gw_outbox_info(struct gw_node *node, struct sw_pump_info *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; node->sw != NULL && i < node->sw->npumps && n < max; i++) {
		const struct gw_pump *p = &node->sw->pumps[i];

		out[n].region = p->region;
		out[n].attempt = p->attempt;
		out[n].next_ms = p->next_ms > mono_ms() ? p->next_ms - mono_ms() : 0;
		out[n].busy = p->busy;
		out[n].last_error = p->last_error;
		out[n].sent = p->sent;
		out[n].failed = p->failed;
		out[n].expected = p->expected;
		out[n].mismatch = p->mismatch;
		snprintf(out[n].address, sizeof(out[n].address), "%s", p->address);
		n++;
	}
	return n;
}
