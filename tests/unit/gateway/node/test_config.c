/* test_config.c -- gw_config_load on real files: values, defaults, paths, and every error's line and wording. */
#define _XOPEN_SOURCE 700	/* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/node/config.h"

static char tmpdir[256];	/* realpath'd, so resolved paths compare */
static char cfgpath[512];
static struct gw_config cfg;
static char err[1024];

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static int
group_setup(void **state)
{
	char tmpl[] = "/tmp/axle-test-config-XXXXXX", real[PATH_MAX];

	(void)state;
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL ||
	    strlen(real) >= sizeof(tmpdir))
		return -1;
	memcpy(tmpdir, real, strlen(real) + 1);
	snprintf(cfgpath, sizeof(cfgpath), "%s/axled.conf", tmpdir);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
load_text(const char *text)
{
	write_file(cfgpath, text);
	memset(err, 0, sizeof(err));
	return gw_config_load(cfgpath, &cfg, err, sizeof(err));
}

/* Asserts the load fails with "<cfgpath>:<line>: ..." containing want. */
static void
expect_error(const char *text, int line, const char *want)
{
	char prefix[PATH_MAX + 32];

	assert_int_equal(load_text(text), -1);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", cfgpath, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", cfgpath);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, want) == NULL)
		fail_msg("want prefix \"%s\" and \"%s\", got \"%s\"", prefix,
		    want, err);
}

#define BASE_NODE \
	"[node]\n"			/* 1 */ \
	"federation = fame-uk\n"	/* 2 */ \
	"region = uk.london\n"		/* 3 */ \
	"listen = 0.0.0.0:7443\n"	/* 4 */ \
	"data_dir = data\n"		/* 5 */
#define BASE_TLS \
	"[tls]\n"			/* 6 */ \
	"cert = node.crt\n"		/* 7 */ \
	"key = node.key\n"		/* 8 */ \
	"trust_dir = trust\n"		/* 9 */
#define BASE BASE_NODE BASE_TLS

static const char full_text[] =
    "# a full configuration\n"				/* 1 */
    "[node]\n"						/* 2 */
    "  federation = Fame-UK   ; folded\n"		/* 3 */
    "  region = UK.London\n"				/* 4 */
    "  listen = node.example.org:7443\n"		/* 5 */
    "  data_dir = /var/lib/axle\n"			/* 6 */
    "  parent = uk\n"					/* 7 */
    "\n"						/* 8 */
    "[tls]\n"						/* 9 */
    "cert = certs/node.crt\n"				/* 10 */
    "key = /etc/axle/node.key\n"			/* 11 */
    "trust_dir = trust\n"				/* 12 */
    "allow_tls12 = Yes\n"				/* 13 */
    "[log]\n"						/* 14 */
    "level = debug\n"					/* 15 */
    "[limits]\n"					/* 16 */
    "max_connections = 2000\n"				/* 17 */
    "max_concurrent_streams = 10000\n"			/* 18 */
    "max_header_list = 1024\n"				/* 19 */
    "max_message_size = 67108864\n"			/* 20 */
    "max_outbound_queue = 5\n"				/* 21 */
    "max_rst_sent = 6\n"				/* 22 */
    "max_empty_data = 7\n"				/* 23 */
    "max_control_frames = 8\n"				/* 24 */
    "handshake_timeout_ms = 100\n"			/* 25 */
    "idle_timeout_ms = 86400000\n"			/* 26 */
    "map_size_mb = 1048576\n"				/* 27 */
    "commit_batch_max = 65536\n"			/* 28 */
    "[peer uk]\n"					/* 29 */
    "address = [2001:db8::1]:7443\n"			/* 30 */
    "[peer uk.leeds]\n"					/* 31 */
    "address = 192.0.2.7:443\n"				/* 32 */
    "region = uk.leeds.west\n";				/* 33 */

