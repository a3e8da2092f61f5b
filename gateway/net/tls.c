/* tls.c -- mTLS contexts that fail closed: trust folders per federation, URI identities. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gateway/net/log.h"
#include "gateway/net/tls.h"
#include "proto/text.h"

#define TLS_KEY_MAX	(64 * 1024)	/* a PEM private key is a few KiB at most */
#define TLS_VERIFY_DEPTH 8
#define TLS_HOST_MAX	255	/* a DNS name or an IP literal */

/* TLS 1.2 only with forward secrecy and AEAD; TLS 1.3 suites are all AEAD. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

static const unsigned char alpn_h2[] = { 2, 'h', '2' };

unsigned long net_tls_refused[NET_TLS_REF__COUNT];

/* One trusted CA certificate and the federation folder it came from. */
struct tls_anchor {
	X509 *cert;
	char fed[NET_FED_MAX + 1];
};

/* Hung on each SSL_CTX (ex_data), freed with it. */
struct tls_ctx_data {
	bool server;
	char federation[NET_FED_MAX + 1];
	struct tls_anchor *anchors;
	size_t nanchors, cap;
};

static int ctx_data_idx = -1;
static pthread_once_t ctx_data_once = PTHREAD_ONCE_INIT;

/* The most recent OpenSSL error as text, and an empty queue afterwards. */
static const char *
tls_ossl_reason(char *buf, size_t buflen)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, buflen, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, buflen);
	ERR_clear_error();
	return buf;
}

static void
ctx_data_free(struct tls_ctx_data *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nanchors; i++)
		X509_free(d->anchors[i].cert);
	free(d->anchors);
	free(d);
}

static void
ctx_data_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	ctx_data_free(ptr);
}

static void
ctx_data_init(void)
{
	ctx_data_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    ctx_data_exfree);
}

static struct tls_ctx_data *
ctx_data_get(const SSL_CTX *ctx)
{
	if (ctx == NULL || ctx_data_idx < 0)
		return NULL;
	return SSL_CTX_get_ex_data(ctx, ctx_data_idx);
}

const char *
net_tls_refusal_name(enum net_tls_refusal r)
{
	switch (r) {
	case NET_TLS_REF_NO_CERT:	return "no_cert";
	case NET_TLS_REF_UNTRUSTED:	return "untrusted";
	case NET_TLS_REF_EXPIRED:	return "expired";
	case NET_TLS_REF_REVOKED:	return "revoked";
	case NET_TLS_REF_IDENTITY:	return "identity";
	case NET_TLS_REF_ALPN:		return "alpn";
	case NET_TLS_REF_OTHER:		return "other";
	case NET_TLS_REF__COUNT:		break;
	}
	return "unknown";
}

static void
tls_count(enum net_tls_refusal r)
{
	if ((unsigned)r < NET_TLS_REF__COUNT)
		net_tls_refused[r]++;
}

/* ---- identity from a certificate ------------------------------------- */

/* Counts the URI SANs; *first is the first, valid while *names lives.
 * Returns -1 on a certificate with several SAN extensions. */
static int
tls_uri_sans(X509 *leaf, GENERAL_NAMES **names, const ASN1_IA5STRING **first)
{
	int crit = -1, n = 0;

	*first = NULL;
	*names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (*names == NULL)
		return crit == -2 ? -1 : 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(*names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(*names, i);

		if (gn->type != GEN_URI)
			continue;
		if (n++ == 0)
			*first = gn->d.uniformResourceIdentifier;
	}
	return n;
}

/* Checks the one URI's scheme and parses it; fed as in the header. */
static int
tls_parse_uri(const ASN1_IA5STRING *uri, const char *fed,
    struct net_identity *out, char *err, size_t errlen)
{
	const char *s = (const char *)ASN1_STRING_get0_data(uri);
	int len = ASN1_STRING_length(uri);
	char q[NET_URI_MAX + 8];

