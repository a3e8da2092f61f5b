/* test_case.c -- the case state machine: every transition legal and illegal, who may act, reasons a person can act on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "recourse/case.h"
#include "recourse/mem.h"
#include "recourse/rc.h"

#define ADMIN	"axle://fame-uk/admin/uk.london.south/jsmith"
#define OTHER	"axle://fame-uk/admin/uk.london.south/akhan"
#define NODE	"axle://fame-uk/node/uk.london.south"

/* A case held at uk.london.south, whose parent is uk.london. */
struct fixture {
	Axle__V1__Envelope env;
	Axle__V1__Case c;
	Axle__V1__CaseAction claim, resolve, esc;
	Axle__V1__CaseAction *hist[3];
	char *path[2];
	struct recourse_node node;
};

static void
fixture_init(struct fixture *f, int state)
{
	memset(f, 0, sizeof(*f));
	f->env = (Axle__V1__Envelope)AXLE__V1__ENVELOPE__INIT;
	f->env.sender = "uk.york.social";
	f->env.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	f->env.to = "uk.london.nowhere";
	f->c = (Axle__V1__Case)AXLE__V1__CASE__INIT;
	f->c.id = "uk.london.south/42";
	f->c.envelope = &f->env;
	f->c.reason = AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS;
	f->c.detail = "no registrar for uk.london.nowhere";
	f->c.opened_ms = 1000;
	f->c.deadline_ms = 5000;
	f->c.state = state;
	f->c.origin_node = "uk.london.south";
	f->c.version = 3;
	f->path[0] = "uk.london.south";
	f->c.path = f->path;
	f->c.n_path = 1;
	f->claim = (Axle__V1__CaseAction)AXLE__V1__CASE_ACTION__INIT;
	f->claim.kind = AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_CLAIMED;
	f->claim.actor = ADMIN;
	f->claim.at_ms = 1714557600000LL;
	f->resolve = f->claim;
	f->resolve.kind = AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_DISCARDED;
	f->esc = f->claim;
	f->esc.kind = AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_ESCALATED;
	f->hist[0] = &f->claim;
	f->hist[1] = &f->resolve;
	f->hist[2] = &f->esc;
	f->c.history = f->hist;
	f->c.n_history = 3;
	if (state == RECOURSE_ST_CLAIMED)
		f->c.assignee = ADMIN;
	if (state == RECOURSE_ST_RESOLVED)
		f->c.outcome = AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_DISCARDED;
	if (state == RECOURSE_ST_ESCALATED)
		f->c.escalated_to = "uk.london";
	f->node.region = "uk.london.south";
	f->node.parent = "uk.london";
}

/* Arguments under which every action that the state allows succeeds. */
static struct recourse_act_args
good_args(void)
{
	return (struct recourse_act_args){ .actor = ADMIN, .reason = "checked "
	    "with the sender", .to = "uk.london.lewisham", .next_attempt_ms = 9 };
}

static Axle__V1__Case *
unpack(uint8_t *buf, size_t len, size_t headroom)
{
	Axle__V1__Case *c = (Axle__V1__Case *)pb_unpack(
	    &axle__v1__case__descriptor, buf + headroom, len - headroom,
	    1 << 20, NULL, 0);

	assert_non_null(c);
	return c;
}

/* The expected table, written out independently of case.c's. */
static int
expected_next(int s, enum recourse_action a)
{
	int O = RECOURSE_ST_OPEN, C = RECOURSE_ST_CLAIMED,
	    R = RECOURSE_ST_RESOLVED, E = RECOURSE_ST_ESCALATED;
	int live = s == O || s == C;

	switch (a) {
	case RECOURSE_ACT_CLAIM:	return s == O ? C : 0;
	case RECOURSE_ACT_RELEASE:	return s == C ? O : 0;
	case RECOURSE_ACT_REDIRECT:
	case RECOURSE_ACT_RETURN:
	case RECOURSE_ACT_DISCARD:	return live ? R : 0;
	case RECOURSE_ACT_ESCALATE:
	case RECOURSE_ACT_HANDOVER:
	case RECOURSE_ACT_RETRY:	return live ? s : 0;
	case RECOURSE_ACT_ANNOTATE:
	case RECOURSE_ACT_VIEW_PAYLOAD:	return s;
	case RECOURSE_ACT_DEADLINE:	return s == O ? O : 0;
	case RECOURSE_ACT_ESCALATED:	return live ? E : 0;
	}
	return 0;
}

