/*
 * The views (see include/rmtabfs/view.h and DESIGN §5): lookup, open, read, write, commit.
 * Files that may replace a view by rename are view_file.c's; the handover of a planned
 * restart is view_handover.c's.
 *
 * Invariants:
 *  - a view handle shows one content for its whole life (the snapshot taken at open, then
 *    its own writes): mountd reads with ftell positions that must refer to one content,
 *    and gNFS rescans the file from offset 0 once per key through dups of one descriptor,
 *    so a fresh snapshot per scan would pair the host of one record with the path of
 *    another whenever a record before them came or went in between. Every reader opens
 *    anew for each operation, so "fresh at open" is fresh enough;
 *  - the kernel's page cache never mixes two generations in one reader: read-only handles
 *    go through the pages of a generation inode, which only ever holds that generation's
 *    bytes (vgen.c); a private inode's first in-place writer goes through the pages of an
 *    inode no other handle opens meanwhile; every other handle uses direct I/O and is
 *    answered from its own content;
 *  - a commit happens at flush or fsync of a dirty handle, is idempotent (a clean handle
 *    commits nothing: rpc.mountd's ha-callout child flushes the same file again), and
 *    afterwards the handle's base is what it committed;
 *  - bad content changes nothing: the flush, fsync or rename fails with EINVAL and a log
 *    line names the line and the reason.
 * Lock order: rfs_inode.lock, then rfs_vhandle.lock, then rfs_view.lock (leaf); the core's
 * locks and rfs_vgens.lock are taken inside any of them. None is held across a reply: a
 * READ's bytes are pinned (a snapshot reference or a copy) and sent after unlocking, since
 * a RELEASE may free the handle as soon as its lock is dropped. A handle's base is its
 * own lock's; what other writers may take as their base (rfs_view_oldest_base) is read under the
 * view's lock only: the handle's snapshot (fixed for its life) while shows_snap is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/clock.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/view.h>

#include "view_int.h"

/*
 * The caller's command name, for log lines. Every commit names its caller, so the last
 * answer is kept for a second: a busy mountd would otherwise cost three syscalls per MOUNT.
 */
static pthread_mutex_t who_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t who_pid;
static double who_at;
static char who_comm[32];

void rfs_req_who(fuse_req_t req, const char *what, char *buf, size_t len)
{
	const struct fuse_ctx *ctx = req ? fuse_req_ctx(req) : NULL;
	char path[64], comm[32] = "?";
	double now;
	FILE *f;

	if (!ctx) {
		snprintf(buf, len, "%s", what);
		return;
	}
	now = rfs_mono();
	pthread_mutex_lock(&who_lock);
	if (who_pid == ctx->pid && now - who_at < 1.0) {
		memcpy(comm, who_comm, sizeof(comm));
		pthread_mutex_unlock(&who_lock);
		goto out;
	}
	pthread_mutex_unlock(&who_lock);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)ctx->pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	pthread_mutex_lock(&who_lock);
	who_pid = ctx->pid;
	who_at = now;
	memcpy(who_comm, comm, sizeof(comm));
	pthread_mutex_unlock(&who_lock);
out:
	snprintf(buf, len, "%s by pid %d (%s)", what, (int)ctx->pid, comm);
}

static struct rfs_view *view_new(struct rfs *fs, const char *name, enum rfs_format fmt)
{
	struct rfs_view *v = calloc(1, sizeof(*v));
	struct stat st;

