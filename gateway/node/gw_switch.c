/* gw_switch.c -- the switch inside the node: start and stop, writes and wake-ups, timers, metrics, and what other modules ask of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/gw_trust.h"
#include "gateway/node/peers.h"
#include "gateway/node/gw_registry.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"
#include "gateway/switch/sw_core.h"
#include "proto/pb.h"

#define DEADLINE_BATCH	64
#define STATS_MAX	256
#define SWEEP_STEP	16	/* queues the held sweep looks at a second */

/*
 * Registrars whose mailbox or held series this node has written keep it, 0
 * once the queue empties: a series that vanishes at zero reads as "no data",
 * not as empty. At most STATS_MAX names a family (the first seen), until
 * the node stops.
 */
enum { SHOWN_MAILBOX, SHOWN_HELD, SHOWN__COUNT };
struct gw_shown {
	char (*name)[SW_NAME_MAX + 1];
	size_t n;
};

int64_t
gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- writes ------------------------------------------------------------------ */

struct gw_job {
	struct gw_node *node;
	struct sw_tally tally;
	gw_job_fn fn;
	gw_job_done done;
	void *arg;
	char err[320];
};

static int
job_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct gw_job *j = arg;
	struct sw_wctx c;
	int rc;

	(void)st;
	memset(&j->tally, 0, sizeof(j->tally));
	j->err[0] = '\0';
	sw_wctx_init(&c, &j->node->sw->ctx, txn, gw_now_ms(), &j->tally);
	rc = j->fn(&c, j->arg);
	if (rc != 0) {
		memset(&j->tally, 0, sizeof(j->tally));
		snprintf(j->err, sizeof(j->err), "%s", c.err[0] ? c.err :
		    sw_queue_strerror(rc));
	}
	return rc;
}

static void
job_done(int rc, void *arg)
{
	struct gw_job *j = arg;

	if (rc == 0 && j->node->sw != NULL)
		gw_tally_apply(j->node, &j->tally);
	if (rc != 0 && j->err[0] == '\0')
		snprintf(j->err, sizeof(j->err), "store: %s", gw_store_strerror(rc));
	j->done(j->node, rc, j->err, j->arg);
	free(j);
}

static int
gw_enqueue(struct gw_node *node, gw_job_fn fn, gw_job_done done, void *arg,
    int is_new)
{
	struct gw_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return ENOMEM;
	j->node = node;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	/* Every switch job's fn sets its outputs afresh (job_write the tally). */
	rc = gw_store_submitf(node->store, STORE_REPLAYABLE | (is_new ? STORE_NEW : 0),
	    job_write, job_done, j);
	if (rc != 0)
		free(j);
	return rc;
}

int
gw_submit(struct gw_node *node, gw_job_fn fn, gw_job_done done, void *arg)
{
	return gw_enqueue(node, fn, done, arg, 0);
}

int
gw_submit_new(struct gw_node *node, gw_job_fn fn, gw_job_done done, void *arg)
{
	return gw_enqueue(node, fn, done, arg, 1);
}

/* --- wake-ups ------------------------------------------------------------------- */

void
gw_tally_apply(struct gw_node *node, const struct sw_tally *t)
{
	struct sw_switch *sw = node->sw;

	if (sw == NULL)
		return;
	for (int e = 0; e < SW_EV__COUNT; e++)
		if (t->ev[e] != 0)
			atomic_fetch_add(&sw->ev[e], t->ev[e]);
	for (int r = 0; r < SW_REFUSE__COUNT; r++)
		if (t->refused[r] != 0)
			atomic_fetch_add(&sw->refused[r], t->refused[r]);
	if (t->all_peers)
		sw->pending.all_peers = true;
	for (size_t i = 0; i < t->npeers; i++)
		sw_touch_peer(&sw->pending, t->peers[i]);
	if (t->all_boxes)
		sw->pending.all_boxes = true;
	for (size_t i = 0; i < t->nboxes; i++)
		sw_touch_box(&sw->pending, t->boxes[i]);
	if (t->npeers > 0 || t->nboxes > 0 || t->all_peers || t->all_boxes)
		event_active(sw->kick, 0, 0);
}

static size_t
pumps_info(struct gw_node *node, struct sw_pump_info *pi, size_t max)
{
	if (node->sw == NULL || node->sw->pumps_info == NULL)
		return 0;
	return node->sw->pumps_info(node, pi, max);
}

static void
wake_peer(struct gw_node *node, const char *peer)
{
	if (node->sw->wake_peer != NULL)
		node->sw->wake_peer(node, peer);
}

