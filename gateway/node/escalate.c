/* escalate.c -- the escalation hierarchy: a timer hands overdue cases to the parent (Axle.Escalate) and records the outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "axle/v1/axle.pb-c.h"
#include "gateway/node/escalate.h"
#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "proto/pb.h"

#define ESC_BATCH	32	/* hand-overs started per tick */
#define ESC_PATH	"/axle.v1.Axle/Escalate"

/* A log value from text that may come from the network: quoted, escaped. */
#define LOGQ(buf, s) net_log_quote((buf), sizeof(buf), (s), strlen(s))

/*
 * One hand-over in flight: from escalation_begin's commit until the outcome
 * (mark_escalated or escalation_failed) is committed. While it is listed,
 * ticks do not send the case again.
 */
struct esc_flight {
	struct esc_flight *next;
	struct gw_escalator *esc;
	struct recourse *rc;
	char id[RECOURSE_ID_MAX];
	char parent[ADDR_MAX_LEN + 1];
	Axle__V1__Case *c;		/* what is sent; owned */
	int answered, duplicate;	/* an EscalateResponse came */
	int ok, definite;
	char why[320];
	int rrc;			/* the outcome write's recourse code */
	struct recourse_err e;
};

struct gw_escalator {
	struct gw_node *node;
	struct event *timer;
	int refs;			/* the module's, and one per pending op */
	int stopped;
	int busy;			/* a tick's write is queued */
	int idle;			/* the last tick found nothing to do */
	struct esc_flight *flights;
	size_t nflights;
	uint64_t results[GW_ESC__COUNT];
};

/* A tick's write: the deadline sweep and the start of due hand-overs. */
struct esc_tick {
	struct gw_escalator *esc;
	struct recourse *rc;
	int root;
	int64_t now;
	char (*skip)[RECOURSE_ID_MAX];	/* ids in flight: not sent again */
	size_t nskip;
	Axle__V1__Case *send[ESC_BATCH];
	size_t nsend;
	struct recourse_sweep sweep;
	int rrc;
	struct recourse_err e;
};

static const char *const result_names[GW_ESC__COUNT] = {
	[GW_ESC_OK] = "ok", [GW_ESC_DUPLICATE] = "duplicate",
	[GW_ESC_REFUSED] = "refused", [GW_ESC_UNKNOWN] = "unknown",
	[GW_ESC_RECEIVED] = "received",
};

const char *
gw_esc_result_name(enum gw_esc_result r)
{
	return (unsigned)r < GW_ESC__COUNT ? result_names[r] : "?";
}

/* --- pure decisions -------------------------------------------------------- */

int
gw_escalate_definite(int net_grpc_status, const char *message)
{
	/* client.c's wording for failures before the request left (conn_describe_error, conn_up, client_open, call_deadline_cb). */
	static const char *const unsent[] = {
		"connect to ", "resolve ", "TLS handshake with ",
		"server refused: ", "server is ",
		"deadline exceeded before the connection was up",
	};

	switch (net_grpc_status) {
	case GRPC_INVALID_ARGUMENT: case GRPC_NOT_FOUND:
	case GRPC_ALREADY_EXISTS: case GRPC_PERMISSION_DENIED:
	case GRPC_RESOURCE_EXHAUSTED: case GRPC_FAILED_PRECONDITION:
	case GRPC_OUT_OF_RANGE: case GRPC_UNIMPLEMENTED:
	case GRPC_UNAUTHENTICATED:
		return 1;
	case GRPC_UNAVAILABLE: case GRPC_DEADLINE_EXCEEDED:
		for (size_t i = 0; message != NULL &&
		    i < sizeof(unsent) / sizeof(unsent[0]); i++)
			if (strncmp(message, unsent[i], strlen(unsent[i])) == 0)
				return 1;
		return 0;
	default:
		return 0;
	}
}

int64_t
gw_escalate_delay_ms(int64_t next_at, int64_t now, int all_in_flight)
{
	int64_t d;

	if (next_at == 0 || (next_at <= now && all_in_flight))
		return 1000;
	d = next_at - now;
	return d < 10 ? 10 : d > 1000 ? 1000 : d;
}

/* --- life of the escalator ---------------------------------------------------- */

