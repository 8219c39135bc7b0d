/*
 * Inode table of the FUSE layer, after libfuse's passthrough_ll.c: every object underneath
 * that the kernel knows is one struct rfs_inode holding an O_PATH fd, keyed by (dev, ino),
 * counted by the kernel's lookups and freed at the FORGET that brings the count to 0.
 *
 * Invariants: the FUSE node id of a passed-through inode is its address (after a handover:
 * the address it had in the image that gave it to the kernel, see handover.c) and its st_ino
 * is the one underneath (rpc.mountd notices a new etab by its inode number); the root is
 * FUSE_ROOT_ID and never freed; views are static inodes (view != NULL) outside the table.
 * An O_PATH fd follows its object across renames, so nothing here holds a path.
 * Lock order: inodes.lock is a leaf (no other lock is taken while holding it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/rfs.h>
#include <rmtabfs/view.h>

int rfs_inodes_init(struct rfs *fs, int root_fd)
{
	struct stat st;

	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	memset(&fs->root, 0, sizeof(fs->root));
	fs->root.fd = root_fd;
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 2;
	pthread_mutex_init(&fs->root.lock, NULL);
	pthread_mutex_init(&fs->inodes.lock, NULL);
	fs->inodes.nbuckets = 256;
	fs->inodes.buckets = calloc(fs->inodes.nbuckets, sizeof(*fs->inodes.buckets));
	return fs->inodes.buckets ? 0 : -ENOMEM;
}

static void inode_free(struct rfs_inode *inode)
{
	rfs_ho_unmap(inode);
	if (inode->fd >= 0)
		close(inode->fd);
	rfs_base_clear(&inode->base);
	pthread_mutex_destroy(&inode->lock);
	free(inode);
}

void rfs_inodes_destroy(struct rfs *fs)
{
	size_t i;

	for (i = 0; i < fs->inodes.nbuckets; i++) {
		struct rfs_inode *n = fs->inodes.buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			inode_free(n);
		}
	}
	free(fs->inodes.buckets);
	fs->inodes.buckets = NULL;
	rfs_base_clear(&fs->root.base);
}

struct rfs_inode *rfs_inode_of(struct rfs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return rfs_ho_ptr(ino);
}

static size_t bucket(const struct rfs_inodes *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static void grow(struct rfs_inodes *t)
{
	size_t n = t->nbuckets * 2, i;
	struct rfs_inode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct rfs_inode *x = t->buckets[i], *next;

		for (; x; x = next) {
			size_t k = (size_t)(((uint64_t)x->ino * 0x9e3779b97f4a7c15ull ^
					     (uint64_t)x->dev) >>
					    32) &
				   (n - 1);

			next = x->hnext;
			x->hnext = b[k];
			b[k] = x;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

int rfs_inode_lookup(struct rfs *fs, struct rfs_inode *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct rfs_inode *inode, *fresh = NULL;
	size_t b;
	int fd, rc;

	memset(e, 0, sizeof(*e));
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pthread_mutex_lock(&fs->inodes.lock);
	b = bucket(&fs->inodes, e->attr.st_dev, e->attr.st_ino);
	for (inode = fs->inodes.buckets[b]; inode; inode = inode->hnext)
		if (inode->dev == e->attr.st_dev && inode->ino == e->attr.st_ino)
			break;
	if (!inode && e->attr.st_dev == fs->root.dev && e->attr.st_ino == fs->root.ino)
		inode = &fs->root; /* ".." of a subdirectory */
	if (inode) {
		inode->nlookup++;
		pthread_mutex_unlock(&fs->inodes.lock);
		close(fd);
	} else {
		pthread_mutex_unlock(&fs->inodes.lock);
		fresh = rfs_ho_calloc(sizeof(*fresh));
		if (!fresh) {
			close(fd);
			return -ENOMEM;
		}
		fresh->fd = fd;
		fresh->dev = e->attr.st_dev;
		fresh->ino = e->attr.st_ino;
		fresh->type = e->attr.st_mode & S_IFMT;
		fresh->nlookup = 1;
		pthread_mutex_init(&fresh->lock, NULL);
		/* Another thread may have added it meanwhile: look again under the lock. */
		pthread_mutex_lock(&fs->inodes.lock);
		b = bucket(&fs->inodes, fresh->dev, fresh->ino);
		for (inode = fs->inodes.buckets[b]; inode; inode = inode->hnext)
			if (inode->dev == fresh->dev && inode->ino == fresh->ino)
				break;
		if (inode) {
			inode->nlookup++;
		} else {
			inode = fresh;
			inode->hnext = fs->inodes.buckets[b];
			fs->inodes.buckets[b] = inode;
			if (++fs->inodes.count > fs->inodes.nbuckets)
				grow(&fs->inodes);
			fresh = NULL;
		}
		pthread_mutex_unlock(&fs->inodes.lock);
		if (fresh)
			inode_free(fresh);
	}
	rfs_stat_hint(&e->attr);
	e->ino = inode == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)rfs_ho_id(inode);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 0;
}

