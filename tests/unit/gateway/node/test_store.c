/* test_store.c -- the LMDB store: persistence, per-request isolation (nested or flat and replayed), group commit, MAP_FULL, disk errors, loop delivery, drain on close. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "gateway/net/grpc_status.h"
#include "gateway/node/store.h"

/*
 * Not covered: mdb_reader_check clearing a stale reader. That needs a
 * process that dies holding a read transaction; in-process readers are
 * never stale. gw_store_open logs the count (stale_readers_cleared=).
 */

/* --- helpers ------------------------------------------------------------- */

struct tdir {
	char root[64];		/* mkdtemp'd */
	char env[128];		/* root/a/b: gw_store_open must create it */
};

static void
tdir_make(struct tdir *t)
{
	strcpy(t->root, "/tmp/axle-store-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->env, sizeof(t->env), "%s/a/b", t->root);
}

static void
tdir_remove(struct tdir *t)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/data.mdb", t->env);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", t->env);
	unlink(p);
	rmdir(t->env);
	snprintf(p, sizeof(p), "%s/a", t->root);
	rmdir(p);
	assert_int_equal(rmdir(t->root), 0);
}

/* Blocks the writer inside a request until the test opens it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int started, open;
};

static struct gate *
gate_new(void)
{
	struct gate *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cond, NULL);
	return g;
}

static void
gate_wait_started(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->started)
		pthread_cond_wait(&g->cond, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_free(struct gate *g)
{
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cond);
	free(g);
}

/* Completion counter shared by every request of a test. */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;
static struct event_base *done_base;	/* loopbreak at done_target */
static int done_target;

/* One write request: put key=val, optionally fail after the put. */
struct wreq {
	char key[32];
	char val[600];
	size_t vlen;
	unsigned put_flags;
	int force_rc;		/* returned after a successful put */
	struct gate *gate;	/* block before writing */
	int rc;
	int ndone;
	int runs;		/* times wreq_fn ran (a flat batch's replay: 2) */
	pthread_t thread;
};

static void
wreq_init(struct wreq *w, const char *key, const char *val)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->vlen = strlen(val);
	memcpy(w->val, val, w->vlen);
	w->rc = -1;
}

static int
wreq_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct wreq *w = arg;
	MDB_val k = { strlen(w->key), w->key }, v = { w->vlen, w->val };
	int rc;

	if (w->gate != NULL) {
		pthread_mutex_lock(&w->gate->mu);
		w->gate->started = 1;
		pthread_cond_broadcast(&w->gate->cond);
		while (!w->gate->open)
			pthread_cond_wait(&w->gate->cond, &w->gate->mu);
		pthread_mutex_unlock(&w->gate->mu);
	}
	w->runs++;
	rc = mdb_put(txn, gw_store_dbi(st, STORE_DB_META), &k, &v, w->put_flags);
	return rc != 0 ? rc : w->force_rc;
}

static void
wreq_done(int rc, void *arg)
{
	struct wreq *w = arg;

	w->rc = rc;
	w->ndone++;
	w->thread = pthread_self();
	pthread_mutex_lock(&done_mu);
	done_count++;
	if (done_base != NULL && done_count >= done_target)
		event_base_loopbreak(done_base);
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_mu);
}

static void
done_reset(void)
{
	pthread_mutex_lock(&done_mu);
	done_count = 0;
	done_base = NULL;
	done_target = 0;
	pthread_mutex_unlock(&done_mu);
}

/* Waits for n completions; the deadline only guards against a hang. */
static void
done_wait(int n)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&done_mu);
	while (done_count < n && rc == 0)
		rc = pthread_cond_timedwait(&done_cond, &done_mu, &dl);
	pthread_mutex_unlock(&done_mu);
	assert_int_equal(rc, 0);
}

