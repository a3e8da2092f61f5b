/* client.c -- mTLS HTTP/2 gRPC client over libevent: one reused connection, many calls. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>

#include "gateway/net/client.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/h2_mem.h"
#include "gateway/net/tls.h"

#define CLIENT_HANDSHAKE_S	10		/* TCP connect + TLS handshake */
#define CLIENT_STREAM_WINDOW	(1 << 20)	/* per stream, announced in SETTINGS */
#define CLIENT_CONN_WINDOW	(16 << 20)	/* whole connection */
#define CLIENT_MAX_STREAMS	100
#define CLIENT_OUT_HIGH		(1 << 20)	/* stop producing frames above this */
#define CLIENT_REASON_MAX	256

enum call_kind { CALL_GRPC, CALL_GET };

struct cl_conn;

struct cl_call {
	struct net_client *c;
	struct cl_conn *conn;		/* NULL while queued on the client */
	TAILQ_ENTRY(cl_call) link;	/* in c->queue or conn->calls */
	enum call_kind kind;
	char *path;
	uint8_t *body;			/* framed request (gRPC), NULL for GET */
	size_t body_len, body_off;
	int timeout_ms;
	struct event *deadline;
	net_client_cb cb;
	net_client_get_cb get_cb;
	void *arg;
	int32_t stream_id;
	int retries;			/* transparent retries of refused streams */
	int http_status;		/* 0 until :status */
	int net_grpc_status;		/* -1 until grpc-status */
	char grpc_message[CLIENT_REASON_MAX];
	uint8_t *rbuf;			/* undecoded gRPC bytes, or the GET body */
	size_t rlen, rcap;
	bool finished;			/* final callback made */
};
TAILQ_HEAD(call_list, cl_call);

enum conn_state { CONN_CONNECTING, CONN_UP, CONN_DRAINING };

struct cl_conn {
	struct net_client *c;
	TAILQ_ENTRY(cl_conn) link;	/* in c->draining */
	enum conn_state state;
	struct bufferevent *bev;
	nghttp2_session *h2;
	struct evdns_getaddrinfo_request *resolving;	/* name lookup under way */
	struct evutil_addrinfo *ai_list, *ai_next;
	struct call_list calls;		/* started on this connection */
	struct net_identity peer;
	int busy;			/* inside nghttp2_session_mem_recv/send */
	bool again;			/* a flush was asked for while busy */
	char err[CLIENT_REASON_MAX];	/* set before a deferred failure */
	char h2err[CLIENT_REASON_MAX];	/* nghttp2's last complaint about the server */
	struct net_h2_mem mem;		/* h2's blocks: outlives it */
};
TAILQ_HEAD(conn_list, cl_conn);

struct net_client {
	struct event_base *base;
	SSL_CTX *ctx;
	char *host, *port;
	char *name;			/* SNI and certificate host check */
	char *authority;		/* :authority header */
	struct cl_conn *conn;		/* current: connecting or up */
	struct conn_list draining;	/* got GOAWAY, finishing their calls */
	struct call_list queue;		/* waiting for c->conn to be up */
	size_t inflight;
	bool closing;
	struct event *retry_ev;		/* fails the queue after an open error */
	struct evdns_base *dns;		/* asynchronous resolver (net_client_set_dns or our own) */
	bool own_dns;
	char *expect_uri;		/* server must prove exactly this identity (NULL: any node) */
	X509 *peer_cert;		/* leaf of the last verified handshake (net_client_peer_cert) */
	char mismatch[NET_URI_MAX + 1];	/* identity the last handshake proved, if not expect_uri */
	char open_err[CLIENT_REASON_MAX];
};

static void conn_fail_and_free(struct cl_conn *conn, int status,
    const char *reason);
static int conn_flush(struct cl_conn *conn);
static void client_open(struct net_client *c);
static int client_dispatch(struct net_client *c, struct cl_call *call);

/* --- calls ------------------------------------------------------------- */

static void
call_free(struct cl_call *call)
{
	if (call->deadline != NULL)
		event_free(call->deadline);
	free(call->path);
	free(call->body);
	free(call->rbuf);
	free(call);
}

/* Makes the one final callback of a call (the call itself is freed elsewhere). */
static void
call_finish(struct cl_call *call, int status, const char *reason)
{
	if (call->finished)
		return;
	call->finished = true;
	call->c->inflight--;
	if (call->deadline != NULL)
		event_del(call->deadline);
	if (call->kind == CALL_GET) {
		int http = status == GRPC_OK ? call->http_status : 0;
		call->get_cb(call->arg, http, http ? NULL : reason,
		    http ? call->rbuf : NULL, http ? call->rlen : 0);
	} else {
		call->cb(call->arg, 1, status, reason, NULL, 0);
	}
}

/* The gRPC spec's mapping of an HTTP status that came without grpc-status. */
static int
call_http_to_grpc(int http)
{
	switch (http) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504: return GRPC_UNAVAILABLE;
	default: return GRPC_UNKNOWN;
	}
}

