/* gw_recourse.c -- universal recourse inside the node: the case store, its opening and closing, metrics, what other modules ask of it (the module: mod_recourse.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"

/*
 * Writes in flight and whether the module stopped: the case store is freed
 * when both say so (gw_store_close runs queued writes after the modules
 * stopped, and those writes use it).
 */
struct rec_life {
	unsigned pending;
	int stopped;
};

struct rec_full {
	struct gw_recourse pub;		/* first: node->recourse points here */
	struct rec_life life;
};

struct recourse_open_arg {
	struct gw_node *node;
	char err[256];
};

int64_t
gw_recourse_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
gw_recourse_grpc_status(int rc, const struct recourse_err *e)
{
	switch (rc) {
	case RECOURSE_OK: return GRPC_OK;
	case RECOURSE_EINVAL: return GRPC_INVALID_ARGUMENT;
	case RECOURSE_ENOTFOUND: return GRPC_NOT_FOUND;
	case RECOURSE_EPRECOND: case RECOURSE_ELOOP: case RECOURSE_EROOT:
		return GRPC_FAILED_PRECONDITION;
	case RECOURSE_ESTORE:
		return gw_store_rc_grpc_status(e != NULL && e->store_rc != 0 ?
		    e->store_rc : -1);
	case RECOURSE_ENOMEM: return GRPC_RESOURCE_EXHAUSTED;
	default: return GRPC_INTERNAL;
	}
}

/* --- counted writes ------------------------------------------------------------ */

struct rec_sub {
	struct rec_full *rf;
	store_write_fn fn;
	store_done_fn done;
	void *arg;
};

static void
rec_free(struct rec_full *rf)
{
	recourse_destroy(rf->pub.rc);
	recourse_backend_destroy(rf->pub.be);
	free(rf);
}

static int
rec_sub_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct rec_sub *s = arg;

	return s->fn(txn, st, s->arg);
}

static void
rec_sub_done(int rc, void *arg)
{
	struct rec_sub *s = arg;
	struct rec_full *rf = s->rf;

	s->done(rc, s->arg);
	free(s);
	if (--rf->life.pending == 0 && rf->life.stopped)
		rec_free(rf);
}

static int
rec_enqueue(struct gw_node *node, store_write_fn fn, store_done_fn done,
    void *arg, int is_new)
{
	struct rec_sub *s;
	int rc;

	if (node->recourse == NULL)
		return ESHUTDOWN;
	if ((s = malloc(sizeof(*s))) == NULL)
		return ENOMEM;
	*s = (struct rec_sub){ (struct rec_full *)node->recourse, fn, done, arg };
	rc = is_new ? gw_store_submit_new(node->store, rec_sub_write, rec_sub_done, s) :
	    gw_store_submit(node->store, rec_sub_write, rec_sub_done, s);
	if (rc != 0) {
		free(s);
		return rc;
	}
	s->rf->life.pending++;
	return 0;
}

int
gw_recourse_submit(struct gw_node *node, store_write_fn fn, store_done_fn done,
    void *arg)
{
	return rec_enqueue(node, fn, done, arg, 0);
}

int
gw_recourse_submit_new(struct gw_node *node, store_write_fn fn,
    store_done_fn done, void *arg)
{
	return rec_enqueue(node, fn, done, arg, 1);
}

/* --- start, stop --------------------------------------------------------------- */

static int
open_backend(MDB_txn *txn, struct store *st, void *arg)
{
	struct recourse_open_arg *oa = arg;

	return recourse_backend_lmdb_new(gw_store_env(st), txn,
	    &oa->node->recourse->be, oa->err, sizeof(oa->err));
}

/* [node] parent names a peer; recourse needs that peer's region. */
static const char *
parent_region(const struct gw_node *node)
{
	if (node->cfg.parent[0] == '\0')
		return "";
	for (size_t i = 0; i < node->cfg.npeers; i++)
		if (strcmp(node->cfg.peers[i].name, node->cfg.parent) == 0)
			return node->cfg.peers[i].region;
	return "";
}

