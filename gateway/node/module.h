/* module.h -- the node's services as modules: started after the store, stopped before it closes. */
#ifndef AXLE_GW_MODULE_H
#define AXLE_GW_MODULE_H

#include <stddef.h>

struct evbuffer;
struct gw_node;

struct gw_module {
	const char *name;
	/* Opens its databases, loads its state, arms its timers. 0 or -1 with err. */
	int (*start)(struct gw_node *node, char *err, size_t errlen);
	/* Frees everything; the loop no longer runs, the store is still open. */
	void (*stop)(struct gw_node *node);
	/* Appends its /metrics families (may be NULL). */
	void (*metrics)(struct gw_node *node, struct evbuffer *out);
	/* After SIGHUP (may be NULL). */
	void (*reload)(struct gw_node *node);
};

/* modules.c: every module, in start order (stopped in reverse). */
extern const struct gw_module *const gw_modules[];
extern const size_t gw_nmodules;

/* Starts every module; on failure stops those started. 0 or -1 with err. */
int gw_modules_start(struct gw_node *node, char *err, size_t errlen);
void gw_modules_stop(struct gw_node *node);
void gw_modules_metrics(struct gw_node *node, struct evbuffer *out);
void gw_modules_reload(struct gw_node *node);

#endif
