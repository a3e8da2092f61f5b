/* ctl_switch.c -- axlectl send, fetch, ack, reject, status, outbox, mailbox: the switch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "axle/v1/switch.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"
#include "gateway/net/grpc_frame.h"
#include "proto/pb_json.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/pb.h"

#define PAYLOAD_FILE_MAX	(64u << 20)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
usage(const char *text)
{
	fprintf(stderr, "usage: axlectl %s\n", text);
	return CTL_USAGE;
}

/* "--name value" pairs after the command word: the value of name, or NULL. */
static const char *
opt(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* Every argument is a known "--name value" pair. */
static bool
opts_known(int argc, char **argv, const char *const *known)
{
	for (int i = 1; i < argc; i += 2) {
		bool ok = false;

		for (size_t k = 0; known[k] != NULL && !ok; k++)
			ok = strcmp(argv[i], known[k]) == 0;
		if (!ok || i + 1 >= argc) {
			fprintf(stderr, "axlectl: %s: unknown option or missing value: "
			    "%s\n", argv[0], argv[i]);
			return false;
		}
	}
	return true;
}

static bool
num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= lo && *out <= hi;
}

static void
id_hex(const ProtobufCBinaryData *id, char out[SW_ID_HEX_LEN + 1])
{
	if (id->len == SW_ID_LEN)
		sw_message_id_hex(id->data, out);
	else
		snprintf(out, SW_ID_HEX_LEN + 1, "-");
}

static int
id_arg(const char *s, uint8_t id[SW_ID_LEN])
{
	if (sw_message_id_parse(s, strlen(s), id) != 0) {
		fprintf(stderr, "axlectl: not a message id (32 hex digits): %s\n", s);
		return -1;
	}
	return 0;
}

static void
row(const char *k, const char *v)
{
	printf("%-12s ", k);
	ctl_put_safe(stdout, v != NULL && v[0] != '\0' ? v : "-");
	putchar('\n');
}

static void
receipt_print(const Axle__V1__Receipt *r)
{
	char hex[SW_ID_HEX_LEN + 1];

	if (r == NULL)
		return;
	id_hex(&r->message_id, hex);
	row("message", hex);
	row("receipt", protobuf_c_enum_descriptor_get_value(
	    &axle__v1__receipt_kind__descriptor, r->kind) != NULL ?
	    protobuf_c_enum_descriptor_get_value(&axle__v1__receipt_kind__descriptor,
	    r->kind)->name : "?");
	row("node", r->node);
	row("case", r->case_id);
	row("detail", r->detail);
	if (r->original_id.len > 0) {
		id_hex(&r->original_id, hex);
		row("copy of", hex);
	}
}

/* A group expanded at the node: one line per copy, its id first. */
static void
copies_print(const Axle__V1__SendResponse *r)
{
	char hex[SW_ID_HEX_LEN + 1], n[32];

	if (r->n_copies == 0)
		return;
	snprintf(n, sizeof(n), "%zu", r->n_copies);
	row("copies", n);
	for (size_t i = 0; i < r->n_copies; i++) {
		const Axle__V1__GroupCopy *c = r->copies[i];

		id_hex(&c->message_id, hex);
		printf("  %s  ", hex);
		ctl_put_safe(stdout, c->to);
		printf("  (");
		ctl_put_safe(stdout, c->registrar_id);
		printf(" ");
		ctl_put_safe(stdout, c->service);
		printf(")\n");
	}
}

/* --- send ------------------------------------------------------------------------- */

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	*out = NULL;
	*len = 0;
	if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
	    (size_t)st.st_size > PAYLOAD_FILE_MAX ||
	    (*out = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(*out, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "axlectl: send: cannot read %s (at most %u bytes): %s\n",
		    path, PAYLOAD_FILE_MAX, strerror(errno));
		if (f != NULL)
			fclose(f);
		free(*out);
		*out = NULL;
		return -1;
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return 0;
}

