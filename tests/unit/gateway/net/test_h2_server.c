/* test_h2_server.c -- the HTTP/2 server session driven by an in-memory nghttp2 client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "axle/v1/node.pb-c.h"
#include "gateway/net/log.h"
#include "gateway/node/metrics.h"
#include "proto/pb.h"
#include "gateway/net/rpc.h"
#include "tests/unit/gateway/net/h2_harness.h"

#define MEMBER_URI	"axle://fame-test/member/uk.london.hub"
#define ADMIN_URI	"axle://fame-test/admin/uk.london/ops"
#define INFO		"/axle.v1.Node/Info"
#define GRPC_CT		"application/grpc"

static int
setup(void **state)
{
	/* Per-method counters are process-wide: each test starts from zero. */
	for (size_t i = 0; i < net_rpc_count(); i++)
		memset(net_rpc_stats_at(i), 0, sizeof(struct net_rpc_stats));
	net_rpc_unknown = 0;
	*state = h2h_new();
	return *state == NULL ? -1 : 0;
}


/* A unary call with body as the whole request; returns the stream after pumping. */
static struct h2h_stream *
call(struct h2h *h, const char *path, const nghttp2_nv *extra, size_t nextra,
    const void *body, size_t len)
{
	int32_t id = h2h_request(h, "POST", path, GRPC_CT, extra, nextra, body,
	    len, 1);

	assert_true(id > 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_non_null(h2h_stream(h, id));
	return h2h_stream(h, id);
}

static struct h2h_stream *
get(struct h2h *h, const char *path)
{
	int32_t id = h2h_request(h, "GET", path, NULL, NULL, 0, NULL, 0, 1);

	assert_true(id > 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	return h2h_stream(h, id);
}

/* An error the client sees as a gRPC trailers-only answer. */
static void
assert_grpc_error(const struct h2h_stream *st, int code, const char *needle)
{
	assert_int_equal(st->status, 200);
	assert_string_equal(st->ctype, GRPC_CT);
	assert_int_equal(st->net_grpc_status, code);
	assert_true(st->grpc_status_in_headers);
	assert_int_equal(st->len, 0);
	assert_true(st->end_stream);
	if (needle != NULL && strstr(st->grpc_message, needle) == NULL)
		fail_msg("grpc-message \"%s\" lacks \"%s\"", st->grpc_message, needle);
}

static struct net_rpc_stats *
info_stats(void)
{
	size_t i;

	assert_non_null(net_rpc_lookup(INFO, strlen(INFO), &i));
	return net_rpc_stats_at(i);
}

static const uint8_t empty_info[GRPC_FRAME_HDR] = { 0, 0, 0, 0, 0 };

/* --- successful calls ------------------------------------------------------ */

static void
test_info_member(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	struct h2h_stream *st = call(h, INFO, NULL, 0, empty_info, sizeof(empty_info));
	const uint8_t *msg;
	size_t msglen, framelen;
	Axle__V1__InfoResponse *r;
	char err[256];

	assert_int_equal(st->status, 200);
	assert_string_equal(st->ctype, GRPC_CT);
	assert_int_equal(st->header_frames, 2);		/* headers, then trailers */
	assert_false(st->grpc_status_in_headers);
	assert_int_equal(st->net_grpc_status, 0);
	assert_true(st->end_stream);
	assert_false(st->rst);
	assert_int_equal(net_grpc_frame_decode(st->data, st->len, 1 << 20, &msg,
	    &msglen, &framelen), GRPC_FRAME_OK);
	assert_int_equal(framelen, st->len);		/* exactly one message */
	r = (Axle__V1__InfoResponse *)pb_unpack(&axle__v1__info_response__descriptor,
	    msg, msglen, 1 << 20, err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(r->federation, "fame-test");
	assert_string_equal(r->region, "uk.london");
	assert_string_equal(r->caller, MEMBER_URI);
	assert_string_equal(r->caller_role, "member");
	assert_string_equal(r->version, AXLE_VERSION);
	pb_free(&r->base);
	assert_int_equal(info_stats()->by_status[GRPC_OK], 1);
	assert_int_equal(net_h2_streams(h->h2), 0);	/* closed and freed */
	assert_int_equal(h->goaways, 0);
}

static void
test_info_with_valid_timeout(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	nghttp2_nv to = { (uint8_t *)"grpc-timeout", (uint8_t *)"5S", 12, 2,
		NGHTTP2_NV_FLAG_NONE };
	struct h2h_stream *st = call(h, INFO, &to, 1, empty_info, sizeof(empty_info));

	assert_int_equal(st->net_grpc_status, 0);
	assert_true(st->len > GRPC_FRAME_HDR);
}

static void
test_many_calls_one_connection(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t ids[20];

	for (int i = 0; i < 20; i++)
		ids[i] = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info,
		    sizeof(empty_info), 1);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	for (int i = 0; i < 20; i++) {
		struct h2h_stream *st = h2h_stream(h, ids[i]);

		assert_int_equal(st->net_grpc_status, 0);
		assert_true(st->len > GRPC_FRAME_HDR);
	}
	assert_int_equal(info_stats()->by_status[GRPC_OK], 20);
	assert_int_equal(net_h2_streams(h->h2), 0);
}

/*
 * A quiet connection gives its frame buffer back (an idle hub or axle then
 * costs little, issue 15) and serves as before once it speaks again: the
 * pages come back zeroed and nghttp2 writes before it reads them.
 */
static void
test_quiet_releases_frame_buffer(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);

	for (int round = 0; round < 3; round++) {
		struct h2h_stream *st = call(h, INFO, NULL, 0, empty_info,
		    sizeof(empty_info));

		assert_int_equal(st->net_grpc_status, 0);
		assert_true(net_h2_resident(h->h2) > 0);	/* frames were written */
		assert_true(net_h2_quiet(h->h2) >= 16384);
		assert_int_equal(net_h2_resident(h->h2), 0);
		assert_int_equal(net_h2_quiet(h->h2), 0);	/* once per quiet spell */
	}
	assert_int_equal(info_stats()->by_status[GRPC_OK], 3);
}

/* Nothing is released while frames wait to go out. */
static void
test_quiet_keeps_pending_output(void **state)
{
	struct h2h *h = *state;

	assert_int_equal(h2h_connect(h, MEMBER_URI), 0);
	/* The server's SETTINGS are queued, not yet written out. */
	assert_int_equal(net_h2_quiet(h->h2), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_true(net_h2_quiet(h->h2) > 0);
}

/* --- refused calls ---------------------------------------------------------- */

static void
test_unknown_method(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	struct h2h_stream *st = call(h, "/axle.v1.Nope/Frob", NULL, 0, empty_info,
	    sizeof(empty_info));

	assert_grpc_error(st, GRPC_UNIMPLEMENTED, "/axle.v1.Nope/Frob");
	assert_int_equal(net_rpc_unknown, 1);
}

static void
test_wrong_content_type(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t id = h2h_request(h, "POST", INFO, "text/plain", NULL, 0,
	    empty_info, sizeof(empty_info), 1);
	struct h2h_stream *st;

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->status, 415);
	assert_int_equal(st->net_grpc_status, -1);
	assert_non_null(strstr((char *)st->data, "application/grpc"));
	assert_int_equal(info_stats()->by_status[GRPC_OK], 0);
}

static void
test_other_federation_denied(void **state)
{
	struct h2h *h = h2h_connected(state, "axle://other-fed/member/uk.x");
	struct h2h_stream *st = call(h, INFO, NULL, 0, empty_info, sizeof(empty_info));

	assert_grpc_error(st, GRPC_PERMISSION_DENIED, "other-fed");
	assert_int_equal(info_stats()->by_status[GRPC_PERMISSION_DENIED], 1);
}

static void
test_empty_body(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t id = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, NULL, 0, 1);

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_grpc_error(h2h_stream(h, id), GRPC_INVALID_ARGUMENT, "no message");
}

