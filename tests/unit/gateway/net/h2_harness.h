/*
 * h2_harness.h -- drives a net_h2 server session from an in-memory nghttp2
 * client: no sockets, no TLS. Header-only, for unit tests and fuzz targets.
 *
 * Use: h = h2h_new(); tweak h->node.cfg.limits; h2h_connect(h, uri);
 * h2h_request(...) / h2h_raw(...); h2h_pump(h); inspect h2h_stream(h, id),
 * h->goaway_*; h2h_free(h).
 */
#ifndef AXLE_TESTS_H2_HARNESS_H
#define AXLE_TESTS_H2_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gateway/node/config.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/h2_server.h"
#include "gateway/net/identity.h"
#include "gateway/node/metrics.h"
#include "gateway/node/node.h"
#include "gateway/node/svc.h"

#define H2H_MAX_STREAMS	512
#define H2H_MAX_ROUNDS	10000

/* What the client saw of one stream, and the request body it sends. */
struct h2h_stream {
	int32_t id;
	int status;			/* :status, 0 if none */
	char ctype[128];
	int net_grpc_status;		/* -1 if none */
	int grpc_status_in_headers;	/* trailers-only response */
	char grpc_message[1024];	/* percent-decoded */
	int header_frames;		/* HEADERS frames received (1 or 2) */
	uint8_t *data;			/* response body */
	size_t len;
	int end_stream;			/* END_STREAM received */
	int rst;			/* RST_STREAM received */
	uint32_t rst_code;
	int closed;
	uint32_t close_code;
	/* request body */
	const uint8_t *req;
	size_t req_len, req_off;
	int req_eof;			/* end the stream once req is sent */
};

struct h2h {
	struct gw_node node;
	struct net_identity peer;
	struct evbuffer *out;		/* server -> client bytes */
	struct event *kick;
	int kicks;
	struct net_h2 *h2;
	nghttp2_session *client;
	int server_rc;			/* -1 once net_h2_recv or net_h2_flush failed */
	int client_rc;			/* < 0 once the client session refused input */
	int goaways;			/* GOAWAY frames the client received */
	uint32_t goaway_code;
	int32_t goaway_last_stream;
	struct h2h_stream st[H2H_MAX_STREAMS];
	size_t nst;
};

static inline struct h2h_stream *
h2h_stream(struct h2h *h, int32_t id)
{
	for (size_t i = 0; i < h->nst; i++)
		if (h->st[i].id == id)
			return &h->st[i];
	return NULL;
}

/* --- client callbacks ------------------------------------------------------- */

static inline int
h2h_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *ud)
{
	struct h2h_stream *st = h2h_stream(ud, f->hd.stream_id);
	char v[1024];

	(void)s, (void)flags;
	if (st == NULL)
		return 0;
	snprintf(v, sizeof(v), "%.*s", (int)valuelen, (const char *)value);
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		st->status = atoi(v);
	} else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
		size_t n = strlen(v) < sizeof(st->ctype) ? strlen(v) :
		    sizeof(st->ctype) - 1;

		memcpy(st->ctype, v, n);
		st->ctype[n] = '\0';
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		st->net_grpc_status = atoi(v);
		st->grpc_status_in_headers = f->headers.cat == NGHTTP2_HCAT_RESPONSE;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		net_grpc_message_decode(v, strlen(v), st->grpc_message,
		    sizeof(st->grpc_message));
	}
	return 0;
}

static inline int
h2h_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
    size_t len, void *ud)
{
	struct h2h_stream *st = h2h_stream(ud, id);
	uint8_t *p;

	(void)s, (void)flags;
	if (st == NULL)
		return 0;
	p = realloc(st->data, st->len + len + 1);
	if (p == NULL)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(p + st->len, data, len);
	st->data = p;
	st->len += len;
	p[st->len] = '\0';		/* text bodies can be searched with strstr */
	return 0;
}

static inline int
h2h_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2h *h = ud;
	struct h2h_stream *st = h2h_stream(h, f->hd.stream_id);

	(void)s;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		h->goaways++;
		h->goaway_code = f->goaway.error_code;
		h->goaway_last_stream = f->goaway.last_stream_id;
	}
	if (st == NULL)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS)
		st->header_frames++;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		st->rst = 1;
		st->rst_code = f->rst_stream.error_code;
	}
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		st->end_stream = 1;
	return 0;
}

static inline int
h2h_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct h2h_stream *st = h2h_stream(ud, id);

	(void)s;
	if (st != NULL) {
		st->closed = 1;
		st->close_code = code;
	}
	return 0;
}