/* Works out how a stream that closed with error_code ended, and says so. */
static void
call_closed(struct cl_call *call, uint32_t error_code)
{
	char reason[CLIENT_REASON_MAX];

	if (error_code != NGHTTP2_NO_ERROR && call->net_grpc_status < 0) {
		snprintf(reason, sizeof(reason), "stream reset by server: %s",
		    nghttp2_http2_strerror(error_code));
		call_finish(call, error_code == NGHTTP2_CANCEL ?
		    GRPC_CANCELLED : GRPC_UNAVAILABLE, reason);
	} else if (call->kind == CALL_GET) {
		call_finish(call, call->http_status ? GRPC_OK : GRPC_UNAVAILABLE,
		    "stream closed without a response");
	} else if (call->net_grpc_status >= 0) {
		if (call->net_grpc_status == GRPC_OK && call->rlen > 0)
			call_finish(call, GRPC_INTERNAL,
			    "stream ended inside a message");
		else
			call_finish(call, call->net_grpc_status, call->grpc_message);
	} else if (call->http_status != 0 && call->http_status != 200) {
		snprintf(reason, sizeof(reason), "HTTP status %d without "
		    "grpc-status", call->http_status);
		call_finish(call, call_http_to_grpc(call->http_status), reason);
	} else {
		call_finish(call, GRPC_INTERNAL,
		    "stream closed without grpc-status");
	}
}

/* Ends a call early on our side: final callback now, RST_STREAM to the server. */
static void
call_abort(struct cl_call *call, int status, const char *reason)
{
	call_finish(call, status, reason);
	if (call->conn != NULL && call->stream_id > 0)
		nghttp2_submit_rst_stream(call->conn->h2, NGHTTP2_FLAG_NONE,
		    call->stream_id, NGHTTP2_CANCEL);
}

static void
call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cl_call *call = arg;
	struct cl_conn *conn = call->conn;

	if (conn == NULL) {		/* still queued: nothing was sent */
		TAILQ_REMOVE(&call->c->queue, call, link);
		call_finish(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded "
		    "before the connection was up");
		call_free(call);
		return;
	}
	/* The call stays on the stream until it closes; only the callback is early. */
	call_abort(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	if (conn_flush(conn) < 0)
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->err);
}

static ssize_t
call_body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct cl_call *call = src->ptr;
	size_t n = call->body_len - call->body_off;

	if (n > length)
		n = length;
	memcpy(buf, call->body + call->body_off, n);
	call->body_off += n;
	if (call->body_off == call->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
	NGHTTP2_NV_FLAG_NO_COPY_NAME }

/* Submits the call's HEADERS (and body) on conn. Returns 0 or an nghttp2 error. */
static int
call_start(struct cl_conn *conn, struct cl_call *call)
{
	struct net_client *c = conn->c;
	char tmo[32] = "";
	nghttp2_data_provider prov = { .source.ptr = call,
	    .read_callback = call_body_read };
	int get = call->kind == CALL_GET;
	nghttp2_nv nva[] = {
		NV(":method", get ? "GET" : "POST"),
		NV(":scheme", "https"),
		NV(":path", call->path),
		NV(":authority", c->authority),
		NV("user-agent", "axle/0.1"),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("grpc-timeout", tmo),
	};
	size_t nvlen = get ? 5 : 7;
	int32_t id;

	if (!get && call->timeout_ms > 0) {
		net_grpc_timeout_format(call->timeout_ms, tmo, sizeof(tmo));
		nva[7].valuelen = strlen(tmo);
		nvlen = 8;
	}
	call->body_off = 0;
	id = nghttp2_submit_request(conn->h2, NULL, nva, nvlen,
	    get ? NULL : &prov, call);
	if (id < 0)
		return id;
	call->stream_id = id;
	call->conn = conn;
	TAILQ_INSERT_TAIL(&conn->calls, call, link);
	return 0;
}

/* --- nghttp2 callbacks ------------------------------------------------- */

static struct cl_call *
stream_call(nghttp2_session *h2, int32_t stream_id)
{
	struct cl_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);

	return call != NULL && !call->finished ? call : NULL;
}

static bool
hdr_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* Digits only, at most 9 of them; -1 otherwise. */
static int
parse_uint(const uint8_t *v, size_t len)
{
	int n = 0;

	if (len == 0 || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* Headers and trailers alike: a trailers-only response has grpc-status in its HEADERS. */
static int
on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *user)
{
	struct cl_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (call = stream_call(h2, frame->hd.stream_id)) == NULL)
		return 0;
	if (hdr_is(name, namelen, ":status")) {
		call->http_status = parse_uint(value, valuelen);
		if (call->http_status < 100)
			call->http_status = 0;
	} else if (call->kind == CALL_GET) {
		return 0;
	} else if (hdr_is(name, namelen, "grpc-status")) {
		call->net_grpc_status = parse_uint(value, valuelen);
		if (call->net_grpc_status < 0) {
			call->net_grpc_status = GRPC_UNKNOWN;
			snprintf(call->grpc_message, sizeof(call->grpc_message),
			    "malformed grpc-status from server");
		}
	} else if (hdr_is(name, namelen, "grpc-message")) {
		net_grpc_message_decode((const char *)value, valuelen,
		    call->grpc_message, sizeof(call->grpc_message));
	}
	return 0;
}

