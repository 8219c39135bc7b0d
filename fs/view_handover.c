/*
 * The views' part of a planned restart's handover (handover.c, reload.c): the view inodes'
 * node ids by the views' order (the same in both images), and each open view handle's
 * session: its snapshot, its own text, its base and flags.
 *
 * Invariants: a restored handle shows exactly the bytes it showed in the old image; a
 * truncated or unknown record refuses the whole image (the old image keeps serving).
 * Lock order: none taken while serialising: the old image has paused every request.
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

/* The handover: the view inodes' node ids, by the views' order (the same in both images). */
int rfs_views_save(struct rfs *fs, struct rfs_ho_out *o)
{
	size_t i;

	rfs_ho_put_u64(o, fs->nviews);
	for (i = 0; i < fs->nviews; i++) {
		rfs_ho_put_str(o, fs->views[i]->name);
		rfs_ho_put_u64(o, rfs_ho_id(&fs->views[i]->inode));
	}
	return o->err;
}

int rfs_views_restore(struct rfs *fs, struct rfs_ho_in *in)
{
	uint64_t n = rfs_ho_get_u64(in), i;

	if (n != fs->nviews)
		return -EINVAL; /* gnfs= changed: the kernel's view inodes would mean nothing */
	for (i = 0; i < n && !in->err; i++) {
		char *name = rfs_ho_get_str(in);
		uint64_t id = rfs_ho_get_u64(in);

		if (!name || strcmp(name, fs->views[i]->name) != 0)
			in->err = -EINVAL;
		else
			rfs_ho_map(id, &fs->views[i]->inode);
		free(name);
	}
	return in->err;
}

/* A view handle's session: its snapshot, its own text, its base and flags. */
int vf_handle_save(struct rfs *fs, struct rfs_handle *h, struct rfs_ho_out *o)
{
	struct rfs_vhandle *vh = h->vh;
	size_t i;

	for (i = 0; i < fs->nviews && fs->views[i] != vh->view; i++)
		;
	rfs_ho_put_u64(o, i);
	rfs_ho_put_u64(o, h->writable);
	pthread_mutex_lock(&vh->lock);
	rfs_ho_put_snap(o, vh->snap);
	rfs_ho_put_bytes(o, vh->own ? (vh->buf.data ? vh->buf.data : "") : NULL, vh->buf.len);
	rfs_ho_put_u64(o, (uint64_t)vh->dirty | (uint64_t)vh->append << 1 |
				  (uint64_t)vh->refused << 2 | (uint64_t)vh->shows_snap << 3 |
				  (uint64_t)(uint32_t)vh->tid << 32);
	rfs_ho_put_base(o, &vh->base);
	pthread_mutex_unlock(&vh->lock);
	return o->err;
}

struct rfs_handle *vf_handle_restore(struct rfs *fs, struct rfs_ho_in *in, uint64_t ino)
{
	uint64_t vi = rfs_ho_get_u64(in), flags;
	struct rfs_vhandle *vh = calloc(1, sizeof(*vh));
	struct rfs_handle *h = calloc(1, sizeof(*h));
	const char *own;
	size_t len;

	if (!vh || !h || vi >= fs->nviews) {
		in->err = in->err ? in->err : vi >= fs->nviews ? -EINVAL : -ENOMEM;
		free(vh);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&vh->lock, NULL);
	vh->view = fs->views[vi];
	h->writable = rfs_ho_get_u64(in) != 0;
	vh->snap = rfs_ho_get_snap(in);
	own = rfs_ho_get_bytes(in, &len);
	if (own) {
		vh->own = true;
		if (rfs_buf_append(&vh->buf, own, len) || rfs_buf_reserve(&vh->buf, 0))
			in->err = -ENOMEM;
	}
	flags = rfs_ho_get_u64(in);
	vh->dirty = flags & 1;
	vh->append = flags & 2;
	vh->refused = flags & 4;
	vh->shows_snap = (flags & 8) && vh->snap;
	vh->tid = (pid_t)(flags >> 32); /* 0 from images before it was kept */
	rfs_ho_get_base(in, &vh->base);
	if (in->err || !vh->snap) {
		rfs_snap_put(vh->snap);
		rfs_base_clear(&vh->base);
		rfs_buf_free(&vh->buf);
		free(vh);
		free(h);
		in->err = in->err ? in->err : -EINVAL;
		return NULL;
	}
	h->kind = RFS_H_VIEW;
	h->inode = &vh->view->inode; /* its generation inode, if any, from rfs_views_restore_gens */
	h->fd = -1;
	h->vh = vh;
	vh->ho_ino = ino;
	pthread_mutex_lock(&vh->view->lock);
	vh->next = vh->view->handles;
	if (vh->view->handles)
		vh->view->handles->prev = vh;
	vh->view->handles = vh;
	pthread_mutex_unlock(&vh->view->lock);
	return h;
}

int rfs_views_save_gens(struct rfs *fs, struct rfs_ho_out *o)
{
	size_t i;

	for (i = 0; i < fs->nviews && !o->err; i++)
		rfs_vgens_save(&fs->views[i]->gens, o);
	return o->err;
}

/* The restored generation inode of v the kernel knows as id, or NULL. */
static struct rfs_vgen *gen_with_id(struct rfs_view *v, uint64_t id)
{
	struct rfs_vgen *vg;

	for (vg = v->gens.list; vg; vg = vg->next)
		if (rfs_ho_id(vg) == id)
			return vg;
	return NULL;
}

int rfs_views_restore_gens(struct rfs *fs, struct rfs_ho_in *in)
{
	void **hs;
	size_t n, i;
	int rc = 0;

	for (i = 0; i < fs->nviews && !rc; i++)
		rc = rfs_vgens_restore(&fs->views[i]->gens, fs->views[i], in);
	if (rc)
		return rc;
	/* Nothing else runs yet: the handles and generations are ours alone. */
	n = rfs_ho_handles(&hs);
	if (!hs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct rfs_handle *h = hs[i];
		struct rfs_vgen *vg;

		if (h->kind != RFS_H_VIEW || !h->vh->ho_ino)
			continue;
		vg = gen_with_id(h->vh->view, h->vh->ho_ino);
		if (!vg)
			continue;
		h->vh->vg = vg;
		h->inode = &vg->inode;
		rfs_vgen_opened(&h->vh->view->gens, vg);
	}
	free(hs);
	return 0;
}
