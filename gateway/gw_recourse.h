/* gw_recourse.h -- universal recourse inside the node: the case store and what other modules ask of it. */
#ifndef AXLE_GW_GW_RECOURSE_H
#define AXLE_GW_GW_RECOURSE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "axle/v1/envelope.pb-c.h"
#include "gateway/module.h"
#include "recourse/recourse.h"
#include "registry/address.h"

struct gw_node;

struct gw_recourse {
	struct recourse_backend *be;	/* LMDB, in the node's environment */
	struct recourse *rc;
	char parent_region[ADDR_MAX_LEN + 1];	/* "" at the root */
	void *ext;			/* svc_recourse.c state: timers, escalations */
};

extern const struct gw_module gw_recourse_module;

/*
 * Opens a case about env inside txn (the group-commit writer's transaction:
 * call it from a store_write_fn, so the message's move into recourse and the
 * case are one commit). reason is an AXLE__V1__CASE_REASON__* value; detail
 * is for a person. id_out gets RECOURSE_ID_MAX bytes. Returns RECOURSE_OK or
 * a RECOURSE_* code with a reason in err.
 */
int gw_recourse_open_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, int reason, const char *detail, int64_t now_ms,
    char *id_out, char *err, size_t errlen);

#endif
