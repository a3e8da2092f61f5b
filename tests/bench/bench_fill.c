/*
 * bench_fill.c -- fills a stopped node's data directory with queued messages
 * for `make bench`'s "O(1) where the loop is" run: N copies of one packed
 * envelope, each under its own id, spread round-robin over M mailboxes
 * ("box-0000" ...), through the switch's queue API (sw_queue_accept), so it
 * writes whatever layout this build writes. Commits every 20,000.
 *
 * usage: bench_fill DATA_DIR N M ENVELOPE_FILE
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "gateway/node/gw_switch.h"
#include "gateway/node/store.h"
#include "gateway/switch/sw_queue.h"

#define FILL_PER_TXN	20000u

static uint8_t *
fill_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 16];

	if (f == NULL)
		return NULL;
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return *len > 0 ? buf : NULL;
}

static int
fill_die(const char *what, int rc)
{
	fprintf(stderr, "bench_fill: %s: %s\n", what, sw_queue_strerror(rc));
	return 1;
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	struct sw_queue *q;
	struct sw_txn t;
	char err[256], box[32];
	uint8_t id[SW_QID_LEN], *envb;
	size_t envlen;
	uint64_t n, m, i;
	int rc;

	if (argc != 5 || (n = strtoull(argv[2], NULL, 10)) == 0 ||
	    (m = strtoull(argv[3], NULL, 10)) == 0) {
		fprintf(stderr, "usage: bench_fill DATA_DIR N MAILBOXES ENVELOPE_FILE\n");
		return 2;
	}
	if ((envb = fill_read(argv[4], &envlen)) == NULL) {
		perror(argv[4]);
		return 1;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)64 << 30)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOTLS | MDB_NOSYNC, 0600)) != 0)
		return fill_die("env open", rc);
	/* Counters' layout stamped first: accept keeps them, the node need not rebuild. */
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = sw_queue_lmdb_open(env, txn, &q, err, sizeof(err))) != 0)
		return fill_die("queue open", rc);
	sw_txn_lmdb(q, txn, &t);
	if ((rc = sw_queue_counters_open(&t, NULL)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		return fill_die("queue open", rc);
	memset(id, 0xb5, sizeof(id));	/* ids: b5.. then the count, big-endian */
	for (i = 0; i < n; ) {
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			return fill_die("begin", rc);
		sw_txn_lmdb(q, txn, &t);
		for (uint64_t end = i + FILL_PER_TXN; i < n && i < end; i++) {
			for (int b = 0; b < 8; b++)
				id[8 + b] = (uint8_t)(i >> (56 - 8 * b));
			snprintf(box, sizeof(box), "box-%04" PRIu64, i % m);
			rc = sw_queue_accept(&t, id, envb, envlen, SW_STATE_MAILBOX,
			    box, gw_now_ms());
			if (rc != 0)
				return fill_die("accept", rc);
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			return fill_die("commit", rc);
	}
	/* MDB_NOSYNC above: one sync at the end (a bench fixture, not the node). */
	if ((rc = mdb_env_sync(env, 1)) != 0)
		return fill_die("sync", rc);
	sw_queue_close(q);
	mdb_env_close(env);
	printf("filled %" PRIu64 " messages into %" PRIu64 " mailboxes\n", n, m);
	return 0;
}
