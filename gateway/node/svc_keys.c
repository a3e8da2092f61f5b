/* svc_keys.c -- axle.v1.Registry PublishKey, WithdrawKey and FindKeys: hubs' signing and sealing certificates in the register. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/net/log.h"
#include "gateway/net/tls.h"
#include "gateway/node/feed_pull.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/node.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"
#include "proto/pb.h"
#include "registry/address.h"
#include "registry/error.h"
#include "registry/keys.h"
#include "registry/registrar.h"

/* --- the certificate: chains to the federation's CA ---------------------------- */

/*
 * Verifies der to this node's trust store (the CAs and CRLs its TLS
 * trusts) and that the chain ends in a CA of this node's federation.
 * Returns 0, or -1 with why.
 */
static int
chain_check(struct gw_node *node, const ProtobufCBinaryData *der, char *why,
    size_t len)
{
	X509_STORE *store = node->client_ctx != NULL ?
	    SSL_CTX_get_cert_store(node->client_ctx) : NULL;
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	const unsigned char *p = der->data;
	X509 *leaf = d2i_X509(NULL, &p, (long)der->len), *root, *a;
	STACK_OF(X509) *chain;
	const char *fed;
	int rc = -1;

	if (store == NULL || vctx == NULL || leaf == NULL) {
		snprintf(why, len, "%s", leaf == NULL ? "the certificate does not "
		    "parse" : "this node has no trust store to check it against");
		goto out;
	}
	if (X509_STORE_CTX_init(vctx, store, leaf, NULL) != 1 ||
	    X509_verify_cert(vctx) != 1) {
		snprintf(why, len, "the certificate does not verify to the "
		    "federation's CA: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(vctx);
	root = sk_X509_value(chain, sk_X509_num(chain) - 1);
	for (size_t i = 0; (a = net_tls_anchor(node->client_ctx, i, &fed)) != NULL; i++)
		if (X509_cmp(a, root) == 0 && strcmp(fed, node->cfg.federation) == 0)
			rc = 0;
	if (rc != 0)
		snprintf(why, len, "the certificate chains to a CA that does not "
		    "vouch for federation %s", node->cfg.federation);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_free(leaf);
	return rc;
}

/* A refused certificate: logged with the values from the network quoted. */
static void
log_refused(const char *registrar, const char *actor, const char *why)
{
	char qr[REGISTRY_ID_MAX * 4 + 8], qw[REGISTRY_REASON_MAX * 4 + 8];

	net_log(NET_LOG_INFO, "registry_key_refused", "registrar=%s actor=%s "
	    "reason=%s", net_log_quote(qr, sizeof(qr), registrar, strlen(registrar)),
	    actor, net_log_quote(qw, sizeof(qw), why, strlen(why)));
}

/* --- the writes ------------------------------------------------------------------ */

struct kwrite {
	struct net_call *call;
	struct gw_node *node;
	struct registry_db db;		/* a copy: the writer never reads node state */
	bool publish;			/* else withdraw */
	char id[REGISTRY_ID_MAX + 1];
	char actor[NET_URI_MAX + 1];
	int64_t at_ms;
	/* publish: the key as checked (pointing into the call's request and here) */
	Axle__V1__PublishedKey key;
	uint8_t fpr[REGISTRY_KEY_FPR_LEN];
	char identity[REGISTRY_KEY_URI_MAX];
	char scope[ADDR_MAX_LEN + 1];
	const Axle__V1__WithdrawKeyRequest *wd;
	int lrc;
	int status;			/* a refusal found inside the write */
	struct registry_outcome res;
	Axle__V1__Registrar *out;
};

/* Re-checks what the register may have changed since the call was read. */
static int
kwrite_recheck(MDB_txn *txn, struct kwrite *w)
{
	Axle__V1__Registrar *r = NULL;
	int rc = registry_db_get(txn, &w->db, NULL, w->id, &r, &w->res);

	if (rc == REGISTRY_OK) {
		char reason[REGISTRY_REASON_MAX];

		rc = registry_key_cert_check(w->key.certificate.data,
		    w->key.certificate.len, w->key.use, w->node->cfg.federation, r,
		    w->at_ms, &w->key, w->fpr, w->identity, reason, sizeof(reason));
		if (rc != REGISTRY_OK)
			registry_fail(rc, w->res.reason, sizeof(w->res.reason), "%s", reason);
		w->key.scope = w->scope;
	}
	pb_free(r != NULL ? &r->base : NULL);
	return rc;
}

static int
kwrite_fn(MDB_txn *txn, struct store *st, void *arg)
{
	struct kwrite *w = arg;
	struct registry_change ch = { w->actor, w->at_ms };

	(void)st;
	if (w->publish) {
		if ((w->lrc = kwrite_recheck(txn, w)) == REGISTRY_OK)
			w->lrc = registry_db_publish_key(txn, &w->db, &ch, w->id,
			    &w->key, &w->out, &w->res);
	} else {
		w->lrc = registry_db_withdraw_key(txn, &w->db, &ch, w->id,
		    w->wd->fingerprint.data, w->wd->fingerprint.len, w->wd->reason,
		    &w->out, &w->res);
	}
	return w->lrc == REGISTRY_OK ? 0 : 1;
}

static void
kwrite_reply(struct kwrite *w)
{
	if (w->publish) {
		Axle__V1__PublishKeyResponse r = AXLE__V1__PUBLISH_KEY_RESPONSE__INIT;
		int at = registry_registrar_key_index(w->out, w->fpr, sizeof(w->fpr));

		r.registrar = w->out;
		r.feed_seq = w->res.feed_seq;
		r.key = at >= 0 ? w->out->keys[at] : NULL;
		net_call_reply(w->call, &r.base);
	} else {
		Axle__V1__WithdrawKeyResponse r = AXLE__V1__WITHDRAW_KEY_RESPONSE__INIT;

		r.registrar = w->out;
		r.feed_seq = w->res.feed_seq;
		net_call_reply(w->call, &r.base);
	}
}

static void
kwrite_done(int rc, void *arg)
{
	struct kwrite *w = arg;
	char hex[REGISTRY_KEY_FPR_HEX];
	ProtobufCBinaryData f = { sizeof(w->fpr), w->fpr };

	if (rc != 0 && w->lrc != REGISTRY_OK) {
		log_refused(w->id, w->actor, w->res.reason);
		gw_registry_call_fail(w->call, w->lrc, &w->res);
	} else if (rc != 0) {
		net_call_error(w->call, gw_store_rc_grpc_status(rc), "the register could "
		    "not commit the change: %s", gw_store_strerror(rc));
	} else {
		gw_registry_committed(w->node, w->out, NULL, w->res.feed_seq);
		if (!w->publish)
			f = w->wd->fingerprint;
		registry_key_fpr_hex(&f, hex);
		net_log(NET_LOG_INFO, "registry_change", "change=%s registrar=%s "
		    "actor=%s fingerprint=%s feed_seq=%" PRIu64, w->publish ?
		    "publish_key" : "withdraw_key", w->id, w->actor, hex,
		    w->res.feed_seq);
		kwrite_reply(w);
	}
	pb_free(w->out ? &w->out->base : NULL);
	free(w);
}

static struct kwrite *
kwrite_new(struct net_call *call, const char *want)
{
	struct kwrite *w;
	char id[REGISTRY_ID_MAX + 1];

	if (gw_registry_act_for(call, want, id, sizeof(id)) != 0)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	w->call = call;
	w->node = net_call_node(call);
	w->db = w->node->registry->db;
	memcpy(w->id, id, sizeof(id));
	snprintf(w->actor, sizeof(w->actor), "%s", net_call_caller(call)->uri);
	w->at_ms = gw_registry_now_ms();
	return w;
}

static void
kwrite_submit(struct kwrite *w)
{
	int rc = gw_store_submit_new(w->node->store, kwrite_fn, kwrite_done, w);

	if (rc != 0) {
		net_call_error(w->call, GRPC_UNAVAILABLE, "the register cannot take "
		    "changes now: %s", gw_store_strerror(rc));
		free(w);
	}
}

/* --- PublishKey, WithdrawKey (a member for its registrar, or an admin) ------------- */

static void
keys_publish(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__PublishKeyRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	char why[REGISTRY_REASON_MAX];
	struct kwrite *w;

	if (req->use != AXLE__V1__KEY_USE__KEY_USE_SIGNING &&
	    req->use != AXLE__V1__KEY_USE__KEY_USE_SEALING) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "use must be SIGNING or "
		    "SEALING");
		return;
	}
	if (req->certificate.len == 0 || req->certificate.len > REGISTRY_KEY_CERT_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "certificate: DER, 1 to "
		    "%u bytes (it is %zu)", REGISTRY_KEY_CERT_MAX, req->certificate.len);
		return;
	}
	if (chain_check(node, &req->certificate, why, sizeof(why)) != 0) {
		log_refused(req->registrar_id[0] ? req->registrar_id : "-",
		    net_call_caller(call)->uri, why);
		net_call_error(call, GRPC_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if ((w = kwrite_new(call, req->registrar_id)) == NULL)
		return;
	w->publish = true;
	w->key.use = req->use;
	w->key.certificate = req->certificate;	/* the call's: alive until it ends */
	snprintf(w->scope, sizeof(w->scope), "%s", req->scope);
	if (strlen(req->scope) >= sizeof(w->scope)) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "scope is longer than an "
		    "address (%d bytes)", ADDR_MAX_LEN);
		free(w);
		return;
	}
	kwrite_submit(w);
}

