/* expiry.h -- watching what expires: the node's certificate, the CAs it trusts and their CRLs. */
#ifndef AXLE_GW_EXPIRY_H
#define AXLE_GW_EXPIRY_H

#include <stdint.h>
#include <stdio.h>

struct evbuffer;
struct gw_node;

#define GW_EXPIRY_CHECK_DAYS	30	/* axled -n warns within this */
#define GW_EXPIRY_LOG_DAYS	7	/* the running node logs within this */

/*
 * axled -n: writes one "warning: ..." line to out for the node's certificate
 * or a trusted CA expiring within GW_EXPIRY_CHECK_DAYS, and for a CRL whose
 * next update is within that or half its validity, whichever is sooner (a
 * 30-day CRL warns with 15 days left). now_s: seconds since the epoch.
 * Returns the number of warnings.
 */
int gw_expiry_check(struct gw_node *node, int64_t now_s, FILE *out);

/*
 * The running node: logs event=cert_expiry_soon (warn) for each within
 * GW_EXPIRY_LOG_DAYS and event=cert_expired (err) for each past, at start,
 * after each reload and every hour (gw_expiry_watch).
 */
void gw_expiry_log(struct gw_node *node, int64_t now_s);

/* Starts the hourly gw_expiry_log on the node's loop; 0 or -1. */
int gw_expiry_watch(struct gw_node *node);
void gw_expiry_unwatch(void);

/* The gauges axle_cert_expiry_seconds{which} and axle_crl_next_update_seconds. */
void gw_expiry_metrics(struct gw_node *node, int64_t now_s, struct evbuffer *out);

#endif
