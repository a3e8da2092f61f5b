/* h2_server.c -- HTTP/2 server sessions: limits, gRPC and Connect calls, plain GETs (health, metrics, the console). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gateway/net/connect.h"
#include "gateway/net/console.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/h2_mem.h"
#include "gateway/net/h2_server.h"
#include "gateway/net/log.h"
#include "gateway/net/server.h"
#include "proto/pb.h"
#include "proto/pb_json.h"
#include "gateway/net/rpc.h"

#define PATH_MAX_LEN	512
#define RST_WINDOW_S	60
#define CTL_WINDOW_S	60
/* Rapid reset (CVE-2023-44487): streams the peer may reset, a burst then a rate. */
#define RESET_BURST	200
#define RESET_PER_S	33
/* /console/events: open streams per server, and how long each lives (EventSource reconnects). */
#define EVENTS_MAX	64
#define EVENTS_LIFE_S	300

struct net_stream {
	int32_t id;
	struct net_h2 *h2;
	struct net_stream *prev, *next;
	size_t header_bytes;
	char method[8];
	char path[PATH_MAX_LEN + 1];
	int has_path;
	enum net_wire_form form;	/* from content-type: gRPC, Connect's forms, or none */
	int custom_header;		/* connect-protocol-version: 1 or x-axle-console: 1 */
	int encoded;			/* content-encoding other than identity */
	char origin[128];		/* Origin, :authority, Sec-Fetch-Site (CSRF checks) */
	char authority[128];
	char fetch_site[24];
	int bad_timeout;
	int64_t timeout_ms;		/* -1: none */
	struct evbuffer *body;
	int body_over;			/* request body over the limit */
	int remote_done;		/* END_STREAM received */
	int streaming_in;		/* a client-streaming call: each message handed over as it arrives */
	int rst_after;			/* answered early: RST_STREAM(NO_ERROR) after the response */
	int events;			/* a /console/events stream, in srv->events */
	struct net_stream *ev_prev, *ev_next;
	struct event *ev_end;		/* EVENTS_LIFE_S after it opened */
	struct net_call *call;
	/* response */
	struct evbuffer *resp;
	const char *location;		/* static: a redirect's Location */
	int resp_started, resp_eof, trailers;
	int status;
	char message[512];
};

static const char *const goaway_names[NET_GA__COUNT] = {
	"header_list", "rst_sent", "empty_data", "control_flood", "outbound_queue",
	"continuation", "rapid_reset", "protocol", "idle", "shutdown",
};

const char *
net_goaway_reason_name(enum net_goaway_reason r)
{
	return r < NET_GA__COUNT ? goaway_names[r] : "unknown";
}

struct net_h2 {
	nghttp2_session *session;
	struct net_server *srv;
	struct net_identity peer;
	struct evbuffer *out;
	struct event *kick;
	char peer_addr[64];
	struct net_stream *streams;
	size_t nstreams;
	int fatal;			/* nghttp2 is done with the session: nothing more goes out */
	int goaway_sent_by_us;
	int terminated;			/* fatal GOAWAY: no new work (a shutdown GOAWAY is not) */
	uint32_t goaway_code;		/* of the fatal GOAWAY */
	int goaway_out;			/* a GOAWAY frame is in out */
	uint32_t reset_tokens;		/* peer resets left in the rapid-reset bucket */
	time_t reset_at;		/* last refill */
	time_t rst_window;
	uint32_t rst_sent;
	time_t ctl_window;
	uint32_t ctl_recv;		/* PING and SETTINGS received in ctl_window */
	uint32_t empty_data;
	struct net_h2_mem mem;		/* nghttp2's blocks; outlives session */
};

struct net_call {
	struct net_stream *stream;	/* NULL once detached */
	struct gw_node *node;
	struct net_identity caller;
	const struct net_rpc_method *m;
	size_t midx;
	ProtobufCMessage *req;
	struct event *deadline;
	struct timespec deadline_at;
	int has_deadline;
	int cancelled;
	int counted;			/* its outcome is in the metrics already */
	struct timespec started;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- connection-level limits --------------------------------------------- */

/*
 * Counts and logs the node's decision to end the connection. Returns 0, or
 * -1 if an earlier one was made (it stands: one GOAWAY per connection).
 * error: what nghttp2 said, or NULL.
 */
static int
goaway_decided(struct net_h2 *h2, enum net_goaway_reason why, uint32_t code,
    const char *error)
{
	if (h2->terminated)
		return -1;
	h2->terminated = 1;
	h2->goaway_sent_by_us = 1;
	h2->goaway_code = code;
	h2->srv->ctr->goaway[why]++;
	net_log(why == NET_GA_SHUTDOWN || why == NET_GA_IDLE ? NET_LOG_INFO :
	    NET_LOG_WARN, "h2_goaway", "peer=%s identity=%s reason=%s code=%s streams=%zu%s%s%s",
	    h2->peer_addr, h2->peer.uri, net_goaway_reason_name(why),
	    nghttp2_http2_strerror(code), h2->nstreams,
	    error ? " error=\"" : "", error ? error : "", error ? "\"" : "");
	return 0;
}

/* The session ends: GOAWAY code through nghttp2, after what it has queued. */
static void
goaway(struct net_h2 *h2, enum net_goaway_reason why, uint32_t code)
{
	if (goaway_decided(h2, why, code, NULL) == 0)
		nghttp2_session_terminate_session(h2->session, code);
}

/*
 * nghttp2 gave up on the session (a fatal error: CONTINUATION flood, ACK
 * flood, bad preface) or we do (outbound queue), and nothing more comes out
 * of it. The peer is still owed the GOAWAY (RFC 9113 5.4.1), which we write
 * ourselves after the whole frames already in out; the node's decision, if
 * it made one before, keeps its reason and code.
 */
static void
goaway_fatal(struct net_h2 *h2, enum net_goaway_reason why, uint32_t code,
    const char *error)
{
	uint32_t last = (uint32_t)nghttp2_session_get_last_proc_stream_id(h2->session);
	uint8_t f[17] = { 0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0 };

	h2->fatal = 1;
	(void)goaway_decided(h2, why, code, error);
	if (h2->goaway_out)
		return;
	for (int i = 0; i < 4; i++) {
		f[9 + i] = (uint8_t)((last & 0x7fffffff) >> (24 - 8 * i));
		f[13 + i] = (uint8_t)(h2->goaway_code >> (24 - 8 * i));
	}
	if (evbuffer_add(h2->out, f, sizeof(f)) == 0)
		h2->goaway_out = 1;
}

/* One reset by the peer; -1 once it resets faster than the rapid-reset limit. */
static int
reset_take(struct net_h2 *h2)
{
	time_t now = time(NULL);

	if (now > h2->reset_at) {
		uint64_t t = h2->reset_tokens + (uint64_t)(now - h2->reset_at) * RESET_PER_S;

		h2->reset_tokens = t > RESET_BURST ? RESET_BURST : (uint32_t)t;
		h2->reset_at = now;
	}
	if (h2->reset_tokens == 0)
		return -1;
	h2->reset_tokens--;
	return 0;
}

static void
kick(struct net_h2 *h2)
{
	if (h2->kick != NULL)
		event_active(h2->kick, 0, 0);
}

/* --- streams -------------------------------------------------------------- */

static struct net_stream *
stream_new(struct net_h2 *h2, int32_t id)
{
	struct net_stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->body = evbuffer_new();
	st->resp = evbuffer_new();
	if (st->body == NULL || st->resp == NULL) {
		if (st->body)
			evbuffer_free(st->body);
		if (st->resp)
			evbuffer_free(st->resp);
		free(st);
		return NULL;
	}
	st->id = id;
	st->h2 = h2;
	st->timeout_ms = -1;
	st->next = h2->streams;
	if (h2->streams)
		h2->streams->prev = st;
	h2->streams = st;
	h2->nstreams++;
	return st;
}

static void call_detach(struct net_call *call);
static void events_unlink(struct net_stream *st);

static void
stream_free(struct net_stream *st)
{
	struct net_h2 *h2 = st->h2;

	events_unlink(st);
	if (st->ev_end != NULL)
		event_free(st->ev_end);
	if (st->call != NULL) {
		struct net_call *call = st->call;

		call_detach(call);
		/* Between its messages a client-streaming call is the transport's. */
		if (st->streaming_in)
			net_call_finish(call, GRPC_CANCELLED, "the client went away");
	}
	if (st->prev)
		st->prev->next = st->next;
	else
		h2->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	h2->nstreams--;
	evbuffer_free(st->body);
	evbuffer_free(st->resp);
	free(st);
}

static ssize_t
resp_read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct net_stream *st = src->ptr;
	int n = evbuffer_remove(st->resp, buf, len);

