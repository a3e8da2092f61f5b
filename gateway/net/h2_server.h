/*
 * h2_server.h -- one HTTP/2 server session: frames in, frames out, gRPC calls
 * dispatched. No sockets: bytes come in through net_h2_recv() and go out into
 * an evbuffer, so the session can be driven by tests and fuzzers.
 */
#ifndef AXLE_GW_H2_SERVER_H
#define AXLE_GW_H2_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/net/identity.h"

struct evbuffer;
struct event;
struct net_server;
struct net_h2;

/*
 * Creates a session for a connection whose peer proved identity `peer`.
 * Frames to send are appended to out (not owned). kick (not owned, may be
 * NULL) is activated whenever the session produced output or changed state
 * outside net_h2_recv(), e.g. when an asynchronous call completed; the owner
 * then calls net_h2_flush() and net_h2_done(). peer_addr is for logs.
 * Queues the server SETTINGS. Returns NULL on ENOMEM.
 */
struct net_h2 *net_h2_new(struct net_server *srv, const struct net_identity *peer,
    struct evbuffer *out, struct event *kick, const char *peer_addr);

/*
 * Feeds received bytes. Returns 0, or -1 when the connection must end: a
 * GOAWAY may still be queued, so flush, then close.
 */
int net_h2_recv(struct net_h2 *h2, const uint8_t *data, size_t len);

/*
 * Moves queued frames into out until it holds about high_water bytes.
 * Returns 0 or -1 (fatal session error: close now).
 */
int net_h2_flush(struct net_h2 *h2, size_t high_water);

/* True when the session neither wants to read nor write: close once out drained. */
int net_h2_done(const struct net_h2 *h2);

/* True while it still wants input (false after GOAWAY both ways). */
int net_h2_want_read(const struct net_h2 *h2);

/* Open streams. */
size_t net_h2_streams(const struct net_h2 *h2);

/* Sends GOAWAY (NO_ERROR) so the peer opens no new streams; in-flight calls finish. */
void net_h2_shutdown(struct net_h2 *h2);

/*
 * Idle timeout fired (nothing received for idle_timeout_ms): GOAWAY unless a
 * stream is in the node's hands (a handler at work, an answer the peer's
 * windows let through); streams waiting on the silent peer do not keep it
 * open. Returns 1 if it sent GOAWAY.
 */
int net_h2_idle(struct net_h2 *h2);

/*
 * Tells every open /console/events stream of srv that what is named has
 * changed ("cases"): one Server-Sent Event `change` each, with data
 * {"what":"<what>"}; a stream that has not yet sent the previous one gets
 * none more (the page reloads everything it shows on any event, so one
 * pending event stands for many). Loop thread; cheap with none open.
 */
void net_h2_notify(struct net_server *srv, const char *what);

/*
 * The connection has been quiet for a while: hands the frame buffer's pages
 * back to the kernel if the session has nothing to send (they come back,
 * zeroed, when it next writes). Returns the bytes released.
 */
size_t net_h2_quiet(struct net_h2 *h2);

/* Pages of the session's frame buffer resident now (tests). */
size_t net_h2_resident(const struct net_h2 *h2);

/* Frees the session; pending asynchronous calls are detached and freed when they end. */
void net_h2_free(struct net_h2 *h2);

#endif
