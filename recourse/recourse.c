/* recourse.c -- recourse operations over a backend: each case change with its audit entry in one transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "recourse/mem.h"
#include "recourse/path.h"
#include "recourse/recourse.h"

#define CASE_MAX_BYTES		(64u << 20)
#define ENVELOPE_MAX_BYTES	(64u << 20)
#define CASE_KEY_MAX		(253 + 1 + 8)
#define META_NEXT		"case.next"
#define ST_BIT(s)		(1u << (s))
#define LIVE_MASK		(ST_BIT(RECOURSE_ST_OPEN) | ST_BIT(RECOURSE_ST_CLAIMED))
#define ALL_MASK		0x1fu

struct recourse {
	struct recourse_backend *be;
	char *region, *parent, *identity;	/* parent NULL at the root */
	struct recourse_deadline_policy deadlines;
	struct recourse_backoff backoff;
	uint32_t page_max, page_default;
};

/* --- set-up ---------------------------------------------------------------- */

static int
region_valid(const char *s)
{
	char region[RECOURSE_ID_MAX], id[RECOURSE_ID_MAX + 4];
	uint64_t n;

	snprintf(id, sizeof(id), "%s/1", s);
	return strlen(s) <= 253 && recourse_case_id_parse(id, NULL, region, &n,
	    NULL, 0) == RECOURSE_OK;
}

int
recourse_set_parent(struct recourse *r, const char *parent,
    struct recourse_err *e)
{
	char *p = NULL;

	if (parent != NULL && parent[0] != '\0') {
		if (!region_valid(parent) || strcmp(parent, r->region) == 0)
			return recourse_err_set(e, RECOURSE_EINVAL, "parent \"%s\" "
			    "is not a region other than this node's (%s)",
			    parent, r->region);
		if ((p = recourse_mem_strdup(parent)) == NULL)
			return recourse_err_set(e, RECOURSE_ENOMEM,
			    "out of memory");
	}
	recourse_mem_free(r->parent);
	r->parent = p;
	return RECOURSE_OK;
}

int
recourse_new(const struct recourse_config *cfg, struct recourse_backend *be,
    struct recourse **out, struct recourse_err *e)
{
	struct recourse *r;
	char ident[300];

	*out = NULL;
	if (cfg == NULL || be == NULL || cfg->region == NULL ||
	    !region_valid(cfg->region))
		return recourse_err_set(e, RECOURSE_EINVAL, "recourse needs this "
		    "node's region (1-253 bytes of a-z 0-9 . -) and a backend");
	if ((r = recourse_mem_calloc(1, sizeof(*r))) == NULL)
		return recourse_err_set(e, RECOURSE_ENOMEM, "out of memory");
	snprintf(ident, sizeof(ident), "axle-node:%s", cfg->region);
	r->be = be;
	r->deadlines = cfg->deadlines;
	r->backoff = cfg->backoff;
	r->page_max = cfg->page_size_max ? cfg->page_size_max : 500;
	r->page_default = cfg->page_size_default ? cfg->page_size_default : 50;
	if (r->page_default > r->page_max)
		r->page_default = r->page_max;
	r->region = recourse_mem_strdup(cfg->region);
	r->identity = recourse_mem_strdup(cfg->identity ? cfg->identity : ident);
	if (r->region == NULL || r->identity == NULL) {
		recourse_destroy(r);
		return recourse_err_set(e, RECOURSE_ENOMEM, "out of memory");
	}
	if (recourse_set_parent(r, cfg->parent, e) != RECOURSE_OK) {
		int rc = r->parent == NULL && cfg->parent && cfg->parent[0] &&
		    region_valid(cfg->parent) && strcmp(cfg->parent,
		    cfg->region) != 0 ? RECOURSE_ENOMEM : RECOURSE_EINVAL;
		recourse_destroy(r);
		return rc;
	}
	*out = r;
	return RECOURSE_OK;
}

void
recourse_destroy(struct recourse *r)
{
	if (r == NULL)
		return;
	recourse_mem_free(r->region);
	recourse_mem_free(r->parent);
	recourse_mem_free(r->identity);
	recourse_mem_free(r);
}

int
recourse_is_root(const struct recourse *r)
{
	return r->parent == NULL;
}

void
recourse_case_free(Axle__V1__Case *c)
{
	pb_free((ProtobufCMessage *)c);
}

static struct recourse_node
node_of(const struct recourse *r)
{
	return (struct recourse_node){ r->region, r->parent };
}

/* --- transactions, keys, loading and storing -------------------------------- */

static int
tx_begin(struct recourse *r, void *ptxn, int write, struct recourse_txn **t,
    struct recourse_err *e)
{
	int rc = r->be->ops->begin(r->be, ptxn, write, t);

