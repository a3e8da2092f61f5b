/* version.h -- axle's version: the one place it is written (axled, axlectl, Node.Info, axle_info). */
#ifndef AXLE_GW_VERSION_H
#define AXLE_GW_VERSION_H

/*
 * Semantic versioning; docs/CHANGELOG.md's newest release heading carries the
 * same string (tests/integration/test_cli_tools.sh checks both binaries and
 * the changelog against this line).
 */
#define AXLE_VERSION "0.1.0"

#endif
