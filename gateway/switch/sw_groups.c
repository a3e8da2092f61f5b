/* sw_groups.c -- service groups: the services under a prefix that take the envelope's purpose, read from the register (local and mirrored) inside the switch's transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/switch/sw_core.h"
#include "registry/db.h"
#include "registry/portal.h"
#include "registry/purpose.h"

/* Everything the service list points to, freed in one go. */
struct garena {
	struct sw_service *svc;
	size_t n, cap;
	char **strs;
	size_t ns, caps;
	const struct registry_portal_filter *f;
	const char *region;	/* fallback when a record carries none */
	const char *purpose;	/* the envelope's ("" or NULL: none) */
	size_t nrefused;	/* services of the group that do not take it */
	int verdict;		/* the first of them: its verdict and why */
	char why[300];
	int err;
};

static const char *
keep(struct garena *a, const char *s)
{
	char *d;

	if (a->ns == a->caps) {
		size_t cap = a->caps ? a->caps * 2 : 64;
		char **n = realloc(a->strs, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		a->strs = n;
		a->caps = cap;
	}
	if ((d = strdup(s != NULL ? s : "")) == NULL)
		return NULL;
	a->strs[a->ns++] = d;
	return d;
}

static int
add_service(struct garena *a, const Axle__V1__Registrar *r,
    const Axle__V1__Service *s)
{
	struct sw_service *v;
	const char **types = NULL;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct sw_service *n = realloc(a->svc, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		a->svc = n;
		a->cap = cap;
	}
	if (s->n_message_types > 0) {
		/* The array itself lives in the string list too. */
		if ((types = calloc(s->n_message_types, sizeof(*types))) == NULL)
			return -1;
		if (keep(a, "") == NULL) {
			free(types);
			return -1;
		}
		free(a->strs[a->ns - 1]);
		a->strs[a->ns - 1] = (char *)types;
		for (size_t i = 0; i < s->n_message_types; i++)
			if ((types[i] = keep(a, s->message_types[i])) == NULL)
				return -1;
	}
	v = &a->svc[a->n];
	memset(v, 0, sizeof(*v));
	v->registrar_id = keep(a, r->id);
	v->region = keep(a, r->region != NULL && r->region[0] != '\0' ?
	    r->region : a->region);
	v->name = keep(a, s->name);
	v->address = keep(a, s->address);
	v->kind = s->kind;
	v->message_types = types;
	v->n_message_types = s->n_message_types;
	if (v->registrar_id == NULL || v->region == NULL || v->name == NULL ||
	    v->address == NULL)
		return -1;
	a->n++;
	return 0;
}

static int
walk_one(const Axle__V1__Registrar *r, void *arg)
{
	struct garena *a = arg;

	for (size_t i = 0; i < r->n_services; i++) {
		const Axle__V1__Service *s = r->services[i];
		int v;

		if (!registry_portal_match(a->f, r, s))
			continue;
		if ((v = registry_purpose_accepts(s, a->purpose)) !=
		    REGISTRY_PURPOSE_OK) {
			if (a->nrefused++ == 0) {
				a->verdict = v;
				registry_purpose_why(r->id, s, a->purpose, v, a->why,
				    sizeof(a->why));
			}
			continue;
		}
		if (add_service(a, r, s) != 0) {
			a->err = ENOMEM;
			return -1;
		}
	}
	return 0;
}

void
sw_group_free(struct sw_group_copy *copies, void *arena)
{
	struct garena *a = arena;

	free(copies);
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->ns; i++)
		free(a->strs[i]);
	free(a->strs);
	free(a->svc);
	free(a);
}

int
sw_group_copies(struct sw_wctx *c, const Axle__V1__Envelope *env,
    struct sw_group_copy **out, size_t *n, void **arena, size_t *nrefused,
    enum sw_refusal *r, char *why, size_t whylen)
{
	const Axle__V1__ServiceGroup *g = env->to_group;
	struct registry_portal_filter f;
	struct registry_outcome o = { 0 };
	struct garena *a;
	long k;
	int rc;

	*out = NULL;
	*n = 0;
	*arena = NULL;
	if (g == NULL || g->prefix == NULL)
		return SW_Q_EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ENOMEM;
	memset(&f, 0, sizeof(f));
	snprintf(f.prefix, sizeof(f.prefix), "%s", g->prefix);
	f.kind = g->kind;
	f.message_type = g->message_type != NULL && g->message_type[0] != '\0' ?
	    g->message_type : NULL;
	a->f = &f;
	a->region = c->x->region;
	a->purpose = env->purpose;
	rc = registry_db_walk(c->txn, c->x->db, NULL, NULL,
	    walk_one, a, &o);
	if (rc != REGISTRY_OK) {
		rc = a->err != 0 ? a->err : o.mdb_rc != 0 ? o.mdb_rc : EIO;
		sw_group_free(NULL, a);
		return rc;
	}
	*arena = a;
	if (nrefused != NULL)
		*nrefused = a->nrefused;
	if (a->nrefused > 0 && r != NULL)
		*r = sw_refusal_of(a->verdict);
	if (a->nrefused > 0 && why != NULL)
		snprintf(why, whylen, "%s", a->why);
	if (a->n == 0)
		return 0;
	if ((*out = calloc(a->n, sizeof(**out))) == NULL)
		return ENOMEM;
	if ((k = sw_group_expand(env, a->svc, a->n, *out, a->n)) < 0)
		return SW_Q_EINVAL;
	*n = (size_t)k < a->n ? (size_t)k : a->n;
	return 0;
}