	(void)ud;
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (evbuffer_get_length(st->resp) > 0)
		return n;
	if (!st->resp_eof)
		return n > 0 ? n : NGHTTP2_ERR_DEFERRED;
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (st->trailers) {
		char code[12], msg[1024];
		nghttp2_nv tr[2];
		size_t ntr = 1;

		snprintf(code, sizeof(code), "%d", st->status);
		tr[0] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)code,
		    11, strlen(code), NGHTTP2_NV_FLAG_NONE };
		if (st->message[0] != '\0') {
			size_t ml = net_grpc_message_encode(st->message, msg, sizeof(msg));
			tr[1] = (nghttp2_nv){ (uint8_t *)"grpc-message",
			    (uint8_t *)msg, 12, ml, NGHTTP2_NV_FLAG_NONE };
			ntr = 2;
		}
		if (nghttp2_submit_trailer(session, id, tr, ntr) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
	NGHTTP2_NV_FLAG_NONE }

#define NV_STATIC(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
	sizeof(v) - 1, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }

/*
 * On every answer that is not gRPC (pages, assets, Connect, health,
 * metrics): a browser may show it only as this node's own page, never
 * framed, sniffed, cached or named in another site's Referer.
 */
static const nghttp2_nv web_headers[] = {
	NV_STATIC("content-security-policy", NET_CONSOLE_CSP),
	NV_STATIC("x-frame-options", "DENY"),
	NV_STATIC("x-content-type-options", "nosniff"),
	NV_STATIC("referrer-policy", "no-referrer"),
	NV_STATIC("cache-control", "no-store"),
};
#define N_WEB_HEADERS (sizeof(web_headers) / sizeof(web_headers[0]))

/* Starts the response with its headers; the body follows from st->resp. */
static int
stream_respond(struct net_stream *st, const char *status, const char *ctype)
{
	nghttp2_nv hdrs[3 + N_WEB_HEADERS] = { NV(":status", status),
		NV("content-type", ctype) };
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = resp_read };
	size_t n = 2;

	if (st->form != NET_FORM_GRPC)
		for (size_t i = 0; i < N_WEB_HEADERS; i++)
			hdrs[n++] = web_headers[i];
	if (st->location != NULL)
		hdrs[n++] = (nghttp2_nv)NV("location", st->location);
	st->resp_started = 1;
	/* A HEAD answer carries no content (RFC 9110 9.3.2); clients reset one that does. */
	if (strcmp(st->method, "HEAD") == 0) {
		evbuffer_drain(st->resp, evbuffer_get_length(st->resp));
		return nghttp2_submit_response(st->h2->session, st->id, hdrs, n,
		    NULL);
	}
	return nghttp2_submit_response(st->h2->session, st->id, hdrs, n, &dp);
}

/* A whole plain-HTTP answer (healthz, metrics, errors on non-gRPC paths). */
static void
stream_http(struct net_stream *st, const char *status, const char *ctype,
    const char *body, size_t len)
{
	evbuffer_add(st->resp, body, len);
	st->resp_eof = 1;
	if (stream_respond(st, status, ctype) != 0)
		nghttp2_submit_rst_stream(st->h2->session, NGHTTP2_FLAG_NONE,
		    st->id, NGHTTP2_INTERNAL_ERROR);
}

/* Trailers-only gRPC answer: one HEADERS frame with the status. */
static int
stream_grpc_status_only(struct net_stream *st, int status, const char *message)
{
	char code[12], msg[1024];
	nghttp2_nv hdrs[4] = { NV(":status", "200"),
		NV("content-type", "application/grpc") };
	size_t n = 3;

	snprintf(code, sizeof(code), "%d", status);
	hdrs[2] = (nghttp2_nv)NV("grpc-status", code);
	if (message != NULL && *message != '\0') {
		size_t ml = net_grpc_message_encode(message, msg, sizeof(msg));
		hdrs[3] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)msg,
		    12, ml, NGHTTP2_NV_FLAG_NONE };
		n = 4;
	}
	st->resp_started = 1;
	return nghttp2_submit_response(st->h2->session, st->id, hdrs, n, NULL);
}

