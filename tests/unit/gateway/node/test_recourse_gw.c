/* test_recourse_gw.c -- recourse in the node: the escalation timer at the root and below it, hand-over failure kinds, the member's brief, metrics. */
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "gateway/net/client.h"
#include "gateway/node/escalate.h"
#include "gateway/net/grpc_status.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "tests/unit/gateway/node/node_harness.h"

/* --- a node without listeners: config, loop, store, peers, the module ------ */

struct h {
	char dir[NH_DIR_MAX];
	struct gw_node node;
};

struct h_conf {
	const char *parent, *parent_port;
	uint32_t deadline_ms;
};

static void
h_set_up(struct gw_config *c, void *arg)
{
	const struct h_conf *hc = arg;

	c->recourse.case_deadline_ms = hc->deadline_ms;
	c->recourse.retry_base_ms = 50;
	c->recourse.retry_cap_ms = 200;
	c->recourse.escalate_timeout_ms = 2000;
	if (hc->parent != NULL) {
		strcpy(c->parent, hc->parent);
		nh_peer(c, hc->parent, hc->parent, hc->parent_port);
	}
}

static void
h_start(struct h *h, const char *parent, const char *parent_port,
    uint32_t deadline_ms)
{
	struct h_conf hc = { parent, parent_port, deadline_ms };
	char err[512];

	nh_open(&h->node, h->dir, "/tmp/axle-recgw-XXXXXX", "uk.test", h_set_up,
	    &hc);
	if (gw_recourse_module.start(&h->node, err, sizeof(err)) != 0)
		fail_msg("start: %s", err);
}

static void
h_stop(struct h *h)
{
	gw_recourse_module.stop(&h->node);
	nh_close(&h->node, h->dir);
}

/* Runs the loop until pred(h) or 5 s. */
static int
h_run_until(struct h *h, int (*pred)(struct h *, void *), void *arg)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < 1000; i++) {
		event_base_loop(h->node.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (pred(h, arg))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

struct open_arg {
	struct gw_node *node;
	char id[RECOURSE_ID_MAX];
	int rc;
};

static int
open_write(MDB_txn *txn, struct store *st, void *arg)
{
	struct open_arg *o = arg;
	Axle__V1__Envelope env = AXLE__V1__ENVELOPE__INIT;
	uint8_t mid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	char err[256];

	(void)st;
	env.message_id.data = mid;
	env.message_id.len = sizeof(mid);
	env.sender = "uk.test.hub";
	env.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	env.to = "uk.nowhere.x";
	env.message_type = "referral.v2";
	o->rc = gw_recourse_open_txn(o->node, txn, &env,
	    AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS, "no such address",
	    gw_recourse_now_ms(), o->id, err, sizeof(err));
	return o->rc == RECOURSE_OK ? 0 : -1;
}

static void
h_open(struct h *h, char *id)
{
	struct open_arg o = { .node = &h->node };

	assert_int_equal(gw_store_write_now(h->node.store, open_write, &o), 0);
	assert_int_equal(o.rc, RECOURSE_OK);
	strcpy(id, o.id);
	gw_recourse_kick(&h->node);
}

static Axle__V1__Case *
h_case(struct h *h, const char *id)
{
	struct recourse_err e = { 0 };
	Axle__V1__Case *c = NULL;

	if (recourse_case_get(h->node.recourse->rc, NULL, id, &c, &e) != RECOURSE_OK)
		fail_msg("case %s: %s", id, e.msg);
	return c;
}

static int
has_kind(const Axle__V1__Case *c, int kind, const char **reason)
{
	for (size_t i = 0; i < c->n_history; i++)
		if ((int)c->history[i]->kind == kind) {
			if (reason != NULL)
				*reason = c->history[i]->reason;
			return 1;
		}
	return 0;
}

static char *
h_metrics(struct h *h)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	assert_non_null(b);
	gw_recourse_module.metrics(&h->node, b);
	n = evbuffer_get_length(b);
	assert_non_null(s = calloc(1, n + 1));
	evbuffer_remove(b, s, n);
	evbuffer_free(b);
	return s;
}

/* --- pure parts ---------------------------------------------------------------- */

static void
test_definite(void **state)
{
	(void)state;
	/* The parent answered a refusal: its handler replies after a commit only. */
	assert_int_equal(gw_escalate_definite(GRPC_FAILED_PRECONDITION,
	    "case uk.a/1: uk is already on this case's path"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_PERMISSION_DENIED, "x"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_UNIMPLEMENTED, ""), 1);
	assert_int_equal(gw_escalate_definite(GRPC_RESOURCE_EXHAUSTED, "full"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_INVALID_ARGUMENT, NULL), 1);
	/* Never sent. */
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE,
	    "connect to 127.0.0.1:1: Connection refused"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE,
	    "resolve nohost:1: Name or service not known"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE,
	    "server is axle://f/node/uk.x, expected axle://f/node/uk"), 1);
	assert_int_equal(gw_escalate_definite(GRPC_DEADLINE_EXCEEDED,
	    "deadline exceeded before the connection was up"), 1);
	/* Maybe delivered: unknown. */
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE,
	    "connection to 127.0.0.1:1: closed by server"), 0);
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE,
	    "stream reset by server: INTERNAL_ERROR"), 0);
	assert_int_equal(gw_escalate_definite(GRPC_DEADLINE_EXCEEDED,
	    "deadline exceeded"), 0);
	assert_int_equal(gw_escalate_definite(GRPC_UNAVAILABLE, NULL), 0);
	assert_int_equal(gw_escalate_definite(GRPC_CANCELLED, "client closed"), 0);
	assert_int_equal(gw_escalate_definite(GRPC_INTERNAL,
	    "stream closed without grpc-status"), 0);
	assert_int_equal(gw_escalate_definite(GRPC_UNKNOWN, ""), 0);
}

