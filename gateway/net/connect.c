/* connect.c -- the Connect protocol's pieces that are not HTTP/2: content types, codes, error JSON, timeouts, CSRF checks. */
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/net/connect.h"
#include "gateway/net/grpc_status.h"
#include "proto/text.h"

/* Indexed by gRPC status (Connect's codes have the same numbers and names). */
static const struct {
	const char *name;
	int http;
} codes[17] = {
	{ "ok", 200 }, { "canceled", 499 }, { "unknown", 500 },
	{ "invalid_argument", 400 }, { "deadline_exceeded", 504 },
	{ "not_found", 404 }, { "already_exists", 409 },
	{ "permission_denied", 403 }, { "resource_exhausted", 429 },
	{ "failed_precondition", 400 }, { "aborted", 409 },
	{ "out_of_range", 400 }, { "unimplemented", 501 }, { "internal", 500 },
	{ "unavailable", 503 }, { "data_loss", 500 }, { "unauthenticated", 401 },
};

static const struct {
	const char *ct;
	enum net_wire_form form;
} types[] = {
	{ "application/grpc", NET_FORM_GRPC },
	{ "application/grpc+proto", NET_FORM_GRPC },
	{ "application/json", NET_FORM_CONNECT_JSON },
	{ "application/proto", NET_FORM_CONNECT_PROTO },
	{ "application/connect+json", NET_FORM_CONNECT_STREAM_JSON },
	{ "application/connect+proto", NET_FORM_CONNECT_STREAM_PROTO },
};

enum net_wire_form
net_connect_form(const char *ct, size_t len)
{
	size_t n = 0;

	while (n < len && ct[n] != ';' && ct[n] != ' ')
		n++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].ct) == n && strncasecmp(types[i].ct, ct, n) == 0)
			return types[i].form;
	/* gRPC with another codec (+json): still gRPC, refused there by the codec. */
	if (n > 17 && strncasecmp(ct, "application/grpc+", 17) == 0)
		return NET_FORM_GRPC;
	return NET_FORM_NONE;
}

const char *
net_connect_content_type(enum net_wire_form form)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].form == form)
			return types[i].ct;
	return "application/json";
}

bool
net_connect_form_is_json(enum net_wire_form form)
{
	return form == NET_FORM_CONNECT_JSON || form == NET_FORM_CONNECT_STREAM_JSON;
}

bool
net_connect_form_is_stream(enum net_wire_form form)
{
	return form == NET_FORM_CONNECT_STREAM_JSON ||
	    form == NET_FORM_CONNECT_STREAM_PROTO;
}

const char *
net_connect_code_name(int grpc_status)
{
	return grpc_status >= 0 && grpc_status <= 16 ? codes[grpc_status].name :
	    "unknown";
}

int
net_connect_http_status(int grpc_status)
{
	return grpc_status >= 0 && grpc_status <= 16 ? codes[grpc_status].http : 500;
}

char *
net_connect_error_json(int grpc_status, const char *message, bool end_stream,
    size_t *len)
{
	json_t *err = NULL, *root;
	char *s;

	if (grpc_status != GRPC_OK || !end_stream) {
		err = json_pack("{ss}", "code", net_connect_code_name(
		    grpc_status == GRPC_OK ? GRPC_UNKNOWN : grpc_status));
		/* json_string refuses invalid UTF-8; the message is then left out, not the error. */
		if (err != NULL && message != NULL && *message != '\0')
			json_object_set_new(err, "message", json_string(message));
	}
	if (end_stream)
		root = err != NULL ? json_pack("{so}", "error", err) : json_object();
	else
		root = err;
	if (root == NULL)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

int
net_connect_timeout_parse(const char *v, size_t len, int64_t *ms)
{
	int64_t n = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	*ms = n;
	return 0;
}

void
net_connect_envelope_header(uint8_t out[NET_CONNECT_ENV_HDR], uint8_t flags,
    uint32_t len)
{
	out[0] = flags;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

bool
net_connect_from_browser(const struct net_connect_origin *o)
{
	return o->origin[0] != '\0' || o->sec_fetch_site[0] != '\0';
}

bool
net_connect_csrf_ok(const struct net_connect_origin *o, char *err, size_t errlen)
{
	if (!o->custom_header) {
		axle_seterr(err, errlen, "a Connect call needs the header "
		    "connect-protocol-version: 1 (or x-axle-console: 1; a page of "
		    "another site cannot send either)");
		return false;
	}
	if (o->origin[0] != '\0' && (strncmp(o->origin, "https://", 8) != 0 ||
	    o->authority[0] == '\0' || strcasecmp(o->origin + 8, o->authority) != 0)) {
		axle_seterr(err, errlen, "cross-origin call refused: Origin %.100s is "
		    "not this node (https://%.100s)", o->origin, o->authority);
		return false;
	}
	if (o->sec_fetch_site[0] != '\0' && strcmp(o->sec_fetch_site, "same-origin") != 0) {
		axle_seterr(err, errlen, "cross-site call refused (Sec-Fetch-Site: %.20s)",
		    o->sec_fetch_site);
		return false;
	}
	return true;
}
