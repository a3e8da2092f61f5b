/* test_audit_sign.c -- the signed audit head: the exact bytes signed (the spec in docs/admin.md), signing and checking, any field altered refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "recourse/audit.h"
#include "recourse/audit_sign.h"

static uint8_t hash[RECOURSE_HASH_LEN];

static Axle__V1__SignedAuditHead
head(void)
{
	Axle__V1__SignedAuditHead h = AXLE__V1__SIGNED_AUDIT_HEAD__INIT;

	for (int i = 0; i < RECOURSE_HASH_LEN; i++)
		hash[i] = (uint8_t)i;
	h.region = "uk.ab";
	h.from_seq = 2;
	h.seq = 0x0102;
	h.hash.data = hash;
	h.hash.len = sizeof(hash);
	h.signed_ms = -2;	/* two's complement, as the spec says */
	return h;
}

/* The bytes, written out by hand from the spec: another implementation must make these. */
static void
test_head_bytes(void **state)
{
	static const uint8_t want_fixed[] = {
		'a', 'x', 'l', 'e', '.', 'v', '1', '.', 'A', 'u', 'd', 'i', 't',
		'H', 'e', 'a', 'd', '/', '1', 0,
		0, 0, 0, 5, 'u', 'k', '.', 'a', 'b',
		0, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 1, 2,
		0, 0, 0, 32,
	};
	static const uint8_t want_ms[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xfe };
	Axle__V1__SignedAuditHead h = head();
	size_t len;
	unsigned char *b = recourse_audit_head_bytes(&h, &len);

	(void)state;
	assert_non_null(b);
	assert_int_equal(len, sizeof(want_fixed) + 32 + 8);
	assert_memory_equal(b, want_fixed, sizeof(want_fixed));
	assert_memory_equal(b + sizeof(want_fixed), hash, 32);
	assert_memory_equal(b + sizeof(want_fixed) + 32, want_ms, 8);
	free(b);
}

static EVP_PKEY *
key(const char *group)
{
	EVP_PKEY *k = EVP_EC_gen(group);

	assert_non_null(k);
	return k;
}

static void
test_sign_verify_and_alter(void **state)
{
	EVP_PKEY *k = key("P-256"), *other = key("P-256");
	Axle__V1__SignedAuditHead h = head(), x;
	uint8_t h2[RECOURSE_HASH_LEN];
	char why[256];

	(void)state;
	assert_int_equal(recourse_audit_sign_head(k, &h, why, sizeof(why)),
	    RECOURSE_OK);
	assert_string_equal(h.algorithm, RECOURSE_HEAD_ALG);
	assert_int_equal(recourse_audit_verify_head(k, &h, why, sizeof(why)),
	    RECOURSE_OK);
	assert_int_equal(recourse_audit_verify_head(other, &h, why, sizeof(why)),
	    RECOURSE_EINVAL);
	assert_non_null(strstr(why, "does not verify"));
	x = h; x.region = "uk.ac";
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	x = h; x.from_seq = 1;
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	x = h; x.seq++;
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	x = h; x.signed_ms = 5;
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	memcpy(h2, hash, sizeof(h2));
	h2[31] ^= 1;
	x = h; x.hash.data = h2;
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	x = h; x.algorithm = "rsa";
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_EINVAL);
	assert_non_null(strstr(why, "is not " RECOURSE_HEAD_ALG));
	x = h; x.head_seq = 99;		/* not signed: informative only */
	assert_int_equal(recourse_audit_verify_head(k, &x, why, sizeof(why)),
	    RECOURSE_OK);
	free(h.signature.data);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_refuses_other_keys_and_hashes(void **state)
{
	EVP_PKEY *p384 = key("P-384"), *k = key("P-256");
	Axle__V1__SignedAuditHead h = head();
	char why[256];

	(void)state;
	assert_int_equal(recourse_audit_sign_head(p384, &h, why, sizeof(why)),
	    RECOURSE_EINVAL);
	assert_non_null(strstr(why, "not an EC P-256 key"));
	assert_null(h.signature.data);
	h.hash.len = 31;
	assert_int_equal(recourse_audit_sign_head(k, &h, why, sizeof(why)),
	    RECOURSE_EINVAL);
	assert_non_null(strstr(why, "31 bytes"));
	EVP_PKEY_free(p384);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_bytes),
		cmocka_unit_test(test_sign_verify_and_alter),
		cmocka_unit_test(test_refuses_other_keys_and_hashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
