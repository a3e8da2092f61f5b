/* prefix_index.c -- hash tables of prefixes and registrars, and longest-prefix resolution. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/address.h"
#include "registry/error.h"
#include "registry/node_record.h"
#include "registry/prefix_index.h"

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL
#define ID_MAX		128	/* registrar id bytes kept in the index */
#define NONE		UINT32_MAX

/* One slot of a table: the hash's high half (to skip most key compares) and entry + 1. */
struct slot {
	uint32_t tag;
	uint32_t ent;	/* 0: empty */
};

/*
 * An entry: key in the arena (NUL-terminated). Prefixes: a = registrar entry
 * (or NONE for regions). Registrars: key is "region\0id", status. Interior
 * counts: a = delegations strictly under the key.
 */
struct entry {
	uint32_t key_off;
	uint16_t key_len;
	uint8_t kind;
	uint8_t status;
	uint32_t a;
};

struct table {
	struct slot *slots;
	uint32_t mask;		/* slots - 1 (a power of two) */
	uint32_t count;
	struct entry *ents;
	uint32_t nents, capents;
	uint32_t *freelist;	/* removed entries, reused before growing */
	uint32_t nfree;
};

struct registry_index {
	struct table pfx;	/* prefix -> delegation or region */
	struct table regs;	/* "region\0id" -> registrar */
	struct table under;	/* ancestor -> number of delegations under it */
	char *arena;
	size_t alen, acap;
};

/* --- hashing --------------------------------------------------------------- */

/* murmur3's fmix64: FNV-1a's low bits are weak; the table uses them. */
static inline uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t
registry_index_hash(const char *key, size_t len)
{
	uint64_t s = FNV_OFFSET;

	for (size_t i = 0; i < len; i++) {
		s ^= (unsigned char)key[i];
		s *= FNV_PRIME;
	}
	return mix(s);
}

/* --- arena ----------------------------------------------------------------- */

/* Copies len bytes + NUL; returns the offset or NONE on ENOMEM / arena > 4 GiB. */
static uint32_t
arena_put(struct registry_index *idx, const char *s, size_t len)
{
	size_t off = idx->alen;

	if (off + len + 1 > idx->acap) {
		size_t ncap = idx->acap ? idx->acap * 2 : 4096;
		char *n;

		while (ncap < off + len + 1)
			ncap *= 2;
		if (ncap > UINT32_MAX || (n = realloc(idx->arena, ncap)) == NULL)
			return NONE;
		idx->arena = n;
		idx->acap = ncap;
	}
	memcpy(idx->arena + off, s, len);
	idx->arena[off + len] = '\0';
	idx->alen = off + len + 1;
	return (uint32_t)off;
}

/* --- tables ---------------------------------------------------------------- */

static int
table_init(struct table *t, size_t expected)
{
	size_t n = 16;

	while (n < expected * 2 && n < ((size_t)1 << 31))
		n <<= 1;
	memset(t, 0, sizeof(*t));
	if ((t->slots = calloc(n, sizeof(*t->slots))) == NULL)
		return REGISTRY_ENOMEM;
	t->mask = (uint32_t)(n - 1);
	return REGISTRY_OK;
}

static void
table_free(struct table *t)
{
	free(t->slots);
	free(t->ents);
	free(t->freelist);
}

/* Entry index of key (with hash h), or NONE. */
static inline uint32_t
table_find(const struct table *t, const char *arena, const char *key,
    size_t len, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);

	for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
		const struct slot *s = &t->slots[i];
		const struct entry *e;

		if (s->ent == 0)
			return NONE;
		if (s->tag != tag)
			continue;
		e = &t->ents[s->ent - 1];
		if (e->key_len == len && memcmp(arena + e->key_off, key, len) == 0)
			return s->ent - 1;
	}
}

/* Places entry ei (hash h) in the first free slot; the table has room. */
static void
table_place(struct table *t, uint64_t h, uint32_t ei)
{
	uint32_t i = (uint32_t)h & t->mask;

	while (t->slots[i].ent != 0)
		i = (i + 1) & t->mask;
	t->slots[i].tag = (uint32_t)(h >> 32);
	t->slots[i].ent = ei + 1;
	t->count++;
}

