/* tls_expiry.c -- what expires in a TLS context: the node's certificate, the CAs it trusts, their CRLs. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "gateway/net/tls.h"
#include "gateway/net/tls_expiry.h"

const char *
net_expiry_kind_name(enum net_expiry_kind k)
{
	switch (k) {
	case NET_EXPIRY_CERT:	return "node";
	case NET_EXPIRY_CA:	return "ca";
	case NET_EXPIRY_CRL:	return "crl";
	}
	return "unknown";
}

/* ASN1_TIME as seconds since the epoch; 0 when absent or unreadable. */
static int64_t
epoch_s(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The CN of name, or "" (printable characters only: it goes into labels and logs). */
static void
common_name(const X509_NAME *name, char *out, size_t len)
{
	int i = name != NULL ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	const ASN1_STRING *s = i >= 0 ?
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
	const unsigned char *p = s != NULL ? ASN1_STRING_get0_data(s) : NULL;
	size_t n = s != NULL ? (size_t)ASN1_STRING_length(s) : 0, o = 0;

	for (size_t k = 0; p != NULL && k < n && o + 1 < len; k++)
		out[o++] = p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' &&
		    p[k] != '\\' ? (char)p[k] : '?';
	out[o] = '\0';
}

static void
put(struct net_expiry *out, size_t max, size_t n, enum net_expiry_kind kind,
    const char *fed, const X509_NAME *name, int64_t from, int64_t to)
{
	if (n >= max)
		return;
	out[n].kind = kind;
	snprintf(out[n].federation, sizeof(out[n].federation), "%s", fed);
	common_name(name, out[n].name, sizeof(out[n].name));
	out[n].at_s = to;
	out[n].span_s = to > from && from > 0 ? to - from : 0;
}

size_t
net_tls_expiries(SSL_CTX *ctx, struct net_expiry *out, size_t max)
{
	X509 *own = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
	X509_STORE *st = ctx != NULL ? SSL_CTX_get_cert_store(ctx) : NULL;
	STACK_OF(X509_OBJECT) *objs = st != NULL ? X509_STORE_get0_objects(st) : NULL;
	const char *fed;
	X509 *ca;
	size_t n = 0;

	if (own != NULL) {
		put(out, max, n++, NET_EXPIRY_CERT, "", NULL,
		    epoch_s(X509_get0_notBefore(own)), epoch_s(X509_get0_notAfter(own)));
	}
	for (size_t i = 0; ctx != NULL && (ca = net_tls_anchor(ctx, i, &fed)) != NULL; i++)
		put(out, max, n++, NET_EXPIRY_CA, fed, X509_get_subject_name(ca),
		    epoch_s(X509_get0_notBefore(ca)), epoch_s(X509_get0_notAfter(ca)));
	for (int i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		const X509_NAME *iss = crl != NULL ? X509_CRL_get_issuer(crl) : NULL;

		if (crl == NULL)
			continue;
		for (size_t j = 0; (ca = net_tls_anchor(ctx, j, &fed)) != NULL; j++) {
			if (X509_NAME_cmp(X509_get_subject_name(ca), iss) != 0)
				continue;
			put(out, max, n++, NET_EXPIRY_CRL, fed, iss,
			    epoch_s(X509_CRL_get0_lastUpdate(crl)),
			    epoch_s(X509_CRL_get0_nextUpdate(crl)));
			break;
		}
	}
	ERR_clear_error();
	return n;
}
