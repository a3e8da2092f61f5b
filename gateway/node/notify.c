/* notify.c -- telling systemd (Type=notify) where the node is: ready, reloading, stopping, alive. */
#include <inttypes.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "gateway/net/log.h"
#include "gateway/node/node.h"
#include "gateway/node/notify.h"

static struct event *watchdog_ev;

void
gw_notify_ready(const struct gw_node *node)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving region %s of %s on %s:%s",
	    node->cfg.region, node->cfg.federation, node->cfg.listen_host,
	    node->cfg.listen_port);
}

void
gw_notify_reloading(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading",
	    (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
}

void
gw_notify_reloaded(const struct gw_node *node, bool ok)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s region %s of %s on %s:%s",
	    ok ? "reloaded; serving" : "reload FAILED (see the reload_failed log "
	    "line; the previous TLS material stays in force); serving",
	    node->cfg.region, node->cfg.federation, node->cfg.listen_host,
	    node->cfg.listen_port);
}

void
gw_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	sd_notify(0, "WATCHDOG=1");
}

int
gw_notify_watchdog_start(struct gw_node *node)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000u);
	tv.tv_usec = (suseconds_t)(usec % 1000000u);
	watchdog_ev = event_new(node->base, -1, EV_PERSIST, on_watchdog, NULL);
	if (watchdog_ev == NULL || event_add(watchdog_ev, &tv) != 0) {
		net_log(NET_LOG_ERR, "watchdog_failed", "reason=\"out of memory: no "
		    "WATCHDOG=1 will be sent, so systemd restarts the node when "
		    "WatchdogSec passes\"");
		return -1;
	}
	sd_notify(0, "WATCHDOG=1");
	net_log(NET_LOG_INFO, "watchdog", "interval_ms=%" PRIu64, usec / 1000u);
	return 0;
}

void
gw_notify_watchdog_stop(void)
{
	if (watchdog_ev != NULL)
		event_free(watchdog_ev);
	watchdog_ev = NULL;
}
