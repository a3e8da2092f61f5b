/* test_pb_json.c -- descriptor-driven JSON of protobuf messages: axlectl's form, proto3's, and parsing proto3 JSON back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/node.pb-c.h"
#include "axle/v1/recourse.pb-c.h"
#include "proto/pb.h"
#include "proto/pb_json.h"

/* Renders m in form, compact with sorted keys, for exact comparison. */
static char *
render_form(const ProtobufCMessage *m, enum pb_json_form form)
{
	json_t *j = pb_json_from_message(m, form);
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static char *
render(const ProtobufCMessage *m)
{
	return render_form(m, PB_JSON_TOOLS);
}

static void
test_info_every_field(void **state)
{
	Axle__V1__InfoResponse r = AXLE__V1__INFO_RESPONSE__INIT;
	Axle__V1__PeerSummary p0 = AXLE__V1__PEER_SUMMARY__INIT;
	Axle__V1__PeerSummary p1 = AXLE__V1__PEER_SUMMARY__INIT;
	Axle__V1__PeerSummary *peers[] = { &p0, &p1 };
	char *s;

	r.federation = "fame-uk";
	r.region = "uk.london";
	r.uptime_seconds = 42;
	r.boot_count = UINT64_MAX;	/* over 2^63-1: a string, not a wrapped number */
	r.n_peers = 2;
	r.peers = peers;
	p0.region = "uk";
	p0.outbox = 3;
	p1.region = "uk.westyorks";
	p1.mirror_lag_seconds = -5;
	s = render(&r.base);
	assert_string_equal(s,
	    "{\"boot_count\":\"18446744073709551615\",\"caller\":\"\","
	    "\"caller_role\":\"\",\"federation\":\"fame-uk\",\"parent\":\"\","
	    "\"peers\":[{\"address\":\"\",\"connected\":false,"
	    "\"mirror_lag_seconds\":0,\"outbox\":3,"
	    "\"region\":\"uk\",\"source\":\"\",\"state\":\"\"},{\"address\":\"\","
	    "\"connected\":false,"
	    "\"mirror_lag_seconds\":-5,\"outbox\":0,\"region\":\"uk.westyorks\","
	    "\"source\":\"\",\"state\":\"\"}],\"rates\":[],\"region\":\"uk.london\",\"uptime_seconds\":42,"
	    "\"version\":\"\"}");
	free(s);
}

static void
test_envelope_bytes_enum_oneof(void **state)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__ServiceGroup g = AXLE__V1__SERVICE_GROUP__INIT;
	uint8_t id[] = { 0xfb, 0xff, 0x00, 'a' };
	json_t *j;

	e.message_id.data = id;
	e.message_id.len = sizeof(id);
	e.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN;
	e.hop_limit = 7;
	j = pb_json_from_message(&e.base, PB_JSON_TOOLS);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "message_id")),
	    "+/8AYQ==");
	assert_string_equal(json_string_value(json_object_get(j, "failure_policy")),
	    "FAILURE_POLICY_RETURN");
	assert_int_equal(json_integer_value(json_object_get(j, "hop_limit")), 7);
	/* Neither oneof member is set: both null, the payload empty. */
	assert_true(json_is_null(json_object_get(j, "to")));
	assert_true(json_is_null(json_object_get(j, "to_group")));
	assert_string_equal(json_string_value(json_object_get(j, "payload")), "");
	assert_int_equal(json_array_size(json_object_get(j, "trace")), 0);
	json_decref(j);

	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	e.to_group = &g;
	g.prefix = "uk.westyorks";
	e.failure_policy = 99;		/* unknown to this build: its number */
	j = pb_json_from_message(&e.base, PB_JSON_TOOLS);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "to")));
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "to_group"), "prefix")), "uk.westyorks");
	assert_int_equal(json_integer_value(json_object_get(j, "failure_policy")), 99);
	json_decref(j);
}

static void
test_not_utf8_is_shown_lossily(void **state)
{
	Axle__V1__InfoResponse r = AXLE__V1__INFO_RESPONSE__INIT;
	char bad[] = { 'u', 'k', (char)0xff, (char)0xc3, 0 };
	json_t *j;

	r.region = bad;
	j = pb_json_from_message(&r.base, PB_JSON_TOOLS);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "region")), "uk??");
	json_decref(j);
}

static void
test_proto3_names_and_64bit_strings(void **state)
{
	Axle__V1__InfoResponse r = AXLE__V1__INFO_RESPONSE__INIT;
	char *s;

	r.federation = "fame-uk";
	r.uptime_seconds = 42;
	r.boot_count = 7;
	s = render_form(&r.base, PB_JSON_PROTO3);
	assert_string_equal(s,
	    "{\"bootCount\":\"7\",\"caller\":\"\",\"callerRole\":\"\","
	    "\"federation\":\"fame-uk\",\"parent\":\"\",\"peers\":[],\"rates\":[],"
	    "\"region\":\"\",\"uptimeSeconds\":\"42\",\"version\":\"\"}");
	free(s);
}

