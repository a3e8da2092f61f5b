/* test_sw_queue.c -- the switch queues on the RAM and LMDB backends (same cases): dedup, order, visibility, hold, faults, reopen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/switch/sw_queue.h"

/* --- fixtures: a table of backends ------------------------------------------ */

enum kind { RAM, LMDB };

struct fx {
	enum kind kind;
	char dir[64];
	MDB_env *env;
	struct sw_queue *q;	/* a fault wrapper around the backend */
};

static void
lmdb_open(struct fx *f)
{
	MDB_txn *txn;
	struct sw_queue *inner;
	char err[200];

	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(f->env, 64 << 20), 0);
	assert_int_equal(mdb_env_open(f->env, f->dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	if (sw_queue_lmdb_open(f->env, txn, &inner, err, sizeof(err)) != 0)
		fail_msg("sw_queue_lmdb_open: %s", err);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_non_null(f->q = sw_queue_fault_new(inner));
}

static void
lmdb_close(struct fx *f)
{
	sw_queue_close(f->q);
	f->q = NULL;
	mdb_env_close(f->env);
	f->env = NULL;
}

static int
setup(void **state, enum kind kind)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->kind = kind;
	if (kind == RAM) {
		assert_non_null(f->q = sw_queue_fault_new(sw_queue_ram_new()));
	} else {
		strcpy(f->dir, "/tmp/axle-swq-XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		lmdb_open(f);
	}
	*state = f;
	return 0;
}

static int setup_ram(void **state) { return setup(state, RAM); }
static int setup_lmdb(void **state) { return setup(state, LMDB); }

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	if (f->kind == RAM) {
		sw_queue_close(f->q);
	} else {
		lmdb_close(f);
		snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
		unlink(p);
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

/* --- helpers --------------------------------------------------------------- */

static void
mkid(unsigned n, uint8_t id[SW_QID_LEN])
{
	memset(id, 0, SW_QID_LEN);
	id[0] = 0xa0;
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

static void
begin(struct fx *f, struct sw_txn *t)
{
	assert_int_equal(sw_txn_begin(f->q, false, t), 0);
}

static void
commit(struct sw_txn *t)
{
	assert_int_equal(sw_txn_commit(t), 0);
}

/* Envelope bytes of message n: "env-<n>" repeated to a length that varies. */
static size_t
envof(unsigned n, uint8_t *buf)
{
	size_t len = 7 + n % 5 * 13;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)("env-"[i % 4] + n);
	return len;
}

/* Accepts message n into state/where in its own transaction; returns rc. */
static int
put_msg(struct fx *f, unsigned n, enum sw_state s, const char *where,
    int64_t now)
{
	struct sw_txn t;
	uint8_t id[16], env[128];
	size_t len = envof(n, env);
	int rc;

	mkid(n, id);
	begin(f, &t);
	rc = sw_queue_accept(&t, id, env, len, s, where, now);
	if (rc == 0)
		commit(&t);
	else
		sw_txn_abort(&t);
	return rc;
}

static struct sw_record
status(struct fx *f, unsigned n)
{
	struct sw_txn t;
	struct sw_record r;
	uint8_t id[16];

	mkid(n, id);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), 0);
	sw_txn_abort(&t);
	return r;
}

/* The message number of a record (inverse of mkid). */
static unsigned
num(const struct sw_record *r)
{
	return (unsigned)r->id[14] << 8 | r->id[15];
}

static void
check_env(const struct sw_msg *m)
{
	uint8_t env[128];
	size_t len = envof(num(&m->rec), env);

	assert_int_equal(m->env_len, len);
	assert_memory_equal(m->env, env, len);
}

static size_t
fetch(struct fx *f, const char *mbox, size_t max, int64_t now, int64_t vis,
    unsigned *nums)
{
	struct sw_txn t;
	struct sw_msg m[32];
	size_t n;

	begin(f, &t);
	assert_int_equal(sw_queue_mailbox_fetch(&t, mbox, max, now, vis, m, &n), 0);
	commit(&t);
	for (size_t i = 0; i < n; i++) {
		check_env(&m[i]);
		assert_int_equal(m[i].rec.state, SW_STATE_MAILBOX);
		assert_int_equal(m[i].rec.visible_after_ms, now + vis);
		nums[i] = num(&m[i].rec);
	}
	sw_msgs_free(m, n);
	return n;
}

static struct sw_counts
counts(struct fx *f)
{
	struct sw_txn t;
	struct sw_counts c;

	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_counts(&t, &c), 0);
	sw_txn_abort(&t);
	return c;
}

/* The queues' counters agree with a walk of the queues. */
static void
verify(struct fx *f)
{
	struct sw_txn t;
	bool ok = false;

	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_counters_verify(&t, &ok), 0);
	sw_txn_abort(&t);
	assert_true(ok);
}

/* Every key and value of every store, serialised: "the whole state". */
static uint8_t *
dump(struct fx *f, size_t *len)
{
	const struct sw_qbackend_ops *o = f->q->ops;
	struct sw_txn t;
	size_t cap = 1 << 16, n = 0;
	uint8_t *out = malloc(cap), kb[600];
	struct sw_kv from, k, v;

	assert_non_null(out);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	for (int s = 0; s < SW_QS__COUNT; s++) {
		from = (struct sw_kv){ kb, 0 };
		while (o->seek(f->q->be, t.h, (enum sw_qstore)s, from, &k, &v) == 0) {
			while (n + k.len + v.len + 16 > cap)
				assert_non_null(out = realloc(out, cap *= 2));
			out[n++] = (uint8_t)s;
			memcpy(out + n, &k.len, sizeof(k.len));
			n += sizeof(k.len);
			memcpy(out + n, k.p, k.len);
			n += k.len;
			memcpy(out + n, v.p, v.len);
			n += v.len;
			assert_true(k.len + 1 < sizeof(kb));
			memcpy(kb, k.p, k.len);
			kb[k.len] = 0;
			from = (struct sw_kv){ kb, k.len + 1 };
		}
	}
	sw_txn_abort(&t);
	*len = n;
	return out;
}

/* --- cases (each runs on both backends) ------------------------------------ */

