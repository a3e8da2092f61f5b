/* sw_queue.c -- the switch's queue logic over the backend API: accept, outbox, mailbox, hold, status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "gateway/switch/sw_queue.h"

/*
 * Layouts (all integers big-endian, so keys sort by number):
 *   record  = ver(1)=2 state(1) where_len(2) env_len(4) seq(8)
 *             accepted_ms(8) updated_ms(8)
 *             redirects(4) rep_kind(1) rep_node_len(1) rep_case_len(2)
 *             rep_detail_len(2) rep_at_ms(8) rep_noted_ms(8)
 *             where rep_node rep_case rep_detail env
 *             (version 1, still read: the first line, then where env)
 *   entry   = id(16) enqueued_ms(8) due_ms(8) attempts(4)
 *             (due_ms: MAILBOX visible again after, 0 not fetched;
 *             HELD the hold deadline, 0 none; OUTBOX 0)
 *   qkey    = name NUL seq(8)     (NUL sorts first: "a" NUL.. < "a.b" NUL..)
 *   counter = sw.msgs["seq"] = last seq handed out (ids are 16 bytes: no clash)
 */
#define REC_VER		2
#define REC_HDR1	32	/* version 1's header */
#define REC_HDR		58
#define ENTRY_LEN	36
#define QKEY_MAX	(SW_NAME_MAX + 1 + 8)

static const char seq_key[] = "seq";

const char *const sw_qstore_names[SW_QS__COUNT] = {
	"sw.msgs", "sw.outbox", "sw.mailbox", "sw.held", "sw.dedup",
	"sw.deadlines", "sw.parties", "sw.replies", "sw.counts", "sw.expiry",
};

/* --- small helpers --------------------------------------------------------- */

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

bool
sw_state_is_queue(enum sw_state s)
{
	return s == SW_STATE_OUTBOX || s == SW_STATE_MAILBOX ||
	    s == SW_STATE_HELD;
}

bool
sw_state_is_final(enum sw_state s)
{
	return s == SW_STATE_FORWARDED || s == SW_STATE_ACKED ||
	    s == SW_STATE_RETURNED || s == SW_STATE_DISCARDED;
}

const char *
sw_state_name(enum sw_state s)
{
	static const char *const names[] = {
		"none", "outbox", "mailbox", "held", "forwarded", "acked",
		"returned", "discarded", "recourse",
	};

	return (unsigned)s <= SW_STATE_MAX ? names[s] : "?";
}

const char *
sw_queue_strerror(int rc)
{
	switch (rc) {
	case 0:			return "ok";
	case SW_Q_DUPLICATE:	return "message id already accepted";
	case SW_Q_NOTFOUND:	return "no such message there";
	case SW_Q_CORRUPT:	return "stored message record is corrupt";
	case SW_Q_BUSY:		return "a write transaction is already open";
	}
	if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
		return mdb_strerror(rc);
	return strerror(rc < 0 ? -rc : rc);
}

bool
sw_record_in_flight(const struct sw_record *r, int64_t now_ms)
{
	return r->state == SW_STATE_MAILBOX && r->attempts > 0 &&
	    r->visible_after_ms > now_ms;
}

void
sw_msgs_free(struct sw_msg *m, size_t n)
{
	for (size_t i = 0; m != NULL && i < n; i++) {
		free(m[i].env);
		m[i].env = NULL;
	}
}

/* Queue names: 1..SW_NAME_MAX bytes; other locations 0..SW_WHERE_MAX. */
static bool
where_ok(enum sw_state s, const char *where)
{
	size_t n;

	if (s == SW_STATE_NONE || (unsigned)s > SW_STATE_MAX)
		return false;
	if (where == NULL)
		return !sw_state_is_queue(s);
	n = strlen(where);
	return sw_state_is_queue(s) ? n >= 1 && n <= SW_NAME_MAX :
	    n <= SW_WHERE_MAX;
}

static bool
name_ok(const char *name)
{
	return name != NULL && name[0] != '\0' && strlen(name) <= SW_NAME_MAX;
}

static enum sw_qstore
store_of(enum sw_state s)
{
	return s == SW_STATE_OUTBOX ? SW_QS_OUTBOX :
	    s == SW_STATE_MAILBOX ? SW_QS_MAILBOX : SW_QS_HELD;
}

static struct sw_kv
kv(const void *p, size_t len)
{
	return (struct sw_kv){ p, len };
}

/* --- backend calls ------------------------------------------------------- */

static int
bget(struct sw_txn *t, enum sw_qstore s, struct sw_kv k, struct sw_kv *v)
{
	return t->q->ops->get(t->q->be, t->h, s, k, v);
}

static int
bput(struct sw_txn *t, enum sw_qstore s, struct sw_kv k, struct sw_kv v)
{
	return t->q->ops->put(t->q->be, t->h, s, k, v);
}

static int
bdel(struct sw_txn *t, enum sw_qstore s, struct sw_kv k)
{
	return t->q->ops->del(t->q->be, t->h, s, k);
}

static int
bseek(struct sw_txn *t, enum sw_qstore s, struct sw_kv k, struct sw_kv *ko,
    struct sw_kv *vo)
{
	return t->q->ops->seek(t->q->be, t->h, s, k, ko, vo);
}

void
sw_queue_close(struct sw_queue *q)
{
	if (q != NULL)
		q->ops->destroy(q->be);
}

int
sw_txn_begin(struct sw_queue *q, bool rdonly, struct sw_txn *t)
{
	t->q = q;
	t->own = true;
	t->h = NULL;
	return q->ops->begin(q->be, rdonly, &t->h);
}

int
sw_txn_commit(struct sw_txn *t)
{
	int rc = 0;

	if (t->own && t->h != NULL)
		rc = t->q->ops->commit(t->q->be, t->h);
	t->h = NULL;
	return rc;
}

void
sw_txn_abort(struct sw_txn *t)
{
	if (t->own && t->h != NULL)
		t->q->ops->abort(t->q->be, t->h);
	t->h = NULL;
}

/* --- queue keys and entries ---------------------------------------------- */

static size_t
qkey(uint8_t *buf, const char *name, uint64_t seq)
{
	size_t n = strlen(name);

	memcpy(buf, name, n);
	buf[n] = '\0';
	put64(buf + n + 1, seq);
	return n + 9;
}

/* Does k belong to queue name (name NUL seq)? Gives its seq. */
static bool
qkey_of(struct sw_kv k, const char *name, uint64_t *seq)
{
	size_t n = strlen(name);
	const uint8_t *p = k.p;

	if (k.len != n + 9 || memcmp(p, name, n) != 0 || p[n] != '\0')
		return false;
	*seq = get64(p + n + 1);
	return true;
}

struct sw_qentry {
	uint8_t id[SW_QID_LEN];
	int64_t enqueued_ms, due_ms;
	uint32_t attempts;
};

