/* sw_core.h -- the switch's own shared state and its work inside write transactions; for the switch's files only (gw_switch.h is the public contract). */
#ifndef AXLE_GW_SW_CORE_H
#define AXLE_GW_SW_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "axle/v1/envelope.pb-c.h"
#include "gateway/switch/sw_envelope.h"
#include "gateway/switch/sw_queue.h"
#include "gateway/switch/sw_route.h"
#include "recourse/case.h"
#include "registry/registrar.h"

struct gw_node;
struct net_call;
struct event;

#define SW_RECEIPT_TYPE		"axle.receipt"	/* system envelopes: never get receipts */
#define SW_RECEIPT_CT		"application/x-protobuf; messageType=axle.v1.Receipt"
#define SW_VISIBILITY_MAX_MS	(3600 * 1000)	/* Fetch; the default: [switch] default_visibility_ms */
#define SW_FETCH_MAX_DEFAULT	100	/* Fetch: default max_messages */
#define SW_FETCH_MAX		1000
#define SW_FETCH_WAIT_MAX_MS	(5 * 60 * 1000)
#define SW_RETRY_BASE_MS	100	/* peer retry backoff: base and cap */
#define SW_RETRY_CAP_MS		5000
#define SW_FORWARD_BATCH	64	/* envelopes per Axle.Forward */
#define SW_FORWARD_BYTES	(2u << 20)	/* and bytes */
#define SW_FORWARD_TIMEOUT_MS	15000
#define SW_TICK_MS		200	/* deadline and fetch-waiter timer */
#define SW_TOUCH_MAX		8

/* What metrics count (axle_switch_messages_total{event}). */
enum sw_event {
	SW_EV_ACCEPTED, SW_EV_DELIVERED, SW_EV_FETCHED, SW_EV_ACKED,
	SW_EV_HELD, SW_EV_RELEASED, SW_EV_RETURNED, SW_EV_DISCARDED,
	SW_EV_ESCALATED, SW_EV_DUPLICATE, SW_EV_FORWARDED, SW_EV_REJECTED,
	SW_EV_REPLY_OVERDUE, SW_EV_RECEIPTS, SW_EV_HOLD_EXPIRED,
	SW_EV_CONFLICT,		/* a used message id with a different envelope: refused */
	SW_EV_FORGOTTEN,	/* an ended message's record deleted after its retention */
	SW_EV__COUNT
};
const char *sw_event_name(enum sw_event e);

/*
 * Why a node refused a message under the trust policy
 * (axle_switch_refused_total{reason}; sw_refuse.c). Bounded: one label
 * value each.
 */
enum sw_refusal {
	SW_REFUSE_PURPOSE_MISSING,	/* no purpose where the recipient needs one */
	SW_REFUSE_PURPOSE_REFUSED,	/* a purpose the recipient does not accept */
	SW_REFUSE_UNSEALED,		/* an unsealed payload its registrar's policy requires sealed */
	SW_REFUSE__COUNT
};
/* "purpose_missing", "purpose_refused", "unsealed". */
const char *sw_refusal_name(enum sw_refusal r);

/*
 * What one write did, for the loop thread once it committed: counters to
 * add, and which outboxes and mailboxes got messages (to wake their pumps
 * and waiting fetches).
 */
struct sw_tally {
	uint64_t ev[SW_EV__COUNT];
	uint64_t refused[SW_REFUSE__COUNT];
	char peers[SW_TOUCH_MAX][ADDR_MAX_LEN + 1];
	size_t npeers;
	bool all_peers;
	char boxes[SW_TOUCH_MAX][SW_NAME_MAX + 1];
	size_t nboxes;
	bool all_boxes;
	bool deadline;		/* a deadline was added */
};

struct gw_pump;
struct sw_pump_info;
struct gw_waiter;
struct sw_switch;
struct registry_db;

/*
 * What the switch's rules need of the node that runs them: no socket, no
 * event loop, not the node itself (node/gw_switch.c fills it at start).
 * node is handed back to the hooks and is opaque here.
 */