static void
test_accept_dedup(void **state)
{
	struct fx *f = *state;
	struct sw_record r;
	struct sw_counts c;
	struct sw_txn t;
	struct sw_msg m;
	uint8_t id[16], env[8] = "e";
	bool seen;
	int64_t first;

	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "lewisham", 1000), 0);
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "lewisham", 2000),
	    SW_Q_DUPLICATE);
	assert_int_equal(put_msg(f, 1, SW_STATE_OUTBOX, "uk.leeds", 2000),
	    SW_Q_DUPLICATE);
	r = status(f, 1);
	assert_int_equal(r.state, SW_STATE_MAILBOX);
	assert_string_equal(r.where, "lewisham");
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.accepted_ms, 1000);
	assert_int_equal(r.enqueued_ms, 1000);
	assert_int_equal(r.attempts, 0);
	assert_false(sw_record_in_flight(&r, 1000));

	/* Straight into recourse: a record without an envelope. */
	assert_int_equal(put_msg(f, 2, SW_STATE_RECOURSE, "uk.london/7@uk.london",
	    1500), 0);
	r = status(f, 2);
	assert_int_equal(r.state, SW_STATE_RECOURSE);
	assert_string_equal(r.where, "uk.london/7@uk.london");
	assert_int_equal(r.seq, 2);
	assert_int_equal(r.env_len, 0);

	begin(f, &t);
	mkid(1, id);
	assert_int_equal(sw_queue_seen(&t, id, &seen, &first), 0);
	assert_true(seen);
	assert_int_equal(first, 1000);
	assert_int_equal(sw_queue_get(&t, id, &m), 0);
	check_env(&m);
	sw_msgs_free(&m, 1);
	mkid(2, id);
	assert_int_equal(sw_queue_get(&t, id, &m), 0);
	assert_null(m.env);
	mkid(3, id);
	assert_int_equal(sw_queue_seen(&t, id, &seen, NULL), 0);
	assert_false(seen);
	assert_int_equal(sw_queue_status(&t, id, &r), SW_Q_NOTFOUND);
	/* Bad arguments write nothing. */
	assert_int_equal(sw_queue_accept(&t, id, NULL, 0, SW_STATE_MAILBOX, "m",
	    1), SW_Q_EINVAL);
	assert_int_equal(sw_queue_accept(&t, id, env, 1, SW_STATE_MAILBOX, "",
	    1), SW_Q_EINVAL);
	assert_int_equal(sw_queue_accept(&t, id, env, 1, SW_STATE_NONE, "m",
	    1), SW_Q_EINVAL);
	assert_int_equal(sw_queue_accept(&t, id, env, 1, (enum sw_state)99, "m",
	    1), SW_Q_EINVAL);
	{
		char longname[SW_NAME_MAX + 2];

		memset(longname, 'n', sizeof(longname) - 1);
		longname[SW_NAME_MAX + 1] = '\0';
		assert_int_equal(sw_queue_accept(&t, id, env, 1,
		    SW_STATE_OUTBOX, longname, 1), SW_Q_EINVAL);
		longname[SW_NAME_MAX] = '\0';
		assert_int_equal(sw_queue_accept(&t, id, env, 1,
		    SW_STATE_OUTBOX, longname, 1), 0);
	}
	commit(&t);
	c = counts(f);
	assert_int_equal(c.msgs, 3);
	assert_int_equal(c.dedup, 3);
	assert_int_equal(c.mailbox, 1);
	assert_int_equal(c.outbox, 1);
	assert_int_equal(c.held, 0);
	assert_string_equal(sw_queue_strerror(SW_Q_DUPLICATE),
	    "message id already accepted");
}

/*
 * A dedup mark keeps an envelope digest once put; a mark without one (as
 * written before digests) reads as "none", not as corrupt.
 */
static void
test_dedup_digest(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	uint8_t id[16], d[SW_QDIGEST_LEN], got[SW_QDIGEST_LEN];
	bool has = true, seen = false;
	int64_t first = 0;

	memset(d, 0xab, sizeof(d));
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "lewisham", 1000), 0);
	begin(f, &t);
	mkid(1, id);
	assert_int_equal(sw_queue_digest_get(&t, id, got, &has), 0);
	assert_false(has);
	assert_int_equal(sw_queue_digest_put(&t, id, d), 0);
	assert_int_equal(sw_queue_digest_get(&t, id, got, &has), 0);
	assert_true(has);
	assert_memory_equal(got, d, SW_QDIGEST_LEN);
	assert_int_equal(sw_queue_seen(&t, id, &seen, &first), 0);
	assert_true(seen);
	assert_int_equal(first, 1000);		/* the first-seen time stays */
	mkid(2, id);
	assert_int_equal(sw_queue_digest_get(&t, id, got, &has), SW_Q_NOTFOUND);
	assert_int_equal(sw_queue_digest_put(&t, id, d), SW_Q_NOTFOUND);
	commit(&t);
	assert_int_equal(counts(f).dedup, 1);
}

static void
test_outbox_order_and_remove(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_msg m[16];
	struct sw_queue_stat st[4];
	uint8_t ids[4][16];
	size_t n, removed;
	struct sw_record r;

	/* 1..5 to leeds, 6 and 7 to york, interleaved in time. */
	for (unsigned i = 1; i <= 7; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_OUTBOX,
		    i == 3 || i == 6 ? "uk.york" : "uk.leeds", 100 + i), 0);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_outbox_peek(&t, "uk.leeds", 16, m, &n), 0);
	assert_int_equal(n, 5);
	{
		unsigned want[] = { 1, 2, 4, 5, 7 };

		for (size_t i = 0; i < n; i++) {
			assert_int_equal(num(&m[i].rec), want[i]);
			assert_int_equal(m[i].rec.state, SW_STATE_OUTBOX);
			check_env(&m[i]);
		}
	}
	sw_msgs_free(m, n);
	assert_int_equal(sw_queue_outbox_peek(&t, "uk.leeds", 2, m, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(num(&m[1].rec), 2);
	sw_msgs_free(m, n);
	assert_int_equal(sw_queue_outbox_peek(&t, "uk.lee", 16, m, &n), 0);
	assert_int_equal(n, 0);
	/* Per-peer summaries, name order, with the oldest time. */
	assert_int_equal(sw_queue_stats(&t, SW_QS_OUTBOX, NULL, st, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].name, "uk.leeds");
	assert_int_equal(st[0].count, 5);
	assert_int_equal(st[0].oldest_ms, 101);
	assert_string_equal(st[1].name, "uk.york");
	assert_int_equal(st[1].count, 2);
	assert_int_equal(st[1].oldest_ms, 103);
	assert_int_equal(sw_queue_stats(&t, SW_QS_OUTBOX, NULL, st, 1, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sw_queue_stats(&t, SW_QS_DEDUP, NULL, st, 1, &n),
	    SW_Q_EINVAL);
	sw_txn_abort(&t);

	/* The peer acknowledged 2 and 4; 9 is unknown, 6 sits in york's outbox. */
	mkid(2, ids[0]);
	mkid(4, ids[1]);
	mkid(9, ids[2]);
	mkid(6, ids[3]);
	begin(f, &t);
	assert_int_equal(sw_queue_outbox_remove(&t, "uk.leeds",
	    (const uint8_t (*)[16])ids, 4, 300, &removed), 0);
	commit(&t);
	assert_int_equal(removed, 2);
	r = status(f, 2);
	assert_int_equal(r.state, SW_STATE_FORWARDED);
	assert_string_equal(r.where, "uk.leeds");
	assert_int_equal(r.updated_ms, 300);
	assert_int_equal(r.env_len, 0);
	assert_int_equal(status(f, 6).state, SW_STATE_OUTBOX);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_outbox_peek(&t, "uk.leeds", 16, m, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(num(&m[0].rec), 1);
	assert_int_equal(num(&m[1].rec), 5);
	assert_int_equal(num(&m[2].rec), 7);
	sw_msgs_free(m, n);
	sw_txn_abort(&t);
	assert_int_equal(counts(f).outbox, 5);
	assert_int_equal(counts(f).msgs, 7);
}

static void
test_fetch_ack_redeliver(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_queue_stat st[2];
	uint8_t ids[4][16];
	unsigned got[8];
	bool done[4];
	size_t acked, n;
	struct sw_record r;

	for (unsigned i = 1; i <= 3; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_MAILBOX, "lewisham", 10), 0);
	assert_int_equal(put_msg(f, 4, SW_STATE_MAILBOX, "other", 10), 0);

	assert_int_equal(fetch(f, "lewisham", 2, 1000, 500, got), 2);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 2);
	assert_int_equal(fetch(f, "lewisham", 8, 1000, 500, got), 1);
	assert_int_equal(got[0], 3);
	assert_int_equal(fetch(f, "lewisham", 8, 1200, 500, got), 0);
	r = status(f, 1);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.visible_after_ms, 1500);
	assert_true(sw_record_in_flight(&r, 1499));
	assert_false(sw_record_in_flight(&r, 1500));

	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_stats(&t, SW_QS_MAILBOX, NULL, st, 2, &n), 0);
	sw_txn_abort(&t);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].name, "lewisham");
	assert_int_equal(st[0].count, 3);
	assert_int_equal(st[0].in_flight, 3);
	assert_int_equal(st[1].in_flight, 0);

	/* Ack 1 and 3; 9 is unknown; 4 is in another mailbox (not ours). */
	mkid(1, ids[0]);
	mkid(9, ids[1]);
	mkid(3, ids[2]);
	mkid(4, ids[3]);
	begin(f, &t);
	assert_int_equal(sw_queue_ack(&t, "lewisham", (const uint8_t (*)[16])ids,
	    4, 1300, done, &acked), 0);
	commit(&t);
	assert_int_equal(acked, 2);
	assert_true(done[0]);
	assert_false(done[1]);
	assert_true(done[2]);
	assert_false(done[3]);
	r = status(f, 1);
	assert_int_equal(r.state, SW_STATE_ACKED);
	assert_string_equal(r.where, "lewisham");
	assert_int_equal(r.env_len, 0);
	assert_int_equal(status(f, 4).state, SW_STATE_MAILBOX);
	/* 4 was never fetched: not in flight, so not acknowledgeable. */
	begin(f, &t);
	assert_int_equal(sw_queue_ack(&t, "other", (const uint8_t (*)[16])&ids[3],
	    1, 1300, NULL, &acked), 0);
	commit(&t);
	assert_int_equal(acked, 0);

	/* 2 was not acknowledged: due again at 1500, attempt 2. */
	assert_int_equal(fetch(f, "lewisham", 8, 1499, 500, got), 0);
	assert_int_equal(fetch(f, "lewisham", 8, 1500, 600, got), 1);
	assert_int_equal(got[0], 2);
	r = status(f, 2);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(r.visible_after_ms, 2100);
	/* Acknowledging after the visibility ran out is refused (expired). */
	mkid(2, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_queue_ack(&t, "lewisham", (const uint8_t (*)[16])ids,
	    1, 2100, done, &acked), 0);
	commit(&t);
	assert_int_equal(acked, 0);
	assert_int_equal(status(f, 2).state, SW_STATE_MAILBOX);
	assert_int_equal(counts(f).mailbox, 2);
}

