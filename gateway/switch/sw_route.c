/* sw_route.c -- where an envelope goes from this node, trace and hop rules, and group expansion. Pure. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway/switch/sw_route.h"

static void route_set(struct sw_route *out, enum sw_route_kind kind,
    Axle__V1__CaseReason code, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
route_set(struct sw_route *out, enum sw_route_kind kind,
    Axle__V1__CaseReason code, const char *target, const char *fmt, ...)
{
	va_list ap;

	out->kind = kind;
	out->code = code;
	snprintf(out->target, sizeof(out->target), "%s",
	    target != NULL ? target : "");
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

const char *
sw_route_kind_name(enum sw_route_kind kind)
{
	switch (kind) {
	case SW_ROUTE_RECOURSE:		return "recourse";
	case SW_ROUTE_LOCAL_MAILBOX:	return "local_mailbox";
	case SW_ROUTE_HOLD:		return "hold";
	case SW_ROUTE_PEER:		return "peer";
	case SW_ROUTE_EXPAND:		return "expand";
	}
	return "unknown";
}

static bool
hop_redirects(const Axle__V1__TraceHop *h)
{
	return h != NULL && h->redirect_case != NULL && h->redirect_case[0] != '\0';
}

size_t
sw_trace_journey(const Axle__V1__Envelope *e)
{
	for (size_t i = e->n_trace; i > 0; i--)
		if (hop_redirects(e->trace[i - 1]))
			return i;
	return 0;
}

uint32_t
sw_trace_redirects(const Axle__V1__Envelope *e)
{
	uint32_t n = 0;

	for (size_t i = 0; i < e->n_trace; i++)
		n += hop_redirects(e->trace[i]);
	return n;
}

bool
sw_trace_contains(const Axle__V1__Envelope *e, const char *region)
{
	for (size_t i = sw_trace_journey(e); i < e->n_trace; i++)
		if (e->trace[i] != NULL && e->trace[i]->region != NULL &&
		    strcmp(e->trace[i]->region, region) == 0)
			return true;
	return false;
}

static uint32_t
hop_limit(const Axle__V1__Envelope *e)
{
	return e->hop_limit != 0 ? e->hop_limit : SW_HOP_LIMIT_DEFAULT;
}

/* Hops since the last redirect: what the hop limit counts. */
static size_t
journey(const Axle__V1__Envelope *e)
{
	return e->n_trace - sw_trace_journey(e);
}

static const char *
status_name(Axle__V1__RegistrarStatus s)
{
	switch (s) {
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_PENDING:   return "pending";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE:    return "active";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED: return "suspended";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED:   return "revoked";
	default:						     return "of unknown standing";
	}
}

/* A delegation served by this node: its standing decides. */
static void
route_local(const struct registry_match *m, struct sw_route *out)
{
	const char *id = m->registrar_id != NULL ? m->registrar_id : "";

	switch (m->registrar_status) {
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE:
		route_set(out, SW_ROUTE_LOCAL_MAILBOX, 0, id, "%s is delegated "
		    "to registrar %s here", m->prefix, id);
		return;
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED:
		route_set(out, SW_ROUTE_HOLD, 0, id, "registrar %s (%s) is "
		    "suspended: held until it is reactivated", id, m->prefix);
		return;
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED:
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_REGISTRAR_REVOKED, NULL,
		    "registrar %s (%s) is revoked and its prefix not re-homed",
		    id, m->prefix);
		return;
	default:
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS, NULL,
		    "registrar %s (%s) is %s, not in service", id, m->prefix,
		    status_name(m->registrar_status));
		return;
	}
}

/* Before handing to a peer: would it loop, or could the peer not add a hop? */
static void
route_peer(const Axle__V1__Envelope *e, const char *peer, const char *why_,
    struct sw_route *out)
{
	if (sw_trace_contains(e, peer)) {
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_ROUTING_LOOP, NULL,
		    "routing loop: next node %s (%s) is already in the trace",
		    peer, why_);
		return;
	}
	if (journey(e) + 1 >= hop_limit(e)) {
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT, NULL,
		    "hop limit %u reached: cannot pass to %s after %zu nodes",
		    hop_limit(e), peer, journey(e) + 1);
		return;
	}
	route_set(out, SW_ROUTE_PEER, 0, peer, "%s", why_);
}

static void
route_address(const Axle__V1__Envelope *e, const char *region,
    const struct registry_resolution *res, struct sw_route *out)
{
	const struct registry_match *m = &res->match, *enc = &res->encloser;
	char why_[300];

	if (m->kind == REGISTRY_PREFIX_DELEGATION) {
		if (m->region != NULL && strcmp(m->region, region) == 0) {
			route_local(m, out);
			return;
		}
		if (m->region == NULL || m->region[0] == '\0')
			goto unknown;
		snprintf(why_, sizeof(why_), "%s is delegated to registrar %s, "
		    "served by %s", m->prefix, m->registrar_id != NULL ?
		    m->registrar_id : "?", m->region);
		route_peer(e, m->region, why_, out);
		return;
	}
	if (enc->kind == REGISTRY_PREFIX_PEER_REGION) {
		const char *peer = enc->region != NULL && enc->region[0] != '\0' ?
		    enc->region : enc->prefix;

		if (strcmp(peer, enc->prefix) == 0)
			snprintf(why_, sizeof(why_), "no registrar here; %s is the "
			    "region of node %s", enc->prefix, peer);
		else
			snprintf(why_, sizeof(why_), "no registrar here; %s is "
			    "reached through node %s (the tree)", enc->prefix, peer);
		route_peer(e, peer, why_, out);
		return;
	}
unknown:
	if (enc->kind == REGISTRY_PREFIX_OWN_REGION)
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS, NULL,
		    "unknown address: no registrar holds it in this region "
		    "(%s)", enc->prefix);
	else
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS, NULL,
		    "unknown address: no node or registrar in the federation "
		    "covers it");
}

