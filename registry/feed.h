/* feed.h -- the register's change feed: entry hashes, chain verification, signed heads. */
#ifndef AXLE_REGISTRY_FEED_H
#define AXLE_REGISTRY_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "axle/v1/registry.pb-c.h"

#define REGISTRY_HASH_LEN	32
#define REGISTRY_HEAD_ALG	"ecdsa-p256-sha256"

/*
 * Entry hash. hash = SHA-256(prev_hash || canonical(entry)), where
 * prev_hash is the previous entry's hash (32 zero bytes for seq 1, and
 * FeedEntry.prev_hash carries exactly that) and canonical() is an encoding
 * fixed here rather than protobuf's wire form, so that any implementation
 * (and any protobuf library, which may reorder unknown fields) gets the same
 * bytes:
 *   "axle.v1.FeedEntry/1" NUL, then in this order
 *   seq, at_ms, actor, change, region, detail, registrar-present (u8 0/1),
 *   registrar: id, display_name, prefixes[], cert_identity, status,
 *     status_reason, contacts[]{name, role, email, phone},
 *     services[]{name, kind, message_types[], description, endpoint, address},
 *     created_ms, updated_ms, version, region, successor_id,
 *     and, only when a service publishes purposes (Service.purposes, since
 *     purpose-bound services; entries without any hash as before):
 *     the string "purposes", then the count of services and each
 *     service's purposes[] in service order
 * with integers and enums as 8 bytes big-endian (two's complement), strings
 * as a 4-byte big-endian length and the bytes, repeated fields as a 4-byte
 * count and the items. A field added to FeedEntry or Registrar must be added
 * here, with a new version tag ("/2") or, as purposes are, appended only
 * when set (so older entries keep their hashes); the hash field itself is
 * not included. A node that does not know such a field yet computes
 * another hash for an entry that sets it and stops its mirror: publish
 * purposes once every node of the federation knows them.
 */

/*
 * Computes the hash of e into out. e->prev_hash must be 32 bytes. Returns
 * REGISTRY_OK, REGISTRY_EINVAL (prev_hash of another length) or
 * REGISTRY_ENOMEM (digest context).
 */
int registry_feed_hash(const Axle__V1__FeedEntry *e, uint8_t out[REGISTRY_HASH_LEN]);

/*
 * Verifies that entries[0..n) continue the chain whose last entry is
 * (prev_seq, prev_hash) (prev_seq 0: the start, prev_hash is ignored and
 * 32 zero bytes are used): seqs prev_seq+1, +2, ... with no gap, each
 * prev_hash equal to the hash before it, each hash equal to the hash of its
 * contents. Returns REGISTRY_OK, or REGISTRY_EINTEGRITY with *bad_seq (may be
 * NULL) set to the seq at fault and a reason saying what happened to it:
 *   "entry 4 was modified: its hash does not match its contents"
 *   "entry 4 was modified: entry 5's prev_hash does not chain to it"
 *   "entry 4 is missing: entry 5 follows entry 3"
 *   "entry 4 is out of order: entry 5 comes before it"
 *   "entry 4 appears again after entry 5"
 */
int registry_feed_verify(const Axle__V1__FeedEntry *const *entries, size_t n,
    uint64_t prev_seq, const uint8_t *prev_hash, uint64_t *bad_seq,
    char *reason, size_t len);

/*
 * ECDSA P-256 over SHA-256 of msg[0..mlen), DER, the one signing of the
 * node's key (feed heads here, the audit head in recourse/audit_sign.c).
 * registry_sign_p256 sets *out to a malloc'd signature (free() its data)
 * and returns 0, or -1 (msg NULL, OpenSSL failed, out of memory).
 * registry_verify_p256: does sig verify over msg with pub (false for a
 * NULL msg)? registry_key_is_p256: is key (NULL: no) an EC P-256 key?
 */
bool registry_key_is_p256(EVP_PKEY *key);
int registry_sign_p256(EVP_PKEY *key, const uint8_t *msg, size_t mlen,
    ProtobufCBinaryData *out);
bool registry_verify_p256(EVP_PKEY *pub, const uint8_t *msg, size_t mlen,
    const ProtobufCBinaryData *sig);

/*
 * Signs head (region, seq, hash set by the caller; hash 32 bytes) with the
 * node's private key, an EC P-256 key: ECDSA over SHA-256 of
 *   "axle.v1.SignedHead/1" NUL, region (4-byte length + bytes),
 *   seq (8 bytes big-endian), hash (4-byte length + bytes),
 * DER-encoded. Sets head->signature to a malloc'd buffer (the caller frees
 * head->signature.data with free()) and head->algorithm to the static
 * REGISTRY_HEAD_ALG. Returns REGISTRY_OK, REGISTRY_EINVAL (not an EC P-256
 * key, bad hash length) or REGISTRY_ENOMEM / REGISTRY_EINTEGRITY (OpenSSL
 * failed) with reason.
 */
int registry_feed_sign_head(EVP_PKEY *key, Axle__V1__SignedHead *head,
    char *reason, size_t len);

/*
 * registry_feed_sign_head also sets head->time_signature (malloc'd, freed
 * by the caller with free()): the same signature over "axle.v1.SignedHead/2"
 * NUL, region, seq, hash as above, then signed_ms (8 bytes big-endian), so
 * that signed_ms is the origin's word too.
 *
 * Verifies head's signature with the signing node's public key (from its
 * certificate: X509_get0_pubkey). Returns REGISTRY_OK, or
 * REGISTRY_EINTEGRITY with a reason (unknown algorithm, hash not 32 bytes,
 * signature does not verify, or a time signature present that does not).
 */
int registry_feed_verify_head(EVP_PKEY *pub, const Axle__V1__SignedHead *head,
    char *reason, size_t len);

/*
 * When the origin vouches it was at head: signed_ms if head carries a time
 * signature (checked by registry_feed_verify_head), else 0 (an older node).
 */
int64_t registry_feed_head_time(const Axle__V1__SignedHead *head);

#endif
