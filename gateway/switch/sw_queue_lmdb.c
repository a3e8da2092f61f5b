/* sw_queue_lmdb.c -- LMDB backend of the switch queues: five named databases, in the caller's transactions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/switch/sw_queue.h"

struct lmdb_be {
	struct sw_queue q;
	MDB_env *env;
	MDB_dbi dbi[SW_QS__COUNT];
};

static int
rc_of(int rc)
{
	return rc == MDB_NOTFOUND ? SW_Q_NOTFOUND : rc;
}

static int
lm_begin(void *be, bool rdonly, void **h)
{
	struct lmdb_be *b = be;
	MDB_txn *txn;
	int rc = mdb_txn_begin(b->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);

	if (rc == 0)
		*h = txn;
	return rc;
}

static int
lm_commit(void *be, void *h)
{
	(void)be;
	return mdb_txn_commit(h);
}

static void
lm_abort(void *be, void *h)
{
	(void)be;
	mdb_txn_abort(h);
}

static int
lm_get(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv *val)
{
	struct lmdb_be *b = be;
	MDB_val k = { key.len, (void *)key.p }, v;
	int rc = mdb_get(h, b->dbi[s], &k, &v);

	if (rc == 0)
		*val = (struct sw_kv){ v.mv_data, v.mv_size };
	return rc_of(rc);
}

static int
lm_put(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv val)
{
	struct lmdb_be *b = be;
	MDB_val k = { key.len, (void *)key.p }, v = { val.len, (void *)val.p };

	return mdb_put(h, b->dbi[s], &k, &v, 0);
}

static int
lm_del(void *be, void *h, enum sw_qstore s, struct sw_kv key)
{
	struct lmdb_be *b = be;
	MDB_val k = { key.len, (void *)key.p };

	return rc_of(mdb_del(h, b->dbi[s], &k, NULL));
}

static int
lm_seek(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv *k, struct sw_kv *v)
{
	struct lmdb_be *b = be;
	MDB_val mk = { key.len, (void *)key.p }, mv;
	MDB_cursor *c;
	int rc;

	if ((rc = mdb_cursor_open(h, b->dbi[s], &c)) != 0)
		return rc;
	/* LMDB refuses an empty key for SET_RANGE: the first entry is FIRST. */
	rc = mdb_cursor_get(c, &mk, &mv, key.len == 0 ? MDB_FIRST :
	    MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (rc == 0) {
		*k = (struct sw_kv){ mk.mv_data, mk.mv_size };
		*v = (struct sw_kv){ mv.mv_data, mv.mv_size };
	}
	return rc_of(rc);
}

static int
lm_count(void *be, void *h, enum sw_qstore s, uint64_t *n)
{
	struct lmdb_be *b = be;
	MDB_stat st;
	int rc = mdb_stat(h, b->dbi[s], &st);

	if (rc == 0)
		*n = st.ms_entries;
	return rc;
}

static void
lm_destroy(void *be)
{
	free(be);	/* dbi handles belong to the env; it outlives us */
}

static const struct sw_qbackend_ops lmdb_ops = {
	.name = "lmdb",
	.begin = lm_begin,
	.commit = lm_commit,
	.abort = lm_abort,
	.get = lm_get,
	.put = lm_put,
	.del = lm_del,
	.seek = lm_seek,
	.count = lm_count,
	.destroy = lm_destroy,
};

int
sw_queue_lmdb_open(MDB_env *env, MDB_txn *txn, struct sw_queue **out,
    char *err, size_t errlen)
{
	struct lmdb_be *b;
	int rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "switch queues: out of memory");
		return ENOMEM;
	}
	for (int s = 0; s < SW_QS__COUNT; s++) {
		rc = mdb_dbi_open(txn, sw_qstore_names[s], MDB_CREATE, &b->dbi[s]);
		if (rc != 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "switch queues: open %s: %s",
				    sw_qstore_names[s], mdb_strerror(rc));
			free(b);
			return rc;
		}
	}
	b->env = env;
	b->q.ops = &lmdb_ops;
	b->q.be = b;
	*out = &b->q;
	return 0;
}

void
sw_txn_lmdb(struct sw_queue *q, MDB_txn *txn, struct sw_txn *t)
{
	t->q = q;
	t->h = txn;
	t->own = false;
}
