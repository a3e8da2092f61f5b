/* test_grpc_frame.c -- gRPC message framing, grpc-timeout, grpc-message, status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/net/grpc_frame.h"

/* framing ---------------------------------------------------------------- */

static const uint8_t *msg;
static size_t msglen, framelen;

static enum net_grpc_frame_rc
decode(const uint8_t *buf, size_t len, size_t max)
{
	msg = NULL;
	msglen = framelen = 12345;
	return net_grpc_frame_decode(buf, len, max, &msg, &msglen, &framelen);
}

static void
test_header(void **state)
{
	uint8_t h[GRPC_FRAME_HDR];

	net_grpc_frame_header(h, 0x01020304);
	assert_memory_equal(h, "\x00\x01\x02\x03\x04", 5);
	net_grpc_frame_header(h, 0);
	assert_memory_equal(h, "\x00\x00\x00\x00\x00", 5);
	net_grpc_frame_header(h, UINT32_MAX);
	assert_memory_equal(h, "\x00\xff\xff\xff\xff", 5);
}

static void
test_decode_complete(void **state)
{
	uint8_t buf[5 + 3];

	net_grpc_frame_header(buf, 3);
	memcpy(buf + 5, "abc", 3);
	assert_int_equal(decode(buf, sizeof(buf), 1024), GRPC_FRAME_OK);
	assert_ptr_equal(msg, buf + 5);
	assert_int_equal(msglen, 3);
	assert_int_equal(framelen, 8);
	assert_memory_equal(msg, "abc", 3);
}

static void
test_decode_need_more_everywhere(void **state)
{
	uint8_t buf[5 + 10];

	net_grpc_frame_header(buf, 10);
	memset(buf + 5, 'x', 10);
	for (size_t len = 0; len < sizeof(buf); len++) {
		assert_int_equal(decode(buf, len, 1024), GRPC_FRAME_NEED_MORE);
		/* Outputs untouched on NEED_MORE. */
		assert_null(msg);
		assert_int_equal(framelen, 12345);
	}
	assert_int_equal(decode(buf, sizeof(buf), 1024), GRPC_FRAME_OK);
	assert_int_equal(framelen, sizeof(buf));
}

static void
test_decode_never_reads_past_len(void **state)
{
	/* An exact-size heap block lets ASan catch any over-read. */
	for (size_t len = 0; len <= 9; len++) {
		uint8_t *b = malloc(len ? len : 1);

		assert_non_null(b);
		if (len > 0)
			memcpy(b, "\x00\x00\x00\x00\x04wxyz", len);
		assert_int_equal(decode(b, len, 100),
		    len == 9 ? GRPC_FRAME_OK : GRPC_FRAME_NEED_MORE);
		free(b);
	}
}

static void
test_decode_back_to_back(void **state)
{
	uint8_t buf[5 + 2 + 5 + 0 + 5 + 4 + 3];
	size_t off = 0;

	net_grpc_frame_header(buf, 2);
	memcpy(buf + 5, "hi", 2);
	net_grpc_frame_header(buf + 7, 0);
	net_grpc_frame_header(buf + 12, 4);
	memcpy(buf + 17, "abcd", 4);
	memcpy(buf + 21, "\x00\x00\x00", 3);	/* start of a fourth frame */

	assert_int_equal(decode(buf + off, sizeof(buf) - off, 64), GRPC_FRAME_OK);
	assert_int_equal(msglen, 2);
	assert_memory_equal(msg, "hi", 2);
	off += framelen;
	assert_int_equal(decode(buf + off, sizeof(buf) - off, 64), GRPC_FRAME_OK);
	assert_int_equal(msglen, 0);
	assert_int_equal(framelen, 5);
	off += framelen;
	assert_int_equal(decode(buf + off, sizeof(buf) - off, 64), GRPC_FRAME_OK);
	assert_int_equal(msglen, 4);
	assert_memory_equal(msg, "abcd", 4);
	off += framelen;
	assert_int_equal(off, 21);
	assert_int_equal(decode(buf + off, sizeof(buf) - off, 64), GRPC_FRAME_NEED_MORE);
}

static void
test_decode_zero_length(void **state)
{
	uint8_t buf[5];

	net_grpc_frame_header(buf, 0);
	assert_int_equal(decode(buf, 5, 0), GRPC_FRAME_OK);
	assert_int_equal(msglen, 0);
	assert_int_equal(framelen, 5);
	assert_ptr_equal(msg, buf + 5);
}

