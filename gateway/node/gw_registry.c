/* gw_registry.c -- the register inside the node: databases, resolution index, signing key (the module: mod_registry.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "gateway/node/gw_registry.h"
#include "gateway/net/hostport.h"
#include "gateway/net/log.h"
#include "gateway/net/rpc.h"
#include "gateway/node/node.h"
#include "gateway/node/peers.h"
#include "gateway/node/store.h"
#include "proto/pb.h"
#include "registry/error.h"
#include "registry/feed.h"
#include "registry/mirror.h"
#include "registry/node_record.h"
#include "registry/registrar.h"

#define KEY_FILE_MAX	(64u << 10)	/* a PEM private key is a few hundred bytes */

int64_t
gw_registry_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
open_dbs(MDB_txn *txn, struct store *st, void *arg)
{
	struct gw_node *node = arg;
	struct registry_outcome res = { 0 };
	int rc;

	(void)st;
	rc = registry_db_open(txn, node->cfg.region, &node->registry->db, &res);
	if (rc != REGISTRY_OK)
		net_log(NET_LOG_ERR, "registry_open_failed", "error=\"%s\"", res.reason);
	return rc == REGISTRY_OK ? 0 : (res.mdb_rc != 0 ? res.mdb_rc : -EINVAL);
}

/* --- revoked certificate identities ---------------------------------------------- */

static bool
revoked_has(const struct gw_registry *reg, const char *uri)
{
	for (size_t i = 0; i < reg->nrevoked; i++)
		if (strcmp(reg->revoked[i], uri) == 0)
			return true;
	return false;
}

/* Revocation is final, so the set only grows (a reindex rebuilds it). */
static int
revoked_add(struct gw_registry *reg, const char *uri)
{
	char *dup;

	if (uri == NULL || uri[0] == '\0' || revoked_has(reg, uri))
		return 0;
	if (reg->nrevoked == reg->caprevoked) {
		size_t cap = reg->caprevoked ? reg->caprevoked * 2 : 16;
		char **nv = realloc(reg->revoked, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		reg->revoked = nv;
		reg->caprevoked = cap;
	}
	if ((dup = strdup(uri)) == NULL)
		return -1;
	reg->revoked[reg->nrevoked++] = dup;
	return 0;
}

static void
revoked_clear(struct gw_registry *reg)
{
	for (size_t i = 0; i < reg->nrevoked; i++)
		free(reg->revoked[i]);
	free(reg->revoked);
	reg->revoked = NULL;
	reg->nrevoked = reg->caprevoked = 0;
}

static int
collect_revoked(const Axle__V1__Registrar *r, void *arg)
{
	if (r->status != AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED)
		return 0;
	return revoked_add(arg, r->cert_identity) == 0 ? 0 : REGISTRY_ENOMEM;
}

/* A node record (any region's): its node is reachable on demand (peers.c). */
static void
note_node(struct gw_node *node, const Axle__V1__Registrar *r)
{
	struct registry_node nr;

	if (registry_node_of(r, &nr))
		gw_peers_publish(node, &nr);
}

struct collect_ctx {
	struct gw_node *node;
	struct registry_keyring *keys;
};

static int
collect_record(const Axle__V1__Registrar *r, void *arg)
{
	struct collect_ctx *cc = arg;
	int rc = registry_keyring_apply(cc->keys, r);

	if (rc == REGISTRY_ENOMEM)
		return rc;
	note_node(cc->node, r);
	return collect_revoked(r, cc->node->registry);
}

bool
gw_registry_member_revoked(struct gw_node *node, const struct net_identity *who)
{
	struct registry_resolution res;

	if (who == NULL || who->role != NET_ROLE_MEMBER || node->registry == NULL)
		return false;
	if (revoked_has(node->registry, who->uri))
		return true;
	registry_resolve(node->registry->idx, who->address, &res);
	return res.match.kind == REGISTRY_PREFIX_DELEGATION &&
	    res.match.registrar_status ==
	    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED;
}

/* --- what a member acts as ---------------------------------------------------------- */

bool
gw_registry_acting_identity(struct gw_node *node, const struct net_identity *who,
    const char *addr, struct net_identity *as)
{
	struct registry_outcome out = { 0 };
	struct registry_resolution res;
	Axle__V1__Registrar *r = NULL;
	const char *prefix;
	MDB_txn *txn;
	bool widened = false;

	*as = *who;
	if (who->role != NET_ROLE_MEMBER || node->registry == NULL || addr == NULL ||
	    registry_address_covers(who->address, addr) ||
	    !registry_resolve(node->registry->idx, addr, &res) ||
	    res.match.region == NULL || gw_store_read_begin(node->store, &txn) != 0)
		return false;
	if (registry_db_get(txn, &node->registry->db, res.match.region,
	    res.match.registrar_id, &r, &out) == REGISTRY_OK &&
	    (prefix = registry_registrar_acting_prefix(r, who->uri, addr)) != NULL) {
		snprintf(as->address, sizeof(as->address), "%s", prefix);
		widened = true;
	}
	mdb_txn_abort(txn);
	if (r != NULL)
		pb_free(&r->base);
	return widened;
}

/* --- the index ------------------------------------------------------------------- */

static void
add_mirrored_region(void *arg, const char *region,
    const struct registry_mirror_state *st)
{
	(void)st;
	/* Already there (a configured peer) or out of memory: resolution degrades only. */
	(void)registry_index_add_region(arg, region, REGISTRY_PREFIX_PEER_REGION);
}

static int
build_index(struct gw_node *node, struct registry_index **out,
    struct registry_keyring **keys, size_t *skipped, char *err, size_t errlen)
{
	struct gw_registry *reg = node->registry;
	struct collect_ctx cc = { node, registry_keyring_new() };
	struct registry_outcome res = { 0 };
	struct registry_index *idx;
	uint8_t hash[REGISTRY_HASH_LEN];
	MDB_txn *txn;
	int rc;

	if (cc.keys == NULL || (idx = registry_index_new(1024)) == NULL) {
		registry_keyring_free(cc.keys);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = gw_store_read_begin(node->store, &txn)) != 0) {
		registry_index_free(idx);
		registry_keyring_free(cc.keys);
		snprintf(err, errlen, "read transaction: %s", gw_store_strerror(rc));
		return -1;
	}
	rc = registry_index_load(txn, &reg->db, idx, skipped, &res);
	if (rc == REGISTRY_OK) {
		revoked_clear(reg);
		rc = registry_db_walk(txn, &reg->db, NULL, NULL, collect_record,
		    &cc, &res);
	}
	if (rc == REGISTRY_OK)
		rc = registry_db_head(txn, &reg->db, &reg->feed_seq, hash, &res);
	/* Regions mirrored through relays: their prefixes resolve as regions too. */
	if (rc == REGISTRY_OK)
		rc = registry_mirror_regions(txn, &reg->db,
		    node->cfg.registry.max_origins, add_mirrored_region, idx, &res);
	mdb_txn_abort(txn);
	for (size_t i = 0; rc == REGISTRY_OK && i < node->cfg.npeers; i++)
		rc = registry_index_add_region(idx, node->cfg.peers[i].region,
		    REGISTRY_PREFIX_PEER_REGION);
	if (rc != REGISTRY_OK) {
		snprintf(err, errlen, "loading the register: %s",
		    res.reason[0] ? res.reason : registry_strerror(rc));
		registry_index_free(idx);
		registry_keyring_free(cc.keys);
		return -1;
	}
	*out = idx;
	*keys = cc.keys;
	return 0;
}

