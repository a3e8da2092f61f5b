/* mod_recourse.c -- the recourse module's life: the case store (gw_recourse.c), the escalation timer (escalate.c), the consoles' ticker. */
#include <stddef.h>
#include <stdio.h>

#include <event2/event.h>

#include "gateway/net/h2_server.h"
#include "gateway/net/log.h"
#include "gateway/node/escalate.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"

/*
 * Once a second: cases the switch opened (in the writer's transactions)
 * since the last tick are news for open consoles (/console/events). Told
 * again on the next tick, since the count moves before its commit ends.
 */
static void
rec_console_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_node *node = arg;
	struct gw_recourse *r = node->recourse;
	uint64_t now = atomic_load(&r->opened);

	(void)fd, (void)what;
	if (now != r->opened_told || r->tell_again) {
		r->tell_again = now != r->opened_told;
		r->opened_told = now;
		net_h2_notify(&node->srv, "cases");
	}
}

static int
rec_start(struct gw_node *node, char *err, size_t errlen)
{
	struct timeval tv = { 1, 0 };

	if (gw_recourse_open(node, err, errlen) != 0)
		return -1;
	if (gw_escalate_start(node, err, errlen) != 0) {
		gw_recourse_close(node);
		return -1;
	}
	node->recourse->console_tick = event_new(node->base, -1, EV_PERSIST,
	    rec_console_tick, node);
	if (node->recourse->console_tick == NULL ||
	    event_add(node->recourse->console_tick, &tv) != 0) {
		snprintf(err, errlen, "out of memory");
		if (node->recourse->console_tick != NULL)
			event_free(node->recourse->console_tick);
		gw_escalate_stop(node);
		gw_recourse_close(node);
		return -1;
	}
	net_log(NET_LOG_INFO, "recourse_started", "parent=%s case_deadline_ms=%u",
	    node->recourse->parent_region[0] ? node->recourse->parent_region : "-",
	    node->cfg.recourse.case_deadline_ms);
	return 0;
}

static void
rec_stop(struct gw_node *node)
{
	if (node->recourse == NULL)
		return;
	event_free(node->recourse->console_tick);
	node->recourse->console_tick = NULL;
	gw_escalate_stop(node);
	gw_recourse_close(node);
}

static void
rec_metrics(struct gw_node *node, struct evbuffer *out)
{
	if (gw_recourse_metrics(node, out) == 0)
		gw_escalate_metrics(node, out);
}

void
gw_recourse_kick(struct gw_node *node)
{
	gw_escalate_kick(node);
	net_h2_notify(&node->srv, "cases");	/* open consoles list again */
}

const struct gw_module gw_recourse_module = {
	.name = "recourse",
	.start = rec_start,
	.stop = rec_stop,
	.metrics = rec_metrics,
};
