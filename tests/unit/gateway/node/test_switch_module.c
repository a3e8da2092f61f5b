/* test_switch_module.c -- the switch inside a node's write transactions (no listeners): a registrar's standing change tells the sender of every message it holds or releases, in the same commit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "tests/unit/gateway/node/node_harness.h"
#include "gateway/switch/sw_core.h"
#include "proto/pb.h"
#include "registry/db.h"
#include "registry/registrar.h"

#define REGION	"uk.test"
#define PEER	"uk.other"
#define ACTOR	"axle://fame-test/admin/uk.test/ann"

/* --- a node without listeners: config, store, peers, every module ------------ */

struct h {
	char dir[NH_DIR_MAX];
	struct gw_node node;
};

/* A peer whose outbox receipts for its senders go to (never reached: no loop runs). */
static void
h_set_up(struct gw_config *c, void *arg)
{
	char port[NET_PORT_MAX + 1];

	(void)arg;
	nh_closed_port(port, sizeof(port));
	nh_peer(c, PEER, PEER, port);
	/* These tests count deadlines: hold limits only (no default deliver_by). */
	c->sw.default_deliver_by_ms = 0;
}

static void
h_start(struct h *h)
{
	char err[512];

	nh_open(&h->node, h->dir, "/tmp/axle-swcore-XXXXXX", REGION, h_set_up,
	    NULL);
	if (gw_modules_start(&h->node, err, sizeof(err)) != 0)
		fail_msg("start: %s", err);
}

static void
h_stop(struct h *h)
{
	gw_modules_stop(&h->node);
	nh_close(&h->node, h->dir);
}

/* --- the register, as svc_registry.c changes it: the switch in the same write ---- */

enum rkind { R_DELEGATE, R_STATUS, R_REHOME };

struct rop {
	struct h *h;
	enum rkind kind;
	const char *id, *prefix, *to;
	Axle__V1__RegistrarStatus status;
	bool abort_after;		/* make the change, then abort the write */
	bool no_switch;			/* the register only: as a node before the fix left it */
	Axle__V1__Registrar *out, *out2;
	uint64_t moved;
	int gw_status;
};

static int
rop_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct rop *o = arg;
	struct gw_node *node = &o->h->node;
	struct registry_change ch = { ACTOR, gw_registry_now_ms() };
	struct registry_outcome res = { 0 };
	char err[256];
	int rc;

	(void)st;
	switch (o->kind) {
	case R_DELEGATE: {
		Axle__V1__DelegateRequest r = AXLE__V1__DELEGATE_REQUEST__INIT;

		r.registrar_id = (char *)o->id;
		r.prefix = (char *)o->prefix;
		r.display_name = (char *)o->id;
		r.cert_identity = "axle://fame-test/member/uk.test.x";
		rc = registry_db_delegate(txn, &node->registry->db, &ch, &r,
		    REGISTRY_ANY_VERSION, &o->out, &res);
		break;
	}
	case R_STATUS: {
		Axle__V1__SetStatusRequest r = AXLE__V1__SET_STATUS_REQUEST__INIT;

		r.registrar_id = (char *)o->id;
		r.status = o->status;
		r.reason = "test";
		rc = registry_db_set_status(txn, &node->registry->db, &ch, &r,
		    &o->out, &res);
		break;
	}
	default: {
		Axle__V1__ReHomeRequest r = AXLE__V1__RE_HOME_REQUEST__INIT;

		r.from_registrar_id = (char *)o->id;
		r.to_registrar_id = (char *)o->to;
		r.reason = "test";
		rc = registry_db_rehome(txn, &node->registry->db, &ch, &r,
		    &o->out, &o->out2, &res);
		break;
	}
	}
	if (rc != REGISTRY_OK)
		fail_msg("registry change %d of %s: %d", o->kind, o->id, rc);
	if (o->kind != R_DELEGATE && !o->no_switch) {
		o->gw_status = gw_switch_registrar_changed_txn(node, txn, o->out->id,
		    o->out->status, o->out2 != NULL ? o->out2->id : NULL,
		    ch.at_ms, &o->moved, err, sizeof(err));
		if (o->gw_status != 0)
			fail_msg("switch: %s", err);
	}
	return o->abort_after ? 1 : 0;
}

