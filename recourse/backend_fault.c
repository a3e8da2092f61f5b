/* backend_fault.c -- a recourse backend that wraps another and fails the n-th write or a commit on demand. */
#include "recourse/backend.h"
#include "recourse/mem.h"
#include "recourse/rc.h"

struct fault_backend {
	struct recourse_backend be;	/* first */
	struct recourse_backend *in;
	unsigned countdown;		/* 0: off; 1: the next write fails */
	int code;
	int commit_code;		/* non-zero: the next commit fails */
	unsigned long writes;
};

#define FB(be)	((struct fault_backend *)(be))

/* Whether this write is the one to fail. */
static int
fault_hit(struct fault_backend *fb)
{
	fb->writes++;
	if (fb->countdown == 0)
		return 0;
	return --fb->countdown == 0;
}

static int
fault_begin(struct recourse_backend *be, void *parent, int write,
    struct recourse_txn **out)
{
	return FB(be)->in->ops->begin(FB(be)->in, parent, write, out);
}

static int
fault_commit(struct recourse_backend *be, struct recourse_txn *t)
{
	struct fault_backend *fb = FB(be);
	int code = fb->commit_code;

	if (code != 0) {
		fb->commit_code = 0;
		fb->in->ops->abort(fb->in, t);
		return code;
	}
	return fb->in->ops->commit(fb->in, t);
}

static void
fault_abort(struct recourse_backend *be, struct recourse_txn *t)
{
	FB(be)->in->ops->abort(FB(be)->in, t);
}

static int
fault_get(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void **val,
    size_t *vlen)
{
	return FB(be)->in->ops->get(FB(be)->in, t, db, key, klen, val, vlen);
}

static int
fault_put(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	if (fault_hit(FB(be)))
		return FB(be)->code;
	return FB(be)->in->ops->put(FB(be)->in, t, db, key, klen, val, vlen);
}

static int
fault_del(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *key, size_t klen)
{
	if (fault_hit(FB(be)))
		return FB(be)->code;
	return FB(be)->in->ops->del(FB(be)->in, t, db, key, klen);
}

static int
fault_walk(struct recourse_backend *be, struct recourse_txn *t,
    enum recourse_db db, const void *from, size_t fromlen,
    recourse_walk_fn fn, void *arg)
{
	return FB(be)->in->ops->walk(FB(be)->in, t, db, from, fromlen, fn, arg);
}

static const char *
fault_strerror(struct recourse_backend *be, int code)
{
	return FB(be)->in->ops->strerror(FB(be)->in, code);
}

static void
fault_destroy(struct recourse_backend *be)
{
	recourse_mem_free(be);
}

static const struct recourse_backend_ops fault_ops = {
	fault_begin, fault_commit, fault_abort, fault_get, fault_put, fault_del,
	fault_walk, fault_strerror, fault_destroy
};

int
recourse_backend_fault_new(struct recourse_backend *inner,
    struct recourse_backend **out)
{
	struct fault_backend *fb = recourse_mem_calloc(1, sizeof(*fb));

	*out = NULL;
	if (fb == NULL)
		return RECOURSE_ENOMEM;
	fb->be.ops = &fault_ops;
	fb->be.name = "fault";
	fb->in = inner;
	*out = &fb->be;
	return 0;
}

void
recourse_backend_fault_arm(struct recourse_backend *be, unsigned n, int code)
{
	FB(be)->countdown = n;
	FB(be)->code = code;
}

void
recourse_backend_fault_arm_commit(struct recourse_backend *be, int commit_code)
{
	FB(be)->commit_code = commit_code;
}

unsigned long
recourse_backend_fault_writes(struct recourse_backend *be)
{
	return FB(be)->writes;
}
