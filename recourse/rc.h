/* rc.h -- recourse return codes and the error record handed back to callers. */
#ifndef AXLE_RECOURSE_RC_H
#define AXLE_RECOURSE_RC_H

#include <stddef.h>

/*
 * Every recourse function returns one of these. Negative values never clash
 * with a storage engine's own codes (LMDB's are near -30800, errno values are
 * positive), which backends hand back unchanged (see backend.h).
 */
enum recourse_rc {
	RECOURSE_OK = 0,
	RECOURSE_EINVAL = -1,		/* bad argument: the reason says which */
	RECOURSE_ENOTFOUND = -2,	/* no such case */
	RECOURSE_EPRECOND = -3,		/* illegal transition for the case's state */
	RECOURSE_ELOOP = -4,		/* the parent is already on the case's path */
	RECOURSE_EROOT = -5,		/* this node is the root: nowhere to escalate */
	RECOURSE_ESTORE = -6,		/* the backend failed: see store_rc */
	RECOURSE_ENOMEM = -7
};

#define RECOURSE_ERR_MAX 512

/*
 * Filled by the operations of recourse.h. msg is a reason a person can act
 * on (always NUL-terminated, "" on success); store_rc is the backend's own
 * code when rc is RECOURSE_ESTORE (an MDB_* value or an errno), else 0.
 */
struct recourse_err {
	int store_rc;
	char msg[RECOURSE_ERR_MAX];
};

/* Short name of a code: "EPRECOND". Static; never NULL. */
const char *recourse_rc_name(int rc);

/*
 * printf-style into buf[0..len) (len 0 or buf NULL: nothing). Returns rc so
 * that callers can write `return recourse_why(buf, len, RECOURSE_EINVAL, ...)`.
 */
int recourse_why(char *buf, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* As recourse_why, into e->msg; e may be NULL. Sets e->store_rc to 0. */
int recourse_err_set(struct recourse_err *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
