/* test_feed.c -- feed hashes and chain verification (modified, removed, reordered, repeated entries), signed heads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ec.h>

#include "registry/error.h"
#include "registry/feed.h"

#define N 6

static Axle__V1__FeedEntry ent[N];
static Axle__V1__Registrar rec[N];
static uint8_t hashes[N][REGISTRY_HASH_LEN], prevs[N][REGISTRY_HASH_LEN];
static char *prefixes[] = { (char *)"uk.london.lewisham" };
static char why[REGISTRY_REASON_MAX];

/* Re-chains entries i.. after a change: prev_hash from entry i-1, own hash recomputed. */
static void
rechain(int from)
{
	for (int i = from; i < N; i++) {
		memcpy(prevs[i], i == 0 ? (uint8_t[REGISTRY_HASH_LEN]){ 0 } : hashes[i - 1],
		    REGISTRY_HASH_LEN);
		assert_int_equal(registry_feed_hash(&ent[i], hashes[i]), REGISTRY_OK);
	}
}

/* A valid chain of N entries, seqs 1..N. */
static int
setup(void **state)
{
	for (int i = 0; i < N; i++) {
		axle__v1__registrar__init(&rec[i]);
		rec[i].id = (char *)"lewisham";
		rec[i].region = (char *)"uk.london";
		rec[i].prefixes = prefixes;
		rec[i].n_prefixes = 1;
		rec[i].version = (uint64_t)i + 1;
		axle__v1__feed_entry__init(&ent[i]);
		ent[i].seq = (uint64_t)i + 1;
		ent[i].at_ms = 1700000000000 + i;
		ent[i].actor = (char *)"axle://fame-uk/admin/uk.london/jsmith";
		ent[i].change = AXLE__V1__FEED_CHANGE__FEED_CHANGE_UPDATED;
		ent[i].region = (char *)"uk.london";
		ent[i].registrar = &rec[i];
		ent[i].prev_hash.data = prevs[i];
		ent[i].prev_hash.len = REGISTRY_HASH_LEN;
		ent[i].hash.data = hashes[i];
		ent[i].hash.len = REGISTRY_HASH_LEN;
	}
	rechain(0);
	return 0;
}

static int
verify(const Axle__V1__FeedEntry *const *list, size_t n, uint64_t *bad)
{
	*bad = 0;
	strcpy(why, "untouched");
	return registry_feed_verify(list, n, 0, NULL, bad, why, sizeof(why));
}

static void
listof(const Axle__V1__FeedEntry **list, const int *order, size_t n)
{
	for (size_t i = 0; i < n; i++)
		list[i] = &ent[order[i]];
}

static void
test_valid_chain(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 2, 3, 4, 5 }, N);
	assert_int_equal(verify(list, N, &bad), REGISTRY_OK);
	assert_string_equal(why, "untouched");
	/* A tail continues from its predecessor's seq and hash. */
	assert_int_equal(registry_feed_verify(list + 3, 3, 3, hashes[2], &bad, why,
	    sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_feed_verify(list + 3, 3, 3, hashes[1], &bad, why,
	    sizeof(why)), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 4);
	assert_string_equal(why, "entry 4 does not chain to entry 3 as already held: the feed was rewritten");
	assert_int_equal(registry_feed_verify(list, 0, 0, NULL, &bad, why, sizeof(why)), REGISTRY_OK);
}

static void
test_modified_content(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 2, 3, 4, 5 }, N);
	rec[2].status = AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE;	/* nested field */
	assert_int_equal(verify(list, N, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 3);
	assert_string_equal(why, "entry 3 was modified: its hash does not match its contents");
}

static void
test_modified_and_rehashed(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 2, 3, 4, 5 }, N);
	ent[3].actor = (char *)"axle://fame-uk/admin/uk.london/mallory";
	assert_int_equal(registry_feed_hash(&ent[3], hashes[3]), REGISTRY_OK);
	assert_int_equal(verify(list, N, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 4);
	assert_string_equal(why, "entry 4 was modified: entry 5's prev_hash does not chain to it");
}