static void
wake_box(struct gw_node *node, const char *box)
{
	if (node->sw->wake_box != NULL)
		node->sw->wake_box(node, box);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_node *node = arg;
	struct sw_tally p;

	(void)fd, (void)what;
	if (node->sw == NULL)
		return;
	p = node->sw->pending;
	memset(&node->sw->pending, 0, sizeof(node->sw->pending));
	if (p.all_peers)
		wake_peer(node, NULL);
	else
		for (size_t i = 0; i < p.npeers; i++)
			wake_peer(node, p.peers[i]);
	if (p.all_boxes)
		wake_box(node, NULL);
	else
		for (size_t i = 0; i < p.nboxes; i++)
			wake_box(node, p.boxes[i]);
}

void
gw_switch_wake_peer(struct gw_node *node, const char *peer)
{
	if (node->sw != NULL && peer != NULL)
		wake_peer(node, peer);
}

void
gw_switch_kick(struct gw_node *node)
{
	if (node->sw == NULL)
		return;
	node->sw->pending.all_peers = true;
	node->sw->pending.all_boxes = true;
	event_active(node->sw->kick, 0, 0);
}

/* --- deadlines -------------------------------------------------------------------- */

struct dl_job {
	struct sw_deadline d[DEADLINE_BATCH];
	size_t n;
	struct sw_peer_trouble *pt;	/* peers answering as another node (malloc'd) */
	size_t npt;
};

static void
dl_free(struct dl_job *j)
{
	free(j->pt);
	free(j);
}

static int
dl_write(struct sw_wctx *c, void *arg)
{
	struct dl_job *j = arg;

	return sw_deadlines_run(c, j->d, j->n, j->pt, j->npt);
}

/* The pumps' view of their peers' identities, for the writer thread. */
static void
dl_trouble(struct gw_node *node, struct dl_job *j)
{
	struct sw_pump_info pi[GW_MAX_PEERS];
	size_t np = pumps_info(node, pi, GW_MAX_PEERS);

	for (size_t i = 0; i < np; i++) {
		struct sw_peer_trouble *t;

		if (pi[i].mismatch[0] == '\0')
			continue;
		if (j->pt == NULL && (j->pt = calloc(np, sizeof(*j->pt))) == NULL)
			return;		/* the plain DELIVERY_DEADLINE case */
		t = &j->pt[j->npt];
		snprintf(t->region, sizeof(t->region), "%s", pi[i].region);
		snprintf(t->address, sizeof(t->address), "%s", pi[i].address);
		snprintf(t->expected, sizeof(t->expected), "%s", pi[i].expected);
		snprintf(t->answered, sizeof(t->answered), "%s", pi[i].mismatch);
		j->npt++;
	}
}

static void deadlines_check(struct gw_node *node);

/*
 * A full batch done: more may be due (a retention backlog, say), so the
 * next batch is looked up at once rather than at the next tick. Each
 * batch is one bounded write; the writer interleaves them with traffic.
 */
static void
dl_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct dl_job *j = arg;
	bool full = rc == 0 && j->n == DEADLINE_BATCH;

	if (node->sw != NULL)
		node->sw->deadline_busy = false;
	if (rc != 0)
		net_log(NET_LOG_WARN, "switch_deadlines_failed", "count=%zu error=\"%s\"",
		    j->n, err);
	dl_free(j);
	if (full && node->sw != NULL && !node->sw->stopping)
		deadlines_check(node);
}

static void
deadlines_check(struct gw_node *node)
{
	struct sw_switch *sw = node->sw;
	struct dl_job *j;
	struct sw_txn t;
	MDB_txn *txn;
	int rc;

	if (sw->deadline_busy || (j = calloc(1, sizeof(*j))) == NULL)
		return;
	if (gw_store_read_begin(node->store, &txn) != 0) {
		free(j);
		return;
	}
	sw_txn_lmdb(sw->q, txn, &t);
	rc = sw_deadline_due(&t, gw_now_ms(), j->d, DEADLINE_BATCH, &j->n);
	if (rc == 0 && j->n < DEADLINE_BATCH) {	/* then retention, in the room left */
		size_t k = 0;

		rc = sw_retention_due(&t, gw_now_ms(), j->d + j->n,
		    DEADLINE_BATCH - j->n, &k);
		j->n += k;
	}
	mdb_txn_abort(txn);
	if (rc != 0 || j->n == 0) {
		free(j);
		return;
	}
	dl_trouble(node, j);
	sw->deadline_busy = true;
	if (gw_submit(node, dl_write, dl_done, j) != 0) {
		sw->deadline_busy = false;
		dl_free(j);
	}
}

