/* test_recourse.c -- recourse operations over RAM and LMDB alike: open, act, list, escalate up a three-level tree, faults, ENOMEM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto/pb.h"
#include "recourse/mem.h"
#include "recourse/recourse.h"
#include "backends.h"

#define ADMIN	"axle://fame-uk/admin/uk.london.south/jsmith"
#define OTHER	"axle://fame-uk/admin/uk.london.south/akhan"
#define CHILD	"axle://fame-uk/node/uk.london.south"
#define MID	"axle://fame-uk/node/uk.london"
#define T0	1714557600000LL
#define DL	1000		/* deadline period for tests */

/* A three-level tree: uk.london.south -> uk.london -> uk, one store each. */
struct tree {
	enum tb_kind kind;
	struct tb b[3];
	struct recourse *r[3];
	Axle__V1__Envelope env;
};

static const char *const regions[3] = { "uk.london.south", "uk.london", "uk" };
static const char *const parents[3] = { "uk.london", "uk", NULL };
static const char *const idents[3] = { CHILD, MID, "axle://fame-uk/node/uk" };

static int
setup(void **state, enum tb_kind kind)
{
	struct tree *t = calloc(1, sizeof(*t));

	t->kind = kind;
	for (int i = 0; i < 3; i++) {
		struct recourse_config cfg = { .region = regions[i],
		    .parent = parents[i], .identity = idents[i],
		    .page_size_max = 5, .page_size_default = 3 };
		cfg.deadlines.default_ms = DL;
		cfg.deadlines.per_reason_ms[AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT] = 5 * DL;
		cfg.backoff.base_ms = 100;
		cfg.backoff.cap_ms = 1000;
		tb_open(&t->b[i], kind);
		assert_int_equal(recourse_new(&cfg, t->b[i].be, &t->r[i], NULL),
		    RECOURSE_OK);
	}
	t->env = (Axle__V1__Envelope)AXLE__V1__ENVELOPE__INIT;
	t->env.sender = "uk.york.social";
	t->env.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	t->env.to = "uk.london.nowhere";
	t->env.payload.data = (uint8_t *)"opaque";
	t->env.payload.len = 6;
	*state = t;
	return 0;
}

static int setup_ram(void **state) { return setup(state, TB_RAM); }
static int setup_lmdb(void **state) { return setup(state, TB_LMDB); }

static int
teardown(void **state)
{
	struct tree *t = *state;

	recourse_mem_fail_after(0);
	for (int i = 0; i < 3; i++) {
		recourse_destroy(t->r[i]);
		tb_close(&t->b[i]);
	}
	free(t);
	return 0;
}

/* --- helpers ----------------------------------------------------------------- */

static void
open_case(struct tree *t, int lvl, int reason, int64_t now, char *id)
{
	struct recourse_err e;

	if (recourse_case_open(t->r[lvl], NULL, &t->env, reason, "no registrar "
	    "for uk.london.nowhere", now, id, &e) != RECOURSE_OK)
		fail_msg("open: %s", e.msg);
}

static Axle__V1__Case *
get(struct tree *t, int lvl, const char *id)
{
	Axle__V1__Case *c = NULL;
	struct recourse_err e;

	if (recourse_case_get(t->r[lvl], NULL, id, &c, &e) != RECOURSE_OK)
		fail_msg("get %s: %s", id, e.msg);
	return c;
}

static int
act(struct tree *t, int lvl, const char *id, enum recourse_action a,
    const char *actor, const char *reason, const char *to,
    struct recourse_err *e)
{
	struct recourse_act_args args = { .actor = actor, .reason = reason,
	    .to = to };

	return recourse_case_act(t->r[lvl], NULL, id, a, &args, T0 + 10, NULL, e);
}

static struct recourse_audit_report
audit_of(struct tree *t, int lvl)
{
	struct recourse_audit_report rep;

	assert_int_equal(recourse_audit_check(t->r[lvl], NULL, &rep, NULL),
	    RECOURSE_OK);
	assert_true(rep.ok);
	return rep;
}

/* Everything observable about one case, to prove nothing changed. */
struct snap {
	uint64_t version, audit;
	int state;
	size_t hist;
};

static struct snap
snap_of(struct tree *t, int lvl, const char *id)
{
	Axle__V1__Case *c = get(t, lvl, id);
	struct snap s = { c->version, audit_of(t, lvl).entries, (int)c->state,
	    c->n_history };

	recourse_case_free(c);
	return s;
}

static void
snap_same(struct snap a, struct snap b)
{
	assert_int_equal(a.version, b.version);
	assert_int_equal(a.audit, b.audit);
	assert_int_equal(a.state, b.state);
	assert_int_equal(a.hist, b.hist);
}

