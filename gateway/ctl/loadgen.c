/* loadgen.c -- `make bench` load generator: N mTLS HTTP/2 connections x M streams in flight. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "gateway/net/client.h"
#include "gateway/net/hostport.h"
#include "gateway/net/grpc_status.h"
#include "gateway/net/tls.h"

#define LG_GRACE_S	5	/* after the duration: wait this long for calls in flight */

struct lg;

/* One stream slot: a connection keeps nstreams of them busy. */
struct lg_slot {
	struct lg *lg;
	struct net_client *client;
	uint64_t start_ns;
	bool busy;
};

struct lg {
	struct event_base *base;
	struct net_client **clients;
	struct lg_slot *slots;
	long nconns, nstreams;
	const char *path;
	bool get;
	uint8_t *body;			/* --body-file: the request message (NULL: empty) */
	size_t body_len;
	long vary_id;			/* --vary-id: 16 bytes at this offset differ per request (-1: off) */
	uint64_t vary_base;
	bool post;			/* --post: a plain 200 without grpc-status counts as ok */
	int timeout_ms;
	uint64_t max_requests;
	uint64_t issued, done, ok, errors;
	uint64_t *lat_us;		/* one per completed request */
	bool stopping;			/* duration over: issue no more */
	bool over;			/* results taken: ignore late callbacks */
	uint64_t t0_ns, t_end_ns;
	char last_err[256];
};

static uint64_t
lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lg_issue(struct lg_slot *s);

static void
lg_complete(struct lg_slot *s, bool ok, const char *why)
{
	struct lg *lg = s->lg;
	uint64_t now = lg_now_ns();

	if (lg->over)
		return;
	s->busy = false;
	lg->lat_us[lg->done++] = (now - s->start_ns) / 1000;
	lg->t_end_ns = now;
	if (ok)
		lg->ok++;
	else {
		lg->errors++;
		snprintf(lg->last_err, sizeof(lg->last_err), "%s", why);
	}
	lg_issue(s);
	if (lg->done == lg->issued &&
	    (lg->stopping || lg->issued >= lg->max_requests))
		event_base_loopbreak(lg->base);
}

static void
lg_grpc_cb(void *arg, int final, int status, const char *message,
    const uint8_t *msg, size_t len)
{
	struct lg_slot *s = arg;

	/* --post to a plain HTTP/2 server: a complete 200 response is success. */
	if (final)
		lg_complete(s, status == GRPC_OK || (s->lg->post &&
		    status == GRPC_INTERNAL && message != NULL &&
		    strcmp(message, "stream closed without grpc-status") == 0),
		    message);
}

/* --vary-id: a fresh message id per request (else the node de-duplicates). */
static void
lg_vary(struct lg *lg)
{
	uint64_t n = lg->issued;

	if (lg->vary_id < 0)
		return;
	memcpy(lg->body + lg->vary_id, &lg->vary_base, 8);
	memcpy(lg->body + lg->vary_id + 8, &n, 8);
}

static void
lg_get_cb(void *arg, int http_status, const char *reason, const uint8_t *body,
    size_t len)
{
	char why[64];

	snprintf(why, sizeof(why), "HTTP status %d", http_status);
	lg_complete(arg, http_status == 200, http_status ? why : reason);
}

/* Keeps the slot's stream busy while requests and time remain. */
static void
lg_issue(struct lg_slot *s)
{
	static const uint8_t empty[1];	/* an empty InfoRequest */
	struct lg *lg = s->lg;
	int rc;

	if (lg->stopping || lg->issued >= lg->max_requests)
		return;
	lg->issued++;
	lg_vary(lg);
	s->busy = true;
	s->start_ns = lg_now_ns();
	rc = lg->get ? net_client_get(s->client, lg->path, lg->timeout_ms,
	    lg_get_cb, s) : net_client_call(s->client, lg->path,
	    lg->body ? lg->body : empty, lg->body_len, lg->timeout_ms, lg_grpc_cb, s);
	if (rc < 0) {		/* no callback will come; count it, do not spin */
		s->busy = false;
		lg->lat_us[lg->done++] = 0;
		lg->errors++;
		snprintf(lg->last_err, sizeof(lg->last_err), "cannot start "
		    "request");
	}
}

static void
lg_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(((struct lg *)arg)->base);
}

/* Duration over: issue no more, and give calls in flight a grace period. */
static void
lg_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	struct timeval grace = { LG_GRACE_S, 0 };

	lg->stopping = true;
	if (lg->done == lg->issued)
		event_base_loopbreak(lg->base);
	else
		event_base_once(lg->base, -1, EV_TIMEOUT, lg_grace_cb, lg, &grace);
}

