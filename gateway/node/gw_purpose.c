/* gw_purpose.c -- purpose-bound services at the node's door: Send and Forward check the recipient's service in the register and its mirrors. */
#include <stdio.h>
#include <string.h>

#include "gateway/node/gw_purpose.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"
#include "proto/pb.h"
#include "registry/purpose.h"

static bool
index_group_without_purpose(const Axle__V1__Envelope *env)
{
	const Axle__V1__ServiceGroup *g = env->to_group;

	return g != NULL && g->kind == AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX &&
	    (env->purpose == NULL || env->purpose[0] == '\0');
}

bool
gw_purpose_refused(struct gw_node *node, const Axle__V1__Envelope *env,
    enum sw_refusal *r, char *why, size_t len)
{
	struct registry_outcome o = { 0 };
	struct registry_resolution res;
	Axle__V1__Registrar *reg = NULL;
	char addr[ADDR_MAX_LEN + 1], e[64];
	const char *region;
	MDB_txn *txn;
	int v = REGISTRY_PURPOSE_OK;

	if (sw_is_system(env) || node->registry == NULL)
		return false;
	if (env->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP) {
		if (!index_group_without_purpose(env))
			return false;
		*r = SW_REFUSE_PURPOSE_MISSING;
		snprintf(why, len, "purpose: none given; an index query (a group "
		    "of kind index) must carry the purpose it is asked under, one "
		    "its index services accept");
		return true;
	}
	if (sw_address_of(env->to != NULL ? env->to : "", addr, e, sizeof(e)) != 0 ||
	    !gw_registry_resolve(node, addr, &res) ||
	    res.match.kind != REGISTRY_PREFIX_DELEGATION ||
	    res.match.registrar_id == NULL)
		return false;
	region = res.match.region != NULL &&
	    strcmp(res.match.region, node->cfg.region) != 0 ? res.match.region : NULL;
	if (gw_store_read_begin(node->store, &txn) != 0)
		return false;
	if (registry_db_get(txn, &node->registry->db, region,
	    res.match.registrar_id, &reg, &o) == REGISTRY_OK) {
		v = registry_purpose_for_address(reg, addr, env->purpose, NULL, why,
		    len);
		pb_free(&reg->base);
	}
	mdb_txn_abort(txn);
	if (v == REGISTRY_PURPOSE_OK)
		return false;
	*r = sw_refusal_of(v);
	return true;
}
