/* sw_envelope.h -- switch envelopes: validation, defaults, ids, and shallow views for re-packing. Pure. */
#ifndef AXLE_GW_SW_ENVELOPE_H
#define AXLE_GW_SW_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axle/v1/envelope.pb-c.h"
#include "gateway/net/identity.h"
#include "proto/envsig.h"
#include "registry/address.h"

#define SW_ID_LEN		16	/* message id bytes */
#define SW_ID_HEX_LEN		32	/* hex digits of a message id */
#define SW_MSGTYPE_MAX		128	/* message_type bytes */
#define SW_CONTEXT_MAX		256	/* context bytes */
#define SW_CONTENT_TYPE_MAX	128	/* content_type bytes */
#define SW_HOP_LIMIT_MAX	64
#define SW_HOP_LIMIT_DEFAULT	16
#define SW_FUTURE_SKEW_MS	(5 * 60 * 1000)	/* created may be this far ahead */
#define SW_PAYLOAD_DEFAULT	(1024 * 1024)	/* max_payload when 0 */
#define SW_TRACE_MAX		(4 * SW_HOP_LIMIT_MAX)	/* hops in all, redirects included */
#define SW_REDIRECT_CASE_MAX	299	/* a trace hop's redirect_case bytes */
#define SW_RETURNED_TYPE	"axle.returned"	/* a returned message (docs/protocol.md) */
#define SW_DIGEST_LEN		32	/* SHA-256: sw_envelope_digest */
/* The content_type of a sealed payload (docs/protocol.md "Sealed payloads"). */
#define SW_SEALED_CT		"application/pkcs7-mime; smime-type=authEnveloped-data"

/* The node's limits on envelopes (from the configuration). */
struct sw_limits {
	size_t max_payload;		/* payload bytes; 0: SW_PAYLOAD_DEFAULT */
	uint32_t default_hop_limit;	/* applied to hop_limit 0; 0: 16 */
	int64_t default_deliver_by_ms;	/* deliver_by_ms 0 -> this long after acceptance; 0: none */
};

/*
 * Checks an envelope a caller hands in (Send from a member, Forward from a
 * node), before anything is stored. Returns GRPC_OK, or a status with a
 * reason in reason[0..len) that starts with the field name and states the
 * limit ("message_type: 130 bytes, at most 128"):
 *
 * - message_id exactly 16 bytes, not all zero (INVALID_ARGUMENT);
 * - sender an address or identifier (INVALID_ARGUMENT); for a member caller
 *   its address part inside the member's prefix, for an admin inside the
 *   admin's node region (PERMISSION_DENIED); a node caller forwards others'
 *   traffic, so the sender's prefix is not its to answer for here;
 * - recipient: `to` an address or identifier, or `to_group` with a valid
 *   prefix, a known kind and an optional valid message_type;
 * - message_type 1..128 bytes of 0x21-0x7e; context <= 256 bytes and
 *   content_type <= 128 bytes, no control bytes; purpose empty or a
 *   purpose (registry_purpose_valid);
 * - created_ms >= 0 and at most 5 minutes after now_ms (0: "now", see
 *   sw_envelope_normalise); deliver_by_ms and reply_by_ms, if set, after
 *   created; deliver_by_ms already past: FAILED_PRECONDITION "delivery
 *   deadline already passed" -- except for a node caller, whose messages
 *   the failure policy handles once they are committed here; a signed
 *   envelope must set created_ms (the signature covers it);
 * - hop_limit <= 64 (0 takes the default); trace no longer than the
 *   effective hop limit, each hop's region a valid address;
 * - failure_policy one of the three known;
 * - payload at most lim->max_payload bytes (length only: never parsed).
 * lim may be NULL (defaults). reason is always NUL-terminated if len > 0.
 */
int sw_envelope_check(const Axle__V1__Envelope *e,
    const struct net_identity *caller, int64_t now_ms,
    const struct sw_limits *lim, char *reason, size_t len);

/*
 * Fills defaults in place on an envelope that passed sw_envelope_check:
 * hop_limit 0 -> lim->default_hop_limit (or 16), created_ms 0 -> now_ms,
 * deliver_by_ms 0 -> lim->default_deliver_by_ms after now_ms (or after
 * created_ms if that is later; none if the default is 0; none on a signed
 * envelope, whose signature covers it), and
 * case-folds the address parts of sender, to and to_group.prefix (folding
 * keeps lengths, so the strings are rewritten in place; local ids keep
 * their case). Safe on messages from pb_unpack (no reallocation).
 */