static int
lg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
lg_report(struct lg *lg)
{
	double secs = lg->t_end_ns > lg->t0_ns ?
	    (double)(lg->t_end_ns - lg->t0_ns) / 1e9 : 0;
	uint64_t p50 = 0, p99 = 0, lost = lg->issued - lg->done;

	qsort(lg->lat_us, lg->done, sizeof(uint64_t), lg_cmp);
	if (lg->done > 0) {
		p50 = lg->lat_us[(lg->done - 1) * 50 / 100];
		p99 = lg->lat_us[(lg->done - 1) * 99 / 100];
	}
	/* Requests still in flight after the grace period count as errors. */
	printf("requests=%llu ok=%llu errors=%llu seconds=%.3f rps=%.1f "
	    "p50_us=%llu p99_us=%llu\n", (unsigned long long)lg->issued,
	    (unsigned long long)lg->ok, (unsigned long long)(lg->errors + lost),
	    secs, secs > 0 ? (double)lg->done / secs : 0,
	    (unsigned long long)p50, (unsigned long long)p99);
	if (lg->errors + lost > 0)
		fprintf(stderr, "loadgen: last error: %s%s\n", lg->last_err,
		    lost ? " (and requests unfinished at the end)" : "");
}

static void
lg_usage(void)
{
	fprintf(stderr,
	    "usage: loadgen --cert F --key F --trust DIR --federation FED "
	    "[--ca-file F]\n"
	    "               --server host:port --conns N --streams M "
	    "--requests R --duration-s S\n"
	    "               [--timeout-ms T] (--grpc PATH [--body-file F] | "
	    "--get PATH)\n"
	    "--body-file: the request message for --grpc, as serialized "
	    "protobuf bytes\n"
	    "--vary-id OFFSET: 16 body bytes at OFFSET differ per request "
	    "(a message id)\n"
	    "--post PATH: as --grpc, to a plain HTTP/2 server (200 without "
	    "grpc-status is ok)\n"
	    "(default: an empty message).\n"
	    "Stops after R requests or S seconds, whichever comes first, and "
	    "prints\n"
	    "requests=R ok=K errors=E seconds=T rps=X p50_us=A p99_us=B\n"
	    "Exit status 0 if every request succeeded, 1 otherwise, 2 usage.\n");
}

