/* store.c -- the node's LMDB environment and its single group-committing writer. */
#define _GNU_SOURCE	/* pthread_setname_np */
#include "gateway/node/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/log.h"

/*
 * The data format this build records; it opens its own and older ones and
 * refuses newer ones. Bump it whenever an older build would misread what
 * this one writes. 1: 0.1.0. 2: hold deadlines (kind 3) in sw.deadlines and
 * version 2 message records in sw.msgs, neither of which 0.1.0 can read.
 * 3: per-queue counters in sw.counts, which a build before them would leave
 * wrong by moving entries without counting them.
 */
#define STORE_FORMAT		3u
#define STORE_MAP_DEFAULT	((size_t)1 << 30)	/* 1 GiB, as config's default */
#define STORE_BATCH_DEFAULT	256u

/* Index = enum gw_store_db. Names are on disk: never rename one. */
static const char *const store_db_names[STORE_DB__COUNT] = {
	[STORE_DB_META] = "meta",
};

struct store_req {
	store_write_fn fn;
	store_done_fn done;
	void *arg;
	int rc;
	unsigned flags;		/* STORE_NEW, STORE_REPLAYABLE */
	struct store_req *next;
};

/* A singly linked FIFO of requests. */
struct store_list {
	struct store_req *head, *tail;
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB__COUNT];
	unsigned batch_max;
	uint64_t boot_count;
	uint64_t reserve;		/* opts.reserve; 0: no high-water mark */

	pthread_t writer;
	pthread_mutex_t mu;		/* queue, stopping, stats */
	pthread_cond_t cond;
	struct store_list queue;
	int stopping;
	int drained;			/* the writer has run everything and ended */
	struct gw_store_stats stats;	/* stats.failed: writes refused for good */
	int fail_rc;			/* what failed it */
	int fatal_told;			/* on_fatal called */
	store_fatal_fn on_fatal;
	void *fatal_arg;

	/* Completions waiting for the loop thread (only when base != NULL). */
	struct event *done_ev;
	pthread_mutex_t done_mu;
	struct store_list done;
};

static void
store_seterr(char *err, size_t errlen, const char *what, int rc)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, gw_store_strerror(rc));
}

