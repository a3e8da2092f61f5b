/* error.h -- registry/ result codes and the reason-string helper every module shares. */
#ifndef AXLE_REGISTRY_ERROR_H
#define AXLE_REGISTRY_ERROR_H

#include <stddef.h>

/*
 * Every registry/ function that can fail returns REGISTRY_OK or one of these
 * negative codes, and writes a reason a person can act on into a
 * caller-provided buffer (always NUL-terminated when its length is > 0).
 * The gateway maps them to gRPC status codes (see registry_grpc_status).
 */
enum registry_rc {
	REGISTRY_OK = 0,
	REGISTRY_EINVAL = -1,		/* malformed input: bad label, empty name, ... */
	REGISTRY_EEXIST = -2,		/* overlapping delegation, duplicate id */
	REGISTRY_EPERM = -3,		/* outside this node's region / the member's prefixes */
	REGISTRY_ENOTFOUND = -4,	/* no such registrar, service, prefix */
	REGISTRY_ECONFLICT = -5,	/* expected_version does not match */
	REGISTRY_EPRECOND = -6,		/* illegal status transition, wrong standing */
	REGISTRY_ESTORE = -7,		/* LMDB error (the MDB rc is given separately) */
	REGISTRY_ENOMEM = -8,
	REGISTRY_EINTEGRITY = -9,	/* broken hash chain or bad head signature */
};

#define REGISTRY_REASON_MAX 256	/* a comfortable size for reason buffers */

/* Short name of a code ("EEXIST"); static, never NULL. */
const char *registry_strerror(int rc);

/*
 * The gRPC status code for rc: OK 0, EINVAL 3 INVALID_ARGUMENT, EEXIST 6
 * ALREADY_EXISTS, EPERM 7 PERMISSION_DENIED, ENOTFOUND 5 NOT_FOUND,
 * ECONFLICT 10 ABORTED, EPRECOND 9 FAILED_PRECONDITION, ENOMEM 8
 * RESOURCE_EXHAUSTED, EINTEGRITY 15 DATA_LOSS, ESTORE and others 14
 * UNAVAILABLE.
 */
int registry_grpc_status(int rc);

/* snprintf into reason (NULL or len 0: nothing). Returns rc, for `return registry_fail(...)`. */
int registry_fail(int rc, char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
