/* feed.c -- canonical entry encoding, SHA-256 hash chain and ECDSA-signed heads. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "registry/error.h"
#include "registry/feed.h"

#define ENTRY_TAG	"axle.v1.FeedEntry/1"
#define HEAD_TAG	"axle.v1.SignedHead/1"
#define HEAD_TAG2	"axle.v1.SignedHead/2"	/* same tag length: with signed_ms */

static const uint8_t zero_hash[REGISTRY_HASH_LEN];

/* --- canonical encoding, streamed into a digest --------------------------------- */

struct sink {
	EVP_MD_CTX *md;
	int ok;
};

static void
put(struct sink *s, const void *p, size_t n)
{
	if (s->ok && n > 0 && EVP_DigestUpdate(s->md, p, n) != 1)
		s->ok = 0;
}

static void
put_u64(struct sink *s, uint64_t v)
{
	uint8_t b[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	put(s, b, sizeof(b));
}

static void
put_u32(struct sink *s, size_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	put(s, b, sizeof(b));
}

static void
put_bytes(struct sink *s, const void *p, size_t n)
{
	put_u32(s, n);
	put(s, p, n);
}

static void
put_str(struct sink *s, const char *str)
{
	put_bytes(s, str, str != NULL ? strlen(str) : 0);
}

static void
put_strs(struct sink *s, char *const *v, size_t n)
{
	put_u32(s, n);
	for (size_t i = 0; i < n; i++)
		put_str(s, v[i]);
}

static void
put_contact(struct sink *s, const Axle__V1__Contact *c)
{
	put_str(s, c->name);
	put_str(s, c->role);
	put_str(s, c->email);
	put_str(s, c->phone);
}

static void
put_service(struct sink *s, const Axle__V1__Service *v)
{
	put_str(s, v->name);
	put_u64(s, (uint64_t)(int64_t)v->kind);
	put_strs(s, v->message_types, v->n_message_types);
	put_str(s, v->description);
	put_str(s, v->endpoint);
	put_str(s, v->address);
}

/*
 * Since purpose-bound services, and only when a service publishes
 * purposes (so that every entry made before hashes as it did): "purposes",
 * then each service's purposes[] in service order.
 */
static void
put_purposes(struct sink *s, const Axle__V1__Registrar *r)
{
	bool any = false;

	for (size_t i = 0; i < r->n_services && !any; i++)
		any = r->services[i]->n_purposes > 0;
	if (!any)
		return;
	put_str(s, "purposes");
	put_u32(s, r->n_services);
	for (size_t i = 0; i < r->n_services; i++)
		put_strs(s, r->services[i]->purposes, r->services[i]->n_purposes);
}

static void
put_registrar(struct sink *s, const Axle__V1__Registrar *r)
{
	put_str(s, r->id);
	put_str(s, r->display_name);
	put_strs(s, r->prefixes, r->n_prefixes);
	put_str(s, r->cert_identity);
	put_u64(s, (uint64_t)(int64_t)r->status);
	put_str(s, r->status_reason);
	put_u32(s, r->n_contacts);
	for (size_t i = 0; i < r->n_contacts; i++)
		put_contact(s, r->contacts[i]);
	put_u32(s, r->n_services);
	for (size_t i = 0; i < r->n_services; i++)
		put_service(s, r->services[i]);
	put_u64(s, (uint64_t)r->created_ms);
	put_u64(s, (uint64_t)r->updated_ms);
	put_u64(s, r->version);
	put_str(s, r->region);
	put_str(s, r->successor_id);
	put_purposes(s, r);
}

int
registry_feed_hash(const Axle__V1__FeedEntry *e, uint8_t out[REGISTRY_HASH_LEN])
{
	struct sink s = { EVP_MD_CTX_new(), 1 };
	uint8_t present = e->registrar != NULL;
	unsigned int olen = 0;

	if (e->prev_hash.len != REGISTRY_HASH_LEN) {
		EVP_MD_CTX_free(s.md);
		return REGISTRY_EINVAL;
	}
	if (s.md == NULL || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s.md);
		return REGISTRY_ENOMEM;
	}
	put(&s, e->prev_hash.data, REGISTRY_HASH_LEN);
	put(&s, ENTRY_TAG, sizeof(ENTRY_TAG));	/* with its NUL */
	put_u64(&s, e->seq);
	put_u64(&s, (uint64_t)e->at_ms);
	put_str(&s, e->actor);
	put_u64(&s, (uint64_t)(int64_t)e->change);
	put_str(&s, e->region);
	put_str(&s, e->detail);
	put(&s, &present, 1);
	if (present)
		put_registrar(&s, e->registrar);
	if (s.ok && EVP_DigestFinal_ex(s.md, out, &olen) != 1)
		s.ok = 0;
	EVP_MD_CTX_free(s.md);
	return s.ok && olen == REGISTRY_HASH_LEN ? REGISTRY_OK : REGISTRY_ENOMEM;
}