static void
test_reject(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_record r;
	uint8_t id[16];
	unsigned got[4];

	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "lewisham", 10), 0);
	mkid(1, id);
	begin(f, &t);
	/* Not fetched yet: not the recipient's to reject. */
	assert_int_equal(sw_queue_reject(&t, "lewisham", id, 20,
	    SW_STATE_RECOURSE, "c1@uk.london"), SW_Q_NOTFOUND);
	commit(&t);
	assert_int_equal(fetch(f, "lewisham", 1, 30, 1000, got), 1);
	begin(f, &t);
	assert_int_equal(sw_queue_reject(&t, "southwark", id, 40,
	    SW_STATE_RECOURSE, "c1@uk.london"), SW_Q_NOTFOUND);
	assert_int_equal(sw_queue_reject(&t, "lewisham", id, 40,
	    SW_STATE_NONE, "x"), SW_Q_EINVAL);
	assert_int_equal(sw_queue_reject(&t, "lewisham", id, 40,
	    SW_STATE_RECOURSE, "c1@uk.london"), 0);
	commit(&t);
	r = status(f, 1);
	assert_int_equal(r.state, SW_STATE_RECOURSE);
	assert_string_equal(r.where, "c1@uk.london");
	assert_int_equal(r.updated_ms, 40);
	assert_int_equal(r.env_len, 0);
	assert_int_equal(counts(f).mailbox, 0);
	assert_int_equal(fetch(f, "lewisham", 4, 5000, 10, got), 0);
}

static void
test_hold_release_order(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_record r;
	unsigned got[16];
	size_t moved;

	for (unsigned i = 1; i <= 3; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(fetch(f, "reg", 1, 20, 100000, got), 1);	/* 1 in flight */
	/* Suspension: the mailbox moves to held. */
	begin(f, &t);
	assert_int_equal(sw_queue_hold(&t, "reg", 100, 30, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 3);
	r = status(f, 1);
	assert_int_equal(r.state, SW_STATE_HELD);
	assert_false(sw_record_in_flight(&r, 30));
	assert_int_equal(fetch(f, "reg", 8, 40, 10, got), 0);
	/* New traffic is held; one arrives in the mailbox after release began. */
	assert_int_equal(put_msg(f, 4, SW_STATE_HELD, "reg", 50), 0);
	assert_int_equal(put_msg(f, 5, SW_STATE_HELD, "reg", 51), 0);
	assert_int_equal(counts(f).held, 5);
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    60, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 2);
	assert_int_equal(put_msg(f, 6, SW_STATE_MAILBOX, "reg", 61), 0);
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    62, &moved, NULL, NULL), 0);
	assert_int_equal(moved, 2);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    62, &moved, NULL, NULL), 0);
	assert_int_equal(moved, 1);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    62, &moved, NULL, NULL), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_HELD, "reg", 2,
	    62, &moved, NULL, NULL), SW_Q_EINVAL);
	commit(&t);
	/* Acceptance order survives the hold, newcomer included. */
	assert_int_equal(fetch(f, "reg", 16, 70, 10, got), 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(got[i], i + 1);
	assert_int_equal(counts(f).held, 0);

	/* Re-homing: held traffic of a revoked registrar goes to its successor. */
	assert_int_equal(put_msg(f, 7, SW_STATE_HELD, "old", 80), 0);
	assert_int_equal(put_msg(f, 8, SW_STATE_HELD, "old", 81), 0);
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "old", SW_STATE_OUTBOX, "uk.leeds",
	    10, 90, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 2);
	r = status(f, 8);
	assert_int_equal(r.state, SW_STATE_OUTBOX);
	assert_string_equal(r.where, "uk.leeds");
	assert_int_equal(r.enqueued_ms, 90);
}

static void
test_move(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_msg m[2];
	uint8_t id[16], nenv[5] = "fixd";
	size_t n;

	assert_int_equal(put_msg(f, 1, SW_STATE_OUTBOX, "uk.leeds", 10), 0);
	mkid(1, id);
	begin(f, &t);
	/* Peer refused for good: recourse. */
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_RECOURSE, "c9@uk.london",
	    NULL, 0, 20), 0);
	/* Back into a queue needs an envelope: the record no longer has one. */
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_MAILBOX, "m", NULL, 0,
	    30), SW_Q_EINVAL);
	/* An admin's redirect brings a corrected envelope. */
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_MAILBOX, "m", nenv, 5,
	    30), 0);
	mkid(2, id);
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_DISCARDED, "", NULL, 0,
	    30), SW_Q_NOTFOUND);
	commit(&t);
	assert_int_equal(counts(f).outbox, 0);
	begin(f, &t);
	assert_int_equal(sw_queue_mailbox_fetch(&t, "m", 2, 40, 10, m, &n), 0);
	commit(&t);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].env_len, 5);
	assert_memory_equal(m[0].env, nenv, 5);
	assert_int_equal(m[0].rec.seq, 1);		/* kept its place */
	sw_msgs_free(m, n);
	/* A queued message moves with its envelope. */
	assert_int_equal(put_msg(f, 3, SW_STATE_MAILBOX, "m", 50), 0);
	mkid(3, id);
	begin(f, &t);
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_OUTBOX, "uk.york", NULL, 0,
	    60), 0);
	assert_int_equal(sw_queue_outbox_peek(&t, "uk.york", 2, m, &n), 0);
	assert_int_equal(n, 1);
	check_env(&m[0]);
	sw_msgs_free(m, n);
	commit(&t);
}

/*
 * A record counts the redirects of the incarnation it holds and keeps the
 * latest report from another node: both survive moves (the envelope too),
 * a new redirect count drops the report (it was about the earlier journey),
 * and a version 1 record still reads, with neither.
 */
