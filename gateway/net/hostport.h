/* hostport.h -- "host:port" and "[v6]:port", as in [node] listen, [peer] address and axlectl --server. */
#ifndef AXLE_GW_HOSTPORT_H
#define AXLE_GW_HOSTPORT_H

#include <stddef.h>

#define NET_HOST_MAX    255
#define NET_PORT_MAX    5

/*
 * Splits "host:port" or "[v6]:port" into host and port: a DNS name or IPv4
 * address, or an IPv6 address in brackets, and a port 1-65535. Returns 0,
 * or -1 with a reason in *why (not NULL) when s is not one or a part does
 * not fit.
 */
int net_hostport_split(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen, const char **why);

#endif