static struct store *
open_store(struct tdir *t, struct event_base *base, size_t map, unsigned batch)
{
	struct gw_store_opts o = { .map_size = map, .batch_max = batch };
	struct store *st;
	char err[256] = "";
	int rc = gw_store_open(&st, base, t->env, &o, err, sizeof(err));

	if (rc != 0)
		print_error("store_open: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(st);
	return st;
}

/* Reads key into buf (NUL-terminated); returns the mdb_get rc. */
static int
read_key(struct store *st, const char *key, char *buf, size_t len)
{
	MDB_txn *txn;
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	assert_int_equal(gw_store_read_begin(st, &txn), 0);
	rc = mdb_get(txn, gw_store_dbi(st, STORE_DB_META), &k, &v);
	if (rc == 0) {
		assert_true(v.mv_size < len);
		memcpy(buf, v.mv_data, v.mv_size);	/* copy before txn end */
		buf[v.mv_size] = '\0';
	}
	mdb_txn_abort(txn);
	return rc;
}

static void
assert_key(struct store *st, const char *key, const char *want)
{
	char buf[700];

	assert_int_equal(read_key(st, key, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void
assert_no_key(struct store *st, const char *key)
{
	char buf[700];

	assert_int_equal(read_key(st, key, buf, sizeof(buf)), MDB_NOTFOUND);
}

/* Submits one write and waits for it; returns its rc. */
static int
write_sync(struct store *st, const char *key, const char *val)
{
	struct wreq w;

	done_reset();
	wreq_init(&w, key, val);
	assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w), 0);
	done_wait(1);
	assert_int_equal(w.ndone, 1);
	return w.rc;
}

/* --- tests --------------------------------------------------------------- */

static void
test_open_reopen_persists(void **state)
{
	struct tdir t;
	struct store *st;
	struct stat sb;
	char p[256];

	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(gw_store_boot_count(st), 1);
	assert_int_equal(write_sync(st, "k1", "v1"), 0);
	gw_store_close(st);

	assert_int_equal(stat(t.env, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/data.mdb", t.env);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);

	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(gw_store_boot_count(st), 2);
	assert_key(st, "k1", "v1");
	gw_store_close(st);
	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(gw_store_boot_count(st), 3);
	gw_store_close(st);
	tdir_remove(&t);
}

static void
test_open_errors(void **state)
{
	struct tdir t;
	struct store *st = (struct store *)1;
	struct gw_store_opts o = { .map_size = 1 << 20 };
	char err[256] = "", file[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	unsigned char v99[8] = { 99 };
	MDB_val k = { 6, "format" }, v = { 8, v99 };
	FILE *f;

	/* A path under a regular file cannot be created. */
	tdir_make(&t);
	snprintf(file, sizeof(file), "%s/a", t.root);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	assert_int_not_equal(gw_store_open(&st, NULL, t.env, &o, err,
	    sizeof(err)), 0);
	assert_null(st);
	assert_true(strlen(err) > 0);
	unlink(file);

	/* Data written by a newer format is refused, not misread. */
	assert_int_equal(mkdir(file, 0700), 0);
	assert_int_equal(mkdir(t.env, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, t.env, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	err[0] = '\0';
	assert_int_equal(gw_store_open(&st, NULL, t.env, &o, err, sizeof(err)),
	    MDB_VERSION_MISMATCH);
	assert_null(st);
	assert_non_null(strstr(err, "format 99"));
	tdir_remove(&t);
}

/*
 * The data format a store records. 0.1.0 (format 1) refuses only a newer
 * format, and it cannot read what this build writes: version 2 message
 * records in sw.msgs and hold deadlines (kind 3) in sw.deadlines (it would
 * stop firing delivery and reply deadlines behind one). So this build must
 * record format 2 or newer, and still open a format 1 store (upgrading it).
 */
static void
test_format_stamp(void **state)
{
	struct tdir t;
	struct store *st;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	unsigned char v1[8] = { 1 };	/* little-endian, as store.c writes */
	MDB_val k = { 6, "format" }, v;
	uint64_t format = 0;

	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 0);
	gw_store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, t.env, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 8);
	for (int i = 7; i >= 0; i--)
		format = format << 8 | ((unsigned char *)v.mv_data)[i];
	assert_true(format >= 2);
	/* A store as 0.1.0 left it opens and is stamped with this format. */
	v = (MDB_val){ 8, v1 };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(gw_store_boot_count(st), 2);
	gw_store_close(st);
	tdir_remove(&t);
}

/*
 * One batch of five requests, three of which fail (one with its own
 * MAP_FULL), submitted with flags (mixed: w[4] without them): only the
 * failing ones' writes are undone, whichever way the batch ran.
 */
static void
failing_batch(unsigned flags, int mixed, uint64_t want_replays)
{
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	struct wreq w[6];
	struct gate *g = gate_new();

	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(write_sync(st, "dup", "old"), 0);
	done_reset();

	/* w[0] holds the writer so w[1..5] share one batch. */
	wreq_init(&w[0], "first", "1");
	w[0].gate = g;
	wreq_init(&w[1], "a", "A");
	wreq_init(&w[2], "dup", "new");		/* fails: MDB_KEYEXIST */
	w[2].put_flags = MDB_NOOVERWRITE;
	wreq_init(&w[3], "neg", "x");		/* put, then -EINVAL */
	w[3].force_rc = -EINVAL;
	wreq_init(&w[4], "b", "B");
	wreq_init(&w[5], "mapfull", "y");	/* its own MAP_FULL */
	w[5].force_rc = MDB_MAP_FULL;
	assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w[0]), 0);
	gate_wait_started(g);
	for (int i = 1; i < 6; i++)
		assert_int_equal(gw_store_submitf(st, mixed && i == 4 ? 0 : flags,
		    wreq_fn, wreq_done, &w[i]), 0);
	gate_open(g);
	done_wait(6);

	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, 0);
	assert_int_equal(w[2].rc, MDB_KEYEXIST);
	assert_int_equal(w[3].rc, -EINVAL);
	assert_int_equal(w[4].rc, 0);
	assert_int_equal(w[5].rc, MDB_MAP_FULL);
	assert_key(st, "a", "A");
	assert_key(st, "b", "B");
	assert_key(st, "dup", "old");
	assert_no_key(st, "neg");
	assert_no_key(st, "mapfull");
	gw_store_get_stats(st, &s);
	assert_int_equal(s.last_batch, 5);
	assert_int_equal(s.request_errors, 3);
	assert_int_equal(s.requests, 7);
	assert_int_equal(s.commit_errors, 0);
	assert_int_equal(s.replays, want_replays);
	/* Flat and replayed: w[1] ran before the offender w[2], and again. */
	assert_int_equal(w[1].runs, want_replays ? 2 : 1);
	for (int i = 2; i < 6; i++)
		assert_int_equal(w[i].runs, 1);
	gw_store_close(st);
	for (int i = 0; i < 6; i++)
		assert_int_equal(w[i].ndone, 1);
	gate_free(g);
	tdir_remove(&t);
}

/* Each request in its own nested transaction. */
static void
test_failing_request_isolated(void **state)
{
	failing_batch(0, 0, 0);
}

/* Replayable: run flat, then again without the offender, the rest nested. */
static void
test_failing_request_replayed(void **state)
{
	failing_batch(STORE_REPLAYABLE, 0, 1);
}

/* One request that is not replayable: the whole batch runs nested. */
static void
test_failing_request_mixed_batch(void **state)
{
	failing_batch(STORE_REPLAYABLE, 1, 0);
}

/* A flat batch that succeeds commits once, each fn run once, no replay. */
static void
test_flat_batch(void **state)
{
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	struct wreq w[4];
	struct gate *g = gate_new();

	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 0);
	done_reset();
	wreq_init(&w[0], "first", "1");
	w[0].gate = g;
	wreq_init(&w[1], "x", "X");
	wreq_init(&w[2], "y", "Y");
	wreq_init(&w[3], "z", "Z");
	for (int i = 0; i < 4; i++) {
		assert_int_equal(gw_store_submitf(st, STORE_REPLAYABLE, wreq_fn,
		    wreq_done, &w[i]), 0);
		if (i == 0)
			gate_wait_started(g);
	}
	gate_open(g);
	done_wait(4);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.commits, 2);
	assert_int_equal(s.last_batch, 3);
	assert_int_equal(s.replays, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(w[i].runs, 1);
	}
	assert_key(st, "x", "X");
	assert_key(st, "z", "Z");
	gw_store_close(st);
	gate_free(g);
	tdir_remove(&t);
}