int
gw_registry_reindex(struct gw_node *node, char *err, size_t errlen)
{
	struct registry_index *idx;
	struct registry_keyring *keys;
	size_t skipped = 0;

	if (build_index(node, &idx, &keys, &skipped, err, errlen) != 0)
		return -1;
	registry_index_free(node->registry->idx);
	registry_keyring_free(node->registry->keys);
	node->registry->idx = idx;
	node->registry->keys = keys;
	node->registry->mirror_skipped = skipped;
	net_log(NET_LOG_INFO, "registry_index", "prefixes=%zu mirror_skipped=%zu "
	    "revoked_identities=%zu keys=%zu feed_seq=%" PRIu64,
	    registry_index_count(idx), skipped, node->registry->nrevoked,
	    registry_keyring_keys(keys), node->registry->feed_seq);
	return 0;
}

/* --- the signing key ------------------------------------------------------------- */

/* Reads the node's key (mode already checked at start-up); wipes the file's bytes. */
static EVP_PKEY *
load_key(const char *path, char *err, size_t errlen)
{
	unsigned char *buf = malloc(KEY_FILE_MAX);
	EVP_PKEY *key = NULL;
	FILE *f = fopen(path, "rb");
	size_t n = 0;
	BIO *bio;

	if (buf == NULL || f == NULL) {
		snprintf(err, errlen, "%.200s: %s", path, buf == NULL ? "out of memory" :
		    strerror(errno));
		goto out;
	}
	n = fread(buf, 1, KEY_FILE_MAX, f);
	if (ferror(f) || n == KEY_FILE_MAX) {
		snprintf(err, errlen, "%.200s: %s", path, ferror(f) ? "read error" :
		    "larger than a private key");
		goto out;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)n)) != NULL) {
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (key == NULL)
		snprintf(err, errlen, "%.200s: not a PEM private key", path);
	ERR_clear_error();
out:
	if (f != NULL)
		fclose(f);
	if (buf != NULL)
		OPENSSL_cleanse(buf, KEY_FILE_MAX);
	free(buf);
	return key;
}

