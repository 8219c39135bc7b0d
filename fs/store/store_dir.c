/*
 * dir: store backend, a POSIX directory: the embedded default (a local directory, one
 * node) and any shared file system mounted on every node (then several nodes share it).
 *
 * Syscalls used, all relative to the root directory fd opened at connect: openat, pread,
 * pwrite, fsync (of files, and of directories after creating entries), fstat, ftruncate, mkdirat,
 * renameat, linkat, unlinkat, fdopendir/readdir, and fcntl(F_OFD_SETLK) for the owner lock: an
 * open-file-description lock, so it conflicts between two daemons even inside one process (tests)
 * and goes away with the fd. Not used: flock (not coherent on some network file systems), O_APPEND
 * (each file has one writer that knows where its end is). Invariant: the root fd stays open while
 * connected. No locks: one thread uses a store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/store.h>

struct rfs_sfile {
	int fd;
};

struct dir_priv {
	int rootfd;
};

static int dir_connect(struct rfs_store *s)
{
	struct dir_priv *p;
	int fd;

	/* The embedded default: create the directory (and its parent) on first use. */
	if (mkdir(s->spec.path, 0700) < 0 && errno != EEXIST) {
		char parent[PATH_MAX];
		char *slash;

		strcpy(parent, s->spec.path);
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			if (mkdir(parent, 0755) < 0 && errno != EEXIST)
				return -errno;
			if (mkdir(s->spec.path, 0700) < 0 && errno != EEXIST)
				return -errno;
		}
	}
	fd = open(s->spec.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->rootfd = fd;
	s->priv = p;
	return 0;
}

static void dir_disconnect(struct rfs_store *s, bool fast)
{
	struct dir_priv *p = s->priv;

	if (!p)
		return;
	close(p->rootfd);
	free(p);
	s->priv = NULL;
}

static int root(struct rfs_store *s)
{
	return ((struct dir_priv *)s->priv)->rootfd;
}

static int dir_mkdir(struct rfs_store *s, const char *rel)
{
	if (mkdirat(root(s), rel, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int dir_open(struct rfs_store *s, const char *rel, int flags, struct rfs_sfile **f)
{
	int fd = openat(root(s), rel, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	*f = malloc(sizeof(**f));
	if (!*f) {
		close(fd);
		return -ENOMEM;
	}
	(*f)->fd = fd;
	return 0;
}

static void dir_close(struct rfs_sfile *f)
{
	close(f->fd);
	free(f);
}

static ssize_t dir_pread(struct rfs_sfile *f, void *buf, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pread(f->fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t dir_pwrite(struct rfs_sfile *f, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int dir_fsync(struct rfs_sfile *f)
{
	return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int dir_size(struct rfs_sfile *f, off_t *size)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	*size = st.st_size;
	return 0;
}

static int dir_truncate(struct rfs_sfile *f, off_t size)
{
	return ftruncate(f->fd, size) < 0 ? -errno : 0;
}

static int dir_lock(struct rfs_sfile *f)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0)
		return (errno == EACCES || errno == EAGAIN) ? -EAGAIN : -errno;
	return 0;
}

static int dir_list(struct rfs_store *s, const char *rel, int (*fn)(void *, const char *),
		    void *ctx)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	fd = openat(root(s), rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d)) && !rc) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(ctx, de->d_name);
	}
	closedir(d);
	return rc;
}

static int dir_rename(struct rfs_store *s, const char *from, const char *to)
{
	return renameat(root(s), from, root(s), to) < 0 ? -errno : 0;
}

static int dir_link(struct rfs_store *s, const char *from, const char *to)
{
	return linkat(root(s), from, root(s), to, 0) < 0 ? -errno : 0;
}

static int dir_unlink(struct rfs_store *s, const char *rel)
{
	return unlinkat(root(s), rel, 0) < 0 && errno != ENOENT ? -errno : 0;
}

static int dir_sync_dir(struct rfs_store *s, const char *rel)
{
	int fd = openat(root(s), *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

const struct rfs_store_ops rfs_store_dir_ops = {
	.scheme = "dir",
	.connect = dir_connect,
	.disconnect = dir_disconnect,
	.mkdir = dir_mkdir,
	.open = dir_open,
	.close = dir_close,
	.pread = dir_pread,
	.pwrite = dir_pwrite,
	.fsync = dir_fsync,
	.size = dir_size,
	.truncate = dir_truncate,
	.lock = dir_lock,
	.list = dir_list,
	.rename = dir_rename,
	.link = dir_link,
	.unlink = dir_unlink,
	.sync_dir = dir_sync_dir,
};