/* --- tests -------------------------------------------------------------------- */

static void
test_open_and_get(void **state)
{
	struct tree *t = *state;
	struct recourse_err e;
	char id[RECOURSE_ID_MAX], id2[RECOURSE_ID_MAX];
	Axle__V1__Case *c;

	open_case(t, 0, 1, T0, id);
	open_case(t, 0, 6, T0, id2);
	assert_string_equal(id, "uk.london.south/1");
	assert_string_equal(id2, "uk.london.south/2");
	c = get(t, 0, "1");	/* bare number: this node's */
	assert_string_equal(c->id, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_int_equal(c->deadline_ms, T0 + DL);
	assert_string_equal(c->origin_node, "uk.london.south");
	assert_int_equal(c->envelope->payload.len, 6);
	assert_int_equal(c->n_history, 1);
	assert_string_equal(c->history[0]->actor, CHILD);
	recourse_case_free(c);
	c = get(t, 0, id2);
	assert_int_equal(c->deadline_ms, T0 + 5 * DL);	/* per-reason policy */
	recourse_case_free(c);
	assert_int_equal(recourse_case_get(t->r[0], NULL, "uk.london.south/3",
	    &c, &e), RECOURSE_ENOTFOUND);
	assert_non_null(strstr(e.msg, "no case uk.london.south/3"));
	assert_int_equal(recourse_case_get(t->r[0], NULL, "nonsense/x", &c, &e),
	    RECOURSE_EINVAL);
	assert_int_equal(recourse_case_open(t->r[0], NULL, &t->env, 0, "", T0,
	    id, &e), RECOURSE_EINVAL);
	assert_int_equal(audit_of(t, 0).entries, 2);

	/* From envelope bytes too; garbage bytes are refused. */
	size_t len;
	uint8_t *b = pb_pack(&t->env.base, 0, &len);
	assert_int_equal(recourse_case_open_bytes(t->r[0], NULL, b, len, 8,
	    "rejected", T0, id, &e), RECOURSE_OK);
	assert_string_equal(id, "uk.london.south/3");
	free(b);
	assert_int_equal(recourse_case_open_bytes(t->r[0], NULL,
	    (const uint8_t *)"\xff\xff", 2, 8, "x", T0, id, &e), RECOURSE_EINVAL);
}

static void
test_act_flow(void **state)
{
	struct tree *t = *state;
	struct recourse_err e;
	char id[RECOURSE_ID_MAX];
	Axle__V1__Case *c;
	struct snap s;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, &e),
	    RECOURSE_OK);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ANNOTATE, OTHER, "called "
	    "the sender", NULL, &e), RECOURSE_OK);
	/* Refused actions write nothing. */
	s = snap_of(t, 0, id);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_DISCARD, OTHER, "dup", NULL,
	    &e), RECOURSE_EPRECOND);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_CLAIM, OTHER, NULL, NULL, &e),
	    RECOURSE_EPRECOND);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_DISCARD, ADMIN, "", NULL, &e),
	    RECOURSE_EINVAL);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_RELEASE, OTHER, NULL, NULL,
	    &e), RECOURSE_EINVAL);
	snap_same(s, snap_of(t, 0, id));
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_RELEASE, OTHER, "jsmith is "
	    "away", NULL, &e), RECOURSE_OK);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_REDIRECT, OTHER, "typo",
	    "uk.london.lewisham", &e), RECOURSE_OK);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, &e),
	    RECOURSE_EPRECOND);
	assert_non_null(strstr(e.msg, "is RESOLVED (redirected by " OTHER));
	assert_non_null(strstr(e.msg, "resolved cases cannot be claimed"));
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ANNOTATE, ADMIN, "done",
	    NULL, &e), RECOURSE_OK);
	c = get(t, 0, id);
	assert_int_equal(c->state, RECOURSE_ST_RESOLVED);
	assert_int_equal(c->outcome,
	    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_REDIRECTED);
	assert_int_equal(c->n_history, 6);
	assert_string_equal(c->history[4]->redirect_to, "uk.london.lewisham");
	assert_int_equal(c->version, 6);
	recourse_case_free(c);
	assert_int_equal(audit_of(t, 0).entries, 6);
	/* Only admin actions through case_act. */
	struct recourse_act_args a = { .actor = ADMIN };
	assert_int_equal(recourse_case_act(t->r[0], NULL, id,
	    RECOURSE_ACT_ESCALATED, &a, T0, NULL, &e), RECOURSE_EINVAL);
	assert_int_equal(act(t, 0, "uk.london.south/99", RECOURSE_ACT_CLAIM,
	    ADMIN, NULL, NULL, &e), RECOURSE_ENOTFOUND);
}

