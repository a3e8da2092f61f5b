/* tls_expiry.h -- what expires in a TLS context: the node's certificate, the CAs it trusts, their CRLs. */
#ifndef AXLE_NET_TLS_EXPIRY_H
#define AXLE_NET_TLS_EXPIRY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "gateway/net/identity.h"

enum net_expiry_kind {
	NET_EXPIRY_CERT,	/* the context's own certificate */
	NET_EXPIRY_CA,		/* a trusted CA certificate */
	NET_EXPIRY_CRL,		/* a CRL: its next update */
};

#define NET_EXPIRY_NAME_MAX	64	/* an X.509 CN is at most 64 characters */

struct net_expiry {
	enum net_expiry_kind kind;
	char federation[NET_FED_MAX + 1];	/* CA, CRL: their trust folder's; cert: "" */
	char name[NET_EXPIRY_NAME_MAX + 1];	/* CA: its CN; CRL: its issuer's CN; cert: "" */
	int64_t at_s;		/* not after, or next update: seconds since the epoch */
	int64_t span_s;		/* the whole validity: not after - not before, next - last update */
};

/*
 * Fills out[0..max) with what expires in ctx: its certificate first, then
 * each trusted CA, then each CRL of a trusted CA (matched by issuer name).
 * Returns how many there are (may exceed max: the rest are not written).
 * Pure reading: safe on the event loop (a trust directory holds a few CAs).
 */
size_t net_tls_expiries(SSL_CTX *ctx, struct net_expiry *out, size_t max);

/* Labels for logs and metrics: "node", "ca", "crl". */
const char *net_expiry_kind_name(enum net_expiry_kind k);

#endif
