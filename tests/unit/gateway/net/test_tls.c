/* test_tls.c -- mTLS contexts: identities from certificates, and real in-memory handshakes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "tests/unit/cert_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gateway/net/log.h"
#include "gateway/net/tls.h"

#define DAY (24 * 3600L)

/* ---- certificate factory --------------------------------------------- */

/*
 * A certificate for key, signed by issuer/ikey (self-signed when issuer is
 * NULL), valid from now+nb to now+na seconds. san may be NULL.
 */
static X509 *
make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, const char *cn,
    bool ca, const char *san, long serial, long nb, long na)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), nb);
	X509_gmtime_adj(X509_getm_notAfter(c), na);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_pubkey(c, key);
	if (issuer == NULL) {
		issuer = c;
		ikey = key;
	}
	cert_add_ext(c, issuer, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	cert_add_ext(c, issuer, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" :
	    "critical,digitalSignature");
	cert_add_ext(c, issuer, NID_subject_key_identifier, "hash");
	cert_add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
	if (!ca)
		cert_add_ext(c, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
	if (san != NULL)
		cert_add_ext(c, issuer, NID_subject_alt_name, san);
	assert_true(X509_sign(c, ikey, EVP_sha256()) > 0);
	return c;
}

static X509 *
make_leaf(EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey, const char *san,
    long serial)
{
	return make_cert(key, ca, cakey, "leaf", false, san, serial, -3600,
	    30 * DAY);
}

static X509_CRL *
make_crl(X509 *ca, EVP_PKEY *cakey, long revoked_serial)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	assert_non_null(crl);
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, -3600);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 7 * DAY);
	X509_CRL_set1_nextUpdate(crl, t);
	if (revoked_serial > 0) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();

		ASN1_INTEGER_set(sn, revoked_serial);
		X509_REVOKED_set_serialNumber(r, sn);
		X509_gmtime_adj(t, -60);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, cakey, EVP_sha256()) > 0);
	return crl;
}

/* ---- temp files, removed at teardown in reverse order ----------------- */

static char tmpdir[64];
static char *made[64];
static int nmade;

static const char *
tpath(const char *rel)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 512, "%s/%s", tmpdir, rel);
	return p;
}

static void
remember(const char *path)
{
	assert_true(nmade < 64);
	made[nmade++] = strdup(path);
}

static void
mkdir_t(const char *rel)
{
	const char *p = tpath(rel);

	assert_int_equal(mkdir(p, 0700), 0);
	remember(p);
}

static FILE *
open_t(const char *rel, mode_t mode)
{
	const char *p = tpath(rel);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(chmod(p, mode), 0);
	remember(p);
	return f;
}

static void
write_pem(const char *rel, X509 *cert, X509_CRL *crl)
{
	FILE *f = open_t(rel, 0644);

	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (crl != NULL)
		assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
}

static void
write_key(const char *rel, EVP_PKEY *key, mode_t mode)
{
	FILE *f = open_t(rel, mode);

	assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(f);
}

/* ---- the fixture: CAs, CRLs, leaves, trust dirs ------------------------ */

static EVP_PKEY *ka, *kb, *ku, *kleaf;
static X509 *ca_a, *ca_b, *ca_u;

#define SERIAL_REVOKED 66

static void
leaf_file(const char *rel, X509 *ca, EVP_PKEY *cakey, const char *san,
    long serial)
{
	X509 *c = make_leaf(kleaf, ca, cakey, san, serial);

	write_pem(rel, c, NULL);
	X509_free(c);
}

