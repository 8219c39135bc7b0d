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
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/ctl.h>
#include <rmtabfs/log.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/rfs.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/store.h>
#include <rmtabfs/view.h>

/* systemd Type=notify readiness, without linking libsystemd. */
static void sd_notify_ready(void)
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
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&addr, len) < 0)
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

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop_cfg = NULL;
	struct fuse_lowlevel_ops ops;
	struct rfs_options opts;
	struct rfs fs;
	char err[512], msg[300];
	int report_fd = -1, root_fd = -1, rc = 1, loop_rc;
	bool core_open = false, mounted = false, sighandlers = false;
	enum rfs_repl_state st;

	/*
	 * A fixed mmap threshold: glibc otherwise raises it after the first large free, and the
	 * tens of megabytes of a big write session (text, parsed lines, diff) then stay in a
	 * thread's arena between long-lived records for the daemon's life (measured: 350 instead
	 * of ~215 bytes of RSS per record at 100 000). Not lower: the view's few hundred KB
	 * buffers, rendered on every MOUNT, would then be fresh mmaps and page-fault each time.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	memset(&fs, 0, sizeof(fs));
	fs.proc_self_fd = -1;
	if (rfs_options_parse(argc, argv, &opts, &args, err, sizeof(err))) {
		fprintf(stderr, "rmtabfs: %s\n", err);
		return 2;
	}
	if (opts.show_help) {
		rfs_options_usage(argv[0]);
		rfs_options_free(&opts);
		return 0;
	}
	if (opts.show_version) {
		printf("rmtabfs %s (libfuse %s)\n", RFS_VERSION, fuse_pkgversion());
		rfs_options_free(&opts);
		return 0;
	}
	fs.opts = &opts;
	fs.entry_timeout = opts.entry_timeout;
	fs.attr_timeout = opts.attr_timeout;
	rfs_log_init("rmtabfs", !opts.foreground && !background_log_file(),
		     opts.debug ? LOG_DEBUG : LOG_NOTICE);
	if (inside(opts.statedir, opts.mountpoint)) {
		rfs_err("statedir %s is inside the mount point %s", opts.statedir, opts.mountpoint);
		goto out;
	}
	if (opts.spec.kind == RFS_STORE_DIR && inside(opts.spec.path, opts.mountpoint)) {
		rfs_err("store %s is inside the mount point %s", opts.store, opts.mountpoint);
		goto out;
	}
	/* Before the mount: afterwards this path leads into ourselves. */
	root_fd = open(opts.mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		rfs_err("cannot open mount point %s: %s", opts.mountpoint, strerror(errno));
		goto out;
	}
	if (!opts.foreground && daemonize(&report_fd)) {
		rfs_err("cannot go to the background: %s", strerror(errno));
		goto out;
	}
	/* After the fork: opened before it, this would name the exited parent's fd table. */
	fs.proc_self_fd = open("/proc/self/fd", O_PATH | O_CLOEXEC);
	if (fs.proc_self_fd < 0) {
		rfs_err("cannot open /proc/self/fd: %s", strerror(errno));
		goto out;
	}
	if (rfs_core_open(&fs.core, opts.statedir, opts.node))
		goto out;
	core_open = true;
	rfs_core_set_max_skew(&fs.core, opts.maxskew);
	if (opts.import_rmtab && rfs_core_import(&fs.core, root_fd, opts.gnfs))
		goto out;
	if (rfs_inodes_init(&fs, root_fd) || rfs_views_init(&fs) || rfs_stages_init(&fs)) {
		rfs_err("out of memory");
		goto out;
	}
	root_fd = -1; /* owned by the root inode now */
	fs.core.on_change = on_change;
	fs.core.on_change_ctx = &fs;
	if (opts.sync == RFS_SYNC_STORE) {
		fs.core.wait_shipped = wait_shipped;
		fs.core.wait_shipped_ctx = &fs;
	}
	fs.repl = rfs_repl_start(&fs.core, &opts);
	if (!fs.repl)
		goto out;
	/* A quick store tells now whether our node id is taken; a slow one does not delay us. */
	st = rfs_repl_wait_first(fs.repl, opts.timeout < 0.1 ? opts.timeout : 0.1, msg,
				 sizeof(msg));
	if (st == RFS_REPL_REFUSED) {
		rfs_err("refusing to start: %s", msg);
		goto out;
	}
	if (st != RFS_REPL_UP)
		rfs_notice("starting without the store for now (%s): serving the local state",
			   st == RFS_REPL_CONNECTING ? "still connecting" : msg);

	rfs_fuse_ops(&ops);
	fs.se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
	if (!fs.se)
		goto out;
	if (fuse_set_signal_handlers(fs.se))
		goto out;
	sighandlers = true;
	if (fuse_session_mount(fs.se, opts.mountpoint)) {
		rfs_err("cannot mount on %s", opts.mountpoint);
		goto out;
	}
	mounted = true;
	fs.notify = rfs_notify_start(&fs);
	if (!fs.notify)
		goto out;
	fs.ctl = rfs_ctl_start(&fs, opts.ctl);
	if (!fs.ctl)
		rfs_warn("no control socket: rmtabctl will not reach this daemon");
	rfs_notice("mounted on %s: node %s, store %s, %zu record(s)", opts.mountpoint, opts.node,
		   opts.store, fs.core.table.nlive);
	report(&report_fd, 0);
	sd_notify_ready();

	if (opts.singlethread) {
		loop_rc = fuse_session_loop(fs.se);
	} else {
		loop_cfg = fuse_loop_cfg_create();
		if (!loop_cfg)
			goto out;
		fuse_loop_cfg_set_max_threads(loop_cfg, 16);
		fuse_loop_cfg_set_idle_threads(loop_cfg, 4);
		loop_rc = fuse_session_loop_mt(fs.se, loop_cfg);
	}
	rc = loop_rc < 0 && loop_rc != -EINTR && loop_rc != -ENODEV ? 1 : 0;
	rfs_notice("stopping");
out:
	/* Dependency order: each part stops before what it calls. */
	rfs_repl_request_stop(fs.repl); /* ends a control request waiting for compaction */
	rfs_ctl_stop(fs.ctl);		/* calls core and repl */
	fs.ctl = NULL;
	/* No invalidation may write to /dev/fuse once the unmount has closed it. */
	rfs_notify_quiesce(fs.notify, 200);
	if (mounted)
		fuse_session_unmount(fs.se); /* at once for the clients */
	rfs_repl_stop(fs.repl); /* bounded: a store side that does not stop is killed */
	fs.repl = NULL;
	rfs_notify_stop(fs.notify); /* called by the link thread: after it */
	fs.notify = NULL;
	if (sighandlers)
		fuse_remove_signal_handlers(fs.se);
	if (fs.se)
		fuse_session_destroy(fs.se);
	if (loop_cfg)
		fuse_loop_cfg_destroy(loop_cfg);
	rfs_stages_destroy(&fs);
	if (fs.nviews)
		rfs_views_destroy(&fs);
	if (fs.inodes.buckets)
		rfs_inodes_destroy(&fs);
	if (fs.root.fd > 0)
		close(fs.root.fd);
	if (core_open)
		rfs_core_close(&fs.core);
	if (root_fd >= 0)
		close(root_fd);
	if (fs.proc_self_fd >= 0)
		close(fs.proc_self_fd);
	report(&report_fd, (char)(rc ? rc : 0));
	fuse_opt_free_args(&args);
	rfs_options_free(&opts);
	return rc;
}