static void
esc_release(struct gw_escalator *esc)
{
	if (--esc->refs > 0)
		return;
	if (esc->timer != NULL)
		event_free(esc->timer);
	free(esc);
}

static void
esc_arm_ms(struct gw_escalator *esc, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	if (!esc->stopped)
		evtimer_add(esc->timer, &tv);
}

/* Next wake-up from the store; *at 0 if none or on error (then retried in 1 s). */
static int64_t
esc_next_at(struct gw_escalator *esc)
{
	struct gw_node *node = esc->node;
	struct recourse_err e = { 0 };
	char q[RECOURSE_ERR_MAX + 16];
	MDB_txn *txn;
	int64_t at = 0;

	if (gw_store_read_begin(node->store, &txn) != 0)
		return 0;
	if (recourse_next_wakeup_at(node->recourse->rc, txn, &at, &e) !=
	    RECOURSE_OK) {
		net_log(NET_LOG_WARN, "recourse_wakeup_failed", "error=%s", LOGQ(q, e.msg));
		at = 0;
	}
	mdb_txn_abort(txn);
	return at;
}

static void
esc_rearm(struct gw_escalator *esc)
{
	int64_t now = gw_recourse_now_ms();

	esc_arm_ms(esc, gw_escalate_delay_ms(esc_next_at(esc), now,
	    esc->nflights > 0 || esc->idle));
}

void
gw_escalate_kick(struct gw_node *node)
{
	struct gw_escalator *esc;

	if (node->recourse == NULL || (esc = node->recourse->esc) == NULL)
		return;
	esc->idle = 0;
	esc_arm_ms(esc, 10);
}

/* --- a hand-over's outcome ------------------------------------------------------ */

static void
flight_free(struct esc_flight *f)
{
	struct gw_escalator *esc = f->esc;

	for (struct esc_flight **pp = &esc->flights; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			esc->nflights--;
			break;
		}
	recourse_case_free(f->c);
	free(f);
	esc_release(esc);
}

static uint32_t
esc_rnd(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)gw_recourse_now_ms();
	return r;
}

static int
flight_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct esc_flight *f = arg;
	int64_t now = gw_recourse_now_ms();

	(void)st;
	if (f->ok)
		f->rrc = recourse_case_mark_escalated(f->rc, txn, f->id,
		    f->parent, now, &f->e);
	else
		f->rrc = recourse_escalation_failed(f->rc, txn, f->id, now,
		    f->definite, f->why, esc_rnd(), &f->e);
	return f->rrc == RECOURSE_OK ? 0 : -1;
}

static void
flight_log(const struct esc_flight *f, int rc)
{
	char why[RECOURSE_ERR_MAX + 16];

	if (rc != 0) {
		net_log(NET_LOG_WARN, "recourse_handover_unrecorded", "case=%s "
		    "parent=%s ok=%d error=%s", f->id, f->parent, f->ok,
		    LOGQ(why, f->rrc != RECOURSE_OK ? f->e.msg : gw_store_strerror(rc)));
	} else if (f->ok) {
		net_log(NET_LOG_INFO, "recourse_escalated", "case=%s parent=%s "
		    "duplicate=%d", f->id, f->parent, f->duplicate);
	} else {
		net_log(NET_LOG_WARN, "recourse_escalation_failed", "case=%s "
		    "parent=%s definite=%d error=%s", f->id, f->parent,
		    f->definite, LOGQ(why, f->why));
	}
}

static void
flight_done(int rc, void *arg)
{
	struct esc_flight *f = arg;
	struct gw_escalator *esc = f->esc;

	if (!esc->stopped) {
		flight_log(f, rc);
		if (rc == 0)
			esc->results[f->ok ? (f->duplicate ? GW_ESC_DUPLICATE :
			    GW_ESC_OK) : f->definite ? GW_ESC_REFUSED :
			    GW_ESC_UNKNOWN]++;
		gw_escalate_kick(esc->node);
	}
	flight_free(f);
}

static void
flight_outcome(struct esc_flight *f)
{
	if (gw_recourse_submit(f->esc->node, flight_write, flight_done, f) != 0)
		flight_free(f);	/* shutting down: the store says where it stands */
}