static void
test_truncated_frame(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t b[] = { 0, 0, 0, 0, 10, 1, 2, 3 };

	assert_grpc_error(call(h, INFO, NULL, 0, b, sizeof(b)),
	    GRPC_INVALID_ARGUMENT, "8 bytes received");
}

static void
test_compressed(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t b[] = { 1, 0, 0, 0, 0 };

	assert_grpc_error(call(h, INFO, NULL, 0, b, sizeof(b)),
	    GRPC_UNIMPLEMENTED, "compressed");
}

static void
test_bad_flag(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t b[] = { 2, 0, 0, 0, 0 };

	assert_grpc_error(call(h, INFO, NULL, 0, b, sizeof(b)),
	    GRPC_INVALID_ARGUMENT, "flag");
}

static void
test_two_frames(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t b[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	assert_grpc_error(call(h, INFO, NULL, 0, b, sizeof(b)),
	    GRPC_INVALID_ARGUMENT, "exactly one");
	assert_int_equal(info_stats()->by_status[GRPC_OK], 0);
}

static void
test_bad_protobuf(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t b[] = { 0, 0, 0, 0, 3, 0xff, 0xff, 0xff };
	struct h2h_stream *st = call(h, INFO, NULL, 0, b, sizeof(b));

	assert_grpc_error(st, GRPC_INVALID_ARGUMENT, "not a valid axle.v1.InfoRequest: ");
	/* The reason after the colon is pb_unpack's, not empty. */
	assert_true(strlen(strstr(st->grpc_message, ": ")) > 2);
}

static void
test_body_too_big(void **state)
{
	struct h2h *h = *state;
	static uint8_t b[2000];
	struct h2h_stream *st;

	h->node.cfg.limits.max_message_size = 1024;
	h2h_connected(state, MEMBER_URI);
	net_grpc_frame_header(b, sizeof(b) - GRPC_FRAME_HDR);
	st = call(h, INFO, NULL, 0, b, sizeof(b));
	assert_grpc_error(st, GRPC_RESOURCE_EXHAUSTED, "1024 bytes");
	assert_false(st->rst);		/* the request had ended: nothing to stop */
	assert_int_equal(h->goaways, 0);
	assert_int_equal(h->server_rc, 0);
}

static void
test_declared_too_big(void **state)
{
	struct h2h *h = *state;
	/* Small body, but its frame header claims more than the limit. */
	static const uint8_t b[] = { 0, 0, 0, 0x10, 0, 1, 2, 3 };

	h->node.cfg.limits.max_message_size = 1024;
	h2h_connected(state, MEMBER_URI);
	assert_grpc_error(call(h, INFO, NULL, 0, b, sizeof(b)),
	    GRPC_RESOURCE_EXHAUSTED, "1024 bytes");
}

static void
test_bad_timeout(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	nghttp2_nv to = { (uint8_t *)"grpc-timeout", (uint8_t *)"soon", 12, 4,
		NGHTTP2_NV_FLAG_NONE };

	assert_grpc_error(call(h, INFO, &to, 1, empty_info, sizeof(empty_info)),
	    GRPC_INVALID_ARGUMENT, "grpc-timeout");
}

/* --- plain HTTP ------------------------------------------------------------------- */

static void
test_healthz(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	struct h2h_stream *st = get(h, "/healthz");

	assert_int_equal(st->status, 200);
	assert_int_equal(st->len, 3);
	assert_memory_equal(st->data, "ok\n", 3);
	h->node.draining = 1;
	st = get(h, "/healthz");
	assert_int_equal(st->status, 503);
	assert_int_equal(h->node.ctr.http_requests, 2);
}

/* /metrics lists every registrar's counts: members get 403, admins the exposition. */
static void
test_metrics_refused_to_members(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	struct h2h_stream *st = get(h, "/metrics");

	assert_int_equal(st->status, 403);
	assert_non_null(st->data);
	assert_null(strstr((char *)st->data, "axle_"));
	assert_non_null(strstr((char *)st->data, MEMBER_URI));
}

static void
test_metrics(void **state)
{
	struct h2h *h = h2h_connected(state, ADMIN_URI);
	struct h2h_stream *st;

	assert_int_equal(call(h, INFO, NULL, 0, empty_info,
	    sizeof(empty_info))->net_grpc_status, 0);
	st = get(h, "/metrics");
	assert_int_equal(st->status, 200);
	assert_non_null(st->data);
	assert_non_null(strstr((char *)st->data,
	    "axle_rpc_total{method=\"/axle.v1.Node/Info\",code=\"OK\"} 1\n"));
	assert_non_null(strstr((char *)st->data,
	    "axle_info{federation=\"fame-test\",region=\"uk.london\""));
}

static void
test_head_has_no_body(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t id = h2h_request(h, "HEAD", "/healthz", NULL, NULL, 0, NULL, 0, 1);
	struct h2h_stream *st;

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->status, 200);
	assert_int_equal(st->len, 0);
	assert_true(st->closed);
	assert_int_equal(st->close_code, NGHTTP2_NO_ERROR);	/* client saw no protocol error */
}

