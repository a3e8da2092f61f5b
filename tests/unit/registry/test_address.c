/* test_address.c -- address and identifier grammar, folding, covers(), labels(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "registry/address.h"

static char out[ADDR_MAX_LEN + 1];
static char err[256];

/* Parses a NUL-terminated address; returns the rc, fills out/err. */
static int
parse(const char *s)
{
	memset(out, 'Z', sizeof(out));
	memset(err, 'Z', sizeof(err));
	return registry_address_parse(s, strlen(s), out, err, sizeof(err));
}

/* Asserts s is refused with exactly the reason want. */
static void
refused(const char *s, const char *want)
{
	assert_int_equal(parse(s), -1);
	assert_string_equal(err, want);
	assert_string_equal(out, "");
}

/* Asserts s parses to want. */
static void
accepted(const char *s, const char *want)
{
	assert_int_equal(parse(s), 0);
	assert_string_equal(out, want);
	assert_string_equal(err, "");
}

/* A string of n copies of c (n < 400). */
static const char *
rep(char c, size_t n)
{
	static char buf[400];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_valid(void **state)
{
	accepted("uk", "uk");
	accepted("uk.london.lewisham.social-care", "uk.london.lewisham.social-care");
	accepted("a", "a");
	accepted("0", "0");
	accepted("a-b", "a-b");
	accepted("a--b", "a--b");	/* inner double hyphen is fine */
	accepted("123.456", "123.456");
	accepted("x1.2y.z-9", "x1.2y.z-9");
}

static void
test_case_folding(void **state)
{
	accepted("UK.London.Lewisham", "uk.london.lewisham");
	accepted("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz");
	accepted("Social-Care-42", "social-care-42");
}

static void
test_bad_bytes(void **state)
{
	refused("uk.london.So cial",
	    "label 3 (\"So cial\") byte 2: ' ' is not allowed (use a-z, 0-9, '-')");
	refused("uk_london",
	    "label 1 (\"uk_london\") byte 2: '_' is not allowed (use a-z, 0-9, '-')");
	refused("uk.lon:don",
	    "label 2 (\"lon:don\") byte 3: ':' is not allowed (use a-z, 0-9, '-')");
	refused("uk.a/b",
	    "label 2 (\"a/b\") byte 1: '/' is not allowed (use a-z, 0-9, '-')");
	refused("uk.a\tb",
	    "label 2 (\"a\\x09b\") byte 1: control byte 0x09 is not allowed "
	    "(use a-z, 0-9, '-')");
	refused("uk.a\"b",
	    "label 2 (\"a\\x22b\") byte 1: '\"' is not allowed (use a-z, 0-9, '-')");
}

static void
test_embedded_nul(void **state)
{
	/* len governs, not the NUL: an embedded NUL must not truncate silently. */
	assert_int_equal(registry_address_parse("uk\0x", 4, out, err, sizeof(err)), -1);
	assert_string_equal(err,
	    "label 1 (\"uk\\x00x\") byte 2: control byte 0x00 is not allowed "
	    "(use a-z, 0-9, '-')");
	/* And only len bytes are read: "uk.london" cut at 2 is "uk". */
	assert_int_equal(registry_address_parse("uk.london", 2, out, err, sizeof(err)), 0);
	assert_string_equal(out, "uk");
}

static void
test_unicode(void **state)
{
	refused("uk.m\xc3\xbcnchen",
	    "non-ASCII byte 0xc3 at byte 4 (addresses are ASCII)");
	refused("\xe2\x80\x8buk", "non-ASCII byte 0xe2 at byte 0 (addresses are ASCII)");
	refused("uk.lond\xff", "non-ASCII byte 0xff at byte 7 (addresses are ASCII)");
	/* Fullwidth 'A' is not folded into 'a'. */
	refused("\xef\xbc\xa1", "non-ASCII byte 0xef at byte 0 (addresses are ASCII)");
}

static void
test_empty_labels_and_dots(void **state)
{
	refused("", "address is empty");
	refused(".", "leading dot");
	refused(".uk", "leading dot");
	refused("uk.", "trailing dot");
	refused("uk.london.", "trailing dot");
	refused("uk..london", "label 2 is empty (two dots at byte 2)");
	refused("uk.london..x", "label 3 is empty (two dots at byte 9)");
	refused("..", "leading dot");
	refused("a...b", "label 2 is empty (two dots at byte 1)");
}

static void
test_hyphens(void **state)
{
	refused("-x", "label 1 (\"-x\") starts with '-'");
	refused("uk.london-", "label 2 (\"london-\") ends with '-'");
	refused("uk.-", "label 2 (\"-\") starts with '-'");
	refused("uk.--", "label 2 (\"--\") starts with '-'");
	refused("uk.Ab-", "label 2 (\"Ab-\") ends with '-'");
	accepted("x-1.y-2", "x-1.y-2");
}

static void
test_label_length(void **state)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "uk.%s", rep('a', 63));
	assert_int_equal(parse(buf), 0);
	assert_int_equal(strlen(out), 66);

	snprintf(buf, sizeof(buf), "uk.%s", rep('a', 64));
	refused(buf, "label 2 is 64 bytes, the limit is 63");

	snprintf(buf, sizeof(buf), "%s.uk", rep('B', 64));
	refused(buf, "label 1 is 64 bytes, the limit is 63");
}