static void
test_redirects_and_report(void **state)
{
	struct fx *f = *state;
	struct sw_report rep = { .kind = 2, .at_ms = 77, .noted_ms = 88,
	    .node = "uk.westyorks", .case_id = "uk.london/4", .detail = "in the mailbox" };
	struct sw_txn t;
	struct sw_msg m;
	struct sw_record r;
	uint8_t id[16], v1[32 + 3] = { 1, SW_STATE_FORWARDED, 0, 3 };

	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "m", 10), 0);
	mkid(1, id);
	begin(f, &t);
	assert_int_equal(sw_queue_set_redirects(&t, id, 2), 0);
	assert_int_equal(sw_queue_set_report(&t, id, &rep), 0);
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_OUTBOX, "uk", NULL, 0, 20), 0);
	assert_int_equal(sw_queue_get(&t, id, &m), 0);
	assert_int_equal(m.rec.state, SW_STATE_OUTBOX);
	assert_int_equal(m.rec.redirects, 2);
	assert_int_equal(m.rec.rep.kind, 2);
	assert_int_equal(m.rec.rep.at_ms, 77);
	assert_int_equal(m.rec.rep.noted_ms, 88);
	assert_string_equal(m.rec.rep.node, "uk.westyorks");
	assert_string_equal(m.rec.rep.case_id, "uk.london/4");
	assert_string_equal(m.rec.rep.detail, "in the mailbox");
	check_env(&m);
	sw_msgs_free(&m, 1);
	/* The same count changes nothing; another drops the report. */
	assert_int_equal(sw_queue_set_redirects(&t, id, 2), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), 0);
	assert_int_equal(r.rep.kind, 2);
	assert_int_equal(sw_queue_set_redirects(&t, id, 3), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), 0);
	assert_int_equal(r.redirects, 3);
	assert_int_equal(r.rep.kind, 0);
	assert_string_equal(r.rep.node, "");
	mkid(2, id);
	assert_int_equal(sw_queue_set_report(&t, id, &rep), SW_Q_NOTFOUND);
	/* Version 1: header, where "uk.", no envelope. */
	memcpy(v1 + 32, "uk.", 3);
	assert_int_equal(f->q->ops->put(f->q->be, t.h, SW_QS_MSGS,
	    (struct sw_kv){ id, 16 }, (struct sw_kv){ v1, sizeof(v1) }), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), 0);
	assert_int_equal(r.state, SW_STATE_FORWARDED);
	assert_string_equal(r.where, "uk.");
	assert_int_equal(r.redirects, 0);
	assert_int_equal(r.rep.kind, 0);
	commit(&t);
}

/* Deadlines of kind due by `by`, in time order: message numbers and times. */
static size_t
kind_due(struct fx *f, int64_t by, enum sw_deadline_kind kind, unsigned *nums,
    int64_t *at)
{
	struct sw_deadline d[16];
	struct sw_txn t;
	size_t n, k = 0;

	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal((kind == SW_DL_FORGET ? sw_retention_due :
	    sw_deadline_due)(&t, by, d, 16, &n), 0);
	sw_txn_abort(&t);
	for (size_t i = 0; i < n; i++) {
		if (d[i].kind != kind)
			continue;
		nums[k] = (unsigned)d[i].id[14] << 8 | d[i].id[15];
		at[k++] = d[i].at_ms;
	}
	return k;
}

static size_t
holds_due(struct fx *f, int64_t by, unsigned *nums, int64_t *at)
{
	return kind_due(f, by, SW_DL_HOLD, nums, at);
}

/*
 * Every way into HELD gives the message a hold deadline in the same
 * transaction, every way out takes it away; a new hold (suspended again,
 * re-homed to a suspended successor) gets a new one.
 */
static void
test_hold_deadlines(void **state)
{
	struct fx *f = *state;
	struct sw_queue_stat st[4];
	struct sw_txn t;
	unsigned got[16];
	int64_t at[16];
	uint8_t id[16];
	size_t moved, n;

	f->q->hold_limit_ms = 1000;
	/* Accepted straight into held. */
	assert_int_equal(put_msg(f, 1, SW_STATE_HELD, "reg", 100), 0);
	assert_int_equal(status(f, 1).hold_until_ms, 1100);
	assert_int_equal(holds_due(f, 1099, got, at), 0);
	assert_int_equal(holds_due(f, 1100, got, at), 1);
	assert_int_equal(got[0], 1);
	/* Suspension moves the mailbox, in-flight message included. */
	assert_int_equal(put_msg(f, 2, SW_STATE_MAILBOX, "reg", 100), 0);
	assert_int_equal(put_msg(f, 3, SW_STATE_MAILBOX, "reg", 100), 0);
	assert_int_equal(fetch(f, "reg", 1, 150, 100000, got), 1);
	begin(f, &t);
	assert_int_equal(sw_queue_hold(&t, "reg", 10, 200, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 2);
	assert_int_equal(status(f, 2).hold_until_ms, 1200);
	assert_int_equal(status(f, 2).visible_after_ms, 0);
	assert_int_equal(counts(f).deadlines, 3);
	/* The hold deadline is not mistaken for a fetch in flight. */
	begin(f, &t);
	assert_int_equal(sw_queue_stats(&t, SW_QS_HELD, NULL, st, 4, &n), 0);
	sw_txn_abort(&t);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].count, 3);
	assert_int_equal(st[0].in_flight, 0);
	/* Released before its limit: its deadline goes with it. */
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 1,
	    500, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(status(f, 1).state, SW_STATE_MAILBOX);
	assert_int_equal(status(f, 1).hold_until_ms, 0);
	assert_int_equal(holds_due(f, 100000, got, at), 2);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 3);
	/* Suspended again: a new hold, a new deadline, nothing stale left. */
	begin(f, &t);
	assert_int_equal(sw_queue_hold(&t, "reg", 10, 600, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(holds_due(f, 100000, got, at), 3);
	assert_int_equal(got[2], 1);
	assert_int_equal(at[2], 1600);
	/* Re-homed to a successor that is suspended too: a new hold there. */
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_HELD, "succ", 10,
	    700, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 3);
	assert_int_equal(holds_due(f, 100000, got, at), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(at[i], 1700);
	assert_string_equal(status(f, 2).where, "succ");
	assert_int_equal(status(f, 2).hold_until_ms, 1700);
	/* Settled (recourse, by the failure policy): the deadline goes. */
	mkid(2, id);
	begin(f, &t);
	assert_int_equal(sw_queue_move(&t, id, SW_STATE_RECOURSE, "c1@uk.test",
	    NULL, 0, 800), 0);
	commit(&t);
	assert_int_equal(holds_due(f, 100000, got, at), 2);
	assert_int_equal(counts(f).deadlines, 2);
	/* Re-homed to an active successor: out of HELD, no deadline left. */
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "succ", SW_STATE_OUTBOX, "uk.leeds",
	    10, 900, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 2);
	assert_int_equal(counts(f).deadlines, 0);
	assert_int_equal(status(f, 3).hold_until_ms, 0);
}

/* Held before the queue had a limit: no deadline until the backfill gives one. */
static void
test_hold_backfill(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	unsigned got[16];
	int64_t at[16];
	size_t added;

	assert_int_equal(put_msg(f, 1, SW_STATE_HELD, "reg", 100), 0);
	assert_int_equal(put_msg(f, 2, SW_STATE_HELD, "other", 200), 0);
	assert_int_equal(status(f, 1).hold_until_ms, 0);
	assert_int_equal(counts(f).deadlines, 0);
	begin(f, &t);			/* no limit: nothing to do */
	assert_int_equal(sw_queue_hold_backfill(&t, SIZE_MAX, &added), 0);
	commit(&t);
	assert_int_equal(added, 0);
	f->q->hold_limit_ms = 5000;
	assert_int_equal(put_msg(f, 3, SW_STATE_HELD, "reg", 300), 0);
	begin(f, &t);
	assert_int_equal(sw_queue_hold_backfill(&t, SIZE_MAX, &added), 0);
	commit(&t);
	assert_int_equal(added, 2);
	assert_int_equal(status(f, 1).hold_until_ms, 5100);
	assert_int_equal(status(f, 2).hold_until_ms, 5200);
	assert_int_equal(status(f, 3).hold_until_ms, 5300);	/* its own */
	assert_int_equal(holds_due(f, 5250, got, at), 2);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 2);
	begin(f, &t);
	assert_int_equal(sw_queue_hold_backfill(&t, SIZE_MAX, &added), 0);
	commit(&t);
	assert_int_equal(added, 0);
	assert_int_equal(counts(f).deadlines, 3);
}

