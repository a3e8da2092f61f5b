/* backup.h -- a consistent, private copy of a node's store (axled -b). */
#ifndef AXLE_GW_BACKUP_H
#define AXLE_GW_BACKUP_H

#include <stddef.h>

/*
 * Copies the LMDB environment in data_dir, compacted, to dest/data.mdb while
 * the node may be running (one read transaction: a snapshot of a moment).
 * dest is created mode 0700 if absent; an existing dest/data.mdb is refused,
 * never overwritten. The copy is written under umask 077, so it is mode 0600
 * whatever the caller's umask (mdb_copy's is 0666 less the umask: 0644 under
 * the usual 022). map_size_mb is the node's [limits] map_size_mb.
 * Returns 0 and the copy's size in *bytes, or -1 with a reason in err.
 */
int gw_backup(const char *data_dir, const char *dest, size_t map_size_mb,
    long long *bytes, char *err, size_t errlen);

#endif