static int
rbuf_append(struct cl_call *call, const uint8_t *data, size_t len, size_t max)
{
	if (len > max - call->rlen)
		return -1;
	if (call->rlen + len > call->rcap) {
		size_t cap = call->rcap ? call->rcap : 1024;
		uint8_t *p;

		while (cap < call->rlen + len)
			cap *= 2;
		if ((p = realloc(call->rbuf, cap)) == NULL)
			return -1;
		call->rbuf = p;
		call->rcap = cap;
	}
	memcpy(call->rbuf + call->rlen, data, len);
	call->rlen += len;
	return 0;
}

/* Hands every complete gRPC message in the buffer to the callback. */
static void
call_deliver(struct cl_call *call)
{
	size_t off = 0, mlen, flen;
	const uint8_t *msg;
	enum net_grpc_frame_rc rc;

	while ((rc = net_grpc_frame_decode(call->rbuf + off, call->rlen - off,
	    NET_CLIENT_MAX_MSG, &msg, &mlen, &flen)) == GRPC_FRAME_OK) {
		call->cb(call->arg, 0, GRPC_OK, NULL, msg, mlen);
		off += flen;
	}
	if (rc != GRPC_FRAME_NEED_MORE) {
		call->rlen = 0;
		call_abort(call, rc == GRPC_FRAME_TOO_BIG ?
		    GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL,
		    rc == GRPC_FRAME_TOO_BIG ? "response message over 64 MiB" :
		    rc == GRPC_FRAME_COMPRESSED ? "compressed response message "
		    "(none was negotiated)" : "bad gRPC frame flag in response");
		return;
	}
	memmove(call->rbuf, call->rbuf + off, call->rlen - off);
	call->rlen -= off;
}

static int
on_data_chunk_recv(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user)
{
	struct cl_call *call = stream_call(h2, stream_id);
	size_t max = NET_CLIENT_MAX_MSG;

	if (call == NULL)
		return 0;
	/* A gRPC error page (HTTP 4xx/5xx) is not gRPC: its status says it all. */
	if (call->kind == CALL_GRPC && call->http_status != 200)
		return 0;
	if (call->kind == CALL_GRPC)
		max += GRPC_FRAME_HDR;
	if (rbuf_append(call, data, len, max) < 0) {
		call_abort(call, GRPC_RESOURCE_EXHAUSTED,
		    "response larger than 64 MiB (or out of memory)");
		return 0;
	}
	if (call->kind == CALL_GRPC)
		call_deliver(call);
	return 0;
}

static int
on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
    void *user)
{
	struct cl_conn *conn = user;
	struct net_client *c = conn->c;
	struct cl_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);

	if (call == NULL)
		return 0;
	TAILQ_REMOVE(&conn->calls, call, link);
	call->conn = NULL;
	/* Refused before any processing (GOAWAY, REFUSED_STREAM): safe to retry once. */
	if (!call->finished && error_code == NGHTTP2_REFUSED_STREAM &&
	    call->http_status == 0 && call->retries++ == 0 && !c->closing) {
		call->stream_id = 0;
		if (client_dispatch(c, call) == 0) {
			if (call->conn != NULL && conn_flush(call->conn) < 0)
				bufferevent_trigger_event(call->conn->bev,
				    BEV_EVENT_ERROR, BEV_TRIG_DEFER_CALLBACKS);
			return 0;
		}
	}
	call_closed(call, error_code);
	call_free(call);
	return 0;
}

/* The client stops starting calls on a connection that got GOAWAY. */
static void
conn_drain(struct cl_conn *conn)
{
	struct net_client *c = conn->c;

	if (conn->state == CONN_DRAINING)
		return;
	conn->state = CONN_DRAINING;
	if (c->conn == conn)
		c->conn = NULL;
	TAILQ_INSERT_TAIL(&c->draining, conn, link);
}

static int
on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
	if (frame->hd.type == NGHTTP2_GOAWAY)
		conn_drain(user);
	return 0;
}

/* Kept to explain a connection nghttp2 ends for a protocol error. */
static int
on_error(nghttp2_session *h2, int code, const char *msg, size_t len,
    void *user)
{
	struct cl_conn *conn = user;

	snprintf(conn->h2err, sizeof(conn->h2err), "HTTP/2 protocol error "
	    "from server: %.*s", (int)len, msg);
	return 0;
}

/* --- the connection ---------------------------------------------------- */

/*
 * Moves frames nghttp2 has ready into the socket's output, up to a high
 * mark (the write callback asks for more). Re-entry from a callback inside
 * nghttp2 is deferred to the outer call. Returns 0 or -1 with conn->err.
 */