#define GC_THREADS	5
#define GC_PER_THREAD	10

struct submitter {
	struct store *st;
	struct wreq *w;		/* GC_PER_THREAD of them */
};

static void *
submitter_main(void *arg)
{
	struct submitter *s = arg;

	for (int i = 0; i < GC_PER_THREAD; i++)
		if (gw_store_submit(s->st, wreq_fn, wreq_done, &s->w[i]) != 0)
			return (void *)1;
	return NULL;
}

static void
test_group_commit(void **state)
{
	enum { N = GC_THREADS * GC_PER_THREAD };
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	struct wreq first, w[N];
	struct submitter sub[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct gate *g = gate_new();
	char key[32];
	void *ret;

	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 128);
	done_reset();
	wreq_init(&first, "first", "1");
	first.gate = g;
	assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &first), 0);
	gate_wait_started(g);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		wreq_init(&w[i], key, key);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		sub[i].st = st;
		sub[i].w = &w[i * GC_PER_THREAD];
		assert_int_equal(pthread_create(&th[i], NULL, submitter_main,
		    &sub[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	gw_store_get_stats(st, &s);
	assert_int_equal(s.commits, 0);		/* first is still held */
	gate_open(g);
	done_wait(N + 1);

	gw_store_get_stats(st, &s);
	assert_int_equal(s.requests, N + 1);
	assert_int_equal(s.commits, 2);		/* first, then all 50 */
	assert_int_equal(s.max_batch, N);
	assert_int_equal(s.last_batch, N);
	assert_int_equal(s.request_errors, 0);
	assert_true(s.commit_ns_total > 0);
	assert_true(s.map_used > 0 && s.map_used <= s.map_size);
	assert_int_equal(s.map_size, 1 << 20);
	gw_store_close(st);
	assert_int_equal(first.ndone, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].ndone, 1);
		assert_int_equal(w[i].rc, 0);
	}
	gate_free(g);

	st = open_store(&t, NULL, 1 << 20, 0);
	assert_key(st, "k00", "k00");
	assert_key(st, "k49", "k49");
	gw_store_close(st);
	tdir_remove(&t);
}