/* Runs one register change; returns the messages the switch moved. */
static uint64_t
reg_ex(struct h *h, enum rkind kind, const char *id, const char *prefix,
    Axle__V1__RegistrarStatus status, const char *to, bool abort_after,
    bool no_switch)
{
	struct rop o = { h, kind, id, prefix, to, status, abort_after, no_switch,
	    NULL, NULL, 0, 0 };
	int rc = gw_store_write_now(h->node.store, rop_write, &o);

	assert_int_equal(rc != 0, abort_after);
	if (rc == 0) {
		assert_int_equal(gw_registry_applied(&h->node, o.out), 0);
		if (o.out2 != NULL)
			assert_int_equal(gw_registry_applied(&h->node, o.out2), 0);
	}
	pb_free(o.out != NULL ? &o.out->base : NULL);
	pb_free(o.out2 != NULL ? &o.out2->base : NULL);
	return o.moved;
}

static uint64_t
reg(struct h *h, enum rkind kind, const char *id, const char *prefix,
    Axle__V1__RegistrarStatus status, const char *to, bool abort_after)
{
	return reg_ex(h, kind, id, prefix, status, to, abort_after, false);
}

#define ST(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

static uint64_t
set_status(struct h *h, const char *id, Axle__V1__RegistrarStatus st)
{
	return reg(h, R_STATUS, id, NULL, st, NULL, false);
}

/* Registrar id delegated uk.test.<id> and made active. */
static void
onboard(struct h *h, const char *id)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "uk.test.%s", id);
	reg(h, R_DELEGATE, id, prefix, 0, NULL, false);
	set_status(h, id, ST(ACTIVE));
}

struct swop {
	struct h *h;
	const char *id, *successor;
	Axle__V1__RegistrarStatus status;
	uint64_t moved;
};

static int
sw_change_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct swop *o = arg;
	char err[256];

	(void)st;
	if (gw_switch_registrar_changed_txn(&o->h->node, txn, o->id, o->status,
	    o->successor, gw_registry_now_ms(), &o->moved, err, sizeof(err)) != 0)
		fail_msg("switch: %s", err);
	return 0;
}

/* The switch's part of a standing change alone (what the held sweep writes). */
static uint64_t
sw_change(struct h *h, const char *id, Axle__V1__RegistrarStatus st,
    const char *successor)
{
	struct swop o = { h, id, successor, st, 0 };

	assert_int_equal(gw_store_write_now(h->node.store, sw_change_write, &o), 0);
	return o.moved;
}

/* --- messages ---------------------------------------------------------------------- */

static void
mkid(unsigned n, uint8_t id[16])
{
	memset(id, 0, 16);
	id[0] = 0x5c;
	id[7] = (uint8_t)n;
	id[15] = 0x01;
}

struct pop {
	struct h *h;
	const Axle__V1__Envelope *env;
	struct sw_placed out;
};

static int
place_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct pop *p = arg;
	struct sw_wctx c;

	(void)st;
	sw_wctx_init(&c, &p->h->node.sw->ctx, txn, gw_now_ms(), NULL);
	return sw_place(&c, p->env, false, &p->out);
}

/* Places message n from sender to `to`, as a Send or a Forward would. */
static void
place(struct h *h, unsigned n, const char *sender, const char *to,
    enum sw_state want)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	uint8_t id[16], payload[4] = { 'p', (uint8_t)n, 0, 0 };
	struct pop p = { h, &e, { 0 } };

	mkid(n, id);
	e.message_id.data = id;
	e.message_id.len = 16;
	e.sender = (char *)sender;
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = (char *)to;
	e.message_type = "note.v1";
	e.created_ms = gw_now_ms();
	e.hop_limit = 16;
	e.content_type = "text/plain";
	e.payload.data = payload;
	e.payload.len = sizeof(payload);
	assert_int_equal(gw_store_write_now(h->node.store, place_write, &p), 0);
	assert_int_equal(p.out.state, want);
}

/* What a mailbox or outbox holds: a message n, or a receipt (kind) about message n. */
struct item {
	unsigned about;		/* message number (mkid) the item is or is about; 0: none of ours */
	int kind;		/* receipt kind; 0: a message */
	uint8_t id[16];
	char detail[400];
};

static void
item_of(const struct sw_msg *m, struct item *it)
{
	Axle__V1__Envelope *e = sw_env_unpack(m->env, m->env_len, NULL, 0);
	const uint8_t *about;

	memset(it, 0, sizeof(*it));
	assert_non_null(e);
	memcpy(it->id, e->message_id.data, 16);
	about = e->message_id.data;
	if (sw_is_receipt(e)) {
		Axle__V1__Receipt *r = axle__v1__receipt__unpack(NULL,
		    e->payload.len, e->payload.data);

		assert_non_null(r);
		assert_int_equal(r->message_id.len, 16);
		it->kind = r->kind;
		snprintf(it->detail, sizeof(it->detail), "%s", r->detail);
		about = NULL;
		if (r->message_id.data[0] == 0x5c)
			it->about = r->message_id.data[7];
		axle__v1__receipt__free_unpacked(r, NULL);
	}
	if (about != NULL && about[0] == 0x5c)
		it->about = about[7];
	pb_free(&e->base);
}

