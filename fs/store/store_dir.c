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
 *
 * Wake-up hint (watch): inotify on nodes/ (IN_MODIFY, IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO),
 * read by a thread of its own that signals the hint for every event but those of this node's
 * own files (its writes would wake it for nothing). inotify reports what this machine's kernel
 * sees: on a network file system, writes made on other machines never show, and the poll
 * finds them (store_watch.c says so in the log when that happens). The thread touches only its
 * inotify fd, its stop eventfd and the hint's signal; it is stopped and joined before the hint
 * is freed (watch again, disconnect). If nodes/ goes away (deleted, moved, its file system
 * unmounted) the hint is marked broken and started anew by the next rfs_store_watch_fd().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <rmtabfs/log.h>
#include <rmtabfs/record.h>
#include <rmtabfs/store_watch.h>

struct rfs_sfile {
	int fd;
	struct rfs_store *s;
	bool reader; /* opened read-only: another node's file, for the hint's bookkeeping */
	struct rfs_watch_mark mark;
};

/* The inotify reader of a hint. */
struct dir_watch {
	pthread_t thread;
	int ifd;
	int stopfd; /* eventfd: readable = stop */
	struct rfs_watch *w;
	char self[RFS_NODE_MAX + 1];
};

struct dir_priv {
	int rootfd;
	struct dir_watch *dw;
};

static void unwatch(struct rfs_store *s);

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
	unwatch(s);
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
	(*f)->s = s;
	(*f)->reader = (flags & O_ACCMODE) == O_RDONLY;
	(*f)->mark.watch_id = 0;
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
	if (f->reader)
		rfs_watch_note_size(f->s, &f->mark, st.st_size);
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

/* SELF.log, SELF.log.N, SELF.owner: this node's own files, whose changes are no hint. */
static bool own_file(const char *name, const char *self)
{
	size_t k = strlen(self);
	const char *rest = name + k;

	if (!k || strncmp(name, self, k) != 0)
		return false;
	if (strcmp(rest, ".owner") == 0 || strcmp(rest, ".log") == 0)
		return true;
	if (strncmp(rest, ".log.", 5) != 0 || !rest[5])
		return false;
	return strspn(rest + 5, "0123456789") == strlen(rest + 5);
}

static void *watch_main(void *arg)
{
	struct dir_watch *dw = arg;
	/* Aligned as inotify(7) asks; several events per read. */
	char buf[8 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd pfd[2] = {{.fd = dw->ifd, .events = POLLIN},
					{.fd = dw->stopfd, .events = POLLIN}};
		bool hint = false, gone = false;
		ssize_t n;
		char *p;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(dw->ifd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			gone = true;
		}
		for (p = buf; n > 0 && p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
				gone = true;
			else if (ev->mask & IN_Q_OVERFLOW)
				hint = true; /* events were lost: some may have been ours to see */
			else if (!ev->len || !own_file(ev->name, dw->self))
				hint = true;
			p += sizeof(*ev) + ev->len;
		}
		if (gone) {
			rfs_watch_set_broken(dw->w);
			break;
		}
		if (hint)
			rfs_watch_signal(dw->w);
	}
	return NULL;
}

/* Stops and frees the hint, if any. */
static void unwatch(struct rfs_store *s)
{
	struct dir_priv *p = s->priv;
	struct dir_watch *dw = p->dw;
	uint64_t one = 1;

	if (!dw)
		return;
	if (write(dw->stopfd, &one, sizeof(one)) < 0)
		rfs_warn("store wake-up hint: cannot stop its thread: %s", strerror(errno));
	pthread_join(dw->thread, NULL);
	close(dw->ifd);
	close(dw->stopfd);
	rfs_watch_free(dw->w);
	free(dw);
	p->dw = NULL;
	s->watch = NULL;
}

/* Is directory fd on a file system whose other machines' writes inotify never reports? */
static const char *network_fs(int fd)
{
	static const struct {
		long magic;
		const char *name;
	} kinds[] = {
		{0x6969, "NFS"},      {0xff534d42, "CIFS"},  {0xfe534d42, "SMB2"},
		{0x65735546, "FUSE"}, {0x00c36400, "Ceph"},  {0x01021997, "9P"},
		{0x5346414f, "AFS"},  {0x7461636f, "OCFS2"}, {0x01161970, "GFS2"},
	};
	struct statfs sf;
	size_t i;

	if (fstatfs(fd, &sf) < 0)
		return NULL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((unsigned long)sf.f_type == (unsigned long)kinds[i].magic)
			return kinds[i].name;
	return NULL;
}

static int dir_watch(struct rfs_store *s, const char *rel, const char *self)
{
	struct dir_priv *p = s->priv;
	struct dir_watch *dw;
	char path[64 + NAME_MAX], how[64];
	const char *net;
	int rc, dfd;

	unwatch(s);
	dfd = openat(p->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	net = network_fs(dfd);
	dw = calloc(1, sizeof(*dw));
	if (!dw) {
		close(dfd);
		return -ENOMEM;
	}
	snprintf(dw->self, sizeof(dw->self), "%s", self);
	dw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	dw->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = dw->ifd < 0 || dw->stopfd < 0 ? -errno : 0;
	/* The directory just opened, whatever its path names by now. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dfd);
	if (!rc && inotify_add_watch(dw->ifd, path,
				     IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO |
					     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
		rc = -errno;
	close(dfd);
	snprintf(how, sizeof(how), "inotify on %s/", rel);
	if (!rc && !(dw->w = rfs_watch_new(
			     how, "inotify reports only what this machine writes: on a network "
				  "file system the writes of other machines are found by the poll "
				  "alone (poll=); watch=off saves the thread")))
		rc = -ENOMEM;
	if (!rc)
		rc = -pthread_create(&dw->thread, NULL, watch_main, dw);
	if (rc) {
		if (dw->ifd >= 0)
			close(dw->ifd);
		if (dw->stopfd >= 0)
			close(dw->stopfd);
		if (dw->w)
			rfs_watch_free(dw->w);
		free(dw);
		return rc;
	}
	p->dw = dw;
	s->watch = dw->w;
	rfs_notice("store wake-up hint: %s", how);
	if (net)
		rfs_notice("store %s is on %s: inotify sees only this machine's writes; other "
			   "machines' are found by the poll (poll=)",
			   s->spec.path, net);
	return 0;
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
	.watch = dir_watch,
};