static void held_sweep(struct gw_node *node);
static int reg_submit(struct gw_node *node, const Axle__V1__Registrar *r,
    bool sweep);

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static unsigned ticks;
	struct gw_node *node = arg;

	(void)fd, (void)what;
	if (node->sw == NULL)
		return;
	deadlines_check(node);
	/* Redeliveries after a visibility timeout, and pumps left idle. */
	if (++ticks % 5 == 0 || node->draining) {
		wake_box(node, NULL);
		wake_peer(node, NULL);
		held_sweep(node);
	}
}

/* --- start and stop ------------------------------------------------------------------ */

struct switch_open_arg {
	struct gw_node *node;
	size_t backfilled;
	bool counted;		/* queue counters built from the queues (an upgrade) */
	char err[256];
};

/*
 * Opens the queues with the configured hold limit, builds the queues'
 * counters if the store has none yet (an upgrade), and gives messages held
 * before there was a hold limit their hold deadline (an upgrade), in one
 * write.
 */
static int
open_queues(MDB_txn *txn, struct store *st, void *arg)
{
	struct switch_open_arg *oa = arg;
	struct sw_txn t;
	int rc = sw_queue_lmdb_open(gw_store_env(st), txn, &oa->node->sw->q,
	    oa->err, sizeof(oa->err));

	if (rc != 0)
		return rc;
	oa->node->sw->q->hold_limit_ms = oa->node->cfg.sw.hold_limit_ms;
	oa->node->sw->q->record_retention_ms = oa->node->cfg.sw.record_retention_ms;
	oa->node->sw->q->dedup_retention_ms = oa->node->cfg.sw.dedup_retention_ms;
	sw_txn_lmdb(oa->node->sw->q, txn, &t);
	if ((rc = sw_queue_counters_open(&t, &oa->counted)) != 0)
		snprintf(oa->err, sizeof(oa->err), "queue counters: %s",
		    sw_queue_strerror(rc));
	else if ((rc = sw_queue_hold_backfill(&t, SIZE_MAX, &oa->backfilled)) != 0)
		snprintf(oa->err, sizeof(oa->err), "hold deadlines: %s",
		    sw_queue_strerror(rc));
	return rc;
}


static bool
ctx_next_hop(struct gw_node *node, const char *region, char *hop)
{
	return gw_peers_next_hop(node, region, hop);
}

int
gw_switch_open(struct gw_node *node, char *err, size_t errlen)
{
	struct timeval tv = { 0, SW_TICK_MS * 1000 };
	struct switch_open_arg oa = { .node = node };
	struct sw_switch *sw;
	int rc;

	if ((sw = node->sw = calloc(1, sizeof(*sw))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sw->ctx = (struct sw_ctx){
		.region = node->cfg.region,
		.db = node->registry != NULL ? &node->registry->db : NULL,
		.sw = sw,
		.next_hop = ctx_next_hop,
		.open_case = gw_recourse_open_txn,
		.sign_hop = gw_trust_sign_hop,
		.node = node,
	};
	sw->lim.max_payload = node->cfg.sw.max_payload;
	sw->lim.default_hop_limit = SW_HOP_LIMIT_DEFAULT;
	sw->lim.default_deliver_by_ms = node->cfg.sw.default_deliver_by_ms;
	if ((rc = gw_store_write_now(node->store, open_queues, &oa)) != 0) {
		snprintf(err, errlen, "opening the switch queues: %s",
		    oa.err[0] ? oa.err : gw_store_strerror(rc));
		gw_switch_close(node);
		return -1;
	}
	if (oa.counted)
		net_log(NET_LOG_INFO, "switch_counters_built", "layout=%d",
		    SW_COUNTS_LAYOUT);
	if (oa.backfilled > 0)
		net_log(NET_LOG_INFO, "switch_hold_backfilled", "count=%zu "
		    "hold_limit_ms=%u", oa.backfilled, node->cfg.sw.hold_limit_ms);
	sw->tick = event_new(node->base, -1, EV_PERSIST, tick_cb, node);
	sw->kick = event_new(node->base, -1, 0, kick_cb, node);
	if (sw->tick == NULL || sw->kick == NULL || evtimer_add(sw->tick, &tv) != 0) {
		snprintf(err, errlen, "out of memory");
		gw_switch_close(node);
		return -1;
	}
	return 0;
}

void
gw_switch_close(struct gw_node *node)
{
	struct sw_switch *sw = node->sw;

	if (sw == NULL)
		return;
	sw->stopping = true;
	if (sw->tick != NULL)
		event_free(sw->tick);
	if (sw->kick != NULL)
		event_free(sw->kick);
	sw_queue_close(sw->q);
	for (int i = 0; sw->shown != NULL && i < SHOWN__COUNT; i++)
		free(sw->shown[i].name);
	free(sw->shown);
	free(sw);
	node->sw = NULL;
}

uint64_t
gw_switch_outbox_count(struct gw_node *node, const char *region)
{
	struct sw_queue_stat st;
	struct sw_txn t;
	MDB_txn *txn;

	if (node->sw == NULL || node->store == NULL ||
	    gw_store_read_begin(node->store, &txn) != 0)
		return 0;
	sw_txn_lmdb(node->sw->q, txn, &t);
	if (sw_queue_stat_one(&t, SW_QS_OUTBOX, region, &st) != 0)
		st.count = 0;
	mdb_txn_abort(txn);
	return st.count;
}

uint64_t
gw_switch_waiting_txn(struct gw_node *node, MDB_txn *txn, const char *registrar)
{
	static const enum sw_qstore which[] = { SW_QS_MAILBOX, SW_QS_HELD };
	struct sw_queue_stat st;
	struct sw_txn t;
	uint64_t n = 0;

	if (node->sw == NULL)
		return 0;
	sw_txn_lmdb(node->sw->q, txn, &t);
	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++)
		if (sw_queue_stat_one(&t, which[i], registrar, &st) == 0)
			n += st.count;
	return n;
}

/* --- metrics -------------------------------------------------------------------------- */

static int
stat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sw_queue_stat *)a)->name,
	    ((const struct sw_queue_stat *)b)->name);
}