static void
store_list_push(struct store_list *l, struct store_req *r)
{
	r->next = NULL;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

/* Detaches up to max requests from the front of l. */
static struct store_req *
store_list_take(struct store_list *l, unsigned max, unsigned *n)
{
	struct store_req *first = l->head, *last = NULL, *r = l->head;

	*n = 0;
	while (r != NULL && *n < max) {
		last = r;
		r = r->next;
		(*n)++;
	}
	if (last == NULL)
		return NULL;
	l->head = last->next;
	if (l->head == NULL)
		l->tail = NULL;
	last->next = NULL;
	return first;
}

static void
store_run_done(struct store_req *r)
{
	struct store_req *next;

	for (; r != NULL; r = next) {
		next = r->next;
		r->done(r->rc, r->arg);
		free(r);
	}
}

/* --- opening ---------------------------------------------------------- */

/* mkdir -p with mode 0700 for every component created. */
static int
store_mkdirs(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);
	char *p;

	if (len == 0 || len >= sizeof(path))
		return ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static void
store_u64_put(unsigned char b[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
store_u64_get(const unsigned char b[8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

/* Reads the little-endian u64 meta key, or 0 when absent. */
static int
store_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	int rc = mdb_get(txn, dbi, &k, &d);

	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (d.mv_size != 8)
		return MDB_CORRUPTED;
	*v = store_u64_get(d.mv_data);
	return 0;
}

static int
store_meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
{
	unsigned char b[8];
	MDB_val k = { strlen(key), (void *)key }, d = { sizeof(b), b };

	store_u64_put(b, v);
	return mdb_put(txn, dbi, &k, &d, 0);
}

/* Opens every named database, bumps boot_count, checks and stamps format. */
static int
store_init_dbs(struct store *st, char *err, size_t errlen)
{
	MDB_txn *txn;
	uint64_t format, boots;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		store_seterr(err, errlen, "store: begin", rc);
		return rc;
	}
	for (int i = 0; i < STORE_DB__COUNT; i++) {
		rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE, &st->dbi[i]);
		if (rc != 0) {
			store_seterr(err, errlen, "store: open database", rc);
			goto fail;
		}
	}
	MDB_dbi meta = st->dbi[STORE_DB_META];
	if ((rc = store_meta_get(txn, meta, "format", &format)) != 0 ||
	    (rc = store_meta_get(txn, meta, "boot_count", &boots)) != 0) {
		store_seterr(err, errlen, "store: read meta", rc);
		goto fail;
	}
	if (format > STORE_FORMAT) {
		rc = MDB_VERSION_MISMATCH;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "store: data format %llu is newer "
			    "than this build's %u", (unsigned long long)format,
			    STORE_FORMAT);
		goto fail;
	}
	st->boot_count = boots + 1;
	if ((rc = store_meta_put(txn, meta, "format", STORE_FORMAT)) != 0 ||
	    (rc = store_meta_put(txn, meta, "boot_count", st->boot_count)) != 0) {
		store_seterr(err, errlen, "store: write meta", rc);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		store_seterr(err, errlen, "store: commit meta", rc);
	return rc;
fail:
	mdb_txn_abort(txn);
	return rc;
}

static int
store_env_open(struct store *st, const char *dir, size_t map_size, char *err,
    size_t errlen)
{
	int rc, dead = 0;

	if ((rc = mdb_env_create(&st->env)) != 0) {
		store_seterr(err, errlen, "store: env create", rc);
		return rc;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map_size)) != 0) {
		store_seterr(err, errlen, "store: env setup", rc);
		return rc;
	}
	/*
	 * MDB_NOTLS: the event loop thread begins read transactions while the
	 * writer thread writes. Without it a reader slot is bound to the
	 * thread, so one thread can hold only one read transaction at a time
	 * (a second begin fails with MDB_BAD_RSLOT). With it the slot belongs
	 * to the MDB_txn, so loop code may overlap short readers freely.
	 * Durability flags stay off: no NOSYNC/NOMETASYNC, and no WRITEMAP,
	 * which the nested transactions of a batch that is not replayable
	 * (or of a replay) need (LMDB refuses them under WRITEMAP).
	 */
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0) {
		store_seterr(err, errlen, "store: env open", rc);
		return rc;
	}
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		store_seterr(err, errlen, "store: reader check", rc);
		return rc;
	}
	net_log(dead > 0 ? NET_LOG_WARN : NET_LOG_INFO, "store_reader_check",
	    "stale_readers_cleared=%d", dead);
	return 0;
}

/* --- the writer ---------------------------------------------------------- */

static uint64_t
store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
store_begin_batch(struct store *st, MDB_txn **txn)
{
	int rc = mdb_txn_begin(st->env, NULL, 0, txn);

	if (rc != MDB_MAP_RESIZED)
		return rc;
	/*
	 * Another process grew the map. Adopting its size remaps the file,
	 * which is only safe while no read transaction of this process is
	 * open; axled is meant to be the environment's only writer, so this
	 * is a recovery path, not a normal one.
	 */
	net_log(NET_LOG_WARN, "store_map_resized", "action=adopt");
	if ((rc = mdb_env_set_mapsize(st->env, 0)) != 0)
		return rc;
	return mdb_txn_begin(st->env, NULL, 0, txn);
}

/*
 * A batch of replayable requests runs flat: every fn straight in the batch's
 * transaction, no nested transaction (whose begin and commit copy LMDB's
 * dirty-page lists: most of the writer's CPU per Send before). The first
 * request that fails aborts the whole transaction; the batch is then run
 * again in a new one, the offender left out with its rc and every other
 * request in its own nested transaction, as a batch with any request that
 * is not replayable always is. So each fn runs at most twice, and a failing
 * request never takes its batch's other writes with it. Returns the number
 * of requests whose writes stand (0: abort, nothing to commit).
 */
static int store_run_one(struct store *st, MDB_txn *parent,
    struct store_req *r);

static int
store_run_flat(struct store *st, MDB_txn *txn, struct store_req *batch,
    unsigned *ok)
{
	struct store_req *r;

	*ok = 0;
	for (r = batch; r != NULL; r = r->next) {
		if (r->rc != 0)
			continue;	/* refused before it ran */
		if ((r->rc = r->fn(txn, st, r->arg)) != 0)
			return -1;
		(*ok)++;
	}
	return 0;
}

