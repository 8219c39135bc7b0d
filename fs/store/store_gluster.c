/*
 * gluster:// store backend: a directory of a Gluster volume, through libgfapi.
 *
 * gfapi calls used: glfs_new, glfs_set_volfile_server (one per server: glusterd only hands
 * out the volume graph, bricks are then reached directly), glfs_set_logging, glfs_init,
 * glfs_mkdir, glfs_open/glfs_creat, glfs_pread/glfs_pwrite with explicit offsets (the glfd
 * offset is not thread-safe, and each file has one writer that knows its end),
 * glfs_fdatasync, glfs_fstat, glfs_ftruncate, glfs_posix_lock after glfs_fd_set_lkowner,
 * glfs_opendir/glfs_readdir_r, glfs_fsync of a directory fd (sync_dir), glfs_rename, glfs_link,
 * glfs_unlink, glfs_close, glfs_upcall_register/unregister (the wake-up hint, below). Not
 * used: leases; glfs_h_poll_upcall (a thread would have to poll it: the callback is as quick and
 * costs nothing while idle); glfs_fini at exit (it waits up to 10 s in glusterfs 10.3; every fd
 * is fsync'ed and closed instead, so nothing is pending).
 *
 * Wake-up hint (watch): glfs_upcall_register(GLFS_EVENT_INODE_INVALIDATE). A brick with
 * features.cache-invalidation on tells every client that touched an inode within
 * features.cache-invalidation-timeout (default 60 s) when another client changes it: a write
 * to another node's log we keep open and fstat every poll, a create or rename in nodes/, which
 * we list every second, as a parent-directory event. gfapi runs the callback in a synctask
 * (syncenv thread); it only signals the hint's eventfd and frees the event. Upcalls are only a
 * hint: glfs_upcall_register succeeds without the volume option (nothing then arrives), events
 * sent while the client is disconnected are lost, a client never hears of its own changes,
 * and an idle inode past the timeout is not reported; the poll stays for all of that, and
 * store_watch.c warns when changes keep arriving without a hint. Teardown: unregister, but a
 * callback already running may still hold the hint after that (gfapi reads up_cbk and up_data
 * without its lock), so without a glfs_fini to wait for it (a fast disconnect) the hint is not
 * freed but kept on a list for the process's life.
 *
 * Invariants: one glfs_t per store side process (rmtabfs-store) for its whole life once
 * glfs_init succeeded; on ENOTCONN the caller retries and the glfs_t reconnects by itself.
 * While no glusterd answers, no glfs_t is made at all (a TCP probe of the volfile servers
 * first).
 * A failed glfs_init leaks about 8 KB in libglusterfs 10.3 even after glfs_fini, and with
 * glusterd up but the volume stopped or not yet created every retry fails that way (measured:
 * ~0.5 MB of RSS a minute); its glfs_fini has crashed too. So a failed glfs_t is never
 * finished: the store side process (rmtabfs-store) ends after a failed connect and the mount
 * side starts a fresh one (with backoff).
 * Every fd that
 * locks has its own lock owner (gfapi keeps the owner thread-locally otherwise, see the
 * notes). No locks here: only the replication thread of the store side calls this backend.
 */
#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#include <rmtabfs/log.h>
#include <rmtabfs/store.h>
#include <rmtabfs/store_watch.h>

struct rfs_sfile {
	glfs_fd_t *fd;
	struct rfs_store *s;
	bool reader; /* opened read-only: another node's file, for the hint's bookkeeping */
	struct rfs_watch_mark mark;
};

struct gl_priv {
	glfs_t *fs;
	struct rfs_watch *watch; /* registered as the upcall callback's data */
};

/* Hints a callback may still use after a fast disconnect (see above): kept, reachable. */
struct retired_hint {
	struct retired_hint *next;
	struct rfs_watch *w;
};
static struct retired_hint *retired_hints;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;

