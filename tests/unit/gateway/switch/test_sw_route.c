/* test_sw_route.c -- routing decisions, loops and hop limits, trace append, and service-group expansion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/switch/sw_route.h"

#define HERE "uk.london"
#define ACTIVE AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE
#define SUSPENDED AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED
#define REVOKED AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED
#define PENDING AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_PENDING
#define R_UNKNOWN AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS
#define R_REVOKED AXLE__V1__CASE_REASON__CASE_REASON_REGISTRAR_REVOKED
#define R_LOOP AXLE__V1__CASE_REASON__CASE_REASON_ROUTING_LOOP
#define R_HOPS AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT

static uint8_t idbuf[16];
static Axle__V1__TraceHop hops[70];
static Axle__V1__TraceHop *hopp[70];
static Axle__V1__ServiceGroup group;

static Axle__V1__Envelope
env(void)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;

	for (int i = 0; i < 16; i++)
		idbuf[i] = (uint8_t)i;
	e.message_id.data = idbuf;
	e.message_id.len = 16;
	e.sender = (char *)"uk.leeds.a";
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = (char *)"uk.london.lewisham.x";
	e.message_type = (char *)"t";
	e.hop_limit = 8;
	e.trace = hopp;
	return e;
}

/* Sets trace to the given regions. */
static void
trace(Axle__V1__Envelope *e, size_t n, const char *const *regions)
{
	for (size_t i = 0; i < n; i++) {
		axle__v1__trace_hop__init(&hops[i]);
		hops[i].region = (char *)regions[i];
		hopp[i] = &hops[i];
	}
	e->n_trace = n;
}

static struct registry_resolution
deleg(const char *prefix, const char *id, const char *region,
    Axle__V1__RegistrarStatus st)
{
	struct registry_resolution r;

	memset(&r, 0, sizeof(r));
	r.match.kind = REGISTRY_PREFIX_DELEGATION;
	r.match.prefix = prefix;
	r.match.prefix_len = strlen(prefix);
	r.match.registrar_id = id;
	r.match.registrar_status = st;
	r.match.region = region;
	r.encloser = r.match;
	return r;
}

static struct registry_resolution
region_only(enum registry_prefix_kind kind, const char *prefix)
{
	struct registry_resolution r;

	memset(&r, 0, sizeof(r));
	r.encloser.kind = kind;
	r.encloser.prefix = prefix;
	r.encloser.prefix_len = strlen(prefix);
	r.encloser.region = prefix;
	return r;
}

static void
expect(const struct sw_route *r, enum sw_route_kind kind,
    Axle__V1__CaseReason code, const char *target, const char *in_reason)
{
	if (r->kind != kind || r->code != code ||
	    strcmp(r->target, target) != 0 ||
	    strstr(r->reason, in_reason) == NULL)
		fail_msg("got %s code %d target \"%s\" reason \"%s\"; want %s "
		    "code %d target \"%s\" reason containing \"%s\"",
		    sw_route_kind_name(r->kind), r->code, r->target, r->reason,
		    sw_route_kind_name(kind), code, target, in_reason);
}

static void
test_local_standing(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;

	(void)state;
	res = deleg("uk.london.lewisham", "lewisham", HERE, ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "registrar lewisham");

	res = deleg("uk.london.lewisham", "lewisham", HERE, SUSPENDED);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_HOLD, 0, "lewisham", "suspended");

	res = deleg("uk.london.lewisham", "lewisham", HERE, REVOKED);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_REVOKED, "", "revoked");

	res = deleg("uk.london.lewisham", "lewisham", HERE, PENDING);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "pending, not in service");

	res = deleg("uk.london.lewisham", "lewisham", HERE,
	    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "unknown standing");
}

static void
test_remote_goes_to_serving_node(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;
	Axle__V1__RegistrarStatus all[] = { ACTIVE, SUSPENDED, REVOKED, PENDING };

	(void)state;
	e.to = (char *)"uk.leeds.sc.x";
	/* The serving node decides on hold and recourse, whatever our mirror says. */
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		res = deleg("uk.leeds.sc", "leeds-sc", "uk.leeds", all[i]);
		sw_route_decide(&e, HERE, &res, false, &r);
		expect(&r, SW_ROUTE_PEER, 0, "uk.leeds", "served by uk.leeds");
	}
	/* No delegation, but a peer's region covers it: its recourse owns it. */
	res = region_only(REGISTRY_PREFIX_PEER_REGION, "uk.leeds");
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_PEER, 0, "uk.leeds", "region of node uk.leeds");
	/* A delegation without a serving region: nowhere to send it. */
	res = deleg("uk.leeds.sc", "leeds-sc", NULL, ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "unknown address");
}

