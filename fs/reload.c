/*
 * The steps of a planned restart (include/rmtabfs/reload.h; protocol in fs/handover.c).
 *
 * Invariants: the old image writes the image only while its FUSE loop is paused and its
 * replication and notifier threads are stopped, so nothing changes under it; the control
 * thread accepts nothing meanwhile (queued connections go to whichever image serves next).
 * The new image sends exactly "ready FORMAT VERSION" once loaded, then one of "ok PID
 * (version V)" or "error: WHY"; a socket that closes instead means it died, and it is reaped.
 * No locks of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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
#define GENS_MARK     0x534e454757454956ull /* the views' generation inodes follow */
#define OPCODE_INIT   26		    /* FUSE_INIT */
#define READY_SECS    30		    /* to exec and load, while we serve */
#define TAKEOVER_SECS 10		    /* to restore, while requests wait */
#define FDS_PER_MSG   250		    /* below the kernel's SCM_MAX_FD (253) */

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
	/* Last: an image from an older binary ends before it (it handed out no generation). */
	rfs_ho_put_u64(o, GENS_MARK);
	if (!rc)
		rc = rfs_views_save_gens(fs, o);
	rfs_ho_put_u64(o, END_MARK);
	if (!rc)
		rc = o->err;
	if (rc)
		return rc;
	o->memfd = memfd_create("rmtabfs-handover", MFD_CLOEXEC);
	if (o->memfd < 0)
		return -errno;
	if (pwrite(o->memfd, o->buf.data, o->buf.len, 0) != (ssize_t)o->buf.len)
		return errno ? -errno : -EIO;
	return 0;
}

void rfs_reload_unwrite(struct rfs_ho_out *o)
{
	if (o->memfd >= 0)
		close(o->memfd);
	o->memfd = -1;
	free(o->fds); /* the descriptors themselves stay ours */
	o->fds = NULL;
	o->nfds = 0;
	rfs_buf_free(&o->buf);
}

/* One packet from the other image within secs: its length, 0 at its end, -errno. */
static ssize_t recv_line(int sock, char *line, size_t cap, int secs)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, secs * 1000);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	do
		n = recv(sock, line, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return n;
}

void rfs_reload_abort(struct rfs_reload_child *c)
{
	int st;

	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	c->pid = -1;
}

