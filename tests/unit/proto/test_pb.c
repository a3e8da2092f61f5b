/* test_pb.c -- bounded protobuf unpack/pack: round trips, malformed wire, depth, memory, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pb.h"
#include "axle/v1/axle.pb-c.h"
#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/node.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "axle/v1/switch.pb-c.h"

#define MAX (1u << 20)

static char err[256];

static ProtobufCMessage *
unpack(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len)
{
	memset(err, 'x', sizeof(err));
	return pb_unpack(d, b, len, MAX, err, sizeof(err));
}

/* Asserts b[0..len) is refused as d with a reason containing want. */
static void
refused(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len,
    const char *want)
{
	ProtobufCMessage *m = unpack(d, b, len);

	if (m != NULL || strstr(err, want) == NULL)
		fail_msg("want refusal \"%s\", got %s \"%s\"", want,
		    m ? "a message" : "refusal", err);
}

static void
accepted(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len)
{
	ProtobufCMessage *m = unpack(d, b, len);

	if (m == NULL)
		fail_msg("want acceptance, got \"%s\"", err);
	assert_string_equal(err, "");
	pb_free(m);
}

/* --- a realistic envelope ------------------------------------------------ */

static uint8_t id16[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static uint8_t payload[300];

static void
envelope_fill(Axle__V1__Envelope *e, Axle__V1__TraceHop **hops, size_t nhops,
    Axle__V1__ServiceGroup *group)
{
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);	/* includes 0x00 and 0xff: bytes, not text */
	e->message_id.data = id16;
	e->message_id.len = sizeof(id16);
	e->sender = "uk.london.lewisham.swift:0042";
	if (group != NULL) {
		e->recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
		e->to_group = group;
	} else {
		e->recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
		e->to = "uk.westyorks.leeds.childrens";
	}
	e->message_type = "referral.v2";
	e->context = "pathway-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";	/* e-acute, euro, emoji */
	e->created_ms = 1700000000123;
	e->deliver_by_ms = 1700086400000;
	e->reply_by_ms = -1;	/* negative survives as int64 */
	e->hop_limit = 8;
	e->failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN;
	e->n_trace = nhops;
	e->trace = hops;
	e->content_type = "application/jose";
	e->payload.data = payload;
	e->payload.len = sizeof(payload);
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	size_t out = 0;
	uint8_t *b = pb_pack(m, 0, &out);

	assert_non_null(b);
	assert_int_equal(out, protobuf_c_message_get_packed_size(m));
	*len = out;
	return b;
}

/* --- round trips ------------------------------------------------------------ */

static void
test_roundtrip_info(void **state)
{
	Axle__V1__InfoResponse in = AXLE__V1__INFO_RESPONSE__INIT, *out;
	Axle__V1__PeerSummary p1 = AXLE__V1__PEER_SUMMARY__INIT, p2 = p1;
	Axle__V1__PeerSummary *peers[] = { &p1, &p2 };
	uint8_t *buf;
	size_t len, i;

	p1.region = "uk.westyorks"; p1.address = "127.0.0.1:7001"; p1.state = "up";
	p1.outbox = 12; p1.mirror_lag_seconds = -3;
	p2.region = "uk.kent"; p2.state = "down";
	in.federation = "fame-uk"; in.region = "uk.london"; in.version = "0.1";
	in.uptime_seconds = UINT64_MAX; in.n_peers = 2; in.peers = peers;
	in.parent = ""; in.caller = "axle://fame-uk/admin/uk.london/jsmith";
	in.caller_role = "admin"; in.boot_count = 3;

	buf = pb_pack(&in.base, 5, &len);
	assert_non_null(buf);
	assert_int_equal(len, 5 + protobuf_c_message_get_packed_size(&in.base));
	for (i = 0; i < 5; i++)
		assert_int_equal(buf[i], 0);	/* headroom zeroed */

	out = PB_UNPACK(Axle__V1__InfoResponse, axle__v1__info_response,
	    buf + 5, len - 5, MAX, err, sizeof(err));
	assert_non_null(out);
	assert_string_equal(out->federation, "fame-uk");
	assert_string_equal(out->region, "uk.london");
	assert_int_equal(out->uptime_seconds, UINT64_MAX);
	assert_string_equal(out->caller, "axle://fame-uk/admin/uk.london/jsmith");
	assert_int_equal(out->boot_count, 3);
	assert_int_equal(out->n_peers, 2);
	assert_string_equal(out->peers[0]->address, "127.0.0.1:7001");
	assert_int_equal(out->peers[0]->outbox, 12);
	assert_int_equal(out->peers[0]->mirror_lag_seconds, -3);
	assert_string_equal(out->peers[1]->region, "uk.kent");
	assert_string_equal(out->peers[1]->address, "");
	pb_free(&out->base);
	free(buf);
}