static void
test_delay(void **state)
{
	(void)state;
	assert_int_equal(gw_escalate_delay_ms(0, 1000, 0), 1000);
	assert_int_equal(gw_escalate_delay_ms(1500, 1000, 0), 500);
	assert_int_equal(gw_escalate_delay_ms(1003, 1000, 0), 10);
	assert_int_equal(gw_escalate_delay_ms(1000, 1000, 0), 10);
	assert_int_equal(gw_escalate_delay_ms(900, 1000, 0), 10);
	assert_int_equal(gw_escalate_delay_ms(900, 1000, 1), 1000);
	assert_int_equal(gw_escalate_delay_ms(1500, 1000, 1), 500);
	assert_int_equal(gw_escalate_delay_ms(INT64_MAX, 1000, 0), 1000);
}

static void
test_status_map(void **state)
{
	struct recourse_err e = { .store_rc = MDB_MAP_FULL };

	(void)state;
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_OK, NULL), GRPC_OK);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_EINVAL, NULL),
	    GRPC_INVALID_ARGUMENT);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_ENOTFOUND, NULL),
	    GRPC_NOT_FOUND);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_EPRECOND, NULL),
	    GRPC_FAILED_PRECONDITION);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_ELOOP, NULL),
	    GRPC_FAILED_PRECONDITION);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_ESTORE, &e),
	    GRPC_RESOURCE_EXHAUSTED);
	e.store_rc = EIO;
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_ESTORE, &e),
	    GRPC_UNAVAILABLE);
	assert_int_equal(gw_recourse_grpc_status(RECOURSE_ENOMEM, NULL),
	    GRPC_RESOURCE_EXHAUSTED);
}

/* The classifier agrees with what the real client reports for a refused connect. */
static void
test_definite_real_client(void **state)
{
	struct event_base *base = event_base_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct net_client *c;
	uint8_t *resp = NULL;
	size_t rlen = 0;
	char port[8], msg[512];
	int st;

	(void)state;
	nh_closed_port(port, sizeof(port));
	assert_non_null(c = net_client_new(base, ctx, "127.0.0.1", port, NULL));
	st = net_client_call_sync(c, base, "/axle.v1.Axle/Escalate",
	    (const uint8_t *)"", 0, 2000, &resp, &rlen, msg, sizeof(msg));
	assert_int_equal(st, GRPC_UNAVAILABLE);
	if (gw_escalate_definite(st, msg) != 1)
		fail_msg("refused connect classified as unknown: \"%s\"", msg);
	free(resp);
	net_client_free(c);
	SSL_CTX_free(ctx);
	event_base_free(base);
}

/* --- the module ------------------------------------------------------------------ */

static int
noted(struct h *h, void *arg)
{
	Axle__V1__Case *c = h_case(h, arg);
	int done = c->overdue_ms != 0;

	recourse_case_free(c);
	return done;
}

