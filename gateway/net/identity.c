/* identity.c -- parses axle:// SAN URIs and decides what their holder may call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/net/identity.h"
#include "proto/text.h"

#define SCHEME "axle://"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

const char *
net_role_name(enum net_role role)
{
	switch (role) {
	case NET_ROLE_NODE: return "node";
	case NET_ROLE_MEMBER: return "member";
	case NET_ROLE_ADMIN: return "admin";
	}
	return "unknown";
}

/* A cursor over the URI: the next '/'-separated part. */
struct uri_part {
	const char *s;
	size_t len;
};

/* Why the scheme is wrong, said as usefully as possible. */
static void
scheme_error(const char *uri, size_t len, char *err, size_t errlen)
{
	const char *colon = memchr(uri, ':', len);
	size_t slen = colon != NULL ? (size_t)(colon - uri) : 0;

	if (colon == NULL || slen == 0)
		axle_seterr(err, errlen, "not an axle:// URI (no scheme)");
	else if (slen == 4 && strncasecmp(uri, "axle", 4) == 0 &&
	    strncmp(uri, "axle", 4) != 0)
		axle_seterr(err, errlen, "scheme must be lower-case \"axle\"");
	else if (slen == 4 && strncmp(uri, "axle", 4) == 0)
		axle_seterr(err, errlen, "expected \"axle://\" after the scheme");
	else
		axle_seterr(err, errlen, "scheme must be \"axle\" (got \"%.*s\")",
		    slen > 16 ? 16 : (int)slen, uri);
}

/* Refuses bytes and URI features an identity never has, wherever they are. */
static int
check_bytes(const char *uri, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (c <= 0x20 || c >= 0x7f) {
			axle_seterr(err, errlen, "byte %zu: 0x%02x is not allowed in an "
			    "identity URI", i, c);
			return -1;
		}
		if (c == '?' || c == '#' || c == '%') {
			axle_seterr(err, errlen, "byte %zu: %s not allowed", i,
			    c == '?' ? "a query is" : c == '#' ? "a fragment is" :
			    "percent-escapes are");
			return -1;
		}
	}
	return 0;
}

/* Splits off the next part of the path; *rest advances past it. */
static void
next_part(const char **rest, const char *end, struct uri_part *p)
{
	const char *slash = memchr(*rest, '/', (size_t)(end - *rest));

	p->s = *rest;
	p->len = (size_t)((slash != NULL ? slash : end) - *rest);
	*rest = slash != NULL ? slash + 1 : end;
}

static int
parse_federation(const struct uri_part *p, struct net_identity *out,
    char *err, size_t errlen)
{
	char folded[ADDR_MAX_LEN + 1], why[160];

	if (p->len == 0) {
		axle_seterr(err, errlen, "federation is empty");
		return -1;
	}
	if (memchr(p->s, '@', p->len) != NULL) {
		axle_seterr(err, errlen, "userinfo ('@') is not allowed");
		return -1;
	}
	if (memchr(p->s, ':', p->len) != NULL) {
		axle_seterr(err, errlen, "a port (':') is not allowed");
		return -1;
	}
	if (registry_address_parse(p->s, p->len, folded, why, sizeof(why)) != 0) {
		axle_seterr(err, errlen, "federation: %s", why);
		return -1;
	}
	if (registry_address_labels(folded) != 1) {
		axle_seterr(err, errlen, "federation must be one label (got \"%s\")",
		    folded);
		return -1;
	}
	memcpy(out->federation, folded, p->len + 1);
	return 0;
}

static int
parse_role(const struct uri_part *p, struct net_identity *out,
    char *err, size_t errlen)
{
	static const enum net_role roles[] = {
		NET_ROLE_NODE, NET_ROLE_MEMBER, NET_ROLE_ADMIN,
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		const char *name = net_role_name(roles[i]);

		if (p->len == strlen(name) && memcmp(p->s, name, p->len) == 0) {
			out->role = roles[i];
			return 0;
		}
	}
	if (p->len == 0)
		axle_seterr(err, errlen, "role is empty");
	else
		axle_seterr(err, errlen, "unknown role \"%.*s\" (use node, member or "
		    "admin)", p->len > 16 ? 16 : (int)p->len, p->s);
	return -1;
}