static void
stream_respond_or_reset(struct net_stream *st, const char *status, const char *ctype)
{
	if (stream_respond(st, status, ctype) != 0)
		nghttp2_submit_rst_stream(st->h2->session, NGHTTP2_FLAG_NONE,
		    st->id, NGHTTP2_INTERNAL_ERROR);
}

/* Connect unary: the whole answer now: the message (OK) or an error object with its HTTP status. */
static void
stream_connect_unary_end(struct net_stream *st, int status, const char *message)
{
	char code[8], *json;
	size_t len;

	st->resp_eof = 1;
	if (status == GRPC_OK) {
		/* A handler that ended OK without a message: the empty one. */
		if (evbuffer_get_length(st->resp) == 0 && net_connect_form_is_json(st->form))
			evbuffer_add(st->resp, "{}", 2);
		stream_respond_or_reset(st, "200", net_connect_content_type(st->form));
		return;
	}
	evbuffer_drain(st->resp, evbuffer_get_length(st->resp));
	if ((json = net_connect_error_json(status, message, false, &len)) != NULL) {
		evbuffer_add(st->resp, json, len);
		free(json);
	}
	snprintf(code, sizeof(code), "%d", net_connect_http_status(status));
	stream_respond_or_reset(st, code, "application/json");
}

/* Connect streaming: the EndStreamResponse envelope after the messages sent. */
static void
stream_connect_stream_end(struct net_stream *st, int status, const char *message)
{
	uint8_t hdr[NET_CONNECT_ENV_HDR];
	size_t len = 0;
	char *json = net_connect_error_json(status, message, true, &len);

	net_connect_envelope_header(hdr, NET_CONNECT_END_STREAM, (uint32_t)len);
	evbuffer_add(st->resp, hdr, sizeof(hdr));
	if (json != NULL)
		evbuffer_add(st->resp, json, len);
	free(json);
	st->resp_eof = 1;
	if (!st->resp_started)
		stream_respond_or_reset(st, "200", net_connect_content_type(st->form));
	else
		nghttp2_session_resume_data(st->h2->session, st->id);
}

/* Ends the answer to a call with status, in the form the request used. */
static void
stream_end(struct net_stream *st, int status, const char *message)
{
	st->status = status;
	snprintf(st->message, sizeof(st->message), "%s", message ? message : "");
	if (net_connect_form_is_stream(st->form)) {
		stream_connect_stream_end(st, status, message);
	} else if (st->form != NET_FORM_GRPC) {
		stream_connect_unary_end(st, status, message);
	} else if (st->resp_started) {
		st->trailers = 1;
		st->resp_eof = 1;
		nghttp2_session_resume_data(st->h2->session, st->id);
	} else {
		stream_grpc_status_only(st, status, message);
	}
}

/* --- calls ------------------------------------------------------------------ */

static void
call_free(struct net_call *call)
{
	if (call->deadline)
		event_free(call->deadline);
	pb_free(call->req);
	free(call);
}

static void
call_detach(struct net_call *call)
{
	call->stream->call = NULL;
	call->stream = NULL;
	call->cancelled = 1;
	if (call->deadline)
		event_del(call->deadline);
}

const struct net_identity *
net_call_caller(const struct net_call *call)
{
	return &call->caller;
}

struct gw_node *
net_call_node(const struct net_call *call)
{
	return call->node;
}

int
net_call_cancelled(const struct net_call *call)
{
	return call->cancelled;
}

int64_t
net_call_time_left_ms(const struct net_call *call)
{
	struct timespec now;
	int64_t left;

	if (!call->has_deadline)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (int64_t)(call->deadline_at.tv_sec - now.tv_sec) * 1000 +
	    (call->deadline_at.tv_nsec - now.tv_nsec) / 1000000;
	return left < 0 ? 0 : left;
}

/*
 * msg in the stream's form into a new buffer with `headroom` bytes free in
 * front (for a frame header): protobuf, or proto3 JSON for Connect's JSON
 * forms. NULL on ENOMEM.
 */
static uint8_t *
call_encode(const struct net_stream *st, const ProtobufCMessage *msg,
    size_t headroom, size_t *len)
{
	json_t *j;
	char *text;
	uint8_t *buf;

	if (!net_connect_form_is_json(st->form))
		return pb_pack(msg, headroom, len);
	if ((j = pb_json_from_message(msg, PB_JSON_PROTO3)) == NULL)
		return NULL;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return NULL;
	*len = headroom + strlen(text);
	if ((buf = calloc(1, *len)) != NULL)
		memcpy(buf + headroom, text, *len - headroom);
	free(text);
	return buf;
}

int
net_call_send(struct net_call *call, const ProtobufCMessage *msg)
{
	struct net_stream *st = call->stream;
	int unary = 0, framed;
	uint8_t *buf;
	size_t len;

	if (st == NULL || call->cancelled)
		return -1;
	/* Connect unary: one message, sent with the status by net_call_finish. */
	if (st->form != NET_FORM_GRPC && !net_connect_form_is_stream(st->form)) {
		if (evbuffer_get_length(st->resp) > 0)
			return -1;
		unary = 1;
	}
	framed = unary ? 0 : GRPC_FRAME_HDR;	/* Connect's envelope is gRPC's frame, flags 0 */
	if ((buf = call_encode(st, msg, (size_t)framed, &len)) == NULL)
		return -1;
	if (framed)
		net_grpc_frame_header(buf, (uint32_t)(len - GRPC_FRAME_HDR));
	if (evbuffer_add(st->resp, buf, len) != 0) {
		free(buf);
		return -1;
	}
	free(buf);
	if (unary)
		return 0;
	if (!st->resp_started) {
		if (stream_respond(st, "200", st->form == NET_FORM_GRPC ?
		    "application/grpc" : net_connect_content_type(st->form)) != 0)
			return -1;
	} else {
		nghttp2_session_resume_data(st->h2->session, st->id);
	}
	kick(st->h2);
	return 0;
}

/* The call's end: its duration into its method's histogram, and its log line. */
static void
call_log(struct net_call *call, int status, const char *message)
{
	struct timespec now;
	char q[600];
	long us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - call->started.tv_sec) * 1000000L +
	    (now.tv_nsec - call->started.tv_nsec) / 1000;
	if (call->m != NULL)
		net_hist_observe(&net_rpc_stats_at(call->midx)->duration,
		    us > 0 ? (uint64_t)us * 1000u : 0);
	net_log(status == GRPC_OK ? NET_LOG_DEBUG : NET_LOG_INFO, "rpc",
	    "method=%s caller=%s status=%s us=%ld message=%s",
	    call->m ? call->m->path : "unknown", call->caller.uri,
	    net_grpc_status_name(status), us,
	    net_log_quote(q, sizeof(q), message, message ? strlen(message) : 0));
}