static void
test_unknown(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;

	(void)state;
	res = region_only(REGISTRY_PREFIX_OWN_REGION, HERE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "in this region (uk.london)");
	memset(&res, 0, sizeof(res));
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "no node or registrar");
}

static void
test_loops(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;
	const char *via_us[] = { "uk.leeds", HERE };
	const char *via_leeds[] = { "uk.york", "uk.leeds" };

	(void)state;
	/* We are in the trace: a loop even though a mailbox is here. */
	trace(&e, 2, via_us);
	assert_true(sw_trace_contains(&e, HERE));
	assert_false(sw_trace_contains(&e, "uk.lond"));
	res = deleg("uk.london.lewisham", "lewisham", HERE, ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "this node (uk.london)");
	/* The next node is in the trace: it would come straight back. */
	trace(&e, 2, via_leeds);
	res = deleg("uk.leeds.sc", "leeds-sc", "uk.leeds", ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "next node uk.leeds");
	res = region_only(REGISTRY_PREFIX_PEER_REGION, "uk.leeds");
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "already in the trace");
	/* Local delivery after passing others is no loop. */
	res = deleg("uk.london.lewisham", "lewisham", HERE, ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
}

/*
 * A redirect starts a new journey: the hops before the last hop that names
 * a case (where an admin redirected the message) are history, not a loop,
 * and the hop limit counts from there.
 */
static void
test_redirect_starts_a_journey(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;
	const char *path[] = { HERE, "uk", "uk.leeds", "uk" };

	(void)state;
	trace(&e, 4, path);
	assert_int_equal(sw_trace_journey(&e), 0);
	assert_int_equal(sw_trace_redirects(&e), 0);
	res = deleg("uk.london.lewisham", "lewisham", HERE, ACTIVE);
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "this node (uk.london)");
	/* uk redirected it out of case uk.leeds/7: back to its origin is no loop. */
	hops[3].redirect_case = (char *)"uk.leeds/7";
	assert_int_equal(sw_trace_journey(&e), 4);
	assert_int_equal(sw_trace_redirects(&e), 1);
	assert_false(sw_trace_contains(&e, HERE));
	assert_false(sw_trace_contains(&e, "uk"));
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
	/* An earlier redirect counts too; the journey starts after the last. */
	hops[1].redirect_case = (char *)"uk.london/2";
	assert_int_equal(sw_trace_journey(&e), 4);
	assert_int_equal(sw_trace_redirects(&e), 2);
	hops[3].redirect_case = NULL;
	assert_int_equal(sw_trace_journey(&e), 2);
	assert_true(sw_trace_contains(&e, "uk"));	/* hop 3, after the redirect */
	assert_false(sw_trace_contains(&e, HERE));
	/* The hop limit counts the journey: 2 hops of limit 3 leave us room. */
	e.hop_limit = 3;
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
	hops[1].redirect_case = NULL;
	sw_route_decide(&e, HERE, &res, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "this node");
}

