/* test_pb_json.c -- descriptor-driven JSON of decoded protobuf messages (axlectl --json). */
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
#include "gateway/ctl/pb_json.h"

/* Renders m compactly with sorted keys, for exact comparison. */
static char *
render(const ProtobufCMessage *m)
{
	json_t *j = ctl_json_from_message(m);
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
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
	    "\"peers\":[{\"address\":\"\",\"mirror_lag_seconds\":0,\"outbox\":3,"
	    "\"region\":\"uk\",\"state\":\"\"},{\"address\":\"\","
	    "\"mirror_lag_seconds\":-5,\"outbox\":0,\"region\":\"uk.westyorks\","
	    "\"state\":\"\"}],\"region\":\"uk.london\",\"uptime_seconds\":42,"
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
	j = ctl_json_from_message(&e.base);
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
	j = ctl_json_from_message(&e.base);
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
	j = ctl_json_from_message(&r.base);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "region")), "uk??");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_every_field),
		cmocka_unit_test(test_envelope_bytes_enum_oneof),
		cmocka_unit_test(test_not_utf8_is_shown_lossily),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
