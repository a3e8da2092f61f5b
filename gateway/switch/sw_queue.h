/* sw_queue.h -- the switch's durable queues (messages, outboxes, mailboxes, held, dedup) over a small ordered key-value backend API. */
#ifndef AXLE_GW_SW_QUEUE_H
#define AXLE_GW_SW_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define SW_QID_LEN	16	/* message id bytes (SW_ID_LEN) */
#define SW_QDIGEST_LEN	32	/* an envelope's digest (SW_DIGEST_LEN) */
#define SW_NAME_MAX	253	/* a queue's name: peer region or mailbox (registrar id) */
#define SW_WHERE_MAX	255	/* a record's location text (queue name, case id@node, ...) */
#define SW_CTX_MAX	256	/* an envelope's context (SW_CONTEXT_MAX) */

/*
 * Where a message is now; exactly one per message (docs/design.md "Switch").
 * The first three are queues: the message sits in sw.outbox, sw.mailbox or
 * sw.held under its `where`, and the record keeps its envelope. The others
 * end this node's custody: the envelope is dropped, the record stays (for
 * Status and so that a re-forward is answered DUPLICATE).
 */
enum sw_state {
	SW_STATE_NONE = 0,
	SW_STATE_OUTBOX = 1,	/* where: the peer region it waits for */
	SW_STATE_MAILBOX = 2,	/* where: the mailbox (registrar id) */
	SW_STATE_HELD = 3,	/* where: the suspended registrar's id */
	SW_STATE_FORWARDED = 4,	/* where: the peer region that acknowledged it */
	SW_STATE_ACKED = 5,	/* where: the mailbox it was acknowledged from */
	SW_STATE_RETURNED = 6,	/* where: free text (e.g. the return envelope's id) */
	SW_STATE_DISCARDED = 7,	/* where: free text (the audited reason's key) */
	SW_STATE_RECOURSE = 8,	/* where: "case-id@node" */
};
#define SW_STATE_MAX SW_STATE_RECOURSE

/* True for OUTBOX, MAILBOX and HELD. */
bool sw_state_is_queue(enum sw_state s);
/* "outbox", "mailbox", ... ("none" for NONE, "?" if out of range). */
const char *sw_state_name(enum sw_state s);

/* --- return codes ----------------------------------------------------------
 * Every function below returns 0 or one of these, or a backend error passed
 * through unchanged (LMDB: an MDB_* code or errno; RAM: -ENOMEM; the fault
 * wrapper: -EIO). Any non-zero return from an operation that writes means
 * the caller must abort the transaction: an operation may have written part
 * of its change before failing, and only the abort undoes it. (Under the
 * gateway's store writer, returning the rc from the store_write_fn does
 * exactly that.) DUPLICATE and NOTFOUND from accept/get/status/reject/move
 * are answers, not failures: nothing was written.
 */
#define SW_Q_DUPLICATE	(-41001)	/* accept: the message id was seen before */
#define SW_Q_NOTFOUND	(-41002)	/* no such message, or not where the caller said */
#define SW_Q_CORRUPT	(-41003)	/* a stored record does not decode */
#define SW_Q_BUSY	(-41004)	/* RAM: a write transaction is already open */
#define SW_Q_EINVAL	(-22)		/* -EINVAL: bad arguments */
#define SW_Q_ENOMEM	(-12)		/* -ENOMEM */

/* Text for any rc above or a backend's (MDB codes, errno, -errno). Static. */
const char *sw_queue_strerror(int rc);

/* --- the backend API (OpenSMTPD queue_backend style) ----------------------
 * Named stores, each an ordered map of byte keys to byte values
 * (bytewise key order, shorter first on a common prefix). The queue logic
 * in sw_queue.c is written once against these operations; backends are
 * LMDB (sw_queue_lmdb.c), RAM (sw_queue_ram.c) and a fault-injecting
 * wrapper of either (sw_queue_fault.c).
 */
