/* tls.h -- TLS contexts for axles, members and admins: mTLS that fails closed. */
#ifndef AXLE_GW_TLS_H
#define AXLE_GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "gateway/net/identity.h"

struct net_tls_opts {
	const char *cert_file;	/* our certificate (chain) PEM */
	const char *key_file;	/* our key PEM, refused if group/other readable */
	const char *trust_dir;	/* one folder per trusted federation: CA certs + CRLs */
	const char *federation;	/* ours */
	bool allow_tls12;	/* TLS 1.2 with AEAD ciphers; default TLS 1.3 only */
};

/*
 * Builds a server context: TLS 1.3 (1.2 AEAD only if allowed), ALPN "h2"
 * only, client certificate required, verified against the trust directory
 * with CRL checks on the whole chain, no session tickets or cache, no
 * renegotiation. The verify step also refuses a leaf that is a CA, that has
 * not exactly one axle:// URI SAN, or whose URI names a federation other
 * than that of the trust folder its chain ends in (a CA vouches only for its
 * own federation), and - on the server - any federation other than ours
 * (v1: a node serves only its own federation, whatever else it trusts).
 * Partial-chain trust is never allowed: chains end at a self-signed CA.
 *
 * Trust directory: every sub-folder (named after the federation, one label
 * of [a-z0-9-]) holds PEM files of any name, each with any number of CA
 * certificates and CRLs; hidden files are skipped, loose files beside the
 * folders are ignored with a warning, an empty folder trusts nothing. Load
 * fails (NULL, err naming the folder or file) on: a folder name that is not
 * a federation name, a file that is not PEM, a non-CA certificate, a CA
 * without a CRL it issued in the same folder (CRLs are checked on the whole
 * chain, so a missing one would refuse everything it signed), the same CA in
 * two folders, or no CA at all. The key file is refused if it is not a
 * regular file or its mode grants group/other any access; it is read into
 * memory and the buffer wiped after parsing.
 *
 * Refusals are logged (event=tls_verify_failed) and counted in
 * net_tls_refused. Returns a new context (caller frees with SSL_CTX_free) or
 * NULL with err. Called again on reload; SSL objects keep their old context
 * and its trust store until they are freed.
 */
SSL_CTX *net_tls_server_ctx(const struct net_tls_opts *opts, char *err,
    size_t errlen);

/*
 * Builds a client context with the same certificate checks on the server's
 * certificate (its URI must be a node of our federation unless a peer of
 * another federation is expected; v1: ours), ALPN h2. Returns NULL with err.
 */
SSL_CTX *net_tls_client_ctx(const struct net_tls_opts *opts, char *err,
    size_t errlen);

/*
 * On a client SSL from net_tls_client_ctx, before the handshake: sets SNI (if
 * host is a DNS name) and makes verification also check host against the
 * server certificate's DNS SANs (no partial wildcards) or, for an IP literal
 * ("192.0.2.1", "2001:db8::1" or "[2001:db8::1]"), its IP SANs. Identity
 * still comes from the URI. Returns 0, or -1 if host is empty, too long or
 * the call fails.
 */
int net_tls_client_prepare(SSL *ssl, const char *host);

/*
 * After a completed handshake: re-checks ALPN is "h2" and extracts the
 * verified peer identity (already checked in the verify callback, checked
 * again here by the same code). out is a copy the caller owns. Returns 0 or
 * -1 with err (the refusal is counted; the caller drops the connection).
 */
int net_tls_peer_identity(SSL *ssl, struct net_identity *out, char *err,
    size_t errlen);

/*
 * After net_tls_peer_identity() succeeded: frees the certificate chains the
 * handshake kept in ssl (the chain the peer sent, parsed, and the verified
 * chain built from it), a few KiB per connection that nothing reads again.
 * The leaf stays (SSL_get0_peer_certificate). net_tls_peer_identity() must
 * not be called on ssl afterwards: it would find no chain and refuse.
 */
void net_tls_shed_chains(SSL *ssl);

/*
 * Pure helper, used by the verify callback and unit-tested: takes the leaf
 * certificate and returns its single axle:// URI SAN parsed into out. Fails
 * when the cert is a CA (basicConstraints CA:TRUE), has zero or several URI
 * SANs, a URI with another scheme, or a federation other than fed (if fed is
 * not NULL). Returns 0 or -1 with err.
 */
int net_tls_cert_identity(X509 *leaf, const char *fed, struct net_identity *out,
    char *err, size_t errlen);

/* Counts of refused handshakes by reason, for /metrics. */
enum net_tls_refusal {
	NET_TLS_REF_NO_CERT, NET_TLS_REF_UNTRUSTED, NET_TLS_REF_EXPIRED,
	NET_TLS_REF_REVOKED, NET_TLS_REF_IDENTITY, NET_TLS_REF_ALPN,
	NET_TLS_REF_OTHER, NET_TLS_REF__COUNT
};
extern unsigned long net_tls_refused[NET_TLS_REF__COUNT];
const char *net_tls_refusal_name(enum net_tls_refusal r);

/*
 * The i-th CA the context trusts (from 0; NULL past the last) and, in *fed,
 * the federation of the trust folder it came from. Both stay the context's.
 */
X509 *net_tls_anchor(SSL_CTX *ctx, size_t i, const char **fed);

#endif