/* --- the per-message callback of hold and release ------------------------------ */

struct seen_moves {
	unsigned nums[32];
	struct sw_record recs[32];
	size_t n;
	size_t fail_at;		/* 1-based call that fails (0: none) */
	int fail_rc;
	bool add_to_walked;	/* the first call adds message 20 to the walked queue */
	enum sw_state walked;
	const char *walked_name;
	bool receipts;		/* each call accepts a "receipt" (n + 100) into mailbox "sender" */
};

static int
on_moved(struct sw_txn *t, const struct sw_msg *m, void *arg)
{
	struct seen_moves *s = arg;
	uint8_t id[16], env[128];
	size_t len;
	int rc;

	assert_true(s->n < 32);
	s->nums[s->n] = num(&m->rec);
	s->recs[s->n++] = m->rec;
	if (s->fail_at != 0 && s->n == s->fail_at)
		return s->fail_rc;
	if (s->add_to_walked && s->n == 1) {
		mkid(20, id);
		len = envof(20, env);
		if ((rc = sw_queue_accept(t, id, env, len, s->walked,
		    s->walked_name, m->rec.updated_ms)) != 0)
			return rc;
	}
	if (s->receipts) {
		mkid(num(&m->rec) + 100, id);
		len = envof(num(&m->rec) + 100, env);
		if ((rc = sw_queue_accept(t, id, env, len, SW_STATE_MAILBOX,
		    "sender", m->rec.updated_ms)) != 0)
			return rc;
	}
	check_env(m);		/* a copy: still whole after the writes above */
	return 0;
}

/*
 * hold and release call fn once per moved message, in order, after the
 * move and in its transaction, with the record as it now is and the
 * envelope; what fn writes commits with the moves; fn's error stops the
 * walk, comes back as is (NOTFOUND too) and, aborted, undoes everything.
 */
static void
test_hold_release_callback(void **state)
{
	struct fx *f = *state;
	struct seen_moves s;
	uint8_t *before, *after;
	size_t moved, blen, alen;
	struct sw_txn t;
	unsigned got[16];

	f->q->hold_limit_ms = 1000;
	for (unsigned i = 1; i <= 4; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(put_msg(f, 9, SW_STATE_MAILBOX, "other", 10), 0);
	assert_int_equal(put_msg(f, 8, SW_STATE_HELD, "reg", 10), 0);	/* already held */
	assert_int_equal(fetch(f, "reg", 1, 20, 100000, got), 1);	/* 1 in flight */

	/* Suspension: each mailbox message once, oldest first, now HELD. */
	memset(&s, 0, sizeof(s));
	s.add_to_walked = true;
	s.walked = SW_STATE_MAILBOX;
	s.walked_name = "reg";
	s.receipts = true;
	begin(f, &t);
	assert_int_equal(sw_queue_hold(&t, "reg", SIZE_MAX, 30, &moved, on_moved,
	    &s), 0);
	commit(&t);
	/* 20 arrived in the walked mailbox during the walk: moved, seen, once. */
	assert_int_equal(moved, 5);
	assert_int_equal(s.n, 5);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(s.nums[i], i + 1);
	assert_int_equal(s.nums[4], 20);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.recs[i].state, SW_STATE_HELD);
		assert_string_equal(s.recs[i].where, "reg");
		assert_int_equal(s.recs[i].enqueued_ms, 30);
		assert_int_equal(s.recs[i].hold_until_ms, 1030);
		assert_int_equal(s.recs[i].visible_after_ms, 0);
	}
	assert_int_equal(status(f, 9).state, SW_STATE_MAILBOX);	/* another's */
	assert_int_equal(counts(f).held, 6);
	/* What fn wrote committed with the moves, in order. */
	assert_int_equal(fetch(f, "sender", 16, 40, 10, got), 5);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(got[i], 101 + i);
	assert_int_equal(got[4], 120);

	/* fn fails at its third call: the error comes back, the abort undoes all. */
	before = dump(f, &blen);
	memset(&s, 0, sizeof(s));
	s.fail_at = 3;
	s.fail_rc = -EIO;
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg",
	    SIZE_MAX, 50, &moved, on_moved, &s), -EIO);
	sw_txn_abort(&t);
	assert_int_equal(s.n, 3);
	/* NOTFOUND from fn is fn's error, not the end of the queue. */
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	s.fail_rc = SW_Q_NOTFOUND;
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg",
	    SIZE_MAX, 50, &moved, on_moved, &s), SW_Q_NOTFOUND);
	sw_txn_abort(&t);
	after = dump(f, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);
	free(before);

	/* Release, max 2: two calls; then the rest; acceptance order throughout. */
	memset(&s, 0, sizeof(s));
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    60, &moved, on_moved, &s), 0);
	assert_int_equal(moved, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg",
	    SIZE_MAX, 60, &moved, on_moved, &s), 0);
	commit(&t);
	assert_int_equal(moved, 4);
	assert_int_equal(s.n, 6);
	{
		const unsigned want[6] = { 1, 2, 3, 4, 8, 20 };

		for (unsigned i = 0; i < 6; i++) {
			assert_int_equal(s.nums[i], want[i]);
			assert_int_equal(s.recs[i].state, SW_STATE_MAILBOX);
			assert_string_equal(s.recs[i].where, "reg");
			assert_int_equal(s.recs[i].hold_until_ms, 0);
			assert_int_equal(s.recs[i].enqueued_ms, 60);
		}
	}
	assert_int_equal(counts(f).held, 0);
	assert_int_equal(counts(f).deadlines, 0);
	/* An empty queue: no call. */
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg",
	    SIZE_MAX, 70, &moved, on_moved, &s), 0);
	commit(&t);
	assert_int_equal(moved, 0);
	assert_int_equal(s.n, 6);
}

/* Runs op at every failing write in turn: each failure, aborted, leaves the state as it was. */
typedef int (*op_fn)(struct sw_txn *t);

static void
faults(struct fx *f, op_fn op, unsigned min_writes)
{
	uint8_t *before, *after;
	size_t blen, alen;
	struct sw_txn t;
	unsigned writes, k;

	before = dump(f, &blen);
	sw_queue_fault_arm(f->q, 0);
	begin(f, &t);
	assert_int_equal(op(&t), 0);
	writes = sw_queue_fault_writes(f->q);
	sw_txn_abort(&t);
	assert_true(writes >= min_writes);
	after = dump(f, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);
	for (k = 1; k <= writes; k++) {
		sw_queue_fault_arm(f->q, k);
		begin(f, &t);
		assert_int_equal(op(&t), -EIO);
		assert_int_equal(sw_queue_fault_writes(f->q), k);
		sw_txn_abort(&t);
		after = dump(f, &alen);
		assert_int_equal(alen, blen);
		assert_memory_equal(after, before, blen);
		free(after);
	}
	sw_queue_fault_arm(f->q, 0);
	begin(f, &t);
	assert_int_equal(op(&t), 0);
	commit(&t);
	verify(f);
	after = dump(f, &alen);
	assert_true(alen != blen || memcmp(after, before, blen) != 0);
	free(after);
	free(before);
}

