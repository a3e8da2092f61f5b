/* conn.h -- accepted connections: TLS handshake, timers, bytes to and from the HTTP/2 session. */
#ifndef AXLE_GW_CONN_H
#define AXLE_GW_CONN_H

#include <stddef.h>

struct bufferevent;
struct net_identity;
struct net_server;

/*
 * Opens the listener on srv->listen_host:listen_port. Returns 0 or -1 with
 * err. Connections over max_connections are closed at accept.
 */
int net_conn_listen(struct net_server *srv, char *err, size_t errlen);

/*
 * Stops accepting and sends every open connection a GOAWAY; calls finish.
 * Returns the number of connections still open.
 */
size_t net_conn_drain(struct net_server *srv);

/* Number of open connections, and of streams over them. */
size_t net_conn_count(const struct net_server *srv);
size_t net_conn_streams(const struct net_server *srv);

/*
 * For fuzzers and tests: serves bev, a connected bufferevent carrying plain
 * HTTP/2 (no TLS), as a connection whose peer proved id, just as one that
 * passed its TLS handshake; the connection owns bev from here on (on
 * failure too). Returns 0, or -1 if the connection is already gone.
 */
int net_conn_adopt(struct net_server *srv, struct bufferevent *bev,
    const struct net_identity *id, const char *addr);

/* Closes every connection at once (end of drain). */
void net_conn_close_all(struct net_server *srv);

#endif
