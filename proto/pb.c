/* pb.c -- bounded protobuf unpack (wire pre-check, nesting, UTF-8, memory budget) and pack. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "proto/text.h"

/*
 * protobuf-c trusts its input more than a node exposed to the federation
 * may: it has no nesting limit (recursion on the C stack), no memory limit
 * (a repeated empty sub-message costs 2 wire bytes and a whole struct), and
 * it neither validates UTF-8 nor refuses NUL in strings (which would silently
 * truncate an address such as "uk.london\0.evil"). So a pre-pass walks the
 * wire format with the descriptor before protobuf-c sees a byte, and the
 * decode itself runs on an allocator with a byte budget.
 */

#define PB_BUDGET_SLACK	4096
#define PB_PATH_MAX	192

/* --- allocator with a budget ---------------------------------------------- */

struct pb_arena {
	ProtobufCAllocator alloc;	/* allocator_data points back here */
	size_t budget;			/* live bytes allowed */
	size_t used;			/* live bytes now (requested sizes) */
	size_t peak;			/* most live at once */
	int over_budget;		/* an allocation was refused for budget */
	int nomem;			/* malloc itself failed */
};

/* In front of every block, so that free knows the size and pb_free the arena. */
struct pb_block {
	_Alignas(max_align_t) struct pb_arena *arena;
	size_t size;
};

static void *
pb_arena_alloc(void *data, size_t size)
{
	struct pb_arena *a = data;
	struct pb_block *b;

	if (size > a->budget - a->used) {
		a->over_budget = 1;
		return NULL;
	}
	if ((b = malloc(sizeof(*b) + size)) == NULL) {
		a->nomem = 1;
		return NULL;
	}
	b->arena = a;
	b->size = size;
	a->used += size;
	if (a->used > a->peak)
		a->peak = a->used;
	return b + 1;
}

static void
pb_arena_free(void *data, void *p)
{
	struct pb_arena *a = data;
	struct pb_block *b;

	if (p == NULL)
		return;
	b = (struct pb_block *)p - 1;
	a->used -= b->size;
	free(b);
}

/* --- error text ------------------------------------------------------------ */

struct pb_walk {
	char *err;
	size_t errlen;
	uint32_t path[PB_MAX_DEPTH + 1];	/* field numbers from the top */
	unsigned depth;				/* entries of path in use */
	unsigned unknown;			/* unknown fields seen so far */
};

/*
 * "field 2.4.1: <why>": the path of field numbers from the outermost
 * message down to num (0: the fault is in no one field, e.g. a bad tag).
 * Returns -1.
 */
static int
pb_fail(struct pb_walk *w, uint32_t num, const char *fmt, ...)
{
	char path[PB_PATH_MAX], why[160];
	size_t off = 0;
	unsigned i;
	va_list ap;

	path[0] = '\0';
	for (i = 0; i < w->depth && off < sizeof(path); i++)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "%s%u",
		    i ? "." : "", (unsigned)w->path[i]);
	if (num != 0 && off < sizeof(path))
		snprintf(path + off, sizeof(path) - off, "%s%u", off ? "." : "",
		    (unsigned)num);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (path[0] == '\0')
		axle_seterr(w->err, w->errlen, "%s", why);
	else
		axle_seterr(w->err, w->errlen, "field %s: %s", path, why);
	return -1;
}

/* --- wire format ------------------------------------------------------------ */

enum { PB_WT_VARINT = 0, PB_WT_FIXED64 = 1, PB_WT_LEN = 2, PB_WT_FIXED32 = 5 };

/* Reads a varint of at most maxbytes. Returns bytes used, 0 if truncated, -1 if too long. */
static int
pb_varint(const uint8_t *p, size_t len, unsigned maxbytes, uint64_t *v)
{
	unsigned i;

	*v = 0;
	for (i = 0; i < maxbytes; i++) {
		if (i == len)
			return 0;
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
			return (int)i + 1;
	}
	return i == len ? 0 : -1;
}

/* The wire type a field of this type is sent with, unpacked. */
static unsigned
pb_wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return PB_WT_FIXED32;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return PB_WT_FIXED64;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return PB_WT_LEN;
	default:
		return PB_WT_VARINT;
	}
}

static const char *
pb_wire_type_name(unsigned wt)
{
	static const char *names[] = { "varint", "fixed64", "length-delimited",
	    "start-group", "end-group", "fixed32", "invalid", "invalid" };

	return names[wt & 7];
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL is refused too: protobuf-c hands strings to C as
 * NUL-terminated, and an embedded NUL would silently cut them short.
 * Returns NULL if fine, else why not.
 */
static const char *
pb_utf8_check(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		uint8_t c = s[i];

		if (c == 0)
			return "string contains a NUL byte";
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else
			return "string is not valid UTF-8";
		if (len - i <= n)
			return "string is not valid UTF-8";
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return "string is not valid UTF-8";
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return "string is not valid UTF-8";
		i += n + 1;
	}
	return NULL;
}

