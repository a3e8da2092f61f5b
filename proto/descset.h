/*
 * descset.h -- (libaxleproto) the FileDescriptorSet of axle's protos, compiled
 * in at build time (proto/descset.sh), and the look-ups server reflection
 * needs: a file by name, the file that defines a symbol, the services, a
 * file's dependencies. Reads the wire form directly: no allocation, bounded
 * by the set's size; a malformed set finds nothing.
 */
#ifndef AXLE_PB_DESCSET_H
#define AXLE_PB_DESCSET_H

#include <stddef.h>
#include <stdint.h>

/* The set of every .proto axled serves (DESC_PROTOS in the Makefile). */
extern const uint8_t pb_descriptor_set[];
extern const size_t pb_descriptor_set_len;

#define PB_DESC_NAME_MAX 256	/* longest full name or file name looked up */

/* One FileDescriptorProto of a set: its serialized bytes (point into the set). */
struct pb_desc_file {
	const uint8_t *data;
	size_t len;
};

/* The file named name (e.g. "axle/v1/switch.proto"). 0, or -1 if none. */
int pb_descset_by_name(const uint8_t *set, size_t len, const char *name,
    struct pb_desc_file *out);

/*
 * The file that defines symbol, a full name without the leading dot: a
 * message or enum (nested ones too, "axle.v1.Outer.Inner"), a service, or
 * a method ("axle.v1.Switch.Send"). 0, or -1 if none.
 */
int pb_descset_by_symbol(const uint8_t *set, size_t len, const char *symbol,
    struct pb_desc_file *out);

/*
 * Calls fn with the full name of each service in the set ("axle.v1.Switch"),
 * in the set's order. Returns the number of services.
 */
size_t pb_descset_services(const uint8_t *set, size_t len,
    void (*fn)(void *arg, const char *name), void *arg);

/*
 * root and every file it depends on, directly or not, each once, root
 * first, into out[0..max). Returns how many (dependencies missing from the
 * set are left out).
 */
size_t pb_descset_closure(const uint8_t *set, size_t len,
    const struct pb_desc_file *root, struct pb_desc_file *out, size_t max);

#endif
