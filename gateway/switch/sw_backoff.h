/* sw_backoff.h -- capped exponential backoff with full jitter, for retrying a peer. Pure. */
#ifndef AXLE_GW_SW_BACKOFF_H
#define AXLE_GW_SW_BACKOFF_H

#include <stdint.h>

/*
 * The ceiling for retry `attempt` (0 for the first retry): min(cap_ms,
 * base_ms * 2^attempt), without overflow for any attempt. base_ms 0 gives 0;
 * cap_ms below base_ms caps at cap_ms.
 */
uint64_t sw_backoff_ceiling(uint64_t base_ms, uint64_t cap_ms, unsigned attempt);

/*
 * The delay before retry `attempt`: "full jitter", uniform in [0, ceiling]
 * (so peers that failed together do not retry together), chosen by rnd, a
 * random value the caller draws (tests pass fixed ones). rnd is reduced
 * modulo ceiling + 1; its bias is negligible for 64-bit rnd and ceilings of
 * minutes.
 */
uint64_t sw_backoff_delay(uint64_t base_ms, uint64_t cap_ms, unsigned attempt,
    uint64_t rnd);

#endif
