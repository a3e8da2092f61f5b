/* gw_recourse.c -- universal recourse inside the node: the case store, start and stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_recourse.h"
#include "gateway/log.h"
#include "gateway/node.h"
#include "gateway/store.h"

struct open_arg {
	struct gw_node *node;
	char err[256];
};

static int
open_backend(MDB_txn *txn, struct store *st, void *arg)
{
	struct open_arg *oa = arg;

	return recourse_backend_lmdb_new(store_env(st), txn,
	    &oa->node->recourse->be, oa->err, sizeof(oa->err));
}

/* [node] parent names a peer; recourse needs that peer's region. */
static const char *
parent_region(const struct gw_node *node)
{
	if (node->cfg.parent[0] == '\0')
		return "";
	for (size_t i = 0; i < node->cfg.npeers; i++)
		if (strcmp(node->cfg.peers[i].name, node->cfg.parent) == 0)
			return node->cfg.peers[i].region;
	return "";
}

static int
rec_start(struct gw_node *node, char *err, size_t errlen)
{
	struct open_arg oa = { .node = node };
	struct recourse_config rc = { 0 };
	struct recourse_err e = { 0 };
	char identity[GW_URI_MAX + 1];
	int rv;

	if ((node->recourse = calloc(1, sizeof(*node->recourse))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rv = store_write_now(node->store, open_backend, &oa)) != 0) {
		snprintf(err, errlen, "opening the case store: %s",
		    oa.err[0] ? oa.err : store_strerror(rv));
		return -1;
	}
	snprintf(node->recourse->parent_region, sizeof(node->recourse->parent_region),
	    "%s", parent_region(node));
	snprintf(identity, sizeof(identity), "axle://%s/node/%s",
	    node->cfg.federation, node->cfg.region);
	rc.region = node->cfg.region;
	rc.parent = node->recourse->parent_region;
	rc.identity = identity;
	if (recourse_new(&rc, node->recourse->be, &node->recourse->rc, &e) !=
	    RECOURSE_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

static void
rec_stop(struct gw_node *node)
{
	if (node->recourse == NULL)
		return;
	recourse_destroy(node->recourse->rc);
	recourse_backend_destroy(node->recourse->be);
	free(node->recourse);
	node->recourse = NULL;
}

int
gw_recourse_open_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, int reason, const char *detail, int64_t now_ms,
    char *id_out, char *err, size_t errlen)
{
	struct recourse_err e = { 0 };
	int rc;

	rc = recourse_case_open(node->recourse->rc, txn, env, reason, detail, now_ms,
	    id_out, &e);
	if (rc != RECOURSE_OK)
		snprintf(err, errlen, "%s", e.msg);
	return rc;
}

const struct gw_module gw_recourse_module = {
	.name = "recourse",
	.start = rec_start,
	.stop = rec_stop,
};