static int
policy_arg(const char *s, Axle__V1__FailurePolicy *p)
{
	if (s == NULL || strcmp(s, "escalate") == 0)
		*p = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE;
	else if (strcmp(s, "return") == 0)
		*p = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_RETURN;
	else if (strcmp(s, "discard") == 0)
		*p = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_DISCARD;
	else
		return -1;
	return 0;
}

/* "KIND:PREFIX" of --to-group into g (kind portal|switch|index); -1 if malformed. */
static int
group_arg(char *s, Axle__V1__ServiceGroup *g)
{
	static const char *const kinds[] = { "portal", "switch", "index" };
	static const Axle__V1__ServiceKind vals[] = {
	    AXLE__V1__SERVICE_KIND__SERVICE_KIND_PORTAL,
	    AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH,
	    AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX };
	char *colon = strchr(s, ':');

	if (colon == NULL || colon[1] == '\0')
		return -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == (size_t)(colon - s) &&
		    strncmp(s, kinds[i], (size_t)(colon - s)) == 0) {
			g->kind = vals[i];
			g->prefix = colon + 1;
			return 0;
		}
	return -1;
}

static const char send_usage[] = "send (--to ADDR | --to-group KIND:PREFIX) --from ADDR --type T "
    "[--context C] [--payload-file F] [--content-type CT] [--deliver-by-ms N] "
    "[--reply-by-ms N] [--policy escalate|return|discard] [--id HEX]\n"
    "  (deadlines are milliseconds from now; --to-group sends one copy to every\n"
    "  KIND service (portal|switch|index) under PREFIX that accepts type T)";

static int
cmd_send(struct ctl *ctl, int argc, char **argv)
{
	static const char *const known[] = { "--to", "--to-group", "--from", "--type",
	    "--context", "--payload-file", "--content-type", "--deliver-by-ms",
	    "--reply-by-ms", "--policy", "--id", NULL };
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__ServiceGroup group = AXLE__V1__SERVICE_GROUP__INIT;
	char *to = (char *)opt(argc, argv, "--to");
	char *to_group = (char *)opt(argc, argv, "--to-group");
	const char *s;
	uint8_t id[SW_ID_LEN], *payload = NULL;
	size_t plen = 0;
	long long n;
	ProtobufCMessage *m;
	int rc;

	if (!opts_known(argc, argv, known) || (to == NULL) == (to_group == NULL) ||
	    (to_group != NULL && group_arg(to_group, &group) != 0) ||
	    opt(argc, argv, "--from") == NULL || opt(argc, argv, "--type") == NULL ||
	    policy_arg(opt(argc, argv, "--policy"), &e.failure_policy) != 0)
		return usage(send_usage);
	if ((s = opt(argc, argv, "--id")) != NULL) {
		if (id_arg(s, id) != 0)
			return CTL_USAGE;
	} else if (RAND_bytes(id, sizeof(id)) != 1) {
		return ctl_fail(ctl, "INTERNAL", "no random bytes for a message id");
	}
	e.message_id.data = id;
	e.message_id.len = SW_ID_LEN;
	e.sender = (char *)opt(argc, argv, "--from");
	e.message_type = (char *)opt(argc, argv, "--type");
	if (to_group != NULL) {
		/* Only services that accept this message type get a copy. */
		group.message_type = e.message_type;
		e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
		e.to_group = &group;
	} else {
		e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
		e.to = to;
	}
	e.context = (char *)(opt(argc, argv, "--context") ? opt(argc, argv, "--context") : "");
	e.content_type = (char *)(opt(argc, argv, "--content-type") ?
	    opt(argc, argv, "--content-type") : "application/octet-stream");
	e.created_ms = now_ms();
	if ((s = opt(argc, argv, "--deliver-by-ms")) != NULL) {
		if (!num(s, 1, 365LL * 86400000, &n))
			return usage(send_usage);
		e.deliver_by_ms = e.created_ms + n;
	}
	if ((s = opt(argc, argv, "--reply-by-ms")) != NULL) {
		if (!num(s, 1, 365LL * 86400000, &n))
			return usage(send_usage);
		e.reply_by_ms = e.created_ms + n;
	}
	if ((s = opt(argc, argv, "--payload-file")) != NULL &&
	    read_file(s, &payload, &plen) != 0)
		return CTL_FAILED;
	e.payload.data = payload;
	e.payload.len = plen;
	rc = ctl_call(ctl, "/axle.v1.Switch/Send", &e.base,
	    &axle__v1__send_response__descriptor, &m);
	free(payload);
	if (rc != CTL_OK)
		return rc;
	if (ctl->json)
		rc = ctl_print_json(m);
	else {
		receipt_print(((Axle__V1__SendResponse *)m)->receipt);
		copies_print((Axle__V1__SendResponse *)m);
	}
	pb_free(m);
	return rc;
}

