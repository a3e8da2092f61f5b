/* ctl_signers.c -- fetch verifies hub signatures with the signing certificates the register publishes for each sender (docs/protocol.md "Signed envelopes"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/ctl/ctl_signers.h"
#include "gateway/net/client.h"
#include "gateway/net/grpc_frame.h"
#include "proto/pb.h"
#include "registry/keys.h"

/* What the register said about one sender's signing keys. */
struct signer_entry {
	char *sender;			/* as the envelope names it; NULL: free slot */
	Axle__V1__FindKeysResponse *keys;	/* NULL: the lookup failed (why) */
	char why[400];
};

struct ctl_signers {
	struct ctl *ctl;
	struct signer_entry e[CTL_SIGNERS_MAX];
	size_t next;			/* slot reused when all are taken */
	const struct signer_entry *cur;	/* the entry key_of looks in */
	char signer[REGISTRY_KEY_FPR_HEX + 128];	/* key_of's find, for the caller */
};

struct ctl_signers *
ctl_signers_new(struct ctl *ctl)
{
	struct ctl_signers *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->ctl = ctl;
	return s;
}

static void
entry_clear(struct signer_entry *e)
{
	free(e->sender);
	if (e->keys != NULL)
		pb_free(&e->keys->base);
	memset(e, 0, sizeof(*e));
}

void
ctl_signers_free(struct ctl_signers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < CTL_SIGNERS_MAX; i++)
		entry_clear(&s->e[i]);
	free(s);
}

/* Registry.FindKeys(sender, SIGNING) into e (keys, or why not). */
static void
lookup(struct ctl *ctl, struct signer_entry *e)
{
	Axle__V1__FindKeysRequest req = AXLE__V1__FIND_KEYS_REQUEST__INIT;
	uint8_t *buf, *resp = NULL;
	size_t len, rlen = 0;
	char msg[256] = "";
	int st;

	req.address = e->sender;
	req.use = AXLE__V1__KEY_USE__KEY_USE_SIGNING;
	if ((buf = pb_pack(&req.base, 0, &len)) == NULL) {
		snprintf(e->why, sizeof(e->why), "out of memory");
		return;
	}
	st = net_client_call_sync(ctl->client, ctl->base, "/axle.v1.Registry/FindKeys",
	    buf, len, ctl->set.timeout_ms, &resp, &rlen, msg, sizeof(msg));
	free(buf);
	if (st == GRPC_UNIMPLEMENTED)
		snprintf(e->why, sizeof(e->why), "the node has no Registry.FindKeys "
		    "(an older node): give the sender's certificate with --signer-cert");
	else if (st != GRPC_OK)
		snprintf(e->why, sizeof(e->why), "cannot look the sender's signing "
		    "keys up (Registry.FindKeys): %s: %s", net_grpc_status_name(st), msg);
	else if ((e->keys = PB_UNPACK(Axle__V1__FindKeysResponse,
	    axle__v1__find_keys_response, resp, rlen, NET_CLIENT_MAX_MSG, msg,
	    sizeof(msg))) == NULL)
		snprintf(e->why, sizeof(e->why), "Registry.FindKeys answer: %s", msg);
	free(resp);
}

/* The entry of sender, looked up now if it is not remembered. */
static const struct signer_entry *
entry_of(struct ctl_signers *s, const char *sender)
{
	struct signer_entry *e;

	for (size_t i = 0; i < CTL_SIGNERS_MAX; i++)
		if (s->e[i].sender != NULL && strcmp(s->e[i].sender, sender) == 0)
			return &s->e[i];
	e = &s->e[s->next];
	s->next = (s->next + 1) % CTL_SIGNERS_MAX;
	entry_clear(e);
	if ((e->sender = strdup(sender)) == NULL)
		snprintf(e->why, sizeof(e->why), "out of memory");
	else
		lookup(s->ctl, e);
	return e;
}

/* envsig_key_fn over s->cur: the published certificate whose fingerprint is id. */
static EVP_PKEY *
key_of(void *arg, const char *sender, const uint8_t *id, size_t idlen,
    char *why, size_t len)
{
	struct ctl_signers *s = arg;
	const struct signer_entry *e = s->cur;
	const Axle__V1__FindKeysResponse *r = e->keys;
	char hex[REGISTRY_KEY_FPR_HEX];
	ProtobufCBinaryData fpr = { idlen, (uint8_t *)id };

	(void)sender;
	if (r == NULL) {
		snprintf(why, len, "%s", e->why);
		return NULL;
	}
	if (r->n_keys == 0) {
		snprintf(why, len, "the sender's registrar%s%s publishes no signing "
		    "key (%s)", r->registrar_id[0] ? " " : "", r->registrar_id,
		    r->reason[0] ? r->reason : "none published");
		return NULL;
	}
	registry_key_fpr_hex(&fpr, hex);
	for (size_t i = 0; i < r->n_keys; i++) {
		const Axle__V1__PublishedKey *k = r->keys[i];
		const unsigned char *p = k->certificate.data;
		X509 *c;
		EVP_PKEY *pub;

		if (k->fingerprint.len != idlen || memcmp(k->fingerprint.data, id, idlen) != 0)
			continue;
		c = d2i_X509(NULL, &p, (long)k->certificate.len);
		pub = c != NULL ? X509_get_pubkey(c) : NULL;
		X509_free(c);
		ERR_clear_error();
		if (pub == NULL) {
			snprintf(why, len, "the published certificate %s cannot be read", hex);
			return NULL;
		}
		snprintf(s->signer, sizeof(s->signer), "%s of %s", hex, r->registrar_id);
		return pub;
	}
	snprintf(why, len, "key %s is not among the %zu signing key(s) registrar %s "
	    "publishes for the sender", hex[0] ? hex : "(not 32 bytes)", r->n_keys,
	    r->registrar_id);
	return NULL;
}

enum envsig_verdict
ctl_signers_check(struct ctl_signers *s, const Axle__V1__Envelope *e,
    char *why, size_t len, char *signer, size_t slen)
{
	enum envsig_verdict v;

	s->signer[0] = '\0';
	signer[0] = '\0';
	if (e->signature == NULL)
		return envsig_check(e, key_of, s, why, len);	/* says unsigned */
	s->cur = entry_of(s, e->sender != NULL ? e->sender : "");
	v = envsig_check(e, key_of, s, why, len);
	if (v == ENVSIG_OK)
		snprintf(signer, slen, "%s", s->signer);
	s->cur = NULL;
	return v;
}
