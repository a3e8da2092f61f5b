/* node_record.c -- a region's node as a register record: recognised by its id, prefix and identity. Pure. */
#include <stdio.h>
#include <string.h>

#include "registry/node_record.h"
#include "registry/registrar.h"

int
registry_node_id(const char *region, char *id, size_t len)
{
	int n = snprintf(id, len, "%s%s", REGISTRY_NODE_ID_PREFIX, region);

	return n < 0 || (size_t)n >= len || n > REGISTRY_ID_MAX ? -1 : 0;
}

/* "axle://<federation>/node/<region>" with one label as federation. */
static bool
identity_is_node_of(const char *uri, const char *region)
{
	static const char scheme[] = "axle://", role[] = "/node/";
	const char *fed, *slash;

	if (uri == NULL || strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return false;
	fed = uri + sizeof(scheme) - 1;
	if ((slash = strchr(fed, '/')) == NULL || slash == fed)
		return false;
	return strncmp(slash, role, sizeof(role) - 1) == 0 &&
	    strcmp(slash + sizeof(role) - 1, region) == 0;
}

bool
registry_node_of(const Axle__V1__Registrar *r, struct registry_node *out)
{
	char id[REGISTRY_ID_MAX + 2];
	const char *region;

	if (r == NULL || r->id == NULL || r->n_prefixes != 1 ||
	    (region = r->prefixes[0]) == NULL ||
	    registry_node_id(region, id, sizeof(id)) != 0 ||
	    strcmp(id, r->id) != 0 || !identity_is_node_of(r->cert_identity, region))
		return false;
	if (out == NULL)
		return true;
	memset(out, 0, sizeof(*out));
	snprintf(out->region, sizeof(out->region), "%s", region);
	snprintf(out->parent, sizeof(out->parent), "%s", r->region != NULL ?
	    r->region : "");
	snprintf(out->identity, sizeof(out->identity), "%s", r->cert_identity);
	for (size_t i = 0; i < r->n_services; i++) {
		const Axle__V1__Service *s = r->services[i];

		if (s != NULL && s->name != NULL && s->endpoint != NULL &&
		    strcmp(s->name, REGISTRY_NODE_SERVICE) == 0 &&
		    s->kind == AXLE__V1__SERVICE_KIND__SERVICE_KIND_NODE)
			snprintf(out->endpoint, sizeof(out->endpoint), "%s",
			    s->endpoint);
	}
	out->active = r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE;
	return true;
}
