/* policy.c -- a registrar's traffic policy (sealed payloads): checks and what it requires. Pure. */
#include <stdio.h>
#include <string.h>

#include "registry/error.h"
#include "registry/policy.h"

#define TYPE_MAX	128	/* bytes of a message type, as envelopes allow */

int
registry_policy_check(const Axle__V1__TrafficPolicy *p, char *reason, size_t len)
{
	if (p == NULL)
		return REGISTRY_OK;
	if (p->n_sealed_message_types > REGISTRY_POLICY_TYPES)
		return registry_fail(REGISTRY_EINVAL, reason, len, "sealed_message_types: "
		    "%zu, at most %d", p->n_sealed_message_types, REGISTRY_POLICY_TYPES);
	for (size_t i = 0; i < p->n_sealed_message_types; i++) {
		const char *t = p->sealed_message_types[i];
		size_t n = t != NULL ? strlen(t) : 0;

		if (n == 0 || n > TYPE_MAX)
			return registry_fail(REGISTRY_EINVAL, reason, len,
			    "sealed_message_types[%zu]: %zu bytes, 1 to %d", i, n, TYPE_MAX);
		for (size_t k = 0; k < n; k++)
			if (t[k] < 0x21 || t[k] > 0x7e)
				return registry_fail(REGISTRY_EINVAL, reason, len,
				    "sealed_message_types[%zu]: byte %zu is not "
				    "printable ASCII (as a message_type)", i, k);
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->sealed_message_types[k], t) == 0)
				return registry_fail(REGISTRY_EINVAL, reason, len,
				    "sealed_message_types[%zu]: \"%s\" twice", i, t);
	}
	return REGISTRY_OK;
}

bool
registry_policy_set(const Axle__V1__TrafficPolicy *p)
{
	return p != NULL && (p->require_sealed || p->n_sealed_message_types > 0);
}

bool
registry_policy_requires_sealed(const Axle__V1__Registrar *r, const char *message_type)
{
	const Axle__V1__TrafficPolicy *p = r != NULL ? r->policy : NULL;

	if (p == NULL)
		return false;
	if (p->require_sealed)
		return true;
	for (size_t i = 0; message_type != NULL && i < p->n_sealed_message_types; i++)
		if (strcmp(p->sealed_message_types[i], message_type) == 0)
			return true;
	return false;
}

void
registry_policy_text(const Axle__V1__TrafficPolicy *p, char *out, size_t len)
{
	size_t at;

	if (len == 0)
		return;
	if (!registry_policy_set(p)) {
		snprintf(out, len, "none");
		return;
	}
	if (p->require_sealed) {
		snprintf(out, len, "all traffic sealed");
		return;
	}
	at = (size_t)snprintf(out, len, "sealed:");
	for (size_t i = 0; i < p->n_sealed_message_types && at < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s %s", i > 0 ? "," : "",
		    p->sealed_message_types[i]);
}