static void
flight_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct esc_flight *f = arg;
	Axle__V1__EscalateResponse *r;

	if (!final) {
		r = PB_UNPACK(Axle__V1__EscalateResponse,
		    axle__v1__escalate_response, msg, len, len, NULL, 0);
		if (r != NULL) {
			f->answered = 1;
			f->duplicate = r->duplicate;
			pb_free(&r->base);
		}
		return;
	}
	if (f->esc->stopped) {
		flight_free(f);
		return;
	}
	f->ok = status == GRPC_OK && f->answered;
	if (!f->ok) {
		f->definite = status != GRPC_OK &&
		    gw_escalate_definite(status, message);
		snprintf(f->why, sizeof(f->why), "parent %s: %s (status %d)",
		    f->parent, status == GRPC_OK ? "no answer in the reply" :
		    message != NULL && message[0] ? message : "no reason given",
		    status);
	}
	flight_outcome(f);
}

static void
flight_start(struct gw_escalator *esc, Axle__V1__Case *c)
{
	struct gw_node *node = esc->node;
	Axle__V1__EscalateRequest req = AXLE__V1__ESCALATE_REQUEST__INIT;
	struct esc_flight *f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		recourse_case_free(c);	/* still due: the next tick retries */
		return;
	}
	f->esc = esc;
	f->rc = node->recourse->rc;
	f->c = c;
	snprintf(f->id, sizeof(f->id), "%s", c->id);
	snprintf(f->parent, sizeof(f->parent), "%s", c->escalating_to[0] ?
	    c->escalating_to : node->recourse->parent_region);
	f->next = esc->flights;
	esc->flights = f;
	esc->nflights++;
	esc->refs++;
	req.record = c;
	if (gw_peers_call(node, f->parent, ESC_PATH, &req.base,
	    (int)node->cfg.recourse.escalate_timeout_ms, flight_cb, f) != 0) {
		f->definite = 1;
		snprintf(f->why, sizeof(f->why), "no link to parent %s "
		    "(not a configured peer, or out of memory)", f->parent);
		flight_outcome(f);
	}
}

/* --- the tick --------------------------------------------------------------------- */

static int
tick_skip(const struct esc_tick *t, const char *id)
{
	for (size_t i = 0; i < t->nskip; i++)
		if (strcmp(t->skip[i], id) == 0)
			return 1;
	return 0;
}

/* Begins the hand-over of one due case; a loop or root is recorded as a definite failure. */
static void
tick_begin(struct esc_tick *t, MDB_txn *txn, const char *id)
{
	struct recourse_err e = { 0 };
	char q[RECOURSE_ERR_MAX + 16];
	Axle__V1__Case *c = NULL;
	int rc;

	rc = recourse_escalation_begin(t->rc, txn, id, t->now, &c, &e);
	if (rc == RECOURSE_OK) {
		t->send[t->nsend++] = c;
		return;
	}
	net_log(NET_LOG_WARN, "recourse_handover_refused", "case=%s error=%s",
	    id, LOGQ(q, e.msg));
	if (rc == RECOURSE_ELOOP || rc == RECOURSE_EROOT)
		recourse_escalation_failed(t->rc, txn, id, t->now, 1, e.msg,
		    esc_rnd(), NULL);
}

static int
tick_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct esc_tick *t = arg;
	char (*ids)[RECOURSE_ID_MAX];
	size_t n = 0, max = ESC_BATCH + t->nskip;

	(void)st;
	t->rrc = recourse_deadline_sweep(t->rc, txn, t->now, &t->sweep, &t->e);
	if (t->rrc != RECOURSE_OK || t->root)
		return t->rrc == RECOURSE_OK ? 0 : -1;
	if ((ids = calloc(max, sizeof(*ids))) == NULL)
		return 0;
	t->rrc = recourse_escalation_due(t->rc, txn, t->now, ids, max, &n, &t->e);
	for (size_t i = 0; t->rrc == RECOURSE_OK && i < n &&
	    t->nsend < ESC_BATCH; i++)
		if (!tick_skip(t, ids[i]))
			tick_begin(t, txn, ids[i]);
	free(ids);
	return 0;
}

static void
tick_free(struct esc_tick *t, size_t from)
{
	for (size_t i = from; i < t->nsend; i++)
		recourse_case_free(t->send[i]);
	free(t->skip);
	free(t);
}