static void
test_decode_too_big(void **state)
{
	uint8_t buf[5 + 101];

	memset(buf, 0, sizeof(buf));
	/* Declared length over max: refused from the header alone. */
	net_grpc_frame_header(buf, 1000);
	assert_int_equal(decode(buf, 5, 100), GRPC_FRAME_TOO_BIG);
	assert_null(msg);

	/* Boundary: exactly max is fine, max + 1 is not. */
	net_grpc_frame_header(buf, 100);
	assert_int_equal(decode(buf, 105, 100), GRPC_FRAME_OK);
	assert_int_equal(msglen, 100);
	assert_int_equal(decode(buf, 50, 100), GRPC_FRAME_NEED_MORE);
	net_grpc_frame_header(buf, 101);
	assert_int_equal(decode(buf, 5, 100), GRPC_FRAME_TOO_BIG);
	assert_int_equal(decode(buf, sizeof(buf), 100), GRPC_FRAME_TOO_BIG);

	/* max 0 permits only empty messages. */
	net_grpc_frame_header(buf, 1);
	assert_int_equal(decode(buf, 6, 0), GRPC_FRAME_TOO_BIG);
}

static void
test_decode_4gib(void **state)
{
	uint8_t buf[5];

	net_grpc_frame_header(buf, UINT32_MAX);
	assert_memory_equal(buf, "\x00\xff\xff\xff\xff", 5);
	assert_int_equal(decode(buf, 5, 4u << 20), GRPC_FRAME_TOO_BIG);
	/* With no practical limit, it just wants more (no overflow on len - 5). */
	assert_int_equal(decode(buf, 5, SIZE_MAX), GRPC_FRAME_NEED_MORE);
	assert_int_equal(decode(buf, 5, (size_t)UINT32_MAX), GRPC_FRAME_NEED_MORE);
	assert_int_equal(decode(buf, 5, (size_t)UINT32_MAX - 1), GRPC_FRAME_TOO_BIG);
}

static void
test_decode_flags(void **state)
{
	uint8_t buf[5 + 1] = { 1, 0, 0, 0, 1, 'x' };

	assert_int_equal(decode(buf, 6, 100), GRPC_FRAME_COMPRESSED);
	/* The flag is judged as soon as it arrives. */
	assert_int_equal(decode(buf, 1, 100), GRPC_FRAME_COMPRESSED);
	buf[0] = 2;
	assert_int_equal(decode(buf, 6, 100), GRPC_FRAME_BAD_FLAG);
	assert_int_equal(decode(buf, 3, 100), GRPC_FRAME_BAD_FLAG);
	buf[0] = 0x80;
	assert_int_equal(decode(buf, 6, 100), GRPC_FRAME_BAD_FLAG);
	buf[0] = 0xff;
	assert_int_equal(decode(buf, 6, 100), GRPC_FRAME_BAD_FLAG);
	assert_null(msg);
}

/* grpc-timeout ----------------------------------------------------------- */

static int64_t
timeout_ok(const char *s)
{
	int64_t ms = -7;

	assert_int_equal(net_grpc_timeout_parse(s, strlen(s), &ms), 0);
	return ms;
}

static void
timeout_bad(const char *s)
{
	int64_t ms = -7;

	assert_int_equal(net_grpc_timeout_parse(s, strlen(s), &ms), -1);
	assert_int_equal(ms, -7);
}

static void
test_timeout_units(void **state)
{
	assert_int_equal(timeout_ok("2H"), 7200000);
	assert_int_equal(timeout_ok("3M"), 180000);
	assert_int_equal(timeout_ok("45S"), 45000);
	assert_int_equal(timeout_ok("123m"), 123);
	assert_int_equal(timeout_ok("5000u"), 5);
	assert_int_equal(timeout_ok("7000000n"), 7);
	assert_int_equal(timeout_ok("0m"), 0);
	assert_int_equal(timeout_ok("0n"), 0);
	assert_int_equal(timeout_ok("00000001S"), 1000);
	/* 8 digits of hours: the largest value the grammar allows. */
	assert_int_equal(timeout_ok("99999999H"), 99999999LL * 3600000);
	assert_int_equal(timeout_ok("99999999m"), 99999999);
}

