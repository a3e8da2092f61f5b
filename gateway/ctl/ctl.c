/* ctl.c -- axlectl's shared parts: settings (file, env, flags), the connection, calls, output. */
#include <ctype.h>
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
#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"
#include "gateway/net/hostport.h"
#include "gateway/net/grpc_frame.h"
#include "proto/pb.h"
#include "proto/pb_json.h"
#include "recourse/case.h"
#include "gateway/net/tls.h"
#include "gateway/net/version.h"


int
ctl_fail(const struct ctl *ctl, const char *status, const char *msg)
{
	fprintf(stderr, "axlectl: %s: %s: %s\n", ctl->cmd, status, msg);
	return CTL_FAILED;
}

/* Prints a string that came from the network without terminal control bytes. */
void
ctl_put_safe(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* A table cell: safe, cut to width, padded, one space after. */
void
ctl_put_col(const char *s, int width)
{
	char cell[128];

	snprintf(cell, sizeof(cell), "%.*s", width, s != NULL ? s : "");
	ctl_put_safe(stdout, cell);
	printf("%*s", width + 1 - (int)strlen(cell), "");
}

void
ctl_time(int64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "-");
	else
		recourse_fmt_time(ms, buf, len);
}

const char *
ctl_enum_name(const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	char prefix[128];
	size_t o = 0;

	if (ev == NULL)
		return "?";
	/* ReceiptKind -> RECEIPT_KIND_ */
	for (const char *c = d->short_name; *c != '\0' && o + 2 < sizeof(prefix); c++) {
		if (isupper((unsigned char)*c) && c != d->short_name)
			prefix[o++] = '_';
		prefix[o++] = (char)toupper((unsigned char)*c);
	}
	prefix[o++] = '_';
	prefix[o] = '\0';
	if (strncmp(ev->name, prefix, o) == 0 && ev->name[o] != '\0')
		return ev->name + o;
	return ev->name;
}

/* --- values from stdin ---------------------------------------------------- */

#define CTL_STDIN_MAX	(64u << 20)

void
ctl_values_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* The string at a dotted path in o, or NULL. */
static const char *
ctl_json_path(json_t *o, const char *path)
{
	char key[64];

	while (o != NULL && *path != '\0') {
		size_t k = strcspn(path, ".");

		if (k >= sizeof(key))
			return NULL;
		memcpy(key, path, k);
		key[k] = '\0';
		o = json_object_get(o, key);
		path += k + (path[k] == '.');
	}
	return json_string_value(o);
}

/* Appends a copy of s to v (room for max). Returns 0, or -1 (said). */
static int
ctl_values_add(char **v, size_t *n, size_t max, const char *s, size_t len)
{
	if (*n >= max) {
		fprintf(stderr, "axlectl: more than %zu values on stdin\n", max);
		return -1;
	}
	if ((v[*n] = strndup(s, len)) == NULL) {
		fprintf(stderr, "axlectl: out of memory\n");
		return -1;
	}
	(*n)++;
	return 0;
}

/* The string at the first of paths that o has, or NULL. */
static const char *
ctl_json_first(json_t *o, const char *const *paths)
{
	const char *s = NULL;

	for (size_t p = 0; paths[p] != NULL && s == NULL; p++)
		s = ctl_json_path(o, paths[p]);
	return s;
}

/* The list in j: j if an array; an object's own value, else its first array member. */
static json_t *
ctl_json_list(json_t *j, const char *const *paths, bool *single)
{
	const char *k;
	json_t *v;

	*single = false;
	if (json_is_array(j))
		return j;
	if (ctl_json_first(j, paths) == NULL)
		json_object_foreach(j, k, v)
			if (json_is_array(v))
				return v;
	*single = true;
	return j;
}

