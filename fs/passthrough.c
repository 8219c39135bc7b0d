/*
 * Passthrough of the directory underneath the mount (everything but the views), after
 * libfuse's passthrough_ll.c. Directories (opendir, readdir) are pt_dir.c's, extended
 * attributes pt_xattr.c's.
 *
 * Invariants:
 *  - only *at() calls relative to O_PATH fds opened before the mount, or reopens through
 *    /proc/self/fd: no path under the mount point is ever used (it would re-enter us);
 *  - every call that changes something underneath runs with the caller's identity
 *    (caller.c: fsuid, fsgid, groups, umask), so the file system underneath decides owner,
 *    group, set-gid inheritance, mode bits to clear and permissions exactly as it would for
 *    the caller without the mount; lookups, getattr and reads run as the daemon (the
 *    kernel checked the caller's permission already);
 *  - every handler replies exactly once: fuse_reply_err(req, -rc) on the error path.
 * Locks: inodes.lock inside rfs_inode_lookup/forget; the per-inode lock through the vf_file_*
 * hooks. None is held across a reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <rmtabfs/caller.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/view.h>

static void reply_entry(fuse_req_t req, struct rfs *fs, struct rfs_inode *parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = rfs_inode_lookup(fs, parent, name, &e);

	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		rfs_inode_forget(fs, rfs_inode_of(fs, e.ino), 1); /* interrupted */
}

void pt_lookup(fuse_req_t req, struct rfs_inode *parent, const char *name)
{
	struct rfs *fs = rfs_from_req(req);
	struct fuse_entry_param e;
	int rc = rfs_inode_lookup(fs, parent, name, &e);

	if (rc == -ENOENT) {
		/* A negative entry, cached like a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (parent == &fs->root) {
		struct rfs_inode *inode = rfs_inode_of(fs, e.ino);

		inode->top = true;
		/* A file that may be renamed onto a view: see its rename at once. */
		if (strncmp(name, "rmtab", 5) == 0 || fs->nviews > 1)
			e.entry_timeout = 0;
	}
	if (fuse_reply_entry(req, &e) == -ENOENT)
		rfs_inode_forget(fs, rfs_inode_of(fs, e.ino), 1);
}

