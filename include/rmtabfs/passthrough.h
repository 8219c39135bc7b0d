/*
 * Passthrough of everything that is not a view: each handler works on the object
 * underneath through *at() calls on O_PATH fds, and replies exactly once.
 */
#ifndef RMTABFS_PASSTHROUGH_H
#define RMTABFS_PASSTHROUGH_H

#include <rmtabfs/rfs.h>

void pt_lookup(fuse_req_t req, struct rfs_inode *parent, const char *name);
void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void pt_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void pt_getattr(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi);
void pt_setattr(fuse_req_t req, struct rfs_inode *inode, struct stat *attr, int valid,
		struct fuse_file_info *fi);
void pt_readlink(fuse_req_t req, struct rfs_inode *inode);
void pt_mknod(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode, dev_t rdev);
void pt_mkdir(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode);
void pt_symlink(fuse_req_t req, const char *link, struct rfs_inode *parent, const char *name);
void pt_link(fuse_req_t req, struct rfs_inode *inode, struct rfs_inode *parent, const char *name);
void pt_unlink(fuse_req_t req, struct rfs_inode *parent, const char *name);
void pt_rmdir(fuse_req_t req, struct rfs_inode *parent, const char *name);
void pt_rename(fuse_req_t req, struct rfs_inode *parent, const char *name,
	       struct rfs_inode *newparent, const char *newname, unsigned int flags);
/* Replies; also returns 0 or the -errno replied, for callers that keep state about it. */
int pt_create(fuse_req_t req, struct rfs_inode *parent, const char *name, mode_t mode,
	      struct fuse_file_info *fi);
void pt_open(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi);
void pt_read(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off);
void pt_write_buf(fuse_req_t req, struct rfs_handle *h, struct fuse_bufvec *in, off_t off);
void pt_flush(fuse_req_t req, struct rfs_handle *h);
void pt_release(fuse_req_t req, struct rfs_handle *h);
void pt_fsync(fuse_req_t req, struct rfs_handle *h, int datasync);
void pt_fallocate(fuse_req_t req, struct rfs_handle *h, int mode, off_t offset, off_t length);
/* A directory handle's listing is freed (pt_dir.c; also by a handover that drops it). */
void pt_free_listing(struct rfs_handle *h);
void pt_opendir(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi);
void pt_readdir(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off, bool plus);
void pt_releasedir(fuse_req_t req, struct rfs_handle *h);
void pt_fsyncdir(fuse_req_t req, struct rfs_handle *h, int datasync);
void pt_statfs(fuse_req_t req, struct rfs_inode *inode);
void pt_lseek(fuse_req_t req, struct rfs_handle *h, off_t off, int whence);

/* The handover of a planned restart (handover.c): file and directory handles. */
struct rfs_ho_out;
struct rfs_ho_in;
int pt_handle_save(struct rfs *fs, struct rfs_handle *h, struct rfs_ho_out *o);
/* Restored (h->inode left to the caller; not yet tracked or mapped), or NULL, in->err set. */
struct rfs_handle *pt_handle_restore(struct rfs *fs, enum rfs_handle_kind kind,
				     struct rfs_ho_in *in);

/* pt_xattr.c */
void pt_getxattr(fuse_req_t req, struct rfs_inode *inode, const char *name, size_t size);
void pt_listxattr(fuse_req_t req, struct rfs_inode *inode, size_t size);
void pt_setxattr(fuse_req_t req, struct rfs_inode *inode, const char *name, const char *value,
		 size_t size, int flags);
void pt_removexattr(fuse_req_t req, struct rfs_inode *inode, const char *name);

/* Reads the whole content of an open regular file underneath (for a commit). */
int pt_read_whole(int fd, struct rfs_buf *out);

#endif
