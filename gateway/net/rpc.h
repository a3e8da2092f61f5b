/* rpc.h -- gRPC calls as the handlers see them, and the method dispatch table. */
#ifndef AXLE_GW_RPC_H
#define AXLE_GW_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/identity.h"

struct gw_call;
struct gw_node;

/*
 * A handler receives the unpacked request (owned by the call, freed when the
 * call ends) and must end the call exactly once, now or later, with
 * gw_call_reply() or gw_call_error(). It may also stream several messages
 * with gw_call_send() before gw_call_finish().
 */
typedef void (*gw_rpc_fn)(struct gw_call *call, const ProtobufCMessage *req);

struct gw_rpc_method {
	const char *path;			/* "/axle.v1.Node/Info" */
	enum gw_authz authz;			/* who may call it at all */
	const ProtobufCMessageDescriptor *req;	/* request type */
	gw_rpc_fn fn;
	int server_streaming;			/* may send more than one message */
};

/* A service: its methods, in svc_<service>.c; registered at start (node/svc.c). */
struct gw_rpc_service {
	const struct gw_rpc_method *methods;
	size_t n;
};

/* Counters per method and status, for /metrics. */
struct gw_rpc_stats {
	uint64_t by_status[17];
};

/*
 * Adds a service (not copied: static, lives forever) to the dispatch table,
 * before the first call is served. Methods are numbered in the order they
 * were registered (gw_rpc_at, /metrics). Registering a service again does
 * nothing. Returns 0, or -1 if the table is full or another service already
 * serves one of its paths.
 */
int gw_rpc_register(const struct gw_rpc_service *svc);
/*
 * Looks up a method by :path. Returns the entry (static, lives forever) and
 * its index for gw_rpc_stats_at(), or NULL.
 */
const struct gw_rpc_method *gw_rpc_lookup(const char *path, size_t len,
    size_t *index);
/* Calls to methods no registered service serves (for /metrics). */
extern uint64_t gw_rpc_unknown;
/* All methods, for /metrics and tests. */
size_t gw_rpc_count(void);
const struct gw_rpc_method *gw_rpc_at(size_t i);
struct gw_rpc_stats *gw_rpc_stats_at(size_t i);

/* --- used by handlers --------------------------------------------------- */

/* The verified caller. Valid for the call's lifetime. */
const struct gw_identity *gw_call_caller(const struct gw_call *call);
struct gw_node *gw_call_node(const struct gw_call *call);
/* True once the client went away (stream reset, connection closed, deadline). */
int gw_call_cancelled(const struct gw_call *call);
/* Milliseconds left before the client's grpc-timeout; -1 if none. */
int64_t gw_call_time_left_ms(const struct gw_call *call);

/* Sends one response message (server streaming). Returns 0 or -1 (cancelled / ENOMEM). */
int gw_call_send(struct gw_call *call, const ProtobufCMessage *msg);
/* Ends the call with a status; message may be NULL. Frees the call. */
void gw_call_finish(struct gw_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Unary success: send + finish(OK). */
void gw_call_reply(struct gw_call *call, const ProtobufCMessage *msg);
/* Ends the call with an error status and a message a person can act on. */
#define gw_call_error gw_call_finish

#endif