static int
setup(void **state)
{
	X509_CRL *crl;
	X509 *c;

	net_log_set_level(NET_LOG_ERR);	/* refusals are expected below */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/axle-test-tls-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ka = cert_ec_key(), kb = cert_ec_key(), ku = cert_ec_key(), kleaf = cert_ec_key();
	ca_a = make_cert(ka, NULL, NULL, "fame-test CA", true, NULL, 1, -3600,
	    365 * DAY);
	ca_b = make_cert(kb, NULL, NULL, "other-fed CA", true, NULL, 1, -3600,
	    365 * DAY);
	ca_u = make_cert(ku, NULL, NULL, "unknown CA", true, NULL, 1, -3600,
	    365 * DAY);

	mkdir_t("trust");
	mkdir_t("trust/fame-test");
	write_pem("trust/fame-test/ca.pem", ca_a, NULL);
	crl = make_crl(ca_a, ka, SERIAL_REVOKED);
	write_pem("trust/fame-test/crl.pem", NULL, crl);
	X509_CRL_free(crl);
	/* One file with both objects, under a name that is not *.pem. */
	mkdir_t("trust/other-fed");
	crl = make_crl(ca_b, kb, 0);
	write_pem("trust/other-fed/bundle.crt", ca_b, crl);
	X509_CRL_free(crl);

	mkdir_t("nocrl");
	mkdir_t("nocrl/fame-test");
	write_pem("nocrl/fame-test/ca.pem", ca_a, NULL);

	write_key("leaf.key", kleaf, 0600);
	write_key("leaf-0644.key", kleaf, 0644);
	leaf_file("server.pem", ca_a, ka, "URI:axle://fame-test/node/uk.london,"
	    "DNS:localhost,IP:127.0.0.1", 10);
	leaf_file("server-member.pem", ca_a, ka,
	    "URI:axle://fame-test/member/uk.london.x,DNS:localhost", 11);
	leaf_file("client.pem", ca_a, ka,
	    "URI:axle://fame-test/member/uk.london.lewisham", 20);
	leaf_file("client-revoked.pem", ca_a, ka,
	    "URI:axle://fame-test/member/uk.london.gone", SERIAL_REVOKED);
	leaf_file("client-unknown.pem", ca_u, ku,
	    "URI:axle://fame-test/member/uk.london.a", 21);
	leaf_file("client-otherca.pem", ca_b, kb,
	    "URI:axle://fame-test/member/uk.london.b", 22);
	leaf_file("client-otherfed.pem", ca_b, kb,
	    "URI:axle://other-fed/member/fr.paris", 23);
	c = make_cert(kleaf, ca_a, ka, "old", false,
	    "URI:axle://fame-test/member/uk.london.old", 24, -10 * DAY,
	    -1 * DAY);
	write_pem("client-expired.pem", c, NULL);
	X509_free(c);
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	while (nmade > 0) {
		char *p = made[--nmade];

		if (unlink(p) != 0)
			rmdir(p);
		free(p);
	}
	rmdir(tmpdir);
	EVP_PKEY_free(ka), EVP_PKEY_free(kb), EVP_PKEY_free(ku);
	EVP_PKEY_free(kleaf);
	X509_free(ca_a), X509_free(ca_b), X509_free(ca_u);
	(void)state;
	return 0;
}

/* ---- net_tls_cert_identity ---------------------------------------------- */

static void
expect_identity_error(const char *san, bool ca, const char *fed,
    const char *needle)
{
	X509 *c = make_cert(kleaf, ca_a, ka, "t", ca, san, 99, -60, DAY);
	struct net_identity id;
	char err[256] = "";

	assert_int_equal(net_tls_cert_identity(c, fed, &id, err, sizeof(err)),
	    -1);
	if (strstr(err, needle) == NULL)
		fail_msg("san %s: error \"%s\" lacks \"%s\"", san ? san : "-",
		    err, needle);
	assert_string_equal(id.uri, "");	/* nothing half-filled */
	X509_free(c);
}

static void
test_cert_identity_good(void **state)
{
	X509 *c = make_leaf(kleaf, ca_a, ka,
	    "DNS:localhost,URI:axle://fame-test/admin/uk.london/jsmith,"
	    "IP:127.0.0.1", 5);
	struct net_identity id;
	char err[256];

	assert_int_equal(net_tls_cert_identity(c, "fame-test", &id, err,
	    sizeof(err)), 0);
	assert_int_equal(id.role, NET_ROLE_ADMIN);
	assert_string_equal(id.federation, "fame-test");
	assert_string_equal(id.address, "uk.london");
	assert_string_equal(id.user, "jsmith");
	assert_int_equal(net_tls_cert_identity(c, NULL, &id, err, sizeof(err)),
	    0);
	assert_int_equal(net_tls_cert_identity(c, "fame-uk", &id, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "fame-uk"));
	assert_int_equal(net_tls_cert_identity(NULL, NULL, &id, err,
	    sizeof(err)), -1);
	X509_free(c);
	(void)state;
}