static inline ssize_t
h2h_body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct h2h_stream *st = src->ptr;
	size_t n = st->req_len - st->req_off;

	(void)s, (void)id, (void)ud;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(buf, st->req + st->req_off, n);
	st->req_off += n;
	if (st->req_off < st->req_len)
		return (ssize_t)n;
	if (st->req_eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0)
		return NGHTTP2_ERR_DEFERRED;	/* stream stays open */
	return (ssize_t)n;
}

static inline void
h2h_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct h2h *h = arg;

	(void)fd, (void)what;
	h->kicks++;
}

/* --- life cycle --------------------------------------------------------------- */

/* A node (federation fame-test, region uk.london, no store) with default limits. */
static inline struct h2h *
h2h_new(void)
{
	struct h2h *h = calloc(1, sizeof(*h));

	if (h == NULL || gw_svc_register_all(NULL, 0) != 0) {
		free(h);
		return NULL;
	}
	gw_config_defaults(&h->node.cfg);
	snprintf(h->node.cfg.federation, sizeof(h->node.cfg.federation), "fame-test");
	snprintf(h->node.cfg.region, sizeof(h->node.cfg.region), "uk.london");
	clock_gettime(CLOCK_MONOTONIC, &h->node.started);
	h->node.base = event_base_new();
	gw_node_server_init(&h->node, gw_metrics_allowed,
	    gw_metrics_render);
	h->node.store = NULL;
	h->out = evbuffer_new();
	if (h->node.base == NULL || h->out == NULL)
		abort();
	h->kick = event_new(h->node.base, -1, 0, h2h_kick_cb, h);
	if (h->kick == NULL)
		abort();
	return h;
}

/*
 * Creates the server session for a peer proved as uri, and a client session
 * that has queued its preface and SETTINGS. Returns 0, or -1 if uri does not
 * parse or a session cannot be made.
 */
static inline int
h2h_connect(struct h2h *h, const char *uri)
{
	nghttp2_session_callbacks *cbs;
	char err[256];
	int rc;

	if (net_identity_parse_uri(uri, strlen(uri), &h->peer, err, sizeof(err)) != 0) {
		fprintf(stderr, "h2h_connect: %s: %s\n", uri, err);
		return -1;
	}
	h->h2 = net_h2_new(&h->node.srv, &h->peer, h->out, h->kick, "test:1");
	if (h->h2 == NULL || nghttp2_session_callbacks_new(&cbs) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2h_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2h_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2h_on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2h_on_close);
	rc = nghttp2_session_client_new(&h->client, cbs, h);
	nghttp2_session_callbacks_del(cbs);
	if (rc != 0)
		return -1;
	return nghttp2_submit_settings(h->client, NGHTTP2_FLAG_NONE, NULL, 0) == 0 ?
	    0 : -1;
}

static inline void
h2h_free(struct h2h *h)
{
	if (h == NULL)
		return;
	net_h2_free(h->h2);
	if (h->client != NULL)
		nghttp2_session_del(h->client);
	for (size_t i = 0; i < h->nst; i++)
		free(h->st[i].data);
	event_free(h->kick);
	evbuffer_free(h->out);
	event_base_free(h->node.base);
	free(h);
}

/* --- traffic ---------------------------------------------------------------------- */

/* Feeds raw bytes to the server as if read from the socket. Returns net_h2_recv's result. */
static inline int
h2h_raw(struct h2h *h, const void *data, size_t len)
{
	int rc = net_h2_recv(h->h2, data, len);

	if (rc != 0)
		h->server_rc = -1;
	return rc;
}

/* Moves whatever the server queued to the client. Returns bytes moved. */
static inline size_t
h2h_server_to_client(struct h2h *h)
{
	size_t len;

	if (net_h2_flush(h->h2, 1 << 20) != 0)
		h->server_rc = -1;
	len = evbuffer_get_length(h->out);
	if (len > 0 && h->client_rc >= 0) {
		ssize_t n = nghttp2_session_mem_recv(h->client,
		    evbuffer_pullup(h->out, -1), len);

		if (n < 0) {
			fprintf(stderr, "h2h: client refused server bytes: %s\n",
			    nghttp2_strerror((int)n));
			h->client_rc = (int)n;
		}
	}
	evbuffer_drain(h->out, len);
	return len;
}

/* Moves whatever the client queued to the server. Returns bytes moved. */
static inline size_t
h2h_client_to_server(struct h2h *h)
{
	size_t moved = 0;

	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h->client, &data);

		if (n <= 0)
			break;
		moved += (size_t)n;
		if (h->server_rc == 0)
			h2h_raw(h, data, (size_t)n);
	}
	return moved;
}

/*
 * Exchanges bytes both ways and runs the event loop until nothing moves and
 * no kick fired. Returns the rounds it took (H2H_MAX_ROUNDS: it never settled).
 */
