/* test_sw_deadline.c -- the switch's time index, message parties and awaited replies on the RAM and LMDB backends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/switch/sw_queue.h"

struct fx {
	char dir[64];
	MDB_env *env;
	struct sw_queue *q;
	struct sw_txn t;
};

static int
setup_ram(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(f->q = sw_queue_fault_new(sw_queue_ram_new()));
	assert_int_equal(sw_txn_begin(f->q, false, &f->t), 0);
	*state = f;
	return 0;
}

static int
setup_lmdb(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sw_queue *inner;
	MDB_txn *txn;
	char err[200];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/axle-swdl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, 16), 0);
	assert_int_equal(mdb_env_open(f->env, f->dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	if (sw_queue_lmdb_open(f->env, txn, &inner, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_non_null(f->q = sw_queue_fault_new(inner));
	assert_int_equal(sw_txn_begin(f->q, false, &f->t), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	sw_txn_abort(&f->t);
	sw_queue_close(f->q);
	if (f->env != NULL) {
		mdb_env_close(f->env);
		snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
		unlink(p);
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

static struct sw_deadline
dl(int64_t at, enum sw_deadline_kind k, uint8_t tag)
{
	struct sw_deadline d = { at, k, { 0 } };

	memset(d.id, tag, sizeof(d.id));
	return d;
}

/* Due deadlines come out in time order, only up to now, and stay until deleted. */
static void
test_due_in_time_order(void **state)
{
	struct fx *f = *state;
	struct sw_deadline d[4] = { dl(300, SW_DL_DELIVER, 1), dl(100, SW_DL_REPLY, 2),
		dl(200, SW_DL_DELIVER, 3), dl(1000, SW_DL_DELIVER, 4) }, out[8];
	size_t n;
	int64_t at;

	assert_int_equal(sw_deadline_next(&f->t, &at), SW_Q_NOTFOUND);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sw_deadline_add(&f->t, &d[i]), 0);
	assert_int_equal(sw_deadline_add(&f->t, &d[0]), 0);	/* idempotent */
	assert_int_equal(sw_deadline_next(&f->t, &at), 0);
	assert_int_equal(at, 100);
	assert_int_equal(sw_deadline_due(&f->t, 250, out, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].at_ms, 100);
	assert_int_equal(out[0].kind, SW_DL_REPLY);
	assert_memory_equal(out[0].id, d[1].id, SW_QID_LEN);
	assert_int_equal(out[1].at_ms, 200);
	/* max bounds the answer; a due deadline is still there until deleted. */
	assert_int_equal(sw_deadline_due(&f->t, 5000, out, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[2].at_ms, 300);
	assert_int_equal(sw_deadline_del(&f->t, &d[1]), 0);
	assert_int_equal(sw_deadline_del(&f->t, &d[1]), SW_Q_NOTFOUND);
	assert_int_equal(sw_deadline_due(&f->t, 250, out, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].at_ms, 200);
}

