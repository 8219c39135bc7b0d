/*
 * rmtabfs daemon: mounts over a directory (normally /var/lib/nfs), passes every file
 * through to the directory underneath and serves rmtab (and the gNFS view) from the
 * cluster-wide record set.
 *
 * Start-up order matters: the directory underneath is opened before the mount (afterwards
 * its path leads into ourselves); the state is loaded and the underlying rmtab imported
 * before the mount, so the first read already shows it; a duplicate node id is refused
 * before the mount when the store answers quickly. In the background the process forks
 * before any thread exists and the parent exits with the child's start-up result.
 * Stop: SIGTERM/SIGINT/SIGHUP or an unmount end the FUSE loop; then each part stops before
 * what it calls (control socket, notifier sends, unmount, the store side process with its
 * last ship and the link thread that serves it, notifier thread), all joined. No store call
 * runs in this process (libgfapi is not even linked): a hung one is the store side's, which
 * is killed when it does not stop in time.
 * Reload (SIGUSR2, rmtabctl restart; DESIGN §9, fs/handover.c): the FUSE loop pauses with
 * every request it read answered, replication (last ship, checkpoint) and the notifier stop,
 * the state goes into a handover image and a forked child execs the binary on disk with it.
 * Once the child says it serves, this image exits without unmounting; if it cannot, this one
 * takes its locks back, restarts what it stopped and serves on. An image started by a
 * handover adopts the mount (/dev/fd/N) instead of mounting, and unmounts itself at stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/ctl.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/loop.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/reload.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/rfs.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/store.h>
#include <rmtabfs/view.h>

/* systemd Type=notify messages (READY=1, MAINPID=N), without linking libsystemd. */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(addr.sun_path))
		return;
	strcpy(addr.sun_path, path);
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&addr, len) < 0)
		rfs_warn("cannot notify systemd: %s", strerror(errno));
	close(fd);
}

/* Forks; the parent waits for the child's start-up result and exits with it. */
static int daemonize(int *report_fd)
{
	int fds[2];
	pid_t pid;
	char status = 1;

	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	*report_fd = fds[1];
	return 0;
}

/*
 * RMTABFS_LOG_FILE (tests; hosts without syslog): in the background, log lines, libfuse's
 * and a sanitizer's messages go to this file (appended) instead of syslog and /dev/null.
 */
static const char *background_log_file(void)
{
	const char *f = getenv("RMTABFS_LOG_FILE");

	return f && *f ? f : NULL;
}

static void report(int *fd, char status)
{
	const char *logf = background_log_file();
	int null, out = -1;

	if (*fd < 0)
		return;
	if (write(*fd, &status, 1) < 0) {
		/* the parent is gone: nothing to tell */
	}
	close(*fd);
	*fd = -1;
	null = open("/dev/null", O_RDWR);
	if (logf)
		out = open(logf, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (out < 0)
		out = null;
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	if (out >= 0) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
	}
	if (out > 2 && out != null)
		close(out);
	if (null > 2)
		close(null);
}

static void on_change(void *ctx, bool local)
{
	struct rfs *fs = ctx;
	struct rfs_notify *n = fs->notify;

	if (n)
		rfs_notify_views(n);
	if (local && fs->repl)
		rfs_repl_wake(fs->repl);
}

static void wait_shipped(void *ctx, uint64_t seq)
{
	struct rfs *fs = ctx;

	if (fs->repl)
		rfs_repl_wait_shipped(fs->repl, seq);
}

/* statedir must not be inside the mount: its files would be served by ourselves. */
static bool inside(const char *dir, const char *mountpoint)
{
	char a[PATH_MAX], b[PATH_MAX];
	size_t n;

	if (!realpath(mountpoint, b))
		return false;
	if (!realpath(dir, a)) {
		/* not there yet: compare the text */
		snprintf(a, sizeof(a), "%s", dir);
	}
	n = strlen(b);
	return strncmp(a, b, n) == 0 && (a[n] == '/' || a[n] == '\0' || n == 1);
}

