/*
 * Staging files: "NAME.tmp" next to a view (rpc.mountd's rmtab.tmp, gNFS's NAME.tmp) is a
 * private file per writing thread, so writers that race never share one temporary file.
 */
#ifndef RMTABFS_STAGE_H
#define RMTABFS_STAGE_H

#include <rmtabfs/rfs.h>

int rfs_stages_init(struct rfs *fs);
void rfs_stages_destroy(struct rfs *fs);
/* The handover of a planned restart (handover.c); restore replaces rfs_stages_init. */
struct rfs_ho_out;
struct rfs_ho_in;
int rfs_stages_save(struct rfs *fs, struct rfs_ho_out *o);
int rfs_stages_restore(struct rfs *fs, struct rfs_ho_in *in);
/* The view whose staging name "VIEW.tmp" this is (top directory only), or NULL. */
struct rfs_view *rfs_stage_view(struct rfs *fs, struct rfs_inode *parent, const char *name);
/* Underlying names of staging files, hidden from listings. */
bool rfs_stage_hidden(const char *name);

void stage_lookup(fuse_req_t req, struct rfs_view *v);
void stage_create(fuse_req_t req, struct rfs_view *v, mode_t mode, struct fuse_file_info *fi);
void stage_rename(fuse_req_t req, struct rfs_view *v, struct rfs_inode *newparent,
		  const char *newname, unsigned int flags);
void stage_unlink(fuse_req_t req, struct rfs_view *v);

#endif
