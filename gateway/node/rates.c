/* rates.c -- message and case counts per minute over the last hour, for Node.Info and the console's chart. */
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include <event2/event.h>

#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_switch.h"
#include "gateway/node/node.h"
#include "gateway/node/rates.h"

#define SLOTS	(GW_RATES_MINUTES + 1)

struct snap {
	int64_t at_ms;
	uint64_t accepted, forwarded, opened;
};

/* The ring: snaps[(head - k) % SLOTS] is k minutes old; n of them are set. */
static struct snap snaps[SLOTS];
static size_t head, n;
static struct event *tick_ev;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
take(struct gw_node *node, int64_t at_ms, struct snap *s)
{
	s->at_ms = at_ms;
	gw_switch_flow(node, &s->accepted, &s->forwarded);
	s->opened = node->recourse != NULL ? atomic_load(&node->recourse->opened) : 0;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	head = (head + 1) % SLOTS;
	take(arg, now_ms(), &snaps[head]);
	if (n < SLOTS)
		n++;
}

int
gw_rates_start(struct gw_node *node)
{
	struct timeval minute = { 60, 0 };

	head = 0;
	n = 1;
	take(node, now_ms(), &snaps[0]);
	tick_ev = event_new(node->base, -1, EV_PERSIST, on_tick, node);
	if (tick_ev == NULL || event_add(tick_ev, &minute) != 0) {
		n = 0;
		return -1;
	}
	return 0;
}

void
gw_rates_stop(void)
{
	if (tick_ev != NULL)
		event_free(tick_ev);
	tick_ev = NULL;
	n = 0;
}

static void
diff(struct gw_rate_minute *m, const struct snap *a, const struct snap *b)
{
	m->minute_ms = a->at_ms;
	m->accepted = b->accepted - a->accepted;
	m->forwarded = b->forwarded - a->forwarded;
	m->cases_opened = b->opened - a->opened;
}

size_t
gw_rates_read(struct gw_node *node, int64_t at_ms, struct gw_rate_minute *out,
    size_t max)
{
	struct snap cur;
	size_t k = 0;

	if (n == 0)
		return 0;
	/* Complete minutes, oldest first: between consecutive snapshots. */
	for (size_t age = n - 1; age > 0 && k < max; age--)
		diff(&out[k++], &snaps[(head + SLOTS - age) % SLOTS],
		    &snaps[(head + SLOTS - age + 1) % SLOTS]);
	if (k < max) {		/* the minute in progress */
		take(node, at_ms, &cur);
		diff(&out[k++], &snaps[head], &cur);
	}
	return k;
}
