/*
 * Generation and private inodes of the views (see include/rmtabfs/vgen.h).
 *
 * Invariants: an inode here lives from the LOOKUP that made it until the kernel forgot it and
 * its last handle was released (a RELEASE may come after the FORGET); gen, size, mtime and
 * owner never change; stale only goes from false to true and is true for every inode but
 * cur; cur, if set, is in the list. Only read-only handles whose snapshot is the inode's own
 * generation are ever opened on a generation inode, so every byte in its pages is that
 * generation's, whichever handle's READ filled it, and no write, truncate or other content
 * ever moves its size in the kernel. A private inode is opened only by its thread (no other
 * LOOKUP hands it out, and the views' names are never cached), and while a handle reads
 * through its pages it is its only handle.
 * A thread answered ESTALE is remembered (pending) until it opens its private inode (or the
 * fixed one) or RFS_VGEN_REDIRECT_NS pass: the kernel's retry comes from the same thread and
 * looks the name up again (to revalidate, then to look it up), and both LOOKUPs must hand out
 * the same private inode. pending[].priv is cleared before its inode is freed. A planned
 * restart hands pending over with the inodes: the retry may reach the new image.
 * Node ids go through the handover's translation (handover.h): an inode is allocated off live
 * old values (rfs_ho_calloc) and unmapped when freed; restored ones are stale.
 * Lock: rfs_vgens.lock is a leaf but for the handover's map lock (itself a leaf); no reply
 * is sent under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/vgen.h>
#include <rmtabfs/view.h>

_Static_assert(offsetof(struct rfs_vgen, inode) == 0, "a generation's node id is its address");

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void rfs_vgens_init(struct rfs_vgens *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
}

static void vgen_free(struct rfs_vgen *vg)
{
	rfs_ho_unmap(vg);
	pthread_mutex_destroy(&vg->inode.lock);
	free(vg);
}

void rfs_vgens_destroy(struct rfs_vgens *g)
{
	struct rfs_vgen *vg, *next;

	for (vg = g->list; vg; vg = next) {
		next = vg->next;
		vgen_free(vg);
	}
	g->list = g->cur = NULL;
	g->count = 0;
	pthread_mutex_destroy(&g->lock);
}

struct rfs_vgen *rfs_vgen_of(struct rfs_inode *inode)
{
	if (!inode || !inode->view || inode == &inode->view->inode)
		return NULL;
	return (struct rfs_vgen *)inode;
}

/* A new generation inode for v, in the list. Locked. */
static struct rfs_vgen *vgen_add(struct rfs_vgens *g, struct rfs_vgen *vg, struct rfs_view *v)
{
	vg->inode.view = v;
	vg->inode.fd = -1;
	vg->inode.type = S_IFREG;
	/* Every generation keeps the view's st_ino: tools that remember it see one file. */
	vg->inode.ino = v->inode.ino;
	vg->inode.dev = v->inode.dev;
	pthread_mutex_init(&vg->inode.lock, NULL);
	vg->next = g->list;
	if (g->list)
		g->list->prev = vg;
	g->list = vg;
	g->count++;
	return vg;
}

/* Unlinks and frees vg if nothing refers to it any more. Locked. */
static void vgen_maybe_free(struct rfs_vgens *g, struct rfs_vgen *vg)
{
	size_t i;

	if (vg->inode.nlookup || vg->opens)
		return;
	for (i = 0; vg->owner && i < RFS_VGEN_PENDING; i++)
		if (g->pending[i].priv == vg)
			g->pending[i].priv = NULL;
	if (vg->prev)
		vg->prev->next = vg->next;
	else
		g->list = vg->next;
	if (vg->next)
		vg->next->prev = vg->prev;
	if (g->cur == vg)
		g->cur = NULL;
	g->count--;
	vgen_free(vg);
}

struct rfs_vgen *rfs_vgen_get(struct rfs_vgens *g, struct rfs_view *v, uint64_t gen, size_t size,
			      int64_t mtime)
{
	struct rfs_vgen *vg;

	pthread_mutex_lock(&g->lock);
	vg = g->cur;
	if (!vg || vg->gen != gen || vg->stale) {
		vg = rfs_ho_calloc(sizeof(*vg));
		if (!vg)
			goto out;
		vgen_add(g, vg, v);
		vg->gen = gen;
		vg->size = size;
		vg->mtime = mtime;
		if (g->cur)
			g->cur->stale = true;
		g->cur = vg;
		g->made++;
	}
	vg->inode.nlookup++;
out:
	pthread_mutex_unlock(&g->lock);
	return vg;
}

void rfs_vgen_forget(struct rfs_vgens *g, struct rfs_vgen *vg, uint64_t n)
{
	pthread_mutex_lock(&g->lock);
	if (n > vg->inode.nlookup) {
		rfs_err("forget of %llu lookups on a view generation with %llu",
			(unsigned long long)n, (unsigned long long)vg->inode.nlookup);
		n = vg->inode.nlookup;
	}
	vg->inode.nlookup -= n;
	vgen_maybe_free(g, vg);
	pthread_mutex_unlock(&g->lock);
}