static void
test_timeout_round_up(void **state)
{
	assert_int_equal(timeout_ok("1u"), 1);
	assert_int_equal(timeout_ok("999u"), 1);
	assert_int_equal(timeout_ok("1000u"), 1);
	assert_int_equal(timeout_ok("1001u"), 2);
	assert_int_equal(timeout_ok("1n"), 1);
	assert_int_equal(timeout_ok("1000000n"), 1);
	assert_int_equal(timeout_ok("1000001n"), 2);
	assert_int_equal(timeout_ok("99999999n"), 100);
	assert_int_equal(timeout_ok("99999999u"), 100000);
}

static void
test_timeout_refused(void **state)
{
	int64_t ms;

	timeout_bad("");
	timeout_bad("S");
	timeout_bad("5");
	timeout_bad("123456789m");	/* 9 digits */
	timeout_bad("5s");		/* units are case-sensitive: s is not S */
	timeout_bad("5h");
	timeout_bad("5x");
	timeout_bad("5 m");
	timeout_bad(" 5m");
	timeout_bad("5m ");
	timeout_bad("-5m");
	timeout_bad("+5m");
	timeout_bad("5.5S");
	timeout_bad("0x5m");
	timeout_bad("5mm");
	/* len governs: "5m" cut to "5" is refused, "12m" with len 2 is "12". */
	assert_int_equal(net_grpc_timeout_parse("5m", 1, &ms), -1);
	assert_int_equal(net_grpc_timeout_parse("12m", 2, &ms), -1);
	assert_int_equal(net_grpc_timeout_parse(NULL, 0, &ms), -1);
}

static void
format_is(int64_t ms, const char *want)
{
	char out[16];

	memset(out, 'Z', sizeof(out));
	net_grpc_timeout_format(ms, out, sizeof(out));
	assert_string_equal(out, want);
}

static void
test_timeout_format(void **state)
{
	format_is(0, "0m");
	format_is(-5, "0m");
	format_is(1, "1m");
	format_is(123, "123m");
	format_is(45000, "45S");
	format_is(60000, "1M");
	format_is(7200000, "2H");
	format_is(1500, "1500m");
	format_is(99999999, "99999999m");
	/* Over 8 digits of ms and not whole seconds: rounded up to seconds. */
	format_is(100000001, "100001S");
	format_is(100000000, "100000S");
	format_is(INT64_MAX, "99999999H");
	format_is(INT64_MAX / 2, "99999999H");
}

static void
test_timeout_round_trip(void **state)
{
	static const int64_t samples[] = {
		0, 1, 2, 999, 1000, 1001, 59999, 60000, 60001, 3599999, 3600000,
		86400000, 99999999, 100000000, 123456780000LL,
		99999999LL * 3600000,
	};
	char out[16];

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		net_grpc_timeout_format(samples[i], out, sizeof(out));
		assert_int_equal(timeout_ok(out), samples[i]);
	}
	/* Inexact values come back later, never earlier, by under a second. */
	for (int64_t ms = 100000000; ms < 100000000 + 3000; ms += 7) {
		int64_t back;

		net_grpc_timeout_format(ms, out, sizeof(out));
		back = timeout_ok(out);
		assert_true(back >= ms);
		assert_true(back - ms < 1000);
	}
}

/* grpc-message ----------------------------------------------------------- */

static void
encode_is(const char *in, size_t outlen, const char *want)
{
	char out[256];

	assert_true(outlen <= sizeof(out));
	memset(out, 'Z', sizeof(out));
	assert_int_equal(net_grpc_message_encode(in, out, outlen), strlen(want));
	assert_string_equal(out, want);
}

static void
decode_is(const char *in, const char *want)
{
	char out[256];

	memset(out, 'Z', sizeof(out));
	assert_int_equal(net_grpc_message_decode(in, strlen(in), out, sizeof(out)),
	    strlen(want));
	assert_string_equal(out, want);
}

static void
test_message_encode(void **state)
{
	encode_is("plain text, with (punctuation)!", 256,
	    "plain text, with (punctuation)!");
	encode_is("100%", 256, "100%25");
	encode_is("a\nb\tc", 256, "a%0Ab%09c");
	encode_is("caf\xc3\xa9", 256, "caf%C3%A9");
	encode_is("\xe2\x82\xac 5", 256, "%E2%82%AC 5");
	encode_is("\x7f~ ", 256, "%7F~ ");
	encode_is("", 256, "");
}

static void
test_message_encode_truncation(void **state)
{
	char out[4];

	/* Room for 3 bytes + NUL: "ab" then "%25" does not fit whole. */
	encode_is("ab%", 4, "ab");
	encode_is("ab%", 6, "ab%25");
	encode_is("ab%", 5, "ab");
	encode_is("%%", 4, "%25");
	encode_is("%%", 3, "");
	encode_is("abcdef", 4, "abc");
	encode_is("abc", 1, "");
	/* outlen 0: nothing written. */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(net_grpc_message_encode("abc", out, 0), 0);
	assert_int_equal(out[0], 'Z');
}

