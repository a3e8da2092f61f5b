/* envsig.c -- signed envelopes and signed trace hops: canonical forms, ECDSA P-256 SHA-256. Pure. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "proto/envsig.h"

/* --- the canonical form: length-prefixed items ------------------------------------- */

struct form {
	uint8_t *b;
	size_t len, cap;
	bool oom;
};

static void
put_raw(struct form *f, const void *p, size_t n)
{
	if (f->oom)
		return;
	if (f->len + n > f->cap) {
		size_t cap = f->cap != 0 ? f->cap : 256;
		uint8_t *b;

		while (cap < f->len + n)
			cap *= 2;
		if ((b = realloc(f->b, cap)) == NULL) {
			f->oom = true;
			return;
		}
		f->b = b;
		f->cap = cap;
	}
	if (n > 0)
		memcpy(f->b + f->len, p, n);
	f->len += n;
}

/* One item: 4-byte big-endian length, then the bytes. */
static void
put_item(struct form *f, const void *p, size_t n)
{
	uint8_t l[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };

	put_raw(f, l, 4);
	put_raw(f, p, n);
}

static void
put_str(struct form *f, const char *s)
{
	put_item(f, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* A string whose address part (up to the first ':') nodes lower-case. */
static void
put_folded(struct form *f, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint8_t l[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };
	bool addr = true;

	put_raw(f, l, 4);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ':')
			addr = false;
		if (addr && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		put_raw(f, &c, 1);
	}
}

/* An integer: an item of 8 bytes, big-endian two's complement. */
static void
put_int(struct form *f, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];

	for (int i = 7; i >= 0; i--, u >>= 8)
		b[i] = (uint8_t)u;
	put_item(f, b, 8);
}

static uint8_t *
form_done(struct form *f, size_t *len)
{
	if (f->oom) {
		free(f->b);
		return NULL;
	}
	*len = f->len;
	return f->b;
}

uint8_t *
envsig_canonical(const Axle__V1__Envelope *e, size_t *len)
{
	struct form f = { 0 };
	uint8_t pd[ENVSIG_DIGEST_LEN];

	put_str(&f, ENVSIG_ENV_TAG);
	put_item(&f, e->message_id.data, e->message_id.len);
	put_folded(&f, e->sender);
	if (e->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO) {
		put_str(&f, "to");
		put_folded(&f, e->to);
	} else if (e->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP &&
	    e->to_group != NULL) {
		put_str(&f, "group");
		put_int(&f, e->to_group->kind);
		put_folded(&f, e->to_group->prefix);
		put_str(&f, e->to_group->message_type);
	} else
		put_str(&f, "none");
	put_str(&f, e->message_type);
	put_str(&f, e->context);
	put_str(&f, e->purpose);	/* Envelope field 7; "" when none */
	put_int(&f, e->created_ms);
	put_int(&f, e->deliver_by_ms);
	put_int(&f, e->reply_by_ms);
	put_int(&f, e->failure_policy);
	put_str(&f, e->content_type);
	SHA256(e->payload.data != NULL ? e->payload.data : (const uint8_t *)"",
	    e->payload.len, pd);
	put_item(&f, pd, sizeof(pd));
	return form_done(&f, len);
}

int
envsig_digest(const Axle__V1__Envelope *e, uint8_t out[ENVSIG_DIGEST_LEN])
{
	size_t n;
	uint8_t *b = envsig_canonical(e, &n);

	if (b == NULL)
		return -1;
	SHA256(b, n, out);
	free(b);
	return 0;
}

int
envsig_cert_id(X509 *cert, uint8_t out[ENVSIG_DIGEST_LEN])
{
	unsigned char *der = NULL;
	int n = cert != NULL ? i2d_X509(cert, &der) : -1;

	if (n <= 0)
		return -1;
	SHA256(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

/* --- ECDSA P-256 SHA-256 ---------------------------------------------------------- */

/* Signs msg; returns the DER signature's length, or 0. */
static size_t
sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[ENVSIG_SIG_MAX])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = ENVSIG_SIG_MAX;

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &n, msg, len) != 1)
		n = 0;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return n;
}

int
envsig_verify_raw(EVP_PKEY *pub, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && sig != NULL && siglen > 0 &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, msg, len) == 1;

	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

static bool
is_p256(EVP_PKEY *key)
{
	char curve[32];

	return key != NULL && EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve),
	    NULL) == 1 && strcmp(curve, "prime256v1") == 0;
}

static void
say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int
envsig_sign(const Axle__V1__Envelope *e, EVP_PKEY *key,
    const uint8_t key_id[ENVSIG_DIGEST_LEN], struct envsig_sig *out,
    char *why, size_t len)
{
	size_t n;
	uint8_t *form;

	if (!is_p256(key)) {
		say(why, len, "the signing key is not an EC P-256 key");
		return -1;
	}
	if ((form = envsig_canonical(e, &n)) == NULL) {
		say(why, len, "out of memory");
		return -1;
	}
	axle__v1__envelope_signature__init(&out->msg);
	memcpy(out->key_id, key_id, ENVSIG_DIGEST_LEN);
	SHA256(e->payload.data != NULL ? e->payload.data : (const uint8_t *)"",
	    e->payload.len, out->payload_digest);
	n = sign_raw(key, form, n, out->sig);
	free(form);
	if (n == 0) {
		say(why, len, "signing failed");
		return -1;
	}
	out->msg.algorithm = (char *)ENVSIG_ALG;
	out->msg.key_identity.data = out->key_id;
	out->msg.key_identity.len = ENVSIG_DIGEST_LEN;
	out->msg.payload_digest.data = out->payload_digest;
	out->msg.payload_digest.len = ENVSIG_DIGEST_LEN;
	out->msg.signature.data = out->sig;
	out->msg.signature.len = n;
	return 0;
}