	if (len < 7 || strncmp(s, "axle://", 7) != 0) {
		axle_seterr(err, errlen, "URI SAN is not axle://: %s",
		    net_log_quote(q, sizeof(q), s, (size_t)len));
		return -1;
	}
	if (memchr(s, '\0', (size_t)len) != NULL) {
		axle_seterr(err, errlen, "URI SAN contains a NUL byte");
		return -1;
	}
	if (net_identity_parse_uri(s, (size_t)len, out, err, errlen) != 0)
		return -1;
	if (fed != NULL && strcmp(out->federation, fed) != 0) {
		axle_seterr(err, errlen, "identity %s names federation %s, "
		    "expected %s", out->uri, out->federation, fed);
		return -1;
	}
	return 0;
}

int
net_tls_cert_identity(X509 *leaf, const char *fed, struct net_identity *out,
    char *err, size_t errlen)
{
	const ASN1_IA5STRING *uri;
	GENERAL_NAMES *names;
	int n, rc = -1;

	memset(out, 0, sizeof(*out));
	if (leaf == NULL) {
		axle_seterr(err, errlen, "no certificate");
		return -1;
	}
	if (X509_check_ca(leaf) != 0) {
		axle_seterr(err, errlen, "certificate is a CA, not a leaf");
		return -1;
	}
	n = tls_uri_sans(leaf, &names, &uri);
	if (n < 0)
		axle_seterr(err, errlen, "several subjectAltName extensions");
	else if (n == 0)
		axle_seterr(err, errlen, "no axle:// URI SAN");
	else if (n > 1)
		axle_seterr(err, errlen,
		    "%d URI SANs; exactly one axle:// URI is required", n);
	else
		rc = tls_parse_uri(uri, fed, out, err, errlen);
	GENERAL_NAMES_free(names);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- the verify policy, shared by the callback and peer_identity ----- */

static const char *
anchor_fed(const struct tls_ctx_data *d, X509 *root)
{
	for (size_t i = 0; i < d->nanchors; i++)
		if (X509_cmp(d->anchors[i].cert, root) == 0)
			return d->anchors[i].fed;
	return NULL;
}

X509 *
net_tls_anchor(SSL_CTX *ctx, size_t i, const char **fed)
{
	const struct tls_ctx_data *d = ctx_data_get(ctx);

	if (d == NULL || i >= d->nanchors)
		return NULL;
	*fed = d->anchors[i].fed;
	return d->anchors[i].cert;
}

/*
 * The leaf's identity must belong to the federation of the trust folder its
 * chain ends in; a server accepts only its own federation (v1), and a
 * client talks only to nodes of its own federation.
 */
static int
tls_chain_identity(const struct tls_ctx_data *d, STACK_OF(X509) *chain,
    struct net_identity *out, char *err, size_t errlen)
{
	const char *fed;
	int n = chain == NULL ? 0 : sk_X509_num(chain);

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		axle_seterr(err, errlen, "no verified chain");
		return -1;
	}
	fed = anchor_fed(d, sk_X509_value(chain, n - 1));
	if (fed == NULL) {
		axle_seterr(err, errlen, "chain ends in a CA of no trust folder");
		return -1;
	}
	if (net_tls_cert_identity(sk_X509_value(chain, 0), fed, out, err,
	    errlen) != 0)
		return -1;
	if (strcmp(out->federation, d->federation) != 0) {
		axle_seterr(err, errlen, "identity %s is of federation %s; "
		    "this node serves only %s", out->uri, out->federation,
		    d->federation);
		goto fail;
	}
	if (!d->server && out->role != NET_ROLE_NODE) {
		axle_seterr(err, errlen, "server identity %s is not a node",
		    out->uri);
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

static enum net_tls_refusal
tls_refusal_of(int xerr)
{
	switch (xerr) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return NET_TLS_REF_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return NET_TLS_REF_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_CERT_REJECTED:
		return NET_TLS_REF_UNTRUSTED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
	case X509_V_ERR_APPLICATION_VERIFICATION:
		return NET_TLS_REF_IDENTITY;
	default:
		return NET_TLS_REF_OTHER;
	}
}

static void
tls_log_refusal(X509_STORE_CTX *xs, int xerr, const char *why)
{
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);
	char subj[256] = "", q[300], w[300];

	if (cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subj,
		    sizeof(subj));
	net_log(NET_LOG_WARN, "tls_verify_failed",
	    "depth=%d error=%d reason=%s subject=%s refusal=%s",
	    X509_STORE_CTX_get_error_depth(xs), xerr,
	    net_log_quote(w, sizeof(w), why, strlen(why)),
	    net_log_quote(q, sizeof(q), subj, strlen(subj)),
	    net_tls_refusal_name(tls_refusal_of(xerr)));
}

