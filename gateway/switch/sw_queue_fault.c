/* sw_queue_fault.c -- a queue backend wrapper that fails the nth write, for testing that failures leave no partial state. */
#include <errno.h>
#include <stdlib.h>

#include "gateway/switch/sw_queue.h"

struct fault_be {
	struct sw_queue q;
	struct sw_queue *inner;
	unsigned nth;		/* fail this write (1-based); 0: never */
	unsigned writes;	/* since the last arm */
};

static int
f_begin(void *be, bool rdonly, void **h)
{
	struct fault_be *f = be;

	return f->inner->ops->begin(f->inner->be, rdonly, h);
}

static int
f_commit(void *be, void *h)
{
	struct fault_be *f = be;

	return f->inner->ops->commit(f->inner->be, h);
}

static void
f_abort(void *be, void *h)
{
	struct fault_be *f = be;

	f->inner->ops->abort(f->inner->be, h);
}

static int
f_get(void *be, void *h, enum sw_qstore s, struct sw_kv key, struct sw_kv *val)
{
	struct fault_be *f = be;

	return f->inner->ops->get(f->inner->be, h, s, key, val);
}

/* Counts a write; true if it is to fail (the armed one and all after). */
static bool
f_fails(struct fault_be *f)
{
	f->writes++;
	return f->nth != 0 && f->writes >= f->nth;
}

static int
f_put(void *be, void *h, enum sw_qstore s, struct sw_kv key, struct sw_kv val)
{
	struct fault_be *f = be;

	if (f_fails(f))
		return -EIO;
	return f->inner->ops->put(f->inner->be, h, s, key, val);
}

static int
f_del(void *be, void *h, enum sw_qstore s, struct sw_kv key)
{
	struct fault_be *f = be;

	if (f_fails(f))
		return -EIO;
	return f->inner->ops->del(f->inner->be, h, s, key);
}

static int
f_seek(void *be, void *h, enum sw_qstore s, struct sw_kv key, struct sw_kv *k,
    struct sw_kv *v)
{
	struct fault_be *f = be;

	return f->inner->ops->seek(f->inner->be, h, s, key, k, v);
}

static int
f_count(void *be, void *h, enum sw_qstore s, uint64_t *n)
{
	struct fault_be *f = be;

	return f->inner->ops->count(f->inner->be, h, s, n);
}

static void
f_destroy(void *be)
{
	struct fault_be *f = be;

	sw_queue_close(f->inner);
	free(f);
}

static const struct sw_qbackend_ops fault_ops = {
	.name = "fault",
	.begin = f_begin,
	.commit = f_commit,
	.abort = f_abort,
	.get = f_get,
	.put = f_put,
	.del = f_del,
	.seek = f_seek,
	.count = f_count,
	.destroy = f_destroy,
};

struct sw_queue *
sw_queue_fault_new(struct sw_queue *inner)
{
	struct fault_be *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->inner = inner;
	f->q.ops = &fault_ops;
	f->q.be = f;
	return &f->q;
}

void
sw_queue_fault_arm(struct sw_queue *q, unsigned nth)
{
	struct fault_be *f = q->be;

	f->nth = nth;
	f->writes = 0;
}

unsigned
sw_queue_fault_writes(const struct sw_queue *q)
{
	const struct fault_be *f = q->be;

	return f->writes;
}
