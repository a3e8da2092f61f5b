/* expiry.c -- watching what expires: the node's certificate, the CAs it trusts and their CRLs. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "gateway/net/log.h"
#include "gateway/net/tls_expiry.h"
#include "gateway/node/expiry.h"
#include "gateway/node/node.h"

#define EXPIRY_MAX	64	/* entries read from a trust directory; more are not watched */
#define DAY_S		86400
#define WATCH_S		3600

static struct event *watch_ev;

static size_t
read_all(struct gw_node *node, struct net_expiry *e)
{
	size_t n = net_tls_expiries(node->srv.ctx, e, EXPIRY_MAX);

	return n < EXPIRY_MAX ? n : EXPIRY_MAX;
}

/* What a person reads: "the node's certificate", "CA ... of federation f", "the CRL of ...". */
static void
describe(const struct gw_node *node, const struct net_expiry *e, char *out, size_t len)
{
	switch (e->kind) {
	case NET_EXPIRY_CERT:
		snprintf(out, len, "the node's certificate %.200s", node->cfg.cert_file);
		break;
	case NET_EXPIRY_CA:
		snprintf(out, len, "CA '%s' of federation %s", e->name, e->federation);
		break;
	case NET_EXPIRY_CRL:
		snprintf(out, len, "the CRL of CA '%s' of federation %s", e->name,
		    e->federation);
		break;
	}
}

static const char *
fix_for(enum net_expiry_kind k)
{
	switch (k) {
	case NET_EXPIRY_CERT:
		return "renew it (axle-cert-request --renew, axle-cert-renew) and reload";
	case NET_EXPIRY_CA:
		return "roll the CA over (docs/pki.md, CA rollover)";
	case NET_EXPIRY_CRL:
		return "publish a fresh CRL (axle-crl-publish), install it "
		    "(axle-trust-add) and reload; past it every certificate of that "
		    "CA is refused";
	}
	return "";
}

static int64_t
warn_within(const struct net_expiry *e)
{
	int64_t w = (int64_t)GW_EXPIRY_CHECK_DAYS * DAY_S;

	if (e->kind == NET_EXPIRY_CRL && e->span_s > 0 && e->span_s / 2 < w)
		w = e->span_s / 2;
	return w;
}

static void
when(int64_t at_s, char *out, size_t len)
{
	time_t t = (time_t)at_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRId64, at_s);
}

int
gw_expiry_check(struct gw_node *node, int64_t now_s, FILE *out)
{
	struct net_expiry e[EXPIRY_MAX];
	size_t n = read_all(node, e);
	char what[256], at[32];
	int warned = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t left = e[i].at_s - now_s;

		if (left >= warn_within(&e[i]))
			continue;
		describe(node, &e[i], what, sizeof(what));
		when(e[i].at_s, at, sizeof(at));
		if (left < 0)
			fprintf(out, "warning: %s expired at %s: %s\n", what, at,
			    fix_for(e[i].kind));
		else
			fprintf(out, "warning: %s %s in %" PRId64 " days (%s): %s\n",
			    what, e[i].kind == NET_EXPIRY_CRL ? "reaches its next update" :
			    "expires", left / DAY_S, at, fix_for(e[i].kind));
		warned++;
	}
	return warned;
}

void
gw_expiry_log(struct gw_node *node, int64_t now_s)
{
	struct net_expiry e[EXPIRY_MAX];
	size_t n = read_all(node, e);
	char what[256], at[32], q[300];

	for (size_t i = 0; i < n; i++) {
		int64_t left = e[i].at_s - now_s;

		if (left >= (int64_t)GW_EXPIRY_LOG_DAYS * DAY_S)
			continue;
		describe(node, &e[i], what, sizeof(what));
		when(e[i].at_s, at, sizeof(at));
		net_log(left < 0 ? NET_LOG_ERR : NET_LOG_WARN,
		    left < 0 ? "cert_expired" : "cert_expiry_soon",
		    "which=%s federation=%s at=%s seconds_left=%" PRId64 " what=%s "
		    "action=\"%s\"", net_expiry_kind_name(e[i].kind),
		    e[i].federation[0] != '\0' ? e[i].federation : "-", at, left,
		    net_log_quote(q, sizeof(q), what, strlen(what)), fix_for(e[i].kind));
	}
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gw_expiry_log(arg, (int64_t)time(NULL));
}

int
gw_expiry_watch(struct gw_node *node)
{
	struct timeval tv = { WATCH_S, 0 };

	watch_ev = event_new(node->base, -1, EV_PERSIST, on_watch, node);
	if (watch_ev == NULL || event_add(watch_ev, &tv) != 0)
		return -1;
	gw_expiry_log(node, (int64_t)time(NULL));
	return 0;
}

void
gw_expiry_unwatch(void)
{
	if (watch_ev != NULL)
		event_free(watch_ev);
	watch_ev = NULL;
}

void
gw_expiry_metrics(struct gw_node *node, int64_t now_s, struct evbuffer *out)
{
	struct net_expiry e[EXPIRY_MAX];
	size_t n = read_all(node, e);

	evbuffer_add_printf(out, "# HELP axle_cert_expiry_seconds Seconds until a "
	    "certificate expires (negative: expired): the node's own (which=\"node\") "
	    "and each trusted CA (which=\"ca\").\n"
	    "# TYPE axle_cert_expiry_seconds gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (e[i].kind == NET_EXPIRY_CERT)
			evbuffer_add_printf(out, "axle_cert_expiry_seconds{which=\"node\"} "
			    "%" PRId64 "\n", e[i].at_s - now_s);
		else if (e[i].kind == NET_EXPIRY_CA)
			evbuffer_add_printf(out, "axle_cert_expiry_seconds{which=\"ca\","
			    "federation=\"%s\",name=\"%s\"} %" PRId64 "\n", e[i].federation,
			    e[i].name, e[i].at_s - now_s);
	}
	evbuffer_add_printf(out, "# HELP axle_crl_next_update_seconds Seconds until "
	    "a trusted CA's CRL passes its next update (negative: past it, and every "
	    "certificate of that CA is refused).\n"
	    "# TYPE axle_crl_next_update_seconds gauge\n");
	for (size_t i = 0; i < n; i++)
		if (e[i].kind == NET_EXPIRY_CRL)
			evbuffer_add_printf(out, "axle_crl_next_update_seconds{federation="
			    "\"%s\",issuer=\"%s\"} %" PRId64 "\n", e[i].federation,
			    e[i].name, e[i].at_s - now_s);
}