enum sw_qstore {
	SW_QS_MSGS = 0,		/* "sw.msgs":    id -> record + envelope; "seq" -> counter */
	SW_QS_OUTBOX,		/* "sw.outbox":  peer region NUL seq(8, BE) -> entry */
	SW_QS_MAILBOX,		/* "sw.mailbox": registrar id NUL seq -> entry */
	SW_QS_HELD,		/* "sw.held":    registrar id NUL seq -> entry */
	SW_QS_DEDUP,		/* "sw.dedup":   id -> first-seen ms (8, BE) [digest (32)] */
	SW_QS_DEADLINES,	/* "sw.deadlines": at_ms(8, BE) kind(1) id -> "" (sw_deadline.c) */
	SW_QS_PARTIES,		/* "sw.parties": id -> sender NUL to (sw_deadline.c) */
	SW_QS_REPLIES,		/* "sw.replies": context NUL id -> header envelope (sw_deadline.c) */
	SW_QS_COUNTS,		/* "sw.counts": kind(1) queue name -> count(8) fetched(8) (BE) */
	SW_QS_EXPIRY,		/* "sw.expiry": at_ms(8, BE) kind(1)=4 id -> "" (retention, sw_deadline.c) */
	SW_QS__COUNT
};
/* The LMDB database name of each store. */
extern const char *const sw_qstore_names[SW_QS__COUNT];

struct sw_kv {
	const void *p;
	size_t len;
};

/*
 * Values handed out by get and seek point into the backend and are valid
 * until the next put or del in the same transaction, or its end: copy
 * before writing. get/del/seek return SW_Q_NOTFOUND when there is nothing.
 */
struct sw_qbackend_ops {
	const char *name;
	int (*begin)(void *be, bool rdonly, void **h);
	int (*commit)(void *be, void *h);
	void (*abort)(void *be, void *h);
	int (*get)(void *be, void *h, enum sw_qstore s, struct sw_kv key,
	    struct sw_kv *val);
	int (*put)(void *be, void *h, enum sw_qstore s, struct sw_kv key,
	    struct sw_kv val);
	int (*del)(void *be, void *h, enum sw_qstore s, struct sw_kv key);
	/* The first entry whose key is >= key (key.len 0: the first of all). */
	int (*seek)(void *be, void *h, enum sw_qstore s, struct sw_kv key,
	    struct sw_kv *k, struct sw_kv *v);
	/* Number of entries in store s. */
	int (*count)(void *be, void *h, enum sw_qstore s, uint64_t *n);
	void (*destroy)(void *be);
};

/*
 * A queue: a backend instance. hold_limit_ms (0 after creation: no limit)
 * > 0 makes every message that enters HELD get an SW_DL_HOLD deadline that
 * far ahead, in the same transaction, and every message that leaves HELD
 * lose it. record_retention_ms and dedup_retention_ms (0: kept for ever)
 * > 0 make every message that ends here (FORWARDED, ACKED, RETURNED,
 * DISCARDED) get an SW_DL_FORGET deadline, in the same transaction: its
 * record (with its parties) is deleted that long after it ended, its
 * de-duplication mark after dedup_retention_ms (sw_queue_forget). The
 * owner sets them once, before the first write.
 */
struct sw_queue {
	const struct sw_qbackend_ops *ops;
	void *be;
	int64_t hold_limit_ms;
	int64_t record_retention_ms;
	int64_t dedup_retention_ms;
};

/* A transaction on a queue. own: begun by sw_txn_begin (commit/abort it). */
struct sw_txn {
	struct sw_queue *q;
	void *h;
	bool own;
};

/* Frees the backend (every transaction must be ended). NULL is fine. */
void sw_queue_close(struct sw_queue *q);

/*
 * Begins a transaction of the backend's own (RAM: the only write
 * transaction at a time, else SW_Q_BUSY; LMDB: mdb_txn_begin on its env).
 * Returns 0 or a backend error. End it with sw_txn_commit or sw_txn_abort.
 */
