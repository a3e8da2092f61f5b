/* sw_envelope.c -- switch envelope checks, defaults, message ids and shallow views. Pure. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "gateway/net/grpc_status.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/pb.h"
#include "proto/text.h"
#include "registry/purpose.h"

static int why(char *reason, size_t len, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the reason and hands back status, so checks read as one line. */
static int
why(char *reason, size_t len, int status, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || len == 0)
		return status;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
	return status;
}

static size_t
lim_payload(const struct sw_limits *lim)
{
	return lim != NULL && lim->max_payload > 0 ? lim->max_payload :
	    SW_PAYLOAD_DEFAULT;
}

static uint32_t
lim_hops(const struct sw_limits *lim)
{
	if (lim != NULL && lim->default_hop_limit > 0)
		return lim->default_hop_limit <= SW_HOP_LIMIT_MAX ?
		    lim->default_hop_limit : SW_HOP_LIMIT_MAX;
	return SW_HOP_LIMIT_DEFAULT;
}

int
sw_address_of(const char *s, char out[ADDR_MAX_LEN + 1], char *err,
    size_t errlen)
{
	char local[ADDR_LOCAL_MAX + 1];

	out[0] = '\0';
	if (s == NULL || s[0] == '\0') {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "empty");
		return -1;
	}
	if (strchr(s, ':') != NULL)
		return registry_identifier_parse(s, strlen(s), out, local, err,
		    errlen);
	return registry_address_parse(s, strlen(s), out, err, errlen);
}

/*
 * Index of the first byte of s outside [lo, 0x7e], or -1. Strings from
 * pb_unpack are valid UTF-8; these fields are ASCII by contract.
 */
static long
bad_byte(const char *s, unsigned char lo)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < lo || c > 0x7e)
			return (long)i;
	}
	return -1;
}

static const char *
str(const char *s)
{
	return s != NULL ? s : "";
}

static int
check_id(const Axle__V1__Envelope *e, char *reason, size_t len)
{
	static const uint8_t zero[SW_ID_LEN];

	if (e->message_id.len != SW_ID_LEN)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "message_id: %zu "
		    "bytes, must be exactly %d", e->message_id.len, SW_ID_LEN);
	if (memcmp(e->message_id.data, zero, SW_ID_LEN) == 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "message_id: all "
		    "zero; generate 16 random bytes");
	return GRPC_OK;
}

static int
check_sender(const Axle__V1__Envelope *e, const struct net_identity *caller,
    char *reason, size_t len)
{
	char addr[ADDR_MAX_LEN + 1], err[200];

	if (sw_address_of(e->sender, addr, err, sizeof(err)) != 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "sender: not an "
		    "address or identifier: %s", err);
	if (caller == NULL)
		return why(reason, len, GRPC_PERMISSION_DENIED, "sender: no "
		    "verified caller to check %s against", addr);
	switch (caller->role) {
	case NET_ROLE_NODE:
		return GRPC_OK;
	case NET_ROLE_MEMBER:
		if (!net_authz_member_covers(caller, addr, err, sizeof(err)))
			return why(reason, len, GRPC_PERMISSION_DENIED,
			    "sender: %s", err);
		return GRPC_OK;
	case NET_ROLE_ADMIN:
		if (!registry_address_covers(caller->address, addr))
			return why(reason, len, GRPC_PERMISSION_DENIED, "sender: "
			    "admin of %s may not send as %s (outside its region)",
			    caller->address, addr);
		return GRPC_OK;
	}
	return why(reason, len, GRPC_PERMISSION_DENIED, "sender: caller has "
	    "no known role");
}

static int
check_msgtype(const char *field, const char *s, bool required, char *reason,
    size_t len)
{
	size_t n = strlen(str(s));
	long at;

	if (n == 0 && required)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "%s: empty, must "
		    "be 1-%d bytes", field, SW_MSGTYPE_MAX);
	if (n > SW_MSGTYPE_MAX)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "%s: %zu bytes, at "
		    "most %d", field, n, SW_MSGTYPE_MAX);
	if (n > 0 && (at = bad_byte(s, 0x21)) >= 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "%s: byte %ld is "
		    "not printable ASCII (0x21-0x7e)", field, at);
	return GRPC_OK;
}

