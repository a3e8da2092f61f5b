/* config.c -- loads and checks axled.conf (INI via inih), every error as FILE:LINE: message. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "gateway/node/config.h"
#include "proto/text.h"
#include "recourse/path.h"
#include "recourse/rc.h"

#define CFG_KEYS_MAX 16

enum cfg_sec { SEC_NONE, SEC_NODE, SEC_TLS, SEC_LOG, SEC_LIMITS, SEC_RECOURSE, SEC_REGISTRY,
    SEC_SWITCH, SEC_METRICS, SEC_OPS, SEC_PEERING, SEC_TRUST, SEC_PEER, SEC_COUNT };

struct cfg_state;
struct cfg_key;

/* Stores val into base (a gw_config or a gw_peer); -1 with a reason in msg. */
typedef int (*cfg_setter)(const struct cfg_state *st, const struct cfg_key *k,
    void *base, const char *val, char *msg, size_t msglen);

struct cfg_key {
	const char *name;
	cfg_setter set;
	size_t off;		/* destination within base */
	size_t size;		/* of the destination string */
	size_t off2;		/* port, for host:port keys */
	uint32_t min, max;	/* for integers */
	bool required;
};

struct cfg_section {
	const char *name;
	const struct cfg_key *keys;
	size_t nkeys;
};

/*
 * inih (Debian's build) gives the handler no line number and treats indented
 * lines as continuations, so our reader counts lines, strips indentation and
 * handles [section] lines itself (inih also truncates section names at 50
 * bytes, too short for a peer's address).
 */
struct cfg_state {
	struct gw_config *cfg;
	const char *path;
	FILE *fp;
	char *buf;
	size_t bufcap;
	int lineno;
	bool stop;		/* a reader error: stop feeding inih */
	char dir[PATH_MAX];	/* config file's directory, absolute */
	enum cfg_sec sec;
	char label[ADDR_MAX_LEN + 8];	/* "node", "peer uk.leeds" */
	size_t peer;		/* current peer index, in SEC_PEER */
	int seen[SEC_COUNT][CFG_KEYS_MAX];	/* line a key was set on */
	int peer_seen[GW_MAX_PEERS][CFG_KEYS_MAX];
	bool failed;
	int err_line;
	char *err;
	size_t errlen;
};

static int cfg_fail(struct cfg_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first error only; returns 0 so the inih handler can return it. */
static int
cfg_fail(struct cfg_state *st, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (st->failed)
		return 0;
	st->failed = true;
	st->err_line = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st->errlen == 0)
		return 0;
	if (line > 0)
		snprintf(st->err, st->errlen, "%s:%d: %s", st->path, line, msg);
	else
		snprintf(st->err, st->errlen, "%s: %s", st->path, msg);
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const struct gw_peer *
gw_config_peer_named(const struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; name[0] != '\0' && i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].name, name) == 0)
			return &cfg->peers[i];
	return NULL;
}

const struct gw_peer *
gw_config_peer(const struct gw_config *cfg, const char *region)
{
	for (size_t i = 0; i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].region, region) == 0)
			return &cfg->peers[i];
	return NULL;
}

/* ---- value setters ---------------------------------------------------- */

static int
set_address(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	char reason[256];

	if (registry_address_parse(val, strlen(val), (char *)base + k->off,
	    reason, sizeof(reason)) < 0) {
		axle_seterr(msg, msglen, "not a valid address (%s); expected labels "
		    "of a-z, 0-9 and '-' separated by dots, e.g. uk.london",
		    reason);
		return -1;
	}
	return 0;
}

static int
set_label(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	char folded[ADDR_MAX_LEN + 1], reason[256];

	if (registry_address_parse(val, strlen(val), folded, reason,
	    sizeof(reason)) < 0 || registry_address_labels(folded) != 1) {
		axle_seterr(msg, msglen, "must be a single label of 1-63 a-z, 0-9 "
		    "and '-' (no dots), e.g. fame-uk");
		return -1;
	}
	snprintf((char *)base + k->off, k->size, "%s", folded);
	return 0;
}

/* An axle:// identity URI, stored in its canonical form. */
static int
set_identity(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	struct net_identity id;
	char reason[256];

	if (net_identity_parse_uri(val, strlen(val), &id, reason,
	    sizeof(reason)) < 0) {
		axle_seterr(msg, msglen, "not an identity URI (%s); expected e.g. "
		    "axle://fame-uk/member/uk.london.monitoring", reason);
		return -1;
	}
	snprintf((char *)base + k->off, k->size, "%s", id.uri);
	return 0;
}

