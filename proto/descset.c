/* descset.c -- look-ups in a FileDescriptorSet's wire form, for server reflection. */
#include <stdbool.h>
#include <string.h>

#include "proto/descset.h"

/* Field numbers of google/protobuf/descriptor.proto used here. */
#define SET_FILE	1	/* FileDescriptorSet.file */
#define FILE_NAME	1	/* FileDescriptorProto */
#define FILE_PACKAGE	2
#define FILE_DEP	3
#define FILE_MESSAGE	4
#define FILE_ENUM	5
#define FILE_SERVICE	6
#define MSG_NAME	1	/* DescriptorProto */
#define MSG_NESTED	3
#define MSG_ENUM	4
#define NAMED_NAME	1	/* EnumDescriptorProto, ServiceDescriptorProto, MethodDescriptorProto */
#define SVC_METHOD	2
#define MAX_NEST	32	/* nested messages followed when matching a symbol */

struct wire {
	const uint8_t *p, *end;
};

static int
varint(struct wire *w, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (w->p >= w->end)
			return -1;
		*v |= (uint64_t)(*w->p & 0x7f) << shift;
		if ((*w->p++ & 0x80) == 0)
			return 0;
	}
	return -1;
}

/*
 * The next length-delimited field: 1 with its number and value, 0 at the
 * end, -1 on malformed input. Fields of other wire types are skipped.
 */
static int
next_len(struct wire *w, uint32_t *field, const uint8_t **val, size_t *vlen)
{
	uint64_t key, n;

	while (w->p < w->end) {
		if (varint(w, &key) != 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (varint(w, &n) != 0)
				return -1;
			break;
		case 1:
		case 5:
			n = (key & 7) == 1 ? 8 : 4;
			if ((uint64_t)(w->end - w->p) < n)
				return -1;
			w->p += n;
			break;
		case 2:
			if (varint(w, &n) != 0 || (uint64_t)(w->end - w->p) < n)
				return -1;
			*field = (uint32_t)(key >> 3);
			*val = w->p;
			*vlen = (size_t)n;
			w->p += n;
			return 1;
		default:
			return -1;
		}
	}
	return 0;
}

/* The first length-delimited field number f of msg (a name): found or not. */
static bool
field_str(const uint8_t *msg, size_t len, uint32_t f, const uint8_t **s, size_t *slen)
{
	struct wire w = { msg, msg + len };
	uint32_t field;

	while (next_len(&w, &field, s, slen) == 1)
		if (field == f)
			return true;
	return false;
}

static bool
str_is(const uint8_t *s, size_t slen, const char *want, size_t wlen)
{
	return slen == wlen && memcmp(s, want, wlen) == 0;
}

/* sym (relative to the scope of msg's parent) names msg or something inside it. */
static bool
msg_defines(const uint8_t *msg, size_t len, const char *sym, size_t symlen, int depth)
{
	struct wire w = { msg, msg + len };
	const uint8_t *name, *v;
	size_t nlen, vlen;
	uint32_t field;
	const char *rest;
	size_t restlen;

	if (depth > MAX_NEST || !field_str(msg, len, MSG_NAME, &name, &nlen))
		return false;
	if (str_is(name, nlen, sym, symlen))
		return true;
	if (symlen <= nlen + 1 || memcmp(sym, name, nlen) != 0 || sym[nlen] != '.')
		return false;
	rest = sym + nlen + 1;
	restlen = symlen - nlen - 1;
	while (next_len(&w, &field, &v, &vlen) == 1) {
		if (field == MSG_NESTED && msg_defines(v, vlen, rest, restlen, depth + 1))
			return true;
		if (field == MSG_ENUM && field_str(v, vlen, NAMED_NAME, &name, &nlen) &&
		    str_is(name, nlen, rest, restlen))
			return true;
	}
	return false;
}

/* sym (relative to the package) names svc or one of its methods. */
static bool
svc_defines(const uint8_t *svc, size_t len, const char *sym, size_t symlen)
{
	struct wire w = { svc, svc + len };
	const uint8_t *name, *v;
	size_t nlen, vlen;
	uint32_t field;

	if (!field_str(svc, len, NAMED_NAME, &name, &nlen))
		return false;
	if (str_is(name, nlen, sym, symlen))
		return true;
	if (symlen <= nlen + 1 || memcmp(sym, name, nlen) != 0 || sym[nlen] != '.')
		return false;
	while (next_len(&w, &field, &v, &vlen) == 1) {
		const uint8_t *m;
		size_t mlen;

		if (field == SVC_METHOD && field_str(v, vlen, NAMED_NAME, &m, &mlen) &&
		    str_is(m, mlen, sym + nlen + 1, symlen - nlen - 1))
			return true;
	}
	return false;
}

