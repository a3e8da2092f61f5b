/* conn.c -- socket and TLS glue: accept, handshake deadline, idle timeout, byte pump. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gateway/net/conn.h"
#include "gateway/net/h2_server.h"
#include "gateway/net/log.h"
#include "gateway/net/server.h"
#include "gateway/net/tls.h"

#define OUT_HIGH_WATER	(64 * 1024)
#define OUT_LOW_WATER	(16 * 1024)
#define LINGER_MAX_MS	2000	/* reading and dropping after our close, at most */
/*
 * After this long without input a connection is quiet: its HTTP/2 frame
 * buffer goes back to the kernel (net_h2_quiet). TLS frees its record
 * buffers as they empty (SSL_MODE_RELEASE_BUFFERS) and the bufferevent its
 * chains as they drain, so neither needs telling. Long enough that a busy
 * connection never pays for it, short enough that thousands of idle hubs
 * and axles cost little.
 */
#define QUIET_MS	2000

/*
 * Lifetime rule of this file: conn_free() frees a connection, and so may
 * every function that returns enum conn_fate. Its result must be checked
 * (the compiler insists); after CONN_GONE the caller touches nothing of the
 * connection and returns at once. Nothing else frees one.
 */
enum conn_fate { CONN_KEPT, CONN_GONE };
#define CONN_MUST_CHECK	__attribute__((warn_unused_result))

struct net_conn {
	struct net_server *srv;
	struct net_conn *prev, *next;
	struct bufferevent *bev;
	SSL *ssl;
	struct net_h2 *h2;
	struct event *timer;	/* handshake deadline, then idle timeout */
	struct event *kick;	/* the session has something to say */
	struct event *linger;	/* after our close: input read and dropped */
	char addr[64];
	int closing;		/* write out what is queued, then free */
	int quiet;		/* buffers released; timer at the idle deadline */
};

static void
ms_tv(uint32_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static void
conn_free(struct net_conn *c)
{
	struct net_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->ctr->conns_open--;
	net_h2_free(c->h2);
	if (c->timer)
		event_free(c->timer);
	if (c->kick)
		event_free(c->kick);
	if (c->linger)
		event_free(c->linger);
	if (c->bev)
		bufferevent_free(c->bev);	/* frees the SSL and closes the socket */
	free(c);
}

/* Drops what the peer still sends; frees at its EOF or error. */
static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;
	char buf[16384];

	(void)what;
	for (int i = 0; i < 8; i++) {	/* bounded work per wake-up */
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		conn_free(c);
		return;
	}
}

/*
 * Our own close, everything written: TLS close_notify, so that the peer
 * sees an orderly end after the GOAWAY (not a truncation), and a FIN. A
 * socket closed with unread input sends RST, which can destroy both before
 * the peer reads them (a flooding peer always has input in flight), so the
 * connection lingers, reading and dropping, until the peer closes or
 * LINGER_MAX_MS pass.
 */
static enum conn_fate CONN_MUST_CHECK
conn_finish(struct net_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	struct timeval tv;
	uint32_t ms = c->srv->lim->handshake_timeout_ms;

	if (c->linger != NULL)		/* finished already (a late write callback) */
		return CONN_KEPT;
	if (c->h2 == NULL || fd < 0) {
		conn_free(c);
		return CONN_GONE;
	}
	if (c->ssl != NULL) {		/* NULL: plain HTTP/2 (net_conn_adopt) */
		(void)SSL_shutdown(c->ssl);	/* best effort: we close either way */
		ERR_clear_error();
	}
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->linger = event_new(c->srv->base, fd, EV_READ | EV_PERSIST, linger_cb, c);
	if (c->linger == NULL || shutdown(fd, SHUT_WR) != 0 ||
	    event_add(c->linger, NULL) != 0) {
		conn_free(c);
		return CONN_GONE;
	}
	ms_tv(ms < LINGER_MAX_MS ? ms : LINGER_MAX_MS, &tv);
	evtimer_add(c->timer, &tv);
	return CONN_KEPT;
}

static int
conn_output_empty(const struct net_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

/*
 * Finishes (conn_finish) now if nothing is left to write, else once the
 * output drains; frees after handshake_timeout_ms if it never does: a peer
 * that stops reading must not keep its slot (and our buffers) forever.
 */
static enum conn_fate CONN_MUST_CHECK
conn_close_soon(struct net_conn *c)
{
	struct timeval tv;

	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_output_empty(c))
		return conn_finish(c);
	ms_tv(c->srv->lim->handshake_timeout_ms, &tv);
	evtimer_add(c->timer, &tv);
	return CONN_KEPT;
}

/* Moves the session's frames out; closes (maybe frees) once it is done. */
static enum conn_fate CONN_MUST_CHECK
conn_pump(struct net_conn *c)
{
	if (c->h2 == NULL || c->closing)
		return CONN_KEPT;
	if (net_h2_flush(c->h2, OUT_HIGH_WATER) != 0 || net_h2_done(c->h2))
		return conn_close_soon(c);
	return CONN_KEPT;
}