int sw_txn_begin(struct sw_queue *q, bool rdonly, struct sw_txn *t);
/* Commits (and ends) an own transaction. Returns 0 or a backend error. */
int sw_txn_commit(struct sw_txn *t);
/* Aborts (and ends) an own transaction; undoes all its writes. */
void sw_txn_abort(struct sw_txn *t);

/*
 * LMDB backend. Opens (creating) the SW_QS__COUNT named databases in txn, a write
 * transaction the caller then commits (the gateway: gw_store_write_now at
 * start-up). The env must allow SW_QS__COUNT more named databases (mdb_env_set_maxdbs).
 * Returns 0 and *out (close with sw_queue_close; the env is not closed), or
 * an MDB code with a reason in err.
 */
int sw_queue_lmdb_open(MDB_env *env, MDB_txn *txn, struct sw_queue **out,
    char *err, size_t errlen);
/*
 * Wraps a caller's transaction (a store_write_fn's nested txn, or a read
 * txn from gw_store_read_begin) for q, an LMDB queue or a fault wrapper of one.
 * The caller commits or aborts txn itself; sw_txn_commit/abort on t do nothing.
 */
void sw_txn_lmdb(struct sw_queue *q, MDB_txn *txn, struct sw_txn *t);

/* RAM backend: for tests. Returns NULL on ENOMEM. */
struct sw_queue *sw_queue_ram_new(void);

/*
 * A wrapper that passes everything to inner (which it then owns: closing
 * the wrapper closes inner) but fails the nth put or del (counting from 1
 * after sw_queue_fault_arm) with -EIO, and every write after it until
 * re-armed. Returns NULL on ENOMEM.
 */
struct sw_queue *sw_queue_fault_new(struct sw_queue *inner);
/* Resets the write counter; fail the nth write from now (0: never). */
void sw_queue_fault_arm(struct sw_queue *q, unsigned nth);
/* Writes (put + del) attempted since the last arm. */
unsigned sw_queue_fault_writes(const struct sw_queue *q);

/* --- records ------------------------------------------------------------- */

#define SW_REPORT_CASE_MAX	299	/* a reported case id (RECOURSE_ID_MAX - 1) */
#define SW_REPORT_DETAIL_MAX	400	/* a reported detail: longer is cut */

/*
 * The latest state a receipt from another node reported about a message
 * this node holds a record of (a sender's node learns where its message
 * went after it left). One per record: each report replaces the last.
 */
struct sw_report {
	int kind;			/* an Axle__V1__ReceiptKind; 0: no report */
	int64_t at_ms;			/* when it happened (that node's clock) */
	int64_t noted_ms;		/* when this node recorded it */
	char node[SW_NAME_MAX + 1];	/* the region of the node that said so */
	char case_id[SW_REPORT_CASE_MAX + 1];
	char detail[SW_REPORT_DETAIL_MAX + 1];
};

struct sw_record {
	uint8_t id[SW_QID_LEN];
	enum sw_state state;
	char where[SW_WHERE_MAX + 1];
	uint64_t seq;			/* acceptance order; a queue entry's key */
	int64_t accepted_ms;		/* when this node committed it */
	int64_t updated_ms;		/* when its state last changed */
	/* The queue entry, when sw_state_is_queue(state): */
	int64_t enqueued_ms;		/* when it entered its present queue */
	int64_t visible_after_ms;	/* MAILBOX: in flight until then (0: not fetched) */
	int64_t hold_until_ms;		/* HELD: its SW_DL_HOLD deadline (0: none) */
	uint32_t attempts;		/* MAILBOX: deliveries so far */
	size_t env_len;			/* stored envelope bytes; 0 after custody ended */
	uint32_t redirects;		/* redirects of the incarnation recorded here */
	struct sw_report rep;		/* the latest report from another node */
};