	return recourse_backend_err(r->be, rc, e, "beginning a transaction");
}

/* Commits t if rc is OK, else aborts it; returns the final code. */
static int
tx_end(struct recourse *r, struct recourse_txn *t, int rc,
    struct recourse_err *e)
{
	if (rc != RECOURSE_OK) {
		r->be->ops->abort(r->be, t);
		return rc;
	}
	rc = r->be->ops->commit(r->be, t);
	return recourse_backend_err(r->be, rc, e, "committing");
}

static size_t
case_key(const char *region, uint64_t n, uint8_t *key)
{
	size_t rl = strlen(region);

	memcpy(key, region, rl);
	key[rl] = '\0';
	for (int i = 0; i < 8; i++)
		key[rl + 1 + i] = (uint8_t)(n >> (56 - 8 * i));
	return rl + 9;
}

/* Key of an id (bare "<n>" is this node's); EINVAL with a reason. */
static int
id_key(struct recourse *r, const char *id, uint8_t *key, size_t *klen,
    char *canon, struct recourse_err *e)
{
	char region[RECOURSE_ID_MAX], why[RECOURSE_ERR_MAX];
	uint64_t n;

	if (recourse_case_id_parse(id, r->region, region, &n, why,
	    sizeof(why)) != RECOURSE_OK)
		return recourse_err_set(e, RECOURSE_EINVAL, "%s", why);
	*klen = case_key(region, n, key);
	if (canon != NULL)
		snprintf(canon, RECOURSE_ID_MAX, "%.253s/%" PRIu64, region, n);
	return RECOURSE_OK;
}

/* Decodes a stored value (state byte, packed case). */
static int
case_decode(const void *val, size_t vlen, const char *what,
    Axle__V1__Case **out, struct recourse_err *e)
{
	char err[256];

	*out = NULL;
	if (vlen >= 1)
		*out = (Axle__V1__Case *)pb_unpack(&axle__v1__case__descriptor,
		    (const uint8_t *)val + 1, vlen - 1, CASE_MAX_BYTES, err,
		    sizeof(err));
	else
		snprintf(err, sizeof(err), "empty record");
	if (*out != NULL)
		return RECOURSE_OK;
	if (strcmp(err, "out of memory") == 0)
		return recourse_err_set(e, RECOURSE_ENOMEM, "reading case %s: "
		    "out of memory", what);
	return recourse_err_set(e, RECOURSE_ESTORE, "case %s is unreadable in "
	    "the store: %s", what, err);
}

static int
case_load(struct recourse *r, struct recourse_txn *t, const uint8_t *key,
    size_t klen, const char *id, Axle__V1__Case **out, struct recourse_err *e)
{
	const void *v;
	size_t vlen;
	int rc = r->be->ops->get(r->be, t, RECOURSE_DB_CASES, key, klen, &v,
	    &vlen);

	*out = NULL;
	if (rc == RECOURSE_ENOTFOUND)
		return recourse_err_set(e, RECOURSE_ENOTFOUND, "no case %s at "
		    "%s", id, r->region);
	if (rc != 0)
		return recourse_backend_err(r->be, rc, e, "reading a case");
	return case_decode(v, vlen, id, out, e);
}

/* buf has one byte of headroom for the state. */
static int
case_store(struct recourse *r, struct recourse_txn *t, const uint8_t *key,
    size_t klen, uint8_t *buf, size_t len, int state, struct recourse_err *e)
{
	buf[0] = (uint8_t)state;
	return recourse_backend_err(r->be, r->be->ops->put(r->be, t,
	    RECOURSE_DB_CASES, key, klen, buf, len), e, "writing a case");
}

static int
audit(struct recourse *r, struct recourse_txn *t, const char *actor,
    const char *id, int kind, int state, const char *detail, int64_t now,
    struct recourse_err *e)
{
	struct recourse_audit_entry ae = { 0 };

	ae.at_ms = now;
	ae.state = (uint32_t)state;
	ae.actor = actor;
	ae.case_id = id;
	ae.action = recourse_kind_name(kind);
	ae.detail = detail;
	return recourse_audit_append(r->be, t, &ae, NULL, e);
}

/* Unpacks the bytes just stored, for the caller. */
static int
case_out(const uint8_t *buf, size_t len, const char *id, Axle__V1__Case **out,
    struct recourse_err *e)
{
	if (out == NULL)
		return RECOURSE_OK;
	return case_decode(buf, len, id, out, e);
}

/* --- open and get ------------------------------------------------------------ */