static void
test_roundtrip_envelope(void **state)
{
	Axle__V1__Envelope in = AXLE__V1__ENVELOPE__INIT, *out;
	Axle__V1__TraceHop h1 = AXLE__V1__TRACE_HOP__INIT, h2 = h1;
	Axle__V1__TraceHop *hops[] = { &h1, &h2 };
	Axle__V1__ServiceGroup g = AXLE__V1__SERVICE_GROUP__INIT;
	uint8_t *buf;
	size_t len;

	h1.region = "uk.london"; h1.at_ms = 1;
	h2.region = "uk.westyorks"; h2.at_ms = 2;
	g.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX;
	g.prefix = "uk.westyorks";
	envelope_fill(&in, hops, 2, &g);

	buf = pack(&in.base, &len);
	out = (Axle__V1__Envelope *)unpack(&axle__v1__envelope__descriptor, buf, len);
	assert_non_null(out);
	assert_int_equal(out->message_id.len, 16);
	assert_memory_equal(out->message_id.data, id16, 16);
	assert_string_equal(out->sender, in.sender);
	assert_int_equal(out->recipient_case, AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP);
	assert_int_equal(out->to_group->kind, AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX);
	assert_string_equal(out->to_group->prefix, "uk.westyorks");
	assert_string_equal(out->context, in.context);
	assert_int_equal(out->created_ms, 1700000000123);
	assert_int_equal(out->reply_by_ms, -1);
	assert_int_equal(out->hop_limit, 8);
	assert_int_equal(out->failure_policy, AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN);
	assert_int_equal(out->n_trace, 2);
	assert_string_equal(out->trace[1]->region, "uk.westyorks");
	assert_int_equal(out->trace[1]->at_ms, 2);
	assert_string_equal(out->content_type, "application/jose");
	assert_int_equal(out->payload.len, sizeof(payload));
	assert_memory_equal(out->payload.data, payload, sizeof(payload));
	pb_free(&out->base);
	free(buf);

	/* The plain-address branch of the oneof, and the default policy. */
	in = (Axle__V1__Envelope)AXLE__V1__ENVELOPE__INIT;
	envelope_fill(&in, NULL, 0, NULL);
	in.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE;
	buf = pack(&in.base, &len);
	out = (Axle__V1__Envelope *)unpack(&axle__v1__envelope__descriptor, buf, len);
	assert_non_null(out);
	assert_int_equal(out->recipient_case, AXLE__V1__ENVELOPE__RECIPIENT_TO);
	assert_string_equal(out->to, "uk.westyorks.leeds.childrens");
	assert_int_equal(out->failure_policy, 0);
	pb_free(&out->base);
	free(buf);
}

static void
test_empty_and_unknown_fields(void **state)
{
	/* field 100 string, field 101 fixed32, field 102 fixed64, field 103 varint */
	const uint8_t unk[] = { 0xa2, 0x06, 0x02, 'h', 'i', 0xad, 0x06, 1, 2, 3, 4,
	    0xb1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xb8, 0x06, 0x96, 0x01 };
	Axle__V1__InfoRequest e = AXLE__V1__INFO_REQUEST__INIT;
	uint8_t *buf;
	size_t len = 99;

	accepted(&axle__v1__info_response__descriptor, NULL, 0);
	accepted(&axle__v1__info_response__descriptor, unk, sizeof(unk));
	accepted(&axle__v1__envelope__descriptor, unk, sizeof(unk));

	buf = pb_pack(&e.base, 0, &len);	/* empty message: still a buffer */
	assert_non_null(buf);
	assert_int_equal(len, 0);
	free(buf);
	pb_free(NULL);
	/* err may be NULL */
	assert_null(pb_unpack(&axle__v1__envelope__descriptor, (const uint8_t *)"\x0b",
	    1, MAX, NULL, 0));
}