struct fop {
	struct h *h;
	const char *box;
	struct item *out;
	size_t max, n;
};

static int
fetch_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct fop *f = arg;
	struct sw_msg m[64];
	struct sw_txn t;
	int rc;

	(void)st;
	sw_txn_lmdb(f->h->node.sw->q, txn, &t);
	if ((rc = sw_queue_mailbox_fetch(&t, f->box, f->max < 64 ? f->max : 64,
	    gw_now_ms(), 3600 * 1000, m, &f->n)) != 0)
		return rc;
	for (size_t i = 0; i < f->n; i++)
		item_of(&m[i], &f->out[i]);
	sw_msgs_free(m, f->n);
	return 0;
}

/* Fetches what is new in mailbox box (it stays in flight for an hour). */
static size_t
fetch(struct h *h, const char *box, struct item *out, size_t max)
{
	struct fop f = { h, box, out, max, 0 };

	assert_int_equal(gw_store_write_now(h->node.store, fetch_write, &f), 0);
	return f.n;
}

/* Everything in the outbox for PEER, oldest first. */
static size_t
outbox(struct h *h, struct item *out, size_t max)
{
	struct sw_msg m[64];
	struct sw_txn t;
	MDB_txn *txn;
	size_t n;

	assert_int_equal(gw_store_read_begin(h->node.store, &txn), 0);
	sw_txn_lmdb(h->node.sw->q, txn, &t);
	assert_int_equal(sw_queue_outbox_peek(&t, PEER, max < 64 ? max : 64, m,
	    &n), 0);
	mdb_txn_abort(txn);
	for (size_t i = 0; i < n; i++)
		item_of(&m[i], &out[i]);
	sw_msgs_free(m, n);
	return n;
}

static uint64_t
held_count(struct h *h)
{
	struct sw_counts c;
	struct sw_txn t;
	MDB_txn *txn;

	assert_int_equal(gw_store_read_begin(h->node.store, &txn), 0);
	sw_txn_lmdb(h->node.sw->q, txn, &t);
	assert_int_equal(sw_queue_counts(&t, &c), 0);
	mdb_txn_abort(txn);
	return c.held;
}

/* The record of message n (it must have one). */
static struct sw_record
rec_of(struct h *h, unsigned n)
{
	struct sw_record r;
	struct sw_txn t;
	MDB_txn *txn;
	uint8_t id[16];

	mkid(n, id);
	assert_int_equal(gw_store_read_begin(h->node.store, &txn), 0);
	sw_txn_lmdb(h->node.sw->q, txn, &t);
	assert_int_equal(sw_queue_status(&t, id, &r), 0);
	mdb_txn_abort(txn);
	return r;
}

/* Asserts message n is in state st at where. */
static void
is_at(struct h *h, unsigned n, enum sw_state st, const char *where)
{
	struct sw_record r = rec_of(h, n);

	if (r.state != st || (where != NULL && strcmp(r.where, where) != 0))
		fail_msg("message %u: %s %s, expected %s %s", n,
		    sw_state_name(r.state), r.where, sw_state_name(st),
		    where != NULL ? where : "*");
}

static uint64_t
deadline_count(struct h *h)
{
	struct sw_counts c;
	struct sw_txn t;
	MDB_txn *txn;

	assert_int_equal(gw_store_read_begin(h->node.store, &txn), 0);
	sw_txn_lmdb(h->node.sw->q, txn, &t);
	assert_int_equal(sw_queue_counts(&t, &c), 0);
	mdb_txn_abort(txn);
	return c.deadlines;
}

struct aop {
	struct h *h;
	const char *box;
	uint8_t ids[8][16];
	size_t n, acked;
};

static int
ack_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct aop *a = arg;
	struct sw_txn t;

	(void)st;
	sw_txn_lmdb(a->h->node.sw->q, txn, &t);
	return sw_queue_ack(&t, a->box, (const uint8_t (*)[SW_QID_LEN])a->ids,
	    a->n, gw_now_ms(), NULL, &a->acked);
}

