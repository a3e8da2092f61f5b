/* feed_pull_priv.h -- the mirrors' shared state: feed_pull.c (pulling, applying), feed_relay.c (offers) and feed_trust.c (origin keys, withholding). */
#ifndef AXLE_GW_FEED_PULL_PRIV_H
#define AXLE_GW_FEED_PULL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/address.h"
#include "registry/error.h"
#include "registry/feed.h"

struct gw_node;
struct gw_mirror;

/* One origin region's mirror, as the loop thread sees it. */
struct gw_mpeer {
	struct gw_mirror *m;
	char region[ADDR_MAX_LEN + 1];		/* the origin */
	char via[ADDR_MAX_LEN + 1];		/* the peer pulled from ("" : none offers it yet) */
	unsigned hops;				/* 1: from the origin; n: through n-1 relays */
	uint64_t seq;				/* last entry applied */
	uint8_t hash[REGISTRY_HASH_LEN];	/* its hash */
	bool broken;
	char reason[REGISTRY_REASON_MAX];	/* why broken (names the relay at fault) */
	char fault[REGISTRY_REASON_MAX];	/* the last refused answer, if any */
	bool resetting;				/* a reset is on its way through the store */
	unsigned gen;				/* bumped by a reset: older pulls are void */
	bool busy;				/* a pull or its write in flight */
	bool down;				/* the last pull failed (logged once) */
	int64_t confirmed_ms;			/* monotonic: when the newest head we
						   hold was the peer's (see gw_mirror_lag_ms) */
	int64_t signed_ms;			/* when the origin vouched (time signature)
						   it was at the newest head seen */
	uint8_t *fresh;				/* that head, packed, at seq: relayed on */
	size_t fresh_len;
	char suspect[ADDR_MAX_LEN + 1];		/* a relay left for serving old heads */
	uint64_t suspect_seq;			/* ... the newest entry it served */
	int64_t suspect_ms;			/* ... signed then */
	char shunned[ADDR_MAX_LEN + 1];		/* a relay named for withholding: not taken back */
	bool probing;				/* the origin is asked what it holds (feed_relay.c) */
	int64_t probed_ms;			/* monotonic: when it was last asked */
	struct event *timer;
};

/* One configured peer, asked now and then which origins it holds (Axle.Origins). */
struct gw_mlink {
	struct gw_mirror *m;
	char region[ADDR_MAX_LEN + 1];
	bool busy;
	bool unimplemented;		/* an older node: asked rarely */
	struct event *timer;
};

struct gw_mirror {
	struct gw_node *node;
	size_t n, cap;			/* cap: [registry] max_origins (at least the peers) */
	struct gw_mpeer *peers;		/* cap of them, never moved (timers point in) */
	size_t nlinks, caplinks;
	struct gw_mlink *links;		/* caplinks of them, never moved (timers point in) */
	struct event *sync;		/* adds links for new peers and children */
	bool links_full_logged;
	bool full_logged;		/* an offer was refused at the cap (logged once) */
};

/* feed_pull.c */
int64_t gw_mirror_mono_ms(void);
struct gw_mpeer *gw_mirror_find(struct gw_node *node, const char *region);
void gw_mirror_schedule(struct gw_mpeer *p, uint32_t ms);
/* Adds an origin (not started); NULL at the cap or out of memory. */
struct gw_mpeer *gw_mirror_add(struct gw_mirror *m, const char *region,
    const char *via, unsigned hops);

/* feed_trust.c */
/*
 * A head of p's origin verified from via: keeps the freshest (packed, to
 * relay on) and, when it shows that the relay p left (p->suspect) served a
 * head older than [registry] relay_stale_ms while a newer one existed, names
 * that relay (p->fault, event=mirror_relay_stale).
 */
void gw_mirror_head_seen(struct gw_mpeer *p, const char *via,
    const Axle__V1__SignedHead *head);
/* An offer of p's origin by peer via at a head signed `ms`: leave a stale relay for it? */
bool gw_mirror_offer_fresher(struct gw_mpeer *p, const char *via, uint64_t seq,
    int64_t ms);

/*
 * The key that verifies a head of region's feed served by peer via: the
 * certificate of the link to via when via is the origin itself (pinned
 * identity), else the leaf of head->node_chain once that chain verifies to
 * the federation's CA (with CRLs) and its URI is axle://<fed>/node/<region>.
 * NULL with why when there is none (no head, no chain, a chain that fails).
 * The caller frees the key.
 */
EVP_PKEY *gw_mirror_origin_pub(struct gw_node *node, const char *region,
    const char *via, const Axle__V1__SignedHead *head, char *why, size_t len);

/* The certificate of the link to via, DER, malloc'd into *out (an older origin sends no chain). */
/*
 * The key of the node of region whose certificate has key identity kid:
 * the certificate its axle showed, or the leaf of head's node_chain
 * (head may be NULL) verified to the federation's CA. NULL with why.
 */
EVP_PKEY *gw_mirror_node_key(struct gw_node *node, const char *region,
    const Axle__V1__SignedHead *head, const uint8_t *kid, size_t kidlen,
    char *why, size_t len);
int gw_mirror_link_cert(struct gw_node *node, const char *via,
    ProtobufCBinaryData *out);

#endif