/* --- malformed wire format ---------------------------------------------------- */

static void
test_truncated(void **state)
{
	Axle__V1__Envelope in = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__TraceHop h = AXLE__V1__TRACE_HOP__INIT, *hops[] = { &h };
	ProtobufCMessage *m;
	uint8_t *buf;
	size_t len, cut, nrefused = 0;

	h.region = "uk.london"; h.at_ms = 1;
	envelope_fill(&in, hops, 1, NULL);
	buf = pack(&in.base, &len);
	/* payload (field 31) is last: cutting it short is a truncated value */
	refused(&axle__v1__envelope__descriptor, buf, len - 1,
	    "field 31: truncated length-delimited value (300 bytes declared, 299 left)");

	/* Every prefix: refused with a reason, or a valid shorter message. ASan checks reads. */
	for (cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut + 1);

		memcpy(copy, buf, cut);
		m = unpack(&axle__v1__envelope__descriptor, copy, cut);
		if (m == NULL) {
			assert_true(strncmp(err, "field ", 6) == 0 ||
			    strstr(err, "tag at byte") != NULL);
			nrefused++;
		}
		pb_free(m);
		free(copy);
	}
	assert_true(nrefused > len / 2);	/* most cuts land inside a value */
	free(buf);

	/* truncated varint, fixed32, fixed64, tag, and one inside a nested message */
	refused(&axle__v1__envelope__descriptor, (const uint8_t *)"\x50\x80", 2,
	    "field 10: truncated varint");
	refused(&axle__v1__envelope__descriptor, (const uint8_t *)"\xad\x06\x01\x02", 4,
	    "field 101: truncated fixed32 value");
	refused(&axle__v1__envelope__descriptor, (const uint8_t *)"\xb1\x06\x01", 3,
	    "field 102: truncated fixed64 value");
	refused(&axle__v1__envelope__descriptor, (const uint8_t *)"\x50\x01\xa2", 3,
	    "truncated tag at byte 2");
	/* trace (20) holding a hop whose region (1) declares 5 bytes but has 1 */
	refused(&axle__v1__envelope__descriptor,
	    (const uint8_t *)"\xa2\x01\x03\x0a\x05\x61", 6,
	    "field 20.1: truncated length-delimited value");
}

static void
test_wire_types(void **state)
{
	const ProtobufCMessageDescriptor *d = &axle__v1__envelope__descriptor;

	/* sender (2) is a string, sent as a varint */
	refused(d, (const uint8_t *)"\x10\x01", 2,
	    "field 2: wire type varint where length-delimited expected");
	/* hop_limit (13) is a varint, sent as fixed32 */
	refused(d, (const uint8_t *)"\x6d\x01\x02\x03\x04", 5,
	    "field 13: wire type fixed32 where varint expected");
	/* to_group (4) is a message, sent as fixed64 */
	refused(d, (const uint8_t *)"\x21\x01\x02\x03\x04\x05\x06\x07\x08", 9,
	    "field 4: wire type fixed64 where length-delimited expected");
	/* groups, known or unknown field */
	refused(d, (const uint8_t *)"\x0b\x0c", 2, "field 1: groups (wire type 3)");
	refused(d, (const uint8_t *)"\xa4\x06", 2, "field 100: groups (wire type 4)");
	refused(d, (const uint8_t *)"\x0e\x00", 2, "field 1: invalid wire type 6");
	refused(d, (const uint8_t *)"\xa7\x06\x00", 3, "field 100: invalid wire type 7");
	/* field number 0, an 11-byte varint, a 6-byte length prefix */
	refused(d, (const uint8_t *)"\x02\x00", 2, "invalid field number 0 at byte 0");
	refused(d, (const uint8_t *)"\x50\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
	    "field 10: varint longer than 10 bytes");
	refused(d, (const uint8_t *)"\x12\x80\x80\x80\x80\x80\x00", 7,
	    "field 2: length prefix longer than 5 bytes");
	/* a wrong wire type deep inside: to_group (4) . kind (1) as length-delimited */
	refused(d, (const uint8_t *)"\x22\x03\x0a\x01\x00", 5,
	    "field 4.1: wire type length-delimited where varint expected");
}

