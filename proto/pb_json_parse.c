/*
 * pb_json_parse.c -- proto3 JSON into a protobuf message: the JSON is walked
 * with the descriptor and written out as wire format, which pb_unpack then
 * decodes with all its bounds (size, nesting, memory, UTF-8), so this file
 * allocates no message structs and a JSON request gets exactly the checks a
 * gRPC one does.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "proto/pb_json.h"
#include "proto/text.h"

#define PB_JSON_PATH_MAX 160

struct pj_buf {
	uint8_t *p;
	size_t len, cap;
};

struct pj_ctx {
	size_t max_len;		/* wire bytes allowed in all */
	char *err;
	size_t errlen;
	char path[PB_JSON_PATH_MAX];	/* "filter.state" of the field at hand */
};

static int
pj_fail(struct pj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
pj_fail(struct pj_ctx *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->path[0] != '\0')
		axle_seterr(c->err, c->errlen, "field \"%s\": %s", c->path, what);
	else
		axle_seterr(c->err, c->errlen, "%s", what);
	return -1;
}

/* --- wire output ------------------------------------------------------------- */

static int
pj_put(struct pj_ctx *c, struct pj_buf *b, const void *src, size_t n)
{
	if (n > c->max_len || b->len > c->max_len - n) {
		axle_seterr(c->err, c->errlen,
		    "message is larger than this node's limit of %zu bytes", c->max_len);
		return -1;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			axle_seterr(c->err, c->errlen, "out of memory");
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int
pj_varint(struct pj_ctx *c, struct pj_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	return pj_put(c, b, tmp, n);
}

static int
pj_fixed(struct pj_ctx *c, struct pj_buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];

	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	return pj_put(c, b, tmp, n);
}

static int
pj_tag(struct pj_ctx *c, struct pj_buf *b, uint32_t id, unsigned wt)
{
	return pj_varint(c, b, ((uint64_t)id << 3) | wt);
}

static int
pj_lenval(struct pj_ctx *c, struct pj_buf *b, uint32_t id, const void *p, size_t n)
{
	if (pj_tag(c, b, id, 2) != 0 || pj_varint(c, b, n) != 0)
		return -1;
	return n == 0 ? 0 : pj_put(c, b, p, n);
}

/* --- JSON values -------------------------------------------------------------- */

static const char *
pj_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	default: return "null";
	}
}

/*
 * An integer from a JSON number (integral) or a decimal string, within
 * [lo, hi] (signed) or [0, uhi] (is_unsigned). Returns 0 with *out (the
 * two's-complement bits for signed values) or -1.
 */
static int
pj_integer(struct pj_ctx *c, const json_t *v, bool is_unsigned, int64_t lo,
    int64_t hi, uint64_t uhi, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (is_unsigned ? n < 0 || (uint64_t)n > uhi : n < lo || n > hi)
			return pj_fail(c, "%lld is out of range", (long long)n);
		*out = (uint64_t)n;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* 1e3 is an integer; 2^53 bounds where a double still is exact. */
		if (d != floor(d) || fabs(d) > 9007199254740992.0)
			return pj_fail(c, "%g is not an integer", d);
		if (is_unsigned ? d < 0 || d > (double)uhi : d < (double)lo || d > (double)hi)
			return pj_fail(c, "%g is out of range", d);
		*out = is_unsigned ? (uint64_t)d : (uint64_t)(int64_t)d;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), i = 0;
		bool neg = n > 0 && s[0] == '-';
		uint64_t acc = 0, lim;

		i = neg ? 1 : 0;
		if (n == i || n > 21 || (neg && is_unsigned))
			return pj_fail(c, "\"%.40s\" is not %s decimal integer", s,
			    is_unsigned ? "an unsigned" : "a");
		lim = is_unsigned ? uhi : neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi;
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return pj_fail(c, "\"%.40s\" is not a decimal integer", s);
			if (acc > (lim - (uint64_t)(s[i] - '0')) / 10)
				return pj_fail(c, "%.40s is out of range", s);
			acc = acc * 10 + (uint64_t)(s[i] - '0');
		}
		*out = neg ? (uint64_t)0 - acc : acc;
		return 0;
	}
	return pj_fail(c, "expected a number or a decimal string, got %s", pj_kind(v));
}

static int
pj_real(struct pj_ctx *c, const json_t *v, bool is_float, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		if (strcmp(s, "NaN") == 0)
			*out = NAN;
		else if (strcmp(s, "Infinity") == 0)
			*out = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			*out = -INFINITY;
		else {
			*out = strtod(s, &end);
			if (*s == '\0' || *end != '\0' || !isfinite(*out))
				return pj_fail(c, "\"%.40s\" is not a number", s);
		}
		return 0;
	} else {
		return pj_fail(c, "expected a number, got %s", pj_kind(v));
	}
	if (is_float && isfinite(*out) && fabs(*out) > FLT_MAX)
		return pj_fail(c, "%g is out of range for a float", *out);
	return 0;
}

