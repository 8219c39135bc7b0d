/* Command-line and mount options of the daemon. */
#ifndef RMTABFS_OPTIONS_H
#define RMTABFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include <rmtabfs/compat.h>
#include <rmtabfs/store.h>

enum rfs_sync_mode {
	RFS_SYNC_LOCAL, /* acknowledge once in the local journal (default) */
	RFS_SYNC_STORE, /* also wait, up to timeout, until the store has it */
};

struct rfs_options {
	char *mountpoint;
	char *store; /* spec as given */
	char *statedir;
	char *node;
	char *gnfs;	   /* name of the gNFS view, NULL if off */
	char *ctl;	   /* control socket path */
	char *config;	   /* config file read before the command line */
	double timeout;	   /* seconds a store call may hold a request */
	double poll;	   /* seconds between checks of other nodes' logs */
	double tombstones; /* seconds a removal is kept in store snapshots at least */
	double maxskew;	   /* seconds past our clock another node's stamp may move it */
	double entry_timeout;
	double attr_timeout;
	enum rfs_sync_mode sync;
	unsigned batch_ms; /* durability=batch:MS; 0 for durability=fsync (default) */
	int foreground;
	int debug;
	int show_help;
	int show_version;
	int singlethread;
	int import_rmtab; /* import the underlying rmtab at first start (default 1) */
	int watch;	  /* use the store's wake-up hint (watch=on, default) */
	struct rfs_store_spec spec;
};

/*
 * Parses argv (our options come out, FUSE's stay in fuse_args) and fills defaults.
 * Returns 0, or -EINVAL with a one-line message in err.
 */
int rfs_options_parse(int argc, char **argv, struct rfs_options *o, struct fuse_args *fuse_args,
		      char *err, size_t errlen);
/*
 * Reads "key=value" lines (or "-o a=b,c" style lines) of a config file into fuse_args-style
 * options; command-line options given later override them.
 */
int rfs_options_read_config(const char *path, struct fuse_args *args, char *err, size_t errlen);
void rfs_options_free(struct rfs_options *o);
void rfs_options_usage(const char *prog);

/* Default control socket for a mount point: RFS_RUNDIR/<escaped mount point>.sock. */
char *rfs_ctl_default_path(const char *mountpoint);

#endif