static int
next_number(struct recourse *r, struct recourse_txn *t, uint64_t *n,
    struct recourse_err *e)
{
	const void *v;
	size_t vlen;
	uint8_t b[8];
	int rc = r->be->ops->get(r->be, t, RECOURSE_DB_META, META_NEXT,
	    strlen(META_NEXT), &v, &vlen);

	*n = 1;
	if (rc == 0 && vlen == 8) {
		*n = 0;
		for (int i = 0; i < 8; i++)
			*n = (*n << 8) | ((const uint8_t *)v)[i];
	} else if (rc != RECOURSE_ENOTFOUND)
		return rc == 0 ? recourse_err_set(e, RECOURSE_ESTORE, "the case "
		    "counter is damaged") : recourse_backend_err(r->be, rc, e,
		    "reading the case counter");
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((*n + 1) >> (56 - 8 * i));
	return recourse_backend_err(r->be, r->be->ops->put(r->be, t,
	    RECOURSE_DB_META, META_NEXT, strlen(META_NEXT), b, 8), e,
	    "writing the case counter");
}

static int
open_in(struct recourse *r, struct recourse_txn *t,
    struct recourse_case_init *in, char *id, struct recourse_err *e)
{
	struct recourse_node node = node_of(r);
	uint8_t key[CASE_KEY_MAX], *buf = NULL;
	char why[RECOURSE_ERR_MAX], d[RECOURSE_TEXT_MAX + 64];
	size_t klen, len;
	uint64_t n;
	int rc;

	if ((rc = next_number(r, t, &n, e)) != RECOURSE_OK)
		return rc;
	snprintf(id, RECOURSE_ID_MAX, "%.253s/%" PRIu64, r->region, n);
	in->id = id;
	in->actor = r->identity;
	if ((rc = recourse_case_new(in, &node, 1, &buf, &len, why,
	    sizeof(why))) != RECOURSE_OK)
		return recourse_err_set(e, rc, "%s", why);
	klen = case_key(r->region, n, key);
	rc = case_store(r, t, key, klen, buf, len, RECOURSE_ST_OPEN, e);
	free(buf);
	snprintf(d, sizeof(d), "%s: %s", recourse_reason_name(in->reason),
	    in->detail ? in->detail : "");
	if (rc == RECOURSE_OK)
		rc = audit(r, t, r->identity, id,
		    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_OPENED,
		    RECOURSE_ST_OPEN, d, in->now, e);
	return rc;
}

int
recourse_case_open(struct recourse *r, void *ptxn,
    const Axle__V1__Envelope *env, int reason, const char *detail,
    int64_t now, char *id_out, struct recourse_err *e)
{
	struct recourse_case_init in = { env, reason, detail, NULL, NULL, now,
	    recourse_deadline_for(&r->deadlines, reason, now) };
	struct recourse_txn *t;
	char id[RECOURSE_ID_MAX];
	int rc;

	if ((rc = tx_begin(r, ptxn, 1, &t, e)) != RECOURSE_OK)
		return rc;
	rc = tx_end(r, t, open_in(r, t, &in, id, e), e);
	if (rc == RECOURSE_OK && id_out != NULL)
		memcpy(id_out, id, strlen(id) + 1);
	return rc;
}

int
recourse_case_open_bytes(struct recourse *r, void *ptxn, const uint8_t *env,
    size_t len, int reason, const char *detail, int64_t now, char *id_out,
    struct recourse_err *e)
{
	char err[256];
	Axle__V1__Envelope *m = PB_UNPACK(Axle__V1__Envelope,
	    axle__v1__envelope, env, len, ENVELOPE_MAX_BYTES, err, sizeof(err));
	int rc;

	if (m == NULL)
		return recourse_err_set(e, strcmp(err, "out of memory") == 0 ?
		    RECOURSE_ENOMEM : RECOURSE_EINVAL, "envelope: %s", err);
	rc = recourse_case_open(r, ptxn, m, reason, detail, now, id_out, e);
	pb_free(&m->base);
	return rc;
}

int
recourse_case_get(struct recourse *r, void *ptxn, const char *id,
    Axle__V1__Case **out, struct recourse_err *e)
{
	struct recourse_txn *t;
	uint8_t key[CASE_KEY_MAX];
	char canon[RECOURSE_ID_MAX];
	size_t klen;
	int rc;

	*out = NULL;
	if ((rc = id_key(r, id, key, &klen, canon, e)) != RECOURSE_OK)
		return rc;
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = case_load(r, t, key, klen, canon, out, e);
	r->be->ops->abort(r->be, t);	/* read-only: nothing to keep */
	return rc;
}

/* --- acting on one case ------------------------------------------------------- */

