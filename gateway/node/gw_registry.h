/* gw_registry.h -- the register inside the node: its databases, the resolution index, what other modules ask of it. */
#ifndef AXLE_GW_GW_REGISTRY_H
#define AXLE_GW_GW_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "axle/v1/registry.pb-c.h"
#include "gateway/net/identity.h"
#include "gateway/node/module.h"
#include "registry/db.h"
#include "registry/keyring.h"
#include "registry/prefix_index.h"

struct evbuffer;
struct net_call;
struct gw_node;
struct gw_mirror;

struct gw_registry {
	struct registry_db db;		/* handles valid for the environment's life */
	struct registry_index *idx;	/* loop thread only; rebuilt by gw_registry_reindex */
	struct registry_keyring *keys;	/* published keys by registrar; with idx */
	size_t mirror_skipped;		/* mirrored prefixes that clashed at load */
	void *ext;			/* unused; kept for compatibility */
	EVP_PKEY *sign_key;		/* the node's private key: signs feed heads */
	char key_identity[NET_URI_MAX + 1];	/* axle://<fed>/node/<region> */
	uint64_t feed_seq;		/* this node's feed head (loop thread) */
	uint64_t changes_total;		/* local feed entries committed since start */
	char **revoked;			/* cert identities of revoked registrars (any region) */
	size_t nrevoked, caprevoked;
	struct gw_mirror *mirror;	/* feed_pull.c: pulls of the peers' feeds */
	void *feed_waiters;		/* svc_registry.c: Feed long polls parked */
	void (*feed_wake)(struct gw_node *);	/* gw_registry_feed_wake: feed_pull.c
						   calls it (a hook: no call cycle) */
	ProtobufCBinaryData *chain;	/* the node's certificate chain, DER: carried in heads */
	size_t nchain;
};

/* mod_registry.c: starts the register, then the pulls of the peers' feeds. */
extern const struct gw_module gw_registry_module;

/*
 * For the module (mod_registry.c): opens the databases into a new
 * node->registry, builds the index, loads the signing key. On -1 (err
 * set) node->registry may be left half made: gw_registry_close() it.
 */
int gw_registry_open(struct gw_node *node, char *err, size_t errlen);
/* Frees node->registry (NULL after; completions still queued see NULL). */
void gw_registry_close(struct gw_node *node);

/* SIGHUP: signs the feed with the renewed key and chain when they are what TLS now serves. */
void gw_registry_reload_signing(struct gw_node *node);
/* The register's own /metrics families (the module adds the mirrors'). */
void gw_registry_metrics(struct gw_node *node, struct evbuffer *out);

/*
 * Label-aligned longest-prefix resolution over the local register, the
 * mirrors and the peers' region prefixes (see registry_resolve). Strings in
 * *out are valid until the next change to the index (return to the loop).
 */
bool gw_registry_resolve(struct gw_node *node, const char *address,
    struct registry_resolution *out);

/*
 * The keys valid now for address (a parsed address) of use (UNSPECIFIED:
 * both), from this node's register and the mirrors: registry_keys_find
 * over the node's index and keyring. Pointers in *out are valid until the
 * next change (return to the loop). Loop thread only; allocates nothing.
 */
bool gw_registry_find_keys(struct gw_node *node, const char *address,
    Axle__V1__KeyUse use, struct registry_key_answer *out);

/*
 * After a committed change (local or mirrored): brings the index in line
 * with the record (and the keyring with its keys), and remembers the certificate identity of a revoked
 * registrar. Loop thread only. Returns a REGISTRY_* code (logged).
 */
int gw_registry_applied(struct gw_node *node, const Axle__V1__Registrar *r);

/*
 * After a local change committed: applies the record(s) after it (a, then
 * b; either may be NULL), counts them, moves this node's feed head to
 * feed_seq and answers the parked Feed long polls. Loop thread only. In
 * svc_registry.c (it wakes the Feed long polls parked there).
 */
void gw_registry_committed(struct gw_node *node, const Axle__V1__Registrar *a,
    const Axle__V1__Registrar *b, uint64_t feed_seq);

/* Rebuilds the index from the store (after a mirror reset, or to reclaim memory). */
int gw_registry_reindex(struct gw_node *node, char *err, size_t errlen);

/*
 * Must a member's certificate be refused because its registrar is revoked?
 * True when who is a member and either its URI is the certificate identity
 * of a revoked registrar (of any region, local or mirrored), or the
 * delegation covering its address belongs to a revoked registrar. Nodes and
 * admins: false. Loop thread only; allocates nothing. Every handler a
 * member may call should refuse (PERMISSION_DENIED) when this is true.
 */
bool gw_registry_member_revoked(struct gw_node *node, const struct net_identity *who);

/*
 * The identity a member acts with on address addr (sending from it, using
 * its mailbox): *as is a copy of who, and when addr lies outside who's
 * certificate prefix but inside a delegation whose registrar (in the
 * register: this node's or a mirrored one) names who's URI as its
 * certificate identity and is not revoked (registry_registrar_acting_prefix),
 * as->address is that delegation's prefix: a successor's certificate acts
 * for the prefixes re-homed to it, a registrar's for every prefix it holds.
 * Anything else (a narrower certificate, another member, a prefix nobody
 * holds, a store that cannot be read) leaves *as equal to *who, so the
 * usual prefix checks refuse it. Returns true if the register widened it.
 * Loop thread (one read transaction, a point lookup).
 */
bool gw_registry_acting_identity(struct gw_node *node,
    const struct net_identity *who, const char *addr, struct net_identity *as);

/*
 * In svc_registry.c, for the register's other handlers (svc_keys.c):
 * gw_registry_call_fail ends the call with the gRPC status of a registry/
 * result and its reason; gw_registry_act_for finds which registrar the
 * caller acts for, into id: an admin of this node for any (want, required),
 * a member for the registrar whose delegation here covers its address, or
 * whose certificate identity it holds; it ends the call and returns -1 when
 * it may not.
 */
/* An address, or an identifier whose address part is used, folded into addr; 0 or -1 with why. */
int gw_registry_parse_target(const char *in, char *addr, char *why, size_t whylen);
void gw_registry_call_fail(struct net_call *call, int rc,
    const struct registry_outcome *res);
int gw_registry_act_for(struct net_call *call, const char *want, char *id,
    size_t idlen);

/*
 * Ends every Feed long poll still parked with UNAVAILABLE (the node stops).
 * In svc_registry.c; called by the module's stop.
 */
void gw_registry_feed_release(struct gw_node *node);

/*
 * Answers every parked Feed long poll now (a change was committed to this
 * node's feed or to a mirror it relays). In svc_registry.c.
 */
void gw_registry_feed_wake(struct gw_node *node);

/* Wall clock in ms since the epoch (for feed entries and mirror state). */
int64_t gw_registry_now_ms(void);

/*
 * Ends call with INVALID_ARGUMENT and returns true if endpoint is neither
 * empty nor host:port (PublishNode, SplitRegion).
 */
struct net_call;
bool gw_endpoint_refused(struct net_call *call, const char *endpoint);

#endif