struct sw_ctx {
	const char *region;		/* this node's region */
	const struct registry_db *db;	/* the register, read in the write's txn */
	struct sw_switch *sw;		/* the queues and the counters */
	/*
	 * The next node toward region (a node's region, as the address walk
	 * meets it): region itself when an axle reaches it (a configured peer,
	 * or a node published in the register), else a node on the tree path
	 * (docs/design.md "Peering from the register"). region NULL: where an
	 * address no known region covers goes (the parent; the root has
	 * none). Returns true with hop set (ADDR_MAX_LEN + 1), false if region
	 * is not a known node's (or NULL and there is no parent). Writer
	 * thread: the hook locks what it reads.
	 */
	bool (*next_hop)(struct gw_node *node, const char *region, char *hop);
	/*
	 * Opens a recourse case for env inside txn (its id into id_out,
	 * RECOURSE_ID_MAX). Returns a RECOURSE_* code, with err.
	 */
	int (*open_case)(struct gw_node *node, MDB_txn *txn,
	    const Axle__V1__Envelope *env, int reason, const char *detail,
	    int64_t now_ms, char *id_out, char *err, size_t errlen);
	/*
	 * Signs the hop this node appends (docs/protocol.md "Signed trace
	 * hops"): over digest (the envelope's canonical digest) and prev (the
	 * hop before, NULL for the first), with the node's key; writes the
	 * signature into sig and the key's identity into kid and points
	 * hop->signature and hop->key_identity at them. Returns 0, or -1 (no
	 * key: the hop goes unsigned). NULL: hops are not signed. Writer
	 * thread: the hook locks what it reads.
	 */
	int (*sign_hop)(struct gw_node *node, const uint8_t *digest,
	    const Axle__V1__TraceHop *prev, Axle__V1__TraceHop *hop,
	    uint8_t *sig, uint8_t *kid);
	struct gw_node *node;
};

/* node->sw */
struct sw_switch {
	struct sw_ctx ctx;		/* what the rules see of the node */
	struct sw_queue *q;		/* LMDB queues in the node's environment */
	struct sw_limits lim;
	_Atomic uint64_t ev[SW_EV__COUNT];
	_Atomic uint64_t refused[SW_REFUSE__COUNT];	/* sw_refused_note */
	struct event *tick;
	struct event *kick;		/* coalesces kicks into one pass */
	bool kick_all;
	struct sw_tally pending;	/* touched since the last kick pass */
	bool deadline_busy;		/* a deadline write is in flight */
	unsigned sweeps;		/* held-queue releases in flight */
	bool mailboxes_swept;		/* held_sweep looked at the mailboxes once */
	char held_cursor[SW_NAME_MAX + 1];	/* held_sweep's place: the last queue looked at */
	char box_cursor[SW_NAME_MAX + 1];
	bool stopping;
	struct gw_pump *pumps;		/* one per node an axle reaches (node/outbox.c) */
	size_t npumps, cappumps;	/* never moved: timers point in */
	struct gw_waiter *waiters;	/* parked Fetch calls (svc_switch.c) */
	struct gw_shown *shown;		/* registrars given a metric series (node/gw_switch.c) */
	/* Wake the pump of peer, the fetches parked on box (NULL: all), read
	 * the pumps' state (node/outbox.c); mod_switch.c sets them. */
	void (*wake_peer)(struct gw_node *node, const char *peer);
	void (*wake_box)(struct gw_node *node, const char *box);
	size_t (*pumps_info)(struct gw_node *node, struct sw_pump_info *out,
	    size_t max);
};

/* --- one write's context (writer thread) ----------------------------------- */

#define SW_PEER_ADDR_MAX	300	/* a peer's "host:port" as shown (cut if longer) */

/* An outbox pump's state (node/outbox.c) for metrics and axlectl: attempt count, next try, last error. */
struct sw_pump_info {
	const char *region;
	unsigned attempt;
	int64_t next_ms;
	bool busy;
	const char *last_error;
	uint64_t sent, failed;
	const char *expected;		/* the identity its address must prove */
	const char *mismatch;		/* "" or the other identity it proved */
	char address[SW_PEER_ADDR_MAX + 1];	/* host:port */
};


/* A group copy made at this node (for the Send answer). */
struct sw_copy {
	uint8_t id[SW_ID_LEN];
	char to[ADDR_MAX_LEN + 1];
	char registrar_id[ADDR_MAX_LEN + 1];
	char service[REGISTRY_NAME_MAX + 1];
};
struct sw_copies {
	struct sw_copy *v;		/* malloc'd; free with sw_copies_free */
	size_t n;
};
void sw_copies_free(struct sw_copies *c);

