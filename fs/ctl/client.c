/*
 * rmtabctl's client of the control socket: one connection per command, request written,
 * write side shut, reply read to EOF (include/rmtabfs/ctl.h).
 *
 * Invariants: a call never blocks longer than the -t timeout on a daemon that stopped
 * answering (SO_RCVTIMEO/SO_SNDTIMEO); every failure is one line on stderr, and its kind is
 * kept (single-threaded program, no lock) for the error object of `status --json`.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <rmtabfs/ctl_client.h>
#include <rmtabfs/ctl_out.h>

static struct ctl_failure_info last_failure;

static void failed(enum ctl_failure kind, int err)
{
	last_failure.kind = kind;
	last_failure.err = err;
}

struct ctl_failure_info ctl_last_failure(void)
{
	return last_failure;
}

const char *ctl_failure_name(enum ctl_failure kind)
{
	switch (kind) {
	case CTL_FAIL_NONE:
		return "none";
	case CTL_FAIL_UNREACHABLE:
		return "unreachable";
	case CTL_FAIL_TIMEOUT:
		return "timeout";
	case CTL_FAIL_IO:
		return "io";
	case CTL_FAIL_PROTOCOL:
		return "protocol";
	case CTL_FAIL_REFUSED:
		return "refused";
	case CTL_FAIL_NOMEM:
		return "nomem";
	}
	return "?";
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void unreachable(const struct ctl_ctx *c, int err)
{
	const char *hint = "";
	char buf[PATH_MAX + 64];

	if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
		if (c->mountpoint) {
			snprintf(buf, sizeof(buf), " (is rmtabfs mounted on %s?)", c->mountpoint);
			hint = buf;
		} else {
			hint = " (is the rmtabfs daemon running?)";
		}
	} else if (err == EACCES || err == EPERM) {
		hint = " (" CTL_PROG " must run as root)";
	}
	failed(CTL_FAIL_UNREACHABLE, err);
	ctl_err("cannot reach the rmtabfs daemon at %s: %s%s", c->socket, strerror(err), hint);
}

static int connect_daemon(const struct ctl_ctx *c, int *fdp)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv;
	int fd;

	if (strlen(c->socket) >= sizeof(addr.sun_path)) {
		unreachable(c, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, c->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;

		failed(CTL_FAIL_IO, err);
		ctl_err("cannot create a socket: %s", strerror(err));
		return -err;
	}
	/* A daemon that stopped answering (a hung store call under sync=store, a stopped
	 * process) must not hang an administrator's shell or a monitoring script forever. */
	if (c->timeout > 0) {
		tv.tv_sec = (time_t)c->timeout;
		tv.tv_usec = (suseconds_t)((c->timeout - (double)tv.tv_sec) * 1e6);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		close(fd);
		unreachable(c, err);
		return -err;
	}
	*fdp = fd;
	return 0;
}

static int build_request(const char *const *args, int nargs, const struct rfs_buf *body,
			 struct rfs_buf *req)
{
	int i, rc;

	for (i = 0, rc = 0; i < nargs && !rc; i++)
		rc = rfs_buf_printf(req, "%s\n", args[i]);
	if (!rc)
		rc = rfs_buf_append(req, "\n", 1);
	if (!rc && body) {
		/* An empty body still needs its terminating empty line after the separator. */
		rc = rfs_buf_append(req, body->data ? body->data : "", body->len);
		if (!rc)
			rc = rfs_buf_append(req, "\n", 1);
	}
	return rc;
}

static int read_reply(const struct ctl_ctx *c, int fd, struct rfs_buf *reply)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
				failed(CTL_FAIL_TIMEOUT, ETIMEDOUT);
				ctl_err("no answer from the rmtabfs daemon at %s within %g s",
					c->socket, c->timeout);
			} else {
				failed(CTL_FAIL_IO, -rc);
				ctl_err("cannot read the answer of the rmtabfs daemon at %s: %s",
					c->socket, strerror(-rc));
			}
			return rc;
		}
		if (n == 0)
			return 0;
		if (rfs_buf_append(reply, chunk, (size_t)n)) {
			failed(CTL_FAIL_NOMEM, ENOMEM);
			ctl_err("out of memory");
			return -ENOMEM;
		}
	}
}

/* The first line of reply: "ok" (body to out), "error: ..." or not the protocol. */
static int take_reply(const struct ctl_ctx *c, const char *cmd, struct rfs_buf *reply, int wrc,
		      struct rfs_buf *out)
{
	char *nl = reply->len ? memchr(reply->data, '\n', reply->len) : NULL;

	if (!nl) {
		failed(CTL_FAIL_PROTOCOL, wrc ? -wrc : EPROTO);
		if (wrc)
			ctl_err("cannot send to the rmtabfs daemon at %s: %s", c->socket,
				strerror(-wrc));
		else
			ctl_err("the rmtabfs daemon at %s closed the connection without an answer",
				c->socket);
		return -EPROTO;
	}
	*nl = '\0';
	if (strcmp(reply->data, "ok") == 0) {
		size_t off = (size_t)(nl + 1 - reply->data);

		if (rfs_buf_append(out, reply->data + off, reply->len - off) == 0)
			return 0;
		failed(CTL_FAIL_NOMEM, ENOMEM);
		ctl_err("out of memory");
		return -ENOMEM;
	}
	if (strncmp(reply->data, "error: ", 7) == 0) {
		failed(CTL_FAIL_REFUSED, 0);
		ctl_err("%s: %s", cmd, reply->data + 7);
		return -EREMOTEIO;
	}
	failed(CTL_FAIL_PROTOCOL, EPROTO);
	ctl_err("unexpected answer from the rmtabfs daemon at %s: '%.80s'", c->socket, reply->data);
	return -EPROTO;
}

int ctl_call(const struct ctl_ctx *c, const char *const *args, int nargs,
	     const struct rfs_buf *body, struct rfs_buf *out)
{
	struct rfs_buf req = RFS_BUF_INIT, reply = RFS_BUF_INIT;
	int fd = -1, rc, wrc;

	failed(CTL_FAIL_NONE, 0);
	rc = build_request(args, nargs, body, &req);
	if (rc) {
		failed(CTL_FAIL_NOMEM, ENOMEM);
		ctl_err("out of memory");
		goto out;
	}
	rc = connect_daemon(c, &fd);
	if (rc)
		goto out;
	/* A write error is not the end: the daemon may have refused us (not root) and closed
	 * its side, and its one-line reason is still waiting to be read. */
	wrc = write_all(fd, req.data, req.len);
	shutdown(fd, SHUT_WR);
	rc = read_reply(c, fd, &reply);
	if (!rc)
		rc = take_reply(c, args[0], &reply, wrc, out);
out:
	if (fd >= 0)
		close(fd);
	rfs_buf_free(&req);
	rfs_buf_free(&reply);
	return rc;
}
