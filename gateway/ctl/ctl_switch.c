/* ctl_switch.c -- axlectl send, fetch, ack, reject, status, outbox, mailbox: the switch. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "axle/v1/switch.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"
#include "gateway/ctl/ctl_seal.h"
#include "gateway/net/grpc_frame.h"
#include "proto/pb_json.h"
#include "gateway/ctl/ctl_sign.h"
#include "gateway/ctl/ctl_signers.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/pb.h"

#define PAYLOAD_FILE_MAX	(64u << 20)
#define SEAL_TO_MAX		16	/* --seal-to certificates per send */

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

/* Every argument is a known "--name value" pair or a known flag (flags may be NULL). */
static bool
opts_known(int argc, char **argv, const char *const *known, const char *const *flags)
{
	for (int i = 1; i < argc; i++) {
		bool ok = false, isflag = false;

		for (size_t k = 0; flags != NULL && flags[k] != NULL && !isflag; k++)
			isflag = strcmp(argv[i], flags[k]) == 0;
		if (isflag)
			continue;
		for (size_t k = 0; known[k] != NULL && !ok; k++)
			ok = strcmp(argv[i], known[k]) == 0;
		if (!ok || i + 1 >= argc) {
			fprintf(stderr, "axlectl: %s: unknown option or missing value: "
			    "%s\n", argv[0], argv[i]);
			return false;
		}
		i++;
	}
	return true;
}

/* A flag (an option with no value) is among the arguments. */
static bool
flag(int argc, char **argv, const char *name)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

/* Every value of a repeatable "--name value" option, at most max; their count. */
static size_t
opt_all(int argc, char **argv, const char *name, const char **out, size_t max)
{
	size_t n = 0;

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0) {
			if (n < max)
				out[n] = argv[i + 1];
			n++;
			i++;
		}
	return n;
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
	row("receipt", ctl_enum_name(&axle__v1__receipt_kind__descriptor, r->kind));
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
	int v = AXLE__V1__FAILURE_POLICY__FAILURE_POLICY_ESCALATE;

	if (s != NULL && ctl_enum_arg(&axle__v1__failure_policy__descriptor, s, &v) != 0)
		return -1;
	*p = (Axle__V1__FailurePolicy)v;
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
    "[--purpose P] [--context C] [--payload-file F] [--content-type CT] [--deliver-by-ms N] "
    "[--reply-by-ms N] [--policy escalate|return|discard] [--id HEX] "
    "[--seal-to CERT.pem]... [--seal | --no-seal] [--no-sign]\n"
    "  (deadlines are milliseconds from now; --to-group sends one copy to every\n"
    "  KIND service (portal|switch|index) under PREFIX that accepts type T and\n"
    "  purpose P (an index query needs --purpose);\n"
    "  the payload is sealed, as CMS AuthEnvelopedData with AES-256-GCM\n"
    "  (docs/protocol.md \"Sealed payloads\"), to each --seal-to certificate,\n"
    "  else to the sealing keys the recipient publishes in the register\n"
    "  (--seal fails when there are none, --no-seal never seals); then\n"
    "  signed with the hub's key of --sign-key/--sign-cert unless --no-sign:\n"
    "  docs/protocol.md \"Signed envelopes\")";

/*
 * Signs e with the configured signing key into sig (e->signature points at
 * it). No key configured: says so and sends it unsigned. Returns CTL_OK, or
 * CTL_FAILED (a key configured that cannot sign: said).
 */
static int
send_sign(struct ctl *ctl, Axle__V1__Envelope *e, bool nosign, struct envsig_sig *sig)
{
	struct ctl_signer signer;
	char why[512];
	int rc;

	if (nosign)
		return CTL_OK;
	if (ctl->set.sign_key[0] == '\0' || ctl->set.sign_cert[0] == '\0') {
		fprintf(stderr, "axlectl: send: no signing key configured (--sign-key "
		    "and --sign-cert, sign_key and sign_cert in [axlectl], or "
		    "AXLE_SIGN_KEY and AXLE_SIGN_CERT): the message goes unsigned, "
		    "and nodes that require signatures refuse it\n");
		return CTL_OK;
	}
	if (ctl_signer_load(ctl->set.sign_key, ctl->set.sign_cert, &signer, why,
	    sizeof(why)) != 0)
		return ctl_fail(ctl, "FAILED", why);
	rc = envsig_sign(e, signer.key, signer.kid, sig, why, sizeof(why));
	ctl_signer_free(&signer);
	if (rc != 0)
		return ctl_fail(ctl, "FAILED", why);
	e->signature = &sig->msg;
	return CTL_OK;
}

/* What send seals to, and how it was told to. */
struct send_sealing {
	const char *paths[SEAL_TO_MAX];	/* --seal-to */
	size_t npaths;
	bool must, never;		/* --seal, --no-seal */
	X509 *certs[SEAL_TO_MAX];
	size_t n;
};