/* Doubles the slot array when over half full; the hash is recomputed from keys. */
static int
table_grow(struct table *t, const char *arena)
{
	struct table old = *t;
	size_t n = ((size_t)t->mask + 1) * 2;

	if (n > ((size_t)1 << 32) ||
	    (t->slots = calloc(n, sizeof(*t->slots))) == NULL) {
		t->slots = old.slots;
		return REGISTRY_ENOMEM;
	}
	t->mask = (uint32_t)(n - 1);
	t->count = 0;
	for (size_t i = 0; i <= old.mask; i++) {
		const struct entry *e;

		if (old.slots[i].ent == 0)
			continue;
		e = &t->ents[old.slots[i].ent - 1];
		table_place(t, registry_index_hash(arena + e->key_off, e->key_len),
		    old.slots[i].ent - 1);
	}
	free(old.slots);
	return REGISTRY_OK;
}

/* A fresh entry slot (reusing a removed one); NONE on ENOMEM. */
static uint32_t
table_new_entry(struct table *t)
{
	if (t->nfree > 0)
		return t->freelist[--t->nfree];
	if (t->nents == t->capents) {
		uint32_t ncap = t->capents ? t->capents * 2 : 64;
		struct entry *n;

		uint32_t *f;

		if (t->capents >= UINT32_MAX / 2 ||
		    (n = realloc(t->ents, (size_t)ncap * sizeof(*n))) == NULL)
			return NONE;
		t->ents = n;
		if ((f = realloc(t->freelist, (size_t)ncap * sizeof(*f))) == NULL)
			return NONE;	/* ents grew; capents did not: retried later */
		t->freelist = f;
		t->capents = ncap;
	}
	return t->nents++;
}

/* Inserts key (not present) and returns its entry, zeroed but for the key; NONE on ENOMEM. */
static uint32_t
table_insert(struct registry_index *idx, struct table *t, const char *key,
    size_t len, uint64_t h)
{
	uint32_t ei, off;

	if ((size_t)(t->count + 1) * 2 > (size_t)t->mask + 1 &&
	    table_grow(t, idx->arena) != REGISTRY_OK)
		return NONE;
	if ((ei = table_new_entry(t)) == NONE)
		return NONE;
	if ((off = arena_put(idx, key, len)) == NONE) {
		t->freelist[t->nfree++] = ei;	/* cannot fail: see table_free_entry */
		return NONE;
	}
	memset(&t->ents[ei], 0, sizeof(t->ents[ei]));
	t->ents[ei].key_off = off;
	t->ents[ei].key_len = (uint16_t)len;
	table_place(t, h, ei);
	return ei;
}