static void
test_json_name(void **state)
{
	char b[32];

	assert_string_equal(pb_json_name("reply_by_ms", b, sizeof(b)), "replyByMs");
	assert_string_equal(pb_json_name("to", b, sizeof(b)), "to");
	assert_string_equal(pb_json_name("a__b_", b, sizeof(b)), "aB");
	assert_string_equal(pb_json_name("reply_by_ms", b, 6), "reply");
}

static ProtobufCMessage *
parse(const ProtobufCMessageDescriptor *d, const char *text, char *err)
{
	return pb_json_parse(d, text, strlen(text), 1 << 16, err, 256);
}

/* Parses text as d, expecting a refusal whose reason contains want. */
static void
refused(const ProtobufCMessageDescriptor *d, const char *text, const char *want)
{
	char err[256];
	ProtobufCMessage *m = parse(d, text, err);

	if (m != NULL || strstr(err, want) == NULL)
		fail_msg("%s: expected refusal with \"%s\", got %s \"%s\"", text, want,
		    m ? "a message" : "", err);
}

static void
test_parse_list_request(void **state)
{
	char err[256];
	Axle__V1__ListCasesRequest *r = (Axle__V1__ListCasesRequest *)parse(
	    &axle__v1__list_cases_request__descriptor,
	    "{\"state\":\"CASE_STATE_CLAIMED\",\"reason\":2,\"assignee\":\"jsmith\","
	    "\"minAgeMs\":\"9007199254740993\",\"overdue_only\":true,"
	    "\"page\":{\"pageSize\":5},\"includeClosed\":null}", err);

	if (r == NULL)
		fail_msg("%s", err);
	assert_int_equal(r->state, AXLE__V1__CASE_STATE__CASE_STATE_CLAIMED);
	assert_int_equal(r->reason, 2);
	assert_string_equal(r->assignee, "jsmith");
	assert_true(r->min_age_ms == 9007199254740993LL);	/* exact: not via a double */
	assert_true(r->overdue_only);
	assert_false(r->include_closed);
	assert_non_null(r->page);
	assert_int_equal(r->page->page_size, 5);
	pb_free(&r->base);
}

static void
test_parse_envelope_bytes_oneof_negative(void **state)
{
	char err[256];
	Axle__V1__Envelope *e = (Axle__V1__Envelope *)parse(
	    &axle__v1__envelope__descriptor,
	    "{\"messageId\":\"-_8AYQ\",\"toGroup\":{\"prefix\":\"uk\"},"
	    "\"createdMs\":-5,\"hopLimit\":1e1,\"payload\":\"+/8AYQ==\","
	    "\"trace\":[{},{}]}", err);

	if (e == NULL)
		fail_msg("%s", err);
	assert_int_equal(e->message_id.len, 4);
	assert_memory_equal(e->message_id.data, "\xfb\xff\x00" "a", 4);
	assert_int_equal(e->payload.len, 4);
	assert_memory_equal(e->payload.data, "\xfb\xff\x00" "a", 4);
	assert_int_equal(e->recipient_case, AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP);
	assert_string_equal(e->to_group->prefix, "uk");
	assert_true(e->created_ms == -5);
	assert_int_equal(e->hop_limit, 10);
	assert_int_equal(e->n_trace, 2);
	pb_free(&e->base);
}

/* Render in proto3 form, parse back, pack both: the same bytes. */
static void
test_round_trip(void **state)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__TraceHop h = AXLE__V1__TRACE_HOP__INIT;
	Axle__V1__TraceHop *hops[] = { &h };
	uint8_t id[] = { 1, 2, 3, 0xff, 0 };
	uint8_t *a, *b;
	size_t alen, blen;
	char err[256], *text;
	ProtobufCMessage *back;

	e.message_id.data = id;
	e.message_id.len = sizeof(id);
	e.sender = "uk.london.hub1";
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = "uk.leeds.hub2";
	e.created_ms = INT64_MIN;
	e.deliver_by_ms = INT64_MAX;
	e.hop_limit = UINT32_MAX;
	e.failure_policy = 77;
	e.n_trace = 1;
	e.trace = hops;
	text = render_form(&e.base, PB_JSON_PROTO3);
	back = pb_json_parse(&axle__v1__envelope__descriptor, text, strlen(text),
	    1 << 16, err, sizeof(err));
	if (back == NULL)
		fail_msg("%s: %s", text, err);
	a = pb_pack(&e.base, 0, &alen);
	b = pb_pack(back, 0, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	free(text);
	pb_free(back);
}

