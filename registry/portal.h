/* portal.h -- service discovery over the local register and the mirrors, with paging. */
#ifndef AXLE_REGISTRY_PORTAL_H
#define AXLE_REGISTRY_PORTAL_H

#include <stdbool.h>
#include <lmdb.h>

#include "axle/v1/registry.pb-c.h"
#include "registry/address.h"
#include "registry/db.h"

#define REGISTRY_PAGE_DEFAULT	50
#define REGISTRY_PAGE_MAX	500
#define REGISTRY_TEXT_MAX	200	/* bytes of a free-text query */

/* A discovery query, checked and folded (registry_portal_filter). */
struct registry_portal_filter {
	char prefix[ADDR_MAX_LEN + 1];	/* "" : anywhere */
	Axle__V1__ServiceKind kind;	/* UNSPECIFIED: any kind */
	const char *message_type;	/* NULL: any (points into the request) */
	const char *text;		/* NULL: any (points into the request) */
	const char *purpose;		/* NULL: any; else services that publish it */
};

/*
 * Checks req and fills f (valid while req is). Returns REGISTRY_OK or
 * REGISTRY_EINVAL (bad prefix naming its label, unknown kind, text over
 * REGISTRY_TEXT_MAX bytes, a purpose not in the purpose grammar) with
 * reason.
 */
int registry_portal_filter(const Axle__V1__DiscoverRequest *req,
    struct registry_portal_filter *f, char *reason, size_t len);

/*
 * Does service s of registrar r match f? Pure. Services of revoked
 * registrars never match. prefix: one of r's prefixes lies under (or is) it,
 * or s's address does. kind: equal. message_type: s accepts exactly it.
 * text: a case-insensitive (ASCII) substring of s's name or description.
 * purpose: one of the purposes s publishes (a service that publishes none
 * does not match: discovery lists who declared the purpose).
 */
bool registry_portal_match(const struct registry_portal_filter *f,
    const Axle__V1__Registrar *r, const Axle__V1__Service *s);

/*
 * Answers a Discover request from the local register and the mirrors, in
 * the order (region, registrar id, service name). Page size:
 * req->page->page_size, 0 meaning REGISTRY_PAGE_DEFAULT, capped at
 * REGISTRY_PAGE_MAX. next_page_token is opaque (it names the last item
 * returned; the next page starts after it, so changes between pages neither
 * repeat nor skip items that did not move) and empty on the last page;
 * total is set on a complete single page, else 0 (unknown). *out is the
 * caller's, freed with registry_portal_free (not pb_free). Returns
 * REGISTRY_OK, REGISTRY_EINVAL (bad query or page token), REGISTRY_ENOMEM,
 * REGISTRY_EINTEGRITY or REGISTRY_ESTORE with res->reason.
 */
int registry_portal_discover(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__DiscoverRequest *req, Axle__V1__DiscoverResponse **out,
    struct registry_outcome *res);
void registry_portal_free(Axle__V1__DiscoverResponse *resp);

#endif
