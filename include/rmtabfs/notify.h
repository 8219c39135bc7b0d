/*
 * The notifier thread: the only place that calls libfuse's notify functions, which must
 * never run inside a request handler. Others only queue work and return.
 */
#ifndef RMTABFS_NOTIFY_H
#define RMTABFS_NOTIFY_H

#include <rmtabfs/rfs.h>

struct rfs_notify *rfs_notify_start(struct rfs *fs);
/*
 * First step of the stop, before the session's unmount: no notify call starts any more, and
 * waits (at most max_ms) for one in progress. rfs_notify_stop then joins the thread.
 */
void rfs_notify_quiesce(struct rfs_notify *n, int max_ms);
void rfs_notify_stop(struct rfs_notify *n);
/* The record set changed: drop the kernel's cached pages and attributes of every view. */
void rfs_notify_views(struct rfs_notify *n);
/* Drop the kernel's cached entry parent/name (a file was renamed onto a view). */
void rfs_notify_entry(struct rfs_notify *n, fuse_ino_t parent, const char *name);
/* Invalidations sent so far (for status). */
unsigned long rfs_notify_count(struct rfs_notify *n);

#endif