/* True if a mailbox record is fetched and not yet due for redelivery. */
bool sw_record_in_flight(const struct sw_record *r, int64_t now_ms);

/* A record and a malloc'd copy of its packed envelope (NULL if none). */
struct sw_msg {
	struct sw_record rec;
	uint8_t *env;
	size_t env_len;
};
/* Frees the envelopes of m[0..n) (not m itself). */
void sw_msgs_free(struct sw_msg *m, size_t n);

/* --- operations -----------------------------------------------------------
 * Each runs inside the caller's transaction t and writes a state change and
 * the message's record together. Queue names (peer region, mailbox) are
 * 1..SW_NAME_MAX bytes without NUL; `where` of other states 1..SW_WHERE_MAX.
 */

/*
 * Accepts message id (envelope env[0..env_len), packed) into state/where:
 * checks de-duplication, then stores the dedup mark, the record and (for a
 * queue state) the queue entry. A queue state needs env_len > 0; a state
 * that ends custody (accepted straight into recourse, say) stores no
 * envelope. Returns 0, SW_Q_DUPLICATE (the id was accepted before: nothing
 * written), SW_Q_EINVAL, or a backend error.
 */
int sw_queue_accept(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t *env, size_t env_len, enum sw_state state,
    const char *where, int64_t now_ms);

/*
 * sw_queue_accept that keeps the envelope's digest (NULL: none) in the
 * dedup mark it writes, so that a Send writes its mark once.
 */
int sw_queue_accept_digest(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t *digest, const uint8_t *env, size_t env_len,
    enum sw_state state, const char *where, int64_t now_ms);

/* True (rc 0) if id was accepted before, with its first-seen time. */
int sw_queue_seen(struct sw_txn *t, const uint8_t id[SW_QID_LEN], bool *seen,
    int64_t *first_ms);

/*
 * The envelope digest kept with id's dedup mark: *has false (rc 0) for a
 * mark made before digests were kept. SW_Q_NOTFOUND if id has no mark.
 */
int sw_queue_digest_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    uint8_t digest[SW_QDIGEST_LEN], bool *has);
/* Keeps digest with id's dedup mark (which must exist: else SW_Q_NOTFOUND). */
int sw_queue_digest_put(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const uint8_t digest[SW_QDIGEST_LEN]);

/* The record of id. Returns 0, SW_Q_NOTFOUND, SW_Q_CORRUPT or a backend error. */
int sw_queue_status(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_record *out);

/*
 * A redirected message came back to (or reached) this node: its record now
 * counts n redirects, and a report about the earlier incarnation is
 * dropped. Returns 0, SW_Q_NOTFOUND or an error.
 */
int sw_queue_set_redirects(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    uint32_t n);

/* Keeps rep as id's latest report. Returns 0, SW_Q_NOTFOUND or an error. */
int sw_queue_set_report(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const struct sw_report *rep);

/* The record and a copy of the envelope (free with sw_msgs_free(out, 1)). */
int sw_queue_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_msg *out);

/*
 * Up to max messages of peer's outbox, oldest first, with their envelopes
 * (read-only: a read transaction will do). *n gets how many; free with
 * sw_msgs_free(out, *n). Returns 0 or an error (then *n is 0).
 */
int sw_queue_outbox_peek(struct sw_txn *t, const char *peer, size_t max,
    struct sw_msg *out, size_t *n);

/*
 * The peer acknowledged its durable commit (COMMITTED or DUPLICATE) of ids:
 * each one in peer's outbox leaves it and becomes FORWARDED (where: peer).
 * Ids not in that outbox are skipped. *removed (may be NULL) gets the count.
 */
int sw_queue_outbox_remove(struct sw_txn *t, const char *peer,
    const uint8_t (*ids)[SW_QID_LEN], size_t n, int64_t now_ms,
    size_t *removed);