static int
conn_flush(struct cl_conn *conn)
{
	struct evbuffer *out;
	const uint8_t *data;
	ssize_t n;

	if (conn->h2 == NULL)
		return 0;
	if (conn->busy) {
		conn->again = true;
		return 0;
	}
	out = bufferevent_get_output(conn->bev);
	conn->busy++;
	net_h2_mem_send_begin(&conn->mem);
	do {
		conn->again = false;
		while (evbuffer_get_length(out) < CLIENT_OUT_HIGH &&
		    (n = nghttp2_session_mem_send(conn->h2, &data)) != 0) {
			if (n < 0 || evbuffer_add(out, data, (size_t)n) < 0) {
				snprintf(conn->err, sizeof(conn->err),
				    "HTTP/2 send: %s", n < 0 ?
				    nghttp2_strerror((int)n) : "out of memory");
				net_h2_mem_send_end(&conn->mem);
				conn->busy--;
				return -1;
			}
		}
	} while (conn->again);
	net_h2_mem_send_end(&conn->mem);
	/* No call left: an axle may now idle for hours; its frame buffer need not stay. */
	if (TAILQ_EMPTY(&conn->calls) && !nghttp2_session_want_write(conn->h2))
		(void)net_h2_mem_release(&conn->mem);
	conn->busy--;
	return 0;
}

/*
 * Frees the connection alone (its calls are the caller's). A name lookup
 * under way is cancelled: its callback comes later, from the loop, with
 * EVUTIL_EAI_CANCEL, and touches nothing (conn_resolved).
 */
static void
conn_free(struct cl_conn *conn)
{
	if (conn->resolving != NULL)
		evdns_getaddrinfo_cancel(conn->resolving);
	if (conn->h2 != NULL)
		nghttp2_session_del(conn->h2);
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	if (conn->ai_list != NULL)
		evutil_freeaddrinfo(conn->ai_list);
	free(conn);
}

/*
 * Tears the connection down and fails everything that depended on it: its
 * started calls, and the client's queue if it was the connection being
 * opened. Callbacks run after the teardown, so they may start new calls
 * (which open a new connection).
 */
static void
conn_fail_and_free(struct cl_conn *conn, int status, const char *reason)
{
	struct net_client *c = conn->c;
	struct call_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct cl_call *call;
	char why[CLIENT_REASON_MAX];

	snprintf(why, sizeof(why), "%s", reason);	/* may point into conn */
	TAILQ_CONCAT(&dead, &conn->calls, link);
	if (c->conn == conn) {
		c->conn = NULL;
		TAILQ_CONCAT(&dead, &c->queue, link);
	} else if (conn->state == CONN_DRAINING) {
		TAILQ_REMOVE(&c->draining, conn, link);
	}
	conn_free(conn);
	while ((call = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, call, link);
		call->conn = NULL;
		call_finish(call, status, why);
		call_free(call);
	}
}

/*
 * A connection both sides have finished with (GOAWAY exchanged) closes
 * quietly. Returns true if it freed conn.
 */
static bool
conn_free_if_done(struct cl_conn *conn)
{
	if (conn->h2 == NULL || nghttp2_session_want_read(conn->h2) ||
	    nghttp2_session_want_write(conn->h2) ||
	    evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0)
		return false;
	conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->h2err[0] != '\0' ?
	    conn->h2err : "connection closed by server");
	return true;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct cl_conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v;
	ssize_t n;

	if (conn->h2 == NULL)
		return;
	while (evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		conn->busy++;
		n = nghttp2_session_mem_recv(conn->h2, v.iov_base, v.iov_len);
		conn->busy--;
		if (n < 0) {
			char reason[CLIENT_REASON_MAX];

			snprintf(reason, sizeof(reason), "HTTP/2 protocol error "
			    "from server: %s", nghttp2_strerror((int)n));
			conn_fail_and_free(conn, GRPC_UNAVAILABLE, reason);
			return;
		}
		evbuffer_drain(in, v.iov_len);
	}
	if (conn_flush(conn) < 0)
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->err);
	else
		conn_free_if_done(conn);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct cl_conn *conn = arg;

	if (conn->h2 == NULL)
		return;
	if (conn_flush(conn) < 0)
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->err);
	else
		conn_free_if_done(conn);
}

static nghttp2_session *
conn_session_new(struct cl_conn *conn)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_session *h2 = NULL;
	nghttp2_mem mem;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, CLIENT_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, CLIENT_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return NULL;
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	net_h2_mem_init(&conn->mem, &mem);
	net_h2_mem_send_begin(&conn->mem);	/* the frame buffer is made here */
	if (nghttp2_session_client_new3(&h2, cbs, conn, NULL, &mem) != 0)
		h2 = NULL;
	net_h2_mem_send_end(&conn->mem);
	nghttp2_session_callbacks_del(cbs);
	if (h2 == NULL)
		return NULL;
	if (nghttp2_submit_settings(h2, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h2, NGHTTP2_FLAG_NONE, 0,
	    CLIENT_CONN_WINDOW) != 0) {
		nghttp2_session_del(h2);
		return NULL;
	}
	return h2;
}