void
net_call_finish(struct net_call *call, int status, const char *fmt, ...)
{
	struct net_stream *st = call->stream;
	char message[512] = "";
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(message, sizeof(message), fmt, ap);
		va_end(ap);
	}
	if (status < 0 || status > 16)
		status = GRPC_UNKNOWN;
	if (!call->counted) {
		if (call->m != NULL)
			net_rpc_stats_at(call->midx)->by_status[st ? status : GRPC_CANCELLED]++;
		else
			net_rpc_unknown++;
		call_log(call, st ? status : GRPC_CANCELLED, message);
	}
	if (st != NULL) {
		struct net_h2 *h2 = st->h2;

		stream_end(st, status, message);
		/*
		 * Answered before the request ended: tell the client to stop
		 * sending, but only once the response is out (RFC 9113 8.1);
		 * submitting RST_STREAM now would make nghttp2 drop the response.
		 */
		st->rst_after = 1;
		call_detach(call);
		kick(h2);
	}
	call_free(call);
}

void
net_call_reply(struct net_call *call, const ProtobufCMessage *msg)
{
	if (net_call_send(call, msg) != 0 && call->stream != NULL) {
		net_call_finish(call, GRPC_INTERNAL, "could not encode the response");
		return;
	}
	net_call_finish(call, GRPC_OK, NULL);
}

/* The client's grpc-timeout passed: answer now; the handler still ends the call. */
static void
call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_call *call = arg;
	struct net_stream *st = call->stream;

	(void)fd, (void)what;
	if (st == NULL)
		return;
	if (call->m != NULL)
		net_rpc_stats_at(call->midx)->by_status[GRPC_DEADLINE_EXCEEDED]++;
	call->counted = 1;
	call_log(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	stream_end(st, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	kick(st->h2);
	call_detach(call);
	if (st->streaming_in)	/* counted and answered: only freed */
		net_call_finish(call, GRPC_DEADLINE_EXCEEDED, NULL);
}

static struct net_call *
call_new(struct net_h2 *h2, struct net_stream *st)
{
	struct net_call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->stream = st;
	call->node = h2->srv->node;
	call->caller = h2->peer;
	clock_gettime(CLOCK_MONOTONIC, &call->started);
	st->call = call;
	if (st->timeout_ms >= 0) {
		struct timeval tv = { st->timeout_ms / 1000,
			(st->timeout_ms % 1000) * 1000 };
		int64_t at = mono_ms() + st->timeout_ms;

		call->deadline = evtimer_new(h2->srv->base, call_deadline_cb, call);
		if (call->deadline == NULL) {
			st->call = NULL;
			free(call);
			return NULL;
		}
		call->has_deadline = 1;
		call->deadline_at.tv_sec = at / 1000;
		call->deadline_at.tv_nsec = (at % 1000) * 1000000;
		evtimer_add(call->deadline, &tv);
	}
	return call;
}

/* --- dispatch ----------------------------------------------------------------- */

/*
 * What every call passes before its body is read, in gRPC and Connect
 * alike: a known method, a well-formed timeout, the caller's right to call
 * it, a body within the limit. For Connect also the CSRF checks, and a
 * browser's caller must be an admin of this node: the console is theirs,
 * and a browser presents its certificate to any page's requests. Returns
 * the call, or NULL once it has been answered.
 */
static struct net_call *
call_begin(struct net_h2 *h2, struct net_stream *st)
{
	struct net_connect_origin o = { st->origin, st->authority, st->fetch_site,
		st->custom_header != 0 };
	struct net_call *call;
	size_t idx;
	char err[256];

	if ((call = call_new(h2, st)) == NULL) {
		stream_end(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	call->m = net_rpc_lookup(st->path, strlen(st->path), &idx);
	call->midx = idx;
	if (call->m == NULL) {
		net_call_error(call, GRPC_UNIMPLEMENTED,
		    "unknown method %s on this node", st->path);
		return NULL;
	}
	if (st->bad_timeout) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, st->form == NET_FORM_GRPC ?
		    "grpc-timeout header is malformed (expected 1-8 digits and one of H M S m u n)" :
		    "connect-timeout-ms header is malformed (expected 1-10 digits)");
		return NULL;
	}
	if (st->form != NET_FORM_GRPC && !net_connect_csrf_ok(&o, err, sizeof(err))) {
		net_call_error(call, st->custom_header ? GRPC_PERMISSION_DENIED :
		    GRPC_INVALID_ARGUMENT, "%s", err);
		return NULL;
	}
	if (st->form != NET_FORM_GRPC && net_connect_from_browser(&o) &&
	    !net_authz_allows(&h2->peer, NET_AUTHZ_ADMIN, h2->srv->federation,
	    h2->srv->region, err, sizeof(err))) {
		net_call_error(call, GRPC_PERMISSION_DENIED,
		    "calls from a browser are for admins of this node only: %s", err);
		return NULL;
	}
	if (!net_authz_allows(&h2->peer, call->m->authz, h2->srv->federation,
	    h2->srv->region, err, sizeof(err))) {
		net_call_error(call, GRPC_PERMISSION_DENIED, "%s", err);
		return NULL;
	}
	if (st->body_over) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED,
		    "request message is larger than this node's limit of %u bytes",
		    h2->srv->lim->max_message_size);
		return NULL;
	}
	return call;
}

/*
 * The one message of a framed body (gRPC, Connect streaming: the same
 * 5-byte frame). Returns it in *msg, or -1 once the call has been answered.
 */
static int
call_frame(struct net_call *call, const uint8_t *body, size_t len,
    const uint8_t **msg, size_t *msglen)
{
	uint32_t max = call->stream->h2->srv->lim->max_message_size;
	size_t framelen;

	switch (net_grpc_frame_decode(body, len, max, msg, msglen, &framelen)) {
	case GRPC_FRAME_OK:
		break;
	case GRPC_FRAME_NEED_MORE:
		net_call_error(call, GRPC_INVALID_ARGUMENT, len == 0 ?
		    "the request carried no message (a unary call needs exactly one)" :
		    "the request ended inside a gRPC message frame (%zu bytes received)",
		    len);
		return -1;
	case GRPC_FRAME_TOO_BIG:
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED,
		    "request message is larger than this node's limit of %u bytes", max);
		return -1;
	case GRPC_FRAME_COMPRESSED:
		net_call_error(call, GRPC_UNIMPLEMENTED,
		    "compressed messages are not supported; send uncompressed (grpc-encoding identity)");
		return -1;
	default:
		net_call_error(call, GRPC_INVALID_ARGUMENT,
		    "bad gRPC frame: the compressed-flag byte must be 0 or 1");
		return -1;
	}
	if (framelen != len) {
		net_call_error(call, GRPC_INVALID_ARGUMENT,
		    "a unary call takes exactly one request message; %zu extra bytes followed it",
		    len - framelen);
		return -1;
	}
	return 0;
}