/* Same time, different kinds and ids: distinct entries. Bad input is refused. */
static void
test_same_time_and_bad_input(void **state)
{
	struct fx *f = *state;
	struct sw_deadline a = dl(50, SW_DL_DELIVER, 9), b = dl(50, SW_DL_REPLY, 9),
	    c = dl(50, SW_DL_DELIVER, 8), h = dl(50, SW_DL_HOLD, 9),
	    bad = dl(-1, SW_DL_DELIVER, 1), out[4];
	size_t n;

	assert_int_equal(sw_deadline_add(&f->t, &a), 0);
	assert_int_equal(sw_deadline_add(&f->t, &h), 0);
	assert_int_equal(sw_deadline_add(&f->t, &b), 0);
	assert_int_equal(sw_deadline_add(&f->t, &c), 0);
	assert_int_equal(sw_deadline_due(&f->t, 50, out, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(out[0].id[0], 8);	/* kind 1, 2, 3, then id */
	assert_int_equal(out[1].kind, SW_DL_DELIVER);
	assert_int_equal(out[2].kind, SW_DL_REPLY);
	assert_int_equal(out[3].kind, SW_DL_HOLD);	/* decodes as itself */
	assert_int_equal(out[3].id[0], 9);
	assert_int_equal(sw_deadline_del(&f->t, &h), 0);
	assert_int_equal(sw_deadline_del(&f->t, &h), SW_Q_NOTFOUND);
	assert_int_equal(sw_deadline_add(&f->t, &bad), SW_Q_EINVAL);
	bad = dl(5, (enum sw_deadline_kind)5, 1);
	assert_int_equal(sw_deadline_add(&f->t, &bad), SW_Q_EINVAL);
	bad = dl(5, (enum sw_deadline_kind)7, 1);
	assert_int_equal(sw_deadline_add(&f->t, &bad), SW_Q_EINVAL);
	assert_int_equal(sw_deadline_due(&f->t, 49, out, 4, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_parties_round_trip(void **state)
{
	struct fx *f = *state;
	struct sw_parties p = { 0 }, q;
	uint8_t id[SW_QID_LEN] = { 7 };

	assert_int_equal(sw_parties_get(&f->t, id, &q), SW_Q_NOTFOUND);
	snprintf(p.sender, sizeof(p.sender), "uk.london.hub");
	snprintf(p.to, sizeof(p.to), "uk.westyorks.hub");
	memset(p.context, 'c', SW_CTX_MAX);	/* the longest context */
	assert_int_equal(sw_parties_put(&f->t, id, &p), 0);
	assert_int_equal(sw_parties_get(&f->t, id, &q), 0);
	assert_string_equal(q.sender, "uk.london.hub");
	assert_string_equal(q.to, "uk.westyorks.hub");
	assert_int_equal(strlen(q.context), SW_CTX_MAX);
	/* empty fields survive too */
	memset(&p, 0, sizeof(p));
	assert_int_equal(sw_parties_put(&f->t, id, &p), 0);
	assert_int_equal(sw_parties_get(&f->t, id, &q), 0);
	assert_string_equal(q.sender, "");
	assert_string_equal(q.to, "");
	assert_string_equal(q.context, "");
}

struct seen {
	uint8_t ids[8][SW_QID_LEN];
	size_t n;
	size_t stop_after;
};

static bool
collect(const uint8_t id[SW_QID_LEN], const uint8_t *hdr, size_t len, void *arg)
{
	struct seen *s = arg;

	assert_true(len == 3 && memcmp(hdr, "hdr", 3) == 0);
	memcpy(s->ids[s->n++], id, SW_QID_LEN);
	return s->n == s->stop_after;
}

/* Replies by context: only that context's (not a longer one sharing its prefix). */
static void
test_replies_by_context(void **state)
{
	struct fx *f = *state;
	uint8_t a[SW_QID_LEN] = { 1 }, b[SW_QID_LEN] = { 2 }, c[SW_QID_LEN] = { 3 };
	struct seen s = { .stop_after = 99 };
	uint8_t *hdr;
	size_t len;

	assert_int_equal(sw_reply_expect(&f->t, "case-1", b, (const uint8_t *)"hdr", 3), 0);
	assert_int_equal(sw_reply_expect(&f->t, "case-1", a, (const uint8_t *)"hdr", 3), 0);
	assert_int_equal(sw_reply_expect(&f->t, "case-10", c, (const uint8_t *)"hdr", 3), 0);
	assert_int_equal(sw_reply_walk(&f->t, "case-1", collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.ids[0], a, SW_QID_LEN);
	assert_memory_equal(s.ids[1], b, SW_QID_LEN);
	s = (struct seen){ .stop_after = 1 };
	assert_int_equal(sw_reply_walk(&f->t, "case-1", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(sw_reply_get(&f->t, "case-10", c, &hdr, &len), 0);
	assert_int_equal(len, 3);
	free(hdr);
	assert_int_equal(sw_reply_done(&f->t, "case-1", a), 0);
	assert_int_equal(sw_reply_done(&f->t, "case-1", a), SW_Q_NOTFOUND);
	assert_int_equal(sw_reply_get(&f->t, "case-1", a, &hdr, &len), SW_Q_NOTFOUND);
	assert_null(hdr);
	s = (struct seen){ .stop_after = 99 };
	assert_int_equal(sw_reply_walk(&f->t, "case-1", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.ids[0], b, SW_QID_LEN);
	/* The empty context is a context; an oversized one is refused. */
	assert_int_equal(sw_reply_expect(&f->t, "", a, (const uint8_t *)"hdr", 3), 0);
	s = (struct seen){ .stop_after = 99 };
	assert_int_equal(sw_reply_walk(&f->t, "", collect, &s), 0);
	assert_int_equal(s.n, 1);
	{
		char big[SW_CTX_MAX + 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(sw_reply_expect(&f->t, big, a, NULL, 0), SW_Q_EINVAL);
	}
}

/* A failing backend write surfaces as its error, not as success. */
static void
test_fault_passes_through(void **state)
{
	struct fx *f = *state;
	struct sw_deadline d = dl(10, SW_DL_DELIVER, 1);
	struct sw_parties p = { 0 };

	sw_queue_fault_arm(f->q, 1);
	assert_int_not_equal(sw_deadline_add(&f->t, &d), 0);
	assert_int_not_equal(sw_parties_put(&f->t, d.id, &p), 0);
	assert_int_not_equal(sw_reply_expect(&f->t, "c", d.id, NULL, 0), 0);
	sw_queue_fault_arm(f->q, 0);
	assert_int_equal(sw_deadline_add(&f->t, &d), 0);
}

/* The counts include pending deadlines. */
static void
test_counts(void **state)
{
	struct fx *f = *state;
	struct sw_deadline d = dl(10, SW_DL_DELIVER, 1), e = dl(11, SW_DL_REPLY, 1);
	struct sw_counts c;

	assert_int_equal(sw_deadline_add(&f->t, &d), 0);
	assert_int_equal(sw_deadline_add(&f->t, &e), 0);
	assert_int_equal(sw_queue_counts(&f->t, &c), 0);
	assert_int_equal(c.deadlines, 2);
	assert_int_equal(c.msgs, 0);
}

#define BOTH(fn) \
	cmocka_unit_test_setup_teardown(fn, setup_ram, teardown), \
	cmocka_unit_test_setup_teardown(fn, setup_lmdb, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_due_in_time_order),
		BOTH(test_same_time_and_bad_input),
		BOTH(test_parties_round_trip),
		BOTH(test_replies_by_context),
		BOTH(test_fault_passes_through),
		BOTH(test_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
