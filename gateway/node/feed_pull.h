/* feed_pull.h -- pulls each peer's register feed into this node's read-only mirror of it. */
#ifndef AXLE_GW_MIRROR_H
#define AXLE_GW_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "axle/v1/axle.pb-c.h"

struct evbuffer;
struct gw_node;

/*
 * Starts a mirror per configured peer: reads where each stands
 * (reg.mirror_state: last seq, broken or not), then pulls the peer's feed
 * with Axle.Feed from the next seq, verifies and applies each batch in a
 * store write (registry_mirror_apply), updates the index once it committed,
 * and pulls again at once. At the head a pull is a long poll (wait_ms): the
 * peer answers when it commits a change. A pull that fails, or a peer that
 * does not hold it, is retried after [registry] mirror_interval_ms. A broken chain or bad signature stops that
 * peer's mirror for good (logged, axle_mirror_broken{peer} = 1): nothing of
 * it is applied. Needs node->registry set up and the peers started.
 * Returns 0 or -1 with err.
 */
int gw_mirror_start(struct gw_node *node, char *err, size_t errlen);

/* Cancels timers and frees; pulls and writes in flight drop their results. */
void gw_mirror_stop(struct gw_node *node);

/*
 * After gw_mirror_start: asks each configured peer every 5 s which regions'
 * feeds it holds (Axle.Origins) and mirrors each region it lacks from the
 * peer closest to its origin (feed_relay.c). Stop before gw_mirror_stop.
 * Returns 0 or -1 with err.
 */
int gw_mirror_links_start(struct gw_node *node, char *err, size_t errlen);
void gw_mirror_links_stop(struct gw_node *node);

/*
 * Appends axle_mirror_last_seq, axle_mirror_lag_seconds (gw_mirror_lag_ms)
 * and axle_mirror_broken, each per {peer="<region>"}.
 */
void gw_mirror_metrics(struct gw_node *node, struct evbuffer *out);

/*
 * Called once a reset ends: status GRPC_OK (0) with the seq that was held and whether
 * the mirror was broken, or another gRPC status with err (nothing was
 * forgotten).
 */
typedef void gw_mirror_reset_cb(void *arg, int status, const char *err,
    uint64_t dropped_seq, bool was_broken);

/*
 * Forgets everything mirrored of peer region (entries, records, state) in
 * one store write, then rebuilds the index and mirrors the peer again from
 * seq 1, verifying its chain and signed head as always. For an admin, after
 * the peer lost its data and began a new history (which breaks the mirror
 * for good). Pulls in flight are voided; by and reason are logged
 * (mirror_reset). Returns GRPC_OK (cb will be called from the loop thread),
 * else a gRPC status with err (cb will not be called): NOT_FOUND (not a
 * peer), ABORTED (a reset already under way), UNAVAILABLE,
 * RESOURCE_EXHAUSTED.
 */
int gw_mirror_reset(struct gw_node *node, const char *region, const char *by,
    const char *reason, gw_mirror_reset_cb *cb, void *arg, char *err,
    size_t errlen);

/*
 * The mirror lag of peer region: the age of the newest head of its feed that
 * this node has confirmed it holds, i.e. now minus when the peer last
 * answered a pull that left us at its head (entries up to its head, applied
 * and committed, or a long poll's "no change"). Before the first such answer
 * since start (or a reset), the time since then. A healthy peer, idle or
 * busy, confirms at least every 5 s; a stopped one lets it grow. The one
 * definition behind /metrics and Node.Info. Returns false if region is not
 * a mirrored peer. Loop thread.
 */
bool gw_mirror_lag_ms(struct gw_node *node, const char *region,
    int64_t *lag_ms);

/*
 * Fills out[0..max) with the origins this node mirrors and pulls (region,
 * last seq, hops, via, broken and why, when the origin signed the newest
 * head seen); the strings point into the mirror (valid until the loop runs
 * on). Returns how many. Loop thread; walks memory bounded by max_origins.
 */
size_t gw_mirror_origins(struct gw_node *node, Axle__V1__OriginHead *out,
    size_t max);

/*
 * The freshest head of region's origin this node verified, packed, if it is
 * at seq (what a relayed Feed at the head answers with, so that its time
 * stays the origin's latest word). Valid until the loop runs on.
 */
bool gw_mirror_fresh_head(struct gw_node *node, const char *region, uint64_t seq,
    const uint8_t **data, size_t *len);

/* How many origins this node mirrors (direct peers and relayed regions). */
size_t gw_mirror_count(struct gw_node *node);

/* The last seq mirrored of region (0: none, or not a peer). Loop thread. */
unsigned long long gw_mirror_seq(struct gw_node *node, const char *region);

/*
 * The public key of the node of region whose certificate has key identity
 * kid (SHA-256 of its DER), from the newest signed head of region's feed
 * this node holds (its node_chain, verified to the federation's CA and
 * naming that region's node), or NULL with why. The caller frees it.
 * Loop thread.
 */
EVP_PKEY *gw_mirror_node_pub(struct gw_node *node, const char *region,
    const uint8_t *kid, size_t kidlen, char *why, size_t len);

#endif
