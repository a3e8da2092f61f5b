/* path.h -- the escalation path of a case and the parent chain of a configuration: loop and cycle checks. */
#ifndef AXLE_RECOURSE_PATH_H
#define AXLE_RECOURSE_PATH_H

#include <stddef.h>

/* Whether region is one of path[0..n). Exact, case-sensitive comparison. */
int recourse_path_contains(char *const *path, size_t n, const char *region);

/*
 * Whether a case with this path may move to region. RECOURSE_OK, or
 * RECOURSE_ELOOP with a reason naming the path ("uk.london is already on
 * this case's path uk.london.south -> uk.london -> uk: escalating there would
 * be a loop"), or RECOURSE_EINVAL for an empty region.
 */
int recourse_path_check_append(char *const *path, size_t n, const char *region,
    char *why, size_t whylen);

/* Writes "a -> b -> c" into buf (truncated with "..." if it does not fit). */
void recourse_path_format(char *const *path, size_t n, char *buf, size_t len);

/* One configured node and the parent it names ("" or NULL: a root). */
struct recourse_parent_link {
	const char *node;
	const char *parent;
};

/*
 * Checks a parent map (as `axled -n` sees it: this node plus what it knows
 * of others) for a cycle. RECOURSE_OK; RECOURSE_ELOOP naming the cycle
 * ("parent chain uk.a -> uk.b -> uk.a is a cycle"; a node naming itself is
 * "uk.a names itself as its parent"); RECOURSE_EINVAL for an empty node name
 * or a node listed twice with different parents. A parent that is not in the
 * map ends its chain (it is checked where it is configured). O(n^2): n is a
 * handful of levels.
 */
int recourse_parent_chain_check(const struct recourse_parent_link *links,
    size_t n, char *why, size_t whylen);

#endif
