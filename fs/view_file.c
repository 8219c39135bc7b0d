/*
 * Files that may become a view (see view.c and include/rmtabfs/view.h): a top-level file
 * renamed onto rmtab or the gNFS view (rpc.mountd's rmtab.tmp, gNFS's .tmp, an
 * administrator's cp + mv) is committed with a base: the view as its writer saw it.
 *
 * Invariants: a file's base is taken at its first writable open (the oldest snapshot an
 * open view handle shows, DESIGN deviation 2) and dropped at its last close when its first
 * line no view format accepts; a rename onto a view commits the file's content from that
 * base, at once or, while the file still has writers, at their flush (or the last one's
 * release, which the kernel sends late, unless a flush after the rename offered that content
 * and was refused: its writer was told); a refused content changes nothing and the rename
 * fails with EINVAL.
 * Lock order: rfs_inode.lock, then the view's locks as in view.c; none is held across a
 * reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/view.h>

#include "view_int.h"

void vf_file_opened(struct rfs *fs, struct rfs_inode *inode, bool writable, bool truncated)
{
	if (!writable)
		return;
	pthread_mutex_lock(&inode->lock);
	inode->writers++;
	/*
	 * The base of a file that may replace a view: the view as the writer saw it. A writer
	 * reads the view before or after creating its file (mountd after, gNFS before), so
	 * take the oldest content an open view handle shows: an older base only re-sets keys
	 * to the values the writer read.
	 */
	if (!inode->base.snap && !inode->base.text) {
		struct rfs_snap *s = rfs_view_oldest_base(fs);

		if (s)
			rfs_base_set_snap(&inode->base, s);
		rfs_snap_put(s);
	}
	if (truncated) {
		inode->dirty = true;
		inode->refused = false;
	}
	pthread_mutex_unlock(&inode->lock);
}

void vf_file_written(struct rfs_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	inode->dirty = true;
	inode->refused = false;
	pthread_mutex_unlock(&inode->lock);
}

/* Reads an underlying file whole and commits it onto view v. inode->lock held. */
static int commit_file(struct rfs *fs, struct rfs_inode *inode, struct rfs_view *v, fuse_req_t req)
{
	struct rfs_buf text = RFS_BUF_INIT;
	char who[160], what[300];
	int fd, rc;

	fd = rfs_inode_reopen(fs, inode, O_RDONLY);
	if (fd < 0)
		return fd;
	rc = pt_read_whole(fd, &text);
	close(fd);
	if (rc)
		goto out;
	if (!inode->base.snap && !inode->base.text) {
		struct rfs_snap *s = rfs_core_snap(&fs->core);

		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		rfs_base_set_snap(&inode->base, s);
		rfs_snap_put(s);
	}
	snprintf(what, sizeof(what), "%s (file renamed onto it)", v->name);
	rfs_req_who(req, what, who, sizeof(who));
	rc = rfs_view_commit_text(v, &inode->base, text.data ? text.data : "", text.len, who);
	if (rc == 0)
		inode->dirty = false;
out:
	rfs_buf_free(&text);
	return rc;
}

int vf_file_flush(struct rfs *fs, struct rfs_handle *h, fuse_req_t req)
{
	struct rfs_inode *inode = h->inode;
	int rc = 0;

	pthread_mutex_lock(&inode->lock);
	if (inode->pending && inode->dirty) {
		rc = commit_file(fs, inode, inode->pending, req);
		inode->refused = rc != 0;
	}
	pthread_mutex_unlock(&inode->lock);
	return rc;
}

/*
 * Could the file's content still be committed onto a view (so its base is worth keeping)?
 * Reads its first line only: a file whose first line no view accepts would be refused
 * whole at a rename (etab, statd's state, xtab, ...). Errors answer "maybe".
 */
static bool may_become_view(struct rfs *fs, struct rfs_inode *inode)
{
	char head[2048];
	struct stat st;
	ssize_t n;
	bool whole, ok;
	int fd = rfs_inode_reopen(fs, inode, O_RDONLY);

	if (fd < 0)
		return true;
	if (fstat(fd, &st) < 0 || (n = pread(fd, head, sizeof(head), 0)) < 0) {
		close(fd);
		return true;
	}
	close(fd);
	if ((uint64_t)st.st_size > RFS_VIEW_MAX_BYTES)
		return false;
	whole = (uint64_t)n >= (uint64_t)st.st_size;
	ok = rt_head_ok(head, (size_t)n, whole);
	if (!ok && fs->nviews > 1)
		ok = gn_head_ok(head, (size_t)n, whole);
	return ok;
}

