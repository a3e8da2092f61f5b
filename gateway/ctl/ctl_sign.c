/* ctl_sign.c -- the hub's side of signed envelopes: send signs with the hub's key, fetch verifies (docs/protocol.md "Signed envelopes"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gateway/ctl/ctl_sign.h"

/* Reads every certificate of a PEM file into a new stack; NULL with why. */
static STACK_OF(X509) *
certs_read(const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "r");
	STACK_OF(X509) *sk;
	X509 *c;

	if (f == NULL) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		fclose(f);
		snprintf(why, len, "out of memory");
		return NULL;
	}
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			break;
		}
	fclose(f);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		snprintf(why, len, "%s holds no PEM certificate", path);
		return NULL;
	}
	return sk;
}

int
ctl_signer_load(const char *key_file, const char *cert_file,
    struct ctl_signer *s, char *why, size_t len)
{
	STACK_OF(X509) *certs = NULL;
	FILE *f;

	memset(s, 0, sizeof(*s));
	if ((f = fopen(key_file, "r")) == NULL) {
		snprintf(why, len, "cannot read the signing key %s: %s", key_file,
		    strerror(errno));
		return -1;
	}
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (s->key == NULL) {
		snprintf(why, len, "%s holds no PEM private key", key_file);
		goto fail;
	}
	if ((certs = certs_read(cert_file, why, len)) == NULL)
		goto fail;
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), s->key) != 1) {
		snprintf(why, len, "the signing key %s is not the key of the "
		    "certificate %s", key_file, cert_file);
		goto fail;
	}
	if (envsig_cert_id(sk_X509_value(certs, 0), s->kid) != 0) {
		snprintf(why, len, "out of memory");
		goto fail;
	}
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return 0;
fail:
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(s->key);
	s->key = NULL;
	ERR_clear_error();
	return -1;
}

void
ctl_signer_free(struct ctl_signer *s)
{
	EVP_PKEY_free(s->key);
	s->key = NULL;
}

/* --- verifying what fetch hands out --------------------------------------------------- */

int
ctl_verifier_load(const char *path, struct ctl_verifier *v, char *why, size_t len)
{
	memset(v, 0, sizeof(*v));
	return (v->certs = certs_read(path, why, len)) != NULL ? 0 : -1;
}

void
ctl_verifier_free(struct ctl_verifier *v)
{
	sk_X509_pop_free(v->certs, X509_free);
	v->certs = NULL;
}

/* envsig_key_fn over the certificates given with --signer-cert. */
static EVP_PKEY *
file_key(void *arg, const char *sender, const uint8_t *id, size_t idlen,
    char *why, size_t len)
{
	const struct ctl_verifier *v = arg;
	uint8_t kid[ENVSIG_DIGEST_LEN];

	for (int i = 0; v->certs != NULL && i < sk_X509_num(v->certs); i++) {
		X509 *c = sk_X509_value(v->certs, i);

		if (idlen == sizeof(kid) && envsig_cert_id(c, kid) == 0 &&
		    memcmp(kid, id, sizeof(kid)) == 0)
			return X509_get_pubkey(c);
	}
	snprintf(why, len, "no certificate given with --signer-cert has this "
	    "key_identity");
	return NULL;
}

enum envsig_verdict
ctl_verify(const struct ctl_verifier *v, const Axle__V1__Envelope *e,
    char *why, size_t len)
{
	return envsig_check(e, file_key, (void *)v, why, len);
}