static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct tls_ctx_data *d;
	struct net_identity id;
	char why[256];
	int xerr;

	if (!ok) {
		xerr = X509_STORE_CTX_get_error(xs);
		tls_log_refusal(xs, xerr, X509_verify_cert_error_string(xerr));
		tls_count(tls_refusal_of(xerr));
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(xs) != 0)
		return 1;
	d = ssl == NULL ? NULL : ctx_data_get(SSL_get_SSL_CTX(ssl));
	if (d == NULL) {
		snprintf(why, sizeof(why), "no axle TLS context");
	} else if (tls_chain_identity(d, X509_STORE_CTX_get0_chain(xs), &id,
	    why, sizeof(why)) == 0) {
		return 1;
	}
	X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	tls_log_refusal(xs, X509_V_ERR_APPLICATION_VERIFICATION, why);
	tls_count(NET_TLS_REF_IDENTITY);
	return 0;
}

/*
 * A missing client certificate never reaches the verify callback; the
 * server notices it while sending the alert, with the reason still queued.
 */
static void
tls_info_cb(const SSL *ssl, int where, int ret)
{
	unsigned long e;

	if (!(where & SSL_CB_WRITE_ALERT) || !SSL_is_server(ssl))
		return;
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		net_log(NET_LOG_WARN, "tls_verify_failed",
		    "depth=0 reason=\"no client certificate\" refusal=%s",
		    net_tls_refusal_name(NET_TLS_REF_NO_CERT));
		tls_count(NET_TLS_REF_NO_CERT);
	}
}

static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2",
		    2) == 0) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	net_log(NET_LOG_WARN, "tls_alpn_refused", "reason=\"client does not "
	    "offer h2\" refusal=%s", net_tls_refusal_name(NET_TLS_REF_ALPN));
	tls_count(NET_TLS_REF_ALPN);
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- the trust directory --------------------------------------------- */

