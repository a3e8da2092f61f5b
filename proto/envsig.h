/* envsig.h -- signed envelopes and signed trace hops: the canonical forms (docs/protocol.md "Signed envelopes"), ECDSA P-256 SHA-256. Pure. */
#ifndef AXLE_PROTO_ENVSIG_H
#define AXLE_PROTO_ENVSIG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "axle/v1/envelope.pb-c.h"

#define ENVSIG_ALG		"ecdsa-p256-sha256"	/* EnvelopeSignature.algorithm */
#define ENVSIG_DIGEST_LEN	32	/* SHA-256 */
#define ENVSIG_SIG_MAX		72	/* a DER ECDSA P-256 signature */
#define ENVSIG_ENV_TAG		"axle.envelope.v1"	/* first item of the envelope's form */
#define ENVSIG_HOP_TAG		"axle.hop.v1"		/* first item of a hop's form */

/*
 * The canonical form of e's signed header (docs/protocol.md "Signed
 * envelopes"): items, each a 4-byte big-endian length and that many bytes,
 * in a fixed order; integers as 8 bytes big-endian; the address parts of
 * sender, to and to_group.prefix lower-cased as nodes fold them; the
 * payload as its SHA-256. trace, hop_limit, returned, original_id and the
 * signature itself are outside it. Returns a malloc'd buffer and *len, or
 * NULL (ENOMEM).
 */
uint8_t *envsig_canonical(const Axle__V1__Envelope *e, size_t *len);

/* SHA-256 of envsig_canonical(e): what the hub signs and each hop covers. Returns 0 or -1. */
int envsig_digest(const Axle__V1__Envelope *e, uint8_t out[ENVSIG_DIGEST_LEN]);

/* SHA-256 of a certificate's DER: its key identity (as the register publishes it). Returns 0 or -1. */
int envsig_cert_id(X509 *cert, uint8_t out[ENVSIG_DIGEST_LEN]);

/*
 * A hub's signature, with the memory its fields point into: initialise
 * with envsig_sign, then point Envelope.signature at &s->msg. Plain data;
 * nothing to free.
 */
struct envsig_sig {
	Axle__V1__EnvelopeSignature msg;
	uint8_t key_id[ENVSIG_DIGEST_LEN];
	uint8_t payload_digest[ENVSIG_DIGEST_LEN];
	uint8_t sig[ENVSIG_SIG_MAX];
};

/*
 * Signs e (its signature field is ignored) with key (EC P-256) whose
 * certificate has key identity key_id. Returns 0, or -1 with a reason.
 */
int envsig_sign(const Axle__V1__Envelope *e, EVP_PKEY *key,
    const uint8_t key_id[ENVSIG_DIGEST_LEN], struct envsig_sig *out,
    char *why, size_t len);

/* What envsig_check finds. */
enum envsig_verdict {
	ENVSIG_OK = 0,		/* signed, and the signature verifies */
	ENVSIG_UNSIGNED,	/* no signature */
	ENVSIG_MALFORMED,	/* unknown algorithm, wrong lengths */
	ENVSIG_PAYLOAD,		/* payload_digest is not the payload's SHA-256 */
	ENVSIG_NO_KEY,		/* key_identity names no certificate of the sender */
	ENVSIG_BAD,		/* the signature does not verify */
};

/*
 * The signer's public key for key_identity id, or NULL with a reason
 * (unknown key, withdrawn, not the sender's). The caller frees what it
 * returns (EVP_PKEY_free).
 */
typedef EVP_PKEY *envsig_key_fn(void *arg, const char *sender,
    const uint8_t *id, size_t idlen, char *why, size_t len);

/*
 * Checks e's signature, looking the signer's key up with find(arg, ...).
 * why (always NUL-terminated if len > 0) names the fault for a person,
 * without the payload: "signature: payload_digest is not the SHA-256 of
 * the payload".
 */
enum envsig_verdict envsig_check(const Axle__V1__Envelope *e,
    envsig_key_fn *find, void *arg, char *why, size_t len);

/* A short name of a verdict for logs and metrics ("bad", "unsigned", ...). */
const char *envsig_verdict_name(enum envsig_verdict v);

/*
 * The canonical form of a trace hop: the tag, the envelope's canonical
 * digest, the previous hop's signature (empty for the first hop of the
 * trace), the hop's region, at_ms and redirect_case. Returns a malloc'd
 * buffer and *len, or NULL (ENOMEM).
 */
uint8_t *envsig_hop_canonical(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, const Axle__V1__TraceHop *hop, size_t *len);

/*
 * Signs hop (region, at_ms, redirect_case set) with a node's key: writes
 * the signature into sig (ENVSIG_SIG_MAX bytes) and points hop->signature
 * at it and hop->key_identity at key_id (which must outlive the hop).
 * Returns 0, or -1.
 */
int envsig_hop_sign(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, Axle__V1__TraceHop *hop, EVP_PKEY *key,
    const uint8_t key_id[ENVSIG_DIGEST_LEN], uint8_t sig[ENVSIG_SIG_MAX]);

/* Does hop's signature verify with pub? Returns 1 yes, 0 no. */
int envsig_hop_verify(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, const Axle__V1__TraceHop *hop, EVP_PKEY *pub);

/* ECDSA-with-SHA-256 over msg: 1 verifies, 0 not. */
int envsig_verify_raw(EVP_PKEY *pub, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen);

#endif