void
sw_route_decide(const Axle__V1__Envelope *e, const char *region,
    const struct registry_resolution *res, bool is_group, struct sw_route *out)
{
	memset(out, 0, sizeof(*out));
	if (sw_trace_contains(e, region)) {
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_ROUTING_LOOP, NULL,
		    "routing loop: this node (%s) is already in the trace",
		    region);
		return;
	}
	if (journey(e) >= hop_limit(e)) {
		route_set(out, SW_ROUTE_RECOURSE,
		    AXLE__V1__CASE_REASON__CASE_REASON_HOP_LIMIT, NULL,
		    "hop limit %u reached: the trace already has %zu nodes",
		    hop_limit(e), journey(e));
		return;
	}
	if (is_group) {
		if (res->encloser.kind == REGISTRY_PREFIX_NONE)
			route_set(out, SW_ROUTE_RECOURSE,
			    AXLE__V1__CASE_REASON__CASE_REASON_UNKNOWN_ADDRESS,
			    NULL, "unknown group prefix: nothing in the "
			    "federation covers it");
		else
			route_set(out, SW_ROUTE_EXPAND, 0, NULL, "service group "
			    "under %s: one copy per service", res->encloser.prefix);
		return;
	}
	route_address(e, region, res, out);
}

int
sw_trace_append(struct sw_env_view *v, const char *region, int64_t now_ms,
    const char *redirect_case)
{
	size_t n = v->env.n_trace;
	Axle__V1__TraceHop **t;

	if (v->trace != NULL)
		return -EINVAL;
	if ((t = malloc((n + 1) * sizeof(*t))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t[i] = v->env.trace[i];
	axle__v1__trace_hop__init(&v->hop);
	snprintf(v->region, sizeof(v->region), "%s", region);
	v->hop.region = v->region;
	v->hop.at_ms = now_ms;
	if (redirect_case != NULL) {
		snprintf(v->redirect_case, sizeof(v->redirect_case), "%s",
		    redirect_case);
		v->hop.redirect_case = v->redirect_case;
	}
	t[n] = &v->hop;
	v->trace = t;
	v->env.trace = t;
	v->env.n_trace = n + 1;
	return 0;
}

/* --- service groups ------------------------------------------------------ */

int
sw_group_copy_id(const uint8_t id[SW_ID_LEN], const char *registrar_id,
    const char *name, uint8_t out[SW_ID_LEN])
{
	static const char domain[] = "axle.v1.group";	/* with its NUL */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, domain, sizeof(domain)) == 1 &&
	    EVP_DigestUpdate(ctx, id, SW_ID_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, registrar_id, strlen(registrar_id) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= SW_ID_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(out, md, SW_ID_LEN);
	return 0;
}

static bool
accepts_type(const struct sw_service *s, const char *type)
{
	if (type == NULL || type[0] == '\0')
		return true;
	for (size_t i = 0; i < s->n_message_types; i++)
		if (s->message_types[i] != NULL &&
		    strcmp(s->message_types[i], type) == 0)
			return true;
	return false;
}

/* Does service s belong to group g (prefix already folded into gprefix)? */
static bool
in_group(const struct sw_service *s, const Axle__V1__ServiceGroup *g,
    const char *gprefix, char addr[ADDR_MAX_LEN + 1])
{
	if (s->registrar_id == NULL || s->name == NULL || s->address == NULL ||
	    s->kind != g->kind)
		return false;
	if (registry_address_parse(s->address, strlen(s->address), addr, NULL,
	    0) != 0)
		return false;
	return registry_address_covers(gprefix, addr) &&
	    accepts_type(s, g->message_type);
}

static int
svc_cmp(const void *a, const void *b)
{
	const struct sw_service *x = *(const struct sw_service *const *)a;
	const struct sw_service *y = *(const struct sw_service *const *)b;
	int c = strcmp(x->registrar_id, y->registrar_id);

	return c != 0 ? c : strcmp(x->name, y->name);
}

long
sw_group_expand(const Axle__V1__Envelope *e,
    const struct sw_service *services, size_t n, struct sw_group_copy *out,
    size_t max)
{
	const struct sw_service **m;
	char gprefix[ADDR_MAX_LEN + 1], addr[ADDR_MAX_LEN + 1];
	const Axle__V1__ServiceGroup *g;
	size_t k = 0, u = 0;

	if (e == NULL || e->recipient_case != AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP ||
	    (g = e->to_group) == NULL || g->prefix == NULL ||
	    e->message_id.len != SW_ID_LEN ||
	    registry_address_parse(g->prefix, strlen(g->prefix), gprefix, NULL,
	    0) != 0)
		return -1;
	if ((m = malloc((n + 1) * sizeof(*m))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (in_group(&services[i], g, gprefix, addr))
			m[k++] = &services[i];
	qsort(m, k, sizeof(*m), svc_cmp);
	for (size_t i = 0; i < k; i++) {
		if (i > 0 && svc_cmp(&m[i - 1], &m[i]) == 0)
			continue;	/* the same service listed twice */
		if (u < max) {
			if (sw_group_copy_id(e->message_id.data, m[i]->registrar_id,
			    m[i]->name, out[u].id) != 0) {
				free(m);
				return -1;
			}
			registry_address_parse(m[i]->address,
			    strlen(m[i]->address), out[u].to, NULL, 0);
			out[u].service = m[i];
		}
		u++;
	}
	free(m);
	return (long)u;
}