static int
set_hostport(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	const char *why;

	if (net_hostport_split(val, (char *)base + k->off, NET_HOST_MAX + 1,
	    (char *)base + k->off2, NET_PORT_MAX + 1, &why) < 0) {
		axle_seterr(msg, msglen, "%s; expected host:port, e.g. "
		    "0.0.0.0:7443, node.example.org:7443 or [::]:7443", why);
		return -1;
	}
	return 0;
}

/*
 * [ops] listen: plain HTTP without TLS or authentication, so only where no
 * one but this machine reaches it: a loopback address or a unix socket.
 */
static int
set_ops_listen(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	struct gw_ops_cfg *ops = (struct gw_ops_cfg *)((char *)base + k->off);
	const char *why;

	memset(ops, 0, sizeof(*ops));
	if (strncmp(val, "unix:", 5) == 0) {
		if (val[5] != '/' || strlen(val + 5) > GW_OPS_UNIX_MAX) {
			axle_seterr(msg, msglen, "unix: needs an absolute path of at "
			    "most %d bytes, e.g. unix:/run/axle/ops.sock", GW_OPS_UNIX_MAX);
			return -1;
		}
		snprintf(ops->unix_path, sizeof(ops->unix_path), "%s", val + 5);
		return 0;
	}
	if (net_hostport_split(val, ops->host, sizeof(ops->host), ops->port,
	    sizeof(ops->port), &why) < 0) {
		axle_seterr(msg, msglen, "%s; expected 127.0.0.1:PORT, [::1]:PORT, "
		    "localhost:PORT or unix:/PATH", why);
		return -1;
	}
	if (strncmp(ops->host, "127.", 4) != 0 && strcmp(ops->host, "::1") != 0 &&
	    strcmp(ops->host, "localhost") != 0) {
		axle_seterr(msg, msglen, "%s is not a loopback address: the ops "
		    "listener has no TLS and no authentication, so it listens on "
		    "127.0.0.1, ::1, localhost or a unix socket only", ops->host);
		memset(ops, 0, sizeof(*ops));
		return -1;
	}
	return 0;
}

static int
set_path(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	char *dst = (char *)base + k->off;
	int n;

	if (val[0] == '/')
		n = snprintf(dst, k->size, "%s", val);
	else
		n = snprintf(dst, k->size, "%s/%s", st->dir, val);
	if (n < 0 || (size_t)n >= k->size) {
		axle_seterr(msg, msglen, "path longer than %zu bytes", k->size - 1);
		return -1;
	}
	return 0;
}

static int
set_bool(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	bool *dst = (bool *)((char *)base + k->off);

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*dst = true;
			return 0;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*dst = false;
			return 0;
		}
	}
	axle_seterr(msg, msglen, "must be yes or no (or true/false, 1/0)");
	return -1;
}

static int
set_level(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	if (net_log_parse_level(val, (enum net_log_level *)((char *)base +
	    k->off)) < 0) {
		axle_seterr(msg, msglen, "must be one of debug, info, warn, error");
		return -1;
	}
	return 0;
}

static int
set_log_format(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	if (net_log_parse_format(val, (enum net_log_format *)((char *)base +
	    k->off)) < 0) {
		axle_seterr(msg, msglen, "must be kv or json");
		return -1;
	}
	return 0;
}

static int
set_u32(const struct cfg_state *st, const struct cfg_key *k, void *base,
    const char *val, char *msg, size_t msglen)
{
	uint64_t v = 0;

	for (const char *p = val; *p != '\0'; p++) {
		if (!is_digit(*p)) {
			axle_seterr(msg, msglen, "must be a whole number between "
			    "%u and %u (digits only: no sign, unit or suffix)",
			    k->min, k->max);
			return -1;
		}
		/* Saturate: anything past max is refused below anyway. */
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < k->min || v > k->max) {
		axle_seterr(msg, msglen, "must be between %u and %u", k->min, k->max);
		return -1;
	}
	*(uint32_t *)((char *)base + k->off) = (uint32_t)v;
	return 0;
}

/* ---- key tables ------------------------------------------------------- */

#define CFG_STR(name, fn, field, req) \
	{ name, fn, offsetof(struct gw_config, field), \
	    sizeof(((struct gw_config *)0)->field), 0, 0, 0, req }