static void
test_full(void **state)
{
	char want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(load_text(full_text), 0);
	assert_string_equal(cfg.path, cfgpath);
	assert_string_equal(cfg.federation, "fame-uk");
	assert_string_equal(cfg.region, "uk.london");
	assert_string_equal(cfg.listen_host, "node.example.org");
	assert_string_equal(cfg.listen_port, "7443");
	assert_string_equal(cfg.data_dir, "/var/lib/axle");
	assert_string_equal(cfg.parent, "uk");
	snprintf(want, sizeof(want), "%s/certs/node.crt", tmpdir);
	assert_string_equal(cfg.cert_file, want);
	assert_string_equal(cfg.key_file, "/etc/axle/node.key");
	snprintf(want, sizeof(want), "%s/trust", tmpdir);
	assert_string_equal(cfg.trust_dir, want);
	assert_true(cfg.tls12);
	assert_int_equal(cfg.log_level, NET_LOG_DEBUG);
	assert_int_equal(cfg.limits.max_connections, 2000);
	assert_int_equal(cfg.limits.max_concurrent_streams, 10000);
	assert_int_equal(cfg.limits.max_header_list, 1024);
	assert_int_equal(cfg.limits.max_message_size, 67108864);
	assert_int_equal(cfg.limits.max_outbound_queue, 5);
	assert_int_equal(cfg.limits.max_rst_sent, 6);
	assert_int_equal(cfg.limits.max_empty_data, 7);
	assert_int_equal(cfg.limits.max_control_frames, 8);
	assert_int_equal(cfg.limits.handshake_timeout_ms, 100);
	assert_int_equal(cfg.limits.idle_timeout_ms, 86400000);
	assert_int_equal(cfg.limits.map_size_mb, 1048576);
	assert_int_equal(cfg.limits.commit_batch_max, 65536);
	assert_int_equal(cfg.npeers, 2);
	assert_string_equal(cfg.peers[0].name, "uk");
	assert_string_equal(cfg.peers[0].region, "uk");
	assert_string_equal(cfg.peers[0].host, "2001:db8::1");
	assert_string_equal(cfg.peers[0].port, "7443");
	assert_int_equal(cfg.peers[0].line, 29);
	assert_string_equal(cfg.peers[1].name, "uk.leeds");
	assert_string_equal(cfg.peers[1].region, "uk.leeds.west");
	assert_string_equal(cfg.peers[1].host, "192.0.2.7");
	assert_string_equal(cfg.peers[1].port, "443");
	assert_int_equal(cfg.peers[1].line, 31);
}

static void
test_defaults(void **state)
{
	char want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.log_level, NET_LOG_INFO);
	assert_false(cfg.tls12);
	assert_string_equal(cfg.parent, "");
	assert_int_equal(cfg.npeers, 0);
	assert_int_equal(cfg.limits.max_connections, 1024);
	assert_int_equal(cfg.limits.max_concurrent_streams, 100);
	assert_int_equal(cfg.limits.max_header_list, 16384);
	assert_int_equal(cfg.limits.max_message_size, 4 * 1024 * 1024);
	assert_int_equal(cfg.limits.max_outbound_queue, 1024);
	assert_int_equal(cfg.limits.max_rst_sent, 200);
	assert_int_equal(cfg.limits.max_empty_data, 100);
	assert_int_equal(cfg.limits.max_control_frames, 1000);
	assert_int_equal(cfg.limits.handshake_timeout_ms, 10000);
	assert_int_equal(cfg.limits.idle_timeout_ms, 300000);
	assert_int_equal(cfg.limits.map_size_mb, 1024);
	assert_int_equal(cfg.limits.commit_batch_max, 256);
	snprintf(want, sizeof(want), "%s/data", tmpdir);
	assert_string_equal(cfg.data_dir, want);
	snprintf(want, sizeof(want), "%s/node.key", tmpdir);
	assert_string_equal(cfg.key_file, want);

	/* The defaults function alone gives the same limits. */
	memset(&cfg, 0xa5, sizeof(cfg));
	gw_config_defaults(&cfg);
	assert_int_equal(cfg.limits.commit_batch_max, 256);
	assert_int_equal(cfg.npeers, 0);
	assert_string_equal(cfg.region, "");
}

/* A config path with no directory part still yields absolute paths. */
static void
test_relative_config_path(void **state)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	int rc;

	(void)state;
	write_file(cfgpath, BASE "region = x\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	rc = gw_config_load("axled.conf", &cfg, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, -1);
	assert_string_equal(err, "axled.conf:10: unknown key \"region\" in "
	    "[tls] (known: cert, key, trust_dir, allow_tls12)");

	write_file(cfgpath, BASE);
	assert_int_equal(chdir(tmpdir), 0);
	rc = gw_config_load("axled.conf", &cfg, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.path, "axled.conf");
	snprintf(want, sizeof(want), "%s/data", tmpdir);
	assert_string_equal(cfg.data_dir, want);
}