/* The owner of box acknowledges messages nums[0..n); returns how many it could. */
static size_t
ack(struct h *h, const char *box, const unsigned *nums, size_t n)
{
	struct aop a = { h, box, { { 0 } }, n, 0 };

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		mkid(nums[i], a.ids[i]);
	assert_int_equal(gw_store_write_now(h->node.store, ack_write, &a), 0);
	return a.acked;
}

struct dop {
	struct h *h;
	int64_t at;
	size_t n;
};

static int
deadlines_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct dop *d = arg;
	struct sw_deadline dl[64];
	struct sw_wctx c;
	int rc;

	(void)st;
	sw_wctx_init(&c, &d->h->node.sw->ctx, txn, d->at, NULL);
	if ((rc = sw_deadline_due(&c.t, d->at, dl, 64, &d->n)) != 0)
		return rc;
	return sw_deadlines_run(&c, dl, d->n, NULL, 0);
}

/* Runs the switch deadlines due by at_ms, as the timer would then; returns how many ran. */
static size_t
run_deadlines(struct h *h, int64_t at_ms)
{
	struct dop d = { h, at_ms, 0 };

	assert_int_equal(gw_store_write_now(h->node.store, deadlines_write, &d), 0);
	return d.n;
}

/* Past every hold limit set now. */
static int64_t
after_hold_limit(struct h *h)
{
	return gw_now_ms() + (int64_t)h->node.cfg.sw.hold_limit_ms + 60000;
}

/* The reason of the case that holds message n (it must be in recourse here). */
static int
case_reason(struct h *h, unsigned n)
{
	struct sw_record r = rec_of(h, n);
	struct gw_recourse_brief b;
	char err[256];

	is_at(h, n, SW_STATE_RECOURSE, NULL);
	if (gw_recourse_case_brief(&h->node, NULL, r.where, NULL, &b, err,
	    sizeof(err)) != GRPC_OK)
		fail_msg("case %s of message %u: %s", r.where, n, err);
	return b.reason;
}

#define RK(x) AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_##x

/* The items of `kind` among it[0..n), as message numbers in order; returns how many. */
static size_t
of_kind(const struct item *it, size_t n, int kind, unsigned *about)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (it[i].kind == kind)
			about[k++] = it[i].about;
	return k;
}

static void
check_nums(const unsigned *got, size_t n, const unsigned *want, size_t wn)
{
	assert_int_equal(n, wn);
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("item %zu: message %u, expected %u", i, got[i], want[i]);
}

/* --- the tests ------------------------------------------------------------------- */

/*
 * Messages already waiting in a mailbox when its registrar is suspended:
 * the sender of each (here, or on a peer's node: its receipt waits in that
 * peer's outbox) gets a HELD receipt in the commit that holds them; a
 * receipt waiting there is held but gets no receipt. Reactivation: RELEASED
 * receipts, and the recipient gets each message once, in order. A second
 * suspension is news again (new receipt ids, not de-duplicated away); a
 * re-home to an active successor releases them to it. A standing change
 * that aborts sends nothing.
 */