const char *
envsig_verdict_name(enum envsig_verdict v)
{
	switch (v) {
	case ENVSIG_OK: return "ok";
	case ENVSIG_UNSIGNED: return "unsigned";
	case ENVSIG_MALFORMED: return "malformed";
	case ENVSIG_PAYLOAD: return "payload";
	case ENVSIG_NO_KEY: return "no_key";
	case ENVSIG_BAD: return "bad";
	}
	return "?";
}

enum envsig_verdict
envsig_check(const Axle__V1__Envelope *e, envsig_key_fn *find, void *arg,
    char *why, size_t len)
{
	const Axle__V1__EnvelopeSignature *s = e->signature;
	uint8_t pd[ENVSIG_DIGEST_LEN];
	char kwhy[256] = "";
	EVP_PKEY *pub;
	uint8_t *form;
	size_t n;
	int ok;

	say(why, len, "%s", "");
	if (s == NULL) {
		say(why, len, "signature: the envelope is not signed");
		return ENVSIG_UNSIGNED;
	}
	if (s->algorithm == NULL || strcmp(s->algorithm, ENVSIG_ALG) != 0) {
		say(why, len, "signature.algorithm: \"%.32s\" is not %s",
		    s->algorithm != NULL ? s->algorithm : "", ENVSIG_ALG);
		return ENVSIG_MALFORMED;
	}
	if (s->key_identity.len != ENVSIG_DIGEST_LEN ||
	    s->payload_digest.len != ENVSIG_DIGEST_LEN ||
	    s->signature.len == 0 || s->signature.len > ENVSIG_SIG_MAX) {
		say(why, len, "signature: key_identity and payload_digest must be "
		    "32 bytes, signature 1..%d bytes (have %zu, %zu, %zu)",
		    ENVSIG_SIG_MAX, s->key_identity.len, s->payload_digest.len,
		    s->signature.len);
		return ENVSIG_MALFORMED;
	}
	SHA256(e->payload.data != NULL ? e->payload.data : (const uint8_t *)"",
	    e->payload.len, pd);
	if (memcmp(pd, s->payload_digest.data, sizeof(pd)) != 0) {
		say(why, len, "signature: payload_digest is not the SHA-256 of the "
		    "payload (the payload was changed after signing)");
		return ENVSIG_PAYLOAD;
	}
	if ((pub = find(arg, e->sender, s->key_identity.data, s->key_identity.len,
	    kwhy, sizeof(kwhy))) == NULL) {
		say(why, len, "signature: %s", kwhy[0] != '\0' ? kwhy :
		    "no published signing certificate of the sender has this "
		    "key_identity");
		return ENVSIG_NO_KEY;
	}
	if ((form = envsig_canonical(e, &n)) == NULL) {
		EVP_PKEY_free(pub);
		say(why, len, "signature: out of memory");
		return ENVSIG_MALFORMED;
	}
	ok = envsig_verify_raw(pub, form, n, s->signature.data, s->signature.len);
	free(form);
	EVP_PKEY_free(pub);
	if (!ok) {
		say(why, len, "signature: does not verify with the sender's "
		    "certificate (a signed header field was changed, or another "
		    "key signed it)");
		return ENVSIG_BAD;
	}
	return ENVSIG_OK;
}

/* --- trace hops ------------------------------------------------------------------- */

uint8_t *
envsig_hop_canonical(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, const Axle__V1__TraceHop *hop, size_t *len)
{
	struct form f = { 0 };

	put_str(&f, ENVSIG_HOP_TAG);
	put_item(&f, digest, ENVSIG_DIGEST_LEN);
	if (prev != NULL)
		put_item(&f, prev->signature.data, prev->signature.len);
	else
		put_item(&f, "", 0);
	put_str(&f, hop->region);
	put_int(&f, hop->at_ms);
	put_str(&f, hop->redirect_case);
	return form_done(&f, len);
}

int
envsig_hop_sign(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, Axle__V1__TraceHop *hop, EVP_PKEY *key,
    const uint8_t key_id[ENVSIG_DIGEST_LEN], uint8_t sig[ENVSIG_SIG_MAX])
{
	size_t n;
	uint8_t *form = envsig_hop_canonical(digest, prev, hop, &n);

	if (form == NULL)
		return -1;
	n = sign_raw(key, form, n, sig);
	free(form);
	if (n == 0)
		return -1;
	hop->signature.data = sig;
	hop->signature.len = n;
	hop->key_identity.data = (uint8_t *)key_id;
	hop->key_identity.len = ENVSIG_DIGEST_LEN;
	return 0;
}

int
envsig_hop_verify(const uint8_t digest[ENVSIG_DIGEST_LEN],
    const Axle__V1__TraceHop *prev, const Axle__V1__TraceHop *hop, EVP_PKEY *pub)
{
	size_t n;
	uint8_t *form;
	int ok;

	if (hop->signature.len == 0 || hop->signature.len > ENVSIG_SIG_MAX ||
	    (form = envsig_hop_canonical(digest, prev, hop, &n)) == NULL)
		return 0;
	ok = envsig_verify_raw(pub, form, n, hop->signature.data, hop->signature.len);
	free(form);
	return ok;
}