static void
entry_encode(const struct sw_qentry *e, uint8_t out[ENTRY_LEN])
{
	memcpy(out, e->id, SW_QID_LEN);
	put64(out + 16, (uint64_t)e->enqueued_ms);
	put64(out + 24, (uint64_t)e->due_ms);
	put32(out + 32, e->attempts);
}

static int
entry_decode(struct sw_kv v, struct sw_qentry *e)
{
	const uint8_t *p = v.p;

	if (v.len != ENTRY_LEN)
		return SW_Q_CORRUPT;
	memcpy(e->id, p, SW_QID_LEN);
	e->enqueued_ms = (int64_t)get64(p + 16);
	e->due_ms = (int64_t)get64(p + 24);
	e->attempts = get32(p + 32);
	return 0;
}

/* --- per-queue counters ---------------------------------------------------
 * sw.counts holds one key per non-empty queue: kind(1) name -> count(8)
 * fetched(8), kind 'o' outbox, 'm' mailbox, 'h' held; fetched counts the
 * mailbox entries with a visibility time set (fetched, not acknowledged).
 * entry_put and entry_del change it in the same transaction as the entry
 * (so an abort undoes both, and a crash keeps both or neither); a counter
 * that reaches 0 is deleted. "\0layout" -> SW_COUNTS_LAYOUT(8) says for
 * which layout the counters were built.
 */
#define CKEY_MAX	(1 + SW_NAME_MAX)
#define CVAL_LEN	16

static const char layout_key[] = "\0layout";

static uint8_t
kind_of(enum sw_qstore s)
{
	return s == SW_QS_OUTBOX ? 'o' : s == SW_QS_MAILBOX ? 'm' : 'h';
}

static size_t
ckey(uint8_t *k, enum sw_qstore s, const char *name, size_t nl)
{
	k[0] = kind_of(s);
	memcpy(k + 1, name, nl);
	return nl + 1;
}

/* The counter of queue s/name[0..nl): 0, 0 if it has none. */
static int
qcount_get(struct sw_txn *t, enum sw_qstore s, const char *name, size_t nl,
    uint64_t *n, uint64_t *fetched)
{
	uint8_t k[CKEY_MAX];
	struct sw_kv v;
	int rc = bget(t, SW_QS_COUNTS, kv(k, ckey(k, s, name, nl)), &v);

	*n = *fetched = 0;
	if (rc == SW_Q_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.len != CVAL_LEN)
		return SW_Q_CORRUPT;
	*n = get64(v.p);
	*fetched = get64((const uint8_t *)v.p + 8);
	return 0;
}

static int
qcount_set(struct sw_txn *t, enum sw_qstore s, const char *name, size_t nl,
    uint64_t n, uint64_t fetched)
{
	uint8_t k[CKEY_MAX], v[CVAL_LEN];
	size_t kl = ckey(k, s, name, nl);
	int rc;

	if (n == 0) {
		rc = bdel(t, SW_QS_COUNTS, kv(k, kl));
		return rc == SW_Q_NOTFOUND ? 0 : rc;
	}
	put64(v, n);
	put64(v + 8, fetched);
	return bput(t, SW_QS_COUNTS, kv(k, kl), kv(v, CVAL_LEN));
}

static int
qcount_add(struct sw_txn *t, enum sw_qstore s, const char *name, int dn,
    int df)
{
	size_t nl = strlen(name);
	uint64_t n, f;
	int rc = qcount_get(t, s, name, nl, &n, &f);

	if (rc != 0)
		return rc;
	if ((dn < 0 && n < (uint64_t)-dn) || (df < 0 && f < (uint64_t)-df))
		return SW_Q_CORRUPT;	/* a counter below its entries */
	n += (uint64_t)(int64_t)dn;
	f += (uint64_t)(int64_t)df;
	if (f > n)
		return SW_Q_CORRUPT;
	return qcount_set(t, s, name, nl, n, f);
}

static int
fetched_of(enum sw_state s, int64_t due_ms)
{
	return s == SW_STATE_MAILBOX && due_ms > 0;
}

/* Writes an entry; old: the entry it replaces (NULL: a new one, counted). */
static int
entry_put(struct sw_txn *t, enum sw_state s, const char *name, uint64_t seq,
    const struct sw_qentry *e, const struct sw_qentry *old)
{
	uint8_t k[QKEY_MAX], v[ENTRY_LEN];
	size_t kl = qkey(k, name, seq);
	int dn = old == NULL, df = fetched_of(s, e->due_ms) -
	    (old != NULL ? fetched_of(s, old->due_ms) : 0);
	int rc;

	entry_encode(e, v);
	rc = bput(t, store_of(s), kv(k, kl), kv(v, ENTRY_LEN));
	if (rc == 0 && (dn != 0 || df != 0))
		rc = qcount_add(t, store_of(s), name, dn, df);
	return rc;
}

/* Deletes an entry whose due time was due_ms, and counts it out. */
static int
entry_del(struct sw_txn *t, enum sw_state s, const char *name, uint64_t seq,
    int64_t due_ms)
{
	uint8_t k[QKEY_MAX];
	size_t kl = qkey(k, name, seq);
	int rc = bdel(t, store_of(s), kv(k, kl));

	if (rc == 0)
		rc = qcount_add(t, store_of(s), name, -1, -fetched_of(s, due_ms));
	return rc;
}

/* --- records ------------------------------------------------------------- */

/* A malloc'd record value (header, texts, env). NULL on ENOMEM. */
static uint8_t *
rec_encode(const struct sw_record *r, const uint8_t *env, size_t env_len,
    size_t *len)
{
	const struct sw_report *rp = &r->rep;
	size_t wl = strlen(r->where), nl = strlen(rp->node),
	    cl = strlen(rp->case_id), dl = strlen(rp->detail);
	uint8_t *b, *p;

	*len = REC_HDR + wl + nl + cl + dl + env_len;
	if ((b = malloc(*len)) == NULL)
		return NULL;
	b[0] = REC_VER;
	b[1] = (uint8_t)r->state;
	b[2] = (uint8_t)(wl >> 8);
	b[3] = (uint8_t)wl;
	put32(b + 4, (uint32_t)env_len);
	put64(b + 8, r->seq);
	put64(b + 16, (uint64_t)r->accepted_ms);
	put64(b + 24, (uint64_t)r->updated_ms);
	put32(b + 32, r->redirects);
	b[36] = (uint8_t)rp->kind;
	b[37] = (uint8_t)nl;
	b[38] = (uint8_t)(cl >> 8);
	b[39] = (uint8_t)cl;
	b[40] = (uint8_t)(dl >> 8);
	b[41] = (uint8_t)dl;
	put64(b + 42, (uint64_t)rp->at_ms);
	put64(b + 50, (uint64_t)rp->noted_ms);
	p = b + REC_HDR;
	memcpy(p, r->where, wl);
	memcpy(p += wl, rp->node, nl);
	memcpy(p += nl, rp->case_id, cl);
	memcpy(p += cl, rp->detail, dl);
	if (env_len > 0)
		memcpy(p + dl, env, env_len);
	return b;
}

