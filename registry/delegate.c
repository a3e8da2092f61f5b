/* delegate.c -- who may be given which prefix: region, overlap and re-homing rules. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "registry/address.h"
#include "registry/delegate.h"
#include "registry/error.h"
#include "registry/registrar.h"

/* --- the index as a view ---------------------------------------------------- */

static void
holder_from_match(const struct registry_match *m, struct registry_holder *out)
{
	snprintf(out->prefix, sizeof(out->prefix), "%s", m->prefix);
	out->is_region = m->kind != REGISTRY_PREFIX_DELEGATION;
	snprintf(out->registrar_id, sizeof(out->registrar_id), "%s",
	    out->is_region ? "" : m->registrar_id);
	snprintf(out->region, sizeof(out->region), "%s", out->is_region ||
	    m->region == NULL ? "" : m->region);
}

static int
index_get(void *ctx, const char *prefix, struct registry_holder *out)
{
	struct registry_match m;

	if (!registry_index_get(ctx, prefix, &m) || m.kind == REGISTRY_PREFIX_OWN_REGION)
		return 0;
	holder_from_match(&m, out);
	return 1;
}

/* A delegation strictly under prefix (peer regions under it are not looked for). */
static int
index_under(void *ctx, const char *prefix, struct registry_holder *out)
{
	struct registry_match m;

	if (!registry_index_find_under(ctx, prefix, &m))
		return 0;
	holder_from_match(&m, out);
	return 1;
}

void
registry_index_view(const struct registry_index *idx, struct registry_prefix_view *out)
{
	out->get = index_get;
	out->under = index_under;
	out->ctx = (void *)(uintptr_t)idx;	/* the view only reads */
}

/* --- rules ------------------------------------------------------------------ */

/* Explains a conflict between prefix and holder h; rel says how they relate. */
static int
conflict(const char *prefix, const char *registrar_id, const char *rel,
    const struct registry_holder *h, char *reason, size_t len)
{
	if (h->is_region)
		return registry_fail(REGISTRY_EEXIST, reason, len,
		    "%s %s %s, the region of another node", prefix, rel, h->prefix);
	if (strcmp(h->registrar_id, registrar_id) == 0)
		return registry_fail(REGISTRY_EEXIST, reason, len,
		    "%s %s %s, which registrar %s already holds (redundant)",
		    prefix, rel, h->prefix, registrar_id);
	return registry_fail(REGISTRY_EEXIST, reason, len,
	    "%s %s %s, delegated to registrar %s", prefix, rel, h->prefix,
	    h->registrar_id);
}

/* The same registrar in an ancestor's register: taken over here by a split. */
static bool
taken_over(const struct registry_holder *h, const char *region,
    const char *registrar_id)
{
	return !h->is_region && h->region[0] != '\0' &&
	    strcmp(h->registrar_id, registrar_id) == 0 &&
	    strcmp(h->region, region) != 0 && registry_address_covers(h->region, region);
}

static int
view_failed(int rc, char *reason, size_t len)
{
	return registry_fail(rc < 0 ? rc : REGISTRY_ESTORE, reason, len,
	    "cannot read the register to check the delegation");
}

int
registry_delegate_check(const struct registry_prefix_view *v,
    const char *region, const char *registrar_id, const char *prefix,
    char *reason, size_t len)
{
	struct registry_holder h;
	size_t rlen = strlen(region);
	int rc;

	if (!registry_address_covers(region, prefix))
		return registry_fail(REGISTRY_EPERM, reason, len,
		    "%s is outside this node's region %s", prefix, region);
	if (prefix[rlen] == '\0')
		return registry_fail(REGISTRY_EPERM, reason, len,
		    "%s is this node's region itself: delegate a prefix under it",
		    prefix);
	memset(&h, 0, sizeof(h));
	if ((rc = v->get(v->ctx, prefix, &h)) != 0 &&
	    (rc < 0 || !taken_over(&h, region, registrar_id)))
		return rc < 0 ? view_failed(rc, reason, len) :
		    conflict(prefix, registrar_id, "is", &h, reason, len);
	/* Ancestors strictly between the region and prefix. */
	for (size_t i = strlen(prefix); i-- > rlen + 1;) {
		char anc[ADDR_MAX_LEN + 1];

		if (prefix[i] != '.')
			continue;
		memcpy(anc, prefix, i);
		anc[i] = '\0';
		if ((rc = v->get(v->ctx, anc, &h)) != 0 &&
		    (rc < 0 || !taken_over(&h, region, registrar_id)))
			return rc < 0 ? view_failed(rc, reason, len) :
			    conflict(prefix, registrar_id, "is inside", &h, reason, len);
	}
	if ((rc = v->under(v->ctx, prefix, &h)) != 0 &&
	    (rc < 0 || !taken_over(&h, region, registrar_id)))
		return rc < 0 ? view_failed(rc, reason, len) :
		    conflict(prefix, registrar_id, "contains", &h, reason, len);
	return REGISTRY_OK;
}

int
registry_rehome_check(const Axle__V1__Registrar *from,
    const Axle__V1__Registrar *to, char *reason, size_t len)
{
	if (strcmp(from->id, to->id) == 0)
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "cannot re-home registrar %s to itself", from->id);
	if (strcmp(from->region, to->region) != 0)
		return registry_fail(REGISTRY_EPERM, reason, len,
		    "registrar %s is of region %s, %s of %s: a node re-homes only "
		    "within its own region", from->id, from->region, to->id, to->region);
	if (from->status != AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED)
		return registry_fail(REGISTRY_EPRECOND, reason, len,
		    "registrar %s is %s: only a revoked registrar's prefixes are "
		    "re-homed", from->id, registry_status_name(from->status));
	if (to->status != AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE)
		return registry_fail(REGISTRY_EPRECOND, reason, len,
		    "successor %s is %s: it must be active", to->id,
		    registry_status_name(to->status));
	return REGISTRY_OK;
}
