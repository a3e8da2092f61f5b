/* pb_json.c -- renders any decoded protobuf message as JSON (axlectl's form or proto3's), driven by its descriptor. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "proto/pb_json.h"

static json_t *
pb_json_base64(const ProtobufCBinaryData *b)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = b->len, o = 0;
	char *out = malloc((n + 2) / 3 * 4 + 1);
	json_t *j;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)b->data[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)b->data[i + 1] << 8;
		if (i + 2 < n)
			v |= b->data[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	j = json_string(out);
	free(out);
	return j;
}

static json_t *
pb_json_enum(const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	return ev != NULL ? json_string(ev->name) : json_integer(v);
}

/* Not valid UTF-8 (from a hostile peer): shown lossily, non-ASCII as '?'. */
static json_t *
pb_json_string(const char *s)
{
	json_t *j;
	char *copy;

	if (s == NULL)
		return json_string("");
	if ((j = json_string(s)) != NULL || (copy = strdup(s)) == NULL)
		return j;
	for (char *q = copy; *q != '\0'; q++)
		if ((unsigned char)*q >= 0x80)
			*q = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* One value of field f stored at p (an element, for repeated fields). */
/* JSON has no NaN or infinities: proto3 JSON spells them as strings. */
static json_t *
pb_json_real(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

/* How one rendering goes: the form, and the caller's hook if any. */
struct pb_json_how {
	enum pb_json_form form;
	pb_json_hook hook;
	void *arg;
};

static json_t *pb_json_message(const ProtobufCMessage *msg,
    const struct pb_json_how *how);

static json_t *
pb_json_value(const ProtobufCFieldDescriptor *f, const void *p,
    const struct pb_json_how *how)
{
	enum pb_json_form form = how->form;
	json_t *j;

	if (how->hook != NULL && (j = how->hook(f, p, how->arg)) != NULL)
		return j;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t v = *(const int64_t *)p;
		char buf[24];

		if (form == PB_JSON_TOOLS)
			return json_integer(v);
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		return json_string(buf);
	}
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *)p;
		char buf[24];

		if (v <= INT64_MAX && form == PB_JSON_TOOLS)
			return json_integer((json_int_t)v);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
		return json_string(buf);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return pb_json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return pb_json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM:
		return pb_json_enum(f->descriptor, *(const int *)p);
	case PROTOBUF_C_TYPE_STRING:
		return pb_json_string(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		return pb_json_base64(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;

		return m == NULL ? json_null() : pb_json_message(m, how);
	}
	}
	return json_null();
}

static json_t *
pb_json_repeated(const ProtobufCFieldDescriptor *f, const char *base,
    const struct pb_json_how *how)
{
	size_t n = *(const size_t *)(base + f->quantifier_offset);
	const char *arr = *(char *const *)(base + f->offset);
	size_t sz = pb_elem_size(f);
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, pb_json_value(f, arr + i * sz, how)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* False when an optional or oneof field is unset. */
static bool
pb_json_present(const ProtobufCFieldDescriptor *f, const char *base)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (f->label != PROTOBUF_C_LABEL_OPTIONAL)
		return true;
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

char *
pb_json_name(const char *proto_name, char *out, size_t outlen)
{
	size_t o = 0;
	bool up = false;

	if (outlen == 0)
		return out;
	for (const char *c = proto_name; *c != '\0' && o + 1 < outlen; c++) {
		if (*c == '_') {
			up = true;
			continue;
		}
		out[o++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
		up = false;
	}
	out[o] = '\0';
	return out;
}

json_t *
pb_json_from_message(const ProtobufCMessage *msg, enum pb_json_form form)
{
	struct pb_json_how how = { .form = form };

	return pb_json_message(msg, &how);
}

json_t *
pb_json_from_message_hook(const ProtobufCMessage *msg, enum pb_json_form form,
    pb_json_hook hook, void *arg)
{
	struct pb_json_how how = { .form = form, .hook = hook, .arg = arg };

	return pb_json_message(msg, &how);
}

static json_t *
pb_json_message(const ProtobufCMessage *msg, const struct pb_json_how *how)
{
	enum pb_json_form form = how->form;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char name[128];
		json_t *v;

		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			v = pb_json_repeated(f, base, how);
		else if (!pb_json_present(f, base))
			v = json_null();
		else
			v = pb_json_value(f, base + f->offset, how);
		if (form == PB_JSON_PROTO3)
			pb_json_name(f->name, name, sizeof(name));
		if (v == NULL || json_object_set_new(o, form == PB_JSON_PROTO3 ?
		    name : f->name, v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}
