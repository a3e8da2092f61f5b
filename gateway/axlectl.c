/* axlectl.c -- the admin tool: one mTLS HTTP/2 connection to a node, one command table. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <ini.h>
#include <jansson.h>

#include "axle/v1/node.pb-c.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/grpc_frame.h"
#include "proto/pb.h"
#include "gateway/pb_json.h"
#include "gateway/tls.h"

#define CTL_DEFAULT_SERVER	"localhost:7443"
#define CTL_DEFAULT_TIMEOUT_MS	10000

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2 };

/* Where a setting comes from, lowest precedence first: config file, env, flag. */
struct ctl_settings {
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char trust[PATH_MAX];
	char federation[GW_FED_MAX + 1];
	char server[GW_HOST_MAX + GW_PORT_MAX + 4];
	int timeout_ms;
};

struct ctl {
	const char *cmd;		/* for error messages */
	struct ctl_settings set;
	bool json;
	struct event_base *base;
	SSL_CTX *ctx;
	struct gw_client *client;
};

struct ctl_cmd {
	const char *name;
	const char *args;		/* usage of the command's own arguments */
	const char *help;		/* one line */
	bool connects;			/* needs the connection to the node */
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static int cmd_help(struct ctl *, int, char **);
static int cmd_info(struct ctl *, int, char **);
static int cmd_health(struct ctl *, int, char **);

/* Later commands are one more row each. */
static const struct ctl_cmd ctl_cmds[] = {
	{ "info", "", "show the node: region, version, uptime, peers, who you are",
	    true, cmd_info },
	{ "health", "", "check /healthz; exit 0 if the node says ok",
	    true, cmd_health },
	{ "help", "", "list the commands", false, cmd_help },
};
#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
ctl_usage(FILE *f)
{
	fprintf(f,
	    "usage: axlectl [-c axlectl.conf | --cert F --key F --trust DIR "
	    "--federation FED]\n"
	    "               [--server host:port] [--json] [--timeout ms] "
	    "COMMAND [ARGS...]\n"
	    "Settings also come from AXLE_CERT, AXLE_KEY, AXLE_TRUST, "
	    "AXLE_FEDERATION, AXLE_SERVER\n"
	    "(flags win over the environment, which wins over the config "
	    "file). Server default %s.\n"
	    "Exit status: 0 ok, 1 the call failed, 2 usage.\n"
	    "Commands:\n", CTL_DEFAULT_SERVER);
	for (size_t i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "  %-10s %-20s %s\n", ctl_cmds[i].name,
		    ctl_cmds[i].args, ctl_cmds[i].help);
}

static int
ctl_fail(const struct ctl *ctl, const char *status, const char *msg)
{
	fprintf(stderr, "axlectl: %s: %s: %s\n", ctl->cmd, status, msg);
	return CTL_FAILED;
}

/* Prints a string that came from the network without terminal control bytes. */
static void
ctl_put_safe(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* A table cell: safe, cut to width, padded, one space after. */
static void
ctl_put_col(const char *s, int width)
{
	char cell[128];

	snprintf(cell, sizeof(cell), "%.*s", width, s != NULL ? s : "");
	ctl_put_safe(stdout, cell);
	printf("%*s", width + 1 - (int)strlen(cell), "");
}

/* --- settings -------------------------------------------------------- */

static void
ctl_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

struct ctl_ini {
	struct ctl_settings *set;
	char dir[PATH_MAX];
	char err[256];
};

/* Relative paths in the config file are taken from the file's folder. */
static void
ctl_ini_path(struct ctl_ini *ini, char *dst, size_t len, const char *v)
{
	size_t d = strlen(ini->dir), n = strlen(v);

	if (v[0] == '/' || d == 0) {
		ctl_copy(dst, len, v);
	} else if (d + 1 + n < len) {
		memcpy(dst, ini->dir, d);
		dst[d] = '/';
		memcpy(dst + d + 1, v, n + 1);
	} else {
		snprintf(ini->err, sizeof(ini->err), "path too long");
	}
}

static int
ctl_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct ctl_ini *ini = user;
	struct ctl_settings *s = ini->set;

	if (section[0] != '\0' && strcmp(section, "axlectl") != 0)
		snprintf(ini->err, sizeof(ini->err), "unknown section "
		    "[%s] (only [axlectl])", section);
	else if (strcmp(name, "cert") == 0)
		ctl_ini_path(ini, s->cert, sizeof(s->cert), value);
	else if (strcmp(name, "key") == 0)
		ctl_ini_path(ini, s->key, sizeof(s->key), value);
	else if (strcmp(name, "trust") == 0 || strcmp(name, "trust_dir") == 0)
		ctl_ini_path(ini, s->trust, sizeof(s->trust), value);
	else if (strcmp(name, "federation") == 0)
		ctl_copy(s->federation, sizeof(s->federation), value);
	else if (strcmp(name, "server") == 0)
		ctl_copy(s->server, sizeof(s->server), value);
	else if (strcmp(name, "timeout") == 0)
		s->timeout_ms = atoi(value);
	else
		snprintf(ini->err, sizeof(ini->err), "unknown key '%s'", name);
	return ini->err[0] == '\0';
}

static int
ctl_load_config(const char *path, struct ctl_settings *s)
{
	struct ctl_ini ini = { .set = s };
	const char *slash = strrchr(path, '/');
	int rc;

	if (slash != NULL)
		snprintf(ini.dir, sizeof(ini.dir), "%.*s", (int)(slash - path),
		    path);
	if ((rc = ini_parse(path, ctl_ini_handler, &ini)) == 0)
		return 0;
	if (rc < 0)
		fprintf(stderr, "axlectl: %s: %s\n", path, strerror(errno));
	else
		fprintf(stderr, "axlectl: %s:%d: %s\n", path, rc, ini.err[0] ?
		    ini.err : "syntax error");
	return -1;
}

static void
ctl_env(char *dst, size_t len, const char *var)
{
	const char *v = getenv(var);

	if (v != NULL && v[0] != '\0')
		ctl_copy(dst, len, v);
}

static int
ctl_timeout_arg(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX) {
		fprintf(stderr, "axlectl: --timeout: expected milliseconds "
		    "> 0, got '%s'\n", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * Parses the global options into ctl and returns the index of the command
 * word, or -1 (usage error, already said).
 */
static int
ctl_parse(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "trust", required_argument, NULL, 'T' },
		{ "federation", required_argument, NULL, 'F' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_settings flags = { .timeout_ms = 0 };
	const char *config = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'C': ctl_copy(flags.cert, sizeof(flags.cert), optarg); break;
		case 'K': ctl_copy(flags.key, sizeof(flags.key), optarg); break;
		case 'T': ctl_copy(flags.trust, sizeof(flags.trust), optarg); break;
		case 'F': ctl_copy(flags.federation, sizeof(flags.federation),
		    optarg); break;
		case 's': ctl_copy(flags.server, sizeof(flags.server), optarg);
		    break;
		case 't':
			if (ctl_timeout_arg(optarg, &flags.timeout_ms) < 0)
				return -1;
			break;
		case 'j': ctl->json = true; break;
		case 'h': ctl_usage(stdout); exit(CTL_OK);
		default: ctl_usage(stderr); return -1;
		}
	}
	ctl->set.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	ctl_copy(ctl->set.server, sizeof(ctl->set.server), CTL_DEFAULT_SERVER);
	if (config != NULL && ctl_load_config(config, &ctl->set) < 0)
		return -1;
#define MERGE(field, env) do {						\
	ctl_env(ctl->set.field, sizeof(ctl->set.field), env);		\
	if (flags.field[0] != '\0')					\
		ctl_copy(ctl->set.field, sizeof(ctl->set.field), flags.field); \
} while (0)
	MERGE(cert, "AXLE_CERT");
	MERGE(key, "AXLE_KEY");
	MERGE(trust, "AXLE_TRUST");
	MERGE(federation, "AXLE_FEDERATION");
	MERGE(server, "AXLE_SERVER");
#undef MERGE
	if (flags.timeout_ms > 0)
		ctl->set.timeout_ms = flags.timeout_ms;
	if (optind >= argc) {
		ctl_usage(stderr);
		return -1;
	}
	return optind;
}

