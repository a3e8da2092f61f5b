/* ctl_node.c -- axlectl info, health: the node itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "axle/v1/node.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"
#include "gateway/net/grpc_frame.h"
#include "proto/pb.h"

static void
info_row(const char *name, const char *value)
{
	printf("%-12s ", name);
	ctl_put_safe(stdout, value != NULL && value[0] != '\0' ? value : "-");
	putchar('\n');
}

static void
info_uptime(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%llud %lluh %llum", (unsigned long long)s / 86400,
		    (unsigned long long)s % 86400 / 3600,
		    (unsigned long long)s % 3600 / 60);
	else
		snprintf(buf, len, "%lluh %llum %llus", (unsigned long long)s / 3600,
		    (unsigned long long)s % 3600 / 60, (unsigned long long)s % 60);
}

static void
info_print(const Axle__V1__InfoResponse *r)
{
	char buf[64];

	info_row("federation", r->federation);
	info_row("region", r->region);
	info_row("version", r->version);
	info_uptime(r->uptime_seconds, buf, sizeof(buf));
	info_row("uptime", buf);
	info_row("parent", r->parent);
	info_row("caller", r->caller);
	info_row("role", r->caller_role);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)r->boot_count);
	info_row("boot count", buf);
	printf("\n%-24s %-28s %-11s %-8s %s\n", "PEER", "ADDRESS", "STATE",
	    "OUTBOX", "MIRROR LAG");
	for (size_t i = 0; i < r->n_peers; i++) {
		const Axle__V1__PeerSummary *p = r->peers[i];

		ctl_put_col(p->region, 24);
		ctl_put_col(p->address, 28);
		ctl_put_col(p->state, 11);
		printf("%-8llu %llds\n", (unsigned long long)p->outbox,
		    (long long)p->mirror_lag_seconds);
	}
	if (r->n_peers == 0)
		printf("(no peers)\n");
}

static int
cmd_info(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__InfoRequest req = AXLE__V1__INFO_REQUEST__INIT;
	ProtobufCMessage *m;
	int rc;

	if (argc > 1) {
		fprintf(stderr, "axlectl: info takes no arguments\n");
		return CTL_USAGE;
	}
	rc = ctl_call(ctl, "/axle.v1.Node/Info", &req.base,
	    &axle__v1__info_response__descriptor, &m);
	if (rc != CTL_OK)
		return rc;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else {
		info_print((Axle__V1__InfoResponse *)m);
	}
	pb_free(m);
	return rc;
}

static int
cmd_health(struct ctl *ctl, int argc, char **argv)
{
	uint8_t *body = NULL;
	size_t len = 0;
	char msg[512], status[32];
	int http;
	bool ok;

	if (argc > 1) {
		fprintf(stderr, "axlectl: health takes no arguments\n");
		return CTL_USAGE;
	}
	http = net_client_get_sync(ctl->client, ctl->base, "/healthz",
	    ctl->set.timeout_ms, &body, &len, msg, sizeof(msg));
	ok = http == 200 && len >= 2 && memcmp(body, "ok", 2) == 0;
	if (ctl->json) {
		json_t *j = json_pack("{s:b, s:i, s:s}", "ok", ok, "http_status",
		    http, "detail", http == 0 ? msg : "");

		if (j != NULL)
			json_dumpf(j, stdout, JSON_INDENT(2));
		json_decref(j);
		putchar('\n');
	} else if (ok) {
		printf("ok\n");
	}
	if (!ok && http == 0) {
		ctl_fail(ctl, "UNAVAILABLE", msg);
	} else if (!ok) {
		/* First line of the body, which says what is wrong. */
		char *nl = body != NULL ? strchr((char *)body, '\n') : NULL;

		if (nl != NULL)
			*nl = '\0';
		snprintf(status, sizeof(status), "HTTP %d", http);
		fprintf(stderr, "axlectl: %s: %s: ", ctl->cmd, status);
		ctl_put_safe(stderr, body != NULL ? (char *)body : "");
		fputc('\n', stderr);
	}
	free(body);
	return ok ? CTL_OK : CTL_FAILED;
}

const struct ctl_cmd ctl_node_cmds[] = {
	{ "info", "", "show the node: region, version, uptime, peers, who you are",
	    true, cmd_info },
	{ "health", "", "check /healthz; exit 0 if the node says ok",
	    true, cmd_health },
};
const size_t ctl_node_ncmds = sizeof(ctl_node_cmds) / sizeof(ctl_node_cmds[0]);