/* A packed repeated scalar: whole elements only, every varint terminated. */
static int
pb_check_packed(struct pb_walk *w, uint32_t num, ProtobufCType t,
    const uint8_t *p, size_t len)
{
	uint64_t v;
	size_t off;
	int used;

	switch (pb_wire_type_of(t)) {
	case PB_WT_FIXED32:
		return len % 4 ? pb_fail(w, num, "packed fixed32 values of %zu bytes", len) : 0;
	case PB_WT_FIXED64:
		return len % 8 ? pb_fail(w, num, "packed fixed64 values of %zu bytes", len) : 0;
	}
	for (off = 0; off < len; off += (size_t)used)
		if ((used = pb_varint(p + off, len - off, 10, &v)) <= 0)
			return pb_fail(w, num, "malformed packed varint");
	return 0;
}

static int pb_walk_msg(struct pb_walk *w, const ProtobufCMessageDescriptor *desc,
    const uint8_t *p, size_t len);

/* A length-delimited value of a known field: recurse, check text, or packed. */
static int
pb_check_len(struct pb_walk *w, const ProtobufCFieldDescriptor *f,
    const uint8_t *p, size_t len)
{
	const char *why;
	int rc;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		if (w->depth + 1 >= PB_MAX_DEPTH)
			return pb_fail(w, f->id,
			    "message nests deeper than %d levels", PB_MAX_DEPTH);
		w->path[w->depth++] = f->id;
		rc = pb_walk_msg(w, f->descriptor, p, len);
		w->depth--;
		return rc;
	case PROTOBUF_C_TYPE_STRING:
		if ((why = pb_utf8_check(p, len)) != NULL)
			return pb_fail(w, f->id, "%s", why);
		return 0;
	case PROTOBUF_C_TYPE_BYTES:
		return 0;
	default:	/* a repeated scalar: pb_walk_value let only those through */
		return pb_check_packed(w, f->id, f->type, p, len);
	}
}

/* Reads one field's value at p; *used gets its size. Checks it against f if known. */
static int
pb_walk_value(struct pb_walk *w, const ProtobufCFieldDescriptor *f,
    uint32_t num, unsigned wt, const uint8_t *p, size_t len, size_t *used)
{
	uint64_t v;
	int n;

	if (wt == 3 || wt == 4)
		return pb_fail(w, num, "groups (wire type %u) are not supported", wt);
	if (wt == 6 || wt == 7)
		return pb_fail(w, num, "invalid wire type %u", wt);
	if (f != NULL && wt != pb_wire_type_of(f->type) && !(wt == PB_WT_LEN &&
	    f->label == PROTOBUF_C_LABEL_REPEATED))
		return pb_fail(w, num, "wire type %s where %s expected",
		    pb_wire_type_name(wt), pb_wire_type_name(pb_wire_type_of(f->type)));
	switch (wt) {
	case PB_WT_VARINT:
		if ((n = pb_varint(p, len, 10, &v)) == 0)
			return pb_fail(w, num, "truncated varint");
		if (n < 0)
			return pb_fail(w, num, "varint longer than 10 bytes");
		*used = (size_t)n;
		return 0;
	case PB_WT_FIXED64:
	case PB_WT_FIXED32:
		*used = wt == PB_WT_FIXED64 ? 8 : 4;
		if (len < *used)
			return pb_fail(w, num, "truncated %s value", pb_wire_type_name(wt));
		return 0;
	case PB_WT_LEN:
		if ((n = pb_varint(p, len, 5, &v)) == 0)
			return pb_fail(w, num, "truncated length-delimited value");
		if (n < 0)
			return pb_fail(w, num, "length prefix longer than 5 bytes");
		if (v > len - (size_t)n)
			return pb_fail(w, num, "truncated length-delimited value "
			    "(%llu bytes declared, %zu left)", (unsigned long long)v,
			    len - (size_t)n);
		*used = (size_t)n + (size_t)v;
		return f == NULL ? 0 : pb_check_len(w, f, p + n, (size_t)v);
	}
	return pb_fail(w, num, "invalid wire type %u", wt);	/* not reached */
}

static int
pb_walk_msg(struct pb_walk *w, const ProtobufCMessageDescriptor *desc,
    const uint8_t *p, size_t len)
{
	const ProtobufCFieldDescriptor *f;
	size_t off = 0, used;
	uint64_t tag;
	uint32_t num;
	int n;

	while (off < len) {
		/* like protobuf-c: a tag is at most 5 bytes; off counts within this message */
		if ((n = pb_varint(p + off, len - off, 5, &tag)) <= 0)
			return pb_fail(w, 0, "%s tag at byte %zu",
			    n == 0 ? "truncated" : "overlong", off);
		if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
			return pb_fail(w, 0, "invalid field number %llu at byte %zu",
			    (unsigned long long)(tag >> 3), off);
		off += (size_t)n;
		num = (uint32_t)(tag >> 3);
		f = protobuf_c_message_descriptor_get_field(desc, num);
		if (f == NULL && ++w->unknown > PB_MAX_UNKNOWN)
			return pb_fail(w, num, "more than %d fields this node does "
			    "not know (a newer protocol version, or a malformed "
			    "message)", PB_MAX_UNKNOWN);
		used = 0;
		if (pb_walk_value(w, f, num, (unsigned)(tag & 7), p + off,
		    len - off, &used) != 0)
			return -1;
		off += used;
	}
	return 0;
}

