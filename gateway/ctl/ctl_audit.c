/* ctl_audit.c -- axlectl audit verify | export: the recourse audit chain, checked on the node or exported as JSON Lines with its signed head. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "axle/v1/recourse.pb-c.h"
#include "gateway/ctl/ctl.h"
#include "proto/pb.h"

#define AUDIT_SVC "/axle.v1.Recourse/"

static int
audit_usage(const char *what)
{
	fprintf(stderr, "axlectl: %s\n", what);
	fprintf(stderr, "usage: axlectl [--json] audit verify\n"
	    "       axlectl audit export [--from SEQ] [--to SEQ] "
	    "[--page-size N] > audit.jsonl\n");
	return CTL_USAGE;
}

static int
audit_verify(struct ctl *ctl)
{
	Axle__V1__VerifyAuditRequest req = AXLE__V1__VERIFY_AUDIT_REQUEST__INIT;
	const Axle__V1__VerifyAuditResponse *r;
	ProtobufCMessage *m;
	int rc;

	rc = ctl_call(ctl, AUDIT_SVC "VerifyAudit", &req.base,
	    &axle__v1__verify_audit_response__descriptor, &m);
	if (rc != CTL_OK)
		return rc;
	r = (const void *)m;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else if (r->ok) {
		printf("audit OK: %llu entries\n", (unsigned long long)r->entries);
	} else {
		printf("audit BROKEN at entry %s: ", r->first_bad);
		ctl_put_safe(stdout, r->detail);
		putchar('\n');
	}
	if (rc == CTL_OK && !r->ok)
		rc = CTL_FAILED;
	pb_free(m);
	return rc;
}

/* --- export ---------------------------------------------------------------------- */

static json_t *
audit_hex(const ProtobufCBinaryData *b)
{
	static const char digits[] = "0123456789abcdef";
	char *buf = malloc(2 * b->len + 1);
	json_t *j;

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < b->len; i++) {
		buf[2 * i] = digits[b->data[i] >> 4];
		buf[2 * i + 1] = digits[b->data[i] & 15];
	}
	buf[2 * b->len] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

/* A DER certificate as PEM text; NULL if it does not parse. */
static json_t *
audit_pem(const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	X509 *c = d2i_X509(NULL, &p, (long)der->len);
	BIO *bio = BIO_new(BIO_s_mem());
	json_t *j = NULL;
	char *text;
	long n;

	if (c != NULL && bio != NULL && PEM_write_bio_X509(bio, c) == 1 &&
	    (n = BIO_get_mem_data(bio, &text)) > 0)
		j = json_stringn(text, (size_t)n);
	X509_free(c);
	BIO_free(bio);
	return j;
}

/* Prints j as one line and frees it; -1 if it could not be written. */
static int
audit_line(json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII) : NULL;
	int rc = s != NULL && printf("%s\n", s) > 0 ? 0 : -1;

	free(s);
	json_decref(j);
	return rc;
}

/* One entry: every field its hash covers (docs/admin.md, "The audit export"). */
static int
audit_record_line(const Axle__V1__AuditRecord *r)
{
	json_t *j = json_object();

	if (j == NULL ||
	    json_object_set_new(j, "seq", json_integer((json_int_t)r->seq)) ||
	    json_object_set_new(j, "prev_hash", audit_hex(&r->prev_hash)) ||
	    json_object_set_new(j, "hash", audit_hex(&r->hash)) ||
	    json_object_set_new(j, "at_ms", json_integer(r->at_ms)) ||
	    json_object_set_new(j, "state", json_integer(r->state)) ||
	    json_object_set_new(j, "actor", json_string(r->actor)) ||
	    json_object_set_new(j, "case_id", json_string(r->case_id)) ||
	    json_object_set_new(j, "action", json_string(r->action)) ||
	    json_object_set_new(j, "detail", json_string(r->detail)) ||
	    json_object_set_new(j, "format", json_integer(r->format))) {
		json_decref(j);
		return -1;
	}
	return audit_line(j);
}

/* The last line: the signed head and the node's certificate chain (PEM). */
static int
audit_head_line(const Axle__V1__SignedAuditHead *h)
{
	json_t *j = json_object(), *head = json_object(), *chain = json_array();

	for (size_t i = 0; chain != NULL && i < h->n_node_chain; i++)
		if (json_array_append_new(chain, audit_pem(&h->node_chain[i])))
			break;
	if (j == NULL || head == NULL || chain == NULL ||
	    json_array_size(chain) != h->n_node_chain ||
	    json_object_set_new(head, "region", json_string(h->region)) ||
	    json_object_set_new(head, "from_seq",
	    json_integer((json_int_t)h->from_seq)) ||
	    json_object_set_new(head, "seq", json_integer((json_int_t)h->seq)) ||
	    json_object_set_new(head, "hash", audit_hex(&h->hash)) ||
	    json_object_set_new(head, "signed_ms", json_integer(h->signed_ms)) ||
	    json_object_set_new(head, "algorithm", json_string(h->algorithm)) ||
	    json_object_set_new(head, "signature", audit_hex(&h->signature)) ||
	    json_object_set_new(head, "key_identity",
	    json_string(h->key_identity)) ||
	    json_object_set_new(head, "head_seq",
	    json_integer((json_int_t)h->head_seq)) ||
	    json_object_set_new(head, "node_chain", json_incref(chain)) ||
	    json_object_set_new(j, "head", json_incref(head))) {
		json_decref(chain);
		json_decref(head);
		json_decref(j);
		return -1;
	}
	json_decref(chain);
	json_decref(head);
	return audit_line(j);
}