/*
 * A peer whose address answered with another node's identity, as the loop
 * thread saw it when it handed deadlines to the writer (sw_deadlines_run).
 */
struct sw_peer_trouble {
	char region[ADDR_MAX_LEN + 1];
	char address[SW_PEER_ADDR_MAX + 1];
	char expected[NET_URI_MAX + 1];
	char answered[NET_URI_MAX + 1];
};

struct sw_wctx {
	const struct sw_ctx *x;
	struct gw_node *node;		/* x->node: for the node's own jobs */
	MDB_txn *txn;
	struct sw_txn t;
	int64_t now;
	struct sw_tally *tally;		/* may be NULL: counted at once, atomically */
	int depth;			/* receipts and group copies nest */
	struct sw_copies *copies;	/* not NULL: the top envelope's group copies go here */
	const uint8_t *digest;		/* sw_place_digest: the top envelope's, for its mark */
	bool digest_kept;		/* the top envelope's accept wrote it */
	/*
	 * Send: a top envelope the trust policy refuses is not written at
	 * all (out->refused; the caller answers with a status) rather than
	 * accepted and ended with a REFUSED receipt.
	 */
	bool refuse_by_status;
	/*
	 * Not NULL: the top envelope is refused (the caller's check of the
	 * register, mirrors included: gw_switch_purpose_refused) with this
	 * reason and refuse_r, once de-duplication has had its say.
	 */
	const char *refuse;
	enum sw_refusal refuse_r;
	char err[320];			/* why a step failed */
};

void sw_wctx_init(struct sw_wctx *c, const struct sw_ctx *x, MDB_txn *txn,
    int64_t now_ms, struct sw_tally *tally);

/* Where a placed message went, for the caller's answer. */
struct sw_placed {
	enum sw_state state;
	char where[SW_WHERE_MAX + 1];
	char case_id[RECOURSE_ID_MAX];
	bool duplicate;
	bool conflict;			/* the id was used by a different envelope: nothing written */
	size_t copies;			/* a group: copies made */
	bool refused;			/* refused (refuse_by_status): nothing written */
	enum sw_refusal refusal;	/* why, when refused */
	char detail[320];		/* for a person */
};

/* How a failure-policy outcome is recorded. */
enum sw_settle { SW_SETTLE_NEW, SW_SETTLE_MOVE, SW_SETTLE_REJECT };

/*
 * Places an envelope that arrives at this node (Send, Forward, a receipt,
 * a group copy): de-duplicates, routes (from the register in this very
 * transaction: the index is the loop thread's), appends this node's hop,
 * and accepts it into a mailbox, an outbox, held, or recourse per its
 * failure policy, with the receipts that go with it. existing: the id is
 * already recorded here (a recourse redirect): move it instead of
 * accepting. Returns 0 (out filled; out->duplicate if seen before) or a
 * store / queue error (abort the write) with c->err.
 */
int sw_place(struct sw_wctx *c, const Axle__V1__Envelope *env, bool existing,
    struct sw_placed *out);

/*
 * sw_place for a new envelope a caller handed in (Send, Forward) with its
 * digest (sw_envelope_digest), kept with the id's dedup mark. An id seen
 * before with the same digest, or with none kept (marks older than
 * digests), is a duplicate as in sw_place; with another digest it is a
 * conflict: out->conflict, a reason in out->detail, nothing written.
 */
int sw_place_digest(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const uint8_t digest[SW_DIGEST_LEN], struct sw_placed *out);

/* Only the route env would take from here (nothing written). 0 or an error. */
int sw_route_only(struct sw_wctx *c, const Axle__V1__Envelope *env,
    struct sw_route *rt);

/*
 * Applies env's failure policy for a stored or new message: escalate (a
 * case here), return (a RETURNED receipt) or discard (audited). how says
 * whether the id is new here, moved from where it is, or rejected from
 * mailbox (in flight there). Returns 0 or an error.
 */
int sw_policy(struct sw_wctx *c, const Axle__V1__Envelope *env, int reason,
    const char *detail, enum sw_settle how, const char *mailbox,
    struct sw_placed *out);

