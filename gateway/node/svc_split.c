/* svc_split.c -- axle.v1.Registry/SplitRegion: a sub-region moves to a child node (docs/operator.md "Splitting a region"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/net/log.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"
#include "proto/pb.h"
#include "registry/address.h"
#include "registry/db.h"
#include "registry/error.h"
#include "registry/node_record.h"

/* One split, from the call to its answer; the writer reads only this. */
struct split_write {
	struct net_call *call;
	struct gw_node *node;
	struct registry_db db;		/* a copy: the writer never reads node state */
	struct registry_split_req req;
	char region[ADDR_MAX_LEN + 1];
	char identity[NET_URI_MAX + 1];
	char actor[NET_URI_MAX + 1];
	int64_t at_ms;
	int lrc;
	struct registry_outcome res;
	struct registry_split out;
	uint64_t messages;		/* passed (or, dry run, to pass) to the child */
	int gw_status;
	char gw_err[256];
};

/*
 * The register's change and the mail it moves in one commit: from the
 * commit on, this node routes the moved prefixes to the child and holds
 * nothing for them (what a write placed before it went with it).
 */
static int
split_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct split_write *w = arg;
	struct registry_change ch = { w->actor, w->at_ms };

	(void)st;
	w->lrc = registry_db_split(txn, &w->db, &ch, &w->req, &w->out, &w->res);
	if (w->lrc != REGISTRY_OK)
		return 1;
	for (size_t i = 0; i < w->out.n_moved; i++) {
		const Axle__V1__Registrar *r = w->out.moved[i];
		uint64_t k = 0;

		if (w->req.dry_run) {
			w->messages += gw_switch_waiting_txn(w->node, txn, r->id);
			continue;
		}
		w->gw_status = gw_switch_registrar_changed_txn(w->node, txn, r->id,
		    r->status, NULL, w->at_ms, &k, w->gw_err, sizeof(w->gw_err));
		if (w->gw_status != GRPC_OK)
			return 1;
		w->messages += k;
	}
	return 0;
}

static void
split_reply(struct split_write *w)
{
	Axle__V1__SplitRegionResponse r = AXLE__V1__SPLIT_REGION_RESPONSE__INIT;

	r.node = w->out.node;
	r.moved = w->out.moved;
	r.n_moved = w->out.n_moved;
	r.messages = w->messages;
	r.feed_seq = w->res.feed_seq;
	r.dry_run = w->req.dry_run;
	net_call_reply(w->call, &r.base);
}

/*
 * The mail moved waits in the outbox toward the child (named by the next
 * hop the write saw: the region itself while its node was not known yet):
 * its pump may not exist yet.
 */
static void
split_wake(struct split_write *w)
{
	char hop[ADDR_MAX_LEN + 1];

	if (w->messages == 0)
		return;
	gw_switch_wake_peer(w->node, w->region);
	if (gw_peers_next_hop(w->node, w->region, hop) && strcmp(hop, w->region) != 0)
		gw_switch_wake_peer(w->node, hop);
	gw_switch_kick(w->node);
}

/* Committed (or not): the index and the peers learn the change, then the answer. */
static void
split_done(int rc, void *arg)
{
	struct split_write *w = arg;
	struct gw_registry *reg = w->node->registry;

	if (rc != 0 && w->lrc != REGISTRY_OK) {
		int status = w->lrc == REGISTRY_ESTORE && w->res.mdb_rc != 0 ?
		    gw_store_rc_grpc_status(w->res.mdb_rc) : registry_grpc_status(w->lrc);

		net_call_error(w->call, status, "%s", w->res.reason[0] ?
		    w->res.reason : registry_strerror(w->lrc));
	} else if (rc != 0 && w->gw_status != GRPC_OK) {
		net_call_error(w->call, w->gw_status, "the region was not split: the "
		    "switch could not move the mail of its registrars: %s", w->gw_err);
	} else if (rc != 0) {
		net_call_error(w->call, gw_store_rc_grpc_status(rc), "the register could "
		    "not commit the split: %s", gw_store_strerror(rc));
	} else if (w->req.dry_run) {
		split_reply(w);
	} else {
		/* The node record first: the moved records then route to a known node. */
		gw_registry_applied(w->node, w->out.node);
		for (size_t i = 0; i < w->out.n_moved; i++)
			gw_registry_applied(w->node, w->out.moved[i]);
		reg->changes_total += 1 + w->out.n_moved;
		if (w->res.feed_seq > reg->feed_seq)
			reg->feed_seq = w->res.feed_seq;
		gw_registry_feed_wake(w->node);
		split_wake(w);
		net_log(NET_LOG_INFO, "registry_change", "change=split_region "
		    "region=%s registrars=%zu messages=%" PRIu64 " actor=%s "
		    "feed_seq=%" PRIu64, w->region, w->out.n_moved, w->messages,
		    w->actor, w->res.feed_seq);
		split_reply(w);
	}
	registry_split_free(&w->out);
	free(w);
}

static void
reg_split_region(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__SplitRegionRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	char why[REGISTRY_REASON_MAX];
	struct split_write *w;
	int rc;

	if (node->registry == NULL || node->store == NULL) {
		net_call_error(call, GRPC_UNAVAILABLE, "the register is not "
		    "available on this node");
		return;
	}
	if (gw_endpoint_refused(call, req->endpoint))
		return;
	if (req->reason != NULL && strlen(req->reason) >= REGISTRY_REASON_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "reason: at most %d bytes",
		    REGISTRY_REASON_MAX - 1);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	w->node = node;
	w->db = node->registry->db;
	if (registry_address_parse(req->region ? req->region : "", req->region ?
	    strlen(req->region) : 0, w->region, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "bad region: %s", why);
		free(w);
		return;
	}
	snprintf(w->identity, sizeof(w->identity), "axle://%s/node/%s",
	    node->cfg.federation, w->region);
	snprintf(w->actor, sizeof(w->actor), "%s", net_call_caller(call)->uri);
	w->at_ms = gw_registry_now_ms();
	w->req.region = w->region;
	w->req.identity = w->identity;
	w->req.endpoint = req->endpoint != NULL ? req->endpoint : "";
	w->req.display_name = req->display_name;
	w->req.reason = req->reason;
	w->req.dry_run = req->dry_run;
	/* A register change is new work: refused above the high-water mark. */
	if ((rc = gw_store_submit_new(node->store, split_fn, split_done, w)) != 0) {
		net_call_error(call, GRPC_UNAVAILABLE, "the register cannot take "
		    "changes now: %s", gw_store_strerror(rc));
		free(w);
	}
}

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Registry/SplitRegion", NET_AUTHZ_ADMIN,
	  &axle__v1__split_region_request__descriptor, reg_split_region, 0 },
};

const struct net_rpc_service gw_svc_split = { methods, sizeof(methods) / sizeof(methods[0]) };
