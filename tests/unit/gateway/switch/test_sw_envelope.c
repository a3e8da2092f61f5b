/* test_sw_envelope.c -- envelope checks (every field's limits, status and a reason naming the field), defaults, ids, views. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/net/grpc_status.h"
#include "gateway/switch/sw_envelope.h"
#include "gateway/switch/sw_route.h"
#include "proto/pb.h"

#define NOW 1700000000000LL

static uint8_t idbuf[32];
static char sbuf[6][400];
static Axle__V1__ServiceGroup group;
static Axle__V1__TraceHop hops[70];
static Axle__V1__TraceHop *hopp[70];
static struct net_identity member, node, admin;
static char reason[400];

/* A valid envelope from uk.london.lewisham to uk.leeds.social-care. */
static Axle__V1__Envelope
good(void)
{
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;

	for (int i = 0; i < 16; i++)
		idbuf[i] = (uint8_t)(i + 1);
	e.message_id.data = idbuf;
	e.message_id.len = 16;
	e.sender = strcpy(sbuf[0], "uk.london.lewisham.swift:0042");
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = strcpy(sbuf[1], "uk.leeds.social-care");
	e.message_type = strcpy(sbuf[2], "referral.v2");
	e.context = strcpy(sbuf[3], "case 77/A");
	e.content_type = strcpy(sbuf[4], "application/jose");
	e.created_ms = NOW - 1000;
	e.deliver_by_ms = NOW + 3600000;
	e.reply_by_ms = 0;
	e.hop_limit = 8;
	e.payload.data = (uint8_t *)"opaque";
	e.payload.len = 6;
	return e;
}

static int
setup(void **state)
{
	(void)state;
	memset(&member, 0, sizeof(member));
	member.role = NET_ROLE_MEMBER;
	strcpy(member.address, "uk.london.lewisham");
	node = member;
	node.role = NET_ROLE_NODE;
	strcpy(node.address, "uk.leeds");
	admin = member;
	admin.role = NET_ROLE_ADMIN;
	strcpy(admin.address, "uk.london");
	strcpy(admin.user, "jsmith");
	for (int i = 0; i < 70; i++) {
		axle__v1__trace_hop__init(&hops[i]);
		hops[i].region = (char *)"uk.x";
		hopp[i] = &hops[i];
	}
	return 0;
}

/* Runs the check as the member with a 1000-byte payload limit. */
static int
check_as(const Axle__V1__Envelope *e, const struct net_identity *who)
{
	struct sw_limits lim = { .max_payload = 1000 };

	memset(reason, 'Z', sizeof(reason));
	return sw_envelope_check(e, who, NOW, &lim, reason, sizeof(reason));
}

/* Asserts e is refused with status, a reason starting "field:" and containing want. */
static void
refused(const Axle__V1__Envelope *e, const struct net_identity *who,
    int status, const char *field, const char *want)
{
	char pre[64];

	assert_int_equal(check_as(e, who), status);
	snprintf(pre, sizeof(pre), "%s:", field);
	if (strncmp(reason, pre, strlen(pre)) != 0 || strstr(reason, want) == NULL)
		fail_msg("reason \"%s\" should start with \"%s\" and contain \"%s\"",
		    reason, pre, want);
}

static void
accepted(const Axle__V1__Envelope *e, const struct net_identity *who)
{
	int rc = check_as(e, who);

	if (rc != GRPC_OK)
		fail_msg("refused (%d): %s", rc, reason);
	assert_string_equal(reason, "");
}

/* A string of n copies of c. */
static char *
rep(int slot, char c, size_t n)
{
	assert_true(n < sizeof(sbuf[slot]));
	memset(sbuf[slot], c, n);
	sbuf[slot][n] = '\0';
	return sbuf[slot];
}

