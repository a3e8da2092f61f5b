/* outbox.h -- the outbox pumps: queued messages handed to peer nodes with Axle.Forward. */
#ifndef AXLE_GW_OUTBOX_H
#define AXLE_GW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/switch/sw_core.h"

struct gw_node;

int gw_outbox_start(struct gw_node *node, char *err, size_t errlen);
void gw_outbox_stop(struct gw_node *node);
/* Wakes the pump of peer (NULL: every pump). */
void gw_outbox_kick(struct gw_node *node, const char *peer);
/* Pump state (struct sw_pump_info, switch/sw_core.h) for metrics and axlectl. */
size_t gw_outbox_info(struct gw_node *node, struct sw_pump_info *out, size_t max);

#endif
