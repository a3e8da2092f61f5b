/* backend_lmdb.c -- the LMDB recourse backend: "rec.cases", "rec.audit", "rec.meta", inside the caller's transaction when given one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "recourse/backend.h"
#include "recourse/mem.h"
#include "recourse/rc.h"

static const char *const lmdb_names[RECOURSE_DB__COUNT] = {
	"rec.cases", "rec.audit", "rec.meta"
};

struct recourse_txn {
	MDB_txn *txn;
	int owned;		/* we began it: commit/abort it */
};

struct lmdb_backend {
	struct recourse_backend be;	/* first */
	MDB_env *env;
	MDB_dbi dbi[RECOURSE_DB__COUNT];
};

/* LMDB says ENOMEM with errno's value; recourse has its own code for it. */
static int
lmdb_rc(int rc)
{
	if (rc == MDB_NOTFOUND)
		return RECOURSE_ENOTFOUND;
	if (rc == ENOMEM)
		return RECOURSE_ENOMEM;
	return rc;
}

static int
lmdb_begin(struct recourse_backend *be, void *parent, int write,
    struct recourse_txn **out)
{
	struct lmdb_backend *lb = (struct lmdb_backend *)be;
	struct recourse_txn *t;
	int rc;

	*out = NULL;
	if ((t = recourse_mem_calloc(1, sizeof(*t))) == NULL)
		return RECOURSE_ENOMEM;
	if (!write && parent != NULL) {
		t->txn = parent;	/* LMDB cannot nest a reader */
		*out = t;
		return 0;
	}
	rc = mdb_txn_begin(lb->env, parent, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		recourse_mem_free(t);
		return lmdb_rc(rc);
	}
	t->owned = 1;
	*out = t;
	return 0;
}

static int
lmdb_commit(struct recourse_backend *be, struct recourse_txn *t)
{
	int rc = 0;

	if (t->owned)
		rc = mdb_txn_commit(t->txn);	/* frees the txn even on error */
	recourse_mem_free(t);
	return lmdb_rc(rc);
}

static void
lmdb_abort(struct recourse_backend *be, struct recourse_txn *t)
{
	if (t == NULL)
		return;
	if (t->owned)
		mdb_txn_abort(t->txn);
	recourse_mem_free(t);
}

static int
lmdb_get(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void **val,
    size_t *vlen)
{
	struct lmdb_backend *lb = (struct lmdb_backend *)be;
	MDB_val k = { klen, (void *)key }, d;
	int rc = mdb_get(t->txn, lb->dbi[db], &k, &d);

	if (rc != 0)
		return lmdb_rc(rc);
	*val = d.mv_data;
	*vlen = d.mv_size;
	return 0;
}

static int
lmdb_put(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct lmdb_backend *lb = (struct lmdb_backend *)be;
	MDB_val k = { klen, (void *)key }, d = { vlen, (void *)val };

	return lmdb_rc(mdb_put(t->txn, lb->dbi[db], &k, &d, 0));
}

static int
lmdb_del(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen)
{
	struct lmdb_backend *lb = (struct lmdb_backend *)be;
	MDB_val k = { klen, (void *)key };

	return lmdb_rc(mdb_del(t->txn, lb->dbi[db], &k, NULL));
}

static int
lmdb_walk(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *from, size_t fromlen,
    recourse_walk_fn fn, void *arg)
{
	struct lmdb_backend *lb = (struct lmdb_backend *)be;
	MDB_cursor *c;
	MDB_val k = { fromlen, (void *)from }, d;
	int rc, cb = 0;

	if ((rc = mdb_cursor_open(t->txn, lb->dbi[db], &c)) != 0)
		return lmdb_rc(rc);
	rc = mdb_cursor_get(c, &k, &d, from ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if ((cb = fn(k.mv_data, k.mv_size, d.mv_data, d.mv_size,
		    arg)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (cb != 0)
		return cb > 0 ? 0 : cb;
	return rc == MDB_NOTFOUND ? 0 : lmdb_rc(rc);
}

static const char *
lmdb_strerror(struct recourse_backend *be, int code)
{
	return mdb_strerror(code);
}

static void
lmdb_destroy(struct recourse_backend *be)
{
	recourse_mem_free(be);
}

static const struct recourse_backend_ops lmdb_ops = {
	lmdb_begin, lmdb_commit, lmdb_abort, lmdb_get, lmdb_put, lmdb_del,
	lmdb_walk, lmdb_strerror, lmdb_destroy
};

static int
lmdb_open_dbis(struct lmdb_backend *lb, MDB_txn *txn, char *err,
    size_t errlen)
{
	for (int i = 0; i < RECOURSE_DB__COUNT; i++) {
		int rc = mdb_dbi_open(txn, lmdb_names[i], MDB_CREATE,
		    &lb->dbi[i]);
		if (rc != 0) {
			recourse_why(err, errlen, rc, "opening LMDB database "
			    "%s: %s%s", lmdb_names[i], mdb_strerror(rc),
			    rc == MDB_DBS_FULL ? " (raise mdb_env_set_maxdbs "
			    "by 3 for recourse)" : "");
			return rc;
		}
	}
	return 0;
}

int
recourse_backend_lmdb_new(MDB_env *env, MDB_txn *txn,
    struct recourse_backend **out, char *err, size_t errlen)
{
	struct lmdb_backend *lb;
	MDB_txn *own = NULL;
	int rc;

	*out = NULL;
	if ((lb = recourse_mem_calloc(1, sizeof(*lb))) == NULL) {
		recourse_why(err, errlen, 0, "out of memory");
		return ENOMEM;
	}
	lb->be.ops = &lmdb_ops;
	lb->be.name = "lmdb";
	lb->env = env;
	if (txn == NULL && (rc = mdb_txn_begin(env, NULL, 0, &own)) != 0) {
		recourse_why(err, errlen, 0, "recourse: beginning a transaction: "
		    "%s", mdb_strerror(rc));
		recourse_mem_free(lb);
		return rc;
	}
	rc = lmdb_open_dbis(lb, txn ? txn : own, err, errlen);
	if (own != NULL) {
		if (rc == 0 && (rc = mdb_txn_commit(own)) != 0)
			recourse_why(err, errlen, 0, "recourse: committing the "
			    "database handles: %s", mdb_strerror(rc));
		else if (rc != 0)
			mdb_txn_abort(own);
	}
	if (rc != 0) {
		recourse_mem_free(lb);
		return rc;
	}
	*out = &lb->be;
	return 0;
}