static int
parse_user(const struct uri_part *p, struct net_identity *out,
    char *err, size_t errlen)
{
	if (p->len > NET_USER_MAX) {
		axle_seterr(err, errlen, "user is %zu bytes, the limit is %d",
		    p->len, NET_USER_MAX);
		return -1;
	}
	/* "." and ".." are path dot-segments: a normaliser would remove them. */
	if ((p->len == 1 && p->s[0] == '.') ||
	    (p->len == 2 && p->s[0] == '.' && p->s[1] == '.')) {
		axle_seterr(err, errlen, "user \"%.*s\" is a dot-segment",
		    (int)p->len, p->s);
		return -1;
	}
	for (size_t i = 0; i < p->len; i++) {
		char c = p->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')) {
			axle_seterr(err, errlen, "user byte %zu: '%c' is not allowed "
			    "(use a-z, 0-9, '.', '_', '-')", i, c);
			return -1;
		}
	}
	memcpy(out->user, p->s, p->len);
	out->user[p->len] = '\0';
	return 0;
}

/*
 * Parses "<role>/<address>[/<user>]" from rest to end (one past the last
 * byte); more says whether a '/' followed the federation at all.
 */
static int
parse_path(const char *rest, const char *end, bool more, struct net_identity *out,
    char *err, size_t errlen)
{
	struct uri_part role, addr, user;
	char why[160];

	if (!more) {
		axle_seterr(err, errlen, "missing /<role>/<address> after the federation");
		return -1;
	}
	next_part(&rest, end, &role);
	if (parse_role(&role, out, err, errlen) != 0)
		return -1;
	if (role.s + role.len == end) {
		axle_seterr(err, errlen, "missing /<address> after the role");
		return -1;
	}
	next_part(&rest, end, &addr);
	if (addr.len == 0) {
		axle_seterr(err, errlen, "address is empty%s",
		    addr.s == end ? " (trailing slash)" : "");
		return -1;
	}
	if (registry_address_parse(addr.s, addr.len, out->address, why,
	    sizeof(why)) != 0) {
		axle_seterr(err, errlen, "address: %s", why);
		return -1;
	}
	if (addr.s + addr.len == end) {
		if (out->role == NET_ROLE_ADMIN) {
			axle_seterr(err, errlen, "an admin URI needs /<user> after the "
			    "address");
			return -1;
		}
		return 0;
	}
	next_part(&rest, end, &user);
	if (user.len == 0 && user.s == end) {
		axle_seterr(err, errlen, "trailing slash");
		return -1;
	}
	if (out->role != NET_ROLE_ADMIN) {
		axle_seterr(err, errlen, "a %s URI has no /<user> part",
		    net_role_name(out->role));
		return -1;
	}
	if (user.len == 0) {
		axle_seterr(err, errlen, "user is empty");
		return -1;
	}
	if (user.s + user.len + 1 == end) {
		axle_seterr(err, errlen, "trailing slash");
		return -1;
	}
	if (user.s + user.len != end) {
		axle_seterr(err, errlen, "extra path segment after the user");
		return -1;
	}
	return parse_user(&user, out, err, errlen);
}

/* Writes the canonical (folded) URI: what logs and audit records carry. */
static void
canonical_uri(struct net_identity *id)
{
	if (id->role == NET_ROLE_ADMIN)
		snprintf(id->uri, sizeof(id->uri), "axle://%s/%s/%s/%s",
		    id->federation, net_role_name(id->role), id->address, id->user);
	else
		snprintf(id->uri, sizeof(id->uri), "axle://%s/%s/%s",
		    id->federation, net_role_name(id->role), id->address);
}

int
net_identity_parse_uri(const char *uri, size_t len, struct net_identity *out,
    char *err, size_t errlen)
{
	const char *rest, *end = uri + len;
	struct uri_part fed;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > NET_URI_MAX) {
		axle_seterr(err, errlen, "URI is %zu bytes, the limit is %d", len,
		    NET_URI_MAX);
		return -1;
	}
	if (len < SCHEME_LEN || memcmp(uri, SCHEME, SCHEME_LEN) != 0) {
		scheme_error(uri, len, err, errlen);
		return -1;
	}
	if (check_bytes(uri, len, err, errlen) != 0)
		return -1;
	rest = uri + SCHEME_LEN;
	next_part(&rest, end, &fed);
	if (parse_federation(&fed, out, err, errlen) != 0 ||
	    parse_path(rest, end, fed.s + fed.len != end, out, err, errlen) != 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	canonical_uri(out);
	return 0;
}

