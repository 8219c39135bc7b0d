/*
 * Per-request identity for the passthrough (include/rmtabfs/caller.h).
 *
 * The kernel checks permissions on the FUSE inodes first (default_permissions, ACLs with
 * FUSE_CAP_POSIX_ACL); the passthrough then makes the call underneath with the caller's
 * fsuid, fsgid, supplementary groups and umask, so that the file system underneath takes
 * every identity-dependent decision itself, exactly as it would for the caller without
 * the mount: owners of new objects, set-gid directories, set-gid stripping, killing
 * set-uid/set-gid on write, truncate and chown, ACL inheritance and its mode update.
 *
 * Invariants: everything here is per thread. setfsuid/setfsgid are per thread in Linux;
 * glibc's setgroups() is process-wide (it signals every thread), so the raw system call is
 * used; the umask lives in fs_struct, which each FUSE worker thread unshares (CLONE_FS) the
 * first time it needs it, and every leave sets it back to the daemon's (a thread that
 * libfuse starts from an unshared worker shares that worker's fs_struct until it needs its
 * own, so it may see a caller's umask for the duration of one of its creator's creates).
 * A non-root fsuid drops the file-system capabilities (CAP_CHOWN,
 * CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, ...) from the thread's effective set and
 * setfsuid(0) restores them. A root caller (uid 0) keeps the daemon's capabilities.
 * No locks.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rmtabfs/caller.h>
#include <rmtabfs/log.h>

static bool dont_mask;
static mode_t daemon_umask;	/* restored at every leave */
static gid_t daemon_groups[64]; /* restored at leave */
static int ndaemon_groups;
static __thread int fs_unshared; /* 0 not tried, 1 own fs_struct, -1 failed */

void rfs_caller_init(bool kernel_leaves_umask)
{
	int n = getgroups(64, daemon_groups);

	ndaemon_groups = n < 0 ? 0 : n;
	dont_mask = kernel_leaves_umask;
	daemon_umask = umask(022);
	umask(daemon_umask);
}

bool rfs_caller_is_root(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == 0;
}

static int set_groups(size_t n, const gid_t *list)
{
	return syscall(SYS_setgroups, n, list) < 0 ? -errno : 0;
}

/* The caller's supplementary groups (from /proc, by libfuse); none if it has gone. */
static int caller_groups(fuse_req_t req, gid_t **out)
{
	gid_t small[32], *list = small;
	int n = fuse_req_getgroups(req, 32, small);

	*out = NULL;
	if (n < 0)
		return 0; /* the caller exited, or no /proc: primary group only */
	if (n > 32) {
		int cap = n;

		list = malloc((size_t)cap * sizeof(*list));
		if (!list)
			return -ENOMEM;
		n = fuse_req_getgroups(req, cap, list);
		if (n < 0) {
			free(list);
			return 0;
		}
		if (n > cap)
			n = cap; /* it gained groups meanwhile: the ones read */
	}
	*out = malloc(((size_t)n + 1) * sizeof(**out));
	if (!*out) {
		if (list != small)
			free(list);
		return -ENOMEM;
	}
	memcpy(*out, list, (size_t)n * sizeof(*list));
	if (list != small)
		free(list);
	return n;
}

static void set_umask(mode_t m)
{
	if (!fs_unshared) {
		if (unshare(CLONE_FS) == 0) {
			fs_unshared = 1;
		} else {
			fs_unshared = -1;
			rfs_warn("unshare(CLONE_FS): %s: new files get the daemon's umask",
				 strerror(errno));
		}
	}
	if (fs_unshared > 0)
		umask(m);
}

/* Back to the daemon's umask: other code in this thread (views, staging) creates files too. */
static void reset_umask(void)
{
	if (fs_unshared > 0)
		umask(daemon_umask);
}

int rfs_caller_enter(fuse_req_t req, int what, struct rfs_caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t *groups = NULL;
	int n = 0, rc;

	memset(c, 0, sizeof(*c));
	/* Without FUSE_CAP_DONT_MASK the kernel has applied it already: never twice. */
	if (what & RFS_AS_UMASK) {
		set_umask(dont_mask ? ctx->umask & 0777 : 0);
		c->umask = true;
	}
	if (!(what & RFS_AS_IDS) || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	if ((what & RFS_AS_GROUPS) && ctx->uid != 0) {
		n = caller_groups(req, &groups);
		rc = n < 0 ? n : set_groups((size_t)n, groups);
		free(groups);
		if (rc) {
			rfs_caller_leave(c);
			return rc;
		}
		c->groups = true;
	}
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	c->ids = true;
	if ((uid_t)setfsuid((uid_t)-1) != ctx->uid || (gid_t)setfsgid((gid_t)-1) != ctx->gid) {
		rfs_caller_leave(c);
		return -EPERM;
	}
	return 0;
}

void rfs_caller_leave(struct rfs_caller *c)
{
	if (c->ids) {
		setfsuid(0);
		setfsgid(0);
	}
	if (c->groups)
		set_groups((size_t)ndaemon_groups, daemon_groups);
	if (c->umask)
		reset_umask();
	c->ids = c->groups = c->umask = false;
}
