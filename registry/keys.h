/* keys.h -- the certificates a registrar publishes for its hubs: what a signing or sealing certificate must be, and storing them in its record. */
#ifndef AXLE_REGISTRY_KEYS_H
#define AXLE_REGISTRY_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/db.h"

/*
 * Keys in the register (docs/protocol.md, "Keys in the register"): a
 * registrar's record carries, in `keys`, the certificates its hubs sign
 * envelopes with (KEY_USE_SIGNING) and the certificates payloads are sealed
 * to (KEY_USE_SEALING). Their private keys never reach a node.
 *
 * The extended key usages below mark a certificate as axle's, for one use,
 * and not for TLS. They are UUID-based OIDs (ITU-T X.667, arc 2.25), so no
 * registration is needed; certs/axle-cert-issue writes the same strings.
 */
#define REGISTRY_KEY_OID_ARC	"2.25.95932378539383602072233195755124895692"
#define REGISTRY_KEY_OID_SIGNING	REGISTRY_KEY_OID_ARC ".1"	/* axle envelope-signing */
#define REGISTRY_KEY_OID_SEALING	REGISTRY_KEY_OID_ARC ".2"	/* axle payload-sealing */

#define REGISTRY_KEYS_MAX	16		/* keys one registrar may publish */
#define REGISTRY_KEY_CERT_MAX	(16u << 10)	/* bytes of one certificate (DER) */
#define REGISTRY_KEY_FPR_LEN	32		/* SHA-256 */
#define REGISTRY_KEY_FPR_HEX	(2 * REGISTRY_KEY_FPR_LEN + 1)

/* "signing", "sealing" or "unspecified"; static. */
const char *registry_key_use_name(Axle__V1__KeyUse use);

/* Lower-case hex of a fingerprint into hex (REGISTRY_KEY_FPR_HEX bytes); "" if not 32 bytes. */
void registry_key_fpr_hex(const ProtobufCBinaryData *fpr, char *hex);

/*
 * Checks der as a certificate registrar r may publish for use, at now_ms,
 * in federation fed (its SAN URIs are axle://<fed>/...), and fills out
 * (use, certificate pointing at der, fingerprint into fpr, validity,
 * identity into identity, NOT scope or published_ms). What it checks:
 * the certificate parses (at most REGISTRY_KEY_CERT_MAX bytes), is not a
 * CA, holds an EC P-256 key, is valid at now_ms, has exactly one axle://
 * URI, and the key usage of use: SIGNING keyUsage digitalSignature and the
 * extended key usage REGISTRY_KEY_OID_SIGNING; SEALING keyUsage
 * keyAgreement only and REGISTRY_KEY_OID_SEALING; neither may carry TLS's
 * serverAuth or clientAuth (REGISTRY_EINVAL, the reason naming the fault).
 * Its URI must be r's cert_identity or a member (hub) identity
 * axle://<fed>/member/<address> whose address one of r's prefixes covers
 * (REGISTRY_EPERM). It does NOT verify the chain to the federation's CA:
 * the caller does, with its trust store. Pure (OpenSSL parsing only).
 * identity needs REGISTRY_KEY_URI_MAX bytes.
 */
#define REGISTRY_KEY_URI_MAX	512
int registry_key_cert_check(const uint8_t *der, size_t len, Axle__V1__KeyUse use,
    const char *fed, const Axle__V1__Registrar *r, int64_t now_ms,
    Axle__V1__PublishedKey *out, uint8_t fpr[REGISTRY_KEY_FPR_LEN],
    char *identity, char *reason, size_t rlen);

/*
 * Checks a key's scope against r, folding it into folded (ADDR_MAX_LEN + 1
 * bytes): "" (all of r's prefixes) or an address one of r's prefixes
 * covers. REGISTRY_EINVAL (malformed) or REGISTRY_EPERM (outside). Pure.
 */
int registry_key_scope_check(const Axle__V1__Registrar *r, const char *scope,
    char *folded, char *reason, size_t rlen);

/* Index of the key with fingerprint fpr (32 bytes) in r->keys, or -1. */
int registry_registrar_key_index(const Axle__V1__Registrar *r, const uint8_t *fpr,
    size_t fprlen);

/*
 * Is key k usable for address at now_ms: of use (UNSPECIFIED: any), valid
 * now (not_before_ms <= now_ms < not_after_ms) and its scope ("" or a
 * prefix covering address) covers it? Pure.
 */
int registry_key_usable(const Axle__V1__PublishedKey *k, Axle__V1__KeyUse use,
    const char *address, int64_t now_ms);

/*
 * --- Changes (as the other changes of db.h: validated, record and feed
 * entry in the caller's transaction; on error abort txn) ------------------
 */

/*
 * Adds key (checked by the caller with registry_key_cert_check and its
 * chain verified; scope folded by registry_key_scope_check) to the local
 * registrar id: one with the same fingerprint is replaced. Errors:
 * REGISTRY_EINVAL (bad id or key), REGISTRY_ENOTFOUND, REGISTRY_EPRECOND
 * (revoked), REGISTRY_EPERM (scope outside its prefixes), REGISTRY_ENOMEM
 * (REGISTRY_KEYS_MAX keys already: withdraw one), REGISTRY_ESTORE. Feed:
 * FEED_CHANGE_KEY_PUBLISHED (detail: use, fingerprint, scope).
 */
int registry_db_publish_key(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *id,
    const Axle__V1__PublishedKey *key, Axle__V1__Registrar **out,
    struct registry_outcome *res);

/*
 * Removes the key with fingerprint fpr from the local registrar id (allowed
 * for a revoked one too: it tidies). reason may be NULL. Errors:
 * REGISTRY_EINVAL, REGISTRY_ENOTFOUND (registrar or key), REGISTRY_ESTORE,
 * REGISTRY_ENOMEM. Feed: FEED_CHANGE_KEY_WITHDRAWN (detail: fingerprint
 * and reason).
 */
int registry_db_withdraw_key(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *id, const uint8_t *fpr,
    size_t fprlen, const char *reason, Axle__V1__Registrar **out,
    struct registry_outcome *res);

#endif