static void
test_act_returns_case(void **state)
{
	struct tree *t = *state;
	struct recourse_act_args a = { .actor = ADMIN, .expected_version = 1 };
	char id[RECOURSE_ID_MAX];
	Axle__V1__Case *c;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(recourse_case_act(t->r[0], NULL, id, RECOURSE_ACT_CLAIM,
	    &a, T0 + 5, &c, NULL), RECOURSE_OK);
	assert_int_equal(c->state, RECOURSE_ST_CLAIMED);
	assert_string_equal(c->assignee, ADMIN);
	recourse_case_free(c);
	/* Version 1 is stale now. */
	a.reason = "x";
	assert_int_equal(recourse_case_act(t->r[0], NULL, id,
	    RECOURSE_ACT_ANNOTATE, &a, T0 + 5, &c, NULL), RECOURSE_EPRECOND);
	assert_null(c);
}

static void
test_list_filters_and_paging(void **state)
{
	struct tree *t = *state;
	struct recourse_page p;
	struct recourse_filter f = { 0 };
	struct recourse_err e;
	char id[RECOURSE_ID_MAX], seen[20][RECOURSE_ID_MAX];
	size_t nseen = 0;

	for (int i = 0; i < 12; i++)
		open_case(t, 0, i % 3 ? 1 : 6, T0 + i * 100, id);
	act(t, 0, "1", RECOURSE_ACT_DISCARD, ADMIN, "spam", NULL, &e);
	act(t, 0, "2", RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, &e);
	/* Default: live cases, pages of 3, ids in order, no repeats. */
	const char *token = "";
	char next[RECOURSE_ID_MAX] = "";
	do {
		assert_int_equal(recourse_case_list(t->r[0], NULL, NULL, T0,
		    token, 0, &p, &e), RECOURSE_OK);
		assert_true(p.n <= 3);
		for (size_t i = 0; i < p.n; i++) {
			for (size_t j = 0; j < nseen; j++)
				assert_string_not_equal(seen[j], p.cases[i]->id);
			strcpy(seen[nseen++], p.cases[i]->id);
		}
		strcpy(next, p.next_token);
		token = next;
		recourse_page_free(&p);
	} while (next[0] != '\0');
	assert_int_equal(nseen, 11);
	assert_string_equal(seen[0], "uk.london.south/2");
	assert_string_equal(seen[10], "uk.london.south/12");
	/* The cap: 100 asked, 5 given. */
	f.include_closed = 1;
	assert_int_equal(recourse_case_list(t->r[0], NULL, &f, T0, NULL, 100,
	    &p, &e), RECOURSE_OK);
	assert_int_equal(p.n, 5);
	assert_string_equal(p.cases[0]->id, "uk.london.south/1");
	assert_string_equal(p.next_token, "uk.london.south/5");
	recourse_page_free(&p);
	/* By state, reason, assignee, age, overdue. */
	struct { struct recourse_filter f; int64_t now; size_t n; } cases[] = {
		{ { .state = RECOURSE_ST_RESOLVED }, T0, 1 },
		{ { .state = RECOURSE_ST_CLAIMED }, T0, 1 },
		{ { .reason = 6 }, T0, 3 },	/* 4, 7, 10 (1 is resolved) */
		{ { .assignee = ADMIN }, T0, 1 },
		{ { .min_age_ms = 1000 }, T0 + 1200, 1 },	/* opened <= T0+200, live: 2 claimed, 3 */
		{ { .overdue_only = 1 }, T0 + 1250, 1 },	/* OPEN with deadline <= now: 3 */
		{ { .overdue_only = 1 }, T0 + 100000, 10 },	/* every OPEN */
	};
	cases[4].n = 2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(recourse_case_list(t->r[0], NULL, &cases[i].f,
		    cases[i].now, NULL, 5, &p, &e), RECOURSE_OK);
		size_t total = p.n;
		char tok[RECOURSE_ID_MAX];
		strcpy(tok, p.next_token);
		recourse_page_free(&p);
		while (tok[0]) {
			assert_int_equal(recourse_case_list(t->r[0], NULL,
			    &cases[i].f, cases[i].now, tok, 5, &p, &e), RECOURSE_OK);
			total += p.n;
			strcpy(tok, p.next_token);
			recourse_page_free(&p);
		}
		if (total != cases[i].n)
			fail_msg("filter %zu: %zu cases, expected %zu", i, total,
			    cases[i].n);
	}
	assert_int_equal(recourse_case_list(t->r[0], NULL, NULL, T0, "bogus",
	    0, &p, &e), RECOURSE_EINVAL);
	recourse_page_free(&p);
}