/* --- fetch (server streaming) ------------------------------------------------------- */

struct fetch_state {
	struct ctl *ctl;
	json_t *arr;
	size_t n;
	bool done;
	int status;
	char msg[512];
};

static void
delivery_print(const Axle__V1__Delivery *d)
{
	const Axle__V1__Envelope *e = d->envelope;
	char hex[SW_ID_HEX_LEN + 1];

	if (e == NULL)
		return;
	id_hex(&e->message_id, hex);
	printf("%s %-3u ", hex, d->attempt);
	ctl_put_col(e->sender, 28);
	ctl_put_col(e->to, 28);
	ctl_put_col(e->message_type, 16);
	ctl_put_col(e->context, 16);
	printf("%zu\n", e->payload.len);
}

/* A receipt's payload decoded, or NULL if d is not a well-formed receipt; pb_free it. */
static Axle__V1__Receipt *
delivery_receipt(const Axle__V1__Delivery *d)
{
	const Axle__V1__Envelope *e = d->envelope;

	if (e == NULL || e->message_type == NULL ||
	    strcmp(e->message_type, "axle.receipt") != 0)
		return NULL;
	return PB_UNPACK(Axle__V1__Receipt, axle__v1__receipt, e->payload.data,
	    e->payload.len, NET_CLIENT_MAX_MSG, NULL, 0);
}

/* Receipts are opaque payloads on the wire; show what they say, indented under the row. */
static void
receipt_detail_print(const Axle__V1__Receipt *r)
{
	const ProtobufCEnumValue *k = protobuf_c_enum_descriptor_get_value(
	    &axle__v1__receipt_kind__descriptor, r->kind);
	char hex[SW_ID_HEX_LEN + 1];

	id_hex(&r->message_id, hex);
	printf("    receipt %s for %s at ", k != NULL ? k->name : "?", hex);
	ctl_put_safe(stdout, r->node != NULL && r->node[0] != '\0' ? r->node : "-");
	if (r->case_id != NULL && r->case_id[0] != '\0') {
		fputs(" case ", stdout);
		ctl_put_safe(stdout, r->case_id);
	}
	putchar('\n');
}

/* A returned message: which message came back, from where, and why. */
static void
returned_print(const Axle__V1__ReturnInfo *ri)
{
	char hex[SW_ID_HEX_LEN + 1];

	id_hex(&ri->original_id, hex);
	printf("    returned %s by ", hex);
	ctl_put_safe(stdout, ri->node != NULL && ri->node[0] != '\0' ? ri->node : "-");
	if (ri->case_id != NULL && ri->case_id[0] != '\0') {
		fputs(" case ", stdout);
		ctl_put_safe(stdout, ri->case_id);
	}
	fputs(": ", stdout);
	ctl_put_safe(stdout, ri->reason != NULL ? ri->reason : "");
	putchar('\n');
}

