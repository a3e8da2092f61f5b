/* store.h -- the node's LMDB environment and its single group-committing writer. */
#ifndef AXLE_GW_STORE_H
#define AXLE_GW_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "gateway/net/hist.h"

struct event_base;
struct store;

/* The writer thread's name (/proc/PID/task/TID/comm), for measuring its CPU. */
#define STORE_WRITER_NAME	"axle-writer"

/* Named databases, one owning module each. Extend at the end. */
enum gw_store_db {
	STORE_DB_META = 0,	/* node meta: boot count, format version */
	STORE_DB__COUNT
};

/*
 * Named databases the environment can hold: the store's own plus those the
 * libraries open for themselves (registry, recourse, switch queues).
 */
#define STORE_MAX_DBS	64

/*
 * Called once when the store has failed for good (see gw_store_submit's
 * STORE_EFAILED): the caller must stop the process with a non-zero status so
 * that the supervisor restarts it and LMDB reopens at its last durable
 * commit. rc is the begin/commit error that failed it. On the loop thread
 * after the failed batch's completions ran (on the writer thread if base is
 * NULL).
 */
typedef void (*store_fatal_fn)(int rc, void *arg);

struct gw_store_opts {
	size_t map_size;		/* bytes; 0 = 1 GiB */
	unsigned batch_max;		/* requests per commit; 0 = 256 */
	size_t reserve;			/* bytes kept for draining (see
					   gw_store_submit_new), at most a quarter
					   of the map and of the filesystem;
					   0 = none */
	store_fatal_fn on_fatal;	/* NULL: the store just refuses writes */
	void *fatal_arg;
};

/*
 * The result of every write once the store has failed (an I/O error from a
 * commit, or LMDB's MDB_PANIC): nothing is written any more. Positive and
 * above any errno, so it collides with neither errno nor MDB codes.
 */
#define STORE_EFAILED	20001

/*
 * The result of a gw_store_submit_new request while the store is above its
 * high-water mark: less than opts.reserve is free in the map or on the
 * data directory's filesystem. Nothing was written. Like STORE_EFAILED,
 * collides with neither errno nor MDB codes.
 */
#define STORE_EHIGHWATER	20002

/*
 * Runs on the writer thread inside the batch's transaction: its own nested
 * transaction of it, or, for a request submitted STORE_REPLAYABLE in a batch
 * of only such requests, the batch's transaction itself. Return 0 to keep
 * its writes; any other value (an MDB_* code or a negative errno) undoes
 * just this request's writes, and that value is its result (a flat batch is
 * aborted and run again without it, its other requests each nested: so a
 * replayable fn may run twice and must set its outputs afresh each time,
 * not add to them; decide the refusals you expect before submitting, as a
 * refusal costs its batch a second run). Must not block or touch the event loop, and must not
 * commit or abort txn itself. arg is the caller's. A request that succeeded
 * still fails if its batch's commit fails (e.g. MDB_MAP_FULL when the
 * freelist cannot be saved): under map pressure a whole batch can fail.
 * A failed commit fails every request of its batch: MDB_MAP_FULL, ENOSPC,
 * EDQUOT and ENOMEM leave the store writable; any other I/O error or
 * MDB_PANIC fails the store (STORE_EFAILED, then on_fatal).
 */
typedef int (*store_write_fn)(MDB_txn *txn, struct store *st, void *arg);

/*
 * Completion, on the event loop thread (or on the writer thread if the store
 * was opened with base == NULL). rc == 0 only after mdb_txn_commit of the
 * batch returned 0: the change is durable. Otherwise rc is the request's own
 * error, or the batch commit's error (MDB_MAP_FULL, EIO, ...).
 */
typedef void (*store_done_fn)(int rc, void *arg);

/*
 * Opens (creating) the environment in dir, runs mdb_reader_check, opens all
 * named databases, and starts the writer thread. Never MDB_NOSYNC or
 * MDB_NOMETASYNC. dir is created (mode 0700) if missing; a map smaller than
 * the data already on disk is rounded up to it. Each open increments the
 * persistent boot count. Returns 0 or an errno/MDB code with err; on error
 * *out is NULL. MDB_VERSION_MISMATCH: the data's format is newer than ours.
 *
 * base may be NULL (completions on the writer thread). If not, it must have
 * been created after evthread_use_pthreads() (the writer wakes it with
 * event_active()), and gw_store_close must then run on its loop thread or
 * while the loop is not running. One store per dir per process: LMDB's
 * POSIX locks do not survive opening the same environment twice.
 */
int gw_store_open(struct store **out, struct event_base *base, const char *dir,
    const struct gw_store_opts *opts, char *err, size_t errlen);

/*
 * Queues a write. Returns 0 (done will be called exactly once), or ENOMEM /
 * ESHUTDOWN (done will not be called). Once the store has failed, done gets
 * STORE_EFAILED.
 */
int gw_store_submit(struct store *st, store_write_fn fn, store_done_fn done,
    void *arg);

