/*
 * The views: rmtab (nfs-utils format) and, with gnfs=NAME, the gNFS file, both rendered
 * from the record set. Opening one starts a write session: the handle shows a snapshot,
 * writes edit a private copy, and flush/fsync commit the difference from the base.
 */
#ifndef RMTABFS_VIEW_H
#define RMTABFS_VIEW_H

#include <rmtabfs/rfs.h>
#include <rmtabfs/vgen.h>

struct rfs_vhandle;

struct rfs_view {
	struct rfs *fs;
	const char *name;
	enum rfs_format fmt;
	struct rfs_inode inode;
	pthread_mutex_t lock;	     /* handles list; leaf lock */
	struct rfs_vhandle *handles; /* open handles, for choosing a renamed file's base */
	struct rfs_vgens gens;	     /* its generation inodes (vgen.h) */
	_Atomic uint64_t reads;	     /* READ requests answered (status: view-reads) */
	_Atomic uint64_t flushes;    /* FLUSH requests (status: view-flushes) */
};

int rfs_views_init(struct rfs *fs);
void rfs_views_destroy(struct rfs *fs);
/* The view called name in the top directory, or NULL. */
struct rfs_view *rfs_view_named(struct rfs *fs, struct rfs_inode *parent, const char *name);
/* The view an inode shows: itself, or the view a file was renamed onto. */
struct rfs_view *rfs_view_shown(struct rfs_inode *inode);
/*
 * Does a process (the thread group of thread tid) hold v open through this mount? A rename
 * onto v of a file its writer still holds open (rpc.mountd, gNFS) is trusted only then.
 */
bool rfs_view_read_by(struct rfs_view *v, pid_t tid);
fuse_ino_t rfs_view_ino(struct rfs_view *v);
void rfs_view_stat(struct rfs_view *v, struct stat *st);

/*
 * A LOOKUP of v's name: its newest generation inode, or the fixed inode for a thread whose
 * open was answered ESTALE (vgen.h). Fills e with one lookup reference taken. 0 or -errno.
 */
int rfs_view_entry(struct rfs_view *v, pid_t tid, struct fuse_entry_param *e);
/* The size a handle or an inode of v shows (SEEK_DATA/SEEK_HOLE). */
size_t rfs_view_size(struct rfs_view *v, struct rfs_inode *inode);
/* The kernel forgot n references to a view inode (a generation inode may go). */
void rfs_view_forget(struct rfs_inode *inode, uint64_t n);
/* status lines: view-reads, view-flushes, view-generations-held/-made, view-opens-... */
int rfs_views_status(struct rfs *fs, struct rfs_buf *out);

void vf_lookup(fuse_req_t req, struct rfs_view *v);
void vf_getattr(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode, struct rfs_handle *h);
void vf_setattr(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode, struct stat *attr,
		int valid, struct rfs_handle *h);
void vf_open(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode,
	     struct fuse_file_info *fi);
void vf_read(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off);
void vf_write(fuse_req_t req, struct rfs_handle *h, const char *buf, size_t size, off_t off);
void vf_flush(fuse_req_t req, struct rfs_handle *h);
void vf_fsync(fuse_req_t req, struct rfs_handle *h);
void vf_release(fuse_req_t req, struct rfs_handle *h);
/* rename(parent/name -> a view): commit the file, now or at its writers' flush.
 * Replies; returns 0 or the -errno replied. */
int vf_rename_onto(fuse_req_t req, struct rfs_inode *parent, const char *name, struct rfs_view *v,
		   unsigned int flags);

/* Hooks for regular files of the top directory (see struct rfs_inode). */
void vf_file_opened(struct rfs *fs, struct rfs_inode *inode, bool writable, bool truncated);
void vf_file_written(struct rfs_inode *inode);
/* At flush/fsync of a file renamed onto a view: commit what was written. 0 or -errno. */
int vf_file_flush(struct rfs *fs, struct rfs_handle *h, fuse_req_t req);
void vf_file_released(struct rfs *fs, struct rfs_handle *h);

/* The handover of a planned restart (handover.c). */
struct rfs_ho_out;
struct rfs_ho_in;
int rfs_views_save(struct rfs *fs, struct rfs_ho_out *o);
int rfs_views_restore(struct rfs *fs, struct rfs_ho_in *in);
int vf_handle_save(struct rfs *fs, struct rfs_handle *h, struct rfs_ho_out *o);
/* A restored view handle (not yet tracked or mapped), or NULL with in->err set; ino is the
 * node id it was opened on (a generation inode is linked by rfs_views_restore_gens). */
struct rfs_handle *vf_handle_restore(struct rfs *fs, struct rfs_ho_in *in, uint64_t ino);
/*
 * The views' generation inodes, written after everything else (an image without them, from
 * an older binary, ends before: no generation inode was handed out then). Restoring links
 * the restored handles that read through one. 0 or -errno.
 */
int rfs_views_save_gens(struct rfs *fs, struct rfs_ho_out *o);
int rfs_views_restore_gens(struct rfs *fs, struct rfs_ho_in *in);

/* Names the process behind a request, for log lines: "pid 123 (rpc.mountd)". */
void rfs_req_who(fuse_req_t req, const char *what, char *buf, size_t len);

#endif