/* At the root an overdue case stays open, gets a DEADLINE entry, and is counted. */
static void
test_root_overdue(void **state)
{
	struct h h;
	char id[RECOURSE_ID_MAX], *m;
	Axle__V1__Case *c;
	int64_t t0;

	(void)state;
	h_start(&h, NULL, NULL, 100);
	t0 = gw_recourse_now_ms();
	h_open(&h, id);
	assert_string_equal(id, "uk.test/1");
	m = h_metrics(&h);
	/* The gauge is computed from the clock: only a read within the 100 ms
	 * deadline must show 0 (under valgrind opening alone may take longer). */
	if (gw_recourse_now_ms() - t0 < 100)
		assert_non_null(strstr(m, "axle_recourse_overdue_cases 0\n"));
	assert_non_null(strstr(m, "axle_recourse_cases{state=\"open\"} 1\n"));
	free(m);
	assert_true(h_run_until(&h, noted, id));
	c = h_case(&h, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_true(has_kind(c, AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_DEADLINE,
	    NULL));
	assert_false(has_kind(c, AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_HANDOVER,
	    NULL));
	assert_string_equal(c->escalating_to, "");
	recourse_case_free(c);
	m = h_metrics(&h);
	assert_non_null(strstr(m, "axle_recourse_overdue_cases 1\n"));
	assert_non_null(strstr(m,
	    "axle_recourse_escalations_total{result=\"ok\"} 0\n"));
	free(m);
	h_stop(&h);
}

static int
retried(struct h *h, void *arg)
{
	Axle__V1__Case *c = h_case(h, arg);
	int done = c->escalation_attempts >= 2;

	recourse_case_free(c);
	return done;
}

/*
 * Below the root, with the parent unreachable (nothing listens): the case
 * is handed over, the connect is refused (a definite failure), so it stays
 * open here, unlocked, and the hand-over is retried with backoff.
 */
static void
test_parent_unreachable(void **state)
{
	struct recourse_act_args a = { .actor = "axle://fame-test/admin/uk.test/ann",
	    .reason = "sender phoned: wrong address, will resend" };
	struct recourse_err e = { 0 };
	struct h h;
	char id[RECOURSE_ID_MAX], port[8], *m;
	const char *why = NULL;
	Axle__V1__Case *c;

	(void)state;
	nh_closed_port(port, sizeof(port));
	h_start(&h, "uk", port, 100);
	h_open(&h, id);
	assert_true(h_run_until(&h, retried, id));
	c = h_case(&h, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_true(has_kind(c, AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_HANDOVER,
	    NULL));
	assert_true(has_kind(c, AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_RETRY,
	    &why));
	if (strstr(why, "connect to 127.0.0.1") == NULL)
		fail_msg("retry reason: %s", why);
	assert_string_equal(c->escalating_to, "");	/* definite: unlocked */
	assert_true(c->next_attempt_ms > 0);
	recourse_case_free(c);
	m = h_metrics(&h);
	assert_null(strstr(m, "{result=\"refused\"} 0\n"));
	assert_non_null(strstr(m, "{result=\"unknown\"} 0\n"));
	free(m);
	/* Nothing is locked: an admin here can still resolve it. */
	assert_int_equal(recourse_case_act(h.node.recourse->rc, NULL, id,
	    RECOURSE_ACT_DISCARD, &a, gw_recourse_now_ms(), NULL, &e), RECOURSE_OK);
	h_stop(&h);
}

/* A member sees the status of a case only about a message it sent. */
static void
test_brief(void **state)
{
	struct net_identity mine, other, admin;
	struct gw_recourse_brief b;
	char id[RECOURSE_ID_MAX], err[256];
	struct h h;

	(void)state;
	assert_int_equal(net_identity_parse_uri("axle://fame-test/member/uk.test.hub",
	    35, &mine, err, sizeof(err)), 0);
	assert_int_equal(net_identity_parse_uri("axle://fame-test/member/uk.test.other",
	    37, &other, err, sizeof(err)), 0);
	assert_int_equal(net_identity_parse_uri("axle://fame-test/admin/uk.test/ann",
	    34, &admin, err, sizeof(err)), 0);
	h_start(&h, NULL, NULL, 60000);
	h_open(&h, id);
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, id, &mine, &b, err,
	    sizeof(err)), GRPC_OK);
	assert_string_equal(b.id, "uk.test/1");
	assert_int_equal(b.state, RECOURSE_ST_OPEN);
	assert_int_equal(b.reason, AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS);
	assert_int_equal(b.message_id_len, 16);
	assert_int_equal(b.message_id[15], 16);
	assert_true(b.deadline_ms > b.opened_ms);
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, "1", &mine, &b, err,
	    sizeof(err)), GRPC_OK);
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, id, &other, &b, err,
	    sizeof(err)), GRPC_PERMISSION_DENIED);
	assert_non_null(strstr(err, "not about a message of uk.test.other"));
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, id, &admin, &b, err,
	    sizeof(err)), GRPC_OK);
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, "uk.test/2", &mine,
	    &b, err, sizeof(err)), GRPC_NOT_FOUND);
	assert_int_equal(gw_recourse_case_brief(&h.node, NULL, "uk test/x", &mine,
	    &b, err, sizeof(err)), GRPC_INVALID_ARGUMENT);
	h_stop(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_definite),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_status_map),
		cmocka_unit_test(test_definite_real_client),
		cmocka_unit_test(test_root_overdue),
		cmocka_unit_test(test_parent_unreachable),
		cmocka_unit_test(test_brief),
	};

	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