/* Awaits tid's retry (its next LOOKUPs get a private inode). Locked. */
static void await_retry(struct rfs_vgens *g, pid_t tid)
{
	int64_t now = now_ns();
	size_t i, slot = 0;

	g->redirected++;
	for (i = 0; i < RFS_VGEN_PENDING; i++) {
		if (g->pending[i].tid == tid) {
			slot = i;
			break;
		}
		/* A free or expired slot, else the one that ends first. */
		if (g->pending[i].until < g->pending[slot].until)
			slot = i;
	}
	if (g->pending[slot].tid != tid)
		g->pending[slot].priv = NULL;
	g->pending[slot].tid = tid;
	g->pending[slot].until = now + RFS_VGEN_REDIRECT_NS;
}

/* tid's retry came. Locked. */
static void retry_came(struct rfs_vgens *g, pid_t tid)
{
	size_t i;

	for (i = 0; i < RFS_VGEN_PENDING; i++)
		if (g->pending[i].tid == tid)
			memset(&g->pending[i], 0, sizeof(g->pending[i]));
}

int rfs_vgen_open(struct rfs_vgens *g, struct rfs_vgen *vg, uint64_t gen, int flags, pid_t tid,
		  bool *cache)
{
	bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int rc = 0;

	*cache = false;
	pthread_mutex_lock(&g->lock);
	if (vg->owner) {
		/* Its thread's retry. Nothing may share the pages of an in-place writer. */
		if (vg->cached_writer) {
			rc = -ESTALE;
			goto out;
		}
		*cache = writes && !(flags & (O_APPEND | O_TRUNC)) && vg->opens == 0;
		vg->cached_writer = *cache;
		vg->opens++;
		retry_came(g, tid);
	} else if (writes || vg->stale || vg->gen != gen) {
		/* A newer generation exists: this one is never the newest again. */
		if (vg->gen != gen)
			vg->stale = true;
		rc = -ESTALE;
	} else {
		*cache = true;
		vg->opens++;
		g->cached++;
	}
out:
	if (rc)
		await_retry(g, tid);
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void rfs_vgen_opened(struct rfs_vgens *g, struct rfs_vgen *vg)
{
	pthread_mutex_lock(&g->lock);
	vg->opens++;
	pthread_mutex_unlock(&g->lock);
}

void rfs_vgen_close(struct rfs_vgens *g, struct rfs_vgen *vg, bool cached)
{
	pthread_mutex_lock(&g->lock);
	if (cached && vg->owner)
		vg->cached_writer = false;
	if (vg->opens)
		vg->opens--;
	vgen_maybe_free(g, vg);
	pthread_mutex_unlock(&g->lock);
}

struct rfs_vgen *rfs_vgen_private(struct rfs_vgens *g, struct rfs_view *v, pid_t tid, size_t size,
				  int64_t mtime, bool *nomem)
{
	int64_t now = now_ns();
	struct rfs_vgen *vg = NULL;
	size_t i;

	*nomem = false;
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < RFS_VGEN_PENDING; i++)
		if (g->pending[i].tid == tid && g->pending[i].until > now)
			break;
	if (i == RFS_VGEN_PENDING)
		goto out;
	vg = g->pending[i].priv;
	if (!vg) {
		vg = rfs_ho_calloc(sizeof(*vg));
		if (!vg) {
			*nomem = true;
			goto out;
		}
		vgen_add(g, vg, v);
		vg->size = size;
		vg->mtime = mtime;
		vg->stale = vg->dropped = true; /* never in anyone's cache but its writer's */
		vg->owner = tid;
		atomic_store(&vg->writer_len, size);
		g->pending[i].priv = vg;
	}
	vg->inode.nlookup++;
out:
	pthread_mutex_unlock(&g->lock);
	return vg;
}

void rfs_vgen_redirect(struct rfs_vgens *g, pid_t tid)
{
	pthread_mutex_lock(&g->lock);
	await_retry(g, tid);
	pthread_mutex_unlock(&g->lock);
}

void rfs_vgen_arrived(struct rfs_vgens *g, pid_t tid)
{
	pthread_mutex_lock(&g->lock);
	retry_came(g, tid);
	pthread_mutex_unlock(&g->lock);
}

size_t rfs_vgen_stale(struct rfs_vgens *g, fuse_ino_t *out, size_t max)
{
	struct rfs_vgen *vg;
	size_t n = 0;

	pthread_mutex_lock(&g->lock);
	for (vg = g->list; vg && n < max; vg = vg->next) {
		if (!vg->stale || vg->dropped)
			continue;
		vg->dropped = true;
		out[n++] = (fuse_ino_t)rfs_ho_id(vg);
	}
	pthread_mutex_unlock(&g->lock);
	return n;
}

