/* bench_resolve.c -- in-process resolution rate over 1M delegations of 3-6 labels, beside LMDB's raw random-get rate on the same keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lmdb.h>

#include "registry/address.h"
#include "registry/prefix_index.h"

/*
 * Not a test: prints rates, never fails on speed.
 * Usage: bench_resolve [prefixes (1000000)] [seconds per phase (3)]
 * Prefixes look like real ones: a country, one of 64 regions, one of 4096
 * councils or agencies, then 0-3 more labels of 3-10 letters. Queries are
 * a random delegation plus 0-2 labels below it (90%) or an address under a
 * random region that no delegation covers (10%: the closest-encloser path).
 */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
label(char *out, size_t min, size_t max)
{
	size_t n = min + rnd() % (max - min + 1);

	for (size_t i = 0; i < n; i++)
		out[i] = (char)('a' + rnd() % 26);
	return n;
}

/* A prefix of 3-6 labels into out; returns its length. */
static size_t
make_prefix(char *out)
{
	static const char *cc[] = { "uk", "ie", "fr", "de" };
	int depth = 3 + (int)(rnd() % 4);
	size_t o = (size_t)sprintf(out, "%s.r%u.o%u", cc[rnd() % 4],
	    (unsigned)(rnd() % 64), (unsigned)(rnd() % 4096));

	for (int d = 3; d < depth; d++) {
		out[o++] = '.';
		o += label(out + o, 3, 10);
	}
	out[o] = '\0';
	return o;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Builds the index; returns the number of distinct prefixes in keys[]. */
static size_t
build(struct registry_index *idx, char **keys, size_t n)
{
	char id[32];
	size_t uniq = 0;

	for (int r = 0; r < 10000; r++) {
		snprintf(id, sizeof(id), "reg%d", r);
		registry_index_set_registrar(idx, "uk", id,
		    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE);
	}
	for (int c = 0; c < 4; c++)
		for (int r = 0; r < 64; r++) {
			char reg[32];

			snprintf(reg, sizeof(reg), "%s.r%d",
			    (const char *[]){ "uk", "ie", "fr", "de" }[c], r);
			registry_index_add_region(idx, reg, REGISTRY_PREFIX_PEER_REGION);
		}
	while (uniq < n) {
		char p[ADDR_MAX_LEN + 1];
		size_t len = make_prefix(p);
		struct registry_match m;

		snprintf(id, sizeof(id), "reg%u", (unsigned)(uniq % 10000));
		if (registry_index_get(idx, p, &m) ||
		    registry_index_add_delegation(idx, p, "uk", id) != 0)
			continue;	/* a duplicate */
		if ((keys[uniq] = malloc(len + 1)) == NULL)
			abort();
		memcpy(keys[uniq++], p, len + 1);
	}
	return uniq;
}

static char **
make_queries(char **keys, size_t n, size_t nq)
{
	char **q = malloc(nq * sizeof(*q));

	for (size_t i = 0; i < nq; i++) {
		char a[ADDR_MAX_LEN + 1];
		size_t o;

		if (rnd() % 10 == 0)
			o = (size_t)sprintf(a, "uk.r%u.unknown%u", (unsigned)(rnd() % 64),
			    (unsigned)(rnd() % 100000));
		else {
			o = (size_t)sprintf(a, "%s", keys[rnd() % n]);
			for (int extra = (int)(rnd() % 3); extra > 0; extra--) {
				a[o++] = '.';
				o += label(a + o, 3, 10);
			}
			a[o] = '\0';
		}
		q[i] = strdup(a);
	}
	return q;
}

static double
bench_index(const struct registry_index *idx, char **q, size_t nq, double secs,
    double *matched)
{
	struct registry_resolution r;
	size_t done = 0, hits = 0;
	double t0 = now_s(), t;

	do {
		for (size_t i = 0; i < 65536; i++)
			hits += registry_resolve(idx, q[(done + i) % nq], &r);
		done += 65536;
		t = now_s() - t0;
	} while (t < secs);
	*matched = (double)hits / (double)done;
	return (double)done / t;
}

static double
bench_lmdb(char **keys, size_t n, double secs)
{
	char dir[] = "/tmp/axle-bench-lmdb-XXXXXX", p[64];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t done = 0;
	double t0, t;

	if (mkdtemp(dir) == NULL || mdb_env_create(&env) != 0 ||
	    mdb_env_set_mapsize(env, (size_t)4 << 30) != 0 ||
	    mdb_env_open(env, dir, MDB_NOSYNC, 0600) != 0 ||	/* load speed only */
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0)
		return -1;
	{	/* sorted, so the load appends */
		char **sorted = malloc(n * sizeof(*sorted));

		memcpy(sorted, keys, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_str);
		for (size_t i = 0; i < n; i++) {
			MDB_val k = { strlen(sorted[i]), sorted[i] }, v = { 6, "reg123" };

			int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);

			if (rc != 0) {
				fprintf(stderr, "mdb_put: %s\n", mdb_strerror(rc));
				return -1;
			}
		}
		free(sorted);
	}
	if (mdb_txn_commit(txn) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	t0 = now_s();
	do {
		for (size_t i = 0; i < 65536; i++) {
			char *key = keys[rnd() % n];
			MDB_val k = { strlen(key), key }, v;

			if (mdb_get(txn, dbi, &k, &v) != 0)
				return -1;
		}
		done += 65536;
		t = now_s() - t0;
	} while (t < secs);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
	return (double)done / t;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	double secs = argc > 2 ? atof(argv[2]) : 3.0, t0, rate, gets;
	size_t nq = 1 << 20;
	double matched;
	char **keys = malloc(n * sizeof(*keys)), **q;
	struct registry_index *idx = registry_index_new(n);

	if (keys == NULL || idx == NULL)
		return 1;
	t0 = now_s();
	build(idx, keys, n);
	printf("prefixes=%zu build_s=%.2f\n", n, now_s() - t0);
	q = make_queries(keys, n, nq);
	rate = bench_index(idx, q, nq, secs, &matched);
	printf("resolves_per_s=%.0f (matched %.1f%%)\n", rate,
	    100.0 * matched);
	gets = bench_lmdb(keys, n, secs);
	printf("lmdb_gets_per_s=%.0f\n", gets);
	printf("resolve_vs_lmdb_get=%.2f\n", gets > 0 ? rate / gets : 0.0);
	registry_index_free(idx);
	return gets > 0 ? 0 : 1;
}