/* "member uk.london.lewisham", "admin jsmith of uk.london": for reasons. */
static const char *
describe(const struct net_identity *id, char *buf, size_t buflen)
{
	if (id->role == NET_ROLE_ADMIN)
		snprintf(buf, buflen, "admin %s of %s", id->user, id->address);
	else
		snprintf(buf, buflen, "%s %s", net_role_name(id->role), id->address);
	return buf;
}

static bool
is_our_admin(const struct net_identity *c, const char *region)
{
	return c->role == NET_ROLE_ADMIN && strcmp(c->address, region) == 0;
}

/* Reason for refusing rule to caller c on node region. */
static void
refusal(const struct net_identity *c, enum net_authz rule, const char *region,
    char *err, size_t errlen)
{
	char who[NET_USER_MAX + ADDR_MAX_LEN + 16];

	describe(c, who, sizeof(who));
	if (c->role == NET_ROLE_ADMIN &&
	    (rule == NET_AUTHZ_ADMIN || rule == NET_AUTHZ_MEMBER_OR_ADMIN))
		axle_seterr(err, errlen, "admin of %s may not administer node %s",
		    c->address, region);
	else if (rule == NET_AUTHZ_ADMIN)
		axle_seterr(err, errlen, "only an admin of node %s may call this; "
		    "caller is %s", region, who);
	else if (rule == NET_AUTHZ_MEMBER)
		axle_seterr(err, errlen, "only members may call this; caller is %s", who);
	else if (rule == NET_AUTHZ_NODE)
		axle_seterr(err, errlen, "only peer nodes may call this; caller is %s",
		    who);
	else if (rule == NET_AUTHZ_MEMBER_OR_ADMIN)
		axle_seterr(err, errlen, "only members and admins of node %s may call "
		    "this; caller is %s", region, who);
	else
		axle_seterr(err, errlen, "unknown authorization rule %d", (int)rule);
}

bool
net_authz_allows(const struct net_identity *caller, enum net_authz rule,
    const char *fed, const char *region, char *err, size_t errlen)
{
	bool ok;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (caller == NULL || fed == NULL || region == NULL) {
		axle_seterr(err, errlen, "no verified identity");
		return false;
	}
	if (strcmp(caller->federation, fed) != 0) {
		axle_seterr(err, errlen, "identity of federation %s may not call a "
		    "node of federation %s", caller->federation, fed);
		return false;
	}
	/* Unknown rules and roles fall through to refusal: fail closed. */
	switch (rule) {
	case NET_AUTHZ_ANY:
		ok = caller->role == NET_ROLE_NODE || caller->role == NET_ROLE_MEMBER ||
		    caller->role == NET_ROLE_ADMIN;
		break;
	case NET_AUTHZ_ADMIN:
		ok = is_our_admin(caller, region);
		break;
	case NET_AUTHZ_MEMBER:
		ok = caller->role == NET_ROLE_MEMBER;
		break;
	case NET_AUTHZ_NODE:
		ok = caller->role == NET_ROLE_NODE;
		break;
	case NET_AUTHZ_MEMBER_OR_ADMIN:
		ok = caller->role == NET_ROLE_MEMBER || is_our_admin(caller, region);
		break;
	default:
		ok = false;
		break;
	}
	if (!ok && rule == NET_AUTHZ_ANY)
		axle_seterr(err, errlen, "caller has no valid role");
	else if (!ok)
		refusal(caller, rule, region, err, errlen);
	return ok;
}

bool
net_authz_member_covers(const struct net_identity *caller, const char *addr,
    char *err, size_t errlen)
{
	char who[NET_USER_MAX + ADDR_MAX_LEN + 16];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (caller == NULL || addr == NULL) {
		axle_seterr(err, errlen, "no verified identity");
		return false;
	}
	if (caller->role != NET_ROLE_MEMBER) {
		axle_seterr(err, errlen, "only a member acts within a prefix; caller is %s",
		    describe(caller, who, sizeof(who)));
		return false;
	}
	if (!registry_address_covers(caller->address, addr)) {
		axle_seterr(err, errlen, "member %s may not act on %s (outside its "
		    "prefix)", caller->address, addr);
		return false;
	}
	return true;
}
