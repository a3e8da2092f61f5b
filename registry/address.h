/* address.h -- the federation's address and identifier grammar (docs/design.md "Addresses"). */
#ifndef AXLE_REGISTRY_ADDRESS_H
#define AXLE_REGISTRY_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_MAX_LEN     253	/* bytes, without NUL */
#define ADDR_LABEL_MAX   63
#define ADDR_LOCAL_MAX   128	/* local-id bytes of an identifier */
#define IDENT_MAX_LEN    (ADDR_MAX_LEN + 1 + ADDR_LOCAL_MAX)

/*
 * Parses and case-folds an address: labels of 1-63 bytes of [a-z0-9-], not
 * starting or ending with '-', separated by single dots, at most 253 bytes.
 * Upper-case ASCII is folded to lower case; anything else (empty label,
 * leading/trailing dot, non-ASCII byte, ...) is rejected.
 * in/len: input bytes (need not be NUL-terminated).
 * out: at least ADDR_MAX_LEN + 1 bytes; receives the folded address.
 * Returns 0, or -1 with a reason naming the label, byte offset or limit
 * written to err (always NUL-terminated when errlen > 0).
 */
int registry_address_parse(const char *in, size_t len, char *out,
    char *err, size_t errlen);

/*
 * Parses an identifier "address:local-id"; local-id is 1-128 bytes of
 * printable ASCII (0x21-0x7e) except ':'. addr_out gets the folded address
 * (ADDR_MAX_LEN + 1 bytes), local_out the local id (ADDR_LOCAL_MAX + 1 bytes,
 * kept as given: local ids are case-sensitive). Returns 0 or -1 with err.
 */
int registry_identifier_parse(const char *in, size_t len, char *addr_out,
    char *local_out, char *err, size_t errlen);

/*
 * True if prefix equals addr or is a label-aligned prefix of it
 * ("uk.london" covers "uk.london.lewisham" but not "uk.londonderry").
 * Both must be already-parsed (folded) addresses.
 */
bool registry_address_covers(const char *prefix, const char *addr);

/* Number of labels in a parsed address. */
size_t registry_address_labels(const char *addr);

#endif