static void
test_unknown_key_and_section(void **state)
{
	(void)state;
	expect_error("[node]\nfederation = f\nlisen = 0.0.0.0:1\n", 3,
	    "unknown key \"lisen\" in [node] (known: federation, region, "
	    "listen, data_dir, parent)");
	expect_error(BASE "[nodes]\nx = 1\n", 10,
	    "unknown section [nodes] (known: node, tls, log, limits, "
	    "recourse, registry, switch, metrics, peer <name>)");
	expect_error(BASE "[limits]\nmax_streams = 5\n", 11,
	    "unknown key \"max_streams\" in [limits] (known: max_connections,");
	expect_error(BASE "[peer uk.leeds]\naddress = a:1\nport = 5\n", 12,
	    "unknown key \"port\" in [peer uk.leeds] (known: address, region, "
	    "parent)");
	expect_error("federation = x\n" BASE, 1,
	    "key \"federation\" comes before any section");
	expect_error(BASE "[tls\n", 10, "unterminated section header");
	expect_error(BASE "[log] level = info\n", 10, "unexpected text after ]");
	expect_error(BASE "[peer]\n", 10, "[peer] needs a name");
	expect_error(BASE "[peer uk..leeds]\naddress = a:1\n", 10,
	    "[peer uk..leeds]: the peer's name must be a valid address");
}

static void
test_missing_required(void **state)
{
	(void)state;
	expect_error("[node]\nfederation = fame-uk\nlisten = 0.0.0.0:7443\n"
	    "data_dir = d\n" BASE_TLS, 0, "[node] region is required");
	expect_error(BASE_NODE "[tls]\ncert = c\nkey = k\n", 0,
	    "[tls] trust_dir is required");
	expect_error("", 0, "[node] federation is required");
	expect_error(BASE "[peer uk.leeds]\nregion = uk.leeds\n", 10,
	    "[peer uk.leeds] address is required");
}

static void
test_bad_ints(void **state)
{
	static const struct {
		const char *line;
		const char *want;
	} cases[] = {
		{ "max_concurrent_streams = 0", "[limits] max_concurrent_streams "
		    "= 0: must be between 1 and 10000" },
		{ "max_concurrent_streams = 10001", "must be between 1 and 10000" },
		{ "max_connections = 12x", "[limits] max_connections = 12x: must "
		    "be a whole number between 1 and 1000000" },
		{ "max_connections = -5", "max_connections = -5: must be a whole" },
		{ "max_connections = +5", "max_connections = +5: must be a whole" },
		{ "max_connections = 1e3", "max_connections = 1e3: must be a whole" },
		{ "max_connections = 0x10", "must be a whole number" },
		{ "max_connections = 1 000", "must be a whole number" },
		{ "max_connections = 99999999999999999999999",
		    "must be between 1 and 1000000" },
		{ "max_connections = 4294967297", "must be between 1 and 1000000" },
		{ "max_message_size = 1023", "max_message_size = 1023: must be "
		    "between 1024 and 67108864" },
		{ "max_message_size = 67108865", "between 1024 and 67108864" },
		{ "max_header_list = 1048577", "between 1024 and 1048576" },
		{ "handshake_timeout_ms = 99", "between 100 and 86400000" },
		{ "idle_timeout_ms = 86400001", "between 100 and 86400000" },
		{ "map_size_mb = 0", "between 1 and 1048576" },
		{ "commit_batch_max = 65537", "between 1 and 65536" },
		{ "max_rst_sent = 4MiB", "max_rst_sent = 4MiB: must be a whole" },
		{ "max_empty_data =", "[limits] max_empty_data is empty" },
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), BASE "[limits]\ncommit_batch_max "
		    "= 1\n%s\n", cases[i].line);
		if (strncmp(cases[i].line, "commit", 6) == 0)
			snprintf(text, sizeof(text), BASE "[limits]\n"
			    "max_outbound_queue = 1\n%s\n", cases[i].line);
		expect_error(text, 12, cases[i].want);
	}
}