/* What the audit entry says beyond the action's name. */
static void
act_detail(enum recourse_action a, const struct recourse_act_args *args,
    const Axle__V1__Case *c, const struct recourse *r, char *d, size_t len)
{
	const char *why = args->reason ? args->reason : "";

	if (a == RECOURSE_ACT_REDIRECT)
		snprintf(d, len, "to %s%s%s", args->to, why[0] ? ": " : "", why);
	else if (a == RECOURSE_ACT_HANDOVER)
		snprintf(d, len, "to %s", r->parent ? r->parent : "?");
	else if (a == RECOURSE_ACT_ESCALATED)
		snprintf(d, len, "to %s", args->to && args->to[0] ? args->to :
		    c->escalating_to[0] ? c->escalating_to :
		    r->parent ? r->parent : "?");
	else if (a == RECOURSE_ACT_RETURN && why[0] == '\0')
		snprintf(d, len, "%s", c->detail);
	else
		snprintf(d, len, "%s", why);
}

/* Loads, applies, stores and audits inside t. */
static int
act_in(struct recourse *r, struct recourse_txn *t, const char *id,
    enum recourse_action a, const struct recourse_act_args *args, int64_t now,
    Axle__V1__Case **out, struct recourse_err *e)
{
	struct recourse_node node = node_of(r);
	Axle__V1__Case *c;
	uint8_t key[CASE_KEY_MAX], *buf = NULL;
	char canon[RECOURSE_ID_MAX], why[RECOURSE_ERR_MAX];
	char d[RECOURSE_TEXT_MAX + 512];
	size_t klen, len;
	int rc, state;

	if ((rc = id_key(r, id, key, &klen, canon, e)) != RECOURSE_OK ||
	    (rc = case_load(r, t, key, klen, canon, &c, e)) != RECOURSE_OK)
		return rc;
	rc = recourse_case_apply(c, a, args, &node, now, 1, &buf, &len, &state,
	    why, sizeof(why));
	if (rc != RECOURSE_OK) {
		recourse_case_free(c);
		return recourse_err_set(e, rc, "%s", why);
	}
	act_detail(a, args, c, r, d, sizeof(d));
	recourse_case_free(c);
	rc = case_store(r, t, key, klen, buf, len, state, e);
	if (rc == RECOURSE_OK && !(args->quiet && (a == RECOURSE_ACT_HANDOVER ||
	    a == RECOURSE_ACT_RETRY)))
		rc = audit(r, t, args->actor, canon, (int)recourse_case_kind(a),
		    state, d, now, e);
	if (rc == RECOURSE_OK)
		rc = case_out(buf, len, canon, out, e);
	free(buf);
	return rc;
}

static int
act_tx(struct recourse *r, void *ptxn, const char *id, enum recourse_action a,
    const struct recourse_act_args *args, int64_t now, Axle__V1__Case **out,
    struct recourse_err *e)
{
	struct recourse_txn *t;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = tx_begin(r, ptxn, 1, &t, e)) != RECOURSE_OK)
		return rc;
	rc = tx_end(r, t, act_in(r, t, id, a, args, now, out, e), e);
	if (rc != RECOURSE_OK && out != NULL) {
		recourse_case_free(*out);
		*out = NULL;
	}
	return rc;
}

int
recourse_case_act(struct recourse *r, void *ptxn, const char *id,
    enum recourse_action a, const struct recourse_act_args *args,
    int64_t now, Axle__V1__Case **out, struct recourse_err *e)
{
	struct recourse_act_args ad;

	if (out != NULL)
		*out = NULL;
	if (a < RECOURSE_ACT_CLAIM || a > RECOURSE_ACT_ADMIN_MAX || args == NULL)
		return recourse_err_set(e, RECOURSE_EINVAL, "%s is not an "
		    "admin action", recourse_action_name(a));
	ad = *args;
	ad.quiet = 0;	/* every admin action is recorded */
	ad.definite = 0;
	ad.next_attempt_ms = 0;
	return act_tx(r, ptxn, id, a, &ad, now, out, e);
}

/* --- walking cases ------------------------------------------------------------ */

/*
 * Called with each case whose state is in the walk's mask, decoded; it may
 * take the case by setting *cp to NULL. Same return convention as
 * recourse_walk_fn.
 */
typedef int (*case_fn)(Axle__V1__Case **cp, void *arg);

struct case_walk {
	unsigned mask;
	case_fn fn;
	void *arg;
	const uint8_t *skip;		/* a key to pass over (paging) */
	size_t skiplen;
	struct recourse_err *e;
};

