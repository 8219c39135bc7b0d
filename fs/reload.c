/*
 * The steps of a planned restart (include/rmtabfs/reload.h; protocol in fs/handover.c).
 *
 * Invariants: the old image writes the image only while its FUSE loop is paused and its
 * replication and notifier threads are stopped, so nothing changes under it; the control
 * thread refuses commands meanwhile. The new image reports exactly one line on the pipe:
 * "ok PID VERSION" once it can serve, or "error: WHY"; a pipe that closes without a line
 * means it died. No locks of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/log.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/reload.h>
#include <rmtabfs/rfs.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/view.h>

#define MAGIC	      "rmtabfs-handover"
#define END_MARK      0x454e44484f464652ull /* "RFFOHDNE" */
#define OPCODE_INIT   26		    /* FUSE_INIT */
#define TAKEOVER_SECS 30

int rfs_reload_capture_init(struct fuse_session *se, struct rfs_init_req *init)
{
	struct fuse_buf buf = {0};
	uint32_t opcode;
	int res;

	do
		res = fuse_session_receive_buf(se, &buf);
	while (res == -EINTR);
	if (res <= 0) {
		free(buf.mem);
		return res < 0 ? res : -ENODEV;
	}
	memcpy(&opcode, (char *)buf.mem + 4, sizeof(opcode));
	if (opcode == OPCODE_INIT && !(buf.flags & FUSE_BUF_IS_FD)) {
		init->data = malloc((size_t)res);
		if (init->data) {
			memcpy(init->data, buf.mem, (size_t)res);
			init->len = (size_t)res;
		}
	}
	buf.size = (size_t)res;
	fuse_session_process_buf(se, &buf);
	free(buf.mem);
	return init->data ? 0 : -EPROTO;
}

int rfs_reload_prime(struct fuse_session *se, const struct rfs_init_req *init)
{
	struct fuse_buf buf = {.size = init->len, .flags = 0};

	if (init->len < 40)
		return -EPROTO;
	buf.mem = malloc(init->len);
	if (!buf.mem)
		return -ENOMEM;
	memcpy(buf.mem, init->data, init->len);
	/*
	 * libfuse sets up the session as for the first mount (got_init, buffer size from the
	 * original flags, our init callback) and then replies; the kernel finished that
	 * request long ago and refuses the reply with ENOENT, which libfuse ignores.
	 */
	fuse_session_process_buf(se, &buf);
	free(buf.mem);
	return 0;
}

static int put_handles(struct rfs *fs, struct rfs_ho_out *o)
{
	void **hs;
	size_t n = rfs_ho_handles(&hs), i;

	if (!hs)
		return -ENOMEM;
	rfs_ho_put_u64(o, n);
	for (i = 0; i < n && !o->err; i++) {
		struct rfs_handle *h = hs[i];

		rfs_ho_put_u64(o, rfs_ho_id(h));
		rfs_ho_put_u64(o, h->kind);
		rfs_ho_put_u64(o, h->inode == &fs->root ? FUSE_ROOT_ID : rfs_ho_id(h->inode));
		if (h->kind == RFS_H_VIEW)
			vf_handle_save(fs, h, o);
		else
			pt_handle_save(fs, h, o);
	}
	free(hs);
	return o->err;
}

int rfs_reload_write(struct rfs *fs, const struct rfs_reload_fds *fds,
		     const struct rfs_init_req *init, struct rfs_ho_out *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->memfd = -1;
	rfs_ho_put_str(o, MAGIC);
	rfs_ho_put_u64(o, rfs_handover_version());
	rfs_ho_put_str(o, rfs_daemon_version());
	rfs_ho_put_bytes(o, init->data, init->len);
	rfs_ho_put_fd(o, fds->fuse);
	rfs_ho_put_fd(o, fds->root);
	rfs_ho_put_fd(o, fds->ctl);
	rc = rfs_views_save(fs, o);
	if (!rc)
		rc = rfs_inodes_save(fs, o);
	if (!rc)
		rc = put_handles(fs, o);
	if (!rc)
		rc = rfs_stages_save(fs, o);
	rfs_ho_put_u64(o, END_MARK);
	if (!rc)
		rc = o->err;
	if (rc)
		return rc;
	o->memfd = memfd_create("rmtabfs-handover", 0); /* no MFD_CLOEXEC: it crosses exec */
	if (o->memfd < 0)
		return -errno;
	if (pwrite(o->memfd, o->buf.data, o->buf.len, 0) != (ssize_t)o->buf.len)
		return errno ? -errno : -EIO;
	return 0;
}