static void
test_bad_values(void **state)
{
	(void)state;
	expect_error("[node]\nfederation = fame.uk\n", 2,
	    "[node] federation = fame.uk: must be a single label");
	expect_error("[node]\nfederation = fame-uk\nregion = uk..london\n", 3,
	    "[node] region = uk..london: not a valid address");
	expect_error("[node]\nregion = -uk\n", 2, "[node] region = -uk:");
	expect_error(BASE "allow_tls12 = maybe\n", 10,
	    "[tls] allow_tls12 = maybe: must be yes or no");
	expect_error(BASE "[log]\nlevel = verbose\n", 11,
	    "[log] level = verbose: must be one of debug, info, warn, error");
	expect_error("[node]\ndata_dir =\n", 2, "[node] data_dir is empty");
	expect_error(BASE "[peer uk.leeds]\naddress = h:1\nregion = a_b\n", 12,
	    "[peer uk.leeds] region = a_b: not a valid address");
	expect_error(BASE "[peer uk.london]\naddress = h:1\n", 10,
	    "[peer uk.london] has this node's own region");
	expect_error(BASE "[peer a]\naddress = h:1\nregion = b\n"
	    "[peer b]\naddress = h:2\n", 13, "region b is also the region of "
	    "[peer a] (line 10)");
}

static void
test_syntax(void **state)
{
	char text[1024], longval[400];

	(void)state;
	expect_error(BASE "garbage\n", 10, "expected \"key = value\"");
	/* A syntax error before a bad value is the one reported. */
	expect_error("[node]\njunk line\nregion = uk..x\n", 2,
	    "expected \"key = value\"");
	/* Indentation is layout, not a continuation of the previous value. */
	expect_error(BASE "allow_tls12 = yes\n    continued\n", 11,
	    "expected \"key = value\"");
	memset(longval, 'a', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	snprintf(text, sizeof(text), BASE "[log]\n; %s\n", longval);
	expect_error(text, 11, "line longer than");
	/* Comments, blank lines, CRLF and a BOM are fine. */
	assert_int_equal(load_text("\xef\xbb\xbf; c\r\n[node]\r\n"
	    "federation = f\r\nregion = r\r\n# c\r\n\r\nlisten = h:1\r\n"
	    "data_dir = /d\r\n[tls]\r\ncert = /c\r\nkey = /k\r\n"
	    "trust_dir = /t ; trust\r\n"), 0);
	assert_string_equal(cfg.listen_port, "1");
	assert_string_equal(cfg.trust_dir, "/t");
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_error(BASE "[node]\nregion = uk.leeds\n", 11,
	    "duplicate key \"region\" in [node] (first set on line 3)");
	expect_error(BASE "[peer uk.leeds]\naddress = a:1\n"
	    "[peer UK.Leeds]\naddress = b:2\n", 12,
	    "duplicate [peer uk.leeds] (first defined on line 10)");
	expect_error(BASE "[peer uk.leeds]\naddress = a:1\naddress = b:1\n", 12,
	    "duplicate key \"address\" in [peer uk.leeds] (first set on line "
	    "11)");
}

static void
test_parent(void **state)
{
	(void)state;
	expect_error(BASE_NODE "parent = uk\n" BASE_TLS
	    "[peer uk.leeds]\naddress = a:1\n", 6,
	    "[node] parent = uk: no [peer uk] section; the parent must be a "
	    "configured peer (peers: uk.leeds)");
	expect_error(BASE_NODE "parent = uk\n" BASE_TLS, 6,
	    "no peers configured");
	assert_int_equal(load_text(BASE_NODE "parent = UK\n" BASE_TLS
	    "[peer uk]\naddress = a:1\n"), 0);
	assert_string_equal(cfg.parent, "uk");
}

static void
test_recourse(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.recourse.case_deadline_ms, 86400000);
	assert_int_equal(cfg.recourse.retry_base_ms, 1000);
	assert_int_equal(cfg.recourse.retry_cap_ms, 600000);
	assert_int_equal(cfg.recourse.escalate_timeout_ms, 10000);
	assert_int_equal(load_text(BASE "[recourse]\ncase_deadline_ms = 1500\n"
	    "retry_base_ms = 100\nretry_cap_ms = 2000\n"
	    "escalate_timeout_ms = 3000\n"), 0);
	assert_int_equal(cfg.recourse.case_deadline_ms, 1500);
	assert_int_equal(cfg.recourse.retry_base_ms, 100);
	assert_int_equal(cfg.recourse.retry_cap_ms, 2000);
	assert_int_equal(cfg.recourse.escalate_timeout_ms, 3000);
	assert_int_equal(load_text(BASE "[recourse]\n"
	    "case_deadline_ms = 2592000000\n"), 0);
	assert_int_equal(cfg.recourse.case_deadline_ms, 2592000000u);
	expect_error(BASE "[recourse]\ncase_deadline_ms = 99\n", 11,
	    "[recourse] case_deadline_ms = 99: must be between 100 and "
	    "2592000000");
	expect_error(BASE "[recourse]\ncase_deadline_ms = 2592000001\n", 11,
	    "must be between 100 and 2592000000");
	expect_error(BASE "[recourse]\nretry_base_ms = 5000\n"
	    "retry_cap_ms = 100\n", 12,
	    "[recourse] retry_cap_ms (100) is below retry_base_ms (5000)");
	expect_error(BASE "[recourse]\nretry_base_ms = 3600000\n", 11,
	    "retry_cap_ms (600000) is below retry_base_ms (3600000)");
	assert_int_equal(load_text(BASE "[recourse]\nretry_base_ms = 5000\n"
	    "retry_cap_ms = 5000\n"), 0);
	expect_error(BASE "[recourse]\ndeadline = 1\n", 11,
	    "unknown key \"deadline\" in [recourse] (known: case_deadline_ms, "
	    "retry_base_ms, retry_cap_ms, escalate_timeout_ms)");
}

