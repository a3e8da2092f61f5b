/* sw_queue_ram.c -- RAM backend of the switch queues: sorted arrays with an undo journal per write transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/switch/sw_queue.h"

/*
 * Each store is an array of entries sorted by key (binary search, memmove
 * on insert): plenty for tests and small nodes. A write transaction keeps
 * an undo journal -- the previous value of every key it wrote -- and abort
 * replays it backwards, so a failed operation leaves no trace. One write
 * transaction at a time; read transactions are free.
 */
struct sw_ram_ent {
	uint8_t *k, *v;
	size_t kl, vl;
};

struct ram_store {
	struct sw_ram_ent *e;
	size_t n, cap;
};

struct sw_ram_undo {
	enum sw_qstore s;
	uint8_t *k, *v;		/* v NULL: the key did not exist */
	size_t kl, vl;
};

struct ram_txn {
	bool rdonly;
	struct sw_ram_undo *u;
	size_t n, cap;
};

struct ram_be {
	struct sw_queue q;
	struct ram_store st[SW_QS__COUNT];
	struct ram_txn *writer;		/* the open write transaction */
};

static int
kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Index of the first entry with key >= k; *hit if equal. */
static size_t
find(const struct ram_store *st, struct sw_kv k, bool *hit)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kcmp(st->e[mid].k, st->e[mid].kl, k.p, k.len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*hit = lo < st->n && kcmp(st->e[lo].k, st->e[lo].kl, k.p, k.len) == 0;
	return lo;
}

static uint8_t *
dup(const void *p, size_t n)
{
	uint8_t *d = malloc(n + 1);	/* +1: never malloc(0) */

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

static int
grow_store(struct ram_store *st)
{
	size_t cap;
	struct sw_ram_ent *ne;

	if (st->n < st->cap)
		return 0;
	cap = st->cap ? 2 * st->cap : 64;
	if ((ne = realloc(st->e, cap * sizeof(*ne))) == NULL)
		return SW_Q_ENOMEM;
	st->e = ne;
	st->cap = cap;
	return 0;
}

static int
grow_journal(struct ram_txn *x)
{
	size_t cap;
	struct sw_ram_undo *nu;

	if (x->n < x->cap)
		return 0;
	cap = x->cap ? 2 * x->cap : 16;
	if ((nu = realloc(x->u, cap * sizeof(*nu))) == NULL)
		return SW_Q_ENOMEM;
	x->u = nu;
	x->cap = cap;
	return 0;
}

static void
remove_at(struct ram_store *st, size_t i)
{
	memmove(&st->e[i], &st->e[i + 1], (st->n - i - 1) * sizeof(*st->e));
	st->n--;
}

static void
insert_at(struct ram_store *st, size_t i, struct sw_ram_ent e)
{
	memmove(&st->e[i + 1], &st->e[i], (st->n - i) * sizeof(*st->e));
	st->e[i] = e;
	st->n++;
}

/*
 * Deletes key: the journal takes the entry's buffers, so undoing it
 * allocates nothing.
 */
static int
ram_delete(struct ram_store *st, struct sw_ram_undo *u, struct sw_kv key)
{
	bool hit;
	size_t i = find(st, key, &hit);

	if (!hit)
		return SW_Q_NOTFOUND;
	u->k = st->e[i].k;
	u->kl = st->e[i].kl;
	u->v = st->e[i].v;
	u->vl = st->e[i].vl;
	remove_at(st, i);
	return 0;
}

/*
 * Sets key to val. Everything is allocated before anything changes; the
 * journal takes the old value (or records that there was none).
 */
static int
ram_set(struct ram_store *st, struct sw_ram_undo *u, struct sw_kv key,
    struct sw_kv val)
{
	bool hit;
	size_t i = find(st, key, &hit);
	uint8_t *nv, *uk, *nk = NULL;

	if (!hit && grow_store(st) != 0)
		return SW_Q_ENOMEM;
	nv = dup(val.p, val.len);
	uk = dup(key.p, key.len);
	if (!hit)
		nk = dup(key.p, key.len);
	if (nv == NULL || uk == NULL || (!hit && nk == NULL)) {
		free(nv);
		free(uk);
		free(nk);
		return SW_Q_ENOMEM;
	}
	u->k = uk;
	u->kl = key.len;
	if (hit) {
		u->v = st->e[i].v;
		u->vl = st->e[i].vl;
		st->e[i].v = nv;
		st->e[i].vl = val.len;
	} else {
		u->v = NULL;
		u->vl = 0;
		insert_at(st, i, (struct sw_ram_ent){ nk, nv, key.len, val.len });
	}
	return 0;
}

/* Undoes one journal entry, taking its buffers back. */
static void
undo(struct ram_store *st, struct sw_ram_undo *u)
{
	struct sw_kv k = { u->k, u->kl };
	bool hit;
	size_t i = find(st, k, &hit);

	if (u->v == NULL) {		/* it did not exist: remove it */
		if (hit) {
			free(st->e[i].k);
			free(st->e[i].v);
			remove_at(st, i);
		}
		return;
	}
	if (hit) {			/* it was overwritten: old value back */
		free(st->e[i].v);
		st->e[i].v = u->v;
		st->e[i].vl = u->vl;
		u->v = NULL;
		return;
	}
	/*
	 * It was deleted: re-insert. Replaying backwards, the store is back
	 * to its size before the delete, which fit: never grows here.
	 */
	if (grow_store(st) != 0)
		abort();		/* unreachable; see above */
	insert_at(st, i, (struct sw_ram_ent){ u->k, u->v, u->kl, u->vl });
	u->k = NULL;
	u->v = NULL;
}

static void
txn_free(struct ram_txn *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->u[i].k);
		free(x->u[i].v);
	}
	free(x->u);
	free(x);
}

