/* hist.h -- a latency histogram with fixed buckets, for Prometheus (pure; no locking). */
#ifndef AXLE_NET_HIST_H
#define AXLE_NET_HIST_H

#include <stdint.h>

#define NET_HIST_BUCKETS	14	/* finite upper bounds; +Inf is the count */

/* Upper bounds of the buckets, in seconds: 0.5 ms .. 10 s. */
extern const double net_hist_bounds_s[NET_HIST_BUCKETS];

struct net_hist {
	uint64_t in[NET_HIST_BUCKETS];	/* observations in (bound[i-1], bound[i]] */
	uint64_t count;			/* all observations: the +Inf bucket */
	uint64_t sum_ns;
};

/* Counts one observation of ns nanoseconds. */
void net_hist_observe(struct net_hist *h, uint64_t ns);

/* Observations <= net_hist_bounds_s[i] (Prometheus's cumulative le bucket). */
uint64_t net_hist_le(const struct net_hist *h, int i);

#endif