static int
case_walk_one(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg)
{
	struct case_walk *w = arg;
	Axle__V1__Case *c;
	char what[64];
	int rc;

	if (w->skip && klen == w->skiplen && memcmp(key, w->skip, klen) == 0)
		return 0;
	if (vlen < 1)
		return recourse_err_set(w->e, RECOURSE_ESTORE, "an empty case "
		    "record is in the store");
	if (((const uint8_t *)val)[0] > 4 ||
	    !(w->mask & ST_BIT(((const uint8_t *)val)[0])))
		return 0;
	snprintf(what, sizeof(what), "%.*s/...", (int)strnlen(key, klen < 40 ?
	    klen : 40), (const char *)key);
	if ((rc = case_decode(val, vlen, what, &c, w->e)) != RECOURSE_OK)
		return rc;
	rc = w->fn(&c, w->arg);
	recourse_case_free(c);
	return rc;
}

static int
case_walk(struct recourse *r, struct recourse_txn *t, unsigned mask,
    const uint8_t *from, size_t fromlen, case_fn fn, void *arg,
    struct recourse_err *e)
{
	struct case_walk w = { mask, fn, arg, from, fromlen, e };
	int rc = r->be->ops->walk(r->be, t, RECOURSE_DB_CASES, from, fromlen,
	    case_walk_one, &w);

	if (rc == RECOURSE_OK)
		return RECOURSE_OK;
	if (rc == RECOURSE_ESTORE || rc == RECOURSE_EINVAL || rc == RECOURSE_ENOMEM)
		return rc;	/* ours, with e already set */
	return recourse_backend_err(r->be, rc, e, "walking the cases");
}

/* --- list ---------------------------------------------------------------------- */

struct list_ctx {
	const struct recourse_filter *f;
	int64_t now;
	struct recourse_page *page;
	size_t want;
	int more;
};

static int
list_match(const struct recourse_filter *f, const Axle__V1__Case *c,
    int64_t now)
{
	if (f->state != 0 && (int)c->state != f->state)
		return 0;
	if (f->reason != 0 && (int)c->reason != f->reason)
		return 0;
	if (f->assignee && f->assignee[0] && strcmp(c->assignee, f->assignee))
		return 0;
	if (f->min_age_ms > 0 && now - c->opened_ms < f->min_age_ms)
		return 0;
	return !f->overdue_only || recourse_overdue(c, now);
}

static int
list_one(Axle__V1__Case **cp, void *arg)
{
	struct list_ctx *l = arg;
	struct recourse_page *p = l->page;
	Axle__V1__Case **nc;

	if (!list_match(l->f, *cp, l->now))
		return 0;
	if (p->n == l->want) {
		l->more = 1;
		return 1;
	}
	nc = recourse_mem_realloc(p->cases, (p->n + 1) * sizeof(*nc));
	if (nc == NULL)
		return RECOURSE_ENOMEM;
	p->cases = nc;
	p->cases[p->n++] = *cp;
	*cp = NULL;
	return 0;
}

int
recourse_case_list(struct recourse *r, void *ptxn,
    const struct recourse_filter *f, int64_t now, const char *page_token,
    uint32_t page_size, struct recourse_page *out, struct recourse_err *e)
{
	static const struct recourse_filter deflt;
	struct list_ctx l = { f ? f : &deflt, now, out, 0, 0 };
	struct recourse_txn *t;
	uint8_t key[CASE_KEY_MAX];
	size_t klen = 0;
	unsigned mask;
	int rc;

	memset(out, 0, sizeof(*out));
	l.want = page_size == 0 ? r->page_default :
	    page_size > r->page_max ? r->page_max : page_size;
	mask = l.f->state ? ST_BIT(l.f->state & 7) :
	    l.f->include_closed ? ALL_MASK : LIVE_MASK;
	if (page_token && page_token[0] &&
	    id_key(r, page_token, key, &klen, NULL, e) != RECOURSE_OK)
		return recourse_err_set(e, RECOURSE_EINVAL, "page token \"%.64s\" "
		    "is not one this node handed out", page_token);
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = case_walk(r, t, mask, klen ? key : NULL, klen, list_one, &l, e);
	r->be->ops->abort(r->be, t);
	if (rc == RECOURSE_ENOMEM)
		recourse_err_set(e, rc, "listing cases: out of memory");
	if (rc == RECOURSE_OK && l.more && out->n > 0)
		snprintf(out->next_token, sizeof(out->next_token), "%s",
		    out->cases[out->n - 1]->id);
	return rc;
}

void
recourse_page_free(struct recourse_page *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		recourse_case_free(p->cases[i]);
	recourse_mem_free(p->cases);
	memset(p, 0, sizeof(*p));
}

/* --- escalation ------------------------------------------------------------------ */

struct due_ctx {
	int64_t now;
	char (*ids)[RECOURSE_ID_MAX];
	size_t max, n;
};