/* True if home position k lies cyclically in (i, j]. */
static inline int
cyc_between(uint32_t i, uint32_t k, uint32_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

/*
 * Removes the slot holding entry ei (hash h) by backward-shift deletion: no
 * tombstones, so misses stay one short probe run. The freelist has room for
 * every entry (grown with the entries), so recycling cannot fail.
 */
static void
table_remove(struct table *t, const char *arena, uint64_t h, uint32_t ei)
{
	uint32_t i = (uint32_t)h & t->mask;

	while (t->slots[i].ent != ei + 1)
		i = (i + 1) & t->mask;
	for (uint32_t j = (i + 1) & t->mask; t->slots[j].ent != 0;
	    j = (j + 1) & t->mask) {
		const struct entry *e = &t->ents[t->slots[j].ent - 1];
		uint32_t k = (uint32_t)registry_index_hash(arena + e->key_off,
		    e->key_len) & t->mask;

		if (cyc_between(i, k, j))
			continue;	/* j is still reachable from its home */
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i].ent = 0;
	t->slots[i].tag = 0;
	t->count--;
	t->freelist[t->nfree++] = ei;
}

/* --- the index --------------------------------------------------------------- */

struct registry_index *
registry_index_new(size_t expected)
{
	struct registry_index *idx = calloc(1, sizeof(*idx));

	if (idx == NULL)
		return NULL;
	if (table_init(&idx->pfx, expected) != REGISTRY_OK ||
	    table_init(&idx->regs, 64) != REGISTRY_OK ||
	    table_init(&idx->under, expected) != REGISTRY_OK) {
		registry_index_free(idx);
		return NULL;
	}
	return idx;
}

void
registry_index_free(struct registry_index *idx)
{
	if (idx == NULL)
		return;
	table_free(&idx->pfx);
	table_free(&idx->regs);
	table_free(&idx->under);
	free(idx->arena);
	free(idx);
}

size_t
registry_index_count(const struct registry_index *idx)
{
	return idx->pfx.count;
}

/* Builds "region\0id" into buf (ADDR_MAX_LEN + 2 + ID_MAX); returns its length or 0 if invalid. */
static size_t
reg_key(char *buf, const char *region, const char *id)
{
	size_t rl = strlen(region), il = strlen(id);

	if (rl == 0 || rl > ADDR_MAX_LEN || il == 0 || il > ID_MAX)
		return 0;
	memcpy(buf, region, rl + 1);
	memcpy(buf + rl + 1, id, il);
	return rl + 1 + il;
}

static uint32_t
reg_find(const struct registry_index *idx, const char *region, const char *id)
{
	char key[ADDR_MAX_LEN + 2 + ID_MAX];
	size_t len = reg_key(key, region, id);

	if (len == 0)
		return NONE;
	return table_find(&idx->regs, idx->arena, key, len,
	    registry_index_hash(key, len));
}

int
registry_index_set_registrar(struct registry_index *idx, const char *region,
    const char *id, Axle__V1__RegistrarStatus status)
{
	char key[ADDR_MAX_LEN + 2 + ID_MAX];
	size_t len = reg_key(key, region, id);
	uint64_t h;
	uint32_t ei;

	if (len == 0)
		return REGISTRY_EINVAL;
	h = registry_index_hash(key, len);
	ei = table_find(&idx->regs, idx->arena, key, len, h);
	if (ei == NONE && (ei = table_insert(idx, &idx->regs, key, len, h)) == NONE)
		return REGISTRY_ENOMEM;
	idx->regs.ents[ei].status = (uint8_t)status;
	return REGISTRY_OK;
}

/* Valid prefix length for a key, or 0. */
static size_t
key_len(const char *prefix)
{
	size_t len = prefix != NULL ? strlen(prefix) : 0;

	return len <= ADDR_MAX_LEN ? len : 0;
}

/*
 * Adds delta to the under-count of every proper ancestor of prefix[0..len),
 * shortest first, so that on ENOMEM the ones done are exactly the ancestors
 * of prefix[0..i) and can be undone.
 */
static int
under_adjust(struct registry_index *idx, const char *prefix, size_t len, int delta)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t h;
		uint32_t ei;

		if (prefix[i] != '.')
			continue;
		h = registry_index_hash(prefix, i);
		ei = table_find(&idx->under, idx->arena, prefix, i, h);
		if (ei == NONE) {
			if (delta < 0)
				continue;
			if ((ei = table_insert(idx, &idx->under, prefix, i, h)) == NONE) {
				under_adjust(idx, prefix, i, -delta);
				return REGISTRY_ENOMEM;
			}
		}
		idx->under.ents[ei].a += (uint32_t)delta;
		if (idx->under.ents[ei].a == 0)
			table_remove(&idx->under, idx->arena, h, ei);
	}
	return REGISTRY_OK;
}

int
registry_index_add_delegation(struct registry_index *idx, const char *prefix,
    const char *region, const char *id)
{
	size_t len = key_len(prefix);
	uint32_t ri = reg_find(idx, region, id), ei;
	uint64_t h;

	if (len == 0)
		return REGISTRY_EINVAL;
	if (ri == NONE)
		return REGISTRY_ENOTFOUND;
	h = registry_index_hash(prefix, len);
	if ((ei = table_find(&idx->pfx, idx->arena, prefix, len, h)) != NONE)
		return idx->pfx.ents[ei].kind == REGISTRY_PREFIX_DELEGATION &&
		    idx->pfx.ents[ei].a == ri ? REGISTRY_OK : REGISTRY_EEXIST;
	/* Ancestors first: if that fails, nothing refers to a missing entry. */
	if (under_adjust(idx, prefix, len, +1) != REGISTRY_OK)
		return REGISTRY_ENOMEM;
	if ((ei = table_insert(idx, &idx->pfx, prefix, len, h)) == NONE) {
		under_adjust(idx, prefix, len, -1);
		return REGISTRY_ENOMEM;
	}
	idx->pfx.ents[ei].kind = REGISTRY_PREFIX_DELEGATION;
	idx->pfx.ents[ei].a = ri;
	return REGISTRY_OK;
}

int
registry_index_move_delegation(struct registry_index *idx, const char *prefix,
    const char *region, const char *id)
{
	size_t len = key_len(prefix);
	uint32_t ri = reg_find(idx, region, id), ei;

	if (len == 0)
		return REGISTRY_EINVAL;
	ei = table_find(&idx->pfx, idx->arena, prefix, len,
	    registry_index_hash(prefix, len));
	if (ri == NONE || ei == NONE ||
	    idx->pfx.ents[ei].kind != REGISTRY_PREFIX_DELEGATION)
		return REGISTRY_ENOTFOUND;
	idx->pfx.ents[ei].a = ri;
	return REGISTRY_OK;
}