static int
op_accept(struct sw_txn *t)
{
	uint8_t id[16], env[4] = "new";

	mkid(50, id);
	return sw_queue_accept(t, id, env, 4, SW_STATE_OUTBOX, "uk.leeds", 500);
}

static int
op_remove(struct sw_txn *t)
{
	uint8_t ids[2][16];

	mkid(1, ids[0]);
	mkid(2, ids[1]);
	return sw_queue_outbox_remove(t, "uk.leeds", (const uint8_t (*)[16])ids,
	    2, 500, NULL);
}

static int
op_fetch(struct sw_txn *t)
{
	struct sw_msg m[4];
	size_t n;
	int rc = sw_queue_mailbox_fetch(t, "reg", 4, 500, 100, m, &n);

	sw_msgs_free(m, n);
	return rc;
}

static int
op_ack(struct sw_txn *t)
{
	uint8_t ids[2][16];

	mkid(3, ids[0]);
	mkid(4, ids[1]);
	return sw_queue_ack(t, "reg", (const uint8_t (*)[16])ids, 2, 450, NULL,
	    NULL);
}

static int
op_hold(struct sw_txn *t)
{
	return sw_queue_hold(t, "reg", 10, 500, NULL, NULL, NULL);
}

static int
op_release(struct sw_txn *t)
{
	return sw_queue_release(t, "held", SW_STATE_MAILBOX, "reg", 10, 500, NULL, NULL, NULL);
}

/* A release whose callback writes a "receipt" per message, as the switch's does. */
static int
op_release_cb(struct sw_txn *t)
{
	struct seen_moves s;

	memset(&s, 0, sizeof(s));
	s.receipts = true;
	return sw_queue_release(t, "reg", SW_STATE_MAILBOX, "reg", 10, 600,
	    NULL, on_moved, &s);
}

static int
op_reject(struct sw_txn *t)
{
	uint8_t id[16];

	mkid(3, id);
	return sw_queue_reject(t, "reg", id, 450, SW_STATE_RETURNED, "r");
}