/* Hands case id from level lvl to lvl + 1 the way the gateway will. */
static void
hand_up(struct tree *t, int lvl, const char *id, int64_t now, int expect_dup)
{
	Axle__V1__Case *c;
	struct recourse_err e;
	char pid[RECOURSE_ID_MAX];
	int dup;

	if (recourse_escalation_begin(t->r[lvl], NULL, id, now, &c, &e))
		fail_msg("begin: %s", e.msg);
	assert_string_equal(c->escalating_to, regions[lvl + 1]);
	assert_string_equal(c->path[c->n_path - 1], regions[lvl]);
	if (recourse_case_accept_escalated(t->r[lvl + 1], NULL, c, idents[lvl],
	    now, pid, &dup, &e))
		fail_msg("accept: %s", e.msg);
	assert_int_equal(dup, expect_dup);
	assert_string_equal(pid, id);
	recourse_case_free(c);
	if (recourse_case_mark_escalated(t->r[lvl], NULL, id, regions[lvl + 1],
	    now, &e))
		fail_msg("mark: %s", e.msg);
}

static size_t
due(struct tree *t, int lvl, int64_t now, char (*ids)[RECOURSE_ID_MAX])
{
	size_t n;

	assert_int_equal(recourse_escalation_due(t->r[lvl], NULL, now, ids, 8,
	    &n, NULL), RECOURSE_OK);
	return n;
}

static void
test_escalation_up_the_tree(void **state)
{
	struct tree *t = *state;
	char id[RECOURSE_ID_MAX], ids[8][RECOURSE_ID_MAX];
	struct recourse_sweep sw;
	struct recourse_err e;
	Axle__V1__Case *c;
	int64_t at;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(due(t, 0, T0 + DL - 1, ids), 0);
	assert_int_equal(recourse_next_wakeup_at(t->r[0], NULL, &at, NULL), 0);
	assert_int_equal(at, T0 + DL);
	assert_int_equal(due(t, 0, T0 + DL, ids), 1);
	assert_string_equal(ids[0], id);
	assert_int_equal(recourse_deadline_sweep(t->r[0], NULL, T0 + DL, &sw,
	    NULL), RECOURSE_OK);
	assert_int_equal(sw.overdue, 1);
	assert_int_equal(sw.noted, 1);
	hand_up(t, 0, id, T0 + DL, 0);
	c = get(t, 0, id);
	assert_int_equal(c->state, RECOURSE_ST_ESCALATED);
	assert_string_equal(c->escalated_to, "uk.london");
	recourse_case_free(c);
	assert_int_equal(due(t, 0, T0 + 10 * DL, ids), 0);
	/* The child's copy is closed: nothing may resolve it there. */
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_DISCARD, ADMIN, "x", NULL,
	    &e), RECOURSE_EPRECOND);
	assert_non_null(strstr(e.msg, "ESCALATED (to uk.london at"));

	/* uk.london holds it with its own deadline; then it moves to the root. */
	c = get(t, 1, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_int_equal(c->deadline_ms, T0 + 2 * DL);
	assert_int_equal(c->n_path, 2);
	recourse_case_free(c);
	assert_int_equal(due(t, 1, T0 + 2 * DL, ids), 1);
	hand_up(t, 1, id, T0 + 2 * DL, 0);

	/* The root never hands it on: it stays open, flagged once, counted. */
	assert_int_equal(due(t, 2, T0 + 100 * DL, ids), 0);
	assert_int_equal(recourse_next_wakeup_at(t->r[2], NULL, &at, NULL), 0);
	assert_int_equal(at, T0 + 3 * DL);
	assert_int_equal(recourse_deadline_sweep(t->r[2], NULL, T0 + 3 * DL, &sw,
	    NULL), RECOURSE_OK);
	assert_int_equal(sw.overdue, 1);
	assert_int_equal(sw.noted, 1);
	assert_int_equal(recourse_deadline_sweep(t->r[2], NULL, T0 + 4 * DL, &sw,
	    NULL), RECOURSE_OK);
	assert_int_equal(sw.overdue, 1);
	assert_int_equal(sw.noted, 0);
	assert_int_equal(recourse_next_wakeup_at(t->r[2], NULL, &at, NULL), 0);
	assert_int_equal(at, 0);
	c = get(t, 2, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_int_equal(c->n_path, 3);
	assert_string_equal(c->path[2], "uk");
	assert_string_equal(c->history[c->n_history - 1]->reason, "deadline "
	    "passed at the root escalation point: the case stays open here "
	    "(alert raised)");
	recourse_case_free(c);
	struct recourse_stats st;
	assert_int_equal(recourse_stats(t->r[2], NULL, T0 + 4 * DL, &st, NULL),
	    RECOURSE_OK);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.overdue, 1);
	/* Escalating at the root is refused with what to do instead. */
	struct recourse_act_args a = { .actor = "axle://fame-uk/admin/uk/root" };
	assert_int_equal(recourse_case_act(t->r[2], NULL, id,
	    RECOURSE_ACT_ESCALATE, &a, T0, NULL, &e), RECOURSE_EROOT);
	assert_non_null(strstr(e.msg, "root escalation point; resolve case"));
	assert_int_equal(recourse_escalation_begin(t->r[2], NULL, id, T0, &c,
	    &e), RECOURSE_EROOT);
	/* The root resolves it: exactly one live copy existed the whole way. */
	a.reason = "sender confirmed a typo";
	a.to = "uk.london.lewisham";
	assert_int_equal(recourse_case_act(t->r[2], NULL, id,
	    RECOURSE_ACT_REDIRECT, &a, T0, NULL, &e), RECOURSE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(recourse_stats(t->r[i], NULL, T0, &st, NULL), 0);
		assert_int_equal(st.open + st.claimed, 0);
		audit_of(t, i);
	}
}

