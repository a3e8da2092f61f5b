/* ctl_peering.c -- axlectl region publish and split (a child region's node in the register) and origins (the feeds a node holds and relays). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "gateway/ctl/ctl.h"
#include "proto/pb.h"

/* --- region publish ---------------------------------------------------------------- */

static void
show_node(const ProtobufCMessage *m)
{
	const Axle__V1__PublishNodeResponse *r = (const void *)m;
	const Axle__V1__Registrar *g = r->registrar;
	const char *ep = "";

	for (size_t i = 0; g != NULL && i < g->n_services; i++)
		if (g->services[i]->kind == AXLE__V1__SERVICE_KIND__SERVICE_KIND_NODE)
			ep = g->services[i]->endpoint;
	printf("node of region ");
	ctl_put_safe(stdout, g != NULL && g->n_prefixes > 0 ? g->prefixes[0] : "-");
	printf(" published as ");
	ctl_put_safe(stdout, g != NULL ? g->id : "-");
	printf(" (feed seq %" PRIu64 "): identity ", r->feed_seq);
	ctl_put_safe(stdout, g != NULL ? g->cert_identity : "-");
	printf(", endpoint ");
	ctl_put_safe(stdout, ep != NULL && ep[0] != '\0' ? ep : "(none: through the tree)");
	putchar('\n');
}

static int
region_usage(void)
{
	fprintf(stderr, "usage: axlectl region publish REGION --endpoint HOST:PORT "
	    "[--name TEXT]\n"
	    "       axlectl region publish REGION --no-endpoint [--name TEXT]\n"
	    "       axlectl region split REGION --endpoint HOST:PORT "
	    "(--dry-run | --reason TEXT) [--name TEXT]\n");
	return CTL_USAGE;
}

/* The options both subcommands share; split's own (--dry-run, --reason) when split is not NULL. */
static int
region_opts(int argc, char **argv, char **endpoint, char **name,
    Axle__V1__SplitRegionRequest *split)
{
	bool endpoint_given = false;

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--no-endpoint") == 0 && !endpoint_given) {
			*endpoint = (char *)"";
			endpoint_given = true;
		} else if (strcmp(argv[i], "--endpoint") == 0 && i + 1 < argc &&
		    !endpoint_given) {
			*endpoint = argv[++i];
			endpoint_given = true;
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			*name = argv[++i];
		else if (split != NULL && strcmp(argv[i], "--dry-run") == 0)
			split->dry_run = true;
		else if (split != NULL && strcmp(argv[i], "--reason") == 0 &&
		    i + 1 < argc)
			split->reason = argv[++i];
		else {
			fprintf(stderr, "axlectl: region: unexpected '%s'\n", argv[i]);
			return region_usage();
		}
	}
	if (!endpoint_given) {
		fprintf(stderr, "axlectl: region: --endpoint HOST:PORT (or "
		    "--no-endpoint) is required\n");
		return region_usage();
	}
	if (split != NULL && !split->dry_run && split->reason == NULL) {
		fprintf(stderr, "axlectl: region split: --reason TEXT is required "
		    "(or --dry-run to list what would move)\n");
		return region_usage();
	}
	return CTL_OK;
}

static void
show_split(const ProtobufCMessage *m)
{
	const Axle__V1__SplitRegionResponse *r = (const void *)m;

	printf("%s %zu registrar(s) and %" PRIu64 " message(s) to region ",
	    r->dry_run ? "would move" : "moved", r->n_moved, r->messages);
	ctl_put_safe(stdout, r->node != NULL && r->node->n_prefixes > 0 ?
	    r->node->prefixes[0] : (r->n_moved > 0 && r->moved[0]->moved_to != NULL &&
	    r->moved[0]->moved_to[0] != '\0' ? r->moved[0]->moved_to : "(the region)"));
	if (!r->dry_run)
		printf(" (feed seq %" PRIu64 ")", r->feed_seq);
	putchar('\n');
	for (size_t i = 0; i < r->n_moved; i++) {
		const Axle__V1__Registrar *g = r->moved[i];

		printf("  ");
		ctl_put_col(g->id, 24);
		for (size_t j = 0; j < g->n_prefixes; j++) {
			printf(j > 0 ? ", " : "");
			ctl_put_safe(stdout, g->prefixes[j]);
		}
		putchar('\n');
	}
}

