/* metrics.c -- Prometheus text exposition (format 0.0.4) of the node's counters. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "gateway/net/conn.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/identity.h"
#include "gateway/net/log.h"
#include "gateway/node/expiry.h"
#include "gateway/node/metrics.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"
#include "gateway/net/rpc.h"
#include "gateway/node/store.h"
#include "gateway/net/tls.h"

static void
family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
scalar(struct evbuffer *out, const char *name, const char *type,
    const char *help, uint64_t v)
{
	family(out, name, type, help);
	evbuffer_add_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* One histogram's series: labels is "" or `name="value",...` without braces. */
static void
histogram(struct evbuffer *out, const char *name, const char *labels,
    const struct net_hist *h)
{
	const char *sep = labels[0] != '\0' ? "," : "";

	for (int i = 0; i < NET_HIST_BUCKETS; i++)
		evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name,
		    labels, sep, net_hist_bounds_s[i], net_hist_le(h, i));
	evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n"
	    "%s_sum%s%s%s %.9f\n%s_count%s%s%s %" PRIu64 "\n", name, labels, sep,
	    h->count, name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
	    (double)h->sum_ns / 1e9, name, labels[0] ? "{" : "", labels,
	    labels[0] ? "}" : "", h->count);
}

static void
render_conns(struct gw_node *node, struct evbuffer *out)
{
	const struct net_counters *c = &node->ctr;

	scalar(out, "axle_connections_open", "gauge", "Open client and peer connections.",
	    net_conn_count(&node->srv));
	scalar(out, "axle_streams_open", "gauge", "Open HTTP/2 streams.",
	    net_conn_streams(&node->srv));
	scalar(out, "axle_connections_accepted_total", "counter",
	    "TCP connections accepted.", c->conns_accepted);
	scalar(out, "axle_connections_refused_total", "counter",
	    "Connections closed at accept: over max_connections or draining.",
	    c->conns_refused_limit);
	scalar(out, "axle_handshakes_ok_total", "counter",
	    "Completed mTLS handshakes with a verified identity.", c->handshakes_ok);
	family(out, "axle_handshakes_refused_total", "counter",
	    "TLS handshakes refused, by reason.");
	for (int r = 0; r < NET_TLS_REF__COUNT; r++)
		evbuffer_add_printf(out, "axle_handshakes_refused_total{reason=\"%s\"} %lu\n",
		    net_tls_refusal_name(r), net_tls_refused[r]);
	evbuffer_add_printf(out, "axle_handshakes_refused_total{reason=\"timeout\"} %" PRIu64 "\n",
	    c->handshake_timeouts);
	evbuffer_add_printf(out, "axle_handshakes_refused_total{reason=\"evicted\"} %" PRIu64 "\n",
	    c->handshakes_evicted);
	family(out, "axle_h2_goaway_total", "counter",
	    "HTTP/2 connections ended by the node with GOAWAY, by reason.");
	for (int r = 0; r < NET_GA__COUNT; r++)
		evbuffer_add_printf(out, "axle_h2_goaway_total{reason=\"%s\"} %" PRIu64 "\n",
		    net_goaway_reason_name(r), c->goaway[r]);
}

static void
render_rpcs(struct evbuffer *out)
{
	/*
	 * Every method with every status, 0 included: a series that appeared
	 * only at its first call would hide that call from rate() and
	 * increase(), and vanish again at each restart.
	 */
	family(out, "axle_rpc_total", "counter", "gRPC calls by method and status.");
	for (size_t i = 0; i < net_rpc_count(); i++) {
		const struct net_rpc_stats *s = net_rpc_stats_at(i);

		for (int code = 0; code < (int)(sizeof(s->by_status) /
		    sizeof(s->by_status[0])); code++) {
			evbuffer_add_printf(out,
			    "axle_rpc_total{method=\"%s\",code=\"%s\"} %" PRIu64 "\n",
			    net_rpc_at(i)->path, net_grpc_status_name(code), s->by_status[code]);
		}
	}
	scalar(out, "axle_rpc_unknown_method_total", "counter",
	    "gRPC calls to methods this node does not serve.", net_rpc_unknown);
	family(out, "axle_rpc_duration_seconds", "histogram", "Calls by method, from "
	    "the request's headers to its status (long polls included: Fetch and "
	    "Feed wait for work).");
	for (size_t i = 0; i < net_rpc_count(); i++) {
		char labels[200];

		snprintf(labels, sizeof(labels), "method=\"%s\"", net_rpc_at(i)->path);
		histogram(out, "axle_rpc_duration_seconds", labels,
		    &net_rpc_stats_at(i)->duration);
	}
}

