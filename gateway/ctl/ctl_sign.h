/* ctl_sign.h -- the hub's side of signed envelopes: send signs with the hub's key, fetch verifies. */
#ifndef AXLE_CTL_SIGN_H
#define AXLE_CTL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto/envsig.h"

/* The hub's signing key and its certificate's key identity. */
struct ctl_signer {
	EVP_PKEY *key;
	uint8_t kid[ENVSIG_DIGEST_LEN];
};

/*
 * Loads a PEM private key and the PEM certificate it belongs to (the first
 * of the file). Returns 0, or -1 with why (unreadable, not the
 * certificate's key). Free with ctl_signer_free.
 */
int ctl_signer_load(const char *key_file, const char *cert_file,
    struct ctl_signer *s, char *why, size_t len);
void ctl_signer_free(struct ctl_signer *s);

/* Certificates fetch verifies signatures with (--signer-cert: a PEM file of one or more). */
struct ctl_verifier {
	STACK_OF(X509) *certs;
};

int ctl_verifier_load(const char *path, struct ctl_verifier *v, char *why, size_t len);
void ctl_verifier_free(struct ctl_verifier *v);

/* Checks e's signature with v's certificates (envsig_check); why says what failed. */
enum envsig_verdict ctl_verify(const struct ctl_verifier *v,
    const Axle__V1__Envelope *e, char *why, size_t len);

#endif
