/* reg_harness.h -- helpers for the registry/ unit tests: a node's LMDB register in a temporary dir, EC keys, requests. */
#ifndef AXLE_TESTS_REG_HARNESS_H
#define AXLE_TESTS_REG_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lmdb.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "registry/db.h"

/* One node's register: its own environment in a mkdtemp'd dir. */
struct node {
	char dir[64];
	MDB_env *env;
	struct registry_db db;
	MDB_txn *txn;		/* the open write txn of the test, if any */
	struct registry_outcome res;
};

static inline void
node_open(struct node *n, const char *region)
{
	MDB_txn *txn;

	memset(n, 0, sizeof(*n));
	strcpy(n->dir, "/tmp/axle-reg-XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	assert_int_equal(mdb_env_create(&n->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(n->env, REGISTRY_DB_COUNT), 0);
	assert_int_equal(mdb_env_set_mapsize(n->env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(n->env, n->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(n->env, NULL, 0, &txn), 0);
	assert_int_equal(registry_db_open(txn, region, &n->db, &n->res), REGISTRY_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static inline void
node_close(struct node *n)
{
	char p[128];

	if (n->txn != NULL)
		mdb_txn_abort(n->txn);
	mdb_env_close(n->env);
	snprintf(p, sizeof(p), "%s/data.mdb", n->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", n->dir);
	unlink(p);
	assert_int_equal(rmdir(n->dir), 0);
}

/* Begins the test's write transaction. */
static inline MDB_txn *
node_begin(struct node *n)
{
	assert_null(n->txn);
	assert_int_equal(mdb_txn_begin(n->env, NULL, 0, &n->txn), 0);
	return n->txn;
}

static inline void
node_commit(struct node *n)
{
	assert_int_equal(mdb_txn_commit(n->txn), 0);
	n->txn = NULL;
}

static inline void
node_abort(struct node *n)
{
	mdb_txn_abort(n->txn);
	n->txn = NULL;
}

static const struct registry_change test_admin = {
	"axle://fame-uk/admin/test/admin", 1700000000000
};

/* Reads registrar id of n's region in a read txn; NULL if it cannot (reason in n->res). */
static inline Axle__V1__Registrar *
node_get(struct node *n, const char *id)
{
	Axle__V1__Registrar *r = NULL;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(n->env, NULL, MDB_RDONLY, &txn), 0);
	if (registry_db_get(txn, &n->db, NULL, id, &r, &n->res) != REGISTRY_OK)
		r = NULL;
	mdb_txn_abort(txn);
	return r;
}

/* Delegates prefix to id in its own committed txn; returns the rc (reason in n->res). */
static inline int
node_delegate(struct node *n, const char *id, const char *prefix)
{
	Axle__V1__DelegateRequest req = AXLE__V1__DELEGATE_REQUEST__INIT;
	int rc;

	req.registrar_id = (char *)id;
	req.prefix = (char *)prefix;
	req.display_name = (char *)"Test registrar";
	req.cert_identity = (char *)"axle://fame-uk/member/test";
	node_begin(n);
	rc = registry_db_delegate(n->txn, &n->db, &test_admin, &req, 0, NULL, &n->res);
	if (rc == REGISTRY_OK)
		node_commit(n);
	else
		node_abort(n);
	return rc;
}

/* Sets id's standing in its own committed txn; returns the rc. */
static inline int
node_set_status(struct node *n, const char *id, Axle__V1__RegistrarStatus st)
{
	Axle__V1__SetStatusRequest req = AXLE__V1__SET_STATUS_REQUEST__INIT;
	int rc;

	req.registrar_id = (char *)id;
	req.status = st;
	req.reason = (char *)"test";
	node_begin(n);
	rc = registry_db_set_status(n->txn, &n->db, &test_admin, &req, NULL, &n->res);
	if (rc == REGISTRY_OK)
		node_commit(n);
	else
		node_abort(n);
	return rc;
}

/* Publishes a service in its own committed txn; returns the rc. */
static inline int
node_publish(struct node *n, const char *id, const char *name,
    Axle__V1__ServiceKind kind, const char *address, const char *mtype,
    const char *description)
{
	Axle__V1__PublishServiceRequest req = AXLE__V1__PUBLISH_SERVICE_REQUEST__INIT;
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT;
	char *types[1] = { (char *)mtype };
	int rc;

	s.name = (char *)name;
	s.kind = kind;
	s.address = (char *)address;
	s.description = (char *)(description != NULL ? description : "");
	s.n_message_types = mtype != NULL ? 1 : 0;
	s.message_types = types;
	req.registrar_id = (char *)id;
	req.service = &s;
	node_begin(n);
	rc = registry_db_publish_service(n->txn, &n->db, &test_admin, &req, 0, NULL,
	    &n->res);
	if (rc == REGISTRY_OK)
		node_commit(n);
	else
		node_abort(n);
	return rc;
}

/* A fresh EC P-256 key pair (caller EVP_PKEY_free's). */
static inline EVP_PKEY *
ec_key_new(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

#endif