#define CFG_LIM(field, lo, hi) \
	{ #field, set_u32, offsetof(struct gw_config, limits.field), \
	    sizeof(uint32_t), 0, lo, hi, false }

static const struct cfg_key node_keys[] = {
	CFG_STR("federation", set_label, federation, true),
	CFG_STR("region", set_address, region, true),
	{ "listen", set_hostport, offsetof(struct gw_config, listen_host), 0,
	    offsetof(struct gw_config, listen_port), 0, 0, true },
	CFG_STR("data_dir", set_path, data_dir, true),
	CFG_STR("parent", set_address, parent, false),
};

static const struct cfg_key tls_keys[] = {
	CFG_STR("cert", set_path, cert_file, true),
	CFG_STR("key", set_path, key_file, true),
	CFG_STR("trust_dir", set_path, trust_dir, true),
	CFG_STR("allow_tls12", set_bool, tls12, false),
};

static const struct cfg_key log_keys[] = {
	CFG_STR("level", set_level, log_level, false),
	CFG_STR("format", set_log_format, log_format, false),
};

static const struct cfg_key limits_keys[] = {
	CFG_LIM(max_connections, 1, 1000000),
	CFG_LIM(max_concurrent_streams, 1, 10000),
	CFG_LIM(max_header_list, 1024, 1048576),
	CFG_LIM(max_message_size, 1024, 67108864),
	CFG_LIM(max_outbound_queue, 1, 1000000),
	CFG_LIM(max_rst_sent, 1, 1000000),
	CFG_LIM(max_empty_data, 1, 1000000),
	CFG_LIM(max_control_frames, 1, 1000000),
	CFG_LIM(handshake_timeout_ms, 100, 86400000),
	CFG_LIM(idle_timeout_ms, 100, 86400000),
	CFG_LIM(map_size_mb, 1, 1048576),
	CFG_LIM(commit_batch_max, 1, 65536),
	CFG_LIM(store_reserve_kb, 0, 1048576),
};

#define CFG_REC(field, lo, hi) \
	{ #field, set_u32, offsetof(struct gw_config, recourse.field), \
	    sizeof(uint32_t), 0, lo, hi, false }

/* Order matters: cfg_check_recourse reads seen[] by index. */
static const struct cfg_key recourse_keys[] = {
	CFG_REC(case_deadline_ms, 100, 2592000000u),	/* 30 days */
	CFG_REC(retry_base_ms, 10, 3600000),
	CFG_REC(retry_cap_ms, 10, 86400000),
	CFG_REC(escalate_timeout_ms, 100, 600000),
};

static const struct cfg_key registry_keys[] = {
	{ "mirror_interval_ms", set_u32, offsetof(struct gw_config,
	    registry.mirror_interval_ms), sizeof(uint32_t), 0, 50, 3600000, false },
	{ "max_origins", set_u32, offsetof(struct gw_config,
	    registry.max_origins), sizeof(uint32_t), 0, 1, 65536, false },
	{ "relay_stale_ms", set_u32, offsetof(struct gw_config,
	    registry.relay_stale_ms), sizeof(uint32_t), 0, 1000, 86400000, false },
};

#define CFG_SW(field, lo, hi) \
	{ #field, set_u32, offsetof(struct gw_config, sw.field), \
	    sizeof(uint32_t), 0, lo, hi, false }

/* Order matters: cfg_check_switch reads seen[] by index. */
static const struct cfg_key switch_keys[] = {
	CFG_SW(hold_limit_ms, 1000, 2592000000u),	/* 30 days */
	CFG_SW(default_visibility_ms, 100, 3600000),	/* SW_VISIBILITY_MAX_MS */
	CFG_SW(max_payload, 1, 67108864 - GW_ENVELOPE_ROOM),
	CFG_SW(default_deliver_by_ms, 1000, 2592000000u),	/* 30 days */
	CFG_SW(record_retention_ms, 1000, 2592000000u),
	CFG_SW(dedup_retention_ms, 1000, 2592000000u),
};

static const struct cfg_key ops_keys[] = {
	CFG_STR("listen", set_ops_listen, ops, false),
};

static const struct cfg_key metrics_keys[] = {
	CFG_STR("scrape_identity", set_identity, metrics.scrape_identity, false),
};

