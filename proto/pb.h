/* pb.h -- (libaxleproto) the only place that packs and unpacks protobuf: bounded in size, nesting and memory. */
#ifndef AXLE_GW_PB_H
#define AXLE_GW_PB_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define PB_MAX_DEPTH     16	/* nested messages */
#define PB_ALLOC_FACTOR  8	/* decoded memory budget: 8 x wire bytes + 4 KiB */
#define PB_MAX_UNKNOWN   16	/* fields unknown to this version, in the whole message */

/*
 * Unpacks buf[0..len) as desc. Refuses (before allocating) input longer than
 * max_len, deeper than PB_MAX_DEPTH nested messages, or malformed wire
 * format; decodes with an allocator whose budget is PB_ALLOC_FACTOR * len +
 * 4096 bytes. Returns the message (free with pb_free) or NULL with a reason a
 * person can act on in err ("message nests deeper than 16 levels",
 * "field 3: truncated length-delimited value", ...).
 *
 * Details: len > max_len is refused without reading buf. The top-level
 * message is level 1: 16 levels are accepted, a 17th refused. Wire types
 * must match the descriptor for known fields (packed form allowed for
 * repeated scalars); groups (wire types 3, 4) and 6, 7 are refused; unknown
 * fields are kept by protobuf-c (so relayed on), at most PB_MAX_UNKNOWN of
 * them in the whole message: each costs some 100 bytes decoded for 2 on the
 * wire, so more would let a message that fits its budget here outgrow it
 * once a relaying node adds a trace hop or a default. String fields must be valid UTF-8 without
 * NUL bytes (protobuf-c 1.4 checks neither; a NUL would silently truncate
 * the C string). Error paths name nested fields from the top ("field
 * 20.1: ..." is field 1 inside field 20). err may be NULL; when errlen > 0
 * it is always NUL-terminated. buf is not retained: the message owns copies.
 */
ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc,
    const uint8_t *buf, size_t len, size_t max_len, char *err, size_t errlen);

/* The bytes one element of field f takes in a repeated field's C array (protobuf-c's layout). */
size_t pb_elem_size(const ProtobufCFieldDescriptor *f);

/* Frees what pb_unpack returned (NULL is fine); nothing else. */
void pb_free(ProtobufCMessage *msg);

/*
 * Packs msg into a new malloc'd buffer of *outlen bytes, leaving `headroom`
 * bytes free in front (for the gRPC frame header). Returns the buffer (caller
 * frees) or NULL on ENOMEM.
 * *outlen is the whole buffer: headroom (zeroed) + the packed message, so
 * the message is buf[headroom .. *outlen). Works for messages from
 * pb_unpack and for ones built on the stack with *__INIT.
 */
uint8_t *pb_pack(const ProtobufCMessage *msg, size_t headroom, size_t *outlen);

#define PB_UNPACK(type, lower, buf, len, max, err, errlen)		\
	((type *)pb_unpack(&lower##__descriptor, (buf), (len), (max), (err), (errlen)))

#endif
