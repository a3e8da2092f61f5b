/* fuzz_envelope.c -- libFuzzer: envelopes and every request/response message the node reads off the wire. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/envelope.pb-c.h"
#include "axle/v1/node.pb-c.h"
#include "axle/v1/recourse.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "axle/v1/switch.pb-c.h"
#include "gateway/net/grpc_status.h"
#include "gateway/net/identity.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_MSG	(4u << 20)	/* the default max_message_size */
#define FZ_NOW_MS	1700000000000LL	/* fixed, so runs reproduce */

/*
 * Every service the node serves or calls: requests arrive from members,
 * admins and peers, responses from peers (Forward, Feed, Escalate). Taking
 * types from the service descriptors keeps the target complete as RPCs are
 * added to the protos.
 */
static const ProtobufCServiceDescriptor *const services[] = {
	&axle__v1__node__descriptor, &axle__v1__registry__descriptor,
	&axle__v1__portal__descriptor, &axle__v1__switch__descriptor,
	&axle__v1__recourse__descriptor, &axle__v1__axle__descriptor,
};

/* The i-th message type (wrapping): Envelope, Receipt, then each method's input and output. */
static const ProtobufCMessageDescriptor *
pick_type(unsigned i)
{
	size_t n = 2;

	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
		n += 2 * services[s]->n_methods;
	i %= (unsigned)n;
	if (i == 0)
		return &axle__v1__envelope__descriptor;
	if (i == 1)
		return &axle__v1__receipt__descriptor;
	i -= 2;
	for (size_t s = 0; ; s++) {
		if (i < 2 * services[s]->n_methods) {
			const ProtobufCMethodDescriptor *m = &services[s]->methods[i / 2];

			return i % 2 == 0 ? m->input : m->output;
		}
		i -= 2 * (unsigned)services[s]->n_methods;
	}
}

static void
identity(const char *uri, struct net_identity *id)
{
	char err[256];

	if (net_identity_parse_uri(uri, strlen(uri), id, err, sizeof(err)) != 0)
		abort();	/* a fixed, valid URI: the parser regressed */
}

/* A message that unpacked must pack and unpack again (what the node relays). */
static void
repack(const ProtobufCMessage *msg)
{
	ProtobufCMessage *again;
	uint8_t *buf;
	size_t len;
	char err[256];

	if ((buf = pb_pack(msg, 5, &len)) == NULL)
		abort();
	again = pb_unpack(msg->descriptor, buf + 5, len - 5, FZ_MAX_MSG, err,
	    sizeof(err));
	if (again == NULL) {
		fprintf(stderr, "repacked %s refused: %s\n", msg->descriptor->name,
		    err);
		abort();
	}
	pb_free(again);
	free(buf);
}

/* The path of an envelope that passed the checks: defaults, a relabelled copy, packing. */
static void
accepted(Axle__V1__Envelope *e, const struct sw_limits *lim)
{
	struct sw_env_view v;
	char hex[SW_ID_HEX_LEN + 1];
	uint8_t id[SW_ID_LEN], *buf;
	size_t len;

	sw_envelope_normalise(e, FZ_NOW_MS, lim);
	sw_message_id_hex(e->message_id.data, hex);
	if (sw_message_id_parse(hex, strlen(hex), id) != 0 ||
	    memcmp(id, e->message_id.data, SW_ID_LEN) != 0)
		abort();
	sw_view_init(&v, e);
	id[0] ^= 1;
	sw_view_set_recipient(&v, id, e->sender);
	if ((buf = sw_view_pack(&v, 5, &len)) == NULL)
		abort();
	free(buf);
	sw_view_release(&v);
	repack(&e->base);
}

static void
envelope(const uint8_t *data, size_t size)
{
	static struct net_identity who[3];
	static int ready;
	struct sw_limits lim = { .max_payload = 4096, .default_hop_limit = 8 };
	Axle__V1__Envelope *e;
	char reason[512];
	int ok = 0;

	if (!ready) {
		identity("axle://fame-test/member/uk.london.lewisham", &who[0]);
		identity("axle://fame-test/node/uk.leeds", &who[1]);
		identity("axle://fame-test/admin/uk.london/jsmith", &who[2]);
		ready = 1;
	}
	e = PB_UNPACK(Axle__V1__Envelope, axle__v1__envelope, data, size,
	    FZ_MAX_MSG, reason, sizeof(reason));
	if (e == NULL)
		return;
	for (size_t i = 0; i < 3; i++)
		if (sw_envelope_check(e, &who[i], FZ_NOW_MS, i ? &lim : NULL,
		    reason, sizeof(reason)) == GRPC_OK)
			ok = 1;
	(void)sw_envelope_check(e, NULL, FZ_NOW_MS, NULL, reason, sizeof(reason));
	if (ok)
		accepted(e, &lim);
	pb_free(&e->base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *msg;
	char err[256];

	if (size == 0)
		return 0;
	d = pick_type(data[0]);
	if (d == &axle__v1__envelope__descriptor) {
		envelope(data + 1, size - 1);
		return 0;
	}
	msg = pb_unpack(d, data + 1, size - 1, FZ_MAX_MSG, err, sizeof(err));
	if (msg != NULL) {
		repack(msg);
		pb_free(msg);
	}
	return 0;
}