static void
test_parse_refusals(void **state)
{
	const ProtobufCMessageDescriptor *l = &axle__v1__list_cases_request__descriptor;
	const ProtobufCMessageDescriptor *e = &axle__v1__envelope__descriptor;

	refused(l, "{\"stat\":1}", "field \"stat\": axle.v1.ListCasesRequest has no such field");
	refused(l, "{\"page\":{\"limt\":1}}", "field \"page.limt\": axle.v1.PageRequest");
	refused(l, "[]", "expected a JSON object");
	refused(l, "{", "not valid JSON");
	refused(l, "{\"state\":1} x", "not valid JSON");
	refused(l, "{\"state\":1,\"state\":2}", "not valid JSON");
	refused(l, "{\"minAgeMs\":1,\"min_age_ms\":2}", "given twice");
	refused(l, "{\"state\":\"OPEN\"}", "is not a value of axle.v1.CaseState");
	refused(l, "{\"state\":true}", "expected a number or a decimal string, got true");
	refused(l, "{\"state\":2147483648}", "out of range");
	refused(l, "{\"overdueOnly\":1}", "expected true or false");
	refused(l, "{\"assignee\":5}", "expected a string");
	refused(l, "{\"minAgeMs\":\"1.5\"}", "not a decimal integer");
	refused(l, "{\"minAgeMs\":1.5}", "not an integer");
	refused(l, "{\"minAgeMs\":\"9223372036854775808\"}", "out of range");
	refused(l, "{\"minAgeMs\":\"\"}", "not a decimal integer");
	refused(l, "{\"page\":{\"pageSize\":-1}}", "out of range");
	refused(l, "{\"page\":{\"page_size\":\"4294967296\"}}", "out of range");
	refused(l, "{\"page\":[]}", "expected an object, got an array");
	refused(l, "{\"assignee\":\"a\\u0000b\"}", "not valid JSON");
	refused(e, "{\"to\":\"a\",\"toGroup\":{}}", "only one of a oneof");
	refused(e, "{\"messageId\":\"a\"}", "not base64");
	refused(e, "{\"messageId\":\"a*==\"}", "not base64");
	refused(e, "{\"trace\":{}}", "expected an array");
	refused(e, "{\"trace\":[null]}", "element 0 is null");
	refused(e, "{\"sender\":\"\\udc00\"}", "not valid JSON");
	/* over the limit */
	{
		char err[256];

		assert_null(pb_json_parse(l, "{\"assignee\":\"abcdef\"}", 21, 20, err,
		    sizeof(err)));
		assert_non_null(strstr(err, "larger than this node's limit of 20"));
		assert_non_null(strstr(err, "JSON body"));
	}
}

/* A hook that takes int64 *_ms fields and enums, and leaves the rest to the walker. */
static json_t *
hook_ms_and_enums(const ProtobufCFieldDescriptor *f, const void *p, void *arg)
{
	size_t n = strlen(f->name);

	(*(int *)arg)++;
	if (f->type == PROTOBUF_C_TYPE_INT64 && n > 3 && strcmp(f->name + n - 3, "_ms") == 0)
		return json_string("T");
	if (f->type == PROTOBUF_C_TYPE_ENUM)
		return json_string("E");
	return NULL;
}

/* The hook is asked first for every value, nested and repeated ones too. */
static void
test_hook_renders_its_fields(void **state)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__TraceHop h = AXLE__V1__TRACE_HOP__INIT;
	Axle__V1__TraceHop *hops[] = { &h };
	json_t *j;
	int calls = 0;

	(void)state;
	e.created_ms = 5;
	e.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN;
	e.sender = "uk.a";
	e.n_trace = 1;
	e.trace = hops;
	h.region = "uk";
	h.at_ms = 7;
	j = pb_json_from_message_hook(&e.base, PB_JSON_TOOLS, hook_ms_and_enums, &calls);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "created_ms")), "T");
	assert_string_equal(json_string_value(json_object_get(j, "failure_policy")), "E");
	assert_string_equal(json_string_value(json_object_get(j, "sender")), "uk.a");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "trace"), 0), "at_ms")), "T");
	assert_true(calls > 10);
	json_decref(j);
	/* Without a hook: the form as before. */
	j = pb_json_from_message_hook(&e.base, PB_JSON_TOOLS, NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "created_ms")), 5);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_every_field),
		cmocka_unit_test(test_hook_renders_its_fields),
		cmocka_unit_test(test_envelope_bytes_enum_oneof),
		cmocka_unit_test(test_not_utf8_is_shown_lossily),
		cmocka_unit_test(test_proto3_names_and_64bit_strings),
		cmocka_unit_test(test_json_name),
		cmocka_unit_test(test_parse_list_request),
		cmocka_unit_test(test_parse_envelope_bytes_oneof_negative),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