static void
test_hop_limit(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution local, peer;
	struct sw_route r;
	const char *regs[] = { "a.a", "a.b", "a.c", "a.d", "a.e", "a.f", "a.g",
	    "a.h", "a.i", "a.j", "a.k", "a.l", "a.m", "a.n", "a.o", "a.p" };

	(void)state;
	local = deleg("uk.london.lewisham", "lewisham", HERE, ACTIVE);
	peer = deleg("uk.leeds.sc", "leeds-sc", "uk.leeds", ACTIVE);
	e.hop_limit = 3;
	trace(&e, 3, regs);		/* full: we may not add ourselves */
	sw_route_decide(&e, HERE, &local, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_HOPS, "", "hop limit 3 reached");
	trace(&e, 2, regs);		/* we are the last node allowed */
	sw_route_decide(&e, HERE, &local, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
	sw_route_decide(&e, HERE, &peer, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_HOPS, "", "cannot pass to uk.leeds");
	trace(&e, 1, regs);		/* room for us and the next node */
	sw_route_decide(&e, HERE, &peer, false, &r);
	expect(&r, SW_ROUTE_PEER, 0, "uk.leeds", "");
	/* hop_limit 1: only the first node: no forwarding at all. */
	e.hop_limit = 1;
	trace(&e, 0, regs);
	sw_route_decide(&e, HERE, &peer, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_HOPS, "", "hop limit 1");
	sw_route_decide(&e, HERE, &local, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
	/* 0 means the default of 16. */
	e.hop_limit = 0;
	trace(&e, 16, regs);
	sw_route_decide(&e, HERE, &local, false, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_HOPS, "", "hop limit 16");
	trace(&e, 15, regs);
	sw_route_decide(&e, HERE, &local, false, &r);
	expect(&r, SW_ROUTE_LOCAL_MAILBOX, 0, "lewisham", "");
}

static void
test_group_route(void **state)
{
	Axle__V1__Envelope e = env();
	struct registry_resolution res;
	struct sw_route r;
	const char *via_us[] = { HERE };

	(void)state;
	res = region_only(REGISTRY_PREFIX_PEER_REGION, "uk.westyorks");
	sw_route_decide(&e, HERE, &res, true, &r);
	expect(&r, SW_ROUTE_EXPAND, 0, "", "under uk.westyorks");
	memset(&res, 0, sizeof(res));
	sw_route_decide(&e, HERE, &res, true, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_UNKNOWN, "", "unknown group prefix");
	trace(&e, 1, via_us);
	res = region_only(REGISTRY_PREFIX_PEER_REGION, "uk.westyorks");
	sw_route_decide(&e, HERE, &res, true, &r);
	expect(&r, SW_ROUTE_RECOURSE, R_LOOP, "", "loop");
	assert_string_equal(sw_route_kind_name(SW_ROUTE_HOLD), "hold");
}

/* --- group expansion ----------------------------------------------------- */

static const char *const idx_types[] = { "index.query.v1" };
static const char *const other_types[] = { "index.query.v0", "x" };

#define IDX AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX
#define SWI AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH

static const struct sw_service svcs[] = {
	{ "reg-leeds", "uk.westyorks", "index", "uk.westyorks.leeds.idx", IDX, idx_types, 1 },
	{ "reg-brad", "uk.westyorks", "index", "UK.WestYorks.Bradford.Idx", IDX, idx_types, 1 },
	{ "reg-brad", "uk.westyorks", "index-old", "uk.westyorks.bradford.old", IDX, other_types, 2 },
	{ "reg-brad", "uk.westyorks", "switch", "uk.westyorks.bradford", SWI, idx_types, 1 },
	{ "reg-york", "uk.northyorks", "index", "uk.northyorks.york.idx", IDX, idx_types, 1 },
	{ "reg-kirk", "uk.westyorks", "index", "uk.westyorksx.idx", IDX, idx_types, 1 },
	{ "reg-bad", "uk.westyorks", "index", "uk.westyorks..bad", IDX, idx_types, 1 },
	{ "reg-leeds", "uk.westyorks", "index", "uk.westyorks.leeds.idx", IDX, idx_types, 1 },
	{ "reg-cal", "uk.westyorks", "index", "uk.westyorks", IDX, idx_types, 1 },
};
#define NSVC (sizeof(svcs) / sizeof(svcs[0]))

static Axle__V1__Envelope
group_env(const char *type)
{
	Axle__V1__Envelope e = env();

	axle__v1__service_group__init(&group);
	group.kind = IDX;
	group.prefix = (char *)"UK.westyorks";
	group.message_type = (char *)type;
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	e.to_group = &group;
	return e;
}

static void
test_copy_id_vector(void **state)
{
	uint8_t id[16], out[16], out2[16];
	static const uint8_t want[16] = {
		0x20, 0x05, 0xcd, 0xe0, 0xec, 0xa4, 0x86, 0x8b,
		0x4a, 0x2c, 0x65, 0xf4, 0xcd, 0x3e, 0x58, 0x10,
	};

	(void)state;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)i;
	/* SHA-256("axle.v1.group\0" || id || "reg-leeds\0" || "index")[0..16) */
	assert_int_equal(sw_group_copy_id(id, "reg-leeds", "index", out), 0);
	assert_memory_equal(out, want, 16);
	/* The NUL separates registrar from name: no ambiguity. */
	assert_int_equal(sw_group_copy_id(id, "reg-leed", "sindex", out2), 0);
	assert_memory_not_equal(out, out2, 16);
	id[0] ^= 1;
	assert_int_equal(sw_group_copy_id(id, "reg-leeds", "index", out2), 0);
	assert_memory_not_equal(out, out2, 16);
}

static void
test_expand(void **state)
{
	Axle__V1__Envelope e = group_env("index.query.v1");
	struct sw_group_copy out[16];
	uint8_t want[16];
	long n;

	(void)state;
	n = sw_group_expand(&e, svcs, NSVC, out, 16);
	/* Index kind, under uk.westyorks (label-aligned), accepting the type,
	 * valid address, once each: reg-brad/index, reg-cal/index, reg-leeds/index. */
	assert_int_equal(n, 3);
	assert_string_equal(out[0].service->registrar_id, "reg-brad");
	assert_string_equal(out[0].to, "uk.westyorks.bradford.idx");	/* folded */
	assert_string_equal(out[1].service->registrar_id, "reg-cal");
	assert_string_equal(out[1].to, "uk.westyorks");
	assert_string_equal(out[2].service->registrar_id, "reg-leeds");
	assert_string_equal(out[2].to, "uk.westyorks.leeds.idx");
	assert_int_equal(sw_group_copy_id(idbuf, "reg-leeds", "index", want), 0);
	assert_memory_equal(out[2].id, want, 16);
	assert_memory_not_equal(out[0].id, out[1].id, 16);
	assert_memory_not_equal(out[1].id, out[2].id, 16);
	assert_memory_not_equal(out[0].id, idbuf, 16);

	/* No message_type in the group: every index service under the prefix. */
	e = group_env("");
	n = sw_group_expand(&e, svcs, NSVC, out, 16);
	assert_int_equal(n, 4);
	assert_string_equal(out[1].service->name, "index-old");
	/* A type nobody accepts: nothing (the caller opens a recourse case). */
	e = group_env("nope");
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, out, 16), 0);
	assert_int_equal(sw_group_expand(&e, NULL, 0, out, 16), 0);
}

