/* ctl_json.c -- axlectl's --json forms over the shared walker (proto/pb_json.c): ids and hashes in hex, times in RFC 3339, short enum names; enum arguments in either form. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "gateway/ctl/ctl.h"
#include "proto/pb.h"
#include "proto/pb_json.h"

/* int64 fields named *_ms that are durations, not times since the epoch. */
static const char *const ctl_durations[] = { "oldest_age_ms", "next_retry_ms",
    "min_age_ms", NULL };

static bool
ctl_ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* bytes fields shown in hex: message ids (*_id, *_ids), hashes (*hash, *digest), fingerprints and key identities. */
static bool
ctl_hex_field(const char *name)
{
	return ctl_ends_with(name, "_id") || ctl_ends_with(name, "_ids") ||
	    ctl_ends_with(name, "hash") || ctl_ends_with(name, "fingerprint") ||
	    ctl_ends_with(name, "digest") || strcmp(name, "key_identity") == 0;
}

static bool
ctl_time_field(const ProtobufCFieldDescriptor *f)
{
	if (f->type != PROTOBUF_C_TYPE_INT64 || !ctl_ends_with(f->name, "_ms"))
		return false;
	for (size_t i = 0; ctl_durations[i] != NULL; i++)
		if (strcmp(f->name, ctl_durations[i]) == 0)
			return false;
	return true;
}

static json_t *
ctl_json_hex(const ProtobufCBinaryData *b)
{
	static const char digits[] = "0123456789abcdef";
	char buf[2 * 64 + 1];

	if (b->len > 64)
		return NULL;		/* not an id or a hash: base64 */
	for (size_t i = 0; i < b->len; i++) {
		buf[2 * i] = digits[b->data[i] >> 4];
		buf[2 * i + 1] = digits[b->data[i] & 15];
	}
	buf[2 * b->len] = '\0';
	return json_string(buf);
}

/* The walker's hook: NULL leaves the value to it. */
static json_t *
ctl_json_hook(const ProtobufCFieldDescriptor *f, const void *p, void *arg)
{
	char t[40];

	(void)arg;
	if (f->type == PROTOBUF_C_TYPE_BYTES && ctl_hex_field(f->name))
		return ctl_json_hex(p);
	if (f->type == PROTOBUF_C_TYPE_ENUM &&
	    protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p) != NULL)
		return json_string(ctl_enum_name(f->descriptor, *(const int *)p));
	if (ctl_time_field(f)) {
		if (*(const int64_t *)p == 0)
			return json_null();
		ctl_time(*(const int64_t *)p, t, sizeof(t));
		return json_string(t);
	}
	return NULL;
}

json_t *
ctl_json(const ProtobufCMessage *m)
{
	return pb_json_from_message_hook(m, PB_JSON_TOOLS, ctl_json_hook, NULL);
}

int
ctl_print_json(const ProtobufCMessage *m)
{
	json_t *j = ctl_json(m);
	int rc = j != NULL && json_dumpf(j, stdout, JSON_INDENT(2)) == 0 ?
	    CTL_OK : CTL_FAILED;

	json_decref(j);
	putchar('\n');
	return rc;
}

int
ctl_output(struct ctl *ctl, ProtobufCMessage *m, void (*show)(const ProtobufCMessage *))
{
	int rc = CTL_OK;

	if (ctl->json)
		rc = ctl_print_json(m);
	else
		show(m);
	pb_free(m);
	return rc;
}

int
ctl_enum_arg(const ProtobufCEnumDescriptor *d, const char *s, int *out)
{
	char up[128];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(up); i++)
		up[i] = s[i] == '-' ? '_' : s[i];
	up[i] = '\0';
	for (unsigned v = 0; v < d->n_values; v++) {
		const ProtobufCEnumValue *ev = &d->values[v];

		if (strstr(ev->name, "_UNSPECIFIED") != NULL)
			continue;	/* never asked for (FAILURE_POLICY_ESCALATE is 0 too) */
		if (strcasecmp(up, ev->name) == 0 ||
		    strcasecmp(up, ctl_enum_name(d, ev->value)) == 0) {
			*out = ev->value;
			return 0;
		}
	}
	return -1;
}