/* Copies text p[0..n) into out (cap bytes with the NUL); false if it does not fit or has a NUL. */
static bool
rec_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (n >= cap || memchr(p, '\0', n) != NULL)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static int
rec_decode(const uint8_t id[SW_QID_LEN], struct sw_kv v, struct sw_record *r,
    const uint8_t **env)
{
	const uint8_t *p = v.p;
	struct sw_report *rp = &r->rep;
	size_t hdr, wl, el, nl = 0, cl = 0, dl = 0;

	if (v.len < REC_HDR1 || (p[0] != 1 && p[0] != REC_VER) || p[1] == 0 ||
	    p[1] > SW_STATE_MAX)
		return SW_Q_CORRUPT;
	hdr = p[0] == 1 ? REC_HDR1 : REC_HDR;
	if (v.len < hdr)
		return SW_Q_CORRUPT;
	memset(r, 0, sizeof(*r));
	wl = (size_t)p[2] << 8 | p[3];
	el = get32(p + 4);
	if (p[0] == REC_VER) {
		r->redirects = get32(p + 32);
		rp->kind = p[36];
		nl = p[37];
		cl = (size_t)p[38] << 8 | p[39];
		dl = (size_t)p[40] << 8 | p[41];
		rp->at_ms = (int64_t)get64(p + 42);
		rp->noted_ms = (int64_t)get64(p + 50);
	}
	if (wl > SW_WHERE_MAX || hdr + wl + nl + cl + dl + el != v.len)
		return SW_Q_CORRUPT;
	memcpy(r->id, id, SW_QID_LEN);
	r->state = (enum sw_state)p[1];
	r->seq = get64(p + 8);
	r->accepted_ms = (int64_t)get64(p + 16);
	r->updated_ms = (int64_t)get64(p + 24);
	p += hdr;
	if (!rec_text(p, wl, r->where, sizeof(r->where)) ||
	    !rec_text(p += wl, nl, rp->node, sizeof(rp->node)) ||
	    !rec_text(p += nl, cl, rp->case_id, sizeof(rp->case_id)) ||
	    !rec_text(p += cl, dl, rp->detail, sizeof(rp->detail)))
		return SW_Q_CORRUPT;
	r->env_len = el;
	if (env != NULL)
		*env = p + dl;
	return 0;
}

/*
 * Reads id's record and, for a queue state, its entry. *env (if asked)
 * points into the backend: valid until the next write.
 */
static int
rec_read(struct sw_txn *t, const uint8_t id[SW_QID_LEN], struct sw_record *r,
    const uint8_t **env)
{
	uint8_t k[QKEY_MAX];
	struct sw_kv v;
	struct sw_qentry e;
	int rc;

	if ((rc = bget(t, SW_QS_MSGS, kv(id, SW_QID_LEN), &v)) != 0 ||
	    (rc = rec_decode(id, v, r, env)) != 0)
		return rc;
	if (!sw_state_is_queue(r->state))
		return 0;
	if (strlen(r->where) > SW_NAME_MAX)
		return SW_Q_CORRUPT;
	rc = bget(t, store_of(r->state), kv(k, qkey(k, r->where, r->seq)), &v);
	if (rc == SW_Q_NOTFOUND)
		return SW_Q_CORRUPT;	/* a queued record always has its entry */
	if (rc != 0 || (rc = entry_decode(v, &e)) != 0)
		return rc;
	if (memcmp(e.id, id, SW_QID_LEN) != 0)
		return SW_Q_CORRUPT;
	r->enqueued_ms = e.enqueued_ms;
	if (r->state == SW_STATE_HELD)
		r->hold_until_ms = e.due_ms;
	else
		r->visible_after_ms = e.due_ms;
	r->attempts = e.attempts;
	return 0;
}

static int
rec_put(struct sw_txn *t, const struct sw_record *r, const uint8_t *env,
    size_t env_len)
{
	size_t len;
	uint8_t *b = rec_encode(r, env, env_len, &len);
	int rc;

	if (b == NULL)
		return SW_Q_ENOMEM;
	rc = bput(t, SW_QS_MSGS, kv(r->id, SW_QID_LEN), kv(b, len));
	free(b);
	return rc;
}

/* Rewrites id's record (envelope kept) after fn changed it; fn false: nothing to write. */
static int
rec_rewrite(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    bool (*fn)(struct sw_record *r, const void *arg), const void *arg)
{
	struct sw_record r;
	const uint8_t *env;
	int rc = rec_read(t, id, &r, &env);

	if (rc != 0)
		return rc;
	if (!fn(&r, arg))
		return 0;
	return rec_put(t, &r, env, r.env_len);	/* encoded before the write */
}

static bool
set_redirects(struct sw_record *r, const void *arg)
{
	uint32_t n = *(const uint32_t *)arg;

	if (r->redirects == n)
		return false;
	r->redirects = n;
	memset(&r->rep, 0, sizeof(r->rep));	/* about the earlier journey */
	return true;
}

int
sw_queue_set_redirects(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    uint32_t n)
{
	return rec_rewrite(t, id, set_redirects, &n);
}

static bool
set_report(struct sw_record *r, const void *arg)
{
	const struct sw_report *rep = arg;

	r->rep = *rep;
	return true;
}

int
sw_queue_set_report(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const struct sw_report *rep)
{
	if (rep->kind < 0 || rep->kind > 255)
		return SW_Q_EINVAL;
	return rec_rewrite(t, id, set_report, rep);
}

/* --- hold deadlines ----------------------------------------------------------- */

/*
 * A message enters HELD at now_ms: with a hold limit, its deadline goes
 * into the time index and *due (for its entry) gets the time; else 0.
 */
static int
hold_start(struct sw_txn *t, const uint8_t id[SW_QID_LEN], int64_t now_ms,
    int64_t *due)
{
	struct sw_deadline d = { 0, SW_DL_HOLD, { 0 } };

	*due = 0;
	if (t->q->hold_limit_ms <= 0)
		return 0;
	d.at_ms = now_ms + t->q->hold_limit_ms;
	memcpy(d.id, id, SW_QID_LEN);
	*due = d.at_ms;
	return sw_deadline_add(t, &d);
}