static void
tick_done(int rc, void *arg)
{
	struct esc_tick *t = arg;
	struct gw_escalator *esc = t->esc;
	char q[RECOURSE_ERR_MAX + 16];
	size_t i = 0;

	esc->busy = 0;
	if (!esc->stopped) {
		if (rc != 0 || t->rrc != RECOURSE_OK)
			net_log(NET_LOG_WARN, "recourse_tick_failed", "error=%s",
			    LOGQ(q, t->rrc != RECOURSE_OK ? t->e.msg :
			    gw_store_strerror(rc)));
		if (t->sweep.noted > 0)
			net_log(t->root ? NET_LOG_WARN : NET_LOG_INFO,
			    "recourse_overdue", "noted=%zu overdue=%zu root=%d",
			    t->sweep.noted, t->sweep.overdue, t->root);
		esc->idle = rc == 0 && t->nsend == 0 && t->sweep.noted == 0;
		for (; rc == 0 && i < t->nsend; i++)
			flight_start(esc, t->send[i]);
		esc_rearm(esc);
	}
	tick_free(t, rc == 0 ? i : 0);
	esc_release(esc);
}

static int
tick_snapshot(struct gw_escalator *esc, struct esc_tick *t)
{
	size_t i = 0;

	if (esc->nflights > 0 &&
	    (t->skip = calloc(esc->nflights, sizeof(*t->skip))) == NULL)
		return -1;
	for (struct esc_flight *f = esc->flights; f != NULL; f = f->next)
		memcpy(t->skip[i++], f->id, RECOURSE_ID_MAX);
	t->nskip = i;
	return 0;
}

static void
esc_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_escalator *esc = arg;
	struct gw_node *node = esc->node;
	int64_t now = gw_recourse_now_ms(), at;
	struct esc_tick *t;

	(void)fd, (void)what;
	if (esc->busy || esc->stopped)
		return;		/* tick_done re-arms */
	at = esc_next_at(esc);
	if (at == 0 || at > now || (t = calloc(1, sizeof(*t))) == NULL) {
		esc_arm_ms(esc, gw_escalate_delay_ms(at, now, esc->nflights > 0));
		return;
	}
	t->esc = esc;
	t->rc = node->recourse->rc;
	t->root = node->recourse->parent_region[0] == '\0';
	t->now = now;
	if (tick_snapshot(esc, t) != 0 ||
	    gw_recourse_submit(node, tick_write, tick_done, t) != 0) {
		tick_free(t, 0);
		esc_arm_ms(esc, 1000);
		return;
	}
	esc->busy = 1;
	esc->refs++;
}

int
gw_escalate_start(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_escalator *esc;

	if ((esc = calloc(1, sizeof(*esc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	esc->node = node;
	esc->refs = 1;
	if (node->base != NULL &&
	    (esc->timer = evtimer_new(node->base, esc_tick, esc)) == NULL) {
		free(esc);
		snprintf(err, errlen, "cannot create the escalation timer");
		return -1;
	}
	node->recourse->esc = esc;
	if (esc->timer != NULL)
		esc_arm_ms(esc, 0);
	return 0;
}

void
gw_escalate_stop(struct gw_node *node)
{
	struct gw_escalator *esc = node->recourse->esc;

	if (esc == NULL)
		return;
	node->recourse->esc = NULL;
	esc->stopped = 1;
	if (esc->timer != NULL)
		evtimer_del(esc->timer);
	esc_release(esc);
}

void
gw_escalate_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct gw_escalator *esc = node->recourse ? node->recourse->esc : NULL;

	evbuffer_add_printf(out, "# HELP axle_recourse_escalations_total "
	    "Hand-overs of cases to the parent escalation point, by outcome; "
	    "received: taken from child nodes.\n"
	    "# TYPE axle_recourse_escalations_total counter\n");
	for (int r = 0; r < GW_ESC__COUNT; r++)
		evbuffer_add_printf(out, "axle_recourse_escalations_total"
		    "{result=\"%s\"} %llu\n", result_names[r], esc ?
		    (unsigned long long)esc->results[r] : 0ULL);
}

void
gw_escalate_count(struct gw_node *node, enum gw_esc_result r)
{
	if (node->recourse != NULL && node->recourse->esc != NULL &&
	    (unsigned)r < GW_ESC__COUNT)
		node->recourse->esc->results[r]++;
}
