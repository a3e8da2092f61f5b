/*
 * connect.h -- the Connect protocol (connectrpc.com/docs/protocol) beside
 * gRPC on the same dispatch table: content types, error codes and their
 * HTTP statuses, the error and end-of-stream JSON, timeouts, envelopes, and
 * the browser checks (same origin, custom header). Pure: no I/O.
 */
#ifndef AXLE_GW_CONNECT_H
#define AXLE_GW_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a request's body (and so its answer) is framed. */
enum net_wire_form {
	NET_FORM_NONE = 0,		/* not an RPC content type */
	NET_FORM_GRPC,			/* application/grpc[+proto] */
	NET_FORM_CONNECT_JSON,		/* application/json: unary */
	NET_FORM_CONNECT_PROTO,		/* application/proto: unary */
	NET_FORM_CONNECT_STREAM_JSON,	/* application/connect+json: server streaming */
	NET_FORM_CONNECT_STREAM_PROTO,	/* application/connect+proto */
};

/* The form a content-type value names (parameters after ';' ignored). */
enum net_wire_form net_connect_form(const char *ct, size_t len);
/* The content type to answer a form with ("application/json", ...). */
const char *net_connect_content_type(enum net_wire_form form);
bool net_connect_form_is_json(enum net_wire_form form);
bool net_connect_form_is_stream(enum net_wire_form form);

/* Connect's name of a gRPC status ("not_found"); "unknown" if out of range. */
const char *net_connect_code_name(int grpc_status);
/* The HTTP status of a unary error with that code (Connect's table: 404, 403, ...). */
int net_connect_http_status(int grpc_status);

/*
 * The Connect Error JSON {"code":"not_found","message":"..."} for a unary
 * error body, or with end_stream the EndStreamResponse: {} on OK, else
 * {"error":{...}}. Returns a malloc'd NUL-terminated string (caller frees)
 * with its length in *len, or NULL on ENOMEM. message may be NULL or "".
 */
char *net_connect_error_json(int grpc_status, const char *message, bool end_stream,
    size_t *len);

/*
 * connect-timeout-ms: 1 to 10 ASCII digits. Returns 0 with *ms, or -1 if
 * malformed.
 */
int net_connect_timeout_parse(const char *v, size_t len, int64_t *ms);

/* Connect's 5-byte envelope header: flags (0, or 2 for the end of stream), length (big-endian). */
#define NET_CONNECT_ENV_HDR	5
#define NET_CONNECT_END_STREAM	0x02
void net_connect_envelope_header(uint8_t out[NET_CONNECT_ENV_HDR], uint8_t flags,
    uint32_t len);

/* What a request said about where it came from (the headers, as received; "" if absent). */
struct net_connect_origin {
	const char *origin;		/* Origin */
	const char *authority;		/* :authority (HTTP/2's Host) */
	const char *sec_fetch_site;	/* Sec-Fetch-Site */
	bool custom_header;		/* connect-protocol-version: 1 or x-axle-console: 1 */
};

/* True when a browser sent it (it carries Origin or Sec-Fetch-Site; curl and gRPC stacks send neither). */
bool net_connect_from_browser(const struct net_connect_origin *o);

/*
 * The CSRF checks on a Connect call, since the TLS identity is the
 * authentication and a browser presents it to any site's requests: the
 * request must carry connect-protocol-version: 1 or x-axle-console: 1 (a
 * custom header, which a cross-site page cannot add without a CORS
 * preflight, and the node answers no preflight); a browser's Origin must be https://<:authority>; its
 * Sec-Fetch-Site, if sent, "same-origin". Returns true, or false with a
 * reason a person can act on in err.
 */
bool net_connect_csrf_ok(const struct net_connect_origin *o, char *err,
    size_t errlen);

#endif