static void
test_removed(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 3, 4, 5 }, N - 1);
	assert_int_equal(verify(list, N - 1, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 3);
	assert_string_equal(why, "entry 3 is missing: entry 4 follows entry 2");
	/* Removing the first entry is caught too. */
	listof(list, (int[]){ 1, 2 }, 2);
	assert_int_equal(verify(list, 2, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 1);
}

static void
test_reordered(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 3, 2, 4, 5 }, N);
	assert_int_equal(verify(list, N, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 3);
	assert_string_equal(why, "entry 3 is out of order: entry 4 comes before it");
	/* Renumbering the swapped entries does not hide it: the hashes no longer chain. */
	ent[2].seq = 4;
	ent[3].seq = 3;
	assert_int_equal(verify(list, N, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 3);
}

static void
test_repeated(void **state)
{
	const Axle__V1__FeedEntry *list[N];
	uint64_t bad;

	listof(list, (int[]){ 0, 1, 2, 1, 3 }, 5);
	assert_int_equal(verify(list, 5, &bad), REGISTRY_EINTEGRITY);
	assert_int_equal(bad, 2);
	assert_string_equal(why, "entry 2 appears again after entry 3");
}

static void
test_hash_covers_fields(void **state)
{
	uint8_t h0[REGISTRY_HASH_LEN], h[REGISTRY_HASH_LEN];
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT, *sp = &s;
	char *types[] = { (char *)"referral" };

	assert_int_equal(registry_feed_hash(&ent[0], h0), 0);
	assert_memory_equal(h0, hashes[0], sizeof(h0));
	rec[0].services = &sp;
	rec[0].n_services = 1;
	assert_int_equal(registry_feed_hash(&ent[0], h), 0);
	assert_memory_not_equal(h, h0, sizeof(h));
	memcpy(h0, h, sizeof(h));
	s.message_types = types;
	s.n_message_types = 1;
	assert_int_equal(registry_feed_hash(&ent[0], h), 0);
	assert_memory_not_equal(h, h0, sizeof(h));
	memcpy(h0, h, sizeof(h));
	ent[0].registrar = NULL;
	assert_int_equal(registry_feed_hash(&ent[0], h), 0);
	assert_memory_not_equal(h, h0, sizeof(h));
	/* A string moved between adjacent fields changes the hash (lengths are encoded). */
	ent[0].actor = (char *)"ab";
	ent[0].region = (char *)"c";
	assert_int_equal(registry_feed_hash(&ent[0], h0), 0);
	ent[0].actor = (char *)"a";
	ent[0].region = (char *)"bc";
	assert_int_equal(registry_feed_hash(&ent[0], h), 0);
	assert_memory_not_equal(h, h0, sizeof(h));
	ent[0].prev_hash.len = 31;
	assert_int_equal(registry_feed_hash(&ent[0], h), REGISTRY_EINVAL);
}

/* --- signed heads --- */

static void
head_of(Axle__V1__SignedHead *head, int i)
{
	axle__v1__signed_head__init(head);
	head->region = (char *)"uk.london";
	head->seq = ent[i].seq;
	head->hash.data = hashes[i];
	head->hash.len = REGISTRY_HASH_LEN;
}

static void
test_head_signature(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	Axle__V1__SignedHead head;
	uint8_t saved;

	assert_non_null(key);
	assert_non_null(other);
	head_of(&head, N - 1);
	assert_int_equal(registry_feed_sign_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	assert_string_equal(head.algorithm, REGISTRY_HEAD_ALG);
	assert_true(head.signature.len > 60 && head.signature.data[0] == 0x30);	/* DER */
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	/* Another node's key. */
	assert_int_equal(registry_feed_verify_head(other, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	assert_string_equal(why, "signature of the head of uk.london at entry 6 does not verify with the key of its node");
	/* Tampered seq, hash, region. */
	head.seq = 7;
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	head.seq = 6;
	saved = hashes[N - 1][0];
	hashes[N - 1][0] ^= 1;
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	hashes[N - 1][0] = saved;
	head.region = (char *)"uk.londonderry";
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	head.region = (char *)"uk.london";
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	/* Tampered signature and algorithm. */
	head.signature.data[head.signature.len - 1] ^= 0x55;
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	head.signature.data[head.signature.len - 1] ^= 0x55;
	head.algorithm = (char *)"none";
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	assert_string_equal(why, "head signature algorithm \"none\" is not ecdsa-p256-sha256");
	head.algorithm = (char *)REGISTRY_HEAD_ALG;
	/* signed_ms is the origin's word: a relay cannot make an old head look fresh. */
	head.signed_ms = 1000;
	assert_int_equal(registry_feed_head_time(&head), 1000);
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	free(head.signature.data);
	free(head.time_signature.data);
	assert_int_equal(registry_feed_sign_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	head.signed_ms = 2000;
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_EINTEGRITY);
	assert_string_equal(why, "time signature of the head of uk.london at entry 6 does not "
	    "verify with the key of its node: its signed_ms was altered");
	/* An older origin's head has no time signature: verified, its time unknown. */
	free(head.time_signature.data);
	head.time_signature.data = NULL;
	head.time_signature.len = 0;
	assert_int_equal(registry_feed_verify_head(key, &head, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(registry_feed_head_time(&head), 0);
	free(head.signature.data);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_head_wrong_key_type(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	Axle__V1__SignedHead head;

	assert_non_null(ed);
	assert_non_null(p384);
	head_of(&head, 0);
	assert_int_equal(registry_feed_sign_head(ed, &head, why, sizeof(why)), REGISTRY_EINVAL);
	assert_string_equal(why, "the node's key is not an EC P-256 key");
	assert_int_equal(registry_feed_sign_head(p384, &head, why, sizeof(why)), REGISTRY_EINVAL);
	assert_null(head.signature.data);
	head.hash.len = 5;
	assert_int_equal(registry_feed_sign_head(NULL, &head, why, sizeof(why)), REGISTRY_EINVAL);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p384);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid_chain, setup),
		cmocka_unit_test_setup(test_modified_content, setup),
		cmocka_unit_test_setup(test_modified_and_rehashed, setup),
		cmocka_unit_test_setup(test_removed, setup),
		cmocka_unit_test_setup(test_reordered, setup),
		cmocka_unit_test_setup(test_repeated, setup),
		cmocka_unit_test_setup(test_hash_covers_fields, setup),
		cmocka_unit_test_setup(test_head_signature, setup),
		cmocka_unit_test_setup(test_head_wrong_key_type, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