/*
 * name has no summary in st[0..n): its queue is empty. st sorted by name
 * (stat_cmp): a binary search, not a walk.
 */
static bool
queue_empty(const char *name, const struct sw_queue_stat *st, size_t n)
{
	struct sw_queue_stat key;

	if (n == 0)
		return true;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, st, n, sizeof(*st), stat_cmp) == NULL;
}

/*
 * Writes 0 for each name shown before whose queue is now empty; remembers
 * new names, keeping s->name sorted. st[0..n) sorted by name. Both lookups
 * are binary searches: a scrape over STATS_MAX queues costs n log n, not n^2.
 */
static void
shown_zeros(struct gw_shown *s, struct evbuffer *out, const char *family,
    const char *label, const struct sw_queue_stat *st, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (queue_empty(s->name[i], st, n))
			evbuffer_add_printf(out, "%s{%s=\"%s\"} 0\n", family, label,
			    s->name[i]);
	for (size_t k = 0; k < n && s->n < STATS_MAX; k++) {
		size_t lo = 0, hi = s->n;

		while (lo < hi) {		/* first name >= st[k].name */
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(s->name[mid], st[k].name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < s->n && strcmp(s->name[lo], st[k].name) == 0)
			continue;
		if (s->name == NULL &&
		    (s->name = calloc(STATS_MAX, sizeof(*s->name))) == NULL)
			return;
		if (lo < s->n)
			memmove(s->name[lo + 1], s->name[lo],
			    (s->n - lo) * sizeof(*s->name));
		memcpy(s->name[lo], st[k].name, sizeof(st[k].name));
		s->n++;
	}
}

/*
 * One gauge family over the queues of store which: every configured peer
 * (outboxes) or every registrar shown before (shown, mailboxes and held)
 * has a series, 0 when nothing waits, so that none vanishes at zero.
 */
static void
metrics_queue(struct gw_node *node, struct evbuffer *out, struct sw_txn *t,
    enum sw_qstore which, struct gw_shown *shown, const char *family,
    const char *label, const char *help, int64_t now)
{
	struct sw_queue_stat *st = calloc(STATS_MAX, sizeof(*st));
	size_t n = 0;
	/* Without the summaries nothing is known: no series, rather than zeros. */
	bool known = st != NULL &&
	    sw_queue_stats(t, which, NULL, st, STATS_MAX, &n) == 0;

	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", family, help,
	    family);
	if (!known)
		n = 0;
	if (n > STATS_MAX)
		n = STATS_MAX;
	if (n > 1)
		qsort(st, n, sizeof(*st), stat_cmp);	/* for queue_empty's bsearch */
	for (size_t i = 0; known && which == SW_QS_OUTBOX && i < node->cfg.npeers; i++)
		if (queue_empty(node->cfg.peers[i].region, st, n))
			evbuffer_add_printf(out, "%s{%s=\"%s\"} 0\n", family, label,
			    node->cfg.peers[i].region);
	if (known && shown != NULL)
		shown_zeros(shown, out, family, label, st, n);
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(out, "%s{%s=\"%s\"} %llu\n", family, label,
		    st[k].name, (unsigned long long)st[k].count);
	if (which == SW_QS_OUTBOX) {
		struct sw_pump_info pi[GW_MAX_PEERS];
		size_t np = pumps_info(node, pi, GW_MAX_PEERS);

		evbuffer_add_printf(out, "# HELP axle_switch_outbox_identity_mismatch "
		    "1 while the address of a [peer] answers with another node's "
		    "identity (crossed peers).\n# TYPE "
		    "axle_switch_outbox_identity_mismatch gauge\n");
		for (size_t i = 0; i < np; i++)
			evbuffer_add_printf(out, "axle_switch_outbox_identity_mismatch"
			    "{peer=\"%s\"} %d\n", pi[i].region,
			    pi[i].mismatch[0] != '\0');
		evbuffer_add_printf(out, "# HELP axle_switch_outbox_oldest_seconds "
		    "Age of the oldest message waiting for a peer.\n"
		    "# TYPE axle_switch_outbox_oldest_seconds gauge\n");
		for (size_t i = 0; known && i < node->cfg.npeers; i++)
			if (queue_empty(node->cfg.peers[i].region, st, n))
				evbuffer_add_printf(out, "axle_switch_outbox_oldest_seconds"
				    "{peer=\"%s\"} 0\n", node->cfg.peers[i].region);
		for (size_t k = 0; k < n; k++)
			evbuffer_add_printf(out, "axle_switch_outbox_oldest_seconds"
			    "{peer=\"%s\"} %.3f\n", st[k].name,
			    (double)(now - st[k].oldest_ms) / 1000.0);
	}
	free(st);
}

