/* test_audit.c -- the hash-chained audit log on RAM and LMDB: verification names the modified, removed or reordered entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "recourse/audit.h"
#include "recourse/mem.h"
#include "backends.h"

#define N_ENTRIES 6

static int
setup(void **state, enum tb_kind kind)
{
	struct tb *b = calloc(1, sizeof(*b));
	struct recourse_txn *t;
	char detail[32];

	tb_open(b, kind);
	assert_int_equal(b->be->ops->begin(b->be, NULL, 1, &t), 0);
	for (int i = 1; i <= N_ENTRIES; i++) {
		struct recourse_audit_entry e = { .at_ms = 1000 + i, .state = 1,
		    .actor = "axle://fame-uk/admin/uk/jsmith",
		    .case_id = "uk/1", .action = "ANNOTATED", .detail = detail };
		uint64_t seq = 0;
		snprintf(detail, sizeof(detail), "note %d", i);
		assert_int_equal(recourse_audit_append(b->be, t, &e, &seq, NULL),
		    RECOURSE_OK);
		assert_int_equal(seq, i);
	}
	assert_int_equal(b->be->ops->commit(b->be, t), 0);
	*state = b;
	return 0;
}

static int setup_ram(void **state) { return setup(state, TB_RAM); }
static int setup_lmdb(void **state) { return setup(state, TB_LMDB); }

static int
teardown(void **state)
{
	tb_close(*state);
	free(*state);
	return 0;
}

static struct recourse_audit_report
verify(struct tb *b)
{
	struct recourse_audit_report rep;
	struct recourse_txn *t;

	assert_int_equal(b->be->ops->begin(b->be, NULL, 0, &t), 0);
	assert_int_equal(recourse_audit_verify(b->be, t, &rep, NULL), RECOURSE_OK);
	b->be->ops->abort(b->be, t);
	return rep;
}

/* Copies entry seq out (the value dies with the transaction). */
static size_t
raw_get(struct tb *b, uint64_t seq, uint8_t *buf, size_t cap)
{
	struct recourse_txn *t;
	uint8_t key[8];
	const void *v;
	size_t vlen;

	recourse_audit_key(seq, key);
	assert_int_equal(b->be->ops->begin(b->be, NULL, 0, &t), 0);
	assert_int_equal(b->be->ops->get(b->be, t, RECOURSE_DB_AUDIT, key, 8,
	    &v, &vlen), 0);
	assert_true(vlen <= cap);
	memcpy(buf, v, vlen);
	b->be->ops->abort(b->be, t);
	return vlen;
}

/* Writes (or with buf NULL deletes) entry seq behind recourse's back. */
static void
raw_put(struct tb *b, uint64_t seq, const uint8_t *buf, size_t len)
{
	struct recourse_txn *t;
	uint8_t key[8];

	recourse_audit_key(seq, key);
	assert_int_equal(b->be->ops->begin(b->be, NULL, 1, &t), 0);
	if (buf)
		assert_int_equal(b->be->ops->put(b->be, t, RECOURSE_DB_AUDIT,
		    key, 8, buf, len), 0);
	else
		assert_int_equal(b->be->ops->del(b->be, t, RECOURSE_DB_AUDIT,
		    key, 8), 0);
	assert_int_equal(b->be->ops->commit(b->be, t), 0);
}

static void
test_intact(void **state)
{
	struct recourse_audit_report rep = verify(*state);

	assert_true(rep.ok);
	assert_int_equal(rep.entries, N_ENTRIES);
	assert_int_equal(rep.first_bad, 0);
}

static void
test_modified(void **state)
{
	uint8_t buf[512];
	size_t n = raw_get(*state, 3, buf, sizeof(buf));

	buf[n - 1] ^= 1;	/* "note 3" -> "note 2" */
	raw_put(*state, 3, buf, n);
	struct recourse_audit_report rep = verify(*state);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, 3);
	assert_string_equal(rep.detail, "audit entry 3 was modified: its hash "
	    "does not match its contents");
	assert_int_equal(rep.entries, 2);
}

static void
test_modified_and_rehashed(void **state)
{
	struct tb *b = *state;
	struct recourse_audit_entry e;
	uint8_t buf[512], *nb;
	char strs[512], why[128];
	size_t n = raw_get(b, 4, buf, sizeof(buf)), nlen;

	/* A careful forger recomputes the entry's own hash: the next link breaks. */
	assert_int_equal(recourse_audit_decode(buf, n, &e, strs, sizeof(strs),
	    why, sizeof(why)), RECOURSE_OK);
	assert_string_equal(e.detail, "note 4");
	e.detail = "nothing to see";
	assert_int_equal(recourse_audit_encode(&e, &nb, &nlen), RECOURSE_OK);
	raw_put(b, 4, nb, nlen);
	recourse_mem_free(nb);
	struct recourse_audit_report rep = verify(b);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, 4);
	assert_string_equal(rep.detail, "audit entry 4 was modified or replaced: "
	    "entry 5 records a different hash for it");
}

