/* log.h -- one line per event, key=value, to stderr (journald picks it up). */
#ifndef AXLE_GW_LOG_H
#define AXLE_GW_LOG_H

enum gw_log_level { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERR };

/* Sets the minimum level printed; default GW_LOG_INFO. */
void gw_log_set_level(enum gw_log_level level);
/* Parses "debug|info|warn|error"; returns 0, or -1 if unknown. */
int gw_log_parse_level(const char *s, enum gw_log_level *out);

/*
 * Prints one line: `ts=... level=... event=<event> <fmt...>`. fmt must itself
 * be key=value pairs; values from the network go through gw_log_quote().
 * Never pass payload bytes.
 */
void gw_log(enum gw_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Quotes s for a log value: printable ASCII kept, `"` `\` and anything else
 * escaped, truncated to fit; always NUL-terminated. Returns buf.
 */
const char *gw_log_quote(char *buf, size_t buflen, const char *s, size_t len);

#endif
