/* test_connect.c -- the Connect protocol's pure pieces: content types, codes and HTTP statuses, error JSON, timeouts, CSRF checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/net/connect.h"
#include "gateway/net/grpc_status.h"

#define FORM(s) net_connect_form(s, strlen(s))

static void
test_forms(void **state)
{
	assert_int_equal(FORM("application/grpc"), NET_FORM_GRPC);
	assert_int_equal(FORM("application/grpc+proto"), NET_FORM_GRPC);
	assert_int_equal(FORM("application/grpc+json"), NET_FORM_GRPC);
	assert_int_equal(FORM("application/json"), NET_FORM_CONNECT_JSON);
	assert_int_equal(FORM("application/json; charset=utf-8"), NET_FORM_CONNECT_JSON);
	assert_int_equal(FORM("Application/JSON"), NET_FORM_CONNECT_JSON);
	assert_int_equal(FORM("application/proto"), NET_FORM_CONNECT_PROTO);
	assert_int_equal(FORM("application/connect+json"), NET_FORM_CONNECT_STREAM_JSON);
	assert_int_equal(FORM("application/connect+proto"), NET_FORM_CONNECT_STREAM_PROTO);
	assert_int_equal(FORM("application/jsonx"), NET_FORM_NONE);
	assert_int_equal(FORM("application/grpcx"), NET_FORM_NONE);
	assert_int_equal(FORM("text/plain"), NET_FORM_NONE);
	assert_int_equal(FORM(""), NET_FORM_NONE);
	assert_string_equal(net_connect_content_type(NET_FORM_CONNECT_STREAM_JSON),
	    "application/connect+json");
	assert_true(net_connect_form_is_json(NET_FORM_CONNECT_STREAM_JSON));
	assert_false(net_connect_form_is_json(NET_FORM_CONNECT_PROTO));
	assert_true(net_connect_form_is_stream(NET_FORM_CONNECT_STREAM_PROTO));
	assert_false(net_connect_form_is_stream(NET_FORM_CONNECT_JSON));
}

static void
test_codes(void **state)
{
	assert_string_equal(net_connect_code_name(GRPC_NOT_FOUND), "not_found");
	assert_string_equal(net_connect_code_name(GRPC_CANCELLED), "canceled");
	assert_string_equal(net_connect_code_name(99), "unknown");
	assert_int_equal(net_connect_http_status(GRPC_NOT_FOUND), 404);
	assert_int_equal(net_connect_http_status(GRPC_FAILED_PRECONDITION), 400);
	assert_int_equal(net_connect_http_status(GRPC_RESOURCE_EXHAUSTED), 429);
	assert_int_equal(net_connect_http_status(GRPC_UNIMPLEMENTED), 501);
	assert_int_equal(net_connect_http_status(GRPC_DEADLINE_EXCEEDED), 504);
	assert_int_equal(net_connect_http_status(GRPC_UNAUTHENTICATED), 401);
	assert_int_equal(net_connect_http_status(-1), 500);
}

static void
test_error_json(void **state)
{
	size_t len;
	char *s;

	s = net_connect_error_json(GRPC_NOT_FOUND, "no case \"x\"", false, &len);
	assert_string_equal(s, "{\"code\":\"not_found\",\"message\":\"no case \\\"x\\\"\"}");
	assert_int_equal(len, strlen(s));
	free(s);
	s = net_connect_error_json(GRPC_INTERNAL, NULL, false, &len);
	assert_string_equal(s, "{\"code\":\"internal\"}");
	free(s);
	s = net_connect_error_json(GRPC_OK, NULL, true, &len);
	assert_string_equal(s, "{}");
	free(s);
	s = net_connect_error_json(GRPC_ABORTED, "a", true, &len);
	assert_string_equal(s, "{\"error\":{\"code\":\"aborted\",\"message\":\"a\"}}");
	free(s);
	/* not UTF-8: the error stays, its message goes */
	s = net_connect_error_json(GRPC_ABORTED, "\xff", false, &len);
	assert_string_equal(s, "{\"code\":\"aborted\"}");
	free(s);
}

static void
test_timeout(void **state)
{
	int64_t ms;

	assert_int_equal(net_connect_timeout_parse("5000", 4, &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(net_connect_timeout_parse("9999999999", 10, &ms), 0);
	assert_true(ms == 9999999999LL);
	assert_int_equal(net_connect_timeout_parse("12345678901", 11, &ms), -1);
	assert_int_equal(net_connect_timeout_parse("", 0, &ms), -1);
	assert_int_equal(net_connect_timeout_parse("5s", 2, &ms), -1);
	assert_int_equal(net_connect_timeout_parse("-1", 2, &ms), -1);
}

static void
test_csrf(void **state)
{
	struct net_connect_origin o = { "", "node.example:7443", "", true };
	char err[256];

	/* curl: no browser headers, the custom header: fine */
	assert_true(net_connect_csrf_ok(&o, err, sizeof(err)));
	assert_false(net_connect_from_browser(&o));
	o.custom_header = false;
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "connect-protocol-version"));
	o.custom_header = true;
	o.origin = "https://node.example:7443";
	o.sec_fetch_site = "same-origin";
	assert_true(net_connect_from_browser(&o));
	assert_true(net_connect_csrf_ok(&o, err, sizeof(err)));
	o.origin = "https://NODE.example:7443";	/* host names are case-blind */
	assert_true(net_connect_csrf_ok(&o, err, sizeof(err)));
	o.origin = "https://evil.example";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "cross-origin"));
	o.origin = "http://node.example:7443";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	o.origin = "https://node.example:7443.evil";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	o.origin = "null";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	o.origin = "https://node.example:7443";
	o.sec_fetch_site = "same-site";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "cross-site"));
	o.origin = "";
	o.sec_fetch_site = "cross-site";
	assert_true(net_connect_from_browser(&o));
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
	/* no :authority to compare with: a browser's call is refused */
	o.sec_fetch_site = "";
	o.origin = "https://";
	o.authority = "";
	assert_false(net_connect_csrf_ok(&o, err, sizeof(err)));
}

static void
test_envelope(void **state)
{
	uint8_t h[NET_CONNECT_ENV_HDR];

	net_connect_envelope_header(h, NET_CONNECT_END_STREAM, 0x01020304);
	assert_memory_equal(h, "\x02\x01\x02\x03\x04", 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_envelope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
