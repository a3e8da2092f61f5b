/* fuzz_identity.c -- libFuzzer: axle:// SAN URIs and the authorisation decisions made from them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/net/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed identity: canonical form re-parses to itself; every rule decides without faulting. */
static void
check(const struct net_identity *id, const char *other, size_t olen)
{
	static const enum net_authz rules[] = {
		NET_AUTHZ_ANY, NET_AUTHZ_ADMIN, NET_AUTHZ_MEMBER, NET_AUTHZ_NODE,
		NET_AUTHZ_MEMBER_OR_ADMIN, (enum net_authz)99,
	};
	struct net_identity again;
	char err[256], *addr;

	if (net_identity_parse_uri(id->uri, strlen(id->uri), &again, err,
	    sizeof(err)) != 0 || strcmp(again.uri, id->uri) != 0 ||
	    again.role != id->role || strcmp(again.address, id->address) != 0)
		abort();
	if ((id->role == NET_ROLE_ADMIN) != (id->user[0] != '\0'))
		abort();
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		bool ok = net_authz_allows(id, rules[i], id->federation,
		    id->address, err, sizeof(err));

		if (!ok && err[0] == '\0')
			abort();	/* a refusal always says why */
		if (rules[i] == (enum net_authz)99 && ok)
			abort();	/* unknown rules fail closed */
		(void)net_authz_allows(id, rules[i], "other-fed", "uk", err,
		    sizeof(err));
	}
	if ((addr = malloc(olen + 1)) == NULL)
		return;
	memcpy(addr, other, olen);
	addr[olen] = '\0';
	(void)net_authz_member_covers(id, addr, err, sizeof(err));
	free(addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep = memchr(in, '\n', size);
	size_t len = sep != NULL ? (size_t)(sep - in) : size;
	struct net_identity id;
	char err[256];

	memset(err, 0x55, sizeof(err));
	if (net_identity_parse_uri(in, len, &id, err, sizeof(err)) == 0)
		check(&id, sep ? sep + 1 : in, sep ? size - len - 1 : 0);
	else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
		abort();	/* every refusal has a reason */
	(void)net_role_name((enum net_role)(size > 0 ? data[0] : 0));
	return 0;
}