static void
test_good_envelope(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	accepted(&e, &member);
	accepted(&e, &node);
	e.sender = (char *)"uk.london";
	accepted(&e, &admin);
	e.sender = (char *)"UK.London.Lewisham";	/* folded before the prefix test */
	accepted(&e, &member);
	assert_int_equal(sw_envelope_check(NULL, &member, NOW, NULL, reason,
	    sizeof(reason)), GRPC_INVALID_ARGUMENT);
}

static void
test_message_id(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.message_id.len = 15;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_id", "exactly 16");
	e.message_id.len = 17;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_id", "17 bytes");
	e.message_id.len = 0;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_id", "0 bytes");
	e.message_id.len = 16;
	memset(idbuf, 0, 16);
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_id", "all zero");
	idbuf[15] = 1;
	accepted(&e, &member);
}

static void
test_sender(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.sender = (char *)"";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "sender", "empty");
	e.sender = (char *)"uk..london";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "sender", "not an address");
	e.sender = (char *)"uk.london.lewisham:";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "sender", "not an address");
	e.sender = (char *)"uk.london.southwark:0042";
	refused(&e, &member, GRPC_PERMISSION_DENIED, "sender", "outside its prefix");
	e.sender = (char *)"uk.london.lewishamx";	/* label-aligned only */
	refused(&e, &member, GRPC_PERMISSION_DENIED, "sender", "uk.london.lewishamx");
	e.sender = (char *)"uk.london";			/* the parent is outside too */
	refused(&e, &member, GRPC_PERMISSION_DENIED, "sender", "outside");
	/* A node forwards others' traffic: not its prefix to answer for. */
	e.sender = (char *)"uk.london.southwark:0042";
	accepted(&e, &node);
	/* An admin sends only from within its node's region. */
	e.sender = (char *)"uk.leeds.x";
	refused(&e, &admin, GRPC_PERMISSION_DENIED, "sender", "admin of uk.london");
	refused(&e, NULL, GRPC_PERMISSION_DENIED, "sender", "no verified caller");
}

static void
test_recipient(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT__NOT_SET;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to", "neither to nor to_group");
	e = good();
	e.to = (char *)"uk.leeds.-bad";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to", "not an address");
	e.to = (char *)"";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to", "empty");
	e.to = (char *)"uk.leeds.swift:XY-9";
	accepted(&e, &member);
	e.to = (char *)"uk.leeds.swift:has space";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to", "not an address");

	axle__v1__service_group__init(&group);
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	e.to_group = &group;
	group.prefix = (char *)"uk.westyorks";
	group.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX;
	accepted(&e, &member);
	group.message_type = (char *)"index.query.v1";
	accepted(&e, &member);
	group.message_type = (char *)"index query";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to_group.message_type",
	    "printable");
	group.message_type = (char *)"";
	group.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_UNSPECIFIED;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to_group.kind",
	    "not a service kind");
	group.kind = (Axle__V1__ServiceKind)9;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to_group.kind", "9");
	group.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_PORTAL;
	group.prefix = (char *)"uk.westyorks:1";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to_group.prefix",
	    "not an address");
	group.prefix = (char *)"";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to_group.prefix",
	    "not an address");
	e.to_group = NULL;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "to", "neither");
}

static void
test_message_type_context_content_type(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.message_type = (char *)"";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_type", "1-128");
	e.message_type = rep(5, 't', 128);
	accepted(&e, &member);
	e.message_type = rep(5, 't', 129);
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_type",
	    "129 bytes, at most 128");
	e.message_type = (char *)"referral v2";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_type", "byte 8");
	e.message_type = (char *)"referral\tv2";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_type", "byte 8");
	e.message_type = (char *)"r\x7f";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "message_type", "byte 1");

	e = good();
	e.context = rep(5, 'c', 256);
	accepted(&e, &member);
	e.context = rep(5, 'c', 257);
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "context",
	    "257 bytes, at most 256");
	e.context = (char *)"line\nbreak";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "context", "byte 4");
	e.context = (char *)"";
	accepted(&e, &member);

	e = good();
	e.content_type = rep(5, 'x', 128);
	accepted(&e, &member);
	e.content_type = rep(5, 'x', 129);
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "content_type",
	    "129 bytes, at most 128");
	e.content_type = (char *)"text/plain;\r";
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "content_type", "byte 11");
	e.content_type = (char *)"";
	accepted(&e, &member);
}