static void
test_message_decode(void **state)
{
	char out[8];

	decode_is("100%25", "100%");
	decode_is("caf%C3%A9", "caf\xc3\xa9");
	decode_is("caf%c3%a9", "caf\xc3\xa9");
	decode_is("a%0Ab", "a\nb");
	/* Invalid escapes are kept verbatim. */
	decode_is("100%", "100%");
	decode_is("%2", "%2");
	decode_is("%zz", "%zz");
	decode_is("%%41", "%A");
	decode_is("%4g", "%4g");
	decode_is("", "");
	/* len governs: "%41" cut to "%4" is not an escape. */
	assert_int_equal(net_grpc_message_decode("%41", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "%4");
	/* Truncated output still NUL-terminated. */
	assert_int_equal(net_grpc_message_decode("abcdefghij", 10, out, sizeof(out)), 7);
	assert_string_equal(out, "abcdefg");
	/* %00 decodes to a NUL byte; the length says so. */
	assert_int_equal(net_grpc_message_decode("a%00b", 5, out, sizeof(out)), 3);
	assert_memory_equal(out, "a\0b", 4);
	assert_int_equal(net_grpc_message_decode("abc", 3, out, 0), 0);
}

static void
test_message_round_trip(void **state)
{
	char in[256], enc[1024], dec[256];

	for (int i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	net_grpc_message_encode(in, enc, sizeof(enc));
	for (const char *p = enc; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);
	assert_int_equal(net_grpc_message_decode(enc, strlen(enc), dec, sizeof(dec)), 255);
	assert_string_equal(dec, in);
}

/* status ----------------------------------------------------------------- */

static void
test_status_names(void **state)
{
	assert_string_equal(net_grpc_status_name(GRPC_OK), "OK");
	assert_string_equal(net_grpc_status_name(GRPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	assert_string_equal(net_grpc_status_name(GRPC_PERMISSION_DENIED), "PERMISSION_DENIED");
	assert_string_equal(net_grpc_status_name(GRPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	assert_string_equal(net_grpc_status_name(GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(net_grpc_status_name(17), "UNKNOWN");
	assert_string_equal(net_grpc_status_name(-1), "UNKNOWN");
	for (int c = 0; c <= 16; c++) {
		char num[16];

		assert_int_equal(net_grpc_status_parse(net_grpc_status_name(c)), c);
		snprintf(num, sizeof(num), "%d", c);
		assert_int_equal(net_grpc_status_parse(num), c);
	}
}

static void
test_status_parse_refused(void **state)
{
	assert_int_equal(net_grpc_status_parse("ALREADY_EXISTS"), GRPC_ALREADY_EXISTS);
	assert_int_equal(net_grpc_status_parse(NULL), -1);
	assert_int_equal(net_grpc_status_parse(""), -1);
	assert_int_equal(net_grpc_status_parse("17"), -1);
	assert_int_equal(net_grpc_status_parse("100"), -1);
	assert_int_equal(net_grpc_status_parse("-1"), -1);
	assert_int_equal(net_grpc_status_parse("03"), -1);
	assert_int_equal(net_grpc_status_parse("3 "), -1);
	assert_int_equal(net_grpc_status_parse("invalid_argument"), -1);
	assert_int_equal(net_grpc_status_parse("OK "), -1);
	assert_int_equal(net_grpc_status_parse("99999999999999999999"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_decode_complete),
		cmocka_unit_test(test_decode_need_more_everywhere),
		cmocka_unit_test(test_decode_never_reads_past_len),
		cmocka_unit_test(test_decode_back_to_back),
		cmocka_unit_test(test_decode_zero_length),
		cmocka_unit_test(test_decode_too_big),
		cmocka_unit_test(test_decode_4gib),
		cmocka_unit_test(test_decode_flags),
		cmocka_unit_test(test_timeout_units),
		cmocka_unit_test(test_timeout_round_up),
		cmocka_unit_test(test_timeout_refused),
		cmocka_unit_test(test_timeout_format),
		cmocka_unit_test(test_timeout_round_trip),
		cmocka_unit_test(test_message_encode),
		cmocka_unit_test(test_message_encode_truncation),
		cmocka_unit_test(test_message_decode),
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_status_parse_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