static int
ram_begin(void *be, bool rdonly, void **h)
{
	struct ram_be *b = be;
	struct ram_txn *x;

	if (!rdonly && b->writer != NULL)
		return SW_Q_BUSY;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return SW_Q_ENOMEM;
	x->rdonly = rdonly;
	if (!rdonly)
		b->writer = x;
	*h = x;
	return 0;
}

static int
ram_commit(void *be, void *h)
{
	struct ram_be *b = be;

	if (b->writer == h)
		b->writer = NULL;
	txn_free(h);
	return 0;
}

static void
ram_abort(void *be, void *h)
{
	struct ram_be *b = be;
	struct ram_txn *x = h;

	for (size_t i = x->n; i-- > 0;)
		undo(&b->st[x->u[i].s], &x->u[i]);
	if (b->writer == x)
		b->writer = NULL;
	txn_free(x);
}

static int
ram_get(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv *val)
{
	struct ram_be *b = be;
	bool hit;
	size_t i = find(&b->st[s], key, &hit);

	(void)h;
	if (!hit)
		return SW_Q_NOTFOUND;
	val->p = b->st[s].e[i].v;
	val->len = b->st[s].e[i].vl;
	return 0;
}

static int
ram_write(struct ram_be *b, struct ram_txn *x, enum sw_qstore s,
    struct sw_kv key, const struct sw_kv *val)
{
	struct sw_ram_undo *u;
	int rc;

	if (x == NULL || x->rdonly || b->writer != x)
		return SW_Q_EINVAL;
	if (grow_journal(x) != 0)
		return SW_Q_ENOMEM;
	u = &x->u[x->n];
	u->s = s;
	rc = val == NULL ? ram_delete(&b->st[s], u, key) :
	    ram_set(&b->st[s], u, key, *val);
	if (rc == 0)
		x->n++;
	return rc;
}

static int
ram_put(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv val)
{
	return ram_write(be, h, s, key, &val);
}

static int
ram_del(void *be, void *h, enum sw_qstore s, struct sw_kv key)
{
	return ram_write(be, h, s, key, NULL);
}

static int
ram_seek(void *be, void *h, enum sw_qstore s, struct sw_kv key,
    struct sw_kv *k, struct sw_kv *v)
{
	struct ram_be *b = be;
	bool hit;
	size_t i = find(&b->st[s], key, &hit);

	(void)h;
	if (i >= b->st[s].n)
		return SW_Q_NOTFOUND;
	*k = (struct sw_kv){ b->st[s].e[i].k, b->st[s].e[i].kl };
	*v = (struct sw_kv){ b->st[s].e[i].v, b->st[s].e[i].vl };
	return 0;
}

static int
ram_count(void *be, void *h, enum sw_qstore s, uint64_t *n)
{
	struct ram_be *b = be;

	(void)h;
	*n = b->st[s].n;
	return 0;
}

static void
ram_destroy(void *be)
{
	struct ram_be *b = be;

	for (int s = 0; s < SW_QS__COUNT; s++) {
		for (size_t i = 0; i < b->st[s].n; i++) {
			free(b->st[s].e[i].k);
			free(b->st[s].e[i].v);
		}
		free(b->st[s].e);
	}
	free(b);
}

static const struct sw_qbackend_ops ram_ops = {
	.name = "ram",
	.begin = ram_begin,
	.commit = ram_commit,
	.abort = ram_abort,
	.get = ram_get,
	.put = ram_put,
	.del = ram_del,
	.seek = ram_seek,
	.count = ram_count,
	.destroy = ram_destroy,
};

struct sw_queue *
sw_queue_ram_new(void)
{
	struct ram_be *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->q.ops = &ram_ops;
	b->q.be = b;
	return &b->q;
}
