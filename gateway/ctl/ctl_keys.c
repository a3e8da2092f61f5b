/* ctl_keys.c -- axlectl keys publish|withdraw|find: hubs' signing and sealing certificates in the register. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/ctl/ctl.h"
#include "proto/pb.h"
#include "proto/text.h"
#include "registry/keys.h"

/* "signing" / "sealing" (any case, or the enum's names) into *out. */
static int
use_arg(const char *cmd, const char *s, Axle__V1__KeyUse *out)
{
	int v;

	if (s == NULL || ctl_enum_arg(&axle__v1__key_use__descriptor, s, &v) != 0 ||
	    v == AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED) {
		fprintf(stderr, "axlectl: %s: --use: signing or sealing, not '%s'\n",
		    cmd, s != NULL ? s : "");
		return -1;
	}
	*out = (Axle__V1__KeyUse)v;
	return 0;
}

/* A certificate file (PEM or DER) as DER, malloc'd into *der. */
static int
read_cert(const char *cmd, const char *path, uint8_t **der, size_t *len)
{
	FILE *f = fopen(path, "rb");
	BIO *bio;
	X509 *c = NULL;
	unsigned char *buf = NULL;
	int n;

	if (f == NULL) {
		fprintf(stderr, "axlectl: %s: %s: %s\n", cmd, path, strerror(errno));
		return -1;
	}
	fclose(f);
	bio = BIO_new_file(path, "rb");
	if (bio != NULL && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		BIO_free(bio);
		if ((bio = BIO_new_file(path, "rb")) != NULL)
			c = d2i_X509_bio(bio, NULL);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (c == NULL) {
		fprintf(stderr, "axlectl: %s: %s: not a PEM or DER certificate\n",
		    cmd, path);
		return -1;
	}
	n = i2d_X509(c, &buf);
	X509_free(c);
	if (n <= 0) {
		fprintf(stderr, "axlectl: %s: %s: cannot encode it\n", cmd, path);
		return -1;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

/* 64 hex digits (':' between bytes allowed, as openssl prints them) into fpr. */
static int
fpr_arg(const char *s, uint8_t fpr[REGISTRY_KEY_FPR_LEN])
{
	size_t n = 0;

	for (const char *p = s; *p != '\0'; p++) {
		int hi, lo;

		if (*p == ':')
			continue;
		if (n == REGISTRY_KEY_FPR_LEN || (hi = axle_hexval(p[0])) < 0 ||
		    (lo = axle_hexval(p[1])) < 0)
			return -1;
		fpr[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == REGISTRY_KEY_FPR_LEN ? 0 : -1;
}

/* --- tables ----------------------------------------------------------------------- */

static void
keys_table(Axle__V1__PublishedKey *const *keys, size_t n)
{
	static const char *const head[] = { "USE", "FINGERPRINT", "SCOPE",
	    "IDENTITY", "NOT_AFTER", "PUBLISHED" };
	struct ctl_table *t = ctl_table_new(head, 6);

	for (size_t i = 0; t != NULL && i < n; i++) {
		char hex[REGISTRY_KEY_FPR_HEX], na[40], pub[40];
		const char *row[6];

		registry_key_fpr_hex(&keys[i]->fingerprint, hex);
		ctl_time(keys[i]->not_after_ms, na, sizeof(na));
		ctl_time(keys[i]->published_ms, pub, sizeof(pub));
		row[0] = registry_key_use_name(keys[i]->use);
		row[1] = hex;
		row[2] = keys[i]->scope[0] ? keys[i]->scope : "(all)";
		row[3] = keys[i]->identity;
		row[4] = na;
		row[5] = pub;
		ctl_table_add(t, row);
	}
	if (t != NULL)
		ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void
show_registrar_keys(const ProtobufCMessage *m)
{
	const Axle__V1__PublishKeyResponse *r = (const void *)m;	/* Withdraw: same first fields */

	printf("registrar %s: %zu key(s), feed seq %llu\n", r->registrar->id,
	    r->registrar->n_keys, (unsigned long long)r->feed_seq);
	keys_table(r->registrar->keys, r->registrar->n_keys);
}

static void
show_found(const ProtobufCMessage *m)
{
	const Axle__V1__FindKeysResponse *r = (const void *)m;

	printf("%s: registrar %s (%s) in the register of %s%s\n", r->address,
	    r->registrar_id[0] ? r->registrar_id : "-",
	    ctl_enum_name(&axle__v1__registrar_status__descriptor, r->registrar_status),
	    r->region, r->from_mirror ? " (mirrored)" : "");
	if (r->n_keys == 0) {
		printf("no keys: ");
		ctl_put_safe(stdout, r->reason);
		printf("\n");
		return;
	}
	keys_table(r->keys, r->n_keys);
}

/* --- commands ---------------------------------------------------------------------- */

static int
keys_publish(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__PublishKeyRequest req = AXLE__V1__PUBLISH_KEY_REQUEST__INIT;
	struct ctl_opt o[] = { { .name = "use" }, { .name = "scope" },
	    { .name = "registrar" } };
	char *pos[1];
	size_t np;
	uint8_t *der;
	size_t len;
	ProtobufCMessage *m;
	int rc;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 3, pos, 1, 1, &np) != 0 ||
	    use_arg(ctl->cmd, o[0].val, &req.use) != 0)
		return CTL_USAGE;
	if (read_cert(ctl->cmd, pos[0], &der, &len) != 0)
		return CTL_FAILED;
	req.certificate.data = der;
	req.certificate.len = len;
	req.scope = (char *)(o[1].val ? o[1].val : "");
	req.registrar_id = (char *)(o[2].val ? o[2].val : "");
	rc = ctl_call(ctl, "/axle.v1.Registry/PublishKey", &req.base,
	    &axle__v1__publish_key_response__descriptor, &m);
	OPENSSL_free(der);
	return rc != CTL_OK ? CTL_FAILED : ctl_output(ctl, m, show_registrar_keys);
}

static int
keys_withdraw(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__WithdrawKeyRequest req = AXLE__V1__WITHDRAW_KEY_REQUEST__INIT;
	struct ctl_opt o[] = { { .name = "reason" }, { .name = "registrar" } };
	uint8_t fpr[REGISTRY_KEY_FPR_LEN];
	char *pos[1];
	size_t np;
	ProtobufCMessage *m;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 2, pos, 1, 1, &np) != 0)
		return CTL_USAGE;
	if (fpr_arg(pos[0], fpr) != 0) {
		fprintf(stderr, "axlectl: %s: FINGERPRINT: the 64 hex digits of the "
		    "certificate's SHA-256 (keys find shows them), not '%s'\n",
		    ctl->cmd, pos[0]);
		return CTL_USAGE;
	}
	req.fingerprint.data = fpr;
	req.fingerprint.len = sizeof(fpr);
	req.reason = (char *)(o[0].val ? o[0].val : "");
	req.registrar_id = (char *)(o[1].val ? o[1].val : "");
	if (ctl_call(ctl, "/axle.v1.Registry/WithdrawKey", &req.base,
	    &axle__v1__withdraw_key_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_keys);
}

/* Writes each key as DIR/<use>-<fingerprint>.pem, for openssl. */
static int
pem_out(const char *cmd, const char *dir, const Axle__V1__FindKeysResponse *r)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "axlectl: %s: --pem-out %s: %s\n", cmd, dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < r->n_keys; i++) {
		const unsigned char *p = r->keys[i]->certificate.data;
		X509 *c = d2i_X509(NULL, &p, (long)r->keys[i]->certificate.len);
		char hex[REGISTRY_KEY_FPR_HEX], path[4096];
		FILE *f;
		int ok;

		registry_key_fpr_hex(&r->keys[i]->fingerprint, hex);
		snprintf(path, sizeof(path), "%s/%s-%s.pem", dir,
		    registry_key_use_name(r->keys[i]->use), hex);
		ok = c != NULL && (f = fopen(path, "w")) != NULL;
		if (ok) {
			ok = PEM_write_X509(f, c) == 1;
			ok = fclose(f) == 0 && ok;
		}
		X509_free(c);
		ERR_clear_error();
		if (!ok) {
			fprintf(stderr, "axlectl: %s: cannot write %s\n", cmd, path);
			return -1;
		}
		fprintf(stderr, "wrote %s\n", path);
	}
	return 0;
}

static int
keys_find(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__FindKeysRequest req = AXLE__V1__FIND_KEYS_REQUEST__INIT;
	struct ctl_opt o[] = { { .name = "use" }, { .name = "pem-out" } };
	char *pos[1];
	size_t np;
	ProtobufCMessage *m;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 2, pos, 1, 1, &np) != 0 ||
	    (o[0].val != NULL && use_arg(ctl->cmd, o[0].val, &req.use) != 0))
		return CTL_USAGE;
	req.address = pos[0];
	if (ctl_call(ctl, "/axle.v1.Registry/FindKeys", &req.base,
	    &axle__v1__find_keys_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	if (o[1].val != NULL && pem_out(ctl->cmd, o[1].val, (const void *)m) != 0) {
		pb_free(m);
		return CTL_FAILED;
	}
	return ctl_output(ctl, m, show_found);
}

static int
cmd_keys(struct ctl *ctl, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "publish") == 0)
		return keys_publish(ctl, argc, argv);
	if (strcmp(sub, "withdraw") == 0)
		return keys_withdraw(ctl, argc, argv);
	if (strcmp(sub, "find") == 0)
		return keys_find(ctl, argc, argv);
	fprintf(stderr, "usage: axlectl keys publish --use signing|sealing CERT.pem "
	    "[--scope P] [--registrar ID]\n"
	    "       axlectl keys withdraw FINGERPRINT [--reason TEXT] [--registrar ID]\n"
	    "       axlectl keys find ADDRESS [--use signing|sealing] [--pem-out DIR]\n");
	return CTL_USAGE;
}

const struct ctl_cmd ctl_keys_cmds[] = {
	{ "keys", "publish|withdraw|find ...",
	    "hubs' signing and sealing certificates in the register", true, cmd_keys },
};
const size_t ctl_keys_ncmds = sizeof(ctl_keys_cmds) / sizeof(ctl_keys_cmds[0]);