void rfs_reload_unwrite(struct rfs_ho_out *o)
{
	size_t i;

	for (i = 0; i < o->nfds; i++)
		fcntl(o->fds[i], F_SETFD, FD_CLOEXEC);
	if (o->memfd >= 0)
		close(o->memfd);
	o->memfd = -1;
	free(o->fds);
	o->fds = NULL;
	o->nfds = 0;
	rfs_buf_free(&o->buf);
}

/* Reads the new image's line; 1: "ok", 0: it said or did something else (msg). */
static int await(int fd, pid_t child, char *msg, size_t len)
{
	char line[512];
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec t0, t;
	int st, left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = TAKEOVER_SECS * 1000 -
		       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, left) == 0) {
			snprintf(msg, len, "the new image did not take over within %d s",
				 TAKEOVER_SECS);
			kill(child, SIGKILL);
			goto dead;
		}
		n = read(fd, line + got, sizeof(line) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "ok ", 3) == 0) {
		snprintf(msg, len, "%s", line + 3);
		return 1;
	}
	if (got) {
		snprintf(msg, len, "%s", strncmp(line, "error: ", 7) == 0 ? line + 7 : line);
		kill(child, SIGKILL); /* it should be exiting; make sure */
	} else {
		snprintf(msg, len, "the new image ended before taking over");
	}
dead:
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!got && WIFEXITED(st))
		snprintf(msg + strlen(msg), len - strlen(msg), " (exit status %d)",
			 WEXITSTATUS(st));
	else if (!got && WIFSIGNALED(st))
		snprintf(msg + strlen(msg), len - strlen(msg), " (killed by signal %d)",
			 WTERMSIG(st));
	return 0;
}

/* In the forked child: only async-signal-safe calls until exec. */
static void exec_child(const char *exe, char **argv, int pipe_w)
{
	static const char head[] = "error: cannot execute the new binary: errno ";
	char num[16];
	int e, i = (int)sizeof(num);

	execv(exe, argv);
	e = errno;
	num[--i] = '\n';
	do
		num[--i] = (char)('0' + e % 10);
	while ((e /= 10) && i > 0);
	if (write(pipe_w, head, sizeof(head) - 1) < 0 ||
	    write(pipe_w, num + i, sizeof(num) - (size_t)i) < 0) {
		/* the parent then sees the pipe close */
	}
	_exit(127);
}

int rfs_reload_spawn(const char *exe, int argc, char **argv, const struct rfs_ho_out *o,
		     pid_t *child, char *msg, size_t len)
{
	char memfd_s[16], pipe_s[16];
	char **nargv;
	int p[2], i, ok;
	pid_t pid;

	if (access(exe, X_OK) < 0) {
		snprintf(msg, len, "the binary %s cannot be executed: %s", exe, strerror(errno));
		return -ENOEXEC;
	}
	nargv = calloc((size_t)argc + 4, sizeof(*nargv));
	if (!nargv || pipe(p) < 0) { /* the write end crosses exec */
		free(nargv);
		snprintf(msg, len, "out of resources");
		return -ENOMEM;
	}
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	snprintf(memfd_s, sizeof(memfd_s), "%d", o->memfd);
	snprintf(pipe_s, sizeof(pipe_s), "%d", p[1]);
	nargv[0] = argv[0];
	nargv[1] = (char *)RFS_HANDOVER_ARG;
	nargv[2] = memfd_s;
	nargv[3] = pipe_s;
	for (i = 1; i < argc; i++)
		nargv[i + 3] = argv[i];
	pid = fork();
	if (pid == 0)
		exec_child(exe, nargv, p[1]);
	free(nargv);
	close(p[1]);
	if (pid < 0) {
		snprintf(msg, len, "cannot fork: %s", strerror(errno));
		close(p[0]);
		return -EAGAIN;
	}
	ok = await(p[0], pid, msg, len);
	close(p[0]);
	if (!ok)
		return -ECANCELED;
	*child = pid;
	return 0;
}