static int
check_recipient(const Axle__V1__Envelope *e, char *reason, size_t len)
{
	char addr[ADDR_MAX_LEN + 1], err[200];
	const Axle__V1__ServiceGroup *g;

	switch (e->recipient_case) {
	case AXLE__V1__ENVELOPE__RECIPIENT_TO:
		if (sw_address_of(e->to, addr, err, sizeof(err)) != 0)
			return why(reason, len, GRPC_INVALID_ARGUMENT, "to: not an "
			    "address or identifier: %s", err);
		return GRPC_OK;
	case AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP:
		g = e->to_group;
		if (g == NULL)
			break;
		if (registry_address_parse(str(g->prefix), strlen(str(g->prefix)),
		    addr, err, sizeof(err)) != 0)
			return why(reason, len, GRPC_INVALID_ARGUMENT, "to_group."
			    "prefix: not an address: %s", err);
		if (g->kind < AXLE__V1__SERVICE_KIND__SERVICE_KIND_PORTAL ||
		    g->kind > AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX)
			return why(reason, len, GRPC_INVALID_ARGUMENT, "to_group."
			    "kind: %d is not a service kind (portal 1, switch 2, "
			    "index 3)", (int)g->kind);
		return check_msgtype("to_group.message_type", g->message_type,
		    false, reason, len);
	default:
		break;
	}
	return why(reason, len, GRPC_INVALID_ARGUMENT, "to: neither to nor "
	    "to_group is set");
}

static int
check_text(const Axle__V1__Envelope *e, char *reason, size_t len)
{
	char w[200];
	size_t n;
	long at;
	int rc;

	if ((rc = check_msgtype("message_type", e->message_type, true, reason,
	    len)) != GRPC_OK)
		return rc;
	if ((n = strlen(str(e->context))) > SW_CONTEXT_MAX)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "context: %zu "
		    "bytes, at most %d", n, SW_CONTEXT_MAX);
	if ((at = bad_byte(str(e->context), 0x20)) >= 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "context: byte %ld "
		    "is not printable ASCII (0x20-0x7e)", at);
	if ((n = strlen(str(e->content_type))) > SW_CONTENT_TYPE_MAX)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "content_type: %zu "
		    "bytes, at most %d", n, SW_CONTENT_TYPE_MAX);
	if ((at = bad_byte(str(e->content_type), 0x20)) >= 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "content_type: "
		    "byte %ld is not printable ASCII (0x20-0x7e)", at);
	if (str(e->purpose)[0] != '\0' && !registry_purpose_valid(e->purpose,
	    w, sizeof(w)))
		return why(reason, len, GRPC_INVALID_ARGUMENT, "%s", w);
	return GRPC_OK;
}

static int
check_times(const Axle__V1__Envelope *e, const struct net_identity *caller,
    int64_t now_ms, char *reason, size_t len)
{
	int64_t created = e->created_ms != 0 ? e->created_ms : now_ms;

	if (e->created_ms < 0)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "created_ms: %lld "
		    "is negative", (long long)e->created_ms);
	if (e->created_ms == 0 && e->signature != NULL)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "created_ms: a signed "
		    "envelope must carry its creation time (the signature covers it)");
	if (created > now_ms && created - now_ms > SW_FUTURE_SKEW_MS)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "created_ms: %lld "
		    "ms in the future, at most %d (check the sender's clock)",
		    (long long)(created - now_ms), SW_FUTURE_SKEW_MS);
	if (e->deliver_by_ms != 0 && e->deliver_by_ms <= created)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "deliver_by_ms: "
		    "%lld is not after created_ms %lld",
		    (long long)e->deliver_by_ms, (long long)created);
	if (e->reply_by_ms != 0 && e->reply_by_ms <= created)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "reply_by_ms: "
		    "%lld is not after created_ms %lld",
		    (long long)e->reply_by_ms, (long long)created);
	if (e->deliver_by_ms != 0 && e->deliver_by_ms <= now_ms &&
	    (caller == NULL || caller->role != NET_ROLE_NODE))
		return why(reason, len, GRPC_FAILED_PRECONDITION, "deliver_by_ms: "
		    "delivery deadline already passed (%lld ms ago)",
		    (long long)(now_ms - e->deliver_by_ms));
	return GRPC_OK;
}

