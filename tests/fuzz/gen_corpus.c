/*
 * gen_corpus.c -- writes the binary seed corpora of tests/fuzz/corpus/ (run
 * by `make fuzz-corpus`; the text seeds are kept by hand): real envelopes and
 * one filled-in message of every type fuzz_envelope reads, packed with
 * pb_pack, and HTTP/2 conversations recorded from an nghttp2 client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "gateway/net/grpc_frame.h"

#include "fuzz_envelope.c"	/* pick_type, FZ_NOW_MS: the seeds' first byte must match */

static const char *dir;

static void
put(const char *target, const char *name, uint8_t sel, const uint8_t *p,
    size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(&sel, 1, 1, fp) != 1 ||
	    (len > 0 && fwrite(p, 1, len, fp) != len) || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static void *
zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		abort();
	return p;	/* the generator runs once: never freed */
}

/* --- a plausible value in every field, from the descriptor ------------------- */

static void fill(ProtobufCMessage *m, const ProtobufCMessageDescriptor *d,
    int depth);

static const char *
text_for(const char *field)
{
	if (strstr(field, "prefix") || strstr(field, "region") ||
	    strstr(field, "address") || strcmp(field, "to") == 0 ||
	    strstr(field, "parent"))
		return "uk.london.lewisham";
	if (strstr(field, "sender") || strstr(field, "redirect"))
		return "uk.london.lewisham.swift:0042";
	if (strstr(field, "type"))
		return "referral.v2";
	if (strstr(field, "case") || strstr(field, "id"))
		return "c-2024-0001";
	return "fuzz seed";
}

static void
fill_value(const ProtobufCFieldDescriptor *f, void *v, int depth)
{
	static const uint8_t id[16] = { 0x4a, 0x1e, 0x07, 0x5c, 1, 2, 3, 4, 5, 6,
	    7, 8, 9, 10, 11, 12 };
	const ProtobufCEnumDescriptor *e;
	ProtobufCMessage *sub;
	int64_t n = strstr(f->name, "_ms") ? FZ_NOW_MS : 1;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		memcpy(v, &n, 8);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *)v = 1.5;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *)v = 1.5f;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)v = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM:
		e = f->descriptor;
		*(int *)v = e->values[e->n_values > 1 ? 1 : 0].value;
		break;
	case PROTOBUF_C_TYPE_STRING:
		*(const char **)v = text_for(f->name);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		((ProtobufCBinaryData *)v)->data = (uint8_t *)id;
		((ProtobufCBinaryData *)v)->len = sizeof(id);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = zalloc(((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message);
		fill(sub, f->descriptor, depth + 1);
		*(ProtobufCMessage **)v = sub;
		break;
	default:
		*(int32_t *)v = 1;
		break;
	}
}

static void
fill(ProtobufCMessage *m, const ProtobufCMessageDescriptor *d, int depth)
{
	protobuf_c_message_init(d, m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *member = (char *)m + f->offset;

		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);

			if (*which != 0)
				continue;	/* the first member of each oneof */
			*which = f->id;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			char *arr = zalloc(2 * pb_elem_size(f));

			*(size_t *)((char *)m + f->quantifier_offset) = 2;
			*(void **)member = arr;
			fill_value(f, arr, depth);
			fill_value(f, arr + pb_elem_size(f), depth);
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
		fill_value(f, member, depth);
	}
}

static void
put_msg(const char *target, const char *name, uint8_t sel,
    const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *buf = pb_pack(m, 0, &len);

	if (buf == NULL)
		abort();
	put(target, name, sel, buf, len);
	free(buf);
}

/* --- fuzz_envelope ---------------------------------------------------------- */

/* A seed meant to be valid must pass the checks, or it seeds nothing past them. */
static void
must_pass(const Axle__V1__Envelope *e, const char *uri)
{
	struct net_identity who;
	char reason[256];

	identity(uri, &who);
	if (sw_envelope_check(e, &who, FZ_NOW_MS, NULL, reason, sizeof(reason)) !=
	    GRPC_OK) {
		fprintf(stderr, "seed envelope refused: %s\n", reason);
		exit(1);
	}
}

static uint8_t
index_of(const ProtobufCMessageDescriptor *d)
{
	for (unsigned i = 0; i < 256; i++)
		if (pick_type(i) == d)
			return (uint8_t)i;
	abort();
}