static const struct cfg_key peering_keys[] = {
	{ "idle_ms", set_u32, offsetof(struct gw_config, peering.idle_ms),
	    sizeof(uint32_t), 0, 100, 86400000, false },
	{ "max_links", set_u32, offsetof(struct gw_config, peering.max_links),
	    sizeof(uint32_t), 0, 1, 65536, false },
	CFG_STR("direct", set_bool, peering.direct, false),
};

static const struct cfg_key trust_keys[] = {
	CFG_STR("require_signed", set_bool, trust.require_signed, false),
	CFG_STR("require_signed_hops", set_bool, trust.require_signed_hops, false),
};

static const struct cfg_key peer_keys[] = {
	{ "address", set_hostport, offsetof(struct gw_peer, host), 0,
	    offsetof(struct gw_peer, port), 0, 0, true },
	{ "region", set_address, offsetof(struct gw_peer, region),
	    sizeof(((struct gw_peer *)0)->region), 0, 0, 0, false },
	{ "parent", set_address, offsetof(struct gw_peer, parent),
	    sizeof(((struct gw_peer *)0)->parent), 0, 0, 0, false },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static const struct cfg_section sections[SEC_COUNT] = {
	[SEC_NODE] = { "node", node_keys, NKEYS(node_keys) },
	[SEC_TLS] = { "tls", tls_keys, NKEYS(tls_keys) },
	[SEC_LOG] = { "log", log_keys, NKEYS(log_keys) },
	[SEC_LIMITS] = { "limits", limits_keys, NKEYS(limits_keys) },
	[SEC_RECOURSE] = { "recourse", recourse_keys, NKEYS(recourse_keys) },
	[SEC_REGISTRY] = { "registry", registry_keys, NKEYS(registry_keys) },
	[SEC_SWITCH] = { "switch", switch_keys, NKEYS(switch_keys) },
	[SEC_METRICS] = { "metrics", metrics_keys, NKEYS(metrics_keys) },
	[SEC_OPS] = { "ops", ops_keys, NKEYS(ops_keys) },
	[SEC_PEERING] = { "peering", peering_keys, NKEYS(peering_keys) },
	[SEC_TRUST] = { "trust", trust_keys, NKEYS(trust_keys) },
	[SEC_PEER] = { "peer", peer_keys, NKEYS(peer_keys) },
};

void
gw_config_defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = NET_LOG_INFO;
	cfg->log_format = NET_LOG_FORMAT_KV;
	cfg->tls12 = false;
	cfg->limits = (struct net_limits){
		.max_connections = 1024,
		.max_concurrent_streams = 100,
		.max_header_list = 16384,
		.max_message_size = 4u << 20,
		.max_outbound_queue = 1024,
		.max_rst_sent = 200,
		.max_empty_data = 100,
		.max_control_frames = 1000,
		.handshake_timeout_ms = 10000,
		.idle_timeout_ms = 300000,
		.map_size_mb = 1024,
		.commit_batch_max = 256,
		.store_reserve_kb = 16384,
	};
	cfg->recourse = (struct gw_recourse_cfg){
		.case_deadline_ms = 86400000,
		.retry_base_ms = 1000,
		.retry_cap_ms = 600000,
		.escalate_timeout_ms = 10000,
	};
	cfg->registry = (struct gw_registry_cfg){ .mirror_interval_ms = 1000,
	    .max_origins = 256, .relay_stale_ms = 60000 };
	cfg->peering = (struct gw_peering_cfg){ .idle_ms = 60000,
	    .max_links = 256, .direct = true };
	cfg->sw = (struct gw_switch_cfg){
		.hold_limit_ms = 259200000,
		.default_visibility_ms = 30000,
		.max_payload = 1u << 20,
		.default_deliver_by_ms = 604800000,
		.record_retention_ms = 604800000,
		.dedup_retention_ms = 1209600000,
	};
}

/* ---- sections --------------------------------------------------------- */

static int *
cfg_seen(struct cfg_state *st)
{
	if (st->sec == SEC_PEER)
		return st->peer_seen[st->peer];
	return st->seen[st->sec];
}