static void
fetch_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct fetch_state *s = arg;
	Axle__V1__Delivery *d;
	Axle__V1__Receipt *r;

	if (final) {
		s->done = true;
		s->status = status;
		snprintf(s->msg, sizeof(s->msg), "%s", message != NULL ? message : "");
		return;
	}
	d = PB_UNPACK(Axle__V1__Delivery, axle__v1__delivery, msg, len,
	    NET_CLIENT_MAX_MSG, NULL, 0);
	if (d == NULL)
		return;
	s->n++;
	r = delivery_receipt(d);
	if (s->arr != NULL) {
		json_t *o = pb_json_from_message(&d->base, PB_JSON_TOOLS);

		/* The decoded receipt beside the raw payload, for scripts. */
		if (r != NULL && json_is_object(o))
			json_object_set_new(o, "receipt",
			    pb_json_from_message(&r->base, PB_JSON_TOOLS));
		json_array_append_new(s->arr, o);
	} else {
		delivery_print(d);
		if (r != NULL)
			receipt_detail_print(r);
		if (d->envelope != NULL && d->envelope->returned != NULL)
			returned_print(d->envelope->returned);
	}
	if (r != NULL)
		pb_free(&r->base);
	pb_free(&d->base);
}

static int
cmd_fetch(struct ctl *ctl, int argc, char **argv)
{
	static const char *const known[] = { "--max", "--wait-ms", "--mailbox",
	    "--visibility-ms", NULL };
	Axle__V1__FetchRequest req = AXLE__V1__FETCH_REQUEST__INIT;
	struct fetch_state s = { .ctl = ctl };
	const char *v;
	long long n;
	uint8_t *buf;
	size_t len;

	if (!opts_known(argc, argv, known))
		return usage("fetch [--max N] [--wait-ms W] [--visibility-ms V] "
		    "[--mailbox ADDR]");
	if ((v = opt(argc, argv, "--max")) != NULL) {
		if (!num(v, 1, 1000, &n))
			return usage("fetch --max 1..1000");
		req.max_messages = (uint32_t)n;
	}
	if ((v = opt(argc, argv, "--wait-ms")) != NULL) {
		if (!num(v, 0, 300000, &n))
			return usage("fetch --wait-ms 0..300000");
		req.wait_ms = (uint32_t)n;
	}
	if ((v = opt(argc, argv, "--visibility-ms")) != NULL) {
		if (!num(v, 1, 3600000, &n))
			return usage("fetch --visibility-ms 1..3600000");
		req.visibility_timeout_ms = (uint32_t)n;
	}
	req.mailbox = (char *)(opt(argc, argv, "--mailbox") ?
	    opt(argc, argv, "--mailbox") : "");
	if ((buf = pb_pack(&req.base, 0, &len)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	if (ctl->json && (s.arr = json_array()) == NULL) {
		free(buf);
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	}
	if (net_client_call(ctl->client, "/axle.v1.Switch/Fetch", buf, len,
	    ctl->set.timeout_ms + (int)req.wait_ms, fetch_cb, &s) != 0) {
		free(buf);
		json_decref(s.arr);
		return ctl_fail(ctl, "INTERNAL", "cannot start the call");
	}
	free(buf);
	while (!s.done)
		if (event_base_loop(ctl->base, EVLOOP_ONCE) != 0)
			break;
	if (s.arr != NULL) {
		json_dumpf(s.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(s.arr);
	} else if (s.n == 0 && s.status == 0) {
		printf("(no messages)\n");
	}
	if (!s.done)
		return ctl_fail(ctl, "UNAVAILABLE", "the call did not end");
	if (s.status != 0)
		return ctl_fail(ctl, net_grpc_status_name(s.status), s.msg);
	return CTL_OK;
}

/* --- ack, reject, status ---------------------------------------------------------------- */

static int
cmd_ack(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__AckRequest req = AXLE__V1__ACK_REQUEST__INIT;
	ProtobufCBinaryData ids[256];
	uint8_t raw[256][SW_ID_LEN];
	ProtobufCMessage *m;
	const Axle__V1__AckResponse *r;
	int rc;

	if (argc < 2 || argc > 257)
		return usage("ack ID... (1 to 256 message ids, hex)");
	for (int i = 1; i < argc; i++) {
		if (id_arg(argv[i], raw[i - 1]) != 0)
			return CTL_USAGE;
		ids[i - 1].data = raw[i - 1];
		ids[i - 1].len = SW_ID_LEN;
	}
	req.mailbox = "";
	req.message_ids = ids;
	req.n_message_ids = (size_t)argc - 1;
	if ((rc = ctl_call(ctl, "/axle.v1.Switch/Ack", &req.base,
	    &axle__v1__ack_response__descriptor, &m)) != CTL_OK)
		return rc;
	r = (const Axle__V1__AckResponse *)m;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else {
		printf("acknowledged %u\n", r->acknowledged);
		for (size_t i = 0; i < r->n_unknown_ids; i++) {
			char hex[SW_ID_HEX_LEN + 1];

			id_hex(&r->unknown_ids[i], hex);
			printf("not in flight: %s\n", hex);
		}
	}
	pb_free(m);
	return rc;
}

static int
cmd_reject(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__RejectRequest req = AXLE__V1__REJECT_REQUEST__INIT;
	uint8_t id[SW_ID_LEN];
	ProtobufCMessage *m;
	int rc;

	if (argc != 4 || strcmp(argv[2], "--reason") != 0)
		return usage("reject ID --reason R");
	if (id_arg(argv[1], id) != 0)
		return CTL_USAGE;
	req.mailbox = "";
	req.message_id.data = id;
	req.message_id.len = SW_ID_LEN;
	req.reason = argv[3];
	if ((rc = ctl_call(ctl, "/axle.v1.Switch/Reject", &req.base,
	    &axle__v1__reject_response__descriptor, &m)) != CTL_OK)
		return rc;
	if (ctl->json)
		rc = ctl_print_json(m);
	else
		receipt_print(((Axle__V1__RejectResponse *)m)->receipt);
	pb_free(m);
	return rc;
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__StatusRequest req = AXLE__V1__STATUS_REQUEST__INIT;
	const Axle__V1__MessageStatus *r;
	const ProtobufCEnumValue *ev;
	uint8_t id[SW_ID_LEN];
	ProtobufCMessage *m;
	char when[64];
	int rc;

	if (argc != 2)
		return usage("status ID");
	if (id_arg(argv[1], id) != 0)
		return CTL_USAGE;
	req.message_id.data = id;
	req.message_id.len = SW_ID_LEN;
	if ((rc = ctl_call(ctl, "/axle.v1.Switch/Status", &req.base,
	    &axle__v1__message_status__descriptor, &m)) != CTL_OK)
		return rc;
	r = (const Axle__V1__MessageStatus *)m;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else {
		ev = protobuf_c_enum_descriptor_get_value(
		    &axle__v1__message_state__descriptor, r->state);
		row("message", argv[1]);
		/* MESSAGE_STATE_FORWARDED -> forwarded */
		if (ev != NULL && strncmp(ev->name, "MESSAGE_STATE_", 14) == 0) {
			char low[64];
			size_t i;

			for (i = 0; ev->name[14 + i] != '\0' && i + 1 < sizeof(low); i++)
				low[i] = (char)(ev->name[14 + i] | 0x20);
			low[i] = '\0';
			row("state", low);
		} else {
			row("state", "?");
		}
		row("location", r->location);
		row("node", r->node);
		row("case", r->case_id);
		snprintf(when, sizeof(when), "%lld", (long long)r->updated_ms);
		row("updated ms", r->updated_ms ? when : "");
		row("detail", r->detail);
	}
	pb_free(m);
	return rc;
}

/* --- outbox, mailbox ------------------------------------------------------------------- */

static void
queue_rows(const char *title, Axle__V1__QueueSummary **q, size_t n, bool outbox)
{
	char age[32], cnt[32], extra[32];

	printf("%-24s %8s %8s %10s%s\n", title, "COUNT", outbox ? "RETRIES" :
	    "FETCHED", "OLDEST", outbox ? "  LAST ERROR" : "");
	for (size_t i = 0; i < n; i++) {
		ctl_put_col(q[i]->name, 24);
		snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)q[i]->count);
		snprintf(extra, sizeof(extra), "%llu", outbox ?
		    (unsigned long long)q[i]->retry_attempt :
		    (unsigned long long)q[i]->in_flight);
		if (q[i]->count > 0)
			snprintf(age, sizeof(age), "%.1fs", (double)q[i]->oldest_age_ms / 1000);
		else
			snprintf(age, sizeof(age), "-");
		printf("%8s %8s %10s", cnt, extra, age);
		if (outbox) {
			printf("  ");
			ctl_put_safe(stdout, q[i]->last_error[0] ? q[i]->last_error : "-");
		}
		putchar('\n');
	}
	if (n == 0)
		printf("(none)\n");
	for (size_t i = 0; outbox && i < n; i++) {
		if (q[i]->identity_mismatch == NULL || q[i]->identity_mismatch[0] == '\0')
			continue;
		printf("\nIDENTITY MISMATCH ");
		ctl_put_safe(stdout, q[i]->name);
		printf(": its address answered as ");
		ctl_put_safe(stdout, q[i]->identity_mismatch);
		printf(", expected ");
		ctl_put_safe(stdout, q[i]->expected_identity);
		printf(";\n  correct [peer ");
		ctl_put_safe(stdout, q[i]->name);
		printf("] address in axled.conf and reload: its messages wait,\n"
		    "  then go to recourse at their delivery deadline\n");
	}
}

static int
queues(struct ctl *ctl, bool outbox)
{
	Axle__V1__QueuesRequest req = AXLE__V1__QUEUES_REQUEST__INIT;
	const Axle__V1__QueuesResponse *r;
	ProtobufCMessage *m;
	int rc;

	if ((rc = ctl_call(ctl, "/axle.v1.Switch/Queues", &req.base,
	    &axle__v1__queues_response__descriptor, &m)) != CTL_OK)
		return rc;
	r = (const Axle__V1__QueuesResponse *)m;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else if (outbox) {
		queue_rows("PEER", r->outboxes, r->n_outboxes, true);
	} else {
		queue_rows("MAILBOX", r->mailboxes, r->n_mailboxes, false);
		putchar('\n');
		queue_rows("HELD", r->held, r->n_held, false);
	}
	pb_free(m);
	return rc;
}

static int
cmd_outbox(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage("outbox");
	return queues(ctl, true);
}

static int
cmd_mailbox(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage("mailbox");
	return queues(ctl, false);
}

const struct ctl_cmd ctl_switch_cmds[] = {
	{ "send", "--to A --from A --type T [...]", "send a message (member or "
	    "admin); prints the receipt", true, cmd_send },
	{ "fetch", "[--max N] [--wait-ms W]", "fetch your mailbox (member)",
	    true, cmd_fetch },
	{ "ack", "ID...", "acknowledge fetched messages (member)", true, cmd_ack },
	{ "reject", "ID --reason R", "reject a fetched message as not understood",
	    true, cmd_reject },
	{ "status", "ID", "where a message is now", true, cmd_status },
	{ "outbox", "", "messages waiting for each peer, ages, retries (admin)",
	    true, cmd_outbox },
	{ "mailbox", "", "mailbox and held counts (admin: all; member: its own)",
	    true, cmd_mailbox },
};
const size_t ctl_switch_ncmds = sizeof(ctl_switch_cmds) / sizeof(ctl_switch_cmds[0]);
