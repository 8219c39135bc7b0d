/*
 * The caller's identity for passed-through system calls: the daemon runs as root and acts
 * on behalf of every caller, so the file system underneath must see the caller's file
 * system ids, supplementary groups and umask to decide what it decides without the mount
 * (owner and group of new objects, set-gid inheritance and stripping, clearing set-uid on
 * write and truncate, default ACLs, permission checks).
 */
#ifndef RMTABFS_CALLER_H
#define RMTABFS_CALLER_H

#include <stdbool.h>

#include <rmtabfs/compat.h>

/* What rfs_caller_enter switches. */
enum {
	RFS_AS_IDS = 1,	   /* fsuid and fsgid */
	RFS_AS_GROUPS = 2, /* supplementary groups too (permission checks underneath) */
	RFS_AS_UMASK = 4,  /* the caller's umask (creating requests) */
	RFS_AS_ALL = 7,
};

struct rfs_caller {
	bool ids;    /* fsuid/fsgid switched */
	bool groups; /* supplementary groups switched */
	bool umask;  /* the caller's umask set */
};

/*
 * At INIT, before any request: whether the kernel leaves the umask to us
 * (FUSE_CAP_DONT_MASK); also notes the daemon's own groups, restored at every leave.
 */
void rfs_caller_init(bool kernel_leaves_umask);

/*
 * Takes on the identity of req's caller in this thread for what `what` names. Returns 0
 * or -errno (nothing switched then). Every successful enter is followed by a leave before
 * the thread does anything else (the views, the journal and the store run as the daemon).
 */
int rfs_caller_enter(fuse_req_t req, int what, struct rfs_caller *c);
void rfs_caller_leave(struct rfs_caller *c);

/* Whether req's caller is root (uid 0), for the few answers the kernel leaves to us. */
bool rfs_caller_is_root(fuse_req_t req);

#endif