/* --- depth ------------------------------------------------------------------------- */

/*
 * The contract has no self-nesting type today (its deepest chain is
 * FeedResponse > FeedEntry > Registrar > Service/Contact, 4 levels), so the
 * 16-level limit is tested on a hand-written descriptor of
 * `message Nest { Nest child = 1; repeated uint32 nums = 2; }` -- a test
 * fixture in C, not part of proto/. Real chains are checked below too.
 */
typedef struct Nest {
	ProtobufCMessage base;
	struct Nest *child;
	size_t n_nums;
	uint32_t *nums;
} Nest;

static const ProtobufCMessageDescriptor nest_desc;
static const ProtobufCFieldDescriptor nest_fields[] = {
	{ "child", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0,
	    offsetof(Nest, child), &nest_desc, NULL, 0, 0, NULL, NULL },
	{ "nums", 2, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_UINT32,
	    offsetof(Nest, n_nums), offsetof(Nest, nums), NULL, NULL,
	    PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL },
};
static const unsigned nest_by_name[] = { 0, 1 };
static const ProtobufCIntRange nest_ranges[] = { { 1, 0 }, { 0, 2 } };

static void
nest_init(ProtobufCMessage *m)
{
	static const Nest init = { PROTOBUF_C_MESSAGE_INIT(&nest_desc), NULL, 0, NULL };

	*(Nest *)m = init;
}

static const ProtobufCMessageDescriptor nest_desc = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Nest", "Nest", "Nest", "test",
	sizeof(Nest), 2, nest_fields, nest_by_name, 1, nest_ranges, nest_init,
	NULL, NULL, NULL
};

/* Bytes of a Nest `levels` deep (the outer message is level 1). */
static uint8_t *
nest_bytes(unsigned levels, size_t *len)
{
	uint8_t *b = calloc(1, 2 * levels);
	size_t n = 0;
	unsigned i;

	/* inside out: each level is tag 0x0a, a one-byte length, then the child */
	for (i = 1; i < levels; i++) {
		memmove(b + 2, b, n);
		b[0] = 0x0a;
		b[1] = (uint8_t)n;
		n += 2;
	}
	*len = n;
	return b;
}

static void
test_depth(void **state)
{
	Nest *top, *m;
	uint8_t *b;
	size_t len;
	unsigned levels;

	b = nest_bytes(PB_MAX_DEPTH, &len);
	top = (Nest *)unpack(&nest_desc, b, len);
	assert_non_null(top);
	for (levels = 1, m = top; m->child != NULL; levels++)
		m = m->child;
	assert_int_equal(levels, PB_MAX_DEPTH);
	pb_free(&top->base);
	free(b);

	b = nest_bytes(PB_MAX_DEPTH + 1, &len);
	refused(&nest_desc, b, len, "message nests deeper than 16 levels");
	/* the 16th level's field 1 is the one that would open a 17th */
	refused(&nest_desc, b, len, "field 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1: message");
	free(b);

	/* far deeper input is refused the same, at the same place */
	b = nest_bytes(60, &len);
	assert_true(len < 128);	/* one-byte lengths all the way */
	refused(&nest_desc, b, len, "field 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1: message nests deeper");
	free(b);
}

/* A fault deep inside is reported with the path down to it. */
static void
test_depth_path(void **state)
{
	uint8_t *b;
	size_t len;

	b = nest_bytes(5, &len);
	b[len - 1] = 0x01;	/* innermost declared length 1 with nothing after */
	refused(&nest_desc, b, len, "field 1.1.1.1: truncated length-delimited value");
	free(b);
}

