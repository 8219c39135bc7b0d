/*
 * Notifier thread (see include/rmtabfs/notify.h).
 *
 * libfuse's notify calls write to /dev/fuse and may wait for kernel locks that a request
 * in flight holds; called from a request handler they can deadlock (doc/README.notifications),
 * so handlers and the replication thread only queue work here. Invariants: work queued
 * before a wake-up is done after it; repeated view invalidations coalesce into one.
 * At stop, rfs_notify_quiesce comes before the session's unmount: no notify call is in
 * progress or starts once it returned (libfuse closes /dev/fuse at unmount, and a later
 * write would go to whatever file reused the descriptor), unless one is stuck in the kernel
 * longer than its bound, which the unmount then ends.
 * Lock: notify.lock protects the queue and busy only (leaf; never held across a notify call).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rmtabfs/log.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/view.h>

struct entry_work {
	struct entry_work *next;
	fuse_ino_t parent;
	char name[];
};

struct rfs_notify {
	struct rfs *fs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle; /* busy went false */
	bool stop;
	bool busy;	   /* a batch of notify calls is in progress */
	_Atomic bool quit; /* stop now, even within a batch */
	bool views;
	struct entry_work *entries;
	_Atomic unsigned long sent;
};

static bool ignorable(int rc)
{
	/* The kernel does not know the inode, or the mount is going away. */
	return rc == 0 || rc == -ENOENT || rc == -EBADF || rc == -ENODEV || rc == -ENOTCONN;
}

/*
 * After a change: the fixed inode's attributes, and the pages of the generation inodes no new
 * open reads any more (freed now rather than when the kernel next walks the name). Never the
 * name itself: by now it may point to the newest generation, whose pages a reader just filled.
 */
static void drop_view_pages(struct rfs_notify *n, struct rfs_view *v)
{
	fuse_ino_t inos[1 + 16];
	size_t k, count;

	inos[0] = rfs_view_ino(v);
	count = 1 + rfs_vgen_stale(&v->gens, inos + 1, 16);
	for (k = 0; k < count && !n->quit; k++) {
		int rc = fuse_lowlevel_notify_inval_inode(n->fs->se, inos[k], 0, 0);

		if (!ignorable(rc))
			rfs_debug("invalidating %s (node %llu): %s", v->name,
				  (unsigned long long)inos[k], strerror(-rc));
		n->sent++;
	}
}

static void *notify_main(void *arg)
{
	struct rfs_notify *n = arg;

	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		struct entry_work *entries;
		bool views;
		size_t i;

		if (!n->views && !n->entries) {
			pthread_cond_wait(&n->cond, &n->lock);
			continue;
		}
		views = n->views;
		entries = n->entries;
		n->views = false;
		n->entries = NULL;
		n->busy = true;
		pthread_mutex_unlock(&n->lock);

		while (entries) {
			struct entry_work *next = entries->next;
			int rc = n->quit ? 0
					 : fuse_lowlevel_notify_inval_entry(
						   n->fs->se, entries->parent, entries->name,
						   strlen(entries->name));

			if (!ignorable(rc))
				rfs_debug("invalidating entry %s: %s", entries->name,
					  strerror(-rc));
			free(entries);
			entries = next;
			n->sent++;
		}
		for (i = 0; views && !n->quit && i < n->fs->nviews; i++)
			drop_view_pages(n, n->fs->views[i]);
		pthread_mutex_lock(&n->lock);
		n->busy = false;
		pthread_cond_broadcast(&n->idle);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

struct rfs_notify *rfs_notify_start(struct rfs *fs)
{
	struct rfs_notify *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->fs = fs;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	pthread_cond_init(&n->idle, NULL);
	if (pthread_create(&n->thread, NULL, notify_main, n)) {
		free(n);
		return NULL;
	}
	return n;
}

void rfs_notify_quiesce(struct rfs_notify *n, int max_ms)
{
	struct timespec until;

	if (!n)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += max_ms / 1000;
	until.tv_nsec += (long)(max_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	n->quit = true;
	pthread_cond_signal(&n->cond);
	while (n->busy) {
		if (pthread_cond_timedwait(&n->idle, &n->lock, &until) == ETIMEDOUT) {
			rfs_warn("stopping: a kernel invalidation is still in progress after %d ms",
				 max_ms);
			break;
		}
	}
	pthread_mutex_unlock(&n->lock);
}

void rfs_notify_stop(struct rfs_notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	while (n->entries) {
		struct entry_work *next = n->entries->next;

		free(n->entries);
		n->entries = next;
	}
	pthread_cond_destroy(&n->cond);
	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void rfs_notify_views(struct rfs_notify *n)
{
	pthread_mutex_lock(&n->lock);
	if (!n->views) {
		n->views = true;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

void rfs_notify_entry(struct rfs_notify *n, fuse_ino_t parent, const char *name)
{
	size_t len = strlen(name);
	struct entry_work *w = malloc(sizeof(*w) + len + 1);

	if (!w)
		return; /* the entry then expires by its timeout */
	w->parent = parent;
	memcpy(w->name, name, len + 1);
	pthread_mutex_lock(&n->lock);
	w->next = n->entries;
	n->entries = w;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

unsigned long rfs_notify_count(struct rfs_notify *n)
{
	return n->sent;
}
