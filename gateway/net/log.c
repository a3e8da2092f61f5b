/* log.c -- key=value (or JSON) event lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/net/log.h"
#include "gateway/net/log_json.h"

static enum net_log_level min_level = NET_LOG_INFO;
static enum net_log_format format = NET_LOG_FORMAT_KV;
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
net_log_set_format(enum net_log_format f)
{
	format = f;
}

int
net_log_parse_format(const char *s, enum net_log_format *out)
{
	if (strcmp(s, "kv") == 0)
		*out = NET_LOG_FORMAT_KV;
	else if (strcmp(s, "json") == 0)
		*out = NET_LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* {"ts":..,"level":..,"event":.. then the pairs of kv}. */
static void
print_json(const char *ts, const char *level, const char *event, const char *kv)
{
	char line[4096];
	size_t o;
	int n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\","
	    "\"event\":\"", ts, level);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	o = (size_t)n;
	if (!net_log_json_str(line, sizeof(line) - 2, &o, event, strlen(event)) ||
	    o + 2 >= sizeof(line))
		return;
	line[o++] = '"';
	o += net_log_kv_json(kv, line + o, sizeof(line) - o - 1);
	line[o++] = '}';
	line[o] = '\0';
	fprintf(stderr, "%s\n", line);
}

void
net_log(enum net_log_level level, const char *event, const char *fmt, ...)
{
	char line[2048], ts[40], stamp[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp, sizeof(stamp), "%.24s.%03dZ", ts, (int)(now.tv_nsec / 1000000));
	if (format == NET_LOG_FORMAT_JSON) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		print_json(stamp, names[level], event, line);
		return;
	}
	n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s ", stamp,
	    names[level], event);
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
