/*
 * Generation inodes of a view (DESIGN §10): the read path through the kernel's page cache.
 *
 * A committed generation of a view never changes, so a LOOKUP of the view's name hands out a
 * FUSE node of its own for it, as a file replaced by rename would be: the kernel may keep its
 * pages and attributes. Such an inode is only ever opened read-only, and only while it is the
 * view's newest generation (or by handles that already read it): every handle reading through
 * its pages shows exactly its bytes. Anything else that reaches one (a writable or truncating
 * open, a truncate, a read-only open after a newer generation came) is answered ESTALE: the
 * kernel retries such a path operation once through a fresh LOOKUP, and that thread's
 * LOOKUPs of the view then hand out a private inode made for it alone, so the retry cannot
 * fail the same way. A writer therefore never shares a kernel inode with a reader of the
 * cache (a direct write would move the inode's i_size under it), and a session that reads
 * before it writes in place (rpc.mountd's "r+") reads through the pages of its private
 * inode, which nobody else opens while it is open.
 */
#ifndef RMTABFS_VGEN_H
#define RMTABFS_VGEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rmtabfs/rfs.h>

/* How long a redirected thread's LOOKUPs of the view hand out its private inode (ns). */
#define RFS_VGEN_REDIRECT_NS (5 * 1000000000LL)
/* Redirected threads remembered at once (the oldest is dropped beyond). */
#define RFS_VGEN_PENDING 16
/* The kernel may keep a generation's attributes this long: they never change (s). */
#define RFS_VGEN_ATTR_TIMEOUT 3600.0

struct rfs_vgen {
	struct rfs_inode inode; /* first: its node id is rfs_ho_id(&inode); inode.view is the
				   view, inode.nlookup is under rfs_vgens.lock */
	struct rfs_vgen *next, *prev;
	uint64_t gen; /* table generation of its bytes; 0: private or handed over */
	size_t size;  /* their size and mtime: fixed for its life (a generation inode) */
	int64_t mtime;
	bool stale;   /* no new open through its pages: a newer generation exists, or private */
	bool dropped; /* its pages were dropped since it went stale (rfs_vgen_stale) */
	pid_t owner;  /* private: made for this thread's retry, opened by it alone */
	bool cached_writer; /* private: its one open handle reads and writes through its pages */
	_Atomic size_t
		writer_len; /* private: what its owner's handle shows (GETATTR without one) */
	unsigned opens;	    /* open handles */
};

struct rfs_vgens {
	pthread_mutex_t lock;  /* a leaf but for the handover's map lock (a leaf) */
	struct rfs_vgen *list; /* every generation or private inode the kernel holds or a handle
				  reads */
	struct rfs_vgen *cur;  /* the newest, handed out while it shows the table's generation */
	size_t count;
	uint64_t made, redirected, cached; /* status: made, opens redirected, opens cached */
	struct {
		pid_t tid;
		int64_t until;
		struct rfs_vgen *priv; /* its private inode, once a LOOKUP made it */
	} pending[RFS_VGEN_PENDING];
};

void rfs_vgens_init(struct rfs_vgens *g);
/* Frees every generation inode (after the unmount: the kernel holds none any more). */
void rfs_vgens_destroy(struct rfs_vgens *g);
/* The generation inode behind a FUSE inode, or NULL (a fixed view inode, a file). */
struct rfs_vgen *rfs_vgen_of(struct rfs_inode *inode);

/*
 * The inode for generation gen of view v with (size, mtime), one lookup reference taken:
 * the current one if it shows gen, else a new current one. NULL on ENOMEM.
 */
struct rfs_vgen *rfs_vgen_get(struct rfs_vgens *g, struct rfs_view *v, uint64_t gen, size_t size,
			      int64_t mtime);
/* The kernel dropped n references; it goes once no handle reads it either. */
void rfs_vgen_forget(struct rfs_vgens *g, struct rfs_vgen *vg, uint64_t n);
/*
 * An open (open(2) flags) by thread tid of vg whose snapshot is of generation gen. 0 (then
 * rfs_vgen_close at its release) with *cache telling whether it goes through the pages, or
 * -ESTALE (tid's retry is then awaited: rfs_vgen_private). A generation inode lets in
 * read-only opens while it shows gen, through its pages. A private inode lets in any open
 * of its thread; the first, if it writes in place (neither O_APPEND nor O_TRUNC), goes
 * through the pages and is then its only open.
 */
int rfs_vgen_open(struct rfs_vgens *g, struct rfs_vgen *vg, uint64_t gen, int flags, pid_t tid,
		  bool *cache);
void rfs_vgen_close(struct rfs_vgens *g, struct rfs_vgen *vg, bool cached);
/* A handed-over handle reads vg (restore only). */
void rfs_vgen_opened(struct rfs_vgens *g, struct rfs_vgen *vg);

/*
 * A LOOKUP of v by thread tid while its retry is awaited: its private inode (made on the
 * first call, with the view's current size and mtime), one lookup reference taken; NULL
 * when no retry of tid is awaited. *nomem is set when one is but there was no memory.
 */
struct rfs_vgen *rfs_vgen_private(struct rfs_vgens *g, struct rfs_view *v, pid_t tid, size_t size,
				  int64_t mtime, bool *nomem);
/* tid was answered ESTALE without an open (truncate(2)): await its retry. */
void rfs_vgen_redirect(struct rfs_vgens *g, pid_t tid);
/* tid opened the fixed inode: its retry came. */
void rfs_vgen_arrived(struct rfs_vgens *g, pid_t tid);

/*
 * Node ids (at most max) of stale generation inodes whose pages were not dropped yet, for
 * the notifier: no new open reads them. One may be gone by the time it is used (the kernel
 * then knows no such node, or an address reused costs a needless re-read, no more).
 */
size_t rfs_vgen_stale(struct rfs_vgens *g, fuse_ino_t *out, size_t max);
/* Generation inodes held now, made so far, opens redirected to the fixed inode, cached. */
void rfs_vgen_counts(struct rfs_vgens *g, size_t *held, uint64_t *made, uint64_t *redirected,
		     uint64_t *cached);

/* The handover of a planned restart (FUSE paused: nothing changes meanwhile). */
struct rfs_ho_out;
struct rfs_ho_in;
/* The counters, then every inode: node id, lookups, size, mtime, owner, its writer. */
int rfs_vgens_save(struct rfs_vgens *g, struct rfs_ho_out *o);
/*
 * Into g (empty) for view v, each under its old node id and stale (the new image's
 * generation numbers are its own: no new open may share the pages the kernel keeps).
 * 0 or -errno.
 */
int rfs_vgens_restore(struct rfs_vgens *g, struct rfs_view *v, struct rfs_ho_in *in);

#endif