/* A write fn that changes nothing: shows the store still works. */
static int
noop_fn(MDB_txn *txn, struct store *st, void *arg)
{
	return 0;
}

static void
test_map_full(void **state)
{
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	char key[32], val[520];
	int rc = 0, ok = 0;

	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	tdir_make(&t);
	st = open_store(&t, NULL, 64 << 10, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key%04d", i);
		if ((rc = write_sync(st, key, val)) != 0)
			break;
		ok++;
	}
	assert_int_equal(rc, MDB_MAP_FULL);
	assert_true(ok > 5);
	assert_int_equal(gw_store_rc_grpc_status(rc), GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(gw_store_strerror(rc), "MDB_MAP_FULL"));

	/* Still full, still alive, and a write that adds nothing succeeds. */
	assert_int_equal(write_sync(st, "more", val), MDB_MAP_FULL);
	struct wreq dummy;
	done_reset();
	wreq_init(&dummy, "", "");
	assert_int_equal(gw_store_submit(st, noop_fn, wreq_done, &dummy), 0);
	done_wait(1);
	assert_int_equal(dummy.rc, 0);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.request_errors, 2);
	assert_int_equal(s.map_size, 64 << 10);
	assert_true(s.map_used <= s.map_size);
	gw_store_close(st);

	/* Everything acknowledged is there, even with the same small map. */
	st = open_store(&t, NULL, 64 << 10, 0);
	snprintf(key, sizeof(key), "key%04d", ok - 1);
	assert_key(st, key, val);
	assert_key(st, "key0000", val);
	snprintf(key, sizeof(key), "key%04d", ok);
	assert_no_key(st, key);
	assert_no_key(st, "more");
	gw_store_close(st);

	/* A larger map makes room again. */
	st = open_store(&t, NULL, 1 << 20, 0);
	assert_int_equal(write_sync(st, "more", val), 0);
	snprintf(key, sizeof(key), "key%04d", ok);
	assert_int_equal(write_sync(st, key, val), 0);
	assert_key(st, "more", val);
	assert_key(st, "key0000", val);
	gw_store_close(st);
	tdir_remove(&t);
}