/* Flags of gw_store_submitf. */
#define STORE_NEW		1u	/* new work: gw_store_submit_new */
#define STORE_REPLAYABLE	2u	/* fn may run twice (see store_write_fn) */

/* gw_store_submit with flags (STORE_NEW, STORE_REPLAYABLE). */
int gw_store_submitf(struct store *st, unsigned flags, store_write_fn fn,
    store_done_fn done, void *arg);

/*
 * gw_store_submit for new work (a message accepted or forwarded in, a register
 * change): refused, done getting STORE_EHIGHWATER, while the store is above
 * its high-water mark, so that the reserve is left to writes that let hubs
 * and admins drain it (Fetch, Ack, Reject, resolving cases: gw_store_submit).
 * The mark is measured on the writer thread before each batch holding new
 * work (free pages past the map's last page that the filesystem can hold,
 * plus the freelist's); it is passed when less than the reserve is free,
 * and after any commit that failed for room, and cleared once twice the
 * reserve is free.
 */
int gw_store_submit_new(struct store *st, store_write_fn fn, store_done_fn done,
    void *arg);

/*
 * Runs fn in its own write transaction on the calling thread and commits it,
 * bypassing the group-commit queue: for start-up (opening a library's named
 * databases) before the loop runs, never on a hot path. LMDB serialises it
 * with the writer thread. Returns fn's rc, or the commit's.
 */
int gw_store_write_now(struct store *st, store_write_fn fn, void *arg);

/* The environment, for libraries that open their own named databases. */
MDB_env *gw_store_env(struct store *st);

/* Handle of a named database, valid for the store's lifetime. */
MDB_dbi gw_store_dbi(struct store *st, enum gw_store_db db);

/*
 * Begins a read-only transaction (caller aborts it; keep it short). Any
 * thread may call it, several may be open at once (MDB_NOTLS). Returns 0 or
 * an MDB code (MDB_READERS_FULL, ...).
 */
int gw_store_read_begin(struct store *st, MDB_txn **txn);

/*
 * Stops accepting (gw_store_submit then returns ESHUTDOWN), commits what is
 * queued, joins the writer and runs every completion not yet delivered (on
 * the caller's thread). Queued writes run with what they use (the switch,
 * the register, the case store): drain before the modules that own it stop.
 * Once is enough; NULL is a no-op.
 */
void gw_store_drain(struct store *st);

/*
 * Drains (if not yet drained) and closes. All read transactions must be
 * ended. NULL is a no-op.
 */
void gw_store_close(struct store *st);

/* Opens of this environment so far, including this one (1 on a new dir). */
uint64_t gw_store_boot_count(struct store *st);

/* Why a batch's begin or commit failed, for axle_store_errors_total. */
enum gw_store_err {
	STORE_ERR_MAP_FULL = 0,		/* MDB_MAP_FULL, MDB_TXN_FULL */
	STORE_ERR_NO_SPACE,		/* ENOSPC, EDQUOT */
	STORE_ERR_IO,			/* EIO */
	STORE_ERR_PANIC,		/* MDB_PANIC: the env is unusable */
	STORE_ERR_OTHER,
	STORE_ERR__COUNT
};
/* Metric label of e: "map_full", "no_space", "io", "panic", "other". */
const char *gw_store_err_name(enum gw_store_err e);

struct gw_store_stats {
	uint64_t commits;		/* batch transactions committed */
	uint64_t commit_errors;
	uint64_t errors[STORE_ERR__COUNT];	/* failed begins and commits */
	int failed;			/* 1: STORE_EFAILED, on_fatal called */
	uint64_t requests;		/* requests completed */
	uint64_t request_errors;
	uint64_t last_batch;		/* requests in the last batch */
	uint64_t max_batch;
	uint64_t commit_ns_total;	/* time in mdb_txn_commit */
	struct net_hist commit;		/* each committed batch's time in mdb_txn_commit */
	uint64_t replays;		/* flat batches run again after a request failed */
	uint64_t map_size;		/* bytes */
	uint64_t map_used;		/* bytes: (last_pgno + 1) * page size */
	uint64_t reserve;		/* bytes: opts.reserve */
	uint64_t room;			/* bytes free for writes, as last measured */
	int high_water;			/* 1: new work is refused */
	uint64_t high_water_refused;	/* requests refused STORE_EHIGHWATER */
};
/* A consistent copy of the counters; any thread. */
void gw_store_get_stats(struct store *st, struct gw_store_stats *out);

/*
 * Maps a store rc to a gRPC status: 0 -> OK; MDB_MAP_FULL, STORE_EHIGHWATER
 * and (+/-) ENOSPC or EDQUOT -> RESOURCE_EXHAUSTED; else (STORE_EFAILED,
 * EIO, ...) UNAVAILABLE.
 */
int gw_store_rc_grpc_status(int rc);
/* Human text for an rc: MDB codes, errno or -errno. Static; never NULL. */
const char *gw_store_strerror(int rc);

#endif
