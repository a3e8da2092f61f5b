/* log.h -- one line per event, key=value (or JSON), to stderr (journald picks it up). */
#ifndef AXLE_GW_LOG_H
#define AXLE_GW_LOG_H

enum net_log_level { NET_LOG_DEBUG, NET_LOG_INFO, NET_LOG_WARN, NET_LOG_ERR };

/* Sets the minimum level printed; default NET_LOG_INFO. */
void net_log_set_level(enum net_log_level level);
/* Parses "debug|info|warn|error"; returns 0, or -1 if unknown. */
int net_log_parse_level(const char *s, enum net_log_level *out);

/*
 * The line format: key=value (the default) or one JSON object a line,
 * {"ts":...,"level":...,"event":...,<the pairs>} (log_json.h), for
 * journald's and SIEMs' JSON readers.
 */
enum net_log_format { NET_LOG_FORMAT_KV, NET_LOG_FORMAT_JSON };
void net_log_set_format(enum net_log_format f);
/* Parses "kv|json"; returns 0, or -1 if unknown. */
int net_log_parse_format(const char *s, enum net_log_format *out);

/*
 * Prints one line: `ts=... level=... event=<event> <fmt...>`. fmt must itself
 * be key=value pairs; values from the network go through net_log_quote().
 * In NET_LOG_FORMAT_JSON the same, as one JSON object.
 * Never pass payload bytes.
 */
void net_log(enum net_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Quotes s for a log value: printable ASCII kept, `"` `\` and anything else
 * escaped, truncated to fit; always NUL-terminated. Returns buf.
 */
const char *net_log_quote(char *buf, size_t buflen, const char *s, size_t len);

#endif
