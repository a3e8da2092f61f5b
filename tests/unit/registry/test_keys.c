/* test_keys.c -- keys in the register: what a signing or sealing certificate must be, publishing and withdrawing in LMDB with the feed, the keyring's lookup by address (rotation, expiry, scope, use, revocation, caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/keyring.h"
#include "registry/keys.h"
#include "registry/prefix_index.h"
#include "registry/registrar.h"
#include "reg_harness.h"
#include "tests/unit/cert_harness.h"

#define U(x) AXLE__V1__KEY_USE__KEY_USE_##x
#define S(x) AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_##x
#define DAY (24L * 3600)
#define FED "fame-uk"
#define HUB_URI "axle://fame-uk/member/uk.london.lewisham.hub"

/* --- certificates made here --------------------------------------------------------- */

struct spec {
	const char *ku;		/* keyUsage value, NULL: none */
	const char *eku;	/* extendedKeyUsage value, NULL: none */
	const char *san;	/* subjectAltName value, NULL: none */
	bool ca;
	long nb, na;		/* validity from now, seconds */
	EVP_PKEY *key;		/* NULL: a new P-256 key */
};

/* A certificate to spec signed by a throwaway CA key, as DER (OPENSSL_free it). */
static size_t
make_der(const struct spec *sp, uint8_t **der)
{
	EVP_PKEY *key = sp->key != NULL ? sp->key : cert_ec_key(), *cakey = cert_ec_key();
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	int n;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
	X509_gmtime_adj(X509_getm_notBefore(c), sp->nb);
	X509_gmtime_adj(X509_getm_notAfter(c), sp->na);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"hub",
	    -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, name);
	X509_NAME_free(name);
	X509_set_pubkey(c, key);
	cert_add_ext(c, c, NID_basic_constraints, sp->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (sp->ku != NULL)
		cert_add_ext(c, c, NID_key_usage, sp->ku);
	if (sp->eku != NULL)
		cert_add_ext(c, c, NID_ext_key_usage, sp->eku);
	if (sp->san != NULL)
		cert_add_ext(c, c, NID_subject_alt_name, sp->san);
	assert_true(X509_sign(c, cakey, EVP_sha256()) > 0);
	*der = NULL;
	n = i2d_X509(c, der);
	assert_true(n > 0);
	X509_free(c);
	EVP_PKEY_free(cakey);
	if (sp->key == NULL)
		EVP_PKEY_free(key);
	return (size_t)n;
}

static const struct spec signing = { "critical,digitalSignature", REGISTRY_KEY_OID_SIGNING,
	"URI:" HUB_URI, false, -3600, 30 * DAY, NULL };
static const struct spec sealing = { "critical,keyAgreement", REGISTRY_KEY_OID_SEALING,
	"URI:" HUB_URI, false, -3600, 30 * DAY, NULL };

/* A registrar record holding uk.london.lewisham (not stored). */
static Axle__V1__Registrar *
lewisham(void)
{
	static char *prefixes[] = { (char *)"uk.london.lewisham" };
	static Axle__V1__Registrar r;

	axle__v1__registrar__init(&r);
	r.id = (char *)"lewisham";
	r.region = (char *)"uk.london";
	r.cert_identity = (char *)"axle://fame-uk/member/uk.london.lewisham";
	r.prefixes = prefixes;
	r.n_prefixes = 1;
	r.status = S(ACTIVE);
	return &r;
}

static int64_t
now_ms(void)
{
	return (int64_t)time(NULL) * 1000;
}

/* Checks spec for use against lewisham; returns the rc, reason in why. */
static int
check_spec(const struct spec *sp, Axle__V1__KeyUse use, char *why, size_t len)
{
	Axle__V1__PublishedKey k;
	uint8_t fpr[REGISTRY_KEY_FPR_LEN], *der;
	char id[REGISTRY_KEY_URI_MAX];
	size_t n = make_der(sp, &der);
	int rc = registry_key_cert_check(der, n, use, FED, lewisham(), now_ms(), &k,
	    fpr, id, why, len);

	OPENSSL_free(der);
	return rc;
}