int
registry_index_add_region(struct registry_index *idx, const char *prefix,
    enum registry_prefix_kind kind)
{
	size_t len = key_len(prefix);
	uint64_t h;
	uint32_t ei;

	if (len == 0 || (kind != REGISTRY_PREFIX_PEER_REGION &&
	    kind != REGISTRY_PREFIX_OWN_REGION))
		return REGISTRY_EINVAL;
	h = registry_index_hash(prefix, len);
	if ((ei = table_find(&idx->pfx, idx->arena, prefix, len, h)) != NONE)
		return idx->pfx.ents[ei].kind == kind ? REGISTRY_OK : REGISTRY_EEXIST;
	if ((ei = table_insert(idx, &idx->pfx, prefix, len, h)) == NONE)
		return REGISTRY_ENOMEM;
	idx->pfx.ents[ei].kind = (uint8_t)kind;
	idx->pfx.ents[ei].a = NONE;
	return REGISTRY_OK;
}

int
registry_index_remove(struct registry_index *idx, const char *prefix)
{
	size_t len = key_len(prefix);
	uint64_t h;
	uint32_t ei;

	if (len == 0)
		return REGISTRY_ENOTFOUND;
	h = registry_index_hash(prefix, len);
	if ((ei = table_find(&idx->pfx, idx->arena, prefix, len, h)) == NONE)
		return REGISTRY_ENOTFOUND;
	if (idx->pfx.ents[ei].kind == REGISTRY_PREFIX_DELEGATION)
		under_adjust(idx, prefix, len, -1);	/* only removes: cannot fail */
	table_remove(&idx->pfx, idx->arena, h, ei);
	return REGISTRY_OK;
}

/* r moved to a split-off region (strictly inside its own): that region serves its prefixes. */
static bool
moved_away(const Axle__V1__Registrar *r)
{
	return r->moved_to != NULL && r->moved_to[0] != '\0' &&
	    strcmp(r->moved_to, r->region) != 0 &&
	    registry_address_covers(r->region, r->moved_to);
}

/*
 * prefix of r, known as m, goes to (home, id)? Yes when a registrar of r's
 * region held it (re-homing, or r moving it down), or when r is the same
 * registrar's record in an ancestor region that has not moved it: until its
 * node says "moved", the prefix is the ancestor's, whichever record was
 * applied first.
 */
static bool
takes_over(const Axle__V1__Registrar *r, const struct registry_match *m)
{
	if (m->kind != REGISTRY_PREFIX_DELEGATION)
		return false;
	if (strcmp(m->region, r->region) == 0)
		return true;
	return !moved_away(r) && strcmp(m->registrar_id, r->id) == 0 &&
	    registry_address_covers(r->region, m->region);
}

int
registry_index_apply(struct registry_index *idx, const Axle__V1__Registrar *r)
{
	const char *home;
	bool moved;
	int rc, worst = REGISTRY_OK;

	if (r == NULL || r->region == NULL || r->id == NULL)
		return REGISTRY_EINVAL;
	if ((rc = registry_index_set_registrar(idx, r->region, r->id,
	    r->status)) != REGISTRY_OK)
		return rc;
	/*
	 * A node record's prefix is the region of another node, not a
	 * registrar's delegation: it resolves as that node's region (and the
	 * node itself keeps it as its own).
	 */
	if (registry_node_of(r, NULL)) {
		struct registry_match m;

		if (registry_index_get(idx, r->prefixes[0], &m) &&
		    m.kind == REGISTRY_PREFIX_OWN_REGION)
			return REGISTRY_OK;
		return registry_index_add_region(idx, r->prefixes[0],
		    REGISTRY_PREFIX_PEER_REGION);
	}
	/*
	 * Moved to a split-off region: its prefixes are served there, under
	 * the same id; that region's own record, when it comes, sets the
	 * standing (this one sets it only until then).
	 */
	home = r->region;
	if ((moved = moved_away(r))) {
		home = r->moved_to;
		if (reg_find(idx, home, r->id) == NONE &&
		    (rc = registry_index_set_registrar(idx, home, r->id,
		    r->status)) != REGISTRY_OK)
			return rc;
	}
	for (size_t i = 0; i < r->n_prefixes; i++) {
		struct registry_match m;

		if (moved && !registry_address_covers(home, r->prefixes[i])) {
			worst = REGISTRY_EINVAL;	/* moved, but not under its new region */
			continue;
		}
		rc = registry_index_add_delegation(idx, r->prefixes[i], home, r->id);
		if (rc == REGISTRY_EEXIST && registry_index_get(idx, r->prefixes[i], &m) &&
		    takes_over(r, &m))
			rc = registry_index_move_delegation(idx, r->prefixes[i],
			    home, r->id);
		if (rc == REGISTRY_ENOMEM)
			return rc;
		if (rc != REGISTRY_OK)
			worst = rc;
	}
	return worst;
}