static unsigned
store_run_nested(struct store *st, MDB_txn *txn, struct store_req *batch)
{
	unsigned ok = 0;

	for (struct store_req *r = batch; r != NULL; r = r->next)
		if (r->rc == 0)
			ok += (r->rc = store_run_one(st, txn, r)) == 0;
	return ok;
}

static int
store_batch_replayable(const struct store_req *batch)
{
	for (const struct store_req *r = batch; r != NULL; r = r->next)
		if (!(r->flags & STORE_REPLAYABLE))
			return 0;
	return 1;
}

/* Runs one request in its own nested transaction of parent. */
static int
store_run_one(struct store *st, MDB_txn *parent, struct store_req *r)
{
	MDB_txn *child;
	int rc = mdb_txn_begin(st->env, parent, 0, &child);

	if (rc != 0)
		return rc;
	rc = r->fn(child, st, r->arg);
	if (rc != 0) {
		mdb_txn_abort(child);
		return rc;
	}
	/* On failure LMDB aborts the child itself. */
	return mdb_txn_commit(child);
}

static enum gw_store_err
store_err_of(int rc)
{
	switch (rc) {
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return STORE_ERR_MAP_FULL;
	case ENOSPC:
	case EDQUOT:
		return STORE_ERR_NO_SPACE;
	case EIO:
		return STORE_ERR_IO;
	case MDB_PANIC:
		return STORE_ERR_PANIC;
	default:
		return STORE_ERR_OTHER;
	}
}

/*
 * Whether the env may take more writes after a batch's begin or commit
 * failed with rc. LMDB never overwrites a page its last durable meta page
 * references: a failed commit is aborted, the pages it wrote are free again,
 * and every later commit writes each page it uses in full and fdatasyncs
 * them before it writes its meta page (O_DSYNC). So pages the kernel may
 * have dropped after a failed fdatasync ("fsyncgate") are pages nobody
 * references, and a refused batch leaves a sound env: on a full disk (or
 * map, quota, memory) the node keeps serving reads and refusing writes until
 * room returns. Any other errno is a failing device: the node stops rather
 * than keep acknowledging on a disk that loses writes, and a restart reopens
 * at the last durable meta page. A failed meta-page write makes LMDB answer
 * every later begin with MDB_PANIC, whatever rc said: the probe finds that.
 */
static int
store_env_sound(struct store *st, int rc)
{
	MDB_txn *probe;
	int prc;

	if (rc == MDB_PANIC || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
		return 0;
	if (rc > 0 && rc != ENOSPC && rc != EDQUOT && rc != ENOMEM)
		return 0;
	if ((prc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &probe)) == 0)
		mdb_txn_abort(probe);
	return prc != MDB_PANIC;
}

/* Every request of the batch still OK gets rc. */
static void
store_refuse(struct store_req *batch, int rc)
{
	for (struct store_req *r = batch; r != NULL; r = r->next)
		if (r->rc == 0)
			r->rc = rc;
}

/*
 * LMDB reports a short page write as EIO (mdb_page_flush: a pwrite that
 * wrote less than asked), which is what a disk filling up mid-write gives:
 * a full disk, not a failing device. EIO while the data directory's
 * filesystem has less than STORE_FULL_BYTES left counts as ENOSPC (found by
 * test_storage_faults.py on a 2 MiB tmpfs, about one run in ten).
 */
#define STORE_FULL_BYTES	(1u << 20)

static int
store_full_disk_rc(struct store *st, int rc)
{
	const char *path;
	struct statvfs sv;

	if (rc != EIO || mdb_env_get_path(st->env, &path) != 0 ||
	    statvfs(path, &sv) != 0)
		return rc;
	return (uint64_t)sv.f_bavail * sv.f_frsize < STORE_FULL_BYTES ? ENOSPC : rc;
}

/* --- the high-water mark: room kept for draining ------------------------- */

/*
 * Pages on the freelist: reusable without growing the file. Counted in a read
 * transaction of its own (LMDB opens a cursor on its free DB only for
 * readers); the writer calls it between batches, near the mark only.
 */