static int
due_one(Axle__V1__Case **cp, void *arg)
{
	struct due_ctx *d = arg;

	if (!recourse_escalation_wanted(*cp, d->now))
		return 0;
	if (d->n == d->max)
		return 1;
	snprintf(d->ids[d->n++], RECOURSE_ID_MAX, "%s", (*cp)->id);
	return 0;
}

int
recourse_escalation_due(struct recourse *r, void *ptxn, int64_t now,
    char (*ids)[RECOURSE_ID_MAX], size_t max, size_t *n,
    struct recourse_err *e)
{
	struct due_ctx d = { now, ids, max, 0 };
	struct recourse_txn *t;
	int rc;

	*n = 0;
	if (r->parent == NULL || max == 0)
		return RECOURSE_OK;
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = case_walk(r, t, LIVE_MASK, NULL, 0, due_one, &d, e);
	r->be->ops->abort(r->be, t);
	*n = d.n;
	return rc;
}

int
recourse_escalation_begin(struct recourse *r, void *ptxn, const char *id,
    int64_t now, Axle__V1__Case **to_send, struct recourse_err *e)
{
	struct recourse_act_args a = { .actor = r->identity };
	Axle__V1__Case *c;
	int rc;

	*to_send = NULL;
	if (r->parent == NULL)
		return recourse_err_set(e, RECOURSE_EROOT, "this node (%s) is the "
		    "root escalation point; case %s stays here", r->region, id);
	if ((rc = recourse_case_get(r, ptxn, id, &c, e)) != RECOURSE_OK)
		return rc;
	if (c->escalating_to[0] != '\0' && strcmp(c->escalating_to,
	    r->parent) == 0 && (c->state == RECOURSE_ST_OPEN ||
	    c->state == RECOURSE_ST_CLAIMED)) {
		*to_send = c;	/* already noted: re-send as it is */
		return RECOURSE_OK;
	}
	a.quiet = c->escalation_attempts > 0;
	recourse_case_free(c);
	return act_tx(r, ptxn, id, RECOURSE_ACT_HANDOVER, &a, now, to_send, e);
}

int
recourse_escalation_failed(struct recourse *r, void *ptxn, const char *id,
    int64_t now, int definite, const char *reason, uint32_t rnd,
    struct recourse_err *e)
{
	struct recourse_act_args a = { .actor = r->identity, .reason = reason,
	    .definite = definite };
	Axle__V1__Case *c;
	uint32_t n;
	int rc;

	if ((rc = recourse_case_get(r, ptxn, id, &c, e)) != RECOURSE_OK)
		return rc;
	n = c->escalation_attempts + 1;
	recourse_case_free(c);
	a.next_attempt_ms = now + recourse_backoff_delay(&r->backoff, n, rnd);
	a.quiet = (n & (n - 1)) != 0;	/* history at attempts 1, 2, 4, 8, ... */
	return act_tx(r, ptxn, id, RECOURSE_ACT_RETRY, &a, now, NULL, e);
}

int
recourse_case_mark_escalated(struct recourse *r, void *ptxn, const char *id,
    const char *parent, int64_t now, struct recourse_err *e)
{
	struct recourse_act_args a = { .actor = r->identity, .to = parent };
	Axle__V1__Case *c;
	int rc, same;

	if ((rc = recourse_case_get(r, ptxn, id, &c, e)) != RECOURSE_OK)
		return rc;
	same = c->state == RECOURSE_ST_ESCALATED && (parent == NULL ||
	    strcmp(c->escalated_to, parent) == 0);
	recourse_case_free(c);
	if (same)
		return RECOURSE_OK;	/* a repeated acknowledgement */
	return act_tx(r, ptxn, id, RECOURSE_ACT_ESCALATED, &a, now, NULL, e);
}

/* Whether existing is this node's copy of child (same case, one level up). */
static int
same_handover(const Axle__V1__Case *existing, const Axle__V1__Case *child)
{
	if (existing->n_path != child->n_path + 1)
		return 0;
	for (size_t i = 0; i < child->n_path; i++)
		if (strcmp(existing->path[i], child->path[i]) != 0)
			return 0;
	return 1;
}