/* A message leaves HELD: its hold deadline (if any, and not yet run) goes. */
static int
hold_end(struct sw_txn *t, const uint8_t id[SW_QID_LEN], int64_t due)
{
	struct sw_deadline d = { due, SW_DL_HOLD, { 0 } };
	int rc;

	if (due <= 0)
		return 0;
	memcpy(d.id, id, SW_QID_LEN);
	rc = sw_deadline_del(t, &d);
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

int
sw_queue_hold_backfill(struct sw_txn *t, size_t max, size_t *added)
{
	uint8_t k[QKEY_MAX + 1], v[ENTRY_LEN];
	struct sw_kv ko, vo, from = kv(k, 0);
	struct sw_qentry e;
	size_t n = 0;
	int rc = 0;

	if (added != NULL)
		*added = 0;
	if (t->q->hold_limit_ms <= 0)
		return 0;
	while (n < max && (rc = bseek(t, SW_QS_HELD, from, &ko, &vo)) == 0) {
		if (ko.len > QKEY_MAX)
			return SW_Q_CORRUPT;
		if ((rc = entry_decode(vo, &e)) != 0)
			return rc;
		memcpy(k, ko.p, ko.len);	/* ko dies with the next write */
		if (e.due_ms == 0) {
			struct sw_deadline d = { e.enqueued_ms + t->q->hold_limit_ms,
				SW_DL_HOLD, { 0 } };

			memcpy(d.id, e.id, SW_QID_LEN);
			e.due_ms = d.at_ms;
			entry_encode(&e, v);
			if ((rc = bput(t, SW_QS_HELD, kv(k, ko.len),
			    kv(v, ENTRY_LEN))) != 0 ||
			    (rc = sw_deadline_add(t, &d)) != 0)
				return rc;
			n++;
		}
		/* The next key after k: k with a 0 byte appended. */
		k[ko.len] = 0;
		from = kv(k, ko.len + 1);
	}
	if (added != NULL)
		*added = n;
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

static int forget_start(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    int64_t now_ms);

/*
 * Moves the message of record r (as rec_read left it; env/env_len: the
 * envelope to keep, possibly pointing into the backend) to to/where. The
 * new record is encoded before the first write, so env may be stale after.
 */
static int
move_rec(struct sw_txn *t, const struct sw_record *r, const uint8_t *env,
    size_t env_len, enum sw_state to, const char *where, int64_t now_ms)
{
	bool keep = sw_state_is_queue(to);
	struct sw_record n = *r;
	struct sw_qentry e;
	uint8_t *b;
	size_t len;
	int rc;

	if (!where_ok(to, where) || (keep && env_len == 0))
		return SW_Q_EINVAL;
	n.state = to;
	snprintf(n.where, sizeof(n.where), "%s", where != NULL ? where : "");
	n.updated_ms = now_ms;
	if ((b = rec_encode(&n, env, keep ? env_len : 0, &len)) == NULL)
		return SW_Q_ENOMEM;
	rc = 0;
	if (sw_state_is_queue(r->state))
		rc = entry_del(t, r->state, r->where, r->seq,
		    r->state == SW_STATE_HELD ? r->hold_until_ms :
		    r->visible_after_ms);
	if (rc == 0 && r->state == SW_STATE_HELD)
		rc = hold_end(t, r->id, r->hold_until_ms);
	if (rc == 0 && keep) {
		memcpy(e.id, r->id, SW_QID_LEN);
		e.enqueued_ms = now_ms;
		e.due_ms = 0;		/* a move ends any fetch */
		e.attempts = r->attempts;
		if (to == SW_STATE_HELD)
			rc = hold_start(t, r->id, now_ms, &e.due_ms);
		if (rc == 0)
			rc = entry_put(t, to, n.where, r->seq, &e, NULL);
	}
	if (rc == 0)
		rc = bput(t, SW_QS_MSGS, kv(r->id, SW_QID_LEN), kv(b, len));
	free(b);
	if (rc == 0 && sw_state_is_final(to))
		rc = forget_start(t, r->id, now_ms);
	return rc;
}

/* --- retention -------------------------------------------------------------- */

/*
 * The first retention step of a message that ended at end_ms still to come
 * after `after`: its record's (end + record retention) or its mark's (end +
 * dedup retention), whichever is earlier; 0 if none (no retention).
 */
static int64_t
forget_next(const struct sw_queue *q, int64_t end_ms, int64_t after)
{
	int64_t r = q->record_retention_ms > 0 ? end_ms + q->record_retention_ms : 0;
	int64_t d = q->dedup_retention_ms > 0 ? end_ms + q->dedup_retention_ms : 0;
	int64_t best = r > after ? r : 0;

	if (d > after && (best == 0 || d < best))
		best = d;
	return best;
}

static int
forget_at(struct sw_txn *t, const uint8_t id[SW_QID_LEN], int64_t at_ms)
{
	struct sw_deadline d = { at_ms, SW_DL_FORGET, { 0 } };

	if (at_ms <= 0)
		return 0;
	memcpy(d.id, id, SW_QID_LEN);
	return sw_deadline_add(t, &d);
}

/* A message ended here at now_ms (record written as final): its retention starts. */
static int
forget_start(struct sw_txn *t, const uint8_t id[SW_QID_LEN], int64_t now_ms)
{
	return forget_at(t, id, forget_next(t->q, now_ms, now_ms));
}

/* Does id's sender still await a reply (sw.replies)? */
static int
reply_awaited(struct sw_txn *t, const uint8_t id[SW_QID_LEN], bool *yes)
{
	struct sw_parties p;
	uint8_t *hdr;
	size_t len;
	int rc = sw_parties_get(t, id, &p);

	*yes = false;
	if (rc == SW_Q_NOTFOUND || rc == SW_Q_CORRUPT)
		return 0;
	if (rc != 0)
		return rc;
	rc = sw_reply_get(t, p.context, id, &hdr, &len);
	free(hdr);
	*yes = rc == 0;
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

static int
mark_del(struct sw_txn *t, const uint8_t id[SW_QID_LEN])
{
	int rc = bdel(t, SW_QS_DEDUP, kv(id, SW_QID_LEN));

	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

int
sw_queue_forget(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    int64_t now_ms, bool *forgot)
{
	const struct sw_queue *q = t->q;
	struct sw_record r;
	bool rec_due, mark_due, awaited = false;
	int64_t next = 0;
	int rc = rec_read(t, id, &r, NULL);

	if (forgot != NULL)
		*forgot = false;
	if (rc == SW_Q_NOTFOUND)	/* the record went first: the mark's turn */
		return mark_del(t, id);
	if (rc != 0 || !sw_state_is_final(r.state))
		return rc;		/* back in custody: its next end sets a deadline */
	rec_due = q->record_retention_ms > 0 &&
	    now_ms >= r.updated_ms + q->record_retention_ms;
	mark_due = q->dedup_retention_ms > 0 &&
	    now_ms >= r.updated_ms + q->dedup_retention_ms;
	if (rec_due && (rc = reply_awaited(t, id, &awaited)) != 0)
		return rc;
	if (awaited) {		/* REPLY_OVERDUE needs the parties: look again later */
		rec_due = false;
		next = now_ms + q->record_retention_ms;
	}
	if (rec_due && ((rc = bdel(t, SW_QS_MSGS, kv(id, SW_QID_LEN))) != 0 ||
	    (rc = sw_parties_del(t, id)) != 0))
		return rc;
	if (mark_due && (rc = mark_del(t, id)) != 0)
		return rc;
	if (forgot != NULL)
		*forgot = rec_due;
	if (next == 0 && !(rec_due && mark_due))
		next = forget_next(q, r.updated_ms, now_ms);
	return forget_at(t, id, next);
}

/* --- accept, seen, status ------------------------------------------------ */

static int
next_seq(struct sw_txn *t, uint64_t *seq)
{
	uint8_t b[8];
	struct sw_kv v;
	int rc = bget(t, SW_QS_MSGS, kv(seq_key, 3), &v);

	if (rc == SW_Q_NOTFOUND)
		*seq = 1;
	else if (rc != 0)
		return rc;
	else if (v.len != 8)
		return SW_Q_CORRUPT;
	else
		*seq = get64(v.p) + 1;
	put64(b, *seq);
	return bput(t, SW_QS_MSGS, kv(seq_key, 3), kv(b, 8));
}

int
sw_queue_seen(struct sw_txn *t, const uint8_t id[SW_QID_LEN], bool *seen,
    int64_t *first_ms)
{
	struct sw_kv v;
	int rc = bget(t, SW_QS_DEDUP, kv(id, SW_QID_LEN), &v);

	*seen = false;
	if (rc == SW_Q_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.len != 8 && v.len != 8 + SW_QDIGEST_LEN)
		return SW_Q_CORRUPT;
	*seen = true;
	if (first_ms != NULL)
		*first_ms = (int64_t)get64(v.p);
	return 0;
}

int
sw_queue_digest_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    uint8_t digest[SW_QDIGEST_LEN], bool *has)
{
	struct sw_kv v;
	int rc = bget(t, SW_QS_DEDUP, kv(id, SW_QID_LEN), &v);

	*has = false;
	if (rc != 0)
		return rc;
	if (v.len == 8)
		return 0;	/* a mark from before digests were kept */
	if (v.len != 8 + SW_QDIGEST_LEN)
		return SW_Q_CORRUPT;
	memcpy(digest, (const uint8_t *)v.p + 8, SW_QDIGEST_LEN);
	*has = true;
	return 0;
}

int
sw_queue_digest_put(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t digest[SW_QDIGEST_LEN])
{
	uint8_t b[8 + SW_QDIGEST_LEN];
	struct sw_kv v;
	int rc = bget(t, SW_QS_DEDUP, kv(id, SW_QID_LEN), &v);

	if (rc != 0)
		return rc;
	if (v.len != 8 && v.len != 8 + SW_QDIGEST_LEN)
		return SW_Q_CORRUPT;
	memcpy(b, v.p, 8);
	memcpy(b + 8, digest, SW_QDIGEST_LEN);
	return bput(t, SW_QS_DEDUP, kv(id, SW_QID_LEN), kv(b, sizeof(b)));
}

int
sw_queue_accept(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t *env, size_t env_len, enum sw_state state,
    const char *where, int64_t now_ms)
{
	return sw_queue_accept_digest(t, id, NULL, env, env_len, state, where,
	    now_ms);
}

int
sw_queue_accept_digest(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t *digest, const uint8_t *env, size_t env_len,
    enum sw_state state, const char *where, int64_t now_ms)
{
	bool keep = sw_state_is_queue(state), seen;
	struct sw_record r;
	struct sw_kv v;
	struct sw_qentry e;
	uint8_t first[8 + SW_QDIGEST_LEN];
	int rc;

	if (id == NULL || !where_ok(state, where) || env_len > UINT32_MAX ||
	    (keep && (env == NULL || env_len == 0)))
		return SW_Q_EINVAL;
	if ((rc = sw_queue_seen(t, id, &seen, NULL)) != 0)
		return rc;
	/* The record too: dedup marks may one day expire before records. */
	if (seen || (rc = bget(t, SW_QS_MSGS, kv(id, SW_QID_LEN), &v)) == 0)
		return SW_Q_DUPLICATE;
	if (rc != SW_Q_NOTFOUND)
		return rc;
	memset(&r, 0, sizeof(r));
	memcpy(r.id, id, SW_QID_LEN);
	r.state = state;
	snprintf(r.where, sizeof(r.where), "%s", where != NULL ? where : "");
	r.accepted_ms = r.updated_ms = now_ms;
	put64(first, (uint64_t)now_ms);
	if (digest != NULL)
		memcpy(first + 8, digest, SW_QDIGEST_LEN);
	if ((rc = next_seq(t, &r.seq)) != 0 ||
	    (rc = bput(t, SW_QS_DEDUP, kv(id, SW_QID_LEN), kv(first,
	    digest != NULL ? sizeof(first) : 8))) != 0 ||
	    (rc = rec_put(t, &r, keep ? env : NULL, keep ? env_len : 0)) != 0)
		return rc;
	if (!keep)
		return sw_state_is_final(state) ? forget_start(t, id, now_ms) : 0;
	memcpy(e.id, id, SW_QID_LEN);
	e.enqueued_ms = now_ms;
	e.due_ms = 0;
	e.attempts = 0;
	if (state == SW_STATE_HELD && (rc = hold_start(t, id, now_ms,
	    &e.due_ms)) != 0)
		return rc;
	return entry_put(t, state, r.where, r.seq, &e, NULL);
}

int
sw_queue_status(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_record *out)
{
	return rec_read(t, id, out, NULL);
}

int
sw_queue_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_msg *out)
{
	const uint8_t *env;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = rec_read(t, id, &out->rec, &env)) != 0)
		return rc;
	if (out->rec.env_len == 0)
		return 0;
	if ((out->env = malloc(out->rec.env_len)) == NULL)
		return SW_Q_ENOMEM;
	memcpy(out->env, env, out->rec.env_len);
	out->env_len = out->rec.env_len;
	return 0;
}

