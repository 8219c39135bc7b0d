/*
 * A store backend's wake-up hint (fs/store_watch.c): an eventfd the backend signals from
 * whichever thread learns of a change (a watcher thread of its own, a libgfapi callback), and
 * the bookkeeping that tells whether the hint works. The replication thread looks at another
 * node's log through the backend's size(); each time the log has grown, the hint either came
 * since it last looked at that file ("after a hint") or did not ("by the poll alone"). Many
 * changes in a row by the poll alone, with no hint at all meanwhile, mean the hint is not
 * working here: that is logged once, with the backend's advice, and again when hints resume.
 */
#ifndef RMTABFS_STORE_WATCH_H
#define RMTABFS_STORE_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rmtabfs/store.h>

/* Changes found by the poll alone, in a row and without any hint, before a warning. */
#define RFS_WATCH_MISS_WARN 20

/* What a backend keeps per file opened read-only, for rfs_watch_note_size. */
struct rfs_watch_mark {
	uint64_t watch_id; /* the hint of the last look; 0: not looked at yet */
	uint64_t hints;	   /* its count of hints then */
	off_t size;
};

struct rfs_watch_stats {
	uint64_t hints;	     /* signals so far */
	uint64_t after_hint; /* other nodes' changes found after a hint */
	uint64_t by_poll;    /* ... by the poll alone */
	bool failing;	     /* RFS_WATCH_MISS_WARN of them in a row, no hint since */
};

/*
 * how: what the hint is, for the log ("inotify on nodes/"); advice: what to check when it
 * does not work. Both are copied. NULL on ENOMEM or when no eventfd can be made.
 */
struct rfs_watch *rfs_watch_new(const char *how, const char *advice);
/* Logs what the hint did, closes the eventfd, frees. */
void rfs_watch_free(struct rfs_watch *w);
/* Logs what the hint did; it stays usable (a callback may still signal it) and is never freed. */
void rfs_watch_retire(struct rfs_watch *w);
/* Any thread, no lock, never blocks: another node may have written. */
void rfs_watch_signal(struct rfs_watch *w);
/* Any thread: the backend's watch is gone (its directory was replaced): start it anew. */
void rfs_watch_set_broken(struct rfs_watch *w);
bool rfs_watch_broken(const struct rfs_watch *w);
int rfs_watch_fd(const struct rfs_watch *w);
/* Replication thread only (the counters but hints are its own). */
void rfs_watch_get_stats(const struct rfs_watch *w, struct rfs_watch_stats *st);
/*
 * The backend's size() of a file opened read-only (another node's log) found size: counts a
 * change, if any, as after a hint or by the poll alone. Replication thread only.
 */
void rfs_watch_note_size(struct rfs_store *s, struct rfs_watch_mark *m, off_t size);

#endif