void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct rfs *fs = rfs_from_req(req);

	rfs_inode_forget(fs, rfs_inode_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

void pt_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct rfs *fs = rfs_from_req(req);
	size_t i;

	for (i = 0; i < count; i++)
		rfs_inode_forget(fs, rfs_inode_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

void pt_getattr(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi)
{
	struct rfs *fs = rfs_from_req(req);
	struct stat st;

	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	rfs_stat_hint(&st);
	fuse_reply_attr(req, &st, fs->attr_timeout);
}

static int set_attrs(struct rfs *fs, struct rfs_inode *inode, int fd, struct stat *attr, int valid);

/*
 * The kernel clears set-uid/set-gid itself before a write, truncate or chown by sending a
 * mode change on the writer's behalf (libfuse 3.14 does not pass FUSE_HANDLE_KILLPRIV on
 * to the kernel, whatever the daemon wants). A non-owner may not chmod underneath, so such
 * a change, recognised as "only set-uid/set-gid bits cleared, by someone not the owner"
 * (the kernel lets a non-owner's own chmod through to us never), is made as the daemon.
 */
static bool kernel_kills_priv(fuse_req_t req, struct rfs_inode *inode, const struct stat *attr)
{
	const mode_t priv = S_ISUID | S_ISGID;
	struct stat st;
	mode_t now;

	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	now = st.st_mode & 07777;
	return fuse_req_ctx(req)->uid != st.st_uid && (attr->st_mode & 07777) != now &&
	       ((attr->st_mode & 07777) & ~now) == 0 &&
	       ((now ^ attr->st_mode) & 07777 & ~priv) == 0;
}

void pt_setattr(fuse_req_t req, struct rfs_inode *inode, struct stat *attr, int valid,
		struct fuse_file_info *fi)
{
	struct rfs_handle *h = fi ? rfs_ho_ptr(fi->fh) : NULL;
	int fd = h && h->kind == RFS_H_FILE ? h->fd : -1;
	struct rfs_caller as;
	int rc;

	if ((valid & FUSE_SET_ATTR_MODE) && kernel_kills_priv(req, inode, attr)) {
		rc = set_attrs(rfs_from_req(req), inode, fd, attr, FUSE_SET_ATTR_MODE);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		valid &= ~FUSE_SET_ATTR_MODE;
	}
	rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = set_attrs(rfs_from_req(req), inode, fd, attr, valid);
	rfs_caller_leave(&as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((valid & FUSE_SET_ATTR_SIZE) && inode->top)
		vf_file_written(inode);
	pt_getattr(req, inode, fi);
}

/* One SETATTR underneath, in the order the kernel would apply it; 0 or -errno. */
static int set_attrs(struct rfs *fs, struct rfs_inode *inode, int fd, struct stat *attr, int valid)
{
	char procname[32];
	int rc = 0;

	snprintf(procname, sizeof(procname), "%d", inode->fd);
	if (valid & FUSE_SET_ATTR_MODE) {
		if (fd >= 0)
			rc = fchmod(fd, attr->st_mode);
		else
			rc = fchmodat(fs->proc_self_fd, procname, attr->st_mode, 0);
		if (rc < 0)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(inode->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			goto fail;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (fd >= 0) {
			rc = ftruncate(fd, attr->st_size);
		} else {
			int wfd = rfs_inode_reopen(fs, inode, O_WRONLY);

			if (wfd < 0)
				return wfd;
			rc = ftruncate(wfd, attr->st_size);
			if (rc < 0)
				rc = -errno;
			close(wfd);
			if (rc)
				return rc;
		}
		if (rc < 0)
			goto fail;
	}
	if (!(valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
		       FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		/* chown(f, -1, -1): nothing to change but the ctime, as underneath. */
		if (fchownat(inode->fd, "", (uid_t)-1, (gid_t)-1,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (fd >= 0)
			rc = futimens(fd, tv);
		else if (inode->type == S_IFLNK)
			rc = utimensat(inode->fd, "", tv, AT_EMPTY_PATH);
		else
			rc = utimensat(fs->proc_self_fd, procname, tv, 0);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	return -errno;
}

void pt_readlink(fuse_req_t req, struct rfs_inode *inode)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(inode->fd, "", buf, sizeof(buf));

	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if ((size_t)n == sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void make_node(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode,
		      dev_t rdev, const char *link)
{
	struct rfs *fs = rfs_from_req(req);
	struct rfs_caller as;
	int rc;

	rc = rfs_caller_enter(req, RFS_AS_ALL, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (S_ISDIR(mode))
		rc = mkdirat(parent->fd, name, mode & 07777);
	else if (S_ISLNK(mode))
		rc = symlinkat(link, parent->fd, name);
	else
		rc = mknodat(parent->fd, name, mode, rdev);
	rc = rc < 0 ? errno : 0;
	rfs_caller_leave(&as);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	reply_entry(req, fs, parent, name);
}

void pt_mknod(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

void pt_mkdir(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

void pt_symlink(fuse_req_t req, const char *link, struct rfs_inode *parent, const char *name)
{
	make_node(req, parent, name, S_IFLNK, 0, link);
}

void pt_link(fuse_req_t req, struct rfs_inode *inode, struct rfs_inode *parent, const char *name)
{
	struct rfs *fs = rfs_from_req(req);
	struct rfs_caller as;
	char procname[32];
	int rc;

	snprintf(procname, sizeof(procname), "%d", inode->fd);
	rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = linkat(fs->proc_self_fd, procname, parent->fd, name, AT_SYMLINK_FOLLOW) < 0 ? errno
											 : 0;
	rfs_caller_leave(&as);
	if (rc)
		fuse_reply_err(req, rc);
	else
		reply_entry(req, fs, parent, name);
}

/* unlinkat underneath as the caller (sticky directories, permissions); 0 or errno. */
static int unlink_as(fuse_req_t req, struct rfs_inode *parent, const char *name, int flags)
{
	struct rfs_caller as;
	int rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);

	if (rc)
		return -rc;
	rc = unlinkat(parent->fd, name, flags) < 0 ? errno : 0;
	rfs_caller_leave(&as);
	return rc;
}

void pt_unlink(fuse_req_t req, struct rfs_inode *parent, const char *name)
{
	fuse_reply_err(req, unlink_as(req, parent, name, 0));
}

void pt_rmdir(fuse_req_t req, struct rfs_inode *parent, const char *name)
{
	fuse_reply_err(req, unlink_as(req, parent, name, AT_REMOVEDIR));
}

void pt_rename(fuse_req_t req, struct rfs_inode *parent, const char *name,
	       struct rfs_inode *newparent, const char *newname, unsigned int flags)
{
	struct rfs_caller as;
	int rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = renameat2(parent->fd, name, newparent->fd, newname, flags) < 0 ? errno : 0;
	rfs_caller_leave(&as);
	fuse_reply_err(req, rc);
}

static struct rfs_handle *file_handle(struct rfs_inode *inode, int fd, int flags)
{
	struct rfs_handle *h = rfs_ho_calloc(sizeof(*h));

	if (!h)
		return NULL;
	h->kind = RFS_H_FILE;
	h->inode = inode;
	h->fd = fd;
	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	rfs_ho_track(h);
	return h;
}

int pt_create(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode,
	      struct fuse_file_info *fi)
{
	struct rfs *fs = rfs_from_req(req);
	struct fuse_entry_param e;
	struct rfs_handle *h;
	struct rfs_inode *inode;
	struct rfs_caller as;
	int fd, rc;

	rc = rfs_caller_enter(req, RFS_AS_ALL, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return rc;
	}
	fd = openat(parent->fd, name, (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode);
	rc = fd < 0 ? -errno : 0;
	rfs_caller_leave(&as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return rc;
	}
	rc = rfs_inode_lookup(fs, parent, name, &e);
	if (rc) {
		close(fd);
		fuse_reply_err(req, -rc);
		return rc;
	}
	inode = rfs_inode_of(fs, e.ino);
	h = file_handle(inode, fd, fi->flags);
	if (!h) {
		close(fd);
		rfs_inode_forget(fs, inode, 1);
		fuse_reply_err(req, ENOMEM);
		return -ENOMEM;
	}
	if (parent == &fs->root) {
		inode->top = true;
		e.entry_timeout = 0;
		vf_file_opened(fs, inode, h->writable, true);
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* The caller was interrupted: no release will come. */
		if (inode->top)
			vf_file_released(fs, h);
		close(fd);
		rfs_ho_untrack(h);
		free(h);
		rfs_inode_forget(fs, inode, 1);
		return -EINTR;
	}
	return 0;
}

void pt_open(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi)
{
	struct rfs *fs = rfs_from_req(req);
	struct rfs_handle *h;
	struct rfs_caller as;
	int fd = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);

	if (fd == 0) {
		/* As the caller: O_TRUNC clears set-uid/set-gid as it would underneath. */
		fd = rfs_inode_reopen(fs, inode, fi->flags);
		rfs_caller_leave(&as);
	}
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	h = file_handle(inode, fd, fi->flags);
	if (!h) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (inode->top && inode->type == S_IFREG)
		vf_file_opened(fs, inode, h->writable, (fi->flags & O_TRUNC) != 0);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		if (inode->top && inode->type == S_IFREG)
			vf_file_released(fs, h);
		close(fd);
		rfs_ho_untrack(h);
		free(h);
	}
}

void pt_read(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = h->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/*
 * Whom a write or fallocate runs as: the writer's ids (without CAP_FSETID the file system
 * clears set-uid/set-gid); its groups too when the file is set-gid without group execute,
 * which is cleared only for a writer outside the file's group (reading them costs a /proc
 * read, so only then).
 */
static int writer_identity(fuse_req_t req, int fd)
{
	struct stat st;

	if (rfs_caller_is_root(req) || fstat(fd, &st) < 0 ||
	    (st.st_mode & (S_ISGID | S_IXGRP)) != S_ISGID)
		return RFS_AS_IDS;
	return RFS_AS_IDS | RFS_AS_GROUPS;
}

void pt_write_buf(fuse_req_t req, struct rfs_handle *h, struct fuse_bufvec *in, off_t off)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	struct rfs_caller as;
	ssize_t n;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = h->fd;
	out.buf[0].pos = off;
	/* As the writer (no CAP_FSETID): the write clears set-uid/set-gid underneath. */
	n = rfs_caller_enter(req, writer_identity(req, h->fd), &as);
	if (n == 0) {
		n = fuse_buf_copy(&out, in, 0);
		rfs_caller_leave(&as);
	}
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	if (h->inode->top)
		vf_file_written(h->inode);
	fuse_reply_write(req, (size_t)n);
}

void pt_flush(fuse_req_t req, struct rfs_handle *h)
{
	struct rfs *fs = rfs_from_req(req);
	int fd, rc = 0;

	/* close() of a duplicate: what the caller's close would have done underneath. */
	fd = dup(h->fd);
	if (fd < 0 || close(fd) < 0)
		rc = -errno;
	if (!rc && h->inode->top)
		rc = vf_file_flush(fs, h, req);
	fuse_reply_err(req, -rc);
}

void pt_release(fuse_req_t req, struct rfs_handle *h)
{
	struct rfs *fs = rfs_from_req(req);

	if (h->inode->top && h->inode->type == S_IFREG)
		vf_file_released(fs, h);
	close(h->fd);
	rfs_ho_untrack(h);
	free(h);
	fuse_reply_err(req, 0);
}

void pt_fsync(fuse_req_t req, struct rfs_handle *h, int datasync)
{
	struct rfs *fs = rfs_from_req(req);
	int rc = datasync ? fdatasync(h->fd) : fsync(h->fd);

	rc = rc < 0 ? -errno : 0;
	if (!rc && h->inode->top)
		rc = vf_file_flush(fs, h, req);
	fuse_reply_err(req, -rc);
}

void pt_fallocate(fuse_req_t req, struct rfs_handle *h, int mode, off_t offset, off_t length)
{
	struct rfs_caller as;
	int rc = -rfs_caller_enter(req, writer_identity(req, h->fd), &as);

	if (!rc) {
		rc = fallocate(h->fd, mode, offset, length) < 0 ? errno : 0;
		rfs_caller_leave(&as);
	}
	if (!rc && h->inode->top)
		vf_file_written(h->inode);
	fuse_reply_err(req, rc);
}

void pt_statfs(fuse_req_t req, struct rfs_inode *inode)
{
	struct statvfs sv;

	if (fstatvfs(inode->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

void pt_lseek(fuse_req_t req, struct rfs_handle *h, off_t off, int whence)
{
	off_t r = lseek(h->fd, off, whence); /* SEEK_DATA/SEEK_HOLE: holes as underneath */

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

int pt_read_whole(int fd, struct rfs_buf *out)
{
	struct stat st;
	off_t off = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > RFS_VIEW_MAX_BYTES)
		return -EFBIG;
	for (;;) {
		ssize_t n;
		int rc = rfs_buf_reserve(out, 65536);

		if (rc)
			return rc;
		n = pread(fd, out->data + out->len, 65536, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		off += n;
		if (out->len > RFS_VIEW_MAX_BYTES)
			return -EFBIG;
	}
	if (out->data)
		out->data[out->len] = '\0';
	return 0;
}

/* The handover: a file handle's descriptor, or a directory handle's listing. */
int pt_handle_save(struct rfs *fs, struct rfs_handle *h, struct rfs_ho_out *o)
{
	size_t i, v;

	rfs_ho_put_u64(o, h->writable);
	rfs_ho_put_fd(o, h->kind == RFS_H_FILE ? h->fd : -1);
	if (h->kind != RFS_H_DIR)
		return o->err;
	pthread_mutex_lock(&h->dir_lock);
	rfs_ho_put_u64(o, h->nentries);
	for (i = 0; i < h->nentries; i++) {
		for (v = 0; v < fs->nviews && fs->views[v] != h->entries[i].view; v++)
			;
		rfs_ho_put_str(o, h->entries[i].name);
		rfs_ho_put_u64(o, h->entries[i].ino);
		rfs_ho_put_u64(o, h->entries[i].type);
		rfs_ho_put_u64(o, h->entries[i].view ? v : UINT64_MAX);
	}
	pthread_mutex_unlock(&h->dir_lock);
	return o->err;
}

struct rfs_handle *pt_handle_restore(struct rfs *fs, enum rfs_handle_kind kind,
				     struct rfs_ho_in *in)
{
	struct rfs_handle *h = calloc(1, sizeof(*h));
	uint64_t n, i, v;

	if (!h) {
		in->err = -ENOMEM;
		return NULL;
	}
	h->kind = kind;
	h->writable = rfs_ho_get_u64(in) != 0;
	h->fd = rfs_ho_get_fd(in);
	if (kind == RFS_H_DIR) {
		pthread_mutex_init(&h->dir_lock, NULL);
		n = rfs_ho_get_u64(in);
		h->entries = n && !in->err && n < in->len ? calloc(n, sizeof(*h->entries)) : NULL;
		if (n && !h->entries)
			in->err = in->err ? in->err : -ENOMEM;
		for (i = 0; i < n && !in->err; i++, h->nentries++) {
			h->entries[i].name = rfs_ho_get_str(in);
			h->entries[i].ino = (ino_t)rfs_ho_get_u64(in);
			h->entries[i].type = (unsigned char)rfs_ho_get_u64(in);
			v = rfs_ho_get_u64(in);
			h->entries[i].view = v < fs->nviews ? fs->views[v] : NULL;
			if (!h->entries[i].name)
				in->err = -EINVAL;
		}
	}
	if (in->err) {
		if (h->fd >= 0)
			close(h->fd);
		pt_free_listing(h);
		free(h);
		return NULL;
	}
	return h;
}
