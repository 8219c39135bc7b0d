/*
 * The FUSE low-level operations table: each request goes to the view code when it
 * concerns a view (by name in the top directory, by inode, or by file handle) and to the
 * passthrough code otherwise.
 *
 * Invariants: exactly one reply per request, given by the handler this file calls or
 * here for the few refusals decided here (each with a log line saying why). A file handle
 * decides over an inode: a descriptor opened on a passed-through file keeps working on
 * that file after it was renamed onto a view (rpc.mountd writes rmtab.tmp after its rename).
 * No locks of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include <rmtabfs/caller.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/view.h>

static struct rfs_inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	return rfs_inode_of(rfs_from_req(req), ino);
}

static struct rfs_handle *handle_of(struct fuse_file_info *fi)
{
	return fi ? rfs_ho_ptr(fi->fh) : NULL;
}

static void refuse(fuse_req_t req, struct rfs_view *v, const char *what, int err)
{
	char who[128];

	rfs_req_who(req, v->name, who, sizeof(who));
	rfs_info("%s: refused: %s", who, what);
	fuse_reply_err(req, err);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with open, so ": > rmtab" is one write session. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	/* POSIX and flock locks stay in the kernel, node-local (no lock handlers here). */
	conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	/*
	 * The passthrough creates as the caller with the caller's umask (caller.c), so the
	 * file system underneath applies the umask, or a default ACL instead of it, exactly
	 * once. The kernel enforces ACLs (read through getxattr) on top of the mode bits.
	 */
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	/*
	 * Killing set-uid/set-gid on write, truncate and chown is left to us, and we leave it
	 * to the file system underneath by writing as the caller. Without this the kernel
	 * would send a chmod as the writer, which a non-owner is not allowed to do.
	 */
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV)
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
	rfs_caller_init((conn->want & FUSE_CAP_DONT_MASK) != 0);
	rfs_debug("FUSE capabilities: offered %#x, wanted %#x", conn->capable, conn->want);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_inode *p = inode_of(req, parent);
	struct rfs *fs = rfs_from_req(req);
	struct rfs_view *v = rfs_view_named(fs, p, name);

	if (v)
		vf_lookup(req, v);
	else if ((v = rfs_stage_view(fs, p, name)))
		stage_lookup(req, v);
	else
		pt_lookup(req, p, name);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_inode *inode = inode_of(req, ino);
	struct rfs_handle *h = handle_of(fi);
	struct rfs_view *v = rfs_view_shown(inode);

	if (v && !(h && h->kind == RFS_H_FILE))
		vf_getattr(req, v, inode, h);
	else
		pt_getattr(req, inode, fi);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct rfs_inode *inode = inode_of(req, ino);
	struct rfs_handle *h = handle_of(fi);
	struct rfs_view *v = rfs_view_shown(inode);

	if (v && !(h && h->kind == RFS_H_FILE))
		vf_setattr(req, v, inode, attr, valid, h);
	else
		pt_setattr(req, inode, attr, valid, fi);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	pt_readlink(req, inode_of(req, ino));
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct rfs_inode *p = inode_of(req, parent);

	if (rfs_view_named(rfs_from_req(req), p, name))
		fuse_reply_err(req, EEXIST);
	else
		pt_mknod(req, p, name, mode, rdev);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct rfs_inode *p = inode_of(req, parent);

	if (rfs_view_named(rfs_from_req(req), p, name))
		fuse_reply_err(req, EEXIST);
	else
		pt_mkdir(req, p, name, mode);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct rfs_inode *p = inode_of(req, parent);

	if (rfs_view_named(rfs_from_req(req), p, name))
		fuse_reply_err(req, EEXIST);
	else
		pt_symlink(req, link, p, name);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct rfs_inode *inode = inode_of(req, ino);
	struct rfs_inode *p = inode_of(req, newparent);
	struct rfs_view *v = rfs_view_shown(inode);

	if (rfs_view_named(rfs_from_req(req), p, newname))
		fuse_reply_err(req, EEXIST);
	else if (v)
		refuse(req, v, "a view cannot be hard-linked", EPERM);
	else
		pt_link(req, inode, p, newname);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_inode *p = inode_of(req, parent);
	struct rfs *fs = rfs_from_req(req);
	struct rfs_view *v = rfs_view_named(fs, p, name);
	struct rfs_view *staged = rfs_stage_view(fs, p, name);

	if (staged) {
		stage_unlink(req, staged);
		return;
	}
	/*
	 * Deleting the file must not wipe the cluster's list (a boot script that "clears
	 * rmtab" would clear it on every server). ": > rmtab" or rmtabctl remove do that.
	 */
	if (v)
		refuse(req, v, "a view cannot be removed (empty it with ': >' instead)", EPERM);
	else
		pt_unlink(req, p, name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_inode *p = inode_of(req, parent);

	if (rfs_view_named(rfs_from_req(req), p, name))
		fuse_reply_err(req, ENOTDIR);
	else
		pt_rmdir(req, p, name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct rfs *fs = rfs_from_req(req);
	struct rfs_inode *p = inode_of(req, parent), *np = inode_of(req, newparent);
	struct rfs_view *from = rfs_view_named(fs, p, name);
	struct rfs_view *to = rfs_view_named(fs, np, newname);
	struct rfs_view *staged = rfs_stage_view(fs, p, name);

	if (staged)
		stage_rename(req, staged, np, newname, flags);
	else if (rfs_stage_view(fs, np, newname))
		refuse(req, rfs_stage_view(fs, np, newname),
		       "renaming onto a staging name (VIEW.tmp) is not supported", EINVAL);
	else if (from)
		refuse(req, from, "a view cannot be renamed away", EBUSY);
	else if (to)
		vf_rename_onto(req, p, name, to, flags);
	else
		pt_rename(req, p, name, np, newname, flags);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_inode *inode = inode_of(req, ino);
	struct rfs_view *v = rfs_view_shown(inode);

	if (v)
		vf_open(req, v, inode, fi);
	else
		pt_open(req, inode, fi);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct rfs_inode *p = inode_of(req, parent);

	struct rfs *fs = rfs_from_req(req);
	struct rfs_view *v;

	/* The kernel opens an existing name instead; this is a race with our own lookup. */
	if (rfs_view_named(fs, p, name))
		fuse_reply_err(req, EEXIST);
	else if ((v = rfs_stage_view(fs, p, name)))
		stage_create(req, v, mode, fi);
	else
		pt_create(req, p, name, mode, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);

	if (h->kind == RFS_H_VIEW)
		vf_read(req, h, size, off);
	else
		pt_read(req, h, size, off);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);
	size_t size;
	char *mem;
	ssize_t n;

	if (h->kind != RFS_H_VIEW) {
		pt_write_buf(req, h, in, off);
		return;
	}
	size = fuse_buf_size(in);
	mem = malloc(size ? size : 1);
	if (!mem) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	{
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);

		dst.buf[0].mem = mem;
		n = fuse_buf_copy(&dst, in, 0);
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		vf_write(req, h, mem, (size_t)n, off);
	free(mem);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);

	if (h->kind == RFS_H_VIEW)
		vf_flush(req, h);
	else
		pt_flush(req, h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);

	if (h->kind == RFS_H_VIEW)
		vf_release(req, h);
	else
		pt_release(req, h);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);

	if (h->kind == RFS_H_VIEW)
		vf_fsync(req, h);
	else
		pt_fsync(req, h, datasync);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);

	if (h->kind == RFS_H_VIEW)
		fuse_reply_err(req, EOPNOTSUPP);
	else
		pt_fallocate(req, h, mode, offset, length);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_inode *inode = inode_of(req, ino);

	if (rfs_view_shown(inode))
		fuse_reply_err(req, ENOTDIR);
	else
		pt_opendir(req, inode, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	pt_readdir(req, handle_of(fi), size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	pt_readdir(req, handle_of(fi), size, off, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pt_releasedir(req, handle_of(fi));
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	pt_fsyncdir(req, handle_of(fi), datasync);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct rfs_handle *h = handle_of(fi);
	struct rfs_inode *inode;
	off_t size;

	if (h->kind != RFS_H_VIEW) {
		pt_lseek(req, h, off, whence);
		return;
	}
	/* A view has no holes. */
	inode = inode_of(req, ino);
	size = (off_t)rfs_view_size(rfs_view_shown(inode), inode);
	if (off >= size)
		fuse_reply_err(req, ENXIO);
	else
		fuse_reply_lseek(req, whence == SEEK_DATA ? off : size);
}

/* A view holds no extended attributes (and no ACL: its mode bits decide). */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct rfs_inode *inode = inode_of(req, ino);

	if (rfs_view_shown(inode))
		fuse_reply_err(req, ENODATA);
	else
		pt_getxattr(req, inode, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rfs_inode *inode = inode_of(req, ino);

	if (!rfs_view_shown(inode))
		pt_listxattr(req, inode, size);
	else if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct rfs_inode *inode = inode_of(req, ino);
	struct rfs_view *v = rfs_view_shown(inode);

	if (v)
		refuse(req, v, "a view holds no extended attributes", EOPNOTSUPP);
	else
		pt_setxattr(req, inode, name, value, size, flags);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct rfs_inode *inode = inode_of(req, ino);

	if (rfs_view_shown(inode))
		fuse_reply_err(req, ENODATA);
	else
		pt_removexattr(req, inode, name);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	pt_statfs(req, &rfs_from_req(req)->root);
}

void rfs_fuse_ops(struct fuse_lowlevel_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->init = op_init;
	ops->lookup = op_lookup;
	ops->forget = pt_forget;
	ops->forget_multi = pt_forget_multi;
	ops->getattr = op_getattr;
	ops->setattr = op_setattr;
	ops->readlink = op_readlink;
	ops->mknod = op_mknod;
	ops->mkdir = op_mkdir;
	ops->symlink = op_symlink;
	ops->link = op_link;
	ops->unlink = op_unlink;
	ops->rmdir = op_rmdir;
	ops->rename = op_rename;
	ops->open = op_open;
	ops->create = op_create;
	ops->read = op_read;
	ops->write_buf = op_write_buf;
	ops->flush = op_flush;
	ops->release = op_release;
	ops->fsync = op_fsync;
	ops->fallocate = op_fallocate;
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->fsyncdir = op_fsyncdir;
	ops->statfs = op_statfs;
	ops->lseek = op_lseek;
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->setxattr = op_setxattr;
	ops->removexattr = op_removexattr;
}