/*
 * The certificates to seal to: --seal-to's, else (unless --no-seal) those
 * the recipient publishes in the register (FindKeys). None found: sealing
 * is not needed unless --seal said it is. Returns CTL_OK, or CTL_FAILED
 * (said).
 */
static int
send_certs(struct ctl *ctl, const Axle__V1__Envelope *e, struct send_sealing *z)
{
	char err[600];
	bool old;

	if (z->never || sw_payload_sealed(e))
		return CTL_OK;
	if (z->npaths > 0) {
		while (z->n < z->npaths && (z->certs[z->n] = ctl_seal_cert_load(
		    z->paths[z->n], err, sizeof(err))) != NULL)
			z->n++;
		return z->n < z->npaths ? ctl_fail(ctl, "INVALID_ARGUMENT", err) :
		    CTL_OK;
	}
	if (e->recipient_case != AXLE__V1__ENVELOPE__RECIPIENT_TO)
		return z->must ? ctl_fail(ctl, "INVALID_ARGUMENT", "--seal with "
		    "--to-group: a group has no one recipient to seal to "
		    "(--seal-to CERT)") : CTL_OK;
	if (ctl_seal_find(ctl, e->to, z->certs, SEAL_TO_MAX, &z->n, &old, err,
	    sizeof(err)) != 0) {
		if (old && !z->must)
			return CTL_OK;	/* an older node: no register keys at all */
		snprintf(err + strlen(err), sizeof(err) - strlen(err), " (--no-seal "
		    "sends it unsealed, --seal-to CERT seals to a certificate you "
		    "have)");
		return ctl_fail(ctl, "UNAVAILABLE", err);
	}
	if (z->n == 0 && z->must)
		return ctl_fail(ctl, "FAILED_PRECONDITION", err);
	return CTL_OK;
}

/*
 * Seals *payload (*plen bytes) in place to z's certificates, if any, and
 * sets the sealed content type. Returns CTL_OK, or CTL_FAILED (said).
 */
static int
send_seal(struct ctl *ctl, struct send_sealing *z, uint8_t **payload,
    size_t *plen, Axle__V1__Envelope *e)
{
	uint8_t *sealed = NULL;
	size_t slen = 0;
	char err[400];

	if (z->n == 0)
		return CTL_OK;
	if (e->content_type != NULL && strcmp(e->content_type,
	    "application/octet-stream") != 0 && z->npaths == 0)
		return ctl_fail(ctl, "FAILED_PRECONDITION", "the recipient publishes "
		    "sealing keys, so the payload is sealed and its content type is "
		    "\"" SW_SEALED_CT "\": leave out --content-type (or --no-seal)");
	if (ctl_seal(*payload != NULL ? *payload : (const uint8_t *)"", *plen,
	    z->certs, z->n, &sealed, &slen, err, sizeof(err)) != 0)
		return ctl_fail(ctl, "FAILED", err);
	free(*payload);
	*payload = sealed;
	*plen = slen;
	e->content_type = (char *)SW_SEALED_CT;
	return CTL_OK;
}

static void
send_sealing_free(struct send_sealing *z)
{
	for (size_t i = 0; i < z->n; i++)
		X509_free(z->certs[i]);
	z->n = 0;
}