static void
test_every_transition(void **state)
{
	int states[] = { RECOURSE_ST_OPEN, RECOURSE_ST_CLAIMED,
	    RECOURSE_ST_RESOLVED, RECOURSE_ST_ESCALATED };
	int legal = 0, refused = 0;

	for (size_t i = 0; i < 4; i++) {
		for (int a = 1; a <= RECOURSE_ACT__MAX; a++) {
			struct fixture f;
			struct recourse_act_args args = good_args();
			int want = expected_next(states[i], a), rc, ns = -1;
			uint8_t *buf = NULL;
			size_t len;
			char why[RECOURSE_ERR_MAX];

			fixture_init(&f, states[i]);
			assert_int_equal(recourse_next_state(states[i], a), want);
			rc = recourse_case_apply(&f.c, a, &args, &f.node, 7000, 1,
			    &buf, &len, &ns, why, sizeof(why));
			if (want == 0) {
				assert_int_equal(rc, RECOURSE_EPRECOND);
				assert_null(buf);
				assert_non_null(strstr(why, "case uk.london.south/42 is "));
				assert_true(strstr(why, "cannot be") != NULL ||
				    strstr(why, "release it first") != NULL);
				refused++;
				continue;
			}
			if (rc != RECOURSE_OK)
				fail_msg("%s from %s: %s", recourse_action_name(a),
				    recourse_state_name(states[i]), why);
			assert_int_equal(ns, want);
			Axle__V1__Case *n = unpack(buf, len, 1);
			assert_int_equal(n->state, want);
			assert_int_equal(n->version, 4);
			assert_int_equal(n->n_history, 4);
			assert_int_equal(n->history[3]->kind, recourse_case_kind(a));
			assert_string_equal(n->history[3]->actor, ADMIN);
			assert_int_equal(n->history[3]->at_ms, 7000);
			assert_string_equal(n->history[3]->node, "uk.london.south");
			pb_free(&n->base);
			free(buf);
			legal++;
		}
	}
	assert_int_equal(legal + refused, 4 * RECOURSE_ACT__MAX);
	assert_true(refused >= 20);
}

static void
test_refusal_reads_well(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_RESOLVED);
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_string_equal(why, "case uk.london.south/42 is RESOLVED "
	    "(discarded by " ADMIN " at 2024-05-01T10:00:00.000Z); resolved "
	    "cases cannot be claimed");
	fixture_init(&f, RECOURSE_ST_ESCALATED);
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_DISCARD, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_non_null(strstr(why, "ESCALATED (to uk.london at"));
	fixture_init(&f, RECOURSE_ST_CLAIMED);
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_non_null(strstr(why, "release it first"));
}

static void
test_discard_needs_reason(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	const char *bad[] = { NULL, "", "   \t " };
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_OPEN);
	for (size_t i = 0; i < 3; i++) {
		a.reason = bad[i];
		assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_DISCARD,
		    &a, &f.node, why, sizeof(why)), RECOURSE_EINVAL);
		assert_non_null(strstr(why, "discard needs a reason"));
		/* return has a default reason: the case's detail */
		assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_RETURN,
		    &a, &f.node, why, sizeof(why)), RECOURSE_OK);
	}
}

