/*
 * fuzz_conn.c -- libFuzzer: the connection layer (gateway/net/conn.c and the
 * HTTP/2 server session under it) driven through a socket pair, without TLS,
 * as decrypted bytes reach it: the node's own read, write, kick, timer and
 * event callbacks run on its event loop, and the peer may send GOAWAY, stop
 * reading, half-close or hang up at any point, while the node may be told
 * to drain (SIGTERM). Lifetime bugs (a connection touched after it was
 * freed) show as ASan reports.
 *
 * Input: one control byte (caller identity: bits 0-1; tight limits: bit 2),
 * then operations, each one byte (the operation in its low 3 bits, an
 * argument in the high 5):
 *   0 send the next (arg + 1) * 8 input bytes as they are
 *   1 run the node's event loop (arg + 1 rounds)
 *   2 send GOAWAY (last stream id arg * 2 + 1, error code arg % 14)
 *   3 read and drop what the node wrote (the peer reads again)
 *   4 stop reading until 3 (a deaf peer: the node's output backs up)
 *   5 half-close (shutdown SHUT_WR: the node reads EOF)
 *   6 hang up (close: EOF or reset)
 *   7 drain the node (net_conn_drain, as on SIGTERM)
 * The client preface is sent first. At the end the loop runs a little, then
 * every connection is closed (net_conn_close_all), as at the end of a drain.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gateway/net/conn.h"
#include "tests/fuzz/fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw_node node;
static struct net_identity ids[4];
static struct net_limits defaults;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);	/* as axled: the node writes to a hung-up peer */
	fuzz_node_setup(&node, ids, &defaults);
}

/* The peer's end of the pair. */
struct peer {
	int fd;			/* -1 once hung up */
	int wr_shut;
	int deaf;
};

static void
peer_send(struct peer *p, const uint8_t *b, size_t n)
{
	if (p->fd < 0 || p->wr_shut)
		return;
	while (n > 0) {
		ssize_t w = send(p->fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;		/* full (the node stopped reading) or gone */
		b += w;
		n -= (size_t)w;
	}
}

static void
peer_read(struct peer *p)
{
	uint8_t buf[65536];

	if (p->fd < 0 || p->deaf)
		return;
	while (recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
run(struct peer *p, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		event_base_loop(node.base, EVLOOP_NONBLOCK);
		peer_read(p);
	}
}

static void
goaway(struct peer *p, unsigned arg)
{
	uint32_t last = arg * 2 + 1, code = arg % 14;
	uint8_t f[17] = { 0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,
		(uint8_t)(last >> 24), (uint8_t)(last >> 16), (uint8_t)(last >> 8),
		(uint8_t)last, 0, 0, 0, (uint8_t)code };

	peer_send(p, f, sizeof(f));
}

/* Opens the pair and hands the node its end. Returns 0 or -1. */
static int
open_conn(struct peer *p, uint8_t ctl)
{
	static const char preface[] = NGHTTP2_CLIENT_MAGIC;
	struct bufferevent *bev;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	bev = bufferevent_socket_new(node.base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	p->fd = sv[1];
	p->wr_shut = p->deaf = 0;
	(void)net_conn_adopt(&node.srv, bev, &ids[ctl & 3], "fuzz:1");
	peer_send(p, (const uint8_t *)preface, sizeof(preface) - 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer p;
	size_t i;

	if (node.base == NULL)
		setup();
	if (size == 0)
		return 0;
	node.cfg.limits = defaults;
	if (data[0] & 4)
		fuzz_tight_limits(&node.cfg.limits);
	node.draining = 0;
	if (open_conn(&p, data[0]) != 0)
		abort();
	for (i = 1; i < size; i++) {
		unsigned op = data[i] & 7, arg = data[i] >> 3;
		size_t n;

		switch (op) {
		case 0:
			n = (arg + 1) * 8;
			if (n > size - i - 1)
				n = size - i - 1;
			peer_send(&p, data + i + 1, n);
			i += n;
			break;
		case 1:
			run(&p, (int)arg + 1);
			break;
		case 2:
			goaway(&p, arg);
			break;
		case 3:
			p.deaf = 0;
			peer_read(&p);
			break;
		case 4:
			p.deaf = 1;
			break;
		case 5:
			if (p.fd >= 0 && !p.wr_shut && shutdown(p.fd, SHUT_WR) == 0)
				p.wr_shut = 1;
			break;
		case 6:
			if (p.fd >= 0)
				close(p.fd);
			p.fd = -1;
			break;
		default:
			node.draining = 1;
			(void)net_conn_drain(&node.srv);
			break;
		}
	}
	run(&p, 4);
	net_conn_close_all(&node.srv);
	event_base_loop(node.base, EVLOOP_NONBLOCK);
	if (p.fd >= 0)
		close(p.fd);
	return 0;
}