/* --- walking a queue ------------------------------------------------------ */

/*
 * The first entry of queue name with seq >= *seq: fills *e and sets *seq to
 * its seq. SW_Q_NOTFOUND at the end of the queue.
 */
static int
q_next(struct sw_txn *t, enum sw_qstore s, const char *name, uint64_t *seq,
    struct sw_qentry *e)
{
	uint8_t k[QKEY_MAX];
	struct sw_kv ko, vo;
	int rc = bseek(t, s, kv(k, qkey(k, name, *seq)), &ko, &vo);

	if (rc != 0)
		return rc;
	if (!qkey_of(ko, name, seq))
		return SW_Q_NOTFOUND;
	return entry_decode(vo, e);
}

/* Reads the record an entry points to, checking they agree. */
static int
q_record(struct sw_txn *t, enum sw_state s, const char *name, uint64_t seq,
    const struct sw_qentry *e, struct sw_record *r, const uint8_t **env)
{
	int rc = rec_read(t, e->id, r, env);

	if (rc == SW_Q_NOTFOUND)
		return SW_Q_CORRUPT;
	if (rc == 0 && (r->state != s || strcmp(r->where, name) != 0 ||
	    r->seq != seq))
		return SW_Q_CORRUPT;
	return rc;
}

/* Copies a record and its envelope into a caller's sw_msg. */
static int
msg_fill(struct sw_msg *m, const struct sw_record *r, const uint8_t *env)
{
	m->rec = *r;
	m->env_len = r->env_len;
	m->env = NULL;
	if (r->env_len == 0)
		return 0;
	if ((m->env = malloc(r->env_len)) == NULL)
		return SW_Q_ENOMEM;
	memcpy(m->env, env, r->env_len);
	return 0;
}

