/* keyring.c -- every known registrar's published keys in a hash table keyed by (region, id), and the lookup by address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/address.h"
#include "registry/keyring.h"
#include "registry/registrar.h"

#define KEY_ID_MAX	(ADDR_MAX_LEN + 1 + 128)	/* "region NUL id" */

struct ring_entry {
	struct ring_entry *next;
	uint64_t hash;
	size_t klen;
	char key[KEY_ID_MAX];			/* region NUL id */
	Axle__V1__Registrar *rec;		/* id, region and keys only (pb_unpack'd) */
};

struct registry_keyring {
	struct ring_entry **buckets;
	size_t nbuckets;			/* a power of two */
	size_t n;				/* entries */
	size_t nkeys;				/* keys over all entries */
};

struct registry_keyring *
registry_keyring_new(void)
{
	struct registry_keyring *kr = calloc(1, sizeof(*kr));

	if (kr == NULL)
		return NULL;
	kr->nbuckets = 64;
	if ((kr->buckets = calloc(kr->nbuckets, sizeof(*kr->buckets))) == NULL) {
		free(kr);
		return NULL;
	}
	return kr;
}

static void
entry_free(struct ring_entry *e)
{
	pb_free(&e->rec->base);
	free(e);
}

void
registry_keyring_free(struct registry_keyring *kr)
{
	if (kr == NULL)
		return;
	for (size_t i = 0; i < kr->nbuckets; i++) {
		struct ring_entry *e = kr->buckets[i], *nx;

		for (; e != NULL; e = nx) {
			nx = e->next;
			entry_free(e);
		}
	}
	free(kr->buckets);
	free(kr);
}

size_t
registry_keyring_registrars(const struct registry_keyring *kr)
{
	return kr != NULL ? kr->n : 0;
}

size_t
registry_keyring_keys(const struct registry_keyring *kr)
{
	return kr != NULL ? kr->nkeys : 0;
}

/* "region NUL id" into buf; 0 if either is empty or too long. */
static size_t
make_key(char *buf, const char *region, const char *id)
{
	size_t rl = region != NULL ? strlen(region) : 0, il = id != NULL ? strlen(id) : 0;

	if (rl == 0 || il == 0 || rl > ADDR_MAX_LEN || il > 128)
		return 0;
	memcpy(buf, region, rl);
	buf[rl] = '\0';
	memcpy(buf + rl + 1, id, il);
	return rl + 1 + il;
}

static struct ring_entry **
slot(const struct registry_keyring *kr, const char *key, size_t klen, uint64_t h)
{
	struct ring_entry **pp = &kr->buckets[h & (kr->nbuckets - 1)];

	while (*pp != NULL && ((*pp)->hash != h || (*pp)->klen != klen ||
	    memcmp((*pp)->key, key, klen) != 0))
		pp = &(*pp)->next;
	return pp;
}

/* Doubles the table (load above 1); stays as it is when out of memory. */
static void
grow(struct registry_keyring *kr)
{
	size_t nb = kr->nbuckets * 2;
	struct ring_entry **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < kr->nbuckets; i++) {
		struct ring_entry *e = kr->buckets[i], *nx;

		for (; e != NULL; e = nx) {
			nx = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(kr->buckets);
	kr->buckets = b;
	kr->nbuckets = nb;
}

/* A record of r's id, region and (at most REGISTRY_KEYS_MAX) keys, owned. */
static Axle__V1__Registrar *
keys_copy(const Axle__V1__Registrar *r)
{
	Axle__V1__Registrar k = AXLE__V1__REGISTRAR__INIT, *c;
	uint8_t *buf;
	size_t len;

	k.id = r->id;
	k.region = r->region;
	k.keys = r->keys;
	k.n_keys = r->n_keys < REGISTRY_KEYS_MAX ? r->n_keys : REGISTRY_KEYS_MAX;
	if ((buf = pb_pack(&k.base, 0, &len)) == NULL)
		return NULL;
	c = PB_UNPACK(Axle__V1__Registrar, axle__v1__registrar, buf, len,
	    REGISTRY_RECORD_MAX, NULL, 0);
	free(buf);
	return c;
}

int
registry_keyring_apply(struct registry_keyring *kr, const Axle__V1__Registrar *r)
{
	char key[KEY_ID_MAX];
	size_t klen = make_key(key, r->region, r->id);
	struct ring_entry **pp, *e;
	Axle__V1__Registrar *rec = NULL;
	uint64_t h;

	if (klen == 0)
		return REGISTRY_EINVAL;
	if (r->n_keys > 0 && (rec = keys_copy(r)) == NULL)
		return REGISTRY_ENOMEM;
	h = registry_index_hash(key, klen);
	pp = slot(kr, key, klen, h);
	if ((e = *pp) != NULL) {
		kr->nkeys -= e->rec->n_keys;
		if (rec == NULL) {
			*pp = e->next;
			entry_free(e);
			kr->n--;
			return REGISTRY_OK;
		}
		pb_free(&e->rec->base);
		e->rec = rec;
		kr->nkeys += rec->n_keys;
		return REGISTRY_OK;
	}
	if (rec == NULL)
		return REGISTRY_OK;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		pb_free(&rec->base);
		return REGISTRY_ENOMEM;
	}
	e->hash = h;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->rec = rec;
	e->next = NULL;
	*pp = e;
	kr->n++;
	kr->nkeys += rec->n_keys;
	if (kr->n > kr->nbuckets)
		grow(kr);
	return REGISTRY_OK;
}