static void
test_cert_identity_refusals(void **state)
{
	expect_identity_error("DNS:localhost,IP:10.0.0.1", false, NULL,
	    "no axle:// URI SAN");
	expect_identity_error(NULL, false, NULL, "no axle:// URI SAN");
	expect_identity_error("URI:axle://fame-test/node/uk.london,"
	    "URI:axle://fame-test/node/uk.leeds", false, NULL,
	    "2 URI SANs; exactly one axle:// URI is required");
	expect_identity_error("URI:axle://fame-test/node/uk.london,"
	    "URI:https://example.org/", false, NULL, "2 URI SANs");
	expect_identity_error("URI:http://fame-test/node/uk.london", false,
	    NULL, "not axle://");
	expect_identity_error("URI:AXLE://fame-test/node/uk.london", false,
	    NULL, "not axle://");
	expect_identity_error("URI:axle://fame-test/node/uk.london", true,
	    NULL, "certificate is a CA, not a leaf");
	expect_identity_error("URI:axle://other-fed/node/fr.paris", false,
	    "fame-test", "other-fed");
	/* Whatever identity.c says, a bad role must not pass. */
	expect_identity_error("URI:axle://fame-test/root/uk.london", false,
	    NULL, "");
	expect_identity_error("URI:axle://fame-test/member/uk..london", false,
	    NULL, "");
	(void)state;
}

/* ---- contexts and handshakes ------------------------------------------- */

static struct net_tls_opts
opts_for(const char *cert, const char *trust)
{
	struct net_tls_opts o = {
		.cert_file = strdup(tpath(cert)),
		.key_file = strdup(tpath("leaf.key")),
		.trust_dir = strdup(tpath(trust)),
		.federation = "fame-test",
	};
	return o;
}

static void
opts_free(struct net_tls_opts *o)
{
	free((char *)o->cert_file);
	free((char *)o->key_file);
	free((char *)o->trust_dir);
}