static void
test_return_defaults_to_detail(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	uint8_t *buf;
	size_t len;
	int ns;
	char why[256];

	fixture_init(&f, RECOURSE_ST_OPEN);
	a.reason = NULL;
	assert_int_equal(recourse_case_apply(&f.c, RECOURSE_ACT_RETURN, &a,
	    &f.node, 1, 0, &buf, &len, &ns, why, sizeof(why)), RECOURSE_OK);
	Axle__V1__Case *n = unpack(buf, len, 0);
	assert_string_equal(n->history[3]->reason, f.c.detail);
	assert_int_equal(n->outcome,
	    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_RETURNED);
	pb_free(&n->base);
	free(buf);
}

static void
test_claimed_by_someone_else(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	char why[RECOURSE_ERR_MAX];
	enum recourse_action only_assignee[] = { RECOURSE_ACT_REDIRECT,
	    RECOURSE_ACT_RETURN, RECOURSE_ACT_DISCARD, RECOURSE_ACT_ESCALATE };

	fixture_init(&f, RECOURSE_ST_CLAIMED);
	a.actor = OTHER;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(recourse_case_check(&f.c, only_assignee[i], &a,
		    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
		assert_non_null(strstr(why, "claimed by " ADMIN "; only they"));
	}
	/* Another admin may release, but only with a reason. */
	a.reason = "";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_RELEASE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	assert_non_null(strstr(why, "needs a reason"));
	a.reason = "jsmith is on leave";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_RELEASE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	/* The assignee needs none. */
	a.actor = ADMIN;
	a.reason = NULL;
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_RELEASE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	/* Annotating is open to every admin. */
	a.actor = OTHER;
	a.reason = "sender called";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_ANNOTATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
}

static void
test_arguments_refused(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	char why[RECOURSE_ERR_MAX];
	const char *bad_to[] = { "", "UK.London", "uk london", ":x",
	    "uk.london.nowhere" /* the address that failed */ };
	char big[RECOURSE_TEXT_MAX + 2];

	fixture_init(&f, RECOURSE_ST_OPEN);
	for (size_t i = 0; i < 5; i++) {
		a.to = bad_to[i];
		assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_REDIRECT,
		    &a, &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	}
	assert_non_null(strstr(why, "is the address that failed"));
	a = good_args();
	a.to = "uk.london.lewisham.swift:0042";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_REDIRECT, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	a.actor = "";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	a = good_args();
	a.reason = "";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_ANNOTATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	a.reason = "bad \xff utf-8";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_ANNOTATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a.reason = big;
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_DISCARD, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EINVAL);
	a = good_args();
	a.expected_version = 2;
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_non_null(strstr(why, "at version 3, not 2"));
	a.expected_version = 3;
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	assert_int_equal(recourse_case_check(&f.c, 99, &a, &f.node, why,
	    sizeof(why)), RECOURSE_EINVAL);
}

static void
test_escalate_root_and_loop(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_OPEN);
	f.node.parent = NULL;
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_ESCALATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EROOT);
	assert_string_equal(why, "this node (uk.london.south) is the root "
	    "escalation point; resolve case uk.london.south/42 here");
	f.node.parent = "";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_HANDOVER, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EROOT);
	/* The parent is already on the path: a loop. */
	fixture_init(&f, RECOURSE_ST_OPEN);
	f.path[1] = "uk.london";
	f.c.n_path = 2;
	f.node.region = "uk.london.west";
	assert_int_equal(recourse_case_check(&f.c, RECOURSE_ACT_ESCALATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_ELOOP);
	assert_non_null(strstr(why, "uk.london is already on this case's path "
	    "uk.london.south -> uk.london"));
}

