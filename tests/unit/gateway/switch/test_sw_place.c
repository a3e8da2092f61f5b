/* test_sw_place.c -- the switch's rules alone: placing envelopes with a bare struct sw_ctx (an LMDB environment, the register, the queues, two hooks), no node, no event loop, no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "gateway/switch/sw_core.h"
#include "gateway/switch/sw_queue.h"
#include "proto/pb.h"
#include "recourse/rc.h"
#include "registry/db.h"
#include "registry/error.h"
#include "registry/registrar.h"

#define REGION	"uk.test"
#define PEER	"uk.peer"
#define NOW	1700000000000LL

/* What the hooks saw. */
struct seen {
	int peer_asks;
	int cases;
	char case_detail[320];
};

struct fx {
	char dir[64];
	MDB_env *env;
	struct registry_db db;
	struct sw_switch sw;
	struct sw_ctx ctx;
	struct seen seen;
};

static struct fx *the_fx;	/* the hooks get the node, which is NULL here */

static bool
next_hop(struct gw_node *node, const char *region, char *hop)
{
	assert_null(node);
	the_fx->seen.peer_asks++;
	if (region == NULL || strcmp(region, PEER) != 0)
		return false;	/* a root: nothing above it */
	snprintf(hop, ADDR_MAX_LEN + 1, "%s", region);
	return true;
}

static int
open_case(struct gw_node *node, MDB_txn *txn, const Axle__V1__Envelope *env,
    int reason, const char *detail, int64_t now_ms, char *id_out, char *err,
    size_t errlen)
{
	assert_null(node);
	assert_non_null(txn);
	the_fx->seen.cases++;
	snprintf(the_fx->seen.case_detail, sizeof(the_fx->seen.case_detail), "%s",
	    detail);
	snprintf(id_out, RECOURSE_ID_MAX, "case-%d", the_fx->seen.cases);
	return RECOURSE_OK;
}

