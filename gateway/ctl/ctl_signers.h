/* ctl_signers.h -- fetch verifies hub signatures with the signing certificates the register publishes for each sender (Registry.FindKeys, one lookup per sender). */
#ifndef AXLE_CTL_SIGNERS_H
#define AXLE_CTL_SIGNERS_H

#include <stddef.h>

#include "gateway/ctl/ctl.h"
#include "proto/envsig.h"

#define CTL_SIGNERS_MAX	64	/* senders remembered; the oldest is looked up again after */

struct ctl_signers;

/* An empty cache of senders' published signing keys, asked of ctl's node. NULL: out of memory. */
struct ctl_signers *ctl_signers_new(struct ctl *ctl);
void ctl_signers_free(struct ctl_signers *s);

/*
 * Checks e's signature (envsig_check) with the signing certificate the
 * register publishes for e's sender under the signature's key identity.
 * why names the fault, or for ENVSIG_NO_KEY why it could not be checked
 * (no key published, an older node without FindKeys, the lookup failed);
 * on ENVSIG_OK, signer says whose key ("<fingerprint> of <registrar>").
 * Runs the event loop: never call it from a call's callback.
 */
enum envsig_verdict ctl_signers_check(struct ctl_signers *s,
    const Axle__V1__Envelope *e, char *why, size_t len, char *signer,
    size_t slen);

#endif