/* Fills m from prefix entry e. */
static void
fill_match(const struct registry_index *idx, const struct entry *e,
    struct registry_match *m)
{
	m->kind = (enum registry_prefix_kind)e->kind;
	m->prefix = idx->arena + e->key_off;
	m->prefix_len = e->key_len;
	if (e->kind == REGISTRY_PREFIX_DELEGATION) {
		const struct entry *r = &idx->regs.ents[e->a];
		const char *region = idx->arena + r->key_off;

		m->region = region;
		m->registrar_id = region + strlen(region) + 1;
		m->registrar_status = (Axle__V1__RegistrarStatus)r->status;
	} else {
		m->region = m->prefix;
		m->registrar_id = NULL;
		m->registrar_status = AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_UNSPECIFIED;
	}
}

static void
clear_match(struct registry_match *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = REGISTRY_PREFIX_NONE;
}

bool
registry_index_get(const struct registry_index *idx, const char *prefix,
    struct registry_match *out)
{
	size_t len = key_len(prefix);
	uint32_t ei;

	clear_match(out);
	if (len == 0)
		return false;
	ei = table_find(&idx->pfx, idx->arena, prefix, len,
	    registry_index_hash(prefix, len));
	if (ei == NONE)
		return false;
	fill_match(idx, &idx->pfx.ents[ei], out);
	return true;
}

bool
registry_index_find_under(const struct registry_index *idx, const char *prefix,
    struct registry_match *out)
{
	size_t len = key_len(prefix);

	clear_match(out);
	if (len == 0 || table_find(&idx->under, idx->arena, prefix, len,
	    registry_index_hash(prefix, len)) == NONE)
		return false;
	for (uint32_t i = 0; i <= idx->pfx.mask; i++) {
		const struct entry *e;

		if (idx->pfx.slots[i].ent == 0)
			continue;
		e = &idx->pfx.ents[idx->pfx.slots[i].ent - 1];
		if (e->kind == REGISTRY_PREFIX_DELEGATION && e->key_len > len &&
		    idx->arena[e->key_off + len] == '.' &&
		    memcmp(idx->arena + e->key_off, prefix, len) == 0) {
			fill_match(idx, e, out);
			return true;
		}
	}
	return false;
}

bool
registry_resolve(const struct registry_index *idx, const char *address,
    struct registry_resolution *out)
{
	/* One slot per dot and the end: unparsed input may be all dots. */
	uint64_t h[ADDR_MAX_LEN + 1];
	uint16_t lens[ADDR_MAX_LEN + 1];
	uint64_t s = FNV_OFFSET;
	size_t n = 0, i;

	clear_match(&out->match);
	clear_match(&out->encloser);
	/* One pass: FNV-1a is prefix-incremental, so the state at each dot is an ancestor's hash. */
	for (i = 0; address[i] != '\0'; i++) {
		if (i >= ADDR_MAX_LEN)
			return false;
		if (address[i] == '.') {
			h[n] = s;
			lens[n++] = (uint16_t)i;
		}
		s ^= (unsigned char)address[i];
		s *= FNV_PRIME;
	}
	if (i == 0)
		return false;
	h[n] = s;
	lens[n++] = (uint16_t)i;
	/* Start every probe's memory fetch before waiting on any of them. */
	for (size_t k = 0; k < n; k++) {
		h[k] = mix(h[k]);
		__builtin_prefetch(&idx->pfx.slots[(uint32_t)h[k] & idx->pfx.mask]);
	}
	for (size_t k = n; k-- > 0;) {
		uint32_t ei = table_find(&idx->pfx, idx->arena, address, lens[k], h[k]);
		const struct entry *e;

		if (ei == NONE)
			continue;
		e = &idx->pfx.ents[ei];
		if (out->encloser.kind == REGISTRY_PREFIX_NONE)
			fill_match(idx, e, &out->encloser);
		if (e->kind == REGISTRY_PREFIX_DELEGATION) {
			fill_match(idx, e, &out->match);
			return true;
		}
	}
	return false;
}