static int
cmd_send(struct ctl *ctl, int argc, char **argv)
{
	static const char *const known[] = { "--to", "--to-group", "--from", "--type",
	    "--purpose", "--context", "--payload-file", "--content-type", "--deliver-by-ms",
	    "--reply-by-ms", "--policy", "--id", "--seal-to", NULL };
	static const char *const flags[] = { "--seal", "--no-seal", "--no-sign", NULL };
	struct envsig_sig sig;
	Axle__V1__Envelope e = AXLE__V1__ENVELOPE__INIT;
	Axle__V1__ServiceGroup group = AXLE__V1__SERVICE_GROUP__INIT;
	char *to = (char *)opt(argc, argv, "--to");
	char *to_group = (char *)opt(argc, argv, "--to-group");
	const char *s;
	struct send_sealing z = { .n = 0 };
	uint8_t id[SW_ID_LEN], *payload = NULL;
	size_t plen = 0;
	long long n;
	ProtobufCMessage *m;
	int rc;

	z.npaths = opt_all(argc, argv, "--seal-to", z.paths, SEAL_TO_MAX);
	z.must = flag(argc, argv, "--seal");
	z.never = flag(argc, argv, "--no-seal");
	if (z.npaths > SEAL_TO_MAX)
		return usage("send --seal-to: at most 16 certificates");
	if (z.never && (z.npaths > 0 || z.must))
		return usage("send: --no-seal with --seal or --seal-to");
	if (z.npaths > 0 && opt(argc, argv, "--content-type") != NULL)
		return usage("send: --content-type with --seal-to (a sealed "
		    "payload's content type is \"" SW_SEALED_CT "\")");
	if (!opts_known(argc, argv, known, flags) || (to == NULL) == (to_group == NULL) ||
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
	e.purpose = (char *)(opt(argc, argv, "--purpose") ? opt(argc, argv, "--purpose") : "");
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
	if ((rc = send_certs(ctl, &e, &z)) != CTL_OK ||
	    (rc = send_seal(ctl, &z, &payload, &plen, &e)) != CTL_OK) {
		send_sealing_free(&z);
		free(payload);
		return rc;
	}
	send_sealing_free(&z);
	e.payload.data = payload;
	e.payload.len = plen;
	/* Signed as sent: over the sealed payload and its content type. */
	if ((rc = send_sign(ctl, &e, flag(argc, argv, "--no-sign"), &sig)) != CTL_OK) {
		free(payload);
		return rc;
	}
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

#define FETCH_ROUND	1000	/* the node's most per Fetch (SW_FETCH_MAX) */
#define ACK_BATCH	256	/* ids per Ack call */
#define ACK_ALL_ROUNDS	10	/* ack --all: at most this many Fetch rounds */

static const char *const fetch_head[] = { "ID", "ATTEMPT", "FROM", "TO", "TYPE",
    "CONTEXT", "BYTES" };

struct fetch_state {
	struct ctl *ctl;
	json_t *arr;			/* --json: the deliveries */
	struct ctl_table *table;	/* otherwise: their rows */
	const char *save_dir;		/* --save DIR */
	bool receipts_only;		/* --receipts */
	uint8_t (*ids)[SW_ID_LEN];	/* ack --all: what was fetched */
	EVP_PKEY *seal_key;		/* opens sealed payloads (--seal-key) */
	X509 *seal_cert;		/* its certificate, or NULL */
	struct ctl_verifier ver;	/* --signer-cert: whom signatures are checked with */
	struct ctl_signers *reg;	/* else the register's keys, per sender (made on first use) */
	Axle__V1__Delivery *pend[FETCH_ROUND];	/* one call's deliveries, handled after it */
	size_t npend, dropped;
	size_t n, skipped, nids, save_failed, open_failed, sig_failed;
	bool done;
	int status;
	char msg[512];
};

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

static const char *
dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* One row per delivery; what a receipt or a returned message says, noted under it. */
static int
delivery_row(struct ctl_table *t, const Axle__V1__Delivery *d,
    const Axle__V1__Receipt *r, const char *saved, const char *sealed,
    const char *signature)
{
	const Axle__V1__Envelope *e = d->envelope;
	char hex[SW_ID_HEX_LEN + 1], hex2[SW_ID_HEX_LEN + 1], att[16], bytes[24];
	const char *cells[] = { hex, att, e->sender, e->to, e->message_type,
	    e->context, bytes };
	int rc;

	id_hex(&e->message_id, hex);
	snprintf(att, sizeof(att), "%u", d->attempt);
	snprintf(bytes, sizeof(bytes), "%zu", e->payload.len);
	rc = ctl_table_add(t, cells);
	if (rc == 0 && r != NULL) {
		bool why = r->kind == AXLE__V1__RECEIPT_KIND__RECEIPT_KIND_REFUSED &&
		    r->detail != NULL;

		id_hex(&r->message_id, hex2);
		rc = ctl_table_note(t, "receipt %s for %s at %s%s%s%s%s",
		    ctl_enum_name(&axle__v1__receipt_kind__descriptor, r->kind), hex2, dash(r->node),
		    r->case_id != NULL && r->case_id[0] != '\0' ? " case " : "",
		    r->case_id != NULL ? r->case_id : "", why ? ": " : "",
		    why ? r->detail : "");
	}
	if (rc == 0 && e->returned != NULL) {
		const Axle__V1__ReturnInfo *ri = e->returned;

		id_hex(&ri->original_id, hex2);
		rc = ctl_table_note(t, "returned %s by %s%s%s: %s", hex2,
		    dash(ri->node), ri->case_id != NULL && ri->case_id[0] != '\0' ?
		    " case " : "", ri->case_id != NULL ? ri->case_id : "",
		    ri->reason != NULL ? ri->reason : "");
	}
	if (rc == 0 && signature != NULL)
		rc = ctl_table_note(t, "%s", signature);
	if (rc == 0 && sealed != NULL)
		rc = ctl_table_note(t, "sealed payload: %s", sealed);
	if (rc == 0 && saved != NULL)
		rc = ctl_table_note(t, "payload saved as %s", saved);
	return rc;
}

/*
 * Writes e's payload to DIR/<hex id> (mode 0600, whole or not at all) and
 * its path into path. Returns 0, or -1 after saying why on stderr.
 */
static int
payload_save(const char *dir, const Axle__V1__Envelope *e,
    const ProtobufCBinaryData *payload, char *path, size_t len)
{
	char hex[SW_ID_HEX_LEN + 1], tmp[PATH_MAX];
	FILE *f = NULL;
	int fd = -1, ok;

	id_hex(&e->message_id, hex);
	snprintf(path, len, "%s/%s", dir, hex);
	snprintf(tmp, sizeof(tmp), "%s/.%s.part", dir, hex);
	ok = e->message_id.len == SW_ID_LEN &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 &&
	    (f = fdopen(fd, "wb")) != NULL &&
	    fwrite(payload->data, 1, payload->len, f) == payload->len &&
	    fflush(f) == 0 && fsync(fd) == 0;
	if (f != NULL ? fclose(f) != 0 : fd >= 0 && close(fd) != 0)
		ok = 0;
	if (ok && rename(tmp, path) == 0)
		return 0;
	fprintf(stderr, "axlectl: fetch: cannot save the payload of %s as %s: %s\n",
	    hex, path, e->message_id.len == SW_ID_LEN ? strerror(errno) :
	    "no message id");
	unlink(tmp);
	return -1;
}

/*
 * A sealed payload opened with the hub's key into *plain (free plain->data),
 * and what happened in note: opened, or why not. Returns false when it is
 * sealed and cannot be opened (not to be saved).
 */
static bool
fetch_open(struct fetch_state *s, const Axle__V1__Envelope *e,
    ProtobufCBinaryData *plain, char *note, size_t len)
{
	char err[400];

	plain->data = NULL;
	plain->len = 0;
	note[0] = '\0';
	if (!sw_payload_sealed(e))
		return true;
	if (s->seal_key == NULL) {
		snprintf(note, len, "not opened (no sealing key: --seal-key KEY.pem)");
		return true;
	}
	if (ctl_seal_open(e->payload.data, e->payload.len, s->seal_key,
	    s->seal_cert, &plain->data, &plain->len, err, sizeof(err)) != 0) {
		snprintf(note, len, "CANNOT OPEN: %s", err);
		s->open_failed++;
		return false;
	}
	snprintf(note, len, "opened (%zu bytes)", plain->len);
	return true;
}

/*
 * What the hub's signature of a delivered message says: for scripts into
 * what ("ok", "unsigned", "unverified: ..." or "failed: ..."), whose key
 * into by ("<fingerprint> of <registrar>", or "" if not verified), for
 * people into note (NULL-free: "" when unsigned) and a failure on stderr.
 * Checked with --signer-cert's certificates if given, else with those the
 * register publishes for the sender.
 */
static void
delivery_signature(struct fetch_state *s, const Axle__V1__Envelope *e,
    char *what, size_t len, char *by, size_t blen, char *note, size_t nlen)
{
	char why[400], hex[SW_ID_HEX_LEN + 1];
	enum envsig_verdict v;

	by[0] = '\0';
	note[0] = '\0';
	if (e->signature == NULL) {
		snprintf(what, len, "unsigned");
		return;
	}
	if (s->ver.certs != NULL) {
		v = ctl_verify(&s->ver, e, why, sizeof(why));
	} else {
		if (s->reg == NULL && (s->reg = ctl_signers_new(s->ctl)) == NULL) {
			snprintf(what, len, "unverified: out of memory");
			snprintf(note, nlen, "%s", what);
			return;
		}
		v = ctl_signers_check(s->reg, e, why, sizeof(why), by, blen);
	}
	if (v == ENVSIG_OK) {
		snprintf(what, len, "ok");
		if (by[0] != '\0')
			snprintf(note, nlen, "signature OK (key %s)", by);
		else
			snprintf(note, nlen, "signature OK (a certificate of --signer-cert)");
		return;
	}
	if (v == ENVSIG_NO_KEY) {
		snprintf(what, len, "unverified: %s", why);
		snprintf(note, nlen, "%s", what);
		return;
	}
	snprintf(what, len, "failed: %s", why);
	snprintf(note, nlen, "SIGNATURE FAILED: %s", why);
	s->sig_failed++;
	id_hex(&e->message_id, hex);
	fprintf(stderr, "axlectl: fetch: message %s from ", hex);
	ctl_put_safe(stderr, e->sender != NULL ? e->sender : "");
	fprintf(stderr, ": SIGNATURE FAILED: %s; do not trust its content\n", why);
}

/* One delivery: filtered, opened, saved, kept for ack --all, then as JSON or a row. */
static void
fetch_one(struct fetch_state *s, const Axle__V1__Delivery *d)
{
	Axle__V1__Receipt *r = delivery_receipt(d);
	ProtobufCBinaryData plain;
	char path[PATH_MAX], note[500], sigwhat[512] = "", signote[520] = "", by[200] = "";
	bool saved = false, opened;
	int rc = 0;

	if (s->receipts_only && r == NULL) {
		s->skipped++;
		return;
	}
	s->n++;
	if (r == NULL)
		delivery_signature(s, d->envelope, sigwhat, sizeof(sigwhat),
		    by, sizeof(by), signote, sizeof(signote));
	opened = fetch_open(s, d->envelope, &plain, note, sizeof(note));
	if (s->save_dir != NULL && opened) {
		saved = payload_save(s->save_dir, d->envelope, plain.data != NULL ?
		    &plain : &d->envelope->payload, path, sizeof(path)) == 0;
		s->save_failed += !saved;
	}
	free(plain.data);
	if (s->ids != NULL && d->envelope->message_id.len == SW_ID_LEN && s->nids < FETCH_ROUND)
		memcpy(s->ids[s->nids++], d->envelope->message_id.data, SW_ID_LEN);
	if (s->arr != NULL) {
		json_t *o = ctl_json(&d->base);

		/* The decoded receipt beside the raw payload, for scripts. */
		if (json_is_object(o)) {
			if (r != NULL)
				json_object_set_new(o, "receipt",
				    ctl_json(&r->base));
			if (saved)
				json_object_set_new(o, "saved", json_string(path));
			if (sigwhat[0] != '\0')
				json_object_set_new(o, "signature", json_string(sigwhat));
			if (by[0] != '\0')
				json_object_set_new(o, "signed_by", json_string(by));
			if (note[0] != '\0')
				json_object_set_new(o, "sealed", json_pack("{s:b,s:s}",
				    "opened", opened &&
				    s->seal_key != NULL, "note", note));
		}
		rc = json_array_append_new(s->arr, o);
	} else {
		rc = delivery_row(s->table, d, r, saved ? path : NULL,
		    note[0] != '\0' ? note : NULL, signote[0] != '\0' ? signote : NULL);
	}
	if (rc != 0)
		snprintf(s->msg, sizeof(s->msg), "out of memory");
	if (r != NULL)
		pb_free(&r->base);
}

static void
fetch_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct fetch_state *s = arg;
	Axle__V1__Delivery *d;

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
	/* Handled after the call: checking a signature may call the node. */
	if (d->envelope != NULL && s->npend < FETCH_ROUND) {
		s->pend[s->npend++] = d;
		return;
	}
	s->dropped += d->envelope != NULL;
	pb_free(&d->base);
}

/* The call's deliveries, in the order they came. */
static void
fetch_pending(struct fetch_state *s)
{
	for (size_t i = 0; i < s->npend; i++) {
		fetch_one(s, s->pend[i]);
		pb_free(&s->pend[i]->base);
	}
	s->npend = 0;
	if (s->dropped > 0)
		fprintf(stderr, "axlectl: fetch: %zu message(s) over %d in one answer "
		    "not shown; they come back after the visibility timeout\n",
		    s->dropped, FETCH_ROUND);
	s->dropped = 0;
}

/* One Fetch call into s. Returns CTL_OK, or CTL_FAILED (said). */
static int
fetch_call(struct ctl *ctl, const Axle__V1__FetchRequest *req, struct fetch_state *s)
{
	uint8_t *buf;
	size_t len;

	s->done = false;
	if ((buf = pb_pack(&req->base, 0, &len)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	if (net_client_call(ctl->client, "/axle.v1.Switch/Fetch", buf, len,
	    ctl->set.timeout_ms + (int)req->wait_ms, fetch_cb, s) != 0) {
		free(buf);
		return ctl_fail(ctl, "INTERNAL", "cannot start the call");
	}
	free(buf);
	while (!s->done)
		if (event_base_loop(ctl->base, EVLOOP_ONCE) != 0)
			break;
	fetch_pending(s);
	if (!s->done)
		return ctl_fail(ctl, "UNAVAILABLE", "the call did not end");
	if (s->status != 0)
		return ctl_fail(ctl, net_grpc_status_name(s->status), s->msg);
	return CTL_OK;
}

/* Where the output goes: s->arr for --json, else s->table. Returns CTL_OK or CTL_FAILED. */
static int
fetch_state_init(struct ctl *ctl, struct fetch_state *s)
{
	s->ctl = ctl;
	if (ctl->json ? (s->arr = json_array()) == NULL :
	    (s->table = ctl_table_new(fetch_head, 7)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	return CTL_OK;
}

static void
fetch_state_print(const struct fetch_state *s)
{
	if (s->arr != NULL) {
		json_dumpf(s->arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (ctl_table_rows(s->table) > 0) {
		ctl_table_print(s->table, stdout);
	} else {
		printf("(no %s)\n", s->receipts_only ? "receipts" : "messages");
	}
}

static void
fetch_state_free(struct fetch_state *s)
{
	EVP_PKEY_free(s->seal_key);
	X509_free(s->seal_cert);
	ctl_verifier_free(&s->ver);
	ctl_signers_free(s->reg);
	for (size_t i = 0; i < s->npend; i++)
		pb_free(&s->pend[i]->base);
	json_decref(s->arr);
	ctl_table_free(s->table);
	free(s->ids);
}

/* --save DIR: a directory, made (mode 0700) if missing. */
static bool
save_dir_ok(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "axlectl: fetch: --save %s: %s\n", dir, strerror(errno));
		return false;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "axlectl: fetch: --save %s: not a directory%s%s\n", dir,
		    errno == ENOENT ? ": " : "", errno == ENOENT ? strerror(errno) : "");
		return false;
	}
	return true;
}

static const char fetch_usage[] = "fetch [--max N] [--wait-ms W] [--visibility-ms V] "
    "[--mailbox ADDR] [--save DIR] [--receipts] [--seal-key KEY.pem "
    "[--seal-cert CERT.pem]] [--signer-cert CERTS.pem]\n"
    "  (--seal-key, or seal_key in the config, or AXLE_SEAL_KEY: the hub's\n"
    "  sealing key; sealed payloads are opened with it and saved opened;\n"
    "  signatures are verified with the signing certificates the register\n"
    "  publishes for each sender, or with --signer-cert's certificates)";

/* The hub's sealing key and certificate: flags, else the settings. */
static int
fetch_seal_load(struct ctl *ctl, struct fetch_state *s, const char *key,
    const char *cert)
{
	char err[400];

	if (key == NULL && ctl->set.seal_key[0] != '\0')
		key = ctl->set.seal_key;
	if (cert == NULL && ctl->set.seal_cert[0] != '\0')
		cert = ctl->set.seal_cert;
	if (key == NULL)
		return CTL_OK;
	if ((s->seal_key = ctl_seal_key_load(key, err, sizeof(err))) == NULL ||
	    (cert != NULL && (s->seal_cert = ctl_seal_cert_load(cert, err,
	    sizeof(err))) == NULL))
		return ctl_fail(ctl, "INVALID_ARGUMENT", err);
	return CTL_OK;
}

static int
cmd_fetch(struct ctl *ctl, int argc, char **argv)
{
	static const char *const known[] = { "--max", "--wait-ms", "--mailbox",
	    "--visibility-ms", "--save", "--seal-key", "--seal-cert", "--signer-cert",
	    NULL };
	static const char *const flags[] = { "--receipts", NULL };
	Axle__V1__FetchRequest req = AXLE__V1__FETCH_REQUEST__INIT;
	struct fetch_state s = { .ctl = ctl };
	const char *v;
	long long n;
	int rc;

	if (!opts_known(argc, argv, known, flags))
		return usage(fetch_usage);
	if ((v = opt(argc, argv, "--max")) != NULL) {
		if (!num(v, 1, FETCH_ROUND, &n))
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
	s.save_dir = opt(argc, argv, "--save");
	if (s.save_dir != NULL && !save_dir_ok(s.save_dir))
		return CTL_USAGE;
	s.receipts_only = flag(argc, argv, "--receipts");
	if ((v = opt(argc, argv, "--signer-cert")) != NULL) {
		char why[512];

		if (ctl_verifier_load(v, &s.ver, why, sizeof(why)) != 0) {
			fprintf(stderr, "axlectl: fetch: --signer-cert: %s\n", why);
			return CTL_USAGE;
		}
	}
	req.mailbox = (char *)(opt(argc, argv, "--mailbox") ?
	    opt(argc, argv, "--mailbox") : "");
	if ((rc = fetch_seal_load(ctl, &s, opt(argc, argv, "--seal-key"),
	    opt(argc, argv, "--seal-cert"))) == CTL_OK &&
	    (rc = fetch_state_init(ctl, &s)) == CTL_OK &&
	    (rc = fetch_call(ctl, &req, &s)) == CTL_OK) {
		fetch_state_print(&s);
		if (s.open_failed > 0)
			rc = ctl_fail(ctl, "FAILED", "some sealed payloads could not "
			    "be opened with this key (said above) and were not "
			    "saved; those messages come back after the visibility "
			    "timeout");
		else if (s.save_failed > 0)
			rc = ctl_fail(ctl, "FAILED", "some payloads were not saved (said "
			    "above); those messages come back after the visibility timeout");
		else if (s.sig_failed > 0)
			rc = ctl_fail(ctl, "FAILED", "some signatures did not verify "
			    "(said above)");
	}
	if (s.skipped > 0)
		fprintf(stderr, "axlectl: fetch: %zu fetched message(s) that are not "
		    "receipts not shown (--receipts); they come back after the "
		    "visibility timeout\n", s.skipped);
	fetch_state_free(&s);
	return rc;
}

/* --- ack, reject, status ---------------------------------------------------------------- */

/*
 * Acknowledges n ids (at most ACK_BATCH) in mailbox; adds to *acked and
 * says each id not in flight on stderr, appending it (hex) to unknown.
 * Returns CTL_OK or CTL_FAILED (the call failed, said).
 */
static int
ack_ids(struct ctl *ctl, const char *mailbox, uint8_t (*raw)[SW_ID_LEN], size_t n,
    size_t *acked, json_t *unknown)
{
	Axle__V1__AckRequest req = AXLE__V1__ACK_REQUEST__INIT;
	ProtobufCBinaryData ids[ACK_BATCH];
	const Axle__V1__AckResponse *r;
	ProtobufCMessage *m;
	char hex[SW_ID_HEX_LEN + 1];
	int rc;

	for (size_t i = 0; i < n; i++) {
		ids[i].data = raw[i];
		ids[i].len = SW_ID_LEN;
	}
	req.mailbox = (char *)mailbox;
	req.message_ids = ids;
	req.n_message_ids = n;
	if ((rc = ctl_call(ctl, "/axle.v1.Switch/Ack", &req.base,
	    &axle__v1__ack_response__descriptor, &m)) != CTL_OK)
		return rc;
	r = (const Axle__V1__AckResponse *)m;
	*acked += r->acknowledged;
	for (size_t i = 0; i < r->n_unknown_ids; i++) {
		id_hex(&r->unknown_ids[i], hex);
		fprintf(stderr, "axlectl: ack: NOT_FOUND: %s is not in flight in "
		    "this mailbox (never fetched, already acknowledged, or its "
		    "visibility timeout ran out: fetch it again)\n", hex);
		json_array_append_new(unknown, json_string(hex));
	}
	pb_free(m);
	return CTL_OK;
}

/* "acknowledged N", or as JSON with the ids not in flight (and ack --all's deliveries). */
static void
ack_print(const struct ctl *ctl, size_t acked, json_t *unknown, json_t *deliveries)
{
	json_t *o;

	if (!ctl->json) {
		printf("acknowledged %zu\n", acked);
		return;
	}
	o = json_pack("{s:I,s:O}", "acknowledged", (json_int_t)acked,
	    "unknown_ids", unknown);
	if (o != NULL && deliveries != NULL)
		json_object_set(o, "deliveries", deliveries);
	if (o != NULL)
		json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(o);
}

/* ack --all: fetches what is waiting now, round after round, and acknowledges it. */
static int
ack_all(struct ctl *ctl, const char *mailbox)
{
	Axle__V1__FetchRequest req = AXLE__V1__FETCH_REQUEST__INIT;
	struct fetch_state s = { .ctl = ctl };
	json_t *unknown = json_array();
	size_t acked = 0, round = 0;
	int rc;

	req.mailbox = (char *)mailbox;
	req.max_messages = FETCH_ROUND;
	if ((rc = fetch_state_init(ctl, &s)) == CTL_OK &&
	    ((s.ids = calloc(FETCH_ROUND, SW_ID_LEN)) == NULL || unknown == NULL))
		rc = ctl_fail(ctl, "INTERNAL", "out of memory");
	for (; rc == CTL_OK && round < ACK_ALL_ROUNDS; round++) {
		s.nids = 0;
		if ((rc = fetch_call(ctl, &req, &s)) != CTL_OK)
			break;
		for (size_t i = 0; rc == CTL_OK && i < s.nids; i += ACK_BATCH)
			rc = ack_ids(ctl, mailbox, s.ids + i, s.nids - i < ACK_BATCH ?
			    s.nids - i : ACK_BATCH, &acked, unknown);
		if (s.nids < FETCH_ROUND)
			break;
	}
	if (s.table != NULL && ctl_table_rows(s.table) > 0)
		ctl_table_print(s.table, stdout);
	if (rc == CTL_OK || acked > 0)
		ack_print(ctl, acked, unknown, s.arr);
	if (rc == CTL_OK && round == ACK_ALL_ROUNDS)
		fprintf(stderr, "axlectl: ack: stopped after %d rounds of %d: more may "
		    "be waiting, run it again\n", ACK_ALL_ROUNDS, FETCH_ROUND);
	if (rc == CTL_OK && json_array_size(unknown) > 0)
		rc = CTL_FAILED;
	json_decref(unknown);
	fetch_state_free(&s);
	return rc;
}

static const char ack_usage[] = "ack ID... | ack - | ack --all [--mailbox ADDR]\n"
    "  (message ids, 32 hex digits; - reads them from stdin: fetch --json, or\n"
    "  one per line; --all fetches what waits now and acknowledges it)";

#define ACK_STDIN_MAX	100000	/* ack -: ids read from stdin */

/* ack ID... or ack -: every id in batches; fails if one was not in flight. */
static int
ack_list(struct ctl *ctl, char **words, size_t n)
{
	uint8_t raw[ACK_BATCH][SW_ID_LEN];
	json_t *unknown = json_array();
	size_t acked = 0;
	int rc = unknown != NULL ? CTL_OK : ctl_fail(ctl, "INTERNAL", "out of memory");

	for (size_t i = 0; rc == CTL_OK && i < n; i++)
		if (id_arg(words[i], raw[0]) != 0)
			rc = CTL_USAGE;
	for (size_t i = 0; rc == CTL_OK && i < n; i += ACK_BATCH) {
		size_t k = n - i < ACK_BATCH ? n - i : ACK_BATCH;

		for (size_t j = 0; j < k; j++)
			(void)sw_message_id_parse(words[i + j], strlen(words[i + j]), raw[j]);
		rc = ack_ids(ctl, "", raw, k, &acked, unknown);
	}
	if (rc == CTL_OK || acked > 0)
		ack_print(ctl, acked, unknown, NULL);
	if (rc == CTL_OK && json_array_size(unknown) > 0)
		rc = CTL_FAILED;
	json_decref(unknown);
	return rc;
}

static int
cmd_ack(struct ctl *ctl, int argc, char **argv)
{
	static const char *const paths[] = { "envelope.message_id", "message_id", NULL };
	char **words;
	size_t n;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "--all") == 0) {
		static const char *const known[] = { "--mailbox", NULL };
		const char *mb;

		if (!opts_known(argc - 1, argv + 1, known, NULL))
			return usage(ack_usage);
		mb = opt(argc - 1, argv + 1, "--mailbox");
		return ack_all(ctl, mb != NULL ? mb : "");
	}
	if (argc == 2 && strcmp(argv[1], "-") == 0) {
		if ((words = ctl_stdin_values(paths, ACK_STDIN_MAX, &n)) == NULL)
			return CTL_USAGE;
		rc = n > 0 ? ack_list(ctl, words, n) : usage(ack_usage);
		ctl_values_free(words, n);
		return rc;
	}
	if (argc < 2)
		return usage(ack_usage);
	return ack_list(ctl, argv + 1, (size_t)argc - 1);
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

/* A message's state in words (MessageState, envelope.proto). */
static const char *
state_words(Axle__V1__MessageState st)
{
	static const char *const w[] = {
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_UNKNOWN] = "unknown",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_OUTBOX] = "in outbox",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_MAILBOX] = "in mailbox",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_IN_FLIGHT] = "fetched",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_ACKNOWLEDGED] = "acknowledged",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_HELD] = "held",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RECOURSE] = "in recourse",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_RETURNED] = "returned",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_DISCARDED] = "discarded",
		[AXLE__V1__MESSAGE_STATE__MESSAGE_STATE_FORWARDED] = "forwarded",
	};

	return (unsigned)st < sizeof(w) / sizeof(w[0]) && w[st] != NULL ? w[st] : "?";
}

