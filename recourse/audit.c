/* audit.c -- hash-chained audit entries: canonical encoding, append inside a transaction, verification. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "recourse/audit.h"
#include "recourse/mem.h"

#define AUDIT_VERSION	1
#define AUDIT_HDR	(1 + 2 * RECOURSE_HASH_LEN)	/* version, hash, prev */
#define AUDIT_FIXED	(8 + 8 + 4)			/* seq, at_ms, state */
#define AUDIT_STR_MAX	65536
#define AUDIT_HEAD_KEY	"audit.head"
#define AUDIT_HEAD_LEN	(8 + RECOURSE_HASH_LEN)

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void
recourse_audit_key(uint64_t seq, uint8_t key[8])
{
	put_be(key, seq, 8);
}

static uint8_t *
put_str(uint8_t *p, const char *s, size_t n)
{
	put_be(p, n, 4);
	if (n > 0)
		memcpy(p + 4, s, n);
	return p + 4 + n;
}

int
recourse_audit_encode(struct recourse_audit_entry *e, uint8_t **out,
    size_t *outlen)
{
	const char *s[4] = { e->actor, e->case_id, e->action, e->detail };
	size_t n[4], len = AUDIT_HDR + AUDIT_FIXED;
	uint8_t *buf, *p;

	for (int i = 0; i < 4; i++) {
		n[i] = s[i] ? strlen(s[i]) : 0;
		if (n[i] > AUDIT_STR_MAX)
			return RECOURSE_EINVAL;
		len += 4 + n[i];
	}
	if ((buf = recourse_mem_alloc(len)) == NULL)
		return RECOURSE_ENOMEM;
	buf[0] = AUDIT_VERSION;
	memcpy(buf + 1 + RECOURSE_HASH_LEN, e->prev_hash, RECOURSE_HASH_LEN);
	p = buf + AUDIT_HDR;
	put_be(p, e->seq, 8);
	put_be(p + 8, (uint64_t)e->at_ms, 8);
	put_be(p + 16, e->state, 4);
	p += AUDIT_FIXED;
	for (int i = 0; i < 4; i++)
		p = put_str(p, s[i], n[i]);
	SHA256(buf + 1 + RECOURSE_HASH_LEN, len - 1 - RECOURSE_HASH_LEN,
	    e->hash);
	memcpy(buf + 1, e->hash, RECOURSE_HASH_LEN);
	*out = buf;
	*outlen = len;
	return RECOURSE_OK;
}

int
recourse_audit_decode(const uint8_t *buf, size_t len,
    struct recourse_audit_entry *e, char *strbuf, size_t strcap,
    char *why, size_t whylen)
{
	const char **dst[4] = { &e->actor, &e->case_id, &e->action, &e->detail };
	const uint8_t *p = buf + AUDIT_HDR + AUDIT_FIXED, *end = buf + len;
	size_t used = 0;

	if (len < AUDIT_HDR + AUDIT_FIXED || buf[0] != AUDIT_VERSION)
		return recourse_why(why, whylen, RECOURSE_EINVAL,
		    "not an audit entry (%zu bytes, version %d)", len,
		    len ? buf[0] : -1);
	memcpy(e->hash, buf + 1, RECOURSE_HASH_LEN);
	memcpy(e->prev_hash, buf + 1 + RECOURSE_HASH_LEN, RECOURSE_HASH_LEN);
	e->seq = get_be(buf + AUDIT_HDR, 8);
	e->at_ms = (int64_t)get_be(buf + AUDIT_HDR + 8, 8);
	e->state = (uint32_t)get_be(buf + AUDIT_HDR + 16, 4);
	for (int i = 0; i < 4; i++) {
		size_t n;
		if (end - p < 4 || (n = get_be(p, 4)) > (size_t)(end - p - 4))
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "audit entry truncated in string %d", i + 1);
		if (used + n + 1 > strcap)
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "audit entry strings exceed %zu bytes", strcap);
		memcpy(strbuf + used, p + 4, n);
		strbuf[used + n] = '\0';
		*dst[i] = strbuf + used;
		used += n + 1;
		p += 4 + n;
	}
	if (p != end)
		return recourse_why(why, whylen, RECOURSE_EINVAL,
		    "%zu stray bytes after the audit entry", (size_t)(end - p));
	return RECOURSE_OK;
}