/* Handshake done: check who answered, speak HTTP/2, start the queued calls. */
static void
conn_up(struct cl_conn *conn)
{
	struct net_client *c = conn->c;
	SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
	char err[CLIENT_REASON_MAX - 32], reason[CLIENT_REASON_MAX];
	struct cl_call *call;
	int one = 1;

	if (net_tls_peer_identity(ssl, &conn->peer, err, sizeof(err)) < 0) {
		snprintf(reason, sizeof(reason), "server refused: %s", err);
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, reason);
		return;
	}
	if (conn->c->expect_uri != NULL &&
	    strcmp(conn->peer.uri, conn->c->expect_uri) != 0) {
		/* Both URIs can be long; cut each so the reason always fits. */
		snprintf(reason, sizeof(reason), "server is %.110s, expected %.110s",
		    conn->peer.uri, conn->c->expect_uri);
		snprintf(c->mismatch, sizeof(c->mismatch), "%s", conn->peer.uri);
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, reason);
		return;
	}
	c->mismatch[0] = '\0';
	/* Kept for callers that check what the server signed (feed heads). */
	X509_free(c->peer_cert);
	c->peer_cert = SSL_get1_peer_certificate(ssl);
	net_tls_shed_chains(ssl);	/* identity taken: the chains are dead weight */
	if ((conn->h2 = conn_session_new(conn)) == NULL) {
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, "HTTP/2 session: out of memory");
		return;
	}
	setsockopt(bufferevent_getfd(conn->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	bufferevent_set_timeouts(conn->bev, NULL, NULL);
	conn->state = CONN_UP;
	while ((call = TAILQ_FIRST(&c->queue)) != NULL) {
		int rc;

		TAILQ_REMOVE(&c->queue, call, link);
		if ((rc = call_start(conn, call)) != 0) {
			call_finish(call, GRPC_UNAVAILABLE, nghttp2_strerror(rc));
			call_free(call);
		}
	}
	if (conn_flush(conn) < 0)
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->err);
}

/* libevent also stores SSL_get_error() codes (no library part): not TLS errors. */
static unsigned long
conn_tls_error(struct bufferevent *bev)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	return ERR_GET_LIB(e) != 0 ? e : 0;
}

static void
conn_describe_error(struct cl_conn *conn, short events, char *out, size_t len)
{
	unsigned long e = conn_tls_error(conn->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	int sockerr = EVUTIL_SOCKET_ERROR();
	const char *where = conn->state == CONN_CONNECTING ?
	    "connect to" : "connection to";

	if (events & BEV_EVENT_TIMEOUT) {
		snprintf(out, len, "%s %s:%s: timed out", where, conn->c->host,
		    conn->c->port);
	} else if (vr != X509_V_OK) {
		snprintf(out, len, "TLS handshake with %s:%s: server certificate:"
		    " %s", conn->c->host, conn->c->port,
		    X509_verify_cert_error_string(vr));
	} else if (e != 0) {
		char buf[160];

		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(out, len, "TLS with %s:%s: %s", conn->c->host,
		    conn->c->port, buf);
	} else if ((events & BEV_EVENT_EOF) || sockerr == 0) {
		snprintf(out, len, "%s %s:%s: closed by server%s", where,
		    conn->c->host, conn->c->port, conn->state == CONN_CONNECTING ?
		    " during the TLS handshake" : "");
	} else {
		snprintf(out, len, "%s %s:%s: %s", where, conn->c->host,
		    conn->c->port, evutil_socket_error_to_string(sockerr));
	}
	ERR_clear_error();
}

static int conn_try_next(struct cl_conn *conn);

static void
conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct cl_conn *conn = arg;
	char reason[CLIENT_REASON_MAX];

	if (events & BEV_EVENT_CONNECTED) {
		conn_up(conn);
		return;
	}
	if (conn->err[0] != '\0') {		/* a deferred failure of ours */
		conn_fail_and_free(conn, GRPC_UNAVAILABLE, conn->err);
		return;
	}
	conn_describe_error(conn, events, reason, sizeof(reason));
	/* A refused TCP connect moves on to the next address; a TLS failure does not. */
	if (conn->state == CONN_CONNECTING && conn->ai_next != NULL &&
	    conn_tls_error(bev) == 0 && !(events & BEV_EVENT_EOF)) {
		bufferevent_free(conn->bev);
		conn->bev = NULL;
		if (conn_try_next(conn) == 0)
			return;
	}
	conn_fail_and_free(conn, GRPC_UNAVAILABLE, reason);
}