static void
test_registry(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.registry.mirror_interval_ms, 1000);
	assert_int_equal(load_text(BASE "[registry]\nmirror_interval_ms = 50\n"), 0);
	assert_int_equal(cfg.registry.mirror_interval_ms, 50);
	assert_int_equal(load_text(BASE "[registry]\n"
	    "mirror_interval_ms = 3600000\n"), 0);
	assert_int_equal(cfg.registry.mirror_interval_ms, 3600000);
	expect_error(BASE "[registry]\nmirror_interval_ms = 49\n", 11,
	    "[registry] mirror_interval_ms = 49: must be between 50 and 3600000");
	expect_error(BASE "[registry]\nmirror_interval_ms = 3600001\n", 11,
	    "must be between 50 and 3600000");
	expect_error(BASE "[registry]\ninterval = 5\n", 11,
	    "unknown key \"interval\" in [registry] (known: mirror_interval_ms, "
	    "max_origins, relay_stale_ms)");
	assert_int_equal(cfg.registry.max_origins, 256);
	assert_int_equal(load_text(BASE "[registry]\nmax_origins = 1\n"), 0);
	assert_int_equal(cfg.registry.max_origins, 1);
	expect_error(BASE "[registry]\nmax_origins = 0\n", 11,
	    "[registry] max_origins = 0: must be between 1 and 65536");
}

/* [metrics] scrape_identity: an identity URI, kept canonical (folded). */
static void
test_metrics(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_string_equal(cfg.metrics.scrape_identity, "");
	assert_int_equal(load_text(BASE "[metrics]\nscrape_identity = "
	    "axle://fame-uk/member/UK.London.Monitoring\n"), 0);
	assert_string_equal(cfg.metrics.scrape_identity,
	    "axle://fame-uk/member/uk.london.monitoring");
	expect_error(BASE "[metrics]\nscrape_identity = prometheus\n", 11,
	    "[metrics] scrape_identity = prometheus: not an identity URI");
}

/* [switch]: the hold limit and the Fetch default, with their ranges. */
static void
test_switch(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.sw.hold_limit_ms, 259200000);	/* 72 h */
	assert_int_equal(cfg.sw.default_visibility_ms, 30000);
	assert_int_equal(load_text(BASE "[switch]\nhold_limit_ms = 1500\n"
	    "default_visibility_ms = 100\n"), 0);
	assert_int_equal(cfg.sw.hold_limit_ms, 1500);
	assert_int_equal(cfg.sw.default_visibility_ms, 100);
	assert_int_equal(load_text(BASE "[switch]\nhold_limit_ms = 2592000000\n"
	    "default_visibility_ms = 3600000\n"), 0);
	assert_int_equal(cfg.sw.hold_limit_ms, 2592000000u);
	assert_int_equal(cfg.sw.default_visibility_ms, 3600000);
	expect_error(BASE "[switch]\nhold_limit_ms = 999\n", 11,
	    "[switch] hold_limit_ms = 999: must be between 1000 and 2592000000");
	expect_error(BASE "[switch]\nhold_limit_ms = 2592000001\n", 11,
	    "must be between 1000 and 2592000000");
	expect_error(BASE "[switch]\nhold_limit_ms = 72h\n", 11,
	    "must be a whole number between 1000 and 2592000000");
	expect_error(BASE "[switch]\ndefault_visibility_ms = 99\n", 11,
	    "[switch] default_visibility_ms = 99: must be between 100 and "
	    "3600000");
	expect_error(BASE "[switch]\ndefault_visibility_ms = 3600001\n", 11,
	    "must be between 100 and 3600000");
	expect_error(BASE "[switch]\nhold_limit_ms = 5000\nhold_limit_ms = 6000\n",
	    12, "duplicate key \"hold_limit_ms\" in [switch] (first set on line 11)");
	expect_error(BASE "[switch]\nhold = 5\n", 11,
	    "unknown key \"hold\" in [switch] (known: hold_limit_ms, "
	    "default_visibility_ms, max_payload, default_deliver_by_ms, "
	    "record_retention_ms, dedup_retention_ms)");
}

