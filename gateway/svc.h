/* svc.h -- the gRPC services, one file per service (svc_<service>.c). */
#ifndef AXLE_GW_SVC_H
#define AXLE_GW_SVC_H

#include "gateway/rpc.h"

/* svc_node.c: axle.v1.Node */
extern const struct gw_rpc_service gw_svc_node;

#endif
