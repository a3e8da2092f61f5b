/* client.h -- mTLS HTTP/2 gRPC client: one reused connection, many calls. */
#ifndef AXLE_GW_CLIENT_H
#define AXLE_GW_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "gateway/net/identity.h"

struct event_base;
struct evdns_base;
struct net_client;

/* Largest response message (gRPC) or GET body the client accepts. */
#define NET_CLIENT_MAX_MSG	(64u << 20)

/*
 * Called for each response message of a call (final == 0, status unset), and
 * once at the end with final == 1 and the call's grpc-status / grpc-message
 * (transport errors: GRPC_UNAVAILABLE with a reason; deadline:
 * GRPC_DEADLINE_EXCEEDED). msg is valid only during the callback.
 * A callback may start new calls on the same client; it must not free the
 * client nor run the event loop (no net_client_call_sync inside).
 */
typedef void (*net_client_cb)(void *arg, int final, int status,
    const char *message, const uint8_t *msg, size_t len);

/*
 * Called once when a plain GET ends: http_status is the response's :status
 * and body its whole body (valid only during the callback), or http_status
 * is 0 and reason says why there is no response (connection, TLS, deadline,
 * stream reset, body over NET_CLIENT_MAX_MSG). Same rules as net_client_cb.
 */
typedef void (*net_client_get_cb)(void *arg, int http_status,
    const char *reason, const uint8_t *body, size_t len);

/*
 * Creates a client for host:port with ctx (from net_tls_client_ctx; the client
 * takes a reference). Connects lazily on first call and reconnects after a
 * failure. authority is the :authority / SNI name (NULL: host); the
 * :authority header is "<name>:<port>". Names are resolved asynchronously
 * (libevent's evdns, /etc/hosts then the nameservers of /etc/resolv.conf,
 * unless net_client_set_dns gives another resolver): the event loop never
 * waits on a lookup. The process must ignore SIGPIPE (OpenSSL writes to the socket).
 * A server GOAWAY drains the connection and new calls open another; a
 * stream refused before any response (REFUSED_STREAM) is retried once.
 * Returns NULL on ENOMEM.
 */
struct net_client *net_client_new(struct event_base *base, SSL_CTX *ctx,
    const char *host, const char *port, const char *authority);

/*
 * Starts a call to path ("/axle.v1.Node/Info") sending one request message
 * req[0..len) (unframed protobuf bytes). timeout_ms > 0 sets grpc-timeout
 * and a local deadline. Returns 0 (cb will be called with final == 1 exactly
 * once) or -1 (cb not called).
 */
int net_client_call(struct net_client *c, const char *path, const uint8_t *req,
    size_t len, int timeout_ms, net_client_cb cb, void *arg);

/*
 * Starts a plain HTTP/2 GET of path ("/healthz") on the same connection.
 * timeout_ms > 0 sets a local deadline. Returns 0 (cb called exactly once)
 * or -1 (cb not called).
 */
int net_client_get(struct net_client *c, const char *path, int timeout_ms,
    net_client_get_cb cb, void *arg);

/*
 * Requires the server to prove exactly identity uri (e.g.
 * "axle://fame-uk/node/uk.leeds") on every connection; a different one fails
 * the calls with GRPC_UNAVAILABLE before any request is sent. Returns 0 or
 * -1 (ENOMEM).
 */
int net_client_expect(struct net_client *c, const char *uri);

/*
 * The identity the server proved in the last handshake when it was not the
 * one net_client_expect asked for (a [peer] address that reaches another
 * node); "" when the last handshake proved the expected one, or before any.
 * Borrowed: valid until the next handshake or the client is freed.
 */
const char *net_client_identity_mismatch(const struct net_client *c);

/*
 * Resolves through dns (not owned: it must outlive the client) instead of
 * a resolver of the client's own. Only before the first call; later calls
 * of this are ignored. A node gives all its clients one.
 */
void net_client_set_dns(struct net_client *c, struct evdns_base *dns);

/* Identity of the server, once connected (NULL before). */
const struct net_identity *net_client_peer(const struct net_client *c);

/*
 * Leaf certificate the server presented in the last handshake that passed
 * verification and the identity check (NULL before any). Borrowed: valid
 * until the next connection is made or the client is freed; the caller
 * takes its own reference (X509_up_ref) to keep it longer.
 */
X509 *net_client_peer_cert(const struct net_client *c);

/* Number of calls in flight (queued or started, final callback not yet made). */
size_t net_client_inflight(const struct net_client *c);

/*
 * Fails pending calls with CANCELLED, closes the connection, frees. Not from
 * inside one of this client's callbacks. NULL is fine.
 */
void net_client_free(struct net_client *c);

/*
 * Convenience for tools: performs one unary call, running base until it
 * completes. *resp is malloc'd (caller frees; NULL when no message came),
 * message copied into msgbuf. Returns the grpc status; OK only with exactly
 * one response message (else GRPC_INTERNAL).
 */
int net_client_call_sync(struct net_client *c, struct event_base *base,
    const char *path, const uint8_t *req, size_t len, int timeout_ms,
    uint8_t **resp, size_t *resp_len, char *msgbuf, size_t msglen);

/*
 * Same for a GET: returns the :status (0 on failure, reason in msgbuf);
 * *body is malloc'd and NUL-terminated (caller frees), *body_len excludes
 * the NUL.
 */
int net_client_get_sync(struct net_client *c, struct event_base *base,
    const char *path, int timeout_ms, uint8_t **body, size_t *body_len,
    char *msgbuf, size_t msglen);

#endif
