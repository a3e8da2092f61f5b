/* fuzz_grpc_frame.c -- libFuzzer: gRPC message framing, grpc-timeout and grpc-message text, log quoting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/net/grpc_frame.h"
#include "gateway/net/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits buf into frames as a stream reader would; checks every answer stays inside buf. */
static void
frames(const uint8_t *buf, size_t len, size_t max)
{
	size_t off = 0;

	while (off < len) {
		const uint8_t *msg = NULL;
		size_t msglen = 0, framelen = 0;
		enum net_grpc_frame_rc rc = net_grpc_frame_decode(buf + off, len - off, max,
		    &msg, &msglen, &framelen);

		if (rc != GRPC_FRAME_OK)
			return;
		if (framelen != GRPC_FRAME_HDR + msglen || framelen > len - off ||
		    msglen > max || msg != buf + off + GRPC_FRAME_HDR)
			abort();
		off += framelen;
	}
}

/* The input, fed one growing prefix at a time: NEED_MORE until whole, never a different answer. */
static void
incremental(const uint8_t *buf, size_t len)
{
	const uint8_t *msg;
	size_t msglen, framelen;
	enum net_grpc_frame_rc whole = net_grpc_frame_decode(buf, len, 1 << 16, &msg,
	    &msglen, &framelen);

	for (size_t n = 0; n < len && n < 64; n++) {
		enum net_grpc_frame_rc rc = net_grpc_frame_decode(buf, n, 1 << 16, &msg,
		    &msglen, &framelen);

		if (rc == GRPC_FRAME_OK && (whole != GRPC_FRAME_OK || framelen > n))
			abort();
		if (rc != GRPC_FRAME_NEED_MORE && rc != GRPC_FRAME_OK && rc != whole)
			abort();
	}
}

static void
timeout(const char *s, size_t len)
{
	char out[32];
	int64_t ms, back;

	if (net_grpc_timeout_parse(s, len, &ms) != 0)
		return;
	if (ms < 0)
		abort();
	/* What we format must parse back, never earlier than asked. */
	net_grpc_timeout_format(ms, out, sizeof(out));
	if (net_grpc_timeout_parse(out, strlen(out), &back) != 0 || back < ms)
		abort();
}

static void
message(const char *s, size_t len)
{
	size_t cap = 3 * len + 1;
	char *dec = malloc(len + 1), *enc = malloc(cap), *again = malloc(len + 1);
	size_t n;

	if (dec == NULL || enc == NULL || again == NULL)
		goto out;
	n = net_grpc_message_decode(s, len, dec, len + 1);
	if (n > len || dec[n] != '\0')
		abort();
	(void)net_grpc_message_decode(s, len, again, len / 2 + 1);	/* truncating */
	/* encode then decode is the identity on text without NUL */
	n = net_grpc_message_encode(dec, enc, cap);
	if (n != strlen(enc))
		abort();
	n = net_grpc_message_decode(enc, n, again, len + 1);
	if (strcmp(again, dec) != 0)
		abort();
	(void)net_grpc_message_encode(dec, enc, 1 + len % 7);	/* truncating */
	/* what the node logs of a peer's text goes through net_log_quote */
	(void)net_log_quote(enc, cap, s, len);
	if (strlen(net_log_quote(enc, 1 + len % 13, s, len)) > len % 13)
		abort();
	(void)net_grpc_status_parse(dec);
	(void)net_grpc_status_name(net_grpc_status_parse(dec));
out:
	free(dec);
	free(enc);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max[] = { 0, 1, 5, 100, 1 << 16, 4u << 20, SIZE_MAX };

	for (size_t i = 0; i < sizeof(max) / sizeof(max[0]); i++)
		frames(data, size, max[i]);
	incremental(data, size);
	timeout((const char *)data, size);
	if (size > 0)
		timeout((const char *)data + 1, size - 1);
	message((const char *)data, size);
	return 0;
}