static void
test_cert_accepted(void **state)
{
	Axle__V1__PublishedKey k;
	uint8_t fpr[REGISTRY_KEY_FPR_LEN], want[32], *der;
	char id[REGISTRY_KEY_URI_MAX], why[REGISTRY_REASON_MAX];
	struct spec own = signing;
	size_t n = make_der(&signing, &der);
	unsigned int wl;

	(void)state;
	assert_int_equal(registry_key_cert_check(der, n, U(SIGNING), FED, lewisham(),
	    now_ms(), &k, fpr, id, why, sizeof(why)), REGISTRY_OK);
	assert_int_equal(EVP_Digest(der, n, want, &wl, EVP_sha256(), NULL), 1);
	assert_memory_equal(k.fingerprint.data, want, 32);
	assert_int_equal(k.fingerprint.len, 32);
	assert_string_equal(k.identity, HUB_URI);
	assert_int_equal(k.use, U(SIGNING));
	assert_true(k.not_before_ms <= now_ms() && now_ms() < k.not_after_ms);
	assert_ptr_equal(k.certificate.data, der);
	OPENSSL_free(der);
	assert_int_equal(check_spec(&sealing, U(SEALING), why, sizeof(why)), REGISTRY_OK);
	/* The registrar's own certificate identity is its too. */
	own.san = "URI:axle://fame-uk/member/uk.london.lewisham";
	assert_int_equal(check_spec(&own, U(SIGNING), why, sizeof(why)), REGISTRY_OK);
	/* Trailing bytes after the certificate: not one certificate. */
	n = make_der(&signing, &der);
	{
		uint8_t *longer = malloc(n + 1);

		memcpy(longer, der, n);
		longer[n] = 0;
		assert_int_equal(registry_key_cert_check(longer, n + 1, U(SIGNING), FED,
		    lewisham(), now_ms(), &k, fpr, id, why, sizeof(why)), REGISTRY_EINVAL);
		free(longer);
	}
	OPENSSL_free(der);
}

static void
test_cert_refused(void **state)
{
	char why[REGISTRY_REASON_MAX];
	struct spec s;
	EVP_PKEY *rsa;

	(void)state;
	/* A TLS certificate, for either use. */
	s = signing;
	s.eku = "clientAuth";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "TLS certificate"));
	s.eku = "serverAuth," REGISTRY_KEY_OID_SIGNING;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "TLS"));
	/* The other use's certificate, and no EKU at all. */
	assert_int_equal(check_spec(&sealing, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "envelope-signing"));
	assert_int_equal(check_spec(&signing, U(SEALING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "payload-sealing"));
	s = signing;
	s.eku = NULL;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	/* Key usage: sealing is keyAgreement only; signing needs digitalSignature. */
	s = sealing;
	s.ku = "critical,keyAgreement,digitalSignature";
	assert_int_equal(check_spec(&s, U(SEALING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "keyAgreement and nothing else"));
	s = signing;
	s.ku = "critical,keyAgreement";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "digitalSignature"));
	/* Validity. */
	s = signing;
	s.nb = -2 * DAY;
	s.na = -DAY;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "expired"));
	s.nb = DAY;
	s.na = 2 * DAY;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "not valid yet"));
	/* A CA; no URI; two URIs. */
	s = signing;
	s.ca = true;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	s = signing;
	s.san = NULL;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	s.san = "URI:" HUB_URI ",URI:axle://fame-uk/member/uk.london.lewisham.b";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	/* Another registrar's hub, another federation, a node's identity. */
	s = signing;
	s.san = "URI:axle://fame-uk/member/uk.london.camden.hub";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EPERM);
	assert_non_null(strstr(why, "not registrar lewisham's"));
	s.san = "URI:axle://other-fed/member/uk.london.lewisham.hub";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EPERM);
	s.san = "URI:axle://fame-uk/node/uk.london.lewisham";
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EPERM);
	/* Not EC P-256. */
	s = signing;
	rsa = EVP_RSA_gen(2048);
	assert_non_null(rsa);
	s.key = rsa;
	assert_int_equal(check_spec(&s, U(SIGNING), why, sizeof(why)), REGISTRY_EINVAL);
	assert_non_null(strstr(why, "P-256"));
	EVP_PKEY_free(rsa);
	/* Use, garbage, size. */
	assert_int_equal(check_spec(&signing, U(UNSPECIFIED), why, sizeof(why)), REGISTRY_EINVAL);
	{
		Axle__V1__PublishedKey k;
		uint8_t fpr[32], junk[8] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
		char id[REGISTRY_KEY_URI_MAX];

		assert_int_equal(registry_key_cert_check(junk, 5, U(SIGNING), FED,
		    lewisham(), now_ms(), &k, fpr, id, why, sizeof(why)), REGISTRY_EINVAL);
		assert_int_equal(registry_key_cert_check(junk, REGISTRY_KEY_CERT_MAX + 1,
		    U(SIGNING), FED, lewisham(), now_ms(), &k, fpr, id, why,
		    sizeof(why)), REGISTRY_EINVAL);
	}
}