/*
 * Ends this node's custody of env by a decision (failure policy, or an
 * admin in case case_id; NULL: none): ret, returned -- the sender gets a
 * RETURNED receipt and its envelope back (sw_return_envelope) -- else
 * discarded, with a DISCARDED receipt. reason is for a person; the
 * receipts' detail says who decided it and where. how/mailbox as for
 * sw_policy. System envelopes end silently. Returns 0 or an error.
 */
int sw_end(struct sw_wctx *c, const Axle__V1__Envelope *env, bool ret,
    const char *reason, const char *case_id, enum sw_settle how,
    const char *mailbox, struct sw_placed *out);

/*
 * Gives env back to its sender: a returned message (message_type
 * SW_RETURNED_TYPE, the original's payload, content type and context, a
 * ReturnInfo saying why, from this node) placed toward the sender's
 * mailbox. Its id is derived from env's, so a return made twice arrives
 * once. Nothing for a system envelope. Returns 0 or an error.
 */
int sw_return_envelope(struct sw_wctx *c, const Axle__V1__Envelope *env,
    const char *reason, const char *case_id);

/*
 * A message left the outbox or held queue for good (forwarded, delivered,
 * settled): its delivery deadline at_ms (0: none) leaves the time index, so
 * the index holds only what waits. 0 or an error.
 */
int sw_deliver_deadline_end(struct sw_wctx *c, const uint8_t id[SW_ID_LEN],
    int64_t at_ms);

/* Sends the sender of env a receipt (a system envelope). 0 or an error. */
int sw_receipt(struct sw_wctx *c, const Axle__V1__Envelope *env,
    Axle__V1__ReceiptKind kind, const char *detail, const char *case_id);

/*
 * A stored envelope as it arrived here: this node's own hop (appended when
 * it was queued) left out, so that a case or a redirect does not see a
 * loop. The view needs no release.
 */
const Axle__V1__Envelope *sw_as_arrived(struct sw_wctx *c,
    const Axle__V1__Envelope *stored, struct sw_env_view *v);

/* Unpacks a stored envelope; NULL on a corrupt record (err set). */
Axle__V1__Envelope *sw_env_unpack(const uint8_t *b, size_t len, char *err,
    size_t errlen);

/*
 * Appends this node's hop (x->region, now_ms, redirect_case or NULL) to the
 * view and signs it with x->sign_hop over the view's envelope (as it will
 * be packed: a group copy's own id and recipient). Returns 0, or -ENOMEM
 * (or -EINVAL: the view has a hop already). A hop the hook cannot sign goes
 * unsigned (docs/protocol.md "Signed trace hops").
 */
int sw_hop_append(const struct sw_ctx *x, struct sw_env_view *v, int64_t now_ms,
    const char *redirect_case);

bool sw_is_receipt(const Axle__V1__Envelope *env);
/* A receipt or a returned message: made by nodes, never gets receipts itself. */
bool sw_is_system(const Axle__V1__Envelope *env);
void sw_count(struct sw_wctx *c, enum sw_event e);
void sw_touch_peer(struct sw_tally *t, const char *peer);
void sw_touch_box(struct sw_tally *t, const char *box);

/*
 * The deadlines due now: applies the failure policy (delivery deadline,
 * hold limit) or REPLY_OVERDUE. Each deadline is dropped as it is handled.
 * A message whose delivery deadline passes in the outbox of a peer listed
 * in pt[0..npt) gets a PEER_IDENTITY_MISMATCH case (or its policy) that
 * says so.
 */
int sw_deadlines_run(struct sw_wctx *c, const struct sw_deadline *d, size_t n,
    const struct sw_peer_trouble *pt, size_t npt);

/*
 * A registrar's standing as txn sees it: *st (UNSPECIFIED if it is not in
 * the register) and, if successor is not NULL, the id it was re-homed to
 * ("" if none). Returns 0 or the store's error.
 */
int sw_registrar_get(const struct sw_ctx *x, MDB_txn *txn, const char *id,
    Axle__V1__RegistrarStatus *st, char *successor, size_t len);

/*
 * The region registrar id moved to (registry: moved_to) into region ("" if
 * none, or not in the register). Returns 0 or the store's error.
 */
int sw_registrar_moved_to(const struct sw_ctx *x, MDB_txn *txn, const char *id,
    char *region, size_t len);