/* What a reload needs besides struct rfs. */
struct reload_ctx {
	char exe[PATH_MAX]; /* the binary on disk, as this image was started from */
	int argc;
	char **argv; /* our command line without the handover arguments */
	struct rfs_loop *loop;
	struct rfs_init_req init;
	bool adopted;  /* this image adopted the mount from an earlier one */
	pid_t new_pid; /* the image that took over */
};

static void find_exe(struct reload_ctx *rc, const char *argv0)
{
	ssize_t n = readlink("/proc/self/exe", rc->exe, sizeof(rc->exe) - 1);
	char *del;

	if (n <= 0) {
		snprintf(rc->exe, sizeof(rc->exe), "%s", argv0);
		return;
	}
	rc->exe[n] = '\0';
	del = strstr(rc->exe, " (deleted)");
	if (del && del[10] == '\0')
		*del = '\0'; /* replaced on disk since: the new file at that path */
}

static void start_helpers(struct rfs *fs)
{
	fs->repl = rfs_repl_start(&fs->core, fs->opts);
	if (!fs->repl)
		rfs_err("replication did not start again: this node's changes wait in the journal");
	fs->notify = rfs_notify_start(fs);
}

/*
 * Hands this mount to a new image of the binary on disk. Returns 0 once it took over (the
 * caller exits at once), or -errno with everything running again as before.
 */
static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int reload(struct rfs *fs, struct reload_ctx *rc, char *msg, size_t len)
{
	struct rfs_reload_fds fds = {.fuse = fuse_session_fd(fs->se), .root = fs->root.fd};
	struct rfs_ho_out o = {.memfd = -1};
	struct rfs_reload_child child;
	struct timespec t0;
	double paused, stopped, written;
	int r;

	/* The new image execs and loads while we serve: refused here, nothing stopped. */
	r = access(rc->exe, X_OK) < 0 ? -errno : 0;
	if (r)
		snprintf(msg, len, "the binary %s cannot be executed: %s", rc->exe, strerror(-r));
	else
		r = rfs_reload_start(rc->exe, rc->argc, rc->argv, &child, msg, len);
	if (r) {
		rfs_err("reload refused, this image (%s) keeps serving: %s", rfs_daemon_version(),
			msg);
		return r;
	}
	rfs_notice("reload: handing over to pid %d (%s)", (int)child.pid, rc->exe);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rfs_loop_set_reloading(1);
	rfs_loop_wait_commands(); /* an rmtabctl add under way finishes first */
	rfs_loop_pause(rc->loop);
	paused = ms_since(&t0);
	fds.ctl = rfs_ctl_fd(fs->ctl);
	/* Bounded: the store side is killed if it does not stop; the new image starts its own. */
	rfs_repl_stop(fs->repl);
	fs->repl = NULL;
	rfs_notify_stop(fs->notify);
	fs->notify = NULL;
	stopped = ms_since(&t0);
	r = rfs_core_statedir_lock(&fs->core, false);
	if (!r)
		r = rfs_reload_write(fs, &fds, &rc->init, &o);
	written = ms_since(&t0);
	if (r) {
		snprintf(msg, len, "cannot write the handover image: %s", strerror(-r));
		rfs_reload_abort(&child);
	} else {
		r = rfs_reload_handover(&child, &o, msg, len);
	}
	if (r == 0) {
		char m[32];
		size_t l = strlen(msg);

		snprintf(msg + l, len - l,
			 " took over in %.0f ms (requests waited that long: %.0f ms for those "
			 "in progress, %.0f ms to stop replication, %.0f ms for the %zu KiB "
			 "image, the rest for the new image to read it and restore)",
			 ms_since(&t0), paused, stopped - paused, written - stopped,
			 o.buf.len / 1024);
		rc->new_pid = child.pid;
		snprintf(m, sizeof(m), "MAINPID=%d", (int)child.pid);
		sd_notify_msg(m);
		/*
		 * systemd must read the new main pid before it sees this one exit (a main pid
		 * that exits during a reload fails the unit): the datagram is queued now, the
		 * exit comes later than any reasonable manager loop takes to read it.
		 */
		if (getenv("NOTIFY_SOCKET"))
			usleep(100 * 1000);
		rfs_notice("reload: pid %s", msg);
		return 0;
	}
	rfs_reload_unwrite(&o);
	if (rfs_core_statedir_lock(&fs->core, true))
		rfs_err("reload: cannot take the state directory's lock back: %s", strerror(errno));
	start_helpers(fs);
	if (rfs_loop_start(rc->loop))
		rfs_err("reload: cannot restart the request loop");
	rfs_loop_set_reloading(0);
	rfs_err("reload refused, this image (%s) keeps serving: %s", rfs_daemon_version(), msg);
	return r;
}

