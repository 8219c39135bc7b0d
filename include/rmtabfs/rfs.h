/*
 * The daemon's shared state: one struct rfs per mount, reachable from every FUSE request
 * through fuse_req_userdata(), and the inode and file-handle types of the FUSE layer.
 */
#ifndef RMTABFS_RFS_H
#define RMTABFS_RFS_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <rmtabfs/compat.h>
#include <rmtabfs/core.h>
#include <rmtabfs/options.h>

struct rfs_view;
struct rfs_repl;
struct rfs_notify;
struct rfs_ctl;
struct rfs_stages;

/*
 * A FUSE inode. Passed-through files and directories hold an O_PATH fd of the object
 * underneath and are keyed by its (dev, ino); the views are static inodes without fd.
 */
struct rfs_inode {
	struct rfs_inode *hnext;
	struct rfs_view *view;	/* this inode is a view */
	struct rfs_view *alias; /* a file renamed onto a view: the name now shows the view */
	int fd;			/* O_PATH, -1 for a view */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	/*
	 * Looked up in the top directory (may be renamed onto a view). Set by any lookup
	 * without a lock, read by every handler of the inode: atomic.
	 */
	_Atomic bool top;
	uint64_t nlookup; /* kernel references; the inode goes at 0 (views never go) */

	/*
	 * Write-session state of a regular file in the top directory, which may be renamed
	 * onto a view (mountd's rmtab.tmp, gNFS's NAME.tmp, sed -i's temporary file).
	 * Protected by lock.
	 */
	pthread_mutex_t lock;
	struct rfs_base base;	  /* the view content the writer started from; dropped at the
				     last release when no view accepts the content */
	struct rfs_view *pending; /* renamed onto this view: commit at the writers' flush */
	unsigned writers;	  /* open handles that may write */
	bool dirty;		  /* written since the base was taken or last committed */
	bool refused;		  /* a FLUSH offered this content to pending and it was
				     refused: the writer's close said so, so its RELEASE does
				     not commit it after all (ENOSPC gone by then) */
};

enum rfs_handle_kind {
	RFS_H_FILE,
	RFS_H_DIR,
	RFS_H_VIEW,
};

struct rfs_vhandle;

struct rfs_dirent {
	ino_t ino;
	unsigned char type; /* DT_* */
	char *name;
	struct rfs_view *view; /* a view shown in the top directory */
};

/* fi->fh of every open file or directory. */
struct rfs_handle {
	enum rfs_handle_kind kind;
	struct rfs_inode *inode;
	int fd;	       /* RFS_H_FILE: the open file underneath */
	bool writable; /* RFS_H_FILE: opened for writing */
	/* RFS_H_DIR: the listing, read at offset 0; d_off of entry i is i + 1 */
	struct rfs_dirent *entries;
	size_t nentries;
	pthread_mutex_t dir_lock;
	/* RFS_H_VIEW */
	struct rfs_vhandle *vh;
};

struct rfs_inodes {
	pthread_mutex_t lock;
	struct rfs_inode **buckets;
	size_t nbuckets;
	size_t count;
};

struct rfs {
	struct rfs_options *opts;
	struct rfs_core core;
	struct rfs_repl *repl;
	/*
	 * Published after the mount, while the replication thread may already call on_change:
	 * atomic, so a thread that sees the pointer sees the notifier initialised.
	 */
	struct rfs_notify *_Atomic notify;
	struct rfs_ctl *ctl;
	struct fuse_session *se;
	int proc_self_fd; /* /proc/self/fd, to reopen O_PATH fds for I/O */
	struct rfs_inode root;
	struct rfs_inodes inodes;
	struct rfs_view *views[2]; /* rmtab, then the gNFS view if configured */
	size_t nviews;
	struct rfs_stages *stages;
	double entry_timeout;
	double attr_timeout;
};

static inline struct rfs *rfs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * The st_blksize every regular file reports (views and passthrough files alike): stdio and
 * cp size their buffers by it, and on a FUSE mount each buffer flush or refill is a round
 * trip (glibc's stdio takes st_blksize up to 8 KiB: rpc.mountd rewriting a 200 KB rmtab.tmp
 * sends 50 WRITEs at 4 KiB, 25 at 8 KiB; cp reads and writes 128 KiB at a time).
 */
#define RFS_BLKSIZE (128 << 10)

static inline void rfs_stat_hint(struct stat *st)
{
	if (S_ISREG(st->st_mode) && st->st_blksize < RFS_BLKSIZE)
		st->st_blksize = RFS_BLKSIZE;
}

/* inode.c */
int rfs_inodes_init(struct rfs *fs, int root_fd);
void rfs_inodes_destroy(struct rfs *fs);
struct rfs_inode *rfs_inode_of(struct rfs *fs, fuse_ino_t ino);
/* Looks name up under parent (passed through); fills e with nlookup taken. */
int rfs_inode_lookup(struct rfs *fs, struct rfs_inode *parent, const char *name,
		     struct fuse_entry_param *e);
void rfs_inode_forget(struct rfs *fs, struct rfs_inode *inode, uint64_t n);
/* Open handles that may write to the object (dev, ino), 0 if the kernel has no inode for it. */
unsigned rfs_inode_writers(struct rfs *fs, dev_t dev, ino_t ino);
/* Opens an O_PATH inode for I/O through /proc/self/fd. */
int rfs_inode_reopen(struct rfs *fs, struct rfs_inode *inode, int flags);

/* The handover of a planned restart (handover.c): every inode, with its write session. */
struct rfs_ho_out;
struct rfs_ho_in;
int rfs_inodes_save(struct rfs *fs, struct rfs_ho_out *o);
int rfs_inodes_restore(struct rfs *fs, struct rfs_ho_in *in);

/* ops.c: the low-level operations table */
void rfs_fuse_ops(struct fuse_lowlevel_ops *ops);

#endif
