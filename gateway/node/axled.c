/* axled.c -- the axle federation node daemon: configuration, start-up, signals, drain. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "gateway/node/backup.h"
#include "gateway/node/config.h"
#include "gateway/node/expiry.h"
#include "gateway/net/conn.h"
#include "gateway/net/log.h"
#include "gateway/node/metrics.h"
#include "gateway/node/module.h"
#include "gateway/node/node.h"
#include "gateway/node/notify.h"
#include "gateway/node/ops.h"
#include "gateway/node/peers.h"
#include "gateway/node/rates.h"
#include "gateway/node/store.h"
#include "gateway/node/svc.h"
#include "gateway/net/tls.h"

#define DRAIN_LIMIT_MS	10000
#define DRAIN_TICK_MS	100

static struct gw_node node;
static struct event *drain_timer;
static int drain_ticks;
static int exit_status;		/* 1 after a fail-stop */

/* --help on stdout (exit 0); a usage error on stderr (exit 2). */
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: axled [-n] -c FILE\n"
	    "       axled -c FILE -b DIR\n"
	    "       axled --help | --version\n"
	    "  -c, --config FILE  configuration (INI; see axled.conf(5))\n"
	    "  -n, --check        check the configuration, certificates and trust, then exit\n"
	    "  -b, --backup DIR   back up the store to DIR/data.mdb (mode 0600; the node\n"
	    "                     may be running), then exit\n"
	    "  -h, --help         print this help and exit\n"
	    "  -V, --version      print the version and exit\n");
	exit(status);
}

static void
drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, DRAIN_TICK_MS * 1000 };
	size_t open = net_conn_count(&node.srv);

	(void)fd, (void)what, (void)arg;
	if (open == 0 || ++drain_ticks * DRAIN_TICK_MS >= DRAIN_LIMIT_MS) {
		if (open > 0)
			net_log(NET_LOG_WARN, "drain_timeout", "connections=%zu streams=%zu",
			    open, net_conn_streams(&node.srv));
		net_conn_close_all(&node.srv);
		event_base_loopexit(node.base, NULL);
		return;
	}
	evtimer_add(drain_timer, &tv);
}

static void
start_drain(void)
{
	struct timeval tv = { 0, 0 };

	node.draining = 1;
	gw_notify_stopping();
	net_conn_drain(&node.srv);
	drain_timer = evtimer_new(node.base, drain_tick, NULL);
	if (drain_timer == NULL)
		event_base_loopexit(node.base, NULL);
	else
		evtimer_add(drain_timer, &tv);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)what, (void)arg;
	if (node.draining)
		return;
	net_log(NET_LOG_INFO, "shutdown", "signal=%d connections=%zu", (int)sig,
	    net_conn_count(&node.srv));
	start_drain();
}

/*
 * The store takes no more writes (a disk error): refusals are on their way;
 * drain and exit 1 so that the supervisor restarts the node on its last
 * durable commit, rather than serve on, refusing every write.
 */
static void
on_store_fatal(int rc, void *arg)
{
	(void)arg;
	exit_status = 1;
	net_log(NET_LOG_ERR, "fail_stop", "what=store rc=%d connections=%zu exit=1",
	    rc, net_conn_count(&node.srv));
	if (!node.draining)
		start_drain();
}

/*
 * SIGHUP, the configuration part: the file again; what may change live
 * (peers, log level, connection limits, [peering]) does, connections and
 * calls stay. A file that does not load, or changes what needs a restart,
 * is refused with a log line and the running configuration stays whole.
 */
static void
reload_config(void)
{
	static struct gw_config fresh;	/* large: not on the stack */
	char err[1024], kept[256], q[1100];

	gw_config_defaults(&fresh);
	if (gw_config_load(node.cfg.path, &fresh, err, sizeof(err)) != 0 ||
	    gw_config_reload(&node.cfg, &fresh, kept, sizeof(kept), err,
	    sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "reload_failed", "what=config error=%s "
		    "note=\"the running configuration stays\"",
		    net_log_quote(q, sizeof(q), err, strlen(err)));
		return;
	}
	net_log_set_level(node.cfg.log_level);
	gw_peers_reconfigure(&node);
	static const char *const level[] = { "debug", "info", "warn", "error" };

	net_log(NET_LOG_INFO, "reload", "what=config peers=%zu level=%s%s%s",
	    node.cfg.npeers, level[node.cfg.log_level],
	    kept[0] ? " restart_needed=" : "", kept);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	uint64_t ok_before = node.ctr.reloads_ok;

	(void)sig, (void)what, (void)arg;
	gw_notify_reloading();
	if (gw_node_reload_tls(&node) == 0) {
		gw_peers_reload(&node);	/* links with the new client context */
		net_log(NET_LOG_INFO, "reload", "what=tls trust_dir=%s", node.cfg.trust_dir);
		gw_expiry_log(&node, (int64_t)time(NULL));
	}
	gw_modules_reload(&node);
	reload_config();
	gw_notify_reloaded(&node, node.ctr.reloads_ok > ok_before);
}