static bool
file_defines(const uint8_t *file, size_t len, const char *sym, size_t symlen)
{
	struct wire w = { file, file + len };
	const uint8_t *pkg = (const uint8_t *)"", *v, *name;
	size_t pkglen = 0, vlen, nlen;
	uint32_t field;

	(void)field_str(file, len, FILE_PACKAGE, &pkg, &pkglen);
	if (pkglen > 0) {
		if (symlen <= pkglen + 1 || memcmp(sym, pkg, pkglen) != 0 ||
		    sym[pkglen] != '.')
			return false;
		sym += pkglen + 1;
		symlen -= pkglen + 1;
	}
	while (next_len(&w, &field, &v, &vlen) == 1) {
		if (field == FILE_MESSAGE && msg_defines(v, vlen, sym, symlen, 0))
			return true;
		if (field == FILE_ENUM && field_str(v, vlen, NAMED_NAME, &name, &nlen) &&
		    str_is(name, nlen, sym, symlen))
			return true;
		if (field == FILE_SERVICE && svc_defines(v, vlen, sym, symlen))
			return true;
	}
	return false;
}

/* The first file of the set that match() accepts. */
static int
find_file(const uint8_t *set, size_t len, const char *key,
    bool (*match)(const uint8_t *file, size_t flen, const char *key, size_t klen),
    struct pb_desc_file *out)
{
	struct wire w = { set, set + len };
	const uint8_t *v;
	size_t vlen, klen = strlen(key);
	uint32_t field;

	if (klen == 0 || klen > PB_DESC_NAME_MAX)
		return -1;
	while (next_len(&w, &field, &v, &vlen) == 1) {
		if (field == SET_FILE && match(v, vlen, key, klen)) {
			out->data = v;
			out->len = vlen;
			return 0;
		}
	}
	return -1;
}

static bool
file_named(const uint8_t *file, size_t len, const char *name, size_t nlen)
{
	const uint8_t *s;
	size_t slen;

	return field_str(file, len, FILE_NAME, &s, &slen) && str_is(s, slen, name, nlen);
}

int
pb_descset_by_name(const uint8_t *set, size_t len, const char *name,
    struct pb_desc_file *out)
{
	return find_file(set, len, name, file_named, out);
}

int
pb_descset_by_symbol(const uint8_t *set, size_t len, const char *symbol,
    struct pb_desc_file *out)
{
	return find_file(set, len, symbol, file_defines, out);
}

size_t
pb_descset_services(const uint8_t *set, size_t len,
    void (*fn)(void *arg, const char *name), void *arg)
{
	struct wire files = { set, set + len };
	const uint8_t *f, *v, *pkg, *name;
	size_t flen, vlen, pkglen, nlen, n = 0;
	uint32_t field;

	while (next_len(&files, &field, &f, &flen) == 1) {
		struct wire w = { f, f + flen };

		if (field != SET_FILE)
			continue;
		if (!field_str(f, flen, FILE_PACKAGE, &pkg, &pkglen))
			pkglen = 0;
		while (next_len(&w, &field, &v, &vlen) == 1) {
			char full[2 * PB_DESC_NAME_MAX + 2];

			if (field != FILE_SERVICE ||
			    !field_str(v, vlen, NAMED_NAME, &name, &nlen) ||
			    pkglen > PB_DESC_NAME_MAX || nlen > PB_DESC_NAME_MAX)
				continue;
			if (pkglen > 0)
				memcpy(full, pkg, pkglen);
			full[pkglen] = '.';
			memcpy(full + pkglen + (pkglen > 0), name, nlen);
			full[pkglen + (pkglen > 0) + nlen] = '\0';
			fn(arg, full);
			n++;
		}
	}
	return n;
}

size_t
pb_descset_closure(const uint8_t *set, size_t len,
    const struct pb_desc_file *root, struct pb_desc_file *out, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	out[n++] = *root;
	/* Breadth first: each file's dependencies, appended unless already in out. */
	for (size_t i = 0; i < n; i++) {
		struct wire w = { out[i].data, out[i].data + out[i].len };
		const uint8_t *v;
		size_t vlen;
		uint32_t field;

		while (next_len(&w, &field, &v, &vlen) == 1) {
			char name[PB_DESC_NAME_MAX + 1];
			struct pb_desc_file dep;
			bool seen = false;

			if (field != FILE_DEP || vlen > PB_DESC_NAME_MAX)
				continue;
			memcpy(name, v, vlen);
			name[vlen] = '\0';
			if (pb_descset_by_name(set, len, name, &dep) != 0)
				continue;
			for (size_t j = 0; j < n && !seen; j++)
				seen = out[j].data == dep.data;
			if (!seen && n < max)
				out[n++] = dep;
		}
	}
	return n;
}