int
sw_queue_outbox_peek(struct sw_txn *t, const char *peer, size_t max,
    struct sw_msg *out, size_t *n)
{
	struct sw_record r;
	const uint8_t *env;
	struct sw_qentry e;
	uint64_t seq = 0;
	int rc = 0;

	*n = 0;
	if (!name_ok(peer))
		return SW_Q_EINVAL;
	while (*n < max) {
		if ((rc = q_next(t, SW_QS_OUTBOX, peer, &seq, &e)) != 0 ||
		    (rc = q_record(t, SW_STATE_OUTBOX, peer, seq, &e, &r,
		    &env)) != 0 || (rc = msg_fill(&out[*n], &r, env)) != 0)
			break;
		(*n)++;
		seq++;
	}
	if (rc == SW_Q_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		sw_msgs_free(out, *n);
		*n = 0;
	}
	return rc;
}

/* Is id queued in s/name (and, for ack/reject, in flight)? */
static int
find_in(struct sw_txn *t, const uint8_t id[SW_QID_LEN], enum sw_state s,
    const char *name, bool in_flight, int64_t now_ms, struct sw_record *r,
    const uint8_t **env)
{
	int rc = rec_read(t, id, r, env);

	if (rc != 0)
		return rc;
	if (r->state != s || strcmp(r->where, name) != 0 ||
	    (in_flight && !sw_record_in_flight(r, now_ms)))
		return SW_Q_NOTFOUND;
	return 0;
}

int
sw_queue_outbox_remove(struct sw_txn *t, const char *peer,
    const uint8_t (*ids)[SW_QID_LEN], size_t n, int64_t now_ms,
    size_t *removed)
{
	struct sw_record r;
	size_t done = 0;
	int rc;

	if (removed != NULL)
		*removed = 0;
	if (!name_ok(peer) || (ids == NULL && n > 0))
		return SW_Q_EINVAL;
	for (size_t i = 0; i < n; i++) {
		rc = find_in(t, ids[i], SW_STATE_OUTBOX, peer, false, now_ms, &r,
		    NULL);
		if (rc == SW_Q_NOTFOUND)
			continue;
		if (rc != 0 || (rc = move_rec(t, &r, NULL, 0,
		    SW_STATE_FORWARDED, peer, now_ms)) != 0)
			return rc;
		done++;
	}
	if (removed != NULL)
		*removed = done;
	return 0;
}

/* --- mailboxes ------------------------------------------------------------ */

/* Marks one mailbox entry fetched and copies the message out. */
static int
fetch_one(struct sw_txn *t, const char *mailbox, uint64_t seq,
    struct sw_qentry *e, int64_t now_ms, int64_t vis_ms, struct sw_msg *m)
{
	struct sw_record r;
	struct sw_qentry old = *e;
	const uint8_t *env;
	int rc;

	if ((rc = q_record(t, SW_STATE_MAILBOX, mailbox, seq, e, &r,
	    &env)) != 0 || (rc = msg_fill(m, &r, env)) != 0)
		return rc;
	e->due_ms = now_ms + vis_ms;
	e->attempts++;
	m->rec.visible_after_ms = e->due_ms;
	m->rec.attempts = e->attempts;
	if ((rc = entry_put(t, SW_STATE_MAILBOX, mailbox, seq, e, &old)) != 0) {
		sw_msgs_free(m, 1);
		return rc;
	}
	return 0;
}

int
sw_queue_mailbox_fetch(struct sw_txn *t, const char *mailbox, size_t max,
    int64_t now_ms, int64_t visibility_ms, struct sw_msg *out, size_t *n)
{
	struct sw_qentry e;
	uint64_t seq = 0;
	int rc = 0;

	*n = 0;
	if (!name_ok(mailbox))
		return SW_Q_EINVAL;
	if (visibility_ms < 1)
		visibility_ms = 1;
	/* In-flight entries stay in place (order kept), so they are skipped. */
	for (; *n < max; seq++) {
		if ((rc = q_next(t, SW_QS_MAILBOX, mailbox, &seq, &e)) != 0)
			break;
		if (e.attempts > 0 && e.due_ms > now_ms)
			continue;
		if ((rc = fetch_one(t, mailbox, seq, &e, now_ms, visibility_ms,
		    &out[*n])) != 0)
			break;
		(*n)++;
	}
	if (rc == SW_Q_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		sw_msgs_free(out, *n);
		*n = 0;
	}
	return rc;
}

int
sw_queue_ack(struct sw_txn *t, const char *mailbox,
    const uint8_t (*ids)[SW_QID_LEN], size_t n, int64_t now_ms, bool *done,
    size_t *acked)
{
	struct sw_record r;
	size_t k = 0;
	int rc;

	if (acked != NULL)
		*acked = 0;
	if (!name_ok(mailbox) || (ids == NULL && n > 0))
		return SW_Q_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (done != NULL)
			done[i] = false;
		rc = find_in(t, ids[i], SW_STATE_MAILBOX, mailbox, true, now_ms,
		    &r, NULL);
		if (rc == SW_Q_NOTFOUND)
			continue;
		if (rc != 0 || (rc = move_rec(t, &r, NULL, 0, SW_STATE_ACKED,
		    mailbox, now_ms)) != 0)
			return rc;
		if (done != NULL)
			done[i] = true;
		k++;
	}
	if (acked != NULL)
		*acked = k;
	return 0;
}

int
sw_queue_reject(struct sw_txn *t, const char *mailbox,
    const uint8_t id[SW_QID_LEN], int64_t now_ms, enum sw_state to,
    const char *where)
{
	struct sw_record r;
	const uint8_t *env;
	int rc;

	if (!name_ok(mailbox) || id == NULL || !where_ok(to, where))
		return SW_Q_EINVAL;
	if ((rc = find_in(t, id, SW_STATE_MAILBOX, mailbox, true, now_ms, &r,
	    &env)) != 0)
		return rc;
	return move_rec(t, &r, env, r.env_len, to, where, now_ms);
}