static const Axle__V1__Registrar *
ring_get(const struct registry_keyring *kr, const char *region, const char *id)
{
	char key[KEY_ID_MAX];
	size_t klen = make_key(key, region, id);
	struct ring_entry *e;

	if (klen == 0)
		return NULL;
	e = *slot(kr, key, klen, registry_index_hash(key, klen));
	return e != NULL ? e->rec : NULL;
}

/* Newest published first (insertion: at most REGISTRY_KEYS_MAX). */
static void
answer_add(struct registry_key_answer *out, const Axle__V1__PublishedKey *k)
{
	size_t i = out->n++;

	while (i > 0 && out->keys[i - 1]->published_ms < k->published_ms) {
		out->keys[i] = out->keys[i - 1];
		i--;
	}
	out->keys[i] = k;
}

bool
registry_keys_find(const struct registry_keyring *kr,
    const struct registry_index *idx, const char *address, Axle__V1__KeyUse use,
    int64_t now_ms, struct registry_key_answer *out)
{
	struct registry_resolution res;
	const Axle__V1__Registrar *rec;
	size_t published = 0;

	memset(out, 0, sizeof(*out));
	if (!registry_resolve(idx, address, &res)) {
		snprintf(out->reason, sizeof(out->reason), "no registrar's delegation "
		    "covers %s%s%s", address, res.encloser.kind != REGISTRY_PREFIX_NONE ?
		    ": it lies in the region of " : "", res.encloser.kind !=
		    REGISTRY_PREFIX_NONE ? res.encloser.region : "");
		return false;
	}
	out->registrar_id = res.match.registrar_id;
	out->region = res.match.region;
	out->status = res.match.registrar_status;
	if (out->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED) {
		snprintf(out->reason, sizeof(out->reason), "registrar %s, which holds "
		    "%s, is revoked: its keys are not to be used", out->registrar_id,
		    res.match.prefix);
		return false;
	}
	rec = kr != NULL ? ring_get(kr, out->region, out->registrar_id) : NULL;
	for (size_t i = 0; rec != NULL && i < rec->n_keys; i++) {
		const Axle__V1__PublishedKey *k = rec->keys[i];

		if (use != AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED && k->use != use)
			continue;
		published++;
		if (registry_key_usable(k, use, address, now_ms))
			answer_add(out, k);
	}
	if (out->n == 0 && published == 0)
		snprintf(out->reason, sizeof(out->reason), "registrar %s publishes "
		    "no %s%skey", out->registrar_id, use ==
		    AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED ? "" :
		    registry_key_use_name(use), use ==
		    AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED ? "" : " ");
	else if (out->n == 0)
		snprintf(out->reason, sizeof(out->reason), "registrar %s publishes "
		    "no %s%skey for %s that is valid now (of %zu published, none "
		    "has a scope covering it and a certificate in its validity)",
		    out->registrar_id, use == AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED ?
		    "" : registry_key_use_name(use), use ==
		    AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED ? "" : " ", address,
		    published);
	return out->n > 0;
}