/* Reads the head: *seq 0 and a zero hash for an empty log. */
int
recourse_audit_head(struct recourse_backend *be, struct recourse_txn *t,
    uint64_t *seq, uint8_t hash[RECOURSE_HASH_LEN], struct recourse_err *err)
{
	const void *v;
	size_t vlen;
	int rc = be->ops->get(be, t, RECOURSE_DB_META, AUDIT_HEAD_KEY,
	    strlen(AUDIT_HEAD_KEY), &v, &vlen);

	*seq = 0;
	memset(hash, 0, RECOURSE_HASH_LEN);
	if (rc == RECOURSE_ENOTFOUND)
		return RECOURSE_OK;
	if (rc != 0)
		return recourse_backend_err(be, rc, err, "reading the audit head");
	if (vlen != AUDIT_HEAD_LEN)
		return recourse_err_set(err, RECOURSE_ESTORE, "the audit head "
		    "is %zu bytes, not %d: the store is damaged", vlen,
		    AUDIT_HEAD_LEN);
	*seq = get_be(v, 8);
	memcpy(hash, (const uint8_t *)v + 8, RECOURSE_HASH_LEN);
	return RECOURSE_OK;
}

int
recourse_audit_append(struct recourse_backend *be, struct recourse_txn *t,
    struct recourse_audit_entry *e, uint64_t *seq_out,
    struct recourse_err *err)
{
	uint8_t key[8], head[AUDIT_HEAD_LEN], *buf;
	size_t len;
	uint64_t last;
	int rc;

	if ((rc = recourse_audit_head(be, t, &last, e->prev_hash, err)) != RECOURSE_OK)
		return rc;
	e->seq = last + 1;
	if ((rc = recourse_audit_encode(e, &buf, &len)) != RECOURSE_OK)
		return recourse_err_set(err, rc, rc == RECOURSE_ENOMEM ?
		    "audit entry: out of memory" : "audit entry: a field is "
		    "over %d bytes", AUDIT_STR_MAX);
	recourse_audit_key(e->seq, key);
	rc = be->ops->put(be, t, RECOURSE_DB_AUDIT, key, sizeof(key), buf, len);
	recourse_mem_free(buf);
	if (rc != 0)
		return recourse_backend_err(be, rc, err, "writing the audit log");
	put_be(head, e->seq, 8);
	memcpy(head + 8, e->hash, RECOURSE_HASH_LEN);
	rc = be->ops->put(be, t, RECOURSE_DB_META, AUDIT_HEAD_KEY,
	    strlen(AUDIT_HEAD_KEY), head, sizeof(head));
	if (rc != 0)
		return recourse_backend_err(be, rc, err, "moving the audit head");
	if (seq_out != NULL)
		*seq_out = e->seq;
	return RECOURSE_OK;
}

/* --- reading a range ------------------------------------------------------------ */

struct audit_range {
	uint64_t to;
	size_t max, max_bytes, n, bytes;
	recourse_audit_fn fn;
	void *arg;
	uint64_t next;
	char *strbuf;
	size_t strcap;
	struct recourse_err *err;
	int rc;
};

static int
audit_range_one(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg)
{
	struct audit_range *r = arg;
	struct recourse_audit_entry e;
	uint64_t pos = klen == 8 ? get_be(key, 8) : 0;
	char why[128];

	if (klen != 8) {
		r->rc = recourse_err_set(r->err, RECOURSE_ESTORE, "the audit log "
		    "holds a %zu-byte key: the store was modified", klen);
		return 1;
	}
	if (pos > r->to) {
		r->next = 0;
		return 1;
	}
	if (r->n == r->max || r->bytes >= r->max_bytes) {
		r->next = pos;
		return 1;
	}
	if (recourse_audit_decode(val, vlen, &e, r->strbuf, r->strcap, why,
	    sizeof(why)) != RECOURSE_OK) {
		r->rc = recourse_err_set(r->err, RECOURSE_ESTORE, "audit entry %"
		    PRIu64 " cannot be read: %s", pos, why);
		return 1;
	}
	r->n++;
	r->bytes += vlen;
	r->next = 0;
	if (r->fn(&e, r->arg) != 0) {
		r->next = pos < r->to ? pos + 1 : 0;
		return 1;
	}
	return 0;
}

int
recourse_audit_range(struct recourse_backend *be, struct recourse_txn *t,
    uint64_t from, uint64_t to, size_t max, size_t max_bytes,
    recourse_audit_fn fn, void *arg, uint64_t *next,
    struct recourse_err *err)
{
	struct audit_range r = { to, max ? max : 1, max_bytes, 0, 0, fn, arg, 0,
	    NULL, 4 * AUDIT_STR_MAX + 4, err, RECOURSE_OK };
	uint8_t key[8];
	int rc;

	*next = 0;
	if (from == 0)
		from = 1;
	if (from > to)
		return RECOURSE_OK;
	if ((r.strbuf = recourse_mem_alloc(r.strcap)) == NULL)
		return recourse_err_set(err, RECOURSE_ENOMEM,
		    "reading the audit log: out of memory");
	recourse_audit_key(from, key);
	rc = be->ops->walk(be, t, RECOURSE_DB_AUDIT, key, sizeof(key),
	    audit_range_one, &r);
	recourse_mem_free(r.strbuf);
	if (rc != 0)
		return recourse_backend_err(be, rc, err, "reading the audit log");
	if (r.rc != RECOURSE_OK)
		return r.rc;
	*next = r.next;
	return RECOURSE_OK;
}