static void
test_hold_release_receipts(void **state)
{
	const unsigned three[] = { 1, 2, 3 }, all[] = { 1, 2, 3, 4, 5 };
	struct item it[64], it2[64];
	unsigned nums[64];
	uint8_t held1[3][16];
	size_t n;
	struct h h;

	(void)state;
	h_start(&h);
	onboard(&h, "snd");
	onboard(&h, "rcv");
	onboard(&h, "succ");

	/* Waiting in rcv's mailbox: 1-3 from snd, 4 from a peer's hub, 5's receipt. */
	for (unsigned i = 1; i <= 3; i++)
		place(&h, i, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	place(&h, 4, PEER ".hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	place(&h, 5, "uk.test.rcv.desk", "uk.test.snd.hub", SW_STATE_MAILBOX);
	n = fetch(&h, "snd", it, 64);	/* 1-3 DELIVERED, and message 5 */
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	assert_int_equal(outbox(&h, it, 64), 1);	/* 4 DELIVERED, for the peer */

	/* Suspended, but the write aborts: nothing moved, nobody told. */
	reg(&h, R_STATUS, "rcv", NULL, ST(SUSPENDED), NULL, true);
	assert_int_equal(held_count(&h), 0);
	assert_int_equal(fetch(&h, "snd", it, 64), 0);
	assert_int_equal(outbox(&h, it, 64), 1);

	/* Suspended: all five held, a HELD receipt for each but the receipt. */
	assert_int_equal(set_status(&h, "rcv", ST(SUSPENDED)), 5);
	assert_int_equal(held_count(&h), 5);	/* no receipt about a receipt held there */
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 3);
	check_nums(nums, of_kind(it, n, RK(HELD), nums), three, 3);
	for (size_t i = 0; i < n; i++) {
		if (strstr(it[i].detail, "registrar rcv is suspended") == NULL)
			fail_msg("HELD detail: %s", it[i].detail);
		memcpy(held1[i], it[i].id, 16);
	}
	n = outbox(&h, it, 64);
	assert_int_equal(n, 2);
	assert_int_equal(it[1].kind, RK(HELD));
	assert_int_equal(it[1].about, 4);

	/*
	 * Reactivated: a RELEASED receipt, then DELIVERED as the message
	 * reaches the mailbox (like any other); the recipient gets each
	 * message once, in order.
	 */
	assert_int_equal(set_status(&h, "rcv", ST(ACTIVE)), 5);
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 6);
	check_nums(nums, of_kind(it, n, RK(RELEASED), nums), three, 3);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(it[2 * i].kind, RK(RELEASED));
		assert_int_equal(it[2 * i + 1].kind, RK(DELIVERED));
		assert_int_equal(it[2 * i + 1].about, it[2 * i].about);
	}
	assert_non_null(strstr(it[0].detail, "registrar rcv is active again"));
	assert_non_null(strstr(it[1].detail, "in the mailbox of registrar rcv"));
	n = outbox(&h, it, 64);
	assert_int_equal(n, 4);
	assert_int_equal(it[2].kind, RK(RELEASED));
	assert_int_equal(it[2].about, 4);
	assert_int_equal(it[3].kind, RK(DELIVERED));
	assert_int_equal(it[3].about, 4);
	n = fetch(&h, "rcv", it, 64);
	for (size_t i = 0; i < n; i++)
		nums[i] = it[i].about;
	check_nums(nums, n, all, 5);
	assert_int_equal(it[4].kind, RK(DELIVERED));	/* 5's receipt, no more */
	assert_int_equal(fetch(&h, "rcv", it, 64), 0);

	/* Suspended again (the messages still unacknowledged): told again, new ids. */
	assert_int_equal(set_status(&h, "rcv", ST(SUSPENDED)), 5);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(HELD), nums), three, 3);
	for (size_t i = 0; i < n; i++)
		assert_memory_not_equal(it[i].id, held1[i], 16);
	assert_int_equal(set_status(&h, "rcv", ST(ACTIVE)), 5);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(RELEASED), nums), three, 3);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);	/* new ids again */
	assert_int_equal(outbox(&h, it, 64), 7);

	/* Suspended, revoked, re-homed to an active successor: released to it. */
	assert_int_equal(set_status(&h, "rcv", ST(SUSPENDED)), 5);
	assert_int_equal(set_status(&h, "rcv", ST(REVOKED)), 0);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(HELD), nums), three, 3);
	assert_int_equal(reg(&h, R_REHOME, "rcv", NULL, 0, "succ", false), 5);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(RELEASED), nums), three, 3);
	if (strstr(it[0].detail, "re-homed to succ") == NULL)
		fail_msg("RELEASED detail: %s", it[0].detail);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	n = outbox(&h, it2, 64);
	assert_int_equal(n, 10);
	assert_int_equal(it2[7].kind, RK(HELD));
	assert_int_equal(it2[8].kind, RK(RELEASED));
	assert_int_equal(it2[9].kind, RK(DELIVERED));
	n = fetch(&h, "succ", it, 64);
	for (size_t i = 0; i < n; i++)
		nums[i] = it[i].about;
	check_nums(nums, n, all, 5);
	assert_int_equal(held_count(&h), 0);
	h_stop(&h);
}

#define CR(x) AXLE__V1__CASE_REASON__CASE_REASON_##x

/* Fails unless every item of it[0..n) of receipt kind `kind` has `text` in its detail. */
static void
details_have(const struct item *it, size_t n, int kind, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (it[i].kind == kind && strstr(it[i].detail, text) == NULL)
			fail_msg("receipt about %u: detail \"%s\" lacks \"%s\"",
			    it[i].about, it[i].detail, text);
}

