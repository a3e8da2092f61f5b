/* modules.c -- the list of the node's service modules and their life cycle. */
#include <stdio.h>

#include "gateway/node/gw_recourse.h"
#include "gateway/node/gw_registry.h"
#include "gateway/node/gw_switch.h"
#include "gateway/net/log.h"
#include "gateway/node/module.h"

/* Start order: the register first (the switch resolves through it), then recourse. */
const struct gw_module *const gw_modules[] = {
	&gw_registry_module,
	&gw_recourse_module,
	&gw_switch_module,
};
const size_t gw_nmodules = sizeof(gw_modules) / sizeof(gw_modules[0]);

static size_t started;

int
gw_modules_start(struct gw_node *node, char *err, size_t errlen)
{
	for (started = 0; started < gw_nmodules; started++) {
		char e[512];

		if (gw_modules[started]->start(node, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "%s: %s", gw_modules[started]->name, e);
			gw_modules_stop(node);
			return -1;
		}
	}
	return 0;
}

void
gw_modules_stop(struct gw_node *node)
{
	while (started > 0) {
		started--;
		gw_modules[started]->stop(node);
	}
}

void
gw_modules_metrics(struct gw_node *node, struct evbuffer *out)
{
	for (size_t i = 0; i < started; i++)
		if (gw_modules[i]->metrics != NULL)
			gw_modules[i]->metrics(node, out);
}

void
gw_modules_reload(struct gw_node *node)
{
	for (size_t i = 0; i < started; i++)
		if (gw_modules[i]->reload != NULL)
			gw_modules[i]->reload(node);
}
