/* gw_trust.c -- signed envelopes and signed trace hops at this node: signs its hops, verifies hubs' signatures and every hop of a journey. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "gateway/net/grpc_status.h"
#include "gateway/net/log.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/gw_trust.h"
#include "gateway/node/node.h"
#include "gateway/switch/sw_core.h"
#include "gateway/switch/sw_envelope.h"
#include "proto/envsig.h"

struct gw_trust {
	pthread_mutex_t lock;		/* key and kid: the writer thread signs hops */
	EVP_PKEY *key;			/* the node's key (NULL: hops go unsigned) */
	uint8_t kid[ENVSIG_DIGEST_LEN];	/* SHA-256 of its certificate's DER */
	/* Loop thread only. */
	uint64_t refused[GW_TRUST__COUNT];
	uint64_t verified_envelopes, verified_hops;
	uint64_t unverified_envelopes, unverified_hops;	/* no key found, not required */
	bool unsigned_logged;
};

static const char *const why_names[GW_TRUST__COUNT] = {
	[GW_TRUST_UNSIGNED] = "unsigned",
	[GW_TRUST_BAD] = "bad_signature",
	[GW_TRUST_PAYLOAD] = "payload_digest",
	[GW_TRUST_NO_KEY] = "unknown_key",
	[GW_TRUST_MALFORMED] = "malformed",
	[GW_TRUST_HOP] = "hop",
};

/* --- the node's key ---------------------------------------------------------------------- */

/* Takes the registry's key and certificate (the TLS ones) into t, under its lock. */
static void
take_key(struct gw_node *node, struct gw_trust *t)
{
	struct gw_registry *reg = node->registry;
	EVP_PKEY *key = NULL;
	uint8_t kid[ENVSIG_DIGEST_LEN];

	if (reg != NULL && reg->sign_key != NULL && reg->nchain > 0 &&
	    EVP_PKEY_up_ref(reg->sign_key) == 1) {
		key = reg->sign_key;
		SHA256(reg->chain[0].data, reg->chain[0].len, kid);
	}
	pthread_mutex_lock(&t->lock);
	EVP_PKEY_free(t->key);
	t->key = key;
	if (key != NULL)
		memcpy(t->kid, kid, sizeof(kid));
	pthread_mutex_unlock(&t->lock);
	if (key == NULL)
		net_log(NET_LOG_WARN, "trust_no_hop_key", "reason=\"the node has no "
		    "EC P-256 key and certificate to sign its trace hops with (see "
		    "registry_no_signing_key): its hops go unsigned, and nodes with "
		    "[trust] require_signed_hops refuse what it forwards\"");
}