/* Submits one write of new work (gw_store_submit_new) and waits; returns its rc. */
static int
write_new_sync(struct store *st, const char *key, const char *val)
{
	struct wreq w;

	done_reset();
	wreq_init(&w, key, val);
	assert_int_equal(gw_store_submit_new(st, wreq_fn, wreq_done, &w), 0);
	done_wait(1);
	assert_int_equal(w.ndone, 1);
	return w.rc;
}

/* Deletes key0000 .. key<del_n - 1> (the drain: gw_store_submit); arg is a wreq. */
static int del_n;

static int
del_fn(MDB_txn *txn, struct store *st, void *arg)
{
	int n = del_n, rc;
	char key[32];

	(void)arg;
	for (int i = 0; i < n; i++) {
		MDB_val k;

		snprintf(key, sizeof(key), "key%04d", i);
		k = (MDB_val){ strlen(key), key };
		if ((rc = mdb_del(txn, gw_store_dbi(st, STORE_DB_META), &k, NULL)) != 0)
			return rc;
	}
	return 0;
}

/*
 * The high-water mark: new work is refused (STORE_EHIGHWATER, nothing
 * written) while less than the reserve is free, writes that drain still
 * commit in the reserve, and new work is taken again once twice the reserve
 * is free (the freelist counts: LMDB reuses, never shrinks).
 */
static void
test_high_water(void **state)
{
	struct gw_store_opts o = { .map_size = 256 << 10, .reserve = 64 << 10 };
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	struct wreq drain;
	char key[32], val[520], err[256];
	int rc = 0, ok = 0;

	(void)state;
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	tdir_make(&t);
	assert_int_equal(gw_store_open(&st, NULL, t.env, &o, err, sizeof(err)), 0);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.reserve, 64 << 10);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key%04d", i);
		if ((rc = write_new_sync(st, key, val)) != 0)
			break;
		ok++;
	}
	assert_int_equal(rc, STORE_EHIGHWATER);
	assert_true(ok > 20);
	assert_no_key(st, key);
	assert_int_equal(gw_store_rc_grpc_status(rc), GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(gw_store_strerror(rc), "nearly full"));
	gw_store_get_stats(st, &s);
	assert_int_equal(s.high_water, 1);
	assert_int_equal(s.high_water_refused, 1);
	assert_true(s.room < s.reserve);
	assert_int_equal(s.errors[STORE_ERR_MAP_FULL], 0);	/* never hit the map */

	/* The reserve is for the drain: it grows a little, then frees. */
	assert_int_equal(write_sync(st, "drain-note", val), 0);
	assert_int_equal(write_new_sync(st, "more", val), STORE_EHIGHWATER);
	done_reset();
	wreq_init(&drain, "", "");
	del_n = ok;
	assert_int_equal(gw_store_submit(st, del_fn, wreq_done, &drain), 0);
	done_wait(1);
	assert_int_equal(drain.rc, 0);
	assert_int_equal(write_sync(st, "drain-note2", val), 0);	/* reuse starts */
	assert_int_equal(write_new_sync(st, "more", val), 0);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.high_water, 0);
	assert_true(s.room >= 2 * s.reserve);
	assert_key(st, "more", val);
	gw_store_close(st);

	/* A reserve over a quarter of the map is cut to a quarter. */
	o.reserve = 200 << 10;
	assert_int_equal(gw_store_open(&st, NULL, t.env, &o, err, sizeof(err)), 0);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.reserve, 64 << 10);
	gw_store_close(st);
	tdir_remove(&t);
}

/*
 * A batch that overflows the map part-way: whatever LMDB fails (a request's
 * nested transaction or the batch commit), a request acknowledged with 0 is
 * durable and one that failed left nothing behind.
 */
