/* audit_sign.h -- the audit head signed by the node's key: the bytes signed, signing, checking. */
#ifndef AXLE_RECOURSE_AUDIT_SIGN_H
#define AXLE_RECOURSE_AUDIT_SIGN_H

#include <stddef.h>
#include <openssl/evp.h>

#include "axle/v1/recourse.pb-c.h"

#define RECOURSE_HEAD_ALG	"ecdsa-p256-sha256"
#define RECOURSE_HEAD_TAG	"axle.v1.AuditHead/1"

/*
 * The bytes an audit head's signature covers (its own tag, so that it can
 * never pass for a feed head's or an envelope's signature):
 *   "axle.v1.AuditHead/1" NUL, region (4-byte big-endian length + bytes),
 *   from_seq (8 bytes big-endian), seq (8), hash (4-byte length + bytes),
 *   signed_ms (8 bytes big-endian, two's complement)
 * Returns a malloc'd buffer (free()) with its length in *len, or NULL.
 */
unsigned char *recourse_audit_head_bytes(const Axle__V1__SignedAuditHead *h,
    size_t *len);

/*
 * Signs h (region, from_seq, seq, hash (32 bytes), signed_ms set by the
 * caller) with key, an EC P-256 key: ECDSA over SHA-256 of the bytes above,
 * DER. Sets h->signature to a malloc'd buffer (the caller frees
 * h->signature.data with free()) and h->algorithm to the static
 * RECOURSE_HEAD_ALG. RECOURSE_OK, or RECOURSE_EINVAL with a reason (not a
 * P-256 key, hash not 32 bytes, OpenSSL failed).
 */
int recourse_audit_sign_head(EVP_PKEY *key, Axle__V1__SignedAuditHead *h,
    char *why, size_t whylen);

/*
 * Checks h's signature with pub (the node's certificate's key). RECOURSE_OK,
 * or RECOURSE_EINVAL with a reason (algorithm, hash length, the signature
 * does not verify).
 */
int recourse_audit_verify_head(EVP_PKEY *pub, const Axle__V1__SignedAuditHead *h,
    char *why, size_t whylen);

#endif
