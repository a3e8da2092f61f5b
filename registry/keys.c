/* keys.c -- what a hub's signing or sealing certificate must be to be published by a registrar (pure: OpenSSL parsing, no store). */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "registry/address.h"
#include "registry/error.h"
#include "registry/keys.h"
#include "registry/registrar.h"

#define U(x) AXLE__V1__KEY_USE__KEY_USE_##x

const char *
registry_key_use_name(Axle__V1__KeyUse use)
{
	switch (use) {
	case U(SIGNING):	return "signing";
	case U(SEALING):	return "sealing";
	default:		return "unspecified";
	}
}

void
registry_key_fpr_hex(const ProtobufCBinaryData *fpr, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	hex[0] = '\0';
	if (fpr == NULL || fpr->len != REGISTRY_KEY_FPR_LEN)
		return;
	for (size_t i = 0; i < fpr->len; i++) {
		hex[2 * i] = digits[fpr->data[i] >> 4];
		hex[2 * i + 1] = digits[fpr->data[i] & 15];
	}
	hex[2 * fpr->len] = '\0';
}

/* ASN1_TIME as ms since the epoch; -1 if it cannot be read. */
static int64_t
asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

/* Does the EKU extension list oid (dotted numbers)? */
static int
eku_has(EXTENDED_KEY_USAGE *eku, const char *oid)
{
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	int found = 0;

	for (int i = 0; want != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		found |= OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0;
	ASN1_OBJECT_free(want);
	return found;
}

/* Does the EKU extension list TLS's serverAuth or clientAuth? */
static int
eku_tls(EXTENDED_KEY_USAGE *eku)
{
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));

		if (nid == NID_server_auth || nid == NID_client_auth)
			return 1;
	}
	return 0;
}

/* The key usage use needs (the extensions of a leaf, parsed). */
static int
usage_check(X509 *c, Axle__V1__KeyUse use, char *reason, size_t rlen)
{
	uint32_t ku = X509_get_key_usage(c);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
	const char *oid = use == U(SIGNING) ? REGISTRY_KEY_OID_SIGNING :
	    REGISTRY_KEY_OID_SEALING;
	const char *tool = use == U(SIGNING) ? "hub-sign" : "hub-seal";
	int rc = REGISTRY_OK;

	if (eku != NULL && eku_tls(eku))
		rc = registry_fail(REGISTRY_EINVAL, reason, rlen, "this is a TLS "
		    "certificate (extendedKeyUsage serverAuth or clientAuth): a %s "
		    "key needs its own certificate (axle-cert-issue %s)",
		    registry_key_use_name(use), tool);
	else if (eku == NULL || !eku_has(eku, oid))
		rc = registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "lacks the extendedKeyUsage axle %s (%s): issue it with "
		    "axle-cert-issue %s", use == U(SIGNING) ? "envelope-signing" :
		    "payload-sealing", oid, tool);
	else if (use == U(SIGNING) && (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE)))
		rc = registry_fail(REGISTRY_EINVAL, reason, rlen, "a signing "
		    "certificate needs keyUsage digitalSignature");
	else if (use == U(SEALING) && (ku == UINT32_MAX || ku != KU_KEY_AGREEMENT))
		rc = registry_fail(REGISTRY_EINVAL, reason, rlen, "a sealing "
		    "certificate needs keyUsage keyAgreement and nothing else");
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

/* EC P-256 only: what the sign and seal parts implement. */
static int
key_check(X509 *c, char *reason, size_t rlen)
{
	EVP_PKEY *pk = X509_get0_pubkey(c);
	char group[64] = "";
	size_t glen = 0;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), &glen) != 1 || strcmp(group, "prime256v1") != 0)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate's "
		    "key is not EC P-256%s%s", group[0] ? " but " : "", group);
	return REGISTRY_OK;
}

/* Its one axle:// SAN URI into uri. */
static int
uri_get(X509 *c, char *uri, char *reason, size_t rlen)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
	int n = 0;

	uri[0] = '\0';
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len < 7 || strncmp((const char *)d, "axle://", 7) != 0)
			continue;
		if (++n == 1 && len < REGISTRY_KEY_URI_MAX &&
		    memchr(d, '\0', (size_t)len) == NULL) {
			memcpy(uri, d, (size_t)len);
			uri[len] = '\0';
		}
	}
	GENERAL_NAMES_free(sans);
	if (n != 1 || uri[0] == '\0')
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "must name exactly one axle:// URI (it names %d)", n);
	return REGISTRY_OK;
}

/* Is uri r's: its certificate identity, or a member (hub) under one of its prefixes? */
static int
identity_check(const Axle__V1__Registrar *r, const char *fed, const char *uri,
    char *reason, size_t rlen)
{
	char want[REGISTRY_KEY_URI_MAX], addr[ADDR_MAX_LEN + 1], why[160];
	const char *a;
	int n;

	if (r->cert_identity != NULL && strcmp(uri, r->cert_identity) == 0)
		return REGISTRY_OK;
	n = snprintf(want, sizeof(want), "axle://%s/member/", fed);
	if (n > 0 && (size_t)n < sizeof(want) && strncmp(uri, want, (size_t)n) == 0) {
		a = uri + n;
		if (registry_address_parse(a, strlen(a), addr, why, sizeof(why)) != 0)
			return registry_fail(REGISTRY_EINVAL, reason, rlen, "the "
			    "certificate's URI %s: %s", uri, why);
		if (registry_registrar_covering_prefix(r, addr) != NULL)
			return REGISTRY_OK;
	}
	return registry_fail(REGISTRY_EPERM, reason, rlen, "the certificate is "
	    "%s's, not registrar %s's: it must name %s or a hub "
	    "axle://%s/member/<address> under its prefixes%s%s", uri, r->id,
	    r->cert_identity != NULL ? r->cert_identity : "(none)", fed,
	    r->n_prefixes > 0 ? ", e.g. " : "", r->n_prefixes > 0 ? r->prefixes[0] : "");
}