static void
test_removed(void **state)
{
	raw_put(*state, 4, NULL, 0);
	struct recourse_audit_report rep = verify(*state);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, 4);
	assert_string_equal(rep.detail, "audit entry 4 is missing (removed): "
	    "entry 5 follows entry 3");
}

static void
test_removed_last(void **state)
{
	raw_put(*state, N_ENTRIES, NULL, 0);
	struct recourse_audit_report rep = verify(*state);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, N_ENTRIES);
	assert_non_null(strstr(rep.detail, "audit entry 6 is missing (removed): "
	    "the log ends at 5 but its head records 6"));
}

static void
test_reordered(void **state)
{
	uint8_t a[512], c[512];
	size_t na = raw_get(*state, 2, a, sizeof(a));
	size_t nc = raw_get(*state, 5, c, sizeof(c));

	raw_put(*state, 2, c, nc);
	raw_put(*state, 5, a, na);
	struct recourse_audit_report rep = verify(*state);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, 2);
	assert_string_equal(rep.detail, "audit entry at position 2 is entry 5: "
	    "entries were reordered");
}

static void
test_added_beyond_head(void **state)
{
	uint8_t buf[512];
	size_t n = raw_get(*state, 6, buf, sizeof(buf));

	raw_put(*state, 7, buf, n);
	struct recourse_audit_report rep = verify(*state);
	assert_false(rep.ok);
	assert_int_equal(rep.first_bad, 7);
}

static void
test_decode_refuses_garbage(void **state)
{
	struct recourse_audit_entry e;
	uint8_t buf[512];
	char strs[64], why[128];
	size_t n = raw_get(*state, 1, buf, sizeof(buf));

	assert_int_equal(recourse_audit_decode(buf, n - 1, &e, strs,
	    sizeof(strs), why, sizeof(why)), RECOURSE_EINVAL);
	assert_int_equal(recourse_audit_decode(buf, 10, &e, strs,
	    sizeof(strs), why, sizeof(why)), RECOURSE_EINVAL);
	assert_int_equal(recourse_audit_decode(buf, n, &e, strs, 8, why,
	    sizeof(why)), RECOURSE_EINVAL);
	buf[0] = 9;
	assert_int_equal(recourse_audit_decode(buf, n, &e, strs, sizeof(strs),
	    why, sizeof(why)), RECOURSE_EINVAL);
}

static void
test_append_enomem_and_store_error(void **state)
{
	struct tb *b = *state;
	struct recourse_txn *t;
	struct recourse_err err;
	struct recourse_audit_entry e = { .actor = "x", .case_id = "uk/1",
	    .action = "ANNOTATED", .detail = "d" };

	assert_int_equal(b->be->ops->begin(b->be, NULL, 1, &t), 0);
	recourse_mem_fail_after(1);
	assert_int_equal(recourse_audit_append(b->be, t, &e, NULL, &err),
	    RECOURSE_ENOMEM);
	recourse_mem_fail_after(0);
	b->be->ops->abort(b->be, t);
	assert_int_equal(b->be->ops->begin(b->be, NULL, 1, &t), 0);
	recourse_backend_fault_arm(b->be, 2, EIO);	/* the head */
	assert_int_equal(recourse_audit_append(b->be, t, &e, NULL, &err),
	    RECOURSE_ESTORE);
	assert_int_equal(err.store_rc, EIO);
	assert_non_null(strstr(err.msg, "moving the audit head"));
	b->be->ops->abort(b->be, t);
	struct recourse_audit_report rep = verify(b);
	assert_true(rep.ok);
	assert_int_equal(rep.entries, N_ENTRIES);
}

/* Collects seqs a range gives. */
struct seqs {
	uint64_t seq[16];
	size_t n;
};

static int
collect(const struct recourse_audit_entry *e, void *arg)
{
	struct seqs *s = arg;

	assert_true(s->n < 16);
	s->seq[s->n++] = e->seq;
	assert_string_equal(e->case_id, "uk/1");
	return 0;
}

static struct seqs
range(struct tb *b, uint64_t from, uint64_t to, size_t max, size_t max_bytes,
    uint64_t *next)
{
	struct seqs s = { .n = 0 };
	struct recourse_txn *t;

	assert_int_equal(b->be->ops->begin(b->be, NULL, 0, &t), 0);
	assert_int_equal(recourse_audit_range(b->be, t, from, to, max, max_bytes,
	    collect, &s, next, NULL), RECOURSE_OK);
	b->be->ops->abort(b->be, t);
	return s;
}