static int
accept_in(struct recourse *r, struct recourse_txn *t,
    const Axle__V1__Case *child, const char *actor, int64_t now,
    int *duplicate, struct recourse_err *e)
{
	struct recourse_node node = node_of(r);
	Axle__V1__Case *old;
	uint8_t key[CASE_KEY_MAX], *buf;
	char why[RECOURSE_ERR_MAX];
	size_t klen, len;
	int rc;

	if ((rc = id_key(r, child->id, key, &klen, NULL, e)) != RECOURSE_OK)
		return rc;
	rc = case_load(r, t, key, klen, child->id, &old, e);
	if (rc == RECOURSE_OK) {
		*duplicate = same_handover(old, child);
		recourse_case_free(old);
		return *duplicate ? RECOURSE_OK : recourse_err_set(e,
		    RECOURSE_EPRECOND, "case %s is already here with a "
		    "different path: refusing to replace it", child->id);
	}
	if (rc != RECOURSE_ENOTFOUND)
		return rc;
	if ((rc = recourse_case_receive(child, &node, actor, now,
	    recourse_deadline_for(&r->deadlines, (int)child->reason, now), 1,
	    &buf, &len, why, sizeof(why))) != RECOURSE_OK)
		return recourse_err_set(e, rc, "%s", why);
	rc = case_store(r, t, key, klen, buf, len, RECOURSE_ST_OPEN, e);
	free(buf);
	if (rc == RECOURSE_OK) {
		snprintf(why, sizeof(why), "escalated from %s",
		    child->path[child->n_path - 1]);
		rc = audit(r, t, actor, child->id,
		    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_RECEIVED,
		    RECOURSE_ST_OPEN, why, now, e);
	}
	return rc;
}

int
recourse_case_accept_escalated(struct recourse *r, void *ptxn,
    const Axle__V1__Case *child, const char *actor, int64_t now,
    char *id_out, int *duplicate, struct recourse_err *e)
{
	struct recourse_txn *t;
	char why[RECOURSE_ERR_MAX];
	int rc;

	*duplicate = 0;
	if (child == NULL || child->id == NULL || actor == NULL || !actor[0])
		return recourse_err_set(e, RECOURSE_EINVAL, "an escalated case "
		    "needs the case and the identity of the node sending it");
	/* A loop first: a case coming back is not a retry of one we hold. */
	if ((rc = recourse_path_check_append(child->path, child->n_path,
	    r->region, why, sizeof(why))) != RECOURSE_OK)
		return recourse_err_set(e, rc, "case %s: %s", child->id, why);
	if ((rc = tx_begin(r, ptxn, 1, &t, e)) != RECOURSE_OK)
		return rc;
	rc = tx_end(r, t, accept_in(r, t, child, actor, now, duplicate, e), e);
	if (rc == RECOURSE_OK && id_out != NULL)
		snprintf(id_out, RECOURSE_ID_MAX, "%s", child->id);
	if (rc != RECOURSE_OK)
		*duplicate = 0;
	return rc;
}

/* --- deadlines, wake-ups, counts ---------------------------------------------------- */

struct sweep_ctx {
	int64_t now;
	struct recourse_sweep *out;
	char (*ids)[RECOURSE_ID_MAX];
	size_t n, cap;
};

static int
sweep_one(Axle__V1__Case **cp, void *arg)
{
	struct sweep_ctx *s = arg;
	void *p;

	if (!recourse_overdue(*cp, s->now))
		return 0;
	s->out->overdue++;
	if ((*cp)->overdue_ms != 0)
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		if ((p = recourse_mem_realloc(s->ids, ncap * sizeof(*s->ids))) ==
		    NULL)
			return RECOURSE_ENOMEM;
		s->ids = p;
		s->cap = ncap;
	}
	snprintf(s->ids[s->n++], RECOURSE_ID_MAX, "%s", (*cp)->id);
	return 0;
}

static int
sweep_in(struct recourse *r, struct recourse_txn *t, struct sweep_ctx *s,
    struct recourse_err *e)
{
	struct recourse_act_args a = { .actor = r->identity };
	char why[300];
	int rc = case_walk(r, t, ST_BIT(RECOURSE_ST_OPEN), NULL, 0, sweep_one,
	    s, e);

	if (rc == RECOURSE_ENOMEM)
		return recourse_err_set(e, rc, "deadline sweep: out of memory");
	if (r->parent == NULL)
		snprintf(why, sizeof(why), "deadline passed at the root "
		    "escalation point: the case stays open here (alert raised)");
	else
		snprintf(why, sizeof(why), "deadline passed: escalating to %s",
		    r->parent);
	a.reason = why;
	for (size_t i = 0; rc == RECOURSE_OK && i < s->n; i++) {
		rc = act_in(r, t, s->ids[i], RECOURSE_ACT_DEADLINE, &a, s->now,
		    NULL, e);
		s->out->noted += rc == RECOURSE_OK;
	}
	return rc;
}