/*
 * One request message of the call's method, msg[0..len) in the stream's
 * form (protobuf or Connect's JSON). NULL once the call has been answered.
 */
static ProtobufCMessage *
call_unpack(struct net_call *call, const uint8_t *msg, size_t msglen)
{
	struct net_stream *st = call->stream;
	uint32_t max = st->h2->srv->lim->max_message_size;
	ProtobufCMessage *req;
	char err[256];

	if (!net_connect_form_is_json(st->form))
		req = pb_unpack(call->m->req, msg, msglen, max, err, sizeof(err));
	else if (msglen == 0)	/* curl -d '': the empty message */
		req = pb_json_parse(call->m->req, "{}", 2, max, err, sizeof(err));
	else
		req = pb_json_parse(call->m->req, (const char *)msg, msglen, max,
		    err, sizeof(err));
	if (req == NULL)
		net_call_error(call, GRPC_INVALID_ARGUMENT,
		    "request is not a valid %s: %s", call->m->req->name, err);
	return req;
}

static void stream_in_feed(struct net_stream *st);

/* gRPC and Connect: the request decoded, then the handler. */
static void
dispatch_call(struct net_h2 *h2, struct net_stream *st)
{
	struct net_call *call = call_begin(h2, st);
	const uint8_t *body, *msg;
	ProtobufCMessage *req;
	size_t len, msglen;

	if (call == NULL)
		return;
	if (st->form != NET_FORM_GRPC &&
	    !call->m->server_streaming != !net_connect_form_is_stream(st->form)) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, call->m->server_streaming ?
		    "%s streams its answer: send content-type application/connect+json (or +proto)" :
		    "%s is unary: send content-type application/json (or application/proto)",
		    st->path);
		return;
	}
	if (st->encoded) {
		net_call_error(call, GRPC_UNIMPLEMENTED,
		    "compressed requests are not supported; send content-encoding identity");
		return;
	}
	if (call->m->server_streaming == NET_RPC_BIDI) {
		if (st->form != NET_FORM_GRPC) {
			net_call_error(call, GRPC_UNIMPLEMENTED, "%s streams its "
			    "requests: call it with gRPC (content-type "
			    "application/grpc)", st->path);
			return;
		}
		st->streaming_in = 1;	/* the whole request is here already */
		stream_in_feed(st);
		return;
	}
	len = evbuffer_get_length(st->body);
	body = evbuffer_pullup(st->body, -1);
	msg = body;
	msglen = len;
	if ((st->form == NET_FORM_GRPC || net_connect_form_is_stream(st->form)) &&
	    call_frame(call, body, len, &msg, &msglen) != 0)
		return;
	/* Not straight into call->req: a refusal has freed the call. */
	if ((req = call_unpack(call, msg, msglen)) == NULL)
		return;
	call->req = req;
	evbuffer_drain(st->body, len);
	call->m->fn(call, call->req);
}

/*
 * A client-streaming call: each whole message of the body to the handler,
 * in order, while the call lasts; once the request has ended, the handler
 * with NULL. The body holds at most one unfinished message (its frame's header
 * says whether it fits the limit). Answers waiting to be sent are bounded
 * by max_message_size: a client that asks faster than it reads is stopped.
 */
static void
stream_in_feed(struct net_stream *st)
{
	uint32_t max = st->h2->srv->lim->max_message_size;

	while (st->call != NULL && evbuffer_get_length(st->body) > 0) {
		struct net_call *call = st->call;
		size_t len = evbuffer_get_length(st->body), msglen, framelen;
		const uint8_t *body = evbuffer_pullup(st->body, -1), *msg;
		enum net_grpc_frame_rc rc;
		ProtobufCMessage *req;

		rc = net_grpc_frame_decode(body, len, max, &msg, &msglen, &framelen);
		if (rc == GRPC_FRAME_NEED_MORE && !st->remote_done)
			return;
		if (rc != GRPC_FRAME_OK) {
			(void)call_frame(call, body, len, &msg, &msglen);	/* answers */
			return;
		}
		if (evbuffer_get_length(st->resp) > max) {
			net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "over %u bytes "
			    "of answers wait to be sent: read them before asking "
			    "more", max);
			return;
		}
		req = call_unpack(call, msg, msglen);
		evbuffer_drain(st->body, framelen);
		if (req == NULL)
			return;
		call->m->fn(call, req);
		pb_free(req);
	}
	if (st->call != NULL && st->remote_done)
		st->call->m->fn(st->call, NULL);
}

/* --- /console/events: Server-Sent Events for the console ----------------------- */

static bool
events_path(const char *path)
{
	return strncmp(path, "/console/events", 15) == 0 &&
	    (path[15] == '\0' || path[15] == '?');
}

static void
events_unlink(struct net_stream *st)
{
	struct net_server *srv = st->h2->srv;

	if (!st->events)
		return;
	st->events = 0;
	if (st->ev_prev != NULL)
		st->ev_prev->ev_next = st->ev_next;
	else
		srv->events = st->ev_next;
	if (st->ev_next != NULL)
		st->ev_next->ev_prev = st->ev_prev;
	st->ev_prev = st->ev_next = NULL;
	srv->n_events--;
}

/* The stream's life is over (or the node drains): it ends; EventSource comes back. */
static void
events_end(struct net_stream *st)
{
	events_unlink(st);
	st->resp_eof = 1;
	nghttp2_session_resume_data(st->h2->session, st->id);
	kick(st->h2);
}

static void
events_expired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	events_end(arg);
}