/* An address of exactly n bytes made of 63-byte labels and a short tail. */
static const char *
address_of(size_t n)
{
	static char buf[400];
	size_t o = 0;

	while (o < n) {
		size_t room = n - o, take = room < 63 ? room : 63;

		/* Never leave a dangling dot or a one-byte gap that would need one. */
		if (room > 63 && room - 63 < 2)
			take = 61;
		memset(buf + o, 'a', take);
		o += take;
		if (o < n)
			buf[o++] = '.';
	}
	buf[o] = '\0';
	assert_int_equal(strlen(buf), n);
	return buf;
}

static void
test_total_length(void **state)
{
	assert_int_equal(parse(address_of(253)), 0);
	assert_int_equal(strlen(out), 253);
	assert_int_equal(registry_address_labels(out), 4);

	refused(address_of(254), "address is 254 bytes, the limit is 253");
	refused(address_of(260), "address is 260 bytes, the limit is 253");
	/* The limit is checked before anything is written to out. */
	refused(rep('a', 399), "address is 399 bytes, the limit is 253");
}

static void
test_err_handling(void **state)
{
	char small[8];

	/* Truncated reasons are still NUL-terminated. */
	assert_int_equal(registry_address_parse("-x", 2, out, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "label 1", 7);
	/* No err buffer at all is allowed. */
	assert_int_equal(registry_address_parse("-x", 2, out, NULL, 0), -1);
	assert_int_equal(registry_address_parse("ok", 2, out, NULL, 0), 0);
	assert_string_equal(out, "ok");
}

/* identifiers ------------------------------------------------------------ */

static char addr[ADDR_MAX_LEN + 1], local[ADDR_LOCAL_MAX + 1];

static int
ident(const char *s)
{
	memset(addr, 'Z', sizeof(addr));
	memset(local, 'Z', sizeof(local));
	return registry_identifier_parse(s, strlen(s), addr, local, err, sizeof(err));
}

static void
ident_refused(const char *s, const char *want)
{
	assert_int_equal(ident(s), -1);
	assert_string_equal(err, want);
	assert_string_equal(addr, "");
	assert_string_equal(local, "");
}

static void
test_identifier_valid(void **state)
{
	assert_int_equal(ident("uk.london.lewisham.swift:0042"), 0);
	assert_string_equal(addr, "uk.london.lewisham.swift");
	assert_string_equal(local, "0042");
	assert_string_equal(err, "");

	/* Address folded, local id kept as given. */
	assert_int_equal(ident("UK.London:AbC-x_y.z"), 0);
	assert_string_equal(addr, "uk.london");
	assert_string_equal(local, "AbC-x_y.z");

	/* All printable ASCII but ':' is allowed in the local id. */
	assert_int_equal(ident("uk:!\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~"), 0);
	assert_string_equal(local, "!\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~");
}

static void
test_identifier_refused(void **state)
{
	ident_refused("uk.london", "missing ':' between address and local id");
	ident_refused("", "missing ':' between address and local id");
	ident_refused("uk:", "local id is empty");
	ident_refused(":x", "address part: address is empty");
	ident_refused("uk.:x", "address part: trailing dot");
	ident_refused("u k:x",
	    "address part: label 1 (\"u k\") byte 1: ' ' is not allowed "
	    "(use a-z, 0-9, '-')");
	ident_refused("uk:a b", "local id byte 1: space is not allowed");
	ident_refused("uk:a:b", "local id byte 1: a second ':' is not allowed");
	ident_refused("uk::", "local id byte 0: a second ':' is not allowed");
	ident_refused("uk:a\nb",
	    "local id byte 1: byte 0x0a is not allowed (use printable ASCII)");
	ident_refused("uk:\x7f",
	    "local id byte 0: byte 0x7f is not allowed (use printable ASCII)");
	ident_refused("uk:caf\xc3\xa9",
	    "local id byte 3: byte 0xc3 is not allowed (use printable ASCII)");
}

static void
test_identifier_local_length(void **state)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "uk:%s", rep('x', 128));
	assert_int_equal(ident(buf), 0);
	assert_int_equal(strlen(local), 128);

	snprintf(buf, sizeof(buf), "uk:%s", rep('x', 129));
	ident_refused(buf, "local id is 129 bytes, the limit is 128");

	/* The longest identifier: 253 + 1 + 128 bytes. */
	snprintf(buf, sizeof(buf), "%s:%s", address_of(253), rep('q', 128));
	assert_int_equal(strlen(buf), IDENT_MAX_LEN);
	assert_int_equal(ident(buf), 0);
	assert_int_equal(strlen(addr), 253);
}