static void
test_not_found_and_bad_method(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	struct h2h_stream *st = get(h, "/nope");
	int32_t id;

	assert_int_equal(st->status, 404);
	assert_true(st->len > 0);
	id = h2h_request(h, "DELETE", "/healthz", NULL, NULL, 0, NULL, 0, 1);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h2h_stream(h, id)->status, 405);
}

/* --- connection limits ------------------------------------------------------------- */

static void
test_header_list_goaway(void **state)
{
	struct h2h *h = *state;
	static char pad[1000];
	nghttp2_nv big[3];
	int32_t id;

	h->node.cfg.limits.max_header_list = 2048;
	h2h_connected(state, MEMBER_URI);
	memset(pad, 'x', sizeof(pad));
	for (int i = 0; i < 3; i++)
		big[i] = (nghttp2_nv){ (uint8_t *)(i == 0 ? "x-pad-a" : i == 1 ?
		    "x-pad-b" : "x-pad-c"), (uint8_t *)pad, 7, sizeof(pad),
		    NGHTTP2_NV_FLAG_NONE };
	id = h2h_request(h, "POST", INFO, GRPC_CT, big, 3, empty_info,
	    sizeof(empty_info), 1);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_HEADER_LIST], 1);
	assert_int_equal(info_stats()->by_status[GRPC_OK], 0);
	assert_int_equal(h2h_stream(h, id)->status, 0);	/* never answered */
	assert_false(net_h2_want_read(h->h2));
}