static void
events_open(struct net_h2 *h2, struct net_stream *st)
{
	static const char hello[] = "retry: 3000\n: axle console events\n\n";
	static const char full[] = "too many console event streams open on this "
	    "node; close some console tabs\n";
	struct net_server *srv = h2->srv;
	struct timeval tv = { EVENTS_LIFE_S, 0 };

	if (srv->n_events >= EVENTS_MAX || (st->ev_end = evtimer_new(srv->base,
	    events_expired, st)) == NULL) {
		stream_http(st, "503", "text/plain", full, sizeof(full) - 1);
		return;
	}
	evtimer_add(st->ev_end, &tv);
	st->events = 1;
	st->ev_next = srv->events;
	if (srv->events != NULL)
		srv->events->ev_prev = st;
	srv->events = st;
	srv->n_events++;
	evbuffer_add(st->resp, hello, sizeof(hello) - 1);
	stream_respond_or_reset(st, "200", "text/event-stream");
}

void
net_h2_notify(struct net_server *srv, const char *what)
{
	for (struct net_stream *st = srv->events; st != NULL; st = st->ev_next) {
		if (evbuffer_get_length(st->resp) > 0)
			continue;
		evbuffer_add_printf(st->resp, "event: change\ndata: {\"what\":\"%s\"}\n\n",
		    what);
		nghttp2_session_resume_data(st->h2->session, st->id);
		kick(st->h2);
	}
}

static void
dispatch_http(struct net_h2 *h2, struct net_stream *st)
{
	static const char nf[] = "not found: this node serves gRPC and Connect (axle.v1), "
	    "/console/, /healthz and /metrics\n";

	h2->srv->ctr->http_requests++;
	if (strcmp(st->method, "GET") != 0 && strcmp(st->method, "HEAD") != 0) {
		stream_http(st, "405", "text/plain", "method not allowed\n", 19);
	} else if (strcmp(st->path, "/healthz") == 0) {
		if (*h2->srv->draining)
			stream_http(st, "503", "text/plain", "draining\n", 9);
		else
			stream_http(st, "200", "text/plain", "ok\n", 3);
	} else if (strcmp(st->path, "/metrics") == 0) {
		bool ok = h2->srv->metrics_allowed != NULL &&
		    h2->srv->metrics_allowed(h2->srv->node, &h2->peer,
		    h2->peer_addr, st->resp);

		if (ok && h2->srv->metrics != NULL)
			h2->srv->metrics(h2->srv->node, st->resp);
		st->resp_eof = 1;
		stream_respond_or_reset(st, ok ? "200" : "403", ok ?
		    "text/plain; version=0.0.4" : "text/plain");
	} else if (events_path(st->path) && strcmp(st->method, "GET") == 0 &&
	    net_authz_allows(&h2->peer, NET_AUTHZ_ADMIN, h2->srv->federation,
	    h2->srv->region, NULL, 0)) {
		events_open(h2, st);
	} else if (net_console_path(st->path)) {
		const char *ctype;
		char code[8];

		snprintf(code, sizeof(code), "%d", net_console_answer(st->path,
		    &h2->peer, h2->srv->federation, h2->srv->region, st->resp,
		    &ctype, &st->location));
		st->resp_eof = 1;
		stream_respond_or_reset(st, code, ctype);
	} else {
		stream_http(st, "404", "text/plain", nf, sizeof(nf) - 1);
	}
}