void sw_envelope_normalise(Axle__V1__Envelope *e, int64_t now_ms,
    const struct sw_limits *lim);

/* What the sender gave in the fields sw_envelope_normalise may fill. */
struct sw_given {
	int64_t created_ms;
	int64_t deliver_by_ms;
	uint32_t hop_limit;
};
void sw_envelope_given(const Axle__V1__Envelope *e, struct sw_given *g);

/*
 * The digest a node keeps with a message id's de-duplication mark: SHA-256
 * over e packed without its trace (nodes append to it) and with the fields
 * that normalising fills set back to what the sender gave (g, taken before
 * sw_envelope_normalise; NULL: as they are). Taken after normalising, so
 * addresses are case-folded: an identical retry has the same digest, any
 * other change a different one. Returns 0, or -1 (ENOMEM).
 */
int sw_envelope_digest(const Axle__V1__Envelope *e, const struct sw_given *g,
    uint8_t out[SW_DIGEST_LEN]);

/*
 * Is e's payload sealed (docs/protocol.md "Sealed payloads")? True when
 * its content_type is SW_SEALED_CT's media type application/pkcs7-mime
 * with the parameter smime-type=authEnveloped-data (any case, any spaces
 * around the ';' and '=') AND the payload starts as the DER of a CMS
 * ContentInfo whose contentType is id-ct-authEnvelopedData
 * (1.2.840.113549.1.9.16.1.23): a SEQUENCE header, then that OID. Only those
 * first bytes are looked at: the payload is never parsed further, never
 * opened (nodes hold no recipient's key).
 */
bool sw_payload_sealed(const Axle__V1__Envelope *e);

/* Writes the 32 lower-case hex digits of id[0..16) and a NUL to out; returns out. */
char *sw_message_id_hex(const uint8_t *id, char out[SW_ID_HEX_LEN + 1]);

/* Parses 32 hex digits (either case) into id. Returns 0, or -1 if malformed. */
int sw_message_id_parse(const char *hex, size_t len, uint8_t id[SW_ID_LEN]);

/*
 * The address an envelope's `to` or `sender` names: an address, or the
 * address part of an identifier, parsed and folded into out (ADDR_MAX_LEN +
 * 1 bytes). Returns 0, or -1 with a reason in err.
 */
int sw_address_of(const char *s, char out[ADDR_MAX_LEN + 1], char *err,
    size_t errlen);

/*
 * A shallow copy of an envelope that can carry a different id and `to` and
 * one more trace hop, for packing without touching the original (messages
 * from pb_unpack own their memory through pb's allocator: they must not be
 * grown). Self-referential: initialise in place with sw_view_init, do not
 * copy the struct, release with sw_view_release. Valid while the original
 * envelope lives and is unchanged.
 */
struct sw_env_view {
	Axle__V1__Envelope env;		/* what to pack */
	Axle__V1__TraceHop hop;		/* the appended hop, if any */
	Axle__V1__TraceHop **trace;	/* malloc'd n_trace + 1 pointers, or NULL */
	uint8_t id[SW_ID_LEN];
	char to[IDENT_MAX_LEN + 1];
	char region[ADDR_MAX_LEN + 1];
	char redirect_case[SW_REDIRECT_CASE_MAX + 1];
	uint8_t hop_sig[ENVSIG_SIG_MAX];	/* the appended hop's signature */
	uint8_t hop_kid[ENVSIG_DIGEST_LEN];	/* ... and its key identity */
};

void sw_view_init(struct sw_env_view *v, const Axle__V1__Envelope *e);

/*
 * Makes the view carry message id id and recipient `to` (an address or
 * identifier, at most IDENT_MAX_LEN bytes: longer is truncated).
 */
void sw_view_set_recipient(struct sw_env_view *v, const uint8_t id[SW_ID_LEN],
    const char *to);

/*
 * Packs the view with `headroom` zeroed bytes in front (pb_pack). Returns
 * the malloc'd buffer (caller frees) and *outlen, or NULL on ENOMEM.
 */
uint8_t *sw_view_pack(const struct sw_env_view *v, size_t headroom,
    size_t *outlen);

/* Frees what the view allocated (not the original). */
void sw_view_release(struct sw_env_view *v);

#endif
