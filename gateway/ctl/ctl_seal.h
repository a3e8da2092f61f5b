/* ctl_seal.h -- sealed payloads for hubs: CMS AuthEnvelopedData (AES-256-GCM, ECDH) to recipients' certificates, and opening them. */
#ifndef AXLE_GW_CTL_SEAL_H
#define AXLE_GW_CTL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * Seals in[0..len) to every certificate of certs (n of them, each with an
 * EC P-256 or RSA public key) as a DER CMS ContentInfo of type
 * id-ct-authEnvelopedData, content encrypted with AES-256-GCM under a fresh
 * key, that key agreed (ECDH, or RSA key transport) with each recipient:
 * what `openssl cms -decrypt` opens. Returns 0 with *out (malloc'd, *outlen
 * bytes; the caller frees), or -1 with a reason in err.
 */
int ctl_seal(const uint8_t *in, size_t len, X509 *const *certs, size_t n,
    uint8_t **out, size_t *outlen, char *err, size_t errlen);

/*
 * Opens a sealed payload with key (and cert, its certificate, or NULL: then
 * every recipient is tried). Returns 0 with the plain bytes in *out
 * (malloc'd; the caller frees), or -1 with a reason in err: not CMS, not
 * AuthEnvelopedData, not sealed to this key, or tampered with (the GCM tag
 * does not match).
 */
int ctl_seal_open(const uint8_t *in, size_t len, EVP_PKEY *key, X509 *cert,
    uint8_t **out, size_t *outlen, char *err, size_t errlen);

/*
 * The recipient's sealing certificates from the register: Registry.FindKeys
 * (address, use SEALING) on ctl's node, which answers from its register or
 * its mirror of the recipient's region. Up to max of them into certs (free
 * each with X509_free), their count in *n: 0 when none is published (why
 * in err). Returns 0, or -1 when the lookup itself failed (err; *old set
 * when the node is older and has no FindKeys).
 */
struct ctl;
int ctl_seal_find(struct ctl *ctl, const char *address, X509 **certs,
    size_t max, size_t *n, bool *old, char *err, size_t errlen);

/* A PEM certificate or private key from path; NULL with a reason in err. */
X509 *ctl_seal_cert_load(const char *path, char *err, size_t errlen);
EVP_PKEY *ctl_seal_key_load(const char *path, char *err, size_t errlen);

#endif