int
sw_queue_move(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    enum sw_state to, const char *where, const uint8_t *env, size_t env_len,
    int64_t now_ms)
{
	struct sw_record r;
	const uint8_t *old;
	int rc;

	if (id == NULL || !where_ok(to, where) || env_len > UINT32_MAX ||
	    (env_len > 0 && env == NULL))
		return SW_Q_EINVAL;
	if ((rc = rec_read(t, id, &r, &old)) != 0)
		return rc;
	if (env_len == 0) {
		env = old;
		env_len = r.env_len;
	}
	return move_rec(t, &r, env, env_len, to, where, now_ms);
}

/*
 * Moves up to max entries of queue from/name, oldest first, to to/where,
 * calling fn (if any) after each move with the new record and a copy of
 * the envelope (the backend's bytes do not outlive the move's writes).
 */
static int
move_queue(struct sw_txn *t, enum sw_state from, const char *name,
    enum sw_state to, const char *where, size_t max, int64_t now_ms,
    size_t *moved, sw_moved_fn fn, void *arg)
{
	struct sw_record r;
	struct sw_msg m;
	const uint8_t *env;
	struct sw_qentry e;
	uint64_t seq = 0;
	size_t k = 0;
	int rc = 0;

	if (moved != NULL)
		*moved = 0;
	if (!name_ok(name) || !where_ok(to, where))
		return SW_Q_EINVAL;
	while (k < max) {
		memset(&m, 0, sizeof(m));
		if ((rc = q_next(t, store_of(from), name, &seq, &e)) != 0) {
			if (rc == SW_Q_NOTFOUND)	/* the end of the queue */
				rc = 0;
			break;
		}
		if ((rc = q_record(t, from, name, seq, &e, &r, &env)) != 0 ||
		    (fn != NULL && (rc = msg_fill(&m, &r, env)) != 0))
			break;
		rc = move_rec(t, &r, env, r.env_len, to, where, now_ms);
		if (rc == 0 && fn != NULL && (rc = rec_read(t, r.id, &m.rec,
		    NULL)) == 0)
			rc = fn(t, &m, arg);	/* its rc as is, NOTFOUND too */
		sw_msgs_free(&m, 1);
		if (rc != 0)
			break;
		k++;
		seq++;
	}
	if (moved != NULL)
		*moved = k;
	return rc;
}

int
sw_queue_hold(struct sw_txn *t, const char *registrar, size_t max,
    int64_t now_ms, size_t *moved, sw_moved_fn fn, void *arg)
{
	return move_queue(t, SW_STATE_MAILBOX, registrar, SW_STATE_HELD,
	    registrar, max, now_ms, moved, fn, arg);
}

int
sw_queue_release(struct sw_txn *t, const char *registrar, enum sw_state to,
    const char *where, size_t max, int64_t now_ms, size_t *moved,
    sw_moved_fn fn, void *arg)
{
	if (to == SW_STATE_HELD && where != NULL && strcmp(where, registrar) == 0)
		return SW_Q_EINVAL;	/* onto itself: would never end */
	return move_queue(t, SW_STATE_HELD, registrar, to, where, max, now_ms,
	    moved, fn, arg);
}

/* --- metrics ---------------------------------------------------------------- */