/* An export reads the log a bounded page at a time, in order, to where it was asked. */
static void
test_range_pages(void **state)
{
	struct tb *b = *state;
	uint64_t next;
	struct seqs s = range(b, 1, N_ENTRIES, 4, 1 << 20, &next);

	assert_int_equal(s.n, 4);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[3], 4);
	assert_int_equal(next, 5);
	s = range(b, next, N_ENTRIES, 4, 1 << 20, &next);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[1], 6);
	assert_int_equal(next, 0);
	s = range(b, 0, 3, 10, 1 << 20, &next);	/* 0: from the first */
	assert_int_equal(s.n, 3);
	assert_int_equal(next, 0);
	s = range(b, 2, 5, 10, 1, &next);		/* a byte cap: one a page */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 2);
	assert_int_equal(next, 3);
	s = range(b, 4, 3, 10, 1 << 20, &next);		/* empty */
	assert_int_equal(s.n, 0);
	assert_int_equal(next, 0);
	raw_put(b, 3, NULL, 0);				/* a gap: the checker names it */
	s = range(b, 1, N_ENTRIES, 10, 1 << 20, &next);
	assert_int_equal(s.n, N_ENTRIES - 1);
	assert_int_equal(s.seq[2], 4);
}

/* The head as stored: its seq and the last entry's hash. */
static void
test_head_read(void **state)
{
	struct tb *b = *state;
	struct recourse_audit_entry e;
	struct recourse_txn *t;
	uint8_t buf[512], hash[RECOURSE_HASH_LEN];
	char strs[256], why[128];
	size_t n = raw_get(b, N_ENTRIES, buf, sizeof(buf));
	uint64_t seq;

	assert_int_equal(recourse_audit_decode(buf, n, &e, strs, sizeof(strs),
	    why, sizeof(why)), RECOURSE_OK);
	assert_int_equal(b->be->ops->begin(b->be, NULL, 0, &t), 0);
	assert_int_equal(recourse_audit_head(b->be, t, &seq, hash, NULL),
	    RECOURSE_OK);
	b->be->ops->abort(b->be, t);
	assert_int_equal(seq, N_ENTRIES);
	assert_memory_equal(hash, e.hash, RECOURSE_HASH_LEN);
}

static void
hex_of(const uint8_t *h, char out[2 * RECOURSE_HASH_LEN + 1])
{
	for (int i = 0; i < RECOURSE_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The two example entries of docs/admin.md ("The hash of an entry"): code and spec agree. */
static void
test_documented_vectors(void **state)
{
	struct recourse_audit_entry a = { .seq = 1, .at_ms = 1765000000000,
	    .state = 2, .actor = "axle://fame-uk/admin/uk.london/jsmith",
	    .case_id = "uk.london/1", .action = "CLAIMED", .detail = "" };
	struct recourse_audit_entry b = { .seq = 2, .at_ms = 1765000060000,
	    .state = 3, .actor = a.actor, .case_id = a.case_id,
	    .action = "DISCARDED", .detail = "test message, r\xc3\xa9" "f 42" };
	char hex[2 * RECOURSE_HASH_LEN + 1];
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(recourse_audit_encode(&a, &buf, &len), RECOURSE_OK);
	recourse_mem_free(buf);
	hex_of(a.hash, hex);
	assert_string_equal(hex, "3e765b1cd600b5d22bf70c8e624a0bf6"
	    "e2c0b8bc50afc057d442abdc84451f50");
	memcpy(b.prev_hash, a.hash, RECOURSE_HASH_LEN);
	assert_int_equal(recourse_audit_encode(&b, &buf, &len), RECOURSE_OK);
	recourse_mem_free(buf);
	hex_of(b.hash, hex);
	assert_string_equal(hex, "c6162392ce72a47bccd142503184150728ed6e3863b93d11"
	    "223d04337e855d44");
}

#define BOTH(f) \
	cmocka_unit_test_setup_teardown(f, setup_ram, teardown), \
	cmocka_unit_test_setup_teardown(f, setup_lmdb, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_intact),
		BOTH(test_modified),
		BOTH(test_modified_and_rehashed),
		BOTH(test_removed),
		BOTH(test_removed_last),
		BOTH(test_reordered),
		BOTH(test_added_beyond_head),
		BOTH(test_decode_refuses_garbage),
		BOTH(test_append_enomem_and_store_error),
		BOTH(test_range_pages),
		BOTH(test_head_read),
		cmocka_unit_test(test_documented_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