static void
test_map_full_in_batch(void **state)
{
	enum { N = 40 };
	struct tdir t;
	struct store *st;
	struct wreq first, *w = calloc(N, sizeof(*w));
	struct gate *g = gate_new();
	char key[32], val[520];
	int failed = 0;

	assert_non_null(w);
	memset(val, 'w', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	tdir_make(&t);
	st = open_store(&t, NULL, 64 << 10, 0);
	assert_int_equal(write_sync(st, "before", "x"), 0);
	done_reset();
	wreq_init(&first, "first", "1");
	first.gate = g;
	assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &first), 0);
	gate_wait_started(g);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "B%02d", i);
		wreq_init(&w[i], key, val);
		assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w[i]), 0);
	}
	gate_open(g);
	done_wait(N + 1);
	gw_store_close(st);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].ndone, 1);
		assert_true(w[i].rc == 0 || w[i].rc == MDB_MAP_FULL);
		failed += w[i].rc != 0;
	}
	assert_true(failed > 0);

	st = open_store(&t, NULL, 64 << 10, 0);
	assert_key(st, "before", "x");
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "B%02d", i);
		if (w[i].rc == 0)
			assert_key(st, key, val);
		else
			assert_no_key(st, key);
	}
	gw_store_close(st);
	gate_free(g);
	free(w);
	tdir_remove(&t);
}

static void
safety_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_loop_delivery(void **state)
{
	enum { N = 10 };
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	struct event_base *base;
	struct event *guard;
	struct timeval tv = { 20, 0 };
	struct timespec ms = { 0, 1000000 };
	struct wreq w[N];
	char key[32];
	pthread_t self = pthread_self();

	assert_int_equal(evthread_use_pthreads(), 0);
	assert_non_null(base = event_base_new());
	tdir_make(&t);
	st = open_store(&t, base, 1 << 20, 0);
	done_reset();
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "L%d", i);
		wreq_init(&w[i], key, "x");
		assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w[i]), 0);
	}
	/* Committed, but nobody ran the loop: no completion yet. */
	for (int i = 0; i < 20000; i++) {
		gw_store_get_stats(st, &s);
		if (s.requests == N)
			break;
		nanosleep(&ms, NULL);
	}
	assert_int_equal(s.requests, N);
	pthread_mutex_lock(&done_mu);
	assert_int_equal(done_count, 0);
	done_base = base;
	done_target = N;
	pthread_mutex_unlock(&done_mu);

	guard = evtimer_new(base, safety_timeout_cb, base);
	evtimer_add(guard, &tv);
	assert_int_equal(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY), 0);
	assert_int_equal(done_count, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].ndone, 1);
		assert_int_equal(w[i].rc, 0);
		assert_true(pthread_equal(w[i].thread, self));
	}
	gw_store_close(st);
	event_free(guard);
	event_base_free(base);
	tdir_remove(&t);
}

static void
test_close_drains_with_base(void **state)
{
	enum { N = 100 };
	struct tdir t;
	struct store *st;
	struct event_base *base;
	struct wreq *w = calloc(N, sizeof(*w));
	char key[32];
	pthread_t self = pthread_self();

	assert_non_null(w);
	assert_int_equal(evthread_use_pthreads(), 0);
	assert_non_null(base = event_base_new());
	tdir_make(&t);
	st = open_store(&t, base, 1 << 20, 16);
	done_reset();
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "D%03d", i);
		wreq_init(&w[i], key, key);
		assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w[i]), 0);
	}
	gw_store_close(st);	/* the loop never ran: close completes them */
	assert_int_equal(done_count, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].ndone, 1);
		assert_int_equal(w[i].rc, 0);
		assert_true(pthread_equal(w[i].thread, self));
	}
	event_base_free(base);

	st = open_store(&t, NULL, 1 << 20, 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "D%03d", i);
		assert_key(st, key, key);
	}
	gw_store_close(st);
	free(w);
	tdir_remove(&t);
}

static void *
closer_main(void *arg)
{
	gw_store_close(arg);
	return NULL;
}