static void
test_times(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.created_ms = -5;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "created_ms", "negative");
	e.created_ms = NOW + SW_FUTURE_SKEW_MS;
	accepted(&e, &member);
	e.created_ms = NOW + SW_FUTURE_SKEW_MS + 1;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "created_ms",
	    "ms in the future, at most 300000");
	e.created_ms = 0;				/* "now" */
	accepted(&e, &member);
	e.created_ms = 1;				/* very old is fine */
	accepted(&e, &member);
	{	/* signed: the signature covers created_ms, so "now" will not do */
		Axle__V1__EnvelopeSignature sig = AXLE__V1__ENVELOPE_SIGNATURE__INIT;

		e.signature = &sig;
		accepted(&e, &member);
		e.created_ms = 0;
		refused(&e, &member, GRPC_INVALID_ARGUMENT, "created_ms",
		    "a signed envelope must carry its creation time");
		e.signature = NULL;
	}

	e = good();
	e.deliver_by_ms = e.created_ms;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "deliver_by_ms",
	    "not after created_ms");
	e.deliver_by_ms = NOW;				/* passing now */
	refused(&e, &member, GRPC_FAILED_PRECONDITION, "deliver_by_ms",
	    "delivery deadline already passed");
	e.deliver_by_ms = NOW - 10;
	refused(&e, &member, GRPC_FAILED_PRECONDITION, "deliver_by_ms",
	    "already passed (10 ms ago)");
	/* From a node: committed, then the failure policy applies. */
	accepted(&e, &node);
	e.deliver_by_ms = NOW + 1;
	accepted(&e, &member);
	e.deliver_by_ms = 0;				/* not set */
	accepted(&e, &member);
	e.created_ms = 0;
	e.deliver_by_ms = NOW;				/* not after "now" */
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "deliver_by_ms",
	    "not after created_ms");

	e = good();
	e.reply_by_ms = e.created_ms;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "reply_by_ms",
	    "not after created_ms");
	e.reply_by_ms = e.created_ms - 1;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "reply_by_ms", "not after");
	e.reply_by_ms = e.created_ms + 1;		/* may already be past */
	accepted(&e, &member);
}

static void
test_hops_and_trace(void **state)
{
	Axle__V1__Envelope e = good();

	(void)state;
	e.hop_limit = 64;
	accepted(&e, &member);
	e.hop_limit = 65;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "hop_limit", "65, at most 64");
	e.hop_limit = 3;
	e.trace = hopp;
	e.n_trace = 3;
	accepted(&e, &node);
	e.n_trace = 4;
	refused(&e, &node, GRPC_INVALID_ARGUMENT, "trace",
	    "4 hops, more than the hop limit 3");
	e.hop_limit = 0;		/* the default, 16 */
	e.n_trace = 16;
	accepted(&e, &node);
	e.n_trace = 17;
	refused(&e, &node, GRPC_INVALID_ARGUMENT, "trace", "hop limit 16");
	/* A redirect starts a new journey: the limit counts the hops after it. */
	hops[2].redirect_case = (char *)"uk.london/7";
	accepted(&e, &node);
	e.n_trace = 20;
	refused(&e, &node, GRPC_INVALID_ARGUMENT, "trace",
	    "17 hops since the last redirect, more than the hop limit 16");
	hops[2].redirect_case = (char *)"uk.london/7\n";
	e.n_trace = 3;
	refused(&e, &node, GRPC_INVALID_ARGUMENT, "trace[2].redirect_case",
	    "printable ASCII");
	hops[2].redirect_case = NULL;
	e.n_trace = 2;
	hops[1].region = (char *)"uk..leeds";
	refused(&e, &node, GRPC_INVALID_ARGUMENT, "trace[1].region",
	    "not an address");
	hops[1].region = (char *)"uk.x";
	e.hop_limit = 0;
	{
		struct sw_limits lim = { .default_hop_limit = 2 };

		e.n_trace = 3;
		assert_int_equal(sw_envelope_check(&e, &node, NOW, &lim, reason,
		    sizeof(reason)), GRPC_INVALID_ARGUMENT);
		assert_non_null(strstr(reason, "hop limit 2"));
	}
}