static void
test_escalation_idempotent(void **state)
{
	struct tree *t = *state;
	char id[RECOURSE_ID_MAX], pid[RECOURSE_ID_MAX];
	struct recourse_err e;
	struct recourse_stats st;
	Axle__V1__Case *c, *c2;
	int dup;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(recourse_escalation_begin(t->r[0], NULL, id, T0 + DL,
	    &c, &e), RECOURSE_OK);
	/* The child crashes before marking; it re-sends (begin is stable). */
	uint64_t before = audit_of(t, 0).entries;
	assert_int_equal(recourse_escalation_begin(t->r[0], NULL, id, T0 + DL,
	    &c2, &e), RECOURSE_OK);
	assert_int_equal(audit_of(t, 0).entries, before);
	assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c, CHILD,
	    T0 + DL, pid, &dup, &e), RECOURSE_OK);
	assert_false(dup);
	uint64_t paudit = audit_of(t, 1).entries;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c2,
		    CHILD, T0 + DL + i, pid, &dup, &e), RECOURSE_OK);
		assert_true(dup);
	}
	assert_int_equal(audit_of(t, 1).entries, paudit);
	assert_int_equal(recourse_stats(t->r[1], NULL, T0, &st, NULL), 0);
	assert_int_equal(st.open, 1);
	/* Even after the parent acted on it, a late retry is a duplicate. */
	assert_int_equal(act(t, 1, id, RECOURSE_ACT_CLAIM, MID, NULL, NULL, &e), 0);
	assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c2, CHILD,
	    T0 + 5 * DL, pid, &dup, &e), RECOURSE_OK);
	assert_true(dup);
	c2->path[0][0] = 'x';	/* not the same hand-over: refused, not merged */
	assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c2, CHILD,
	    T0, pid, &dup, &e), RECOURSE_EPRECOND);
	assert_non_null(strstr(e.msg, "already here with a different path"));
	assert_false(dup);
	recourse_case_free(c2);
	/* Repeated acknowledgements mark once. */
	assert_int_equal(recourse_case_mark_escalated(t->r[0], NULL, id,
	    "uk.london", T0 + DL, &e), RECOURSE_OK);
	before = audit_of(t, 0).entries;
	assert_int_equal(recourse_case_mark_escalated(t->r[0], NULL, id,
	    "uk.london", T0 + DL, &e), RECOURSE_OK);
	assert_int_equal(audit_of(t, 0).entries, before);
	/* A case coming back down to a node on its path is a loop, not a dup. */
	assert_int_equal(recourse_case_accept_escalated(t->r[0], NULL, c, MID,
	    T0, pid, &dup, &e), RECOURSE_ELOOP);
	assert_false(dup);
	recourse_case_free(c);
	c = get(t, 1, id);
	assert_int_equal(recourse_case_accept_escalated(t->r[0], NULL, c, MID,
	    T0, pid, &dup, &e), RECOURSE_ELOOP);
	assert_non_null(strstr(e.msg, "uk.london.south is already on this "
	    "case's path"));
	recourse_case_free(c);
}

