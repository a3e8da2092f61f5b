/* portal.c -- discovery of published services: filtering, ordering and page tokens. */
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db_priv.h"
#include "registry/portal.h"
#include "registry/purpose.h"
#include "registry/registrar.h"

#define FAIL(res, rc, ...) registry_fail((rc), (res)->reason, sizeof((res)->reason), __VA_ARGS__)
#define TOKEN_RAW_MAX	(ADDR_MAX_LEN + 1 + 129 + 1 + REGISTRY_NAME_MAX)

/* --- filtering --------------------------------------------------------------------------- */

int
registry_portal_filter(const Axle__V1__DiscoverRequest *req,
    struct registry_portal_filter *f, char *reason, size_t len)
{
	char why[REGISTRY_REASON_MAX];

	memset(f, 0, sizeof(*f));
	if (req->prefix != NULL && req->prefix[0] != '\0' &&
	    registry_address_parse(req->prefix, strlen(req->prefix), f->prefix,
	    why, sizeof(why)) != 0)
		return registry_fail(REGISTRY_EINVAL, reason, len, "prefix: %s", why);
	if (req->kind < AXLE__V1__SERVICE_KIND__SERVICE_KIND_UNSPECIFIED ||
	    req->kind > AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX)
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "unknown service kind %d", (int)req->kind);
	f->kind = req->kind;
	if (req->text != NULL && strlen(req->text) > REGISTRY_TEXT_MAX)
		return registry_fail(REGISTRY_EINVAL, reason, len,
		    "text is longer than %d bytes", REGISTRY_TEXT_MAX);
	f->message_type = req->message_type != NULL && req->message_type[0] != '\0' ?
	    req->message_type : NULL;
	f->text = req->text != NULL && req->text[0] != '\0' ? req->text : NULL;
	if (req->purpose != NULL && req->purpose[0] != '\0') {
		if (!registry_purpose_valid(req->purpose, why, sizeof(why)))
			return registry_fail(REGISTRY_EINVAL, reason, len, "%s", why);
		f->purpose = req->purpose;
	}
	return REGISTRY_OK;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive substring (strcasestr is not C11 or POSIX). */