/* Input came: the timer goes off when the connection turns quiet, or idle if sooner. */
static void
idle_arm(struct net_conn *c)
{
	struct timeval tv;
	uint32_t idle = c->srv->lim->idle_timeout_ms;

	c->quiet = idle <= QUIET_MS;
	ms_tv(c->quiet ? idle : QUIET_MS, &tv);
	evtimer_add(c->timer, &tv);
}

/* Nothing came for QUIET_MS: give buffers back, wait out the rest of idle_timeout_ms. */
static void
quiet_start(struct net_conn *c)
{
	struct timeval tv;

	c->quiet = 1;
	(void)net_h2_quiet(c->h2);
	ms_tv(c->srv->lim->idle_timeout_ms - QUIET_MS, &tv);
	evtimer_add(c->timer, &tv);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v[8];
	int n, failed = 0;

	if (c->h2 == NULL || c->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (!failed && evbuffer_get_length(in) > 0) {
		size_t used = 0;

		n = evbuffer_peek(in, -1, NULL, v, 8);
		for (int i = 0; i < n && i < 8; i++) {
			if (net_h2_recv(c->h2, v[i].iov_base, v[i].iov_len) != 0) {
				failed = 1;
				break;
			}
			used += v[i].iov_len;
		}
		evbuffer_drain(in, failed ? evbuffer_get_length(in) : used);
	}
	idle_arm(c);
	/* On failure the session has written its GOAWAY and is done: pump closes. */
	if (conn_pump(c) == CONN_GONE)
		return;
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;

	if (c->closing) {
		if (conn_output_empty(c) && conn_finish(c) == CONN_GONE)
			return;		/* nothing of c below */
		return;
	}
	if (conn_pump(c) == CONN_GONE)
		return;
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;

	(void)fd, (void)what;
	if (conn_pump(c) == CONN_GONE)
		return;
}

static void
handshake_failed(struct net_conn *c, short events)
{
	unsigned long e, first = 0;
	char buf[256] = "connection closed during handshake";
	int counted = 0;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (first == 0)
			first = e;
	if (first != 0) {
		ERR_error_string_n(first, buf, sizeof(buf));
		/* tls.c counted these where it saw them (info and ALPN callbacks). */
		counted = ERR_GET_REASON(first) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
		    ERR_GET_REASON(first) == SSL_R_NO_APPLICATION_PROTOCOL;
	}
	/* Certificate failures were counted by the verify callback. */
	if (!counted && SSL_get_verify_result(c->ssl) == X509_V_OK)
		net_tls_refused[NET_TLS_REF_OTHER]++;
	net_log(NET_LOG_INFO, "handshake_refused", "peer=%s events=0x%x error=\"%s\"",
	    c->addr, events, buf);
}

/* The peer is who it proved to be: speak HTTP/2. */
static enum conn_fate CONN_MUST_CHECK
conn_start_h2(struct net_conn *c, const struct net_identity *id)
{
	c->kick = event_new(c->srv->base, -1, 0, kick_cb, c);
	c->h2 = c->kick ? net_h2_new(c->srv, id, bufferevent_get_output(c->bev),
	    c->kick, c->addr) : NULL;
	if (c->h2 == NULL) {
		net_log(NET_LOG_ERR, "conn_error", "peer=%s error=\"out of memory\"", c->addr);
		conn_free(c);
		return CONN_GONE;
	}
	net_log(NET_LOG_DEBUG, "conn_open", "peer=%s identity=%s", c->addr, id->uri);
	if (*c->srv->draining)
		net_h2_shutdown(c->h2);
	idle_arm(c);
	return conn_pump(c);
}

static enum conn_fate CONN_MUST_CHECK
connected(struct net_conn *c)
{
	struct net_identity id;
	char err[256];

	if (net_tls_peer_identity(c->ssl, &id, err, sizeof(err)) != 0) {
		net_log(NET_LOG_WARN, "handshake_refused", "peer=%s error=\"%s\"",
		    c->addr, err);
		conn_free(c);
		return CONN_GONE;
	}
	c->srv->ctr->handshakes_ok++;
	net_tls_shed_chains(c->ssl);	/* about 5 KiB a connection, identity taken */
	return conn_start_h2(c, &id);
}

static void
event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct net_conn *c = arg;

	(void)bev;
	if (events & BEV_EVENT_CONNECTED) {
		evtimer_del(c->timer);
		if (connected(c) == CONN_GONE)
			return;		/* nothing of c below */
	} else if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->h2 == NULL)
			handshake_failed(c, events);
		else
			net_log(NET_LOG_DEBUG, "conn_close", "peer=%s events=0x%x",
			    c->addr, events);
		conn_free(c);
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;

	(void)fd, (void)what;
	if (c->linger != NULL) {	/* the peer did not close in time */
		conn_free(c);
		return;
	}
	if (c->closing) {
		net_log(NET_LOG_INFO, "conn_close", "peer=%s reason=\"output not drained\"",
		    c->addr);
		conn_free(c);
		return;
	}
	if (c->h2 == NULL) {
		c->srv->ctr->handshake_timeouts++;
		net_log(NET_LOG_INFO, "handshake_timeout", "peer=%s", c->addr);
		conn_free(c);
		return;
	}
	if (!c->quiet) {
		quiet_start(c);
		return;
	}
	if (!net_h2_idle(c->h2)) {
		idle_arm(c);
		return;
	}
	if (conn_pump(c) == CONN_GONE)
		return;
}

