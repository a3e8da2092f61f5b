/* grpc_frame.h -- gRPC length-prefixed messages, timeouts, status text. Pure. */
#ifndef AXLE_GW_GRPC_FRAME_H
#define AXLE_GW_GRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/net/grpc_status.h"

#define GRPC_FRAME_HDR 5	/* 1 byte compressed flag + 4 bytes big-endian length */

enum net_grpc_frame_rc {
	GRPC_FRAME_OK = 0,
	GRPC_FRAME_NEED_MORE = 1,	/* incomplete: feed more bytes */
	GRPC_FRAME_TOO_BIG = -1,	/* declared length > max */
	GRPC_FRAME_COMPRESSED = -2,	/* flag 1: we only accept identity */
	GRPC_FRAME_BAD_FLAG = -3,	/* flag other than 0 or 1 */
};

/*
 * Decodes the frame at the head of buf[0..len). On GRPC_FRAME_OK, *msg points
 * into buf (valid as long as buf is), *msglen is its length and *framelen the
 * bytes consumed (GRPC_FRAME_HDR + *msglen). Never reads past len.
 */
enum net_grpc_frame_rc net_grpc_frame_decode(const uint8_t *buf, size_t len,
    size_t max_msg, const uint8_t **msg, size_t *msglen, size_t *framelen);

/* Writes the 5-byte prefix for an uncompressed message of msglen bytes. */
void net_grpc_frame_header(uint8_t hdr[GRPC_FRAME_HDR], uint32_t msglen);

/*
 * Parses a grpc-timeout header value ("1-8 digits" then H M S m u n) into
 * milliseconds, rounding up, capped at INT64_MAX/2. Returns 0 or -1.
 */
int net_grpc_timeout_parse(const char *s, size_t len, int64_t *ms);

/* Formats ms as a grpc-timeout value ("123m" / "45S" ...) into out (>= 16). */
void net_grpc_timeout_format(int64_t ms, char *out, size_t outlen);

/*
 * Percent-encodes a grpc-message per the gRPC HTTP/2 spec (bytes outside
 * 0x20-0x7e and '%' become %XX). Returns the length written (output always
 * NUL-terminated, truncated to fit, never splitting an escape).
 */
size_t net_grpc_message_encode(const char *in, char *out, size_t outlen);

/* Decodes a percent-encoded grpc-message; invalid escapes kept verbatim. */
size_t net_grpc_message_decode(const char *in, size_t len, char *out, size_t outlen);

/* "OK", "INVALID_ARGUMENT", ... ; "UNKNOWN" for out-of-range codes. */
const char *net_grpc_status_name(int code);

/* Parses "INVALID_ARGUMENT" or "3"; returns code or -1. */
int net_grpc_status_parse(const char *s);

#endif