static uint64_t
store_free_pages(struct store *st)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	uint64_t n = 0;
	size_t cnt;

	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, 0, &c) == 0) {		/* 0: FREE_DBI */
		/* Each record is an ID list: its first word is its length. */
		while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0)
			if (d.mv_size >= sizeof(cnt)) {
				memcpy(&cnt, d.mv_data, sizeof(cnt));
				n += cnt;
			}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	return n;
}

/*
 * Bytes writes may still take: pages past the map's last page, as many as
 * the data directory's filesystem can still hold, plus the freelist's pages
 * (already on disk) when the first part alone is near the mark. UINT64_MAX
 * if it cannot be told (then nothing is refused for it).
 */
static uint64_t
store_room(struct store *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	struct statvfs sv;
	const char *path;
	uint64_t psize, used, tail, disk;

	if (mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &ms) != 0 || ms.ms_psize == 0)
		return UINT64_MAX;
	psize = ms.ms_psize;
	used = (uint64_t)info.me_last_pgno + 1;
	tail = info.me_mapsize / psize > used ? info.me_mapsize / psize - used : 0;
	if (mdb_env_get_path(st->env, &path) == 0 && statvfs(path, &sv) == 0) {
		disk = (uint64_t)sv.f_bavail * sv.f_frsize / psize;
		if (disk < tail)
			tail = disk;
	}
	if (tail * psize >= 2 * st->reserve)
		return tail * psize;
	return (tail + store_free_pages(st)) * psize;
}

/* Sets the mark (on: 1) and logs a change; cause says why. Writer thread. */
static void
store_high_water_set(struct store *st, int on, uint64_t room, const char *cause)
{
	int was;

	pthread_mutex_lock(&st->mu);
	was = st->stats.high_water;
	st->stats.high_water = on;
	if (room != UINT64_MAX)
		st->stats.room = room;
	pthread_mutex_unlock(&st->mu);
	if (on == was)
		return;
	if (on)
		net_log(NET_LOG_WARN, "store_high_water", "state=on cause=%s "
		    "room_bytes=%llu reserve_bytes=%llu action=\"new messages "
		    "and register changes are refused; fetching, acknowledging "
		    "and resolving cases go on\"", cause,
		    (unsigned long long)st->stats.room,
		    (unsigned long long)st->reserve);
	else
		net_log(NET_LOG_INFO, "store_high_water", "state=off "
		    "room_bytes=%llu reserve_bytes=%llu", (unsigned long long)room,
		    (unsigned long long)st->reserve);
}

/* Measures the room before a batch with new work: on below the reserve, off at twice it. */
static void
store_high_water_check(struct store *st)
{
	uint64_t room = store_room(st);
	int on = st->stats.high_water ? room < 2 * st->reserve :
	    room < st->reserve;

	store_high_water_set(st, on, room, "room");
}

static int
store_is_room_error(int rc)
{
	return rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOSPC ||
	    rc == EDQUOT;
}

/* The batch's begin or commit (event) failed: refuse it; fail the store if the env is unsound. */
static void
store_batch_failed(struct store *st, struct store_req *batch,
    const char *event, int rc, unsigned ok)
{
	int sound = store_env_sound(st, rc = store_full_disk_rc(st, rc));

	/* Never an ack without a commit: the batch's error is theirs. */
	net_log(NET_LOG_ERR, event, "rc=%d error=\"%s\" requests=%u action=%s",
	    rc, gw_store_strerror(rc), ok, sound ? "refused" : "fail_stop");
	store_refuse(batch, sound ? rc : STORE_EFAILED);
	pthread_mutex_lock(&st->mu);
	st->stats.errors[store_err_of(rc)]++;
	if (!sound && !st->stats.failed) {
		st->stats.failed = 1;
		st->fail_rc = rc;
	}
	pthread_mutex_unlock(&st->mu);
	/* A batch that found no room: new work waits until there is plenty. */
	if (sound && st->reserve > 0 && store_is_room_error(rc))
		store_high_water_set(st, 1, UINT64_MAX, "commit_failed");
	if (!sound)
		net_log(NET_LOG_ERR, "store_failed", "rc=%d error=\"%s\" "
		    "action=exit detail=\"no more writes; the node stops so that "
		    "a restart reopens the store at its last durable commit\"",
		    rc, gw_store_strerror(rc));
}