/* --- chain verification ----------------------------------------------------------- */

/* Position of seq in entries[from..n), or -1. */
static ptrdiff_t
find_seq(const Axle__V1__FeedEntry *const *entries, size_t from, size_t n, uint64_t seq)
{
	for (size_t i = from; i < n; i++)
		if (entries[i]->seq == seq)
			return (ptrdiff_t)i;
	return -1;
}

/* Explains why entries[i] is not the expected seq: reordered, missing or repeated. */
static int
seq_fault(const Axle__V1__FeedEntry *const *entries, size_t i, size_t n,
    uint64_t want, uint64_t *bad_seq, char *reason, size_t len)
{
	uint64_t got = entries[i]->seq;

	if (got < want) {
		*bad_seq = got;
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "entry %" PRIu64 " appears again after entry %" PRIu64,
		    got, want - 1);
	}
	*bad_seq = want;
	if (find_seq(entries, i + 1, n, want) >= 0)
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "entry %" PRIu64 " is out of order: entry %" PRIu64
		    " comes before it", want, got);
	return registry_fail(REGISTRY_EINTEGRITY, reason, len,
	    "entry %" PRIu64 " is missing: entry %" PRIu64 " follows entry %"
	    PRIu64, want, got, want - 1);
}

/*
 * Checks entries[i] against its contents and the running hash. Its own hash
 * is checked first: a self-consistent entry whose prev_hash does not chain
 * means the one before it was modified and re-hashed.
 */
static int
link_fault(const Axle__V1__FeedEntry *e, size_t i, const uint8_t *running,
    uint64_t *bad_seq, char *reason, size_t len)
{
	uint8_t h[REGISTRY_HASH_LEN];
	int rc = e->prev_hash.len == REGISTRY_HASH_LEN ? registry_feed_hash(e, h) :
	    REGISTRY_EINVAL;

	if (rc == REGISTRY_ENOMEM)
		return registry_fail(rc, reason, len, "cannot hash entry %" PRIu64, e->seq);
	if (rc != REGISTRY_OK || e->hash.len != REGISTRY_HASH_LEN ||
	    memcmp(e->hash.data, h, sizeof(h)) != 0) {
		*bad_seq = e->seq;
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "entry %" PRIu64 " was modified: its hash does not match its "
		    "contents", e->seq);
	}
	if (memcmp(e->prev_hash.data, running, REGISTRY_HASH_LEN) == 0)
		return REGISTRY_OK;
	if (i == 0) {
		*bad_seq = e->seq;
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "entry %" PRIu64 " does not chain to entry %" PRIu64
		    " as already held: the feed was rewritten", e->seq, e->seq - 1);
	}
	*bad_seq = e->seq - 1;
	return registry_fail(REGISTRY_EINTEGRITY, reason, len,
	    "entry %" PRIu64 " was modified: entry %" PRIu64 "'s prev_hash "
	    "does not chain to it", e->seq - 1, e->seq);
}

int
registry_feed_verify(const Axle__V1__FeedEntry *const *entries, size_t n,
    uint64_t prev_seq, const uint8_t *prev_hash, uint64_t *bad_seq,
    char *reason, size_t len)
{
	const uint8_t *running = prev_seq == 0 || prev_hash == NULL ? zero_hash : prev_hash;
	uint64_t dummy;
	int rc;

	if (bad_seq == NULL)
		bad_seq = &dummy;
	*bad_seq = 0;
	for (size_t i = 0; i < n; i++) {
		const Axle__V1__FeedEntry *e = entries[i];

		if (e->seq != prev_seq + 1 + i)
			return seq_fault(entries, i, n, prev_seq + 1 + i, bad_seq,
			    reason, len);
		if ((rc = link_fault(e, i, running, bad_seq, reason, len)) != REGISTRY_OK)
			return rc;
		running = e->hash.data;
	}
	return REGISTRY_OK;
}

/* --- signed heads ------------------------------------------------------------------ */

/* The bytes a head's signature covers (timed: "/2" and signed_ms too); malloc'd. */
static uint8_t *
head_bytes(const Axle__V1__SignedHead *h, bool timed, size_t *outlen)
{
	size_t rl = h->region != NULL ? strlen(h->region) : 0;
	size_t n = sizeof(HEAD_TAG) + 4 + rl + 8 + 4 + h->hash.len + (timed ? 8 : 0), o = 0;
	uint8_t *b = malloc(n);

	if (b == NULL)
		return NULL;
	memcpy(b, timed ? HEAD_TAG2 : HEAD_TAG, sizeof(HEAD_TAG));
	o = sizeof(HEAD_TAG);
	for (int i = 3; i >= 0; i--)
		b[o++] = (uint8_t)(rl >> (8 * i));
	if (rl > 0)
		memcpy(b + o, h->region, rl);
	o += rl;
	for (int i = 7; i >= 0; i--)
		b[o++] = (uint8_t)(h->seq >> (8 * i));
	for (int i = 3; i >= 0; i--)
		b[o++] = (uint8_t)(h->hash.len >> (8 * i));
	if (h->hash.len > 0)
		memcpy(b + o, h->hash.data, h->hash.len);
	o += h->hash.len;
	for (int i = 7; timed && i >= 0; i--)
		b[o++] = (uint8_t)((uint64_t)h->signed_ms >> (8 * i));
	*outlen = n;
	return b;
}