static int
lg_num(const char *name, const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > max) {
		fprintf(stderr, "loadgen: --%s: expected 1..%ld, got '%s'\n",
		    name, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Reads a request message (at most 1 MiB) for --body-file. */
static int
lg_body(const char *path, struct lg *lg)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1u << 20;

	if (f == NULL || (lg->body = malloc(cap)) == NULL) {
		fprintf(stderr, "loadgen: --body-file %s: %s\n", path,
		    f == NULL ? strerror(errno) : "out of memory");
		if (f != NULL)
			fclose(f);
		return -1;
	}
	lg->body_len = fread(lg->body, 1, cap, f);
	if (ferror(f) || lg->body_len == cap) {
		fprintf(stderr, "loadgen: --body-file %s: unreadable or over "
		    "1 MiB\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

struct lg_args {
	struct net_tls_opts tls;
	const char *ca_file, *server;
	long conns, streams, requests, duration_s, timeout_ms;
};

static int
lg_parse(int argc, char **argv, struct lg_args *a, struct lg *lg)
{
	static const struct option opts[] = {
		{ "cert", 1, NULL, 'C' }, { "key", 1, NULL, 'K' },
		{ "trust", 1, NULL, 'T' }, { "federation", 1, NULL, 'F' },
		{ "ca-file", 1, NULL, 'A' }, { "server", 1, NULL, 's' },
		{ "conns", 1, NULL, 'n' }, { "streams", 1, NULL, 'm' },
		{ "requests", 1, NULL, 'r' }, { "duration-s", 1, NULL, 'd' },
		{ "timeout-ms", 1, NULL, 't' }, { "grpc", 1, NULL, 'g' },
		{ "get", 1, NULL, 'G' }, { "body-file", 1, NULL, 'b' },
		{ "vary-id", 1, NULL, 'v' }, { "post", 1, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc = 0;

	while (rc == 0 && (ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'C': a->tls.cert_file = optarg; break;
		case 'K': a->tls.key_file = optarg; break;
		case 'T': a->tls.trust_dir = optarg; break;
		case 'F': a->tls.federation = optarg; break;
		case 'A': a->ca_file = optarg; break;
		case 's': a->server = optarg; break;
		case 'n': rc = lg_num("conns", optarg, 10000, &a->conns); break;
		case 'm': rc = lg_num("streams", optarg, 10000, &a->streams); break;
		case 'r': rc = lg_num("requests", optarg, 100000000,
		    &a->requests); break;
		case 'd': rc = lg_num("duration-s", optarg, 86400,
		    &a->duration_s); break;
		case 't': rc = lg_num("timeout-ms", optarg, INT_MAX,
		    &a->timeout_ms); break;
		case 'g': lg->path = optarg; lg->get = false; break;
		case 'G': lg->path = optarg; lg->get = true; break;
		case 'b': rc = lg_body(optarg, lg); break;
		case 'v': rc = lg_num("vary-id", optarg, 1 << 20, &lg->vary_id); break;
		case 'P': lg->path = optarg; lg->get = false; lg->post = true; break;
		default: rc = -1;
		}
	}
	if (rc == 0 && lg->vary_id >= 0 && (lg->body == NULL ||
	    (size_t)lg->vary_id + 16 > lg->body_len)) {
		fprintf(stderr, "loadgen: --vary-id: 16 bytes at %ld do not fit "
		    "the --body-file\n", lg->vary_id);
		rc = -1;
	}
	if (rc == 0 && (optind != argc || !a->tls.cert_file ||
	    !a->tls.key_file || !a->tls.trust_dir || !a->tls.federation ||
	    !a->server || !lg->path)) {
		fprintf(stderr, "loadgen: missing or extra arguments\n");
		rc = -1;
	}
	return rc;
}

/* The TLS context; --ca-file adds CA certificates for chain building. */
static SSL_CTX *
lg_tls(const struct lg_args *a)
{
	char err[512];
	SSL_CTX *ctx = net_tls_client_ctx(&a->tls, err, sizeof(err));

	if (ctx == NULL) {
		fprintf(stderr, "loadgen: TLS: %s\n", err);
		return NULL;
	}
	if (a->ca_file != NULL &&
	    SSL_CTX_load_verify_locations(ctx, a->ca_file, NULL) != 1) {
		fprintf(stderr, "loadgen: --ca-file %s: cannot load\n", a->ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
lg_setup(struct lg *lg, const struct lg_args *a, SSL_CTX *ctx)
{
	char host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1];
	const char *why;

	if (net_hostport_split(a->server, host, sizeof(host), port,
	    sizeof(port), &why) < 0) {
		fprintf(stderr, "loadgen: --server: expected host:port, got "
		    "'%s'\n", a->server);
		return -1;
	}
	lg->nconns = a->conns;
	lg->nstreams = a->streams;
	lg->max_requests = (uint64_t)a->requests;
	lg->timeout_ms = (int)a->timeout_ms;
	lg->clients = calloc((size_t)a->conns, sizeof(*lg->clients));
	lg->slots = calloc((size_t)(a->conns * a->streams), sizeof(*lg->slots));
	lg->lat_us = calloc((size_t)a->requests, sizeof(*lg->lat_us));
	if (lg->base == NULL || lg->clients == NULL || lg->slots == NULL ||
	    lg->lat_us == NULL)
		return -1;
	for (long i = 0; i < a->conns; i++) {
		if ((lg->clients[i] = net_client_new(lg->base, ctx, host, port,
		    NULL)) == NULL)
			return -1;
		for (long j = 0; j < a->streams; j++) {
			struct lg_slot *s = &lg->slots[i * a->streams + j];

			s->lg = lg;
			s->client = lg->clients[i];
		}
	}
	return 0;
}

static void
lg_run(struct lg *lg, long duration_s)
{
	struct timeval stop = { duration_s, 0 };
	struct event *stop_ev = evtimer_new(lg->base, lg_stop_cb, lg);

	lg->t0_ns = lg->t_end_ns = lg_now_ns();
	evtimer_add(stop_ev, &stop);
	for (long k = 0; k < lg->nconns * lg->nstreams; k++)
		lg_issue(&lg->slots[k]);
	if (lg->done < lg->issued)
		event_base_dispatch(lg->base);
	lg->over = true;
	event_free(stop_ev);
}

int
main(int argc, char **argv)
{
	struct lg_args a = { .conns = 1, .streams = 1, .requests = 1000,
	    .duration_s = 10, .timeout_ms = 10000 };
	struct lg lg = { .base = NULL, .vary_id = -1 };
	SSL_CTX *ctx;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	lg.vary_base = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	if (lg_parse(argc, argv, &a, &lg) < 0) {
		lg_usage();
		return 2;
	}
	if ((ctx = lg_tls(&a)) == NULL)
		return 1;
	lg.base = event_base_new();
	if (lg_setup(&lg, &a, ctx) < 0) {
		fprintf(stderr, "loadgen: setup failed (out of memory or bad "
		    "--server)\n");
	} else {
		lg_run(&lg, a.duration_s);
		lg_report(&lg);
		rc = lg.ok > 0 && lg.ok == lg.issued ? 0 : 1;
	}
	for (long i = 0; lg.clients != NULL && i < lg.nconns; i++)
		net_client_free(lg.clients[i]);
	free(lg.clients);
	free(lg.slots);
	free(lg.lat_us);
	free(lg.body);
	if (lg.base != NULL)
		event_base_free(lg.base);
	SSL_CTX_free(ctx);
	return rc;
}
