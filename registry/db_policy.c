/* db_policy.c -- a registrar's traffic policy (sealed payloads) as a register change: SetPolicy. */
#include <stdio.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/db_priv.h"
#include "registry/error.h"
#include "registry/policy.h"

int
registry_db_set_policy(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const Axle__V1__SetPolicyRequest *req,
    Axle__V1__Registrar **out, struct registry_outcome *res)
{
	Axle__V1__Registrar *cur, next;
	char words[REGISTRY_REASON_MAX], detail[2 * REGISTRY_REASON_MAX + 4];
	int rc;

	registry_outcome_reset(res);
	if (out != NULL)
		*out = NULL;
	if ((rc = registry_policy_check(req->policy, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		return rc;
	if (req->reason == NULL || req->reason[0] == '\0')
		return registry_fail(REGISTRY_EINVAL, res->reason,
		    sizeof(res->reason), "reason: required (recorded in the feed)");
	if ((rc = registry_db_get_local(txn, db, req->registrar_id, &cur,
	    res)) != REGISTRY_OK)
		return rc;
	next = *cur;
	/* An empty policy is no policy: the record says nothing. */
	next.policy = registry_policy_set(req->policy) ? req->policy : NULL;
	registry_db_bump(&next, ch);
	registry_policy_text(next.policy, words, sizeof(words));
	snprintf(detail, sizeof(detail), "%s: %s", words, req->reason);
	rc = registry_db_commit_record(txn, db, ch,
	    AXLE__V1__FEED_CHANGE__FEED_CHANGE_POLICY_SET, &next, detail, out, res);
	pb_free(&cur->base);
	return rc;
}