static void
test_empty_data_flood(void **state)
{
	struct h2h *h = *state;
	uint8_t f[9];
	int32_t id;

	h->node.cfg.limits.max_empty_data = 10;
	h2h_connected(state, MEMBER_URI);
	/* An open stream: headers without END_STREAM, body deferred. */
	id = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info, 0, 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(net_h2_streams(h->h2), 1);
	h2h_frame(f, NGHTTP2_DATA, NGHTTP2_FLAG_NONE, id, NULL, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(h2h_raw(h, f, sizeof(f)), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 0);		/* 10 are allowed */
	for (int i = 0; i < 5; i++)
		h2h_raw(h, f, sizeof(f));
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_EMPTY_DATA], 1);
}

static void
test_rst_sent_guard(void **state)
{
	struct h2h *h = *state;
	static uint8_t b[2000];
	int32_t ids[8];

	h->node.cfg.limits.max_message_size = 1024;
	h->node.cfg.limits.max_rst_sent = 5;
	h2h_connected(state, MEMBER_URI);
	net_grpc_frame_header(b, sizeof(b) - GRPC_FRAME_HDR);
	/* Each request is answered early and reset while the client still sends. */
	for (int i = 0; i < 5; i++) {
		struct h2h_stream *st;

		ids[i] = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, b,
		    sizeof(b), 0);
		assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
		st = h2h_stream(h, ids[i]);
		assert_int_equal(st->net_grpc_status, GRPC_RESOURCE_EXHAUSTED);
		assert_true(st->rst);
		assert_int_equal(st->rst_code, NGHTTP2_NO_ERROR);
	}
	assert_int_equal(h->goaways, 0);
	ids[5] = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, b, sizeof(b), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_RST_SENT], 1);
}