static int
audit_seq(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Pages of entries from..to to stdout; *n counts them. CTL_OK or CTL_FAILED. */
static int
audit_pages(struct ctl *ctl, uint64_t from, uint64_t to, uint32_t size,
    uint64_t *n)
{
	Axle__V1__AuditExportRequest req = AXLE__V1__AUDIT_EXPORT_REQUEST__INIT;
	Axle__V1__PageRequest page = AXLE__V1__PAGE_REQUEST__INIT;
	char token[32] = "";
	uint64_t last = from - 1;
	int rc = CTL_OK;

	req.from_seq = from;
	req.to_seq = to;
	req.page = &page;
	page.page_size = size;
	page.page_token = token;
	do {
		const Axle__V1__AuditExportResponse *r;
		ProtobufCMessage *m;
		uint64_t at = 0;

		if ((rc = ctl_call(ctl, AUDIT_SVC "AuditExport", &req.base,
		    &axle__v1__audit_export_response__descriptor, &m)) != CTL_OK)
			return rc;
		r = (const void *)m;
		for (size_t i = 0; rc == CTL_OK && i < r->n_records; i++, (*n)++)
			if (audit_record_line(r->records[i]) != 0)
				rc = ctl_fail(ctl, "OUTPUT", "cannot write the export");
		if (r->n_records > 0)
			last = r->records[r->n_records - 1]->seq;
		token[0] = '\0';
		if (rc == CTL_OK && r->page != NULL && r->page->next_page_token[0]) {
			/* The node's next page must start after what it gave. */
			if (audit_seq(r->page->next_page_token, &at) != 0 ||
			    at <= last || at > to)
				rc = ctl_fail(ctl, "INTERNAL", "the node's page token "
				    "does not move the export on");
			else
				snprintf(token, sizeof(token), "%llu",
				    (unsigned long long)at);
		}
		pb_free(m);
	} while (rc == CTL_OK && token[0] != '\0');
	return rc;
}

static int
audit_export(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__AuditHeadRequest hreq = AXLE__V1__AUDIT_HEAD_REQUEST__INIT;
	const Axle__V1__SignedAuditHead *h;
	ProtobufCMessage *m;
	uint64_t from = 0, to = 0, size = 0, n = 0;
	int rc;

	for (int i = 2; i < argc; i++) {
		uint64_t *dst = strcmp(argv[i], "--from") == 0 ? &from :
		    strcmp(argv[i], "--to") == 0 ? &to :
		    strcmp(argv[i], "--page-size") == 0 ? &size : NULL;

		if (dst == NULL)
			return audit_usage("audit export takes --from SEQ, --to "
			    "SEQ and --page-size N");
		if (++i == argc || audit_seq(argv[i], dst) != 0 ||
		    (dst == &size && size > UINT32_MAX))
			return audit_usage("--from, --to and --page-size take a "
			    "number");
	}
	/* The head first: the export ends where the node signed it. */
	hreq.from_seq = from;
	hreq.to_seq = to;
	if ((rc = ctl_call(ctl, AUDIT_SVC "AuditHead", &hreq.base,
	    &axle__v1__signed_audit_head__descriptor, &m)) != CTL_OK)
		return rc;
	h = (const void *)m;
	if (h->seq > 0 && h->from_seq <= h->seq)
		rc = audit_pages(ctl, h->from_seq, h->seq, (uint32_t)size, &n);
	if (rc == CTL_OK && audit_head_line(h) != 0)
		rc = ctl_fail(ctl, "OUTPUT", "cannot write the signed head");
	if (rc == CTL_OK && fflush(stdout) != 0)
		rc = ctl_fail(ctl, "OUTPUT", strerror(errno));
	if (rc == CTL_OK)
		fprintf(stderr, "axlectl: audit export: %llu entries (%llu to "
		    "%llu) and the head signed by %s\n", (unsigned long long)n,
		    (unsigned long long)h->from_seq, (unsigned long long)h->seq,
		    h->key_identity);
	pb_free(m);
	return rc;
}

static int
cmd_audit(struct ctl *ctl, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return audit_export(ctl, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0)
				return audit_usage("audit verify takes no "
				    "arguments");
			ctl->json = true;
		}
		return audit_verify(ctl);
	}
	return audit_usage("audit takes a sub-command: verify or export");
}

const struct ctl_cmd ctl_audit_cmds[] = {
	{ "audit", "verify|export", "check this node's recourse audit chain, or "
	    "export it with its signed head (admin)", true, cmd_audit },
};
const size_t ctl_audit_ncmds = sizeof(ctl_audit_cmds) /
    sizeof(ctl_audit_cmds[0]);
