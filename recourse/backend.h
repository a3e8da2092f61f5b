/* backend.h -- the small storage API under recourse (after OpenSMTPD's queue_backend): three keyed tables in transactions. */
#ifndef AXLE_RECOURSE_BACKEND_H
#define AXLE_RECOURSE_BACKEND_H

#include <stddef.h>
#include <lmdb.h>

/*
 * Three tables of byte keys and byte values, ordered by key (memcmp, shorter
 * first on a tie). Only recourse.c and audit.c use them:
 *   CASES  key: origin region, NUL, 8-byte big-endian number;
 *          value: 1 byte case state, then the packed axle.v1.Case.
 *   AUDIT  key: 8-byte big-endian seq; value: see audit.h.
 *   META   key: a short name ("case.next", "audit.head"); value: opaque.
 *
 * Return values of every op: 0; RECOURSE_ENOTFOUND (get, del: no such
 * key); RECOURSE_ENOMEM; or any other non-zero value, which is the engine's
 * own code (an MDB_* value, an errno) and is reported as RECOURSE_ESTORE
 * with that code kept. strerror() turns such a code into text.
 */
enum recourse_db {
	RECOURSE_DB_CASES = 0,
	RECOURSE_DB_AUDIT,
	RECOURSE_DB_META,
	RECOURSE_DB__COUNT
};

struct recourse_backend;
struct recourse_txn;		/* defined by each backend */

/*
 * Called for each entry in key order. Return 0 to go on, > 0 to stop (the
 * walk returns 0), < 0 to stop and make the walk return that value. key and
 * val are valid only during the call. The callback must not write.
 */
typedef int (*recourse_walk_fn)(const void *key, size_t klen, const void *val,
    size_t vlen, void *arg);

struct recourse_backend_ops {
	/*
	 * Begins a transaction. parent is a backend-specific outer transaction
	 * or NULL: with LMDB, an MDB_txn * of the caller (see
	 * recourse_backend_lmdb_new); with the RAM backend, a struct
	 * recourse_txn * of that backend. A write transaction inside a parent
	 * is nested: commit folds its writes into the parent (durable only
	 * when the caller commits the parent), abort undoes them and leaves
	 * the parent as it was. A read inside a parent reads through the
	 * parent. *out is released by commit or abort, never both.
	 */
	int (*begin)(struct recourse_backend *be, void *parent, int write,
	    struct recourse_txn **out);
	/* Ends t keeping its writes. On failure t is aborted and released. */
	int (*commit)(struct recourse_backend *be, struct recourse_txn *t);
	void (*abort)(struct recourse_backend *be, struct recourse_txn *t);
	/*
	 * *val is valid until the next put or del in t (or its children), or
	 * the end of t: copy or decode it before then.
	 */
	int (*get)(struct recourse_backend *be, struct recourse_txn *t,
	    enum recourse_db db, const void *key, size_t klen,
	    const void **val, size_t *vlen);
	/* Inserts or replaces. Needs a write transaction. */
	int (*put)(struct recourse_backend *be, struct recourse_txn *t,
	    enum recourse_db db, const void *key, size_t klen,
	    const void *val, size_t vlen);
	int (*del)(struct recourse_backend *be, struct recourse_txn *t,
	    enum recourse_db db, const void *key, size_t klen);
	/* Entries with key >= from (from NULL: all), in order. */
	int (*walk)(struct recourse_backend *be, struct recourse_txn *t,
	    enum recourse_db db, const void *from, size_t fromlen,
	    recourse_walk_fn fn, void *arg);
	/* Text for an engine code this backend returned. Never NULL. */
	const char *(*strerror)(struct recourse_backend *be, int code);
	/* Frees the backend (not the LMDB environment). NULL-safe callers. */
	void (*destroy)(struct recourse_backend *be);
};

/* Every backend struct starts with this. */
struct recourse_backend {
	const struct recourse_backend_ops *ops;
	const char *name;	/* "lmdb", "ram", "fault" */
};

/*
 * LMDB: opens (creating) the named databases "rec.cases", "rec.audit" and
 * "rec.meta" in env, which must have room for them (mdb_env_set_maxdbs:
 * the gateway's store must count these three). If txn is non-NULL the
 * databases are opened inside it (a write transaction the caller commits
 * before the backend is used in any other transaction; if the caller aborts
 * it, the backend is unusable and must be destroyed); if NULL, in a
 * transaction of its own. The backend never calls mdb_env_sync and never
 * closes env.
 *
 * Transactions: begin(parent = the caller's MDB_txn *) is how the gateway's
 * group-commit writer runs a recourse operation inside its batch: a write
 * is a nested transaction of the caller's, so one failed operation is
 * undone without touching the rest of the batch, and nothing is durable
 * until the writer commits the batch. begin(parent = NULL) starts top-level
 * transactions on env (tests, tools); do not do that on the writer's env
 * from another thread while it writes (LMDB allows one writer at a time:
 * it would block). Reads with a parent use the parent directly (LMDB cannot
 * nest a read-only transaction).
 *
 * Returns 0 or an MDB code (with a reason in err); *out NULL on error.
 */
int recourse_backend_lmdb_new(MDB_env *env, MDB_txn *txn,
    struct recourse_backend **out, char *err, size_t errlen);

/*
 * RAM: sorted arrays with an undo log per write transaction, for tests. One
 * write transaction (and its nested children) at a time: a second begin for
 * writing fails with EBUSY. Reads see uncommitted writes of the open write
 * transaction (no isolation); single-threaded use only. Returns 0 or
 * RECOURSE_ENOMEM.
 */
int recourse_backend_ram_new(struct recourse_backend **out);

/*
 * Fault injection around another backend (which it does not own): after
 * recourse_backend_fault_arm(be, n, code), the n-th put or del from then on
 * (1: the next) fails with code without reaching the inner backend; later
 * ones succeed. commit_code non-zero makes the next commit of a top-level
 * transaction abort and fail with it. Returns 0 or RECOURSE_ENOMEM.
 */
int recourse_backend_fault_new(struct recourse_backend *inner,
    struct recourse_backend **out);
void recourse_backend_fault_arm(struct recourse_backend *be, unsigned n,
    int code);
void recourse_backend_fault_arm_commit(struct recourse_backend *be,
    int commit_code);
/* Puts and dels seen since creation (including failed ones). */
unsigned long recourse_backend_fault_writes(struct recourse_backend *be);

/* be->ops->destroy(be) if be is not NULL. */
void recourse_backend_destroy(struct recourse_backend *be);

struct recourse_err;
/*
 * Maps a backend op's result to a recourse code: 0 -> RECOURSE_OK;
 * RECOURSE_ENOTFOUND and RECOURSE_ENOMEM as they are; anything else ->
 * RECOURSE_ESTORE with e->store_rc = code. Writes "<what>: <text>" to e
 * (may be NULL) when the result is not OK.
 */
int recourse_backend_err(struct recourse_backend *be, int code,
    struct recourse_err *e, const char *what);

#endif