/* Answered early while the client still sends: response first, then RST_STREAM. */
static void
test_early_answer_then_reset(void **state)
{
	struct h2h *h = *state;
	static uint8_t b[2000];
	struct h2h_stream *st;
	int32_t id;

	h->node.cfg.limits.max_message_size = 1024;
	h2h_connected(state, MEMBER_URI);
	net_grpc_frame_header(b, sizeof(b) - GRPC_FRAME_HDR);
	id = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, b, sizeof(b), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_grpc_error(st, GRPC_RESOURCE_EXHAUSTED, "1024 bytes");
	assert_true(st->rst);
	assert_int_equal(st->rst_code, NGHTTP2_NO_ERROR);
	assert_int_equal(net_h2_streams(h->h2), 0);
	assert_int_equal(h->goaways, 0);
}

static void
test_outbound_queue(void **state)
{
	struct h2h *h = *state;

	h->node.cfg.limits.max_outbound_queue = 8;
	h2h_connected(state, MEMBER_URI);
	for (int i = 0; i < 20; i++)
		assert_true(h2h_request(h, "GET", "/healthz", NULL, NULL, 0, NULL,
		    0, 1) > 0);
	/* The client writes but never reads: answers pile up in the server. */
	h2h_client_to_server(h);
	assert_int_equal(h->server_rc, -1);
	assert_int_equal(h->node.ctr.goaway[NET_GA_OUTBOUND_QUEUE], 1);
	assert_true(net_h2_done(h->h2));
	h2h_server_to_client(h);		/* it reads at last: the GOAWAY is there */
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
}

static void
test_control_flood(void **state)
{
	struct h2h *h = *state;

	h->node.cfg.limits.max_control_frames = 10;
	h2h_connected(state, MEMBER_URI);	/* its SETTINGS is one */
	for (int i = 0; i < 9; i++) {
		assert_int_equal(nghttp2_submit_ping(h->client, NGHTTP2_FLAG_NONE,
		    NULL), 0);
		assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	}
	assert_int_equal(h->goaways, 0);
	assert_int_equal(nghttp2_submit_ping(h->client, NGHTTP2_FLAG_NONE, NULL), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_CONTROL_FLOOD], 1);
}

/* CVE-2023-44487: streams opened and reset at once, over nghttp2's burst of 200. */
static void
test_rapid_reset(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t ids[50];

	for (int round = 0; round < 6 && h->goaways == 0; round++) {
		for (int i = 0; i < 50; i++)
			ids[i] = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0,
			    empty_info, 0, 0);
		assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
		for (int i = 0; i < 50; i++)
			nghttp2_submit_rst_stream(h->client, NGHTTP2_FLAG_NONE,
			    ids[i], NGHTTP2_CANCEL);
		assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	}
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_RAPID_RESET], 1);
	assert_int_equal(h->node.ctr.goaway[NET_GA_PROTOCOL], 0);
	assert_true(net_h2_done(h->h2));
}

/*
 * HEADERS without END_HEADERS, then empty CONTINUATION frames past
 * nghttp2's limit: the peer gets GOAWAY ENHANCE_YOUR_CALM before the end,
 * and the count says what was sent (issue 12, item 9).
 */