/* Starts a nonblocking connect to the next resolved address. Returns 0 or -1. */
static int
conn_try_next(struct cl_conn *conn)
{
	struct net_client *c = conn->c;
	struct timeval hs = { CLIENT_HANDSHAKE_S, 0 };

	while (conn->ai_next != NULL) {
		struct evutil_addrinfo *ai = conn->ai_next;
		SSL *ssl;

		conn->ai_next = ai->ai_next;
		if ((ssl = SSL_new(c->ctx)) == NULL)
			return -1;
		if (net_tls_client_prepare(ssl, c->name) < 0) {
			SSL_free(ssl);
			return -1;
		}
		conn->bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (conn->bev == NULL) {
			SSL_free(ssl);
			return -1;
		}
		bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb,
		    conn_event_cb, conn);
		bufferevent_set_timeouts(conn->bev, &hs, &hs);
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(conn->bev, ai->ai_addr,
		    (int)ai->ai_addrlen) == 0)
			return 0;
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	return -1;
}

static void
client_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_client *c = arg;
	struct call_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct cl_call *call;
	char why[CLIENT_REASON_MAX];

	if (c->conn != NULL)		/* a newer open is under way */
		return;
	/* Callbacks may open again and overwrite open_err. */
	snprintf(why, sizeof(why), "%s", c->open_err);
	TAILQ_CONCAT(&dead, &c->queue, link);
	while ((call = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, call, link);
		call_finish(call, GRPC_UNAVAILABLE, why);
		call_free(call);
	}
}

/*
 * The opening connection could not start: it goes, and the queued calls
 * fail from the event loop (client_retry_cb), so that a callback starting
 * a new call never recurses.
 */
static void
conn_open_failed_and_free(struct cl_conn *conn)
{
	struct net_client *c = conn->c;
	struct timeval now = { 0, 0 };

	if (c->conn == conn)
		c->conn = NULL;
	conn_free(conn);
	evtimer_add(c->retry_ev, &now);
}

/* evdns_getaddrinfo's answer: connect to the first address that takes. */
static void
conn_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct cl_conn *conn = arg;
	struct net_client *c;

	if (result == EVUTIL_EAI_CANCEL) {	/* conn_free cancelled: conn is gone */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	c = conn->c;
	conn->resolving = NULL;
	if (result != 0) {
		snprintf(c->open_err, sizeof(c->open_err), "resolve %s:%s: %s",
		    c->host, c->port, evutil_gai_strerror(result));
		conn_open_failed_and_free(conn);
		return;
	}
	conn->ai_list = conn->ai_next = res;
	if (conn_try_next(conn) < 0) {
		snprintf(c->open_err, sizeof(c->open_err), "connect to %s:%s: "
		    "cannot start", c->host, c->port);
		conn_open_failed_and_free(conn);
	}
}

/* The client's resolver: the one it was given, or its own (made on first use). */
static struct evdns_base *
client_dns(struct net_client *c)
{
	if (c->dns == NULL) {
		c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		c->own_dns = c->dns != NULL;
	}
	return c->dns;
}

/*
 * Opens c->conn: an asynchronous name lookup (evdns), then a nonblocking
 * connect. Nothing here waits on the network, so one slow resolver stalls
 * only the calls that need it.
 */
static void
client_open(struct net_client *c)
{
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP };
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo *res = NULL;
	struct cl_conn *conn;

	if ((conn = calloc(1, sizeof(*conn))) == NULL) {
		struct timeval now = { 0, 0 };

		snprintf(c->open_err, sizeof(c->open_err), "out of memory");
		evtimer_add(c->retry_ev, &now);
		return;
	}
	conn->c = c;
	TAILQ_INIT(&conn->calls);
	c->conn = conn;
	/* A numeric address needs no resolver (nor its socket: loadgen has many clients). */
	hints.ai_flags = EVUTIL_AI_NUMERICHOST;
	if (evutil_getaddrinfo(c->host, c->port, &hints, &res) == 0) {
		conn_resolved(0, res, conn);	/* may free conn */
		return;
	}
	hints.ai_flags = 0;
	if (client_dns(c) == NULL) {
		snprintf(c->open_err, sizeof(c->open_err), "resolve %s: cannot set "
		    "up the resolver (out of memory)", c->host);
		conn_open_failed_and_free(conn);
		return;
	}
	/*
	 * A name in /etc/hosts is answered at once:
	 * conn_resolved has run (and may have freed conn) when this returns
	 * NULL. Otherwise conn is still ours and waits for the answer.
	 */
	req = evdns_getaddrinfo(c->dns, c->host, c->port, &hints, conn_resolved,
	    conn);
	if (req != NULL)
		conn->resolving = req;
}

/* --- the public API ---------------------------------------------------- */

