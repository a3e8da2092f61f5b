/* backends.h -- test helper: the same recourse tests over the RAM backend, LMDB, and the fault-injecting wrapper around either. */
#ifndef AXLE_TEST_RECOURSE_BACKENDS_H
#define AXLE_TEST_RECOURSE_BACKENDS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "recourse/backend.h"

enum tb_kind { TB_RAM, TB_LMDB };

/* One store: be is the fault wrapper around the real backend. */
struct tb {
	enum tb_kind kind;
	struct recourse_backend *inner, *be;
	MDB_env *env;
	char dir[64];
};

static inline void
tb_open(struct tb *b, enum tb_kind kind)
{
	char err[256] = "";

	memset(b, 0, sizeof(*b));
	b->kind = kind;
	if (kind == TB_RAM) {
		assert_int_equal(recourse_backend_ram_new(&b->inner), 0);
	} else {
		strcpy(b->dir, "/tmp/axle-recourse-XXXXXX");
		assert_non_null(mkdtemp(b->dir));
		assert_int_equal(mdb_env_create(&b->env), 0);
		assert_int_equal(mdb_env_set_maxdbs(b->env, 4), 0);
		assert_int_equal(mdb_env_set_mapsize(b->env, 64u << 20), 0);
		assert_int_equal(mdb_env_open(b->env, b->dir, MDB_NOTLS, 0600), 0);
		if (recourse_backend_lmdb_new(b->env, NULL, &b->inner, err,
		    sizeof(err)) != 0)
			fail_msg("lmdb backend: %s", err);
	}
	assert_int_equal(recourse_backend_fault_new(b->inner, &b->be), 0);
}

static inline void
tb_close(struct tb *b)
{
	char p[128];

	recourse_backend_destroy(b->be);
	recourse_backend_destroy(b->inner);
	if (b->env == NULL)
		return;
	mdb_env_close(b->env);
	snprintf(p, sizeof(p), "%s/data.mdb", b->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", b->dir);
	unlink(p);
	assert_int_equal(rmdir(b->dir), 0);
}

/* An outer write transaction of the caller's, as the gateway's writer has. */
static inline void *
tb_outer_begin(struct tb *b)
{
	void *t = NULL;

	if (b->kind == TB_LMDB) {
		MDB_txn *m;
		assert_int_equal(mdb_txn_begin(b->env, NULL, 0, &m), 0);
		return m;
	}
	assert_int_equal(b->inner->ops->begin(b->inner, NULL, 1,
	    (struct recourse_txn **)&t), 0);
	return t;
}

static inline void
tb_outer_end(struct tb *b, void *t, int commit)
{
	if (b->kind == TB_LMDB) {
		if (commit)
			assert_int_equal(mdb_txn_commit(t), 0);
		else
			mdb_txn_abort(t);
		return;
	}
	if (commit)
		assert_int_equal(b->inner->ops->commit(b->inner, t), 0);
	else
		b->inner->ops->abort(b->inner, t);
}

#endif