static int
cfg_peer_begin(struct cfg_state *st, const char *name)
{
	struct gw_config *cfg = st->cfg;
	char folded[ADDR_MAX_LEN + 1], reason[256];
	struct gw_peer *p;

	if (*name == '\0')
		return cfg_fail(st, st->lineno, "[peer] needs a name: "
		    "[peer <region>], e.g. [peer uk.leeds]");
	if (registry_address_parse(name, strlen(name), folded, reason,
	    sizeof(reason)) < 0)
		return cfg_fail(st, st->lineno, "[peer %s]: the peer's name must "
		    "be a valid address, e.g. [peer uk.leeds] (%s)", name,
		    reason);
	for (size_t i = 0; i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].name, folded) == 0)
			return cfg_fail(st, st->lineno, "duplicate [peer %s] "
			    "(first defined on line %d)", folded,
			    cfg->peers[i].line);
	if (cfg->npeers == GW_MAX_PEERS)
		return cfg_fail(st, st->lineno, "[peer %s]: too many peers "
		    "(at most %d)", folded, GW_MAX_PEERS);
	st->peer = cfg->npeers++;
	p = &cfg->peers[st->peer];
	memset(p, 0, sizeof(*p));
	memcpy(p->name, folded, sizeof(folded));
	p->line = st->lineno;
	st->sec = SEC_PEER;
	snprintf(st->label, sizeof(st->label), "peer %s", folded);
	return 1;
}

/* Trims blanks at both ends of [s, e) and NUL-terminates; returns start. */
static char *
cfg_trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		e--;
	*e = '\0';
	return s;
}

/* A "[name]" line (leading blanks already gone). Returns 1, or 0 on error. */
static int
cfg_section_line(struct cfg_state *st, char *line)
{
	char *close = strchr(line, ']'), *rest, *name;

	if (close == NULL)
		return cfg_fail(st, st->lineno, "unterminated section header; "
		    "expected [name]");
	rest = close + 1;
	rest += strspn(rest, " \t\r\n");
	if (*rest != '\0' && *rest != ';' && *rest != '#')
		return cfg_fail(st, st->lineno, "unexpected text after ]: "
		    "a section header stands alone on its line");
	name = cfg_trim(line + 1, close);
	for (int s = SEC_NODE; s < SEC_PEER; s++)
		if (strcmp(name, sections[s].name) == 0) {
			st->sec = (enum cfg_sec)s;
			snprintf(st->label, sizeof(st->label), "%s", name);
			return 1;
		}
	if (strncmp(name, "peer", 4) == 0 && (name[4] == '\0' ||
	    name[4] == ' ' || name[4] == '\t'))
		return cfg_peer_begin(st, cfg_trim(name + 4, name + strlen(name)));
	return cfg_fail(st, st->lineno, "unknown section [%s] (known: node, "
	    "tls, log, limits, recourse, registry, switch, metrics, "
	    "peer <name>)", name);
}

/* ---- inih glue -------------------------------------------------------- */

static char *
cfg_reader(char *str, int num, void *stream)
{
	struct cfg_state *st = stream;
	ssize_t n;
	char *line;
	size_t len;

	if (st->stop)
		return NULL;
	n = getline(&st->buf, &st->bufcap, st->fp);
	if (n < 0)
		return NULL;
	st->lineno++;
	line = st->buf;
	if (memchr(line, '\0', (size_t)n) != NULL) {
		st->stop = true;
		cfg_fail(st, st->lineno, "NUL byte in line");
		return NULL;
	}
	if (st->lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	line += strspn(line, " \t");
	if (line[0] == '[') {
		if (!cfg_section_line(st, line)) {
			st->stop = true;
			return NULL;
		}
		line = "\n";
	}
	len = strlen(line);
	if (num <= 0 || len >= (size_t)num) {
		st->stop = true;
		cfg_fail(st, st->lineno, "line longer than %d bytes", num - 2);
		return NULL;
	}
	memcpy(str, line, len + 1);
	return str;
}

static void
cfg_known(const struct cfg_section *sec, char *buf, size_t buflen)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sec->nkeys && o < buflen; i++)
		o += (size_t)snprintf(buf + o, buflen - o, "%s%s",
		    i ? ", " : "", sec->keys[i].name);
}