/*
 * [switch] retention (issue 14): records 7 days, marks 14 days by default;
 * a mark must outlive the default delivery deadline, within which a
 * message may be retried.
 */
static void
test_switch_retention(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.sw.record_retention_ms, 604800000);
	assert_int_equal(cfg.sw.dedup_retention_ms, 1209600000);
	assert_int_equal(load_text(BASE "[switch]\nrecord_retention_ms = 1000\n"
	    "dedup_retention_ms = 2000\ndefault_deliver_by_ms = 2000\n"), 0);
	assert_int_equal(cfg.sw.record_retention_ms, 1000);
	assert_int_equal(cfg.sw.dedup_retention_ms, 2000);
	expect_error(BASE "[switch]\nrecord_retention_ms = 999\n", 11,
	    "[switch] record_retention_ms = 999: must be between 1000 and "
	    "2592000000");
	expect_error(BASE "[switch]\ndedup_retention_ms = 5000\n", 11,
	    "[switch] dedup_retention_ms = 5000 is shorter than "
	    "default_deliver_by_ms = 604800000");
	expect_error(BASE "[switch]\ndefault_deliver_by_ms = 1209600001\n", 11,
	    "dedup_retention_ms = 1209600000 is shorter than "
	    "default_deliver_by_ms = 1209600001");
}

/* [switch] max_payload: 1 MiB by default; set, it must leave the envelope
 * room in a gRPC message ([limits] max_message_size). */
static void
test_switch_max_payload(void **state)
{
	(void)state;
	assert_int_equal(load_text(BASE), 0);
	assert_int_equal(cfg.sw.max_payload, 1048576);
	assert_int_equal(load_text(BASE "[switch]\nmax_payload = 1\n"), 0);
	assert_int_equal(cfg.sw.max_payload, 1);
	/* The default 4 MiB message: 4194304 - 65536. */
	assert_int_equal(load_text(BASE "[switch]\nmax_payload = 4128768\n"), 0);
	assert_int_equal(cfg.sw.max_payload, 4128768);
	expect_error(BASE "[switch]\nmax_payload = 4128769\n", 11,
	    "[switch] max_payload = 4128769 leaves no room for the envelope in "
	    "a gRPC message: at most [limits] max_message_size (4194304) - "
	    "65536 = 4128768");
	assert_int_equal(load_text(BASE "[limits]\nmax_message_size = 67108864\n"
	    "[switch]\nmax_payload = 67043328\n"), 0);
	assert_int_equal(cfg.sw.max_payload, 67043328);
	expect_error(BASE "[switch]\nmax_payload = 67043329\n", 11,
	    "must be between 1 and 67043328");
	expect_error(BASE "[switch]\nmax_payload = 0\n", 11,
	    "must be between 1 and 67043328");
	expect_error(BASE "[switch]\nmax_payload = 1MiB\n", 11,
	    "must be a whole number between 1 and 67043328");
	/* Left at its default, a small max_message_size is not an error: the
	 * gRPC limit applies first (test_bad_input.py runs so). */
	assert_int_equal(load_text(BASE "[limits]\nmax_message_size = 65536\n"), 0);
	assert_int_equal(cfg.sw.max_payload, 1048576);
	expect_error(BASE "[limits]\nmax_message_size = 65536\n"
	    "[switch]\nmax_payload = 1\n", 13, "at most [limits] "
	    "max_message_size (65536) - 65536 = 0");
}