static const char *
ev_label(int i)
{
	return sw_event_name((enum sw_event)i);
}

static const char *
refusal_label(int i)
{
	return sw_refusal_name((enum sw_refusal)i);
}

/* A counter family with one series per value of label (label_of(0..n)). */
static void
counter_family(struct evbuffer *out, const char *name, const char *help,
    const char *label, const char *(*label_of)(int), _Atomic uint64_t *v,
    int n)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help,
	    name);
	for (int i = 0; i < n; i++)
		evbuffer_add_printf(out, "%s{%s=\"%s\"} %llu\n", name, label,
		    label_of(i), (unsigned long long)atomic_load(&v[i]));
}

void
gw_switch_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct sw_switch *sw = node->sw;
	struct sw_counts cnt = { 0 };
	int64_t now = gw_now_ms();
	struct sw_txn t;
	MDB_txn *txn;

	counter_family(out, "axle_switch_messages_total", "Switch events at this "
	    "node, by kind.", "event", ev_label, sw->ev, SW_EV__COUNT);
	counter_family(out, "axle_switch_refused_total", "Messages refused under "
	    "the trust policy, by reason.", "reason", refusal_label, sw->refused,
	    SW_REFUSE__COUNT);
	if (gw_store_read_begin(node->store, &txn) != 0)
		return;
	if (sw->shown == NULL)
		sw->shown = calloc(SHOWN__COUNT, sizeof(*sw->shown));
	sw_txn_lmdb(sw->q, txn, &t);
	metrics_queue(node, out, &t, SW_QS_OUTBOX, NULL, "axle_switch_outbox",
	    "peer", "Messages waiting for a peer node.", now);
	metrics_queue(node, out, &t, SW_QS_MAILBOX, sw->shown ?
	    &sw->shown[SHOWN_MAILBOX] : NULL, "axle_switch_mailbox", "registrar",
	    "Messages in a registrar's mailbox (fetched or not).", now);
	metrics_queue(node, out, &t, SW_QS_HELD, sw->shown ?
	    &sw->shown[SHOWN_HELD] : NULL, "axle_switch_held_by_registrar",
	    "registrar", "Messages held for a suspended registrar.", now);
	if (sw_queue_counts(&t, &cnt) == 0) {
		evbuffer_add_printf(out, "# HELP axle_switch_held Messages held "
		    "for suspended registrars.\n# TYPE axle_switch_held gauge\n"
		    "axle_switch_held %llu\n", (unsigned long long)cnt.held);
		evbuffer_add_printf(out, "# HELP axle_switch_records Message "
		    "records kept (any state).\n# TYPE axle_switch_records gauge\n"
		    "axle_switch_records %llu\n", (unsigned long long)cnt.msgs);
		evbuffer_add_printf(out, "# HELP axle_switch_retention_pending "
		    "Ended messages whose record or de-duplication mark awaits "
		    "deletion.\n# TYPE axle_switch_retention_pending gauge\n"
		    "axle_switch_retention_pending %llu\n",
		    (unsigned long long)cnt.expiry);
		evbuffer_add_printf(out, "# HELP axle_switch_dedup_marks Message "
		    "ids remembered for de-duplication.\n# TYPE "
		    "axle_switch_dedup_marks gauge\naxle_switch_dedup_marks %llu\n",
		    (unsigned long long)cnt.dedup);
		evbuffer_add_printf(out, "# HELP axle_switch_deadlines Delivery, "
		    "reply and hold deadlines pending.\n# TYPE axle_switch_deadlines "
		    "gauge\naxle_switch_deadlines %llu\n",
		    (unsigned long long)cnt.deadlines);
	}
	mdb_txn_abort(txn);
}