static int
cfg_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_state *st = user;
	const struct cfg_section *sec = &sections[st->sec];
	char known[512], msg[768];
	int *seen;
	size_t i;

	(void)section;	/* inih's copy may be truncated; ours is not */
	if (st->sec == SEC_NONE)
		return cfg_fail(st, st->lineno, "key \"%s\" comes before any "
		    "section; put it under [node], [tls], [log], [limits] or "
		    "[peer <name>]", name);
	for (i = 0; i < sec->nkeys; i++)
		if (strcmp(name, sec->keys[i].name) == 0)
			break;
	if (i == sec->nkeys) {
		cfg_known(sec, known, sizeof(known));
		return cfg_fail(st, st->lineno, "unknown key \"%s\" in [%s] "
		    "(known: %s)", name, st->label, known);
	}
	seen = cfg_seen(st);
	if (seen[i] != 0)
		return cfg_fail(st, st->lineno, "duplicate key \"%s\" in [%s] "
		    "(first set on line %d)", name, st->label, seen[i]);
	seen[i] = st->lineno;
	if (*value == '\0')
		return cfg_fail(st, st->lineno, "[%s] %s is empty: give a "
		    "value, or remove the line to use the default", st->label,
		    name);
	if (sec->keys[i].set(st, &sec->keys[i], st->sec == SEC_PEER ?
	    (void *)&st->cfg->peers[st->peer] : (void *)st->cfg, value, msg,
	    sizeof(msg)) < 0)
		return cfg_fail(st, st->lineno, "[%s] %s = %s: %s", st->label,
		    name, value, msg);
	return 1;
}

/* ---- whole-file checks ------------------------------------------------ */

static int
cfg_check_required(struct cfg_state *st)
{
	for (int s = SEC_NODE; s < SEC_PEER; s++)
		for (size_t i = 0; i < sections[s].nkeys; i++)
			if (sections[s].keys[i].required && st->seen[s][i] == 0)
				return cfg_fail(st, 0, "[%s] %s is required",
				    sections[s].name, sections[s].keys[i].name);
	return 1;
}

static int
cfg_check_peers(struct cfg_state *st)
{
	struct gw_config *cfg = st->cfg;

	for (size_t i = 0; i < cfg->npeers; i++) {
		struct gw_peer *p = &cfg->peers[i];

		if (st->peer_seen[i][0] == 0)
			return cfg_fail(st, p->line, "[peer %s] address is "
			    "required (address = host:port)", p->name);
		if (p->region[0] == '\0')
			memcpy(p->region, p->name, sizeof(p->region));
		if (strcmp(p->region, cfg->region) == 0)
			return cfg_fail(st, p->line, "[peer %s] has this node's "
			    "own region %s", p->name, p->region);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->peers[j].region, p->region) == 0)
				return cfg_fail(st, p->line, "[peer %s] region "
				    "%s is also the region of [peer %s] (line "
				    "%d)", p->name, p->region,
				    cfg->peers[j].name, cfg->peers[j].line);
		/* A node serves one region: one address for two is a slip. */
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(cfg->peers[j].host, p->host) == 0 &&
			    strcmp(cfg->peers[j].port, p->port) == 0)
				return cfg_fail(st, p->line, "[peer %s] has the "
				    "same address %s:%s as [peer %s] (line %d): "
				    "a node serves one region, so one of them "
				    "reaches the wrong node", p->name, p->host,
				    p->port, cfg->peers[j].name,
				    cfg->peers[j].line);
	}
	return 1;
}

static int
cfg_check_parent(struct cfg_state *st)
{
	struct gw_config *cfg = st->cfg;
	char names[1024] = "";
	size_t o = 0;

	if (cfg->parent[0] == '\0')
		return 1;
	for (size_t i = 0; i < cfg->npeers; i++) {
		if (strcmp(cfg->peers[i].name, cfg->parent) == 0)
			return 1;
		if (o < sizeof(names))
			o += (size_t)snprintf(names + o, sizeof(names) - o,
			    "%s%s", i ? ", " : "", cfg->peers[i].name);
	}
	/* node_keys[4] is parent: its line is where the fix goes. */
	return cfg_fail(st, st->seen[SEC_NODE][4], "[node] parent = %s: no "
	    "[peer %s] section; the parent must be a configured peer (%s%s)",
	    cfg->parent, cfg->parent, cfg->npeers ? "peers: " :
	    "no peers configured", names);
}

static int
cfg_check_recourse(struct cfg_state *st)
{
	const struct gw_recourse_cfg *r = &st->cfg->recourse;

	if (r->retry_cap_ms < r->retry_base_ms)
		return cfg_fail(st, st->seen[SEC_RECOURSE][2] ?
		    st->seen[SEC_RECOURSE][2] : st->seen[SEC_RECOURSE][1],
		    "[recourse] retry_cap_ms (%u) is below retry_base_ms (%u)",
		    r->retry_cap_ms, r->retry_base_ms);
	return 1;
}