static void
test_continuation_flood(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	uint8_t f[9];
	int i, rc = 0;

	h2h_frame(f, NGHTTP2_HEADERS, NGHTTP2_FLAG_NONE, 1, NULL, 0);
	assert_int_equal(h2h_raw(h, f, sizeof(f)), 0);
	h2h_frame(f, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_NONE, 1, NULL, 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = h2h_raw(h, f, sizeof(f));
	assert_int_equal(rc, -1);
	h2h_server_to_client(h);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(h->node.ctr.goaway[NET_GA_CONTINUATION], 1);
	assert_int_equal(h->node.ctr.goaway[NET_GA_PROTOCOL], 0);
	assert_true(net_h2_done(h->h2));
	/* Nothing follows the GOAWAY, however often the owner asks. */
	assert_int_equal(net_h2_flush(h->h2, 1 << 20), -1);
	assert_int_equal(evbuffer_get_length(h->out), 0);
}

static void
test_garbage_preface(void **state)
{
	struct h2h *h = *state;
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	assert_int_equal(h2h_connect(h, MEMBER_URI), 0);
	h2h_server_to_client(h);	/* our SETTINGS go out first, as conn.c does */
	assert_int_equal(h2h_raw(h, junk, sizeof(junk) - 1), -1);
	assert_int_equal(h->node.ctr.goaway[NET_GA_PROTOCOL], 1);
	assert_true(net_h2_done(h->h2));
	h2h_server_to_client(h);
	assert_int_equal(h->goaways, 1);	/* said, not only counted */
	assert_int_equal(h->goaway_code, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(net_h2_recv(h->h2, (const uint8_t *)"x", 1), -1);	/* stays dead */
}

static void
test_shutdown_lets_inflight_finish(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t id, late;
	struct h2h_stream *st;

	id = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info,
	    sizeof(empty_info), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(net_h2_streams(h->h2), 1);
	net_h2_shutdown(h->h2);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(h->goaway_last_stream, id);
	assert_int_equal(h->node.ctr.goaway[NET_GA_SHUTDOWN], 1);
	/* The open call still completes. */
	assert_int_equal(h2h_end_body(h, id), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->net_grpc_status, 0);
	assert_true(st->len > GRPC_FRAME_HDR);
	/* A new stream is not served. */
	late = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info,
	    sizeof(empty_info), 1);
	h2h_pump(h);
	if (late > 0)
		assert_int_equal(h2h_stream(h, late)->net_grpc_status, -1);
	assert_int_equal(info_stats()->by_status[GRPC_OK], 1);
	assert_true(net_h2_done(h->h2));
}

static void
test_idle(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	int32_t id = h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info,
	    sizeof(empty_info), 0);

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	/* An unfinished request waits on the silent peer: it does not keep the connection. */
	assert_true(id > 0);
	assert_int_equal(net_h2_streams(h->h2), 1);
	assert_int_equal(net_h2_idle(h->h2), 1);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->goaways, 1);
	assert_int_equal(h->goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(h->node.ctr.goaway[NET_GA_IDLE], 1);
	assert_true(net_h2_done(h->h2));
}

static void
test_free_with_open_stream(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);

	/* Teardown frees the session with this stream still open: ASan checks. */
	assert_true(h2h_request(h, "POST", INFO, GRPC_CT, NULL, 0, empty_info,
	    3, 0) > 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(net_h2_streams(h->h2), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h2h_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_info_member),
		T(test_info_with_valid_timeout),
		T(test_many_calls_one_connection),
		T(test_quiet_releases_frame_buffer),
		T(test_quiet_keeps_pending_output),
		T(test_unknown_method),
		T(test_wrong_content_type),
		T(test_other_federation_denied),
		T(test_empty_body),
		T(test_truncated_frame),
		T(test_compressed),
		T(test_bad_flag),
		T(test_two_frames),
		T(test_bad_protobuf),
		T(test_body_too_big),
		T(test_declared_too_big),
		T(test_bad_timeout),
		T(test_healthz),
		T(test_metrics),
		T(test_metrics_refused_to_members),
		T(test_head_has_no_body),
		T(test_not_found_and_bad_method),
		T(test_header_list_goaway),
		T(test_empty_data_flood),
		T(test_rst_sent_guard),
		T(test_early_answer_then_reset),
		T(test_outbound_queue),
		T(test_control_flood),
		T(test_rapid_reset),
		T(test_continuation_flood),
		T(test_garbage_preface),
		T(test_shutdown_lets_inflight_finish),
		T(test_idle),
		T(test_free_with_open_stream),
	};

	net_log_set_level(NET_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
