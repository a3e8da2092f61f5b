/* gw_recourse.h -- universal recourse inside the node: the case store and what other modules ask of it. */
#ifndef AXLE_GW_GW_RECOURSE_H
#define AXLE_GW_GW_RECOURSE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "axle/v1/envelope.pb-c.h"
#include "gateway/net/identity.h"
#include "gateway/node/module.h"
#include "gateway/node/store.h"
#include "recourse/recourse.h"
#include "registry/address.h"

struct evbuffer;
struct gw_node;
struct gw_escalator;

struct gw_recourse {
	struct recourse_backend *be;	/* LMDB, in the node's environment */
	struct recourse *rc;
	char parent_region[ADDR_MAX_LEN + 1];	/* "" at the root */
	char identity[NET_URI_MAX + 1];	/* this node's URI: actor of its own steps */
	struct gw_escalator *esc;	/* escalate.c: the hand-over timer and calls */
	/*
	 * Cases opened in the writer's transactions (any thread): the
	 * console's ticker (mod_recourse.c) tells open consoles on the loop.
	 */
	_Atomic uint64_t opened;
	uint64_t opened_told;
	int tell_again;			/* the next tick tells once more (the commit may trail) */
	struct event *console_tick;
};

/* mod_recourse.c: starts the case store, then the escalation timer (escalate.c). */
extern const struct gw_module gw_recourse_module;

/*
 * For the module (mod_recourse.c): opens the case store into a new
 * node->recourse. Returns 0, or -1 with err (node->recourse NULL).
 */
int gw_recourse_open(struct gw_node *node, char *err, size_t errlen);
/*
 * Sets node->recourse to NULL; the case store is freed once the writes in
 * flight (gw_recourse_submit) have ended.
 */
void gw_recourse_close(struct gw_node *node);
/* The case store's /metrics families. 0, or -1 when it could not read them. */
int gw_recourse_metrics(struct gw_node *node, struct evbuffer *out);

/*
 * gw_store_submit for everything recourse writes: counts the writes in
 * flight, so that stopping the module frees the case store only after the
 * last of them ran (gw_store_close runs queued writes after the modules
 * stopped). Same contract as gw_store_submit.
 */
int gw_recourse_submit(struct gw_node *node, store_write_fn fn,
    store_done_fn done, void *arg);
/* The same for new work (a case a child node hands up): gw_store_submit_new. */
int gw_recourse_submit_new(struct gw_node *node, store_write_fn fn,
    store_done_fn done, void *arg);

/*
 * Opens a case about env inside txn (the group-commit writer's transaction:
 * call it from a store_write_fn, so the message's move into recourse and the
 * case are one commit). reason is an AXLE__V1__CASE_REASON__* value; detail
 * is for a person. id_out gets RECOURSE_ID_MAX bytes. Returns RECOURSE_OK or
 * a RECOURSE_* code with a reason in err. After the commit, call
 * gw_recourse_kick() so the case's deadline is watched at once.
 */
int gw_recourse_open_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, int reason, const char *detail, int64_t now_ms,
    char *id_out, char *err, size_t errlen);

/*
 * Loop thread: look at the cases again soon (after a commit that opened or
 * changed one). Cheap; safe before start and after stop (no-op).
 * In mod_recourse.c: it wakes the escalation timer.
 */
void gw_recourse_kick(struct gw_node *node);

/* What a member may learn about a case that holds its message. */
struct gw_recourse_brief {
	char id[RECOURSE_ID_MAX];
	int state;			/* Axle__V1__CaseState */
	int reason;			/* Axle__V1__CaseReason */
	int outcome;			/* RESOLVED: CASE_ACTION_KIND_REDIRECTED, ... */
	char escalated_to[ADDR_MAX_LEN + 1];	/* ESCALATED: the parent's region */
	char redirect_to[ADDR_MAX_LEN + 1];	/* REDIRECTED: the corrected address */
	int64_t opened_ms, deadline_ms;
	uint8_t message_id[16];		/* the envelope's id */
	size_t message_id_len;
};

/*
 * Loop thread (Switch.Status): the brief of case_id held at this node. txn
 * is a read transaction or NULL (then one is opened and ended here). If who
 * is a member, the case's envelope sender must lie within its prefix (else
 * GRPC_PERMISSION_DENIED: a member sees only cases about its own messages);
 * admins of this node and nodes see any. Returns a gRPC status: OK,
 * NOT_FOUND, INVALID_ARGUMENT (bad id), PERMISSION_DENIED, UNAVAILABLE;
 * a reason in err.
 */
int gw_recourse_case_brief(struct gw_node *node, MDB_txn *txn,
    const char *case_id, const struct net_identity *who,
    struct gw_recourse_brief *out, char *err, size_t errlen);

/* A RECOURSE_* code as a gRPC status (ESTORE through gw_store_rc_grpc_status). */
int gw_recourse_grpc_status(int rc, const struct recourse_err *e);

/* Wall clock, ms since the epoch: what case times are in. */
int64_t gw_recourse_now_ms(void);

#endif