static int
check_hops(const Axle__V1__Envelope *e, const struct sw_limits *lim,
    char *reason, size_t len)
{
	uint32_t limit = e->hop_limit != 0 ? e->hop_limit : lim_hops(lim);
	char addr[ADDR_MAX_LEN + 1], err[200];
	size_t journey = e->n_trace;

	if (e->hop_limit > SW_HOP_LIMIT_MAX)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "hop_limit: %u, at "
		    "most %d", e->hop_limit, SW_HOP_LIMIT_MAX);
	if (e->n_trace > SW_TRACE_MAX)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "trace: %zu hops, "
		    "at most %d", e->n_trace, SW_TRACE_MAX);
	for (size_t i = 0; i < e->n_trace; i++) {
		const char *r = e->trace[i] != NULL ? str(e->trace[i]->region) : "";
		const char *rc = e->trace[i] != NULL ? str(e->trace[i]->redirect_case) : "";

		if (registry_address_parse(r, strlen(r), addr, err,
		    sizeof(err)) != 0)
			return why(reason, len, GRPC_INVALID_ARGUMENT, "trace[%zu]."
			    "region: not an address: %s", i, err);
		if (strlen(rc) > SW_REDIRECT_CASE_MAX || bad_byte(rc, 0x21) >= 0)
			return why(reason, len, GRPC_INVALID_ARGUMENT, "trace[%zu]."
			    "redirect_case: at most %d bytes of printable ASCII",
			    i, SW_REDIRECT_CASE_MAX);
		if (rc[0] != '\0')
			journey = e->n_trace - i - 1;	/* hops since the redirect */
	}
	if (journey > limit)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "trace: %zu hops%s, "
		    "more than the hop limit %u", journey, journey == e->n_trace ?
		    "" : " since the last redirect", limit);
	return GRPC_OK;
}

int
sw_envelope_check(const Axle__V1__Envelope *e,
    const struct net_identity *caller, int64_t now_ms,
    const struct sw_limits *lim, char *reason, size_t len)
{
	int rc;

	if (reason != NULL && len > 0)
		reason[0] = '\0';
	if (e == NULL)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "envelope: missing");
	if ((rc = check_id(e, reason, len)) != GRPC_OK ||
	    (rc = check_sender(e, caller, reason, len)) != GRPC_OK ||
	    (rc = check_recipient(e, reason, len)) != GRPC_OK ||
	    (rc = check_text(e, reason, len)) != GRPC_OK ||
	    (rc = check_hops(e, lim, reason, len)) != GRPC_OK)
		return rc;
	if (e->failure_policy != AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE &&
	    e->failure_policy != AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN &&
	    e->failure_policy != AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD)
		return why(reason, len, GRPC_INVALID_ARGUMENT, "failure_policy: "
		    "%d is not a policy (escalate 0, return 1, discard 2)",
		    (int)e->failure_policy);
	if (e->payload.len > lim_payload(lim))
		return why(reason, len, GRPC_INVALID_ARGUMENT, "payload: %zu "
		    "bytes, at most %zu (this node's [switch] max_payload)",
		    e->payload.len, lim_payload(lim));
	/* Deadlines last: a malformed envelope is INVALID_ARGUMENT first. */
	return check_times(e, caller, now_ms, reason, len);
}

/* Lower-cases the address part (up to ':') in place. */
static void
fold_address_part(char *s)
{
	for (; s != NULL && *s != '\0' && *s != ':'; s++)
		*s = (char)tolower((unsigned char)*s);
}

void
sw_envelope_normalise(Axle__V1__Envelope *e, int64_t now_ms,
    const struct sw_limits *lim)
{
	if (e->hop_limit == 0)
		e->hop_limit = lim_hops(lim);
	if (e->created_ms == 0)
		e->created_ms = now_ms;
	/* A signed envelope keeps its signed fields as they are. */
	if (e->deliver_by_ms == 0 && e->signature == NULL && lim != NULL &&
	    lim->default_deliver_by_ms > 0)
		e->deliver_by_ms = (e->created_ms > now_ms ? e->created_ms : now_ms) +
		    lim->default_deliver_by_ms;
	fold_address_part(e->sender);
	if (e->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO)
		fold_address_part(e->to);
	else if (e->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP &&
	    e->to_group != NULL)
		fold_address_part(e->to_group->prefix);
}