static void
store_account(struct store *st, struct store_req *batch, unsigned n,
    int committed, int commit_failed, uint64_t ns, int replayed)
{
	uint64_t errors = 0;

	uint64_t high_water = 0;

	for (struct store_req *r = batch; r != NULL; r = r->next) {
		errors += r->rc != 0;
		high_water += r->rc == STORE_EHIGHWATER;
	}
	pthread_mutex_lock(&st->mu);
	st->stats.high_water_refused += high_water;
	st->stats.commits += committed;
	st->stats.commit_errors += commit_failed;
	st->stats.commit_ns_total += ns;
	if (committed)
		net_hist_observe(&st->stats.commit, ns);
	st->stats.replays += replayed;
	st->stats.requests += n;
	st->stats.request_errors += errors;
	st->stats.last_batch = n;
	if (n > st->stats.max_batch)
		st->stats.max_batch = n;
	pthread_mutex_unlock(&st->mu);
}

/* Writes one batch; every request leaves with its rc set. */
static void
store_run_batch(struct store *st, struct store_req *batch, unsigned n)
{
	MDB_txn *txn;
	struct store_req *r;
	unsigned ok = 0;
	int rc, committed = 0, failed = 0, replayed = 0;
	uint64_t t0, ns = 0;

	if (st->stats.failed) {		/* only this thread sets it */
		store_refuse(batch, STORE_EFAILED);
		store_account(st, batch, n, 0, 0, 0, 0);
		return;
	}
	for (r = batch; r != NULL && st->reserve > 0; r = r->next)
		if (r->flags & STORE_NEW) {
			store_high_water_check(st);
			break;
		}
	for (r = batch; r != NULL; r = r->next)
		if ((r->flags & STORE_NEW) && st->stats.high_water)	/* only this thread sets it */
			r->rc = STORE_EHIGHWATER;
	if ((rc = store_begin_batch(st, &txn)) != 0)
		goto begin_failed;
	if (!store_batch_replayable(batch)) {
		ok = store_run_nested(st, txn, batch);
	} else if (store_run_flat(st, txn, batch, &ok) != 0) {
		/* The offender keeps its rc; the rest start again (see above). */
		mdb_txn_abort(txn);
		replayed = 1;
		if ((rc = store_begin_batch(st, &txn)) != 0)
			goto begin_failed;
		ok = store_run_nested(st, txn, batch);
	}
	if (ok == 0) {
		mdb_txn_abort(txn);	/* nothing to make durable */
	} else {
		t0 = store_now_ns();
		rc = mdb_txn_commit(txn);
		ns = store_now_ns() - t0;
		committed = rc == 0;
		failed = rc != 0;
	}
	if (failed)
		store_batch_failed(st, batch, "store_commit_failed", rc, ok);
	store_account(st, batch, n, committed, failed, ns, replayed);
	return;
begin_failed:
	store_batch_failed(st, batch, "store_begin_failed", rc, n);
	store_account(st, batch, n, 0, 1, 0, replayed);
}

/* Tells on_fatal, once, after the failing batch's completions ran. */
static void
store_tell_fatal(struct store *st)
{
	int tell, rc;

	pthread_mutex_lock(&st->mu);
	tell = st->stats.failed && !st->fatal_told;
	st->fatal_told |= tell;
	rc = st->fail_rc;
	pthread_mutex_unlock(&st->mu);
	if (tell && st->on_fatal != NULL)
		st->on_fatal(rc, st->fatal_arg);
}

static void
store_deliver(struct store *st, struct store_req *batch)
{
	struct store_req *r, *next;

	if (st->done_ev == NULL) {
		store_run_done(batch);
		store_tell_fatal(st);
		return;
	}
	pthread_mutex_lock(&st->done_mu);
	for (r = batch; r != NULL; r = next) {
		next = r->next;
		store_list_push(&st->done, r);
	}
	pthread_mutex_unlock(&st->done_mu);
	event_active(st->done_ev, 0, 1);
}

static void *
store_writer_main(void *arg)
{
	struct store *st = arg;
	struct store_req *batch;
	unsigned n;

	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (st->queue.head == NULL && !st->stopping)
			pthread_cond_wait(&st->cond, &st->mu);
		batch = store_list_take(&st->queue, st->batch_max, &n);
		pthread_mutex_unlock(&st->mu);
		if (batch == NULL)
			return NULL;	/* stopping and drained */
		store_run_batch(st, batch, n);
		store_deliver(st, batch);
	}
}

