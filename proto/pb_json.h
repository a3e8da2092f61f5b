/*
 * pb_json.h -- (libaxleproto) protobuf messages as JSON and back, driven by
 * their descriptors: axlectl's --json and the Connect protocol's JSON form
 * (proto3 JSON mapping). Pure: no I/O.
 */
#ifndef AXLE_PROTO_PB_JSON_H
#define AXLE_PROTO_PB_JSON_H

#include <stddef.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* How pb_json_from_message writes names and 64-bit integers. */
enum pb_json_form {
	/*
	 * axlectl --json: keys are the proto field names (snake_case, as
	 * written in proto/); 64-bit integers are JSON numbers (a uint64 above
	 * 2^63-1 a decimal string). axlectl adds its own forms of ids, times
	 * and enums with a hook (gateway/ctl/ctl_json.c).
	 */
	PB_JSON_TOOLS = 0,
	/*
	 * The proto3 JSON mapping (protobuf.dev/programming-guides/json), as
	 * Connect's application/json uses it: keys in lowerCamelCase (protoc's
	 * json_name: each "_x" becomes "X"), int64/uint64/fixed64 as decimal
	 * strings, float and double NaN/Infinity/-Infinity as strings.
	 */
	PB_JSON_PROTO3 = 1,
};

/*
 * Renders msg as a JSON object with every field present, defaults included,
 * so the shape is stable for scripts and pages: scalars as numbers (64-bit
 * per form), bools, strings, bytes as base64 (RFC 4648, padded), enums by
 * their value name (the number if unknown), repeated fields as arrays, unset
 * sub-messages and unset oneof members as null. Strings that are not valid
 * UTF-8 (only a message built in C can hold one: pb_unpack refuses them) are
 * shown with '?' for each non-ASCII byte. Returns a new reference (caller
 * json_decref's) or NULL on ENOMEM.
 */
json_t *pb_json_from_message(const ProtobufCMessage *msg, enum pb_json_form form);

/*
 * A caller's own rendering of some fields (axlectl: ids in hex, times in
 * RFC 3339, short enum names), over the form's: called with each value of
 * each field (each element of a repeated one; p points at it as stored in
 * the message), it returns a new reference for that value, or NULL to leave
 * it to the walker. Sub-messages are walked (and hooked) after a NULL.
 */
typedef json_t *(*pb_json_hook)(const ProtobufCFieldDescriptor *f,
    const void *p, void *arg);

/* pb_json_from_message, with hook (may be NULL) consulted first for every value. */
json_t *pb_json_from_message_hook(const ProtobufCMessage *msg,
    enum pb_json_form form, pb_json_hook hook, void *arg);

/* The proto3 JSON name of a field ("reply_by_ms" -> "replyByMs") into out; returns out. */
char *pb_json_name(const char *proto_name, char *out, size_t outlen);

/*
 * Parses JSON text (text[0..len), not NUL-terminated) as a desc message under
 * the proto3 JSON mapping, and returns it decoded by pb_unpack with its
 * bounds (max_len applies to the message's wire form; nesting, memory,
 * UTF-8 and NUL as there): free with pb_free. Returns NULL with a reason a
 * person can act on in err ('field "limit": expected a number or a decimal
 * string, got true').
 *
 * What is accepted: an object at the top and for every message field; a
 * field by its JSON name or its proto name (not both); null for any field
 * (the default); numbers for 32-bit integers, numbers or decimal strings for
 * every integer (a fraction or an out-of-range value is refused); enums by
 * value name or number; bools only as true/false; bytes as standard or
 * URL-safe base64, padded or not; repeated fields as arrays. Refused: an
 * unknown field (a typo would otherwise silently do less than asked, e.g. a
 * filter that is not applied), a key given twice, two members of one oneof,
 * and text that is not one JSON object. Text longer than max_len is refused
 * before parsing (the same limit as the wire form: JSON is the larger).
 * err may be NULL.
 */
ProtobufCMessage *pb_json_parse(const ProtobufCMessageDescriptor *desc,
    const char *text, size_t len, size_t max_len, char *err, size_t errlen);

#endif