static void
test_fault_injection(void **state)
{
	struct fx *f = *state;
	unsigned got[4];

	f->q->hold_limit_ms = 1000;	/* as the gateway runs: deadlines move too */
	assert_int_equal(put_msg(f, 1, SW_STATE_OUTBOX, "uk.leeds", 10), 0);
	assert_int_equal(put_msg(f, 2, SW_STATE_OUTBOX, "uk.leeds", 10), 0);
	assert_int_equal(put_msg(f, 3, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(put_msg(f, 4, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(put_msg(f, 5, SW_STATE_HELD, "held", 10), 0);
	assert_int_equal(put_msg(f, 6, SW_STATE_HELD, "held", 10), 0);
	assert_int_equal(fetch(f, "reg", 2, 400, 100, got), 2);	/* in flight till 500 */

	faults(f, op_accept, 4);	/* dedup, counter, record, entry */
	faults(f, op_remove, 4);	/* per id: del entry, put record */
	faults(f, op_reject, 2);	/* 3: del entry, put record */
	faults(f, op_ack, 2);		/* 4 only: 3 was rejected */
	faults(f, op_release, 6);	/* 5, 6: del held, del deadline, put entry, put record */
	faults(f, op_fetch, 2);		/* 5, 6: put entry */
	faults(f, op_hold, 6);		/* 5, 6: del entry, add deadline, put entry, put record */
	faults(f, op_release_cb, 16);	/* 5, 6: the release's 4 writes, the receipt's 4 */
	assert_int_equal(status(f, 105).state, SW_STATE_MAILBOX);
	assert_string_equal(status(f, 105).where, "sender");
	assert_int_equal(status(f, 6).state, SW_STATE_MAILBOX);
	faults(f, op_hold, 6);		/* and back into held for the checks below */
	assert_int_equal(counts(f).deadlines, 2);
	assert_int_equal(counts(f).held, 2);
	assert_int_equal(status(f, 5).state, SW_STATE_HELD);
	assert_string_equal(status(f, 5).where, "reg");
}


static struct sw_queue_stat
stat_one(struct fx *f, enum sw_qstore which, const char *name)
{
	struct sw_txn t;
	struct sw_queue_stat st;

	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_stat_one(&t, which, name, &st), 0);
	sw_txn_abort(&t);
	return st;
}

/*
 * Per-queue counters (issue 14): every way in and out of a queue keeps the
 * queue's counter exact in the same transaction, an emptied queue leaves
 * no counter, names come back in order from a cursor, and a store without
 * counters (an older data directory) gets them built once at open.
 */
static void
test_counters(void **state)
{
	struct fx *f = *state;
	struct sw_queue_stat st[4];
	struct sw_txn t;
	uint8_t ids[2][16];
	unsigned got[8];
	size_t n, moved;
	bool built = true;
	struct sw_kv k, v;

	f->q->hold_limit_ms = 1000;
	begin(f, &t);
	assert_int_equal(sw_queue_counters_open(&t, &built), 0);
	commit(&t);
	assert_true(built);		/* a new store: built (empty) once */
	begin(f, &t);
	assert_int_equal(sw_queue_counters_open(&t, &built), 0);
	commit(&t);
	assert_false(built);
	for (unsigned i = 1; i <= 5; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_MAILBOX, "reg", 10 + i), 0);
	assert_int_equal(put_msg(f, 6, SW_STATE_OUTBOX, "uk.leeds", 20), 0);
	assert_int_equal(put_msg(f, 7, SW_STATE_HELD, "susp", 20), 0);
	assert_int_equal(put_msg(f, 8, SW_STATE_MAILBOX, "a", 30), 0);
	verify(f);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").count, 5);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").oldest_ms, 11);
	assert_int_equal(stat_one(f, SW_QS_OUTBOX, "uk.leeds").count, 1);
	assert_int_equal(stat_one(f, SW_QS_OUTBOX, "uk.york").count, 0);
	assert_int_equal(stat_one(f, SW_QS_HELD, "susp").count, 1);

	/* Fetched: in flight until acknowledged; a redelivery is not counted twice. */
	assert_int_equal(fetch(f, "reg", 2, 100, 50, got), 2);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").in_flight, 2);
	assert_int_equal(fetch(f, "reg", 8, 200, 50, got), 5);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").in_flight, 5);
	mkid(1, ids[0]);
	mkid(2, ids[1]);
	begin(f, &t);
	assert_int_equal(sw_queue_ack(&t, "reg", (const uint8_t (*)[16])ids, 2,
	    210, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").count, 3);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").in_flight, 3);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").oldest_ms, 13);
	verify(f);

	/* Hold moves them all (in flight too), release brings them back unfetched. */
	begin(f, &t);
	assert_int_equal(sw_queue_hold(&t, "reg", 10, 300, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(moved, 3);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").count, 0);
	assert_int_equal(stat_one(f, SW_QS_HELD, "reg").count, 3);
	assert_int_equal(stat_one(f, SW_QS_HELD, "reg").in_flight, 0);
	verify(f);
	begin(f, &t);
	assert_int_equal(sw_queue_release(&t, "reg", SW_STATE_MAILBOX, "reg", 2,
	    400, &moved, NULL, NULL), 0);
	commit(&t);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").count, 2);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").in_flight, 0);
	assert_int_equal(stat_one(f, SW_QS_HELD, "reg").count, 1);
	verify(f);

	/* Every queue from a cursor, in name order; *n counts those from there. */
	begin(f, &t);
	assert_int_equal(sw_queue_stats(&t, SW_QS_MAILBOX, NULL, st, 1, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].name, "a");
	assert_int_equal(sw_queue_stats(&t, SW_QS_MAILBOX, "a", st, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(st[0].name, "reg");
	assert_int_equal(sw_queue_stats(&t, SW_QS_MAILBOX, "reg", st, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sw_queue_stats(&t, SW_QS_HELD, NULL, st, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].name, "reg");
	assert_string_equal(st[1].name, "susp");

	/* An older store: no counters at all. Open builds them from the queues. */
	while (f->q->ops->seek(f->q->be, t.h, SW_QS_COUNTS,
	    (struct sw_kv){ "", 0 }, &k, &v) == 0) {
		uint8_t kb[300];

		memcpy(kb, k.p, k.len);
		assert_int_equal(f->q->ops->del(f->q->be, t.h, SW_QS_COUNTS,
		    (struct sw_kv){ kb, k.len }), 0);
	}
	{
		bool ok = true;

		assert_int_equal(sw_queue_counters_verify(&t, &ok), 0);
		assert_false(ok);	/* the check sees them missing */
	}
	assert_int_equal(sw_queue_counters_open(&t, &built), 0);
	assert_true(built);
	commit(&t);
	verify(f);
	assert_int_equal(stat_one(f, SW_QS_MAILBOX, "reg").count, 2);
	assert_int_equal(stat_one(f, SW_QS_HELD, "reg").count, 1);
	assert_int_equal(stat_one(f, SW_QS_OUTBOX, "uk.leeds").count, 1);

	/* Emptied queues leave no counter behind. */
	mkid(6, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_queue_outbox_remove(&t, "uk.leeds",
	    (const uint8_t (*)[16])ids, 1, 500, NULL), 0);
	commit(&t);
	begin(f, &t);
	assert_int_equal(sw_queue_stats(&t, SW_QS_OUTBOX, NULL, st, 4, &n), 0);
	sw_txn_abort(&t);
	assert_int_equal(n, 0);
	verify(f);
}


/* The forget deadlines due by `by` (sw.expiry): message numbers and times. */
static size_t
forgets_due(struct fx *f, int64_t by, unsigned *nums, int64_t *at)
{
	return kind_due(f, by, SW_DL_FORGET, nums, at);
}

/* Runs message n's forget deadline at `at` as the switch does; *forgot back. */
static bool
run_forget(struct fx *f, unsigned n, int64_t at, int64_t now)
{
	struct sw_deadline d = { at, SW_DL_FORGET, { 0 } };
	struct sw_txn t;
	bool forgot = false;

	mkid(n, d.id);
	begin(f, &t);
	assert_int_equal(sw_deadline_del(&t, &d), 0);
	assert_int_equal(sw_queue_forget(&t, d.id, now, &forgot), 0);
	commit(&t);
	return forgot;
}

static bool
seen(struct fx *f, unsigned n)
{
	struct sw_txn t;
	uint8_t id[16];
	bool yes = false;

	mkid(n, id);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	assert_int_equal(sw_queue_seen(&t, id, &yes, NULL), 0);
	sw_txn_abort(&t);
	return yes;
}

static int
status_rc(struct fx *f, unsigned n)
{
	struct sw_txn t;
	struct sw_record r;
	uint8_t id[16];
	int rc;

	mkid(n, id);
	assert_int_equal(sw_txn_begin(f->q, true, &t), 0);
	rc = sw_queue_status(&t, id, &r);
	sw_txn_abort(&t);
	return rc;
}

/*
 * Retention (issue 14): a message that ends here (acknowledged, forwarded,
 * returned, discarded) gets a forget deadline in the same transaction; its
 * record and parties go record_retention_ms after it ended, its mark
 * dedup_retention_ms after, never before; a message back in custody, or
 * whose sender awaits a reply, is kept; queued messages have none.
 */
static void
test_retention(void **state)
{
	struct fx *f = *state;
	struct sw_parties p = { "uk.a", "uk.b", "ctx" };
	struct sw_txn t;
	uint8_t ids[1][16], env[4] = "env";
	unsigned got[8], nums[8];
	int64_t at[8];
	size_t n;

	f->q->record_retention_ms = 100;
	f->q->dedup_retention_ms = 200;
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(put_msg(f, 3, SW_STATE_OUTBOX, "uk.leeds", 10), 0);
	mkid(1, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_parties_put(&t, ids[0], &p), 0);
	commit(&t);
	assert_int_equal(fetch(f, "reg", 8, 20, 1000, got), 1);
	begin(f, &t);
	assert_int_equal(sw_queue_ack(&t, "reg", (const uint8_t (*)[16])ids, 1,
	    30, NULL, NULL), 0);
	commit(&t);
	/* Accepted straight into an end (a discard): its retention starts too. */
	mkid(2, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_queue_accept(&t, ids[0], NULL, 0, SW_STATE_DISCARDED,
	    "why", 40), 0);
	commit(&t);
	n = forgets_due(f, 1000, nums, at);
	assert_int_equal(n, 2);			/* 3 is queued: none */
	assert_int_equal(nums[0], 1);
	assert_int_equal(at[0], 130);
	assert_int_equal(nums[1], 2);
	assert_int_equal(at[1], 140);

	/* Early (a clock that moved back, a stale deadline): nothing goes. */
	assert_false(run_forget(f, 2, 140, 139));
	assert_int_equal(status_rc(f, 2), 0);
	n = forgets_due(f, 1000, nums, at);
	assert_int_equal(n, 2);
	assert_int_equal(at[1], 140);		/* set again for its time */

	/* At its time: the record and parties go, the mark stays till 230. */
	assert_true(run_forget(f, 1, 130, 130));
	assert_int_equal(status_rc(f, 1), SW_Q_NOTFOUND);
	mkid(1, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_parties_get(&t, ids[0], &p), SW_Q_NOTFOUND);
	commit(&t);
	assert_true(seen(f, 1));
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "reg", 150),
	    SW_Q_DUPLICATE);
	n = forgets_due(f, 1000, nums, at);
	assert_int_equal(n, 2);
	assert_int_equal(nums[1], 1);
	assert_int_equal(at[1], 230);
	assert_false(run_forget(f, 1, 230, 230));
	assert_false(seen(f, 1));
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "reg", 240), 0);

	/* Back in custody before its time (a redirect): left alone. */
	mkid(2, ids[0]);
	begin(f, &t);
	assert_int_equal(sw_queue_move(&t, ids[0], SW_STATE_OUTBOX, "uk.leeds",
	    env, 4, 120), 0);
	commit(&t);
	assert_false(run_forget(f, 2, 140, 140));
	assert_int_equal(status_rc(f, 2), 0);
	assert_true(seen(f, 2));
	assert_int_equal(forgets_due(f, 100000, nums, at), 0);

	/* Ended again, with a reply awaited: kept while it is. */
	begin(f, &t);
	assert_int_equal(sw_parties_put(&t, ids[0], &p), 0);
	assert_int_equal(sw_reply_expect(&t, "ctx", ids[0], env, 4), 0);
	assert_int_equal(sw_queue_outbox_remove(&t, "uk.leeds",
	    (const uint8_t (*)[16])ids, 1, 300, NULL), 0);
	commit(&t);
	assert_int_equal(forgets_due(f, 100000, nums, at), 1);
	assert_int_equal(at[0], 400);
	assert_false(run_forget(f, 2, 400, 400));
	assert_int_equal(status_rc(f, 2), 0);
	assert_int_equal(forgets_due(f, 100000, nums, at), 1);
	assert_int_equal(at[0], 500);
	begin(f, &t);
	assert_int_equal(sw_reply_done(&t, "ctx", ids[0]), 0);
	commit(&t);
	/* Past both windows at once: record, parties and mark in one step. */
	assert_true(run_forget(f, 2, 500, 500));
	assert_int_equal(status_rc(f, 2), SW_Q_NOTFOUND);
	assert_false(seen(f, 2));
	assert_int_equal(forgets_due(f, 100000, nums, at), 0);
	verify(f);
}