static SSL_CTX *
server_ctx(const char *cert, bool tls12)
{
	struct net_tls_opts o = opts_for(cert, "trust");
	char err[512] = "";
	SSL_CTX *ctx;

	o.allow_tls12 = tls12;
	ctx = net_tls_server_ctx(&o, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("server ctx: %s", err);
	opts_free(&o);
	return ctx;
}

static SSL_CTX *
client_ctx(const char *cert, bool tls12)
{
	struct net_tls_opts o = opts_for(cert, "trust");
	char err[512] = "";
	SSL_CTX *ctx;

	o.allow_tls12 = tls12;
	ctx = net_tls_client_ctx(&o, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("client ctx: %s", err);
	opts_free(&o);
	return ctx;
}

/* Advances one side; returns 1 done, 0 wants more, -1 failed. */
static int
step(SSL *ssl)
{
	int r = SSL_do_handshake(ssl);

	if (r == 1)
		return 1;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		return -1;
	}
}

struct conn {
	SSL *s, *c;
	int srv, cli;	/* 1 done, -1 failed */
};

/* Connects a client SSL of cctx to a server SSL of sctx over a BIO pair. */
static void
handshake(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx, const char *host)
{
	BIO *bs, *bc;

	memset(k, 0, sizeof(*k));
	k->s = SSL_new(sctx);
	k->c = SSL_new(cctx);
	assert_non_null(k->s);
	assert_non_null(k->c);
	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(k->s, bs, bs);
	SSL_set_bio(k->c, bc, bc);
	SSL_set_accept_state(k->s);
	SSL_set_connect_state(k->c);
	if (host != NULL)
		assert_int_equal(net_tls_client_prepare(k->c, host), 0);
	for (int i = 0; i < 50 && k->srv >= 0 && k->cli >= 0 &&
	    !(k->srv == 1 && k->cli == 1); i++) {
		if (k->cli == 0)
			k->cli = step(k->c);
		if (k->srv == 0)
			k->srv = step(k->s);
	}
	ERR_clear_error();
}

static bool
conn_ok(const struct conn *k)
{
	return k->srv == 1 && k->cli == 1;
}

static void
conn_free(struct conn *k)
{
	SSL_free(k->s);
	SSL_free(k->c);
}

/* Application bytes cross k both ways. */
static void
assert_talks(struct conn *k)
{
	char buf[8];

	assert_int_equal(SSL_write(k->c, "ping", 4), 4);
	assert_int_equal(SSL_read(k->s, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(SSL_write(k->s, "pong", 4), 4);
	assert_int_equal(SSL_read(k->c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
}

/*
 * Once the identity is taken the chains go (issue 15: an idle connection
 * keeps no parsed chain); the leaf stays and the connection carries on.
 */
static void
test_shed_chains(void **state)
{
	SSL_CTX *sctx = server_ctx("server.pem", false);
	SSL_CTX *cctx = client_ctx("client.pem", false);
	struct net_identity id;
	char err[256];
	struct conn k;

	handshake(&k, sctx, cctx, "localhost");
	assert_true(conn_ok(&k));
	for (int side = 0; side < 2; side++) {
		SSL *ssl = side ? k.c : k.s;

		assert_int_equal(net_tls_peer_identity(ssl, &id, err, sizeof(err)), 0);
		assert_true(sk_X509_num(SSL_get_peer_cert_chain(ssl)) > 0);
		assert_true(sk_X509_num(SSL_get0_verified_chain(ssl)) > 1);
		net_tls_shed_chains(ssl);
		assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(ssl)), 0);
		assert_int_equal(sk_X509_num(SSL_get0_verified_chain(ssl)), 0);
		assert_non_null(SSL_get0_peer_certificate(ssl));
		net_tls_shed_chains(ssl);	/* twice: nothing left to drop */
	}
	assert_talks(&k);
	conn_free(&k);		/* ASan: no double free, nothing leaked */
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	(void)state;
}

static void
test_handshake_good(void **state)
{
	SSL_CTX *sctx = server_ctx("server.pem", false);
	SSL_CTX *cctx = client_ctx("client.pem", false);
	const char *hosts[] = { "localhost", "127.0.0.1", NULL };
	struct net_identity id;
	char err[256];
	struct conn k;

	for (int i = 0; i < 3; i++) {
		handshake(&k, sctx, cctx, hosts[i]);
		assert_true(conn_ok(&k));
		assert_int_equal(SSL_version(k.s), TLS1_3_VERSION);
		assert_int_equal(net_tls_peer_identity(k.s, &id, err,
		    sizeof(err)), 0);
		assert_int_equal(id.role, NET_ROLE_MEMBER);
		assert_string_equal(id.uri,
		    "axle://fame-test/member/uk.london.lewisham");
		assert_string_equal(id.address, "uk.london.lewisham");
		assert_int_equal(net_tls_peer_identity(k.c, &id, err,
		    sizeof(err)), 0);
		assert_int_equal(id.role, NET_ROLE_NODE);
		assert_string_equal(id.federation, "fame-test");
		assert_string_equal(id.address, "uk.london");
		/* No session to resume: tickets and cache are off. */
		assert_int_equal(SSL_session_reused(k.c), 0);
		conn_free(&k);
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	(void)state;
}

/* A client with cert_file is refused by the server, counted as reason. */
static void
expect_client_refused(const char *cert, enum net_tls_refusal reason)
{
	SSL_CTX *sctx = server_ctx("server.pem", false);
	SSL_CTX *cctx = client_ctx(cert, false);
	unsigned long before = net_tls_refused[reason];
	struct net_identity id;
	char err[256];
	struct conn k;

	handshake(&k, sctx, cctx, "localhost");
	if (k.srv != -1)
		fail_msg("%s: server accepted it", cert);
	assert_int_equal(net_tls_refused[reason], before + 1);
	assert_int_equal(net_tls_peer_identity(k.s, &id, err, sizeof(err)), -1);
	conn_free(&k);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_refuse_unknown_ca(void **state)
{
	expect_client_refused("client-unknown.pem", NET_TLS_REF_UNTRUSTED);
	(void)state;
}

static void
test_refuse_revoked(void **state)
{
	expect_client_refused("client-revoked.pem", NET_TLS_REF_REVOKED);
	(void)state;
}

static void
test_refuse_expired(void **state)
{
	expect_client_refused("client-expired.pem", NET_TLS_REF_EXPIRED);
	(void)state;
}

/* CA "B" is trusted, but only for other-fed: it cannot vouch for fame-test. */
static void
test_refuse_ca_of_other_federation(void **state)
{
	expect_client_refused("client-otherca.pem", NET_TLS_REF_IDENTITY);
	(void)state;
}

/* v1: a node serves only its own federation, even one it trusts. */
static void
test_refuse_other_federation(void **state)
{
	expect_client_refused("client-otherfed.pem", NET_TLS_REF_IDENTITY);
	(void)state;
}

static SSL_CTX *
bare_client_ctx(const unsigned char *alpn, unsigned alen, bool with_cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (alpn != NULL)
		assert_int_equal(SSL_CTX_set_alpn_protos(ctx, alpn, alen), 0);
	if (with_cert) {
		assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx,
		    tpath("client.pem")), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx,
		    tpath("leaf.key"), SSL_FILETYPE_PEM), 1);
	}
	return ctx;
}

static void
no_cert_case(bool tls12)
{
	SSL_CTX *sctx = server_ctx("server.pem", tls12);
	SSL_CTX *cctx = bare_client_ctx((const unsigned char *)"\x02h2", 3,
	    false);
	unsigned long before = net_tls_refused[NET_TLS_REF_NO_CERT];
	struct conn k;

	if (tls12)
		SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	handshake(&k, sctx, cctx, NULL);
	assert_int_equal(k.srv, -1);
	assert_int_equal(net_tls_refused[NET_TLS_REF_NO_CERT], before + 1);
	conn_free(&k);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_refuse_no_client_cert(void **state)
{
	no_cert_case(false);
	no_cert_case(true);
	(void)state;
}

/* The client refuses a server whose identity is not a node, or not host. */
static void
expect_server_refused(const char *cert, const char *host, long verr)
{
	SSL_CTX *sctx = server_ctx(cert, false);
	SSL_CTX *cctx = client_ctx("client.pem", false);
	unsigned long before = net_tls_refused[NET_TLS_REF_IDENTITY];
	struct conn k;

	handshake(&k, sctx, cctx, host);
	assert_int_equal(k.cli, -1);
	assert_int_equal(SSL_get_verify_result(k.c), verr);
	assert_int_equal(net_tls_refused[NET_TLS_REF_IDENTITY], before + 1);
	conn_free(&k);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_client_refuses_server(void **state)
{
	expect_server_refused("server-member.pem", "localhost",
	    X509_V_ERR_APPLICATION_VERIFICATION);
	expect_server_refused("server.pem", "evil.example",
	    X509_V_ERR_HOSTNAME_MISMATCH);
	expect_server_refused("server.pem", "127.0.0.2",
	    X509_V_ERR_IP_ADDRESS_MISMATCH);
	(void)state;
}

static void
test_alpn(void **state)
{
	SSL_CTX *sctx = server_ctx("server.pem", false);
	SSL_CTX *http1 = bare_client_ctx((const unsigned char *)
	    "\x08http/1.1", 9, true);
	SSL_CTX *none = bare_client_ctx(NULL, 0, true);
	unsigned long before = net_tls_refused[NET_TLS_REF_ALPN];
	struct net_identity id;
	char err[256];
	struct conn k;

	handshake(&k, sctx, http1, NULL);
	assert_int_equal(k.srv, -1);
	assert_int_equal(net_tls_refused[NET_TLS_REF_ALPN], before + 1);
	conn_free(&k);
	/* No ALPN at all completes the handshake; the re-check catches it. */
	handshake(&k, sctx, none, NULL);
	assert_true(conn_ok(&k));
	assert_int_equal(net_tls_peer_identity(k.s, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ALPN"));
	assert_int_equal(net_tls_refused[NET_TLS_REF_ALPN], before + 2);
	conn_free(&k);
	SSL_CTX_free(sctx);
	SSL_CTX_free(http1);
	SSL_CTX_free(none);
	(void)state;
}

static void
test_tls12(void **state)
{
	SSL_CTX *strict = server_ctx("server.pem", false);
	SSL_CTX *loose = server_ctx("server.pem", true);
	SSL_CTX *cctx = client_ctx("client.pem", true);
	struct net_identity id;
	char err[256];
	struct conn k;

	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	handshake(&k, strict, cctx, "localhost");
	assert_false(conn_ok(&k));
	conn_free(&k);
	handshake(&k, loose, cctx, "localhost");
	assert_true(conn_ok(&k));
	assert_int_equal(SSL_version(k.s), TLS1_2_VERSION);
	assert_string_equal(SSL_get_cipher_name(k.s),
	    "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_int_equal(net_tls_peer_identity(k.s, &id, err, sizeof(err)), 0);
	assert_string_equal(id.address, "uk.london.lewisham");
	assert_int_equal(net_tls_peer_identity(k.c, &id, err, sizeof(err)), 0);
	assert_string_equal(id.address, "uk.london");
	conn_free(&k);
	SSL_CTX_free(strict);
	SSL_CTX_free(loose);
	SSL_CTX_free(cctx);
	(void)state;
}

/* ---- loading refusals --------------------------------------------------- */

static void
expect_load_error(const char *cert, const char *key, const char *trust,
    const char *needle)
{
	struct net_tls_opts o = opts_for(cert, trust);
	char err[512] = "";

	free((char *)o.key_file);
	o.key_file = strdup(tpath(key));
	assert_null(net_tls_server_ctx(&o, err, sizeof(err)));
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_null(net_tls_client_ctx(&o, err, sizeof(err)));
	assert_non_null(strstr(err, needle));
	opts_free(&o);
	assert_int_equal(ERR_peek_error(), 0);	/* queue left clean */
}

static void
test_load_missing_crl(void **state)
{
	expect_load_error("server.pem", "leaf.key", "nocrl",
	    "nocrl/fame-test");
	expect_load_error("server.pem", "leaf.key", "nocrl", "no CRL");
	(void)state;
}

static void
test_load_key_mode(void **state)
{
	expect_load_error("server.pem", "leaf-0644.key", "trust", "0644");
	expect_load_error("server.pem", "absent.key", "trust", "absent.key");
	(void)state;
}

static void
test_load_bad_trust(void **state)
{
	X509 *leaf = make_leaf(kleaf, ca_a, ka,
	    "URI:axle://fame-test/node/uk.x", 77);
	X509_CRL *crl = make_crl(ca_a, ka, 0);
	FILE *f;

	/* The same CA in two folders would vouch for two federations. */
	mkdir_t("dup");
	mkdir_t("dup/fame-test");
	mkdir_t("dup/fame-two");
	write_pem("dup/fame-test/a.pem", ca_a, crl);
	write_pem("dup/fame-two/a.pem", ca_a, crl);
	expect_load_error("server.pem", "leaf.key", "dup", "in trust folders");
	/* A leaf in a trust folder is not a trust anchor. */
	mkdir_t("leafy");
	mkdir_t("leafy/fame-test");
	write_pem("leafy/fame-test/a.pem", ca_a, crl);
	write_pem("leafy/fame-test/b.pem", leaf, NULL);
	expect_load_error("server.pem", "leaf.key", "leafy", "not a CA");
	/* Garbage in a folder, a folder name that is no federation. */
	mkdir_t("junk");
	mkdir_t("junk/fame-test");
	write_pem("junk/fame-test/a.pem", ca_a, crl);
	f = open_t("junk/fame-test/notes.txt", 0644);
	fputs("hello\n", f);
	fclose(f);
	expect_load_error("server.pem", "leaf.key", "junk", "notes.txt");
	mkdir_t("upper");
	mkdir_t("upper/Fame");
	expect_load_error("server.pem", "leaf.key", "upper", "Fame");
	mkdir_t("empty");
	expect_load_error("server.pem", "leaf.key", "empty", "no trusted CA");
	expect_load_error("server.pem", "leaf.key", "absent", "absent");
	X509_free(leaf);
	X509_CRL_free(crl);
	(void)state;
}

static void
test_refusal_names(void **state)
{
	assert_string_equal(net_tls_refusal_name(NET_TLS_REF_NO_CERT),
	    "no_cert");
	assert_string_equal(net_tls_refusal_name(NET_TLS_REF_REVOKED),
	    "revoked");
	assert_string_equal(net_tls_refusal_name(NET_TLS_REF_OTHER), "other");
	assert_string_equal(net_tls_refusal_name(NET_TLS_REF__COUNT), "unknown");
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_identity_good),
		cmocka_unit_test(test_cert_identity_refusals),
		cmocka_unit_test(test_handshake_good),
		cmocka_unit_test(test_shed_chains),
		cmocka_unit_test(test_refuse_unknown_ca),
		cmocka_unit_test(test_refuse_revoked),
		cmocka_unit_test(test_refuse_expired),
		cmocka_unit_test(test_refuse_ca_of_other_federation),
		cmocka_unit_test(test_refuse_other_federation),
		cmocka_unit_test(test_refuse_no_client_cert),
		cmocka_unit_test(test_client_refuses_server),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_tls12),
		cmocka_unit_test(test_load_missing_crl),
		cmocka_unit_test(test_load_key_mode),
		cmocka_unit_test(test_load_bad_trust),
		cmocka_unit_test(test_refusal_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
