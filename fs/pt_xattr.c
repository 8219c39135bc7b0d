/*
 * Extended attributes of passed-through objects, POSIX ACLs included (system.posix_acl_*
 * pass through as the kernel encodes them; with FUSE_CAP_POSIX_ACL the kernel enforces
 * them from what getxattr answers here).
 *
 * Invariants: the object is reached through /proc/self/fd/N of its O_PATH fd (the *xattr
 * calls take no O_PATH descriptor); a symbolic link cannot be reached that way (the path
 * would name the /proc link itself), so a link shows no attributes and refuses to get
 * any (EPERM, what ext4 says for user.* on a link). Changes run as the caller
 * (caller.c): the file system underneath checks ownership for ACLs and updates the mode
 * and its set-gid bit as it would for the caller. Every handler replies once. No locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <rmtabfs/caller.h>
#include <rmtabfs/passthrough.h>

#define XATTR_LIST_MAX_BYTES  65536
#define XATTR_VALUE_MAX_BYTES 65536

static void proc_path(const struct rfs_inode *inode, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", inode->fd);
}

void pt_getxattr(fuse_req_t req, struct rfs_inode *inode, const char *name, size_t size)
{
	char path[64], *value = NULL;
	ssize_t n;

	if (inode->type == S_IFLNK) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	proc_path(inode, path, sizeof(path));
	if (size == 0) {
		n = getxattr(path, name, NULL, 0);
		if (n < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_xattr(req, (size_t)n);
		return;
	}
	if (size > XATTR_VALUE_MAX_BYTES)
		size = XATTR_VALUE_MAX_BYTES;
	value = malloc(size);
	if (!value) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = getxattr(path, name, value, size);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, value, (size_t)n);
	free(value);
}

/*
 * Drops trusted.* names for a caller that is not root: ext4 lists them only to
 * CAP_SYS_ADMIN, and the daemon has it for every caller. Returns the new length.
 */
static size_t filter_trusted(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t l = strnlen(list + in, len - in) + 1;

		if (strncmp(list + in, "trusted.", 8) != 0) {
			memmove(list + out, list + in, l);
			out += l;
		}
		in += l;
	}
	return out;
}

void pt_listxattr(fuse_req_t req, struct rfs_inode *inode, size_t size)
{
	char path[64], *list;
	ssize_t n;

	if (inode->type == S_IFLNK) {
		if (size == 0)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	proc_path(inode, path, sizeof(path));
	/* Always read the whole list: the filtered size is what the caller must see. */
	list = malloc(XATTR_LIST_MAX_BYTES);
	if (!list) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = listxattr(path, list, XATTR_LIST_MAX_BYTES);
	if (n < 0) {
		fuse_reply_err(req, errno);
		free(list);
		return;
	}
	if (!rfs_caller_is_root(req))
		n = (ssize_t)filter_trusted(list, (size_t)n);
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, (size_t)n);
	free(list);
}

void pt_setxattr(fuse_req_t req, struct rfs_inode *inode, const char *name, const char *value,
		 size_t size, int flags)
{
	struct rfs_caller as;
	char path[64];
	int rc;

	if (inode->type == S_IFLNK) {
		fuse_reply_err(req, EPERM);
		return;
	}
	proc_path(inode, path, sizeof(path));
	rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = setxattr(path, name, value, size, flags) < 0 ? errno : 0;
	rfs_caller_leave(&as);
	fuse_reply_err(req, rc);
}

void pt_removexattr(fuse_req_t req, struct rfs_inode *inode, const char *name)
{
	struct rfs_caller as;
	char path[64];
	int rc;

	if (inode->type == S_IFLNK) {
		fuse_reply_err(req, EPERM);
		return;
	}
	proc_path(inode, path, sizeof(path));
	rc = rfs_caller_enter(req, RFS_AS_IDS | RFS_AS_GROUPS, &as);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = removexattr(path, name) < 0 ? errno : 0;
	rfs_caller_leave(&as);
	fuse_reply_err(req, rc);
}