int
recourse_deadline_sweep(struct recourse *r, void *ptxn, int64_t now,
    struct recourse_sweep *out, struct recourse_err *e)
{
	struct sweep_ctx s = { now, out, NULL, 0, 0 };
	struct recourse_txn *t;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tx_begin(r, ptxn, 1, &t, e)) != RECOURSE_OK)
		return rc;
	rc = tx_end(r, t, sweep_in(r, t, &s, e), e);
	recourse_mem_free(s.ids);
	if (rc != RECOURSE_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

struct wake_ctx {
	int is_root;
	int64_t at;
};

static int
wake_one(Axle__V1__Case **cp, void *arg)
{
	struct wake_ctx *w = arg;
	int64_t at = recourse_case_wakeup(*cp, w->is_root);

	if (at != 0 && (w->at == 0 || at < w->at))
		w->at = at;
	return 0;
}

int
recourse_next_wakeup_at(struct recourse *r, void *ptxn, int64_t *at,
    struct recourse_err *e)
{
	struct wake_ctx w = { r->parent == NULL, 0 };
	struct recourse_txn *t;
	int rc;

	*at = 0;
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = case_walk(r, t, LIVE_MASK, NULL, 0, wake_one, &w, e);
	r->be->ops->abort(r->be, t);
	*at = rc == RECOURSE_OK ? w.at : 0;
	return rc;
}

struct stats_ctx {
	int64_t now;
	struct recourse_stats *s;
};

static int
stats_one(Axle__V1__Case **cp, void *arg)
{
	struct stats_ctx *x = arg;
	const Axle__V1__Case *c = *cp;

	switch ((int)c->state) {
	case RECOURSE_ST_OPEN:		x->s->open++; break;
	case RECOURSE_ST_CLAIMED:	x->s->claimed++; break;
	case RECOURSE_ST_RESOLVED:	x->s->resolved++; break;
	case RECOURSE_ST_ESCALATED:	x->s->escalated++; break;
	}
	x->s->overdue += recourse_overdue(c, x->now);
	x->s->in_handover += c->escalating_to[0] != '\0';
	return 0;
}

int
recourse_stats(struct recourse *r, void *ptxn, int64_t now,
    struct recourse_stats *out, struct recourse_err *e)
{
	struct stats_ctx x = { now, out };
	struct recourse_txn *t;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = case_walk(r, t, ALL_MASK, NULL, 0, stats_one, &x, e);
	r->be->ops->abort(r->be, t);
	return rc;
}

int
recourse_audit_check(struct recourse *r, void *ptxn,
    struct recourse_audit_report *rep, struct recourse_err *e)
{
	struct recourse_txn *t;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = recourse_audit_verify(r->be, t, rep, e);
	r->be->ops->abort(r->be, t);
	return rc;
}

struct head_pick {
	uint8_t *hash;
	int found;
};

/* Keeps the hash of the one entry asked for. */
static int
head_pick_one(const struct recourse_audit_entry *ae, void *arg)
{
	struct head_pick *p = arg;

	memcpy(p->hash, ae->hash, RECOURSE_HASH_LEN);
	p->found = 1;
	return 1;
}

int
recourse_audit_head_at(struct recourse *r, void *ptxn, uint64_t to,
    uint64_t *seq, uint8_t hash[RECOURSE_HASH_LEN], uint64_t *head_seq,
    struct recourse_err *e)
{
	struct head_pick pick = { hash, 0 };
	struct recourse_txn *t;
	uint64_t next;
	int rc;

	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = recourse_audit_head(r->be, t, head_seq, hash, e);
	*seq = *head_seq;
	if (rc == RECOURSE_OK && to > *head_seq)
		rc = recourse_err_set(e, RECOURSE_ENOTFOUND, "the audit log ends "
		    "at entry %llu: there is no entry %llu",
		    (unsigned long long)*head_seq, (unsigned long long)to);
	if (rc == RECOURSE_OK && to != 0 && to < *head_seq) {
		*seq = to;
		rc = recourse_audit_range(r->be, t, to, to, 1, 1, head_pick_one,
		    &pick, &next, e);
		if (rc == RECOURSE_OK && !pick.found)
			rc = recourse_err_set(e, RECOURSE_ENOTFOUND, "audit entry "
			    "%llu is missing from the log: `axlectl audit "
			    "verify` names the damage", (unsigned long long)to);
	}
	r->be->ops->abort(r->be, t);
	return rc;
}

int
recourse_audit_page(struct recourse *r, void *ptxn, uint64_t from,
    uint64_t to, size_t max, size_t max_bytes, recourse_audit_fn fn,
    void *arg, uint64_t *next, struct recourse_err *e)
{
	struct recourse_txn *t;
	int rc;

	*next = 0;
	if ((rc = tx_begin(r, ptxn, 0, &t, e)) != RECOURSE_OK)
		return rc;
	rc = recourse_audit_range(r->be, t, from, to, max, max_bytes, fn, arg,
	    next, e);
	r->be->ops->abort(r->be, t);
	return rc;
}
