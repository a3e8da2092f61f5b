/* audit_sign.c -- the audit head signed by the node's key: the bytes signed, signing, checking. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "recourse/audit.h"
#include "recourse/audit_sign.h"
#include "recourse/rc.h"
#include "registry/feed.h"

static unsigned char *
put_n(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

unsigned char *
recourse_audit_head_bytes(const Axle__V1__SignedAuditHead *h, size_t *len)
{
	size_t rl = h->region != NULL ? strlen(h->region) : 0;
	size_t n = sizeof(RECOURSE_HEAD_TAG) + 4 + rl + 8 + 8 + 4 + h->hash.len + 8;
	unsigned char *b = malloc(n), *p = b;

	if (b == NULL)
		return NULL;
	memcpy(p, RECOURSE_HEAD_TAG, sizeof(RECOURSE_HEAD_TAG));
	p = put_n(p + sizeof(RECOURSE_HEAD_TAG), rl, 4);
	if (rl > 0)
		memcpy(p, h->region, rl);
	p = put_n(p + rl, h->from_seq, 8);
	p = put_n(p, h->seq, 8);
	p = put_n(p, h->hash.len, 4);
	if (h->hash.len > 0)
		memcpy(p, h->hash.data, h->hash.len);
	put_n(p + h->hash.len, (uint64_t)h->signed_ms, 8);
	*len = n;
	return b;
}

int
recourse_audit_sign_head(EVP_PKEY *key, Axle__V1__SignedAuditHead *h,
    char *why, size_t whylen)
{
	unsigned char *msg;
	size_t mlen = 0;
	int rc;

	if (!registry_key_is_p256(key))
		return recourse_why(why, whylen, RECOURSE_EINVAL, "the node's key "
		    "is not an EC P-256 key: it cannot sign the audit head");
	if (h->hash.len != RECOURSE_HASH_LEN)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "audit head hash "
		    "is %zu bytes, not %d", h->hash.len, RECOURSE_HASH_LEN);
	msg = recourse_audit_head_bytes(h, &mlen);
	rc = registry_sign_p256(key, msg, mlen, &h->signature);
	free(msg);
	if (rc != 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "cannot sign "
		    "the audit head (OpenSSL failed or out of memory)");
	h->algorithm = (char *)RECOURSE_HEAD_ALG;
	return RECOURSE_OK;
}

int
recourse_audit_verify_head(EVP_PKEY *pub, const Axle__V1__SignedAuditHead *h,
    char *why, size_t whylen)
{
	unsigned char *msg;
	size_t mlen = 0;
	bool ok;

	if (h->algorithm == NULL || strcmp(h->algorithm, RECOURSE_HEAD_ALG) != 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "audit head "
		    "algorithm \"%s\" is not %s", h->algorithm ? h->algorithm : "",
		    RECOURSE_HEAD_ALG);
	if (h->hash.len != RECOURSE_HASH_LEN || h->signature.len == 0)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "audit head has "
		    "a %zu-byte hash and a %zu-byte signature", h->hash.len,
		    h->signature.len);
	if (!registry_key_is_p256(pub))
		return recourse_why(why, whylen, RECOURSE_EINVAL, "the node's "
		    "certificate does not hold an EC P-256 key");
	msg = recourse_audit_head_bytes(h, &mlen);
	ok = registry_verify_p256(pub, msg, mlen, &h->signature);
	free(msg);
	if (!ok)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "the signature "
		    "of the audit head at entry %llu does not verify with the "
		    "node's key", (unsigned long long)h->seq);
	return RECOURSE_OK;
}