/* "2026-12-07T18:45:25.123Z (3.2 s ago)", or "-" for 0. */
static void
time_ago(int64_t ms, char *buf, size_t len)
{
	char t[40];
	double ago = (double)(now_ms() - ms) / 1000;

	ctl_time(ms, t, sizeof(t));
	if (ms == 0)
		snprintf(buf, len, "-");
	else if (ago >= 0 && ago < 120)
		snprintf(buf, len, "%s (%.1f s ago)", t, ago);
	else if (ago >= 0 && ago < 2 * 86400)
		snprintf(buf, len, "%s (%.0f min ago)", t, ago / 60);
	else
		snprintf(buf, len, "%s", t);
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__StatusRequest req = AXLE__V1__STATUS_REQUEST__INIT;
	const Axle__V1__MessageStatus *r;
	uint8_t id[SW_ID_LEN];
	ProtobufCMessage *m;
	char when[80];
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
		row("message", argv[1]);
		row("state", state_words(r->state));
		row("location", r->location);
		row("node", r->node);
		row("case", r->case_id);
		time_ago(r->updated_ms, when, sizeof(when));
		row("updated", when);
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
	{ "fetch", "[--max N] [--save DIR] [...]", "fetch your mailbox (member)",
	    true, cmd_fetch },
	{ "ack", "ID... | --all", "acknowledge fetched messages (member)", true,
	    cmd_ack },
	{ "reject", "ID --reason R", "reject a fetched message as not understood",
	    true, cmd_reject },
	{ "status", "ID", "where a message is now", true, cmd_status },
	{ "outbox", "", "messages waiting for each peer, ages, retries (admin)",
	    true, cmd_outbox },
	{ "mailbox", "", "mailbox and held counts (admin: all; member: its own)",
	    true, cmd_mailbox },
};
const size_t ctl_switch_ncmds = sizeof(ctl_switch_cmds) / sizeof(ctl_switch_cmds[0]);