/* A registrar for prefix REGION.<id>, active. */
static void
onboard(MDB_txn *txn, struct fx *f, const char *id)
{
	struct registry_change ch = { "axle://fame-test/admin/uk.test/t", NOW };
	Axle__V1__DelegateRequest d = AXLE__V1__DELEGATE_REQUEST__INIT;
	Axle__V1__SetStatusRequest s = AXLE__V1__SET_STATUS_REQUEST__INIT;
	struct registry_outcome res = { 0 };
	Axle__V1__Registrar *out = NULL;
	char prefix[64];

	snprintf(prefix, sizeof(prefix), REGION ".%s", id);
	d.registrar_id = (char *)id;
	d.prefix = prefix;
	d.display_name = (char *)id;
	d.cert_identity = "axle://fame-test/member/uk.test.x";
	assert_int_equal(registry_db_delegate(txn, &f->db, &ch, &d,
	    REGISTRY_ANY_VERSION, &out, &res), REGISTRY_OK);
	pb_free(&out->base);
	out = NULL;
	s.registrar_id = (char *)id;
	s.status = AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE;
	s.reason = "test";
	assert_int_equal(registry_db_set_status(txn, &f->db, &ch, &s, &out, &res),
	    REGISTRY_OK);
	pb_free(&out->base);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct registry_outcome res = { 0 };
	char err[256];
	MDB_txn *txn;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/axle-sw-place-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, 64), 0);
	assert_int_equal(mdb_env_set_mapsize(f->env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(f->env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	assert_int_equal(registry_db_open(txn, REGION, &f->db, &res), REGISTRY_OK);
	assert_int_equal(sw_queue_lmdb_open(f->env, txn, &f->sw.q, err,
	    sizeof(err)), 0);
	onboard(txn, f, "rcv");
	assert_int_equal(mdb_txn_commit(txn), 0);
	f->ctx = (struct sw_ctx){
		.region = REGION,
		.db = &f->db,
		.sw = &f->sw,
		.next_hop = next_hop,
		.open_case = open_case,
		.node = NULL,
	};
	f->sw.ctx = f->ctx;
	the_fx = f;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	sw_queue_close(f->sw.q);
	mdb_env_close(f->env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Places message n to `to` in a write of its own; returns where it went. */
/* A note from uk.test.rcv.hub to `to`: id[16] and payload[0..plen) are the caller's. */
static void
note_of(Axle__V1__Envelope *e, uint8_t *id, const char *to, uint8_t *payload,
    size_t plen, Axle__V1__FailurePolicy pol)
{
	axle__v1__envelope__init(e);
	e->message_id.data = id;
	e->message_id.len = 16;
	e->sender = "uk.test.rcv.hub";
	e->recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e->to = (char *)to;
	e->message_type = "note.v1";
	e->created_ms = NOW;
	e->hop_limit = 16;
	e->failure_policy = pol;
	e->content_type = "text/plain";
	e->payload.data = payload;
	e->payload.len = plen;
}

static struct sw_placed
place(struct fx *f, unsigned n, const char *to, Axle__V1__FailurePolicy pol)
{
	Axle__V1__Envelope e;
	uint8_t id[16] = { 0x5c }, payload[4] = { 'p', (uint8_t)n, 0, 0 };
	struct sw_placed out;
	struct sw_wctx c;
	MDB_txn *txn;

	id[7] = (uint8_t)n;
	id[15] = 0x01;
	note_of(&e, id, to, payload, sizeof(payload), pol);
	memset(&out, 0, sizeof(out));
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	sw_wctx_init(&c, &f->ctx, txn, NOW, NULL);
	if (sw_place(&c, &e, false, &out) != 0)
		fail_msg("sw_place: %s", c.err);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return out;
}

/* A delegated address of this region: its registrar's mailbox. */
static void
test_local_mailbox(void **state)
{
	struct fx *f = *state;
	struct sw_placed p = place(f, 1, "uk.test.rcv.desk",
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);

	assert_int_equal(p.state, SW_STATE_MAILBOX);
	assert_string_equal(p.where, "rcv");
	assert_false(p.duplicate);
	assert_int_equal(f->seen.cases, 0);
	/* The same id again: recognised, not stored twice. */
	p = place(f, 1, "uk.test.rcv.desk",
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);
	assert_true(p.duplicate);
}

/* A configured peer's region (the next_hop hook): that peer's outbox. */
static void
test_peer_outbox(void **state)
{
	struct fx *f = *state;
	struct sw_placed p = place(f, 2, PEER ".x.desk",
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);

	assert_int_equal(p.state, SW_STATE_OUTBOX);
	assert_string_equal(p.where, PEER);
	assert_true(f->seen.peer_asks > 0);
	assert_int_equal(f->seen.cases, 0);
}

/* Nobody under this region holds it: the failure policy opens a case (the open_case hook). */
static void
test_undeliverable_escalates(void **state)
{
	struct fx *f = *state;
	struct sw_placed p = place(f, 3, "uk.test.nobody.desk",
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);

	assert_int_equal(p.state, SW_STATE_RECOURSE);
	assert_int_equal(f->seen.cases, 1);
	assert_string_equal(p.case_id, "case-1");
	assert_true(f->seen.case_detail[0] != '\0');
}

/* rcv publishes a switch service at uk.test.rcv.care taking only early-help. */
static void
publish_care(struct fx *f)
{
	struct registry_change ch = { "axle://fame-test/admin/uk.test/t", NOW };
	Axle__V1__PublishServiceRequest req = AXLE__V1__PUBLISH_SERVICE_REQUEST__INIT;
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT;
	struct registry_outcome res = { 0 };
	char *purposes[] = { "early-help" };
	MDB_txn *txn;

	s.name = "care";
	s.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH;
	s.address = "uk.test.rcv.care";
	s.purposes = purposes;
	s.n_purposes = 1;
	req.registrar_id = "rcv";
	req.service = &s;
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	assert_int_equal(registry_db_publish_service(txn, &f->db, &ch, &req,
	    REGISTRY_ANY_VERSION, NULL, &res), REGISTRY_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Message n to uk.test.rcv.care under purpose, Send-like (by_status) or not. */
static struct sw_placed
place_purpose(struct fx *f, unsigned n, const char *purpose, bool by_status,
    bool *seen)
{
	Axle__V1__Envelope e;
	uint8_t id[16] = { 0x5e }, payload[2] = { 'p', (uint8_t)n };
	struct sw_placed out;
	struct sw_wctx c;
	MDB_txn *txn;

	id[7] = (uint8_t)n;
	note_of(&e, id, "uk.test.rcv.care:case-9", payload, sizeof(payload),
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);
	e.purpose = (char *)purpose;
	memset(&out, 0, sizeof(out));
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	sw_wctx_init(&c, &f->ctx, txn, NOW, NULL);
	c.refuse_by_status = by_status;
	if (sw_place(&c, &e, false, &out) != 0)
		fail_msg("sw_place: %s", c.err);
	assert_int_equal(sw_queue_seen(&c.t, id, seen, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return out;
}

/*
 * Purpose-bound services at placement: a purpose the recipient service does
 * not take ends the message here (DISCARDED, "refused: ...", no case, a
 * REFUSED receipt to its sender, counted); Send-like, nothing is written;
 * the accepted purpose is delivered.
 */
static void
test_purpose_refused(void **state)
{
	struct fx *f = *state;
	struct sw_placed p;
	bool seen = false;

	publish_care(f);
	p = place_purpose(f, 1, "safeguarding-s47", false, &seen);
	assert_false(p.refused);
	assert_int_equal(p.state, SW_STATE_DISCARDED);
	assert_non_null(strstr(p.where, "refused: purpose \"safeguarding-s47\" is "
	    "not accepted by service \"care\" of registrar rcv (it accepts: "
	    "early-help)"));
	assert_true(seen);
	assert_int_equal(f->seen.cases, 0);
	assert_int_equal(atomic_load(&f->sw.refused[SW_REFUSE_PURPOSE_REFUSED]), 1);
	/* Its sender's REFUSED receipt, in rcv's mailbox (the sender is rcv's). */
	assert_int_equal(atomic_load(&f->sw.ev[SW_EV_RECEIPTS]), 1);
	/* No purpose: missing. */
	p = place_purpose(f, 2, "", false, &seen);
	assert_int_equal(p.state, SW_STATE_DISCARDED);
	assert_int_equal(atomic_load(&f->sw.refused[SW_REFUSE_PURPOSE_MISSING]), 1);
	/* Taken and ended here: both counted as accepted, like a case. */
	assert_int_equal(atomic_load(&f->sw.ev[SW_EV_ACCEPTED]), 2);
	/* As Send places it: refused, nothing written, not accepted. */
	p = place_purpose(f, 3, "safeguarding-s47", true, &seen);
	assert_true(p.refused);
	assert_int_equal(p.refusal, SW_REFUSE_PURPOSE_REFUSED);
	assert_false(seen);
	assert_int_equal(atomic_load(&f->sw.ev[SW_EV_ACCEPTED]), 2);
	/* The purpose it takes: delivered. */
	p = place_purpose(f, 4, "early-help", true, &seen);
	assert_false(p.refused);
	assert_int_equal(p.state, SW_STATE_MAILBOX);
	assert_string_equal(p.where, "rcv");
	assert_int_equal(atomic_load(&f->sw.refused[SW_REFUSE_PURPOSE_REFUSED]), 2);
}

/*
 * Writes (puts and deletes) of the switch's queues per Send, counted by the
 * fault wrapper: to a peer's outbox with a delivery deadline (the usual
 * Send of a hub at a leaf node), and into a local mailbox (with the
 * sender's DELIVERED receipt). A regression guard for issue 14's "few
 * writes per Send"; the numbers are printed for the record.
 */
static unsigned
send_writes(struct fx *f, unsigned n, const char *to)
{
	Axle__V1__Envelope e;
	uint8_t id[16] = { 0x5d }, payload[1024] = { 0 }, digest[SW_DIGEST_LEN] = { 7 };
	struct sw_placed out;
	struct sw_wctx c;
	MDB_txn *txn;

	id[7] = (uint8_t)n;
	note_of(&e, id, to, payload, sizeof(payload),
	    AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE);
	e.deliver_by_ms = NOW + 86400000;
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	sw_wctx_init(&c, &f->ctx, txn, NOW, NULL);
	sw_queue_fault_arm(f->sw.q, 0);
	if (sw_place_digest(&c, &e, digest, &out) != 0)
		fail_msg("sw_place_digest: %s", c.err);
	assert_false(out.duplicate);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return sw_queue_fault_writes(f->sw.q);
}

static void
test_writes_per_send(void **state)
{
	struct fx *f = *state;
	unsigned outbox, mailbox;

	assert_non_null(f->sw.q = sw_queue_fault_new(f->sw.q));
	f->sw.ctx.sw = &f->sw;
	outbox = send_writes(f, 1, PEER ".x.desk");
	mailbox = send_writes(f, 2, "uk.test.rcv.desk");
	print_message("switch writes per Send: %u to an outbox, %u into a "
	    "local mailbox (with its DELIVERED receipt)\n", outbox, mailbox);
	/* seq, mark (with digest), record, entry, counter, parties, deadline */
	assert_true(outbox <= 7);
	assert_true(mailbox <= 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_local_mailbox, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_peer_outbox, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_undeliverable_escalates, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_writes_per_send, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_purpose_refused, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