	if (!v)
		return NULL;
	v->fs = fs;
	v->name = name;
	v->fmt = fmt;
	v->inode.view = v;
	v->inode.fd = -1;
	v->inode.type = S_IFREG;
	/* Keep the underlying file's inode number if there is one, else a stable invented one. */
	if (fstatat(fs->root.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		v->inode.ino = st.st_ino;
	else
		v->inode.ino = (ino_t)(0x7ffffff000000000ull | (uint64_t)fmt);
	v->inode.dev = fs->root.dev;
	pthread_mutex_init(&v->inode.lock, NULL);
	pthread_mutex_init(&v->lock, NULL);
	rfs_vgens_init(&v->gens);
	return v;
}

int rfs_views_init(struct rfs *fs)
{
	fs->views[0] = view_new(fs, "rmtab", RFS_FMT_RMTAB);
	if (!fs->views[0])
		return -ENOMEM;
	fs->nviews = 1;
	if (fs->opts->gnfs) {
		fs->views[1] = view_new(fs, fs->opts->gnfs, RFS_FMT_GNFS);
		if (!fs->views[1])
			return -ENOMEM;
		fs->nviews = 2;
	}
	return 0;
}

void rfs_views_destroy(struct rfs *fs)
{
	size_t i;

	for (i = 0; i < fs->nviews; i++) {
		rfs_vgens_destroy(&fs->views[i]->gens);
		pthread_mutex_destroy(&fs->views[i]->lock);
		pthread_mutex_destroy(&fs->views[i]->inode.lock);
		free(fs->views[i]);
		fs->views[i] = NULL;
	}
	fs->nviews = 0;
}

struct rfs_view *rfs_view_named(struct rfs *fs, struct rfs_inode *parent, const char *name)
{
	size_t i;

	if (parent != &fs->root)
		return NULL;
	for (i = 0; i < fs->nviews; i++)
		if (strcmp(fs->views[i]->name, name) == 0)
			return fs->views[i];
	return NULL;
}

struct rfs_view *rfs_view_shown(struct rfs_inode *inode)
{
	return inode->view ? inode->view : inode->alias;
}

fuse_ino_t rfs_view_ino(struct rfs_view *v)
{
	return (fuse_ino_t)rfs_ho_id(&v->inode);
}

static void fill_stat(struct rfs_view *v, struct stat *st, size_t size, int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = v->inode.ino;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blksize = RFS_BLKSIZE;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = (time_t)mtime;
}

void rfs_view_stat(struct rfs_view *v, struct stat *st)
{
	size_t size;
	int64_t mtime;

	rfs_core_view_attr(&v->fs->core, v->fmt, &size, &mtime);
	fill_stat(v, st, size, mtime);
}

int rfs_view_entry(struct rfs_view *v, pid_t tid, struct fuse_entry_param *e)
{
	struct rfs_vgen *vg;
	uint64_t gen;
	size_t size;
	int64_t mtime;
	bool nomem;

	memset(e, 0, sizeof(*e));
	/* Never cached: every path walk asks, so an open after a commit finds its generation. */
	e->entry_timeout = 0;
	gen = rfs_core_view_gen(&v->fs->core, v->fmt, &size, &mtime);
	vg = rfs_vgen_private(&v->gens, v, tid, size, mtime, &nomem);
	if (vg || nomem) {
		/* A retry after ESTALE: its own inode (or, without memory, the fixed one). */
		e->ino = vg ? (fuse_ino_t)rfs_ho_id(vg) : rfs_view_ino(v);
		fill_stat(v, &e->attr, size, mtime);
		return 0;
	}
	vg = rfs_vgen_get(&v->gens, v, gen, size, mtime);
	if (!vg)
		return -ENOMEM;
	e->ino = (fuse_ino_t)rfs_ho_id(vg);
	fill_stat(v, &e->attr, vg->size, vg->mtime);
	e->attr_timeout = RFS_VGEN_ATTR_TIMEOUT;
	return 0;
}

void vf_lookup(fuse_req_t req, struct rfs_view *v)
{
	struct fuse_entry_param e;
	int rc = rfs_view_entry(v, fuse_req_ctx(req)->pid, &e);

	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		rfs_view_forget(rfs_ho_ptr(e.ino), 1); /* interrupted: the kernel took nothing */
}

void rfs_view_forget(struct rfs_inode *inode, uint64_t n)
{
	struct rfs_vgen *vg = rfs_vgen_of(inode);

	if (vg)
		rfs_vgen_forget(&inode->view->gens, vg, n);
}

size_t rfs_view_size(struct rfs_view *v, struct rfs_inode *inode)
{
	struct rfs_vgen *vg = rfs_vgen_of(inode);
	struct stat st;

	if (vg)
		return vg->size;
	rfs_view_stat(v, &st);
	return (size_t)st.st_size;
}

int rfs_views_status(struct rfs *fs, struct rfs_buf *out)
{
	uint64_t reads = 0, flushes = 0, made = 0, redirected = 0, cached = 0, m, r, c;
	size_t held = 0, h, i;

	for (i = 0; i < fs->nviews; i++) {
		rfs_vgen_counts(&fs->views[i]->gens, &h, &m, &r, &c);
		held += h;
		made += m;
		redirected += r;
		cached += c;
		reads += atomic_load(&fs->views[i]->reads);
		flushes += atomic_load(&fs->views[i]->flushes);
	}
	return rfs_buf_printf(out,
			      "view-reads: %llu\n"
			      "view-flushes: %llu\n"
			      "view-generations-held: %zu\n"
			      "view-generations-made: %llu\n"
			      "view-opens-cached: %llu\n"
			      "view-opens-redirected: %llu\n",
			      (unsigned long long)reads, (unsigned long long)flushes, held,
			      (unsigned long long)made, (unsigned long long)cached,
			      (unsigned long long)redirected);
}

/* The handle's content. Called with vh->lock held. */
static const char *content(struct rfs_vhandle *vh, size_t *len)
{
	if (vh->own) {
		*len = vh->buf.len;
		return vh->buf.data ? vh->buf.data : "";
	}
	if (vh->view->fmt == RFS_FMT_GNFS) {
		const char *g = rfs_snap_gnfs(vh->snap, len);

		if (!g)
			*len = 0;
		return g ? g : "";
	}
	*len = vh->snap->len;
	return vh->snap->text;
}

/* Copy-on-write: the handle gets its own content before its first change. */
static int make_own(struct rfs_vhandle *vh)
{
	const char *c;
	size_t len;
	int rc;

	if (vh->own)
		return 0;
	c = content(vh, &len);
	rc = rfs_buf_append(&vh->buf, c, len);
	if (rc == 0 && !vh->buf.data)
		rc = rfs_buf_reserve(&vh->buf, 0);
	if (rc)
		return rc;
	vh->own = true;
	return 0;
}

void vf_getattr(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode, struct rfs_handle *h)
{
	struct rfs_vgen *vg = rfs_vgen_of(inode);
	struct stat st;

	if (vg && !vg->owner) {
		/* A generation's attributes never change; its handles all show its bytes. */
		fill_stat(v, &st, vg->size, vg->mtime);
		fuse_reply_attr(req, &st, RFS_VGEN_ATTR_TIMEOUT);
		return;
	}
	if (vg && !(h && h->kind == RFS_H_VIEW)) {
		/*
		 * fstat(2) of its thread (the kernel sends no handle): the size its handle shows,
		 * not the table's, which may be a newer generation (mmap(2) of that many bytes
		 * would show zeros past the handle's end).
		 */
		rfs_view_stat(v, &st);
		st.st_size = (off_t)atomic_load(&vg->writer_len);
		st.st_blocks = (blkcnt_t)((st.st_size + 511) / 512);
	} else if (h && h->kind == RFS_H_VIEW) {
		struct rfs_vhandle *vh = h->vh;
		size_t len, size_now;
		int64_t mtime;

		/* fstat tells the handle's own size, so stdio and appends agree with reads. */
		pthread_mutex_lock(&vh->lock);
		content(vh, &len);
		if (vh->own)
			rfs_core_view_attr(&v->fs->core, v->fmt, &size_now, &mtime);
		else
			mtime = vh->snap->mtime;
		pthread_mutex_unlock(&vh->lock);
		fill_stat(v, &st, len, mtime);
	} else {
		rfs_view_stat(v, &st);
	}
	fuse_reply_attr(req, &st, 0);
}

int rfs_view_commit_text(struct rfs_view *v, struct rfs_base *base, const char *text, size_t len,
			 const char *who)
{
	struct rfs_parse_error err;
	int rc = rfs_core_commit(&v->fs->core, v->fmt, base, text, len, who, &err);

	if (rc == 0)
		rc = rfs_base_set_text(base, text, len);
	return rc;
}

/* Commits a dirty handle. Called with vh->lock held. */
static int commit_handle(fuse_req_t req, struct rfs_vhandle *vh)
{
	char who[128];
	const char *c;
	size_t len;
	int rc;

	if (vh->refused)
		return -EINVAL;
	if (!vh->dirty)
		return 0;
	c = content(vh, &len);
	rfs_req_who(req, vh->view->name, who, sizeof(who));
	rc = rfs_view_commit_text(vh->view, &vh->base, c, len, who);
	if (rc == 0) {
		vh->dirty = false;
		/* Its base is its own text now: no base for other writers any more. */
		pthread_mutex_lock(&vh->view->lock);
		vh->shows_snap = false;
		pthread_mutex_unlock(&vh->view->lock);
	}
	return rc;
}

void vf_open(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode, struct fuse_file_info *fi)
{
	struct rfs *fs = v->fs;
	struct rfs_vgen *vg = rfs_vgen_of(inode);
	struct rfs_vhandle *vh = calloc(1, sizeof(*vh));
	struct rfs_handle *h = rfs_ho_calloc(sizeof(*h));
	bool writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	size_t len;

	if (!vh || !h)
		goto nomem;
	vh->view = v;
	vh->tid = fuse_req_ctx(req)->pid;
	vh->snap = rfs_core_snap(&fs->core);
	if (!vh->snap)
		goto nomem;
	if (vg && rfs_vgen_open(&v->gens, vg, vh->snap->gen, fi->flags, vh->tid, &vh->cached)) {
		/* Not through this inode (vgen.h): the kernel retries through a new LOOKUP. */
		rfs_snap_put(vh->snap);
		free(vh);
		free(h);
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!vg)
		rfs_vgen_arrived(&v->gens, vh->tid);
	vh->vg = vg;
	pthread_mutex_init(&vh->lock, NULL);
	rfs_base_set_snap(&vh->base, vh->snap);
	vh->append = (fi->flags & O_APPEND) != 0;
	if (writable && (fi->flags & O_TRUNC)) {
		/* ": > rmtab", cp: the session starts empty and means to replace everything. */
		vh->own = true;
		vh->dirty = true;
		if (rfs_buf_reserve(&vh->buf, 0))
			goto nomem_vg;
	}
	if (vg && vg->owner) {
		content(vh, &len);
		atomic_store(&vg->writer_len, len);
	}
	h->kind = RFS_H_VIEW;
	h->inode = inode;
	h->fd = -1;
	h->writable = writable;
	h->vh = vh;
	pthread_mutex_lock(&v->lock);
	vh->shows_snap = true;
	vh->next = v->handles;
	if (v->handles)
		v->handles->prev = vh;
	v->handles = vh;
	pthread_mutex_unlock(&v->lock);
	rfs_ho_track(h);
	fi->fh = (uintptr_t)h;
	/* A generation's pages are its bytes, whoever reads them: kept across opens. A private
	 * inode's are its one writer's: fresh. Everything else: direct I/O. */
	fi->direct_io = !vh->cached;
	fi->keep_cache = vh->cached && !vg->owner;
	/* A read-only handle's FLUSH has nothing to commit (locks stay in the kernel): spare
	 * every reader's close that round trip (kernel 5.16+; an older one sends it anyway). */
	fi->noflush = !writable;
	if (fuse_reply_open(req, fi) == -ENOENT)
		vf_release(NULL, h);
	return;
nomem_vg:
	if (vg)
		rfs_vgen_close(&v->gens, vg, vh->cached);
nomem:
	if (vh) {
		rfs_snap_put(vh->snap);
		rfs_base_clear(&vh->base);
		rfs_buf_free(&vh->buf);
	}
	free(vh);
	free(h);
	fuse_reply_err(req, ENOMEM);
}

void vf_read(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off)
{
	struct rfs_vhandle *vh = h->vh;
	struct rfs_snap *snap = NULL;
	char *copy = NULL;
	const char *c;
	size_t len;

	atomic_fetch_add(&vh->view->reads, 1);
	pthread_mutex_lock(&vh->lock);
	c = content(vh, &len);
	if ((size_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
	/*
	 * Nothing of the handle may be touched once the reply is out: the kernel may answer
	 * the read's caller, which closes, and RELEASE frees the handle while this thread is
	 * still returning from writev(2). So the bytes replied are a snapshot reference or a
	 * copy of the handle's own buffer (which its writes change), not the handle's.
	 */
	if (size && vh->own) {
		copy = malloc(size);
		if (copy)
			memcpy(copy, c + off, size);
		c = copy;
	} else if (size) {
		snap = rfs_snap_get(vh->snap);
		c += off;
	}
	pthread_mutex_unlock(&vh->lock);
	if (size && !c)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, size ? c : NULL, size);
	free(copy);
	if (snap)
		rfs_snap_put(snap);
}

void vf_write(fuse_req_t req, struct rfs_handle *h, const char *buf, size_t size, off_t off)
{
	struct rfs_vhandle *vh = h->vh;
	size_t end;
	int rc;

	pthread_mutex_lock(&vh->lock);
	rc = make_own(vh);
	if (rc)
		goto out;
	/* O_APPEND: the kernel's idea of the end may be stale; ours is not. */
	if (vh->append)
		off = (off_t)vh->buf.len;
	if (off < 0 || (uint64_t)off > RFS_VIEW_MAX_BYTES ||
	    size > RFS_VIEW_MAX_BYTES - (size_t)off) {
		char who[128];

		rfs_req_who(req, vh->view->name, who, sizeof(who));
		rfs_err("%s: refused: write beyond the limit of %u bytes", who, RFS_VIEW_MAX_BYTES);
		rc = -EFBIG;
		goto out;
	}
	/*
	 * Whole lines written at a line start (echo >>, mountd's in-place bump, cp) are
	 * checked now, so the writer's write(2) fails and a shell reports it; anything else
	 * is checked at flush.
	 */
	if (vh->view->fmt == RFS_FMT_RMTAB && size && buf[size - 1] == '\n' &&
	    (off == 0 || ((size_t)off <= vh->buf.len && vh->buf.data[off - 1] == '\n'))) {
		struct rfs_entries e = {0};
		struct rfs_parse_error err;

		rc = rt_parse(buf, size, 1, &e, &err);
		rfs_entries_free(&e);
		if (rc == -EINVAL) {
			char who[128];

			rfs_req_who(req, vh->view->name, who, sizeof(who));
			rfs_err("%s: refused write, nothing changed: line %u of the write: %s", who,
				err.line, err.reason);
		}
		if (rc)
			goto out;
	}
	end = (size_t)off + size;
	if (end > vh->buf.len) {
		rc = rfs_buf_resize(&vh->buf, end);
		if (rc)
			goto out;
	}
	memcpy(vh->buf.data + off, buf, size);
	vh->dirty = true;
	if (vh->vg && vh->vg->owner)
		atomic_store(&vh->vg->writer_len, vh->buf.len);
out:
	/* One refused write refuses the session: ": >" followed by bad data must not empty it. */
	if (rc == -EINVAL || rc == -EFBIG)
		vh->refused = true;
	pthread_mutex_unlock(&vh->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void vf_fsync(fuse_req_t req, struct rfs_handle *h)
{
	int rc;

	pthread_mutex_lock(&h->vh->lock);
	rc = commit_handle(req, h->vh);
	pthread_mutex_unlock(&h->vh->lock);
	fuse_reply_err(req, -rc);
}

void vf_flush(fuse_req_t req, struct rfs_handle *h)
{
	atomic_fetch_add(&h->vh->view->flushes, 1);
	vf_fsync(req, h);
}

void vf_release(fuse_req_t req, struct rfs_handle *h)
{
	struct rfs_vhandle *vh = h->vh;
	struct rfs_view *v = vh->view;

	pthread_mutex_lock(&v->lock);
	if (vh->prev)
		vh->prev->next = vh->next;
	else
		v->handles = vh->next;
	if (vh->next)
		vh->next->prev = vh->prev;
	pthread_mutex_unlock(&v->lock);
	if (vh->dirty || vh->refused)
		rfs_debug("%s: handle closed with uncommitted content (refused earlier)", v->name);
	if (vh->vg)
		rfs_vgen_close(&v->gens, vh->vg, vh->cached);
	rfs_snap_put(vh->snap);
	rfs_base_clear(&vh->base);
	rfs_buf_free(&vh->buf);
	pthread_mutex_destroy(&vh->lock);
	free(vh);
	rfs_ho_untrack(h);
	free(h);
	if (req)
		fuse_reply_err(req, 0);
}

/* truncate(2) without an open handle: a one-shot session. */
static int truncate_now(fuse_req_t req, struct rfs_view *v, off_t size)
{
	struct rfs_snap *snap = rfs_core_snap(&v->fs->core);
	struct rfs_base base = {0};
	struct rfs_buf text = RFS_BUF_INIT;
	const char *c;
	size_t len;
	char who[128];
	int rc;

	if (!snap)
		return -ENOMEM;
	rfs_base_set_snap(&base, snap);
	if (v->fmt == RFS_FMT_GNFS) {
		c = rfs_snap_gnfs(snap, &len);
		if (!c) {
			rc = -ENOMEM;
			goto out;
		}
	} else {
		c = snap->text;
		len = snap->len;
	}
	if ((uint64_t)size > RFS_VIEW_MAX_BYTES) {
		rc = -EFBIG;
		goto out;
	}
	rc = rfs_buf_append(&text, c, (size_t)size < len ? (size_t)size : len);
	if (!rc)
		rc = rfs_buf_resize(&text, (size_t)size);
	if (rc)
		goto out;
	rfs_req_who(req, v->name, who, sizeof(who));
	rc = rfs_view_commit_text(v, &base, text.data ? text.data : "", text.len, who);
out:
	rfs_buf_free(&text);
	rfs_base_clear(&base);
	rfs_snap_put(snap);
	return rc;
}

void vf_setattr(fuse_req_t req, struct rfs_view *v, struct rfs_inode *inode, struct stat *attr,
		int valid, struct rfs_handle *h)
{
	int rc = 0;

	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		char who[128];

		rfs_req_who(req, v->name, who, sizeof(who));
		rfs_info("%s: refused: the owner and mode of a view are fixed (root, 0644)", who);
		fuse_reply_err(req, EPERM);
		return;
	}
	/* truncate(2) by name: not on a generation's inode (its size is fixed); retried. */
	if ((valid & FUSE_SET_ATTR_SIZE) && rfs_vgen_of(inode) && !rfs_vgen_of(inode)->owner) {
		rfs_vgen_redirect(&v->gens, fuse_req_ctx(req)->pid);
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (h && h->kind == RFS_H_VIEW) {
			struct rfs_vhandle *vh = h->vh;

			pthread_mutex_lock(&vh->lock);
			if ((uint64_t)attr->st_size > RFS_VIEW_MAX_BYTES)
				rc = -EFBIG;
			if (!rc)
				rc = make_own(vh);
			if (!rc)
				rc = rfs_buf_resize(&vh->buf, (size_t)attr->st_size);
			if (!rc)
				vh->dirty = true;
			if (!rc && vh->vg && vh->vg->owner)
				atomic_store(&vh->vg->writer_len, vh->buf.len);
			pthread_mutex_unlock(&vh->lock);
		} else {
			rc = truncate_now(req, v, attr->st_size);
		}
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	/* Times: accepted and forgotten (touch(1) works); the mtime rule owns st_mtime. */
	vf_getattr(req, v, inode, h);
}

/* The process thread tid belongs to (its thread group), or tid when /proc cannot say. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	int tgid = (int)tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return (pid_t)tgid;
}

bool rfs_view_read_by(struct rfs_view *v, pid_t tid)
{
	pid_t others[64], want;
	struct rfs_vhandle *vh;
	bool yes = false;
	size_t n = 0, i;

	pthread_mutex_lock(&v->lock);
	for (vh = v->handles; vh && !yes; vh = vh->next) {
		/* Not known (an older image's handle) or too many to ask /proc about: trust. */
		if (vh->tid == 0 || vh->tid == tid || n == sizeof(others) / sizeof(others[0]))
			yes = true;
		else
			others[n++] = vh->tid;
	}
	pthread_mutex_unlock(&v->lock);
	if (yes || n == 0)
		return yes;
	/* gNFS reads and renames on whichever of its threads serves the request. */
	want = tgid_of(tid);
	for (i = 0; i < n && !yes; i++)
		yes = tgid_of(others[i]) == want;
	return yes;
}

/* The oldest snapshot an open view handle started from, else the current one. */
struct rfs_snap *rfs_view_oldest_base(struct rfs *fs)
{
	struct rfs_snap *best = NULL;
	size_t i;

	for (i = 0; i < fs->nviews; i++) {
		struct rfs_view *v = fs->views[i];
		struct rfs_vhandle *vh;

		pthread_mutex_lock(&v->lock);
		for (vh = v->handles; vh; vh = vh->next) {
			/* vh->base is vh->lock's: its snapshot, held until release, is ours. */
			struct rfs_snap *s = vh->shows_snap ? vh->snap : NULL;

			if (s && (!best || s->gen < best->gen)) {
				rfs_snap_put(best);
				best = rfs_snap_get(s);
			}
		}
		pthread_mutex_unlock(&v->lock);
	}
	return best ? best : rfs_core_snap(&fs->core);
}