int rfs_reload_open(int memfd, struct rfs_ho_in *in, struct rfs_reload_fds *fds,
		    struct rfs_init_req *init, char *msg, size_t len)
{
	struct stat st;
	char *magic, *version;
	const char *idata;
	uint64_t format;

	memset(in, 0, sizeof(*in));
	if (fstat(memfd, &st) < 0 || st.st_size <= 0) {
		snprintf(msg, len, "no handover image on descriptor %d", memfd);
		return -EINVAL;
	}
	in->len = (size_t)st.st_size;
	in->p = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, memfd, 0);
	close(memfd);
	if (in->p == MAP_FAILED) {
		in->p = NULL;
		snprintf(msg, len, "cannot map the handover image: %s", strerror(errno));
		return -errno;
	}
	magic = rfs_ho_get_str(in);
	format = rfs_ho_get_u64(in);
	version = rfs_ho_get_str(in);
	if (!magic || strcmp(magic, MAGIC) != 0 || format != rfs_handover_version()) {
		snprintf(msg, len,
			 "handover format %llu of rmtabfs %s is not the one this binary (%s) reads "
			 "(%u)",
			 (unsigned long long)format, version ? version : "?", rfs_daemon_version(),
			 rfs_handover_version());
		free(magic);
		free(version);
		return -EPROTO;
	}
	rfs_info("taking over from rmtabfs %s (handover format %llu)", version,
		 (unsigned long long)format);
	free(magic);
	free(version);
	idata = rfs_ho_get_bytes(in, &init->len);
	init->data = idata && init->len ? malloc(init->len) : NULL;
	if (init->data)
		memcpy(init->data, idata, init->len);
	fds->fuse = rfs_ho_get_fd(in);
	fds->root = rfs_ho_get_fd(in);
	fds->ctl = rfs_ho_get_fd(in);
	if (in->err || !init->data || fds->fuse < 0 || fds->root < 0) {
		snprintf(msg, len, "the handover image is damaged");
		return -EINVAL;
	}
	return 0;
}

static int get_handles(struct rfs *fs, struct rfs_ho_in *in)
{
	uint64_t n = rfs_ho_get_u64(in), i;

	for (i = 0; i < n && !in->err; i++) {
		uint64_t id = rfs_ho_get_u64(in);
		enum rfs_handle_kind kind = (enum rfs_handle_kind)rfs_ho_get_u64(in);
		fuse_ino_t ino = rfs_ho_get_u64(in);
		struct rfs_handle *h;

		if (in->err)
			break;
		if (kind == RFS_H_VIEW)
			h = vf_handle_restore(fs, in);
		else if (kind == RFS_H_FILE || kind == RFS_H_DIR)
			h = pt_handle_restore(fs, kind, in);
		else
			h = NULL;
		if (!h) {
			in->err = in->err ? in->err : -EINVAL;
			break;
		}
		if (kind != RFS_H_VIEW)
			h->inode = rfs_inode_of(fs, ino);
		rfs_ho_map(id, h);
		rfs_ho_track(h);
	}
	return in->err;
}

int rfs_reload_restore(struct rfs *fs, struct rfs_ho_in *in)
{
	int rc = rfs_views_restore(fs, in);

	if (!rc)
		rc = rfs_inodes_restore(fs, in);
	if (!rc)
		rc = get_handles(fs, in);
	if (!rc)
		rc = rfs_stages_restore(fs, in);
	if (!rc && rfs_ho_get_u64(in) != END_MARK)
		rc = -EINVAL;
	return rc ? rc : in->err;
}

void rfs_reload_tell(int fd, const char *line)
{
	size_t n = strlen(line);

	if (fd < 0)
		return;
	if (write(fd, line, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
		rfs_warn("cannot answer the old image: %s", strerror(errno));
	close(fd);
}

void rfs_reload_close(struct rfs_ho_in *in)
{
	if (in->p)
		munmap((void *)in->p, in->len);
	in->p = NULL;
}
