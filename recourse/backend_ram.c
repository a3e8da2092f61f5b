/* backend_ram.c -- the RAM recourse backend: sorted arrays and an undo log per transaction, for tests. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "recourse/backend.h"
#include "recourse/mem.h"
#include "recourse/rc.h"

struct ram_ent {
	uint8_t *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

struct ram_table {
	struct ram_ent *e;
	size_t n, cap;
};

/* What a write replaced: restoring these in reverse order undoes it. */
struct ram_undo {
	enum recourse_db db;
	uint8_t *key;		/* owned */
	size_t klen;
	uint8_t *old;		/* owned; NULL: the key was absent */
	size_t oldlen;
};

struct recourse_txn {
	struct recourse_txn *parent;
	int write;
	struct ram_undo *u;
	size_t n, cap;
};

struct ram_backend {
	struct recourse_backend be;	/* first */
	struct ram_table t[RECOURSE_DB__COUNT];
	struct recourse_txn *active;	/* innermost open write transaction */
};

static int
ram_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* First index whose key is >= key; *found if equal. */
static size_t
ram_lower(const struct ram_table *t, const void *key, size_t klen, int *found)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ram_cmp(t->e[mid].key, t->e[mid].klen, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < t->n &&
	    ram_cmp(t->e[lo].key, t->e[lo].klen, key, klen) == 0;
	return lo;
}

static uint8_t *
ram_dup(const void *p, size_t n)
{
	uint8_t *d = recourse_mem_alloc(n);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

static int
ram_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if ((p = recourse_mem_realloc(*arr, ncap * size)) == NULL)
		return RECOURSE_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static void
ram_undo_free(struct recourse_txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		recourse_mem_free(t->u[i].key);
		recourse_mem_free(t->u[i].old);
	}
	recourse_mem_free(t->u);
	recourse_mem_free(t);
}

static int
ram_begin(struct recourse_backend *be, void *parent, int write,
    struct recourse_txn **out)
{
	struct ram_backend *rb = (struct ram_backend *)be;
	struct recourse_txn *p = parent, *t;

	*out = NULL;
	if (write && p == NULL && rb->active != NULL)
		return EBUSY;
	if (write && p != NULL && (p != rb->active || !p->write))
		return EINVAL;	/* nest only inside the innermost writer */
	if ((t = recourse_mem_calloc(1, sizeof(*t))) == NULL)
		return RECOURSE_ENOMEM;
	t->parent = p;
	t->write = write;
	if (write)
		rb->active = t;
	*out = t;
	return 0;
}

/* Puts back what u replaced. Cannot fail: it only frees and moves memory. */
static void
ram_restore(struct ram_backend *rb, struct ram_undo *u)
{
	struct ram_table *tb = &rb->t[u->db];
	int found;
	size_t i = ram_lower(tb, u->key, u->klen, &found);

	if (u->old == NULL) {		/* absent before: remove */
		if (!found)
			return;
		recourse_mem_free(tb->e[i].key);
		recourse_mem_free(tb->e[i].val);
		memmove(&tb->e[i], &tb->e[i + 1], (tb->n - i - 1) * sizeof(*tb->e));
		tb->n--;
	} else if (found) {		/* replaced: swap the old value back */
		recourse_mem_free(tb->e[i].val);
		tb->e[i].val = u->old;
		tb->e[i].vlen = u->oldlen;
		u->old = NULL;
	} else {			/* deleted: re-insert; the slot was kept */
		memmove(&tb->e[i + 1], &tb->e[i], (tb->n - i) * sizeof(*tb->e));
		tb->e[i] = (struct ram_ent){ u->key, u->klen, u->old, u->oldlen };
		tb->n++;
		u->key = NULL;
		u->old = NULL;
	}
}

static void
ram_abort(struct recourse_backend *be, struct recourse_txn *t)
{
	struct ram_backend *rb = (struct ram_backend *)be;

	if (t == NULL)
		return;
	for (size_t i = t->n; i-- > 0;)
		ram_restore(rb, &t->u[i]);
	if (t->write)
		rb->active = t->parent;
	ram_undo_free(t);
}

static int
ram_commit(struct recourse_backend *be, struct recourse_txn *t)
{
	struct ram_backend *rb = (struct ram_backend *)be;
	struct recourse_txn *p = t->parent;

	if (!t->write || p == NULL) {
		if (t->write)
			rb->active = NULL;
		ram_undo_free(t);
		return 0;
	}
	/* Nested: the parent inherits the undo records, so it can still abort. */
	if (ram_grow((void **)&p->u, &p->cap, p->n + t->n, sizeof(*p->u)) != 0) {
		ram_abort(be, t);
		return RECOURSE_ENOMEM;
	}
	memcpy(&p->u[p->n], t->u, t->n * sizeof(*t->u));
	p->n += t->n;
	t->n = 0;
	rb->active = p;
	ram_undo_free(t);
	return 0;
}