static void
test_policy_and_payload(void **state)
{
	Axle__V1__Envelope e = good();
	static uint8_t big[SW_PAYLOAD_DEFAULT + 1];

	(void)state;
	e.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD;
	accepted(&e, &member);
	e.failure_policy = (Axle__V1__FailurePolicy)3;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "failure_policy",
	    "3 is not a policy");
	e = good();
	e.payload.data = big;
	e.payload.len = 1000;
	accepted(&e, &member);
	e.payload.len = 1001;
	refused(&e, &member, GRPC_INVALID_ARGUMENT, "payload",
	    "1001 bytes, at most 1000");
	e.payload.len = 0;
	accepted(&e, &member);
	/* No limits given: 1 MiB. */
	e.payload.len = SW_PAYLOAD_DEFAULT;
	assert_int_equal(sw_envelope_check(&e, &member, NOW, NULL, reason,
	    sizeof(reason)), GRPC_OK);
	e.payload.len = SW_PAYLOAD_DEFAULT + 1;
	assert_int_equal(sw_envelope_check(&e, &member, NOW, NULL, reason,
	    sizeof(reason)), GRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(reason, "at most 1048576"));
}

static void
test_reason_truncation(void **state)
{
	Axle__V1__Envelope e = good();
	char small[8];

	(void)state;
	e.message_id.len = 3;
	memset(small, 'Z', sizeof(small));
	assert_int_equal(sw_envelope_check(&e, &member, NOW, NULL, small,
	    sizeof(small)), GRPC_INVALID_ARGUMENT);
	assert_string_equal(small, "message");
	assert_int_equal(sw_envelope_check(&e, &member, NOW, NULL, NULL, 0),
	    GRPC_INVALID_ARGUMENT);
}

static void
test_normalise(void **state)
{
	Axle__V1__Envelope e = good();
	struct sw_limits lim = { .default_hop_limit = 9 };

	(void)state;
	e.sender = strcpy(sbuf[0], "UK.London.Lewisham.SWIFT:AbC");
	e.to = strcpy(sbuf[1], "UK.Leeds:XyZ");
	e.hop_limit = 0;
	e.created_ms = 0;
	accepted(&e, &member);
	sw_envelope_normalise(&e, NOW, NULL);
	assert_string_equal(e.sender, "uk.london.lewisham.swift:AbC");
	assert_string_equal(e.to, "uk.leeds:XyZ");
	assert_int_equal(e.hop_limit, SW_HOP_LIMIT_DEFAULT);
	assert_int_equal(e.created_ms, NOW);
	e.hop_limit = 0;
	sw_envelope_normalise(&e, NOW + 5, &lim);
	assert_int_equal(e.hop_limit, 9);
	assert_int_equal(e.created_ms, NOW);		/* set: kept */
	e.hop_limit = 5;
	sw_envelope_normalise(&e, NOW, &lim);
	assert_int_equal(e.hop_limit, 5);

	axle__v1__service_group__init(&group);
	group.prefix = strcpy(sbuf[5], "UK.WestYorks");
	group.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX;
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	e.to_group = &group;
	sw_envelope_normalise(&e, NOW, NULL);
	assert_string_equal(group.prefix, "uk.westyorks");
}