static void
test_handover_locks_resolution(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	uint8_t *buf;
	size_t len;
	int ns;
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_OPEN);
	a.actor = NODE;
	assert_int_equal(recourse_case_apply(&f.c, RECOURSE_ACT_HANDOVER, &a,
	    &f.node, 10, 0, &buf, &len, &ns, why, sizeof(why)), RECOURSE_OK);
	Axle__V1__Case *n = unpack(buf, len, 0);
	free(buf);
	assert_string_equal(n->escalating_to, "uk.london");
	a = good_args();
	assert_int_equal(recourse_case_check(n, RECOURSE_ACT_DISCARD, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_non_null(strstr(why, "being handed to uk.london"));
	assert_int_equal(recourse_case_check(n, RECOURSE_ACT_ESCALATE, &a,
	    &f.node, why, sizeof(why)), RECOURSE_EPRECOND);
	assert_int_equal(recourse_case_check(n, RECOURSE_ACT_CLAIM, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	/* A definite failure frees it again; an unknown outcome does not. */
	a.actor = NODE;
	a.definite = 0;
	a.quiet = 1;
	assert_int_equal(recourse_case_apply(n, RECOURSE_ACT_RETRY, &a, &f.node,
	    20, 0, &buf, &len, &ns, why, sizeof(why)), RECOURSE_OK);
	Axle__V1__Case *m = unpack(buf, len, 0);
	free(buf);
	assert_string_equal(m->escalating_to, "uk.london");
	assert_int_equal(m->escalation_attempts, 1);
	assert_int_equal(m->next_attempt_ms, 9);
	assert_int_equal(m->n_history, n->n_history);	/* quiet */
	pb_free(&m->base);
	a.definite = 1;
	a.quiet = 0;
	assert_int_equal(recourse_case_apply(n, RECOURSE_ACT_RETRY, &a, &f.node,
	    20, 0, &buf, &len, &ns, why, sizeof(why)), RECOURSE_OK);
	m = unpack(buf, len, 0);
	free(buf);
	assert_string_equal(m->escalating_to, "");
	assert_int_equal(m->n_history, n->n_history + 1);
	a = good_args();
	assert_int_equal(recourse_case_check(m, RECOURSE_ACT_DISCARD, &a,
	    &f.node, why, sizeof(why)), RECOURSE_OK);
	pb_free(&m->base);
	pb_free(&n->base);
}

static void
test_new_and_receive(void **state)
{
	struct fixture f;
	struct recourse_case_init in;
	uint8_t *buf;
	size_t len;
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_OPEN);
	in = (struct recourse_case_init){ &f.env, 1, "nobody serves it",
	    "uk.london.south/7", NODE, 100, 200 };
	assert_int_equal(recourse_case_new(&in, &f.node, 1, &buf, &len, why,
	    sizeof(why)), RECOURSE_OK);
	Axle__V1__Case *c = unpack(buf, len, 1);
	free(buf);
	assert_int_equal(c->state, RECOURSE_ST_OPEN);
	assert_int_equal(c->n_path, 1);
	assert_string_equal(c->path[0], "uk.london.south");
	assert_int_equal(c->n_history, 1);
	assert_int_equal(c->history[0]->kind,
	    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_OPENED);
	assert_string_equal(c->envelope->to, "uk.london.nowhere");

	/* uk.london takes it: path grows, a new deadline, OPEN. */
	struct recourse_node parent = { "uk.london", "uk" };
	assert_int_equal(recourse_case_receive(c, &parent, NODE, 300, 900, 0,
	    &buf, &len, why, sizeof(why)), RECOURSE_OK);
	Axle__V1__Case *p = unpack(buf, len, 0);
	free(buf);
	assert_int_equal(p->n_path, 2);
	assert_string_equal(p->path[1], "uk.london");
	assert_int_equal(p->deadline_ms, 900);
	assert_int_equal(p->history[1]->kind,
	    AXLE__V1__CASE_ACTION_KIND__CASE_ACTION_KIND_RECEIVED);
	assert_string_equal(p->history[1]->reason, "escalated from uk.london.south");
	/* Coming back to uk.london.south would be a loop. */
	assert_int_equal(recourse_case_receive(p, &f.node, NODE, 300, 900, 0,
	    &buf, &len, why, sizeof(why)), RECOURSE_ELOOP);
	pb_free(&p->base);

	/* Bad input is refused, never packed. */
	in.reason = 0;
	assert_int_equal(recourse_case_new(&in, &f.node, 0, &buf, &len, why,
	    sizeof(why)), RECOURSE_EINVAL);
	in.reason = 1;
	f.env.sender = "bad \xc3\x28";	/* invalid UTF-8 in the envelope */
	assert_int_equal(recourse_case_new(&in, &f.node, 0, &buf, &len, why,
	    sizeof(why)), RECOURSE_EINVAL);
	assert_non_null(strstr(why, "would not be readable"));
	assert_null(buf);
	char *origin = c->origin_node;
	c->origin_node = "uk.elsewhere";
	assert_int_equal(recourse_case_receive(c, &parent, NODE, 300, 900, 0,
	    &buf, &len, why, sizeof(why)), RECOURSE_EINVAL);
	assert_non_null(strstr(why, "says it was opened at"));
	c->origin_node = origin;
	pb_free(&c->base);
}

static void
test_apply_enomem(void **state)
{
	struct fixture f;
	struct recourse_act_args a = good_args();
	uint8_t *buf;
	size_t len;
	int ns;
	char why[RECOURSE_ERR_MAX];

	fixture_init(&f, RECOURSE_ST_OPEN);
	recourse_mem_fail_after(1);
	assert_int_equal(recourse_case_apply(&f.c, RECOURSE_ACT_CLAIM, &a,
	    &f.node, 1, 0, &buf, &len, &ns, why, sizeof(why)), RECOURSE_ENOMEM);
	assert_true(recourse_mem_failed());
	recourse_mem_fail_after(0);
	assert_null(buf);
	/* The input case is untouched. */
	assert_int_equal(f.c.n_history, 3);
	assert_int_equal(f.c.version, 3);
}

static void
test_ids(void **state)
{
	char region[RECOURSE_ID_MAX], why[256];
	uint64_t n;

	assert_int_equal(recourse_case_id_parse("uk.london/42", NULL, region,
	    &n, why, sizeof(why)), RECOURSE_OK);
	assert_string_equal(region, "uk.london");
	assert_int_equal(n, 42);
	assert_int_equal(recourse_case_id_parse("7", "uk", region, &n, why,
	    sizeof(why)), RECOURSE_OK);
	assert_string_equal(region, "uk");
	assert_int_equal(n, 7);
	assert_int_equal(recourse_case_id_parse("18446744073709551615", "uk",
	    region, &n, why, sizeof(why)), RECOURSE_OK);
	const char *bad[] = { "", "7", "uk/0", "uk/07", "uk/", "/5", "UK/5",
	    "uk/5x", "uk/18446744073709551616", "uk london/1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(recourse_case_id_parse(bad[i], NULL, region,
		    &n, why, sizeof(why)), RECOURSE_EINVAL);
	assert_true(recourse_text_ok("caf\xc3\xa9 \xe2\x82\xac\tok\n"));
	assert_false(recourse_text_ok("\xc0\xaf"));		/* overlong */
	assert_false(recourse_text_ok("\xed\xa0\x80"));	/* surrogate */
	assert_false(recourse_text_ok("bell\a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_transition),
		cmocka_unit_test(test_refusal_reads_well),
		cmocka_unit_test(test_discard_needs_reason),
		cmocka_unit_test(test_return_defaults_to_detail),
		cmocka_unit_test(test_claimed_by_someone_else),
		cmocka_unit_test(test_arguments_refused),
		cmocka_unit_test(test_escalate_root_and_loop),
		cmocka_unit_test(test_handover_locks_resolution),
		cmocka_unit_test(test_new_and_receive),
		cmocka_unit_test(test_apply_enomem),
		cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
