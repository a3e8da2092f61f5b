/* hostport.c -- "host:port" and "[v6]:port" as the node listens and the tools connect: parsed strictly. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "gateway/net/hostport.h"
#include "registry/address.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A DNS name (letters, digits, '-', dots) or, if it is all digits and dots, an IPv4 address. */
static int
host_check(const char *h, size_t len, const char **why)
{
	char tmp[NET_HOST_MAX + 1];
	size_t label = 0;
	bool numeric = true;

	if (len > ADDR_MAX_LEN) {
		*why = "host name longer than 253 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-') {
				*why = "empty label or label ending in '-' in host name";
				return -1;
			}
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-') {
			*why = "host may hold only letters, digits, '-' and '.'";
			return -1;
		}
		if ((c == '-' && label == 0) || ++label > ADDR_LABEL_MAX) {
			*why = "host name label starts with '-' or is longer than 63 bytes";
			return -1;
		}
		numeric = numeric && is_digit(c);
	}
	if (label == 0 || h[len - 1] == '-') {
		*why = "empty label or label ending in '-' in host name";
		return -1;
	}
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	if (numeric) {
		struct in_addr a4;

		if (inet_pton(AF_INET, tmp, &a4) != 1) {
			*why = "not a valid IPv4 address";
			return -1;
		}
	}
	return 0;
}

static int
port_check(const char *p, const char **why)
{
	unsigned long v = 0;
	size_t n = strlen(p);

	if (n == 0 || n > 5 || p[0] == '0') {
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i])) {
			*why = "port must be a number from 1 to 65535";
			return -1;
		}
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v > 65535) {
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	return 0;
}

static int
v6_check(const char *h, size_t len, const char **why)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(tmp)) {
		*why = "not a valid IPv6 address";
		return -1;
	}
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1) {
		*why = "not a valid IPv6 address";
		return -1;
	}
	return 0;
}

/* Finds the host part and the port of s; checks both. */
static int
hostport_parse(const char *s, const char **host, size_t *hostlen,
    const char **port, const char **why)
{
	const char *colon;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			*why = "missing ']' after the IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*why = "missing :port after ]";
			return -1;
		}
		*host = s + 1;
		*hostlen = (size_t)(close - *host);
		*port = close + 2;
		if (v6_check(*host, *hostlen, why) < 0)
			return -1;
		return port_check(*port, why);
	}
	colon = strrchr(s, ':');
	if (colon == NULL) {
		*why = "missing :port";
		return -1;
	}
	if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
		*why = "an IPv6 address must be in brackets";
		return -1;
	}
	if (colon == s) {
		*why = "missing host (0.0.0.0 or [::] means every address)";
		return -1;
	}
	*host = s;
	*hostlen = (size_t)(colon - s);
	*port = colon + 1;
	if (host_check(*host, *hostlen, why) < 0)
		return -1;
	return port_check(*port, why);
}

int
net_hostport_split(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen, const char **why)
{
	const char *h, *p;
	size_t hl;

	if (hostport_parse(s, &h, &hl, &p, why) < 0)
		return -1;
	if (hl + 1 > hostlen || strlen(p) + 1 > portlen) {
		*why = "too long";
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, strlen(p) + 1);
	return 0;
}