/*
 * A payload the node accepts must fit, with its envelope, in one gRPC message
 * ([limits] max_message_size), or Send and Forward would refuse it at the
 * framing layer with a less helpful message. Checked when max_payload is set:
 * the default (1 MiB) is kept with a small max_message_size, whose own limit
 * then applies first.
 */
static int
cfg_check_switch(struct cfg_state *st)
{
	const struct gw_config *c = st->cfg;
	int line = st->seen[SEC_SWITCH][2];

	if (line != 0 && (uint64_t)c->sw.max_payload + GW_ENVELOPE_ROOM >
	    c->limits.max_message_size)
		return cfg_fail(st, line, "[switch] max_payload = %u leaves no room "
		    "for the envelope in a gRPC message: at most [limits] "
		    "max_message_size (%u) - %u = %ld", c->sw.max_payload,
		    c->limits.max_message_size, GW_ENVELOPE_ROOM,
		    (long)c->limits.max_message_size - GW_ENVELOPE_ROOM);
	/*
	 * A message that ended here may come again while a node or hub before
	 * this one still holds it and retries: at most until its delivery
	 * deadline, whose default is default_deliver_by_ms.
	 */
	if (c->sw.dedup_retention_ms < c->sw.default_deliver_by_ms)
		return cfg_fail(st, st->seen[SEC_SWITCH][5] != 0 ?
		    st->seen[SEC_SWITCH][5] : st->seen[SEC_SWITCH][3],
		    "[switch] dedup_retention_ms = %u is shorter than "
		    "default_deliver_by_ms = %u: a message retried until its "
		    "delivery deadline would be taken twice; raise "
		    "dedup_retention_ms or lower default_deliver_by_ms",
		    c->sw.dedup_retention_ms, c->sw.default_deliver_by_ms);
	return 1;
}

/* The region [node] parent (a peer's name) stands for. */
static const char *
cfg_parent_region(const struct gw_config *cfg)
{
	for (size_t i = 0; i < cfg->npeers; i++)
		if (strcmp(cfg->peers[i].name, cfg->parent) == 0)
			return cfg->peers[i].region;
	return cfg->parent;
}

/*
 * The parent chain as far as this file knows it: this node's parent and the
 * parents peers declare (`parent =` in [peer ...]). Links are added in file
 * order and the line reported is the one whose link first closes a cycle.
 */
static int
cfg_check_chain(struct cfg_state *st)
{
	struct gw_config *cfg = st->cfg;
	struct recourse_parent_link links[GW_MAX_PEERS + 1];
	int lines[GW_MAX_PEERS + 1];
	char why[512];
	size_t n = 0;

	links[n] = (struct recourse_parent_link){ cfg->region,
	    cfg_parent_region(cfg) };
	lines[n++] = st->seen[SEC_NODE][4];
	for (size_t i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].parent[0] != '\0') {
			links[n] = (struct recourse_parent_link){
			    cfg->peers[i].region, cfg->peers[i].parent };
			lines[n++] = st->peer_seen[i][2];
		}
	for (size_t k = 1; k <= n; k++)
		if (recourse_parent_chain_check(links, k, why, sizeof(why)) !=
		    RECOURSE_OK)
			return cfg_fail(st, lines[k - 1], "%s; the escalation "
			    "hierarchy must be a tree", why);
	return 1;
}

/* The absolute directory of path, for resolving relative paths in it. */
static int
cfg_dir(struct cfg_state *st, const char *path)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(tmp, sizeof(tmp), ".");
	else if (slash == path)
		snprintf(tmp, sizeof(tmp), "/");
	else
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(slash - path), path);
	if (realpath(tmp, st->dir) == NULL)
		return cfg_fail(st, 0, "cannot resolve directory %s: %s", tmp,
		    strerror(errno));
	return 1;
}

static void
cfg_parse(struct cfg_state *st)
{
	int rc = ini_parse_stream(cfg_reader, st, cfg_handler, st);

	/* inih reports its own syntax errors only as a line number. */
	if (rc > 0 && (!st->failed || rc < st->err_line)) {
		st->failed = false;
		cfg_fail(st, rc, "expected \"key = value\", \"[section]\", or a "
		    "comment starting with ; or #");
	} else if (rc == -2) {
		cfg_fail(st, 0, "out of memory");
	}
	if (ferror(st->fp))
		cfg_fail(st, st->lineno, "read error: %s", strerror(errno));
}