int
sw_queue_counts(struct sw_txn *t, struct sw_counts *out)
{
	uint64_t *dst[] = {
		&out->msgs, &out->outbox, &out->mailbox, &out->held, &out->dedup,
		&out->deadlines,
	};
	struct sw_kv v;
	int rc;

	memset(out, 0, sizeof(*out));
	for (int s = 0; s <= SW_QS_DEADLINES; s++)
		if ((rc = t->q->ops->count(t->q->be, t->h, (enum sw_qstore)s,
		    dst[s])) != 0)
			return rc;
	if ((rc = t->q->ops->count(t->q->be, t->h, SW_QS_EXPIRY,
	    &out->expiry)) != 0)
		return rc;
	rc = bget(t, SW_QS_MSGS, kv(seq_key, 3), &v);
	if (rc == 0 && out->msgs > 0)
		out->msgs--;		/* the seq counter is not a message */
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

/* The oldest message of queue which/name: its first entry's enqueued_ms (0: empty). */
static int
oldest_of(struct sw_txn *t, enum sw_qstore which, const char *name,
    int64_t *oldest)
{
	struct sw_qentry e;
	uint64_t seq = 0;
	int rc = q_next(t, which, name, &seq, &e);

	*oldest = rc == 0 ? e.enqueued_ms : 0;
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

static bool
stat_store_ok(enum sw_qstore which)
{
	return which == SW_QS_OUTBOX || which == SW_QS_MAILBOX ||
	    which == SW_QS_HELD;
}

int
sw_queue_stat_one(struct sw_txn *t, enum sw_qstore which, const char *name,
    struct sw_queue_stat *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!stat_store_ok(which) || !name_ok(name))
		return SW_Q_EINVAL;
	memcpy(out->name, name, strlen(name) + 1);
	if ((rc = qcount_get(t, which, name, strlen(name), &out->count,
	    &out->in_flight)) != 0 || out->count == 0)
		return rc;
	return oldest_of(t, which, name, &out->oldest_ms);
}

/* Decodes counter k/v of kind into st (name, count, in_flight). */
static int
stat_decode(struct sw_kv k, struct sw_kv v, struct sw_queue_stat *st)
{
	size_t nl = k.len - 1;

	if (k.len < 2 || nl > SW_NAME_MAX || v.len != CVAL_LEN ||
	    memchr((const uint8_t *)k.p + 1, '\0', nl) != NULL)
		return SW_Q_CORRUPT;
	memset(st, 0, sizeof(*st));
	memcpy(st->name, (const uint8_t *)k.p + 1, nl);
	st->name[nl] = '\0';
	st->count = get64(v.p);
	st->in_flight = get64((const uint8_t *)v.p + 8);
	return 0;
}

int
sw_queue_stats(struct sw_txn *t, enum sw_qstore which, const char *after,
    struct sw_queue_stat *out, size_t max, size_t *n)
{
	uint8_t k[CKEY_MAX + 1];
	struct sw_queue_stat st;
	struct sw_kv ko, vo, from;
	int rc;

	*n = 0;
	if (!stat_store_ok(which) || (after != NULL &&
	    strlen(after) > SW_NAME_MAX))
		return SW_Q_EINVAL;
	from = kv(k, ckey(k, which, after != NULL ? after : "",
	    after != NULL ? strlen(after) : 0));
	if (after != NULL && after[0] != '\0')
		k[from.len++] = 0;	/* the first name after it */
	while ((rc = bseek(t, SW_QS_COUNTS, from, &ko, &vo)) == 0) {
		if (ko.len < 1 || *(const uint8_t *)ko.p != kind_of(which))
			break;
		if ((rc = stat_decode(ko, vo, &st)) != 0)
			return rc;
		memcpy(k, ko.p, ko.len);	/* ko dies with the next read */
		k[ko.len] = 0;
		from = kv(k, ko.len + 1);
		if (*n < max) {
			if ((rc = oldest_of(t, which, st.name, &st.oldest_ms)) != 0)
				return rc;
			out[*n] = st;
		}
		(*n)++;
	}
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

/*
 * Walks queue store s and, per queue, compares its entries with its counter
 * (repair false: *ok false on a difference) or writes the counter (repair
 * true, after all of s's counters were deleted). *nq gets the queues seen.
 */
static int
counters_walk(struct sw_txn *t, enum sw_qstore s, bool repair, bool *ok,
    uint64_t *nq)
{
	uint8_t k[QKEY_MAX + 1];
	char cur[SW_NAME_MAX + 1];
	uint64_t n = 0, f = 0, sn, sf;
	struct sw_kv ko, vo, from = kv(k, 0);
	struct sw_qentry e;
	size_t cl = 0, nl;
	int rc;

	*nq = 0;
	for (;;) {
		rc = bseek(t, s, from, &ko, &vo);
		if (rc != 0 && rc != SW_Q_NOTFOUND)
			return rc;
		nl = rc == 0 ? ko.len - 9 : 0;
		if (rc == 0 && (ko.len < 10 || nl > SW_NAME_MAX ||
		    ((const uint8_t *)ko.p)[nl] != '\0' ||
		    (rc = entry_decode(vo, &e)) != 0))
			return rc != 0 ? rc : SW_Q_CORRUPT;
		if (n > 0 && (rc == SW_Q_NOTFOUND || nl != cl ||
		    memcmp(ko.p, cur, cl) != 0)) {
			int wrc = repair ? qcount_set(t, s, cur, cl, n, f) :
			    qcount_get(t, s, cur, cl, &sn, &sf);

			if (wrc != 0)
				return wrc;
			if (!repair && (sn != n || sf != f))
				*ok = false;
			(*nq)++;
			n = f = 0;
		}
		if (rc == SW_Q_NOTFOUND)
			return 0;
		memcpy(cur, ko.p, nl);
		cur[nl] = '\0';
		cl = nl;
		n++;
		f += (uint64_t)fetched_of(s == SW_QS_MAILBOX ? SW_STATE_MAILBOX :
		    SW_STATE_NONE, e.due_ms);
		memcpy(k, ko.p, ko.len);
		k[ko.len] = 0;
		from = kv(k, ko.len + 1);
	}
}

/* The counter keys of store s: deleted (del), or counted into *nc. */
static int
counters_of(struct sw_txn *t, enum sw_qstore s, bool del, uint64_t *nc)
{
	uint8_t k[CKEY_MAX + 1] = { kind_of(s) };
	struct sw_kv ko, vo, from = kv(k, 1);
	int rc;

	*nc = 0;
	while ((rc = bseek(t, SW_QS_COUNTS, from, &ko, &vo)) == 0) {
		if (ko.len < 1 || *(const uint8_t *)ko.p != kind_of(s))
			break;
		if (ko.len > CKEY_MAX)
			return SW_Q_CORRUPT;
		memcpy(k, ko.p, ko.len);
		from = kv(k, ko.len);
		if (del && (rc = bdel(t, SW_QS_COUNTS, from)) != 0)
			return rc;
		if (!del) {
			k[ko.len] = 0;
			from.len++;
		}
		(*nc)++;
	}
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

static const enum sw_qstore counted[] = { SW_QS_OUTBOX, SW_QS_MAILBOX,
	SW_QS_HELD };

int
sw_queue_counters_verify(struct sw_txn *t, bool *ok)
{
	uint64_t nq, nc;
	int rc;

	*ok = true;
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		if ((rc = counters_walk(t, counted[i], false, ok, &nq)) != 0 ||
		    (rc = counters_of(t, counted[i], false, &nc)) != 0)
			return rc;
		if (nc != nq)
			*ok = false;	/* a counter of an empty queue */
	}
	return 0;
}

/*
 * Every ended message recorded before retention existed gets its forget
 * deadline, counted from when it ended (a deadline already passed is run
 * by the first timer pass, in bounded batches). Walks sw.msgs once.
 */
static int
forget_backfill(struct sw_txn *t)
{
	uint8_t k[SW_QID_LEN + 1];
	struct sw_kv ko, vo, from = kv(k, 0);
	struct sw_record r;
	int rc;

	if (t->q->record_retention_ms <= 0 && t->q->dedup_retention_ms <= 0)
		return 0;
	while ((rc = bseek(t, SW_QS_MSGS, from, &ko, &vo)) == 0) {
		if (ko.len == SW_QID_LEN) {
			memcpy(k, ko.p, SW_QID_LEN);
			if ((rc = rec_decode(k, vo, &r, NULL)) != 0)
				return rc;
			if (sw_state_is_final(r.state) && (rc = forget_at(t, k,
			    forget_next(t->q, r.updated_ms, r.updated_ms))) != 0)
				return rc;
		} else if (ko.len > SW_QID_LEN) {
			return SW_Q_CORRUPT;
		} else {
			memcpy(k, ko.p, ko.len);	/* "seq" */
		}
		k[ko.len] = 0;
		from = kv(k, ko.len + 1);
	}
	return rc == SW_Q_NOTFOUND ? 0 : rc;
}

int
sw_queue_counters_open(struct sw_txn *t, bool *built)
{
	struct sw_kv v;
	uint8_t b[8];
	uint64_t nq, nc;
	int rc = bget(t, SW_QS_COUNTS, kv(layout_key, sizeof(layout_key) - 1),
	    &v);

	if (built != NULL)
		*built = false;
	if (rc == 0 && v.len == 8 && get64(v.p) == SW_COUNTS_LAYOUT)
		return 0;
	if (rc != 0 && rc != SW_Q_NOTFOUND)
		return rc;
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
		if ((rc = counters_of(t, counted[i], true, &nc)) != 0 ||
		    (rc = counters_walk(t, counted[i], true, NULL, &nq)) != 0)
			return rc;
	if ((rc = forget_backfill(t)) != 0)
		return rc;
	put64(b, SW_COUNTS_LAYOUT);
	if ((rc = bput(t, SW_QS_COUNTS, kv(layout_key, sizeof(layout_key) - 1),
	    kv(b, 8))) != 0)
		return rc;
	if (built != NULL)
		*built = true;
	return 0;
}
