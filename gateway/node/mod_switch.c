/* mod_switch.c -- the switch module's life: the switch (gw_switch.c), then its outbox pumps (outbox.c); parked fetches (svc_switch.c) end first. */
#include <stdbool.h>
#include <stddef.h>

#include "gateway/node/gw_switch.h"
#include "gateway/node/gw_trust.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"
#include "gateway/node/outbox.h"
#include "gateway/node/svc.h"
#include "gateway/switch/sw_core.h"

static void
gw_stop(struct gw_node *node)
{
	if (node->sw == NULL)
		return;
	node->sw->stopping = true;
	gw_fetch_stop(node);
	gw_outbox_stop(node);
	gw_switch_close(node);
	gw_trust_close(node);
}

static int
gw_start(struct gw_node *node, char *err, size_t errlen)
{
	if (gw_trust_open(node, err, errlen) != 0)
		return -1;
	if (gw_switch_open(node, err, errlen) != 0) {
		gw_trust_close(node);
		return -1;
	}
	node->sw->wake_peer = gw_outbox_kick;
	node->sw->wake_box = gw_fetch_kick;
	node->sw->pumps_info = gw_outbox_info;
	if (gw_outbox_start(node, err, errlen) != 0) {
		gw_stop(node);
		return -1;
	}
	/* Outboxes left from before a restart start moving at once. */
	gw_switch_kick(node);
	return 0;
}

static void
gw_metrics(struct gw_node *node, struct evbuffer *out)
{
	gw_switch_metrics(node, out);
	gw_trust_metrics(node, out);
}

const struct gw_module gw_switch_module = {
	.name = "switch",
	.start = gw_start,
	.stop = gw_stop,
	.metrics = gw_metrics,
	.reload = gw_trust_reload,
};