static void
envelopes(void)
{
	static uint8_t id[16] = { 0x4a, 0x1e, 0x07, 0x5c, 0xa0, 0x11, 0x42, 0x9e,
	    0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07 };
	static uint8_t payload[40] = "eyJhbGciOiJFQ0RILUVTIn0.opaque-bytes";
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__ServiceGroup g = AXLE__V1__SERVICE_GROUP__INIT;
	Axle__V1__TraceHop h[2] = { AXLE__V1__TRACE_HOP__INIT,
	    AXLE__V1__TRACE_HOP__INIT }, *hp[2] = { &h[0], &h[1] };
	char name[64];
	unsigned n = 0;

	e.message_id.data = id;
	e.message_id.len = sizeof(id);
	e.sender = "uk.london.lewisham.swift:0042";
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = "uk.leeds.social-care";
	e.message_type = "referral.v2";
	e.context = "pathway-17";
	e.created_ms = FZ_NOW_MS - 1000;
	e.deliver_by_ms = FZ_NOW_MS + 3600000;
	e.content_type = "application/jose";
	e.payload.data = payload;
	e.payload.len = sizeof(payload);
	must_pass(&e, "axle://fame-test/member/uk.london.lewisham");
	put_msg("fuzz_envelope", "env_member", 0, &e.base);

	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
	e.to_group = &g;
	g.kind = AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX;
	g.prefix = "uk";
	g.message_type = "index.query.v1";
	e.reply_by_ms = FZ_NOW_MS + 7200000;
	e.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN;
	must_pass(&e, "axle://fame-test/member/uk.london.lewisham");
	put_msg("fuzz_envelope", "env_group", 0, &e.base);

	/* as a peer forwards it: with the hops it passed */
	e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
	e.to = "uk.london.lewisham.children:c-17";	/* a union with to_group */
	e.sender = "uk.leeds.police";
	h[0].region = "uk.leeds";
	h[0].at_ms = FZ_NOW_MS - 900;
	h[1].region = "uk";
	h[1].at_ms = FZ_NOW_MS - 800;
	e.trace = hp;
	e.n_trace = 2;
	e.hop_limit = 6;
	e.failure_policy = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD;
	must_pass(&e, "axle://fame-test/node/uk.leeds");
	put_msg("fuzz_envelope", "env_forwarded", 0, &e.base);

	/* every other type, filled in */
	for (unsigned i = 1; i < 256; i++) {
		const ProtobufCMessageDescriptor *d = pick_type(i);
		ProtobufCMessage *m;

		if (d == &axle__v1__envelope__descriptor || index_of(d) != i)
			continue;	/* done above, or seen at a lower index */
		m = zalloc(d->sizeof_message);
		fill(m, d, 0);
		snprintf(name, sizeof(name), "%02u_%s", n++, d->short_name);
		put_msg("fuzz_envelope", name, (uint8_t)i, m);
	}
}

/* --- fuzz_h2_server: what an nghttp2 client sends after its preface ---------- */

struct rec {
	uint8_t buf[65536];
	size_t len;
};

struct body {
	uint8_t *p;
	size_t len;
};

