/* grpc_frame.c -- gRPC length-prefixed messages, grpc-timeout, grpc-message, status names. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gateway/net/grpc_frame.h"
#include "proto/text.h"

#define TIMEOUT_DIGITS_MAX 8
#define TIMEOUT_VALUE_MAX  99999999LL	/* 8 digits */

enum net_grpc_frame_rc
net_grpc_frame_decode(const uint8_t *buf, size_t len, size_t max_msg,
    const uint8_t **msg, size_t *msglen, size_t *framelen)
{
	uint32_t n;

	if (len == 0)
		return GRPC_FRAME_NEED_MORE;
	/* Judge the flag from the first byte: no point waiting for a bad frame. */
	if (buf[0] == 1)
		return GRPC_FRAME_COMPRESSED;
	if (buf[0] != 0)
		return GRPC_FRAME_BAD_FLAG;
	if (len < GRPC_FRAME_HDR)
		return GRPC_FRAME_NEED_MORE;
	n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
	    (uint32_t)buf[3] << 8 | (uint32_t)buf[4];
	/* Refuse an oversized message before buffering any of it. */
	if ((uint64_t)n > (uint64_t)max_msg)
		return GRPC_FRAME_TOO_BIG;
	if (len - GRPC_FRAME_HDR < (size_t)n)
		return GRPC_FRAME_NEED_MORE;
	*msg = buf + GRPC_FRAME_HDR;
	*msglen = n;
	*framelen = GRPC_FRAME_HDR + (size_t)n;
	return GRPC_FRAME_OK;
}

void
net_grpc_frame_header(uint8_t hdr[GRPC_FRAME_HDR], uint32_t msglen)
{
	hdr[0] = 0;
	hdr[1] = (uint8_t)(msglen >> 24);
	hdr[2] = (uint8_t)(msglen >> 16);
	hdr[3] = (uint8_t)(msglen >> 8);
	hdr[4] = (uint8_t)msglen;
}

/* Milliseconds per unit, or 0 for sub-millisecond units (divisor instead). */
static int
timeout_unit(char u, int64_t *mul, int64_t *div)
{
	*mul = 1;
	*div = 1;
	switch (u) {
	case 'H': *mul = 3600000; return 0;
	case 'M': *mul = 60000; return 0;
	case 'S': *mul = 1000; return 0;
	case 'm': return 0;
	case 'u': *div = 1000; return 0;
	case 'n': *div = 1000000; return 0;
	default: return -1;
	}
}

int
net_grpc_timeout_parse(const char *s, size_t len, int64_t *ms)
{
	int64_t v = 0, mul, div, r;

	if (s == NULL || len < 2 || len > TIMEOUT_DIGITS_MAX + 1)
		return -1;
	if (timeout_unit(s[len - 1], &mul, &div) != 0)
		return -1;
	for (size_t i = 0; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	/* Round up: a deadline a hair late is harmless, one early fails calls. */
	r = v * mul / div + (v * mul % div != 0);
	*ms = r > INT64_MAX / 2 ? INT64_MAX / 2 : r;
	return 0;
}

void
net_grpc_timeout_format(int64_t ms, char *out, size_t outlen)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 'H', 3600000 }, { 'M', 60000 }, { 'S', 1000 }, { 'm', 1 },
	};
	const size_t nunits = sizeof(units) / sizeof(units[0]);

	if (ms <= 0) {
		snprintf(out, outlen, "0m");
		return;
	}
	/* Largest unit that is exact, so the value parses back unchanged... */
	for (size_t i = 0; i < nunits; i++)
		if (ms % units[i].ms == 0 && ms / units[i].ms <= TIMEOUT_VALUE_MAX) {
			snprintf(out, outlen, "%lld%c",
			    (long long)(ms / units[i].ms), units[i].unit);
			return;
		}
	/* ...else the smallest unit that fits, rounded up (a later deadline). */
	for (size_t i = nunits; i-- > 0;) {
		int64_t v = ms / units[i].ms + (ms % units[i].ms != 0);

		if (v <= TIMEOUT_VALUE_MAX) {
			snprintf(out, outlen, "%lld%c", (long long)v, units[i].unit);
			return;
		}
	}
	snprintf(out, outlen, "%lldH", TIMEOUT_VALUE_MAX);
}

size_t
net_grpc_message_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
		size_t need = plain ? 1 : 3;

		if (o + need >= outlen)
			break;
		if (plain) {
			out[o++] = (char)*p;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 0x0f];
	}
	out[o] = '\0';
	return o;
}

size_t
net_grpc_message_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < len &&
		    (hi = axle_hexval(in[i + 1])) >= 0 && (lo = axle_hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		/* The spec says decode what can be decoded and keep the rest. */
		out[o++] = in[i];
	}
	out[o] = '\0';
	return o;
}

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};
#define NSTATUS ((int)(sizeof(status_names) / sizeof(status_names[0])))

const char *
net_grpc_status_name(int code)
{
	if (code < 0 || code >= NSTATUS)
		return "UNKNOWN";
	return status_names[code];
}

int
net_grpc_status_parse(const char *s)
{
	int v = 0;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (int i = 0; i < NSTATUS; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	/* Decimal, as in the grpc-status trailer: no sign, no leading zeros. */
	if (s[0] == '0')
		return s[1] == '\0' ? 0 : -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - s >= 2)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v < NSTATUS ? v : -1;
}