static void
test_packed(void **state)
{
	Nest *m;

	/* nums (2) packed: 1, 300, 5 */
	m = (Nest *)unpack(&nest_desc, (const uint8_t *)"\x12\x04\x01\xac\x02\x05", 6);
	assert_non_null(m);
	assert_int_equal(m->n_nums, 3);
	assert_int_equal(m->nums[1], 300);
	pb_free(&m->base);
	/* and unpacked */
	m = (Nest *)unpack(&nest_desc, (const uint8_t *)"\x10\x07\x10\x08", 4);
	assert_non_null(m);
	assert_int_equal(m->n_nums, 2);
	assert_int_equal(m->nums[1], 8);
	pb_free(&m->base);
	/* a packed varint left unterminated inside its length */
	refused(&nest_desc, (const uint8_t *)"\x12\x02\x01\x80\x01", 5,
	    "field 2: malformed packed varint");
}

/* A real chain: FeedResponse.entries(1) > FeedEntry.registrar(7) > Registrar.services(11) > Service.name(1). */
static void
test_real_chain(void **state)
{
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT, *sv[] = { &s };
	Axle__V1__Registrar r = AXLE__V1__REGISTRAR__INIT;
	Axle__V1__FeedEntry e = AXLE__V1__FEED_ENTRY__INIT, *ev[] = { &e };
	Axle__V1__FeedResponse f = AXLE__V1__FEED_RESPONSE__INIT, *out;
	uint8_t *buf, *at;
	size_t len;

	s.name = "ref#"; s.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH;
	r.id = "lewisham"; r.n_services = 1; r.services = sv;
	e.seq = 7; e.registrar = &r;
	f.n_entries = 1; f.entries = ev;
	buf = pack(&f.base, &len);
	out = (Axle__V1__FeedResponse *)unpack(&axle__v1__feed_response__descriptor, buf, len);
	assert_non_null(out);
	assert_string_equal(out->entries[0]->registrar->services[0]->name, "ref#");
	pb_free(&out->base);

	at = memchr(buf, '#', len);
	assert_non_null(at);
	*at = 0xff;
	refused(&axle__v1__feed_response__descriptor, buf, len,
	    "field 1.7.11.1: string is not valid UTF-8");
	free(buf);
}

/* --- size and memory ------------------------------------------------------------------ */

static void
test_oversize(void **state)
{
	static const uint8_t small[16];
	ProtobufCMessage *m;

	/* len over max_len is refused without reading: a 16-byte buffer claimed to be 1 GiB */
	assert_null(pb_unpack(&axle__v1__envelope__descriptor, small, (size_t)1 << 30,
	    1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "1073741824 bytes is over the limit of 1048576 bytes"));
	assert_null(pb_unpack(&axle__v1__envelope__descriptor, small, 17, 16,
	    err, sizeof(err)));
	assert_non_null(strstr(err, "over the limit"));
	assert_null(pb_unpack(&axle__v1__envelope__descriptor, NULL, SIZE_MAX,
	    SIZE_MAX, err, sizeof(err)));
	assert_non_null(strstr(err, "too large"));
	/* exactly max_len is fine */
	m = pb_unpack(&axle__v1__envelope__descriptor, (const uint8_t *)"\x50\x01", 2, 2,
	    err, sizeof(err));
	assert_non_null(m);
	pb_free(m);
}

static uint8_t *
empty_envelopes(size_t n, size_t *len)
{
	uint8_t *b = malloc(2 * n);
	size_t i;

	for (i = 0; i < n; i++) {	/* ForwardRequest.envelopes (1), length 0 */
		b[2 * i] = 0x0a;
		b[2 * i + 1] = 0x00;
	}
	*len = 2 * n;
	return b;
}

static void
test_budget(void **state)
{
	Axle__V1__ForwardRequest *fr;
	uint8_t *b;
	size_t len;

	/* 2 wire bytes each, but a pointer + a whole Envelope struct each in memory */
	b = empty_envelopes(5000, &len);
	refused(&axle__v1__forward_request__descriptor, b, len,
	    "decoded message would need more than its memory budget of 84096 bytes");
	free(b);

	/* a few fit in the fixed 4 KiB slack */
	b = empty_envelopes(10, &len);
	fr = (Axle__V1__ForwardRequest *)unpack(&axle__v1__forward_request__descriptor, b, len);
	assert_non_null(fr);
	assert_int_equal(fr->n_envelopes, 10);
	assert_int_equal(fr->envelopes[9]->recipient_case, AXLE__V1__ENVELOPE__RECIPIENT__NOT_SET);
	pb_free(&fr->base);
	free(b);
}