/* The child's end: why it ended (appended to msg), and no child left. */
static int child_failed(struct rfs_reload_child *c, ssize_t n, int secs, char *msg, size_t len)
{
	size_t l;
	int st;

	if (n == -ETIMEDOUT)
		snprintf(msg, len, "the new image did not answer within %d s", secs);
	else if (n <= 0)
		snprintf(msg, len, "the new image ended before taking over");
	l = strlen(msg);
	if (n <= 0 && n != -ETIMEDOUT && waitpid(c->pid, &st, 0) == c->pid) {
		if (WIFEXITED(st))
			snprintf(msg + l, len - l, " (exit status %d)", WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			snprintf(msg + l, len - l, " (killed by signal %d)", WTERMSIG(st));
		c->pid = -1;
	}
	rfs_reload_abort(c);
	return -ECANCELED;
}

/* In the forked child: only async-signal-safe calls until exec. */
static void exec_child(const char *exe, char **argv, int sock)
{
	static const char head[] = "error: cannot execute the new binary: errno ";
	char num[16];
	int e, i = (int)sizeof(num);

	fcntl(sock, F_SETFD, 0); /* this one end crosses exec */
	execv(exe, argv);
	e = errno;
	do
		num[--i] = (char)('0' + e % 10);
	while ((e /= 10) && i > 0);
	{
		char line[sizeof(head) + sizeof(num)];
		size_t n = sizeof(head) - 1;

		memcpy(line, head, n);
		memcpy(line + n, num + i, sizeof(num) - (size_t)i);
		n += sizeof(num) - (size_t)i;
		if (send(sock, line, n, MSG_NOSIGNAL) < 0) {
			/* the parent then sees the socket close */
		}
	}
	_exit(127);
}

int rfs_reload_start(const char *exe, int argc, char **argv, struct rfs_reload_child *c, char *msg,
		     size_t len)
{
	char sock_s[16], line[512], version[128];
	char **nargv;
	unsigned format = 0;
	int sv[2], i;
	ssize_t n;

	c->pid = -1;
	c->sock = -1;
	nargv = calloc((size_t)argc + 3, sizeof(*nargv));
	if (!nargv || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(nargv);
		snprintf(msg, len, "out of resources: %s", strerror(errno));
		return -ENOMEM;
	}
	snprintf(sock_s, sizeof(sock_s), "%d", sv[1]);
	nargv[0] = argv[0];
	nargv[1] = (char *)RFS_HANDOVER_ARG;
	nargv[2] = sock_s;
	for (i = 1; i < argc; i++)
		nargv[i + 2] = argv[i];
	c->pid = fork();
	if (c->pid == 0)
		exec_child(exe, nargv, sv[1]);
	free(nargv);
	close(sv[1]);
	c->sock = sv[0];
	if (c->pid < 0) {
		snprintf(msg, len, "cannot fork: %s", strerror(errno));
		rfs_reload_abort(c);
		return -EAGAIN;
	}
	/* "ready FORMAT VERSION": loaded and waiting, nothing of ours touched yet. */
	n = recv_line(c->sock, line, sizeof(line), READY_SECS);
	if (n > 0 && sscanf(line, "ready %u %127s", &format, version) == 2) {
		if (format == rfs_handover_version())
			return 0;
		snprintf(msg, len,
			 "the new binary (rmtabfs %s) reads handover format %u, this one (%s) "
			 "writes %u",
			 version, format, rfs_daemon_version(), rfs_handover_version());
		rfs_reload_abort(c);
		return -EPROTO;
	}
	if (n > 0)
		snprintf(msg, len, "%s", strncmp(line, "error: ", 7) == 0 ? line + 7 : line);
	return child_failed(c, n, READY_SECS, msg, len);
}

static int send_fds(int sock, const char *what, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(FDS_PER_MSG * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)what, .iov_len = strlen(what)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (n) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int rfs_reload_handover(struct rfs_reload_child *c, const struct rfs_ho_out *o, char *msg,
			size_t len)
{
	char line[512];
	size_t i;
	ssize_t n;
	int r;

	snprintf(line, sizeof(line), "image %zu", o->nfds);
	r = send_fds(c->sock, line, &o->memfd, 1);
	for (i = 0; !r && i < o->nfds; i += FDS_PER_MSG)
		r = send_fds(c->sock, "fds", o->fds + i,
			     o->nfds - i < FDS_PER_MSG ? o->nfds - i : FDS_PER_MSG);
	if (r) {
		snprintf(msg, len, "cannot send the handover image: %s", strerror(-r));
		rfs_reload_abort(c);
		return r;
	}
	n = recv_line(c->sock, line, sizeof(line), TAKEOVER_SECS);
	if (n > 0 && strncmp(line, "ok ", 3) == 0) {
		snprintf(msg, len, "%s", line + 3);
		close(c->sock);
		c->sock = -1;
		return 0;
	}
	if (n > 0)
		snprintf(msg, len, "%s", strncmp(line, "error: ", 7) == 0 ? line + 7 : line);
	return child_failed(c, n, TAKEOVER_SECS, msg, len);
}

void rfs_reload_ready(int sock)
{
	char line[160];

	snprintf(line, sizeof(line), "ready %u %s", rfs_handover_version(), rfs_daemon_version());
	if (send(sock, line, strlen(line), MSG_NOSIGNAL) < 0)
		rfs_warn("cannot answer the old image: %s", strerror(errno));
}

/* One packet with descriptors; appends them to in->fds. Its text in what. */
static int recv_fds(int sock, struct rfs_ho_in *in, char *what, size_t cap)
{
	char cbuf[CMSG_SPACE(FDS_PER_MSG * sizeof(int))];
	struct iovec iov = {.iov_base = what, .iov_len = cap - 1};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -EPIPE;
	what[n] = '\0';
	if (m.msg_flags & MSG_CTRUNC)
		return -EMSGSIZE;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *more;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		more = realloc(in->fds, (in->nfds + k) * sizeof(int));
		if (!more)
			return -ENOMEM;
		in->fds = more;
		memcpy(in->fds + in->nfds, CMSG_DATA(cm), k * sizeof(int));
		in->nfds += k;
	}
	return 0;
}

int rfs_reload_receive(int sock, struct rfs_ho_in *in, struct rfs_reload_fds *fds,
		       struct rfs_init_req *init, char *msg, size_t len)
{
	struct stat st;
	char *magic, *version, what[64];
	const char *idata;
	uint64_t format;
	size_t want = 0;
	int memfd, r;

	memset(in, 0, sizeof(*in));
	r = recv_fds(sock, in, what, sizeof(what));
	if (r || sscanf(what, "image %zu", &want) != 1 || in->nfds != 1) {
		snprintf(msg, len, "no handover image from the old image (%s)",
			 r ? strerror(-r) : "bad message");
		return r ? r : -EPROTO;
	}
	memfd = in->fds[0];
	in->nfds = 0;
	while (!r && in->nfds < want)
		r = recv_fds(sock, in, what, sizeof(what));
	if (r || in->nfds != want) {
		snprintf(msg, len, "%zu of the %zu descriptors arrived (%s)", in->nfds, want,
			 r ? strerror(-r) : "bad message");
		close(memfd);
		return r ? r : -EPROTO;
	}
	if (fstat(memfd, &st) < 0 || st.st_size <= 0) {
		snprintf(msg, len, "the handover image is empty");
		close(memfd);
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
			h = vf_handle_restore(fs, in, ino);
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
	if (!rc) {
		uint64_t mark = rfs_ho_get_u64(in);

		if (mark == GENS_MARK) {
			rc = rfs_views_restore_gens(fs, in);
			mark = rfs_ho_get_u64(in);
		}
		if (!rc && mark != END_MARK)
			rc = -EINVAL;
	}
	return rc ? rc : in->err;
}

void rfs_reload_tell(int sock, const char *line)
{
	if (sock < 0)
		return;
	if (send(sock, line, strlen(line), MSG_NOSIGNAL) < 0)
		rfs_warn("cannot answer the old image: %s", strerror(errno));
	close(sock);
}

void rfs_reload_close(struct rfs_ho_in *in)
{
	if (in->p)
		munmap((void *)in->p, in->len);
	in->p = NULL;
	free(in->fds); /* the descriptors belong to what was restored */
	in->fds = NULL;
	in->nfds = 0;
}
