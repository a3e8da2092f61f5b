/* rates.h -- message and case counts per minute over the last hour, for Node.Info and the console's chart. */
#ifndef AXLE_GW_RATES_H
#define AXLE_GW_RATES_H

#include <stddef.h>
#include <stdint.h>

struct gw_node;

#define GW_RATES_MINUTES 60

struct gw_rate_minute {
	int64_t minute_ms;	/* when the minute began */
	uint64_t accepted, forwarded, cases_opened;
};

/*
 * Starts a timer on the node's loop that, at each minute, keeps the
 * counters' values (a ring of GW_RATES_MINUTES + 1 snapshots: bounded).
 * 0, or -1 (out of memory: Node.Info then gives no rates).
 */
int gw_rates_start(struct gw_node *node);
void gw_rates_stop(void);

/*
 * Fills out with the counts per minute, oldest first, the minute in
 * progress last (so far); at most GW_RATES_MINUTES + 1. Returns how many.
 */
size_t gw_rates_read(struct gw_node *node, int64_t now_ms,
    struct gw_rate_minute *out, size_t max);

#endif