struct net_client *
net_client_new(struct event_base *base, SSL_CTX *ctx, const char *host,
    const char *port, const char *authority)
{
	struct net_client *c = calloc(1, sizeof(*c));
	const char *name = authority != NULL ? authority : host;
	bool v6 = strchr(name, ':') != NULL;
	size_t alen = strlen(name) + strlen(port) + 4;

	if (c == NULL)
		return NULL;
	c->base = base;
	TAILQ_INIT(&c->draining);
	TAILQ_INIT(&c->queue);
	c->host = strdup(host);
	c->port = strdup(port);
	c->name = strdup(name);
	c->authority = malloc(alen);
	c->retry_ev = evtimer_new(base, client_retry_cb, c);
	if (c->host == NULL || c->port == NULL || c->name == NULL ||
	    c->authority == NULL || c->retry_ev == NULL) {
		net_client_free(c);
		return NULL;
	}
	snprintf(c->authority, alen, v6 ? "[%s]:%s" : "%s:%s", name, port);
	SSL_CTX_up_ref(ctx);
	c->ctx = ctx;
	return c;
}

static struct cl_call *
call_new(struct net_client *c, enum call_kind kind, const char *path,
    int timeout_ms, void *arg)
{
	struct cl_call *call;

	if (c->closing || (call = calloc(1, sizeof(*call))) == NULL)
		return NULL;
	call->c = c;
	call->kind = kind;
	call->arg = arg;
	call->timeout_ms = timeout_ms;
	call->net_grpc_status = -1;
	if ((call->path = strdup(path)) == NULL ||
	    (call->deadline = evtimer_new(c->base, call_deadline_cb, call)) == NULL) {
		call_free(call);
		return NULL;
	}
	return call;
}

/*
 * Starts call on the current connection, or queues it for the next one
 * (opening it). Returns 0, or an nghttp2 error with the call untouched.
 */
static int
client_dispatch(struct net_client *c, struct cl_call *call)
{
	struct cl_conn *conn = c->conn;

	if (conn != NULL && conn->state == CONN_UP) {
		int rc = call_start(conn, call);

		if (rc == 0)
			return 0;
		if (rc != NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE &&
		    rc != NGHTTP2_ERR_START_STREAM_NOT_ALLOWED)
			return rc;
		conn_drain(conn);	/* used up: a new connection takes over */
	}
	TAILQ_INSERT_TAIL(&c->queue, call, link);
	if (c->conn == NULL)
		client_open(c);
	return 0;
}

