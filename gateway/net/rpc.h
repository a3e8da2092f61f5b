/* rpc.h -- gRPC calls as the handlers see them, and the method dispatch table. */
#ifndef AXLE_GW_RPC_H
#define AXLE_GW_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/identity.h"
#include "gateway/net/hist.h"

struct net_call;
struct gw_node;

/*
 * A handler receives the unpacked request (owned by the call, freed when the
 * call ends) and must end the call exactly once, now or later, with
 * net_call_reply() or net_call_error(). It may also stream several messages
 * with net_call_send() before net_call_finish().
 */
typedef void (*net_rpc_fn)(struct net_call *call, const ProtobufCMessage *req);
struct net_rpc_method {
	const char *path;			/* "/axle.v1.Node/Info" */
	enum net_authz authz;			/* who may call it at all */
	const ProtobufCMessageDescriptor *req;	/* request type */
	net_rpc_fn fn;
	int server_streaming;			/* may send more than one message; or NET_RPC_BIDI */
};

/*
 * server_streaming = NET_RPC_BIDI: a bidirectional method (gRPC only). fn is
 * called once per request message as it arrives, the message living only
 * during that call, and once more with req NULL when the client has sent
 * its last. Any of these may end the call (no more follow); the last must
 * if none has. fn may not keep the call for later: if the client goes away
 * or its deadline passes in between, the transport ends it.
 */
#define NET_RPC_BIDI 2

/* A service: its methods, in svc_<service>.c; registered at start (node/svc.c). */
struct net_rpc_service {
	const struct net_rpc_method *methods;
	size_t n;
};

/* Counters per method and status, and the calls' durations, for /metrics. */
struct net_rpc_stats {
	uint64_t by_status[17];
	struct net_hist duration;	/* from the request's headers to its status */
};

/*
 * Adds a service (not copied: static, lives forever) to the dispatch table,
 * before the first call is served. Methods are numbered in the order they
 * were registered (net_rpc_at, /metrics). Registering a service again does
 * nothing. Returns 0, or -1 if the table is full or another service already
 * serves one of its paths.
 */
int net_rpc_register(const struct net_rpc_service *svc);
/*
 * Looks up a method by :path. Returns the entry (static, lives forever) and
 * its index for net_rpc_stats_at(), or NULL.
 */
const struct net_rpc_method *net_rpc_lookup(const char *path, size_t len,
    size_t *index);
/* True if a registered service is named service ("axle.v1.Switch": the paths "/axle.v1.Switch/..."). */
bool net_rpc_serves(const char *service);
/* Calls to methods no registered service serves (for /metrics). */
extern uint64_t net_rpc_unknown;
/* All methods, for /metrics and tests. */
size_t net_rpc_count(void);
const struct net_rpc_method *net_rpc_at(size_t i);
struct net_rpc_stats *net_rpc_stats_at(size_t i);

/* --- used by handlers --------------------------------------------------- */

/* The verified caller. Valid for the call's lifetime. */
const struct net_identity *net_call_caller(const struct net_call *call);
struct gw_node *net_call_node(const struct net_call *call);
/* True once the client went away (stream reset, connection closed, deadline). */
int net_call_cancelled(const struct net_call *call);
/* Milliseconds left before the client's grpc-timeout; -1 if none. */
int64_t net_call_time_left_ms(const struct net_call *call);

/* Sends one response message (server streaming). Returns 0 or -1 (cancelled / ENOMEM). */
int net_call_send(struct net_call *call, const ProtobufCMessage *msg);
/* Ends the call with a status; message may be NULL. Frees the call. */
void net_call_finish(struct net_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Unary success: send + finish(OK). */
void net_call_reply(struct net_call *call, const ProtobufCMessage *msg);
/* Ends the call with an error status and a message a person can act on. */
#define net_call_error net_call_finish

#endif