/* Three delegated, active registrars and messages 1-3 from snd and 4 from a peer's hub to rcv. */
static void
revoke_setup(struct h *h)
{
	const unsigned three[] = { 1, 2, 3 };
	struct item it[64];
	unsigned nums[64];
	size_t n;

	h_start(h);
	onboard(h, "snd");
	onboard(h, "rcv");
	onboard(h, "succ");
	for (unsigned i = 1; i <= 3; i++)
		place(h, i, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	place(h, 4, PEER ".hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	n = fetch(h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	assert_int_equal(outbox(h, it, 64), 1);		/* 4 DELIVERED */
}

/*
 * A registrar revoked straight from ACTIVE, not re-homed: its mailbox (in
 * flight or not) is held in the revoking commit, each sender told HELD
 * (naming the revocation); nothing comes back to the mailbox, an Ack of
 * what was in flight acknowledges nothing; at the hold limit each is
 * settled once by its failure policy: a REGISTRAR_REVOKED case.
 */
static void
test_revoke_holds_mailbox(void **state)
{
	const unsigned three[] = { 1, 2, 3 }, inflight[] = { 1, 2 };
	struct item it[64];
	unsigned nums[64];
	size_t n;
	struct h h;

	(void)state;
	revoke_setup(&h);
	assert_int_equal(fetch(&h, "rcv", it, 2), 2);	/* 1 and 2 in flight, 3 and 4 not */
	assert_int_equal(deadline_count(&h), 0);

	/* Revoked, but the write aborts: nothing moved, nobody told. */
	reg(&h, R_STATUS, "rcv", NULL, ST(REVOKED), NULL, true);
	assert_int_equal(held_count(&h), 0);
	is_at(&h, 3, SW_STATE_MAILBOX, "rcv");
	assert_int_equal(fetch(&h, "snd", it, 64), 0);

	/* Revoked: all four held, in the same commit, with their hold deadlines. */
	assert_int_equal(set_status(&h, "rcv", ST(REVOKED)), 4);
	assert_int_equal(held_count(&h), 4);
	assert_int_equal(deadline_count(&h), 4);
	for (unsigned i = 1; i <= 4; i++) {
		struct sw_record r = rec_of(&h, i);

		is_at(&h, i, SW_STATE_HELD, "rcv");
		assert_true(r.hold_until_ms > gw_now_ms());
	}
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 3);
	check_nums(nums, of_kind(it, n, RK(HELD), nums), three, 3);
	details_have(it, n, RK(HELD), "registrar rcv was revoked: held at " REGION);
	n = outbox(&h, it, 64);
	assert_int_equal(n, 2);
	assert_int_equal(it[1].kind, RK(HELD));
	assert_int_equal(it[1].about, 4);
	details_have(it, n, RK(HELD), "registrar rcv was revoked");
	/* Nothing is left in the mailbox, nor comes back to it; the fetch ended. */
	assert_int_equal(fetch(&h, "rcv", it, 64), 0);
	assert_int_equal(ack(&h, "rcv", inflight, 2), 0);
	for (unsigned i = 1; i <= 4; i++)
		is_at(&h, i, SW_STATE_HELD, "rcv");

	/* The hold limit: each settled by its policy, a REGISTRAR_REVOKED case, once. */
	assert_int_equal(run_deadlines(&h, after_hold_limit(&h)), 4);
	for (unsigned i = 1; i <= 4; i++)
		assert_int_equal(case_reason(&h, i), CR(REGISTRAR_REVOKED));
	assert_int_equal(held_count(&h), 0);
	assert_int_equal(deadline_count(&h), 0);
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 3);
	check_nums(nums, of_kind(it, n, RK(ESCALATED), nums), three, 3);
	details_have(it, n, RK(ESCALATED), "registrar rcv was revoked and not "
	    "re-homed past the hold limit");
	n = outbox(&h, it, 64);
	assert_int_equal(n, 3);
	assert_int_equal(it[2].kind, RK(ESCALATED));
	assert_int_equal(it[2].about, 4);
	assert_int_equal(run_deadlines(&h, after_hold_limit(&h)), 0);
	assert_int_equal(fetch(&h, "snd", it, 64), 0);
	h_stop(&h);
}

/*
 * Revoked straight from ACTIVE (mailbox held), then re-homed to an active
 * successor before the hold limit: released into its mailbox with
 * RELEASED receipts, hold deadlines gone; the successor gets each message
 * once, in order, and the hold limit finds nothing.
 */