/* --- what other modules ask ---------------------------------------------------------- */

static int
grpc_of(int rc)
{
	return rc == SW_Q_EINVAL ? GRPC_INVALID_ARGUMENT : gw_store_rc_grpc_status(rc);
}

static bool
id_ok(const Axle__V1__Envelope *env, char *err, size_t errlen)
{
	if (env != NULL && env->message_id.len == SW_ID_LEN)
		return true;
	snprintf(err, errlen, "message_id: not 16 bytes");
	return false;
}

int
gw_switch_inject_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *case_id, int64_t now_ms,
    char *err, size_t errlen)
{
	Axle__V1__Envelope renewed;
	struct sw_record rec;
	struct sw_placed out;
	struct sw_env_view v;
	struct sw_route rt;
	struct sw_wctx c;
	int rc, st = GRPC_OK;

	if (!id_ok(env, err, errlen))
		return GRPC_INVALID_ARGUMENT;
	/*
	 * An admin's redirect is a new attempt: a delivery deadline that has
	 * passed (often why the case was opened) starts again from now.
	 */
	if (env->deliver_by_ms != 0 && env->deliver_by_ms <= now_ms &&
	    node->sw->lim.default_deliver_by_ms > 0) {
		renewed = *env;
		renewed.deliver_by_ms = now_ms + node->sw->lim.default_deliver_by_ms;
		env = &renewed;
	}
	sw_wctx_init(&c, &node->sw->ctx, txn, now_ms, NULL);
	/* A new journey from here: this node's hop names the case. */
	sw_view_init(&v, env);
	/*
	 * Its recipient (and perhaps its deadline) changed: the hub's
	 * signature no longer covers it. This node's signed hop, naming the
	 * case, vouches for the new journey (docs/protocol.md "Signed
	 * envelopes").
	 */
	v.env.signature = NULL;
	if (sw_hop_append(&node->sw->ctx, &v, now_ms, case_id) != 0) {
		sw_view_release(&v);
		snprintf(err, errlen, "out of memory");
		return GRPC_RESOURCE_EXHAUSTED;
	}
	env = &v.env;
	if ((rc = sw_route_only(&c, env, &rt)) != 0) {
		snprintf(err, errlen, "%s", c.err);
		st = grpc_of(rc);
	} else if (rt.kind == SW_ROUTE_RECOURSE) {
		snprintf(err, errlen, "%s", rt.reason);
		st = GRPC_FAILED_PRECONDITION;
	} else if ((rc = sw_queue_status(&c.t, env->message_id.data, &rec)) != 0 &&
	    rc != SW_Q_NOTFOUND) {
		snprintf(err, errlen, "record: %s", sw_queue_strerror(rc));
		st = grpc_of(rc);
	} else if ((rc = sw_place(&c, env, rc == 0, &out)) != 0 ||
	    (rc = sw_receipt(&c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REDIRECTED,
	    out.detail, case_id)) != 0) {
		snprintf(err, errlen, "%s", c.err);
		st = grpc_of(rc);
	} else {
		snprintf(err, errlen, "%s", out.detail);
	}
	sw_view_release(&v);
	return st;
}

/* Ends this node's custody of env as `state` (recorded, new or moved). */
static int
custody_end(struct sw_wctx *c, const Axle__V1__Envelope *env,
    enum sw_state state, const char *where)
{
	struct sw_record rec;
	int rc = sw_queue_status(&c->t, env->message_id.data, &rec);

	if (rc == 0)
		rc = sw_queue_move(&c->t, env->message_id.data, state, where, NULL, 0,
		    c->now);
	else if (rc == SW_Q_NOTFOUND)
		rc = sw_queue_accept(&c->t, env->message_id.data, NULL, 0, state,
		    where, c->now);
	return rc;
}

static int
end_txn(struct gw_node *node, MDB_txn *txn, const Axle__V1__Envelope *env,
    bool ret, const char *reason, const char *case_id, int64_t now_ms,
    char *err, size_t errlen)
{
	struct sw_placed out;
	struct sw_wctx c;
	int rc;

	if (!id_ok(env, err, errlen))
		return GRPC_INVALID_ARGUMENT;
	sw_wctx_init(&c, &node->sw->ctx, txn, now_ms, NULL);
	memset(&out, 0, sizeof(out));
	if ((rc = sw_end(&c, env, ret, reason != NULL ? reason : "", case_id,
	    SW_SETTLE_MOVE, NULL, &out)) != 0) {
		snprintf(err, errlen, "%s", c.err[0] ? c.err : sw_queue_strerror(rc));
		return grpc_of(rc);
	}
	return GRPC_OK;
}