/* An adopted mount has no mount point in libfuse's session: unmount it ourselves. */
static void unmount_adopted(struct rfs *fs)
{
	struct pollfd p = {.fd = fuse_session_fd(fs->se), .events = 0};

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
		return; /* unmounted already */
	if (umount2(fs->opts->mountpoint, MNT_DETACH) < 0)
		rfs_warn("cannot unmount %s: %s", fs->opts->mountpoint, strerror(errno));
}

/* The FUSE loop and its events until a stop; a reload that succeeds ends the process. */
static int serve(struct rfs *fs, struct reload_ctx *rc)
{
	enum rfs_loop_event ev;
	char msg[512];
	int err, r;

	if (rfs_loop_start(rc->loop))
		return 1;
	for (;;) {
		ev = rfs_loop_wait(rc->loop, &err);
		if (ev == RFS_EV_STOP) {
			if (err && err != -ENODEV)
				rfs_err("reading /dev/fuse: %s", strerror(-err));
			break;
		}
		msg[0] = '\0';
		r = reload(fs, rc, msg, sizeof(msg));
		if (ev == RFS_EV_RELOAD_CTL)
			rfs_loop_reload_done(rc->loop, r, msg);
		if (r == 0) {
			if (ev == RFS_EV_RELOAD_CTL)
				rfs_loop_wait_replied(2000);
			if (rfs_loop_stop_pending(rc->loop)) {
				rfs_notice("a stop came during the reload: passed on to pid %d",
					   (int)rc->new_pid);
				kill(rc->new_pid, SIGTERM);
			}
			_exit(0); /* the new image owns everything now: touch nothing */
		}
	}
	rfs_loop_pause(rc->loop);
	return err && err != -ENODEV && err != -EINTR ? 1 : 0;
}

/*
 * A fresh start: the directory underneath, opened before the mount (afterwards its path leads
 * into ourselves), then into the background unless -f. 0, or -1 with a log line.
 */