int
gw_config_load(const char *path, struct gw_config *cfg, char *err,
    size_t errlen)
{
	struct cfg_state st;

	memset(&st, 0, sizeof(st));
	st.cfg = cfg;
	st.path = path;
	st.err = err;
	st.errlen = errlen;
	gw_config_defaults(cfg);
	if (strlen(path) >= sizeof(cfg->path)) {
		cfg_fail(&st, 0, "path too long");
		return -1;
	}
	memcpy(cfg->path, path, strlen(path) + 1);
	st.fp = fopen(path, "r");
	if (st.fp == NULL) {
		cfg_fail(&st, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (cfg_dir(&st, path))
		cfg_parse(&st);
	fclose(st.fp);
	free(st.buf);
	if (!st.failed && cfg_check_required(&st) && cfg_check_peers(&st) &&
	    cfg_check_parent(&st) && cfg_check_recourse(&st) &&
	    cfg_check_switch(&st))
		cfg_check_chain(&st);
	return st.failed ? -1 : 0;
}

int
gw_config_check_key_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		axle_seterr(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		axle_seterr(err, errlen, "key file %s is not a regular file", path);
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		axle_seterr(err, errlen, "key file %s is %s by group or others "
		    "(mode %04o); run: chmod 600 %s", path,
		    (sb.st_mode & 044) ? "readable" : "writable or executable",
		    (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* --- reload (SIGHUP) ----------------------------------------------------------- */

#define SAME_STR(f) (strcmp(live->f, fresh->f) == 0)

int
gw_config_reload(struct gw_config *live, const struct gw_config *fresh,
    char *kept, size_t keptlen, char *err, size_t errlen)
{
	const struct net_limits *a = &live->limits, *b = &fresh->limits;
	size_t o = 0;

	kept[0] = '\0';
	if (!SAME_STR(federation) || !SAME_STR(region) || !SAME_STR(listen_host) ||
	    !SAME_STR(listen_port) || !SAME_STR(data_dir)) {
		snprintf(err, errlen, "[node] federation, region, listen and data_dir "
		    "change only with a restart; nothing of the new file was applied");
		return -1;
	}
#define KEPT(cond, name) do { if (cond) o += (size_t)snprintf(kept + o, \
	    o < keptlen ? keptlen - o : 0, "%s%s", o ? "," : "", name); \
	    if (o >= keptlen) o = keptlen - 1; } while (0)
	KEPT(a->map_size_mb != b->map_size_mb, "map_size_mb");
	KEPT(a->commit_batch_max != b->commit_batch_max, "commit_batch_max");
	KEPT(a->store_reserve_kb != b->store_reserve_kb, "store_reserve_kb");
	KEPT(memcmp(&live->recourse, &fresh->recourse, sizeof(live->recourse)) != 0,
	    "[recourse]");
	KEPT(memcmp(&live->registry, &fresh->registry, sizeof(live->registry)) != 0,
	    "[registry]");
	KEPT(memcmp(&live->sw, &fresh->sw, sizeof(live->sw)) != 0, "[switch]");
	KEPT(live->peering.max_links != fresh->peering.max_links, "max_links");
	KEPT(!SAME_STR(cert_file) || !SAME_STR(key_file) || !SAME_STR(trust_dir) ||
	    live->tls12 != fresh->tls12, "[tls] files");
#undef KEPT
	live->log_level = fresh->log_level;
	live->limits.max_connections = b->max_connections;
	live->limits.max_concurrent_streams = b->max_concurrent_streams;
	live->limits.max_header_list = b->max_header_list;
	live->limits.max_message_size = b->max_message_size;
	live->limits.max_outbound_queue = b->max_outbound_queue;
	live->limits.max_rst_sent = b->max_rst_sent;
	live->limits.max_empty_data = b->max_empty_data;
	live->limits.max_control_frames = b->max_control_frames;
	live->limits.handshake_timeout_ms = b->handshake_timeout_ms;
	live->limits.idle_timeout_ms = b->idle_timeout_ms;
	live->peering.idle_ms = fresh->peering.idle_ms;
	live->peering.direct = fresh->peering.direct;
	live->trust = fresh->trust;
	live->metrics = fresh->metrics;
	memcpy(live->peers, fresh->peers, sizeof(live->peers));
	live->npeers = fresh->npeers;
	memcpy(live->parent, fresh->parent, sizeof(live->parent));
	return 0;
}
