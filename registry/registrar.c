/* registrar.c -- registrar ids, the lifecycle state machine and version checks. */
#include <inttypes.h>
#include <string.h>

#include "registry/address.h"
#include "registry/error.h"
#include "registry/registrar.h"

#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x

int
registry_id_check(const char *id, char *reason, size_t len)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0)
		return registry_fail(REGISTRY_EINVAL, reason, len, "registrar id is empty");
	if (n > REGISTRY_ID_MAX)
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "registrar id is %zu bytes, the limit is %d", n, REGISTRY_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (i == 0 && !alnum)
			return registry_fail(REGISTRY_EINVAL, reason, len,
			    "registrar id must start with a-z or 0-9");
		if (!alnum && c != '.' && c != '_' && c != '-')
			return registry_fail(REGISTRY_EINVAL, reason, len,
			    "registrar id byte %zu: 0x%02x is not allowed (use a-z, "
			    "0-9, '.', '_', '-')", i, (unsigned char)c);
	}
	return REGISTRY_OK;
}

const char *
registry_status_name(registry_status s)
{
	switch (s) {
	case S(PENDING):	return "pending";
	case S(ACTIVE):		return "active";
	case S(SUSPENDED):	return "suspended";
	case S(REVOKED):	return "revoked";
	default:		return "unspecified";
	}
}

/* Why from -> to is refused (both valid, transition illegal). */
static const char *
why_not(registry_status from, registry_status to)
{
	if (from == to)
		return "it already has that standing";
	if (from == S(REVOKED))
		return "a revoked registrar's prefixes must be re-homed";
	if (to == S(PENDING))
		return "pending is only the standing of a new registrar";
	if (from == S(PENDING))
		return "a pending registrar must be activated first";
	return "not a lifecycle step";
}

int
registry_transition_check(registry_status from, registry_status to,
    char *reason, size_t len)
{
	if (from < S(PENDING) || from > S(REVOKED) || to < S(PENDING) || to > S(REVOKED))
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "unknown standing (from %d to %d)", (int)from, (int)to);
	switch (from) {
	case S(PENDING):
		if (to == S(ACTIVE) || to == S(REVOKED))
			return REGISTRY_OK;
		break;
	case S(ACTIVE):
		if (to == S(SUSPENDED) || to == S(REVOKED))
			return REGISTRY_OK;
		break;
	case S(SUSPENDED):
		if (to == S(ACTIVE) || to == S(REVOKED))
			return REGISTRY_OK;
		break;
	default:
		break;
	}
	return registry_fail(REGISTRY_EPRECOND, reason, len,
	    "cannot go from %s to %s: %s", registry_status_name(from),
	    registry_status_name(to), why_not(from, to));
}

int
registry_version_check(const Axle__V1__Registrar *r, uint64_t expected,
    char *reason, size_t len)
{
	if (expected == REGISTRY_ANY_VERSION || expected == r->version)
		return REGISTRY_OK;
	return registry_fail(REGISTRY_ECONFLICT, reason, len,
	    "registrar %s is at version %" PRIu64 ", not %" PRIu64
	    ": it changed since it was read", r->id, r->version, expected);
}

int
registry_registrar_prefix_index(const Axle__V1__Registrar *r, const char *prefix)
{
	for (size_t i = 0; i < r->n_prefixes; i++)
		if (strcmp(r->prefixes[i], prefix) == 0)
			return (int)i;
	return -1;
}

int
registry_registrar_service_index(const Axle__V1__Registrar *r, const char *name)
{
	for (size_t i = 0; i < r->n_services; i++)
		if (strcmp(r->services[i]->name, name) == 0)
			return (int)i;
	return -1;
}

const char *
registry_registrar_covering_prefix(const Axle__V1__Registrar *r, const char *address)
{
	for (size_t i = 0; i < r->n_prefixes; i++)
		if (registry_address_covers(r->prefixes[i], address))
			return r->prefixes[i];
	return NULL;
}

const char *
registry_registrar_acting_prefix(const Axle__V1__Registrar *r, const char *uri,
    const char *address)
{
	if (r == NULL || uri == NULL || address == NULL || r->cert_identity == NULL ||
	    r->cert_identity[0] == '\0' || strcmp(r->cert_identity, uri) != 0 ||
	    r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED)
		return NULL;
	return registry_registrar_covering_prefix(r, address);
}