static ssize_t
body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct body *b = src->ptr;
	size_t n = b->len < len ? b->len : len;

	(void)s, (void)id, (void)ud;
	memcpy(buf, b->p, n);
	b->p += n;
	b->len -= n;
	if (b->len == 0)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(k, v) { (uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, sizeof(v) - 1, \
	NGHTTP2_NV_FLAG_NO_INDEX }

/* body: a gRPC request body (kept alive by the caller until recorded), or NULL for a GET. */
static void
request(nghttp2_session *c, const char *method, const char *path,
    struct body *body)
{
	nghttp2_nv nv[] = { NV(":method", ""), NV(":scheme", "https"),
	    NV(":authority", "node.test"), NV(":path", ""),
	    NV("content-type", "application/grpc"), NV("te", "trailers"),
	    NV("grpc-timeout", "5S") };
	nghttp2_data_provider dp = { .source.ptr = body,
	    .read_callback = body_read };

	nv[0].value = (uint8_t *)method;
	nv[0].valuelen = strlen(method);
	nv[3].value = (uint8_t *)path;
	nv[3].valuelen = strlen(path);
	if (nghttp2_submit_request(c, NULL, nv, body ? 7 : 4, body ? &dp : NULL,
	    NULL) < 0)
		abort();
}

static struct body *
grpc_body(const uint8_t *msg, size_t len)
{
	struct body *b = zalloc(sizeof(*b));

	b->p = zalloc(GRPC_FRAME_HDR + len);
	net_grpc_frame_header(b->p, (uint32_t)len);
	if (len > 0)
		memcpy(b->p + GRPC_FRAME_HDR, msg, len);
	b->len = GRPC_FRAME_HDR + len;
	return b;
}

/* Every RPC of every service, each with a filled-in request. */
static void
every_rpc(nghttp2_session *c)
{
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
		for (unsigned i = 0; i < services[s]->n_methods; i++) {
			const ProtobufCMethodDescriptor *m = &services[s]->methods[i];
			ProtobufCMessage *req = zalloc(m->input->sizeof_message);
			char *path = zalloc(128);
			uint8_t *buf;
			size_t len;

			fill(req, m->input, 1);
			if ((buf = pb_pack(req, 0, &len)) == NULL)
				abort();
			snprintf(path, 128, "/%s/%s", services[s]->name, m->name);
			request(c, "POST", path, grpc_body(buf, len));
			free(buf);
		}
}

static void
record(nghttp2_session *c, struct rec *r)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(c, &p)) > 0) {
		if (r->len + (size_t)n > sizeof(r->buf))
			abort();
		memcpy(r->buf + r->len, p, (size_t)n);
		r->len += (size_t)n;
	}
}

/* One conversation; ctl is fuzz_h2_server's control byte. */
static void
conversation(const char *name, uint8_t ctl, int which)
{
	static const uint8_t resolve[] = { 0x0a, 18, 'u', 'k', '.', 'l', 'o', 'n',
	    'd', 'o', 'n', '.', 'l', 'e', 'w', 'i', 's', 'h', 'a', 'm' };
	static const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff };
	nghttp2_session_callbacks *cbs;
	nghttp2_session *c;
	struct rec r = { .len = 0 };
	uint8_t ping[8] = "fuzzping";

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	    nghttp2_session_client_new(&c, cbs, NULL) != 0)
		abort();
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(c, NGHTTP2_FLAG_NONE, NULL, 0);
	request(c, "POST", "/axle.v1.Node/Info", grpc_body(NULL, 0));
	if (which >= 1) {
		request(c, "GET", "/healthz", NULL);
		request(c, "GET", "/metrics", NULL);
		request(c, "POST", "/axle.v1.Registry/Resolve",
		    grpc_body(resolve, sizeof(resolve)));
		nghttp2_submit_ping(c, NGHTTP2_FLAG_NONE, ping);
	}
	if (which == 3)
		every_rpc(c);
	if (which == 2) {
		request(c, "POST", "/axle.v1.Node/Info", grpc_body(bad, sizeof(bad)));
		request(c, "PUT", "/nowhere", NULL);
		nghttp2_submit_window_update(c, NGHTTP2_FLAG_NONE, 0, 1 << 20);
	}
	record(c, &r);
	if (which == 2) {
		nghttp2_submit_rst_stream(c, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL);
		nghttp2_submit_goaway(c, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
		    NULL, 0);
		record(c, &r);
	}
	nghttp2_session_del(c);
	/* nghttp2 sends the preface itself; fuzz_h2_server adds it for us */
	if (r.len < 24 || memcmp(r.buf, NGHTTP2_CLIENT_MAGIC, 24) != 0)
		abort();
	put("fuzz_h2_server", name, ctl, r.buf + 24, r.len - 24);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR (tests/fuzz/corpus)\n");
		return 2;
	}
	dir = argv[1];
	envelopes();
	conversation("h2_info_member", 0, 0);
	conversation("h2_mixed_admin", 1, 1);
	conversation("h2_mixed_node_tight", 2 | 4, 2);
	conversation("h2_chunked_member", 0 | (3 << 3), 2);
	conversation("h2_other_fed_shutdown", 3 | 0x40 | 0x80, 1);
	conversation("h2_every_rpc_member", 0, 3);
	conversation("h2_every_rpc_admin", 1, 3);
	conversation("h2_every_rpc_node", 2 | (6 << 3), 3);
	return 0;
}