static int
ram_get(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void **val,
    size_t *vlen)
{
	struct ram_table *tb = &((struct ram_backend *)be)->t[db];
	int found;
	size_t i = ram_lower(tb, key, klen, &found);

	if (!found)
		return RECOURSE_ENOTFOUND;
	*val = tb->e[i].val;
	*vlen = tb->e[i].vlen;
	return 0;
}

/*
 * Every allocation is made before anything changes, so a failure leaves
 * the table and the undo log as they were. The table keeps room for one
 * more entry at all times, so that restoring a deleted key cannot fail.
 */
static int
ram_put(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct ram_table *tb = &((struct ram_backend *)be)->t[db];
	struct ram_undo *u;
	uint8_t *nv, *uk, *nk = NULL;
	int found;
	size_t i;

	if (t == NULL || !t->write)
		return EACCES;
	i = ram_lower(tb, key, klen, &found);
	if (ram_grow((void **)&t->u, &t->cap, t->n + 1, sizeof(*t->u)) != 0 ||
	    ram_grow((void **)&tb->e, &tb->cap, tb->n + 2, sizeof(*tb->e)) != 0)
		return RECOURSE_ENOMEM;
	nv = ram_dup(val, vlen);
	uk = ram_dup(key, klen);
	if (!found)
		nk = ram_dup(key, klen);
	if (nv == NULL || uk == NULL || (!found && nk == NULL)) {
		recourse_mem_free(nv);
		recourse_mem_free(uk);
		recourse_mem_free(nk);
		return RECOURSE_ENOMEM;
	}
	u = &t->u[t->n++];
	*u = (struct ram_undo){ db, uk, klen, NULL, 0 };
	if (found) {
		u->old = tb->e[i].val;
		u->oldlen = tb->e[i].vlen;
		tb->e[i].val = nv;
		tb->e[i].vlen = vlen;
		return 0;
	}
	memmove(&tb->e[i + 1], &tb->e[i], (tb->n - i) * sizeof(*tb->e));
	tb->e[i] = (struct ram_ent){ nk, klen, nv, vlen };
	tb->n++;
	return 0;
}

static int
ram_del(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen)
{
	struct ram_table *tb = &((struct ram_backend *)be)->t[db];
	struct ram_undo *u;
	int found;
	size_t i;

	if (t == NULL || !t->write)
		return EACCES;
	i = ram_lower(tb, key, klen, &found);
	if (!found)
		return RECOURSE_ENOTFOUND;
	if (ram_grow((void **)&t->u, &t->cap, t->n + 1, sizeof(*t->u)) != 0)
		return RECOURSE_ENOMEM;
	/* The entry's key and value move into the undo record. */
	u = &t->u[t->n++];
	*u = (struct ram_undo){ db, tb->e[i].key, tb->e[i].klen, tb->e[i].val,
	    tb->e[i].vlen };
	memmove(&tb->e[i], &tb->e[i + 1], (tb->n - i - 1) * sizeof(*tb->e));
	tb->n--;
	return 0;
}

static int
ram_walk(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *from, size_t fromlen,
    recourse_walk_fn fn, void *arg)
{
	struct ram_table *tb = &((struct ram_backend *)be)->t[db];
	int found, rc;
	size_t i = from ? ram_lower(tb, from, fromlen, &found) : 0;

	for (; i < tb->n; i++) {
		rc = fn(tb->e[i].key, tb->e[i].klen, tb->e[i].val, tb->e[i].vlen,
		    arg);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
	}
	return 0;
}

static const char *
ram_strerror(struct recourse_backend *be, int code)
{
	return code == EBUSY ? "another write transaction is open" :
	    strerror(code > 0 ? code : -code);
}

static void
ram_destroy(struct recourse_backend *be)
{
	struct ram_backend *rb = (struct ram_backend *)be;

	for (int d = 0; d < RECOURSE_DB__COUNT; d++) {
		for (size_t i = 0; i < rb->t[d].n; i++) {
			recourse_mem_free(rb->t[d].e[i].key);
			recourse_mem_free(rb->t[d].e[i].val);
		}
		recourse_mem_free(rb->t[d].e);
	}
	recourse_mem_free(rb);
}

static const struct recourse_backend_ops ram_ops = {
	ram_begin, ram_commit, ram_abort, ram_get, ram_put, ram_del, ram_walk,
	ram_strerror, ram_destroy
};

int
recourse_backend_ram_new(struct recourse_backend **out)
{
	struct ram_backend *rb = recourse_mem_calloc(1, sizeof(*rb));

	*out = NULL;
	if (rb == NULL)
		return RECOURSE_ENOMEM;
	rb->be.ops = &ram_ops;
	rb->be.name = "ram";
	*out = &rb->be;
	return 0;
}
