/* sw_deadline.c -- the switch's time index of deadlines, message parties and awaited replies, over the queue backend API. */
#include <stdlib.h>
#include <string.h>

#include "gateway/switch/sw_queue.h"

/*
 * Layouts:
 *   sw.deadlines  at_ms(8, BE) kind(1) id(16) -> ""   (time order)
 *   sw.expiry     the same, for kind SW_DL_FORGET (retention) only
 *   sw.parties    id -> sender NUL to NUL context
 *   sw.replies    context NUL id(16) -> packed header envelope
 */
#define DL_KEY		(8 + 1 + SW_QID_LEN)
#define RK_MAX		(SW_CTX_MAX + 1 + SW_QID_LEN)
#define PARTIES_MAX	(2 * (SW_WHERE_MAX + 1) + SW_CTX_MAX)

static struct sw_kv
kv(const void *p, size_t len)
{
	return (struct sw_kv){ p, len };
}

static void
dl_key(uint8_t k[DL_KEY], const struct sw_deadline *d)
{
	uint64_t v = (uint64_t)d->at_ms;

	for (int i = 7; i >= 0; i--, v >>= 8)
		k[i] = (uint8_t)v;
	k[8] = (uint8_t)d->kind;
	memcpy(k + 9, d->id, SW_QID_LEN);
}

static bool
kind_ok(unsigned kind)
{
	return kind == SW_DL_DELIVER || kind == SW_DL_REPLY ||
	    kind == SW_DL_HOLD || kind == SW_DL_FORGET;
}

static int
dl_decode(struct sw_kv k, struct sw_deadline *d)
{
	const uint8_t *p = k.p;
	uint64_t v = 0;

	if (k.len != DL_KEY || !kind_ok(p[8]))
		return SW_Q_CORRUPT;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	d->at_ms = (int64_t)v;
	d->kind = (enum sw_deadline_kind)p[8];
	memcpy(d->id, p + 9, SW_QID_LEN);
	return 0;
}

static bool
dl_ok(const struct sw_deadline *d)
{
	return d != NULL && d->at_ms >= 0 && kind_ok((unsigned)d->kind);
}

/* Retention deadlines have a store of their own. */
static enum sw_qstore
dl_store(enum sw_deadline_kind kind)
{
	return kind == SW_DL_FORGET ? SW_QS_EXPIRY : SW_QS_DEADLINES;
}

int
sw_deadline_add(struct sw_txn *t, const struct sw_deadline *d)
{
	uint8_t k[DL_KEY];

	if (!dl_ok(d))
		return SW_Q_EINVAL;
	dl_key(k, d);
	return t->q->ops->put(t->q->be, t->h, dl_store(d->kind), kv(k, DL_KEY),
	    kv("", 0));
}

int
sw_deadline_del(struct sw_txn *t, const struct sw_deadline *d)
{
	uint8_t k[DL_KEY];

	if (!dl_ok(d))
		return SW_Q_EINVAL;
	dl_key(k, d);
	return t->q->ops->del(t->q->be, t->h, dl_store(d->kind), kv(k, DL_KEY));
}

static int
due_in(struct sw_txn *t, enum sw_qstore s, int64_t now_ms,
    struct sw_deadline *out, size_t max, size_t *n)
{
	uint8_t from[DL_KEY + 1];
	struct sw_kv k, v, f = kv(from, 0);
	int rc;

	*n = 0;
	while (*n < max) {
		rc = t->q->ops->seek(t->q->be, t->h, s, f, &k, &v);
		if (rc == SW_Q_NOTFOUND)
			return 0;
		if (rc != 0 || (rc = dl_decode(k, &out[*n])) != 0)
			return rc;
		if (out[*n].at_ms > now_ms)
			return 0;
		/* The next key after k: k with a 0 byte appended. */
		memcpy(from, k.p, DL_KEY);
		from[DL_KEY] = 0;
		f = kv(from, DL_KEY + 1);
		(*n)++;
	}
	return 0;
}

int
sw_deadline_due(struct sw_txn *t, int64_t now_ms, struct sw_deadline *out,
    size_t max, size_t *n)
{
	return due_in(t, SW_QS_DEADLINES, now_ms, out, max, n);
}

int
sw_retention_due(struct sw_txn *t, int64_t now_ms, struct sw_deadline *out,
    size_t max, size_t *n)
{
	return due_in(t, SW_QS_EXPIRY, now_ms, out, max, n);
}

int
sw_deadline_next(struct sw_txn *t, int64_t *at_ms)
{
	struct sw_kv k, v;
	struct sw_deadline d;
	int rc = t->q->ops->seek(t->q->be, t->h, SW_QS_DEADLINES, kv("", 0), &k,
	    &v);

	if (rc != 0 || (rc = dl_decode(k, &d)) != 0)
		return rc;
	*at_ms = d.at_ms;
	return 0;
}

/* --- parties ---------------------------------------------------------------- */

