/* gw_trust.h -- signed envelopes and signed trace hops at this node: signing its hops, verifying what comes in (docs/protocol.md "Signed envelopes"). */
#ifndef AXLE_GW_TRUST_H
#define AXLE_GW_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axle/v1/envelope.pb-c.h"

struct evbuffer;
struct gw_node;

/* Why a node refused an envelope under the trust policy (metric label "reason"). */
enum gw_trust_why {
	GW_TRUST_UNSIGNED,	/* no hub signature where [trust] require_signed */
	GW_TRUST_BAD,		/* a hub signature that does not verify */
	GW_TRUST_PAYLOAD,	/* payload_digest is not the payload's */
	GW_TRUST_NO_KEY,	/* no published certificate for key_identity */
	GW_TRUST_MALFORMED,	/* unknown algorithm, wrong lengths */
	GW_TRUST_HOP,		/* a trace hop that does not verify (or is unsigned where required) */
	GW_TRUST__COUNT
};

/*
 * node->trust, made by the switch module before the switch: the node's key
 * (the registry's, the key of its TLS certificate) for signing hops. 0, or
 * -1 with err (out of memory only: a node without a usable key signs no
 * hops, logged as trust_no_hop_key).
 */
int gw_trust_open(struct gw_node *node, char *err, size_t errlen);
void gw_trust_close(struct gw_node *node);

/* SIGHUP, after the registry took a renewed key: hops are signed with it. */
void gw_trust_reload(struct gw_node *node);

/* struct sw_ctx's sign_hop hook (writer thread; locks the key). */
int gw_trust_sign_hop(struct gw_node *node, const uint8_t *digest,
    const Axle__V1__TraceHop *prev, Axle__V1__TraceHop *hop, uint8_t *sig,
    uint8_t *kid);

/*
 * Checks an envelope handed in (Send: forwarded false; Forward: true) under
 * the node's [trust] policy: the hub's signature against the sender's
 * published signing certificates, and for a forwarded one every trace hop
 * of its journey against the signing node's certificate. Returns GRPC_OK,
 * or a gRPC status with a reason starting "trust: " in why (never the
 * payload); counts and logs the refusal (trust_refused). Loop thread.
 */
int gw_trust_check(struct gw_node *node, const Axle__V1__Envelope *e,
    bool forwarded, char *why, size_t len);

/* axle_trust_* families for /metrics. */
void gw_trust_metrics(struct gw_node *node, struct evbuffer *out);

#endif