static int open_underneath(const struct rfs_options *opts, int *root_fd, int *report_fd)
{
	if (inside(opts->statedir, opts->mountpoint)) {
		rfs_err("statedir %s is inside the mount point %s", opts->statedir,
			opts->mountpoint);
		return -1;
	}
	if (opts->spec.kind == RFS_STORE_DIR && inside(opts->spec.path, opts->mountpoint)) {
		rfs_err("store %s is inside the mount point %s", opts->store, opts->mountpoint);
		return -1;
	}
	*root_fd = open(opts->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*root_fd < 0) {
		rfs_err("cannot open mount point %s: %s", opts->mountpoint, strerror(errno));
		return -1;
	}
	if (!opts->foreground && daemonize(report_fd)) {
		rfs_err("cannot go to the background: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* "--rmtabfs-handover SOCK": an image started by a handover; argv without them. */
static bool handover_args(int *argc, char **argv, int *sock)
{
	int i;

	if (*argc < 3 || strcmp(argv[1], RFS_HANDOVER_ARG) != 0)
		return false;
	*sock = atoi(argv[2]);
	fcntl(*sock, F_SETFD, FD_CLOEXEC);
	for (i = 3; i <= *argc; i++)
		argv[i - 2] = argv[i];
	*argc -= 2;
	return true;
}

/* What main() starts, in start-up order, so that stop_all() can stop it in reverse. */
struct daemon {
	struct fuse_args args;
	struct fuse_lowlevel_ops ops;
	struct rfs_options opts;
	struct rfs fs;
	struct reload_ctx rctx;
	struct rfs_ho_in hin;
	struct rfs_reload_fds hfds;
	char err[512], msg[300];
	int report_fd, root_fd, ho_pipe;
	bool core_open, mounted, handover;
};

/*
 * The command line (after a handover's own arguments). -1 to go on, else the exit code:
 * 2 for bad options, 0 after --help or --version.
 */
static int parse_args(struct daemon *d, int argc, char **argv)
{
	struct rfs_options *opts = &d->opts;

	d->handover = handover_args(&argc, argv, &d->ho_pipe);
	d->rctx.adopted = d->handover;
	d->rctx.argc = argc;
	d->rctx.argv = argv;
	find_exe(&d->rctx, argv[0]);
	d->fs.proc_self_fd = -1;
	if (rfs_options_parse(argc, argv, opts, &d->args, d->err, sizeof(d->err))) {
		fprintf(stderr, "rmtabfs: %s\n", d->err);
		rfs_reload_tell(d->ho_pipe, "error: bad options");
		return 2;
	}
	if (opts->show_help) {
		rfs_options_usage(argv[0]);
		rfs_options_free(opts);
		return 0;
	}
	if (opts->show_version) {
		printf("rmtabfs %s (libfuse %s)\n", rfs_daemon_version(), fuse_pkgversion());
		rfs_options_free(opts);
		return 0;
	}
	d->fs.opts = opts;
	d->fs.entry_timeout = opts->entry_timeout;
	d->fs.attr_timeout = opts->attr_timeout;
	rfs_log_init("rmtabfs", !opts->foreground && !background_log_file(),
		     opts->debug ? LOG_DEBUG : LOG_NOTICE);
	return -1;
}

/*
 * The directory underneath: taken over from the old image, or opened before the mount and
 * then into the background unless -f. 0, or -1 with a log line.
 */
static int take_underneath(struct daemon *d)
{
	if (d->handover) {
		d->msg[0] = '\0';
		rfs_reload_ready(d->ho_pipe);
		if (rfs_reload_receive(d->ho_pipe, &d->hin, &d->hfds, &d->rctx.init, d->msg,
				       sizeof(d->msg))) {
			rfs_err("cannot take over: %s", d->msg);
			return -1;
		}
		d->root_fd = d->hfds.root;
	} else if (open_underneath(&d->opts, &d->root_fd, &d->report_fd)) {
		return -1;
	}
	/* After the fork: opened before it, this would name the exited parent's fd table. */
	d->fs.proc_self_fd = open("/proc/self/fd", O_PATH | O_CLOEXEC);
	if (d->fs.proc_self_fd < 0) {
		rfs_err("cannot open /proc/self/fd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The record set (loaded, the underlying rmtab imported on a fresh start), the inodes and
 * the views (restored from a handover image), before the mount. 0, or -1 with a log line.
 */
static int open_state(struct daemon *d)
{
	struct rfs *fs = &d->fs;
	const struct rfs_options *opts = &d->opts;
	int r;

	if (rfs_core_open(&fs->core, opts->statedir, opts->node))
		return -1;
	d->core_open = true;
	rfs_core_set_max_skew(&fs->core, opts->maxskew);
	if (rfs_core_set_durability(&fs->core, opts->batch_ms))
		return -1;
	if (!d->handover && opts->import_rmtab &&
	    rfs_core_import(&fs->core, d->root_fd, opts->gnfs))
		return -1;
	if (rfs_inodes_init(fs, d->root_fd) || rfs_views_init(fs)) {
		rfs_err("out of memory");
		return -1;
	}
	d->root_fd = -1; /* owned by the root inode now */
	if (d->handover && (r = rfs_reload_restore(fs, &d->hin))) {
		snprintf(d->msg, sizeof(d->msg),
			 "cannot restore the handover image: %s (a changed gnfs= is refused)",
			 strerror(-r));
		rfs_err("cannot take over: %s", d->msg);
		return -1;
	}
	if (!d->handover && rfs_stages_init(fs)) {
		rfs_err("out of memory");
		return -1;
	}
	fs->core.on_change = on_change;
	fs->core.on_change_ctx = fs;
	if (opts->sync == RFS_SYNC_STORE) {
		fs->core.wait_shipped = wait_shipped;
		fs->core.wait_shipped_ctx = fs;
	}
	return 0;
}

/* The store side; a duplicate node id is refused before the mount if the store is quick. */
static int start_store_side(struct daemon *d)
{
	const struct rfs_options *opts = &d->opts;
	enum rfs_repl_state st;

	d->fs.repl = rfs_repl_start(&d->fs.core, opts);
	if (!d->fs.repl)
		return -1;
	/* A quick store tells now whether our node id is taken; a slow one does not delay us. */
	st = d->handover
		     ? RFS_REPL_CONNECTING
		     : rfs_repl_wait_first(d->fs.repl, opts->timeout < 0.1 ? opts->timeout : 0.1,
					   d->msg, sizeof(d->msg));
	if (st == RFS_REPL_REFUSED) {
		rfs_err("refusing to start: %s", d->msg);
		return -1;
	}
	if (st != RFS_REPL_UP && !d->handover)
		rfs_notice("starting without the store for now (%s): serving the local state",
			   st == RFS_REPL_CONNECTING ? "still connecting" : d->msg);
	return 0;
}

/*
 * The FUSE session mounted (or the old image's mount adopted), then the notifier and the
 * control socket, which use it. 0, or -1 with a log line.
 */
static int mount_and_serve_setup(struct daemon *d)
{
	struct rfs *fs = &d->fs;
	char devfd[32];

	rfs_fuse_ops(&d->ops);
	fs->se = fuse_session_new(&d->args, &d->ops, sizeof(d->ops), fs);
	if (!fs->se)
		return -1;
	d->rctx.loop = rfs_loop_new(fs->se, d->opts.singlethread ? 1 : 16);
	if (!d->rctx.loop)
		return -1;
	snprintf(devfd, sizeof(devfd), "/dev/fd/%d", d->hfds.fuse);
	if (fuse_session_mount(fs->se, d->handover ? devfd : d->opts.mountpoint)) {
		rfs_err("cannot mount on %s", d->opts.mountpoint);
		return -1;
	}
	d->mounted = true;
	if (d->handover ? rfs_reload_prime(fs->se, &d->rctx.init)
			: rfs_reload_capture_init(fs->se, &d->rctx.init)) {
		rfs_err("no FUSE INIT request to %s", d->handover ? "replay" : "keep");
		return -1;
	}
	fs->notify = rfs_notify_start(fs);
	if (!fs->notify)
		return -1;
	fs->ctl = rfs_ctl_start_fd(fs, d->opts.ctl, d->hfds.ctl);
	if (!fs->ctl)
		rfs_warn("no control socket: rmtabctl will not reach this daemon");
	return 0;
}

/* Tells whoever waits for the start: the old image, the parent, systemd. */
static void announce(struct daemon *d)
{
	const struct rfs_options *opts = &d->opts;

	if (d->handover) {
		snprintf(d->err, sizeof(d->err), "ok %d (version %s)", (int)getpid(),
			 rfs_daemon_version());
		rfs_reload_close(&d->hin);
		rfs_notice("took over %s: node %s, store %s, %zu record(s), version %s",
			   opts->mountpoint, opts->node, opts->store, rfs_core_nlive(&d->fs.core),
			   rfs_daemon_version());
		rfs_reload_tell(d->ho_pipe, d->err);
		d->ho_pipe = -1;
	} else {
		rfs_notice("mounted on %s: node %s, store %s, %zu record(s)", opts->mountpoint,
			   opts->node, opts->store, rfs_core_nlive(&d->fs.core));
		report(&d->report_fd, 0);
		sd_notify_msg("READY=1");
	}
}

/* Stops what was started, in dependency order; returns rc. */
static int stop_all(struct daemon *d, int rc)
{
	struct rfs *fs = &d->fs;

	if (d->ho_pipe >= 0) {
		/* A handover that failed here: the old image serves on. */
		snprintf(d->err, sizeof(d->err), "error: %s",
			 d->msg[0] ? d->msg : "the new image failed to start (see its log)");
		rfs_reload_tell(d->ho_pipe, d->err);
		_exit(1); /* nothing of the mount is ours: touch nothing */
	}
	/* Dependency order: each part stops before what it calls. */
	rfs_repl_request_stop(fs->repl); /* ends a control request waiting for compaction */
	rfs_ctl_stop(fs->ctl);		 /* calls core and repl */
	fs->ctl = NULL;
	/* No invalidation may write to /dev/fuse once the unmount has closed it. */
	rfs_notify_quiesce(fs->notify, 200);
	if (d->mounted && d->rctx.adopted)
		unmount_adopted(fs);
	else if (d->mounted)
		fuse_session_unmount(fs->se); /* at once for the clients */
	if (d->core_open)
		rfs_core_flush(&fs->core); /* durability=batch: a clean stop syncs */
	rfs_repl_stop(fs->repl);	   /* bounded: a store side that does not stop is killed */
	fs->repl = NULL;
	rfs_notify_stop(fs->notify); /* called by the link thread: after it */
	fs->notify = NULL;
	rfs_loop_free(d->rctx.loop);
	if (fs->se)
		fuse_session_destroy(fs->se);
	free(d->rctx.init.data);
	rfs_stages_destroy(fs);
	if (fs->nviews)
		rfs_views_destroy(fs);
	if (fs->inodes.buckets)
		rfs_inodes_destroy(fs);
	if (fs->root.fd > 0)
		close(fs->root.fd);
	if (d->core_open)
		rfs_core_close(&fs->core);
	if (d->root_fd >= 0)
		close(d->root_fd);
	if (fs->proc_self_fd >= 0)
		close(fs->proc_self_fd);
	report(&d->report_fd, (char)(rc ? rc : 0));
	fuse_opt_free_args(&d->args);
	rfs_options_free(&d->opts);
	return rc;
}

int main(int argc, char **argv)
{
	struct daemon d;
	int rc = 1;

	/*
	 * A fixed mmap threshold: glibc otherwise raises it after the first large free, and the
	 * tens of megabytes of a big write session (text, parsed lines, diff) then stay in a
	 * thread's arena between long-lived records for the daemon's life (measured: 350 instead
	 * of ~215 bytes of RSS per record at 100 000). Not lower: the view's few hundred KB
	 * buffers, rendered on every MOUNT, would then be fresh mmaps and page-fault each time.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	memset(&d, 0, sizeof(d)); /* args as FUSE_ARGS_INIT(0, NULL) */
	d.hfds = (struct rfs_reload_fds){-1, -1, -1};
	d.report_fd = d.root_fd = d.ho_pipe = -1;
	rc = parse_args(&d, argc, argv);
	if (rc >= 0)
		return rc;
	rc = 1;
	/* Start-up order: see the comment at the top of this file. */
	if (take_underneath(&d) || open_state(&d) || start_store_side(&d) ||
	    mount_and_serve_setup(&d))
		return stop_all(&d, rc);
	announce(&d);
	rc = serve(&d.fs, &d.rctx);
	rfs_notice("stopping");
	return stop_all(&d, rc);
}