static void
render_store(struct gw_node *node, struct evbuffer *out)
{
	struct gw_store_stats s;

	if (node->store == NULL)
		return;
	gw_store_get_stats(node->store, &s);
	scalar(out, "axle_store_commits_total", "counter",
	    "Group-commit transactions committed.", s.commits);
	scalar(out, "axle_store_commit_errors_total", "counter",
	    "Group-commit transactions that failed (nothing acknowledged).", s.commit_errors);
	scalar(out, "axle_store_requests_total", "counter",
	    "Write requests completed.", s.requests);
	scalar(out, "axle_store_request_errors_total", "counter",
	    "Write requests that failed.", s.request_errors);
	scalar(out, "axle_store_replays_total", "counter",
	    "Group commits run a second time, nested, after one request failed.",
	    s.replays);
	family(out, "axle_store_errors_total", "counter",
	    "Failed group-commit begins and commits by cause.");
	for (int e = 0; e < STORE_ERR__COUNT; e++)
		evbuffer_add_printf(out, "axle_store_errors_total{error=\"%s\"} %"
		    PRIu64 "\n", gw_store_err_name((enum gw_store_err)e), s.errors[e]);
	scalar(out, "axle_store_batch_last", "gauge",
	    "Requests in the last group commit.", s.last_batch);
	scalar(out, "axle_store_batch_max", "gauge",
	    "Largest group commit so far.", s.max_batch);
	family(out, "axle_store_commit_seconds_total", "counter",
	    "Time spent in mdb_txn_commit.");
	evbuffer_add_printf(out, "axle_store_commit_seconds_total %.6f\n",
	    (double)s.commit_ns_total / 1e9);
	family(out, "axle_store_commit_duration_seconds", "histogram",
	    "Each committed group commit's time in mdb_txn_commit (its fsync).");
	histogram(out, "axle_store_commit_duration_seconds", "", &s.commit);
	scalar(out, "axle_store_map_size_bytes", "gauge", "LMDB map size.", s.map_size);
	scalar(out, "axle_store_map_used_bytes", "gauge", "LMDB map in use.", s.map_used);
	scalar(out, "axle_store_reserve_bytes", "gauge",
	    "Room kept for draining: new work is refused below it.", s.reserve);
	scalar(out, "axle_store_room_bytes", "gauge", "Room for writes in the "
	    "map and on the filesystem, as last measured before new work.",
	    s.room);
	scalar(out, "axle_store_high_water", "gauge", "1 while new messages "
	    "and register changes are refused for room.",
	    (uint64_t)s.high_water);
	scalar(out, "axle_store_high_water_refused_total", "counter",
	    "Writes of new work refused at the high-water mark.",
	    s.high_water_refused);
}

bool
gw_metrics_allowed(const struct gw_node *node, const struct net_identity *caller,
    const char *peer_addr, struct evbuffer *refusal)
{
	const struct gw_config *cfg = &node->cfg;
	const char *scrape = cfg->metrics.scrape_identity;

	if (net_authz_allows(caller, NET_AUTHZ_ADMIN, cfg->federation,
	    cfg->region, NULL, 0) ||
	    net_authz_allows(caller, NET_AUTHZ_NODE, cfg->federation,
	    cfg->region, NULL, 0) ||
	    (scrape[0] != '\0' && strcmp(caller->uri, scrape) == 0))
		return true;
	net_log(NET_LOG_WARN, "metrics_refused", "peer=%s identity=%s "
	    "scrape_identity=%s", peer_addr, caller->uri,
	    scrape[0] != '\0' ? scrape : "none");
	evbuffer_add_printf(refusal, "forbidden: /metrics is served to admins "
	    "of node %s, to nodes, and to the identity named by [metrics] "
	    "scrape_identity in axled.conf (%s); %s is none of them\n",
	    cfg->region, scrape[0] != '\0' ? scrape : "not set", caller->uri);
	return false;
}

void
gw_metrics_render(struct gw_node *node, struct evbuffer *out)
{
	family(out, "axle_info", "gauge", "This node: federation, region, version.");
	evbuffer_add_printf(out,
	    "axle_info{federation=\"%s\",region=\"%s\",version=\"%s\"} 1\n",
	    node->cfg.federation, node->cfg.region, AXLE_VERSION);
	scalar(out, "axle_uptime_seconds", "gauge", "Seconds since start.",
	    gw_node_uptime(node));
	scalar(out, "axle_draining", "gauge", "1 while shutting down.",
	    (uint64_t)node->draining);
	family(out, "axle_reloads_total", "counter", "Trust reloads by result.");
	evbuffer_add_printf(out, "axle_reloads_total{result=\"ok\"} %" PRIu64 "\n"
	    "axle_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    node->ctr.reloads_ok, node->ctr.reloads_failed);
	scalar(out, "axle_http_requests_total", "counter",
	    "Plain HTTP requests (healthz, metrics, other).", node->ctr.http_requests);
	render_conns(node, out);
	gw_expiry_metrics(node, (int64_t)time(NULL), out);
	render_rpcs(out);
	render_store(node, out);
	gw_modules_metrics(node, out);
}