bool
registry_key_is_p256(EVP_PKEY *key)
{
	char group[64];

	return key != NULL && EVP_PKEY_base_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
}

int
registry_sign_p256(EVP_PKEY *key, const uint8_t *msg, size_t mlen,
    ProtobufCBinaryData *out)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *sig = NULL;
	size_t slen = 0;
	int ok;

	ok = md != NULL && msg != NULL &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, NULL, &slen, msg, mlen) == 1 &&
	    (sig = malloc(slen)) != NULL &&
	    EVP_DigestSign(md, sig, &slen, msg, mlen) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	if (!ok) {
		free(sig);
		return -1;
	}
	out->data = sig;
	out->len = slen;
	return 0;
}

bool
registry_verify_p256(EVP_PKEY *pub, const uint8_t *msg, size_t mlen,
    const ProtobufCBinaryData *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	ok = md != NULL && msg != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig->data, sig->len, msg, mlen) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return ok;
}

/* ECDSA/SHA-256 signature of head's bytes (timed or not) into *out (malloc'd). */
static int
sign_bytes(EVP_PKEY *key, const Axle__V1__SignedHead *head, bool timed,
    ProtobufCBinaryData *out)
{
	size_t mlen = 0;
	uint8_t *msg = head_bytes(head, timed, &mlen);
	int rc = registry_sign_p256(key, msg, mlen, out);

	free(msg);
	return rc;
}

int
registry_feed_sign_head(EVP_PKEY *key, Axle__V1__SignedHead *head,
    char *reason, size_t len)
{
	if (!registry_key_is_p256(key))
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "the node's key is not an EC P-256 key");
	if (head->hash.len != REGISTRY_HASH_LEN)
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "head hash is %zu bytes, not %d", head->hash.len, REGISTRY_HASH_LEN);
	if (sign_bytes(key, head, false, &head->signature) != 0)
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "cannot sign the feed head");
	if (sign_bytes(key, head, true, &head->time_signature) != 0) {
		free(head->signature.data);
		head->signature.data = NULL;
		head->signature.len = 0;
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "cannot sign the feed head");
	}
	head->algorithm = (char *)REGISTRY_HEAD_ALG;
	return REGISTRY_OK;
}

/* Does sig verify over head's bytes (timed or not) with pub? */
static bool
verify_bytes(EVP_PKEY *pub, const Axle__V1__SignedHead *head, bool timed,
    const ProtobufCBinaryData *sig)
{
	size_t mlen = 0;
	uint8_t *msg = head_bytes(head, timed, &mlen);
	bool ok = registry_verify_p256(pub, msg, mlen, sig);

	free(msg);
	return ok;
}

int
registry_feed_verify_head(EVP_PKEY *pub, const Axle__V1__SignedHead *head,
    char *reason, size_t len)
{
	if (head->algorithm == NULL || strcmp(head->algorithm, REGISTRY_HEAD_ALG) != 0)
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "head signature algorithm \"%s\" is not %s",
		    head->algorithm != NULL ? head->algorithm : "", REGISTRY_HEAD_ALG);
	if (head->hash.len != REGISTRY_HASH_LEN || head->signature.len == 0)
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "head of %s has a %zu-byte hash and a %zu-byte signature",
		    head->region, head->hash.len, head->signature.len);
	if (!registry_key_is_p256(pub))
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "the peer's key is not an EC P-256 key");
	if (!verify_bytes(pub, head, false, &head->signature))
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "signature of the head of %s at entry %" PRIu64 " does not "
		    "verify with the key of its node", head->region, head->seq);
	if (head->time_signature.len > 0 &&
	    !verify_bytes(pub, head, true, &head->time_signature))
		return registry_fail(REGISTRY_EINTEGRITY, reason, len,
		    "time signature of the head of %s at entry %" PRIu64 " does "
		    "not verify with the key of its node: its signed_ms was altered",
		    head->region, head->seq);
	return REGISTRY_OK;
}

int64_t
registry_feed_head_time(const Axle__V1__SignedHead *head)
{
	return head != NULL && head->time_signature.len > 0 ? head->signed_ms : 0;
}