static void
peer_name(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "?");
		return;
	}
	snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, port);
}

/* The connection longest in its TLS handshake, or NULL (the list is newest first). */
static struct net_conn *
oldest_handshake(struct net_server *srv)
{
	struct net_conn *c, *oldest = NULL;

	for (c = srv->conns; c != NULL; c = c->next)
		if (c->h2 == NULL)
			oldest = c;
	return oldest;
}

/*
 * At max_connections, unauthenticated handshakes must not lock hubs out
 * (slowloris): the oldest unfinished handshake makes room. Returns 0 if there
 * is room now.
 */
static int
conn_make_room(struct net_server *srv)
{
	struct net_conn *old;

	if (srv->ctr->conns_open < srv->lim->max_connections)
		return 0;
	if ((old = oldest_handshake(srv)) == NULL)
		return -1;
	srv->ctr->handshakes_evicted++;
	net_log(NET_LOG_INFO, "handshake_evicted", "peer=%s", old->addr);
	conn_free(old);
	return 0;
}

/* Puts c (bev set up) in the server's list and lets its bytes flow. */
static void
conn_link(struct net_conn *c)
{
	struct net_server *srv = c->srv;

	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->ctr->conns_open++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW_WATER, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct net_server *srv = arg;
	struct net_conn *c;
	struct timeval tv;
	int one = 1;

	(void)l;
	srv->ctr->conns_accepted++;
	if (*srv->draining || conn_make_room(srv) != 0) {
		srv->ctr->conns_refused_limit++;
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	peer_name(sa, (socklen_t)socklen, c->addr, sizeof(c->addr));
	c->ssl = SSL_new(srv->ctx);
	c->timer = evtimer_new(srv->base, timer_cb, c);
	if (c->ssl == NULL || c->timer == NULL) {
		if (c->ssl)
			SSL_free(c->ssl);
		if (c->timer)
			event_free(c->timer);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, c->ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		SSL_free(c->ssl);
		event_free(c->timer);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_link(c);
	ms_tv(srv->lim->handshake_timeout_ms, &tv);
	evtimer_add(c->timer, &tv);
}

int
net_conn_adopt(struct net_server *srv, struct bufferevent *bev,
    const struct net_identity *id, const char *addr)
{
	struct net_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->timer = evtimer_new(srv->base, timer_cb, c)) == NULL) {
		free(c);
		bufferevent_free(bev);
		return -1;
	}
	c->srv = srv;
	c->bev = bev;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	conn_link(c);
	/* The owner learns nothing more: whether it lives on is the peer's doing. */
	return conn_start_h2(c, id) == CONN_GONE ? -1 : 0;
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();

	(void)l, (void)arg;
	/* EMFILE and friends: log and keep serving the connections we have. */
	net_log(NET_LOG_WARN, "accept_error", "error=\"%s\"",
	    evutil_socket_error_to_string(e));
}

int
net_conn_listen(struct net_server *srv, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(srv->listen_host, srv->listen_port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s:%s: %s", srv->listen_host,
		    srv->listen_port, gai_strerror(rc));
		return -1;
	}
	srv->listener = evconnlistener_new_bind(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
	    res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (srv->listener == NULL) {
		snprintf(err, errlen, "listen %s:%s: %s", srv->listen_host,
		    srv->listen_port, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	return 0;
}

size_t
net_conn_drain(struct net_server *srv)
{
	struct net_conn *c, *next;

	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->h2 == NULL) {
			conn_free(c);
			continue;
		}
		net_h2_shutdown(c->h2);
		if (conn_pump(c) == CONN_GONE)
			continue;	/* next was taken before */
	}
	return net_conn_count(srv);
}

size_t
net_conn_count(const struct net_server *srv)
{
	size_t n = 0;

	for (struct net_conn *c = srv->conns; c != NULL; c = c->next)
		n++;
	return n;
}

size_t
net_conn_streams(const struct net_server *srv)
{
	size_t n = 0;

	for (struct net_conn *c = srv->conns; c != NULL; c = c->next)
		if (c->h2 != NULL)
			n += net_h2_streams(c->h2);
	return n;
}

void
net_conn_close_all(struct net_server *srv)
{
	while (srv->conns != NULL)
		conn_free(srv->conns);
}
