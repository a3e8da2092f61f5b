/* gw_switch.h -- the switch inside the node: what other modules ask of it. */
#ifndef AXLE_GW_GW_SWITCH_H
#define AXLE_GW_GW_SWITCH_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "gateway/node/module.h"

struct evbuffer;
struct gw_node;
struct sw_tally;
struct sw_wctx;

/* mod_switch.c: opens the switch, then starts its outbox pumps. */
extern const struct gw_module gw_switch_module;

/*
 * For the module (mod_switch.c): a new node->sw with its context, queues,
 * tick and kick events. Returns 0, or -1 with err (node->sw NULL).
 */
int gw_switch_open(struct gw_node *node, char *err, size_t errlen);
/* Frees node->sw (NULL after); its pumps and fetches must have stopped. */
void gw_switch_close(struct gw_node *node);
/* The switch's /metrics families. */
void gw_switch_metrics(struct gw_node *node, struct evbuffer *out);

int64_t gw_now_ms(void);
/*
 * A switch write: fn runs on the store's writer inside the batch (a
 * context with its own tally; return non-zero to abort just this write),
 * replayable (STORE_REPLAYABLE: fn may run twice, so it sets its outputs
 * afresh each run and adds to nothing of arg's), done on the loop thread after the commit (rc 0) or failure, with the
 * reason fn left in the context. The tally is applied before done. done
 * may run after the module stopped (node->sw NULL): it must check.
 * Returns 0, or an errno (done not called).
 */
typedef int (*gw_job_fn)(struct sw_wctx *c, void *arg);
typedef void (*gw_job_done)(struct gw_node *node, int rc, const char *err,
    void *arg);
int gw_submit(struct gw_node *node, gw_job_fn fn, gw_job_done done, void *arg);
/*
 * gw_submit for new work (Send, Forward): refused, done getting
 * STORE_EHIGHWATER, while the store is above its high-water mark
 * (gw_store_submit_new), which keeps the reserve for Fetch, Ack and Reject.
 */
int gw_submit_new(struct gw_node *node, gw_job_fn fn, gw_job_done done,
    void *arg);
/* Adds a tally's counters and wake-ups (loop thread, after the commit). */
void gw_tally_apply(struct gw_node *node, const struct sw_tally *t);

/*
 * Puts env back into the switch inside txn (a store_write_fn's transaction)
 * on a new journey from this node: this node's trace hop names case_id (the
 * case it is redirected out of; loop and hop checks start again there, and
 * nodes that saw the message before take it as the redirected message, not
 * a duplicate), routed by its (corrected) `to`, enqueued in a mailbox, a
 * peer outbox, held, or - if it still cannot be routed - the caller is told
 * so (nothing enqueued). The sender gets a REDIRECTED receipt. Used by
 * recourse's redirect. Returns a gRPC status (OK: enqueued) with a reason in
 * err. After the commit, call gw_switch_kick().
 */
int gw_switch_inject_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *case_id, int64_t now_ms,
    char *err, size_t errlen);

/*
 * Returns env to its sender inside txn: the sender gets a RETURNED receipt
 * and its envelope back, a returned message (docs/protocol.md "Returned
 * messages") carrying reason and case_id (NULL: none), in its mailbox here
 * or toward its node. Used by recourse's return action. Returns a gRPC
 * status with a reason in err. After the commit, call gw_switch_kick().
 */
int gw_switch_return_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *reason, const char *case_id,
    int64_t now_ms, char *err, size_t errlen);

/*
 * Discards env inside txn by an admin's decision in case case_id: recorded
 * as DISCARDED here, and the sender gets a DISCARDED receipt with reason.
 * Returns a gRPC status with a reason in err. After the commit, call
 * gw_switch_kick().
 */
int gw_switch_discard_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *reason, const char *case_id,
    int64_t now_ms, char *err, size_t errlen);

/*
 * Records inside txn that the message is now in recourse (case_id at this
 * node) and tells its sender (an ESCALATED receipt) - for cases the switch
 * did not open itself (e.g. a case received from a child node). Returns a
 * gRPC status.
 */
int gw_switch_note_recourse_txn(struct gw_node *node, MDB_txn *txn,
    const Axle__V1__Envelope *env, const char *case_id, int64_t now_ms,
    char *err, size_t errlen);

/*
 * Messages waiting in the outbox for the peer serving region (0 if none or
 * the switch is not running). Reads the store: for Node.Info, not per message.
 */
uint64_t gw_switch_outbox_count(struct gw_node *node, const char *region);

/*
 * Messages registrar's mailbox and held queue hold in txn (0 if the switch
 * is not running): what a split would pass to the child. Reads counters.
 */
uint64_t gw_switch_waiting_txn(struct gw_node *node, MDB_txn *txn,
    const char *registrar);

/* Messages accepted and forwarded since start (counters; 0 if the switch is not running). */
void gw_switch_flow(struct gw_node *node, uint64_t *accepted, uint64_t *forwarded);

/*
 * Wakes the outbox pump of peer, making it if there is none yet (a node
 * reached on demand): after a write that queued for it outside the
 * switch's own writes (a split). Loop thread.
 */
void gw_switch_wake_peer(struct gw_node *node, const char *peer);

/* After a commit that enqueued something: wake outbox pumps and waiting fetches. */
void gw_switch_kick(struct gw_node *node);

/*
 * A registrar's standing changed (call after the commit, on the loop
 * thread; r is only read during the call): ACTIVE releases its held
 * messages to its mailbox in order; SUSPENDED moves its mailbox to held;
 * REVOKED with a successor_id releases its mailbox and held messages to
 * the successor (its mailbox, or held if the successor is suspended);
 * REVOKED without one (or with a successor that takes no traffic) moves
 * its mailbox to held, where the hold limit settles it. The move
 * is its own write, submitted now; failures are logged and retried by the
 * next change. Use gw_switch_registrar_changed_txn to move them in the
 * same commit as the status change instead (and report the count).
 */
void gw_switch_registrar_changed(struct gw_node *node,
    const Axle__V1__Registrar *r);

/*
 * The same inside txn (a store_write_fn's transaction, after the record
 * changed in it): *moved gets the messages released or held. Returns a
 * gRPC status (OK, or UNAVAILABLE / RESOURCE_EXHAUSTED: abort the write)
 * with a reason in err. After the commit, call gw_switch_kick().
 */
int gw_switch_registrar_changed_txn(struct gw_node *node, MDB_txn *txn,
    const char *registrar_id, Axle__V1__RegistrarStatus status,
    const char *successor_id, int64_t now_ms, uint64_t *moved, char *err,
    size_t errlen);

#endif