static void
keys_withdraw(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__WithdrawKeyRequest *req = (const void *)m;
	struct kwrite *w;

	if (req->fingerprint.len != REGISTRY_KEY_FPR_LEN) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "fingerprint must be the "
		    "32-byte SHA-256 of the certificate's DER (it is %zu bytes)",
		    req->fingerprint.len);
		return;
	}
	if (strlen(req->reason) >= REGISTRY_REASON_MAX) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "reason: at most %d bytes",
		    REGISTRY_REASON_MAX - 1);
		return;
	}
	if ((w = kwrite_new(call, req->registrar_id)) == NULL)
		return;
	w->wd = req;
	kwrite_submit(w);
}

/* --- FindKeys (anyone of the federation) ------------------------------------------ */

static void
keys_find(struct net_call *call, const ProtobufCMessage *m)
{
	const Axle__V1__FindKeysRequest *req = (const void *)m;
	struct gw_node *node = net_call_node(call);
	Axle__V1__FindKeysResponse resp = AXLE__V1__FIND_KEYS_RESPONSE__INIT;
	char addr[ADDR_MAX_LEN + 1], why[REGISTRY_REASON_MAX];
	struct registry_key_answer a;

	if (gw_registry_parse_target(req->address, addr, why, sizeof(why)) != 0) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "bad address: %s", why);
		return;
	}
	if (req->use < AXLE__V1__KEY_USE__KEY_USE_UNSPECIFIED ||
	    req->use > AXLE__V1__KEY_USE__KEY_USE_SEALING) {
		net_call_error(call, GRPC_INVALID_ARGUMENT, "unknown use %d", (int)req->use);
		return;
	}
	gw_registry_find_keys(node, addr, req->use, &a);
	resp.address = addr;
	resp.keys = (Axle__V1__PublishedKey **)a.keys;
	resp.n_keys = a.n;
	resp.registrar_id = (char *)(a.registrar_id != NULL ? a.registrar_id : "");
	resp.registrar_status = a.status;
	resp.region = (char *)(a.region != NULL ? a.region : node->cfg.region);
	resp.from_mirror = strcmp(resp.region, node->cfg.region) != 0;
	resp.feed_seq = resp.from_mirror ? gw_mirror_seq(node, resp.region) :
	    node->registry->feed_seq;
	resp.reason = a.reason;
	net_call_reply(call, &resp.base);
}

