/* notify.h -- telling systemd (Type=notify) where the node is: ready, reloading, stopping, alive. */
#ifndef AXLE_GW_NOTIFY_H
#define AXLE_GW_NOTIFY_H

#include <stdbool.h>

struct gw_node;

/*
 * Each sends one sd_notify(3) message when the node runs under systemd
 * ($NOTIFY_SOCKET set), and does nothing otherwise. STATUS= carries a line
 * a person reads in `systemctl status axled`.
 */
void gw_notify_ready(const struct gw_node *node);	/* READY=1: listening */
void gw_notify_reloading(void);				/* RELOADING=1, MONOTONIC_USEC */
void gw_notify_reloaded(const struct gw_node *node, bool ok);	/* READY=1 and the outcome */
void gw_notify_stopping(void);				/* STOPPING=1: draining */

/*
 * WatchdogSec= in the unit: WATCHDOG=1 from the event loop at half the
 * interval, so a loop that stops turning gets the node restarted. 0 when
 * started or not asked for, -1 if the timer could not be made.
 */
int gw_notify_watchdog_start(struct gw_node *node);
void gw_notify_watchdog_stop(void);

#endif