/* Reads the node's certificate chain (PEM) as DER: heads carry it to nodes beyond the peers. */
static void
load_chain(struct gw_registry *reg, const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *c;

	while (bio != NULL && reg->nchain < 4 &&
	    (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(c, &der);
		ProtobufCBinaryData *nc;

		X509_free(c);
		if (n <= 0 || (nc = realloc(reg->chain, (reg->nchain + 1) *
		    sizeof(*nc))) == NULL) {
			OPENSSL_free(der);
			break;
		}
		reg->chain = nc;
		reg->chain[reg->nchain].data = der;
		reg->chain[reg->nchain++].len = (size_t)n;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (reg->nchain == 0)
		net_log(NET_LOG_WARN, "registry_no_chain", "file=%s error=\"no "
		    "certificate read: nodes beyond the peers cannot verify this "
		    "node's feed when it is relayed\"", path);
}

static void
free_chain(struct gw_registry *reg)
{
	for (size_t i = 0; i < reg->nchain; i++)
		OPENSSL_free(reg->chain[i].data);
	free(reg->chain);
	reg->chain = NULL;
	reg->nchain = 0;
}

/*
 * The key must sign feed heads (EC P-256). A node whose key cannot is still
 * useful (it resolves from its peers), so this is a warning, not a refusal:
 * its Feed answers UNAVAILABLE and says why.
 */
static void
setup_signing(struct gw_node *node)
{
	struct gw_registry *reg = node->registry;
	static uint8_t zero[REGISTRY_HASH_LEN];
	Axle__V1__SignedHead h = AXLE__V1__SIGNED_HEAD__INIT;
	char err[REGISTRY_REASON_MAX];
	EVP_PKEY *key;

	snprintf(reg->key_identity, sizeof(reg->key_identity), "axle://%s/node/%s",
	    node->cfg.federation, node->cfg.region);
	load_chain(reg, node->cfg.cert_file);
	if ((key = load_key(node->cfg.key_file, err, sizeof(err))) == NULL) {
		net_log(NET_LOG_WARN, "registry_no_signing_key", "error=\"%s\"", err);
		return;
	}
	h.region = node->cfg.region;
	h.hash.data = zero;
	h.hash.len = sizeof(zero);
	if (registry_feed_sign_head(key, &h, err, sizeof(err)) != REGISTRY_OK) {
		net_log(NET_LOG_WARN, "registry_no_signing_key", "error=\"%s\"", err);
		EVP_PKEY_free(key);
		return;
	}
	free(h.signature.data);
	free(h.time_signature.data);
	reg->sign_key = key;
}

/*
 * SIGHUP, after the TLS reload: a renewed certificate and key (new key, same
 * identity) sign the feed from now on, but only if they are what TLS now
 * serves, so that heads and handshakes never disagree about this node's
 * key. Heads carry the chain, so mirrors verify them with the new key even
 * over a link made before the renewal (gw_mirror_origin_pub).
 */
void
gw_registry_reload_signing(struct gw_node *node)
{
	struct gw_registry *reg = node->registry;
	struct gw_registry fresh = { .nchain = 0 };
	X509 *serving = node->srv.ctx != NULL ?
	    SSL_CTX_get0_certificate(node->srv.ctx) : NULL;
	unsigned char *der = NULL;
	char err[REGISTRY_REASON_MAX];
	EVP_PKEY *key = NULL;
	int n = serving != NULL ? i2d_X509(serving, &der) : -1;

	if (reg == NULL || n <= 0)
		goto out;
	if (reg->nchain > 0 && reg->chain[0].len == (size_t)n &&
	    memcmp(reg->chain[0].data, der, (size_t)n) == 0)
		goto out;		/* the same certificate: nothing to do */
	load_chain(&fresh, node->cfg.cert_file);
	if (fresh.nchain == 0 || fresh.chain[0].len != (size_t)n ||
	    memcmp(fresh.chain[0].data, der, (size_t)n) != 0) {
		net_log(NET_LOG_WARN, "registry_signing_kept", "file=%s reason=\"the "
		    "certificate file is not what TLS serves (did the TLS reload "
		    "fail?); the feed stays signed with the previous key\"",
		    node->cfg.cert_file);
		goto out;
	}
	if ((key = load_key(node->cfg.key_file, err, sizeof(err))) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(serving), key) != 1) {
		net_log(NET_LOG_WARN, "registry_signing_kept", "file=%s reason=\"%s; "
		    "the feed stays signed with the previous key\"", node->cfg.key_file,
		    key == NULL ? err : "the key is not the certificate's");
		goto out;
	}
	EVP_PKEY_free(reg->sign_key);
	free_chain(reg);
	reg->sign_key = key;
	reg->chain = fresh.chain;
	reg->nchain = fresh.nchain;
	key = NULL;
	fresh.chain = NULL;
	fresh.nchain = 0;
	net_log(NET_LOG_INFO, "registry_signing_renewed", "identity=%s "
	    "chain=%zu", reg->key_identity, reg->nchain);
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	free_chain(&fresh);
	OPENSSL_free(der);
}

/* --- what the module's start, stop and metrics do here (mod_registry.c) --------- */

int
gw_registry_open(struct gw_node *node, char *err, size_t errlen)
{
	int rc;

	if ((node->registry = calloc(1, sizeof(*node->registry))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = gw_store_write_now(node->store, open_dbs, node)) != 0) {
		snprintf(err, errlen, "opening the register's databases: %s",
		    gw_store_strerror(rc));
		return -1;
	}
	if (gw_registry_reindex(node, err, errlen) != 0)
		return -1;
	setup_signing(node);
	return 0;
}

void
gw_registry_close(struct gw_node *node)
{
	struct gw_registry *reg = node->registry;

	if (reg == NULL)
		return;
	registry_index_free(reg->idx);
	registry_keyring_free(reg->keys);
	EVP_PKEY_free(reg->sign_key);
	free_chain(reg);
	revoked_clear(reg);
	free(reg);
	/* Completions still queued in the store see NULL and only clean up. */
	node->registry = NULL;
}

void
gw_registry_metrics(struct gw_node *node, struct evbuffer *out)
{
	struct gw_registry *reg = node->registry;

	if (reg == NULL)
		return;
	evbuffer_add_printf(out,
	    "# HELP axle_registry_prefixes Prefixes known to the resolution index "
	    "(delegations and regions).\n# TYPE axle_registry_prefixes gauge\n"
	    "axle_registry_prefixes %zu\n"
	    "# HELP axle_registry_changes_total Changes to this node's register "
	    "committed since start.\n# TYPE axle_registry_changes_total counter\n"
	    "axle_registry_changes_total %" PRIu64 "\n"
	    "# HELP axle_registry_feed_seq Sequence number of this node's feed head.\n"
	    "# TYPE axle_registry_feed_seq gauge\naxle_registry_feed_seq %" PRIu64 "\n"
	    "# HELP axle_registry_signing Whether this node can sign its feed head.\n"
	    "# TYPE axle_registry_signing gauge\naxle_registry_signing %d\n"
	    "# HELP axle_registry_keys Published keys FindKeys looks up (this "
	    "register's and the mirrors').\n# TYPE axle_registry_keys gauge\n"
	    "axle_registry_keys %zu\n",
	    registry_index_count(reg->idx), reg->changes_total, reg->feed_seq,
	    reg->sign_key != NULL, registry_keyring_keys(reg->keys));
}

bool
gw_registry_resolve(struct gw_node *node, const char *address,
    struct registry_resolution *out)
{
	return registry_resolve(node->registry->idx, address, out);
}

bool
gw_registry_find_keys(struct gw_node *node, const char *address,
    Axle__V1__KeyUse use, struct registry_key_answer *out)
{
	return registry_keys_find(node->registry->keys, node->registry->idx, address,
	    use, gw_registry_now_ms(), out);
}

int
gw_registry_applied(struct gw_node *node, const Axle__V1__Registrar *r)
{
	int rc;

	if (node->registry == NULL || r == NULL)
		return REGISTRY_EINVAL;
	rc = registry_index_apply(node->registry->idx, r);
	if (rc != REGISTRY_OK)
		net_log(rc == REGISTRY_EEXIST ? NET_LOG_WARN : NET_LOG_ERR,
		    "registry_index_apply", "registrar=%s region=%s result=%s",
		    r->id, r->region, registry_strerror(rc));
	if (registry_keyring_apply(node->registry->keys, r) != REGISTRY_OK)
		net_log(NET_LOG_ERR, "registry_keyring_apply", "registrar=%s region=%s "
		    "error=\"out of memory: its keys are not found until a restart\"",
		    r->id, r->region);
	note_node(node, r);
	if (collect_revoked(r, node->registry) != 0)
		net_log(NET_LOG_ERR, "registry_revoked_set", "registrar=%s "
		    "error=\"out of memory\"", r->id);
	return rc;
}

/* --- shared by the handlers of PublishNode and SplitRegion ------------------------------- */

bool
gw_endpoint_refused(struct net_call *call, const char *endpoint)
{
	char host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1];
	const char *herr = NULL;

	if (endpoint == NULL || endpoint[0] == '\0' || net_hostport_split(endpoint,
	    host, sizeof(host), port, sizeof(port), &herr) == 0)
		return false;
	net_call_error(call, GRPC_INVALID_ARGUMENT, "bad endpoint %s: %s "
	    "(host:port or [v6]:port)", endpoint, herr);
	return true;
}