void rfs_vgen_counts(struct rfs_vgens *g, size_t *held, uint64_t *made, uint64_t *redirected,
		     uint64_t *cached)
{
	pthread_mutex_lock(&g->lock);
	*held = g->count;
	*made = g->made;
	*redirected = g->redirected;
	*cached = g->cached;
	pthread_mutex_unlock(&g->lock);
}

int rfs_vgens_save(struct rfs_vgens *g, struct rfs_ho_out *o)
{
	struct rfs_vgen *vg;
	size_t i;

	pthread_mutex_lock(&g->lock);
	rfs_ho_put_u64(o, g->made);
	rfs_ho_put_u64(o, g->redirected);
	rfs_ho_put_u64(o, g->cached);
	rfs_ho_put_u64(o, g->count);
	for (vg = g->list; vg; vg = vg->next) {
		rfs_ho_put_u64(o, rfs_ho_id(vg));
		rfs_ho_put_u64(o, vg->inode.nlookup);
		rfs_ho_put_u64(o, vg->size);
		rfs_ho_put_u64(o, (uint64_t)vg->mtime);
		rfs_ho_put_u64(o,
			       (uint64_t)(uint32_t)vg->owner | (uint64_t)vg->cached_writer << 32);
		rfs_ho_put_u64(o, atomic_load(&vg->writer_len));
	}
	/*
	 * The threads answered ESTALE whose retry has not come yet: the retry may reach the new
	 * image, and without them there its LOOKUP would hand out the generation inode again,
	 * the second ESTALE would end the open with it, and rpc.mountd (which ignores a failed
	 * rmtab open) would answer an MNT whose record was never written (CI reload: 1 in 2 500).
	 * The deadline is CLOCK_MONOTONIC, the same in both images.
	 */
	rfs_ho_put_u64(o, RFS_VGEN_PENDING);
	for (i = 0; i < RFS_VGEN_PENDING; i++) {
		rfs_ho_put_u64(o, (uint64_t)(uint32_t)g->pending[i].tid);
		rfs_ho_put_u64(o, (uint64_t)g->pending[i].until);
		rfs_ho_put_u64(o, g->pending[i].priv ? rfs_ho_id(g->pending[i].priv) : 0);
	}
	pthread_mutex_unlock(&g->lock);
	return o->err;
}

/* The pending redirects rfs_vgens_save wrote, after the inodes they may name (restore runs
 * before any request: nothing else touches g). */
static int restore_pending(struct rfs_vgens *g, struct rfs_ho_in *in)
{
	uint64_t n = rfs_ho_get_u64(in), k, id;
	struct rfs_vgen *vg;
	size_t slot = 0;

	if (!in->err && n > RFS_VGEN_PENDING * 64)
		return -EINVAL;
	for (k = 0; k < n && !in->err; k++) {
		pid_t tid = (pid_t)(uint32_t)rfs_ho_get_u64(in);
		int64_t until = (int64_t)rfs_ho_get_u64(in);

		id = rfs_ho_get_u64(in);
		if (!tid || slot == RFS_VGEN_PENDING)
			continue;
		/* A private inode is named only if it was restored as that thread's. */
		for (vg = g->list; vg && id; vg = vg->next)
			if (vg->owner == tid && rfs_ho_id(vg) == id)
				break;
		g->pending[slot].tid = tid;
		g->pending[slot].until = until;
		g->pending[slot].priv = id ? vg : NULL;
		slot++;
	}
	return in->err;
}

int rfs_vgens_restore(struct rfs_vgens *g, struct rfs_view *v, struct rfs_ho_in *in)
{
	uint64_t n, k;

	g->made = rfs_ho_get_u64(in);
	g->redirected = rfs_ho_get_u64(in);
	g->cached = rfs_ho_get_u64(in);
	n = rfs_ho_get_u64(in);
	for (k = 0; k < n && !in->err; k++) {
		uint64_t id = rfs_ho_get_u64(in), who;
		struct rfs_vgen *vg;

		if (in->err || !id)
			return in->err ? in->err : -EINVAL;
		/* Mapped under its old node id, not allocated off old values: calloc. */
		vg = calloc(1, sizeof(*vg));
		if (!vg)
			return -ENOMEM;
		pthread_mutex_lock(&g->lock);
		vgen_add(g, vg, v);
		vg->inode.nlookup = rfs_ho_get_u64(in);
		vg->size = (size_t)rfs_ho_get_u64(in);
		vg->mtime = (int64_t)rfs_ho_get_u64(in);
		who = rfs_ho_get_u64(in);
		vg->owner = (pid_t)(uint32_t)who;
		vg->cached_writer = (who >> 32) & 1;
		atomic_store(&vg->writer_len, (size_t)rfs_ho_get_u64(in));
		vg->stale = true;
		vg->dropped =
			vg->owner != 0; /* as made: never in anyone's cache but its writer's */
		pthread_mutex_unlock(&g->lock);
		rfs_ho_map(id, vg);
	}
	return in->err ? in->err : restore_pending(g, in);
}
