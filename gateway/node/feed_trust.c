/* feed_trust.c -- whom a mirrored head is believed from: the origin's key behind a relayed head, and relays that withhold. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "gateway/net/client.h"
#include "gateway/net/log.h"
#include "gateway/net/tls.h"
#include "gateway/node/feed_pull_priv.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "proto/pb.h"

#define CHAIN_MAX		4	/* certificates a head may carry */

/* --- the origin's key -------------------------------------------------------------- */

static EVP_PKEY *
link_pub(struct gw_node *node, const char *via)
{
	struct gw_peer_link *l = gw_peers_find(node, via);
	X509 *cert = l != NULL && l->client != NULL ?
	    net_client_peer_cert(l->client) : NULL;

	return cert != NULL ? X509_get_pubkey(cert) : NULL;
}

int
gw_mirror_link_cert(struct gw_node *node, const char *via, ProtobufCBinaryData *out)
{
	struct gw_peer_link *l = gw_peers_find(node, via);
	X509 *cert = l != NULL && l->client != NULL ?
	    net_client_peer_cert(l->client) : NULL;
	unsigned char *der = NULL;
	int n;

	if (cert == NULL || (n = i2d_X509(cert, &der)) <= 0)
		return -1;
	out->data = der;	/* the caller frees it with OPENSSL_free */
	out->len = (size_t)n;
	return 0;
}