/* dir/name into path; -1 (with err) if it does not fit. */
static int
tls_join(char *path, size_t size, const char *dir, const char *name,
    char *err, size_t errlen)
{
	int n = snprintf(path, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		axle_seterr(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	return 0;
}

static bool
tls_fed_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NET_FED_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int
anchor_add(struct tls_ctx_data *d, X509 *cert, const char *fed, char *err,
    size_t errlen)
{
	const char *prev = anchor_fed(d, cert);
	struct tls_anchor *a;

	if (prev != NULL && strcmp(prev, fed) != 0) {
		axle_seterr(err, errlen, "the same CA certificate is in trust "
		    "folders %s and %s; a CA vouches for one federation", prev,
		    fed);
		return -1;
	}
	if (prev != NULL)
		return 0;
	if (d->nanchors == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;

		a = realloc(d->anchors, cap * sizeof(*a));
		if (a == NULL) {
			axle_seterr(err, errlen, "out of memory");
			return -1;
		}
		d->anchors = a;
		d->cap = cap;
	}
	if (!X509_up_ref(cert)) {
		axle_seterr(err, errlen, "out of memory");
		return -1;
	}
	a = &d->anchors[d->nanchors++];
	a->cert = cert;
	snprintf(a->fed, sizeof(a->fed), "%.*s", NET_FED_MAX, fed);
	return 0;
}

/* What one federation folder held, to check every CA has its CRL. */
struct tls_folder {
	STACK_OF(X509) *cas;
	STACK_OF(X509_CRL) *crls;
};

static int
tls_load_info(X509_STORE *st, struct tls_folder *f, X509_INFO *xi,
    const char *path, char *err, size_t errlen)
{
	char ebuf[256];

	if (xi->x509 != NULL) {
		if (X509_check_ca(xi->x509) == 0) {
			axle_seterr(err, errlen, "%s: a certificate that is not a "
			    "CA; trust folders hold CA certificates only", path);
			return -1;
		}
		if (!X509_STORE_add_cert(st, xi->x509) ||
		    !sk_X509_push(f->cas, xi->x509) ||
		    !X509_up_ref(xi->x509))
			goto ossl;
	}
	if (xi->crl != NULL) {
		if (!X509_STORE_add_crl(st, xi->crl) ||
		    !sk_X509_CRL_push(f->crls, xi->crl) ||
		    !X509_CRL_up_ref(xi->crl))
			goto ossl;
	}
	return 0;
ossl:
	axle_seterr(err, errlen, "%s: %s", path, tls_ossl_reason(ebuf,
	    sizeof(ebuf)));
	return -1;
}

static int
tls_load_file(X509_STORE *st, struct tls_folder *f, const char *path,
    char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos;
	char ebuf[256];
	BIO *bio;
	int rc = 0, n;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		axle_seterr(err, errlen, "%s: %s", path, tls_ossl_reason(ebuf,
		    sizeof(ebuf)));
		return -1;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (infos == NULL) {
		axle_seterr(err, errlen, "%s: not PEM certificates or CRLs: %s",
		    path, tls_ossl_reason(ebuf, sizeof(ebuf)));
		return -1;
	}
	n = sk_X509_INFO_num(infos);
	for (int i = 0; i < n && rc == 0; i++)
		rc = tls_load_info(st, f, sk_X509_INFO_value(infos, i), path,
		    err, errlen);
	if (rc == 0 && n == 0) {
		axle_seterr(err, errlen, "%s: no certificate or CRL in it", path);
		rc = -1;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return rc;
}

/* Every CA in the folder needs a CRL it issued, or CRL_CHECK_ALL refuses
 * everything it signed: better to say so at load time, naming the folder. */
static int
tls_folder_check(struct tls_folder *f, const char *dir, char *err,
    size_t errlen)
{
	for (int i = 0; i < sk_X509_num(f->cas); i++) {
		X509 *ca = sk_X509_value(f->cas, i);
		bool found = false;
		char subj[256];

		for (int j = 0; j < sk_X509_CRL_num(f->crls) && !found; j++)
			found = X509_NAME_cmp(X509_get_subject_name(ca),
			    X509_CRL_get_issuer(sk_X509_CRL_value(f->crls,
			    j))) == 0;
		if (!found) {
			X509_NAME_oneline(X509_get_subject_name(ca), subj,
			    sizeof(subj));
			axle_seterr(err, errlen, "trust folder %s: no CRL issued by "
			    "CA %s; every federation folder needs its CA's CRL",
			    dir, subj);
			return -1;
		}
	}
	return 0;
}

static int
tls_load_folder(X509_STORE *st, struct tls_ctx_data *d, const char *dir,
    const char *fed, char *err, size_t errlen)
{
	struct tls_folder f = { sk_X509_new_null(), sk_X509_CRL_new_null() };
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *dp;
	int rc = -1;

	if (f.cas == NULL || f.crls == NULL) {
		axle_seterr(err, errlen, "out of memory");
		goto out;
	}
	if ((dp = opendir(dir)) == NULL) {
		axle_seterr(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((rc = tls_join(path, sizeof(path), dir, de->d_name, err,
		    errlen)) != 0)
			break;
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		rc = tls_load_file(st, &f, path, err, errlen);
	}
	closedir(dp);
	for (int i = 0; rc == 0 && i < sk_X509_num(f.cas); i++)
		rc = anchor_add(d, sk_X509_value(f.cas, i), fed, err, errlen);
	if (rc == 0)
		rc = tls_folder_check(&f, dir, err, errlen);
	if (rc == 0 && sk_X509_num(f.cas) == 0)
		net_log(NET_LOG_WARN, "tls_trust_empty", "folder=%s "
		    "reason=\"no CA certificate; federation not trusted\"",
		    fed);
out:
	sk_X509_pop_free(f.cas, X509_free);
	sk_X509_CRL_pop_free(f.crls, X509_CRL_free);
	return rc;
}

static X509_STORE *
tls_load_trust(const char *trust_dir, struct tls_ctx_data *d, char *err,
    size_t errlen)
{
	X509_STORE *st;
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *dp;
	int rc = 0;

	if ((st = X509_STORE_new()) == NULL) {
		axle_seterr(err, errlen, "out of memory");
		return NULL;
	}
	if ((dp = opendir(trust_dir)) == NULL) {
		axle_seterr(err, errlen, "trust_dir %s: %s", trust_dir,
		    strerror(errno));
		X509_STORE_free(st);
		return NULL;
	}
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((rc = tls_join(path, sizeof(path), trust_dir, de->d_name,
		    err, errlen)) != 0)
			break;
		if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			/* A loose file grants no trust; say so, do not fail. */
			net_log(NET_LOG_WARN, "tls_trust_ignored", "path=%s "
			    "reason=\"not a federation folder\"", path);
			continue;
		}
		if (!tls_fed_name_ok(de->d_name)) {
			axle_seterr(err, errlen, "trust folder %s: the name is not "
			    "a federation name (one label of [a-z0-9-])", path);
			rc = -1;
			break;
		}
		rc = tls_load_folder(st, d, path, de->d_name, err, errlen);
	}
	closedir(dp);
	if (rc == 0 && d->nanchors == 0) {
		axle_seterr(err, errlen, "trust_dir %s: no trusted CA in any "
		    "federation folder", trust_dir);
		rc = -1;
	}
	if (rc != 0) {
		X509_STORE_free(st);
		return NULL;
	}
	/* Revocation on the whole chain; never partial-chain trust. */
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
	    X509_V_FLAG_CRL_CHECK_ALL);
	X509_STORE_set_depth(st, TLS_VERIFY_DEPTH);
	return st;
}

/* ---- our own certificate and key ------------------------------------- */

static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;	/* an encrypted key cannot be unlocked unattended */
}