int
gw_switch_return_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *reason, const char *case_id,
    int64_t now_ms, char *err, size_t errlen)
{
	return end_txn(node, txn, env, true, reason, case_id, now_ms, err, errlen);
}

int
gw_switch_discard_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *reason, const char *case_id,
    int64_t now_ms, char *err, size_t errlen)
{
	return end_txn(node, txn, env, false, reason, case_id, now_ms, err, errlen);
}

int
gw_switch_note_recourse_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *case_id, int64_t now_ms,
    char *err, size_t errlen)
{
	struct sw_wctx c;
	char where[SW_WHERE_MAX + 1];
	int rc;

	if (!id_ok(env, err, errlen))
		return GRPC_INVALID_ARGUMENT;
	if (case_id == NULL || case_id[0] == '\0') {
		snprintf(err, errlen, "case_id: empty");
		return GRPC_INVALID_ARGUMENT;
	}
	sw_wctx_init(&c, &node->sw->ctx, txn, now_ms, NULL);
	snprintf(where, sizeof(where), "%.*s", SW_WHERE_MAX, case_id);
	if ((rc = custody_end(&c, env, SW_STATE_RECOURSE, where)) != 0 ||
	    (rc = sw_receipt(&c, env, AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_ESCALATED,
	    "in recourse", case_id)) != 0) {
		snprintf(err, errlen, "%s", c.err[0] ? c.err : sw_queue_strerror(rc));
		return grpc_of(rc);
	}
	sw_count(&c, SW_EV_ESCALATED);
	return GRPC_OK;
}

int
gw_switch_registrar_changed_txn(struct gw_node *node, MDB_txn *txn,
    const char *registrar_id, Axle__V1__RegistrarStatus status,
    const char *successor_id, int64_t now_ms, uint64_t *moved, char *err,
    size_t errlen)
{
	struct sw_wctx c;
	size_t k = 0;
	int rc;

	*moved = 0;
	if (node->sw == NULL || registrar_id == NULL || registrar_id[0] == '\0')
		return GRPC_OK;
	sw_wctx_init(&c, &node->sw->ctx, txn, now_ms, NULL);
	if ((rc = sw_registrar_txn(&c, registrar_id, status, successor_id, &k)) != 0) {
		snprintf(err, errlen, "%s", c.err);
		return grpc_of(rc);
	}
	*moved = k;
	return GRPC_OK;
}

struct reg_job {
	char id[ADDR_MAX_LEN + 1];
	char successor[ADDR_MAX_LEN + 1];
	Axle__V1__RegistrarStatus status;
	size_t moved;
	bool sweep;
};

/*
 * The registrar's standing as it is in this very write (it may have
 * changed since the job was submitted: a sweep must not release into, or
 * hold from, a standing that is no longer the registrar's).
 */
static int
reg_write(struct sw_wctx *c, void *arg)
{
	struct reg_job *j = arg;
	int rc = sw_registrar_get(c->x, c->txn, j->id, &j->status,
	    j->successor, sizeof(j->successor));

	if (rc != 0) {
		snprintf(c->err, sizeof(c->err), "register: %s", gw_store_strerror(rc));
		return rc;
	}
	/* Not in the register (UNSPECIFIED): nothing of it to move. */
	return sw_registrar_txn(c, j->id, j->status, j->successor, &j->moved);
}

static void
reg_done(struct gw_node *node, int rc, const char *err, void *arg)
{
	struct reg_job *j = arg;

	if (node->sw != NULL && j->sweep)
		node->sw->sweeps--;
	if (rc != 0)
		net_log(NET_LOG_ERR, "switch_registrar_failed", "registrar=%s error=\"%s\"",
		    j->id, err);
	else if (j->moved > 0)
		net_log(NET_LOG_INFO, "switch_registrar", "registrar=%s moved=%zu "
		    "status=%d", j->id, j->moved, (int)j->status);
	(void)node;
	free(j);
}

/*
 * Would a standing write move registrar r's held queue (held) or mailbox
 * (!held) now? Held: r is active again, or revoked and re-homed to a
 * successor that takes traffic (active, or suspended: held there). A
 * mailbox: r is suspended or revoked (held, or moved to its successor).
 */
static bool
sweep_due(struct gw_node *node, MDB_txn *txn, const Axle__V1__Registrar *r,
    bool held)
{
	Axle__V1__RegistrarStatus sst;
	bool rehomed = false;

	if (r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED &&
	    r->successor_id != NULL && r->successor_id[0] != '\0' &&
	    sw_registrar_get(&node->sw->ctx, txn, r->successor_id, &sst, NULL, 0) == 0)
		rehomed = sw_takes_traffic(sst);
	if (r->moved_to != NULL && r->moved_to[0] != '\0')
		return true;	/* split off: what is left here goes to its region */
	if (held)
		return r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE ||
		    rehomed;
	return r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED ||
	    r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED;
}