static inline int
h2h_pump(struct h2h *h)
{
	int round;

	for (round = 0; round < H2H_MAX_ROUNDS; round++) {
		int kicks = h->kicks;
		size_t moved = h2h_client_to_server(h);

		moved += h2h_server_to_client(h);
		event_base_loop(h->node.base, EVLOOP_NONBLOCK);
		if (moved == 0 && kicks == h->kicks)
			break;
	}
	return round;
}

/* --- cmocka fixtures (the including test has included <cmocka.h>) ------------ */

/* Connects the harness in *state as uri and lets the preface and SETTINGS cross. */
static inline struct h2h *
h2h_connected(void **state, const char *uri)
{
	struct h2h *h = *state;

	assert_int_equal(h2h_connect(h, uri), 0);
	assert_true(h2h_pump(h) < H2H_MAX_ROUNDS);
	assert_int_equal(h->server_rc, 0);
	return h;
}

/* cmocka teardown: frees the harness in *state. */
static inline int
h2h_teardown(void **state)
{
	h2h_free(*state);
	return 0;
}

/*
 * Queues a request. extra may add headers (NULL, 0 for none). The body (not
 * copied: keep it alive until pumped) is sent as DATA; eof ends the stream
 * after it, otherwise the stream stays open (see h2h_end_body). body NULL
 * with eof: END_STREAM on HEADERS. Returns the stream id, or -1.
 */
static inline int32_t
h2h_request(struct h2h *h, const char *method, const char *path,
    const char *ctype, const nghttp2_nv *extra, size_t nextra,
    const void *body, size_t len, int eof)
{
	nghttp2_nv nv[32];
	size_t n = 0;
	struct h2h_stream *st;
	nghttp2_data_provider dp;
	int32_t id;

	if (h->nst >= H2H_MAX_STREAMS || nextra > 26)
		return -1;
#define H2H_NV(k, v) (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), \
	strlen(v), NGHTTP2_NV_FLAG_NONE }
	nv[n++] = H2H_NV(":method", method);
	nv[n++] = H2H_NV(":scheme", "https");
	nv[n++] = H2H_NV(":authority", "node.test");
	nv[n++] = H2H_NV(":path", path);
	if (ctype != NULL)
		nv[n++] = H2H_NV("content-type", ctype);
	if (ctype != NULL && strncmp(ctype, "application/grpc", 16) == 0)
		nv[n++] = H2H_NV("te", "trailers");
#undef H2H_NV
	for (size_t i = 0; i < nextra; i++)
		nv[n++] = extra[i];
	st = &h->st[h->nst];
	memset(st, 0, sizeof(*st));
	st->net_grpc_status = -1;
	st->req = body;
	st->req_len = len;
	st->req_eof = eof;
	dp.source.ptr = st;
	dp.read_callback = h2h_body_read;
	id = nghttp2_submit_request(h->client, NULL, nv, n,
	    body == NULL && eof ? NULL : &dp, NULL);
	if (id < 0)
		return -1;
	st->id = id;
	h->nst++;
	return id;
}

/* Ends a request body left open by h2h_request(..., eof = 0). */
static inline int
h2h_end_body(struct h2h *h, int32_t id)
{
	struct h2h_stream *st = h2h_stream(h, id);

	if (st == NULL)
		return -1;
	st->req_eof = 1;
	return nghttp2_session_resume_data(h->client, id);
}

/* A 9-byte HTTP/2 frame header (RFC 9113 4.1) followed by len payload bytes. */
static inline size_t
h2h_frame(uint8_t *buf, uint8_t type, uint8_t flags, int32_t id,
    const void *payload, uint32_t len)
{
	buf[0] = (uint8_t)(len >> 16);
	buf[1] = (uint8_t)(len >> 8);
	buf[2] = (uint8_t)len;
	buf[3] = type;
	buf[4] = flags;
	buf[5] = (uint8_t)((uint32_t)id >> 24 & 0x7f);
	buf[6] = (uint8_t)(id >> 16);
	buf[7] = (uint8_t)(id >> 8);
	buf[8] = (uint8_t)id;
	if (len > 0)
		memcpy(buf + 9, payload, len);
	return 9 + (size_t)len;
}

/* A gRPC message frame (uncompressed) around msg into buf; returns its length. */
static inline size_t
h2h_grpc(uint8_t *buf, const void *msg, uint32_t len)
{
	net_grpc_frame_header(buf, len);
	if (len > 0)
		memcpy(buf + GRPC_FRAME_HDR, msg, len);
	return GRPC_FRAME_HDR + (size_t)len;
}

#endif
