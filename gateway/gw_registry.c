/* gw_registry.c -- the register inside the node: databases, resolution index, start and stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway/gw_registry.h"
#include "gateway/log.h"
#include "gateway/node.h"
#include "gateway/store.h"
#include "registry/error.h"

static int
open_dbs(MDB_txn *txn, struct store *st, void *arg)
{
	struct gw_node *node = arg;
	struct registry_outcome res = { 0 };
	int rc;

	(void)st;
	rc = registry_db_open(txn, node->cfg.region, &node->registry->db, &res);
	if (rc != REGISTRY_OK)
		gw_log(GW_LOG_ERR, "registry_open_failed", "error=\"%s\"", res.reason);
	return rc == REGISTRY_OK ? 0 : (res.mdb_rc != 0 ? res.mdb_rc : -EINVAL);
}

static int
build_index(struct gw_node *node, struct registry_index **out, size_t *skipped,
    char *err, size_t errlen)
{
	struct registry_outcome res = { 0 };
	struct registry_index *idx;
	MDB_txn *txn;
	int rc;

	if ((idx = registry_index_new(1024)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = store_read_begin(node->store, &txn)) != 0) {
		registry_index_free(idx);
		snprintf(err, errlen, "read transaction: %s", store_strerror(rc));
		return -1;
	}
	rc = registry_index_load(txn, &node->registry->db, idx, skipped, &res);
	mdb_txn_abort(txn);
	for (size_t i = 0; rc == REGISTRY_OK && i < node->cfg.npeers; i++)
		rc = registry_index_add_region(idx, node->cfg.peers[i].region,
		    REGISTRY_PREFIX_PEER_REGION);
	if (rc != REGISTRY_OK) {
		snprintf(err, errlen, "loading the register: %s",
		    res.reason[0] ? res.reason : registry_strerror(rc));
		registry_index_free(idx);
		return -1;
	}
	*out = idx;
	return 0;
}

int
gw_registry_reindex(struct gw_node *node, char *err, size_t errlen)
{
	struct registry_index *idx;
	size_t skipped = 0;

	if (build_index(node, &idx, &skipped, err, errlen) != 0)
		return -1;
	registry_index_free(node->registry->idx);
	node->registry->idx = idx;
	node->registry->mirror_skipped = skipped;
	gw_log(GW_LOG_INFO, "registry_index", "prefixes=%zu mirror_skipped=%zu",
	    registry_index_count(idx), skipped);
	return 0;
}

static int
reg_start(struct gw_node *node, char *err, size_t errlen)
{
	int rc;

	if ((node->registry = calloc(1, sizeof(*node->registry))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = store_write_now(node->store, open_dbs, node)) != 0) {
		snprintf(err, errlen, "opening the register's databases: %s",
		    store_strerror(rc));
		return -1;
	}
	return gw_registry_reindex(node, err, errlen);
}

static void
reg_stop(struct gw_node *node)
{
	if (node->registry == NULL)
		return;
	registry_index_free(node->registry->idx);
	free(node->registry);
	node->registry = NULL;
}

bool
gw_registry_resolve(struct gw_node *node, const char *address,
    struct registry_resolution *out)
{
	return registry_resolve(node->registry->idx, address, out);
}

int
gw_registry_applied(struct gw_node *node, const Axle__V1__Registrar *r)
{
	int rc = registry_index_apply(node->registry->idx, r);

	if (rc != REGISTRY_OK)
		gw_log(rc == REGISTRY_EEXIST ? GW_LOG_WARN : GW_LOG_ERR,
		    "registry_index_apply", "registrar=%s region=%s result=%s",
		    r->id, r->region, registry_strerror(rc));
	return rc;
}

const struct gw_module gw_registry_module = {
	.name = "registry",
	.start = reg_start,
	.stop = reg_stop,
};