/* axled -n refuses a cycle in the parent chain, at the line closing it. */
static void
test_parent_chain(void **state)
{
	(void)state;
	/* Lines: 6 parent, 7-10 tls, 11 [peer uk], 12 address, 13 parent. */
	expect_error(BASE_NODE "parent = uk\n" BASE_TLS
	    "[peer uk]\naddress = a:1\nparent = uk.london\n", 13,
	    "parent chain uk.london -> uk -> uk.london is a cycle; the "
	    "escalation hierarchy must be a tree");
	/* Three levels: uk.london -> uk -> uk.west -> uk.london. */
	expect_error(BASE_NODE "parent = uk\n" BASE_TLS
	    "[peer uk]\naddress = a:1\nparent = uk.west\n"
	    "[peer uk.west]\naddress = b:1\nparent = uk.london\n", 16,
	    "is a cycle");
	/* A peer naming itself; and a cycle among peers alone. */
	expect_error(BASE "[peer uk.leeds]\naddress = a:1\n"
	    "parent = uk.leeds\n", 12, "uk.leeds names itself");
	expect_error(BASE "[peer a.b]\naddress = a:1\nparent = a.c\n"
	    "[peer a.c]\naddress = b:1\nparent = a.b\n", 15,
	    "parent chain a.b -> a.c -> a.b is a cycle");
	/* The region a parent peer serves, not its section name, counts. */
	expect_error(BASE_NODE "parent = top\n" BASE_TLS
	    "[peer top]\naddress = a:1\nregion = uk\nparent = uk.london\n", 14,
	    "uk.london -> uk -> uk.london");
	/* A tree is fine; peers' parents are kept. */
	assert_int_equal(load_text(BASE_NODE "parent = uk\n" BASE_TLS
	    "[peer uk]\naddress = a:1\n"
	    "[peer uk.london.south]\naddress = b:1\nparent = UK.London\n"), 0);
	assert_string_equal(cfg.peers[1].parent, "uk.london");
	assert_string_equal(cfg.peers[0].parent, "");
	expect_error(BASE "[peer uk]\naddress = a:1\nparent = -x\n", 12,
	    "[peer uk] parent = -x: not a valid address");
}

static void
test_listen(void **state)
{
	static const struct {
		const char *value;
		const char *want;
	} bad[] = {
		{ "7443", "missing :port" },
		{ "node.example.org", "missing :port" },
		{ ":7443", "missing host" },
		{ "::1:7443", "IPv6 address must be in brackets" },
		{ "[::1]7443", "missing :port after ]" },
		{ "[::1:7443", "missing ']'" },
		{ "[zz::1]:7443", "not a valid IPv6 address" },
		{ "[]:7443", "not a valid IPv6 address" },
		{ "host:0", "port must be a number from 1 to 65535" },
		{ "host:65536", "port must be a number from 1 to 65535" },
		{ "host:http", "port must be a number from 1 to 65535" },
		{ "host:", "port must be a number from 1 to 65535" },
		{ "host:-1", "port must be a number from 1 to 65535" },
		{ "bad_host:7443", "only letters, digits" },
		{ "-bad.org:7443", "starts with '-'" },
		{ "a..b:7443", "empty label" },
		{ "1.2.3.999:7443", "not a valid IPv4 address" },
		{ "1.2.3:7443", "not a valid IPv4 address" },
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[node]\nfederation = f\n"
		    "region = r\nlisten = %s\n", bad[i].value);
		expect_error(text, 4, "[node] listen = ");
		expect_error(text, 4, bad[i].want);
		expect_error(text, 4, "expected host:port");
	}
	snprintf(text, sizeof(text), BASE "[peer p]\naddress = nope\n");
	expect_error(text, 11, "[peer p] address = nope: missing :port");

	assert_int_equal(load_text("[node]\nfederation = f\nregion = r\n"
	    "listen = [::]:7443\ndata_dir = d\n" BASE_TLS), 0);
	assert_string_equal(cfg.listen_host, "::");
	assert_string_equal(cfg.listen_port, "7443");
	assert_int_equal(load_text("[node]\nfederation = f\nregion = r\n"
	    "listen = [fe80::1:2]:65535\ndata_dir = d\n" BASE_TLS), 0);
	assert_string_equal(cfg.listen_host, "fe80::1:2");
	assert_string_equal(cfg.listen_port, "65535");
}