static int
pj_b64val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional. Returns a malloc'd buffer or NULL. */
static uint8_t *
pj_base64(struct pj_ctx *c, const char *s, size_t n, size_t *outlen)
{
	uint8_t *out;
	uint32_t acc = 0;
	size_t o = 0, bits = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1 || (out = malloc(n / 4 * 3 + 3)) == NULL) {
		pj_fail(c, n % 4 == 1 ? "not base64 (bad length)" : "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int v = pj_b64val(s[i]);

		if (v < 0) {
			free(out);
			pj_fail(c, "not base64 (character %zu)", i + 1);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return out;
}

/* --- fields ------------------------------------------------------------------- */

static int pj_message(struct pj_ctx *c, const ProtobufCMessageDescriptor *d,
    const json_t *obj, int depth, struct pj_buf *out);

static int
pj_enum(struct pj_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
    uint64_t *out)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;

	if (json_is_string(v)) {
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));

		if (ev == NULL)
			return pj_fail(c, "\"%.60s\" is not a value of %s", json_string_value(v),
			    ed->name);
		*out = (uint64_t)(int64_t)ev->value;
		return 0;
	}
	/* proto3 enums are open: a number this version does not name is kept. */
	return pj_integer(c, v, false, INT32_MIN, INT32_MAX, 0, out);
}

