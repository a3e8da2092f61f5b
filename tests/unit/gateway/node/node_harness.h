/*
 * node_harness.h -- a node without listeners for unit tests: its config
 * (federation fame-test), event loop, LMDB store in a temporary directory,
 * TLS client context and peer links. The test starts and stops the modules
 * it needs in between. Header-only; needs cmocka.h included before it.
 *
 * Use: nh_open(&node, dir, "/tmp/axle-x-XXXXXX", region, set_up, arg) where
 * set_up(cfg, arg) may add peers and tweak limits before anything opens;
 * ...; nh_close(&node, dir).
 */
#ifndef AXLE_TESTS_NODE_HARNESS_H
#define AXLE_TESTS_NODE_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "gateway/node/config.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"

#define NH_DIR_MAX	64

/* A TCP port nothing listens on (bound, then closed). */
static inline void
nh_closed_port(char *port, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	snprintf(port, len, "%u", ntohs(a.sin_port));
}

/* Adds [peer name] for region at 127.0.0.1:port. */
static inline void
nh_peer(struct gw_config *c, const char *name, const char *region,
    const char *port)
{
	struct gw_peer *p = &c->peers[c->npeers++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->region, sizeof(p->region), "%s", region);
	snprintf(p->host, sizeof(p->host), "127.0.0.1");
	snprintf(p->port, sizeof(p->port), "%s", port);
}

/* Zeroes node, makes dir from tmpl, configures, opens loop, store, TLS client and peers. */
static inline void
nh_open(struct gw_node *node, char dir[NH_DIR_MAX], const char *tmpl,
    const char *region, void (*set_up)(struct gw_config *, void *), void *arg)
{
	struct gw_config *c = &node->cfg;
	char err[512];

	memset(node, 0, sizeof(*node));
	snprintf(dir, NH_DIR_MAX, "%s", tmpl);
	assert_non_null(mkdtemp(dir));
	gw_config_defaults(c);
	strcpy(c->federation, "fame-test");
	snprintf(c->region, sizeof(c->region), "%s", region);
	if (set_up != NULL)
		set_up(c, arg);
	assert_non_null(node->base = event_base_new());
	assert_int_equal(gw_store_open(&node->store, node->base, dir, NULL, err,
	    sizeof(err)), 0);
	assert_non_null(node->client_ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(gw_peers_start(node, err, sizeof(err)), 0);
}

/* Undoes nh_open (the modules stopped first) and removes dir. */
static inline void
nh_close(struct gw_node *node, const char *dir)
{
	char p[NH_DIR_MAX + 16];

	gw_peers_stop(node);
	gw_store_close(node->store);
	event_base_free(node->base);
	SSL_CTX_free(node->client_ctx);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

#endif