void vf_file_released(struct rfs *fs, struct rfs_handle *h)
{
	struct rfs_inode *inode = h->inode;

	if (!h->writable)
		return;
	pthread_mutex_lock(&inode->lock);
	if (inode->writers)
		inode->writers--;
	/*
	 * The kernel sends RELEASE after close() has returned: a rename between a writer's
	 * last FLUSH and its RELEASE (sed -i: close, then rename, on a loaded machine) found it
	 * still listed and waited for a flush that had come already. Its content is whole:
	 * committed now (a refusal is logged; the rename has returned). Not a content a FLUSH
	 * after the rename was refused: its writer was told (rpc.mountd then answered the
	 * client with an error), and committing it once the cause is gone (a full disk)
	 * would apply an UMNT nobody acknowledged.
	 */
	if (!inode->writers && inode->pending && inode->dirty && !inode->refused)
		commit_file(fs, inode, inode->pending, NULL);
	/*
	 * A file never written (a lock file) keeps no base, nor one written with content no
	 * view accepts: the base pins a whole rendered snapshot until the kernel forgets the
	 * inode. A file that may still be renamed onto a view (sed -i's temporary file, a
	 * copy about to be moved over rmtab) keeps it. A later writer takes a new one.
	 */
	if (!inode->writers && !inode->pending &&
	    (!inode->dirty ||
	     ((inode->base.snap || inode->base.text) && !may_become_view(fs, inode))))
		rfs_base_clear(&inode->base);
	pthread_mutex_unlock(&inode->lock);
}

static void notify_entry(struct rfs *fs, const char *name)
{
	struct rfs_notify *n = fs->notify;

	if (n)
		rfs_notify_entry(n, FUSE_ROOT_ID, name);
}

int vf_rename_onto(fuse_req_t req, struct rfs_inode *parent, const char *name, struct rfs_view *v,
		   unsigned int flags)
{
	struct rfs *fs = v->fs;
	struct fuse_entry_param e;
	struct rfs_inode *inode;
	char who[128];
	int rc;

	rfs_req_who(req, v->name, who, sizeof(who));
	if (flags & RENAME_EXCHANGE) {
		rfs_info("%s: refused: a view cannot be exchanged", who);
		fuse_reply_err(req, EINVAL);
		return -EINVAL;
	}
	if (flags & RENAME_NOREPLACE) {
		fuse_reply_err(req, EEXIST);
		return -EEXIST;
	}
	rc = rfs_inode_lookup(fs, parent, name, &e);
	if (rc) {
		fuse_reply_err(req, -rc);
		return rc;
	}
	inode = rfs_inode_of(fs, e.ino);
	if (!S_ISREG(e.attr.st_mode)) {
		rc = S_ISDIR(e.attr.st_mode) ? -ENOTDIR : -EINVAL;
		rfs_err("%s: refused: only a regular file can replace a view, '%s' is not one", who,
			name);
		goto out;
	}
	pthread_mutex_lock(&inode->lock);
	if (inode->writers) {
		/*
		 * rpc.mountd renames rmtab.tmp before it writes it: commit at the writers'
		 * flush, never the empty file now.
		 */
		inode->pending = v;
	} else {
		rc = commit_file(fs, inode, v, req);
		if (rc == 0)
			inode->pending = v; /* a later writer (unusual) commits again */
	}
	if (rc == 0) {
		if (unlinkat(parent->fd, name, 0) < 0 && errno != ENOENT)
			rfs_warn("%s: cannot remove '%s' underneath: %s", who, name,
				 strerror(errno));
		inode->alias = v;
	}
	pthread_mutex_unlock(&inode->lock);
out:
	rfs_inode_forget(fs, inode, 1);
	fuse_reply_err(req, -rc);
	if (rc == 0)
		notify_entry(fs, v->name);
	return rc;
}