static int
cert_checks(X509 *c, Axle__V1__KeyUse use, const char *fed,
    const Axle__V1__Registrar *r, int64_t now_ms, Axle__V1__PublishedKey *out,
    char *identity, char *reason, size_t rlen)
{
	int rc;

	if (X509_check_ca(c) != 0 || (X509_get_extension_flags(c) & EXFLAG_CA) != 0)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "is a CA's: publish a hub's leaf certificate");
	if ((rc = key_check(c, reason, rlen)) != REGISTRY_OK ||
	    (rc = usage_check(c, use, reason, rlen)) != REGISTRY_OK)
		return rc;
	out->not_before_ms = asn1_ms(X509_get0_notBefore(c));
	out->not_after_ms = asn1_ms(X509_get0_notAfter(c));
	if (out->not_before_ms < 0 || out->not_after_ms < 0)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate's "
		    "validity cannot be read");
	if (now_ms >= out->not_after_ms)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "has expired: issue a new one");
	if (now_ms < out->not_before_ms)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "is not valid yet: publish it when it is");
	if ((rc = uri_get(c, identity, reason, rlen)) != REGISTRY_OK)
		return rc;
	return identity_check(r, fed, identity, reason, rlen);
}

int
registry_key_cert_check(const uint8_t *der, size_t len, Axle__V1__KeyUse use,
    const char *fed, const Axle__V1__Registrar *r, int64_t now_ms,
    Axle__V1__PublishedKey *out, uint8_t fpr[REGISTRY_KEY_FPR_LEN],
    char *identity, char *reason, size_t rlen)
{
	const unsigned char *p = der;
	unsigned int flen = 0;
	X509 *c;
	int rc;

	axle__v1__published_key__init(out);
	identity[0] = '\0';
	if (use != U(SIGNING) && use != U(SEALING))
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "use must be "
		    "signing or sealing");
	if (der == NULL || len == 0)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "no certificate given");
	if (len > REGISTRY_KEY_CERT_MAX)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "is %zu bytes, the limit is %u", len, REGISTRY_KEY_CERT_MAX);
	c = d2i_X509(NULL, &p, (long)len);
	if (c == NULL || p != der + len) {
		X509_free(c);
		ERR_clear_error();
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "the certificate "
		    "is not one DER X.509 certificate");
	}
	rc = cert_checks(c, use, fed, r, now_ms, out, identity, reason, rlen);
	X509_free(c);
	ERR_clear_error();
	if (rc != REGISTRY_OK)
		return rc;
	if (EVP_Digest(der, len, fpr, &flen, EVP_sha256(), NULL) != 1 ||
	    flen != REGISTRY_KEY_FPR_LEN)
		return registry_fail(REGISTRY_ENOMEM, reason, rlen, "cannot hash "
		    "the certificate");
	out->use = use;
	out->certificate.data = (uint8_t *)der;
	out->certificate.len = len;
	out->fingerprint.data = fpr;
	out->fingerprint.len = REGISTRY_KEY_FPR_LEN;
	out->identity = identity;
	return REGISTRY_OK;
}

int
registry_key_scope_check(const Axle__V1__Registrar *r, const char *scope,
    char *folded, char *reason, size_t rlen)
{
	char why[160];

	folded[0] = '\0';
	if (scope == NULL || scope[0] == '\0')
		return REGISTRY_OK;
	if (registry_address_parse(scope, strlen(scope), folded, why, sizeof(why)) != 0)
		return registry_fail(REGISTRY_EINVAL, reason, rlen, "scope: %s", why);
	if (registry_registrar_covering_prefix(r, folded) == NULL)
		return registry_fail(REGISTRY_EPERM, reason, rlen, "scope %s is "
		    "outside the prefixes of registrar %s%s%s", folded, r->id,
		    r->n_prefixes > 0 ? ", e.g. " : " (it holds none)",
		    r->n_prefixes > 0 ? r->prefixes[0] : "");
	return REGISTRY_OK;
}

int
registry_registrar_key_index(const Axle__V1__Registrar *r, const uint8_t *fpr,
    size_t fprlen)
{
	for (size_t i = 0; i < r->n_keys; i++)
		if (r->keys[i]->fingerprint.len == fprlen &&
		    memcmp(r->keys[i]->fingerprint.data, fpr, fprlen) == 0)
			return (int)i;
	return -1;
}

int
registry_key_usable(const Axle__V1__PublishedKey *k, Axle__V1__KeyUse use,
    const char *address, int64_t now_ms)
{
	if (use != U(UNSPECIFIED) && k->use != use)
		return 0;
	if (now_ms < k->not_before_ms || now_ms >= k->not_after_ms)
		return 0;
	return k->scope == NULL || k->scope[0] == '\0' ||
	    registry_address_covers(k->scope, address);
}