/* Loop-thread side: takes every finished request and completes it. */
static void
store_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	struct store_req *list;

	pthread_mutex_lock(&st->done_mu);
	list = st->done.head;
	st->done.head = st->done.tail = NULL;
	pthread_mutex_unlock(&st->done_mu);
	store_run_done(list);
	store_tell_fatal(st);
}

/* --- public -------------------------------------------------------------- */

static int
store_start_writer(struct store *st, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	/* Signals belong to the loop thread, not the writer. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&st->writer, NULL, store_writer_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Named so that `make bench` finds its CPU time in /proc/PID/task. */
	if (rc == 0)
		(void)pthread_setname_np(st->writer, STORE_WRITER_NAME);
	if (rc != 0)
		store_seterr(err, errlen, "store: writer thread", rc);
	return rc;
}

static int
store_attach_loop(struct store *st, struct event_base *base, char *err,
    size_t errlen)
{
	/*
	 * event_active() from the writer needs a base with locks, i.e. one
	 * created after evthread_use_pthreads(); the daemon calls it first.
	 */
	if (evthread_use_pthreads() != 0 ||
	    evthread_make_base_notifiable(base) != 0 ||
	    (st->done_ev = event_new(base, -1, 0, store_done_cb, st)) == NULL) {
		store_seterr(err, errlen, "store: event loop", ENOMEM);
		return ENOMEM;
	}
	return 0;
}

static void
store_free(struct store *st)
{
	if (st->done_ev != NULL)
		event_free(st->done_ev);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->done_mu);
	free(st);
}

/*
 * The reserve: at most a quarter of the map (as opened: maybe grown to the
 * data) and of the data directory's filesystem, so that a small store still
 * takes new work.
 */
static int
store_set_reserve(struct store *st, size_t reserve, char *err, size_t errlen)
{
	MDB_envinfo info;
	struct statvfs sv;
	const char *path;
	uint64_t r = reserve;
	int rc;

	if ((rc = mdb_env_info(st->env, &info)) != 0) {
		store_seterr(err, errlen, "store: env info", rc);
		return rc;
	}
	if (r > info.me_mapsize / 4)
		r = info.me_mapsize / 4;
	if (mdb_env_get_path(st->env, &path) == 0 && statvfs(path, &sv) == 0 &&
	    r > (uint64_t)sv.f_blocks * sv.f_frsize / 4)
		r = (uint64_t)sv.f_blocks * sv.f_frsize / 4;
	st->reserve = r;
	st->stats.reserve = r;
	return 0;
}

int
gw_store_open(struct store **out, struct event_base *base, const char *dir,
    const struct gw_store_opts *opts, char *err, size_t errlen)
{
	struct store *st;
	size_t map_size = opts != NULL && opts->map_size ? opts->map_size :
	    STORE_MAP_DEFAULT;
	int rc;

	*out = NULL;
	if ((rc = store_mkdirs(dir)) != 0) {
		store_seterr(err, errlen, "store: mkdir", rc);
		return rc;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		store_seterr(err, errlen, "store", ENOMEM);
		return ENOMEM;
	}
	st->batch_max = opts != NULL && opts->batch_max ? opts->batch_max :
	    STORE_BATCH_DEFAULT;
	if (opts != NULL) {
		st->on_fatal = opts->on_fatal;
		st->fatal_arg = opts->fatal_arg;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->done_mu, NULL);
	pthread_cond_init(&st->cond, NULL);
	if ((rc = store_env_open(st, dir, map_size, err, errlen)) != 0 ||
	    (rc = store_init_dbs(st, err, errlen)) != 0 ||
	    (rc = store_set_reserve(st, opts != NULL ? opts->reserve : 0, err,
	    errlen)) != 0 ||
	    (base != NULL && (rc = store_attach_loop(st, base, err, errlen))) ||
	    (rc = store_start_writer(st, err, errlen)) != 0) {
		store_free(st);
		return rc;
	}
	net_log(NET_LOG_INFO, "store_open", "boot_count=%llu map_size=%zu "
	    "batch_max=%u reserve=%llu", (unsigned long long)st->boot_count,
	    map_size, st->batch_max, (unsigned long long)st->reserve);
	*out = st;
	return 0;
}

