/* test_envsig.c -- canonical forms of envelopes and hops against the shared vectors (envsig_vectors.json), signing and verifying. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "proto/envsig.h"

static json_t *vectors;
static EVP_PKEY *vec_pub;

/* Hex to bytes in a malloc'd buffer (never NULL: at least one byte). */
static uint8_t *
unhex(const char *h, size_t *len)
{
	size_t n = strlen(h) / 2;
	uint8_t *b = malloc(n + 1);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	*len = n;
	return b;
}

static const char *
sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t
iget(json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

/* An envelope from a vector's fields; its strings point into the JSON, its bytes into *keep. */
struct built {
	Axle__V1__Envelope e;
	Axle__V1__ServiceGroup g;
	uint8_t *id, *payload;
};

static void
build(json_t *f, struct built *b)
{
	json_t *grp = json_object_get(f, "to_group");

	axle__v1__envelope__init(&b->e);
	axle__v1__service_group__init(&b->g);
	b->id = unhex(sget(f, "message_id"), &b->e.message_id.len);
	b->e.message_id.data = b->id;
	b->e.sender = (char *)sget(f, "sender");
	if (grp != NULL) {
		b->e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP;
		b->g.kind = (Axle__V1__ServiceKind)iget(grp, "kind");
		b->g.prefix = (char *)sget(grp, "prefix");
		b->g.message_type = (char *)sget(grp, "message_type");
		b->e.to_group = &b->g;
	} else {
		b->e.recipient_case = AXLE__V1__ENVELOPE__RECIPIENT_TO;
		b->e.to = (char *)sget(f, "to");
	}
	b->e.message_type = (char *)sget(f, "message_type");
	b->e.context = (char *)sget(f, "context");
	if (json_object_get(f, "purpose") != NULL)
		b->e.purpose = (char *)sget(f, "purpose");
	b->e.created_ms = iget(f, "created_ms");
	b->e.deliver_by_ms = iget(f, "deliver_by_ms");
	b->e.reply_by_ms = iget(f, "reply_by_ms");
	b->e.failure_policy = (Axle__V1__FailurePolicy)iget(f, "failure_policy");
	b->e.content_type = (char *)sget(f, "content_type");
	b->payload = unhex(sget(f, "payload"), &b->e.payload.len);
	b->e.payload.data = b->payload;
}

static void
unbuild(struct built *b)
{
	free(b->id);
	free(b->payload);
}

static int
setup(void **state)
{
	const char *top = getenv("AXLE_TOP");
	char path[4096];
	json_error_t err;
	BIO *bio;

	if (top == NULL)
		top = ".";
	snprintf(path, sizeof(path), "%s/tests/unit/proto/envsig_vectors.json", top);
	if ((vectors = json_load_file(path, 0, &err)) == NULL) {
		fprintf(stderr, "cannot read %s: %s (AXLE_TOP must name the source tree)\n",
		    path, err.text);
		return -1;
	}
	bio = BIO_new_mem_buf(sget(vectors, "public_key_pem"), -1);
	vec_pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return vec_pub != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	json_decref(vectors);
	EVP_PKEY_free(vec_pub);
	return 0;
}

/* The key lookup: arg is the key for every sender; NULL says why. */
static EVP_PKEY *
find_key(void *arg, const char *sender, const uint8_t *id, size_t idlen,
    char *why, size_t len)
{
	if (arg == NULL) {
		snprintf(why, len, "no signing certificate of %s", sender);
		return NULL;
	}
	EVP_PKEY_up_ref(arg);
	return arg;
}

/* Every vector's canonical form and digest, byte for byte; its signature verifies. */
static void
envelopes_match_vectors(void **state)
{
	json_t *envs = json_object_get(vectors, "envelopes"), *v;
	size_t i;

	assert_true(json_array_size(envs) >= 3);
	json_array_foreach(envs, i, v) {
		struct built b;
		size_t n, wn, sn;
		uint8_t *form, *want, *sig, d[ENVSIG_DIGEST_LEN], *wd;
		uint8_t pd[ENVSIG_DIGEST_LEN], kid[ENVSIG_DIGEST_LEN] = { 1 };
		Axle__V1__EnvelopeSignature s = AXLE__V1__ENVELOPE_SIGNATURE__INIT;
		char why[256];

		build(json_object_get(v, "fields"), &b);
		form = envsig_canonical(&b.e, &n);
		want = unhex(sget(v, "canonical"), &wn);
		assert_int_equal(n, wn);
		assert_memory_equal(form, want, n);
		assert_int_equal(envsig_digest(&b.e, d), 0);
		wd = unhex(sget(v, "digest"), &wn);
		assert_memory_equal(d, wd, ENVSIG_DIGEST_LEN);
		sig = unhex(sget(v, "signature"), &sn);
		assert_true(envsig_verify_raw(vec_pub, form, n, sig, sn));

		/* The same signature as an EnvelopeSignature: envsig_check says OK. */
		SHA256(b.e.payload.data, b.e.payload.len, pd);
		s.algorithm = (char *)ENVSIG_ALG;
		s.key_identity.data = kid, s.key_identity.len = sizeof(kid);
		s.payload_digest.data = pd, s.payload_digest.len = sizeof(pd);
		s.signature.data = sig, s.signature.len = sn;
		b.e.signature = &s;
		assert_int_equal(envsig_check(&b.e, find_key, vec_pub, why, sizeof(why)),
		    ENVSIG_OK);
		free(form), free(want), free(wd), free(sig);
		unbuild(&b);
	}
}

/* Each hop vector's form, and its signature chained to the one before. */
static void
hops_match_vectors(void **state)
{
	json_t *hops = json_object_get(vectors, "hops"), *v;
	Axle__V1__TraceHop prev = AXLE__V1__TRACE_HOP__INIT;
	uint8_t *prevsig = NULL;
	size_t i;

	assert_true(json_array_size(hops) >= 2);
	json_array_foreach(hops, i, v) {
		Axle__V1__TraceHop h = AXLE__V1__TRACE_HOP__INIT;
		size_t n, wn, dn, sn;
		uint8_t *d = unhex(sget(v, "digest"), &dn);
		uint8_t *want = unhex(sget(v, "canonical"), &wn), *form, *sig;

		h.region = (char *)sget(v, "region");
		h.at_ms = iget(v, "at_ms");
		h.redirect_case = (char *)sget(v, "redirect_case");
		form = envsig_hop_canonical(d, i > 0 ? &prev : NULL, &h, &n);
		assert_int_equal(n, wn);
		assert_memory_equal(form, want, n);
		sig = unhex(sget(v, "signature"), &sn);
		h.signature.data = sig, h.signature.len = sn;
		assert_true(envsig_hop_verify(d, i > 0 ? &prev : NULL, &h, vec_pub));
		/* A hostile peer rewriting this hop's region or time: refused. */
		h.region = (char *)"uk.elsewhere";
		assert_false(envsig_hop_verify(d, i > 0 ? &prev : NULL, &h, vec_pub));
		h.region = (char *)sget(v, "region");
		h.at_ms++;
		assert_false(envsig_hop_verify(d, i > 0 ? &prev : NULL, &h, vec_pub));
		h.at_ms--;
		free(prevsig);
		prevsig = sig;
		prev = h;
		free(form), free(want), free(d);
	}
	free(prevsig);
}

static EVP_PKEY *
p256(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* Signed here, verified here; each change after signing is named. */
static void
sign_then_tamper(void **state)
{
	json_t *v = json_array_get(json_object_get(vectors, "envelopes"), 0);
	EVP_PKEY *key = p256(), *other = p256();
	uint8_t kid[ENVSIG_DIGEST_LEN] = { 7 };
	struct envsig_sig s;
	struct built b;
	char why[256];

	build(json_object_get(v, "fields"), &b);
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)),
	    ENVSIG_UNSIGNED);
	assert_int_equal(envsig_sign(&b.e, key, kid, &s, why, sizeof(why)), 0);
	b.e.signature = &s.msg;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_OK);
	/* Fields nodes change on the way are outside the form. */
	b.e.hop_limit = 9;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_OK);
	/* Case of an address part: folded, so the same. */
	b.e.sender = (char *)"UK.London.Lewisham";
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_OK);
	/* A header field changed. */
	b.e.message_type = (char *)"referral.v3";
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_BAD);
	assert_non_null(strstr(why, "does not verify"));
	b.e.message_type = (char *)sget(json_object_get(v, "fields"), "message_type");
	b.e.deliver_by_ms++;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_BAD);
	b.e.deliver_by_ms--;
	/* Another key. */
	assert_int_equal(envsig_check(&b.e, find_key, other, why, sizeof(why)), ENVSIG_BAD);
	/* No key published. */
	assert_int_equal(envsig_check(&b.e, find_key, NULL, why, sizeof(why)), ENVSIG_NO_KEY);
	assert_non_null(strstr(why, "no signing certificate"));
	/* The payload changed. */
	b.payload[0] ^= 1;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_PAYLOAD);
	assert_non_null(strstr(why, "payload_digest"));
	b.payload[0] ^= 1;
	/* Malformed. */
	s.msg.algorithm = (char *)"rsa";
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_MALFORMED);
	s.msg.algorithm = (char *)ENVSIG_ALG;
	s.msg.key_identity.len = 5;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_MALFORMED);
	s.msg.key_identity.len = ENVSIG_DIGEST_LEN;
	assert_int_equal(envsig_check(&b.e, find_key, key, why, sizeof(why)), ENVSIG_OK);
	assert_string_equal(envsig_verdict_name(ENVSIG_BAD), "bad");
	unbuild(&b);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* Not a P-256 key: refused with a reason, nothing signed. */
