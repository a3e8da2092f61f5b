/* conn.h -- accepted connections: TLS handshake, timers, bytes to and from the HTTP/2 session. */
#ifndef AXLE_GW_CONN_H
#define AXLE_GW_CONN_H

#include <stddef.h>

struct bufferevent;
struct gw_identity;
struct gw_server;

/*
 * Opens the listener on srv->listen_host:listen_port. Returns 0 or -1 with
 * err. Connections over max_connections are closed at accept.
 */
int gw_conn_listen(struct gw_server *srv, char *err, size_t errlen);

/*
 * Stops accepting and sends every open connection a GOAWAY; calls finish.
 * Returns the number of connections still open.
 */
size_t gw_conn_drain(struct gw_server *srv);

/* Number of open connections, and of streams over them. */
size_t gw_conn_count(const struct gw_server *srv);
size_t gw_conn_streams(const struct gw_server *srv);

/*
 * For fuzzers and tests: serves bev, a connected bufferevent carrying plain
 * HTTP/2 (no TLS), as a connection whose peer proved id, just as one that
 * passed its TLS handshake; the connection owns bev from here on (on
 * failure too). Returns 0, or -1 if the connection is already gone.
 */
int gw_conn_adopt(struct gw_server *srv, struct bufferevent *bev,
    const struct gw_identity *id, const char *addr);

/* Closes every connection at once (end of drain). */
void gw_conn_close_all(struct gw_server *srv);

#endif