static void
dispatch(struct net_h2 *h2, struct net_stream *st)
{
	if (st->resp_started || st->call != NULL)
		return;
	if (!st->has_path || st->method[0] == '\0') {
		nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	static const char ct[] = "an RPC needs content-type application/grpc (gRPC), "
	    "application/json or application/proto (Connect unary), or "
	    "application/connect+json or application/connect+proto (Connect streaming)\n";

	if (strcmp(st->method, "POST") == 0 && st->form == NET_FORM_GRPC)
		dispatch_call(h2, st);
	else if (strcmp(st->method, "POST") == 0 && strncmp(st->path, "/axle.", 6) == 0 &&
	    st->form != NET_FORM_NONE)
		dispatch_call(h2, st);
	else if (strcmp(st->method, "POST") == 0 && strncmp(st->path, "/axle.", 6) == 0)
		stream_http(st, "415", "text/plain", ct, sizeof(ct) - 1);
	else
		dispatch_http(h2, st);
}

/*
 * The request's headers are in and its body follows: a gRPC call of a
 * client-streaming method starts now, so that each message is answered as
 * it arrives (a client may wait for one answer before sending its next).
 */
static void
stream_in_begin(struct net_h2 *h2, struct net_stream *st)
{
	const struct net_rpc_method *m;

	if (!st->has_path || strcmp(st->method, "POST") != 0 ||
	    st->form != NET_FORM_GRPC)
		return;
	m = net_rpc_lookup(st->path, strlen(st->path), NULL);
	if (m == NULL || m->server_streaming != NET_RPC_BIDI || st->encoded)
		return;		/* dispatched whole at END_STREAM, as before */
	if (call_begin(h2, st) != NULL)
		st->streaming_in = 1;
}

/* --- nghttp2 callbacks ----------------------------------------------------------- */

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
	struct net_h2 *h2 = ud;
	struct net_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = stream_new(h2, frame->hd.stream_id);
	if (st == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
	return 0;
}

/* value into a field of n bytes; too long: a value no check accepts. */
static void
header_copy(char *dst, size_t n, const char *value, size_t len)
{
	if (len < n)
		snprintf(dst, n, "%.*s", (int)len, value);
	else
		snprintf(dst, n, "(too long)");
}

static bool
header_is(const char *name, size_t namelen, const char *want)
{
	return namelen == strlen(want) && memcmp(name, want, namelen) == 0;
}

/* The headers of Connect calls and their CSRF checks (connect.h). */
static void
on_connect_header(struct net_stream *st, const char *name, size_t namelen,
    const char *value, size_t len)
{
	if (header_is(name, namelen, "connect-protocol-version") ||
	    header_is(name, namelen, "x-axle-console"))
		st->custom_header |= len == 1 && value[0] == '1';
	else if (header_is(name, namelen, "connect-timeout-ms")) {
		if (net_connect_timeout_parse(value, len, &st->timeout_ms) != 0)
			st->bad_timeout = 1;
	} else if (header_is(name, namelen, "content-encoding") ||
	    header_is(name, namelen, "connect-content-encoding"))
		st->encoded = !(len == 8 && memcmp(value, "identity", 8) == 0);
	else if (header_is(name, namelen, "origin"))
		header_copy(st->origin, sizeof(st->origin), value, len);
	else if (header_is(name, namelen, ":authority") || header_is(name, namelen, "host"))
		header_copy(st->authority, sizeof(st->authority), value, len);
	else if (header_is(name, namelen, "sec-fetch-site"))
		header_copy(st->fetch_site, sizeof(st->fetch_site), value, len);
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen,
    uint8_t flags, void *ud)
{
	struct net_h2 *h2 = ud;
	struct net_stream *st;

	(void)flags;
	st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (st == NULL)
		return 0;
	/* RFC 7541 entry size: the budget counts what HPACK would. */
	st->header_bytes += namelen + valuelen + 32;
	if (st->header_bytes > h2->srv->lim->max_header_list) {
		goaway(h2, NET_GA_HEADER_LIST, NGHTTP2_ENHANCE_YOUR_CALM);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;	/* trailers: counted, otherwise ignored */
	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		if (valuelen < sizeof(st->method)) {
			memcpy(st->method, value, valuelen);
			st->method[valuelen] = '\0';
		}
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		if (valuelen <= PATH_MAX_LEN) {
			memcpy(st->path, value, valuelen);
			st->path[valuelen] = '\0';
			st->has_path = 1;
		} else {
			snprintf(st->path, sizeof(st->path), "/(path too long)");
			st->has_path = 1;
		}
	} else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
		st->form = net_connect_form((const char *)value, valuelen);
	} else if (namelen == 12 && memcmp(name, "grpc-timeout", 12) == 0) {
		if (net_grpc_timeout_parse((const char *)value, valuelen,
		    &st->timeout_ms) != 0)
			st->bad_timeout = 1;
	} else {
		on_connect_header(st, (const char *)name, namelen,
		    (const char *)value, valuelen);
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *ud)
{
	struct net_h2 *h2 = ud;
	struct net_stream *st = nghttp2_session_get_stream_user_data(session, id);

	(void)flags;
	if (st != NULL && st->streaming_in) {
		if (st->call == NULL)
			return 0;	/* answered: the rest is dropped */
		if (evbuffer_add(st->body, data, len) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		stream_in_feed(st);
		return 0;
	}
	if (st == NULL || st->body_over || st->resp_started)
		return 0;
	if (evbuffer_get_length(st->body) + len >
	    (size_t)h2->srv->lim->max_message_size + GRPC_FRAME_HDR) {
		st->body_over = 1;
		evbuffer_drain(st->body, evbuffer_get_length(st->body));
		/* Answer at once rather than buffering a body we will refuse. */
		dispatch(h2, st);
		return 0;
	}
	if (evbuffer_add(st->body, data, len) != 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
	struct net_h2 *h2 = ud;
	struct net_stream *st;

	if (frame->hd.type == NGHTTP2_DATA && frame->hd.length == 0 &&
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		if (++h2->empty_data > h2->srv->lim->max_empty_data) {
			goaway(h2, NET_GA_EMPTY_DATA, NGHTTP2_ENHANCE_YOUR_CALM);
			return 0;
		}
	}
	if ((frame->hd.type == NGHTTP2_PING || frame->hd.type == NGHTTP2_SETTINGS) &&
	    !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
		time_t now = time(NULL);

		if (now - h2->ctl_window >= CTL_WINDOW_S) {
			h2->ctl_window = now;
			h2->ctl_recv = 0;
		}
		if (++h2->ctl_recv > h2->srv->lim->max_control_frames)
			goaway(h2, NET_GA_CONTROL_FLOOD, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	if (frame->hd.type == NGHTTP2_RST_STREAM) {
		if (reset_take(h2) != 0)
			goaway(h2, NET_GA_RAPID_RESET, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (st == NULL)
		return 0;
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		if (frame->hd.type == NGHTTP2_HEADERS &&
		    frame->headers.cat == NGHTTP2_HCAT_REQUEST && !h2->terminated)
			stream_in_begin(h2, st);
		return 0;
	}
	st->remote_done = 1;
	if (st->streaming_in)
		stream_in_feed(st);	/* the last messages, then the handler's end */
	else if (!h2->terminated)
		dispatch(h2, st);
	return 0;
}

static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
	struct net_h2 *h2 = ud;
	time_t now;

	if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct net_stream *st = nghttp2_session_get_stream_user_data(session,
		    frame->hd.stream_id);

		if (st != NULL && st->rst_after && !st->remote_done)
			nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
			    st->id, NGHTTP2_NO_ERROR);
		return 0;
	}
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		h2->goaway_out = 1;
		/* nghttp2 itself refused the peer's frames (a connection error). */
		if (frame->goaway.error_code != NGHTTP2_NO_ERROR)
			(void)goaway_decided(h2, NET_GA_PROTOCOL,
			    frame->goaway.error_code, NULL);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_RST_STREAM)
		return 0;
	/* Count resets we send: a peer must not make us reset without bound. */
	now = time(NULL);
	if (now - h2->rst_window >= RST_WINDOW_S) {
		h2->rst_window = now;
		h2->rst_sent = 0;
	}
	if (++h2->rst_sent > h2->srv->lim->max_rst_sent)
		goaway(h2, NET_GA_RST_SENT, NGHTTP2_ENHANCE_YOUR_CALM);
	return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code,
    void *ud)
{
	struct net_stream *st = nghttp2_session_get_stream_user_data(session, id);

	(void)ud, (void)error_code;
	if (st != NULL) {
		nghttp2_session_set_stream_user_data(session, id, NULL);
		stream_free(st);
	}
	return 0;
}

static int
on_invalid_frame(nghttp2_session *session, const nghttp2_frame *frame,
    int lib_error_code, void *ud)
{
	struct net_h2 *h2 = ud;

	(void)session;
	net_log(NET_LOG_INFO, "h2_invalid_frame", "peer=%s type=%u stream=%d error=%s",
	    h2->peer_addr, frame->hd.type, frame->hd.stream_id,
	    nghttp2_strerror(lib_error_code));
	return 0;
}

/* --- public ---------------------------------------------------------------------- */

struct net_h2 *
net_h2_new(struct net_server *srv, const struct net_identity *peer,
    struct evbuffer *out, struct event *kick_ev, const char *peer_addr)
{
	const struct net_limits *lim = srv->lim;
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	nghttp2_mem mem;
	struct net_h2 *h2;
	int rc;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_concurrent_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, lim->max_header_list },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};

	h2 = calloc(1, sizeof(*h2));
	if (h2 == NULL)
		return NULL;
	h2->srv = srv;
	h2->peer = *peer;
	h2->out = out;
	h2->kick = kick_ev;
	h2->rst_window = h2->ctl_window = h2->reset_at = time(NULL);
	h2->reset_tokens = RESET_BURST;
	snprintf(h2->peer_addr, sizeof(h2->peer_addr), "%s", peer_addr);

	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		free(h2);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		free(h2);
		return NULL;
	}
	nghttp2_option_set_max_outbound_ack(opt, lim->max_control_frames);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_continuations(opt, 8);
	/*
	 * Rapid reset is ours (reset_take: GOAWAY ENHANCE_YOUR_CALM, its own
	 * reason); nghttp2's limit, twice as loose, is only a backstop.
	 */
	nghttp2_option_set_stream_reset_rate_limit(opt, 2 * RESET_BURST,
	    2 * RESET_PER_S);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	net_h2_mem_init(&h2->mem, &mem);
	net_h2_mem_send_begin(&h2->mem);	/* the frame buffer is made here */
	rc = nghttp2_session_server_new3(&h2->session, cbs, h2, opt, &mem);
	net_h2_mem_send_end(&h2->mem);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	if (rc != 0) {
		free(h2);
		return NULL;
	}
	if (nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h2->session, NGHTTP2_FLAG_NONE,
	    0, 4 << 20) != 0) {
		nghttp2_session_del(h2->session);
		free(h2);
		return NULL;
	}
	return h2;
}

