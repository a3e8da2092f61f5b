/* backup.c -- a consistent, private copy of a node's store (axled -b). */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/node/backup.h"
#include "gateway/node/store.h"

/* dest: created 0700 if absent; it must be a directory without data.mdb. */
static int
backup_dest(const char *dest, char *path, size_t pathlen, char *err,
    size_t errlen)
{
	struct stat sb;

	if ((size_t)snprintf(path, pathlen, "%s/data.mdb", dest) >= pathlen) {
		snprintf(err, errlen, "%s: path too long", dest);
		return -1;
	}
	if (mkdir(dest, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dest, strerror(errno));
		return -1;
	}
	if (stat(dest, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dest);
		return -1;
	}
	if (lstat(path, &sb) == 0) {
		snprintf(err, errlen, "%s exists: a backup is never overwritten "
		    "(give a new directory, e.g. one named by the date)", path);
		return -1;
	}
	return 0;
}

int
gw_backup(const char *data_dir, const char *dest, size_t map_size_mb,
    long long *bytes, char *err, size_t errlen)
{
	char path[4096];
	MDB_env *env = NULL;
	struct stat sb;
	mode_t old = umask(077);	/* before anything is created */
	int rc = -1, mrc;

	if (backup_dest(dest, path, sizeof(path), err, errlen) != 0)
		goto out;
	if ((mrc = mdb_env_create(&env)) != 0 ||
	    (mrc = mdb_env_set_maxdbs(env, STORE_MAX_DBS)) != 0 ||
	    (mrc = mdb_env_set_mapsize(env, map_size_mb << 20)) != 0 ||
	    (mrc = mdb_env_open(env, data_dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
		snprintf(err, errlen, "%s: cannot open the store: %s", data_dir,
		    mdb_strerror(mrc));
		goto out;
	}
	if ((mrc = mdb_env_copy2(env, dest, MDB_CP_COMPACT)) != 0) {
		snprintf(err, errlen, "copying %s to %s: %s", data_dir, path,
		    mdb_strerror(mrc));
		unlink(path);	/* ours (backup_dest saw none): never a torn copy */
		goto out;
	}
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	*bytes = (long long)sb.st_size;
	rc = 0;
out:
	if (env != NULL)
		mdb_env_close(env);
	umask(old);
	return rc;
}