static void
test_close_drains_and_refuses(void **state)
{
	enum { N = 100, MAXNOOP = 100000 };
	struct tdir t;
	struct store *st;
	struct wreq first, *w = calloc(N, sizeof(*w));
	struct wreq *noop = calloc(MAXNOOP, sizeof(*noop));
	struct gate *g = gate_new();
	pthread_t closer;
	char key[32];
	int rc = 0, accepted = 0;

	assert_non_null(w);
	assert_non_null(noop);
	tdir_make(&t);
	st = open_store(&t, NULL, 1 << 20, 8);
	done_reset();
	wreq_init(&first, "first", "1");
	first.gate = g;
	assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &first), 0);
	gate_wait_started(g);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "C%03d", i);
		wreq_init(&w[i], key, key);
		assert_int_equal(gw_store_submit(st, wreq_fn, wreq_done, &w[i]), 0);
	}
	/* close waits on the held writer; submits until it says ESHUTDOWN. */
	assert_int_equal(pthread_create(&closer, NULL, closer_main, st), 0);
	while (accepted < MAXNOOP) {
		rc = gw_store_submit(st, noop_fn, wreq_done, &noop[accepted]);
		if (rc != 0)
			break;
		accepted++;
		sched_yield();
	}
	assert_int_equal(rc, ESHUTDOWN);
	gate_open(g);
	assert_int_equal(pthread_join(closer, NULL), 0);

	assert_int_equal(done_count, N + 1 + accepted);
	assert_int_equal(first.ndone, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].ndone, 1);
		assert_int_equal(w[i].rc, 0);
	}
	for (int i = 0; i < accepted; i++)
		assert_int_equal(noop[i].ndone, 1);

	st = open_store(&t, NULL, 1 << 20, 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "C%03d", i);
		assert_key(st, key, key);
	}
	gw_store_close(st);
	gate_free(g);
	free(w);
	free(noop);
	tdir_remove(&t);
}

/* --- disk errors ------------------------------------------------------------ */

/*
 * The fd of env's data.mdb: LMDB's page fd (dsync 0) or its meta-page fd,
 * opened O_DSYNC (dsync 1). Writes to /dev/full fail with ENOSPC, so dup2()
 * of it over one of them fails exactly that kind of write, deterministically.
 */
static int
data_fd(const struct tdir *t, int dsync)
{
	char want[160], link[PATH_MAX], path[320], line[128];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int found = -1;

	assert_non_null(d);
	snprintf(want, sizeof(want), "%s/data.mdb", t->env);
	while (found < 0 && (de = readdir(d)) != NULL) {
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long flags;

			if (sscanf(line, "flags: %lo", &flags) == 1 &&
			    ((flags & O_DSYNC) != 0) == dsync)
				found = atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	assert_true(found >= 0);
	return found;
}

/* Points fd at /dev/full; returns a dup of what it was, for disk_restore. */
static int
disk_fill(int fd)
{
	int saved = dup(fd), full = open("/dev/full", O_WRONLY);

	assert_true(saved >= 0 && full >= 0);
	assert_int_equal(dup2(full, fd), fd);
	close(full);
	return saved;
}

static void
disk_restore(int fd, int saved)
{
	assert_int_equal(dup2(saved, fd), fd);
	close(saved);
}

/*
 * Written on the writer thread (no event base), after the failed batch's
 * completions: a later write_sync's return shows the earlier call ran (one
 * writer thread, one batch after the other).
 */
static atomic_int fatal_calls, fatal_rc;

static void
on_fatal(int rc, void *arg)
{
	(void)arg;
	atomic_store(&fatal_rc, rc);
	atomic_fetch_add(&fatal_calls, 1);
}

static struct store *
open_store_fatal(struct tdir *t)
{
	struct gw_store_opts o = { .on_fatal = on_fatal };
	struct store *st;
	char err[256] = "";

	atomic_store(&fatal_calls, 0);
	atomic_store(&fatal_rc, 0);
	assert_int_equal(gw_store_open(&st, NULL, t->env, &o, err, sizeof(err)), 0);
	return st;
}

/*
 * ENOSPC on a page write: the batch is refused and counted, the store stays
 * writable, and once there is room again writes are acknowledged; after a
 * reopen the acknowledged keys are there and the refused one is not.
 */
static void
test_disk_full_pages(void **state)
{
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	int fd, saved;

	tdir_make(&t);
	st = open_store_fatal(&t);
	assert_int_equal(write_sync(st, "before", "1"), 0);
	fd = data_fd(&t, 0);
	saved = disk_fill(fd);
	assert_int_equal(write_sync(st, "refused", "2"), ENOSPC);
	disk_restore(fd, saved);
	assert_int_equal(write_sync(st, "after", "3"), 0);
	gw_store_get_stats(st, &s);
	assert_int_equal(s.errors[STORE_ERR_NO_SPACE], 1);
	assert_int_equal(s.failed, 0);
	assert_int_equal(atomic_load(&fatal_calls), 0);
	gw_store_close(st);

	st = open_store(&t, NULL, 0, 0);
	assert_key(st, "before", "1");
	assert_key(st, "after", "3");
	assert_no_key(st, "refused");
	gw_store_close(st);
	tdir_remove(&t);
}

/*
 * ENOSPC on the meta-page write, after the pages were written and synced:
 * LMDB marks the env fatal (MDB_PANIC from then on). The store must see
 * that although the commit said ENOSPC: refuse with STORE_EFAILED, call
 * on_fatal once, refuse every later write; a reopen is sound.
 */
static void
test_meta_write_fails_store(void **state)
{
	struct tdir t;
	struct store *st;
	struct gw_store_stats s;
	int fd, saved;

	tdir_make(&t);
	st = open_store_fatal(&t);
	assert_int_equal(write_sync(st, "before", "1"), 0);
	fd = data_fd(&t, 1);
	saved = disk_fill(fd);
	assert_int_equal(write_sync(st, "lost", "2"), STORE_EFAILED);
	disk_restore(fd, saved);
	assert_int_equal(write_sync(st, "later", "3"), STORE_EFAILED);
	assert_int_equal(atomic_load(&fatal_calls), 1);
	assert_int_equal(atomic_load(&fatal_rc), ENOSPC);
	assert_int_equal(write_sync(st, "later2", "5"), STORE_EFAILED);
	assert_int_equal(atomic_load(&fatal_calls), 1);	/* once only */
	gw_store_get_stats(st, &s);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.errors[STORE_ERR_NO_SPACE], 1);
	assert_int_equal(s.commits, 1);
	gw_store_close(st);

	st = open_store(&t, NULL, 0, 0);
	assert_key(st, "before", "1");
	assert_no_key(st, "later");
	assert_no_key(st, "later2");
	assert_int_equal(write_sync(st, "again", "4"), 0);
	assert_key(st, "again", "4");
	gw_store_close(st);
	tdir_remove(&t);
}