/* nghttp2_session_mem_recv failed (always fatal): why, in GOAWAY terms. */
static void
recv_failed(struct net_h2 *h2, int rc)
{
	const char *error = nghttp2_strerror(rc);

	switch (rc) {
	case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
		goaway_fatal(h2, NET_GA_CONTINUATION, NGHTTP2_ENHANCE_YOUR_CALM, error);
		break;
	case NGHTTP2_ERR_FLOODED:	/* it does not read our ACKs */
		goaway_fatal(h2, NET_GA_OUTBOUND_QUEUE, NGHTTP2_ENHANCE_YOUR_CALM, error);
		break;
	case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
		goaway_fatal(h2, NET_GA_PROTOCOL, NGHTTP2_PROTOCOL_ERROR, error);
		break;
	default:			/* out of memory, a callback failed */
		goaway_fatal(h2, NET_GA_PROTOCOL, NGHTTP2_INTERNAL_ERROR, error);
		break;
	}
}

int
net_h2_recv(struct net_h2 *h2, const uint8_t *data, size_t len)
{
	ssize_t n;

	if (h2->fatal)
		return -1;
	n = nghttp2_session_mem_recv(h2->session, data, len);
	if (n < 0) {
		recv_failed(h2, (int)n);
		return -1;
	}
	if (nghttp2_session_get_outbound_queue_size(h2->session) >
	    h2->srv->lim->max_outbound_queue) {
		goaway_fatal(h2, NET_GA_OUTBOUND_QUEUE, NGHTTP2_ENHANCE_YOUR_CALM,
		    NULL);
		return -1;
	}
	return 0;
}

int
net_h2_flush(struct net_h2 *h2, size_t high_water)
{
	int rc = 0;

	if (h2->fatal)
		return -1;	/* its last words (GOAWAY) are in out already */
	net_h2_mem_send_begin(&h2->mem);
	while (rc == 0 && evbuffer_get_length(h2->out) < high_water) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h2->session, &data);

		if (n < 0) {
			goaway_fatal(h2, NET_GA_PROTOCOL, NGHTTP2_INTERNAL_ERROR,
			    nghttp2_strerror((int)n));
			rc = -1;
		} else if (n == 0)
			break;
		else if (evbuffer_add(h2->out, data, (size_t)n) != 0)
			rc = -1;
	}
	net_h2_mem_send_end(&h2->mem);
	return rc;
}

size_t
net_h2_quiet(struct net_h2 *h2)
{
	if (h2->fatal || nghttp2_session_want_write(h2->session))
		return 0;
	return net_h2_mem_release(&h2->mem);
}

size_t
net_h2_resident(const struct net_h2 *h2)
{
	return net_h2_mem_resident(&h2->mem);
}

int
net_h2_done(const struct net_h2 *h2)
{
	return h2->fatal || (!nghttp2_session_want_read(h2->session) &&
	    !nghttp2_session_want_write(h2->session));
}

int
net_h2_want_read(const struct net_h2 *h2)
{
	return !h2->fatal && nghttp2_session_want_read(h2->session);
}

size_t
net_h2_streams(const struct net_h2 *h2)
{
	return h2->nstreams;
}

void
net_h2_shutdown(struct net_h2 *h2)
{
	if (h2->goaway_sent_by_us)
		return;
	h2->goaway_sent_by_us = 1;
	h2->srv->ctr->goaway[NET_GA_SHUTDOWN]++;
	/* Event streams would hold the connection open: they end now. */
	for (struct net_stream *st = h2->streams; st != NULL; st = st->next)
		if (st->events)
			events_end(st);
	/* Streams already open may finish; new ones are refused. */
	nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h2->session),
	    NGHTTP2_NO_ERROR, NULL, 0);
}

/*
 * Waiting for the peer: its request is unfinished, or the answer it asked for
 * is held back by its flow-control window. Otherwise a handler is still at
 * work (a long poll), which the peer's silence does not end.
 */
static int
stream_waits_on_peer(struct net_h2 *h2, const struct net_stream *st)
{
	int32_t win, conn_win;

	if (!st->remote_done)
		return 1;
	if (!st->resp_started || (evbuffer_get_length(st->resp) == 0 && !st->resp_eof))
		return 0;
	win = nghttp2_session_get_stream_remote_window_size(h2->session, st->id);
	conn_win = nghttp2_session_get_remote_window_size(h2->session);
	return (conn_win < win ? conn_win : win) <= 0;
}

int
net_h2_idle(struct net_h2 *h2)
{
	/* Bytes we could not hand to the kernel: the peer stopped reading. */
	int deaf = evbuffer_get_length(h2->out) > 0;

	for (struct net_stream *st = h2->streams; st != NULL && !deaf; st = st->next)
		if (!stream_waits_on_peer(h2, st))
			return 0;
	goaway(h2, NET_GA_IDLE, NGHTTP2_NO_ERROR);
	return 1;
}

void
net_h2_free(struct net_h2 *h2)
{
	if (h2 == NULL)
		return;
	/* nghttp2_session_del calls no stream-close callbacks: detach here. */
	nghttp2_session_del(h2->session);
	while (h2->streams != NULL)
		stream_free(h2->streams);
	free(h2);
}