static int
keys_ready(struct net_call *call)
{
	struct gw_node *node = net_call_node(call);

	if (node->registry != NULL && node->store != NULL)
		return 1;
	net_call_error(call, GRPC_UNAVAILABLE, "the register is not available on this node");
	return 0;
}

#define KEYS_GUARDED(fn)						\
	static void fn##_guarded(struct net_call *c, const ProtobufCMessage *m) \
	{ if (keys_ready(c)) fn(c, m); }
KEYS_GUARDED(keys_publish)
KEYS_GUARDED(keys_withdraw)
KEYS_GUARDED(keys_find)

static const struct net_rpc_method methods[] = {
	{ "/axle.v1.Registry/PublishKey", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__publish_key_request__descriptor, keys_publish_guarded, 0 },
	{ "/axle.v1.Registry/WithdrawKey", NET_AUTHZ_MEMBER_OR_ADMIN,
	  &axle__v1__withdraw_key_request__descriptor, keys_withdraw_guarded, 0 },
	{ "/axle.v1.Registry/FindKeys", NET_AUTHZ_ANY,
	  &axle__v1__find_keys_request__descriptor, keys_find_guarded, 0 },
};

const struct net_rpc_service gw_svc_keys = { methods, sizeof(methods) / sizeof(methods[0]) };