/* Verifies head's chain to the federation's CA; returns the leaf's key or NULL with why. */
static EVP_PKEY *
chain_pub(struct gw_node *node, const char *region,
    const Axle__V1__SignedHead *head, char *why, size_t len)
{
	X509_STORE *store = node->client_ctx != NULL ?
	    SSL_CTX_get_cert_store(node->client_ctx) : NULL;
	STACK_OF(X509) *rest = sk_X509_new_null();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	EVP_PKEY *pub = NULL;
	struct net_identity id;
	char err[256];

	if (store == NULL || rest == NULL || vctx == NULL) {
		snprintf(why, len, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < head->n_node_chain && i < CHAIN_MAX; i++) {
		const unsigned char *p = head->node_chain[i].data;
		X509 *c = d2i_X509(NULL, &p, (long)head->node_chain[i].len);

		if (c == NULL) {
			snprintf(why, len, "certificate %zu of the head's chain does "
			    "not parse", i);
			goto out;
		}
		if (i == 0)
			leaf = c;
		else if (!sk_X509_push(rest, c)) {
			X509_free(c);
			snprintf(why, len, "out of memory");
			goto out;
		}
	}
	if (leaf == NULL) {
		snprintf(why, len, "the head of %s carries no certificate of its "
		    "origin", region);
		goto out;
	}
	if (X509_STORE_CTX_init(vctx, store, leaf, rest) != 1 ||
	    X509_verify_cert(vctx) != 1) {
		snprintf(why, len, "the certificate the head of %s carries does not "
		    "verify to the federation's CA: %s", region,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	if (net_tls_cert_identity(leaf, node->cfg.federation, &id, err, sizeof(err)) != 0 ||
	    id.role != NET_ROLE_NODE || strcmp(id.address, region) != 0) {
		snprintf(why, len, "the head of %s is signed by a certificate that is "
		    "not the node of %s: %s", region, region, id.role == NET_ROLE_NODE ?
		    id.uri : err);
		goto out;
	}
	pub = X509_get_pubkey(leaf);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	sk_X509_pop_free(rest, X509_free);
	X509_free(leaf);
	return pub;
}

EVP_PKEY *
gw_mirror_origin_pub(struct gw_node *node, const char *region, const char *via,
    const Axle__V1__SignedHead *head, char *why, size_t len)
{
	EVP_PKEY *pub;

	if (strcmp(region, via) == 0) {		/* the origin itself */
		/*
		 * The chain its head carries first: after the origin renewed its
		 * key and reloaded, a link made before still shows the old
		 * certificate. Then the certificate pinned by the handshake
		 * (older nodes send no chain).
		 */
		if (head != NULL && head->n_node_chain > 0 &&
		    (pub = chain_pub(node, region, head, why, len)) != NULL)
			return pub;
		if ((pub = link_pub(node, via)) == NULL)
			snprintf(why, len, "no certificate kept from the peer's handshake");
		return pub;
	}
	if (head == NULL) {
		snprintf(why, len, "relay %s sent no signed head of %s", via, region);
		return NULL;
	}
	if ((pub = chain_pub(node, region, head, why, len)) == NULL) {
		char w[REGISTRY_REASON_MAX];

		snprintf(w, sizeof(w), "%s", why);
		snprintf(why, len, "relay %s: %s", via, w);
	}
	return pub;
}

/* --- a node's key for its signed trace hops ------------------------------------------ */

static bool
der_is(const ProtobufCBinaryData *der, const uint8_t *kid, size_t kidlen)
{
	uint8_t d[SHA256_DIGEST_LENGTH];

	if (kidlen != sizeof(d) || der->len == 0)
		return false;
	SHA256(der->data, der->len, d);
	return memcmp(d, kid, sizeof(d)) == 0;
}

EVP_PKEY *
gw_mirror_node_key(struct gw_node *node, const char *region,
    const Axle__V1__SignedHead *head, const uint8_t *kid, size_t kidlen,
    char *why, size_t len)
{
	ProtobufCBinaryData link = { 0, NULL };
	EVP_PKEY *pub;

	/* The certificate its axle to us showed in the handshake. */
	if (gw_mirror_link_cert(node, region, &link) == 0) {
		bool same = der_is(&link, kid, kidlen);

		OPENSSL_free(link.data);
		if (same && (pub = link_pub(node, region)) != NULL)
			return pub;
	}
	if (head == NULL) {
		snprintf(why, len, "this node holds no signed head of %s's feed "
		    "(not mirrored yet), so no certificate of node %s", region, region);
		return NULL;
	}
	if (head->n_node_chain == 0 || !der_is(&head->node_chain[0], kid, kidlen)) {
		snprintf(why, len, "key_identity is not the certificate of node %s "
		    "in its newest signed head", region);
		return NULL;
	}
	return chain_pub(node, region, head, why, len);
}

/* --- withholding: a relay that serves old heads while newer ones exist --------------------- */

static uint32_t
stale_ms(const struct gw_mpeer *p)
{
	return p->m->node->cfg.registry.relay_stale_ms;
}

bool
gw_mirror_offer_fresher(struct gw_mpeer *p, const char *via, uint64_t seq, int64_t ms)
{
	if (p->via[0] == '\0' || strcmp(p->via, via) == 0 ||
	    strcmp(p->via, p->region) == 0 ||	/* the origin itself is never stale */
	    seq <= p->seq || p->signed_ms == 0 || ms < p->signed_ms + stale_ms(p))
		return false;
	/* Its word is not proof: the head it serves will be (gw_mirror_head_seen). */
	net_log(NET_LOG_INFO, "mirror_via", "peer=%s via=%s was=%s reason=\"it offers "
	    "entry %" PRIu64 " signed %" PRId64 " ms after the head %s serves\"",
	    p->region, via, p->via, seq, ms - p->signed_ms, p->via);
	snprintf(p->suspect, sizeof(p->suspect), "%s", p->via);
	p->suspect_seq = p->seq;
	p->suspect_ms = p->signed_ms;
	snprintf(p->via, sizeof(p->via), "%s", via);
	return true;
}

void
gw_mirror_head_seen(struct gw_mpeer *p, const char *via, const Axle__V1__SignedHead *head)
{
	int64_t t = registry_feed_head_time(head);
	uint8_t *buf;
	size_t n;
	char q[2 * REGISTRY_REASON_MAX];

	if (head->seq != p->seq || t <= p->signed_ms)
		return;
	p->signed_ms = t;
	if ((buf = pb_pack(&head->base, 0, &n)) != NULL) {
		free(p->fresh);
		p->fresh = buf;
		p->fresh_len = n;
	}
	if (p->suspect[0] == '\0' || strcmp(via, p->suspect) == 0)
		return;
	if (head->seq > p->suspect_seq && t >= p->suspect_ms + stale_ms(p)) {
		/* Cut to fit if need be (long region names): the relay comes first. */
		if (snprintf(p->fault, sizeof(p->fault), "relay %s withheld the feed of %s: "
		    "it served entry %" PRIu64 " as its newest, signed %" PRId64 " ms "
		    "before relay %s served entry %" PRIu64, p->suspect, p->region,
		    p->suspect_seq, t - p->suspect_ms, via, head->seq) < 0)
			p->fault[0] = '\0';
		snprintf(p->shunned, sizeof(p->shunned), "%s", p->suspect);
		net_log(NET_LOG_WARN, "mirror_relay_stale", "peer=%s relay=%s via=%s "
		    "reason=%s", p->region, p->suspect, via,
		    net_log_quote(q, sizeof(q), p->fault, strlen(p->fault)));
	}
	p->suspect[0] = '\0';
}