static void
test_scope(void **state)
{
	char folded[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX];

	(void)state;
	assert_int_equal(registry_key_scope_check(lewisham(), "", folded, why,
	    sizeof(why)), REGISTRY_OK);
	assert_string_equal(folded, "");
	assert_int_equal(registry_key_scope_check(lewisham(), "UK.London.Lewisham.Social",
	    folded, why, sizeof(why)), REGISTRY_OK);
	assert_string_equal(folded, "uk.london.lewisham.social");
	assert_int_equal(registry_key_scope_check(lewisham(), "uk.london.lewishamx",
	    folded, why, sizeof(why)), REGISTRY_EPERM);
	assert_int_equal(registry_key_scope_check(lewisham(), "uk..x", folded, why,
	    sizeof(why)), REGISTRY_EINVAL);
}

/* --- the keyring ----------------------------------------------------------------------- */

static uint8_t fprs[24][32];

static void
key_init(Axle__V1__PublishedKey *k, int i, Axle__V1__KeyUse use, int64_t pub,
    int64_t nb, int64_t na, const char *scope)
{
	axle__v1__published_key__init(k);
	memset(fprs[i], i + 1, 32);
	k->use = use;
	k->fingerprint.data = fprs[i];
	k->fingerprint.len = 32;
	k->certificate.data = fprs[i];
	k->certificate.len = 32;
	k->published_ms = pub;
	k->not_before_ms = nb;
	k->not_after_ms = na;
	k->scope = (char *)scope;
	k->identity = (char *)HUB_URI;
}

static void
test_keyring_find(void **state)
{
	struct registry_index *idx = registry_index_new(0);
	struct registry_keyring *kr = registry_keyring_new();
	Axle__V1__Registrar r = *lewisham();
	Axle__V1__PublishedKey k[5], *kp[5] = { &k[0], &k[1], &k[2], &k[3], &k[4] };
	struct registry_key_answer a;
	int64_t t = 1000000;

	(void)state;
	assert_non_null(idx);
	assert_non_null(kr);
	key_init(&k[0], 0, U(SIGNING), 10, 0, 2 * t, "");		/* old */
	key_init(&k[1], 1, U(SIGNING), 20, 0, 3 * t, "");		/* rotation: new */
	key_init(&k[2], 2, U(SIGNING), 30, 0, t / 2, "");		/* expired at t */
	key_init(&k[3], 3, U(SEALING), 40, 0, 3 * t, "uk.london.lewisham.social");
	key_init(&k[4], 4, U(SIGNING), 50, 2 * t, 3 * t, "");	/* not yet valid at t */
	r.keys = kp;
	r.n_keys = 5;
	assert_int_equal(registry_index_apply(idx, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_registrars(kr), 1);
	assert_int_equal(registry_keyring_keys(kr), 5);

	/* Rotation overlap: both valid, newest first; expired and future left out. */
	assert_true(registry_keys_find(kr, idx, "uk.london.lewisham.social", U(SIGNING), t, &a));
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.keys[0]->fingerprint.data, fprs[1], 32);
	assert_memory_equal(a.keys[1]->fingerprint.data, fprs[0], 32);
	assert_string_equal(a.registrar_id, "lewisham");
	assert_string_equal(a.region, "uk.london");
	/* Scope: the sealing key only under uk.london.lewisham.social. */
	assert_true(registry_keys_find(kr, idx, "uk.london.lewisham.social.team", U(SEALING), t, &a));
	assert_int_equal(a.n, 1);
	assert_false(registry_keys_find(kr, idx, "uk.london.lewisham.schools", U(SEALING), t, &a));
	assert_non_null(strstr(a.reason, "valid now"));
	/* Both uses. */
	assert_true(registry_keys_find(kr, idx, "uk.london.lewisham.social", U(UNSPECIFIED), t, &a));
	assert_int_equal(a.n, 3);
	/* Later: the old key expired, the future one valid. */
	assert_true(registry_keys_find(kr, idx, "uk.london.lewisham", U(SIGNING), 2 * t + 1, &a));
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.keys[0]->fingerprint.data, fprs[4], 32);
	assert_memory_equal(a.keys[1]->fingerprint.data, fprs[1], 32);
	/* Nothing covers it. */
	assert_false(registry_keys_find(kr, idx, "uk.leeds", U(SIGNING), t, &a));
	assert_null(a.registrar_id);
	assert_non_null(strstr(a.reason, "no registrar"));

	/* Withdrawal: the record without the old key. */
	kp[0] = &k[1];
	r.keys = kp;
	r.n_keys = 1;
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_keys(kr), 1);
	assert_true(registry_keys_find(kr, idx, "uk.london.lewisham", U(SIGNING), t, &a));
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.keys[0]->fingerprint.data, fprs[1], 32);
	assert_false(registry_keys_find(kr, idx, "uk.london.lewisham", U(SEALING), t, &a));
	assert_non_null(strstr(a.reason, "publishes no sealing key"));

	/* Revoked: none, with the reason, whatever it publishes. */
	r.status = S(REVOKED);
	assert_int_equal(registry_index_apply(idx, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	assert_false(registry_keys_find(kr, idx, "uk.london.lewisham", U(SIGNING), t, &a));
	assert_non_null(strstr(a.reason, "revoked"));

	/* No keys left: the registrar leaves the keyring. */
	r.n_keys = 0;
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_registrars(kr), 0);
	assert_int_equal(registry_keyring_keys(kr), 0);
	r.id = (char *)"";
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_EINVAL);
	registry_keyring_free(kr);
	registry_index_free(idx);
}