static int
ctl_values_json(json_t *j, const char *const *paths, char **v, size_t *n,
    size_t max)
{
	bool single;
	json_t *list = ctl_json_list(j, paths, &single);
	size_t count = single ? 1 : json_array_size(list);

	for (size_t i = 0; i < count; i++) {
		const char *s = ctl_json_first(single ? list :
		    json_array_get(list, i), paths);

		if (s == NULL) {
			fprintf(stderr, "axlectl: stdin: JSON element %zu has none of "
			    "%s%s\n", i, paths[0], paths[1] != NULL ? ", ..." : "");
			return -1;
		}
		if (ctl_values_add(v, n, max, s, strlen(s)) != 0)
			return -1;
	}
	return 0;
}

char **
ctl_stdin_values(const char *const *paths, size_t max, size_t *n)
{
	char *buf = malloc(CTL_STDIN_MAX + 1), **v = calloc(max, sizeof(char *));
	size_t len = buf != NULL ? fread(buf, 1, CTL_STDIN_MAX + 1, stdin) : 0;
	const char *p;
	int rc = -1;

	*n = 0;
	if (buf != NULL)
		buf[len > CTL_STDIN_MAX ? CTL_STDIN_MAX : len] = '\0';
	if (buf == NULL || v == NULL)
		fprintf(stderr, "axlectl: out of memory\n");
	else if (len > CTL_STDIN_MAX)
		fprintf(stderr, "axlectl: stdin: more than %u bytes\n", CTL_STDIN_MAX);
	else if (ferror(stdin))
		fprintf(stderr, "axlectl: stdin: %s\n", strerror(errno));
	else if ((p = buf + strspn(buf, " \t\r\n")) < buf + len &&
	    (*p == '[' || *p == '{')) {
		json_error_t je;
		json_t *j = json_loadb(buf, len, 0, &je);

		if (j == NULL)
			fprintf(stderr, "axlectl: stdin: not JSON: line %d: %s\n",
			    je.line, je.text);
		else
			rc = ctl_values_json(j, paths, v, n, max);
		json_decref(j);
	} else {
		rc = 0;
		for (p = buf; rc == 0 && *(p += strspn(p, " \t\r\n")) != '\0';
		    p += strcspn(p, " \t\r\n"))
			rc = ctl_values_add(v, n, max, p, strcspn(p, " \t\r\n"));
	}
	free(buf);
	if (rc != 0 || v == NULL) {
		ctl_values_free(v, *n);
		return NULL;
	}
	return v;
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
	else if (strcmp(name, "seal_key") == 0)
		ctl_ini_path(ini, s->seal_key, sizeof(s->seal_key), value);
	else if (strcmp(name, "seal_cert") == 0)
		ctl_ini_path(ini, s->seal_cert, sizeof(s->seal_cert), value);
	else if (strcmp(name, "sign_key") == 0)
		ctl_ini_path(ini, s->sign_key, sizeof(s->sign_key), value);
	else if (strcmp(name, "sign_cert") == 0)
		ctl_ini_path(ini, s->sign_cert, sizeof(s->sign_cert), value);
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
int
ctl_parse(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "trust", required_argument, NULL, 'T' },
		{ "sign-key", required_argument, NULL, 'S' },
		{ "sign-cert", required_argument, NULL, 'R' },
		{ "federation", required_argument, NULL, 'F' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
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
		case 'S': ctl_copy(flags.sign_key, sizeof(flags.sign_key), optarg);
		    break;
		case 'R': ctl_copy(flags.sign_cert, sizeof(flags.sign_cert), optarg);
		    break;
		case 'F': ctl_copy(flags.federation, sizeof(flags.federation),
		    optarg); break;
		case 's': ctl_copy(flags.server, sizeof(flags.server), optarg);
		    break;
		case 't':
			if (ctl_timeout_arg(optarg, &flags.timeout_ms) < 0)
				return -1;
			break;
		case 'j': ctl->json = true; break;
		case 'h': ctl->usage(stdout); exit(CTL_OK);
		case 'V': printf("axlectl %s\n", AXLE_VERSION); exit(CTL_OK);
		default: ctl->usage(stderr); return -1;
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
	MERGE(seal_key, "AXLE_SEAL_KEY");
	MERGE(seal_cert, "AXLE_SEAL_CERT");
	MERGE(sign_key, "AXLE_SIGN_KEY");
	MERGE(sign_cert, "AXLE_SIGN_CERT");
	MERGE(federation, "AXLE_FEDERATION");
	MERGE(server, "AXLE_SERVER");
#undef MERGE
	if (flags.timeout_ms > 0)
		ctl->set.timeout_ms = flags.timeout_ms;
	if (optind >= argc) {
		ctl->usage(stderr);
		return -1;
	}
	return optind;
}

/* --- the connection -------------------------------------------------- */

int
ctl_connect(struct ctl *ctl)
{
	struct ctl_settings *s = &ctl->set;
	char host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1], err[512];
	const char *why;
	struct net_tls_opts o = { .cert_file = s->cert, .key_file = s->key,
	    .trust_dir = s->trust, .federation = s->federation };

	if (s->cert[0] == '\0' || s->key[0] == '\0' || s->trust[0] == '\0' ||
	    s->federation[0] == '\0') {
		fprintf(stderr, "axlectl: need --cert, --key, --trust and "
		    "--federation (or -c FILE, or AXLE_* variables)\n");
		return CTL_USAGE;
	}
	if (net_hostport_split(s->server, host, sizeof(host), port,
	    sizeof(port), &why) < 0) {
		fprintf(stderr, "axlectl: --server: expected host:port or "
		    "[v6]:port, got '%s'\n", s->server);
		return CTL_USAGE;
	}
	if ((ctl->ctx = net_tls_client_ctx(&o, err, sizeof(err))) == NULL)
		return ctl_fail(ctl, "TLS", err);
	if ((ctl->base = event_base_new()) == NULL ||
	    (ctl->client = net_client_new(ctl->base, ctl->ctx, host, port,
	    NULL)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	return CTL_OK;
}

/*
 * One unary call: packs req, calls path, unpacks the answer as rdesc into
 * *out (pb_free it). Returns CTL_OK, or CTL_FAILED after printing
 * "axlectl: CMD: STATUS: message".
 */
int
ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out)
{
	uint8_t *buf, *resp = NULL;
	size_t len, resp_len = 0;
	char msg[512];
	int status;

	if ((buf = pb_pack(req, 0, &len)) == NULL)
		return ctl_fail(ctl, "INTERNAL", "out of memory");
	status = net_client_call_sync(ctl->client, ctl->base, path, buf, len,
	    ctl->set.timeout_ms, &resp, &resp_len, msg, sizeof(msg));
	free(buf);
	if (status != GRPC_OK) {
		fprintf(stderr, "axlectl: %s: %s: ", ctl->cmd,
		    net_grpc_status_name(status));
		ctl_put_safe(stderr, msg);
		fputc('\n', stderr);
		return CTL_FAILED;
	}
	*out = pb_unpack(rdesc, resp, resp_len, NET_CLIENT_MAX_MSG, msg,
	    sizeof(msg));
	free(resp);
	if (*out == NULL)
		return ctl_fail(ctl, "INTERNAL", msg);
	return CTL_OK;
}

int
ctl_parse_opts(const char *cmd, int argc, char **argv, int first, struct ctl_opt *opts,
    size_t nopts, char **pos, size_t min, size_t max, size_t *npos)
{
	*npos = 0;
	for (int i = first; i < argc; i++) {
		struct ctl_opt *o = NULL;

		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			if (*npos == max) {
				fprintf(stderr, "axlectl: %s: unexpected argument "
				    "'%s'\n", cmd, argv[i]);
				return -1;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		for (size_t k = 0; k < nopts; k++)
			if (strcmp(argv[i] + 2, opts[k].name) == 0)
				o = &opts[k];
		if (o == NULL || i + 1 >= argc) {
			fprintf(stderr, "axlectl: %s: %s option '%s'\n", cmd,
			    o == NULL ? "unknown" : "missing value for", argv[i]);
			return -1;
		}
		if (o->multi && o->n < CTL_OPT_MULTI)
			o->vals[o->n++] = argv[++i];
		else
			o->val = argv[++i];
	}
	if (*npos < min) {
		fprintf(stderr, "axlectl: %s: missing arguments\n", cmd);
		return -1;
	}
	return 0;
}
