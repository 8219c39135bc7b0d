/*
 * Stores: where the cluster-wide ops live. A store is a directory tree, either a POSIX
 * directory (dir:PATH, the embedded default and any shared mount) or a directory on a
 * Gluster volume reached through libgfapi (gluster://server[,server...]/VOLUME[/dir]).
 *
 * Layout (relative to the store root):
 *   FORMAT               "rmtabfs-store 1\n"; a store with another content is refused
 *   nodes/NODE.log       NODE's ops, appended only by NODE, read by everyone
 *   nodes/NODE.log.N     later segments of that log (N = 1, 2, ...), after compaction
 *   nodes/NODE.owner     locked by the daemon running as NODE for its whole life
 *   snapshots/snap.GEN   the folded table and how far it covers each log (compaction)
 *   compact.lock         held by the one node writing a snapshot
 *
 * The backend is a small file API; every call may block on the network, which is why only
 * the store side process (rmtabfs-store) calls it, never the mount side that serves FUSE.
 *
 * Wake-up hint (watch=, fs/store/store_watch.c): a backend may tell, through a descriptor,
 * that another node may just have written under nodes/ (inotify on dir:, upcalls on
 * Gluster), so the store side's loop reads the logs at once instead of at its next poll.
 * Only a hint: changes can come without one (a lost upcall, a network file system under
 * dir:) and the poll stays; a hint without a change costs one look at the logs.
 */
#ifndef RMTABFS_STORE_H
#define RMTABFS_STORE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFS_STORE_FORMAT      "rmtabfs-store 1\n"
#define RFS_STORE_MAX_SERVERS 8

enum rfs_store_kind {
	RFS_STORE_DIR,
	RFS_STORE_GLUSTER,
};

struct rfs_store_spec {
	enum rfs_store_kind kind;
	char path[PATH_MAX]; /* dir: absolute root; gluster: directory inside the volume */
	char volume[128];
	char servers[RFS_STORE_MAX_SERVERS][256];
	int ports[RFS_STORE_MAX_SERVERS];
	size_t nservers;
};

/* Parses "dir:/abs/path" or "gluster://h1[:port][,h2...]/VOLUME[/dir]". */
int rfs_store_spec_parse(const char *text, struct rfs_store_spec *spec, char *err, size_t errlen);

struct rfs_store;
struct rfs_sfile;
struct rfs_watch;

struct rfs_store_ops {
	const char *scheme;
	/* Reaches the store (may block: bounded by the caller's watchdog, not here). */
	int (*connect)(struct rfs_store *s);
	/* Frees everything; fast = at exit, do not wait for the network (gfapi's fini). */
	void (*disconnect)(struct rfs_store *s, bool fast);
	int (*mkdir)(struct rfs_store *s, const char *rel);
	/* flags: O_RDONLY / O_RDWR, O_CREAT (mode 0644). */
	int (*open)(struct rfs_store *s, const char *rel, int flags, struct rfs_sfile **f);
	void (*close)(struct rfs_sfile *f);
	ssize_t (*pread)(struct rfs_sfile *f, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(struct rfs_sfile *f, const void *buf, size_t len, off_t off);
	int (*fsync)(struct rfs_sfile *f);
	int (*size)(struct rfs_sfile *f, off_t *size);
	int (*truncate)(struct rfs_sfile *f, off_t size);
	/* Exclusive whole-file lock, without waiting, held until close: 0 or -EAGAIN. */
	int (*lock)(struct rfs_sfile *f);
	/* Calls fn for every entry name of a directory except "." and "..". */
	int (*list)(struct rfs_store *s, const char *rel, int (*fn)(void *ctx, const char *name),
		    void *ctx);
	int (*rename)(struct rfs_store *s, const char *from, const char *to);
	/* A second name for a file; -EEXIST if to exists (so exactly one of racing callers wins).
	 */
	int (*link)(struct rfs_store *s, const char *from, const char *to);
	int (*unlink)(struct rfs_store *s, const char *rel);
	/*
	 * Makes the entries of directory rel ("" for the root) durable: after a create,
	 * rename or link that later steps rely on (deleting what a snapshot covers, emptying
	 * the journal).
	 */
	int (*sync_dir)(struct rfs_store *s, const char *rel);
	/*
	 * Optional (NULL: this backend has no hint). Starts, or starts anew, the wake-up hint
	 * for directory rel: sets s->watch (store_watch.c), which the backend signals, from any
	 * thread, when another process may have created or written a file there; changes to
	 * node self's own files (SELF.log, SELF.log.N, SELF.owner) are no hint. Called only
	 * while connected, never blocks on the network; 0 or -errno (the caller tries again
	 * later and polls meanwhile). disconnect stops it.
	 */
	int (*watch)(struct rfs_store *s, const char *rel, const char *self);
};

struct rfs_store {
	const struct rfs_store_ops *ops;
	struct rfs_store_spec spec;
	char logfile[PATH_MAX];	  /* where a backend may log its own library's messages */
	unsigned failed_connects; /* in a row; a backend may try differently after one */
	_Atomic bool *cancel;	  /* set: the daemon stops; a backend's own waits end early */
	void *priv;		  /* the backend's; NULL while not connected */
	/* wake-up hint: wanted (watch=on), whose files are no hint, the running one */
	bool watch_on;
	const char *node;
	struct rfs_watch *watch;
	double watch_tried; /* when it was last started (monotonic s): one try a second */
	bool watch_said;    /* watch=off was logged */
};

/*
 * The replication loop's side of the wake-up hint (fs/store_watch.c); only its thread calls
 * them, never under a lock a FUSE request takes. rfs_store_watch_fd: a descriptor to poll
 * beside the loop's own, readable when another node may have written; -1 while there is none
 * (watch=off, no such backend, not connected, or it could not start: poll(2) skips a negative
 * fd). It starts the hint when needed, and anew once it broke, at most once a second.
 * rfs_store_watch_clear: after the descriptor was readable.
 */
int rfs_store_watch_fd(struct rfs_store *s);
void rfs_store_watch_clear(struct rfs_store *s);

/* Picks the backend for spec; -ENOTSUP if it was not built in. */
int rfs_store_init(struct rfs_store *s, const struct rfs_store_spec *spec);
void rfs_store_describe(const struct rfs_store_spec *spec, char *buf, size_t len);
/* The stop's line about this node's ops: how many the store does not confirm yet (self, the
 * node's last sequence, above shipped), or that it has them all. Both processes say it. */
void rfs_store_report_left(const char *url, uint64_t self, uint64_t shipped);

extern const struct rfs_store_ops rfs_store_dir_ops;
extern const struct rfs_store_ops rfs_store_gluster_ops;

/* Helpers over the backend. */
int rfs_store_read_small(struct rfs_store *s, const char *rel, char *buf, size_t cap, size_t *len);
/* Writes a small file atomically and durably (tmp, fsync, rename, sync of its directory). */
int rfs_store_write_small(struct rfs_store *s, const char *rel, const char *data, size_t len);

#endif