static bool
contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		size_t i = 0;

		while (i < n && hay[i] != '\0' && lower(hay[i]) == lower(needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

static bool
under_prefix(const struct registry_portal_filter *f, const Axle__V1__Registrar *r,
    const Axle__V1__Service *s)
{
	if (f->prefix[0] == '\0' || registry_address_covers(f->prefix, s->address))
		return true;
	for (size_t i = 0; i < r->n_prefixes; i++)
		if (registry_address_covers(f->prefix, r->prefixes[i]))
			return true;
	return false;
}

static bool
publishes(const Axle__V1__Service *s, const char *purpose)
{
	if (purpose == NULL)
		return true;
	for (size_t i = 0; i < s->n_purposes; i++)
		if (strcmp(s->purposes[i], purpose) == 0)
			return true;
	return false;
}

bool
registry_portal_match(const struct registry_portal_filter *f,
    const Axle__V1__Registrar *r, const Axle__V1__Service *s)
{
	bool typed = f->message_type == NULL;

	if (r->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED)
		return false;
	if (f->kind != AXLE__V1__SERVICE_KIND__SERVICE_KIND_UNSPECIFIED && s->kind != f->kind)
		return false;
	for (size_t i = 0; i < s->n_message_types && !typed; i++)
		typed = strcmp(s->message_types[i], f->message_type) == 0;
	if (!typed || !under_prefix(f, r, s) || !publishes(s, f->purpose))
		return false;
	return f->text == NULL || contains_nocase(s->name, f->text) ||
	    contains_nocase(s->description, f->text);
}

/* --- page tokens: hex of "region NUL id NUL name" ------------------------------------------- */

struct token {
	char raw[TOKEN_RAW_MAX + 1];
	const char *region, *id, *name;	/* into raw; region NULL: first page */
};

static char *
token_encode(const char *region, const char *id, const char *name)
{
	size_t rl = strlen(region), il = strlen(id), nl = strlen(name);
	size_t n = rl + 1 + il + 1 + nl;
	char *out = malloc(2 * n + 1);
	const char *parts[3] = { region, id, name };
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (int p = 0; p < 3; p++) {
		for (const char *s = parts[p]; *s != '\0'; s++)
			o += (size_t)snprintf(out + o, 3, "%02x", (unsigned char)*s);
		if (p < 2)
			o += (size_t)snprintf(out + o, 3, "00");
	}
	out[o] = '\0';
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
token_decode(const char *hex, struct token *t, struct registry_outcome *res)
{
	size_t n = hex != NULL ? strlen(hex) : 0, nul = 0;

	memset(t, 0, sizeof(*t));
	if (n == 0)
		return REGISTRY_OK;
	if (n % 2 != 0 || n / 2 > TOKEN_RAW_MAX)
		goto bad;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		t->raw[i] = (char)(hi << 4 | lo);
		nul += t->raw[i] == '\0';
	}
	t->raw[n / 2] = '\0';
	if (nul != 2)
		goto bad;
	t->region = t->raw;
	t->id = t->region + strlen(t->region) + 1;
	t->name = t->id + strlen(t->id) + 1;
	if (t->region[0] == '\0' || t->id[0] == '\0')
		goto bad;
	return REGISTRY_OK;
bad:
	return FAIL(res, REGISTRY_EINVAL, "page token is not one this node issued");
}

/* --- the walk ------------------------------------------------------------------------------ */

struct disc {
	const struct registry_portal_filter *f;
	MDB_txn *txn;
	const struct registry_db *db;
	const struct token *tok;
	size_t want;
	Axle__V1__DiscoverResponse *resp;
	bool more;			/* a match beyond this page exists */
	struct registry_outcome *res;
};

static int
by_name(const void *a, const void *b)
{
	const Axle__V1__Service *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* A standalone copy of s (pack + unpack), owned by the response. */
static Axle__V1__DiscoveredService *
found_new(const struct disc *d, const Axle__V1__Registrar *r, const Axle__V1__Service *s)
{
	Axle__V1__DiscoveredService *ds = calloc(1, sizeof(*ds));
	size_t n;
	uint8_t *buf;

	if (ds == NULL)
		return NULL;
	axle__v1__discovered_service__init(ds);
	buf = pb_pack(&s->base, 0, &n);
	ds->service = buf == NULL ? NULL : PB_UNPACK(Axle__V1__Service,
	    axle__v1__service, buf, n, REGISTRY_RECORD_MAX, NULL, 0);
	free(buf);
	ds->registrar_id = strdup(r->id);
	ds->registrar_name = strdup(r->display_name);
	ds->region = strdup(r->region);
	ds->registrar_status = r->status;
	ds->from_mirror = strcmp(r->region, d->db->region) != 0;
	if (ds->service == NULL || ds->registrar_id == NULL ||
	    ds->registrar_name == NULL || ds->region == NULL) {
		pb_free(ds->service != NULL ? &ds->service->base : NULL);
		free(ds->registrar_id);
		free(ds->registrar_name);
		free(ds->region);
		free(ds);
		return NULL;
	}
	return ds;
}

/* Services of the token's own record up to and including its name were on earlier pages. */
static bool
seen(const struct disc *d, const Axle__V1__Registrar *r, const Axle__V1__Service *s)
{
	return d->tok->region != NULL && strcmp(r->region, d->tok->region) == 0 &&
	    strcmp(r->id, d->tok->id) == 0 && strcmp(s->name, d->tok->name) <= 0;
}

/* r moved to a split-off region whose own record of it is here: that one is listed. */
static bool
moved_shown_there(const struct disc *d, const Axle__V1__Registrar *r)
{
	struct registry_outcome o = { 0 };
	Axle__V1__Registrar *there = NULL;

	if (r->moved_to == NULL || r->moved_to[0] == '\0' ||
	    registry_db_get(d->txn, d->db, r->moved_to, r->id, &there, &o) != REGISTRY_OK)
		return false;
	pb_free(&there->base);
	return true;
}

static int
disc_one(const Axle__V1__Registrar *r, void *arg)
{
	struct disc *d = arg;
	Axle__V1__Service **sorted;
	int rc = 0;

	if (r->n_services == 0 || moved_shown_there(d, r))
		return 0;
	if ((sorted = malloc(r->n_services * sizeof(*sorted))) == NULL)
		return FAIL(d->res, REGISTRY_ENOMEM, "out of memory");
	memcpy(sorted, r->services, r->n_services * sizeof(*sorted));
	qsort(sorted, r->n_services, sizeof(*sorted), by_name);
	for (size_t i = 0; i < r->n_services && rc == 0; i++) {
		Axle__V1__DiscoverResponse *resp = d->resp;

		if (seen(d, r, sorted[i]) || !registry_portal_match(d->f, r, sorted[i]))
			continue;
		if (resp->n_services == d->want) {
			d->more = true;
			rc = 1;
		} else if ((resp->services[resp->n_services] = found_new(d, r,
		    sorted[i])) == NULL)
			rc = FAIL(d->res, REGISTRY_ENOMEM, "out of memory");
		else
			resp->n_services++;
	}
	free(sorted);
	return rc;
}

static Axle__V1__DiscoverResponse *
resp_new(size_t want)
{
	Axle__V1__DiscoverResponse *resp = calloc(1, sizeof(*resp));

	if (resp == NULL)
		return NULL;
	axle__v1__discover_response__init(resp);
	resp->services = calloc(want, sizeof(*resp->services));
	resp->page = calloc(1, sizeof(*resp->page));
	if (resp->services == NULL || resp->page == NULL) {
		registry_portal_free(resp);
		return NULL;
	}
	axle__v1__page_response__init(resp->page);
	return resp;
}

/* Sets the next page token (from the last item) and total. */
static int
finish_page(struct disc *d)
{
	Axle__V1__DiscoverResponse *resp = d->resp;
	const Axle__V1__DiscoveredService *last;

	if (!d->more) {
		if (d->tok->region == NULL)
			resp->page->total = resp->n_services;
		return REGISTRY_OK;
	}
	last = resp->services[resp->n_services - 1];
	resp->page->next_page_token = token_encode(last->region, last->registrar_id,
	    last->service->name);
	return resp->page->next_page_token == NULL ?
	    FAIL(d->res, REGISTRY_ENOMEM, "out of memory") : REGISTRY_OK;
}

int
registry_portal_discover(MDB_txn *txn, const struct registry_db *db,
    const Axle__V1__DiscoverRequest *req, Axle__V1__DiscoverResponse **out,
    struct registry_outcome *res)
{
	struct registry_portal_filter f;
	struct token tok;
	struct disc d = { &f, txn, db, &tok, REGISTRY_PAGE_DEFAULT, NULL, false, res };
	int rc;

	registry_outcome_reset(res);
	*out = NULL;
	if ((rc = registry_portal_filter(req, &f, res->reason, sizeof(res->reason))) != 0 ||
	    (rc = token_decode(req->page != NULL ? req->page->page_token : NULL,
	    &tok, res)) != 0)
		return rc;
	if (req->page != NULL && req->page->page_size > 0)
		d.want = req->page->page_size < REGISTRY_PAGE_MAX ?
		    req->page->page_size : REGISTRY_PAGE_MAX;
	if ((d.resp = resp_new(d.want)) == NULL)
		return FAIL(res, REGISTRY_ENOMEM, "out of memory");
	rc = registry_db_walk(txn, db, tok.region, tok.id, disc_one, &d, res);
	if (rc == REGISTRY_OK)
		rc = finish_page(&d);
	if (rc != REGISTRY_OK) {
		registry_portal_free(d.resp);
		return rc;
	}
	*out = d.resp;
	return REGISTRY_OK;
}

void
registry_portal_free(Axle__V1__DiscoverResponse *resp)
{
	if (resp == NULL)
		return;
	for (size_t i = 0; i < resp->n_services; i++) {
		Axle__V1__DiscoveredService *ds = resp->services[i];

		pb_free(&ds->service->base);
		free(ds->registrar_id);
		free(ds->registrar_name);
		free(ds->region);
		free(ds);
	}
	free(resp->services);
	if (resp->page != NULL && resp->page->next_page_token !=
	    (char *)protobuf_c_empty_string)
		free(resp->page->next_page_token);
	free(resp->page);
	free(resp);
}