static int
op_forget(struct sw_txn *t)
{
	uint8_t id[16];

	mkid(7, id);
	return sw_queue_forget(t, id, 100000, NULL);
}

/* A forget that fails part way leaves nothing half-deleted. */
static void
test_retention_faults(void **state)
{
	struct fx *f = *state;
	struct sw_parties p = { "uk.a", "uk.b", "" };
	struct sw_txn t;
	uint8_t id[16];

	f->q->record_retention_ms = 100;
	f->q->dedup_retention_ms = 100;
	mkid(7, id);
	begin(f, &t);
	assert_int_equal(sw_queue_accept(&t, id, NULL, 0, SW_STATE_RETURNED,
	    "r", 40), 0);
	assert_int_equal(sw_parties_put(&t, id, &p), 0);
	commit(&t);
	faults(f, op_forget, 3);	/* del record, del parties, del mark */
	assert_int_equal(status_rc(f, 7), SW_Q_NOTFOUND);
	assert_false(seen(f, 7));
}

/* --- backend-specific -------------------------------------------------------- */

static void
test_ram_one_writer(void **state)
{
	struct fx *f = *state;
	struct sw_txn a, b, r;

	begin(f, &a);
	assert_int_equal(sw_txn_begin(f->q, false, &b), SW_Q_BUSY);
	assert_int_equal(sw_txn_begin(f->q, true, &r), 0);
	sw_txn_abort(&r);
	sw_txn_abort(&a);
	begin(f, &b);
	commit(&b);
}

static void
test_corrupt_record(void **state)
{
	struct fx *f = *state;
	struct sw_txn t;
	struct sw_record r;
	uint8_t id[16], junk[40] = { 1, 9 };

	mkid(1, id);
	begin(f, &t);
	assert_int_equal(f->q->ops->put(f->q->be, t.h, SW_QS_MSGS,
	    (struct sw_kv){ id, 16 }, (struct sw_kv){ junk, sizeof(junk) }), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), SW_Q_CORRUPT);
	junk[1] = SW_STATE_MAILBOX;
	junk[7] = 8;			/* env_len 8: lengths do not add up */
	assert_int_equal(f->q->ops->put(f->q->be, t.h, SW_QS_MSGS,
	    (struct sw_kv){ id, 16 }, (struct sw_kv){ junk, sizeof(junk) }), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), SW_Q_CORRUPT);
	junk[7] = 0;			/* consistent, but no queue entry */
	assert_int_equal(f->q->ops->put(f->q->be, t.h, SW_QS_MSGS,
	    (struct sw_kv){ id, 16 }, (struct sw_kv){ junk, 32 }), 0);
	assert_int_equal(sw_queue_status(&t, id, &r), SW_Q_CORRUPT);
	sw_txn_abort(&t);
	assert_non_null(strstr(sw_queue_strerror(SW_Q_CORRUPT), "corrupt"));
	assert_non_null(strstr(sw_queue_strerror(MDB_MAP_FULL), "MDB_MAP_FULL"));
	assert_string_equal(sw_queue_strerror(-EIO), strerror(EIO));
	assert_string_equal(sw_queue_strerror(ENOSPC), strerror(ENOSPC));
}

static void
test_lmdb_reopen(void **state)
{
	struct fx *f = *state;
	uint8_t *before, *after;
	size_t blen, alen;
	unsigned got[8];
	struct sw_record r;

	unsigned hd[4];
	int64_t hat[4];

	for (unsigned i = 1; i <= 4; i++)
		assert_int_equal(put_msg(f, i, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(put_msg(f, 5, SW_STATE_OUTBOX, "uk.leeds", 10), 0);
	assert_int_equal(fetch(f, "reg", 2, 100, 1000, got), 2);
	f->q->hold_limit_ms = 2000;
	assert_int_equal(put_msg(f, 7, SW_STATE_HELD, "susp", 10), 0);
	before = dump(f, &blen);
	lmdb_close(f);
	lmdb_open(f);
	after = dump(f, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	r = status(f, 1);
	assert_true(sw_record_in_flight(&r, 500));	/* still in flight */
	/* The hold deadline survived, with the entry that names it. */
	assert_int_equal(status(f, 7).hold_until_ms, 2010);
	assert_int_equal(holds_due(f, 2010, hd, hat), 1);
	assert_int_equal(hd[0], 7);
	assert_int_equal(put_msg(f, 1, SW_STATE_MAILBOX, "reg", 10), SW_Q_DUPLICATE);
	assert_int_equal(put_msg(f, 6, SW_STATE_MAILBOX, "reg", 10), 0);
	assert_int_equal(status(f, 6).seq, 7);		/* the counter survived (7 took 6) */
	assert_int_equal(fetch(f, "reg", 8, 500, 100000, got), 3);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[2], 6);
	assert_int_equal(fetch(f, "reg", 8, 1100, 10, got), 2);	/* redelivered */
	assert_int_equal(got[0], 1);
}

/* The gateway's way: a nested txn per request inside a batch txn. */
static void
test_lmdb_nested_abort(void **state)
{
	struct fx *f = *state;
	MDB_txn *batch, *req;
	struct sw_txn t;
	uint8_t id[16], env[3] = "ab";

	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &batch), 0);
	mkid(1, id);
	assert_int_equal(mdb_txn_begin(f->env, batch, 0, &req), 0);
	sw_txn_lmdb(f->q, req, &t);
	assert_int_equal(sw_queue_accept(&t, id, env, 3, SW_STATE_MAILBOX, "m",
	    1), 0);
	sw_txn_commit(&t);				/* no-op: not ours */
	assert_int_equal(mdb_txn_commit(req), 0);
	mkid(2, id);
	assert_int_equal(mdb_txn_begin(f->env, batch, 0, &req), 0);
	sw_txn_lmdb(f->q, req, &t);
	sw_queue_fault_arm(f->q, 3);
	assert_int_equal(sw_queue_accept(&t, id, env, 3, SW_STATE_MAILBOX, "m",
	    1), -EIO);
	sw_queue_fault_arm(f->q, 0);
	sw_txn_abort(&t);				/* no-op: not ours */
	mdb_txn_abort(req);
	assert_int_equal(mdb_txn_commit(batch), 0);
	assert_int_equal(status(f, 1).state, SW_STATE_MAILBOX);
	assert_int_equal(counts(f).msgs, 1);
	assert_int_equal(counts(f).dedup, 1);
	assert_int_equal(status(f, 1).seq, 1);
	assert_int_equal(put_msg(f, 2, SW_STATE_MAILBOX, "m", 2), 0);
	assert_int_equal(status(f, 2).seq, 2);		/* the failed seq left no gap */
}

#define BOTH(fn) \
	cmocka_unit_test_setup_teardown(fn, setup_ram, teardown), \
	cmocka_unit_test_setup_teardown(fn, setup_lmdb, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_accept_dedup),
		BOTH(test_dedup_digest),
		BOTH(test_outbox_order_and_remove),
		BOTH(test_fetch_ack_redeliver),
		BOTH(test_reject),
		BOTH(test_hold_release_order),
		BOTH(test_hold_deadlines),
		BOTH(test_hold_backfill),
		BOTH(test_hold_release_callback),
		BOTH(test_move),
		BOTH(test_redirects_and_report),
		BOTH(test_fault_injection),
		BOTH(test_corrupt_record),
		BOTH(test_counters),
		BOTH(test_retention),
		BOTH(test_retention_faults),
		cmocka_unit_test_setup_teardown(test_ram_one_writer, setup_ram,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lmdb_reopen, setup_lmdb,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lmdb_nested_abort,
		    setup_lmdb, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
