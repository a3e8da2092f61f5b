/* svc.h -- the gRPC method handlers, one file per service (svc_<service>.c). */
#ifndef AXLE_GW_SVC_H
#define AXLE_GW_SVC_H

#include "axle/v1/node.pb-c.h"
#include "gateway/rpc.h"

/* svc_node.c */
void gw_svc_node_info(struct gw_call *call, const ProtobufCMessage *req);

#endif