static void
test_parent_unreachable(void **state)
{
	struct tree *t = *state;
	char id[RECOURSE_ID_MAX], ids[8][RECOURSE_ID_MAX];
	struct recourse_err e;
	Axle__V1__Case *c;
	int64_t now = T0 + DL;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(recourse_escalation_begin(t->r[0], NULL, id, now, &c,
	    &e), RECOURSE_OK);
	recourse_case_free(c);
	/* Never connected: definite. The case is free here again, backing off. */
	assert_int_equal(recourse_escalation_failed(t->r[0], NULL, id, now, 1,
	    "connect: refused", 0, &e), RECOURSE_OK);
	c = get(t, 0, id);
	assert_string_equal(c->escalating_to, "");
	assert_int_equal(c->escalation_attempts, 1);
	assert_int_equal(c->next_attempt_ms, now + 50);	/* base 100, rnd 0: 50 */
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	recourse_case_free(c);
	assert_int_equal(due(t, 0, now + 49, ids), 0);
	assert_int_equal(due(t, 0, now + 50, ids), 1);
	/* Sent, no answer: unknown. Locked here until the parent answers. */
	now += 50;
	assert_int_equal(recourse_escalation_begin(t->r[0], NULL, id, now, &c,
	    &e), RECOURSE_OK);
	recourse_case_free(c);
	for (int i = 0; i < 4; i++)
		assert_int_equal(recourse_escalation_failed(t->r[0], NULL, id,
		    now, 0, "timeout", 0, &e), RECOURSE_OK);
	c = get(t, 0, id);
	assert_string_equal(c->escalating_to, "uk.london");
	assert_int_equal(c->escalation_attempts, 5);
	assert_int_equal(c->next_attempt_ms, now + 500);	/* capped 1000 / 2 */
	size_t retries = 0, handovers = 0;
	for (size_t i = 0; i < c->n_history; i++) {
		retries += c->history[i]->kind ==
		    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_RETRY;
		handovers += c->history[i]->kind ==
		    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_HANDOVER;
	}
	assert_int_equal(retries, 3);	/* attempts 1, 2 and 4 */
	assert_int_equal(handovers, 1);	/* re-sends are not repeated */
	recourse_case_free(c);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_DISCARD, ADMIN, "x", NULL,
	    &e), RECOURSE_EPRECOND);
	assert_non_null(strstr(e.msg, "being handed to uk.london"));
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ANNOTATE, ADMIN, "waiting",
	    NULL, &e), RECOURSE_OK);
	/* The parent is back: the re-send lands once and the child marks it. */
	hand_up(t, 0, id, now + 500, 0);
	audit_of(t, 0);
}

static void
test_admin_escalate(void **state)
{
	struct tree *t = *state;
	char id[RECOURSE_ID_MAX], ids[8][RECOURSE_ID_MAX];
	struct recourse_err e;

	open_case(t, 0, 1, T0, id);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, &e), 0);
	assert_int_equal(due(t, 0, T0 + 100 * DL, ids), 0);	/* claimed: stays */
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ESCALATE, OTHER, "not mine",
	    NULL, &e), RECOURSE_EPRECOND);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ESCALATE, ADMIN, "needs the "
	    "regional team", NULL, &e), RECOURSE_OK);
	assert_int_equal(act(t, 0, id, RECOURSE_ACT_ESCALATE, ADMIN, "again",
	    NULL, &e), RECOURSE_EPRECOND);
	assert_int_equal(due(t, 0, T0 + 10, ids), 1);
	hand_up(t, 0, id, T0 + 20, 0);
	Axle__V1__Case *c = get(t, 1, id);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_string_equal(c->assignee, "");
	assert_int_equal(c->escalation_requested_ms, 0);
	recourse_case_free(c);
}

