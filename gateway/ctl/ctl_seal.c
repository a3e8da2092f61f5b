/* ctl_seal.c -- sealed payloads for hubs: CMS AuthEnvelopedData (AES-256-GCM, ECDH) to recipients' certificates, and opening them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/ctl/ctl.h"
#include "gateway/ctl/ctl_seal.h"
#include "gateway/net/client.h"
#include "gateway/net/grpc_frame.h"
#include "gateway/net/grpc_status.h"
#include "proto/pb.h"

/* The reason: what failed, then OpenSSL's first error (cleared). */
static int
seal_fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, e != 0 ? ": " : "", buf);
	ERR_clear_error();
	return -1;
}

/* The bytes a memory BIO holds, copied into *out. */
static int
bio_take(BIO *b, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || (*out = malloc((size_t)n + 1)) == NULL)
		return seal_fail(err, errlen, "out of memory");
	memcpy(*out, data, (size_t)n);
	*outlen = (size_t)n;
	return 0;
}

int
ctl_seal(const uint8_t *in, size_t len, X509 *const *certs, size_t n,
    uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *src = BIO_new_mem_buf(in, (int)len), *dst = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = NULL;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	if (len > INT32_MAX) {
		snprintf(err, errlen, "payload too large to seal");
		goto done;
	}
	if (sk == NULL || src == NULL || dst == NULL) {
		seal_fail(err, errlen, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (!sk_X509_push(sk, certs[i])) {
			seal_fail(err, errlen, "out of memory");
			goto done;
		}
	/* An AEAD cipher makes CMS_encrypt_ex build AuthEnvelopedData. */
	cms = CMS_encrypt_ex(sk, src, EVP_aes_256_gcm(), CMS_BINARY, NULL, NULL);
	if (cms == NULL) {
		seal_fail(err, errlen, "cannot seal (a certificate without an "
		    "EC P-256 or RSA key?)");
		goto done;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_id_smime_ct_authEnvelopedData) {
		snprintf(err, errlen, "OpenSSL made no AuthEnvelopedData");
		goto done;
	}
	if (i2d_CMS_bio(dst, cms) != 1) {
		seal_fail(err, errlen, "cannot encode the sealed payload");
		goto done;
	}
	rc = bio_take(dst, out, outlen, err, errlen);
done:
	CMS_ContentInfo_free(cms);
	sk_X509_free(sk);	/* the certificates stay the caller's */
	BIO_free(src);
	BIO_free(dst);
	return rc;
}

int
ctl_seal_open(const uint8_t *in, size_t len, EVP_PKEY *key, X509 *cert,
    uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	BIO *src = BIO_new_mem_buf(in, (int)(len > INT32_MAX ? 0 : len));
	BIO *dst = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = NULL;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	if (src == NULL || dst == NULL) {
		seal_fail(err, errlen, "out of memory");
		goto done;
	}
	if ((cms = d2i_CMS_bio(src, NULL)) == NULL) {
		seal_fail(err, errlen, "not a CMS message");
		goto done;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_id_smime_ct_authEnvelopedData) {
		snprintf(err, errlen, "a CMS message, but not AuthEnvelopedData");
		goto done;
	}
	if (CMS_decrypt(cms, key, cert, NULL, dst, CMS_BINARY) != 1) {
		seal_fail(err, errlen, "cannot open it with this key (sealed to "
		    "other keys, or altered on the way)");
		goto done;
	}
	rc = bio_take(dst, out, outlen, err, errlen);
done:
	CMS_ContentInfo_free(cms);
	BIO_free(src);
	BIO_free(dst);
	return rc;
}

int
ctl_seal_find(struct ctl *ctl, const char *address, X509 **certs, size_t max,
    size_t *n, bool *old, char *err, size_t errlen)
{
	Axle__V1__FindKeysRequest req = AXLE__V1__FIND_KEYS_REQUEST__INIT;
	Axle__V1__FindKeysResponse *r;
	uint8_t *buf, *resp = NULL;
	size_t len, rlen = 0;
	char msg[512];
	int st;

	*n = 0;
	*old = false;
	req.address = (char *)address;
	req.use = AXLE__V1__KEY_USE__KEY_USE_SEALING;
	if ((buf = pb_pack(&req.base, 0, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st = net_client_call_sync(ctl->client, ctl->base,
	    "/axle.v1.Registry/FindKeys", buf, len, ctl->set.timeout_ms, &resp,
	    &rlen, msg, sizeof(msg));
	free(buf);
	if (st != GRPC_OK) {
		*old = st == GRPC_UNIMPLEMENTED;
		snprintf(err, errlen, "cannot look the recipient's sealing keys up "
		    "(Registry.FindKeys): %s: %s", net_grpc_status_name(st), msg);
		free(resp);
		return -1;
	}
	r = PB_UNPACK(Axle__V1__FindKeysResponse, axle__v1__find_keys_response,
	    resp, rlen, NET_CLIENT_MAX_MSG, msg, sizeof(msg));
	free(resp);
	if (r == NULL) {
		snprintf(err, errlen, "FindKeys answer: %s", msg);
		return -1;
	}
	for (size_t i = 0; i < r->n_keys && *n < max; i++) {
		const uint8_t *p = r->keys[i]->certificate.data;
		X509 *x = d2i_X509(NULL, &p, (long)r->keys[i]->certificate.len);

		if (x != NULL)
			certs[(*n)++] = x;
	}
	ERR_clear_error();
	if (*n == 0)
		snprintf(err, errlen, "%s publishes no sealing key%s%s", address,
		    r->reason != NULL && r->reason[0] != '\0' ? ": " : "",
		    r->reason != NULL ? r->reason : "");
	pb_free(&r->base);
	return 0;
}

static void *
read_cert(FILE *f)
{
	return PEM_read_X509(f, NULL, NULL, NULL);
}

static void *
read_key(FILE *f)
{
	return PEM_read_PrivateKey(f, NULL, NULL, NULL);
}

/* What rd reads from the PEM file path, or NULL with "path: no PEM what". */
static void *
pem_load(const char *path, void *(*rd)(FILE *), const char *what, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "r");
	void *x = f != NULL ? rd(f) : NULL;
	char msg[300];

	if (f != NULL)
		fclose(f);
	if (x == NULL) {
		snprintf(msg, sizeof(msg), "%s: no PEM %s", path, what);
		seal_fail(err, errlen, msg);
	}
	return x;
}

X509 *
ctl_seal_cert_load(const char *path, char *err, size_t errlen)
{
	return pem_load(path, read_cert, "certificate", err, errlen);
}

EVP_PKEY *
ctl_seal_key_load(const char *path, char *err, size_t errlen)
{
	return pem_load(path, read_key, "private key", err, errlen);
}