static int
region_split(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__SplitRegionRequest req = AXLE__V1__SPLIT_REGION_REQUEST__INIT;
	ProtobufCMessage *m;
	int rc;

	req.region = argv[2];
	if ((rc = region_opts(argc, argv, &req.endpoint, &req.display_name,
	    &req)) != CTL_OK)
		return rc;
	if (ctl_call(ctl, "/axle.v1.Registry/SplitRegion", &req.base,
	    &axle__v1__split_region_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_split);
}

static int
cmd_region(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__PublishNodeRequest req = AXLE__V1__PUBLISH_NODE_REQUEST__INIT;
	ProtobufCMessage *m;
	int rc;

	if (argc < 3 || argv[2][0] == '-')
		return region_usage();
	if (strcmp(argv[1], "split") == 0)
		return region_split(ctl, argc, argv);
	if (strcmp(argv[1], "publish") != 0)
		return region_usage();
	req.region = argv[2];
	if ((rc = region_opts(argc, argv, &req.endpoint, &req.display_name,
	    NULL)) != CTL_OK)
		return rc;
	if (ctl_call(ctl, "/axle.v1.Registry/PublishNode", &req.base,
	    &axle__v1__publish_node_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_node);
}

/* --- origins ------------------------------------------------------------------------- */

/* "12s", "3m", "2h" old, or "-" when unknown. */
static void
age(int64_t signed_ms, char *buf, size_t len)
{
	struct timespec ts;
	int64_t now, s;

	if (signed_ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s = now > signed_ms ? (now - signed_ms) / 1000 : 0;
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", (long long)s / 60);
	else
		snprintf(buf, len, "%lldh", (long long)s / 3600);
}

static void
show_origins(const ProtobufCMessage *m)
{
	const Axle__V1__OriginsResponse *r = (const void *)m;

	printf("%-28s %-8s %-5s %-24s %-8s %s\n", "REGION", "SEQ", "HOPS", "VIA",
	    "HEAD AGE", "STATE");
	for (size_t i = 0; i < r->n_origins; i++) {
		const Axle__V1__OriginHead *o = r->origins[i];
		char seq[24], hops[12], a[24];

		snprintf(seq, sizeof(seq), "%" PRIu64, o->seq);
		snprintf(hops, sizeof(hops), "%u", o->hops);
		age(o->head_signed_ms, a, sizeof(a));
		ctl_put_col(o->region, 28);
		ctl_put_col(seq, 8);
		ctl_put_col(hops, 5);
		ctl_put_col(o->via != NULL && o->via[0] != '\0' ? o->via :
		    (o->hops == 0 ? "(own)" : "-"), 24);
		ctl_put_col(a, 8);
		printf("%s", o->broken ? "broken: " : o->reason != NULL &&
		    o->reason[0] != '\0' ? "ok; " : "ok");
		ctl_put_safe(stdout, o->reason != NULL ? o->reason : "");
		putchar('\n');
	}
}

static int
cmd_origins(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__OriginsRequest req = AXLE__V1__ORIGINS_REQUEST__INIT;
	ProtobufCMessage *m;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: axlectl origins\n");
		return CTL_USAGE;
	}
	if (ctl_call(ctl, "/axle.v1.Axle/Origins", &req.base,
	    &axle__v1__origins_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_origins);
}

const struct ctl_cmd ctl_peering_cmds[] = {
	{ "region", "publish|split REGION --endpoint H:P",
	    "publish a child region's node in this register (peering); split: "
	    "move a sub-region and its registrars to it", true,
	    cmd_region },
	{ "origins", "", "the regions' feeds this node holds: seq, hops, via, "
	    "head age", true, cmd_origins },
};
const size_t ctl_peering_ncmds = sizeof(ctl_peering_cmds) / sizeof(ctl_peering_cmds[0]);