/* Reads the key ourselves: the mode check is on the file we actually read,
 * and the buffer holding the key is wiped once OpenSSL has parsed it. */
static EVP_PKEY *
tls_read_key(const char *path, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	EVP_PKEY *pk = NULL;
	char ebuf[256];
	struct stat sb;
	size_t len = 0;
	ssize_t r;
	BIO *bio;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		axle_seterr(err, errlen, "key %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		axle_seterr(err, errlen, "key %s: not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 077) {
		axle_seterr(err, errlen, "key %s: mode %04o is open to group or "
		    "others; chmod 600 it", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size <= 0 || sb.st_size > TLS_KEY_MAX ||
	    (buf = malloc((size_t)sb.st_size)) == NULL) {
		axle_seterr(err, errlen, "key %s: empty, too large or out of "
		    "memory", path);
		goto out;
	}
	while (len < (size_t)sb.st_size &&
	    (r = read(fd, buf + len, (size_t)sb.st_size - len)) > 0)
		len += (size_t)r;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase,
		    NULL);
		BIO_free(bio);
	}
	if (pk == NULL)
		axle_seterr(err, errlen, "key %s: %s", path, tls_ossl_reason(ebuf,
		    sizeof(ebuf)));
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)sb.st_size);
		free(buf);
	}
	close(fd);
	return pk;
}