/*
 * Delivers up to max messages of mailbox that are not in flight, oldest
 * first: each becomes in flight until now_ms + visibility_ms (at least 1)
 * and its attempts count goes up; the record out[i].rec shows both. *n gets
 * how many; free with sw_msgs_free(out, *n).
 */
int sw_queue_mailbox_fetch(struct sw_txn *t, const char *mailbox, size_t max,
    int64_t now_ms, int64_t visibility_ms, struct sw_msg *out, size_t *n);

/*
 * Acknowledges ids from mailbox: each that is in flight there at now_ms
 * (fetched, visibility not run out) leaves the mailbox and becomes ACKED.
 * Others are left alone: done[i] (done may be NULL) says which were
 * acknowledged, *acked (may be NULL) how many. Only the mailbox's owner may
 * call this; the caller has checked that it is the owner.
 */
int sw_queue_ack(struct sw_txn *t, const char *mailbox,
    const uint8_t (*ids)[SW_QID_LEN], size_t n, int64_t now_ms, bool *done,
    size_t *acked);

/*
 * The owner of mailbox rejects id as not understood: if it is in flight
 * there it moves to state `to` (what the failure policy made of it:
 * RECOURSE "case@node", RETURNED or DISCARDED; read the envelope first with
 * sw_queue_get if the case needs it). Returns 0, SW_Q_NOTFOUND (not in
 * flight in that mailbox: nothing written), SW_Q_EINVAL or a backend error.
 */
int sw_queue_reject(struct sw_txn *t, const char *mailbox,
    const uint8_t id[SW_QID_LEN], int64_t now_ms, enum sw_state to,
    const char *where);

/*
 * Moves id from wherever it is to to/where: e.g. an outbox entry the peer
 * refused for good, or a delivery deadline passed, goes to RECOURSE; a
 * recourse redirect goes back to a queue. A queue entry keeps its place in
 * acceptance order (its seq) in the new queue. Moving into a queue needs
 * the stored envelope, or a replacement env (env_len > 0; replaces it).
 * Returns 0, SW_Q_NOTFOUND, SW_Q_EINVAL (e.g. into a queue with no
 * envelope) or a backend error.
 */
int sw_queue_move(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    enum sw_state to, const char *where, const uint8_t *env, size_t env_len,
    int64_t now_ms);

/*
 * Called by sw_queue_hold and sw_queue_release for each message they move,
 * in the order moved, just after its move and in the same transaction t:
 * m->rec is its record after the move (state to/where), m->env a copy of
 * its envelope (valid during the call only). fn may write in t (the
 * switch sends the sender a receipt); an entry it adds to the queue being
 * walked comes after every entry already there and is moved (and passed
 * to fn) in turn. A non-zero return stops the walk and is returned as is
 * (the caller must then abort the transaction, as for any error).
 */
typedef int (*sw_moved_fn)(struct sw_txn *t, const struct sw_msg *m,
    void *arg);

/*
 * Suspension: moves up to max of registrar's mailbox entries (in flight or
 * not) to its held queue, calling fn (may be NULL) for each. *moved (may
 * be NULL) gets how many; fewer than max means none are left. Like every
 * way into HELD (accept, move, release to a suspended successor), each
 * gets its hold deadline (see struct sw_queue): entering HELD anew, even
 * from another held queue, starts a new hold.
 */
int sw_queue_hold(struct sw_txn *t, const char *registrar, size_t max,
    int64_t now_ms, size_t *moved, sw_moved_fn fn, void *arg);

/*
 * Reactivation (or re-homing): moves up to max of registrar's held
 * messages, oldest first, to to/where -- normally MAILBOX registrar; for a
 * successor, its mailbox or the outbox of its node -- calling fn (may be
 * NULL) for each. Each keeps its seq, so the order of acceptance survives
 * the hold, also among messages that arrived after the release. *moved as
 * for hold.
 */
int sw_queue_release(struct sw_txn *t, const char *registrar,
    enum sw_state to, const char *where, size_t max, int64_t now_ms,
    size_t *moved, sw_moved_fn fn, void *arg);

