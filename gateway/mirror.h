/* mirror.h -- pulls each peer's register feed into this node's read-only mirror of it. */
#ifndef AXLE_GW_MIRROR_H
#define AXLE_GW_MIRROR_H

#include <stddef.h>

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
 * Appends axle_mirror_last_seq, axle_mirror_lag_seconds (time since a pull
 * last reached the peer's head; since start if none has) and
 * axle_mirror_broken, each per {peer="<region>"}.
 */
void gw_mirror_metrics(struct gw_node *node, struct evbuffer *out);

/* The last seq mirrored of region (0: none, or not a peer). Loop thread. */
unsigned long long gw_mirror_seq(struct gw_node *node, const char *region);

#endif
