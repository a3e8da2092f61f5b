/* console.c -- /console/: the compiled-in assets for admins of this node, a 403 page for everyone else. */
#include <string.h>

#include <event2/buffer.h>

#include "gateway/net/console.h"

#define CONSOLE_HTML "text/html; charset=utf-8"

static const struct {
	const char *ext;
	const char *type;
} media[] = {
	{ ".html", CONSOLE_HTML },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
};

bool
net_console_path(const char *path)
{
	size_t n = strcspn(path, "?#");

	return n >= 8 && strncmp(path, "/console", 8) == 0 &&
	    (n == 8 || path[8] == '/');
}

const char *
net_console_media_type(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
		size_t e = strlen(media[i].ext);

		if (n > e && strcmp(path + n - e, media[i].ext) == 0)
			return media[i].type;
	}
	return "application/octet-stream";
}

/* text with the five HTML specials escaped. */
static void
html_text(struct evbuffer *out, const char *text)
{
	for (const char *c = text; *c != '\0'; c++) {
		switch (*c) {
		case '<': evbuffer_add(out, "&lt;", 4); break;
		case '>': evbuffer_add(out, "&gt;", 4); break;
		case '&': evbuffer_add(out, "&amp;", 5); break;
		case '"': evbuffer_add(out, "&quot;", 6); break;
		case '\'': evbuffer_add(out, "&#39;", 5); break;
		default: evbuffer_add(out, c, 1); break;
		}
	}
}

/* A page of the node's own (no asset, no script, no style): the 403 and 404. */
static void
plain_page(struct evbuffer *out, const char *title, const char *text,
    const char *detail)
{
	evbuffer_add_printf(out, "<!doctype html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>axle console: %s</title></head>\n"
	    "<body><h1>%s</h1>\n<p>%s</p>\n", title, title, text);
	if (detail != NULL && *detail != '\0') {
		evbuffer_add_printf(out, "<p>");
		html_text(out, detail);
		evbuffer_add_printf(out, "</p>\n");
	}
	evbuffer_add_printf(out, "</body></html>\n");
}

int
net_console_answer(const char *path, const struct net_identity *caller,
    const char *fed, const char *region, struct evbuffer *out,
    const char **ctype, const char **location)
{
	size_t n = strcspn(path, "?#");
	char err[256], want[256];

	*ctype = CONSOLE_HTML;
	*location = NULL;
	if (!net_authz_allows(caller, NET_AUTHZ_ADMIN, fed, region, err, sizeof(err))) {
		plain_page(out, "403 Forbidden", "The escalation console is for the "
		    "admins of this node. Present an admin certificate of this node "
		    "(axle://&lt;federation&gt;/admin/&lt;this region&gt;/&lt;user&gt;).",
		    err);
		return 403;
	}
	if (n == 8) {
		*location = "/console/";
		return 308;
	}
	if (n >= sizeof(want))
		n = sizeof(want) - 1;
	memcpy(want, path, n);
	want[n] = '\0';
	if (strcmp(want, "/console/") == 0)
		strcpy(want, "/console/index.html");
	for (size_t i = 0; i < net_console_n_assets; i++) {
		if (strcmp(net_console_assets[i].path, want) == 0) {
			*ctype = net_console_media_type(want);
			evbuffer_add(out, net_console_assets[i].data,
			    net_console_assets[i].len);
			return 200;
		}
	}
	plain_page(out, "404 Not Found", "The console has no such page.", NULL);
	return 404;
}
