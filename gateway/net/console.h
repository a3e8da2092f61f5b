/*
 * console.h -- the escalation console's pages under /console/: assets
 * compiled into the binary (gateway/console/www/, made into a C table by
 * gateway/console/embed.sh at build time), served to admins of this node
 * only; everyone else gets a 403 page with no data.
 */
#ifndef AXLE_GW_CONSOLE_H
#define AXLE_GW_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/net/identity.h"

struct evbuffer;

/*
 * The Content-Security-Policy of every answer that is not gRPC: scripts,
 * styles, images and calls from this node only, none inline; no plugins,
 * no <base>, forms post only here, never inside a frame.
 */
#define NET_CONSOLE_CSP "default-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* One file of gateway/console/www/: its path under /console/ and its bytes. */
struct net_console_asset {
	const char *path;		/* "/console/index.html" */
	const unsigned char *data;
	size_t len;
};

/* The generated table (build/gen/console_assets.c). */
extern const struct net_console_asset net_console_assets[];
extern const size_t net_console_n_assets;

/* True for /console and everything below it (query string ignored). */
bool net_console_path(const char *path);

/* The media type for a file name, by its extension ("text/html; charset=utf-8"). */
const char *net_console_media_type(const char *path);

/*
 * Answers GET path (net_console_path true) for caller on a node of
 * federation fed serving region: the body appended to out, the media type
 * in *ctype, a redirect's target in *location (static; else NULL). Returns
 * the HTTP status: 200, 308 (/console to /console/), 403 (not an admin of
 * this node: a page saying why, no data), 404.
 */
int net_console_answer(const char *path, const struct net_identity *caller,
    const char *fed, const char *region, struct evbuffer *out,
    const char **ctype, const char **location);

#endif
