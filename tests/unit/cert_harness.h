/* cert_harness.h -- certificates made in unit tests (test_tls, test_keys): an EC
 * P-256 key and X.509v3 extensions. Include after <cmocka.h>. */
#ifndef AXLE_TESTS_UNIT_CERT_HARNESS_H
#define AXLE_TESTS_UNIT_CERT_HARNESS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline EVP_PKEY *
cert_ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* Adds the extension nid = value (openssl config syntax) to cert, issued by issuer. */
static inline void
cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

#endif