/* Everything -n checks, and start-up needs: config, key modes, TLS material. */
static int
check_config(const char *path)
{
	char err[1024];

	if (gw_config_load(path, &node.cfg, err, sizeof(err)) != 0 ||
	    gw_config_check_key_file(node.cfg.key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	net_log_set_level(node.cfg.log_level);
	net_log_set_format(node.cfg.log_format);
	if (gw_node_reload_tls(&node) != 0) {
		fprintf(stderr, "%s: TLS setup failed (see the reload_failed line above)\n",
		    path);
		return -1;
	}
	return 0;
}

/* axled -b: only the configuration is needed (not the key or the trust). */
static int
backup(const char *path, const char *dest)
{
	char err[1024];
	long long bytes;

	if (gw_config_load(path, &node.cfg, err, sizeof(err)) != 0 ||
	    gw_backup(node.cfg.data_dir, dest, node.cfg.limits.map_size_mb,
	    &bytes, err, sizeof(err)) != 0) {
		fprintf(stderr, "axled: backup: %s\n", err);
		return 1;
	}
	printf("%s/data.mdb: %lld bytes, mode 0600, a snapshot of %s\n", dest,
	    bytes, node.cfg.data_dir);
	return 0;
}

/*
 * Every acknowledged write was committed before its ack. The writes still
 * queued run first, while the modules they use (the switch's queues, the
 * register, the case store, the peers' routes) still exist: a switch write
 * once ran against the freed switch here (test_stop_under_load.py).
 */
static void
node_stop(struct gw_node *n)
{
	gw_store_drain(n->store);
	gw_modules_stop(n);
	gw_peers_stop(n);
	gw_store_close(n->store);
}

static int
run(void)
{
	struct event *sig_term, *sig_int, *sig_hup;
	struct gw_store_opts so = {
		.map_size = (size_t)node.cfg.limits.map_size_mb << 20,
		.batch_max = node.cfg.limits.commit_batch_max,
		.reserve = (size_t)node.cfg.limits.store_reserve_kb << 10,
		.on_fatal = on_store_fatal,
	};
	char err[1024];

	signal(SIGPIPE, SIG_IGN);
	node.base = event_base_new();
	if (node.base == NULL) {
		net_log(NET_LOG_ERR, "startup_failed", "error=\"event_base_new\"");
		return 1;
	}
	gw_node_server_init(&node, gw_metrics_allowed,
	    gw_metrics_render);
	if (gw_store_open(&node.store, node.base, node.cfg.data_dir, &so, err,
	    sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=store data_dir=%s error=\"%s\"",
		    node.cfg.data_dir, err);
		return 1;
	}
	node.boot_count = gw_store_boot_count(node.store);
	if (gw_peers_start(&node, err, sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=peers error=\"%s\"", err);
		gw_store_close(node.store);
		return 1;
	}
	if (gw_modules_start(&node, err, sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=module error=\"%s\"", err);
		gw_peers_stop(&node);
		gw_store_close(node.store);
		return 1;
	}
	if (gw_svc_register_all(err, sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=services error=\"%s\"", err);
		node_stop(&node);
		return 1;
	}
	if (net_conn_listen(&node.srv, err, sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=listen error=\"%s\"", err);
		node_stop(&node);
		return 1;
	}
	if (gw_ops_start(&node, err, sizeof(err)) != 0) {
		net_log(NET_LOG_ERR, "startup_failed", "what=ops error=\"%s\"", err);
		node_stop(&node);
		return 1;
	}
	sig_term = evsignal_new(node.base, SIGTERM, on_term, NULL);
	sig_int = evsignal_new(node.base, SIGINT, on_term, NULL);
	sig_hup = evsignal_new(node.base, SIGHUP, on_hup, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_hup, NULL);
	clock_gettime(CLOCK_MONOTONIC, &node.started);
	net_log(NET_LOG_INFO, "listening", "host=%s port=%s federation=%s region=%s "
	    "version=%s boot=%llu pid=%ld", node.cfg.listen_host, node.cfg.listen_port,
	    node.cfg.federation, node.cfg.region, AXLE_VERSION,
	    (unsigned long long)node.boot_count, (long)getpid());

	if (gw_rates_start(&node) != 0)
		net_log(NET_LOG_WARN, "rates_off", "reason=\"out of memory: Node.Info "
		    "gives no rates\"");
	gw_notify_ready(&node);
	(void)gw_notify_watchdog_start(&node);	/* logs watchdog_failed itself */
	if (gw_expiry_watch(&node) != 0)
		net_log(NET_LOG_WARN, "expiry_watch_failed", "reason=\"out of memory: "
		    "certificate and CRL expiry is not logged (the gauges still tell)\"");

	event_base_dispatch(node.base);

	gw_expiry_unwatch();
	gw_ops_stop();
	gw_health_stop();
	gw_rates_stop();
	gw_notify_watchdog_stop();
	node_stop(&node);
	node.store = NULL;
	net_log(exit_status ? NET_LOG_ERR : NET_LOG_INFO, "stopped", "uptime_s=%llu "
	    "exit=%d", (unsigned long long)gw_node_uptime(&node), exit_status);
	event_free(sig_term);
	event_free(sig_int);
	event_free(sig_hup);
	if (drain_timer)
		event_free(drain_timer);
	SSL_CTX_free(node.srv.ctx);
	SSL_CTX_free(node.client_ctx);
	event_base_free(node.base);
	return exit_status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "backup", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *dest = NULL;
	int check = 0, ch;

	while ((ch = getopt_long(argc, argv, "b:c:nhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			dest = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 'V':
			printf("axled %s\n", AXLE_VERSION);
			return 0;
		default:
			usage(stderr, 2);
		}
	}
	if (path == NULL || optind != argc || (dest != NULL && check))
		usage(stderr, 2);
	if (dest != NULL)
		return backup(path, dest);
	/* Before any event base: the store's writer thread wakes the loop. */
	evthread_use_pthreads();
	gw_config_defaults(&node.cfg);
	if (check_config(path) != 0)
		return 1;
	if (check) {
		gw_expiry_check(&node, (int64_t)time(NULL), stderr);
		printf("%s: configuration OK\n", path);
		return 0;
	}
	return run();
}