static void
test_revoke_then_rehome(void **state)
{
	const unsigned three[] = { 1, 2, 3 }, all[] = { 1, 2, 3, 4 };
	struct item it[64];
	unsigned nums[64];
	size_t n;
	struct h h;

	(void)state;
	revoke_setup(&h);
	assert_int_equal(fetch(&h, "rcv", it, 1), 1);	/* 1 in flight */
	assert_int_equal(set_status(&h, "rcv", ST(REVOKED)), 4);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(HELD), nums), three, 3);
	assert_int_equal(reg(&h, R_REHOME, "rcv", NULL, 0, "succ", false), 4);
	assert_int_equal(held_count(&h), 0);
	assert_int_equal(deadline_count(&h), 0);
	for (unsigned i = 1; i <= 4; i++)
		is_at(&h, i, SW_STATE_MAILBOX, "succ");
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 6);		/* RELEASED, then DELIVERED at succ */
	check_nums(nums, of_kind(it, n, RK(RELEASED), nums), three, 3);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	details_have(it, n, RK(RELEASED), "registrar rcv was revoked and "
	    "re-homed to succ: released into the mailbox of succ");
	details_have(it, n, RK(DELIVERED), "in the mailbox of registrar succ");
	n = outbox(&h, it, 64);
	assert_int_equal(n, 4);
	assert_int_equal(it[2].kind, RK(RELEASED));
	assert_int_equal(it[2].about, 4);
	assert_int_equal(it[3].kind, RK(DELIVERED));
	n = fetch(&h, "succ", it, 64);
	for (size_t i = 0; i < n; i++)
		nums[i] = it[i].about;
	check_nums(nums, n, all, 4);
	assert_int_equal(fetch(&h, "succ", it, 64), 0);
	assert_int_equal(run_deadlines(&h, after_hold_limit(&h)), 0);
	h_stop(&h);
}

/*
 * A revoked registrar whose mailbox was not held (as a node before this
 * fix left it): re-homing moves its mailbox the way its held messages go,
 * merged in acceptance order -- into an active successor's mailbox
 * (RELEASED receipts), or held for a suspended one (HELD receipts, a new
 * hold limit; released when it is reactivated).
 */
static void
test_rehome_moves_mailbox(void **state)
{
	const unsigned three[] = { 1, 2, 3 };
	struct item it[64];
	unsigned nums[64] = { 0 };
	size_t n;
	struct h h;

	(void)state;
	h_start(&h);
	onboard(&h, "snd");
	onboard(&h, "rcv");
	onboard(&h, "succ");
	onboard(&h, "rcv2");
	onboard(&h, "succ2");

	/* Active successor. rcv: 1 held (reactivated without its release), 2 and 3 in the mailbox. */
	set_status(&h, "rcv", ST(SUSPENDED));
	place(&h, 1, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_HELD);
	reg_ex(&h, R_STATUS, "rcv", NULL, ST(ACTIVE), NULL, false, true);
	place(&h, 2, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	place(&h, 3, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	assert_int_equal(fetch(&h, "rcv", it, 1), 1);	/* 2 in flight */
	reg_ex(&h, R_STATUS, "rcv", NULL, ST(REVOKED), NULL, false, true);
	is_at(&h, 1, SW_STATE_HELD, "rcv");
	is_at(&h, 2, SW_STATE_MAILBOX, "rcv");
	(void)fetch(&h, "snd", it, 64);
	assert_int_equal(reg(&h, R_REHOME, "rcv", NULL, 0, "succ", false), 3);
	n = fetch(&h, "snd", it, 64);
	check_nums(nums, of_kind(it, n, RK(RELEASED), nums), three, 3);
	check_nums(nums, of_kind(it, n, RK(DELIVERED), nums), three, 3);
	assert_int_equal(n, 6);
	n = fetch(&h, "succ", it, 64);
	for (size_t i = 0; i < n; i++)
		nums[i] = it[i].about;
	check_nums(nums, n, three, 3);
	assert_int_equal(held_count(&h), 0);
	assert_int_equal(deadline_count(&h), 0);

	/* Suspended successor: rcv2 revoked and re-homed with its mailbox left, succ2 suspended since. */
	place(&h, 11, "uk.test.snd.hub", "uk.test.rcv2.desk", SW_STATE_MAILBOX);
	place(&h, 12, "uk.test.snd.hub", "uk.test.rcv2.desk", SW_STATE_MAILBOX);
	(void)fetch(&h, "snd", it, 64);
	reg_ex(&h, R_STATUS, "rcv2", NULL, ST(REVOKED), NULL, false, true);
	reg_ex(&h, R_REHOME, "rcv2", NULL, 0, "succ2", false, true);
	assert_int_equal(set_status(&h, "succ2", ST(SUSPENDED)), 0);
	/* What the held sweep then writes (gw_switch.c): the standing change again. */
	assert_int_equal(sw_change(&h, "rcv2", ST(REVOKED), "succ2"), 2);
	is_at(&h, 11, SW_STATE_HELD, "succ2");
	is_at(&h, 12, SW_STATE_HELD, "succ2");
	assert_int_equal(deadline_count(&h), 2);
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 2);
	assert_int_equal(of_kind(it, n, RK(HELD), nums), 2);
	assert_int_equal(nums[0], 11);
	assert_int_equal(nums[1], 12);
	details_have(it, n, RK(HELD), "re-homed to succ2, which is suspended");
	assert_int_equal(set_status(&h, "succ2", ST(ACTIVE)), 2);
	n = fetch(&h, "succ2", it, 64);
	assert_int_equal(n, 2);
	assert_int_equal(it[0].about, 11);
	assert_int_equal(it[1].about, 12);
	assert_int_equal(deadline_count(&h), 0);
	h_stop(&h);
}

/*
 * Held for a registrar that was revoked and re-homed to a successor that
 * was revoked in turn: nobody will take it, so the hold limit settles it
 * (REGISTRAR_REVOKED) instead of waiting for a release that cannot come.
 */
static void
test_successor_revoked_settles(void **state)
{
	struct item it[64];
	size_t n;
	struct h h;

	(void)state;
	h_start(&h);
	onboard(&h, "snd");
	onboard(&h, "rcv");
	onboard(&h, "succ");
	set_status(&h, "rcv", ST(SUSPENDED));
	place(&h, 1, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_HELD);
	assert_int_equal(set_status(&h, "rcv", ST(REVOKED)), 0);
	/* Re-homed, the release lost (a crash between two writes, say); then succ revoked. */
	reg_ex(&h, R_REHOME, "rcv", NULL, 0, "succ", false, true);
	assert_int_equal(set_status(&h, "succ", ST(REVOKED)), 0);
	(void)fetch(&h, "snd", it, 64);
	assert_int_equal(run_deadlines(&h, after_hold_limit(&h)), 1);
	assert_int_equal(case_reason(&h, 1), CR(REGISTRAR_REVOKED));
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].kind, RK(ESCALATED));
	details_have(it, n, RK(ESCALATED), "registrar rcv was revoked and its "
	    "successor takes no traffic");
	h_stop(&h);
}

