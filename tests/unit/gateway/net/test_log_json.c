/* test_log_json.c -- key=value event pairs as JSON members ([log] format = json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/net/log.h"
#include "gateway/net/log_json.h"

static void
is(const char *kv, const char *want)
{
	char out[512];
	size_t n = net_log_kv_json(kv, out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void
test_bare_and_numbers(void **state)
{
	(void)state;
	is("", "");
	is("peer=uk.london port=7443", ",\"peer\":\"uk.london\",\"port\":7443");
	is("seq=-3 zero=0 lead=007 big=12345678901234567890",
	    ",\"seq\":-3,\"zero\":0,\"lead\":\"007\",\"big\":\"12345678901234567890\"");
	is("  a=1   b=x  ", ",\"a\":1,\"b\":\"x\"");
	is("empty= next=1", ",\"empty\":\"\",\"next\":1");
	is("ratio=0.5 minus=-", ",\"ratio\":\"0.5\",\"minus\":\"-\"");
}

static void
test_quoted_values(void **state)
{
	char q[128];

	(void)state;
	is("error=\"no such file\" rc=2", ",\"error\":\"no such file\",\"rc\":2");
	/* net_log_quote's escapes become JSON's. */
	net_log_quote(q, sizeof(q), "a\"b\\c\x01\xff", 7);
	assert_string_equal(q, "\"a\\\"b\\\\c\\x01\\xff\"");
	{
		char kv[160];

		snprintf(kv, sizeof(kv), "what=%s n=1", q);
		is(kv, ",\"what\":\"a\\\"b\\\\c\\u0001\\u00ff\",\"n\":1");
	}
	is("bad=\"unterminated", ",\"bad\":\"unterminated\"");
	is("x=\"\"", ",\"x\":\"\"");
}

static void
test_bare_value_escaped(void **state)
{
	(void)state;
	/* A bare value with a quote or backslash inside stays valid JSON. */
	is("p=a\"b q=c\\d", ",\"p\":\"a\\\"b\",\"q\":\"c\\\\d\"");
	is("t=tab\there", ",\"t\":\"tab\\u0009here\"");
}

static void
test_unparsed_kept(void **state)
{
	(void)state;
	is("a=1 stray b=2", ",\"a\":1,\"b\":2,\"unparsed\":\"stray\"");
	is("=x", ",\"unparsed\":\"=x\"");
	is("k!=v", ",\"unparsed\":\"k!=v\"");
}

static void
test_cut_at_a_member(void **state)
{
	char out[32];
	size_t n;

	(void)state;
	n = net_log_kv_json("a=1 long=\"0123456789012345678901234567890\"", out,
	    sizeof(out));
	assert_string_equal(out, ",\"a\":1,\"cut\":true");
	assert_int_equal(n, strlen(out));
	n = net_log_kv_json("a=1", out, 1);
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	assert_int_equal(net_log_kv_json("a=1", out, 0), 0);
}

static void
test_formats_parse(void **state)
{
	enum net_log_format f;

	(void)state;
	assert_int_equal(net_log_parse_format("json", &f), 0);
	assert_int_equal(f, NET_LOG_FORMAT_JSON);
	assert_int_equal(net_log_parse_format("kv", &f), 0);
	assert_int_equal(f, NET_LOG_FORMAT_KV);
	assert_int_equal(net_log_parse_format("JSON", &f), -1);
	assert_int_equal(net_log_parse_format("", &f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_and_numbers),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_bare_value_escaped),
		cmocka_unit_test(test_unparsed_kept),
		cmocka_unit_test(test_cut_at_a_member),
		cmocka_unit_test(test_formats_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
