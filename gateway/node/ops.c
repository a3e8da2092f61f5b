/* ops.c -- the optional plain-HTTP ops listener: /healthz, /readyz and /metrics for probes and Prometheus. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gateway/net/log.h"
#include "gateway/node/health.h"
#include "gateway/node/metrics.h"
#include "gateway/node/node.h"
#include "gateway/node/ops.h"

#define OPS_MAX_BODY	1024	/* requests carry none */
#define OPS_TIMEOUT_S	10

static struct evhttp *http;
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void
text(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", msg);
	reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct gw_node *node = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *why;

	node->ctr.http_requests++;
	if (path == NULL)
		path = "";
	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
	    strcmp(path, "/metrics") != 0) {
		text(req, HTTP_NOTFOUND, "Not Found", "not found: this listener "
		    "serves /healthz, /readyz and /metrics only");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		    "GET, HEAD");
		text(req, 405, "Method Not Allowed", "method not allowed: GET or HEAD");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		if (node->draining)
			text(req, 503, "Service Unavailable", "draining");
		else
			text(req, HTTP_OK, "OK", "ok");
	} else if (strcmp(path, "/readyz") == 0) {
		if ((why = gw_health_not_ready(node)) != NULL)
			text(req, 503, "Service Unavailable", why);
		else
			text(req, HTTP_OK, "OK", "ready");
	} else {
		struct evbuffer *b = evbuffer_new();

		if (b == NULL) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		gw_metrics_render(node, b);
		reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
		evbuffer_free(b);
	}
}

/* A unix socket at path, mode 0660; a stale socket of an earlier run is replaced. */
static evutil_socket_t
unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	evutil_socket_t fd;

	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "[ops] listen: %s exists and is not a "
			    "socket; not replacing it", path);
			return -1;
		}
		unlink(path);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "[ops] listen: unix:%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
gw_ops_start(struct gw_node *node, char *err, size_t errlen)
{
	const struct gw_ops_cfg *o = &node->cfg.ops;
	evutil_socket_t fd;

	if (o->host[0] == '\0' && o->unix_path[0] == '\0')
		return 0;
	if ((http = evhttp_new(node->base)) == NULL) {
		snprintf(err, errlen, "[ops] listen: out of memory");
		return -1;
	}
	evhttp_set_max_body_size(http, OPS_MAX_BODY);
	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_timeout(http, OPS_TIMEOUT_S);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, on_request, node);
	if (o->unix_path[0] != '\0') {
		if ((fd = unix_listen(o->unix_path, err, errlen)) < 0 ||
		    evhttp_accept_socket(http, fd) != 0) {
			if (fd >= 0) {
				close(fd);
				snprintf(err, errlen, "[ops] listen: unix:%s: cannot "
				    "accept", o->unix_path);
			}
			gw_ops_stop();
			return -1;
		}
		snprintf(unix_path, sizeof(unix_path), "%s", o->unix_path);
	} else if (evhttp_bind_socket(http, o->host, (ev_uint16_t)atoi(o->port)) != 0) {
		snprintf(err, errlen, "[ops] listen: %s:%s: %s", o->host, o->port,
		    strerror(errno));
		gw_ops_stop();
		return -1;
	}
	net_log(NET_LOG_INFO, "ops_listening", "listen=%s%s%s%s%s",
	    o->unix_path[0] ? "unix:" : "", o->unix_path, o->host,
	    o->host[0] ? ":" : "", o->port);
	return 0;
}

void
gw_ops_stop(void)
{
	if (http != NULL)
		evhttp_free(http);
	http = NULL;
	if (unix_path[0] != '\0')
		unlink(unix_path);
	unix_path[0] = '\0';
}