static void
test_rc_mapping(void **state)
{
	assert_int_equal(gw_store_rc_grpc_status(0), GRPC_OK);
	assert_int_equal(gw_store_rc_grpc_status(MDB_MAP_FULL),
	    GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(gw_store_rc_grpc_status(ENOSPC), GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(gw_store_rc_grpc_status(EIO), GRPC_UNAVAILABLE);
	assert_int_equal(gw_store_rc_grpc_status(MDB_KEYEXIST), GRPC_UNAVAILABLE);
	assert_int_equal(gw_store_rc_grpc_status(-EINVAL), GRPC_UNAVAILABLE);
	assert_string_equal(gw_store_strerror(-EINVAL), strerror(EINVAL));
	assert_string_equal(gw_store_strerror(EIO), strerror(EIO));
	assert_non_null(strstr(gw_store_strerror(MDB_KEYEXIST), "MDB_KEYEXIST"));
	assert_non_null(strstr(gw_store_strerror(MDB_BAD_DBI), "MDB_BAD_DBI"));
	assert_int_equal(gw_store_rc_grpc_status(STORE_EFAILED), GRPC_UNAVAILABLE);
	assert_non_null(strstr(gw_store_strerror(STORE_EFAILED), "storage failed"));
	assert_string_equal(gw_store_err_name(STORE_ERR_NO_SPACE), "no_space");
	assert_string_equal(gw_store_err_name(STORE_ERR__COUNT), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_reopen_persists),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_format_stamp),
		cmocka_unit_test(test_failing_request_isolated),
		cmocka_unit_test(test_failing_request_replayed),
		cmocka_unit_test(test_failing_request_mixed_batch),
		cmocka_unit_test(test_flat_batch),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_high_water),
		cmocka_unit_test(test_map_full_in_batch),
		cmocka_unit_test(test_loop_delivery),
		cmocka_unit_test(test_close_drains_with_base),
		cmocka_unit_test(test_close_drains_and_refuses),
		cmocka_unit_test(test_disk_full_pages),
		cmocka_unit_test(test_meta_write_fails_store),
		cmocka_unit_test(test_rc_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