/* Is some volfile server accepting TCP connections? Cheap, and fails at once when refused. */
static int probe_servers(const struct rfs_store_spec *spec)
{
	int rc = -ENOTCONN;
	size_t i;

	for (i = 0; i < spec->nservers && rc; i++) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
		char port[16];

		snprintf(port, sizeof(port), "%d", spec->ports[i]);
		if (getaddrinfo(spec->servers[i], port, &hints, &res) != 0) {
			rc = -EHOSTUNREACH;
			continue;
		}
		for (ai = res; ai && rc; ai = ai->ai_next) {
			struct timeval tv = {.tv_sec = 1};
			int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

			if (fd < 0)
				continue;
			/* Bounded: an unroutable server must not stall the retry loop. */
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
				rc = 0;
			else
				rc = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
			close(fd);
		}
		freeaddrinfo(res);
	}
	return rc;
}

static void abs_path(struct rfs_store *s, const char *rel, char *out, size_t len)
{
	if (strcmp(s->spec.path, "/") == 0)
		snprintf(out, len, "/%s", rel);
	else
		snprintf(out, len, "%s/%s", s->spec.path, rel);
}

static int gl_connect(struct rfs_store *s)
{
	struct gl_priv *p;
	glfs_t *fs;
	size_t i;
	char dir[PATH_MAX], *c;
	int rc;

	rc = probe_servers(&s->spec);
	if (rc)
		return rc;
	fs = glfs_new(s->spec.volume);
	if (!fs)
		return -ENOMEM;
	for (i = 0; i < s->spec.nservers; i++)
		if (glfs_set_volfile_server(fs, "tcp", s->spec.servers[i], s->spec.ports[i]) < 0) {
			rc = -errno;
			glfs_fini(fs);
			return rc;
		}
	/* gfapi's own log: warnings and errors only, beside our state. */
	glfs_set_logging(fs, s->logfile[0] ? s->logfile : "/dev/null", 4);
	if (glfs_init(fs) < 0) {
		/*
		 * Not finished here: glfs_fini of a failed glfs_t leaks and has crashed; the
		 * store side process ends after a failed connect and takes it along.
		 */
		rc = errno ? -errno : -EIO;
		s->failed_connects++;
		return rc;
	}
	s->failed_connects = 0;
	/* The store directory inside the volume, created on first use. */
	snprintf(dir, sizeof(dir), "%s", s->spec.path);
	for (c = dir + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (glfs_mkdir(fs, dir, 0755) < 0 && errno != EEXIST)
			rfs_debug("glfs_mkdir %s: %s", dir, strerror(errno));
		*c = '/';
	}
	if (strcmp(dir, "/") != 0 && glfs_mkdir(fs, dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		glfs_fini(fs);
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		glfs_fini(fs);
		return -ENOMEM;
	}
	p->fs = fs;
	s->priv = p;
	return 0;
}

static void gl_disconnect(struct rfs_store *s, bool fast)
{
	struct gl_priv *p = s->priv;

	if (!p)
		return;
	if (p->watch)
		glfs_upcall_unregister(p->fs, GLFS_EVENT_ANY);
	/* At exit the process ends right after; glfs_fini would only add up to 10 s. */
	if (!fast)
		glfs_fini(p->fs); /* also waits for the synctasks, callbacks included */
	if (p->watch && !fast) {
		rfs_watch_free(p->watch);
	} else if (p->watch) {
		struct retired_hint *h = malloc(sizeof(*h));

		/* Without memory the hint is merely unreachable: the process ends anyway. */
		rfs_watch_retire(p->watch);
		if (h) {
			h->w = p->watch;
			pthread_mutex_lock(&retired_lock);
			h->next = retired_hints;
			retired_hints = h;
			pthread_mutex_unlock(&retired_lock);
		}
	}
	free(p);
	s->priv = NULL;
	s->watch = NULL;
}

static glfs_t *fs_of(struct rfs_store *s)
{
	return ((struct gl_priv *)s->priv)->fs;
}

static int gl_mkdir(struct rfs_store *s, const char *rel)
{
	char path[PATH_MAX];

	abs_path(s, rel, path, sizeof(path));
	if (glfs_mkdir(fs_of(s), path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int gl_open(struct rfs_store *s, const char *rel, int flags, struct rfs_sfile **f)
{
	char path[PATH_MAX];
	glfs_fd_t *fd;

	abs_path(s, rel, path, sizeof(path));
	if (flags & O_CREAT)
		fd = glfs_creat(fs_of(s), path, flags & ~O_CREAT, 0644);
	else
		fd = glfs_open(fs_of(s), path, flags);
	if (!fd)
		return errno ? -errno : -EIO;
	*f = malloc(sizeof(**f));
	if (!*f) {
		glfs_close(fd);
		return -ENOMEM;
	}
	(*f)->fd = fd;
	(*f)->s = s;
	(*f)->reader = (flags & O_ACCMODE) == O_RDONLY;
	(*f)->mark.watch_id = 0;
	return 0;
}

static void gl_close(struct rfs_sfile *f)
{
	glfs_close(f->fd);
	free(f);
}

static ssize_t gl_pread(struct rfs_sfile *f, void *buf, size_t len, off_t off)
{
	ssize_t n = glfs_pread(f->fd, buf, len, off, 0, NULL);

	return n < 0 ? -errno : n;
}

static ssize_t gl_pwrite(struct rfs_sfile *f, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = glfs_pwrite(f->fd, (const char *)buf + done, len - done,
					off + (off_t)done, 0, NULL, NULL);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int gl_fsync(struct rfs_sfile *f)
{
	return glfs_fdatasync(f->fd, NULL, NULL) < 0 ? -errno : 0;
}

static int gl_size(struct rfs_sfile *f, off_t *size)
{
	struct stat st;

	if (glfs_fstat(f->fd, &st) < 0)
		return -errno;
	*size = st.st_size;
	if (f->reader)
		rfs_watch_note_size(f->s, &f->mark, st.st_size);
	return 0;
}

static int gl_truncate(struct rfs_sfile *f, off_t size)
{
	return glfs_ftruncate(f->fd, size, NULL, NULL) < 0 ? -errno : 0;
}

static int gl_lock(struct rfs_sfile *f)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char owner[64];
	int n = snprintf(owner, sizeof(owner), "rmtabfs-%d-%p", (int)getpid(), (void *)f);

	if (glfs_fd_set_lkowner(f->fd, owner, n) < 0)
		return -errno;
	if (glfs_posix_lock(f->fd, F_SETLK, &fl) < 0)
		return (errno == EAGAIN || errno == EACCES) ? -EAGAIN : -errno;
	return 0;
}

static int gl_list(struct rfs_store *s, const char *rel, int (*fn)(void *, const char *), void *ctx)
{
	char path[PATH_MAX];
	struct dirent ent, *res;
	glfs_fd_t *d;
	int rc = 0;

	abs_path(s, rel, path, sizeof(path));
	d = glfs_opendir(fs_of(s), path);
	if (!d)
		return -errno;
	while (!rc) {
		if (glfs_readdir_r(d, &ent, &res) != 0) {
			rc = -EIO;
			break;
		}
		if (!res)
			break;
		if (strcmp(ent.d_name, ".") == 0 || strcmp(ent.d_name, "..") == 0)
			continue;
		rc = fn(ctx, ent.d_name);
	}
	glfs_closedir(d);
	return rc;
}

static int gl_rename(struct rfs_store *s, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	abs_path(s, from, a, sizeof(a));
	abs_path(s, to, b, sizeof(b));
	return glfs_rename(fs_of(s), a, b) < 0 ? -errno : 0;
}

static int gl_link(struct rfs_store *s, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	abs_path(s, from, a, sizeof(a));
	abs_path(s, to, b, sizeof(b));
	return glfs_link(fs_of(s), a, b) < 0 ? -errno : 0;
}

static int gl_unlink(struct rfs_store *s, const char *rel)
{
	char path[PATH_MAX];

	abs_path(s, rel, path, sizeof(path));
	return glfs_unlink(fs_of(s), path) < 0 && errno != ENOENT ? -errno : 0;
}

/*
 * gfapi has no fsyncdir. glfs_fsync on a glfs_opendir fd sends FSYNC on the directory, which
 * AFR winds to every brick and the brick's posix translator turns into fsync() of the
 * directory (its opendir keeps dirfd() as the fd). The FSYNCDIR fop would be a no-op there.
 * A translator that refuses it (EINVAL, EISDIR, ENOTSUP) costs nothing more than before.
 */
static int gl_sync_dir(struct rfs_store *s, const char *rel)
{
	char path[PATH_MAX];
	glfs_fd_t *d;
	int rc = 0;

	if (*rel)
		abs_path(s, rel, path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s", s->spec.path);
	d = glfs_opendir(fs_of(s), path);
	if (!d)
		return -errno;
	if (glfs_fsync(d, NULL, NULL) < 0) {
		rc = -errno;
		if (rc == -EINVAL || rc == -EISDIR || rc == -ENOTSUP || rc == -EBADF) {
			rfs_debug("glfs_fsync of directory %s: %s (not supported here)", path,
				  strerror(-rc));
			rc = 0;
		}
	}
	glfs_closedir(d);
	return rc;
}

/* In a syncenv thread; data is NULL when it raced with glfs_upcall_unregister. */
static void gl_upcall(glfs_upcall_t *up, void *data)
{
	struct rfs_watch *w = data;

	if (w && glfs_upcall_get_reason(up) == GLFS_UPCALL_INODE_INVALIDATE)
		rfs_watch_signal(w);
	glfs_free(up);
}

static int gl_watch(struct rfs_store *s, const char *rel, const char *self)
{
	struct gl_priv *p = s->priv;
	char advice[256];
	int got;

	(void)rel;  /* every inode we touch: the logs we read and nodes/ itself */
	(void)self; /* a client is never told of its own changes */
	if (p->watch) {
		s->watch = p->watch; /* nothing breaks here: a lost upcall is just lost */
		return 0;
	}
	snprintf(advice, sizeof(advice),
		 "is features.cache-invalidation on for volume %s (gluster volume get %s "
		 "features.cache-invalidation), and poll= shorter than its "
		 "features.cache-invalidation-timeout?",
		 s->spec.volume, s->spec.volume);
	p->watch = rfs_watch_new("Gluster upcalls", advice);
	if (!p->watch)
		return -ENOMEM;
	got = glfs_upcall_register(p->fs, GLFS_EVENT_INODE_INVALIDATE, gl_upcall, p->watch);
	if (got < 0 || !(got & GLFS_EVENT_INODE_INVALIDATE)) {
		int rc = got < 0 && errno ? -errno : -ENOTSUP;

		rfs_warn("store wake-up hint: glfs_upcall_register failed: %s", strerror(-rc));
		rfs_watch_free(p->watch);
		p->watch = NULL;
		return rc;
	}
	s->watch = p->watch;
	rfs_notice("store wake-up hint: Gluster upcalls (cache invalidation) of volume %s",
		   s->spec.volume);
	return 0;
}

const struct rfs_store_ops rfs_store_gluster_ops = {
	.scheme = "gluster",
	.connect = gl_connect,
	.disconnect = gl_disconnect,
	.mkdir = gl_mkdir,
	.open = gl_open,
	.close = gl_close,
	.pread = gl_pread,
	.pwrite = gl_pwrite,
	.fsync = gl_fsync,
	.size = gl_size,
	.truncate = gl_truncate,
	.lock = gl_lock,
	.list = gl_list,
	.rename = gl_rename,
	.link = gl_link,
	.unlink = gl_unlink,
	.sync_dir = gl_sync_dir,
	.watch = gl_watch,
};
