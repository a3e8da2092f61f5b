/* svc.h -- the gRPC services, one file per service (svc_<service>.c). */
#ifndef AXLE_GW_SVC_H
#define AXLE_GW_SVC_H

#include <stddef.h>
#include <lmdb.h>

#include "gateway/net/rpc.h"

struct gw_node;

/*
 * Registers every service below with the dispatch table (net/rpc.c), in
 * the order /metrics lists their methods. Returns 0, or -1 with err.
 */
int gw_svc_register_all(char *err, size_t errlen);

/* svc_node.c: axle.v1.Node */
extern const struct net_rpc_service gw_svc_node;

/* svc_registry.c: axle.v1.Registry, axle.v1.Portal/Discover, axle.v1.Axle/Feed */
extern const struct net_rpc_service gw_svc_registry;
/* axle.v1.Registry/SplitRegion (svc_split.c). */
extern const struct net_rpc_service gw_svc_split;


/* svc_keys.c: axle.v1.Registry PublishKey, WithdrawKey, FindKeys */
extern const struct net_rpc_service gw_svc_keys;

/* svc_recourse.c: axle.v1.Recourse (admins of this node) */
extern const struct net_rpc_service gw_svc_recourse;

/*
 * svc_recourse.c: a read transaction of the store for a Recourse handler;
 * on failure (recourse not running, store unreadable) ends the call and
 * returns -1. mdb_txn_abort it before returning to the loop.
 */
int gw_recourse_read_begin(struct net_call *call, MDB_txn **txn);

/* svc_audit.c: axle.v1.Recourse/AuditHead and AuditExport (the signed export) */
extern const struct net_rpc_service gw_svc_audit;

/* svc_escalate.c: axle.v1.Axle/Escalate (a child node hands up a case) */
extern const struct net_rpc_service gw_svc_axle_escalate;

/* svc_switch.c: axle.v1.Switch (members) and axle.v1.Axle/Forward (nodes) */
extern const struct net_rpc_service gw_svc_switch;
/* svc_switch.c: wakes parked fetches of mailbox (NULL: all); ends them all. */
void gw_fetch_kick(struct gw_node *node, const char *mailbox);
void gw_fetch_stop(struct gw_node *node);

/*
 * svc_health.c: grpc.health.v1.Health (any caller the node accepts); ends
 * the Watch calls still open (at exit, after the loop).
 */
extern const struct net_rpc_service gw_svc_health;
void gw_health_stop(void);

/* svc_reflection.c: grpc.reflection.v1 and v1alpha ServerReflection (members, admins) */
extern const struct net_rpc_service gw_svc_reflection;

#endif