/* A write that fails at any of its puts leaves no trace. */
static void
test_fault_leaves_nothing(void **state)
{
	struct tree *t = *state;
	struct recourse_err e;
	char id[RECOURSE_ID_MAX];
	struct snap s;
	unsigned n;

	open_case(t, 0, 1, T0, id);
	s = snap_of(t, 0, id);
	for (n = 1;; n++) {
		unsigned long w0 = recourse_backend_fault_writes(t->b[0].be);
		recourse_backend_fault_arm(t->b[0].be, n, EIO);
		int rc = act(t, 0, id, RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, &e);
		unsigned long writes = recourse_backend_fault_writes(t->b[0].be) - w0;
		recourse_backend_fault_arm(t->b[0].be, 0, 0);
		if (n > writes) {
			assert_int_equal(rc, RECOURSE_OK);
			break;
		}
		assert_int_equal(rc, RECOURSE_ESTORE);
		assert_int_equal(e.store_rc, EIO);
		snap_same(s, snap_of(t, 0, id));
	}
	assert_int_equal(n, 4);	/* case, audit entry, audit head */
	/* Opening: counter, case, entry, head; the number is not used up. */
	for (n = 1; n <= 4; n++) {
		recourse_backend_fault_arm(t->b[0].be, n, ENOSPC);
		assert_int_equal(recourse_case_open(t->r[0], NULL, &t->env, 1, "x",
		    T0, id, &e), RECOURSE_ESTORE);
		assert_int_equal(e.store_rc, ENOSPC);
		assert_int_equal(audit_of(t, 0).entries, 2);
	}
	recourse_backend_fault_arm(t->b[0].be, 0, 0);
	/* A failed commit: the same. */
	recourse_backend_fault_arm_commit(t->b[0].be, EIO);
	assert_int_equal(recourse_case_open(t->r[0], NULL, &t->env, 1, "x", T0,
	    id, &e), RECOURSE_ESTORE);
	open_case(t, 0, 1, T0, id);
	assert_string_equal(id, "uk.london.south/2");
	assert_int_equal(audit_of(t, 0).entries, 3);
	/* An acceptance that fails is not half-taken: the retry is not a dup. */
	Axle__V1__Case *c;
	int dup;
	char pid[RECOURSE_ID_MAX];
	assert_int_equal(recourse_escalation_begin(t->r[0], NULL, id, T0, &c,
	    &e), 0);
	recourse_backend_fault_arm(t->b[1].be, 2, EIO);
	assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c, CHILD,
	    T0, pid, &dup, &e), RECOURSE_ESTORE);
	assert_int_equal(recourse_case_accept_escalated(t->r[1], NULL, c, CHILD,
	    T0, pid, &dup, &e), RECOURSE_OK);
	assert_false(dup);
	recourse_case_free(c);
}

/* Inside a caller's transaction, as in the gateway's group-commit writer. */
static void
test_inside_caller_txn(void **state)
{
	struct tree *t = *state;
	struct recourse_err e;
	struct recourse_act_args a = { .actor = ADMIN, .reason = "" };
	char id[RECOURSE_ID_MAX];
	Axle__V1__Case *c;
	void *outer;

	outer = tb_outer_begin(&t->b[0]);
	assert_int_equal(recourse_case_open(t->r[0], outer, &t->env, 1, "x", T0,
	    id, &e), RECOURSE_OK);
	/* A failing operation in the same batch leaves the rest intact. */
	assert_int_equal(recourse_case_act(t->r[0], outer, id,
	    RECOURSE_ACT_DISCARD, &a, T0, NULL, &e), RECOURSE_EINVAL);
	recourse_backend_fault_arm(t->b[0].be, 2, EIO);
	a.reason = "spam";
	assert_int_equal(recourse_case_act(t->r[0], outer, id,
	    RECOURSE_ACT_DISCARD, &a, T0, NULL, &e), RECOURSE_ESTORE);
	assert_int_equal(recourse_case_get(t->r[0], outer, id, &c, &e), 0);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_int_equal(c->version, 1);
	recourse_case_free(c);
	tb_outer_end(&t->b[0], outer, 0);	/* the batch is abandoned */
	assert_int_equal(recourse_case_get(t->r[0], NULL, id, &c, &e),
	    RECOURSE_ENOTFOUND);
	struct recourse_audit_report rep = audit_of(t, 0);
	assert_int_equal(rep.entries, 0);

	outer = tb_outer_begin(&t->b[0]);
	assert_int_equal(recourse_case_open(t->r[0], outer, &t->env, 1, "x", T0,
	    id, &e), RECOURSE_OK);
	assert_string_equal(id, "uk.london.south/1");
	assert_int_equal(recourse_case_act(t->r[0], outer, id,
	    RECOURSE_ACT_DISCARD, &a, T0, NULL, &e), RECOURSE_OK);
	tb_outer_end(&t->b[0], outer, 1);
	c = get(t, 0, id);
	assert_int_equal(c->state, RECOURSE_ST_RESOLVED);
	recourse_case_free(c);
	assert_int_equal(audit_of(t, 0).entries, 2);
}

/*
 * Runs op with the n-th allocation failing, for n = 1, 2, ... until it
 * succeeds untouched by the hook; every failure must be ENOMEM and leave
 * the audit log (so every write) as it was.
 */
typedef int (*op_fn)(struct tree *t, struct recourse_err *e);

static void
enomem_sweep(struct tree *t, int lvl, op_fn op)
{
	struct recourse_err e;
	uint64_t before = audit_of(t, lvl).entries;
	unsigned long n;
	int rc;

	for (n = 1; n < 500; n++) {
		recourse_mem_fail_after(n);
		rc = op(t, &e);
		int hit = recourse_mem_failed();
		recourse_mem_fail_after(0);
		if (!hit) {
			assert_int_equal(rc, RECOURSE_OK);
			return;
		}
		if (rc != RECOURSE_ENOMEM)
			fail_msg("allocation %lu failed: rc %s (%s)", n,
			    recourse_rc_name(rc), e.msg);
		assert_int_equal(audit_of(t, lvl).entries, before);
	}
	fail_msg("never succeeded");
}