static void
test_keyring_caps_and_grows(void **state)
{
	struct registry_keyring *kr = registry_keyring_new();
	Axle__V1__PublishedKey k[20], *kp[20];
	Axle__V1__Registrar r = *lewisham();
	char ids[200][16];

	(void)state;
	for (int i = 0; i < 20; i++) {
		key_init(&k[i], i, U(SIGNING), i, 0, 1000, "");
		kp[i] = &k[i];
	}
	r.keys = kp;
	r.n_keys = 20;		/* a mirrored record beyond the cap */
	assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	assert_int_equal(registry_keyring_keys(kr), REGISTRY_KEYS_MAX);
	/* Many registrars: the table grows and every one is still found. */
	r.n_keys = 1;
	for (int i = 0; i < 200; i++) {
		snprintf(ids[i], sizeof(ids[i]), "reg%d", i);
		r.id = ids[i];
		assert_int_equal(registry_keyring_apply(kr, &r), REGISTRY_OK);
	}
	assert_int_equal(registry_keyring_registrars(kr), 201);
	assert_int_equal(registry_keyring_keys(kr), REGISTRY_KEYS_MAX + 200);
	registry_keyring_free(kr);
	registry_keyring_free(NULL);
}

/* --- in LMDB, with the feed ------------------------------------------------------------ */

static struct node n;