/* One value (an element, for repeated fields) of field f, written with its tag. */
static int
pj_value(struct pj_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
    int depth, struct pj_buf *out)
{
	uint64_t u;
	double d;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
		if (pj_integer(c, v, false, INT32_MIN, INT32_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, (uint64_t)(int64_t)(int32_t)u);
	case PROTOBUF_C_TYPE_SINT32:
		if (pj_integer(c, v, false, INT32_MIN, INT32_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out,
		    ((uint32_t)u << 1) ^ (uint32_t)((int32_t)u >> 31));
	case PROTOBUF_C_TYPE_SFIXED32:
		if (pj_integer(c, v, false, INT32_MIN, INT32_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 5) || pj_fixed(c, out, u, 4);
	case PROTOBUF_C_TYPE_UINT32:
		if (pj_integer(c, v, true, 0, 0, UINT32_MAX, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, u);
	case PROTOBUF_C_TYPE_FIXED32:
		if (pj_integer(c, v, true, 0, 0, UINT32_MAX, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 5) || pj_fixed(c, out, u, 4);
	case PROTOBUF_C_TYPE_INT64:
		if (pj_integer(c, v, false, INT64_MIN, INT64_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, u);
	case PROTOBUF_C_TYPE_SINT64:
		if (pj_integer(c, v, false, INT64_MIN, INT64_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out,
		    (u << 1) ^ (uint64_t)((int64_t)u >> 63));
	case PROTOBUF_C_TYPE_SFIXED64:
		if (pj_integer(c, v, false, INT64_MIN, INT64_MAX, 0, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 1) || pj_fixed(c, out, u, 8);
	case PROTOBUF_C_TYPE_UINT64:
		if (pj_integer(c, v, true, 0, 0, UINT64_MAX, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, u);
	case PROTOBUF_C_TYPE_FIXED64:
		if (pj_integer(c, v, true, 0, 0, UINT64_MAX, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 1) || pj_fixed(c, out, u, 8);
	case PROTOBUF_C_TYPE_FLOAT: {
		float fl;
		uint32_t bits;

		if (pj_real(c, v, true, &d) != 0)
			return -1;
		fl = (float)d;
		memcpy(&bits, &fl, 4);
		return pj_tag(c, out, f->id, 5) || pj_fixed(c, out, bits, 4);
	}
	case PROTOBUF_C_TYPE_DOUBLE:
		if (pj_real(c, v, false, &d) != 0)
			return -1;
		memcpy(&u, &d, 8);
		return pj_tag(c, out, f->id, 1) || pj_fixed(c, out, u, 8);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return pj_fail(c, "expected true or false, got %s", pj_kind(v));
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, json_is_true(v));
	case PROTOBUF_C_TYPE_ENUM:
		if (pj_enum(c, f, v, &u) != 0)
			return -1;
		return pj_tag(c, out, f->id, 0) || pj_varint(c, out, u);
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(v))
			return pj_fail(c, "expected a string, got %s", pj_kind(v));
		return pj_lenval(c, out, f->id, json_string_value(v), json_string_length(v));
	case PROTOBUF_C_TYPE_BYTES: {
		uint8_t *bytes;
		size_t n;
		int rc;

		if (!json_is_string(v))
			return pj_fail(c, "expected a base64 string, got %s", pj_kind(v));
		bytes = pj_base64(c, json_string_value(v), json_string_length(v), &n);
		if (bytes == NULL)
			return -1;
		rc = pj_lenval(c, out, f->id, bytes, n);
		free(bytes);
		return rc;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		struct pj_buf sub = { 0 };
		int rc;

		if (!json_is_object(v))
			return pj_fail(c, "expected an object, got %s", pj_kind(v));
		rc = pj_message(c, f->descriptor, v, depth + 1, &sub);
		if (rc == 0)
			rc = pj_lenval(c, out, f->id, sub.p, sub.len);
		free(sub.p);
		return rc;
	}
	}
	return pj_fail(c, "field type %d is not supported", (int)f->type);
}

static int
pj_field(struct pj_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
    int depth, struct pj_buf *out)
{
	size_t i;
	const json_t *e;

	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return pj_value(c, f, v, depth, out);
	if (!json_is_array(v))
		return pj_fail(c, "expected an array, got %s", pj_kind(v));
	json_array_foreach(v, i, e) {
		if (json_is_null(e))
			return pj_fail(c, "element %zu is null", i);
		if (pj_value(c, f, e, depth, out) != 0)
			return -1;
	}
	return 0;
}

/* The field named key (JSON name or proto name), or NULL. */
static const ProtobufCFieldDescriptor *
pj_lookup(const ProtobufCMessageDescriptor *d, const char *key)
{
	char jname[128];

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (strcmp(f->name, key) == 0 ||
		    strcmp(pb_json_name(f->name, jname, sizeof(jname)), key) == 0)
			return f;
	}
	return NULL;
}

/* Two keys for one field, or for two members of one oneof (which share a quantifier). */
static const ProtobufCFieldDescriptor *
pj_clash(const ProtobufCMessageDescriptor *d, const unsigned char *seen,
    const ProtobufCFieldDescriptor *f)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *g = &d->fields[i];

		if (!seen[i])
			continue;
		if (g == f || ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    (g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    g->quantifier_offset == f->quantifier_offset))
			return g;
	}
	return NULL;
}

static int
pj_message(struct pj_ctx *c, const ProtobufCMessageDescriptor *d,
    const json_t *obj, int depth, struct pj_buf *out)
{
	size_t plen = strlen(c->path);
	unsigned char *seen;
	const char *key;
	json_t *v;
	int rc = 0;

	if (depth > PB_MAX_DEPTH)
		return pj_fail(c, "message nests deeper than %d levels", PB_MAX_DEPTH);
	if ((seen = calloc(d->n_fields + 1, 1)) == NULL)
		return pj_fail(c, "out of memory");
	json_object_foreach((json_t *)obj, key, v) {
		const ProtobufCFieldDescriptor *f = pj_lookup(d, key), *g;

		snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s",
		    plen ? "." : "", key);
		if (f == NULL) {
			rc = pj_fail(c, "%s has no such field (names are the proto's, "
			    "in lowerCamelCase or as written)", d->name);
			break;
		}
		if (json_is_null(v))
			continue;	/* null: the default, as if absent */
		if ((g = pj_clash(d, seen, f)) != NULL) {
			rc = pj_fail(c, g == f ? "given twice (by its JSON name and "
			    "its proto name)" : "only one of a oneof may be set; %s "
			    "is set too", g->name);
			break;
		}
		seen[f - d->fields] = 1;
		if ((rc = pj_field(c, f, v, depth, out)) != 0)
			break;
	}
	free(seen);
	c->path[plen] = '\0';
	return rc;
}

ProtobufCMessage *
pb_json_parse(const ProtobufCMessageDescriptor *desc, const char *text,
    size_t len, size_t max_len, char *err, size_t errlen)
{
	struct pj_ctx c = { .max_len = max_len, .err = err, .errlen = errlen };
	struct pj_buf wire = { 0 };
	ProtobufCMessage *msg = NULL;
	json_error_t jerr;
	json_t *root;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > max_len) {
		axle_seterr(err, errlen, "JSON body is larger than this node's limit "
		    "of %zu bytes", max_len);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		axle_seterr(err, errlen, "not valid JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root))
		pj_fail(&c, "expected a JSON object for %s, got %s", desc->name,
		    pj_kind(root));
	else if (pj_message(&c, desc, root, 1, &wire) == 0)
		msg = pb_unpack(desc, wire.p ? wire.p : (const uint8_t *)"", wire.len,
		    max_len, err, errlen);
	json_decref(root);
	free(wire.p);
	return msg;
}