/* Starts or queues a new call. Returns 0, or -1 (call freed, no callback). */
static int
call_submit(struct net_client *c, struct cl_call *call)
{
	if (client_dispatch(c, call) != 0) {
		call_free(call);
		return -1;
	}
	c->inflight++;
	if (call->timeout_ms > 0) {
		struct timeval tv = { call->timeout_ms / 1000,
		    (call->timeout_ms % 1000) * 1000 };

		evtimer_add(call->deadline, &tv);
	}
	/* A failed flush is reported from the loop, not inside this call. */
	if (call->conn != NULL && conn_flush(call->conn) < 0)
		bufferevent_trigger_event(call->conn->bev, BEV_EVENT_ERROR,
		    BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

int
net_client_call(struct net_client *c, const char *path, const uint8_t *req,
    size_t len, int timeout_ms, net_client_cb cb, void *arg)
{
	struct cl_call *call;

	if (len > UINT32_MAX - GRPC_FRAME_HDR ||
	    (call = call_new(c, CALL_GRPC, path, timeout_ms, arg)) == NULL)
		return -1;
	call->cb = cb;
	call->body_len = GRPC_FRAME_HDR + len;
	if ((call->body = malloc(call->body_len)) == NULL) {
		call_free(call);
		return -1;
	}
	net_grpc_frame_header(call->body, (uint32_t)len);
	if (len > 0)
		memcpy(call->body + GRPC_FRAME_HDR, req, len);
	return call_submit(c, call);
}

int
net_client_get(struct net_client *c, const char *path, int timeout_ms,
    net_client_get_cb cb, void *arg)
{
	struct cl_call *call = call_new(c, CALL_GET, path, timeout_ms, arg);

	if (call == NULL)
		return -1;
	call->get_cb = cb;
	return call_submit(c, call);
}

const struct net_identity *
net_client_peer(const struct net_client *c)
{
	return c->conn != NULL && c->conn->state == CONN_UP ? &c->conn->peer : NULL;
}

X509 *
net_client_peer_cert(const struct net_client *c)
{
	return c->peer_cert;
}

size_t
net_client_inflight(const struct net_client *c)
{
	return c->inflight;
}

/* Fails every call of the client, started or queued, and closes its connections. */
static void
client_fail_all(struct net_client *c, int status, const char *reason)
{
	struct call_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct cl_conn *conn;
	struct cl_call *call;

	if (c->conn != NULL)
		conn_fail_and_free(c->conn, status, reason);
	while ((conn = TAILQ_FIRST(&c->draining)) != NULL)
		conn_fail_and_free(conn, status, reason);
	TAILQ_CONCAT(&dead, &c->queue, link);
	while ((call = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, call, link);
		call_finish(call, status, reason);
		call_free(call);
	}
}

void
net_client_free(struct net_client *c)
{
	if (c == NULL)
		return;
	c->closing = true;
	client_fail_all(c, GRPC_CANCELLED, "client closed");
	if (c->retry_ev != NULL)
		event_free(c->retry_ev);
	if (c->own_dns)
		evdns_base_free(c->dns, 0);	/* its lookups were cancelled above */
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	free(c->host);
	free(c->port);
	free(c->name);
	free(c->authority);
	free(c->expect_uri);
	X509_free(c->peer_cert);
	free(c);
}

const char *
net_client_identity_mismatch(const struct net_client *c)
{
	return c->mismatch;
}

void
net_client_set_dns(struct net_client *c, struct evdns_base *dns)
{
	if (c->own_dns || c->conn != NULL)
		return;		/* too late: it resolves with what it has */
	c->dns = dns;
}

int
net_client_expect(struct net_client *c, const char *uri)
{
	char *dup = strdup(uri);

	if (dup == NULL)
		return -1;
	free(c->expect_uri);
	c->expect_uri = dup;
	return 0;
}

/* --- synchronous helpers for tools ------------------------------------- */

struct sync_state {
	bool done;
	int status;			/* grpc status, or HTTP status for GET */
	int nmsg;
	uint8_t *resp;
	size_t resp_len;
	char *msgbuf;
	size_t msglen;
};

static void
sync_copy(struct sync_state *s, const uint8_t *p, size_t len)
{
	free(s->resp);
	s->resp_len = 0;
	if ((s->resp = malloc(len + 1)) != NULL) {
		if (len > 0)
			memcpy(s->resp, p, len);
		s->resp[len] = '\0';
		s->resp_len = len;
	}
}

static void
sync_call_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct sync_state *s = arg;

	if (!final) {
		if (s->nmsg++ == 0)
			sync_copy(s, msg, len);
		return;
	}
	s->done = true;
	s->status = status;
	if (s->msglen > 0)
		snprintf(s->msgbuf, s->msglen, "%s", message ? message : "");
	if (status == GRPC_OK && s->nmsg != 1) {
		s->status = GRPC_INTERNAL;
		if (s->msglen > 0)
			snprintf(s->msgbuf, s->msglen, "unary call answered with "
			    "%d messages", s->nmsg);
	}
	if (status == GRPC_OK && s->resp == NULL && s->nmsg == 1) {
		s->status = GRPC_RESOURCE_EXHAUSTED;
		if (s->msglen > 0)
			snprintf(s->msgbuf, s->msglen, "out of memory");
	}
}

static void
sync_get_cb(void *arg, int http_status, const char *reason,
    const uint8_t *body, size_t len)
{
	struct sync_state *s = arg;

	s->done = true;
	s->status = http_status;
	if (http_status != 0)
		sync_copy(s, body, len);
	if (s->msglen > 0)
		snprintf(s->msgbuf, s->msglen, "%s", reason ? reason : "");
}

/* Runs base until s is done; a loop with nothing to wait for fails the client's calls. */
static void
sync_run(struct net_client *c, struct event_base *base, struct sync_state *s)
{
	while (!s->done) {
		if (event_base_loop(base, EVLOOP_ONCE) != 0 && !s->done)
			client_fail_all(c, GRPC_UNAVAILABLE, "event loop stopped");
	}
	/* Lets what the end of the call queued (RST_STREAM on a deadline) go out. */
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
net_client_call_sync(struct net_client *c, struct event_base *base,
    const char *path, const uint8_t *req, size_t len, int timeout_ms,
    uint8_t **resp, size_t *resp_len, char *msgbuf, size_t msglen)
{
	struct sync_state s = { .msgbuf = msgbuf, .msglen = msglen };

	*resp = NULL;
	*resp_len = 0;
	if (msglen > 0)
		msgbuf[0] = '\0';
	if (net_client_call(c, path, req, len, timeout_ms, sync_call_cb, &s) < 0) {
		if (msglen > 0)
			snprintf(msgbuf, msglen, "cannot start call (out of memory)");
		return GRPC_RESOURCE_EXHAUSTED;
	}
	sync_run(c, base, &s);
	if (s.status != GRPC_OK) {
		free(s.resp);
		return s.status;
	}
	*resp = s.resp;
	*resp_len = s.resp_len;
	return GRPC_OK;
}

int
net_client_get_sync(struct net_client *c, struct event_base *base,
    const char *path, int timeout_ms, uint8_t **body, size_t *body_len,
    char *msgbuf, size_t msglen)
{
	struct sync_state s = { .msgbuf = msgbuf, .msglen = msglen };

	*body = NULL;
	*body_len = 0;
	if (msglen > 0)
		msgbuf[0] = '\0';
	if (net_client_get(c, path, timeout_ms, sync_get_cb, &s) < 0) {
		if (msglen > 0)
			snprintf(msgbuf, msglen, "cannot start request (out of memory)");
		return 0;
	}
	sync_run(c, base, &s);
	if (s.status != 0 && s.resp == NULL) {
		if (msglen > 0)
			snprintf(msgbuf, msglen, "out of memory");
		return 0;
	}
	*body = s.resp;
	*body_len = s.resp_len;
	return s.status;
}