/* Realistic traffic stays well inside the budget, even many small envelopes in one batch. */
static void
test_budget_realistic(void **state)
{
	enum { N = 500 };
	Axle__V1__Envelope envs[N], *ev[N];
	Axle__V1__TraceHop h = AXLE__V1__TRACE_HOP__INIT, *hops[] = { &h, &h };
	Axle__V1__ForwardRequest fr = AXLE__V1__FORWARD_REQUEST__INIT, *out;
	Axle__V1__AckRequest ack = AXLE__V1__ACK_REQUEST__INIT, *aout;
	ProtobufCBinaryData ids[N];
	uint8_t *buf;
	size_t len, i;

	h.region = "uk.london"; h.at_ms = 1700000000000;
	for (i = 0; i < N; i++) {
		envs[i] = (Axle__V1__Envelope)AXLE__V1__ENVELOPE__INIT;
		envelope_fill(&envs[i], hops, 2, NULL);
		envs[i].payload.len = 16;	/* small payloads are the hard case */
		ev[i] = &envs[i];
		ids[i].data = id16;
		ids[i].len = 16;
	}
	fr.n_envelopes = N;
	fr.envelopes = ev;
	buf = pack(&fr.base, &len);
	out = (Axle__V1__ForwardRequest *)unpack(&axle__v1__forward_request__descriptor, buf, len);
	if (out == NULL)
		fail_msg("%s", err);
	assert_int_equal(out->n_envelopes, N);
	pb_free(&out->base);
	free(buf);

	ack.mailbox = "uk.london.lewisham";
	ack.n_message_ids = N;
	ack.message_ids = ids;
	buf = pack(&ack.base, &len);
	aout = (Axle__V1__AckRequest *)unpack(&axle__v1__ack_request__descriptor, buf, len);
	if (aout == NULL)
		fail_msg("%s", err);
	assert_int_equal(aout->n_message_ids, N);
	pb_free(&aout->base);
	free(buf);
}

/* --- strings ---------------------------------------------------------------------------- */

static void
test_utf8(void **state)
{
	const ProtobufCMessageDescriptor *d = &axle__v1__envelope__descriptor;
	static const struct { const char *s; size_t len; const char *why; } bad[] = {
		{ "\xff", 1, "not valid UTF-8" },
		{ "ab\x80", 3, "not valid UTF-8" },		/* stray continuation */
		{ "\xc3", 1, "not valid UTF-8" },		/* cut short */
		{ "\xe2\x82", 2, "not valid UTF-8" },
		{ "\xc0\xaf", 2, "not valid UTF-8" },		/* overlong '/' */
		{ "\xe0\x80\xaf", 3, "not valid UTF-8" },	/* overlong '/' */
		{ "\xed\xa0\x80", 3, "not valid UTF-8" },	/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", 4, "not valid UTF-8" },	/* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, "not valid UTF-8" },
		{ "uk.london\0.evil", 15, "string contains a NUL byte" },
	};
	uint8_t b[32];
	size_t i;
	Axle__V1__Envelope *e;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b[0] = 0x12;	/* sender (2) */
		b[1] = (uint8_t)bad[i].len;
		memcpy(b + 2, bad[i].s, bad[i].len);
		refused(d, b, 2 + bad[i].len, bad[i].why);
		assert_non_null(strstr(err, "field 2: "));
	}
	/* the largest code points of each length are fine; bytes fields take anything */
	memcpy(b, "\x12\x0a\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf", 12);
	e = (Axle__V1__Envelope *)unpack(d, b, 12);
	assert_non_null(e);
	assert_int_equal(strlen(e->sender), 10);
	pb_free(&e->base);
	accepted(d, (const uint8_t *)"\xfa\x01\x03\xff\x00\xc0", 6);	/* payload (31) */
	/* a string inside the oneof's message: to_group (4) . prefix (2) */
	refused(d, (const uint8_t *)"\x22\x03\x12\x01\xff", 5,
	    "field 4.2: string is not valid UTF-8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_info),
		cmocka_unit_test(test_roundtrip_envelope),
		cmocka_unit_test(test_empty_and_unknown_fields),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wire_types),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_depth_path),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_real_chain),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_realistic),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
