/* pb_json.h -- renders any decoded protobuf message as JSON, for tools' --json output. Pure. */
#ifndef AXLE_GW_PB_JSON_H
#define AXLE_GW_PB_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Renders msg as a JSON object keyed by the proto field names (snake_case,
 * as written in proto/), with every field present, defaults included, so
 * the shape is stable for scripts: proto3 scalars as numbers (a uint64 above
 * 2^63-1 as a decimal string), bools, strings, bytes as base64, enums by
 * their value name (the number if unknown), repeated fields as arrays,
 * unset sub-messages and unset optional fields as null. Returns a new
 * reference (caller json_decref's) or NULL on ENOMEM.
 */
json_t *ctl_json_from_message(const ProtobufCMessage *msg);

#endif