int
sw_parties_put(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const struct sw_parties *p)
{
	size_t sl = strnlen(p->sender, sizeof(p->sender));
	size_t tl = strnlen(p->to, sizeof(p->to));
	size_t cl = strnlen(p->context, sizeof(p->context));
	uint8_t b[PARTIES_MAX];

	if (sl > SW_WHERE_MAX || tl > SW_WHERE_MAX || cl > SW_CTX_MAX)
		return SW_Q_EINVAL;
	memcpy(b, p->sender, sl);
	b[sl] = 0;
	memcpy(b + sl + 1, p->to, tl);
	b[sl + 1 + tl] = 0;
	memcpy(b + sl + tl + 2, p->context, cl);
	return t->q->ops->put(t->q->be, t->h, SW_QS_PARTIES, kv(id, SW_QID_LEN),
	    kv(b, sl + tl + 2 + cl));
}

/* Copies the NUL-terminated field at *p (bounded by end) into out. */
static int
field(const uint8_t **p, const uint8_t *end, char *out, size_t cap, bool last)
{
	const uint8_t *z = last ? end : memchr(*p, 0, (size_t)(end - *p));
	size_t n;

	if (z == NULL || (n = (size_t)(z - *p)) >= cap ||
	    memchr(*p, 0, n) != NULL)
		return SW_Q_CORRUPT;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = last ? end : z + 1;
	return 0;
}

int
sw_parties_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_parties *out)
{
	struct sw_kv v;
	const uint8_t *p, *end;
	int rc = t->q->ops->get(t->q->be, t->h, SW_QS_PARTIES,
	    kv(id, SW_QID_LEN), &v);

	if (rc != 0)
		return rc;
	p = v.p;
	end = p + v.len;
	if ((rc = field(&p, end, out->sender, sizeof(out->sender), false)) != 0 ||
	    (rc = field(&p, end, out->to, sizeof(out->to), false)) != 0)
		return rc;
	return field(&p, end, out->context, sizeof(out->context), true);
}

int
sw_parties_del(struct sw_txn *t, const uint8_t id[SW_QID_LEN])
{
	int rc = t->q->ops->del(t->q->be, t->h, SW_QS_PARTIES,
	    kv(id, SW_QID_LEN));

	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

/* --- awaited replies ---------------------------------------------------------- */

static size_t
reply_key(uint8_t *k, const char *context, const uint8_t *id)
{
	size_t n = strlen(context);

	memcpy(k, context, n);
	k[n] = 0;
	if (id != NULL)
		memcpy(k + n + 1, id, SW_QID_LEN);
	return n + 1 + (id != NULL ? SW_QID_LEN : 0);
}

static bool
context_ok(const char *context)
{
	size_t n = context != NULL ? strnlen(context, SW_CTX_MAX + 1) : 0;

	return context != NULL && n <= SW_CTX_MAX;	/* "" is a context too */
}

int
sw_reply_expect(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN], const uint8_t *hdr, size_t len)
{
	uint8_t k[RK_MAX];

	if (!context_ok(context) || id == NULL || (hdr == NULL && len > 0))
		return SW_Q_EINVAL;
	return t->q->ops->put(t->q->be, t->h, SW_QS_REPLIES,
	    kv(k, reply_key(k, context, id)), kv(hdr != NULL ? hdr : k, len));
}

int
sw_reply_walk(struct sw_txn *t, const char *context, sw_reply_fn fn,
    void *arg)
{
	uint8_t k[RK_MAX + 1];
	size_t pl;
	struct sw_kv ko, vo, from;
	int rc;

	if (!context_ok(context))
		return SW_Q_EINVAL;
	pl = reply_key(k, context, NULL);
	from = kv(k, pl);
	while ((rc = t->q->ops->seek(t->q->be, t->h, SW_QS_REPLIES, from, &ko,
	    &vo)) == 0) {
		if (ko.len != pl + SW_QID_LEN || memcmp(ko.p, k, pl) != 0)
			return 0;
		if (fn((const uint8_t *)ko.p + pl, vo.p, vo.len, arg))
			return 0;
		memcpy(k, ko.p, ko.len);
		k[ko.len] = 0;
		from = kv(k, ko.len + 1);
	}
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

int
sw_reply_get(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN], uint8_t **hdr, size_t *len)
{
	uint8_t k[RK_MAX];
	struct sw_kv v;
	int rc;

	*hdr = NULL;
	*len = 0;
	if (!context_ok(context) || id == NULL)
		return SW_Q_EINVAL;
	rc = t->q->ops->get(t->q->be, t->h, SW_QS_REPLIES,
	    kv(k, reply_key(k, context, id)), &v);
	if (rc != 0)
		return rc;
	if ((*hdr = malloc(v.len > 0 ? v.len : 1)) == NULL)
		return SW_Q_ENOMEM;
	memcpy(*hdr, v.p, v.len);
	*len = v.len;
	return 0;
}

int
sw_reply_done(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN])
{
	uint8_t k[RK_MAX];

	if (!context_ok(context) || id == NULL)
		return SW_Q_EINVAL;
	return t->q->ops->del(t->q->be, t->h, SW_QS_REPLIES,
	    kv(k, reply_key(k, context, id)));
}