/*
 * A node that starts with messages in the mailbox of a revoked (or
 * suspended) registrar -- left by a version before this fix -- holds them
 * at its first held sweep (about a second after start), senders told.
 */
static void
test_sweep_holds_stranded_mailbox(void **state)
{
	struct timeval tv = { 2, 500000 };
	struct item it[64];
	unsigned nums[64];
	size_t n;
	struct h h;

	(void)state;
	h_start(&h);
	onboard(&h, "snd");
	onboard(&h, "rcv");
	onboard(&h, "sus");
	place(&h, 1, "uk.test.snd.hub", "uk.test.rcv.desk", SW_STATE_MAILBOX);
	place(&h, 2, "uk.test.snd.hub", "uk.test.sus.desk", SW_STATE_MAILBOX);
	place(&h, 3, "uk.test.snd.hub", "uk.test.snd.desk", SW_STATE_MAILBOX);
	(void)fetch(&h, "snd", it, 64);
	reg_ex(&h, R_STATUS, "rcv", NULL, ST(REVOKED), NULL, false, true);
	reg_ex(&h, R_STATUS, "sus", NULL, ST(SUSPENDED), NULL, false, true);
	is_at(&h, 1, SW_STATE_MAILBOX, "rcv");
	is_at(&h, 2, SW_STATE_MAILBOX, "sus");
	assert_int_equal(event_base_loopexit(h.node.base, &tv), 0);
	assert_true(event_base_dispatch(h.node.base) >= 0);
	is_at(&h, 1, SW_STATE_HELD, "rcv");
	is_at(&h, 2, SW_STATE_HELD, "sus");
	is_at(&h, 3, SW_STATE_MAILBOX, "snd");	/* an active registrar's stays */
	n = fetch(&h, "snd", it, 64);
	assert_int_equal(n, 2);
	assert_int_equal(of_kind(it, n, RK(HELD), nums), 2);
	assert_int_equal(nums[0] + nums[1], 3);		/* 1 and 2, one each */
	assert_int_not_equal(nums[0], nums[1]);
	details_have(it, n, RK(HELD), "held at " REGION);
	h_stop(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_release_receipts),
		cmocka_unit_test(test_revoke_holds_mailbox),
		cmocka_unit_test(test_revoke_then_rehome),
		cmocka_unit_test(test_rehome_moves_mailbox),
		cmocka_unit_test(test_successor_revoked_settles),
		cmocka_unit_test(test_sweep_holds_stranded_mailbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