/* --- the connection -------------------------------------------------- */

static int
ctl_connect(struct ctl *ctl)
{
	struct ctl_settings *s = &ctl->set;
	char host[GW_HOST_MAX + 1], port[GW_PORT_MAX + 1], err[512];
	struct gw_tls_opts o = { .cert_file = s->cert, .key_file = s->key,
	    .trust_dir = s->trust, .federation = s->federation };

	if (s->cert[0] == '\0' || s->key[0] == '\0' || s->trust[0] == '\0' ||
	    s->federation[0] == '\0') {
		fprintf(stderr, "axlectl: need --cert, --key, --trust and "
		    "--federation (or -c FILE, or AXLE_* variables)\n");
		return CTL_USAGE;
	}
	if (gw_config_split_hostport(s->server, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		fprintf(stderr, "axlectl: --server: expected host:port or "
		    "[v6]:port, got '%s'\n", s->server);
		return CTL_USAGE;
	}
	if ((ctl->ctx = gw_tls_client_ctx(&o, err, sizeof(err))) == NULL)
		return ctl_fail(ctl, "TLS", err);
	if ((ctl->base = event_base_new()) == NULL ||
	    (ctl->client = gw_client_new(ctl->base, ctl->ctx, host, port,
	    NULL)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	return CTL_OK;
}

/*
 * One unary call: packs req, calls path, unpacks the answer as rdesc into
 * *out (pb_free it). Returns CTL_OK, or CTL_FAILED after printing
 * "axlectl: CMD: STATUS: message".
 */
static int
ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out)
{
	uint8_t *buf, *resp = NULL;
	size_t len, resp_len = 0;
	char msg[512];
	int status;

	if ((buf = pb_pack(req, 0, &len)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	status = gw_client_call_sync(ctl->client, ctl->base, path, buf, len,
	    ctl->set.timeout_ms, &resp, &resp_len, msg, sizeof(msg));
	free(buf);
	if (status != GRPC_OK) {
		fprintf(stderr, "axlectl: %s: %s: ", ctl->cmd,
		    grpc_status_name(status));
		ctl_put_safe(stderr, msg);
		fputc('\n', stderr);
		return CTL_FAILED;
	}
	*out = pb_unpack(rdesc, resp, resp_len, GW_CLIENT_MAX_MSG, msg,
	    sizeof(msg));
	free(resp);
	if (*out == NULL)
		return ctl_fail(ctl, "INTERNAL", msg);
	return CTL_OK;
}

static int
ctl_print_json(const ProtobufCMessage *m)
{
	json_t *j = pb_json_from_message(m);
	int rc = j != NULL && json_dumpf(j, stdout, JSON_INDENT(2)) == 0 ?
	    CTL_OK : CTL_FAILED;

	json_decref(j);
	putchar('\n');
	return rc;
}

/* --- commands -------------------------------------------------------- */

static int
cmd_help(struct ctl *ctl, int argc, char **argv)
{
	ctl_usage(stdout);
	return CTL_OK;
}

static void
info_row(const char *name, const char *value)
{
	printf("%-12s ", name);
	ctl_put_safe(stdout, value != NULL && value[0] != '\0' ? value : "-");
	putchar('\n');
}

static void
info_uptime(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%llud %lluh %llum", (unsigned long long)s / 86400,
		    (unsigned long long)s % 86400 / 3600,
		    (unsigned long long)s % 3600 / 60);
	else
		snprintf(buf, len, "%lluh %llum %llus", (unsigned long long)s / 3600,
		    (unsigned long long)s % 3600 / 60, (unsigned long long)s % 60);
}

static void
info_print(const Axle__V1__InfoResponse *r)
{
	char buf[64];

	info_row("federation", r->federation);
	info_row("region", r->region);
	info_row("version", r->version);
	info_uptime(r->uptime_seconds, buf, sizeof(buf));
	info_row("uptime", buf);
	info_row("parent", r->parent);
	info_row("caller", r->caller);
	info_row("role", r->caller_role);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)r->boot_count);
	info_row("boot count", buf);
	printf("\n%-24s %-28s %-11s %s\n", "PEER", "ADDRESS", "STATE", "OUTBOX");
	for (size_t i = 0; i < r->n_peers; i++) {
		const Axle__V1__PeerSummary *p = r->peers[i];

		ctl_put_col(p->region, 24);
		ctl_put_col(p->address, 28);
		ctl_put_col(p->state, 11);
		printf("%llu\n", (unsigned long long)p->outbox);
	}
	if (r->n_peers == 0)
		printf("(no peers)\n");
}

static int
cmd_info(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__InfoRequest req = AXLE__V1__INFO_REQUEST__INIT;
	ProtobufCMessage *m;
	int rc;

	if (argc > 1) {
		fprintf(stderr, "axlectl: info takes no arguments\n");
		return CTL_USAGE;
	}
	rc = ctl_call(ctl, "/axle.v1.Node/Info", &req.base,
	    &axle__v1__info_response__descriptor, &m);
	if (rc != CTL_OK)
		return rc;
	if (ctl->json) {
		rc = ctl_print_json(m);
	} else {
		info_print((Axle__V1__InfoResponse *)m);
	}
	pb_free(m);
	return rc;
}

static int
cmd_health(struct ctl *ctl, int argc, char **argv)
{
	uint8_t *body = NULL;
	size_t len = 0;
	char msg[512], status[32];
	int http;
	bool ok;

	if (argc > 1) {
		fprintf(stderr, "axlectl: health takes no arguments\n");
		return CTL_USAGE;
	}
	http = gw_client_get_sync(ctl->client, ctl->base, "/healthz",
	    ctl->set.timeout_ms, &body, &len, msg, sizeof(msg));
	ok = http == 200 && len >= 2 && memcmp(body, "ok", 2) == 0;
	if (ctl->json) {
		json_t *j = json_pack("{s:b, s:i, s:s}", "ok", ok, "http_status",
		    http, "detail", http == 0 ? msg : "");

		if (j != NULL)
			json_dumpf(j, stdout, JSON_INDENT(2));
		json_decref(j);
		putchar('\n');
	} else if (ok) {
		printf("ok\n");
	}
	if (!ok && http == 0) {
		ctl_fail(ctl, "UNAVAILABLE", msg);
	} else if (!ok) {
		/* First line of the body, which says what is wrong. */
		char *nl = body != NULL ? strchr((char *)body, '\n') : NULL;

		if (nl != NULL)
			*nl = '\0';
		snprintf(status, sizeof(status), "HTTP %d", http);
		fprintf(stderr, "axlectl: %s: %s: ", ctl->cmd, status);
		ctl_put_safe(stderr, body != NULL ? (char *)body : "");
		fputc('\n', stderr);
	}
	free(body);
	return ok ? CTL_OK : CTL_FAILED;
}

/* --- main ------------------------------------------------------------ */

static const struct ctl_cmd *
ctl_find(const char *name)
{
	for (size_t i = 0; i < CTL_NCMDS; i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = { .cmd = "axlectl" };
	const struct ctl_cmd *cmd;
	int first, rc;

	signal(SIGPIPE, SIG_IGN);
	if ((first = ctl_parse(&ctl, argc, argv)) < 0)
		return CTL_USAGE;
	if ((cmd = ctl_find(argv[first])) == NULL) {
		fprintf(stderr, "axlectl: unknown command '%s' (try axlectl "
		    "help)\n", argv[first]);
		return CTL_USAGE;
	}
	ctl.cmd = cmd->name;
	rc = cmd->connects ? ctl_connect(&ctl) : CTL_OK;
	if (rc == CTL_OK)
		rc = cmd->run(&ctl, argc - first, argv + first);
	gw_client_free(ctl.client);
	if (ctl.base != NULL)
		event_base_free(ctl.base);
	if (ctl.ctx != NULL)
		SSL_CTX_free(ctl.ctx);
	return rc;
}