static int
setup(void **state)
{
	(void)state;
	node_open(&n, "uk.london");
	assert_int_equal(node_delegate(&n, "lewisham", "uk.london.lewisham"), REGISTRY_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	node_close(&n);
	return 0;
}

static int
publish(Axle__V1__PublishedKey *k, Axle__V1__Registrar **out)
{
	int rc;

	node_begin(&n);
	rc = registry_db_publish_key(n.txn, &n.db, &test_admin, "lewisham", k, out, &n.res);
	if (rc == REGISTRY_OK)
		node_commit(&n);
	else
		node_abort(&n);
	return rc;
}

static int
withdraw(int i, Axle__V1__Registrar **out)
{
	int rc;

	node_begin(&n);
	rc = registry_db_withdraw_key(n.txn, &n.db, &test_admin, "lewisham", fprs[i], 32,
	    "rotated", out, &n.res);
	if (rc == REGISTRY_OK)
		node_commit(&n);
	else
		node_abort(&n);
	return rc;
}

/* The last feed entry's change and detail. */
static Axle__V1__FeedChange
last_change(char *detail, size_t len)
{
	Axle__V1__FeedEntry **e;
	size_t cnt;
	MDB_txn *txn;
	Axle__V1__FeedChange c;

	assert_int_equal(mdb_txn_begin(n.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(registry_db_feed_read(txn, &n.db, n.res.feed_seq - 1, 1, &e,
	    &cnt, &n.res), REGISTRY_OK);
	mdb_txn_abort(txn);
	assert_int_equal(cnt, 1);
	c = e[0]->change;
	snprintf(detail, len, "%s", e[0]->detail);
	registry_feed_entries_free(e, cnt);
	return c;
}

static void
test_db_publish_withdraw(void **state)
{
	Axle__V1__PublishedKey k[REGISTRY_KEYS_MAX + 1];
	Axle__V1__Registrar *out;
	char detail[256];

	(void)state;
	key_init(&k[0], 0, U(SIGNING), 0, 0, 1000, "UK.London.Lewisham.Social");
	assert_int_equal(publish(&k[0], &out), REGISTRY_OK);
	assert_int_equal(out->n_keys, 1);
	assert_string_equal(out->keys[0]->scope, "uk.london.lewisham.social");	/* folded */
	assert_int_equal(out->keys[0]->published_ms, test_admin.at_ms);
	assert_int_equal(out->version, 2);
	pb_free(&out->base);
	assert_int_equal(last_change(detail, sizeof(detail)),
	    AXLE__V1__FEED_CHANGE__FEED_CHANGE_KEY_PUBLISHED);
	assert_non_null(strstr(detail, "signing key 0101"));
	/* The same fingerprint again replaces it (its scope). */
	k[0].scope = (char *)"";
	assert_int_equal(publish(&k[0], &out), REGISTRY_OK);
	assert_int_equal(out->n_keys, 1);
	assert_string_equal(out->keys[0]->scope, "");
	pb_free(&out->base);
	/* Up to the cap, then refused. */
	for (int i = 1; i < REGISTRY_KEYS_MAX; i++) {
		key_init(&k[i], i, U(SEALING), 0, 0, 1000, "");
		assert_int_equal(publish(&k[i], NULL), REGISTRY_OK);
	}
	key_init(&k[REGISTRY_KEYS_MAX], REGISTRY_KEYS_MAX, U(SIGNING), 0, 0, 1000, "");
	assert_int_equal(publish(&k[REGISTRY_KEYS_MAX], NULL), REGISTRY_ENOMEM);
	assert_non_null(strstr(n.res.reason, "withdraw one first"));
	/* Withdraw one: room again; the feed says which. */
	assert_int_equal(withdraw(3, &out), REGISTRY_OK);
	assert_int_equal(out->n_keys, REGISTRY_KEYS_MAX - 1);
	assert_int_equal(registry_registrar_key_index(out, fprs[3], 32), -1);
	pb_free(&out->base);
	assert_int_equal(last_change(detail, sizeof(detail)),
	    AXLE__V1__FEED_CHANGE__FEED_CHANGE_KEY_WITHDRAWN);
	assert_non_null(strstr(detail, "04040404"));
	assert_non_null(strstr(detail, "rotated"));
	assert_int_equal(publish(&k[REGISTRY_KEYS_MAX], NULL), REGISTRY_OK);
	assert_int_equal(withdraw(3, NULL), REGISTRY_ENOTFOUND);
	/* Refusals: scope outside, bad key, unknown registrar, bad fingerprint. */
	k[1].scope = (char *)"uk.london.camden";
	assert_int_equal(publish(&k[1], NULL), REGISTRY_EPERM);
	k[1].scope = (char *)"";
	k[1].fingerprint.len = 31;
	assert_int_equal(publish(&k[1], NULL), REGISTRY_EINVAL);
	node_begin(&n);
	assert_int_equal(registry_db_publish_key(n.txn, &n.db, &test_admin, "nobody",
	    &k[0], NULL, &n.res), REGISTRY_ENOTFOUND);
	assert_int_equal(registry_db_withdraw_key(n.txn, &n.db, &test_admin, "lewisham",
	    fprs[0], 31, NULL, NULL, &n.res), REGISTRY_EINVAL);
	node_abort(&n);
	/* A revoked registrar publishes nothing, but may still tidy. */
	assert_int_equal(node_set_status(&n, "lewisham", S(REVOKED)), REGISTRY_OK);
	k[1].fingerprint.len = 32;
	k[5].scope = (char *)"";
	assert_int_equal(withdraw(5, NULL), REGISTRY_OK);
	assert_int_equal(publish(&k[5], NULL), REGISTRY_EPRECOND);
	assert_non_null(strstr(n.res.reason, "revoked"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_accepted),
		cmocka_unit_test(test_cert_refused),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_keyring_find),
		cmocka_unit_test(test_keyring_caps_and_grows),
		cmocka_unit_test_setup_teardown(test_db_publish_withdraw, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