static int
rec_context(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_recourse *rec = node->recourse;
	const struct gw_recourse_cfg *c = &node->cfg.recourse;
	struct recourse_config rc = { 0 };
	struct recourse_err e = { 0 };

	snprintf(rec->parent_region, sizeof(rec->parent_region), "%s",
	    parent_region(node));
	snprintf(rec->identity, sizeof(rec->identity), "axle://%s/node/%s",
	    node->cfg.federation, node->cfg.region);
	rc.region = node->cfg.region;
	rc.parent = rec->parent_region;
	rc.identity = rec->identity;
	rc.deadlines.default_ms = c->case_deadline_ms;
	rc.backoff.base_ms = c->retry_base_ms;
	rc.backoff.cap_ms = c->retry_cap_ms;
	if (recourse_new(&rc, rec->be, &rec->rc, &e) != RECOURSE_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

int
gw_recourse_open(struct gw_node *node, char *err, size_t errlen)
{
	struct recourse_open_arg oa = { .node = node };
	struct rec_full *rf;
	int rv;

	if ((rf = calloc(1, sizeof(*rf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	node->recourse = &rf->pub;
	if ((rv = gw_store_write_now(node->store, open_backend, &oa)) != 0) {
		snprintf(err, errlen, "opening the case store: %s",
		    oa.err[0] ? oa.err : gw_store_strerror(rv));
		goto fail;
	}
	if (rec_context(node, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	node->recourse = NULL;
	rec_free(rf);
	return -1;
}

void
gw_recourse_close(struct gw_node *node)
{
	struct rec_full *rf = (struct rec_full *)node->recourse;

	if (rf == NULL)
		return;
	node->recourse = NULL;
	rf->life.stopped = 1;
	if (rf->life.pending == 0)
		rec_free(rf);
}

/* --- metrics ------------------------------------------------------------------- */

int
gw_recourse_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct recourse_stats s = { 0 };
	struct recourse_err e = { 0 };
	MDB_txn *txn;
	int ok = 0;

	if (node->recourse == NULL)
		return -1;
	if (gw_store_read_begin(node->store, &txn) == 0) {
		ok = recourse_stats(node->recourse->rc, txn, gw_recourse_now_ms(),
		    &s, &e) == RECOURSE_OK;
		mdb_txn_abort(txn);
	}
	if (!ok)
		return -1;
	evbuffer_add_printf(out, "# HELP axle_recourse_cases Cases held at this "
	    "node, by state.\n# TYPE axle_recourse_cases gauge\n"
	    "axle_recourse_cases{state=\"open\"} %llu\n"
	    "axle_recourse_cases{state=\"claimed\"} %llu\n"
	    "axle_recourse_cases{state=\"resolved\"} %llu\n"
	    "axle_recourse_cases{state=\"escalated\"} %llu\n",
	    (unsigned long long)s.open, (unsigned long long)s.claimed,
	    (unsigned long long)s.resolved, (unsigned long long)s.escalated);
	evbuffer_add_printf(out, "# HELP axle_recourse_overdue_cases Open cases "
	    "past their deadline here (alert at the root: they stay open).\n"
	    "# TYPE axle_recourse_overdue_cases gauge\n"
	    "axle_recourse_overdue_cases %llu\n"
	    "# HELP axle_recourse_cases_in_handover Cases whose hand-over to the "
	    "parent may be in flight.\n"
	    "# TYPE axle_recourse_cases_in_handover gauge\n"
	    "axle_recourse_cases_in_handover %llu\n",
	    (unsigned long long)s.overdue, (unsigned long long)s.in_handover);
	return 0;
}

/* --- what other modules ask ------------------------------------------------------ */

int
gw_recourse_open_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, int reason, const char *detail, int64_t now_ms,
    char *id_out, char *err, size_t errlen)
{
	struct recourse_err e = { 0 };
	int rc;

	rc = recourse_case_open(node->recourse->rc, txn, env, reason, detail, now_ms,
	    id_out, &e);
	if (rc != RECOURSE_OK)
		snprintf(err, errlen, "%s", e.msg);
	else
		atomic_fetch_add(&node->recourse->opened, 1);
	return rc;
}

static void
brief_fill(const Axle__V1__Case *c, struct gw_recourse_brief *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", c->id);
	out->state = c->state;
	out->reason = c->reason;
	out->outcome = c->outcome;
	snprintf(out->escalated_to, sizeof(out->escalated_to), "%s",
	    c->escalated_to);
	for (size_t i = c->n_history; i > 0; i--)
		if (c->history[i - 1]->kind ==
		    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_REDIRECTED) {
			snprintf(out->redirect_to, sizeof(out->redirect_to), "%s",
			    c->history[i - 1]->redirect_to);
			break;
		}
	out->opened_ms = c->opened_ms;
	out->deadline_ms = c->deadline_ms;
	if (c->envelope != NULL && c->envelope->message_id.len <=
	    sizeof(out->message_id)) {
		memcpy(out->message_id, c->envelope->message_id.data,
		    c->envelope->message_id.len);
		out->message_id_len = c->envelope->message_id.len;
	}
}

/* A member sees a case only if it sent the message: sender within its prefix. */
static int
brief_allowed(const struct net_identity *who, const Axle__V1__Case *c,
    char *err, size_t errlen)
{
	char addr[ADDR_MAX_LEN + 1];
	const char *sender = c->envelope != NULL ? c->envelope->sender : "";
	size_t n = strcspn(sender, ":");

	if (who == NULL || who->role != NET_ROLE_MEMBER)
		return 1;
	snprintf(addr, sizeof(addr), "%.*s", (int)n, sender);
	if (addr[0] != '\0' && net_authz_member_covers(who, addr, NULL, 0))
		return 1;
	snprintf(err, errlen, "case %s is not about a message of %s", c->id,
	    who->address);
	return 0;
}

int
gw_recourse_case_brief(struct gw_node *node, MDB_txn *txn,
    const char *case_id, const struct net_identity *who,
    struct gw_recourse_brief *out, char *err, size_t errlen)
{
	struct recourse_err e = { 0 };
	Axle__V1__Case *c = NULL;
	MDB_txn *own = NULL;
	int rc, s;

	if (node->recourse == NULL) {
		snprintf(err, errlen, "recourse is not running");
		return GRPC_UNAVAILABLE;
	}
	if (txn == NULL && (rc = gw_store_read_begin(node->store, &own)) != 0) {
		snprintf(err, errlen, "%s", gw_store_strerror(rc));
		return GRPC_UNAVAILABLE;
	}
	rc = recourse_case_get(node->recourse->rc, txn ? txn : own, case_id, &c,
	    &e);
	if (own != NULL)
		mdb_txn_abort(own);
	if (rc != RECOURSE_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return gw_recourse_grpc_status(rc, &e);
	}
	s = GRPC_OK;
	if (brief_allowed(who, c, err, errlen))
		brief_fill(c, out);
	else
		s = GRPC_PERMISSION_DENIED;
	recourse_case_free(c);
	return s;
}
