/* test_ctl_seal.c -- sealing (CMS AuthEnvelopedData, AES-256-GCM, ECDH P-256) and opening; how a node tells a sealed payload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gateway/ctl/ctl_seal.h"
#include "gateway/switch/sw_envelope.h"

static const char marker[] = "MARKER-7d1c: child protection referral, do not read";

/* A P-256 key and a self-signed certificate for it (key agreement only). */
static X509 *
recipient(EVP_PKEY **key)
{
	static long serial;
	X509 *x = X509_new();

	*key = EVP_EC_gen("P-256");
	assert_non_null(*key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"seal", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_int_equal(X509_set_pubkey(x, *key), 1);
	assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
	return x;
}

static bool
contains(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, s, k) == 0)
			return true;
	return false;
}

static void
sealed_to(X509 **certs, size_t n, uint8_t **out, size_t *len)
{
	char err[400];

	assert_int_equal(ctl_seal((const uint8_t *)marker, sizeof(marker) - 1,
	    certs, n, out, len, err, sizeof(err)), 0);
	assert_true(*len > sizeof(marker));
	/* The marker is not in the sealed bytes. */
	assert_false(contains(*out, *len, "MARKER-7d1c"));
}

static Axle__V1__Envelope
env_of(uint8_t *p, size_t n, const char *ct)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;

	e.payload.data = p;
	e.payload.len = n;
	e.content_type = (char *)ct;
	return e;
}

static void
round_trip_to_every_recipient(void **state)
{
	EVP_PKEY *k1, *k2, *k3;
	X509 *c[2], *c3 = recipient(&k3);
	uint8_t *sealed, *plain;
	size_t slen, plen;
	char err[400];

	(void)state;
	c[0] = recipient(&k1);
	c[1] = recipient(&k2);
	sealed_to(c, 2, &sealed, &slen);
	/* Either recipient opens it, with or without naming its certificate. */
	assert_int_equal(ctl_seal_open(sealed, slen, k1, c[0], &plain, &plen,
	    err, sizeof(err)), 0);
	assert_int_equal(plen, sizeof(marker) - 1);
	assert_memory_equal(plain, marker, plen);
	free(plain);
	assert_int_equal(ctl_seal_open(sealed, slen, k2, NULL, &plain, &plen,
	    err, sizeof(err)), 0);
	assert_memory_equal(plain, marker, plen);
	free(plain);
	/* Anyone else cannot, and is told so. */
	assert_int_equal(ctl_seal_open(sealed, slen, k3, c3, &plain, &plen,
	    err, sizeof(err)), -1);
	assert_null(plain);
	assert_non_null(strstr(err, "cannot open it with this key"));
	free(sealed);
	X509_free(c[0]);
	X509_free(c[1]);
	X509_free(c3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

static void
tampering_is_refused(void **state)
{
	EVP_PKEY *k;
	X509 *c = recipient(&k);
	uint8_t *sealed, *plain;
	size_t slen, plen;
	char err[400];

	(void)state;
	sealed_to(&c, 1, &sealed, &slen);
	/* The ciphertext sits before the GCM tag at the end: flip one byte of it. */
	sealed[slen - 40] ^= 0x01;
	assert_int_equal(ctl_seal_open(sealed, slen, k, c, &plain, &plen, err,
	    sizeof(err)), -1);
	assert_null(plain);
	/* Not CMS at all. */
	assert_int_equal(ctl_seal_open((const uint8_t *)marker, sizeof(marker),
	    k, c, &plain, &plen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a CMS message"));
	free(sealed);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void
node_tells_sealed_by_type_and_oid(void **state)
{
	EVP_PKEY *k;
	X509 *c = recipient(&k);
	uint8_t *sealed, plain[64];
	size_t slen;
	Axle__V1__Envelope e;

	(void)state;
	sealed_to(&c, 1, &sealed, &slen);
	e = env_of(sealed, slen, SW_SEALED_CT);
	assert_true(sw_payload_sealed(&e));
	e = env_of(sealed, slen, "Application/PKCS7-MIME ;smime-type = "
	    "\"authEnveloped-data\"; name=smime.p7m");
	assert_true(sw_payload_sealed(&e));
	/* The right bytes under another content type, or no parameter. */
	e = env_of(sealed, slen, "application/octet-stream");
	assert_false(sw_payload_sealed(&e));
	e = env_of(sealed, slen, "application/pkcs7-mime");
	assert_false(sw_payload_sealed(&e));
	e = env_of(sealed, slen, "application/pkcs7-mime; smime-type=enveloped-data");
	assert_false(sw_payload_sealed(&e));
	/* The content type alone does not make a plain payload sealed. */
	memset(plain, 'x', sizeof(plain));
	e = env_of(plain, sizeof(plain), SW_SEALED_CT);
	assert_false(sw_payload_sealed(&e));
	/* Another CMS type (the OID's last arc 23 -> 3, EnvelopedData). */
	sealed[4 + 12] = 0x03;
	e = env_of(sealed, slen, SW_SEALED_CT);
	assert_false(sw_payload_sealed(&e));
	/* Too short to hold the OID; empty. */
	sealed[4 + 12] = 0x17;
	e = env_of(sealed, 10, SW_SEALED_CT);
	assert_false(sw_payload_sealed(&e));
	e = env_of(NULL, 0, SW_SEALED_CT);
	assert_false(sw_payload_sealed(&e));
	/* A short-form length header is understood too. */
	{
		uint8_t s[15] = { 0x30, 13, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86,
		    0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17 };

		e = env_of(s, sizeof(s), SW_SEALED_CT);
		assert_true(sw_payload_sealed(&e));
	}
	free(sealed);
	X509_free(c);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_to_every_recipient),
		cmocka_unit_test(tampering_is_refused),
		cmocka_unit_test(node_tells_sealed_by_type_and_oid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