/* Whether a successor takes a re-homed registrar's traffic: active, or suspended (held there). */
bool sw_takes_traffic(Axle__V1__RegistrarStatus st);

/*
 * The next node toward region, a split-off child region, into hop
 * (ADDR_MAX_LEN + 1): next_hop's answer, or region itself while no node is
 * known for it yet (its node record is applied after the commit that
 * published it; the pump starts then).
 */
void sw_moved_hop(struct sw_wctx *c, const char *region, char *hop);

/*
 * Registrar id moved to the split-off region (docs/operator.md "Splitting
 * a region"): its mailbox (in flight or not: a fetch not acknowledged here
 * ends, the hub fetches it again at the child) and its held messages go to
 * the outbox toward that region's node, in acceptance order, in c's
 * transaction, without receipts (the child's DELIVERED follows). No bound,
 * as for re-homing: nothing is left behind the move. *moved: how many.
 */
int sw_registrar_moved_txn(struct sw_wctx *c, const char *id, const char *region,
    size_t *moved);

/*
 * A registrar's standing changed (inside the registry's or our own write);
 * a registrar moved to a split-off region has its traffic passed there
 * instead (sw_registrar_moved_txn), whatever its standing.
 */
int sw_registrar_txn(struct sw_wctx *c, const char *id,
    Axle__V1__RegistrarStatus status, const char *successor, size_t *moved);

/*
 * Resolves address from the register in txn: local delegations with their
 * standing, then this node's and the configured peers' regions. Strings
 * point into *buf (lives as long as it).
 */
struct sw_resbuf {
	char prefix[ADDR_MAX_LEN + 1];
	char hop[ADDR_MAX_LEN + 1];
	char id[ADDR_MAX_LEN + 1];
	char region[ADDR_MAX_LEN + 1];
};
int sw_resolve_txn(struct sw_wctx *c, const char *address,
    struct registry_resolution *res, struct sw_resbuf *buf);

/*
 * Records a final (non-queue) state for env's id: accepted new, moved
 * from where it is, or rejected from mailbox. 0 or an error.
 */
int sw_settle(struct sw_wctx *c, const Axle__V1__Envelope *env,
    enum sw_settle how, const char *mailbox, enum sw_state state,
    const char *where);

/* --- refusals under the trust policy (sw_refuse.c, sw_refuse in sw_core.c) -- */

/*
 * Counts a refusal (axle_switch_refused_total{reason}: in t when not
 * NULL, a write's tally, else at once) and logs it
 * (switch_refused: id, sender, recipient, purpose, reason, stage, detail;
 * never the payload). stage: "send" (refused at Send), "forward" (at
 * Forward, from the register or a mirror), "group" (a group copy) or
 * "place" (on delivery here: an admin's redirect). Any thread.
 */
void sw_refused_note(struct sw_switch *sw, struct sw_tally *t,
    const Axle__V1__Envelope *env, enum sw_refusal r, const char *stage,
    const char *detail);

/*
 * Refuses env here, before it goes further: with c->refuse_by_status and
 * env the top envelope, nothing is written (out->refused, out->detail: the
 * caller answers with a status); else its record ends DISCARDED ("refused:
 * detail") -- not delivered, not escalated, its payload not kept -- and
 * its sender gets a REFUSED receipt naming why. how as for sw_policy.
 * Counted and logged (sw_refused_note). 0 or an error.
 */
int sw_refuse(struct sw_wctx *c, const Axle__V1__Envelope *env,
    enum sw_refusal r, const char *detail, enum sw_settle how,
    struct sw_placed *out);

/* The refusal for a purpose verdict that is not OK. */
enum sw_refusal sw_refusal_of(int verdict);

/*
 * sw_groups.c: the services of a group envelope, from the register in txn,
 * that take its purpose (registry_purpose_accepts). *nrefused (may be
 * NULL) counts those of the group that do not; with none taking it, the
 * reason of the first in why (and its refusal in *r).
 */
int sw_group_copies(struct sw_wctx *c, const Axle__V1__Envelope *env,
    struct sw_group_copy **out, size_t *n, void **arena, size_t *nrefused,
    enum sw_refusal *r, char *why, size_t whylen);
void sw_group_free(struct sw_group_copy *copies, void *arena);

#endif