void rfs_inode_forget(struct rfs *fs, struct rfs_inode *inode, uint64_t n)
{
	struct rfs_inode **link;

	if (inode == &fs->root)
		return;
	if (inode->view) {
		rfs_view_forget(inode, n); /* a generation inode goes at 0, the fixed ones never */
		return;
	}
	pthread_mutex_lock(&fs->inodes.lock);
	if (n > inode->nlookup) {
		rfs_err("forget of %llu lookups on an inode with %llu", (unsigned long long)n,
			(unsigned long long)inode->nlookup);
		n = inode->nlookup;
	}
	inode->nlookup -= n;
	if (inode->nlookup) {
		pthread_mutex_unlock(&fs->inodes.lock);
		return;
	}
	for (link = &fs->inodes.buckets[bucket(&fs->inodes, inode->dev, inode->ino)]; *link;
	     link = &(*link)->hnext)
		if (*link == inode) {
			*link = inode->hnext;
			fs->inodes.count--;
			break;
		}
	pthread_mutex_unlock(&fs->inodes.lock);
	inode_free(inode);
}

int rfs_inode_reopen(struct rfs *fs, struct rfs_inode *inode, int flags)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "%d", inode->fd);
	fd = openat(fs->proc_self_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

unsigned rfs_inode_writers(struct rfs *fs, dev_t dev, ino_t ino)
{
	struct rfs_inode *inode;
	unsigned n = 0;

	pthread_mutex_lock(&fs->inodes.lock);
	for (inode = fs->inodes.buckets[bucket(&fs->inodes, dev, ino)]; inode; inode = inode->hnext)
		if (inode->dev == dev && inode->ino == ino) {
			/* Lock order: inodes.lock is a leaf, so read without the inode's lock. */
			n = __atomic_load_n(&inode->writers, __ATOMIC_RELAXED);
			break;
		}
	pthread_mutex_unlock(&fs->inodes.lock);
	return n;
}

static int64_t view_index(struct rfs *fs, const struct rfs_view *v)
{
	size_t i;

	for (i = 0; v && i < fs->nviews; i++)
		if (fs->views[i] == v)
			return (int64_t)i;
	return -1;
}

static struct rfs_view *view_at(struct rfs *fs, uint64_t i, struct rfs_ho_in *in)
{
	if ((int64_t)i == -1)
		return NULL;
	if (i >= fs->nviews) {
		in->err = -EINVAL;
		return NULL;
	}
	return fs->views[i];
}

/* The handover (FUSE paused): every inode the kernel knows, with its write session. */
int rfs_inodes_save(struct rfs *fs, struct rfs_ho_out *o)
{
	size_t i;

	pthread_mutex_lock(&fs->inodes.lock);
	rfs_ho_put_u64(o, fs->inodes.count);
	for (i = 0; i < fs->inodes.nbuckets; i++) {
		struct rfs_inode *n;

		for (n = fs->inodes.buckets[i]; n; n = n->hnext) {
			rfs_ho_put_u64(o, rfs_ho_id(n));
			rfs_ho_put_fd(o, n->fd);
			rfs_ho_put_u64(o, n->dev);
			rfs_ho_put_u64(o, n->ino);
			rfs_ho_put_u64(o, n->type);
			rfs_ho_put_u64(o, n->top);
			rfs_ho_put_u64(o, n->nlookup);
			rfs_ho_put_u64(o, (uint64_t)view_index(fs, n->alias));
			pthread_mutex_lock(&n->lock);
			rfs_ho_put_u64(o, (uint64_t)view_index(fs, n->pending));
			rfs_ho_put_u64(o, n->writers);
			/* bit 1: refused (an older image reads "nonzero": dirty) */
			rfs_ho_put_u64(o, n->dirty | (uint64_t)(n->dirty && n->refused) << 1);
			rfs_ho_put_base(o, &n->base);
			pthread_mutex_unlock(&n->lock);
		}
	}
	pthread_mutex_unlock(&fs->inodes.lock);
	return o->err;
}

int rfs_inodes_restore(struct rfs *fs, struct rfs_ho_in *in)
{
	uint64_t n = rfs_ho_get_u64(in), k;

	for (k = 0; k < n && !in->err; k++) {
		struct rfs_inode *x = calloc(1, sizeof(*x));
		uint64_t id = rfs_ho_get_u64(in), v;
		size_t b;

		if (!x)
			return -ENOMEM;
		pthread_mutex_init(&x->lock, NULL);
		x->fd = rfs_ho_get_fd(in);
		x->dev = (dev_t)rfs_ho_get_u64(in);
		x->ino = (ino_t)rfs_ho_get_u64(in);
		x->type = (mode_t)rfs_ho_get_u64(in);
		x->top = rfs_ho_get_u64(in) != 0;
		x->nlookup = rfs_ho_get_u64(in);
		x->alias = view_at(fs, rfs_ho_get_u64(in), in);
		x->pending = view_at(fs, rfs_ho_get_u64(in), in);
		x->writers = (unsigned)rfs_ho_get_u64(in);
		v = rfs_ho_get_u64(in);
		x->dirty = (v & 1) != 0;
		x->refused = (v & 2) != 0;
		rfs_ho_get_base(in, &x->base);
		if (in->err || !id) {
			inode_free(x);
			return in->err ? in->err : -EINVAL;
		}
		rfs_ho_map(id, x);
		b = bucket(&fs->inodes, x->dev, x->ino);
		x->hnext = fs->inodes.buckets[b];
		fs->inodes.buckets[b] = x;
		if (++fs->inodes.count > fs->inodes.nbuckets)
			grow(&fs->inodes);
	}
	return in->err;
}
