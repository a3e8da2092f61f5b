/* sw_backoff.c -- capped exponential backoff with full jitter. Pure. */
#include "gateway/switch/sw_backoff.h"

uint64_t
sw_backoff_ceiling(uint64_t base_ms, uint64_t cap_ms, unsigned attempt)
{
	uint64_t c = base_ms;

	/* Doubling stops at the cap, so it can neither overflow nor loop long. */
	for (unsigned i = 0; i < attempt && c != 0 && c < cap_ms; i++)
		c = c > UINT64_MAX / 2 ? UINT64_MAX : c * 2;
	return c < cap_ms ? c : cap_ms;
}

uint64_t
sw_backoff_delay(uint64_t base_ms, uint64_t cap_ms, unsigned attempt,
    uint64_t rnd)
{
	uint64_t c = sw_backoff_ceiling(base_ms, cap_ms, attempt);

	return c == UINT64_MAX ? rnd : rnd % (c + 1);
}