static void
test_expand_deterministic(void **state)
{
	Axle__V1__Envelope e = group_env("index.query.v1");
	struct sw_service rev[NSVC];
	struct sw_group_copy a[8], b[8], c[8];

	(void)state;
	for (size_t i = 0; i < NSVC; i++)
		rev[i] = svcs[NSVC - 1 - i];
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, a, 8), 3);
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, b, 8), 3);
	assert_int_equal(sw_group_expand(&e, rev, NSVC, c, 8), 3);
	for (int i = 0; i < 3; i++) {
		assert_memory_equal(a[i].id, b[i].id, 16);
		assert_memory_equal(a[i].id, c[i].id, 16);	/* order-free */
		assert_string_equal(a[i].to, c[i].to);
	}
	/* A too small array: the count of all, the first max written. */
	memset(b, 0, sizeof(b));
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, b, 2), 3);
	assert_memory_equal(a[0].id, b[0].id, 16);
	assert_memory_equal(a[1].id, b[1].id, 16);
	assert_null(b[2].service);
	/* Not a group envelope: -1. */
	e = env();
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, a, 8), -1);
	e = group_env("");
	group.prefix = (char *)"uk..x";
	assert_int_equal(sw_group_expand(&e, svcs, NSVC, a, 8), -1);
}

static void
test_trace_append_view(void **state)
{
	Axle__V1__Envelope e = env();
	struct sw_env_view v;
	const char *regs[] = { "uk.leeds" };

	(void)state;
	trace(&e, 1, regs);
	sw_view_init(&v, &e);
	assert_int_equal(sw_trace_append(&v, HERE, 42, NULL), 0);
	assert_int_equal(v.env.n_trace, 2);
	assert_string_equal(v.env.trace[0]->region, "uk.leeds");
	assert_string_equal(v.env.trace[1]->region, HERE);
	assert_int_equal(v.env.trace[1]->at_ms, 42);
	assert_true(sw_trace_contains(&v.env, HERE));
	assert_false(sw_trace_contains(&e, HERE));	/* original unchanged */
	assert_int_equal(e.n_trace, 1);
	sw_view_release(&v);
	sw_view_release(&v);				/* idempotent */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_standing),
		cmocka_unit_test(test_remote_goes_to_serving_node),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_redirect_starts_a_journey),
		cmocka_unit_test(test_hop_limit),
		cmocka_unit_test(test_group_route),
		cmocka_unit_test(test_copy_id_vector),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_deterministic),
		cmocka_unit_test(test_trace_append_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
