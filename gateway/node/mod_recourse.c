/* mod_recourse.c -- the recourse module's life: the case store (gw_recourse.c), then the escalation timer (escalate.c). */
#include <stddef.h>

#include "gateway/net/log.h"
#include "gateway/node/escalate.h"
#include "gateway/node/gw_recourse.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"

static int
rec_start(struct gw_node *node, char *err, size_t errlen)
{
	if (gw_recourse_open(node, err, errlen) != 0)
		return -1;
	if (gw_escalate_start(node, err, errlen) != 0) {
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
}

const struct gw_module gw_recourse_module = {
	.name = "recourse",
	.start = rec_start,
	.stop = rec_stop,
	.metrics = rec_metrics,
};