/*
 * Gives up to max held messages that have no hold deadline (held before
 * the queue had a hold limit) one at enqueued_ms + t->q->hold_limit_ms, so
 * an upgrade does not leave them held forever. Nothing if the queue has no
 * limit. *added (may be NULL) gets how many.
 */
int sw_queue_hold_backfill(struct sw_txn *t, size_t max, size_t *added);

/* True for the states that end this node's custody for good (retained, then forgotten). */
bool sw_state_is_final(enum sw_state s);

/*
 * An SW_DL_FORGET deadline of id is due at now_ms: deletes what retention
 * lets go -- the record and its parties record_retention_ms after the
 * message ended here (its updated_ms), the de-duplication mark
 * dedup_retention_ms after -- and sets a new deadline for what is kept
 * longer. A message back in custody (a redirect brought it back) is left
 * alone (its next end sets a new deadline); one whose sender still awaits
 * a reply keeps its record until the reply came or its deadline passed.
 * Without a record, only a mark is left: it goes. *forgot (may be NULL)
 * gets whether the record went. Returns 0 or an error.
 */
int sw_queue_forget(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    int64_t now_ms, bool *forgot);

/* Entries in each store (for metrics; O(1) on both backends). */
struct sw_counts {
	uint64_t msgs;		/* records, in any state */
	uint64_t outbox;
	uint64_t mailbox;
	uint64_t held;
	uint64_t dedup;
	uint64_t deadlines;	/* timers pending (delivery, reply and hold deadlines) */
	uint64_t expiry;	/* ended messages whose record or mark awaits deletion */
};
int sw_queue_counts(struct sw_txn *t, struct sw_counts *out);

/*
 * One queue's summary (for metrics, Node.Info, Queues and axlectl), read
 * from the queue's counter in sw.counts: each queue has one, changed in the
 * same transaction as its entries, so no summary walks a queue's messages.
 */
struct sw_queue_stat {
	char name[SW_NAME_MAX + 1];	/* peer region or registrar id */
	uint64_t count;
	uint64_t in_flight;		/* mailbox: fetched, not yet acknowledged */
	int64_t oldest_ms;		/* enqueued_ms of its first message in queue order */
};

/*
 * Summaries of the non-empty queues of store which (SW_QS_OUTBOX,
 * SW_QS_MAILBOX or SW_QS_HELD) whose names sort after `after` ("" or NULL:
 * from the first), in name order: up to max into out. *n gets how many
 * queues there are from there on in all (so *n > max: more to read). One
 * counter per queue and one lookup for its oldest message: the cost grows
 * with the number of queues, never with the number of messages.
 */
int sw_queue_stats(struct sw_txn *t, enum sw_qstore which, const char *after,
    struct sw_queue_stat *out, size_t max, size_t *n);

/* The summary of one queue (count 0 and oldest_ms 0 if it is empty). */
int sw_queue_stat_one(struct sw_txn *t, enum sw_qstore which,
    const char *name, struct sw_queue_stat *out);

/*
 * The counters' layout: sw_queue_counters_open (at start, in a write
 * transaction) builds sw.counts from the queues when the store has none
 * for this layout (a data directory from before counters: one walk, in
 * the start-up transaction), and gives every ended message recorded before
 * retention existed its SW_DL_FORGET deadline (counted from when it ended,
 * if t->q has a retention); *built (may be NULL) says whether it did.
 */
#define SW_COUNTS_LAYOUT	1
int sw_queue_counters_open(struct sw_txn *t, bool *built);

/*
 * Compares every counter with a walk of its queue (for tests and checks:
 * walks everything). *ok false if one differs or is missing or stray.
 */
int sw_queue_counters_verify(struct sw_txn *t, bool *ok);