static int
tls_load_own(SSL_CTX *ctx, const struct net_tls_opts *o, char *err,
    size_t errlen)
{
	char ebuf[256];
	EVP_PKEY *pk;
	int ok;

	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
		axle_seterr(err, errlen, "cert %s: %s", o->cert_file,
		    tls_ossl_reason(ebuf, sizeof(ebuf)));
		return -1;
	}
	if ((pk = tls_read_key(o->key_file, err, errlen)) == NULL)
		return -1;
	ok = SSL_CTX_use_PrivateKey(ctx, pk) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(pk);
	if (!ok) {
		axle_seterr(err, errlen, "key %s does not match cert %s: %s",
		    o->key_file, o->cert_file, tls_ossl_reason(ebuf,
		    sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* ---- contexts -------------------------------------------------------- */

static SSL_CTX *
tls_ctx_new(const struct net_tls_opts *o, bool server, char *err,
    size_t errlen)
{
	struct tls_ctx_data *d;
	X509_STORE *st;
	SSL_CTX *ctx;
	char ebuf[256];

	if (o == NULL || o->cert_file == NULL || o->key_file == NULL ||
	    o->trust_dir == NULL || o->federation == NULL ||
	    strlen(o->federation) > NET_FED_MAX) {
		axle_seterr(err, errlen, "TLS options incomplete");
		return NULL;
	}
	pthread_once(&ctx_data_once, ctx_data_init);
	if (ctx_data_idx < 0 || (d = calloc(1, sizeof(*d))) == NULL) {
		axle_seterr(err, errlen, "out of memory");
		return NULL;
	}
	d->server = server;
	snprintf(d->federation, sizeof(d->federation), "%s", o->federation);
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL || !SSL_CTX_set_ex_data(ctx, ctx_data_idx, d)) {
		axle_seterr(err, errlen, "SSL_CTX_new: %s", tls_ossl_reason(ebuf,
		    sizeof(ebuf)));
		ctx_data_free(d);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* From here d is owned by ctx and freed with it. */
	if (!SSL_CTX_set_min_proto_version(ctx, o->allow_tls12 ?
	    TLS1_2_VERSION : TLS1_3_VERSION) ||
	    (o->allow_tls12 && !SSL_CTX_set_cipher_list(ctx, tls12_ciphers))) {
		axle_seterr(err, errlen, "TLS versions: %s", tls_ossl_reason(ebuf,
		    sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (tls_load_own(ctx, o, err, errlen) != 0)
		goto fail;
	if ((st = tls_load_trust(o->trust_dir, d, err, errlen)) == NULL)
		goto fail;
	SSL_CTX_set_cert_store(ctx, st);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

SSL_CTX *
net_tls_server_ctx(const struct net_tls_opts *opts, char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_ctx_new(opts, true, err, errlen);

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, tls_verify_cb);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	SSL_CTX_set_info_callback(ctx, tls_info_cb);
	return ctx;
}

SSL_CTX *
net_tls_client_ctx(const struct net_tls_opts *opts, char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_ctx_new(opts, false, err, errlen);

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
	/* Note the inverted convention: 0 means success here. */
	if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
		axle_seterr(err, errlen, "cannot set ALPN");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
net_tls_client_prepare(SSL *ssl, const char *host)
{
	char buf[TLS_HOST_MAX + 1];
	unsigned char ip[16];
	size_t n;

	if (ssl == NULL || host == NULL || (n = strlen(host)) == 0 ||
	    n >= sizeof(buf))
		return -1;
	/* Accept "[v6]" as written in host:port configuration. */
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		memcpy(buf, host, n + 1);
	}
	if (inet_pton(AF_INET, buf, ip) == 1 ||
	    inet_pton(AF_INET6, buf, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    buf) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set_tlsext_host_name(ssl, buf) != 1 ||
	    SSL_set1_host(ssl, buf) != 1)
		return -1;
	return 0;
}

int
net_tls_peer_identity(SSL *ssl, struct net_identity *out, char *err,
    size_t errlen)
{
	const struct tls_ctx_data *d;
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	long vr;

	memset(out, 0, sizeof(*out));
	if (ssl == NULL || (d = ctx_data_get(SSL_get_SSL_CTX(ssl))) == NULL) {
		axle_seterr(err, errlen, "not an axle TLS connection");
		return -1;
	}
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	if (plen != 2 || memcmp(proto, "h2", 2) != 0) {
		axle_seterr(err, errlen, "ALPN h2 was not negotiated");
		tls_count(NET_TLS_REF_ALPN);
		return -1;
	}
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		axle_seterr(err, errlen, "peer not verified: %s",
		    X509_verify_cert_error_string(vr));
		tls_count(tls_refusal_of((int)vr));
		return -1;
	}
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		axle_seterr(err, errlen, "peer sent no certificate");
		tls_count(NET_TLS_REF_NO_CERT);
		return -1;
	}
	if (tls_chain_identity(d, SSL_get0_verified_chain(ssl), out, err,
	    errlen) != 0) {
		tls_count(NET_TLS_REF_IDENTITY);
		return -1;
	}
	return 0;
}

/*
 * OpenSSL offers no call to drop them: emptying the stacks it hands out
 * (get0: they stay its own, and it frees them, empty, with the SSL) drops
 * its references; the leaf keeps the session's.
 */
void
net_tls_shed_chains(SSL *ssl)
{
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *verified = SSL_get0_verified_chain(ssl);

	while (sent != NULL && sk_X509_num(sent) > 0)
		X509_free(sk_X509_pop(sent));
	while (verified != NULL && sk_X509_num(verified) > 0)
		X509_free(sk_X509_pop(verified));
}
