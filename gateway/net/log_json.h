/* log_json.h -- an event line's key=value pairs as JSON members (pure; [log] format = json). */
#ifndef AXLE_NET_LOG_JSON_H
#define AXLE_NET_LOG_JSON_H

#include <stddef.h>

/*
 * Appends to out (NUL-terminated, at most len bytes with the NUL) the pairs
 * of kv, the text after `event=...` in a key=value line, as JSON object
 * members, each preceded by a comma: `k=v k2="a \"b\""` becomes
 * `,"k":"v","k2":"a \"b\""`. A value is a bare token (up to a space) or a
 * double-quoted string in net_log_quote's escapes (\" \\ \xHH), which turn
 * into JSON's (\" \\ \u00HH). A value of decimal digits (optionally signed,
 * no leading zero) is written as a JSON number; everything else as a string.
 * Text that is not key=value (a key outside [A-Za-z0-9_.-], a missing '=')
 * is kept, escaped, in one "unparsed" member (from the first such token to
 * the last), so nothing logged is lost.
 * Output that would not fit is cut at a member boundary and `,"cut":true`
 * added when there is room. Returns the length written (excluding the NUL).
 */
size_t net_log_kv_json(const char *kv, char *out, size_t len);

/* Appends s (n bytes) to out at *o as the inside of a JSON string; false if it did not fit. */
int net_log_json_str(char *out, size_t len, size_t *o, const char *s, size_t n);

#endif