/* --- deadlines, parties and awaited replies (sw_deadline.c) ----------------
 * A time index of the switch's deadlines, so a timer finds what is due
 * without walking the messages; who sent a message to whom, so Status can
 * tell a member only about its own traffic after custody ended; and the
 * replies senders expect, by context.
 */
enum sw_deadline_kind {
	SW_DL_DELIVER = 1,	/* deliver_by_ms: still undelivered here -> failure policy */
	SW_DL_REPLY = 2,	/* reply_by_ms: no reply in context -> REPLY_OVERDUE */
	SW_DL_HOLD = 3,		/* hold limit: still held (same hold) -> failure policy */
	SW_DL_FORGET = 4,	/* retention: an ended message's record / mark -> deleted */
};

struct sw_deadline {
	int64_t at_ms;
	enum sw_deadline_kind kind;
	uint8_t id[SW_QID_LEN];
};

/* Adds (or re-adds: idempotent) a deadline. at_ms >= 0. */
int sw_deadline_add(struct sw_txn *t, const struct sw_deadline *d);
/* Removes a deadline; SW_Q_NOTFOUND if there was none. */
int sw_deadline_del(struct sw_txn *t, const struct sw_deadline *d);
/*
 * Up to max deadlines with at_ms <= now_ms, earliest first (read-only).
 * *n gets how many. A due deadline stays until sw_deadline_del.
 */
int sw_deadline_due(struct sw_txn *t, int64_t now_ms, struct sw_deadline *out,
    size_t max, size_t *n);
/*
 * sw_deadline_due for the retention index: SW_DL_FORGET deadlines live in
 * sw.expiry, apart from the delivery, reply and hold deadlines (which
 * axle_switch_deadlines counts); add and del take either kind.
 */
int sw_retention_due(struct sw_txn *t, int64_t now_ms, struct sw_deadline *out,
    size_t max, size_t *n);
/* The earliest deadline's time in *at_ms, or SW_Q_NOTFOUND if none. */
int sw_deadline_next(struct sw_txn *t, int64_t *at_ms);

/* Who a message is from and to (address parts, folded), and its context. */
struct sw_parties {
	char sender[SW_WHERE_MAX + 1];
	char to[SW_WHERE_MAX + 1];
	char context[SW_CTX_MAX + 1];
};
/* Records the parties of id (overwrites). sender, to: 0..SW_WHERE_MAX bytes. */
int sw_parties_put(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    const struct sw_parties *p);
/* Reads them: 0, SW_Q_NOTFOUND, SW_Q_CORRUPT or a backend error. */
int sw_parties_get(struct sw_txn *t, const uint8_t id[SW_QID_LEN],
    struct sw_parties *out);
/* Deletes them: 0 (also if there were none) or a backend error. */
int sw_parties_del(struct sw_txn *t, const uint8_t id[SW_QID_LEN]);

/*
 * A reply is awaited for message id in context (0..SW_CTX_MAX bytes; ""
 * is a context like any other): hdr[0..len) is what the switch needs when it is overdue (a packed
 * envelope without payload). Overwrites.
 */
int sw_reply_expect(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN], const uint8_t *hdr, size_t len);
/*
 * Calls fn for each reply awaited in context, in id order, with the id and
 * the stored header (valid during the call only; fn must not write). fn
 * returns true to stop. Returns 0 or an error.
 */
typedef bool (*sw_reply_fn)(const uint8_t id[SW_QID_LEN], const uint8_t *hdr,
    size_t len, void *arg);
int sw_reply_walk(struct sw_txn *t, const char *context, sw_reply_fn fn,
    void *arg);
/* The awaited reply's header, copied (free *hdr); SW_Q_NOTFOUND if none. */
int sw_reply_get(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN], uint8_t **hdr, size_t *len);
/* The reply came (or is no longer awaited): SW_Q_NOTFOUND if it was not. */
int sw_reply_done(struct sw_txn *t, const char *context,
    const uint8_t id[SW_QID_LEN]);

#endif