static void
test_split_hostport(void **state)
{
	char host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1], small[4];
	const char *why;

	(void)state;
	assert_int_equal(net_hostport_split("localhost:1", host,
	    sizeof(host), port, sizeof(port), &why), 0);
	assert_string_equal(host, "localhost");
	assert_string_equal(port, "1");
	assert_int_equal(net_hostport_split("[::1]:443", host,
	    sizeof(host), port, sizeof(port), &why), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "443");
	assert_int_equal(net_hostport_split("127.0.0.1:80", host,
	    sizeof(host), port, sizeof(port), &why), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(net_hostport_split("localhost:1", small,
	    sizeof(small), port, sizeof(port), &why), -1);
	assert_int_equal(net_hostport_split("::1:443", host,
	    sizeof(host), port, sizeof(port), &why), -1);
	assert_int_equal(net_hostport_split("h:070000", host,
	    sizeof(host), port, sizeof(port), &why), -1);
	assert_int_equal(net_hostport_split("", host, sizeof(host),
	    port, sizeof(port), &why), -1);
}

static void
key_file_mode(const char *name, mode_t mode, int want_rc, const char *want)
{
	char path[600], msg[2048];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	write_file(path, "not really a key\n");
	assert_int_equal(chmod(path, mode), 0);
	msg[0] = '\0';
	assert_int_equal(gw_config_check_key_file(path, msg, sizeof(msg)),
	    want_rc);
	if (want != NULL && strstr(msg, want) == NULL)
		fail_msg("want \"%s\" in \"%s\"", want, msg);
	if (want_rc != 0 && strstr(msg, path) == NULL)
		fail_msg("message does not name the file: \"%s\"", msg);
}

static void
test_key_file(void **state)
{
	char path[600], msg[2048], want[1200];

	(void)state;
	key_file_mode("k600.key", 0600, 0, NULL);
	key_file_mode("k400.key", 0400, 0, NULL);
	snprintf(want, sizeof(want), "key file %s/k640.key is readable by "
	    "group or others (mode 0640); run: chmod 600 %s/k640.key", tmpdir,
	    tmpdir);
	key_file_mode("k640.key", 0640, -1, want);
	key_file_mode("k604.key", 0604, -1, "(mode 0604)");
	key_file_mode("k644.key", 0644, -1, "readable by group or others");
	key_file_mode("k620.key", 0620, -1, "(mode 0620)");
	key_file_mode("k601.key", 0601, -1, "(mode 0601)");

	snprintf(path, sizeof(path), "%s/keydir", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(gw_config_check_key_file(path, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "is not a regular file"));

	snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
	assert_int_equal(gw_config_check_key_file(path, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "missing.key"));
	assert_non_null(strstr(msg, "No such file"));

	/* A symlink is judged by what it points at. */
	snprintf(path, sizeof(path), "%s/link.key", tmpdir);
	snprintf(want, sizeof(want), "%s/k640.key", tmpdir);
	assert_int_equal(symlink(want, path), 0);
	assert_int_equal(gw_config_check_key_file(path, msg, sizeof(msg)), -1);
}

static void
test_missing_file(void **state)
{
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	assert_int_equal(gw_config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nope.conf: cannot open"));
}

/* The shipped example loads as it stands, and the defaults it shows are ours.
 * The example is part of the source tree: not finding it is a failure (a skip
 * here once let a run without AXLE_TOP pass without checking anything). */
static void
test_example(void **state)
{
	const char *top = getenv("AXLE_TOP");
	char path[PATH_MAX];
	struct gw_config def;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/axled.conf.example",
	    top ? top : ".");
	if (access(path, R_OK) != 0)
		fail_msg("cannot read %s: %s (AXLE_TOP must name the source tree; "
		    "tests/run.sh sets it)", path, strerror(errno));
	if (gw_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	gw_config_defaults(&def);
	assert_memory_equal(&cfg.limits, &def.limits, sizeof(def.limits));
	assert_int_equal(cfg.log_level, def.log_level);
	assert_int_equal(cfg.tls12, def.tls12);
	assert_memory_equal(&cfg.recourse, &def.recourse, sizeof(def.recourse));
	assert_memory_equal(&cfg.registry, &def.registry, sizeof(def.registry));
	assert_memory_equal(&cfg.sw, &def.sw, sizeof(def.sw));
	assert_true(cfg.npeers > 0);
	assert_string_equal(cfg.parent, cfg.peers[0].name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_relative_config_path),
		cmocka_unit_test(test_unknown_key_and_section),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_bad_ints),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_parent),
		cmocka_unit_test(test_recourse),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_switch_max_payload),
		cmocka_unit_test(test_switch_retention),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_parent_chain),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_split_hostport),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
