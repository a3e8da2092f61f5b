/* node.c -- the running node: uptime and TLS reload. */
#include <openssl/ssl.h>

#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/net/tls.h"

void
gw_node_server_init(struct gw_node *node,
    bool (*metrics_allowed)(const struct gw_node *node,
    const struct net_identity *caller, const char *peer_addr,
    struct evbuffer *out),
    void (*metrics)(struct gw_node *node, struct evbuffer *out))
{
	struct net_server *srv = &node->srv;

	srv->base = node->base;
	srv->lim = &node->cfg.limits;
	srv->federation = node->cfg.federation;
	srv->region = node->cfg.region;
	srv->listen_host = node->cfg.listen_host;
	srv->listen_port = node->cfg.listen_port;
	srv->draining = &node->draining;
	srv->ctr = &node->ctr;
	srv->metrics_allowed = metrics_allowed;
	srv->metrics = metrics;
	srv->node = node;
}

uint64_t
gw_node_uptime(const struct gw_node *node)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - node->started.tv_sec);
}

int
gw_node_reload_tls(struct gw_node *node)
{
	struct net_tls_opts o = {
		.cert_file = node->cfg.cert_file,
		.key_file = node->cfg.key_file,
		.trust_dir = node->cfg.trust_dir,
		.federation = node->cfg.federation,
		.allow_tls12 = node->cfg.tls12,
	};
	SSL_CTX *srv, *cli;
	char err[512];

	srv = net_tls_server_ctx(&o, err, sizeof(err));
	if (srv == NULL) {
		node->ctr.reloads_failed++;
		net_log(NET_LOG_ERR, "reload_failed", "what=tls error=\"%s\" "
		    "note=\"the previous trust stays in force\"", err);
		return -1;
	}
	cli = net_tls_client_ctx(&o, err, sizeof(err));
	if (cli == NULL) {
		SSL_CTX_free(srv);
		node->ctr.reloads_failed++;
		net_log(NET_LOG_ERR, "reload_failed", "what=tls-client error=\"%s\" "
		    "note=\"the previous trust stays in force\"", err);
		return -1;
	}
	/* Open connections hold references to the old contexts. */
	if (node->srv.ctx)
		SSL_CTX_free(node->srv.ctx);
	if (node->client_ctx)
		SSL_CTX_free(node->client_ctx);
	node->srv.ctx = srv;
	node->client_ctx = cli;
	node->ctr.reloads_ok++;
	return 0;
}
