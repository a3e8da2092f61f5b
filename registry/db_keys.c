/* db_keys.c -- publishing and withdrawing a registrar's keys: the record and its feed entry in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "registry/db.h"
#include "registry/db_priv.h"
#include "registry/keys.h"
#include "registry/registrar.h"

#define FAIL(res, rc, ...) registry_fail((rc), (res)->reason, sizeof((res)->reason), __VA_ARGS__)

int
registry_db_publish_key(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *id,
    const Axle__V1__PublishedKey *key, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	char scope[ADDR_MAX_LEN + 1], hex[REGISTRY_KEY_FPR_HEX];
	char detail[REGISTRY_KEY_FPR_HEX + ADDR_MAX_LEN + 64];
	Axle__V1__Registrar *cur, next;
	Axle__V1__PublishedKey k, **keys;
	int rc, at;

	registry_outcome_reset(res);
	if (out != NULL)
		*out = NULL;
	if (key == NULL || key->fingerprint.len != REGISTRY_KEY_FPR_LEN ||
	    key->certificate.len == 0 ||
	    (key->use != AXLE__V1__KEY_USE__KEY_USE_SIGNING &&
	    key->use != AXLE__V1__KEY_USE__KEY_USE_SEALING))
		return FAIL(res, REGISTRY_EINVAL, "a key needs a use, a certificate "
		    "and its 32-byte fingerprint");
	if ((rc = registry_db_get_local(txn, db, id, &cur, res)) != REGISTRY_OK)
		return rc;
	if (cur->status == AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED) {
		rc = FAIL(res, REGISTRY_EPRECOND, "registrar %s is revoked: it "
		    "publishes no keys", id);
		goto out;
	}
	if ((rc = registry_key_scope_check(cur, key->scope, scope, res->reason,
	    sizeof(res->reason))) != REGISTRY_OK)
		goto out;
	at = registry_registrar_key_index(cur, key->fingerprint.data,
	    key->fingerprint.len);
	if (at < 0 && cur->n_keys >= REGISTRY_KEYS_MAX) {
		rc = FAIL(res, REGISTRY_ENOMEM, "registrar %s already publishes %d "
		    "keys, the limit: withdraw one first (e.g. a rotation's old key)",
		    id, REGISTRY_KEYS_MAX);
		goto out;
	}
	if ((keys = malloc((cur->n_keys + 1) * sizeof(*keys))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	k = *key;
	k.scope = scope;
	k.published_ms = ch->at_ms;
	next = *cur;
	if (cur->n_keys > 0)
		memcpy(keys, cur->keys, cur->n_keys * sizeof(*keys));
	next.keys = keys;
	if (at >= 0)
		keys[at] = &k;
	else
		keys[next.n_keys++] = &k;
	registry_db_bump(&next, ch);
	registry_key_fpr_hex(&k.fingerprint, hex);
	snprintf(detail, sizeof(detail), "%s key %s scope %s",
	    registry_key_use_name(k.use), hex, scope[0] ? scope : "(all prefixes)");
	rc = registry_db_commit_record(txn, db, ch,
	    AXLE__V1__FEED_CHANGE__FEED_CHANGE_KEY_PUBLISHED, &next, detail, out, res);
	free(keys);
out:
	pb_free(&cur->base);
	return rc;
}

int
registry_db_withdraw_key(MDB_txn *txn, const struct registry_db *db,
    const struct registry_change *ch, const char *id, const uint8_t *fpr,
    size_t fprlen, const char *reason, Axle__V1__Registrar **out,
    struct registry_outcome *res)
{
	char hex[REGISTRY_KEY_FPR_HEX], detail[REGISTRY_KEY_FPR_HEX + REGISTRY_REASON_MAX + 8];
	ProtobufCBinaryData f = { fprlen, (uint8_t *)fpr };
	Axle__V1__Registrar *cur, next;
	Axle__V1__PublishedKey **keys;
	size_t n = 0;
	int rc, at;

	registry_outcome_reset(res);
	if (out != NULL)
		*out = NULL;
	if (fpr == NULL || fprlen != REGISTRY_KEY_FPR_LEN)
		return FAIL(res, REGISTRY_EINVAL, "fingerprint must be the 32-byte "
		    "SHA-256 of the certificate (64 hex digits)");
	if ((rc = registry_db_get_local(txn, db, id, &cur, res)) != REGISTRY_OK)
		return rc;
	registry_key_fpr_hex(&f, hex);
	if ((at = registry_registrar_key_index(cur, fpr, fprlen)) < 0) {
		rc = FAIL(res, REGISTRY_ENOTFOUND, "registrar %s publishes no key "
		    "with fingerprint %s", id, hex);
		goto out;
	}
	if ((keys = malloc(cur->n_keys * sizeof(*keys))) == NULL) {
		rc = FAIL(res, REGISTRY_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cur->n_keys; i++)
		if ((int)i != at)
			keys[n++] = cur->keys[i];
	next = *cur;
	next.keys = keys;
	next.n_keys = n;
	registry_db_bump(&next, ch);
	snprintf(detail, sizeof(detail), "%s: %s", hex, reason != NULL &&
	    reason[0] != '\0' ? reason : "withdrawn");
	rc = registry_db_commit_record(txn, db, ch,
	    AXLE__V1__FEED_CHANGE__FEED_CHANGE_KEY_WITHDRAWN, &next, detail, out, res);
	free(keys);
out:
	pb_free(&cur->base);
	return rc;
}