int
gw_trust_open(struct gw_node *node, char *err, size_t errlen)
{
	struct gw_trust *t = calloc(1, sizeof(*t));

	if (t == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	node->trust = t;
	take_key(node, t);
	return 0;
}

void
gw_trust_close(struct gw_node *node)
{
	struct gw_trust *t = node->trust;

	if (t == NULL)
		return;
	EVP_PKEY_free(t->key);
	pthread_mutex_destroy(&t->lock);
	free(t);
	node->trust = NULL;
}

void
gw_trust_reload(struct gw_node *node)
{
	if (node->trust != NULL)
		take_key(node, node->trust);
}

int
gw_trust_sign_hop(struct gw_node *node, const uint8_t *digest,
    const Axle__V1__TraceHop *prev, Axle__V1__TraceHop *hop, uint8_t *sig,
    uint8_t *kid)
{
	struct gw_trust *t = node->trust;
	int rc = -1;

	if (t == NULL)
		return -1;
	pthread_mutex_lock(&t->lock);
	if (t->key != NULL) {
		memcpy(kid, t->kid, ENVSIG_DIGEST_LEN);
		rc = envsig_hop_sign(digest, prev, hop, t->key, kid, sig);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* --- whose keys -------------------------------------------------------------------------- */

/*
 * The hub's signing certificate: one the sender's registrar publishes in
 * the register (Registrar.keys, use SIGNING, valid now, its scope covering
 * the sender) with this key identity (its fingerprint), from this node's
 * register or a mirror.
 */
static EVP_PKEY *
sender_key(void *arg, const char *sender, const uint8_t *id, size_t idlen,
    char *why, size_t len)
{
	struct gw_node *node = arg;
	struct registry_key_answer a;
	char addr[ADDR_MAX_LEN + 1], err[200];

	if (sender == NULL || sw_address_of(sender, addr, err, sizeof(err)) != 0) {
		snprintf(why, len, "sender: %s", sender == NULL ? "missing" : err);
		return NULL;
	}
	if (node->registry == NULL || !gw_registry_find_keys(node, addr,
	    AXLE__V1__KEY_USE__KEY_USE_SIGNING, &a)) {
		snprintf(why, len, "no signing certificate of %s is published in the "
		    "register: %s", addr, node->registry == NULL ? "no register" :
		    a.reason);
		return NULL;
	}
	for (size_t i = 0; i < a.n; i++) {
		const Axle__V1__PublishedKey *k = a.keys[i];
		const unsigned char *p = k->certificate.data;
		X509 *c;
		EVP_PKEY *pub;

		if (k->fingerprint.len != idlen || idlen != ENVSIG_DIGEST_LEN ||
		    memcmp(k->fingerprint.data, id, idlen) != 0)
			continue;
		if ((c = d2i_X509(NULL, &p, (long)k->certificate.len)) == NULL)
			break;
		pub = X509_get_pubkey(c);
		X509_free(c);
		return pub;
	}
	snprintf(why, len, "key_identity names none of the %zu signing "
	    "certificates registrar %s publishes for %s (withdrawn, expired, or "
	    "never published)", a.n, a.registrar_id != NULL ? a.registrar_id : "?",
	    addr);
	return NULL;
}

/* The key of the node of region whose certificate has identity kid. */
static EVP_PKEY *
node_key(struct gw_node *node, const char *region, const uint8_t *kid,
    size_t kidlen, char *why, size_t len)
{
	struct gw_trust *t = node->trust;

	if (strcmp(region, node->cfg.region) == 0) {
		EVP_PKEY *k = NULL;

		pthread_mutex_lock(&t->lock);
		if (t->key != NULL && kidlen == ENVSIG_DIGEST_LEN &&
		    memcmp(kid, t->kid, kidlen) == 0 && EVP_PKEY_up_ref(t->key) == 1)
			k = t->key;
		pthread_mutex_unlock(&t->lock);
		if (k == NULL)
			snprintf(why, len, "key_identity is not this node's certificate");
		return k;
	}
	return gw_mirror_node_pub(node, region, kid, kidlen, why, len);
}

/* --- checks ------------------------------------------------------------------------------ */

/* Where the current journey starts: the last redirect hop, or the first hop. */
static size_t
journey_start(const Axle__V1__Envelope *e)
{
	for (size_t i = e->n_trace; i > 0; i--)
		if (e->trace[i - 1] != NULL && e->trace[i - 1]->redirect_case != NULL &&
		    e->trace[i - 1]->redirect_case[0] != '\0')
			return i - 1;
	return 0;
}

/* A node made it (receipt, returned message, group copy, redirect): no hub signature to ask for. */
static bool
node_made(const Axle__V1__Envelope *e)
{
	size_t s = journey_start(e);

	return sw_is_system(e) || e->original_id.len > 0 ||
	    (e->n_trace > 0 && e->trace[s] != NULL && e->trace[s]->redirect_case != NULL &&
	    e->trace[s]->redirect_case[0] != '\0');
}

static int
refuse(struct gw_node *node, const Axle__V1__Envelope *e, enum gw_trust_why w,
    int status, const char *what, char *why, size_t len)
{
	char id[SW_ID_HEX_LEN + 1], qs[600], qd[1200];

	node->trust->refused[w]++;
	snprintf(why, len, "trust: %s", what);
	if (e->message_id.len == SW_ID_LEN)
		sw_message_id_hex(e->message_id.data, id);
	else
		snprintf(id, sizeof(id), "-");
	net_log(NET_LOG_WARN, "trust_refused", "id=%s sender=%s reason=%s detail=%s",
	    id, net_log_quote(qs, sizeof(qs), e->sender != NULL ? e->sender : "",
	    e->sender != NULL ? strlen(e->sender) : 0), why_names[w],
	    net_log_quote(qd, sizeof(qd), what, strlen(what)));
	return status;
}

/*
 * Every hop of the journey: signed by the node it names, over this
 * envelope's canonical digest and the hop before. A group copy's hops from
 * before the expansion were signed over the group message: they are
 * checked back to the expanding node's hop (the first that fails).
 */
static int
check_hops(struct gw_node *node, const Axle__V1__Envelope *e, char *why, size_t len)
{
	bool require = node->cfg.trust.require_signed_hops;
	uint8_t d[ENVSIG_DIGEST_LEN];
	char what[400], kwhy[300];

	if (envsig_digest(e, d) != 0)
		return refuse(node, e, GW_TRUST_HOP, GRPC_RESOURCE_EXHAUSTED,
		    "out of memory", why, len);
	for (size_t i = e->n_trace; i > journey_start(e); ) {
		const Axle__V1__TraceHop *h = e->trace[--i];
		const Axle__V1__TraceHop *prev = i > 0 ? e->trace[i - 1] : NULL;
		const char *region = h != NULL && h->region != NULL ? h->region : "";
		EVP_PKEY *pub;
		int ok;

		if (h == NULL || h->signature.len == 0) {
			if (!require)
				continue;	/* a node of an older version */
			snprintf(what, sizeof(what), "trace[%zu]: the hop of %s is not "
			    "signed ([trust] require_signed_hops)", i, region);
			return refuse(node, e, GW_TRUST_HOP, GRPC_PERMISSION_DENIED,
			    what, why, len);
		}
		if ((pub = node_key(node, region, h->key_identity.data,
		    h->key_identity.len, kwhy, sizeof(kwhy))) == NULL) {
			if (!require) {
				node->trust->unverified_hops++;
				continue;
			}
			snprintf(what, sizeof(what), "trace[%zu]: cannot verify the hop "
			    "of %s: %s", i, region, kwhy);
			return refuse(node, e, GW_TRUST_HOP, GRPC_PERMISSION_DENIED,
			    what, why, len);
		}
		ok = envsig_hop_verify(d, prev, h, pub);
		EVP_PKEY_free(pub);
		if (!ok && e->original_id.len > 0 && i + 1 < e->n_trace)
			break;		/* before the group was expanded */
		if (!ok) {
			snprintf(what, sizeof(what), "trace[%zu]: the hop of %s does not "
			    "verify with that node's certificate (rewritten by a node "
			    "after it)", i, region);
			return refuse(node, e, GW_TRUST_HOP, GRPC_PERMISSION_DENIED,
			    what, why, len);
		}
		node->trust->verified_hops++;
	}
	return GRPC_OK;
}

int
gw_trust_check(struct gw_node *node, const Axle__V1__Envelope *e,
    bool forwarded, char *why, size_t len)
{
	static const enum gw_trust_why of[] = {
		[ENVSIG_UNSIGNED] = GW_TRUST_UNSIGNED,
		[ENVSIG_MALFORMED] = GW_TRUST_MALFORMED,
		[ENVSIG_PAYLOAD] = GW_TRUST_PAYLOAD,
		[ENVSIG_NO_KEY] = GW_TRUST_NO_KEY,
		[ENVSIG_BAD] = GW_TRUST_BAD,
	};
	enum envsig_verdict v;
	char what[400];
	int st;

	if (node->trust == NULL)
		return GRPC_OK;
	if (forwarded && (st = check_hops(node, e, why, len)) != GRPC_OK)
		return st;
	if (e->signature == NULL) {
		if (!node->cfg.trust.require_signed || node_made(e))
			return GRPC_OK;
		return refuse(node, e, GW_TRUST_UNSIGNED, GRPC_FAILED_PRECONDITION,
		    "signature: the envelope is not signed, and this node requires "
		    "signed envelopes ([trust] require_signed): sign it with the "
		    "hub's signing key (axlectl send --sign-key)", why, len);
	}
	v = envsig_check(e, sender_key, node, what, sizeof(what));
	if (v == ENVSIG_OK) {
		node->trust->verified_envelopes++;
		return GRPC_OK;
	}
	/* No certificate to check it with: as good as unsigned, where that is allowed. */
	if (v == ENVSIG_NO_KEY && !node->cfg.trust.require_signed) {
		node->trust->unverified_envelopes++;
		return GRPC_OK;
	}
	return refuse(node, e, of[v], v == ENVSIG_MALFORMED ? GRPC_INVALID_ARGUMENT :
	    GRPC_PERMISSION_DENIED, what, why, len);
}

void
gw_trust_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct gw_trust *t = node->trust;

	if (t == NULL)
		return;
	evbuffer_add_printf(out, "# HELP axle_trust_refused_total Envelopes refused "
	    "under the trust policy, by reason.\n# TYPE axle_trust_refused_total "
	    "counter\n");
	for (int w = 0; w < GW_TRUST__COUNT; w++)
		evbuffer_add_printf(out, "axle_trust_refused_total{reason=\"%s\"} %"
		    PRIu64 "\n", why_names[w], t->refused[w]);
	evbuffer_add_printf(out, "# HELP axle_trust_verified_total Signatures "
	    "verified, by what was signed.\n# TYPE axle_trust_verified_total "
	    "counter\naxle_trust_verified_total{what=\"envelope\"} %" PRIu64 "\n"
	    "axle_trust_verified_total{what=\"hop\"} %" PRIu64 "\n",
	    t->verified_envelopes, t->verified_hops);
	evbuffer_add_printf(out, "# HELP axle_trust_unverified_total Signatures "
	    "taken unverified (no certificate found, and the policy does not "
	    "require one).\n# TYPE axle_trust_unverified_total counter\n"
	    "axle_trust_unverified_total{what=\"envelope\"} %" PRIu64 "\n"
	    "axle_trust_unverified_total{what=\"hop\"} %" PRIu64 "\n",
	    t->unverified_envelopes, t->unverified_hops);
}
