/* mod_registry.c -- the registry module's life: the register (gw_registry.c), then the pulls of the peers' feeds (feed_pull.c) and of those they relay (feed_relay.c). */
#include <stddef.h>

#include "gateway/node/feed_pull.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"

static void
reg_stop(struct gw_node *node)
{
	if (node->registry == NULL)
		return;
	gw_registry_feed_release(node);
	gw_mirror_links_stop(node);
	gw_mirror_stop(node);
	gw_registry_close(node);
}

static int
reg_start(struct gw_node *node, char *err, size_t errlen)
{
	if (gw_registry_open(node, err, errlen) != 0) {
		reg_stop(node);
		return -1;
	}
	node->registry->feed_wake = gw_registry_feed_wake;
	if (gw_mirror_start(node, err, errlen) != 0 ||
	    gw_mirror_links_start(node, err, errlen) != 0) {
		reg_stop(node);
		return -1;
	}
	return 0;
}

static void
reg_metrics(struct gw_node *node, struct evbuffer *out)
{
	if (node->registry == NULL)
		return;
	gw_registry_metrics(node, out);
	gw_mirror_metrics(node, out);
}

static void
reg_reload(struct gw_node *node)
{
	gw_registry_reload_signing(node);
}

const struct gw_module gw_registry_module = {
	.name = "registry",
	.start = reg_start,
	.stop = reg_stop,
	.reload = reg_reload,
	.metrics = reg_metrics,
};