/* deliver_by_ms 0 gets the node's default after acceptance (or created, if later). */
static void
test_normalise_deliver_by(void **state)
{
	Axle__V1__Envelope e = good();
	struct sw_limits lim = { .default_deliver_by_ms = 60000 };

	(void)state;
	e.deliver_by_ms = 0;
	sw_envelope_normalise(&e, NOW, NULL);
	assert_int_equal(e.deliver_by_ms, 0);		/* no default: none */
	sw_envelope_normalise(&e, NOW, &lim);
	assert_int_equal(e.deliver_by_ms, NOW + 60000);
	sw_envelope_normalise(&e, NOW + 5000, &lim);
	assert_int_equal(e.deliver_by_ms, NOW + 60000);	/* set: kept */
	e.deliver_by_ms = 0;
	e.created_ms = NOW + 120000;			/* ahead, within the skew */
	sw_envelope_normalise(&e, NOW, &lim);
	assert_int_equal(e.deliver_by_ms, NOW + 180000);
	{	/* signed: no default written into a signed field */
		Axle__V1__EnvelopeSignature sig = AXLE__V1__ENVELOPE_SIGNATURE__INIT;

		e.deliver_by_ms = 0;
		e.signature = &sig;
		sw_envelope_normalise(&e, NOW, &lim);
		assert_int_equal(e.deliver_by_ms, 0);
	}
}

/*
 * The digest kept with a dedup mark: the same envelope whatever the trace,
 * the case of its addresses or the defaults a node filled in; any other
 * field changes it.
 */
static void
test_digest(void **state)
{
	Axle__V1__Envelope e = good(), f;
	Axle__V1__TraceHop hop = AXLE__V1__TRACE_HOP__INIT, *one[1] = { &hop };
	struct sw_limits lim = { .default_hop_limit = 9, .default_deliver_by_ms = 1000 };
	uint8_t d1[SW_DIGEST_LEN], d2[SW_DIGEST_LEN];
	struct sw_given g;

	(void)state;
	assert_int_equal(sw_envelope_digest(&e, NULL, d1), 0);
	f = e;
	hop.region = (char *)"uk.london";
	hop.at_ms = NOW;
	f.trace = one;
	f.n_trace = 1;
	assert_int_equal(sw_envelope_digest(&f, NULL, d2), 0);
	assert_memory_equal(d1, d2, SW_DIGEST_LEN);	/* trace left out */

	/* Filled defaults count as the sender gave them; case folds first. */
	e.created_ms = 0;
	e.deliver_by_ms = 0;
	e.hop_limit = 0;
	e.to = strcpy(sbuf[1], "UK.Leeds.Social-Care");
	sw_envelope_given(&e, &g);
	sw_envelope_normalise(&e, NOW, &lim);
	assert_int_not_equal(e.deliver_by_ms, 0);
	assert_int_equal(sw_envelope_digest(&e, &g, d1), 0);
	f = good();
	f.created_ms = 0;
	f.deliver_by_ms = 0;
	f.hop_limit = 0;
	sw_envelope_given(&f, &g);
	sw_envelope_normalise(&f, NOW + 777, &lim);	/* a retry, later */
	assert_int_equal(sw_envelope_digest(&f, &g, d2), 0);
	assert_memory_equal(d1, d2, SW_DIGEST_LEN);

	/* Another payload, recipient or type: another digest. */
	f.payload.data = (uint8_t *)"opaquE";
	assert_int_equal(sw_envelope_digest(&f, &g, d2), 0);
	assert_memory_not_equal(d1, d2, SW_DIGEST_LEN);
	f.payload = e.payload;
	f.message_type = (char *)"referral.v3";
	assert_int_equal(sw_envelope_digest(&f, &g, d2), 0);
	assert_memory_not_equal(d1, d2, SW_DIGEST_LEN);
	f.message_type = e.message_type;
	f.to = (char *)"uk.leeds.education";
	assert_int_equal(sw_envelope_digest(&f, &g, d2), 0);
	assert_memory_not_equal(d1, d2, SW_DIGEST_LEN);
	f.to = e.to;
	assert_int_equal(sw_envelope_digest(&f, &g, d2), 0);
	assert_memory_equal(d1, d2, SW_DIGEST_LEN);
}

