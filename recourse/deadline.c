/* deadline.c -- deadline arithmetic, wake-up computation and retry backoff. */
#include <stdint.h>

#include "recourse/deadline.h"

#define ST_OPEN		AXLE__V1__CASE_STATE__CASE_STATE_OPEN
#define ST_CLAIMED	AXLE__V1__CASE_STATE__CASE_STATE_CLAIMED

int64_t
recourse_deadline_period(const struct recourse_deadline_policy *p, int reason)
{
	int64_t d = 0;

	if (p != NULL && reason >= 0 && reason <= RECOURSE_REASON_MAX)
		d = p->per_reason_ms[reason];
	if (d <= 0 && p != NULL)
		d = p->default_ms;
	return d > 0 ? d : RECOURSE_DEADLINE_DEFAULT_MS;
}

int64_t
recourse_deadline_for(const struct recourse_deadline_policy *p, int reason,
    int64_t opened_ms)
{
	int64_t d = recourse_deadline_period(p, reason);

	if (opened_ms > INT64_MAX - d)
		return INT64_MAX;
	return opened_ms + d;
}

int
recourse_overdue(const Axle__V1__Case *c, int64_t now)
{
	return c->state == ST_OPEN && c->deadline_ms > 0 && now >= c->deadline_ms;
}

static int
case_live(const Axle__V1__Case *c)
{
	return c->state == ST_OPEN || c->state == ST_CLAIMED;
}

/* When c becomes wanted for escalation ignoring backoff; 0: not pending. */
static int64_t
wanted_from(const Axle__V1__Case *c)
{
	if (!case_live(c))
		return 0;
	if (c->escalating_to[0] != '\0')
		return 1;	/* already due: only backoff holds it */
	if (c->escalation_requested_ms > 0)
		return c->escalation_requested_ms;
	if (c->state == ST_OPEN && c->deadline_ms > 0)
		return c->deadline_ms;
	return 0;
}

int
recourse_escalation_wanted(const Axle__V1__Case *c, int64_t now)
{
	int64_t at = recourse_case_wakeup(c, 0);

	return at != 0 && at <= now;
}

int64_t
recourse_case_wakeup(const Axle__V1__Case *c, int is_root)
{
	int64_t at;

	if (is_root) {
		if (c->state == ST_OPEN && c->deadline_ms > 0 &&
		    c->overdue_ms == 0)
			return c->deadline_ms;
		return 0;
	}
	if ((at = wanted_from(c)) == 0)
		return 0;
	return c->next_attempt_ms > at ? c->next_attempt_ms : at;
}

int64_t
recourse_next_wakeup(Axle__V1__Case *const *cases, size_t n, int is_root)
{
	int64_t best = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t at;
		if (cases[i] == NULL)
			continue;
		at = recourse_case_wakeup(cases[i], is_root);
		if (at != 0 && (best == 0 || at < best))
			best = at;
	}
	return best;
}

int64_t
recourse_backoff_delay(const struct recourse_backoff *b, uint32_t attempt,
    uint32_t rnd)
{
	int64_t base = b && b->base_ms > 0 ? b->base_ms : RECOURSE_BACKOFF_BASE_MS;
	int64_t cap = b && b->cap_ms > 0 ? b->cap_ms : RECOURSE_BACKOFF_CAP_MS;
	int64_t d = base, half;

	if (attempt == 0)
		return 0;
	if (cap < base)
		cap = base;
	for (uint32_t i = 1; i < attempt && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;	/* doubling cannot overflow */
	if (d > cap)
		d = cap;
	half = d / 2;
	return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}
