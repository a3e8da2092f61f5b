/* test_h2_bidi.c -- client-streaming (bidirectional) calls through the HTTP/2 session: reflection's ServerReflectionInfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/net/log.h"
#include "gateway/net/rpc.h"
#include "tests/unit/gateway/net/h2_harness.h"

#define MEMBER_URI	"axle://fame-test/member/uk.london.hub"
#define NODE_URI	"axle://fame-test/node/uk.leeds"
#define REFLECT		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
#define GRPC_CT		"application/grpc"

/* ServerReflectionRequest{list_services: ""}: field 7, length 0. */
static const uint8_t list_services[] = { 0x3a, 0x00 };

static int
setup(void **state)
{
	for (size_t i = 0; i < net_rpc_count(); i++)
		memset(net_rpc_stats_at(i), 0, sizeof(struct net_rpc_stats));
	net_log_set_level(NET_LOG_ERR);
	*state = h2h_new();
	return *state == NULL ? -1 : 0;
}


static uint64_t
reflect_count(int status)
{
	size_t idx;

	assert_non_null(net_rpc_lookup(REFLECT, strlen(REFLECT), &idx));
	return net_rpc_stats_at(idx)->by_status[status];
}

/* gRPC messages in a response body. */
static size_t
messages(const struct h2h_stream *st)
{
	size_t n = 0;

	for (size_t off = 0; off + GRPC_FRAME_HDR <= st->len; n++)
		off += GRPC_FRAME_HDR + ((size_t)st->data[off + 1] << 24 |
		    (size_t)st->data[off + 2] << 16 | (size_t)st->data[off + 3] << 8 |
		    st->data[off + 4]);
	return n;
}

/* The answer comes while the request is still open; the call ends OK after it ends. */
static void
test_answered_before_the_request_ends(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	uint8_t body[16];
	size_t len = h2h_grpc(body, list_services, sizeof(list_services));
	int32_t id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len, 0);
	struct h2h_stream *st;

	assert_true(id > 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->status, 200);
	assert_int_equal(messages(st), 1);
	assert_int_equal(st->net_grpc_status, -1);	/* not ended */
	assert_false(st->end_stream);
	assert_int_equal(h2h_end_body(h, id), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(st->net_grpc_status, GRPC_OK);
	assert_true(st->end_stream);
	assert_int_equal(messages(st), 1);
	assert_int_equal(reflect_count(GRPC_OK), 1);
}

/* Several requests in one DATA frame, and one split across two: one answer each, in order. */
static void
test_many_and_split(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	uint8_t body[64];
	size_t len = 0;
	struct h2h_stream *st;
	int32_t id;

	for (int i = 0; i < 4; i++)
		len += h2h_grpc(body + len, list_services, sizeof(list_services));
	id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len - 3, 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(messages(st), 3);	/* the 4th is not whole yet */
	st->req = body + len - 3;		/* its last 3 bytes, then the end */
	st->req_off = 0;
	st->req_len = 3;
	assert_int_equal(h2h_end_body(h, id), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(messages(st), 4);
	assert_int_equal(st->net_grpc_status, GRPC_OK);
}

/* The client resets the stream mid-call: the transport ends the call (counted, freed: ASan). */
static void
test_reset_mid_call(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	uint8_t body[16];
	size_t len = h2h_grpc(body, list_services, sizeof(list_services));
	int32_t id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len, 0);

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(messages(h2h_stream(h, id)), 1);
	assert_int_equal(nghttp2_submit_rst_stream(h->client, NGHTTP2_FLAG_NONE, id,
	    NGHTTP2_CANCEL), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(reflect_count(GRPC_CANCELLED), 1);
	assert_int_equal(net_h2_streams(h->h2), 0);
}

/* A request that does not unpack ends the call; a truncated last frame too. */
static void
test_bad_messages(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const uint8_t junk[] = { 0x3a, 0x7f };	/* length past the end */
	uint8_t body[32];
	size_t len = h2h_grpc(body, junk, sizeof(junk));
	int32_t id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len, 0);
	struct h2h_stream *st;

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->net_grpc_status, GRPC_INVALID_ARGUMENT);
	len = h2h_grpc(body, list_services, sizeof(list_services));
	id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len + 3, 1);
	body[len] = 0, body[len + 1] = 0, body[len + 2] = 0;	/* half a frame header */
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(messages(st), 1);
	assert_int_equal(st->net_grpc_status, GRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(st->grpc_message, "ended inside"));
}

/* Answers that wait unsent are bounded by max_message_size. */
static void
test_unsent_answers_bounded(void **state)
{
	struct h2h *h = *state;
	uint8_t body[7 * 40];
	size_t len = 0;
	struct h2h_stream *st;
	int32_t id;

	h->node.cfg.limits.max_message_size = 1024;	/* a listing is ~300 bytes */
	h = h2h_connected(state, MEMBER_URI);
	for (int i = 0; i < 40; i++)
		len += h2h_grpc(body + len, list_services, sizeof(list_services));
	id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len, 1);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->net_grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_true(messages(st) < 40);
}

/* The gate applies before the first message: a peer node may not reflect. */
static void
test_refused_before_any_message(void **state)
{
	struct h2h *h = h2h_connected(state, NODE_URI);
	uint8_t body[16];
	size_t len = h2h_grpc(body, list_services, sizeof(list_services));
	int32_t id = h2h_request(h, "POST", REFLECT, GRPC_CT, NULL, 0, body, len, 0);
	struct h2h_stream *st;

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	st = h2h_stream(h, id);
	assert_int_equal(st->net_grpc_status, GRPC_PERMISSION_DENIED);
	assert_int_equal(messages(st), 0);
}

/* Connect's forms cannot stream requests: refused, saying to use gRPC. */
static void
test_connect_refused(void **state)
{
	struct h2h *h = h2h_connected(state, MEMBER_URI);
	static const nghttp2_nv v = { (uint8_t *)"connect-protocol-version",
		(uint8_t *)"1", 24, 1, NGHTTP2_NV_FLAG_NONE };
	int32_t id = h2h_request(h, "POST", REFLECT, "application/connect+json", &v,
	    1, "{}", 2, 1);

	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_true(h2h_stream(h, id)->status >= 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answered_before_the_request_ends, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_many_and_split, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_reset_mid_call, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_unsent_answers_bounded, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_refused_before_any_message, setup, h2h_teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, h2h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
