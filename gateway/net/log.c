/* log.c -- key=value event lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/net/log.h"

static enum net_log_level min_level = NET_LOG_INFO;
static const char *const names[] = { "debug", "info", "warn", "error" };

void
net_log_set_level(enum net_log_level level)
{
	min_level = level;
}

int
net_log_parse_level(const char *s, enum net_log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum net_log_level)i;
			return 0;
		}
	return -1;
}

void
net_log(enum net_log_level level, const char *event, const char *fmt, ...)
{
	char line[2048], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s ", ts,
	    now.tv_nsec / 1000000, names[level], event);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent writers do not interleave. */
	fprintf(stderr, "%s\n", line);
}

const char *
net_log_quote(char *buf, size_t buflen, const char *s, size_t len)
{
	size_t o = 0;

	if (buflen == 0)
		return buf;
	if (s == NULL)
		s = "", len = 0;
	if (buflen > 1)
		buf[o++] = '"';
	for (size_t i = 0; i < len && o + 6 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
		}
	}
	if (o + 1 < buflen)
		buf[o++] = '"';
	buf[o < buflen ? o : buflen - 1] = '\0';
	return buf;
}