static void
sign_refuses_other_keys(void **state)
{
	json_t *v = json_array_get(json_object_get(vectors, "envelopes"), 0);
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *p384 = EVP_EC_gen("P-384");
	uint8_t kid[ENVSIG_DIGEST_LEN] = { 0 };
	struct envsig_sig s;
	struct built b;
	char why[256];

	build(json_object_get(v, "fields"), &b);
	assert_int_equal(envsig_sign(&b.e, rsa, kid, &s, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "P-256"));
	assert_int_equal(envsig_sign(&b.e, p384, kid, &s, why, sizeof(why)), -1);
	unbuild(&b);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

/* A hop chain signed here: reordering or dropping an earlier hop breaks it. */
static void
hop_chain(void **state)
{
	EVP_PKEY *k1 = p256(), *k2 = p256();
	uint8_t d[ENVSIG_DIGEST_LEN] = { 3 }, kid[ENVSIG_DIGEST_LEN] = { 4 };
	uint8_t s1[ENVSIG_SIG_MAX], s2[ENVSIG_SIG_MAX];
	Axle__V1__TraceHop h1 = AXLE__V1__TRACE_HOP__INIT, h2 = AXLE__V1__TRACE_HOP__INIT;

	h1.region = (char *)"uk.london", h1.at_ms = 10;
	h2.region = (char *)"uk.leeds", h2.at_ms = 20;
	assert_int_equal(envsig_hop_sign(d, NULL, &h1, k1, kid, s1), 0);
	assert_int_equal(envsig_hop_sign(d, &h1, &h2, k2, kid, s2), 0);
	assert_memory_equal(h2.key_identity.data, kid, sizeof(kid));
	assert_true(envsig_hop_verify(d, NULL, &h1, k1));
	assert_true(envsig_hop_verify(d, &h1, &h2, k2));
	assert_false(envsig_hop_verify(d, &h1, &h2, k1));	/* another node's key */
	assert_false(envsig_hop_verify(d, NULL, &h2, k2));	/* first hop dropped */
	d[0] ^= 1;						/* another envelope */
	assert_false(envsig_hop_verify(d, NULL, &h1, k1));
	h1.signature.len = 0;					/* unsigned */
	assert_false(envsig_hop_verify(d, NULL, &h1, k1));
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(envelopes_match_vectors),
		cmocka_unit_test(hops_match_vectors),
		cmocka_unit_test(sign_then_tamper),
		cmocka_unit_test(sign_refuses_other_keys),
		cmocka_unit_test(hop_chain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
