/*
 * What view.c, view_file.c and view_handover.c share: an open view handle and the two
 * commits of view content. Private to those files.
 */
#ifndef RMTABFS_VIEW_INT_H
#define RMTABFS_VIEW_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <rmtabfs/view.h>

struct rfs_vhandle {
	struct rfs_vhandle *next, *prev; /* the view's open handles */
	struct rfs_view *view;
	pthread_mutex_t lock;
	struct rfs_snap *snap; /* what the handle shows while it has not written */
	struct rfs_buf buf;    /* its own content once written */
	bool own;
	bool dirty; /* written since the last commit */
	bool append;
	bool refused; /* a write was refused: the whole session is, nothing commits */
	struct rfs_base base;
	bool shows_snap; /* base is still snap (nothing committed); under the view's lock */
	pid_t tid; /* the thread that opened it; 0: not known (handed over by an older image) */
	/* The generation inode it reads through (its snapshot is that generation), or NULL:
	 * the view's fixed inode, direct I/O. */
	struct rfs_vgen *vg;
	bool cached;	 /* it reads through vg's pages */
	uint64_t ho_ino; /* restore only: the node id it was opened on in the old image */
};

/* Commits text onto v from base (rfs_core_commit); base is then the text. 0 or -errno. */
int rfs_view_commit_text(struct rfs_view *v, struct rfs_base *base, const char *text, size_t len,
			 const char *who);
/* The oldest snapshot an open view handle shows (the base of a file that may replace a
 * view), else the current one; a new reference. */
struct rfs_snap *rfs_view_oldest_base(struct rfs *fs);

#endif