/* covers / labels -------------------------------------------------------- */

static void
test_covers(void **state)
{
	assert_true(registry_address_covers("uk.london", "uk.london"));
	assert_true(registry_address_covers("uk.london", "uk.london.lewisham"));
	assert_true(registry_address_covers("uk.london", "uk.london.lewisham.swift"));
	assert_true(registry_address_covers("uk", "uk.london"));
	assert_false(registry_address_covers("uk.london", "uk.londonderry"));
	assert_false(registry_address_covers("uk.london", "uk.londo"));
	assert_false(registry_address_covers("uk.london", "uk"));
	assert_false(registry_address_covers("uk.london.lewisham", "uk.london"));
	assert_false(registry_address_covers("uk.london", "fr.london"));
	assert_false(registry_address_covers("london", "uk.london"));
	assert_false(registry_address_covers("uk.lon", "uk.london"));
	/* Not an address: never covers anything (fail closed). */
	assert_false(registry_address_covers("", "uk"));
	assert_false(registry_address_covers("", ""));
	assert_false(registry_address_covers(NULL, "uk"));
	assert_false(registry_address_covers("uk", NULL));
}

static void
test_labels(void **state)
{
	assert_int_equal(registry_address_labels("uk"), 1);
	assert_int_equal(registry_address_labels("uk.london"), 2);
	assert_int_equal(registry_address_labels("uk.london.lewisham.social-care"), 4);
	assert_int_equal(registry_address_labels(""), 0);
	assert_int_equal(registry_address_labels(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_empty_labels_and_dots),
		cmocka_unit_test(test_hyphens),
		cmocka_unit_test(test_label_length),
		cmocka_unit_test(test_total_length),
		cmocka_unit_test(test_err_handling),
		cmocka_unit_test(test_identifier_valid),
		cmocka_unit_test(test_identifier_refused),
		cmocka_unit_test(test_identifier_local_length),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
