/* fuzz_pb_json.c -- libFuzzer: proto3 JSON request bodies (the Connect form) parsed, rendered and parsed back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/node.pb-c.h"
#include "axle/v1/recourse.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "axle/v1/switch.pb-c.h"
#include "proto/pb.h"
#include "proto/pb_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a browser or curl may post: every method's request type. */
static const ProtobufCServiceDescriptor *const served[] = {
	&axle__v1__node__descriptor, &axle__v1__registry__descriptor,
	&axle__v1__portal__descriptor, &axle__v1__switch__descriptor,
	&axle__v1__recourse__descriptor, &axle__v1__axle__descriptor,
};

static const ProtobufCMessageDescriptor *
request_type(uint8_t pick)
{
	size_t n = 0, i;

	for (size_t s = 0; s < sizeof(served) / sizeof(served[0]); s++)
		n += served[s]->n_methods;
	i = pick % n;
	for (size_t s = 0; ; s++) {
		if (i < served[s]->n_methods)
			return served[s]->methods[i].input;
		i -= served[s]->n_methods;
	}
}

/* What the node renders must parse back to the same message (same wire bytes). */
static void
round_trip(const ProtobufCMessage *m)
{
	json_t *j = pb_json_from_message(m, PB_JSON_PROTO3);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	ProtobufCMessage *back;
	uint8_t *a, *b;
	size_t alen, blen;

	json_decref(j);
	if (text == NULL)
		return;
	back = pb_json_parse(m->descriptor, text, strlen(text), 1u << 24, NULL, 0);
	if (back == NULL)
		abort();
	a = pb_pack(m, 0, &alen);
	b = pb_pack(back, 0, &blen);
	if (a != NULL && b != NULL && (alen != blen || memcmp(a, b, alen) != 0))
		abort();
	free(a);
	free(b);
	free(text);
	pb_free(back);
	json_decref(pb_json_from_message(m, PB_JSON_TOOLS));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	ProtobufCMessage *m;

	if (size < 1)
		return 0;
	m = pb_json_parse(request_type(data[0]), (const char *)data + 1, size - 1,
	    1u << 16, err, sizeof(err));
	if (m == NULL) {
		if (err[0] == '\0')
			abort();	/* every refusal says why */
		return 0;
	}
	round_trip(m);
	pb_free(m);
	return 0;
}
