/* seal_policy.c -- the register's traffic policy at Send and Forward: refuses an unsealed payload where the recipient's registrar requires sealing. */
#include <stdio.h>
#include <string.h>

#include "gateway/node/gw_registry.h"
#include "gateway/node/node.h"
#include "gateway/node/seal_policy.h"
#include "gateway/node/store.h"
#include "gateway/switch/sw_core.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/pb.h"
#include "registry/policy.h"

bool
gw_seal_refuses(struct gw_node *node, const Axle__V1__Envelope *env,
    char *why, size_t len, char *rid, size_t ridlen)
{
	struct registry_outcome res = { 0 };
	struct registry_resolution r;
	Axle__V1__Registrar *rec = NULL;
	char addr[ADDR_MAX_LEN + 1], err[200], words[300];
	MDB_txn *txn;
	bool refuse;

	if (env->recipient_case != AXLE__V1__ENVELOPE__RECIPIENT_TO ||
	    sw_is_system(env) || sw_payload_sealed(env) || node->registry == NULL ||
	    sw_address_of(env->to != NULL ? env->to : "", addr, err, sizeof(err)) != 0 ||
	    !gw_registry_resolve(node, addr, &r) ||
	    r.match.kind != REGISTRY_PREFIX_DELEGATION || r.match.registrar_id == NULL ||
	    gw_store_read_begin(node->store, &txn) != 0)
		return false;
	refuse = registry_db_get(txn, &node->registry->db, r.match.region,
	    r.match.registrar_id, &rec, &res) == REGISTRY_OK &&
	    registry_policy_requires_sealed(rec, env->message_type);
	mdb_txn_abort(txn);
	if (refuse) {
		registry_policy_text(rec->policy, words, sizeof(words));
		snprintf(why, len, "payload not sealed: registrar %s (holding %s, "
		    "region %s) requires sealed payloads (its policy: %s); seal it "
		    "to the recipient's sealing certificates (axlectl send "
		    "--seal-to; docs/protocol.md \"Sealed payloads\")", rec->id,
		    r.match.prefix, r.match.region, words);
		snprintf(rid, ridlen, "%s", rec->id);
	}
	pb_free(rec != NULL ? &rec->base : NULL);
	return refuse;
}