/* --- verification ----------------------------------------------------------- */

struct audit_check {
	struct recourse_audit_report *rep;
	uint64_t last;				/* seq of the previous entry */
	uint8_t last_hash[RECOURSE_HASH_LEN];
	char *strbuf;
	size_t strcap;
};

static int
audit_bad(struct audit_check *c, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
audit_bad(struct audit_check *c, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	c->rep->ok = 0;
	c->rep->first_bad = seq;
	va_start(ap, fmt);
	vsnprintf(c->rep->detail, sizeof(c->rep->detail), fmt, ap);
	va_end(ap);
	return 1;	/* stop the walk */
}

/* Checks one entry against its position and the previous entry. */
static int
audit_check_one(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg)
{
	struct audit_check *c = arg;
	struct recourse_audit_entry e;
	uint8_t h[RECOURSE_HASH_LEN];
	uint64_t pos, want = c->last + 1;
	char why[128];

	if (klen != 8)
		return audit_bad(c, want, "audit entry after %" PRIu64 " has a "
		    "%zu-byte key: the log was modified", c->last, klen);
	pos = get_be(key, 8);
	if (pos < want)
		return audit_bad(c, pos, "audit entry %" PRIu64 " is out of "
		    "sequence (expected %" PRIu64 "): added outside recourse",
		    pos, want);
	if (pos > want)
		return audit_bad(c, want, "audit entry %" PRIu64 " is missing "
		    "(removed): entry %" PRIu64 " follows entry %" PRIu64,
		    want, pos, c->last);
	if (recourse_audit_decode(val, vlen, &e, c->strbuf, c->strcap, why,
	    sizeof(why)) != RECOURSE_OK)
		return audit_bad(c, pos, "audit entry %" PRIu64 " was modified: "
		    "%s", pos, why);
	if (e.seq != pos)
		return audit_bad(c, pos, "audit entry at position %" PRIu64
		    " is entry %" PRIu64 ": entries were reordered", pos, e.seq);
	SHA256((const uint8_t *)val + 1 + RECOURSE_HASH_LEN,
	    vlen - 1 - RECOURSE_HASH_LEN, h);
	if (memcmp(h, e.hash, sizeof(h)) != 0)
		return audit_bad(c, pos, "audit entry %" PRIu64 " was modified: "
		    "its hash does not match its contents", pos);
	if (memcmp(e.prev_hash, c->last_hash, sizeof(h)) != 0 && c->last == 0)
		return audit_bad(c, pos, "audit entry %" PRIu64 " does not "
		    "start the chain (its prev_hash is not zero): it was "
		    "replaced", pos);
	if (memcmp(e.prev_hash, c->last_hash, sizeof(h)) != 0)
		return audit_bad(c, c->last, "audit entry %"
		    PRIu64 " was modified or replaced: entry %" PRIu64
		    " records a different hash for it", c->last, pos);
	c->last = pos;
	memcpy(c->last_hash, e.hash, sizeof(h));
	c->rep->entries++;
	return 0;
}

int
recourse_audit_verify(struct recourse_backend *be, struct recourse_txn *t,
    struct recourse_audit_report *rep, struct recourse_err *err)
{
	struct audit_check c = { rep, 0, { 0 }, NULL, 4 * AUDIT_STR_MAX + 4 };
	uint8_t head_hash[RECOURSE_HASH_LEN];
	uint64_t head;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rep->ok = 1;
	if ((rc = recourse_audit_head(be, t, &head, head_hash, err)) != RECOURSE_OK)
		return rc;
	if ((c.strbuf = recourse_mem_alloc(c.strcap)) == NULL)
		return recourse_err_set(err, RECOURSE_ENOMEM,
		    "verifying the audit log: out of memory");
	rc = be->ops->walk(be, t, RECOURSE_DB_AUDIT, NULL, 0, audit_check_one,
	    &c);
	recourse_mem_free(c.strbuf);
	if (rc != 0)
		return recourse_backend_err(be, rc, err, "reading the audit log");
	if (!rep->ok)
		return RECOURSE_OK;
	if (c.last < head)
		audit_bad(&c, c.last + 1, "audit entry %" PRIu64 " is missing "
		    "(removed): the log ends at %" PRIu64 " but its head "
		    "records %" PRIu64, c.last + 1, c.last, head);
	else if (c.last > head)
		audit_bad(&c, head + 1, "audit entry %" PRIu64 " is beyond the "
		    "recorded head %" PRIu64 ": added outside recourse",
		    head + 1, head);
	else if (memcmp(c.last_hash, head_hash, RECOURSE_HASH_LEN) != 0)
		audit_bad(&c, head, "audit entry %" PRIu64 " was modified or "
		    "replaced: the head records a different hash for it", head);
	return RECOURSE_OK;
}