static void
test_message_id_hex(void **state)
{
	uint8_t id[16], back[16];
	char hex[SW_ID_HEX_LEN + 1];

	(void)state;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xf0 + i * 7);
	assert_ptr_equal(sw_message_id_hex(id, hex), hex);
	assert_string_equal(hex, "f0f7fe050c131a21282f363d444b5259");
	assert_int_equal(sw_message_id_parse(hex, 32, back), 0);
	assert_memory_equal(id, back, 16);
	assert_int_equal(sw_message_id_parse("F0F7FE050C131A21282F363D444B5259",
	    32, back), 0);
	assert_memory_equal(id, back, 16);
	assert_int_equal(sw_message_id_parse(hex, 31, back), -1);
	assert_int_equal(sw_message_id_parse("g0f7fe050c131a21282f363d444b5259",
	    32, back), -1);
	assert_int_equal(sw_message_id_parse(NULL, 32, back), -1);
}

static void
test_view_repack(void **state)
{
	Axle__V1__Envelope e = good(), *u, *w;
	struct sw_env_view v;
	uint8_t nid[16], *buf, *buf2;
	size_t len, len2;
	char err[200];

	(void)state;
	e.trace = hopp;
	e.n_trace = 1;
	hops[0].region = (char *)"uk.london";
	hops[0].at_ms = NOW - 5;
	/* Round-trip through pb_unpack so the view runs on pb-owned memory. */
	assert_non_null(buf = pb_pack(&e.base, 0, &len));
	u = PB_UNPACK(Axle__V1__Envelope, axle__v1__envelope, buf, len, len,
	    err, sizeof(err));
	assert_non_null(u);
	free(buf);

	memset(nid, 0xab, sizeof(nid));
	sw_view_init(&v, u);
	sw_view_set_recipient(&v, nid, "uk.leeds.index");
	assert_int_equal(sw_trace_append(&v, "uk.leeds", NOW, NULL), 0);
	assert_int_equal(sw_trace_append(&v, "uk.leeds", NOW, NULL), -EINVAL);
	assert_non_null(buf2 = sw_view_pack(&v, 5, &len2));
	sw_view_release(&v);

	/* The original is untouched ... */
	assert_int_equal(u->n_trace, 1);
	assert_string_equal(u->to, "uk.leeds.social-care");
	assert_memory_equal(u->message_id.data, idbuf, 16);
	/* ... and the copy carries the new id, to and hop. */
	w = PB_UNPACK(Axle__V1__Envelope, axle__v1__envelope, buf2 + 5,
	    len2 - 5, len2, err, sizeof(err));
	assert_non_null(w);
	assert_memory_equal(w->message_id.data, nid, 16);
	assert_int_equal(w->recipient_case, AXLE__V1__ENVELOPE__RECIPIENT_TO);
	assert_string_equal(w->to, "uk.leeds.index");
	assert_int_equal(w->n_trace, 2);
	assert_string_equal(w->trace[0]->region, "uk.london");
	assert_string_equal(w->trace[1]->region, "uk.leeds");
	assert_int_equal(w->trace[1]->at_ms, NOW);
	assert_string_equal(w->sender, u->sender);
	assert_int_equal(w->payload.len, 6);
	assert_memory_equal(w->payload.data, "opaque", 6);
	pb_free(&w->base);
	pb_free(&u->base);
	free(buf2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_envelope),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_sender),
		cmocka_unit_test(test_recipient),
		cmocka_unit_test(test_message_type_context_content_type),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_hops_and_trace),
		cmocka_unit_test(test_policy_and_payload),
		cmocka_unit_test(test_reason_truncation),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_normalise_deliver_by),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_message_id_hex),
		cmocka_unit_test(test_view_repack),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
