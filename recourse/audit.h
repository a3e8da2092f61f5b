/* audit.h -- the hash-chained audit log of case events, written in the same transaction as the case. */
#ifndef AXLE_RECOURSE_AUDIT_H
#define AXLE_RECOURSE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "recourse/backend.h"
#include "recourse/rc.h"

#define RECOURSE_HASH_LEN 32

/*
 * One entry. Stored in RECOURSE_DB_AUDIT under its 8-byte big-endian seq as
 *   version (1 byte, = 1) | hash (32) | prev_hash (32) | body
 * where body is the canonical encoding
 *   seq u64 | at_ms i64 | state u32 | actor | case_id | action | detail
 * (integers big-endian; each string a u32 big-endian length and its bytes,
 * no NUL), and hash = SHA-256(prev_hash || body). The first entry's
 * prev_hash is 32 zero bytes. The META key "audit.head" holds the last seq
 * (u64) and its hash, so a truncated log is detected too. A person with
 * write access to the store could still rewrite the whole chain and the
 * head: the node signs the head when asked (audit_sign.h, Recourse.AuditHead)
 * and an export closed by a signed head is checked offline against the
 * node's certificate (tools/axle-audit-check), so a rewrite after the
 * export is found. Entries are never rewritten or removed: the format byte
 * (1) stays, and a future format must keep verifying entries of this one.
 */
struct recourse_audit_entry {
	uint64_t seq;
	int64_t at_ms;
	uint32_t state;		/* Axle__V1__CaseState after the event */
	const char *actor;	/* identity URI */
	const char *case_id;
	const char *action;	/* "CLAIMED", "DISCARDED", ... */
	const char *detail;	/* why, the note, the new address */
	uint8_t prev_hash[RECOURSE_HASH_LEN];
	uint8_t hash[RECOURSE_HASH_LEN];
};

/*
 * Encodes e (seq, at_ms, state, strings and prev_hash; NULL strings are
 * empty) into a new buffer (free with recourse_mem_free) and sets e->hash.
 * RECOURSE_OK, RECOURSE_EINVAL (a string over 64 KiB), RECOURSE_ENOMEM.
 */
int recourse_audit_encode(struct recourse_audit_entry *e, uint8_t **out,
    size_t *outlen);

/*
 * Decodes buf into e; the strings are copied into strbuf[0..strlen), NUL
 * terminated, and e's pointers point there (so e is valid as long as strbuf).
 * Does not check the hash. RECOURSE_OK or RECOURSE_EINVAL (malformed, or
 * strbuf too small) with a reason.
 */
int recourse_audit_decode(const uint8_t *buf, size_t len,
    struct recourse_audit_entry *e, char *strbuf, size_t strlen_,
    char *why, size_t whylen);

/*
 * Appends an entry for an event inside write transaction t, after the head,
 * and moves the head. e's seq and prev_hash are set here; the rest is the
 * caller's. On success *seq_out (may be NULL) is the new seq. RECOURSE_OK,
 * RECOURSE_ENOMEM, RECOURSE_EINVAL, or RECOURSE_ESTORE with e->store_rc.
 * On failure the caller must abort t (a partial append is possible).
 */
int recourse_audit_append(struct recourse_backend *be, struct recourse_txn *t,
    struct recourse_audit_entry *e, uint64_t *seq_out,
    struct recourse_err *err);

struct recourse_audit_report {
	int ok;			/* the whole chain checks out */
	uint64_t entries;	/* entries checked */
	uint64_t first_bad;	/* seq of the first bad entry (0 when ok) */
	char detail[RECOURSE_ERR_MAX];	/* what is wrong, naming the seq */
};

/*
 * Walks the log in t and checks each link: seqs 1..head without gaps,
 * each entry's stored seq equal to its key, its hash equal to SHA-256 of
 * its prev_hash and body, its prev_hash equal to the previous entry's hash,
 * and the last entry equal to the head. Stops at the first fault and names
 * it: "audit entry 7 is missing (removed)", "audit entry 5 was modified: its
 * hash does not match its contents", "audit entry at position 5 is entry 6:
 * entries were reordered". Returns RECOURSE_OK (see rep->ok for the
 * verdict), or RECOURSE_ESTORE / RECOURSE_ENOMEM if it could not read.
 */
int recourse_audit_verify(struct recourse_backend *be, struct recourse_txn *t,
    struct recourse_audit_report *rep, struct recourse_err *err);

/*
 * The head: *seq (0 for an empty log) and its hash (32 zero bytes when
 * empty). RECOURSE_OK, or RECOURSE_ESTORE (unreadable or damaged head).
 */
int recourse_audit_head(struct recourse_backend *be, struct recourse_txn *t,
    uint64_t *seq, uint8_t hash[RECOURSE_HASH_LEN], struct recourse_err *err);

/*
 * Called for each entry of recourse_audit_range; e (and its strings) valid
 * only during the call. Return 0 to go on, non-zero to stop after it.
 */
typedef int (*recourse_audit_fn)(const struct recourse_audit_entry *e,
    void *arg);

/*
 * Reads the stored entries with seq in [from, to] in seq order, as stored
 * (hashes not recomputed: a checker must see what the store holds), at most
 * max of them and stopping after the one that brings their string bytes to
 * max_bytes or more (so a page is bounded and never empty). *next is the
 * seq to start the next page at, 0 when this one reached to. A missing
 * entry is skipped (the checker names the gap). RECOURSE_OK, RECOURSE_ENOMEM,
 * RECOURSE_ESTORE (unreadable, or an entry that does not decode: named).
 */
int recourse_audit_range(struct recourse_backend *be, struct recourse_txn *t,
    uint64_t from, uint64_t to, size_t max, size_t max_bytes,
    recourse_audit_fn fn, void *arg, uint64_t *next,
    struct recourse_err *err);

/* Key bytes for seq (big-endian). */
void recourse_audit_key(uint64_t seq, uint8_t key[8]);

#endif