void
sw_envelope_given(const Axle__V1__Envelope *e, struct sw_given *g)
{
	g->created_ms = e->created_ms;
	g->deliver_by_ms = e->deliver_by_ms;
	g->hop_limit = e->hop_limit;
}

int
sw_envelope_digest(const Axle__V1__Envelope *e, const struct sw_given *g,
    uint8_t out[SW_DIGEST_LEN])
{
	Axle__V1__Envelope c = *e;	/* shallow: packed, never freed */
	uint8_t *b;
	size_t len;

	c.n_trace = 0;
	c.trace = NULL;
	if (g != NULL) {
		c.created_ms = g->created_ms;
		c.deliver_by_ms = g->deliver_by_ms;
		c.hop_limit = g->hop_limit;
	}
	if ((b = pb_pack(&c.base, 0, &len)) == NULL)
		return -1;
	SHA256(b, len, out);
	free(b);
	return 0;
}

char *
sw_message_id_hex(const uint8_t *id, char out[SW_ID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SW_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 0xf];
	}
	out[SW_ID_HEX_LEN] = '\0';
	return out;
}

int
sw_message_id_parse(const char *hex, size_t len, uint8_t id[SW_ID_LEN])
{
	if (hex == NULL || len != SW_ID_HEX_LEN)
		return -1;
	for (size_t i = 0; i < SW_ID_LEN; i++) {
		int hi = axle_hexval(hex[2 * i]), lo = axle_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
sw_view_init(struct sw_env_view *v, const Axle__V1__Envelope *e)
{
	memset(v, 0, sizeof(*v));
	v->env = *e;
}

void
sw_view_set_recipient(struct sw_env_view *v, const uint8_t id[SW_ID_LEN],
    const char *to)
{
	memcpy(v->id, id, SW_ID_LEN);
	v->env.message_id.data = v->id;
	v->env.message_id.len = SW_ID_LEN;
	snprintf(v->to, sizeof(v->to), "%s", to);
	v->env.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	v->env.to = v->to;
}

uint8_t *
sw_view_pack(const struct sw_env_view *v, size_t headroom, size_t *outlen)
{
	return pb_pack(&v->env.base, headroom, outlen);
}

void
sw_view_release(struct sw_env_view *v)
{
	free(v->trace);
	v->trace = NULL;
}

/* --- sealed payloads --------------------------------------------------------------- */

/* s[0..n) with spaces and tabs cut at both ends. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static bool
word_is(const char *s, size_t n, const char *want)
{
	trim(&s, &n);
	return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

/* application/pkcs7-mime with a parameter smime-type=authEnveloped-data. */
static bool
sealed_ct(const char *ct)
{
	const char *semi, *eq, *end;
	bool type = false;

	if (ct == NULL || (semi = strchr(ct, ';')) == NULL ||
	    !word_is(ct, (size_t)(semi - ct), "application/pkcs7-mime"))
		return false;
	for (const char *p = semi + 1; *p != '\0' && !type; p = *end ? end + 1 : end) {
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		type = eq != NULL && word_is(p, (size_t)(eq - p), "smime-type") &&
		    (word_is(eq + 1, (size_t)(end - eq - 1), "authEnveloped-data") ||
		    word_is(eq + 1, (size_t)(end - eq - 1), "\"authEnveloped-data\""));
	}
	return type;
}

bool
sw_payload_sealed(const Axle__V1__Envelope *e)
{
	/* OBJECT IDENTIFIER 1.2.840.113549.1.9.16.1.23, DER. */
	static const uint8_t oid[] = { 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x09, 0x10, 0x01, 0x17 };
	const uint8_t *p = e->payload.data;
	size_t n = e->payload.len, hdr;

	if (!sealed_ct(e->content_type) || n < 2 || p[0] != 0x30)
		return false;
	/* The outer SEQUENCE's length: short form, or long form of 1..4 bytes. */
	if (p[1] < 0x80)
		hdr = 2;
	else if (p[1] > 0x80 && p[1] <= 0x84)
		hdr = 2 + (size_t)(p[1] & 0x7f);
	else
		return false;
	return n >= hdr + sizeof(oid) && memcmp(p + hdr, oid, sizeof(oid)) == 0;
}