/*
 * Submits a standing write for each of up to SWEEP_STEP queues of store
 * which (held or mailboxes), from the name after cursor on, that sweep_due
 * says must move; cursor then names the last one looked at, or is "" once
 * the last queue was (the next step starts again from the first). Reads
 * the queues' counters, never their messages. False if they could not be
 * read or a write not submitted.
 */
static bool
sweep_store(struct gw_node *node, MDB_txn *txn, struct sw_txn *t,
    enum sw_qstore which, char *cursor)
{
	struct sw_queue_stat st[SWEEP_STEP];
	size_t n = 0;
	bool ok = true;

	if (sw_queue_stats(t, which, cursor, st, SWEEP_STEP, &n) != 0)
		return false;
	cursor[0] = '\0';
	if (n > SWEEP_STEP) {
		n = SWEEP_STEP;
		memcpy(cursor, st[n - 1].name, sizeof(st[n - 1].name));
	}
	for (size_t i = 0; i < n; i++) {
		struct registry_outcome o = { 0 };
		Axle__V1__Registrar *r = NULL;

		if (registry_db_get(txn, &node->registry->db, NULL, st[i].name, &r,
		    &o) != REGISTRY_OK)
			continue;
		if (r->region != NULL && r->region[0] != '\0' &&
		    strcmp(r->region, node->cfg.region) != 0) {
			pb_free(&r->base);	/* mirrored: its node holds its traffic */
			continue;
		}
		if (sweep_due(node, txn, r, which == SW_QS_HELD)) {
			if (reg_submit(node, r, true) == 0)
				node->sw->sweeps++;
			else
				ok = false;
		}
		pb_free(&r->base);
	}
	return ok;
}

/*
 * Held messages whose registrar is active again (or re-homed) but were not
 * released -- the registry's call after its commit is not in the same
 * transaction, so a crash between the two, or a missed call, would leave
 * them held: each second, SWEEP_STEP held queues (usually none), taken in
 * turn, are compared with the register and released where due. After
 * start, the mailboxes too, SWEEP_STEP a second until each was looked at
 * once: one of a suspended or revoked registrar (left by a version that
 * did not hold a revoked registrar's mailbox) is held or re-homed, so that
 * nothing waits where nobody may fetch it.
 */
static void
held_sweep(struct gw_node *node)
{
	struct sw_switch *sw = node->sw;
	struct sw_txn t;
	MDB_txn *txn;

	if (sw->sweeps > 0 || gw_store_read_begin(node->store, &txn) != 0)
		return;
	sw_txn_lmdb(sw->q, txn, &t);
	(void)sweep_store(node, txn, &t, SW_QS_HELD, sw->held_cursor);
	if (!sw->mailboxes_swept && sweep_store(node, txn, &t, SW_QS_MAILBOX,
	    sw->box_cursor) && sw->box_cursor[0] == '\0')
		sw->mailboxes_swept = true;
	mdb_txn_abort(txn);
}

static int
reg_submit(struct gw_node *node, const Axle__V1__Registrar *r, bool sweep)
{
	struct reg_job *j;

	if (node->sw == NULL || r == NULL || r->id == NULL ||
	    (r->region != NULL && r->region[0] != '\0' &&
	    strcmp(r->region, node->cfg.region) != 0))
		return -1;	/* a mirrored record: its node holds its traffic */
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	snprintf(j->id, sizeof(j->id), "%s", r->id);
	snprintf(j->successor, sizeof(j->successor), "%s",
	    r->successor_id != NULL ? r->successor_id : "");
	j->status = r->status;
	j->sweep = sweep;
	if (gw_submit(node, reg_write, reg_done, j) != 0) {
		net_log(NET_LOG_ERR, "switch_registrar_failed", "registrar=%s "
		    "error=\"store refused the write\"", j->id);
		free(j);
		return -1;
	}
	return 0;
}

void
gw_switch_registrar_changed(struct gw_node *node, const Axle__V1__Registrar *r)
{
	(void)reg_submit(node, r, false);
}

void
gw_switch_flow(struct gw_node *node, uint64_t *accepted, uint64_t *forwarded)
{
	*accepted = node->sw != NULL ? atomic_load(&node->sw->ev[SW_EV_ACCEPTED]) : 0;
	*forwarded = node->sw != NULL ? atomic_load(&node->sw->ev[SW_EV_FORWARDED]) : 0;
}