static char g_id[RECOURSE_ID_MAX];

static int
op_open(struct tree *t, struct recourse_err *e)
{
	return recourse_case_open(t->r[0], NULL, &t->env, 1, "x", T0, g_id, e);
}

static int
op_claim(struct tree *t, struct recourse_err *e)
{
	return act(t, 0, "1", RECOURSE_ACT_CLAIM, ADMIN, NULL, NULL, e);
}

static int
op_list(struct tree *t, struct recourse_err *e)
{
	struct recourse_page p;
	int rc = recourse_case_list(t->r[0], NULL, NULL, T0, NULL, 0, &p, e);

	recourse_page_free(&p);
	return rc;
}

static int
op_sweep(struct tree *t, struct recourse_err *e)
{
	struct recourse_sweep s;

	return recourse_deadline_sweep(t->r[0], NULL, T0 + 10 * DL, &s, e);
}

static Axle__V1__Case *g_child;	/* fetched before the hook is armed */

static int
op_accept(struct tree *t, struct recourse_err *e)
{
	char pid[RECOURSE_ID_MAX];
	int dup;

	return recourse_case_accept_escalated(t->r[1], NULL, g_child, CHILD, T0,
	    pid, &dup, e);
}

static int
op_begin(struct tree *t, struct recourse_err *e)
{
	Axle__V1__Case *c = NULL;
	int rc = recourse_escalation_begin(t->r[0], NULL, "3", T0, &c, e);

	recourse_case_free(c);
	return rc;
}

static int
op_new(struct tree *t, struct recourse_err *e)
{
	struct recourse_config cfg = { .region = "uk.x", .parent = "uk" };
	struct recourse *r;
	int rc = recourse_new(&cfg, t->b[0].be, &r, e);

	recourse_destroy(r);
	return rc;
}

static void
test_enomem(void **state)
{
	struct tree *t = *state;

	enomem_sweep(t, 0, op_new);
	enomem_sweep(t, 0, op_open);	/* 1 */
	enomem_sweep(t, 0, op_open);	/* 2 */
	enomem_sweep(t, 0, op_open);	/* 3 */
	enomem_sweep(t, 0, op_claim);
	enomem_sweep(t, 0, op_list);
	g_child = get(t, 0, "2");
	enomem_sweep(t, 1, op_accept);
	recourse_case_free(g_child);
	enomem_sweep(t, 0, op_begin);
	enomem_sweep(t, 0, op_sweep);
	struct recourse_audit_report rep;
	recourse_mem_fail_after(1);
	assert_int_equal(recourse_audit_check(t->r[0], NULL, &rep, NULL),
	    RECOURSE_ENOMEM);
	recourse_mem_fail_after(0);
}

static void
test_config(void **state)
{
	struct tree *t = *state;
	struct recourse_config cfg = { .region = "uk.a", .parent = "uk.a" };
	struct recourse *r;
	struct recourse_err e;

	assert_int_equal(recourse_new(&cfg, t->b[0].be, &r, &e), RECOURSE_EINVAL);
	cfg.parent = "Bad Parent";
	assert_int_equal(recourse_new(&cfg, t->b[0].be, &r, &e), RECOURSE_EINVAL);
	cfg.region = "";
	cfg.parent = NULL;
	assert_int_equal(recourse_new(&cfg, t->b[0].be, &r, &e), RECOURSE_EINVAL);
	assert_false(recourse_is_root(t->r[0]));
	assert_int_equal(recourse_set_parent(t->r[0], "", &e), RECOURSE_OK);
	assert_true(recourse_is_root(t->r[0]));
	assert_int_equal(recourse_set_parent(t->r[0], "uk.london.south", &e),
	    RECOURSE_EINVAL);
	assert_int_equal(recourse_set_parent(t->r[0], "uk.london", &e),
	    RECOURSE_OK);
}

#define BOTH(f) \
	cmocka_unit_test_setup_teardown(f, setup_ram, teardown), \
	cmocka_unit_test_setup_teardown(f, setup_lmdb, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_open_and_get),
		BOTH(test_act_flow),
		BOTH(test_act_returns_case),
		BOTH(test_list_filters_and_paging),
		BOTH(test_escalation_up_the_tree),
		BOTH(test_escalation_idempotent),
		BOTH(test_parent_unreachable),
		BOTH(test_admin_escalate),
		BOTH(test_fault_leaves_nothing),
		BOTH(test_inside_caller_txn),
		BOTH(test_enomem),
		BOTH(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
