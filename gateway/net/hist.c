/* hist.c -- a latency histogram with fixed buckets, for Prometheus (pure; no locking). */
#include "gateway/net/hist.h"

const double net_hist_bounds_s[NET_HIST_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* The same bounds in nanoseconds, for the comparison on the hot path. */
static const uint64_t bounds_ns[NET_HIST_BUCKETS] = {
	500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000u, 5000000000u, 10000000000u,
};

void
net_hist_observe(struct net_hist *h, uint64_t ns)
{
	for (int i = 0; i < NET_HIST_BUCKETS; i++)
		if (ns <= bounds_ns[i]) {
			h->in[i]++;
			break;
		}
	h->count++;
	h->sum_ns += ns;
}

uint64_t
net_hist_le(const struct net_hist *h, int i)
{
	uint64_t n = 0;

	for (int k = 0; k <= i && k < NET_HIST_BUCKETS; k++)
		n += h->in[k];
	return n;
}