int
gw_store_submitf(struct store *st, unsigned flags, store_write_fn fn,
    store_done_fn done, void *arg)
{
	struct store_req *r = malloc(sizeof(*r));

	if (r == NULL)
		return ENOMEM;
	r->fn = fn;
	r->done = done;
	r->arg = arg;
	r->rc = 0;
	r->flags = flags;
	pthread_mutex_lock(&st->mu);
	if (st->stopping) {
		pthread_mutex_unlock(&st->mu);
		free(r);
		return ESHUTDOWN;
	}
	store_list_push(&st->queue, r);
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

int
gw_store_submit(struct store *st, store_write_fn fn, store_done_fn done,
    void *arg)
{
	return gw_store_submitf(st, 0, fn, done, arg);
}

int
gw_store_submit_new(struct store *st, store_write_fn fn, store_done_fn done,
    void *arg)
{
	return gw_store_submitf(st, STORE_NEW, fn, done, arg);
}

int
gw_store_write_now(struct store *st, store_write_fn fn, void *arg)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = fn(txn, st, arg);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

MDB_env *
gw_store_env(struct store *st)
{
	return st->env;
}

MDB_dbi
gw_store_dbi(struct store *st, enum gw_store_db db)
{
	return st->dbi[db];
}

uint64_t
gw_store_boot_count(struct store *st)
{
	return st->boot_count;
}

int
gw_store_read_begin(struct store *st, MDB_txn **txn)
{
	return mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
}

void
gw_store_drain(struct store *st)
{
	if (st == NULL || st->drained)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = 1;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->writer, NULL);
	st->drained = 1;
	/* The writer has drained; complete what the loop has not yet seen. */
	if (st->done_ev != NULL)
		store_done_cb(-1, 0, st);
}

void
gw_store_close(struct store *st)
{
	if (st == NULL)
		return;
	gw_store_drain(st);
	net_log(NET_LOG_INFO, "store_close", "commits=%llu requests=%llu",
	    (unsigned long long)st->stats.commits,
	    (unsigned long long)st->stats.requests);
	store_free(st);
}

void
gw_store_get_stats(struct store *st, struct gw_store_stats *out)
{
	MDB_envinfo info;
	MDB_stat ms;

	pthread_mutex_lock(&st->mu);
	*out = st->stats;
	pthread_mutex_unlock(&st->mu);
	if (mdb_env_info(st->env, &info) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		out->map_size = info.me_mapsize;
		out->map_used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	}
}

int
gw_store_rc_grpc_status(int rc)
{
	if (rc == 0)
		return GRPC_OK;
	if (rc == MDB_MAP_FULL || rc == STORE_EHIGHWATER || rc == ENOSPC ||
	    rc == -ENOSPC || rc == EDQUOT || rc == -EDQUOT)
		return GRPC_RESOURCE_EXHAUSTED;
	return GRPC_UNAVAILABLE;
}

const char *
gw_store_err_name(enum gw_store_err e)
{
	static const char *const names[STORE_ERR__COUNT] = {
		[STORE_ERR_MAP_FULL] = "map_full",
		[STORE_ERR_NO_SPACE] = "no_space",
		[STORE_ERR_IO] = "io",
		[STORE_ERR_PANIC] = "panic",
		[STORE_ERR_OTHER] = "other",
	};

	return (unsigned)e < STORE_ERR__COUNT ? names[e] : "other";
}

const char *
gw_store_strerror(int rc)
{
	if (rc == STORE_EFAILED)
		return "the node's storage failed: nothing was written, and the "
		    "node is restarting; retry shortly";
	if (rc == STORE_EHIGHWATER)
		return "the node's storage is nearly full: new messages and "
		    "register changes are refused until hubs fetch and "
		    "acknowledge theirs or the operator adds room ([limits] "
		    "map_size_mb, disk); fetching, acknowledging and resolving "
		    "still work; retry later";
	/* LMDB's own codes sit in [MDB_KEYEXIST, MDB_LAST_ERRCODE]. */
	if (rc < 0 && (rc < MDB_KEYEXIST || rc > MDB_LAST_ERRCODE))
		return strerror(-rc);
	return mdb_strerror(rc);
}
