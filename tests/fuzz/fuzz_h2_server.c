/*
 * fuzz_h2_server.c -- libFuzzer: an HTTP/2 server session driven by the
 * node's own callbacks (net_h2_*), as a hostile client's bytes reach it.
 *
 * Input: one control byte, then what the client sends after its preface.
 * The control byte picks the caller's identity (bits 0-1), tight limits
 * (bit 2) and how the bytes are chunked into net_h2_recv calls (bits 3-5).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gateway/net/h2_server.h"
#include "tests/fuzz/fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t chunks[] = { 0, 1, 3, 9, 17, 64, 512, 4096 };

static struct gw_node node;
static struct net_identity ids[4];
static struct net_limits defaults;
static struct event *kick;

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

static void
setup(void)
{
	fuzz_node_setup(&node, ids, &defaults);
	if ((kick = event_new(node.base, -1, 0, kick_cb, NULL)) == NULL)
		abort();
}

/*
 * Sends what the session queued (to nowhere) and runs what it scheduled;
 * then the connection goes quiet (net_h2_quiet, as conn.c's timer does), so
 * every later frame is written into a frame buffer handed back to the kernel.
 */
static int
pump(struct net_h2 *h2, struct evbuffer *out)
{
	int rc = net_h2_flush(h2, 1 << 16);

	evbuffer_drain(out, evbuffer_get_length(out));
	event_base_loop(node.base, EVLOOP_NONBLOCK);
	(void)net_h2_quiet(h2);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char preface[] = NGHTTP2_CLIENT_MAGIC;
	struct evbuffer *out;
	struct net_h2 *h2;
	size_t off, step;
	uint8_t ctl;

	if (node.base == NULL)
		setup();
	if (size == 0)
		return 0;
	ctl = data[0];
	data++, size--;
	node.cfg.limits = defaults;
	if (ctl & 4)
		fuzz_tight_limits(&node.cfg.limits);
	step = chunks[(ctl >> 3) & 7];
	if (step == 0)
		step = size > 0 ? size : 1;
	if ((out = evbuffer_new()) == NULL ||
	    (h2 = net_h2_new(&node.srv, &ids[ctl & 3], out, kick, "fuzz:1")) == NULL)
		abort();
	if (net_h2_recv(h2, (const uint8_t *)preface, sizeof(preface) - 1) != 0)
		abort();	/* the preface alone is always fine */
	for (off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (net_h2_recv(h2, data + off, n) != 0 || pump(h2, out) != 0)
			break;
		(void)net_h2_streams(h2);
		net_h2_notify(&node.srv, "cases");	/* open /console/events streams */
	}
	for (int i = 0; i < 4 && !net_h2_done(h2); i++)
		if (pump(h2, out) != 0)
			break;
	if (ctl & 0x40) {
		net_h2_shutdown(h2);
		(void)pump(h2, out);
	}
	if (ctl & 0x80 && net_h2_idle(h2))
		(void)pump(h2, out);
	(void)net_h2_want_read(h2);
	net_h2_free(h2);
	event_base_loop(node.base, EVLOOP_NONBLOCK);
	evbuffer_free(out);
	return 0;
}
