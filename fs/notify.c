/*
 * Notifier thread (see include/rmtabfs/notify.h).
 *
 * libfuse's notify calls write to /dev/fuse and may wait for kernel locks that a request
 * in flight holds; called from a request handler they can deadlock (doc/README.notifications),
 * so handlers and the replication thread only queue work here. Invariants: work queued
 * before a wake-up is done after it; repeated view invalidations coalesce into one.
 * Lock order: notify.lock (the queue; never held across a notify call), then send_lock (held
 * by the thread across its sends, so rfs_notify_quiesce() can wait for the one in flight
 * before the session is unmounted).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	pthread_mutex_t send_lock; /* held by the thread while it sends */
	pthread_cond_t cond;
	bool stop;
	bool quiet; /* the session is going away: send nothing more */
	bool views;
	struct entry_work *entries;
	_Atomic unsigned long sent;
};

static bool ignorable(int rc)
{
	/* The kernel does not know the inode, or the mount is going away. */
	return rc == 0 || rc == -ENOENT || rc == -EBADF || rc == -ENODEV || rc == -ENOTCONN;
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
		views = n->views && !n->quiet;
		entries = n->entries;
		n->views = false;
		n->entries = NULL;
		if (n->quiet) {
			while (entries) {
				struct entry_work *next = entries->next;

				free(entries);
				entries = next;
			}
			continue;
		}
		/* Held across the sends so that quiesce waits for the one in flight. */
		pthread_mutex_lock(&n->send_lock);
		pthread_mutex_unlock(&n->lock);

		while (entries) {
			struct entry_work *next = entries->next;
			int rc = fuse_lowlevel_notify_inval_entry(
				n->fs->se, entries->parent, entries->name, strlen(entries->name));

			if (!ignorable(rc))
				rfs_debug("invalidating entry %s: %s", entries->name,
					  strerror(-rc));
			free(entries);
			entries = next;
			n->sent++;
		}
		for (i = 0; views && i < n->fs->nviews; i++) {
			int rc = fuse_lowlevel_notify_inval_inode(
				n->fs->se, rfs_view_ino(n->fs->views[i]), 0, 0);

			if (!ignorable(rc))
				rfs_debug("invalidating %s: %s", n->fs->views[i]->name,
					  strerror(-rc));
			n->sent++;
		}
		pthread_mutex_unlock(&n->send_lock);
		pthread_mutex_lock(&n->lock);
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
	pthread_mutex_init(&n->send_lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (pthread_create(&n->thread, NULL, notify_main, n)) {
		free(n);
		return NULL;
	}
	return n;
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
	pthread_mutex_destroy(&n->send_lock);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void rfs_notify_quiesce(struct rfs_notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->quiet = true;
	pthread_mutex_unlock(&n->lock);
	/* Whatever send was in flight has finished once this lock is free. */
	pthread_mutex_lock(&n->send_lock);
	pthread_mutex_unlock(&n->send_lock);
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