/* --- public ------------------------------------------------------------------- */

/*
 * True if msg, re-packed canonically (as a relaying node sends it), decodes
 * within the budget the next node gives those bytes. The peak of this decode
 * decides most cases; near the budget the scratch protobuf-c needs depends on
 * field order (unknown fields move to the end, repeated fields regroup), so
 * there the canonical bytes are decoded once more to be sure.
 */
static int
pb_fits_canonical(const ProtobufCMessage *msg, size_t peak)
{
	size_t clen = protobuf_c_message_get_packed_size(msg);
	size_t cbudget = PB_ALLOC_FACTOR * clen + PB_BUDGET_SLACK;
	struct pb_arena *a;
	ProtobufCMessage *again;
	uint8_t *buf;
	int ok;

	if (peak > cbudget)
		return 0;
	if (peak <= cbudget / 2)
		return 1;
	if ((buf = malloc(clen ? clen : 1)) == NULL)
		return 0;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		free(buf);
		return 0;
	}
	protobuf_c_message_pack(msg, buf);
	a->alloc.alloc = pb_arena_alloc;
	a->alloc.free = pb_arena_free;
	a->alloc.allocator_data = a;
	a->budget = cbudget;
	again = protobuf_c_message_unpack(msg->descriptor, &a->alloc, clen, buf);
	ok = again != NULL;
	if (again != NULL)
		protobuf_c_message_free_unpacked(again, &a->alloc);
	free(a);
	free(buf);
	return ok;
}

ProtobufCMessage *
pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
    size_t len, size_t max_len, char *err, size_t errlen)
{
	struct pb_walk w = { .err = err, .errlen = errlen };
	struct pb_arena *a;
	ProtobufCMessage *msg;

	axle_seterr(err, errlen, "%s", "");
	if (len > max_len) {
		axle_seterr(err, errlen, "message of %zu bytes is over the limit "
		    "of %zu bytes", len, max_len);
		return NULL;
	}
	if (len > (SIZE_MAX - PB_BUDGET_SLACK) / PB_ALLOC_FACTOR) {
		axle_seterr(err, errlen, "message of %zu bytes is too large", len);
		return NULL;
	}
	if (len > 0 && buf == NULL) {
		axle_seterr(err, errlen, "no message bytes");
		return NULL;
	}
	if (pb_walk_msg(&w, desc, buf, len) != 0)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		axle_seterr(err, errlen, "out of memory");
		return NULL;
	}
	a->alloc.alloc = pb_arena_alloc;
	a->alloc.free = pb_arena_free;
	a->alloc.allocator_data = a;
	a->budget = PB_ALLOC_FACTOR * len + PB_BUDGET_SLACK;
	msg = protobuf_c_message_unpack(desc, &a->alloc, len, buf);
	/*
	 * Redundant encodings (a singular field sent twice, overlong varints)
	 * raise the budget without using it. Judge by the canonical size as
	 * well (the peak, protobuf-c's scratch included), so that what a node
	 * accepts and re-packs to relay fits the next node's budget too.
	 */
	if (msg != NULL && !pb_fits_canonical(msg, a->peak)) {
		protobuf_c_message_free_unpacked(msg, &a->alloc);
		msg = NULL;
		a->over_budget = 1;
	}
	if (msg != NULL)
		return msg;
	if (a->over_budget)
		axle_seterr(err, errlen, "decoded message would need more than its "
		    "memory budget of %zu bytes (%d x %zu wire bytes + %d)",
		    a->budget, PB_ALLOC_FACTOR, len, PB_BUDGET_SLACK);
	else if (a->nomem)
		axle_seterr(err, errlen, "out of memory");
	else
		axle_seterr(err, errlen, "malformed %s message", desc->name);
	free(a);
	return NULL;
}

void
pb_free(ProtobufCMessage *msg)
{
	struct pb_arena *a;

	if (msg == NULL)
		return;
	a = ((struct pb_block *)msg - 1)->arena;
	protobuf_c_message_free_unpacked(msg, &a->alloc);
	free(a);
}

uint8_t *
pb_pack(const ProtobufCMessage *msg, size_t headroom, size_t *outlen)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	if (headroom >= SIZE_MAX - n)
		return NULL;
	if ((buf = malloc(headroom + n + 1)) == NULL)	/* +1: never malloc(0) */
		return NULL;
	memset(buf, 0, headroom);
	if (protobuf_c_message_pack(msg, buf + headroom) != n) {
		free(buf);	/* a message changed under us: a caller bug */
		return NULL;
	}
	*outlen = headroom + n;
	return buf;
}

size_t
pb_elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}
