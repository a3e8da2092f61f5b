/* purpose.c -- purpose-bound services: the purpose grammar and which purposes a published service accepts. */
#include <stdio.h>
#include <string.h>

#include "registry/address.h"
#include "registry/error.h"
#include "registry/purpose.h"

#define SK(x) AXLE__V1__SERVICE_KIND__SERVICE_KIND_##x

bool
registry_purpose_valid(const char *p, char *why, size_t len)
{
	size_t n = p != NULL ? strlen(p) : 0;

	if (n == 0) {
		registry_fail(REGISTRY_EINVAL, why, len, "purpose: empty");
		return false;
	}
	if (n > REGISTRY_PURPOSE_MAX) {
		registry_fail(REGISTRY_EINVAL, why, len, "purpose: %zu bytes, at "
		    "most %d", n, REGISTRY_PURPOSE_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (alnum || (i > 0 && (c == '-' || c == '.')))
			continue;
		registry_fail(REGISTRY_EINVAL, why, len, "purpose \"%.*s\": byte %zu "
		    "is not %s", REGISTRY_PURPOSE_MAX, p, i + 1, i == 0 ?
		    "a lower-case letter or digit (a purpose starts with one)" :
		    "a lower-case letter, digit, '-' or '.'");
		return false;
	}
	return true;
}

int
registry_purposes_check(char *const *v, size_t n, char *why, size_t len)
{
	if (n > REGISTRY_PURPOSES_MAX)
		return registry_fail(REGISTRY_EINVAL, why, len, "purposes: %zu, at "
		    "most %d per service", n, REGISTRY_PURPOSES_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!registry_purpose_valid(v[i], why, len))
			return REGISTRY_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[i], v[j]) == 0)
				return registry_fail(REGISTRY_EINVAL, why, len,
				    "purpose \"%s\" is listed twice", v[i]);
	}
	return REGISTRY_OK;
}

const char *
registry_purpose_verdict_name(enum registry_purpose_verdict v)
{
	switch (v) {
	case REGISTRY_PURPOSE_OK:
		return "ok";
	case REGISTRY_PURPOSE_MISSING:
		return "purpose_missing";
	default:
		return "purpose_refused";
	}
}

static bool
given(const char *p)
{
	return p != NULL && p[0] != '\0';
}

enum registry_purpose_verdict
registry_purpose_accepts(const Axle__V1__Service *s, const char *p)
{
	if (s->n_purposes == 0 && s->kind != SK(INDEX))
		return REGISTRY_PURPOSE_OK;
	if (!given(p))
		return REGISTRY_PURPOSE_MISSING;
	for (size_t i = 0; i < s->n_purposes; i++)
		if (strcmp(s->purposes[i], p) == 0)
			return REGISTRY_PURPOSE_OK;
	return REGISTRY_PURPOSE_REFUSED;
}

/* "a, b, c" (cut to fit). */
static void
joined(const Axle__V1__Service *s, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->n_purposes && o + 1 < len; i++) {
		int k = snprintf(out + o, len - o, "%s%s", i > 0 ? ", " : "",
		    s->purposes[i]);

		if (k < 0)
			break;
		o += (size_t)k;
	}
}

void
registry_purpose_why(const char *rid, const Axle__V1__Service *s,
    const char *p, enum registry_purpose_verdict v, char *why, size_t len)
{
	bool index = s->kind == SK(INDEX);
	char list[200], who[300];

	joined(s, list, sizeof(list));
	snprintf(who, sizeof(who), "%sservice \"%.*s\" of registrar %.*s",
	    index ? "index " : "", 80, s->name != NULL ? s->name : "",
	    64, rid != NULL ? rid : "?");
	if (v == REGISTRY_PURPOSE_MISSING)
		snprintf(why, len, "purpose: none given; %s %s%s%s", who,
		    index ? "takes only index queries that carry a purpose" :
		    "takes only messages that carry a purpose",
		    s->n_purposes > 0 ? "; it accepts: " : " (it publishes no "
		    "purposes, so it takes no index query)", list);
	else if (s->n_purposes == 0)
		snprintf(why, len, "purpose \"%.*s\" is not accepted by %s: it "
		    "publishes no purposes, so it takes no index query",
		    REGISTRY_PURPOSE_MAX, p, who);
	else
		snprintf(why, len, "purpose \"%.*s\" is not accepted by %s (it "
		    "accepts: %s)", REGISTRY_PURPOSE_MAX, p, who, list);
}

enum registry_purpose_verdict
registry_purpose_for_address(const Axle__V1__Registrar *r, const char *addr,
    const char *p, const char **service, char *why, size_t len)
{
	enum registry_purpose_verdict best = REGISTRY_PURPOSE_OK;
	const Axle__V1__Service *first = NULL;
	size_t longest = 0;
	bool any = false;

	if (service != NULL)
		*service = NULL;
	if (why != NULL && len > 0)
		why[0] = '\0';
	/* The longest service address covering addr. */
	for (size_t i = 0; i < r->n_services; i++) {
		const Axle__V1__Service *s = r->services[i];
		size_t l = s->address != NULL ? strlen(s->address) : 0;

		if (s->kind != SK(NODE) && l > longest &&
		    registry_address_covers(s->address, addr))
			longest = l;
	}
	for (size_t i = 0; i < r->n_services && longest > 0; i++) {
		const Axle__V1__Service *s = r->services[i];
		enum registry_purpose_verdict v;

		if (s->kind == SK(NODE) || s->address == NULL ||
		    strlen(s->address) != longest ||
		    !registry_address_covers(s->address, addr))
			continue;
		any = true;
		if ((v = registry_purpose_accepts(s, p)) == REGISTRY_PURPOSE_OK)
			return REGISTRY_PURPOSE_OK;
		if (first == NULL)
			first = s;
		if (best != REGISTRY_PURPOSE_MISSING)
			best = v;
	}
	if (!any)
		return REGISTRY_PURPOSE_OK;
	if (service != NULL)
		*service = first->name;
	if (why != NULL)
		registry_purpose_why(r->id, first, p, best, why, len);
	return best;
}
